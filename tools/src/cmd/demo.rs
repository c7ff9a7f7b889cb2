//! `peregrine demo`: starts a node on a free loopback port (embedded default config, fresh data
//! directory), drives it with a built-in set of simulated members for a few seconds, and prints
//! a live summary each second (orders/s, executions, order-to-ack p50/p99, rejects), then stops
//! the node cleanly and prints the totals.
//!
//! # Invariants
//! - The node runs exactly the code `peregrine run` runs; only the config's address and data
//!   directory are replaced.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cmd::load::options_for;
use crate::cmd::run::{init_logging, load_config};
use crate::node::loadgen::{run_load, write_report};
use crate::node::Node;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seconds of simulated trading.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Orders per second across all simulated members.
    #[arg(long, default_value_t = 2_000)]
    rate: u64,
    /// Simulated members (sessions).
    #[arg(long, default_value_t = 8)]
    members: usize,
    /// Run the node in single-thread mode.
    #[arg(long)]
    single_thread: bool,
    /// Keep the data directory (journal, session logs) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    init_logging();
    let data_dir = std::env::temp_dir().join(format!("peregrine-demo-{}", std::process::id()));
    let config = load_config(
        None,
        Some("127.0.0.1:0"),
        Some(&data_dir),
        args.single_thread,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let node = Node::open(config, Arc::clone(&stop))?;
    let addr = node.local_addr();
    let node_thread = std::thread::Builder::new()
        .name("node".to_string())
        .spawn(move || node.run())?;
    println!(
        "demo: node on {addr} ({} mode), {} members, {} orders/s for {:.0} s; data in {}",
        if args.single_thread {
            "single-thread"
        } else {
            "threaded"
        },
        args.members,
        args.rate,
        args.seconds,
        data_dir.display()
    );
    let users = (1..=args.members.min(16))
        .map(|index| (format!("LOAD{index:02}"), "load".to_string()))
        .collect();
    let options = options_for(
        addr,
        users,
        args.rate,
        Duration::from_secs_f64(args.seconds),
        Duration::ZERO,
        vec!["AAPL".to_string(), "MSFT".to_string(), "GOOG".to_string()],
    );
    let result = run_load(&options, |p| {
        let h = &p.interval_latency_ns;
        println!(
            "t={:>4.0}s  orders/s {:>6}  executions {:>6}  order-to-ack p50 {:>7.1} us  p99 {:>8.1} us  rejects {:>3}",
            p.elapsed.as_secs_f64(),
            p.interval_sent,
            p.interval_executions,
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.99) as f64 / 1e3,
            p.interval_rejected
        );
    });
    stop.store(true, Ordering::Relaxed);
    let report = node_thread
        .join()
        .map_err(|_| anyhow::anyhow!("node thread panicked"))?
        .context("node")?;
    print_totals(&result?, &options, &report)?;
    if !args.keep {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// The closing summary: the load's totals and percentiles, then the node's counters.
fn print_totals(
    progress: &crate::node::loadgen::LoadProgress,
    options: &crate::node::loadgen::LoadOptions,
    report: &crate::node::NodeReport,
) -> anyhow::Result<()> {
    let mut text = Vec::new();
    write_report(&mut text, "demo totals", progress, options)?;
    for line in String::from_utf8_lossy(&text).lines().take(4) {
        println!("{line}");
    }
    println!(
        "node: {} inputs journaled (last seq {}), {} sequenced messages, {} logins, {} back-pressure stalls",
        report.core.inputs,
        report.last_seq,
        report.gateway.sequenced_out,
        report.gateway.logins_accepted,
        report.gateway.backpressure_stalls
    );
    Ok(())
}
