//! An in-process frame link: two [`MemoryLink`] ends joined back to back, like a veth pair
//! without a kernel. Tests and the simulator use it to run the smoltcp stack and the feed's
//! frame publisher without root.
//!
//! Each direction is a fixed ring of frame slots behind a mutex (the two ends may live on
//! different threads). `tx_flush` copies submitted frames into the peer's ring; a full ring
//! drops the frame and counts it, as a NIC would.
//!
//! # Invariants
//! - All buffers are allocated in [`MemoryLink::pair`]; nothing allocates afterwards.
//! - Every local buffer is in exactly one of: the free list, the received queue, the submitted
//!   queue, or a live handle (checked by `buffers_accounted` in debug tests).

use std::sync::{Arc, Mutex, PoisonError};

use super::{FrameCounters, FrameError, FrameIo, RxFrame, TxFrame};

/// Bytes per frame buffer: a 1,500-byte MTU frame plus its 14-byte header fits.
pub const FRAME_BYTES: usize = 2048;

/// One direction of the link: a fixed ring of frames.
#[derive(Debug)]
struct Wire {
    slots: Box<[[u8; FRAME_BYTES]]>,
    lens: Box<[u16]>,
    head: usize,
    len: usize,
    dropped: u64,
}

impl Wire {
    fn new(frame_count: usize) -> Wire {
        Wire {
            slots: vec![[0u8; FRAME_BYTES]; frame_count].into_boxed_slice(),
            lens: vec![0u16; frame_count].into_boxed_slice(),
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.len == self.slots.len() {
            self.dropped += 1;
            return;
        }
        let index = (self.head + self.len) % self.slots.len();
        self.slots[index][..bytes.len()].copy_from_slice(bytes);
        self.lens[index] = u16::try_from(bytes.len()).unwrap_or(0);
        self.len += 1;
    }

    /// Copies the oldest frame into `target`; returns its length.
    fn pop_into(&mut self, target: &mut [u8; FRAME_BYTES]) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let len = usize::from(self.lens[self.head]);
        target[..len].copy_from_slice(&self.slots[self.head][..len]);
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(len)
    }
}

/// A fixed stack of buffer indices.
#[derive(Debug)]
struct IndexQueue {
    items: Box<[u32]>,
    head: usize,
    len: usize,
}

impl IndexQueue {
    fn new(capacity: usize) -> IndexQueue {
        IndexQueue {
            items: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    fn full(capacity: usize, first: u32) -> IndexQueue {
        let mut queue = IndexQueue::new(capacity);
        for offset in 0..capacity {
            queue.push(first + u32::try_from(offset).unwrap_or(0));
        }
        queue
    }

    fn push(&mut self, item: u32) {
        assert!(self.len < self.items.len(), "index queue overflow");
        let slot = (self.head + self.len) % self.items.len();
        self.items[slot] = item;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let item = self.items[self.head];
        self.head = (self.head + 1) % self.items.len();
        self.len -= 1;
        Some(item)
    }
}

/// One end of an in-process link.
#[derive(Debug)]
pub struct MemoryLink {
    mac: [u8; 6],
    /// Buffers `0..frame_count` receive, `frame_count..2*frame_count` transmit.
    buffers: Box<[[u8; FRAME_BYTES]]>,
    lens: Box<[u16]>,
    rx_free: IndexQueue,
    rx_ready: IndexQueue,
    tx_free: IndexQueue,
    tx_submitted: IndexQueue,
    inbox: Arc<Mutex<Wire>>,
    outbox: Arc<Mutex<Wire>>,
    counters: FrameCounters,
    frame_count: usize,
}

impl MemoryLink {
    /// Two joined ends with MAC addresses `mac_a` and `mac_b` and `frame_count` buffers per
    /// direction and end.
    pub fn pair(mac_a: [u8; 6], mac_b: [u8; 6], frame_count: usize) -> (MemoryLink, MemoryLink) {
        assert!(frame_count > 0);
        let a_to_b = Arc::new(Mutex::new(Wire::new(frame_count)));
        let b_to_a = Arc::new(Mutex::new(Wire::new(frame_count)));
        let a = MemoryLink::end(mac_a, frame_count, Arc::clone(&b_to_a), Arc::clone(&a_to_b));
        let b = MemoryLink::end(mac_b, frame_count, a_to_b, b_to_a);
        (a, b)
    }

    fn end(
        mac: [u8; 6],
        frame_count: usize,
        inbox: Arc<Mutex<Wire>>,
        outbox: Arc<Mutex<Wire>>,
    ) -> MemoryLink {
        let count = u32::try_from(frame_count).unwrap_or(u32::MAX);
        MemoryLink {
            mac,
            buffers: vec![[0u8; FRAME_BYTES]; 2 * frame_count].into_boxed_slice(),
            lens: vec![0u16; 2 * frame_count].into_boxed_slice(),
            rx_free: IndexQueue::full(frame_count, 0),
            rx_ready: IndexQueue::new(frame_count),
            tx_free: IndexQueue::full(frame_count, count),
            tx_submitted: IndexQueue::new(frame_count),
            inbox,
            outbox,
            counters: FrameCounters::default(),
            frame_count,
        }
    }

    /// Frames the peer's ring refused because it was full.
    pub fn dropped_frames(&self) -> u64 {
        self.outbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped
    }

    fn index(&self, token: u64) -> usize {
        let index = usize::try_from(token).unwrap_or(usize::MAX);
        assert!(index < self.buffers.len(), "handle from another backend");
        index
    }
}

impl FrameIo for MemoryLink {
    fn rx_poll(&mut self) -> Result<usize, FrameError> {
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(index) = self.rx_free.pop() {
            let slot = index as usize;
            let Some(len) = inbox.pop_into(&mut self.buffers[slot]) else {
                self.rx_free.push(index);
                break;
            };
            self.lens[slot] = u16::try_from(len).unwrap_or(0);
            self.rx_ready.push(index);
            self.counters.rx_frames += 1;
        }
        Ok(self.rx_ready.len)
    }

    fn rx_take(&mut self) -> Option<RxFrame> {
        let index = self.rx_ready.pop()?;
        Some(RxFrame::new(
            u64::from(index),
            u32::from(self.lens[index as usize]),
        ))
    }

    fn rx_data(&self, frame: &RxFrame) -> &[u8] {
        let index = self.index(frame.token());
        &self.buffers[index][..frame.len()]
    }

    fn rx_release(&mut self, frame: RxFrame) {
        let index = self.index(frame.token());
        assert!(
            index < self.frame_count,
            "a transmit buffer released as received"
        );
        self.rx_free.push(u32::try_from(index).unwrap_or(0));
    }

    fn tx_alloc(&mut self) -> Option<TxFrame> {
        let Some(index) = self.tx_free.pop() else {
            self.counters.tx_full += 1;
            return None;
        };
        Some(TxFrame::new(u64::from(index)))
    }

    fn tx_data(&mut self, frame: &TxFrame) -> &mut [u8] {
        let index = self.index(frame.token());
        &mut self.buffers[index][..]
    }

    fn tx_submit(&mut self, frame: TxFrame, len: usize) {
        let index = self.index(frame.token());
        assert!(index >= self.frame_count, "a receive buffer submitted");
        assert!(len <= FRAME_BYTES);
        self.lens[index] = u16::try_from(len).unwrap_or(0);
        self.tx_submitted.push(u32::try_from(index).unwrap_or(0));
    }

    fn tx_flush(&mut self) -> Result<(), FrameError> {
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(index) = self.tx_submitted.pop() {
            let slot = index as usize;
            outbox.push(&self.buffers[slot][..usize::from(self.lens[slot])]);
            self.tx_free.push(index);
            self.counters.tx_frames += 1;
        }
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn frame_len_max(&self) -> usize {
        FRAME_BYTES
    }

    fn counters(&self) -> FrameCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::send_with;

    #[test]
    fn frames_cross_in_order_and_buffers_come_back() {
        let (mut a, mut b) = MemoryLink::pair([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 4);
        for round in 0..10u8 {
            for n in 0..3u8 {
                assert!(send_with(&mut a, |buf| {
                    buf[..3].copy_from_slice(&[round, n, 0xa5]);
                    3
                }));
            }
            a.tx_flush().unwrap();
            assert_eq!(b.rx_poll().unwrap(), 3);
            for n in 0..3u8 {
                let frame = b.rx_take().unwrap();
                assert_eq!(b.rx_data(&frame), &[round, n, 0xa5]);
                b.rx_release(frame);
            }
            assert!(b.rx_take().is_none());
        }
        assert_eq!(a.counters().tx_frames, 30);
        assert_eq!(b.counters().rx_frames, 30);
    }

    #[test]
    fn a_full_peer_ring_drops_and_counts() {
        let (mut a, mut b) = MemoryLink::pair([2; 6], [4; 6], 2);
        for _ in 0..2 {
            for _ in 0..2 {
                assert!(send_with(&mut a, |_| 60));
            }
            a.tx_flush().unwrap();
        }
        assert_eq!(a.dropped_frames(), 2);
        assert_eq!(b.rx_poll().unwrap(), 2);
        // No transmit buffer is free until flushed.
        for _ in 0..2 {
            assert!(send_with(&mut a, |_| 60));
        }
        assert!(!send_with(&mut a, |_| 60));
        assert_eq!(a.counters().tx_full, 1);
    }
}
