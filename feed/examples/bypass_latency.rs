//! Kernel path vs AF_XDP vs DPDK on a veth pair, in the same run (root; release build):
//!
//! ```sh
//! cargo run --release -p peregrine-feed --example bypass_latency -- [ORDERS] [BLAST_PACKETS] [ROUNDS]
//! # with the DPDK path (libdpdk-dev 22.11):
//! cargo run --release -p peregrine-feed --features dpdk --example bypass_latency -- 5000 200000 5
//! ```
//!
//! Two namespaces joined by a veth pair. Namespace A runs the one-loop venue (SoupBinTCP/OUCH
//! sessions + engine) and the feed publisher on one busy-polling thread, once over kernel TCP
//! and a kernel UDP multicast socket, then over smoltcp + AF_XDP (SKB mode, then veth's native
//! XDP mode), then (feature `dpdk`) over smoltcp + a DPDK port, with the feed frames built by
//! `FramePublisher` and sent through the same XSK or port. Namespace B runs a kernel member
//! (one order outstanding at a time: closed loop) and a kernel multicast subscriber.
//!
//! The DPDK path is DPDK 22.11's `net_af_packet` driver on the veth end (EAL `--no-huge
//! --no-pci`): veth has no DPDK driver, so this is the only DPDK port it can have, and it is the
//! worst case for DPDK: the driver copies every frame between the kernel's `AF_PACKET` rings
//! and its mbufs, and the kernel still builds an skb for every frame and runs its packet taps,
//! so the figures show the cost of DPDK's poll loop and burst API on top of a kernel copy, not
//! what DPDK does with a poll-mode driver owning a NIC's queues. The EAL starts once per
//! process (in `main`, with no device); each DPDK round adds its own `net_af_packet` device in
//! namespace A and removes it at the end of the round (`DpdkPort::open_af_packet`), so no
//! packet socket stays open on the interface while the other paths run (it would tap, and so
//! copy, every one of their frames).
//!
//! - order-to-ack: member writes an Enter Order → reads its Order Accepted.
//! - order-to-feed: member writes an Enter Order → subscriber reads the ITCH Add Order for it.
//! - packets/s: the publishing thread sends BLAST_PACKETS 200-byte feed datagrams as fast as
//!   it can; the sender's rate and what the subscriber received are reported, with the
//!   datagrams namespace B's UDP dropped for a full socket buffer ("rcv drops").
//!
//! Paths alternate for ROUNDS rounds and medians of the per-round percentiles are printed,
//! then each path's medians as ratios to the kernel path's.
//! Timing is measured here only; tests never assert it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peregrine_engine::{EngineConfig, Event};
use peregrine_feed::bypass::{FramePublisher, UdpFlow};
use peregrine_feed::encoder::EncoderConfig;
use peregrine_feed::itch::MessageRepr;
use peregrine_feed::moldudp64::{Packet, Session};
use peregrine_feed::net::{multicast_receiver, multicast_sender, MulticastConfig};
use peregrine_feed::publisher::{Publisher, PublisherConfig};
use peregrine_gateway::frame::afxdp::{AfXdp, XdpConfig};
use peregrine_gateway::frame::bpf::{XdpFilter, XdpMode};
#[cfg(feature = "dpdk")]
use peregrine_gateway::frame::dpdk::{eal_init, register_thread, DpdkPort};
use peregrine_gateway::frame::netns::{self, Veth, VethPair};
use peregrine_gateway::frame::tcp::{TcpConfig, TcpStack};
use peregrine_gateway::frame::venue::{KernelMember, KernelStreams, Login, Streams, Venue};
use peregrine_gateway::frame::FrameIo;
use peregrine_gateway::ouch::inbound::EnterOrder;
use peregrine_gateway::ouch::{
    Capacity, CrossType, Display, Inbound, Options, Outbound, Side, TimeInForce,
};

const NODE_IP: [u8; 4] = [10, 77, 0, 1];
const KERNEL_IP: [u8; 4] = [10, 77, 0, 3];
const PORT: u16 = 15000;
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 192, 9, 1);
const FEED_PORT: u16 = 31_090;
const ALICE: Login = Login {
    username: *b"ALICE ",
    password: *b"SECRET    ",
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Kernel,
    /// AF_XDP with the program in generic (SKB) mode.
    AfXdp,
    /// AF_XDP with the program in veth's driver (native) mode, copy mode.
    AfXdpNative,
    /// DPDK's `net_af_packet` port on the veth end (see the module docs).
    #[cfg(feature = "dpdk")]
    Dpdk,
}

/// The paths of one round, in the order they run.
const PATHS: &[Path] = &[
    Path::Kernel,
    Path::AfXdp,
    Path::AfXdpNative,
    #[cfg(feature = "dpdk")]
    Path::Dpdk,
];

/// Queues one feed payload as a frame through the venue's backend (an empty one flushes).
type FrameSink<'a, S> = dyn FnMut(&mut Venue<S>, &mut FramePublisher, &[u8]) + 'a;

/// The feed's last hop: a kernel socket or frames through the XSK.
enum FeedOut {
    Kernel(std::net::UdpSocket),
    Frames(FramePublisher),
}

fn feed_config(interface: [u8; 4]) -> MulticastConfig {
    MulticastConfig {
        group: GROUP,
        port: FEED_PORT,
        interface: Ipv4Addr::from(interface),
        loopback: false,
        ..MulticastConfig::default()
    }
}

fn engine_config() -> EngineConfig {
    EngineConfig::demo(1, 1, 200_000)
}

/// Publishes collected events through `out` (the stream service gives the XSK for frames).
fn publish<S: Streams>(
    publisher: &mut Publisher,
    out: &mut FeedOut,
    events: &[Event],
    venue: &mut Venue<S>,
    io: &mut FrameSink<'_, S>,
) {
    let now_ns = 1;
    match out {
        FeedOut::Kernel(socket) => {
            let mut send = |payload: &[u8]| {
                let _ = socket.send(payload);
            };
            for (seq, event) in events.iter().enumerate() {
                publisher.handle_event(now_ns, seq as u64 + 1, now_ns, event, &mut send);
            }
            publisher.handle_batch_end(now_ns, &mut send);
        }
        FeedOut::Frames(frames) => {
            let mut send = |payload: &[u8]| io(venue, frames, payload);
            for (seq, event) in events.iter().enumerate() {
                publisher.handle_event(now_ns, seq as u64 + 1, now_ns, event, &mut send);
            }
            publisher.handle_batch_end(now_ns, &mut send);
            io(venue, frames, &[]);
        }
    }
}

/// The venue loop with its feed, until `stop`; then the packets/s blast.
fn serve<S: Streams>(
    mut venue: Venue<S>,
    mut out: FeedOut,
    stop: Arc<AtomicBool>,
    blast_packets: u64,
    blast_start: Arc<AtomicBool>,
    io: &mut FrameSink<'_, S>,
) -> f64 {
    let config = engine_config();
    let session = Session::from_text("BENCH00001").expect("session name");
    let mut publisher = Publisher::new(
        &PublisherConfig::default(),
        session,
        &config,
        EncoderConfig::anonymous(1),
    )
    .expect("publisher");
    let mut events: Vec<Event> = Vec::with_capacity(4096);
    let mut start_session = Vec::new();
    match &mut out {
        FeedOut::Kernel(socket) => publisher.start_session(1, 1, &mut |p: &[u8]| {
            let _ = socket.send(p);
        }),
        FeedOut::Frames(_) => {
            publisher.start_session(1, 1, &mut |p: &[u8]| start_session.push(p.to_vec()))
        }
    }
    if let FeedOut::Frames(frames) = &mut out {
        for payload in &start_session {
            io(&mut venue, frames, payload);
        }
        io(&mut venue, frames, &[]);
    }
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        events.clear();
        venue
            .run_once(now_ns, &mut |event| events.push(*event))
            .expect("venue I/O");
        if !events.is_empty() {
            publish(&mut publisher, &mut out, &events, &mut venue, io);
        }
        if blast_start.load(Ordering::Relaxed) {
            break;
        }
    }
    blast(&mut venue, &mut out, blast_packets, io)
}

/// Sends `count` 200-byte datagrams; returns packets per second at the sender.
fn blast<S: Streams>(
    venue: &mut Venue<S>,
    out: &mut FeedOut,
    count: u64,
    io: &mut FrameSink<'_, S>,
) -> f64 {
    let payload = [0x42u8; 200];
    let start = Instant::now();
    for sent in 0..count {
        match out {
            FeedOut::Kernel(socket) => while socket.send(&payload).is_err() {},
            FeedOut::Frames(frames) => {
                io(venue, frames, &payload);
                if sent % 32 == 31 {
                    io(venue, frames, &[]);
                }
            }
        }
    }
    if let FeedOut::Frames(frames) = out {
        io(venue, frames, &[]);
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn enter(user_ref_num: u32) -> Inbound {
    Inbound::EnterOrder(EnterOrder {
        user_ref_num,
        side: Side::Buy,
        quantity: 1,
        symbol: *b"SYM0    ",
        price: 100 * (1 + u64::from(user_ref_num % 5_000)),
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: *b"BENCH         ",
        options: Options::default(),
    })
}

/// Subscriber: the arrival time of every Add Order, and the count of other datagrams.
fn subscribe(
    ready: std::sync::mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
    arrivals: Arc<Mutex<std::collections::HashMap<u64, Instant>>>,
    blast_received: Arc<AtomicU64>,
) {
    let socket = multicast_receiver(&feed_config([10, 77, 0, 2])).expect("join");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    ready.send(()).expect("ready");
    let mut datagram = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok(len) = socket.recv(&mut datagram) else {
            continue;
        };
        let now = Instant::now();
        if datagram[..len].iter().all(|&b| b == 0x42) {
            blast_received.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // Decoded without the subscriber's gap rule, so one lost datagram costs only its
        // own orders: arrival time by order reference number (= the order's number here).
        let Ok(packet) = Packet::new_checked(&datagram[..len]) else {
            continue;
        };
        let mut arrivals = arrivals.lock().expect("arrivals");
        for block in packet.blocks().flatten() {
            if let Ok(MessageRepr::AddOrder(add)) = MessageRepr::parse(block) {
                arrivals.insert(add.order.0, now);
            }
        }
    }
}

/// Closed-loop member: returns the send time and order-to-ack of each order.
fn member(addr: SocketAddr, orders: u32) -> (Vec<(u64, Instant)>, Vec<u64>) {
    let mut alice = KernelMember::login(addr, ALICE, Duration::from_secs(10)).expect("login");
    let mut sent = Vec::with_capacity(orders as usize);
    let mut acks = Vec::with_capacity(orders as usize);
    for n in 1..=orders {
        let start = Instant::now();
        alice.send(&enter(n)).expect("send");
        let reply = alice.next_message().expect("ack");
        acks.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        let Outbound::OrderAccepted(accepted) = reply else {
            panic!("expected Order Accepted, got {reply:?}");
        };
        sent.push((accepted.order_reference_number, start));
    }
    (sent, acks)
}

fn percentiles(samples: &mut [u64]) -> [u64; 3] {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    [at(0.50), at(0.99), at(0.999)]
}

struct RoundResult {
    ack: [u64; 3],
    feed: [u64; 3],
    pps_sent: f64,
    /// Fraction of the blast the subscriber received.
    delivered: f64,
    /// Orders whose Add Order never reached the subscriber (datagram lost).
    feed_lost: usize,
    /// Datagrams namespace B's UDP dropped for a full socket buffer during the round (the
    /// subscriber thread not scheduled in time), the usual reason `delivered` is below 1.
    rcvbuf_drops: u64,
}

/// Namespace `ns`'s UDP `RcvbufErrors` counter (from `/proc/thread-self/net/snmp`, read on a
/// thread that enters the namespace).
fn udp_rcvbuf_errors(ns: &str) -> u64 {
    let ns = ns.to_string();
    let snmp = std::thread::spawn(move || {
        netns::enter(&ns).expect("enter namespace");
        std::fs::read_to_string("/proc/thread-self/net/snmp").expect("snmp")
    })
    .join()
    .expect("snmp reader");
    let mut udp = snmp.lines().filter(|line| line.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

fn venue_of<S: Streams>(streams: S) -> Venue<S> {
    Venue::new(streams, engine_config(), vec![ALICE], 2)
}

/// Serves the venue and feed over smoltcp on the frame backend `io`, as [`serve`] does.
fn serve_frames<F: FrameIo>(
    io: F,
    ready: std::sync::mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
    blast_packets: u64,
    blast_start: Arc<AtomicBool>,
) -> f64 {
    let mac = io.mac();
    let tcp = TcpConfig {
        ipv4: NODE_IP,
        prefix_len: 24,
        gateway: None,
        port: PORT,
        connections_max: 2,
        buffer_bytes: 256 * 1024,
    };
    let stack = TcpStack::new(io, tcp, 1).expect("stack");
    let flow = UdpFlow {
        src_mac: mac,
        src_ip: Ipv4Addr::from(NODE_IP),
        src_port: 40_000,
        group: GROUP,
        group_port: FEED_PORT,
        ttl: 1,
        udp_checksum: false,
    };
    ready.send(()).expect("ready");
    let mut io = |venue: &mut Venue<TcpStack<F>>, frames: &mut FramePublisher, payload: &[u8]| {
        // A payload is queued; an empty one flushes the queue (one kick per batch).
        let backend = venue.streams().io_mut();
        if payload.is_empty() {
            let _ = frames.flush(backend);
        } else {
            let _ = frames.send(backend, payload);
        }
    };
    serve(
        venue_of(stack),
        FeedOut::Frames(FramePublisher::new(flow, 10_000)),
        stop,
        blast_packets,
        blast_start,
        &mut io,
    )
}

fn start_server(
    names: &Veth,
    path: Path,
    stop: Arc<AtomicBool>,
    blast_packets: u64,
    blast_start: Arc<AtomicBool>,
) -> std::thread::JoinHandle<f64> {
    let names = names.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        netns::enter(&names.ns_a).expect("enter A");
        // (venue_of: one venue per path, same engine and logins)
        match path {
            Path::Kernel => {
                let streams =
                    KernelStreams::bind(SocketAddr::from((KERNEL_IP, PORT)), 2).expect("bind");
                let socket = multicast_sender(&feed_config(KERNEL_IP)).expect("sender");
                ready_tx.send(()).expect("ready");
                let mut unused =
                    |_: &mut Venue<KernelStreams>, _: &mut FramePublisher, _: &[u8]| {};
                serve(
                    venue_of(streams),
                    FeedOut::Kernel(socket),
                    stop,
                    blast_packets,
                    blast_start,
                    &mut unused,
                )
            }
            Path::AfXdp | Path::AfXdpNative => {
                let filter = XdpFilter {
                    ipv4: NODE_IP,
                    tcp_port: PORT,
                };
                let config = XdpConfig {
                    mode: if path == Path::AfXdp {
                        XdpMode::Skb
                    } else {
                        XdpMode::Native
                    },
                    frame_count: 4096,
                    filter: Some(filter),
                    ..XdpConfig::default()
                };
                let xsk = AfXdp::open(&names.if_a, config).expect("AF_XDP");
                serve_frames(xsk, ready_tx, stop, blast_packets, blast_start)
            }
            #[cfg(feature = "dpdk")]
            Path::Dpdk => {
                // An lcore id for this polling thread (mempool cache), as DPDK would run it.
                let _lcore = register_thread().expect("DPDK lcore");
                // Added in this thread, so the driver's packet socket opens in namespace A.
                let port = DpdkPort::open_af_packet(&names.if_a, 4096).expect("DPDK port");
                serve_frames(port, ready_tx, stop, blast_packets, blast_start)
            }
        }
    });
    ready_rx.recv().expect("server ready");
    handle
}

fn round(pair: &VethPair, path: Path, orders: u32, blast_packets: u64) -> RoundResult {
    let stop = Arc::new(AtomicBool::new(false));
    let blast_start = Arc::new(AtomicBool::new(false));
    let arrivals = Arc::new(Mutex::new(std::collections::HashMap::new()));
    let blast_received = Arc::new(AtomicU64::new(0));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let subscriber = {
        let (ns_b, stop, arrivals, received) = (
            pair.ns_b.clone(),
            Arc::clone(&stop),
            Arc::clone(&arrivals),
            Arc::clone(&blast_received),
        );
        std::thread::spawn(move || {
            netns::enter(&ns_b).expect("enter B");
            subscribe(ready_tx, stop, arrivals, received);
        })
    };
    ready_rx.recv().expect("subscriber ready");
    let rcvbuf_errors_before = udp_rcvbuf_errors(&pair.ns_b);
    let server = start_server(
        pair,
        path,
        Arc::clone(&stop),
        blast_packets,
        Arc::clone(&blast_start),
    );
    let addr = SocketAddr::from((
        if path == Path::Kernel {
            KERNEL_IP
        } else {
            NODE_IP
        },
        PORT,
    ));
    let ns_b = pair.ns_b.clone();
    let (sent, mut acks) = std::thread::spawn(move || {
        netns::enter(&ns_b).expect("enter B");
        member(addr, orders)
    })
    .join()
    .expect("member");
    let deadline = Instant::now() + Duration::from_secs(5);
    let arrived =
        |a: &Arc<Mutex<std::collections::HashMap<u64, Instant>>>| a.lock().expect("arrivals").len();
    while arrived(&arrivals) < sent.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    blast_start.store(true, Ordering::Relaxed);
    let pps_sent = server.join().expect("server");
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = blast_received.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    subscriber.join().expect("subscriber");
    let rcvbuf_drops = udp_rcvbuf_errors(&pair.ns_b) - rcvbuf_errors_before;
    let arrivals = arrivals.lock().expect("arrivals");
    let mut feed: Vec<u64> = sent
        .iter()
        .filter_map(|(reference, s)| {
            let a = arrivals.get(reference)?;
            Some(u64::try_from(a.duration_since(*s).as_nanos()).unwrap_or(u64::MAX))
        })
        .collect();
    let feed_lost = sent.len() - feed.len();
    if feed.is_empty() {
        feed.push(u64::MAX);
    }
    RoundResult {
        ack: percentiles(&mut acks),
        feed: percentiles(&mut feed),
        pps_sent,
        feed_lost,
        rcvbuf_drops,
        delivered: blast_received.load(Ordering::Relaxed) as f64 / blast_packets as f64,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Removes DPDK's runtime directory of this process (`/var/run/dpdk/<file prefix>`).
#[cfg(feature = "dpdk")]
struct DpdkRuntime(String);

#[cfg(feature = "dpdk")]
impl Drop for DpdkRuntime {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.0));
    }
}

/// Starts DPDK's EAL once, with no device (each DPDK round adds and removes its own), on the
/// first CPU this thread may use, then gives the thread back all its CPUs: the EAL pins the
/// thread that starts it to its main lcore, and every thread spawned later would inherit that.
#[cfg(feature = "dpdk")]
fn start_dpdk() -> DpdkRuntime {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
    let mut cpus: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; `cpus` is a live set of `size` bytes.
    let read = unsafe { libc::sched_getaffinity(0, size, &mut cpus) };
    assert_eq!(read, 0, "sched_getaffinity");
    let first_cpu = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: the index is below CPU_SETSIZE, inside the set.
        .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &cpus) })
        .expect("a CPU this thread may run on");
    let runtime = DpdkRuntime(format!("pg-bypass-bench-{}", std::process::id()));
    let args = [
        "--no-huge".to_string(),
        "--no-pci".to_string(),
        "-l".to_string(),
        first_cpu.to_string(),
        "-m".to_string(),
        "256".to_string(),
        "--log-level=error".to_string(),
        format!("--file-prefix={}", runtime.0),
    ];
    eal_init(&args).expect("DPDK EAL");
    // SAFETY: restores, for this thread, the set read above.
    let restored = unsafe { libc::sched_setaffinity(0, size, &cpus) };
    assert_eq!(restored, 0, "sched_setaffinity");
    runtime
}

fn print_round(path: Path, index: usize, result: &RoundResult) {
    println!(
        "{:<12} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12.0} {:>12.3} {:>10} {:>10}",
        format!("{path:?}"),
        index,
        result.ack[0],
        result.ack[1],
        result.ack[2],
        result.feed[0],
        result.feed[1],
        result.feed[2],
        result.pps_sent,
        result.delivered,
        result.feed_lost,
        result.rcvbuf_drops
    );
}

/// Medians over rounds per path, then each path's medians as a ratio to the kernel path's.
fn print_medians(results: &[(Path, RoundResult)]) {
    type Metric = fn(&RoundResult) -> f64;
    let metrics: [Metric; 10] = [
        |r| r.ack[0] as f64,
        |r| r.ack[1] as f64,
        |r| r.ack[2] as f64,
        |r| r.feed[0] as f64,
        |r| r.feed[1] as f64,
        |r| r.feed[2] as f64,
        |r| r.pps_sent,
        |r| r.delivered,
        |r| r.feed_lost as f64,
        |r| r.rcvbuf_drops as f64,
    ];
    let medians_of = |path: Path| -> [f64; 10] {
        metrics.map(|metric| {
            median(
                results
                    .iter()
                    .filter(|(p, _)| *p == path)
                    .map(|(_, r)| metric(r))
                    .collect(),
            )
        })
    };
    let kernel = medians_of(Path::Kernel);
    println!("\nmedians over rounds (ns; packets/s):");
    for &path in PATHS {
        let m = medians_of(path);
        println!(
            "{:<12} ack p50 {:>8.0} p99 {:>8.0} p99.9 {:>8.0} | feed p50 {:>8.0} p99 {:>8.0} p99.9 {:>8.0} | sent {:>9.0}/s delivered {:>5.3} feed lost {:>4.0} rcv drops {:>6.0}",
            format!("{path:?}"), m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9]
        );
    }
    println!("\nratio of medians to the kernel path (latency: below 1 is faster; pkt/s: above 1 is more):");
    for &path in PATHS {
        let m = medians_of(path);
        let r = |i: usize| m[i] / kernel[i];
        println!(
            "{:<12} ack p50 {:>5.2} p99 {:>5.2} p99.9 {:>5.2} | feed p50 {:>5.2} p99 {:>5.2} p99.9 {:>5.2} | sent pkt/s {:>5.2}",
            format!("{path:?}"), r(0), r(1), r(2), r(3), r(4), r(5), r(6)
        );
    }
}

fn main() {
    if !netns::root_or_notice("bypass_latency") {
        return;
    }
    // Release builds abort on panic: remove the namespaces before that.
    netns::remove_pairs_on_panic();
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let orders = args.first().copied().unwrap_or(5_000) as u32;
    let blast_packets = args.get(1).copied().unwrap_or(200_000);
    let rounds = args.get(2).copied().unwrap_or(3) as usize;
    #[cfg(feature = "dpdk")]
    let _dpdk_runtime = start_dpdk();
    let pair = VethPair::create().expect("veth pair");
    pair.disable_offloads().expect("offloads");
    netns::ip_in(
        &pair.ns_a,
        &["addr", "add", "10.77.0.3/24", "dev", &pair.if_a],
    )
    .expect("addr A");
    netns::ip_in(
        &pair.ns_b,
        &["addr", "add", "10.77.0.2/24", "dev", &pair.if_b],
    )
    .expect("addr B");
    println!("orders per round {orders}, blast {blast_packets} packets, {rounds} rounds, paths alternate");
    println!(
        "{:<12} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10} {:>10}",
        "path",
        "round",
        "ack p50",
        "ack p99",
        "ack p99.9",
        "feed p50",
        "feed p99",
        "feed p99.9",
        "sent pkt/s",
        "delivered",
        "feed lost",
        "rcv drops"
    );
    let mut results: Vec<(Path, RoundResult)> = Vec::new();
    for index in 0..rounds {
        for &path in PATHS {
            let result = round(&pair, path, orders, blast_packets);
            print_round(path, index, &result);
            results.push((path, result));
        }
    }
    print_medians(&results);
}
