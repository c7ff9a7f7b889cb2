//! The XDP program that steers the node's frames to its AF_XDP socket, written as a handful of
//! eBPF instructions and loaded with the `bpf()` syscall (no libbpf, no clang).
//!
//! The program keeps only what the node owns and passes everything else to the kernel:
//!
//! ```text
//! len < 42                                        → XDP_PASS
//! ARP, target protocol address == node IPv4       → redirect (smoltcp answers ARP itself)
//! IPv4 (IHL 5), dst == node IPv4, [TCP, dst port] → redirect to XSKMAP[rx_queue_index]
//! anything else                                   → XDP_PASS (kernel stack: its own IPs, IPv6, ...)
//! ```
//!
//! A redirect to an empty XSKMAP slot falls back to XDP_PASS (the flags argument of
//! `bpf_redirect_map`), so frames are never lost while the socket is not bound yet.
//! The program is attached with a BPF link (`BPF_LINK_CREATE`): closing the link's file
//! descriptor detaches it, so a crashed process leaves no program behind.
//!
//! # Invariants
//! - Every packet load is preceded by the bounds check the verifier needs (one check of 42
//!   bytes covers every offset read: ARP target IP ends at 42, the TCP port at 38).
//! - Comparisons of 32-bit loads use the JMP32 class, so an address with its top bit set is
//!   not sign-extended into a false mismatch.
//! - File descriptors are owned by [`Fd`] and closed exactly once.

use super::{os_error, FrameError};

/// An owned file descriptor, closed on drop.
#[derive(Debug)]
pub struct Fd(i32);

impl Fd {
    pub fn raw(&self) -> i32 {
        self.0
    }

    /// Takes ownership of `fd` when it is a valid descriptor.
    pub(crate) fn from_result(fd: i64, step: &'static str) -> Result<Fd, FrameError> {
        if fd < 0 {
            return Err(os_error(step));
        }
        i32::try_from(fd)
            .map(Fd)
            .map_err(|_| FrameError::Os { step, errno: 0 })
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed only here.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// Which frames go to the AF_XDP socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XdpFilter {
    /// The node's IPv4 address (not configured on the kernel interface).
    pub ipv4: [u8; 4],
    /// Only TCP to this port is redirected; 0 = every IPv4 packet to `ipv4`.
    pub tcp_port: u16,
}

/// Where the program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// Generic XDP (SKB mode): works on any interface, copies frames.
    Skb,
    /// Driver (native) XDP: needs driver support; allows zero-copy where the driver has it.
    Native,
}

const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_UPDATE_ELEM: i64 = 2;
const BPF_PROG_LOAD: i64 = 5;
const BPF_LINK_CREATE: i64 = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_PASS: i32 = 2;
const FUNC_REDIRECT_MAP: i32 = 51;
const BPF_PSEUDO_MAP_FD: u8 = 1;
/// Bytes the program may read: the end of the ARP target protocol address.
const BOUNDS_BYTES: i32 = 42;

/// One eBPF instruction as the kernel reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst register in the low nibble, src register in the high nibble.
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// Jump targets of the program, resolved when it is assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Pass,
    Ipv4,
    Redirect,
}

const MOV64_REG: u8 = 0xbf;
const MOV64_IMM: u8 = 0xb7;
const ADD64_IMM: u8 = 0x07;
const LDX_W: u8 = 0x61;
const LDX_H: u8 = 0x69;
const LDX_B: u8 = 0x71;
const JGT_REG: u8 = 0x2d;
const JA: u8 = 0x05;
const JEQ32_IMM: u8 = 0x16;
const JNE32_IMM: u8 = 0x56;
const LD_IMM64: u8 = 0x18;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;

/// A little assembler: instructions plus unresolved jumps.
struct Asm {
    insns: Vec<Insn>,
    jumps: Vec<(usize, Label)>,
    labels: Vec<(Label, usize)>,
}

impl Asm {
    fn op(&mut self, instruction: Insn) {
        self.insns.push(instruction);
    }

    fn jump(&mut self, code: u8, dst: u8, src: u8, imm: i32, target: Label) {
        self.jumps.push((self.insns.len(), target));
        self.insns.push(insn(code, dst, src, 0, imm));
    }

    fn label(&mut self, label: Label) {
        self.labels.push((label, self.insns.len()));
    }

    fn finish(mut self) -> Vec<Insn> {
        for &(at, target) in &self.jumps {
            let (_, to) = *self
                .labels
                .iter()
                .find(|(label, _)| *label == target)
                .expect("every jump target is placed");
            let off = i16::try_from(to as i64 - at as i64 - 1).expect("short program");
            self.insns[at].off = off;
        }
        self.insns
    }
}

/// A 32-bit value as the program sees it after a little-endian load of network-order bytes.
fn le_word(bytes: [u8; 4]) -> i32 {
    i32::from_le_bytes(bytes)
}

/// The redirect program for `filter`, with the XSKMAP's descriptor `map_fd` built in.
pub fn program(filter: XdpFilter, map_fd: i32) -> Vec<Insn> {
    let mut asm = Asm {
        insns: Vec::with_capacity(32),
        jumps: Vec::new(),
        labels: Vec::new(),
    };
    let ip = le_word(filter.ipv4);
    asm.op(insn(MOV64_REG, 6, 1, 0, 0)); // r6 = ctx
    asm.op(insn(LDX_W, 2, 6, 0, 0)); // r2 = data
    asm.op(insn(LDX_W, 3, 6, 4, 0)); // r3 = data_end
    asm.op(insn(MOV64_REG, 4, 2, 0, 0));
    asm.op(insn(ADD64_IMM, 4, 0, 0, BOUNDS_BYTES));
    asm.jump(JGT_REG, 4, 3, 0, Label::Pass); // too short
    asm.op(insn(LDX_H, 5, 2, 12, 0)); // EtherType
    asm.jump(JEQ32_IMM, 5, 0, 0x0008, Label::Ipv4);
    asm.jump(JNE32_IMM, 5, 0, 0x0608, Label::Pass); // not ARP either
    asm.op(insn(LDX_W, 5, 2, 38, 0)); // ARP target protocol address
    asm.jump(JNE32_IMM, 5, 0, ip, Label::Pass);
    asm.jump(JA, 0, 0, 0, Label::Redirect);
    asm.label(Label::Ipv4);
    asm.op(insn(LDX_B, 5, 2, 14, 0)); // version and IHL
    asm.jump(JNE32_IMM, 5, 0, 0x45, Label::Pass);
    asm.op(insn(LDX_W, 5, 2, 30, 0)); // destination address
    asm.jump(JNE32_IMM, 5, 0, ip, Label::Pass);
    if filter.tcp_port != 0 {
        asm.op(insn(LDX_B, 5, 2, 23, 0)); // protocol
        asm.jump(JNE32_IMM, 5, 0, 6, Label::Pass);
        asm.op(insn(LDX_H, 5, 2, 36, 0)); // TCP destination port
        let port = i32::from(u16::from_le_bytes(filter.tcp_port.to_be_bytes()));
        asm.jump(JNE32_IMM, 5, 0, port, Label::Pass);
    }
    asm.label(Label::Redirect);
    asm.op(insn(LDX_W, 2, 6, 16, 0)); // r2 = rx_queue_index
    asm.op(insn(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, 0, map_fd));
    asm.op(insn(0, 0, 0, 0, 0));
    asm.op(insn(MOV64_IMM, 3, 0, 0, XDP_PASS)); // fallback when the slot is empty
    asm.op(insn(CALL, 0, 0, 0, FUNC_REDIRECT_MAP));
    asm.op(insn(EXIT, 0, 0, 0, 0));
    asm.label(Label::Pass);
    asm.op(insn(MOV64_IMM, 0, 0, 0, XDP_PASS));
    asm.op(insn(EXIT, 0, 0, 0, 0));
    asm.finish()
}

fn bpf<T>(cmd: i64, attr: &mut T) -> i64 {
    // SAFETY: `attr` is a live, exclusively borrowed repr(C) bpf_attr prefix of the size
    // passed; the kernel reads (and for some commands writes) only those bytes.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            core::mem::size_of::<T>(),
        )
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[repr(C)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

/// Creates an XSKMAP with `entries` slots (one per RX queue).
pub fn create_xskmap(entries: u32) -> Result<Fd, FrameError> {
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: entries,
        map_flags: 0,
    };
    let fd = bpf(BPF_MAP_CREATE, &mut attr);
    if fd < 0 {
        return Err(bpf_error("BPF_MAP_CREATE(XSKMAP)"));
    }
    Fd::from_result(fd, "BPF_MAP_CREATE")
}

fn bpf_error(step: &'static str) -> FrameError {
    match errno() {
        libc::EPERM => FrameError::NotRoot,
        errno @ (libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS) => {
            FrameError::XdpUnsupported { step, errno }
        }
        errno => FrameError::Os { step, errno },
    }
}

#[repr(C)]
struct MapElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// Puts socket `xsk_fd` in slot `queue_id` of the XSKMAP.
pub fn xskmap_set(map: &Fd, queue_id: u32, xsk_fd: i32) -> Result<(), FrameError> {
    let key = queue_id;
    let value = xsk_fd;
    let mut attr = MapElemAttr {
        map_fd: u32::try_from(map.raw()).unwrap_or(0),
        pad: 0,
        key: &key as *const u32 as u64,
        value: &value as *const i32 as u64,
        flags: 0,
    };
    if bpf(BPF_MAP_UPDATE_ELEM, &mut attr) < 0 {
        return Err(bpf_error("BPF_MAP_UPDATE_ELEM(XSKMAP)"));
    }
    Ok(())
}

#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// Loads an XDP program. On failure the verifier's log is printed to stderr (start-up only).
pub fn load_xdp(insns: &[Insn]) -> Result<Fd, FrameError> {
    let license = b"GPL\0";
    let mut log = vec![0u8; 1 << 16];
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_XDP,
        insn_cnt: u32::try_from(insns.len()).unwrap_or(u32::MAX),
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: u32::try_from(log.len()).unwrap_or(0),
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        prog_name: *b"peregrine_xsk\0\0\0",
        prog_ifindex: 0,
        expected_attach_type: BPF_XDP,
    };
    let fd = bpf(BPF_PROG_LOAD, &mut attr);
    if fd < 0 {
        let error = bpf_error("BPF_PROG_LOAD(XDP)");
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        eprintln!(
            "peregrine: XDP program rejected: {error}\n{}",
            String::from_utf8_lossy(&log[..end])
        );
        return Err(error);
    }
    Fd::from_result(fd, "BPF_PROG_LOAD")
}

#[repr(C)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

/// Attaches `prog` to interface `ifindex` through a BPF link (detached when the link closes).
pub fn attach_xdp(prog: &Fd, ifindex: u32, mode: XdpMode) -> Result<Fd, FrameError> {
    let mut attr = LinkCreateAttr {
        prog_fd: u32::try_from(prog.raw()).unwrap_or(0),
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags: match mode {
            XdpMode::Skb => XDP_FLAGS_SKB_MODE,
            XdpMode::Native => XDP_FLAGS_DRV_MODE,
        },
    };
    let fd = bpf(BPF_LINK_CREATE, &mut attr);
    if fd < 0 {
        return Err(bpf_error("BPF_LINK_CREATE(XDP)"));
    }
    Fd::from_result(fd, "BPF_LINK_CREATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_their_labels() {
        let filter = XdpFilter {
            ipv4: [10, 1, 2, 200],
            tcp_port: 15000,
        };
        let insns = program(filter, 7);
        let exits: Vec<usize> = (0..insns.len())
            .filter(|&i| insns[i].code == EXIT)
            .collect();
        assert_eq!(exits.len(), 2);
        let pass = exits[1] - 1;
        assert_eq!(insns[pass].code, MOV64_IMM);
        assert_eq!(insns[pass].imm, XDP_PASS);
        // Every conditional jump that is not the IPv4 branch or the redirect goes to Pass.
        for (index, instruction) in insns.iter().enumerate() {
            if instruction.code == JNE32_IMM || instruction.code == JGT_REG {
                let target = index as i64 + 1 + i64::from(instruction.off);
                assert_eq!(target, pass as i64, "instruction {index}");
            }
        }
        // The address with its top bit set is compared as 32 bits, not sign-extended.
        assert!(insns
            .iter()
            .any(|i| i.code == JNE32_IMM && i.imm == le_word([10, 1, 2, 200])));
        // The port is compared in network order.
        assert!(insns.iter().any(|i| i.code == JNE32_IMM
            && i.imm == i32::from(u16::from_le_bytes(15000u16.to_be_bytes()))));
        let map_load = insns.iter().position(|i| i.code == LD_IMM64).unwrap();
        assert_eq!(
            (insns[map_load].imm, insns[map_load].regs >> 4),
            (7, BPF_PSEUDO_MAP_FD)
        );
    }

    #[test]
    fn port_zero_drops_the_port_checks() {
        let filter = XdpFilter {
            ipv4: [10, 0, 0, 1],
            tcp_port: 0,
        };
        assert_eq!(
            program(filter, 3).len() + 4,
            program(
                XdpFilter {
                    tcp_port: 1,
                    ..filter
                },
                3
            )
            .len()
        );
    }
}
