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
//!
//! # Matching rules
//!
//! These rules are the contract that the engine and the reference model in the tests both
//! implement; every event order below is exact.
//!
//! **Terms.** An order's *leaves* is its open quantity, reserve included; *displayed* is the part
//! on the visible book; `reserve = leaves - displayed`. An order is an *iceberg* when
//! `0 < display_qty < qty`; its *peak* is `display_qty`. Any other order is fully displayed and
//! its peak is recorded as 0 (a fully displayed order always has `displayed == leaves`). Its
//! *display size* is the peak for an iceberg, else its quantity. A *level* is one (instrument, side, price) queue in time
//! priority. "Acceptable" prices for a buy limit `p` are asks `<= p`; for a sell, bids `>= p`;
//! every price is acceptable to a market order. The effective STP mode is the order's, or the
//! account's when the order says `AccountDefault`.
//!
//! **New order.** Checks in this order, the first failure is the reject reason:
//! `UnknownInstrument`, `UnknownAccount`, `InstrumentHalted` (phase halted), `InstrumentClosed`
//! (phase closed), `ZeroQty`, `QtyNotLotMultiple`,
//! `QtyAboveInstrumentMax`; then for a market order `InvalidMarketOrder` (post-only or
//! `display_qty != 0`), for a limit order `PriceOutOfBand` then `PriceNotTickMultiple`;
//! then `InvalidDisplayQty` (`display_qty > qty` or not a lot multiple), `InvalidMinQty`
//! (`min_qty > qty` or not a lot multiple), `NotAllowedInPhase` (in a call phase, anything but
//! a limit DAY/GTC order without minimum quantity and not post-only), `PostOnlyWouldTake`
//! (continuous phase only: the best opposite price is
//! acceptable, whoever owns it); and for an order that may rest (limit, DAY or GTC):
//! `OrderCapacity` when the order pool is full, then `LevelCapacity` when its level does not exist
//! and the level pool is full. Then the order gets the next `OrderId` and `Accepted` is emitted
//! (`price` is 0 for a market order, `display_qty` is the display size).
//!
//! **Fill requirement.** `required` is `qty` for FOK, else `min_qty`. If it is non-zero, the
//! *available* quantity is counted walking opposite levels best first while acceptable, each
//! level's queue front to back: another account's order adds its leaves; a same-account order
//! with STP `Off` adds its leaves; with `CancelResting` it is skipped; with any other mode the
//! count stops there, and in that level only the displayed quantities of the orders before it
//! count (their reserves would refresh behind it). If available < required, emit `Cancelled`
//! (all of `qty`, leaves 0, `MinQtyNotMet`) and stop: nothing traded.
//!
//! **Matching.** While the taker has quantity and the best opposite level is acceptable, take the
//! level's front order (the maker):
//! - same account, STP not `Off`:
//!   `CancelResting`: `Cancelled`(maker, all leaves, `SelfTrade`) + `BookDelete`(maker), go on.
//!   `CancelIncoming`: `Cancelled`(taker, remaining, leaves 0, `SelfTrade`), stop.
//!   `CancelBoth`: the maker's two events, then the taker's `Cancelled`, stop.
//!   `Decrement`: `d = min(remaining, maker leaves)`, cut from the maker's reserve first, then its
//!   display: `Cancelled`(maker, d, leaves after, `SelfTrade`) then `BookDelete` if it has no
//!   leaves, else `BookReduce`(display cut) if the display was cut; then
//!   `Cancelled`(taker, d, remaining after, `SelfTrade`); go on while the taker has quantity.
//! - otherwise a trade of `q = min(remaining, maker displayed)` at the maker's price:
//!   `Executed` with the next `MatchId` and both sides' leaves after the trade. If the maker's
//!   display is now 0: with no leaves it leaves the book (the `Executed` says so); with reserve
//!   left, its display is refreshed to `min(peak, leaves)` and it moves to the back of its level:
//!   `Restated`(`DisplayRefresh`) + `BookAdd`(same id, new display).
//!
//! After matching, a taker with quantity left: a market, IOC or FOK order emits
//! `Cancelled`(remaining, leaves 0, `ImmediateOrCancel`); a limit DAY/GTC order rests at the back
//! of its level with display `min(peak, remaining)` (an iceberg) or `remaining`, and emits
//! `BookAdd`.
//! A taker stopped by STP does not rest.
//!
//! **Cancel.** `UnknownOrder` unless the order rests and belongs to the command's account (an order
//! of another account is indistinguishable from a missing one). Allowed while halted.
//! `Cancelled`(all leaves, leaves 0, `UserRequested`) + `BookDelete`.
//!
//! **Reduce.** `UnknownOrder` as for cancel; `leaves_qty == 0` is a cancel; then
//! `ReduceNotLower` (`leaves_qty >= leaves`), `QtyNotLotMultiple`. Allowed while halted. The cut
//! comes off the reserve first, then the display; priority is kept:
//! `Cancelled`(cut, new leaves, `Reduced`) + `BookReduce`(display cut) if the display was cut.
//!
//! **Replace.** Checks: `UnknownOrder`, `InstrumentHalted`, `InstrumentClosed`, `ZeroQty`,
//! `QtyNotLotMultiple`,
//! `QtyAboveInstrumentMax`, `PriceOutOfBand`, `PriceNotTickMultiple`, `InvalidDisplayQty` (against
//! the new quantity), `ReplaceNoChange` (same price, leaves and peak). The order keeps its
//! priority and id when the price and peak are unchanged (the new peak follows the iceberg rule
//! against the new quantity) and the quantity goes down: the cut comes off the reserve first;
//! `Replaced`(`priority_kept`, display size) + `BookReduce` if the display was cut.
//! Otherwise, more checks: `PostOnlyWouldTake` (continuous phase only: a post-only order whose
//! new price is acceptable against the opposite best), `LevelCapacity` (the new price has no level and the pool is full);
//! then the old order leaves the book, the replacement gets the next `OrderId`,
//! `Replaced`(old, new) is emitted and the replacement is matched as a limit order of the old
//! order's account, session, side, time in force and effective STP mode, without a fill
//! requirement. If it rests, the book event is `BookReplace`(old, new) instead of `BookAdd`;
//! if it does not rest, `BookDelete`(old) is emitted after its matching events.
//!
//! **Mass cancel.** `UnknownAccount` / `UnknownInstrument` for a named one that does not exist.
//! Order of cancellation: with an account, its orders by ascending `OrderId` (filtered by the
//! instrument if named); with only an instrument, its bids best price first and front to back,
//! then its asks likewise; with neither, every instrument in id order likewise. Each order:
//! `Cancelled`(all leaves, `MassCancel`) + `BookDelete`; then `MassCancelled`(count).
//!
//! **Instrument and admin.** `SetTradingStatus`: `UnknownInstrument`, `InvalidTradingStatus`
//! (`BatchAuction` without a batch interval); else the phase changes by the phase rules below
//! and `TradingStatus` is emitted (also when unchanged). `EndOfDay`: every DAY order, in the
//! instrument-walk order of mass cancel, gets `Cancelled`(`EndOfDay`) + `BookDelete`; then
//! `ControlAck`(`EndOfDay`, value = count). `BlockAccount`: the account's orders by ascending id
//! get `Cancelled`(`KillSwitch`) + `BookDelete` (an unknown account: nothing); risk blocks the
//! account and acknowledges. `SetRiskLimit`, `UnblockAccount`, `SetReferencePrice` and
//! `SessionLost` belong to risk: the engine emits nothing for them (it keeps a positive
//! `SetReferencePrice` of a known instrument as its auction reference). Rejects of admin commands
//! carry account 0, session 0 and client_ref 0 unless the command has them.
//!
//! **Further readings.** Self-trade decisions (matching and the fill requirement) use the
//! *incoming* order's effective mode. Events about an order carry the order's own session, even
//! when a cancel or replace comes from another session of the account. Replacing an iceberg with
//! `display_qty == qty` makes it fully displayed, a peak change, so it loses priority. A replace's
//! `LevelCapacity` check is made before the old order leaves the book. A mass cancel naming an
//! unknown account and an unknown instrument is `UnknownAccount`.
//!
//! # Trading phases and auctions
//!
//! Each instrument has a phase ([`TradingStatus`]) and market rules ([`MarketRules`], given to
//! [`Engine::with_market`]; [`Engine::new`] gives continuous trading all day, under which every
//! rule above holds unchanged).
//!
//! **Time.** [`Engine::apply_at`] takes the command's sequencer `timestamp_ns`. Before applying
//! the command, every timer it reaches fires, instrument by instrument in id order: (1) a
//! schedule boundary: the phase becomes the schedule's phase at that time (a phase whose whole
//! window saw no command is skipped; while halted the boundary is remembered, not applied);
//! (2) the end of a resume or volatility call: the phase becomes the schedule's current phase
//! (the trading phase without a schedule); (3) the end of a batch: the book uncrosses and the
//! next batch ends at the next multiple of the interval after `timestamp_ns`. [`Engine::apply`]
//! fires no timer.
//!
//! **Phases.** Continuous (`Trading`): the matching rules above. Call phases (`PreOpen`,
//! `OpeningAuction`, `ClosingAuction`, `ResumeAuction`, `VolatilityAuction`, `BatchAuction`):
//! accepted orders rest without matching (`Accepted` + `BookAdd`, the book may cross); a
//! replace that loses priority re-enters without matching. `Halted` and `Closed`: new orders
//! and replaces are rejected; cancels, reduces and mass cancels work in every phase.
//!
//! **Phase change** from `old` to `new` (nothing when equal): when `new` is not `Halted` and
//! either `old` is an auction call (every call phase but `PreOpen`) or `new` is `Trading`, the
//! book uncrosses first (with `old` as the uncross's phase); then the phase is set, a resume or
//! volatility call ends its configured duration after now, a batch ends at the next interval
//! multiple, and `TradingStatus`(`new`) is emitted. An admin `Trading` means the trading phase
//! (`BatchAuction` for a batch-auction instrument); from `Halted` with a resume call configured
//! it starts `ResumeAuction` instead.
//!
//! **Uncross.** The price is chosen as [`uncross`] documents: most executable volume, then least
//! `|imbalance|`, then nearest the reference (last trade in the instrument, else the kept
//! `SetReferencePrice`), then the lower price. Allocation: while the best bid is at or above the
//! price and the best ask at or below it, their front orders trade
//! `q = min(bid displayed, ask displayed)` at the price: `AuctionFill`(buy) then
//! `AuctionFill`(sell) under one new `MatchId`, then for the buy side and then the sell side an
//! order with nothing displayed leaves the book (no leaves) or refreshes its iceberg display
//! (`Restated` + `BookAdd`, back of its level). So allocation is by price, then time, with an
//! iceberg's reserve behind the orders that queued after its display, as in continuous
//! matching. Self-trade prevention does not apply in an uncross. Finally `AuctionUncrossed`
//! with the total quantity and a match id of its own; the price becomes the last trade. A book
//! that does not cross emits nothing.
//!
//! **Volatility interruption.** With a band configured and a reference (last trade, else the
//! kept reference price), a continuous taker may trade only at maker prices inside
//! `reference ± reference × band_bps / 10,000` (the reference as of the command). When its next
//! trade would be outside: the taker stops, the phase changes to `VolatilityAuction`
//! (`TradingStatus`), and the taker's remainder rests in the call (limit DAY/GTC) or is
//! cancelled (`ImmediateOrCancel`). The fill requirement (FOK, minimum quantity) counts only
//! levels inside the band, so such orders never start an interruption part-filled.
//!
//! **Indicative.** After a command (and after timers), each auction call whose book changed
//! (or that just started) emits `AuctionIndicative` (the uncross it would give now, with the
//! imbalance side) when `indicative_interval_ns` of sequencer time passed since its last one, or
//! at once when the interval is 0; a change inside the interval is published by the first
//! command after it.
//!
//! **Rejected fields.** `instrument` is the command's (new order, mass cancel, trading status;
//! 0 when it names none) or, for cancel/reduce/replace, the order's when the order was found and
//! belongs to the account, else 0. `order` is the command's order id for cancel/reduce/replace,
//! else `OrderId::NONE`.

pub mod command;
pub mod config;
pub mod event;
pub mod market;
pub mod record;
pub mod types;
pub mod uncross;

pub use command::{
    CancelOrder, Command, CommandKind, MassCancel, NewOrder, ReduceOrder, ReplaceOrder, RiskLimit,
    Sequenced, SetRiskLimit,
};
pub use config::{AccountConfig, ConfigError, EngineConfig, InstrumentConfig};
pub use event::{
    Accepted, AuctionFill, AuctionIndicative, AuctionUncrossed, BookAdd, BookDelete, BookReduce,
    BookReplace, CancelReason, Cancelled, ControlAck, Event, EventKind, EventSink, Executed,
    ImbalanceSide, MassCancelled, RejectReason, Rejected, Replaced, RestateReason, Restated,
};
pub use market::{MarketConfig, MarketRules, MarketSnapshot, MarketStateView, ScheduleEntry};
pub use types::{
    AccountId, InstrumentId, MatchId, OrderId, OrderType, Price, Qty, SessionId, Side, StpMode,
    TimeInForce, TradingStatus,
};
#[doc(no_inline)]
pub use uncross::Discovery;

mod engine;
mod ladder;
mod order_index;

pub use engine::{Engine, EngineSnapshot, LevelView, OrderFilter, OrderView, RestoreError};
