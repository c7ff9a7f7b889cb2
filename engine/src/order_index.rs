//! Fixed-capacity map from [`OrderId`] to the order's arena slot: open addressing with linear
//! probing and backward-shift deletion, Fibonacci hashing with a fixed multiplier.
//!
//! Why not `HashMap`: its default hasher is seeded at random (the determinism contract forbids
//! it) and it grows. This table is sized once, at twice the order capacity rounded up to a power
//! of two, so the load factor stays ≤ 0.5 and probes stay short; it never allocates after `new`.
//!
//! # Invariants
//! - Key 0 marks an empty bucket (`OrderId(0)` is never a live order).
//! - Every live key sits in the probe run that starts at its home bucket, with no empty bucket
//!   between home and it (backward-shift deletion keeps this).
//! - `len <= capacity / 2`.

use crate::types::OrderId;

const EMPTY: u64 = 0;

/// One bucket: the key and its slot side by side, so a probe touches one cache line.
#[derive(Clone, Copy)]
struct Bucket {
    key: u64,
    slot: u32,
}

pub(crate) struct OrderIndex {
    buckets: Box<[Bucket]>,
    /// `buckets.len() - 1`; the length is a power of two.
    mask: usize,
    /// `64 - log2(buckets.len())`: Fibonacci hashing keeps the top bits.
    shift: u32,
    len: usize,
}

impl OrderIndex {
    pub(crate) fn new(max_len: usize) -> OrderIndex {
        let bucket_count = (max_len.max(1) * 2).next_power_of_two();
        OrderIndex {
            buckets: vec![
                Bucket {
                    key: EMPTY,
                    slot: 0
                };
                bucket_count
            ]
            .into_boxed_slice(),
            mask: bucket_count - 1,
            shift: 64 - bucket_count.trailing_zeros(),
            len: 0,
        }
    }

    fn home(&self, key: u64) -> usize {
        // The top bits of the product; `shift < 64` because there are at least 2 buckets.
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, id: OrderId) -> Option<u32> {
        if id.0 == EMPTY {
            return None;
        }
        let mut bucket = self.home(id.0);
        // Bounded: the table is at most half full, so an empty bucket ends every probe run.
        for _ in 0..self.buckets.len() {
            let Bucket { key, slot } = self.buckets[bucket];
            if key == id.0 {
                return Some(slot);
            }
            if key == EMPTY {
                return None;
            }
            bucket = (bucket + 1) & self.mask;
        }
        None
    }

    /// Inserts a key that is not present. The caller bounds `len` by the order capacity.
    pub(crate) fn insert(&mut self, id: OrderId, slot: u32) {
        assert!(id.0 != EMPTY);
        assert!(
            self.len < self.buckets.len() / 2,
            "order index over its load bound"
        );
        let mut bucket = self.home(id.0);
        while self.buckets[bucket].key != EMPTY {
            assert!(self.buckets[bucket].key != id.0, "order id inserted twice");
            bucket = (bucket + 1) & self.mask;
        }
        self.buckets[bucket] = Bucket { key: id.0, slot };
        self.len += 1;
    }

    fn find(&self, id: OrderId) -> Option<usize> {
        let mut bucket = self.home(id.0);
        for _ in 0..self.buckets.len() {
            if self.buckets[bucket].key == id.0 {
                return Some(bucket);
            }
            if self.buckets[bucket].key == EMPTY {
                return None;
            }
            bucket = (bucket + 1) & self.mask;
        }
        None
    }

    /// Removes a present key, shifting later members of its probe run back.
    pub(crate) fn remove(&mut self, id: OrderId) {
        let mut hole = self.find(id).expect("order index removal of a missing id");
        let mut next = (hole + 1) & self.mask;
        while self.buckets[next].key != EMPTY {
            let home = self.home(self.buckets[next].key);
            // `next` may move into `hole` only if its home is not in (hole, next] cyclically.
            let distance_to_next = next.wrapping_sub(home) & self.mask;
            let distance_to_hole = hole.wrapping_sub(home) & self.mask;
            if distance_to_hole < distance_to_next {
                self.buckets[hole] = self.buckets[next];
                hole = next;
            }
            next = (next + 1) & self.mask;
        }
        self.buckets[hole].key = EMPTY;
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_vec_model_under_churn() {
        let capacity = 300;
        let mut index = OrderIndex::new(capacity);
        let mut model: Vec<(u64, u32)> = Vec::new();
        let mut next_id = 1u64;
        let mut state: u64 = 88172645463325252;
        for step in 0..50_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let insert = model.len() < capacity && (model.is_empty() || !state.is_multiple_of(3));
            if insert {
                index.insert(OrderId(next_id), step);
                model.push((next_id, step));
                next_id += 1 + state % 4;
            } else {
                let position = (state >> 16) as usize % model.len();
                let (id, _) = model.swap_remove(position);
                index.remove(OrderId(id));
            }
            assert_eq!(index.len(), model.len());
            if step % 97 == 0 {
                for &(id, slot) in &model {
                    assert_eq!(index.get(OrderId(id)), Some(slot));
                }
                assert_eq!(index.get(OrderId(next_id)), None);
            }
        }
        assert_eq!(index.get(OrderId(0)), None);
    }
}
