//! A bounded, lock-free, single-producer single-consumer ring of fixed-size `Copy` records.
//!
//! This is the pipe between pipeline stages (gateway RX → core → gateway TX / feed). It owns one
//! buffer of `capacity` slots, allocated by [`channel`] and never grown, and two counters,
//! `read_count` and `written_count`:
//!
//! ```text
//!           0    1    2    3    4    5    6    7     slot index (capacity 8, mask 7)
//!         ┌────┬────┬────┬────┬────┬────┬────┬────┐
//!         │ p  │ p  │ c  │ c  │ c  │ p  │ p  │ p  │   c: published, the consumer's to read
//!         └────┴────┴────┴────┴────┴────┴────┴────┘   p: free, the producer's to write
//!                     ▲              ▲
//!                     │              └─ written_count & 7 = 5: the next slot to write
//!                     └─ read_count & 7 = 2: the next slot to read
//! ```
//!
//! The counters are totals since start-up ("records ever published", "records ever released"),
//! not slot indices, so `written_count - read_count` is the fill level with no full/empty
//! ambiguity; slot indices are taken from them with a mask.
//!
//! **The pairing.** The producer writes slots, then stores `written_count` with `Release`; the
//! consumer loads it with `Acquire` before reading those slots. Symmetrically, the consumer reads
//! slots, then stores `read_count` with `Release`; the producer loads it with `Acquire` before
//! overwriting them. Each side keeps a private copy of the other side's counter and reloads the
//! shared one only when its copy says "full" (producer) or "empty" (consumer), so in steady flow
//! neither side touches the other's cache line. Each counter sits on its own 128-byte line (two
//! 64-byte lines, because x86 prefetches lines in adjacent pairs).
//!
//! **Batching.** [`Producer::write_slots`] reserves several slots that the caller fills in place,
//! and [`WriteChunk::commit`] publishes them with one `Release` store; [`Consumer::read_chunk`]
//! lends published records as slices and [`ReadChunk::release`] frees them with one store.
//!
//! Waiting is the caller's policy (see [`crate::wait`]): a push on a full ring and a pop on an
//! empty ring return at once.
//!
//! # Invariants
//! - `capacity` is a power of two in `1..=MAX_CAPACITY_RECORDS`; `mask = capacity - 1`.
//! - `0 <= written_count - read_count <= capacity` (wrapping subtraction) at all times, and also
//!   between either side's private copy of the other counter and its own counter.
//! - Only the producer stores `written_count`; only the consumer stores `read_count`. Both only
//!   grow (modulo `usize` wrap-around, which the mask makes harmless since `capacity` divides
//!   `2^usize::BITS`).
//! - Slots `read_count..written_count` hold initialised records and belong to the consumer; all
//!   other slots belong to the producer. A side touches only the slots that belong to it.
//! - Nothing is allocated after [`channel`] returns. `T: Copy`, so no record needs dropping.
//!
//! # Panic contract
//! [`channel`] reports a bad capacity as a [`CapacityError`]. No method panics on a full or empty
//! ring. The only panics are caller bugs, checked with `assert!` in every build: committing more
//! records than a [`WriteChunk`] holds, releasing more than a [`ReadChunk`] lends, or a
//! [`WriteChunk::push_with`] closure returning a reference that is not its slot.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;
use std::slice;

use crate::sync::{Arc, AtomicUsize, Ordering, SlotTracker};

/// The largest capacity [`channel`] accepts, in records (2^30).
pub const MAX_CAPACITY_RECORDS: usize = 1 << 30;

// The counters wrap modulo 2^usize::BITS; the fill level stays unambiguous while capacity is at
// most half of that range.
const _: () = assert!(MAX_CAPACITY_RECORDS <= usize::MAX / 2);
const _: () = assert!(MAX_CAPACITY_RECORDS.is_power_of_two());

/// Why [`channel`] refused a capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityError {
    /// The capacity is zero or not a power of two.
    NotPowerOfTwo {
        /// The capacity asked for, in records.
        capacity_records: usize,
    },
    /// The capacity is above [`MAX_CAPACITY_RECORDS`].
    TooLarge {
        /// The capacity asked for, in records.
        capacity_records: usize,
    },
    /// The allocator could not provide the buffer.
    OutOfMemory {
        /// The capacity asked for, in records.
        capacity_records: usize,
    },
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CapacityError::NotPowerOfTwo { capacity_records } => write!(
                f,
                "ring capacity {capacity_records} records is not a power of two"
            ),
            CapacityError::TooLarge { capacity_records } => write!(
                f,
                "ring capacity {capacity_records} records is above the maximum {MAX_CAPACITY_RECORDS}"
            ),
            CapacityError::OutOfMemory { capacity_records } => write!(
                f,
                "no memory for a ring of {capacity_records} records"
            ),
        }
    }
}

impl std::error::Error for CapacityError {}

/// The ring was full; the record that could not be pushed is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ring is full")
    }
}

impl<T: fmt::Debug> std::error::Error for Full<T> {}

/// A counter alone on a 128-byte line, so the two sides' stores never share a cache line.
#[repr(align(128))]
struct CacheLine<T>(T);

const _: () = assert!(std::mem::align_of::<CacheLine<AtomicUsize>>() == 128);

/// The state both ends point at.
struct Shared<T> {
    /// Records the consumer has released, ever. Stored only by the consumer.
    read_count: CacheLine<AtomicUsize>,
    /// Records the producer has published, ever. Stored only by the producer.
    written_count: CacheLine<AtomicUsize>,
    /// `capacity` slots. Ownership of each follows the counters (see the module invariants).
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// Loom's view of slot accesses; empty in normal builds.
    tracker: SlotTracker,
}

impl<T> Shared<T> {
    /// A raw pointer to slot `slot_index`; only the side that owns the slot may use it.
    fn slot_ptr(&self, slot_index: usize) -> *mut MaybeUninit<T> {
        self.slots[slot_index].get()
    }
}

/// The writing end of a ring. There is exactly one; it can move to another thread but cannot be
/// cloned:
///
/// ```compile_fail
/// let (producer, _consumer) = peregrine_tuning::ring::channel::<u8>(2).unwrap();
/// let second_producer = producer.clone();
/// ```
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// `capacity - 1`.
    mask: usize,
    /// Equal to `shared.written_count`: only this end stores it.
    written_count: usize,
    /// A past value of `shared.read_count`, so `<=` the current one and `>= written_count - capacity`.
    read_count_cached: usize,
}

/// The reading end of a ring. There is exactly one; it can move to another thread but cannot be
/// cloned:
///
/// ```compile_fail
/// let (_producer, consumer) = peregrine_tuning::ring::channel::<u8>(2).unwrap();
/// let second_consumer = consumer.clone();
/// ```
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// `capacity - 1`.
    mask: usize,
    /// Equal to `shared.read_count`: only this end stores it.
    read_count: usize,
    /// A past value of `shared.written_count`, so `<=` the current one and `>= read_count`.
    written_count_cached: usize,
}

// SAFETY: the two ends never touch the same slot at the same time (module invariants), and the
// counters are atomics, so moving an end to another thread is sound as long as the records it
// moves across threads may be sent: hence `T: Send`.
unsafe impl<T: Send> Send for Producer<T> {}

// SAFETY: as for `Producer`: the consumer reads only the slots the counters give it, and the
// records it reads were written on another thread, so `T: Send` is required and sufficient.
unsafe impl<T: Send> Send for Consumer<T> {}

/// Creates a ring of `capacity_records` slots and returns its two ends.
///
/// This is the only allocation the ring ever makes.
///
/// ```
/// use peregrine_tuning::ring;
///
/// let (mut producer, mut consumer) = ring::channel::<u64>(4)?;
/// producer.try_push(7)?;
/// assert_eq!(consumer.try_pop(), Some(7));
/// assert_eq!(consumer.try_pop(), None);
/// assert!(ring::channel::<u64>(6).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn channel<T: Copy>(
    capacity_records: usize,
) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    if !capacity_records.is_power_of_two() {
        return Err(CapacityError::NotPowerOfTwo { capacity_records });
    }
    if capacity_records > MAX_CAPACITY_RECORDS {
        return Err(CapacityError::TooLarge { capacity_records });
    }
    let mut slots = Vec::new();
    if slots.try_reserve_exact(capacity_records).is_err() {
        return Err(CapacityError::OutOfMemory { capacity_records });
    }
    slots.resize_with(capacity_records, || UnsafeCell::new(MaybeUninit::uninit()));
    let shared = Arc::new(Shared {
        read_count: CacheLine(AtomicUsize::new(0)),
        written_count: CacheLine(AtomicUsize::new(0)),
        slots: slots.into_boxed_slice(),
        tracker: SlotTracker::new(capacity_records),
    });
    let mask = capacity_records - 1;
    let producer = Producer {
        shared: Arc::clone(&shared),
        mask,
        written_count: 0,
        read_count_cached: 0,
    };
    let consumer = Consumer {
        shared,
        mask,
        read_count: 0,
        written_count_cached: 0,
    };
    Ok((producer, consumer))
}

impl<T: Copy> Producer<T> {
    /// The number of slots, fixed at [`channel`].
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Records published and not yet released: exact when called, stale soon after (the
    /// consumer may release more). For metrics only.
    pub fn len(&self) -> usize {
        // Relaxed: a metric; no slot is written on the strength of this value.
        let read_count = self.shared.read_count.0.load(Ordering::Relaxed);
        let len = self.written_count.wrapping_sub(read_count);
        debug_assert!(len <= self.capacity());
        len
    }

    /// Whether [`len`](Self::len) is zero; for metrics only.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes `record`, or hands it back in [`Full`] if no slot is free.
    ///
    /// ```
    /// let (mut producer, _consumer) = peregrine_tuning::ring::channel::<u8>(1)?;
    /// assert_eq!(producer.try_push(1), Ok(()));
    /// assert_eq!(producer.try_push(2), Err(peregrine_tuning::ring::Full(2)));
    /// # Ok::<(), peregrine_tuning::ring::CapacityError>(())
    /// ```
    pub fn try_push(&mut self, record: T) -> Result<(), Full<T>> {
        if self.free_len(1) == 0 {
            return Err(Full(record));
        }
        let slot = self.claim_slot(0);
        // SAFETY: `free_len(1) >= 1`, so the slot at `written_count` is free and belongs to this
        // end; the consumer will not read it before the Release store in `publish` below.
        unsafe { slot.write(MaybeUninit::new(record)) };
        self.publish(1);
        Ok(())
    }

    /// Reserves up to `max_len` free slots (possibly none) for the caller to fill in place and
    /// publish together with [`WriteChunk::commit`]. Dropping the chunk publishes nothing.
    ///
    /// ```
    /// let (mut producer, mut consumer) = peregrine_tuning::ring::channel::<u32>(4)?;
    /// let mut chunk = producer.write_slots(8);
    /// assert_eq!(chunk.reserved_len(), 4);
    /// chunk.push(10)?;
    /// chunk.push_with(|slot| slot.write(11))?;
    /// chunk.commit_all();
    /// assert_eq!(consumer.try_pop(), Some(10));
    /// assert_eq!(consumer.try_pop(), Some(11));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_slots(&mut self, max_len: usize) -> WriteChunk<'_, T> {
        let reserved_len = self.free_len(max_len).min(max_len);
        WriteChunk {
            producer: self,
            reserved_len,
            written_len: 0,
        }
    }

    /// Free slots, reloading the consumer's counter only if the cached copy shows fewer than
    /// `wanted_len`.
    fn free_len(&mut self, wanted_len: usize) -> usize {
        let capacity = self.capacity();
        let mut used_len = self.written_count.wrapping_sub(self.read_count_cached);
        debug_assert!(used_len <= capacity);
        if capacity - used_len < wanted_len {
            // Acquire: pairs with the Release store in `Consumer::release_count`, so the
            // consumer's reads of the slots it released happen before we overwrite them.
            self.read_count_cached = self.shared.read_count.0.load(Ordering::Acquire);
            used_len = self.written_count.wrapping_sub(self.read_count_cached);
            debug_assert!(used_len <= capacity);
        }
        capacity - used_len
    }

    /// The slot `offset` places past `written_count`; the caller has checked it is free.
    fn claim_slot(&self, offset: usize) -> *mut MaybeUninit<T> {
        debug_assert!(offset < self.capacity());
        let slot_index = self.written_count.wrapping_add(offset) & self.mask;
        self.shared.tracker.note_write(slot_index);
        self.shared.slot_ptr(slot_index)
    }

    /// Hands the next `count` slots, already written, to the consumer.
    fn publish(&mut self, count: usize) {
        debug_assert!(count <= self.capacity());
        self.written_count = self.written_count.wrapping_add(count);
        // Release: publishes the slot writes made before it to the Acquire load in
        // `Consumer::available_len`.
        self.shared
            .written_count
            .0
            .store(self.written_count, Ordering::Release);
    }
}

impl<T: Copy> Consumer<T> {
    /// The number of slots, fixed at [`channel`].
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Records published and not yet released: exact when called, stale soon after (the
    /// producer may publish more). For metrics only.
    pub fn len(&self) -> usize {
        // Relaxed: a metric; no slot is read on the strength of this value.
        let written_count = self.shared.written_count.0.load(Ordering::Relaxed);
        let len = written_count.wrapping_sub(self.read_count);
        debug_assert!(len <= self.capacity());
        len
    }

    /// Whether [`len`](Self::len) is zero; for metrics only.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the oldest published record, or `None` if there is none.
    ///
    /// ```
    /// let (mut producer, mut consumer) = peregrine_tuning::ring::channel::<char>(2)?;
    /// assert_eq!(consumer.try_pop(), None);
    /// producer.try_push('a').unwrap();
    /// assert_eq!(consumer.try_pop(), Some('a'));
    /// # Ok::<(), peregrine_tuning::ring::CapacityError>(())
    /// ```
    pub fn try_pop(&mut self) -> Option<T> {
        if self.available_len(1) == 0 {
            return None;
        }
        let slot_index = self.read_count & self.mask;
        self.shared.tracker.note_read(slot_index);
        let slot = self.shared.slot_ptr(slot_index);
        // SAFETY: `available_len(1) >= 1`, so the slot at `read_count` holds a record the
        // producer published (initialised, visible through the Acquire load) and will not
        // overwrite before the Release store in `release_count` below.
        let record = unsafe { slot.read().assume_init() };
        self.release_count(1);
        Some(record)
    }

    /// Lends up to `max_len` published records (possibly none) as slices; release them with
    /// [`ReadChunk::release`]. Dropping the chunk releases nothing.
    ///
    /// ```
    /// let (mut producer, mut consumer) = peregrine_tuning::ring::channel::<u16>(4)?;
    /// for record in 1..=3 {
    ///     producer.try_push(record).unwrap();
    /// }
    /// let chunk = consumer.read_chunk(2);
    /// assert_eq!(chunk.iter().copied().collect::<Vec<_>>(), [1, 2]);
    /// chunk.release(1);
    /// assert_eq!(consumer.try_pop(), Some(2));
    /// # Ok::<(), peregrine_tuning::ring::CapacityError>(())
    /// ```
    pub fn read_chunk(&mut self, max_len: usize) -> ReadChunk<'_, T> {
        let len = self.available_len(max_len).min(max_len);
        let start_index = self.read_count & self.mask;
        self.shared.tracker.note_read_run(start_index, len);
        ReadChunk {
            consumer: self,
            len,
        }
    }

    /// Published records, reloading the producer's counter only if the cached copy shows fewer
    /// than `wanted_len`.
    fn available_len(&mut self, wanted_len: usize) -> usize {
        let mut available_len = self.written_count_cached.wrapping_sub(self.read_count);
        debug_assert!(available_len <= self.capacity());
        if available_len < wanted_len {
            // Acquire: pairs with the Release store in `Producer::publish`, so the producer's
            // writes of the slots it published happen before we read them.
            self.written_count_cached = self.shared.written_count.0.load(Ordering::Acquire);
            available_len = self.written_count_cached.wrapping_sub(self.read_count);
            debug_assert!(available_len <= self.capacity());
        }
        available_len
    }

    /// Hands the next `count` slots, already read, back to the producer.
    fn release_count(&mut self, count: usize) {
        debug_assert!(count <= self.written_count_cached.wrapping_sub(self.read_count));
        self.read_count = self.read_count.wrapping_add(count);
        // Release: orders the slot reads made before it before the producer's Acquire load in
        // `Producer::free_len`, so those slots are not overwritten while being read.
        self.shared
            .read_count
            .0
            .store(self.read_count, Ordering::Release);
    }
}

/// Free slots reserved by [`Producer::write_slots`], filled in order by [`push`](Self::push) or
/// [`push_with`](Self::push_with) and published by [`commit`](Self::commit).
pub struct WriteChunk<'a, T: Copy> {
    producer: &'a mut Producer<T>,
    /// Slots reserved, all free: `0..=capacity`.
    reserved_len: usize,
    /// Slots written so far, the first ones of the reservation: `0..=reserved_len`.
    written_len: usize,
}

impl<T: Copy> WriteChunk<'_, T> {
    /// Slots reserved; at most the `max_len` asked for.
    pub fn reserved_len(&self) -> usize {
        self.reserved_len
    }

    /// Slots written so far.
    pub fn written_len(&self) -> usize {
        self.written_len
    }

    /// Whether every reserved slot is written.
    pub fn is_full(&self) -> bool {
        self.written_len == self.reserved_len
    }

    /// Writes `record` into the next reserved slot, or hands it back if all are written.
    pub fn push(&mut self, record: T) -> Result<(), Full<T>> {
        if self.is_full() {
            return Err(Full(record));
        }
        let slot = self.producer.claim_slot(self.written_len);
        // SAFETY: the slot is reserved (`written_len < reserved_len <= free_len`), so it belongs
        // to the producer, and nothing reads it before `commit` publishes it.
        unsafe { slot.write(MaybeUninit::new(record)) };
        self.written_len += 1;
        Ok(())
    }

    /// Builds the next record in place: `init` gets the uninitialised slot and must return the
    /// reference that `MaybeUninit::write` (or field-by-field initialisation followed by
    /// `assume_init_mut`) gives back for that same slot. Returns `Err` without calling `init`
    /// if all reserved slots are written.
    ///
    /// # Panics
    /// If `init` returns a reference to anything other than its slot.
    pub fn push_with<F>(&mut self, init: F) -> Result<(), Full<()>>
    where
        F: for<'slot> FnOnce(&'slot mut MaybeUninit<T>) -> &'slot mut T,
    {
        if self.is_full() {
            return Err(Full(()));
        }
        let slot = self.producer.claim_slot(self.written_len);
        // SAFETY: the slot is reserved, so it belongs to the producer and nothing else reads or
        // writes it until `commit`; the `&mut` lives only for the call to `init`.
        let initialised: *const T = init(unsafe { &mut *slot });
        // In safe code the only way to get a `&mut T` to the slot's address is to initialise it,
        // so this proves the slot holds a record before it can ever be published.
        assert!(ptr::eq(initialised, slot.cast::<T>()));
        self.written_len += 1;
        Ok(())
    }

    /// Publishes the first `count` written records with one Release store; the rest of the
    /// chunk is discarded.
    ///
    /// # Panics
    /// If `count` is greater than [`written_len`](Self::written_len).
    pub fn commit(self, count: usize) {
        assert!(count <= self.written_len);
        if count > 0 {
            self.producer.publish(count);
        }
    }

    /// Publishes every written record; returns how many.
    pub fn commit_all(self) -> usize {
        let count = self.written_len;
        self.commit(count);
        count
    }
}

/// Published records lent by [`Consumer::read_chunk`], oldest first, freed by
/// [`release`](Self::release).
pub struct ReadChunk<'a, T: Copy> {
    consumer: &'a mut Consumer<T>,
    /// Records lent, all published: `0..=capacity`.
    len: usize,
}

impl<T: Copy> ReadChunk<'_, T> {
    /// Records lent; at most the `max_len` asked for.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no record is lent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The records in order, as two slices because the run may wrap past the buffer's end;
    /// the second is empty when it does not.
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let capacity = self.consumer.capacity();
        let start_index = self.consumer.read_count & self.consumer.mask;
        let first_len = self.len.min(capacity - start_index);
        let second_len = self.len - first_len;
        // `UnsafeCell<MaybeUninit<T>>` has the layout of `T`, so the buffer is an array of `T`.
        let base: *const T = self.consumer.shared.slots.as_ptr().cast();
        // SAFETY: both runs lie inside the buffer (`start_index + first_len <= capacity`,
        // `second_len <= start_index`), hold published, initialised records (visible through the
        // Acquire load in `available_len`), and the producer does not write them until `release`,
        // which consumes `self` and so ends these borrows first.
        unsafe {
            (
                slice::from_raw_parts(base.add(start_index), first_len),
                slice::from_raw_parts(base, second_len),
            )
        }
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        let (first, second) = self.as_slices();
        first.iter().chain(second)
    }

    /// Frees the first `count` records with one Release store; the rest stay published and are
    /// lent again by the next read.
    ///
    /// # Panics
    /// If `count` is greater than [`len`](Self::len).
    pub fn release(self, count: usize) {
        assert!(count <= self.len);
        let start_index = self.consumer.read_count & self.consumer.mask;
        self.consumer
            .shared
            .tracker
            .note_read_run(start_index, self.len);
        if count > 0 {
            self.consumer.release_count(count);
        }
    }

    /// Frees every lent record; returns how many.
    pub fn release_all(self) -> usize {
        let count = self.len;
        self.release(count);
        count
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Compiles only if both ends can move to another thread.
    #[test]
    fn ends_are_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Producer<[u64; 8]>>();
        assert_send::<Consumer<[u64; 8]>>();
    }

    #[test]
    fn capacity_must_be_a_power_of_two_within_bounds() {
        for capacity_records in [0, 3, 6, 1000, usize::MAX] {
            assert_eq!(
                channel::<u8>(capacity_records).err(),
                Some(CapacityError::NotPowerOfTwo { capacity_records })
            );
        }
        let capacity_records = MAX_CAPACITY_RECORDS * 2;
        assert_eq!(
            channel::<u8>(capacity_records).err(),
            Some(CapacityError::TooLarge { capacity_records })
        );
        for capacity_records in [1, 2, 1024] {
            let (producer, consumer) = channel::<u8>(capacity_records).unwrap();
            assert_eq!(producer.capacity(), capacity_records);
            assert_eq!(consumer.capacity(), capacity_records);
        }
    }

    #[test]
    fn push_until_full_then_pop_until_empty_in_order() {
        let (mut producer, mut consumer) = channel::<u32>(8).unwrap();
        for round in 0..5_u32 {
            for offset in 0..8 {
                assert_eq!(producer.try_push(round * 8 + offset), Ok(()));
            }
            assert_eq!(producer.try_push(999), Err(Full(999)));
            assert_eq!(producer.len(), 8);
            assert_eq!(consumer.len(), 8);
            for offset in 0..8 {
                assert_eq!(consumer.try_pop(), Some(round * 8 + offset));
            }
            assert_eq!(consumer.try_pop(), None);
            assert!(producer.is_empty());
            assert!(consumer.is_empty());
        }
    }

    #[test]
    fn capacity_one_alternates() {
        let (mut producer, mut consumer) = channel::<u64>(1).unwrap();
        for record in 0..10 {
            assert_eq!(producer.try_push(record), Ok(()));
            assert_eq!(producer.try_push(record), Err(Full(record)));
            assert_eq!(consumer.try_pop(), Some(record));
            assert_eq!(consumer.try_pop(), None);
        }
    }

    #[test]
    fn write_chunk_reserves_only_free_slots_and_commits_a_prefix() {
        let (mut producer, mut consumer) = channel::<u32>(4).unwrap();
        producer.try_push(1).unwrap();
        let mut chunk = producer.write_slots(10);
        assert_eq!(chunk.reserved_len(), 3);
        chunk.push(2).unwrap();
        chunk.push_with(|slot| slot.write(3)).unwrap();
        chunk.push(4).unwrap();
        assert!(chunk.is_full());
        assert_eq!(chunk.push(5), Err(Full(5)));
        assert_eq!(chunk.push_with(|slot| slot.write(5)), Err(Full(())));
        chunk.commit(2);
        assert_eq!(consumer.len(), 3);
        assert_eq!(
            consumer.read_chunk(10).as_slices(),
            (&[1, 2, 3][..], &[][..])
        );
        // The uncommitted record is gone; its slot is reserved again.
        assert_eq!(producer.write_slots(10).reserved_len(), 1);
    }

    #[test]
    fn dropped_chunks_publish_and_release_nothing() {
        let (mut producer, mut consumer) = channel::<u8>(4).unwrap();
        {
            let mut chunk = producer.write_slots(2);
            chunk.push(1).unwrap();
        }
        assert_eq!(consumer.try_pop(), None);
        producer.try_push(2).unwrap();
        {
            let chunk = consumer.read_chunk(4);
            assert_eq!(chunk.len(), 1);
        }
        assert_eq!(consumer.try_pop(), Some(2));
    }

    #[test]
    fn read_chunk_wraps_into_two_slices_and_releases_a_prefix() {
        let (mut producer, mut consumer) = channel::<u16>(4).unwrap();
        for record in 0..3 {
            producer.try_push(record).unwrap();
        }
        assert_eq!(consumer.read_chunk(3).release_all(), 3);
        for record in 3..7 {
            producer.try_push(record).unwrap();
        }
        let chunk = consumer.read_chunk(10);
        assert_eq!(chunk.len(), 4);
        assert_eq!(chunk.as_slices(), (&[3][..], &[4, 5, 6][..]));
        chunk.release(2);
        let chunk = consumer.read_chunk(10);
        assert_eq!(chunk.as_slices(), (&[5, 6][..], &[][..]));
        assert_eq!(chunk.iter().count(), 2);
        chunk.release(0);
        assert_eq!(consumer.read_chunk(1).as_slices(), (&[5][..], &[][..]));
    }

    #[test]
    fn empty_chunks_are_harmless() {
        let (mut producer, mut consumer) = channel::<u8>(2).unwrap();
        assert!(consumer.read_chunk(5).is_empty());
        assert_eq!(producer.write_slots(0).commit_all(), 0);
        producer.try_push(1).unwrap();
        producer.try_push(2).unwrap();
        assert_eq!(producer.write_slots(5).reserved_len(), 0);
        assert_eq!(consumer.read_chunk(0).release_all(), 0);
        assert_eq!(consumer.try_pop(), Some(1));
    }

    #[test]
    #[should_panic]
    fn committing_more_than_written_is_a_bug() {
        let (mut producer, _consumer) = channel::<u8>(4).unwrap();
        let mut chunk = producer.write_slots(4);
        chunk.push(1).unwrap();
        chunk.commit(2);
    }

    #[test]
    #[should_panic]
    fn releasing_more_than_lent_is_a_bug() {
        let (mut producer, mut consumer) = channel::<u8>(4).unwrap();
        producer.try_push(1).unwrap();
        consumer.read_chunk(4).release(2);
    }

    #[test]
    #[should_panic]
    fn push_with_must_return_its_own_slot() {
        let (mut producer, _consumer) = channel::<u8>(4).unwrap();
        let elsewhere: &'static mut u8 = Box::leak(Box::new(0));
        let mut chunk = producer.write_slots(1);
        let _ = chunk.push_with(move |_slot| elsewhere);
    }

    #[test]
    fn counters_wrap_around_usize_without_losing_order() {
        let (mut producer, mut consumer) = channel::<u64>(4).unwrap();
        // Start both ends just below the wrap point, as if usize::MAX - 5 records had passed.
        let start_count = usize::MAX - 5;
        producer.written_count = start_count;
        producer.read_count_cached = start_count;
        producer
            .shared
            .written_count
            .0
            .store(start_count, Ordering::Relaxed);
        producer
            .shared
            .read_count
            .0
            .store(start_count, Ordering::Relaxed);
        consumer.read_count = start_count;
        consumer.written_count_cached = start_count;
        let mut expected = 0;
        for record in 0..20_u64 {
            producer.try_push(record).unwrap();
            if record % 3 == 2 {
                while let Some(popped) = consumer.try_pop() {
                    assert_eq!(popped, expected);
                    expected += 1;
                }
            }
        }
        assert!(producer.len() <= 4);
    }

    #[test]
    fn two_threads_pass_every_record_in_order() {
        let record_count: u64 = if cfg!(miri) { 200 } else { 100_000 };
        let (mut producer, mut consumer) = channel::<u64>(16).unwrap();
        let writer = std::thread::spawn(move || {
            for record in 0..record_count {
                let mut pending = record;
                while let Err(Full(back)) = producer.try_push(pending) {
                    pending = back;
                    std::thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        while expected < record_count {
            let chunk = consumer.read_chunk(5);
            for &record in chunk.iter() {
                assert_eq!(record, expected);
                expected += 1;
            }
            if chunk.release_all() == 0 {
                std::thread::yield_now();
            }
        }
        writer.join().unwrap();
        assert_eq!(consumer.try_pop(), None);
    }
}
