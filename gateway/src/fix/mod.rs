//! FIX 4.4 order entry: the tag=value codec ([`codec`]), the session layer as a sans-IO state
//! machine ([`session`]), and the application mapping between FIX orders and the engine's
//! [`peregrine_engine::Command`] / [`peregrine_engine::Event`] records ([`app`]).
//!
//! Same shape as the OUCH side: the node drives a [`session::FixSession`] per connection and a
//! [`app::FixOrderEntry`] per user from its sockets and the core's events; nothing here reads a
//! clock, owns a socket or allocates after construction.
//!
//! # Invariants
//! - No input can make this module panic: framing, field and business errors are typed values
//!   answered with a Logout, a session Reject (3), a BusinessMessageReject (j), an
//!   OrderCancelReject (9) or a rejecting ExecutionReport (8).
//! - Every outbound message is framed with BodyLength and CheckSum by [`codec::finish_message`].

pub mod app;
pub mod codec;
pub mod fuzzing;
pub mod session;
mod table;
