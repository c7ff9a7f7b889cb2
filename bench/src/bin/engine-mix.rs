//! `engine-mix`: the engine on exchange-core's realistic mix. Prints throughput and per-operation
//! latency percentiles (HDR). Usage: `engine-mix [instruments] [resting_per_book] [commands]`.

use peregrine_bench::flow::{self, FlowConfig, OpKind};
use peregrine_bench::mix;

fn arg(position: usize, default: usize) -> usize {
    std::env::args()
        .nth(position)
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let config = FlowConfig {
        instrument_count: arg(1, 10),
        resting_per_book: arg(2, 1_000),
        measured_count: arg(3, 2_000_000),
        ..FlowConfig::default()
    };
    eprintln!(
        "generating {} commands over {} instruments ...",
        config.measured_count, config.instrument_count
    );
    let flow = flow::generate(&config);
    let report = mix::run(&flow);
    println!(
        "engine mix: {} instruments, ~{} resting orders per book, {} commands",
        config.instrument_count, config.resting_per_book, report.command_count
    );
    println!(
        "  commands that traded: {:.2} %, events per command: {:.2}",
        100.0 * report.trading_count as f64 / report.command_count as f64,
        report.events_per_command
    );
    println!(
        "  throughput: {:.2} M commands/s (one core, events counted and discarded)",
        report.throughput_ops_per_s / 1e6
    );
    println!(
        "  {:<14} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "latency ns", "count", "p50", "p99", "p99.9", "p99.99", "max"
    );
    let rows = OpKind::ALL
        .iter()
        .map(|kind| (kind.name(), &report.per_kind_ns[kind.index()]));
    for (name, histogram) in rows.chain(std::iter::once(("all", &report.all_ns))) {
        println!(
            "  {:<14} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9}",
            name,
            histogram.len(),
            histogram.value_at_quantile(0.5),
            histogram.value_at_quantile(0.99),
            histogram.value_at_quantile(0.999),
            histogram.value_at_quantile(0.9999),
            histogram.max()
        );
    }
    let histogram = &report.peer_all_ns;
    println!(
        "  {:<14} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "peer: all",
        histogram.len(),
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.value_at_quantile(0.9999),
        histogram.max()
    );
    println!(
        "  peer (BTreeMap levels, VecDeque queues, std HashMap ids): {:.2} M commands/s; engine/peer throughput ratio {:.2}x, p50 ratio {:.2}x",
        report.peer_throughput_ops_per_s / 1e6,
        report.throughput_ops_per_s / report.peer_throughput_ops_per_s,
        report.peer_all_ns.value_at_quantile(0.5) as f64 / report.all_ns.value_at_quantile(0.5).max(1) as f64
    );
    println!(
        "  same work: engine {} executions / {} shares, peer {} executions / {} shares",
        report.engine_totals.execution_count,
        report.engine_totals.executed_qty,
        report.peer_totals.execution_count,
        report.peer_totals.executed_qty
    );
    if report.engine_totals != report.peer_totals {
        eprintln!("engine-mix: the peer and the engine did different work on the same stream");
        std::process::exit(1);
    }
}
