//! A deterministic, dependency-free generator of realistic order flow for the long-running
//! tests (no allocation test, determinism test).
//!
//! The generator writes batches of commands into a caller-owned `Vec` whose capacity is taken
//! once; between batches it refreshes its list of live orders from the engine (through a
//! lookup closure) so that cancels, reduces and replaces mostly name live orders.
//!
//! # Invariants
//! - The stream is a pure function of the seed and the lookups: the same seed against the same
//!   engine state gives the same commands.
//! - `fill` never grows `out` past the capacity the caller reserved for the batch.

use peregrine_engine::{
    AccountConfig, AccountId, CancelOrder, Command, EngineConfig, InstrumentConfig, InstrumentId,
    MassCancel, NewOrder, OrderId, OrderType, OrderView, Price, Qty, ReduceOrder, ReplaceOrder,
    SessionId, Side, StpMode, TimeInForce,
};

/// Marsaglia's xorshift64: small, fast and deterministic.
#[derive(Clone, Copy, Debug)]
pub struct XorShift {
    state: u64,
}

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift { state: seed | 1 }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// Uniform-ish in `0..bound` (`bound > 0`); the modulo bias does not matter here.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        self.next_u64() % bound
    }

    pub fn below_u32(&mut self, bound: u32) -> u32 {
        u32::try_from(self.below(u64::from(bound))).expect("below a u32 bound")
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub const FLOW_INSTRUMENTS: u32 = 4;
pub const FLOW_ACCOUNTS: u32 = 8;
const TICK: i64 = 100;
const MID_TICKS: i64 = 2_000;

/// The configuration the flow is written for: four books with a 2,001-tick band around a
/// mid of 20.00, eight accounts with mixed STP defaults, room for ~16k resting orders.
pub fn flow_config() -> EngineConfig {
    let instruments = (0..FLOW_INSTRUMENTS)
        .map(|index| InstrumentConfig {
            symbol: InstrumentConfig::symbol_from_str(&format!("FLOW{index}")),
            tick_size: Price(TICK),
            lot_size: Qty(1),
            min_price: Price(TICK * 1_000),
            max_price: Price(TICK * 3_000),
            max_order_qty: Qty(100_000),
        })
        .collect();
    let modes = [
        StpMode::CancelResting,
        StpMode::Off,
        StpMode::Decrement,
        StpMode::CancelIncoming,
        StpMode::CancelBoth,
        StpMode::CancelResting,
        StpMode::Off,
        StpMode::CancelResting,
    ];
    let accounts = modes.iter().map(|&stp| AccountConfig { stp }).collect();
    EngineConfig {
        instruments,
        accounts,
        order_capacity: 16_384,
        level_capacity: 8_192,
    }
}

/// The order flow generator.
pub struct FlowGen {
    rng: XorShift,
    /// Orders that rested at the last refresh.
    live: Vec<OrderView>,
    /// Ids below this were looked at by a refresh.
    scanned_below: u64,
    resting_count: u32,
    resting_target: u32,
    client_ref: u64,
}

impl FlowGen {
    /// `resting_target`: the number of resting orders (all books) the flow hovers around.
    pub fn new(seed: u64, resting_target: u32) -> FlowGen {
        FlowGen {
            rng: XorShift::new(seed),
            live: Vec::with_capacity(65_536),
            scanned_below: 1,
            resting_count: 0,
            resting_target,
            client_ref: 0,
        }
    }

    /// Re-reads which orders rest: `lookup` is `Engine::order`, `next_order_id` and
    /// `resting_count` the engine's.
    pub fn refresh(
        &mut self,
        lookup: impl Fn(OrderId) -> Option<OrderView>,
        next_order_id: OrderId,
        resting_count: u32,
    ) {
        let mut kept = 0;
        for index in 0..self.live.len() {
            if let Some(view) = lookup(self.live[index].id) {
                self.live[kept] = view;
                kept += 1;
            }
        }
        self.live.truncate(kept);
        for id in self.scanned_below..next_order_id.0 {
            if let Some(view) = lookup(OrderId(id)) {
                self.live.push(view);
            }
        }
        self.scanned_below = next_order_id.0;
        self.resting_count = resting_count;
    }

    /// Clears `out` and writes `count` commands into it.
    pub fn fill(&mut self, out: &mut Vec<Command>, count: usize) {
        assert!(out.capacity() >= count, "the batch Vec is sized up front");
        out.clear();
        for _ in 0..count {
            let command = self.next_command();
            out.push(command);
        }
    }

    fn next_command(&mut self) -> Command {
        self.client_ref += 1;
        let shortfall = i64::from(self.resting_target) - i64::from(self.resting_count);
        let new_percent = (50 + shortfall / 50).clamp(30, 80) as u64;
        if self.live.is_empty() || self.rng.chance(new_percent) {
            return Command::NewOrder(self.new_order());
        }
        let index = self.rng.below(self.live.len() as u64) as usize;
        let target = self.live[index];
        match self.rng.below(1_000) {
            0..=599 => Command::Cancel(self.cancel(target)),
            600..=879 => Command::Replace(self.replace(target)),
            880..=998 => Command::Reduce(ReduceOrder {
                account: target.account,
                session: target.session,
                client_ref: self.client_ref,
                order: target.id,
                leaves_qty: Qty(self.rng.below_u32(target.leaves.0)),
            }),
            _ => Command::MassCancel(MassCancel {
                account: Some(target.account),
                instrument: Some(target.instrument),
                session: target.session,
                client_ref: self.client_ref,
            }),
        }
    }

    /// A price `distance` ticks away from the mid on `side`'s passive side (negative: crossing).
    fn passive_price(side: Side, distance_ticks: i64) -> Price {
        match side {
            Side::Buy => Price(TICK * (MID_TICKS - distance_ticks)),
            Side::Sell => Price(TICK * (MID_TICKS + distance_ticks)),
        }
    }

    fn side(&mut self) -> Side {
        if self.rng.chance(50) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    /// Distance from the mid: mostly near it, a crossing price 5% of the time.
    fn distance_ticks(&mut self) -> i64 {
        if self.rng.chance(5) {
            -(self.rng.below(4) as i64)
        } else {
            1 + (self.rng.below(120).min(self.rng.below(120))) as i64
        }
    }

    fn new_order(&mut self) -> NewOrder {
        let account = AccountId(self.rng.below_u32(FLOW_ACCOUNTS));
        let side = self.side();
        let (order_type, time_in_force) = match self.rng.below(100) {
            0..=1 => (OrderType::Market, TimeInForce::Ioc),
            2..=9 => (OrderType::Limit, TimeInForce::Ioc),
            10..=12 => (OrderType::Limit, TimeInForce::Fok),
            13..=24 => (OrderType::Limit, TimeInForce::Gtc),
            _ => (OrderType::Limit, TimeInForce::Day),
        };
        let qty = 1 + self.rng.below_u32(100);
        let is_limit = order_type == OrderType::Limit;
        let display_qty = if is_limit && self.rng.chance(8) {
            1 + self.rng.below_u32(qty)
        } else {
            0
        };
        let min_qty = if self.rng.chance(3) {
            1 + self.rng.below_u32(qty)
        } else {
            0
        };
        let distance = self.distance_ticks();
        NewOrder {
            account,
            session: SessionId(account.0 + 100),
            client_ref: self.client_ref,
            instrument: InstrumentId(self.rng.below_u32(FLOW_INSTRUMENTS)),
            side,
            order_type,
            time_in_force,
            price: FlowGen::passive_price(side, distance),
            qty: Qty(qty),
            display_qty: Qty(display_qty),
            min_qty: Qty(min_qty),
            post_only: is_limit && distance > 0 && self.rng.chance(3),
            stp: StpMode::AccountDefault,
        }
    }

    fn cancel(&mut self, target: OrderView) -> CancelOrder {
        // A few cancels name an order that is gone or belongs to someone else.
        let (account, order) = match self.rng.below(100) {
            0 => (AccountId((target.account.0 + 1) % FLOW_ACCOUNTS), target.id),
            1 => (
                target.account,
                OrderId(self.rng.below(self.scanned_below + 10)),
            ),
            _ => (target.account, target.id),
        };
        CancelOrder {
            account,
            session: target.session,
            client_ref: self.client_ref,
            order,
        }
    }

    fn replace(&mut self, target: OrderView) -> ReplaceOrder {
        let price = match self.rng.below(100) {
            0..=64 => target.price,
            65..=94 => {
                let step = self.rng.below(9) as i64 - 4;
                Price((target.price.0 + step * TICK).clamp(TICK * 1_000, TICK * 3_000))
            }
            // About 5% of replaces cross the mid and trade.
            _ => FlowGen::passive_price(target.side, -(self.rng.below(4) as i64)),
        };
        let qty = if self.rng.chance(60) {
            1 + self.rng.below_u32(target.leaves.0)
        } else {
            target.leaves.0 + 1 + self.rng.below_u32(50)
        };
        // Keep an iceberg's display size when it still fits (so that priority can be kept).
        let display_qty = if target.peak.0 > 0 && target.peak.0 < qty {
            target.peak.0
        } else {
            0
        };
        ReplaceOrder {
            account: target.account,
            session: target.session,
            client_ref: self.client_ref,
            order: target.id,
            price,
            qty: Qty(qty),
            display_qty: Qty(display_qty),
        }
    }
}
