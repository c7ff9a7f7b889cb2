//! Shared test helpers: a driver that stamps commands with sequence numbers and a controllable
//! sequencer clock, command builders, and from-scratch exposure figures computed from the
//! engine's resting orders.
#![allow(dead_code)]

use peregrine_engine::{
    AccountId, CancelOrder, Command, EngineConfig, Event, InstrumentId, NewOrder, OrderId,
    OrderType, OrderView, Price, Qty, ReplaceOrder, Sequenced, SessionId, Side, StpMode,
    TimeInForce,
};
use peregrine_risk::{Core, RiskConfig};

/// 100.00 in price units: the middle of the test price grid.
pub const MID_PRICE: i64 = 1_000_000;
/// One tick of `EngineConfig::demo`.
pub const TICK: i64 = 100;

pub struct Driver {
    pub core: Core,
    pub now_ns: u64,
    /// Every input applied, in order (a journal).
    pub journal: Vec<Sequenced>,
}

impl Driver {
    pub fn new(engine: EngineConfig, risk: RiskConfig) -> Driver {
        Driver {
            core: Core::new(engine, risk).expect("valid config"),
            now_ns: 1_000,
            journal: Vec::new(),
        }
    }

    /// Apply one command at the current time; returns its events.
    pub fn apply(&mut self, command: Command) -> Vec<Event> {
        let input = Sequenced {
            seq: self.core.last_seq() + 1,
            timestamp_ns: self.now_ns,
            command,
        };
        self.journal.push(input);
        let mut events = Vec::new();
        self.core.apply(&input, &mut events);
        events
    }

    pub fn advance_ns(&mut self, ns: u64) {
        self.now_ns += ns;
    }

    /// Every resting order, instruments ascending, bids then asks.
    pub fn resting(&self) -> Vec<OrderView> {
        resting_orders(&self.core)
    }
}

pub fn resting_orders(core: &Core) -> Vec<OrderView> {
    let mut orders = Vec::new();
    let instrument_count = core.engine().config().instruments.len();
    for instrument in 0..instrument_count {
        for side in [Side::Buy, Side::Sell] {
            let id = InstrumentId(u32::try_from(instrument).unwrap());
            core.engine()
                .for_each_order(id, side, |view| orders.push(view));
        }
    }
    orders
}

pub fn order(
    account: u32,
    instrument: u32,
    side: Side,
    price: i64,
    qty: u32,
    time_in_force: TimeInForce,
) -> NewOrder {
    NewOrder {
        account: AccountId(account),
        session: SessionId(account * 10),
        client_ref: 0,
        instrument: InstrumentId(instrument),
        side,
        order_type: OrderType::Limit,
        time_in_force,
        price: Price(price),
        qty: Qty(qty),
        display_qty: Qty(0),
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::AccountDefault,
    }
}

pub fn limit(account: u32, instrument: u32, side: Side, price: i64, qty: u32) -> Command {
    Command::NewOrder(order(
        account,
        instrument,
        side,
        price,
        qty,
        TimeInForce::Day,
    ))
}

pub fn market(account: u32, instrument: u32, side: Side, qty: u32) -> Command {
    let mut new = order(account, instrument, side, 0, qty, TimeInForce::Ioc);
    new.order_type = OrderType::Market;
    Command::NewOrder(new)
}

pub fn cancel(account: u32, id: OrderId) -> Command {
    Command::Cancel(CancelOrder {
        account: AccountId(account),
        session: SessionId(account * 10),
        client_ref: 0,
        order: id,
    })
}

pub fn replace(account: u32, id: OrderId, price: i64, qty: u32) -> Command {
    Command::Replace(ReplaceOrder {
        account: AccountId(account),
        session: SessionId(account * 10),
        client_ref: 0,
        order: id,
        price: Price(price),
        qty: Qty(qty),
        display_qty: Qty(0),
    })
}

/// The id of the order the events accepted, if any.
pub fn accepted_id(events: &[Event]) -> Option<OrderId> {
    events.iter().find_map(|event| match event {
        Event::Accepted(accepted) => Some(accepted.order),
        Event::Replaced(replaced) => Some(replaced.new_order),
        _ => None,
    })
}

/// The reject reason of the events, if the command was rejected.
pub fn rejected(events: &[Event]) -> Option<peregrine_engine::RejectReason> {
    events.iter().find_map(|event| match event {
        Event::Rejected(rejected) => Some(rejected.reason),
        _ => None,
    })
}

/// From-scratch exposure of one account, computed from resting orders and a fill ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub open_orders: i64,
    pub open_notional: i128,
    /// Per instrument: open buy and sell shares.
    pub open_qty: Vec<[i64; 2]>,
    /// Per instrument: net position.
    pub position_qty: Vec<i64>,
}

impl Figures {
    pub fn compute(
        orders: &[OrderView],
        positions: &[Vec<i64>],
        account: usize,
        instrument_count: usize,
    ) -> Figures {
        let mut figures = Figures {
            open_qty: vec![[0; 2]; instrument_count],
            position_qty: positions[account].clone(),
            ..Figures::default()
        };
        for view in orders.iter().filter(|o| o.account.0 as usize == account) {
            figures.open_orders += 1;
            figures.open_notional += i128::from(view.price.0) * i128::from(view.leaves.0);
            figures.open_qty[view.instrument.0 as usize][view.side.index()] +=
                i64::from(view.leaves.0);
        }
        figures
    }

    /// Worst case if all buys fill: `pos + B`.
    pub fn buy_side(&self, instrument: usize) -> i64 {
        self.position_qty[instrument] + self.open_qty[instrument][0]
    }

    /// Worst case if all sells fill: `S − pos`.
    pub fn sell_side(&self, instrument: usize) -> i64 {
        self.open_qty[instrument][1] - self.position_qty[instrument]
    }

    pub fn worst(&self, instrument: usize) -> i64 {
        self.buy_side(instrument).max(self.sell_side(instrument))
    }

    pub fn worst_gross(&self) -> i64 {
        (0..self.position_qty.len()).map(|i| self.worst(i)).sum()
    }
}

/// Apply executions to a fill ledger `positions[account][instrument]`.
pub fn record_fills(positions: &mut [Vec<i64>], events: &[Event]) {
    for event in events {
        if let Event::Executed(executed) = event {
            let qty = i64::from(executed.qty.0);
            let instrument = executed.instrument.0 as usize;
            let (buyer, seller) = match executed.taker_side {
                Side::Buy => (executed.taker_account, executed.maker_account),
                Side::Sell => (executed.maker_account, executed.taker_account),
            };
            positions[buyer.0 as usize][instrument] += qty;
            positions[seller.0 as usize][instrument] -= qty;
        }
    }
}

/// A deterministic order-flow generator (xorshift): mostly resting limit orders around
/// `MID_PRICE`, some crossing, IOC and market orders, cancels, replaces and reduces of live
/// orders, and (when `admin` is set) limit changes, kill switches, reference prices and lost
/// sessions.
pub struct FlowGen {
    state: u64,
    pub accounts: u32,
    pub instruments: u32,
    pub admin: bool,
}

impl FlowGen {
    pub fn new(seed: u64, accounts: u32, instruments: u32, admin: bool) -> FlowGen {
        FlowGen {
            state: seed | 1,
            accounts,
            instruments,
            admin,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn live_order(&mut self, core: &Core) -> Option<OrderView> {
        let next = core.engine().next_order_id().0;
        let id = next.saturating_sub(1 + self.below(200)).max(1);
        core.engine().order(OrderId(id))
    }

    /// Time to advance before the command, and the command.
    pub fn next(&mut self, core: &Core) -> (u64, Command) {
        let advance_ns = self.below(400);
        let account = self.below(u64::from(self.accounts)) as u32;
        let instrument = self.below(u64::from(self.instruments)) as u32;
        let roll = self.below(if self.admin { 100 } else { 92 });
        let command = match roll {
            0..=59 => self.new_order(account, instrument, roll < 5),
            60..=74 => match self.live_order(core) {
                Some(view) => cancel(view.account.0, view.id),
                None => cancel(account, OrderId(self.below(50) + 1)),
            },
            75..=87 => match self.live_order(core) {
                Some(view) => {
                    let step = self.below(9) as i64 - 4;
                    let qty = (self.below(120) + 1) as u32;
                    replace(view.account.0, view.id, view.price.0 + step * TICK, qty)
                }
                None => replace(account, OrderId(self.below(50) + 1), MID_PRICE, 5),
            },
            88..=91 => match self.live_order(core) {
                Some(view) => Command::Reduce(peregrine_engine::ReduceOrder {
                    account: view.account,
                    session: view.session,
                    client_ref: 0,
                    order: view.id,
                    leaves_qty: Qty(view.leaves.0 / 2),
                }),
                None => cancel(account, OrderId(1)),
            },
            _ => self.admin_command(account, instrument),
        };
        (advance_ns, command)
    }

    fn new_order(&mut self, account: u32, instrument: u32, immediate: bool) -> Command {
        let side = if self.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let crossing = self.below(10) == 0;
        let offset = (self.below(20) as i64 + 1) * TICK;
        let price = match (side, crossing) {
            (Side::Buy, false) | (Side::Sell, true) => MID_PRICE - offset,
            (Side::Sell, false) | (Side::Buy, true) => MID_PRICE + offset,
        };
        let qty = (self.below(100) + 1) as u32;
        let mut new = order(account, instrument, side, price, qty, TimeInForce::Day);
        new.session = SessionId(account * 10 + self.below(2) as u32);
        if immediate {
            new.time_in_force = TimeInForce::Ioc;
            if self.below(2) == 0 {
                new.order_type = OrderType::Market;
                new.price = Price(0);
            }
        }
        Command::NewOrder(new)
    }

    fn admin_command(&mut self, account: u32, instrument: u32) -> Command {
        use peregrine_engine::{RiskLimit, SetRiskLimit};
        let account_id = AccountId(account);
        match self.below(10) {
            0 => Command::BlockAccount {
                account: account_id,
            },
            1 | 2 => Command::UnblockAccount {
                account: account_id,
            },
            3 => Command::SetReferencePrice {
                instrument: InstrumentId(instrument),
                price: Price(MID_PRICE + (self.below(11) as i64 - 5) * TICK),
            },
            4 => Command::SessionLost {
                account: account_id,
                session: SessionId(account * 10 + self.below(2) as u32),
            },
            _ => {
                let limit = RiskLimit::ALL[self.below(RiskLimit::ALL.len() as u64) as usize];
                let size = self.below(50) as i64;
                let value = match limit {
                    RiskLimit::MaxOrderQty | RiskLimit::MaxNetPosition => 20 + size * 10,
                    RiskLimit::MaxOrderNotional => MID_PRICE * (20 + size * 5),
                    RiskLimit::PriceCollarBps => 5 + size,
                    RiskLimit::MaxOpenOrders => 5 + size,
                    RiskLimit::MaxGrossOpenNotional => MID_PRICE * (100 + size * 50),
                    RiskLimit::MaxGrossPosition => 100 + size * 20,
                    RiskLimit::ThrottleOrdersPerInterval => 1 + size % 20,
                    RiskLimit::ThrottleIntervalNs => 100 + size * 100,
                    RiskLimit::CancelOnDisconnect => size % 2,
                };
                let value = if self.below(10) == 0 { 0 } else { value };
                let per_instrument = matches!(
                    limit,
                    RiskLimit::MaxOrderQty
                        | RiskLimit::MaxOrderNotional
                        | RiskLimit::PriceCollarBps
                        | RiskLimit::MaxNetPosition
                );
                let instrument =
                    (per_instrument && self.below(2) == 0).then_some(InstrumentId(instrument));
                Command::SetRiskLimit(SetRiskLimit {
                    account: account_id,
                    instrument,
                    limit,
                    value,
                })
            }
        }
    }
}
