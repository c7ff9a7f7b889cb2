//! MoldUDP64 golden packets (built independently with Python `struct.pack`), checked both
//! ways, malformed-packet rejection with each typed reason, and the packetiser: size limits,
//! sequence numbering, control packets and a property that what it packs parses back to the
//! same messages in the same order.

use peregrine_engine::{OrderId, Qty};
use proptest::prelude::*;

use super::*;
use crate::itch::{HeaderRepr, MessageRepr, OrderCancelRepr, OrderDeleteRepr};

const PACKET_BYTES: [u8; 66] = [
    0x50, 0x47, 0x52, 0x4e, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x02, 0x00, 0x13, 0x44, 0x00, //
    0x01, 0x00, 0x00, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x17, 0x58, 0x00, 0x01, 0x00, 0x00, //
    0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x06, 0x00, 0x00, 0x00, 0x32,
];
const HEARTBEAT_BYTES: [u8; 20] = [
    0x50, 0x47, 0x52, 0x4e, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
];
const END_OF_SESSION_BYTES: [u8; 20] = [
    0x50, 0x47, 0x52, 0x4e, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0xff, 0xff,
];
const REQUEST_BYTES: [u8; 20] = [
    0x50, 0x47, 0x52, 0x4e, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x64,
];

const HEADER: HeaderRepr = HeaderRepr {
    stock_locate: 1,
    tracking_number: 0,
    timestamp_ns: 34_200_000_000_123,
};

fn session() -> Session {
    Session::from_text("PGRN000001").expect("ascii")
}

fn delete(order: u64) -> MessageRepr {
    MessageRepr::OrderDelete(OrderDeleteRepr {
        header: HEADER,
        order: OrderId(order),
    })
}

fn cancel(order: u64, shares: u32) -> MessageRepr {
    MessageRepr::OrderCancel(OrderCancelRepr {
        header: HEADER,
        order: OrderId(order),
        cancelled_shares: Qty(shares),
    })
}

#[test]
fn golden_packet_parses() {
    let packet = Packet::new_checked(&PACKET_BYTES[..]).expect("header");
    let repr = PacketRepr::parse(&packet).expect("valid");
    assert_eq!(
        repr,
        PacketRepr {
            session: session(),
            seq: 42,
            kind: PacketKind::Messages(2)
        }
    );
    assert_eq!(repr.end_seq(), 44);
    let blocks: Vec<&[u8]> = packet
        .blocks()
        .map(|block| block.expect("framed"))
        .collect();
    assert_eq!(blocks.len(), 2);
    assert_eq!(MessageRepr::parse(blocks[0]), Ok(delete(5)));
    assert_eq!(MessageRepr::parse(blocks[1]), Ok(cancel(6, 50)));
    assert_eq!(repr.to_string(), "mold session=PGRN000001 seq=42 count=2");
}

#[test]
fn golden_packet_is_what_the_packetiser_builds() {
    let mut packetiser = Packetiser::new([0xa5u8; 1500], session(), 42, 1400).expect("config");
    assert_eq!(packetiser.push(&delete(5)), Ok(42));
    assert_eq!(packetiser.push(&cancel(6, 50)), Ok(43));
    assert_eq!(packetiser.next_seq(), 44);
    assert_eq!(packetiser.flush(), Some(&PACKET_BYTES[..]));
    assert_eq!(packetiser.flush(), None);
    assert_eq!(packetiser.heartbeat(), Ok(&HEARTBEAT_BYTES[..]));
    assert_eq!(packetiser.end_of_session(), Ok(&END_OF_SESSION_BYTES[..]));
    assert_eq!(
        packetiser.end_of_session(),
        Ok(&END_OF_SESSION_BYTES[..]),
        "repeatable"
    );
    assert!(packetiser.is_ended());
    assert_eq!(packetiser.push(&delete(7)), Err(PacketiserError::Ended));
    assert_eq!(packetiser.heartbeat(), Err(PacketiserError::Ended));
}

#[test]
fn golden_control_packets_parse() {
    let heartbeat = PacketRepr::parse(&Packet::new_checked(&HEARTBEAT_BYTES[..]).expect("hdr"));
    assert_eq!(
        heartbeat,
        Ok(PacketRepr {
            session: session(),
            seq: 44,
            kind: PacketKind::Heartbeat
        })
    );
    let end = PacketRepr::parse(&Packet::new_checked(&END_OF_SESSION_BYTES[..]).expect("hdr"));
    assert_eq!(
        end,
        Ok(PacketRepr {
            session: session(),
            seq: 44,
            kind: PacketKind::EndOfSession
        })
    );
    assert_eq!(end.expect("valid").end_seq(), 44);
}

#[test]
fn golden_request_both_ways() {
    let repr = RequestRepr {
        session: session(),
        seq: 7,
        count: 100,
    };
    let request = Request::new_checked(&REQUEST_BYTES[..]).expect("length");
    assert_eq!(RequestRepr::parse(&request), Ok(repr));
    let mut bytes = [0xa5u8; 20];
    repr.emit(&mut Request::new_unchecked(&mut bytes[..]));
    assert_eq!(bytes, REQUEST_BYTES);
    assert_eq!(
        Request::new_checked(&REQUEST_BYTES[..19]).err(),
        Some(FrameError::HeaderTruncated)
    );
    let mut longer = REQUEST_BYTES.to_vec();
    longer.push(0);
    assert_eq!(
        Request::new_checked(&longer[..]).err(),
        Some(FrameError::RequestOverlong)
    );
}

fn parse(bytes: &[u8]) -> Result<PacketRepr, FrameError> {
    PacketRepr::parse(&Packet::new_checked(bytes)?)
}

#[test]
fn malformed_packets_are_rejected_with_a_reason() {
    assert_eq!(parse(&PACKET_BYTES[..19]), Err(FrameError::HeaderTruncated));
    // The last block loses its last byte; then only its length prefix's first byte remains.
    assert_eq!(parse(&PACKET_BYTES[..65]), Err(FrameError::BlockTruncated));
    assert_eq!(parse(&PACKET_BYTES[..41]), Err(FrameError::CountMismatch));
    assert_eq!(parse(&PACKET_BYTES[..42]), Err(FrameError::BlockTruncated));
    assert_eq!(parse(&PACKET_BYTES[..43]), Err(FrameError::BlockTruncated));
    let mut count_three = PACKET_BYTES;
    count_three[19] = 3;
    assert_eq!(parse(&count_three), Err(FrameError::CountMismatch));
    let mut count_one = PACKET_BYTES;
    count_one[19] = 1;
    assert_eq!(parse(&count_one), Err(FrameError::CountMismatch));
    let mut trailing = PACKET_BYTES.to_vec();
    trailing.extend_from_slice(&[0, 0]);
    assert_eq!(parse(&trailing), Err(FrameError::CountMismatch));
    let mut heartbeat_payload = HEARTBEAT_BYTES.to_vec();
    heartbeat_payload.push(0);
    assert_eq!(parse(&heartbeat_payload), Err(FrameError::PayloadOnControl));
    let mut bad_session = PACKET_BYTES;
    bad_session[3] = 0;
    assert_eq!(parse(&bad_session), Err(FrameError::BadSession));
    let mut overflow = PACKET_BYTES;
    overflow[10..18].copy_from_slice(&u64::MAX.to_be_bytes());
    assert_eq!(parse(&overflow), Err(FrameError::SequenceOverflow));
}

#[test]
fn packetiser_respects_the_packet_size() {
    // Order Delete blocks are 2 + 19 bytes: (1400 - 20) / 21 = 65 fit.
    let mut packetiser = Packetiser::new(vec![0u8; 1400], session(), 1, 1400).expect("config");
    for order in 0..65 {
        assert_eq!(packetiser.push(&delete(order)), Ok(order + 1));
    }
    assert_eq!(packetiser.push(&delete(65)), Err(PacketiserError::Full));
    assert_eq!(packetiser.heartbeat(), Err(PacketiserError::Pending));
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let seq = packetiser.push_with(&delete(65), &mut |packet: &[u8]| sent.push(packet.to_vec()));
    assert_eq!(seq, Ok(66));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 20 + 65 * 21);
    let first = parse(&sent[0]).expect("valid");
    assert_eq!((first.seq, first.kind), (1, PacketKind::Messages(65)));
    let second = packetiser.flush().expect("one pending").to_vec();
    let second = parse(&second).expect("valid");
    assert_eq!((second.seq, second.kind), (66, PacketKind::Messages(1)));
}

#[test]
fn packetiser_checks_its_configuration() {
    let too_small = Packetiser::new([0u8; 100], session(), 1, PACKET_BYTES_MIN - 1);
    assert_eq!(too_small.err(), Some(PacketiserError::PacketSize));
    let beyond_buffer = Packetiser::new([0u8; 100], session(), 1, 101);
    assert_eq!(beyond_buffer.err(), Some(PacketiserError::PacketSize));
    let zero = Packetiser::new([0u8; 100], session(), 0, 100);
    assert_eq!(zero.err(), Some(PacketiserError::ZeroSeq));
    let smallest = Packetiser::new([0u8; PACKET_BYTES_MIN], session(), 1, PACKET_BYTES_MIN);
    assert!(smallest.is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn packets_round_trip(
        messages in prop::collection::vec(crate::itch::tests::any_message(), 0..200),
        start_seq in 1u64..1_000_000,
        packet_bytes in PACKET_BYTES_MIN..1500,
    ) {
        let mut packetiser =
            Packetiser::new(vec![0xa5u8; 1500], session(), start_seq, packet_bytes).expect("cfg");
        let mut packets: Vec<Vec<u8>> = Vec::new();
        for message in &messages {
            packetiser
                .push_with(message, &mut |packet: &[u8]| packets.push(packet.to_vec()))
                .expect("fits after a flush");
        }
        if let Some(packet) = packetiser.flush() {
            packets.push(packet.to_vec());
        }
        prop_assert_eq!(packetiser.next_seq(), start_seq + messages.len() as u64);
        let mut decoded = Vec::new();
        let mut expected_seq = start_seq;
        for bytes in &packets {
            prop_assert!(bytes.len() <= packet_bytes);
            let packet = Packet::new_checked(&bytes[..]).expect("header");
            let repr = PacketRepr::parse(&packet).expect("valid");
            prop_assert_eq!(repr.seq, expected_seq);
            expected_seq = repr.end_seq();
            for block in packet.blocks() {
                decoded.push(MessageRepr::parse(block.expect("framed")).expect("valid"));
            }
        }
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn packet_headers_round_trip(seq in any::<u64>(), count in any::<u16>()) {
        let kind = PacketKind::from_count(count);
        prop_assert_eq!(kind.count(), count);
        let repr = PacketRepr { session: session(), seq, kind };
        let mut bytes = [0xa5u8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        let packet = Packet::new_checked(&bytes[..]).expect("header");
        prop_assert_eq!((packet.seq(), packet.count()), (seq, count));
    }
}
