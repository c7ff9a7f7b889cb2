//! Fuzz target: `peregrine_gateway::fuzzing::session_input` must never panic and must round-trip what
//! it accepts. Run: `cd gateway/fuzz && cargo +nightly fuzz run session_input`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peregrine_gateway::fuzzing::session_input(data);
});
