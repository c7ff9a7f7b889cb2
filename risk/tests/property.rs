//! Property test: random order flow (limit, market, IOC, FOK, icebergs, STP modes, fills,
//! cancels, reduces, replaces up and down, mass cancels) mixed with random admin commands
//! (limit changes, kill switch, cancel-on-disconnect, reference prices) and clock steps, under
//! random limits.
//!
//! After every step:
//! - `Core::verify`: engine invariants, and risk's incremental open exposure equals the one
//!   recomputed from the engine's resting orders;
//! - risk's positions equal a fill ledger the test keeps from `Executed` events;
//! - for every account and every limit, the from-scratch figure is within the limit or not
//!   above its value before the step (no accepted order ever takes an account past a limit);
//! - the risk reject reason (or its absence) of every new order and replace equals the one an
//!   independent model computes from scratch figures, the model's own limits (configuration
//!   plus acknowledged admin commands), reference prices and throttle history.

mod common;

use common::{record_fills, resting_orders, Driver, Figures, MID_PRICE, TICK};
use peregrine_engine::{
    AccountId, CancelOrder, Command, EngineConfig, Event, InstrumentId, MassCancel, NewOrder,
    OrderId, OrderType, OrderView, Price, Qty, ReduceOrder, RejectReason, ReplaceOrder, RiskLimit,
    SessionId, SetRiskLimit, Side, StpMode, TimeInForce,
};
use peregrine_risk::{InstrumentLimitOverride, InstrumentLimits, RiskConfig};
use proptest::prelude::*;

const ACCOUNTS: usize = 3;
const INSTRUMENTS: usize = 2;
const BAND_MAX: i64 = 1_000 * Price::SCALE;

#[derive(Clone, Debug)]
enum Op {
    New {
        account: u32,
        instrument: u32,
        sell: bool,
        step: i64,
        qty: u32,
        kind: u8,
        session: u32,
    },
    Cancel {
        account: u32,
        pick: usize,
    },
    Reduce {
        account: u32,
        pick: usize,
        cut: u32,
    },
    Replace {
        account: u32,
        pick: usize,
        step: i64,
        qty: u32,
    },
    MassCancel {
        account: u32,
    },
    SetLimit {
        account: u32,
        instrument: Option<u32>,
        limit: usize,
        choice: u32,
    },
    Block {
        account: u32,
    },
    Unblock {
        account: u32,
    },
    SessionLost {
        account: u32,
        session: u32,
    },
    SetReference {
        instrument: u32,
        step: i64,
    },
    Advance {
        ns: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let account = 0..ACCOUNTS as u32;
    let instrument = 0..INSTRUMENTS as u32;
    prop_oneof![
        40 => (account.clone(), instrument.clone(), any::<bool>(), -12i64..=12, 1u32..=40, any::<u8>(), 0u32..2)
            .prop_map(|(account, instrument, sell, step, qty, kind, session)| Op::New {
                account, instrument, sell, step, qty, kind, session
            }),
        8 => (account.clone(), any::<usize>()).prop_map(|(account, pick)| Op::Cancel { account, pick }),
        4 => (account.clone(), any::<usize>(), 0u32..20)
            .prop_map(|(account, pick, cut)| Op::Reduce { account, pick, cut }),
        12 => (account.clone(), any::<usize>(), -12i64..=12, 1u32..=50)
            .prop_map(|(account, pick, step, qty)| Op::Replace { account, pick, step, qty }),
        1 => account.clone().prop_map(|account| Op::MassCancel { account }),
        5 => (account.clone(), proptest::option::of(instrument.clone()), 0usize..10, any::<u32>())
            .prop_map(|(account, instrument, limit, choice)| Op::SetLimit { account, instrument, limit, choice }),
        1 => account.clone().prop_map(|account| Op::Block { account }),
        2 => account.clone().prop_map(|account| Op::Unblock { account }),
        1 => (account.clone(), 0u32..2).prop_map(|(account, session)| Op::SessionLost { account, session }),
        1 => (instrument, -10i64..=10).prop_map(|(instrument, step)| Op::SetReference { instrument, step }),
        10 => (1u64..3_000).prop_map(|ns| Op::Advance { ns }),
    ]
}

/// A value for a limit from a random choice: off about one time in five, else a size that
/// makes the limit bite now and then in this flow.
fn limit_value(limit: RiskLimit, choice: u32) -> i64 {
    if choice.is_multiple_of(5) {
        return 0;
    }
    let pick = i64::from(choice / 5);
    match limit {
        RiskLimit::MaxOrderQty => 5 + pick % 40,
        RiskLimit::MaxOrderNotional => MID_PRICE * (5 + pick % 40),
        RiskLimit::PriceCollarBps => 1 + pick % 15,
        RiskLimit::MaxOpenOrders => 1 + pick % 10,
        RiskLimit::MaxGrossOpenNotional => MID_PRICE * (10 + pick % 200),
        RiskLimit::MaxNetPosition => 5 + pick % 120,
        RiskLimit::MaxGrossPosition => 10 + pick % 250,
        RiskLimit::ThrottleOrdersPerInterval => 1 + pick % 8,
        RiskLimit::ThrottleIntervalNs => 200 + pick % 5_000,
        RiskLimit::CancelOnDisconnect => pick % 2,
    }
}

/// One of `RiskLimit::ALL` by index; a choice ending in 7 makes an invalid value instead.
fn admin_value(limit: RiskLimit, choice: u32) -> i64 {
    match choice % 50 {
        7 => -1,
        17 if limit == RiskLimit::CancelOnDisconnect => 2,
        27 if limit == RiskLimit::ThrottleOrdersPerInterval => 65,
        _ => limit_value(limit, choice),
    }
}

fn random_config(choices: &[u32]) -> RiskConfig {
    let mut config = RiskConfig::permissive(ACCOUNTS, INSTRUMENTS);
    let mut values = choices.iter().copied().cycle();
    let mut next = |limit| limit_value(limit, values.next().unwrap_or(0));
    for account in &mut config.accounts {
        account.max_open_orders = next(RiskLimit::MaxOpenOrders);
        account.max_gross_open_notional = next(RiskLimit::MaxGrossOpenNotional);
        account.max_gross_position = next(RiskLimit::MaxGrossPosition);
        account.throttle_orders_per_interval = next(RiskLimit::ThrottleOrdersPerInterval);
        account.throttle_interval_ns = next(RiskLimit::ThrottleIntervalNs);
        account.cancel_on_disconnect = next(RiskLimit::CancelOnDisconnect) == 1;
        account.instrument_limits = InstrumentLimits {
            max_order_qty: next(RiskLimit::MaxOrderQty),
            max_order_notional: next(RiskLimit::MaxOrderNotional),
            price_collar_bps: next(RiskLimit::PriceCollarBps),
            max_net_position: next(RiskLimit::MaxNetPosition),
        };
    }
    config.accounts[0]
        .instrument_overrides
        .push(InstrumentLimitOverride {
            instrument: 1,
            limits: InstrumentLimits {
                max_order_qty: next(RiskLimit::MaxOrderQty),
                max_order_notional: next(RiskLimit::MaxOrderNotional),
                price_collar_bps: next(RiskLimit::PriceCollarBps),
                max_net_position: next(RiskLimit::MaxNetPosition),
            },
        });
    config.instruments[0].reference_price = MID_PRICE;
    config
}

/// The test's own picture of risk's inputs: limits (configuration form, 0 = off), flags,
/// reference prices and admitted-order timestamps.
#[derive(Clone, Debug)]
struct Model {
    /// Per account: the six account-wide limits in `RiskLimit` order 4..=9, and COD.
    account_limits: Vec<[i64; 6]>,
    cancel_on_disconnect: Vec<bool>,
    blocked: Vec<bool>,
    /// Per account and instrument: the four per-instrument limits in `RiskLimit` order 1..=4.
    cell_limits: Vec<Vec<[i64; 4]>>,
    reference: Vec<i64>,
    admitted_ns: Vec<Vec<u64>>,
}

fn cell_limit_slot(limit: RiskLimit) -> Option<usize> {
    match limit {
        RiskLimit::MaxOrderQty => Some(0),
        RiskLimit::MaxOrderNotional => Some(1),
        RiskLimit::PriceCollarBps => Some(2),
        RiskLimit::MaxNetPosition => Some(3),
        _ => None,
    }
}

fn account_limit_slot(limit: RiskLimit) -> Option<usize> {
    match limit {
        RiskLimit::MaxOpenOrders => Some(0),
        RiskLimit::MaxGrossOpenNotional => Some(1),
        RiskLimit::MaxGrossPosition => Some(2),
        RiskLimit::ThrottleOrdersPerInterval => Some(3),
        RiskLimit::ThrottleIntervalNs => Some(4),
        _ => None,
    }
}

/// `value` exceeds `limit` (0 = off).
fn over(value: i128, limit: i64) -> bool {
    limit != 0 && value > i128::from(limit)
}

impl Model {
    fn new(config: &RiskConfig) -> Model {
        let cell = |l: &InstrumentLimits| {
            [
                l.max_order_qty,
                l.max_order_notional,
                l.price_collar_bps,
                l.max_net_position,
            ]
        };
        let mut cell_limits: Vec<Vec<[i64; 4]>> = config
            .accounts
            .iter()
            .map(|a| vec![cell(&a.instrument_limits); INSTRUMENTS])
            .collect();
        for (index, account) in config.accounts.iter().enumerate() {
            for item in &account.instrument_overrides {
                cell_limits[index][item.instrument as usize] = cell(&item.limits);
            }
        }
        Model {
            account_limits: config
                .accounts
                .iter()
                .map(|a| {
                    [
                        a.max_open_orders,
                        a.max_gross_open_notional,
                        a.max_gross_position,
                        a.throttle_orders_per_interval,
                        a.throttle_interval_ns,
                        0,
                    ]
                })
                .collect(),
            cancel_on_disconnect: config
                .accounts
                .iter()
                .map(|a| a.cancel_on_disconnect)
                .collect(),
            blocked: vec![false; ACCOUNTS],
            cell_limits,
            reference: config
                .instruments
                .iter()
                .map(|i| i.reference_price)
                .collect(),
            admitted_ns: vec![Vec::new(); ACCOUNTS],
        }
    }

    fn apply_limit(&mut self, set: &SetRiskLimit) {
        let account = set.account.0 as usize;
        if let Some(slot) = cell_limit_slot(set.limit) {
            for (index, cell) in self.cell_limits[account].iter_mut().enumerate() {
                if set.instrument.is_none_or(|i| i.0 as usize == index) {
                    cell[slot] = set.value;
                }
            }
        } else if let Some(slot) = account_limit_slot(set.limit) {
            self.account_limits[account][slot] = set.value;
        } else {
            self.cancel_on_disconnect[account] = set.value == 1;
        }
    }

    /// Blocked, then the throttle; records the admission like risk does.
    fn gate(&mut self, account: usize, now_ns: u64) -> Option<RejectReason> {
        if self.blocked[account] {
            return Some(RejectReason::RiskAccountBlocked);
        }
        let [_, _, _, count, interval, _] = self.account_limits[account];
        let on = count != 0 && count != i64::MAX && interval != 0 && interval != i64::MAX;
        if on {
            let window = self.admitted_ns[account]
                .iter()
                .filter(|&&t| now_ns.saturating_sub(t) < interval as u64)
                .count();
            if window as i64 >= count {
                return Some(RejectReason::RiskThrottle);
            }
        }
        self.admitted_ns[account].push(now_ns);
        None
    }

    fn collar_fails(&self, instrument: usize, account: usize, price: i64) -> bool {
        let reference = self.reference[instrument];
        let collar = self.cell_limits[account][instrument][2];
        reference > 0
            && collar != 0
            && collar != i64::MAX
            && (i128::from(price) - i128::from(reference)).abs() * 10_000
                > i128::from(collar) * i128::from(reference)
    }

    fn market_price(&self, instrument: usize, account: usize) -> i64 {
        let reference = self.reference[instrument];
        let collar = self.cell_limits[account][instrument][2];
        if reference <= 0 || collar == 0 || collar == i64::MAX {
            return BAND_MAX;
        }
        let top = (i128::from(reference) * (10_000 + i128::from(collar)) + 9_999) / 10_000;
        top.min(i128::from(BAND_MAX)) as i64
    }

    /// Position checks for `added` more open shares on `side` of `instrument`.
    fn position_reason(
        &self,
        figures: &Figures,
        account: usize,
        instrument: usize,
        side: Side,
        added: i64,
    ) -> Option<RejectReason> {
        if added <= 0 {
            return None;
        }
        let mut after = figures.clone();
        after.open_qty[instrument][side.index()] += added;
        let side_worst = match side {
            Side::Buy => after.buy_side(instrument),
            Side::Sell => after.sell_side(instrument),
        };
        if over(
            i128::from(side_worst),
            self.cell_limits[account][instrument][3],
        ) {
            return Some(RejectReason::RiskNetPosition);
        }
        let grows = after.worst(instrument) > figures.worst(instrument);
        if grows
            && over(
                i128::from(after.worst_gross()),
                self.account_limits[account][2],
            )
        {
            return Some(RejectReason::RiskGrossPosition);
        }
        None
    }

    fn new_order_reason(
        &mut self,
        order: &NewOrder,
        figures: &Figures,
        now_ns: u64,
    ) -> Option<RejectReason> {
        let (account, instrument) = (order.account.0 as usize, order.instrument.0 as usize);
        if let Some(reason) = self.gate(account, now_ns) {
            return Some(reason);
        }
        let limits = self.cell_limits[account][instrument];
        let qty = i64::from(order.qty.0);
        if over(i128::from(qty), limits[0]) {
            return Some(RejectReason::RiskMaxOrderQty);
        }
        let price = match order.order_type {
            OrderType::Limit if self.collar_fails(instrument, account, order.price.0) => {
                return Some(RejectReason::RiskPriceCollar)
            }
            OrderType::Limit => order.price.0,
            OrderType::Market => self.market_price(instrument, account),
        };
        let notional = i128::from(price) * i128::from(qty);
        if over(notional, limits[1]) {
            return Some(RejectReason::RiskMaxOrderNotional);
        }
        let may_rest = order.order_type == OrderType::Limit && !order.time_in_force.is_immediate();
        if may_rest
            && over(
                i128::from(figures.open_orders + 1),
                self.account_limits[account][0],
            )
        {
            return Some(RejectReason::RiskMaxOpenOrders);
        }
        if over(
            figures.open_notional + notional,
            self.account_limits[account][1],
        ) {
            return Some(RejectReason::RiskCreditLimit);
        }
        self.position_reason(figures, account, instrument, order.side, qty)
    }

    fn replace_reason(
        &mut self,
        replace: &ReplaceOrder,
        old: Option<OrderView>,
        figures: &Figures,
        now_ns: u64,
    ) -> Option<RejectReason> {
        let account = replace.account.0 as usize;
        if let Some(reason) = self.gate(account, now_ns) {
            return Some(reason);
        }
        let old = old.filter(|o| o.account == replace.account)?;
        let instrument = old.instrument.0 as usize;
        let limits = self.cell_limits[account][instrument];
        let (qty, old_qty) = (i64::from(replace.qty.0), i64::from(old.leaves.0));
        if qty > old_qty && over(i128::from(qty), limits[0]) {
            return Some(RejectReason::RiskMaxOrderQty);
        }
        if replace.price != old.price && self.collar_fails(instrument, account, replace.price.0) {
            return Some(RejectReason::RiskPriceCollar);
        }
        let notional = i128::from(replace.price.0) * i128::from(qty);
        let old_notional = i128::from(old.price.0) * i128::from(old_qty);
        if notional > old_notional && over(notional, limits[1]) {
            return Some(RejectReason::RiskMaxOrderNotional);
        }
        let delta = notional - old_notional;
        if delta > 0
            && over(
                figures.open_notional + delta,
                self.account_limits[account][1],
            )
        {
            return Some(RejectReason::RiskCreditLimit);
        }
        self.position_reason(figures, account, instrument, old.side, qty - old_qty)
    }
}

fn to_command(op: &Op, driver: &Driver, seq: u64) -> Option<Command> {
    let pick_order = |account: u32, pick: usize| -> OrderId {
        let own: Vec<OrderView> = driver
            .resting()
            .into_iter()
            .filter(|o| o.account.0 == account)
            .collect();
        if own.is_empty() || pick.is_multiple_of(10) {
            OrderId((pick % 50) as u64 + 1) // sometimes unknown or another account's
        } else {
            own[pick % own.len()].id
        }
    };
    let command = match *op {
        Op::New {
            account,
            instrument,
            sell,
            step,
            qty,
            kind,
            session,
        } => {
            let (order_type, time_in_force) = match kind % 10 {
                0 => (OrderType::Market, TimeInForce::Ioc),
                1 => (OrderType::Limit, TimeInForce::Ioc),
                2 => (OrderType::Limit, TimeInForce::Fok),
                3 => (OrderType::Limit, TimeInForce::Gtc),
                _ => (OrderType::Limit, TimeInForce::Day),
            };
            let stp = [
                StpMode::AccountDefault,
                StpMode::Off,
                StpMode::Decrement,
                StpMode::CancelIncoming,
                StpMode::CancelBoth,
            ][usize::from(kind / 10 % 5)];
            let iceberg = order_type == OrderType::Limit && kind / 50 == 1 && qty > 4;
            Command::NewOrder(NewOrder {
                account: AccountId(account),
                session: SessionId(account * 10 + session),
                client_ref: seq,
                instrument: InstrumentId(instrument),
                side: if sell { Side::Sell } else { Side::Buy },
                order_type,
                time_in_force,
                price: Price(if order_type == OrderType::Market {
                    0
                } else {
                    MID_PRICE + step * TICK
                }),
                qty: Qty(qty),
                display_qty: Qty(if iceberg { qty / 4 } else { 0 }),
                min_qty: Qty(if kind % 7 == 6 && time_in_force == TimeInForce::Ioc {
                    qty / 2
                } else {
                    0
                }),
                post_only: false,
                stp,
            })
        }
        Op::Cancel { account, pick } => Command::Cancel(CancelOrder {
            account: AccountId(account),
            session: SessionId(account * 10),
            client_ref: seq,
            order: pick_order(account, pick),
        }),
        Op::Reduce { account, pick, cut } => {
            let id = pick_order(account, pick);
            let leaves = driver.core.engine().order(id).map_or(10, |o| o.leaves.0);
            Command::Reduce(ReduceOrder {
                account: AccountId(account),
                session: SessionId(account * 10),
                client_ref: seq,
                order: id,
                leaves_qty: Qty(leaves.saturating_sub(cut)),
            })
        }
        Op::Replace {
            account,
            pick,
            step,
            qty,
        } => Command::Replace(ReplaceOrder {
            account: AccountId(account),
            session: SessionId(account * 10),
            client_ref: seq,
            order: pick_order(account, pick),
            price: Price(MID_PRICE + step * TICK),
            qty: Qty(qty),
            display_qty: Qty(0),
        }),
        Op::MassCancel { account } => Command::MassCancel(MassCancel {
            account: Some(AccountId(account)),
            instrument: None,
            session: SessionId(account * 10),
            client_ref: seq,
        }),
        Op::SetLimit {
            account,
            instrument,
            limit,
            choice,
        } => {
            let limit = RiskLimit::ALL[limit];
            Command::SetRiskLimit(SetRiskLimit {
                account: AccountId(account),
                instrument: instrument.map(InstrumentId),
                limit,
                value: admin_value(limit, choice),
            })
        }
        Op::Block { account } => Command::BlockAccount {
            account: AccountId(account),
        },
        Op::Unblock { account } => Command::UnblockAccount {
            account: AccountId(account),
        },
        Op::SessionLost { account, session } => Command::SessionLost {
            account: AccountId(account),
            session: SessionId(account * 10 + session),
        },
        Op::SetReference { instrument, step } => Command::SetReferencePrice {
            instrument: InstrumentId(instrument),
            price: Price(MID_PRICE + step * TICK),
        },
        Op::Advance { .. } => return None,
    };
    Some(command)
}

fn all_figures(driver: &Driver, positions: &[Vec<i64>]) -> Vec<Figures> {
    let orders = resting_orders(&driver.core);
    (0..ACCOUNTS)
        .map(|a| Figures::compute(&orders, positions, a, INSTRUMENTS))
        .collect()
}

/// Every figure is within its limit, or did not grow over the step.
fn check_limits_held(model: &Model, before: &[Figures], after: &[Figures], step: usize) {
    for account in 0..ACCOUNTS {
        let (pre, post) = (&before[account], &after[account]);
        let limits = model.account_limits[account];
        let held = |post_value: i128, pre_value: i128, limit: i64| {
            !over(post_value, limit) || post_value <= pre_value
        };
        assert!(
            held(post.open_orders.into(), pre.open_orders.into(), limits[0]),
            "step {step}: open orders of {account}"
        );
        assert!(
            held(post.open_notional, pre.open_notional, limits[1]),
            "step {step}: credit of {account}"
        );
        assert!(
            held(
                post.worst_gross().into(),
                pre.worst_gross().into(),
                limits[2]
            ),
            "step {step}: gross of {account}"
        );
        for instrument in 0..INSTRUMENTS {
            let max_net = model.cell_limits[account][instrument][3];
            assert!(
                held(
                    post.buy_side(instrument).into(),
                    pre.buy_side(instrument).into(),
                    max_net
                ),
                "step {step}: net buy of {account}/{instrument}"
            );
            assert!(
                held(
                    post.sell_side(instrument).into(),
                    pre.sell_side(instrument).into(),
                    max_net
                ),
                "step {step}: net sell of {account}/{instrument}"
            );
        }
    }
}

/// Track acknowledged admin commands and trades in the model.
fn update_model(model: &mut Model, command: &Command, events: &[Event]) {
    for event in events {
        match event {
            Event::ControlAck(_) => match command {
                Command::SetRiskLimit(set) => model.apply_limit(set),
                Command::BlockAccount { account } => model.blocked[account.0 as usize] = true,
                Command::UnblockAccount { account } => model.blocked[account.0 as usize] = false,
                Command::SetReferencePrice { instrument, price } => {
                    model.reference[instrument.0 as usize] = price.0
                }
                _ => {}
            },
            Event::Executed(executed) => {
                model.reference[executed.instrument.0 as usize] = executed.price.0
            }
            _ => {}
        }
    }
}

fn run_flow(config_choices: Vec<u32>, ops: Vec<Op>) {
    let config = random_config(&config_choices);
    let mut model = Model::new(&config);
    let mut driver = Driver::new(EngineConfig::demo(INSTRUMENTS, ACCOUNTS, 96), config);
    let mut positions = vec![vec![0i64; INSTRUMENTS]; ACCOUNTS];
    for (step, op) in ops.iter().enumerate() {
        if let Op::Advance { ns } = op {
            driver.advance_ns(*ns);
            continue;
        }
        let Some(command) = to_command(op, &driver, step as u64) else {
            continue;
        };
        let before = all_figures(&driver, &positions);
        let expected = match &command {
            Command::NewOrder(order) => Some(model.new_order_reason(
                order,
                &before[order.account.0 as usize],
                driver.now_ns,
            )),
            Command::Replace(replace) => {
                let old = driver.core.engine().order(replace.order);
                Some(model.replace_reason(
                    replace,
                    old,
                    &before[replace.account.0 as usize],
                    driver.now_ns,
                ))
            }
            _ => None,
        };
        let events = driver.apply(command);
        if let Some(expected) = expected {
            let actual = common::rejected(&events).filter(|r| r.code() >= 32);
            assert_eq!(actual, expected, "step {step}: {command:?} gave {events:?}");
        }
        if let Some(reason) = common::rejected(&events).filter(|r| r.code() >= 32) {
            assert_eq!(events.len(), 1, "a risk reject is one event: {reason}");
        }
        record_fills(&mut positions, &events);
        update_model(&mut model, &command, &events);
        driver.core.verify();
        let after = all_figures(&driver, &positions);
        check_limits_held(&model, &before, &after, step);
        for (account, row) in positions.iter().enumerate() {
            for (instrument, &position_qty) in row.iter().enumerate() {
                let view = driver
                    .core
                    .risk()
                    .exposure(AccountId(account as u32), InstrumentId(instrument as u32))
                    .unwrap();
                assert_eq!(view.position_qty, position_qty, "step {step}: position");
                let limits = model.cell_limits[account][instrument];
                let l = view.limits;
                let effective = |v: i64| if v == i64::MAX { 0 } else { v };
                assert_eq!(
                    [
                        l.max_order_qty,
                        l.max_order_notional,
                        l.price_collar_bps,
                        l.max_net_position
                    ],
                    limits.map(effective)
                );
            }
            assert_eq!(
                driver
                    .core
                    .risk()
                    .account(AccountId(account as u32))
                    .unwrap()
                    .blocked,
                model.blocked[account]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_flow_respects_limits_and_exposure_is_exact(
        config_choices in proptest::collection::vec(any::<u32>(), 40),
        ops in proptest::collection::vec(op(), 1..160),
    ) {
        run_flow(config_choices, ops);
    }
}

/// The property above must see every risk reason in a typical run, or it checks little.
#[test]
fn random_flows_reach_every_risk_reason() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..24 {
        let choices = proptest::collection::vec(any::<u32>(), 40)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let ops = proptest::collection::vec(op(), 200)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let config = random_config(&choices);
        let mut driver = Driver::new(EngineConfig::demo(INSTRUMENTS, ACCOUNTS, 96), config);
        for (step, op) in ops.iter().enumerate() {
            if let Op::Advance { ns } = op {
                driver.advance_ns(*ns);
                continue;
            }
            if let Some(command) = to_command(op, &driver, step as u64) {
                if let Some(reason) = common::rejected(&driver.apply(command)) {
                    seen.insert(reason.code());
                }
            }
        }
    }
    for code in 32..=41u8 {
        assert!(
            seen.contains(&code),
            "no flow produced {:?}",
            RejectReason::from_code(code)
        );
    }
}
