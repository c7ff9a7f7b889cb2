//! TCP over raw frames: a smoltcp `Interface` and a fixed set of TCP sockets driven by any
//! [`FrameIo`] backend, seen by the caller as numbered connections (the shape of the node's
//! `Transport`: listen, accept, read, write, close).
//!
//! Every socket of the set listens on the configured port while it is free. When a member
//! connects, one of them becomes established; [`TcpStack::accept`] hands it out as a
//! [`Conn`]. Closing a connection sends a FIN, and once the socket is done it listens again.
//! ARP is answered by smoltcp itself (the XDP program redirects ARP for the node's address),
//! so the node's address must not be configured on the kernel interface.
//!
//! Received frames are copied once into a fixed buffer before smoltcp parses them: smoltcp
//! writes its reply from inside the receive callback, and the reply needs the backend while
//! the received bytes are still borrowed. Transmitted frames are built in place in the
//! backend's buffers (no copy).
//!
//! # Invariants
//! - All sockets and their buffers are allocated in [`TcpStack::new`]; polling, reading and
//!   writing do not allocate.
//! - A socket is either free (listening or winding down) or handed out as exactly one `Conn`.
//! - Work per [`TcpStack::poll`] is bounded: at most [`INGRESS_FRAMES_MAX`] frames in, then
//!   one egress pass.

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use super::{FrameError, FrameIo};

/// Frames handled per `poll` before egress runs.
pub const INGRESS_FRAMES_MAX: usize = 256;
/// Largest Ethernet frame smoltcp builds (1,500-byte MTU + 14-byte header).
const FRAME_LEN_MAX: usize = 1514;

/// Addresses and sizes of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// The node's IPv4 address (owned by smoltcp, not by the kernel).
    pub ipv4: [u8; 4],
    pub prefix_len: u8,
    /// Default route, if members are beyond the local subnet.
    pub gateway: Option<[u8; 4]>,
    /// The listening port.
    pub port: u16,
    /// Sockets in the set: the most connections at once.
    pub connections_max: usize,
    /// Receive and send buffer bytes per socket.
    pub buffer_bytes: usize,
}

/// Why a stream call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The peer closed (FIN received and every byte read) or reset the connection.
    Closed,
    /// `conn` was not handed out by `accept` or was closed already.
    NotConnected,
}

impl core::fmt::Display for StreamError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StreamError::Closed => write!(f, "connection closed by the peer"),
            StreamError::NotConnected => write!(f, "not a connection"),
        }
    }
}

/// A connection handed out by [`TcpStack::accept`] (an index into the socket set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conn(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Listening, or established and waiting for `accept`.
    Free,
    Accepted,
    /// Closed by the caller; listens again once the socket is done.
    Closing,
}

/// A smoltcp device over a frame backend.
pub struct SmolDevice<F: FrameIo> {
    io: F,
    rx_copy: Box<[u8; 2048]>,
    /// Frames smoltcp built while no transmit buffer was free (TCP retransmits them).
    tx_dropped: u64,
    tx_scratch: Box<[u8; 2048]>,
}

pub struct RxToken<'a> {
    bytes: &'a [u8],
}

pub struct TxToken<'a, F: FrameIo> {
    io: &'a mut F,
    scratch: &'a mut [u8; 2048],
    dropped: &'a mut u64,
}

impl smoltcp::phy::RxToken for RxToken<'_> {
    fn consume<R, G: FnOnce(&[u8]) -> R>(self, f: G) -> R {
        f(self.bytes)
    }
}

impl<F: FrameIo> smoltcp::phy::TxToken for TxToken<'_, F> {
    fn consume<R, G: FnOnce(&mut [u8]) -> R>(self, len: usize, f: G) -> R {
        let Some(frame) = self.io.tx_alloc() else {
            *self.dropped += 1;
            return f(&mut self.scratch[..len]);
        };
        let result = f(&mut self.io.tx_data(&frame)[..len]);
        self.io.tx_submit(frame, len);
        result
    }
}

impl<F: FrameIo> Device for SmolDevice<F> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, F>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_, F>)> {
        let frame = self.io.rx_take()?;
        let data = self.io.rx_data(&frame);
        let len = data.len().min(self.rx_copy.len());
        self.rx_copy[..len].copy_from_slice(&data[..len]);
        self.io.rx_release(frame);
        let SmolDevice {
            io,
            rx_copy,
            tx_dropped,
            tx_scratch,
        } = self;
        Some((
            RxToken {
                bytes: &rx_copy[..len],
            },
            TxToken {
                io,
                scratch: tx_scratch,
                dropped: tx_dropped,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_, F>> {
        Some(TxToken {
            io: &mut self.io,
            scratch: &mut self.tx_scratch,
            dropped: &mut self.tx_dropped,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME_LEN_MAX.min(self.io.frame_len_max());
        caps
    }
}

/// The smoltcp stack over a frame backend (see the module docs).
pub struct TcpStack<F: FrameIo> {
    device: SmolDevice<F>,
    iface: Interface,
    sockets: SocketSet<'static>,
    handles: Box<[SocketHandle]>,
    slots: Box<[Slot]>,
    port: u16,
    listening: bool,
}

fn instant(now_ns: u64) -> Instant {
    Instant::from_micros(i64::try_from(now_ns / 1_000).unwrap_or(i64::MAX))
}

impl<F: FrameIo> TcpStack<F> {
    /// Builds the interface and `connections_max` listening sockets over `io`.
    pub fn new(io: F, config: TcpConfig, now_ns: u64) -> Result<TcpStack<F>, FrameError> {
        if config.connections_max == 0 || config.buffer_bytes < 1024 {
            return Err(FrameError::Config(
                "connections_max > 0 and buffer_bytes >= 1024",
            ));
        }
        let mut device = SmolDevice {
            io,
            rx_copy: Box::new([0; 2048]),
            tx_dropped: 0,
            tx_scratch: Box::new([0; 2048]),
        };
        let mac = EthernetAddress(device.io.mac());
        let mut iface_config = Config::new(HardwareAddress::Ethernet(mac));
        iface_config.random_seed = now_ns ^ 0x9e37_79b9_7f4a_7c15;
        let mut iface = Interface::new(iface_config, &mut device, instant(now_ns));
        let [a, b, c, d] = config.ipv4;
        iface.update_ip_addrs(|addrs| {
            let cidr = IpCidr::new(IpAddress::v4(a, b, c, d), config.prefix_len);
            // One address: the list has room for it.
            let _ = addrs.push(cidr);
        });
        if let Some([a, b, c, d]) = config.gateway {
            iface
                .routes_mut()
                .add_default_ipv4_route(Ipv4Address::new(a, b, c, d))
                .map_err(|_| FrameError::Config("default route"))?;
        }
        let storage: Vec<SocketStorage<'static>> = (0..config.connections_max)
            .map(|_| SocketStorage::EMPTY)
            .collect();
        let mut sockets = SocketSet::new(storage);
        let mut handles = Vec::with_capacity(config.connections_max);
        for _ in 0..config.connections_max {
            let rx = tcp::SocketBuffer::new(vec![0u8; config.buffer_bytes]);
            let tx = tcp::SocketBuffer::new(vec![0u8; config.buffer_bytes]);
            let mut socket = tcp::Socket::new(rx, tx);
            socket.set_nagle_enabled(false);
            socket.set_ack_delay(None);
            socket
                .listen(config.port)
                .map_err(|_| FrameError::Config("listen port"))?;
            handles.push(sockets.add(socket));
        }
        Ok(TcpStack {
            device,
            iface,
            sockets,
            handles: handles.into_boxed_slice(),
            slots: vec![Slot::Free; config.connections_max].into_boxed_slice(),
            port: config.port,
            listening: true,
        })
    }

    /// Moves frames: receives a batch, runs TCP, transmits, and recycles closed sockets.
    pub fn poll(&mut self, now_ns: u64) -> Result<(), FrameError> {
        let now = instant(now_ns);
        self.device.io.rx_poll()?;
        for _ in 0..INGRESS_FRAMES_MAX {
            use smoltcp::iface::PollIngressSingleResult;
            let result = self
                .iface
                .poll_ingress_single(now, &mut self.device, &mut self.sockets);
            if result == PollIngressSingleResult::None {
                break;
            }
        }
        self.iface
            .poll_egress(now, &mut self.device, &mut self.sockets);
        self.device.io.tx_flush()?;
        self.recycle();
        Ok(())
    }

    /// How long until smoltcp has timer work (retransmission, delayed ACK); `None` = idle.
    pub fn poll_delay_ns(&mut self, now_ns: u64) -> Option<u64> {
        let delay: Option<Duration> = self.iface.poll_delay(instant(now_ns), &self.sockets);
        delay.map(|d| d.total_micros().saturating_mul(1_000))
    }

    fn recycle(&mut self) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if *slot != Slot::Closing {
                continue;
            }
            let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[index]);
            let done = matches!(socket.state(), tcp::State::Closed | tcp::State::TimeWait);
            if done {
                socket.abort();
                if self.listening {
                    // The port was valid at start-up, so listening again cannot fail.
                    let _ = socket.listen(self.port);
                }
                *slot = Slot::Free;
            }
        }
    }

    /// An established connection not handed out yet.
    pub fn accept(&mut self) -> Option<Conn> {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if *slot != Slot::Free {
                continue;
            }
            let socket = self.sockets.get::<tcp::Socket>(self.handles[index]);
            if matches!(
                socket.state(),
                tcp::State::Established | tcp::State::CloseWait
            ) {
                *slot = Slot::Accepted;
                return Some(Conn(index));
            }
        }
        None
    }

    /// Whether an established connection waits for `accept`.
    pub fn accept_pending(&self) -> bool {
        self.slots
            .iter()
            .zip(self.handles.iter())
            .any(|(slot, &handle)| {
                let state = self.sockets.get::<tcp::Socket>(handle).state();
                *slot == Slot::Free
                    && matches!(state, tcp::State::Established | tcp::State::CloseWait)
            })
    }

    /// `(readable, writable)` of a connection: bytes or end of stream to read, room to write
    /// (or a closed send side, which a write reports). `None` for no such connection.
    pub fn readiness(&mut self, conn: Conn) -> Option<(bool, bool)> {
        let socket = self.socket(conn).ok()?;
        let readable = socket.can_recv() || !socket.may_recv();
        let writable = socket.can_send() || !socket.may_send();
        Some((readable, writable))
    }

    fn socket(&mut self, conn: Conn) -> Result<&mut tcp::Socket<'static>, StreamError> {
        match self.slots.get(conn.0) {
            Some(Slot::Accepted) => Ok(self.sockets.get_mut::<tcp::Socket>(self.handles[conn.0])),
            _ => Err(StreamError::NotConnected),
        }
    }

    /// Reads what has arrived (0 = nothing now).
    pub fn recv(&mut self, conn: Conn, buffer: &mut [u8]) -> Result<usize, StreamError> {
        let socket = self.socket(conn)?;
        if !socket.may_recv() && socket.recv_queue() == 0 {
            return Err(StreamError::Closed);
        }
        socket.recv_slice(buffer).map_err(|_| StreamError::Closed)
    }

    /// Queues a prefix of `bytes`; returns how many were taken (sent at the next `poll`).
    pub fn send(&mut self, conn: Conn, bytes: &[u8]) -> Result<usize, StreamError> {
        let socket = self.socket(conn)?;
        if !socket.may_send() {
            return Err(StreamError::Closed);
        }
        socket.send_slice(bytes).map_err(|_| StreamError::Closed)
    }

    /// Bytes queued for sending and not yet acknowledged.
    pub fn send_queue(&mut self, conn: Conn) -> Result<usize, StreamError> {
        Ok(self.socket(conn)?.send_queue())
    }

    /// Closes the connection (FIN after queued bytes); the socket listens again when done.
    pub fn close(&mut self, conn: Conn) {
        if let Ok(socket) = self.socket(conn) {
            socket.close();
            self.slots[conn.0] = Slot::Closing;
        }
    }

    /// Stops taking new connections; established ones keep working.
    pub fn stop_listening(&mut self) {
        self.listening = false;
        for (index, slot) in self.slots.iter().enumerate() {
            let socket = self.sockets.get_mut::<tcp::Socket>(self.handles[index]);
            if *slot == Slot::Free && socket.state() == tcp::State::Listen {
                socket.abort();
            }
        }
    }

    /// The peer's address of a connection.
    pub fn remote(&mut self, conn: Conn) -> Option<std::net::SocketAddr> {
        let endpoint = self.socket(conn).ok()?.remote_endpoint()?;
        let IpAddress::Ipv4(ip) = endpoint.addr;
        Some(std::net::SocketAddr::from((ip.octets(), endpoint.port)))
    }

    /// The frame backend.
    pub fn io(&self) -> &F {
        &self.device.io
    }

    /// The frame backend, mutably (a feed publisher may share it).
    pub fn io_mut(&mut self) -> &mut F {
        &mut self.device.io
    }

    /// Frames built while no transmit buffer was free.
    pub fn tx_dropped(&self) -> u64 {
        self.device.tx_dropped
    }
}
