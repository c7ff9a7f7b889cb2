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
