//! Stable smoke test of the subscriber decoder against hostile input (the cargo-fuzz target in
//! `feed/fuzz/` does the same under coverage guidance, on nightly): random bytes and randomly
//! mutated valid packets never panic, delivered sequence numbers stay consecutive, every
//! message the subscriber delivers re-emits to its exact bytes, and the book builder fed
//! with what is delivered keeps its invariants.

use peregrine_engine::{MatchId, OrderId, Qty, Side};
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::itch::{
    AddOrderRepr, HeaderRepr, ItchPrice, MessageRepr, OrderExecutedRepr, OrderReplaceRepr,
};
use peregrine_feed::moldudp64::{Packetiser, Session};
use peregrine_feed::subscriber::{PacketOutcome, Subscriber};
use peregrine_feed::wire::Symbol;
use proptest::prelude::*;

fn session() -> Session {
    Session::from_text("FUZZ000001").expect("ascii")
}

/// A valid packet of a few order messages, as mutation seed.
fn seed_packet(first_seq: u64) -> Vec<u8> {
    let header = HeaderRepr {
        stock_locate: 1,
        tracking_number: 0,
        timestamp_ns: 1,
    };
    let messages = [
        MessageRepr::AddOrder(AddOrderRepr {
            header,
            order: OrderId(1),
            side: Side::Buy,
            shares: Qty(100),
            stock: Symbol::from_text("FZ").expect("ascii"),
            price: ItchPrice(10_000),
        }),
        MessageRepr::OrderExecuted(OrderExecutedRepr {
            header,
            order: OrderId(1),
            executed_shares: Qty(40),
            match_number: MatchId(1),
        }),
        MessageRepr::OrderReplace(OrderReplaceRepr {
            header,
            original_order: OrderId(1),
            new_order: OrderId(2),
            shares: Qty(10),
            price: ItchPrice(10_100),
        }),
    ];
    let mut packetiser = Packetiser::new(vec![0u8; 400], session(), first_seq, 400).expect("cfg");
    for message in &messages {
        packetiser.push(message).expect("fits");
    }
    packetiser.flush().expect("pending").to_vec()
}

/// Feeds packets to a subscriber and a book, checking the invariants the module docs state.
fn exercise(packets: &[Vec<u8>]) {
    let mut subscriber = Subscriber::new(None, 1);
    let mut book = Book::new(BookConfig {
        locate_count: 4,
        order_capacity: 64,
        level_capacity: 64,
        levels_per_side_max: 16,
    });
    let mut next_seq = 1;
    for packet in packets {
        // The raw pass (on a copy) fixes which sequence numbers this packet delivers.
        let mut raw = Vec::new();
        subscriber
            .clone()
            .handle_packet(packet, |seq, message| raw.push((seq, message.to_vec())));
        for (offset, (seq, _)) in raw.iter().enumerate() {
            assert_eq!(*seq, next_seq + offset as u64, "consecutive delivery");
        }
        let outcome = subscriber.handle_packet_parsed(packet, |seq, message| {
            let (_, bytes) = raw
                .iter()
                .find(|(raw_seq, _)| *raw_seq == seq)
                .expect("same packet");
            let mut emitted = vec![0u8; message.buffer_len()];
            message.emit(&mut emitted);
            let mut expected = bytes.clone();
            if expected[0] == b'H' {
                expected[20] = b' '; // the reserved byte is not kept
            }
            assert_eq!(emitted, expected, "delivered message re-emits to its bytes");
            let _ = book.apply(message);
        });
        next_seq += raw.len() as u64;
        if let PacketOutcome::Delivered(range) = outcome {
            assert_eq!(range.end, next_seq);
        }
        assert_eq!(subscriber.expected_seq(), next_seq);
    }
    book.verify();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn random_bytes_never_panic(packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..8)) {
        exercise(&packets);
    }

    #[test]
    fn mutated_packets_never_panic(
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        truncate in any::<prop::sample::Index>(),
        cut in any::<bool>(),
        first_seq in 1u64..4,
    ) {
        let mut packet = seed_packet(first_seq);
        for (index, value) in mutations {
            let at = index.index(packet.len());
            packet[at] = value;
        }
        if cut {
            packet.truncate(truncate.index(packet.len() + 1));
        }
        exercise(&[seed_packet(1), packet.clone(), packet]);
    }
}
