//! The real node over kernel sockets vs over AF_XDP, in the same run (root; release build):
//!
//! ```sh
//! cargo build --release -p peregrine-tools --bin peregrine --example bypass_node [--features dpdk]
//! target/release/examples/bypass_node [RATE] [DURATION_S] [ROUNDS] [threaded|single]
//! ```
//!
//! With `--features dpdk` a third path runs the node over DPDK `net_af_packet` ports (the
//! gateway's on A's veth end, the feed's on a macvlan of it: 22.11's af_packet driver puts one
//! process's ports on one interface into one fanout group). DPDK's af_packet driver copies
//! every frame through the kernel's packet rings, so on veth it is DPDK's worst case.
//!
//! Each round, for each path, a fresh veth pair joins two namespaces. Namespace A runs
//! `peregrine run` (release, next to this example) with the embedded default configuration
//! plus, on the AF_XDP path, `[gateway_bypass]` (OUCH over smoltcp on an XSK, queue 0) and
//! `[feed_bypass]` (the feed's frames through a transmit-only XSK, queue 1); on the kernel path
//! the node listens on a kernel address of the same interface and publishes through a kernel
//! UDP socket. Namespace B runs `peregrine load --feed` (open loop, kernel TCP and a kernel
//! multicast subscriber): order-to-ack and order-to-feed percentiles from the HDR report.
//! Paths alternate; the medians of the per-round percentiles are printed at the end.
//!
//! What veth can show: the server side's cost (system calls, kernel TCP/UDP stacks, copies
//! into socket buffers, wake-ups) against smoltcp and a busy-polled XSK. What it cannot: the
//! client side is kernel TCP in both, veth's SKB-mode XDP still builds an skb per frame and
//! copies into the UMEM, and a NIC's DMA, interrupt moderation and zero-copy rings do not exist.
//! Timing lives here only; the test `node_bypass` asserts behaviour.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use peregrine_gateway::frame::netns::{self, VethPair};

#[path = "../tests/node_common/bypass_config.rs"]
mod bypass_config;
use bypass_config::{afxdp_sections, dpdk_sections, BypassSite};

const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 3);
const MEMBER_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 192, 78, 1);
const FEED_PORT: u16 = 31_078;
const OUCH_PORT: u16 = 15_078;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Kernel,
    AfXdp,
    #[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
    Dpdk,
}

/// The paths this build can run, in the order each round runs them.
fn routes() -> Vec<Route> {
    let mut routes = vec![Route::Kernel, Route::AfXdp];
    if cfg!(feature = "dpdk") {
        routes.push(Route::Dpdk);
    }
    routes
}

const FEED_MACVLAN: &str = "pgfa";

/// p50, p99, p99.9 in µs of order-to-ack and order-to-feed.
#[derive(Clone, Copy, Debug, Default)]
struct Round {
    ack: [f64; 3],
    feed: [f64; 3],
    feed_gaps: u64,
    acked_per_s: f64,
}

fn config(path: Route, interface: &str) -> String {
    let default = peregrine_tools_default_config();
    let node_ip = kernel_side(path);
    let mut text = default
        .replace("group = \"239.192.0.1\"", &format!("group = \"{GROUP}\""))
        .replace("port = 31001", &format!("port = {FEED_PORT}"))
        .replace(
            "interface = \"127.0.0.1\"",
            &format!("interface = \"{node_ip}\""),
        );
    let site = BypassSite {
        interface,
        node_ip: NODE_IP,
        ouch_port: OUCH_PORT,
        frame_count: 4096,
    };
    match path {
        Route::Kernel => {}
        Route::AfXdp => text.push_str(&afxdp_sections(&site)),
        Route::Dpdk => {
            let prefix = format!("pg-bench-{}", std::process::id());
            text.push_str(&dpdk_sections(&site, FEED_MACVLAN, &prefix));
        }
    }
    text
}

/// The node's kernel address: the order-entry address on the kernel path, the host's own
/// address (FIX, feed servers) on the AF_XDP path, where the order-entry address is smoltcp's.
fn kernel_side(path: Route) -> Ipv4Addr {
    match path {
        Route::Kernel => NODE_IP,
        Route::AfXdp | Route::Dpdk => KERNEL_IP,
    }
}

/// The node's embedded default configuration (the file the binary embeds).
fn peregrine_tools_default_config() -> &'static str {
    include_str!("../config/default.toml")
}

fn sibling_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("peregrine")
}

/// Spawns `command` from a thread that entered namespace `ns` (the child inherits it).
fn spawn_in(ns: &str, mut command: Command) -> Child {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        netns::enter(&ns).expect("enter namespace");
        command.spawn().expect("spawn")
    })
    .join()
    .expect("spawner")
}

fn percentiles(line: &str) -> [f64; 3] {
    let value = |key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|field| field.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    [value("p50="), value("p99="), value("p99.9=")]
}

fn round(path: Route, rate: u64, duration_s: u64, mode: &str) -> Round {
    let pair = VethPair::create_with_queues(2).expect("veth pair");
    pair.disable_offloads().expect("offloads");
    let a = format!("{KERNEL_IP}/24");
    netns::ip_in(&pair.ns_a, &["addr", "add", &a, "dev", &pair.if_a]).expect("addr A");
    if path == Route::Kernel {
        let node = format!("{NODE_IP}/24");
        netns::ip_in(&pair.ns_a, &["addr", "add", &node, "dev", &pair.if_a]).expect("addr");
    }
    if path == Route::Dpdk {
        pair.add_macvlan_a(FEED_MACVLAN).expect("feed macvlan");
    }
    let b = format!("{MEMBER_IP}/24");
    netns::ip_in(&pair.ns_b, &["addr", "add", &b, "dev", &pair.if_b]).expect("addr B");
    let dir = tempfile::tempdir().expect("data dir");
    let config_path = dir.path().join("node.toml");
    std::fs::write(&config_path, config(path, &pair.if_a)).expect("config");
    let mut run = Command::new(sibling_binary());
    run.args(["run", "--config"])
        .arg(&config_path)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--listen")
        // On the AF_XDP path the kernel listener address is only FIX's (port + 1).
        .arg(format!("{}:{OUCH_PORT}", kernel_side(path)))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if mode == "single" {
        run.arg("--single-thread");
    }
    let mut node = spawn_in(&pair.ns_a, run);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(node.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("listening line");
    assert!(line.starts_with("listening on"), "{line}");
    let mut load = Command::new(sibling_binary());
    load.args(["load", "--addr"])
        .arg(format!("{NODE_IP}:{OUCH_PORT}"))
        .args(["--rate", &rate.to_string()])
        .args(["--duration-s", &duration_s.to_string()])
        .args(["--warmup-s", "2", "--feed"])
        .args(["--feed-group", &GROUP.to_string()])
        .args(["--feed-port", &FEED_PORT.to_string()])
        .args(["--feed-interface", &MEMBER_IP.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let load = spawn_in(&pair.ns_b, load);
    let output = load.wait_with_output().expect("load");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(node.id().to_string())
        .status();
    let _ = node.wait();
    std::thread::sleep(Duration::from_millis(200));
    let text = String::from_utf8_lossy(&output.stdout);
    let mut result = Round::default();
    for line in text.lines() {
        if line.starts_with("# order_to_ack_us") {
            result.ack = percentiles(line);
        } else if line.starts_with("# order_to_feed_us") {
            result.feed = percentiles(line);
            result.feed_gaps = line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("feed_gaps="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX);
        } else if let Some(rest) = line.split("achieved_orders_per_s=").nth(1) {
            result.acked_per_s = rest.trim().parse().unwrap_or(f64::NAN);
        }
    }
    assert!(output.status.success(), "load failed:\n{text}");
    result
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if !netns::root_or_notice("bypass_node") {
        return;
    }
    // Release builds abort on panic: remove the namespaces before that.
    netns::remove_pairs_on_panic();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number =
        |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let rate = number(0, 10_000);
    let duration_s = number(1, 8);
    let rounds = number(2, 3) as usize;
    let mode = args.get(3).map_or("threaded", String::as_str).to_string();
    assert!(
        mode == "threaded" || mode == "single",
        "mode: threaded or single"
    );
    println!(
        "node {mode}, {rate} orders/s for {duration_s} s, {rounds} rounds, paths alternate (µs)"
    );
    println!(
        "{:<8} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>9}",
        "path",
        "round",
        "ack p50",
        "ack p99",
        "ack p99.9",
        "feed p50",
        "feed p99",
        "feed 99.9",
        "gaps",
        "acked/s"
    );
    let mut results: Vec<(Route, Round)> = Vec::new();
    for index in 0..rounds {
        for path in routes() {
            let r = round(path, rate, duration_s, &mode);
            println!(
                "{:<8} {:>5} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>9.0}",
                format!("{path:?}"),
                index,
                r.ack[0],
                r.ack[1],
                r.ack[2],
                r.feed[0],
                r.feed[1],
                r.feed[2],
                r.feed_gaps,
                r.acked_per_s
            );
            results.push((path, r));
        }
    }
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/pg-bench-{}", std::process::id()));
    println!("\nmedians over rounds (µs):");
    for path in routes() {
        let of = |pick: &dyn Fn(&Round) -> f64| {
            median(
                results
                    .iter()
                    .filter(|(p, _)| *p == path)
                    .map(|(_, r)| pick(r))
                    .collect(),
            )
        };
        println!(
            "{:<8} ack p50 {:>8.1} p99 {:>8.1} p99.9 {:>8.1} | feed p50 {:>8.1} p99 {:>8.1} p99.9 {:>8.1}",
            format!("{path:?}"),
            of(&|r| r.ack[0]),
            of(&|r| r.ack[1]),
            of(&|r| r.ack[2]),
            of(&|r| r.feed[0]),
            of(&|r| r.feed[1]),
            of(&|r| r.feed[2]),
        );
    }
}
