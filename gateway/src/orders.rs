//! The per-session order table: what a session remembers about each of its live orders, found by
//! the client's reference (UserRefIdx, UserRefNum) or by the engine's [`OrderId`].
//!
//! Capacity is fixed at construction: a slab of records, a free list, and two open-addressing
//! indexes (linear probing, backward-shift deletion, at most half full). Nothing grows after
//! [`OrderTable::new`]; a full table is reported to the caller, who rejects the order.
//!
//! # Invariants
//! - `len() <= capacity()`; every live record is in the reference index, and in the order index
//!   exactly when its `order` is not [`OrderId::NONE`].
//! - The indexes hold at most `capacity` keys in `2 * capacity` rounded up to a power of two
//!   slots, so every probe loop ends at an empty slot.
//! - Slots in the free list are exactly the slots not in use.

use peregrine_engine::{InstrumentId, OrderId};

use crate::ouch::{Capacity, ClOrdId, Display, Side, TimeInForce};

/// A client's reference: UserRefNum within a UserRefIdx channel (§1.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserRef {
    pub index: u8,
    pub num: u32,
}

impl UserRef {
    /// The engine `client_ref` that carries this reference: `index << 32 | num`.
    pub const fn client_ref(self) -> u64 {
        ((self.index as u64) << 32) | self.num as u64
    }

    /// The reference a `client_ref` carries, `None` if it was not made by [`Self::client_ref`].
    pub fn from_client_ref(client_ref: u64) -> Option<UserRef> {
        let index = u8::try_from(client_ref >> 32).ok()?;
        Some(UserRef {
            index,
            num: (client_ref & u64::from(u32::MAX)) as u32,
        })
    }
}

/// A change that waits for the engine's answer on this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    None,
    /// A Modify Order reduced the order: its `Cancelled` event is answered with Order Modified
    /// carrying this side.
    Modify {
        side: Side,
    },
    /// A Cancel Order arrived before the order was accepted: applied when `Accepted` comes.
    DeferredCancel {
        quantity: u32,
    },
}

/// What a session remembers about one order (to fill outbound fields the engine does not carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    pub user_ref: UserRef,
    /// [`OrderId::NONE`] until the engine accepts it.
    pub order: OrderId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub time_in_force: TimeInForce,
    pub display: Display,
    pub capacity: Capacity,
    pub cl_ord_id: ClOrdId,
    /// Entered with a market price sentinel.
    pub market: bool,
    pub min_qty: u32,
    /// Displayed size of a reserve order as entered (MaxFloor), 0 for none.
    pub max_floor: u32,
    pub post_only: bool,
    /// Open shares (reserve included), from the engine's events.
    pub leaves_qty: u32,
    /// Shares executed on the whole order/replace chain.
    pub executed_qty: u32,
    pub pending: Pending,
}

/// Index of a record in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(u32);

/// The table is full: the order must be rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableFull;

const EMPTY: u32 = u32::MAX;

/// Open-addressing map from a `u64` key to a slot, fixed size, never more than half full.
#[derive(Debug)]
struct FixedIndex {
    keys: Box<[u64]>,
    slots: Box<[u32]>,
    shift: u32,
}

impl FixedIndex {
    fn new(capacity: usize) -> FixedIndex {
        let len = (capacity.max(1) * 2).next_power_of_two();
        FixedIndex {
            keys: vec![0; len].into_boxed_slice(),
            slots: vec![EMPTY; len].into_boxed_slice(),
            shift: 64 - len.trailing_zeros(),
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Fibonacci hashing: the top bits of the key times the golden ratio.
    fn home(&self, key: u64) -> usize {
        if self.shift == 64 {
            return 0;
        }
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Position of `key`, or of the empty slot where it would go.
    fn probe(&self, key: u64) -> (usize, bool) {
        let mut position = self.home(key);
        // Bounded: the table is at most half full, so an empty slot comes within len steps.
        for _ in 0..self.slots.len() {
            if self.slots[position] == EMPTY {
                return (position, false);
            }
            if self.keys[position] == key {
                return (position, true);
            }
            position = (position + 1) & self.mask();
        }
        unreachable!("index has no empty slot: it is never more than half full");
    }

    fn get(&self, key: u64) -> Option<u32> {
        let (position, found) = self.probe(key);
        found.then(|| self.slots[position])
    }

    fn insert(&mut self, key: u64, slot: u32) {
        assert_ne!(slot, EMPTY);
        let (position, found) = self.probe(key);
        assert!(!found, "key already indexed");
        self.keys[position] = key;
        self.slots[position] = slot;
    }

    fn remove(&mut self, key: u64) -> Option<u32> {
        let (mut hole, found) = self.probe(key);
        if !found {
            return None;
        }
        let removed = self.slots[hole];
        self.slots[hole] = EMPTY;
        let mut next = hole;
        // Backward shift: pull later entries of the same probe run into the hole.
        for _ in 0..self.slots.len() {
            next = (next + 1) & self.mask();
            if self.slots[next] == EMPTY {
                break;
            }
            let home = self.home(self.keys[next]);
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                self.keys[hole] = self.keys[next];
                self.slots[hole] = self.slots[next];
                self.slots[next] = EMPTY;
                hole = next;
            }
        }
        Some(removed)
    }
}

/// Fixed-capacity table of a session's live orders.
#[derive(Debug)]
pub struct OrderTable {
    records: Box<[Option<OrderRecord>]>,
    free: Vec<u32>,
    by_ref: FixedIndex,
    by_order: FixedIndex,
}

impl OrderTable {
    /// A table for at most `capacity` live orders; all memory is taken here.
    pub fn new(capacity: u32) -> OrderTable {
        let len = capacity as usize;
        OrderTable {
            records: vec![None; len].into_boxed_slice(),
            free: (0..capacity).rev().collect(),
            by_ref: FixedIndex::new(len),
            by_order: FixedIndex::new(len),
        }
    }

    pub fn capacity(&self) -> usize {
        self.records.len()
    }

    pub fn len(&self) -> usize {
        self.records.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a record (its reference must be new). Its `order` may already be set.
    pub fn insert(&mut self, record: OrderRecord) -> Result<Slot, TableFull> {
        assert!(
            self.by_ref.get(record.user_ref.client_ref()).is_none(),
            "reference in use"
        );
        let slot = self.free.pop().ok_or(TableFull)?;
        let index = slot as usize;
        assert!(self.records[index].is_none());
        self.by_ref.insert(record.user_ref.client_ref(), slot);
        if record.order != OrderId::NONE {
            self.by_order.insert(record.order.0, slot);
        }
        self.records[index] = Some(record);
        Ok(Slot(slot))
    }

    pub fn find_ref(&self, user_ref: UserRef) -> Option<Slot> {
        self.by_ref.get(user_ref.client_ref()).map(Slot)
    }

    pub fn find_order(&self, order: OrderId) -> Option<Slot> {
        if order == OrderId::NONE {
            return None;
        }
        self.by_order.get(order.0).map(Slot)
    }

    pub fn get(&self, slot: Slot) -> &OrderRecord {
        self.records[slot.0 as usize].as_ref().expect("slot in use")
    }

    pub fn get_mut(&mut self, slot: Slot) -> &mut OrderRecord {
        self.records[slot.0 as usize].as_mut().expect("slot in use")
    }

    /// Gives a record its engine order id (it had none).
    pub fn bind_order(&mut self, slot: Slot, order: OrderId) {
        assert_ne!(order, OrderId::NONE);
        let record = self.get_mut(slot);
        assert_eq!(record.order, OrderId::NONE, "order already bound");
        record.order = order;
        self.by_order.insert(order.0, slot.0);
    }

    /// Removes a record and returns it.
    pub fn remove(&mut self, slot: Slot) -> OrderRecord {
        let record = self.records[slot.0 as usize].take().expect("slot in use");
        let removed = self.by_ref.remove(record.user_ref.client_ref());
        assert_eq!(removed, Some(slot.0));
        if record.order != OrderId::NONE {
            let removed = self.by_order.remove(record.order.0);
            assert_eq!(removed, Some(slot.0));
        }
        assert!(self.free.len() < self.records.len());
        self.free.push(slot.0);
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn record(num: u32, order: u64) -> OrderRecord {
        OrderRecord {
            user_ref: UserRef {
                index: (num % 3) as u8,
                num,
            },
            order: OrderId(order),
            instrument: InstrumentId(0),
            side: Side::Buy,
            time_in_force: TimeInForce::Day,
            display: Display::Visible,
            capacity: Capacity::Agency,
            cl_ord_id: [b' '; 14],
            market: false,
            min_qty: 0,
            max_floor: 0,
            post_only: false,
            leaves_qty: 1,
            executed_qty: 0,
            pending: Pending::None,
        }
    }

    #[test]
    fn full_table_refuses_and_frees_on_remove() {
        let mut table = OrderTable::new(2);
        let first = table.insert(record(1, 10)).unwrap();
        table.insert(record(2, 0)).unwrap();
        assert_eq!(table.insert(record(3, 0)), Err(TableFull));
        assert_eq!(table.remove(first).user_ref.num, 1);
        assert!(table.find_order(OrderId(10)).is_none());
        let third = table.insert(record(3, 0)).unwrap();
        table.bind_order(third, OrderId(30));
        assert_eq!(table.find_order(OrderId(30)), Some(third));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn client_ref_round_trips() {
        let user_ref = UserRef {
            index: 200,
            num: u32::MAX,
        };
        assert_eq!(
            UserRef::from_client_ref(user_ref.client_ref()),
            Some(user_ref)
        );
        assert_eq!(UserRef::from_client_ref(1 << 40), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The table agrees with a `BTreeMap` model under random inserts and removes, with keys
        /// drawn from a small range so probe runs collide and wrap.
        #[test]
        fn agrees_with_a_model(ops in proptest::collection::vec((any::<bool>(), 1u32..40), 1..300)) {
            let mut table = OrderTable::new(16);
            let mut model: BTreeMap<u32, u64> = BTreeMap::new();
            for (insert, num) in ops {
                let user_ref = UserRef { index: (num % 3) as u8, num };
                if insert && !model.contains_key(&num) {
                    let result = table.insert(record(num, u64::from(num) * 7));
                    if model.len() < 16 {
                        prop_assert!(result.is_ok());
                        model.insert(num, u64::from(num) * 7);
                    } else {
                        prop_assert_eq!(result, Err(TableFull));
                    }
                } else if !insert {
                    let slot = table.find_ref(user_ref);
                    prop_assert_eq!(slot.is_some(), model.contains_key(&num));
                    if let Some(slot) = slot {
                        prop_assert_eq!(table.remove(slot).user_ref, user_ref);
                        model.remove(&num);
                    }
                }
                prop_assert_eq!(table.len(), model.len());
                for (&num, &order) in &model {
                    let by_ref = table.find_ref(UserRef { index: (num % 3) as u8, num });
                    prop_assert!(by_ref.is_some());
                    prop_assert_eq!(table.find_order(OrderId(order)), by_ref);
                }
            }
        }
    }
}
