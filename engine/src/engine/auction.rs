//! Trading phases, timers, the uncross and indicative events: the part of [`Engine`] that
//! market operations add. The rules are in the crate docs ("Trading phases and auctions").
//!
//! # Invariants
//! - `next_deadline_ns <=` every instrument's `schedule_next_ns`, `call_end_ns` (in a resume
//!   or volatility call) and `batch_end_ns` (in batch auctions); timers fire only inside
//!   [`Engine::apply_at`], before the command, so the engine stays a function of the journal.
//! - An uncross trades exactly the volume [`discover`] found (asserted), at one price; after
//!   it no bid at or above that price faces an ask at or below it, so the book no longer
//!   crosses.
//! - `any_indicative_pending` is true when some book's `indicative_pending` is.
//! - Nothing here allocates.

use super::Engine;
use crate::event::{
    AuctionFill, AuctionIndicative, AuctionUncrossed, Event, EventSink, ImbalanceSide,
};
use crate::ladder::Ladder;
use crate::market::{MarketRules, MarketStateView, NEVER_NS};
use crate::types::{AccountId, InstrumentId, MatchId, Price, Qty, SessionId, Side, TradingStatus};
use crate::uncross::{discover, Discovery};

/// One instrument's market state (its phase is `Book::status`).
#[derive(Clone, Copy, Debug)]
pub(super) struct MarketState {
    pub(super) scheduled: TradingStatus,
    pub(super) schedule_next_ns: u64,
    pub(super) call_end_ns: u64,
    pub(super) batch_end_ns: u64,
    pub(super) last_trade_price: Price,
    pub(super) reference_price: Price,
    pub(super) last_indicative_ns: u64,
    pub(super) indicative_pending: bool,
}

impl MarketState {
    pub(super) fn new(rules: &MarketRules) -> MarketState {
        MarketState {
            scheduled: rules.initial_phase(),
            schedule_next_ns: if rules.schedule.is_empty() {
                NEVER_NS
            } else {
                0
            },
            call_end_ns: NEVER_NS,
            // A batch-auction instrument opens its first batch at the first timed command.
            batch_end_ns: if rules.initial_phase() == TradingStatus::BatchAuction {
                0
            } else {
                NEVER_NS
            },
            last_trade_price: Price(0),
            reference_price: Price(0),
            last_indicative_ns: NEVER_NS,
            indicative_pending: false,
        }
    }

    pub(super) fn view(&self) -> MarketStateView {
        MarketStateView {
            scheduled: self.scheduled,
            schedule_next_ns: self.schedule_next_ns,
            call_end_ns: self.call_end_ns,
            batch_end_ns: self.batch_end_ns,
            last_trade_price: self.last_trade_price,
            reference_price: self.reference_price,
            last_indicative_ns: self.last_indicative_ns,
            indicative_pending: self.indicative_pending,
        }
    }

    pub(super) fn from_view(view: &MarketStateView) -> MarketState {
        MarketState {
            scheduled: view.scheduled,
            schedule_next_ns: view.schedule_next_ns,
            call_end_ns: view.call_end_ns,
            batch_end_ns: view.batch_end_ns,
            last_trade_price: view.last_trade_price,
            reference_price: view.reference_price,
            last_indicative_ns: view.last_indicative_ns,
            indicative_pending: view.indicative_pending,
        }
    }

    /// The uncross tie-break's reference: the last trade, else the set reference.
    pub(super) fn reference(&self) -> Option<Price> {
        if self.last_trade_price.0 > 0 {
            Some(self.last_trade_price)
        } else if self.reference_price.0 > 0 {
            Some(self.reference_price)
        } else {
            None
        }
    }

    /// The earliest timer of this instrument in `phase`.
    fn deadline_ns(&self, phase: TradingStatus) -> u64 {
        let call = match phase {
            TradingStatus::ResumeAuction | TradingStatus::VolatilityAuction => self.call_end_ns,
            _ => NEVER_NS,
        };
        let batch = match phase {
            TradingStatus::BatchAuction => self.batch_end_ns,
            _ => NEVER_NS,
        };
        self.schedule_next_ns.min(call).min(batch)
    }
}

/// Level totals `(price, open qty)` of one side, ascending ladder index in `[from, to]`.
#[derive(Clone)]
struct LevelWalk<'a> {
    ladder: &'a Ladder,
    levels: &'a [super::Level],
    /// Next ladder index to look at; `to + 1` when done.
    at: usize,
    to: usize,
}

impl Iterator for LevelWalk<'_> {
    type Item = (Price, u64);

    fn next(&mut self) -> Option<(Price, u64)> {
        if self.at > self.to {
            return None;
        }
        let found = self.ladder.lowest_at_or_above(self.at)?;
        if found > self.to {
            self.at = self.to + 1;
            return None;
        }
        self.at = found + 1;
        let level = &self.levels[self.ladder.get(found) as usize];
        Some((level.price, level.leaves_qty))
    }
}

impl Engine {
    /// Applies one sequenced command at sequencer time `now_ns`: first every timer of the
    /// market rules that `now_ns` reaches (schedule boundaries, the end of a resume or
    /// volatility call, the end of a batch), in instrument order, then the command; then the
    /// indicative events of auction calls whose book changed. Time never goes backwards: an
    /// earlier `now_ns` than seen before counts as the latest seen.
    pub fn apply_at(
        &mut self,
        now_ns: u64,
        command: &crate::command::Command,
        sink: &mut impl EventSink,
    ) {
        self.now_ns = self.now_ns.max(now_ns);
        if self.now_ns >= self.next_deadline_ns {
            self.fire_timers(sink);
        }
        self.apply(command, sink);
    }

    /// Latest sequencer time seen by [`Engine::apply_at`] (0 before the first).
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    fn fire_timers(&mut self, sink: &mut impl EventSink) {
        let now_ns = self.now_ns;
        for instrument in 0..self.books.len() as u32 {
            let book = &self.books[instrument as usize];
            if book.market.deadline_ns(book.status) > now_ns {
                continue;
            }
            self.fire_instrument_timers(instrument, sink);
        }
        self.next_deadline_ns = self.earliest_deadline();
        self.publish_indicatives(sink);
    }

    fn earliest_deadline(&self) -> u64 {
        self.books
            .iter()
            .map(|book| book.market.deadline_ns(book.status))
            .min()
            .unwrap_or(NEVER_NS)
    }

    fn fire_instrument_timers(&mut self, instrument: u32, sink: &mut impl EventSink) {
        let now_ns = self.now_ns;
        let index = instrument as usize;
        if now_ns >= self.books[index].market.schedule_next_ns {
            let rules = &self.market_rules[index];
            let scheduled = rules.scheduled_at(now_ns);
            let next_ns = rules.next_boundary_ns(now_ns);
            let market = &mut self.books[index].market;
            market.scheduled = scheduled;
            market.schedule_next_ns = next_ns;
            if self.books[index].status != TradingStatus::Halted {
                self.change_phase(instrument, scheduled, sink);
            }
        }
        let status = self.books[index].status;
        let timed_call = matches!(
            status,
            TradingStatus::ResumeAuction | TradingStatus::VolatilityAuction
        );
        if timed_call && now_ns >= self.books[index].market.call_end_ns {
            let target = self.books[index].market.scheduled;
            self.change_phase(instrument, target, sink);
        }
        let status = self.books[index].status;
        if status == TradingStatus::BatchAuction && now_ns >= self.books[index].market.batch_end_ns
        {
            self.uncross(instrument, status, sink);
            self.books[index].market.batch_end_ns = self.market_rules[index].batch_end_ns(now_ns);
            self.books[index].market.last_indicative_ns = NEVER_NS;
        }
    }

    /// Moves an instrument to `new` (nothing when it is there already): an uncross first when
    /// an auction call ends (into anything but a halt) or continuous trading starts, then the
    /// new phase's timers and `TradingStatus`.
    pub(super) fn change_phase(
        &mut self,
        instrument: u32,
        new: TradingStatus,
        sink: &mut impl EventSink,
    ) {
        let index = instrument as usize;
        let old = self.books[index].status;
        if old == new {
            return;
        }
        if new != TradingStatus::Halted && (old.is_auction() || new == TradingStatus::Trading) {
            self.uncross(instrument, old, sink);
        }
        let now_ns = self.now_ns;
        let rules = &self.market_rules[index];
        let call_ns = match new {
            TradingStatus::ResumeAuction => Some(rules.resume_call_ns),
            TradingStatus::VolatilityAuction => Some(rules.volatility_call_ns),
            _ => None,
        };
        let batch_end_ns = match new {
            TradingStatus::BatchAuction => rules.batch_end_ns(now_ns),
            _ => NEVER_NS,
        };
        let book = &mut self.books[index];
        book.status = new;
        book.market.call_end_ns = call_ns.map_or(NEVER_NS, |ns| now_ns.saturating_add(ns));
        book.market.batch_end_ns = batch_end_ns;
        book.market.last_indicative_ns = NEVER_NS;
        book.market.indicative_pending = new.is_auction();
        self.any_indicative_pending |= new.is_auction();
        let deadline = book.market.deadline_ns(new);
        self.next_deadline_ns = self.next_deadline_ns.min(deadline);
        sink.push(Event::TradingStatus {
            instrument: InstrumentId(instrument),
            status: new,
        });
    }

    /// The admin phase command (see the crate docs).
    pub(super) fn admin_phase(
        &mut self,
        instrument: u32,
        status: TradingStatus,
        sink: &mut impl EventSink,
    ) -> Result<(), crate::event::RejectReason> {
        let index = instrument as usize;
        let rules = &self.market_rules[index];
        if status == TradingStatus::BatchAuction && rules.batch_interval_ns == 0 {
            return Err(crate::event::RejectReason::InvalidTradingStatus);
        }
        let old = self.books[index].status;
        let target = match status {
            TradingStatus::Trading => rules.trading_phase(),
            other => other,
        };
        let target = if old == TradingStatus::Halted
            && target == rules.trading_phase()
            && rules.resume_call_ns > 0
        {
            TradingStatus::ResumeAuction
        } else {
            target
        };
        if target == old {
            sink.push(Event::TradingStatus {
                instrument: InstrumentId(instrument),
                status: old,
            });
        } else {
            self.change_phase(instrument, target, sink);
        }
        Ok(())
    }

    /// A continuous trade would print outside the volatility band: start the volatility call.
    pub(super) fn interrupt(&mut self, instrument: u32, sink: &mut impl EventSink) {
        self.change_phase(instrument, TradingStatus::VolatilityAuction, sink);
    }

    /// The band a continuous taker of this instrument may trade in now, if any.
    pub(super) fn volatility_band(&self, instrument: u32) -> Option<(Price, Price)> {
        let book = &self.books[instrument as usize];
        if book.status != TradingStatus::Trading {
            return None;
        }
        let reference = book.market.reference()?;
        self.market_rules[instrument as usize].volatility_band(reference)
    }

    /// The uncross the book would give now, or `None` when it does not cross.
    pub(super) fn discover_uncross(&self, instrument: u32) -> Option<Discovery> {
        let best_bid = self.best_level(instrument, Side::Buy)?;
        let best_ask = self.best_level(instrument, Side::Sell)?;
        let (high, low) = (
            self.levels[best_bid as usize].ladder_index as usize,
            self.levels[best_ask as usize].ladder_index as usize,
        );
        if high < low {
            return None;
        }
        let book = &self.books[instrument as usize];
        let walk = |side: Side| LevelWalk {
            ladder: &book.sides[side.index()].ladder,
            levels: &self.levels,
            at: low,
            to: high,
        };
        let found = discover(
            walk(Side::Buy),
            walk(Side::Sell),
            book.rules.tick_size.0,
            book.market.reference(),
        );
        assert!(found.is_some(), "a crossed book found no uncross");
        found
    }

    /// Runs the uncross of an auction call (see the crate docs): fills pair the best bid's
    /// front order with the best ask's, price then time priority, at the discovered price.
    pub(super) fn uncross(
        &mut self,
        instrument: u32,
        phase: TradingStatus,
        sink: &mut impl EventSink,
    ) {
        let Some(found) = self.discover_uncross(instrument) else {
            return;
        };
        let mut traded: u64 = 0;
        while let Some((bid_slot, ask_slot)) = self.uncross_pair(instrument, found.price) {
            let qty = self.orders[bid_slot as usize]
                .displayed
                .min(self.orders[ask_slot as usize].displayed);
            assert!(qty > 0, "a resting order with nothing displayed");
            let match_id = self.take_match_id();
            self.fill(bid_slot, ask_slot, qty, found.price, match_id, phase, sink);
            self.fill(ask_slot, bid_slot, qty, found.price, match_id, phase, sink);
            self.settle_fill(bid_slot, sink);
            self.settle_fill(ask_slot, sink);
            traded += u64::from(qty);
        }
        assert_eq!(traded, found.volume, "uncross traded other than its volume");
        let match_id = self.take_match_id();
        self.books[instrument as usize].market.last_trade_price = found.price;
        sink.push(Event::AuctionUncrossed(AuctionUncrossed {
            match_id,
            instrument: InstrumentId(instrument),
            price: found.price,
            qty: traded,
            phase,
        }));
    }

    /// The front orders of the best bid and best ask while both may trade at `price`.
    fn uncross_pair(&self, instrument: u32, price: Price) -> Option<(u32, u32)> {
        let bid = &self.levels[self.best_level(instrument, Side::Buy)? as usize];
        let ask = &self.levels[self.best_level(instrument, Side::Sell)? as usize];
        (bid.price >= price && ask.price <= price).then_some((bid.head, ask.head))
    }

    fn take_match_id(&mut self) -> MatchId {
        let id = MatchId(self.next_match_id);
        self.next_match_id += 1;
        id
    }

    /// Takes `qty` off one side's displayed quantity and emits its `AuctionFill`.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        slot: u32,
        contra_slot: u32,
        qty: u32,
        price: Price,
        match_id: MatchId,
        phase: TradingStatus,
        sink: &mut impl EventSink,
    ) {
        let contra_order = self.orders[contra_slot as usize].id;
        let order = &mut self.orders[slot as usize];
        assert!(qty <= order.displayed && order.displayed <= order.leaves);
        order.displayed -= qty;
        order.leaves -= qty;
        let order = *order;
        let level = &mut self.levels[order.level as usize];
        level.displayed_qty -= u64::from(qty);
        level.leaves_qty -= u64::from(qty);
        sink.push(Event::AuctionFill(AuctionFill {
            match_id,
            instrument: InstrumentId(order.instrument),
            price,
            qty: Qty(qty),
            side: order.side,
            order: order.id,
            account: AccountId(order.account),
            session: SessionId(order.session),
            order_price: order.price,
            leaves: Qty(order.leaves),
            contra_order,
            phase,
        }));
    }

    /// After a fill: an order with nothing displayed leaves the book, or an iceberg refreshes.
    fn settle_fill(&mut self, slot: u32, sink: &mut impl EventSink) {
        let order = self.orders[slot as usize];
        if order.displayed > 0 {
            return;
        }
        if order.leaves == 0 {
            self.remove_order(slot);
        } else {
            self.refresh_display(slot, sink);
        }
    }

    /// Marks an instrument's call book as changed (for its next indicative event).
    pub(super) fn mark_changed(&mut self, instrument: u32) {
        let book = &mut self.books[instrument as usize];
        if book.status.is_auction() {
            book.market.indicative_pending = true;
            self.any_indicative_pending = true;
        }
    }

    /// Publishes the indicative event of every auction call whose book changed, when its
    /// interval allows (see the crate docs).
    pub(super) fn publish_indicatives(&mut self, sink: &mut impl EventSink) {
        if !self.any_indicative_pending {
            return;
        }
        let now_ns = self.now_ns;
        let mut still_pending = false;
        for instrument in 0..self.books.len() as u32 {
            let index = instrument as usize;
            let market = self.books[index].market;
            if !market.indicative_pending {
                continue;
            }
            if !self.books[index].status.is_auction() {
                self.books[index].market.indicative_pending = false;
                continue;
            }
            let interval_ns = self.market_rules[index].indicative_interval_ns;
            let due = market.last_indicative_ns == NEVER_NS
                || now_ns.saturating_sub(market.last_indicative_ns) >= interval_ns;
            if !due {
                still_pending = true;
                continue;
            }
            sink.push(Event::AuctionIndicative(self.indicative_of(instrument)));
            let market = &mut self.books[index].market;
            market.indicative_pending = false;
            market.last_indicative_ns = now_ns;
        }
        self.any_indicative_pending = still_pending;
    }

    /// The indicative price and imbalance of an instrument's book now (whatever its phase),
    /// or `None` for an unknown instrument.
    pub fn indicative(&self, instrument: InstrumentId) -> Option<AuctionIndicative> {
        let known = (instrument.0 as usize) < self.books.len();
        known.then(|| self.indicative_of(instrument.0))
    }

    fn indicative_of(&self, instrument: u32) -> AuctionIndicative {
        let book = &self.books[instrument as usize];
        let reference_price = book.market.reference().unwrap_or(Price(0));
        let (price, paired_qty, imbalance_qty, imbalance_side) =
            match self.discover_uncross(instrument) {
                None => (Price(0), 0, 0, ImbalanceSide::NoCross),
                Some(found) => {
                    let side = match found.buy_qty.cmp(&found.sell_qty) {
                        core::cmp::Ordering::Greater => ImbalanceSide::Buy,
                        core::cmp::Ordering::Less => ImbalanceSide::Sell,
                        core::cmp::Ordering::Equal => ImbalanceSide::Balanced,
                    };
                    let imbalance = found.buy_qty.abs_diff(found.sell_qty);
                    (found.price, found.volume, imbalance, side)
                }
            };
        AuctionIndicative {
            instrument: InstrumentId(instrument),
            phase: book.status,
            price,
            paired_qty,
            imbalance_qty,
            imbalance_side,
            reference_price,
        }
    }
}
