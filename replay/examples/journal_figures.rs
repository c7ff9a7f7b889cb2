//! The journal's headline figures, for the README and the issue note:
//! 1. append cost per record (ns, HDR percentiles) for each durability policy;
//! 2. a 10 M-input journal written live through `CoreStage` (journal + core), with a snapshot
//!    near the end; then replay throughput (journal read + CRC + decode only, and the full
//!    core replay of `verify_journal`) and recovery time (snapshot + tail, and full replay).
//!
//! Run: `cargo run --release -p peregrine-replay --example journal_figures -- [--inputs N]
//! [--dir DIR]` (default 10 M inputs in a temp dir; needs ~1.1 GB of disk). Page cache is warm
//! (the journal was just written): the figures exclude device reads.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hdrhistogram::Histogram;
use peregrine_engine::event::sink::CountSink;
use peregrine_engine::record::decode_command;
use peregrine_engine::Sequenced;
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::snapshot::list_snapshots;
use peregrine_replay::{
    verify_journal, CoreConfig, CoreStage, Durability, JournalOptions, JournalReader,
    JournalWriter, RecordKind, StageOptions,
};

const SHAPE: FlowShape = FlowShape {
    instrument_count: 8,
    account_count: 16,
    admin: true,
};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|at| args.get(at + 1).cloned())
}

fn inputs(count: u64) -> Vec<Sequenced> {
    let mut flow = FlowGenerator::new(42, SHAPE);
    (1..=count)
        .map(|seq| Sequenced {
            seq,
            timestamp_ns: seq,
            command: flow.next_command(),
        })
        .collect()
}

fn print_histogram(name: &str, histogram: &Histogram<u64>) {
    println!(
        "| {name:<34} | {:>9} | {:>7} | {:>7} | {:>8} | {:>9} | {:>9} |",
        histogram.len(),
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.value_at_quantile(0.9999),
        histogram.max(),
    );
}

/// Appends `case.records` records under `case.durability`, timing each; `case.batch` > 0 calls
/// `end_batch` after every `batch` records (its cost lands on the batch's last append).
fn append_latency(dir: &Path, case: &AppendCase) -> Histogram<u64> {
    let options = JournalOptions {
        segment_size_bytes: 64 << 20,
        durability: case.durability,
        prefault: case.prefault,
    };
    let mut writer = JournalWriter::create(dir, options, b"figures").unwrap();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    for input in inputs(case.records) {
        let start = Instant::now();
        writer.append_command(&input).unwrap();
        if case.batch > 0 && input.seq % case.batch == 0 {
            writer.end_batch().unwrap();
        }
        let spent = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        histogram.record(spent.max(1)).unwrap();
        if case.prepare && writer.segment_bytes_left() < 32 << 20 {
            writer.prepare_next_segment().unwrap(); // a quiet point, outside the timing
        }
    }
    histogram
}

fn timer_overhead() -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    for _ in 0..1_000_000 {
        let start = Instant::now();
        let spent = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        histogram.record(spent.max(1)).unwrap();
    }
    histogram
}

/// One row of the append table.
struct AppendCase {
    name: &'static str,
    durability: Durability,
    prefault: bool,
    records: u64,
    /// `end_batch` after every this many records (0: never).
    batch: u64,
    /// Prepare the next segment ahead, outside the timing.
    prepare: bool,
}

const fn case(
    name: &'static str,
    durability: Durability,
    prefault: bool,
    records: u64,
    batch: u64,
    prepare: bool,
) -> AppendCase {
    AppendCase {
        name,
        durability,
        prefault,
        records,
        batch,
        prepare,
    }
}

const APPEND_CASES: [AppendCase; 7] = [
    case(
        "page cache, prefaulted",
        Durability::PageCache,
        true,
        2_000_000,
        0,
        false,
    ),
    case(
        "page cache, prefaulted, prepared",
        Durability::PageCache,
        true,
        2_000_000,
        0,
        true,
    ),
    case(
        "page cache, no prefault",
        Durability::PageCache,
        false,
        2_000_000,
        0,
        false,
    ),
    case(
        "msync every record",
        Durability::SyncEveryRecords(1),
        true,
        5_000,
        0,
        true,
    ),
    case(
        "msync every 64 records",
        Durability::SyncEveryRecords(64),
        true,
        200_000,
        0,
        true,
    ),
    case(
        "msync per batch of 64",
        Durability::SyncPerBatch,
        true,
        200_000,
        64,
        true,
    ),
    case(
        "msync per batch of 1024",
        Durability::SyncPerBatch,
        true,
        500_000,
        1024,
        true,
    ),
];

fn append_figures(root: &Path) {
    println!("\n## Append cost per record (ns), 64 MiB segments\n");
    println!("| policy                             |   records |     p50 |     p99 |   p99.9 |  p99.99 |       max |");
    println!("|---|---|---|---|---|---|---|");
    print_histogram("(timer overhead: Instant pair)", &timer_overhead());
    for (index, case) in APPEND_CASES.iter().enumerate() {
        let dir = root.join(format!("append-{index}"));
        let histogram = append_latency(&dir, case);
        print_histogram(case.name, &histogram);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

fn stage_options() -> StageOptions {
    StageOptions {
        journal: JournalOptions {
            segment_size_bytes: 64 << 20,
            durability: Durability::PageCache,
            prefault: true,
        },
        digest_interval_inputs: 10_000,
        snapshots_kept: 2,
    }
}

fn rate(count: u64, seconds: f64) -> String {
    format!("{:.2} M/s", count as f64 / seconds / 1e6)
}

/// Writes the journal live; returns the config used.
fn write_live(dir: &Path, count: u64) -> CoreConfig {
    let config = CoreConfig::demo(8, 16, 1 << 20);
    let (mut stage, _) = CoreStage::open(dir, stage_options(), &config).unwrap();
    let mut flow = FlowGenerator::new(7, SHAPE);
    let mut sink = CountSink::default();
    let snapshot_at = count - count / 10;
    let start = Instant::now();
    for seq in 1..=count {
        stage
            .submit(&flow.next_command(), seq * 1_000, &mut sink)
            .unwrap();
        if seq.is_multiple_of(4_096) && stage.journal().segment_bytes_left() < 32 << 20 {
            stage.prepare_next_segment().unwrap();
        }
        if seq == snapshot_at {
            let begun = Instant::now();
            let pending = stage.capture_snapshot().unwrap();
            let captured_ms = begun.elapsed().as_secs_f64() * 1e3;
            let begun = Instant::now();
            let info = pending.write().unwrap();
            println!(
                "snapshot at seq {}: {} bytes; capture on the core thread {captured_ms:.2} ms, \
                 write (journal fsync + file) {:.1} ms",
                info.seq,
                info.bytes,
                begun.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "live: {count} inputs through CoreStage (journal + core + digest) in {seconds:.2} s = {}, {} events; {} resting orders at the end",
        rate(count, seconds),
        sink.count,
        stage.core().engine().resting_order_count()
    );
    drop(stage); // a crash: no close
    config
}

/// Walks the journal (every CRC checked); with `decode`, decodes every command too.
fn scan(dir: &Path, decode: bool) -> (u64, f64) {
    let start = Instant::now();
    let reader = JournalReader::open(dir).unwrap();
    let mut cursor = reader.cursor();
    let mut commands = 0u64;
    while let Some(record) = cursor.next_record().unwrap() {
        if record.kind == RecordKind::Command && (!decode || decode_command(record.payload).is_ok())
        {
            commands += 1;
        }
    }
    (commands, start.elapsed().as_secs_f64())
}

/// Best of `rounds` scans (the machine is shared and noisy).
fn best_scan(dir: &Path, decode: bool, rounds: u32) -> (u64, f64) {
    (0..rounds)
        .map(|_| scan(dir, decode))
        .fold((0, f64::MAX), |best, run| (run.0, best.1.min(run.1)))
}

fn replay_figures(dir: &Path, count: u64) {
    println!("\n## {count}-input journal\n");
    let config = write_live(dir, count);
    let bytes: u64 = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "journal + snapshots on disk: {:.1} MiB",
        bytes as f64 / (1 << 20) as f64
    );
    let (commands, seconds) = best_scan(dir, false, 5);
    println!(
        "read + CRC check (best of 5): {commands} records in {seconds:.3} s = {}",
        rate(commands, seconds)
    );
    let (commands, seconds) = best_scan(dir, true, 5);
    println!(
        "read + CRC check + decode (best of 5): {commands} records in {seconds:.3} s = {}",
        rate(commands, seconds)
    );
    let start = Instant::now();
    let reader = JournalReader::open(dir).unwrap();
    let report = verify_journal(&reader, Some(&config), &mut |_| {}).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(report.divergence.is_none());
    println!(
        "verify (full core replay + digest check): {} inputs, {} digests in {seconds:.2} s = {}",
        report.inputs,
        report.digests_checked,
        rate(report.inputs, seconds)
    );
    drop(reader);
    let start = Instant::now();
    let (stage, recovery) = CoreStage::open(dir, stage_options(), &config).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "recovery, snapshot {:?} + {} tail inputs: {seconds:.2} s",
        recovery.snapshot_seq, recovery.replayed_inputs
    );
    drop(stage);
    let parked: Vec<(PathBuf, PathBuf)> = list_snapshots(dir)
        .unwrap()
        .into_iter()
        .map(|(_, path)| (path.clone(), path.with_extension("parked")))
        .collect();
    for (from, to) in &parked {
        std::fs::rename(from, to).unwrap();
    }
    let start = Instant::now();
    let (stage, recovery) = CoreStage::open(dir, stage_options(), &config).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "recovery, full replay of {} inputs: {seconds:.2} s = {}",
        recovery.replayed_inputs,
        rate(recovery.replayed_inputs, seconds)
    );
    drop(stage);
    for (from, to) in &parked {
        std::fs::rename(to, from).unwrap();
    }
}

fn main() {
    let count: u64 = arg("--inputs")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let temp = tempfile::tempdir_in(
        arg("--dir").unwrap_or_else(|| std::env::temp_dir().display().to_string()),
    )
    .unwrap();
    println!(
        "# peregrine-replay journal figures ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if arg("--skip-append").is_none() && !std::env::args().any(|a| a == "--skip-append") {
        append_figures(temp.path());
    }
    replay_figures(&temp.path().join("journal"), count);
}
