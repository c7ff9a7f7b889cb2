//! The FIX 4.4 session layer as a sans-IO state machine: Logon (with Username/Password checked
//! by the driver), heartbeats and test requests, sequence numbers both ways (too low ends the
//! session, too high asks for a resend), ResendRequest answers (the driver walks its store;
//! [`FixSession::reframe_poss_dup`] and [`FixSession::gap_fill`] frame what goes back),
//! SequenceReset (gap fill and reset), session Reject and Logout.
//!
//! Method families, as in the SoupBinTCP session: [`FixSession::handle_input`] and
//! [`FixSession::handle_timeout`] take input; [`FixSession::accept_logon`],
//! [`FixSession::reject_logon`], [`FixSession::queue_reject`] and [`FixSession::logout`] are
//! the driver's decisions; [`FixSession::poll_event`] and [`FixSession::poll_admin`] give
//! output, [`FixSession::poll_timeout`] the next deadline. Drain order per turn: events, then
//! admin messages (each framed with the next outbound MsgSeqNum: the driver stores every
//! framed message before it sends it), then application messages through
//! [`FixSession::compose_app`].
//!
//! # Invariants
//! - `next_in` only grows by one per in-sequence message, or to a SequenceReset's NewSeqNo;
//!   `next_out` grows by one per framed admin or application message and by nothing else.
//! - A message with MsgSeqNum below `next_in` is dropped when PossDupFlag=Y, else it closes the
//!   session with a Logout; a message above `next_in` is not processed (the peer resends it)
//!   and produces at most one outstanding ResendRequest.
//! - Work per `handle_input` call is bounded by [`MESSAGES_PER_CALL`] messages, and the event
//!   and admin queues are fixed arrays: nothing allocates after `new`.
//! - No input can panic the session: framing and field errors are typed and answered.

use super::codec::{
    finish_message, frame, FieldError, Fields, FrameError, RejectReason, Writer, HEADER_ROOM, SOH,
};

/// Messages handled per `handle_input` call.
pub const MESSAGES_PER_CALL: usize = 16;
/// Events queued at most (two per message: a message and a resend answer).
pub const EVENT_QUEUE_LEN: usize = 2 * MESSAGES_PER_CALL + 4;
const ADMIN_QUEUE_LEN: usize = 2 * MESSAGES_PER_CALL + 8;
/// Longest CompID, Username, Password, TestReqID kept.
pub const TEXT_MAX: usize = 32;
/// Time to wait for the Logon after connecting.
pub const LOGON_TIMEOUT_NS: u64 = 10_000_000_000;

const _: () = assert!(EVENT_QUEUE_LEN >= 2 * MESSAGES_PER_CALL);

/// A short ASCII identifier (CompID, Username, Password, TestReqID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    bytes: [u8; TEXT_MAX],
    len: u8,
}

impl Text {
    pub const EMPTY: Text = Text {
        bytes: [0; TEXT_MAX],
        len: 0,
    };

    /// `None` when longer than [`TEXT_MAX`].
    pub fn new(value: &[u8]) -> Option<Text> {
        let mut text = Text::EMPTY;
        text.bytes.get_mut(..value.len())?.copy_from_slice(value);
        text.len = u8::try_from(value.len()).ok()?;
        Some(text)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// What the driver configures.
#[derive(Clone, Copy, Debug)]
pub struct SessionConfig {
    /// Our CompID: the peer's TargetCompID.
    pub comp_id: Text,
    /// Reset both sequence numbers at every Logon (as if the peer sent ResetSeqNumFlag=Y).
    pub reset_on_logon: bool,
}

/// A Logon waiting for the driver's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogonRequest {
    pub sender: Text,
    pub username: Text,
    pub password: Text,
    pub heartbeat_s: u32,
    pub reset: bool,
    pub seq: u64,
}

/// Why the session closed or refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    Frame(FrameError),
    Fields(FieldError),
    NotLogon,
    MissingSeqNum,
    SeqTooLow { expected: u64, received: u64 },
    WrongCompId,
    BadLogon,
    LogonRefused,
    LogonTimeout,
}

/// Why a session is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    LoggedOut,
    TimedOut,
    Error(ProtocolError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    AwaitingLogon,
    /// The driver judges the Logon.
    LogonPending(LogonRequest),
    Active,
    /// We sent Logout and wait for the peer's (or the timeout).
    LogoutSent,
    Closed(CloseReason),
}

/// What the session tells its driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    LogonRequested(LogonRequest),
    /// An in-sequence application message at `input[start..end]` of the last `handle_input`.
    Application {
        start: usize,
        end: usize,
        seq: u64,
    },
    /// Send stored messages `begin..=end` again (PossDupFlag=Y, admin ones as gap fills).
    ResendRequested {
        begin: u64,
        end: u64,
    },
    /// The peer rejected our message `ref_seq`.
    PeerReject {
        ref_seq: u64,
    },
    /// A message with a wrong CheckSum, skipped.
    Garbled,
    LoggedOut,
    TimedOut,
    ProtocolError(ProtocolError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AdminOut {
    Logon { reset: bool, heartbeat_s: u32 },
    Heartbeat { test_req_id: Text },
    TestRequest,
    ResendRequest { begin: u64 },
    Reject(RejectOut),
    Logout { text: &'static str },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RejectOut {
    ref_seq: u64,
    ref_tag: u32,
    ref_msg_type: Text,
    reason: RejectReason,
    text: &'static str,
}

/// A fixed-capacity FIFO.
#[derive(Debug)]
struct Queue<T: Copy, const N: usize> {
    items: [Option<T>; N],
    head: usize,
    len: usize,
}

impl<T: Copy, const N: usize> Queue<T, N> {
    fn new() -> Self {
        Queue {
            items: [None; N],
            head: 0,
            len: 0,
        }
    }

    /// `false` when full (the item is dropped; callers keep room by construction).
    fn push(&mut self, item: T) -> bool {
        if self.len == N {
            return false;
        }
        self.items[(self.head + self.len) % N] = Some(item);
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.items[self.head].take();
        self.head = (self.head + 1) % N;
        self.len -= 1;
        item
    }

    fn room(&self) -> usize {
        N - self.len
    }
}

/// One FIX connection's session.
#[derive(Debug)]
pub struct FixSession {
    config: SessionConfig,
    state: State,
    peer: Text,
    next_in: u64,
    next_out: u64,
    heartbeat_ns: u64,
    last_rx_ns: u64,
    last_tx_ns: u64,
    connected_ns: u64,
    /// When our TestRequest went out, if unanswered.
    test_request_ns: Option<u64>,
    test_request_count: u64,
    /// The highest MsgSeqNum seen above a gap we asked to be resent.
    gap_high: Option<u64>,
    events: Queue<SessionEvent, EVENT_QUEUE_LEN>,
    admin: Queue<AdminOut, ADMIN_QUEUE_LEN>,
    /// Messages dropped because a queue was full (never expected; counted for metrics).
    pub queue_overflows: u64,
}

/// Header fields of one outbound message.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    pub msg_type: &'a [u8],
    pub seq: u64,
    pub sending_ns: u64,
    /// `Some(original SendingTime)` for a possible duplicate.
    pub poss_dup: Option<&'a [u8]>,
}

fn is_admin(msg_type: &[u8]) -> bool {
    matches!(msg_type, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A")
}

impl FixSession {
    pub fn new(config: SessionConfig, now_ns: u64) -> FixSession {
        FixSession {
            config,
            state: State::AwaitingLogon,
            peer: Text::EMPTY,
            next_in: 1,
            next_out: 1,
            heartbeat_ns: 0,
            last_rx_ns: now_ns,
            last_tx_ns: now_ns,
            connected_ns: now_ns,
            test_request_ns: None,
            test_request_count: 0,
            gap_high: None,
            events: Queue::new(),
            admin: Queue::new(),
            queue_overflows: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// The next MsgSeqNum expected from the peer.
    pub fn next_in(&self) -> u64 {
        self.next_in
    }

    /// The MsgSeqNum our next message gets.
    pub fn next_out(&self) -> u64 {
        self.next_out
    }

    pub fn peer(&self) -> Text {
        self.peer
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop()
    }

    fn event(&mut self, event: SessionEvent) {
        if !self.events.push(event) {
            self.queue_overflows += 1;
        }
    }

    fn queue(&mut self, message: AdminOut) {
        if !self.admin.push(message) {
            self.queue_overflows += 1;
        }
    }

    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed(reason);
        let event = match reason {
            CloseReason::LoggedOut => SessionEvent::LoggedOut,
            CloseReason::TimedOut => SessionEvent::TimedOut,
            CloseReason::Error(error) => SessionEvent::ProtocolError(error),
        };
        self.event(event);
    }

    /// Logout with `text`, then close once it is sent.
    fn fail(&mut self, error: ProtocolError, text: &'static str) {
        self.queue(AdminOut::Logout { text });
        self.close(CloseReason::Error(error));
    }

    /// Consumes whole messages from `input`; returns the bytes consumed. Stops at a partial
    /// message, after [`MESSAGES_PER_CALL`] messages, at a Logon (until the driver decides),
    /// and when the session closes.
    pub fn handle_input(&mut self, now_ns: u64, input: &[u8]) -> usize {
        let mut at = 0;
        for _ in 0..MESSAGES_PER_CALL {
            let ready = matches!(
                self.state,
                State::AwaitingLogon | State::Active | State::LogoutSent
            );
            if !ready || self.events.room() < 2 || self.admin.room() < 4 {
                break;
            }
            match frame(&input[at..]) {
                Ok(None) => break,
                Ok(Some(len)) => {
                    self.last_rx_ns = now_ns;
                    self.on_message(now_ns, input, at, at + len);
                    at += len;
                }
                Err(FrameError::ChecksumMismatch { len, .. }) => {
                    // Garbled: skipped without consuming a sequence number.
                    self.event(SessionEvent::Garbled);
                    at += len;
                }
                Err(error) => {
                    self.fail(ProtocolError::Frame(error), "malformed message framing");
                    at = input.len();
                    break;
                }
            }
        }
        at
    }

    fn on_message(&mut self, now_ns: u64, input: &[u8], start: usize, end: usize) {
        let bytes = &input[start..end];
        let fields = match Fields::parse(bytes) {
            Ok(fields) => fields,
            Err(error) => return self.on_bad_fields(bytes, error),
        };
        let Ok(seq) = fields.required_u64(34) else {
            return self.fail(ProtocolError::MissingSeqNum, "MsgSeqNum missing");
        };
        if self.state == State::AwaitingLogon {
            // Whatever happens, the answer goes to the sender.
            self.peer = fields.get(49).and_then(Text::new).unwrap_or(self.peer);
            return self.on_logon(&fields, seq);
        }
        let comp_ok = fields.get(49) == Some(self.peer.as_bytes())
            && fields.get(56) == Some(self.config.comp_id.as_bytes());
        if !comp_ok {
            self.queue_reject(
                seq,
                49,
                fields.msg_type(),
                RejectReason::CompIdProblem,
                "CompID problem",
            );
            return self.fail(ProtocolError::WrongCompId, "CompID problem");
        }
        let msg_type = fields.msg_type();
        let poss_dup = fields.flag(43).unwrap_or(false);
        if msg_type == b"4" {
            return self.on_sequence_reset(&fields, seq);
        }
        if seq < self.next_in {
            if poss_dup {
                return;
            }
            let expected = self.next_in;
            return self.fail(
                ProtocolError::SeqTooLow {
                    expected,
                    received: seq,
                },
                "MsgSeqNum too low",
            );
        }
        if seq > self.next_in {
            return self.on_gap(&fields, seq);
        }
        self.next_in += 1;
        if self.gap_high.is_some_and(|high| self.next_in > high) {
            self.gap_high = None;
        }
        self.on_in_sequence(now_ns, &fields, start, end, seq);
    }

    /// Fields that do not parse: a session Reject naming what was wrong (the message consumes
    /// its sequence number when one can be read).
    fn on_bad_fields(&mut self, bytes: &[u8], error: FieldError) {
        if self.state == State::AwaitingLogon {
            return self.fail(ProtocolError::Fields(error), "invalid Logon");
        }
        let seq = find_seq(bytes);
        if seq == Some(self.next_in) {
            self.next_in += 1;
        }
        let ref_seq = seq.unwrap_or(self.next_in);
        self.queue_reject(ref_seq, error.tag, b"", error.reason, "invalid message");
    }

    fn on_logon(&mut self, fields: &Fields<'_>, seq: u64) {
        if fields.msg_type() != b"A" {
            return self.fail(ProtocolError::NotLogon, "first message must be Logon");
        }
        let text = |tag: u32| fields.get(tag).map_or(Some(Text::EMPTY), Text::new);
        let heartbeat = fields
            .required_u64(108)
            .ok()
            .and_then(|s| u32::try_from(s).ok());
        let encrypt = fields.get(98);
        let request = match (text(49), text(553), text(554), heartbeat, fields.flag(141)) {
            (Some(sender), Some(username), Some(password), Some(heartbeat_s), Ok(reset))
                if encrypt == Some(b"0")
                    && heartbeat_s <= 3_600
                    && fields.get(56) == Some(self.config.comp_id.as_bytes()) =>
            {
                LogonRequest {
                    sender,
                    username,
                    password,
                    heartbeat_s,
                    reset: reset || self.config.reset_on_logon,
                    seq,
                }
            }
            _ => return self.fail(ProtocolError::BadLogon, "invalid Logon"),
        };
        // The answer (Logon or Logout) goes to the sender, accepted or not.
        self.peer = request.sender;
        self.state = State::LogonPending(request);
        self.event(SessionEvent::LogonRequested(request));
    }

    /// Accepts the pending Logon with the stored sequence numbers (ignored when the Logon
    /// resets them). Returns true when both numbers were reset to 1.
    pub fn accept_logon(&mut self, now_ns: u64, next_in: u64, next_out: u64) -> bool {
        let State::LogonPending(request) = self.state else {
            return false;
        };
        assert!(next_in >= 1 && next_out >= 1);
        self.peer = request.sender;
        self.heartbeat_ns = u64::from(request.heartbeat_s) * 1_000_000_000;
        (self.next_in, self.next_out) = if request.reset {
            (1, 1)
        } else {
            (next_in, next_out)
        };
        self.state = State::Active;
        self.last_rx_ns = now_ns;
        if request.seq < self.next_in {
            let expected = self.next_in;
            self.fail(
                ProtocolError::SeqTooLow {
                    expected,
                    received: request.seq,
                },
                "MsgSeqNum too low",
            );
            return request.reset;
        }
        self.queue(AdminOut::Logon {
            reset: request.reset,
            heartbeat_s: request.heartbeat_s,
        });
        if request.seq == self.next_in {
            self.next_in += 1;
        } else {
            self.ask_resend(request.seq);
        }
        request.reset
    }

    /// Refuses the pending Logon: Logout, then close.
    pub fn reject_logon(&mut self, text: &'static str) {
        if matches!(self.state, State::LogonPending(_)) {
            self.fail(ProtocolError::LogonRefused, text);
        }
    }

    fn ask_resend(&mut self, seq: u64) {
        if self.gap_high.is_none() {
            self.queue(AdminOut::ResendRequest {
                begin: self.next_in,
            });
        }
        self.gap_high = Some(self.gap_high.unwrap_or(0).max(seq));
    }

    /// A message above `next_in`: ask for the gap; still answer a ResendRequest and a Logout.
    fn on_gap(&mut self, fields: &Fields<'_>, seq: u64) {
        match fields.msg_type() {
            b"2" => self.on_resend_request(fields, seq),
            b"5" => return self.on_logout(),
            _ => {}
        }
        self.ask_resend(seq);
    }

    fn on_sequence_reset(&mut self, fields: &Fields<'_>, seq: u64) {
        let gap_fill = fields.flag(123).unwrap_or(false);
        let Ok(new_seq) = fields.required_u64(36) else {
            return self.queue_reject(seq, 36, b"4", RejectReason::RequiredTagMissing, "NewSeqNo");
        };
        if gap_fill {
            if seq < self.next_in {
                return; // A duplicate gap fill.
            }
            if seq > self.next_in {
                return self.ask_resend(seq);
            }
        }
        if new_seq < self.next_in {
            return self.queue_reject(
                seq,
                36,
                b"4",
                RejectReason::ValueIncorrect,
                "NewSeqNo too low",
            );
        }
        self.next_in = new_seq;
        if self.gap_high.is_some_and(|high| self.next_in > high) {
            self.gap_high = None;
        }
    }

    fn on_in_sequence(
        &mut self,
        now_ns: u64,
        fields: &Fields<'_>,
        start: usize,
        end: usize,
        seq: u64,
    ) {
        match fields.msg_type() {
            b"0" => {
                if fields.get(112).is_some() {
                    self.test_request_ns = None;
                }
            }
            b"1" => {
                let id = fields.get(112).and_then(Text::new);
                match id {
                    Some(test_req_id) => self.queue(AdminOut::Heartbeat { test_req_id }),
                    None => self.queue_reject(
                        seq,
                        112,
                        b"1",
                        RejectReason::RequiredTagMissing,
                        "TestReqID",
                    ),
                }
            }
            b"2" => self.on_resend_request(fields, seq),
            b"3" => {
                let ref_seq = fields.u64_of(45).ok().flatten().unwrap_or(0);
                self.event(SessionEvent::PeerReject { ref_seq });
            }
            b"5" => self.on_logout(),
            b"A" => self.fail(ProtocolError::BadLogon, "Logon while logged on"),
            _ => self.event(SessionEvent::Application { start, end, seq }),
        }
        let _ = now_ns;
    }

    fn on_resend_request(&mut self, fields: &Fields<'_>, seq: u64) {
        let (Ok(begin), Ok(end)) = (fields.required_u64(7), fields.required_u64(16)) else {
            return self.queue_reject(
                seq,
                7,
                b"2",
                RejectReason::RequiredTagMissing,
                "BeginSeqNo/EndSeqNo",
            );
        };
        let last = self.next_out - 1;
        let end = if end == 0 || end > last { last } else { end };
        if begin == 0 || begin > end {
            return;
        }
        self.event(SessionEvent::ResendRequested { begin, end });
    }

    fn on_logout(&mut self) {
        if self.state == State::Active {
            self.queue(AdminOut::Logout { text: "" });
        }
        self.close(CloseReason::LoggedOut);
    }

    /// Queues a session Reject (tag 3) of the peer's message `ref_seq`.
    pub fn queue_reject(
        &mut self,
        ref_seq: u64,
        ref_tag: u32,
        ref_msg_type: &[u8],
        reason: RejectReason,
        text: &'static str,
    ) {
        let ref_msg_type = Text::new(ref_msg_type).unwrap_or(Text::EMPTY);
        self.queue(AdminOut::Reject(RejectOut {
            ref_seq,
            ref_tag,
            ref_msg_type,
            reason,
            text,
        }));
    }

    /// Server-initiated end: Logout, then wait for the peer's Logout (or a timeout).
    pub fn logout(&mut self, text: &'static str) {
        match self.state {
            State::Active => {
                self.queue(AdminOut::Logout { text });
                self.state = State::LogoutSent;
            }
            State::AwaitingLogon | State::LogonPending(_) => {
                self.close(CloseReason::LoggedOut);
            }
            State::LogoutSent | State::Closed(_) => {}
        }
    }

    /// The next time [`FixSession::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::AwaitingLogon | State::LogonPending(_) => {
                Some(self.connected_ns + LOGON_TIMEOUT_NS)
            }
            State::Active | State::LogoutSent if self.heartbeat_ns > 0 => {
                let send = self.last_tx_ns + self.heartbeat_ns;
                let receive = match self.test_request_ns {
                    Some(sent_ns) => sent_ns + self.heartbeat_ns,
                    None => self.last_rx_ns + self.heartbeat_ns + self.heartbeat_ns / 5,
                };
                Some(send.min(receive))
            }
            State::Active | State::LogoutSent | State::Closed(_) => None,
        }
    }

    /// Heartbeats, test requests and timeouts due at `now_ns`.
    pub fn handle_timeout(&mut self, now_ns: u64) {
        match self.state {
            State::AwaitingLogon | State::LogonPending(_) => {
                if now_ns >= self.connected_ns + LOGON_TIMEOUT_NS {
                    self.close(CloseReason::Error(ProtocolError::LogonTimeout));
                }
            }
            State::Active | State::LogoutSent if self.heartbeat_ns > 0 => {
                if let Some(sent_ns) = self.test_request_ns {
                    if now_ns >= sent_ns + self.heartbeat_ns {
                        return self.close(CloseReason::TimedOut);
                    }
                } else if now_ns >= self.last_rx_ns + self.heartbeat_ns + self.heartbeat_ns / 5 {
                    self.test_request_ns = Some(now_ns);
                    self.queue(AdminOut::TestRequest);
                }
                if now_ns >= self.last_tx_ns + self.heartbeat_ns && self.admin.len == 0 {
                    self.queue(AdminOut::Heartbeat {
                        test_req_id: Text::EMPTY,
                    });
                }
            }
            State::Active | State::LogoutSent | State::Closed(_) => {}
        }
    }

    fn compose(
        &mut self,
        buffer: &mut [u8],
        header: &Header<'_>,
        body: impl FnOnce(&mut Writer),
    ) -> Option<usize> {
        let ids = (&self.config.comp_id, &self.peer);
        let len = compose_message(buffer, ids, header, body)?;
        self.last_tx_ns = header.sending_ns;
        Some(len)
    }

    /// Frames the next queued admin message into `buffer` with the next MsgSeqNum. The driver
    /// must store it as that sequence number before sending it. `None` when nothing is queued
    /// (or `buffer` is too small: the message stays queued).
    pub fn poll_admin(&mut self, now_ns: u64, buffer: &mut [u8]) -> Option<usize> {
        let message = self.admin.pop()?;
        let seq = self.next_out;
        let msg_type: &[u8] = match message {
            AdminOut::Logon { .. } => b"A",
            AdminOut::Heartbeat { .. } => b"0",
            AdminOut::TestRequest => b"1",
            AdminOut::ResendRequest { .. } => b"2",
            AdminOut::Reject(_) => b"3",
            AdminOut::Logout { .. } => b"5",
        };
        let header = Header {
            msg_type,
            seq,
            sending_ns: now_ns,
            poss_dup: None,
        };
        let test_request_id = self.test_request_count + 1;
        let len = self.compose(buffer, &header, |w| {
            admin_body(w, &message, test_request_id)
        });
        let Some(len) = len else {
            self.queue_overflows += 1;
            return None;
        };
        if message == AdminOut::TestRequest {
            self.test_request_count += 1;
        }
        self.next_out += 1;
        Some(len)
    }

    /// Frames an application message with the next MsgSeqNum: `body` writes the fields after
    /// the standard header. The driver stores it before sending it.
    pub fn compose_app(
        &mut self,
        now_ns: u64,
        msg_type: &[u8],
        buffer: &mut [u8],
        body: impl FnOnce(&mut Writer),
    ) -> Option<usize> {
        let header = Header {
            msg_type,
            seq: self.next_out,
            sending_ns: now_ns,
            poss_dup: None,
        };
        let len = self.compose(buffer, &header, body)?;
        self.next_out += 1;
        Some(len)
    }

    /// Frames a stored message again for a resend: same MsgSeqNum and body, PossDupFlag=Y,
    /// OrigSendingTime = its SendingTime. `None` if `stored` is not one of ours.
    pub fn reframe_poss_dup(
        &mut self,
        now_ns: u64,
        stored: &[u8],
        buffer: &mut [u8],
    ) -> Option<usize> {
        let fields = Fields::parse(stored).ok()?;
        let seq = fields.required_u64(34).ok()?;
        let original = fields.get(52)?;
        let header = Header {
            msg_type: fields.msg_type(),
            seq,
            sending_ns: now_ns,
            poss_dup: Some(original),
        };
        self.compose(buffer, &header, |writer| {
            for (tag, value) in fields.iter() {
                if !matches!(tag, 8 | 9 | 35 | 49 | 56 | 34 | 52 | 43 | 122 | 10) {
                    writer.bytes(tag, value);
                }
            }
        })
    }

    /// Frames a SequenceReset-GapFill at MsgSeqNum `seq` that moves the peer to `new_seq`.
    pub fn gap_fill(
        &mut self,
        now_ns: u64,
        seq: u64,
        new_seq: u64,
        buffer: &mut [u8],
    ) -> Option<usize> {
        let header = Header {
            msg_type: b"4",
            seq,
            sending_ns: now_ns,
            poss_dup: Some(b""),
        };
        let stamp = super::codec::utc_timestamp(now_ns);
        let header = Header {
            poss_dup: Some(&stamp),
            ..header
        };
        self.compose(buffer, &header, |writer| {
            writer.bytes(123, b"Y").u64(36, new_seq);
        })
    }
}

/// Frames one message from `ours` to `peer` (`(SenderCompID, TargetCompID)`): the standard
/// header, the fields `body` writes, BodyLength and CheckSum. For a driver that sends on a
/// user's behalf while no session is connected (messages stored for a later resend).
pub fn compose_message(
    buffer: &mut [u8],
    (ours, peer): (&Text, &Text),
    header: &Header<'_>,
    body: impl FnOnce(&mut Writer),
) -> Option<usize> {
    let room = buffer.len().checked_sub(HEADER_ROOM)?;
    let mut writer = Writer::new(&mut buffer[HEADER_ROOM..HEADER_ROOM + room]);
    writer
        .bytes(35, header.msg_type)
        .bytes(49, ours.as_bytes())
        .bytes(56, peer.as_bytes())
        .u64(34, header.seq);
    if let Some(original) = header.poss_dup {
        writer.bytes(43, b"Y");
        writer.timestamp(52, header.sending_ns);
        writer.bytes(122, original);
    } else {
        writer.timestamp(52, header.sending_ns);
    }
    body(&mut writer);
    if writer.overflowed() {
        return None;
    }
    let body_len = writer.len();
    finish_message(buffer, body_len)
}

/// Whether a stored message is a session-level one (resent as a gap fill).
pub fn is_admin_message(stored: &[u8]) -> bool {
    Fields::parse(stored).is_ok_and(|fields| is_admin(fields.msg_type()))
}

fn admin_body(writer: &mut Writer, message: &AdminOut, test_request_id: u64) {
    match message {
        AdminOut::Logon { reset, heartbeat_s } => {
            writer.u64(98, 0).u64(108, u64::from(*heartbeat_s));
            if *reset {
                writer.bytes(141, b"Y");
            }
        }
        AdminOut::Heartbeat { test_req_id } => {
            if test_req_id.len > 0 {
                writer.bytes(112, test_req_id.as_bytes());
            }
        }
        AdminOut::TestRequest => {
            writer.u64(112, test_request_id);
        }
        AdminOut::ResendRequest { begin } => {
            writer.u64(7, *begin).u64(16, 0);
        }
        AdminOut::Reject(reject) => {
            writer.u64(45, reject.ref_seq);
            if reject.ref_tag != 0 {
                writer.u64(371, u64::from(reject.ref_tag));
            }
            if reject.ref_msg_type.len > 0 {
                writer.bytes(372, reject.ref_msg_type.as_bytes());
            }
            writer.u64(373, reject.reason as u64);
            if !reject.text.is_empty() {
                writer.bytes(58, reject.text.as_bytes());
            }
        }
        AdminOut::Logout { text } => {
            if !text.is_empty() {
                writer.bytes(58, text.as_bytes());
            }
        }
    }
}

/// The MsgSeqNum of a message whose fields do not parse, if `<SOH>34=digits<SOH>` is there.
fn find_seq(bytes: &[u8]) -> Option<u64> {
    let at = bytes
        .windows(4)
        .position(|w| w == [SOH, b'3', b'4', b'='])?
        + 4;
    let rest = &bytes[at..];
    let end = rest.iter().take(19).position(|&b| b == SOH)?;
    let digits = &rest[..end];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &b| {
        value.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
