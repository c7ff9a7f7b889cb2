//! A single-threaded order-entry venue over any stream service: SoupBinTCP sessions, the OUCH
//! mapping and an [`Engine`], driven by one loop. It serves members the same way over kernel
//! TCP ([`KernelStreams`]) and over smoltcp on raw frames ([`TcpStack`]), which is what the
//! bypass tests and the kernel-vs-bypass benchmark need: identical protocol work, only the
//! network path differs. (The production node runs its own gateway and core threads; this is
//! their one-loop miniature, without journal or risk.)
//!
//! Every engine event is also handed to the caller's callback, so a feed publisher can turn
//! the same events into market data (order-to-feed latency).
//!
//! # Invariants
//! - Members live in fixed slots allocated in [`Venue::new`]; accepting, reading, matching and
//!   writing do not allocate (the event vector is preallocated and cleared per command).
//! - A member's sequenced messages go to its own [`RingStore`]; the session sends each once,
//!   in order, after Login Accepted.
//! - Work per [`Venue::run_once`] is bounded: one read per member, at most one input buffer of
//!   packets per member, one output buffer of packets per member.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use peregrine_engine::{AccountId, Engine, EngineConfig, Event, SessionId};

use super::tcp::{Conn, StreamError, TcpStack};
use super::{FrameError, FrameIo};
use crate::mapping::{InboundAction, Instruments, OrderEntry, SessionContext};
use crate::session::{ServerSession, SessionConfig, SessionEvent};
use crate::soupbintcp::LoginRejectReason;
use crate::store::RingStore;

/// Bytes of input and of output buffered per member.
const BUFFER_BYTES: usize = 16 * 1024;
/// Room kept free in the output buffer before another packet is written.
const PACKET_ROOM: usize = 1200;
/// Sequenced messages kept per member for re-login.
const STORE_MESSAGES: usize = 4096;
/// Live orders per member session.
const ORDERS_PER_MEMBER: u32 = 1 << 16;
/// Events one command may produce (a sweep through many resting orders included).
const EVENTS_MAX: usize = 4096;

/// A connection-oriented byte stream service (two real implementations: kernel TCP and
/// smoltcp over frames).
pub trait Streams {
    /// Moves bytes between the network and the connections; never blocks.
    fn poll(&mut self, now_ns: u64) -> Result<(), FrameError>;
    /// A new connection, if one arrived.
    fn accept(&mut self) -> Option<usize>;
    /// Reads what arrived (0 = nothing now); `Closed` once the peer is gone.
    fn recv(&mut self, conn: usize, buffer: &mut [u8]) -> Result<usize, StreamError>;
    /// Takes a prefix of `bytes`.
    fn send(&mut self, conn: usize, bytes: &[u8]) -> Result<usize, StreamError>;
    fn close(&mut self, conn: usize);
}

impl<F: FrameIo> Streams for TcpStack<F> {
    fn poll(&mut self, now_ns: u64) -> Result<(), FrameError> {
        TcpStack::poll(self, now_ns)
    }

    fn accept(&mut self) -> Option<usize> {
        TcpStack::accept(self).map(|conn| conn.0)
    }

    fn recv(&mut self, conn: usize, buffer: &mut [u8]) -> Result<usize, StreamError> {
        TcpStack::recv(self, Conn(conn), buffer)
    }

    fn send(&mut self, conn: usize, bytes: &[u8]) -> Result<usize, StreamError> {
        TcpStack::send(self, Conn(conn), bytes)
    }

    fn close(&mut self, conn: usize) {
        TcpStack::close(self, Conn(conn));
    }
}

/// Kernel TCP: a non-blocking listener and streams with Nagle off.
#[derive(Debug)]
pub struct KernelStreams {
    listener: TcpListener,
    streams: Vec<Option<TcpStream>>,
}

impl KernelStreams {
    /// Binds `addr` with room for `connections_max` connections.
    pub fn bind(addr: SocketAddr, connections_max: usize) -> io::Result<KernelStreams> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(KernelStreams {
            listener,
            streams: (0..connections_max).map(|_| None).collect(),
        })
    }

    fn stream(&mut self, conn: usize) -> Result<&mut TcpStream, StreamError> {
        self.streams
            .get_mut(conn)
            .and_then(Option::as_mut)
            .ok_or(StreamError::NotConnected)
    }
}

impl Streams for KernelStreams {
    fn poll(&mut self, _now_ns: u64) -> Result<(), FrameError> {
        Ok(())
    }

    fn accept(&mut self) -> Option<usize> {
        let free = self.streams.iter().position(Option::is_none)?;
        let (stream, _) = self.listener.accept().ok()?;
        let ready = stream.set_nonblocking(true).and(stream.set_nodelay(true));
        ready.ok()?;
        self.streams[free] = Some(stream);
        Some(free)
    }

    fn recv(&mut self, conn: usize, buffer: &mut [u8]) -> Result<usize, StreamError> {
        match self.stream(conn)?.read(buffer) {
            Ok(0) => Err(StreamError::Closed),
            Ok(n) => Ok(n),
            Err(error) if error.kind() == ErrorKind::WouldBlock => Ok(0),
            Err(_) => Err(StreamError::Closed),
        }
    }

    fn send(&mut self, conn: usize, bytes: &[u8]) -> Result<usize, StreamError> {
        match self.stream(conn)?.write(bytes) {
            Ok(n) => Ok(n),
            Err(error) if error.kind() == ErrorKind::WouldBlock => Ok(0),
            Err(_) => Err(StreamError::Closed),
        }
    }

    fn close(&mut self, conn: usize) {
        if let Some(slot) = self.streams.get_mut(conn) {
            *slot = None;
        }
    }
}

/// A member firm's login: user i trades for account i.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Login {
    pub username: [u8; 6],
    pub password: [u8; 10],
}

/// One member connection's state.
struct Member {
    conn: Option<usize>,
    session: ServerSession,
    entry: Option<OrderEntry>,
    store: RingStore,
    input: Box<[u8]>,
    input_len: usize,
    output: Box<[u8]>,
    output_start: usize,
    output_end: usize,
}

/// The venue (see the module docs).
pub struct Venue<S: Streams> {
    streams: S,
    engine: Engine,
    instruments: Instruments,
    logins: Vec<Login>,
    members: Vec<Member>,
    events: Vec<Event>,
    session_config: SessionConfig,
    /// Commands the engine applied.
    pub commands_applied: u64,
}

impl<S: Streams> Venue<S> {
    /// A venue for `config` with one login per account (`logins[i]` trades for account i).
    pub fn new(
        streams: S,
        config: EngineConfig,
        logins: Vec<Login>,
        members_max: usize,
    ) -> Venue<S> {
        assert!(
            logins.len() <= config.accounts.len(),
            "one account per login"
        );
        let instruments = Instruments::new(&config);
        let engine = Engine::new(config).expect("a valid engine configuration");
        let session_config = SessionConfig::default();
        let members = (0..members_max)
            .map(|_| Member {
                conn: None,
                session: ServerSession::new(session_config, 0),
                entry: None,
                store: RingStore::new(STORE_MESSAGES, 512),
                input: vec![0; BUFFER_BYTES].into_boxed_slice(),
                input_len: 0,
                output: vec![0; BUFFER_BYTES].into_boxed_slice(),
                output_start: 0,
                output_end: 0,
            })
            .collect();
        Venue {
            streams,
            engine,
            instruments,
            logins,
            members,
            events: Vec::with_capacity(EVENTS_MAX),
            session_config,
            commands_applied: 0,
        }
    }

    /// The stream service (counters, the frame backend).
    pub fn streams(&mut self) -> &mut S {
        &mut self.streams
    }

    /// Connected members.
    pub fn members_connected(&self) -> usize {
        self.members.iter().filter(|m| m.conn.is_some()).count()
    }

    /// One pass: network I/O, new connections, input, matching, output. Every engine event
    /// goes to `on_event` once, in order.
    pub fn run_once(
        &mut self,
        now_ns: u64,
        on_event: &mut impl FnMut(&Event),
    ) -> Result<(), FrameError> {
        self.streams.poll(now_ns)?;
        if let Some(conn) = self.streams.accept() {
            self.admit(conn, now_ns);
        }
        for index in 0..self.members.len() {
            if self.members[index].conn.is_some() {
                self.read_member(index, now_ns, on_event);
            }
        }
        for index in 0..self.members.len() {
            if self.members[index].conn.is_some() {
                self.write_member(index, now_ns);
            }
        }
        self.streams.poll(now_ns)
    }

    fn admit(&mut self, conn: usize, now_ns: u64) {
        let Some(member) = self.members.iter_mut().find(|m| m.conn.is_none()) else {
            self.streams.close(conn);
            return;
        };
        member.conn = Some(conn);
        member.session = ServerSession::new(self.session_config, now_ns);
        member.entry = None;
        member.input_len = 0;
        member.output_start = 0;
        member.output_end = 0;
    }

    fn read_member(&mut self, index: usize, now_ns: u64, on_event: &mut impl FnMut(&Event)) {
        let member = &mut self.members[index];
        let Some(conn) = member.conn else { return };
        match self
            .streams
            .recv(conn, &mut member.input[member.input_len..])
        {
            Ok(n) => member.input_len += n,
            Err(_) => return self.drop_member(index),
        }
        loop {
            let member = &mut self.members[index];
            let consumed = member
                .session
                .handle_input(now_ns, &member.input[..member.input_len]);
            let mut handled = false;
            while let Some(event) = self.members[index].session.poll_event() {
                handled = true;
                self.on_session_event(index, now_ns, event, on_event);
            }
            let member = &mut self.members[index];
            member.input.copy_within(consumed..member.input_len, 0);
            member.input_len -= consumed;
            if consumed == 0 && !handled {
                break;
            }
        }
    }

    fn on_session_event(
        &mut self,
        index: usize,
        now_ns: u64,
        event: SessionEvent,
        on_event: &mut impl FnMut(&Event),
    ) {
        match event {
            SessionEvent::LoginRequested(login) => {
                let found = self
                    .logins
                    .iter()
                    .position(|l| l.username == login.username && l.password == login.password);
                let member = &mut self.members[index];
                let Some(user) = found else {
                    member
                        .session
                        .reject_login(LoginRejectReason::NotAuthorized);
                    return;
                };
                let account = u32::try_from(user).unwrap_or(u32::MAX);
                member.entry = Some(OrderEntry::new(
                    SessionContext {
                        account: AccountId(account),
                        session: SessionId(account + 1),
                        firm: *b"FIRM",
                    },
                    ORDERS_PER_MEMBER,
                ));
                let next = member.store.resolve_requested_seq(login.requested_seq);
                member.session.accept_login(*b"   BYPASS1", next);
            }
            SessionEvent::Message { start, end } => {
                self.on_message(index, now_ns, start, end, on_event)
            }
            SessionEvent::LoggedOut | SessionEvent::TimedOut | SessionEvent::ProtocolError(_) => {}
        }
    }

    fn on_message(
        &mut self,
        index: usize,
        now_ns: u64,
        start: usize,
        end: usize,
        on_event: &mut impl FnMut(&Event),
    ) {
        let member = &mut self.members[index];
        let Some(entry) = member.entry.as_mut() else {
            return;
        };
        let action = entry.on_message(&self.instruments, now_ns, &member.input[start..end]);
        match action {
            InboundAction::Submit(command) => self.apply(command, now_ns, on_event),
            InboundAction::Reply(message) => {
                let mut bytes = [0u8; 512];
                let len = message.emit(&mut bytes);
                // Messages are far below the store's 512-byte limit.
                let _ = member.store.append(&bytes[..len]);
            }
            InboundAction::Deferred | InboundAction::Ignore(_) => {}
        }
    }

    fn apply(
        &mut self,
        command: peregrine_engine::Command,
        now_ns: u64,
        on_event: &mut impl FnMut(&Event),
    ) {
        let mut next = Some(command);
        // Each deferred cancel is submitted once; the chain is bounded by the open orders.
        while let Some(command) = next.take() {
            self.events.clear();
            self.engine.apply(&command, &mut self.events);
            self.commands_applied += 1;
            for event in &self.events {
                on_event(event);
                for member in self.members.iter_mut() {
                    let Some(entry) = member.entry.as_mut() else {
                        continue;
                    };
                    let output = entry.on_event(&self.instruments, now_ns, event);
                    for message in output.iter() {
                        let mut bytes = [0u8; 512];
                        let len = message.emit(&mut bytes);
                        let _ = member.store.append(&bytes[..len]);
                    }
                    if output.command.is_some() {
                        next = output.command;
                    }
                }
            }
        }
    }

    fn write_member(&mut self, index: usize, now_ns: u64) {
        let member = &mut self.members[index];
        let Some(conn) = member.conn else { return };
        if member.session.poll_timeout().is_some_and(|at| at <= now_ns) {
            member.session.handle_timeout(now_ns);
        }
        if member.output_start == member.output_end {
            member.output_start = 0;
            member.output_end = 0;
        }
        while member.output.len() - member.output_end >= PACKET_ROOM {
            let buffer = &mut member.output[member.output_end..];
            let mut len = member.session.poll_transmit(buffer);
            if len == 0 {
                let Some(seq) = member.session.sequenced_wanted() else {
                    break;
                };
                let Some(message) = member.store.get(seq) else {
                    break;
                };
                len = member
                    .session
                    .transmit_sequenced(seq, message, buffer)
                    .unwrap_or(0);
                if len == 0 {
                    break;
                }
            }
            member.output_end += len;
        }
        let pending = &member.output[member.output_start..member.output_end];
        match self.streams.send(conn, pending) {
            Ok(n) => member.output_start += n,
            Err(_) => return self.drop_member(index),
        }
        let member = &self.members[index];
        if member.session.is_closed() && member.output_start == member.output_end {
            self.drop_member(index);
        }
    }

    fn drop_member(&mut self, index: usize) {
        if let Some(conn) = self.members[index].conn.take() {
            self.streams.close(conn);
        }
        self.members[index].entry = None;
    }
}

/// A member's client over kernel TCP, blocking (tests and benchmarks): SoupBinTCP login, OUCH
/// messages out, sequenced OUCH messages in.
pub struct KernelMember {
    stream: TcpStream,
    session: crate::client::ClientSession,
    input: Box<[u8]>,
    input_len: usize,
    /// Messages received and not yet returned by `next_message`.
    ready: std::collections::VecDeque<crate::ouch::Outbound>,
}

/// Why a [`KernelMember`] call failed.
#[derive(Debug)]
pub enum MemberError {
    Io(io::Error),
    /// The server refused the login.
    LoginRejected(LoginRejectReason),
    /// The session closed or broke the protocol.
    Closed,
    /// A sequenced message that is not OUCH.
    Malformed,
}

impl From<io::Error> for MemberError {
    fn from(error: io::Error) -> MemberError {
        MemberError::Io(error)
    }
}

impl KernelMember {
    /// Connects to `addr` and logs in; returns once Login Accepted arrived.
    pub fn login(
        addr: SocketAddr,
        login: Login,
        timeout: std::time::Duration,
    ) -> Result<KernelMember, MemberError> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        let request = crate::soupbintcp::LoginRequest {
            username: login.username,
            password: login.password,
            requested_session: [b' '; 10],
            requested_seq: 1,
        };
        let session = crate::client::ClientSession::new(SessionConfig::default(), 0, request);
        let mut member = KernelMember {
            stream,
            session,
            input: vec![0; BUFFER_BYTES].into_boxed_slice(),
            input_len: 0,
            ready: std::collections::VecDeque::new(),
        };
        member.flush_control()?;
        while member.session.state() == crate::client::ClientState::AwaitingLoginAnswer {
            member.read_some()?;
        }
        match member.session.state() {
            crate::client::ClientState::Active => Ok(member),
            crate::client::ClientState::Closed(
                crate::client::ClientCloseReason::LoginRejected(reason),
            ) => Err(MemberError::LoginRejected(reason)),
            _ => Err(MemberError::Closed),
        }
    }

    fn flush_control(&mut self) -> Result<(), MemberError> {
        let mut packet = [0u8; 64];
        loop {
            let len = self.session.poll_transmit(&mut packet);
            if len == 0 {
                return Ok(());
            }
            self.stream.write_all(&packet[..len])?;
        }
    }

    /// Reads once and decodes every whole packet.
    fn read_some(&mut self) -> Result<(), MemberError> {
        let n = self.stream.read(&mut self.input[self.input_len..])?;
        if n == 0 {
            return Err(MemberError::Closed);
        }
        self.input_len += n;
        loop {
            let consumed = self.session.handle_input(0, &self.input[..self.input_len]);
            let mut handled = false;
            while let Some(event) = self.session.poll_event() {
                handled = true;
                match event {
                    crate::client::ClientEvent::Sequenced { start, end, .. } => {
                        let message = crate::ouch::Outbound::parse(&self.input[start..end])
                            .map_err(|_| MemberError::Malformed)?;
                        self.ready.push_back(message);
                    }
                    crate::client::ClientEvent::LoginAccepted { .. }
                    | crate::client::ClientEvent::LoginRejected(_) => {}
                    _ => return Err(MemberError::Closed),
                }
            }
            self.input.copy_within(consumed..self.input_len, 0);
            self.input_len -= consumed;
            if consumed == 0 && !handled {
                return Ok(());
            }
        }
    }

    /// Sends one OUCH message.
    pub fn send(&mut self, message: &crate::ouch::Inbound) -> Result<(), MemberError> {
        let mut bytes = [0u8; 512];
        let len = message.emit(&mut bytes);
        let mut packet = [0u8; 600];
        let packet_len = self
            .session
            .send_unsequenced(&bytes[..len], &mut packet)
            .map_err(|_| MemberError::Closed)?;
        self.stream.write_all(&packet[..packet_len])?;
        Ok(())
    }

    /// The next sequenced OUCH message (blocks up to the read timeout).
    pub fn next_message(&mut self) -> Result<crate::ouch::Outbound, MemberError> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(message);
            }
            self.read_some()?;
        }
    }
}
