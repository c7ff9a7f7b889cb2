#![no_main]
//! FIX framing and field parsing on arbitrary bytes (`peregrine_gateway::fix::fuzzing`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| peregrine_gateway::fix::fuzzing::fix_codec(data));
