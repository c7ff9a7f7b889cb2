//! Fuzz target for the server-side inputs: a snapshot connection's client bytes
//! (`SnapshotSession::handle_input`, fed in two arbitrary pieces), the re-request server's
//! request datagrams (`RerequestServer::handle_request` against a small store) and the End of
//! Snapshot decoder.
//!
//! Asserts: nothing panics; the session never consumes more than it was given; a granted
//! request lies within the store and the count limit; an End of Snapshot that parses
//! re-emits to bytes that parse to the same value.
//!
//! Run: `cd feed/fuzz && cargo +nightly fuzz run servers`.

#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use peregrine_feed::moldudp64::Session;
use peregrine_feed::rerequest::{RerequestConfig, RerequestServer};
use peregrine_feed::retransmit::{lock, RetransmitConfig, SharedStore, Store};
use peregrine_feed::snapshot::{
    BookSnapshot, EndOfSnapshotRepr, SnapshotConfig, SnapshotSession, END_OF_SNAPSHOT_LEN,
};

fn session() -> Session {
    Session::from_text("FUZZ000002").expect("ascii")
}

fn store() -> &'static SharedStore {
    static STORE: OnceLock<SharedStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let config = RetransmitConfig {
            path: std::env::temp_dir().join(format!("peregrine-feed-fuzz-{}.dat", std::process::id())),
            message_capacity: 64,
            data_capacity_bytes: 16 * 1024,
        };
        let mut store = Store::create(&config, session(), 1).expect("store");
        for seq in 1..=100u64 {
            store.append(&seq.to_be_bytes());
        }
        Arc::new(Mutex::new(store))
    })
}

fuzz_target!(|data: &[u8]| {
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let snapshot = Arc::new(BookSnapshot::from_messages(7, Vec::new()));
    let mut snapshot_session = SnapshotSession::new(0, session(), &SnapshotConfig::default());
    let consumed = snapshot_session.handle_input(1, &data[..split], || Some(snapshot.clone()));
    assert!(consumed <= split);
    let consumed = snapshot_session.handle_input(2, &data[split..], || Some(snapshot.clone()));
    assert!(consumed <= data.len() - split);
    let mut transmit = [0u8; 4096];
    while snapshot_session.poll_transmit(&mut transmit) > 0 {}

    let config = RerequestConfig {
        request_count_max: 10,
        rate_burst_messages: 10,
        requester_capacity: 8,
        ..RerequestConfig::default()
    };
    let mut server = RerequestServer::new(&config, session()).expect("server");
    let source: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let store = lock(store());
    if let Ok(grant) = server.handle_request(0, source, data, &store) {
        assert!(grant.count >= 1 && grant.count <= 10);
        assert!(grant.first_seq >= store.oldest_seq());
        assert!(grant.first_seq + u64::from(grant.count) <= store.next_seq());
    }

    if let Some(end) = EndOfSnapshotRepr::parse(data) {
        let mut bytes = [0u8; END_OF_SNAPSHOT_LEN];
        end.emit(&mut bytes);
        // Leading zeros are accepted on input and not written on output.
        assert_eq!(EndOfSnapshotRepr::parse(&bytes), Some(end));
    }
});
