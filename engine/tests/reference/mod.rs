//! A small, obviously-correct reference model of the matching engine, for tests.
//!
//! It implements the matching rules written in the crate documentation (`engine/src/lib.rs`)
//! with plain `Vec`s and linear scans: per instrument and side one `Vec<OrderView>` of resting
//! orders in book priority (best price first, then arrival order within a price). Every rule of
//! the contract is one short function here, written in the contract's order, so that a reader
//! can check it line by line against the documentation. Speed does not matter.
//!
//! The tests feed the same commands to the engine and to this model and compare the events,
//! the books (as `for_each_order` / `for_each_level` give them), the counters and snapshots.
//!
//! Readings of the contract where its text leaves a choice (kept in one place so that a change
//! of the contract is a change here):
//! - STP decisions (matching and the fill requirement) use the taker's effective mode.
//! - Events about an order carry the order's own session (a cancel sent from another session of
//!   the owning account still reports the order's session); `Rejected` carries the command's.
//! - `Rejected.instrument` is the instrument the command named; a cancel, reduce or replace names
//!   none, so it is the instrument of the named order once that order is found, else 0.
//! - `Replaced.display_qty` is the replacement's display size (its peak, or its whole quantity
//!   when fully displayed), as `Accepted.display_qty` is.
//! - A mass cancel naming both an unknown account and an unknown instrument is `UnknownAccount`.
//! - An order is an iceberg when `0 < display_qty < qty`; its `peak` is then `display_qty`.
//!   Otherwise it is fully displayed and `OrderView::peak` is 0 (the engine's representation of
//!   "the whole quantity"). A replace keeps the peak when it keeps this display mode: fully
//!   displayed stays fully displayed, or an iceberg keeps its display size. (Read literally with
//!   peak = original quantity, a plain order could never keep priority on a replace, and the
//!   contract's "`Replaced`(priority_kept) + `BookReduce`" could never happen.)
//!
//! # Invariants
//! - `books[i][s]` is sorted by price (best first for side `s`) and, within one price, by time
//!   priority; every order in it has `0 < displayed <= leaves`, `displayed == leaves` when
//!   `peak == 0` and `displayed <= peak` otherwise.
//! - Order ids and match ids are assigned from 1 upwards, one per accepted order, replacement
//!   that loses priority, and trade.

#![allow(dead_code)]

pub mod flow;

use peregrine_engine::{
    Accepted, AccountId, BookAdd, BookDelete, BookReduce, BookReplace, CancelOrder, CancelReason,
    Cancelled, Command, CommandKind, ControlAck, EngineConfig, EngineSnapshot, Event, Executed,
    InstrumentConfig, InstrumentId, LevelView, MassCancel, MassCancelled, MatchId, NewOrder,
    OrderFilter, OrderId, OrderType, OrderView, Price, Qty, ReduceOrder, RejectReason, Rejected,
    ReplaceOrder, Replaced, RestateReason, Restated, SessionId, Side, StpMode, TimeInForce,
    TradingStatus,
};

/// The reference engine.
#[derive(Clone, Debug)]
pub struct Model {
    config: EngineConfig,
    status: Vec<TradingStatus>,
    /// `books[instrument][side.index()]`: resting orders in book priority.
    books: Vec<[Vec<OrderView>; 2]>,
    next_order_id: u64,
    next_match_id: u64,
}

/// An order being matched (a new order or a replacement).
#[derive(Clone, Copy, Debug)]
struct Taker {
    id: OrderId,
    account: AccountId,
    session: SessionId,
    instrument: InstrumentId,
    side: Side,
    time_in_force: TimeInForce,
    /// `None` for a market order.
    limit: Option<Price>,
    remaining: u32,
    peak: u32,
    stp: StpMode,
    post_only: bool,
}

impl Taker {
    /// The price events report for this order: 0 for a market order.
    fn event_price(&self) -> Price {
        self.limit.unwrap_or(Price(0))
    }
}

/// True when `a` is a strictly better price than `b` for resting orders of `side`.
fn better(side: Side, a: Price, b: Price) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

/// True when a taker of `side` with limit `limit` (None: market) may trade at `maker_price`.
fn acceptable(side: Side, limit: Option<Price>, maker_price: Price) -> bool {
    match (limit, side) {
        (None, _) => true,
        (Some(limit), Side::Buy) => maker_price <= limit,
        (Some(limit), Side::Sell) => maker_price >= limit,
    }
}

/// Puts `order` at the back of its price level in `queue`.
fn insert_at_back(queue: &mut Vec<OrderView>, order: OrderView) {
    let position = queue
        .iter()
        .position(|resting| better(order.side, order.price, resting.price))
        .unwrap_or(queue.len());
    queue.insert(position, order);
}

/// The `OrderView::peak` of an order of `qty` showing `display_qty`: the display size of an
/// iceberg (`0 < display_qty < qty`), else 0 for a fully displayed order.
fn iceberg_peak(qty: Qty, display_qty: Qty) -> Qty {
    if display_qty.0 > 0 && display_qty < qty {
        display_qty
    } else {
        Qty(0)
    }
}

/// What an order of `leaves` with `peak` shows: the peak of an iceberg, else everything.
fn display_size(peak: u32, leaves: u32) -> u32 {
    if peak == 0 {
        leaves
    } else {
        peak.min(leaves)
    }
}

/// Cuts `cut` from an order's reserve first, then its display; returns the display cut.
fn cut_reserve_first(order: &mut OrderView, cut: u32) -> u32 {
    assert!(cut <= order.leaves.0);
    let reserve = order.leaves.0 - order.displayed.0;
    let display_cut = cut.saturating_sub(reserve);
    order.leaves.0 -= cut;
    order.displayed.0 -= display_cut;
    display_cut
}

fn cancelled(order: &OrderView, cancelled_qty: u32, reason: CancelReason) -> Event {
    Event::Cancelled(Cancelled {
        order: order.id,
        account: order.account,
        session: order.session,
        instrument: order.instrument,
        side: order.side,
        price: order.price,
        cancelled_qty: Qty(cancelled_qty),
        leaves: order.leaves,
        reason,
    })
}

fn taker_cancelled(taker: &Taker, cancelled_qty: u32, reason: CancelReason) -> Event {
    Event::Cancelled(Cancelled {
        order: taker.id,
        account: taker.account,
        session: taker.session,
        instrument: taker.instrument,
        side: taker.side,
        price: taker.event_price(),
        cancelled_qty: Qty(cancelled_qty),
        leaves: Qty(taker.remaining),
        reason,
    })
}

fn book_delete(order: &OrderView) -> Event {
    Event::BookDelete(BookDelete {
        order: order.id,
        instrument: order.instrument,
    })
}

fn book_add(order: &OrderView) -> Event {
    Event::BookAdd(BookAdd {
        order: order.id,
        instrument: order.instrument,
        account: order.account,
        side: order.side,
        price: order.price,
        display_qty: order.displayed,
    })
}

fn book_reduce(order: &OrderView, display_cut: u32) -> Event {
    Event::BookReduce(BookReduce {
        order: order.id,
        instrument: order.instrument,
        qty: Qty(display_cut),
    })
}

fn rejected(
    account: AccountId,
    session: SessionId,
    client_ref: u64,
    instrument: InstrumentId,
    order: OrderId,
    command: CommandKind,
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

impl Model {
    pub fn new(config: EngineConfig) -> Model {
        assert_eq!(config.validate(), Ok(()));
        let instrument_count = config.instruments.len();
        Model {
            config,
            status: vec![TradingStatus::Trading; instrument_count],
            books: (0..instrument_count)
                .map(|_| [Vec::new(), Vec::new()])
                .collect(),
            next_order_id: 1,
            next_match_id: 1,
        }
    }

    /// Rebuilds a model from an engine snapshot (the snapshot lists each side in priority).
    pub fn from_snapshot(config: EngineConfig, snapshot: &EngineSnapshot) -> Model {
        let mut model = Model::new(config);
        model.next_order_id = snapshot.next_order_id.0;
        model.next_match_id = snapshot.next_match_id.0;
        model.status = snapshot.trading_status.clone();
        for order in &snapshot.orders {
            model.books[order.instrument.0 as usize][order.side.index()].push(*order);
        }
        model
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Applies one command and returns its events.
    pub fn apply(&mut self, command: &Command) -> Vec<Event> {
        let mut out = Vec::new();
        match command {
            Command::NewOrder(order) => self.new_order(order, &mut out),
            Command::Cancel(cancel) => self.cancel(cancel, &mut out),
            Command::Reduce(reduce) => self.reduce(reduce, &mut out),
            Command::Replace(replace) => self.replace(replace, &mut out),
            Command::MassCancel(mass) => self.mass_cancel(mass, &mut out),
            Command::SetTradingStatus { instrument, status } => {
                self.set_trading_status(*instrument, *status, &mut out)
            }
            Command::EndOfDay => self.end_of_day(&mut out),
            Command::BlockAccount { account } => {
                let filter = OrderFilter {
                    account: Some(*account),
                    ..OrderFilter::default()
                };
                self.cancel_matching(filter, CancelReason::KillSwitch, |_| true, &mut out);
            }
            Command::SetRiskLimit(_)
            | Command::UnblockAccount { .. }
            | Command::SetReferencePrice { .. }
            | Command::SessionLost { .. } => {}
        }
        out
    }

    /// The model of `Engine::cancel_orders`: returns the events and the count.
    pub fn cancel_orders(
        &mut self,
        filter: OrderFilter,
        reason: CancelReason,
    ) -> (Vec<Event>, u32) {
        let mut out = Vec::new();
        let count = self.cancel_matching(filter, reason, |_| true, &mut out);
        (out, count)
    }

    // ----- views -----

    /// Resting orders of one side in book priority (as `Engine::for_each_order`).
    pub fn orders(&self, instrument: InstrumentId, side: Side) -> Vec<OrderView> {
        self.books
            .get(instrument.0 as usize)
            .map(|book| book[side.index()].clone())
            .unwrap_or_default()
    }

    /// Levels of one side, best first (as `Engine::for_each_level`).
    pub fn levels(&self, instrument: InstrumentId, side: Side) -> Vec<LevelView> {
        let mut levels: Vec<LevelView> = Vec::new();
        for order in self.orders(instrument, side) {
            match levels.last_mut() {
                Some(level) if level.price == order.price => {
                    level.displayed_qty += u64::from(order.displayed.0);
                    level.leaves_qty += u64::from(order.leaves.0);
                    level.order_count += 1;
                }
                _ => levels.push(LevelView {
                    price: order.price,
                    displayed_qty: u64::from(order.displayed.0),
                    leaves_qty: u64::from(order.leaves.0),
                    order_count: 1,
                }),
            }
        }
        levels
    }

    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        self.books
            .iter()
            .flatten()
            .flatten()
            .find(|order| order.id == id)
            .copied()
    }

    pub fn best_price(&self, instrument: InstrumentId, side: Side) -> Option<Price> {
        self.books.get(instrument.0 as usize)?[side.index()]
            .first()
            .map(|order| order.price)
    }

    pub fn trading_status(&self, instrument: InstrumentId) -> Option<TradingStatus> {
        self.status.get(instrument.0 as usize).copied()
    }

    pub fn resting_order_count(&self) -> u32 {
        let count: usize = self.books.iter().flatten().map(Vec::len).sum();
        u32::try_from(count).expect("order count fits u32")
    }

    pub fn level_count(&self) -> u32 {
        let mut count = 0;
        for queue in self.books.iter().flatten() {
            count += queue
                .windows(2)
                .filter(|pair| pair[0].price != pair[1].price)
                .count();
            count += usize::from(!queue.is_empty());
        }
        u32::try_from(count).expect("level count fits u32")
    }

    pub fn next_order_id(&self) -> OrderId {
        OrderId(self.next_order_id)
    }

    pub fn next_match_id(&self) -> MatchId {
        MatchId(self.next_match_id)
    }

    /// The snapshot the engine should give in this state.
    pub fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            next_order_id: self.next_order_id(),
            next_match_id: self.next_match_id(),
            trading_status: self.status.clone(),
            orders: self.books.iter().flatten().flatten().copied().collect(),
        }
    }

    /// Every resting order (any order of books), for test drivers that pick ids.
    pub fn all_orders(&self) -> Vec<OrderView> {
        self.books.iter().flatten().flatten().copied().collect()
    }

    // ----- helpers over the books -----

    fn instrument(&self, instrument: InstrumentId) -> Option<&InstrumentConfig> {
        self.config.instruments.get(instrument.0 as usize)
    }

    fn account_known(&self, account: AccountId) -> bool {
        (account.0 as usize) < self.config.accounts.len()
    }

    fn effective_stp(&self, account: AccountId, stp: StpMode) -> StpMode {
        match stp {
            StpMode::AccountDefault => self.config.accounts[account.0 as usize].stp,
            concrete => concrete,
        }
    }

    fn queue(&mut self, instrument: InstrumentId, side: Side) -> &mut Vec<OrderView> {
        &mut self.books[instrument.0 as usize][side.index()]
    }

    fn level_exists(&self, instrument: InstrumentId, side: Side, price: Price) -> bool {
        self.books[instrument.0 as usize][side.index()]
            .iter()
            .any(|order| order.price == price)
    }

    /// True when the best price opposite a `side` order at `limit` is acceptable.
    fn would_take(&self, instrument: InstrumentId, side: Side, limit: Price) -> bool {
        self.best_price(instrument, side.opposite())
            .is_some_and(|best| acceptable(side, Some(limit), best))
    }

    /// Finds a resting order owned by `account`: (instrument, side, index in its queue).
    fn find_owned(&self, id: OrderId, account: AccountId) -> Option<(InstrumentId, Side, usize)> {
        for (instrument_index, book) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                let queue = &book[side.index()];
                if let Some(index) = queue.iter().position(|order| order.id == id) {
                    if queue[index].account != account {
                        return None;
                    }
                    let instrument = InstrumentId(instrument_index as u32);
                    return Some((instrument, side, index));
                }
            }
        }
        None
    }

    fn take_order_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    // ----- new order -----

    /// The reject reason of a new order, checked in the contract's order.
    fn check_new(&self, order: &NewOrder) -> Result<(), RejectReason> {
        let Some(rules) = self.instrument(order.instrument) else {
            return Err(RejectReason::UnknownInstrument);
        };
        let lot = rules.lot_size.0;
        if !self.account_known(order.account) {
            return Err(RejectReason::UnknownAccount);
        }
        if self.status[order.instrument.0 as usize] == TradingStatus::Halted {
            return Err(RejectReason::InstrumentHalted);
        }
        check_qty(rules, order.qty)?;
        match order.order_type {
            OrderType::Market => {
                if order.post_only || order.display_qty.0 != 0 {
                    return Err(RejectReason::InvalidMarketOrder);
                }
            }
            OrderType::Limit => check_price(rules, order.price)?,
        }
        if order.display_qty > order.qty || !order.display_qty.0.is_multiple_of(lot) {
            return Err(RejectReason::InvalidDisplayQty);
        }
        if order.min_qty > order.qty || !order.min_qty.0.is_multiple_of(lot) {
            return Err(RejectReason::InvalidMinQty);
        }
        let is_limit = order.order_type == OrderType::Limit;
        if order.post_only && self.would_take(order.instrument, order.side, order.price) {
            return Err(RejectReason::PostOnlyWouldTake);
        }
        if is_limit && !order.time_in_force.is_immediate() {
            if self.resting_order_count() >= self.config.order_capacity {
                return Err(RejectReason::OrderCapacity);
            }
            let level_exists = self.level_exists(order.instrument, order.side, order.price);
            if !level_exists && self.level_count() >= self.config.level_capacity {
                return Err(RejectReason::LevelCapacity);
            }
        }
        Ok(())
    }

    fn new_order(&mut self, order: &NewOrder, out: &mut Vec<Event>) {
        if let Err(reason) = self.check_new(order) {
            out.push(rejected(
                order.account,
                order.session,
                order.client_ref,
                order.instrument,
                OrderId::NONE,
                CommandKind::NewOrder,
                reason,
            ));
            return;
        }
        let is_market = order.order_type == OrderType::Market;
        let peak = iceberg_peak(order.qty, order.display_qty);
        let id = self.take_order_id();
        let price = if is_market { Price(0) } else { order.price };
        out.push(Event::Accepted(Accepted {
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
            display_qty: Qty(display_size(peak.0, order.qty.0)),
        }));
        let mut taker = Taker {
            id,
            account: order.account,
            session: order.session,
            instrument: order.instrument,
            side: order.side,
            time_in_force: order.time_in_force,
            limit: (!is_market).then_some(order.price),
            remaining: order.qty.0,
            peak: peak.0,
            stp: self.effective_stp(order.account, order.stp),
            post_only: order.post_only,
        };
        let required = match order.time_in_force {
            TimeInForce::Fok => order.qty.0,
            TimeInForce::Day | TimeInForce::Gtc | TimeInForce::Ioc => order.min_qty.0,
        };
        if required != 0 && self.available(&taker) < u64::from(required) {
            taker.remaining = 0;
            out.push(taker_cancelled(
                &taker,
                order.qty.0,
                CancelReason::MinQtyNotMet,
            ));
            return;
        }
        let stopped_by_stp = self.match_taker(&mut taker, out);
        if stopped_by_stp || taker.remaining == 0 {
            return;
        }
        if is_market || order.time_in_force.is_immediate() {
            let remaining = taker.remaining;
            taker.remaining = 0;
            out.push(taker_cancelled(
                &taker,
                remaining,
                CancelReason::ImmediateOrCancel,
            ));
            return;
        }
        let resting = self.rest(&taker);
        out.push(book_add(&resting));
    }

    /// The fill requirement's available quantity for `taker`.
    fn available(&self, taker: &Taker) -> u64 {
        let queue = &self.books[taker.instrument.0 as usize][taker.side.opposite().index()];
        let mut total: u64 = 0;
        let mut start = 0;
        while start < queue.len() && acceptable(taker.side, taker.limit, queue[start].price) {
            let price = queue[start].price;
            let level_len = queue[start..]
                .iter()
                .take_while(|o| o.price == price)
                .count();
            let level = &queue[start..start + level_len];
            let mut level_leaves: u64 = 0;
            let mut level_displayed: u64 = 0;
            for maker in level {
                if maker.account == taker.account && taker.stp != StpMode::Off {
                    if taker.stp == StpMode::CancelResting {
                        continue;
                    }
                    // The count stops at this order: the orders before it count only what
                    // they display, since their reserves would refresh behind it.
                    return total + level_displayed;
                }
                level_leaves += u64::from(maker.leaves.0);
                level_displayed += u64::from(maker.displayed.0);
            }
            total += level_leaves;
            start += level_len;
        }
        total
    }

    /// Matches `taker` against the opposite side. Returns true when STP stopped the taker.
    fn match_taker(&mut self, taker: &mut Taker, out: &mut Vec<Event>) -> bool {
        while taker.remaining > 0 {
            let opposite = taker.side.opposite();
            let Some(maker) = self.queue(taker.instrument, opposite).first().copied() else {
                return false;
            };
            if !acceptable(taker.side, taker.limit, maker.price) {
                return false;
            }
            if maker.account == taker.account && taker.stp != StpMode::Off {
                if self.self_trade(taker, maker, out) {
                    return true;
                }
            } else {
                self.trade(taker, maker, out);
            }
        }
        false
    }

    /// Self-trade prevention against the front maker. Returns true when the taker is stopped.
    fn self_trade(
        &mut self,
        taker: &mut Taker,
        mut maker: OrderView,
        out: &mut Vec<Event>,
    ) -> bool {
        let queue = self.queue(taker.instrument, maker.side);
        match taker.stp {
            StpMode::CancelResting | StpMode::CancelBoth => {
                queue.remove(0);
                let leaves = maker.leaves.0;
                maker.leaves = Qty(0);
                out.push(cancelled(&maker, leaves, CancelReason::SelfTrade));
                out.push(book_delete(&maker));
                if taker.stp == StpMode::CancelResting {
                    return false;
                }
                let remaining = taker.remaining;
                taker.remaining = 0;
                out.push(taker_cancelled(taker, remaining, CancelReason::SelfTrade));
                true
            }
            StpMode::CancelIncoming => {
                let remaining = taker.remaining;
                taker.remaining = 0;
                out.push(taker_cancelled(taker, remaining, CancelReason::SelfTrade));
                true
            }
            StpMode::Decrement => {
                let decrement = taker.remaining.min(maker.leaves.0);
                let display_cut = cut_reserve_first(&mut maker, decrement);
                out.push(cancelled(&maker, decrement, CancelReason::SelfTrade));
                if maker.leaves.0 == 0 {
                    queue.remove(0);
                    out.push(book_delete(&maker));
                } else {
                    queue[0] = maker;
                    if display_cut > 0 {
                        out.push(book_reduce(&maker, display_cut));
                    }
                }
                taker.remaining -= decrement;
                out.push(taker_cancelled(taker, decrement, CancelReason::SelfTrade));
                false
            }
            StpMode::Off | StpMode::AccountDefault => unreachable!("not a prevention mode"),
        }
    }

    /// One trade against the front maker, with its display refresh.
    fn trade(&mut self, taker: &mut Taker, mut maker: OrderView, out: &mut Vec<Event>) {
        let qty = taker.remaining.min(maker.displayed.0);
        maker.displayed.0 -= qty;
        maker.leaves.0 -= qty;
        taker.remaining -= qty;
        let match_id = MatchId(self.next_match_id);
        self.next_match_id += 1;
        out.push(Event::Executed(Executed {
            match_id,
            instrument: taker.instrument,
            price: maker.price,
            qty: Qty(qty),
            taker_side: taker.side,
            maker_order: maker.id,
            maker_account: maker.account,
            maker_session: maker.session,
            maker_leaves: maker.leaves,
            taker_order: taker.id,
            taker_account: taker.account,
            taker_session: taker.session,
            taker_leaves: Qty(taker.remaining),
        }));
        let queue = self.queue(taker.instrument, maker.side);
        if maker.displayed.0 > 0 {
            queue[0] = maker;
            return;
        }
        queue.remove(0);
        if maker.leaves.0 == 0 {
            return;
        }
        assert!(
            maker.peak.0 > 0,
            "only an iceberg runs out of display with leaves left"
        );
        maker.displayed = Qty(display_size(maker.peak.0, maker.leaves.0));
        insert_at_back(queue, maker);
        out.push(Event::Restated(Restated {
            order: maker.id,
            account: maker.account,
            session: maker.session,
            instrument: maker.instrument,
            display_qty: maker.displayed,
            leaves: maker.leaves,
            reason: RestateReason::DisplayRefresh,
        }));
        out.push(book_add(&maker));
    }

    /// Puts the rest of `taker` on the book; returns the resting order.
    fn rest(&mut self, taker: &Taker) -> OrderView {
        let limit = taker.limit.expect("only limit orders rest");
        let resting = OrderView {
            id: taker.id,
            account: taker.account,
            session: taker.session,
            instrument: taker.instrument,
            side: taker.side,
            time_in_force: taker.time_in_force,
            price: limit,
            leaves: Qty(taker.remaining),
            displayed: Qty(display_size(taker.peak, taker.remaining)),
            peak: Qty(taker.peak),
            stp: taker.stp,
            post_only: taker.post_only,
        };
        insert_at_back(self.queue(taker.instrument, taker.side), resting);
        resting
    }

    // ----- cancel, reduce, replace -----

    fn cancel(&mut self, cancel: &CancelOrder, out: &mut Vec<Event>) {
        let Some((instrument, side, index)) = self.find_owned(cancel.order, cancel.account) else {
            out.push(rejected(
                cancel.account,
                cancel.session,
                cancel.client_ref,
                InstrumentId(0),
                cancel.order,
                CommandKind::Cancel,
                RejectReason::UnknownOrder,
            ));
            return;
        };
        self.remove_with(instrument, side, index, CancelReason::UserRequested, out);
    }

    /// Removes a resting order: `Cancelled`(all leaves, `reason`) + `BookDelete`.
    fn remove_with(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        index: usize,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let mut order = self.queue(instrument, side).remove(index);
        let leaves = order.leaves.0;
        order.leaves = Qty(0);
        out.push(cancelled(&order, leaves, reason));
        out.push(book_delete(&order));
    }

    fn reduce(&mut self, reduce: &ReduceOrder, out: &mut Vec<Event>) {
        let reject = |instrument, reason| {
            rejected(
                reduce.account,
                reduce.session,
                reduce.client_ref,
                instrument,
                reduce.order,
                CommandKind::Reduce,
                reason,
            )
        };
        let Some((instrument, side, index)) = self.find_owned(reduce.order, reduce.account) else {
            out.push(reject(InstrumentId(0), RejectReason::UnknownOrder));
            return;
        };
        if reduce.leaves_qty.0 == 0 {
            self.remove_with(instrument, side, index, CancelReason::UserRequested, out);
            return;
        }
        let lot = self.config.instruments[instrument.0 as usize].lot_size.0;
        let mut order = self.queue(instrument, side)[index];
        if reduce.leaves_qty >= order.leaves {
            out.push(reject(instrument, RejectReason::ReduceNotLower));
            return;
        }
        if !reduce.leaves_qty.0.is_multiple_of(lot) {
            out.push(reject(instrument, RejectReason::QtyNotLotMultiple));
            return;
        }
        let cut = order.leaves.0 - reduce.leaves_qty.0;
        let display_cut = cut_reserve_first(&mut order, cut);
        self.queue(instrument, side)[index] = order;
        out.push(cancelled(&order, cut, CancelReason::Reduced));
        if display_cut > 0 {
            out.push(book_reduce(&order, display_cut));
        }
    }

    /// The replace checks up to `ReplaceNoChange`, in the contract's order.
    fn check_replace(&self, replace: &ReplaceOrder, old: &OrderView) -> Result<(), RejectReason> {
        let rules = &self.config.instruments[old.instrument.0 as usize];
        if self.status[old.instrument.0 as usize] == TradingStatus::Halted {
            return Err(RejectReason::InstrumentHalted);
        }
        check_qty(rules, replace.qty)?;
        check_price(rules, replace.price)?;
        if replace.display_qty > replace.qty
            || !replace.display_qty.0.is_multiple_of(rules.lot_size.0)
        {
            return Err(RejectReason::InvalidDisplayQty);
        }
        let new_peak = iceberg_peak(replace.qty, replace.display_qty);
        if replace.price == old.price && replace.qty == old.leaves && new_peak == old.peak {
            return Err(RejectReason::ReplaceNoChange);
        }
        Ok(())
    }

    fn replace(&mut self, replace: &ReplaceOrder, out: &mut Vec<Event>) {
        let reject = |instrument, reason| {
            rejected(
                replace.account,
                replace.session,
                replace.client_ref,
                instrument,
                replace.order,
                CommandKind::Replace,
                reason,
            )
        };
        let Some((instrument, side, index)) = self.find_owned(replace.order, replace.account)
        else {
            out.push(reject(InstrumentId(0), RejectReason::UnknownOrder));
            return;
        };
        let old = self.queue(instrument, side)[index];
        if let Err(reason) = self.check_replace(replace, &old) {
            out.push(reject(instrument, reason));
            return;
        }
        let new_peak = iceberg_peak(replace.qty, replace.display_qty);
        if replace.price == old.price && new_peak == old.peak && replace.qty < old.leaves {
            self.replace_keeping_priority(replace, old, index, out);
            return;
        }
        if old.post_only && self.would_take(instrument, side, replace.price) {
            out.push(reject(instrument, RejectReason::PostOnlyWouldTake));
            return;
        }
        let level_exists = self.level_exists(instrument, side, replace.price);
        if !level_exists && self.level_count() >= self.config.level_capacity {
            out.push(reject(instrument, RejectReason::LevelCapacity));
            return;
        }
        self.replace_losing_priority(replace, old, index, out);
    }

    fn replaced(replace: &ReplaceOrder, old: &OrderView, new_order: OrderId) -> Event {
        Event::Replaced(Replaced {
            old_order: old.id,
            new_order,
            account: old.account,
            session: old.session,
            client_ref: replace.client_ref,
            instrument: old.instrument,
            side: old.side,
            price: replace.price,
            qty: replace.qty,
            display_qty: replace_display(replace),
            priority_kept: new_order == old.id,
        })
    }

    fn replace_keeping_priority(
        &mut self,
        replace: &ReplaceOrder,
        mut order: OrderView,
        index: usize,
        out: &mut Vec<Event>,
    ) {
        let cut = order.leaves.0 - replace.qty.0;
        let display_cut = cut_reserve_first(&mut order, cut);
        self.queue(order.instrument, order.side)[index] = order;
        out.push(Model::replaced(replace, &order, order.id));
        if display_cut > 0 {
            out.push(book_reduce(&order, display_cut));
        }
    }

    fn replace_losing_priority(
        &mut self,
        replace: &ReplaceOrder,
        old: OrderView,
        index: usize,
        out: &mut Vec<Event>,
    ) {
        self.queue(old.instrument, old.side).remove(index);
        let new_id = self.take_order_id();
        out.push(Model::replaced(replace, &old, new_id));
        let mut taker = Taker {
            id: new_id,
            account: old.account,
            session: old.session,
            instrument: old.instrument,
            side: old.side,
            time_in_force: old.time_in_force,
            limit: Some(replace.price),
            remaining: replace.qty.0,
            peak: iceberg_peak(replace.qty, replace.display_qty).0,
            stp: old.stp,
            post_only: old.post_only,
        };
        let stopped_by_stp = self.match_taker(&mut taker, out);
        if stopped_by_stp || taker.remaining == 0 {
            out.push(book_delete(&old));
            return;
        }
        let resting = self.rest(&taker);
        out.push(Event::BookReplace(BookReplace {
            old_order: old.id,
            new_order: new_id,
            instrument: old.instrument,
            price: resting.price,
            display_qty: resting.displayed,
        }));
    }

    // ----- mass cancel and admin -----

    fn mass_cancel(&mut self, mass: &MassCancel, out: &mut Vec<Event>) {
        let reason = if mass
            .account
            .is_some_and(|account| !self.account_known(account))
        {
            Some(RejectReason::UnknownAccount)
        } else if mass
            .instrument
            .is_some_and(|instrument| self.instrument(instrument).is_none())
        {
            Some(RejectReason::UnknownInstrument)
        } else {
            None
        };
        if let Some(reason) = reason {
            out.push(rejected(
                mass.account.unwrap_or_default(),
                mass.session,
                mass.client_ref,
                mass.instrument.unwrap_or_default(),
                OrderId::NONE,
                CommandKind::MassCancel,
                reason,
            ));
            return;
        }
        let filter = OrderFilter {
            account: mass.account,
            instrument: mass.instrument,
            session: None,
        };
        let count = self.cancel_matching(filter, CancelReason::MassCancel, |_| true, out);
        out.push(Event::MassCancelled(MassCancelled {
            account: mass.account,
            instrument: mass.instrument,
            session: mass.session,
            client_ref: mass.client_ref,
            cancelled_count: count,
        }));
    }

    fn set_trading_status(
        &mut self,
        instrument: InstrumentId,
        status: TradingStatus,
        out: &mut Vec<Event>,
    ) {
        let Some(slot) = self.status.get_mut(instrument.0 as usize) else {
            out.push(rejected(
                AccountId(0),
                SessionId(0),
                0,
                instrument,
                OrderId::NONE,
                CommandKind::SetTradingStatus,
                RejectReason::UnknownInstrument,
            ));
            return;
        };
        *slot = status;
        out.push(Event::TradingStatus { instrument, status });
    }

    fn end_of_day(&mut self, out: &mut Vec<Event>) {
        let is_day = |order: &OrderView| order.time_in_force == TimeInForce::Day;
        let count =
            self.cancel_matching(OrderFilter::default(), CancelReason::EndOfDay, is_day, out);
        out.push(Event::ControlAck(ControlAck {
            command: CommandKind::EndOfDay,
            account: AccountId(0),
            instrument: InstrumentId(0),
            value: i64::from(count),
        }));
    }

    /// The ids of resting orders matching `filter` and `keep`, in cancellation order: by
    /// ascending id when an account is named, else the instrument walk.
    fn select(&self, filter: OrderFilter, keep: impl Fn(&OrderView) -> bool) -> Vec<OrderId> {
        let matches = |order: &OrderView| {
            filter
                .account
                .is_none_or(|account| order.account == account)
                && filter
                    .instrument
                    .is_none_or(|instrument| order.instrument == instrument)
                && filter
                    .session
                    .is_none_or(|session| order.session == session)
                && keep(order)
        };
        // books are in instrument order, bids then asks, each in priority: the walk order.
        let mut ids: Vec<OrderId> = self
            .books
            .iter()
            .flatten()
            .flatten()
            .filter(|o| matches(o))
            .map(|o| o.id)
            .collect();
        if filter.account.is_some() {
            ids.sort();
        }
        ids
    }

    fn cancel_matching(
        &mut self,
        filter: OrderFilter,
        reason: CancelReason,
        keep: impl Fn(&OrderView) -> bool,
        out: &mut Vec<Event>,
    ) -> u32 {
        let ids = self.select(filter, keep);
        for id in &ids {
            let order = self.order(*id).expect("selected order rests");
            let index = self
                .queue(order.instrument, order.side)
                .iter()
                .position(|resting| resting.id == *id)
                .expect("selected order is in its queue");
            self.remove_with(order.instrument, order.side, index, reason, out);
        }
        u32::try_from(ids.len()).expect("count fits u32")
    }
}

/// The display size a replace asks for (as `Replaced.display_qty` reports it).
fn replace_display(replace: &ReplaceOrder) -> Qty {
    Qty(display_size(
        iceberg_peak(replace.qty, replace.display_qty).0,
        replace.qty.0,
    ))
}

/// `ZeroQty`, `QtyNotLotMultiple`, `QtyAboveInstrumentMax`, in that order.
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

/// `PriceOutOfBand` then `PriceNotTickMultiple`.
fn check_price(rules: &InstrumentConfig, price: Price) -> Result<(), RejectReason> {
    if price < rules.min_price || price > rules.max_price {
        return Err(RejectReason::PriceOutOfBand);
    }
    if price.0 % rules.tick_size.0 != 0 {
        return Err(RejectReason::PriceNotTickMultiple);
    }
    Ok(())
}

/// One side of the feed's book: (order id, price, displayed) in priority order.
pub type FeedQueue = Vec<(OrderId, Price, Qty)>;

/// An order-by-order book rebuilt from the book-change events alone, as a market-data feed
/// would: checks the contract's feed-consistency invariant (the events describe the displayed
/// book exactly, including the queue order within each level).
#[derive(Clone, Debug, Default)]
pub struct FeedBook {
    /// Per (instrument, side): (order id, price, displayed) in book priority.
    queues: std::collections::BTreeMap<(u32, usize), FeedQueue>,
    /// Side of each order the feed has seen added.
    sides: std::collections::BTreeMap<OrderId, (u32, Side)>,
}

impl FeedBook {
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::BookAdd(add) => self.add(
                add.order,
                add.instrument,
                add.side,
                add.price,
                add.display_qty,
            ),
            Event::BookReduce(reduce) => {
                let entry = self.entry(reduce.order);
                assert!(
                    entry.2 > reduce.qty,
                    "BookReduce must leave display: {reduce:?}"
                );
                entry.2 .0 -= reduce.qty.0;
            }
            Event::BookDelete(delete) => self.remove(delete.order),
            Event::BookReplace(replace) => {
                let (_, side) = self.sides[&replace.old_order];
                self.remove(replace.old_order);
                self.add(
                    replace.new_order,
                    replace.instrument,
                    side,
                    replace.price,
                    replace.display_qty,
                );
            }
            Event::Executed(executed) => {
                let entry = self.entry(executed.maker_order);
                assert!(
                    entry.2 >= executed.qty,
                    "Executed above display: {executed:?}"
                );
                entry.2 .0 -= executed.qty.0;
                if entry.2 .0 == 0 {
                    self.remove(executed.maker_order);
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, id: OrderId, instrument: InstrumentId, side: Side, price: Price, qty: Qty) {
        assert!(qty.0 > 0, "BookAdd with zero display");
        assert!(
            self.sides.insert(id, (instrument.0, side)).is_none(),
            "{id:?} added twice"
        );
        let queue = self.queues.entry((instrument.0, side.index())).or_default();
        let position = queue
            .iter()
            .position(|&(_, resting_price, _)| better(side, price, resting_price))
            .unwrap_or(queue.len());
        queue.insert(position, (id, price, qty));
    }

    fn remove(&mut self, id: OrderId) {
        let (instrument, side) = self.sides.remove(&id).expect("feed knows the order");
        let queue = self
            .queues
            .get_mut(&(instrument, side.index()))
            .expect("queue exists");
        let index = queue
            .iter()
            .position(|entry| entry.0 == id)
            .expect("order in its queue");
        queue.remove(index);
    }

    fn entry(&mut self, id: OrderId) -> &mut (OrderId, Price, Qty) {
        let (instrument, side) = self.sides[&id];
        let queue = self
            .queues
            .get_mut(&(instrument, side.index()))
            .expect("queue exists");
        queue
            .iter_mut()
            .find(|entry| entry.0 == id)
            .expect("order in its queue")
    }

    /// The displayed book of one side: (id, price, displayed) in priority order.
    pub fn side(&self, instrument: InstrumentId, side: Side) -> Vec<(OrderId, Price, Qty)> {
        self.queues
            .get(&(instrument.0, side.index()))
            .cloned()
            .unwrap_or_default()
    }
}

/// The displayed book of resting orders as the feed sees it.
pub fn displayed(orders: &[OrderView]) -> Vec<(OrderId, Price, Qty)> {
    orders
        .iter()
        .map(|order| (order.id, order.price, order.displayed))
        .collect()
}
