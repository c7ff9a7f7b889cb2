//! The AF_XDP backend: one XSK socket bound to one queue of one interface, its UMEM, and the
//! four rings the kernel shares with us, all through raw `libc` calls.
//!
//! ```text
//!            UMEM: frame_count chunks of FRAME_BYTES
//!   chunks [0, rx_count)          chunks [rx_count, frame_count)
//!   fill ring ─► kernel ─► RX ring      tx free stack ─► TX ring ─► kernel ─► completion ring
//!      ▲                     │            ▲                                        │
//!      └──── rx_release ◄── rx_take       └────────────── reclaim ◄────────────────┘
//! ```
//!
//! The XDP program ([`super::bpf`]) redirects the node's frames into the socket's queue slot of
//! an XSKMAP; the rest goes to the kernel. A TX-only socket (no [`XdpConfig::filter`]) needs no
//! program: the feed publisher uses one.
//!
//! Modes: SKB (generic XDP, copy) works on every interface, veth included; native mode needs
//! driver support, and zero-copy ([`XdpConfig::zero_copy`]) needs a driver that maps the UMEM
//! for DMA. `need_wakeup` is on, so the rings only cost a syscall when the kernel asks for one;
//! `busy_poll` sets `SO_PREFER_BUSY_POLL`/`SO_BUSY_POLL`, and `rx_poll` then drives the
//! driver's NAPI from `recvfrom`.
//!
//! # Invariants
//! - Every UMEM chunk is in exactly one place: the fill ring, the kernel, the RX ring, the
//!   local RX queue, a live `RxFrame`, the TX free stack, a live `TxFrame`, the TX ring, or the
//!   completion ring. The ring sizes are at least the chunk counts that can be in them, so a
//!   producer never finds its ring full (asserted).
//! - Ring indices are free-running `u32`; producers publish with a Release store after
//!   writing descriptors, consumers read the peer's index with an Acquire load before reading
//!   descriptors.
//! - Nothing allocates after [`AfXdp::open`].

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use super::bpf::{self, Fd, XdpFilter, XdpMode};
use super::{os_error, FrameCounters, FrameError, FrameIo, RxFrame, TxFrame};

/// Bytes per UMEM chunk (the kernel accepts 2048 or 4096 in aligned mode).
pub const FRAME_BYTES: u32 = 2048;
/// Descriptors moved per ring batch.
const BATCH: u32 = 64;

/// How to open an AF_XDP socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XdpConfig {
    pub queue_id: u32,
    pub mode: XdpMode,
    /// Ask for zero-copy (native mode on a driver that supports it); copy mode otherwise.
    pub zero_copy: bool,
    /// UMEM chunks in all (power of two); half receive, half transmit.
    pub frame_count: u32,
    /// Busy-poll the queue from `rx_poll` (SO_PREFER_BUSY_POLL, SO_BUSY_POLL).
    pub busy_poll: bool,
    /// Frames redirected to the socket; `None` opens a transmit-only socket without a program.
    pub filter: Option<XdpFilter>,
}

impl Default for XdpConfig {
    fn default() -> XdpConfig {
        XdpConfig {
            queue_id: 0,
            mode: XdpMode::Skb,
            zero_copy: false,
            frame_count: 4096,
            busy_poll: false,
            filter: None,
        }
    }
}

/// One mapped ring shared with the kernel.
#[derive(Debug)]
struct Ring {
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    descs: *mut u8,
    size: u32,
    /// Our side's index (producer for fill/TX, consumer for RX/completion), not yet published
    /// for producer rings.
    local: u32,
    map: *mut libc::c_void,
    map_len: usize,
}

impl Ring {
    fn mask(&self) -> u32 {
        self.size - 1
    }

    fn peer_producer(&self) -> u32 {
        // SAFETY: `producer` points into this ring's live mapping (see `map_ring`).
        unsafe { (*self.producer).load(Ordering::Acquire) }
    }

    fn peer_consumer(&self) -> u32 {
        // SAFETY: as above.
        unsafe { (*self.consumer).load(Ordering::Acquire) }
    }

    fn publish_producer(&self) {
        // SAFETY: as above. Release: the descriptors written before are visible to the kernel.
        unsafe { (*self.producer).store(self.local, Ordering::Release) }
    }

    fn publish_consumer(&self) {
        // SAFETY: as above. Release: our reads of the descriptors happen before the kernel
        // may overwrite them.
        unsafe { (*self.consumer).store(self.local, Ordering::Release) }
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: as above.
        unsafe { (*self.flags).load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0 }
    }

    /// Writes address `addr` at our producer index (fill ring) and advances it.
    fn push_addr(&mut self, addr: u64) {
        assert!(
            self.local.wrapping_sub(self.peer_consumer()) < self.size,
            "fill ring full"
        );
        let index = (self.local & self.mask()) as usize;
        // SAFETY: index < size and the descriptor area holds `size` u64 entries.
        unsafe { ptr::write_volatile((self.descs as *mut u64).add(index), addr) };
        self.local = self.local.wrapping_add(1);
    }

    /// Reads the address at consumer position `position` (completion ring).
    fn addr_at(&self, position: u32) -> u64 {
        let index = (position & self.mask()) as usize;
        // SAFETY: index < size; the kernel produced this entry (position < peer producer).
        unsafe { ptr::read_volatile((self.descs as *const u64).add(index)) }
    }

    fn desc_at(&self, position: u32) -> libc::xdp_desc {
        let index = (position & self.mask()) as usize;
        // SAFETY: index < size; the descriptor area holds `size` xdp_desc entries.
        unsafe { ptr::read_volatile((self.descs as *const libc::xdp_desc).add(index)) }
    }

    fn write_desc(&mut self, desc: libc::xdp_desc) {
        assert!(
            self.local.wrapping_sub(self.peer_consumer()) < self.size,
            "TX ring full"
        );
        let index = (self.local & self.mask()) as usize;
        // SAFETY: index < size; the slot is ours until the producer index passes it.
        unsafe { ptr::write_volatile((self.descs as *mut libc::xdp_desc).add(index), desc) };
        self.local = self.local.wrapping_add(1);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `map_ring` with this length and is unmapped once.
        unsafe {
            libc::munmap(self.map, self.map_len);
        }
    }
}

/// The UMEM area.
#[derive(Debug)]
struct Umem {
    base: *mut u8,
    len: usize,
}

impl Drop for Umem {
    fn drop(&mut self) {
        // SAFETY: mapped by `map_umem` with this length, unmapped once, after the socket (which
        // is dropped first: field order of `AfXdp`) stopped using it.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.len);
        }
    }
}

/// The program attached to the interface, kept alive with the socket.
#[derive(Debug)]
struct Program {
    _link: Fd,
    _prog: Fd,
    _map: Fd,
}

/// An AF_XDP socket with its UMEM (see the module docs).
#[derive(Debug)]
pub struct AfXdp {
    // Drop order: program first (stops redirects), then rings, socket, UMEM.
    program: Option<Program>,
    rx: Option<Ring>,
    tx: Ring,
    fill: Ring,
    completion: Ring,
    socket: Fd,
    umem: Umem,
    mac: [u8; 6],
    rx_count: u32,
    /// Received frames taken from the RX ring, not yet handed out: (address, length).
    rx_queue: Box<[(u64, u32)]>,
    rx_queue_head: usize,
    rx_queue_len: usize,
    tx_free: Box<[u64]>,
    tx_free_len: usize,
    /// TX descriptors written but not published.
    tx_pending: u32,
    busy_poll: bool,
    /// Copy mode processes the TX ring only inside `sendto`: kick on every flush.
    zero_copy: bool,
    counters: FrameCounters,
}

// SAFETY: the raw pointers are into mappings owned by this value; moving it to another thread
// moves their only user with it.
unsafe impl Send for AfXdp {}

/// The interface index of `name` in the calling thread's network namespace.
pub fn interface_index(name: &str) -> Result<u32, FrameError> {
    let cname = std::ffi::CString::new(name).map_err(|_| FrameError::NoInterface)?;
    // SAFETY: `cname` is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(FrameError::NoInterface);
    }
    Ok(index)
}

/// The MAC address of `name` (SIOCGIFHWADDR on a throwaway socket).
pub fn interface_mac(name: &str) -> Result<[u8; 6], FrameError> {
    // SAFETY: plain socket call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    let fd = Fd::from_result(i64::from(fd), "socket(AF_INET)")?;
    // SAFETY: ifreq is plain old data; zero is a valid value.
    let mut request: libc::ifreq = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= request.ifr_name.len() {
        return Err(FrameError::NoInterface);
    }
    for (target, &byte) in request.ifr_name.iter_mut().zip(bytes) {
        *target = byte as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads and writes one ifreq, which `request` is.
    let result = unsafe { libc::ioctl(fd.raw(), libc::SIOCGIFHWADDR, &mut request) };
    if result < 0 {
        return Err(FrameError::NoInterface);
    }
    // SAFETY: after SIOCGIFHWADDR the union holds a sockaddr with the address in sa_data.
    let data = unsafe { request.ifr_ifru.ifru_hwaddr.sa_data };
    Ok(core::array::from_fn(|i| data[i] as u8))
}

fn setsockopt<T>(
    fd: &Fd,
    level: i32,
    name: i32,
    value: &T,
    step: &'static str,
) -> Result<(), FrameError> {
    // SAFETY: `value` is a live T of the size passed.
    let result = unsafe {
        libc::setsockopt(
            fd.raw(),
            level,
            name,
            value as *const T as *const libc::c_void,
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if result < 0 {
        return Err(os_error(step));
    }
    Ok(())
}

/// `struct xdp_umem_reg` without the newer `tx_metadata_len` (the kernel takes either size).
#[repr(C)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
}

fn map_umem(len: usize) -> Result<Umem, FrameError> {
    // SAFETY: anonymous private mapping; the result is checked.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(os_error("mmap(UMEM)"));
    }
    Ok(Umem {
        base: base as *mut u8,
        len,
    })
}

fn map_ring(
    socket: &Fd,
    offsets: &libc::xdp_ring_offset,
    size: u32,
    entry_bytes: usize,
    page_offset: u64,
) -> Result<Ring, FrameError> {
    let map_len = offsets.desc as usize + size as usize * entry_bytes;
    // SAFETY: maps the ring the kernel created for this socket at `page_offset`.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            socket.raw(),
            page_offset as libc::off_t,
        )
    };
    if map == libc::MAP_FAILED {
        return Err(os_error("mmap(XDP ring)"));
    }
    let base = map as *mut u8;
    // SAFETY: the offsets come from XDP_MMAP_OFFSETS and lie inside the mapping.
    let at = |offset: u64| unsafe { base.add(offset as usize) };
    Ok(Ring {
        producer: at(offsets.producer) as *const AtomicU32,
        consumer: at(offsets.consumer) as *const AtomicU32,
        flags: at(offsets.flags) as *const AtomicU32,
        descs: at(offsets.desc),
        size,
        local: 0,
        map,
        map_len,
    })
}

/// The four rings' sizes and the socket's mapping offsets.
fn create_rings(
    socket: &Fd,
    size: u32,
    with_rx: bool,
) -> Result<libc::xdp_mmap_offsets, FrameError> {
    setsockopt(
        socket,
        libc::SOL_XDP,
        libc::XDP_UMEM_FILL_RING,
        &size,
        "XDP_UMEM_FILL_RING",
    )?;
    setsockopt(
        socket,
        libc::SOL_XDP,
        libc::XDP_UMEM_COMPLETION_RING,
        &size,
        "XDP_UMEM_COMPLETION_RING",
    )?;
    if with_rx {
        setsockopt(
            socket,
            libc::SOL_XDP,
            libc::XDP_RX_RING,
            &size,
            "XDP_RX_RING",
        )?;
    }
    setsockopt(
        socket,
        libc::SOL_XDP,
        libc::XDP_TX_RING,
        &size,
        "XDP_TX_RING",
    )?;
    // SAFETY: plain old data; zero is valid.
    let mut offsets: libc::xdp_mmap_offsets = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `offsets`.
    let result = unsafe {
        libc::getsockopt(
            socket.raw(),
            libc::SOL_XDP,
            libc::XDP_MMAP_OFFSETS,
            &mut offsets as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if result < 0 {
        return Err(os_error("XDP_MMAP_OFFSETS"));
    }
    Ok(offsets)
}

fn open_socket() -> Result<Fd, FrameError> {
    if !super::is_root() {
        return Err(FrameError::NotRoot);
    }
    // SAFETY: plain socket call.
    let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(match errno {
            libc::EPERM | libc::EACCES => FrameError::NotRoot,
            libc::EAFNOSUPPORT => FrameError::XdpUnsupported {
                step: "socket(AF_XDP)",
                errno,
            },
            errno => FrameError::Os {
                step: "socket(AF_XDP)",
                errno,
            },
        });
    }
    Fd::from_result(i64::from(fd), "socket(AF_XDP)")
}

fn bind_socket(socket: &Fd, ifindex: u32, config: &XdpConfig) -> Result<(), FrameError> {
    let copy_flag = if config.zero_copy {
        libc::XDP_ZEROCOPY
    } else {
        libc::XDP_COPY
    };
    // SAFETY: plain old data; zero is valid.
    let mut address: libc::sockaddr_xdp = unsafe { core::mem::zeroed() };
    address.sxdp_family = libc::AF_XDP as u16;
    address.sxdp_flags = copy_flag | libc::XDP_USE_NEED_WAKEUP;
    address.sxdp_ifindex = ifindex;
    address.sxdp_queue_id = config.queue_id;
    // SAFETY: `address` is a live sockaddr_xdp of the size passed.
    let result = unsafe {
        libc::bind(
            socket.raw(),
            &address as *const _ as *const libc::sockaddr,
            core::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
        )
    };
    if result < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(match errno {
            libc::EOPNOTSUPP | libc::EINVAL => FrameError::XdpUnsupported {
                step: "bind(AF_XDP)",
                errno,
            },
            errno => FrameError::Os {
                step: "bind(AF_XDP)",
                errno,
            },
        });
    }
    Ok(())
}

fn set_busy_poll(socket: &Fd) -> Result<(), FrameError> {
    const SO_PREFER_BUSY_POLL: i32 = 69;
    const SO_BUSY_POLL_BUDGET: i32 = 70;
    let one: i32 = 1;
    let usecs: i32 = 20;
    let budget: i32 = BATCH as i32;
    setsockopt(
        socket,
        libc::SOL_SOCKET,
        SO_PREFER_BUSY_POLL,
        &one,
        "SO_PREFER_BUSY_POLL",
    )?;
    setsockopt(
        socket,
        libc::SOL_SOCKET,
        libc::SO_BUSY_POLL,
        &usecs,
        "SO_BUSY_POLL",
    )?;
    setsockopt(
        socket,
        libc::SOL_SOCKET,
        SO_BUSY_POLL_BUDGET,
        &budget,
        "SO_BUSY_POLL_BUDGET",
    )
}

impl AfXdp {
    /// Opens a socket on queue `config.queue_id` of `interface` in the calling thread's network
    /// namespace, loads and attaches the redirect program when a filter is given.
    pub fn open(interface: &str, config: XdpConfig) -> Result<AfXdp, FrameError> {
        let count = config.frame_count;
        if !count.is_power_of_two() || !(16..=1 << 20).contains(&count) {
            return Err(FrameError::Config(
                "frame_count must be a power of two in 16..=1048576",
            ));
        }
        let socket = open_socket()?;
        let ifindex = interface_index(interface)?;
        let mac = interface_mac(interface)?;
        let umem = map_umem(count as usize * FRAME_BYTES as usize)?;
        let registration = UmemReg {
            addr: umem.base as u64,
            len: umem.len as u64,
            chunk_size: FRAME_BYTES,
            headroom: 0,
            flags: 0,
        };
        setsockopt(
            &socket,
            libc::SOL_XDP,
            libc::XDP_UMEM_REG,
            &registration,
            "XDP_UMEM_REG",
        )?;
        let with_rx = config.filter.is_some();
        let offsets = create_rings(&socket, count, with_rx)?;
        let desc_bytes = core::mem::size_of::<libc::xdp_desc>();
        let fill = map_ring(
            &socket,
            &offsets.fr,
            count,
            8,
            libc::XDP_UMEM_PGOFF_FILL_RING,
        )?;
        let completion = map_ring(
            &socket,
            &offsets.cr,
            count,
            8,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
        )?;
        let tx = map_ring(
            &socket,
            &offsets.tx,
            count,
            desc_bytes,
            libc::XDP_PGOFF_TX_RING as u64,
        )?;
        let rx = match with_rx {
            true => Some(map_ring(
                &socket,
                &offsets.rx,
                count,
                desc_bytes,
                libc::XDP_PGOFF_RX_RING as u64,
            )?),
            false => None,
        };
        let rx_count = if with_rx { count / 2 } else { 0 };
        let mut xsk = AfXdp {
            program: None,
            rx,
            tx,
            fill,
            completion,
            socket,
            umem,
            mac,
            rx_count,
            rx_queue: vec![(0, 0); count as usize].into_boxed_slice(),
            rx_queue_head: 0,
            rx_queue_len: 0,
            tx_free: (rx_count..count)
                .map(|i| u64::from(i) * u64::from(FRAME_BYTES))
                .collect(),
            tx_free_len: (count - rx_count) as usize,
            tx_pending: 0,
            busy_poll: config.busy_poll,
            zero_copy: config.zero_copy,
            counters: FrameCounters::default(),
        };
        xsk.start(ifindex, &config)?;
        Ok(xsk)
    }

    /// Fills the fill ring, binds, sets busy polling, and attaches the program.
    fn start(&mut self, ifindex: u32, config: &XdpConfig) -> Result<(), FrameError> {
        for chunk in 0..self.rx_count {
            self.fill
                .push_addr(u64::from(chunk) * u64::from(FRAME_BYTES));
        }
        self.fill.publish_producer();
        bind_socket(&self.socket, ifindex, config)?;
        if config.busy_poll {
            set_busy_poll(&self.socket)?;
        }
        let Some(filter) = config.filter else {
            return Ok(());
        };
        let map = bpf::create_xskmap(config.queue_id + 1)?;
        bpf::xskmap_set(&map, config.queue_id, self.socket.raw())?;
        let prog = bpf::load_xdp(&bpf::program(filter, map.raw()))?;
        let link = bpf::attach_xdp(&prog, ifindex, config.mode)?;
        self.program = Some(Program {
            _link: link,
            _prog: prog,
            _map: map,
        });
        Ok(())
    }

    /// The chunk-aligned UMEM address of a frame address (the kernel may add an offset).
    fn chunk_of(&self, addr: u64) -> u64 {
        assert!(addr < self.umem.len as u64, "address outside the UMEM");
        addr & !u64::from(FRAME_BYTES - 1)
    }

    fn bytes(&self, addr: u64, len: usize) -> &[u8] {
        assert!(addr as usize + len <= self.umem.len);
        // SAFETY: the range lies inside the UMEM mapping, which lives as long as `self`.
        unsafe { core::slice::from_raw_parts(self.umem.base.add(addr as usize), len) }
    }

    /// Moves finished transmissions back to the free stack.
    fn reclaim(&mut self) {
        let available = self
            .completion
            .peer_producer()
            .wrapping_sub(self.completion.local);
        for _ in 0..available {
            let addr = self.completion.addr_at(self.completion.local);
            self.completion.local = self.completion.local.wrapping_add(1);
            let chunk = self.chunk_of(addr);
            assert!(
                self.tx_free_len < self.tx_free.len(),
                "completion of a free chunk"
            );
            self.tx_free[self.tx_free_len] = chunk;
            self.tx_free_len += 1;
        }
        if available > 0 {
            self.completion.publish_consumer();
        }
    }

    /// A zero-length non-blocking syscall that lets the kernel work the rings.
    fn wake(&mut self, receive: bool) {
        self.counters.wakeups += 1;
        // SAFETY: zero-length calls with null buffers are the documented AF_XDP kicks.
        unsafe {
            if receive {
                libc::recvfrom(
                    self.socket.raw(),
                    ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    ptr::null_mut(),
                    ptr::null_mut(),
                );
            } else {
                libc::sendto(
                    self.socket.raw(),
                    ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    ptr::null(),
                    0,
                );
            }
        }
    }

    /// Frames submitted but not yet completed by the kernel.
    pub fn tx_in_flight(&self) -> usize {
        self.tx_free.len() - self.tx_free_len
    }
}

impl FrameIo for AfXdp {
    fn rx_poll(&mut self) -> Result<usize, FrameError> {
        let Some(rx) = self.rx.as_mut() else {
            return Ok(0);
        };
        let mut available = rx.peer_producer().wrapping_sub(rx.local);
        if available == 0 && (self.busy_poll || self.fill.needs_wakeup()) {
            self.wake(true);
            let rx = self
                .rx
                .as_ref()
                .map_or(0, |rx| rx.peer_producer().wrapping_sub(rx.local));
            available = rx;
        }
        let rx = self.rx.as_mut().ok_or(FrameError::Config("no RX ring"))?;
        let room = self.rx_queue.len() - self.rx_queue_len;
        let take = available.min(BATCH).min(u32::try_from(room).unwrap_or(0));
        for _ in 0..take {
            let desc = rx.desc_at(rx.local);
            rx.local = rx.local.wrapping_add(1);
            let slot = (self.rx_queue_head + self.rx_queue_len) % self.rx_queue.len();
            self.rx_queue[slot] = (desc.addr, desc.len);
            self.rx_queue_len += 1;
        }
        if take > 0 {
            rx.publish_consumer();
            self.counters.rx_frames += u64::from(take);
        }
        Ok(self.rx_queue_len)
    }

    fn rx_take(&mut self) -> Option<RxFrame> {
        if self.rx_queue_len == 0 {
            return None;
        }
        let (addr, len) = self.rx_queue[self.rx_queue_head];
        self.rx_queue_head = (self.rx_queue_head + 1) % self.rx_queue.len();
        self.rx_queue_len -= 1;
        Some(RxFrame::new(addr, len))
    }

    fn rx_data(&self, frame: &RxFrame) -> &[u8] {
        self.bytes(frame.token(), frame.len())
    }

    fn rx_release(&mut self, frame: RxFrame) {
        let chunk = self.chunk_of(frame.token());
        assert!(
            chunk < u64::from(self.rx_count) * u64::from(FRAME_BYTES),
            "a TX chunk released as RX"
        );
        self.fill.push_addr(chunk);
        self.fill.publish_producer();
    }

    fn tx_alloc(&mut self) -> Option<TxFrame> {
        if self.tx_free_len == 0 {
            self.reclaim();
        }
        if self.tx_free_len == 0 {
            self.counters.tx_full += 1;
            return None;
        }
        self.tx_free_len -= 1;
        Some(TxFrame::new(self.tx_free[self.tx_free_len]))
    }

    fn tx_data(&mut self, frame: &TxFrame) -> &mut [u8] {
        let addr = frame.token();
        assert!(addr + u64::from(FRAME_BYTES) <= self.umem.len as u64);
        // SAFETY: the chunk lies inside the UMEM and belongs to the live TxFrame the caller
        // holds exclusively; the kernel does not touch it until it is submitted.
        unsafe {
            core::slice::from_raw_parts_mut(self.umem.base.add(addr as usize), FRAME_BYTES as usize)
        }
    }

    fn tx_submit(&mut self, frame: TxFrame, len: usize) {
        assert!(len <= FRAME_BYTES as usize);
        assert!(
            frame.token() >= u64::from(self.rx_count) * u64::from(FRAME_BYTES),
            "an RX chunk submitted"
        );
        self.tx.write_desc(libc::xdp_desc {
            addr: frame.token(),
            len: len as u32,
            options: 0,
        });
        self.tx_pending += 1;
    }

    fn tx_flush(&mut self) -> Result<(), FrameError> {
        if self.tx_pending > 0 {
            self.tx.publish_producer();
            self.counters.tx_frames += u64::from(self.tx_pending);
            self.tx_pending = 0;
        }
        // Copy mode sends at most a small batch per kick: kick until the ring is drained
        // (bounded), or once when the kernel asks.
        for _ in 0..(self.tx.size / 16 + 1) {
            let queued = self.tx.local.wrapping_sub(self.tx.peer_consumer());
            if queued == 0 || (self.zero_copy && !self.tx.needs_wakeup()) {
                break;
            }
            self.wake(false);
        }
        self.reclaim();
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn frame_len_max(&self) -> usize {
        FRAME_BYTES as usize
    }

    fn counters(&self) -> FrameCounters {
        self.counters
    }
}
