//! Frame I/O: batches of Ethernet frames in and out, with buffer ownership explicit, so the
//! protocol code above (the smoltcp TCP stack in [`tcp`], the feed's UDP frame publisher in
//! `peregrine_feed::bypass`) does not know which backend moves the frames.
//!
//! Backends:
//! - [`memory::MemoryLink`]: two in-process ends joined back to back (tests, simulation).
//! - [`afxdp::AfXdp`]: an AF_XDP socket with its UMEM and four rings, fed by an XDP program
//!   that this crate loads itself through the `bpf()` syscall ([`bpf`]).
//! - `dpdk::DpdkPort` (cargo feature `dpdk`): a DPDK ethdev port through a small C shim.
//!
//! # Ownership of frame buffers
//!
//! Buffers belong to the backend (UMEM chunks, mbufs, a memory pool), allocated when it opens.
//! The caller borrows them through handles that are neither `Clone` nor `Copy`, so each one is
//! given back exactly once:
//!
//! ```text
//! receive:  rx_poll() ─► rx_take() -> RxFrame ─► rx_data(&frame) ─► rx_release(frame)
//! transmit: tx_alloc() -> TxFrame ─► tx_data(&frame) (write) ─► tx_submit(frame, len) ─► tx_flush()
//! ```
//!
//! An [`RxFrame`] is the caller's until `rx_release` hands its buffer back for reception (on
//! AF_XDP: the fill ring). A [`TxFrame`] is the caller's until `tx_submit`; from then on the
//! backend (and the kernel or NIC) owns it until the completion comes back, which `tx_flush`
//! and `tx_alloc` collect. Nothing leaves the process before `tx_flush`, which is where a batch
//! of submitted frames is published in one step (one ring update, at most one syscall).
//!
//! # Invariants
//! - Every buffer is in exactly one place: the backend's free pool, the kernel/NIC, or one
//!   live handle. Handles cannot be duplicated; a handle given to the wrong backend is a
//!   caller bug caught by an assertion on the buffer's range.
//! - No call allocates after the backend is opened; every call does bounded work (a ring
//!   batch at most).
//! - Bad frames from the wire are bytes like any others: the backend never parses them.

use core::fmt;

pub mod afxdp;
pub mod bpf;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod memory;
pub mod netns;
pub mod tcp;
pub mod venue;

/// A received frame lent to the caller; give it back with [`FrameIo::rx_release`].
#[derive(Debug, PartialEq, Eq)]
pub struct RxFrame {
    /// Backend-specific buffer id (UMEM address, mbuf pointer, pool index).
    token: u64,
    /// Frame length in bytes.
    len: u32,
}

impl RxFrame {
    /// Only backends make handles.
    pub(crate) fn new(token: u64, len: u32) -> RxFrame {
        RxFrame { token, len }
    }

    pub(crate) fn token(&self) -> u64 {
        self.token
    }

    /// Length of the frame in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the frame has no bytes (a backend never delivers one, but a peer may send one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A transmit buffer owned by the caller until [`FrameIo::tx_submit`].
#[derive(Debug, PartialEq, Eq)]
pub struct TxFrame {
    token: u64,
}

impl TxFrame {
    pub(crate) fn new(token: u64) -> TxFrame {
        TxFrame { token }
    }

    pub(crate) fn token(&self) -> u64 {
        self.token
    }
}

/// Why a backend could not open or move frames. Small and `Copy`: `errno` values are kept as
/// numbers, the step that failed as a static name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The backend needs root (CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW) and the process has not.
    NotRoot,
    /// No network interface of that name (in the current network namespace).
    NoInterface,
    /// The interface or kernel refused XDP in the mode asked for (driver without native XDP,
    /// zero-copy unsupported, kernel without AF_XDP): the failing step and its errno.
    XdpUnsupported { step: &'static str, errno: i32 },
    /// A system call failed: the step and its errno.
    Os { step: &'static str, errno: i32 },
    /// A configuration value the backend cannot use (ring size not a power of two, ...).
    Config(&'static str),
    /// The DPDK environment or port failed: the step and DPDK's return code.
    Dpdk { step: &'static str, code: i32 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::NotRoot => write!(
                f,
                "kernel bypass needs root (CAP_NET_ADMIN and CAP_BPF); run as root or use the kernel backend"
            ),
            FrameError::NoInterface => write!(f, "no such network interface"),
            FrameError::XdpUnsupported { step, errno } => write!(
                f,
                "XDP not supported here ({step}: {}); try mode = \"skb\" or the kernel backend",
                std::io::Error::from_raw_os_error(*errno)
            ),
            FrameError::Os { step, errno } => {
                write!(f, "{step}: {}", std::io::Error::from_raw_os_error(*errno))
            }
            FrameError::Config(what) => write!(f, "bad frame backend configuration: {what}"),
            FrameError::Dpdk { step, code } => write!(f, "DPDK {step} failed with {code}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// The last OS error as a [`FrameError::Os`] for `step`.
pub(crate) fn os_error(step: &'static str) -> FrameError {
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    FrameError::Os { step, errno }
}

/// Whether the process runs with effective uid 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Counters every backend keeps (plain integers; the owner exports them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCounters {
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// `tx_alloc` found no free buffer (back-pressure from the kernel/NIC).
    pub tx_full: u64,
    /// System calls made to wake the kernel (TX kicks, fill-ring wake-ups).
    pub wakeups: u64,
}

/// Frames in, frames out (see the module docs for the ownership rules).
pub trait FrameIo {
    /// Moves a batch of newly received frames from the backend's ring into its local queue;
    /// returns how many frames the queue now holds. Never blocks.
    fn rx_poll(&mut self) -> Result<usize, FrameError>;
    /// Takes the next received frame from the local queue.
    fn rx_take(&mut self) -> Option<RxFrame>;
    /// The bytes of a frame taken from this backend.
    fn rx_data(&self, frame: &RxFrame) -> &[u8];
    /// Gives a received frame's buffer back for reception.
    fn rx_release(&mut self, frame: RxFrame);
    /// A free transmit buffer, or `None` when all are in flight (count it, try later).
    fn tx_alloc(&mut self) -> Option<TxFrame>;
    /// The whole writable buffer of a transmit frame ([`FrameIo::frame_len_max`] bytes).
    fn tx_data(&mut self, frame: &TxFrame) -> &mut [u8];
    /// Queues the first `len` bytes of the frame for sending (sent at the next `tx_flush`).
    fn tx_submit(&mut self, frame: TxFrame, len: usize);
    /// Publishes the queued frames to the kernel/NIC and collects finished transmissions.
    fn tx_flush(&mut self) -> Result<(), FrameError>;
    /// The interface's MAC address (source of the frames we build).
    fn mac(&self) -> [u8; 6];
    /// Largest frame a buffer holds (Ethernet header included, no FCS).
    fn frame_len_max(&self) -> usize;
    /// The backend's counters.
    fn counters(&self) -> FrameCounters;
}

/// Builds and submits one frame through `f`, which writes into the buffer and returns the
/// frame length. Returns `false` (nothing sent, buffer kept) when no buffer is free.
pub fn send_with<F: FrameIo>(io: &mut F, f: impl FnOnce(&mut [u8]) -> usize) -> bool {
    let Some(frame) = io.tx_alloc() else {
        return false;
    };
    let len = f(io.tx_data(&frame));
    assert!(len <= io.frame_len_max(), "frame longer than its buffer");
    io.tx_submit(frame, len);
    true
}
