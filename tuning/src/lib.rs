//! peregrine-tuning: the low-level substrate the pipeline stages stand on.
//!
//! - [`ring`]: the bounded lock-free single-producer single-consumer ring between stages.
//! - [`wait`]: what a stage's loop does while its ring is empty or full (config: busy-spin,
//!   spin-then-yield, park).
//! - [`cpu`]: pinning a thread to a core, SCHED_FIFO.
//! - [`memory`]: `mlockall`, hugepage-backed byte regions.
//! - [`outcome`]: how the host-tuning switches report that the host applied or refused them.
//! - [`audit`]: the host tuning audit behind `peregrine tune check` (reads `/proc`, `/sys`).
//!
//! The host switches never fail the process: each returns an [`outcome::Outcome`] and logs it,
//! and the node carries on without the setting. Depends on nothing else of Peregrine's.
//!
//! # Invariants
//! - Nothing on a ring's push or pop path allocates, locks or makes a system call.
//! - Every `unsafe` block carries a `// SAFETY:` comment (enforced by the workspace's clippy
//!   lints) and every atomic access names the access it pairs with.
//!
//! # Checking
//! - Unit and stress tests: `cargo test -p peregrine-tuning`.
//! - Loom model of the ring's index protocol:
//!   `RUSTFLAGS="--cfg loom" cargo test -p peregrine-tuning --release --test loom`.
//! - Miri, where a nightly toolchain with Miri is installed:
//!   `cargo +nightly miri test -p peregrine-tuning --lib` (the host-switch tests, which make
//!   system calls Miri cannot run, are compiled out under `cfg(miri)`).

#![warn(missing_docs)]

#[cfg(target_os = "linux")]
pub mod audit;
#[cfg(target_os = "linux")]
pub mod cpu;
#[cfg(target_os = "linux")]
pub mod memory;
pub mod outcome;
pub mod ring;
mod sync;
pub mod wait;
