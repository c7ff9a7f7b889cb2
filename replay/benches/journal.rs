//! Micro-benchmarks of the journal hot paths: one command append (page-cache durability),
//! reading + checking + decoding one record, the output digest per event (XXH3 chain against
//! the engine's byte-wise FNV-1a), and CRC32C over one command record.
//!
//! Run: `cargo bench -p peregrine-replay --bench journal`. The tail-latency figures (p50/p99
//! per durability policy) and the 10 M-record replay/recovery figures come from the
//! `journal_figures` example (release build), since criterion reports means.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use peregrine_engine::record::{decode_command, EventDigest};
use peregrine_engine::{Event, Sequenced};
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::format::{emit_record, RecordKind};
use peregrine_replay::{Durability, JournalOptions, JournalReader, JournalWriter, OutputDigest};

const SHAPE: FlowShape = FlowShape {
    instrument_count: 8,
    account_count: 16,
    admin: false,
};
/// Records per fresh journal in the append benchmark (keeps each journal at ~19 MiB).
const RECORDS_PER_JOURNAL: u64 = 200_000;

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

fn options() -> JournalOptions {
    JournalOptions {
        segment_size_bytes: 32 << 20,
        durability: Durability::PageCache,
        prefault: true,
    }
}

fn bench_append(c: &mut Criterion) {
    let commands = inputs(RECORDS_PER_JOURNAL);
    let mut group = c.benchmark_group("journal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("append_command_page_cache", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let dir = tempfile::tempdir().unwrap();
                let mut writer = JournalWriter::create(dir.path(), options(), b"bench").unwrap();
                let batch = left.min(RECORDS_PER_JOURNAL);
                let start = Instant::now();
                for input in &commands[..batch as usize] {
                    writer.append_command(input).unwrap();
                }
                spent += start.elapsed();
                left -= batch;
            }
            spent
        });
    });
    group.finish();
}

fn bench_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = JournalWriter::create(dir.path(), options(), b"bench").unwrap();
    let count = 100_000u64;
    for input in inputs(count) {
        writer.append_command(&input).unwrap();
    }
    drop(writer);
    let reader = JournalReader::open(dir.path()).unwrap();
    let mut group = c.benchmark_group("journal");
    group.throughput(Throughput::Elements(count));
    group.bench_function("read_check_decode_100k", |b| {
        b.iter(|| {
            let mut cursor = reader.cursor();
            let mut decoded = 0u64;
            while let Some(record) = cursor.next_record().unwrap() {
                if record.kind == RecordKind::Command && decode_command(record.payload).is_ok() {
                    decoded += 1;
                }
            }
            assert_eq!(decoded, count);
        });
    });
    group.finish();
}

fn bench_digest_and_crc(c: &mut Criterion) {
    let event = Event::TradingStatus {
        instrument: peregrine_engine::InstrumentId(3),
        status: peregrine_engine::TradingStatus::Halted,
    };
    let mut group = c.benchmark_group("digest_per_event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("xxh3_chain", |b| {
        let mut digest = OutputDigest::default();
        b.iter(|| digest.add(std::hint::black_box(&event)));
    });
    group.bench_function("fnv1a_engine_event_digest", |b| {
        let mut digest = EventDigest::default();
        b.iter(|| digest.add(std::hint::black_box(&event)));
    });
    group.finish();
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(1));
    group.bench_function("emit_command_record_with_crc32c", |b| {
        let payload = [7u8; 64];
        b.iter_batched_ref(
            || [0u8; 96],
            |out| {
                emit_record(
                    out,
                    RecordKind::Command,
                    1,
                    2,
                    std::hint::black_box(&payload),
                )
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = bench_append, bench_read, bench_digest_and_crc
}
criterion_main!(benches);
