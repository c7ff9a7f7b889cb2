//! The store against a model (the list of every appended message): it always holds a suffix of
//! that list with the right bytes, evicts no earlier than its bounds require, answers with
//! well-formed packets and refuses evicted and future ranges.

use proptest::prelude::*;

use super::*;
use crate::moldudp64::{Packetiser, PACKET_BYTES_DEFAULT};

fn session() -> Session {
    Session::from_text("RTXTEST").expect("session")
}

fn config(
    dir: &tempfile::TempDir,
    message_capacity: u32,
    data_capacity_bytes: u64,
) -> RetransmitConfig {
    RetransmitConfig {
        path: dir.path().join("store.dat"),
        message_capacity,
        data_capacity_bytes,
    }
}

/// A message of `len` bytes whose content names its number.
fn message(number: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|index| (number as u8).wrapping_mul(31).wrapping_add(index as u8))
        .collect()
}

fn check_against_model(store: &Store, appended: &[Vec<u8>], data_capacity_bytes: u64) {
    let next_seq = appended.len() as u64 + 1;
    assert_eq!(store.next_seq(), next_seq);
    assert!(store.oldest_seq() >= 1 && store.oldest_seq() <= next_seq);
    let mut stored_bytes = 0u64;
    for seq in store.oldest_seq()..next_seq {
        let original = &appended[(seq - 1) as usize];
        assert_eq!(
            store.message(seq),
            Some(original.as_slice()),
            "message {seq}"
        );
        stored_bytes += (original.len() + BLOCK_PREFIX_LEN) as u64;
    }
    for seq in 1..store.oldest_seq() {
        assert_eq!(
            store.availability(seq),
            Availability::Evicted {
                oldest_seq: store.oldest_seq()
            }
        );
        assert_eq!(store.message(seq), None);
    }
    assert_eq!(
        store.availability(next_seq),
        Availability::NotYetPublished { next_seq }
    );
    // Not evicted early: either the index is full, or the bytes kept plus one skipped tail and
    // one more block would not fit the ring.
    let block_max = (60 + BLOCK_PREFIX_LEN) as u64;
    let index_full = store.len() == store.message_capacity;
    assert!(
        store.oldest_seq() == 1
            || index_full
            || stored_bytes + 2 * block_max >= data_capacity_bytes,
        "evicted early: {stored_bytes} bytes kept of {data_capacity_bytes}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn holds_a_suffix_of_what_was_appended(
        lens in prop::collection::vec(1usize..=60, 1..1_500),
        message_capacity in prop_oneof![Just(1u32), 2u32..64, Just(100_000)],
        data_extra in 0u64..4_000,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_capacity_bytes = DATA_CAPACITY_BYTES_MIN + data_extra;
        let mut store = Store::create(&config(&dir, message_capacity, data_capacity_bytes), session(), 1)
            .expect("store");
        let mut appended = Vec::new();
        for (number, &len) in lens.iter().enumerate() {
            let bytes = message(number as u64, len);
            prop_assert_eq!(store.append(&bytes), number as u64 + 1);
            appended.push(bytes);
            if number % 97 == 0 {
                check_against_model(&store, &appended, data_capacity_bytes);
            }
        }
        check_against_model(&store, &appended, data_capacity_bytes);
    }
}

#[test]
fn message_capacity_bounds_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store =
        Store::create(&config(&dir, 4, DATA_CAPACITY_BYTES_MIN), session(), 1).expect("store");
    for number in 0..10 {
        store.append(&message(number, 20));
    }
    assert_eq!(
        (store.oldest_seq(), store.next_seq(), store.len()),
        (7, 11, 4)
    );
    assert_eq!(
        store.availability(6),
        Availability::Evicted { oldest_seq: 7 }
    );
    assert_eq!(
        store.availability(0),
        Availability::Evicted { oldest_seq: 7 }
    );
    assert_eq!(store.availability(7), Availability::Available);
    assert_eq!(store.availability(10), Availability::Available);
    assert_eq!(
        store.availability(11),
        Availability::NotYetPublished { next_seq: 11 }
    );
}

#[test]
fn data_capacity_bounds_the_store_and_blocks_never_wrap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::create(
        &config(&dir, 1 << 20, DATA_CAPACITY_BYTES_MIN),
        session(),
        1,
    )
    .expect("store");
    // 52-byte blocks: 315 fit in 16 KiB; the ring wraps several times.
    let mut appended = Vec::new();
    for number in 0..2_000u64 {
        let bytes = message(number, 50);
        store.append(&bytes);
        appended.push(bytes);
    }
    check_against_model(&store, &appended, DATA_CAPACITY_BYTES_MIN);
    assert_eq!(store.len(), DATA_CAPACITY_BYTES_MIN / 52);
}

#[test]
fn fill_packet_answers_with_a_well_formed_packet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store =
        Store::create(&config(&dir, 1_000, DATA_CAPACITY_BYTES_MIN), session(), 1).expect("store");
    for number in 0..100u64 {
        store.append(&message(number, 36));
    }
    let mut buffer = [0xa5u8; PACKET_BYTES_DEFAULT];
    let fill = store.fill_packet(10, 5, &mut buffer).expect("available");
    assert_eq!(
        fill,
        PacketFill {
            len: HEADER_LEN + 5 * 38,
            count: 5
        }
    );
    let packet = Packet::new_checked(&buffer[..fill.len]).expect("header");
    let repr = PacketRepr::parse(&packet).expect("well-formed");
    assert_eq!(
        (repr.session, repr.seq, repr.kind),
        (session(), 10, PacketKind::Messages(5))
    );
    let blocks: Vec<&[u8]> = packet.blocks().map(|block| block.expect("block")).collect();
    for (index, block) in blocks.iter().enumerate() {
        assert_eq!(*block, message(9 + index as u64, 36).as_slice());
    }
    // The buffer bounds the packet: 1,400 bytes hold 36 blocks of 38 bytes after the header.
    let fill = store
        .fill_packet(1, u16::MAX, &mut buffer)
        .expect("available");
    assert_eq!(
        fill.count,
        ((PACKET_BYTES_DEFAULT - HEADER_LEN) / 38) as u16
    );
    // Past the end: answered up to the last stored message.
    let fill = store.fill_packet(98, 50, &mut buffer).expect("available");
    assert_eq!(fill.count, 3);
    assert_eq!(
        store.fill_packet(101, 1, &mut buffer),
        Err(FillError::Unavailable(Availability::NotYetPublished {
            next_seq: 101
        }))
    );
    assert_eq!(
        store.fill_packet(1, 0, &mut buffer),
        Err(FillError::NothingFits)
    );
    assert_eq!(
        store.fill_packet(1, 1, &mut buffer[..HEADER_LEN + 10]),
        Err(FillError::NothingFits)
    );
}

#[test]
fn append_packet_takes_the_publishers_packets_and_skips_control_packets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store =
        Store::create(&config(&dir, 1_000, DATA_CAPACITY_BYTES_MIN), session(), 1).expect("store");
    let encoder_messages = crate::itch::tests::all_messages();
    let mut packetiser = Packetiser::new(
        vec![0u8; PACKET_BYTES_DEFAULT],
        session(),
        1,
        PACKET_BYTES_DEFAULT,
    )
    .expect("packetiser");
    let mut appended = 0u64;
    for message in &encoder_messages {
        if packetiser.push(message) == Err(crate::moldudp64::PacketiserError::Full) {
            appended += u64::from(store.append_packet(packetiser.flush().expect("pending")));
            packetiser.push(message).expect("fits an empty packet");
        }
    }
    appended += u64::from(store.append_packet(packetiser.flush().expect("pending")));
    assert_eq!(
        store.append_packet(packetiser.heartbeat().expect("heartbeat")),
        0
    );
    assert_eq!(appended, encoder_messages.len() as u64);
    for (index, message) in encoder_messages.iter().enumerate() {
        let mut bytes = vec![0u8; message.buffer_len()];
        message.emit(&mut bytes);
        assert_eq!(store.message(index as u64 + 1), Some(bytes.as_slice()));
    }
}

#[test]
fn header_on_disk_names_the_counters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&dir, 8, DATA_CAPACITY_BYTES_MIN);
    let mut store = Store::create(&config, session(), 5).expect("store");
    for number in 0..12 {
        store.append(&message(number, 10));
    }
    let bytes = std::fs::read(&config.path).expect("file");
    assert_eq!(
        bytes.len() as u64,
        FILE_HEADER_LEN as u64 + 8 * INDEX_SLOT_LEN as u64 + DATA_CAPACITY_BYTES_MIN
    );
    assert_eq!(&bytes[..8], b"PRGNRTX1");
    assert_eq!(u32::read(&bytes, field::MESSAGE_CAPACITY), 8);
    assert_eq!(
        u64::read(&bytes, field::DATA_CAPACITY),
        DATA_CAPACITY_BYTES_MIN
    );
    assert_eq!(&bytes[field::SESSION..field::SESSION + 10], b"RTXTEST   ");
    assert_eq!(u64::read(&bytes, field::OLDEST_SEQ), 9);
    assert_eq!(u64::read(&bytes, field::NEXT_SEQ), 17);
    assert_eq!(u64::read(&bytes, field::WRITE_POSITION), 12 * 12);
}

#[test]
fn bad_configurations_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            config(&dir, 0, DATA_CAPACITY_BYTES_MIN),
            1,
            StoreError::MessageCapacity,
        ),
        (
            config(&dir, MESSAGE_CAPACITY_MAX + 1, DATA_CAPACITY_BYTES_MIN),
            1,
            StoreError::MessageCapacity,
        ),
        (
            config(&dir, 8, DATA_CAPACITY_BYTES_MIN - 1),
            1,
            StoreError::DataCapacity,
        ),
        (
            config(&dir, 8, DATA_CAPACITY_BYTES_MAX + 1),
            1,
            StoreError::DataCapacity,
        ),
        (
            config(&dir, 8, DATA_CAPACITY_BYTES_MIN),
            0,
            StoreError::ZeroSeq,
        ),
    ];
    for (config, first_seq, error) in cases {
        assert_eq!(
            Store::create(&config, session(), first_seq).err(),
            Some(error)
        );
    }
    let missing = RetransmitConfig {
        path: dir.path().join("no/such/dir/store.dat"),
        ..config(&dir, 8, DATA_CAPACITY_BYTES_MIN)
    };
    assert_eq!(
        Store::create(&missing, session(), 1).err(),
        Some(StoreError::Io(std::io::ErrorKind::NotFound))
    );
}

#[test]
fn config_reads_from_toml_with_defaults() {
    let config: RetransmitConfig =
        toml::from_str("path = \"/tmp/x.dat\"\nmessage_capacity = 4096\n").expect("toml");
    assert_eq!(config.path, PathBuf::from("/tmp/x.dat"));
    assert_eq!(config.message_capacity, 4096);
    assert_eq!(
        config.data_capacity_bytes,
        RetransmitConfig::default().data_capacity_bytes
    );
    assert!(toml::from_str::<RetransmitConfig>("capacity = 1\n").is_err());
}
