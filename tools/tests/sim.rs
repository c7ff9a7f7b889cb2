//! `peregrine sim` end to end: a few seeds run clean, a seed reproduces its trace digest
//! exactly, and a planted checker bug is reported as a violation with the seed, exit code 1,
//! and reproduces identically.

use std::process::Command;

/// Where this test process's runs keep their data (a failing run leaves its data there).
fn work_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("peregrine-sim-test-{}", std::process::id()))
}

fn sim(args: &[&str]) -> (i32, String) {
    let work_dir = work_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .arg("sim")
        .args(args)
        .arg("--work-dir")
        .arg(&work_dir)
        .output()
        .expect("run peregrine sim");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    (output.status.code().unwrap_or(-1), stdout)
}

/// The `seed N steps M digest D ...` line of a run.
fn outcome_line(stdout: &str) -> String {
    stdout
        .lines()
        .find(|line| line.contains(" digest "))
        .unwrap_or_else(|| panic!("no outcome line in {stdout}"))
        .to_string()
}

/// The line without its wall-clock field (`steps_per_s N`), which is all that may differ.
fn without_rate(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "steps_per_s")
        .expect("rate field");
    let kept: Vec<&str> = words[..at]
        .iter()
        .chain(&words[at + 2..])
        .copied()
        .collect();
    kept.join(" ")
}

fn digest(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "digest")
        .expect("digest field");
    words[at + 1].to_string()
}

#[test]
fn seeds_run_clean_with_crashes_and_reproduce_their_digest() {
    let args = [
        "--seed",
        "7",
        "--steps",
        "1500",
        "--settle-every",
        "300",
        "--crash-per-million",
        "4000",
    ];
    let (code, first) = sim(&args);
    assert_eq!(code, 0, "{first}");
    let line = outcome_line(&first);
    assert!(line.ends_with(": ok"), "{line}");
    assert!(
        !line.contains("crashes 0 "),
        "the run should crash at least once: {line}"
    );
    assert!(
        !line.contains("last_seq 0 "),
        "the run should journal inputs: {line}"
    );
    let (code, second) = sim(&args);
    assert_eq!(code, 0, "{second}");
    assert_eq!(without_rate(&line), without_rate(&outcome_line(&second)));
    let (code, other) = sim(&["--seed", "8", "--steps", "800", "--settle-every", "200"]);
    assert_eq!(code, 0, "{other}");
    assert_ne!(digest(&outcome_line(&other)), digest(&line), "seeds differ");
}

#[test]
fn a_planted_checker_bug_is_reported_with_its_seed_and_reproduces() {
    let args = [
        "--seed",
        "5",
        "--steps",
        "600",
        "--settle-every",
        "200",
        "--plant-bug",
    ];
    let (code, first) = sim(&args);
    assert_eq!(code, 1, "{first}");
    let line = outcome_line(&first);
    assert!(line.starts_with("seed 5 "), "{line}");
    assert!(line.contains("VIOLATION step "), "{line}");
    assert!(
        first.contains("reproduce: peregrine sim --seed 5"),
        "{first}"
    );
    let (code, second) = sim(&args);
    assert_eq!(code, 1, "{second}");
    let again = outcome_line(&second);
    assert_eq!(digest(&line), digest(&again));
    assert_eq!(without_rate(&line), without_rate(&again));
    // The planted violation kept its data for inspection; this test does not need it.
    let _ = std::fs::remove_dir_all(work_dir().join("sim-5"));
}

#[test]
fn ci_mode_prints_every_seed_and_stops_at_its_budget() {
    let (code, stdout) = sim(&[
        "--ci",
        "--steps",
        "200",
        "--random",
        "1",
        "--budget-s",
        "600",
    ]);
    assert_eq!(code, 0, "{stdout}");
    for seed in ["1", "2", "3", "42", "1337", "20260105"] {
        assert!(
            stdout.contains(&format!("seed {seed}: running")),
            "{stdout}"
        );
    }
    let runs = stdout.lines().filter(|l| l.ends_with(": ok")).count();
    assert_eq!(runs, 7, "six fixed seeds and one random: {stdout}");
}
