//! The gateway's network layer behind one trait, and the clock the gateway reads.
//!
//! [`Transport`] is a TCP-like stream service seen by slot number: it listens, accepts a
//! connection into a slot the gateway chose, reads, writes and closes it, and reports readiness
//! from [`Transport::poll`]. It names no socket type of any backend, so the same gateway runs
//! over kernel TCP through `mio` ([`KernelTransport`], the default), over a user-space TCP stack
//! on raw frames (smoltcp over AF_XDP/DPDK), or over the simulator's in-memory network.
//!
//! Readiness is edge-style: after a `Readable` report the gateway reads until `WouldBlock`, and
//! after a write returns `WouldBlock` (or a short count) it waits for a `Writable` report. A
//! backend may report readiness more often than needed (a spurious report costs one
//! `WouldBlock`), never less.
//!
//! [`Clock`] is the gateway's time source: the system clock in production, a shared counter
//! that the simulator advances by hand.
//!
//! # Invariants
//! - A slot holds at most one connection; `accept(slot)` is only called for a free slot and
//!   `close(slot)` frees it. Calls on a free slot return `ErrorKind::NotConnected`, never panic.
//! - `read` returning `Ok(0)` means the peer closed; `WouldBlock` means "no bytes now".
//! - `poll` appends at most one report per connection plus one for the listener per call, so
//!   the caller's `ready` vector stops growing once it has seen `max_connections + 1` entries.
//! - [`Clock::now_ns`] never goes backwards for a `Manual` clock (the simulator only adds).

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

/// What [`Transport::poll`] found ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// The listener may have connections to accept.
    Accept,
    /// Connection `slot` may be read (`readable`: bytes, end of stream or an error) or written.
    Connection {
        slot: usize,
        readable: bool,
        writable: bool,
    },
    /// Another thread asked the poll to return (threaded mode's wake-up).
    Wake,
}

/// A stream transport for the gateway (see the module docs for the contract).
pub trait Transport {
    /// The address members connect to.
    fn local_addr(&self) -> SocketAddr;
    /// Waits up to `timeout` (`None`: forever, zero: not at all) for readiness and appends what
    /// became ready to `ready`.
    fn poll(&mut self, timeout: Option<Duration>, ready: &mut Vec<Ready>) -> io::Result<()>;
    /// Accepts one pending connection into the free `slot`; `Ok(None)` when none is pending.
    /// Slots run from 0 to `max_connections` inclusive: the last one is the refusal slot,
    /// which the gateway closes at once when every other slot is taken.
    fn accept(&mut self, slot: usize) -> io::Result<Option<SocketAddr>>;
    /// Reads into `buffer` from connection `slot`.
    fn read(&mut self, slot: usize, buffer: &mut [u8]) -> io::Result<usize>;
    /// Writes a prefix of `bytes` to connection `slot`; returns how many bytes it took.
    fn write(&mut self, slot: usize, bytes: &[u8]) -> io::Result<usize>;
    /// Closes connection `slot` (unsent bytes may be lost) and frees the slot.
    fn close(&mut self, slot: usize);
    /// Stops accepting connections (shutdown); established ones keep working.
    fn stop_listening(&mut self);
    /// A waker that ends a blocking [`Transport::poll`] from another thread (reported as
    /// [`Ready::Wake`]); `None` for a transport that never blocks in the kernel, which the
    /// node then polls with a zero timeout only (busy polling).
    fn waker(&self) -> io::Result<Option<mio::Waker>> {
        Ok(None)
    }
    /// The frame backend's counters of a kernel-bypass transport (`None` on kernel sockets).
    fn frame_counters(&self) -> Option<peregrine_gateway::frame::FrameCounters> {
        None
    }
}

/// The gateway's time source: Unix nanoseconds.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// `SystemTime::now()`.
    #[default]
    System,
    /// A counter someone else advances (the simulator).
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `start_ns`, and the handle that advances it.
    pub fn manual(start_ns: u64) -> (Clock, Arc<AtomicU64>) {
        let counter = Arc::new(AtomicU64::new(start_ns));
        (Clock::Manual(Arc::clone(&counter)), counter)
    }

    pub fn now_ns(&self) -> u64 {
        match self {
            Clock::System => system_now_ns(),
            Clock::Manual(counter) => counter.load(Ordering::Relaxed),
        }
    }
}

/// Unix nanoseconds from the system clock (0 before 1970, saturating far in the future).
pub fn system_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

const LISTENER: Token = Token(usize::MAX);
/// The token of the core thread's wake-up (threaded mode).
const WAKER: Token = Token(usize::MAX - 1);
/// Readiness events taken per poll.
const EVENTS_MAX: usize = 1024;

/// Kernel TCP through `mio` (epoll): the default transport.
pub struct KernelTransport {
    poll: Poll,
    events: Events,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    streams: Vec<Option<TcpStream>>,
}

impl KernelTransport {
    /// Binds `addr` and prepares `max_connections` slots (plus the refusal slot).
    pub fn bind(addr: SocketAddr, max_connections: usize) -> io::Result<KernelTransport> {
        let mut listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(KernelTransport {
            poll,
            events: Events::with_capacity(EVENTS_MAX),
            listener: Some(listener),
            local_addr,
            streams: (0..=max_connections).map(|_| None).collect(),
        })
    }

    fn stream(&mut self, slot: usize) -> io::Result<&mut TcpStream> {
        self.streams
            .get_mut(slot)
            .and_then(Option::as_mut)
            .ok_or_else(|| io::Error::from(ErrorKind::NotConnected))
    }
}

impl Transport for KernelTransport {
    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    fn poll(&mut self, timeout: Option<Duration>, ready: &mut Vec<Ready>) -> io::Result<()> {
        self.poll.poll(&mut self.events, timeout)?;
        for event in self.events.iter() {
            let report = match event.token() {
                LISTENER => Ready::Accept,
                WAKER => Ready::Wake,
                Token(slot) => Ready::Connection {
                    slot,
                    readable: event.is_readable() || event.is_read_closed() || event.is_error(),
                    writable: event.is_writable() || event.is_write_closed(),
                },
            };
            ready.push(report);
        }
        Ok(())
    }

    fn accept(&mut self, slot: usize) -> io::Result<Option<SocketAddr>> {
        if self.streams.get(slot).is_none_or(Option::is_some) {
            return Err(io::Error::new(ErrorKind::InvalidInput, "slot not free"));
        }
        let Some(listener) = self.listener.as_ref() else {
            return Ok(None);
        };
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(None),
            Err(error) => return Err(error),
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "TCP_NODELAY refused");
        }
        self.poll.registry().register(
            &mut stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.streams[slot] = Some(stream);
        Ok(Some(peer))
    }

    fn read(&mut self, slot: usize, buffer: &mut [u8]) -> io::Result<usize> {
        self.stream(slot)?.read(buffer)
    }

    fn write(&mut self, slot: usize, bytes: &[u8]) -> io::Result<usize> {
        self.stream(slot)?.write(bytes)
    }

    fn close(&mut self, slot: usize) {
        let Some(mut stream) = self.streams.get_mut(slot).and_then(Option::take) else {
            return;
        };
        if let Err(error) = self.poll.registry().deregister(&mut stream) {
            tracing::debug!(%error, "deregister failed");
        }
    }

    fn waker(&self) -> io::Result<Option<mio::Waker>> {
        mio::Waker::new(self.poll.registry(), WAKER).map(Some)
    }

    fn stop_listening(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
    }
}
