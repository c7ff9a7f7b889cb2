//! The engine allocates nothing after `Engine::new`.
//!
//! Method: a counting global allocator wraps the system allocator and counts every allocation
//! (and reallocation) made on this thread while counting is switched on. The test builds the
//! engine, then runs one million commands of realistic flow (limit, IOC, FOK, market and
//! iceberg orders, cancels, reduces, replaces of which about 5% cross and trade, across four
//! books of about a thousand resting orders each) in batches: each batch is generated with
//! counting off into a `Vec` whose capacity was taken up front, then applied with counting on,
//! alternately into a `CountSink` and an `EventDigest`, through `apply_at` with sequencer time
//! and market rules that add auction flow (admin opening calls, volatility interruptions and
//! resume calls, batch auctions, indicatives). The count must stay at zero.
//!
//! This file holds a single test so that no other test's thread runs (and allocates) while the
//! counter is on; the counter is per thread anyway.

mod reference;

use peregrine_engine::event::sink::CountSink;
use peregrine_engine::record::EventDigest;
use peregrine_engine::{
    Command, Engine, Event, EventSink, InstrumentId, MarketConfig, Side, TradingStatus,
};
use reference::flow::{flow_config, FlowGen, FLOW_INSTRUMENTS};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Allocations (including reallocations) made while counting was on.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
/// Deallocations made while counting was on (reported, for diagnosis).
static DEALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread's allocations are counted. Const-initialised: reading it never
    /// allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

fn set_counting(on: bool) {
    COUNTING.with(|flag| flag.set(on));
}

struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly the system allocator's; counting touches only atomics and a
// const-initialised thread local, neither of which allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counting() {
            DEALLOCATIONS.fetch_add(1, Relaxed);
        }
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const COMMAND_COUNT: usize = 1_000_000;
const BATCH_LEN: usize = 1_000;
/// Resting orders the flow hovers around: about a thousand per book.
const RESTING_TARGET: u32 = 1_000 * FLOW_INSTRUMENTS;

/// Counts events, and auction uncrosses and fills apart: allocation-free.
#[derive(Default)]
struct AuctionCountSink {
    count: u64,
    uncrosses: u64,
    fills: u64,
}

impl EventSink for AuctionCountSink {
    fn push(&mut self, event: Event) {
        self.count += 1;
        match event {
            Event::AuctionUncrossed(_) => self.uncrosses += 1,
            Event::AuctionFill(_) => self.fills += 1,
            _ => {}
        }
    }
}

/// Market rules for the auction part of the flow: instrument 1 has a volatility band and a
/// resume call, instrument 2 runs batch auctions every 200 µs; instrument 0 is sent into an
/// opening call for one batch in ten by admin commands; instrument 3 stays continuous.
fn market_config() -> MarketConfig {
    let mut market = MarketConfig::continuous(FLOW_INSTRUMENTS as usize);
    market.instruments[1].volatility_band_bps = 100;
    market.instruments[1].volatility_call_ns = 50_000;
    market.instruments[1].resume_call_ns = 10_000;
    market.instruments[2].batch_interval_ns = 200_000;
    market
}

#[test]
fn a_million_commands_allocate_nothing() {
    let mut engine = Engine::with_market(flow_config(), market_config()).expect("valid config");
    let mut auction_sink = AuctionCountSink::default();
    let mut timestamp_ns: u64 = 1;
    let mut flow = FlowGen::new(0x5eed_a110c, RESTING_TARGET);
    let mut batch: Vec<Command> = Vec::with_capacity(BATCH_LEN);
    let mut count_sink = CountSink::default();
    let mut digest = EventDigest::default();
    let mut applied = 0;
    let mut batch_index = 0u64;
    let mut resting_sum = 0u64;
    let mut allocations = 0;
    let mut deallocations = 0;
    while applied < COMMAND_COUNT {
        flow.refresh(
            |id| engine.order(id),
            engine.next_order_id(),
            engine.resting_order_count(),
        );
        flow.fill(&mut batch, BATCH_LEN);
        let (allocations_before, deallocations_before) =
            (ALLOCATIONS.load(Relaxed), DEALLOCATIONS.load(Relaxed));
        let phase = if batch_index % 10 == 3 {
            TradingStatus::OpeningAuction
        } else {
            TradingStatus::Trading
        };
        let phase_command = Command::SetTradingStatus {
            instrument: InstrumentId(0),
            status: phase,
        };
        set_counting(true);
        engine.apply_at(timestamp_ns, &phase_command, &mut auction_sink);
        if batch_index.is_multiple_of(2) {
            for command in &batch {
                timestamp_ns += 1_000;
                engine.apply_at(timestamp_ns, command, &mut count_sink);
            }
        } else {
            for command in &batch {
                timestamp_ns += 1_000;
                engine.apply_at(timestamp_ns, command, &mut digest);
            }
        }
        set_counting(false);
        allocations += ALLOCATIONS.load(Relaxed) - allocations_before;
        deallocations += DEALLOCATIONS.load(Relaxed) - deallocations_before;
        applied += batch.len();
        batch_index += 1;
        resting_sum += u64::from(engine.resting_order_count());
    }
    engine.verify();
    assert_eq!(
        (allocations, deallocations),
        (0, 0),
        "the engine allocated (or freed) while applying {applied} commands"
    );

    // The flow was what it claims to be: busy books on every instrument, real trading.
    let resting_mean = resting_sum / batch_index;
    assert!(
        (RESTING_TARGET as u64 / 2..=RESTING_TARGET as u64 * 2).contains(&resting_mean),
        "mean resting orders {resting_mean}"
    );
    for instrument in (0..FLOW_INSTRUMENTS).map(InstrumentId) {
        for side in [Side::Buy, Side::Sell] {
            let mut orders = 0;
            engine.for_each_order(instrument, side, |_| orders += 1);
            assert!(
                orders > 100,
                "{instrument:?} {side:?} has only {orders} orders"
            );
        }
    }
    assert!(
        auction_sink.uncrosses > 50,
        "{} uncrosses",
        auction_sink.uncrosses
    );
    assert!(
        auction_sink.fills > 1_000,
        "{} auction fills",
        auction_sink.fills
    );
    let trades = engine.next_match_id().0 - 1;
    assert!(trades > COMMAND_COUNT as u64 / 50, "only {trades} trades");
    assert!(count_sink.count + digest.event_count > 2 * COMMAND_COUNT as u64);
    println!(
        "{applied} commands, {} events, {trades} trades, mean resting {resting_mean}",
        count_sink.count + digest.event_count
    );
}
