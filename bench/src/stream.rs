//! The engine's command stream restated for order books that are not ours: every operation
//! carries the order id the engine assigns, the side and the instrument, so a peer book needs no
//! lookup of its own to know which book or side an id lives on (that bookkeeping would be the
//! adapter's cost, not the peer's).
//!
//! The translation runs once, untimed, before any measurement.
//!
//! # Invariants
//! - Ids follow the engine's assignment: one new id per `NewOrder` (IOC included) and per
//!   `Replace` of a live order, counting from 1 across all instruments.
//! - `Cancel` and `Replace` name only ids the engine holds live at that point of the stream
//!   (the flow generator guarantees it: it picks them from a shadow engine's book).

use std::collections::HashMap;

use peregrine_engine::{Command, Side, TimeInForce};

use crate::flow::{Flow, OpKind};

/// One operation on one instrument's book, with engine-assigned ids and raw engine prices
/// (`Price` units, always positive in the bench flows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookOp {
    /// A limit order; `immediate` is IOC (the remainder is cancelled, never rests).
    Limit {
        instrument_index: u32,
        order_id: u64,
        side: Side,
        price_units: u64,
        qty_shares: u64,
        immediate: bool,
    },
    Cancel {
        instrument_index: u32,
        order_id: u64,
    },
    /// Cancel `old_order_id`, then enter a GTC limit `new_order_id` (loses priority).
    Replace {
        instrument_index: u32,
        old_order_id: u64,
        new_order_id: u64,
        side: Side,
        price_units: u64,
        qty_shares: u64,
    },
}

/// The flow for peers: the same warm-up and measured commands as [`Flow`], restated.
pub struct PeerFlow {
    pub instrument_count: usize,
    /// Resting orders a book may hold at most (for peers that preallocate).
    pub orders_per_book_max: usize,
    pub warmup: Vec<BookOp>,
    pub measured: Vec<(OpKind, BookOp)>,
}

struct Translator {
    next_order_id: u64,
    /// Live id → (instrument, side). Filled orders stay in the map; they are never named again.
    live: HashMap<u64, (u32, Side)>,
}

impl Translator {
    fn take_id(&mut self) -> u64 {
        let id = self.next_order_id;
        self.next_order_id += 1;
        id
    }

    fn translate(&mut self, command: &Command) -> Option<BookOp> {
        match command {
            Command::NewOrder(order) => {
                let order_id = self.take_id();
                let immediate = order.time_in_force == TimeInForce::Ioc;
                if !immediate {
                    self.live.insert(order_id, (order.instrument.0, order.side));
                }
                Some(BookOp::Limit {
                    instrument_index: order.instrument.0,
                    order_id,
                    side: order.side,
                    price_units: u64::try_from(order.price.0).ok()?,
                    qty_shares: u64::from(order.qty.0),
                    immediate,
                })
            }
            Command::Cancel(cancel) => {
                let (instrument_index, _) = self.live.remove(&cancel.order.0)?;
                Some(BookOp::Cancel {
                    instrument_index,
                    order_id: cancel.order.0,
                })
            }
            Command::Replace(replace) => {
                let (instrument_index, side) = self.live.remove(&replace.order.0)?;
                let new_order_id = self.take_id();
                self.live.insert(new_order_id, (instrument_index, side));
                Some(BookOp::Replace {
                    instrument_index,
                    old_order_id: replace.order.0,
                    new_order_id,
                    side,
                    price_units: u64::try_from(replace.price.0).ok()?,
                    qty_shares: u64::from(replace.qty.0),
                })
            }
            _ => None,
        }
    }
}

/// Restates `flow` for peers. `None` when a command falls outside what peers take (a command
/// kind the bench mix never generates, or an id the stream never created).
pub fn translate(flow: &Flow, resting_per_book: usize) -> Option<PeerFlow> {
    let mut translator = Translator {
        next_order_id: 1,
        live: HashMap::new(),
    };
    let mut warmup = Vec::with_capacity(flow.warmup.len());
    for command in &flow.warmup {
        warmup.push(translator.translate(command)?);
    }
    let mut measured = Vec::with_capacity(flow.measured.len());
    for (kind, command) in &flow.measured {
        measured.push((*kind, translator.translate(command)?));
    }
    Some(PeerFlow {
        instrument_count: flow.engine_config.instruments.len(),
        orders_per_book_max: resting_per_book * 2 + 1_024,
        warmup,
        measured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{generate, FlowConfig};

    #[test]
    fn ids_follow_the_engine_and_every_command_translates() {
        let config = FlowConfig {
            instrument_count: 3,
            resting_per_book: 50,
            measured_count: 2_000,
            ..FlowConfig::default()
        };
        let flow = generate(&config);
        let peer_flow = translate(&flow, config.resting_per_book).expect("translates");
        assert_eq!(peer_flow.warmup.len(), flow.warmup.len());
        assert_eq!(peer_flow.measured.len(), flow.measured.len());
        // The warm-up is all GTC limits, ids 1.. in order.
        for (index, op) in peer_flow.warmup.iter().enumerate() {
            match op {
                BookOp::Limit {
                    order_id,
                    immediate,
                    ..
                } => {
                    assert_eq!(*order_id, index as u64 + 1);
                    assert!(!immediate);
                }
                other => panic!("warm-up holds only limits, got {other:?}"),
            }
        }
        let kinds_seen = peer_flow
            .measured
            .iter()
            .map(|(kind, _)| kind.index())
            .fold([false; 4], |mut seen, index| {
                seen[index] = true;
                seen
            });
        assert_eq!(kinds_seen, [true; 4]);
    }
}
