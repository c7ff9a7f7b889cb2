//! The feed stage wired into the node: the core hands every event (and the end of each batch)
//! to a third SPSC ring, and `peregrine_feed::service::FeedService` publishes it: ITCH 5.0
//! messages in MoldUDP64 packets on a UDP multicast group, every packet kept in the
//! retransmission store (`DATA_DIR/feed.store`) first, plus the re-request server (UDP,
//! `feed.rerequest_listen`) and the snapshot server (TCP, `feed.snapshot_listen`), whose bound
//! addresses are logged at start.
//!
//! # Invariants
//! - The core never drops a feed record: a full ring makes it wait (counted in
//!   `feed_full_waits`), exactly like the gateway's ring.
//! - The feed thread ends only after the core has finished and the ring is empty: every event
//!   the core emitted is published before the session's end.
//! - A book snapshot is copied from the engine only at the core's quiet points (no input
//!   waiting), at most once per `SNAPSHOT_INTERVAL_NS`, stamped with the feed sequence number
//!   the next event will get (`FeedSeq`), and encoded on its own thread; the core never waits
//!   for that thread (a busy encoder skips a snapshot).
//! - A kernel-socket feed that cannot start (no multicast route, store file) is logged and the
//!   node runs without it; publishing is never a reason to stop order entry. A feed configured
//!   over kernel bypass (`[feed_bypass]`) that cannot open its backend stops the start-up with
//!   the reason instead: that data path was chosen explicitly.
//! - **Every start of the node is a new MoldUDP64 session.** Its name is the configured
//!   `session` prefix followed by the start number (`DATA_DIR/feed.generation`, incremented and
//!   synced before the feed starts), zero-padded to the 10 characters of the field: `PGRN000001`,
//!   `PGRN000002`, … A restarted node never reuses a (session, sequence number) pair that an
//!   earlier run published, so a subscriber can never mistake new messages for old ones; it
//!   sees packets of a new session and re-joins from the new run's snapshot server (the book
//!   the node recovered from its journal, resting orders included). The retransmission store
//!   is per session, so it starts empty too.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use peregrine_engine::{Engine, EngineSnapshot, Event};
use peregrine_feed::encoder::Encoder;
use peregrine_feed::encoder::EncoderConfig;
use peregrine_feed::net::{unix_now_ns, MulticastConfig};
use peregrine_feed::publisher::{FeedPoll, FeedRecord, FeedSeq, PublisherConfig};
use peregrine_feed::rerequest::RerequestConfig;
use peregrine_feed::retransmit::RetransmitConfig;
use peregrine_feed::service::{FeedMetrics, FeedReport, FeedService};
use peregrine_feed::snapshot::{BookSnapshot, SnapshotConfig, SnapshotHandle};
use peregrine_feed::FeedConfig;
use peregrine_tuning::ring::{channel, Consumer, Producer};
use peregrine_tuning::wait::Waiter;
use serde::Deserialize;

use super::bypass::Backend;
use crate::config::NodeConfig;

/// `[feed]`: the market-data publisher.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedSection {
    pub enabled: bool,
    pub group: Ipv4Addr,
    pub port: u16,
    /// Interface address to send on (`127.0.0.1` keeps it on this host).
    pub interface: Ipv4Addr,
    /// MoldUDP64 session name prefix (1 to 6 characters); each start appends its start number
    /// (module docs).
    pub session: String,
    pub ring_records: usize,
    /// UDP address of the re-request server (port 0: any free port, logged).
    pub rerequest_listen: SocketAddr,
    /// TCP address of the snapshot server (port 0: any free port, logged).
    pub snapshot_listen: SocketAddr,
}

impl FeedSection {
    /// The session prefix is 1 to [`SESSION_PREFIX_LEN_MAX`] ASCII letters or digits.
    pub fn validate(&self) -> anyhow::Result<()> {
        let prefix = &self.session;
        anyhow::ensure!(
            !prefix.is_empty()
                && prefix.len() <= SESSION_PREFIX_LEN_MAX
                && prefix.bytes().all(|b| b.is_ascii_alphanumeric()),
            "feed.session must be 1 to {SESSION_PREFIX_LEN_MAX} ASCII letters or digits \
             (each start appends its number), not {prefix:?}"
        );
        Ok(())
    }
}

impl Default for FeedSection {
    fn default() -> Self {
        FeedSection {
            enabled: true,
            group: Ipv4Addr::new(239, 192, 0, 1),
            port: 31_001,
            interface: Ipv4Addr::LOCALHOST,
            session: "PGRN".to_string(),
            ring_records: 16_384,
            rerequest_listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
            snapshot_listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

/// Least time between two book snapshots taken at the core's quiet points.
const SNAPSHOT_INTERVAL_NS: u64 = 1_000_000_000;

/// An engine snapshot on its way to the encoder thread: (state, join seq, timestamp).
type SnapshotJob = (EngineSnapshot, u64, u64);

/// The core's end of the feed ring, and of the snapshot channel.
pub struct FeedTap {
    producer: Producer<FeedRecord>,
    waiter: Waiter,
    pub full_waits: u64,
    /// The feed sequence number the next published event gets (join seq of a snapshot).
    seq: FeedSeq,
    snapshots: SyncSender<SnapshotJob>,
    /// Events since the last snapshot (starts at 1: the first quiet point snapshots the
    /// book the node started with, recovered orders included).
    events_since_snapshot: u64,
    last_snapshot_ns: u64,
    /// The feed threads' live counters (exported by the metrics endpoint).
    live: Arc<FeedMetrics>,
}

impl FeedTap {
    /// The feed threads' live counters, for [`super::metrics::Metrics::attach_feed`].
    pub fn live_counters(&self) -> Arc<FeedMetrics> {
        Arc::clone(&self.live)
    }

    fn push(&mut self, record: FeedRecord) {
        let mut record = record;
        loop {
            match self.producer.try_push(record) {
                Ok(()) => {
                    self.waiter.reset();
                    return;
                }
                Err(full) => {
                    record = full.0;
                    self.full_waits += 1;
                    self.waiter.idle();
                }
            }
        }
    }

    pub fn event(&mut self, input_seq: u64, timestamp_ns: u64, event: Event) {
        self.seq.observe(&event);
        self.events_since_snapshot += 1;
        self.push(FeedRecord::Event {
            input_seq,
            timestamp_ns,
            event,
        });
    }

    pub fn batch_end(&mut self) {
        self.push(FeedRecord::BatchEnd);
    }

    /// Called at the core's quiet points (no input waiting): when the book changed and the
    /// last snapshot is older than `SNAPSHOT_INTERVAL_NS`, copies the engine's state (this
    /// allocates, which is why it happens only here) and hands it to the encoder thread.
    /// Never waits: a busy encoder thread means this snapshot is skipped.
    pub fn quiet_point(&mut self, engine: &Engine, now_ns: u64) {
        if self.events_since_snapshot == 0
            || now_ns.saturating_sub(self.last_snapshot_ns) < SNAPSHOT_INTERVAL_NS
        {
            return;
        }
        self.last_snapshot_ns = now_ns;
        let job = (engine.snapshot(), self.seq.next_seq(), now_ns);
        if self.snapshots.try_send(job).is_ok() {
            self.events_since_snapshot = 0;
        }
    }
}

/// The encoder thread: turns engine snapshots into feed snapshots for the snapshot server.
fn encode_snapshots(jobs: Receiver<SnapshotJob>, encoder: Encoder, handle: SnapshotHandle) {
    // Ends when the core drops its FeedTap.
    while let Ok((engine, join_seq, timestamp_ns)) = jobs.recv() {
        match BookSnapshot::from_engine(&encoder, &engine, join_seq, timestamp_ns) {
            Ok(snapshot) => handle.publish(Arc::new(snapshot)),
            Err(error) => tracing::warn!(%error, join_seq, "feed snapshot not encoded"),
        }
    }
}

/// The running feed service (publisher, re-request and snapshot servers).
pub struct FeedThread {
    service: FeedService,
    core_finished: Arc<AtomicBool>,
}

impl FeedThread {
    /// Tells the feed that the core has emitted its last record, and waits for it to end
    /// the session and stop its servers.
    pub fn finish(self) -> anyhow::Result<FeedReport> {
        // Release: pairs with the feed source's Acquire load; every record pushed before it
        // is visible to the feed thread when it sees the flag.
        self.core_finished.store(true, Ordering::Release);
        self.service
            .finish()
            .map_err(|error| anyhow::anyhow!("feed service: {error}"))
    }
}

/// Starts the feed thread if the config enables it. A kernel-socket feed that cannot start is
/// logged and gives `Ok(None)`; a `[feed_bypass]` feed that cannot open its backend is an
/// error (the operator chose that data path; the node must not start without it).
pub fn start(config: &NodeConfig) -> anyhow::Result<Option<(FeedTap, FeedThread)>> {
    if !config.feed.enabled {
        return Ok(None);
    }
    match try_start(config) {
        Ok(started) => Ok(Some(started)),
        Err(error) if config.feed_bypass.backend != Backend::Kernel => Err(error),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "feed publisher not started");
            Ok(None)
        }
    }
}

/// MoldUDP64 session names are 10 characters.
const SESSION_LEN: usize = 10;
/// The longest configured prefix: at least four digits are left for the start number.
pub const SESSION_PREFIX_LEN_MAX: usize = 6;

/// The session name of start number `generation`: the prefix, then the number zero-padded to
/// fill the field; `None` when the number no longer fits.
pub fn session_name(prefix: &str, generation: u64) -> Option<String> {
    assert!(!prefix.is_empty() && prefix.len() <= SESSION_PREFIX_LEN_MAX);
    let width = SESSION_LEN - prefix.len();
    let name = format!("{prefix}{generation:0width$}");
    (name.len() == SESSION_LEN).then_some(name)
}

/// Takes the next start number from `DATA_DIR/feed.generation` (1 on a fresh data directory)
/// and makes it durable (write to a temporary file, sync, rename, sync the directory) before
/// any packet of the new session can be sent.
pub fn next_session(config: &NodeConfig) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::Write;
    let prefix = &config.feed.session;
    config.feed.validate()?;
    let dir = &config.node.data_dir;
    let path = dir.join("feed.generation");
    let previous: u64 = match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} is not a number", path.display()))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
        Err(error) => return Err(error).context(format!("cannot read {}", path.display())),
    };
    let generation = previous + 1;
    let name = session_name(prefix, generation).with_context(|| {
        format!("feed session numbers of prefix {prefix:?} are used up; shorten feed.session")
    })?;
    let temporary = dir.join("feed.generation.tmp");
    let mut file = std::fs::File::create(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    writeln!(file, "{generation}")?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(name)
}

/// The feed crate's configuration from the node's `[feed]` table, for session `session`.
fn feed_config(config: &NodeConfig, session: String) -> FeedConfig {
    let feed = &config.feed;
    FeedConfig {
        session,
        publisher: PublisherConfig {
            end_of_session_repeat: 1,
            ..PublisherConfig::default()
        },
        multicast: MulticastConfig {
            group: feed.group,
            port: feed.port,
            interface: feed.interface,
            ..MulticastConfig::default()
        },
        retransmit: RetransmitConfig {
            path: config.node.data_dir.join("feed.store"),
            ..RetransmitConfig::default()
        },
        rerequest: RerequestConfig {
            listen: feed.rerequest_listen,
            ..RerequestConfig::default()
        },
        snapshot: SnapshotConfig {
            listen: feed.snapshot_listen,
            ..SnapshotConfig::default()
        },
    }
}

fn try_start(config: &NodeConfig) -> anyhow::Result<(FeedTap, FeedThread)> {
    let feed_config = feed_config(config, next_session(config)?);
    let core = config.core_config();
    let encoder = EncoderConfig::anonymous(core.engine.accounts.len());
    let (producer, consumer) = channel::<FeedRecord>(config.feed.ring_records)?;
    let strategy = config.wait_strategy()?;
    let core_finished = Arc::new(AtomicBool::new(false));
    let mut source = Source {
        consumer,
        waiter: Waiter::new(strategy),
        core_finished: Arc::clone(&core_finished),
    };
    let poll = move || source.poll();
    let service = match config.feed_bypass.backend {
        Backend::Kernel => {
            FeedService::start(&feed_config, &core.engine, encoder, unix_now_ns(), poll)
        }
        Backend::AfXdp => {
            let out = super::bypass::open_feed_out(config)?;
            let start_ns = unix_now_ns();
            FeedService::start_with(&feed_config, &core.engine, encoder, start_ns, out, poll)
        }
        #[cfg(feature = "dpdk")]
        Backend::Dpdk => {
            let out = super::bypass::open_feed_out_dpdk(config)?;
            let start_ns = unix_now_ns();
            FeedService::start_with(&feed_config, &core.engine, encoder, start_ns, out, poll)
        }
        #[cfg(not(feature = "dpdk"))]
        Backend::Dpdk => anyhow::bail!("feed_bypass: built without the cargo feature `dpdk`"),
    }
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    tracing::info!(
        backend = ?config.feed_bypass.backend,
        session = %feed_config.session,
        group = %feed_config.multicast.group_addr(),
        rerequest = %service.rerequest_addr(),
        snapshot = %service.snapshot_addr(),
        "feed publisher started"
    );
    let (snapshots, jobs) = sync_channel::<SnapshotJob>(1);
    let (encoder, handle) = (service.encoder().clone(), service.snapshots().clone());
    std::thread::Builder::new()
        .name("feed-snapshot-encode".to_string())
        .spawn(move || encode_snapshots(jobs, encoder, handle))?;
    let tap = FeedTap {
        producer,
        waiter: Waiter::new(strategy),
        full_waits: 0,
        seq: FeedSeq::at_session_start(core.engine.instruments.len()),
        snapshots,
        events_since_snapshot: 1,
        last_snapshot_ns: 0,
        live: Arc::clone(service.metrics()),
    };
    Ok((
        tap,
        FeedThread {
            service,
            core_finished,
        },
    ))
}

/// The feed thread's record source.
struct Source {
    consumer: Consumer<FeedRecord>,
    waiter: Waiter,
    core_finished: Arc<AtomicBool>,
}

impl Source {
    fn poll(&mut self) -> FeedPoll {
        if let Some(record) = self.consumer.try_pop() {
            self.waiter.reset();
            return FeedPoll::Record(record);
        }
        // Acquire: pairs with `FeedThread::finish`; checked before the emptiness test so a
        // record pushed before the flag is still seen.
        if self.core_finished.load(Ordering::Acquire) && self.consumer.is_empty() {
            return FeedPoll::Finished {
                timestamp_ns: unix_now_ns(),
            };
        }
        self.waiter.idle();
        FeedPoll::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_fill_the_field_and_run_out_loudly() {
        assert_eq!(session_name("PGRN", 1).as_deref(), Some("PGRN000001"));
        assert_eq!(session_name("PGRN", 999_999).as_deref(), Some("PGRN999999"));
        assert_eq!(session_name("PGRN", 1_000_000), None);
        assert_eq!(session_name("ABCDEF", 42).as_deref(), Some("ABCDEF0042"));
    }

    #[test]
    fn each_start_takes_the_next_session() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config =
            NodeConfig::parse(crate::config::DEFAULT_CONFIG_TOML).expect("default config");
        config.node.data_dir = dir.path().to_path_buf();
        assert_eq!(next_session(&config).expect("first"), "PGRN000001");
        assert_eq!(next_session(&config).expect("second"), "PGRN000002");
        config.feed.session = "PEREGRINE".to_string();
        assert!(
            next_session(&config).is_err(),
            "a 9-character prefix leaves no room"
        );
        std::fs::write(dir.path().join("feed.generation"), "garbage").expect("write");
        config.feed.session = "PGRN".to_string();
        assert!(
            next_session(&config).is_err(),
            "a damaged counter is an error"
        );
    }
}
