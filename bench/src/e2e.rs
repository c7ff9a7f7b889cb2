//! End to end: the real `peregrine run` node and the real `peregrine load` generator, as
//! processes over loopback, at several fixed offered rates (open loop: latency is measured from
//! each order's intended send time, so a stalled node cannot hide its queue). One fresh node per
//! point, in each node mode (the mode pair is the peer: threaded stages beside one loop).
//!
//! The generator's report is parsed: every `# NAME_us p50=… p99=…` summary line (order-to-ack,
//! and order-to-feed when the generator supports `--feed`) and the first percentile
//! distribution (`.hgrm` layout) for the HDR curve.
//!
//! # Invariants
//! - Every child process is bounded by a deadline and is stopped (SIGTERM, then SIGKILL) before
//!   the point returns, whatever happened.
//! - Traffic stays on 127.0.0.1 (and the node's loopback multicast feed).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One latency summary of the generator's report, in µs.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySummary {
    /// E.g. `order_to_ack`, `order_to_feed`.
    pub name: String,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub count: u64,
}

/// One (mode, rate) point.
#[derive(Clone, Debug)]
pub struct LoadPoint {
    pub mode: &'static str,
    pub offered_orders_per_s: u64,
    pub achieved_orders_per_s: f64,
    pub summaries: Vec<LatencySummary>,
    /// (value µs, percentile 0..1) of the first distribution in the report.
    pub curve: Vec<(f64, f64)>,
}

/// How the e2e runs are sized.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub rates_per_s: Vec<u64>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub sessions: usize,
    /// (label, extra `peregrine run` arguments).
    pub modes: Vec<(&'static str, Vec<&'static str>)>,
}

/// Parses `key=value` pairs of a summary line.
fn value_of(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .and_then(|text| text.parse().ok())
}

/// Parses the generator's report text.
pub fn parse_report(text: &str) -> (f64, Vec<LatencySummary>, Vec<(f64, f64)>) {
    let mut achieved = 0.0;
    let mut summaries = Vec::new();
    let mut curve = Vec::new();
    let mut in_table = false;
    let mut table_done = false;
    for line in text.lines() {
        if let Some(value) = value_of(line, "achieved_orders_per_s") {
            achieved = value;
        }
        let mut words = line.split_whitespace();
        if let (Some("#"), Some(first)) = (words.next(), words.next()) {
            if let Some(name) = first.strip_suffix("_us") {
                summaries.push(LatencySummary {
                    name: name.to_string(),
                    p50_us: value_of(line, "p50").unwrap_or(f64::NAN),
                    p99_us: value_of(line, "p99").unwrap_or(f64::NAN),
                    p999_us: value_of(line, "p99.9").unwrap_or(f64::NAN),
                    max_us: value_of(line, "max").unwrap_or(f64::NAN),
                    count: value_of(line, "count").unwrap_or(0.0) as u64,
                });
            }
        }
        let columns: Vec<f64> = line
            .split_whitespace()
            .map_while(|word| word.parse::<f64>().ok())
            .collect();
        if columns.len() == 4 && !table_done {
            in_table = true;
            curve.push((columns[0], columns[1]));
        } else if in_table {
            in_table = false;
            table_done = true;
        }
    }
    (achieved, summaries, curve)
}

/// Stops a child: SIGTERM, a grace period, then SIGKILL; always reaps it.
fn stop(child: &mut Child, grace: Duration) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: `kill` takes plain integers; `pid` is our own unreaped child, so the id cannot
        // have been reused by another process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts a node; returns it and the address it listens on.
fn start_node(
    peregrine: &Path,
    data_dir: &Path,
    extra: &[&str],
) -> std::io::Result<(Child, String)> {
    let mut child = Command::new(peregrine)
        .args(["run", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let Some(stdout) = child.stdout.take() else {
        stop(&mut child, Duration::from_secs(2));
        return Err(std::io::Error::other("node stdout not captured"));
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("listening on ") {
                let _ = sender.send(address.trim().to_string());
            }
        }
    });
    match receiver.recv_timeout(Duration::from_secs(30)) {
        Ok(address) => Ok((child, address)),
        Err(_) => {
            stop(&mut child, Duration::from_secs(2));
            Err(std::io::Error::other("node did not report its address"))
        }
    }
}

/// Whether this `peregrine load` can measure order-to-feed (`--feed`).
pub fn load_supports_feed(peregrine: &Path) -> bool {
    Command::new(peregrine)
        .args(["load", "--help"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).contains("--feed"))
        .unwrap_or(false)
}

/// Runs one point: a fresh node, one load run, both stopped.
fn run_point(
    peregrine: &Path,
    work_dir: &Path,
    plan: &LoadPlan,
    mode: &(&'static str, Vec<&'static str>),
    rate_per_s: u64,
    feed: bool,
) -> std::io::Result<LoadPoint> {
    let point_dir = work_dir.join(format!("{}-{rate_per_s}", mode.0.replace(' ', "-")));
    let _ = std::fs::remove_dir_all(&point_dir);
    std::fs::create_dir_all(&point_dir)?;
    let (mut node, address) = start_node(peregrine, &point_dir.join("data"), &mode.1)?;
    let report = point_dir.join("load.hgrm");
    let mut load = Command::new(peregrine);
    load.args(["load", "--addr", &address])
        .args(["--sessions", &plan.sessions.to_string()])
        .args(["--rate", &rate_per_s.to_string()])
        .args(["--duration-s", &plan.duration_s.to_string()])
        .args(["--warmup-s", &plan.warmup_s.to_string()])
        .args(["--label", mode.0])
        .arg("--report")
        .arg(&report)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if feed {
        load.arg("--feed");
    }
    let outcome = wait_bounded(load, plan.duration_s + plan.warmup_s + 60.0);
    stop(&mut node, Duration::from_secs(10));
    outcome?;
    let text = std::fs::read_to_string(&report)?;
    let (achieved, summaries, curve) = parse_report(&text);
    let _ = std::fs::remove_dir_all(&point_dir);
    Ok(LoadPoint {
        mode: mode.0,
        offered_orders_per_s: rate_per_s,
        achieved_orders_per_s: achieved,
        summaries,
        curve,
    })
}

/// Runs `command` to completion within `limit_s`; an error when it fails or overruns.
fn wait_bounded(mut command: Command, limit_s: f64) -> std::io::Result<()> {
    let mut child = command.spawn()?;
    let deadline = Instant::now() + Duration::from_secs_f64(limit_s);
    loop {
        if let Some(status) = child.try_wait()? {
            return if status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "peregrine load exited {status}"
                )))
            };
        }
        if Instant::now() > deadline {
            stop(&mut child, Duration::from_secs(2));
            return Err(std::io::Error::other("peregrine load overran its deadline"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every (mode, rate) point of the plan, in order; the first failure stops the run.
pub fn run(peregrine: &Path, work_dir: &Path, plan: &LoadPlan) -> std::io::Result<Vec<LoadPoint>> {
    let feed = load_supports_feed(peregrine);
    let mut points = Vec::new();
    for mode in &plan.modes {
        for &rate in &plan.rates_per_s {
            eprintln!("e2e: {} at {rate} orders/s", mode.0);
            points.push(run_point(peregrine, work_dir, plan, mode, rate, feed)?);
        }
    }
    Ok(points)
}

/// The `peregrine` binary next to this executable (same target directory), if built.
pub fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(name), dir.parent()?.join(name)]
        .into_iter()
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_generators_report() {
        let text = "# threaded\n\
# sessions=8 rate_per_s=1000 duration_s=1.0 warmup_s=0.5\n\
# sent=1000 acked=1000 rejected=0 executions=3 cancels=2 late_sends=0 achieved_orders_per_s=998\n\
# order_to_ack_us p50=41.5 p90=60.0 p99=120.2 p99.9=300.0 p99.99=400.0 max=512.0 count=1000\n\
# order_to_feed_us p50=80.0 p90=90.0 p99=150.0 p99.9=310.0 p99.99=410.0 max=600.0 count=400\n\
   Value(us)     Percentile TotalCount 1/(1-Percentile)\n\
      10.000 0.000000000000          1           1.00\n\
      41.500 0.500000000000        500           2.00\n\
     512.000 1.000000000000       1000            inf\n\
   Value(us)     Percentile TotalCount 1/(1-Percentile)\n\
      99.000 0.500000000000        500           2.00\n";
        let (achieved, summaries, curve) = parse_report(text);
        assert_eq!(achieved, 998.0);
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].name, "order_to_ack");
        assert_eq!(summaries[0].p50_us, 41.5);
        assert_eq!(summaries[0].p999_us, 300.0);
        assert_eq!(summaries[0].count, 1000);
        assert_eq!(summaries[1].name, "order_to_feed");
        assert_eq!(summaries[1].max_us, 600.0);
        assert_eq!(curve, vec![(10.0, 0.0), (41.5, 0.5), (512.0, 1.0)]);
    }
}
