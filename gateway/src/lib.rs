//! Peregrine order entry: SoupBinTCP 3.0 framing and sessions, OUCH 5.0 codecs, and the mapping
//! between OUCH messages and the engine's [`peregrine_engine::Command`] and
//! [`peregrine_engine::Event`] records.
//!
//! Everything here is sans-IO: no sockets, no clock, no threads. Time arrives as `now_ns`
//! arguments; bytes arrive and leave through caller-owned buffers. The node (in `tools/`) drives
//! sessions from sockets.
//!
//! # Invariants
//! - No input can make this crate panic: framing errors, malformed messages and protocol
//!   violations are typed values ([`soupbintcp::Error`], [`ouch::Error`],
//!   [`session::ProtocolError`]).
//! - All memory of a session is taken when it is created; handling input and events afterwards
//!   does not allocate.
//! - Work per call is bounded: `handle_input` consumes at most a fixed number of packets.

#![deny(unsafe_code)]

pub mod client;
pub mod fix;
#[allow(unsafe_code)] // raw AF_XDP rings, bpf() and DPDK FFI; every block has a SAFETY note
pub mod frame;
pub mod fuzzing;
pub mod mapping;
pub mod orders;
pub mod ouch;
pub mod session;
pub mod soupbintcp;
pub mod store;
pub(crate) mod wire;

pub use wire::{alpha, alpha_trimmed};
