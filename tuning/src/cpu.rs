//! Where and how urgently the calling thread runs: pinning it to one core, and the SCHED_FIFO
//! real-time policy.
//!
//! A pipeline stage calls these once, from its own thread, before its loop starts. Each returns
//! an [`Outcome`] and logs it; a refusal (the core is outside the cpuset, no `CAP_SYS_NICE`)
//! leaves the thread as it was, and the stage runs unpinned or at normal priority.
//!
//! A SCHED_FIFO thread that busy-spins can starve every other thread on its core, the kernel's
//! included; only combine [`set_fifo_priority`] with a core isolated for the stage.
//!
//! # Invariants
//! - Every function acts on the calling thread only, never on the whole process.
//! - A refused call changes nothing.
//! - The priority range is checked against the kernel's before the call, so an out-of-range
//!   priority is reported as such and not as an OS error.

use crate::outcome::{Outcome, Refusal};

/// The cores the calling thread may run on now (its affinity mask, as the kernel numbers CPUs),
/// or `None` if unreadable. A new thread inherits its parent's mask, so call this before pinning,
/// from the thread that starts the stages. Allocates; call it at start-up.
pub fn allowed_core_indices() -> Option<Vec<usize>> {
    let core_ids = core_affinity::get_core_ids()?;
    Some(core_ids.into_iter().map(|core_id| core_id.id).collect())
}

/// Pins the calling thread to core `core_index` (as the kernel numbers CPUs). A thread already
/// pinned may be pinned again to any core of the process's cpuset.
///
/// ```
/// use peregrine_tuning::{cpu, outcome::Outcome};
///
/// let outcome = std::thread::spawn(|| cpu::pin_current_thread(usize::MAX)).join().unwrap();
/// assert!(matches!(outcome, Outcome::Refused(_)));
/// ```
pub fn pin_current_thread(core_index: usize) -> Outcome {
    pin_outcome(core_index).logged("pin_current_thread")
}

fn pin_outcome(core_index: usize) -> Outcome {
    // A `cpu_set_t` has bits for `CPU_SETSIZE` cores; beyond that no mask can name the core.
    if core_index >= libc::CPU_SETSIZE as usize {
        return Outcome::Refused(Refusal::CoreNotAllowed { core_index });
    }
    if core_affinity::set_for_current(core_affinity::CoreId { id: core_index }) {
        return Outcome::Applied;
    }
    // `set_for_current` only says yes or no; the errno of its failed call is still current.
    match std::io::Error::last_os_error().raw_os_error() {
        // The mask names no core that is online and in the cpuset.
        Some(libc::EINVAL) => Outcome::Refused(Refusal::CoreNotAllowed { core_index }),
        errno => Outcome::Refused(Refusal::AffinityRejected { errno }),
    }
}

/// Moves the calling thread to the SCHED_FIFO policy at `priority` (Linux: `1..=99`; higher
/// preempts lower).
pub fn set_fifo_priority(priority: i32) -> Outcome {
    fifo_outcome(priority).logged("set_fifo_priority")
}

fn fifo_outcome(priority: i32) -> Outcome {
    // SAFETY: takes and returns plain integers; no memory is involved.
    let priority_min = unsafe { libc::sched_get_priority_min(libc::SCHED_FIFO) };
    // SAFETY: as above.
    let priority_max = unsafe { libc::sched_get_priority_max(libc::SCHED_FIFO) };
    if priority < priority_min || priority > priority_max {
        return Outcome::Refused(Refusal::PriorityOutOfRange {
            priority,
            priority_min,
            priority_max,
        });
    }
    set_policy(libc::SCHED_FIFO, priority)
}

/// Moves the calling thread back to the normal time-sharing policy (SCHED_OTHER).
pub fn set_normal_scheduling() -> Outcome {
    set_policy(libc::SCHED_OTHER, 0).logged("set_normal_scheduling")
}

/// Sets the calling thread's policy and priority.
fn set_policy(policy: libc::c_int, priority: i32) -> Outcome {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `pthread_self()` is the calling thread, alive for the call, and `param` is an
    // initialised `sched_param` that the call only reads.
    let errno = unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) };
    match errno {
        0 => Outcome::Applied,
        libc::EPERM => Outcome::Refused(Refusal::NotPermitted {
            capability: "CAP_SYS_NICE",
        }),
        errno => Outcome::Refused(Refusal::Os {
            call: "pthread_setschedparam",
            errno,
        }),
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    /// The cores the calling thread may run on now.
    fn current_thread_core_indices() -> Vec<usize> {
        // SAFETY: `cpu_set_t` is a plain bit array, valid when zeroed.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let set_len_bytes = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `set` is a writable `cpu_set_t` of `set_len_bytes` bytes; 0 is this thread.
        let result = unsafe { libc::sched_getaffinity(0, set_len_bytes, &mut set) };
        assert_eq!(result, 0);
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `core_index` is below `CPU_SETSIZE`, the bit length of `set`.
            .filter(|&core_index| unsafe { libc::CPU_ISSET(core_index, &set) })
            .collect()
    }

    /// The calling thread's scheduling policy.
    fn current_policy() -> libc::c_int {
        // SAFETY: takes and returns integers; 0 is the calling thread.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn pinning_to_an_allowed_core_applies_or_is_rejected_by_the_kernel() {
        let allowed = allowed_core_indices().unwrap();
        assert!(!allowed.is_empty());
        let core_index = *allowed.last().unwrap();
        let (outcome, cores_after) = std::thread::spawn(move || {
            (
                pin_current_thread(core_index),
                current_thread_core_indices(),
            )
        })
        .join()
        .unwrap();
        match outcome {
            Outcome::Applied => assert_eq!(cores_after, [core_index]),
            Outcome::Refused(refusal) => {
                assert!(
                    matches!(refusal, Refusal::AffinityRejected { .. }),
                    "{refusal}"
                )
            }
        }
    }

    #[test]
    fn pinning_to_a_core_outside_the_set_is_refused_by_name() {
        // 1023 fits a CPU mask but is not online here; 100_000 does not fit one.
        for core_index in [1023, 100_000] {
            let outcome = std::thread::spawn(move || pin_current_thread(core_index))
                .join()
                .unwrap();
            assert_eq!(
                outcome,
                Outcome::Refused(Refusal::CoreNotAllowed { core_index })
            );
        }
    }

    #[test]
    fn a_pinned_thread_can_be_pinned_again_elsewhere() {
        let allowed = allowed_core_indices().unwrap();
        let (first, last) = (allowed[0], *allowed.last().unwrap());
        let (outcomes, cores_after) = std::thread::spawn(move || {
            let outcomes = [pin_current_thread(first), pin_current_thread(last)];
            (outcomes, current_thread_core_indices())
        })
        .join()
        .unwrap();
        if outcomes == [Outcome::Applied, Outcome::Applied] {
            assert_eq!(cores_after, [last]);
        } else {
            for outcome in outcomes {
                assert!(
                    matches!(
                        outcome,
                        Outcome::Applied | Outcome::Refused(Refusal::AffinityRejected { .. })
                    ),
                    "{outcome}"
                );
            }
        }
    }

    #[test]
    fn fifo_priority_out_of_range_is_refused_before_the_call() {
        for priority in [0, 100, -1, i32::MAX] {
            let outcome = fifo_outcome(priority);
            assert!(
                matches!(
                    outcome,
                    Outcome::Refused(Refusal::PriorityOutOfRange {
                        priority_min: 1,
                        priority_max: 99,
                        ..
                    })
                ),
                "{outcome}"
            );
        }
    }

    #[test]
    fn fifo_priority_applies_or_names_the_missing_capability() {
        let (outcome, policy_during, restored, policy_after) = std::thread::spawn(|| {
            let outcome = set_fifo_priority(1);
            let policy_during = current_policy();
            let restored = set_normal_scheduling();
            (outcome, policy_during, restored, current_policy())
        })
        .join()
        .unwrap();
        match outcome {
            Outcome::Applied => assert_eq!(policy_during, libc::SCHED_FIFO),
            Outcome::Refused(refusal) => {
                assert_eq!(
                    refusal,
                    Refusal::NotPermitted {
                        capability: "CAP_SYS_NICE"
                    }
                );
                assert_eq!(policy_during, libc::SCHED_OTHER);
            }
        }
        assert_eq!(restored, Outcome::Applied);
        assert_eq!(policy_after, libc::SCHED_OTHER);
    }
}
