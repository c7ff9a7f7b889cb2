//! Process-level crash test: a child process (`journal_child`) journals a deterministic random
//! flow and is killed with SIGKILL at random points, many times over the same journal (each
//! run recovers what the previous left). After every kill, recovery must give a state equal
//! to the reference core fed the journal's inputs, those inputs must be a prefix of the flow,
//! and every input the child reported as processed must be in it.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use peregrine_engine::record::decode_command;
use peregrine_engine::Sequenced;
use peregrine_replay::flow::{FlowGenerator, FlowShape};
use peregrine_replay::{
    CoreConfig, CoreStage, Durability, JournalOptions, JournalReader, OutputDigest, RecordKind,
    StageOptions,
};
use peregrine_risk::Core;

const SEED: u64 = 77;
const ITERATIONS: u64 = 30;

fn config() -> CoreConfig {
    CoreConfig::demo(3, 4, 1 << 16)
}

fn options() -> StageOptions {
    StageOptions {
        journal: JournalOptions {
            segment_size_bytes: 1 << 20,
            durability: Durability::PageCache,
            prefault: false,
        },
        digest_interval_inputs: 256,
        snapshots_kept: 2,
    }
}

/// The core fed the journal's inputs so far, and the flow they must follow.
struct Reference {
    core: Core,
    digest: OutputDigest,
    flow: FlowGenerator,
}

impl Reference {
    /// Applies the journal's commands after the reference's last seq, checking each is the
    /// flow's next command.
    fn catch_up(&mut self, dir: &Path) {
        let reader = JournalReader::open(dir).unwrap();
        let mut cursor = reader.cursor();
        while let Some(record) = cursor.next_record().unwrap() {
            if record.kind != RecordKind::Command || record.seq <= self.core.last_seq() {
                continue;
            }
            let command = decode_command(record.payload).unwrap();
            assert_eq!(
                command,
                self.flow.next_command(),
                "journal is not a prefix of the flow"
            );
            let input = Sequenced {
                seq: record.seq,
                timestamp_ns: record.timestamp_ns,
                command,
            };
            self.core.apply(&input, &mut self.digest);
        }
        assert!(cursor.end().is_some());
    }
}

/// Runs the child for `run_ms`, kills it, returns the highest seq it reported.
fn run_and_kill(dir: &Path, run_ms: u64) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_journal_child"))
        .arg(dir)
        .arg(SEED.to_string())
        .args(["--snapshot-every", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        let mut highest = 0u64;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(seq) = line.strip_prefix("processed ").and_then(|s| s.parse().ok()) {
                highest = highest.max(seq);
            }
        }
        highest
    });
    std::thread::sleep(Duration::from_millis(run_ms));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child should have been killed, not finished"
    );
    lines.join().unwrap()
}

#[test]
fn sigkill_at_random_points_loses_no_reported_input() {
    let dir = tempfile::tempdir().unwrap();
    let shape = FlowShape {
        instrument_count: 3,
        account_count: 4,
        admin: true,
    };
    let mut reference = Reference {
        core: Core::new(config().engine, config().risk).unwrap(),
        digest: OutputDigest::default(),
        flow: FlowGenerator::new(SEED, shape),
    };
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut recovered_seq = 0;
    for iteration in 0..ITERATIONS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let run_ms = 20 + state % 280;
        let reported = run_and_kill(dir.path(), run_ms);

        let (stage, report) = CoreStage::open(dir.path(), options(), &config()).unwrap();
        let last_seq = stage.last_seq();
        assert!(
            last_seq >= reported,
            "iteration {iteration}: reported {reported}, recovered {last_seq}"
        );
        assert!(
            last_seq >= recovered_seq,
            "iteration {iteration}: went back from {recovered_seq}"
        );
        assert_eq!(report.first_digest_mismatch, None);
        reference.catch_up(dir.path());
        assert_eq!(reference.core.last_seq(), last_seq);
        stage.core().verify();
        assert_eq!(
            stage.core().snapshot(),
            reference.core.snapshot(),
            "iteration {iteration}"
        );
        assert_eq!(stage.digest(), reference.digest, "iteration {iteration}");
        eprintln!(
            "iteration {iteration}: ran {run_ms} ms, reported {reported}, recovered {last_seq} \
             (snapshot {:?}, replayed {}, torn tail {})",
            report.snapshot_seq,
            report.replayed_inputs,
            report.torn.is_some()
        );
        recovered_seq = last_seq;
    }
    assert!(recovered_seq > 0, "the child never got to process anything");
}
