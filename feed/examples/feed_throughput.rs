//! Feed throughput, measured (not a test): in a private network namespace (run as root),
//!
//! 1. **publish**: the publisher thread takes a pre-generated stream of engine events (a real
//!    `Engine` under the tests' seeded random flow, a batch end after every command) as fast
//!    as it can: encode, packetise, append to the mmap retransmission store, `send` on UDP
//!    multicast over loopback. Reported: messages/s and packets/s from the first record to
//!    the last packet, median of the runs; a subscriber client in the same namespace receives
//!    concurrently and must end with every message (it re-requests what the kernel dropped);
//! 2. **decode**: the subscriber's path on the same packets in memory (`Subscriber`
//!    framing and sequence checks, ITCH parse, order-by-order `Book`), messages/s, median.
//!
//! Run: `CARGO_TARGET_DIR=/work/targets/feed2 cargo run --release -p peregrine-feed --example feed_throughput [commands] [runs]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{book_config, engine_config, Flow, Netns};
use peregrine_engine::Engine;
use peregrine_feed::book::Book;
use peregrine_feed::encoder::EncoderConfig;
use peregrine_feed::moldudp64::Session;
use peregrine_feed::net::{multicast_sender, unicast_socket, MulticastConfig};
use peregrine_feed::publisher::{self, FeedPoll, FeedRecord, Publisher, PublisherConfig};
use peregrine_feed::rerequest::{self, RerequestConfig, RerequestServer};
use peregrine_feed::retransmit::{RetransmitConfig, SharedStore, Store};
use peregrine_feed::subscriber::Subscriber;
use peregrine_feed::subscriber_net::{FeedClient, SubscriberNetConfig};

const START_NS: u64 = 1_790_000_000_000_000_000;

fn session() -> Session {
    Session::from_text("BENCH").expect("session")
}

/// Events of `commands` random commands, a batch end after every `batch_commands` commands.
fn records(commands: u64, batch_commands: u64) -> Vec<FeedRecord> {
    let mut engine = Engine::new(engine_config()).expect("engine");
    let mut flow = Flow::new(0xbe5c_0001);
    let mut records = Vec::new();
    for input_seq in 1..=commands {
        let timestamp_ns = START_NS + input_seq * 1_000;
        for event in flow.step(&mut engine) {
            records.push(FeedRecord::Event {
                input_seq,
                timestamp_ns,
                event,
            });
        }
        if input_seq % batch_commands == 0 {
            records.push(FeedRecord::BatchEnd);
        }
    }
    records.push(FeedRecord::BatchEnd);
    records
}

fn publisher() -> Publisher {
    let engine = engine_config();
    let config = PublisherConfig {
        heartbeat_interval_ms: 10,
        end_of_session_repeat: 5,
        ..PublisherConfig::default()
    };
    Publisher::new(
        &config,
        session(),
        &engine,
        EncoderConfig::anonymous(engine.accounts.len()),
    )
    .expect("publisher")
}

struct PublishRun {
    messages: u64,
    packets: u64,
    seconds: f64,
    receiver_complete: bool,
    receiver_requests: u64,
}

fn publish_once(records: Arc<Vec<FeedRecord>>, dir: &std::path::Path) -> PublishRun {
    let netns = Netns::new();
    let multicast = MulticastConfig {
        group: "239.192.9.1".parse().expect("group"),
        interface: "127.0.0.1".parse().expect("interface"),
        socket_buffer_bytes: 16 << 20,
        ..MulticastConfig::default()
    };
    let store_config = RetransmitConfig {
        path: dir.join("bench.dat"),
        message_capacity: 1 << 22,
        data_capacity_bytes: 256 << 20,
    };
    let store: SharedStore = Arc::new(Mutex::new(
        Store::create(&store_config, session(), 1).expect("store"),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let rerequest_config = RerequestConfig {
        rate_messages_per_second: 50_000_000,
        rate_burst_messages: 5_000_000,
        ..RerequestConfig::default()
    };
    let (ready, bound) = std::sync::mpsc::channel();
    let server = {
        let (store, stop) = (store.clone(), stop.clone());
        netns.spawn(move || {
            let socket = unicast_socket(rerequest_config.listen, 16 << 20).expect("socket");
            ready.send(()).expect("ready");
            let server = RerequestServer::new(&rerequest_config, session()).expect("server");
            rerequest::run(server, &socket, &store, &stop).expect("server")
        })
    };
    bound.recv().expect("bound");
    let (ready, joined) = std::sync::mpsc::channel();
    let receiver = netns.spawn(move || {
        let config = SubscriberNetConfig {
            multicast,
            rerequest: rerequest_config.listen,
            snapshot: None,
            ..SubscriberNetConfig::default()
        };
        let mut client = FeedClient::join(&config, book_config()).expect("join");
        ready.send(()).expect("ready");
        let complete = client
            .run_until(Duration::from_secs(300), FeedClient::is_complete)
            .expect("client");
        (complete, client.counters().requests_sent)
    });
    joined.recv().expect("joined");
    let published = netns.spawn(move || {
        let socket = multicast_sender(&multicast).expect("sender");
        let mut next = 0usize;
        let mut started: Option<Instant> = None;
        let mut elapsed = Duration::ZERO;
        let report = publisher::run(publisher(), &socket, &store, START_NS, || {
            let start = *started.get_or_insert_with(Instant::now);
            match records.get(next) {
                Some(record) => {
                    next += 1;
                    FeedPoll::Record(*record)
                }
                None => {
                    elapsed = start.elapsed();
                    FeedPoll::Finished {
                        timestamp_ns: START_NS,
                    }
                }
            }
        });
        (report, elapsed)
    });
    let (report, elapsed) = published.join().expect("publisher");
    let (receiver_complete, receiver_requests) = receiver.join().expect("receiver");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    server.join().expect("server");
    PublishRun {
        messages: report.counters.messages,
        packets: report.counters.packets,
        seconds: elapsed.as_secs_f64(),
        receiver_complete,
        receiver_requests,
    }
}

fn decode_once(packets: &[Vec<u8>]) -> (u64, f64) {
    let mut subscriber = Subscriber::new(Some(session()), 1);
    let mut book = Book::new(book_config());
    let mut messages = 0u64;
    let start = Instant::now();
    for packet in packets {
        subscriber.handle_packet_parsed(packet, |_, message| {
            messages += 1;
            let _ = book.apply(message);
        });
    }
    (messages, start.elapsed().as_secs_f64())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let commands: u64 = args
        .next()
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(200_000);
    let runs: usize = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("tempdir");
    // A core batch of one command (the worst case: small packets) and of 64 commands.
    for batch_commands in [1, 64] {
        let records = Arc::new(records(commands, batch_commands));
        let mut message_rates = Vec::new();
        let mut packet_rates = Vec::new();
        for run in 0..runs {
            let result = publish_once(records.clone(), dir.path());
            let messages_per_second = result.messages as f64 / result.seconds;
            let packets_per_second = result.packets as f64 / result.seconds;
            println!(
                "publish batch={batch_commands} run {run}: {} messages, {} packets in {:.3} s: {:.0} msg/s, {:.0} pkt/s; receiver complete={} requests={}",
                result.messages, result.packets, result.seconds, messages_per_second, packets_per_second,
                result.receiver_complete, result.receiver_requests
            );
            message_rates.push(messages_per_second);
            packet_rates.push(packets_per_second);
        }
        let packets = captured_packets(&records);
        let mut decode_rates = Vec::new();
        for _ in 0..runs {
            let (messages, seconds) = decode_once(&packets);
            decode_rates.push(messages as f64 / seconds);
        }
        println!(
            "median (batch of {batch_commands} commands): publish {:.0} msg/s, {:.0} pkt/s; subscriber decode+book {:.0} msg/s ({} commands, {} packets, {} runs)",
            median(message_rates),
            median(packet_rates),
            median(decode_rates),
            commands,
            packets.len(),
            runs
        );
    }
}

/// The packets a sans-IO publisher makes of the records, for the decode measurement.
fn captured_packets(records: &[FeedRecord]) -> Vec<Vec<u8>> {
    let mut publisher = publisher();
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut send = |packet: &[u8]| packets.push(packet.to_vec());
    publisher.start_session(0, START_NS, &mut send);
    for record in records {
        match record {
            FeedRecord::Event {
                input_seq,
                timestamp_ns,
                event,
            } => publisher.handle_event(0, *input_seq, *timestamp_ns, event, &mut send),
            FeedRecord::BatchEnd => publisher.handle_batch_end(0, &mut send),
        }
    }
    packets
}
