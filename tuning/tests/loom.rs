//! Loom model checks of the ring's index protocol.
//!
//! Goal: show that, under every interleaving and every weak-memory outcome the C++11 model
//! allows for our orderings, the consumer sees exactly the records the producer published, in
//! order, and that no slot is read while it is written (loom's slot tracker reports that as a
//! data race; see `src/sync.rs`).
//!
//! Method: loom runs each model body many times, exploring the schedule space exhaustively up to
//! a preemption bound. The rings are tiny (1 or 2 slots) so wrap-around, full and empty all
//! happen within a few records. Spin loops yield to loom so every schedule terminates.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p peregrine-tuning --release --test loom`.

#![cfg(loom)]

use loom::thread;
use peregrine_tuning::ring::{self, Full};

/// Explores `body` up to 3 preemptions per execution (a few seconds per model), or up to
/// `LOOM_MAX_PREEMPTIONS` when that is set.
fn model(body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(body);
}

#[test]
fn single_push_and_pop_keep_order_through_wrap_around() {
    model(|| {
        let (mut producer, mut consumer) = ring::channel::<u32>(2).unwrap();
        let sender = thread::spawn(move || {
            for record in 0..3_u32 {
                let mut pending = record;
                while let Err(Full(back)) = producer.try_push(pending) {
                    pending = back;
                    thread::yield_now();
                }
            }
        });
        for expected in 0..3_u32 {
            let record = loop {
                match consumer.try_pop() {
                    Some(record) => break record,
                    None => thread::yield_now(),
                }
            };
            assert_eq!(record, expected);
        }
        sender.join().unwrap();
        assert_eq!(consumer.try_pop(), None);
    });
}

#[test]
fn capacity_one_hands_each_slot_back_and_forth() {
    model(|| {
        let (mut producer, mut consumer) = ring::channel::<u64>(1).unwrap();
        let sender = thread::spawn(move || {
            for record in [11_u64, 22] {
                while producer.try_push(record).is_err() {
                    thread::yield_now();
                }
            }
        });
        for expected in [11_u64, 22] {
            loop {
                if let Some(record) = consumer.try_pop() {
                    assert_eq!(record, expected);
                    break;
                }
                thread::yield_now();
            }
        }
        sender.join().unwrap();
    });
}

#[test]
fn batch_commit_and_release_keep_order_and_content() {
    model(|| {
        let (mut producer, mut consumer) = ring::channel::<u32>(2).unwrap();
        let sender = thread::spawn(move || {
            let mut next = 0_u32;
            while next < 3 {
                let mut chunk = producer.write_slots(2);
                while next < 3 && !chunk.is_full() {
                    let record = next;
                    chunk.push_with(|slot| slot.write(record)).unwrap();
                    next += 1;
                }
                if chunk.commit_all() == 0 {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0_u32;
        while expected < 3 {
            let chunk = consumer.read_chunk(2);
            for &record in chunk.iter() {
                assert_eq!(record, expected);
                expected += 1;
            }
            if chunk.release_all() == 0 {
                thread::yield_now();
            }
        }
        sender.join().unwrap();
    });
}

#[test]
fn partial_release_lends_the_rest_again() {
    model(|| {
        let (mut producer, mut consumer) = ring::channel::<u32>(2).unwrap();
        let sender = thread::spawn(move || {
            for record in 0..3_u32 {
                while producer.try_push(record).is_err() {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0_u32;
        while expected < 3 {
            let chunk = consumer.read_chunk(2);
            let first = chunk.as_slices().0.first().copied();
            if let Some(record) = first {
                assert_eq!(record, expected);
                expected += 1;
                chunk.release(1);
            } else {
                thread::yield_now();
            }
        }
        sender.join().unwrap();
    });
}

#[test]
fn len_stays_within_capacity_from_both_ends() {
    model(|| {
        let (mut producer, mut consumer) = ring::channel::<u8>(2).unwrap();
        let sender = thread::spawn(move || {
            for record in 0..3_u8 {
                while producer.try_push(record).is_err() {
                    assert!(producer.len() <= 2);
                    thread::yield_now();
                }
                assert!(producer.len() <= 2);
            }
        });
        let mut received = 0;
        while received < 3 {
            assert!(consumer.len() <= 2);
            if consumer.try_pop().is_some() {
                received += 1;
            } else {
                thread::yield_now();
            }
        }
        sender.join().unwrap();
        assert!(consumer.is_empty());
    });
}
