//! The publisher stage: engine events in, MoldUDP64 packets of ITCH messages out on a UDP
//! multicast group, every message kept in the retransmission store.
//!
//! Two layers, as everywhere in Peregrine:
//! - [`Publisher`], sans-IO: the [`Encoder`] and the [`Packetiser`] plus the timing rules. No
//!   socket and no clock: every call takes `now_ns` (a monotonic clock) and hands each finished
//!   packet to a `send` callback.
//! - [`run`], the driver the node spawns on its own thread: it pulls [`FeedPoll`]s from a
//!   closure (so this crate needs none of the node's ring types), feeds the publisher, appends
//!   each packet to the [`SharedStore`] and then sends it on a [`crate::net::multicast_sender`].
//!
//! **When a packet leaves.** A packet is sent when the next message does not fit, at the end of
//! each core batch ([`FeedRecord::BatchEnd`]), when the record source goes idle (if
//! [`PublisherConfig::flush_on_idle`]), and at the latest `flush_delay_us` after its first
//! message was pushed. After `heartbeat_interval_ms` without a packet, a heartbeat (count 0,
//! the next sequence number) goes out.
//!
//! **Session.** [`Publisher::start_session`] publishes System Event `O` (start of messages)
//! and one Stock Directory per instrument: sequence numbers `1..=1 + instrument_count`. Every
//! published event then takes the next number ([`FeedSeq`] counts them without encoding, for
//! the core's snapshots). [`Publisher::end_session`] publishes System Event `C` (end of
//! messages) and the end-of-session packet, which is then repeated `end_of_session_repeat`
//! times in all, one heartbeat interval apart, so a subscriber that loses some still learns
//! the last sequence number.
//!
//! **Live counters.** [`run_observed`] also stores the counters and the next sequence number
//! into a shared [`FeedMetrics`] after the session start, at most every
//! [`COUNTER_PUBLISH_NS`] while live, and at the end (Relaxed stores, no allocation); [`run`]
//! is the same with a private, unread `FeedMetrics`.
//!
//! Drain order of the sans-IO core, per record: `handle_event`/`handle_batch_end`, then
//! `handle_timeout(now_ns)` whenever `now_ns >= poll_timeout()`.
//!
//! # Invariants
//! - Sequence numbers are consecutive from 1, one per message, in the order the events came.
//! - Encoding never fails after [`Publisher::new`]: it checks that every instrument's price
//!   band fits an ITCH price and that every account has an attribution entry; a failure after
//!   that is a broken invariant (assert), because skipping a message would silently shift the
//!   join sequence numbers of every later snapshot.
//! - A message waits in a pending packet at most `flush_delay_us` after it was pushed, as long
//!   as the driver calls `handle_timeout` by the deadline `poll_timeout` gives.
//! - No allocation after construction: the packet buffer is allocated once; sending borrows it.

use core::fmt;
use std::io;
use std::net::UdpSocket;

use peregrine_engine::{EngineConfig, Event, InstrumentId};
use serde::{Deserialize, Serialize};

use crate::encoder::{publishes, EncodeError, Encoder, EncoderConfig};
use crate::itch::{EventCode, ItchPrice, MessageRepr};
use crate::moldudp64::{
    Packetiser, PacketiserError, Session, PACKET_BYTES_DEFAULT, PACKET_BYTES_MIN,
};
use crate::net::Clock;
use crate::retransmit::{lock, SharedStore};
use crate::service::{FeedMetrics, COUNTER_PUBLISH_NS};

/// Largest packet the publisher builds: an IPv4/UDP datagram on a 9,000-byte jumbo frame.
pub const PACKET_BYTES_MAX: u32 = 8_972;

/// Publisher timing and sizes. A `[feed.publisher]` table in the node's TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublisherConfig {
    /// Largest packet, MoldUDP64 header included: `PACKET_BYTES_MIN..=PACKET_BYTES_MAX`.
    pub packet_size_bytes: u32,
    /// Longest a message waits in a pending packet.
    pub flush_delay_us: u64,
    /// Whether a pending packet is sent as soon as the record source has nothing more.
    pub flush_on_idle: bool,
    /// Silence after which a heartbeat is sent (also the spacing of end-of-session repeats).
    pub heartbeat_interval_ms: u64,
    /// End-of-session packets sent in all, `>= 1`.
    pub end_of_session_repeat: u32,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        PublisherConfig {
            packet_size_bytes: PACKET_BYTES_DEFAULT as u32,
            flush_delay_us: 100,
            flush_on_idle: true,
            heartbeat_interval_ms: 1_000,
            end_of_session_repeat: 3,
        }
    }
}

/// One record from the core: an event of input `input_seq` (stamped with that input's
/// sequencer timestamp, ns since the Unix epoch), or the end of a core batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedRecord {
    Event {
        input_seq: u64,
        timestamp_ns: u64,
        event: Event,
    },
    /// The core finished a batch: send what is pending.
    BatchEnd,
}

/// What the record source has for the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedPoll {
    Record(FeedRecord),
    /// Nothing now (the source applies its own wait strategy before returning this).
    Idle,
    /// The core stopped: end the session, stamping System Event `C` with `timestamp_ns`.
    Finished {
        timestamp_ns: u64,
    },
}

/// Why a publisher could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublisherError {
    /// `packet_size_bytes` outside `PACKET_BYTES_MIN..=PACKET_BYTES_MAX`.
    PacketSize,
    /// `end_of_session_repeat` is 0.
    EndOfSessionRepeat,
    /// The encoder refused the instruments (symbol or count).
    Encoder(EncodeError),
    /// An instrument's price band does not fit an ITCH price.
    PriceBand(InstrumentId),
    /// The attribution table has fewer entries than the engine has accounts.
    Attribution { accounts: usize, entries: usize },
}

impl fmt::Display for PublisherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublisherError::PacketSize => write!(
                f,
                "packet_size_bytes must be {PACKET_BYTES_MIN}..={PACKET_BYTES_MAX}"
            ),
            PublisherError::EndOfSessionRepeat => write!(f, "end_of_session_repeat must be >= 1"),
            PublisherError::Encoder(error) => write!(f, "encoder: {error}"),
            PublisherError::PriceBand(id) => write!(
                f,
                "instrument {}: price band does not fit an ITCH price (0 to 429496.7295)",
                id.0
            ),
            PublisherError::Attribution { accounts, entries } => write!(
                f,
                "attribution table has {entries} entries for {accounts} accounts"
            ),
        }
    }
}

impl std::error::Error for PublisherError {}

/// Messages published by [`Publisher::start_session`] before the first event.
pub const fn session_start_message_count(instrument_count: usize) -> u64 {
    1 + instrument_count as u64
}

/// The feed sequence number the next published event will get, counted on the core's side
/// without encoding: start at [`FeedSeq::at_session_start`], [`observe`](FeedSeq::observe)
/// every event the core emits. The core stamps its snapshots with
/// [`next_seq`](FeedSeq::next_seq): the join sequence number of a
/// [`crate::snapshot::BookSnapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedSeq {
    next_seq: u64,
}

impl FeedSeq {
    pub const fn at_session_start(instrument_count: usize) -> FeedSeq {
        FeedSeq {
            next_seq: 1 + session_start_message_count(instrument_count),
        }
    }

    pub fn observe(&mut self, event: &Event) {
        if publishes(event) {
            self.next_seq += 1;
        }
    }

    pub const fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

/// What the publisher did, one counter per thing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublisherCounters {
    /// Events handed in (published or not).
    pub events: u64,
    pub messages: u64,
    /// Packets with messages.
    pub packets: u64,
    pub heartbeats: u64,
    pub end_of_session_packets: u64,
    /// Packets sent because the next message did not fit.
    pub flushes_full: u64,
    /// Packets sent at a batch end or when the source went idle.
    pub flushes_batch: u64,
    /// Packets sent because their first message had waited `flush_delay_us`.
    pub flushes_delay: u64,
    /// Bytes of all packets sent, headers included.
    pub bytes: u64,
    /// Highest `input_seq` seen.
    pub last_input_seq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before `start_session`.
    Ready,
    Live,
    /// `end_of_session` packets still to send (after the first).
    Ending {
        repeats_left: u32,
    },
    Ended,
}

/// Why a packet is being flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlushReason {
    Full,
    Batch,
    Delay,
}

/// The sans-IO publisher.
#[derive(Debug)]
pub struct Publisher {
    encoder: Encoder,
    packetiser: Packetiser<Box<[u8]>>,
    config: PublisherConfig,
    flush_delay_ns: u64,
    heartbeat_interval_ns: u64,
    state: State,
    /// When the first message of the pending packet was pushed (`None`: nothing pending).
    pending_since_ns: Option<u64>,
    /// When the last packet of any kind was sent.
    last_send_ns: u64,
    counters: PublisherCounters,
}

impl Publisher {
    /// Builds the encoder from the engine's instruments and checks that every event the
    /// engine can emit will encode (see the module's invariants).
    pub fn new(
        config: &PublisherConfig,
        session: Session,
        engine: &EngineConfig,
        encoder: EncoderConfig,
    ) -> Result<Publisher, PublisherError> {
        let packet_bytes = config.packet_size_bytes as usize;
        if !(PACKET_BYTES_MIN..=PACKET_BYTES_MAX as usize).contains(&packet_bytes) {
            return Err(PublisherError::PacketSize);
        }
        if config.end_of_session_repeat == 0 {
            return Err(PublisherError::EndOfSessionRepeat);
        }
        for (index, instrument) in engine.instruments.iter().enumerate() {
            let fits = ItchPrice::from_price(instrument.min_price).is_some()
                && ItchPrice::from_price(instrument.max_price).is_some();
            if !fits {
                let id = InstrumentId(u32::try_from(index).unwrap_or(u32::MAX));
                return Err(PublisherError::PriceBand(id));
            }
        }
        if encoder.attribution.len() < engine.accounts.len() {
            return Err(PublisherError::Attribution {
                accounts: engine.accounts.len(),
                entries: encoder.attribution.len(),
            });
        }
        let encoder =
            Encoder::new(&engine.instruments, encoder).map_err(PublisherError::Encoder)?;
        let buffer = vec![0u8; packet_bytes].into_boxed_slice();
        let packetiser = Packetiser::new(buffer, session, 1, packet_bytes);
        let Ok(packetiser) = packetiser else {
            unreachable!("packet size and first sequence number were checked above");
        };
        Ok(Publisher {
            encoder,
            packetiser,
            config: *config,
            flush_delay_ns: config.flush_delay_us.saturating_mul(1_000),
            heartbeat_interval_ns: config.heartbeat_interval_ms.saturating_mul(1_000_000),
            state: State::Ready,
            pending_since_ns: None,
            last_send_ns: 0,
            counters: PublisherCounters::default(),
        })
    }

    pub fn session(&self) -> Session {
        self.packetiser.session()
    }

    pub fn config(&self) -> &PublisherConfig {
        &self.config
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Sequence number the next message will get.
    pub fn next_seq(&self) -> u64 {
        self.packetiser.next_seq()
    }

    pub fn counters(&self) -> &PublisherCounters {
        &self.counters
    }

    /// Whether the last end-of-session packet has been sent.
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// Publishes the start of the session (System Event `O`, Stock Directory per instrument)
    /// and sends it. Panics if called twice.
    pub fn start_session(&mut self, now_ns: u64, timestamp_ns: u64, send: &mut impl FnMut(&[u8])) {
        assert_eq!(self.state, State::Ready, "session already started");
        self.state = State::Live;
        self.last_send_ns = now_ns;
        let start = self
            .encoder
            .system_event(timestamp_ns, EventCode::StartOfMessages);
        self.push(now_ns, &start, send);
        for index in 0..self.encoder.instrument_count() {
            let id = InstrumentId(u32::try_from(index).unwrap_or(u32::MAX));
            let directory = self.encoder.stock_directory(timestamp_ns, id);
            let Ok(directory) = directory else {
                unreachable!("every instrument of the encoder has a directory entry");
            };
            self.push(now_ns, &directory, send);
        }
        self.flush(now_ns, FlushReason::Batch, send);
        let expected = 1 + session_start_message_count(self.encoder.instrument_count());
        assert_eq!(self.next_seq(), expected);
    }

    /// Encodes one event of input `input_seq` and queues its message, sending the pending
    /// packet first when the message does not fit.
    pub fn handle_event(
        &mut self,
        now_ns: u64,
        input_seq: u64,
        timestamp_ns: u64,
        event: &Event,
        send: &mut impl FnMut(&[u8]),
    ) {
        assert_eq!(self.state, State::Live, "events only between start and end");
        self.counters.events += 1;
        self.counters.last_input_seq = self.counters.last_input_seq.max(input_seq);
        let encoded = self.encoder.encode(timestamp_ns, event);
        let message = match encoded {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(error) => panic!("event does not encode after start-up checks: {error}"),
        };
        self.push(now_ns, &message, send);
    }

    /// End of a core batch: sends the pending packet.
    pub fn handle_batch_end(&mut self, now_ns: u64, send: &mut impl FnMut(&[u8])) {
        self.flush(now_ns, FlushReason::Batch, send);
    }

    /// The record source has nothing: sends the pending packet if so configured.
    pub fn handle_idle(&mut self, now_ns: u64, send: &mut impl FnMut(&[u8])) {
        if self.config.flush_on_idle {
            self.flush(now_ns, FlushReason::Batch, send);
        }
    }

    /// The next deadline for [`handle_timeout`](Self::handle_timeout), or `None` once the
    /// session has ended (and before it starts).
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::Ready | State::Ended => None,
            State::Live => Some(match self.pending_since_ns {
                Some(since_ns) => since_ns.saturating_add(self.flush_delay_ns),
                None => self.last_send_ns.saturating_add(self.heartbeat_interval_ns),
            }),
            State::Ending { .. } => {
                Some(self.last_send_ns.saturating_add(self.heartbeat_interval_ns))
            }
        }
    }

    /// Sends what is due at `now_ns`: a packet whose first message waited `flush_delay_us`,
    /// a heartbeat after a silent interval, or the next end-of-session repeat.
    pub fn handle_timeout(&mut self, now_ns: u64, send: &mut impl FnMut(&[u8])) {
        let Some(deadline_ns) = self.poll_timeout() else {
            return;
        };
        if now_ns < deadline_ns {
            return;
        }
        match self.state {
            State::Ready | State::Ended => {}
            State::Live if self.pending_since_ns.is_some() => {
                self.flush(now_ns, FlushReason::Delay, send);
            }
            State::Live => {
                let heartbeat = self.packetiser.heartbeat();
                let Ok(packet) = heartbeat else {
                    unreachable!("nothing pending and the session is live");
                };
                self.counters.heartbeats += 1;
                self.counters.bytes += packet.len() as u64;
                send(packet);
                self.last_send_ns = now_ns;
            }
            State::Ending { repeats_left } => self.send_end_of_session(now_ns, repeats_left, send),
        }
    }

    /// Publishes System Event `C`, sends everything pending and the first end-of-session
    /// packet; the repeats follow from `handle_timeout`.
    pub fn end_session(&mut self, now_ns: u64, timestamp_ns: u64, send: &mut impl FnMut(&[u8])) {
        assert_eq!(self.state, State::Live, "end only a live session");
        let end = self
            .encoder
            .system_event(timestamp_ns, EventCode::EndOfMessages);
        self.push(now_ns, &end, send);
        self.flush(now_ns, FlushReason::Batch, send);
        self.send_end_of_session(now_ns, self.config.end_of_session_repeat, send);
    }

    fn send_end_of_session(
        &mut self,
        now_ns: u64,
        repeats_left: u32,
        send: &mut impl FnMut(&[u8]),
    ) {
        assert!(repeats_left >= 1);
        let packet = self.packetiser.end_of_session();
        let Ok(packet) = packet else {
            unreachable!("nothing is pending when the session ends");
        };
        self.counters.end_of_session_packets += 1;
        self.counters.bytes += packet.len() as u64;
        send(packet);
        self.last_send_ns = now_ns;
        self.state = match repeats_left - 1 {
            0 => State::Ended,
            left => State::Ending { repeats_left: left },
        };
    }

    fn push(&mut self, now_ns: u64, message: &MessageRepr, send: &mut impl FnMut(&[u8])) {
        let pushed = match self.packetiser.push(message) {
            Err(PacketiserError::Full) => {
                self.flush(now_ns, FlushReason::Full, send);
                self.packetiser.push(message)
            }
            other => other,
        };
        assert!(pushed.is_ok(), "an empty packet takes any ITCH message");
        self.counters.messages += 1;
        if self.pending_since_ns.is_none() {
            self.pending_since_ns = Some(now_ns);
        }
    }

    fn flush(&mut self, now_ns: u64, reason: FlushReason, send: &mut impl FnMut(&[u8])) {
        let Some(packet) = self.packetiser.flush() else {
            assert!(self.pending_since_ns.is_none());
            return;
        };
        self.counters.packets += 1;
        self.counters.bytes += packet.len() as u64;
        match reason {
            FlushReason::Full => self.counters.flushes_full += 1,
            FlushReason::Batch => self.counters.flushes_batch += 1,
            FlushReason::Delay => self.counters.flushes_delay += 1,
        }
        send(packet);
        self.pending_since_ns = None;
        self.last_send_ns = now_ns;
    }
}

/// A record source over an iterator: its records, then [`FeedPoll::Finished`] stamped
/// `end_timestamp_ns` (replays, tools, tests). A live node polls its ring instead:
///
/// ```text
/// let source = move || match consumer.try_pop() {
///     Some(OutboundRecord { input_seq, timestamp_ns, kind: OutboundKind::Event(event), .. }) => {
///         FeedPoll::Record(FeedRecord::Event { input_seq, timestamp_ns, event })
///     }
///     Some(OutboundRecord { kind: OutboundKind::InputDone, .. }) => FeedPoll::Record(FeedRecord::BatchEnd),
///     None if stopping.load(Ordering::Acquire) => FeedPoll::Finished { timestamp_ns: last_ns },
///     None => { waiter.idle(); FeedPoll::Idle }
/// };
/// ```
pub fn iter_source(
    records: impl IntoIterator<Item = FeedRecord>,
    end_timestamp_ns: u64,
) -> impl FnMut() -> FeedPoll {
    let mut records = records.into_iter();
    move || match records.next() {
        Some(record) => FeedPoll::Record(record),
        None => FeedPoll::Finished {
            timestamp_ns: end_timestamp_ns,
        },
    }
}

/// What [`run`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublisherReport {
    pub counters: PublisherCounters,
    /// Sequence number after the last message published.
    pub next_seq: u64,
    /// Packets the output refused (counted, never retried: the store has them).
    pub send_errors: u64,
    pub last_send_error: Option<io::ErrorKind>,
}

/// The publisher's last hop: where each MoldUDP64 packet goes once it is in the store. A
/// kernel UDP socket (`&UdpSocket`, connected to the group by [`crate::net::multicast_sender`])
/// or Ethernet frames through a kernel-bypass backend ([`crate::bypass::FrameOut`]).
pub trait PacketOut {
    /// Sends, or queues for the next [`PacketOut::flush`], one packet. A refusal is counted by
    /// the caller and never retried (the store has the packet for re-requests).
    fn send(&mut self, packet: &[u8]) -> Result<(), io::ErrorKind>;
    /// Pushes out what `send` queued; called after every publishing step.
    fn flush(&mut self) -> Result<(), io::ErrorKind>;

    /// The frame counters of a kernel-bypass output (`None` for a socket), for
    /// [`FeedMetrics::frames`].
    fn frame_counters(&self) -> Option<crate::bypass::FrameCounters> {
        None
    }
}

impl PacketOut for &UdpSocket {
    fn send(&mut self, packet: &[u8]) -> Result<(), io::ErrorKind> {
        UdpSocket::send(self, packet)
            .map(|_| ())
            .map_err(|error| error.kind())
    }

    /// Every datagram left in `send`.
    fn flush(&mut self) -> Result<(), io::ErrorKind> {
        Ok(())
    }
}

/// An owned socket, for a publisher thread that keeps it.
impl PacketOut for UdpSocket {
    fn send(&mut self, packet: &[u8]) -> Result<(), io::ErrorKind> {
        PacketOut::send(&mut &*self, packet)
    }

    fn flush(&mut self) -> Result<(), io::ErrorKind> {
        Ok(())
    }
}

/// Stores, then sends through the output, counting refusals.
#[derive(Debug)]
struct Sender<'a, O: PacketOut> {
    out: O,
    store: &'a SharedStore,
    errors: u64,
    last_error: Option<io::ErrorKind>,
}

impl<O: PacketOut> Sender<'_, O> {
    /// Store first, then the wire: a subscriber that sees the packet can re-request it.
    fn send(&mut self, packet: &[u8]) {
        lock(self.store).append_packet(packet);
        if let Err(error) = self.out.send(packet) {
            self.errors += 1;
            self.last_error = Some(error);
        }
    }

    fn flush(&mut self) {
        if let Err(error) = self.out.flush() {
            self.errors += 1;
            self.last_error = Some(error);
        }
    }
}

/// The publisher thread's body: starts the session stamped `session_start_timestamp_ns`,
/// publishes every record `source` yields until it says [`FeedPoll::Finished`], ends the
/// session (sending the end-of-session repeats, which takes about
/// `end_of_session_repeat - 1` heartbeat intervals) and returns.
///
/// `out` is a [`crate::net::multicast_sender`] socket (`&socket`) or a bypass frame output;
/// it is flushed after every step. `store` must start at sequence number 1.
/// The source is polled in a loop: on [`FeedPoll::Idle`] it should apply its own wait
/// strategy (spin, yield or park briefly) before returning, since the publisher's timers are
/// checked between polls.
pub fn run<O: PacketOut>(
    publisher: Publisher,
    out: O,
    store: &SharedStore,
    session_start_timestamp_ns: u64,
    source: impl FnMut() -> FeedPoll,
) -> PublisherReport {
    let unobserved = FeedMetrics::default();
    run_observed(
        publisher,
        out,
        store,
        session_start_timestamp_ns,
        source,
        &unobserved,
    )
}

impl<O: PacketOut> Sender<'_, O> {
    /// The report of `publisher` so far.
    fn report(&self, publisher: &Publisher) -> PublisherReport {
        PublisherReport {
            counters: *publisher.counters(),
            next_seq: publisher.next_seq(),
            send_errors: self.errors,
            last_send_error: self.last_error,
        }
    }

    /// Stores the report (and the output's frame counters) into `live`: plain stores, no
    /// allocation.
    fn observe(&self, publisher: &Publisher, live: &FeedMetrics) {
        live.store_publisher(&self.report(publisher));
        if let Some(frames) = self.out.frame_counters() {
            live.frames.store(&frames);
        }
    }
}

/// As [`run`], also storing the counters into `live` ([`FeedMetrics`], the publisher's
/// parts) after the session start, at most every [`COUNTER_PUBLISH_NS`] while live, and at
/// the end.
pub fn run_observed<O: PacketOut>(
    mut publisher: Publisher,
    out: O,
    store: &SharedStore,
    session_start_timestamp_ns: u64,
    mut source: impl FnMut() -> FeedPoll,
    live: &FeedMetrics,
) -> PublisherReport {
    assert_eq!(
        lock(store).next_seq(),
        publisher.next_seq(),
        "store and publisher agree"
    );
    let clock = Clock::new();
    let mut sender = Sender {
        out,
        store,
        errors: 0,
        last_error: None,
    };
    publisher.start_session(clock.now_ns(), session_start_timestamp_ns, &mut |packet| {
        sender.send(packet)
    });
    sender.flush();
    sender.observe(&publisher, live);
    let mut next_observe_ns = clock.now_ns().saturating_add(COUNTER_PUBLISH_NS);
    let end_timestamp_ns = loop {
        let poll = source();
        let now_ns = clock.now_ns();
        let mut send = |packet: &[u8]| sender.send(packet);
        match poll {
            FeedPoll::Record(FeedRecord::Event {
                input_seq,
                timestamp_ns,
                event,
            }) => publisher.handle_event(now_ns, input_seq, timestamp_ns, &event, &mut send),
            FeedPoll::Record(FeedRecord::BatchEnd) => publisher.handle_batch_end(now_ns, &mut send),
            FeedPoll::Idle => publisher.handle_idle(now_ns, &mut send),
            FeedPoll::Finished { timestamp_ns } => break timestamp_ns,
        }
        publisher.handle_timeout(now_ns, &mut send);
        sender.flush();
        if now_ns >= next_observe_ns {
            sender.observe(&publisher, live);
            next_observe_ns = now_ns.saturating_add(COUNTER_PUBLISH_NS);
        }
    };
    publisher.end_session(clock.now_ns(), end_timestamp_ns, &mut |packet| {
        sender.send(packet)
    });
    sender.flush();
    // Bounded: each pass sends one repeat, and there are end_of_session_repeat of them.
    while let Some(deadline_ns) = publisher.poll_timeout() {
        let now_ns = clock.now_ns();
        if now_ns < deadline_ns {
            std::thread::sleep(std::time::Duration::from_nanos(deadline_ns - now_ns));
        }
        publisher.handle_timeout(clock.now_ns(), &mut |packet| sender.send(packet));
        sender.flush();
    }
    sender.observe(&publisher, live);
    sender.report(&publisher)
}

#[cfg(test)]
mod tests;
