//! `peregrine feed tap`: watch the node's market-data feed. Joins the multicast group (from
//! the `[feed]` table of `--config`, else the embedded default config; `--group`, `--port`,
//! `--interface` override it), prints every packet, message and the top of book of each
//! instrument a packet changed (`peregrine_feed::tap`), optionally writes a pcap, and stops at
//! the end of the feed session, after `--packets N`, after `--idle-ms` of silence, or on
//! SIGINT/SIGTERM.
//!
//! # Invariants
//! - The line `tap GROUP:PORT on IFACE` is written to stderr only after the group is joined,
//!   so a script (or test) that waits for it sees every packet sent afterwards.
//! - Exit 0 when the tap saw no gap and no malformed packet, 1 otherwise, 2 on an error.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use peregrine_feed::net::{multicast_receiver, MulticastConfig};
use peregrine_feed::tap::{describe, run_on, TapConfig, TapSummary};

use crate::config::NodeConfig;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: FeedCommand,
}

#[derive(clap::Subcommand, Debug)]
enum FeedCommand {
    /// Join the feed's multicast group and print packets, messages and top of book.
    Tap(TapArgs),
}

#[derive(clap::Args, Debug)]
struct TapArgs {
    /// Node configuration whose `[feed]` table names the group (default: embedded config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Multicast group (overrides the config).
    #[arg(long)]
    group: Option<Ipv4Addr>,
    /// UDP port (overrides the config).
    #[arg(long)]
    port: Option<u16>,
    /// Local interface address to join on (overrides the config).
    #[arg(long)]
    interface: Option<Ipv4Addr>,
    /// Write every datagram to this pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Stop after this many datagrams.
    #[arg(long)]
    packets: Option<u64>,
    /// Stop after this many milliseconds without a datagram.
    #[arg(long)]
    idle_ms: Option<u64>,
    /// Print only packets, gaps and tops of book, not each message.
    #[arg(long)]
    quiet: bool,
    /// Keep running after the feed's end-of-session packet.
    #[arg(long)]
    ignore_end_of_session: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        FeedCommand::Tap(tap) => run_tap(tap),
    }
}

fn tap_config(args: &TapArgs) -> anyhow::Result<TapConfig> {
    let node = NodeConfig::load(args.config.as_deref())?;
    let feed = &node.feed;
    Ok(TapConfig {
        multicast: MulticastConfig {
            group: args.group.unwrap_or(feed.group),
            port: args.port.unwrap_or(feed.port),
            interface: args.interface.unwrap_or(feed.interface),
            ..MulticastConfig::default()
        },
        pcap: args.pcap.clone(),
        show_messages: !args.quiet,
        show_top_of_book: true,
        stop_at_end_of_session: !args.ignore_end_of_session,
        packet_limit: args.packets,
        idle_limit_ms: args.idle_ms,
        ..TapConfig::default()
    })
}

fn run_tap(args: TapArgs) -> anyhow::Result<ExitCode> {
    let config = tap_config(&args)?;
    let socket = multicast_receiver(&config.multicast)
        .with_context(|| format!("cannot join {}", describe(&config)))?;
    eprintln!("{}", describe(&config));
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("signal handler")?;
    }
    let out = std::io::stdout().lock();
    let summary = run_on(&socket, &config, out, &stop).context("feed tap")?;
    let mut err = std::io::stderr().lock();
    writeln!(err, "{}", summary_text(&summary))?;
    Ok(if summary.gaps == 0 && summary.malformed_packets == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn summary_text(summary: &TapSummary) -> String {
    format!(
        "packets={} messages={} heartbeats={} gaps={} malformed_packets={} \
         malformed_messages={} book_errors={} end_of_session={} next_seq={}",
        summary.packets,
        summary.messages,
        summary.heartbeats,
        summary.gaps,
        summary.malformed_packets,
        summary.malformed_messages,
        summary.book_errors,
        summary.end_of_session,
        summary.next_seq
    )
}
