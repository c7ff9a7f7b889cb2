//! Peregrine's matching engine: domain types, the sequenced [`Command`] and [`Event`] records,
//! and a multi-instrument central limit order book with price-time priority.
//!
//! The engine is pure: no I/O, no clock, no threads, no randomness, no floats, no hashing with
//! a random seed. [`Engine::apply`] is a function of the engine's state and one command; the
//! same command stream gives the same events, byte for byte ([`record`]), on any host.
//!
//! # Invariants
//! - All memory is taken in [`Engine::new`]; after it, applying commands never allocates.
//!   Running out of order or level capacity is a reject with a reason.
//! - A rejected command changes nothing. An accepted one is applied whole.
//! - Bad input is never a panic: every field is judged before any state changes, and the result
//!   is a `Rejected` event with a [`RejectReason`]. Assertions (on in release builds) guard the
//!   engine's own invariants, never the input.
//! - [`Engine::verify`] checks every structural invariant; tests call it after every command.

pub mod command;
pub mod config;
pub mod event;
pub mod record;
pub mod types;

pub use command::{
    CancelOrder, Command, CommandKind, MassCancel, NewOrder, ReduceOrder, ReplaceOrder, RiskLimit,
    Sequenced, SetRiskLimit,
};
pub use config::{AccountConfig, ConfigError, EngineConfig, InstrumentConfig};
pub use event::{
    Accepted, BookAdd, BookDelete, BookReduce, BookReplace, CancelReason, Cancelled, ControlAck,
    Event, EventKind, EventSink, Executed, MassCancelled, RejectReason, Rejected, Replaced,
    RestateReason, Restated,
};
pub use types::{
    AccountId, InstrumentId, MatchId, OrderId, OrderType, Price, Qty, SessionId, Side, StpMode,
    TimeInForce, TradingStatus,
};
