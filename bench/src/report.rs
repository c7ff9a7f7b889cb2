//! Writes `REPORT.md` and its SVG plots from one suite run: the machine, the engine against its
//! peers (throughput, per-operation percentiles, equal-work check, ratios), the micro-benchmarks
//! beside theirs, end-to-end latency against offered load, and cost scaling.
//!
//! # Invariants
//! - Every figure in the page comes from this run; a part that did not run says so.
//! - Ratios are quoted only where the equal-work check passed.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::contest::Contest;
use crate::e2e::LoadPoint;
use crate::flow::{FlowConfig, OpKind};
use crate::machine::Machine;
use crate::micro::{FeedFigures, Scenario};
use crate::plots::{self, Series};
use crate::scaling::ScalePoint;

/// Everything one run measured.
pub struct SuiteResults {
    pub mode_name: &'static str,
    pub command_line: String,
    pub machine: Machine,
    pub elapsed_s: f64,
    pub flow_config: FlowConfig,
    pub contest: Contest,
    pub rings: Vec<Scenario>,
    pub rings_delivered_all: bool,
    pub journal: Option<Scenario>,
    pub feed: FeedFigures,
    /// `Err` holds why the end-to-end part did not run.
    pub load: Result<Vec<LoadPoint>, String>,
    pub scaling_resting: Vec<ScalePoint>,
    pub scaling_instruments: Vec<ScalePoint>,
}

fn percentiles_ns(histogram: &Histogram<u64>) -> [u64; 5] {
    [
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.value_at_quantile(0.9999),
        histogram.max(),
    ]
}

fn curve(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    histogram
        .iter_quantiles(2)
        .map(|value| {
            (
                value.quantile_iterated_to(),
                value.value_iterated_to() as f64,
            )
        })
        .collect()
}

fn machine_section(out: &mut String, results: &SuiteResults) {
    let m = &results.machine;
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} |", m.cpu_model);
    let _ = writeln!(out, "| cores | {} |", m.core_count);
    let _ = writeln!(out, "| memory | {} |", m.memory);
    let _ = writeln!(out, "| kernel | {} |", m.kernel);
    let _ = writeln!(out, "| governor | {} |", m.governor);
    let _ = writeln!(
        out,
        "| load average at start (1/5/15 min) | {} |",
        m.load_average
    );
    let _ = writeln!(
        out,
        "| load average at the end | {} |",
        crate::machine::load_average_now()
    );
    let _ = writeln!(out, "| git revision | {} |", m.git_revision);
    let _ = writeln!(out, "| date | {} |", m.date_utc);
    let _ = writeln!(
        out,
        "| suite | `{}` ({} mode, {:.0} s) |\n",
        results.command_line, results.mode_name, results.elapsed_s
    );
}

fn engine_section(out: &mut String, results: &SuiteResults, dir: &Path) -> plots::PlotResult {
    let contest = &results.contest;
    let flow = &results.flow_config;
    let _ = writeln!(out, "## Engine beside peer order books\n");
    let _ = writeln!(
        out,
        "The same generated stream for every book: {} instruments, about {} resting orders per \
         book, {} measured commands of exchange-core's mix (9 % new GTC, 3 % IOC, 6 % cancel, \
         82 % replace that moves the price). Events are counted and discarded. Throughput is \
         the median over interleaved rounds ({} rounds); latencies are per command, read with \
         the cycle counter (about 20 ns of it is the counter itself).\n",
        flow.instrument_count,
        flow.resting_per_book,
        contest.command_count,
        contest.contenders[0].throughput_rounds.len()
    );
    let _ = writeln!(
        out,
        "| book | throughput (M commands/s) | p50 ns | p99 ns | p99.9 ns | p99.99 ns | max ns | executions | shares |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for contender in &contest.contenders {
        let [p50, p99, p999, p9999, max] = percentiles_ns(&contender.all_ns);
        let _ = writeln!(
            out,
            "| {} | {:.2} | {p50} | {p99} | {p999} | {p9999} | {max} | {} | {} |",
            contender.name,
            contender.throughput_ops_per_s / 1e6,
            contender.totals.execution_count,
            contender.totals.executed_qty
        );
    }
    let same = contest.same_work();
    let _ = writeln!(
        out,
        "\n**Equal work:** {}\n",
        if same {
            "every book made the same executions (count and shares) as the engine."
        } else {
            "FAILED: the books made different executions; the ratios below are not comparable."
        }
    );
    let _ = writeln!(out, "Per operation, p50 / p99 / p99.9 ns:\n");
    let mut header = String::from("| book |");
    let mut rule = String::from("|---|");
    for kind in OpKind::ALL {
        let _ = write!(header, " {} |", kind.name());
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for contender in &contest.contenders {
        let mut row = format!("| {} |", contender.name);
        for kind in OpKind::ALL {
            let h = &contender.per_kind_ns[kind.index()];
            let _ = write!(
                row,
                " {} / {} / {} |",
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999)
            );
        }
        let _ = writeln!(out, "{row}");
    }
    let curves: Vec<Series> = contest
        .contenders
        .iter()
        .map(|c| Series {
            name: c.name.to_string(),
            points: curve(&c.all_ns),
        })
        .collect();
    plots::percentile_curves(
        &dir.join("engine_percentiles.svg"),
        "Per-command latency, engine and peers (same stream)",
        "ns",
        &curves,
    )?;
    let _ = writeln!(
        out,
        "\n![per-command latency percentile curves](engine_percentiles.svg)\n"
    );
    Ok(())
}

/// (label, advantage) rows of the ratio plot and table: engine vs every peer, then micro.
fn ratios(results: &SuiteResults) -> Vec<(String, f64)> {
    let mut rows = Vec::new();
    let contest = &results.contest;
    if contest.same_work() {
        let engine = &contest.contenders[0];
        for peer in &contest.contenders[1..] {
            rows.push((
                format!("engine throughput vs {}", peer.name),
                engine.throughput_ops_per_s / peer.throughput_ops_per_s.max(1e-9),
            ));
            rows.push((
                format!("engine p50 vs {}", peer.name),
                peer.all_ns.value_at_quantile(0.5) as f64
                    / engine.all_ns.value_at_quantile(0.5).max(1) as f64,
            ));
            rows.push((
                format!("engine p99.9 vs {}", peer.name),
                peer.all_ns.value_at_quantile(0.999) as f64
                    / engine.all_ns.value_at_quantile(0.999).max(1) as f64,
            ));
        }
    }
    let feed_ok = results.feed.same_bytes;
    let micro = results
        .rings
        .iter()
        .filter(|_| results.rings_delivered_all)
        .chain(results.journal.iter())
        .chain(std::iter::once(&results.feed.scenario).filter(|_| feed_ok));
    for scenario in micro {
        for (index, (name, _)) in scenario.contenders.iter().enumerate().skip(1) {
            rows.push((
                format!("{} vs {name}", scenario.name),
                scenario.advantage(index),
            ));
        }
    }
    rows
}

fn ratio_section(out: &mut String, results: &SuiteResults, dir: &Path) -> plots::PlotResult {
    let rows = ratios(results);
    let _ = writeln!(out, "## Ratios to peers\n");
    let _ = writeln!(
        out,
        "How many times better Peregrine is (above 1: Peregrine is faster or has the lower \
         latency), from the tables of this page, measured on {} with {} cores.\n",
        results.machine.cpu_model, results.machine.core_count
    );
    let _ = writeln!(out, "| figure | ratio |\n|---|---|");
    for (label, value) in &rows {
        let _ = writeln!(out, "| {label} | {value:.2}× |");
    }
    plots::ratio_bars(
        &dir.join("ratios.svg"),
        "Peregrine vs peers (same run)",
        &rows,
    )?;
    let _ = writeln!(out, "\n![ratios to peers](ratios.svg)\n");
    Ok(())
}

fn micro_section(out: &mut String, results: &SuiteResults) {
    let _ = writeln!(out, "## Micro-benchmarks beside their peers\n");
    let _ = writeln!(
        out,
        "Medians over interleaved rounds. Rings move 64-byte records through a 1,024-slot ring \
         (two-thread figures on a shared 2-core VM swing widely between runs). The journal \
         appends in the page cache (no `msync` by anyone). The feed encoder's output is \
         compared byte for byte with the naive encoder's on {} messages: {}.\n",
        results.feed.message_count,
        if results.feed.same_bytes {
            "identical"
        } else {
            "DIFFERENT (ratio withheld)"
        }
    );
    if !results.rings_delivered_all {
        let _ = writeln!(
            out,
            "**Rings: a contender lost records; ratios withheld.**\n"
        );
    }
    let scenarios = results
        .rings
        .iter()
        .chain(results.journal.iter())
        .chain(std::iter::once(&results.feed.scenario));
    for scenario in scenarios {
        let _ = writeln!(out, "**{}** ({})\n", scenario.name, scenario.unit);
        let _ = writeln!(
            out,
            "| contender | {} | Peregrine vs this peer |\n|---|---|---|",
            scenario.unit
        );
        for (index, (name, value)) in scenario.contenders.iter().enumerate() {
            let verdict = if index == 0 {
                "—".to_string()
            } else {
                let advantage = scenario.advantage(index);
                let word = if advantage >= 1.0 { "better" } else { "worse" };
                format!("{advantage:.2}× ({word})")
            };
            let _ = writeln!(out, "| {name} | {value:.2} | {verdict} |");
        }
        let _ = writeln!(out);
    }
    if results.journal.is_none() {
        let _ = writeln!(
            out,
            "The journal scenario did not run (no writable temp dir).\n"
        );
    }
}

fn load_series(points: &[LoadPoint], summary: &str) -> Vec<Series> {
    let mut series = Vec::new();
    let mut modes: Vec<&str> = points.iter().map(|p| p.mode).collect();
    modes.dedup();
    for mode in modes {
        for (label, pick) in [("p50", 0usize), ("p99", 1), ("p99.9", 2)] {
            let points = points
                .iter()
                .filter(|p| p.mode == mode)
                .filter_map(|p| {
                    let s = p
                        .summaries
                        .iter()
                        .find(|s| s.name == summary && s.count > 0)?;
                    let value = [s.p50_us, s.p99_us, s.p999_us][pick];
                    Some((p.offered_orders_per_s as f64, value))
                })
                .collect();
            series.push(Series {
                name: format!("{mode} {label}"),
                points,
            });
        }
    }
    series
}

fn load_section(out: &mut String, results: &SuiteResults, dir: &Path) -> plots::PlotResult {
    let _ = writeln!(out, "## End to end: the node under open-loop load\n");
    let points = match &results.load {
        Ok(points) => points,
        Err(reason) => {
            let _ = writeln!(out, "Did not run: {reason}\n");
            return Ok(());
        }
    };
    let _ = writeln!(
        out,
        "`peregrine run` (a fresh node per point, journal in a temp dir) and `peregrine load` as \
         separate processes over loopback; latency from each order's intended send time. The \
         two node modes are measured side by side. Latencies in µs.\n"
    );
    let _ = writeln!(
        out,
        "| mode | offered orders/s | achieved | latency | p50 | p99 | p99.9 | max | count |\n|---|---|---|---|---|---|---|---|---|"
    );
    for point in points {
        for s in &point.summaries {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                point.mode,
                point.offered_orders_per_s,
                point.achieved_orders_per_s,
                s.name.replace('_', "-"),
                s.p50_us,
                s.p99_us,
                s.p999_us,
                s.max_us,
                s.count
            );
        }
    }
    let mut names: Vec<&str> = points
        .iter()
        .flat_map(|p| p.summaries.iter().map(|s| s.name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let file = format!("load_{name}.svg");
        let title = format!("{} latency vs offered load", name.replace('_', "-"));
        plots::latency_vs_load(&dir.join(&file), &title, &load_series(points, name))?;
        let _ = writeln!(out, "\n![{title}]({file})");
    }
    let curves: Vec<Series> = points
        .iter()
        .map(|p| Series {
            name: format!("{} {} orders/s", p.mode, p.offered_orders_per_s),
            points: p.curve.clone(),
        })
        .collect();
    plots::percentile_curves(
        &dir.join("load_percentiles.svg"),
        "Order-to-ack latency percentiles per offered load",
        "µs",
        &curves,
    )?;
    let _ = writeln!(
        out,
        "\n![order-to-ack percentile curves](load_percentiles.svg)\n"
    );
    Ok(())
}

fn scaling_table(out: &mut String, points: &[ScalePoint]) {
    let _ = writeln!(
        out,
        "| instruments | resting orders | p50 ns | p99 ns | p99.9 ns | M commands/s | arena MiB | RSS growth MiB |\n|---|---|---|---|---|---|---|---|"
    );
    for p in points {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.2} | {:.1} | {:.1} |",
            p.instrument_count,
            p.resting_order_count,
            p.latency_ns_p50,
            p.latency_ns_p99,
            p.latency_ns_p999,
            p.throughput_ops_per_s / 1e6,
            p.arena_bytes as f64 / (1 << 20) as f64,
            p.rss_growth_bytes as f64 / (1 << 20) as f64
        );
    }
}

/// Picks one latency figure of a scaling point.
type PickNs = fn(&ScalePoint) -> u64;

fn scaling_section(out: &mut String, results: &SuiteResults, dir: &Path) -> plots::PlotResult {
    let _ = writeln!(out, "## Cost scaling\n");
    let _ = writeln!(
        out,
        "The engine alone on the same mix. Arena = the order and level pools (64 B per slot, \
         twice the resting target plus 1,024) and the tick ladders (a `u32` and a bit per tick \
         of a ±50 % band, per side); RSS growth = resident memory gained while the engine was \
         built and its books filled.\n\n**By resting orders** (10 instruments):\n"
    );
    scaling_table(out, &results.scaling_resting);
    let _ = writeln!(out, "\n**By instruments** (100 resting orders each):\n");
    scaling_table(out, &results.scaling_instruments);
    let series = |points: &[ScalePoint], x: fn(&ScalePoint) -> f64| -> Vec<Series> {
        let pick: [(&str, PickNs); 3] = [
            ("p50", |p| p.latency_ns_p50),
            ("p99", |p| p.latency_ns_p99),
            ("p99.9", |p| p.latency_ns_p999),
        ];
        pick.iter()
            .map(|(name, y)| Series {
                name: name.to_string(),
                points: points.iter().map(|p| (x(p), y(p) as f64)).collect(),
            })
            .collect()
    };
    plots::log_log(
        &dir.join("scaling_resting.svg"),
        "Per-command latency vs resting orders (10 instruments)",
        "resting orders",
        "latency (ns)",
        &series(&results.scaling_resting, |p| p.resting_order_count as f64),
    )?;
    plots::log_log(
        &dir.join("scaling_instruments.svg"),
        "Per-command latency vs instruments (100 orders each)",
        "instruments",
        "latency (ns)",
        &series(&results.scaling_instruments, |p| p.instrument_count as f64),
    )?;
    let _ = writeln!(
        out,
        "\n![latency vs resting orders](scaling_resting.svg)\n\n![latency vs instruments](scaling_instruments.svg)\n"
    );
    Ok(())
}

/// Writes `REPORT.md` and the SVGs into `dir` (created if missing).
pub fn write(results: &SuiteResults, dir: &Path) -> plots::PlotResult {
    std::fs::create_dir_all(dir)?;
    let mut out = String::new();
    let _ = writeln!(out, "# Peregrine performance report\n");
    let _ = writeln!(
        out,
        "Generated by `bench-suite` (`bench/run.sh`); every figure below was measured in one \
         run, beside its peer, on the machine described. Medians are medians of interleaved \
         rounds. Nothing here is a guarantee for other hardware: re-run the suite there.\n"
    );
    machine_section(&mut out, results);
    ratio_section(&mut out, results, dir)?;
    engine_section(&mut out, results, dir)?;
    micro_section(&mut out, results);
    load_section(&mut out, results, dir)?;
    scaling_section(&mut out, results, dir)?;
    std::fs::write(dir.join("REPORT.md"), out)?;
    Ok(())
}
