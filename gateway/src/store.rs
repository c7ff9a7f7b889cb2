//! An in-memory store of a SoupBinTCP session's sequenced messages, for tests and tools.
//!
//! The session layer does not call a store: it says which sequence number it wants next
//! ([`crate::session::ServerSession::sequenced_wanted`]) and the caller fetches that message
//! from whatever store it has (this ring in tests, the journal-backed store in the node) and
//! hands it to `transmit_sequenced`. So a store is just: append gives the next sequence number,
//! `get(seq)` gives the bytes while they are retained.
//!
//! # Invariants
//! - Sequence numbers start at 1 and have no gaps; `first_seq() <= next_seq()`.
//! - The ring holds the newest `capacity` messages, each at most `message_len_max` bytes, in
//!   memory taken by [`RingStore::new`]; appending never allocates.

/// Why a message cannot be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Longer than the store's slot size.
    TooLong { len: usize, max: usize },
}

/// A fixed ring of the newest sequenced messages.
#[derive(Debug)]
pub struct RingStore {
    /// `capacity` slots of `message_len_max` bytes each.
    bytes: Box<[u8]>,
    /// Length of the message in each slot.
    lens: Box<[u16]>,
    message_len_max: usize,
    /// Oldest retained sequence number (== `next_seq` when empty).
    first_seq: u64,
    /// Sequence number the next append gets.
    next_seq: u64,
}

impl RingStore {
    /// A store for the newest `capacity` messages of at most `message_len_max` bytes.
    pub fn new(capacity: usize, message_len_max: u16) -> RingStore {
        assert!(capacity > 0);
        let message_len_max = usize::from(message_len_max);
        RingStore {
            bytes: vec![0; capacity * message_len_max].into_boxed_slice(),
            lens: vec![0; capacity].into_boxed_slice(),
            message_len_max,
            first_seq: 1,
            next_seq: 1,
        }
    }

    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Oldest sequence number still held.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Sequence number the next message will get (one past the newest).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn slot(&self, seq: u64) -> usize {
        ((seq - 1) % self.lens.len() as u64) as usize
    }

    /// Stores a message, dropping the oldest when full; returns its sequence number.
    pub fn append(&mut self, message: &[u8]) -> Result<u64, StoreError> {
        let max = self.message_len_max;
        if message.len() > max {
            return Err(StoreError::TooLong {
                len: message.len(),
                max,
            });
        }
        let seq = self.next_seq;
        let slot = self.slot(seq);
        self.bytes[slot * max..slot * max + message.len()].copy_from_slice(message);
        self.lens[slot] = message.len() as u16;
        self.next_seq += 1;
        if self.next_seq - self.first_seq > self.lens.len() as u64 {
            self.first_seq += 1;
        }
        assert!(self.next_seq - self.first_seq <= self.lens.len() as u64);
        Ok(seq)
    }

    /// The message with this sequence number, while it is retained.
    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        if seq < self.first_seq || seq >= self.next_seq {
            return None;
        }
        let slot = self.slot(seq);
        let start = slot * self.message_len_max;
        Some(&self.bytes[start..start + usize::from(self.lens[slot])])
    }

    /// Where a login asking for `requested_seq` starts: 0 (or a number past the newest) means
    /// the next live message; a number older than the oldest retained starts at the oldest.
    pub fn resolve_requested_seq(&self, requested_seq: u64) -> u64 {
        if requested_seq == 0 || requested_seq > self.next_seq {
            self.next_seq
        } else {
            requested_seq.max(self.first_seq)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_messages() {
        let mut store = RingStore::new(2, 4);
        assert_eq!(store.append(b"a"), Ok(1));
        assert_eq!(store.append(b"bb"), Ok(2));
        assert_eq!(store.append(b"ccc"), Ok(3));
        assert_eq!(store.get(1), None);
        assert_eq!(store.get(2), Some(&b"bb"[..]));
        assert_eq!(store.get(3), Some(&b"ccc"[..]));
        assert_eq!(store.get(4), None);
        assert_eq!((store.first_seq(), store.next_seq()), (2, 4));
        assert_eq!(
            store.append(b"toolong"),
            Err(StoreError::TooLong { len: 7, max: 4 })
        );
        assert_eq!(store.resolve_requested_seq(0), 4);
        assert_eq!(store.resolve_requested_seq(1), 2);
        assert_eq!(store.resolve_requested_seq(3), 3);
        assert_eq!(store.resolve_requested_seq(99), 4);
    }
}
