//! Cost scaling: per-command latency of the bench mix and the engine's memory as the number of
//! resting orders grows (10 instruments, 1k → 10M orders in all) and as the number of
//! instruments grows (1 → 10k, 100 resting orders each).
//!
//! Memory is measured two ways: the arena bytes the configuration reserves (orders and levels,
//! one 64-byte cache line each, plus every instrument's two tick ladders), and the growth of the
//! process's resident set (`VmRSS`) from before the engine is built to after its book is warmed
//! up (large buffers are fresh mappings, so the delta is the engine's own resident memory).
//!
//! # Invariants
//! - Each point builds its own flow and engine and drops both before the next point.

use hdrhistogram::Histogram;
use peregrine_engine::event::sink::CountSink;
use peregrine_engine::Engine;

use crate::clock;
use crate::contest::latency_histogram;
use crate::flow::{generate, FlowConfig};

/// One scaling point.
#[derive(Clone, Debug)]
pub struct ScalePoint {
    pub instrument_count: usize,
    pub resting_order_count: u64,
    pub latency_ns_p50: u64,
    pub latency_ns_p99: u64,
    pub latency_ns_p999: u64,
    pub throughput_ops_per_s: f64,
    /// Orders and levels (64 B each) plus tick ladders, from the configuration.
    pub arena_bytes: u64,
    /// Growth of the resident set while the engine was built and warmed up.
    pub rss_growth_bytes: u64,
}

/// The resident set of this process, bytes (0 where `/proc` is missing).
pub fn rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Makes every allocation of 128 KiB or more a fresh mapping. glibc otherwise raises its mmap
/// threshold after large frees and serves later large buffers from reused heap, which hides
/// them from the RSS growth of the next point.
fn large_allocations_map_fresh() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets an allocator tunable; no pointer or memory is involved.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Bytes the engine's configuration reserves for orders, levels and ladders.
fn arena_bytes(config: &peregrine_engine::EngineConfig) -> u64 {
    let orders = u64::from(config.order_capacity) * 64;
    let levels = u64::from(config.level_capacity) * 64;
    let ladders: u64 = config
        .instruments
        .iter()
        .map(|instrument| {
            let steps = (instrument.max_price.0 - instrument.min_price.0) / instrument.tick_size.0;
            let slots = u64::try_from(steps).unwrap_or(0) + 1;
            // Two sides; a u32 per slot plus a bit per slot (and a summary bit per word).
            2 * (slots * 4 + slots.div_ceil(8))
        })
        .sum();
    orders + levels + ladders
}

/// Measures one point: `instrument_count` books of `resting_per_book` orders, then
/// `measured_count` commands of the mix with the cycle counter around each.
pub fn measure_point(
    instrument_count: usize,
    resting_per_book: usize,
    measured_count: usize,
    ns_per_tick: f64,
) -> ScalePoint {
    let config = FlowConfig {
        instrument_count,
        resting_per_book,
        measured_count,
        ..FlowConfig::default()
    };
    large_allocations_map_fresh();
    let flow = generate(&config);
    let rss_before = rss_bytes();
    let mut engine = Engine::new(flow.engine_config.clone()).expect("flow config is valid");
    let mut sink = CountSink::default();
    for command in &flow.warmup {
        engine.apply(command, &mut sink);
    }
    let rss_growth_bytes = rss_bytes().saturating_sub(rss_before);
    let resting_order_count = u64::from(engine.resting_order_count());
    let mut histogram: Histogram<u64> = latency_histogram();
    let start = std::time::Instant::now();
    for (_, command) in &flow.measured {
        let start_ticks = clock::ticks();
        engine.apply(command, &mut sink);
        let ns = (clock::ticks().saturating_sub(start_ticks) as f64 * ns_per_tick) as u64;
        histogram.saturating_record(ns.max(1));
    }
    let elapsed_s = start.elapsed().as_secs_f64().max(1e-9);
    ScalePoint {
        instrument_count,
        resting_order_count,
        latency_ns_p50: histogram.value_at_quantile(0.5),
        latency_ns_p99: histogram.value_at_quantile(0.99),
        latency_ns_p999: histogram.value_at_quantile(0.999),
        throughput_ops_per_s: flow.measured.len() as f64 / elapsed_s,
        arena_bytes: arena_bytes(&flow.engine_config),
        rss_growth_bytes,
    }
}

/// Resting-order scaling: 10 instruments, `totals` resting orders in all at each point.
pub fn by_resting(totals: &[usize], measured_count: usize, ns_per_tick: f64) -> Vec<ScalePoint> {
    totals
        .iter()
        .map(|&total| {
            eprintln!("scaling: {total} resting orders");
            measure_point(10, (total / 10).max(1), measured_count, ns_per_tick)
        })
        .collect()
}

/// Instrument scaling: 100 resting orders per book at each point.
pub fn by_instruments(
    counts: &[usize],
    measured_count: usize,
    ns_per_tick: f64,
) -> Vec<ScalePoint> {
    counts
        .iter()
        .map(|&count| {
            eprintln!("scaling: {count} instruments");
            measure_point(count, 100, measured_count, ns_per_tick)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_rests_what_it_was_asked_to_and_counts_its_memory() {
        let point = measure_point(3, 40, 500, 1.0);
        assert_eq!(point.instrument_count, 3);
        // The mix keeps each book within ±10 % of its target.
        assert!(
            (100..=140).contains(&point.resting_order_count),
            "{point:?}"
        );
        assert!(point.arena_bytes >= (3 * 40 * 2) * 128, "{point:?}");
        assert!(point.latency_ns_p50 <= point.latency_ns_p999);
    }
}
