//! A realistic order flow for engine benchmarks, after exchange-core's mix: 9 % new GTC limit
//! orders, 3 % IOC orders, 6 % cancels, 82 % replaces that move an order's price; about 6 % of
//! messages trade. Books hold about `resting_per_book` orders each.
//!
//! The flow is generated ahead of time against a shadow engine (so cancels and replaces name
//! live orders), then replayed into a fresh engine under measurement: the engine is
//! deterministic, so the fresh engine goes through exactly the shadow's states.
//!
//! # Invariants
//! - Same `FlowConfig` ⇒ same commands (a fixed xorshift generator; no `HashMap` iteration
//!   decides anything).

use std::collections::HashMap;

use peregrine_engine::{
    AccountConfig, AccountId, CancelOrder, Command, Engine, EngineConfig, Event, InstrumentId,
    NewOrder, OrderId, OrderType, Price, Qty, ReplaceOrder, SessionId, Side, StpMode, TimeInForce,
};

/// What a measured command is, for per-operation histograms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    NewGtc,
    Ioc,
    Cancel,
    Replace,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [OpKind::NewGtc, OpKind::Ioc, OpKind::Cancel, OpKind::Replace];

    pub fn index(self) -> usize {
        match self {
            OpKind::NewGtc => 0,
            OpKind::Ioc => 1,
            OpKind::Cancel => 2,
            OpKind::Replace => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OpKind::NewGtc => "new GTC",
            OpKind::Ioc => "IOC",
            OpKind::Cancel => "cancel",
            OpKind::Replace => "replace/move",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    pub instrument_count: usize,
    pub account_count: usize,
    pub resting_per_book: usize,
    pub measured_count: usize,
    pub seed: u64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            instrument_count: 10,
            account_count: 64,
            resting_per_book: 1_000,
            measured_count: 2_000_000,
            seed: 0x5eed,
        }
    }
}

/// The generated flow: `warmup` builds the books, `measured` is the mix.
pub struct Flow {
    pub engine_config: EngineConfig,
    pub warmup: Vec<Command>,
    pub measured: Vec<(OpKind, Command)>,
    /// Measured commands that produced at least one execution.
    pub trading_count: usize,
}

/// Tick size and the middle of the band of every instrument in the flow.
const TICK: i64 = 100;
const MID: i64 = 100 * Price::SCALE;

/// Engine configuration for a flow: a one-cent tick, a band of ±50 % around 100.00, STP off so
/// that every cross is a trade, and capacity with head room over the resting target.
pub fn engine_config(config: &FlowConfig) -> EngineConfig {
    let mut engine = EngineConfig::demo(config.instrument_count, config.account_count, 0);
    for instrument in &mut engine.instruments {
        instrument.min_price = Price(MID / 2);
        instrument.max_price = Price(MID * 3 / 2);
    }
    engine.accounts = vec![AccountConfig { stp: StpMode::Off }; config.account_count];
    let capacity = (config.instrument_count * config.resting_per_book * 2 + 1_024) as u32;
    engine.order_capacity = capacity;
    engine.level_capacity = capacity;
    engine
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Live resting orders per instrument, kept from the shadow engine's book events.
struct LiveOrders {
    ids: Vec<Vec<OrderId>>,
    position: HashMap<OrderId, (usize, usize)>,
}

impl LiveOrders {
    fn add(&mut self, instrument: usize, id: OrderId) {
        if self.position.contains_key(&id) {
            return; // an iceberg refresh re-adds a live order
        }
        self.position
            .insert(id, (instrument, self.ids[instrument].len()));
        self.ids[instrument].push(id);
    }
    fn remove(&mut self, id: OrderId) {
        let Some((instrument, index)) = self.position.remove(&id) else {
            return;
        };
        let list = &mut self.ids[instrument];
        list.swap_remove(index);
        if let Some(&moved) = list.get(index) {
            self.position.insert(moved, (instrument, index));
        }
    }
    fn observe(&mut self, events: &[Event]) -> bool {
        let mut traded = false;
        for event in events {
            match event {
                Event::BookAdd(add) => self.add(add.instrument.0 as usize, add.order),
                Event::BookReplace(replace) => {
                    self.remove(replace.old_order);
                    self.add(replace.instrument.0 as usize, replace.new_order);
                }
                Event::BookDelete(delete) => self.remove(delete.order),
                Event::Executed(executed) => {
                    traded = true;
                    if executed.maker_leaves.is_zero() {
                        self.remove(executed.maker_order);
                    }
                }
                _ => {}
            }
        }
        traded
    }
}

/// Generates a flow by running it through a shadow engine.
pub fn generate(config: &FlowConfig) -> Flow {
    let engine_config = engine_config(config);
    let mut shadow = Engine::new(engine_config.clone()).expect("flow config is valid");
    let mut rng = Rng(config.seed | 1);
    let mut live = LiveOrders {
        ids: vec![Vec::new(); config.instrument_count],
        position: HashMap::new(),
    };
    let mut events = Vec::new();
    let mut client_ref = 0u64;
    let mut warmup = Vec::new();
    for _ in 0..config.resting_per_book {
        for instrument in 0..config.instrument_count {
            client_ref += 1;
            let command = passive_order(&mut rng, config, instrument, client_ref, &shadow);
            events.clear();
            shadow.apply(&command, &mut events);
            live.observe(&events);
            warmup.push(command);
        }
    }
    let mut measured = Vec::with_capacity(config.measured_count);
    let mut trading_count = 0;
    for _ in 0..config.measured_count {
        client_ref += 1;
        let (kind, command) = next_command(&mut rng, config, &live, client_ref, &shadow);
        events.clear();
        shadow.apply(&command, &mut events);
        if live.observe(&events) {
            trading_count += 1;
        }
        measured.push((kind, command));
    }
    Flow {
        engine_config,
        warmup,
        measured,
        trading_count,
    }
}

fn next_command(
    rng: &mut Rng,
    config: &FlowConfig,
    live: &LiveOrders,
    client_ref: u64,
    shadow: &Engine,
) -> (OpKind, Command) {
    let instrument = rng.below(config.instrument_count as u64) as usize;
    let book_size = live.ids[instrument].len();
    let roll = rng.below(100);
    let mut kind = match roll {
        0..=8 => OpKind::NewGtc,
        9..=11 => OpKind::Ioc,
        12..=17 => OpKind::Cancel,
        _ => OpKind::Replace,
    };
    // Keep the book near its target size.
    if book_size < config.resting_per_book * 9 / 10 && kind == OpKind::Cancel {
        kind = OpKind::NewGtc;
    }
    if book_size > config.resting_per_book * 11 / 10 && kind == OpKind::NewGtc {
        kind = OpKind::Cancel;
    }
    if book_size == 0 && matches!(kind, OpKind::Cancel | OpKind::Replace) {
        kind = OpKind::NewGtc;
    }
    let command = match kind {
        OpKind::NewGtc => passive_order(rng, config, instrument, client_ref, shadow),
        OpKind::Ioc => ioc_order(rng, config, instrument, client_ref, shadow),
        OpKind::Cancel | OpKind::Replace => {
            let id = live.ids[instrument][rng.below(book_size as u64) as usize];
            let order = shadow.order(id).expect("live orders rest in the shadow");
            if kind == OpKind::Cancel {
                Command::Cancel(CancelOrder {
                    account: order.account,
                    session: order.session,
                    client_ref,
                    order: id,
                })
            } else {
                let price = moved_price(rng, instrument, order.side, order.price, shadow);
                Command::Replace(ReplaceOrder {
                    account: order.account,
                    session: order.session,
                    client_ref,
                    order: id,
                    price,
                    qty: order.leaves,
                    display_qty: Qty(0),
                })
            }
        }
    };
    (kind, command)
}

fn reference_mid(instrument: usize, shadow: &Engine) -> i64 {
    let id = InstrumentId(instrument as u32);
    match (
        shadow.best_price(id, Side::Buy),
        shadow.best_price(id, Side::Sell),
    ) {
        (Some(bid), Some(ask)) => (bid.0 + ask.0) / 2 / TICK * TICK,
        (Some(bid), None) => bid.0 + TICK,
        (None, Some(ask)) => ask.0 - TICK,
        (None, None) => MID,
    }
}

/// A GTC limit order 1–50 ticks away from the mid on its own side.
fn passive_order(
    rng: &mut Rng,
    config: &FlowConfig,
    instrument: usize,
    client_ref: u64,
    shadow: &Engine,
) -> Command {
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let distance = (1 + rng.below(50) as i64) * TICK;
    let mid = reference_mid(instrument, shadow);
    let price = match side {
        Side::Buy => mid - distance,
        Side::Sell => mid + distance,
    };
    new_order(
        rng,
        config,
        instrument,
        client_ref,
        side,
        Price(price),
        TimeInForce::Gtc,
    )
}

/// An IOC order that crosses the spread by 0–2 ticks.
fn ioc_order(
    rng: &mut Rng,
    config: &FlowConfig,
    instrument: usize,
    client_ref: u64,
    shadow: &Engine,
) -> Command {
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let id = InstrumentId(instrument as u32);
    let mid = reference_mid(instrument, shadow);
    let through = rng.below(3) as i64 * TICK;
    let price = match side {
        Side::Buy => shadow.best_price(id, Side::Sell).map_or(mid, |p| p.0) + through,
        Side::Sell => shadow.best_price(id, Side::Buy).map_or(mid, |p| p.0) - through,
    };
    new_order(
        rng,
        config,
        instrument,
        client_ref,
        side,
        Price(price),
        TimeInForce::Ioc,
    )
}

fn new_order(
    rng: &mut Rng,
    config: &FlowConfig,
    instrument: usize,
    client_ref: u64,
    side: Side,
    price: Price,
    time_in_force: TimeInForce,
) -> Command {
    let account = rng.below(config.account_count as u64) as u32;
    Command::NewOrder(NewOrder {
        account: AccountId(account),
        session: SessionId(account),
        client_ref,
        instrument: InstrumentId(instrument as u32),
        side,
        order_type: OrderType::Limit,
        time_in_force,
        price,
        qty: Qty((1 + rng.below(20) as u32) * 100),
        display_qty: Qty(0),
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::AccountDefault,
    })
}

/// A move of 1–3 ticks on the order's side; about 3.5 % of moves go to the opposite best and
/// trade.
fn moved_price(
    rng: &mut Rng,
    instrument: usize,
    side: Side,
    price: Price,
    shadow: &Engine,
) -> Price {
    let id = InstrumentId(instrument as u32);
    if rng.below(1000) < 35 {
        if let Some(best) = shadow.best_price(id, side.opposite()) {
            return best;
        }
    }
    let step = (1 + rng.below(3) as i64) * TICK;
    let mid = reference_mid(instrument, shadow);
    let moved = if rng.below(2) == 0 {
        price.0 + step
    } else {
        price.0 - step
    };
    // Stay on the passive side of the mid and inside the band.
    let bounded = match side {
        Side::Buy => moved.min(mid - TICK),
        Side::Sell => moved.max(mid + TICK),
    };
    let bounded = bounded.clamp(MID / 2, MID * 3 / 2);
    if bounded == price.0 {
        Price(price.0 + if side == Side::Buy { -TICK } else { TICK })
    } else {
        Price(bounded)
    }
}
