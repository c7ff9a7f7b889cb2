//! Crash recovery, snapshots and certification replay through `CoreStage`.
//!
//! Method: run a deterministic random flow through a live stage (journal + core), taking
//! snapshots at random points, then "crash" (drop the stage without closing it). Recover the
//! same journal three ways: newest snapshot + tail, older snapshot (newest corrupted), and full
//! replay (snapshots deleted). Every way must give the live state (engine + risk snapshots
//! equal, `verify()` clean) and the live output digest, and must continue identically.

use std::path::Path;

use peregrine_engine::record::{encode_command, COMMAND_BYTES};
use peregrine_engine::{Command, Event};
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::format::{emit_record, RecordKind};
use peregrine_replay::snapshot::list_snapshots;
use peregrine_replay::{
    segment_path, verify_journal, CoreConfig, CoreStage, Durability, JournalOptions, JournalReader,
    OutputDigest, StageError, StageOptions,
};
use peregrine_risk::CoreSnapshot;
use proptest::prelude::*;

const SHAPE: FlowShape = FlowShape {
    instrument_count: 3,
    account_count: 4,
    admin: true,
};

fn config() -> CoreConfig {
    CoreConfig::demo(3, 4, 4_096)
}

fn options() -> StageOptions {
    StageOptions {
        journal: JournalOptions {
            segment_size_bytes: 1 << 16,
            durability: Durability::PageCache,
            prefault: false,
        },
        digest_interval_inputs: 64,
        snapshots_kept: 2,
    }
}

/// Submits `count` commands of `flow` with a clock that sometimes goes backwards.
fn run_flow(stage: &mut CoreStage, flow: &mut FlowGenerator, count: u64, events: &mut Vec<Event>) {
    for _ in 0..count {
        let seq = stage.last_seq() + 1;
        let jitter = if seq.is_multiple_of(7) { 0 } else { 1_500 };
        let now_ns = 1_000_000 + seq * 1_000 + jitter;
        stage.submit(&flow.next_command(), now_ns, events).unwrap();
    }
}

fn state(stage: &CoreStage) -> (CoreSnapshot, OutputDigest) {
    stage.core().verify();
    (stage.core().snapshot(), stage.digest())
}

fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.path().join(entry.file_name())).unwrap();
    }
    to
}

/// Recovers a copy of `dir`, checks it reproduces `live`, runs `more` commands of `tail_flow`
/// and returns the final state.
fn recover_and_continue(
    dir: &Path,
    live: &(CoreSnapshot, OutputDigest),
    tail_flow: &FlowGenerator,
    more: u64,
) -> (
    (CoreSnapshot, OutputDigest),
    peregrine_replay::RecoveryReport,
) {
    let (mut stage, report) = CoreStage::open(dir, options(), &config()).unwrap();
    assert_eq!(&state(&stage), live);
    assert_eq!(report.first_digest_mismatch, None);
    let mut flow = tail_flow.clone();
    run_flow(&mut stage, &mut flow, more, &mut Vec::new());
    (state(&stage), report)
}

/// A live stage in `dir` that ran `count` inputs of the seed's flow, snapshotting at each of
/// `points`; returns it with the flow positioned after `count`.
fn run_live(
    dir: &Path,
    seed: u64,
    count: u64,
    points: &[u64],
    events: &mut Vec<Event>,
) -> (CoreStage, FlowGenerator) {
    let (mut stage, report) = CoreStage::open(dir, options(), &config()).unwrap();
    assert!(report.created);
    let mut flow = FlowGenerator::new(seed, SHAPE);
    let mut done = 0;
    for &point in points {
        let point = point.min(count);
        run_flow(&mut stage, &mut flow, point - done, events);
        done = point;
        assert_eq!(stage.snapshot_now().unwrap().seq, point);
    }
    run_flow(&mut stage, &mut flow, count - done, events);
    (stage, flow)
}

/// Runs the whole scenario for one flow.
fn check_equivalence(seed: u64, count: u64, snapshot_points: &[u64], more: u64) {
    let live_dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    let (mut reference, mut flow) =
        run_live(live_dir.path(), seed, count, snapshot_points, &mut events);
    let live = state(&reference);
    assert_eq!(live.1.event_count, events.len() as u64);
    // The reference continuation: the live stage goes on.
    let tail_flow = flow.clone();
    run_flow(&mut reference, &mut flow, more, &mut Vec::new());
    let continued = state(&reference);
    drop(reference);
    // The crash image: the same live run stopped at `count`, dropped without `close`.
    let crash_dir = tempfile::tempdir().unwrap();
    let (crash, _) = run_live(
        crash_dir.path(),
        seed,
        count,
        snapshot_points,
        &mut Vec::new(),
    );
    assert_eq!(state(&crash), live);
    drop(crash);
    check_recoveries(crash_dir.path(), &live, &continued, &tail_flow, more, count);

    let reader = JournalReader::open(crash_dir.path()).unwrap();
    let verified = verify_journal(&reader, None, &mut |_| {}).unwrap();
    assert_eq!(verified.divergence, None);
    assert_eq!(verified.final_digest, live.1);
    let digests = count / 64 + snapshot_points.len() as u64;
    assert_eq!(verified.digests_checked, digests);
}

/// Newest snapshot + tail, older snapshot (newest corrupted), full replay (no snapshots):
/// each recovers `live` and continues to `continued`.
fn check_recoveries(
    crash_dir: &Path,
    live: &(CoreSnapshot, OutputDigest),
    continued: &(CoreSnapshot, OutputDigest),
    tail_flow: &FlowGenerator,
    more: u64,
    count: u64,
) {
    let snapshots = list_snapshots(crash_dir).unwrap();
    let newest = snapshots.first().map(|(seq, _)| *seq);
    let copy = copy_dir(crash_dir);
    let (after, report) = recover_and_continue(copy.path(), live, tail_flow, more);
    assert_eq!(&after, continued);
    assert_eq!(report.snapshot_seq, newest);
    assert_eq!(report.replayed_inputs, count - newest.unwrap_or(0));

    if let Some((_, newest_path)) = snapshots.first() {
        let copy = copy_dir(crash_dir);
        let name = newest_path.file_name().unwrap();
        let mut bytes = std::fs::read(copy.path().join(name)).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(copy.path().join(name), bytes).unwrap();
        let (after, report) = recover_and_continue(copy.path(), live, tail_flow, more);
        assert_eq!(&after, continued);
        assert_eq!(report.skipped_snapshots.len(), 1);
        assert_eq!(report.snapshot_seq, snapshots.get(1).map(|(seq, _)| *seq));
    }

    let copy = copy_dir(crash_dir);
    for (_, path) in list_snapshots(copy.path()).unwrap() {
        std::fs::remove_file(path).unwrap();
    }
    let (after, report) = recover_and_continue(copy.path(), live, tail_flow, more);
    assert_eq!(&after, continued);
    assert_eq!(report.snapshot_seq, None);
    assert_eq!(report.replayed_inputs, count);
}

#[test]
fn recovery_from_snapshot_older_snapshot_and_full_replay_match_live() {
    check_equivalence(1, 2_000, &[300, 1_100, 1_700], 300);
    check_equivalence(2, 129, &[], 50);
    check_equivalence(3, 64, &[64], 10);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn recovery_equivalence_for_random_flows(
        seed in any::<u64>(),
        count in 1u64..1_500,
        points in proptest::collection::vec(0u64..1_500, 0..3),
    ) {
        let mut points: Vec<u64> = points.into_iter().map(|p| p.min(count)).collect();
        points.sort_unstable();
        points.dedup();
        check_equivalence(seed, count, &points, 100);
    }
}

#[test]
fn a_different_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut stage, _) = CoreStage::open(dir.path(), options(), &config()).unwrap();
    run_flow(
        &mut stage,
        &mut FlowGenerator::new(5, SHAPE),
        10,
        &mut Vec::new(),
    );
    drop(stage);
    let mut other = config();
    other.risk.accounts[1].max_open_orders = 3;
    let error = CoreStage::open(dir.path(), options(), &other)
        .err()
        .unwrap();
    assert!(
        matches!(error, StageError::ConfigMismatch { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("another configuration"),
        "{error}"
    );
    let reader = JournalReader::open(dir.path()).unwrap();
    let error = verify_journal(&reader, Some(&other), &mut |_| {})
        .err()
        .unwrap();
    assert!(
        matches!(error, StageError::ConfigMismatch { .. }),
        "{error}"
    );
}

#[test]
fn timestamps_are_clamped_and_sequence_continues_after_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let (mut stage, _) = CoreStage::open(dir.path(), options(), &config()).unwrap();
    let mut flow = FlowGenerator::new(9, SHAPE);
    let mut sink = Vec::new();
    assert_eq!(
        stage
            .submit(&flow.next_command(), 5_000, &mut sink)
            .unwrap(),
        1
    );
    assert_eq!(
        stage
            .submit(&flow.next_command(), 4_000, &mut sink)
            .unwrap(),
        2
    );
    assert_eq!(stage.last_timestamp_ns(), 5_000);
    assert_eq!(
        stage
            .submit(&flow.next_command(), 6_000, &mut sink)
            .unwrap(),
        3
    );
    drop(stage);
    let (mut stage, report) = CoreStage::open(dir.path(), options(), &config()).unwrap();
    assert_eq!(report.last_seq, 3);
    assert_eq!(stage.last_timestamp_ns(), 6_000);
    assert_eq!(stage.submit(&flow.next_command(), 1, &mut sink).unwrap(), 4);
    assert_eq!(stage.last_timestamp_ns(), 6_000);
    let digest = stage.close().unwrap();
    let reader = JournalReader::open(dir.path()).unwrap();
    let mut cursor = reader.cursor();
    let mut stamps = Vec::new();
    while let Some(record) = cursor.next_record().unwrap() {
        if record.kind == RecordKind::Command {
            stamps.push(record.timestamp_ns);
        }
    }
    assert_eq!(stamps, vec![5_000, 5_000, 6_000, 6_000]);
    let verified = verify_journal(&reader, None, &mut |_| {}).unwrap();
    assert_eq!(verified.final_digest, digest);
}

/// Rewrites command `seq` of a journal with another command (a valid record, new CRC): the
/// journal reads fine but no longer matches its recorded digests.
fn tamper_command(dir: &Path, seq: u64, replacement: &Command) {
    let reader = JournalReader::open(dir).unwrap();
    let mut cursor = reader.cursor();
    let mut target = None;
    while let Some(record) = cursor.next_record().unwrap() {
        if record.kind == RecordKind::Command && record.seq == seq {
            target = Some((record.segment_index, record.offset, record.timestamp_ns));
        }
    }
    drop(reader);
    let (segment, offset, timestamp_ns) = target.unwrap();
    let path = segment_path(dir, segment);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut payload = [0u8; COMMAND_BYTES];
    encode_command(replacement, &mut payload);
    let at = offset as usize;
    emit_record(
        &mut bytes[at..],
        RecordKind::Command,
        seq,
        timestamp_ns,
        &payload,
    );
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn verify_reports_the_first_divergent_window() {
    let dir = tempfile::tempdir().unwrap();
    let (mut stage, _) = CoreStage::open(dir.path(), options(), &config()).unwrap();
    run_flow(
        &mut stage,
        &mut FlowGenerator::new(4, SHAPE),
        1_000,
        &mut Vec::new(),
    );
    stage.close().unwrap();
    let halt = Command::SetTradingStatus {
        instrument: peregrine_engine::InstrumentId(0),
        status: peregrine_engine::TradingStatus::Halted,
    };
    tamper_command(dir.path(), 300, &halt);
    let reader = JournalReader::open(dir.path()).unwrap();
    let report = verify_journal(&reader, None, &mut |_| {}).unwrap();
    let divergence = report.divergence.expect("tampered journal must diverge");
    assert_eq!(divergence.window_first_seq, 257);
    assert_eq!(divergence.window_last_seq, 320);
    assert_eq!(divergence.window_inputs.len(), 64);
    let (input, events) = &divergence.window_inputs[300 - 257];
    assert_eq!(input.command, halt);
    assert_eq!(
        divergence.window_events[events.clone()],
        [Event::TradingStatus {
            instrument: peregrine_engine::InstrumentId(0),
            status: peregrine_engine::TradingStatus::Halted
        }]
    );
    assert_eq!(report.digests_checked, 5);
}
