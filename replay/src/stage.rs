//! The core stage: sequencer + journal + deterministic core, in one single-threaded struct
//! that the node drives.
//!
//! [`CoreStage::submit`] stamps a command with the next sequence number and a timestamp
//! (the caller's clock, clamped so it never goes backwards), appends it to the journal, and
//! only then applies it to the [`Core`]; every event goes to the caller's sink and into the
//! rolling output digest. Every `digest_interval_inputs` inputs a digest record is journaled.
//!
//! Order of calls for the node: `open` once (creates or recovers), then per input `submit`,
//! and `end_batch` after each batch drained from the inbound ring (it `msync`s under
//! `Durability::SyncPerBatch`); `snapshot_now` at a quiet point or on an operator command;
//! `close` at the end of the session.
//!
//! # Crash recovery
//! [`CoreStage::open`] on an existing journal: read the journal config and refuse a different
//! one; take the newest snapshot whose checksum and contents check and that the journal covers
//! (else the previous one, else none); replay every later command of the journal into it,
//! checking the recorded digests on the way; cut a torn tail; continue the sequence.
//!
//! # Invariants
//! - `core.last_seq() == journal.last_seq()` between calls: nothing is applied that is not
//!   journaled, and nothing journaled is left unapplied.
//! - Timestamps handed to the core never decrease.
//! - `submit` allocates nothing (the journal and the digest write into fixed buffers).

use std::path::{Path, PathBuf};

use peregrine_engine::{Command, EventSink, Sequenced};
use peregrine_risk::{Core, CoreError};

use crate::config::{ConfigDecodeError, CoreConfig};
use crate::digest::{DigestSink, OutputDigest};
use crate::error::JournalError;
use crate::format::{DigestPayload, DigestReason, RecordKind};
use crate::journal::{segment_path, JournalOptions, JournalWriter};
use crate::reader::{JournalEnd, JournalReader, TornTail};
use crate::snapshot::{list_snapshots, load_snapshot, write_snapshot_file, StageSnapshot};

/// How the stage journals and snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageOptions {
    pub journal: JournalOptions,
    /// Journal a digest record after every input whose seq is a multiple of this; 0 = only
    /// at snapshots and close. Seq-based, so windows do not move with snapshots or restarts.
    pub digest_interval_inputs: u64,
    /// Snapshot files kept after a new one is written (older ones are deleted); at least 1.
    pub snapshots_kept: usize,
}

impl Default for StageOptions {
    fn default() -> Self {
        StageOptions {
            journal: JournalOptions::default(),
            digest_interval_inputs: 10_000,
            snapshots_kept: 3,
        }
    }
}

/// Why the stage cannot start or go on.
#[derive(Debug)]
pub enum StageError {
    Journal(JournalError),
    /// The journal's config record does not decode.
    JournalConfig(ConfigDecodeError),
    /// The journal was written with another configuration.
    ConfigMismatch {
        journal_digest: u64,
        config_digest: u64,
    },
    /// The core refused the configuration or a snapshot.
    Core(CoreError),
    /// A journaled command's payload does not decode (file, offset).
    BadCommand {
        path: PathBuf,
        offset: u64,
    },
}

impl core::fmt::Display for StageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StageError::Journal(error) => write!(f, "{error}"),
            StageError::JournalConfig(error) => write!(f, "journal config record: {error}"),
            StageError::ConfigMismatch {
                journal_digest,
                config_digest,
            } => write!(
                f,
                "the journal was written with another configuration (journal config digest \
                 {journal_digest:016x}, this config {config_digest:016x}); refusing to replay it"
            ),
            StageError::Core(error) => write!(f, "core refused: {error}"),
            StageError::BadCommand { path, offset } => write!(
                f,
                "command record in {} at offset {offset} does not decode",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StageError {}

impl From<JournalError> for StageError {
    fn from(error: JournalError) -> Self {
        StageError::Journal(error)
    }
}

/// What `open` found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// True when the journal was created by this call.
    pub created: bool,
    /// Seq of the snapshot recovery started from (`None`: full replay).
    pub snapshot_seq: Option<u64>,
    /// Snapshot files that were skipped, and why.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    /// Commands replayed from the journal.
    pub replayed_inputs: u64,
    pub last_seq: u64,
    pub torn: Option<TornTail>,
    /// Digest records checked against the replayed outputs.
    pub digests_checked: u64,
    /// Seq of the first digest record whose digest the replay did not reproduce.
    pub first_digest_mismatch: Option<u64>,
}

/// Result of [`CoreStage::snapshot_now`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub seq: u64,
    pub path: PathBuf,
    pub bytes: u64,
}

/// A snapshot captured on the core thread, to be written on any thread.
#[derive(Debug)]
pub struct PendingSnapshot {
    dir: PathBuf,
    seq: u64,
    bytes: Vec<u8>,
    snapshots_kept: usize,
    /// Journal segments `0..journal_segment_count` hold every input up to `seq`.
    journal_segment_count: u64,
}

impl PendingSnapshot {
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Makes the journal up to the snapshot durable (`fsync` of its segment files, which also
    /// writes back pages dirtied through the writer's mapping), then writes the snapshot file
    /// durably and deletes snapshots beyond the kept count. The order keeps a snapshot from
    /// ever being ahead of the journal on the device. Runs on any thread; the writer may keep
    /// appending meanwhile.
    pub fn write(self) -> Result<SnapshotInfo, JournalError> {
        for index in 0..self.journal_segment_count {
            let segment = segment_path(&self.dir, index);
            let file = std::fs::File::open(&segment)
                .map_err(crate::error::io_error("open segment", &segment))?;
            file.sync_data()
                .map_err(crate::error::io_error("fsync segment", &segment))?;
        }
        let path = write_snapshot_file(&self.dir, self.seq, &self.bytes)?;
        for (_, old) in list_snapshots(&self.dir)?
            .iter()
            .skip(self.snapshots_kept.max(1))
        {
            std::fs::remove_file(old)
                .map_err(crate::error::io_error("remove old snapshot", old))?;
        }
        Ok(SnapshotInfo {
            seq: self.seq,
            path,
            bytes: self.bytes.len() as u64,
        })
    }
}

/// Sequencer + journal + core.
pub struct CoreStage {
    core: Core,
    config: CoreConfig,
    journal: JournalWriter,
    digest: OutputDigest,
    options: StageOptions,
    last_timestamp_ns: u64,
}

impl CoreStage {
    /// Creates the journal in `dir` if it has none, else recovers from it (see the module
    /// docs). `config` must be the configuration the journal was written with.
    pub fn open(
        dir: &Path,
        options: StageOptions,
        config: &CoreConfig,
    ) -> Result<(CoreStage, RecoveryReport), StageError> {
        std::fs::create_dir_all(dir).map_err(crate::error::io_error("create directory", dir))?;
        if !crate::journal::has_segments(dir)? {
            let journal = JournalWriter::create(dir, options.journal, &config.encode())?;
            let core = Core::with_market(
                config.engine.clone(),
                config.risk.clone(),
                config.market.clone(),
            )
            .map_err(StageError::Core)?;
            let stage =
                CoreStage::assemble(core, config, journal, OutputDigest::default(), options);
            return Ok((
                stage,
                RecoveryReport {
                    created: true,
                    ..RecoveryReport::default()
                },
            ));
        }
        let reader = JournalReader::open(dir)?;
        let journal_config =
            CoreConfig::decode(reader.config()).map_err(StageError::JournalConfig)?;
        let config_digest = config.digest();
        if journal_config.digest() != config_digest || reader.config_digest() != config_digest {
            let journal_digest = reader.config_digest();
            return Err(StageError::ConfigMismatch {
                journal_digest,
                config_digest,
            });
        }
        let mut report = RecoveryReport::default();
        let (core, digest, end) = recover_state(&reader, config, &mut report)?;
        drop(reader);
        let journal = JournalWriter::resume(dir, options.journal, &end)?;
        report.last_seq = end.last_seq;
        report.torn = end.torn.clone();
        let mut stage = CoreStage::assemble(core, config, journal, digest, options);
        stage.last_timestamp_ns = end.last_timestamp_ns;
        Ok((stage, report))
    }

    fn assemble(
        core: Core,
        config: &CoreConfig,
        journal: JournalWriter,
        digest: OutputDigest,
        options: StageOptions,
    ) -> CoreStage {
        assert!(core.last_seq() == journal.last_seq());
        CoreStage {
            last_timestamp_ns: journal.last_timestamp_ns(),
            core,
            config: config.clone(),
            journal,
            digest,
            options,
        }
    }

    /// Sequences, journals, then applies one command; returns its seq. `now_ns` is the
    /// sequencer clock; a reading below the previous one is clamped to it.
    ///
    /// An error means the journal cannot be written: the node must stop taking input. The
    /// command was applied if and only if [`CoreStage::last_seq`] advanced.
    pub fn submit(
        &mut self,
        command: &Command,
        now_ns: u64,
        sink: &mut impl EventSink,
    ) -> Result<u64, JournalError> {
        let timestamp_ns = now_ns.max(self.last_timestamp_ns);
        let input = Sequenced {
            seq: self.core.last_seq() + 1,
            timestamp_ns,
            command: *command,
        };
        self.journal.append_command(&input)?;
        self.last_timestamp_ns = timestamp_ns;
        self.core.apply(
            &input,
            &mut DigestSink {
                digest: &mut self.digest,
                inner: sink,
            },
        );
        assert!(self.core.last_seq() == input.seq);
        let interval = self.options.digest_interval_inputs;
        if interval != 0 && input.seq.is_multiple_of(interval) {
            self.write_digest(DigestReason::Interval)?;
        }
        Ok(input.seq)
    }

    /// Makes the next journal segment ahead of time so the roll stays cheap; call it at a
    /// quiet point (see [`JournalWriter::prepare_next_segment`]).
    pub fn prepare_next_segment(&mut self) -> Result<(), JournalError> {
        self.journal.prepare_next_segment()
    }

    /// End of a batch of inputs: `msync` under `Durability::SyncPerBatch`.
    pub fn end_batch(&mut self) -> Result<(), JournalError> {
        self.journal.end_batch()
    }

    /// Captures a snapshot of the current state (after journaling a digest record) for
    /// writing on any thread with [`PendingSnapshot::write`], which also makes the journal
    /// durable first. Allocates in proportion to the state (the engine's resting orders): call
    /// it at a quiet point. The slow part (`fsync`s) is in `write`.
    pub fn capture_snapshot(&mut self) -> Result<PendingSnapshot, JournalError> {
        self.write_digest(DigestReason::Snapshot)?;
        let snapshot = StageSnapshot {
            core: self.core.snapshot(),
            config_digest: self.journal.config_digest(),
            digest: self.digest,
            last_timestamp_ns: self.last_timestamp_ns,
        };
        assert!(snapshot.core.last_seq == self.journal.last_seq());
        Ok(PendingSnapshot {
            dir: self.journal.dir().to_path_buf(),
            seq: snapshot.core.last_seq,
            bytes: snapshot.encode(),
            snapshots_kept: self.options.snapshots_kept,
            journal_segment_count: self.journal.position().0 + 1,
        })
    }

    /// Captures and writes a snapshot now (see [`CoreStage::capture_snapshot`]).
    pub fn snapshot_now(&mut self) -> Result<SnapshotInfo, JournalError> {
        self.capture_snapshot()?.write()
    }

    /// Ends the session: a closing digest record, then everything synced to the device.
    pub fn close(mut self) -> Result<OutputDigest, JournalError> {
        self.write_digest(DigestReason::Close)?;
        self.journal.sync_all()?;
        Ok(self.digest)
    }

    fn write_digest(&mut self, reason: DigestReason) -> Result<(), JournalError> {
        let payload = DigestPayload {
            event_count: self.digest.event_count,
            digest: self.digest.state,
            reason,
        };
        self.journal.append_digest(&payload)
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    pub fn journal(&self) -> &JournalWriter {
        &self.journal
    }

    pub fn last_seq(&self) -> u64 {
        self.core.last_seq()
    }

    pub fn last_timestamp_ns(&self) -> u64 {
        self.last_timestamp_ns
    }

    /// Rolling digest of every event emitted so far.
    pub fn digest(&self) -> OutputDigest {
        self.digest
    }
}

/// A core restored from a snapshot (or fresh), with its digest state.
struct Start {
    core: Core,
    digest: OutputDigest,
    seq: u64,
    from_snapshot: bool,
}

/// Newest usable snapshot first, then a fresh core; replays the journal after it. Falls back
/// to an older start when the journal does not reach the snapshot's seq.
fn recover_state(
    reader: &JournalReader,
    config: &CoreConfig,
    report: &mut RecoveryReport,
) -> Result<(Core, OutputDigest, JournalEnd), StageError> {
    let dir = reader.dir();
    let mut candidates = list_snapshots(dir)?.into_iter();
    loop {
        let start = match candidates.next() {
            Some((_, path)) => match restore_snapshot(&path, reader.config_digest(), config) {
                Ok(start) => start,
                Err(why) => {
                    report.skipped_snapshots.push((path, why));
                    continue;
                }
            },
            None => fresh_start(config)?,
        };
        let start_seq = start.seq;
        let from_snapshot = start.from_snapshot;
        let (core, digest, end) = replay_tail(reader, start, report)?;
        if end.last_seq >= start_seq {
            report.snapshot_seq = from_snapshot.then_some(start_seq);
            return Ok((core, digest, end));
        }
        let path = crate::snapshot::snapshot_path(dir, start_seq);
        report.skipped_snapshots.push((
            path,
            format!("ahead of the journal (last seq {})", end.last_seq),
        ));
    }
}

fn fresh_start(config: &CoreConfig) -> Result<Start, StageError> {
    let core = Core::with_market(
        config.engine.clone(),
        config.risk.clone(),
        config.market.clone(),
    )
    .map_err(StageError::Core)?;
    Ok(Start {
        core,
        digest: OutputDigest::default(),
        seq: 0,
        from_snapshot: false,
    })
}

fn restore_snapshot(
    path: &Path,
    journal_digest: u64,
    config: &CoreConfig,
) -> Result<Start, String> {
    let snapshot = load_snapshot(path).map_err(|e| e.to_string())?;
    if snapshot.config_digest != journal_digest {
        return Err("written with another configuration".to_string());
    }
    let core = Core::restore_with_market(
        config.engine.clone(),
        config.risk.clone(),
        config.market.clone(),
        &snapshot.core,
    )
    .map_err(|e| format!("core refused it: {e}"))?;
    Ok(Start {
        core,
        digest: snapshot.digest,
        seq: snapshot.core.last_seq,
        from_snapshot: true,
    })
}

/// Walks the whole journal (every CRC is checked), applying commands after `start.seq`.
fn replay_tail(
    reader: &JournalReader,
    start: Start,
    report: &mut RecoveryReport,
) -> Result<(Core, OutputDigest, JournalEnd), StageError> {
    let Start {
        mut core,
        mut digest,
        seq: start_seq,
        ..
    } = start;
    let mut cursor = reader.cursor();
    report.replayed_inputs = 0;
    report.digests_checked = 0;
    report.first_digest_mismatch = None;
    while let Some(record) = cursor.next_record()? {
        if record.seq <= start_seq {
            continue;
        }
        match record.kind {
            RecordKind::Config => {}
            RecordKind::Command => {
                let input = crate::verify::decode_input(reader, &record)?;
                core.apply(&input, &mut digest);
                report.replayed_inputs += 1;
            }
            RecordKind::Digest => {
                let recorded = DigestPayload::parse(record.payload);
                report.digests_checked += 1;
                let same = recorded.is_some_and(|r| {
                    r.digest == digest.state && r.event_count == digest.event_count
                });
                if !same && report.first_digest_mismatch.is_none() {
                    report.first_digest_mismatch = Some(record.seq);
                }
            }
        }
    }
    let end = cursor
        .end()
        .cloned()
        .ok_or(StageError::Journal(JournalError::BadOptions(
            "cursor did not end",
        )))?;
    Ok((core, digest, end))
}
