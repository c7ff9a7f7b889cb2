//! The engine against the reference model under random order flow.
//!
//! Method: proptest generates a configuration (2–4 instruments with 20–40-tick bands so that
//! orders cross often, 3–4 accounts with mixed STP defaults, sometimes tiny capacities) and a
//! list of abstract operations. A driver turns each operation into a concrete command against
//! the current state: ids to cancel, reduce or replace are mostly taken from the orders the
//! events said are live, prices are mostly near the touch, and a share of every field is
//! invalid on purpose. Every command goes to the engine and to the model; after each one the
//! events must be equal, `Engine::verify` must pass, and the books (every instrument, both
//! sides, order by order in priority, and level by level), counters and next ids must be equal.
//! The book rebuilt from the events alone (feed consistency) must equal the displayed book, and
//! the live set tracked from events must equal the resting set.
//!
//! Tests: `engine_matches_model` (256 cases of 1,000–1,200 commands, ~280k commands),
//! `restored_engine_continues_identically` (snapshot and restore mid-flow; original, restored
//! engine and model must agree on every later command), `odd_ladders_match_model` (band lengths
//! on the edges of the engine's 64-slot bitmap words and 4,096-slot summary words, prices spread
//! over the whole band) and `deep_books_match_the_model_over_a_long_flow` (300k commands of the
//! realistic flow with about a thousand resting orders per book). About 620k commands in all.
//!
//! A failure is minimised by delta debugging over the concrete command history (replaying
//! subsets into fresh engines; a panic, e.g. from `verify`, counts as a failure too) and
//! printed as the few commands that still fail, with the model's and the engine's events.

mod reference;

use peregrine_engine::RejectReason;
use peregrine_engine::{
    AccountConfig, AccountId, CancelOrder, CancelReason, Command, Engine, EngineConfig, Event,
    InstrumentConfig, InstrumentId, MassCancel, NewOrder, OrderFilter, OrderId, OrderType,
    OrderView, Price, Qty, ReduceOrder, ReplaceOrder, SessionId, SetRiskLimit, Side, StpMode,
    TimeInForce, TradingStatus,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use proptest::test_runner::TestCaseError;
use reference::{displayed, FeedBook, Model};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

// ----- configuration -----

fn instrument_strategy(band_ticks: BoxedStrategy<i64>) -> impl Strategy<Value = InstrumentConfig> {
    let tick = prop_oneof![Just(1i64), Just(5), Just(100)];
    let lot = prop_oneof![2 => Just(1u32), 1 => Just(10)];
    (tick, lot, band_ticks, 10i64..=1_000, 20u32..=60).prop_map(
        |(tick, lot, band_ticks, base_ticks, max_lots)| InstrumentConfig {
            symbol: InstrumentConfig::symbol_from_str("PROP"),
            tick_size: Price(tick),
            lot_size: Qty(lot),
            min_price: Price(tick * base_ticks),
            max_price: Price(tick * (base_ticks + band_ticks)),
            max_order_qty: Qty(lot * max_lots),
        },
    )
}

fn concrete_stp() -> impl Strategy<Value = StpMode> {
    prop_oneof![
        Just(StpMode::Off),
        Just(StpMode::CancelResting),
        Just(StpMode::CancelIncoming),
        Just(StpMode::CancelBoth),
        Just(StpMode::Decrement),
    ]
}

fn config_strategy() -> impl Strategy<Value = EngineConfig> {
    let capacity = prop_oneof![
        3 => (3u32..=30, 2u32..=20),
        7 => Just((10_000u32, 10_000u32)),
    ];
    (
        prop::collection::vec(instrument_strategy((20i64..=40).boxed()), 2..=4),
        prop::collection::vec(concrete_stp().prop_map(|stp| AccountConfig { stp }), 3..=4),
        capacity,
    )
        .prop_map(
            |(instruments, accounts, (order_capacity, level_capacity))| EngineConfig {
                instruments,
                accounts,
                order_capacity,
                level_capacity,
            },
        )
}

/// Ladders whose lengths sit on the edges of the engine's bitmap words (64 slots) and summary
/// words (4,096 slots), down to a single price; one large capacity.
fn odd_ladder_config_strategy() -> impl Strategy<Value = EngineConfig> {
    let band_ticks = prop::sample::select(
        &[
            0i64, 1, 62, 63, 64, 65, 127, 128, 4_095, 4_096, 4_097, 9_000,
        ][..],
    );
    (
        prop::collection::vec(instrument_strategy(band_ticks.boxed()), 1..=3),
        prop::collection::vec(concrete_stp().prop_map(|stp| AccountConfig { stp }), 3..=4),
    )
        .prop_map(|(instruments, accounts)| EngineConfig {
            instruments,
            accounts,
            order_capacity: 10_000,
            level_capacity: 10_000,
        })
}

// ----- abstract operations -----

/// Which order a cancel, reduce or replace names.
#[derive(Clone, Debug)]
struct Pick {
    which: Index,
    /// Name a live order (else a dead or never-used id).
    live: bool,
    /// Send it from another account than the owner.
    foreign: bool,
    /// Send it from another session of the owner.
    other_session: bool,
}

fn pick_strategy() -> impl Strategy<Value = Pick> {
    (
        any::<Index>(),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.06),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(which, live, foreign, other_session)| Pick {
            which,
            live,
            foreign,
            other_session,
        })
}

#[derive(Clone, Copy, Debug)]
enum PriceSel {
    /// `n` ticks short of the opposite best (or of the middle of the band): builds depth.
    Passive(u8),
    /// At the opposite best or `n` ticks through it: trades.
    Cross(u8),
    /// Anywhere in the band, two ticks beyond it on each side included.
    Band(u16),
    /// A band price plus one unit (off the tick when the tick is above 1).
    OffTick(u16),
}

/// `band_weight` (of 100) is the share of prices anywhere in the band.
fn price_strategy(band_weight: u32) -> impl Strategy<Value = PriceSel> {
    prop_oneof![
        85 - band_weight => (1u8..=6).prop_map(PriceSel::Passive),
        10 => (0u8..=2).prop_map(PriceSel::Cross),
        band_weight => any::<u16>().prop_map(PriceSel::Band),
        5 => any::<u16>().prop_map(PriceSel::OffTick),
    ]
}

#[derive(Clone, Copy, Debug)]
enum QtySel {
    Lots(u8),
    Large(u8),
    Zero,
    OffLot(u8),
    AboveMax(u8),
}

fn qty_strategy() -> impl Strategy<Value = QtySel> {
    prop_oneof![
        85 => (1u8..=8).prop_map(QtySel::Lots),
        5 => any::<u8>().prop_map(QtySel::Large),
        3 => Just(QtySel::Zero),
        4 => any::<u8>().prop_map(QtySel::OffLot),
        3 => any::<u8>().prop_map(QtySel::AboveMax),
    ]
}

/// Display or minimum quantity of a new order, relative to its quantity.
#[derive(Clone, Copy, Debug)]
enum PartSel {
    None,
    /// A lot multiple up to the quantity.
    Lots(u8),
    /// Above the quantity.
    Above,
    OffLot(u8),
}

fn part_strategy(none_weight: u32) -> impl Strategy<Value = PartSel> {
    prop_oneof![
        none_weight => Just(PartSel::None),
        20 => any::<u8>().prop_map(PartSel::Lots),
        2 => Just(PartSel::Above),
        2 => any::<u8>().prop_map(PartSel::OffLot),
    ]
}

#[derive(Clone, Debug)]
struct NewSpec {
    account: u8,
    instrument: u8,
    side: Side,
    market: bool,
    time_in_force: TimeInForce,
    price: PriceSel,
    qty: QtySel,
    display: PartSel,
    min_qty: PartSel,
    post_only: bool,
    stp: StpMode,
    other_session: bool,
}

fn new_strategy(band_weight: u32) -> impl Strategy<Value = NewSpec> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let tif = prop_oneof![
        10 => Just(TimeInForce::Day),
        6 => Just(TimeInForce::Gtc),
        3 => Just(TimeInForce::Ioc),
        1 => Just(TimeInForce::Fok),
    ];
    let stp = prop_oneof![5 => Just(StpMode::AccountDefault), 5 => concrete_stp()];
    (
        (
            0u8..=127,
            0u8..=127,
            side,
            prop::bool::weighted(0.08),
            tif,
            price_strategy(band_weight),
        ),
        (
            qty_strategy(),
            part_strategy(70),
            part_strategy(300),
            prop::bool::weighted(0.08),
            stp,
        ),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |((account, instrument, side, market, time_in_force, price), rest, other_session)| {
                let (qty, display, min_qty, post_only, stp) = rest;
                NewSpec {
                    account,
                    instrument,
                    side,
                    market,
                    time_in_force,
                    price,
                    qty,
                    display,
                    min_qty,
                    post_only,
                    stp,
                    other_session,
                }
            },
        )
}

#[derive(Clone, Copy, Debug)]
enum ReplacePrice {
    Same,
    Offset(i8),
    /// At the opposite best (or beyond): trades.
    Cross(u8),
    Band(u16),
    OffTick,
}

#[derive(Clone, Copy, Debug)]
enum ReplaceQty {
    Down(u8),
    Same,
    Up(u8),
    Zero,
    OffLot,
    AboveMax,
}

#[derive(Clone, Copy, Debug)]
enum ReplaceDisplay {
    /// The order's current display mode (its iceberg peak, or fully displayed).
    Keep,
    Whole,
    Lots(u8),
    Invalid,
}

#[derive(Clone, Debug)]
struct ReplaceSpec {
    price: ReplacePrice,
    qty: ReplaceQty,
    display: ReplaceDisplay,
}

fn replace_strategy() -> impl Strategy<Value = ReplaceSpec> {
    let price = prop_oneof![
        45 => Just(ReplacePrice::Same),
        30 => (-3i8..=3).prop_map(ReplacePrice::Offset),
        12 => (0u8..=2).prop_map(ReplacePrice::Cross),
        8 => any::<u16>().prop_map(ReplacePrice::Band),
        5 => Just(ReplacePrice::OffTick),
    ];
    let qty = prop_oneof![
        35 => any::<u8>().prop_map(ReplaceQty::Down),
        20 => Just(ReplaceQty::Same),
        30 => (1u8..=10).prop_map(ReplaceQty::Up),
        3 => Just(ReplaceQty::Zero),
        3 => Just(ReplaceQty::OffLot),
        3 => Just(ReplaceQty::AboveMax),
    ];
    let display = prop_oneof![
        75 => Just(ReplaceDisplay::Keep),
        8 => Just(ReplaceDisplay::Whole),
        12 => any::<u8>().prop_map(ReplaceDisplay::Lots),
        5 => Just(ReplaceDisplay::Invalid),
    ];
    (price, qty, display).prop_map(|(price, qty, display)| ReplaceSpec {
        price,
        qty,
        display,
    })
}

#[derive(Clone, Copy, Debug)]
enum ReduceSel {
    Zero,
    Below(u8),
    Same,
    Above,
    OffLot(u8),
}

fn reduce_strategy() -> impl Strategy<Value = ReduceSel> {
    prop_oneof![
        10 => Just(ReduceSel::Zero),
        60 => any::<u8>().prop_map(ReduceSel::Below),
        10 => Just(ReduceSel::Same),
        10 => Just(ReduceSel::Above),
        10 => any::<u8>().prop_map(ReduceSel::OffLot),
    ]
}

/// One abstract operation; `u8` selectors of accounts and instruments map past the configured
/// count now and then (unknown ids).
#[derive(Clone, Debug)]
enum Op {
    New(NewSpec),
    Cancel(Pick),
    Reduce(Pick, ReduceSel),
    Replace(Pick, ReplaceSpec),
    Mass {
        account: Option<u8>,
        instrument: Option<u8>,
    },
    Status {
        instrument: u8,
        halt: bool,
    },
    EndOfDay,
    Block {
        account: u8,
    },
    RiskNoop(u8),
    CancelOrders {
        account: Option<u8>,
        instrument: Option<u8>,
        session: Option<u8>,
    },
}

/// `band_weight`: see `price_strategy`.
fn op_strategy(band_weight: u32) -> impl Strategy<Value = Op> {
    let small = || 0u8..=63;
    prop_oneof![
        400 => new_strategy(band_weight).prop_map(Op::New),
        50 => pick_strategy().prop_map(Op::Cancel),
        50 => (pick_strategy(), reduce_strategy()).prop_map(|(pick, sel)| Op::Reduce(pick, sel)),
        160 => (pick_strategy(), replace_strategy()).prop_map(|(pick, spec)| Op::Replace(pick, spec)),
        1 => (prop::option::of(small()), prop::option::of(small()))
            .prop_map(|(account, instrument)| Op::Mass { account, instrument }),
        10 => (small(), prop::bool::weighted(0.1)).prop_map(|(instrument, halt)| Op::Status { instrument, halt }),
        1 => Just(Op::EndOfDay),
        1 => small().prop_map(|account| Op::Block { account }),
        3 => any::<u8>().prop_map(Op::RiskNoop),
        1 => (prop::option::of(small()), prop::option::of(small()), prop::option::of(0u8..=2))
            .prop_map(|(account, instrument, session)| Op::CancelOrders { account, instrument, session }),
    ]
}

// ----- the driver -----

/// A command, a direct call of `Engine::cancel_orders`, or a snapshot and restore (from then
/// on a restored engine runs beside the original).
#[derive(Clone, Copy, Debug)]
enum Step {
    Command(Command),
    CancelOrders(OrderFilter, CancelReason),
    Restore,
}

struct Driver {
    engines: Vec<Engine>,
    model: Model,
    feed: FeedBook,
    /// Live orders as the events announced them: id -> (account, session).
    live: BTreeMap<OrderId, (AccountId, SessionId)>,
    /// Ids that were live once.
    dead: Vec<OrderId>,
    client_ref: u64,
    /// Every step applied, with the order ids it created (accepted orders and replacements).
    history: Vec<(Step, Vec<OrderId>)>,
    pub commands_applied: u64,
}

/// Maps a selector to an index below `count` most of the time, and past it 1 time in 32.
fn select(selector: u8, count: usize) -> u32 {
    let value = usize::from(selector);
    if value % 32 == 31 {
        (count + value % 3) as u32
    } else {
        (value % count) as u32
    }
}

fn session_of(account: AccountId, other: bool) -> SessionId {
    SessionId(account.0 * 10 + 1 + u32::from(other))
}

impl Driver {
    fn new(config: &EngineConfig) -> Driver {
        Driver {
            engines: vec![Engine::new(config.clone()).expect("valid config")],
            model: Model::new(config.clone()),
            feed: FeedBook::default(),
            live: BTreeMap::new(),
            dead: Vec::new(),
            client_ref: 0,
            history: Vec::new(),
            commands_applied: 0,
        }
    }

    fn config(&self) -> &EngineConfig {
        self.model.config()
    }

    fn rules(&self, instrument: InstrumentId) -> InstrumentConfig {
        let rules = &self.config().instruments;
        rules
            .get(instrument.0 as usize)
            .copied()
            .unwrap_or(rules[0])
    }

    /// Turns one operation into a step and applies it; on a failure, returns the minimised
    /// failing history.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.client_ref += 1;
        let step = self.resolve(op);
        self.apply_step(step)
            .map_err(|error| minimised_failure(self.config(), &self.history, error))
    }

    /// Applies one step to the model and every engine and checks everything.
    fn apply_step(&mut self, step: Step) -> Result<(), TestCaseError> {
        self.history.push((step, Vec::new()));
        let expected = match step {
            Step::Command(command) => self.model.apply(&command),
            Step::CancelOrders(filter, reason) => {
                let (events, count) = self.model.cancel_orders(filter, reason);
                prop_assert_eq!(count as usize * 2, events.len());
                events
            }
            Step::Restore => return self.restore_from_snapshot(),
        };
        for index in 0..self.engines.len() {
            let mut events = Vec::new();
            let engine = &mut self.engines[index];
            match step {
                Step::Command(command) => engine.apply(&command, &mut events),
                Step::CancelOrders(filter, reason) => {
                    let count = engine.cancel_orders(filter, reason, &mut events);
                    prop_assert_eq!(count as usize * 2, events.len());
                }
                Step::Restore => unreachable!("handled above"),
            }
            if events != expected {
                return Err(Driver::failure(step, index, &expected, &events));
            }
        }
        self.commands_applied += 1;
        let created = expected.iter().filter_map(|event| match event {
            Event::Accepted(accepted) => Some(accepted.order),
            Event::Replaced(replaced) if !replaced.priority_kept => Some(replaced.new_order),
            _ => None,
        });
        self.history
            .last_mut()
            .expect("pushed above")
            .1
            .extend(created);
        COVERAGE.count(&expected);
        COVERAGE.commands.fetch_add(1, Relaxed);
        COVERAGE
            .resting_sum
            .fetch_add(u64::from(self.model.resting_order_count()), Relaxed);
        for event in &expected {
            self.feed.apply(event);
        }
        self.track(&expected);
        self.check_state()
    }

    fn failure(
        step: Step,
        engine_index: usize,
        expected: &[Event],
        actual: &[Event],
    ) -> TestCaseError {
        let mut text = format!("engine events differ from the model's at {step:?}\n");
        text.push_str(&format!(
            "engine #{engine_index} (0 = original, 1 = restored)\nmodel:\n"
        ));
        for event in expected {
            text.push_str(&format!("  {event:?}\n"));
        }
        text.push_str("engine:\n");
        for event in actual {
            text.push_str(&format!("  {event:?}\n"));
        }
        TestCaseError::fail(text)
    }

    /// Follows the live set from the events alone.
    fn track(&mut self, events: &[Event]) {
        let mut gone = |live: &mut BTreeMap<_, _>, id: OrderId| {
            if live.remove(&id).is_some() {
                self.dead.push(id);
            }
        };
        for event in events {
            match event {
                Event::Accepted(accepted) => {
                    self.live
                        .insert(accepted.order, (accepted.account, accepted.session));
                }
                Event::Replaced(replaced) if !replaced.priority_kept => {
                    gone(&mut self.live, replaced.old_order);
                    self.live
                        .insert(replaced.new_order, (replaced.account, replaced.session));
                }
                Event::Executed(executed) => {
                    if executed.maker_leaves.0 == 0 {
                        gone(&mut self.live, executed.maker_order);
                    }
                    if executed.taker_leaves.0 == 0 {
                        gone(&mut self.live, executed.taker_order);
                    }
                }
                Event::Cancelled(cancelled) if cancelled.leaves.0 == 0 => {
                    gone(&mut self.live, cancelled.order)
                }
                Event::BookDelete(delete) => gone(&mut self.live, delete.order),
                _ => {}
            }
        }
    }

    fn check_state(&self) -> Result<(), TestCaseError> {
        let model = &self.model;
        let resting: Vec<OrderId> = model.all_orders().iter().map(|order| order.id).collect();
        let mut tracked: Vec<OrderId> = self.live.keys().copied().collect();
        let mut sorted = resting.clone();
        sorted.sort();
        tracked.sort();
        prop_assert_eq!(&tracked, &sorted, "live set from events vs resting orders");
        for engine in &self.engines {
            engine.verify();
            let instrument_count = self.config().instruments.len() as u32;
            for instrument in (0..instrument_count).map(InstrumentId) {
                for side in [Side::Buy, Side::Sell] {
                    let mut orders = Vec::new();
                    engine.for_each_order(instrument, side, |order| orders.push(order));
                    prop_assert_eq!(&orders, &model.orders(instrument, side));
                    prop_assert_eq!(displayed(&orders), self.feed.side(instrument, side));
                    let mut levels = Vec::new();
                    engine.for_each_level(instrument, side, |level| levels.push(level));
                    prop_assert_eq!(levels, model.levels(instrument, side));
                    prop_assert_eq!(
                        engine.best_price(instrument, side),
                        model.best_price(instrument, side)
                    );
                }
                prop_assert_eq!(
                    engine.trading_status(instrument),
                    model.trading_status(instrument)
                );
            }
            prop_assert_eq!(engine.resting_order_count(), model.resting_order_count());
            prop_assert_eq!(engine.level_count(), model.level_count());
            prop_assert_eq!(engine.next_order_id(), model.next_order_id());
            prop_assert_eq!(engine.next_match_id(), model.next_match_id());
            if self.commands_applied.is_multiple_of(64) {
                prop_assert_eq!(engine.snapshot(), model.snapshot());
            }
        }
        Ok(())
    }

    // ----- turning operations into commands -----

    fn resolve(&mut self, op: &Op) -> Step {
        let account_count = self.config().accounts.len();
        let instrument_count = self.config().instruments.len();
        let command = match op {
            Op::New(spec) => Command::NewOrder(self.new_order(spec)),
            Op::Cancel(pick) => {
                let (account, session, order, _) = self.pick(pick);
                Command::Cancel(CancelOrder {
                    account,
                    session,
                    client_ref: self.client_ref,
                    order,
                })
            }
            Op::Reduce(pick, sel) => Command::Reduce(self.reduce(pick, *sel)),
            Op::Replace(pick, spec) => Command::Replace(self.replace(pick, spec)),
            Op::Mass {
                account,
                instrument,
            } => Command::MassCancel(MassCancel {
                account: account.map(|a| AccountId(select(a, account_count))),
                instrument: instrument.map(|i| InstrumentId(select(i, instrument_count))),
                session: SessionId(99),
                client_ref: self.client_ref,
            }),
            Op::Status { instrument, halt } => Command::SetTradingStatus {
                instrument: InstrumentId(select(*instrument, instrument_count)),
                status: if *halt {
                    TradingStatus::Halted
                } else {
                    TradingStatus::Trading
                },
            },
            Op::EndOfDay => Command::EndOfDay,
            Op::Block { account } => Command::BlockAccount {
                account: AccountId(select(*account, account_count)),
            },
            Op::RiskNoop(selector) => risk_command(*selector),
            Op::CancelOrders {
                account,
                instrument,
                session,
            } => {
                let account = account.map(|a| AccountId(select(a, account_count)));
                let filter = OrderFilter {
                    account,
                    instrument: instrument.map(|i| InstrumentId(select(i, instrument_count))),
                    session: session.map(|s| session_of(account.unwrap_or(AccountId(0)), s == 1)),
                };
                return Step::CancelOrders(filter, CancelReason::Disconnect);
            }
        };
        Step::Command(command)
    }

    /// (account, session, order id, the order's view if it rests).
    fn pick(&self, pick: &Pick) -> (AccountId, SessionId, OrderId, Option<OrderView>) {
        let account_count = self.config().accounts.len() as u32;
        let (id, owner, session) = if pick.live && !self.live.is_empty() {
            let index = pick.which.index(self.live.len());
            let (id, (account, session)) = self.live.iter().nth(index).expect("index in range");
            (*id, *account, *session)
        } else if !self.dead.is_empty() && pick.which.index(4) != 0 {
            let id = self.dead[pick.which.index(self.dead.len())];
            (
                id,
                AccountId(id.0 as u32 % account_count),
                session_of(AccountId(0), false),
            )
        } else {
            let id = match pick.which.index(1_000) {
                0..=9 => OrderId::NONE,
                10..=19 => OrderId(u64::MAX),
                other => OrderId(other as u64),
            };
            (id, AccountId(0), session_of(AccountId(0), false))
        };
        let account = if pick.foreign {
            AccountId((owner.0 + 1) % (account_count + 1))
        } else {
            owner
        };
        let session = if pick.other_session {
            SessionId(session.0 + 5)
        } else {
            session
        };
        let view = self.engines[0].order(id);
        assert_eq!(view, self.model.order(id), "Engine::order({id:?})");
        (account, session, id, view)
    }

    fn qty(&self, rules: &InstrumentConfig, sel: QtySel) -> Qty {
        let lot = rules.lot_size.0;
        let max_lots = rules.max_order_qty.0 / lot;
        Qty(match sel {
            QtySel::Lots(lots) => u32::from(lots) * lot,
            QtySel::Large(lots) => (1 + u32::from(lots) % max_lots) * lot,
            QtySel::Zero => 0,
            QtySel::OffLot(lots) if lot > 1 => {
                (1 + u32::from(lots) % 8) * lot + 1 + u32::from(lots) % (lot - 1)
            }
            QtySel::OffLot(lots) => 1 + u32::from(lots) % 8,
            QtySel::AboveMax(extra) => rules.max_order_qty.0 + lot * (1 + u32::from(extra) % 3),
        })
    }

    fn part(rules: &InstrumentConfig, qty: Qty, sel: PartSel) -> Qty {
        let lot = rules.lot_size.0;
        let qty_lots = (qty.0 / lot).max(1);
        Qty(match sel {
            PartSel::None => 0,
            PartSel::Lots(lots) => (1 + u32::from(lots) % qty_lots) * lot,
            PartSel::Above => qty.0 + lot,
            PartSel::OffLot(lots) if lot > 1 => (u32::from(lots) % qty_lots) * lot + 1,
            PartSel::OffLot(lots) => (1 + u32::from(lots) % qty_lots) * lot,
        })
    }

    /// A band price, clamped to the band (`band_index` from 0 = min).
    fn band_price(rules: &InstrumentConfig, band_index: i64) -> Price {
        let tick = rules.tick_size.0;
        let top = (rules.max_price.0 - rules.min_price.0) / tick;
        Price(rules.min_price.0 + band_index.clamp(0, top) * tick)
    }

    fn price(&self, instrument: InstrumentId, side: Side, sel: PriceSel) -> Price {
        let rules = self.rules(instrument);
        let tick = rules.tick_size.0;
        let band_ticks = (rules.max_price.0 - rules.min_price.0) / tick;
        let mid = Price(rules.min_price.0 + band_ticks / 2 * tick);
        let opposite = self
            .model
            .best_price(instrument, side.opposite())
            .unwrap_or(mid);
        // Ticks through the opposite best (negative: short of it).
        let through = |ticks: i64| {
            let price = match side {
                Side::Buy => opposite.0 + ticks * tick,
                Side::Sell => opposite.0 - ticks * tick,
            };
            Price(price.clamp(rules.min_price.0, rules.max_price.0))
        };
        match sel {
            PriceSel::Passive(ticks) => through(-i64::from(ticks)),
            PriceSel::Cross(ticks) => through(i64::from(ticks)),
            PriceSel::Band(selector) => {
                Price(rules.min_price.0 + (i64::from(selector) % (band_ticks + 5) - 2) * tick)
            }
            PriceSel::OffTick(selector) => {
                let on_tick = Driver::band_price(&rules, i64::from(selector) % (band_ticks + 1));
                Price(on_tick.0 + 1)
            }
        }
    }

    fn new_order(&self, spec: &NewSpec) -> NewOrder {
        let account = AccountId(select(spec.account, self.config().accounts.len()));
        let instrument = InstrumentId(select(spec.instrument, self.config().instruments.len()));
        let rules = self.rules(instrument);
        let qty = self.qty(&rules, spec.qty);
        let order_type = if spec.market {
            OrderType::Market
        } else {
            OrderType::Limit
        };
        // Market orders are mostly well formed (not post-only, not icebergs).
        let (display, post_only) = match order_type {
            OrderType::Market if !spec.post_only => (PartSel::None, false),
            _ => (spec.display, spec.post_only),
        };
        NewOrder {
            account,
            session: session_of(account, spec.other_session),
            client_ref: self.client_ref,
            instrument,
            side: spec.side,
            order_type,
            time_in_force: spec.time_in_force,
            price: self.price(instrument, spec.side, spec.price),
            qty,
            display_qty: Driver::part(&rules, qty, display),
            min_qty: Driver::part(&rules, qty, spec.min_qty),
            post_only,
            stp: spec.stp,
        }
    }

    fn reduce(&self, pick: &Pick, sel: ReduceSel) -> ReduceOrder {
        let (account, session, order, view) = self.pick(pick);
        let (leaves, lot) = match view {
            Some(view) => (view.leaves.0, self.rules(view.instrument).lot_size.0),
            None => (10, 1),
        };
        let lots = leaves / lot;
        let leaves_qty = match sel {
            ReduceSel::Zero => 0,
            ReduceSel::Below(selector) if lots > 1 => (1 + u32::from(selector) % (lots - 1)) * lot,
            ReduceSel::Below(_) | ReduceSel::Same => leaves,
            ReduceSel::Above => leaves + lot,
            ReduceSel::OffLot(selector) => (u32::from(selector) % lots.max(1)) * lot + 1,
        };
        ReduceOrder {
            account,
            session,
            client_ref: self.client_ref,
            order,
            leaves_qty: Qty(leaves_qty),
        }
    }

    fn replace(&self, pick: &Pick, spec: &ReplaceSpec) -> ReplaceOrder {
        let (account, session, order, view) = self.pick(pick);
        let view = view.unwrap_or(OrderView {
            id: order,
            account,
            session,
            instrument: InstrumentId(0),
            side: Side::Buy,
            time_in_force: TimeInForce::Day,
            price: self.rules(InstrumentId(0)).min_price,
            leaves: Qty(10),
            displayed: Qty(10),
            peak: Qty(0),
            stp: StpMode::Off,
            post_only: false,
        });
        let rules = self.rules(view.instrument);
        let (tick, lot) = (rules.tick_size.0, rules.lot_size.0);
        let band_ticks = (rules.max_price.0 - rules.min_price.0) / tick;
        let price = match spec.price {
            ReplacePrice::Same => view.price,
            ReplacePrice::Offset(ticks) => {
                let moved = view.price.0 + i64::from(ticks) * tick;
                Price(moved.clamp(rules.min_price.0, rules.max_price.0))
            }
            ReplacePrice::Cross(beyond) => {
                let opposite = self.model.best_price(view.instrument, view.side.opposite());
                let beyond = i64::from(beyond) * tick;
                match (opposite, view.side) {
                    (Some(best), Side::Buy) => Price((best.0 + beyond).min(rules.max_price.0)),
                    (Some(best), Side::Sell) => Price((best.0 - beyond).max(rules.min_price.0)),
                    (None, _) => view.price,
                }
            }
            ReplacePrice::Band(selector) => {
                Price(rules.min_price.0 + (i64::from(selector) % (band_ticks + 5) - 2) * tick)
            }
            ReplacePrice::OffTick => Price(view.price.0 + 1),
        };
        let leaves_lots = view.leaves.0 / lot;
        let qty = match spec.qty {
            ReplaceQty::Down(selector) if leaves_lots > 1 => {
                (1 + u32::from(selector) % (leaves_lots - 1)) * lot
            }
            ReplaceQty::Down(_) | ReplaceQty::Same => view.leaves.0,
            ReplaceQty::Up(lots) => {
                (view.leaves.0 + u32::from(lots) * lot).min(rules.max_order_qty.0)
            }
            ReplaceQty::Zero => 0,
            ReplaceQty::OffLot => view.leaves.0 + 1,
            ReplaceQty::AboveMax => rules.max_order_qty.0 + lot,
        };
        let display_qty = match spec.display {
            ReplaceDisplay::Keep => view.peak.0,
            ReplaceDisplay::Whole => qty,
            ReplaceDisplay::Lots(selector) => (1 + u32::from(selector) % (qty / lot).max(1)) * lot,
            ReplaceDisplay::Invalid => qty + lot,
        };
        ReplaceOrder {
            account,
            session,
            client_ref: self.client_ref,
            order,
            price,
            qty: Qty(qty),
            display_qty: Qty(display_qty),
        }
    }

    /// Replaces every engine with one restored from the first engine's snapshot, plus the
    /// original (both keep being checked).
    fn restore_from_snapshot(&mut self) -> Result<(), TestCaseError> {
        let snapshot = self.engines[0].snapshot();
        prop_assert_eq!(&snapshot, &self.model.snapshot());
        let restored = Engine::restore(self.config().clone(), &snapshot);
        prop_assert!(restored.is_ok(), "restore failed: {:?}", restored.err());
        let restored = restored.expect("checked above");
        prop_assert_eq!(restored.snapshot(), snapshot);
        self.engines.truncate(1);
        self.engines.push(restored);
        self.check_state()
    }
}

// ----- minimising a failure -----

/// `step` with the order id it names translated through `ids` (original -> replay); an id the
/// replay never created becomes one it never will.
fn translate(step: Step, ids: &BTreeMap<OrderId, OrderId>) -> Step {
    let unknown = |id: OrderId| {
        if id.0 == 0 || id.0 >= 1 << 40 {
            id
        } else {
            OrderId(id.0 | 1 << 40)
        }
    };
    let map = |id: OrderId| ids.get(&id).copied().unwrap_or_else(|| unknown(id));
    match step {
        Step::Command(Command::Cancel(cancel)) => Step::Command(Command::Cancel(CancelOrder {
            order: map(cancel.order),
            ..cancel
        })),
        Step::Command(Command::Reduce(reduce)) => Step::Command(Command::Reduce(ReduceOrder {
            order: map(reduce.order),
            ..reduce
        })),
        Step::Command(Command::Replace(replace)) => Step::Command(Command::Replace(ReplaceOrder {
            order: map(replace.order),
            ..replace
        })),
        other => other,
    }
}

/// Replays `steps` into a fresh driver: the first failure (a check or a panic), if any. Order
/// ids are kept stable: a step that names an order the original run created names the order
/// that the same creation got in this replay.
fn replay(config: &EngineConfig, steps: &[(Step, Vec<OrderId>)]) -> Option<String> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut driver = Driver::new(config);
        let mut ids = BTreeMap::new();
        for (step, created) in steps {
            driver.apply_step(translate(*step, &ids))?;
            let replayed = &driver.history.last().expect("just applied").1;
            ids.extend(created.iter().copied().zip(replayed.iter().copied()));
        }
        Ok::<(), TestCaseError>(())
    }));
    match run {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_default();
            Some(format!("panic: {message}"))
        }
    }
}

/// Delta debugging: drops chunks of steps (halving the chunk size) while the rest still
/// fails. Removing a step shifts later order ids; whatever still fails is a valid report.
fn minimise(config: &EngineConfig, history: &[(Step, Vec<OrderId>)]) -> Vec<(Step, Vec<OrderId>)> {
    const REPLAYS_MAX: u32 = 20_000;
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut steps = history.to_vec();
    let mut chunk = steps.len().div_ceil(2).max(1);
    let mut replays = 0;
    while replays < REPLAYS_MAX {
        let mut start = 0;
        let mut removed = false;
        while start < steps.len() && replays < REPLAYS_MAX {
            let end = (start + chunk).min(steps.len());
            let candidate: Vec<_> = steps[..start]
                .iter()
                .chain(&steps[end..])
                .cloned()
                .collect();
            replays += 1;
            if replay(config, &candidate).is_some() {
                steps = candidate;
                removed = true;
            } else {
                start = end;
            }
        }
        if chunk == 1 && !removed {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
    std::panic::set_hook(previous_hook);
    steps
}

fn minimised_failure(
    config: &EngineConfig,
    history: &[(Step, Vec<OrderId>)],
    error: TestCaseError,
) -> TestCaseError {
    let steps = minimise(config, history);
    let mut text = format!(
        "{error}\n\nminimised from {} to {} steps, config {config:?}\n",
        history.len(),
        steps.len()
    );
    // Print the steps as the minimised replay sees them (its own order ids).
    let mut driver = Driver::new(config);
    let mut ids = BTreeMap::new();
    for (index, (step, created)) in steps.iter().enumerate() {
        let step = translate(*step, &ids);
        text.push_str(&format!("  {index}: {step:?}\n"));
        if driver.apply_step(step).is_err() {
            break;
        }
        let replayed = &driver.history.last().expect("just applied").1;
        ids.extend(created.iter().copied().zip(replayed.iter().copied()));
    }
    let failure = replay(config, &steps).unwrap_or_else(|| "(the minimised steps pass)".into());
    text.push_str(&format!("which fails with: {failure}\n"));
    TestCaseError::fail(text)
}

fn risk_command(selector: u8) -> Command {
    let account = AccountId(u32::from(selector % 5));
    match selector % 4 {
        0 => Command::UnblockAccount { account },
        1 => Command::SetReferencePrice {
            instrument: InstrumentId(0),
            price: Price(100),
        },
        2 => Command::SessionLost {
            account,
            session: session_of(account, false),
        },
        _ => Command::SetRiskLimit(SetRiskLimit {
            account,
            instrument: None,
            limit: peregrine_engine::command::RiskLimit::MaxOpenOrders,
            value: i64::from(selector),
        }),
    }
}

/// Commands executed across all cases of `engine_matches_model` (reported by the test).
static COMMANDS_RUN: AtomicU64 = AtomicU64::new(0);

/// How often each kind of event, reject reason and cancel reason was seen: printed with
/// `--nocapture`, to show that the flow reaches the paths it is meant to.
struct Coverage {
    events: [AtomicU64; 32],
    rejects: [AtomicU64; 64],
    cancels: [AtomicU64; 128],
    /// [priority kept, priority lost]
    replaces: [AtomicU64; 2],
    /// Sum over commands of the resting order count after it.
    resting_sum: AtomicU64,
    /// Commands applied by every driver (all tests of this file).
    commands: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static COVERAGE: Coverage = Coverage {
    events: [ZERO; 32],
    rejects: [ZERO; 64],
    cancels: [ZERO; 128],
    replaces: [ZERO; 2],
    resting_sum: ZERO,
    commands: ZERO,
};

impl Coverage {
    fn count(&self, events: &[Event]) {
        for event in events {
            self.events[usize::from(event.kind().code())].fetch_add(1, Relaxed);
            match event {
                Event::Rejected(rejected) => {
                    self.rejects[usize::from(rejected.reason.code())].fetch_add(1, Relaxed);
                }
                Event::Cancelled(cancelled) => {
                    self.cancels[usize::from(cancelled.reason.code())].fetch_add(1, Relaxed);
                }
                Event::Replaced(replaced) => {
                    self.replaces[usize::from(!replaced.priority_kept)].fetch_add(1, Relaxed);
                }
                _ => {}
            }
        }
    }

    fn report(&self) -> String {
        let mut text = String::from("events:");
        for kind in peregrine_engine::EventKind::ALL {
            text.push_str(&format!(
                " {kind}={}",
                self.events[usize::from(kind.code())].load(Relaxed)
            ));
        }
        text.push_str("\nrejects:");
        for reason in RejectReason::ALL.iter().take_while(|r| r.code() < 32) {
            text.push_str(&format!(
                " {reason}={}",
                self.rejects[usize::from(reason.code())].load(Relaxed)
            ));
        }
        text.push_str("\ncancels:");
        for reason in CancelReason::ALL {
            text.push_str(&format!(
                " {reason}={}",
                self.cancels[usize::from(reason.code())].load(Relaxed)
            ));
        }
        let kept = self.replaces[0].load(Relaxed);
        let lost = self.replaces[1].load(Relaxed);
        text.push_str(&format!("\nreplaces: priority kept={kept} lost={lost}"));
        let commands = self.commands.load(Relaxed).max(1);
        let resting_mean = self.resting_sum.load(Relaxed) / commands;
        text.push_str(&format!(
            "\nmean resting orders after a command: {resting_mean}"
        ));
        text
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Failures are minimised by `minimise` on the concrete history: far faster than
        // shrinking a thousand abstract operations.
        max_shrink_iters: 0,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_model(
        config in config_strategy(),
        ops in prop::collection::vec(op_strategy(10), 1_000..=1_200),
    ) {
        let mut driver = Driver::new(&config);
        for op in &ops {
            driver.step(op)?;
        }
        prop_assert_eq!(driver.commands_applied, ops.len() as u64);
        let total = COMMANDS_RUN.fetch_add(driver.commands_applied, Relaxed);
        if total / 100_000 != (total + driver.commands_applied) / 100_000 {
            let total = total + driver.commands_applied;
            println!("engine_matches_model: {total} commands so far\n{}", COVERAGE.report());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 0,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    /// Snapshot mid-flow, restore, then run both the original and the restored engine on: they
    /// (and the model) give the same events for every further command.
    #[test]
    fn restored_engine_continues_identically(
        config in config_strategy(),
        ops in prop::collection::vec(op_strategy(10), 200..=500),
        split in any::<Index>(),
    ) {
        let mut driver = Driver::new(&config);
        let split = split.index(ops.len());
        for op in &ops[..split] {
            driver.step(op)?;
        }
        driver.apply_step(Step::Restore).map_err(|error| {
            minimised_failure(&config, &driver.history, error)
        })?;
        for op in &ops[split..] {
            driver.step(op)?;
        }
    }
}

/// Deep books over a long flow: the realistic generator of `reference::flow` (about a
/// thousand resting orders per book, heavy churn of the id index) with admin commands mixed
/// in, checked against the model on every command's events and on the whole books every
/// thousand commands.
#[test]
fn deep_books_match_the_model_over_a_long_flow() {
    use reference::flow::{flow_config, FlowGen, XorShift, FLOW_INSTRUMENTS};
    const BATCH_LEN: usize = 1_000;
    const BATCH_COUNT: usize = 300;
    let mut engine = Engine::new(flow_config()).expect("valid config");
    let mut model = Model::new(flow_config());
    let mut flow = FlowGen::new(0xdeeb_b00c, 1_000 * FLOW_INSTRUMENTS);
    let mut rng = XorShift::new(0x0add_5eed);
    let mut batch = Vec::with_capacity(BATCH_LEN);
    let mut events = Vec::new();
    for batch_index in 0..BATCH_COUNT {
        flow.refresh(
            |id| engine.order(id),
            engine.next_order_id(),
            engine.resting_order_count(),
        );
        flow.fill(&mut batch, BATCH_LEN);
        for (index, command) in batch.iter().enumerate() {
            let command = match rng.below(1_000) {
                0 => Command::SetTradingStatus {
                    instrument: InstrumentId(rng.below_u32(FLOW_INSTRUMENTS)),
                    status: TradingStatus::Halted,
                },
                1..=4 => Command::SetTradingStatus {
                    instrument: InstrumentId(rng.below_u32(FLOW_INSTRUMENTS)),
                    status: TradingStatus::Trading,
                },
                5 if rng.chance(10) => Command::EndOfDay,
                _ => *command,
            };
            events.clear();
            engine.apply(&command, &mut events);
            let expected = model.apply(&command);
            assert_eq!(
                events, expected,
                "command {} of batch {batch_index}: {command:?}",
                index
            );
        }
        engine.verify();
        for instrument in (0..FLOW_INSTRUMENTS).map(InstrumentId) {
            for side in [Side::Buy, Side::Sell] {
                let mut orders = Vec::new();
                engine.for_each_order(instrument, side, |order| orders.push(order));
                assert_eq!(
                    orders,
                    model.orders(instrument, side),
                    "batch {batch_index}"
                );
            }
        }
        assert_eq!(engine.snapshot(), model.snapshot());
    }
    assert!(
        engine.resting_order_count() > 1_000,
        "the books stayed deep"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 0,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    /// Ladder lengths on the engine's bitmap word and summary-word edges, with prices spread
    /// over the whole band so that best-price searches cross words.
    #[test]
    fn odd_ladders_match_model(
        config in odd_ladder_config_strategy(),
        ops in prop::collection::vec(op_strategy(50), 300..=500),
    ) {
        let mut driver = Driver::new(&config);
        for op in &ops {
            driver.step(op)?;
        }
    }
}
