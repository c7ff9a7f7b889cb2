//! `Core::apply` allocates nothing after start-up: a counting global allocator watches a
//! realistic flow (orders, trades, cancels, replaces, risk rejects, limit changes, kill
//! switches, lost sessions) applied into an allocation-free sink.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::FlowGen;
use peregrine_engine::event::sink::CountSink;
use peregrine_engine::{EngineConfig, Sequenced};
use peregrine_risk::{Core, RiskConfig};

struct CountingAllocator;

thread_local! {
    /// Allocations made by this thread while `COUNTING` is set. Per thread, so the test
    /// harness's own threads cannot disturb the count. Const-initialised: no lazy allocation.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
        if counting {
            let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn apply_does_not_allocate() {
    let mut risk = RiskConfig::permissive(4, 2);
    for account in &mut risk.accounts {
        account.throttle_orders_per_interval = 6;
        account.throttle_interval_ns = 1_000;
        account.max_open_orders = 200;
        account.instrument_limits.price_collar_bps = 15;
        account.cancel_on_disconnect = true;
    }
    risk.instruments[0].reference_price = common::MID_PRICE;
    // Generate the journal first (generation looks into a core of its own and allocates).
    let mut generator_core = Core::new(EngineConfig::demo(2, 4, 4_096), risk.clone()).unwrap();
    let mut flow = FlowGen::new(0xa110c, 4, 2, true);
    let mut journal = Vec::with_capacity(5_000);
    let mut now_ns = 0;
    for seq in 1..=5_000u64 {
        let (advance_ns, command) = flow.next(&generator_core);
        now_ns += advance_ns;
        let input = Sequenced {
            seq,
            timestamp_ns: now_ns,
            command,
        };
        generator_core.apply(&input, &mut CountSink::default());
        journal.push(input);
    }

    let mut core = Core::new(EngineConfig::demo(2, 4, 4_096), risk).unwrap();
    let mut sink = CountSink::default();
    COUNTING.with(|counting| counting.set(true));
    let before = ALLOCATIONS.with(Cell::get);
    for input in &journal {
        core.apply(input, &mut sink);
    }
    let after = ALLOCATIONS.with(Cell::get);
    // The counter sees allocations at all: one on purpose.
    let probe: Vec<u64> = std::hint::black_box(Vec::with_capacity(4));
    let after_probe = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|counting| counting.set(false));
    assert_eq!(after_probe, after + 1);
    drop(probe);
    assert!(sink.count > 5_000);
    assert_eq!(after - before, 0, "Core::apply allocated");
    core.verify();
}
