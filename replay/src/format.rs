//! The journal's on-disk format: segment header and record framing, written once here and
//! used by the writer ([`crate::journal`]) and the reader ([`crate::reader`]).
//!
//! A journal is a directory of segment files `segment-NNNNNNNNNN.journal` (index from 0, ten
//! decimal digits). Every segment has the same preallocated size. It starts with a
//! [`SEGMENT_HEADER_BYTES`]-byte header, then records back to back, each 8-byte aligned; the
//! unused tail of a segment is zero.
//!
//! Segment header (little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"PRGJRNL\0"` |
//! | 8 | 4 | format version ([`FORMAT_VERSION`]) |
//! | 12 | 4 | header size in bytes (64) |
//! | 16 | 8 | segment index (0, 1, 2, ...) |
//! | 24 | 8 | segment size in bytes (the whole file) |
//! | 32 | 8 | `first_seq`: the seq the first command of this segment must carry |
//! | 40 | 8 | config digest (XXH3-64 of the config record's payload) |
//! | 48 | 12 | reserved, zero |
//! | 60 | 4 | CRC32C of bytes 0..60 |
//!
//! Record (little-endian, `record_bytes(payload_len)` bytes in all):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | payload length in bytes (`len`) |
//! | 4 | 1 | record type ([`RecordKind`]) |
//! | 5 | 3 | reserved, zero |
//! | 8 | 8 | sequence number |
//! | 16 | 8 | timestamp from the sequencer, ns since the Unix epoch |
//! | 24 | len | payload |
//! | 24 + len | pad | zero bytes up to `total - 4` |
//! | total - 4 | 4 | CRC32C of bytes `0..total - 4` (header, payload and padding) |
//!
//! A zero `len` with a zero type byte marks the end of the written data: segments are
//! preallocated with zeros, and a record never has type 0.
//!
//! # Invariants
//! - Every record starts on an 8-byte boundary and its total size is a multiple of 8.
//! - A record's CRC covers every byte of it except the CRC itself, padding included, so any
//!   torn or flipped byte inside a record's extent is detected.
//! - Encoding never allocates; decoding never panics on any bytes ([`parse_record`] and
//!   [`SegmentHeader::parse`] return typed errors).

use peregrine_engine::record::{COMMAND_BYTES, EVENT_BYTES};

/// Magic bytes at the start of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"PRGJRNL\0";
/// Version of this format. A reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;
/// Size of the segment header; records start here.
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// Size of a record's fixed header (length, type, reserved, seq, timestamp).
pub const RECORD_HEADER_BYTES: usize = 24;
/// Size of the CRC at the end of every record.
pub const RECORD_CRC_BYTES: usize = 4;
/// Records are aligned to (and sized in multiples of) this many bytes.
pub const RECORD_ALIGN_BYTES: usize = 8;
/// Largest payload a record may carry (the config record is the only large one).
pub const PAYLOAD_BYTES_MAX: usize = 1 << 20;
/// Smallest segment (64 KiB). Segment 0 must also hold the config record, checked at create.
pub const SEGMENT_BYTES_MIN: u64 = 1 << 16;
/// Largest segment (offsets in records are in-memory `usize`, mapped whole).
pub const SEGMENT_BYTES_MAX: u64 = 1 << 34;

/// Size of a digest record's payload.
pub const DIGEST_PAYLOAD_BYTES: usize = 24;

/// Total bytes of a command record.
pub const COMMAND_RECORD_BYTES: usize = record_bytes(COMMAND_BYTES);
/// Total bytes of an event record.
pub const EVENT_RECORD_BYTES: usize = record_bytes(EVENT_BYTES);
/// Total bytes of a digest record.
pub const DIGEST_RECORD_BYTES: usize = record_bytes(DIGEST_PAYLOAD_BYTES);

const _: () = assert!(COMMAND_RECORD_BYTES == 96);
const _: () = assert!(DIGEST_RECORD_BYTES == 56);
const _: () = assert!(SEGMENT_HEADER_BYTES.is_multiple_of(RECORD_ALIGN_BYTES));
const _: () = assert!(SEGMENT_BYTES_MIN < SEGMENT_BYTES_MAX);
// Every record but the config fits in a fresh segment.
const _: () = assert!(SEGMENT_HEADER_BYTES + EVENT_RECORD_BYTES < SEGMENT_BYTES_MIN as usize);

/// Total size of a record carrying `payload_len` bytes: header, payload, CRC, rounded up to
/// [`RECORD_ALIGN_BYTES`].
pub const fn record_bytes(payload_len: usize) -> usize {
    let raw = RECORD_HEADER_BYTES + payload_len + RECORD_CRC_BYTES;
    raw.div_ceil(RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES
}

/// The type byte of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum RecordKind {
    /// The core's configuration, as [`crate::config::CoreConfig::encode`] wrote it. Exactly one,
    /// the first record of segment 0, with seq 0 and timestamp 0.
    Config = 1,
    /// One sequenced input: the payload is `encode_command`'s [`COMMAND_BYTES`].
    Command = 2,
    /// The rolling digest of the outputs of every command up to and including `seq`.
    Digest = 3,
}

impl RecordKind {
    pub const ALL: &'static [RecordKind] =
        &[RecordKind::Config, RecordKind::Command, RecordKind::Digest];

    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn from_code(code: u8) -> Option<RecordKind> {
        match code {
            1 => Some(RecordKind::Config),
            2 => Some(RecordKind::Command),
            3 => Some(RecordKind::Digest),
            _ => None,
        }
    }

    /// The payload length every record of this kind has, or `None` when it varies.
    pub const fn fixed_payload_len(self) -> Option<usize> {
        match self {
            RecordKind::Config => None,
            RecordKind::Command => Some(COMMAND_BYTES),
            RecordKind::Digest => Some(DIGEST_PAYLOAD_BYTES),
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::Config => "config",
            RecordKind::Command => "command",
            RecordKind::Digest => "digest",
        }
    }
}

impl core::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The fields of a segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub segment_index: u64,
    pub segment_size_bytes: u64,
    pub first_seq: u64,
    pub config_digest: u64,
}

/// Why a segment header is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    Short,
    Magic,
    Version(u32),
    HeaderSize(u32),
    Checksum,
    SegmentSize(u64),
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HeaderError::Short => write!(f, "file shorter than the segment header"),
            HeaderError::Magic => write!(f, "bad magic (not a peregrine journal segment)"),
            HeaderError::Version(v) => {
                write!(f, "format version {v}, this build reads {FORMAT_VERSION}")
            }
            HeaderError::HeaderSize(n) => write!(f, "header size {n}, expected 64"),
            HeaderError::Checksum => write!(f, "header CRC mismatch"),
            HeaderError::SegmentSize(n) => write!(f, "segment size {n} out of range"),
        }
    }
}

impl SegmentHeader {
    /// Writes the header into the first [`SEGMENT_HEADER_BYTES`] of `out`.
    pub fn emit(&self, out: &mut [u8; SEGMENT_HEADER_BYTES]) {
        out.fill(0);
        out[0..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let header_size = SEGMENT_HEADER_BYTES as u32;
        out[12..16].copy_from_slice(&header_size.to_le_bytes());
        out[16..24].copy_from_slice(&self.segment_index.to_le_bytes());
        out[24..32].copy_from_slice(&self.segment_size_bytes.to_le_bytes());
        out[32..40].copy_from_slice(&self.first_seq.to_le_bytes());
        out[40..48].copy_from_slice(&self.config_digest.to_le_bytes());
        let crc = crc32c(&out[0..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
    }

    /// Reads and checks a header from the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<SegmentHeader, HeaderError> {
        let bytes = bytes
            .get(..SEGMENT_HEADER_BYTES)
            .ok_or(HeaderError::Short)?;
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err(HeaderError::Magic);
        }
        if u32_at(bytes, 60) != crc32c(&bytes[0..60]) {
            return Err(HeaderError::Checksum);
        }
        let version = u32_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        let header_size = u32_at(bytes, 12);
        if header_size as usize != SEGMENT_HEADER_BYTES {
            return Err(HeaderError::HeaderSize(header_size));
        }
        let segment_size_bytes = u64_at(bytes, 24);
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&segment_size_bytes) {
            return Err(HeaderError::SegmentSize(segment_size_bytes));
        }
        Ok(SegmentHeader {
            segment_index: u64_at(bytes, 16),
            segment_size_bytes,
            first_seq: u64_at(bytes, 32),
            config_digest: u64_at(bytes, 40),
        })
    }
}

/// A record's header fields (the payload stays in the mapped bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub kind: RecordKind,
    pub payload_len: usize,
    pub seq: u64,
    pub timestamp_ns: u64,
}

/// What [`parse_record`] found at an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole, checksummed record of this many bytes.
    Record(RecordHeader, usize),
    /// Zero length and zero type: no record starts here.
    Empty,
    /// Bytes that are not a valid record (torn or corrupt); the reason.
    Invalid(RecordFault),
}

/// Why the bytes at an offset are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFault {
    /// The type byte is not a known [`RecordKind`].
    UnknownKind(u8),
    /// The length is wrong for the type, above [`PAYLOAD_BYTES_MAX`], or runs past the segment.
    BadLength(u32),
    /// Reserved header bytes are not zero.
    Reserved,
    /// The CRC does not match the bytes.
    Checksum,
}

impl core::fmt::Display for RecordFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RecordFault::UnknownKind(code) => write!(f, "unknown record type {code}"),
            RecordFault::BadLength(len) => write!(f, "impossible payload length {len}"),
            RecordFault::Reserved => write!(f, "reserved header bytes not zero"),
            RecordFault::Checksum => write!(f, "CRC32C mismatch"),
        }
    }
}

/// Judges the bytes at the start of `area` (the rest of a segment from an aligned offset).
/// Never panics; never reads past `area`.
pub fn parse_record(area: &[u8]) -> Parsed {
    let Some(header) = area.get(..RECORD_HEADER_BYTES) else {
        return if area.iter().all(|&b| b == 0) {
            Parsed::Empty
        } else {
            Parsed::Invalid(RecordFault::BadLength(0))
        };
    };
    let len = u32_at(header, 0);
    let code = header[4];
    if len == 0 && code == 0 {
        return Parsed::Empty;
    }
    let Some(kind) = RecordKind::from_code(code) else {
        return Parsed::Invalid(RecordFault::UnknownKind(code));
    };
    let payload_len = len as usize;
    let length_ok = match kind.fixed_payload_len() {
        Some(fixed) => payload_len == fixed,
        None => payload_len <= PAYLOAD_BYTES_MAX,
    };
    let total = record_bytes(payload_len);
    if !length_ok || total > area.len() {
        return Parsed::Invalid(RecordFault::BadLength(len));
    }
    if header[5..8] != [0, 0, 0] {
        return Parsed::Invalid(RecordFault::Reserved);
    }
    let crc_at = total - RECORD_CRC_BYTES;
    if u32_at(area, crc_at) != crc32c(&area[..crc_at]) {
        return Parsed::Invalid(RecordFault::Checksum);
    }
    let record = RecordHeader {
        kind,
        payload_len,
        seq: u64_at(header, 8),
        timestamp_ns: u64_at(header, 16),
    };
    Parsed::Record(record, total)
}

/// Writes a whole record (header, payload, zero padding, CRC) into the front of `out`, which
/// must hold at least `record_bytes(payload.len())` bytes. Returns the bytes written.
pub fn emit_record(
    out: &mut [u8],
    kind: RecordKind,
    seq: u64,
    timestamp_ns: u64,
    payload: &[u8],
) -> usize {
    let total = record_bytes(payload.len());
    assert!(payload.len() <= PAYLOAD_BYTES_MAX);
    assert!(out.len() >= total);
    let out = &mut out[..total];
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out[0..4].copy_from_slice(&len.to_le_bytes());
    out[4] = kind.code();
    out[5..8].fill(0);
    out[8..16].copy_from_slice(&seq.to_le_bytes());
    out[16..24].copy_from_slice(&timestamp_ns.to_le_bytes());
    let payload_end = RECORD_HEADER_BYTES + payload.len();
    out[RECORD_HEADER_BYTES..payload_end].copy_from_slice(payload);
    let crc_at = total - RECORD_CRC_BYTES;
    out[payload_end..crc_at].fill(0);
    let crc = crc32c(&out[..crc_at]);
    out[crc_at..total].copy_from_slice(&crc.to_le_bytes());
    total
}

/// The payload of a digest record: after applying every command up to `seq` (the record's
/// seq field), the core had emitted `event_count` events whose rolling digest is `digest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestPayload {
    pub event_count: u64,
    pub digest: u64,
    /// Why it was written.
    pub reason: DigestReason,
}

/// Why a digest record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestReason {
    /// Every `digest_interval_inputs` inputs.
    Interval = 1,
    /// At a snapshot.
    Snapshot = 2,
    /// At the end of a session (`CoreStage::close`).
    Close = 3,
}

impl DigestReason {
    pub const fn from_code(code: u64) -> Option<DigestReason> {
        match code {
            1 => Some(DigestReason::Interval),
            2 => Some(DigestReason::Snapshot),
            3 => Some(DigestReason::Close),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            DigestReason::Interval => "interval",
            DigestReason::Snapshot => "snapshot",
            DigestReason::Close => "close",
        }
    }
}

impl DigestPayload {
    pub fn emit(&self, out: &mut [u8; DIGEST_PAYLOAD_BYTES]) {
        out[0..8].copy_from_slice(&self.event_count.to_le_bytes());
        out[8..16].copy_from_slice(&self.digest.to_le_bytes());
        out[16..24].copy_from_slice(&(self.reason as u64).to_le_bytes());
    }

    /// `None` when the bytes are not a digest payload.
    pub fn parse(bytes: &[u8]) -> Option<DigestPayload> {
        if bytes.len() != DIGEST_PAYLOAD_BYTES {
            return None;
        }
        Some(DigestPayload {
            event_count: u64_at(bytes, 0),
            digest: u64_at(bytes, 8),
            reason: DigestReason::from_code(u64_at(bytes, 16))?,
        })
    }
}

/// CRC32C (Castagnoli) of `bytes`, as `crc32c::crc32c` computes it. On x86-64 with SSE4.2 it
/// runs one `crc32` instruction per 8 bytes inline: for the ~90-byte records of the journal
/// this is about twice as fast as the crate's general path (which splits the buffer for long
/// inputs); elsewhere it is the crate's.
pub fn crc32c(bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2, checked just above.
            return unsafe { crc32c_sse42(bytes) };
        }
    }
    crc32c::crc32c(bytes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(bytes: &[u8]) -> u32 {
    use core::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut state = u64::from(u32::MAX);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut lanes = [0u8; 8];
        lanes.copy_from_slice(word);
        state = _mm_crc32_u64(state, u64::from_le_bytes(lanes));
    }
    let mut state = u32::try_from(state).unwrap_or(u32::MAX);
    for &byte in words.remainder() {
        state = _mm_crc32_u8(state, byte);
    }
    !state
}

/// Little-endian `u32` at `offset`; the caller has checked the bounds.
pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

/// Little-endian `u64` at `offset`; the caller has checked the bounds.
pub(crate) fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_crc_matches_the_crate_on_every_length() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let bytes: Vec<u8> = (0..300)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for start in 0..8 {
            for end in start..bytes.len() {
                assert_eq!(
                    crc32c(&bytes[start..end]),
                    crc32c::crc32c(&bytes[start..end])
                );
            }
        }
        // The CRC-32C check value of "123456789".
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn record_sizes_are_aligned() {
        for len in 0..300 {
            let total = record_bytes(len);
            assert_eq!(total % RECORD_ALIGN_BYTES, 0);
            assert!(total >= RECORD_HEADER_BYTES + len + RECORD_CRC_BYTES);
            assert!(total < RECORD_HEADER_BYTES + len + RECORD_CRC_BYTES + RECORD_ALIGN_BYTES);
        }
    }

    #[test]
    fn record_round_trips_and_every_flipped_bit_is_caught() {
        let mut area = [0xa5u8; 128];
        let payload = [7u8; COMMAND_BYTES];
        let total = emit_record(&mut area, RecordKind::Command, 42, 1_000, &payload);
        assert_eq!(total, COMMAND_RECORD_BYTES);
        let expected = RecordHeader {
            kind: RecordKind::Command,
            payload_len: COMMAND_BYTES,
            seq: 42,
            timestamp_ns: 1_000,
        };
        assert_eq!(
            parse_record(&area[..total]),
            Parsed::Record(expected, total)
        );
        assert_eq!(&area[24..24 + COMMAND_BYTES], &payload[..]);
        for bit in 0..total * 8 {
            let mut copy = area;
            copy[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(parse_record(&copy[..total]), Parsed::Invalid(_)),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn zeros_are_empty_and_short_garbage_is_invalid() {
        assert_eq!(parse_record(&[0u8; 64]), Parsed::Empty);
        assert_eq!(parse_record(&[0u8; 8]), Parsed::Empty);
        assert!(matches!(parse_record(&[1u8; 8]), Parsed::Invalid(_)));
        let mut area = [0u8; 64];
        area[0] = 64;
        area[4] = RecordKind::Command.code();
        assert_eq!(
            parse_record(&area),
            Parsed::Invalid(RecordFault::BadLength(64))
        );
    }

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let header = SegmentHeader {
            segment_index: 3,
            segment_size_bytes: 1 << 26,
            first_seq: 1001,
            config_digest: 0xdead_beef,
        };
        let mut bytes = [0xa5u8; SEGMENT_HEADER_BYTES];
        header.emit(&mut bytes);
        assert_eq!(SegmentHeader::parse(&bytes), Ok(header));
        let mut bad = bytes;
        bad[20] ^= 1;
        assert_eq!(SegmentHeader::parse(&bad), Err(HeaderError::Checksum));
        bad = bytes;
        bad[0] = b'X';
        assert_eq!(SegmentHeader::parse(&bad), Err(HeaderError::Magic));
        assert_eq!(SegmentHeader::parse(&bytes[..10]), Err(HeaderError::Short));
    }

    #[test]
    fn digest_payload_round_trips() {
        let digest = DigestPayload {
            event_count: 9,
            digest: 77,
            reason: DigestReason::Close,
        };
        let mut bytes = [0u8; DIGEST_PAYLOAD_BYTES];
        digest.emit(&mut bytes);
        assert_eq!(DigestPayload::parse(&bytes), Some(digest));
        bytes[16] = 9;
        assert_eq!(DigestPayload::parse(&bytes), None);
    }
}
