//! Host tuning audit: does this host run the pipeline the way the configuration assumes?
//!
//! [`HostFacts::read`] gathers what the kernel says (`/proc`, `/sys`) as plain values, each
//! `None` where the file is missing or unreadable; [`audit`] compares them with an
//! [`AuditTarget`] (the cores the stages are pinned to, the NIC, whether hugepages are wanted)
//! and returns one [`Check`] per question with its [`Status`] and the fix. The parsers are pure
//! functions over text, tested on fixtures; only `HostFacts::read` touches the file system, and
//! it only reads.
//!
//! A fact that cannot be read is a `Warn` ("cannot tell"), never a `Pass`: the audit reports
//! honestly on hosts (containers, VMs) that hide parts of `/sys`.
//!
//! # Invariants
//! - Reading and auditing never write to the host and never panic on odd file contents: a
//!   parser returns `None` for text it does not understand.
//! - `audit` returns the checks in a fixed order, one per [`CheckId`], whatever the facts.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The host is set up as wanted.
    Pass,
    /// Not as wanted, or cannot tell; the node runs, with worse or unknown latency.
    Warn,
    /// Contradicts the configuration (e.g. a pinned core that is not isolated).
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        })
    }
}

/// What a check looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckId {
    /// Pinned cores are in `isolcpus` (or the kernel's isolated set).
    Isolated,
    /// Pinned cores are in `nohz_full`.
    NohzFull,
    /// Pinned cores are in `rcu_nocbs`.
    RcuNocbs,
    /// No IRQ may run on a pinned core.
    IrqAffinity,
    /// CPU frequency governor `performance` on pinned cores.
    Governor,
    /// Transparent hugepages `never`.
    TransparentHugepages,
    /// Enough reserved 2 MiB hugepages.
    Hugepages,
    /// Clock source `tsc`.
    Clocksource,
    /// Busy-poll sysctls set.
    BusyPoll,
    /// NIC ring sizes at their maximum.
    NicRings,
    /// NIC interrupt coalescing off (rx-usecs 0).
    NicCoalescing,
}

/// One line of the audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub id: CheckId,
    /// Short name (`isolcpus`, `governor`, …).
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it (empty on pass).
    pub fix: String,
}

/// What the configuration expects of the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditTarget {
    /// Cores the stages are pinned to (gateway, core, …). Empty: nothing is pinned, and the
    /// isolation checks warn instead of fail.
    pub pinned_cores: Vec<usize>,
    /// 2 MiB hugepages the node wants reserved (0: none needed).
    pub hugepages_wanted: u64,
    /// The NIC that carries order entry and the feed, if any (`eth0`).
    pub interface: Option<String>,
}

/// NIC ring sizes as `ethtool -g` prints them: (maximum, current) for RX and TX.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicRings {
    /// Pre-set maximum RX ring entries.
    pub rx_max: u32,
    /// Current RX ring entries.
    pub rx: u32,
    /// Pre-set maximum TX ring entries.
    pub tx_max: u32,
    /// Current TX ring entries.
    pub tx: u32,
}

/// What the host says, each `None` when unreadable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `/proc/cmdline`.
    pub cmdline: Option<String>,
    /// `/sys/devices/system/cpu/isolated`.
    pub isolated: Option<BTreeSet<usize>>,
    /// `/sys/devices/system/cpu/nohz_full`.
    pub nohz_full: Option<BTreeSet<usize>>,
    /// Governor per pinned core (`cpuN/cpufreq/scaling_governor`), `None` when absent.
    pub governors: Vec<(usize, Option<String>)>,
    /// `/sys/kernel/mm/transparent_hugepage/enabled`, the selected word.
    pub thp: Option<String>,
    /// `HugePages_Total` and `Hugepagesize` (kB) from `/proc/meminfo`.
    pub hugepages: Option<(u64, u64)>,
    /// Current clock source.
    pub clocksource: Option<String>,
    /// `(irq, cores it may run on)` for every numbered IRQ in `/proc/irq`.
    pub irq_affinity: Option<Vec<(u32, BTreeSet<usize>)>>,
    /// `net.core.busy_poll` and `net.core.busy_read` (µs).
    pub busy_poll: Option<(u64, u64)>,
    /// `ethtool -g IFACE`, parsed.
    pub nic_rings: Option<NicRings>,
    /// `rx-usecs` from `ethtool -c IFACE`.
    pub nic_rx_usecs: Option<u32>,
}

/// Parses a kernel CPU list (`0-3,8,10-11`); `None` on malformed text. Empty text is the
/// empty set.
pub fn parse_cpu_list(text: &str) -> Option<BTreeSet<usize>> {
    let mut cores = BTreeSet::new();
    let text = text.trim();
    if text.is_empty() {
        return Some(cores);
    }
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let core: usize = part.trim().parse().ok()?;
                (core, core)
            }
        };
        // A bound keeps a hostile range from allocating without end.
        if first > last || last >= 65_536 {
            return None;
        }
        cores.extend(first..=last);
    }
    Some(cores)
}

/// The CPU list of a boot parameter (`isolcpus=domain,managed_irq,2-3` → {2, 3}). Flags
/// before the list are skipped; `None` if the parameter is absent.
pub fn cmdline_cpu_param(cmdline: &str, param: &str) -> Option<BTreeSet<usize>> {
    let value = cmdline
        .split_ascii_whitespace()
        .filter_map(|word| word.split_once('='))
        .filter(|(key, _)| *key == param)
        .map(|(_, value)| value)
        .next_back()?;
    let list: Vec<&str> = value
        .split(',')
        .filter(|part| part.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    parse_cpu_list(&list.join(","))
}

/// The bracketed choice of a sysfs selector (`always [madvise] never` → `madvise`).
pub fn selected_word(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_string())
}

/// `(HugePages_Total, Hugepagesize in kB)` from `/proc/meminfo` text.
pub fn parse_meminfo_hugepages(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|line| line.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_start_matches(':')
            .split_ascii_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("HugePages_Total")?, field("Hugepagesize")?))
}

/// `ethtool -g` output: the numbers under "Pre-set maximums" and "Current hardware settings".
pub fn parse_ethtool_rings(text: &str) -> Option<NicRings> {
    let mut rings = NicRings::default();
    let mut section = 0; // 1: maximums, 2: current.
    let mut seen = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Pre-set maximums") {
            section = 1;
        } else if line.starts_with("Current hardware settings") {
            section = 2;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u32>() else {
            continue;
        };
        match (section, key.trim()) {
            (1, "RX") => rings.rx_max = value,
            (1, "TX") => rings.tx_max = value,
            (2, "RX") => rings.rx = value,
            (2, "TX") => rings.tx = value,
            _ => continue,
        }
        seen += 1;
    }
    (seen == 4).then_some(rings)
}

/// `rx-usecs` from `ethtool -c` output.
pub fn parse_ethtool_rx_usecs(text: &str) -> Option<u32> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == "rx-usecs")
        .and_then(|(_, value)| value.trim().parse().ok())
}

impl HostFacts {
    /// Reads the facts under `root` (`/` on a real host; tests pass a fixture tree). Reads
    /// only. `ethtool` is run for `target.interface` only when `root` is `/` and it exists.
    pub fn read(root: &Path, target: &AuditTarget) -> HostFacts {
        let read = |path: &str| -> Option<String> {
            std::fs::read_to_string(root.join(path.trim_start_matches('/'))).ok()
        };
        let cpu = "sys/devices/system/cpu";
        let governors = target
            .pinned_cores
            .iter()
            .map(|core| {
                let path = format!("{cpu}/cpu{core}/cpufreq/scaling_governor");
                (*core, read(&path).map(|g| g.trim().to_string()))
            })
            .collect();
        let (nic_rings, nic_rx_usecs) = match (&target.interface, root == Path::new("/")) {
            (Some(interface), true) => (
                ethtool(&["-g", interface]).and_then(|t| parse_ethtool_rings(&t)),
                ethtool(&["-c", interface]).and_then(|t| parse_ethtool_rx_usecs(&t)),
            ),
            _ => (None, None),
        };
        let busy = |name: &str| {
            read(&format!("proc/sys/net/core/{name}"))?
                .trim()
                .parse()
                .ok()
        };
        HostFacts {
            cmdline: read("proc/cmdline"),
            isolated: read(&format!("{cpu}/isolated")).and_then(|t| parse_cpu_list(&t)),
            nohz_full: read(&format!("{cpu}/nohz_full")).and_then(|t| parse_cpu_list(&t)),
            governors,
            thp: read("sys/kernel/mm/transparent_hugepage/enabled").and_then(|t| selected_word(&t)),
            hugepages: read("proc/meminfo").and_then(|t| parse_meminfo_hugepages(&t)),
            clocksource: read("sys/devices/system/clocksource/clocksource0/current_clocksource")
                .map(|t| t.trim().to_string()),
            irq_affinity: read_irq_affinity(&root.join("proc/irq")),
            busy_poll: busy("busy_poll").zip(busy("busy_read")),
            nic_rings,
            nic_rx_usecs,
        }
    }
}

/// `(irq, smp_affinity_list)` of every numbered directory in `dir`.
fn read_irq_affinity(dir: &Path) -> Option<Vec<(u32, BTreeSet<usize>)>> {
    let mut irqs = Vec::new();
    for entry in std::fs::read_dir(dir).ok()? {
        let Ok(entry) = entry else { continue };
        let Some(irq) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let path: PathBuf = entry.path().join("smp_affinity_list");
        if let Some(cores) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| parse_cpu_list(&t))
        {
            irqs.push((irq, cores));
        }
    }
    irqs.sort();
    Some(irqs)
}

fn ethtool(args: &[&str]) -> Option<String> {
    let output = std::process::Command::new("ethtool")
        .args(args)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn check(id: CheckId, name: &'static str, status: Status, detail: String, fix: &str) -> Check {
    let fix = if status == Status::Pass {
        String::new()
    } else {
        fix.to_string()
    };
    Check {
        id,
        name,
        status,
        detail,
        fix,
    }
}

fn list(cores: &BTreeSet<usize>) -> String {
    let parts: Vec<String> = cores.iter().map(usize::to_string).collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(",")
    }
}

/// Compares the facts with the target: one [`Check`] per [`CheckId`], in declaration order.
pub fn audit(facts: &HostFacts, target: &AuditTarget) -> Vec<Check> {
    let pinned: BTreeSet<usize> = target.pinned_cores.iter().copied().collect();
    let cmdline = facts.cmdline.as_deref().unwrap_or("");
    let isolated = facts
        .isolated
        .clone()
        .filter(|set| !set.is_empty())
        .or_else(|| cmdline_cpu_param(cmdline, "isolcpus"));
    let nohz = facts
        .nohz_full
        .clone()
        .filter(|set| !set.is_empty())
        .or_else(|| cmdline_cpu_param(cmdline, "nohz_full"));
    let boot_fix = "tuning/scripts/boot-args.sh --cores LIST (then reboot)";
    vec![
        core_set_check(
            CheckId::Isolated,
            "isolcpus",
            &pinned,
            isolated.as_ref(),
            boot_fix,
        ),
        core_set_check(
            CheckId::NohzFull,
            "nohz_full",
            &pinned,
            nohz.as_ref(),
            boot_fix,
        ),
        core_set_check(
            CheckId::RcuNocbs,
            "rcu_nocbs",
            &pinned,
            cmdline_cpu_param(cmdline, "rcu_nocbs").as_ref(),
            boot_fix,
        ),
        irq_check(facts, &pinned),
        governor_check(facts, &pinned),
        thp_check(facts),
        hugepages_check(facts, target.hugepages_wanted),
        clocksource_check(facts),
        busy_poll_check(facts),
        nic_rings_check(facts, target),
        nic_coalescing_check(facts, target),
    ]
}

fn core_set_check(
    id: CheckId,
    name: &'static str,
    pinned: &BTreeSet<usize>,
    set: Option<&BTreeSet<usize>>,
    fix: &str,
) -> Check {
    let found = set.map_or("not set".to_string(), list);
    if pinned.is_empty() {
        let detail = format!("no pinned cores in the config; {name}: {found}");
        return check(
            id,
            name,
            Status::Warn,
            detail,
            "pin the stages (node.gateway_cpu, node.core_cpu) to isolated cores",
        );
    }
    let missing: BTreeSet<usize> = match set {
        Some(set) => pinned.difference(set).copied().collect(),
        None => pinned.clone(),
    };
    let status = if missing.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let detail = format!("pinned {}, {name} {found}", list(pinned));
    check(id, name, status, detail, fix)
}

fn irq_check(facts: &HostFacts, pinned: &BTreeSet<usize>) -> Check {
    let (id, name) = (CheckId::IrqAffinity, "irq-affinity");
    let fix = "tuning/scripts/irq-affinity.sh --away-from LIST";
    let Some(irqs) = facts.irq_affinity.as_ref() else {
        return check(id, name, Status::Warn, "cannot read /proc/irq".into(), fix);
    };
    if pinned.is_empty() {
        let detail = format!("{} IRQs; no pinned cores to keep them off", irqs.len());
        return check(id, name, Status::Warn, detail, "pin the stages first");
    }
    let on_pinned: Vec<String> = irqs
        .iter()
        .filter(|(_, cores)| !cores.is_disjoint(pinned))
        .map(|(irq, _)| irq.to_string())
        .collect();
    let status = if on_pinned.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let shown: Vec<&str> = on_pinned.iter().take(12).map(String::as_str).collect();
    let detail = format!(
        "{} of {} IRQs may run on pinned cores {}{}",
        on_pinned.len(),
        irqs.len(),
        list(pinned),
        if shown.is_empty() {
            String::new()
        } else {
            format!(" (IRQ {})", shown.join(","))
        }
    );
    check(id, name, status, detail, fix)
}

fn governor_check(facts: &HostFacts, pinned: &BTreeSet<usize>) -> Check {
    let (id, name) = (CheckId::Governor, "governor");
    let fix = "tuning/scripts/cpu-governor.sh --cores LIST";
    if pinned.is_empty() {
        return check(
            id,
            name,
            Status::Warn,
            "no pinned cores to check".into(),
            "pin the stages first",
        );
    }
    let found: Vec<String> = facts
        .governors
        .iter()
        .map(|(core, g)| format!("cpu{core}={}", g.as_deref().unwrap_or("no cpufreq")))
        .collect();
    let all_performance = !facts.governors.is_empty()
        && facts
            .governors
            .iter()
            .all(|(_, g)| g.as_deref() == Some("performance"));
    let any_unknown = facts.governors.iter().any(|(_, g)| g.is_none());
    let status = match (all_performance, any_unknown) {
        (true, _) => Status::Pass,
        // No cpufreq (VMs): the hypervisor decides; nothing to set here.
        (false, true) => Status::Warn,
        (false, false) => Status::Fail,
    };
    check(id, name, status, found.join(" "), fix)
}

fn thp_check(facts: &HostFacts) -> Check {
    let (id, name) = (CheckId::TransparentHugepages, "thp");
    let fix = "tuning/scripts/thp.sh";
    match facts.thp.as_deref() {
        Some("never") => check(id, name, Status::Pass, "never".into(), fix),
        Some(mode) => check(
            id,
            name,
            Status::Warn,
            format!("{mode} (khugepaged may stall a stage)"),
            fix,
        ),
        None => check(id, name, Status::Warn, "cannot read".into(), fix),
    }
}

fn hugepages_check(facts: &HostFacts, wanted: u64) -> Check {
    let (id, name) = (CheckId::Hugepages, "hugepages");
    let fix = "tuning/scripts/hugepages.sh --count N";
    let Some((total, size_kb)) = facts.hugepages else {
        return check(
            id,
            name,
            Status::Warn,
            "cannot read /proc/meminfo".into(),
            fix,
        );
    };
    let detail = format!("{total} reserved of {size_kb} kB, {wanted} wanted");
    let status = if total >= wanted.max(1) {
        Status::Pass
    } else if wanted > 0 {
        Status::Fail
    } else {
        Status::Warn
    };
    check(id, name, status, detail, fix)
}

fn clocksource_check(facts: &HostFacts) -> Check {
    let (id, name) = (CheckId::Clocksource, "clocksource");
    let fix = "boot with clocksource=tsc tsc=reliable (tuning/scripts/boot-args.sh)";
    match facts.clocksource.as_deref() {
        Some("tsc") => check(id, name, Status::Pass, "tsc".into(), fix),
        Some(other) => check(
            id,
            name,
            Status::Warn,
            format!("{other} (slower clock reads than tsc)"),
            fix,
        ),
        None => check(id, name, Status::Warn, "cannot read".into(), fix),
    }
}

fn busy_poll_check(facts: &HostFacts) -> Check {
    let (id, name) = (CheckId::BusyPoll, "busy-poll");
    let fix = "tuning/scripts/busy-poll.sh";
    match facts.busy_poll {
        Some((poll, read)) if poll > 0 && read > 0 => check(
            id,
            name,
            Status::Pass,
            format!("busy_poll={poll} busy_read={read}"),
            fix,
        ),
        Some((poll, read)) => check(
            id,
            name,
            Status::Warn,
            format!("busy_poll={poll} busy_read={read}"),
            fix,
        ),
        None => check(
            id,
            name,
            Status::Warn,
            "cannot read net.core.busy_*".into(),
            fix,
        ),
    }
}

fn nic_rings_check(facts: &HostFacts, target: &AuditTarget) -> Check {
    let (id, name) = (CheckId::NicRings, "nic-rings");
    let fix = "tuning/scripts/nic.sh --interface IFACE";
    let Some(interface) = target.interface.as_deref() else {
        return check(
            id,
            name,
            Status::Warn,
            "no interface given (--interface)".into(),
            fix,
        );
    };
    match facts.nic_rings {
        Some(r) => {
            let detail = format!(
                "{interface}: rx {}/{} tx {}/{}",
                r.rx, r.rx_max, r.tx, r.tx_max
            );
            let at_max = r.rx == r.rx_max && r.tx == r.tx_max;
            check(
                id,
                name,
                if at_max { Status::Pass } else { Status::Warn },
                detail,
                fix,
            )
        }
        None => check(
            id,
            name,
            Status::Warn,
            format!("{interface}: ethtool -g gave nothing"),
            fix,
        ),
    }
}

fn nic_coalescing_check(facts: &HostFacts, target: &AuditTarget) -> Check {
    let (id, name) = (CheckId::NicCoalescing, "nic-coalescing");
    let fix = "tuning/scripts/nic.sh --interface IFACE";
    let Some(interface) = target.interface.as_deref() else {
        return check(
            id,
            name,
            Status::Warn,
            "no interface given (--interface)".into(),
            fix,
        );
    };
    match facts.nic_rx_usecs {
        Some(0) => check(
            id,
            name,
            Status::Pass,
            format!("{interface}: rx-usecs 0"),
            fix,
        ),
        Some(usecs) => check(
            id,
            name,
            Status::Warn,
            format!("{interface}: rx-usecs {usecs}"),
            fix,
        ),
        None => check(
            id,
            name,
            Status::Warn,
            format!("{interface}: ethtool -c gave nothing"),
            fix,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(cores: &[usize]) -> BTreeSet<usize> {
        cores.iter().copied().collect()
    }

    #[test]
    fn cpu_lists_parse_and_reject_garbage() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(set(&[0, 1, 2, 3, 8, 10, 11]))
        );
        assert_eq!(parse_cpu_list("\n"), Some(set(&[])));
        for bad in ["a", "3-1", "1,,2", "0-999999", "-"] {
            assert_eq!(parse_cpu_list(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn boot_params_skip_flags_and_take_the_last() {
        let cmdline = "ro quiet isolcpus=domain,managed_irq,2-3 nohz_full=2,3 isolcpus=nohz,1";
        assert_eq!(cmdline_cpu_param(cmdline, "isolcpus"), Some(set(&[1])));
        assert_eq!(cmdline_cpu_param(cmdline, "nohz_full"), Some(set(&[2, 3])));
        assert_eq!(cmdline_cpu_param(cmdline, "rcu_nocbs"), None);
    }

    #[test]
    fn sysfs_and_meminfo_fixtures_parse() {
        assert_eq!(
            selected_word("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(selected_word("always madvise never"), None);
        let meminfo = "MemTotal: 1 kB\nHugePages_Total:      64\nHugePages_Free: 64\nHugepagesize:    2048 kB\n";
        assert_eq!(parse_meminfo_hugepages(meminfo), Some((64, 2048)));
        assert_eq!(parse_meminfo_hugepages("MemTotal: 1 kB\n"), None);
    }

    const ETHTOOL_G: &str = "Ring parameters for eth0:\nPre-set maximums:\nRX:\t\t4096\nRX Mini:\tn/a\nRX Jumbo:\tn/a\nTX:\t\t4096\nCurrent hardware settings:\nRX:\t\t512\nRX Mini:\tn/a\nRX Jumbo:\tn/a\nTX:\t\t512\n";

    #[test]
    fn ethtool_fixtures_parse() {
        assert_eq!(
            parse_ethtool_rings(ETHTOOL_G),
            Some(NicRings {
                rx_max: 4096,
                rx: 512,
                tx_max: 4096,
                tx: 512
            })
        );
        assert_eq!(parse_ethtool_rings("Ring parameters for lo:\n"), None);
        let coalesce =
            "Coalesce parameters for eth0:\nAdaptive RX: off  TX: off\nrx-usecs: 8\nrx-frames: 0\n";
        assert_eq!(parse_ethtool_rx_usecs(coalesce), Some(8));
    }

    fn tuned_facts() -> HostFacts {
        HostFacts {
            cmdline: Some("isolcpus=2,3 nohz_full=2,3 rcu_nocbs=2-3".into()),
            isolated: Some(set(&[2, 3])),
            nohz_full: Some(set(&[2, 3])),
            governors: vec![
                (2, Some("performance".into())),
                (3, Some("performance".into())),
            ],
            thp: Some("never".into()),
            hugepages: Some((512, 2048)),
            clocksource: Some("tsc".into()),
            irq_affinity: Some(vec![(24, set(&[0, 1])), (25, set(&[0]))]),
            busy_poll: Some((50, 50)),
            nic_rings: Some(NicRings {
                rx_max: 4096,
                rx: 4096,
                tx_max: 4096,
                tx: 4096,
            }),
            nic_rx_usecs: Some(0),
        }
    }

    fn target() -> AuditTarget {
        AuditTarget {
            pinned_cores: vec![2, 3],
            hugepages_wanted: 256,
            interface: Some("eth0".into()),
        }
    }

    #[test]
    fn a_tuned_host_passes_everything() {
        let checks = audit(&tuned_facts(), &target());
        assert_eq!(checks.len(), 11);
        for check in &checks {
            assert_eq!(check.status, Status::Pass, "{check:?}");
            assert!(check.fix.is_empty());
        }
    }

    #[test]
    fn each_deviation_is_reported_with_a_fix() {
        let mut facts = tuned_facts();
        facts.isolated = Some(set(&[3]));
        facts.cmdline = Some("isolcpus=3".into());
        facts.irq_affinity = Some(vec![(24, set(&[0, 1, 2, 3]))]);
        facts.thp = Some("always".into());
        facts.hugepages = Some((0, 2048));
        facts.clocksource = Some("kvm-clock".into());
        let checks = audit(&facts, &target());
        let status = |id| checks.iter().find(|c| c.id == id).unwrap().status;
        assert_eq!(status(CheckId::Isolated), Status::Fail);
        assert_eq!(status(CheckId::RcuNocbs), Status::Fail);
        assert_eq!(status(CheckId::IrqAffinity), Status::Fail);
        assert_eq!(status(CheckId::TransparentHugepages), Status::Warn);
        assert_eq!(status(CheckId::Hugepages), Status::Fail);
        assert_eq!(status(CheckId::Clocksource), Status::Warn);
        assert_eq!(status(CheckId::Governor), Status::Pass);
        for check in checks.iter().filter(|c| c.status != Status::Pass) {
            assert!(!check.fix.is_empty(), "{check:?}");
        }
    }

    #[test]
    fn unreadable_facts_warn_and_never_pass() {
        let checks = audit(&HostFacts::default(), &target());
        assert_eq!(checks.len(), 11);
        for check in &checks {
            assert_ne!(check.status, Status::Pass, "{check:?}");
        }
    }

    #[test]
    fn reads_a_fixture_tree() {
        let root = std::env::temp_dir().join(format!("peregrine-audit-{}", std::process::id()));
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("proc/cmdline", "quiet isolcpus=1\n");
        write("sys/devices/system/cpu/isolated", "1\n");
        write(
            "sys/kernel/mm/transparent_hugepage/enabled",
            "always madvise [never]\n",
        );
        write("proc/irq/24/smp_affinity_list", "0-1\n");
        write("proc/irq/30/smp_affinity_list", "0\n");
        write("proc/sys/net/core/busy_poll", "0\n");
        write("proc/sys/net/core/busy_read", "0\n");
        let target = AuditTarget {
            pinned_cores: vec![1],
            ..AuditTarget::default()
        };
        let facts = HostFacts::read(&root, &target);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(facts.isolated, Some(set(&[1])));
        assert_eq!(facts.thp.as_deref(), Some("never"));
        assert_eq!(
            facts.irq_affinity,
            Some(vec![(24, set(&[0, 1])), (30, set(&[0]))])
        );
        assert_eq!(facts.busy_poll, Some((0, 0)));
        assert_eq!(facts.governors, vec![(1, None)]);
        assert_eq!(facts.hugepages, None);
        let checks = audit(&facts, &target);
        assert_eq!(checks[0].status, Status::Pass);
        assert_eq!(checks[3].status, Status::Fail, "{:?}", checks[3]);
    }
}
