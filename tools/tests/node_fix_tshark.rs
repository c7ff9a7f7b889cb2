//! A third-party decoder reads our FIX: tshark captures a FIX session on the loopback (logon,
//! orders, a fill, a cancel, a test request, logout) and must decode every message as FIX
//! with a good checksum, none bad and no malformed packet. Needs the Debian package `tshark`
//! and the right to capture on `lo` (root); without them the test fails, loudly.

#[path = "fix/client.rs"]
mod fix_client;
mod node_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fix_client::{fix_addr, FixClient};
use node_common::{data_dir, NodeProcess, DEADLINE};

#[test]
fn tshark_decodes_a_fix_session_with_every_checksum_good() {
    let available = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        available,
        "tshark is not installed: `apt-get install -y tshark`"
    );
    let dir = data_dir("fix-tshark");
    let node = NodeProcess::start(&dir, &[]);
    let addr = fix_addr(&dir);
    let capture = dir.join("fix.pcapng");
    let mut tshark = Command::new("tshark")
        .args(["-i", "lo", "-f"])
        .arg(format!("tcp port {}", addr.port()))
        .arg("-w")
        .arg(&capture)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tshark");
    let deadline = Instant::now() + DEADLINE;
    while std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "tshark did not start capturing");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));

    let mut alice = FixClient::connect(addr, "FIXA");
    alice.logon("FIXA", "fixa", false);
    let mut bob = FixClient::connect(addr, "FIXB");
    bob.logon("FIXB", "fixb", false);
    alice.new_order("T1", "1", "100", "100", "AAPL");
    alice.report("T1", "0");
    alice.new_order("T2", "1", "50", "99.5", "AAPL");
    alice.report("T2", "0");
    bob.new_order("T3", "2", "100", "100", "AAPL");
    bob.report("T3", "F");
    alice.report("T1", "F");
    let time = (60, "20260101-00:00:00.000");
    alice.send(
        "F",
        &[(41, "T2"), (11, "T4"), (55, "AAPL"), (54, "1"), time],
    );
    alice.report("T4", "4");
    alice.send("1", &[(112, "HELLO")]);
    alice.wait_for("Heartbeat", |m| {
        (fix_client::field(m, 112) == "HELLO").then_some(())
    });
    for member in [&mut alice, &mut bob] {
        member.send("5", &[]);
        member.wait_for("Logout", |m| {
            (fix_client::field(m, 35) == "5").then_some(())
        });
        member.wait_closed();
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(tshark.id().to_string())
        .status();
    let _ = tshark.wait();
    assert!(node.terminate());

    let decode = |filter: &str, field: &str| -> Vec<String> {
        let output = Command::new("tshark")
            .arg("-r")
            .arg(&capture)
            .arg("-d")
            .arg(format!("tcp.port=={},fix", addr.port()))
            .args([
                "-Y",
                filter,
                "-T",
                "fields",
                "-E",
                "occurrence=a",
                "-e",
                field,
            ])
            .output()
            .expect("run tshark -r");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .flat_map(|line| line.split(',').map(str::to_string).collect::<Vec<_>>())
            .filter(|value| !value.is_empty())
            .collect()
    };
    let types = decode("fix", "fix.MsgType");
    let good = decode("fix", "fix.checksum_good");
    for msg_type in ["A", "D", "8", "F", "1", "0", "5"] {
        assert!(
            types.iter().any(|t| t == msg_type),
            "MsgType {msg_type} decoded: {types:?}"
        );
    }
    assert!(types.len() >= 20, "messages decoded: {types:?}");
    assert_eq!(good.len(), types.len(), "a checksum verdict per message");
    assert!(
        good.iter().all(|g| g == "1" || g == "True"),
        "checksums: {good:?}"
    );
    let bad = decode(
        "fix.checksum_bad == 1 || _ws.malformed || _ws.expert.severity >= error",
        "frame.number",
    );
    assert!(bad.is_empty(), "bad or malformed frames: {bad:?}");
}
