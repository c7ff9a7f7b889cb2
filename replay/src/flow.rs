//! A deterministic random order flow for tests, benchmarks, the crash-test child and demo
//! journals: mostly limit orders around a drifting mid price, with cancels, reduces and
//! replaces of recent orders, some aggressive (IOC / market) orders, and now and then an admin
//! command (halt and resume, mass cancel, kill switch, end of day).
//!
//! # Invariants
//! - The flow is a pure function of the seed and the shape: the same `FlowGenerator::new`
//!   arguments give the same commands on every host (SplitMix64, no floats, no clock).
//! - Generating a command never allocates.
//! - Order ids in cancels/replaces are guesses (`1..=orders_entered`); the engine rejects the
//!   unknown ones, which is part of a realistic flow.

use peregrine_engine::{
    AccountId, CancelOrder, Command, InstrumentId, MassCancel, NewOrder, OrderId, OrderType, Price,
    Qty, ReduceOrder, ReplaceOrder, SessionId, Side, StpMode, TimeInForce, TradingStatus,
};

/// The shape of a generated flow; matches `EngineConfig::demo(instrument_count,
/// account_count, _)` (tick 100, prices 100..=10_000_000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowShape {
    pub instrument_count: u32,
    pub account_count: u32,
    /// Include admin commands (halts, mass cancels, kill switches, end of day).
    pub admin: bool,
}

/// Deterministic command generator.
#[derive(Clone, Debug)]
pub struct FlowGenerator {
    shape: FlowShape,
    state: u64,
    /// Mid price per instrument in ticks of 100; at most 64 instruments are tracked, others
    /// share the last slot.
    mid_ticks: [i64; 64],
    orders_entered: u64,
    client_ref: u64,
}

const TICK: i64 = 100;
const MID_TICKS_START: i64 = 50_000;
const MID_TICKS_MIN: i64 = 1_000;
const MID_TICKS_MAX: i64 = 99_000;

impl FlowGenerator {
    pub fn new(seed: u64, shape: FlowShape) -> FlowGenerator {
        assert!(shape.instrument_count >= 1 && shape.account_count >= 1);
        FlowGenerator {
            shape,
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
            mid_ticks: [MID_TICKS_START; 64],
            orders_entered: 0,
            client_ref: 0,
        }
    }

    /// SplitMix64.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound >= 1; the modulo bias is irrelevant here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// The next command of the flow.
    pub fn next_command(&mut self) -> Command {
        let roll = self.below(1000);
        match roll {
            0..=549 => self.new_order(false),
            550..=639 => self.new_order(true),
            640..=839 => self.cancel(),
            840..=899 => self.reduce(),
            900..=979 => self.replace(),
            _ if !self.shape.admin => self.new_order(false),
            980..=989 => self.mass_cancel(),
            990..=995 => self.trading_status(),
            996..=998 => self.kill_switch(),
            _ => Command::EndOfDay,
        }
    }

    fn account(&mut self) -> AccountId {
        AccountId(self.below(u64::from(self.shape.account_count)) as u32)
    }

    fn instrument(&mut self) -> InstrumentId {
        InstrumentId(self.below(u64::from(self.shape.instrument_count)) as u32)
    }

    fn next_ref(&mut self) -> u64 {
        self.client_ref += 1;
        self.client_ref
    }

    fn recent_order(&mut self) -> OrderId {
        let window = self.orders_entered.clamp(1, 2_000);
        OrderId(
            (self.orders_entered + 1)
                .saturating_sub(1 + self.below(window))
                .max(1),
        )
    }

    /// A price near the instrument's mid: passive orders a few ticks away on their side,
    /// aggressive ones through the mid.
    fn price(&mut self, instrument: InstrumentId, side: Side, aggressive: bool) -> Price {
        let slot = (instrument.0 as usize).min(63);
        let drift = self.below(3) as i64 - 1;
        let mid = (self.mid_ticks[slot] + drift).clamp(MID_TICKS_MIN, MID_TICKS_MAX);
        self.mid_ticks[slot] = mid;
        let offset = self.below(20) as i64;
        let ticks = match (side, aggressive) {
            (Side::Buy, false) | (Side::Sell, true) => mid - offset,
            (Side::Sell, false) | (Side::Buy, true) => mid + offset,
        };
        Price(ticks * TICK)
    }

    fn new_order(&mut self, aggressive: bool) -> Command {
        let instrument = self.instrument();
        let side = if self.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let market = aggressive && self.below(4) == 0;
        let qty = Qty(1 + self.below(500) as u32);
        let iceberg = !aggressive && self.below(10) == 0;
        let time_in_force = match (aggressive, self.below(10)) {
            (true, 0) => TimeInForce::Fok,
            (true, _) => TimeInForce::Ioc,
            (false, 0) => TimeInForce::Gtc,
            (false, _) => TimeInForce::Day,
        };
        self.orders_entered += 1;
        Command::NewOrder(NewOrder {
            account: self.account(),
            session: SessionId(1),
            client_ref: self.next_ref(),
            instrument,
            side,
            order_type: if market {
                OrderType::Market
            } else {
                OrderType::Limit
            },
            time_in_force,
            price: if market {
                Price(0)
            } else {
                self.price(instrument, side, aggressive)
            },
            qty,
            display_qty: if iceberg {
                Qty(qty.0.div_ceil(4))
            } else {
                Qty(0)
            },
            min_qty: Qty(0),
            post_only: !aggressive && self.below(20) == 0,
            stp: StpMode::AccountDefault,
        })
    }

    fn cancel(&mut self) -> Command {
        Command::Cancel(CancelOrder {
            account: self.account(),
            session: SessionId(1),
            client_ref: self.next_ref(),
            order: self.recent_order(),
        })
    }

    fn reduce(&mut self) -> Command {
        Command::Reduce(ReduceOrder {
            account: self.account(),
            session: SessionId(1),
            client_ref: self.next_ref(),
            order: self.recent_order(),
            leaves_qty: Qty(self.below(100) as u32),
        })
    }

    fn replace(&mut self) -> Command {
        let instrument = self.instrument();
        let side = if self.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        Command::Replace(ReplaceOrder {
            account: self.account(),
            session: SessionId(1),
            client_ref: self.next_ref(),
            order: self.recent_order(),
            price: self.price(instrument, side, false),
            qty: Qty(1 + self.below(500) as u32),
            display_qty: Qty(0),
        })
    }

    fn mass_cancel(&mut self) -> Command {
        let account = self.account();
        let instrument = (self.below(2) == 0).then(|| self.instrument());
        Command::MassCancel(MassCancel {
            account: Some(account),
            instrument,
            session: SessionId(1),
            client_ref: self.next_ref(),
        })
    }

    fn trading_status(&mut self) -> Command {
        let instrument = self.instrument();
        let status = if self.below(2) == 0 {
            TradingStatus::Halted
        } else {
            TradingStatus::Trading
        };
        Command::SetTradingStatus { instrument, status }
    }

    fn kill_switch(&mut self) -> Command {
        let account = self.account();
        if self.below(2) == 0 {
            Command::BlockAccount { account }
        } else {
            Command::UnblockAccount { account }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: FlowShape = FlowShape {
        instrument_count: 3,
        account_count: 4,
        admin: true,
    };

    #[test]
    fn same_seed_same_flow_other_seed_other_flow() {
        let mut a = FlowGenerator::new(7, SHAPE);
        let mut b = FlowGenerator::new(7, SHAPE);
        let mut c = FlowGenerator::new(8, SHAPE);
        let mut differs = false;
        for _ in 0..1_000 {
            let next = a.next_command();
            assert_eq!(next, b.next_command());
            differs |= next != c.next_command();
        }
        assert!(differs);
    }

    #[test]
    fn prices_stay_in_the_demo_band_and_on_tick() {
        let mut flow = FlowGenerator::new(1, SHAPE);
        for _ in 0..20_000 {
            if let Command::NewOrder(order) = flow.next_command() {
                if order.order_type == OrderType::Limit {
                    assert!(order.price.0 >= 100 && order.price.0 <= 10_000_000);
                    assert_eq!(order.price.0 % TICK, 0);
                }
            }
        }
    }
}
