//! SPSC ring throughput and round-trip latency under criterion: our ring beside `rtrb` and
//! crossbeam's `ArrayQueue` (see `peers/mod.rs` for how each is driven), in the same run.
//!
//! - `throughput_single/<record>/<ring>`: a producer thread pushes records one at a time, the
//!   measuring thread pops them one at a time; reported as records/s.
//! - `throughput_batch/<record>/<ring>`: the same with chunked writes (up to 256 records) and
//!   reads (as many as are ready). `ArrayQueue` has no batch API.
//! - `same_thread/<record>/<ring>`: bursts of single pushes then pops on one thread: the cost
//!   of the operations alone, and the figure least disturbed by other load on the machine.
//! - `round_trip/<record>/<ring>`: ping-pong over two rings between two threads; the time per
//!   iteration is one round trip (two hops).
//!
//! Each group runs its contenders one after another, so on a shared machine a change in load
//! between them skews the ratios; `ring_interleaved.rs` alternates them instead.
//!
//! Run: `cargo bench -p peregrine-tuning --bench ring -- --warm-up-time 1 --measurement-time 3`.

mod peers;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use peers::{Contender, Record, Record64};

/// Records moved per criterion iteration in the throughput groups.
const RECORDS_PER_ITERATION: u64 = 10_000;

/// Adds `contenders` to `group`; an iteration moves `count_per_iteration` records or round trips.
fn add<R: Record>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    contenders: Vec<Contender>,
    count_per_iteration: u64,
) {
    for contender in contenders {
        group.bench_function(format!("{}/{}", R::NAME, contender.ring), |b| {
            b.iter_custom(|iters| (contender.run)(iters * count_per_iteration))
        });
    }
}

fn bench_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_single");
    group.throughput(Throughput::Elements(RECORDS_PER_ITERATION));
    group.sample_size(20);
    add::<u64>(
        &mut group,
        peers::throughput_single::<u64>(),
        RECORDS_PER_ITERATION,
    );
    add::<Record64>(
        &mut group,
        peers::throughput_single::<Record64>(),
        RECORDS_PER_ITERATION,
    );
    group.finish();
    let mut group = c.benchmark_group("throughput_batch");
    group.throughput(Throughput::Elements(RECORDS_PER_ITERATION));
    group.sample_size(20);
    add::<u64>(
        &mut group,
        peers::throughput_batch::<u64>(),
        RECORDS_PER_ITERATION,
    );
    add::<Record64>(
        &mut group,
        peers::throughput_batch::<Record64>(),
        RECORDS_PER_ITERATION,
    );
    group.finish();
}

fn bench_same_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("same_thread");
    group.throughput(Throughput::Elements(RECORDS_PER_ITERATION));
    add::<u64>(
        &mut group,
        peers::same_thread_single::<u64>(),
        RECORDS_PER_ITERATION,
    );
    add::<Record64>(
        &mut group,
        peers::same_thread_single::<Record64>(),
        RECORDS_PER_ITERATION,
    );
    group.finish();
}

fn bench_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group.sample_size(20);
    add::<u64>(&mut group, peers::round_trip::<u64>(), 1);
    add::<Record64>(&mut group, peers::round_trip::<Record64>(), 1);
    group.finish();
}

criterion_group!(
    benches,
    bench_same_thread,
    bench_throughput,
    bench_round_trip
);
criterion_main!(benches);
