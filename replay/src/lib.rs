//! Peregrine's journal, crash recovery, snapshots and deterministic replay.
//!
//! Every input to the core is journaled before it is processed ([`JournalWriter`]), in
//! memory-mapped, preallocated segment files whose format is in [`format`]. After a crash the
//! journal is read back ([`JournalReader`]): CRCs are checked, a torn tail is cut, a corrupt
//! record in the middle stops recovery with an error naming the file and offset.
//!
//! # Invariants
//! - Nothing is processed before it is in the journal (the page cache at least).
//! - A record is never skipped: the valid records of a journal are a gap-free prefix
//!   `1..=last_seq` of the inputs.

pub mod error;
pub mod flow;
pub mod format;
pub mod journal;
pub mod reader;

pub use error::{Corruption, JournalError};
pub use format::{DigestPayload, DigestReason, RecordKind, SegmentHeader};
pub use journal::{
    config_digest, segment_path, Durability, JournalCounters, JournalOptions, JournalWriter,
};
pub use reader::{Cursor, JournalEnd, JournalReader, Record, SegmentInfo, TornTail};
