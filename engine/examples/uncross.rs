//! Uncross timing for call books of 1k, 100k and 1M resting orders.
//!
//! Run: `cargo run --release -p peregrine-engine --example uncross` (add sizes as arguments to
//! pick others, e.g. `-- 1000 100000`).
//!
//! For each size the book is built in an opening call (orders rest without matching) with
//! bids spread over 250 ticks below the mid + 50 and asks over 250 ticks above the mid − 50,
//! so about 100 ticks cross. Three figures, medians of repeated runs:
//! - `discover`: the engine's price discovery alone (`Engine::indicative`), read-only;
//! - `peer`: a textbook discovery over `BTreeMap` price levels (cumulative sums, every tick of
//!   the crossed range), same answer checked;
//! - `uncross`: the whole uncross with its fills and events into a counting sink (the admin
//!   command that opens continuous trading), on a freshly built book each run.

use std::collections::BTreeMap;
use std::time::Instant;

use peregrine_engine::event::sink::CountSink;
use peregrine_engine::{
    AccountId, Command, Engine, EngineConfig, InstrumentId, NewOrder, OrderType, Price, Qty,
    SessionId, Side, StpMode, TimeInForce, TradingStatus,
};

const TICK: i64 = 100;
const MID_TICKS: i64 = 50_000;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn orders(count: usize) -> Vec<(Side, i64, u32)> {
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    (0..count)
        .map(|_| {
            let buy = rng.next().is_multiple_of(2);
            let offset = (rng.next() % 250) as i64;
            let qty = 1 + (rng.next() % 100) as u32;
            if buy {
                (Side::Buy, MID_TICKS + 50 - offset, qty)
            } else {
                (Side::Sell, MID_TICKS - 50 + offset, qty)
            }
        })
        .collect()
}

fn build(book: &[(Side, i64, u32)]) -> Engine {
    let capacity = u32::try_from(book.len() + 16).expect("fits");
    let mut config = EngineConfig::demo(1, 64, capacity);
    config.level_capacity = 1 << 16;
    let mut engine = Engine::new(config).expect("valid config");
    let mut sink = CountSink::default();
    let status = Command::SetTradingStatus {
        instrument: InstrumentId(0),
        status: TradingStatus::OpeningAuction,
    };
    engine.apply(&status, &mut sink);
    for (index, &(side, ticks, qty)) in book.iter().enumerate() {
        let order = NewOrder {
            account: AccountId((index % 64) as u32),
            session: SessionId(1),
            client_ref: index as u64,
            instrument: InstrumentId(0),
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price: Price(ticks * TICK),
            qty: Qty(qty),
            display_qty: Qty(0),
            min_qty: Qty(0),
            post_only: false,
            stp: StpMode::AccountDefault,
        };
        engine.apply(&Command::NewOrder(order), &mut sink);
    }
    assert_eq!(engine.resting_order_count() as usize, book.len());
    engine
}

/// Textbook discovery: per-price totals in ordered maps, every tick of the crossed range.
fn peer_discover(bids: &BTreeMap<i64, u64>, asks: &BTreeMap<i64, u64>) -> Option<(i64, u64)> {
    let (&high, _) = bids.iter().next_back()?;
    let (&low, _) = asks.iter().next()?;
    if high < low {
        return None;
    }
    let mut buy: u64 = bids.range(low..).map(|(_, q)| q).sum();
    let mut sell: u64 = 0;
    let mut best: Option<(i64, u64, u64)> = None;
    let mut price = low;
    while price <= high {
        sell += asks.get(&price).copied().unwrap_or(0);
        let volume = buy.min(sell);
        let imbalance = buy.abs_diff(sell);
        if best.is_none_or(|(_, v, i)| volume > v || (volume == v && imbalance < i)) {
            best = Some((price, volume, imbalance));
        }
        buy -= bids.get(&price).copied().unwrap_or(0);
        price += 1;
    }
    best.map(|(p, v, _)| (p, v))
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn measure(count: usize) {
    let book = orders(count);
    let engine = build(&book);
    let instrument = InstrumentId(0);
    let found = engine.indicative(instrument).expect("known instrument");
    let mut bids = BTreeMap::new();
    let mut asks = BTreeMap::new();
    for &(side, ticks, qty) in &book {
        let map = if side == Side::Buy {
            &mut bids
        } else {
            &mut asks
        };
        *map.entry(ticks).or_insert(0u64) += u64::from(qty);
    }
    let peer = peer_discover(&bids, &asks).expect("the book crosses");
    assert_eq!(
        (found.price.0 / TICK, found.paired_qty),
        peer,
        "same answer (no reference, so no gap or distance tie-break applies)"
    );
    let repeats = 101;
    let discover_ns = median(
        (0..repeats)
            .map(|_| {
                let start = Instant::now();
                let found = engine.indicative(instrument);
                let elapsed = start.elapsed().as_nanos() as f64;
                std::hint::black_box(found);
                elapsed
            })
            .collect(),
    );
    let peer_ns = median(
        (0..repeats)
            .map(|_| {
                let start = Instant::now();
                let found = peer_discover(&bids, &asks);
                let elapsed = start.elapsed().as_nanos() as f64;
                std::hint::black_box(found);
                elapsed
            })
            .collect(),
    );
    let uncross_repeats = if count >= 1_000_000 { 5 } else { 11 };
    let mut events = 0;
    let uncross_ns = median(
        (0..uncross_repeats)
            .map(|_| {
                let mut engine = build(&book);
                let mut sink = CountSink::default();
                let open = Command::SetTradingStatus {
                    instrument,
                    status: TradingStatus::Trading,
                };
                let start = Instant::now();
                engine.apply(&open, &mut sink);
                let elapsed = start.elapsed().as_nanos() as f64;
                events = sink.count;
                elapsed
            })
            .collect(),
    );
    println!(
        "{count:>9} orders | price {:.2} vol {:>10} | discover {:>10.1} us | peer {:>10.1} us | peer/discover {:>6.2} | uncross {:>10.1} us ({events} events, {:.1} ns/event)",
        found.price.0 as f64 / 10_000.0,
        found.paired_qty,
        discover_ns / 1e3,
        peer_ns / 1e3,
        peer_ns / discover_ns,
        uncross_ns / 1e3,
        uncross_ns / events as f64,
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    for count in sizes {
        measure(count);
    }
}
