//! Fuzz target for the subscriber-side decoder: MoldUDP64 framing, ITCH parsing, gap
//! detection and the book builder. The input is split into datagrams at each 0xff 0xfe pair
//! (so one input can carry duplicates, gaps and recoveries).
//!
//! Asserts: nothing panics; a packet the framing accepts has blocks that tile it; every message
//! that parses re-emits to its exact bytes (the reserved byte of `H` aside); the subscriber
//! delivers consecutive sequence numbers; the book keeps its invariants.
//!
//! Run: `cd feed/fuzz && cargo +nightly fuzz run subscriber`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::itch::MessageRepr;
use peregrine_feed::moldudp64::{Packet, PacketRepr};
use peregrine_feed::subscriber::Subscriber;

fn round_trips(message: &[u8]) {
    if let Ok(parsed) = MessageRepr::parse(message) {
        let mut emitted = [0u8; peregrine_feed::itch::MESSAGE_LEN_MAX];
        let len = parsed.buffer_len();
        assert_eq!(len, message.len());
        parsed.emit(&mut emitted[..len]);
        for (index, (&ours, &theirs)) in emitted[..len].iter().zip(message).enumerate() {
            let reserved = message[0] == b'H' && index == 20;
            assert!(ours == theirs || reserved, "byte {index} differs after re-emission");
        }
    }
}

fn datagrams(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let split = rest.windows(2).position(|pair| pair == [0xff, 0xfe]);
        let (datagram, next) = match split {
            Some(at) => (&rest[..at], &rest[at + 2..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some(datagram)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut subscriber = Subscriber::new(None, 1);
    let mut book = Book::new(BookConfig {
        locate_count: 8,
        order_capacity: 256,
        level_capacity: 128,
        levels_per_side_max: 64,
    });
    for datagram in datagrams(data).take(64) {
        if let Ok(packet) = Packet::new_checked(datagram) {
            if PacketRepr::parse(&packet).is_ok() {
                for block in packet.blocks() {
                    round_trips(block.expect("accepted framing has whole blocks"));
                }
            }
        }
        let before = subscriber.expected_seq();
        let mut next = before;
        subscriber.handle_packet(datagram, |seq, message| {
            assert_eq!(seq, next);
            next += 1;
            if let Ok(parsed) = MessageRepr::parse(message) {
                let _ = book.apply(&parsed);
            }
        });
        assert_eq!(subscriber.expected_seq(), next);
    }
    book.verify();
});
