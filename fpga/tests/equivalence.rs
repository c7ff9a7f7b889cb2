//! Co-simulation equivalence: the Verilated card and the software decoder, fed the same
//! packets, must give the same outcome, the same events and the same counters after every
//! packet (`common::Pair::feed` asserts all of it).
//!
//! Inputs: MoldUDP64 packets made by our own encoder and packetiser from random engine order
//! flow (in order; with loss, duplicates and re-requested retransmissions; with corruption),
//! and generated packets mixing valid, malformed and unknown messages with bad framing.
//! Seeds are fixed, so a failure reproduces.

mod common;

use common::{bad_value_message, message_len, packet, valid_message, Pair, OFFLOADED, SESSION};
use peregrine_feed::subscriber::PacketOutcome;
use peregrine_fpga::workload::{publisher_datagrams, Rng};
use peregrine_fpga::FeedDecoder;

#[test]
fn publisher_flows_in_order() {
    for seed in 1..=3 {
        let datagrams = publisher_datagrams(seed, 300);
        let mut pair = Pair::new(Some(SESSION), 1);
        let mut kinds = std::collections::BTreeSet::new();
        for datagram in &datagrams {
            let (outcome, events) = pair.feed(datagram);
            assert!(
                matches!(
                    outcome,
                    PacketOutcome::Delivered(_)
                        | PacketOutcome::Heartbeat
                        | PacketOutcome::EndOfSession
                ),
                "{outcome:?}"
            );
            kinds.extend(events.iter().map(|event| event.kind));
        }
        let counters = pair.hardware.counters();
        assert_eq!(counters.packets_dropped, 0);
        assert_eq!(counters.events, counters.messages_delivered);
        assert!(pair.hardware.is_ended());
        for kind in *b"AFEXDUHSR" {
            assert!(
                kinds.contains(&kind),
                "seed {seed}: no {} event",
                kind as char
            );
        }
    }
}

/// First sequence number and message count of a publisher datagram.
fn seq_range(datagram: &[u8]) -> (u64, u64) {
    let seq = u64::from_be_bytes(datagram[10..18].try_into().expect("header"));
    let count = u16::from_be_bytes([datagram[18], datagram[19]]);
    let messages = if count == 0 || count == 0xffff {
        0
    } else {
        count
    };
    (seq, u64::from(messages))
}

#[test]
fn publisher_flows_with_loss_duplicates_and_retransmission() {
    let mut rng = Rng::new(77);
    for seed in 4..=5 {
        let datagrams = publisher_datagrams(seed, 250);
        let mut pair = Pair::new(None, 1);
        let mut gaps = 0;
        for (index, datagram) in datagrams.iter().enumerate() {
            match rng.below(12) {
                0 => continue,
                1 => {
                    pair.feed(datagram);
                }
                2 if index > 2 => {
                    pair.feed(&datagrams[index - 1 - rng.below(2) as usize]);
                }
                _ => {}
            }
            if matches!(pair.feed(datagram).0, PacketOutcome::Gap(_)) {
                gaps += 1;
            }
            if rng.chance(1, 3) {
                retransmit(&mut pair, &datagrams);
            }
        }
        retransmit(&mut pair, &datagrams);
        assert_eq!(pair.software.gap(), None);
        assert!(gaps > 0, "the loss pattern made gaps");
        let counters = pair.hardware.counters();
        assert!(counters.packets_duplicate > 0);
        assert!(counters.packets_ahead > 0);
    }
}

/// Answers the decoders' gap the way a re-request server does: the published packets from the
/// one holding the expected sequence number on, until the gap is closed.
fn retransmit(pair: &mut Pair, datagrams: &[Vec<u8>]) {
    let bound = datagrams.len();
    for _ in 0..bound {
        let Some(gap) = pair.software.gap() else {
            return;
        };
        let holder = datagrams.iter().find(|datagram| {
            let (seq, count) = seq_range(datagram);
            count > 0 && seq <= gap.first && gap.first < seq + count
        });
        pair.feed(holder.expect("a published packet holds every sequence number"));
    }
}

#[test]
fn corrupted_publisher_packets() {
    let datagrams = publisher_datagrams(6, 200);
    let mut rng = Rng::new(66);
    let mut pair = Pair::new(Some(SESSION), 1);
    for datagram in &datagrams {
        let mut bytes = datagram.clone();
        match rng.below(8) {
            0 => {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(rng.below(bytes.len() as u64) as usize),
            2 => bytes.extend((0..1 + rng.below(9)).map(|_| rng.next_u64() as u8)),
            3 => bytes[18..20].copy_from_slice(&(rng.next_u64() as u16).to_be_bytes()),
            4 => bytes[0] = b'X',
            5 => bytes[rng.below(10) as usize] = 0x7f,
            _ => {}
        }
        pair.feed(&bytes);
        pair.feed(datagram);
    }
    let counters = pair.hardware.counters();
    assert!(counters.packets_dropped > 0);
    assert!(counters.drop_wrong_session > 0);
}

/// One generated message block: valid, bad value, bad length, unknown or empty.
fn random_block(rng: &mut Rng) -> Vec<u8> {
    let kind = *rng.pick(OFFLOADED);
    match rng.below(10) {
        0..=4 => valid_message(rng, kind),
        5 => bad_value_message(rng, kind),
        6 => {
            let mut bytes = valid_message(rng, kind);
            let len = message_len(kind);
            bytes.resize(
                if rng.chance(1, 2) {
                    len - 1
                } else {
                    len + 1 + rng.below(30) as usize
                },
                b' ',
            );
            bytes
        }
        7 => {
            let unknown = *rng.pick(b"YQBIZaL\x00\xff");
            let len = 1 + rng.below(60) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            bytes[0] = unknown;
            bytes
        }
        8 => Vec::new(),
        _ => (0..rng.below(70)).map(|_| rng.next_u64() as u8).collect(),
    }
}

/// A generated packet around `expected`: mostly well framed, sometimes not.
fn random_packet(rng: &mut Rng, expected: u64) -> Vec<u8> {
    let session = match rng.below(16) {
        0 => *b"OTHERSESS1",
        1 => *b"PGRN\x00TEST1",
        _ => *SESSION,
    };
    let seq = match rng.below(16) {
        0 => u64::MAX - rng.below(3),
        1..=3 => expected + 1 + rng.below(3),
        4..=5 => expected.saturating_sub(1 + rng.below(3)),
        _ => expected,
    };
    let blocks: Vec<Vec<u8>> = (0..rng.below(8)).map(|_| random_block(rng)).collect();
    let mut count = blocks.len() as u16;
    match rng.below(16) {
        0 => count = count.wrapping_add(1),
        1 => count = count.wrapping_sub(1),
        2 => count = 0,
        3 => count = 0xffff,
        _ => {}
    }
    let mut bytes = packet(&session, seq, count, &blocks);
    match rng.below(16) {
        0 => bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize),
        1 => bytes.push(rng.next_u64() as u8),
        _ => {}
    }
    bytes
}

#[test]
fn generated_packets_with_malformed_framing_and_messages() {
    for (seed, session, first_seq) in [(1, Some(SESSION), 1), (2, None, 1), (3, None, 1_000)] {
        let mut rng = Rng::new(seed);
        let mut pair = Pair::new(session, first_seq);
        for _ in 0..700 {
            let expected = pair.software.expected_seq();
            pair.feed(&random_packet(&mut rng, expected));
        }
        let c = pair.hardware.counters();
        let reasons = [
            c.drop_header_truncated,
            c.drop_bad_session,
            c.drop_block_truncated,
            c.drop_count_mismatch,
            c.drop_payload_on_control,
            c.drop_sequence_overflow,
        ];
        assert!(reasons.iter().all(|&count| count > 0), "seed {seed}: {c:?}");
        assert!(
            c.messages_unknown_type > 0 && c.messages_bad_length > 0,
            "{c:?}"
        );
        assert!(c.messages_bad_value > 0 && c.events > 0, "{c:?}");
        assert!(c.packets_ahead > 0 && c.messages_duplicate > 0, "{c:?}");
        assert!(c.heartbeats > 0, "{c:?}");
    }
}

#[test]
fn oversized_packets_are_refused_by_both() {
    let mut pair = Pair::new(None, 1);
    let big = vec![b' '; peregrine_fpga::card::PACKET_BYTES_MAX + 1];
    let mut sink = |_: &peregrine_fpga::FeedEvent| {};
    assert_eq!(
        pair.software.handle_packet(&big, &mut sink),
        Err(peregrine_fpga::DecodeError::PacketTooLong)
    );
    assert_eq!(
        pair.hardware.handle_packet(&big, &mut sink),
        Err(peregrine_fpga::DecodeError::PacketTooLong)
    );
}
