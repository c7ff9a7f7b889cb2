//! Thin adapters from a [`BookOp`] stream to two order books published on crates.io, measured
//! beside the engine on the same commands:
//! - [`LobsterPeer`]: `lobster` 0.7, a single-threaded book (a `BTreeMap` of price levels
//!   holding `Vec`s of arena indices, a preallocated order arena, a `HashMap` id index). It has
//!   no IOC, so the adapter cancels an IOC's remainder right after entry.
//! - [`OrderbookRsPeer`]: `orderbook-rs` 0.15, a concurrent book (lock-free skip-list of price
//!   levels, `DashMap` indices, trades reported through a listener). IOC is native. Its
//!   operations take `&self` and are safe across threads, a cost the engine does not pay: that
//!   is part of what the comparison shows.
//!
//! Both adapters do what [`crate::peer::PeerEngine`] does: replace = cancel, then a new GTC
//! limit with the new id. Each counts executions and executed shares ([`PeerTotals`]) so the
//! harness can check that every book did the same work.
//!
//! # Invariants
//! - One book per instrument, indexed by `instrument_index`; an index out of range is a
//!   programmer error in the stream (assert).
//! - Totals count one execution per maker order touched, as the engine's `Executed` events do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use peregrine_engine::Side;

use crate::peer::PeerTotals;
use crate::stream::BookOp;

/// `lobster` behind the bench's operation stream.
pub struct LobsterPeer {
    books: Vec<lobster::OrderBook>,
    pub totals: PeerTotals,
}

fn lobster_side(side: Side) -> lobster::Side {
    match side {
        Side::Buy => lobster::Side::Bid,
        Side::Sell => lobster::Side::Ask,
    }
}

impl LobsterPeer {
    /// Books preallocate `orders_per_book_max` arena slots; price queues start at 16 orders.
    pub fn new(instrument_count: usize, orders_per_book_max: usize) -> LobsterPeer {
        LobsterPeer {
            books: (0..instrument_count)
                .map(|_| lobster::OrderBook::new(orders_per_book_max, 16, false))
                .collect(),
            totals: PeerTotals::default(),
        }
    }

    fn count(&mut self, event: &lobster::OrderEvent) {
        match event {
            lobster::OrderEvent::Filled { fills, .. }
            | lobster::OrderEvent::PartiallyFilled { fills, .. } => {
                self.totals.execution_count += fills.len() as u64;
                self.totals.executed_qty += fills.iter().map(|fill| fill.qty).sum::<u64>();
            }
            lobster::OrderEvent::Unfilled { .. }
            | lobster::OrderEvent::Placed { .. }
            | lobster::OrderEvent::Canceled { .. } => {}
        }
    }

    /// Enters a limit order; cancels what rests of it when `immediate`.
    fn limit(&mut self, book_index: usize, order_id: u64, side: Side, price: u64, qty: u64) {
        let event = self.books[book_index].execute(lobster::OrderType::Limit {
            id: u128::from(order_id),
            side: lobster_side(side),
            qty,
            price,
        });
        self.count(&event);
    }

    pub fn apply(&mut self, op: &BookOp) {
        match *op {
            BookOp::Limit {
                instrument_index,
                order_id,
                side,
                price_units,
                qty_shares,
                immediate,
            } => {
                let book_index = instrument_index as usize;
                self.limit(book_index, order_id, side, price_units, qty_shares);
                if immediate {
                    let id = u128::from(order_id);
                    self.books[book_index].execute(lobster::OrderType::Cancel { id });
                }
            }
            BookOp::Cancel {
                instrument_index,
                order_id,
            } => {
                let id = u128::from(order_id);
                self.books[instrument_index as usize].execute(lobster::OrderType::Cancel { id });
            }
            BookOp::Replace {
                instrument_index,
                old_order_id,
                new_order_id,
                side,
                price_units,
                qty_shares,
            } => {
                let book_index = instrument_index as usize;
                let id = u128::from(old_order_id);
                self.books[book_index].execute(lobster::OrderType::Cancel { id });
                self.limit(book_index, new_order_id, side, price_units, qty_shares);
            }
        }
    }
}

/// Executions counted by `orderbook-rs`'s trade listener (shared by all books of one peer).
#[derive(Default)]
struct ListenerTotals {
    execution_count: AtomicU64,
    executed_qty: AtomicU64,
}

/// `orderbook-rs` behind the bench's operation stream.
pub struct OrderbookRsPeer {
    books: Vec<orderbook_rs::OrderBook<()>>,
    totals: Arc<ListenerTotals>,
}

fn orderbook_rs_side(side: Side) -> pricelevel_side::Side {
    match side {
        Side::Buy => pricelevel_side::Side::Buy,
        Side::Sell => pricelevel_side::Side::Sell,
    }
}

/// The side and time-in-force types `orderbook-rs` re-exports from its `pricelevel` dependency.
mod pricelevel_side {
    pub use orderbook_rs::prelude::{Side, TimeInForce};
}

impl OrderbookRsPeer {
    pub fn new(instrument_count: usize) -> OrderbookRsPeer {
        let totals = Arc::new(ListenerTotals::default());
        let books = (0..instrument_count)
            .map(|index| {
                let totals = Arc::clone(&totals);
                let listener: orderbook_rs::prelude::TradeListener =
                    Arc::new(move |result: &orderbook_rs::prelude::TradeResult| {
                        let trades = result.match_result.trades().as_vec();
                        let qty: u64 = trades.iter().map(|trade| trade.quantity().as_u64()).sum();
                        // Relaxed: counters read by the same thread after the call returns.
                        totals
                            .execution_count
                            .fetch_add(trades.len() as u64, Ordering::Relaxed);
                        totals.executed_qty.fetch_add(qty, Ordering::Relaxed);
                    });
                let symbol = format!("S{index}");
                orderbook_rs::OrderBook::with_trade_listener(&symbol, listener)
            })
            .collect();
        OrderbookRsPeer { books, totals }
    }

    pub fn totals(&self) -> PeerTotals {
        PeerTotals {
            execution_count: self.totals.execution_count.load(Ordering::Relaxed),
            executed_qty: self.totals.executed_qty.load(Ordering::Relaxed),
        }
    }

    /// Enters a limit; errors (an IOC's unfilled remainder) are part of normal flow and their
    /// fills have reached the listener already.
    fn limit(&self, book_index: usize, order_id: u64, side: Side, price: u64, qty: u64, ioc: bool) {
        let time_in_force = if ioc {
            pricelevel_side::TimeInForce::Ioc
        } else {
            pricelevel_side::TimeInForce::Gtc
        };
        let _ = self.books[book_index].add_limit_order(
            orderbook_rs::prelude::Id::Sequential(order_id),
            u128::from(price),
            qty,
            orderbook_rs_side(side),
            time_in_force,
            None,
        );
    }

    pub fn apply(&mut self, op: &BookOp) {
        match *op {
            BookOp::Limit {
                instrument_index,
                order_id,
                side,
                price_units,
                qty_shares,
                immediate,
            } => self.limit(
                instrument_index as usize,
                order_id,
                side,
                price_units,
                qty_shares,
                immediate,
            ),
            BookOp::Cancel {
                instrument_index,
                order_id,
            } => {
                let id = orderbook_rs::prelude::Id::Sequential(order_id);
                let _ = self.books[instrument_index as usize].cancel_order(id);
            }
            BookOp::Replace {
                instrument_index,
                old_order_id,
                new_order_id,
                side,
                price_units,
                qty_shares,
            } => {
                let book_index = instrument_index as usize;
                let id = orderbook_rs::prelude::Id::Sequential(old_order_id);
                let _ = self.books[book_index].cancel_order(id);
                self.limit(
                    book_index,
                    new_order_id,
                    side,
                    price_units,
                    qty_shares,
                    false,
                );
            }
        }
    }
}
