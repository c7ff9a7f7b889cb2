//! A user's session log: one memory-mapped, append-only file per order-entry user that keeps
//! everything the gateway needs to serve a re-login and to rebuild the user's OUCH state after
//! a restart.
//!
//! Three kinds of record, in the order the gateway saw them:
//! - `In`: an inbound OUCH message handed to the user's `OrderEntry` (raw bytes);
//! - `Event`: a core event routed to the user (`input_seq`, `event_index`, the 80-byte engine
//!   record), and `Synthetic` for a reject the gateway made up during recovery;
//! - `Out`: a sequenced outbound message; the `n`th `Out` record is SoupBinTCP message `n`.
//!
//! Replaying `In`/`Event`/`Synthetic` records into a fresh `OrderEntry` gives the state it had
//! (its inputs are exactly these, in this order, and it is deterministic); the `Out` records are
//! the session's sequenced messages, kept for every re-login, across restarts too.
//!
//! File layout: a 64-byte header (`PRGSLOG1`, version), then records, each 8-byte aligned:
//! `u32 total_len`, `u8 kind`, `u8 0`, `u16 payload_len`, `u64 tag` (received ns / input seq /
//! message seq), `u32 aux` (event index), `u32 crc32c` (over the 20 header bytes before it and
//! the payload), payload, zero padding. A zero `total_len` ends the log.
//!
//! # Invariants
//! - Records are only appended; `end` is the offset after the last valid record, and every byte
//!   from `end` to the end of the mapping is zero (recovery zeroes a torn tail).
//! - `Out` tags are `1, 2, 3, …` in file order with no gap; `out_count` is the last one.
//! - Appending allocates nothing unless the file must grow (remap, doubling) or the sparse
//!   index passes its reserved capacity: both are rare and logged.
//! - Durability is the page cache (a process crash loses nothing that was appended); `flush`
//!   `msync`s at shutdown.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use memmap2::MmapMut;

const MAGIC: [u8; 8] = *b"PRGSLOG1";
const FILE_HEADER_BYTES: usize = 64;
const RECORD_HEADER_BYTES: usize = 24;
/// Largest payload: a whole SoupBinTCP payload fits.
pub const PAYLOAD_BYTES_MAX: usize = u16::MAX as usize;
/// Every `INDEX_STRIDE`th `Out` record's offset is kept in memory, so a re-login finds its
/// first message after at most `INDEX_STRIDE` record hops.
const INDEX_STRIDE: u64 = 256;
/// Bytes zeroed after a torn record (larger than any record).
const TORN_ZERO_BYTES: usize = RECORD_HEADER_BYTES + PAYLOAD_BYTES_MAX + 8;

const _: () = assert!(FILE_HEADER_BYTES.is_multiple_of(8) && RECORD_HEADER_BYTES.is_multiple_of(8));

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    In = 1,
    Event = 2,
    Out = 3,
    Synthetic = 4,
}

impl RecordKind {
    fn from_code(code: u8) -> Option<RecordKind> {
        match code {
            1 => Some(RecordKind::In),
            2 => Some(RecordKind::Event),
            3 => Some(RecordKind::Out),
            4 => Some(RecordKind::Synthetic),
            _ => None,
        }
    }
}

/// One record, borrowed from the mapping.
#[derive(Clone, Copy, Debug)]
pub struct LogRecord<'a> {
    pub kind: RecordKind,
    pub tag: u64,
    pub aux: u32,
    pub payload: &'a [u8],
    /// Offset of the record after this one.
    pub next_offset: usize,
}

/// One user's session log.
pub struct SessionLog {
    path: PathBuf,
    file: File,
    map: MmapMut,
    /// Offset after the last valid record.
    end: usize,
    /// Number of `Out` records (the last sequenced message number).
    out_count: u64,
    /// Offsets of `Out` records `1, 1 + STRIDE, 1 + 2 * STRIDE, …`.
    index: Vec<usize>,
    /// Bytes of a torn tail cut at open (0 when clean).
    pub torn_bytes: usize,
}

fn align8(len: usize) -> usize {
    (len + 7) & !7
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(raw)
}

/// Parses the record at `offset` of `bytes`; `None` at the end or at a torn/corrupt record.
fn parse_record(bytes: &[u8], offset: usize) -> Option<LogRecord<'_>> {
    if offset + RECORD_HEADER_BYTES > bytes.len() {
        return None;
    }
    let total = usize::try_from(read_u32(bytes, offset)).ok()?;
    if total < RECORD_HEADER_BYTES || total % 8 != 0 || offset + total > bytes.len() {
        return None;
    }
    let kind = RecordKind::from_code(bytes[offset + 4])?;
    let payload_len = usize::from(u16::from_le_bytes([bytes[offset + 6], bytes[offset + 7]]));
    if RECORD_HEADER_BYTES + payload_len > total {
        return None;
    }
    let payload = &bytes[offset + RECORD_HEADER_BYTES..offset + RECORD_HEADER_BYTES + payload_len];
    let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[offset..offset + 20]), payload);
    if crc != read_u32(bytes, offset + 20) {
        return None;
    }
    Some(LogRecord {
        kind,
        tag: read_u64(bytes, offset + 8),
        aux: read_u32(bytes, offset + 16),
        payload,
        next_offset: offset + total,
    })
}

impl SessionLog {
    /// Opens the log at `path`, creating it with `initial_bytes` of (sparse) space if absent;
    /// scans it, cutting a torn tail.
    pub fn open(path: &Path, initial_bytes: u64) -> anyhow::Result<SessionLog> {
        let exists = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open session log {}", path.display()))?;
        let len = file.metadata()?.len();
        if !exists || len == 0 {
            file.set_len(initial_bytes.max(1 << 16))?;
        }
        // SAFETY: the file is ours (one node per data directory, enforced by the journal's
        // own exclusive use of the directory); nobody truncates it while it is mapped.
        let mut map = unsafe { MmapMut::map_mut(&file) }
            .with_context(|| format!("cannot map session log {}", path.display()))?;
        if !exists || len == 0 {
            map[..8].copy_from_slice(&MAGIC);
            map[8..12].copy_from_slice(&1u32.to_le_bytes());
        } else if map.len() < FILE_HEADER_BYTES || map[..8] != MAGIC {
            bail!("{} is not a session log", path.display());
        }
        let mut log = SessionLog {
            path: path.to_path_buf(),
            file,
            map,
            end: FILE_HEADER_BYTES,
            out_count: 0,
            index: Vec::with_capacity(4096),
            torn_bytes: 0,
        };
        log.scan();
        Ok(log)
    }

    /// Finds the end, counts and indexes `Out` records, zeroes a torn tail.
    fn scan(&mut self) {
        let mut offset = FILE_HEADER_BYTES;
        while let Some(record) = parse_record(&self.map, offset) {
            let (kind, next_offset) = (record.kind, record.next_offset);
            if kind == RecordKind::Out {
                self.note_out(offset);
            }
            offset = next_offset;
        }
        self.end = offset;
        let zero_end = (offset + TORN_ZERO_BYTES).min(self.map.len());
        let torn = self.map[offset..zero_end].iter().rposition(|&b| b != 0);
        if let Some(last) = torn {
            self.torn_bytes = last + 1;
            self.map[offset..zero_end].fill(0);
            tracing::warn!(
                path = %self.path.display(), offset, bytes = last + 1,
                "session log: torn tail cut"
            );
        }
    }

    fn note_out(&mut self, offset: usize) {
        if self.out_count.is_multiple_of(INDEX_STRIDE) {
            self.index.push(offset);
        }
        self.out_count += 1;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of sequenced messages stored (the last message's number).
    pub fn out_count(&self) -> u64 {
        self.out_count
    }

    /// The record at `offset`, if one is there.
    pub fn record_at(&self, offset: usize) -> Option<LogRecord<'_>> {
        if offset >= self.end {
            return None;
        }
        parse_record(&self.map[..self.end], offset)
    }

    /// Every record from the start, in order.
    pub fn records(&self) -> impl Iterator<Item = LogRecord<'_>> {
        let bytes = &self.map[..self.end];
        let mut offset = FILE_HEADER_BYTES;
        core::iter::from_fn(move || {
            let record = parse_record(bytes, offset)?;
            offset = record.next_offset;
            Some(record)
        })
    }

    /// The offset to start reading sequenced message `seq` from (`1..=out_count + 1`): the
    /// first `Out` record with tag `>= seq` is at or after it.
    pub fn locate(&self, seq: u64) -> usize {
        assert!(seq >= 1);
        if seq > self.out_count {
            return self.end;
        }
        let slot = usize::try_from((seq - 1) / INDEX_STRIDE).unwrap_or(usize::MAX);
        self.index.get(slot).copied().unwrap_or(self.end)
    }

    /// The offset of sequenced message `seq`'s record (`1..=out_count + 1`; the end for
    /// `out_count + 1`). Walks from the nearest indexed record: a login-time cost.
    pub fn seek(&self, seq: u64) -> usize {
        let mut offset = self.locate(seq);
        while let Some(record) = self.record_at(offset) {
            if record.kind == RecordKind::Out && record.tag >= seq {
                return offset;
            }
            offset = record.next_offset;
        }
        offset
    }

    /// The next `Out` record at or after `offset`: `(seq, payload, next_offset)`. Hops over at
    /// most `hop_max` records; `Err(offset)` gives where to resume when none was found.
    pub fn next_out(
        &self,
        mut offset: usize,
        hop_max: usize,
    ) -> Result<(u64, &[u8], usize), usize> {
        for _ in 0..hop_max {
            let Some(record) = self.record_at(offset) else {
                return Err(offset);
            };
            if record.kind == RecordKind::Out {
                return Ok((record.tag, record.payload, record.next_offset));
            }
            offset = record.next_offset;
        }
        Err(offset)
    }

    /// Appends a record; returns its offset. `payload` is at most [`PAYLOAD_BYTES_MAX`].
    pub fn append(
        &mut self,
        kind: RecordKind,
        tag: u64,
        aux: u32,
        payload: &[u8],
    ) -> anyhow::Result<usize> {
        assert!(payload.len() <= PAYLOAD_BYTES_MAX);
        if kind == RecordKind::Out {
            assert!(
                tag == self.out_count + 1,
                "Out records are numbered without gaps"
            );
        }
        let total = align8(RECORD_HEADER_BYTES + payload.len());
        if self.end + total > self.map.len() {
            self.grow(self.end + total)?;
        }
        let offset = self.end;
        let bytes = &mut self.map[offset..offset + total];
        bytes[0..4].copy_from_slice(&(total as u32).to_le_bytes());
        bytes[4] = kind as u8;
        bytes[5] = 0;
        bytes[6..8].copy_from_slice(&(payload.len() as u16).to_le_bytes());
        bytes[8..16].copy_from_slice(&tag.to_le_bytes());
        bytes[16..20].copy_from_slice(&aux.to_le_bytes());
        bytes[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + payload.len()].copy_from_slice(payload);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[0..20]), payload);
        bytes[20..24].copy_from_slice(&crc.to_le_bytes());
        self.end += total;
        if kind == RecordKind::Out {
            self.note_out(offset);
        }
        Ok(offset)
    }

    /// Appends sequenced message `out_count + 1`; returns its number.
    pub fn append_out(&mut self, message: &[u8]) -> anyhow::Result<u64> {
        let seq = self.out_count + 1;
        self.append(RecordKind::Out, seq, 0, message)?;
        Ok(seq)
    }

    /// Doubles the file until `needed` bytes fit, and maps it again (cold path).
    fn grow(&mut self, needed: usize) -> anyhow::Result<()> {
        let mut len = self.map.len().max(1 << 16);
        while len < needed {
            len *= 2;
        }
        self.map.flush_async()?;
        self.file.set_len(len as u64)?;
        // SAFETY: as in `open`; the old mapping is replaced (and unmapped) right here.
        self.map = unsafe { MmapMut::map_mut(&self.file) }?;
        tracing::info!(path = %self.path.display(), bytes = len, "session log grown");
        Ok(())
    }

    /// Writes dirty pages to the device (shutdown).
    pub fn flush(&self) -> anyhow::Result<()> {
        self.map.flush()?;
        Ok(())
    }
}

/// The gateway's checkpoint: the last input whose events were all routed and logged.
pub struct Checkpoint {
    map: MmapMut,
}

const CHECKPOINT_MAGIC: [u8; 8] = *b"PRGCKPT1";

impl Checkpoint {
    pub fn open(path: &Path) -> anyhow::Result<Checkpoint> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open checkpoint {}", path.display()))?;
        if file.metadata()?.len() < 4096 {
            file.set_len(4096)?;
        }
        // SAFETY: our own small file, never truncated while mapped.
        let mut map = unsafe { MmapMut::map_mut(&file) }?;
        if map[..8] != CHECKPOINT_MAGIC {
            if map.iter().any(|&b| b != 0) {
                bail!("{} is not a gateway checkpoint", path.display());
            }
            map[..8].copy_from_slice(&CHECKPOINT_MAGIC);
        }
        Ok(Checkpoint { map })
    }

    pub fn input_seq(&self) -> u64 {
        read_u64(&self.map, 8)
    }

    pub fn set_input_seq(&mut self, seq: u64) {
        self.map[8..16].copy_from_slice(&seq.to_le_bytes());
    }

    pub fn flush(&self) -> anyhow::Result<()> {
        self.map.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("u.log");
        let torn_at;
        {
            let mut log = SessionLog::open(&path, 1 << 16).expect("open");
            log.append(RecordKind::In, 5, 0, b"enter").expect("in");
            assert_eq!(log.append_out(b"first").expect("out"), 1);
            log.append(RecordKind::Event, 9, 2, &[7; 80]).expect("ev");
            assert_eq!(log.append_out(b"second").expect("out"), 2);
            torn_at = log.append_out(b"third").expect("out");
            assert_eq!(torn_at, 3);
            let end = log.end;
            // Corrupt the last record's payload: it must be cut on reopen.
            log.map[end - 8] ^= 0xff;
            log.flush().expect("flush");
        }
        let log = SessionLog::open(&path, 1 << 16).expect("reopen");
        assert_eq!(log.out_count(), 2);
        assert!(log.torn_bytes > 0);
        let kinds: Vec<RecordKind> = log.records().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                RecordKind::In,
                RecordKind::Out,
                RecordKind::Event,
                RecordKind::Out
            ]
        );
        let (seq, payload, next) = log.next_out(log.seek(2), 8).expect("second");
        assert_eq!((seq, payload), (2, &b"second"[..]));
        assert_eq!(log.next_out(next, 8), Err(log.end));
        let (seq, payload, _) = log.next_out(log.seek(1), 8).expect("first");
        assert_eq!((seq, payload), (1, &b"first"[..]));
    }

    #[test]
    fn the_log_grows_past_its_initial_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.log");
        let mut log = SessionLog::open(&path, 1 << 16).expect("open");
        for index in 0..3_000u64 {
            log.append_out(&index.to_le_bytes()).expect("append");
        }
        drop(log);
        let log = SessionLog::open(&path, 1 << 16).expect("reopen");
        assert_eq!(log.out_count(), 3_000);
        let (seq, payload, _) = log.next_out(log.seek(2_999), 1).expect("found");
        assert_eq!((seq, payload), (2_999, &2_998u64.to_le_bytes()[..]));
    }

    #[test]
    fn checkpoint_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ckpt");
        let mut checkpoint = Checkpoint::open(&path).expect("open");
        assert_eq!(checkpoint.input_seq(), 0);
        checkpoint.set_input_seq(42);
        drop(checkpoint);
        assert_eq!(Checkpoint::open(&path).expect("reopen").input_seq(), 42);
    }
}
