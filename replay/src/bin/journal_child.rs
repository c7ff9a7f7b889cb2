//! Test helper for the process-level crash test (`tests/kill.rs`): opens (or recovers) a
//! `CoreStage` in a directory, then submits the deterministic flow of the given seed, printing
//! `processed <seq>` (flushed) after each input, until killed or `--max-inputs` is reached.
//! Page-cache durability, a snapshot every `--snapshot-every` inputs.
//!
//! Usage: `journal_child DIR SEED [--snapshot-every N] [--max-inputs N]`
//!
//! # Invariants
//! - A `processed` line is printed only after `submit` returned, so every reported input is
//!   journaled (and applied).
//! - After a restart the flow resumes at `last_seq + 1`: the same seed gives the same input
//!   for the same seq, whatever the crash history.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use peregrine_engine::event::sink::CountSink;
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::{CoreConfig, CoreStage, Durability, JournalOptions, StageOptions};

/// Segment size; `tests/kill.rs` recovers with the same options.
const CHILD_SEGMENT_BYTES: u64 = 1 << 20;

fn parse_flag(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(at) => args
            .get(at + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let dir = PathBuf::from(args.first().ok_or("usage: journal_child DIR SEED [...]")?);
    let seed: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .ok_or("SEED must be a number")?;
    let snapshot_every = parse_flag(args, "--snapshot-every", 0)?;
    let max_inputs = parse_flag(args, "--max-inputs", u64::MAX)?;
    let config = CoreConfig::demo(3, 4, 1 << 16);
    let options = StageOptions {
        journal: JournalOptions {
            segment_size_bytes: CHILD_SEGMENT_BYTES,
            durability: Durability::PageCache,
            prefault: false,
        },
        digest_interval_inputs: 256,
        snapshots_kept: 2,
    };
    let (mut stage, _) = CoreStage::open(&dir, options, &config).map_err(|e| e.to_string())?;
    let shape = FlowShape {
        instrument_count: 3,
        account_count: 4,
        admin: true,
    };
    let mut flow = FlowGenerator::new(seed, shape);
    for _ in 0..stage.last_seq() {
        flow.next_command();
    }
    let mut out = std::io::stdout().lock();
    let mut sink = CountSink::default();
    while stage.last_seq() < max_inputs {
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let seq = stage
            .submit(&flow.next_command(), now_ns, &mut sink)
            .map_err(|e| e.to_string())?;
        writeln!(out, "processed {seq}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        if snapshot_every != 0 && seq.is_multiple_of(snapshot_every) {
            stage.snapshot_now().map_err(|e| e.to_string())?;
        }
    }
    stage.close().map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("journal_child: {error}");
            ExitCode::from(2)
        }
    }
}
