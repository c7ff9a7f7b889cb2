//! The subscriber's network client: joins the multicast group, decodes packets in sequence
//! order ([`Subscriber`]), re-requests gaps from the re-request server with a timeout and
//! retries, can join late (or recover) from the snapshot server, and keeps an order-by-order
//! [`Book`] of every instrument.
//!
//! [`FeedClient::poll_once`] is one turn: wait (at most the given time) for datagrams on the
//! multicast socket and on the unicast socket that re-request answers come back to, handle
//! all of them, then decide about requests:
//! - a gap and no request outstanding: ask for the start of the gap (at most
//!   `request_count_max` messages);
//! - the outstanding request fully answered: ask for what is still missing, if anything;
//! - partly answered: wait on, the timeout restarts with each advance;
//! - no advance for `request_timeout_ms`: ask again, up to `request_retry_max` times in a
//!   row (any advance resets the count); then
//!   the request is abandoned (the store may have evicted the range: MoldUDP64 has no NAK) and,
//!   with a snapshot server configured, the client re-synchronises from a fresh snapshot
//!   ([`FeedClient::resync`]); without one it starts a new round of requests.
//!
//! **Loss injection.** A [`DropHook`] sees every datagram before it is decoded and may drop it
//! (tests inject loss with it; nothing else in the client knows).
//!
//! # Invariants
//! - The book only ever receives messages in sequence order with no gap (the subscriber's
//!   guarantee); after [`FeedClient::resync`] it holds exactly the snapshot, then live
//!   messages from the snapshot's join sequence number.
//! - At most one request is outstanding; each is resent at most `request_retry_max` times.
//! - Buffers are allocated at construction (and a new book at a resync); handling packets
//!   allocates nothing.

use core::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use serde::{Deserialize, Serialize};

use crate::book::{Book, BookConfig, BookError};
use crate::moldudp64::{Request, Session};
use crate::net::{multicast_receiver, unicast_socket, Clock, MulticastConfig};
use crate::snapshot::{fetch, FetchError};
use crate::subscriber::{DropReason, PacketOutcome, Subscriber};

const MULTICAST: Token = Token(0);
const ANSWERS: Token = Token(1);
/// The largest UDP payload.
const DATAGRAM_BYTES_MAX: usize = 65_536;

/// Where the feed is and how hard to try. A `[feed.subscriber]` table, or the tap's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubscriberNetConfig {
    pub multicast: MulticastConfig,
    /// The re-request server.
    pub rerequest: SocketAddr,
    /// The snapshot server (late join and recovery), if any.
    pub snapshot: Option<SocketAddr>,
    /// Local address the request socket binds (port 0 picks one).
    pub request_bind: SocketAddr,
    pub request_timeout_ms: u64,
    pub request_retry_max: u32,
    /// Most messages asked for in one request, `>= 1`.
    pub request_count_max: u16,
    /// Bounds each read and write of a snapshot fetch.
    pub snapshot_timeout_ms: u64,
}

impl Default for SubscriberNetConfig {
    fn default() -> Self {
        SubscriberNetConfig {
            multicast: MulticastConfig::default(),
            rerequest: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 31_002)),
            snapshot: Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::LOCALHOST,
                31_003,
            ))),
            request_bind: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
            request_timeout_ms: 100,
            request_retry_max: 5,
            request_count_max: 1_000,
            snapshot_timeout_ms: 5_000,
        }
    }
}

/// Which socket a datagram came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketSource {
    Multicast,
    /// An answer from the re-request server.
    Rerequest,
}

/// Decides, per datagram, whether to drop it before decoding (`true` = drop).
pub type DropHook = Box<dyn FnMut(PacketSource, &[u8]) -> bool + Send>;

/// Why the client stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    Io(io::ErrorKind),
    Snapshot(FetchError),
    /// The snapshot's Login Accepted named a session that is not printable ASCII.
    BadSession,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(kind) => write!(f, "feed client socket: {kind}"),
            ClientError::Snapshot(error) => write!(f, "{error}"),
            ClientError::BadSession => write!(f, "snapshot named an invalid session"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> Self {
        ClientError::Io(error.kind())
    }
}

/// One counter per thing that happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCounters {
    pub datagrams_multicast: u64,
    pub datagrams_rerequest: u64,
    pub dropped_by_hook: u64,
    /// Packets that revealed a gap.
    pub gaps: u64,
    pub requests_sent: u64,
    /// Requests sent again after a timeout.
    pub request_retries: u64,
    /// Requests given up after `request_retry_max` retries.
    pub requests_abandoned: u64,
    pub resyncs: u64,
    /// Resyncs that failed (the client goes on re-requesting).
    pub resync_failures: u64,
    /// Messages the book refused (never expected from a correct feed).
    pub book_errors: u64,
    /// Multicast packets of a session other than the one followed.
    pub wrong_session: u64,
    /// Resyncs that moved the client to a new session.
    pub session_changes: u64,
}

#[derive(Clone, Copy, Debug)]
struct Outstanding {
    /// The request's range.
    first_seq: u64,
    count: u16,
    /// Expected sequence number when it was sent or last advanced.
    progress_seq: u64,
    since_ns: u64,
    retries: u32,
}

/// The client.
pub struct FeedClient {
    config: SubscriberNetConfig,
    book_config: BookConfig,
    multicast: UdpSocket,
    answers: UdpSocket,
    poll: Poll,
    events: Events,
    buffer: Box<[u8]>,
    subscriber: Subscriber,
    book: Book,
    drop_hook: Option<DropHook>,
    outstanding: Option<Outstanding>,
    counters: ClientCounters,
    last_book_error: Option<(u64, BookError)>,
    last_resync_error: Option<ClientError>,
    /// A packet of another session arrived and no resync has succeeded since.
    session_change_pending: bool,
    /// When the last resync for a session change was tried.
    session_resync_ns: u64,
    clock: Clock,
}

impl fmt::Debug for FeedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedClient")
            .field("expected_seq", &self.subscriber.expected_seq())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl FeedClient {
    /// Joins the group and follows the session from sequence number 1 (a client that joins
    /// after the start re-requests the beginning, as far as the store holds it).
    pub fn join(
        config: &SubscriberNetConfig,
        book_config: BookConfig,
    ) -> Result<FeedClient, ClientError> {
        let multicast = multicast_receiver(&config.multicast)?;
        let answers = unicast_socket(config.request_bind, config.multicast.socket_buffer_bytes)?;
        multicast.set_nonblocking(true)?;
        answers.set_nonblocking(true)?;
        let mut multicast = UdpSocket::from_std(multicast);
        let mut answers = UdpSocket::from_std(answers);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut multicast, MULTICAST, Interest::READABLE)?;
        poll.registry()
            .register(&mut answers, ANSWERS, Interest::READABLE)?;
        Ok(FeedClient {
            config: *config,
            book_config,
            multicast,
            answers,
            poll,
            events: Events::with_capacity(64),
            buffer: vec![0u8; DATAGRAM_BYTES_MAX].into_boxed_slice(),
            subscriber: Subscriber::new(None, 1),
            book: Book::new(book_config),
            drop_hook: None,
            outstanding: None,
            counters: ClientCounters::default(),
            last_book_error: None,
            last_resync_error: None,
            session_change_pending: false,
            session_resync_ns: 0,
            clock: Clock::new(),
        })
    }

    /// Joins the group first (so live packets queue up), then loads the snapshot and follows
    /// the session from the snapshot's join sequence number.
    pub fn join_late(
        config: &SubscriberNetConfig,
        book_config: BookConfig,
    ) -> Result<FeedClient, ClientError> {
        let mut client = FeedClient::join(config, book_config)?;
        client.resync()?;
        Ok(client)
    }

    /// Replaces the book with a fresh snapshot and follows the session from its join
    /// sequence number. Needs a snapshot server in the configuration (else `NotFound`).
    pub fn resync(&mut self) -> Result<(), ClientError> {
        let addr = self
            .config
            .snapshot
            .ok_or(ClientError::Io(io::ErrorKind::NotFound))?;
        let mut book = Book::new(self.book_config);
        let mut errors = 0u64;
        let timeout = Duration::from_millis(self.config.snapshot_timeout_ms.max(1));
        let fetched = fetch(addr, timeout, |message| {
            if book.apply(message).is_err() {
                errors += 1;
            }
        })
        .map_err(ClientError::Snapshot)?;
        let session = Session::new(fetched.session).ok_or(ClientError::BadSession)?;
        self.book = book;
        self.subscriber = Subscriber::new(Some(session), fetched.join_seq);
        self.outstanding = None;
        self.counters.book_errors += errors;
        self.counters.resyncs += 1;
        Ok(())
    }

    pub fn set_drop_hook(&mut self, hook: DropHook) {
        self.drop_hook = Some(hook);
    }

    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn subscriber(&self) -> &Subscriber {
        &self.subscriber
    }

    pub fn counters(&self) -> &ClientCounters {
        &self.counters
    }

    /// Sequence number and reason of the last message the book refused.
    pub fn last_book_error(&self) -> Option<(u64, BookError)> {
        self.last_book_error
    }

    /// Why the last automatic resync failed.
    pub fn last_resync_error(&self) -> Option<ClientError> {
        self.last_resync_error
    }

    /// Whether the session has ended and every message up to its end was applied.
    pub fn is_complete(&self) -> bool {
        self.subscriber.is_ended() && self.subscriber.gap().is_none()
    }

    /// One turn: handle what arrives within `timeout`, then manage re-requests.
    pub fn poll_once(&mut self, timeout: Duration) -> Result<(), ClientError> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
        // Both sockets are drained every turn (readiness is edge-triggered).
        self.drain(PacketSource::Multicast)?;
        self.drain(PacketSource::Rerequest)?;
        let now_ns = self.clock.now_ns();
        if self.session_change_pending && self.config.snapshot.is_some() {
            self.follow_new_session(now_ns);
        }
        let abandoned = self.manage_requests(now_ns)?;
        if abandoned && self.config.snapshot.is_some() {
            // A failed resync (no snapshot yet, server down) is not fatal: the next turn
            // starts a new round of requests, and the next abandon tries the snapshot again.
            if let Err(error) = self.resync() {
                self.counters.resync_failures += 1;
                self.last_resync_error = Some(error);
            }
        }
        Ok(())
    }

    /// Re-synchronises from the snapshot server after packets of another session, at most
    /// once per `request_timeout_ms` until it succeeds.
    fn follow_new_session(&mut self, now_ns: u64) {
        let retry_ns = self.config.request_timeout_ms.saturating_mul(1_000_000);
        if self.session_resync_ns != 0 && now_ns.saturating_sub(self.session_resync_ns) < retry_ns {
            return;
        }
        self.session_resync_ns = now_ns;
        let before = self.subscriber.session();
        match self.resync() {
            Ok(()) => {
                self.session_change_pending = false;
                if self.subscriber.session() != before {
                    self.counters.session_changes += 1;
                }
            }
            Err(error) => {
                self.counters.resync_failures += 1;
                self.last_resync_error = Some(error);
            }
        }
    }

    /// Turns until `done` says so or `limit` has passed; returns whether `done` was met.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&FeedClient) -> bool,
    ) -> Result<bool, ClientError> {
        let limit_ns = self
            .clock
            .now_ns()
            .saturating_add(u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX));
        // Bounded by the time limit.
        while !done(self) {
            if self.clock.now_ns() >= limit_ns {
                return Ok(false);
            }
            self.poll_once(Duration::from_millis(10))?;
        }
        Ok(true)
    }

    fn drain(&mut self, source: PacketSource) -> Result<(), ClientError> {
        // Bounded per turn: at most one socket buffer's worth arrives between turns, and a
        // hard cap keeps a flood from starving the request logic.
        for _ in 0..100_000 {
            let socket = match source {
                PacketSource::Multicast => &self.multicast,
                PacketSource::Rerequest => &self.answers,
            };
            let len = match socket.recv_from(&mut self.buffer) {
                Ok((len, _)) => len,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            };
            self.handle_datagram(source, len);
        }
        Ok(())
    }

    fn handle_datagram(&mut self, source: PacketSource, len: usize) {
        let bytes = &self.buffer[..len];
        match source {
            PacketSource::Multicast => self.counters.datagrams_multicast += 1,
            PacketSource::Rerequest => self.counters.datagrams_rerequest += 1,
        }
        if let Some(hook) = self.drop_hook.as_mut() {
            if hook(source, bytes) {
                self.counters.dropped_by_hook += 1;
                return;
            }
        }
        let (book, counters, last_error) = (
            &mut self.book,
            &mut self.counters,
            &mut self.last_book_error,
        );
        let outcome = self.subscriber.handle_packet_parsed(bytes, |seq, message| {
            if let Err(error) = book.apply(message) {
                counters.book_errors += 1;
                *last_error = Some((seq, error));
            }
        });
        match outcome {
            PacketOutcome::Gap(_) => counters.gaps += 1,
            PacketOutcome::Dropped(DropReason::WrongSession)
                if source == PacketSource::Multicast =>
            {
                counters.wrong_session += 1;
                self.session_change_pending = true;
            }
            _ => {}
        }
    }

    /// Sends, resends or abandons the re-request; returns whether one was abandoned.
    fn manage_requests(&mut self, now_ns: u64) -> Result<bool, ClientError> {
        if self.subscriber.gap().is_none() {
            self.outstanding = None;
            return Ok(false);
        }
        let expected_seq = self.subscriber.expected_seq();
        let timeout_ns = self.config.request_timeout_ms.saturating_mul(1_000_000);
        let Some(mut outstanding) = self.outstanding else {
            self.send_request(now_ns, 0)?;
            return Ok(false);
        };
        let request_end = outstanding.first_seq + u64::from(outstanding.count);
        if expected_seq >= request_end {
            self.send_request(now_ns, 0)?;
        } else if expected_seq > outstanding.progress_seq {
            // Answers are arriving: the timeout and the retry count start again.
            outstanding.progress_seq = expected_seq;
            outstanding.since_ns = now_ns;
            outstanding.retries = 0;
            self.outstanding = Some(outstanding);
        } else if now_ns.saturating_sub(outstanding.since_ns) >= timeout_ns {
            if outstanding.retries >= self.config.request_retry_max {
                self.counters.requests_abandoned += 1;
                self.outstanding = None;
                return Ok(true);
            }
            self.counters.request_retries += 1;
            self.send_request(now_ns, outstanding.retries + 1)?;
        }
        Ok(false)
    }

    fn send_request(&mut self, now_ns: u64, retries: u32) -> Result<(), ClientError> {
        let Some(request) = self
            .subscriber
            .request(self.config.request_count_max.max(1))
        else {
            self.outstanding = None;
            return Ok(());
        };
        let mut bytes = [0u8; Request::<&[u8]>::LEN];
        request.emit(&mut Request::new_unchecked(&mut bytes[..]));
        match self.answers.send_to(&bytes, self.config.rerequest) {
            Ok(_) => {}
            // A full socket buffer: the timeout will resend.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error.into()),
        }
        self.counters.requests_sent += 1;
        self.outstanding = Some(Outstanding {
            first_seq: request.seq,
            count: request.count,
            progress_seq: self.subscriber.expected_seq(),
            since_ns: now_ns,
            retries,
        });
        Ok(())
    }
}
