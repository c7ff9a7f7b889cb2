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
use peregrine_replay::{CoreConfig, DigestPayload, JournalReader, Record, RecordKind, TornTail};
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

fn stats(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
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
    let config = CoreConfig::decode(reader.config());
    let by_kind: Vec<(String, u64)> = CommandKind::ALL
        .iter()
        .map(|kind| {
            (
                kind.to_string(),
                counts
                    .by_kind
                    .get(usize::from(kind.code()))
                    .copied()
                    .unwrap_or(0),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let value = json!({
            "path": path.display().to_string(),
            "segments": segments.len(),
            "segment_size_bytes": segments.first().map(|s| s.header.segment_size_bytes),
            "config_digest": format!("{:016x}", reader.config_digest()),
            "config": config.as_ref().map(config_summary).unwrap_or_else(|e| e.to_string()),
            "commands": counts.commands,
            "digests": counts.digests,
            "record_bytes": counts.bytes,
            "last_seq": end.last_seq,
            "first_timestamp_ns": counts.first_timestamp_ns,
            "last_timestamp_ns": counts.last_timestamp_ns,
            "commands_by_kind": by_kind.iter().map(|(k, n)| json!({ "kind": k, "count": n })).collect::<Vec<_>>(),
            "last_digest": counts.last_digest.map(|(seq, d)| json!({
                "seq": seq, "event_count": d.event_count, "digest": format!("{:016x}", d.digest),
            })),
            "end": { "segment": end.segment_index, "offset": end.offset },
            "torn_tail": end.torn.as_ref().map(|t| json!({
                "path": t.path.display().to_string(), "offset": t.offset, "bytes": t.cut_bytes,
                "fault": t.fault.to_string(),
            })),
        });
        writeln!(out, "{value}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "journal      {}", path.display())?;
    let size = segments.first().map_or(0, |s| s.header.segment_size_bytes);
    writeln!(out, "segments     {} of {} bytes", segments.len(), size)?;
    let summary = config
        .as_ref()
        .map(config_summary)
        .unwrap_or_else(|e| e.to_string());
    writeln!(
        out,
        "config       {:016x} ({summary})",
        reader.config_digest()
    )?;
    writeln!(
        out,
        "commands     {} (seq 1..={})",
        counts.commands, end.last_seq
    )?;
    let span_ns = counts.last_timestamp_ns
        - counts
            .first_timestamp_ns
            .unwrap_or(counts.last_timestamp_ns);
    writeln!(
        out,
        "time         {}..={} ns (span {:.3} s)",
        counts.first_timestamp_ns.unwrap_or(0),
        counts.last_timestamp_ns,
        span_ns as f64 / 1e9
    )?;
    for (kind, n) in &by_kind {
        writeln!(out, "  {kind:<18} {n}")?;
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
        end.segment_index, end.offset
    )?;
    match &end.torn {
        None => writeln!(out, "torn tail    none")?,
        Some(t) => writeln!(
            out,
            "torn tail    {} at offset {} ({} bytes, {}); recovery cuts it",
            t.path.display(),
            t.offset,
            t.cut_bytes,
            t.fault
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

fn config_summary(config: &CoreConfig) -> String {
    format!(
        "{} instruments, {} accounts, order capacity {}",
        config.engine.instruments.len(),
        config.engine.accounts.len(),
        config.engine.order_capacity
    )
}
