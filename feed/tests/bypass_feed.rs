//! The feed over AF_XDP on a veth pair (root only; CI is root). Goal: the bypass publisher's
//! hand-built Ethernet/IPv4/UDP multicast frames are accepted by an ordinary kernel subscriber
//! (IPv4 checksum, multicast MAC, UDP length and checksum all right, or the kernel drops them),
//! and the subscriber builds the same books as the engine. Method: namespace A runs a random
//! order flow on a real engine, the sans-IO `Publisher`, and `FramePublisher` over a
//! transmit-only AF_XDP socket; namespace B joins the group with a kernel UDP socket and feeds
//! a `Subscriber` and a `Book`. The `VethPair` guard deletes both namespaces, also on failure.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use peregrine_engine::Engine;
use peregrine_feed::book::Book;
use peregrine_feed::bypass::{FramePublisher, UdpFlow};
use peregrine_feed::encoder::EncoderConfig;
use peregrine_feed::moldudp64::Session;
use peregrine_feed::net::{multicast_receiver, MulticastConfig};
use peregrine_feed::publisher::{Publisher, PublisherConfig};
use peregrine_feed::subscriber::Subscriber;
use peregrine_gateway::frame::afxdp::{AfXdp, XdpConfig};
use peregrine_gateway::frame::netns::{self, VethPair};
use peregrine_gateway::frame::FrameIo;

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 192, 7, 1);
const PORT: u16 = 31_077;
const STEPS: usize = 3_000;

/// The publisher's `send` callback: one frame per MoldUDP64 packet through the XSK.
fn sender<'a>(frames: &'a mut FramePublisher, xsk: &'a mut AfXdp) -> impl FnMut(&[u8]) + 'a {
    move |payload| frames.send(xsk, payload).expect("frame queued")
}

fn publish(if_a: &str, seed: u64, udp_checksum: bool) -> (Engine, u64, u64) {
    let mut xsk = AfXdp::open(
        if_a,
        XdpConfig {
            frame_count: 256,
            ..XdpConfig::default()
        },
    )
    .expect("transmit-only AF_XDP socket");
    let mut frames = FramePublisher::new(
        UdpFlow {
            src_mac: xsk.mac(),
            src_ip: Ipv4Addr::new(10, 77, 0, 1),
            src_port: 40_001,
            group: GROUP,
            group_port: PORT,
            ttl: 1,
            udp_checksum,
        },
        1_000,
    );
    let config = common::engine_config();
    let mut engine = Engine::new(config.clone()).unwrap();
    let session = Session::from_text("BYPASS0001").unwrap();
    let mut publisher = Publisher::new(
        &PublisherConfig::default(),
        session,
        &config,
        EncoderConfig::anonymous(common::ACCOUNTS),
    )
    .unwrap();
    publisher.start_session(1, 1, &mut sender(&mut frames, &mut xsk));
    let mut flow = common::Flow::new(seed);
    for step in 0..STEPS as u64 {
        let now_ns = 10 + step;
        {
            let mut send = sender(&mut frames, &mut xsk);
            for event in flow.step(&mut engine) {
                publisher.handle_event(now_ns, step + 1, now_ns, &event, &mut send);
            }
            publisher.handle_batch_end(now_ns, &mut send);
        }
        frames.flush(&mut xsk).unwrap();
        // Pace the copy-mode path a little so the receiver's socket keeps up.
        if step % 64 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let end_ns = STEPS as u64 + 20;
    publisher.end_session(end_ns, end_ns, &mut sender(&mut frames, &mut xsk));
    frames.flush(&mut xsk).unwrap();
    let next_seq = publisher.next_seq();
    let sent = frames.counters().frames;
    assert_eq!(frames.counters().dropped, 0);
    (engine, next_seq, sent)
}

fn subscribe(ready: std::sync::mpsc::Sender<()>) -> (Subscriber, Book, u64) {
    let config = MulticastConfig {
        group: GROUP,
        port: PORT,
        interface: Ipv4Addr::new(10, 77, 0, 2),
        loopback: false,
        ..MulticastConfig::default()
    };
    let socket = multicast_receiver(&config).expect("join the group");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    ready.send(()).unwrap();
    let mut subscriber = Subscriber::new(None, 1);
    let mut book = Book::new(common::book_config());
    let mut datagram = [0u8; 2048];
    let mut received = 0;
    let start = Instant::now();
    while !subscriber.is_ended() && start.elapsed() < Duration::from_secs(60) {
        let Ok(len) = socket.recv(&mut datagram) else {
            break;
        };
        received += 1;
        subscriber.handle_packet_parsed(&datagram[..len], |seq, message| {
            book.apply(message)
                .unwrap_or_else(|error| panic!("seq {seq} {message}: {error}"));
        });
    }
    (subscriber, book, received)
}

fn run(udp_checksum: bool) {
    let pair = VethPair::create().expect("namespaces and veth pair");
    netns::ip_in(
        &pair.ns_b,
        &["addr", "add", "10.77.0.2/24", "dev", &pair.if_b],
    )
    .unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let ns_b = pair.ns_b.clone();
    let subscriber = std::thread::spawn(move || {
        netns::enter(&ns_b).unwrap();
        subscribe(ready_tx)
    });
    ready_rx.recv().expect("subscriber joined");
    let names = pair.names();
    let publisher = std::thread::spawn(move || {
        netns::enter(&names.ns_a).unwrap();
        publish(&names.if_a, 0x5eed, udp_checksum)
    });
    let (engine, next_seq, sent) = publisher.join().expect("publisher");
    let (subscriber, book, received) = subscriber.join().expect("subscriber");
    assert!(
        subscriber.is_ended(),
        "end of session arrived ({received} of {sent} frames)"
    );
    assert_eq!(subscriber.gap(), None);
    assert_eq!(subscriber.expected_seq(), next_seq);
    assert!(received >= sent - 1, "{received} of {sent}");
    common::assert_books_equal(&engine, &book, "bypass subscriber");
    book.verify();
}

#[test]
fn kernel_subscriber_builds_the_engine_books_from_afxdp_frames() {
    if !netns::root_or_notice("kernel_subscriber_builds_the_engine_books_from_afxdp_frames") {
        return;
    }
    run(true);
}

#[test]
fn udp_checksum_off_is_accepted_too() {
    if !netns::root_or_notice("udp_checksum_off_is_accepted_too") {
        return;
    }
    run(false);
}
