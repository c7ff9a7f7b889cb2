//! Fixed-capacity tables of the FIX order entry: a slab of order records with a free list and
//! three open-addressing indexes (linear probing, backward-shift deletion, at most half full):
//! by engine `OrderId`, by live ClOrdID, and the insert-only set of every ClOrdID the session
//! has used (idempotency).
//!
//! (`orders::OrderTable` has the same index for OUCH but keeps it private to its file; the
//! FIX records differ, so the small index is written here once more.)
//!
//! # Invariants
//! - Each index holds at most `capacity` keys in `2 * capacity` rounded up to a power of two
//!   slots, so every probe ends at an empty slot; inserting into a full index is refused.
//! - A live slot is in the free list exactly when it is not in use.

use super::session::Text;

const EMPTY: u32 = u32::MAX;

/// Open-addressing map from a `u64` key to a `u32` value.
#[derive(Debug)]
pub(crate) struct U64Index {
    keys: Box<[u64]>,
    values: Box<[u32]>,
    len: usize,
    capacity: usize,
}

impl U64Index {
    pub(crate) fn new(capacity: usize) -> U64Index {
        let slots = (capacity.max(1) * 2).next_power_of_two();
        U64Index {
            keys: vec![0; slots].into_boxed_slice(),
            values: vec![EMPTY; slots].into_boxed_slice(),
            len: 0,
            capacity: capacity.max(1),
        }
    }

    fn home(&self, key: u64) -> usize {
        let bits = self.values.len().trailing_zeros();
        if bits == 0 {
            return 0;
        }
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// Position of `key`, or of the empty slot where it would go.
    fn probe(&self, key: u64) -> (usize, bool) {
        let mask = self.values.len() - 1;
        let mut position = self.home(key);
        // Bounded: at most half full, an empty slot comes within len steps.
        for _ in 0..self.values.len() {
            if self.values[position] == EMPTY {
                return (position, false);
            }
            if self.keys[position] == key {
                return (position, true);
            }
            position = (position + 1) & mask;
        }
        (position, false)
    }

    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        let (position, found) = self.probe(key);
        found.then(|| self.values[position])
    }

    /// Inserts or overwrites; `false` when the index is full.
    pub(crate) fn insert(&mut self, key: u64, value: u32) -> bool {
        assert!(value != EMPTY);
        let (position, found) = self.probe(key);
        if !found {
            if self.len == self.capacity {
                return false;
            }
            self.len += 1;
        }
        self.keys[position] = key;
        self.values[position] = value;
        true
    }

    pub(crate) fn remove(&mut self, key: u64) -> Option<u32> {
        let (mut hole, found) = self.probe(key);
        if !found {
            return None;
        }
        let value = self.values[hole];
        self.values[hole] = EMPTY;
        self.len -= 1;
        let mask = self.values.len() - 1;
        let mut position = hole;
        // Backward shift: move later members of the run into the hole when their home
        // allows, so every remaining key stays reachable from its home.
        for _ in 0..self.values.len() {
            position = (position + 1) & mask;
            if self.values[position] == EMPTY {
                break;
            }
            let home = self.home(self.keys[position]);
            let distance_here = position.wrapping_sub(home) & mask;
            let distance_hole = hole.wrapping_sub(home) & mask;
            if distance_hole <= distance_here {
                self.keys[hole] = self.keys[position];
                self.values[hole] = self.values[position];
                self.values[position] = EMPTY;
                hole = position;
            }
        }
        Some(value)
    }
}

/// FNV-1a of a ClOrdID, the key of the ClOrdID indexes (full keys are compared after).
pub(crate) fn text_key(text: &Text) -> u64 {
    text.as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// Every ClOrdID used in the session (never shrinks until a new day's state).
#[derive(Debug)]
pub(crate) struct SeenIds {
    index: U64Index,
    ids: Box<[Text]>,
    len: usize,
}

/// The set is full: no new ClOrdID can be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Full;

impl SeenIds {
    pub(crate) fn new(capacity: usize) -> SeenIds {
        SeenIds {
            index: U64Index::new(capacity),
            ids: vec![Text::EMPTY; capacity.max(1)].into_boxed_slice(),
            len: 0,
        }
    }

    /// Adds `id`; `Ok(false)` when it was there already (a duplicate).
    pub(crate) fn insert(&mut self, id: &Text) -> Result<bool, Full> {
        // Collisions of the 64-bit hash chain through `key + 1`, `key + 2`, … (bounded by len).
        let mut key = text_key(id);
        for _ in 0..=self.len {
            match self.index.get(key) {
                None => break,
                Some(at) if self.ids[at as usize] == *id => return Ok(false),
                Some(_) => key = key.wrapping_add(1),
            }
        }
        if self.len == self.ids.len() {
            return Err(Full);
        }
        if !self.index.insert(key, self.len as u32) {
            return Err(Full);
        }
        self.ids[self.len] = *id;
        self.len += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_insert_get_remove_keeps_every_key_reachable() {
        let mut index = U64Index::new(64);
        for key in 0..64u64 {
            assert!(index.insert(key * 7919, key as u32));
        }
        assert!(!index.insert(1_000_000, 1), "full at capacity");
        for key in (0..64u64).step_by(3) {
            assert_eq!(index.remove(key * 7919), Some(key as u32));
        }
        for key in 0..64u64 {
            let expected = (key % 3 != 0).then_some(key as u32);
            assert_eq!(index.get(key * 7919), expected, "key {key}");
        }
    }

    #[test]
    fn seen_ids_find_duplicates() {
        let mut seen = SeenIds::new(4);
        let a = Text::new(b"A").expect("text");
        let b = Text::new(b"B").expect("text");
        assert_eq!(seen.insert(&a), Ok(true));
        assert_eq!(seen.insert(&a), Ok(false));
        assert_eq!(seen.insert(&b), Ok(true));
        for name in [&b"C"[..], b"D"] {
            assert_eq!(seen.insert(&Text::new(name).expect("text")), Ok(true));
        }
        assert_eq!(seen.insert(&Text::new(b"E").expect("text")), Err(Full));
    }
}
