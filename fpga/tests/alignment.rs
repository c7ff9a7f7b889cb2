//! Unit testbenches per message type at every byte alignment of the 64-bit bus.
//!
//! For each of the eleven offloaded types, a packet carries an unknown-type filler block of
//! 1..=8 bytes before the message, so the message's first byte lands on each of the eight byte
//! lanes. The card must deliver exactly one event, equal to the software normalization of the
//! same bytes, with the expected field values; a block one byte short, one byte long, or with a
//! bad value must give no event and the right counter, at every alignment too.

mod common;

use common::{
    bad_value_message, message_len, packet, valid_message, Pair, Rng, OFFLOADED, SESSION,
};
use peregrine_feed::subscriber::{PacketOutcome, SeqRange};
use peregrine_fpga::FeedDecoder;

/// A filler block of `len` bytes of an unknown type (`'Z'`).
fn filler(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    bytes[0] = b'Z';
    bytes
}

/// Byte lane of the message's first byte, with a filler of `filler_len` bytes before it.
fn lane(filler_len: usize) -> usize {
    (20 + 2 + filler_len + 2) % 8
}

#[test]
fn every_type_decodes_at_every_lane() {
    let mut rng = Rng::new(9);
    let mut pair = Pair::new(Some(SESSION), 1);
    let mut seq = 1;
    for &kind in OFFLOADED {
        let mut lanes = [false; 8];
        for filler_len in 1..=8 {
            lanes[lane(filler_len)] = true;
            let message = valid_message(&mut rng, kind);
            let bytes = packet(SESSION, seq, 2, &[filler(filler_len), message.clone()]);
            let (outcome, events) = pair.feed(&bytes);
            assert_eq!(
                outcome,
                PacketOutcome::Delivered(SeqRange {
                    first: seq,
                    end: seq + 2
                })
            );
            assert_eq!(
                events.len(),
                1,
                "{} at lane {}",
                kind as char,
                lane(filler_len)
            );
            let event = events[0];
            assert_eq!(event.kind, kind);
            assert_eq!(event.seq, seq + 1);
            assert_eq!(
                event.stock_locate,
                u16::from_be_bytes([message[1], message[2]])
            );
            assert_eq!(
                event.tracking_number,
                u16::from_be_bytes([message[3], message[4]])
            );
            let mut timestamp = [0u8; 8];
            timestamp[2..].copy_from_slice(&message[5..11]);
            assert_eq!(event.timestamp_ns, u64::from_be_bytes(timestamp));
            check_fields(kind, &message, &event);
            seq += 2;
        }
        assert_eq!(lanes, [true; 8], "every lane covered");
    }
    let counters = pair.software.counters();
    assert_eq!(counters.events, 8 * OFFLOADED.len() as u64);
    assert_eq!(counters.messages_unknown_type, 8 * OFFLOADED.len() as u64);
}

fn be64(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The type's fields land where the record layout says (checked against the raw bytes).
fn check_fields(kind: u8, m: &[u8], e: &peregrine_fpga::FeedEvent) {
    match kind {
        b'A' | b'F' | b'P' => {
            assert_eq!(
                (e.order_ref, e.side, e.shares),
                (be64(m, 11), m[19], be32(m, 20))
            );
            assert_eq!((&e.stock[..], e.price), (&m[24..32], be32(m, 32)));
            if kind == b'F' {
                assert_eq!(&e.detail[..4], &m[36..40]);
            }
            if kind == b'P' {
                assert_eq!(e.ref2, be64(m, 36));
            }
        }
        b'E' | b'C' => {
            assert_eq!(
                (e.order_ref, e.shares, e.ref2),
                (be64(m, 11), be32(m, 19), be64(m, 23))
            );
            if kind == b'C' {
                assert_eq!((e.code, e.price), (m[31], be32(m, 32)));
            }
        }
        b'X' => assert_eq!((e.order_ref, e.shares), (be64(m, 11), be32(m, 19))),
        b'D' => assert_eq!(e.order_ref, be64(m, 11)),
        b'U' => {
            assert_eq!((e.order_ref, e.ref2), (be64(m, 11), be64(m, 19)));
            assert_eq!((e.shares, e.price), (be32(m, 27), be32(m, 31)));
        }
        b'S' => assert_eq!(e.code, m[11]),
        b'R' => {
            assert_eq!((&e.stock[..], e.code), (&m[11..19], m[19]));
            assert_eq!((e.shares, e.price), (be32(m, 21), be32(m, 34)));
            assert_eq!(e.detail[0], m[20]);
            assert_eq!(&e.detail[1..10], &m[25..34]);
            assert_eq!(e.detail[10], m[38]);
        }
        b'H' => {
            assert_eq!((&e.stock[..], e.code), (&m[11..19], m[19]));
            assert_eq!(&e.detail[..4], &m[21..25]);
        }
        other => panic!("not an offloaded type: {other}"),
    }
}

#[test]
fn bad_lengths_and_values_are_counted_at_every_lane() {
    let mut rng = Rng::new(10);
    let mut pair = Pair::new(Some(SESSION), 1);
    let mut seq = 1;
    let mut expected = (0u64, 0u64);
    for &kind in OFFLOADED {
        for filler_len in 1..=8 {
            let good = valid_message(&mut rng, kind);
            let short = good[..message_len(kind) - 1].to_vec();
            let mut long = good.clone();
            long.push(b' ');
            let bad = bad_value_message(&mut rng, kind);
            let blocks = [filler(filler_len), short, filler(filler_len), long, bad];
            let bytes = packet(SESSION, seq, blocks.len() as u16, &blocks);
            let (outcome, events) = pair.feed(&bytes);
            assert!(
                matches!(outcome, PacketOutcome::Delivered(_)),
                "{outcome:?}"
            );
            assert!(
                events.is_empty(),
                "{} lane {}",
                kind as char,
                lane(filler_len)
            );
            expected.0 += 2;
            expected.1 += 1;
            seq += blocks.len() as u64;
        }
    }
    let counters = pair.hardware.counters();
    assert_eq!(
        (counters.messages_bad_length, counters.messages_bad_value),
        expected
    );
    assert_eq!(counters.events, 0);
}
