//! Subscriber behaviour on hand-made packet sequences (in order, duplicate, straddling, gap
//! and recovery, heartbeat, end of session, wrong session, malformed), and a property: under
//! random loss, duplication and reordering, re-requesting what `request` asks for and
//! re-sending it delivers every message exactly once, in order.

use peregrine_engine::OrderId;
use proptest::prelude::*;

use super::*;
use crate::itch::{HeaderRepr, MessageRepr, OrderDeleteRepr};
use crate::moldudp64::{Packetiser, PACKET_BYTES_MIN};

fn session() -> Session {
    Session::from_text("PGRN000001").expect("ascii")
}

fn delete(order: u64) -> MessageRepr {
    MessageRepr::OrderDelete(OrderDeleteRepr {
        header: HeaderRepr {
            stock_locate: 1,
            tracking_number: 0,
            timestamp_ns: order,
        },
        order: OrderId(order),
    })
}

/// One packet carrying `delete(seq)` for each seq in `first..end`.
fn packet(first: u64, end: u64) -> Vec<u8> {
    let mut packetiser = Packetiser::new(vec![0u8; 1400], session(), first, 1400).expect("cfg");
    for seq in first..end {
        assert_eq!(packetiser.push(&delete(seq)), Ok(seq));
    }
    packetiser.flush().expect("non-empty").to_vec()
}

fn heartbeat(next_seq: u64) -> Vec<u8> {
    let mut packetiser = Packetiser::new(vec![0u8; 100], session(), next_seq, 100).expect("cfg");
    packetiser.heartbeat().expect("empty").to_vec()
}

/// Handles a packet, returning the outcome and the delivered sequence numbers.
fn handle(subscriber: &mut Subscriber, bytes: &[u8]) -> (PacketOutcome, Vec<u64>) {
    let mut delivered = Vec::new();
    let outcome = subscriber.handle_packet_parsed(bytes, |seq, message| {
        assert_eq!(
            *message,
            delete(seq),
            "message {seq} is the one sent with that number"
        );
        delivered.push(seq);
    });
    (outcome, delivered)
}

fn range(first: u64, end: u64) -> SeqRange {
    SeqRange { first, end }
}

#[test]
fn delivers_in_order_and_adopts_the_session() {
    let mut subscriber = Subscriber::new(None, 1);
    assert_eq!(subscriber.session(), None);
    let (outcome, seqs) = handle(&mut subscriber, &packet(1, 4));
    assert_eq!(
        (outcome, seqs),
        (PacketOutcome::Delivered(range(1, 4)), vec![1, 2, 3])
    );
    assert_eq!(subscriber.session(), Some(session()));
    let (outcome, seqs) = handle(&mut subscriber, &packet(4, 6));
    assert_eq!(
        (outcome, seqs),
        (PacketOutcome::Delivered(range(4, 6)), vec![4, 5])
    );
    assert_eq!(subscriber.expected_seq(), 6);
    assert_eq!(subscriber.gap(), None);
    assert_eq!(subscriber.counters().messages_delivered, 5);
}

#[test]
fn duplicates_and_straddling_packets_deliver_nothing_twice() {
    let mut subscriber = Subscriber::new(Some(session()), 1);
    handle(&mut subscriber, &packet(1, 4));
    assert_eq!(
        handle(&mut subscriber, &packet(1, 4)),
        (PacketOutcome::Duplicate, vec![])
    );
    assert_eq!(
        handle(&mut subscriber, &packet(2, 3)),
        (PacketOutcome::Duplicate, vec![])
    );
    let (outcome, seqs) = handle(&mut subscriber, &packet(2, 7));
    assert_eq!(
        (outcome, seqs),
        (PacketOutcome::Delivered(range(4, 7)), vec![4, 5, 6])
    );
    let counters = subscriber.counters();
    assert_eq!(
        (counters.packets_duplicate, counters.messages_duplicate),
        (2, 2)
    );
}

#[test]
fn a_gap_is_reported_requested_and_filled() {
    let mut subscriber = Subscriber::new(Some(session()), 1);
    handle(&mut subscriber, &packet(1, 3));
    // Packet [3, 5) is lost; [5, 8) and [8, 9) arrive.
    assert_eq!(
        handle(&mut subscriber, &packet(5, 8)),
        (PacketOutcome::Gap(range(3, 8)), vec![])
    );
    assert_eq!(
        handle(&mut subscriber, &packet(8, 9)),
        (PacketOutcome::Gap(range(3, 9)), vec![])
    );
    assert_eq!(subscriber.gap(), Some(range(3, 9)));
    let request = subscriber.request(4).expect("gap");
    assert_eq!(
        (request.session, request.seq, request.count),
        (session(), 3, 4)
    );
    assert_eq!(subscriber.request(100).expect("gap").count, 6);
    // The re-request server answers [3, 7); then the rest.
    let (outcome, seqs) = handle(&mut subscriber, &packet(3, 7));
    assert_eq!(
        (outcome, seqs),
        (PacketOutcome::Delivered(range(3, 7)), vec![3, 4, 5, 6])
    );
    assert_eq!(subscriber.gap(), Some(range(7, 9)));
    let (outcome, seqs) = handle(&mut subscriber, &packet(7, 9));
    assert_eq!(
        (outcome, seqs),
        (PacketOutcome::Delivered(range(7, 9)), vec![7, 8])
    );
    assert_eq!(subscriber.gap(), None);
    assert_eq!(subscriber.request(100), None);
    assert_eq!(subscriber.counters().packets_ahead, 2);
}

#[test]
fn heartbeats_and_end_of_session_reveal_gaps() {
    let mut subscriber = Subscriber::new(Some(session()), 1);
    handle(&mut subscriber, &packet(1, 3));
    assert_eq!(
        handle(&mut subscriber, &heartbeat(3)),
        (PacketOutcome::Heartbeat, vec![])
    );
    assert_eq!(
        handle(&mut subscriber, &heartbeat(2)),
        (PacketOutcome::Heartbeat, vec![])
    );
    assert_eq!(
        handle(&mut subscriber, &heartbeat(5)),
        (PacketOutcome::Gap(range(3, 5)), vec![])
    );
    handle(&mut subscriber, &packet(3, 5));
    let mut packetiser = Packetiser::new(vec![0u8; 100], session(), 5, 100).expect("cfg");
    let end = packetiser.end_of_session().expect("empty").to_vec();
    assert_eq!(
        handle(&mut subscriber, &end),
        (PacketOutcome::EndOfSession, vec![])
    );
    assert!(subscriber.is_ended());
    assert_eq!(subscriber.counters().heartbeats, 2);
}

#[test]
fn malformed_and_foreign_packets_are_dropped_whole() {
    let mut subscriber = Subscriber::new(Some(session()), 1);
    let good = packet(1, 4);
    let outcome = handle(&mut subscriber, &good[..good.len() - 1]).0;
    assert_eq!(
        outcome,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::BlockTruncated))
    );
    assert_eq!(
        handle(&mut subscriber, &good[..10]).0,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::HeaderTruncated))
    );
    let mut foreign = good.clone();
    foreign[0] = b'X';
    assert_eq!(
        handle(&mut subscriber, &foreign).0,
        PacketOutcome::Dropped(DropReason::WrongSession)
    );
    assert_eq!(subscriber.last_drop(), Some(DropReason::WrongSession));
    assert_eq!(subscriber.expected_seq(), 1, "nothing changed");
    assert_eq!(subscriber.gap(), None);
    assert_eq!(subscriber.counters().packets_dropped, 3);
    assert_eq!(handle(&mut subscriber, &good).1, vec![1, 2, 3]);
}

#[test]
fn bad_messages_are_counted_and_their_sequence_consumed() {
    let mut bytes = packet(1, 4);
    // Corrupt the second message's type byte (to an unknown type) and the third's length
    // stays right but its type becomes 'A' with a D's length (malformed).
    let second_type = 20 + 21 + 2;
    let third_type = 20 + 2 * 21 + 2;
    bytes[second_type] = b'L';
    bytes[third_type] = b'A';
    let mut subscriber = Subscriber::new(Some(session()), 1);
    let (outcome, seqs) = handle(&mut subscriber, &bytes);
    assert_eq!(
        (outcome, seqs),
        (PacketOutcome::Delivered(range(1, 4)), vec![1])
    );
    let counters = subscriber.counters();
    assert_eq!(
        (counters.messages_unknown_type, counters.messages_malformed),
        (1, 1)
    );
    assert_eq!(
        subscriber.last_malformed(),
        Some((3, crate::wire::Error::Truncated))
    );
    assert_eq!(subscriber.expected_seq(), 4);
}

/// What the network does to one packet.
#[derive(Clone, Copy, Debug)]
enum Fate {
    Deliver,
    Lose,
    Duplicate,
    /// Held back and delivered after the next packet.
    Delay,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![6 => Just(Fate::Deliver), 2 => Just(Fate::Lose), 1 => Just(Fate::Duplicate),
                1 => Just(Fate::Delay)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn recovery_delivers_every_message_once_in_order(
        message_count in 1u64..300,
        packet_bytes in PACKET_BYTES_MIN..400,
        fates in prop::collection::vec(fate(), 1..200),
        request_max in 1u16..50,
    ) {
        // Publisher side: every message numbered from 1, cut into packets.
        let mut packetiser =
            Packetiser::new(vec![0u8; 400], session(), 1, packet_bytes).expect("cfg");
        let mut packets: Vec<Vec<u8>> = Vec::new();
        for seq in 1..=message_count {
            packetiser.push_with(&delete(seq), &mut |p: &[u8]| packets.push(p.to_vec()))
                .expect("push");
        }
        packets.push(packetiser.flush().expect("pending").to_vec());
        // The network.
        let mut wire: Vec<Vec<u8>> = Vec::new();
        let mut delayed: Option<Vec<u8>> = None;
        for (index, bytes) in packets.iter().enumerate() {
            match fates[index % fates.len()] {
                Fate::Deliver => wire.push(bytes.clone()),
                Fate::Lose => {}
                Fate::Duplicate => { wire.push(bytes.clone()); wire.push(bytes.clone()); }
                Fate::Delay => { if let Some(held) = delayed.replace(bytes.clone()) { wire.push(held); } }
            }
            if !matches!(fates[index % fates.len()], Fate::Delay) {
                if let Some(held) = delayed.take() { wire.push(held); }
            }
        }
        wire.extend(delayed);
        wire.push(heartbeat(message_count + 1));
        // The subscriber, re-requesting until nothing is missing.
        let mut subscriber = Subscriber::new(None, 1);
        let mut delivered: Vec<u64> = Vec::new();
        for bytes in &wire {
            handle_into(&mut subscriber, bytes, &mut delivered);
        }
        let mut rounds = 0;
        while let Some(request) = subscriber.request(request_max) {
            rounds += 1;
            prop_assert!(rounds <= message_count + 1, "recovery terminates");
            let end = request.seq + u64::from(request.count);
            handle_into(&mut subscriber, &packet(request.seq, end.min(message_count + 1)), &mut delivered);
        }
        let expected: Vec<u64> = (1..=message_count).collect();
        prop_assert_eq!(delivered, expected);
        prop_assert_eq!(subscriber.counters().messages_delivered, message_count);
    }
}

fn handle_into(subscriber: &mut Subscriber, bytes: &[u8], delivered: &mut Vec<u64>) {
    subscriber.handle_packet_parsed(bytes, |seq, message| {
        assert_eq!(*message, delete(seq));
        delivered.push(seq);
    });
}
