//! `peregrine sim`: deterministic simulation of the whole node (see `crate::sim`).
//!
//! `--seed N --steps M` runs one seed; `--ci` runs a fixed list of seeds plus `--random`
//! seeds drawn from the system clock, each printed before it runs, until `--budget-s` is
//! spent. A failure prints the seed and the first violated invariant and exits 1; rerunning
//! `peregrine sim --seed N --steps M` reproduces it exactly (same trace digest).
//!
//! # Invariants
//! - Output per seed is one line: `seed N steps M digest D ...: ok` or `...: VIOLATION ...`.
//! - A seed is printed before its run starts, so a crash of this process still names it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::sim::{run_seed, SimOptions, SimOutcome};

/// Seeds `--ci` always runs.
const CI_SEEDS: [u64; 6] = [1, 2, 3, 42, 1337, 20_260_105];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The seed of a single run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated steps per seed.
    #[arg(long, default_value_t = 5_000)]
    steps: u64,
    /// Steps between settle-and-check points.
    #[arg(long, default_value_t = 500)]
    settle_every: u64,
    /// Crash chance per step, per million.
    #[arg(long, default_value_t = 1_000)]
    crash_per_million: u64,
    /// CI mode: the fixed seeds, then random ones while the budget lasts.
    #[arg(long)]
    ci: bool,
    /// Random seeds in CI mode (after the fixed ones).
    #[arg(long, default_value_t = 4)]
    random: u64,
    /// Wall-clock budget of CI mode, seconds (no new seed starts after it).
    #[arg(long, default_value_t = 120)]
    budget_s: u64,
    /// Directory for the runs' data directories (default: the system temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Test hook: feed the checker a wrong member view, which must be reported.
    #[arg(long, hide = true)]
    plant_bug: bool,
}

fn print_outcome(outcome: &SimOutcome, elapsed: Duration) {
    let status = match &outcome.violation {
        None => "ok".to_string(),
        Some(violation) => format!("VIOLATION {violation}"),
    };
    let steps_per_s = outcome.steps_run as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "seed {} steps {} digest {:016x} last_seq {} messages {} crashes {} torn {} \
         feed_packets {} feed_rerequests {} steps_per_s {:.0}: {status}",
        outcome.seed,
        outcome.steps_run,
        outcome.trace_digest,
        outcome.last_seq,
        outcome.messages_received,
        outcome.crashes,
        outcome.torn_tails,
        outcome.feed_packets,
        outcome.feed_rerequests,
        steps_per_s
    );
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The node's logs only when asked for (RUST_LOG): a run logs every login and disconnect.
    if std::env::var_os("RUST_LOG").is_some() {
        crate::cmd::run::init_logging();
    }
    let work_dir = args.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("peregrine-sim-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work_dir)?;
    let seeds: Vec<u64> = if args.ci {
        let base = crate::node::transport::system_now_ns();
        let random = (0..args.random).map(|k| crate::sim::rng::Rng::fork(base, k).next_u64());
        CI_SEEDS.iter().copied().chain(random).collect()
    } else {
        vec![args.seed]
    };
    let started = Instant::now();
    let mut failed = false;
    for seed in seeds {
        if args.ci && started.elapsed() > Duration::from_secs(args.budget_s) {
            println!(
                "budget of {} s spent; stopping before seed {seed}",
                args.budget_s
            );
            break;
        }
        println!("seed {seed}: running {} steps", args.steps);
        let options = SimOptions {
            seed,
            steps: args.steps,
            settle_every: args.settle_every.max(1),
            crash_per_million: args.crash_per_million,
            plant_bug: args.plant_bug,
            work_dir: work_dir.clone(),
        };
        let run_started = Instant::now();
        let outcome = run_seed(options)?;
        print_outcome(&outcome, run_started.elapsed());
        if let Some(violation) = &outcome.violation {
            failed = true;
            println!(
                "reproduce: peregrine sim --seed {seed} --steps {} --settle-every {} \
                 --crash-per-million {}  (first violation: {violation}; data kept in {})",
                args.steps,
                args.settle_every,
                args.crash_per_million,
                work_dir.display()
            );
            break;
        }
    }
    if !failed {
        let _ = std::fs::remove_dir(&work_dir);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
