//! No allocation on the hot path: after start-up, `JournalWriter::append_command` and
//! `CoreStage::submit` (journal + core + digest) allocate nothing, including across segment
//! rolls' record writes. Method: a counting global allocator; warm up, then count the
//! allocations made while appending/submitting a realistic flow. Segment rolls allocate (a
//! path and a new mapping) and are excluded by sizing the segment above the measured flow.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use peregrine_engine::event::sink::CountSink;
use peregrine_engine::Sequenced;
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::{
    CoreConfig, CoreStage, Durability, JournalOptions, JournalWriter, StageOptions,
};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Relaxed: a statistics counter, read after the measured loop on the same thread.
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Relaxed: statistics counter, as above.
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SHAPE: FlowShape = FlowShape {
    instrument_count: 3,
    account_count: 4,
    admin: true,
};

fn allocations() -> u64 {
    // Relaxed: read on the thread that counted.
    ALLOCATIONS.load(Ordering::Relaxed)
}

#[test]
fn append_and_submit_do_not_allocate() {
    let journal_options = JournalOptions {
        segment_size_bytes: 16 << 20,
        durability: Durability::SyncEveryRecords(1_000),
        prefault: true,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut writer = JournalWriter::create(dir.path(), journal_options, b"config").unwrap();
    let mut flow = FlowGenerator::new(1, SHAPE);
    let inputs: Vec<Sequenced> = (1..=20_000)
        .map(|seq| Sequenced {
            seq,
            timestamp_ns: seq * 10,
            command: flow.next_command(),
        })
        .collect();
    let before = allocations();
    for input in &inputs {
        writer.append_command(input).unwrap();
    }
    assert_eq!(
        allocations() - before,
        0,
        "JournalWriter::append_command allocated"
    );

    let stage_dir = tempfile::tempdir().unwrap();
    let options = StageOptions {
        journal: journal_options,
        digest_interval_inputs: 100,
        snapshots_kept: 1,
    };
    let (mut stage, _) =
        CoreStage::open(stage_dir.path(), options, &CoreConfig::demo(3, 4, 1 << 14)).unwrap();
    let mut sink = CountSink::default();
    for input in &inputs[..5_000] {
        stage
            .submit(&input.command, input.timestamp_ns, &mut sink)
            .unwrap();
    }
    let before = allocations();
    for input in &inputs[5_000..] {
        stage
            .submit(&input.command, input.timestamp_ns, &mut sink)
            .unwrap();
    }
    assert_eq!(allocations() - before, 0, "CoreStage::submit allocated");
    assert!(sink.count > 20_000);
}
