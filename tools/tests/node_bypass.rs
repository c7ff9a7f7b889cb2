//! The real `peregrine run` over kernel bypass, end to end (root only; CI is root). Two network
//! namespaces joined by a veth pair: side A runs the node process with `[gateway_bypass]`
//! (OUCH over smoltcp TCP on an AF_XDP socket, queue 0) and `[feed_bypass]` (the feed's
//! multicast frames built by the node and sent through a transmit-only AF_XDP socket, queue
//! 1); side B runs two kernel-TCP members and a kernel multicast subscriber.
//!
//! - Members log in, trade (orders, cancels, fills) and get their OUCH answers.
//! - The subscriber loses every fifth data packet and re-requests the gaps from the node's
//!   re-request server: a kernel socket on an address of A's interface, so it only works when
//!   the XDP program passes the frames the node does not own to the kernel.
//! - After a clean shutdown the subscriber's books equal the engine's, rebuilt by replaying the
//!   node's journal.
//! - A bypass backend that cannot open (no such interface) stops the start with the reason.
//!
//! The `VethPair` guard deletes both namespaces (and so the links and the node's XDP program)
//! also when an assertion fails.

mod node_common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use node_common::books::{
    assert_books_equal, catch_up, drop_every_fifth_data_packet, random_flow, replay_journal,
    BOOK_CONFIG,
};
#[cfg(feature = "dpdk")]
use node_common::bypass_config::dpdk_sections;
use node_common::bypass_config::{afxdp_sections, BypassSite};
use node_common::{data_dir, Member, NodeProcess, DEADLINE, DEFAULT_CONFIG};
use peregrine_feed::net::MulticastConfig;
use peregrine_feed::subscriber_net::{FeedClient, SubscriberNetConfig};
use peregrine_gateway::frame::netns::{self, VethPair};

/// The node's bypass address (owned by smoltcp, not by A's kernel).
const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
/// A's kernel address: the feed's re-request and snapshot servers.
const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 3);
/// B's kernel address: members and the subscriber.
const MEMBER_IP: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 192, 79, 1);
const FEED_PORT: u16 = 31_079;
const REREQUEST_PORT: u16 = 31_080;
const OUCH_PORT: u16 = 15_079;

/// The default configuration on the test's group and ports, kernel servers on A's address.
fn base_config() -> String {
    let config = DEFAULT_CONFIG
        .replace("group = \"239.192.0.1\"", &format!("group = \"{GROUP}\""))
        .replace("port = 31001", &format!("port = {FEED_PORT}"))
        .replace(
            "interface = \"127.0.0.1\"",
            &format!("interface = \"{KERNEL_IP}\""),
        )
        .replace(
            "rerequest_listen = \"127.0.0.1:0\"",
            &format!("rerequest_listen = \"{KERNEL_IP}:{REREQUEST_PORT}\""),
        );
    assert!(config.contains(&format!(":{REREQUEST_PORT}\"")));
    assert!(config.contains(&format!("port = {FEED_PORT}")));
    config
}

/// Where the node's bypass ports live on A's veth end `interface`.
fn site(interface: &str, frame_count: u32) -> BypassSite<'_> {
    BypassSite {
        interface,
        node_ip: NODE_IP,
        ouch_port: OUCH_PORT,
        frame_count,
    }
}

/// Gateway on AF_XDP queue 0, feed on AF_XDP queue 1 of `interface`.
fn afxdp_config(interface: &str) -> String {
    base_config() + &afxdp_sections(&site(interface, 1024))
}

/// A veth pair whose side A has two queues (gateway XSK on 0, feed XSK on 1) and the kernel
/// addresses of both sides.
fn veth_pair() -> VethPair {
    let pair = VethPair::create_with_queues(2).expect("namespaces and veth pair");
    pair.disable_offloads().expect("offloads off");
    let a = format!("{KERNEL_IP}/24");
    netns::ip_in(&pair.ns_a, &["addr", "add", &a, "dev", &pair.if_a]).expect("address A");
    let b = format!("{MEMBER_IP}/24");
    netns::ip_in(&pair.ns_b, &["addr", "add", &b, "dev", &pair.if_b]).expect("address B");
    pair
}

/// Starts the node process inside namespace `ns` (a child inherits its thread's namespace).
fn start_node_in(ns: &str, dir: &std::path::Path, config: String, extra: &[&str]) -> NodeProcess {
    let (ns, dir) = (ns.to_string(), dir.to_path_buf());
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    std::thread::spawn(move || {
        netns::enter(&ns).expect("enter namespace A");
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        NodeProcess::start_with_config(&dir, &config, &extra)
    })
    .join()
    .expect("node starter")
}

/// The node's `peregrine_gateway_bypass_{rx,tx}_frames_total` and
/// `peregrine_feed_bypass_frames_total`, scraped from namespace A (the
/// metrics endpoint is a kernel socket on A's loopback; its address is in `DATA_DIR`).
fn bypass_frames_metric(ns: &str, dir: &std::path::Path) -> (u64, u64, u64) {
    let (ns, dir) = (ns.to_string(), dir.to_path_buf());
    let body = std::thread::spawn(move || {
        netns::enter(&ns).expect("enter namespace A");
        let text = std::fs::read_to_string(dir.join("metrics.addr")).expect("metrics.addr");
        let addr: SocketAddr = text.trim().parse().expect("metrics address");
        // Counters are published every 10 ms: wait for a turn after the trading.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut stream = std::net::TcpStream::connect(addr).expect("connect metrics");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        write!(stream, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        response
    })
    .join()
    .expect("scraper");
    let value = |name: &str| -> u64 {
        body.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{body}"))
    };
    (
        value("peregrine_gateway_bypass_rx_frames_total "),
        value("peregrine_gateway_bypass_tx_frames_total "),
        value("peregrine_feed_bypass_frames_total "),
    )
}

/// Members in B trade with the node in A (configured by `config` from A's interface name);
/// the subscriber in B rebuilds the journal's books. `backend` is the feed's, as logged.
fn trade_and_rebuild_books(config: fn(&str) -> String, backend: &str, extra: &[&str], name: &str) {
    let pair = veth_pair();
    if backend == "Dpdk" {
        pair.add_macvlan_a(FEED_MACVLAN).expect("feed macvlan");
    }
    let dir = data_dir(name);
    let node = start_node_in(&pair.ns_a, &dir, config(&pair.if_a), extra);
    assert_eq!(
        node.addr,
        SocketAddr::from((NODE_IP, OUCH_PORT)),
        "the node announces its bypass address"
    );
    let log = node.log();
    assert!(log.contains(backend), "feed on {backend}:\n{log}");
    let addr = node.addr;
    let ns_b = pair.ns_b.clone();
    let lossy = Arc::new(AtomicBool::new(true));
    let member_lossy = Arc::clone(&lossy);
    let side_b = std::thread::spawn(move || {
        netns::enter(&ns_b).expect("enter namespace B");
        let subscriber_config = SubscriberNetConfig {
            multicast: MulticastConfig {
                group: GROUP,
                port: FEED_PORT,
                interface: MEMBER_IP,
                loopback: false,
                ..MulticastConfig::default()
            },
            rerequest: SocketAddr::V4(SocketAddrV4::new(KERNEL_IP, REREQUEST_PORT)),
            snapshot: None,
            ..SubscriberNetConfig::default()
        };
        let mut client = FeedClient::join(&subscriber_config, BOOK_CONFIG).expect("join");
        client.set_drop_hook(drop_every_fifth_data_packet(member_lossy));
        let (mut alice, _) = Member::login(addr, "ALICE", "alice", 0);
        let (mut bob, _) = Member::login(addr, "BOB", "bob", 0);
        random_flow(&mut alice, &mut bob);
        catch_up(&mut client, |_| true);
        (client, alice.next_user_ref_num, bob.next_user_ref_num)
    });
    let (mut client, alice_refs, bob_refs) = side_b.join().expect("members and subscriber");
    assert!(
        alice_refs > 100 && bob_refs > 100,
        "every order was answered"
    );
    let frames = bypass_frames_metric(&pair.ns_a, &dir);
    assert!(
        frames.0 > 100 && frames.1 > 100 && frames.2 > 10,
        "the gateway's and the feed's frame counters are exported: {frames:?}"
    );
    // Re-requests end with the session: lose nothing from here on, then stop the node.
    lossy.store(false, Ordering::Relaxed);
    assert!(node.terminate(), "clean shutdown");
    let ns_b = pair.ns_b.clone();
    let client = std::thread::spawn(move || {
        netns::enter(&ns_b).expect("enter namespace B");
        let complete = client
            .run_until(DEADLINE, FeedClient::is_complete)
            .expect("poll");
        assert!(complete, "feed session not complete: {client:?}");
        client
    })
    .join()
    .expect("subscriber");
    let counters = *client.counters();
    assert!(counters.dropped_by_hook > 0, "{counters:?}");
    assert!(counters.requests_sent > 0, "{counters:?}");
    assert_eq!(counters.book_errors, 0, "{counters:?}");
    assert_books_equal(
        &replay_journal(&dir),
        client.book(),
        "subscriber of the bypass feed",
    );
}

#[test]
fn members_trade_over_afxdp_and_a_kernel_subscriber_rebuilds_the_books_threaded() {
    if !netns::root_or_notice("node_bypass threaded") {
        return;
    }
    trade_and_rebuild_books(afxdp_config, "AfXdp", &[], "bypass-threaded");
}

#[test]
fn members_trade_over_afxdp_and_a_kernel_subscriber_rebuilds_the_books_single_thread() {
    if !netns::root_or_notice("node_bypass single-thread") {
        return;
    }
    trade_and_rebuild_books(afxdp_config, "AfXdp", &["--single-thread"], "bypass-single");
}

#[test]
fn a_bypass_backend_that_cannot_open_stops_the_start_with_the_reason() {
    if !netns::root_or_notice("node_bypass missing interface") {
        return;
    }
    let pair = veth_pair();
    let dir = data_dir("bypass-no-interface");
    std::fs::create_dir_all(&dir).expect("data dir");
    let path = dir.join("node.toml");
    std::fs::write(&path, afxdp_config("pgnope0")).expect("config");
    let (ns, data) = (pair.ns_a.clone(), dir.to_path_buf());
    let output = std::thread::spawn(move || {
        netns::enter(&ns).expect("enter namespace A");
        Command::new(env!("CARGO_BIN_EXE_peregrine"))
            .args(["run", "--config"])
            .arg(&path)
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run peregrine")
    })
    .join()
    .expect("starter");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("gateway_bypass: AF_XDP on interface \"pgnope0\"")
            && stderr.contains("no such network interface"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening on"),
        "nothing was served"
    );
}

/// Gateway and feed on two DPDK `net_af_packet` ports (DPDK copies frames through AF_PACKET
/// rings: the slowest DPDK driver, but one that runs on a veth); the feed's port is on a
/// macvlan of A's veth end (see `node_common::bypass_config`).
const FEED_MACVLAN: &str = "pgfa";

#[cfg(feature = "dpdk")]
fn dpdk_config(interface: &str) -> String {
    let prefix = format!("pg-node-{}", std::process::id());
    base_config() + &dpdk_sections(&site(interface, 2048), FEED_MACVLAN, &prefix)
}

#[cfg(feature = "dpdk")]
#[test]
fn members_trade_over_dpdk_and_a_kernel_subscriber_rebuilds_the_books() {
    if !netns::root_or_notice("node_bypass dpdk") {
        return;
    }
    /// Removes the node's DPDK runtime directory, also when an assertion fails.
    struct RuntimeDir(String);
    impl Drop for RuntimeDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _runtime = RuntimeDir(format!("/var/run/dpdk/pg-node-{}", std::process::id()));
    trade_and_rebuild_books(dpdk_config, "Dpdk", &[], "bypass-dpdk");
}
