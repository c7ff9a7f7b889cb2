//! Stable-Rust fuzz smoke test: the same entry points as the `cargo fuzz` targets
//! (`peregrine_gateway::fuzzing`), fed with random bytes and with mutations of valid packets and
//! messages, so the normal test suite catches a panic without nightly. Method: proptest
//! generates the inputs; the entry points assert round trips of whatever they accept.

use peregrine_gateway::fuzzing::{ouch_messages, session_input, soupbintcp_framing};
use peregrine_gateway::ouch::inbound::EnterOrder;
use peregrine_gateway::ouch::{Capacity, CrossType, Display, Inbound, Options, Side, TimeInForce};
use peregrine_gateway::soupbintcp::{LoginRequest, Repr};
use proptest::prelude::*;

fn enter_order_bytes() -> Vec<u8> {
    let message = Inbound::EnterOrder(EnterOrder {
        user_ref_num: 1,
        side: Side::Buy,
        quantity: 100,
        symbol: *b"SYM0    ",
        price: 1_000_000,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: *b"C1            ",
        options: Options {
            min_qty: Some(10),
            max_floor: Some(50),
            ..Options::default()
        },
    });
    let mut bytes = vec![0u8; message.buffer_len()];
    message.emit(&mut bytes);
    bytes
}

fn packet(repr: Repr<'_>) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut bytes);
    bytes
}

/// A login followed by an Enter Order, as a client would send them.
fn session_seed() -> Vec<u8> {
    let login = LoginRequest {
        username: *b"ALICE ",
        password: *b"SECRET    ",
        requested_session: [b' '; 10],
        requested_seq: 0,
    };
    let mut bytes = vec![7u8];
    bytes.extend(packet(Repr::LoginRequest(login)));
    bytes.extend(packet(Repr::UnsequencedData(&enter_order_bytes())));
    bytes.extend(packet(Repr::ClientHeartbeat));
    bytes.extend(packet(Repr::LogoutRequest));
    bytes
}

/// Flips, overwrites and truncates bytes of a seed.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    (
        proptest::collection::vec((0..len, any::<u8>()), 0..6),
        0..=len,
    )
        .prop_map(move |(edits, keep)| {
            let mut bytes = seed.clone();
            for (index, value) in edits {
                bytes[index] = value;
            }
            bytes.truncate(keep.max(1));
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        soupbintcp_framing(&bytes);
        ouch_messages(&bytes);
        session_input(&bytes);
    }

    #[test]
    fn mutated_ouch_messages(bytes in mutated(enter_order_bytes())) {
        ouch_messages(&bytes);
    }

    #[test]
    fn mutated_sessions(bytes in mutated(session_seed())) {
        soupbintcp_framing(&bytes[1..]);
        session_input(&bytes);
    }
}

#[test]
fn seeds_are_accepted_whole() {
    // The unmutated seeds exercise the accepting paths (login, message, logout).
    session_input(&session_seed());
    soupbintcp_framing(&session_seed()[1..]);
    ouch_messages(&enter_order_bytes());
    assert!(Inbound::parse(&enter_order_bytes()).is_ok());
}
