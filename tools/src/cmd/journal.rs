//! `peregrine journal dump|stats|tail [--json] PATH`: read-only inspection of a journal
//! directory. Records are read through the same cursor as recovery, so every CRC is checked:
//! a torn tail is reported (recovery would cut it) and a corrupt record stops the command with
//! exit code 2 after what could be read was printed.
//!
//! # Invariants
//! - Never writes to the journal.
//! - Memory is bounded: `dump` streams, `tail` keeps at most `-n` records, `stats` counters.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use peregrine_engine::record::decode_command;
use peregrine_engine::CommandKind;
use peregrine_replay::{
    CoreConfig, DigestPayload, JournalEnd, JournalReader, Record, RecordKind, TornTail,
};
use serde_json::json;

use crate::render::{record_json, record_text};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Print every record, one per line.
    Dump {
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Start at this input sequence number.
        #[arg(long, default_value_t = 0)]
        from_seq: u64,
        /// Print at most this many records.
        #[arg(long)]
        limit: Option<u64>,
        /// Journal directory.
        path: PathBuf,
    },
    /// Summarise a journal: segments, record counts, sequence and time range, digests, end.
    Stats {
        #[arg(long)]
        json: bool,
        path: PathBuf,
    },
    /// Print the last records.
    Tail {
        #[arg(long)]
        json: bool,
        /// Number of records.
        #[arg(short = 'n', long = "lines", default_value_t = 10)]
        count: usize,
        path: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let result = match args.action {
        Action::Dump {
            json,
            from_seq,
            limit,
            path,
        } => dump(&path, json, from_seq, limit),
        Action::Stats { json, path } => stats(&path, json),
        Action::Tail { json, count, path } => tail(&path, json, count),
    };
    match result {
        Err(error) if is_broken_pipe(&error) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn open(path: &Path) -> anyhow::Result<JournalReader> {
    JournalReader::open(path).with_context(|| format!("cannot open journal {}", path.display()))
}

fn print_record(out: &mut impl Write, record: &Record<'_>, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", record_json(record))
    } else {
        writeln!(out, "{}", record_text(record))
    }
}

fn note_torn(torn: Option<&TornTail>) {
    if let Some(tail) = torn {
        eprintln!(
            "note: torn tail in {} at offset {} ({} bytes, {}); recovery cuts it",
            tail.path.display(),
            tail.offset,
            tail.cut_bytes,
            tail.fault
        );
    }
}

fn dump(path: &Path, json: bool, from_seq: u64, limit: Option<u64>) -> anyhow::Result<ExitCode> {
    let reader = open(path)?;
    let mut cursor = reader.cursor();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut printed = 0u64;
    while let Some(record) = cursor.next_record()? {
        if limit.is_some_and(|l| printed >= l) {
            break;
        }
        if record.seq < from_seq {
            continue;
        }
        print_record(&mut out, &record, json)?;
        printed += 1;
    }
    out.flush()?;
    note_torn(cursor.end().and_then(|e| e.torn.as_ref()));
    Ok(ExitCode::SUCCESS)
}

fn tail(path: &Path, json: bool, count: usize) -> anyhow::Result<ExitCode> {
    let reader = open(path)?;
    let mut cursor = reader.cursor();
    let mut last: VecDeque<Record<'_>> = VecDeque::with_capacity(count.min(1 << 16));
    while let Some(record) = cursor.next_record()? {
        if count == 0 {
            continue;
        }
        if last.len() == count {
            last.pop_front();
        }
        last.push_back(record);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for record in &last {
        print_record(&mut out, record, json)?;
    }
    out.flush()?;
    note_torn(cursor.end().and_then(|e| e.torn.as_ref()));
    Ok(ExitCode::SUCCESS)
}

/// Counters gathered by one pass.
#[derive(Default)]
struct Counts {
    commands: u64,
    digests: u64,
    bytes: u64,
    /// Indexed by `CommandKind` code (codes are below 32).
    by_kind: [u64; 32],
    first_timestamp_ns: Option<u64>,
    last_timestamp_ns: u64,
    last_digest: Option<(u64, DigestPayload)>,
}

impl Counts {
    fn add(&mut self, record: &Record<'_>) {
        self.bytes += record.record_bytes;
        match record.kind {
            RecordKind::Config => {}
            RecordKind::Command => {
                self.commands += 1;
                self.first_timestamp_ns.get_or_insert(record.timestamp_ns);
                self.last_timestamp_ns = record.timestamp_ns;
                if let Ok(command) = decode_command(record.payload) {
                    if let Some(slot) = self.by_kind.get_mut(usize::from(command.kind().code())) {
                        *slot += 1;
                    }
                }
            }
            RecordKind::Digest => {
                self.digests += 1;
                if let Some(payload) = DigestPayload::parse(record.payload) {
                    self.last_digest = Some((record.seq, payload));
                }
            }
        }
    }
}

/// Everything `stats` prints.
struct Summary {
    path: PathBuf,
    segment_count: usize,
    segment_size_bytes: u64,
    config_digest: u64,
    config_text: String,
    counts: Counts,
    by_kind: Vec<(String, u64)>,
    end: JournalEnd,
}

fn summarise(path: &Path) -> anyhow::Result<Summary> {
    let reader = open(path)?;
    let mut cursor = reader.cursor();
    let mut counts = Counts::default();
    while let Some(record) = cursor.next_record()? {
        counts.add(&record);
    }
    let end = cursor
        .end()
        .cloned()
        .context("journal walk did not finish")?;
    let segments = reader.segments();
    let config_text = match CoreConfig::decode(reader.config()) {
        Ok(config) => config_summary(&config),
        Err(error) => error.to_string(),
    };
    let by_kind = CommandKind::ALL
        .iter()
        .map(|kind| {
            let count = counts
                .by_kind
                .get(usize::from(kind.code()))
                .copied()
                .unwrap_or(0);
            (kind.to_string(), count)
        })
        .filter(|(_, count)| *count > 0)
        .collect();
    Ok(Summary {
        path: path.to_path_buf(),
        segment_count: segments.len(),
        segment_size_bytes: segments.first().map_or(0, |s| s.header.segment_size_bytes),
        config_digest: reader.config_digest(),
        config_text,
        counts,
        by_kind,
        end,
    })
}

fn stats(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let summary = summarise(path)?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", stats_json(&summary))?;
    } else {
        write_stats_text(&mut out, &summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn stats_json(s: &Summary) -> serde_json::Value {
    let counts = &s.counts;
    json!({
        "path": s.path.display().to_string(),
        "segments": s.segment_count,
        "segment_size_bytes": s.segment_size_bytes,
        "config_digest": format!("{:016x}", s.config_digest),
        "config": s.config_text,
        "commands": counts.commands,
        "digests": counts.digests,
        "record_bytes": counts.bytes,
        "last_seq": s.end.last_seq,
        "first_timestamp_ns": counts.first_timestamp_ns,
        "last_timestamp_ns": counts.last_timestamp_ns,
        "commands_by_kind": s.by_kind.iter()
            .map(|(kind, count)| json!({ "kind": kind, "count": count }))
            .collect::<Vec<_>>(),
        "last_digest": counts.last_digest.map(|(seq, d)| json!({
            "seq": seq, "event_count": d.event_count, "digest": format!("{:016x}", d.digest),
        })),
        "end": { "segment": s.end.segment_index, "offset": s.end.offset },
        "torn_tail": s.end.torn.as_ref().map(|t| json!({
            "path": t.path.display().to_string(), "offset": t.offset, "bytes": t.cut_bytes,
            "fault": t.fault.to_string(),
        })),
    })
}

fn write_stats_text(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    let counts = &s.counts;
    writeln!(out, "journal      {}", s.path.display())?;
    writeln!(
        out,
        "segments     {} of {} bytes",
        s.segment_count, s.segment_size_bytes
    )?;
    writeln!(
        out,
        "config       {:016x} ({})",
        s.config_digest, s.config_text
    )?;
    writeln!(
        out,
        "commands     {} (seq 1..={})",
        counts.commands, s.end.last_seq
    )?;
    let first_ns = counts
        .first_timestamp_ns
        .unwrap_or(counts.last_timestamp_ns);
    let span_s = (counts.last_timestamp_ns - first_ns) as f64 / 1e9;
    writeln!(
        out,
        "time         {first_ns}..={} ns (span {span_s:.3} s)",
        counts.last_timestamp_ns
    )?;
    for (kind, count) in &s.by_kind {
        writeln!(out, "  {kind:<18} {count}")?;
    }
    writeln!(out, "digests      {}", counts.digests)?;
    if let Some((seq, d)) = counts.last_digest {
        writeln!(
            out,
            "last digest  seq {seq}: {} events, {:016x}",
            d.event_count, d.digest
        )?;
    }
    writeln!(out, "bytes        {} in records", counts.bytes)?;
    writeln!(
        out,
        "end          segment {} offset {}",
        s.end.segment_index, s.end.offset
    )?;
    match &s.end.torn {
        None => writeln!(out, "torn tail    none"),
        Some(t) => writeln!(
            out,
            "torn tail    {} at offset {} ({} bytes, {}); recovery cuts it",
            t.path.display(),
            t.offset,
            t.cut_bytes,
            t.fault
        ),
    }
}

fn config_summary(config: &CoreConfig) -> String {
    format!(
        "{} instruments, {} accounts, order capacity {}",
        config.engine.instruments.len(),
        config.engine.accounts.len(),
        config.engine.order_capacity
    )
}
