//! `peregrine`: the venue's one binary. Each subcommand lives in its own module under
//! `cmd/` with an `Args` struct (clap derive) and a `run(args) -> anyhow::Result<ExitCode>`;
//! this file only parses the command line and dispatches.
//!
//! Adding a subcommand: create `cmd/<name>.rs` with `Args` and `run`, add it to `cmd/mod.rs`,
//! and add one variant to [`Command`] and one arm to `main`.
//!
//! # Invariants
//! - Exit codes: 0 success, 1 a check failed (e.g. replay divergence), 2 an error (bad
//!   input file, I/O), as printed on stderr.

mod cmd;
mod config;
mod node;
mod render;
mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Peregrine exchange core.
#[derive(Parser, Debug)]
#[command(name = "peregrine", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect a journal: dump, stats, tail.
    Journal(cmd::journal::Args),
    /// Re-run a journal through the core (`--verify`: compare with the recorded digests).
    Replay(cmd::replay::Args),
    /// Run the exchange node (OUCH 5.0 over SoupBinTCP 3.0) until SIGINT/SIGTERM.
    Run(cmd::run::Args),
    /// Start a node and simulated members for a few seconds; print a live summary.
    Demo(cmd::demo::Args),
    /// One member session from the command line (enter, cancel, replace, query, listen).
    Client(cmd::client::Args),
    /// Open-loop load generator writing an HDR latency report.
    Load(cmd::load::Args),
    /// Market-data feed tools (`feed tap`: watch the multicast feed).
    Feed(cmd::feed::Args),
    /// Operator actions on a running node over its admin socket (block, halt, limits, …).
    Admin(cmd::admin::Args),
    /// Host tuning (`tune check`: audit the host against the config).
    Tune(cmd::tune::Args),
    /// Deterministic simulation of the whole node under seeded faults (`--ci`: many seeds).
    Sim(cmd::sim::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Journal(args) => cmd::journal::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Client(args) => cmd::client::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Feed(args) => cmd::feed::run(args),
        Command::Admin(args) => cmd::admin::run(args),
        Command::Tune(args) => cmd::tune::run(args),
        Command::Sim(args) => cmd::sim::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("peregrine: error: {error:#}");
            ExitCode::from(2)
        }
    }
}
