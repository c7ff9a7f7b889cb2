//! Micro-benchmarks beside their peers, in the same run:
//! - rings: `peregrine_tuning::ring` vs `rtrb` vs `crossbeam_queue::ArrayQueue`, 64-byte records
//!   (the size of a journal command), same-thread bursts and a two-thread transfer;
//! - journal: `peregrine_replay::JournalWriter::append_command` (page cache, prefaulted) vs a
//!   plain `write(2)` of the same 80 bytes per record to a file, and vs a `BufWriter` of it;
//! - feed: `peregrine_feed::encoder::Encoder` (encode + emit into a reused buffer) vs
//!   [`crate::naive_itch`], which builds a `Vec` per message.
//!
//! Method: every scenario runs `rounds` rounds, contenders rotated within a round; the figure
//! is the median over rounds. Nothing here asserts a time.
//!
//! # Invariants
//! - Every contender of a scenario moves the same records / bytes / messages; the rings check
//!   the sum of what came out, the feed check compares bytes ([`FeedFigures::same_bytes`]).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use peregrine_engine::{Command, Engine, EngineConfig, Event, Sequenced};
use peregrine_feed::encoder::{Encoder, EncoderConfig};

use crate::contest::median;

/// A 64-byte record, as a command moves through the node's rings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Record64 {
    pub seq: u64,
    pub payload: [u64; 7],
}

const _: () = assert!(core::mem::size_of::<Record64>() == 64);

/// One scenario's result: the unit and the median figure of each contender (ours first).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    /// E.g. "ns/record"; `lower_is_better` says which way the ratio goes.
    pub unit: &'static str,
    pub lower_is_better: bool,
    pub contenders: Vec<(&'static str, f64)>,
}

impl Scenario {
    /// How many times better ours (the first) is than contender `index` (above 1: ours wins).
    pub fn advantage(&self, index: usize) -> f64 {
        let ours = self.contenders[0].1.max(1e-12);
        let peer = self.contenders[index].1.max(1e-12);
        if self.lower_is_better {
            peer / ours
        } else {
            ours / peer
        }
    }
}

const RING_CAPACITY_RECORDS: usize = 1_024;
const BURST_RECORDS: usize = 64;

fn record(seq: u64) -> Record64 {
    Record64 {
        seq,
        payload: [seq; 7],
    }
}

/// Same thread: bursts of `BURST_RECORDS` pushes then as many pops; ns per record moved.
fn ring_burst(contender: usize, record_count: u64) -> (f64, u64) {
    let mut sum = 0u64;
    let start = Instant::now();
    let bursts = record_count / BURST_RECORDS as u64;
    match contender {
        0 => {
            let (mut producer, mut consumer) =
                peregrine_tuning::ring::channel::<Record64>(RING_CAPACITY_RECORDS).expect("pow2");
            for burst in 0..bursts {
                for index in 0..BURST_RECORDS as u64 {
                    let _ = producer.try_push(record(burst + index));
                }
                while let Some(out) = consumer.try_pop() {
                    sum = sum.wrapping_add(out.seq);
                }
            }
        }
        1 => {
            let (mut producer, mut consumer) =
                rtrb::RingBuffer::<Record64>::new(RING_CAPACITY_RECORDS);
            for burst in 0..bursts {
                for index in 0..BURST_RECORDS as u64 {
                    let _ = producer.push(record(burst + index));
                }
                while let Ok(out) = consumer.pop() {
                    sum = sum.wrapping_add(out.seq);
                }
            }
        }
        _ => {
            let queue = ArrayQueue::<Record64>::new(RING_CAPACITY_RECORDS);
            for burst in 0..bursts {
                for index in 0..BURST_RECORDS as u64 {
                    let _ = queue.push(record(burst + index));
                }
                while let Some(out) = queue.pop() {
                    sum = sum.wrapping_add(out.seq);
                }
            }
        }
    }
    let moved = bursts * BURST_RECORDS as u64;
    (start.elapsed().as_nanos() as f64 / moved.max(1) as f64, sum)
}

/// Two threads: the producer pushes `record_count` records (spinning on full), the consumer pops
/// them all; million records per second. Returns the figure and the sum popped.
fn ring_transfer(contender: usize, record_count: u64) -> (f64, u64) {
    let start = Instant::now();
    let sum = match contender {
        0 => {
            let (mut producer, mut consumer) =
                peregrine_tuning::ring::channel::<Record64>(RING_CAPACITY_RECORDS).expect("pow2");
            std::thread::scope(|scope| {
                scope.spawn(move || {
                    for seq in 0..record_count {
                        let mut item = record(seq);
                        while let Err(full) = producer.try_push(item) {
                            item = full.0;
                            std::hint::spin_loop();
                        }
                    }
                });
                let mut sum = 0u64;
                let mut popped = 0;
                while popped < record_count {
                    match consumer.try_pop() {
                        Some(out) => {
                            sum = sum.wrapping_add(out.seq);
                            popped += 1;
                        }
                        None => std::hint::spin_loop(),
                    }
                }
                sum
            })
        }
        1 => {
            let (mut producer, mut consumer) =
                rtrb::RingBuffer::<Record64>::new(RING_CAPACITY_RECORDS);
            std::thread::scope(|scope| {
                scope.spawn(move || {
                    for seq in 0..record_count {
                        let mut item = record(seq);
                        while let Err(rtrb::PushError::Full(back)) = producer.push(item) {
                            item = back;
                            std::hint::spin_loop();
                        }
                    }
                });
                let mut sum = 0u64;
                let mut popped = 0;
                while popped < record_count {
                    match consumer.pop() {
                        Ok(out) => {
                            sum = sum.wrapping_add(out.seq);
                            popped += 1;
                        }
                        Err(_) => std::hint::spin_loop(),
                    }
                }
                sum
            })
        }
        _ => {
            let queue = ArrayQueue::<Record64>::new(RING_CAPACITY_RECORDS);
            std::thread::scope(|scope| {
                let producer = &queue;
                scope.spawn(move || {
                    for seq in 0..record_count {
                        let mut item = record(seq);
                        while let Err(back) = producer.push(item) {
                            item = back;
                            std::hint::spin_loop();
                        }
                    }
                });
                let mut sum = 0u64;
                let mut popped = 0;
                while popped < record_count {
                    match queue.pop() {
                        Some(out) => {
                            sum = sum.wrapping_add(out.seq);
                            popped += 1;
                        }
                        None => std::hint::spin_loop(),
                    }
                }
                sum
            })
        }
    };
    let elapsed_s = start.elapsed().as_secs_f64().max(1e-9);
    (record_count as f64 / elapsed_s / 1e6, sum)
}

const RING_NAMES: [&str; 3] = ["peregrine ring", "rtrb 0.3", "crossbeam ArrayQueue 0.3"];

/// Runs `measure(contender)` for every contender, `rounds` times rotated; returns medians and
/// whether every contender produced the same checksum.
fn interleaved(
    rounds: usize,
    contender_count: usize,
    mut measure: impl FnMut(usize) -> (f64, u64),
) -> (Vec<f64>, bool) {
    let mut figures = vec![Vec::with_capacity(rounds); contender_count];
    let mut checksums = vec![None; contender_count];
    let mut consistent = true;
    for round in 0..rounds {
        for turn in 0..contender_count {
            let index = (turn + round) % contender_count;
            let (figure, checksum) = measure(index);
            figures[index].push(figure);
            consistent &= *checksums[index].get_or_insert(checksum) == checksum;
        }
    }
    consistent &= checksums.windows(2).all(|pair| pair[0] == pair[1]);
    (figures.iter().map(|f| median(f)).collect(), consistent)
}

/// The ring scenarios; the flag says every ring delivered every record.
pub fn rings(record_count: u64, rounds: usize) -> (Vec<Scenario>, bool) {
    let (burst, burst_ok) = interleaved(rounds, 3, |c| ring_burst(c, record_count));
    let (transfer, transfer_ok) = interleaved(rounds, 3, |c| ring_transfer(c, record_count));
    let named = |values: Vec<f64>| RING_NAMES.iter().copied().zip(values).collect();
    (
        vec![
            Scenario {
                name: "ring, one thread, bursts of 64 (push then pop)",
                unit: "ns/record",
                lower_is_better: true,
                contenders: named(burst),
            },
            Scenario {
                name: "ring, two threads, producer to consumer",
                unit: "M records/s",
                lower_is_better: false,
                contenders: named(transfer),
            },
        ],
        burst_ok && transfer_ok,
    )
}

/// The journal inputs: commands of a replay flow, sequenced.
fn journal_inputs(record_count: u64) -> Vec<Sequenced> {
    let shape = peregrine_replay::flow::FlowShape {
        instrument_count: 8,
        account_count: 16,
        admin: false,
    };
    let mut flow = peregrine_replay::flow::FlowGenerator::new(42, shape);
    (1..=record_count)
        .map(|seq| Sequenced {
            seq,
            timestamp_ns: seq,
            command: flow.next_command(),
        })
        .collect()
}

/// One journal contender's run into a fresh directory under `dir`; ns per record.
fn journal_run(contender: usize, dir: &Path, inputs: &[Sequenced]) -> std::io::Result<f64> {
    let run_dir = dir.join(format!("run-{contender}"));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)?;
    let mut bytes = [0u8; 80];
    let start;
    match contender {
        0 => {
            let options = peregrine_replay::JournalOptions::default();
            let mut writer = peregrine_replay::JournalWriter::create(&run_dir, options, b"bench")
                .map_err(|error| std::io::Error::other(error.to_string()))?;
            start = Instant::now();
            for input in inputs {
                writer
                    .append_command(input)
                    .map_err(|error| std::io::Error::other(error.to_string()))?;
            }
        }
        1 => {
            let mut file = std::fs::File::create(run_dir.join("plain.bin"))?;
            start = Instant::now();
            for input in inputs {
                fill_record(&mut bytes, input);
                file.write_all(&bytes)?;
            }
        }
        _ => {
            let file = std::fs::File::create(run_dir.join("buffered.bin"))?;
            let mut writer = std::io::BufWriter::with_capacity(64 << 10, file);
            start = Instant::now();
            for input in inputs {
                fill_record(&mut bytes, input);
                writer.write_all(&bytes)?;
            }
            writer.flush()?;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / inputs.len().max(1) as f64;
    std::fs::remove_dir_all(&run_dir)?;
    Ok(ns)
}

/// What the plain-file peers write per record: sequence, timestamp, the 64-byte command.
fn fill_record(bytes: &mut [u8; 80], input: &Sequenced) {
    bytes[0..8].copy_from_slice(&input.seq.to_le_bytes());
    bytes[8..16].copy_from_slice(&input.timestamp_ns.to_le_bytes());
    let mut command = [0u8; peregrine_engine::record::COMMAND_BYTES];
    peregrine_engine::record::encode_command(&input.command, &mut command);
    bytes[16..80].copy_from_slice(&command);
}

/// Journal append vs plain writes, in `dir` (page cache; nothing is synced by anyone).
pub fn journal(record_count: u64, rounds: usize, dir: &Path) -> std::io::Result<Scenario> {
    let inputs = journal_inputs(record_count);
    let mut failure = None;
    let (figures, _) = interleaved(rounds, 3, |contender| {
        match journal_run(contender, dir, &inputs) {
            Ok(ns) => (ns, 0),
            Err(error) => {
                failure = Some(error);
                (f64::NAN, 0)
            }
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }
    let names = [
        "peregrine journal (mmap, CRC32C, page cache)",
        "write(2) per record",
        "BufWriter 64 KiB",
    ];
    Ok(Scenario {
        name: "journal append, 80-byte command records",
        unit: "ns/record",
        lower_is_better: true,
        contenders: names.into_iter().zip(figures).collect(),
    })
}

/// The feed scenario and its equal-work check.
pub struct FeedFigures {
    pub scenario: Scenario,
    pub message_count: usize,
    /// Our encoder's bytes equal the naive encoder's for every message.
    pub same_bytes: bool,
}

/// Engine events from a flow of the bench mix, stamped.
fn feed_events(flow: &crate::flow::Flow) -> (EngineConfig, Vec<(u64, Event)>) {
    let mut engine = Engine::new(flow.engine_config.clone()).expect("flow config is valid");
    let mut events = Vec::new();
    let mut stamped = Vec::new();
    let commands = flow
        .warmup
        .iter()
        .chain(flow.measured.iter().map(|(_, c)| c));
    for (index, command) in commands.enumerate() {
        events.clear();
        engine.apply(command as &Command, &mut events);
        let timestamp_ns = 1_790_000_000_000_000_000 + index as u64 * 1_000;
        stamped.extend(events.iter().map(|event| (timestamp_ns, *event)));
    }
    (flow.engine_config.clone(), stamped)
}

/// Feed encode (ours, into one reused buffer) vs the naive encoder (a `Vec` per message).
pub fn feed(flow: &crate::flow::Flow, rounds: usize) -> FeedFigures {
    let (config, stamped) = feed_events(flow);
    let account_count = config.accounts.len();
    let encoder = Encoder::new(&config.instruments, EncoderConfig::anonymous(account_count))
        .expect("encoder");
    let naive =
        crate::naive_itch::NaiveEncoder::new(&config.instruments, encoder.config().tracking_number);
    let mut buffer = [0u8; 64];
    let mut same_bytes = true;
    let mut message_count = 0;
    for (timestamp_ns, event) in &stamped {
        let ours = encoder.encode(*timestamp_ns, event).ok().flatten();
        let theirs = naive.encode(*timestamp_ns, event);
        match (ours, theirs) {
            (Some(message), Some(bytes)) => {
                let len = message.buffer_len();
                message.emit(&mut buffer[..len]);
                same_bytes &= buffer[..len] == bytes[..];
                message_count += 1;
            }
            (None, None) => {}
            _ => same_bytes = false,
        }
    }
    let (figures, _) = interleaved(rounds, 2, |contender| {
        let start = Instant::now();
        let mut checksum = 0u64;
        for (timestamp_ns, event) in &stamped {
            if contender == 0 {
                if let Ok(Some(message)) = encoder.encode(*timestamp_ns, event) {
                    let len = message.buffer_len();
                    message.emit(&mut buffer[..len]);
                    checksum = checksum.wrapping_add(u64::from(buffer[len - 1]));
                }
            } else if let Some(bytes) = naive.encode(*timestamp_ns, event) {
                checksum = checksum.wrapping_add(u64::from(bytes[bytes.len() - 1]));
            }
        }
        let elapsed_s = start.elapsed().as_secs_f64().max(1e-9);
        (message_count as f64 / elapsed_s / 1e6, checksum)
    });
    FeedFigures {
        scenario: Scenario {
            name: "feed encode, engine events to ITCH bytes",
            unit: "M messages/s",
            lower_is_better: false,
            contenders: vec![
                ("peregrine encoder (Repr + emit)", figures[0]),
                ("naive encoder (Vec per message)", figures[1]),
            ],
        },
        message_count,
        same_bytes,
    }
}
