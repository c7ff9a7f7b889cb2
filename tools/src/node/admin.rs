//! The admin channel: operator actions (kill switch, halt, risk limits, mass cancel, snapshot)
//! over an authenticated local Unix socket, turned into journaled commands.
//!
//! ```text
//!  peregrine admin ─► DATA_DIR/admin.sock ─► admin thread ──admin ring──► core thread: applies it
//!                     (0600, peer uid,          (parse, resolve           as an input (sequenced,
//!                      token line)               names, wait)             journaled), matches its
//!                                                   ▲                     result event
//!                                                   └──────reply ring─────────┘
//! ```
//!
//! The core takes at most one admin command at the start of each step, before the gateway's
//! batch, and answers after the command's last event, with its sequence number and event count.
//!
//! **Protocol** (one request per connection, ASCII lines): the client sends
//! `TOKEN ACTION ARGS…\n`, the node answers one line: `ok seq=S events=N …`,
//! `rejected seq=S reason=R`, or `error TEXT`. `TOKEN` is the content of `DATA_DIR/admin.token`
//! (64 hex digits, fresh random each start, mode 0600). Actions: `block ACCOUNT`,
//! `unblock ACCOUNT`, `halt SYMBOL`, `resume SYMBOL`, `set-limit ACCOUNT LIMIT VALUE [SYMBOL]`,
//! `reference-price SYMBOL PRICE`, `mass-cancel [account=A] [instrument=S]`, `snapshot`.
//!
//! **Authentication.** Three checks: the socket file is mode 0600 in the data directory, the
//! connecting process must run as the node's user (or root; `SO_PEERCRED`), and the first word
//! must equal the token. The token is compared in constant time.
//!
//! **Journaling.** Every action but `snapshot` becomes an engine [`Command`] that is applied by the
//! core like a member's input (an inbound record with user index [`ADMIN_USER_INDEX`]): it is
//! sequenced, journaled and applied, so `peregrine replay` reproduces it. Mass cancel carries
//! `SessionId(0)` and the request id as `client_ref`, so no member session receives its
//! `MassCancelled`. `snapshot` makes the core capture its state at the end of its next step
//! (which journals a `Snapshot` digest record); the admin thread writes the file.
//!
//! # Invariants
//! - One admin request is in flight at a time (the admin thread waits for each reply), and the
//!   core matches result events only while it applies that request's own input.
//! - The core never blocks on the admin thread: both rings are used with `try_*` only.
//! - Bad input from the socket is an `error` line, never a panic.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use peregrine_engine::{
    AccountId, Command, Event, InstrumentId, MassCancel, Price, RejectReason, RiskLimit, SessionId,
    SetRiskLimit, TradingStatus,
};
use peregrine_gateway::frame::FrameCounters;
use peregrine_replay::{CoreStage, PendingSnapshot};
use peregrine_tuning::ring::{channel, Consumer, Producer};

use super::core_loop::{CoreCounters, CoreLoop};
use super::gateway::GatewayCounters;
use super::metrics::{CoreProbes, LatencyProbe, Metrics, MetricsServer, Telemetry, Value};
use super::records::{InboundRecord, OutboundKind, OutboundRecord};
use crate::config::NodeConfig;

/// `InboundRecord::user_index` of an admin command (no member has it).
pub const ADMIN_USER_INDEX: u32 = u32::MAX;
/// The socket and token file names in the data directory.
pub const SOCKET_FILE: &str = "admin.sock";
pub const TOKEN_FILE: &str = "admin.token";
/// How long the admin thread waits for the core's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest request line.
const LINE_BYTES_MAX: u64 = 1024;
/// Admin thread sleep between polls.
const POLL_SLEEP: Duration = Duration::from_millis(2);
const ACCEPT_SLEEP: Duration = Duration::from_millis(20);

/// An admin command on its way to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminRequest {
    pub request_id: u64,
    pub command: Command,
}

/// What the core answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminOutcome {
    /// `ControlAck` with its value (orders cancelled by a block, the limit set, …).
    Acked {
        value: i64,
    },
    /// The instrument's new trading status.
    Status(TradingStatus),
    /// Orders a mass cancel took off the book.
    MassCancelled {
        count: u32,
    },
    Rejected(RejectReason),
}

/// The answer to one [`AdminRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminReply {
    pub request_id: u64,
    /// The journal sequence number of the command.
    pub input_seq: u64,
    /// Events the command produced (cancels included).
    pub event_count: u32,
    pub outcome: AdminOutcome,
}

/// The result event of `request`, if `event` is it.
fn outcome_of(request: &AdminRequest, event: &Event) -> Option<AdminOutcome> {
    let kind = request.command.kind();
    match (event, request.command) {
        (Event::ControlAck(ack), _) if ack.command == kind => {
            Some(AdminOutcome::Acked { value: ack.value })
        }
        (Event::TradingStatus { instrument, status }, Command::SetTradingStatus { .. }) => {
            let wanted = Command::SetTradingStatus {
                instrument: *instrument,
                status: *status,
            };
            (wanted == request.command).then_some(AdminOutcome::Status(*status))
        }
        (Event::MassCancelled(done), Command::MassCancel(mass)) => (done.session == mass.session
            && done.client_ref == mass.client_ref)
            .then_some(AdminOutcome::MassCancelled {
                count: done.cancelled_count,
            }),
        (Event::Rejected(rejected), _) => {
            let client_ref = match request.command {
                Command::MassCancel(mass) => mass.client_ref,
                _ => 0,
            };
            (rejected.command == kind
                && rejected.session == SessionId(0)
                && rejected.client_ref == client_ref)
                .then_some(AdminOutcome::Rejected(rejected.reason))
        }
        _ => None,
    }
}

/// The core thread's end of the admin rings.
struct AdminLink {
    requests: Consumer<AdminRequest>,
    replies: Producer<AdminReply>,
    /// The request being applied and, once seen, its result event.
    current: Option<(AdminRequest, Option<AdminOutcome>)>,
}

impl AdminLink {
    /// Takes the next waiting request; it is applied by the caller at once.
    fn begin(&mut self) -> Option<AdminRequest> {
        assert!(self.current.is_none(), "one admin request at a time");
        let request = self.requests.try_pop()?;
        self.current = Some((request, None));
        Some(request)
    }

    /// One event of the input being applied.
    fn event(&mut self, event: &Event) {
        if let Some((request, result @ None)) = self.current.as_mut() {
            *result = outcome_of(request, event);
        }
    }

    /// The input's events are complete: answers the admin thread if it was an admin input.
    fn input_done(&mut self, input_seq: u64, event_count: u32) -> bool {
        let Some((request, result)) = self.current.take() else {
            return false;
        };
        let reply = AdminReply {
            request_id: request.request_id,
            input_seq,
            event_count,
            outcome: result.unwrap_or(AdminOutcome::Acked { value: 0 }),
        };
        if self.replies.try_push(reply).is_err() {
            tracing::warn!(?reply, "admin reply ring full; reply dropped");
        }
        true
    }
}

/// The core thread's end of `snapshot`.
struct SnapshotHook {
    requested: Arc<AtomicBool>,
    done: SyncSender<Result<PendingSnapshot, String>>,
}

impl SnapshotHook {
    fn poll(&self, stage: &mut CoreStage) {
        // Relaxed load first (the common case); the Acquire swap pairs with the admin thread's
        // Release store of the request.
        if !self.requested.load(Ordering::Relaxed) || !self.requested.swap(false, Ordering::Acquire)
        {
            return;
        }
        let result = stage.capture_snapshot().map_err(|error| error.to_string());
        if self.done.try_send(result).is_err() {
            tracing::warn!("snapshot captured but the admin thread is not waiting");
        }
    }
}

/// What the admin thread was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Command(Command),
    Snapshot,
}

/// Parses one request's action words against the config's names.
pub fn parse_action(
    config: &NodeConfig,
    words: &[&str],
    request_id: u64,
) -> Result<Action, String> {
    let account = |name: &str| -> Result<AccountId, String> {
        let index = config
            .account_index(name)
            .ok_or_else(|| format!("unknown account {name:?}"))?;
        u32::try_from(index)
            .map(AccountId)
            .map_err(|_| "account index".to_string())
    };
    let instrument = |symbol: &str| -> Result<InstrumentId, String> {
        let index = config
            .instruments
            .iter()
            .position(|i| i.symbol == symbol)
            .ok_or_else(|| format!("unknown instrument {symbol:?}"))?;
        u32::try_from(index)
            .map(InstrumentId)
            .map_err(|_| "instrument index".to_string())
    };
    let command = match words {
        ["block", name] => Command::BlockAccount {
            account: account(name)?,
        },
        ["unblock", name] => Command::UnblockAccount {
            account: account(name)?,
        },
        ["halt", symbol] => Command::SetTradingStatus {
            instrument: instrument(symbol)?,
            status: TradingStatus::Halted,
        },
        ["resume", symbol] => Command::SetTradingStatus {
            instrument: instrument(symbol)?,
            status: TradingStatus::Trading,
        },
        ["set-limit", name, limit, value, rest @ ..] if rest.len() <= 1 => {
            Command::SetRiskLimit(SetRiskLimit {
                account: account(name)?,
                instrument: rest.first().map(|s| instrument(s)).transpose()?,
                limit: parse_limit(limit)?,
                value: value.parse().map_err(|_| format!("bad value {value:?}"))?,
            })
        }
        ["reference-price", symbol, price] => Command::SetReferencePrice {
            instrument: instrument(symbol)?,
            price: Price(price.parse().map_err(|_| format!("bad price {price:?}"))?),
        },
        ["mass-cancel", filters @ ..] if filters.len() <= 2 => {
            let mut mass = MassCancel {
                account: None,
                instrument: None,
                session: SessionId(0),
                client_ref: request_id,
            };
            for filter in filters {
                match filter.split_once('=') {
                    Some(("account", name)) => mass.account = Some(account(name)?),
                    Some(("instrument", symbol)) => mass.instrument = Some(instrument(symbol)?),
                    _ => return Err(format!("bad mass-cancel filter {filter:?}")),
                }
            }
            Command::MassCancel(mass)
        }
        ["snapshot"] => return Ok(Action::Snapshot),
        _ => return Err(format!("unknown action {:?}", words.join(" "))),
    };
    Ok(Action::Command(command))
}

/// A risk limit by name: `max-order-qty`, `MaxOrderQty` and `max_order_qty` all work.
pub fn parse_limit(name: &str) -> Result<RiskLimit, String> {
    let wanted: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    RiskLimit::ALL
        .iter()
        .copied()
        .find(|limit| limit.to_string().to_ascii_lowercase() == wanted)
        .ok_or_else(|| format!("unknown limit {name:?}"))
}

/// The reply line for an outcome.
pub fn reply_line(reply: &AdminReply) -> String {
    let head = format!("seq={} events={}", reply.input_seq, reply.event_count);
    match reply.outcome {
        AdminOutcome::Acked { value } => format!("ok {head} value={value}"),
        AdminOutcome::Status(status) => format!("ok {head} status={status}"),
        AdminOutcome::MassCancelled { count } => format!("ok {head} cancelled={count}"),
        AdminOutcome::Rejected(reason) => format!("rejected {head} reason={reason}"),
    }
}

/// The admin thread's state.
struct AdminThread {
    config: NodeConfig,
    token: String,
    requests: Producer<AdminRequest>,
    replies: Consumer<AdminReply>,
    snapshot_requested: Arc<AtomicBool>,
    snapshot_done: Receiver<Result<PendingSnapshot, String>>,
    metrics: Arc<Metrics>,
    next_request_id: u64,
}

/// The running admin socket.
pub struct AdminServer {
    pub socket_path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.socket_path);
    }
}

/// Writes a fresh random token to `path` (mode 0600) and returns it.
fn write_token(path: &Path) -> anyhow::Result<String> {
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut random))
        .context("cannot read /dev/urandom for the admin token")?;
    let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(token)
}

/// The connecting process's uid (`SO_PEERCRED`).
fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    let mut credentials = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is open for the stream's lifetime; `credentials` and `len` are valid for
    // writes of the sizes given, and the kernel writes at most `len` bytes.
    let result = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::addr_of_mut!(credentials).cast(),
            &mut len,
        )
    };
    if result != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(credentials.uid)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl AdminThread {
    fn run(mut self, listener: &UnixListener, stop: &AtomicBool) {
        // Relaxed: a plain flag.
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Err(error) = self.serve(stream) {
                        tracing::warn!(%error, "admin connection failed");
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(ACCEPT_SLEEP);
                }
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    std::thread::sleep(ACCEPT_SLEEP);
                }
            }
        }
    }

    fn serve(&mut self, stream: UnixStream) -> std::io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut writer = stream.try_clone()?;
        let own_uid = effective_uid();
        let answer = match peer_uid(&stream) {
            Ok(uid) if uid == own_uid || uid == 0 => {
                let mut line = String::new();
                BufReader::new(stream.take(LINE_BYTES_MAX)).read_line(&mut line)?;
                self.handle_line(line.trim_end())
            }
            Ok(uid) => format!("error peer uid {uid} is not the node's"),
            Err(error) => format!("error cannot read peer credentials: {error}"),
        };
        writer.write_all(answer.as_bytes())?;
        writer.write_all(b"\n")
    }

    fn handle_line(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some((token, action)) = words.split_first() else {
            return "error empty request".to_string();
        };
        if !constant_time_eq(token.as_bytes(), self.token.as_bytes()) {
            tracing::warn!("admin request with a bad token refused");
            return "error bad token".to_string();
        }
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        let action = match parse_action(&self.config, action, request_id) {
            Ok(action) => action,
            Err(text) => return format!("error {text}"),
        };
        tracing::info!(request = action_words(line), ?action, "admin action");
        let answer = match action {
            Action::Command(command) => self.submit(AdminRequest {
                request_id,
                command,
            }),
            Action::Snapshot => self.snapshot(),
        };
        tracing::info!(%answer, "admin answer");
        answer
    }

    fn submit(&mut self, request: AdminRequest) -> String {
        while self.replies.try_pop().is_some() {} // Stale answers of timed-out requests.
        if self.requests.try_push(request).is_err() {
            return "error admin ring full".to_string();
        }
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(reply) = self.replies.try_pop() {
                if reply.request_id == request.request_id {
                    return reply_line(&reply);
                }
            }
            std::thread::sleep(POLL_SLEEP);
        }
        "error no answer from the core (node stopping or stalled)".to_string()
    }

    fn snapshot(&mut self) -> String {
        while self.snapshot_done.try_recv().is_ok() {}
        // Release: pairs with the core's Acquire swap.
        self.snapshot_requested.store(true, Ordering::Release);
        let pending = match self.snapshot_done.recv_timeout(REPLY_TIMEOUT) {
            Ok(Ok(pending)) => pending,
            Ok(Err(error)) => return format!("error snapshot capture failed: {error}"),
            Err(_) => return "error no snapshot from the core (stalled?)".to_string(),
        };
        match pending.write() {
            Ok(info) => {
                self.metrics.add(Value::SnapshotsWritten, 1);
                format!(
                    "ok seq={} bytes={} path={}",
                    info.seq,
                    info.bytes,
                    info.path.display()
                )
            }
            Err(error) => format!("error snapshot write failed: {error}"),
        }
    }
}

/// The words after the token, for the log (never the token itself).
fn action_words(line: &str) -> &str {
    line.split_once(' ').map_or("", |(_, rest)| rest)
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

// ----- the node's operations glue -----------------------------------------------------------

/// How often the gateway and core publish their counters.
const COUNTER_PUBLISH_NS: u64 = 10_000_000;

/// The gateway thread's operations part: its counters and the core→gateway probe.
pub struct GatewayOps {
    metrics: Arc<Metrics>,
    core_to_gateway: LatencyProbe,
    next_publish_ns: u64,
}

impl GatewayOps {
    /// Threaded mode, every output record of the core as the gateway routes it, with the
    /// gateway's clock for the batch: measures core→gateway at each `InputDone`.
    pub fn observe(&mut self, record: &OutboundRecord, routed_ns: u64) {
        if record.kind == OutboundKind::InputDone {
            self.core_to_gateway
                .record(routed_ns.saturating_sub(record.timestamp_ns));
        }
    }

    /// End of a gateway turn: publishes its counters, sessions and ring occupancy
    /// (`(len, capacity)` each) every 10 ms.
    pub fn end_turn(
        &mut self,
        counters: &GatewayCounters,
        (connected, logged_in): (usize, usize),
        inbound_ring: (usize, usize),
        outbound_ring: (usize, usize),
        frames: Option<FrameCounters>,
        now_ns: u64,
    ) {
        if now_ns < self.next_publish_ns {
            return;
        }
        self.next_publish_ns = now_ns.saturating_add(COUNTER_PUBLISH_NS);
        self.metrics.publish_gateway(counters, connected, logged_in);
        if let Some(frames) = frames {
            self.metrics.publish_frames(&frames);
        }
        self.metrics.publish_rings(inbound_ring, outbound_ring);
        self.core_to_gateway.maybe_publish(now_ns);
    }
}

/// The core thread's operations part (lives in [`CoreLoop::ops`]): event counters, latency
/// probes, admin commands and snapshot requests.
pub struct CoreOps {
    metrics: Arc<Metrics>,
    probes: CoreProbes,
    link: Option<AdminLink>,
    snapshot: Option<SnapshotHook>,
    next_publish_ns: u64,
}

impl CoreOps {
    /// Start of a core step: serves a snapshot request, and returns the admin command to apply
    /// now (as an inbound record with [`ADMIN_USER_INDEX`]), if one waits.
    pub fn begin_step(&mut self, stage: &mut CoreStage, now_ns: u64) -> Option<InboundRecord> {
        if let Some(hook) = self.snapshot.as_ref() {
            hook.poll(stage);
        }
        let request = self.link.as_mut()?.begin()?;
        Some(InboundRecord {
            user_index: ADMIN_USER_INDEX,
            command: request.command,
            received_ns: now_ns,
        })
    }

    /// Each event the core emits.
    pub fn event(&mut self, event: &Event) {
        self.metrics.observe_event(event);
        if let Some(link) = self.link.as_mut() {
            link.event(event);
        }
    }

    /// After each input: its latencies (from the gateway's read, and of its application).
    pub fn input_done(&mut self, record: &InboundRecord, seq: (u64, u32), times_ns: (u64, u64)) {
        let (sequenced_ns, done_ns) = times_ns;
        self.probes
            .gateway_to_core
            .record(sequenced_ns.saturating_sub(record.received_ns));
        self.probes
            .core_apply
            .record(done_ns.saturating_sub(sequenced_ns));
        if record.user_index == ADMIN_USER_INDEX {
            if let Some(link) = self.link.as_mut() {
                if link.input_done(seq.0, seq.1) {
                    self.metrics.add(Value::AdminActions, 1);
                }
            }
        }
    }

    /// After a batch's journal sync point (`started_ns` → `synced_ns`): records the sync
    /// time, hands histograms over and publishes counters every 10 ms.
    pub fn batch_end(
        &mut self,
        core: (&CoreStage, &CoreCounters),
        started_ns: u64,
        synced_ns: u64,
    ) {
        self.probes
            .journal_sync
            .record(synced_ns.saturating_sub(started_ns));
        self.publish(core, synced_ns);
    }

    /// Publishes the core's counters (rate-limited to every 10 ms).
    pub fn publish(&mut self, (stage, counters): (&CoreStage, &CoreCounters), now_ns: u64) {
        if now_ns < self.next_publish_ns {
            return;
        }
        self.next_publish_ns = now_ns.saturating_add(COUNTER_PUBLISH_NS);
        self.probes.maybe_publish(now_ns);
        let journal = stage.journal().counters();
        self.metrics
            .publish_core(counters, &journal, stage.last_seq());
    }
}

/// The operations threads (metrics endpoint, admin socket), stopped at shutdown.
pub struct OpsServers {
    metrics: Option<MetricsServer>,
    admin: Option<AdminServer>,
}

impl OpsServers {
    pub fn stop(self) {
        if let Some(admin) = self.admin {
            admin.stop();
        }
        if let Some(metrics) = self.metrics {
            metrics.stop();
        }
    }
}

/// Starts the metrics endpoint and admin socket as `[ops]` says; installs the core's part
/// into `core.ops` and returns the gateway's part and the servers.
pub fn start(config: &NodeConfig, core: &mut CoreLoop) -> anyhow::Result<(GatewayOps, OpsServers)> {
    let mut telemetry = Telemetry::new()?;
    let metrics = Arc::clone(&telemetry.metrics);
    if let Some(feed) = &core.feed {
        metrics.attach_feed(feed.live_counters());
    }
    let metrics_server = if config.ops.metrics_listen.is_empty() {
        None
    } else {
        let sinks = telemetry.take_sinks();
        let listen = &config.ops.metrics_listen;
        let server =
            MetricsServer::start(listen, &config.node.data_dir, Arc::clone(&metrics), sinks)?;
        Some(server)
    };
    // A node without its admin socket still trades; the operator sees why in the log.
    let (link, snapshot, admin) = match config
        .ops
        .admin
        .then(|| start_admin(config, Arc::clone(&metrics)))
    {
        Some(Ok((link, hook, server))) => (Some(link), Some(hook), Some(server)),
        Some(Err(error)) => {
            tracing::error!(error = %format!("{error:#}"), "admin socket not started");
            (None, None, None)
        }
        None => (None, None, None),
    };
    core.ops = Some(CoreOps {
        metrics: Arc::clone(&metrics),
        probes: telemetry.core,
        link,
        snapshot,
        next_publish_ns: 0,
    });
    let gateway_ops = GatewayOps {
        metrics,
        core_to_gateway: telemetry.core_to_gateway,
        next_publish_ns: 0,
    };
    let servers = OpsServers {
        metrics: metrics_server,
        admin,
    };
    Ok((gateway_ops, servers))
}

fn start_admin(
    config: &NodeConfig,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(AdminLink, SnapshotHook, AdminServer)> {
    let data_dir = &config.node.data_dir;
    let socket_path = data_dir.join(SOCKET_FILE);
    let token = write_token(&data_dir.join(TOKEN_FILE))?;
    let _ = std::fs::remove_file(&socket_path);
    let listener = UnixListener::bind(&socket_path)
        .with_context(|| format!("cannot bind {}", socket_path.display()))?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    let (request_tx, request_rx) = channel::<AdminRequest>(4)?;
    let (reply_tx, reply_rx) = channel::<AdminReply>(4)?;
    let (done_tx, done_rx) = sync_channel(1);
    let requested = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let state = AdminThread {
        config: config.clone(),
        token,
        requests: request_tx,
        replies: reply_rx,
        snapshot_requested: Arc::clone(&requested),
        snapshot_done: done_rx,
        metrics,
        next_request_id: 0,
    };
    let thread = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("admin".to_string())
            .spawn(move || state.run(&listener, &stop))?
    };
    tracing::info!(socket = %socket_path.display(), "admin socket listening");
    let link = AdminLink {
        requests: request_rx,
        replies: reply_tx,
        current: None,
    };
    let hook = SnapshotHook {
        requested,
        done: done_tx,
    };
    let server = AdminServer {
        socket_path,
        stop,
        thread: Some(thread),
    };
    Ok((link, hook, server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_engine::{CommandKind, ControlAck, MassCancelled, OrderId, Rejected};

    fn config() -> NodeConfig {
        NodeConfig::parse(crate::config::DEFAULT_CONFIG_TOML).unwrap()
    }

    #[test]
    fn actions_parse_against_config_names() {
        let config = config();
        let parse = |line: &str| {
            let words: Vec<&str> = line.split_whitespace().collect();
            parse_action(&config, &words, 7)
        };
        assert_eq!(
            parse("block FIRMB"),
            Ok(Action::Command(Command::BlockAccount {
                account: AccountId(1)
            }))
        );
        assert_eq!(
            parse("halt MSFT"),
            Ok(Action::Command(Command::SetTradingStatus {
                instrument: InstrumentId(1),
                status: TradingStatus::Halted
            }))
        );
        assert_eq!(
            parse("set-limit FIRMA max-order-qty 100 GOOG"),
            Ok(Action::Command(Command::SetRiskLimit(SetRiskLimit {
                account: AccountId(0),
                instrument: Some(InstrumentId(2)),
                limit: RiskLimit::MaxOrderQty,
                value: 100
            })))
        );
        let Ok(Action::Command(Command::MassCancel(mass))) = parse("mass-cancel instrument=AAPL")
        else {
            panic!("mass cancel")
        };
        assert_eq!((mass.session, mass.client_ref), (SessionId(0), 7));
        assert_eq!(mass.instrument, Some(InstrumentId(0)));
        assert_eq!(parse("snapshot"), Ok(Action::Snapshot));
        for bad in [
            "block",
            "block NOPE",
            "halt XXX",
            "set-limit FIRMA nope 1",
            "fly",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn results_match_only_their_request() {
        let block = AdminRequest {
            request_id: 3,
            command: Command::BlockAccount {
                account: AccountId(1),
            },
        };
        let ack = |command| {
            Event::ControlAck(ControlAck {
                command,
                account: AccountId(1),
                instrument: InstrumentId(0),
                value: 2,
            })
        };
        assert_eq!(
            outcome_of(&block, &ack(CommandKind::BlockAccount)),
            Some(AdminOutcome::Acked { value: 2 })
        );
        assert_eq!(outcome_of(&block, &ack(CommandKind::SessionLost)), None);
        let reject = |session, client_ref| {
            Event::Rejected(Rejected {
                account: AccountId(1),
                session,
                client_ref,
                instrument: InstrumentId(0),
                order: OrderId::NONE,
                command: CommandKind::MassCancel,
                reason: RejectReason::InvalidMassCancel,
            })
        };
        let mass = AdminRequest {
            request_id: 9,
            command: Command::MassCancel(MassCancel {
                account: None,
                instrument: None,
                session: SessionId(0),
                client_ref: 9,
            }),
        };
        assert_eq!(outcome_of(&mass, &reject(SessionId(1), 9)), None);
        assert_eq!(
            outcome_of(&mass, &reject(SessionId(0), 9)),
            Some(AdminOutcome::Rejected(RejectReason::InvalidMassCancel))
        );
        let done = Event::MassCancelled(MassCancelled {
            account: None,
            instrument: None,
            session: SessionId(0),
            client_ref: 9,
            cancelled_count: 4,
        });
        assert_eq!(
            outcome_of(&mass, &done),
            Some(AdminOutcome::MassCancelled { count: 4 })
        );
    }

    #[test]
    fn limits_parse_in_any_spelling() {
        assert_eq!(parse_limit("max-open-orders"), Ok(RiskLimit::MaxOpenOrders));
        assert_eq!(parse_limit("MaxOpenOrders"), Ok(RiskLimit::MaxOpenOrders));
        assert_eq!(
            parse_limit("cancel_on_disconnect"),
            Ok(RiskLimit::CancelOnDisconnect)
        );
        assert!(parse_limit("max").is_err());
    }
}
