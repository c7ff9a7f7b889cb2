//! `bench-suite`: every Peregrine benchmark beside its peer, in one run, and the report.
//!
//! Usage: `bench-suite [--smoke | --short | --full] [--out DIR] [--peregrine PATH]`
//! (`bench/run.sh` builds what it needs and calls it). Modes:
//! - `--smoke`: every part with tiny sizes (well under a minute); asserts no timing, but fails
//!   (exit 1) when a part breaks: an equal-work check, a ring losing records, the feed bytes
//!   differing from the naive encoder's, or the node/load processes failing.
//! - `--short` (default): a few minutes on 2 cores; `--full`: the sizes of the README figures.
//!
//! The report goes to `--out` (default `docs/bench`): `REPORT.md` plus SVG plots.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use peregrine_bench::contest;
use peregrine_bench::e2e::{self, LoadPlan};
use peregrine_bench::flow::{generate, FlowConfig};
use peregrine_bench::report::{self, SuiteResults};
use peregrine_bench::{clock, machine, micro, scaling, stream};

/// Sizes of one mode.
struct Sizes {
    name: &'static str,
    flow: FlowConfig,
    contest_rounds: usize,
    ring_records: u64,
    micro_rounds: usize,
    journal_records: u64,
    load: LoadPlan,
    scaling_resting_totals: Vec<usize>,
    scaling_instrument_counts: Vec<usize>,
    scaling_measured_count: usize,
}

fn both_modes() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("threaded", vec![]),
        ("single-thread", vec!["--single-thread"]),
    ]
}

fn sizes(mode: &str) -> Option<Sizes> {
    let flow = |instrument_count, resting_per_book, measured_count| FlowConfig {
        instrument_count,
        resting_per_book,
        measured_count,
        ..FlowConfig::default()
    };
    match mode {
        "--smoke" => Some(Sizes {
            name: "smoke",
            flow: flow(2, 50, 3_000),
            contest_rounds: 1,
            ring_records: 4_096,
            micro_rounds: 1,
            journal_records: 2_000,
            load: LoadPlan {
                rates_per_s: vec![500],
                duration_s: 0.5,
                warmup_s: 0.2,
                sessions: 2,
                modes: vec![("threaded", vec![])],
            },
            scaling_resting_totals: vec![200, 1_000],
            scaling_instrument_counts: vec![1, 4],
            scaling_measured_count: 1_000,
        }),
        "--short" => Some(Sizes {
            name: "short",
            flow: flow(10, 1_000, 500_000),
            contest_rounds: 3,
            ring_records: 1_000_000,
            micro_rounds: 5,
            journal_records: 500_000,
            load: LoadPlan {
                rates_per_s: vec![10_000, 50_000, 100_000, 200_000],
                duration_s: 3.0,
                warmup_s: 1.0,
                sessions: 8,
                modes: both_modes(),
            },
            scaling_resting_totals: vec![1_000, 10_000, 100_000, 1_000_000],
            scaling_instrument_counts: vec![1, 10, 100, 1_000],
            scaling_measured_count: 200_000,
        }),
        "--full" => Some(Sizes {
            name: "full",
            flow: flow(10, 1_000, 2_000_000),
            contest_rounds: 5,
            ring_records: 5_000_000,
            micro_rounds: 7,
            journal_records: 2_000_000,
            load: LoadPlan {
                rates_per_s: vec![10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000],
                duration_s: 8.0,
                warmup_s: 2.0,
                sessions: 8,
                modes: both_modes(),
            },
            scaling_resting_totals: vec![1_000, 10_000, 100_000, 1_000_000, 10_000_000],
            scaling_instrument_counts: vec![1, 10, 100, 1_000, 10_000],
            scaling_measured_count: 1_000_000,
        }),
        _ => None,
    }
}

struct Args {
    mode: String,
    out: PathBuf,
    peregrine: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        mode: "--short".to_string(),
        out: PathBuf::from("docs/bench"),
        peregrine: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--smoke" | "--short" | "--full" => args.mode = word,
            "--out" => args.out = words.next().ok_or("--out needs a directory")?.into(),
            "--peregrine" => {
                args.peregrine = Some(words.next().ok_or("--peregrine needs a path")?.into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// The checks that make the smoke mode a test: equal work everywhere, and every part ran.
fn failures(results: &SuiteResults) -> Vec<String> {
    let mut failures = Vec::new();
    if !results.contest.same_work() {
        failures.push("engine and peers made different executions".to_string());
    }
    if !results.rings_delivered_all {
        failures.push("a ring did not deliver every record".to_string());
    }
    if !results.feed.same_bytes || results.feed.message_count == 0 {
        failures.push("feed encoder bytes differ from the naive encoder's".to_string());
    }
    if results.journal.is_none() {
        failures.push("journal scenario did not run".to_string());
    }
    match &results.load {
        Ok(points)
            if points
                .iter()
                .all(|p| p.summaries.iter().any(|s| s.count > 0)) => {}
        Ok(_) => failures.push("a load point measured no order".to_string()),
        Err(reason) => failures.push(format!("end-to-end load failed: {reason}")),
    }
    failures
}

fn run(args: &Args, sizes: &Sizes) -> SuiteResults {
    let started = Instant::now();
    let machine = machine::describe();
    let ns_per_tick = clock::calibrate(Duration::from_millis(200));
    eprintln!("engine vs peers: generating the flow ...");
    let flow = generate(&sizes.flow);
    let peer_flow = stream::translate(&flow, sizes.flow.resting_per_book)
        .expect("bench flows hold only commands peers take");
    let contest = contest::run(&flow, &peer_flow, sizes.contest_rounds, ns_per_tick);
    drop(peer_flow);
    eprintln!("micro: rings, journal, feed ...");
    let (rings, rings_delivered_all) = micro::rings(sizes.ring_records, sizes.micro_rounds);
    let work_dir = std::env::temp_dir().join(format!("peregrine-bench-{}", std::process::id()));
    let journal = micro::journal(sizes.journal_records, sizes.micro_rounds, &work_dir)
        .map_err(|error| eprintln!("journal: {error}"))
        .ok();
    let feed = micro::feed(&flow, sizes.micro_rounds);
    drop(flow);
    let load = match args
        .peregrine
        .clone()
        .or_else(|| e2e::sibling_binary("peregrine"))
    {
        Some(binary) => e2e::run(&binary, &work_dir, &sizes.load).map_err(|e| e.to_string()),
        None => Err("no `peregrine` binary (build peregrine-tools or pass --peregrine)".into()),
    };
    let _ = std::fs::remove_dir_all(&work_dir);
    let scaling_resting = scaling::by_resting(
        &sizes.scaling_resting_totals,
        sizes.scaling_measured_count,
        ns_per_tick,
    );
    let scaling_instruments = scaling::by_instruments(
        &sizes.scaling_instrument_counts,
        sizes.scaling_measured_count,
        ns_per_tick,
    );
    SuiteResults {
        mode_name: sizes.name,
        command_line: format!("bench/run.sh {}", args.mode),
        machine,
        elapsed_s: started.elapsed().as_secs_f64(),
        flow_config: sizes.flow,
        contest,
        rings,
        rings_delivered_all,
        journal,
        feed,
        load,
        scaling_resting,
        scaling_instruments,
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(reason) => {
            eprintln!("bench-suite: {reason}");
            return ExitCode::from(2);
        }
    };
    let Some(sizes) = sizes(&args.mode) else {
        return ExitCode::from(2);
    };
    let results = run(&args, &sizes);
    if let Err(error) = report::write(&results, &args.out) {
        eprintln!("bench-suite: cannot write the report: {error}");
        return ExitCode::from(1);
    }
    println!(
        "bench-suite: {} mode, report in {}",
        sizes.name,
        args.out.join("REPORT.md").display()
    );
    let failures = failures(&results);
    for failure in &failures {
        eprintln!("bench-suite: FAILED: {failure}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
