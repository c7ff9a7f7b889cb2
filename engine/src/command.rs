//! The sequenced input record: everything that can change the core's state is a [`Command`].
//!
//! The gateway turns protocol messages into commands, the admin channel turns operator actions
//! into commands, and the core stage stamps each with a sequence number and a timestamp
//! ([`Sequenced`]), journals it and then applies it. Replaying the journal's commands into a
//! fresh core reproduces every event.
//!
//! # Invariants
//! - `Command` is `Copy`, fixed-size and holds no pointer: it can sit in a ring slot or a
//!   journal record as it is. Its byte layout is in [`crate::record`].
//! - A command never carries a wall-clock reading of its own; time is the `timestamp_ns` of the
//!   [`Sequenced`] envelope, set once by the sequencer.

use crate::types::{
    coded_enum, AccountId, InstrumentId, OrderId, OrderType, Price, Qty, SessionId, Side, StpMode,
    TimeInForce, TradingStatus,
};

/// Enter a new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub account: AccountId,
    pub session: SessionId,
    /// The member's own reference (OUCH `UserRefNum`, a FIX ClOrdID key), echoed in the
    /// `Accepted` or `Rejected` event. The engine does not interpret it.
    pub client_ref: u64,
    pub instrument: InstrumentId,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    /// Limit price; ignored (and recorded as 0) for market orders.
    pub price: Price,
    /// Total quantity, reserve included.
    pub qty: Qty,
    /// Displayed quantity of an iceberg (reserve) order; `Qty(0)` displays the whole order.
    pub display_qty: Qty,
    /// Minimum quantity that must execute on arrival, or the order is cancelled without trading;
    /// `Qty(0)` for none. Does not apply once the order rests.
    pub min_qty: Qty,
    /// Reject the order instead of letting it take liquidity on arrival.
    pub post_only: bool,
    pub stp: StpMode,
}

/// Cancel an order entirely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelOrder {
    pub account: AccountId,
    pub session: SessionId,
    pub client_ref: u64,
    pub order: OrderId,
}

/// Reduce an order's open quantity, keeping its time priority. OUCH's Cancel Order with a
/// non-zero quantity: `leaves_qty` is the intended open quantity afterwards, which must be below
/// the current open quantity; `Qty(0)` cancels the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReduceOrder {
    pub account: AccountId,
    pub session: SessionId,
    pub client_ref: u64,
    pub order: OrderId,
    pub leaves_qty: Qty,
}

/// Replace an order's price and/or quantity. The order keeps its time priority (and its id) only
/// when the price is unchanged and the quantity does not increase; otherwise it is re-entered at
/// the back of its new level with a new order id, and may trade on re-entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplaceOrder {
    pub account: AccountId,
    pub session: SessionId,
    /// The member's reference for the replacement order.
    pub client_ref: u64,
    pub order: OrderId,
    pub price: Price,
    /// New open quantity, reserve included.
    pub qty: Qty,
    /// New displayed quantity; `Qty(0)` displays the whole order.
    pub display_qty: Qty,
}

/// Cancel every resting order that matches the filter. A `None` field matches everything; a
/// member's mass cancel always names its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassCancel {
    pub account: Option<AccountId>,
    pub instrument: Option<InstrumentId>,
    pub session: SessionId,
    pub client_ref: u64,
}

coded_enum! {
    /// A risk limit that an admin command can change. Values are integers in the unit the name
    /// gives; `0` disables the limit (`i64::MAX` is also "unlimited").
    RiskLimit {
        /// Largest quantity of one order (shares), per instrument.
        MaxOrderQty = 1,
        /// Largest notional of one order (price units × shares), per instrument.
        MaxOrderNotional = 2,
        /// Price collar around the reference price, in basis points, per instrument.
        PriceCollarBps = 3,
        /// Most resting orders the account may have, across instruments.
        MaxOpenOrders = 4,
        /// Credit limit: gross notional of open orders (price units × shares), across instruments.
        MaxGrossOpenNotional = 5,
        /// Largest absolute net position (shares), per instrument.
        MaxNetPosition = 6,
        /// Largest sum over instruments of absolute positions (shares).
        MaxGrossPosition = 7,
        /// Orders (new and replace) allowed per throttle interval.
        ThrottleOrdersPerInterval = 8,
        /// Length of the throttle interval in sequencer nanoseconds.
        ThrottleIntervalNs = 9,
        /// 1 to cancel the account's orders when its session is lost, 0 not to.
        CancelOnDisconnect = 10,
    }
}

/// Change one risk limit of an account at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetRiskLimit {
    pub account: AccountId,
    /// `None` for account-wide limits and for "every instrument" of per-instrument limits.
    pub instrument: Option<InstrumentId>,
    pub limit: RiskLimit,
    pub value: i64,
}

/// The sequenced input record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    NewOrder(NewOrder),
    Cancel(CancelOrder),
    Reduce(ReduceOrder),
    Replace(ReplaceOrder),
    MassCancel(MassCancel),
    /// Halt or resume an instrument.
    SetTradingStatus {
        instrument: InstrumentId,
        status: TradingStatus,
    },
    /// Expire every DAY order (cancel reason `EndOfDay`); GTC orders stay.
    EndOfDay,
    /// Risk: change a limit.
    SetRiskLimit(SetRiskLimit),
    /// Risk: kill switch. Blocks the account and cancels all its resting orders.
    BlockAccount {
        account: AccountId,
    },
    /// Risk: lift the kill switch.
    UnblockAccount {
        account: AccountId,
    },
    /// Risk: set an instrument's reference price for the price collar (until the next trade).
    SetReferencePrice {
        instrument: InstrumentId,
        price: Price,
    },
    /// The gateway lost a session: orders of accounts with cancel-on-disconnect that the session
    /// entered are cancelled.
    SessionLost {
        account: AccountId,
        session: SessionId,
    },
}

coded_enum! {
    /// The kind of a [`Command`], as its record type byte.
    CommandKind {
        NewOrder = 1,
        Cancel = 2,
        Reduce = 3,
        Replace = 4,
        MassCancel = 5,
        SetTradingStatus = 6,
        EndOfDay = 7,
        SetRiskLimit = 8,
        BlockAccount = 9,
        UnblockAccount = 10,
        SetReferencePrice = 11,
        SessionLost = 12,
    }
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::NewOrder(_) => CommandKind::NewOrder,
            Command::Cancel(_) => CommandKind::Cancel,
            Command::Reduce(_) => CommandKind::Reduce,
            Command::Replace(_) => CommandKind::Replace,
            Command::MassCancel(_) => CommandKind::MassCancel,
            Command::SetTradingStatus { .. } => CommandKind::SetTradingStatus,
            Command::EndOfDay => CommandKind::EndOfDay,
            Command::SetRiskLimit(_) => CommandKind::SetRiskLimit,
            Command::BlockAccount { .. } => CommandKind::BlockAccount,
            Command::UnblockAccount { .. } => CommandKind::UnblockAccount,
            Command::SetReferencePrice { .. } => CommandKind::SetReferencePrice,
            Command::SessionLost { .. } => CommandKind::SessionLost,
        }
    }
}

/// A command as the sequencer stamped it: the unit of the journal and of replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sequenced {
    /// Position in the input stream, from 1, with no gaps.
    pub seq: u64,
    /// Sequencer time in nanoseconds since the Unix epoch. The only clock the core sees.
    pub timestamp_ns: u64,
    pub command: Command,
}

const _: () = assert!(core::mem::size_of::<Command>() <= 64);
const _: () = assert!(core::mem::size_of::<Sequenced>() <= 80);
