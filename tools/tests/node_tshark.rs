//! A third-party decoder reads our wire: tshark captures a whole member session on the
//! loopback (login, orders, fills, a cancel, server and client heartbeats, logout) and must
//! decode it as SoupBinTCP with no malformed packet and no expert error.
//!
//! tshark's OUCH dissector knows OUCH 4.x only, so its heuristic is switched off: the
//! payloads are OUCH 5.0, which it would misread. This test needs the Debian package `tshark`
//! (and the right to capture on `lo`, i.e. root); without it the test fails, loudly.

mod node_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use node_common::{data_dir, Member, NodeProcess, DEADLINE, DEFAULT_CONFIG};
use peregrine_gateway::ouch::{Outbound, Side};

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn tshark_decodes_a_session_as_soupbintcp_without_malformed_packets() {
    assert!(
        tshark_available(),
        "tshark is not installed: `apt-get install -y tshark` (Debian package tshark)"
    );
    let dir = data_dir("tshark");
    let config = DEFAULT_CONFIG.replace(
        "heartbeat_interval_ms = 1000",
        "heartbeat_interval_ms = 200",
    );
    let node = NodeProcess::start_with_config(&dir, &config, &["--single-thread"]);
    let port = node.addr.port();
    let capture = dir.join("session.pcapng");
    let mut tshark = Command::new("tshark")
        .args(["-i", "lo", "-f"])
        .arg(format!("tcp port {port}"))
        .arg("-w")
        .arg(&capture)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tshark");
    // Wait until tshark writes the capture file header (it is capturing then).
    let deadline = Instant::now() + DEADLINE;
    while std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "tshark did not start capturing");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));

    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    let bid = alice.enter("AAPL", Side::Buy, 100, 1_000_000);
    let rest = alice.enter("AAPL", Side::Buy, 50, 990_000);
    bob.enter("AAPL", Side::Sell, 100, 1_000_000);
    alice.wait_for("fill", |m| match m {
        Outbound::OrderExecuted(e) if e.user_ref_num == bid => Some(()),
        _ => None,
    });
    alice.cancel(rest);
    alice.wait_for("cancel", |m| {
        matches!(m, Outbound::OrderCanceled(_)).then_some(())
    });
    // Idle long enough for heartbeats both ways.
    alice.settle(Duration::from_millis(1_200));
    bob.settle(Duration::from_millis(100));
    alice.logout();
    bob.logout();
    alice.wait_closed();
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(tshark.id().to_string())
        .status();
    let _ = tshark.wait();
    assert!(node.terminate());

    let decode = |filter: &str| -> String {
        let output = Command::new("tshark")
            .arg("-r")
            .arg(&capture)
            .arg("-d")
            .arg(format!("tcp.port=={port},soupbintcp"))
            .args([
                "--disable-protocol",
                "ouch",
                "-Y",
                filter,
                "-T",
                "fields",
                "-e",
                "frame.number",
                "-e",
                "soupbintcp.packet_type",
            ])
            .output()
            .expect("run tshark -r");
        assert!(
            output.status.success(),
            "tshark -r failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let soup = decode("soupbintcp");
    let types: String = soup
        .lines()
        .flat_map(|line| {
            line.split('\t')
                .nth(1)
                .unwrap_or("")
                .split(',')
                .map(str::to_string)
        })
        .collect();
    for packet_type in ['L', 'A', 'U', 'S', 'H', 'R', 'O'] {
        assert!(
            types.contains(packet_type),
            "packet type {packet_type} decoded; got {types:?}"
        );
    }
    let malformed = decode("_ws.malformed || _ws.expert.severity >= error");
    assert!(
        malformed.trim().is_empty(),
        "malformed or erroneous frames:\n{malformed}"
    );
}
