//! Two-thread stress tests of the SPSC ring.
//!
//! Goal: show that every record crosses the ring exactly once, in order and intact, through
//! every mix of the single and batch APIs, while the ring is constantly full or empty.
//!
//! Method: a producer thread sends a known sequence (`u64` counters, or 64-byte records whose
//! payload and checksum are derived from their sequence number) through a small ring; the
//! consumer thread recomputes what each record must be and compares. Chunk sizes and partial
//! commits/releases follow a seeded xorshift, so runs are reproducible. Both sides wait with
//! `spin-then-yield`, so the test also makes progress on a busy 2-core machine.

#![cfg(not(loom))]

use std::thread;

use peregrine_tuning::ring::{self, Consumer, Full, Producer};
use peregrine_tuning::wait::{WaitStrategy, Waiter};

const CAPACITY_RECORDS: usize = 1024;
const WAIT: WaitStrategy = WaitStrategy::SpinThenYield { spins: 64 };

/// Record counts, scaled down under Miri (where these tests are far too slow to run in full).
const fn scaled(record_count: u64) -> u64 {
    if cfg!(miri) {
        record_count / 100_000
    } else {
        record_count
    }
}

/// A deterministic xorshift64 generator for chunk sizes.
struct Sizes(u64);

impl Sizes {
    /// A value in `1..=max`.
    fn next_len(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % max as u64) as usize + 1
    }
}

/// A 64-byte record with a checksum over the rest, the shape of a pipeline event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(64))]
struct Record64 {
    seq: u64,
    payload: [u64; 6],
    checksum: u64,
}

const _: () = assert!(std::mem::size_of::<Record64>() == 64);

impl Record64 {
    /// The record the producer sends as number `seq`.
    fn for_seq(seq: u64) -> Record64 {
        let mut payload = [0; 6];
        let mut state = seq;
        for word in &mut payload {
            // splitmix64 step: every word depends on `seq`, so a torn or stale slot shows.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut mixed = state;
            mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *word = mixed ^ (mixed >> 31);
        }
        let checksum = checksum_of(seq, &payload);
        Record64 {
            seq,
            payload,
            checksum,
        }
    }

    /// Checks the record is intact and is number `expected_seq`.
    fn check(&self, expected_seq: u64) {
        assert_eq!(self.seq, expected_seq);
        assert_eq!(
            self.checksum,
            checksum_of(self.seq, &self.payload),
            "torn record {self:?}"
        );
        assert_eq!(*self, Record64::for_seq(expected_seq));
    }
}

/// An order-sensitive fold of the record's words.
fn checksum_of(seq: u64, payload: &[u64; 6]) -> u64 {
    payload
        .iter()
        .fold(seq ^ 0xa5a5_a5a5_a5a5_a5a5, |sum, &word| {
            sum.rotate_left(7).wrapping_mul(31) ^ word
        })
}

/// Sends records `0..record_count` (as `make(seq)`) one `try_push` at a time.
fn send_single<T: Copy>(mut producer: Producer<T>, record_count: u64, make: Make<T>) {
    let mut waiter = Waiter::new(WAIT);
    for seq in 0..record_count {
        let mut record = make(seq);
        while let Err(Full(back)) = producer.try_push(record) {
            record = back;
            waiter.idle();
        }
        waiter.reset();
    }
}

/// Sends records `0..record_count` in chunks of random size, sometimes committing only part of
/// what was written (the rest is written again in the next chunk), alternating `push` and the
/// in-place `push_with`.
fn send_batch<T: Copy>(mut producer: Producer<T>, record_count: u64, make: Make<T>) {
    let mut waiter = Waiter::new(WAIT);
    let mut sizes = Sizes(0x1234_5678_9abc_def1);
    let mut next_seq = 0;
    while next_seq < record_count {
        let max_len = sizes.next_len(CAPACITY_RECORDS / 2);
        let mut chunk = producer.write_slots(max_len);
        let mut seq = next_seq;
        while seq < record_count && !chunk.is_full() {
            if seq % 2 == 0 {
                assert!(chunk.push(make(seq)).is_ok());
            } else {
                chunk.push_with(|slot| slot.write(make(seq))).unwrap();
            }
            seq += 1;
        }
        let written_len = chunk.written_len();
        let commit_len = if sizes.next_len(4) == 1 {
            written_len / 2
        } else {
            written_len
        };
        chunk.commit(commit_len);
        next_seq += commit_len as u64;
        if commit_len == 0 {
            waiter.idle();
        } else {
            waiter.reset();
        }
    }
}

/// Receives `record_count` records one `try_pop` at a time, checking each.
fn receive_single<T: Copy>(mut consumer: Consumer<T>, record_count: u64, check: Check<T>) {
    let mut waiter = Waiter::new(WAIT);
    for seq in 0..record_count {
        let record = loop {
            match consumer.try_pop() {
                Some(record) => break record,
                None => waiter.idle(),
            }
        };
        waiter.reset();
        check(&record, seq);
    }
    assert_eq!(consumer.try_pop().map(|_| ()), None);
}

/// Receives `record_count` records in chunks of random size, checking every lent record and
/// sometimes releasing only part of a chunk (the rest is lent again and checked again).
fn receive_batch<T: Copy>(mut consumer: Consumer<T>, record_count: u64, check: Check<T>) {
    let mut waiter = Waiter::new(WAIT);
    let mut sizes = Sizes(0x0fed_cba9_8765_4321);
    let mut next_seq = 0;
    while next_seq < record_count {
        let chunk = consumer.read_chunk(sizes.next_len(CAPACITY_RECORDS));
        let (first, second) = chunk.as_slices();
        assert_eq!(first.len() + second.len(), chunk.len());
        for (offset, record) in chunk.iter().enumerate() {
            check(record, next_seq + offset as u64);
        }
        let release_len = if sizes.next_len(4) == 1 {
            chunk.len() / 2
        } else {
            chunk.len()
        };
        chunk.release(release_len);
        next_seq += release_len as u64;
        if release_len == 0 {
            waiter.idle();
        } else {
            waiter.reset();
        }
    }
    assert!(consumer.read_chunk(1).is_empty());
}

/// Builds record number `seq`.
type Make<T> = fn(u64) -> T;
/// Checks that a record is intact and is number `seq`.
type Check<T> = fn(&T, u64);
/// A producer loop: sends records `0..record_count`.
type Sender<T> = fn(Producer<T>, u64, Make<T>);
/// A consumer loop: receives and checks `record_count` records.
type Receiver<T> = fn(Consumer<T>, u64, Check<T>);

/// Runs one producer and one consumer thread over a fresh ring.
fn run<T: Copy + Send + 'static>(
    record_count: u64,
    send: Sender<T>,
    make: Make<T>,
    receive: Receiver<T>,
    check: Check<T>,
) {
    let (producer, consumer) = ring::channel::<T>(CAPACITY_RECORDS).unwrap();
    let sender = thread::spawn(move || send(producer, record_count, make));
    let receiver = thread::spawn(move || receive(consumer, record_count, check));
    sender.join().unwrap();
    receiver.join().unwrap();
}

fn make_u64(seq: u64) -> u64 {
    seq
}

fn check_u64(record: &u64, seq: u64) {
    assert_eq!(*record, seq);
}

fn check_record64(record: &Record64, seq: u64) {
    record.check(seq);
}

#[test]
fn u64_single_push_single_pop() {
    run(
        scaled(10_000_000),
        send_single,
        make_u64,
        receive_single,
        check_u64,
    );
}

#[test]
fn u64_batch_write_batch_read() {
    run(
        scaled(20_000_000),
        send_batch,
        make_u64,
        receive_batch,
        check_u64,
    );
}

#[test]
fn u64_single_push_batch_read() {
    run(
        scaled(5_000_000),
        send_single,
        make_u64,
        receive_batch,
        check_u64,
    );
}

#[test]
fn u64_batch_write_single_pop() {
    run(
        scaled(5_000_000),
        send_batch,
        make_u64,
        receive_single,
        check_u64,
    );
}

#[test]
fn record64_single_push_single_pop() {
    run(
        scaled(2_000_000),
        send_single,
        Record64::for_seq,
        receive_single,
        check_record64,
    );
}

#[test]
fn record64_batch_write_batch_read() {
    run(
        scaled(4_000_000),
        send_batch,
        Record64::for_seq,
        receive_batch,
        check_record64,
    );
}
