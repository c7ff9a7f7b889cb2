//! The member side of order entry, for `peregrine client`, `load` and `demo`: a non-blocking
//! connection (a `mio` socket, the gateway crate's sans-IO [`ClientSession`], receive and
//! transmit buffers) that logs in, frames OUCH messages and hands back every sequenced
//! message with its number.
//!
//! # Invariants
//! - The caller owns the poll loop: `on_readable` / `flush` / `on_timer` never block.
//! - Outgoing bytes are never dropped: what the socket does not take waits in `tx` (which grows
//!   only if the caller outruns the socket; load generation keeps it bounded by its rate).

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

use anyhow::Context;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use peregrine_gateway::alpha;
use peregrine_gateway::client::{ClientEvent, ClientSession, CLIENT_CONTROL_PACKET_MAX};
use peregrine_gateway::ouch::{Inbound, Outbound};
use peregrine_gateway::session::SessionConfig;
use peregrine_gateway::soupbintcp::{LoginRejectReason, LoginRequest, HEADER_LEN};

/// What a member connection reports to its owner. Events are transient values in a reused
/// `Vec`, so the size of the `Message` variant costs a copy, not memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum MemberEvent {
    LoggedIn {
        next_seq: u64,
    },
    LoginRejected(LoginRejectReason),
    /// Sequenced message `seq`.
    Message {
        seq: u64,
        message: Outbound,
    },
    /// A sequenced payload that does not parse as OUCH (counted by callers).
    Unparsed {
        seq: u64,
    },
    Closed,
}

/// One member connection.
pub struct MemberConnection {
    stream: TcpStream,
    session: ClientSession,
    rx: Vec<u8>,
    rx_len: usize,
    tx: Vec<u8>,
    scratch: Vec<u8>,
    pub closed: bool,
    pub logged_in: bool,
}

impl MemberConnection {
    /// Starts connecting to `addr` and queues the Login Request.
    pub fn connect(
        addr: SocketAddr,
        username: &str,
        password: &str,
        requested_seq: u64,
        now_ns: u64,
    ) -> anyhow::Result<MemberConnection> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        // Small order messages must not wait for Nagle's algorithm.
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let login = LoginRequest {
            username: alpha::<6>(username),
            password: alpha::<10>(password),
            requested_session: [b' '; 10],
            requested_seq,
        };
        Ok(MemberConnection {
            stream,
            session: ClientSession::new(SessionConfig::default(), now_ns, login),
            rx: vec![0; 1 << 16],
            rx_len: 0,
            tx: Vec::with_capacity(1 << 16),
            scratch: vec![0; 1 << 10],
            closed: false,
            logged_in: false,
        })
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> anyhow::Result<()> {
        registry.register(
            &mut self.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(())
    }

    /// The sequence number to ask for on a re-login.
    pub fn next_seq(&self) -> u64 {
        self.session.next_seq()
    }

    /// Frames and queues one OUCH message; call [`MemberConnection::flush`] to send.
    pub fn send(&mut self, message: &Inbound) -> anyhow::Result<()> {
        let length = message.buffer_len();
        let written = message.emit(&mut self.scratch[..length]);
        let start = self.tx.len();
        self.tx.resize(start + HEADER_LEN + written, 0);
        let framed = self
            .session
            .send_unsequenced(&self.scratch[..written], &mut self.tx[start..])
            .map_err(|error| anyhow::anyhow!("cannot send now: {error:?}"))?;
        self.tx.truncate(start + framed);
        Ok(())
    }

    /// Queues control packets (login, heartbeat, logout) and writes what the socket takes.
    pub fn flush(&mut self) {
        let mut control = [0u8; CLIENT_CONTROL_PACKET_MAX];
        loop {
            let written = self.session.poll_transmit(&mut control);
            if written == 0 {
                break;
            }
            self.tx.extend_from_slice(&control[..written]);
        }
        while !self.tx.is_empty() && !self.closed {
            match self.stream.write(&self.tx) {
                Ok(0) => self.closed = true,
                Ok(count) => {
                    self.tx.drain(..count);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::NotConnected => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
    }

    /// Runs the session timers (client heartbeats, server silence).
    pub fn on_timer(&mut self, now_ns: u64, events: &mut Vec<MemberEvent>) {
        self.session.handle_timeout(now_ns);
        self.drain(events);
        self.flush();
    }

    /// Reads everything available and reports what it brought.
    pub fn on_readable(&mut self, now_ns: u64, events: &mut Vec<MemberEvent>) {
        // Bounded: each pass reads into free space or stops.
        for _ in 0..64 {
            if self.closed {
                break;
            }
            if self.rx_len == self.rx.len() {
                self.rx.resize(self.rx.len() * 2, 0);
            }
            match self.stream.read(&mut self.rx[self.rx_len..]) {
                Ok(0) => {
                    self.closed = true;
                    events.push(MemberEvent::Closed);
                }
                Ok(count) => {
                    self.rx_len += count;
                    self.consume(now_ns, events);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closed = true;
                    events.push(MemberEvent::Closed);
                }
            }
        }
    }

    fn consume(&mut self, now_ns: u64, events: &mut Vec<MemberEvent>) {
        loop {
            let consumed = self.session.handle_input(now_ns, &self.rx[..self.rx_len]);
            self.drain(events);
            if consumed == 0 {
                return;
            }
            self.rx.copy_within(consumed..self.rx_len, 0);
            self.rx_len -= consumed;
        }
    }

    fn drain(&mut self, events: &mut Vec<MemberEvent>) {
        while let Some(event) = self.session.poll_event() {
            let reported = match event {
                ClientEvent::LoginAccepted { next_seq, .. } => {
                    self.logged_in = true;
                    MemberEvent::LoggedIn { next_seq }
                }
                ClientEvent::LoginRejected(reason) => MemberEvent::LoginRejected(reason),
                ClientEvent::Sequenced { seq, start, end } => {
                    match Outbound::parse(&self.rx[start..end]) {
                        Ok(message) => MemberEvent::Message { seq, message },
                        Err(_) => MemberEvent::Unparsed { seq },
                    }
                }
                ClientEvent::EndOfSession
                | ClientEvent::TimedOut
                | ClientEvent::ProtocolError(_) => {
                    self.closed = true;
                    MemberEvent::Closed
                }
            };
            events.push(reported);
        }
    }

    /// Asks the server to end the session (the Logout Request goes out on the next flush).
    pub fn logout(&mut self) {
        self.session.logout();
        self.flush();
    }
}
