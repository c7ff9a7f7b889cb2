//! The snapshot server: ITCH messages over SoupBinTCP 3.0 describing the whole market at one
//! point of the feed, for subscribers that join late or lost too much to re-request.
//!
//! **What a client gets** (modelled on Nasdaq GLIMPSE 5.0): after its Login Request (any
//! username and password; requested session blank or the feed's session; requested sequence
//! number ignored), Login Accepted (session = the MoldUDP64 session, sequence number 1), then
//! one Sequenced Data packet per message:
//! 1. Stock Directory (`R`) for every instrument, by stock locate;
//! 2. Stock Trading Action (`H`) for every instrument: its status at the snapshot;
//! 3. Add Order (`A`, or `F` with attribution) for every resting order with displayed
//!    shares, instrument by instrument, bids then asks, each side in book priority (best
//!    price first, oldest first): applying them in order to an empty book gives the engine's
//!    displayed book, priority included;
//! 4. **End of Snapshot** (`G`), Peregrine's marker modelled on GLIMPSE's snapshot message:
//!    type byte `G` then the *join sequence number* in 20 ASCII digits, right-justified and
//!    space-padded (21 bytes): the MoldUDP64 sequence number of the first live message that
//!    the snapshot does not reflect. A subscriber applies live messages from that number on.
//!
//! then End of Session (`Z`), and the server closes the connection. Without a published
//! snapshot the login is rejected (`S`, session not available); the client retries later.
//!
//! **Where snapshots come from.** The node's core thread takes
//! `peregrine_engine::EngineSnapshot`s (plain data) and counts feed sequence numbers with
//! [`crate::publisher::FeedSeq`]; [`BookSnapshot::from_engine`] encodes one with the feed's
//! [`Encoder`] and [`SnapshotHandle::publish`] makes it the one new clients get. Clients
//! connected earlier finish the snapshot they started on.
//!
//! **Freshness.** A client that loads a snapshot re-requests live messages from its join
//! sequence number on, so the node must publish snapshots more often than the retransmission
//! store wraps (its `message_capacity` and `data_capacity_bytes`): a snapshot whose join
//! sequence number the store has evicted leaves a late joiner re-requesting in vain and
//! resynchronising again until a newer snapshot appears.
//!
//! Layers: [`SnapshotSession`] is one connection, sans-IO (`handle_input`, `poll_transmit`,
//! `handle_timeout`); [`run`] drives every connection over mio; [`fetch`] is the blocking
//! client.
//!
//! # Invariants
//! - A session sends, in this order and nothing else: one login answer, then (if accepted)
//!   every message of one snapshot, the End of Snapshot, End of Session.
//! - Frames are written whole into the transmit buffer; a frame never straddles two calls.
//! - The server holds at most `clients_max` connections; one more is accepted and closed at
//!   once (counted). Each connection's buffers are fixed at accept time.

use core::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use peregrine_engine::{BookAdd, EngineSnapshot, Event, InstrumentId};
use peregrine_gateway::soupbintcp::{
    parse_ascii_u64, split, Direction, LoginAccepted, LoginRejectReason, LoginRequest, Repr, Split,
};
use serde::{Deserialize, Serialize};

use crate::encoder::{EncodeError, Encoder};
use crate::itch::{MessageRepr, MESSAGE_LEN_MAX};
use crate::moldudp64::Session;
use crate::net::Clock;
use crate::service::LiveSnapshot;

/// Type byte of the End of Snapshot message.
pub const END_OF_SNAPSHOT_TYPE: u8 = b'G';
/// Bytes of the End of Snapshot message.
pub const END_OF_SNAPSHOT_LEN: usize = 21;
/// Largest SoupBinTCP packet either side sends here (length field included).
const FRAME_LEN_MAX: usize = 3 + MESSAGE_LEN_MAX;
/// Largest length field a client may send (a Login Request is the largest client packet).
const CLIENT_LENGTH_MAX: u16 = 64;

const _: () = assert!(END_OF_SNAPSHOT_LEN <= MESSAGE_LEN_MAX);

/// The End of Snapshot message: `G` + join sequence number in 20 ASCII digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EndOfSnapshotRepr {
    /// MoldUDP64 sequence number of the first live message not in the snapshot.
    pub join_seq: u64,
}

impl EndOfSnapshotRepr {
    /// Parses exactly 21 bytes; `None` for any other length, type byte or digits.
    pub fn parse(bytes: &[u8]) -> Option<EndOfSnapshotRepr> {
        if bytes.len() != END_OF_SNAPSHOT_LEN || bytes[0] != END_OF_SNAPSHOT_TYPE {
            return None;
        }
        let digits = &bytes[1..];
        // Right-justified: spaces only before the first digit, at least one digit.
        let first_digit = digits.iter().position(|&byte| byte != b' ')?;
        if !digits[first_digit..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        parse_ascii_u64(digits).map(|join_seq| EndOfSnapshotRepr { join_seq })
    }

    /// Writes exactly [`END_OF_SNAPSHOT_LEN`] bytes.
    pub fn emit(&self, bytes: &mut [u8; END_OF_SNAPSHOT_LEN]) {
        bytes.fill(b' ');
        bytes[0] = END_OF_SNAPSHOT_TYPE;
        let mut value = self.join_seq;
        let mut index = END_OF_SNAPSHOT_LEN;
        // Bounded: a u64 has at most 20 digits, and the field has 20 places.
        loop {
            index -= 1;
            bytes[index] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
    }
}

impl fmt::Display for EndOfSnapshotRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "G end of snapshot join_seq={}", self.join_seq)
    }
}

/// The market at one point of the feed, as the ITCH messages a client receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookSnapshot {
    join_seq: u64,
    messages: Vec<MessageRepr>,
}

impl BookSnapshot {
    /// Encodes an engine snapshot taken when the feed's next sequence number was `join_seq`
    /// ([`crate::publisher::FeedSeq::next_seq`] at that point); every message is stamped
    /// `timestamp_ns` (the sequencer time of the last input the snapshot reflects).
    /// Allocates; off the hot path.
    pub fn from_engine(
        encoder: &Encoder,
        engine: &EngineSnapshot,
        join_seq: u64,
        timestamp_ns: u64,
    ) -> Result<BookSnapshot, EncodeError> {
        let instrument_count = encoder.instrument_count();
        let mut messages = Vec::with_capacity(2 * instrument_count + engine.orders.len());
        for index in 0..instrument_count {
            let id = InstrumentId(u32::try_from(index).unwrap_or(u32::MAX));
            messages.push(encoder.stock_directory(timestamp_ns, id)?);
        }
        for (index, status) in engine.trading_status.iter().enumerate() {
            let id = InstrumentId(u32::try_from(index).unwrap_or(u32::MAX));
            messages.push(encoder.trading_action(timestamp_ns, id, *status)?);
        }
        for order in engine.orders.iter().filter(|order| order.displayed.0 > 0) {
            let add = Event::BookAdd(BookAdd {
                order: order.id,
                instrument: order.instrument,
                account: order.account,
                side: order.side,
                price: order.price,
                display_qty: order.displayed,
            });
            if let Some(message) = encoder.encode(timestamp_ns, &add)? {
                messages.push(message);
            }
        }
        Ok(BookSnapshot { join_seq, messages })
    }

    /// A snapshot of given messages (tests, tools).
    pub fn from_messages(join_seq: u64, messages: Vec<MessageRepr>) -> BookSnapshot {
        BookSnapshot { join_seq, messages }
    }

    pub fn join_seq(&self) -> u64 {
        self.join_seq
    }

    pub fn messages(&self) -> &[MessageRepr] {
        &self.messages
    }
}

/// The latest snapshot, shared between the node (which publishes) and the server.
#[derive(Clone, Debug, Default)]
pub struct SnapshotHandle {
    latest: Arc<Mutex<Option<Arc<BookSnapshot>>>>,
}

impl SnapshotHandle {
    pub fn new() -> SnapshotHandle {
        SnapshotHandle::default()
    }

    /// Makes `snapshot` the one new clients get.
    pub fn publish(&self, snapshot: Arc<BookSnapshot>) {
        *self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
    }

    pub fn latest(&self) -> Option<Arc<BookSnapshot>> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The server's address and limits. A `[feed.snapshot]` table in the node's TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    pub listen: SocketAddr,
    /// Connections served at once, `>= 1`.
    pub clients_max: u32,
    /// A client that has not logged in by then is dropped.
    pub login_timeout_ms: u64,
    /// A client that takes no bytes for this long is dropped.
    pub idle_timeout_ms: u64,
    /// Bytes of each connection's transmit buffer, `>= 256`.
    pub transmit_buffer_bytes: u32,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 31_003)),
            clients_max: 64,
            login_timeout_ms: 5_000,
            idle_timeout_ms: 15_000,
            transmit_buffer_bytes: 64 * 1024,
        }
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionEnd {
    /// The whole snapshot and End of Session were written.
    Complete,
    /// Login rejected (no snapshot yet, or another session asked for).
    Rejected,
    /// The client sent a malformed or unexpected packet.
    Protocol,
    /// The client logged out before the end.
    Logout,
    /// The client did not log in, or took no bytes, in time.
    Timeout,
}

#[derive(Clone, Debug)]
enum SessionState {
    AwaitLogin,
    /// Login answer written or pending; then `next_index` messages, End of Snapshot and End
    /// of Session (`next_index` runs to `messages.len() + 2`).
    Streaming {
        snapshot: Arc<BookSnapshot>,
        login_sent: bool,
        next_index: usize,
    },
    /// A Login Rejected to write, then close.
    Rejecting {
        reason: LoginRejectReason,
        sent: bool,
    },
    Closed(SessionEnd),
}

/// One snapshot connection, sans-IO.
///
/// Drain order per turn: `handle_input` with the bytes read, `poll_transmit` until it returns
/// 0 or the socket is full, `handle_timeout` at `poll_timeout`; close the socket once
/// [`end`](Self::end) is `Some` and every transmitted byte is written.
#[derive(Clone, Debug)]
pub struct SnapshotSession {
    session: Session,
    state: SessionState,
    login_deadline_ns: u64,
    idle_timeout_ns: u64,
    last_progress_ns: u64,
}

impl SnapshotSession {
    pub fn new(now_ns: u64, session: Session, config: &SnapshotConfig) -> SnapshotSession {
        SnapshotSession {
            session,
            state: SessionState::AwaitLogin,
            login_deadline_ns: now_ns
                .saturating_add(config.login_timeout_ms.saturating_mul(1_000_000)),
            idle_timeout_ns: config.idle_timeout_ms.saturating_mul(1_000_000),
            last_progress_ns: now_ns,
        }
    }

    /// Why the session ended, once it has.
    pub fn end(&self) -> Option<SessionEnd> {
        match self.state {
            SessionState::Closed(end) => Some(end),
            SessionState::AwaitLogin
            | SessionState::Streaming { .. }
            | SessionState::Rejecting { .. } => None,
        }
    }

    /// Consumes whole client packets from `stream`; returns the bytes consumed (keep the
    /// rest for the next call). `latest` gives the snapshot to serve at login.
    pub fn handle_input(
        &mut self,
        now_ns: u64,
        stream: &[u8],
        latest: impl FnOnce() -> Option<Arc<BookSnapshot>>,
    ) -> usize {
        let mut consumed = 0;
        let mut latest = Some(latest);
        // Bounded: each pass consumes one whole packet or stops.
        while self.end().is_none() {
            let frame = match split(
                &stream[consumed..],
                Direction::ClientToServer,
                CLIENT_LENGTH_MAX,
            ) {
                Ok(Split::Frame { len }) => &stream[consumed..consumed + len],
                Ok(Split::Incomplete { .. }) => break,
                Err(_) => {
                    self.state = SessionState::Closed(SessionEnd::Protocol);
                    break;
                }
            };
            consumed += frame.len();
            self.last_progress_ns = now_ns;
            match Repr::parse_bytes(frame) {
                Ok(Repr::LoginRequest(login)) => self.login(&login, latest.take()),
                Ok(Repr::ClientHeartbeat | Repr::Debug(_) | Repr::UnsequencedData(_)) => {}
                Ok(Repr::LogoutRequest) => self.state = SessionState::Closed(SessionEnd::Logout),
                Ok(_) | Err(_) => self.state = SessionState::Closed(SessionEnd::Protocol),
            }
        }
        consumed
    }

    fn login(
        &mut self,
        login: &LoginRequest,
        latest: Option<impl FnOnce() -> Option<Arc<BookSnapshot>>>,
    ) {
        if !matches!(self.state, SessionState::AwaitLogin) {
            self.state = SessionState::Closed(SessionEnd::Protocol);
            return;
        }
        let requested = login.requested_session;
        let blank = requested.iter().all(|&byte| byte == b' ');
        let ours = requested == self.session.bytes() || requested == right_justified(self.session);
        if !blank && !ours {
            self.state = SessionState::Rejecting {
                reason: LoginRejectReason::SessionNotAvailable,
                sent: false,
            };
            return;
        }
        self.state = match latest.and_then(|latest| latest()) {
            Some(snapshot) => SessionState::Streaming {
                snapshot,
                login_sent: false,
                next_index: 0,
            },
            None => SessionState::Rejecting {
                reason: LoginRejectReason::SessionNotAvailable,
                sent: false,
            },
        };
    }

    /// Writes as many whole packets as fit into `buffer`; returns the bytes written (0 when
    /// there is nothing to send now).
    pub fn poll_transmit(&mut self, buffer: &mut [u8]) -> usize {
        let mut written = 0;
        // Bounded: each pass writes one packet or stops.
        while buffer.len() - written >= FRAME_LEN_MAX {
            let Some(len) = self.next_frame(&mut buffer[written..]) else {
                break;
            };
            written += len;
        }
        written
    }

    /// Writes the next packet into `buffer` (at least `FRAME_LEN_MAX` bytes) and advances.
    fn next_frame(&mut self, buffer: &mut [u8]) -> Option<usize> {
        let session = self.session;
        match &mut self.state {
            SessionState::AwaitLogin | SessionState::Closed(_) => None,
            SessionState::Rejecting { reason, sent } => {
                if *sent {
                    self.state = SessionState::Closed(SessionEnd::Rejected);
                    return None;
                }
                *sent = true;
                Some(Repr::LoginRejected(*reason).emit(buffer))
            }
            SessionState::Streaming {
                snapshot,
                login_sent,
                next_index,
            } => {
                if !*login_sent {
                    *login_sent = true;
                    let accepted = LoginAccepted {
                        session: session.bytes(),
                        next_seq: 1,
                    };
                    return Some(Repr::LoginAccepted(accepted).emit(buffer));
                }
                let messages = snapshot.messages();
                let index = *next_index;
                *next_index += 1;
                if let Some(message) = messages.get(index) {
                    let mut bytes = [0u8; MESSAGE_LEN_MAX];
                    let len = message.buffer_len();
                    message.emit(&mut bytes[..len]);
                    return Some(Repr::SequencedData(&bytes[..len]).emit(buffer));
                }
                if index == messages.len() {
                    let mut bytes = [0u8; END_OF_SNAPSHOT_LEN];
                    EndOfSnapshotRepr {
                        join_seq: snapshot.join_seq(),
                    }
                    .emit(&mut bytes);
                    return Some(Repr::SequencedData(&bytes).emit(buffer));
                }
                assert_eq!(index, messages.len() + 1);
                self.state = SessionState::Closed(SessionEnd::Complete);
                Some(Repr::EndOfSession.emit(buffer))
            }
        }
    }

    /// The transmit buffer was drained to the socket: the client is making progress.
    pub fn handle_written(&mut self, now_ns: u64) {
        self.last_progress_ns = now_ns;
    }

    /// Deadline for [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            SessionState::AwaitLogin => Some(self.login_deadline_ns),
            SessionState::Streaming { .. } | SessionState::Rejecting { .. } => {
                Some(self.last_progress_ns.saturating_add(self.idle_timeout_ns))
            }
            SessionState::Closed(_) => None,
        }
    }

    pub fn handle_timeout(&mut self, now_ns: u64) {
        if self
            .poll_timeout()
            .is_some_and(|deadline_ns| now_ns >= deadline_ns)
        {
            self.state = SessionState::Closed(SessionEnd::Timeout);
        }
    }
}

/// A session name right-justified, as SoupBinTCP clients commonly send it.
fn right_justified(session: Session) -> [u8; 10] {
    let trimmed = session.trimmed().as_bytes();
    let mut bytes = [b' '; 10];
    bytes[10 - trimmed.len()..].copy_from_slice(trimmed);
    bytes
}

/// What the server did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotCounters {
    pub accepted: u64,
    /// Connections closed at once because `clients_max` were open.
    pub refused: u64,
    pub complete: u64,
    pub rejected: u64,
    pub protocol_errors: u64,
    pub logouts: u64,
    pub timeouts: u64,
    /// Connections lost to a socket error.
    pub io_errors: u64,
}

impl SnapshotCounters {
    fn note(&mut self, end: Option<SessionEnd>) {
        let counter = match end {
            Some(SessionEnd::Complete) => &mut self.complete,
            Some(SessionEnd::Rejected) => &mut self.rejected,
            Some(SessionEnd::Protocol) => &mut self.protocol_errors,
            Some(SessionEnd::Logout) => &mut self.logouts,
            Some(SessionEnd::Timeout) => &mut self.timeouts,
            None => &mut self.io_errors,
        };
        *counter += 1;
    }
}

mod driver;
pub use driver::{run, run_observed};

mod client;
pub use client::{fetch, FetchError, Fetched};

#[cfg(test)]
mod tests;
