//! The engine and three peer books on one generated flow: the textbook `BTreeMap` book
//! ([`crate::peer`]), `lobster` and `orderbook-rs` ([`crate::peers`]).
//!
//! Method: `rounds` rounds; in each, every contender (in an order rotated per round, so load
//! from other processes falls on all alike) runs the measured commands twice from a freshly
//! warmed book: once timed as a block (throughput), once with the cycle counter around each
//! command (per-operation latency, recorded into one HDR histogram per contender over all
//! rounds). A contender's throughput is the median of its rounds.
//!
//! # Invariants
//! - Every contender sees the same warm-up and the same measured commands, in order.
//! - `ContenderReport::totals` comes from a complete pass; the harness compares them
//!   ([`Contest::same_work`]) and reports a mismatch rather than a ratio.

use std::time::Instant;

use hdrhistogram::Histogram;
use peregrine_engine::{Engine, Event, EventSink};

use crate::clock;
use crate::flow::{Flow, OpKind};
use crate::peer::{PeerEngine, PeerTotals};
use crate::peers::{LobsterPeer, OrderbookRsPeer};
use crate::stream::{BookOp, PeerFlow};

/// Latency histogram bounds: 1 ns to 10 s, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("static bounds are valid")
}

/// What one contender did on the flow.
pub struct ContenderReport {
    pub name: &'static str,
    /// Median over rounds, commands per second.
    pub throughput_ops_per_s: f64,
    pub throughput_rounds: Vec<f64>,
    pub all_ns: Histogram<u64>,
    /// Indexed by `OpKind::index`.
    pub per_kind_ns: Vec<Histogram<u64>>,
    pub totals: PeerTotals,
}

pub struct Contest {
    pub command_count: usize,
    /// The engine first, then the peers.
    pub contenders: Vec<ContenderReport>,
}

impl Contest {
    /// Whether every peer made the engine's executions (count and shares).
    pub fn same_work(&self) -> bool {
        let engine = self.contenders[0].totals;
        self.contenders.iter().all(|c| c.totals == engine)
    }
}

/// Counts executions, to compare with the peers' totals.
#[derive(Default)]
struct ExecutionSink(PeerTotals);

impl EventSink for ExecutionSink {
    fn push(&mut self, event: Event) {
        if let Event::Executed(executed) = event {
            self.0.execution_count += 1;
            self.0.executed_qty += u64::from(executed.qty.0);
        }
    }
}

/// A contender: builds a warmed-up state, applies one measured item, reports totals.
trait Contender {
    type State;
    type Item;
    fn name(&self) -> &'static str;
    fn fresh(&self) -> Self::State;
    fn apply(state: &mut Self::State, item: &Self::Item);
    fn totals(state: &Self::State) -> PeerTotals;
}

struct EngineContender<'a>(&'a Flow);

impl Contender for EngineContender<'_> {
    type State = (Engine, ExecutionSink);
    type Item = peregrine_engine::Command;
    fn name(&self) -> &'static str {
        "Peregrine engine"
    }
    fn fresh(&self) -> Self::State {
        let mut engine = Engine::new(self.0.engine_config.clone()).expect("flow config is valid");
        let mut sink = ExecutionSink::default();
        for command in &self.0.warmup {
            engine.apply(command, &mut sink);
        }
        (engine, ExecutionSink::default())
    }
    fn apply(state: &mut Self::State, item: &Self::Item) {
        state.0.apply(item, &mut state.1);
    }
    fn totals(state: &Self::State) -> PeerTotals {
        state.1 .0
    }
}

struct TextbookContender<'a>(&'a Flow);

impl Contender for TextbookContender<'_> {
    type State = PeerEngine;
    type Item = peregrine_engine::Command;
    fn name(&self) -> &'static str {
        "textbook BTreeMap book"
    }
    fn fresh(&self) -> Self::State {
        let mut peer = PeerEngine::new(self.0.engine_config.instruments.len());
        for command in &self.0.warmup {
            peer.apply(command);
        }
        peer.totals = PeerTotals::default();
        peer
    }
    fn apply(state: &mut Self::State, item: &Self::Item) {
        state.apply(item);
    }
    fn totals(state: &Self::State) -> PeerTotals {
        state.totals
    }
}

struct LobsterContender<'a>(&'a PeerFlow);

impl Contender for LobsterContender<'_> {
    type State = LobsterPeer;
    type Item = BookOp;
    fn name(&self) -> &'static str {
        "lobster 0.7"
    }
    fn fresh(&self) -> Self::State {
        let mut peer = LobsterPeer::new(self.0.instrument_count, self.0.orders_per_book_max);
        for op in &self.0.warmup {
            peer.apply(op);
        }
        peer.totals = PeerTotals::default();
        peer
    }
    fn apply(state: &mut Self::State, item: &Self::Item) {
        state.apply(item);
    }
    fn totals(state: &Self::State) -> PeerTotals {
        state.totals
    }
}

struct OrderbookRsContender<'a>(&'a PeerFlow);

impl Contender for OrderbookRsContender<'_> {
    type State = (OrderbookRsPeer, PeerTotals);
    type Item = BookOp;
    fn name(&self) -> &'static str {
        "orderbook-rs 0.15"
    }
    fn fresh(&self) -> Self::State {
        let mut peer = OrderbookRsPeer::new(self.0.instrument_count);
        for op in &self.0.warmup {
            peer.apply(op);
        }
        let baseline = peer.totals();
        (peer, baseline)
    }
    fn apply(state: &mut Self::State, item: &Self::Item) {
        state.0.apply(item);
    }
    fn totals(state: &Self::State) -> PeerTotals {
        let now = state.0.totals();
        PeerTotals {
            execution_count: now.execution_count - state.1.execution_count,
            executed_qty: now.executed_qty - state.1.executed_qty,
        }
    }
}

/// Accumulates one contender's figures over rounds.
struct Tally {
    name: &'static str,
    throughput_rounds: Vec<f64>,
    all_ns: Histogram<u64>,
    per_kind_ns: Vec<Histogram<u64>>,
    totals: PeerTotals,
}

fn run_round<C: Contender>(
    contender: &C,
    measured: &[(OpKind, C::Item)],
    ns_per_tick: f64,
    tally: &mut Tally,
) {
    let mut state = contender.fresh();
    let start = Instant::now();
    for (_, item) in measured {
        C::apply(&mut state, item);
    }
    let elapsed_s = start.elapsed().as_secs_f64().max(1e-9);
    tally
        .throughput_rounds
        .push(measured.len() as f64 / elapsed_s);
    tally.totals = C::totals(&state);
    drop(state);
    let mut state = contender.fresh();
    for (kind, item) in measured {
        let start_ticks = clock::ticks();
        C::apply(&mut state, item);
        let spent_ticks = clock::ticks().saturating_sub(start_ticks);
        let ns = ((spent_ticks as f64) * ns_per_tick) as u64;
        tally.per_kind_ns[kind.index()].saturating_record(ns.max(1));
        tally.all_ns.saturating_record(ns.max(1));
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

/// Runs the contest: `rounds` ≥ 1 interleaved rounds of every contender.
pub fn run(flow: &Flow, peer_flow: &PeerFlow, rounds: usize, ns_per_tick: f64) -> Contest {
    assert!(rounds >= 1);
    assert_eq!(flow.measured.len(), peer_flow.measured.len());
    let names = [
        EngineContender(flow).name(),
        TextbookContender(flow).name(),
        LobsterContender(peer_flow).name(),
        OrderbookRsContender(peer_flow).name(),
    ];
    let mut tallies: Vec<Tally> = names
        .iter()
        .map(|name| Tally {
            name,
            throughput_rounds: Vec::with_capacity(rounds),
            all_ns: latency_histogram(),
            per_kind_ns: OpKind::ALL.iter().map(|_| latency_histogram()).collect(),
            totals: PeerTotals::default(),
        })
        .collect();
    for round in 0..rounds {
        for turn in 0..tallies.len() {
            let index = (turn + round) % tallies.len();
            let tally = &mut tallies[index];
            match index {
                0 => run_round(&EngineContender(flow), &flow.measured, ns_per_tick, tally),
                1 => run_round(&TextbookContender(flow), &flow.measured, ns_per_tick, tally),
                2 => run_round(
                    &LobsterContender(peer_flow),
                    &peer_flow.measured,
                    ns_per_tick,
                    tally,
                ),
                _ => run_round(
                    &OrderbookRsContender(peer_flow),
                    &peer_flow.measured,
                    ns_per_tick,
                    tally,
                ),
            }
        }
    }
    let contenders = tallies
        .into_iter()
        .map(|tally| ContenderReport {
            name: tally.name,
            throughput_ops_per_s: median(&tally.throughput_rounds),
            throughput_rounds: tally.throughput_rounds,
            all_ns: tally.all_ns,
            per_kind_ns: tally.per_kind_ns,
            totals: tally.totals,
        })
        .collect();
    Contest {
        command_count: flow.measured.len(),
        contenders,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{generate, FlowConfig};
    use crate::stream::translate;

    /// Equal work: all four books make the same executions on the same stream, and that stream
    /// does trade (so the check is not vacuous).
    #[test]
    fn every_peer_makes_the_engines_executions() {
        let config = FlowConfig {
            instrument_count: 4,
            resting_per_book: 200,
            measured_count: 20_000,
            ..FlowConfig::default()
        };
        let flow = generate(&config);
        let peer_flow = translate(&flow, config.resting_per_book).expect("translates");
        let contest = run(&flow, &peer_flow, 1, 1.0);
        assert_eq!(contest.contenders.len(), 4);
        let engine = contest.contenders[0].totals;
        assert!(engine.execution_count > 100, "the flow trades: {engine:?}");
        for contender in &contest.contenders {
            assert_eq!(contender.totals, engine, "{}", contender.name);
            assert_eq!(contender.all_ns.len(), 20_000, "{}", contender.name);
        }
        assert!(contest.same_work());
    }
}
