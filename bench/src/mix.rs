//! Runs a [`Flow`] into a fresh engine: once untimed per operation for throughput, once with the
//! cycle counter around every command for per-operation HDR histograms.

use std::time::Instant;

use hdrhistogram::Histogram;
use peregrine_engine::event::sink::CountSink;
use peregrine_engine::{Engine, Event, EventSink};

use crate::clock;
use crate::flow::{Flow, OpKind};
use crate::peer::{PeerEngine, PeerTotals};

/// Sums executions, to check that the engine and the peer did the same work.
#[derive(Default)]
struct ExecutionTotals(PeerTotals);

impl EventSink for ExecutionTotals {
    fn push(&mut self, event: Event) {
        if let Event::Executed(executed) = event {
            self.0.execution_count += 1;
            self.0.executed_qty += u64::from(executed.qty.0);
        }
    }
}

/// The engine's executions over the measured commands (untimed).
pub fn engine_totals(flow: &Flow) -> PeerTotals {
    let mut engine = fresh_engine(flow);
    let mut totals = ExecutionTotals::default();
    for (_, command) in &flow.measured {
        engine.apply(command, &mut totals);
    }
    totals.0
}

fn fresh_peer(flow: &Flow) -> PeerEngine {
    let mut peer = PeerEngine::new(flow.engine_config.instruments.len());
    for command in &flow.warmup {
        peer.apply(command);
    }
    peer.totals = PeerTotals::default();
    peer
}

/// The peer's throughput on the same measured list, and its execution totals.
pub fn peer_throughput(flow: &Flow) -> (f64, PeerTotals) {
    let mut peer = fresh_peer(flow);
    let start = Instant::now();
    for (_, command) in &flow.measured {
        peer.apply(command);
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    (flow.measured.len() as f64 / elapsed_s, peer.totals)
}

/// The peer's per-command latency over the measured list.
pub fn peer_latency(flow: &Flow, ns_per_tick: f64) -> Histogram<u64> {
    let mut all = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("bounds");
    let mut peer = fresh_peer(flow);
    for (_, command) in &flow.measured {
        let start = clock::ticks();
        peer.apply(command);
        let ns = (((clock::ticks() - start) as f64) * ns_per_tick) as u64;
        all.saturating_record(ns.max(1));
    }
    all
}

pub struct MixReport {
    pub command_count: usize,
    pub trading_count: usize,
    pub throughput_ops_per_s: f64,
    pub events_per_command: f64,
    /// Latency in ns per operation kind (indexed by `OpKind::index`), and for all commands.
    pub per_kind_ns: Vec<Histogram<u64>>,
    pub all_ns: Histogram<u64>,
    pub peer_throughput_ops_per_s: f64,
    pub peer_all_ns: Histogram<u64>,
    pub engine_totals: PeerTotals,
    pub peer_totals: PeerTotals,
}

fn fresh_engine(flow: &Flow) -> Engine {
    let mut engine = Engine::new(flow.engine_config.clone()).expect("flow config is valid");
    let mut sink = CountSink::default();
    for command in &flow.warmup {
        engine.apply(command, &mut sink);
    }
    engine
}

/// Throughput: the whole measured list through one engine, timed as a block.
pub fn throughput(flow: &Flow) -> (f64, u64) {
    let mut engine = fresh_engine(flow);
    let mut sink = CountSink::default();
    let start = Instant::now();
    for (_, command) in &flow.measured {
        engine.apply(command, &mut sink);
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    (flow.measured.len() as f64 / elapsed_s, sink.count)
}

/// Per-command latency: the counter read before and after each command.
pub fn latency(flow: &Flow, ns_per_tick: f64) -> (Vec<Histogram<u64>>, Histogram<u64>) {
    let new_histogram = || Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("bounds");
    let mut per_kind: Vec<Histogram<u64>> = OpKind::ALL.iter().map(|_| new_histogram()).collect();
    let mut all = new_histogram();
    let mut engine = fresh_engine(flow);
    let mut sink = CountSink::default();
    for (kind, command) in &flow.measured {
        let start = clock::ticks();
        engine.apply(command, &mut sink);
        let end = clock::ticks();
        let ns = (((end - start) as f64) * ns_per_tick) as u64;
        per_kind[kind.index()].saturating_record(ns.max(1));
        all.saturating_record(ns.max(1));
    }
    (per_kind, all)
}

pub fn run(flow: &Flow) -> MixReport {
    let ns_per_tick = clock::calibrate(std::time::Duration::from_millis(200));
    let (throughput_ops_per_s, event_count) = throughput(flow);
    let (per_kind_ns, all_ns) = latency(flow, ns_per_tick);
    let (peer_throughput_ops_per_s, peer_totals) = peer_throughput(flow);
    let peer_all_ns = peer_latency(flow, ns_per_tick);
    MixReport {
        peer_throughput_ops_per_s,
        peer_all_ns,
        engine_totals: engine_totals(flow),
        peer_totals,
        command_count: flow.measured.len(),
        trading_count: flow.trading_count,
        throughput_ops_per_s,
        events_per_command: event_count as f64 / flow.measured.len() as f64,
        per_kind_ns,
        all_ns,
    }
}
