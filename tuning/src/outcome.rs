//! What a host-tuning switch did: it applied, or the host refused it for a named reason.
//!
//! Every switch in [`crate::cpu`] and [`crate::memory`] (pinning, SCHED_FIFO, `mlockall`,
//! hugepages) is an optimisation, not a requirement: a node on a laptop, in a container or on a
//! 2-core CI box must still start. So no switch fails; each returns an [`Outcome`], logs it
//! through `tracing` (info when applied, warn when refused) and lets the caller carry on.
//!
//! # Invariants
//! - A [`Refusal`] names the host fact that caused it (a missing capability, a resource limit,
//!   an empty hugepage pool, a core outside the allowed set), so the operator knows what to fix.
//! - Outcomes are small `Copy` values; building and logging one allocates nothing.

use std::fmt;

/// The result of one host-tuning switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The host did what was asked.
    Applied,
    /// The host refused; the process carries on without the setting.
    Refused(Refusal),
}

/// Why the host refused a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The core is offline, absent, or outside the process's cpuset (cgroup or `taskset`).
    CoreNotAllowed {
        /// The core asked for, as the kernel numbers CPUs.
        core_index: usize,
    },
    /// The set of allowed cores could not be read.
    CoreListUnavailable,
    /// The kernel rejected the affinity mask for the current thread.
    AffinityRejected {
        /// The OS error number, when the kernel gave one.
        errno: Option<i32>,
    },
    /// The call needs privileges the process lacks (EPERM).
    NotPermitted {
        /// The Linux capability that would allow it, e.g. `"CAP_IPC_LOCK"`.
        capability: &'static str,
    },
    /// `mlockall` hit the locked-memory limit (ENOMEM under `RLIMIT_MEMLOCK`).
    MemoryLockLimit {
        /// The soft `RLIMIT_MEMLOCK` in bytes, or `None` if unlimited or unreadable.
        limit_bytes: Option<u64>,
    },
    /// The SCHED_FIFO priority is outside the range the kernel accepts.
    PriorityOutOfRange {
        /// The priority asked for.
        priority: i32,
        /// The lowest priority SCHED_FIFO accepts.
        priority_min: i32,
        /// The highest priority SCHED_FIFO accepts.
        priority_max: i32,
    },
    /// No explicit hugepage was free for a `MAP_HUGETLB` mapping.
    NoHugePages {
        /// `HugePages_Total` from `/proc/meminfo`, if readable.
        total_pages: Option<u64>,
        /// `HugePages_Free` from `/proc/meminfo`, if readable.
        free_pages: Option<u64>,
        /// The errno of the failed mapping.
        errno: i32,
    },
    /// Another OS error.
    Os {
        /// The system call that failed.
        call: &'static str,
        /// The OS error number.
        errno: i32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::CoreNotAllowed { core_index } => write!(
                f,
                "core {core_index} is not one this process may use: see Cpus_allowed_list in /proc/self/status"
            ),
            Refusal::CoreListUnavailable => f.write_str("the allowed core set could not be read"),
            Refusal::AffinityRejected { errno: Some(errno) } => write!(
                f,
                "the kernel rejected the affinity mask: {}",
                std::io::Error::from_raw_os_error(errno)
            ),
            Refusal::AffinityRejected { errno: None } => {
                f.write_str("the kernel rejected the affinity mask")
            }
            Refusal::NotPermitted { capability } => {
                write!(f, "not permitted: run as root or grant {capability}")
            }
            Refusal::MemoryLockLimit { limit_bytes: Some(limit_bytes) } => write!(
                f,
                "locked-memory limit of {limit_bytes} bytes is too low: raise RLIMIT_MEMLOCK (ulimit -l) or grant CAP_IPC_LOCK"
            ),
            Refusal::MemoryLockLimit { limit_bytes: None } => {
                f.write_str("locked-memory limit is too low: raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK")
            }
            Refusal::PriorityOutOfRange { priority, priority_min, priority_max } => write!(
                f,
                "SCHED_FIFO priority {priority} is outside {priority_min}..={priority_max}"
            ),
            Refusal::NoHugePages { total_pages, free_pages, errno } => {
                write!(f, "no free hugepage ({}); HugePages_Total ", std::io::Error::from_raw_os_error(errno))?;
                write_optional(f, total_pages)?;
                f.write_str(", HugePages_Free ")?;
                write_optional(f, free_pages)?;
                f.write_str(": reserve some with sysctl vm.nr_hugepages")
            }
            Refusal::Os { call, errno } => {
                write!(f, "{call} failed: {}", std::io::Error::from_raw_os_error(errno))
            }
        }
    }
}

/// Writes a count, or "unknown".
fn write_optional(f: &mut fmt::Formatter<'_>, value: Option<u64>) -> fmt::Result {
    match value {
        Some(value) => write!(f, "{value}"),
        None => f.write_str("unknown"),
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Applied => f.write_str("applied"),
            Outcome::Refused(refusal) => write!(f, "refused: {refusal}"),
        }
    }
}

impl Outcome {
    /// Whether the host did what was asked.
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied)
    }

    /// Logs the outcome of `switch` (info if applied, warn if refused) and returns it.
    pub fn logged(self, switch: &'static str) -> Self {
        match self {
            Outcome::Applied => tracing::info!(switch, "host tuning applied"),
            Outcome::Refused(refusal) => {
                tracing::warn!(switch, %refusal, "host tuning refused; carrying on without it")
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_fix() {
        let table = [
            (
                Refusal::CoreNotAllowed { core_index: 9 },
                "core 9 is not one this process may use",
            ),
            (
                Refusal::NotPermitted {
                    capability: "CAP_SYS_NICE",
                },
                "CAP_SYS_NICE",
            ),
            (
                Refusal::MemoryLockLimit {
                    limit_bytes: Some(65536),
                },
                "65536 bytes",
            ),
            (
                Refusal::PriorityOutOfRange {
                    priority: 120,
                    priority_min: 1,
                    priority_max: 99,
                },
                "120 is outside 1..=99",
            ),
            (
                Refusal::NoHugePages {
                    total_pages: Some(0),
                    free_pages: None,
                    errno: 12,
                },
                "HugePages_Total 0, HugePages_Free unknown: reserve",
            ),
            (
                Refusal::Os {
                    call: "madvise",
                    errno: 22,
                },
                "madvise failed: Invalid argument",
            ),
        ];
        for (refusal, fragment) in table {
            let text = Outcome::Refused(refusal).logged("test").to_string();
            assert!(text.starts_with("refused: "), "{text}");
            assert!(text.contains(fragment), "{text} lacks {fragment}");
        }
        assert_eq!(Outcome::Applied.logged("test").to_string(), "applied");
        assert!(Outcome::Applied.is_applied());
        assert!(!Outcome::Refused(Refusal::CoreListUnavailable).is_applied());
    }
}
