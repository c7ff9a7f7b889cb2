//! The node's command-line front ends against the real binary: `peregrine client` enters and
//! cancels an order on a running node, `peregrine demo` runs its simulated members and prints
//! its summary, `peregrine load` writes an HDR report with order-to-ack and order-to-feed
//! latency.

mod node_common;

use std::process::Command;

use node_common::{data_dir, NodeProcess, DEFAULT_CONFIG};

fn peregrine(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run peregrine");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success(), text)
}

#[test]
fn client_enters_and_cancels_an_order() {
    let dir = data_dir("cli-client");
    let node = NodeProcess::start(&dir, &["--single-thread"]);
    let addr = node.addr.to_string();
    let base = [
        "client",
        "--addr",
        addr.as_str(),
        "--user",
        "ALICE",
        "--password",
        "alice",
    ];
    let mut enter = base.to_vec();
    enter.extend([
        "enter", "--symbol", "AAPL", "--side", "B", "--qty", "100", "--price", "101.25",
    ]);
    let (ok, out) = peregrine(&enter);
    assert!(ok, "{out}");
    assert!(out.contains("logged in as ALICE"), "{out}");
    assert!(out.contains("OrderAccepted"), "{out}");
    let mut cancel = base.to_vec();
    cancel.extend(["cancel", "--ref", "1"]);
    let (ok, out) = peregrine(&cancel);
    assert!(ok, "{out}");
    assert!(out.contains("OrderCanceled"), "{out}");
    let mut listen = base.to_vec();
    listen.splice(1..1, ["--from-seq", "1"]);
    listen.push("listen");
    let (ok, out) = peregrine(&listen);
    assert!(ok, "{out}");
    assert!(
        out.contains("       1  ") && out.contains("       2  "),
        "whole history: {out}"
    );
    let (ok, out) = peregrine(&[
        "client",
        "--addr",
        &addr,
        "--user",
        "ALICE",
        "--password",
        "nope",
        "listen",
    ]);
    assert!(!ok, "wrong password exits non-zero: {out}");
    assert!(node.terminate());
}

#[test]
fn demo_runs_and_prints_a_summary() {
    let (ok, out) = peregrine(&["demo", "--seconds", "2", "--rate", "300", "--single-thread"]);
    assert!(ok, "{out}");
    assert!(out.contains("orders/s"), "{out}");
    assert!(out.contains("order_to_ack_us p50="), "{out}");
    assert!(out.contains("inputs journaled"), "{out}");
}

#[test]
fn load_writes_an_hdr_report() {
    let dir = data_dir("cli-load");
    // A group and port of this test's own, so no other test's node is on the same feed.
    let feed_port = (35_000 + std::process::id() % 5_000) as u16;
    let config = DEFAULT_CONFIG
        .replace("group = \"239.192.0.1\"", "group = \"239.192.7.11\"")
        .replace("port = 31001", &format!("port = {feed_port}"));
    assert!(config.contains(&format!("port = {feed_port}")));
    let node = NodeProcess::start_with_config(&dir, &config, &[]);
    let report = dir.join("load.hgrm");
    let addr = node.addr.to_string();
    let report_path = report.to_string_lossy().into_owned();
    let feed_port = feed_port.to_string();
    let (ok, out) = peregrine(&[
        "load",
        "--addr",
        &addr,
        "--sessions",
        "4",
        "--rate",
        "400",
        "--duration-s",
        "1",
        "--warmup-s",
        "0.5",
        "--report",
        &report_path,
        "--feed",
        "--feed-group",
        "239.192.7.11",
        "--feed-port",
        &feed_port,
    ]);
    assert!(ok, "{out}");
    let text = std::fs::read_to_string(&report).expect("report written");
    assert!(text.contains("order_to_ack_us p50="), "{text}");
    assert!(text.contains("Percentile"), "{text}");
    // Resting orders were seen on the feed: the order-to-feed histogram is not empty.
    let feed_line = text
        .lines()
        .find(|line| line.starts_with("# order_to_feed_us"))
        .unwrap_or_else(|| panic!("no order-to-feed line: {text}"));
    let count: u64 = feed_line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("count="))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no count: {feed_line}"));
    assert!(count > 0, "{feed_line}");
    assert!(node.terminate());
}
