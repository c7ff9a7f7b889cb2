#![no_main]
//! A FIX server session and order entry fed arbitrary bytes (`peregrine_gateway::fix::fuzzing`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| peregrine_gateway::fix::fuzzing::fix_session(data));
