//! The sans-IO re-request server against a real store on a fake clock: answers carry exactly
//! the stored messages; every kind of bad or unanswerable request is dropped and counted;
//! grants are clamped; token buckets limit each requester independently; the requester table
//! stays bounded.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};

use super::*;
use crate::moldudp64::{Packet, PacketRepr, HEADER_LEN};
use crate::retransmit::{RetransmitConfig, DATA_CAPACITY_BYTES_MIN};

fn session() -> Session {
    Session::from_text("RRQTEST").expect("session")
}

fn source(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), port))
}

fn message(seq: u64) -> [u8; 19] {
    let mut bytes = [b'D'; 19];
    bytes[11..19].copy_from_slice(&seq.to_be_bytes());
    bytes
}

/// A store holding messages `1..=count` (at most the last 100 kept).
fn store(dir: &tempfile::TempDir, count: u64) -> SharedStore {
    let config = RetransmitConfig {
        path: dir.path().join("store.dat"),
        message_capacity: 100,
        data_capacity_bytes: DATA_CAPACITY_BYTES_MIN,
    };
    let mut store = Store::create(&config, session(), 1).expect("store");
    for seq in 1..=count {
        store.append(&message(seq));
    }
    Arc::new(Mutex::new(store))
}

fn config() -> RerequestConfig {
    RerequestConfig {
        request_count_max: 50,
        rate_messages_per_second: 1_000,
        rate_burst_messages: 100,
        requester_capacity: 8,
        packet_size_bytes: 200,
        ..RerequestConfig::default()
    }
}

fn request(session: Session, seq: u64, count: u16) -> [u8; 20] {
    let mut bytes = [0xa5u8; 20];
    RequestRepr {
        session,
        seq,
        count,
    }
    .emit(&mut Request::new_unchecked(&mut bytes[..]));
    bytes
}

fn ask(
    server: &mut RerequestServer,
    store: &SharedStore,
    now_ns: u64,
    from: u16,
    seq: u64,
    count: u16,
) -> Result<Grant, Refusal> {
    server.handle_request(
        now_ns,
        source(from),
        &request(session(), seq, count),
        &lock(store),
    )
}

#[test]
fn a_grant_is_answered_with_exactly_the_stored_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir, 80);
    let mut server = RerequestServer::new(&config(), session()).expect("server");
    let grant = ask(&mut server, &store, 0, 1, 40, 30).expect("granted");
    assert_eq!(
        grant,
        Grant {
            first_seq: 40,
            count: 30
        }
    );
    let mut buffer = [0u8; 200];
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let answered = answer(&store, grant, &mut buffer, |bytes| {
        packets.push(bytes.to_vec());
        true
    });
    // 200-byte packets hold 8 blocks of 21 bytes after the header: 8 + 8 + 8 + 6.
    assert_eq!(
        answered,
        Answered {
            messages: 30,
            packets: 4,
            send_errors: 0,
            cut: false
        }
    );
    let mut seq = 40;
    for packet in &packets {
        assert!(packet.len() <= 200);
        let view = Packet::new_checked(packet.as_slice()).expect("header");
        let repr = PacketRepr::parse(&view).expect("well-formed");
        assert_eq!((repr.session, repr.seq), (session(), seq));
        for block in view.blocks() {
            assert_eq!(block.expect("block"), message(seq));
            seq += 1;
        }
    }
    assert_eq!(seq, 70);
    server.note_answer(&answered);
    let counters = server.counters();
    assert_eq!(
        (counters.requests, counters.granted, counters.clamped),
        (1, 1, 0)
    );
    assert_eq!(
        (counters.messages_answered, counters.packets_answered),
        (30, 4)
    );
}

#[test]
fn bad_and_unanswerable_requests_are_dropped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir, 150);
    let mut server = RerequestServer::new(&config(), session()).expect("server");
    let good = request(session(), 60, 1);
    let mut bad_session = good;
    bad_session[3] = 0x07;
    let other = request(Session::from_text("OTHER").expect("session"), 60, 1);
    let cases: Vec<(&[u8], Refusal)> = vec![
        (&good[..19], Refusal::Malformed(FrameError::HeaderTruncated)),
        (&[0u8; 21], Refusal::Malformed(FrameError::RequestOverlong)),
        (&[], Refusal::Malformed(FrameError::HeaderTruncated)),
        (&bad_session, Refusal::Malformed(FrameError::BadSession)),
        (&other, Refusal::WrongSession),
    ];
    for (bytes, refusal) in cases {
        assert_eq!(
            server.handle_request(0, source(1), bytes, &lock(&store)),
            Err(refusal)
        );
    }
    assert_eq!(
        ask(&mut server, &store, 0, 1, 60, 0),
        Err(Refusal::ZeroCount)
    );
    // The store keeps 51..=150: 50 was evicted; 151 is not published yet; 0 never exists.
    let evicted = Refusal::Unavailable(Availability::Evicted { oldest_seq: 51 });
    assert_eq!(ask(&mut server, &store, 0, 1, 50, 10), Err(evicted));
    assert_eq!(ask(&mut server, &store, 0, 1, 0, 10), Err(evicted));
    let future = Refusal::Unavailable(Availability::NotYetPublished { next_seq: 151 });
    assert_eq!(ask(&mut server, &store, 0, 1, 151, 10), Err(future));
    let counters = *server.counters();
    assert_eq!(counters.requests, 9);
    assert_eq!(
        (
            counters.malformed,
            counters.wrong_session,
            counters.zero_count
        ),
        (4, 1, 1)
    );
    assert_eq!(
        (
            counters.evicted,
            counters.not_yet_published,
            counters.granted
        ),
        (2, 1, 0)
    );
}

#[test]
fn grants_are_clamped_to_the_count_max_and_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir, 80);
    let mut server = RerequestServer::new(&config(), session()).expect("server");
    assert_eq!(
        ask(&mut server, &store, 0, 1, 1, 500),
        Ok(Grant {
            first_seq: 1,
            count: 50
        })
    );
    assert_eq!(
        ask(&mut server, &store, 0, 2, 75, 500),
        Ok(Grant {
            first_seq: 75,
            count: 6
        })
    );
    assert_eq!(server.counters().clamped, 2);
}

#[test]
fn each_requester_has_its_own_token_bucket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir, 80);
    let mut server = RerequestServer::new(&config(), session()).expect("server");
    // Burst 100: two grants of 50, then nothing at the same instant.
    assert_eq!(
        ask(&mut server, &store, 0, 1, 1, 50).map(|g| g.count),
        Ok(50)
    );
    assert_eq!(
        ask(&mut server, &store, 0, 1, 1, 50).map(|g| g.count),
        Ok(50)
    );
    assert_eq!(
        ask(&mut server, &store, 0, 1, 1, 50),
        Err(Refusal::RateLimited)
    );
    // Another port is another requester.
    assert_eq!(
        ask(&mut server, &store, 0, 2, 1, 50).map(|g| g.count),
        Ok(50)
    );
    // 1,000 messages per second: 20 ms refills 20 tokens; the grant is cut to them.
    assert_eq!(
        ask(&mut server, &store, 20_000_000, 1, 1, 50).map(|g| g.count),
        Ok(20)
    );
    assert_eq!(
        ask(&mut server, &store, 20_000_000, 1, 1, 50),
        Err(Refusal::RateLimited)
    );
    // A long pause refills to the burst, never beyond.
    let later = 3_600_000_000_000;
    assert_eq!(
        ask(&mut server, &store, later, 1, 1, 50).map(|g| g.count),
        Ok(50)
    );
    assert_eq!(
        ask(&mut server, &store, later, 1, 1, 50).map(|g| g.count),
        Ok(50)
    );
    assert_eq!(
        ask(&mut server, &store, later, 1, 1, 50),
        Err(Refusal::RateLimited)
    );
    assert_eq!(server.counters().rate_limited, 3);
}

#[test]
fn the_requester_table_is_bounded_and_forgets_idle_requesters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir, 80);
    let mut server = RerequestServer::new(&config(), session()).expect("server");
    // Capacity 8 = one window: eight busy requesters (each spent tokens) fill it.
    for port in 1..=8 {
        assert!(ask(&mut server, &store, 0, port, 1, 10).is_ok());
    }
    assert_eq!(
        ask(&mut server, &store, 0, 9, 1, 10),
        Err(Refusal::TableFull)
    );
    assert_eq!(server.counters().table_full, 1);
    // Known requesters still get answers.
    assert!(ask(&mut server, &store, 0, 3, 1, 10).is_ok());
    // Once the buckets have refilled (10 ms at 1,000/s refills 10), a newcomer takes a slot.
    assert!(ask(&mut server, &store, 20_000_000, 9, 1, 10).is_ok());
}

#[test]
fn answers_stop_when_the_store_evicted_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir, 60);
    let grant = Grant {
        first_seq: 1,
        count: 60,
    };
    for seq in 61..=150 {
        lock(&store).append(&message(seq));
    }
    let mut buffer = [0u8; 200];
    let answered = answer(&store, grant, &mut buffer, |_| true);
    assert_eq!(
        answered,
        Answered {
            messages: 0,
            packets: 0,
            send_errors: 0,
            cut: true
        }
    );
    let mut small = [0u8; HEADER_LEN + 5];
    let answered = answer(
        &store,
        Grant {
            first_seq: 10,
            count: 1,
        },
        &mut small,
        |_| true,
    );
    assert!(answered.cut);
}

#[test]
fn bad_configurations_are_refused() {
    let cases = [
        (
            RerequestConfig {
                request_count_max: 0,
                ..config()
            },
            RerequestConfigError::RequestCountMax,
        ),
        (
            RerequestConfig {
                rate_messages_per_second: 0,
                ..config()
            },
            RerequestConfigError::Rate,
        ),
        (
            RerequestConfig {
                rate_burst_messages: 49,
                ..config()
            },
            RerequestConfigError::Burst,
        ),
        (
            RerequestConfig {
                requester_capacity: 12,
                ..config()
            },
            RerequestConfigError::RequesterCapacity,
        ),
        (
            RerequestConfig {
                requester_capacity: 4,
                ..config()
            },
            RerequestConfigError::RequesterCapacity,
        ),
        (
            RerequestConfig {
                packet_size_bytes: 10,
                ..config()
            },
            RerequestConfigError::PacketSize,
        ),
    ];
    for (config, error) in cases {
        assert_eq!(RerequestServer::new(&config, session()).err(), Some(error));
    }
    let config: RerequestConfig =
        toml::from_str("listen = \"127.0.0.1:9000\"\nrequest_count_max = 10\n").expect("toml");
    assert_eq!(config.listen, "127.0.0.1:9000".parse().expect("addr"));
    assert_eq!(config.request_count_max, 10);
}
