//! The journal reader: maps every segment read-only and walks the records in order, checking
//! each CRC, the sequence and the timestamps as it goes (one pass: recovery, replay and the
//! inspection tools all read through [`Cursor`]).
//!
//! # Torn tail or corruption
//! When the walk meets bytes that are not a valid record, it looks for any valid record after
//! them: at every 8-byte boundary to the end of that segment, and in every later segment.
//! - None: the bad bytes are a torn tail (the last append was cut short by a crash). The walk
//!   ends cleanly before them and [`JournalEnd`] says where to resume and what to zero.
//! - Some: the damage is in the middle of the journal. The walk stops with
//!   [`JournalError::Corrupt`] naming the file and the byte offset. Nothing is ever skipped.
//!
//! A record-sized hole followed by intact records can also come from power loss with
//! `PageCache` durability (the kernel writes pages back in any order); it is reported as
//! corruption as well, because the reader cannot tell it from a flipped bit.
//!
//! # Invariants
//! - A record returned by the cursor passed its CRC, and command records come with seq
//!   `1, 2, 3, ...` and non-decreasing timestamps.
//! - The reader never writes; the writer's [`crate::JournalWriter::resume`] acts on
//!   [`JournalEnd`].

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{io_error, Corruption, JournalError};
use crate::format::{
    parse_record, DigestPayload, Parsed, RecordFault, RecordHeader, RecordKind, SegmentHeader,
    RECORD_ALIGN_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::journal::{config_digest, segment_path};

/// One segment file, mapped.
struct Segment {
    path: PathBuf,
    header: SegmentHeader,
    /// The file's bytes (shorter than the header's size if the file was cut short).
    map: Option<Mmap>,
}

impl Segment {
    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Summary of one segment for the inspection tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub path: PathBuf,
    pub header: SegmentHeader,
    pub file_bytes: u64,
}

/// A journal opened for reading.
pub struct JournalReader {
    dir: PathBuf,
    segments: Vec<Segment>,
    config: Vec<u8>,
}

/// One record as the cursor returns it; `payload` borrows the mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub kind: RecordKind,
    pub seq: u64,
    pub timestamp_ns: u64,
    pub payload: &'a [u8],
    pub segment_index: u64,
    /// Byte offset of the record in its segment file.
    pub offset: u64,
    /// Total bytes of the record on disk.
    pub record_bytes: u64,
}

/// A torn tail that recovery cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// Where the torn record starts (the new end of the journal).
    pub offset: u64,
    /// Non-zero bytes from `offset` on that are cut (zeroed on resume).
    pub cut_bytes: u64,
    pub fault: RecordFault,
}

/// Where a fully read journal ends: what [`crate::JournalWriter::resume`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEnd {
    pub segment_index: u64,
    pub segment_size_bytes: u64,
    /// Byte offset after the last valid record: where the next record goes.
    pub offset: u64,
    /// End of the non-zero bytes after `offset` (== `offset` when the tail is clean).
    pub garbage_end: u64,
    pub last_seq: u64,
    pub last_timestamp_ns: u64,
    pub config_digest: u64,
    /// Segments after `segment_index` that hold no valid record (created just before a crash).
    pub empty_later_segments: Vec<PathBuf>,
    pub torn: Option<TornTail>,
}

impl JournalReader {
    /// Opens the journal in `dir`: maps every segment, checks each header (magic, version,
    /// CRC, numbering, same size and config digest as segment 0) and reads the config record.
    pub fn open(dir: &Path) -> Result<JournalReader, JournalError> {
        let count = count_segments(dir)?;
        if count == 0 {
            return Err(JournalError::NoJournal(dir.to_path_buf()));
        }
        let mut segments: Vec<Segment> = Vec::with_capacity(count);
        for index in 0..count as u64 {
            let path = segment_path(dir, index);
            if !path.exists() {
                return Err(JournalError::MissingSegment {
                    dir: dir.to_path_buf(),
                    index,
                });
            }
            let segment = open_segment(path)?;
            check_segment(&segment, index, segments.first())?;
            segments.push(segment);
        }
        let config = read_config(&segments[0])?;
        Ok(JournalReader {
            dir: dir.to_path_buf(),
            segments,
            config,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config record's payload (as the writer was given it).
    pub fn config(&self) -> &[u8] {
        &self.config
    }

    /// XXH3-64 of the config bytes, as every segment header carries it.
    pub fn config_digest(&self) -> u64 {
        self.segments[0].header.config_digest
    }

    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.segments
            .iter()
            .map(|s| SegmentInfo {
                path: s.path.clone(),
                header: s.header,
                file_bytes: s.bytes().len() as u64,
            })
            .collect()
    }

    /// Rough number of command records, from the bytes in use (for progress bars): full
    /// segments count whole, the last one up to its last non-zero byte.
    pub fn estimated_inputs(&self) -> u64 {
        let Some((last, full)) = self.segments.split_last() else {
            return 0;
        };
        let full_bytes: usize = full
            .iter()
            .map(|s| s.bytes().len() - SEGMENT_HEADER_BYTES)
            .sum();
        let last_bytes = nonzero_end(last.bytes(), SEGMENT_HEADER_BYTES) - SEGMENT_HEADER_BYTES;
        ((full_bytes + last_bytes) / crate::format::COMMAND_RECORD_BYTES) as u64
    }

    /// A cursor at the first record (the config record).
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            reader: self,
            segment_slot: 0,
            offset: SEGMENT_HEADER_BYTES,
            last_seq: 0,
            last_timestamp_ns: 0,
            last_digest_seq: 0,
            end: None,
        }
    }
}

/// Walks the records of a journal in order. See the module docs for the end-of-journal rules.
pub struct Cursor<'a> {
    reader: &'a JournalReader,
    /// Index into the reader's segments (== segment index).
    segment_slot: usize,
    /// Offset of the next record in the current segment, 8-aligned.
    offset: usize,
    last_seq: u64,
    last_timestamp_ns: u64,
    last_digest_seq: u64,
    end: Option<JournalEnd>,
}

impl<'a> Cursor<'a> {
    /// The next valid record, `Ok(None)` at the end of the valid data (after which
    /// [`Cursor::end`] is set), or the corruption that stops the walk.
    pub fn next_record(&mut self) -> Result<Option<Record<'a>>, JournalError> {
        if self.end.is_some() {
            return Ok(None);
        }
        let reader = self.reader;
        // Bounded: one pass per segment at most (each turn either returns or moves on).
        for _ in 0..=reader.segments.len() {
            let segment = &reader.segments[self.segment_slot];
            let bytes = segment.bytes();
            let area = bytes.get(self.offset..).unwrap_or(&[]);
            match parse_record(area) {
                Parsed::Record(header, total) => {
                    return self.accept(segment, header, total).map(Some);
                }
                Parsed::Empty if all_zero(area) => {
                    if self.segment_slot + 1 == reader.segments.len() {
                        self.finish(None);
                        return Ok(None);
                    }
                    self.enter_next_segment()?;
                }
                Parsed::Empty => {
                    let fault = RecordFault::BadLength(0);
                    return self.bad_bytes(fault).map(|()| None);
                }
                Parsed::Invalid(fault) => return self.bad_bytes(fault).map(|()| None),
            }
        }
        unreachable!("cursor: segment walk exceeded the segment count")
    }

    /// Where the valid data ends; `Some` once `next_record` has returned `Ok(None)`.
    pub fn end(&self) -> Option<&JournalEnd> {
        self.end.as_ref()
    }

    /// Seq of the last command record returned.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn accept(
        &mut self,
        segment: &'a Segment,
        header: RecordHeader,
        total: usize,
    ) -> Result<Record<'a>, JournalError> {
        let at_config_slot = self.segment_slot == 0 && self.offset == SEGMENT_HEADER_BYTES;
        let payload_at = self.offset + crate::format::RECORD_HEADER_BYTES;
        let payload = &segment.bytes()[payload_at..payload_at + header.payload_len];
        let problem = match header.kind {
            RecordKind::Config if !at_config_slot => Some(Corruption::MisplacedConfig),
            RecordKind::Config => None,
            _ if at_config_slot => Some(Corruption::MisplacedConfig),
            RecordKind::Command => self.check_command(&header),
            RecordKind::Digest => self.check_digest(&header, payload),
        };
        if let Some(corruption) = problem {
            return Err(self.corrupt(corruption));
        }
        if header.kind == RecordKind::Command {
            self.last_seq = header.seq;
            self.last_timestamp_ns = header.timestamp_ns;
        }
        if header.kind == RecordKind::Digest {
            self.last_digest_seq = header.seq;
        }
        let record = Record {
            kind: header.kind,
            seq: header.seq,
            timestamp_ns: header.timestamp_ns,
            payload,
            segment_index: segment.header.segment_index,
            offset: self.offset as u64,
            record_bytes: total as u64,
        };
        self.offset += total;
        Ok(record)
    }

    fn check_command(&self, header: &RecordHeader) -> Option<Corruption> {
        if header.seq != self.last_seq + 1 {
            return Some(Corruption::SeqGap {
                expected_seq: self.last_seq + 1,
                found_seq: header.seq,
            });
        }
        if header.timestamp_ns < self.last_timestamp_ns {
            let previous_ns = self.last_timestamp_ns;
            return Some(Corruption::TimeBackwards {
                previous_ns,
                found_ns: header.timestamp_ns,
            });
        }
        None
    }

    fn check_digest(&self, header: &RecordHeader, payload: &[u8]) -> Option<Corruption> {
        if header.seq > self.last_seq || header.seq < self.last_digest_seq {
            return Some(Corruption::DigestOrder {
                digest_seq: header.seq,
                last_seq: self.last_seq,
            });
        }
        DigestPayload::parse(payload)
            .is_none()
            .then_some(Corruption::DigestPayload)
    }

    fn enter_next_segment(&mut self) -> Result<(), JournalError> {
        self.segment_slot += 1;
        self.offset = SEGMENT_HEADER_BYTES;
        let segment = &self.reader.segments[self.segment_slot];
        if segment.header.first_seq != self.last_seq + 1 {
            return Err(JournalError::SegmentMismatch {
                path: segment.path.clone(),
                what: "first_seq",
                expected: self.last_seq + 1,
                found: segment.header.first_seq,
            });
        }
        Ok(())
    }

    /// Bytes at the cursor are not a record: a torn tail (end cleanly) or corruption (error).
    fn bad_bytes(&mut self, fault: RecordFault) -> Result<(), JournalError> {
        if self.valid_record_follows() {
            return Err(self.corrupt(Corruption::Record(fault)));
        }
        let segment = &self.reader.segments[self.segment_slot];
        let garbage_end = nonzero_end(segment.bytes(), self.offset);
        let torn = TornTail {
            path: segment.path.clone(),
            offset: self.offset as u64,
            cut_bytes: (garbage_end - self.offset) as u64,
            fault,
        };
        self.finish(Some(torn));
        Ok(())
    }

    /// True when any valid record starts after the cursor: later in this segment (at any
    /// 8-byte boundary) or anywhere in a later segment.
    fn valid_record_follows(&self) -> bool {
        let segments = &self.reader.segments;
        let bytes = segments[self.segment_slot].bytes();
        if any_record_from(bytes, self.offset + RECORD_ALIGN_BYTES) {
            return true;
        }
        segments[self.segment_slot + 1..]
            .iter()
            .any(|later| any_record_from(later.bytes(), SEGMENT_HEADER_BYTES))
    }

    fn finish(&mut self, torn: Option<TornTail>) {
        let reader = self.reader;
        let segment = &reader.segments[self.segment_slot];
        let garbage_end = match &torn {
            Some(tail) => tail.offset + tail.cut_bytes,
            None => self.offset as u64,
        };
        let empty_later_segments = reader.segments[self.segment_slot + 1..]
            .iter()
            .map(|s| s.path.clone())
            .collect();
        self.end = Some(JournalEnd {
            segment_index: segment.header.segment_index,
            segment_size_bytes: segment.header.segment_size_bytes,
            offset: self.offset as u64,
            garbage_end,
            last_seq: self.last_seq,
            last_timestamp_ns: self.last_timestamp_ns,
            config_digest: segment.header.config_digest,
            empty_later_segments,
            torn,
        });
    }

    fn corrupt(&self, corruption: Corruption) -> JournalError {
        let path = self.reader.segments[self.segment_slot].path.clone();
        JournalError::Corrupt {
            path,
            offset: self.offset as u64,
            corruption,
        }
    }
}

/// True when a valid record starts at some 8-aligned offset `>= from` in `bytes`.
fn any_record_from(bytes: &[u8], from: usize) -> bool {
    let mut offset = from.next_multiple_of(RECORD_ALIGN_BYTES);
    while offset < bytes.len() {
        if matches!(parse_record(&bytes[offset..]), Parsed::Record(..)) {
            return true;
        }
        offset += RECORD_ALIGN_BYTES;
    }
    false
}

/// True when every byte is zero. Word-wise, 64 bytes per step: the end-of-journal check
/// walks the unused rest of the last segment (up to its whole size).
fn all_zero(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    let blocks_zero = blocks.all(|block| {
        block.chunks_exact(8).fold(0u64, |acc, word| {
            let mut lanes = [0u8; 8];
            lanes.copy_from_slice(word);
            acc | u64::from_ne_bytes(lanes)
        }) == 0
    });
    blocks_zero && blocks.remainder().iter().all(|&b| b == 0)
}

/// The 8-aligned end of the last non-zero byte at or after `from` (or `from` if none).
fn nonzero_end(bytes: &[u8], from: usize) -> usize {
    let tail = bytes.get(from..).unwrap_or(&[]);
    // Skip zero 4 KiB blocks from the end word-wise, then find the byte.
    let mut end = tail.len();
    while end > 0 {
        let start = end.saturating_sub(4096);
        if !all_zero(&tail[start..end]) {
            break;
        }
        end = start;
    }
    match tail[..end].iter().rposition(|&b| b != 0) {
        Some(last) => (from + last + 1)
            .next_multiple_of(RECORD_ALIGN_BYTES)
            .min(bytes.len()),
        None => from,
    }
}

/// Number of consecutive-looking segment files: the highest index present plus one.
fn count_segments(dir: &Path) -> Result<usize, JournalError> {
    let entries = std::fs::read_dir(dir).map_err(io_error("read directory", dir))?;
    let mut highest: Option<u64> = None;
    for entry in entries {
        let entry = entry.map_err(io_error("read directory", dir))?;
        let name = entry.file_name();
        let Some(index) = parse_segment_name(&name.to_string_lossy()) else {
            continue;
        };
        highest = Some(highest.map_or(index, |h| h.max(index)));
    }
    let count = highest.map_or(0, |h| h + 1);
    usize::try_from(count).map_err(|_| JournalError::BadOptions("too many segments"))
}

/// `segment-0000000012.journal` → 12.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".journal")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn open_segment(path: PathBuf) -> Result<Segment, JournalError> {
    let file = File::open(&path).map_err(io_error("open segment", &path))?;
    let len = file
        .metadata()
        .map_err(io_error("stat segment", &path))?
        .len();
    let map = if len == 0 {
        None
    } else {
        // SAFETY: journal segments are written only by the journal's single writer, which is
        // not running while a reader maps them (recovery and tools run before or instead of it).
        // MAP_POPULATE: one pass maps every page instead of one minor fault per 4 KiB read.
        Some(
            unsafe { memmap2::MmapOptions::new().populate().map(&file) }
                .map_err(io_error("mmap segment", &path))?,
        )
    };
    let bytes = map.as_deref().unwrap_or(&[]);
    let header = SegmentHeader::parse(bytes).map_err(|error| JournalError::BadHeader {
        path: path.clone(),
        error,
    })?;
    Ok(Segment { path, header, map })
}

fn check_segment(
    segment: &Segment,
    index: u64,
    first: Option<&Segment>,
) -> Result<(), JournalError> {
    let mismatch = |what, expected, found| JournalError::SegmentMismatch {
        path: segment.path.clone(),
        what,
        expected,
        found,
    };
    let header = &segment.header;
    if header.segment_index != index {
        return Err(mismatch("segment_index", index, header.segment_index));
    }
    let file_bytes = segment.bytes().len() as u64;
    if file_bytes > header.segment_size_bytes {
        return Err(mismatch("file size", header.segment_size_bytes, file_bytes));
    }
    if let Some(first) = first {
        let size = first.header.segment_size_bytes;
        if header.segment_size_bytes != size {
            return Err(mismatch(
                "segment_size_bytes",
                size,
                header.segment_size_bytes,
            ));
        }
        let digest = first.header.config_digest;
        if header.config_digest != digest {
            return Err(mismatch("config_digest", digest, header.config_digest));
        }
    }
    Ok(())
}

fn read_config(segment: &Segment) -> Result<Vec<u8>, JournalError> {
    let misplaced = || JournalError::Corrupt {
        path: segment.path.clone(),
        offset: SEGMENT_HEADER_BYTES as u64,
        corruption: Corruption::MisplacedConfig,
    };
    let area = segment.bytes().get(SEGMENT_HEADER_BYTES..).unwrap_or(&[]);
    let Parsed::Record(header, _) = parse_record(area) else {
        return Err(misplaced());
    };
    if header.kind != RecordKind::Config {
        return Err(misplaced());
    }
    let payload_at = crate::format::RECORD_HEADER_BYTES;
    let config = area[payload_at..payload_at + header.payload_len].to_vec();
    let digest = config_digest(&config);
    if digest != segment.header.config_digest {
        return Err(JournalError::SegmentMismatch {
            path: segment.path.clone(),
            what: "config record digest",
            expected: segment.header.config_digest,
            found: digest,
        });
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_parse_strictly() {
        assert_eq!(parse_segment_name("segment-0000000012.journal"), Some(12));
        assert_eq!(parse_segment_name("segment-12.journal"), None);
        assert_eq!(parse_segment_name("segment-0000000012.tmp"), None);
        assert_eq!(parse_segment_name("segment-00000000x2.journal"), None);
    }

    #[test]
    fn all_zero_sees_a_byte_anywhere() {
        let mut bytes = vec![0u8; 200];
        assert!(all_zero(&bytes));
        for at in [0, 63, 64, 130, 199] {
            bytes[at] = 1;
            assert!(!all_zero(&bytes), "{at}");
            bytes[at] = 0;
        }
        let mut long = vec![0u8; 10_000];
        assert_eq!(nonzero_end(&long, 0), 0);
        long[5_000] = 3;
        assert_eq!(nonzero_end(&long, 8), 5_008);
    }

    #[test]
    fn nonzero_end_rounds_up_and_stops_at_the_end() {
        let mut bytes = [0u8; 64];
        assert_eq!(nonzero_end(&bytes, 8), 8);
        bytes[20] = 1;
        assert_eq!(nonzero_end(&bytes, 8), 24);
        bytes[63] = 1;
        assert_eq!(nonzero_end(&bytes, 8), 64);
    }
}
