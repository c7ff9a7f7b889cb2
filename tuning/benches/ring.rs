//! SPSC ring throughput and round-trip latency: our ring beside `rtrb` and crossbeam's
//! `ArrayQueue`, with the same record types, the same capacity and the same busy-spin waiting,
//! in the same run.
//!
//! - `throughput_single/<record>/<ring>`: a producer thread pushes records one at a time, the
//!   measuring thread pops them one at a time; reported as records/s.
//! - `throughput_batch/<record>/<ring>`: the same with chunked writes and reads (up to
//!   `BATCH_RECORDS` per write, as many as are ready per read). `ArrayQueue` has no batch API.
//! - `round_trip/<record>/<ring>`: ping-pong over two rings between two threads; the time per
//!   iteration is one round trip (two hops).
//!
//! Both threads are pinned, the measuring thread to the first allowed core and its peer to the
//! last (where the host allows it), as the pipeline's stages are.
//!
//! Run: `cargo bench -p peregrine-tuning --bench ring -- --warm-up-time 1 --measurement-time 3`.

use std::hint::{black_box, spin_loop};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use peregrine_tuning::{cpu, ring};

const CAPACITY_RECORDS: usize = 1024;
const RECORDS_PER_ITERATION: u64 = 10_000;
const BATCH_RECORDS: usize = 256;

/// A record the benches can build from a sequence number and read it back from.
trait Record: Copy + Send + 'static {
    const NAME: &'static str;
    fn from_seq(seq: u64) -> Self;
    fn seq(&self) -> u64;
}

impl Record for u64 {
    const NAME: &'static str = "u64";
    fn from_seq(seq: u64) -> Self {
        seq
    }
    fn seq(&self) -> u64 {
        *self
    }
}

/// A 64-byte record, the size of a pipeline event.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Record64 {
    seq: u64,
    payload: [u64; 7],
}

const _: () = assert!(std::mem::size_of::<Record64>() == 64);

impl Record for Record64 {
    const NAME: &'static str = "record64";
    fn from_seq(seq: u64) -> Self {
        Record64 {
            seq,
            payload: [seq; 7],
        }
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

/// Pins the calling thread to the first (`last == false`) or last allowed core; a refusal
/// (logged by `cpu`) leaves it unpinned.
fn pin(last: bool) {
    // Read once, before the first pin narrows the measuring thread's own mask.
    static CORES: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    let cores = CORES.get_or_init(|| cpu::allowed_core_indices().unwrap_or_default());
    let core = if last { cores.last() } else { cores.first() };
    if let (Some(&core_index), true) = (core, cores.len() >= 2) {
        cpu::pin_current_thread(core_index);
    }
}

/// Times `record_count` records from a spawned producer (`send`) to this thread (`receive`).
fn time_transfer<P: Send + 'static, C>(
    (producer, consumer): (P, C),
    record_count: u64,
    send: fn(P, u64),
    receive: fn(C, u64),
) -> Duration {
    pin(false);
    let start = Instant::now();
    let sender = thread::spawn(move || {
        pin(true);
        send(producer, record_count)
    });
    receive(consumer, record_count);
    let elapsed = start.elapsed();
    sender.join().unwrap();
    elapsed
}

/// Checks arrival order cheaply, so the optimiser cannot drop the reads.
fn check_seq<R: Record>(record: &R, expected: u64) {
    assert_eq!(black_box(record).seq(), expected);
}

fn ours_send<R: Record>(mut producer: ring::Producer<R>, record_count: u64) {
    for seq in 0..record_count {
        while producer.try_push(R::from_seq(seq)).is_err() {
            spin_loop();
        }
    }
}

fn ours_receive<R: Record>(mut consumer: ring::Consumer<R>, record_count: u64) {
    for seq in 0..record_count {
        loop {
            if let Some(record) = consumer.try_pop() {
                check_seq(&record, seq);
                break;
            }
            spin_loop();
        }
    }
}

fn ours_send_batch<R: Record>(mut producer: ring::Producer<R>, record_count: u64) {
    let mut seq = 0;
    while seq < record_count {
        let mut chunk = producer.write_slots(BATCH_RECORDS);
        while seq < record_count && chunk.push(R::from_seq(seq)).is_ok() {
            seq += 1;
        }
        if chunk.commit_all() == 0 {
            spin_loop();
        }
    }
}

fn ours_receive_batch<R: Record>(mut consumer: ring::Consumer<R>, record_count: u64) {
    let mut seq = 0;
    while seq < record_count {
        let chunk = consumer.read_chunk(CAPACITY_RECORDS);
        for record in chunk.iter() {
            check_seq(record, seq);
            seq += 1;
        }
        if chunk.release_all() == 0 {
            spin_loop();
        }
    }
}

fn rtrb_send<R: Record>(mut producer: rtrb::Producer<R>, record_count: u64) {
    for seq in 0..record_count {
        while producer.push(R::from_seq(seq)).is_err() {
            spin_loop();
        }
    }
}

fn rtrb_receive<R: Record>(mut consumer: rtrb::Consumer<R>, record_count: u64) {
    for seq in 0..record_count {
        loop {
            if let Ok(record) = consumer.pop() {
                check_seq(&record, seq);
                break;
            }
            spin_loop();
        }
    }
}

fn rtrb_send_batch<R: Record>(mut producer: rtrb::Producer<R>, record_count: u64) {
    let mut seq = 0;
    while seq < record_count {
        let remaining = usize::try_from(record_count - seq).unwrap_or(usize::MAX);
        let len = producer.slots().min(BATCH_RECORDS).min(remaining);
        if len == 0 {
            spin_loop();
            continue;
        }
        let chunk = producer.write_chunk_uninit(len).unwrap();
        let first = seq;
        seq += chunk.fill_from_iter((first..).map(R::from_seq)) as u64;
    }
}

fn rtrb_receive_batch<R: Record>(mut consumer: rtrb::Consumer<R>, record_count: u64) {
    let mut seq = 0;
    while seq < record_count {
        let len = consumer.slots();
        if len == 0 {
            spin_loop();
            continue;
        }
        let chunk = consumer.read_chunk(len).unwrap();
        let (first, second) = chunk.as_slices();
        for record in first.iter().chain(second) {
            check_seq(record, seq);
            seq += 1;
        }
        chunk.commit_all();
    }
}

type Queue<R> = std::sync::Arc<ArrayQueue<R>>;

fn crossbeam_send<R: Record>(queue: Queue<R>, record_count: u64) {
    for seq in 0..record_count {
        while queue.push(R::from_seq(seq)).is_err() {
            spin_loop();
        }
    }
}

fn crossbeam_receive<R: Record>(queue: Queue<R>, record_count: u64) {
    for seq in 0..record_count {
        loop {
            if let Some(record) = queue.pop() {
                check_seq(&record, seq);
                break;
            }
            spin_loop();
        }
    }
}

fn crossbeam_pair<R: Record>() -> (Queue<R>, Queue<R>) {
    let queue = std::sync::Arc::new(ArrayQueue::new(CAPACITY_RECORDS));
    (queue.clone(), queue)
}

fn ours_pair<R: Record>() -> (ring::Producer<R>, ring::Consumer<R>) {
    ring::channel(CAPACITY_RECORDS).unwrap()
}

fn throughput<R: Record>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    batch: bool,
) {
    let name = |ring: &str| format!("{}/{ring}", R::NAME);
    let count = |iters: u64| iters * RECORDS_PER_ITERATION;
    if batch {
        group.bench_function(name("peregrine"), |b| {
            b.iter_custom(|iters| {
                time_transfer(
                    ours_pair::<R>(),
                    count(iters),
                    ours_send_batch,
                    ours_receive_batch,
                )
            })
        });
        group.bench_function(name("rtrb"), |b| {
            b.iter_custom(|iters| {
                let pair = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
                time_transfer(pair, count(iters), rtrb_send_batch, rtrb_receive_batch)
            })
        });
        return;
    }
    group.bench_function(name("peregrine"), |b| {
        b.iter_custom(|iters| {
            time_transfer(ours_pair::<R>(), count(iters), ours_send, ours_receive)
        })
    });
    group.bench_function(name("rtrb"), |b| {
        b.iter_custom(|iters| {
            let pair = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
            time_transfer(pair, count(iters), rtrb_send, rtrb_receive)
        })
    });
    group.bench_function(name("crossbeam"), |b| {
        b.iter_custom(|iters| {
            time_transfer(
                crossbeam_pair::<R>(),
                count(iters),
                crossbeam_send,
                crossbeam_receive,
            )
        })
    });
}

fn bench_throughput(c: &mut Criterion) {
    for batch in [false, true] {
        let mut group = c.benchmark_group(if batch {
            "throughput_batch"
        } else {
            "throughput_single"
        });
        group.throughput(Throughput::Elements(RECORDS_PER_ITERATION));
        group.sample_size(20);
        throughput::<u64>(&mut group, batch);
        throughput::<Record64>(&mut group, batch);
        group.finish();
    }
}

/// The two ends of a ping-pong: `push` to the other thread, `pop` from it.
trait Hop<R>: Send + 'static {
    fn push(&mut self, record: R) -> bool;
    fn pop(&mut self) -> Option<R>;
}

impl<R: Record> Hop<R> for (ring::Producer<R>, ring::Consumer<R>) {
    fn push(&mut self, record: R) -> bool {
        self.0.try_push(record).is_ok()
    }
    fn pop(&mut self) -> Option<R> {
        self.1.try_pop()
    }
}

impl<R: Record> Hop<R> for (rtrb::Producer<R>, rtrb::Consumer<R>) {
    fn push(&mut self, record: R) -> bool {
        self.0.push(record).is_ok()
    }
    fn pop(&mut self) -> Option<R> {
        self.1.pop().ok()
    }
}

impl<R: Record> Hop<R> for (Queue<R>, Queue<R>) {
    fn push(&mut self, record: R) -> bool {
        self.0.push(record).is_ok()
    }
    fn pop(&mut self) -> Option<R> {
        self.1.pop()
    }
}

/// Sends `record` one hop, spinning while the ring is full.
fn push_spinning<R: Record>(end: &mut impl Hop<R>, record: R) {
    while !end.push(record) {
        spin_loop();
    }
}

/// Takes one record, spinning while the ring is empty.
fn pop_spinning<R: Record>(end: &mut impl Hop<R>) -> R {
    loop {
        if let Some(record) = end.pop() {
            return record;
        }
        spin_loop();
    }
}

/// Times `round_trips` ping-pongs between this thread (`near`) and an echo thread (`far`).
fn time_round_trips<R: Record, H: Hop<R>>(
    (mut near, mut far): (H, H),
    round_trips: u64,
) -> Duration {
    pin(false);
    let echo = thread::spawn(move || {
        pin(true);
        for _ in 0..round_trips {
            let record = pop_spinning(&mut far);
            push_spinning(&mut far, record);
        }
    });
    let start = Instant::now();
    for seq in 0..round_trips {
        push_spinning(&mut near, R::from_seq(seq));
        check_seq(&pop_spinning(&mut near), seq);
    }
    let elapsed = start.elapsed();
    echo.join().unwrap();
    elapsed
}

fn round_trip<R: Record>(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let name = |ring: &str| format!("{}/{ring}", R::NAME);
    group.bench_function(name("peregrine"), |b| {
        b.iter_custom(|iters| {
            let (ping_producer, ping_consumer) = ours_pair::<R>();
            let (pong_producer, pong_consumer) = ours_pair::<R>();
            time_round_trips::<R, _>(
                (
                    (ping_producer, pong_consumer),
                    (pong_producer, ping_consumer),
                ),
                iters,
            )
        })
    });
    group.bench_function(name("rtrb"), |b| {
        b.iter_custom(|iters| {
            let (ping_producer, ping_consumer) = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
            let (pong_producer, pong_consumer) = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
            time_round_trips::<R, _>(
                (
                    (ping_producer, pong_consumer),
                    (pong_producer, ping_consumer),
                ),
                iters,
            )
        })
    });
    group.bench_function(name("crossbeam"), |b| {
        b.iter_custom(|iters| {
            let (ping_near, ping_far) = crossbeam_pair::<R>();
            let (pong_far, pong_near) = crossbeam_pair::<R>();
            time_round_trips::<R, _>(((ping_near, pong_near), (pong_far, ping_far)), iters)
        })
    });
}

fn bench_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group.sample_size(20);
    round_trip::<u64>(&mut group);
    round_trip::<Record64>(&mut group);
    group.finish();
}

criterion_group!(benches, bench_throughput, bench_round_trip);
criterion_main!(benches);
