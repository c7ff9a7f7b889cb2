//! The SoupBinTCP 3.0 client session as a pure state machine, for tests and tools
//! (`peregrine client`, load generators). Same driving pattern as
//! [`crate::session::ServerSession`]: `handle_input` / `poll_event`, `handle_timeout` /
//! `poll_timeout`, `poll_transmit`, plus `send_unsequenced` to frame an application message.
//!
//! # Invariants
//! - The Login Request is the first packet written; nothing else is written before the server
//!   answers, and unsequenced data only while Active.
//! - Sequenced messages are numbered from the Login Accepted's sequence number, one each, so
//!   [`ClientSession::next_seq`] is the number to ask for on a re-login.
//! - Work per call is bounded and nothing allocates after [`ClientSession::new`]; bad input
//!   closes the session with a [`ProtocolError`] event, never a panic.

use crate::session::{
    frame_data, read_packets, PacketReader, ProtocolError, Queue, SessionConfig, TransmitError,
    EVENT_QUEUE_LEN,
};
use crate::soupbintcp::{
    Direction, Error as FramingError, LoginRejectReason, LoginRequest, Repr, HEADER_LEN,
    LOGIN_REQUEST_PAYLOAD_LEN,
};

/// Largest control packet the client writes (Login Request).
pub const CLIENT_CONTROL_PACKET_MAX: usize = HEADER_LEN + LOGIN_REQUEST_PAYLOAD_LEN;

/// Why a client session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCloseReason {
    LoginRejected(LoginRejectReason),
    EndOfSession,
    LoggedOut,
    TimedOut,
    ProtocolError(ProtocolError),
}

/// Where a client session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    AwaitingLoginAnswer,
    Active,
    Closed(ClientCloseReason),
}

/// What the client session tells its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    LoginAccepted {
        session: [u8; 10],
        next_seq: u64,
    },
    LoginRejected(LoginRejectReason),
    /// Sequenced message `seq`: `input[start..end]` of the last `handle_input` call.
    Sequenced {
        seq: u64,
        start: usize,
        end: usize,
    },
    EndOfSession,
    TimedOut,
    ProtocolError(ProtocolError),
}

/// A SoupBinTCP client session.
#[derive(Debug)]
pub struct ClientSession {
    config: SessionConfig,
    state: ClientState,
    events: Queue<ClientEvent, EVENT_QUEUE_LEN>,
    login: Option<LoginRequest>,
    heartbeat_due: bool,
    logout_due: bool,
    now_ns: u64,
    last_rx_ns: u64,
    last_tx_ns: u64,
    /// Number of the next sequenced message expected.
    next_seq: u64,
}

impl ClientSession {
    /// A session on a connection made at `now_ns`; the login goes out on the first
    /// `poll_transmit`.
    pub fn new(config: SessionConfig, now_ns: u64, login: LoginRequest) -> ClientSession {
        assert!(config.heartbeat_interval_ns > 0);
        assert!(config.peer_timeout_ns > 0);
        ClientSession {
            config,
            state: ClientState::AwaitingLoginAnswer,
            events: Queue::new(),
            login: Some(login),
            heartbeat_due: false,
            logout_due: false,
            now_ns,
            last_rx_ns: now_ns,
            last_tx_ns: now_ns,
            next_seq: login.requested_seq.max(1),
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, ClientState::Closed(_))
    }

    /// The sequence number of the next sequenced message expected: ask for it on re-login.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn close(&mut self, reason: ClientCloseReason) {
        if !self.is_closed() {
            self.state = ClientState::Closed(reason);
        }
    }

    fn fail(&mut self, error: ProtocolError) {
        self.close(ClientCloseReason::ProtocolError(error));
        self.events.push(ClientEvent::ProtocolError(error));
    }

    /// Reads whole packets from the front of `input`; returns the bytes consumed. Consumes
    /// nothing while events are pending (their ranges index the previous input).
    pub fn handle_input(&mut self, now_ns: u64, input: &[u8]) -> usize {
        // Bounded by the event queue: at most one event per packet.
        let (direction, max) = (Direction::ServerToClient, self.config.packet_length_max);
        read_packets(self, now_ns, input, direction, max)
    }

    fn on_packet(&mut self, offset: usize, packet: &[u8]) {
        let repr = match Repr::parse_bytes(packet) {
            Ok(repr) => repr,
            Err(error) => return self.fail(ProtocolError::Framing(error)),
        };
        match (self.state, repr) {
            (_, Repr::Debug(_)) | (_, Repr::ServerHeartbeat) => {}
            (ClientState::AwaitingLoginAnswer, Repr::LoginAccepted(accepted)) => {
                self.state = ClientState::Active;
                self.next_seq = accepted.next_seq;
                self.events.push(ClientEvent::LoginAccepted {
                    session: accepted.session,
                    next_seq: accepted.next_seq,
                });
            }
            (ClientState::AwaitingLoginAnswer, Repr::LoginRejected(reason)) => {
                self.close(ClientCloseReason::LoginRejected(reason));
                self.events.push(ClientEvent::LoginRejected(reason));
            }
            (ClientState::Active, Repr::SequencedData(_)) => {
                let (start, end) = (offset + HEADER_LEN, offset + packet.len());
                self.events.push(ClientEvent::Sequenced {
                    seq: self.next_seq,
                    start,
                    end,
                });
                self.next_seq += 1;
            }
            (ClientState::Active, Repr::EndOfSession) => {
                self.close(ClientCloseReason::EndOfSession);
                self.events.push(ClientEvent::EndOfSession);
            }
            (_, other) => self.fail(ProtocolError::Unexpected(other.packet_type())),
        }
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop()
    }

    /// Asks the server to end the session; the session closes once the request is written.
    pub fn logout(&mut self) {
        if self.state == ClientState::Active {
            self.logout_due = true;
        }
    }

    /// Checks the timers at `now_ns`: drops a silent server, schedules a heartbeat.
    pub fn handle_timeout(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        if self.is_closed() {
            return;
        }
        if self.now_ns.saturating_sub(self.last_rx_ns) >= self.config.peer_timeout_ns {
            self.close(ClientCloseReason::TimedOut);
            if !self.events.is_full() {
                self.events.push(ClientEvent::TimedOut);
            }
            return;
        }
        let idle_ns = self.now_ns.saturating_sub(self.last_tx_ns);
        if self.state == ClientState::Active && idle_ns >= self.config.heartbeat_interval_ns {
            self.heartbeat_due = true;
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        if self.is_closed() {
            return None;
        }
        let peer_deadline = self.last_rx_ns.saturating_add(self.config.peer_timeout_ns);
        if self.state != ClientState::Active || self.heartbeat_due {
            return Some(peer_deadline);
        }
        let heartbeat = self
            .last_tx_ns
            .saturating_add(self.config.heartbeat_interval_ns);
        Some(peer_deadline.min(heartbeat))
    }

    /// Writes the next control packet (login, heartbeat, logout) into `buffer` (at least
    /// [`CLIENT_CONTROL_PACKET_MAX`] bytes); returns its length, 0 when there is none.
    pub fn poll_transmit(&mut self, buffer: &mut [u8]) -> usize {
        assert!(
            buffer.len() >= CLIENT_CONTROL_PACKET_MAX,
            "transmit buffer too small"
        );
        let repr = if let Some(login) = self.login.take() {
            Repr::LoginRequest(login)
        } else if core::mem::take(&mut self.heartbeat_due) {
            Repr::ClientHeartbeat
        } else if core::mem::take(&mut self.logout_due) {
            self.close(ClientCloseReason::LoggedOut);
            Repr::LogoutRequest
        } else {
            return 0;
        };
        self.last_tx_ns = self.now_ns;
        repr.emit(buffer)
    }

    /// Frames an application message as Unsequenced Data into `buffer`; returns the packet
    /// length. Only while Active and after the login went out.
    pub fn send_unsequenced(
        &mut self,
        message: &[u8],
        buffer: &mut [u8],
    ) -> Result<usize, TransmitError> {
        if self.state != ClientState::Active || self.logout_due {
            return Err(TransmitError::NotWanted);
        }
        let len = frame_data(message, Repr::UnsequencedData, buffer)?;
        self.last_tx_ns = self.now_ns;
        Ok(len)
    }
}

impl PacketReader for ClientSession {
    fn advance_clock(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
    }

    fn events_pending(&self) -> bool {
        !self.events.is_empty()
    }

    fn can_read(&self) -> bool {
        !self.events.is_full() && !self.is_closed()
    }

    fn on_frame(&mut self, offset: usize, packet: &[u8]) {
        self.last_rx_ns = self.now_ns;
        self.on_packet(offset, packet);
    }

    fn on_framing_error(&mut self, error: FramingError) {
        self.fail(ProtocolError::Framing(error));
    }
}
