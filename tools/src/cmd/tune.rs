//! `peregrine tune check [--config F] [--interface IFACE] [--hugepages N] [--json]`: audits
//! this host against the node's configuration (`peregrine_tuning::audit`): are the pinned cores
//! isolated (`isolcpus`, `nohz_full`, `rcu_nocbs`), are IRQs kept off them, governor, THP,
//! hugepages, clock source, busy-poll sysctls, NIC rings and coalescing. Prints one line per
//! check, `pass`/`warn`/`fail`, what it found and the fix (a script in `tuning/scripts/`).
//!
//! Reads `/proc` and `/sys` only (and runs `ethtool -g/-c` for `--interface`); changes nothing.
//!
//! # Invariants
//! - Exit 0 when no check fails (warnings allowed), 1 when at least one fails, 2 on an error
//!   (bad config).

use std::path::PathBuf;
use std::process::ExitCode;

use peregrine_tuning::audit::{audit, AuditTarget, Check, HostFacts, Status};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Audit the host against the config; exit 1 if a check fails.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The node's TOML configuration (default: the embedded one).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The NIC carrying order entry and the feed (checks ring sizes and coalescing).
    #[arg(long)]
    interface: Option<String>,
    /// 2 MiB hugepages the host must have reserved.
    #[arg(long, default_value_t = 0)]
    hugepages: u64,
    /// Read the host facts under this root instead of `/` (for fixtures).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// One JSON object per check instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::NodeConfig::load(args.config.as_deref())?;
    let mut pinned_cores: Vec<usize> = [config.node.gateway_cpu, config.node.core_cpu]
        .into_iter()
        .flatten()
        .collect();
    pinned_cores.sort_unstable();
    pinned_cores.dedup();
    let target = AuditTarget {
        pinned_cores,
        hugepages_wanted: args.hugepages,
        interface: args.interface,
    };
    let facts = HostFacts::read(&args.root, &target);
    let checks = audit(&facts, &target);
    for check in &checks {
        if args.json {
            println!("{}", json_line(check));
        } else {
            println!("{}", text_line(check));
        }
    }
    let count = |status| checks.iter().filter(|c| c.status == status).count();
    let (passed, warned, failed) = (
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
    );
    if !args.json {
        println!("{passed} pass, {warned} warn, {failed} fail");
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn text_line(check: &Check) -> String {
    let mut line = format!("{:<4}  {:<15} {}", check.status, check.name, check.detail);
    if !check.fix.is_empty() {
        line.push_str("\n      fix: ");
        line.push_str(&check.fix);
    }
    line
}

fn json_line(check: &Check) -> String {
    serde_json::json!({
        "check": check.name,
        "status": check.status.to_string(),
        "detail": check.detail,
        "fix": check.fix,
    })
    .to_string()
}
