//! Simulated market-data subscribers, checked at each settle point: the node's journal is
//! replayed into a scratch core whose events go through the feed crate's `Publisher` (ITCH 5.0
//! in MoldUDP64, exactly as the node's feed stage encodes them); the packets cross a seeded
//! lossy, duplicating, reordering network to the feed crate's `Subscriber` and `Book`; gaps are
//! re-requested and answered from the published packets (the retransmission store's role),
//! and those answers can be lost too. A late joiner starts from a `BookSnapshot` of the engine
//! taken half-way and joins the stream at its join sequence number.
//!
//! Both subscribers' books must equal the live engine's books (levels: price, displayed
//! shares, order count) once caught up.
//!
//! **Limit.** The node's own feed stage (its core-side tap and thread) is not in this loop:
//! the tap has no constructor without its thread. The encoding, packetising, gap handling and
//! book building are the real feed code.
//!
//! # Invariants
//! - Each checked subscriber ends with `expected_seq == publisher.next_seq()`; re-requests are
//!   bounded (a subscriber that cannot catch up is a violation, not a hang).

use std::collections::VecDeque;

use peregrine_engine::record::decode_command;
use peregrine_engine::{Event, InstrumentId, Sequenced, Side};
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::encoder::EncoderConfig;
use peregrine_feed::itch::ItchPrice;
use peregrine_feed::moldudp64::Session;
use peregrine_feed::publisher::{Publisher, PublisherConfig};
use peregrine_feed::snapshot::BookSnapshot;
use peregrine_feed::subscriber::{PacketOutcome, Subscriber};
use peregrine_replay::{CoreConfig, JournalReader, RecordKind};
use peregrine_risk::Core;

use super::rng::Rng;

/// Levels of one side: (price, displayed shares, orders), best first.
type Levels = Vec<(ItchPrice, u64, u32)>;

/// Messages one re-request asks for.
const REQUEST_MESSAGES_MAX: u16 = 256;
/// Re-request rounds a subscriber may take before it counts as stuck.
const ROUNDS_MAX: usize = 100_000;

/// What one feed check found.
#[derive(Debug, Default)]
pub struct FeedCheck {
    pub packets: u64,
    pub rerequests: u64,
    pub problems: Vec<String>,
}

/// One published packet: its first seq, message count, bytes.
struct Published {
    first_seq: u64,
    count: u64,
    bytes: Vec<u8>,
}

/// What the publisher sent for a journal.
struct Feed {
    published: Vec<Published>,
    publisher: Publisher,
    /// A half-way book snapshot and its join seq.
    snapshot: Option<(BookSnapshot, u64)>,
}

/// Replays `journal_dir` through a scratch core and the publisher.
fn publish(journal_dir: &std::path::Path) -> anyhow::Result<Feed> {
    let reader = JournalReader::open(journal_dir)?;
    let config = CoreConfig::decode(reader.config())
        .map_err(|error| anyhow::anyhow!("journal config: {error:?}"))?;
    let mut core = Core::new(config.engine.clone(), config.risk.clone())
        .map_err(|error| anyhow::anyhow!("core: {error}"))?;
    let session = Session::from_text("SIMFEED").ok_or_else(|| anyhow::anyhow!("session"))?;
    let encoder = EncoderConfig::anonymous(config.engine.accounts.len());
    let mut publisher = Publisher::new(
        &PublisherConfig::default(),
        session,
        &config.engine,
        encoder,
    )
    .map_err(|error| anyhow::anyhow!("publisher: {error:?}"))?;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    publisher.start_session(0, 0, &mut |bytes| packets.push(bytes.to_vec()));
    let half = reader.estimated_inputs() / 2;
    let mut snapshot = None;
    let mut events: Vec<Event> = Vec::new();
    let mut cursor = reader.cursor();
    while let Some(record) = cursor.next_record()? {
        if record.kind != RecordKind::Command {
            continue;
        }
        let command = decode_command(record.payload)
            .map_err(|_| anyhow::anyhow!("command {} does not decode", record.seq))?;
        let input = Sequenced {
            seq: record.seq,
            timestamp_ns: record.timestamp_ns,
            command,
        };
        events.clear();
        core.apply(&input, &mut events);
        let now_ns = record.timestamp_ns;
        for event in &events {
            publisher.handle_event(now_ns, input.seq, input.timestamp_ns, event, &mut |bytes| {
                packets.push(bytes.to_vec())
            });
        }
        publisher.handle_batch_end(now_ns, &mut |bytes| packets.push(bytes.to_vec()));
        if snapshot.is_none() && record.seq >= half && half > 0 {
            let engine = core.engine().snapshot();
            let join_seq = publisher.next_seq();
            let book = BookSnapshot::from_engine(publisher.encoder(), &engine, join_seq, now_ns)
                .map_err(|error| anyhow::anyhow!("snapshot: {error:?}"))?;
            snapshot = Some((book, join_seq));
        }
    }
    let published = packets
        .into_iter()
        .map(|bytes| {
            let first_seq = u64::from_be_bytes(bytes[10..18].try_into().unwrap_or([0; 8]));
            let count = u64::from(u16::from_be_bytes([bytes[18], bytes[19]]));
            Published {
                first_seq,
                count,
                bytes,
            }
        })
        .collect();
    Ok(Feed {
        published,
        publisher,
        snapshot,
    })
}

fn book_config() -> BookConfig {
    BookConfig {
        locate_count: 8,
        order_capacity: 1 << 15,
        level_capacity: 1 << 12,
        levels_per_side_max: 1 << 12,
    }
}

/// Delivers `packets` (indexes into `published`) through the lossy network, then re-requests
/// until caught up with `end_seq`. Returns (re-requests, caught up).
fn receive(
    rng: &mut Rng,
    published: &[Published],
    start: usize,
    subscriber: &mut Subscriber,
    book: &mut Book,
    end_seq: u64,
    problems: &mut Vec<String>,
) -> (u64, bool) {
    let mut in_flight: VecDeque<usize> = VecDeque::new();
    for index in start..published.len() {
        if rng.chance(100_000) {
            continue; // lost
        }
        if rng.chance(50_000) {
            in_flight.push_back(index); // duplicated
        }
        if rng.chance(100_000) && !in_flight.is_empty() {
            let at = rng.below(in_flight.len() as u64) as usize;
            in_flight.insert(at, index); // overtakes earlier packets
        } else {
            in_flight.push_back(index);
        }
    }
    let mut rerequests = 0;
    for _ in 0..ROUNDS_MAX {
        while let Some(index) = in_flight.pop_front() {
            deliver(&published[index].bytes, subscriber, book, problems);
        }
        if subscriber.expected_seq() >= end_seq {
            return (rerequests, true);
        }
        // The gap (or a lost tail) is re-requested; the server answers with the packets
        // holding the requested messages, and any answer may be lost as well.
        rerequests += 1;
        let first = subscriber.expected_seq();
        let end = match subscriber.request(REQUEST_MESSAGES_MAX) {
            Some(request) => request.seq + u64::from(request.count.max(1)),
            // No gap seen: the tail was lost (a real subscriber learns it from a heartbeat).
            None => end_seq.min(first + u64::from(REQUEST_MESSAGES_MAX)),
        };
        // Packets are in seq order: start at the first one ending after `first`.
        let from = published.partition_point(|p| p.first_seq + p.count <= first);
        for (index, packet) in published.iter().enumerate().skip(from) {
            if packet.first_seq >= end {
                break;
            }
            if packet.count > 0 && !rng.chance(200_000) {
                in_flight.push_back(index);
            }
        }
    }
    (rerequests, false)
}

fn deliver(bytes: &[u8], subscriber: &mut Subscriber, book: &mut Book, problems: &mut Vec<String>) {
    let outcome = subscriber.handle_packet_parsed(bytes, |seq, message| {
        if let Err(error) = book.apply(message) {
            problems.push(format!("feed book rejects message {seq}: {error}"));
        }
    });
    if let PacketOutcome::Dropped(reason) = outcome {
        problems.push(format!("feed packet dropped: {reason:?}"));
    }
}

fn compare(book: &Book, live: &Core, who: &str, problems: &mut Vec<String>) {
    let instruments = live.engine().config().instruments.len();
    for instrument in 0..instruments as u32 {
        for side in [Side::Buy, Side::Sell] {
            let mut engine: Levels = Vec::new();
            live.engine()
                .for_each_level(InstrumentId(instrument), side, |level| {
                    if level.displayed_qty > 0 {
                        let price = ItchPrice::from_price(level.price).unwrap_or(ItchPrice(0));
                        engine.push((price, level.displayed_qty, level.order_count));
                    }
                });
            let mut feed: Levels = Vec::new();
            book.for_each_level(instrument as u16 + 1, side, |level| {
                feed.push((level.price, level.shares, level.order_count));
            });
            if feed != engine {
                problems.push(format!(
                    "{who}: instrument {instrument} {side:?} book differs: feed {feed:?}, engine {engine:?}"
                ));
            }
        }
    }
}

/// The whole feed check against the live core.
pub fn check(
    journal_dir: &std::path::Path,
    live: &Core,
    rng: &mut Rng,
) -> anyhow::Result<FeedCheck> {
    let Feed {
        published,
        publisher,
        snapshot,
    } = publish(journal_dir)?;
    let end_seq = publisher.next_seq();
    let mut result = FeedCheck {
        packets: published.len() as u64,
        ..FeedCheck::default()
    };
    let mut subscriber = Subscriber::new(Some(publisher.session()), 1);
    let mut book = Book::new(book_config());
    let (rerequests, caught_up) = receive(
        rng,
        &published,
        0,
        &mut subscriber,
        &mut book,
        end_seq,
        &mut result.problems,
    );
    result.rerequests += rerequests;
    if !caught_up {
        result
            .problems
            .push("feed subscriber did not catch up".to_string());
    }
    compare(&book, live, "subscriber", &mut result.problems);
    if let Some((snapshot, join_seq)) = snapshot {
        let mut late = Book::new(book_config());
        for message in snapshot.messages() {
            if let Err(error) = late.apply(message) {
                result
                    .problems
                    .push(format!("snapshot message rejected: {error}"));
            }
        }
        let mut subscriber = Subscriber::new(Some(publisher.session()), join_seq);
        let start = published
            .iter()
            .position(|p| p.first_seq + p.count > join_seq)
            .unwrap_or(published.len());
        let (rerequests, caught_up) = receive(
            rng,
            &published,
            start,
            &mut subscriber,
            &mut late,
            end_seq,
            &mut result.problems,
        );
        result.rerequests += rerequests;
        if !caught_up {
            result
                .problems
                .push("late joiner did not catch up".to_string());
        }
        compare(&late, live, "late joiner", &mut result.problems);
    }
    Ok(result)
}
