//! Operations observability: the node's counters and latency histograms, served as Prometheus
//! text on a plain HTTP/1.1 endpoint by a thread of its own (`[ops] metrics_listen`), and the
//! log format switch (`peregrine run --log-format json`).
//!
//! **Counters.** [`Metrics`] is one array of `AtomicU64` values shared by every stage. Each value
//! has exactly one writer (the gateway thread or the core thread, named in [`DEFS`]), which
//! publishes its plain local counters with Relaxed stores at the end of a batch or turn; the
//! metrics thread reads them with Relaxed loads when scraped. No read-modify-write, no lock.
//!
//! **Latency.** A stage records into its own [`hdrhistogram::Histogram`] (a [`LatencyProbe`],
//! allocated at start-up with fixed bounds, so recording never allocates). Every
//! [`PUBLISH_INTERVAL_NS`] it swaps that histogram for an empty one returned by the metrics
//! thread and sends the full one over a bounded channel; the metrics thread adds it to the
//! stage's cumulative histogram, clears it and sends it back. Three histograms circulate per
//! probe, and both channels hold three, so a send never fails for lack of room.
//!
//! **Feed.** The feed's threads (publisher, re-request and snapshot servers) publish into a
//! [`FeedMetrics`] of the feed crate (its own atomics, one writer thread per part; the
//! publisher stores at most every [`peregrine_feed::service::COUNTER_PUBLISH_NS`]). The node
//! attaches it once at start-up ([`Metrics::attach_feed`]); the metrics thread loads it when it
//! renders. Without a feed (disabled, or it could not start) the feed families are rendered
//! as zeros and `peregrine_feed_up` is 0.
//!
//! # Invariants
//! - `DEFS[i].value as usize == i` (checked by a test), so a value's index names its metric.
//! - Every value has one writer thread; writers only `store`, never `fetch_add`.
//! - Nothing here allocates on a stage's path after start-up: probes swap preallocated
//!   histograms, and a failed send keeps the data in the stage's histogram.
//! - The HTTP endpoint answers `GET /metrics` only; any other request gets a 404 or 400 and
//!   its connection is closed. A slow or hostile client costs the metrics thread at most its
//!   read timeout, never a stage.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use peregrine_engine::{Event, RejectReason};
use peregrine_feed::service::FeedMetrics;
use peregrine_replay::JournalCounters;
use serde::Deserialize;

use super::core_loop::CoreCounters;

mod feed_families;
use super::gateway::GatewayCounters;
use peregrine_gateway::frame::FrameCounters;

/// `[ops]`: metrics endpoint and admin socket.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsSection {
    /// Prometheus endpoint (`GET /metrics`); empty turns it off. Port 0 picks a free port; the
    /// bound address is logged and written to `DATA_DIR/metrics.addr`.
    pub metrics_listen: String,
    /// Serve the admin socket `DATA_DIR/admin.sock` (mode 0600, token in `DATA_DIR/admin.token`).
    pub admin: bool,
}

impl Default for OpsSection {
    fn default() -> Self {
        OpsSection {
            metrics_listen: "127.0.0.1:0".to_string(),
            admin: true,
        }
    }
}

/// Log line format of `peregrine run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (timestamp, level, target, fields).
    Json,
}

/// Installs the stderr log subscriber in `format` (`RUST_LOG` filters, default `info`). Safe to
/// call twice (the second call does nothing).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Prometheus metric type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One exported value; its position in [`Metrics::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Value {
    ConnectionsAccepted,
    ConnectionsRefused,
    LoginsAccepted,
    LoginsRejected,
    MessagesIn,
    CommandsSubmitted,
    SequencedOut,
    ProtocolErrors,
    Timeouts,
    BackpressureStalls,
    PendingHighWater,
    SessionsConnected,
    SessionsLoggedIn,
    InboundOccupancy,
    InboundCapacity,
    OutboundOccupancy,
    OutboundCapacity,
    BypassRxFrames,
    BypassTxFrames,
    BypassTxFull,
    BypassKicks,
    CoreInputs,
    CoreEvents,
    CoreBatches,
    OutboundFullWaits,
    FeedRingFullWaits,
    JournalRecords,
    JournalBytes,
    JournalSyncs,
    JournalSegments,
    JournalLastSeq,
    OrdersAccepted,
    Executions,
    Cancels,
    AdminActions,
    SnapshotsWritten,
}

/// Name, help, type and writer of a value.
pub struct Def {
    pub value: Value,
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

const fn def(value: Value, name: &'static str, kind: Kind, help: &'static str) -> Def {
    Def {
        value,
        name,
        help,
        kind,
    }
}

use Kind::{Counter, Gauge};

/// Every value, in `Value` order. Writers: the gateway thread for gateway, session and ring
/// values; the core thread for core, journal, feed-ring, event and admin values; the admin
/// thread for snapshots.
pub const DEFS: [Def; VALUE_COUNT] = [
    def(
        Value::ConnectionsAccepted,
        "peregrine_gateway_connections_accepted_total",
        Counter,
        "TCP connections accepted by the order-entry gateway.",
    ),
    def(
        Value::ConnectionsRefused,
        "peregrine_gateway_connections_refused_total",
        Counter,
        "TCP connections refused (connection table full).",
    ),
    def(
        Value::LoginsAccepted,
        "peregrine_gateway_logins_accepted_total",
        Counter,
        "SoupBinTCP logins accepted.",
    ),
    def(
        Value::LoginsRejected,
        "peregrine_gateway_logins_rejected_total",
        Counter,
        "SoupBinTCP logins rejected.",
    ),
    def(
        Value::MessagesIn,
        "peregrine_gateway_messages_in_total",
        Counter,
        "OUCH messages read from members.",
    ),
    def(
        Value::CommandsSubmitted,
        "peregrine_gateway_commands_submitted_total",
        Counter,
        "Commands the gateway put on the inbound ring.",
    ),
    def(
        Value::SequencedOut,
        "peregrine_gateway_sequenced_out_total",
        Counter,
        "Sequenced OUCH messages written to session logs.",
    ),
    def(
        Value::ProtocolErrors,
        "peregrine_gateway_protocol_errors_total",
        Counter,
        "Connections ended for a protocol error.",
    ),
    def(
        Value::Timeouts,
        "peregrine_gateway_timeouts_total",
        Counter,
        "Connections ended by the peer timeout.",
    ),
    def(
        Value::BackpressureStalls,
        "peregrine_gateway_backpressure_stalls_total",
        Counter,
        "Gateway turns that left socket bytes unread because the inbound ring was full.",
    ),
    def(
        Value::PendingHighWater,
        "peregrine_gateway_pending_high_water_records",
        Gauge,
        "Most commands ever waiting in the gateway for inbound ring room.",
    ),
    def(
        Value::SessionsConnected,
        "peregrine_sessions_connected",
        Gauge,
        "Open order-entry connections.",
    ),
    def(
        Value::SessionsLoggedIn,
        "peregrine_sessions_logged_in",
        Gauge,
        "Logged-in order-entry sessions.",
    ),
    def(
        Value::InboundOccupancy,
        "peregrine_ring_inbound_occupancy_records",
        Gauge,
        "Records on the gateway-to-core ring, seen by the gateway at its last turn.",
    ),
    def(
        Value::InboundCapacity,
        "peregrine_ring_inbound_capacity_records",
        Gauge,
        "Capacity of the gateway-to-core ring.",
    ),
    def(
        Value::OutboundOccupancy,
        "peregrine_ring_outbound_occupancy_records",
        Gauge,
        "Records on the core-to-gateway ring, seen by the gateway at its last turn.",
    ),
    def(
        Value::OutboundCapacity,
        "peregrine_ring_outbound_capacity_records",
        Gauge,
        "Capacity of the core-to-gateway ring (0 in single-thread mode).",
    ),
    def(
        Value::BypassRxFrames,
        "peregrine_gateway_bypass_rx_frames_total",
        Counter,
        "Frames the kernel-bypass gateway received (0 on kernel sockets).",
    ),
    def(
        Value::BypassTxFrames,
        "peregrine_gateway_bypass_tx_frames_total",
        Counter,
        "Frames the kernel-bypass gateway sent (0 on kernel sockets).",
    ),
    def(
        Value::BypassTxFull,
        "peregrine_gateway_bypass_tx_full_total",
        Counter,
        "Times the bypass gateway found no free transmit buffer (back-pressure from the NIC).",
    ),
    def(
        Value::BypassKicks,
        "peregrine_gateway_bypass_kicks_total",
        Counter,
        "System calls the bypass gateway made to wake the kernel or driver (TX kicks, fill wake-ups).",
    ),
    def(
        Value::CoreInputs,
        "peregrine_core_inputs_total",
        Counter,
        "Inputs sequenced, journaled and applied by the core.",
    ),
    def(
        Value::CoreEvents,
        "peregrine_core_events_total",
        Counter,
        "Events the core emitted.",
    ),
    def(
        Value::CoreBatches,
        "peregrine_core_batches_total",
        Counter,
        "Core batches (one journal sync point each).",
    ),
    def(
        Value::OutboundFullWaits,
        "peregrine_core_outbound_full_waits_total",
        Counter,
        "Times the core found the outbound ring full and waited (back-pressure).",
    ),
    def(
        Value::FeedRingFullWaits,
        "peregrine_core_feed_ring_full_waits_total",
        Counter,
        "Times the core found the feed ring full and waited (back-pressure).",
    ),
    def(
        Value::JournalRecords,
        "peregrine_journal_records_total",
        Counter,
        "Journal records appended.",
    ),
    def(
        Value::JournalBytes,
        "peregrine_journal_bytes_total",
        Counter,
        "Journal bytes appended.",
    ),
    def(
        Value::JournalSyncs,
        "peregrine_journal_syncs_total",
        Counter,
        "Journal msync calls.",
    ),
    def(
        Value::JournalSegments,
        "peregrine_journal_segments_created_total",
        Counter,
        "Journal segment files created.",
    ),
    def(
        Value::JournalLastSeq,
        "peregrine_journal_last_seq",
        Gauge,
        "Sequence number of the last journaled input.",
    ),
    def(
        Value::OrdersAccepted,
        "peregrine_orders_accepted_total",
        Counter,
        "Orders accepted (rate() of it is orders/s).",
    ),
    def(
        Value::Executions,
        "peregrine_executions_total",
        Counter,
        "Trades executed.",
    ),
    def(
        Value::Cancels,
        "peregrine_cancels_total",
        Counter,
        "Orders cancelled, for any reason.",
    ),
    def(
        Value::AdminActions,
        "peregrine_admin_actions_total",
        Counter,
        "Admin actions answered by the core.",
    ),
    def(
        Value::SnapshotsWritten,
        "peregrine_snapshots_written_total",
        Counter,
        "Core snapshots written on admin request.",
    ),
];

/// Number of [`Value`]s.
pub const VALUE_COUNT: usize = Value::SnapshotsWritten as usize + 1;

/// Reject reasons are one byte on the wire: one slot per code.
const REJECT_SLOTS: usize = 256;

/// The shared counters (see module docs for who writes what).
pub struct Metrics {
    values: [AtomicU64; VALUE_COUNT],
    rejects_by_code: [AtomicU64; REJECT_SLOTS],
    /// The feed threads' counters, once the feed has started.
    feed: OnceLock<Arc<FeedMetrics>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            values: std::array::from_fn(|_| AtomicU64::new(0)),
            rejects_by_code: std::array::from_fn(|_| AtomicU64::new(0)),
            feed: OnceLock::new(),
        }
    }
}

impl Metrics {
    /// Exports the running feed's counters (start-up, once; a second call is ignored).
    pub fn attach_feed(&self, feed: Arc<FeedMetrics>) {
        let _ = self.feed.set(feed);
    }

    /// Publishes a value (its single writer's store; Relaxed: pairs with the Relaxed load in
    /// [`Metrics::get`], no other memory rides on it).
    pub fn set(&self, value: Value, amount: u64) {
        self.values[value as usize].store(amount, Ordering::Relaxed);
    }

    /// Adds to a value; only its single writer may call this (a load and a store, not an RMW).
    pub fn add(&self, value: Value, amount: u64) {
        let slot = &self.values[value as usize];
        slot.store(
            slot.load(Ordering::Relaxed).wrapping_add(amount),
            Ordering::Relaxed,
        );
    }

    pub fn get(&self, value: Value) -> u64 {
        // Relaxed: pairs with the writer's Relaxed store; a scrape needs no ordering.
        self.values[value as usize].load(Ordering::Relaxed)
    }

    pub fn rejects(&self, reason_code: u8) -> u64 {
        self.rejects_by_code[usize::from(reason_code)].load(Ordering::Relaxed)
    }

    /// Gateway thread, once per turn.
    pub fn publish_gateway(&self, counters: &GatewayCounters, connected: usize, logged_in: usize) {
        let table = [
            (Value::ConnectionsAccepted, counters.connections_accepted),
            (Value::ConnectionsRefused, counters.connections_refused),
            (Value::LoginsAccepted, counters.logins_accepted),
            (Value::LoginsRejected, counters.logins_rejected),
            (Value::MessagesIn, counters.messages_in),
            (Value::CommandsSubmitted, counters.commands_submitted),
            (Value::SequencedOut, counters.sequenced_out),
            (Value::ProtocolErrors, counters.protocol_errors),
            (Value::Timeouts, counters.timeouts),
            (Value::BackpressureStalls, counters.backpressure_stalls),
            (Value::PendingHighWater, counters.pending_high_water),
            (Value::SessionsConnected, connected as u64),
            (Value::SessionsLoggedIn, logged_in as u64),
        ];
        for (value, amount) in table {
            self.set(value, amount);
        }
    }

    /// Gateway thread, once per turn on a kernel-bypass transport: its frame backend's
    /// counters.
    pub fn publish_frames(&self, frames: &FrameCounters) {
        self.set(Value::BypassRxFrames, frames.rx_frames);
        self.set(Value::BypassTxFrames, frames.tx_frames);
        self.set(Value::BypassTxFull, frames.tx_full);
        self.set(Value::BypassKicks, frames.wakeups);
    }

    /// Gateway thread: ring occupancy as it saw it this turn.
    pub fn publish_rings(&self, inbound: (usize, usize), outbound: (usize, usize)) {
        self.set(Value::InboundOccupancy, inbound.0 as u64);
        self.set(Value::InboundCapacity, inbound.1 as u64);
        self.set(Value::OutboundOccupancy, outbound.0 as u64);
        self.set(Value::OutboundCapacity, outbound.1 as u64);
    }

    /// Core thread, after a batch.
    pub fn publish_core(&self, core: &CoreCounters, journal: &JournalCounters, last_seq: u64) {
        let table = [
            (Value::CoreInputs, core.inputs),
            (Value::CoreEvents, core.events),
            (Value::CoreBatches, core.batches),
            (Value::JournalRecords, journal.records_appended),
            (Value::JournalBytes, journal.bytes_appended),
            (Value::JournalSyncs, journal.syncs),
            (Value::JournalSegments, journal.segments_created),
            (Value::JournalLastSeq, last_seq),
        ];
        for (value, amount) in table {
            self.set(value, amount);
        }
    }

    /// Core thread: counts one event of its output by kind (and rejects by reason).
    pub fn observe_event(&self, event: &Event) {
        match event {
            Event::Accepted(_) => self.add(Value::OrdersAccepted, 1),
            Event::Executed(_) => self.add(Value::Executions, 1),
            Event::Cancelled(_) => self.add(Value::Cancels, 1),
            Event::Rejected(rejected) => {
                let slot = &self.rejects_by_code[usize::from(rejected.reason.code())];
                slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            // Other kinds (book changes, acks, status, market-wide auction events) are not
            // tallied; the wildcard keeps this counter indifferent to new event kinds.
            _ => {}
        }
    }
}

/// The pipeline stages whose latency is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Gateway read of a member's message → the core sequences it (inbound ring wait included).
    GatewayToCore,
    /// The core's `submit` of one input: journal append, risk and matching.
    CoreApply,
    /// The core's end of batch: the journal's sync point (msync under `sync-per-batch`).
    JournalSync,
    /// The core's sequencer timestamp of an input → the gateway routes its last event.
    CoreToGateway,
}

/// Every stage, in export order.
pub const STAGES: [Stage; 4] = [
    Stage::GatewayToCore,
    Stage::CoreApply,
    Stage::JournalSync,
    Stage::CoreToGateway,
];

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::GatewayToCore => "gateway_to_core",
            Stage::CoreApply => "core_apply",
            Stage::JournalSync => "journal_sync",
            Stage::CoreToGateway => "core_to_gateway",
        }
    }
}

/// Largest latency a histogram holds (60 s); larger samples are clamped to it.
const LATENCY_NS_MAX: u64 = 60_000_000_000;
/// Significant figures of the histograms (1 % resolution).
const LATENCY_SIGFIGS: u8 = 2;
/// How often a probe hands its histogram to the metrics thread.
pub const PUBLISH_INTERVAL_NS: u64 = 200_000_000;
/// Histograms circulating per probe: the stage's, one in flight each way.
const HISTOGRAMS_PER_PROBE: usize = 3;

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, LATENCY_SIGFIGS)
        .map_err(|error| anyhow::anyhow!("latency histogram: {error}"))
}

/// A stage's end of one latency histogram.
pub struct LatencyProbe {
    histogram: Histogram<u64>,
    full: SyncSender<Histogram<u64>>,
    empty: Receiver<Histogram<u64>>,
    next_publish_ns: u64,
}

impl LatencyProbe {
    /// Records one sample (clamped to 1 ns ..= 60 s; never allocates: fixed bounds).
    pub fn record(&mut self, latency_ns: u64) {
        let _ = self.histogram.record(latency_ns.clamp(1, LATENCY_NS_MAX));
    }

    /// At a batch end: hands the histogram over if the interval has passed and an empty one
    /// is back. Otherwise the samples stay here for the next attempt.
    pub fn maybe_publish(&mut self, now_ns: u64) {
        if now_ns < self.next_publish_ns || self.histogram.is_empty() {
            return;
        }
        self.next_publish_ns = now_ns.saturating_add(PUBLISH_INTERVAL_NS);
        let Ok(empty) = self.empty.try_recv() else {
            return;
        };
        let full = std::mem::replace(&mut self.histogram, empty);
        match self.full.try_send(full) {
            Ok(()) => {}
            // Cannot happen while HISTOGRAMS_PER_PROBE fit the channel; keep the samples.
            Err(TrySendError::Full(full)) | Err(TrySendError::Disconnected(full)) => {
                let _ = self.histogram.add(&full);
            }
        }
    }
}

/// The metrics thread's end of one probe.
struct ProbeSink {
    stage: Stage,
    total: Histogram<u64>,
    full: Receiver<Histogram<u64>>,
    empty: SyncSender<Histogram<u64>>,
}

impl ProbeSink {
    fn drain(&mut self) {
        loop {
            match self.full.try_recv() {
                Ok(mut histogram) => {
                    let _ = self.total.add(&histogram);
                    histogram.reset();
                    let _ = self.empty.try_send(histogram);
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return,
            }
        }
    }
}

fn probe(stage: Stage) -> anyhow::Result<(LatencyProbe, ProbeSink)> {
    let (full_tx, full_rx) = sync_channel(HISTOGRAMS_PER_PROBE);
    let (empty_tx, empty_rx) = sync_channel(HISTOGRAMS_PER_PROBE);
    for _ in 1..HISTOGRAMS_PER_PROBE {
        empty_tx
            .try_send(new_histogram()?)
            .map_err(|_| anyhow::anyhow!("histogram pool"))?;
    }
    let probe = LatencyProbe {
        histogram: new_histogram()?,
        full: full_tx,
        empty: empty_rx,
        next_publish_ns: 0,
    };
    let sink = ProbeSink {
        stage,
        total: new_histogram()?,
        full: full_rx,
        empty: empty_tx,
    };
    Ok((probe, sink))
}

/// The core thread's probes.
pub struct CoreProbes {
    pub gateway_to_core: LatencyProbe,
    pub core_apply: LatencyProbe,
    pub journal_sync: LatencyProbe,
}

impl CoreProbes {
    pub fn maybe_publish(&mut self, now_ns: u64) {
        self.gateway_to_core.maybe_publish(now_ns);
        self.core_apply.maybe_publish(now_ns);
        self.journal_sync.maybe_publish(now_ns);
    }
}

/// Everything the stages need to publish, made at start-up, and the metrics thread's part.
pub struct Telemetry {
    pub metrics: Arc<Metrics>,
    pub core: CoreProbes,
    pub core_to_gateway: LatencyProbe,
    sinks: Vec<ProbeSink>,
}

impl Telemetry {
    pub fn new() -> anyhow::Result<Telemetry> {
        let (gateway_to_core, a) = probe(Stage::GatewayToCore)?;
        let (core_apply, b) = probe(Stage::CoreApply)?;
        let (journal_sync, c) = probe(Stage::JournalSync)?;
        let (core_to_gateway, d) = probe(Stage::CoreToGateway)?;
        Ok(Telemetry {
            metrics: Arc::new(Metrics::default()),
            core: CoreProbes {
                gateway_to_core,
                core_apply,
                journal_sync,
            },
            core_to_gateway,
            sinks: vec![a, b, c, d],
        })
    }
}

/// The running metrics endpoint.
pub struct MetricsServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How long the metrics thread sleeps when idle.
const IDLE_SLEEP: Duration = Duration::from_millis(20);
/// Largest request head read from a scraper.
const REQUEST_BYTES_MAX: usize = 8192;

impl MetricsServer {
    /// Binds `listen`, writes the bound address to `data_dir/metrics.addr`, and starts the
    /// thread that drains the probes and answers scrapes.
    pub fn start(
        listen: &str,
        data_dir: &Path,
        metrics: Arc<Metrics>,
        sinks: ProbeSinkSet,
    ) -> anyhow::Result<MetricsServer> {
        let listener = TcpListener::bind(listen)
            .with_context(|| format!("ops.metrics_listen {listen:?}: cannot bind"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let addr_path = data_dir.join("metrics.addr");
        std::fs::write(&addr_path, format!("{addr}\n"))
            .with_context(|| format!("cannot write {}", addr_path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            let mut sinks = sinks.0;
            std::thread::Builder::new()
                .name("metrics".to_string())
                .spawn(move || serve(&listener, &metrics, &mut sinks, &stop))?
        };
        tracing::info!(%addr, "metrics endpoint listening (GET /metrics)");
        Ok(MetricsServer {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The probe sinks of a [`Telemetry`], moved to the metrics thread.
pub struct ProbeSinkSet(Vec<ProbeSink>);

impl Telemetry {
    /// Splits off the metrics thread's part.
    pub fn take_sinks(&mut self) -> ProbeSinkSet {
        ProbeSinkSet(std::mem::take(&mut self.sinks))
    }
}

fn serve(listener: &TcpListener, metrics: &Metrics, sinks: &mut [ProbeSink], stop: &AtomicBool) {
    // Relaxed: a plain flag, nothing is published with it.
    while !stop.load(Ordering::Relaxed) {
        for sink in sinks.iter_mut() {
            sink.drain();
        }
        match listener.accept() {
            Ok((stream, _)) => {
                for sink in sinks.iter_mut() {
                    sink.drain();
                }
                if let Err(error) = answer(stream, metrics, sinks) {
                    tracing::debug!(%error, "metrics request failed");
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(IDLE_SLEEP);
            }
            Err(error) => {
                tracing::warn!(%error, "metrics accept failed");
                std::thread::sleep(IDLE_SLEEP);
            }
        }
    }
}

fn answer(mut stream: TcpStream, metrics: &Metrics, sinks: &[ProbeSink]) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    let mut head = [0u8; REQUEST_BYTES_MAX];
    let mut len = 0;
    while len < head.len() && !head[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut head[len..])?;
        if read == 0 {
            break;
        }
        len += read;
    }
    let (status, body) = match request_target(&head[..len]) {
        Some(("GET", "/metrics")) => ("200 OK", render(metrics, sinks)),
        Some(("GET", _)) => ("404 Not Found", "not found\n".to_string()),
        _ => ("400 Bad Request", "bad request\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// Method and target of an HTTP/1.x request line.
fn request_target(head: &[u8]) -> Option<(&str, &str)> {
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    (version.starts_with("HTTP/1.") && parts.next().is_none()).then_some((method, target))
}

/// The Prometheus text exposition (format 0.0.4) of every value and histogram.
fn render(metrics: &Metrics, sinks: &[ProbeSink]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(16 * 1024);
    for def in &DEFS {
        let kind = match def.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(out, "# HELP {} {}", def.name, def.help);
        let _ = writeln!(out, "# TYPE {} {kind}", def.name);
        let _ = writeln!(out, "{} {}", def.name, metrics.get(def.value));
    }
    let name = "peregrine_rejects_total";
    let _ = writeln!(out, "# HELP {name} Commands rejected, by reject reason.");
    let _ = writeln!(out, "# TYPE {name} counter");
    for &reason in RejectReason::ALL {
        let count = metrics.rejects(reason.code());
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {count}");
    }
    render_latency(&mut out, sinks);
    feed_families::render_feed(&mut out, metrics.feed.get().map(Arc::as_ref));
    out
}

fn render_latency(out: &mut String, sinks: &[ProbeSink]) {
    use std::fmt::Write as _;
    let name = "peregrine_stage_latency_ns";
    let _ = writeln!(
        out,
        "# HELP {name} Per-stage latency in nanoseconds since start (HDR histogram, 1 % resolution)."
    );
    let _ = writeln!(out, "# TYPE {name} summary");
    for stage in STAGES {
        let Some(sink) = sinks.iter().find(|s| s.stage == stage) else {
            continue;
        };
        let label = stage.label();
        for quantile in ["0.5", "0.9", "0.99", "0.999", "1"] {
            let q: f64 = quantile.parse().unwrap_or(1.0);
            let value = if sink.total.is_empty() {
                0
            } else {
                sink.total.value_at_quantile(q)
            };
            let _ = writeln!(
                out,
                "{name}{{stage=\"{label}\",quantile=\"{quantile}\"}} {value}"
            );
        }
        let sum = (sink.total.mean() * sink.total.len() as f64) as u64;
        let _ = writeln!(out, "{name}_sum{{stage=\"{label}\"}} {sum}");
        let _ = writeln!(
            out,
            "{name}_count{{stage=\"{label}\"}} {}",
            sink.total.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defs_are_in_value_order_with_unique_names() {
        for (index, def) in DEFS.iter().enumerate() {
            assert_eq!(def.value as usize, index, "{}", def.name);
            assert!(def.name.starts_with("peregrine_"));
            let is_total = def.name.ends_with("_total");
            assert_eq!(is_total, def.kind == Kind::Counter, "{}", def.name);
        }
        let mut names: Vec<&str> = DEFS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DEFS.len());
    }

    #[test]
    fn probe_hands_samples_to_the_sink_and_gets_its_histogram_back() {
        let (mut probe, mut sink) = probe(Stage::CoreApply).unwrap();
        for sample in 1..=1000u64 {
            probe.record(sample * 1000);
        }
        probe.maybe_publish(1);
        sink.drain();
        assert_eq!(sink.total.len(), 1000);
        // A second round before the interval: nothing moves.
        probe.record(5);
        probe.maybe_publish(2);
        sink.drain();
        assert_eq!(sink.total.len(), 1000);
        probe.maybe_publish(1 + PUBLISH_INTERVAL_NS);
        sink.drain();
        assert_eq!(sink.total.len(), 1001);
        let p50 = sink.total.value_at_quantile(0.5);
        assert!((495_000..=505_000).contains(&p50), "p50 {p50}");
    }

    #[test]
    fn request_line_is_judged() {
        assert_eq!(
            request_target(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(request_target(b"GET /metrics\r\n\r\n"), None);
        assert_eq!(request_target(b"garbage"), None);
        assert_eq!(request_target(b"\xff\xfe /x HTTP/1.1\r\n\r\n"), None);
    }

    #[test]
    fn render_has_help_and_type_for_every_family() {
        let metrics = Metrics::default();
        metrics.set(Value::CoreInputs, 42);
        metrics.observe_event(&Event::Rejected(peregrine_engine::Rejected {
            account: peregrine_engine::AccountId(0),
            session: peregrine_engine::SessionId(1),
            client_ref: 1,
            instrument: peregrine_engine::InstrumentId(0),
            order: peregrine_engine::OrderId::NONE,
            command: peregrine_engine::CommandKind::NewOrder,
            reason: RejectReason::InstrumentHalted,
        }));
        let text = render(&metrics, &[]);
        assert!(text.contains("\nperegrine_core_inputs_total 42\n"));
        assert!(text.contains("peregrine_rejects_total{reason=\"InstrumentHalted\"} 1\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let family = line.split(['{', ' ']).next().unwrap();
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "no TYPE for {family}"
            );
        }
    }
}
