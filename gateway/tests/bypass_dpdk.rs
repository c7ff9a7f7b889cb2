//! The DPDK backend (cargo feature `dpdk`; root). Goal: frames round-trip through a DPDK port,
//! and one OUCH order-entry session runs end to end over DPDK. Method: one EAL per process, so
//! one test: `--no-huge --no-pci` with a `net_ring` loopback port (what goes out comes back in,
//! polled from a thread registered with `register_thread`) and a `net_af_packet` port on a
//! veth end in namespace A, serving the one-loop venue through smoltcp to a kernel client in
//! namespace B. The af_packet port is added after EAL start by `DpdkPort::open_af_packet`: a
//! missing interface is a typed error, and a port is opened, dropped and opened again on the
//! same interface (what a benchmark alternating backends needs) before the second one serves
//! the session. The `VethPair` guard deletes both namespaces.
//!
//! Run: `cargo test -p peregrine-gateway --features dpdk --test bypass_dpdk`.
#![cfg(feature = "dpdk")]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peregrine_engine::EngineConfig;
use peregrine_gateway::frame::dpdk::{eal_init, register_thread, DpdkPort};
use peregrine_gateway::frame::netns::{self, VethPair};
use peregrine_gateway::frame::tcp::{TcpConfig, TcpStack};
use peregrine_gateway::frame::venue::{KernelMember, Login, Venue};
use peregrine_gateway::frame::{send_with, FrameError, FrameIo};
use peregrine_gateway::ouch::inbound::EnterOrder;
use peregrine_gateway::ouch::{
    Capacity, CrossType, Display, Inbound, Options, Outbound, Side, TimeInForce,
};

const NODE_IP: [u8; 4] = [10, 78, 0, 1];
const PORT: u16 = 15001;
const ALICE: Login = Login {
    username: *b"ALICE ",
    password: *b"SECRET    ",
};
const BOB: Login = Login {
    username: *b"BOB   ",
    password: *b"HUNTER2   ",
};

fn enter(user_ref_num: u32, side: Side, quantity: u32) -> Inbound {
    Inbound::EnterOrder(EnterOrder {
        user_ref_num,
        side,
        quantity,
        symbol: *b"SYM0    ",
        price: 1_000_000,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: *b"DPDK          ",
        options: Options::default(),
    })
}

fn ring_round_trip() {
    let mut port = DpdkPort::open("net_ring0", 1024).expect("net_ring0 port");
    for round in 0..8u8 {
        for n in 0..20u8 {
            assert!(send_with(&mut port, |buffer| {
                buffer[..64].fill(round ^ n);
                buffer[0] = round;
                buffer[1] = n;
                64
            }));
        }
        port.tx_flush().unwrap();
        let mut seen = 0u8;
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen < 20 && Instant::now() < deadline {
            port.rx_poll().unwrap();
            while let Some(frame) = port.rx_take() {
                let data = port.rx_data(&frame);
                assert_eq!(data.len(), 64);
                assert_eq!((data[0], data[1]), (round, seen), "in order");
                assert!(data[2..].iter().all(|&b| b == round ^ seen));
                port.rx_release(frame);
                seen += 1;
            }
        }
        assert_eq!(seen, 20, "round {round}: every frame came back");
    }
    assert_eq!(port.tx_dropped, 0);
}

/// Adding af_packet ports after EAL start: a missing interface fails cleanly, and a port on
/// the veth end can be opened, dropped (device removed) and opened again.
fn af_packet_open_close_reopen(pair: &VethPair) -> DpdkPort {
    let missing = DpdkPort::open_af_packet("pg-no-such-if", 256);
    assert!(
        matches!(missing, Err(FrameError::Dpdk { .. })),
        "{missing:?}"
    );
    let first = DpdkPort::open_af_packet(&pair.if_a, 512).expect("first af_packet port");
    let mac = first.mac();
    assert_ne!(mac, [0; 6], "the interface's MAC");
    drop(first);
    let second = DpdkPort::open_af_packet(&pair.if_a, 2048).expect("af_packet port again");
    assert_eq!(second.mac(), mac, "same interface, same MAC");
    second
}

fn order_entry_over_af_packet(pair: &VethPair, port: DpdkPort) {
    let tcp = TcpConfig {
        ipv4: NODE_IP,
        prefix_len: 24,
        gateway: None,
        port: PORT,
        connections_max: 4,
        buffer_bytes: 64 * 1024,
    };
    let stack = TcpStack::new(port, tcp, 1).unwrap();
    let mut venue = Venue::new(stack, EngineConfig::demo(1, 2, 1024), vec![ALICE, BOB], 4);
    let stop = Arc::new(AtomicBool::new(false));
    let ns_b = pair.ns_b.clone();
    let client_stop = Arc::clone(&stop);
    let client = std::thread::spawn(move || {
        netns::enter(&ns_b).unwrap();
        let addr = SocketAddr::from((NODE_IP, PORT));
        let timeout = Duration::from_secs(10);
        let result = std::panic::catch_unwind(|| {
            let mut alice = KernelMember::login(addr, ALICE, timeout).unwrap();
            let mut bob = KernelMember::login(addr, BOB, timeout).unwrap();
            alice.send(&enter(1, Side::Sell, 40)).unwrap();
            assert!(matches!(
                alice.next_message().unwrap(),
                Outbound::OrderAccepted(_)
            ));
            bob.send(&enter(1, Side::Buy, 40)).unwrap();
            let fill = alice.next_message().unwrap();
            assert!(matches!(fill, Outbound::OrderExecuted(e) if e.quantity == 40));
        });
        client_stop.store(true, Ordering::Relaxed);
        result
    });
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
        let now_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        venue.run_once(now_ns, &mut |_| {}).unwrap();
    }
    let outcome = client.join().expect("client thread");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(venue.commands_applied, 2);
}

/// Removes DPDK's runtime directory of this process (`/var/run/dpdk/<file prefix>`).
struct RuntimeDir(String);

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.0));
    }
}

#[test]
fn dpdk_ring_round_trip_and_order_entry_over_af_packet() {
    if !netns::root_or_notice("dpdk_ring_round_trip_and_order_entry_over_af_packet") {
        return;
    }
    let pair = VethPair::create().expect("namespaces and veth pair");
    pair.disable_offloads().unwrap();
    netns::ip_in(
        &pair.ns_b,
        &["addr", "add", "10.78.0.2/24", "dev", &pair.if_b],
    )
    .unwrap();
    // This thread runs DPDK inside namespace A, so the af_packet port opens on its veth end.
    netns::enter(&pair.ns_a).unwrap();
    let runtime = RuntimeDir(format!("pg-byp-{}", std::process::id()));
    let prefix = format!("--file-prefix={}", runtime.0);
    let args = [
        "--no-huge",
        "--no-pci",
        "-m",
        "256",
        "--log-level=error",
        &prefix,
        "--vdev=net_ring0",
    ];
    eal_init(&args.map(String::from)).expect("EAL starts");
    // The ring port is used from another thread, registered as DPDK lcore (mempool cache).
    std::thread::spawn(|| {
        let _lcore = register_thread().expect("thread registers with the EAL");
        ring_round_trip();
    })
    .join()
    .expect("ring round trip");
    let port = af_packet_open_close_reopen(&pair);
    order_entry_over_af_packet(&pair, port);
}
