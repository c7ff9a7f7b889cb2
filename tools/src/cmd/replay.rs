//! `peregrine replay --verify [--json] PATH`: re-run a journal through a fresh core built from
//! the configuration the journal embeds, and compare the outputs with the digests recorded
//! live. Prints success, or the first divergent window (see `peregrine_replay::verify`: the
//! journal holds digests, not events, so the report names the window and lists the events the
//! replay produced in it). A progress bar is drawn on a terminal.
//!
//! # Invariants
//! - Exit 0: every recorded digest reproduced; 1: divergence; 2: the journal cannot be read
//!   (corrupt record, wrong config, I/O), with the reason on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use peregrine_replay::{verify_journal, Divergence, JournalReader, VerifyReport};
use serde_json::json;

use crate::render::{command_text, event_text};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Compare the replayed outputs with the digests recorded in the journal.
    #[arg(long)]
    verify: bool,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Inputs of the divergent window to list (text output).
    #[arg(long, default_value_t = 50)]
    show_inputs: usize,
    /// Journal directory.
    path: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.verify {
        bail!("only `peregrine replay --verify PATH` is implemented");
    }
    let reader = JournalReader::open(&args.path)
        .with_context(|| format!("cannot open journal {}", args.path.display()))?;
    let bar = progress_bar(reader.estimated_inputs());
    let mut progress = |seq: u64| bar.set_position(seq);
    let report = verify_journal(&reader, None, &mut progress)
        .with_context(|| format!("replay of {} failed", args.path.display()))?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report_json(&report))?;
    } else {
        write_report(&mut out, &report, args.show_inputs)?;
    }
    Ok(if report.divergence.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_bar(estimated_inputs: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(estimated_inputs), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "replaying {bar:40} {human_pos}/~{human_len} inputs, {elapsed} elapsed, eta {eta}",
    );
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

fn report_json(report: &VerifyReport) -> serde_json::Value {
    let divergence = report.divergence.as_ref().map(|d| {
        json!({
            "window_first_seq": d.window_first_seq,
            "window_last_seq": d.window_last_seq,
            "expected_event_count": d.expected.event_count,
            "expected_digest": format!("{:016x}", d.expected.digest),
            "actual_event_count": d.actual.event_count,
            "actual_digest": format!("{:016x}", d.actual.state),
            "window_inputs": d.window_inputs.len(),
            "window_events": d.window_events.len(),
        })
    });
    json!({
        "result": if report.divergence.is_some() { "divergence" } else { "ok" },
        "inputs": report.inputs,
        "last_seq": report.last_seq,
        "digests_checked": report.digests_checked,
        "event_count": report.final_digest.event_count,
        "digest": format!("{:016x}", report.final_digest.state),
        "torn_tail": report.torn.as_ref().map(|t| json!({
            "path": t.path.display().to_string(), "offset": t.offset,
        })),
        "divergence": divergence,
    })
}

fn write_report(out: &mut impl Write, report: &VerifyReport, show: usize) -> std::io::Result<()> {
    if let Some(tail) = &report.torn {
        writeln!(
            out,
            "note: torn tail in {} at offset {} ignored",
            tail.path.display(),
            tail.offset
        )?;
    }
    match &report.divergence {
        None => writeln!(
            out,
            "OK: {} inputs replayed (seq 1..={}), {} digest records matched, {} events, digest {:016x}",
            report.inputs,
            report.last_seq,
            report.digests_checked,
            report.final_digest.event_count,
            report.final_digest.state
        ),
        Some(divergence) => write_divergence(out, divergence, show),
    }
}

fn write_divergence(out: &mut impl Write, d: &Divergence, show: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "DIVERGENCE: outputs differ in the window of inputs seq {}..={}",
        d.window_first_seq, d.window_last_seq
    )?;
    writeln!(
        out,
        "  recorded at seq {}: {} events, digest {:016x}",
        d.window_last_seq, d.expected.event_count, d.expected.digest
    )?;
    writeln!(
        out,
        "  replayed:          {} events, digest {:016x}",
        d.actual.event_count, d.actual.state
    )?;
    writeln!(
        out,
        "  events the replay produced in this window (the journal holds no live events):"
    )?;
    for (input, events) in d.window_inputs.iter().take(show) {
        writeln!(
            out,
            "  seq {} ts {} {}",
            input.seq,
            input.timestamp_ns,
            command_text(&input.command)
        )?;
        for event in d.window_events.get(events.clone()).unwrap_or(&[]) {
            writeln!(out, "      -> {}", event_text(event))?;
        }
    }
    if d.window_inputs.len() > show || d.window_truncated {
        writeln!(
            out,
            "  ... ({} inputs in the window; --show-inputs N for more)",
            d.window_inputs.len()
        )?;
    }
    Ok(())
}
