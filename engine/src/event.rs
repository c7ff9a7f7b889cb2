//! The output record: everything the core tells members and the market is an [`Event`].
//!
//! Two families share one stream, in the order they happened:
//! - member events (`Accepted`, `Rejected`, `Executed`, `Cancelled`, `Replaced`, `Restated`,
//!   `MassCancelled`, `ControlAck`) that the gateway routes to the owning session, and
//! - book-change events (`BookAdd`, `BookReduce`, `BookDelete`, `BookReplace`, plus `Executed`,
//!   `AuctionFill` and `TradingStatus`) from which a feed writes ITCH without looking into the
//!   book, and the market-wide auction events (`AuctionUncrossed`, `AuctionIndicative`).
//!
//! # Invariants
//! - `Event` is `Copy`, fixed-size and holds no pointer. Its byte layout is in [`crate::record`].
//! - Feed consistency: applying the book-change events in order to an order-by-order book
//!   (add by id, execute the maker's displayed quantity, reduce, delete, replace) gives exactly
//!   the engine's displayed book. An `Executed` always consumes displayed quantity of the maker;
//!   an `AuctionFill` consumes displayed quantity of its own order.
//!   A fully executed or deleted order leaves that book; an iceberg whose display is refreshed
//!   re-enters it with a `BookAdd` under the same order id, behind the level's other orders.

use crate::command::CommandKind;
use crate::types::{
    coded_enum, AccountId, InstrumentId, MatchId, OrderId, OrderType, Price, Qty, SessionId, Side,
    TimeInForce, TradingStatus,
};

coded_enum! {
    /// Why a command was rejected. Engine reasons first, then risk reasons; the gateway maps each
    /// to its protocol's reject code. A rejected command changes no state at all.
    RejectReason {
        UnknownInstrument = 1,
        UnknownAccount = 2,
        InstrumentHalted = 3,
        /// Quantity is zero.
        ZeroQty = 4,
        /// Quantity is not a multiple of the instrument's lot size.
        QtyNotLotMultiple = 5,
        /// Quantity exceeds the instrument's maximum order quantity.
        QtyAboveInstrumentMax = 6,
        /// Price is not a multiple of the instrument's tick size.
        PriceNotTickMultiple = 7,
        /// Price is outside the instrument's [min, max] band.
        PriceOutOfBand = 8,
        /// Display quantity is larger than the order or not a lot multiple.
        InvalidDisplayQty = 9,
        /// Minimum quantity is larger than the order or not a lot multiple.
        InvalidMinQty = 10,
        /// A market order cannot be post-only or an iceberg.
        InvalidMarketOrder = 11,
        /// A post-only order (or its replacement) would take liquidity.
        PostOnlyWouldTake = 12,
        /// No live order with this id belongs to the account.
        UnknownOrder = 13,
        /// The order pool is full.
        OrderCapacity = 14,
        /// The price-level pool is full and the order needs a new level.
        LevelCapacity = 15,
        /// A reduce must lower the open quantity.
        ReduceNotLower = 16,
        /// A replace must change the price or the quantity.
        ReplaceNoChange = 17,
        /// A mass cancel by a member must name its own account.
        InvalidMassCancel = 18,
        /// The instrument is closed (no order entry).
        InstrumentClosed = 19,
        /// The order type is not allowed in the instrument's phase: in a call, only limit DAY or
        /// GTC orders without a minimum quantity and not post-only are accepted.
        NotAllowedInPhase = 20,
        /// An admin phase change the instrument's market rules do not allow (batch auction
        /// without a batch interval).
        InvalidTradingStatus = 21,
        // Risk reasons.
        RiskMaxOrderQty = 32,
        RiskMaxOrderNotional = 33,
        RiskPriceCollar = 34,
        RiskMaxOpenOrders = 35,
        RiskCreditLimit = 36,
        RiskNetPosition = 37,
        RiskGrossPosition = 38,
        RiskThrottle = 39,
        RiskAccountBlocked = 40,
        /// A risk admin command named a limit or value it cannot take.
        RiskInvalidLimit = 41,
    }
}

coded_enum! {
    /// Why an order (or part of it) left the book.
    CancelReason {
        /// The member asked (cancel, or a reduce to zero).
        UserRequested = b'U',
        /// The member reduced the order; it stays on the book with fewer shares.
        Reduced = b'R',
        /// The part of an IOC or market order that did not execute on arrival.
        ImmediateOrCancel = b'I',
        /// A fill-or-kill or minimum-quantity order could not execute enough on arrival.
        MinQtyNotMet = b'K',
        /// Self-trade prevention.
        SelfTrade = b'Q',
        /// A mass cancel.
        MassCancel = b'M',
        /// The account's kill switch.
        KillSwitch = b'X',
        /// Cancel on disconnect.
        Disconnect = b'D',
        /// The end-of-day command expired a DAY order.
        EndOfDay = b'E',
    }
}

coded_enum! {
    /// Why an order's state was restated.
    RestateReason {
        /// An iceberg's displayed part was executed and refreshed from its reserve; the order
        /// moved to the back of its level.
        DisplayRefresh = b'R',
    }
}

/// An order was accepted. It may execute at once (following `Executed` events) and/or rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub order: OrderId,
    pub account: AccountId,
    pub session: SessionId,
    pub client_ref: u64,
    pub instrument: InstrumentId,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub price: Price,
    pub qty: Qty,
    pub display_qty: Qty,
}

/// A command was rejected; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub account: AccountId,
    pub session: SessionId,
    pub client_ref: u64,
    /// The instrument the command named (0 when it names none); for cancel, reduce and
    /// replace, the order's instrument once the order is found and owned, else 0.
    pub instrument: InstrumentId,
    /// The order the command named (cancel, reduce, replace), else `OrderId::NONE`.
    pub order: OrderId,
    pub command: CommandKind,
    pub reason: RejectReason,
}

/// One trade between a resting (maker) order and an incoming (taker) order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executed {
    pub match_id: MatchId,
    pub instrument: InstrumentId,
    /// The maker's price.
    pub price: Price,
    pub qty: Qty,
    pub taker_side: Side,
    pub maker_order: OrderId,
    pub maker_account: AccountId,
    pub maker_session: SessionId,
    /// Maker's open quantity after this trade, reserve included.
    pub maker_leaves: Qty,
    pub taker_order: OrderId,
    pub taker_account: AccountId,
    pub taker_session: SessionId,
    /// Taker's unexecuted quantity after this trade.
    pub taker_leaves: Qty,
}

/// Some or all of an order's open quantity was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled {
    pub order: OrderId,
    pub account: AccountId,
    pub session: SessionId,
    pub instrument: InstrumentId,
    pub side: Side,
    /// The order's limit price (0 for a market order's remainder).
    pub price: Price,
    /// Shares taken off the order by this event.
    pub cancelled_qty: Qty,
    /// Open quantity left; zero when the order is gone.
    pub leaves: Qty,
    pub reason: CancelReason,
}

/// An order was replaced. `new_order == old_order` when it kept its priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replaced {
    pub old_order: OrderId,
    pub new_order: OrderId,
    pub account: AccountId,
    pub session: SessionId,
    pub client_ref: u64,
    pub instrument: InstrumentId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub display_qty: Qty,
    pub priority_kept: bool,
}

/// An order's displayed state changed without a member's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restated {
    pub order: OrderId,
    pub account: AccountId,
    pub session: SessionId,
    pub instrument: InstrumentId,
    pub display_qty: Qty,
    /// Open quantity, reserve included.
    pub leaves: Qty,
    pub reason: RestateReason,
}

/// A mass cancel finished; `cancelled_count` orders were cancelled (each with its own event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassCancelled {
    pub account: Option<AccountId>,
    pub instrument: Option<InstrumentId>,
    pub session: SessionId,
    pub client_ref: u64,
    pub cancelled_count: u32,
}

/// An admin (control) command took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlAck {
    pub command: CommandKind,
    pub account: AccountId,
    pub instrument: InstrumentId,
    pub value: i64,
}

/// A displayed order (or a refreshed iceberg display) joined the back of a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookAdd {
    pub order: OrderId,
    pub instrument: InstrumentId,
    pub account: AccountId,
    pub side: Side,
    pub price: Price,
    pub display_qty: Qty,
}

/// A resting order's displayed quantity went down by `qty` without a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookReduce {
    pub order: OrderId,
    pub instrument: InstrumentId,
    pub qty: Qty,
}

/// A resting order left the book without a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookDelete {
    pub order: OrderId,
    pub instrument: InstrumentId,
}

/// A resting order was replaced by a new one at the back of its (new) level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookReplace {
    pub old_order: OrderId,
    pub new_order: OrderId,
    pub instrument: InstrumentId,
    pub price: Price,
    pub display_qty: Qty,
}

coded_enum! {
    /// Which side has more quantity than the other at an indicative auction price.
    ImbalanceSide {
        /// More buy than sell quantity at the indicative price.
        Buy = b'B',
        /// More sell than buy quantity.
        Sell = b'S',
        /// Both sides balance exactly.
        Balanced = b'N',
        /// The book does not cross: no indicative price (price and quantities are 0).
        NoCross = b'O',
    }
}

/// One side of one auction trade: both orders of a trade rest on the book, so an uncross
/// reports each side as its own event (buy side first), under one `match_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuctionFill {
    pub match_id: MatchId,
    pub instrument: InstrumentId,
    /// The uncross price (the same for every fill of one uncross).
    pub price: Price,
    pub qty: Qty,
    pub side: Side,
    pub order: OrderId,
    pub account: AccountId,
    pub session: SessionId,
    /// The order's own limit price (risk releases open notional at it).
    pub order_price: Price,
    /// The order's open quantity after this fill, reserve included.
    pub leaves: Qty,
    /// The order on the other side of this trade.
    pub contra_order: OrderId,
    /// The phase whose call the uncross ended.
    pub phase: TradingStatus,
}

/// An uncross finished: `qty` shares traded at `price`, after the uncross's `AuctionFill`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuctionUncrossed {
    /// A match id of its own (after those of the fills).
    pub match_id: MatchId,
    pub instrument: InstrumentId,
    pub price: Price,
    /// Shares traded (each counted once, not per side).
    pub qty: u64,
    /// The phase whose call this uncross ended.
    pub phase: TradingStatus,
}

/// The price and quantities an uncross would give now, published during an auction call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuctionIndicative {
    pub instrument: InstrumentId,
    pub phase: TradingStatus,
    /// Indicative uncross price; `Price(0)` when the book does not cross.
    pub price: Price,
    /// Shares that would trade at `price`.
    pub paired_qty: u64,
    /// Shares of the larger side left unmatched at `price`.
    pub imbalance_qty: u64,
    pub imbalance_side: ImbalanceSide,
    /// The reference the uncross tie-break uses (last trade or set reference), 0 if none.
    pub reference_price: Price,
}

/// The output record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Accepted(Accepted),
    Rejected(Rejected),
    Executed(Executed),
    Cancelled(Cancelled),
    Replaced(Replaced),
    Restated(Restated),
    MassCancelled(MassCancelled),
    ControlAck(ControlAck),
    TradingStatus {
        instrument: InstrumentId,
        status: TradingStatus,
    },
    BookAdd(BookAdd),
    BookReduce(BookReduce),
    BookDelete(BookDelete),
    BookReplace(BookReplace),
    /// One side of an auction trade.
    AuctionFill(AuctionFill),
    /// An uncross's summary (the market's cross trade).
    AuctionUncrossed(AuctionUncrossed),
    /// Indicative price and imbalance during an auction call.
    AuctionIndicative(AuctionIndicative),
}

coded_enum! {
    /// The kind of an [`Event`], as its record type byte.
    EventKind {
        Accepted = 1,
        Rejected = 2,
        Executed = 3,
        Cancelled = 4,
        Replaced = 5,
        Restated = 6,
        MassCancelled = 7,
        ControlAck = 8,
        TradingStatus = 9,
        BookAdd = 10,
        BookReduce = 11,
        BookDelete = 12,
        BookReplace = 13,
        AuctionFill = 14,
        AuctionUncrossed = 15,
        AuctionIndicative = 16,
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Accepted(_) => EventKind::Accepted,
            Event::Rejected(_) => EventKind::Rejected,
            Event::Executed(_) => EventKind::Executed,
            Event::Cancelled(_) => EventKind::Cancelled,
            Event::Replaced(_) => EventKind::Replaced,
            Event::Restated(_) => EventKind::Restated,
            Event::MassCancelled(_) => EventKind::MassCancelled,
            Event::ControlAck(_) => EventKind::ControlAck,
            Event::TradingStatus { .. } => EventKind::TradingStatus,
            Event::BookAdd(_) => EventKind::BookAdd,
            Event::BookReduce(_) => EventKind::BookReduce,
            Event::BookDelete(_) => EventKind::BookDelete,
            Event::BookReplace(_) => EventKind::BookReplace,
            Event::AuctionFill(_) => EventKind::AuctionFill,
            Event::AuctionUncrossed(_) => EventKind::AuctionUncrossed,
            Event::AuctionIndicative(_) => EventKind::AuctionIndicative,
        }
    }
}

/// Where the engine puts the events of one command. The core stage's sink writes into the
/// outbound ring; tests collect into a `Vec`. The engine never allocates on its own behalf.
pub trait EventSink {
    fn push(&mut self, event: Event);
}

/// Collects events in a `Vec` (allocates as it grows: tests and tools only).
impl EventSink for Vec<Event> {
    fn push(&mut self, event: Event) {
        Vec::push(self, event);
    }
}

/// Sinks that keep nothing.
pub mod sink {
    use super::{Event, EventSink};

    /// Counts events and discards them: allocation-free.
    #[derive(Default, Debug, Clone, Copy)]
    pub struct CountSink {
        pub count: u64,
    }

    impl EventSink for CountSink {
        fn push(&mut self, _event: Event) {
            self.count += 1;
        }
    }
}

const _: () = assert!(core::mem::size_of::<Event>() <= 80);
