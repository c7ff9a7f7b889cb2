//! Peregrine's benchmark harness: generated flows, a cycle counter for per-operation timing, and
//! the runners that the `engine-mix` binary and the criterion benches share.
//!
//! Benchmarks measure; they never assert timing. Figures are quoted beside a peer measured in
//! the same run (see the README's performance section).

pub mod clock;
pub mod flow;
pub mod mix;
pub mod peer;
