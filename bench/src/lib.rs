//! Peregrine's benchmark harness: generated flows, a cycle counter for per-operation timing,
//! peers (a textbook book and two books from crates.io) on the same streams, micro-benchmarks
//! beside their peers, end-to-end load against the real node, cost scaling, and the report.
//!
//! Benchmarks measure; they never assert timing. Figures are quoted beside a peer measured in
//! the same run. `bench-suite` runs everything and writes `docs/bench/REPORT.md`.

pub mod clock;
pub mod contest;
pub mod e2e;
pub mod flow;
pub mod machine;
pub mod micro;
pub mod mix;
pub mod naive_itch;
pub mod peer;
pub mod peers;
pub mod plots;
pub mod report;
pub mod scaling;
pub mod stream;
