//! The machine a report was measured on: CPU model, cores, kernel, frequency governor, load
//! average, memory, and the git revision of the tree. Read from `/proc`, `/sys` and `git`;
//! whatever cannot be read is reported as "unknown", never guessed.
//!
//! # Invariants
//! - Every field is a single line of text.

use std::process::Command;

#[derive(Clone, Debug)]
pub struct Machine {
    pub cpu_model: String,
    pub core_count: usize,
    pub kernel: String,
    pub governor: String,
    pub load_average: String,
    pub memory: String,
    pub git_revision: String,
    pub date_utc: String,
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

fn known(text: String) -> String {
    if text.is_empty() {
        "unknown".to_string()
    } else {
        text
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| first_line(&String::from_utf8_lossy(&output.stdout)))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
        .unwrap_or_default()
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
        .unwrap_or_default()
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them ("unknown" without it).
pub fn load_average_now() -> String {
    known(
        std::fs::read_to_string("/proc/loadavg")
            .map(|text| {
                text.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
    )
}

/// Reads the machine description now (the load average is the one at this moment).
pub fn describe() -> Machine {
    let governor = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
        .map(|text| first_line(&text))
        .unwrap_or_else(|_| "not exposed (no cpufreq; typical of a VM)".to_string());
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let dirty = !command_line("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let revision = command_line("git", &["rev-parse", "--short=12", "HEAD"]);
    Machine {
        cpu_model: known(cpu_model()),
        core_count: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: known(command_line("uname", &["-sr"])),
        governor,
        load_average,
        memory: known(memory()),
        git_revision: known(if dirty && !revision.is_empty() {
            format!("{revision} (work tree has uncommitted changes)")
        } else {
            revision
        }),
        date_utc: known(command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
    }
}
