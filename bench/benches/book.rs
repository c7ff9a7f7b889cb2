//! Criterion micro-benchmarks of single engine operations on a book that already holds about
//! 1,000 orders per side: add (resting, no trade), cancel, match (an IOC that fully executes one
//! resting order) and replace (a price move that loses priority). Each operation is timed alone
//! with the cycle counter; the setup around it (re-adding the order a match consumed, say) is
//! not timed.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use peregrine_bench::clock;
use peregrine_engine::event::sink::CountSink;
use peregrine_engine::{
    AccountId, CancelOrder, Command, Engine, EngineConfig, InstrumentId, NewOrder, OrderId,
    OrderType, Price, Qty, ReplaceOrder, SessionId, Side, StpMode, TimeInForce,
};

const MID: i64 = 100 * Price::SCALE;
const TICK: i64 = 100;

fn order(account: u32, side: Side, price: i64, qty: u32, tif: TimeInForce) -> Command {
    Command::NewOrder(NewOrder {
        account: AccountId(account),
        session: SessionId(account),
        client_ref: 0,
        instrument: InstrumentId(0),
        side,
        order_type: OrderType::Limit,
        time_in_force: tif,
        price: Price(price),
        qty: Qty(qty),
        display_qty: Qty(0),
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::Off,
    })
}

/// An engine with 1,000 orders per side spread over 50 levels each side of the mid.
fn loaded_engine() -> Engine {
    let mut engine = Engine::new(EngineConfig::demo(1, 4, 1 << 16)).expect("config");
    let mut sink = CountSink::default();
    for index in 0..1_000i64 {
        let distance = (1 + index % 50) * TICK;
        engine.apply(
            &order(0, Side::Buy, MID - distance, 100, TimeInForce::Gtc),
            &mut sink,
        );
        engine.apply(
            &order(1, Side::Sell, MID + distance, 100, TimeInForce::Gtc),
            &mut sink,
        );
    }
    engine
}

fn timed(engine: &mut Engine, command: &Command, sink: &mut CountSink) -> u64 {
    let start = clock::ticks();
    engine.apply(command, sink);
    clock::ticks() - start
}

fn to_duration(ticks: u64, ns_per_tick: f64) -> Duration {
    Duration::from_nanos((ticks as f64 * ns_per_tick) as u64)
}

fn bench_book(c: &mut Criterion) {
    let ns_per_tick = clock::calibrate(Duration::from_millis(100));
    let mut group = c.benchmark_group("engine");
    group.bench_function("add", |b| {
        b.iter_custom(|iterations| {
            let mut engine = loaded_engine();
            let mut sink = CountSink::default();
            let mut total = 0;
            for index in 0..iterations {
                let price = MID - (1 + (index % 50) as i64) * TICK;
                let id = engine.next_order_id();
                total += timed(
                    &mut engine,
                    &order(2, Side::Buy, price, 100, TimeInForce::Gtc),
                    &mut sink,
                );
                let cancel = CancelOrder {
                    account: AccountId(2),
                    session: SessionId(2),
                    client_ref: 0,
                    order: id,
                };
                engine.apply(&Command::Cancel(cancel), &mut sink);
            }
            to_duration(total, ns_per_tick)
        })
    });
    group.bench_function("cancel", |b| {
        b.iter_custom(|iterations| {
            let mut engine = loaded_engine();
            let mut sink = CountSink::default();
            let mut total = 0;
            for index in 0..iterations {
                let price = MID - (1 + (index % 50) as i64) * TICK;
                let id = engine.next_order_id();
                engine.apply(
                    &order(2, Side::Buy, price, 100, TimeInForce::Gtc),
                    &mut sink,
                );
                let cancel = CancelOrder {
                    account: AccountId(2),
                    session: SessionId(2),
                    client_ref: 0,
                    order: id,
                };
                total += timed(&mut engine, &Command::Cancel(cancel), &mut sink);
            }
            to_duration(total, ns_per_tick)
        })
    });
    group.bench_function("match", |b| {
        b.iter_custom(|iterations| {
            let mut engine = loaded_engine();
            let mut sink = CountSink::default();
            let mut total = 0;
            for _ in 0..iterations {
                // A fresh best ask, then an IOC buy that takes exactly it.
                engine.apply(&order(1, Side::Sell, MID, 100, TimeInForce::Gtc), &mut sink);
                total += timed(
                    &mut engine,
                    &order(3, Side::Buy, MID, 100, TimeInForce::Ioc),
                    &mut sink,
                );
            }
            to_duration(total, ns_per_tick)
        })
    });
    group.bench_function("replace", |b| {
        b.iter_custom(|iterations| {
            let mut engine = loaded_engine();
            let mut sink = CountSink::default();
            let mut id = engine.next_order_id();
            engine.apply(
                &order(2, Side::Buy, MID - 10 * TICK, 100, TimeInForce::Gtc),
                &mut sink,
            );
            let mut total = 0;
            for index in 0..iterations {
                let price = MID - (10 + ((index + 1) % 2) as i64) * TICK;
                let next_id = engine.next_order_id();
                let replace = ReplaceOrder {
                    account: AccountId(2),
                    session: SessionId(2),
                    client_ref: 0,
                    order: id,
                    price: Price(price),
                    qty: Qty(100),
                    display_qty: Qty(0),
                };
                total += timed(&mut engine, &Command::Replace(replace), &mut sink);
                id = if engine.order(next_id).is_some() {
                    next_id
                } else {
                    OrderId(id.0)
                };
            }
            to_duration(total, ns_per_tick)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_book);
criterion_main!(benches);
