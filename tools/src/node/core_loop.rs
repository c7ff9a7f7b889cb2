//! The core stage's loop body: drain a batch of inbound records, sequence + journal + apply
//! each through [`CoreStage`], and hand every event (then an `InputDone` marker) to an
//! [`OutboundSink`]: the outbound ring in threaded mode, the gateway itself in single-thread
//! mode. Both modes run exactly this code.
//!
//! # Invariants
//! - An input's events reach the sink after the input is journaled (CoreStage's order), with
//!   `event_index` 0, 1, … and then one `InputDone`; `input_seq` is the journal's seq.
//! - A batch ends with `CoreStage::end_batch` (the durability policy's sync point).
//! - A journal error stops the loop (the caller shuts the node down); nothing is applied
//!   that is not journaled.

use peregrine_engine::{Event, EventSink};
use peregrine_replay::{CoreStage, JournalError};
use peregrine_tuning::ring::{Consumer, Producer};
use peregrine_tuning::wait::Waiter;

use super::admin::CoreOps;
use super::feed::FeedTap;
use super::records::{InboundRecord, OutboundKind, OutboundRecord};

/// Where the core's outputs go.
pub trait OutboundSink {
    fn push(&mut self, record: OutboundRecord);
}

/// Threaded mode: the outbound ring. A full ring waits (never drops), and the wait is counted;
/// `on_full` runs before each wait (it wakes the consumer if it sleeps).
pub struct RingSink<'a, F: Fn()> {
    pub producer: &'a mut Producer<OutboundRecord>,
    pub waiter: &'a mut Waiter,
    /// Times a push found the ring full.
    pub full_waits: &'a mut u64,
    pub on_full: &'a F,
}

impl<F: Fn()> OutboundSink for RingSink<'_, F> {
    fn push(&mut self, record: OutboundRecord) {
        let mut record = record;
        loop {
            match self.producer.try_push(record) {
                Ok(()) => {
                    self.waiter.reset();
                    return;
                }
                Err(full) => {
                    record = full.0;
                    *self.full_waits += 1;
                    (self.on_full)();
                    self.waiter.idle();
                }
            }
        }
    }
}

/// Counters of the core loop (plain integers, read by metrics).
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreCounters {
    pub inputs: u64,
    pub events: u64,
    pub batches: u64,
    pub outbound_full_waits: u64,
}

/// Wraps the caller's sink (and the feed's ring) as an engine `EventSink` for one input.
struct Forward<'a, S: OutboundSink> {
    sink: &'a mut S,
    feed: Option<&'a mut FeedTap>,
    ops: Option<&'a mut CoreOps>,
    input_seq: u64,
    timestamp_ns: u64,
    event_index: u32,
}

impl<S: OutboundSink> EventSink for Forward<'_, S> {
    fn push(&mut self, event: Event) {
        if let Some(feed) = self.feed.as_mut() {
            feed.event(self.input_seq, self.timestamp_ns, event);
        }
        if let Some(ops) = self.ops.as_mut() {
            ops.event(&event);
        }
        self.sink.push(OutboundRecord {
            input_seq: self.input_seq,
            timestamp_ns: self.timestamp_ns,
            event_index: self.event_index,
            kind: OutboundKind::Event(event),
        });
        self.event_index += 1;
    }
}

/// The core stage, its counters and (when the feed runs) the feed's ring.
pub struct CoreLoop {
    pub stage: CoreStage,
    pub counters: CoreCounters,
    pub feed: Option<FeedTap>,
    /// Metrics, latency probes and admin commands (`node::admin`), when the node runs them.
    pub ops: Option<CoreOps>,
}

impl CoreLoop {
    pub fn new(stage: CoreStage, feed: Option<FeedTap>) -> CoreLoop {
        CoreLoop {
            stage,
            counters: CoreCounters::default(),
            feed,
            ops: None,
        }
    }

    /// Processes up to `batch_max` inbound records; returns how many.
    pub fn step(
        &mut self,
        inbound: &mut Consumer<InboundRecord>,
        sink: &mut impl OutboundSink,
        batch_max: usize,
        clock_ns: impl Fn() -> u64,
    ) -> Result<usize, JournalError> {
        let mut count = 0;
        let mut now_ns = clock_ns();
        let admin = self
            .ops
            .as_mut()
            .and_then(|o| o.begin_step(&mut self.stage, now_ns));
        if let Some(record) = admin {
            now_ns = self.submit(&record, sink, now_ns, &clock_ns)?;
            count += 1;
        }
        let chunk = inbound.read_chunk(batch_max);
        count += chunk.len();
        if count == 0 {
            if let Some(feed) = self.feed.as_mut() {
                feed.quiet_point(self.stage.core().engine(), now_ns);
            }
            if let Some(ops) = self.ops.as_mut() {
                ops.publish((&self.stage, &self.counters), now_ns);
            }
            return Ok(0);
        }
        // Each input's clock reading is taken when the previous one is done.
        for record in chunk.iter() {
            now_ns = self.submit(record, sink, now_ns, &clock_ns)?;
        }
        chunk.release_all();
        self.stage.end_batch()?;
        if let Some(ops) = self.ops.as_mut() {
            ops.batch_end((&self.stage, &self.counters), now_ns, clock_ns());
        }
        if let Some(feed) = self.feed.as_mut() {
            feed.batch_end();
        }
        self.counters.batches += 1;
        Ok(count)
    }

    /// Applies one input stamped `now_ns`; returns the clock when it is done.
    fn submit(
        &mut self,
        record: &InboundRecord,
        sink: &mut impl OutboundSink,
        now_ns: u64,
        clock_ns: &impl Fn() -> u64,
    ) -> Result<u64, JournalError> {
        let input_seq = self.stage.last_seq() + 1;
        let timestamp_ns = now_ns.max(self.stage.last_timestamp_ns());
        let mut forward = Forward {
            sink,
            feed: self.feed.as_mut(),
            ops: self.ops.as_mut(),
            input_seq,
            timestamp_ns,
            event_index: 0,
        };
        let seq = self.stage.submit(&record.command, now_ns, &mut forward)?;
        assert!(seq == input_seq, "core: seq {seq} != predicted {input_seq}");
        assert!(self.stage.last_timestamp_ns() == timestamp_ns);
        let event_count = forward.event_index;
        self.counters.inputs += 1;
        self.counters.events += u64::from(event_count);
        sink.push(OutboundRecord {
            input_seq,
            timestamp_ns,
            event_index: event_count,
            kind: OutboundKind::InputDone,
        });
        let done_ns = clock_ns();
        if let Some(ops) = self.ops.as_mut() {
            ops.input_done(record, (input_seq, event_count), (now_ns, done_ns));
        }
        Ok(done_ns)
    }
}
