//! The re-request server: answers MoldUDP64 request packets (unicast UDP) with ordinary
//! downstream packets from the retransmission store.
//!
//! [`RerequestServer`] is the sans-IO core: [`RerequestServer::handle_request`] judges one
//! datagram and decides what to send (a [`Grant`]) or why not (a [`Refusal`]); [`answer`] then
//! builds the answer packets from the store one at a time. [`run`] is the thread's driver over
//! a blocking UDP socket.
//!
//! **Rules, in order.** A request is dropped and counted when it is malformed (not exactly 20
//! bytes, session not printable), names another session, asks for 0 messages, or starts at a
//! sequence number the store does not hold ([`Availability`]: evicted or not yet published;
//! MoldUDP64 has no negative acknowledgement, so an unavailable range gets *no answer* and the
//! subscriber falls back to the snapshot server after its retries). Otherwise the count is
//! clamped to [`RerequestConfig::request_count_max`], to the messages stored, and to the
//! requester's rate budget; with no budget left the request is dropped as rate-limited.
//!
//! **Rate limits.** One token bucket per source address (IP and port), in messages: it refills
//! at `rate_messages_per_second` up to `rate_burst_messages`, and a grant spends one token per
//! message granted. Buckets live in a fixed table of `requester_capacity` slots; a source
//! address hashes to a window of [`PROBE_WINDOW`] slots; a new source takes an empty slot
//! there, or the slot of a requester whose bucket has refilled completely (forgetting it loses
//! nothing: a new bucket starts full); if the whole window is busy the request is dropped and
//! counted (`table_full`).
//!
//! # Invariants
//! - A grant never exceeds `request_count_max`, the stored messages, or the requester's tokens
//!   (which it spends); answers are exactly the stored messages `first_seq..first_seq+count`,
//!   in packets no larger than `packet_size_bytes`.
//! - Every request ends in exactly one counter: `granted` or one refusal.
//! - No allocation after construction; the table never grows.

use core::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::moldudp64::{
    FrameError, Request, RequestRepr, Session, PACKET_BYTES_DEFAULT, PACKET_BYTES_MIN,
};
use crate::net::Clock;
use crate::publisher::PACKET_BYTES_MAX;
use crate::retransmit::{lock, Availability, FillError, SharedStore, Store};
use crate::service::LiveRerequest;

/// Slots a source address may occupy, starting at its hash.
pub const PROBE_WINDOW: usize = 8;
/// Token units per message: buckets count in message-nanoseconds so integer refill is exact.
const UNITS_PER_MESSAGE: u64 = 1_000_000_000;

/// The server's address and limits. A `[feed.rerequest]` table in the node's TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RerequestConfig {
    /// Unicast address the server listens on.
    pub listen: SocketAddr,
    /// Most messages answered per request, `>= 1`.
    pub request_count_max: u16,
    /// Messages per second each requester may have answered, `>= 1`.
    pub rate_messages_per_second: u32,
    /// Bucket size in messages (a requester's burst), `>= request_count_max`.
    pub rate_burst_messages: u32,
    /// Requesters tracked at once: `PROBE_WINDOW..=1 << 20`, a power of two.
    pub requester_capacity: u32,
    /// Largest answer packet: `PACKET_BYTES_MIN..=PACKET_BYTES_MAX`.
    pub packet_size_bytes: u32,
    /// `SO_RCVBUF`/`SO_SNDBUF`; 0 keeps the kernel's default.
    pub socket_buffer_bytes: u32,
}

impl Default for RerequestConfig {
    fn default() -> Self {
        RerequestConfig {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 31_002)),
            request_count_max: 1_000,
            rate_messages_per_second: 200_000,
            rate_burst_messages: 20_000,
            requester_capacity: 1_024,
            packet_size_bytes: PACKET_BYTES_DEFAULT as u32,
            socket_buffer_bytes: 4 << 20,
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RerequestConfigError {
    RequestCountMax,
    Rate,
    Burst,
    RequesterCapacity,
    PacketSize,
}

impl fmt::Display for RerequestConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RerequestConfigError::RequestCountMax => "request_count_max must be >= 1",
            RerequestConfigError::Rate => "rate_messages_per_second must be >= 1",
            RerequestConfigError::Burst => "rate_burst_messages must be >= request_count_max",
            RerequestConfigError::RequesterCapacity => {
                "requester_capacity must be a power of two, 8..=1048576"
            }
            RerequestConfigError::PacketSize => "packet_size_bytes out of range",
        };
        f.write_str(text)
    }
}

impl std::error::Error for RerequestConfigError {}

/// What to send: stored messages `first_seq..first_seq + count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Grant {
    pub first_seq: u64,
    pub count: u16,
}

/// Why a request gets no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    Malformed(FrameError),
    WrongSession,
    ZeroCount,
    /// Evicted from the store or not yet published.
    Unavailable(Availability),
    /// The requester's bucket is empty.
    RateLimited,
    /// No slot for a new requester.
    TableFull,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(error) => write!(f, "malformed request: {error}"),
            Refusal::WrongSession => write!(f, "request for another session"),
            Refusal::ZeroCount => write!(f, "request for 0 messages"),
            Refusal::Unavailable(availability) => write!(f, "{availability}"),
            Refusal::RateLimited => write!(f, "requester over its rate limit"),
            Refusal::TableFull => write!(f, "requester table full"),
        }
    }
}

/// One counter per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RerequestCounters {
    pub requests: u64,
    pub granted: u64,
    /// Grants smaller than asked (count max, end of store, or rate budget).
    pub clamped: u64,
    pub messages_answered: u64,
    pub packets_answered: u64,
    pub malformed: u64,
    pub wrong_session: u64,
    pub zero_count: u64,
    pub evicted: u64,
    pub not_yet_published: u64,
    pub rate_limited: u64,
    pub table_full: u64,
    /// Answer packets the kernel refused.
    pub send_errors: u64,
    /// Grants cut short because the store evicted their messages while answering.
    pub answers_cut: u64,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    source: Option<SocketAddr>,
    /// Token units, `0..=burst_units`.
    units: u64,
    updated_ns: u64,
}

/// Fixed table of token buckets keyed by source address.
#[derive(Clone, Debug)]
struct RateTable {
    buckets: Box<[Bucket]>,
    rate_per_second: u64,
    burst_units: u64,
}

/// FNV-1a over the address bytes: deterministic, no random seed.
fn hash_source(source: &SocketAddr) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    match source {
        SocketAddr::V4(v4) => v4.ip().octets().into_iter().for_each(&mut eat),
        SocketAddr::V6(v6) => v6.ip().octets().into_iter().for_each(&mut eat),
    }
    source.port().to_be_bytes().into_iter().for_each(&mut eat);
    hash
}

impl RateTable {
    fn new(capacity: usize, rate_per_second: u32, burst_messages: u32) -> RateTable {
        let empty = Bucket {
            source: None,
            units: 0,
            updated_ns: 0,
        };
        RateTable {
            buckets: vec![empty; capacity].into_boxed_slice(),
            rate_per_second: u64::from(rate_per_second),
            burst_units: u64::from(burst_messages) * UNITS_PER_MESSAGE,
        }
    }

    fn refilled(&self, bucket: &Bucket, now_ns: u64) -> u64 {
        let elapsed_ns = now_ns.saturating_sub(bucket.updated_ns);
        let added = elapsed_ns.saturating_mul(self.rate_per_second);
        bucket.units.saturating_add(added).min(self.burst_units)
    }

    /// The slot of `source`, taking one for a new source; `None` when its window is busy.
    fn slot(&mut self, source: SocketAddr, now_ns: u64) -> Option<usize> {
        let mask = self.buckets.len() - 1;
        // Truncating the hash is intended: only its low bits select the slot.
        let home = hash_source(&source) as usize & mask;
        let window = (0..PROBE_WINDOW).map(|step| (home + step) & mask);
        if let Some(slot) = window
            .clone()
            .find(|&slot| self.buckets[slot].source == Some(source))
        {
            return Some(slot);
        }
        let free = window
            .clone()
            .find(|&slot| self.buckets[slot].source.is_none());
        let stale = || {
            window
                .clone()
                .find(|&slot| self.refilled(&self.buckets[slot], now_ns) == self.burst_units)
        };
        let slot = free.or_else(stale)?;
        self.buckets[slot] = Bucket {
            source: Some(source),
            units: self.burst_units,
            updated_ns: now_ns,
        };
        Some(slot)
    }

    /// Spends up to `wanted` messages of `slot`'s tokens; returns how many were granted.
    fn spend(&mut self, slot: usize, now_ns: u64, wanted: u16) -> u16 {
        let units = self.refilled(&self.buckets[slot], now_ns);
        let affordable = units / UNITS_PER_MESSAGE;
        let granted = u64::from(wanted).min(affordable);
        let bucket = &mut self.buckets[slot];
        bucket.units = units - granted * UNITS_PER_MESSAGE;
        bucket.updated_ns = now_ns;
        // Lossless: at most `wanted`, a u16.
        granted as u16
    }
}

/// The sans-IO re-request server.
#[derive(Clone, Debug)]
pub struct RerequestServer {
    session: Session,
    config: RerequestConfig,
    table: RateTable,
    counters: RerequestCounters,
}

impl RerequestServer {
    pub fn new(config: &RerequestConfig, session: Session) -> Result<Self, RerequestConfigError> {
        if config.request_count_max == 0 {
            return Err(RerequestConfigError::RequestCountMax);
        }
        if config.rate_messages_per_second == 0 {
            return Err(RerequestConfigError::Rate);
        }
        if config.rate_burst_messages < u32::from(config.request_count_max) {
            return Err(RerequestConfigError::Burst);
        }
        let capacity = config.requester_capacity;
        if !capacity.is_power_of_two() || !(PROBE_WINDOW as u32..=1 << 20).contains(&capacity) {
            return Err(RerequestConfigError::RequesterCapacity);
        }
        let packet = config.packet_size_bytes as usize;
        if !(PACKET_BYTES_MIN..=PACKET_BYTES_MAX as usize).contains(&packet) {
            return Err(RerequestConfigError::PacketSize);
        }
        let table = RateTable::new(
            capacity as usize,
            config.rate_messages_per_second,
            config.rate_burst_messages,
        );
        Ok(RerequestServer {
            session,
            config: *config,
            table,
            counters: RerequestCounters::default(),
        })
    }

    pub fn config(&self) -> &RerequestConfig {
        &self.config
    }

    pub fn counters(&self) -> &RerequestCounters {
        &self.counters
    }

    /// Judges one request datagram from `source` against the store; on a grant the caller
    /// sends [`answer`]'s packets to `source`.
    pub fn handle_request(
        &mut self,
        now_ns: u64,
        source: SocketAddr,
        bytes: &[u8],
        store: &Store,
    ) -> Result<Grant, Refusal> {
        self.counters.requests += 1;
        let decided = self.decide(now_ns, source, bytes, store);
        let counter = match decided {
            Ok(_) => &mut self.counters.granted,
            Err(Refusal::Malformed(_)) => &mut self.counters.malformed,
            Err(Refusal::WrongSession) => &mut self.counters.wrong_session,
            Err(Refusal::ZeroCount) => &mut self.counters.zero_count,
            Err(Refusal::Unavailable(Availability::Evicted { .. })) => &mut self.counters.evicted,
            Err(Refusal::Unavailable(_)) => &mut self.counters.not_yet_published,
            Err(Refusal::RateLimited) => &mut self.counters.rate_limited,
            Err(Refusal::TableFull) => &mut self.counters.table_full,
        };
        *counter += 1;
        decided
    }

    fn decide(
        &mut self,
        now_ns: u64,
        source: SocketAddr,
        bytes: &[u8],
        store: &Store,
    ) -> Result<Grant, Refusal> {
        let request = Request::new_checked(bytes).map_err(Refusal::Malformed)?;
        let request = RequestRepr::parse(&request).map_err(Refusal::Malformed)?;
        if request.session != self.session {
            return Err(Refusal::WrongSession);
        }
        if request.count == 0 {
            return Err(Refusal::ZeroCount);
        }
        let availability = store.availability(request.seq);
        if availability != Availability::Available {
            return Err(Refusal::Unavailable(availability));
        }
        let stored = store.next_seq() - request.seq;
        let wanted = request
            .count
            .min(self.config.request_count_max)
            .min(u16::try_from(stored).unwrap_or(u16::MAX));
        let slot = self.table.slot(source, now_ns).ok_or(Refusal::TableFull)?;
        let count = self.table.spend(slot, now_ns, wanted);
        if count == 0 {
            return Err(Refusal::RateLimited);
        }
        if count < request.count {
            self.counters.clamped += 1;
        }
        Ok(Grant {
            first_seq: request.seq,
            count,
        })
    }

    /// Counts what [`answer`] sent.
    pub fn note_answer(&mut self, sent: &Answered) {
        self.counters.messages_answered += u64::from(sent.messages);
        self.counters.packets_answered += u64::from(sent.packets);
        self.counters.send_errors += u64::from(sent.send_errors);
        if sent.cut {
            self.counters.answers_cut += 1;
        }
    }
}

/// What [`answer`] sent for one grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Answered {
    pub messages: u16,
    pub packets: u16,
    pub send_errors: u16,
    /// The store evicted part of the grant before it was sent.
    pub cut: bool,
}

/// Sends a grant as downstream packets built in `buffer` (its length bounds each packet),
/// locking the store once per packet. `send` returns whether the kernel took the datagram.
pub fn answer(
    store: &SharedStore,
    grant: Grant,
    buffer: &mut [u8],
    mut send: impl FnMut(&[u8]) -> bool,
) -> Answered {
    let mut answered = Answered::default();
    let mut seq = grant.first_seq;
    let end_seq = grant.first_seq + u64::from(grant.count);
    // Bounded: each pass sends at least one message of the grant, or stops.
    while seq < end_seq {
        let left = u16::try_from(end_seq - seq).unwrap_or(u16::MAX);
        let fill = lock(store).fill_packet(seq, left, buffer);
        let fill = match fill {
            Ok(fill) => fill,
            Err(FillError::Unavailable(_) | FillError::NothingFits) => {
                answered.cut = true;
                break;
            }
        };
        if !send(&buffer[..fill.len]) {
            answered.send_errors += 1;
        }
        answered.messages += fill.count;
        answered.packets += 1;
        seq += u64::from(fill.count);
    }
    answered
}

/// The server thread's body: answers requests on `socket` (bound to
/// [`RerequestConfig::listen`], e.g. with [`crate::net::unicast_socket`]) until `stop` is set;
/// checks `stop` at least every 50 ms. Returns the counters.
pub fn run(
    server: RerequestServer,
    socket: &UdpSocket,
    store: &SharedStore,
    stop: &AtomicBool,
) -> io::Result<RerequestCounters> {
    run_observed(server, socket, store, stop, &LiveRerequest::default())
}

/// As [`run`], also storing the counters into `live` after every request (requests are rare
/// next to packets, and the store is a few Relaxed atomics).
pub fn run_observed(
    mut server: RerequestServer,
    socket: &UdpSocket,
    store: &SharedStore,
    stop: &AtomicBool,
    live: &LiveRerequest,
) -> io::Result<RerequestCounters> {
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let clock = Clock::new();
    let mut request = [0u8; 64];
    let mut packet = vec![0u8; server.config.packet_size_bytes as usize];
    // Relaxed: a plain flag; the thread that sets it joins this one afterwards.
    while !stop.load(Ordering::Relaxed) {
        let (len, source) = match socket.recv_from(&mut request) {
            Ok(received) => received,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(error) => return Err(error),
        };
        // A datagram longer than the buffer arrives truncated to 64 bytes: still "overlong".
        let grant = server.handle_request(clock.now_ns(), source, &request[..len], &lock(store));
        if let Ok(grant) = grant {
            let answered = answer(store, grant, &mut packet, |bytes| {
                socket.send_to(bytes, source).is_ok()
            });
            server.note_answer(&answered);
        }
        live.store(server.counters());
    }
    Ok(*server.counters())
}

#[cfg(test)]
mod tests;
