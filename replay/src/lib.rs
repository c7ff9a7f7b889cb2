//! Peregrine's journal, crash recovery, snapshots and deterministic replay.
//!
//! - [`JournalWriter`] appends every input to memory-mapped, preallocated segment files
//!   before it is processed; the byte format is in [`format`].
//! - [`JournalReader`] reads a journal back: CRCs are checked, a torn tail is cut, a corrupt
//!   record in the middle stops the read with an error naming the file and offset.
//! - [`CoreStage`] is sequencer + journal + core for the node: `submit` stamps, journals and
//!   applies; `open` creates or recovers (newest valid snapshot + journal tail); snapshots
//!   ([`snapshot`]) are taken on request.
//! - [`verify_journal`] re-runs a journal and compares its outputs with the digests recorded
//!   live ([`digest`]); `peregrine replay --verify` is its front end.
//!
//! # Invariants
//! - Nothing is applied to the core before it is in the journal (the page cache at least).
//! - The valid records of a journal are a gap-free prefix `1..=last_seq` of the inputs; a
//!   record is never skipped.
//! - The same journal gives the same outputs, byte for byte, on any host.

pub mod config;
pub mod digest;
pub mod error;
pub mod flow;
pub mod format;
pub mod journal;
pub mod reader;
pub mod snapshot;
pub mod stage;
pub mod verify;

pub use config::{ConfigDecodeError, CoreConfig};
pub use digest::{DigestSink, OutputDigest};
pub use error::{Corruption, JournalError};
pub use format::{DigestPayload, DigestReason, RecordKind, SegmentHeader};
pub use journal::{
    config_digest, segment_path, Durability, JournalCounters, JournalOptions, JournalWriter,
};
pub use reader::{Cursor, JournalEnd, JournalReader, Record, SegmentInfo, TornTail};
pub use snapshot::{SnapshotError, StageSnapshot};
pub use stage::{
    CoreStage, PendingSnapshot, RecoveryReport, SnapshotInfo, StageError, StageOptions,
};
pub use verify::{verify_journal, Divergence, VerifyReport};
