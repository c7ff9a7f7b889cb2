//! Runs the real `peregrine` binary on journals produced here: `journal dump|stats|tail`
//! (text and JSON lines) and `replay --verify` on a clean journal, a journal whose outputs no
//! longer match its digests, and a journal with a corrupt record in the middle.

use std::path::Path;
use std::process::{Command, Output};

use peregrine_engine::event::sink::CountSink;
use peregrine_engine::record::{encode_command, COMMAND_BYTES};
use peregrine_engine::{InstrumentId, TradingStatus};
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::format::{emit_record, RecordKind};
use peregrine_replay::{
    segment_path, CoreConfig, CoreStage, Durability, JournalOptions, JournalReader, StageOptions,
};

const INPUTS: u64 = 3_000;

fn peregrine(args: &[&str], path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(args)
        .arg(path)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A closed journal of `INPUTS` inputs with a digest every 256.
fn make_journal(dir: &Path) {
    let options = StageOptions {
        journal: JournalOptions {
            segment_size_bytes: 1 << 16,
            durability: Durability::PageCache,
            prefault: false,
        },
        digest_interval_inputs: 256,
        snapshots_kept: 1,
    };
    let (mut stage, _) = CoreStage::open(dir, options, &CoreConfig::demo(2, 3, 1 << 12)).unwrap();
    let shape = FlowShape {
        instrument_count: 2,
        account_count: 3,
        admin: true,
    };
    let mut flow = FlowGenerator::new(3, shape);
    let mut sink = CountSink::default();
    for seq in 1..=INPUTS {
        stage
            .submit(&flow.next_command(), 1_000 * seq, &mut sink)
            .unwrap();
    }
    stage.close().unwrap();
}

/// (segment, offset, timestamp) of command `seq`.
fn locate(dir: &Path, seq: u64) -> (u64, u64, u64) {
    let reader = JournalReader::open(dir).unwrap();
    let mut cursor = reader.cursor();
    while let Some(record) = cursor.next_record().unwrap() {
        if record.kind == RecordKind::Command && record.seq == seq {
            return (record.segment_index, record.offset, record.timestamp_ns);
        }
    }
    panic!("seq {seq} not in the journal");
}

#[test]
fn stats_dump_and_tail_describe_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    make_journal(dir.path());

    let stats = peregrine(&["journal", "stats"], dir.path());
    assert!(stats.status.success(), "{}", text(&stats.stderr));
    let out = text(&stats.stdout);
    assert!(
        out.contains(&format!("commands     {INPUTS} (seq 1..={INPUTS})")),
        "{out}"
    );
    assert!(out.contains("2 instruments, 3 accounts"), "{out}");
    assert!(out.contains("torn tail    none"), "{out}");

    let stats = peregrine(&["journal", "stats", "--json"], dir.path());
    let value: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(value["commands"], INPUTS);
    assert_eq!(value["last_seq"], INPUTS);
    assert_eq!(value["digests"], INPUTS / 256 + 1);

    let dump = peregrine(&["journal", "dump"], dir.path());
    assert!(dump.status.success());
    let lines = text(&dump.stdout);
    assert_eq!(lines.lines().count() as u64, 1 + INPUTS + INPUTS / 256 + 1);
    assert!(
        lines
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("seq=1 ts=1000 seg=0"),
        "{lines}"
    );

    let dump = peregrine(
        &[
            "journal",
            "dump",
            "--json",
            "--from-seq",
            "100",
            "--limit",
            "4",
        ],
        dir.path(),
    );
    let rows: Vec<serde_json::Value> = text(&dump.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["seq"], 100);
    assert_eq!(rows[0]["kind"], "command");
    assert!(rows[0]["command"]["type"].is_string());

    let tail = peregrine(&["journal", "tail", "-n", "2", "--json"], dir.path());
    let rows: Vec<serde_json::Value> = text(&tail.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["seq"], INPUTS);
    assert_eq!(rows[1]["kind"], "digest");
    assert_eq!(rows[1]["reason"], "close");
}

#[test]
fn replay_verify_succeeds_then_reports_a_divergence() {
    let dir = tempfile::tempdir().unwrap();
    make_journal(dir.path());
    let verify = peregrine(&["replay", "--verify"], dir.path());
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let out = text(&verify.stdout);
    assert!(
        out.starts_with(&format!("OK: {INPUTS} inputs replayed")),
        "{out}"
    );

    // Rewrite input 700 as a halt, with a valid CRC: the journal reads, the digests differ.
    let (segment, offset, timestamp_ns) = locate(dir.path(), 700);
    let path = segment_path(dir.path(), segment);
    let mut bytes = std::fs::read(&path).unwrap();
    let halt = peregrine_engine::Command::SetTradingStatus {
        instrument: InstrumentId(1),
        status: TradingStatus::Halted,
    };
    let mut payload = [0u8; COMMAND_BYTES];
    encode_command(&halt, &mut payload);
    emit_record(
        &mut bytes[offset as usize..],
        RecordKind::Command,
        700,
        timestamp_ns,
        &payload,
    );
    std::fs::write(&path, bytes).unwrap();

    let verify = peregrine(&["replay", "--verify", "--show-inputs", "200"], dir.path());
    assert_eq!(verify.status.code(), Some(1));
    let out = text(&verify.stdout);
    assert!(
        out.contains("DIVERGENCE: outputs differ in the window of inputs seq 513..=768"),
        "{out}"
    );
    assert!(
        out.contains("seq 700 ts 700000 SetTradingStatus instrument=1 status=Halted"),
        "{out}"
    );
    let json = peregrine(&["replay", "--verify", "--json"], dir.path());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["result"], "divergence");
    assert_eq!(value["divergence"]["window_first_seq"], 513);
}

#[test]
fn corrupt_record_in_the_middle_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    make_journal(dir.path());
    let (segment, offset, _) = locate(dir.path(), 1_234);
    let path = segment_path(dir.path(), segment);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset as usize + 40] ^= 0x08;
    std::fs::write(&path, bytes).unwrap();
    for args in [
        &["journal", "dump"][..],
        &["journal", "stats"],
        &["replay", "--verify"],
    ] {
        let run = peregrine(args, dir.path());
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        let err = text(&run.stderr);
        assert!(err.contains(&path.display().to_string()), "{args:?}: {err}");
        assert!(
            err.contains(&format!("byte offset {offset}")),
            "{args:?}: {err}"
        );
    }
}
