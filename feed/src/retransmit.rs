//! The retransmission store: every published message, by sequence number, in a memory-mapped
//! file, bounded to the last [`RetransmitConfig::message_capacity`] messages and
//! [`RetransmitConfig::data_capacity_bytes`] bytes of message blocks.
//!
//! The re-request server ([`crate::rerequest`]) answers from it with ordinary MoldUDP64
//! packets ([`Store::fill_packet`]); the publisher appends each packet it sends
//! ([`Store::append_packet`]) before sending it, so a subscriber can never ask for a message
//! the store has not seen yet.
//!
//! # File layout
//! Our own format, big-endian like the wire:
//!
//! ```text
//! 0     header, 64 bytes: magic "PRGNRTX1" (8), message_capacity u32, reserved u32,
//!       data_capacity_bytes u64, session (10 ASCII), reserved (6), oldest_seq u64,
//!       next_seq u64, write_position u64
//! 64    index, message_capacity slots of 16 bytes: seq u64, position u64
//! 64+16*message_capacity
//!       data ring, data_capacity_bytes: MoldUDP64 message blocks (u16 length + message)
//! ```
//!
//! The index is a ring: the slot of `seq` is `seq % message_capacity`. Positions in the data
//! ring are absolute byte counts since the session started (`position % data_capacity_bytes`
//! is the offset); a block never wraps: when it would cross the end of the ring, the writer
//! skips to the start. A message is evicted when its index slot is reused or when the bytes
//! of its block are about to be overwritten, so the stored messages are always the contiguous
//! range `oldest_seq..next_seq`.
//!
//! **Not available.** MoldUDP64 has no negative acknowledgement: a re-request for a range that
//! starts before `oldest_seq` ([`Availability::Evicted`]) gets no answer at all; the server
//! counts it, and the subscriber, after its retries, falls back to a snapshot. A range that
//! starts in the store and runs past `next_seq` is answered up to the last stored message.
//!
//! The header's counters are written after each append so that a tool can inspect a file
//! while the publisher runs. A store belongs to one MoldUDP64 session and is not carried
//! across a restart: a restarted publisher starts a new session with a new, empty store (the
//! node names each start's session apart), so no re-request can be answered with a message
//! of another run.
//!
//! # Invariants
//! - `1 <= oldest_seq <= next_seq`, `next_seq - oldest_seq <= message_capacity`.
//! - For every stored `seq`, the index slot `seq % message_capacity` holds `seq` and the
//!   absolute position of its block, and `position + block_len <= write_position` and
//!   `position >= write_position - data_capacity_bytes`: its bytes are intact.
//! - Positions of stored messages increase with `seq`.
//! - Nothing is allocated after [`Store::create`]; appends and reads copy bytes only.

use core::fmt;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use memmap2::MmapMut;
use serde::{Deserialize, Serialize};

use crate::moldudp64::{
    Packet, PacketKind, PacketRepr, Session, BLOCK_PREFIX_LEN, HEADER_LEN, MESSAGE_COUNT_MAX,
};
use crate::wire::Field;

/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 64;
/// Bytes of one index slot.
pub const INDEX_SLOT_LEN: usize = 16;
/// The smallest data ring: room for a few full packets.
pub const DATA_CAPACITY_BYTES_MIN: u64 = 16 * 1024;
/// The largest data ring (and so the largest file, with the index): 64 GiB.
pub const DATA_CAPACITY_BYTES_MAX: u64 = 64 << 30;
/// The largest index: 256 Mi messages (4 GiB of index).
pub const MESSAGE_CAPACITY_MAX: u32 = 1 << 28;
/// Longest message the store takes (a block's length prefix is a `u16`).
pub const MESSAGE_LEN_MAX: usize = u16::MAX as usize;

const MAGIC: [u8; 8] = *b"PRGNRTX1";

mod field {
    pub const MAGIC: usize = 0;
    pub const MESSAGE_CAPACITY: usize = 8;
    pub const DATA_CAPACITY: usize = 16;
    pub const SESSION: usize = 24;
    pub const OLDEST_SEQ: usize = 40;
    pub const NEXT_SEQ: usize = 48;
    pub const WRITE_POSITION: usize = 56;
    pub const END: usize = 64;
}

const _: () = assert!(field::END == FILE_HEADER_LEN);
const _: () = assert!(crate::wire::layout_tiles(
    &[
        (field::MAGIC, 8),
        (field::MESSAGE_CAPACITY, 4),
        (12, 4),
        (field::DATA_CAPACITY, 8),
        (field::SESSION, 10),
        (34, 6),
        (field::OLDEST_SEQ, 8),
        (field::NEXT_SEQ, 8),
        (field::WRITE_POSITION, 8),
    ],
    0,
    FILE_HEADER_LEN
));
// A full packet's blocks always fit the smallest ring several times over.
const _: () = assert!(DATA_CAPACITY_BYTES_MIN as usize > 8 * 1_500);

/// Where and how much to keep. A `[feed.retransmit]` table in the node's TOML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetransmitConfig {
    /// The store file; created (or truncated) when the publisher starts.
    pub path: PathBuf,
    /// Most messages kept: `1..=MESSAGE_CAPACITY_MAX`.
    pub message_capacity: u32,
    /// Bytes of message blocks kept: `DATA_CAPACITY_BYTES_MIN..=DATA_CAPACITY_BYTES_MAX`.
    pub data_capacity_bytes: u64,
}

impl Default for RetransmitConfig {
    /// One million messages in 64 MiB (an ITCH block averages about 35 bytes).
    fn default() -> Self {
        RetransmitConfig {
            path: PathBuf::from("feed-retransmit.dat"),
            message_capacity: 1 << 20,
            data_capacity_bytes: 64 << 20,
        }
    }
}

/// Why the store could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Creating, sizing or mapping the file failed.
    Io(std::io::ErrorKind),
    /// `message_capacity` outside `1..=MESSAGE_CAPACITY_MAX`.
    MessageCapacity,
    /// `data_capacity_bytes` outside `DATA_CAPACITY_BYTES_MIN..=DATA_CAPACITY_BYTES_MAX`.
    DataCapacity,
    /// The first sequence number is 0.
    ZeroSeq,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io(kind) => write!(f, "store file: {kind}"),
            StoreError::MessageCapacity => {
                write!(f, "message_capacity must be 1..={MESSAGE_CAPACITY_MAX}")
            }
            StoreError::DataCapacity => write!(
                f,
                "data_capacity_bytes must be {DATA_CAPACITY_BYTES_MIN}..={DATA_CAPACITY_BYTES_MAX}"
            ),
            StoreError::ZeroSeq => write!(f, "sequence numbers start at 1"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Whether a range of messages can be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    /// The first message is stored (the range is answered up to the last stored message).
    Available,
    /// The first message was evicted by the store's bounds: no answer (MoldUDP64 has no NAK).
    Evicted { oldest_seq: u64 },
    /// The first message has not been published yet.
    NotYetPublished { next_seq: u64 },
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Available => write!(f, "available"),
            Availability::Evicted { oldest_seq } => {
                write!(f, "not available: oldest stored message is {oldest_seq}")
            }
            Availability::NotYetPublished { next_seq } => {
                write!(f, "not published yet: next message is {next_seq}")
            }
        }
    }
}

/// One answer packet built by [`Store::fill_packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketFill {
    /// Bytes of the packet, header included.
    pub len: usize,
    /// Messages in it, `>= 1`.
    pub count: u16,
}

/// The store. Single writer (the publisher); readers share it through [`SharedStore`].
#[derive(Debug)]
pub struct Store {
    map: MmapMut,
    session: Session,
    message_capacity: u64,
    data_capacity_bytes: u64,
    /// First stored message (`== next_seq` when none is).
    oldest_seq: u64,
    /// Sequence number the next appended message gets.
    next_seq: u64,
    /// Absolute end of the last block written.
    write_position: u64,
}

/// The store behind a mutex: the publisher appends one packet per lock, the re-request
/// server reads one answer packet per lock, so neither holds it for long.
pub type SharedStore = Arc<Mutex<Store>>;

/// Locks a shared store. A poisoned lock still holds a consistent store (every mutation is
/// completed before the guard drops, and the release profile aborts on panic anyway).
pub fn lock(store: &SharedStore) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Creates (or truncates) the file, sizes it and maps it. `first_seq` is the sequence
    /// number of the first message that will be appended (1 at the start of a session).
    pub fn create(
        config: &RetransmitConfig,
        session: Session,
        first_seq: u64,
    ) -> Result<Store, StoreError> {
        if config.message_capacity == 0 || config.message_capacity > MESSAGE_CAPACITY_MAX {
            return Err(StoreError::MessageCapacity);
        }
        if !(DATA_CAPACITY_BYTES_MIN..=DATA_CAPACITY_BYTES_MAX)
            .contains(&config.data_capacity_bytes)
        {
            return Err(StoreError::DataCapacity);
        }
        if first_seq == 0 {
            return Err(StoreError::ZeroSeq);
        }
        let message_capacity = u64::from(config.message_capacity);
        let file_len = FILE_HEADER_LEN as u64
            + message_capacity * INDEX_SLOT_LEN as u64
            + config.data_capacity_bytes;
        let io = |error: std::io::Error| StoreError::Io(error.kind());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&config.path)
            .map_err(io)?;
        file.set_len(file_len).map_err(io)?;
        let map = map_file(&file).map_err(io)?;
        assert_eq!(map.len() as u64, file_len);
        let mut store = Store {
            map,
            session,
            message_capacity,
            data_capacity_bytes: config.data_capacity_bytes,
            oldest_seq: first_seq,
            next_seq: first_seq,
            write_position: 0,
        };
        store.write_header();
        Ok(store)
    }

    pub fn session(&self) -> Session {
        self.session
    }

    /// First stored message (equal to [`next_seq`](Self::next_seq) when the store is empty).
    pub fn oldest_seq(&self) -> u64 {
        self.oldest_seq
    }

    /// Sequence number of the next message to be appended.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Messages stored.
    pub fn len(&self) -> u64 {
        self.next_seq - self.oldest_seq
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write_header(&mut self) {
        let header = &mut self.map[..FILE_HEADER_LEN];
        MAGIC.write(header, field::MAGIC);
        // Lossless: checked against MESSAGE_CAPACITY_MAX in `create`.
        (self.message_capacity as u32).write(header, field::MESSAGE_CAPACITY);
        0u32.write(header, field::MESSAGE_CAPACITY + 4);
        self.data_capacity_bytes.write(header, field::DATA_CAPACITY);
        self.session.bytes().write(header, field::SESSION);
        [0u8; 6].write(header, field::SESSION + 10);
        self.write_counters();
    }

    fn write_counters(&mut self) {
        let header = &mut self.map[..FILE_HEADER_LEN];
        self.oldest_seq.write(header, field::OLDEST_SEQ);
        self.next_seq.write(header, field::NEXT_SEQ);
        self.write_position.write(header, field::WRITE_POSITION);
    }

    fn index_offset(&self, seq: u64) -> usize {
        // Lossless: the slot index is below message_capacity, whose index fits in the map.
        FILE_HEADER_LEN + (seq % self.message_capacity) as usize * INDEX_SLOT_LEN
    }

    fn data_offset(&self, position: u64) -> usize {
        let data_start = FILE_HEADER_LEN as u64 + self.message_capacity * INDEX_SLOT_LEN as u64;
        // Lossless: below the mapped length, which is a usize.
        (data_start + position % self.data_capacity_bytes) as usize
    }

    /// Absolute position of a stored message's block.
    fn position_of(&self, seq: u64) -> u64 {
        let offset = self.index_offset(seq);
        assert_eq!(
            u64::read(&self.map, offset),
            seq,
            "index slot holds its seq"
        );
        u64::read(&self.map, offset + 8)
    }

    /// Appends one message; returns its sequence number. Evicts the oldest messages as the
    /// bounds require. Panics on an empty message or one longer than [`MESSAGE_LEN_MAX`]
    /// (the publisher only appends ITCH messages it encoded).
    pub fn append(&mut self, message: &[u8]) -> u64 {
        assert!(!message.is_empty() && message.len() <= MESSAGE_LEN_MAX);
        let block_len = (BLOCK_PREFIX_LEN + message.len()) as u64;
        let mut position = self.write_position;
        let offset = position % self.data_capacity_bytes;
        if offset + block_len > self.data_capacity_bytes {
            position += self.data_capacity_bytes - offset;
        }
        let end = position + block_len;
        self.evict_for(end);
        let seq = self.next_seq;
        let data = self.data_offset(position);
        // Lossless: asserted above.
        (message.len() as u16).write(&mut self.map, data);
        self.map[data + BLOCK_PREFIX_LEN..data + block_len as usize].copy_from_slice(message);
        let index = self.index_offset(seq);
        seq.write(&mut self.map, index);
        position.write(&mut self.map, index + 8);
        self.next_seq += 1;
        self.write_position = end;
        self.write_counters();
        assert!(self.next_seq - self.oldest_seq <= self.message_capacity);
        seq
    }

    /// Evicts every message whose index slot the next append reuses or whose bytes a block
    /// ending at `end` overwrites. Bounded by the number of stored messages.
    fn evict_for(&mut self, end: u64) {
        let overwritten_below = end.saturating_sub(self.data_capacity_bytes);
        while self.oldest_seq < self.next_seq {
            let slot_reused = self.next_seq - self.oldest_seq >= self.message_capacity;
            if !slot_reused && self.position_of(self.oldest_seq) >= overwritten_below {
                break;
            }
            self.oldest_seq += 1;
        }
    }

    /// Appends every message of one packet the publisher is about to send (a control packet
    /// appends nothing). Returns the number appended. Panics if the packet is malformed or
    /// does not start at [`next_seq`](Self::next_seq): the publisher's own packets always do.
    pub fn append_packet(&mut self, packet: &[u8]) -> u16 {
        let view = Packet::new_checked(packet);
        let Ok(view) = view else {
            panic!("publisher packet shorter than a header");
        };
        let repr = PacketRepr::parse(&view);
        let Ok(repr) = repr else {
            panic!("publisher packet malformed: {repr:?}");
        };
        let count = match repr.kind {
            PacketKind::Messages(count) => count,
            PacketKind::Heartbeat | PacketKind::EndOfSession => return 0,
        };
        assert_eq!(repr.seq, self.next_seq, "packet continues the store");
        for message in view.blocks().flatten() {
            self.append(message);
        }
        assert_eq!(self.next_seq, repr.end_seq());
        count
    }

    /// Whether a request starting at `first_seq` can be answered.
    pub fn availability(&self, first_seq: u64) -> Availability {
        if first_seq >= self.next_seq {
            Availability::NotYetPublished {
                next_seq: self.next_seq,
            }
        } else if first_seq < self.oldest_seq {
            Availability::Evicted {
                oldest_seq: self.oldest_seq,
            }
        } else {
            Availability::Available
        }
    }

    /// The stored bytes of one message.
    pub fn message(&self, seq: u64) -> Option<&[u8]> {
        if self.availability(seq) != Availability::Available {
            return None;
        }
        let data = self.data_offset(self.position_of(seq));
        let len = usize::from(u16::read(&self.map, data));
        Some(&self.map[data + BLOCK_PREFIX_LEN..data + BLOCK_PREFIX_LEN + len])
    }

    /// Builds one downstream MoldUDP64 packet in `buffer` (its length bounds the packet)
    /// holding stored messages from `first_seq` on, at most `count_max` of them. Fails, writing
    /// no header, when `first_seq` is not available, `count_max` is 0 or `buffer` cannot hold
    /// a header and the first message.
    pub fn fill_packet(
        &self,
        first_seq: u64,
        count_max: u16,
        buffer: &mut [u8],
    ) -> Result<PacketFill, FillError> {
        let availability = self.availability(first_seq);
        if availability != Availability::Available {
            return Err(FillError::Unavailable(availability));
        }
        let count_max = count_max.min(MESSAGE_COUNT_MAX);
        let (mut len, mut count) = (HEADER_LEN, 0u16);
        let mut seq = first_seq;
        while count < count_max && seq < self.next_seq {
            let data = self.data_offset(self.position_of(seq));
            let block_len = BLOCK_PREFIX_LEN + usize::from(u16::read(&self.map, data));
            let Some(target) = buffer.get_mut(len..len + block_len) else {
                break;
            };
            target.copy_from_slice(&self.map[data..data + block_len]);
            len += block_len;
            count += 1;
            seq += 1;
        }
        if count == 0 {
            return Err(FillError::NothingFits);
        }
        let header = PacketRepr {
            session: self.session,
            seq: first_seq,
            kind: PacketKind::Messages(count),
        };
        header.emit(&mut Packet::new_unchecked(&mut buffer[..len]));
        Ok(PacketFill { len, count })
    }
}

/// Why [`Store::fill_packet`] built no packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FillError {
    Unavailable(Availability),
    /// `count_max` was 0, or the buffer cannot hold a header and the first message.
    NothingFits,
}

/// Maps the whole file read-write.
#[allow(unsafe_code)]
fn map_file(file: &std::fs::File) -> std::io::Result<MmapMut> {
    // SAFETY: the file was just created (truncated) by this process and sized with `set_len`;
    // the mapping lives as long as the `Store`, which is the only writer. Another process
    // truncating the file while mapped would fault us (SIGBUS): the file is ours by
    // configuration, as the journal's segments are.
    unsafe { MmapMut::map_mut(file) }
}

#[cfg(test)]
mod tests;
