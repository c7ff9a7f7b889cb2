//! The journal writer: appends records to memory-mapped, preallocated segment files.
//!
//! Segment files are created whole before they are used: a temporary file is preallocated
//! (`fallocate`, so a full disk is an error at roll time, never a `SIGBUS` in the middle of an
//! append), its header (and, for segment 0, the config record) is written, and it is renamed to
//! its final name. A segment file therefore always has a complete header.
//!
//! Appending copies the record into the mapping and advances the write offset; nothing is
//! allocated. Rolling to the next segment happens when the next record does not fit.
//!
//! Durability ([`Durability`]): with `PageCache`, records are in the kernel's page cache as soon
//! as the append returns, so they survive a crash of this process (`kill -9`) but not of the
//! host. With `SyncEveryRecords(n)` or `SyncPerBatch`, `msync(MS_SYNC)` writes the dirty range to
//! the device every `n` commands or at each [`JournalWriter::end_batch`], so records up to the
//! last sync survive power loss.
//!
//! # Invariants
//! - Command records carry seq `last_seq + 1` and timestamps that never go down (asserted: the
//!   sequencer guarantees both).
//! - Bytes past `write_offset` in the current segment are zero; `synced_offset <= write_offset`.
//! - A segment header's `first_seq` is the seq of the first command written into it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};
use peregrine_engine::record::{encode_command, COMMAND_BYTES};
use peregrine_engine::Sequenced;

use crate::error::{io_error, JournalError};
use crate::format::{
    emit_record, record_bytes, DigestPayload, RecordKind, SegmentHeader, DIGEST_PAYLOAD_BYTES,
    PAYLOAD_BYTES_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES,
};
use crate::reader::JournalEnd;

/// When appended records are forced to the storage device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Never `msync`: records survive a process crash, not a host crash or power loss.
    PageCache,
    /// `msync` after every `n` command records (n >= 1).
    SyncEveryRecords(u32),
    /// `msync` at every [`JournalWriter::end_batch`].
    SyncPerBatch,
}

impl Durability {
    fn is_durable(self) -> bool {
        match self {
            Durability::PageCache => false,
            Durability::SyncEveryRecords(_) | Durability::SyncPerBatch => true,
        }
    }
}

/// How a journal is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalOptions {
    /// Size of every segment file, preallocated. 64 MiB by default.
    pub segment_size_bytes: u64,
    pub durability: Durability,
    /// Fault the whole mapping in, writable, when a segment is opened (`MAP_POPULATE` and one
    /// write per page), so appends do not take first-touch page faults; the roll pays instead.
    pub prefault: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_size_bytes: 64 << 20,
            durability: Durability::PageCache,
            prefault: true,
        }
    }
}

impl JournalOptions {
    fn validate(&self) -> Result<(), JournalError> {
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_size_bytes) {
            return Err(JournalError::BadOptions("segment_size_bytes out of range"));
        }
        if !self.segment_size_bytes.is_multiple_of(4096) {
            return Err(JournalError::BadOptions(
                "segment_size_bytes not a multiple of 4096",
            ));
        }
        if self.durability == Durability::SyncEveryRecords(0) {
            return Err(JournalError::BadOptions("SyncEveryRecords needs n >= 1"));
        }
        Ok(())
    }
}

/// Counters of the writer (plain integers, read by metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalCounters {
    pub records_appended: u64,
    pub bytes_appended: u64,
    pub syncs: u64,
    pub segments_created: u64,
}

/// The file name of segment `index` in `dir`.
pub fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("segment-{index:010}.journal"))
}

/// Appends records to a journal directory.
pub struct JournalWriter {
    dir: PathBuf,
    options: JournalOptions,
    config_digest: u64,
    segment_index: u64,
    map: MmapMut,
    /// Where the next record goes: `SEGMENT_HEADER_BYTES..=segment_size_bytes`, 8-aligned.
    write_offset: usize,
    /// Everything below this offset of the current segment has been `msync`ed.
    synced_offset: usize,
    last_seq: u64,
    last_timestamp_ns: u64,
    commands_since_sync: u32,
    /// Segments `0..segments_synced` are known to be on the device (`sync_all` or a durable
    /// roll); `sync_all` only `fsync`s the ones after.
    segments_synced: u64,
    /// The next segment, made ahead by [`JournalWriter::prepare_next_segment`].
    prepared: Option<PreparedSegment>,
    counters: JournalCounters,
}

/// A next segment made ahead of time under its temporary name: preallocated, mapped and
/// prefaulted, without a header (its `first_seq` is known only at the roll).
struct PreparedSegment {
    index: u64,
    temp: PathBuf,
    map: MmapMut,
}

impl JournalWriter {
    /// Starts a new journal in `dir` (created if missing), whose segment 0 begins with a config
    /// record holding `config` bytes. Fails if `dir` already holds segments.
    pub fn create(
        dir: &Path,
        options: JournalOptions,
        config: &[u8],
    ) -> Result<JournalWriter, JournalError> {
        options.validate()?;
        if config.len() > PAYLOAD_BYTES_MAX {
            return Err(JournalError::BadOptions("config record larger than 1 MiB"));
        }
        let config_end = SEGMENT_HEADER_BYTES + record_bytes(config.len());
        if config_end as u64 > options.segment_size_bytes {
            return Err(JournalError::BadOptions(
                "config record does not fit in a segment",
            ));
        }
        std::fs::create_dir_all(dir).map_err(io_error("create directory", dir))?;
        if has_segments(dir)? {
            return Err(JournalError::AlreadyExists(dir.to_path_buf()));
        }
        let config_digest = config_digest(config);
        let header = SegmentHeader {
            segment_index: 0,
            segment_size_bytes: options.segment_size_bytes,
            first_seq: 1,
            config_digest,
        };
        let mut first = vec![0u8; record_bytes(config.len())];
        let first_len = emit_record(&mut first, RecordKind::Config, 0, 0, config);
        create_segment(dir, &header, &first, options.durability.is_durable())?;
        let map = map_segment(&segment_path(dir, 0), options.prefault)?;
        let write_offset = SEGMENT_HEADER_BYTES + first_len;
        Ok(JournalWriter {
            dir: dir.to_path_buf(),
            options,
            config_digest,
            segment_index: 0,
            map,
            write_offset,
            synced_offset: write_offset,
            last_seq: 0,
            last_timestamp_ns: 0,
            commands_since_sync: 0,
            segments_synced: 0,
            prepared: None,
            counters: JournalCounters {
                segments_created: 1,
                ..JournalCounters::default()
            },
        })
    }

    /// Reopens a recovered journal for appending at `end` (from a completed read of it):
    /// zeroes the torn tail, deletes later segments that hold no record, and positions the
    /// writer after the last valid record.
    pub fn resume(
        dir: &Path,
        options: JournalOptions,
        end: &JournalEnd,
    ) -> Result<JournalWriter, JournalError> {
        options.validate()?;
        let path = segment_path(dir, end.segment_index);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error("open segment", &path))?;
        // A segment shortened from outside is extended again with zeros.
        file.set_len(end.segment_size_bytes)
            .map_err(io_error("extend segment", &path))?;
        drop(file);
        let mut map = map_segment(&path, options.prefault)?;
        let write_offset = usize::try_from(end.offset).unwrap_or(usize::MAX);
        let garbage_end = usize::try_from(end.garbage_end).unwrap_or(usize::MAX);
        assert!(write_offset <= garbage_end && garbage_end <= map.len());
        map[write_offset..garbage_end].fill(0);
        map.flush().map_err(io_error("msync segment", &path))?;
        for later in &end.empty_later_segments {
            std::fs::remove_file(later).map_err(io_error("remove empty segment", later))?;
        }
        Ok(JournalWriter {
            dir: dir.to_path_buf(),
            options,
            config_digest: end.config_digest,
            segment_index: end.segment_index,
            map,
            write_offset,
            synced_offset: write_offset,
            last_seq: end.last_seq,
            last_timestamp_ns: end.last_timestamp_ns,
            commands_since_sync: 0,
            segments_synced: 0,
            prepared: None,
            counters: JournalCounters::default(),
        })
    }

    /// Appends one sequenced input. The sequencer guarantees `seq == last_seq() + 1` and a
    /// timestamp not below the previous one (both asserted). Allocation-free; may roll to a new
    /// segment (file creation) or `msync`, per the durability policy.
    pub fn append_command(&mut self, input: &Sequenced) -> Result<(), JournalError> {
        assert!(
            input.seq == self.last_seq + 1,
            "journal: seq must be last_seq + 1"
        );
        assert!(
            input.timestamp_ns >= self.last_timestamp_ns,
            "journal: time went backwards"
        );
        let mut payload = [0u8; COMMAND_BYTES];
        encode_command(&input.command, &mut payload);
        self.append(RecordKind::Command, input.seq, input.timestamp_ns, &payload)?;
        self.last_seq = input.seq;
        self.last_timestamp_ns = input.timestamp_ns;
        if let Durability::SyncEveryRecords(every) = self.options.durability {
            self.commands_since_sync += 1;
            if self.commands_since_sync >= every {
                self.sync()?;
            }
        }
        Ok(())
    }

    /// Appends a digest record covering the outputs of every command up to `last_seq()`.
    pub fn append_digest(&mut self, digest: &DigestPayload) -> Result<(), JournalError> {
        let mut payload = [0u8; DIGEST_PAYLOAD_BYTES];
        digest.emit(&mut payload);
        self.append(
            RecordKind::Digest,
            self.last_seq,
            self.last_timestamp_ns,
            &payload,
        )
    }

    /// The end of a batch of inputs: `msync` when the policy is `SyncPerBatch`.
    pub fn end_batch(&mut self) -> Result<(), JournalError> {
        match self.options.durability {
            Durability::SyncPerBatch => self.sync(),
            Durability::PageCache | Durability::SyncEveryRecords(_) => Ok(()),
        }
    }

    /// Forces every appended record of the current segment to the device (`msync(MS_SYNC)`).
    /// Earlier segments were synced when the writer left them (durable policies) or are left to
    /// the kernel (`PageCache`; use [`JournalWriter::sync_all`] before a snapshot).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        assert!(self.synced_offset <= self.write_offset);
        if self.write_offset > self.synced_offset {
            let len = self.write_offset - self.synced_offset;
            self.map
                .flush_range(self.synced_offset, len)
                .map_err(|source| JournalError::Io {
                    op: "msync segment",
                    path: self.current_path(),
                    source,
                })?;
            self.synced_offset = self.write_offset;
            self.counters.syncs += 1;
        }
        self.commands_since_sync = 0;
        Ok(())
    }

    /// Syncs the current segment and every earlier one (`fsync` on each file): after it, the
    /// whole journal is on the device whatever the policy. Cold path (snapshots, close).
    pub fn sync_all(&mut self) -> Result<(), JournalError> {
        self.sync()?;
        for index in self.segments_synced..self.segment_index {
            let path = segment_path(&self.dir, index);
            let file = File::open(&path).map_err(io_error("open segment", &path))?;
            file.sync_data().map_err(io_error("fsync segment", &path))?;
        }
        self.segments_synced = self.segment_index;
        Ok(())
    }

    /// Makes the next segment file now (preallocate, map, prefault: the slow part of a roll)
    /// so that the roll itself only writes a header and renames. Call it at a quiet point,
    /// e.g. when the current segment is past half full; a no-op if already prepared.
    pub fn prepare_next_segment(&mut self) -> Result<(), JournalError> {
        if self.prepared.is_some() {
            return Ok(());
        }
        let index = self.segment_index + 1;
        let temp = segment_path(&self.dir, index).with_extension("tmp");
        let file = create_temp_segment(&temp, self.options.segment_size_bytes)?;
        drop(file);
        let map = map_segment(&temp, self.options.prefault)?;
        self.prepared = Some(PreparedSegment { index, temp, map });
        Ok(())
    }

    /// Bytes left in the current segment.
    pub fn segment_bytes_left(&self) -> u64 {
        (self.map.len() - self.write_offset) as u64
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn last_timestamp_ns(&self) -> u64 {
        self.last_timestamp_ns
    }

    pub fn config_digest(&self) -> u64 {
        self.config_digest
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> JournalOptions {
        self.options
    }

    /// Current segment index and the byte offset where the next record goes.
    pub fn position(&self) -> (u64, u64) {
        (self.segment_index, self.write_offset as u64)
    }

    pub fn counters(&self) -> JournalCounters {
        self.counters
    }

    fn current_path(&self) -> PathBuf {
        segment_path(&self.dir, self.segment_index)
    }

    fn append(
        &mut self,
        kind: RecordKind,
        seq: u64,
        timestamp_ns: u64,
        payload: &[u8],
    ) -> Result<(), JournalError> {
        let total = record_bytes(payload.len());
        if self.write_offset + total > self.map.len() {
            self.roll()?;
        }
        assert!(self.write_offset + total <= self.map.len());
        let area = &mut self.map[self.write_offset..];
        let written = emit_record(area, kind, seq, timestamp_ns, payload);
        assert!(written == total);
        self.write_offset += total;
        self.counters.records_appended += 1;
        self.counters.bytes_appended += total as u64;
        Ok(())
    }

    /// Closes the current segment and opens a fresh one whose first command is `last_seq + 1`.
    fn roll(&mut self) -> Result<(), JournalError> {
        let durable = self.options.durability.is_durable();
        if durable {
            self.sync()?;
        }
        let header = SegmentHeader {
            segment_index: self.segment_index + 1,
            segment_size_bytes: self.options.segment_size_bytes,
            first_seq: self.last_seq + 1,
            config_digest: self.config_digest,
        };
        match self.prepared.take() {
            Some(prepared) if prepared.index == header.segment_index => {
                self.map = install_prepared(&self.dir, prepared, &header, durable)?;
            }
            _ => {
                create_segment(&self.dir, &header, &[], durable)?;
                let path = segment_path(&self.dir, header.segment_index);
                self.map = map_segment(&path, self.options.prefault)?;
            }
        }
        if durable && self.segments_synced == self.segment_index {
            self.segments_synced = header.segment_index;
        }
        self.segment_index = header.segment_index;
        self.write_offset = SEGMENT_HEADER_BYTES;
        self.synced_offset = SEGMENT_HEADER_BYTES;
        self.counters.segments_created += 1;
        Ok(())
    }
}

/// True when `dir` holds any segment file.
pub(crate) fn has_segments(dir: &Path) -> Result<bool, JournalError> {
    for entry in std::fs::read_dir(dir).map_err(io_error("read directory", dir))? {
        let entry = entry.map_err(io_error("read directory", dir))?;
        if crate::reader::parse_segment_name(&entry.file_name().to_string_lossy()).is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The identity of a config: XXH3-64 of its encoded bytes.
pub fn config_digest(config: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(config)
}

/// Creates segment `header.segment_index` whole: preallocated temp file, header and `initial`
/// records written, optionally fsynced, then renamed into place.
fn create_segment(
    dir: &Path,
    header: &SegmentHeader,
    initial: &[u8],
    durable: bool,
) -> Result<(), JournalError> {
    let path = segment_path(dir, header.segment_index);
    let temp = path.with_extension("tmp");
    let file = create_temp_segment(&temp, header.segment_size_bytes)?;
    let mut header_bytes = [0u8; SEGMENT_HEADER_BYTES];
    header.emit(&mut header_bytes);
    file.write_all_at(&header_bytes, 0)
        .map_err(io_error("write segment header", &temp))?;
    file.write_all_at(initial, SEGMENT_HEADER_BYTES as u64)
        .map_err(io_error("write segment", &temp))?;
    if durable {
        file.sync_all().map_err(io_error("fsync segment", &temp))?;
    }
    std::fs::rename(&temp, &path).map_err(io_error("rename segment", &path))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Creates `temp` (replacing a stale one left by a crash) and preallocates it.
fn create_temp_segment(temp: &Path, size_bytes: u64) -> Result<File, JournalError> {
    if temp.exists() {
        std::fs::remove_file(temp).map_err(io_error("remove stale temp segment", temp))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(io_error("create segment", temp))?;
    preallocate(&file, size_bytes).map_err(io_error("preallocate segment", temp))?;
    Ok(file)
}

/// Writes the header into a prepared segment and renames it into place (header synced first
/// under a durable policy, so the renamed file always has a complete header on the device).
fn install_prepared(
    dir: &Path,
    mut prepared: PreparedSegment,
    header: &SegmentHeader,
    durable: bool,
) -> Result<MmapMut, JournalError> {
    let mut header_bytes = [0u8; SEGMENT_HEADER_BYTES];
    header.emit(&mut header_bytes);
    prepared.map[..SEGMENT_HEADER_BYTES].copy_from_slice(&header_bytes);
    if durable {
        let temp = &prepared.temp;
        prepared
            .map
            .flush_range(0, SEGMENT_HEADER_BYTES)
            .map_err(io_error("msync header", temp))?;
    }
    let path = segment_path(dir, header.segment_index);
    std::fs::rename(&prepared.temp, &path).map_err(io_error("rename segment", &path))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(prepared.map)
}

/// Reserves the file's blocks so that writes through the mapping cannot hit a full disk.
/// Falls back to a sparse `set_len` where the filesystem has no `fallocate`.
fn preallocate(file: &File, size_bytes: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(size_bytes)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `fallocate` on an open descriptor we own, with no pointers involved.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(size_bytes),
        _ => Err(error),
    }
}

/// `fsync` on a directory, so a rename or delete in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    let handle = File::open(dir).map_err(io_error("open directory", dir))?;
    handle.sync_all().map_err(io_error("fsync directory", dir))
}

fn map_segment(path: &Path, prefault: bool) -> Result<MmapMut, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error("open segment", path))?;
    let mut options = MmapOptions::new();
    if prefault {
        options.populate();
    }
    // SAFETY: the segment file belongs to this journal's single writer; nothing else truncates
    // or writes it while it is mapped (the directory is the writer's, by deployment contract).
    let mut map = unsafe { options.map_mut(&file) }.map_err(io_error("mmap segment", path))?;
    if prefault {
        // A shared file mapping takes a write fault the first time each clean page is written
        // (populate maps pages read-only). Rewriting one byte per page here takes those faults
        // now, at segment creation, instead of on every 42nd append.
        for offset in (0..map.len()).step_by(4096) {
            map[offset] = std::hint::black_box(map[offset]);
        }
    }
    Ok(map)
}
