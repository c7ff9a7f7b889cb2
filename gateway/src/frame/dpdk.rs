//! The DPDK backend (cargo feature `dpdk`): one ethdev port with one RX and one TX queue, mbufs
//! from one pool, through hand-written FFI to the C shim in `gateway/csrc/dpdk_shim.c` (DPDK's
//! burst and mbuf calls are static inline, so the shim wraps them).
//!
//! The Environment Abstraction Layer starts once per process ([`eal_init`]), with arguments
//! from the configuration, e.g. `--no-huge --no-pci --vdev=net_ring0` for a loopback ring port
//! in tests, `--vdev=net_af_packet0,iface=veth0` over a kernel interface, or a PCI address on a
//! host with a DPDK-bound NIC. (`--in-memory` does not work with `--no-huge` on 22.11.)
//! [`DpdkPort::open_af_packet`] instead adds a `net_af_packet` device after the EAL started, on
//! an interface of the calling thread's network namespace, and removes it again on drop, so one
//! process can open and close such ports as often as it likes (the EAL itself starts once).
//!
//! Buffer ownership: an [`RxFrame`] token is the mbuf pointer received from `rx_burst`;
//! `rx_release` frees it to the pool. A [`TxFrame`] is a freshly allocated mbuf; `tx_submit`
//! puts it in the TX batch and `tx_flush` hands the batch to `tx_burst`, after which the driver
//! frees each mbuf when sent. Mbufs the driver refuses after the retries are freed here and
//! counted.
//!
//! # Invariants
//! - Every mbuf taken from the pool is in exactly one place: the local RX queue, a live
//!   handle, the TX batch, or the driver. `Drop` frees what is still local.
//! - Batches are bounded by [`BURST`]; nothing allocates after [`DpdkPort::open`].
//! - A port from [`DpdkPort::open_af_packet`] owns its device and its pool: `Drop` stops and
//!   closes the port, removes the device, then frees the pool (the driver copies frames in and
//!   out of its own rings, so no mbuf of the pool is left with it).

use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use super::{FrameCounters, FrameError, FrameIo, RxFrame, TxFrame};

/// Frames moved per burst call.
pub const BURST: usize = 32;
/// Data room of each mbuf (2,048 bytes of frame after DPDK's 128-byte headroom).
const DATA_ROOM: u32 = 2048 + 128;
/// `tx_burst` attempts for the frames of one flush before the rest are dropped.
const TX_RETRIES: u32 = 64;

#[repr(C)]
struct Mbuf {
    _opaque: [u8; 0],
}

#[repr(C)]
struct Mempool {
    _opaque: [u8; 0],
}

extern "C" {
    fn pg_dpdk_eal_init(argc: c_int, argv: *mut *mut c_char) -> c_int;
    fn pg_dpdk_pool_create(
        name: *const c_char,
        count: u32,
        cache: u32,
        data_room: u32,
    ) -> *mut Mempool;
    fn pg_dpdk_vdev_add(name: *const c_char, args: *const c_char) -> c_int;
    fn pg_dpdk_vdev_remove(name: *const c_char) -> c_int;
    fn pg_dpdk_pool_free(pool: *mut Mempool);
    fn pg_dpdk_thread_register() -> c_int;
    fn pg_dpdk_thread_unregister();
    fn pg_dpdk_port_by_name(name: *const c_char, port: *mut u16) -> c_int;
    fn pg_dpdk_port_start(port: u16, pool: *mut Mempool, rx_desc: u16, tx_desc: u16) -> c_int;
    fn pg_dpdk_port_mac(port: u16, out: *mut u8) -> c_int;
    fn pg_dpdk_port_stop(port: u16);
    fn pg_dpdk_rx_burst(port: u16, mbufs: *mut *mut Mbuf, count: u16) -> u16;
    fn pg_dpdk_tx_burst(port: u16, mbufs: *mut *mut Mbuf, count: u16) -> u16;
    fn pg_dpdk_alloc(pool: *mut Mempool) -> *mut Mbuf;
    fn pg_dpdk_free(mbuf: *mut Mbuf);
    fn pg_dpdk_data(mbuf: *mut Mbuf) -> *mut u8;
    fn pg_dpdk_data_len(mbuf: *const Mbuf) -> u16;
    fn pg_dpdk_room(mbuf: *const Mbuf) -> u16;
    fn pg_dpdk_set_len(mbuf: *mut Mbuf, len: u16);
}

static EAL: OnceLock<Result<(), FrameError>> = OnceLock::new();
/// Numbers the pools and the added devices, so names never repeat within the process.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Starts DPDK's EAL with `args` (program name first is added here). Only the first call in a
/// process starts it; later calls return the first result, whatever their arguments.
pub fn eal_init(args: &[String]) -> Result<(), FrameError> {
    *EAL.get_or_init(|| {
        if !super::is_root() {
            return Err(FrameError::NotRoot);
        }
        let mut owned: Vec<CString> = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("peregrine").map_err(|_| FrameError::Config("EAL argument"))?);
        for arg in args {
            owned.push(
                CString::new(arg.as_str())
                    .map_err(|_| FrameError::Config("EAL argument with NUL"))?,
            );
        }
        // EAL may keep the pointers: leak the strings (once per process).
        let mut argv: Vec<*mut c_char> = owned.into_iter().map(CString::into_raw).collect();
        let argc = c_int::try_from(argv.len()).map_err(|_| FrameError::Config("EAL arguments"))?;
        // SAFETY: argv holds argc valid NUL-terminated strings that are never freed.
        let code = unsafe { pg_dpdk_eal_init(argc, argv.as_mut_ptr()) };
        std::mem::forget(argv);
        if code < 0 {
            return Err(FrameError::Dpdk {
                step: "rte_eal_init",
                code,
            });
        }
        Ok(())
    })
}

/// The calling thread's DPDK lcore id, from [`register_thread`]; dropping it (on the same
/// thread: the guard is not `Send`) gives the id back.
#[derive(Debug)]
pub struct ThreadRegistration {
    _not_send: core::marker::PhantomData<*const ()>,
}

/// Registers the calling thread with the EAL (after [`eal_init`]), so a thread that polls a
/// port gets what an EAL lcore has, notably a per-lcore cache in front of each mbuf pool
/// instead of the pool's shared ring on every allocation and free. CPU affinity is unchanged.
pub fn register_thread() -> Result<ThreadRegistration, FrameError> {
    if EAL.get().is_none() {
        return Err(FrameError::Config("eal_init first"));
    }
    // SAFETY: no arguments; the EAL is up.
    let code = unsafe { pg_dpdk_thread_register() };
    if code != 0 {
        return Err(FrameError::Dpdk {
            step: "rte_thread_register",
            code,
        });
    }
    Ok(ThreadRegistration {
        _not_send: core::marker::PhantomData,
    })
}

impl Drop for ThreadRegistration {
    fn drop(&mut self) {
        // SAFETY: this thread registered itself (the guard cannot leave it) and unregisters once.
        unsafe { pg_dpdk_thread_unregister() };
    }
}

/// An ethdev port and its mbuf pool (see the module docs).
#[derive(Debug)]
pub struct DpdkPort {
    port: u16,
    pool: *mut Mempool,
    mac: [u8; 6],
    rx: [*mut Mbuf; BURST],
    rx_head: usize,
    rx_len: usize,
    tx: [*mut Mbuf; BURST],
    tx_len: usize,
    /// The device this port added (see [`DpdkPort::open_af_packet`]), removed on drop.
    vdev: Option<CString>,
    /// Frames the driver did not take within the retries.
    pub tx_dropped: u64,
    counters: FrameCounters,
}

// SAFETY: the port and its mbufs are used by one thread at a time: whoever owns this value.
unsafe impl Send for DpdkPort {}

impl DpdkPort {
    /// Opens port `name` (a vdev name such as `net_ring0`) after [`eal_init`], with a pool of
    /// `mbuf_count` buffers.
    pub fn open(name: &str, mbuf_count: u32) -> Result<DpdkPort, FrameError> {
        if EAL.get().is_none() {
            return Err(FrameError::Config("eal_init first"));
        }
        let cname = CString::new(name).map_err(|_| FrameError::NoInterface)?;
        DpdkPort::open_port(&cname, mbuf_count, None)
    }

    /// Adds a `net_af_packet` device on `interface` (looked up in the calling thread's network
    /// namespace) after [`eal_init`], and opens it as [`DpdkPort::open`] does. The device and
    /// the pool go away when the port is dropped. The driver copies every frame between its
    /// `AF_PACKET` rings and the mbufs, so this is DPDK's slowest path, useful on a veth pair.
    pub fn open_af_packet(interface: &str, mbuf_count: u32) -> Result<DpdkPort, FrameError> {
        if EAL.get().is_none() {
            return Err(FrameError::Config("eal_init first"));
        }
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let name = CString::new(format!("net_af_packet_pg{sequence}"))
            .map_err(|_| FrameError::Config("device name"))?;
        let args = CString::new(format!("iface={interface},qpairs=1"))
            .map_err(|_| FrameError::NoInterface)?;
        // SAFETY: two valid C strings, read during the call only.
        let code = unsafe { pg_dpdk_vdev_add(name.as_ptr(), args.as_ptr()) };
        if code != 0 {
            return Err(FrameError::Dpdk {
                step: "rte_eal_hotplug_add net_af_packet",
                code,
            });
        }
        let cname = name.clone();
        DpdkPort::open_port(&cname, mbuf_count, Some(name))
    }

    /// Finds port `cname`, gives it a pool and starts it; on failure removes `vdev`, if any.
    fn open_port(
        cname: &CString,
        mbuf_count: u32,
        vdev: Option<CString>,
    ) -> Result<DpdkPort, FrameError> {
        let result = DpdkPort::start_port(cname, mbuf_count, vdev.is_some());
        match result {
            Ok((port, pool, mac)) => Ok(DpdkPort {
                port,
                pool,
                mac,
                rx: [core::ptr::null_mut(); BURST],
                rx_head: 0,
                rx_len: 0,
                tx: [core::ptr::null_mut(); BURST],
                tx_len: 0,
                vdev,
                tx_dropped: 0,
                counters: FrameCounters::default(),
            }),
            Err(error) => {
                if let Some(name) = &vdev {
                    // SAFETY: a valid C string naming the device added by the caller.
                    unsafe { pg_dpdk_vdev_remove(name.as_ptr()) };
                }
                Err(error)
            }
        }
    }

    /// The port id, its pool and its MAC, with the port started. A pool that cannot be used is
    /// freed here when `owned` (the caller is about to remove the device).
    fn start_port(
        cname: &CString,
        mbuf_count: u32,
        owned: bool,
    ) -> Result<(u16, *mut Mempool, [u8; 6]), FrameError> {
        let mut port = 0u16;
        // SAFETY: a valid C string and a live u16 to write.
        let code = unsafe { pg_dpdk_port_by_name(cname.as_ptr(), &mut port) };
        if code != 0 {
            return Err(FrameError::NoInterface);
        }
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let pool_name = CString::new(format!("pg_pool_{sequence}"))
            .map_err(|_| FrameError::Config("pool name"))?;
        // SAFETY: a valid C string; the result is checked for null.
        let pool = unsafe { pg_dpdk_pool_create(pool_name.as_ptr(), mbuf_count, 32, DATA_ROOM) };
        if pool.is_null() {
            return Err(FrameError::Dpdk {
                step: "rte_pktmbuf_pool_create",
                code: -1,
            });
        }
        // SAFETY: a port id DPDK gave us and the pool just created.
        let code = unsafe { pg_dpdk_port_start(port, pool, 512, 512) };
        let mut mac = [0u8; 6];
        let (step, code) = if code != 0 {
            ("port start", code)
        } else {
            // SAFETY: writes six bytes into `mac`.
            let code = unsafe { pg_dpdk_port_mac(port, mac.as_mut_ptr()) };
            ("rte_eth_macaddr_get", code)
        };
        if code == 0 {
            return Ok((port, pool, mac));
        }
        if owned {
            // SAFETY: the port is closed first, so no mbuf of the pool is in use any more.
            unsafe {
                pg_dpdk_port_stop(port);
                pg_dpdk_pool_free(pool);
            }
        }
        Err(FrameError::Dpdk { step, code })
    }

    fn mbuf(token: u64) -> *mut Mbuf {
        assert!(token != 0, "null mbuf handle");
        token as usize as *mut Mbuf
    }

    /// Sends the TX batch, retrying what the driver could not take yet.
    fn burst_out(&mut self) {
        let mut sent = 0usize;
        for _ in 0..TX_RETRIES {
            if sent == self.tx_len {
                break;
            }
            let count = u16::try_from(self.tx_len - sent).unwrap_or(0);
            // SAFETY: tx[sent..tx_len] are mbufs we own; the driver takes the first n.
            let n = unsafe { pg_dpdk_tx_burst(self.port, self.tx.as_mut_ptr().add(sent), count) };
            sent += usize::from(n);
        }
        for &mbuf in &self.tx[sent..self.tx_len] {
            // SAFETY: not taken by the driver, so still ours to free.
            unsafe { pg_dpdk_free(mbuf) };
            self.tx_dropped += 1;
        }
        self.counters.tx_frames += sent as u64;
        self.tx_len = 0;
    }
}

impl FrameIo for DpdkPort {
    fn rx_poll(&mut self) -> Result<usize, FrameError> {
        if self.rx_len == 0 {
            self.rx_head = 0;
            // SAFETY: room for BURST mbuf pointers.
            let n = unsafe { pg_dpdk_rx_burst(self.port, self.rx.as_mut_ptr(), BURST as u16) };
            self.rx_len = usize::from(n);
            self.counters.rx_frames += u64::from(n);
        }
        Ok(self.rx_len)
    }

    fn rx_take(&mut self) -> Option<RxFrame> {
        if self.rx_len == 0 {
            return None;
        }
        let mbuf = self.rx[self.rx_head];
        self.rx_head += 1;
        self.rx_len -= 1;
        // SAFETY: a received mbuf we own.
        let len = unsafe { pg_dpdk_data_len(mbuf) };
        Some(RxFrame::new(mbuf as usize as u64, u32::from(len)))
    }

    fn rx_data(&self, frame: &RxFrame) -> &[u8] {
        let mbuf = Self::mbuf(frame.token());
        // SAFETY: the mbuf is held by the live handle; its data segment has `len` bytes and
        // stays valid until `rx_release`, which takes the handle.
        unsafe { core::slice::from_raw_parts(pg_dpdk_data(mbuf), frame.len()) }
    }

    fn rx_release(&mut self, frame: RxFrame) {
        // SAFETY: the handle owned the mbuf; it is freed once.
        unsafe { pg_dpdk_free(Self::mbuf(frame.token())) };
    }

    fn tx_alloc(&mut self) -> Option<TxFrame> {
        // SAFETY: allocation from our pool; null is checked.
        let mbuf = unsafe { pg_dpdk_alloc(self.pool) };
        if mbuf.is_null() {
            self.counters.tx_full += 1;
            return None;
        }
        Some(TxFrame::new(mbuf as usize as u64))
    }

    fn tx_data(&mut self, frame: &TxFrame) -> &mut [u8] {
        let mbuf = Self::mbuf(frame.token());
        // SAFETY: the fresh mbuf is held exclusively by the handle; `room` bytes after its data
        // start are inside its buffer.
        unsafe {
            let room = usize::from(pg_dpdk_room(mbuf));
            core::slice::from_raw_parts_mut(pg_dpdk_data(mbuf), room)
        }
    }

    fn tx_submit(&mut self, frame: TxFrame, len: usize) {
        let mbuf = Self::mbuf(frame.token());
        let len = u16::try_from(len).expect("frame length fits the mbuf");
        // SAFETY: the handle's mbuf, length within its room (tx_data's slice bound).
        unsafe { pg_dpdk_set_len(mbuf, len) };
        if self.tx_len == BURST {
            self.burst_out();
        }
        self.tx[self.tx_len] = mbuf;
        self.tx_len += 1;
    }

    fn tx_flush(&mut self) -> Result<(), FrameError> {
        self.burst_out();
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn frame_len_max(&self) -> usize {
        2048
    }

    fn counters(&self) -> FrameCounters {
        self.counters
    }
}

impl Drop for DpdkPort {
    fn drop(&mut self) {
        self.burst_out();
        for index in self.rx_head..self.rx_head + self.rx_len {
            // SAFETY: received mbufs never handed out are ours to free.
            unsafe { pg_dpdk_free(self.rx[index]) };
        }
        // SAFETY: stops and closes the port this value opened.
        unsafe { pg_dpdk_port_stop(self.port) };
        if let Some(name) = &self.vdev {
            // SAFETY: the device this port added, closed above; af_packet holds no mbuf after
            // close (it copies frames), so the pool is unused and freed once.
            unsafe {
                pg_dpdk_vdev_remove(name.as_ptr());
                pg_dpdk_pool_free(self.pool);
            }
        }
    }
}
