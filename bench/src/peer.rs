//! The textbook order book, as a peer for the engine on the same command stream: a `BTreeMap`
//! of price levels per side, a `VecDeque` of order ids per level, and a `HashMap` (std's default
//! hasher) from id to order. It implements exactly what the benchmark mix uses (limit GTC and
//! IOC orders, cancel, replace that moves the price), with the engine's id and priority rules,
//! so both do the same work; [`PeerTotals`] lets the harness check that.
//!
//! It is what the engine's arenas, tick ladder and id index are measured against: the same
//! price-time semantics built from the standard library's general-purpose collections.

use std::collections::{BTreeMap, HashMap, VecDeque};

use peregrine_engine::{Command, OrderType, Side, TimeInForce};

#[derive(Clone, Copy)]
struct PeerOrder {
    instrument: usize,
    side: Side,
    price: i64,
    qty: u32,
}

#[derive(Default)]
struct PeerBook {
    bids: BTreeMap<i64, VecDeque<u64>>,
    asks: BTreeMap<i64, VecDeque<u64>>,
}

/// What the peer did, to compare with the engine's events on the same stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerTotals {
    pub execution_count: u64,
    pub executed_qty: u64,
}

pub struct PeerEngine {
    books: Vec<PeerBook>,
    orders: HashMap<u64, PeerOrder>,
    next_order_id: u64,
    pub totals: PeerTotals,
}

impl PeerEngine {
    pub fn new(instrument_count: usize) -> PeerEngine {
        PeerEngine {
            books: (0..instrument_count).map(|_| PeerBook::default()).collect(),
            orders: HashMap::new(),
            next_order_id: 1,
            totals: PeerTotals::default(),
        }
    }

    /// Applies one command of the benchmark mix (others are ignored).
    pub fn apply(&mut self, command: &Command) {
        match command {
            Command::NewOrder(order) => {
                assert!(
                    order.order_type == OrderType::Limit,
                    "the peer takes limit orders only"
                );
                let id = self.take_id();
                let resting = PeerOrder {
                    instrument: order.instrument.0 as usize,
                    side: order.side,
                    price: order.price.0,
                    qty: order.qty.0,
                };
                let may_rest = order.time_in_force != TimeInForce::Ioc;
                self.enter(id, resting, may_rest);
            }
            Command::Cancel(cancel) => {
                self.remove(cancel.order.0);
            }
            Command::Replace(replace) => {
                if let Some(mut order) = self.remove(replace.order.0) {
                    order.price = replace.price.0;
                    order.qty = replace.qty.0;
                    let id = self.take_id();
                    self.enter(id, order, true);
                }
            }
            _ => {}
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_order_id;
        self.next_order_id += 1;
        id
    }

    fn remove(&mut self, id: u64) -> Option<PeerOrder> {
        let order = self.orders.remove(&id)?;
        let book = &mut self.books[order.instrument];
        let levels = match order.side {
            Side::Buy => &mut book.bids,
            Side::Sell => &mut book.asks,
        };
        let queue = levels
            .get_mut(&order.price)
            .expect("a live order has a level");
        let position = queue
            .iter()
            .position(|&queued| queued == id)
            .expect("queued");
        queue.remove(position);
        if queue.is_empty() {
            levels.remove(&order.price);
        }
        Some(order)
    }

    /// Matches the order against the opposite side, then rests what is left if it may.
    fn enter(&mut self, id: u64, mut order: PeerOrder, may_rest: bool) {
        let book = &mut self.books[order.instrument];
        let opposite = match order.side {
            Side::Buy => &mut book.asks,
            Side::Sell => &mut book.bids,
        };
        while order.qty > 0 {
            let best = match order.side {
                Side::Buy => opposite.first_key_value().map(|(price, _)| *price),
                Side::Sell => opposite.last_key_value().map(|(price, _)| *price),
            };
            let Some(best) = best else { break };
            let crosses = match order.side {
                Side::Buy => best <= order.price,
                Side::Sell => best >= order.price,
            };
            if !crosses {
                break;
            }
            let queue = opposite.get_mut(&best).expect("best level exists");
            let maker_id = *queue.front().expect("levels are never empty");
            let maker = self
                .orders
                .get_mut(&maker_id)
                .expect("queued orders are live");
            let qty = order.qty.min(maker.qty);
            maker.qty -= qty;
            order.qty -= qty;
            self.totals.execution_count += 1;
            self.totals.executed_qty += u64::from(qty);
            if maker.qty == 0 {
                self.orders.remove(&maker_id);
                queue.pop_front();
                if queue.is_empty() {
                    opposite.remove(&best);
                }
            }
        }
        if order.qty > 0 && may_rest {
            let levels = match order.side {
                Side::Buy => &mut book.bids,
                Side::Sell => &mut book.asks,
            };
            levels.entry(order.price).or_default().push_back(id);
            self.orders.insert(id, order);
        }
    }
}
