//! Fuzz entry points, shared by the `cargo fuzz` targets in `gateway/fuzz/` and the stable
//! smoke test (`tests/fuzz_smoke.rs`). Each takes arbitrary bytes, must never panic, and
//! asserts that whatever the decoders accept survives `emit` then `parse` unchanged.
//!
//! # Invariants
//! - A panic here is a bug in the codecs or the session (the asserts state what must hold).
//! - Every loop is bounded by the input length.

use peregrine_engine::{AccountId, EngineConfig, SessionId};

use crate::mapping::{InboundAction, Instruments, OrderEntry, SessionContext};
use crate::ouch::{Inbound, Outbound};
use crate::session::{ServerSession, SessionConfig, SessionEvent};
use crate::soupbintcp::{session_name, split, Direction, Repr, Split};

/// Splits `data` into SoupBinTCP packets (both directions) and round-trips each parsed one.
pub fn soupbintcp_framing(data: &[u8]) {
    for direction in [Direction::ClientToServer, Direction::ServerToClient] {
        let mut rest = data;
        // Bounded: each frame consumes at least three bytes.
        while !rest.is_empty() {
            match split(rest, direction, 2048) {
                Ok(Split::Frame { len }) => {
                    assert!(len >= 3 && len <= rest.len());
                    if let Ok(repr) = Repr::parse_bytes(&rest[..len]) {
                        assert_eq!(repr.buffer_len(), len);
                        let mut buffer = vec![0u8; len];
                        assert_eq!(repr.emit(&mut buffer), len);
                        assert_eq!(Repr::parse_bytes(&buffer), Ok(repr));
                        let _ = repr.to_string();
                    }
                    rest = &rest[len..];
                }
                Ok(Split::Incomplete { needed }) => {
                    assert!(needed > 0);
                    break;
                }
                Err(_) => break,
            }
        }
    }
}

/// Parses `data` as an inbound and as an outbound OUCH message; round-trips what parses.
pub fn ouch_messages(data: &[u8]) {
    if let Ok(message) = Inbound::parse(data) {
        let mut buffer = vec![0u8; message.buffer_len()];
        assert_eq!(message.emit(&mut buffer), buffer.len());
        assert_eq!(Inbound::parse(&buffer), Ok(message));
        let _ = message.to_string();
    }
    if let Ok(message) = Outbound::parse(data) {
        let mut buffer = vec![0u8; message.buffer_len()];
        assert_eq!(message.emit(&mut buffer), buffer.len());
        assert_eq!(Outbound::parse(&buffer), Ok(message));
        let _ = message.to_string();
    }
}

/// Feeds `data` to a server session in chunks (sizes taken from the data), accepting any
/// login, and hands every message to an [`OrderEntry`]; checks the session's promises.
pub fn session_input(data: &[u8]) {
    let Some((&chunk_seed, data)) = data.split_first() else {
        return;
    };
    let chunk_len = usize::from(chunk_seed % 64) + 1;
    let instruments = Instruments::new(&EngineConfig::demo(2, 1, 8));
    let context = SessionContext {
        account: AccountId(0),
        session: SessionId(1),
        firm: *b"FIRM",
    };
    let mut entry = OrderEntry::new(context, 8);
    let mut server = ServerSession::new(SessionConfig::default(), 0);
    let mut pending: Vec<u8> = Vec::with_capacity(data.len());
    let mut transmit = [0u8; 64];
    let mut now_ns = 0u64;
    for chunk in data.chunks(chunk_len) {
        now_ns += 100_000_000;
        if server.poll_timeout().is_some_and(|at| at <= now_ns) {
            server.handle_timeout(now_ns);
        }
        pending.extend_from_slice(chunk);
        let consumed = server.handle_input(now_ns, &pending);
        assert!(consumed <= pending.len());
        while let Some(event) = server.poll_event() {
            match event {
                SessionEvent::Message { start, end } => {
                    assert!(start <= end && end <= consumed);
                    let action = entry.on_message(&instruments, now_ns, &pending[start..end]);
                    if let InboundAction::Reply(reply) = action {
                        let mut buffer = vec![0u8; reply.buffer_len()];
                        reply.emit(&mut buffer);
                        assert_eq!(Outbound::parse(&buffer), Ok(reply));
                    }
                }
                SessionEvent::LoginRequested(_) => server.accept_login(session_name("FUZZ"), 1),
                SessionEvent::LoggedOut
                | SessionEvent::TimedOut
                | SessionEvent::ProtocolError(_) => {}
            }
        }
        pending.drain(..consumed);
        while server.poll_transmit(&mut transmit) > 0 {}
        if server.is_closed() {
            break;
        }
    }
}
