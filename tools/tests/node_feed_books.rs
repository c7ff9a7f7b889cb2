//! The node's re-request server, end to end: random order flow through a real node, a feed
//! subscriber (`FeedClient`) that loses every fifth data packet re-requests the gaps, and its
//! books equal the engine's books rebuilt by replaying the node's journal after shutdown. So
//! do the books of a late joiner that starts from the node's snapshot server. A node killed
//! and restarted publishes a new MoldUDP64 session, and a subscriber that followed the old one
//! moves to it through the snapshot server and ends with the journal's books.

mod node_common;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use node_common::books::{
    assert_books_equal, catch_up, drop_every_fifth_data_packet, random_flow, replay_journal,
    BOOK_CONFIG,
};
use node_common::{data_dir, Member, NodeProcess, DEADLINE, DEFAULT_CONFIG};
use peregrine_feed::net::MulticastConfig;
use peregrine_feed::subscriber_net::{FeedClient, SubscriberNetConfig};

/// A node config on a feed group and ports of the test's own (`slot` keeps the tests of this
/// file apart), and the subscriber config that matches it.
fn feed_configs(slot: u16, group: Ipv4Addr) -> (String, SubscriberNetConfig, u16) {
    let feed_port = 45_000 + (std::process::id() % 3_000) as u16 * 3 + slot * 10_000;
    let rerequest_port = feed_port + 1;
    let snapshot_port = feed_port + 2;
    let config = DEFAULT_CONFIG
        .replace("group = \"239.192.0.1\"", &format!("group = \"{group}\""))
        .replace("port = 31001", &format!("port = {feed_port}"))
        .replace(
            "rerequest_listen = \"127.0.0.1:0\"",
            &format!("rerequest_listen = \"127.0.0.1:{rerequest_port}\""),
        )
        .replace(
            "snapshot_listen = \"127.0.0.1:0\"",
            &format!("snapshot_listen = \"127.0.0.1:{snapshot_port}\""),
        );
    assert!(config.contains(&format!(":{rerequest_port}\"")));
    assert!(config.contains(&format!(":{snapshot_port}\"")));
    let subscriber_config = SubscriberNetConfig {
        multicast: MulticastConfig {
            group,
            port: feed_port,
            interface: Ipv4Addr::LOCALHOST,
            ..MulticastConfig::default()
        },
        rerequest: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, rerequest_port)),
        snapshot: None,
        ..SubscriberNetConfig::default()
    };
    (config, subscriber_config, snapshot_port)
}

#[test]
fn a_lossy_subscriber_ends_with_the_engines_books() {
    let (config, subscriber_config, snapshot_port) = feed_configs(0, Ipv4Addr::new(239, 192, 7, 9));
    let book_config = BOOK_CONFIG;
    let mut client = FeedClient::join(&subscriber_config, book_config).expect("join the feed");
    // Drop every fifth multicast packet that carries messages while `lossy` is set
    // (heartbeats and the end of session pass, so the tail of a lost run is still detected).
    // Loss stops before shutdown: the servers stop with the session, so what the node
    // publishes while it ends must arrive first time.
    let lossy = Arc::new(AtomicBool::new(true));
    client.set_drop_hook(drop_every_fifth_data_packet(Arc::clone(&lossy)));

    let dir = data_dir("feed-books");
    let node = NodeProcess::start_with_config(&dir, &config, &["--single-thread"]);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    random_flow(&mut alice, &mut bob);

    // Catch up while the re-request server runs.
    catch_up(&mut client, |_| true);
    // A late joiner loads the node's latest book snapshot (taken at a quiet point) from the
    // snapshot server and follows the live feed from its join sequence number.
    let mut late = FeedClient::join_late(
        &SubscriberNetConfig {
            snapshot: Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::LOCALHOST,
                snapshot_port,
            ))),
            ..subscriber_config
        },
        book_config,
    )
    .expect("late join from the snapshot server");
    assert_eq!(late.counters().resyncs, 1);
    lossy.store(false, Ordering::Relaxed);
    assert!(node.terminate());
    let late_complete = late
        .run_until(DEADLINE, FeedClient::is_complete)
        .expect("poll late joiner");
    assert!(late_complete, "late joiner not complete: {late:?}");
    let complete = client
        .run_until(DEADLINE, FeedClient::is_complete)
        .expect("poll");
    assert!(complete, "feed session not complete: {client:?}");
    let counters = *client.counters();
    assert!(counters.dropped_by_hook > 0, "{counters:?}");
    assert!(counters.requests_sent > 0, "{counters:?}");
    assert_eq!(counters.book_errors, 0, "{counters:?}");

    let core = replay_journal(&dir);
    assert_books_equal(&core, client.book(), "lossy subscriber");
    assert_books_equal(&core, late.book(), "late joiner");
}

#[test]
fn a_restarted_node_starts_a_new_session_and_subscribers_follow_it() {
    let (config, subscriber_config, snapshot_port) =
        feed_configs(1, Ipv4Addr::new(239, 192, 7, 10));
    let subscriber_config = SubscriberNetConfig {
        snapshot: Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::LOCALHOST,
            snapshot_port,
        ))),
        ..subscriber_config
    };
    let mut client = FeedClient::join(&subscriber_config, BOOK_CONFIG).expect("join the feed");
    let dir = data_dir("feed-restart");
    let node = NodeProcess::start_with_config(&dir, &config, &["--single-thread"]);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    random_flow(&mut alice, &mut bob);
    catch_up(&mut client, |_| true);
    let first = client
        .subscriber()
        .session()
        .expect("a session was followed");
    assert_eq!(first.trimmed(), "PGRN000001");
    // A crash: no end of session, no clean shutdown. The restarted node recovers its books
    // from the journal and must not publish them under the old session's sequence numbers.
    node.kill();
    let node = NodeProcess::start_with_config(&dir, &config, &["--single-thread"]);
    // UserRefNums go on rising across the restart (the node remembers them).
    let next_refs = (alice.next_user_ref_num, bob.next_user_ref_num);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    (alice.next_user_ref_num, bob.next_user_ref_num) = next_refs;
    random_flow(&mut alice, &mut bob);
    catch_up(&mut client, |c| c.counters().session_changes == 1);
    let second = client
        .subscriber()
        .session()
        .expect("a session is followed");
    assert_eq!(second.trimmed(), "PGRN000002", "{client:?}");
    assert!(node.terminate());
    let complete = client
        .run_until(DEADLINE, FeedClient::is_complete)
        .expect("poll");
    assert!(complete, "new session not complete: {client:?}");
    let counters = *client.counters();
    assert!(counters.wrong_session > 0, "{counters:?}");
    assert_eq!(counters.book_errors, 0, "{counters:?}");
    assert_books_equal(
        &replay_journal(&dir),
        client.book(),
        "subscriber across a restart",
    );
}
