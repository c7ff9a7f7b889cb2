//! The SoupBinTCP 3.0 server session as a pure state machine (sans-IO, after quinn-proto's
//! `Connection`): no socket, no clock, no store of its own.
//!
//! Drive it like this, on every wake-up:
//! 1. `handle_input(now_ns, bytes)` with the bytes received (unconsumed ones first); it returns
//!    how many it consumed (whole packets only). Then drain `poll_event()`:
//!    [`SessionEvent::Message`] ranges index the slice given to that `handle_input` call, so
//!    drain before dropping or moving those bytes. While events are pending, `handle_input`
//!    consumes nothing.
//! 2. On [`SessionEvent::LoginRequested`], authenticate and call `accept_login` (with the
//!    sequence number to start from: [`crate::store::RingStore::resolve_requested_seq`] shows
//!    the rule) or `reject_login`.
//! 3. `handle_timeout(now_ns)` when the time from `poll_timeout()` has come.
//! 4. Write out: `poll_transmit(buf)` until it returns 0 (login answer, heartbeat, end of
//!    session), then while `sequenced_wanted()` is `Some(seq)` and the store has message `seq`,
//!    `transmit_sequenced(seq, message, buf)`. Appending live messages to the store is all it
//!    takes to send them; a re-login replays from the store the same way.
//! 5. When `is_closed()` and `poll_transmit` returns 0, close the socket.
//!
//! # Invariants
//! - The state only moves forward: AwaitingLogin → LoginPending → Active → Closed (or to Closed
//!   from any state). Nothing is read once Closed or while a login decision is pending.
//! - Sequenced messages go out in order, each exactly once per login, starting at the number
//!   given to `accept_login`, and only after the Login Accepted packet.
//! - Work per call is bounded: `handle_input` handles at most [`EVENT_QUEUE_LEN`] packets,
//!   every other call does O(1) work. Nothing allocates after [`ServerSession::new`].
//! - Bad input is never a panic: framing errors and packets out of place close the session
//!   with a [`ProtocolError`] event. Only caller mistakes (a buffer too small for a control
//!   packet, accepting a login nobody requested) panic.

use core::fmt;

use crate::soupbintcp::{
    split, Direction, Error as FramingError, LoginAccepted, LoginRejectReason, LoginRequest,
    PacketType, Repr, Split, HEADER_LEN, PAYLOAD_MAX,
};

/// Most events held at once; `handle_input` stops reading when the queue is full.
pub const EVENT_QUEUE_LEN: usize = 16;
/// Largest control packet the session writes (Login Accepted): `poll_transmit` needs this much.
pub const CONTROL_PACKET_MAX: usize = HEADER_LEN + crate::soupbintcp::LOGIN_ACCEPTED_PAYLOAD_LEN;

const NS_PER_S: u64 = 1_000_000_000;

/// Timers and limits of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Send a heartbeat after this long without sending anything.
    pub heartbeat_interval_ns: u64,
    /// Drop the peer after this long without receiving a whole packet (login included).
    pub peer_timeout_ns: u64,
    /// Largest length field accepted from the peer (type byte included).
    pub packet_length_max: u16,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            heartbeat_interval_ns: NS_PER_S,
            peer_timeout_ns: 15 * NS_PER_S,
            packet_length_max: 1024,
        }
    }
}

/// Why the peer broke the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// Bytes that are not a SoupBinTCP packet for this direction.
    Framing(FramingError),
    /// A valid packet at the wrong time (data before login, a second login, ...).
    Unexpected(PacketType),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Framing(error) => write!(f, "framing: {error}"),
            ProtocolError::Unexpected(packet) => write!(f, "unexpected {packet}"),
        }
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    LoggedOut,
    TimedOut,
    LoginRejected(LoginRejectReason),
    EndOfSession,
    ProtocolError(ProtocolError),
}

/// Where a server session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Connected; the first packet must be a Login Request.
    AwaitingLogin,
    /// A Login Request was reported; waiting for `accept_login` or `reject_login`.
    LoginPending,
    Active,
    Closed(CloseReason),
}

/// What the server session tells its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    LoginRequested(LoginRequest),
    /// An Unsequenced Data payload: `input[start..end]` of the last `handle_input` call.
    Message {
        start: usize,
        end: usize,
    },
    LoggedOut,
    TimedOut,
    ProtocolError(ProtocolError),
}

/// Why `transmit_sequenced` wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransmitError {
    /// The session is not sending sequenced messages now (see `sequenced_wanted`).
    NotWanted,
    /// Not the sequence number the session wants next.
    WrongSequence { wanted: u64, given: u64 },
    /// The message does not fit in one packet.
    TooLong,
    /// The output buffer is smaller than the packet.
    BufferTooSmall { needed: usize },
}

/// A fixed ring of `Copy` items.
#[derive(Debug)]
pub(crate) struct Queue<T: Copy, const N: usize> {
    items: [Option<T>; N],
    head: usize,
    len: usize,
}

impl<T: Copy, const N: usize> Queue<T, N> {
    pub(crate) fn new() -> Self {
        Queue {
            items: [None; N],
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == N
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push(&mut self, item: T) {
        assert!(
            !self.is_full(),
            "callers stop reading when the queue is full"
        );
        self.items[(self.head + self.len) % N] = Some(item);
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.items[self.head].take();
        self.head = (self.head + 1) % N;
        self.len -= 1;
        item
    }
}

/// The control packets waiting to be written, in the order they go out.
#[derive(Clone, Copy, Debug, Default)]
struct Outgoing {
    login_answer: Option<Result<LoginAccepted, LoginRejectReason>>,
    heartbeat: bool,
    end_of_session: bool,
}

/// The packet handling a session gives [`read_packets`]: the part of `handle_input` that
/// differs between the server and the client session.
pub(crate) trait PacketReader {
    /// Moves the session clock to `now_ns` (never backwards).
    fn advance_clock(&mut self, now_ns: u64);
    /// Whether events from the previous input are still waiting to be drained.
    fn events_pending(&self) -> bool;
    /// Whether another packet may be read now (room for its event, a state that reads).
    fn can_read(&self) -> bool;
    /// Handles the whole packet `packet`, found at `offset` of the input.
    fn on_frame(&mut self, offset: usize, packet: &[u8]);
    /// Closes the session on a framing error.
    fn on_framing_error(&mut self, error: FramingError);
}

/// The whole of `handle_input` for both sessions: at `now_ns`, splits whole packets (sent in
/// `direction`) off the front of `input` and hands each to `reader` while it can read;
/// returns the bytes consumed. Consumes nothing while events are pending (their ranges index
/// the previous input); stops at an incomplete packet or the first framing error.
pub(crate) fn read_packets<R: PacketReader>(
    reader: &mut R,
    now_ns: u64,
    input: &[u8],
    direction: Direction,
    packet_length_max: u16,
) -> usize {
    reader.advance_clock(now_ns);
    if reader.events_pending() {
        return 0;
    }
    let mut consumed = 0;
    while reader.can_read() {
        let rest = &input[consumed..];
        match split(rest, direction, packet_length_max) {
            Ok(Split::Incomplete { .. }) => break,
            Ok(Split::Frame { len }) => {
                reader.on_frame(consumed, &rest[..len]);
                consumed += len;
            }
            Err(error) => {
                reader.on_framing_error(error);
                break;
            }
        }
    }
    consumed
}

/// Frames `message` as the data packet `packet` makes of it (`Repr::SequencedData` or
/// `Repr::UnsequencedData`) into `buffer`; returns the packet length. The framing both
/// sessions share for application messages.
pub(crate) fn frame_data<'a>(
    message: &'a [u8],
    packet: fn(&'a [u8]) -> Repr<'a>,
    buffer: &mut [u8],
) -> Result<usize, TransmitError> {
    if message.len() > PAYLOAD_MAX {
        return Err(TransmitError::TooLong);
    }
    let repr = packet(message);
    let needed = repr.buffer_len();
    if buffer.len() < needed {
        return Err(TransmitError::BufferTooSmall { needed });
    }
    Ok(repr.emit(buffer))
}

/// A SoupBinTCP server session.
#[derive(Debug)]
pub struct ServerSession {
    config: SessionConfig,
    state: SessionState,
    events: Queue<SessionEvent, EVENT_QUEUE_LEN>,
    outgoing: Outgoing,
    /// The latest time the owner gave us.
    now_ns: u64,
    /// When the last whole packet arrived (connection time before the first).
    last_rx_ns: u64,
    /// When the last packet was written.
    last_tx_ns: u64,
    /// Next sequenced message to send; meaningful once Active.
    next_seq: u64,
    /// The Login Accepted packet has been written.
    login_sent: bool,
}

impl ServerSession {
    /// A session for a connection accepted at `now_ns`.
    pub fn new(config: SessionConfig, now_ns: u64) -> ServerSession {
        assert!(config.heartbeat_interval_ns > 0);
        assert!(config.peer_timeout_ns > 0);
        ServerSession {
            config,
            state: SessionState::AwaitingLogin,
            events: Queue::new(),
            outgoing: Outgoing::default(),
            now_ns,
            last_rx_ns: now_ns,
            last_tx_ns: now_ns,
            next_seq: 1,
            login_sent: false,
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, SessionState::Closed(_))
    }

    /// The sequence number of the next sequenced message this session will send.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn close(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.state = SessionState::Closed(reason);
        }
    }

    fn fail(&mut self, error: ProtocolError) {
        self.close(CloseReason::ProtocolError(error));
        self.events.push(SessionEvent::ProtocolError(error));
    }

    /// Reads whole packets from the front of `input`; returns the bytes consumed. See the
    /// module docs for the event-draining rule.
    pub fn handle_input(&mut self, now_ns: u64, input: &[u8]) -> usize {
        // Pending Message ranges index the previous input: nothing is read until they are
        // drained. Bounded by the event queue: each packet yields at most one event, and
        // reading also stops at the first packet that needs the owner (login) or ends the
        // session.
        let (direction, max) = (Direction::ClientToServer, self.config.packet_length_max);
        read_packets(self, now_ns, input, direction, max)
    }

    fn on_packet(&mut self, offset: usize, packet: &[u8]) {
        let repr = match Repr::parse_bytes(packet) {
            Ok(repr) => repr,
            Err(error) => return self.fail(ProtocolError::Framing(error)),
        };
        match (self.state, repr) {
            (_, Repr::Debug(_)) => {}
            (SessionState::AwaitingLogin, Repr::LoginRequest(request)) => {
                self.state = SessionState::LoginPending;
                self.events.push(SessionEvent::LoginRequested(request));
            }
            (SessionState::Active, Repr::UnsequencedData(_)) => {
                let start = offset + HEADER_LEN;
                self.events.push(SessionEvent::Message {
                    start,
                    end: offset + packet.len(),
                });
            }
            (SessionState::Active, Repr::ClientHeartbeat) => {}
            (SessionState::Active, Repr::LogoutRequest) => {
                self.close(CloseReason::LoggedOut);
                self.events.push(SessionEvent::LoggedOut);
            }
            (_, other) => self.fail(ProtocolError::Unexpected(other.packet_type())),
        }
    }

    /// Accepts the pending login: the session is `session` and sequenced messages start at
    /// `next_seq` (at least 1).
    pub fn accept_login(&mut self, session: [u8; 10], next_seq: u64) {
        assert_eq!(self.state, SessionState::LoginPending, "no login to accept");
        assert!(next_seq >= 1);
        self.state = SessionState::Active;
        self.next_seq = next_seq;
        self.outgoing.login_answer = Some(Ok(LoginAccepted { session, next_seq }));
    }

    /// Refuses the pending login; the session closes once the answer is written.
    pub fn reject_login(&mut self, reason: LoginRejectReason) {
        assert_eq!(self.state, SessionState::LoginPending, "no login to reject");
        self.close(CloseReason::LoginRejected(reason));
        self.outgoing.login_answer = Some(Err(reason));
    }

    /// Ends the session: an End of Session packet goes out and no more sequenced messages.
    pub fn end_session(&mut self) {
        if self.state == SessionState::Active {
            self.outgoing.end_of_session = true;
            self.close(CloseReason::EndOfSession);
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop()
    }

    /// Checks the timers at `now_ns`: drops a silent peer, schedules a heartbeat.
    pub fn handle_timeout(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        if self.is_closed() || self.state == SessionState::LoginPending {
            return;
        }
        if self.now_ns.saturating_sub(self.last_rx_ns) >= self.config.peer_timeout_ns {
            self.close(CloseReason::TimedOut);
            if !self.events.is_full() {
                self.events.push(SessionEvent::TimedOut);
            }
            return;
        }
        let idle_ns = self.now_ns.saturating_sub(self.last_tx_ns);
        if self.state == SessionState::Active && idle_ns >= self.config.heartbeat_interval_ns {
            self.outgoing.heartbeat = true;
        }
    }

    /// When `handle_timeout` should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.is_closed() || self.state == SessionState::LoginPending {
            return None;
        }
        let peer_deadline = self.last_rx_ns.saturating_add(self.config.peer_timeout_ns);
        if self.state != SessionState::Active || self.outgoing.heartbeat {
            return Some(peer_deadline);
        }
        let heartbeat = self
            .last_tx_ns
            .saturating_add(self.config.heartbeat_interval_ns);
        Some(peer_deadline.min(heartbeat))
    }

    /// Writes the next control packet into `buffer` (at least [`CONTROL_PACKET_MAX`] bytes);
    /// returns its length, 0 when there is none.
    pub fn poll_transmit(&mut self, buffer: &mut [u8]) -> usize {
        assert!(
            buffer.len() >= CONTROL_PACKET_MAX,
            "transmit buffer too small"
        );
        let repr = if let Some(answer) = self.outgoing.login_answer.take() {
            self.login_sent = answer.is_ok();
            match answer {
                Ok(accepted) => Repr::LoginAccepted(accepted),
                Err(reason) => Repr::LoginRejected(reason),
            }
        } else if core::mem::take(&mut self.outgoing.heartbeat) {
            Repr::ServerHeartbeat
        } else if core::mem::take(&mut self.outgoing.end_of_session) {
            Repr::EndOfSession
        } else {
            return 0;
        };
        self.last_tx_ns = self.now_ns;
        repr.emit(buffer)
    }

    /// The sequence number the session would send next, when it is sending: Active, the Login
    /// Accepted already written, no control packet waiting.
    pub fn sequenced_wanted(&self) -> Option<u64> {
        let control_waiting = self.outgoing.login_answer.is_some() || self.outgoing.heartbeat;
        (self.state == SessionState::Active && self.login_sent && !control_waiting)
            .then_some(self.next_seq)
    }

    /// Writes sequenced message `seq` (which must be `sequenced_wanted()`) as a Sequenced Data
    /// packet into `buffer`; returns the packet length.
    pub fn transmit_sequenced(
        &mut self,
        seq: u64,
        message: &[u8],
        buffer: &mut [u8],
    ) -> Result<usize, TransmitError> {
        let wanted = self.sequenced_wanted().ok_or(TransmitError::NotWanted)?;
        if seq != wanted {
            return Err(TransmitError::WrongSequence { wanted, given: seq });
        }
        let len = frame_data(message, Repr::SequencedData, buffer)?;
        self.next_seq += 1;
        self.last_tx_ns = self.now_ns;
        Ok(len)
    }
}

impl PacketReader for ServerSession {
    fn advance_clock(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
    }

    fn events_pending(&self) -> bool {
        !self.events.is_empty()
    }

    fn can_read(&self) -> bool {
        !self.events.is_full()
            && matches!(
                self.state,
                SessionState::AwaitingLogin | SessionState::Active
            )
    }

    fn on_frame(&mut self, offset: usize, packet: &[u8]) {
        self.last_rx_ns = self.now_ns;
        self.on_packet(offset, packet);
    }

    fn on_framing_error(&mut self, error: FramingError) {
        self.fail(ProtocolError::Framing(error));
    }
}
