//! The Peregrine node: a running exchange that members reach over OUCH 5.0 / SoupBinTCP 3.0 on
//! kernel TCP, or over smoltcp TCP on AF_XDP or DPDK frames ([`bypass`], `[gateway_bypass]`);
//! its feed leaves through a kernel UDP socket or as frames it builds (`[feed_bypass]`).
//!
//! ```text
//!  sockets ─► gateway thread ──inbound ring──► core thread ──outbound ring──► gateway thread ─► sockets
//!            (epoll via mio: RX, login,        (sequence ▸ journal ▸          (route events to users'
//!             heartbeats, OUCH → Command)        risk ▸ match: CoreStage)       logs, OUCH out, TX)
//!                                                   └──feed ring──► feed thread ─► ITCH in MoldUDP64,
//!                                                                     (peregrine_feed)   UDP multicast
//! ```
//!
//! **Threads.** [`Mode::Threaded`](crate::config::Mode) runs the gateway (the calling thread)
//! and the core on their own threads. [`Mode::Single`](crate::config::Mode) runs the same
//! gateway and core code in one loop on the calling thread, with the gateway as the core's
//! outbound sink: the mode for tests and small hosts. In both, the feed publisher ([`feed`],
//! `[feed] enabled`) is a thread of its own behind a third ring, since it only consumes.
//!
//! **Deviation from DESIGN.md.** The design draws gateway RX and gateway TX as two threads. Here
//! they are one I/O thread, because the OUCH mapping (`peregrine_gateway::mapping::OrderEntry`)
//! is one state machine per user that both directions mutate: inbound messages consume
//! UserRefNums and add pending orders, core events bind engine order ids and retire orders, and
//! an event can produce a command (a cancel deferred until its order is accepted). Splitting RX
//! and TX would put that state behind a lock or a second ring round trip per message. On the
//! 2-core target, two busy threads (gateway, core) are also what the cores allow; the feed
//! publisher takes a third ring from the core. Back-pressure holds as designed: a
//! full inbound ring makes the gateway stop reading sockets (counted), a full outbound ring
//! makes the core wait (counted); nothing is dropped, and the gateway never blocks on the core,
//! so the two cannot deadlock.
//!
//! **Recovery.** On start, [`CoreStage::open`] recovers the core from the journal; each user's
//! session log is replayed into its OUCH state ([`gateway`]); inputs the journal has but the
//! gateway never routed (a crash between the two) get their events regenerated from the journal
//! ([`recovery`]); submissions that were logged but never journaled are answered with a
//! Rejected. The FIX gateway ([`fix`]) keeps its own checkpoint and is recovered the same way
//! in the same replay. Sequenced messages live in the logs, so a re-login with a requested sequence
//! number gets every message it missed, across restarts too.
//!
//! **Shutdown** (SIGINT/SIGTERM sets the stop flag): the gateway stops accepting and reading,
//! flushes and closes connections (each lost session becomes a journaled `SessionLost`), the
//! core drains the inbound ring and closes the journal (closing digest, sync), then the
//! gateway routes the last events and syncs the session logs.
//!
//! # Invariants
//! - The journal is the source of truth: every command applied is journaled first; every
//!   message a member sees is in its session log first.
//! - The gateway's checkpoint never passes the journal's last seq.
//! - The core thread is the only consumer of the inbound ring and the only producer of the
//!   outbound ring; the gateway thread is the other end of both.

pub mod admin;
pub mod auth;
pub mod bypass;
pub mod core_loop;
pub mod feed;
pub mod fix;
pub mod gateway;
pub mod loadgen;
pub mod market;
pub mod member;
pub mod metrics;
pub mod records;
pub mod recovery;
pub mod store;
pub mod transport;

use std::net::SocketAddr;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use peregrine_replay::CoreStage;
use peregrine_tuning::ring::{channel, Consumer, Producer};
use peregrine_tuning::wait::{Phase, WaitStrategy, Waiter};

use crate::config::{Mode, NodeConfig};
use core_loop::{CoreCounters, CoreLoop, OutboundSink, RingSink};
use gateway::{clock_ns, Gateway, GatewayCounters};
use records::{InboundRecord, OutboundRecord};
use transport::{KernelTransport, Transport};

/// Inputs the core takes per batch (one journal sync point under `sync-per-batch`).
const CORE_BATCH_MAX: usize = 256;
/// Outbound records the gateway routes per turn.
const ROUTE_BATCH_MAX: usize = 4096;
/// How often the node logs its counters.
const STATS_INTERVAL: Duration = Duration::from_secs(10);

/// What a node run did.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeReport {
    pub gateway: GatewayCounters,
    pub core: CoreCounters,
    pub last_seq: u64,
}

/// A node ready to run: core recovered, gateway listening (over kernel TCP, or any other
/// [`Transport`]: see [`bypass`]).
pub struct Node<T: Transport = KernelTransport> {
    config: NodeConfig,
    gateway: Gateway<T>,
    core: CoreLoop,
    feed: Option<feed::FeedThread>,
    stop: Arc<AtomicBool>,
    /// The gateway's part of `[ops]` and the metrics/admin threads (`admin::start`).
    ops: (admin::GatewayOps, admin::OpsServers),
    fix: fix::FixHook,
}

impl Node {
    /// Recovers (or creates) the journal and session logs in the config's data directory and
    /// binds the listener on kernel TCP. `stop` ends [`Node::run`] when set.
    pub fn open(config: NodeConfig, stop: Arc<AtomicBool>) -> anyhow::Result<Node> {
        Node::open_over(config, stop, Gateway::open)
    }
}

impl<T: Transport> Node<T> {
    /// As [`Node::open`], with the gateway made by `open_gateway` over its own transport.
    pub fn open_over(
        config: NodeConfig,
        stop: Arc<AtomicBool>,
        open_gateway: impl FnOnce(&NodeConfig) -> anyhow::Result<Gateway<T>>,
    ) -> anyhow::Result<Node<T>> {
        let mut fix = fix::FixHook::open(&config)?;
        let (stage, gateway) = open_parts_with_fix(&config, open_gateway, &mut fix)?;
        let (feed_tap, feed_thread) = match feed::start(&config)? {
            Some((tap, thread)) => (Some(tap), Some(thread)),
            None => (None, None),
        };
        let mut core = CoreLoop::new(stage, feed_tap);
        let ops = admin::start(&config, &mut core)?;
        Ok(Node {
            config,
            gateway,
            core,
            feed: feed_thread,
            stop,
            ops,
            fix,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    /// Runs until the stop flag is set, then shuts down cleanly.
    pub fn run(self) -> anyhow::Result<NodeReport> {
        match self.config.node.mode {
            Mode::Threaded => self.run_threaded(),
            Mode::Single => self.run_single(),
        }
    }

    fn run_single(self) -> anyhow::Result<NodeReport> {
        let Node {
            config,
            mut gateway,
            mut core,
            feed,
            stop,
            ops: (mut ops, ops_servers),
            mut fix,
        } = self;
        let strategy = config.wait_strategy()?;
        apply_thread_settings(&config, config.node.gateway_cpu);
        let (mut inbound, mut inbound_rx) =
            channel::<InboundRecord>(config.node.inbound_ring_records)?;
        let mut waiter = Waiter::new(strategy);
        let mut stats = Stats::new();
        let mut stopping = false;
        let mut timeout = Duration::ZERO;
        loop {
            // Nothing but sockets can bring work here, so an idle loop may block in epoll.
            gateway.poll_io(Some(timeout), clock_ns())?;
            let work = single_turn_with_fix(
                (&mut gateway, &mut fix),
                &mut core,
                &mut inbound,
                &mut inbound_rx,
                stopping,
            )?;
            let now_ns = clock_ns();
            if stop.load(Ordering::Relaxed) && !stopping {
                stopping = true;
                gateway.shut_down(config.node.end_of_session_on_shutdown, now_ns);
                fix.shut_down(now_ns)?;
            }
            let idle = !gateway.has_pending() && !fix.has_pending() && inbound_rx.is_empty();
            if stopping && idle {
                break;
            }
            stats.maybe_log(&gateway, &core.counters);
            let sessions = (gateway.connection_count(), gateway.logged_in_count());
            let inbound_ring = (inbound.len(), inbound.capacity());
            let frames = gateway.frame_counters();
            ops.end_turn(
                &gateway.counters,
                sessions,
                inbound_ring,
                (0, 0),
                frames,
                now_ns,
            );
            timeout = next_timeout(&mut waiter, strategy, work);
        }
        let report = finish(gateway, core)?;
        fix.flush_storage()?;
        finish_feed(feed)?;
        ops_servers.stop();
        Ok(report)
    }

    fn run_threaded(self) -> anyhow::Result<NodeReport> {
        let Node {
            config,
            mut gateway,
            core,
            feed,
            stop,
            ops: (mut ops, ops_servers),
            mut fix,
        } = self;
        let strategy = config.wait_strategy()?;
        let (mut inbound, inbound_rx) = channel::<InboundRecord>(config.node.inbound_ring_records)?;
        let (outbound, mut outbound_rx) =
            channel::<OutboundRecord>(config.node.outbound_ring_records)?;
        let input_closed = Arc::new(AtomicBool::new(false));
        let wakeups = Arc::new(Wakeups {
            gateway_sleeping: AtomicBool::new(false),
            waker: gateway.waker()?,
        });
        // A transport without a waker (kernel bypass) is never given a timeout: nothing could
        // end it early, so parking in the poll becomes yielding between polls.
        let strategy = match (&wakeups.waker, strategy) {
            (None, WaitStrategy::Park { spins, .. }) => WaitStrategy::SpinThenYield { spins },
            _ => strategy,
        };
        let core_thread = {
            let config = config.clone();
            let input_closed = Arc::clone(&input_closed);
            let wakeups = Arc::clone(&wakeups);
            std::thread::Builder::new()
                .name("core".to_string())
                .spawn(move || {
                    core_thread(config, core, inbound_rx, outbound, input_closed, &wakeups)
                })?
        };
        apply_thread_settings(&config, config.node.gateway_cpu);
        let mut waiter = Waiter::new(strategy);
        let mut stats = Stats::new();
        let mut stopping = false;
        let mut core_counters = CoreCounters::default();
        let mut timeout = Duration::ZERO;
        loop {
            wakeups.sleep_in_poll(&mut gateway, &outbound_rx, timeout)?;
            let now_ns = clock_ns();
            let chunk = outbound_rx.read_chunk(ROUTE_BATCH_MAX);
            let mut work = chunk.len();
            let routed_ns = if work > 0 { clock_ns() } else { now_ns };
            for record in chunk.iter() {
                ops.observe(record, routed_ns);
                gateway.on_outbound(record)?;
                fix.on_outbound(record)?;
            }
            chunk.release_all();
            let mut submitted = gateway.flush_pending(&mut inbound);
            if !stopping {
                submitted += gateway.service_reads(now_ns, &mut inbound);
            }
            submitted += fix.service_reads(now_ns, &mut inbound, stopping)?;
            if submitted > 0 {
                // Wakes the core if it parked (an atomic swap when it did not).
                core_thread.thread().unpark();
            }
            work += submitted;
            work += gateway.service_writes(now_ns);
            work += fix.service_writes(now_ns)?;
            if stop.load(Ordering::Relaxed) && !stopping {
                stopping = true;
                gateway.shut_down(config.node.end_of_session_on_shutdown, now_ns);
                fix.shut_down(now_ns)?;
            }
            if stopping && !gateway.has_pending() && !fix.has_pending() {
                input_closed.store(true, Ordering::Release);
            }
            if core_thread.is_finished() && outbound_rx.is_empty() {
                break;
            }
            stats.maybe_log(&gateway, &core_counters);
            let sessions = (gateway.connection_count(), gateway.logged_in_count());
            let rings = (
                (inbound.len(), inbound.capacity()),
                (outbound_rx.len(), outbound_rx.capacity()),
            );
            let frames = gateway.frame_counters();
            ops.end_turn(
                &gateway.counters,
                sessions,
                rings.0,
                rings.1,
                frames,
                now_ns,
            );
            timeout = next_timeout(&mut waiter, strategy, work);
        }
        let (core, counters) = core_thread
            .join()
            .map_err(|_| anyhow::anyhow!("core thread panicked"))??;
        core_counters = counters;
        finish_feed(feed)?;
        ops_servers.stop();
        fix.flush_storage()?;
        let mut report = finish_gateway(gateway)?;
        report.core = core_counters;
        report.last_seq = core;
        Ok(report)
    }
}

/// The core thread: steps until the gateway closes its input and the ring is empty, then
/// closes the journal. Returns the last seq and the counters.
fn core_thread(
    config: NodeConfig,
    mut core: CoreLoop,
    mut inbound: Consumer<InboundRecord>,
    mut outbound: Producer<OutboundRecord>,
    input_closed: Arc<AtomicBool>,
    wakeups: &Wakeups,
) -> anyhow::Result<(u64, CoreCounters)> {
    apply_thread_settings(&config, config.node.core_cpu);
    let strategy = config.wait_strategy()?;
    let mut waiter = Waiter::new(strategy);
    let mut sink_waiter = Waiter::new(strategy);
    let mut full_waits = 0;
    let wake_gateway = || {
        // SeqCst fence pairs with the gateway's, after its `gateway_sleeping` store.
        fence(Ordering::SeqCst);
        if wakeups.gateway_sleeping.load(Ordering::Relaxed) {
            if let Some(Err(error)) = wakeups.waker.as_ref().map(mio::Waker::wake) {
                tracing::warn!(%error, "cannot wake the gateway");
            }
        }
    };
    loop {
        let mut sink = RingSink {
            producer: &mut outbound,
            waiter: &mut sink_waiter,
            full_waits: &mut full_waits,
            on_full: &wake_gateway,
        };
        let count = core.step(&mut inbound, &mut sink, CORE_BATCH_MAX, clock_ns)?;
        core.counters.outbound_full_waits = full_waits;
        if count > 0 {
            wake_gateway();
            waiter.reset();
            continue;
        }
        // Acquire: pairs with the gateway's Release store after its last push.
        if input_closed.load(Ordering::Acquire) && inbound.is_empty() {
            break;
        }
        waiter.idle();
    }
    core.counters.outbound_full_waits = full_waits;
    let last_seq = core.stage.last_seq();
    let counters = core.counters;
    core.stage.close().context("closing the journal")?;
    tracing::info!(last_seq, "journal closed");
    Ok((last_seq, counters))
}

/// Recovers the core from the journal and the gateway from its session logs (the gateway
/// made by `open_gateway`, over any transport), regenerating the events of inputs the logs
/// missed and rejecting submissions the journal never saw. Both modes and the simulator
/// start here.
pub fn open_parts<T: Transport>(
    config: &NodeConfig,
    open_gateway: impl FnOnce(&NodeConfig) -> anyhow::Result<Gateway<T>>,
) -> anyhow::Result<(CoreStage, Gateway<T>)> {
    open_parts_with_fix(config, open_gateway, &mut fix::FixHook::none())
}

/// As [`open_parts`], recovering the FIX gateway too: inputs after its own checkpoint are
/// regenerated into it, and its lost submissions are rejected.
pub fn open_parts_with_fix<T: Transport>(
    config: &NodeConfig,
    open_gateway: impl FnOnce(&NodeConfig) -> anyhow::Result<Gateway<T>>,
    fix: &mut fix::FixHook,
) -> anyhow::Result<(CoreStage, Gateway<T>)> {
    let journal_dir = config.journal_dir();
    std::fs::create_dir_all(&journal_dir)
        .with_context(|| format!("cannot create {}", journal_dir.display()))?;
    let core_config = config.core_config();
    let (stage, report) = CoreStage::open(&journal_dir, config.stage_options()?, &core_config)
        .with_context(|| format!("cannot open journal {}", journal_dir.display()))?;
    tracing::info!(created = report.created, last_seq = report.last_seq,
        replayed = report.replayed_inputs, snapshot = ?report.snapshot_seq,
        torn = report.torn.is_some(), "core recovered");
    if let Some(seq) = report.first_digest_mismatch {
        tracing::error!(seq, "recovery: replay did not reproduce a recorded digest");
    }
    let mut gateway = open_gateway(config)?;
    let last_seq = stage.last_seq();
    let checkpoint = gateway.checkpoint_seq();
    let fix_checkpoint = fix.checkpoint_seq().unwrap_or(last_seq);
    anyhow::ensure!(
        checkpoint <= last_seq && fix_checkpoint <= last_seq,
        "session logs are ahead of the journal (checkpoints {checkpoint} and FIX \
         {fix_checkpoint}, journal {last_seq})"
    );
    let from_seq = checkpoint.min(fix_checkpoint);
    if from_seq < last_seq {
        let routed = recovery::regenerate(&journal_dir, &core_config, from_seq, |record| {
            if record.input_seq > checkpoint {
                gateway.on_outbound(record)?;
            }
            if record.input_seq > fix_checkpoint {
                fix.on_outbound(record)?;
            }
            Ok(())
        })?;
        tracing::warn!(
            checkpoint,
            fix_checkpoint,
            last_seq,
            routed,
            "recovery: regenerated events"
        );
    }
    let rejected = gateway.finish_recovery(last_seq)? + fix.finish_recovery(last_seq)?;
    if rejected > 0 {
        tracing::warn!(rejected, "recovery: lost submissions rejected");
    }
    Ok((stage, gateway))
}

/// One turn of single-thread mode after the caller's `poll_io`: waiting commands into the
/// ring, sockets read (unless `stopping`), the core stepped with the gateway as its sink,
/// sockets written. Times come from the gateway's clock. Returns the work done.
pub fn single_turn<T: Transport>(
    gateway: &mut Gateway<T>,
    core: &mut CoreLoop,
    inbound: &mut Producer<InboundRecord>,
    inbound_rx: &mut Consumer<InboundRecord>,
    stopping: bool,
) -> anyhow::Result<usize> {
    let mut no_fix = fix::FixHook::none();
    single_turn_with_fix((gateway, &mut no_fix), core, inbound, inbound_rx, stopping)
}

/// As [`single_turn`], with the FIX listener served in the same turn: its reads after the
/// OUCH gateway's, core outputs routed to both, its writes after the OUCH gateway's.
pub fn single_turn_with_fix<T: Transport>(
    (gateway, fix): (&mut Gateway<T>, &mut fix::FixHook),
    core: &mut CoreLoop,
    inbound: &mut Producer<InboundRecord>,
    inbound_rx: &mut Consumer<InboundRecord>,
    stopping: bool,
) -> anyhow::Result<usize> {
    let clock = gateway.clock().clone();
    let now_ns = clock.now_ns();
    let mut work = gateway.flush_pending(inbound);
    if !stopping {
        work += gateway.service_reads(now_ns, inbound);
    }
    work += fix.service_reads(now_ns, inbound, stopping)?;
    let mut sink = DirectSink {
        gateway,
        fix,
        error: None,
    };
    work += core.step(inbound_rx, &mut sink, CORE_BATCH_MAX, || clock.now_ns())?;
    if let Some(error) = sink.error {
        return Err(error);
    }
    work += gateway.service_writes(now_ns);
    work += fix.service_writes(now_ns)?;
    Ok(work)
}

/// Single-thread mode: core events go straight into the gateway and the FIX listener.
struct DirectSink<'a, T: Transport> {
    gateway: &'a mut Gateway<T>,
    fix: &'a mut fix::FixHook,
    error: Option<anyhow::Error>,
}

impl<T: Transport> OutboundSink for DirectSink<'_, T> {
    fn push(&mut self, record: OutboundRecord) {
        if self.error.is_some() {
            return;
        }
        let routed = self
            .gateway
            .on_outbound(&record)
            .and_then(|()| self.fix.on_outbound(&record));
        if let Err(error) = routed {
            self.error = Some(error);
        }
    }
}

fn finish<T: Transport>(gateway: Gateway<T>, core: CoreLoop) -> anyhow::Result<NodeReport> {
    let counters = core.counters;
    let last_seq = core.stage.last_seq();
    core.stage.close().context("closing the journal")?;
    tracing::info!(last_seq, "journal closed");
    let mut report = finish_gateway(gateway)?;
    report.core = counters;
    report.last_seq = last_seq;
    Ok(report)
}

/// Ends the feed after the core's last record (it publishes everything, then End of Session).
fn finish_feed(feed: Option<feed::FeedThread>) -> anyhow::Result<()> {
    if let Some(feed) = feed {
        let report = feed.finish()?;
        tracing::info!(
            next_seq = report.publisher.next_seq,
            send_errors = report.publisher.send_errors,
            rerequest = ?report.rerequest,
            snapshot = ?report.snapshot,
            "feed session ended"
        );
    }
    Ok(())
}

fn finish_gateway<T: Transport>(gateway: Gateway<T>) -> anyhow::Result<NodeReport> {
    gateway.flush_storage()?;
    tracing::info!(counters = ?gateway.counters, "gateway stopped");
    Ok(NodeReport {
        gateway: gateway.counters,
        ..NodeReport::default()
    })
}

/// Pinning, real-time priority and memory locking for the calling thread, as configured.
/// Refusals are logged by `peregrine_tuning` and are not fatal.
fn apply_thread_settings(config: &NodeConfig, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        let _ = peregrine_tuning::cpu::pin_current_thread(cpu);
        if let Some(priority) = config.node.fifo_priority {
            let _ = peregrine_tuning::cpu::set_fifo_priority(priority);
        }
    }
    if config.node.lock_memory {
        let _ = peregrine_tuning::memory::lock_all_memory();
    }
}

/// The gateway's wake-up for the core thread: set while the gateway blocks in epoll, so the
/// core knows to wake it (through the poll's `Waker`) after it publishes outputs.
struct Wakeups {
    gateway_sleeping: AtomicBool,
    /// `None`: the transport never blocks, so the gateway never sleeps in it.
    waker: Option<mio::Waker>,
}

impl Wakeups {
    /// The gateway's blocking point: a non-zero `timeout` is announced to the core first
    /// (Dekker: store the flag, SeqCst fence, then look at the ring once more; the fence pairs
    /// with the one after the core's pushes), so outputs published meanwhile are not slept on.
    fn sleep_in_poll<T: Transport>(
        &self,
        gateway: &mut Gateway<T>,
        outbound: &Consumer<OutboundRecord>,
        mut timeout: Duration,
    ) -> anyhow::Result<()> {
        if !timeout.is_zero() {
            self.gateway_sleeping.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if !outbound.is_empty() {
                timeout = Duration::ZERO;
            }
        }
        let result = gateway.poll_io(Some(timeout), clock_ns());
        self.gateway_sleeping.store(false, Ordering::Relaxed);
        result.map(|_| ())
    }
}

/// After a turn: on progress, poll again at once; otherwise spin or yield through the waiter,
/// and in the park phase return the park time for `poll_io` to block (epoll rounds it up to
/// a millisecond; a socket event or the core's wake-up ends it early).
fn next_timeout(waiter: &mut Waiter, strategy: WaitStrategy, work: usize) -> Duration {
    if work > 0 {
        waiter.reset();
        return Duration::ZERO;
    }
    match (strategy, waiter.phase()) {
        (WaitStrategy::Park { park_us, .. }, Phase::Park) => {
            Duration::from_micros(u64::from(park_us))
        }
        _ => {
            waiter.idle();
            Duration::ZERO
        }
    }
}

/// Periodic counter logging.
struct Stats {
    last: Instant,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            last: Instant::now(),
        }
    }

    fn maybe_log<T: Transport>(&mut self, gateway_stage: &Gateway<T>, core: &CoreCounters) {
        if self.last.elapsed() < STATS_INTERVAL {
            return;
        }
        self.last = Instant::now();
        let gateway = &gateway_stage.counters;
        tracing::info!(
            connections = gateway_stage.connection_count(),
            logged_in = gateway_stage.logged_in_count(),
            inputs = core.inputs,
            events = core.events,
            logins = gateway.logins_accepted,
            messages_in = gateway.messages_in,
            sequenced_out = gateway.sequenced_out,
            backpressure_stalls = gateway.backpressure_stalls,
            protocol_errors = gateway.protocol_errors,
            "node stats"
        );
    }
}
