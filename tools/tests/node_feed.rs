//! The node's feed thread: an order entered over OUCH appears on the multicast group as an
//! ITCH Add Order inside a MoldUDP64 packet, and a clean shutdown ends the feed session with
//! an end-of-session packet.

mod node_common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use node_common::{data_dir, Member, NodeProcess, DEADLINE, DEFAULT_CONFIG};
use peregrine_feed::moldudp64::Packet;
use peregrine_feed::net::{multicast_receiver, MulticastConfig};
use peregrine_gateway::ouch::Side;

#[test]
fn an_accepted_order_is_published_as_an_itch_add_order() {
    let port = 40_000 + (std::process::id() % 20_000) as u16;
    let group = Ipv4Addr::new(239, 192, 7, 7);
    let config = DEFAULT_CONFIG
        .replace("group = \"239.192.0.1\"", &format!("group = \"{group}\""))
        .replace("port = 31001", &format!("port = {port}"));
    assert!(
        config.contains(&format!("port = {port}")),
        "the default config has a [feed] table"
    );
    let receiver = multicast_receiver(&MulticastConfig {
        group,
        port,
        interface: Ipv4Addr::LOCALHOST,
        ..MulticastConfig::default()
    })
    .expect("join the feed group on the loopback");
    receiver
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let dir = data_dir("feed");
    let node = NodeProcess::start_with_config(&dir, &config, &["--single-thread"]);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    alice.enter("AAPL", Side::Buy, 100, 1_000_000);
    alice.wait_count(1);

    let mut buffer = [0u8; 9_000];
    let deadline = Instant::now() + DEADLINE;
    let mut found = false;
    while !found {
        assert!(Instant::now() < deadline, "no Add Order on the feed");
        let Ok(length) = receiver.recv(&mut buffer) else {
            continue;
        };
        let packet = Packet::new_checked(&buffer[..length]).expect("a MoldUDP64 packet");
        for block in packet.blocks() {
            let message = block.expect("whole message blocks");
            found |= message.first() == Some(&b'A')
                && message.get(24..32) == Some(&b"AAPL    "[..])
                && message.get(20..24) == Some(&100u32.to_be_bytes()[..])
                && message.get(32..36) == Some(&1_000_000u32.to_be_bytes()[..]);
        }
    }
    assert!(node.terminate());
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "no end-of-session packet");
        let Ok(length) = receiver.recv(&mut buffer) else {
            continue;
        };
        if Packet::new_checked(&buffer[..length]).is_ok_and(|p| p.count() == 0xFFFF) {
            break;
        }
    }
}

/// `peregrine feed tap` against a live node: the tap joins the group named by the node's own
/// config file, prints the Add Order of an order entered over OUCH, and stops at the end of
/// the feed session when the node shuts down.
#[test]
fn feed_tap_prints_the_add_order_of_an_entered_order() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let config = DEFAULT_CONFIG
        .replace("group = \"239.192.0.1\"", "group = \"239.192.7.8\"")
        .replace("port = 31001", &format!("port = {port}"));
    let dir = data_dir("feed-tap");
    std::fs::create_dir_all(&dir).expect("data dir");
    let config_path = dir.join("tap.toml");
    std::fs::write(&config_path, &config).expect("config");
    let mut tap = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args([
            "feed",
            "tap",
            "--idle-ms",
            "20000",
            "--packets",
            "10000",
            "--config",
        ])
        .arg(&config_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peregrine feed tap");
    let mut stderr = BufReader::new(tap.stderr.take().expect("stderr"));
    let mut joined = String::new();
    stderr.read_line(&mut joined).expect("tap's first line");
    assert_eq!(
        joined.trim(),
        format!("tap 239.192.7.8:{port} on 127.0.0.1")
    );
    let mut stdout = tap.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("tap output");
        text
    });

    let node = NodeProcess::start_with_config(&dir, &config, &["--single-thread"]);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    alice.enter("AAPL", Side::Buy, 100, 1_000_000);
    alice.wait_count(1);
    assert!(node.terminate());

    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = tap.try_wait().expect("wait tap") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = tap.kill();
            panic!("feed tap did not stop at the end of session");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = reader.join().expect("reader thread");
    let mut summary = String::new();
    let _ = stderr.read_to_string(&mut summary);
    assert!(status.success(), "tap failed: {summary}\n{text}");
    assert!(
        text.lines()
            .any(|line| line.contains(" A ") && line.contains("Buy 100 AAPL @ 100.0000")),
        "no Add Order in tap output:\n{text}"
    );
    assert!(
        text.contains("top locate=1 bid 100@100.0000 (1) | ask -"),
        "no top of book in tap output:\n{text}"
    );
    assert!(summary.contains("end_of_session=true"), "{summary}");
    assert!(summary.contains("gaps=0"), "{summary}");
}
