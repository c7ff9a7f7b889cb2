//! A cheap per-operation clock: the CPU's time-stamp counter on x86_64 (constant-rate on every
//! CPU this targets), calibrated against the monotonic clock; `Instant` elsewhere.
//!
//! # Invariants
//! - `ticks()` never goes backwards on one thread; `ns_per_tick > 0`.

use std::time::{Duration, Instant};

/// Reads the counter.
#[inline(always)]
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no memory effects and exists on every x86_64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Nanoseconds per counter tick, measured over `window`.
pub fn calibrate(window: Duration) -> f64 {
    let start_instant = Instant::now();
    let start_ticks = ticks();
    while start_instant.elapsed() < window {
        std::hint::spin_loop();
    }
    let elapsed_ns = start_instant.elapsed().as_nanos() as f64;
    let elapsed_ticks = (ticks() - start_ticks).max(1) as f64;
    let ns_per_tick = elapsed_ns / elapsed_ticks;
    assert!(ns_per_tick > 0.0);
    ns_per_tick
}
