//! Fuzz entry points of the FIX code, shared by the `cargo fuzz` targets
//! (`gateway/fuzz/fuzz_targets/fix_*.rs`) and the stable smoke test
//! (`gateway/tests/fix_fuzz_smoke.rs`). Each takes arbitrary bytes and must never panic.
//!
//! # Invariants
//! - A panic here is a bug in the codec, the session or the application mapping.
//! - Every loop is bounded by the input length.

use peregrine_engine::{AccountId, EngineConfig, InstrumentConfig, Price, Qty, SessionId};

use super::app::FixOrderEntry;
use super::codec::{finish_message, frame, Fields, HEADER_ROOM};
use super::session::{FixSession, SessionConfig, SessionEvent, Text};
use crate::mapping::{Instruments, SessionContext};

/// Frames and splits `data` as a stream of FIX messages; whatever parses must give back the
/// bytes it was parsed from.
pub fn fix_codec(data: &[u8]) {
    let mut rest = data;
    // Bounded: each pass consumes at least one byte or stops.
    while !rest.is_empty() {
        match frame(rest) {
            Ok(Some(len)) => {
                assert!(len <= rest.len());
                if let Ok(fields) = Fields::parse(&rest[..len]) {
                    let total: usize = fields.iter().map(|(_, v)| v.len()).sum();
                    assert!(total < len);
                    assert_eq!(fields.msg_type(), fields.get(35).unwrap_or(b""));
                }
                rest = &rest[len..];
            }
            Ok(None) => break,
            Err(super::codec::FrameError::ChecksumMismatch { len, .. }) => rest = &rest[len..],
            Err(_) => break,
        }
    }
    // The same bytes as a body: framed by our writer, they must frame and parse back whole.
    let mut buffer = [0u8; 1024];
    let body = &data[..data.len().min(buffer.len() - HEADER_ROOM - 8)];
    buffer[HEADER_ROOM..HEADER_ROOM + body.len()].copy_from_slice(body);
    if let Some(len) = finish_message(&mut buffer, body.len()) {
        if !body.is_empty() && body.last() == Some(&super::codec::SOH) {
            assert_eq!(frame(&buffer[..len]), Ok(Some(len)));
        }
    }
}

fn instruments() -> Instruments {
    let symbol = InstrumentConfig::symbol_from_str("AAPL");
    let config = EngineConfig {
        instruments: vec![InstrumentConfig {
            symbol,
            tick_size: Price(100),
            lot_size: Qty(1),
            min_price: Price(100),
            max_price: Price(10_000_000),
            max_order_qty: Qty(1_000_000),
        }],
        accounts: Vec::new(),
        order_capacity: 16,
        level_capacity: 16,
    };
    Instruments::new(&config)
}

/// Feeds `data` (a Logon is put in front when `data` does not start with one) to a server
/// session that accepts every Logon, with every application message handed to an order
/// entry; then drains every output.
pub fn fix_session(data: &[u8]) {
    let comp_id = Text::new(b"PEREGRINE").unwrap_or(Text::EMPTY);
    let config = SessionConfig {
        comp_id,
        reset_on_logon: false,
    };
    let mut session = FixSession::new(config, 0);
    let context = SessionContext {
        account: AccountId(0),
        session: SessionId(1),
        firm: *b"FIRM",
    };
    let mut entry = FixOrderEntry::new(context, 8, 16);
    let instruments = instruments();
    let mut buffer = [0u8; 8192];
    let mut at = 0;
    let mut now_ns = 0;
    for _ in 0..data.len() + 1 {
        let consumed = session.handle_input(now_ns, &data[at..]);
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::LogonRequested(_) => {
                    session.accept_logon(now_ns, 1, 1);
                }
                SessionEvent::Application { start, end, seq } => {
                    let bytes = &data[at + start..at + end];
                    if let Ok(fields) = Fields::parse(bytes) {
                        let _ = entry.on_message(&instruments, now_ns, &fields, seq);
                    }
                }
                _ => {}
            }
        }
        while let Some(len) = session.poll_admin(now_ns, &mut buffer) {
            assert!(matches!(frame(&buffer[..len]), Ok(Some(n)) if n == len));
        }
        now_ns += 1_000_000_000;
        session.handle_timeout(now_ns);
        at += consumed;
        if consumed == 0 || at >= data.len() {
            break;
        }
    }
}
