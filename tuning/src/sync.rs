//! The shared-memory primitives the ring is built on, switched to loom's model-checked versions
//! when the crate is built with `RUSTFLAGS="--cfg loom"`.
//!
//! Loom only sees what goes through its types. The atomics and the `Arc` are swapped directly.
//! The record slots stay plain `std::cell::UnsafeCell` in both builds, because the consumer hands
//! out `&[T]` slices over several slots and loom's cell cannot be viewed as a slice. Instead,
//! [`SlotTracker`] keeps one loom cell per slot, and the ring reports every slot write and read to
//! it: loom then checks that each read of a slot happens-after the write that filled it and that
//! each rewrite happens-after the reads of the previous record. In normal builds the tracker is
//! an empty struct and its methods compile to nothing.
//!
//! # Invariants
//! - Normal builds: `SlotTracker` is zero-sized and does no work.
//! - Loom builds: the ring calls `note_write(slot_index)` for every slot it writes and
//!   `note_read(slot_index)` at the start and at the end of every window in which it reads a slot.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

/// Tells loom about accesses to the ring's slots (see the module docs); empty in normal builds.
pub(crate) struct SlotTracker {
    #[cfg(loom)]
    cells: Box<[loom::cell::UnsafeCell<()>]>,
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<SlotTracker>() == 0);

impl SlotTracker {
    /// A tracker for `capacity_records` slots.
    #[cfg(not(loom))]
    pub(crate) fn new(_capacity_records: usize) -> Self {
        SlotTracker {}
    }

    /// A tracker for `capacity_records` slots.
    #[cfg(loom)]
    pub(crate) fn new(capacity_records: usize) -> Self {
        let cells = (0..capacity_records)
            .map(|_| loom::cell::UnsafeCell::new(()))
            .collect();
        SlotTracker { cells }
    }

    /// Records a write of slot `slot_index`; loom fails the model if a read of it may race.
    #[inline(always)]
    pub(crate) fn note_write(&self, slot_index: usize) {
        #[cfg(loom)]
        self.cells[slot_index].with_mut(|_| ());
        #[cfg(not(loom))]
        let _ = slot_index;
    }

    /// Records a read of slot `slot_index`; loom fails the model if a write of it may race.
    #[inline(always)]
    pub(crate) fn note_read(&self, slot_index: usize) {
        #[cfg(loom)]
        self.cells[slot_index].with(|_| ());
        #[cfg(not(loom))]
        let _ = slot_index;
    }

    /// Records reads of `len` slots from `start_index` on, wrapping past the last slot.
    #[inline(always)]
    pub(crate) fn note_read_run(&self, start_index: usize, len: usize) {
        #[cfg(loom)]
        for offset in 0..len {
            self.note_read((start_index + offset) % self.cells.len());
        }
        #[cfg(not(loom))]
        let _ = (start_index, len);
    }
}
