//! `peregrine run [--config FILE]`: start the node (gateway + core) and serve until SIGINT or
//! SIGTERM, then shut down cleanly (connections closed, journal closed and synced, session
//! logs synced). With no `--config` the embedded default configuration is used.
//!
//! Prints `listening on ADDR` on stdout once the listener is bound (tests read it to find a
//! port chosen with `listen = "127.0.0.1:0"`); with `[gateway_bypass] backend = "af-xdp"` the
//! address is the bypass one (`gateway_bypass.ipv4:port`), served by smoltcp over AF_XDP. Logs go to stderr (`RUST_LOG` filters them).
//!
//! # Invariants
//! - Exit 0 after a clean shutdown; 2 with the reason on stderr when the node cannot start or
//!   its journal fails.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{hash_password, Mode, NodeConfig};
use crate::node::bypass::{open_afxdp, Backend};
use crate::node::gateway::Gateway;
use crate::node::transport::{Clock, Transport};
use crate::node::Node;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// TOML configuration (default: the embedded demo configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override `node.listen`.
    #[arg(long)]
    listen: Option<String>,
    /// Override `node.data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run every stage in one thread (overrides `node.mode`).
    #[arg(long)]
    single_thread: bool,
    /// Override `node.wait` (`busy-spin`, `spin-then-yield[:N]`, `park[:N:US]`).
    #[arg(long)]
    wait: Option<String>,
    /// Pin the gateway thread (or the single loop) to this CPU.
    #[arg(long)]
    gateway_cpu: Option<usize>,
    /// Pin the core thread to this CPU.
    #[arg(long)]
    core_cpu: Option<usize>,
    /// Do not start the market-data feed thread (overrides `feed.enabled`).
    #[arg(long)]
    no_feed: bool,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: crate::node::metrics::LogFormat,
    /// Print an argon2 PHC string for this password (for `[[users]] password_hash`) and exit.
    #[arg(long, value_name = "PASSWORD")]
    hash_password: Option<String>,
}

/// Installs the stderr log subscriber (`RUST_LOG`, default `info`). Safe to call twice.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Loads the config and applies the command-line overrides.
pub fn load_config(
    path: Option<&std::path::Path>,
    listen: Option<&str>,
    data_dir: Option<&std::path::Path>,
    single_thread: bool,
) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::load(path)?;
    if let Some(listen) = listen {
        config.node.listen = listen.to_string();
    }
    if let Some(dir) = data_dir {
        config.node.data_dir = dir.to_path_buf();
    }
    if single_thread {
        config.node.mode = Mode::Single;
    }
    config.listen_addr()?;
    Ok(config)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(password) = args.hash_password {
        println!("{}", hash_password(&password)?);
        return Ok(ExitCode::SUCCESS);
    }
    crate::node::metrics::init_logging(args.log_format);
    let config = load_config(
        args.config.as_deref(),
        args.listen.as_deref(),
        args.data_dir.as_deref(),
        args.single_thread,
    )?;
    let mut config = config;
    if let Some(wait) = args.wait {
        config.node.wait = wait;
        config.wait_strategy()?;
    }
    config.node.gateway_cpu = args.gateway_cpu.or(config.node.gateway_cpu);
    config.node.core_cpu = args.core_cpu.or(config.node.core_cpu);
    if args.no_feed {
        config.feed.enabled = false;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }
    crate::node::bypass::start_dpdk_if_used(&config)?;
    match config.gateway_bypass.backend {
        Backend::Kernel => serve(Node::open(config, stop)?),
        Backend::AfXdp => {
            let bypass = config.gateway_bypass.clone();
            let max_connections = config.node.max_connections;
            let node = Node::open_over(config, stop, |config| {
                let transport = open_afxdp(&bypass, max_connections)?;
                Gateway::open_with(config, transport, Clock::System)
            })?;
            serve(node)
        }
        #[cfg(feature = "dpdk")]
        Backend::Dpdk => {
            let bypass = config.gateway_bypass.clone();
            let max_connections = config.node.max_connections;
            let node = Node::open_over(config, stop, |config| {
                let transport = crate::node::bypass::open_dpdk(&bypass, max_connections)?;
                Gateway::open_with(config, transport, Clock::System)
            })?;
            serve(node)
        }
        #[cfg(not(feature = "dpdk"))]
        Backend::Dpdk => anyhow::bail!("gateway_bypass: built without the cargo feature `dpdk`"),
    }
}

/// Announces the order-entry address and runs the node until it stops.
fn serve<T: Transport>(node: Node<T>) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", node.local_addr())?;
    out.flush()?;
    drop(out);
    let report = node.run()?;
    tracing::info!(
        last_seq = report.last_seq,
        inputs = report.core.inputs,
        logins = report.gateway.logins_accepted,
        "node stopped"
    );
    Ok(ExitCode::SUCCESS)
}
