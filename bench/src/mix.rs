//! Runs a [`Flow`] into a fresh engine: once untimed per operation for throughput, once with the
//! cycle counter around every command for per-operation HDR histograms.

use std::time::Instant;

use hdrhistogram::Histogram;
use peregrine_engine::event::sink::CountSink;
use peregrine_engine::Engine;

use crate::clock;
use crate::flow::{Flow, OpKind};

pub struct MixReport {
    pub command_count: usize,
    pub trading_count: usize,
    pub throughput_ops_per_s: f64,
    pub events_per_command: f64,
    /// Latency in ns per operation kind (indexed by `OpKind::index`), and for all commands.
    pub per_kind_ns: Vec<Histogram<u64>>,
    pub all_ns: Histogram<u64>,
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
    MixReport {
        command_count: flow.measured.len(),
        trading_count: flow.trading_count,
        throughput_ops_per_s,
        events_per_command: event_count as f64 / flow.measured.len() as f64,
        per_kind_ns,
        all_ns,
    }
}
