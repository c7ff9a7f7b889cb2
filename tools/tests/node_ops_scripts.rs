//! The host setup scripts in `tuning/scripts/`: `--dry-run` changes nothing (on a fixture tree,
//! and on this VM's real `/proc` and `/sys`, which are compared before and after); a real run on
//! a fixture tree (`PEREGRINE_TUNE_ROOT`) makes exactly the wanted changes, and a second run
//! changes nothing (idempotence). External commands (update-grub, ethtool) never run under a
//! fixture root, so these tests cannot change this VM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tuning/scripts")
}

fn run_script(root: Option<&Path>, script: &str, args: &[&str]) -> Output {
    let mut command = Command::new("bash");
    command.arg(scripts_dir().join(script)).args(args);
    match root {
        Some(root) => command.env("PEREGRINE_TUNE_ROOT", root),
        None => command.env_remove("PEREGRINE_TUNE_ROOT"),
    };
    command.output().expect("run bash")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fixture host: 4 cores, untuned.
struct Fixture(PathBuf);

impl Drop for Fixture {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fixture(name: &str) -> Fixture {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let root = std::env::temp_dir().join(format!("peregrine-scripts-{name}-{nanos}"));
    let files = [
        (
            "etc/default/grub",
            "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet isolcpus=1\"\n",
        ),
        ("sys/devices/system/cpu/online", "0-3\n"),
        (
            "sys/devices/system/cpu/cpu2/cpufreq/scaling_governor",
            "powersave\n",
        ),
        (
            "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor",
            "performance\n",
        ),
        (
            "sys/kernel/mm/transparent_hugepage/enabled",
            "always [madvise] never\n",
        ),
        (
            "sys/kernel/mm/transparent_hugepage/defrag",
            "always [madvise] never\n",
        ),
        ("proc/sys/vm/nr_hugepages", "0\n"),
        ("proc/sys/net/core/busy_poll", "0\n"),
        ("proc/sys/net/core/busy_read", "0\n"),
        ("proc/irq/24/smp_affinity_list", "0-3\n"),
        ("proc/irq/25/smp_affinity_list", "2\n"),
        ("etc/sysctl.d/.keep", ""),
        ("sys/class/net/eth0/mtu", "1500\n"),
        (
            "ethtool/eth0.rings",
            "Ring parameters for eth0:\nPre-set maximums:\nRX:\t\t4096\nTX:\t\t4096\n\
             Current hardware settings:\nRX:\t\t512\nTX:\t\t512\n",
        ),
    ];
    for (path, content) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    Fixture(root)
}

/// Every file under `dir` with its content.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    files
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// (script, arguments) of every script, for the fixture host.
const SCRIPTS: [(&str, &[&str]); 8] = [
    ("boot-args.sh", &["--cores", "2-3", "--tsc"]),
    ("irq-affinity.sh", &["--away-from", "2-3"]),
    ("cpu-governor.sh", &["--cores", "2-3"]),
    ("thp.sh", &[]),
    ("hugepages.sh", &["--count", "64"]),
    ("busy-poll.sh", &[]),
    ("nic.sh", &["--interface", "eth0"]),
    (
        "setup-host.sh",
        &["--cores", "2-3", "--hugepages", "64", "--interface", "eth0"],
    ),
];

fn with_dry_run(args: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push("--dry-run".to_string());
    args
}

#[test]
fn dry_run_changes_nothing_on_a_fixture_host() {
    let fixture = fixture("dry");
    let before = tree(&fixture.0);
    for (script, args) in SCRIPTS {
        let args = with_dry_run(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run_script(Some(&fixture.0), script, &args);
        let out = text(&output.stdout);
        assert!(
            output.status.success(),
            "{script}: {out}{}",
            text(&output.stderr)
        );
        assert!(out.contains("would"), "{script} plans nothing: {out}");
        assert!(out.contains("dry run: nothing changed"), "{script}: {out}");
        assert!(!out.contains("changed "), "{script}: {out}");
    }
    assert_eq!(tree(&fixture.0), before, "a dry run wrote a file");
}

#[test]
fn real_runs_on_a_fixture_host_make_the_changes_once() {
    let fixture = fixture("real");
    let root = fixture.0.as_path();
    for (script, args) in &SCRIPTS[..7] {
        let output = run_script(Some(root), script, args);
        assert!(
            output.status.success(),
            "{script}: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    }
    let grub = read(root, "etc/default/grub");
    assert!(
        grub.contains(
            "GRUB_CMDLINE_LINUX=\"quiet isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3 \
             clocksource=tsc tsc=reliable\""
        ),
        "{grub}"
    );
    assert!(grub.contains("GRUB_DEFAULT=0"), "{grub}");
    assert_eq!(read(root, "proc/irq/24/smp_affinity_list"), "0,1\n");
    assert_eq!(read(root, "proc/irq/25/smp_affinity_list"), "0,1\n");
    let governor = "sys/devices/system/cpu/cpu2/cpufreq/scaling_governor";
    assert_eq!(read(root, governor), "performance\n");
    assert_eq!(
        read(root, "sys/kernel/mm/transparent_hugepage/enabled"),
        "never\n"
    );
    assert_eq!(read(root, "proc/sys/vm/nr_hugepages"), "64\n");
    assert_eq!(read(root, "proc/sys/net/core/busy_read"), "50\n");
    assert!(read(root, "etc/sysctl.d/60-peregrine.conf").contains("net.core.busy_poll = 50"));

    // Idempotence: the whole setup again changes no file and reports nothing changed.
    let after_first = tree(root);
    let (script, args) = SCRIPTS[7];
    let output = run_script(Some(root), script, args);
    let out = text(&output.stdout);
    assert!(output.status.success(), "{out}{}", text(&output.stderr));
    assert!(
        !out.contains("changed "),
        "second run changed something: {out}"
    );
    assert_eq!(tree(root), after_first);
}

#[test]
fn bad_arguments_are_refused_without_changes() {
    let fixture = fixture("bad");
    let before = tree(&fixture.0);
    for (script, args) in [
        ("boot-args.sh", &["--cores", "x-y"][..]),
        ("irq-affinity.sh", &[][..]),
        ("hugepages.sh", &["--count", "many"][..]),
        ("thp.sh", &["--force"][..]),
        ("nic.sh", &["--interface", "nope0"][..]),
    ] {
        let output = run_script(Some(&fixture.0), script, args);
        assert_eq!(output.status.code(), Some(2), "{script} {args:?}");
        assert!(text(&output.stderr).starts_with("error: "), "{script}");
    }
    assert_eq!(tree(&fixture.0), before);
}

/// The real host: a dry run of every script reads this VM's `/proc` and `/sys` and must leave
/// them as they were.
#[test]
fn dry_run_on_this_vm_changes_nothing() {
    let watched = [
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/proc/sys/vm/nr_hugepages",
        "/proc/sys/net/core/busy_poll",
        "/proc/sys/net/core/busy_read",
    ];
    let snapshot = || -> Vec<Option<String>> {
        watched
            .iter()
            .map(|p| std::fs::read_to_string(p).ok())
            .collect()
    };
    let before = snapshot();
    let output = run_script(
        None,
        "setup-host.sh",
        &["--cores", "1", "--hugepages", "8", "--dry-run"],
    );
    let out = text(&output.stdout);
    assert!(output.status.success(), "{out}{}", text(&output.stderr));
    assert!(out.contains("== done"), "{out}");
    assert!(!out.contains("changed "), "{out}");
    assert_eq!(snapshot(), before);
}
