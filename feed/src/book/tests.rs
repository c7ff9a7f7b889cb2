//! Book builder: hand-made sequences for each message kind and each error (an error changes
//! nothing), capacity limits, and a property test against a plain reference model (a list of
//! live orders with arrival stamps) under random adds, executions, cancels, deletes and
//! replaces, comparing the exported orders and levels after every message.

use peregrine_engine::{MatchId, OrderId, Qty, Side};
use proptest::prelude::*;

use super::*;
use crate::itch::{
    AddOrderMpidRepr, AddOrderRepr, HeaderRepr, ItchPrice, MessageRepr, OrderCancelRepr,
    OrderDeleteRepr, OrderExecutedRepr, OrderExecutedWithPriceRepr, OrderReplaceRepr, YesNo,
};
use crate::wire::{Mpid, Symbol};

fn header(locate: u16) -> HeaderRepr {
    HeaderRepr {
        stock_locate: locate,
        tracking_number: 0,
        timestamp_ns: 0,
    }
}

fn add(locate: u16, order: u64, side: Side, price: u32, shares: u32) -> MessageRepr {
    MessageRepr::AddOrder(AddOrderRepr {
        header: header(locate),
        order: OrderId(order),
        side,
        shares: Qty(shares),
        stock: Symbol::BLANK,
        price: ItchPrice(price),
    })
}

fn execute(order: u64, shares: u32) -> MessageRepr {
    MessageRepr::OrderExecuted(OrderExecutedRepr {
        header: header(1),
        order: OrderId(order),
        executed_shares: Qty(shares),
        match_number: MatchId(1),
    })
}

fn cancel(order: u64, shares: u32) -> MessageRepr {
    MessageRepr::OrderCancel(OrderCancelRepr {
        header: header(1),
        order: OrderId(order),
        cancelled_shares: Qty(shares),
    })
}

fn delete(order: u64) -> MessageRepr {
    MessageRepr::OrderDelete(OrderDeleteRepr {
        header: header(1),
        order: OrderId(order),
    })
}

fn replace(original: u64, new: u64, price: u32, shares: u32) -> MessageRepr {
    MessageRepr::OrderReplace(OrderReplaceRepr {
        header: header(1),
        original_order: OrderId(original),
        new_order: OrderId(new),
        shares: Qty(shares),
        price: ItchPrice(price),
    })
}

fn config() -> BookConfig {
    BookConfig {
        locate_count: 2,
        order_capacity: 64,
        level_capacity: 32,
        levels_per_side_max: 8,
    }
}

fn orders(book: &Book, locate: u16, side: Side) -> Vec<(u64, u32, u32)> {
    let mut out = Vec::new();
    book.for_each_order(locate, side, |order| {
        out.push((order.order.0, order.price.0, order.shares.0))
    });
    out
}

fn levels(book: &Book, locate: u16, side: Side) -> Vec<(u32, u64, u32)> {
    let mut out = Vec::new();
    book.for_each_level(locate, side, |level| {
        out.push((level.price.0, level.shares, level.order_count))
    });
    out
}

fn apply_all(book: &mut Book, messages: &[MessageRepr]) {
    for message in messages {
        assert_eq!(book.apply(message), Ok(()), "{message}");
        book.verify();
    }
}

#[test]
fn adds_queue_by_price_then_time() {
    let mut book = Book::new(config());
    apply_all(
        &mut book,
        &[
            add(1, 1, Side::Buy, 100, 10),
            add(1, 2, Side::Buy, 101, 20),
            add(1, 3, Side::Buy, 100, 30),
            add(1, 4, Side::Sell, 105, 5),
            add(1, 5, Side::Sell, 103, 6),
            add(2, 6, Side::Buy, 100, 7),
        ],
    );
    assert_eq!(
        orders(&book, 1, Side::Buy),
        vec![(2, 101, 20), (1, 100, 10), (3, 100, 30)]
    );
    assert_eq!(
        levels(&book, 1, Side::Buy),
        vec![(101, 20, 1), (100, 40, 2)]
    );
    assert_eq!(orders(&book, 1, Side::Sell), vec![(5, 103, 6), (4, 105, 5)]);
    assert_eq!(levels(&book, 2, Side::Buy), vec![(100, 7, 1)]);
    assert_eq!(
        book.best(1, Side::Sell),
        Some(LevelSnapshot {
            price: ItchPrice(103),
            shares: 6,
            order_count: 1
        })
    );
    assert_eq!((book.order_count(), book.level_count()), (6, 5));
    let mpid = MessageRepr::AddOrderMpid(AddOrderMpidRepr {
        header: header(2),
        order: OrderId(7),
        side: Side::Sell,
        shares: Qty(1),
        stock: Symbol::BLANK,
        price: ItchPrice(200),
        attribution: Mpid::BLANK,
    });
    apply_all(&mut book, &[mpid]);
    assert_eq!(orders(&book, 2, Side::Sell), vec![(7, 200, 1)]);
}

#[test]
fn executions_cancels_deletes_and_replaces() {
    let mut book = Book::new(config());
    apply_all(
        &mut book,
        &[
            add(1, 1, Side::Buy, 100, 10),
            add(1, 2, Side::Buy, 100, 20),
            add(1, 3, Side::Buy, 99, 5),
        ],
    );
    apply_all(&mut book, &[execute(1, 4), cancel(2, 5)]);
    assert_eq!(
        orders(&book, 1, Side::Buy),
        vec![(1, 100, 6), (2, 100, 15), (3, 99, 5)]
    );
    let with_price = MessageRepr::OrderExecutedWithPrice(OrderExecutedWithPriceRepr {
        header: header(1),
        order: OrderId(1),
        executed_shares: Qty(6),
        match_number: MatchId(2),
        printable: YesNo::Yes,
        execution_price: ItchPrice(98),
    });
    apply_all(&mut book, &[with_price]);
    assert_eq!(book.order(OrderId(1)), None, "fully executed orders leave");
    // Replace keeps side and locate, goes to the back of the new level.
    apply_all(&mut book, &[replace(3, 9, 100, 7)]);
    assert_eq!(orders(&book, 1, Side::Buy), vec![(2, 100, 15), (9, 100, 7)]);
    assert_eq!(levels(&book, 1, Side::Buy), vec![(100, 22, 2)]);
    apply_all(&mut book, &[cancel(2, 15), delete(9)]);
    assert_eq!((book.order_count(), book.level_count()), (0, 0));
    // A re-added reference (an iceberg refresh) is a new order at the back.
    apply_all(
        &mut book,
        &[
            add(1, 1, Side::Sell, 50, 1),
            add(1, 2, Side::Sell, 50, 1),
            execute(1, 1),
        ],
    );
    apply_all(&mut book, &[add(1, 1, Side::Sell, 50, 1)]);
    assert_eq!(orders(&book, 1, Side::Sell), vec![(2, 50, 1), (1, 50, 1)]);
}

#[test]
fn errors_change_nothing() {
    let mut book = Book::new(config());
    apply_all(
        &mut book,
        &[
            add(1, 1, Side::Buy, 100, 10),
            add(1, 2, Side::Sell, 101, 10),
        ],
    );
    let before = (orders(&book, 1, Side::Buy), orders(&book, 1, Side::Sell));
    let cases = [
        (add(0, 3, Side::Buy, 100, 1), BookError::UnknownLocate(0)),
        (add(3, 3, Side::Buy, 100, 1), BookError::UnknownLocate(3)),
        (
            add(1, 1, Side::Buy, 100, 1),
            BookError::DuplicateOrder(OrderId(1)),
        ),
        (
            add(1, 3, Side::Buy, 100, 0),
            BookError::ZeroShares(OrderId(3)),
        ),
        (execute(7, 1), BookError::UnknownOrder(OrderId(7))),
        (execute(1, 11), BookError::TooManyShares(OrderId(1))),
        (execute(1, 0), BookError::ZeroShares(OrderId(1))),
        (cancel(2, 11), BookError::TooManyShares(OrderId(2))),
        (delete(7), BookError::UnknownOrder(OrderId(7))),
        (replace(7, 8, 100, 1), BookError::UnknownOrder(OrderId(7))),
        (replace(1, 2, 100, 1), BookError::DuplicateOrder(OrderId(2))),
        (replace(1, 8, 100, 0), BookError::ZeroShares(OrderId(8))),
    ];
    for (message, error) in cases {
        assert_eq!(book.apply(&message), Err(error), "{message}");
        book.verify();
        assert_eq!(
            (orders(&book, 1, Side::Buy), orders(&book, 1, Side::Sell)),
            before
        );
    }
    assert_eq!(book.order_count(), 2);
}

#[test]
fn capacities_are_errors_not_growth() {
    let mut book = Book::new(BookConfig {
        locate_count: 1,
        order_capacity: 3,
        level_capacity: 2,
        levels_per_side_max: 2,
    });
    apply_all(
        &mut book,
        &[add(1, 1, Side::Buy, 100, 1), add(1, 2, Side::Buy, 101, 1)],
    );
    assert_eq!(
        book.apply(&add(1, 3, Side::Buy, 102, 1)),
        Err(BookError::LevelCapacity)
    );
    assert_eq!(
        book.apply(&add(1, 3, Side::Sell, 102, 1)),
        Err(BookError::LevelCapacity)
    );
    apply_all(&mut book, &[add(1, 3, Side::Buy, 101, 1)]);
    assert_eq!(
        book.apply(&add(1, 4, Side::Buy, 101, 1)),
        Err(BookError::OrderCapacity)
    );
    // A replace to a new price needs a level unless it frees its own.
    assert_eq!(
        book.apply(&replace(2, 5, 99, 1)),
        Err(BookError::LevelCapacity)
    );
    apply_all(&mut book, &[replace(1, 5, 99, 1)]);
    assert_eq!(levels(&book, 1, Side::Buy), vec![(101, 2, 2), (99, 1, 1)]);
}

#[test]
fn unknown_locates_export_nothing() {
    let book = Book::new(config());
    assert!(orders(&book, 0, Side::Buy).is_empty());
    assert!(levels(&book, 9, Side::Sell).is_empty());
    assert_eq!(book.best(1, Side::Buy), None);
}

// ---- property: the book equals a plain reference model ----

#[derive(Clone, Debug)]
enum Op {
    Add {
        locate: u16,
        side: Side,
        price: u32,
        shares: u32,
    },
    Execute {
        pick: usize,
        shares: u32,
    },
    Cancel {
        pick: usize,
        shares: u32,
    },
    Delete {
        pick: usize,
    },
    Replace {
        pick: usize,
        price: u32,
        shares: u32,
    },
    DeleteUnknown,
}

fn op() -> impl Strategy<Value = Op> {
    let side = prop::sample::select(Side::ALL);
    prop_oneof![
        4 => (1u16..=2, side, 95u32..105, 1u32..50)
            .prop_map(|(locate, side, price, shares)| Op::Add { locate, side, price, shares }),
        2 => (any::<usize>(), 1u32..60).prop_map(|(pick, shares)| Op::Execute { pick, shares }),
        1 => (any::<usize>(), 1u32..60).prop_map(|(pick, shares)| Op::Cancel { pick, shares }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        1 => (any::<usize>(), 95u32..105, 1u32..50)
            .prop_map(|(pick, price, shares)| Op::Replace { pick, price, shares }),
        1 => Just(Op::DeleteUnknown),
    ]
}

#[derive(Clone, Copy, Debug)]
struct ModelOrder {
    order: u64,
    locate: u16,
    side: Side,
    price: u32,
    shares: u32,
    arrival: u64,
}

/// The reference: live orders; priority by price then arrival.
#[derive(Default)]
struct Model {
    orders: Vec<ModelOrder>,
    next_ref: u64,
    clock: u64,
}

impl Model {
    fn message(&mut self, op: &Op) -> (MessageRepr, bool) {
        let picked =
            |pick: usize, orders: &[ModelOrder]| (!orders.is_empty()).then(|| pick % orders.len());
        match *op {
            Op::Add {
                locate,
                side,
                price,
                shares,
            } => {
                self.next_ref += 1;
                self.clock += 1;
                let order = ModelOrder {
                    order: self.next_ref,
                    locate,
                    side,
                    price,
                    shares,
                    arrival: self.clock,
                };
                self.orders.push(order);
                (add(locate, self.next_ref, side, price, shares), true)
            }
            Op::Execute { pick, shares } | Op::Cancel { pick, shares } => {
                let Some(index) = picked(pick, &self.orders) else {
                    return (delete(999_999), false);
                };
                let order = self.orders[index];
                let message = if matches!(op, Op::Execute { .. }) {
                    execute(order.order, shares)
                } else {
                    cancel(order.order, shares)
                };
                if shares > order.shares {
                    return (message, false);
                }
                self.orders[index].shares -= shares;
                if self.orders[index].shares == 0 {
                    self.orders.remove(index);
                }
                (message, true)
            }
            Op::Delete { pick } => {
                let Some(index) = picked(pick, &self.orders) else {
                    return (delete(999_999), false);
                };
                let order = self.orders.remove(index);
                (delete(order.order), true)
            }
            Op::Replace {
                pick,
                price,
                shares,
            } => {
                let Some(index) = picked(pick, &self.orders) else {
                    return (delete(999_999), false);
                };
                self.next_ref += 1;
                self.clock += 1;
                let old = self.orders.remove(index);
                let new = ModelOrder {
                    order: self.next_ref,
                    price,
                    shares,
                    arrival: self.clock,
                    ..old
                };
                self.orders.push(new);
                (replace(old.order, new.order, price, shares), true)
            }
            Op::DeleteUnknown => (delete(999_999), false),
        }
    }

    fn orders(&self, locate: u16, side: Side) -> Vec<(u64, u32, u32)> {
        let mut live: Vec<ModelOrder> = self
            .orders
            .iter()
            .copied()
            .filter(|o| o.locate == locate && o.side == side)
            .collect();
        live.sort_by_key(|o| (price_key(side, o.price), o.arrival));
        live.iter().map(|o| (o.order, o.price, o.shares)).collect()
    }

    fn levels(&self, locate: u16, side: Side) -> Vec<(u32, u64, u32)> {
        let mut out: Vec<(u32, u64, u32)> = Vec::new();
        for (_, price, shares) in self.orders(locate, side) {
            match out.last_mut() {
                Some(last) if last.0 == price => {
                    last.1 += u64::from(shares);
                    last.2 += 1;
                }
                _ => out.push((price, u64::from(shares), 1)),
            }
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn book_matches_the_reference_model(ops in prop::collection::vec(op(), 1..150)) {
        let mut book = Book::new(BookConfig {
            locate_count: 2, order_capacity: 256, level_capacity: 64, levels_per_side_max: 16,
        });
        let mut model = Model::default();
        for op in &ops {
            let (message, valid) = model.message(op);
            let result = book.apply(&message);
            prop_assert_eq!(result.is_ok(), valid, "{} -> {:?}", message, result);
            book.verify();
            for locate in 1..=2 {
                for side in Side::ALL.iter().copied() {
                    prop_assert_eq!(orders(&book, locate, side), model.orders(locate, side));
                    prop_assert_eq!(levels(&book, locate, side), model.levels(locate, side));
                }
            }
        }
        prop_assert_eq!(book.order_count() as usize, model.orders.len());
    }
}
