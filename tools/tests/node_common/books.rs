//! Feed-side helpers of the node tests: a random order flow from two members, the engine's
//! books rebuilt by replaying a node's journal, a subscriber caught up with the feed, and the
//! comparison of a subscriber's books with the engine's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peregrine_engine::record::decode_command;
use peregrine_engine::{InstrumentId, Sequenced};
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::itch::ItchPrice;
use peregrine_feed::subscriber_net::{DropHook, FeedClient, PacketSource};
use peregrine_gateway::ouch::Side;
use peregrine_replay::{CoreConfig, JournalReader, RecordKind};
use peregrine_risk::Core;

use super::{Member, DEADLINE};

/// A subscriber loss hook: drops every fifth multicast packet that carries messages while
/// `lossy` is set (heartbeats and the end of session pass, so the tail of a lost run is still
/// detected).
pub fn drop_every_fifth_data_packet(lossy: Arc<AtomicBool>) -> DropHook {
    let mut data_packets = 0u64;
    Box::new(move |source, datagram| {
        let count = datagram
            .get(18..20)
            .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
        // Relaxed: a plain flag; the thread that polls the client reads it.
        if !lossy.load(Ordering::Relaxed)
            || source != PacketSource::Multicast
            || count == 0
            || count == 0xFFFF
        {
            return false;
        }
        data_packets += 1;
        data_packets.is_multiple_of(5)
    })
}

/// (price, displayed shares, orders) of each level, best first.
type Levels = Vec<(ItchPrice, u64, u32)>;

fn feed_levels(book: &Book, locate: u16, side: peregrine_engine::Side) -> Levels {
    let mut levels = Vec::new();
    book.for_each_level(locate, side, |level| {
        levels.push((level.price, level.shares, level.order_count));
    });
    levels
}

fn engine_levels(core: &Core, instrument: u32, side: peregrine_engine::Side) -> Levels {
    let mut levels = Vec::new();
    core.engine()
        .for_each_level(InstrumentId(instrument), side, |level| {
            let price = ItchPrice::from_price(level.price).expect("price fits ITCH");
            levels.push((price, level.displayed_qty, level.order_count));
        });
    levels
}

/// The engine's state after the node's journal, replayed into a fresh core.
pub fn replay_journal(dir: &std::path::Path) -> Core {
    let reader = JournalReader::open(&dir.join("journal")).expect("journal");
    let config = CoreConfig::decode(reader.config()).expect("journal config");
    let mut core = Core::new(config.engine.clone(), config.risk.clone()).expect("core");
    let mut events = Vec::new();
    let mut cursor = reader.cursor();
    while let Some(record) = cursor.next_record().expect("journal record") {
        if record.kind != RecordKind::Command {
            continue;
        }
        let command = decode_command(record.payload).expect("command decodes");
        events.clear();
        core.apply(
            &Sequenced {
                seq: record.seq,
                timestamp_ns: record.timestamp_ns,
                command,
            },
            &mut events,
        );
    }
    core
}

/// Random entries and cancels from two members of different firms (so orders cross).
pub fn random_flow(alice: &mut Member, bob: &mut Member) {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ u64::from(std::process::id());
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    for step in 0..300u64 {
        let member = if step.is_multiple_of(2) {
            &mut *alice
        } else {
            &mut *bob
        };
        let symbol = if next().is_multiple_of(2) {
            "AAPL"
        } else {
            "MSFT"
        };
        let side = if next().is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let quantity = 100 * (1 + (next() % 5) as u32);
        let price = 980_000 + 10_000 * (next() % 5);
        let user_ref_num = member.enter(symbol, side, quantity, price);
        if next().is_multiple_of(4) && user_ref_num > 1 {
            member.cancel(1 + (next() % u64::from(user_ref_num - 1)) as u32);
        }
        member.pump();
    }
    alice.settle(Duration::from_millis(300));
    bob.settle(Duration::from_millis(300));
}

pub const BOOK_CONFIG: BookConfig = BookConfig {
    locate_count: 8,
    order_capacity: 4_096,
    level_capacity: 1_024,
    levels_per_side_max: 1_024,
};

/// Polls until the client has no gap and nothing new arrived for longer than the publisher's
/// heartbeat interval (a heartbeat reveals a lost tail), or until `done` holds as well.
pub fn catch_up(client: &mut FeedClient, done: impl Fn(&FeedClient) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    let mut last_seq = 0;
    let mut quiet_since = Instant::now();
    loop {
        assert!(
            Instant::now() < deadline,
            "subscriber did not catch up: {client:?}"
        );
        client.poll_once(Duration::from_millis(10)).expect("poll");
        let seq = client.subscriber().expected_seq();
        if seq != last_seq || client.subscriber().gap().is_some() || !done(client) {
            last_seq = seq;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > Duration::from_millis(2_500) {
            break;
        }
    }
}

/// Asserts that `book` holds the replayed engine's levels of both demo instruments traded.
pub fn assert_books_equal(core: &Core, book: &Book, who: &str) {
    let mut resting = 0;
    for instrument in 0..2u32 {
        for side in [peregrine_engine::Side::Buy, peregrine_engine::Side::Sell] {
            let engine = engine_levels(core, instrument, side);
            resting += engine.len();
            let locate = u16::try_from(instrument + 1).expect("locate");
            assert_eq!(
                feed_levels(book, locate, side),
                engine,
                "{who}: instrument {instrument} {side:?}"
            );
        }
    }
    assert!(resting > 0, "the flow left no resting order to compare");
}
