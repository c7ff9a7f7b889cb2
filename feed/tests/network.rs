//! The feed over real sockets, each test in its own network namespace (loopback up, a
//! 224.0.0.0/4 route on it): a real `Engine` under a seeded random flow feeds the publisher
//! thread (UDP multicast, retransmission store); the re-request and snapshot servers run on
//! their threads; subscriber clients run on theirs, some with a seeded loss hook dropping 1 %
//! or 10 % of the datagrams they receive. Every subscriber must end with exactly the engine's
//! displayed book, order by order, and with every sequence number up to the end of the
//! session. A late joiner starts from a snapshot taken mid-session and must converge too.
//! Finally tshark decodes a capture of the traffic (written by the tap) as MoldUDP64 with no
//! malformed packet.
//!
//! Nothing here asserts timing: waits are bounded only so that a broken build fails instead
//! of hanging.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{assert_books_equal, book_config, engine_config, loss_hook, Flow, Netns, INSTRUMENTS};
use peregrine_engine::Engine;
use peregrine_feed::encoder::{Encoder, EncoderConfig};
use peregrine_feed::moldudp64::Session;
use peregrine_feed::net::{multicast_receiver, multicast_sender, unicast_socket, MulticastConfig};
use peregrine_feed::publisher::{
    self, FeedPoll, FeedRecord, FeedSeq, Publisher, PublisherConfig, PublisherReport,
};
use peregrine_feed::rerequest::{self, RerequestConfig, RerequestCounters, RerequestServer};
use peregrine_feed::retransmit::{lock, RetransmitConfig, SharedStore, Store};
use peregrine_feed::snapshot::{
    self, BookSnapshot, SnapshotConfig, SnapshotCounters, SnapshotHandle,
};
use peregrine_feed::subscriber_net::{FeedClient, SubscriberNetConfig};
use peregrine_feed::tap::{self, TapConfig};

const START_NS: u64 = 1_790_000_000_000_000_000;
const LIMIT: Duration = Duration::from_secs(180);

fn session() -> Session {
    Session::from_text("NETTEST01").expect("session")
}

fn multicast() -> MulticastConfig {
    MulticastConfig {
        group: "239.192.7.1".parse().expect("group"),
        port: 31_001,
        interface: "127.0.0.1".parse().expect("interface"),
        socket_buffer_bytes: 8 << 20,
        ..MulticastConfig::default()
    }
}

fn rerequest_addr() -> SocketAddr {
    "127.0.0.1:31002".parse().expect("addr")
}

fn snapshot_addr() -> SocketAddr {
    "127.0.0.1:31003".parse().expect("addr")
}

fn client_config() -> SubscriberNetConfig {
    SubscriberNetConfig {
        multicast: multicast(),
        rerequest: rerequest_addr(),
        snapshot: Some(snapshot_addr()),
        request_timeout_ms: 50,
        request_retry_max: 20,
        request_count_max: 500,
        ..SubscriberNetConfig::default()
    }
}

/// The servers and the publisher of one test, in one namespace.
struct Exchange {
    netns: Netns,
    _dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    records: Option<SyncSender<FeedPoll>>,
    publisher: Option<JoinHandle<PublisherReport>>,
    rerequest: Option<JoinHandle<RerequestCounters>>,
    snapshot: Option<JoinHandle<SnapshotCounters>>,
    snapshots: SnapshotHandle,
    encoder: Encoder,
    store: SharedStore,
}

impl Exchange {
    fn start() -> Exchange {
        Exchange::start_with_store(1 << 20)
    }

    /// The store keeps the last `message_capacity` messages.
    fn start_with_store(message_capacity: u32) -> Exchange {
        let netns = Netns::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let store_config = RetransmitConfig {
            path: dir.path().join("retransmit.dat"),
            message_capacity,
            data_capacity_bytes: 64 << 20,
        };
        let store: SharedStore = Arc::new(Mutex::new(
            Store::create(&store_config, session(), 1).expect("store"),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let rerequest = {
            let (store, stop) = (store.clone(), stop.clone());
            let (ready, bound) = mpsc::channel();
            let handle = netns.spawn(move || {
                let config = RerequestConfig {
                    listen: rerequest_addr(),
                    rate_messages_per_second: 5_000_000,
                    rate_burst_messages: 500_000,
                    ..RerequestConfig::default()
                };
                let socket = unicast_socket(config.listen, 8 << 20).expect("re-request socket");
                ready.send(()).expect("ready");
                let server = RerequestServer::new(&config, session()).expect("server");
                rerequest::run(server, &socket, &store, &stop).expect("re-request server")
            });
            bound.recv().expect("re-request server bound");
            handle
        };
        let snapshots = SnapshotHandle::new();
        let snapshot = {
            let (handle, stop) = (snapshots.clone(), stop.clone());
            let (ready, bound) = mpsc::channel();
            let server = netns.spawn(move || {
                let config = SnapshotConfig {
                    listen: snapshot_addr(),
                    ..SnapshotConfig::default()
                };
                let listener = TcpListener::bind(config.listen).expect("snapshot listener");
                ready.send(()).expect("ready");
                snapshot::run(&config, listener, session(), &handle, &stop)
                    .expect("snapshot server")
            });
            bound.recv().expect("snapshot server bound");
            server
        };
        let (records, source) = mpsc::sync_channel::<FeedPoll>(8_192);
        let publisher = {
            let store = store.clone();
            netns.spawn(move || {
                let config = PublisherConfig {
                    heartbeat_interval_ms: 20,
                    end_of_session_repeat: 10,
                    ..PublisherConfig::default()
                };
                let engine = engine_config();
                let accounts = engine.accounts.len();
                let publisher = Publisher::new(
                    &config,
                    session(),
                    &engine,
                    EncoderConfig::anonymous(accounts),
                )
                .expect("publisher");
                let socket = multicast_sender(&multicast()).expect("sender");
                publisher::run(publisher, &socket, &store, START_NS, || {
                    match source.recv_timeout(Duration::from_millis(1)) {
                        Ok(poll) => poll,
                        Err(RecvTimeoutError::Timeout) => FeedPoll::Idle,
                        Err(RecvTimeoutError::Disconnected) => FeedPoll::Finished {
                            timestamp_ns: START_NS,
                        },
                    }
                })
            })
        };
        let engine = engine_config();
        let encoder = Encoder::new(
            &engine.instruments,
            EncoderConfig::anonymous(engine.accounts.len()),
        )
        .expect("encoder");
        Exchange {
            netns,
            _dir: dir,
            stop,
            records: Some(records),
            publisher: Some(publisher),
            rerequest: Some(rerequest),
            snapshot: Some(snapshot),
            snapshots,
            encoder,
            store,
        }
    }

    /// Waits until the publisher has stored (and so sent) every message before `next_seq`.
    fn wait_published(&self, next_seq: u64) {
        let start = std::time::Instant::now();
        while lock(&self.store).next_seq() < next_seq {
            assert!(start.elapsed() < LIMIT, "publisher stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs `commands` random commands through the engine and hands their events to the
    /// publisher, a batch end after each command.
    fn feed(
        &self,
        engine: &mut Engine,
        flow: &mut Flow,
        feed_seq: &mut FeedSeq,
        input_seq: &mut u64,
        commands: u64,
    ) {
        let records = self.records.as_ref().expect("publisher running");
        for _ in 0..commands {
            *input_seq += 1;
            let timestamp_ns = START_NS + *input_seq * 1_000;
            for event in flow.step(engine) {
                feed_seq.observe(&event);
                let record = FeedRecord::Event {
                    input_seq: *input_seq,
                    timestamp_ns,
                    event,
                };
                records
                    .send(FeedPoll::Record(record))
                    .expect("publisher alive");
            }
            records
                .send(FeedPoll::Record(FeedRecord::BatchEnd))
                .expect("publisher alive");
        }
    }

    /// Ends the session and waits for the publisher's report.
    fn finish(&mut self) -> PublisherReport {
        let records = self.records.take().expect("publisher running");
        records
            .send(FeedPoll::Finished {
                timestamp_ns: START_NS + 1,
            })
            .expect("publisher alive");
        self.publisher
            .take()
            .expect("publisher")
            .join()
            .expect("publisher thread")
    }

    fn stop(&mut self) -> (RerequestCounters, SnapshotCounters) {
        self.stop.store(true, Ordering::Relaxed);
        let rerequest = self
            .rerequest
            .take()
            .expect("server")
            .join()
            .expect("re-request thread");
        let snapshot = self
            .snapshot
            .take()
            .expect("server")
            .join()
            .expect("snapshot thread");
        (rerequest, snapshot)
    }
}

/// A subscriber thread: joins (from the start, or late from the snapshot), says so, then runs
/// until the session is complete or the limit passes.
fn subscriber(
    netns: &Netns,
    late: bool,
    loss_percent: u64,
    seed: u64,
) -> (mpsc::Receiver<()>, JoinHandle<(bool, FeedClient)>) {
    let (ready, joined) = mpsc::channel();
    let handle = netns.spawn(move || {
        let config = client_config();
        let mut client = if late {
            FeedClient::join_late(&config, book_config()).expect("late join")
        } else {
            FeedClient::join(&config, book_config()).expect("join")
        };
        if loss_percent > 0 {
            client.set_drop_hook(loss_hook(loss_percent, seed));
        }
        ready.send(()).expect("ready");
        let complete = client
            .run_until(LIMIT, FeedClient::is_complete)
            .expect("client");
        (complete, client)
    });
    (joined, handle)
}

fn check_subscriber(
    name: &str,
    handle: JoinHandle<(bool, FeedClient)>,
    engine: &Engine,
    report: &PublisherReport,
) -> FeedClient {
    check_joined(
        name,
        handle.join().expect("subscriber thread"),
        engine,
        report,
    )
}

fn check_joined(
    name: &str,
    (complete, client): (bool, FeedClient),
    engine: &Engine,
    report: &PublisherReport,
) -> FeedClient {
    assert!(complete, "{name} did not complete: {client:?}");
    assert_eq!(
        client.subscriber().expected_seq(),
        report.next_seq,
        "{name}"
    );
    assert_eq!(
        client.counters().book_errors,
        0,
        "{name}: {:?}",
        client.last_book_error()
    );
    assert_books_equal(engine, client.book(), name);
    client
}

#[test]
fn subscribers_rebuild_the_engine_book_through_loss_and_re_requests() {
    let mut exchange = Exchange::start();
    let subscribers: Vec<_> = [(0, 11), (1, 12), (10, 13)]
        .into_iter()
        .map(|(loss, seed)| (loss, subscriber(&exchange.netns, false, loss, seed)))
        .collect();
    for (_, (joined, _)) in &subscribers {
        joined.recv().expect("subscriber joined");
    }
    let mut engine = Engine::new(engine_config()).expect("engine");
    let mut flow = Flow::new(0x5eed_0001);
    let mut feed_seq = FeedSeq::at_session_start(INSTRUMENTS);
    let mut input_seq = 0;
    exchange.feed(
        &mut engine,
        &mut flow,
        &mut feed_seq,
        &mut input_seq,
        20_000,
    );
    let report = exchange.finish();
    // System Event C follows the last event.
    assert_eq!(report.next_seq, feed_seq.next_seq() + 1);
    assert!(report.counters.messages > 10_000, "{report:?}");
    for (loss, (_, handle)) in subscribers {
        let client = check_subscriber(&format!("{loss} % loss"), handle, &engine, &report);
        let counters = client.counters();
        if loss >= 1 {
            assert!(counters.dropped_by_hook > 0, "{loss} %: {counters:?}");
            assert!(counters.requests_sent > 0, "{loss} %: {counters:?}");
            assert!(counters.datagrams_rerequest > 0, "{loss} %: {counters:?}");
        }
    }
    let (rerequest, _) = exchange.stop();
    assert!(
        rerequest.granted > 0 && rerequest.messages_answered > 0,
        "{rerequest:?}"
    );
    assert_eq!(
        rerequest.malformed + rerequest.wrong_session,
        0,
        "{rerequest:?}"
    );
}

#[test]
fn a_late_joiner_converges_from_a_mid_session_snapshot() {
    let mut exchange = Exchange::start();
    let (early_joined, early) = subscriber(&exchange.netns, false, 0, 21);
    early_joined.recv().expect("early subscriber joined");
    let mut engine = Engine::new(engine_config()).expect("engine");
    let mut flow = Flow::new(0x5eed_0002);
    let mut feed_seq = FeedSeq::at_session_start(INSTRUMENTS);
    let mut input_seq = 0;
    exchange.feed(&mut engine, &mut flow, &mut feed_seq, &mut input_seq, 5_000);
    let join_seq = feed_seq.next_seq();
    let snapshot =
        BookSnapshot::from_engine(&exchange.encoder, &engine.snapshot(), join_seq, START_NS)
            .expect("snapshot encodes");
    assert!(
        snapshot.messages().len() > 2 * INSTRUMENTS,
        "the book is not empty mid-session"
    );
    exchange.snapshots.publish(Arc::new(snapshot));
    let (late_joined, late) = subscriber(&exchange.netns, true, 1, 22);
    late_joined.recv().expect("late subscriber joined");
    exchange.feed(&mut engine, &mut flow, &mut feed_seq, &mut input_seq, 5_000);
    let report = exchange.finish();
    check_subscriber("early", early, &engine, &report);
    let late = check_subscriber("late joiner", late, &engine, &report);
    assert_eq!(late.counters().resyncs, 1);
    let (_, snapshots) = exchange.stop();
    assert_eq!(snapshots.complete, 1, "{snapshots:?}");
}

#[test]
fn a_subscriber_whose_gap_was_evicted_recovers_from_the_snapshot() {
    // The store keeps 2,048 messages; the first phase publishes more, so a subscriber that
    // joins afterwards from sequence number 1 asks for evicted messages: no answer (no NAK),
    // retries, gives up, and resynchronises from the snapshot.
    let mut exchange = Exchange::start_with_store(2_048);
    let mut engine = Engine::new(engine_config()).expect("engine");
    let mut flow = Flow::new(0x5eed_0004);
    let mut feed_seq = FeedSeq::at_session_start(INSTRUMENTS);
    let mut input_seq = 0;
    exchange.feed(&mut engine, &mut flow, &mut feed_seq, &mut input_seq, 5_000);
    assert!(
        feed_seq.next_seq() > 2_048 + 100,
        "the first messages are evicted"
    );
    exchange.wait_published(feed_seq.next_seq());
    let snapshot = BookSnapshot::from_engine(
        &exchange.encoder,
        &engine.snapshot(),
        feed_seq.next_seq(),
        START_NS,
    )
    .expect("snapshot encodes");
    exchange.snapshots.publish(Arc::new(snapshot));
    let (ready, resynced) = mpsc::channel();
    let handle = exchange.netns.spawn(move || {
        let config = SubscriberNetConfig {
            request_retry_max: 3,
            ..client_config()
        };
        let mut client = FeedClient::join(&config, book_config()).expect("join");
        // Heartbeats reveal the gap from 1; the requests go unanswered; the client resyncs.
        let resynced = client
            .run_until(LIMIT, |client| client.counters().resyncs >= 1)
            .expect("client");
        ready.send(resynced).expect("ready");
        let complete = client
            .run_until(LIMIT, FeedClient::is_complete)
            .expect("client");
        (complete, client)
    });
    assert!(
        resynced.recv().expect("subscriber resynced"),
        "no resync within the limit"
    );
    exchange.feed(&mut engine, &mut flow, &mut feed_seq, &mut input_seq, 1_000);
    let report = exchange.finish();
    let client = check_subscriber("evicted", handle, &engine, &report);
    assert_eq!(client.counters().resyncs, 1, "{:?}", client.counters());
    assert!(client.counters().requests_abandoned >= 1);
    let (rerequest, snapshots) = exchange.stop();
    assert!(rerequest.evicted >= 4, "{rerequest:?}");
    assert_eq!(snapshots.complete, 1, "{snapshots:?}");
}

#[test]
fn tshark_decodes_a_capture_of_our_traffic_as_moldudp64() {
    let tshark = std::process::Command::new("tshark")
        .arg("--version")
        .output();
    assert!(
        tshark.is_ok_and(|output| output.status.success()),
        "tshark is needed by this test: apt-get install -y tshark"
    );
    let mut exchange = Exchange::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("feed.pcap");
    let config = TapConfig {
        multicast: multicast(),
        pcap: Some(pcap.clone()),
        locate_count: INSTRUMENTS as u16,
        order_capacity: 20_000,
        level_capacity: 20_000,
        ..TapConfig::default()
    };
    let (ready, joined) = mpsc::channel();
    let tap = exchange.netns.spawn(move || {
        let socket = multicast_receiver(&config.multicast).expect("tap socket");
        ready.send(()).expect("ready");
        let mut out = Vec::new();
        let summary =
            tap::run_on(&socket, &config, &mut out, &AtomicBool::new(false)).expect("tap");
        (summary, String::from_utf8(out).expect("utf8"))
    });
    joined.recv().expect("tap joined");
    let mut engine = Engine::new(engine_config()).expect("engine");
    let mut flow = Flow::new(0x5eed_0003);
    let mut feed_seq = FeedSeq::at_session_start(INSTRUMENTS);
    let mut input_seq = 0;
    exchange.feed(&mut engine, &mut flow, &mut feed_seq, &mut input_seq, 500);
    let report = exchange.finish();
    let (summary, text) = tap.join().expect("tap thread");
    exchange.stop();
    assert!(
        summary.end_of_session && summary.packets > 10,
        "{summary:?}"
    );
    assert_eq!(
        summary.malformed_packets + summary.malformed_messages,
        0,
        "{summary:?}"
    );
    assert!(
        text.contains(" A ") && text.contains("top locate="),
        "{text}"
    );
    let decode = |filter: &str, fields: &[&str]| {
        let mut command = std::process::Command::new("tshark");
        command.arg("-r").arg(&pcap).args([
            "-d",
            "udp.port==31001,moldudp64",
            "-Y",
            filter,
            "-T",
            "fields",
        ]);
        for field in fields {
            command.args(["-e", field]);
        }
        let output = command.output().expect("tshark runs");
        assert!(
            output.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf8")
    };
    let rows = decode(
        "moldudp64",
        &["moldudp64.session", "moldudp64.sequence", "moldudp64.count"],
    );
    let rows: Vec<Vec<&str>> = rows
        .lines()
        .map(|line| line.split('\t').collect())
        .collect();
    assert_eq!(rows.len() as u64, summary.packets);
    let mut messages = 0u64;
    for row in &rows {
        assert_eq!(row[0].trim(), "NETTEST01", "{row:?}");
        let count: u64 = row[2].parse().expect("count");
        if count != 0xffff {
            messages += count;
        }
    }
    assert_eq!(messages, summary.messages);
    let last_seq: u64 = rows.last().expect("rows")[1].parse().expect("seq");
    assert_eq!(
        last_seq, report.next_seq,
        "end of session carries the next sequence number"
    );
    let bad = decode(
        "_ws.malformed || _ws.expert.severity >= 8388608 || moldudp64.msglen.invalid || moldudp64.count.invalid",
        &["frame.number"],
    );
    assert_eq!(bad, "", "tshark found malformed packets: frames {bad}");
}

#[test]
fn the_feed_service_runs_the_whole_publishing_side() {
    use peregrine_feed::service::FeedService;
    use peregrine_feed::FeedConfig;

    let netns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = FeedConfig {
        session: "SERVICE1".to_string(),
        multicast: MulticastConfig {
            group: "239.192.7.9".parse().expect("group"),
            ..multicast()
        },
        ..FeedConfig::default()
    };
    config.publisher.heartbeat_interval_ms = 20;
    config.publisher.end_of_session_repeat = 10;
    config.retransmit.path = dir.path().join("service.dat");
    config.rerequest.listen = "127.0.0.1:0".parse().expect("addr");
    config.snapshot.listen = "127.0.0.1:0".parse().expect("addr");
    let (records, source) = mpsc::sync_channel::<FeedPoll>(8_192);
    let service = {
        let config = config.clone();
        netns
            .spawn(move || {
                let engine = engine_config();
                let accounts = engine.accounts.len();
                FeedService::start(
                    &config,
                    &engine,
                    EncoderConfig::anonymous(accounts),
                    START_NS,
                    move || match source.recv_timeout(Duration::from_millis(1)) {
                        Ok(poll) => poll,
                        Err(RecvTimeoutError::Timeout) => FeedPoll::Idle,
                        Err(RecvTimeoutError::Disconnected) => FeedPoll::Finished {
                            timestamp_ns: START_NS,
                        },
                    },
                )
            })
            .join()
            .expect("start thread")
            .expect("service starts")
    };
    let client = SubscriberNetConfig {
        multicast: config.multicast,
        rerequest: service.rerequest_addr(),
        snapshot: Some(service.snapshot_addr()),
        ..client_config()
    };
    let spawn_client = |late: bool, loss: u64| {
        let (ready, joined) = mpsc::channel();
        let handle = netns.spawn(move || {
            let mut feed = if late {
                FeedClient::join_late(&client, book_config()).expect("late join")
            } else {
                FeedClient::join(&client, book_config()).expect("join")
            };
            feed.set_drop_hook(loss_hook(loss, 31 + loss));
            ready.send(()).expect("ready");
            let complete = feed
                .run_until(LIMIT, FeedClient::is_complete)
                .expect("client");
            (complete, feed)
        });
        joined.recv().expect("joined");
        handle
    };
    let early = spawn_client(false, 10);
    let mut engine = Engine::new(engine_config()).expect("engine");
    let mut flow = Flow::new(0x5eed_0005);
    let mut feed_seq = FeedSeq::at_session_start(INSTRUMENTS);
    let send =
        |engine: &mut Engine, flow: &mut Flow, feed_seq: &mut FeedSeq, from: u64, to: u64| {
            for input_seq in from..to {
                let timestamp_ns = START_NS + input_seq * 1_000;
                for event in flow.step(engine) {
                    feed_seq.observe(&event);
                    let record = FeedRecord::Event {
                        input_seq,
                        timestamp_ns,
                        event,
                    };
                    records
                        .send(FeedPoll::Record(record))
                        .expect("publisher alive");
                }
                records
                    .send(FeedPoll::Record(FeedRecord::BatchEnd))
                    .expect("publisher alive");
            }
        };
    send(&mut engine, &mut flow, &mut feed_seq, 1, 3_001);
    service
        .publish_snapshot(&engine.snapshot(), feed_seq.next_seq(), START_NS)
        .expect("snapshot encodes");
    let late = spawn_client(true, 1);
    send(&mut engine, &mut flow, &mut feed_seq, 3_001, 6_001);
    drop(records);
    // The servers stop when the service finishes: the subscribers complete first.
    let (early, late) = (early.join(), late.join());
    let report = service.finish().expect("service finishes");
    assert_eq!(report.publisher.next_seq, feed_seq.next_seq() + 1);
    check_joined(
        "service, 10 % loss",
        early.expect("early thread"),
        &engine,
        &report.publisher,
    );
    check_joined(
        "service, late joiner",
        late.expect("late thread"),
        &engine,
        &report.publisher,
    );
    assert!(report.rerequest.granted > 0, "{:?}", report.rerequest);
    assert_eq!(report.snapshot.complete, 1, "{:?}", report.snapshot);
}
