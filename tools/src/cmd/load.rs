//! `peregrine load`: an open-loop load generator. Many sessions (the config's `LOAD01`…
//! users by default) send limit orders at a fixed total rate; order-to-ack latency is measured
//! from each order's intended send time (no coordinated omission) into an HDR histogram, and a
//! report (summary plus percentile distribution) is written to `--report` and stdout.
//! With `--feed`, it also joins the node's multicast feed and measures order-to-feed latency
//! (intended send time → the order's ITCH Add Order on the wire; see `node::loadgen`).
//!
//! # Invariants
//! - Exit 0 when the run completed (whatever the latencies); 2 when sessions could not log in
//!   or were disconnected.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use peregrine_feed::net::MulticastConfig;

use crate::node::loadgen::{run_load, write_report, LoadOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Node order-entry address.
    #[arg(long, default_value = "127.0.0.1:15000")]
    addr: SocketAddr,
    /// Number of sessions (users LOAD01, LOAD02, … of the default config).
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    /// Username prefix; session `i` logs in as PREFIX + two digits.
    #[arg(long, default_value = "LOAD")]
    user_prefix: String,
    #[arg(long, default_value = "load")]
    password: String,
    /// Orders per second, all sessions together.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration_s: f64,
    /// Seconds at the start not counted in the histogram.
    #[arg(long, default_value_t = 2.0)]
    warmup_s: f64,
    /// Symbols to trade (comma separated).
    #[arg(long, default_value = "AAPL,MSFT,GOOG", value_delimiter = ',')]
    symbols: Vec<String>,
    /// Write the HDR report here too.
    #[arg(long)]
    report: Option<PathBuf>,
    /// A label for the report's title line (e.g. "threaded pinned").
    #[arg(long, default_value = "peregrine load")]
    label: String,
    /// Also measure order-to-feed latency on the node's multicast feed.
    #[arg(long)]
    feed: bool,
    /// Feed multicast group (the default config's).
    #[arg(long, default_value = "239.192.0.1")]
    feed_group: Ipv4Addr,
    #[arg(long, default_value_t = 31_001)]
    feed_port: u16,
    /// Local interface address to join the group on.
    #[arg(long, default_value = "127.0.0.1")]
    feed_interface: Ipv4Addr,
}

pub fn options_for(
    addr: SocketAddr,
    users: Vec<(String, String)>,
    rate: u64,
    duration: Duration,
    warmup: Duration,
    symbols: Vec<String>,
) -> LoadOptions {
    LoadOptions {
        addr,
        users,
        rate_per_s: rate,
        duration: duration + warmup,
        warmup,
        symbols,
        mid_price: 1_000_000,
        tick: 100,
        spread_ticks: 20,
        live_orders_max: 50,
        seed: 0x5eed,
        feed: None,
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::cmd::run::init_logging();
    let users = (1..=args.sessions)
        .map(|index| {
            (
                format!("{}{index:02}", args.user_prefix),
                args.password.clone(),
            )
        })
        .collect();
    let mut options = options_for(
        args.addr,
        users,
        args.rate,
        Duration::from_secs_f64(args.duration_s),
        Duration::from_secs_f64(args.warmup_s),
        args.symbols.clone(),
    );
    if args.feed {
        options.feed = Some(MulticastConfig {
            group: args.feed_group,
            port: args.feed_port,
            interface: args.feed_interface,
            ..MulticastConfig::default()
        });
    }
    let progress = run_load(&options, |p| {
        let h = &p.interval_latency_ns;
        eprintln!(
            "t={:>5.1}s sent/s={:>7} execs={:>6} rejects={:>4} ack_us p50={:>8.1} p99={:>8.1}",
            p.elapsed.as_secs_f64(),
            p.interval_sent,
            p.interval_executions,
            p.interval_rejected,
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.99) as f64 / 1e3,
        );
    })?;
    let mut text = Vec::new();
    write_report(&mut text, &args.label, &progress, &options)?;
    if let Some(path) = &args.report {
        std::fs::write(path, &text)?;
    }
    print!("{}", String::from_utf8_lossy(&text));
    Ok(ExitCode::SUCCESS)
}
