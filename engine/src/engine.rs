//! The order books and the matching loop.
//!
//! Memory: one order arena (`orders`, a slab with a free list threaded through `next`), one
//! level arena (`levels`, free list through `head`), an [`OrderIndex`] from id to slot, and per
//! instrument and side a [`Ladder`] from price step to level. Orders link to each other by `u32`
//! slot indices: a level's queue (`prev`/`next`, time priority) and an account's list
//! (`account_prev`/`account_next`, ascending order id).
//!
//! # Invariants (checked whole by [`Engine::verify`])
//! - A resting order is in exactly one level queue, in the index, and in its account's list.
//! - `0 < displayed <= leaves`; a fully displayed order (`peak == 0`) has `displayed == leaves`;
//!   an iceberg has `displayed <= peak`.
//! - A level is non-empty; its `displayed_qty`, `leaves_qty` and `order_count` are the sums over
//!   its queue; its ladder slot points back at it; `best` is the best occupied ladder slot.
//! - An account's list is in ascending order id (orders rest in the command that gives them
//!   their id, and ids only grow).
//! - `resting == index.len()`, `level_used` counts occupied ladder slots.

use crate::command::{
    CancelOrder, Command, CommandKind, MassCancel, NewOrder, ReduceOrder, ReplaceOrder,
};
use crate::config::{ConfigError, EngineConfig, InstrumentConfig};
use crate::event::{
    Accepted, BookAdd, BookDelete, BookReduce, BookReplace, CancelReason, Cancelled, ControlAck,
    Event, EventSink, Executed, MassCancelled, RejectReason, Rejected, Replaced, RestateReason,
    Restated,
};
use crate::ladder::{Ladder, NIL};
use crate::market::{MarketConfig, MarketRules, MarketSnapshot, NEVER_NS};
use crate::order_index::OrderIndex;
use crate::types::{
    AccountId, InstrumentId, MatchId, OrderId, OrderType, Price, Qty, SessionId, Side, StpMode,
    TimeInForce, TradingStatus,
};

/// One arena slot: exactly one cache line (aligned, so an order never straddles two lines).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Order {
    id: OrderId,
    price: Price,
    /// Open quantity, reserve included.
    leaves: u32,
    /// On the visible book: `0 < displayed <= leaves` while resting.
    displayed: u32,
    /// Iceberg display size, 0 for a fully displayed order.
    peak: u32,
    account: u32,
    session: u32,
    instrument: u32,
    /// Level queue links; `next` also threads the free list of empty slots.
    prev: u32,
    next: u32,
    level: u32,
    account_prev: u32,
    account_next: u32,
    side: Side,
    time_in_force: TimeInForce,
    stp: StpMode,
    post_only: bool,
}

mod auction;

use auction::MarketState;

const _: () = assert!(core::mem::size_of::<Order>() == 64);
const _: () = assert!(core::mem::align_of::<Order>() == 64);

const EMPTY_ORDER: Order = Order {
    id: OrderId::NONE,
    price: Price(0),
    leaves: 0,
    displayed: 0,
    peak: 0,
    account: 0,
    session: 0,
    instrument: 0,
    prev: NIL,
    next: NIL,
    level: NIL,
    account_prev: NIL,
    account_next: NIL,
    side: Side::Buy,
    time_in_force: TimeInForce::Day,
    stp: StpMode::Off,
    post_only: false,
};

/// One price level's queue and totals, on one cache line. `head` threads the free list of empty
/// levels.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Level {
    price: Price,
    displayed_qty: u64,
    leaves_qty: u64,
    head: u32,
    tail: u32,
    order_count: u32,
    ladder_index: u32,
    instrument: u32,
    side: Side,
}

const _: () = assert!(core::mem::size_of::<Level>() == 64);

const EMPTY_LEVEL: Level = Level {
    price: Price(0),
    displayed_qty: 0,
    leaves_qty: 0,
    head: NIL,
    tail: NIL,
    order_count: 0,
    ladder_index: NIL,
    instrument: 0,
    side: Side::Buy,
};

struct SideBook {
    ladder: Ladder,
    /// Ladder index of the best occupied level (highest bid, lowest ask), or `NIL`.
    best: u32,
}

struct Book {
    rules: InstrumentConfig,
    /// The trading phase.
    status: TradingStatus,
    sides: [SideBook; 2],
    market: MarketState,
}

#[derive(Clone, Copy)]
struct AccountState {
    head: u32,
    tail: u32,
    stp: StpMode,
}

/// A resting order as plain data (queries, snapshots, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderView {
    pub id: OrderId,
    pub account: AccountId,
    pub session: SessionId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub time_in_force: TimeInForce,
    pub price: Price,
    /// Open quantity, reserve included.
    pub leaves: Qty,
    /// Quantity on the visible book.
    pub displayed: Qty,
    /// Iceberg display size; `Qty(0)` for a fully displayed order.
    pub peak: Qty,
    /// Effective self-trade prevention mode (never `AccountDefault`).
    pub stp: StpMode,
    pub post_only: bool,
}

/// A price level as plain data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelView {
    pub price: Price,
    pub displayed_qty: u64,
    pub leaves_qty: u64,
    pub order_count: u32,
}

/// Which resting orders a bulk cancel takes; `None` matches everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub account: Option<AccountId>,
    pub instrument: Option<InstrumentId>,
    pub session: Option<SessionId>,
}

/// The engine's whole state as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineSnapshot {
    pub next_order_id: OrderId,
    pub next_match_id: MatchId,
    /// One per instrument, indexed by instrument id.
    pub trading_status: Vec<TradingStatus>,
    /// Every resting order: instruments ascending, bids then asks, each side in book priority.
    pub orders: Vec<OrderView>,
}

/// Why a snapshot cannot be restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    Config(ConfigError),
    /// The order at this index of `snapshot.orders` breaks a rule (unknown instrument or
    /// account, price off the band, bad quantities, duplicate or future id, out of order).
    BadOrder(usize),
    /// More orders or levels than the configuration's capacity.
    Capacity,
    /// `trading_status` does not have one entry per instrument.
    StatusCount,
    /// The market snapshot does not have one entry per instrument, or a phase that its
    /// instrument's rules cannot reach (batch auctions without an interval).
    Market,
}

impl core::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RestoreError::Config(error) => write!(f, "configuration: {error}"),
            RestoreError::BadOrder(index) => write!(f, "snapshot order {index} is invalid"),
            RestoreError::Capacity => write!(f, "snapshot exceeds the configured capacity"),
            RestoreError::StatusCount => write!(f, "snapshot has a wrong instrument count"),
            RestoreError::Market => write!(f, "market snapshot does not fit the market rules"),
        }
    }
}

impl std::error::Error for RestoreError {}

/// The incoming side of a match.
struct Taker {
    id: OrderId,
    account: u32,
    session: u32,
    instrument: u32,
    side: Side,
    /// `None` for a market order.
    limit: Option<Price>,
    remaining: u32,
    peak: u32,
    stp: StpMode,
    time_in_force: TimeInForce,
    post_only: bool,
    /// Volatility band `[low, high]` this taker may trade in; `None` for no band.
    band: Option<(Price, Price)>,
}

impl Taker {
    fn within_band(&self, price: Price) -> bool {
        self.band
            .is_none_or(|(low, high)| price >= low && price <= high)
    }

    fn accepts(&self, price: Price) -> bool {
        match (self.limit, self.side) {
            (None, _) => true,
            (Some(limit), Side::Buy) => price <= limit,
            (Some(limit), Side::Sell) => price >= limit,
        }
    }

    fn may_rest(&self) -> bool {
        self.limit.is_some() && !self.time_in_force.is_immediate()
    }
}

/// How a taker's matching ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MatchEnd {
    /// The taker has quantity left and nothing acceptable remains opposite.
    Open,
    /// The taker has no quantity left (filled, or decremented away).
    Done,
    /// Self-trade prevention cancelled the rest of the taker.
    StoppedBySelfTrade,
    /// The next trade would print outside the volatility band: the taker has quantity left
    /// and the instrument enters a volatility call.
    Interrupted,
}

/// The matching engine. See the crate docs for the rules and the module docs for the layout.
pub struct Engine {
    config: EngineConfig,
    orders: Box<[Order]>,
    order_free: u32,
    resting: u32,
    levels: Box<[Level]>,
    level_free: u32,
    level_used: u32,
    index: OrderIndex,
    books: Box<[Book]>,
    accounts: Box<[AccountState]>,
    next_order_id: u64,
    next_match_id: u64,
    /// Market rules per instrument (index = instrument id).
    market_rules: Box<[MarketRules]>,
    /// Latest sequencer time seen by `apply_at`.
    now_ns: u64,
    /// Earliest timer of any instrument (see `auction`).
    next_deadline_ns: u64,
    /// Some auction call's book changed since its last indicative event.
    any_indicative_pending: bool,
}

impl Engine {
    /// Builds an engine with continuous trading all day ([`MarketConfig::continuous`]),
    /// taking all its memory now.
    pub fn new(config: EngineConfig) -> Result<Engine, ConfigError> {
        let market = MarketConfig::continuous(config.instruments.len());
        Engine::with_market(config, market)
    }

    /// Builds an engine with market rules (phases, auctions), taking all its memory now.
    pub fn with_market(config: EngineConfig, market: MarketConfig) -> Result<Engine, ConfigError> {
        config.validate()?;
        market.validate(config.instruments.len())?;
        let order_count = config.order_capacity as usize;
        let level_count = config.level_capacity as usize;
        let mut orders = vec![EMPTY_ORDER; order_count].into_boxed_slice();
        for (slot, order) in orders.iter_mut().enumerate() {
            order.next = if slot + 1 < order_count {
                slot as u32 + 1
            } else {
                NIL
            };
        }
        let mut levels = vec![EMPTY_LEVEL; level_count].into_boxed_slice();
        for (slot, level) in levels.iter_mut().enumerate() {
            level.head = if slot + 1 < level_count {
                slot as u32 + 1
            } else {
                NIL
            };
        }
        let books = config
            .instruments
            .iter()
            .zip(&market.instruments)
            .map(|(rules, market_rules)| Book {
                rules: *rules,
                status: market_rules.initial_phase(),
                market: MarketState::new(market_rules),
                sides: [
                    SideBook {
                        ladder: Ladder::new(rules.ladder_len()),
                        best: NIL,
                    },
                    SideBook {
                        ladder: Ladder::new(rules.ladder_len()),
                        best: NIL,
                    },
                ],
            })
            .collect();
        let accounts = config
            .accounts
            .iter()
            .map(|account| AccountState {
                head: NIL,
                tail: NIL,
                stp: account.stp,
            })
            .collect();
        Ok(Engine {
            index: OrderIndex::new(order_count),
            config,
            orders,
            order_free: 0,
            resting: 0,
            levels,
            level_free: 0,
            level_used: 0,
            books,
            accounts,
            next_order_id: 1,
            next_match_id: 1,
            next_deadline_ns: 0,
            market_rules: market.instruments.into_boxed_slice(),
            now_ns: 0,
            any_indicative_pending: false,
        })
    }

    /// The market rules of every instrument.
    pub fn market_rules(&self) -> &[MarketRules] {
        &self.market_rules
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Applies one command at the latest sequencer time seen (no timer fires; see
    /// [`Engine::apply_at`]); its events go to `sink` in the order the crate docs give.
    pub fn apply(&mut self, command: &Command, sink: &mut impl EventSink) {
        self.dispatch(command, sink);
        self.publish_indicatives(sink);
    }

    fn dispatch(&mut self, command: &Command, sink: &mut impl EventSink) {
        match command {
            Command::NewOrder(order) => self.new_order(order, sink),
            Command::Cancel(cancel) => self.cancel(cancel, sink),
            Command::Reduce(reduce) => self.reduce(reduce, sink),
            Command::Replace(replace) => self.replace(replace, sink),
            Command::MassCancel(mass) => self.mass_cancel(mass, sink),
            Command::SetTradingStatus { instrument, status } => {
                self.set_trading_status(*instrument, *status, sink)
            }
            Command::EndOfDay => self.end_of_day(sink),
            Command::BlockAccount { account } => {
                if (account.0 as usize) < self.accounts.len() {
                    let filter = OrderFilter {
                        account: Some(*account),
                        ..OrderFilter::default()
                    };
                    self.cancel_orders(filter, CancelReason::KillSwitch, sink);
                }
            }
            Command::SetReferencePrice { instrument, price } => {
                let book = self.books.get_mut(instrument.0 as usize);
                if let Some(book) = book.filter(|_| price.0 > 0) {
                    book.market.reference_price = *price;
                }
            }
            Command::SetRiskLimit(_)
            | Command::UnblockAccount { .. }
            | Command::SessionLost { .. } => {}
        }
    }

    // ----- new orders -------------------------------------------------------------------------

    fn new_order(&mut self, order: &NewOrder, sink: &mut impl EventSink) {
        let stp = match self.check_new_order(order) {
            Ok(stp) => stp,
            Err(reason) => {
                sink.push(reject_new_order(order, reason));
                return;
            }
        };
        let id = self.take_order_id();
        let is_market = order.order_type == OrderType::Market;
        let peak = iceberg_peak(order.qty.0, order.display_qty.0);
        let price = if is_market { Price(0) } else { order.price };
        sink.push(Event::Accepted(Accepted {
            order: id,
            account: order.account,
            session: order.session,
            client_ref: order.client_ref,
            instrument: order.instrument,
            side: order.side,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            price,
            qty: order.qty,
            display_qty: Qty(display_size(peak, order.qty.0)),
        }));
        let mut taker = Taker {
            id,
            account: order.account.0,
            session: order.session.0,
            instrument: order.instrument.0,
            side: order.side,
            limit: if is_market { None } else { Some(order.price) },
            remaining: order.qty.0,
            peak,
            stp,
            time_in_force: order.time_in_force,
            post_only: order.post_only,
            band: self.volatility_band(order.instrument.0),
        };
        if self.books[order.instrument.0 as usize].status.is_call() {
            self.finish_taker(&mut taker, MatchEnd::Open, OrderId::NONE, sink);
            return;
        }
        let required = if order.time_in_force == TimeInForce::Fok {
            order.qty.0
        } else {
            order.min_qty.0
        };
        if required > 0 && self.available_qty(&taker, required) < u64::from(required) {
            self.cancel_taker(&mut taker, price, CancelReason::MinQtyNotMet, sink);
            return;
        }
        let end = self.match_taker(&mut taker, sink);
        if order.time_in_force == TimeInForce::Fok {
            assert!(
                end == MatchEnd::Done,
                "a fill-or-kill order passed its check but did not fill"
            );
        }
        if end == MatchEnd::Interrupted {
            self.interrupt(taker.instrument, sink);
        }
        self.finish_taker(&mut taker, end, OrderId::NONE, sink);
    }

    /// Judges a new order; returns its effective STP mode.
    fn check_new_order(&self, order: &NewOrder) -> Result<StpMode, RejectReason> {
        let book = self.books.get(order.instrument.0 as usize);
        let book = book.ok_or(RejectReason::UnknownInstrument)?;
        let account = self.accounts.get(order.account.0 as usize);
        let account = account.ok_or(RejectReason::UnknownAccount)?;
        check_phase(book.status)?;
        check_qty(&book.rules, order.qty)?;
        let is_market = order.order_type == OrderType::Market;
        if is_market {
            if order.post_only || order.display_qty.0 != 0 {
                return Err(RejectReason::InvalidMarketOrder);
            }
        } else {
            check_price(&book.rules, order.price)?;
        }
        check_display(&book.rules, order.qty, order.display_qty)?;
        let lot = book.rules.lot_size.0;
        if order.min_qty > order.qty || !order.min_qty.0.is_multiple_of(lot) {
            return Err(RejectReason::InvalidMinQty);
        }
        let plain_limit = !is_market
            && !order.time_in_force.is_immediate()
            && order.min_qty.0 == 0
            && !order.post_only;
        if book.status.is_call() && !plain_limit {
            return Err(RejectReason::NotAllowedInPhase);
        }
        let limit = if is_market { None } else { Some(order.price) };
        if order.post_only && self.would_take(order.instrument.0, order.side, limit) {
            return Err(RejectReason::PostOnlyWouldTake);
        }
        if !is_market && !order.time_in_force.is_immediate() {
            self.check_rest_capacity(order.instrument.0, order.side, order.price)?;
        }
        Ok(match order.stp {
            StpMode::AccountDefault => account.stp,
            mode => mode,
        })
    }

    fn check_rest_capacity(
        &self,
        instrument: u32,
        side: Side,
        price: Price,
    ) -> Result<(), RejectReason> {
        if self.resting == self.config.order_capacity {
            return Err(RejectReason::OrderCapacity);
        }
        if self.level_used == self.config.level_capacity
            && !self.level_exists(instrument, side, price)
        {
            return Err(RejectReason::LevelCapacity);
        }
        Ok(())
    }

    /// True when the best opposite price is acceptable to an order of `side` at `limit`.
    fn would_take(&self, instrument: u32, side: Side, limit: Option<Price>) -> bool {
        let Some(level) = self.best_level(instrument, side.opposite()) else {
            return false;
        };
        let best = self.levels[level as usize].price;
        match (limit, side) {
            (None, _) => true,
            (Some(limit), Side::Buy) => best <= limit,
            (Some(limit), Side::Sell) => best >= limit,
        }
    }

    /// Quantity the taker could execute on arrival, counted by the fill-requirement rule of the
    /// crate docs; counting stops early once a whole level has brought it to `required`.
    fn available_qty(&self, taker: &Taker, required: u32) -> u64 {
        let mut total: u64 = 0;
        let mut level = self.best_level(taker.instrument, taker.side.opposite());
        while let Some(level_index) = level {
            let level_ref = &self.levels[level_index as usize];
            if !taker.accepts(level_ref.price) || !taker.within_band(level_ref.price) {
                break;
            }
            let mut full: u64 = 0;
            let mut displayed: u64 = 0;
            let mut slot = level_ref.head;
            while slot != NIL {
                let order = &self.orders[slot as usize];
                if order.account == taker.account && taker.stp != StpMode::Off {
                    if taker.stp != StpMode::CancelResting {
                        return total + displayed;
                    }
                } else {
                    full += u64::from(order.leaves);
                    displayed += u64::from(order.displayed);
                }
                slot = order.next;
            }
            total += full;
            if total >= u64::from(required) {
                return total;
            }
            level = self.next_level(level_index);
        }
        total
    }

    /// Matches the taker against the opposite side. Every iteration executes, cancels,
    /// decrements or refreshes a maker, so the loop ends within the makers' total leaves.
    fn match_taker(&mut self, taker: &mut Taker, sink: &mut impl EventSink) -> MatchEnd {
        let opposite = taker.side.opposite();
        while taker.remaining > 0 {
            let Some(level) = self.best_level(taker.instrument, opposite) else {
                return MatchEnd::Open;
            };
            let level = &self.levels[level as usize];
            if !taker.accepts(level.price) {
                return MatchEnd::Open;
            }
            if !taker.within_band(level.price) {
                return MatchEnd::Interrupted;
            }
            let maker_slot = level.head;
            let maker = self.orders[maker_slot as usize];
            let self_trade = maker.account == taker.account && taker.stp != StpMode::Off;
            if !self_trade {
                self.execute(taker, maker_slot, sink);
                continue;
            }
            match taker.stp {
                StpMode::CancelResting => {
                    self.cancel_resting(maker_slot, CancelReason::SelfTrade, sink);
                }
                StpMode::CancelIncoming => {
                    let price = taker.limit.unwrap_or(Price(0));
                    self.cancel_taker(taker, price, CancelReason::SelfTrade, sink);
                    return MatchEnd::StoppedBySelfTrade;
                }
                StpMode::CancelBoth => {
                    self.cancel_resting(maker_slot, CancelReason::SelfTrade, sink);
                    let price = taker.limit.unwrap_or(Price(0));
                    self.cancel_taker(taker, price, CancelReason::SelfTrade, sink);
                    return MatchEnd::StoppedBySelfTrade;
                }
                StpMode::Decrement => self.decrement(taker, maker_slot, sink),
                StpMode::Off | StpMode::AccountDefault => {
                    panic!("self-trade with unresolved STP mode {}", taker.stp)
                }
            }
        }
        MatchEnd::Done
    }

    /// One trade of the taker against the maker at the front of the best level.
    fn execute(&mut self, taker: &mut Taker, maker_slot: u32, sink: &mut impl EventSink) {
        let maker = &mut self.orders[maker_slot as usize];
        let qty = taker.remaining.min(maker.displayed);
        assert!(qty > 0, "a resting order with nothing displayed");
        maker.displayed -= qty;
        maker.leaves -= qty;
        taker.remaining -= qty;
        let maker = *maker;
        let level = &mut self.levels[maker.level as usize];
        level.displayed_qty -= u64::from(qty);
        level.leaves_qty -= u64::from(qty);
        let match_id = MatchId(self.next_match_id);
        self.next_match_id += 1;
        self.books[maker.instrument as usize]
            .market
            .last_trade_price = maker.price;
        sink.push(Event::Executed(Executed {
            match_id,
            instrument: InstrumentId(maker.instrument),
            price: maker.price,
            qty: Qty(qty),
            taker_side: taker.side,
            maker_order: maker.id,
            maker_account: AccountId(maker.account),
            maker_session: SessionId(maker.session),
            maker_leaves: Qty(maker.leaves),
            taker_order: taker.id,
            taker_account: AccountId(taker.account),
            taker_session: SessionId(taker.session),
            taker_leaves: Qty(taker.remaining),
        }));
        if maker.displayed > 0 {
            return;
        }
        if maker.leaves == 0 {
            self.remove_order(maker_slot);
        } else {
            self.refresh_display(maker_slot, sink);
        }
    }

    /// An iceberg whose display ran out shows its next slice at the back of its level.
    fn refresh_display(&mut self, slot: u32, sink: &mut impl EventSink) {
        let order = &mut self.orders[slot as usize];
        assert!(order.displayed == 0 && order.leaves > 0 && order.peak > 0);
        order.displayed = order.peak.min(order.leaves);
        let order = *order;
        self.levels[order.level as usize].displayed_qty += u64::from(order.displayed);
        self.unlink_from_level(slot);
        self.link_to_level_back(slot, order.level);
        sink.push(Event::Restated(Restated {
            order: order.id,
            account: AccountId(order.account),
            session: SessionId(order.session),
            instrument: InstrumentId(order.instrument),
            display_qty: Qty(order.displayed),
            leaves: Qty(order.leaves),
            reason: RestateReason::DisplayRefresh,
        }));
        sink.push(book_add(&order));
    }

    /// STP decrement: both sides lose `min(remaining, maker leaves)` without a trade.
    fn decrement(&mut self, taker: &mut Taker, maker_slot: u32, sink: &mut impl EventSink) {
        let maker = self.orders[maker_slot as usize];
        let cut = taker.remaining.min(maker.leaves);
        self.cut_resting(maker_slot, cut, CancelReason::SelfTrade, sink);
        taker.remaining -= cut;
        sink.push(Event::Cancelled(Cancelled {
            order: taker.id,
            account: AccountId(taker.account),
            session: SessionId(taker.session),
            instrument: InstrumentId(taker.instrument),
            side: taker.side,
            price: taker.limit.unwrap_or(Price(0)),
            cancelled_qty: Qty(cut),
            leaves: Qty(taker.remaining),
            reason: CancelReason::SelfTrade,
        }));
    }

    /// Takes `cut` shares off a resting order, reserve first, keeping its priority; an order
    /// cut to nothing leaves the book. Emits `Cancelled` and the book event.
    fn cut_resting(
        &mut self,
        slot: u32,
        cut: u32,
        reason: CancelReason,
        sink: &mut impl EventSink,
    ) {
        let order = &mut self.orders[slot as usize];
        assert!(cut > 0 && cut <= order.leaves);
        let reserve = order.leaves - order.displayed;
        let display_cut = cut - cut.min(reserve);
        order.leaves -= cut;
        order.displayed -= display_cut;
        assert!(
            order.leaves == 0 || order.displayed > 0,
            "a cut emptied the display only"
        );
        let order = *order;
        let level = &mut self.levels[order.level as usize];
        level.leaves_qty -= u64::from(cut);
        level.displayed_qty -= u64::from(display_cut);
        self.mark_changed(order.instrument);
        sink.push(cancelled(&order, cut, reason));
        let instrument = InstrumentId(order.instrument);
        if order.leaves == 0 {
            sink.push(Event::BookDelete(BookDelete {
                order: order.id,
                instrument,
            }));
            self.remove_order(slot);
        } else if display_cut > 0 {
            let qty = Qty(display_cut);
            sink.push(Event::BookReduce(BookReduce {
                order: order.id,
                instrument,
                qty,
            }));
        }
    }

    /// Cancels a resting order whole: `Cancelled` + `BookDelete`.
    fn cancel_resting(&mut self, slot: u32, reason: CancelReason, sink: &mut impl EventSink) {
        let leaves = self.orders[slot as usize].leaves;
        self.cut_resting(slot, leaves, reason, sink);
    }

    /// Cancels what is left of the taker (it never rested).
    fn cancel_taker(
        &mut self,
        taker: &mut Taker,
        price: Price,
        reason: CancelReason,
        sink: &mut impl EventSink,
    ) {
        sink.push(Event::Cancelled(Cancelled {
            order: taker.id,
            account: AccountId(taker.account),
            session: SessionId(taker.session),
            instrument: InstrumentId(taker.instrument),
            side: taker.side,
            price,
            cancelled_qty: Qty(taker.remaining),
            leaves: Qty(0),
            reason,
        }));
        taker.remaining = 0;
    }

    /// After matching: cancel an immediate remainder or rest the order. `replaced` is the order a
    /// replacement took over from (`NONE` for a new order), for the right book event.
    fn finish_taker(
        &mut self,
        taker: &mut Taker,
        end: MatchEnd,
        replaced: OrderId,
        sink: &mut impl EventSink,
    ) {
        let instrument = InstrumentId(taker.instrument);
        let open = end == MatchEnd::Open || end == MatchEnd::Interrupted;
        if taker.remaining > 0 && open && !taker.may_rest() {
            let price = taker.limit.unwrap_or(Price(0));
            self.cancel_taker(taker, price, CancelReason::ImmediateOrCancel, sink);
        }
        if taker.remaining == 0 {
            if replaced != OrderId::NONE {
                sink.push(Event::BookDelete(BookDelete {
                    order: replaced,
                    instrument,
                }));
            }
            return;
        }
        let slot = self.rest_taker(taker);
        let order = self.orders[slot as usize];
        if replaced == OrderId::NONE {
            sink.push(book_add(&order));
        } else {
            sink.push(Event::BookReplace(BookReplace {
                old_order: replaced,
                new_order: order.id,
                instrument,
                price: order.price,
                display_qty: Qty(order.displayed),
            }));
        }
    }

    /// Puts the taker's remainder on the book. Capacity was checked before matching.
    fn rest_taker(&mut self, taker: &Taker) -> u32 {
        let price = taker.limit.expect("only limit orders rest");
        let displayed = if taker.peak == 0 {
            taker.remaining
        } else {
            taker.peak.min(taker.remaining)
        };
        let order = Order {
            id: taker.id,
            price,
            leaves: taker.remaining,
            displayed,
            peak: taker.peak,
            account: taker.account,
            session: taker.session,
            instrument: taker.instrument,
            side: taker.side,
            time_in_force: taker.time_in_force,
            stp: taker.stp,
            post_only: taker.post_only,
            ..EMPTY_ORDER
        };
        self.insert_order(order)
    }

    // ----- cancel, reduce, replace ------------------------------------------------------------

    /// The slot of a resting order owned by `account`.
    fn owned_slot(&self, order: OrderId, account: AccountId) -> Option<u32> {
        let slot = self.index.get(order)?;
        (self.orders[slot as usize].account == account.0).then_some(slot)
    }

    fn cancel(&mut self, cancel: &CancelOrder, sink: &mut impl EventSink) {
        let Some(slot) = self.owned_slot(cancel.order, cancel.account) else {
            sink.push(reject_order_command(
                CommandKind::Cancel,
                cancel.account,
                cancel.session,
                cancel.client_ref,
                cancel.order,
                InstrumentId(0),
                RejectReason::UnknownOrder,
            ));
            return;
        };
        self.cancel_resting(slot, CancelReason::UserRequested, sink);
    }

    fn reduce(&mut self, reduce: &ReduceOrder, sink: &mut impl EventSink) {
        let reject = |instrument, reason| {
            reject_order_command(
                CommandKind::Reduce,
                reduce.account,
                reduce.session,
                reduce.client_ref,
                reduce.order,
                instrument,
                reason,
            )
        };
        let Some(slot) = self.owned_slot(reduce.order, reduce.account) else {
            sink.push(reject(InstrumentId(0), RejectReason::UnknownOrder));
            return;
        };
        let order = self.orders[slot as usize];
        let lot = self.books[order.instrument as usize].rules.lot_size.0;
        let new_leaves = reduce.leaves_qty.0;
        if new_leaves == 0 {
            self.cancel_resting(slot, CancelReason::UserRequested, sink);
        } else if new_leaves >= order.leaves {
            sink.push(reject(
                InstrumentId(order.instrument),
                RejectReason::ReduceNotLower,
            ));
        } else if !new_leaves.is_multiple_of(lot) {
            sink.push(reject(
                InstrumentId(order.instrument),
                RejectReason::QtyNotLotMultiple,
            ));
        } else {
            self.cut_resting(slot, order.leaves - new_leaves, CancelReason::Reduced, sink);
        }
    }

    fn replace(&mut self, replace: &ReplaceOrder, sink: &mut impl EventSink) {
        let checked = self.check_replace(replace);
        let (slot, keeps_priority) = match checked {
            Ok(ok) => ok,
            Err((instrument, reason)) => {
                sink.push(reject_order_command(
                    CommandKind::Replace,
                    replace.account,
                    replace.session,
                    replace.client_ref,
                    replace.order,
                    instrument,
                    reason,
                ));
                return;
            }
        };
        if keeps_priority {
            self.replace_in_place(slot, replace, sink);
        } else {
            self.replace_to_back(slot, replace, sink);
        }
    }

    /// Judges a replace; returns the order's slot and whether it keeps its priority.
    fn check_replace(
        &self,
        replace: &ReplaceOrder,
    ) -> Result<(u32, bool), (InstrumentId, RejectReason)> {
        let slot = self.owned_slot(replace.order, replace.account);
        let slot = slot.ok_or((InstrumentId(0), RejectReason::UnknownOrder))?;
        let order = self.orders[slot as usize];
        let instrument = InstrumentId(order.instrument);
        let book = &self.books[order.instrument as usize];
        let fail = |reason| (instrument, reason);
        check_phase(book.status).map_err(fail)?;
        check_qty(&book.rules, replace.qty).map_err(fail)?;
        check_price(&book.rules, replace.price).map_err(fail)?;
        check_display(&book.rules, replace.qty, replace.display_qty).map_err(fail)?;
        let peak = iceberg_peak(replace.qty.0, replace.display_qty.0);
        let same_price = replace.price == order.price;
        if same_price && peak == order.peak && replace.qty.0 == order.leaves {
            return Err(fail(RejectReason::ReplaceNoChange));
        }
        if same_price && peak == order.peak && replace.qty.0 < order.leaves {
            return Ok((slot, true));
        }
        let in_call = book.status.is_call();
        if !in_call
            && order.post_only
            && self.would_take(order.instrument, order.side, Some(replace.price))
        {
            return Err(fail(RejectReason::PostOnlyWouldTake));
        }
        let level_missing = !self.level_exists(order.instrument, order.side, replace.price);
        if level_missing && self.level_used == self.config.level_capacity {
            return Err(fail(RejectReason::LevelCapacity));
        }
        Ok((slot, false))
    }

    fn replace_in_place(&mut self, slot: u32, replace: &ReplaceOrder, sink: &mut impl EventSink) {
        let order = self.orders[slot as usize];
        let cut = order.leaves - replace.qty.0;
        let display_before = order.displayed;
        let reserve = order.leaves - order.displayed;
        let display_cut = cut - cut.min(reserve);
        let order = &mut self.orders[slot as usize];
        order.leaves -= cut;
        order.displayed -= display_cut;
        assert!(order.displayed > 0 && order.displayed <= display_before);
        let order = *order;
        let level = &mut self.levels[order.level as usize];
        level.leaves_qty -= u64::from(cut);
        level.displayed_qty -= u64::from(display_cut);
        self.mark_changed(order.instrument);
        sink.push(Event::Replaced(Replaced {
            old_order: order.id,
            new_order: order.id,
            account: AccountId(order.account),
            session: SessionId(order.session),
            client_ref: replace.client_ref,
            instrument: InstrumentId(order.instrument),
            side: order.side,
            price: order.price,
            qty: Qty(order.leaves),
            display_qty: Qty(display_size(order.peak, order.leaves)),
            priority_kept: true,
        }));
        if display_cut > 0 {
            sink.push(Event::BookReduce(BookReduce {
                order: order.id,
                instrument: InstrumentId(order.instrument),
                qty: Qty(display_cut),
            }));
        }
    }

    fn replace_to_back(&mut self, slot: u32, replace: &ReplaceOrder, sink: &mut impl EventSink) {
        let old = self.orders[slot as usize];
        self.remove_order(slot);
        let id = self.take_order_id();
        let peak = iceberg_peak(replace.qty.0, replace.display_qty.0);
        sink.push(Event::Replaced(Replaced {
            old_order: old.id,
            new_order: id,
            account: AccountId(old.account),
            session: SessionId(old.session),
            client_ref: replace.client_ref,
            instrument: InstrumentId(old.instrument),
            side: old.side,
            price: replace.price,
            qty: replace.qty,
            display_qty: Qty(display_size(peak, replace.qty.0)),
            priority_kept: false,
        }));
        let mut taker = Taker {
            id,
            account: old.account,
            session: old.session,
            instrument: old.instrument,
            side: old.side,
            limit: Some(replace.price),
            remaining: replace.qty.0,
            peak,
            stp: old.stp,
            time_in_force: old.time_in_force,
            post_only: old.post_only,
            band: self.volatility_band(old.instrument),
        };
        let end = if self.books[old.instrument as usize].status.is_call() {
            MatchEnd::Open
        } else {
            self.match_taker(&mut taker, sink)
        };
        if end == MatchEnd::Interrupted {
            self.interrupt(taker.instrument, sink);
        }
        self.finish_taker(&mut taker, end, old.id, sink);
    }

    // ----- bulk cancels and admin ---------------------------------------------------------------

    fn mass_cancel(&mut self, mass: &MassCancel, sink: &mut impl EventSink) {
        let bad_account = mass
            .account
            .is_some_and(|a| a.0 as usize >= self.accounts.len());
        let bad_instrument = mass
            .instrument
            .is_some_and(|i| i.0 as usize >= self.books.len());
        let reason = if bad_account {
            Some(RejectReason::UnknownAccount)
        } else if bad_instrument {
            Some(RejectReason::UnknownInstrument)
        } else {
            None
        };
        if let Some(reason) = reason {
            sink.push(Event::Rejected(Rejected {
                account: mass.account.unwrap_or_default(),
                session: mass.session,
                client_ref: mass.client_ref,
                instrument: mass.instrument.unwrap_or_default(),
                order: OrderId::NONE,
                command: CommandKind::MassCancel,
                reason,
            }));
            return;
        }
        let filter = OrderFilter {
            account: mass.account,
            instrument: mass.instrument,
            session: None,
        };
        let cancelled_count = self.cancel_orders(filter, CancelReason::MassCancel, sink);
        sink.push(Event::MassCancelled(MassCancelled {
            account: mass.account,
            instrument: mass.instrument,
            session: mass.session,
            client_ref: mass.client_ref,
            cancelled_count,
        }));
    }

    /// Cancels every resting order that `filter` matches (see the crate docs for the order);
    /// each gets `Cancelled`(all leaves, `reason`) + `BookDelete`. Returns how many.
    pub fn cancel_orders(
        &mut self,
        filter: OrderFilter,
        reason: CancelReason,
        sink: &mut impl EventSink,
    ) -> u32 {
        let matches = |order: &Order| {
            filter.instrument.is_none_or(|i| i.0 == order.instrument)
                && filter.session.is_none_or(|s| s.0 == order.session)
                && filter.account.is_none_or(|a| a.0 == order.account)
        };
        let mut count = 0;
        if let Some(account) = filter.account {
            let Some(state) = self.accounts.get(account.0 as usize) else {
                return 0;
            };
            let mut slot = state.head;
            while slot != NIL {
                let order = self.orders[slot as usize];
                if matches(&order) {
                    self.cancel_resting(slot, reason, sink);
                    count += 1;
                }
                slot = order.account_next;
            }
            return count;
        }
        let instruments = match filter.instrument {
            Some(instrument) => instrument.0..instrument.0 + 1,
            None => 0..self.books.len() as u32,
        };
        for instrument in instruments {
            if instrument as usize >= self.books.len() {
                return count;
            }
            count += self.cancel_in_book(instrument, &matches, reason, sink);
        }
        count
    }

    /// Cancels the matching orders of one book: bids best first, front to back, then asks.
    fn cancel_in_book(
        &mut self,
        instrument: u32,
        matches: &impl Fn(&Order) -> bool,
        reason: CancelReason,
        sink: &mut impl EventSink,
    ) -> u32 {
        let mut count = 0;
        for side in [Side::Buy, Side::Sell] {
            let mut level = self.best_level(instrument, side);
            while let Some(level_index) = level {
                // The level may be freed below; find its successor first.
                level = self.next_level(level_index);
                let mut slot = self.levels[level_index as usize].head;
                while slot != NIL {
                    let order = self.orders[slot as usize];
                    if matches(&order) {
                        self.cancel_resting(slot, reason, sink);
                        count += 1;
                    }
                    slot = order.next;
                }
            }
        }
        count
    }

    fn set_trading_status(
        &mut self,
        instrument: InstrumentId,
        status: TradingStatus,
        sink: &mut impl EventSink,
    ) {
        if instrument.0 as usize >= self.books.len() {
            sink.push(Event::Rejected(Rejected {
                account: AccountId(0),
                session: SessionId(0),
                client_ref: 0,
                instrument,
                order: OrderId::NONE,
                command: CommandKind::SetTradingStatus,
                reason: RejectReason::UnknownInstrument,
            }));
            return;
        }
        if let Err(reason) = self.admin_phase(instrument.0, status, sink) {
            sink.push(Event::Rejected(Rejected {
                account: AccountId(0),
                session: SessionId(0),
                client_ref: 0,
                instrument,
                order: OrderId::NONE,
                command: CommandKind::SetTradingStatus,
                reason,
            }));
        }
    }

    fn end_of_day(&mut self, sink: &mut impl EventSink) {
        let is_day = |order: &Order| order.time_in_force == TimeInForce::Day;
        let mut count: u32 = 0;
        for instrument in 0..self.books.len() as u32 {
            count += self.cancel_in_book(instrument, &is_day, CancelReason::EndOfDay, sink);
        }
        sink.push(Event::ControlAck(ControlAck {
            command: CommandKind::EndOfDay,
            account: AccountId(0),
            instrument: InstrumentId(0),
            value: i64::from(count),
        }));
    }

    // ----- arena and level plumbing -----------------------------------------------------------

    fn take_order_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    fn ladder_index(&self, instrument: u32, price: Price) -> usize {
        let rules = &self.books[instrument as usize].rules;
        assert!(
            price >= rules.min_price && price <= rules.max_price,
            "price off the band"
        );
        ((price.0 - rules.min_price.0) / rules.tick_size.0) as usize
    }

    fn level_exists(&self, instrument: u32, side: Side, price: Price) -> bool {
        let ladder_index = self.ladder_index(instrument, price);
        self.books[instrument as usize].sides[side.index()]
            .ladder
            .get(ladder_index)
            != NIL
    }

    fn best_level(&self, instrument: u32, side: Side) -> Option<u32> {
        let side_book = &self.books[instrument as usize].sides[side.index()];
        if side_book.best == NIL {
            return None;
        }
        Some(side_book.ladder.get(side_book.best as usize))
    }

    /// The next worse level after `level` on its side.
    fn next_level(&self, level: u32) -> Option<u32> {
        let level = &self.levels[level as usize];
        let ladder = &self.books[level.instrument as usize].sides[level.side.index()].ladder;
        let at = level.ladder_index as usize;
        let next = match level.side {
            Side::Buy => at
                .checked_sub(1)
                .and_then(|below| ladder.highest_at_or_below(below)),
            Side::Sell if at + 1 < ladder.len() => ladder.lowest_at_or_above(at + 1),
            Side::Sell => None,
        };
        next.map(|ladder_index| ladder.get(ladder_index))
    }

    /// The level at (instrument, side, price), created if missing (capacity checked by caller).
    fn level_at(&mut self, instrument: u32, side: Side, price: Price) -> u32 {
        let ladder_index = self.ladder_index(instrument, price);
        let side_book = &self.books[instrument as usize].sides[side.index()];
        let existing = side_book.ladder.get(ladder_index);
        if existing != NIL {
            return existing;
        }
        let level = self.level_free;
        assert!(
            level != NIL,
            "level pool exhausted (capacity is checked before resting)"
        );
        self.level_free = self.levels[level as usize].head;
        self.levels[level as usize] = Level {
            price,
            ladder_index: ladder_index as u32,
            instrument,
            side,
            ..EMPTY_LEVEL
        };
        self.level_used += 1;
        let side_book = &mut self.books[instrument as usize].sides[side.index()];
        side_book.ladder.occupy(ladder_index, level);
        let index = ladder_index as u32;
        let better = match side {
            Side::Buy => side_book.best == NIL || index > side_book.best,
            Side::Sell => side_book.best == NIL || index < side_book.best,
        };
        if better {
            side_book.best = index;
        }
        level
    }

    fn free_level(&mut self, level: u32) {
        let freed = self.levels[level as usize];
        assert!(freed.order_count == 0 && freed.head == NIL && freed.leaves_qty == 0);
        let side_book = &mut self.books[freed.instrument as usize].sides[freed.side.index()];
        let at = freed.ladder_index as usize;
        side_book.ladder.vacate(at);
        if side_book.best == freed.ladder_index {
            let next = match freed.side {
                Side::Buy => at
                    .checked_sub(1)
                    .and_then(|b| side_book.ladder.highest_at_or_below(b)),
                Side::Sell if at + 1 < side_book.ladder.len() => {
                    side_book.ladder.lowest_at_or_above(at + 1)
                }
                Side::Sell => None,
            };
            side_book.best = next.map_or(NIL, |index| index as u32);
        }
        self.levels[level as usize] = Level {
            head: self.level_free,
            ..EMPTY_LEVEL
        };
        self.level_free = level;
        self.level_used -= 1;
    }

    fn link_to_level_back(&mut self, slot: u32, level: u32) {
        let tail = self.levels[level as usize].tail;
        let order = &mut self.orders[slot as usize];
        order.prev = tail;
        order.next = NIL;
        order.level = level;
        if tail == NIL {
            self.levels[level as usize].head = slot;
        } else {
            self.orders[tail as usize].next = slot;
        }
        let level = &mut self.levels[level as usize];
        level.tail = slot;
        level.order_count += 1;
    }

    fn unlink_from_level(&mut self, slot: u32) {
        let order = self.orders[slot as usize];
        let level = order.level;
        if order.prev == NIL {
            self.levels[level as usize].head = order.next;
        } else {
            self.orders[order.prev as usize].next = order.next;
        }
        if order.next == NIL {
            self.levels[level as usize].tail = order.prev;
        } else {
            self.orders[order.next as usize].prev = order.prev;
        }
        let level = &mut self.levels[level as usize];
        assert!(level.order_count > 0);
        level.order_count -= 1;
    }

    /// Puts an order (fields filled, links empty) into a free slot, its level's back, the index
    /// and its account's list. Capacity was checked by the caller.
    fn insert_order(&mut self, order: Order) -> u32 {
        assert!(order.displayed > 0 && order.displayed <= order.leaves);
        let slot = self.order_free;
        assert!(
            slot != NIL,
            "order pool exhausted (capacity is checked before resting)"
        );
        self.order_free = self.orders[slot as usize].next;
        self.orders[slot as usize] = order;
        let level = self.level_at(order.instrument, order.side, order.price);
        self.link_to_level_back(slot, level);
        let level = &mut self.levels[level as usize];
        level.displayed_qty += u64::from(order.displayed);
        level.leaves_qty += u64::from(order.leaves);
        self.index.insert(order.id, slot);
        self.link_to_account_back(slot);
        self.resting += 1;
        self.mark_changed(order.instrument);
        slot
    }

    fn link_to_account_back(&mut self, slot: u32) {
        let account = self.orders[slot as usize].account as usize;
        let tail = self.accounts[account].tail;
        self.orders[slot as usize].account_prev = tail;
        self.orders[slot as usize].account_next = NIL;
        if tail == NIL {
            self.accounts[account].head = slot;
        } else {
            self.orders[tail as usize].account_next = slot;
        }
        self.accounts[account].tail = slot;
    }

    /// Takes an order out of everything and frees its slot (and its level when emptied). Its
    /// remaining quantities come off the level totals.
    fn remove_order(&mut self, slot: u32) {
        let order = self.orders[slot as usize];
        assert!(order.id != OrderId::NONE, "removing a free slot");
        self.unlink_from_level(slot);
        let level = &mut self.levels[order.level as usize];
        level.displayed_qty -= u64::from(order.displayed);
        level.leaves_qty -= u64::from(order.leaves);
        if level.order_count == 0 {
            self.free_level(order.level);
        }
        let account = &mut self.accounts[order.account as usize];
        if order.account_prev == NIL {
            account.head = order.account_next;
        } else {
            self.orders[order.account_prev as usize].account_next = order.account_next;
        }
        if order.account_next == NIL {
            self.accounts[order.account as usize].tail = order.account_prev;
        } else {
            self.orders[order.account_next as usize].account_prev = order.account_prev;
        }
        self.index.remove(order.id);
        self.mark_changed(order.instrument);
        self.orders[slot as usize] = Order {
            next: self.order_free,
            ..EMPTY_ORDER
        };
        self.order_free = slot;
        self.resting -= 1;
    }

    // ----- queries ----------------------------------------------------------------------------

    /// A resting order, or `None`.
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        let slot = self.index.get(id)?;
        Some(order_view(&self.orders[slot as usize]))
    }

    pub fn trading_status(&self, instrument: InstrumentId) -> Option<TradingStatus> {
        self.books
            .get(instrument.0 as usize)
            .map(|book| book.status)
    }

    pub fn best_price(&self, instrument: InstrumentId, side: Side) -> Option<Price> {
        if instrument.0 as usize >= self.books.len() {
            return None;
        }
        let level = self.best_level(instrument.0, side)?;
        Some(self.levels[level as usize].price)
    }

    /// Calls `f` for each level of one side, best first.
    pub fn for_each_level(
        &self,
        instrument: InstrumentId,
        side: Side,
        mut f: impl FnMut(LevelView),
    ) {
        if instrument.0 as usize >= self.books.len() {
            return;
        }
        let mut level = self.best_level(instrument.0, side);
        while let Some(level_index) = level {
            let l = &self.levels[level_index as usize];
            f(LevelView {
                price: l.price,
                displayed_qty: l.displayed_qty,
                leaves_qty: l.leaves_qty,
                order_count: l.order_count,
            });
            level = self.next_level(level_index);
        }
    }

    /// Calls `f` for each order of one side in book priority: best level first, front to back.
    pub fn for_each_order(
        &self,
        instrument: InstrumentId,
        side: Side,
        mut f: impl FnMut(OrderView),
    ) {
        if instrument.0 as usize >= self.books.len() {
            return;
        }
        let mut level = self.best_level(instrument.0, side);
        while let Some(level_index) = level {
            let mut slot = self.levels[level_index as usize].head;
            while slot != NIL {
                let order = &self.orders[slot as usize];
                f(order_view(order));
                slot = order.next;
            }
            level = self.next_level(level_index);
        }
    }

    pub fn resting_order_count(&self) -> u32 {
        self.resting
    }

    pub fn level_count(&self) -> u32 {
        self.level_used
    }

    /// The id the next accepted order will get.
    pub fn next_order_id(&self) -> OrderId {
        OrderId(self.next_order_id)
    }

    pub fn next_match_id(&self) -> MatchId {
        MatchId(self.next_match_id)
    }

    // ----- whole-structure check --------------------------------------------------------------

    /// Checks every invariant of the module docs by walking all structures. Panics with the
    /// broken fact. For tests and simulation: it is O(orders + ladder size).
    pub fn verify(&self) {
        let mut orders_seen: u32 = 0;
        let mut levels_seen: u32 = 0;
        for (instrument, book) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                let side_book = &book.sides[side.index()];
                side_book.ladder.verify();
                let best = match side {
                    Side::Buy => side_book
                        .ladder
                        .highest_at_or_below(side_book.ladder.len() - 1),
                    Side::Sell => side_book.ladder.lowest_at_or_above(0),
                };
                assert_eq!(
                    best.map_or(NIL, |b| b as u32),
                    side_book.best,
                    "stale best price"
                );
                for ladder_index in 0..side_book.ladder.len() {
                    let level = side_book.ladder.get(ladder_index);
                    if level == NIL {
                        continue;
                    }
                    levels_seen += 1;
                    orders_seen += self.verify_level(instrument as u32, side, ladder_index, level);
                }
            }
        }
        assert_eq!(
            orders_seen, self.resting,
            "resting count disagrees with the books"
        );
        assert_eq!(
            levels_seen, self.level_used,
            "level count disagrees with the ladders"
        );
        assert_eq!(
            self.index.len(),
            self.resting as usize,
            "index size disagrees"
        );
        let mut listed: u32 = 0;
        for (account, state) in self.accounts.iter().enumerate() {
            let mut slot = state.head;
            let mut previous = (NIL, OrderId::NONE);
            while slot != NIL {
                let order = &self.orders[slot as usize];
                assert_eq!(
                    order.account as usize, account,
                    "order in another account's list"
                );
                assert_eq!(order.account_prev, previous.0, "broken account back link");
                assert!(
                    order.id > previous.1,
                    "account list not in ascending id order"
                );
                previous = (slot, order.id);
                listed += 1;
                slot = order.account_next;
            }
            assert_eq!(state.tail, previous.0, "stale account tail");
        }
        assert_eq!(
            listed, self.resting,
            "account lists disagree with the books"
        );
        assert!(self.next_order_id > 0 && self.next_match_id > 0);
        self.verify_market();
    }

    /// Market invariants: continuous books never cross; timers and indicative flags agree.
    fn verify_market(&self) {
        for (instrument, book) in self.books.iter().enumerate() {
            let instrument = InstrumentId(instrument as u32);
            if book.status == TradingStatus::Trading {
                let bid = self.best_price(instrument, Side::Buy);
                let ask = self.best_price(instrument, Side::Sell);
                if let (Some(bid), Some(ask)) = (bid, ask) {
                    assert!(bid < ask, "a continuous book crosses");
                }
            }
            if book.market.indicative_pending {
                assert!(self.any_indicative_pending, "stale indicative flag");
            }
        }
        let earliest = self
            .books
            .iter()
            .map(|book| {
                let timed = matches!(
                    book.status,
                    TradingStatus::ResumeAuction | TradingStatus::VolatilityAuction
                );
                let call = if timed {
                    book.market.call_end_ns
                } else {
                    NEVER_NS
                };
                let batch = if book.status == TradingStatus::BatchAuction {
                    book.market.batch_end_ns
                } else {
                    NEVER_NS
                };
                book.market.schedule_next_ns.min(call).min(batch)
            })
            .min()
            .unwrap_or(NEVER_NS);
        assert!(
            self.next_deadline_ns <= earliest,
            "a timer after the deadline"
        );
    }

    /// Checks one level and its queue; returns its order count.
    fn verify_level(&self, instrument: u32, side: Side, ladder_index: usize, level: u32) -> u32 {
        let l = &self.levels[level as usize];
        let rules = &self.books[instrument as usize].rules;
        assert_eq!(l.instrument, instrument);
        assert_eq!(l.side, side);
        assert_eq!(l.ladder_index as usize, ladder_index);
        assert_eq!(
            l.price.0,
            rules.min_price.0 + ladder_index as i64 * rules.tick_size.0
        );
        assert!(
            l.order_count > 0 && l.head != NIL,
            "empty level on the ladder"
        );
        let (mut displayed, mut leaves, mut count) = (0u64, 0u64, 0u32);
        let mut slot = l.head;
        let mut previous = NIL;
        while slot != NIL {
            let order = &self.orders[slot as usize];
            assert_eq!(order.level, level, "order points at another level");
            assert_eq!(order.prev, previous, "broken queue back link");
            assert_eq!(order.price, l.price);
            assert_eq!(order.side, side);
            assert_eq!(order.instrument, instrument);
            assert!(order.displayed > 0, "resting order with nothing displayed");
            assert!(order.displayed <= order.leaves, "displayed above leaves");
            if order.peak == 0 {
                assert_eq!(
                    order.displayed, order.leaves,
                    "fully displayed order with a reserve"
                );
            } else {
                assert!(
                    order.displayed <= order.peak,
                    "iceberg display above its peak"
                );
            }
            assert!(
                order.time_in_force == TimeInForce::Day || order.time_in_force == TimeInForce::Gtc
            );
            assert!(order.stp != StpMode::AccountDefault);
            assert!(order.id.0 > 0 && order.id.0 < self.next_order_id);
            assert_eq!(
                self.index.get(order.id),
                Some(slot),
                "index does not find the order"
            );
            displayed += u64::from(order.displayed);
            leaves += u64::from(order.leaves);
            count += 1;
            previous = slot;
            slot = order.next;
        }
        assert_eq!(l.tail, previous, "stale level tail");
        assert_eq!(
            (l.displayed_qty, l.leaves_qty, l.order_count),
            (displayed, leaves, count)
        );
        count
    }

    // ----- snapshot and restore ---------------------------------------------------------------

    /// The whole state as plain data. Allocates: call it off the hot path.
    pub fn snapshot(&self) -> EngineSnapshot {
        let mut orders = Vec::with_capacity(self.resting as usize);
        for instrument in 0..self.books.len() as u32 {
            for side in [Side::Buy, Side::Sell] {
                self.for_each_order(InstrumentId(instrument), side, |view| orders.push(view));
            }
        }
        EngineSnapshot {
            next_order_id: OrderId(self.next_order_id),
            next_match_id: MatchId(self.next_match_id),
            trading_status: self.books.iter().map(|book| book.status).collect(),
            orders,
        }
    }

    /// The market state (clock, timers, reference prices) as plain data; with
    /// [`Engine::snapshot`] it is the whole state. Allocates: call it off the hot path.
    pub fn market_snapshot(&self) -> MarketSnapshot {
        MarketSnapshot {
            now_ns: self.now_ns,
            instruments: self.books.iter().map(|book| book.market.view()).collect(),
        }
    }

    /// Rebuilds an engine with market rules from both snapshots, taken with the same
    /// configuration and rules. The result behaves exactly as the engine they were taken from.
    pub fn restore_with_market(
        config: EngineConfig,
        market: MarketConfig,
        snapshot: &EngineSnapshot,
        market_snapshot: &MarketSnapshot,
    ) -> Result<Engine, RestoreError> {
        let engine = Engine::with_market(config, market).map_err(RestoreError::Config)?;
        let mut engine = engine.restore_into(snapshot)?;
        if market_snapshot.instruments.len() != engine.books.len() {
            return Err(RestoreError::Market);
        }
        for (book, view) in engine.books.iter_mut().zip(&market_snapshot.instruments) {
            book.market = MarketState::from_view(view);
            engine.any_indicative_pending |= view.indicative_pending;
        }
        engine.now_ns = market_snapshot.now_ns;
        engine.next_deadline_ns = 0;
        Ok(engine)
    }

    /// Rebuilds an engine from a snapshot taken with the same configuration (continuous
    /// market rules; timers start afresh). The result behaves exactly as the engine the
    /// snapshot was taken from. Every field is judged: a snapshot read from disk is input.
    pub fn restore(
        config: EngineConfig,
        snapshot: &EngineSnapshot,
    ) -> Result<Engine, RestoreError> {
        let engine = Engine::new(config).map_err(RestoreError::Config)?;
        engine.restore_into(snapshot)
    }

    /// Restores the books into a fresh engine (its market state stays the initial one).
    fn restore_into(self, snapshot: &EngineSnapshot) -> Result<Engine, RestoreError> {
        let mut engine = self;
        let reachable = snapshot
            .trading_status
            .iter()
            .zip(engine.market_rules.iter())
            .all(|(status, rules)| {
                *status != TradingStatus::BatchAuction || rules.batch_interval_ns > 0
            });
        if !reachable {
            return Err(RestoreError::Market);
        }
        if snapshot.trading_status.len() != engine.books.len() {
            return Err(RestoreError::StatusCount);
        }
        if snapshot.orders.len() > engine.config.order_capacity as usize {
            return Err(RestoreError::Capacity);
        }
        if snapshot.next_order_id.0 == 0 || snapshot.next_match_id.0 == 0 {
            return Err(RestoreError::BadOrder(0));
        }
        engine.next_order_id = snapshot.next_order_id.0;
        engine.next_match_id = snapshot.next_match_id.0;
        for (book, status) in engine.books.iter_mut().zip(&snapshot.trading_status) {
            book.status = *status;
        }
        let mut previous: Option<OrderView> = None;
        for (position, view) in snapshot.orders.iter().enumerate() {
            engine
                .restore_order(view, previous.as_ref())
                .ok_or(RestoreError::BadOrder(position))?;
            previous = Some(*view);
        }
        engine.relink_accounts();
        // Inserting orders marked call books as changed; the original published already.
        for book in engine.books.iter_mut() {
            book.market.indicative_pending = false;
        }
        engine.any_indicative_pending = false;
        Ok(engine)
    }

    /// Judges and inserts one snapshot order; `None` when it breaks a rule.
    fn restore_order(&mut self, view: &OrderView, previous: Option<&OrderView>) -> Option<()> {
        let book = self.books.get(view.instrument.0 as usize)?;
        let rules = book.rules;
        let account_ok = (view.account.0 as usize) < self.accounts.len();
        let id_ok =
            view.id.0 > 0 && view.id.0 < self.next_order_id && self.index.get(view.id).is_none();
        let price_ok = check_price(&rules, view.price).is_ok();
        let peak = view.peak.0;
        let display_ok = view.displayed.0 > 0
            && view.displayed <= view.leaves
            && if peak == 0 {
                view.displayed == view.leaves
            } else {
                view.displayed.0 <= peak
            };
        let tif_ok = !view.time_in_force.is_immediate();
        let stp_ok = view.stp != StpMode::AccountDefault;
        let order_ok = previous.is_none_or(|p| book_order_precedes(p, view));
        if !(account_ok && id_ok && price_ok && display_ok && tif_ok && stp_ok && order_ok) {
            return None;
        }
        let level_missing = !self.level_exists(view.instrument.0, view.side, view.price);
        if level_missing && self.level_used == self.config.level_capacity {
            return None;
        }
        self.insert_order(Order {
            id: view.id,
            price: view.price,
            leaves: view.leaves.0,
            displayed: view.displayed.0,
            peak,
            account: view.account.0,
            session: view.session.0,
            instrument: view.instrument.0,
            side: view.side,
            time_in_force: view.time_in_force,
            stp: view.stp,
            post_only: view.post_only,
            ..EMPTY_ORDER
        });
        Some(())
    }

    /// Rebuilds every account list in ascending id order (restore inserts in book order).
    fn relink_accounts(&mut self) {
        let mut resting: Vec<(OrderId, u32)> = Vec::with_capacity(self.resting as usize);
        for (slot, order) in self.orders.iter().enumerate() {
            if order.id != OrderId::NONE {
                resting.push((order.id, slot as u32));
            }
        }
        resting.sort_unstable();
        for account in self.accounts.iter_mut() {
            account.head = NIL;
            account.tail = NIL;
        }
        for (_, slot) in resting {
            self.link_to_account_back(slot);
        }
    }
}

/// True when `first` may come right before `second` in a snapshot's order list: instruments
/// ascending, bids before asks, better price first within a side.
fn book_order_precedes(first: &OrderView, second: &OrderView) -> bool {
    let key = |view: &OrderView| (view.instrument, view.side.index());
    if key(first) != key(second) {
        return key(first) < key(second);
    }
    match first.side {
        Side::Buy => first.price >= second.price,
        Side::Sell => first.price <= second.price,
    }
}

/// Iceberg peak of an order of `qty` with `display_qty`: the display size when
/// `0 < display_qty < qty`, else 0 (fully displayed).
fn iceberg_peak(qty: u32, display_qty: u32) -> u32 {
    if display_qty > 0 && display_qty < qty {
        display_qty
    } else {
        0
    }
}

/// Displayed size at entry: the peak of an iceberg, else the quantity.
fn display_size(peak: u32, qty: u32) -> u32 {
    if peak == 0 {
        qty
    } else {
        peak
    }
}

/// Whether the phase takes new orders and replaces.
fn check_phase(status: TradingStatus) -> Result<(), RejectReason> {
    match status {
        TradingStatus::Halted => Err(RejectReason::InstrumentHalted),
        TradingStatus::Closed => Err(RejectReason::InstrumentClosed),
        _ => Ok(()),
    }
}

fn check_qty(rules: &InstrumentConfig, qty: Qty) -> Result<(), RejectReason> {
    if qty.0 == 0 {
        return Err(RejectReason::ZeroQty);
    }
    if !qty.0.is_multiple_of(rules.lot_size.0) {
        return Err(RejectReason::QtyNotLotMultiple);
    }
    if qty > rules.max_order_qty {
        return Err(RejectReason::QtyAboveInstrumentMax);
    }
    Ok(())
}

fn check_price(rules: &InstrumentConfig, price: Price) -> Result<(), RejectReason> {
    if price < rules.min_price || price > rules.max_price {
        return Err(RejectReason::PriceOutOfBand);
    }
    if price.0 % rules.tick_size.0 != 0 {
        return Err(RejectReason::PriceNotTickMultiple);
    }
    Ok(())
}

fn check_display(rules: &InstrumentConfig, qty: Qty, display_qty: Qty) -> Result<(), RejectReason> {
    if display_qty > qty || !display_qty.0.is_multiple_of(rules.lot_size.0) {
        return Err(RejectReason::InvalidDisplayQty);
    }
    Ok(())
}

fn order_view(order: &Order) -> OrderView {
    OrderView {
        id: order.id,
        account: AccountId(order.account),
        session: SessionId(order.session),
        instrument: InstrumentId(order.instrument),
        side: order.side,
        time_in_force: order.time_in_force,
        price: order.price,
        leaves: Qty(order.leaves),
        displayed: Qty(order.displayed),
        peak: Qty(order.peak),
        stp: order.stp,
        post_only: order.post_only,
    }
}

fn book_add(order: &Order) -> Event {
    Event::BookAdd(BookAdd {
        order: order.id,
        instrument: InstrumentId(order.instrument),
        account: AccountId(order.account),
        side: order.side,
        price: order.price,
        display_qty: Qty(order.displayed),
    })
}

/// `Cancelled` for `cut` shares of a resting order whose fields are already updated.
fn cancelled(order: &Order, cut: u32, reason: CancelReason) -> Event {
    Event::Cancelled(Cancelled {
        order: order.id,
        account: AccountId(order.account),
        session: SessionId(order.session),
        instrument: InstrumentId(order.instrument),
        side: order.side,
        price: order.price,
        cancelled_qty: Qty(cut),
        leaves: Qty(order.leaves),
        reason,
    })
}

fn reject_new_order(order: &NewOrder, reason: RejectReason) -> Event {
    Event::Rejected(Rejected {
        account: order.account,
        session: order.session,
        client_ref: order.client_ref,
        instrument: order.instrument,
        order: OrderId::NONE,
        command: CommandKind::NewOrder,
        reason,
    })
}

fn reject_order_command(
    command: CommandKind,
    account: AccountId,
    session: SessionId,
    client_ref: u64,
    order: OrderId,
    instrument: InstrumentId,
    reason: RejectReason,
) -> Event {
    Event::Rejected(Rejected {
        account,
        session,
        client_ref,
        instrument,
        order,
        command,
        reason,
    })
}
