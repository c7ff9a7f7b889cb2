//! A dense tick ladder: one slot per price step of an instrument's band, with a two-level bitmap
//! of occupied slots so the best price is found in a few word scans.
//!
//! Why this structure: prices cluster near the touch, the band is bounded by configuration, and
//! a slot per tick turns "find the level at price p" into one index computation. The bitmap
//! makes "find the next occupied level after the best one emptied" cost
//! O(ladder_len / 4096) word reads in the worst case and one or two in the common case.
//!
//! # Invariants
//! - `slots[i] != NIL` ⇔ bit `i` of `words` is set.
//! - Bit `w` of `summary` is set ⇔ `words[w] != 0`.
//! - Indices passed in are `< len()`; violating that is a programmer error (assert).

/// Sentinel for "no index" in every `u32` link of the engine.
pub(crate) const NIL: u32 = u32::MAX;

const BITS: usize = 64;

pub(crate) struct Ladder {
    /// Level arena index per price step, or `NIL`.
    slots: Box<[u32]>,
    /// One bit per slot: occupied.
    words: Box<[u64]>,
    /// One bit per word of `words`: that word is non-zero.
    summary: Box<[u64]>,
}

impl Ladder {
    pub(crate) fn new(len: usize) -> Ladder {
        assert!(len > 0);
        let word_count = len.div_ceil(BITS);
        let summary_count = word_count.div_ceil(BITS);
        Ladder {
            slots: vec![NIL; len].into_boxed_slice(),
            words: vec![0; word_count].into_boxed_slice(),
            summary: vec![0; summary_count].into_boxed_slice(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn get(&self, index: usize) -> u32 {
        self.slots[index]
    }

    /// Occupies slot `index` with `level`; the slot must be free.
    pub(crate) fn occupy(&mut self, index: usize, level: u32) {
        assert!(level != NIL);
        assert!(self.slots[index] == NIL, "ladder slot already occupied");
        self.slots[index] = level;
        let word = index / BITS;
        self.words[word] |= 1 << (index % BITS);
        self.summary[word / BITS] |= 1 << (word % BITS);
    }

    /// Frees slot `index`; the slot must be occupied.
    pub(crate) fn vacate(&mut self, index: usize) {
        assert!(self.slots[index] != NIL, "ladder slot already free");
        self.slots[index] = NIL;
        let word = index / BITS;
        self.words[word] &= !(1 << (index % BITS));
        if self.words[word] == 0 {
            self.summary[word / BITS] &= !(1 << (word % BITS));
        }
    }

    /// Highest occupied index `<= index`.
    pub(crate) fn highest_at_or_below(&self, index: usize) -> Option<usize> {
        debug_assert!(index < self.len());
        let word = index / BITS;
        let bits = self.words[word] & mask_at_or_below(index % BITS);
        if bits != 0 {
            return Some(word * BITS + highest_bit(bits));
        }
        let below = self.highest_word_below(word)?;
        Some(below * BITS + highest_bit(self.words[below]))
    }

    /// Lowest occupied index `>= index`.
    pub(crate) fn lowest_at_or_above(&self, index: usize) -> Option<usize> {
        debug_assert!(index < self.len());
        let word = index / BITS;
        let bits = self.words[word] & !mask_below(index % BITS);
        if bits != 0 {
            return Some(word * BITS + lowest_bit(bits));
        }
        let above = self.lowest_word_above(word)?;
        Some(above * BITS + lowest_bit(self.words[above]))
    }

    /// Highest non-zero word index `< word`.
    fn highest_word_below(&self, word: usize) -> Option<usize> {
        if word == 0 {
            return None;
        }
        let last = word - 1;
        let mut group = last / BITS;
        let mut bits = self.summary[group] & mask_at_or_below(last % BITS);
        loop {
            if bits != 0 {
                return Some(group * BITS + highest_bit(bits));
            }
            if group == 0 {
                return None;
            }
            group -= 1;
            bits = self.summary[group];
        }
    }

    /// Lowest non-zero word index `> word`.
    fn lowest_word_above(&self, word: usize) -> Option<usize> {
        let first = word + 1;
        if first >= self.words.len() {
            return None;
        }
        let mut group = first / BITS;
        let mut bits = self.summary[group] & !mask_below(first % BITS);
        loop {
            if bits != 0 {
                return Some(group * BITS + lowest_bit(bits));
            }
            group += 1;
            if group >= self.summary.len() {
                return None;
            }
            bits = self.summary[group];
        }
    }

    /// Checks the bitmap invariants against the slots (walks everything: tests only).
    pub(crate) fn verify(&self) {
        for (index, &slot) in self.slots.iter().enumerate() {
            let bit = self.words[index / BITS] & (1 << (index % BITS)) != 0;
            assert_eq!(
                bit,
                slot != NIL,
                "ladder bit {index} disagrees with its slot"
            );
        }
        for (word, &bits) in self.words.iter().enumerate() {
            let summary_bit = self.summary[word / BITS] & (1 << (word % BITS)) != 0;
            assert_eq!(summary_bit, bits != 0, "ladder summary bit {word} is stale");
        }
    }
}

/// Bits `0..=bit`.
fn mask_at_or_below(bit: usize) -> u64 {
    if bit == BITS - 1 {
        u64::MAX
    } else {
        (1u64 << (bit + 1)) - 1
    }
}

/// Bits `0..bit`.
fn mask_below(bit: usize) -> u64 {
    (1u64 << bit) - 1
}

fn highest_bit(bits: u64) -> usize {
    debug_assert!(bits != 0);
    BITS - 1 - bits.leading_zeros() as usize
}

fn lowest_bit(bits: u64) -> usize {
    debug_assert!(bits != 0);
    bits.trailing_zeros() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares the ladder's searches with a linear scan over a model set after every change.
    #[test]
    fn searches_agree_with_linear_scan() {
        let len = 64 * 64 * 2 + 37;
        let mut ladder = Ladder::new(len);
        let mut occupied = vec![false; len];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Cluster around a few hot spots plus the edges, as prices do.
            let index = match state % 4 {
                0 => (state >> 8) as usize % len,
                1 => len - 1 - (state >> 8) as usize % 3,
                2 => (state >> 8) as usize % 3,
                _ => 4096 + (state >> 8) as usize % 200,
            };
            if occupied[index] {
                ladder.vacate(index);
            } else {
                ladder.occupy(index, step);
            }
            occupied[index] = !occupied[index];
            let probe = (state >> 32) as usize % len;
            let expect_below = (0..=probe).rev().find(|&i| occupied[i]);
            let expect_above = (probe..len).find(|&i| occupied[i]);
            assert_eq!(ladder.highest_at_or_below(probe), expect_below);
            assert_eq!(ladder.lowest_at_or_above(probe), expect_above);
        }
        ladder.verify();
    }

    #[test]
    fn empty_and_single_slot_ladders() {
        let mut ladder = Ladder::new(1);
        assert_eq!(ladder.highest_at_or_below(0), None);
        assert_eq!(ladder.lowest_at_or_above(0), None);
        ladder.occupy(0, 7);
        assert_eq!(ladder.highest_at_or_below(0), Some(0));
        assert_eq!(ladder.lowest_at_or_above(0), Some(0));
        assert_eq!(ladder.get(0), 7);
        ladder.vacate(0);
        assert_eq!(ladder.get(0), NIL);
        ladder.verify();
    }
}
