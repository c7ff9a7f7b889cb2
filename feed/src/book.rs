//! Order-by-order book built from ITCH messages: the subscriber's view of the market.
//!
//! `A`/`F` add an order at the back of its price level, `E`/`C` execute and `X` cancel part of
//! it (an order at zero shares leaves), `D` deletes it and `U` replaces it (the original leaves,
//! the new order joins the back of its level with the original's side and stock). Other
//! messages do not change the book. The result can be walked level by level
//! ([`Book::for_each_level`]) or order by order in priority ([`Book::for_each_order`]), in the
//! same order as the engine's `for_each_level` / `for_each_order`, for an exact comparison.
//!
//! Memory is taken in [`Book::new`]: an order arena, a level arena, an open-addressing index
//! from order reference to arena slot and, per (locate, side), a sorted array of level slots.
//! Nothing grows afterwards; a full pool is a [`BookError`], not a reallocation.
//!
//! # Invariants
//! - A message that returns an error changes nothing.
//! - Every order in the index sits in exactly one level's queue; a level's `shares` is the sum
//!   of its orders' shares and `order_count` their number; no order has zero shares and no
//!   level is empty.
//! - Each side's level array is sorted best first (bids by descending price, asks ascending)
//!   and holds each price at most once.
//! - [`Book::verify`] checks all of the above by walking everything (tests call it).

use core::fmt;

use peregrine_engine::{OrderId, Qty, Side};

use crate::itch::{ItchPrice, MessageRepr};

/// "No slot" in the arenas' links.
const NIL: u32 = u32::MAX;

/// Why a message could not be applied. The book is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BookError {
    /// The stock locate is 0 or beyond the configured count.
    UnknownLocate(u16),
    /// No order with this reference is on the book.
    UnknownOrder(OrderId),
    /// An add (or the new order of a replace) reuses a live reference.
    DuplicateOrder(OrderId),
    /// An add, replace, execution or cancel of zero shares.
    ZeroShares(OrderId),
    /// An execution or cancel of more shares than the order shows.
    TooManyShares(OrderId),
    /// The order arena is full.
    OrderCapacity,
    /// The level arena, or the side's level array, is full.
    LevelCapacity,
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BookError::UnknownLocate(locate) => write!(f, "unknown stock locate {locate}"),
            BookError::UnknownOrder(order) => write!(f, "unknown order {}", order.0),
            BookError::DuplicateOrder(order) => write!(f, "order {} is already live", order.0),
            BookError::ZeroShares(order) => write!(f, "zero shares for order {}", order.0),
            BookError::TooManyShares(order) => {
                write!(f, "more shares than order {} shows", order.0)
            }
            BookError::OrderCapacity => write!(f, "order capacity reached"),
            BookError::LevelCapacity => write!(f, "price level capacity reached"),
        }
    }
}

impl std::error::Error for BookError {}

/// Capacities of a [`Book`], fixed at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookConfig {
    /// Valid locates are `1..=locate_count` (the encoder's `InstrumentId + 1`).
    pub locate_count: u16,
    /// Most live orders at once, across instruments.
    pub order_capacity: u32,
    /// Most non-empty levels at once, across instruments and sides.
    pub level_capacity: u32,
    /// Most non-empty levels on one side of one instrument.
    pub levels_per_side_max: u32,
}

/// One price level, as exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelSnapshot {
    pub price: ItchPrice,
    /// Sum of the displayed shares of the level's orders.
    pub shares: u64,
    pub order_count: u32,
}

/// One order, as exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderSnapshot {
    pub order: OrderId,
    pub locate: u16,
    pub side: Side,
    pub price: ItchPrice,
    pub shares: Qty,
}

#[derive(Clone, Copy, Debug)]
struct OrderSlot {
    order_ref: u64,
    price: u32,
    /// Displayed shares, `> 0` while live.
    shares: u32,
    locate: u16,
    side: Side,
    /// Level slot while live; next free slot while free.
    level: u32,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy, Debug)]
struct LevelSlot {
    price: u32,
    shares: u64,
    order_count: u32,
    /// Front of the queue (oldest); next free slot while free.
    head: u32,
    tail: u32,
}

/// The order-by-order book of every instrument of a feed.
#[derive(Clone, Debug)]
pub struct Book {
    config: BookConfig,
    orders: Vec<OrderSlot>,
    order_free: u32,
    order_count: u32,
    levels: Vec<LevelSlot>,
    level_free: u32,
    level_count: u32,
    /// Open addressing, linear probing: order slot or `NIL`. Length a power of two, at least
    /// twice the order capacity, so the load factor stays at or below one half.
    index: Vec<u32>,
    /// Per `(locate - 1) * 2 + side.index()`: level slots, best first.
    sides: Vec<Vec<u32>>,
}

/// Sort key of a price on a side: ascending key = best first.
fn price_key(side: Side, price: u32) -> u32 {
    match side {
        Side::Buy => u32::MAX - price,
        Side::Sell => price,
    }
}

fn hash_slot(order_ref: u64, mask: usize) -> usize {
    // Fibonacci hashing: a fixed multiplier, so the layout is deterministic.
    let mixed = order_ref.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 32) as usize & mask
}

impl Book {
    /// Takes all memory. Panics only if the capacities cannot be indexed by `u32` (a
    /// configuration error caught at start-up).
    pub fn new(config: BookConfig) -> Book {
        assert!(config.order_capacity > 0 && config.order_capacity < NIL / 2);
        assert!(config.level_capacity > 0 && config.level_capacity < NIL);
        let order_capacity = config.order_capacity as usize;
        let level_capacity = config.level_capacity as usize;
        let orders = (0..config.order_capacity)
            .map(|slot| OrderSlot {
                order_ref: 0,
                price: 0,
                shares: 0,
                locate: 0,
                side: Side::Buy,
                level: if slot + 1 < config.order_capacity {
                    slot + 1
                } else {
                    NIL
                },
                prev: NIL,
                next: NIL,
            })
            .collect::<Vec<_>>();
        let levels = (0..config.level_capacity)
            .map(|slot| LevelSlot {
                price: 0,
                shares: 0,
                order_count: 0,
                head: if slot + 1 < config.level_capacity {
                    slot + 1
                } else {
                    NIL
                },
                tail: NIL,
            })
            .collect::<Vec<_>>();
        let side_count = usize::from(config.locate_count) * 2;
        let per_side = (config.levels_per_side_max as usize).min(level_capacity);
        let sides = (0..side_count)
            .map(|_| Vec::with_capacity(per_side))
            .collect();
        let index = vec![NIL; (order_capacity * 2).next_power_of_two()];
        assert_eq!(orders.len(), order_capacity);
        Book {
            config,
            orders,
            order_free: 0,
            order_count: 0,
            levels,
            level_free: 0,
            level_count: 0,
            index,
            sides,
        }
    }

    pub fn config(&self) -> &BookConfig {
        &self.config
    }

    /// Live orders.
    pub fn order_count(&self) -> u32 {
        self.order_count
    }

    /// Non-empty levels.
    pub fn level_count(&self) -> u32 {
        self.level_count
    }

    /// Applies one message. Messages that do not change the book are `Ok` and ignored.
    pub fn apply(&mut self, message: &MessageRepr) -> Result<(), BookError> {
        match message {
            MessageRepr::AddOrder(add) => self.add(
                add.header.stock_locate,
                add.order,
                add.side,
                add.price.0,
                add.shares.0,
            ),
            MessageRepr::AddOrderMpid(add) => self.add(
                add.header.stock_locate,
                add.order,
                add.side,
                add.price.0,
                add.shares.0,
            ),
            MessageRepr::OrderExecuted(executed) => {
                self.reduce(executed.order, executed.executed_shares.0)
            }
            MessageRepr::OrderExecutedWithPrice(executed) => {
                self.reduce(executed.order, executed.executed_shares.0)
            }
            MessageRepr::OrderCancel(cancel) => {
                self.reduce(cancel.order, cancel.cancelled_shares.0)
            }
            MessageRepr::OrderDelete(delete) => self.delete(delete.order),
            MessageRepr::OrderReplace(replace) => self.replace(
                replace.original_order,
                replace.new_order,
                replace.price.0,
                replace.shares.0,
            ),
            MessageRepr::SystemEvent(_)
            | MessageRepr::StockDirectory(_)
            | MessageRepr::TradingAction(_)
            | MessageRepr::RegSho(_)
            | MessageRepr::Trade(_)
            | MessageRepr::CrossTrade(_)
            | MessageRepr::BrokenTrade(_)
            | MessageRepr::Noii(_) => Ok(()),
        }
    }

    fn side_index(&self, locate: u16, side: Side) -> Result<usize, BookError> {
        if locate == 0 || locate > self.config.locate_count {
            return Err(BookError::UnknownLocate(locate));
        }
        Ok((usize::from(locate) - 1) * 2 + side.index())
    }

    /// Index position of an order reference, or where it would go.
    fn find(&self, order_ref: u64) -> (usize, Option<u32>) {
        let mask = self.index.len() - 1;
        let mut position = hash_slot(order_ref, mask);
        // Bounded: the table is at most half full, so an empty slot is always reached.
        for _ in 0..self.index.len() {
            let slot = self.index[position];
            if slot == NIL {
                return (position, None);
            }
            if self.orders[slot as usize].order_ref == order_ref {
                return (position, Some(slot));
            }
            position = (position + 1) & mask;
        }
        unreachable!("order index has no empty slot");
    }

    fn lookup(&self, order: OrderId) -> Result<u32, BookError> {
        self.find(order.0).1.ok_or(BookError::UnknownOrder(order))
    }

    /// Position of `price` in a side's level array: `Ok` if the level exists.
    fn level_position(&self, side_index: usize, side: Side, price: u32) -> Result<usize, usize> {
        let key = price_key(side, price);
        let levels = &self.levels;
        self.sides[side_index]
            .binary_search_by_key(&key, |&level| price_key(side, levels[level as usize].price))
    }

    /// Whether adding at `price` needs a new level that cannot be had.
    fn level_unavailable(&self, side_index: usize, side: Side, price: u32) -> bool {
        if self.level_position(side_index, side, price).is_ok() {
            return false;
        }
        let side_levels = &self.sides[side_index];
        self.level_free == NIL || side_levels.len() == side_levels.capacity()
    }

    fn add(
        &mut self,
        locate: u16,
        order: OrderId,
        side: Side,
        price: u32,
        shares: u32,
    ) -> Result<(), BookError> {
        let side_index = self.side_index(locate, side)?;
        if shares == 0 {
            return Err(BookError::ZeroShares(order));
        }
        if self.find(order.0).1.is_some() {
            return Err(BookError::DuplicateOrder(order));
        }
        if self.order_free == NIL {
            return Err(BookError::OrderCapacity);
        }
        if self.level_unavailable(side_index, side, price) {
            return Err(BookError::LevelCapacity);
        }
        self.insert(locate, order, side, price, shares);
        Ok(())
    }

    /// Inserts a checked order at the back of its level (creating the level).
    fn insert(&mut self, locate: u16, order: OrderId, side: Side, price: u32, shares: u32) {
        let side_index = (usize::from(locate) - 1) * 2 + side.index();
        let level = match self.level_position(side_index, side, price) {
            Ok(position) => self.sides[side_index][position],
            Err(position) => self.new_level(side_index, position, price),
        };
        let slot = self.order_free;
        assert!(slot != NIL);
        self.order_free = self.orders[slot as usize].level;
        let tail = self.levels[level as usize].tail;
        self.orders[slot as usize] = OrderSlot {
            order_ref: order.0,
            price,
            shares,
            locate,
            side,
            level,
            prev: tail,
            next: NIL,
        };
        if tail == NIL {
            self.levels[level as usize].head = slot;
        } else {
            self.orders[tail as usize].next = slot;
        }
        let level_slot = &mut self.levels[level as usize];
        level_slot.tail = slot;
        level_slot.shares += u64::from(shares);
        level_slot.order_count += 1;
        let (position, found) = self.find(order.0);
        assert!(found.is_none());
        self.index[position] = slot;
        self.order_count += 1;
    }

    fn new_level(&mut self, side_index: usize, position: usize, price: u32) -> u32 {
        let level = self.level_free;
        assert!(level != NIL);
        self.level_free = self.levels[level as usize].head;
        self.levels[level as usize] = LevelSlot {
            price,
            shares: 0,
            order_count: 0,
            head: NIL,
            tail: NIL,
        };
        let side_levels = &mut self.sides[side_index];
        assert!(
            side_levels.len() < side_levels.capacity(),
            "no growth after start-up"
        );
        side_levels.insert(position, level);
        self.level_count += 1;
        level
    }

    fn reduce(&mut self, order: OrderId, shares: u32) -> Result<(), BookError> {
        let slot = self.lookup(order)?;
        if shares == 0 {
            return Err(BookError::ZeroShares(order));
        }
        let shown = self.orders[slot as usize].shares;
        if shares > shown {
            return Err(BookError::TooManyShares(order));
        }
        if shares == shown {
            self.remove(slot);
            return Ok(());
        }
        let order_slot = &mut self.orders[slot as usize];
        order_slot.shares -= shares;
        let level = order_slot.level as usize;
        self.levels[level].shares -= u64::from(shares);
        Ok(())
    }

    fn delete(&mut self, order: OrderId) -> Result<(), BookError> {
        let slot = self.lookup(order)?;
        self.remove(slot);
        Ok(())
    }

    fn replace(
        &mut self,
        original: OrderId,
        new: OrderId,
        price: u32,
        shares: u32,
    ) -> Result<(), BookError> {
        let slot = self.lookup(original)?;
        if shares == 0 {
            return Err(BookError::ZeroShares(new));
        }
        if new != original && self.find(new.0).1.is_some() {
            return Err(BookError::DuplicateOrder(new));
        }
        let old = self.orders[slot as usize];
        let side_index = self.side_index(old.locate, old.side)?;
        // Removing the original frees its level when it is the level's only order.
        let frees_level = self.levels[old.level as usize].order_count == 1;
        if !frees_level && self.level_unavailable(side_index, old.side, price) {
            return Err(BookError::LevelCapacity);
        }
        self.remove(slot);
        self.insert(old.locate, new, old.side, price, shares);
        Ok(())
    }

    /// Unlinks a live order, frees its slot, and its level if now empty.
    fn remove(&mut self, slot: u32) {
        let order = self.orders[slot as usize];
        let level = order.level as usize;
        if order.prev == NIL {
            self.levels[level].head = order.next;
        } else {
            self.orders[order.prev as usize].next = order.next;
        }
        if order.next == NIL {
            self.levels[level].tail = order.prev;
        } else {
            self.orders[order.next as usize].prev = order.prev;
        }
        self.levels[level].shares -= u64::from(order.shares);
        self.levels[level].order_count -= 1;
        if self.levels[level].order_count == 0 {
            self.free_level(order.locate, order.side, order.level);
        }
        self.unindex(order.order_ref);
        self.orders[slot as usize].shares = 0;
        self.orders[slot as usize].level = self.order_free;
        self.order_free = slot;
        self.order_count -= 1;
    }

    fn free_level(&mut self, locate: u16, side: Side, level: u32) {
        let side_index = (usize::from(locate) - 1) * 2 + side.index();
        let price = self.levels[level as usize].price;
        let position = self.level_position(side_index, side, price);
        let Ok(position) = position else {
            unreachable!("a live level is in its side's array");
        };
        assert_eq!(self.sides[side_index][position], level);
        self.sides[side_index].remove(position);
        assert_eq!(self.levels[level as usize].shares, 0);
        self.levels[level as usize].head = self.level_free;
        self.level_free = level;
        self.level_count -= 1;
    }

    /// Removes an order reference from the index (backward-shift deletion).
    fn unindex(&mut self, order_ref: u64) {
        let (mut hole, found) = self.find(order_ref);
        assert!(found.is_some());
        let mask = self.index.len() - 1;
        let mut position = (hole + 1) & mask;
        loop {
            let slot = self.index[position];
            if slot == NIL {
                break;
            }
            let home = hash_slot(self.orders[slot as usize].order_ref, mask);
            // Move the entry into the hole unless its home lies cyclically in (hole, position].
            let distance_home = position.wrapping_sub(home) & mask;
            let distance_hole = position.wrapping_sub(hole) & mask;
            if distance_home >= distance_hole {
                self.index[hole] = slot;
                hole = position;
            }
            position = (position + 1) & mask;
        }
        self.index[hole] = NIL;
    }

    /// A live order.
    pub fn order(&self, order: OrderId) -> Option<OrderSnapshot> {
        let slot = self.find(order.0).1?;
        Some(self.snapshot(slot))
    }

    fn snapshot(&self, slot: u32) -> OrderSnapshot {
        let order = &self.orders[slot as usize];
        OrderSnapshot {
            order: OrderId(order.order_ref),
            locate: order.locate,
            side: order.side,
            price: ItchPrice(order.price),
            shares: Qty(order.shares),
        }
    }

    /// Levels of one side, best first. Nothing for an unknown locate.
    pub fn for_each_level(&self, locate: u16, side: Side, mut f: impl FnMut(LevelSnapshot)) {
        let Ok(side_index) = self.side_index(locate, side) else {
            return;
        };
        for &level in &self.sides[side_index] {
            let level = &self.levels[level as usize];
            f(LevelSnapshot {
                price: ItchPrice(level.price),
                shares: level.shares,
                order_count: level.order_count,
            });
        }
    }

    /// Orders of one side in priority: best level first, front to back within a level.
    pub fn for_each_order(&self, locate: u16, side: Side, mut f: impl FnMut(OrderSnapshot)) {
        let Ok(side_index) = self.side_index(locate, side) else {
            return;
        };
        for &level in &self.sides[side_index] {
            let mut slot = self.levels[level as usize].head;
            // Bounded by the order capacity (a cycle would be a broken invariant).
            for _ in 0..self.config.order_capacity {
                if slot == NIL {
                    break;
                }
                f(self.snapshot(slot));
                slot = self.orders[slot as usize].next;
            }
        }
    }

    /// Best level of a side.
    pub fn best(&self, locate: u16, side: Side) -> Option<LevelSnapshot> {
        let mut best = None;
        self.for_each_level(locate, side, |level| {
            if best.is_none() {
                best = Some(level);
            }
        });
        best
    }

    /// Checks every invariant by walking every structure; panics naming the broken one.
    pub fn verify(&self) {
        let mut orders_seen: u32 = 0;
        let mut levels_seen: u32 = 0;
        for locate in 1..=self.config.locate_count {
            for side in [Side::Buy, Side::Sell] {
                let (orders, levels) = self.verify_side(locate, side);
                orders_seen += orders;
                levels_seen += levels;
            }
        }
        assert_eq!(
            orders_seen, self.order_count,
            "orders in levels vs order count"
        );
        assert_eq!(
            levels_seen, self.level_count,
            "levels in sides vs level count"
        );
        let indexed = self.index.iter().filter(|&&slot| slot != NIL).count();
        assert_eq!(
            indexed, self.order_count as usize,
            "index entries vs order count"
        );
        for &slot in self.index.iter().filter(|&&slot| slot != NIL) {
            let order_ref = self.orders[slot as usize].order_ref;
            assert_eq!(
                self.find(order_ref).1,
                Some(slot),
                "index finds order {order_ref}"
            );
        }
    }

    fn verify_side(&self, locate: u16, side: Side) -> (u32, u32) {
        let side_index = (usize::from(locate) - 1) * 2 + side.index();
        let side_levels = &self.sides[side_index];
        let keys = side_levels
            .iter()
            .map(|&level| price_key(side, self.levels[level as usize].price));
        let keys: Vec<u32> = keys.collect();
        assert!(
            keys.windows(2).all(|pair| pair[0] < pair[1]),
            "levels sorted best first"
        );
        let mut order_total = 0;
        for &level in side_levels {
            let level_slot = &self.levels[level as usize];
            let (mut count, mut shares, mut slot, mut prev) = (0u32, 0u64, level_slot.head, NIL);
            while slot != NIL {
                let order = &self.orders[slot as usize];
                assert!(order.shares > 0, "live order has shares");
                assert_eq!(order.level, level, "order points at its level");
                assert_eq!(order.prev, prev, "queue links are symmetric");
                assert_eq!(
                    (order.locate, order.side, order.price),
                    (locate, side, level_slot.price)
                );
                count += 1;
                assert!(count <= self.order_count, "queue has no cycle");
                shares += u64::from(order.shares);
                prev = slot;
                slot = order.next;
            }
            assert_eq!(level_slot.tail, prev, "tail is the last order");
            assert!(count > 0, "no empty level");
            assert_eq!(
                (count, shares),
                (level_slot.order_count, level_slot.shares),
                "level sums"
            );
            order_total += count;
        }
        (
            order_total,
            u32::try_from(side_levels.len()).unwrap_or(u32::MAX),
        )
    }
}

#[cfg(test)]
mod tests;
