//! Stable smoke test of the servers against hostile input (the cargo-fuzz target
//! `feed/fuzz/fuzz_targets/servers.rs` does the same under coverage guidance, on nightly):
//! random bytes and mutated valid packets, fed to a snapshot connection, to the re-request
//! server and to the End of Snapshot decoder, never panic; the session never consumes more
//! than it is given and only well-formed logins start a snapshot; grants stay inside the
//! store and the count limit.

use std::net::SocketAddr;
use std::sync::Arc;

use peregrine_feed::moldudp64::{Request, RequestRepr, Session};
use peregrine_feed::rerequest::{RerequestConfig, RerequestServer};
use peregrine_feed::retransmit::{RetransmitConfig, Store};
use peregrine_feed::snapshot::{
    BookSnapshot, EndOfSnapshotRepr, SnapshotConfig, SnapshotSession, END_OF_SNAPSHOT_LEN,
};
use proptest::prelude::*;

fn session() -> Session {
    Session::from_text("FUZZ000002").expect("ascii")
}

/// A valid Login Request (49 bytes) as mutation seed.
fn login() -> Vec<u8> {
    let mut bytes = vec![0, 47, b'L'];
    bytes.extend_from_slice(b"user  password  ");
    bytes.extend_from_slice(&[b' '; 10]);
    bytes.extend_from_slice(b"                   1");
    bytes
}

fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4).prop_map(
        move |edits| {
            let mut bytes = seed.clone();
            for (index, byte) in edits {
                let at = index.index(bytes.len());
                bytes[at] = byte;
            }
            bytes
        },
    )
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    let mut request = [0u8; 20];
    RequestRepr {
        session: session(),
        seq: 40,
        count: 5,
    }
    .emit(&mut Request::new_unchecked(&mut request[..]));
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        mutated(login()),
        mutated(request.to_vec()),
        mutated(b"G                  42".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn hostile_input_never_panics(data in input(), split in any::<prop::sample::Index>()) {
        let split = split.index(data.len() + 1);
        let snapshot = Arc::new(BookSnapshot::from_messages(7, Vec::new()));
        let mut snapshot_session = SnapshotSession::new(0, session(), &SnapshotConfig::default());
        let first = snapshot_session.handle_input(1, &data[..split], || Some(snapshot.clone()));
        prop_assert!(first <= split);
        let rest = &data[first..];
        let second = snapshot_session.handle_input(2, rest, || Some(snapshot.clone()));
        prop_assert!(second <= rest.len());
        let mut transmit = [0u8; 4096];
        let mut sent = 0;
        for _ in 0..10 {
            let len = snapshot_session.poll_transmit(&mut transmit);
            if len == 0 {
                break;
            }
            sent += len;
        }
        if sent > 0 && data.get(2) == Some(&b'L') {
            // A login was consumed whole before anything was sent.
            prop_assert!(first + second >= 49);
        }

        let dir = tempfile::tempdir().expect("tempdir");
        let config = RetransmitConfig {
            path: dir.path().join("store.dat"),
            message_capacity: 64,
            data_capacity_bytes: 16 * 1024,
        };
        let mut store = Store::create(&config, session(), 1).expect("store");
        for seq in 1..=100u64 {
            store.append(&seq.to_be_bytes());
        }
        let rerequest = RerequestConfig {
            request_count_max: 10,
            rate_burst_messages: 10,
            requester_capacity: 8,
            ..RerequestConfig::default()
        };
        let mut server = RerequestServer::new(&rerequest, session()).expect("server");
        let source: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        if let Ok(grant) = server.handle_request(0, source, &data, &store) {
            prop_assert!(grant.count >= 1 && grant.count <= 10);
            prop_assert!(grant.first_seq >= store.oldest_seq());
            prop_assert!(grant.first_seq + u64::from(grant.count) <= store.next_seq());
        }
        prop_assert_eq!(server.counters().requests, 1);

        if let Some(end) = EndOfSnapshotRepr::parse(&data) {
            let mut bytes = [0u8; END_OF_SNAPSHOT_LEN];
            end.emit(&mut bytes);
            prop_assert_eq!(EndOfSnapshotRepr::parse(&bytes), Some(end));
        }
    }
}
