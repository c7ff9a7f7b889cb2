//! The fixed-size records that travel on the node's rings.
//!
//! - [`InboundRecord`] (gateway → core): a command from a user's session, stamped with the
//!   time the gateway read it. Session control (a lost session) travels as
//!   `Command::SessionLost`, so cancel-on-disconnect is journaled like any other input.
//! - [`OutboundRecord`] (core → gateway): one event of an input, or the marker that the
//!   input's events are complete (the gateway checkpoints on it).
//!
//! # Invariants
//! - Both records are `Copy`, hold no pointer, and have a const-asserted size bound, so a ring
//!   slot holds one as it is and nothing is allocated per message.
//! - For one input, the core emits its events with `event_index` 0, 1, 2, … and then exactly
//!   one `InputDone`; inputs arrive in `input_seq` order with no gaps.

use peregrine_engine::{Command, Event};

/// A command from the gateway to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundRecord {
    /// Index of the user whose session sent it (`SessionId(user_index + 1)`).
    pub user_index: u32,
    pub command: Command,
    /// Gateway clock (Unix ns) when the message was read from the socket.
    pub received_ns: u64,
}

/// What one outbound record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundKind {
    Event(Event),
    /// Every event of `input_seq` has been sent.
    InputDone,
}

/// One output of the core, in emission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundRecord {
    /// Sequence number of the input that produced it.
    pub input_seq: u64,
    /// Sequencer timestamp of that input (Unix ns).
    pub timestamp_ns: u64,
    /// Position of the event among its input's events, from 0 (the count for `InputDone`).
    pub event_index: u32,
    pub kind: OutboundKind,
}

const _: () = assert!(core::mem::size_of::<InboundRecord>() <= 96);
const _: () = assert!(core::mem::size_of::<OutboundRecord>() <= 112);
