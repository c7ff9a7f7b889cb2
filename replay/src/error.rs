//! Errors of the journal and snapshot files. These are cold-path values: they carry the path
//! and offset an operator needs to find the problem, so they own a `PathBuf`.
//!
//! # Invariants
//! - A corrupt record in the middle of a journal is always an error naming the file and the
//!   byte offset; it is never skipped.

use std::path::PathBuf;

use crate::format::{HeaderError, RecordFault};

/// What is wrong with a record that valid records follow (so it is not a torn tail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The bytes are not a valid record.
    Record(RecordFault),
    /// A command record does not carry the next sequence number.
    SeqGap { expected_seq: u64, found_seq: u64 },
    /// A command record's timestamp is below the previous one.
    TimeBackwards { previous_ns: u64, found_ns: u64 },
    /// A config record anywhere but first in segment 0, or segment 0 without one first.
    MisplacedConfig,
    /// A digest record for a seq above the last command, or below the previous digest.
    DigestOrder { digest_seq: u64, last_seq: u64 },
    /// A digest record's payload does not parse.
    DigestPayload,
    /// A command record's payload does not decode as a command.
    CommandPayload,
}

impl core::fmt::Display for Corruption {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Corruption::Record(fault) => write!(f, "{fault}"),
            Corruption::SeqGap {
                expected_seq,
                found_seq,
            } => {
                write!(
                    f,
                    "sequence gap: expected seq {expected_seq}, found {found_seq}"
                )
            }
            Corruption::TimeBackwards {
                previous_ns,
                found_ns,
            } => {
                write!(
                    f,
                    "timestamp went backwards: {found_ns} ns after {previous_ns} ns"
                )
            }
            Corruption::MisplacedConfig => write!(f, "config record missing or misplaced"),
            Corruption::DigestOrder {
                digest_seq,
                last_seq,
            } => {
                write!(
                    f,
                    "digest record for seq {digest_seq} out of order (last command {last_seq})"
                )
            }
            Corruption::DigestPayload => write!(f, "digest record payload invalid"),
            Corruption::CommandPayload => write!(f, "command record payload does not decode"),
        }
    }
}

/// An error opening, reading, recovering or appending to a journal.
#[derive(Debug)]
pub enum JournalError {
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// `create` on a directory that already holds segments.
    AlreadyExists(PathBuf),
    /// No segment files in the directory.
    NoJournal(PathBuf),
    BadHeader {
        path: PathBuf,
        error: HeaderError,
    },
    /// Segment files are not numbered 0, 1, 2, ... without gaps.
    MissingSegment {
        dir: PathBuf,
        index: u64,
    },
    /// A segment's header disagrees with segment 0 or its predecessor.
    SegmentMismatch {
        path: PathBuf,
        what: &'static str,
        expected: u64,
        found: u64,
    },
    /// A record in the middle of the journal is damaged: recovery stops here.
    Corrupt {
        path: PathBuf,
        offset: u64,
        corruption: Corruption,
    },
    /// Options out of range (message names the option).
    BadOptions(&'static str),
}

impl core::fmt::Display for JournalError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            JournalError::Io { op, path, source } => {
                write!(f, "journal I/O error: {op} {}: {source}", path.display())
            }
            JournalError::AlreadyExists(dir) => {
                write!(f, "journal already exists in {}", dir.display())
            }
            JournalError::NoJournal(dir) => {
                write!(f, "no journal segments in {}", dir.display())
            }
            JournalError::BadHeader { path, error } => {
                write!(f, "bad segment header in {}: {error}", path.display())
            }
            JournalError::MissingSegment { dir, index } => {
                write!(f, "journal {} is missing segment {index}", dir.display())
            }
            JournalError::SegmentMismatch {
                path,
                what,
                expected,
                found,
            } => write!(
                f,
                "segment {} does not belong here: {what} is {found}, expected {expected}",
                path.display()
            ),
            JournalError::Corrupt {
                path,
                offset,
                corruption,
            } => write!(
                f,
                "journal corrupt in {} at byte offset {offset}: {corruption} \
                 (records follow it, so this is not a torn tail; recovery stops)",
                path.display()
            ),
            JournalError::BadOptions(what) => write!(f, "bad journal options: {what}"),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Builds an `Io` error; used with `map_err`.
pub(crate) fn io_error(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io { op, path, source }
}
