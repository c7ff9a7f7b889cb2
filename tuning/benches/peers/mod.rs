//! The contenders shared by the ring benches: our ring, `rtrb` and crossbeam's `ArrayQueue`, each
//! driven the same way (same record types, same capacity, busy-spin waiting, both threads
//! pinned to separate cores where the host allows it).
//!
//! A contender is a name and a function that moves a given number of records (or round trips)
//! and returns the time taken, so `ring.rs` (criterion) and `ring_interleaved.rs` time exactly
//! the same code.

use std::hint::{black_box, spin_loop};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use peregrine_tuning::{cpu, ring};

pub const CAPACITY_RECORDS: usize = 1024;
const BATCH_RECORDS: usize = 256;

/// A record the benches can build from a sequence number and read it back from.
pub trait Record: Copy + Send + 'static {
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
pub struct Record64 {
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

/// One ring under test: its name and how to time `count` records or round trips on it.
pub struct Contender {
    pub ring: &'static str,
    pub run: fn(u64) -> Duration,
}

fn ours_single<R: Record>(record_count: u64) -> Duration {
    time_transfer(ours_pair::<R>(), record_count, ours_send, ours_receive)
}

fn rtrb_single<R: Record>(record_count: u64) -> Duration {
    let pair = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
    time_transfer(pair, record_count, rtrb_send, rtrb_receive)
}

fn crossbeam_single<R: Record>(record_count: u64) -> Duration {
    time_transfer(
        crossbeam_pair::<R>(),
        record_count,
        crossbeam_send,
        crossbeam_receive,
    )
}

fn ours_batch<R: Record>(record_count: u64) -> Duration {
    time_transfer(
        ours_pair::<R>(),
        record_count,
        ours_send_batch,
        ours_receive_batch,
    )
}

fn rtrb_batch<R: Record>(record_count: u64) -> Duration {
    let pair = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
    time_transfer(pair, record_count, rtrb_send_batch, rtrb_receive_batch)
}

fn ours_round_trips<R: Record>(round_trips: u64) -> Duration {
    let (ping_producer, ping_consumer) = ours_pair::<R>();
    let (pong_producer, pong_consumer) = ours_pair::<R>();
    let ends = (
        (ping_producer, pong_consumer),
        (pong_producer, ping_consumer),
    );
    time_round_trips::<R, _>(ends, round_trips)
}

fn rtrb_round_trips<R: Record>(round_trips: u64) -> Duration {
    let (ping_producer, ping_consumer) = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
    let (pong_producer, pong_consumer) = rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS);
    let ends = (
        (ping_producer, pong_consumer),
        (pong_producer, ping_consumer),
    );
    time_round_trips::<R, _>(ends, round_trips)
}

fn crossbeam_round_trips<R: Record>(round_trips: u64) -> Duration {
    let (ping_near, ping_far) = crossbeam_pair::<R>();
    let (pong_far, pong_near) = crossbeam_pair::<R>();
    time_round_trips::<R, _>(((ping_near, pong_near), (pong_far, ping_far)), round_trips)
}

/// Pushes and pops `record_count` records on the calling thread, a burst of up to
/// `BATCH_RECORDS` at a time: the cost of the operations themselves, with no cache line moving
/// between cores and no waiting for another thread.
fn same_thread<R: Record, E: Hop<R>>(mut end: E, record_count: u64) -> Duration {
    let start = Instant::now();
    let mut seq = 0;
    while seq < record_count {
        let burst_len = (record_count - seq).min(BATCH_RECORDS as u64);
        for offset in 0..burst_len {
            assert!(end.push(R::from_seq(seq + offset)));
        }
        for _ in 0..burst_len {
            check_seq(&end.pop().unwrap_or_else(|| R::from_seq(u64::MAX)), seq);
            seq += 1;
        }
    }
    start.elapsed()
}

/// Single push and pop on one thread; `run` takes a record count.
pub fn same_thread_single<R: Record>() -> Vec<Contender> {
    vec![
        Contender {
            ring: "peregrine",
            run: |count| same_thread::<R, _>(ours_pair::<R>(), count),
        },
        Contender {
            ring: "rtrb",
            run: |count| same_thread::<R, _>(rtrb::RingBuffer::<R>::new(CAPACITY_RECORDS), count),
        },
        Contender {
            ring: "crossbeam",
            run: |count| same_thread::<R, _>(crossbeam_pair::<R>(), count),
        },
    ]
}

/// Records pushed and popped one at a time; `run` takes a record count.
pub fn throughput_single<R: Record>() -> Vec<Contender> {
    vec![
        Contender {
            ring: "peregrine",
            run: ours_single::<R>,
        },
        Contender {
            ring: "rtrb",
            run: rtrb_single::<R>,
        },
        Contender {
            ring: "crossbeam",
            run: crossbeam_single::<R>,
        },
    ]
}

/// Records written and read in chunks; `ArrayQueue` has no batch API. `run` takes a record count.
pub fn throughput_batch<R: Record>() -> Vec<Contender> {
    vec![
        Contender {
            ring: "peregrine",
            run: ours_batch::<R>,
        },
        Contender {
            ring: "rtrb",
            run: rtrb_batch::<R>,
        },
    ]
}

/// Ping-pong over two rings; `run` takes a round-trip count.
pub fn round_trip<R: Record>() -> Vec<Contender> {
    vec![
        Contender {
            ring: "peregrine",
            run: ours_round_trips::<R>,
        },
        Contender {
            ring: "rtrb",
            run: rtrb_round_trips::<R>,
        },
        Contender {
            ring: "crossbeam",
            run: crossbeam_round_trips::<R>,
        },
    ]
}
