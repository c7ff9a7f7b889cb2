//! Stable-Rust fuzz smoke test of the FIX code: the entry points of the `fix_codec` and
//! `fix_session` cargo-fuzz targets (`peregrine_gateway::fix::fuzzing`) fed random bytes and
//! mutations of a valid Logon + NewOrderSingle + cancel stream, so `cargo test` catches a panic
//! without nightly. Method: proptest generates the inputs.

use peregrine_gateway::fix::fuzzing::{fix_codec, fix_session};
use peregrine_gateway::fix::session::{compose_message, Header, Text};
use proptest::prelude::*;

fn message(msg_type: &str, seq: u64, fields: &[(u32, &str)]) -> Vec<u8> {
    let mut buffer = [0u8; 1024];
    let header = Header {
        msg_type: msg_type.as_bytes(),
        seq,
        sending_ns: 0,
        poss_dup: None,
    };
    let ids = (
        &Text::new(b"M").expect("id"),
        &Text::new(b"PEREGRINE").expect("id"),
    );
    let len = compose_message(&mut buffer, ids, &header, |w| {
        for (tag, value) in fields {
            w.bytes(*tag, value.as_bytes());
        }
    })
    .expect("fits");
    buffer[..len].to_vec()
}

fn seed() -> Vec<u8> {
    let t = (60, "20260101-00:00:00.000");
    let mut bytes = message("A", 1, &[(98, "0"), (108, "30"), (553, "M"), (554, "pw")]);
    bytes.extend(message(
        "D",
        2,
        &[
            (11, "C1"),
            (55, "AAPL"),
            (54, "1"),
            t,
            (38, "10"),
            (40, "2"),
            (44, "1.5"),
        ],
    ));
    bytes.extend(message(
        "G",
        3,
        &[
            (41, "C1"),
            (11, "C2"),
            (55, "AAPL"),
            (54, "1"),
            t,
            (38, "20"),
            (40, "2"),
            (44, "2"),
        ],
    ));
    bytes.extend(message(
        "F",
        4,
        &[(41, "C1"), (11, "C3"), (55, "AAPL"), (54, "1"), t],
    ));
    bytes.extend(message("q", 5, &[(11, "C4"), (530, "7"), t]));
    bytes.extend(message("2", 6, &[(7, "1"), (16, "0")]));
    bytes.extend(message("4", 7, &[(123, "Y"), (36, "9")]));
    bytes
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seed = seed();
    let len = seed.len();
    prop::collection::vec((0..len, any::<u8>()), 0..8).prop_map(move |edits| {
        let mut bytes = seed.clone();
        for (at, value) in edits {
            bytes[at] = value;
        }
        bytes
    })
}

#[test]
fn the_seed_stream_runs_cleanly() {
    fix_codec(&seed());
    fix_session(&seed());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        fix_codec(&bytes);
        fix_session(&bytes);
    }

    #[test]
    fn mutated_streams_never_panic(bytes in mutated()) {
        fix_codec(&bytes);
        fix_session(&bytes);
    }
}
