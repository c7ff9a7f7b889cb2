//! AF_XDP end to end on a veth pair between two network namespaces (root only; CI is root).
//! Goal: the bypass side (AF_XDP socket + XDP redirect program + smoltcp TCP) talks to an
//! ordinary kernel TCP client on the other namespace, and frames the node does not own still
//! reach the kernel. Method: namespace A runs the bypass stack on one thread, namespace B runs
//! kernel clients on another; every namespace is deleted by the `VethPair` guard, also when an
//! assertion fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peregrine_engine::EngineConfig;
use peregrine_gateway::frame::afxdp::{AfXdp, XdpConfig};
use peregrine_gateway::frame::bpf::{XdpFilter, XdpMode};
use peregrine_gateway::frame::netns::{self, Veth, VethPair};
use peregrine_gateway::frame::tcp::{TcpConfig, TcpStack};
use peregrine_gateway::frame::venue::{KernelMember, Login, MemberError, Venue};
use peregrine_gateway::frame::{FrameError, FrameIo};
use peregrine_gateway::ouch::inbound::EnterOrder;
use peregrine_gateway::ouch::{
    Capacity, CrossType, Display, Inbound, Options, Outbound, Side, TimeInForce,
};

const NODE_IP: [u8; 4] = [10, 77, 0, 1];
const KERNEL_A_IP: &str = "10.77.0.3/24";
const CLIENT_IP: &str = "10.77.0.2/24";
const PORT: u16 = 15000;
const DEADLINE: Duration = Duration::from_secs(30);

fn now_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn pair() -> VethPair {
    let pair = VethPair::create().expect("namespaces and veth pair");
    pair.disable_offloads().expect("offloads off");
    netns::ip_in(&pair.ns_a, &["addr", "add", KERNEL_A_IP, "dev", &pair.if_a]).unwrap();
    netns::ip_in(&pair.ns_b, &["addr", "add", CLIENT_IP, "dev", &pair.if_b]).unwrap();
    pair
}

fn stack(pair: &Veth, mode: XdpMode) -> Result<TcpStack<AfXdp>, FrameError> {
    netns::enter(&pair.ns_a).expect("enter namespace A");
    let config = XdpConfig {
        mode,
        frame_count: 1024,
        filter: Some(XdpFilter {
            ipv4: NODE_IP,
            tcp_port: PORT,
        }),
        ..XdpConfig::default()
    };
    let xsk = AfXdp::open(&pair.if_a, config)?;
    let tcp = TcpConfig {
        ipv4: NODE_IP,
        prefix_len: 24,
        gateway: None,
        port: PORT,
        connections_max: 4,
        buffer_bytes: 64 * 1024,
    };
    TcpStack::new(xsk, tcp, 1)
}

/// Echo server over the bypass stack until `stop`; returns the bytes echoed.
fn echo_server(mut stack: TcpStack<AfXdp>, stop: Arc<AtomicBool>) -> (usize, u64) {
    let start = Instant::now();
    let mut conns = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut echoed = 0;
    while !stop.load(Ordering::Relaxed) && start.elapsed() < DEADLINE {
        stack.poll(now_ns(start)).unwrap();
        if let Some(conn) = stack.accept() {
            conns.push(conn);
        }
        conns.retain(|&conn| match stack.recv(conn, &mut buffer) {
            Ok(n) => {
                let sent = stack.send(conn, &buffer[..n]).unwrap();
                assert_eq!(sent, n, "the send buffer has room for an echo");
                echoed += n;
                true
            }
            Err(_) => {
                stack.close(conn);
                false
            }
        });
    }
    (echoed, stack.io().counters().rx_frames)
}

/// A kernel TCP listener on namespace A's own address; returns what one client sent.
fn kernel_listener(ns_a: &str) -> std::thread::JoinHandle<Vec<u8>> {
    let ns_a = ns_a.to_string();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        netns::enter(&ns_a).unwrap();
        let listener = std::net::TcpListener::bind(("10.77.0.3", PORT)).unwrap();
        ready_tx.send(()).unwrap();
        let (mut stream, _) = listener.accept().unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap();
        bytes
    });
    ready_rx.recv().unwrap();
    handle
}

fn run_echo(mode: XdpMode) {
    let pair = pair();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = {
        let names = pair.names();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || match stack(&names, mode) {
            Ok(stack) => {
                ready_tx.send(Ok(())).unwrap();
                echo_server(stack, stop)
            }
            Err(error) => {
                ready_tx.send(Err(error)).unwrap();
                (0, 0)
            }
        })
    };
    ready_rx.recv().unwrap().expect("AF_XDP socket opens");
    let kernel_server = kernel_listener(&pair.ns_a);
    let ns_b = pair.ns_b.clone();
    let client = std::thread::spawn(move || {
        netns::enter(&ns_b).unwrap();
        let addr = SocketAddr::from((NODE_IP, PORT));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut total = 0;
        for round in 0..50u32 {
            let message: Vec<u8> = (0..(round * 37 % 1400 + 1))
                .map(|i| (i ^ round) as u8)
                .collect();
            stream.write_all(&message).unwrap();
            let mut back = vec![0u8; message.len()];
            stream.read_exact(&mut back).unwrap();
            assert_eq!(back, message, "round {round}");
            total += message.len();
        }
        // The kernel of namespace A still serves its own address (XDP_PASS).
        let kernel_addr = SocketAddr::from(([10, 77, 0, 3], PORT));
        let mut kernel = TcpStream::connect_timeout(&kernel_addr, Duration::from_secs(10)).unwrap();
        kernel.write_all(b"kernel").unwrap();
        (total, kernel_addr)
    });
    let (total, _) = client.join().expect("client");
    let kernel_bytes = kernel_server.join().expect("kernel server");
    assert_eq!(
        kernel_bytes, b"kernel",
        "the kernel path on namespace A works beside AF_XDP"
    );
    stop.store(true, Ordering::Relaxed);
    let (echoed, rx_frames) = server.join().expect("server");
    assert_eq!(echoed, total);
    assert!(rx_frames > 50, "frames arrived through the XSK RX ring");
}

#[test]
fn tcp_echo_over_afxdp_skb_mode() {
    if !netns::root_or_notice("tcp_echo_over_afxdp_skb_mode") {
        return;
    }
    run_echo(XdpMode::Skb);
}

const ALICE: Login = Login {
    username: *b"ALICE ",
    password: *b"SECRET    ",
};
const BOB: Login = Login {
    username: *b"BOB   ",
    password: *b"HUNTER2   ",
};

fn enter(user_ref_num: u32, side: Side, quantity: u32, price: u64) -> Inbound {
    Inbound::EnterOrder(EnterOrder {
        user_ref_num,
        side,
        quantity,
        symbol: *b"SYM0    ",
        price,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: *b"BYPASS        ",
        options: Options::default(),
    })
}

/// Runs the venue over AF_XDP in namespace A until `stop`; returns commands applied and the
/// frames received through the XSK.
fn venue_server(
    names: Veth,
    stop: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<Result<(), FrameError>>,
) -> (u64, u64) {
    let stack = match stack(&names, XdpMode::Skb) {
        Ok(stack) => stack,
        Err(error) => {
            ready.send(Err(error)).unwrap();
            return (0, 0);
        }
    };
    ready.send(Ok(())).unwrap();
    let mut venue = Venue::new(stack, EngineConfig::demo(2, 2, 1024), vec![ALICE, BOB], 4);
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < DEADLINE {
        venue.run_once(now_ns(start), &mut |_| {}).unwrap();
    }
    let rx_frames = venue.streams().io().counters().rx_frames;
    (venue.commands_applied, rx_frames)
}

#[test]
fn ouch_order_entry_over_afxdp_smoltcp() {
    if !netns::root_or_notice("ouch_order_entry_over_afxdp_smoltcp") {
        return;
    }
    let pair = pair();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = {
        let (names, stop) = (pair.names(), Arc::clone(&stop));
        std::thread::spawn(move || venue_server(names, stop, ready_tx))
    };
    ready_rx.recv().unwrap().expect("AF_XDP socket opens");
    let ns_b = pair.ns_b.clone();
    let client = std::thread::spawn(move || {
        netns::enter(&ns_b).unwrap();
        let addr = SocketAddr::from((NODE_IP, PORT));
        let timeout = Duration::from_secs(10);
        let wrong = Login {
            password: *b"WRONG     ",
            ..ALICE
        };
        assert!(matches!(
            KernelMember::login(addr, wrong, timeout),
            Err(MemberError::LoginRejected(_))
        ));
        let mut alice = KernelMember::login(addr, ALICE, timeout).unwrap();
        let mut bob = KernelMember::login(addr, BOB, timeout).unwrap();
        alice.send(&enter(1, Side::Buy, 100, 1_000_000)).unwrap();
        let accepted = alice.next_message().unwrap();
        assert!(
            matches!(accepted, Outbound::OrderAccepted(a) if a.user_ref_num == 1 && a.quantity == 100)
        );
        bob.send(&enter(1, Side::Sell, 60, 1_000_000)).unwrap();
        let mut bob_messages = [bob.next_message().unwrap(), bob.next_message().unwrap()];
        bob_messages.sort_by_key(|m| !matches!(m, Outbound::OrderAccepted(_)));
        assert!(matches!(bob_messages[0], Outbound::OrderAccepted(_)));
        assert!(
            matches!(bob_messages[1], Outbound::OrderExecuted(e) if e.quantity == 60 && e.price == 1_000_000)
        );
        let fill = alice.next_message().unwrap();
        assert!(
            matches!(fill, Outbound::OrderExecuted(e) if e.user_ref_num == 1 && e.quantity == 60)
        );
        // A duplicate UserRefNum is never executed twice: the venue stays silent.
        alice.send(&enter(1, Side::Buy, 5, 1_000_000)).unwrap();
        // Then a fresh order is still served, so the silence was a judgement, not a stall.
        alice.send(&enter(2, Side::Buy, 7, 990_000)).unwrap();
        let next = alice.next_message().unwrap();
        assert!(
            matches!(next, Outbound::OrderAccepted(a) if a.user_ref_num == 2 && a.quantity == 7)
        );
    });
    let joined = client.join();
    stop.store(true, Ordering::Relaxed);
    let (commands, rx_frames) = server.join().expect("venue thread");
    joined.expect("client assertions");
    assert_eq!(
        commands, 3,
        "three orders reached the engine (the duplicate did not)"
    );
    assert!(rx_frames > 10);
}

#[test]
fn tcp_echo_over_afxdp_native_mode() {
    if !netns::root_or_notice("tcp_echo_over_afxdp_native_mode") {
        return;
    }
    // veth has driver-mode XDP (copy mode; no zero-copy on veth).
    run_echo(XdpMode::Native);
}
