//! Journal framing, rolling and recovery of damaged journals.
//!
//! Method: write a journal of a deterministic random flow (small 64 KiB segments so that it
//! rolls), damage a copy of it in a chosen way, read it back and compare the records with what
//! was written. A damaged last record must be cut (the complete prefix survives, exactly);
//! damage anywhere before it must stop the read with an error naming the file and offset.

use std::path::{Path, PathBuf};

use peregrine_engine::record::decode_command;
use peregrine_engine::Sequenced;
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::{
    segment_path, DigestPayload, DigestReason, Durability, JournalEnd, JournalError,
    JournalOptions, JournalReader, JournalWriter, RecordKind,
};
use proptest::prelude::*;

const SHAPE: FlowShape = FlowShape {
    instrument_count: 2,
    account_count: 3,
    admin: true,
};
const CONFIG: &[u8] = b"test config bytes";

fn options(durability: Durability) -> JournalOptions {
    JournalOptions {
        segment_size_bytes: 1 << 16,
        durability,
        prefault: false,
    }
}

/// A record as written: kind, seq, timestamp, payload, segment index and offset.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Written {
    kind: RecordKind,
    seq: u64,
    timestamp_ns: u64,
    payload: Vec<u8>,
    segment_index: u64,
    offset: u64,
}

fn sequenced(flow: &mut FlowGenerator, seq: u64) -> Sequenced {
    Sequenced {
        seq,
        timestamp_ns: 1_000 + seq * 7 / 3,
        command: flow.next_command(),
    }
}

/// Appends `count` commands (and a digest every `digest_every`) and returns what was written.
fn append_flow(
    writer: &mut JournalWriter,
    flow: &mut FlowGenerator,
    count: u64,
    digest_every: u64,
) -> Vec<Written> {
    let mut written = Vec::new();
    for _ in 0..count {
        let input = sequenced(flow, writer.last_seq() + 1);
        let mut payload = [0u8; 64];
        peregrine_engine::record::encode_command(&input.command, &mut payload);
        writer.append_command(&input).unwrap();
        let (segment_index, end) = writer.position();
        let offset = end - 96;
        written.push(Written {
            kind: RecordKind::Command,
            seq: input.seq,
            timestamp_ns: input.timestamp_ns,
            payload: payload.to_vec(),
            segment_index,
            offset,
        });
        if input.seq.is_multiple_of(digest_every) {
            let digest = DigestPayload {
                event_count: input.seq * 2,
                digest: !input.seq,
                reason: DigestReason::Interval,
            };
            writer.append_digest(&digest).unwrap();
            let mut bytes = [0u8; 24];
            digest.emit(&mut bytes);
            let (segment_index, end) = writer.position();
            written.push(Written {
                kind: RecordKind::Digest,
                seq: input.seq,
                timestamp_ns: input.timestamp_ns,
                payload: bytes.to_vec(),
                segment_index,
                offset: end - 56,
            });
        }
    }
    written
}

fn write_journal(dir: &Path, count: u64, seed: u64) -> Vec<Written> {
    let mut writer = JournalWriter::create(dir, options(Durability::PageCache), CONFIG).unwrap();
    let mut flow = FlowGenerator::new(seed, SHAPE);
    append_flow(&mut writer, &mut flow, count, 10)
}

/// Every record after the config record, and where the journal ends.
fn read_all(dir: &Path) -> Result<(Vec<Written>, JournalEnd), JournalError> {
    let reader = JournalReader::open(dir)?;
    assert_eq!(reader.config(), CONFIG);
    let mut cursor = reader.cursor();
    let mut records = Vec::new();
    while let Some(record) = cursor.next_record()? {
        if record.kind == RecordKind::Config {
            continue;
        }
        records.push(Written {
            kind: record.kind,
            seq: record.seq,
            timestamp_ns: record.timestamp_ns,
            payload: record.payload.to_vec(),
            segment_index: record.segment_index,
            offset: record.offset,
        });
    }
    Ok((records, cursor.end().cloned().unwrap()))
}

fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.path().join(entry.file_name())).unwrap();
    }
    to
}

fn last_path(dir: &Path, written: &[Written]) -> PathBuf {
    segment_path(dir, written.last().unwrap().segment_index)
}

/// How a test damages the bytes of one record.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Truncate the file at this offset within the record.
    Truncate(u64),
    /// Zero the record from this offset on (a write that stopped there).
    ZeroFrom(u64),
    /// XOR this byte of the record with a non-zero mask.
    Flip(u64, u8),
}

fn damage(path: &Path, record_offset: u64, record_bytes: u64, how: Damage) {
    let mut bytes = std::fs::read(path).unwrap();
    match how {
        Damage::Truncate(at) => {
            let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            file.set_len(record_offset + at).unwrap();
            return;
        }
        Damage::ZeroFrom(at) => {
            let start = (record_offset + at) as usize;
            bytes[start..(record_offset + record_bytes) as usize].fill(0);
        }
        Damage::Flip(at, mask) => bytes[(record_offset + at) as usize] ^= mask,
    }
    std::fs::write(path, bytes).unwrap();
}

fn record_len(record: &Written) -> u64 {
    match record.kind {
        RecordKind::Command => 96,
        RecordKind::Digest => 56,
        RecordKind::Config => unreachable!(),
    }
}

/// Damages the last record of a copy of `source`; checks the read keeps exactly the others,
/// then resumes, appends and checks the journal continues seamlessly.
fn check_torn_tail(source: &Path, written: &[Written], how: Damage, seed: u64) {
    let copy = copy_dir(source);
    let last = written.last().unwrap();
    damage(
        &last_path(copy.path(), written),
        last.offset,
        record_len(last),
        how,
    );
    let (records, end) = read_all(copy.path()).unwrap();
    let prefix = &written[..written.len() - 1];
    assert_eq!(records, prefix, "{how:?}");
    let last_seq = prefix
        .iter()
        .filter(|r| r.kind == RecordKind::Command)
        .map(|r| r.seq)
        .next_back();
    assert_eq!(end.last_seq, last_seq.unwrap_or(0));
    assert_eq!(end.offset, last.offset);

    let mut writer =
        JournalWriter::resume(copy.path(), options(Durability::PageCache), &end).unwrap();
    let mut flow = FlowGenerator::new(seed ^ 1, SHAPE);
    let more = append_flow(&mut writer, &mut flow, 5, 1_000);
    drop(writer);
    let (records, end) = read_all(copy.path()).unwrap();
    let expected: Vec<Written> = prefix.iter().cloned().chain(more).collect();
    assert_eq!(records, expected);
    assert!(end.torn.is_none());
}

#[test]
fn records_round_trip_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_journal(dir.path(), 3_000, 11);
    assert!(
        written.last().unwrap().segment_index >= 4,
        "the journal should roll"
    );
    let (records, end) = read_all(dir.path()).unwrap();
    assert_eq!(records, written);
    assert_eq!(end.last_seq, 3_000);
    assert!(end.torn.is_none());
    let mut flow = FlowGenerator::new(11, SHAPE);
    for record in records.iter().filter(|r| r.kind == RecordKind::Command) {
        assert_eq!(decode_command(&record.payload), Ok(flow.next_command()));
    }
}

#[test]
fn last_record_cut_at_every_byte_offset_keeps_exactly_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_journal(dir.path(), 47, 5);
    assert_eq!(written.last().unwrap().kind, RecordKind::Command);
    for at in 0..96 {
        check_torn_tail(dir.path(), &written, Damage::Truncate(at), at);
        check_torn_tail(dir.path(), &written, Damage::ZeroFrom(at), at);
        check_torn_tail(dir.path(), &written, Damage::Flip(at, 0x5a), at);
    }
}

#[test]
fn torn_digest_record_and_torn_first_record_of_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_journal(dir.path(), 50, 3);
    assert_eq!(written.last().unwrap().kind, RecordKind::Digest);
    for at in 0..56 {
        check_torn_tail(dir.path(), &written, Damage::Flip(at, 1), at);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut written = write_journal(dir.path(), 700, 3);
    let first_of_last = written.iter().position(|r| r.segment_index == 1).unwrap();
    written.truncate(first_of_last + 1);
    let copy = copy_dir(dir.path());
    let last = written.last().unwrap();
    let path = segment_path(copy.path(), 1);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(last.offset + 96)
        .unwrap();
    check_torn_tail(copy.path(), &written, Damage::Truncate(30), 9);
}

#[test]
fn empty_segment_after_a_torn_tail_is_removed_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_journal(dir.path(), 700, 4);
    let first_of_1 = written.iter().position(|r| r.segment_index == 1).unwrap();
    // Segment 1 loses its records (as if never written back) and segment 0's last record tears.
    std::fs::OpenOptions::new()
        .write(true)
        .open(segment_path(dir.path(), 1))
        .unwrap()
        .set_len(64)
        .unwrap();
    let kept = &written[..first_of_1];
    let probe = copy_dir(dir.path());
    let last = kept.last().unwrap();
    damage(
        &segment_path(probe.path(), 0),
        last.offset,
        record_len(last),
        Damage::ZeroFrom(40),
    );
    let (_, end) = read_all(probe.path()).unwrap();
    assert_eq!(end.segment_index, 0);
    assert_eq!(
        end.empty_later_segments,
        vec![segment_path(probe.path(), 1)]
    );
    JournalWriter::resume(probe.path(), options(Durability::PageCache), &end).unwrap();
    assert!(!segment_path(probe.path(), 1).exists());
    check_torn_tail(dir.path(), kept, Damage::ZeroFrom(40), 4);
}

#[test]
fn bit_flip_in_the_middle_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_journal(dir.path(), 1_500, 21);
    let picks = [0, 1, 333, 700, written.len() / 2, written.len() - 2];
    for (round, &pick) in picks.iter().enumerate() {
        let copy = copy_dir(dir.path());
        let victim = &written[pick];
        let path = segment_path(copy.path(), victim.segment_index);
        let at = (round as u64 * 37) % record_len(victim);
        damage(
            &path,
            victim.offset,
            record_len(victim),
            Damage::Flip(at, 0x10),
        );
        let error = read_all(copy.path()).unwrap_err();
        match &error {
            JournalError::Corrupt {
                path: bad, offset, ..
            } => {
                assert_eq!(bad, &path);
                assert_eq!(*offset, victim.offset);
            }
            other => panic!("expected Corrupt, got {other}"),
        }
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("offset {}", victim.offset)),
            "{message}"
        );
    }
}

#[test]
fn sync_policies_write_the_same_records() {
    for durability in [Durability::SyncEveryRecords(7), Durability::SyncPerBatch] {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = JournalWriter::create(dir.path(), options(durability), CONFIG).unwrap();
        let mut flow = FlowGenerator::new(2, SHAPE);
        let mut written = Vec::new();
        for _ in 0..20 {
            written.extend(append_flow(&mut writer, &mut flow, 50, 25));
            writer.end_batch().unwrap();
        }
        assert!(writer.counters().syncs >= 20, "{durability:?}");
        assert_eq!(writer.counters().records_appended, 1_000 + 40);
        drop(writer);
        let (records, _) = read_all(dir.path()).unwrap();
        assert_eq!(records, written);
    }
}

#[test]
fn create_refuses_an_existing_journal_and_open_an_empty_dir() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        JournalReader::open(dir.path()),
        Err(JournalError::NoJournal(_))
    ));
    write_journal(dir.path(), 3, 1);
    let again = JournalWriter::create(dir.path(), options(Durability::PageCache), CONFIG);
    assert!(matches!(again, Err(JournalError::AlreadyExists(_))));
    let too_small = JournalOptions {
        segment_size_bytes: 4096,
        ..options(Durability::PageCache)
    };
    let other = tempfile::tempdir().unwrap();
    let bad = JournalWriter::create(other.path(), too_small, CONFIG);
    assert!(matches!(bad, Err(JournalError::BadOptions(_))));
}

#[test]
fn missing_middle_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), 2_000, 8);
    std::fs::remove_file(segment_path(dir.path(), 1)).unwrap();
    let error = JournalReader::open(dir.path()).err().unwrap();
    assert!(
        matches!(error, JournalError::MissingSegment { index: 1, .. }),
        "{error}"
    );
    std::fs::remove_file(segment_path(dir.path(), 0)).unwrap();
    let error = JournalReader::open(dir.path()).err().unwrap();
    assert!(
        matches!(error, JournalError::MissingSegment { index: 0, .. }),
        "{error}"
    );
    let again = JournalWriter::create(dir.path(), options(Durability::PageCache), CONFIG);
    assert!(matches!(again, Err(JournalError::AlreadyExists(_))));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random flows of random length, last record damaged in a random way at a random offset.
    #[test]
    fn torn_tail_keeps_exactly_the_complete_prefix(
        count in 1u64..1_200,
        seed in any::<u64>(),
        mode in 0u8..3,
        at_fraction in 0u64..1_000,
        mask in 1u8..=255,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written = write_journal(dir.path(), count, seed);
        let at = at_fraction * record_len(written.last().unwrap()) / 1_000;
        let how = match mode {
            0 => Damage::Truncate(at),
            1 => Damage::ZeroFrom(at),
            _ => Damage::Flip(at, mask),
        };
        check_torn_tail(dir.path(), &written, how, seed);
    }
}

#[test]
fn prepared_segments_roll_the_same_and_a_leftover_one_is_ignored() {
    for durability in [Durability::PageCache, Durability::SyncPerBatch] {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = JournalWriter::create(dir.path(), options(durability), CONFIG).unwrap();
        let mut flow = FlowGenerator::new(12, SHAPE);
        let mut written = Vec::new();
        for _ in 0..40 {
            written.extend(append_flow(&mut writer, &mut flow, 50, 16));
            if writer.segment_bytes_left() < 1 << 15 {
                writer.prepare_next_segment().unwrap();
            }
        }
        assert!(writer.position().0 >= 2);
        // A crash right after preparing leaves a temporary file that readers ignore.
        writer.prepare_next_segment().unwrap();
        drop(writer);
        let (records, end) = read_all(dir.path()).unwrap();
        assert_eq!(records, written);
        let mut writer = JournalWriter::resume(dir.path(), options(durability), &end).unwrap();
        written.extend(append_flow(&mut writer, &mut flow, 800, 16));
        drop(writer);
        let (records, _) = read_all(dir.path()).unwrap();
        assert_eq!(records, written);
    }
}
