//! Golden scenarios for the matching engine, written as tables.
//!
//! Each test is a list of rows: one command and the exact events it must produce, worked out by
//! hand from the matching rules in the crate documentation. The harness applies every row to
//! the engine and to the reference model (`tests/reference`), requires both to produce exactly
//! the row's events, runs `Engine::verify`, and compares the engine's books with the model's and
//! with a book rebuilt from the events alone (feed consistency). The hand-written rows therefore
//! check the engine and the model at once.
//!
//! Conventions: instrument `I0` has tick 1, lot 1, band 1..=1000; `I1` has tick 5, lot 10, band
//! 100..=200, max order quantity 500. Accounts `A` and `B` default to STP `CancelResting`, `C` to
//! `Decrement`, `D` to `Off`. Every command carries client ref `CREF` and its account's session.
//! Order ids and match ids count from 1 in each test.

mod reference;

use peregrine_engine::{
    Accepted, AccountConfig, AccountId, BookAdd, BookDelete, BookReduce, BookReplace, CancelOrder,
    CancelReason, Cancelled, Command, CommandKind, ControlAck, Engine, EngineConfig, Event,
    Executed, InstrumentConfig, InstrumentId, MassCancel, MassCancelled, MatchId, NewOrder,
    OrderFilter, OrderId, OrderType, Price, Qty, ReduceOrder, RejectReason, Rejected, ReplaceOrder,
    Replaced, RestateReason, Restated, RestoreError, SessionId, Side, StpMode, TimeInForce,
    TradingStatus,
};
use reference::{displayed, FeedBook, Model};

const A: AccountId = AccountId(0);
const B: AccountId = AccountId(1);
const C: AccountId = AccountId(2);
const D: AccountId = AccountId(3);
const I0: InstrumentId = InstrumentId(0);
const I1: InstrumentId = InstrumentId(1);
const CREF: u64 = 7;

use CancelReason::{
    EndOfDay as Eod, ImmediateOrCancel as Ioc, MassCancel as Mass, MinQtyNotMet as Kill, Reduced,
    SelfTrade, UserRequested as User,
};
use Side::{Buy, Sell};

fn config_with_capacity(order_capacity: u32, level_capacity: u32) -> EngineConfig {
    let instrument = |tick: i64, lot: u32, min: i64, max: i64, max_qty: u32| InstrumentConfig {
        symbol: InstrumentConfig::symbol_from_str("GOLD"),
        tick_size: Price(tick),
        lot_size: Qty(lot),
        min_price: Price(min),
        max_price: Price(max),
        max_order_qty: Qty(max_qty),
    };
    let stp = |mode| AccountConfig { stp: mode };
    EngineConfig {
        instruments: vec![
            instrument(1, 1, 1, 1_000, 1_000),
            instrument(5, 10, 100, 200, 500),
        ],
        accounts: vec![
            stp(StpMode::CancelResting),
            stp(StpMode::CancelResting),
            stp(StpMode::Decrement),
            stp(StpMode::Off),
        ],
        order_capacity,
        level_capacity,
    }
}

fn config() -> EngineConfig {
    config_with_capacity(100, 100)
}

fn session(account: AccountId) -> SessionId {
    SessionId(100 + account.0)
}

// ----- the harness -----

type Table = Vec<(Command, Vec<Event>)>;

struct Harness {
    engine: Engine,
    model: Model,
    feed: FeedBook,
    row: usize,
}

impl Harness {
    fn new(config: EngineConfig) -> Harness {
        let engine = Engine::new(config.clone()).expect("valid config");
        Harness {
            engine,
            model: Model::new(config),
            feed: FeedBook::default(),
            row: 0,
        }
    }

    fn run(&mut self, table: Table) {
        for (command, expected) in table {
            self.row += 1;
            let mut events = Vec::new();
            self.engine.apply(&command, &mut events);
            let model_events = self.model.apply(&command);
            assert_eq!(
                model_events, expected,
                "MODEL row {}: {command:?}",
                self.row
            );
            assert_eq!(events, expected, "ENGINE row {}: {command:?}", self.row);
            self.after(&events);
        }
    }

    /// `Engine::cancel_orders`, checked like a row.
    fn cancel_orders(&mut self, filter: OrderFilter, reason: CancelReason, expected: Vec<Event>) {
        let mut events = Vec::new();
        let count = self.engine.cancel_orders(filter, reason, &mut events);
        let (model_events, model_count) = self.model.cancel_orders(filter, reason);
        assert_eq!(model_events, expected, "MODEL cancel_orders {filter:?}");
        assert_eq!(events, expected, "ENGINE cancel_orders {filter:?}");
        assert_eq!(
            (count, model_count),
            (expected.len() as u32 / 2, expected.len() as u32 / 2)
        );
        self.after(&events);
    }

    fn after(&mut self, events: &[Event]) {
        self.engine.verify();
        for event in events {
            self.feed.apply(event);
        }
        for instrument in [I0, I1] {
            for side in [Buy, Sell] {
                let mut orders = Vec::new();
                self.engine
                    .for_each_order(instrument, side, |order| orders.push(order));
                assert_eq!(
                    orders,
                    self.model.orders(instrument, side),
                    "row {}",
                    self.row
                );
                assert_eq!(
                    displayed(&orders),
                    self.feed.side(instrument, side),
                    "feed view"
                );
                let mut levels = Vec::new();
                self.engine
                    .for_each_level(instrument, side, |level| levels.push(level));
                assert_eq!(levels, self.model.levels(instrument, side));
            }
        }
        assert_eq!(
            self.engine.resting_order_count(),
            self.model.resting_order_count()
        );
        assert_eq!(self.engine.level_count(), self.model.level_count());
        assert_eq!(self.engine.next_order_id(), self.model.next_order_id());
        assert_eq!(self.engine.next_match_id(), self.model.next_match_id());
    }

    /// One side of a book as (order id, leaves, displayed), in priority order.
    fn side(&self, instrument: InstrumentId, side: Side) -> Vec<(u64, u32, u32)> {
        let mut orders = Vec::new();
        self.engine.for_each_order(instrument, side, |order| {
            orders.push((order.id.0, order.leaves.0, order.displayed.0))
        });
        orders
    }
}

// ----- commands -----

fn limit(account: AccountId, side: Side, price: i64, qty: u32) -> NewOrder {
    NewOrder {
        account,
        session: session(account),
        client_ref: CREF,
        instrument: I0,
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price: Price(price),
        qty: Qty(qty),
        display_qty: Qty(0),
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::AccountDefault,
    }
}

fn buy(account: AccountId, price: i64, qty: u32) -> NewOrder {
    limit(account, Buy, price, qty)
}

fn sell(account: AccountId, price: i64, qty: u32) -> NewOrder {
    limit(account, Sell, price, qty)
}

fn market(account: AccountId, side: Side, qty: u32) -> NewOrder {
    NewOrder {
        order_type: OrderType::Market,
        time_in_force: TimeInForce::Ioc,
        price: Price(0),
        ..limit(account, side, 0, qty)
    }
}

/// Small modifiers so that table rows read as a sentence: `buy(A, 100, 8).tif(Fok)`.
trait Tweak {
    fn tif(self, time_in_force: TimeInForce) -> Self;
    fn display(self, display_qty: u32) -> Self;
    fn min(self, min_qty: u32) -> Self;
    fn post(self) -> Self;
    fn stp(self, stp: StpMode) -> Self;
    fn on(self, instrument: InstrumentId) -> Self;
    fn px(self, price: i64) -> Self;
    fn qty(self, qty: u32) -> Self;
    fn sess(self, session: SessionId) -> Self;
}

impl Tweak for NewOrder {
    fn tif(self, time_in_force: TimeInForce) -> Self {
        NewOrder {
            time_in_force,
            ..self
        }
    }
    fn display(self, display_qty: u32) -> Self {
        NewOrder {
            display_qty: Qty(display_qty),
            ..self
        }
    }
    fn min(self, min_qty: u32) -> Self {
        NewOrder {
            min_qty: Qty(min_qty),
            ..self
        }
    }
    fn post(self) -> Self {
        NewOrder {
            post_only: true,
            ..self
        }
    }
    fn stp(self, stp: StpMode) -> Self {
        NewOrder { stp, ..self }
    }
    fn on(self, instrument: InstrumentId) -> Self {
        NewOrder { instrument, ..self }
    }
    fn px(self, price: i64) -> Self {
        NewOrder {
            price: Price(price),
            ..self
        }
    }
    fn qty(self, qty: u32) -> Self {
        NewOrder {
            qty: Qty(qty),
            ..self
        }
    }
    fn sess(self, session: SessionId) -> Self {
        NewOrder { session, ..self }
    }
}

fn new(order: &NewOrder) -> Command {
    Command::NewOrder(*order)
}

fn cancel(account: AccountId, order: u64) -> Command {
    Command::Cancel(CancelOrder {
        account,
        session: session(account),
        client_ref: CREF,
        order: OrderId(order),
    })
}

fn reduce(account: AccountId, order: u64, leaves_qty: u32) -> Command {
    Command::Reduce(ReduceOrder {
        account,
        session: session(account),
        client_ref: CREF,
        order: OrderId(order),
        leaves_qty: Qty(leaves_qty),
    })
}

fn replace(account: AccountId, order: u64, price: i64, qty: u32, display_qty: u32) -> Command {
    Command::Replace(ReplaceOrder {
        account,
        session: session(account),
        client_ref: CREF,
        order: OrderId(order),
        price: Price(price),
        qty: Qty(qty),
        display_qty: Qty(display_qty),
    })
}

fn mass(account: Option<AccountId>, instrument: Option<InstrumentId>) -> Command {
    Command::MassCancel(MassCancel {
        account,
        instrument,
        session: SessionId(55),
        client_ref: CREF,
    })
}

fn status(instrument: InstrumentId, status: TradingStatus) -> Command {
    Command::SetTradingStatus { instrument, status }
}

// ----- events -----

fn event_price(order: &NewOrder) -> Price {
    match order.order_type {
        OrderType::Market => Price(0),
        OrderType::Limit => order.price,
    }
}

fn acc(id: u64, order: &NewOrder) -> Event {
    let iceberg = order.display_qty.0 > 0 && order.display_qty < order.qty;
    Event::Accepted(Accepted {
        order: OrderId(id),
        account: order.account,
        session: order.session,
        client_ref: order.client_ref,
        instrument: order.instrument,
        side: order.side,
        order_type: order.order_type,
        time_in_force: order.time_in_force,
        price: event_price(order),
        qty: order.qty,
        display_qty: if iceberg {
            order.display_qty
        } else {
            order.qty
        },
    })
}

fn add(id: u64, order: &NewOrder, display_qty: u32) -> Event {
    Event::BookAdd(BookAdd {
        order: OrderId(id),
        instrument: order.instrument,
        account: order.account,
        side: order.side,
        price: order.price,
        display_qty: Qty(display_qty),
    })
}

/// A trade: `maker` and `taker` are (order id, the order as entered, leaves after the trade).
fn exec(
    match_id: u64,
    price: i64,
    qty: u32,
    maker: (u64, &NewOrder, u32),
    taker: (u64, &NewOrder, u32),
) -> Event {
    let (maker_id, maker_order, maker_leaves) = maker;
    let (taker_id, taker_order, taker_leaves) = taker;
    Event::Executed(Executed {
        match_id: MatchId(match_id),
        instrument: taker_order.instrument,
        price: Price(price),
        qty: Qty(qty),
        taker_side: taker_order.side,
        maker_order: OrderId(maker_id),
        maker_account: maker_order.account,
        maker_session: maker_order.session,
        maker_leaves: Qty(maker_leaves),
        taker_order: OrderId(taker_id),
        taker_account: taker_order.account,
        taker_session: taker_order.session,
        taker_leaves: Qty(taker_leaves),
    })
}

fn cxl(id: u64, order: &NewOrder, qty: u32, leaves: u32, reason: CancelReason) -> Event {
    Event::Cancelled(Cancelled {
        order: OrderId(id),
        account: order.account,
        session: order.session,
        instrument: order.instrument,
        side: order.side,
        price: event_price(order),
        cancelled_qty: Qty(qty),
        leaves: Qty(leaves),
        reason,
    })
}

fn del(id: u64, order: &NewOrder) -> Event {
    Event::BookDelete(BookDelete {
        order: OrderId(id),
        instrument: order.instrument,
    })
}

fn cut(id: u64, order: &NewOrder, qty: u32) -> Event {
    Event::BookReduce(BookReduce {
        order: OrderId(id),
        instrument: order.instrument,
        qty: Qty(qty),
    })
}

fn restated(id: u64, order: &NewOrder, display_qty: u32, leaves: u32) -> Event {
    Event::Restated(Restated {
        order: OrderId(id),
        account: order.account,
        session: order.session,
        instrument: order.instrument,
        display_qty: Qty(display_qty),
        leaves: Qty(leaves),
        reason: RestateReason::DisplayRefresh,
    })
}

/// `Replaced` for the replace command of `old` (the order as entered, for its owner and side).
fn replaced(old: u64, new: u64, order: &NewOrder, price: i64, qty: u32, display_qty: u32) -> Event {
    Event::Replaced(Replaced {
        old_order: OrderId(old),
        new_order: OrderId(new),
        account: order.account,
        session: order.session,
        client_ref: CREF,
        instrument: order.instrument,
        side: order.side,
        price: Price(price),
        qty: Qty(qty),
        display_qty: Qty(display_qty),
        priority_kept: old == new,
    })
}

fn book_replace(old: u64, new: u64, order: &NewOrder, price: i64, display_qty: u32) -> Event {
    Event::BookReplace(BookReplace {
        old_order: OrderId(old),
        new_order: OrderId(new),
        instrument: order.instrument,
        price: Price(price),
        display_qty: Qty(display_qty),
    })
}

fn rej_new(order: &NewOrder, reason: RejectReason) -> Event {
    Event::Rejected(Rejected {
        account: order.account,
        session: order.session,
        client_ref: order.client_ref,
        instrument: order.instrument,
        order: OrderId::NONE,
        command: CommandKind::NewOrder,
        reason,
    })
}

/// The reject of a cancel, reduce or replace sent by `account` for order `id` on `I0` (or of
/// an order that is not found: those carry instrument 0 too).
fn rej(command: CommandKind, account: AccountId, id: u64, reason: RejectReason) -> Event {
    rej_on(I0, command, account, id, reason)
}

/// The reject of a reduce or replace of order `id`, found resting on `instrument`.
fn rej_on(
    instrument: InstrumentId,
    command: CommandKind,
    account: AccountId,
    id: u64,
    reason: RejectReason,
) -> Event {
    Event::Rejected(Rejected {
        account,
        session: session(account),
        client_ref: CREF,
        instrument,
        order: OrderId(id),
        command,
        reason,
    })
}

fn mass_done(account: Option<AccountId>, instrument: Option<InstrumentId>, count: u32) -> Event {
    Event::MassCancelled(MassCancelled {
        account,
        instrument,
        session: SessionId(55),
        client_ref: CREF,
        cancelled_count: count,
    })
}

fn trading(instrument: InstrumentId, status: TradingStatus) -> Event {
    Event::TradingStatus { instrument, status }
}

use CommandKind::{Reduce as ReduceCmd, Replace as ReplaceCmd};
use RejectReason as R;
use StpMode::{CancelBoth, CancelIncoming, CancelResting, Decrement, Off};
use TimeInForce::{Fok, Gtc, Ioc as IocTif};

// ----- priority and fills -----

#[test]
fn price_then_time_priority_and_partial_fills_across_levels() {
    let s1 = sell(A, 101, 10);
    let s2 = sell(B, 100, 10);
    let s3 = sell(C, 100, 5);
    let b4 = buy(D, 101, 22);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 10)]),
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 5)]),
        (
            new(&b4),
            vec![
                acc(4, &b4),
                exec(1, 100, 10, (2, &s2, 0), (4, &b4, 12)),
                exec(2, 100, 5, (3, &s3, 0), (4, &b4, 7)),
                exec(3, 101, 7, (1, &s1, 3), (4, &b4, 0)),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(1, 3, 3)]);
    assert_eq!(h.side(I0, Buy), vec![]);
}

#[test]
fn limit_remainder_rests_after_walking_levels() {
    let s1 = sell(A, 100, 10);
    let s2 = sell(B, 101, 5);
    let s3 = sell(C, 102, 10);
    let b4 = buy(D, 101, 30);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 10)]),
        (
            new(&b4),
            vec![
                acc(4, &b4),
                exec(1, 100, 10, (1, &s1, 0), (4, &b4, 20)),
                exec(2, 101, 5, (2, &s2, 0), (4, &b4, 15)),
                add(4, &b4, 15),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(4, 15, 15)]);
    assert_eq!(h.side(I0, Sell), vec![(3, 10, 10)]);
}

#[test]
fn market_orders_with_and_without_liquidity() {
    let s1 = sell(B, 100, 5);
    let s2 = sell(C, 102, 5);
    let m3 = market(A, Buy, 8);
    let m4 = market(A, Buy, 10);
    let m5 = market(A, Sell, 10).tif(TimeInForce::Day).px(77);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        (
            new(&m3),
            vec![
                acc(3, &m3),
                exec(1, 100, 5, (1, &s1, 0), (3, &m3, 3)),
                exec(2, 102, 3, (2, &s2, 2), (3, &m3, 0)),
            ],
        ),
        // More than the book holds: the rest is cancelled.
        (
            new(&m4),
            vec![
                acc(4, &m4),
                exec(3, 102, 2, (2, &s2, 0), (4, &m4, 8)),
                cxl(4, &m4, 8, 0, Ioc),
            ],
        ),
        // Nothing to trade with; a market order never rests, whatever its time in force, and
        // its (ignored) price is reported as 0.
        (new(&m5), vec![acc(5, &m5), cxl(5, &m5, 10, 0, Ioc)]),
    ]);
    assert_eq!(h.side(I0, Sell), vec![]);
    assert_eq!(h.side(I0, Buy), vec![]);
}

#[test]
fn ioc_remainder_is_cancelled() {
    let s1 = sell(B, 100, 5);
    let b2 = buy(A, 100, 8).tif(IocTif);
    let b3 = buy(A, 99, 4).tif(IocTif);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (
            new(&b2),
            vec![
                acc(2, &b2),
                exec(1, 100, 5, (1, &s1, 0), (2, &b2, 3)),
                cxl(2, &b2, 3, 0, Ioc),
            ],
        ),
        (new(&b3), vec![acc(3, &b3), cxl(3, &b3, 4, 0, Ioc)]),
    ]);
    assert_eq!(h.engine.resting_order_count(), 0);
}

#[test]
fn fok_fills_whole_or_is_killed() {
    let s1 = sell(B, 100, 5);
    let s2 = sell(C, 101, 5);
    let f3 = buy(A, 101, 10).tif(Fok);
    let s4 = sell(B, 100, 5);
    let f5 = buy(A, 100, 6).tif(Fok);
    let f6 = buy(A, 99, 5).tif(Fok);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        (
            new(&f3),
            vec![
                acc(3, &f3),
                exec(1, 100, 5, (1, &s1, 0), (3, &f3, 5)),
                exec(2, 101, 5, (2, &s2, 0), (3, &f3, 0)),
            ],
        ),
        (new(&s4), vec![acc(4, &s4), add(4, &s4, 5)]),
        // 5 available at acceptable prices, 6 required: killed, nothing traded.
        (new(&f5), vec![acc(5, &f5), cxl(5, &f5, 6, 0, Kill)]),
        // The ask is not acceptable at 99.
        (new(&f6), vec![acc(6, &f6), cxl(6, &f6, 5, 0, Kill)]),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(4, 5, 5)]);
}

#[test]
fn fok_counts_iceberg_reserve_and_refreshes_it() {
    let s1 = sell(B, 100, 20).display(5);
    let f2 = buy(A, 100, 12).tif(Fok);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (
            new(&f2),
            vec![
                acc(2, &f2),
                exec(1, 100, 5, (1, &s1, 15), (2, &f2, 7)),
                restated(1, &s1, 5, 15),
                add(1, &s1, 5),
                exec(2, 100, 5, (1, &s1, 10), (2, &f2, 2)),
                restated(1, &s1, 5, 10),
                add(1, &s1, 5),
                exec(3, 100, 2, (1, &s1, 8), (2, &f2, 0)),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(1, 8, 3)]);
}

#[test]
fn min_qty_met_or_unmet() {
    let s1 = sell(B, 100, 5);
    let b2 = buy(A, 100, 10).min(6);
    let b3 = buy(A, 100, 10).min(5);
    let s4 = sell(D, 100, 8).min(8);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (new(&b2), vec![acc(2, &b2), cxl(2, &b2, 10, 0, Kill)]),
        // Met: trades, and the rest rests (min qty does not apply once resting).
        (
            new(&b3),
            vec![
                acc(3, &b3),
                exec(1, 100, 5, (1, &s1, 0), (3, &b3, 5)),
                add(3, &b3, 5),
            ],
        ),
        (new(&s4), vec![acc(4, &s4), cxl(4, &s4, 8, 0, Kill)]),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(3, 5, 5)]);
    assert_eq!(h.side(I0, Sell), vec![]);
}

#[test]
fn post_only_rejects_when_it_would_take_and_rests_otherwise() {
    let s1 = sell(B, 101, 5);
    let p2 = buy(A, 101, 5).post();
    let p3 = buy(B, 102, 5).post();
    let p4 = buy(A, 100, 5).post();
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (new(&p2), vec![rej_new(&p2, R::PostOnlyWouldTake)]),
        // Whoever owns the best opposite order.
        (new(&p3), vec![rej_new(&p3, R::PostOnlyWouldTake)]),
        (new(&p4), vec![acc(2, &p4), add(2, &p4, 5)]),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(2, 5, 5)]);
    assert!(h.engine.order(OrderId(2)).expect("rests").post_only);
}

#[test]
fn iceberg_refresh_goes_to_the_back_of_its_level() {
    let s1 = sell(A, 100, 30).display(10);
    let s2 = sell(B, 100, 10);
    let b3 = buy(D, 100, 10);
    let b4 = buy(D, 100, 5);
    let b5 = buy(D, 100, 30);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 10)]),
        (
            new(&b3),
            vec![
                acc(3, &b3),
                exec(1, 100, 10, (1, &s1, 20), (3, &b3, 0)),
                restated(1, &s1, 10, 20),
                add(1, &s1, 10),
            ],
        ),
        // The refreshed iceberg lost its place: order 2 trades first.
        (
            new(&b4),
            vec![acc(4, &b4), exec(2, 100, 5, (2, &s2, 5), (4, &b4, 0))],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(2, 5, 5), (1, 20, 10)]);
    h.run(vec![(
        new(&b5),
        vec![
            acc(5, &b5),
            exec(3, 100, 5, (2, &s2, 0), (5, &b5, 25)),
            exec(4, 100, 10, (1, &s1, 10), (5, &b5, 15)),
            restated(1, &s1, 10, 10),
            add(1, &s1, 10),
            exec(5, 100, 10, (1, &s1, 0), (5, &b5, 5)),
            add(5, &b5, 5),
        ],
    )]);
    assert_eq!(h.side(I0, Sell), vec![]);
    assert_eq!(h.side(I0, Buy), vec![(5, 5, 5)]);
}

#[test]
fn iceberg_taker_rests_with_its_peak() {
    let s1 = sell(B, 100, 3);
    let b2 = buy(A, 100, 20).display(4);
    let b3 = buy(A, 100, 6).display(6);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 3)]),
        (
            new(&b2),
            vec![
                acc(2, &b2),
                exec(1, 100, 3, (1, &s1, 0), (2, &b2, 17)),
                add(2, &b2, 4),
            ],
        ),
        // display_qty == qty is a fully displayed order.
        (new(&b3), vec![acc(3, &b3), add(3, &b3, 6)]),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(2, 17, 4), (3, 6, 6)]);
    assert_eq!(h.engine.order(OrderId(2)).expect("rests").peak, Qty(4));
    assert_eq!(h.engine.order(OrderId(3)).expect("rests").peak, Qty(0));
}

#[test]
fn end_of_day_cancels_day_orders_in_book_order_and_keeps_gtc() {
    let b1 = buy(A, 99, 5);
    let b2 = buy(B, 100, 5).tif(Gtc);
    let s3 = sell(C, 101, 5);
    let b4 = buy(D, 98, 5);
    let s5 = sell(A, 150, 10).on(I1);
    let b6 = buy(B, 145, 10).on(I1).tif(Gtc);
    let ack = |count| {
        Event::ControlAck(ControlAck {
            command: CommandKind::EndOfDay,
            account: AccountId(0),
            instrument: InstrumentId(0),
            value: count,
        })
    };
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&b1), vec![acc(1, &b1), add(1, &b1, 5)]),
        (new(&b2), vec![acc(2, &b2), add(2, &b2, 5)]),
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 5)]),
        (new(&b4), vec![acc(4, &b4), add(4, &b4, 5)]),
        (new(&s5), vec![acc(5, &s5), add(5, &s5, 10)]),
        (new(&b6), vec![acc(6, &b6), add(6, &b6, 10)]),
        (
            Command::EndOfDay,
            vec![
                cxl(1, &b1, 5, 0, Eod),
                del(1, &b1),
                cxl(4, &b4, 5, 0, Eod),
                del(4, &b4),
                cxl(3, &s3, 5, 0, Eod),
                del(3, &s3),
                cxl(5, &s5, 10, 0, Eod),
                del(5, &s5),
                ack(4),
            ],
        ),
        (Command::EndOfDay, vec![ack(0)]),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(2, 5, 5)]);
    assert_eq!(h.side(I1, Buy), vec![(6, 10, 10)]);
}

// ----- self-trade prevention -----

#[test]
fn stp_cancel_resting_cancels_the_maker_and_goes_on() {
    let s1 = sell(A, 100, 10);
    let s2 = sell(B, 100, 5);
    let b3 = buy(A, 100, 8).stp(CancelResting);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        (
            new(&b3),
            vec![
                acc(3, &b3),
                cxl(1, &s1, 10, 0, SelfTrade),
                del(1, &s1),
                exec(1, 100, 5, (2, &s2, 0), (3, &b3, 3)),
                add(3, &b3, 3),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(3, 3, 3)]);
}

#[test]
fn stp_cancel_incoming_stops_the_taker_after_earlier_trades() {
    let s1 = sell(B, 99, 2);
    let s2 = sell(A, 100, 10);
    let b3 = buy(A, 100, 8).stp(CancelIncoming);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 2)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 10)]),
        (
            new(&b3),
            vec![
                acc(3, &b3),
                exec(1, 99, 2, (1, &s1, 0), (3, &b3, 6)),
                cxl(3, &b3, 6, 0, SelfTrade),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(2, 10, 10)]);
    assert_eq!(h.side(I0, Buy), vec![]);
}

#[test]
fn stp_cancel_both() {
    let s1 = sell(B, 99, 2);
    let s2 = sell(A, 100, 10);
    let s3 = sell(B, 100, 3);
    let b4 = buy(A, 100, 8).stp(CancelBoth);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 2)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 10)]),
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 3)]),
        (
            new(&b4),
            vec![
                acc(4, &b4),
                exec(1, 99, 2, (1, &s1, 0), (4, &b4, 6)),
                cxl(2, &s2, 10, 0, SelfTrade),
                del(2, &s2),
                cxl(4, &b4, 6, 0, SelfTrade),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(3, 3, 3)]);
    assert_eq!(h.side(I0, Buy), vec![]);
}

#[test]
fn stp_decrement_plain_maker() {
    let s1 = sell(A, 100, 10);
    let s2 = sell(B, 100, 4);
    let b3 = buy(A, 100, 6).stp(Decrement);
    let b4 = buy(A, 100, 9).stp(Decrement);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 4)]),
        (
            new(&b3),
            vec![
                acc(3, &b3),
                cxl(1, &s1, 6, 4, SelfTrade),
                cut(1, &s1, 6),
                cxl(3, &b3, 6, 0, SelfTrade),
            ],
        ),
        // Decrement goes on: the maker is used up, the taker trades with B and rests.
        (
            new(&b4),
            vec![
                acc(4, &b4),
                cxl(1, &s1, 4, 0, SelfTrade),
                del(1, &s1),
                cxl(4, &b4, 4, 5, SelfTrade),
                exec(1, 100, 4, (2, &s2, 0), (4, &b4, 1)),
                add(4, &b4, 1),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(4, 1, 1)]);
    assert_eq!(h.side(I0, Sell), vec![]);
}

#[test]
fn stp_decrement_iceberg_maker_cuts_reserve_first() {
    let s1 = sell(A, 100, 20).display(5);
    let b2 = buy(A, 100, 12).stp(Decrement);
    let b3 = buy(A, 100, 6).stp(Decrement);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        // Reserve 15 -> 3: the display is untouched, no book event.
        (
            new(&b2),
            vec![
                acc(2, &b2),
                cxl(1, &s1, 12, 8, SelfTrade),
                cxl(2, &b2, 12, 0, SelfTrade),
            ],
        ),
        // Reserve 3 -> 0, then display 5 -> 2.
        (
            new(&b3),
            vec![
                acc(3, &b3),
                cxl(1, &s1, 6, 2, SelfTrade),
                cut(1, &s1, 3),
                cxl(3, &b3, 6, 0, SelfTrade),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(1, 2, 2)]);
}

#[test]
fn stp_account_default_and_off_and_the_taker_mode_decides() {
    let s1 = sell(C, 100, 10);
    let b2 = buy(C, 100, 4);
    let s3 = sell(D, 99, 5);
    let b4 = buy(D, 99, 5);
    let s5 = sell(A, 99, 5).stp(Decrement);
    let b6 = buy(A, 99, 5).stp(Off);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        // C's default is Decrement.
        (
            new(&b2),
            vec![
                acc(2, &b2),
                cxl(1, &s1, 4, 6, SelfTrade),
                cut(1, &s1, 4),
                cxl(2, &b2, 4, 0, SelfTrade),
            ],
        ),
        // D's default is Off: it trades with itself.
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 5)]),
        (
            new(&b4),
            vec![acc(4, &b4), exec(1, 99, 5, (3, &s3, 0), (4, &b4, 0))],
        ),
        // The incoming order's mode decides, not the resting order's.
        (new(&s5), vec![acc(5, &s5), add(5, &s5, 5)]),
        (
            new(&b6),
            vec![acc(6, &b6), exec(2, 99, 5, (5, &s5, 0), (6, &b6, 0))],
        ),
    ]);
    assert_eq!(h.engine.order(OrderId(1)).expect("rests").stp, Decrement);
}

#[test]
fn fill_requirement_respects_stp() {
    let s1 = sell(B, 100, 5);
    let s2 = sell(A, 100, 5);
    let s3 = sell(B, 100, 5);
    let f4 = buy(A, 100, 10).tif(Fok).stp(CancelIncoming);
    let f5 = buy(A, 100, 10).tif(Fok).stp(CancelResting);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 5)]),
        // The count stops at A's own order: 5 < 10.
        (new(&f4), vec![acc(4, &f4), cxl(4, &f4, 10, 0, Kill)]),
        // CancelResting skips it: 10 >= 10.
        (
            new(&f5),
            vec![
                acc(5, &f5),
                exec(1, 100, 5, (1, &s1, 0), (5, &f5, 5)),
                cxl(2, &s2, 5, 0, SelfTrade),
                del(2, &s2),
                exec(2, 100, 5, (3, &s3, 0), (5, &f5, 0)),
            ],
        ),
    ]);
    assert_eq!(h.engine.resting_order_count(), 0);
}

#[test]
fn fill_requirement_counts_only_display_ahead_of_a_blocking_own_order() {
    let s1 = sell(B, 100, 20).display(5);
    let s2 = sell(A, 100, 5);
    let b3 = buy(A, 100, 10).min(6).stp(Decrement);
    let b4 = buy(A, 100, 10).min(5).stp(Decrement);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        // B's reserve would refresh behind A's order: only its display (5) counts.
        (new(&b3), vec![acc(3, &b3), cxl(3, &b3, 10, 0, Kill)]),
        (
            new(&b4),
            vec![
                acc(4, &b4),
                exec(1, 100, 5, (1, &s1, 15), (4, &b4, 5)),
                restated(1, &s1, 5, 15),
                add(1, &s1, 5),
                cxl(2, &s2, 5, 0, SelfTrade),
                del(2, &s2),
                cxl(4, &b4, 5, 0, SelfTrade),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(1, 15, 5)]);
}

// ----- reduce and replace -----

#[test]
fn reduce_keeps_priority_and_cuts_reserve_first() {
    let s1 = sell(A, 100, 10);
    let s2 = sell(B, 100, 10);
    let b3 = buy(C, 100, 4);
    let s4 = sell(A, 101, 30).display(10);
    let s5 = sell(A, 150, 30).on(I1);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 10)]),
        (
            reduce(A, 1, 4),
            vec![cxl(1, &s1, 6, 4, Reduced), cut(1, &s1, 6)],
        ),
        // Order 1 kept its place.
        (
            new(&b3),
            vec![acc(3, &b3), exec(1, 100, 4, (1, &s1, 0), (3, &b3, 0))],
        ),
        (new(&s4), vec![acc(4, &s4), add(4, &s4, 10)]),
        (reduce(A, 4, 15), vec![cxl(4, &s4, 15, 15, Reduced)]),
        (
            reduce(A, 4, 6),
            vec![cxl(4, &s4, 9, 6, Reduced), cut(4, &s4, 4)],
        ),
        (
            reduce(A, 4, 6),
            vec![rej(ReduceCmd, A, 4, R::ReduceNotLower)],
        ),
        (
            reduce(A, 4, 7),
            vec![rej(ReduceCmd, A, 4, R::ReduceNotLower)],
        ),
        (reduce(B, 4, 3), vec![rej(ReduceCmd, B, 4, R::UnknownOrder)]),
        (
            reduce(A, 99, 1),
            vec![rej(ReduceCmd, A, 99, R::UnknownOrder)],
        ),
        // Reduce to zero is a cancel.
        (reduce(B, 2, 0), vec![cxl(2, &s2, 10, 0, User), del(2, &s2)]),
        (new(&s5), vec![acc(5, &s5), add(5, &s5, 30)]),
        (
            reduce(A, 5, 15),
            vec![rej_on(I1, ReduceCmd, A, 5, R::QtyNotLotMultiple)],
        ),
        (
            reduce(A, 5, 35),
            vec![rej_on(I1, ReduceCmd, A, 5, R::ReduceNotLower)],
        ),
        // Allowed while halted.
        (
            status(I1, TradingStatus::Halted),
            vec![trading(I1, TradingStatus::Halted)],
        ),
        (
            reduce(A, 5, 20),
            vec![cxl(5, &s5, 10, 20, Reduced), cut(5, &s5, 10)],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(4, 6, 6)]);
    assert_eq!(h.side(I1, Sell), vec![(5, 20, 20)]);
}

#[test]
fn replace_keeps_priority_only_at_the_same_price_and_display_with_less_qty() {
    let s1 = sell(A, 100, 10);
    let s2 = sell(B, 100, 10);
    let b3 = buy(C, 100, 6);
    let s4 = sell(A, 101, 30).display(10);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 10)]),
        (
            replace(A, 1, 100, 6, 0),
            vec![replaced(1, 1, &s1, 100, 6, 6), cut(1, &s1, 4)],
        ),
        (
            new(&b3),
            vec![acc(3, &b3), exec(1, 100, 6, (1, &s1, 0), (3, &b3, 0))],
        ),
        (new(&s4), vec![acc(4, &s4), add(4, &s4, 10)]),
        // An iceberg keeps its place when its display size stays: the cut is from reserve.
        (
            replace(A, 4, 101, 25, 10),
            vec![replaced(4, 4, &s4, 101, 25, 10)],
        ),
        // More quantity: a new id at the back.
        (
            replace(B, 2, 100, 12, 0),
            vec![
                replaced(2, 5, &s2, 100, 12, 12),
                book_replace(2, 5, &s2, 100, 12),
            ],
        ),
        // A new display size: a new id, even with less quantity.
        (
            replace(A, 4, 101, 20, 5),
            vec![
                replaced(4, 6, &s4, 101, 20, 5),
                book_replace(4, 6, &s4, 101, 5),
            ],
        ),
        // A new price: a new id, even with less quantity.
        (
            replace(B, 5, 102, 11, 0),
            vec![
                replaced(5, 7, &s2, 102, 11, 11),
                book_replace(5, 7, &s2, 102, 11),
            ],
        ),
        (
            replace(B, 7, 102, 11, 0),
            vec![rej(ReplaceCmd, B, 7, R::ReplaceNoChange)],
        ),
        // display_qty == qty is fully displayed: no change either.
        (
            replace(B, 7, 102, 11, 11),
            vec![rej(ReplaceCmd, B, 7, R::ReplaceNoChange)],
        ),
        (
            replace(A, 6, 101, 20, 5),
            vec![rej(ReplaceCmd, A, 6, R::ReplaceNoChange)],
        ),
        // The replaced ids are gone.
        (
            replace(B, 2, 100, 1, 0),
            vec![rej(ReplaceCmd, B, 2, R::UnknownOrder)],
        ),
        (
            cancel(A, 4),
            vec![rej(CommandKind::Cancel, A, 4, R::UnknownOrder)],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(6, 20, 5), (7, 11, 11)]);
}

#[test]
fn replace_that_crosses_trades_and_then_rests_or_leaves() {
    let b1 = buy(A, 99, 10);
    let s2 = sell(B, 101, 5);
    let s3 = sell(C, 102, 5);
    let b1r = b1.px(102).qty(12);
    let b5 = buy(A, 99, 5);
    let s6 = sell(B, 104, 5);
    let b5r = b5.px(104);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&b1), vec![acc(1, &b1), add(1, &b1, 10)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 5)]),
        (
            replace(A, 1, 102, 12, 0),
            vec![
                replaced(1, 4, &b1, 102, 12, 12),
                exec(1, 101, 5, (2, &s2, 0), (4, &b1r, 7)),
                exec(2, 102, 5, (3, &s3, 0), (4, &b1r, 2)),
                book_replace(1, 4, &b1, 102, 2),
            ],
        ),
        (new(&b5), vec![acc(5, &b5), add(5, &b5, 5)]),
        (new(&s6), vec![acc(6, &s6), add(6, &s6, 5)]),
        // Fully filled on re-entry: the old id leaves the book after the trades.
        (
            replace(A, 5, 104, 5, 0),
            vec![
                replaced(5, 7, &b5, 104, 5, 5),
                exec(3, 104, 5, (6, &s6, 0), (7, &b5r, 0)),
                del(5, &b5),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Buy), vec![(4, 2, 2)]);
    assert_eq!(h.side(I0, Sell), vec![]);
}

#[test]
fn replace_keeps_the_orders_stp_and_post_only() {
    let b1 = buy(A, 98, 5).stp(CancelIncoming);
    let s2 = sell(A, 100, 5);
    let b1r = b1.px(100);
    let p4 = buy(B, 99, 5).post();
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&b1), vec![acc(1, &b1), add(1, &b1, 5)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        // The replacement meets its own account's order: CancelIncoming stops it.
        (
            replace(A, 1, 100, 5, 0),
            vec![
                replaced(1, 3, &b1, 100, 5, 5),
                cxl(3, &b1r, 5, 0, SelfTrade),
                del(1, &b1),
            ],
        ),
        (new(&p4), vec![acc(4, &p4), add(4, &p4, 5)]),
        (
            replace(B, 4, 100, 5, 0),
            vec![rej(ReplaceCmd, B, 4, R::PostOnlyWouldTake)],
        ),
        (
            replace(B, 4, 99, 6, 0),
            vec![
                replaced(4, 5, &p4, 99, 6, 6),
                book_replace(4, 5, &p4, 99, 6),
            ],
        ),
    ]);
    assert!(h.engine.order(OrderId(5)).expect("rests").post_only);
    assert_eq!(h.side(I0, Sell), vec![(2, 5, 5)]);
}

// ----- mass cancel, halt, admin -----

/// Six resting orders: A and B on both instruments.
fn mass_setup() -> (Harness, [NewOrder; 6]) {
    let orders = [
        buy(A, 99, 5),
        buy(B, 99, 5),
        sell(A, 101, 5),
        buy(A, 100, 5),
        sell(A, 150, 10).on(I1),
        buy(B, 145, 10).on(I1),
    ];
    let mut h = Harness::new(config());
    let rows = orders
        .iter()
        .enumerate()
        .map(|(index, order)| {
            let id = index as u64 + 1;
            (
                new(order),
                vec![acc(id, order), add(id, order, order.qty.0)],
            )
        })
        .collect();
    h.run(rows);
    (h, orders)
}

#[test]
fn mass_cancel_by_account_goes_by_ascending_order_id() {
    let (mut h, o) = mass_setup();
    h.run(vec![(
        mass(Some(A), None),
        vec![
            cxl(1, &o[0], 5, 0, Mass),
            del(1, &o[0]),
            cxl(3, &o[2], 5, 0, Mass),
            del(3, &o[2]),
            cxl(4, &o[3], 5, 0, Mass),
            del(4, &o[3]),
            cxl(5, &o[4], 10, 0, Mass),
            del(5, &o[4]),
            mass_done(Some(A), None, 4),
        ],
    )]);
    assert_eq!(h.engine.resting_order_count(), 2);
}

#[test]
fn mass_cancel_by_instrument_walks_the_book() {
    let (mut h, o) = mass_setup();
    h.run(vec![(
        mass(None, Some(I0)),
        vec![
            cxl(4, &o[3], 5, 0, Mass),
            del(4, &o[3]),
            cxl(1, &o[0], 5, 0, Mass),
            del(1, &o[0]),
            cxl(2, &o[1], 5, 0, Mass),
            del(2, &o[1]),
            cxl(3, &o[2], 5, 0, Mass),
            del(3, &o[2]),
            mass_done(None, Some(I0), 4),
        ],
    )]);
    assert_eq!(h.engine.resting_order_count(), 2);
}

#[test]
fn mass_cancel_by_account_and_instrument_and_of_everything() {
    let (mut h, o) = mass_setup();
    h.run(vec![
        (
            mass(Some(A), Some(I0)),
            vec![
                cxl(1, &o[0], 5, 0, Mass),
                del(1, &o[0]),
                cxl(3, &o[2], 5, 0, Mass),
                del(3, &o[2]),
                cxl(4, &o[3], 5, 0, Mass),
                del(4, &o[3]),
                mass_done(Some(A), Some(I0), 3),
            ],
        ),
        (
            mass(Some(A), Some(I0)),
            vec![mass_done(Some(A), Some(I0), 0)],
        ),
        (
            mass(None, None),
            vec![
                cxl(2, &o[1], 5, 0, Mass),
                del(2, &o[1]),
                cxl(6, &o[5], 10, 0, Mass),
                del(6, &o[5]),
                cxl(5, &o[4], 10, 0, Mass),
                del(5, &o[4]),
                mass_done(None, None, 3),
            ],
        ),
    ]);
    assert_eq!(h.engine.resting_order_count(), 0);
    assert_eq!(h.engine.level_count(), 0);
}

#[test]
fn mass_cancel_rejects_unknown_account_or_instrument() {
    let (mut h, _) = mass_setup();
    let reject = |account: u32, instrument: u32, reason| {
        Event::Rejected(Rejected {
            account: AccountId(account),
            session: SessionId(55),
            client_ref: CREF,
            instrument: InstrumentId(instrument),
            order: OrderId::NONE,
            command: CommandKind::MassCancel,
            reason,
        })
    };
    h.run(vec![
        (
            mass(Some(AccountId(9)), None),
            vec![reject(9, 0, R::UnknownAccount)],
        ),
        (
            mass(None, Some(InstrumentId(9))),
            vec![reject(0, 9, R::UnknownInstrument)],
        ),
        (
            mass(Some(A), Some(InstrumentId(9))),
            vec![reject(0, 9, R::UnknownInstrument)],
        ),
        (
            mass(Some(AccountId(9)), Some(I0)),
            vec![reject(9, 0, R::UnknownAccount)],
        ),
    ]);
    assert_eq!(h.engine.resting_order_count(), 6);
}

#[test]
fn halt_rejects_new_orders_and_replaces_but_allows_cancels_and_reduces() {
    let s1 = sell(A, 100, 5);
    let b2 = buy(B, 100, 5);
    let z = buy(B, 100, 0);
    let s3 = sell(A, 150, 10).on(I1);
    let b4 = buy(B, 100, 5);
    let halted = TradingStatus::Halted;
    let open = TradingStatus::Trading;
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (status(I0, halted), vec![trading(I0, halted)]),
        (new(&b2), vec![rej_new(&b2, R::InstrumentHalted)]),
        // Halted is judged before the quantity.
        (new(&z), vec![rej_new(&z, R::InstrumentHalted)]),
        (
            replace(A, 1, 101, 5, 0),
            vec![rej(ReplaceCmd, A, 1, R::InstrumentHalted)],
        ),
        (
            reduce(A, 1, 3),
            vec![cxl(1, &s1, 2, 3, Reduced), cut(1, &s1, 2)],
        ),
        (cancel(A, 1), vec![cxl(1, &s1, 3, 0, User), del(1, &s1)]),
        // Reported again when unchanged.
        (status(I0, halted), vec![trading(I0, halted)]),
        // Other instruments trade on.
        (new(&s3), vec![acc(2, &s3), add(2, &s3, 10)]),
        (status(I0, open), vec![trading(I0, open)]),
        (new(&b4), vec![acc(3, &b4), add(3, &b4, 5)]),
        (
            status(InstrumentId(9), halted),
            vec![Event::Rejected(Rejected {
                account: AccountId(0),
                session: SessionId(0),
                client_ref: 0,
                instrument: InstrumentId(9),
                order: OrderId::NONE,
                command: CommandKind::SetTradingStatus,
                reason: R::UnknownInstrument,
            })],
        ),
    ]);
    assert_eq!(h.engine.trading_status(I0), Some(open));
    assert_eq!(h.engine.trading_status(InstrumentId(9)), None);
}

#[test]
fn cancel_only_for_the_owner_of_a_resting_order() {
    let s1 = sell(A, 100, 5);
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, 5)]),
        (
            cancel(B, 1),
            vec![rej(CommandKind::Cancel, B, 1, R::UnknownOrder)],
        ),
        (
            cancel(AccountId(9), 1),
            vec![rej(CommandKind::Cancel, AccountId(9), 1, R::UnknownOrder)],
        ),
        (
            cancel(A, 0),
            vec![rej(CommandKind::Cancel, A, 0, R::UnknownOrder)],
        ),
        (cancel(A, 1), vec![cxl(1, &s1, 5, 0, User), del(1, &s1)]),
        (
            cancel(A, 1),
            vec![rej(CommandKind::Cancel, A, 1, R::UnknownOrder)],
        ),
    ]);
}

#[test]
fn block_account_cancels_its_orders_and_risk_commands_emit_nothing() {
    let (mut h, o) = mass_setup();
    h.run(vec![
        (
            Command::BlockAccount { account: B },
            vec![
                cxl(2, &o[1], 5, 0, CancelReason::KillSwitch),
                del(2, &o[1]),
                cxl(6, &o[5], 10, 0, CancelReason::KillSwitch),
                del(6, &o[5]),
            ],
        ),
        (
            Command::BlockAccount {
                account: AccountId(9),
            },
            vec![],
        ),
        (Command::UnblockAccount { account: B }, vec![]),
        (
            Command::SetReferencePrice {
                instrument: I0,
                price: Price(100),
            },
            vec![],
        ),
        (
            Command::SessionLost {
                account: A,
                session: session(A),
            },
            vec![],
        ),
        (
            Command::SetRiskLimit(peregrine_engine::SetRiskLimit {
                account: A,
                instrument: None,
                limit: peregrine_engine::command::RiskLimit::MaxOpenOrders,
                value: 1,
            }),
            vec![],
        ),
    ]);
    assert_eq!(h.engine.resting_order_count(), 4);
}

#[test]
fn cancel_orders_by_session_and_everything() {
    let a1 = buy(A, 99, 5);
    let a2 = sell(A, 101, 5).sess(SessionId(7));
    let a3 = buy(A, 98, 5).sess(SessionId(7));
    let b4 = buy(B, 100, 5).sess(SessionId(7));
    let mut h = Harness::new(config());
    h.run(vec![
        (new(&a1), vec![acc(1, &a1), add(1, &a1, 5)]),
        (new(&a2), vec![acc(2, &a2), add(2, &a2, 5)]),
        (new(&a3), vec![acc(3, &a3), add(3, &a3, 5)]),
        (new(&b4), vec![acc(4, &b4), add(4, &b4, 5)]),
    ]);
    let disconnect = CancelReason::Disconnect;
    let filter = OrderFilter {
        account: Some(A),
        instrument: None,
        session: Some(SessionId(7)),
    };
    h.cancel_orders(
        filter,
        disconnect,
        vec![
            cxl(2, &a2, 5, 0, disconnect),
            del(2, &a2),
            cxl(3, &a3, 5, 0, disconnect),
            del(3, &a3),
        ],
    );
    let kill = CancelReason::KillSwitch;
    h.cancel_orders(
        OrderFilter::default(),
        kill,
        vec![
            cxl(4, &b4, 5, 0, kill),
            del(4, &b4),
            cxl(1, &a1, 5, 0, kill),
            del(1, &a1),
        ],
    );
    h.cancel_orders(OrderFilter::default(), kill, vec![]);
}

// ----- capacity and validation -----

#[test]
fn capacity_rejects_for_the_order_pool_and_the_level_pool() {
    let b1 = buy(A, 99, 5);
    let s2 = sell(B, 101, 5);
    let b3 = buy(A, 98, 5);
    let b4 = buy(C, 99, 5);
    let b5 = buy(C, 99, 5);
    let s6 = sell(D, 99, 5);
    let s7 = sell(D, 99, 5).tif(IocTif);
    let m8 = market(D, Sell, 1);
    let b9 = buy(A, 98, 5);
    let mut h = Harness::new(config_with_capacity(3, 2));
    h.run(vec![
        (new(&b1), vec![acc(1, &b1), add(1, &b1, 5)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, 5)]),
        // Two levels in use: a new level is refused, an existing one is not.
        (new(&b3), vec![rej_new(&b3, R::LevelCapacity)]),
        (new(&b4), vec![acc(3, &b4), add(3, &b4, 5)]),
        (new(&b5), vec![rej_new(&b5, R::OrderCapacity)]),
        // An order that may rest is judged before matching, even if it would fill.
        (new(&s6), vec![rej_new(&s6, R::OrderCapacity)]),
        // Immediate orders never rest and are not judged on capacity.
        (
            new(&s7),
            vec![acc(4, &s7), exec(1, 99, 5, (1, &b1, 0), (4, &s7, 0))],
        ),
        (
            new(&m8),
            vec![acc(5, &m8), exec(2, 99, 1, (3, &b4, 4), (5, &m8, 0))],
        ),
        (new(&b9), vec![rej_new(&b9, R::LevelCapacity)]),
        // A replace to a price without a level is refused while the pool is full.
        (
            replace(B, 2, 102, 5, 0),
            vec![rej(ReplaceCmd, B, 2, R::LevelCapacity)],
        ),
        (
            replace(C, 3, 99, 3, 0),
            vec![replaced(3, 3, &b4, 99, 3, 3), cut(3, &b4, 1)],
        ),
        (cancel(B, 2), vec![cxl(2, &s2, 5, 0, User), del(2, &s2)]),
        (new(&b9), vec![acc(6, &b9), add(6, &b9, 5)]),
    ]);
}

#[test]
fn new_order_validation_in_order() {
    let base = buy(A, 150, 20).on(I1);
    let cases: Vec<(NewOrder, RejectReason)> = vec![
        (base.on(InstrumentId(9)), R::UnknownInstrument),
        (
            NewOrder {
                account: AccountId(9),
                ..base.on(InstrumentId(9))
            },
            R::UnknownInstrument,
        ),
        (
            NewOrder {
                account: AccountId(9),
                ..base
            },
            R::UnknownAccount,
        ),
        (base.qty(0), R::ZeroQty),
        (base.qty(15), R::QtyNotLotMultiple),
        (base.qty(510), R::QtyAboveInstrumentMax),
        (base.qty(0).px(3), R::ZeroQty),
        (market(A, Buy, 20).on(I1).post(), R::InvalidMarketOrder),
        (market(A, Buy, 20).on(I1).display(10), R::InvalidMarketOrder),
        (market(A, Buy, 510).on(I1).post(), R::QtyAboveInstrumentMax),
        (base.px(95), R::PriceOutOfBand),
        (base.px(205), R::PriceOutOfBand),
        (base.px(-5), R::PriceOutOfBand),
        (base.px(203).display(15), R::PriceOutOfBand),
        (base.px(152), R::PriceNotTickMultiple),
        (base.display(30), R::InvalidDisplayQty),
        (base.display(15).min(15), R::InvalidDisplayQty),
        (base.min(30), R::InvalidMinQty),
        (base.min(15), R::InvalidMinQty),
        (base.min(15).tif(IocTif), R::InvalidMinQty),
    ];
    let mut h = Harness::new(config());
    let rows = cases
        .iter()
        .map(|(order, reason)| (new(order), vec![rej_new(order, *reason)]))
        .collect();
    h.run(rows);
    // A market order's price field is ignored entirely.
    let m1 = market(A, Buy, 20).on(I1).px(3);
    h.run(vec![(new(&m1), vec![acc(1, &m1), cxl(1, &m1, 20, 0, Ioc)])]);
    assert_eq!(h.engine.next_order_id(), OrderId(2));
}

#[test]
fn replace_validation_in_order() {
    let s1 = sell(A, 150, 20).on(I1);
    let mut h = Harness::new(config());
    h.run(vec![(new(&s1), vec![acc(1, &s1), add(1, &s1, 20)])]);
    let cases = [
        (replace(B, 1, 150, 10, 0), R::UnknownOrder),
        (replace(A, 2, 150, 10, 0), R::UnknownOrder),
        (replace(A, 1, 150, 0, 0), R::ZeroQty),
        (replace(A, 1, 150, 15, 0), R::QtyNotLotMultiple),
        (replace(A, 1, 150, 510, 0), R::QtyAboveInstrumentMax),
        (replace(A, 1, 95, 0, 0), R::ZeroQty),
        (replace(A, 1, 95, 10, 0), R::PriceOutOfBand),
        (replace(A, 1, 153, 10, 30), R::PriceNotTickMultiple),
        (replace(A, 1, 150, 10, 20), R::InvalidDisplayQty),
        (replace(A, 1, 150, 20, 5), R::InvalidDisplayQty),
        (replace(A, 1, 150, 20, 0), R::ReplaceNoChange),
    ];
    let rows = cases
        .iter()
        .map(|(command, reason)| {
            let Command::Replace(r) = command else {
                unreachable!()
            };
            let instrument = if *reason == R::UnknownOrder { I0 } else { I1 };
            (
                *command,
                vec![rej_on(
                    instrument, ReplaceCmd, r.account, r.order.0, *reason,
                )],
            )
        })
        .collect();
    h.run(rows);
    h.run(vec![
        (
            status(I1, TradingStatus::Halted),
            vec![trading(I1, TradingStatus::Halted)],
        ),
        (
            replace(A, 1, 150, 0, 0),
            vec![rej_on(I1, ReplaceCmd, A, 1, R::InstrumentHalted)],
        ),
        (
            replace(B, 1, 150, 10, 0),
            vec![rej(ReplaceCmd, B, 1, R::UnknownOrder)],
        ),
    ]);
    assert_eq!(h.side(I1, Sell), vec![(1, 20, 20)]);
}

// ----- snapshot and restore -----

#[test]
fn restore_rebuilds_the_same_engine_and_judges_the_snapshot() {
    let (h, _) = mass_setup();
    let snapshot = h.engine.snapshot();
    assert_eq!(snapshot, h.model.snapshot());
    let restored = Engine::restore(config(), &snapshot).expect("restores");
    restored.verify();
    assert_eq!(restored.snapshot(), snapshot);

    let mut short = snapshot.clone();
    short.trading_status.pop();
    assert_eq!(
        Engine::restore(config(), &short).err(),
        Some(RestoreError::StatusCount)
    );

    let mut bad = snapshot.clone();
    bad.orders[2].account = AccountId(9);
    assert_eq!(
        Engine::restore(config(), &bad).err(),
        Some(RestoreError::BadOrder(2))
    );

    let mut bad = snapshot.clone();
    bad.orders[1].instrument = InstrumentId(9);
    assert_eq!(
        Engine::restore(config(), &bad).err(),
        Some(RestoreError::BadOrder(1))
    );

    let small = config_with_capacity(5, 100);
    assert_eq!(
        Engine::restore(small, &snapshot).err(),
        Some(RestoreError::Capacity)
    );

    let mut no_instruments = config();
    no_instruments.instruments.clear();
    assert!(matches!(
        Engine::restore(no_instruments, &snapshot),
        Err(RestoreError::Config(_))
    ));
}

// ----- extremes -----

#[test]
fn quantities_near_u32_max_do_not_overflow_level_sums_or_the_fill_requirement() {
    let mut config = config();
    config.instruments[0].max_order_qty = Qty(u32::MAX);
    let big = 4_000_000_000;
    let s1 = sell(A, 10, big);
    let s2 = sell(B, 10, big);
    let s3 = sell(C, 10, big).display(3_000_000_000);
    let f4 = buy(D, 10, u32::MAX).tif(Fok);
    let f5 = buy(D, 10, u32::MAX).min(u32::MAX).tif(IocTif);
    let b6 = buy(D, 10, 2_410_065_415).tif(IocTif);
    let rest = u32::MAX - big;
    let mut h = Harness::new(config);
    h.run(vec![
        (new(&s1), vec![acc(1, &s1), add(1, &s1, big)]),
        (new(&s2), vec![acc(2, &s2), add(2, &s2, big)]),
        (new(&s3), vec![acc(3, &s3), add(3, &s3, 3_000_000_000)]),
        // 12e9 available (the iceberg's reserve included) for a FOK of u32::MAX.
        (
            new(&f4),
            vec![
                acc(4, &f4),
                exec(1, 10, big, (1, &s1, 0), (4, &f4, rest)),
                exec(2, 10, rest, (2, &s2, big - rest), (4, &f4, 0)),
            ],
        ),
        // 3_705_032_705 + 4e9 left: still enough for a minimum of u32::MAX.
        (
            new(&f5),
            vec![
                acc(5, &f5),
                exec(3, 10, 3_705_032_705, (2, &s2, 0), (5, &f5, 589_934_590)),
                exec(4, 10, 589_934_590, (3, &s3, 3_410_065_410), (5, &f5, 0)),
            ],
        ),
        // The iceberg's display (2_410_065_410) runs out and refreshes to its peak, capped
        // by its leaves.
        (
            new(&b6),
            vec![
                acc(6, &b6),
                exec(5, 10, 2_410_065_410, (3, &s3, 1_000_000_000), (6, &b6, 5)),
                restated(3, &s3, 1_000_000_000, 1_000_000_000),
                add(3, &s3, 1_000_000_000),
                exec(6, 10, 5, (3, &s3, 999_999_995), (6, &b6, 0)),
            ],
        ),
    ]);
    assert_eq!(h.side(I0, Sell), vec![(3, 999_999_995, 999_999_995)]);
}
