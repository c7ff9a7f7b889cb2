//! Peregrine market data, sans-IO: ITCH 5.0 messages ([`itch`]), the engine-event encoder
//! ([`encoder`]), MoldUDP64 framing and the packetiser ([`moldudp64`]), and the subscriber side:
//! a packet decoder with gap detection ([`subscriber`]) and an order-by-order book builder
//! ([`book`]).
//!
//! Nothing here owns a socket, a clock or a thread. The publisher (a thread around the
//! encoder and packetiser, sending on multicast) and the re-request and snapshot servers are
//! drivers around these types.
//!
//! # Invariants
//! - Codecs are views over caller-provided bytes plus validated `Repr` values; they never
//!   allocate and never use `unsafe` (the crate forbids it).
//! - Untrusted bytes are judged in one place per layer (`new_checked`, `Repr::parse`,
//!   [`subscriber::Subscriber::handle_packet`]); bad input is a typed error, never a panic.
//! - The encoder, packetiser and subscriber allocate only at construction.
//!
//! # Panic contract
//! As in smoltcp's `wire`: after `new_checked` succeeds no getter panics; `emit` never panics
//! on a buffer of exactly `buffer_len()` bytes. Assertions (on in release) guard this crate's
//! own invariants, never the input.

#![forbid(unsafe_code)]

pub mod book;
pub mod encoder;
pub mod itch;
pub mod moldudp64;
pub mod subscriber;
pub mod wire;
