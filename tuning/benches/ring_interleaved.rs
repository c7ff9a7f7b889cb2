//! The ring contenders of `ring.rs`, alternated round by round so that load from other
//! processes on a shared machine falls on all of them alike; prints medians and paired ratios.
//!
//! Method: each scenario runs `ROUNDS` rounds after one untimed warm-up round; a round times
//! every contender once, in an order rotated each round. A contender's figure is the median of
//! its rounds (with the range), and its ratio to ours is the median over rounds of the ratio
//! within each round, so a slow round for everyone cancels out. The best round is printed too:
//! on a loaded machine it is the closest to what the ring costs with both cores to itself.
//!
//! Run: `cargo bench -p peregrine-tuning --bench ring_interleaved`.

mod peers;

use std::time::Duration;

use peers::{Contender, Record, Record64};

/// Timed rounds per scenario. Rounds are short (well under a scheduler time slice when
/// uncontended) and many, so that some run while both threads have a core to themselves.
const ROUNDS: usize = 41;
/// Records moved per contender per round in the throughput scenarios.
const THROUGHPUT_RECORDS: u64 = 50_000;
/// Ping-pongs per contender per round in the round-trip scenarios.
const ROUND_TRIPS: u64 = 2_000;

/// What a scenario's figures mean.
#[derive(Clone, Copy)]
enum Unit {
    /// Millions of records per second; higher is better.
    MegaRecordsPerSecond,
    /// Nanoseconds per round trip (two hops); lower is better.
    NanosecondsPerRoundTrip,
}

impl Unit {
    /// The figure for `count` records or round trips taking `elapsed`.
    fn figure(self, count: u64, elapsed: Duration) -> f64 {
        let elapsed_ns = elapsed.as_nanos().max(1) as f64;
        match self {
            Unit::MegaRecordsPerSecond => count as f64 / elapsed_ns * 1e3,
            Unit::NanosecondsPerRoundTrip => elapsed_ns / count as f64,
        }
    }

    /// How many times better `ours` is than `peer` (above 1: ours is better).
    fn advantage(self, ours: f64, peer: f64) -> f64 {
        match self {
            Unit::MegaRecordsPerSecond => ours / peer,
            Unit::NanosecondsPerRoundTrip => peer / ours,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Unit::MegaRecordsPerSecond => "Mrecords/s",
            Unit::NanosecondsPerRoundTrip => "ns/round trip",
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs one scenario and prints its table. The first contender is ours.
fn run(name: &str, unit: Unit, count: u64, contenders: &[Contender]) {
    for contender in contenders {
        (contender.run)(count);
    }
    let mut figures = vec![Vec::with_capacity(ROUNDS); contenders.len()];
    for round in 0..ROUNDS {
        for turn in 0..contenders.len() {
            let index = (round + turn) % contenders.len();
            let elapsed = (contenders[index].run)(count);
            figures[index].push(unit.figure(count, elapsed));
        }
    }
    println!(
        "{name} ({}: median, best, [min..max] of {ROUNDS} rounds)",
        unit.label()
    );
    for (index, contender) in contenders.iter().enumerate() {
        let mut advantages: Vec<f64> = (0..ROUNDS)
            .map(|round| unit.advantage(figures[0][round], figures[index][round]))
            .collect();
        let advantage = median(&mut advantages);
        let mut values = figures[index].clone();
        let middle = median(&mut values);
        let (low, high) = (values[0], values[ROUNDS - 1]);
        let best = match unit {
            Unit::MegaRecordsPerSecond => high,
            Unit::NanosecondsPerRoundTrip => low,
        };
        let versus = if index == 0 {
            String::new()
        } else {
            format!("  peregrine advantage x{advantage:.2}")
        };
        println!(
            "  {:<10} {middle:>9.1} best {best:>9.1} [{low:.1}..{high:.1}]{versus}",
            contender.ring
        );
    }
}

fn scenarios<R: Record>() {
    let name = |group: &str| format!("{group}/{}", R::NAME);
    let throughput = Unit::MegaRecordsPerSecond;
    let round_trip = Unit::NanosecondsPerRoundTrip;
    run(
        &name("same_thread"),
        throughput,
        THROUGHPUT_RECORDS,
        &peers::same_thread_single::<R>(),
    );
    run(
        &name("throughput_single"),
        throughput,
        THROUGHPUT_RECORDS,
        &peers::throughput_single::<R>(),
    );
    run(
        &name("throughput_batch"),
        throughput,
        THROUGHPUT_RECORDS,
        &peers::throughput_batch::<R>(),
    );
    run(
        &name("round_trip"),
        round_trip,
        ROUND_TRIPS,
        &peers::round_trip::<R>(),
    );
}

fn main() {
    scenarios::<u64>();
    scenarios::<Record64>();
}
