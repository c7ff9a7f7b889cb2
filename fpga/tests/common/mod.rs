//! Shared helpers: a seeded random source, raw ITCH message and MoldUDP64 packet builders
//! (independent of the feed crate's emitters), and a harness that runs one packet through both
//! decoders and asserts they agree on the outcome, the events and every counter.
#![allow(dead_code)]

use peregrine_feed::subscriber::PacketOutcome;
use peregrine_fpga::card::SimDecoder;
use peregrine_fpga::software::SoftwareDecoder;
use peregrine_fpga::{FeedDecoder, FeedEvent};

pub const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

pub use peregrine_fpga::workload::{Rng, SESSION};

/// What a byte of a message must be to be valid.
#[derive(Clone, Copy)]
enum Class {
    Printable,
    Set(&'static [u8]),
}

/// Valid lengths and constrained bytes of the eleven offloaded types (other bytes are free).
fn layout(kind: u8) -> (usize, Vec<(usize, Class)>) {
    use Class::{Printable as Pr, Set};
    let stock = |at: usize| (at..at + 8).map(move |offset| (offset, Pr));
    let side = (19, Set(b"BS"));
    match kind {
        b'A' => (36, [side].into_iter().chain(stock(24)).collect()),
        b'F' => (
            40,
            [side]
                .into_iter()
                .chain(stock(24))
                .chain((36..40).map(|o| (o, Pr)))
                .collect(),
        ),
        b'E' => (31, vec![]),
        b'C' => (36, vec![(31, Set(b"YN"))]),
        b'X' => (23, vec![]),
        b'D' => (19, vec![]),
        b'U' => (35, vec![]),
        b'P' => (44, [side].into_iter().chain(stock(24)).collect()),
        b'S' => (12, vec![(11, Set(b"OSQMEC"))]),
        b'R' => (
            39,
            stock(11)
                .chain([
                    (19, Set(b"QGSNAPZV ")),
                    (20, Set(b"DEQSGHJKCN ")),
                    (25, Set(b"YN")),
                    (26, Pr),
                    (27, Pr),
                    (28, Pr),
                    (29, Set(b"PT")),
                    (30, Set(b"YN ")),
                    (31, Set(b"YN ")),
                    (32, Set(b"12 ")),
                    (33, Set(b"YN ")),
                    (38, Set(b"YN")),
                ])
                .collect(),
        ),
        b'H' => (
            25,
            stock(11)
                .chain([(19, Set(b"HPQT"))])
                .chain((21..25).map(|o| (o, Pr)))
                .collect(),
        ),
        _ => (0, vec![]),
    }
}

pub const OFFLOADED: &[u8; 11] = b"AFECXDUPSRH";

/// The valid length of an offloaded type.
pub fn message_len(kind: u8) -> usize {
    layout(kind).0
}

/// A valid message of `kind` with random values.
pub fn valid_message(rng: &mut Rng, kind: u8) -> Vec<u8> {
    let (len, classes) = layout(kind);
    assert!(len > 0, "offloaded type");
    let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    bytes[0] = kind;
    let timestamp_ns = rng.below(NS_PER_DAY);
    bytes[5..11].copy_from_slice(&timestamp_ns.to_be_bytes()[2..]);
    for (offset, class) in classes {
        bytes[offset] = match class {
            Class::Printable => 0x20 + rng.below(0x5f) as u8,
            Class::Set(set) => *rng.pick(set),
        };
    }
    bytes
}

/// A valid message with one constrained byte (or the timestamp) made invalid.
pub fn bad_value_message(rng: &mut Rng, kind: u8) -> Vec<u8> {
    let mut bytes = valid_message(rng, kind);
    let (_, classes) = layout(kind);
    if classes.is_empty() || rng.chance(1, 3) {
        let timestamp_ns = NS_PER_DAY + rng.below((1 << 48) - NS_PER_DAY);
        bytes[5..11].copy_from_slice(&timestamp_ns.to_be_bytes()[2..]);
        return bytes;
    }
    let (offset, class) = *rng.pick(&classes);
    bytes[offset] = match class {
        Class::Printable => *rng.pick(&[0x00, 0x1f, 0x7f, 0x80, 0xff]),
        Class::Set(set) => loop {
            let candidate = rng.next_u64() as u8;
            if !set.contains(&candidate) {
                break candidate;
            }
        },
    };
    bytes
}

/// A MoldUDP64 packet: header then each block with its length prefix.
pub fn packet(session: &[u8; 10], seq: u64, count: u16, blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(20 + blocks.iter().map(|b| b.len() + 2).sum::<usize>());
    bytes.extend_from_slice(session);
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend_from_slice(&count.to_be_bytes());
    for block in blocks {
        bytes.extend_from_slice(&(block.len() as u16).to_be_bytes());
        bytes.extend_from_slice(block);
    }
    bytes
}

/// The software decoder and the Verilated card, fed the same packets.
pub struct Pair {
    pub software: SoftwareDecoder,
    pub hardware: SimDecoder,
    pub events: u64,
}

impl Pair {
    pub fn new(session: Option<&[u8; 10]>, first_seq: u64) -> Pair {
        let session = session.map(|bytes| {
            peregrine_feed::moldudp64::Session::new(*bytes).expect("printable session")
        });
        Pair {
            software: SoftwareDecoder::new(session, first_seq),
            hardware: SimDecoder::new(session, first_seq),
            events: 0,
        }
    }

    /// Runs one packet through both; asserts identical outcome, events, counters and
    /// sequence state; returns the outcome and the events.
    pub fn feed(&mut self, payload: &[u8]) -> (PacketOutcome, Vec<FeedEvent>) {
        let mut from_software = Vec::new();
        let mut from_hardware = Vec::new();
        let software = self
            .software
            .handle_packet(payload, &mut |event| from_software.push(*event))
            .expect("software accepts the packet");
        let hardware = self
            .hardware
            .handle_packet(payload, &mut |event| from_hardware.push(*event))
            .expect("card accepts the packet");
        assert_eq!(hardware, software, "outcome of {payload:02x?}");
        assert_eq!(from_hardware, from_software, "events of {payload:02x?}");
        assert_eq!(
            self.hardware.counters(),
            self.software.counters(),
            "counters after {payload:02x?}"
        );
        assert_eq!(self.hardware.expected_seq(), self.software.expected_seq());
        assert_eq!(self.hardware.gap(), self.software.gap());
        assert_eq!(self.hardware.is_ended(), self.software.is_ended());
        self.events += from_software.len() as u64;
        (software, from_software)
    }
}
