//! Test and benchmark harness: two network namespaces joined by a veth pair, removed again
//! when the [`VethPair`] is dropped (also when a test panics: the guard unwinds with it).
//!
//! A thread joins a namespace with [`enter`] (`setns`), so one process can run the bypass side
//! in namespace A and a kernel client in namespace B on two threads. Needs root (`ip netns`).
//!
//! # Invariants
//! - Names are unique per process and call (`pg-byp-<pid>-<n>-a|b`), so parallel tests and
//!   concurrent runs never share a namespace.
//! - Deleting the namespaces removes the veth pair and everything configured inside them; no
//!   state is left in the caller's namespace (nothing is ever created there).

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `ip` with `args`; an error carries the command line and stderr.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let output = Command::new("ip").args(args).output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// Runs `ip -n <ns> <args>`.
pub fn ip_in(ns: &str, args: &[&str]) -> io::Result<()> {
    let mut full = vec!["-n", ns];
    full.extend_from_slice(args);
    ip(&full)
}

/// The names of a [`VethPair`] (cheap to clone into the threads that enter the namespaces).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Veth {
    pub ns_a: String,
    pub ns_b: String,
    /// Interface names inside each namespace.
    pub if_a: String,
    pub if_b: String,
}

/// Two namespaces and a veth pair between them, deleted on drop (see the module docs).
#[derive(Debug)]
pub struct VethPair(Veth);

impl core::ops::Deref for VethPair {
    type Target = Veth;

    fn deref(&self) -> &Veth {
        &self.0
    }
}

impl VethPair {
    /// Creates both namespaces and the pair, brings the links and loopbacks up. The
    /// interfaces get no address: the caller adds what its test needs.
    pub fn create() -> io::Result<VethPair> {
        VethPair::create_with_queues(1)
    }

    /// As [`VethPair::create`], with `queues_a` RX and TX queues on side A (one AF_XDP socket
    /// binds each queue: a node's gateway on queue 0, its feed on queue 1). Side B keeps one
    /// queue, so every frame B sends arrives on A's queue 0.
    pub fn create_with_queues(queues_a: u32) -> io::Result<VethPair> {
        assert!((1..=64).contains(&queues_a), "veth queues 1..=64");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("pg-byp-{}-{n}", std::process::id());
        let pair = VethPair(Veth {
            ns_a: format!("{base}-a"),
            ns_b: format!("{base}-b"),
            if_a: "pgxa".to_string(),
            if_b: "pgxb".to_string(),
        });
        // The guard exists before the first namespace: a failure below still cleans up.
        ip(&["netns", "add", &pair.ns_a])?;
        ip(&["netns", "add", &pair.ns_b])?;
        let queues = queues_a.to_string();
        ip(&[
            "link",
            "add",
            &pair.if_a,
            "netns",
            &pair.ns_a,
            "numtxqueues",
            &queues,
            "numrxqueues",
            &queues,
            "type",
            "veth",
            "peer",
            "name",
            &pair.if_b,
            "netns",
            &pair.ns_b,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
        ])?;
        for (ns, name) in [(&pair.ns_a, &pair.if_a), (&pair.ns_b, &pair.if_b)] {
            ip_in(ns, &["link", "set", "lo", "up"])?;
            ip_in(ns, &["link", "set", name, "up"])?;
        }
        Ok(pair)
    }

    /// The names, for threads.
    pub fn names(&self) -> Veth {
        self.0.clone()
    }

    /// MAC address of an interface (from `ip -n ns -br link`).
    pub fn mac(ns: &str, name: &str) -> io::Result<[u8; 6]> {
        let output = Command::new("ip")
            .args(["-n", ns, "-br", "link", "show", name])
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let field = text
            .split_whitespace()
            .find(|word| word.len() == 17 && word.matches(':').count() == 5)
            .ok_or_else(|| io::Error::other(format!("no MAC in `{text}`")))?;
        let mut mac = [0u8; 6];
        for (byte, part) in mac.iter_mut().zip(field.split(':')) {
            *byte = u8::from_str_radix(part, 16).map_err(io::Error::other)?;
        }
        Ok(mac)
    }
}

impl VethPair {
    /// Turns off checksum and segmentation offloads on both ends. Over veth the kernel
    /// otherwise sends TCP with a partial checksum (to be completed by a NIC that does not
    /// exist), which a user-space stack reading the frames rightly rejects.
    pub fn disable_offloads(&self) -> io::Result<()> {
        for (ns, name) in [(&self.ns_a, &self.if_a), (&self.ns_b, &self.if_b)] {
            let (ns, name) = (ns.clone(), name.clone());
            std::thread::spawn(move || -> io::Result<()> {
                enter(&ns)?;
                disable_offloads(&name)
            })
            .join()
            .map_err(|_| io::Error::other("offload thread panicked"))??;
        }
        Ok(())
    }

    /// Adds `name`, a private-mode macvlan on A's veth end, and sets it up: a second interface
    /// on the same wire for a second user-space port (on a NIC this would be a queue). It
    /// lives in namespace A and goes with it.
    pub fn add_macvlan_a(&self, name: &str) -> io::Result<()> {
        let link = ["link", "add", "link", &self.if_a, "name", name];
        let args = [&link[..], &["type", "macvlan", "mode", "private"]].concat();
        ip_in(&self.ns_a, &args)?;
        ip_in(&self.ns_a, &["link", "set", name, "up"])
    }
}

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Clears TX checksum, scatter-gather, TSO, GSO and GRO on `name` in the calling thread's
/// namespace (the `ethtool -K` ioctls, without needing ethtool installed).
pub fn disable_offloads(name: &str) -> io::Result<()> {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const SETTERS: [u32; 5] = [0x24, 0x1f, 0x19, 0x17, 0x2c]; // GSO, TSO, SG, TX csum, GRO
                                                              // SAFETY: plain socket call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = super::bpf::Fd::from_result(i64::from(fd), "socket").map_err(io::Error::other)?;
    for cmd in SETTERS {
        let mut value = EthtoolValue { cmd, data: 0 };
        // SAFETY: ifreq is plain old data; zero is valid.
        let mut request: libc::ifreq = unsafe { core::mem::zeroed() };
        for (target, &byte) in request.ifr_name.iter_mut().zip(name.as_bytes()) {
            *target = byte as libc::c_char;
        }
        request.ifr_ifru.ifru_data = &mut value as *mut EthtoolValue as *mut libc::c_char;
        // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it points to, both live.
        let result = unsafe { libc::ioctl(fd.raw(), SIOCETHTOOL, &mut request) };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Best effort: a namespace that was never created is simply not there.
        let _ = ip(&["netns", "del", &self.ns_a]);
        let _ = ip(&["netns", "del", &self.ns_b]);
    }
}

/// Deletes every namespace this process's [`VethPair`]s created (`pg-byp-<pid>-*`) that is
/// still there; returns how many it deleted. For exits that skip the guards' `drop`.
pub fn remove_this_process_pairs() -> usize {
    let prefix = format!("pg-byp-{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && ip(&["netns", "del", &name]).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Installs a panic hook that runs [`remove_this_process_pairs`] before the previous hook. A
/// release build (`panic = "abort"`) never unwinds, so without it a panicking benchmark would
/// leave its namespaces behind.
pub fn remove_pairs_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        remove_this_process_pairs();
        previous(info);
    }));
}

/// Moves the calling thread into network namespace `ns` (created by `ip netns add`).
pub fn enter(ns: &str) -> io::Result<()> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(path)?;
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a namespace file descriptor we hold open; CLONE_NEWNET only affects the
    // calling thread.
    let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Prints a loud notice and returns `false` when not root, so a root-only test can return
/// early (CI runs as root; a developer machine may not).
pub fn root_or_notice(test: &str) -> bool {
    if super::is_root() {
        return true;
    }
    eprintln!(
        "\n*** {test}: NOT RUN — needs root (network namespaces, AF_XDP, bpf). CI runs as root. ***\n"
    );
    false
}
