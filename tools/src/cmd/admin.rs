//! `peregrine admin [--data-dir D | --config F] ACTION …`: operator actions on a running node,
//! over its admin socket (`DATA_DIR/admin.sock`, authenticated by `DATA_DIR/admin.token` and
//! the caller's uid; see `node::admin`). Each action but `snapshot` becomes a journaled command;
//! the node answers with the journal sequence number and the outcome.
//!
//! Prints the node's answer line on stdout: `ok seq=S events=N …`, `rejected seq=S reason=R`
//! or `error TEXT`.
//!
//! # Invariants
//! - Exit 0 when the core acknowledged the action, 1 when it rejected it, 2 on any error
//!   (no socket, bad token, unknown name, no answer).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::node::admin::{SOCKET_FILE, TOKEN_FILE};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The node's data directory (default: `node.data_dir` of `--config`, or of the embedded
    /// default configuration).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The node's TOML configuration (to find its data directory).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seconds to wait for the node's answer.
    #[arg(long, default_value_t = 15)]
    timeout_s: u64,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Kill switch: block an account (its resting orders are cancelled, new orders rejected).
    Block { account: String },
    /// Lift an account's kill switch.
    Unblock { account: String },
    /// Halt an instrument (new orders and replaces rejected, cancels allowed).
    Halt { symbol: String },
    /// Resume trading in a halted instrument.
    Resume { symbol: String },
    /// Change a risk limit (`max-order-qty`, `max-open-orders`, `price-collar-bps`, …;
    /// 0 = off), account-wide or for one instrument.
    SetLimit {
        account: String,
        limit: String,
        #[arg(allow_negative_numbers = true)]
        value: i64,
        #[arg(long)]
        instrument: Option<String>,
    },
    /// Set an instrument's reference price for the risk collar (price in 1/10,000).
    ReferencePrice { symbol: String, price: i64 },
    /// Cancel every resting order, or those of one account and/or instrument.
    MassCancel {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        instrument: Option<String>,
    },
    /// Write a core snapshot now (recovery starts from the latest one).
    Snapshot,
}

impl Action {
    /// The request words of the admin protocol.
    fn words(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        match self {
            Action::Block { account } => words.extend(["block".into(), account.clone()]),
            Action::Unblock { account } => words.extend(["unblock".into(), account.clone()]),
            Action::Halt { symbol } => words.extend(["halt".into(), symbol.clone()]),
            Action::Resume { symbol } => words.extend(["resume".into(), symbol.clone()]),
            Action::SetLimit {
                account,
                limit,
                value,
                instrument,
            } => {
                words.extend(["set-limit".into(), account.clone(), limit.clone()]);
                words.push(value.to_string());
                words.extend(instrument.clone());
            }
            Action::ReferencePrice { symbol, price } => {
                words.extend(["reference-price".into(), symbol.clone(), price.to_string()]);
            }
            Action::MassCancel {
                account,
                instrument,
            } => {
                words.push("mass-cancel".into());
                words.extend(account.as_ref().map(|a| format!("account={a}")));
                words.extend(instrument.as_ref().map(|i| format!("instrument={i}")));
            }
            Action::Snapshot => words.push("snapshot".into()),
        }
        words
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => crate::config::NodeConfig::load(args.config.as_deref())?
            .node
            .data_dir
            .clone(),
    };
    let words = args.action.words();
    if words
        .iter()
        .any(|w| w.is_empty() || w.contains(char::is_whitespace))
    {
        anyhow::bail!("names and values must be single words");
    }
    let token_path = data_dir.join(TOKEN_FILE);
    let token = std::fs::read_to_string(&token_path).with_context(|| {
        format!(
            "cannot read {} (is the node running?)",
            token_path.display()
        )
    })?;
    let socket_path = data_dir.join(SOCKET_FILE);
    let mut stream = UnixStream::connect(&socket_path)
        .with_context(|| format!("cannot connect to {}", socket_path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(args.timeout_s.max(1))))?;
    let request = format!("{} {}\n", token.trim(), words.join(" "));
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .context("no answer from the node")?;
    let answer = answer.trim_end();
    println!("{answer}");
    Ok(match answer.split(' ').next() {
        Some("ok") => ExitCode::SUCCESS,
        Some("rejected") => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}
