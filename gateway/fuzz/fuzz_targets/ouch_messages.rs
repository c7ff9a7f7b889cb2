//! Fuzz target: `peregrine_gateway::fuzzing::ouch_messages` must never panic and must round-trip what
//! it accepts. Run: `cd gateway/fuzz && cargo +nightly fuzz run ouch_messages`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peregrine_gateway::fuzzing::ouch_messages(data);
});
