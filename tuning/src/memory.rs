//! Memory that does not page-fault on the hot path: locking the process's pages in RAM
//! (`mlockall`) and byte regions backed by hugepages where the host has them.
//!
//! Both are start-up switches. [`lock_all_memory`] stops the kernel from swapping or dropping
//! pages the pipeline touches. [`Region::huge`] maps a zeroed byte region from the explicit
//! hugepage pool (`MAP_HUGETLB`, one TLB entry per 2 MiB instead of per 4 KiB); when the pool is
//! empty it falls back to normal pages with a transparent-hugepage hint and reports the refusal.
//! Either way every page of a region is faulted in before it is returned.
//!
//! # Invariants
//! - A [`Region`] is `len_bytes` of zeroed, writable, prefaulted memory inside a mapping of
//!   `mapped_len_bytes`, a whole number of pages of its backing; it is unmapped exactly once, on
//!   drop.
//! - A refused switch leaves memory as it was; a region is only an error when no memory at all
//!   can be mapped ([`RegionError`]).

use std::ptr::NonNull;

use crate::outcome::{Outcome, Refusal};

/// Locks every current and future page of the process in RAM (`mlockall(MCL_CURRENT |
/// MCL_FUTURE)`).
pub fn lock_all_memory() -> Outcome {
    // SAFETY: takes flags only; no memory is passed.
    let result = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    let outcome = if result == 0 {
        Outcome::Applied
    } else {
        match last_errno() {
            libc::EPERM => Outcome::Refused(Refusal::NotPermitted {
                capability: "CAP_IPC_LOCK",
            }),
            libc::ENOMEM => Outcome::Refused(Refusal::MemoryLockLimit {
                limit_bytes: memlock_limit_bytes(),
            }),
            errno => Outcome::Refused(Refusal::Os {
                call: "mlockall",
                errno,
            }),
        }
    };
    outcome.logged("lock_all_memory")
}

/// Undoes [`lock_all_memory`] (`munlockall`).
pub fn unlock_all_memory() -> Outcome {
    // SAFETY: takes no arguments.
    let result = unsafe { libc::munlockall() };
    let outcome = if result == 0 {
        Outcome::Applied
    } else {
        Outcome::Refused(Refusal::Os {
            call: "munlockall",
            errno: last_errno(),
        })
    };
    outcome.logged("unlock_all_memory")
}

/// The soft `RLIMIT_MEMLOCK` in bytes; `None` if unlimited or unreadable.
fn memlock_limit_bytes() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a writable `rlimit` that the call fills.
    let result = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    if result != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(limit.rlim_cur)
}

/// The errno of the last failed libc call on this thread.
fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// What pages back a [`Region`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// Explicit hugepages from the `vm.nr_hugepages` pool.
    HugeTlb {
        /// The hugepage size, in bytes (usually 2 MiB).
        page_size_bytes: usize,
    },
    /// Normal pages marked `MADV_HUGEPAGE`: the kernel may merge them into transparent
    /// hugepages if THP is enabled, but nothing is promised.
    TransparentHint,
    /// Normal pages.
    Normal,
}

/// Why a region could not be mapped at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionError {
    /// A region of 0 bytes was asked for.
    ZeroLength,
    /// The length, rounded up to whole pages, does not fit in memory's address range.
    TooLarge {
        /// The length asked for, in bytes.
        len_bytes: usize,
    },
    /// The kernel refused the mapping.
    Os {
        /// The OS error number of `mmap`.
        errno: i32,
    },
}

impl std::fmt::Display for RegionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            RegionError::ZeroLength => f.write_str("a memory region needs at least one byte"),
            RegionError::TooLarge { len_bytes } => {
                write!(f, "a memory region of {len_bytes} bytes is too large")
            }
            RegionError::Os { errno } => write!(
                f,
                "mmap failed: {}",
                std::io::Error::from_raw_os_error(errno)
            ),
        }
    }
}

impl std::error::Error for RegionError {}

/// A zeroed, prefaulted, anonymous memory mapping, unmapped on drop.
#[derive(Debug)]
pub struct Region {
    /// Start of the mapping; page-aligned.
    start: NonNull<u8>,
    /// Bytes usable: the length asked for.
    len_bytes: usize,
    /// Bytes mapped: `len_bytes` rounded up to whole pages of `backing`.
    mapped_len_bytes: usize,
    backing: Backing,
}

// SAFETY: a `Region` owns its mapping exclusively, like a `Box<[u8]>`; bytes may be sent.
unsafe impl Send for Region {}
// SAFETY: shared access is read-only (`as_slice` needs `&self`, writes need `&mut self`).
unsafe impl Sync for Region {}

impl Region {
    /// Maps `len_bytes` of normal pages.
    pub fn normal(len_bytes: usize) -> Result<Region, RegionError> {
        let page_size_bytes = base_page_size_bytes();
        let mapped_len_bytes = round_up_to_pages(len_bytes, page_size_bytes)?;
        let start =
            map_anonymous(mapped_len_bytes, 0).map_err(|errno| RegionError::Os { errno })?;
        Ok(Region::prefaulted(
            start,
            len_bytes,
            mapped_len_bytes,
            Backing::Normal,
        ))
    }

    /// Maps `len_bytes` from the explicit hugepage pool; if the host refuses, maps normal pages
    /// with a transparent-hugepage hint and says why in the [`Outcome`].
    ///
    /// ```
    /// use peregrine_tuning::memory::{Backing, Region};
    ///
    /// let (mut region, outcome) = Region::huge(4096)?;
    /// assert_eq!(outcome.is_applied(), matches!(region.backing(), Backing::HugeTlb { .. }));
    /// region.as_mut_slice()[4095] = 1;
    /// assert_eq!(region.as_slice()[..2], [0, 0]);
    /// # Ok::<(), peregrine_tuning::memory::RegionError>(())
    /// ```
    pub fn huge(len_bytes: usize) -> Result<(Region, Outcome), RegionError> {
        let page_size_bytes = huge_page_size_bytes();
        let mapped_len_bytes = round_up_to_pages(len_bytes, page_size_bytes)?;
        let refusal = match map_anonymous(mapped_len_bytes, libc::MAP_HUGETLB) {
            Ok(start) => {
                let backing = Backing::HugeTlb { page_size_bytes };
                let region = Region::prefaulted(start, len_bytes, mapped_len_bytes, backing);
                return Ok((region, Outcome::Applied.logged("huge_pages")));
            }
            Err(libc::ENOMEM) => Refusal::NoHugePages {
                total_pages: meminfo_value("HugePages_Total:"),
                free_pages: meminfo_value("HugePages_Free:"),
                errno: libc::ENOMEM,
            },
            Err(errno) => Refusal::Os {
                call: "mmap(MAP_HUGETLB)",
                errno,
            },
        };
        let region = Region::transparent(len_bytes)?;
        Ok((region, Outcome::Refused(refusal).logged("huge_pages")))
    }

    /// Maps normal pages and asks for transparent hugepages (`MADV_HUGEPAGE`).
    fn transparent(len_bytes: usize) -> Result<Region, RegionError> {
        // Whole hugepages, so the kernel can back all of it with them.
        let mapped_len_bytes = round_up_to_pages(len_bytes, huge_page_size_bytes())?;
        let start =
            map_anonymous(mapped_len_bytes, 0).map_err(|errno| RegionError::Os { errno })?;
        // SAFETY: `start..start + mapped_len_bytes` is the mapping just made; the advice only
        // changes how the kernel backs it.
        let advised =
            unsafe { libc::madvise(start.as_ptr().cast(), mapped_len_bytes, libc::MADV_HUGEPAGE) };
        // A kernel without THP rejects the hint; the pages are then plain, which is still fine.
        let backing = if advised == 0 {
            Backing::TransparentHint
        } else {
            Backing::Normal
        };
        Ok(Region::prefaulted(
            start,
            len_bytes,
            mapped_len_bytes,
            backing,
        ))
    }

    /// Takes ownership of a fresh mapping and faults in every page of it.
    fn prefaulted(
        start: NonNull<u8>,
        len_bytes: usize,
        mapped_len_bytes: usize,
        backing: Backing,
    ) -> Region {
        assert!(len_bytes > 0);
        assert!(len_bytes <= mapped_len_bytes);
        let mut region = Region {
            start,
            len_bytes,
            mapped_len_bytes,
            backing,
        };
        let page_size_bytes = base_page_size_bytes();
        let bytes = region.as_mut_slice();
        for page_start in (0..bytes.len()).step_by(page_size_bytes) {
            // Volatile, so the store of the zero that is already there is not optimised away.
            // SAFETY: `page_start < bytes.len()`, inside the slice.
            unsafe { std::ptr::write_volatile(bytes.as_mut_ptr().add(page_start), 0) };
        }
        region
    }

    /// Bytes usable, as asked for.
    pub fn len_bytes(&self) -> usize {
        self.len_bytes
    }

    /// What pages back the region.
    pub fn backing(&self) -> Backing {
        self.backing
    }

    /// The region's bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `mapped_len_bytes >= len_bytes` readable bytes, zeroed at map
        // time, and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len_bytes) }
    }

    /// The region's bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len_bytes) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `start` and `mapped_len_bytes` describe exactly the mapping this region made,
        // and no reference into it outlives `self`.
        let result = unsafe { libc::munmap(self.start.as_ptr().cast(), self.mapped_len_bytes) };
        // munmap of a mapping we own can only fail if the bookkeeping above is wrong.
        assert_eq!(result, 0);
    }
}

/// Maps `mapped_len_bytes` of zeroed private anonymous memory with `extra_flags`; the errno on
/// failure.
fn map_anonymous(mapped_len_bytes: usize, extra_flags: libc::c_int) -> Result<NonNull<u8>, i32> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra_flags;
    let protection = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: an anonymous mapping at an address of the kernel's choosing touches no existing
    // memory; the result is checked before use.
    let start = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            mapped_len_bytes,
            protection,
            flags,
            -1,
            0,
        )
    };
    if start == libc::MAP_FAILED {
        return Err(last_errno());
    }
    NonNull::new(start.cast()).ok_or(libc::ENOMEM)
}

/// `len_bytes` rounded up to a whole number of `page_size_bytes` pages.
fn round_up_to_pages(len_bytes: usize, page_size_bytes: usize) -> Result<usize, RegionError> {
    assert!(page_size_bytes.is_power_of_two());
    if len_bytes == 0 {
        return Err(RegionError::ZeroLength);
    }
    match len_bytes.checked_next_multiple_of(page_size_bytes) {
        Some(mapped_len_bytes) if mapped_len_bytes <= isize::MAX as usize => Ok(mapped_len_bytes),
        _ => Err(RegionError::TooLarge { len_bytes }),
    }
}

/// The normal page size, in bytes.
fn base_page_size_bytes() -> usize {
    // SAFETY: takes and returns an integer.
    let page_size_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page_size_bytes)
        .ok()
        .filter(|size| size.is_power_of_two())
        .unwrap_or(4096)
}

/// The default hugepage size, in bytes: `Hugepagesize` from `/proc/meminfo`, else 2 MiB.
fn huge_page_size_bytes() -> usize {
    meminfo_value("Hugepagesize:")
        .and_then(|size_kib| usize::try_from(size_kib.checked_mul(1024)?).ok())
        .filter(|size| size.is_power_of_two())
        .unwrap_or(2 << 20)
}

/// The number after `key` in `/proc/meminfo` (kB for sizes, a count for page counts).
fn meminfo_value(key: &str) -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    /// `VmLck` from `/proc/self/status`, in kB.
    fn locked_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmLck:"))
            .unwrap();
        line["VmLck:".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn lock_all_memory_applies_or_names_the_limit() {
        match lock_all_memory() {
            Outcome::Applied => assert!(locked_kib() > 0),
            Outcome::Refused(refusal) => assert!(
                matches!(
                    refusal,
                    Refusal::NotPermitted {
                        capability: "CAP_IPC_LOCK"
                    } | Refusal::MemoryLockLimit { .. }
                ),
                "{refusal}"
            ),
        }
        assert_eq!(unlock_all_memory(), Outcome::Applied);
        assert_eq!(locked_kib(), 0);
    }

    /// Fills `region` with a pattern and reads it back; checks it started zeroed.
    fn check_read_write(region: &mut Region) {
        assert!(region.as_slice().iter().all(|&byte| byte == 0));
        for (index, byte) in region.as_mut_slice().iter_mut().enumerate() {
            *byte = (index % 251) as u8;
        }
        let bytes = region.as_slice();
        assert!(bytes
            .iter()
            .enumerate()
            .all(|(index, &byte)| byte == (index % 251) as u8));
    }

    #[test]
    fn huge_region_applies_or_falls_back_with_a_reason() {
        let len_bytes = 3 << 20;
        let (mut region, outcome) = Region::huge(len_bytes).unwrap();
        assert_eq!(region.len_bytes(), len_bytes);
        assert_eq!(region.as_slice().len(), len_bytes);
        match outcome {
            Outcome::Applied => {
                let Backing::HugeTlb { page_size_bytes } = region.backing() else {
                    panic!("applied without hugepages: {:?}", region.backing());
                };
                assert!(page_size_bytes >= 2 << 20);
                assert_eq!(region.mapped_len_bytes % page_size_bytes, 0);
            }
            Outcome::Refused(refusal) => {
                assert!(!matches!(region.backing(), Backing::HugeTlb { .. }));
                assert!(
                    matches!(
                        refusal,
                        Refusal::NoHugePages {
                            errno: libc::ENOMEM,
                            ..
                        } | Refusal::Os {
                            call: "mmap(MAP_HUGETLB)",
                            ..
                        }
                    ),
                    "{refusal}"
                );
            }
        }
        check_read_write(&mut region);
    }

    #[test]
    fn normal_region_is_zeroed_and_writable() {
        let mut region = Region::normal(10_000).unwrap();
        assert_eq!(region.backing(), Backing::Normal);
        assert_eq!(region.mapped_len_bytes % base_page_size_bytes(), 0);
        check_read_write(&mut region);
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert_eq!(Region::normal(0).unwrap_err(), RegionError::ZeroLength);
        assert_eq!(Region::huge(0).unwrap_err(), RegionError::ZeroLength);
        let len_bytes = usize::MAX - 10;
        assert_eq!(
            Region::normal(len_bytes).unwrap_err(),
            RegionError::TooLarge { len_bytes }
        );
        assert_eq!(
            Region::huge(len_bytes).unwrap_err(),
            RegionError::TooLarge { len_bytes }
        );
    }
}
