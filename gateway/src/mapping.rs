//! OUCH 5.0 ⇄ engine: inbound messages become [`Command`]s, engine [`Event`]s become outbound
//! messages for the session that owns the order.
//!
//! [`OrderEntry`] is one session's state: its account, session id and firm, the last UserRefNum
//! of each UserRefIdx channel, and an [`OrderTable`] of its live orders (so that events, which
//! carry engine [`OrderId`]s, can be answered with the client's UserRefNum and ClOrdID).
//!
//! Rules taken from the PDF:
//! - UserRefNum must be "unique and strictly increasing" per port or UserRefIdx channel, and
//!   "the system ignores new order requests identified with UserRefNums lower than the last one
//!   processed, assuming they are retransmissions" (§1.2). A number not above the last one is
//!   therefore ignored (never reaches the engine, never answered: answering would repeat the
//!   original's reference). Gaps are allowed: the PDF asks for increasing numbers, not
//!   consecutive ones.
//! - A Rejected consumes its UserRefNum (§3.8); a Replace naming an order that is not live is
//!   ignored without consuming the replacement's number (§2.2, case 1); superfluous cancels are
//!   ignored (§2.3), so engine rejects of Cancel/Reduce send nothing.
//! - A Modify may change the side only among sell, sell short and sell short exempt, and never
//!   raise the quantity; other requests are ignored (§2.4).
//! - On a Replace, options left out take the original order's values (Appendix A, note 2).
//!
//! # Invariants
//! - A message is judged completely before any state changes: a command is returned only for a
//!   message that passed every check, and its UserRefNum is consumed exactly then (or when a
//!   Rejected is returned).
//! - The order table never grows; when it is full, new orders and replaces are rejected with
//!   [`RejectCode::ProcessingError`].
//! - [`reject_code`] and [`cancel_reason`] are exhaustive tables over the engine's enums.

use peregrine_engine::{
    event, AccountId, CancelOrder, Command, CommandKind, EngineConfig, Event, InstrumentId,
    MassCancel as EngineMassCancel, NewOrder, OrderId, OrderType, Price, Qty, ReduceOrder,
    RejectReason, ReplaceOrder as EngineReplaceOrder, SessionId, Side as EngineSide, StpMode,
    TimeInForce as EngineTimeInForce, TradingStatus,
};

use crate::orders::{OrderRecord, OrderTable, Pending, UserRef};
use crate::ouch::inbound::{
    CancelOrder as OuchCancel, EnterOrder, MassCancel, ModifyOrder, ReplaceOrder,
};
use crate::ouch::options::{CustomerType, HandleInst, PriceType};
use crate::ouch::{
    is_market_price, AccountQueryResponse, CancelReason, ClOrdId, CrossType, Display, Error, Firm,
    Inbound, LiquidityFlag, MassCancelResponse, Options, OrderAccepted, OrderCanceled,
    OrderExecuted, OrderModified, OrderReplaced, OrderRestated, OrderState, Outbound, RejectCode,
    Rejected, RestateReason, Side, Symbol, TimeInForce, MARKET_PRICE,
};

const BLANK_SYMBOL: Symbol = [b' '; 8];
const BLANK_CL_ORD_ID: ClOrdId = [b' '; 14];
const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// Nanoseconds since (UTC) midnight: OUCH timestamps from the sequencer's Unix time.
pub const fn ns_since_midnight(unix_ns: u64) -> u64 {
    unix_ns % NS_PER_DAY
}

/// The instruments' symbols, for looking up an OUCH symbol and printing an engine instrument.
/// Built once at start-up from the engine configuration; shared by every session.
#[derive(Clone, Debug)]
pub struct Instruments {
    /// Sorted by symbol, for binary search.
    by_symbol: Box<[(Symbol, InstrumentId)]>,
    /// Index = `InstrumentId`.
    symbols: Box<[Symbol]>,
}

impl Instruments {
    pub fn new(config: &EngineConfig) -> Instruments {
        let symbols: Box<[Symbol]> = config
            .instruments
            .iter()
            .map(|instrument| instrument.symbol)
            .collect();
        let mut by_symbol: Vec<(Symbol, InstrumentId)> = symbols
            .iter()
            .enumerate()
            .map(|(index, &symbol)| (symbol, InstrumentId(index as u32)))
            .collect();
        by_symbol.sort_unstable();
        Instruments {
            by_symbol: by_symbol.into_boxed_slice(),
            symbols,
        }
    }

    pub fn lookup(&self, symbol: &Symbol) -> Option<InstrumentId> {
        let index = self
            .by_symbol
            .binary_search_by(|(known, _)| known.cmp(symbol))
            .ok()?;
        Some(self.by_symbol[index].1)
    }

    pub fn symbol(&self, instrument: InstrumentId) -> Option<Symbol> {
        self.symbols.get(instrument.0 as usize).copied()
    }
}

/// Who a session is, as far as the engine is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionContext {
    pub account: AccountId,
    pub session: SessionId,
    /// The port's firm: a Firm option or field must be blank or equal to it.
    pub firm: Firm,
}

/// Why an inbound message produced nothing (count it, log it; the spec says to stay silent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// The UserRefNum is not above the last one of its channel: a retransmission (§1.2).
    StaleUserRefNum,
    /// No live order of this session has that UserRefNum (§2.2 case 1, §2.3, §2.4).
    UnknownOrder,
    /// A Modify that changes nothing or raises the quantity (§2.4).
    ModifyNoChange,
    /// A Modify to a side the spec does not allow (§2.4).
    ModifySideNotAllowed,
    /// A Modify on an order the engine has not acknowledged yet.
    NotYetAccepted,
    /// Bytes that are not a message and cannot be answered with a Rejected.
    Malformed(Error),
}

/// What to do with one inbound message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundAction {
    /// Send the command to the core.
    Submit(Command),
    /// Send this sequenced message to the client; nothing goes to the core.
    Reply(Outbound),
    /// A cancel for an order not yet accepted: it is submitted when the `Accepted` arrives.
    Deferred,
    Ignore(IgnoreReason),
}

/// What one engine event means for this session: up to two outbound messages (a trade between
/// two orders of the same session) and possibly a deferred command to submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EventOutput {
    pub messages: [Option<Outbound>; 2],
    pub command: Option<Command>,
}

impl EventOutput {
    const NONE: EventOutput = EventOutput {
        messages: [None, None],
        command: None,
    };

    fn one(message: Outbound) -> EventOutput {
        EventOutput {
            messages: [Some(message), None],
            command: None,
        }
    }

    fn push(&mut self, message: Outbound) {
        let free = self.messages.iter_mut().find(|slot| slot.is_none());
        let free = free.expect("an event yields at most two messages");
        *free = Some(message);
    }

    /// The messages, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Outbound> {
        self.messages.iter().flatten()
    }
}

/// One OUCH session's order-entry state.
#[derive(Debug)]
pub struct OrderEntry {
    context: SessionContext,
    orders: OrderTable,
    /// Last UserRefNum consumed on each UserRefIdx channel (0 = none yet).
    last_user_ref: Box<[u32; 256]>,
}

fn user_ref(options: &Options, num: u32) -> UserRef {
    UserRef {
        index: options.user_ref_idx.unwrap_or(0),
        num,
    }
}

/// The UserRefIdx option echoed on outbound messages (absent for channel 0).
fn echo(user_ref: UserRef) -> Options {
    Options::user_ref_idx((user_ref.index != 0).then_some(user_ref.index))
}

fn engine_side(side: Side) -> EngineSide {
    match side {
        Side::Buy => EngineSide::Buy,
        Side::Sell | Side::SellShort | Side::SellShortExempt => EngineSide::Sell,
    }
}

fn wire_price(price: Price) -> u64 {
    u64::try_from(price.0).unwrap_or(0)
}

impl OrderEntry {
    /// A session's state with room for `order_capacity` live orders (all memory taken here).
    pub fn new(context: SessionContext, order_capacity: u32) -> OrderEntry {
        OrderEntry {
            context,
            orders: OrderTable::new(order_capacity),
            last_user_ref: Box::new([0; 256]),
        }
    }

    pub fn context(&self) -> &SessionContext {
        &self.context
    }

    /// Live orders (and orders awaiting the engine's answer) of this session.
    pub fn open_orders(&self) -> usize {
        self.orders.len()
    }

    /// The Account Query answer for a channel: one above the last UserRefNum consumed.
    pub fn next_user_ref_num(&self, index: u8) -> u32 {
        self.last_user_ref[usize::from(index)].saturating_add(1)
    }

    fn is_fresh(&self, user_ref: UserRef) -> bool {
        user_ref.num > self.last_user_ref[usize::from(user_ref.index)]
    }

    fn consume(&mut self, user_ref: UserRef) {
        assert!(self.is_fresh(user_ref));
        self.last_user_ref[usize::from(user_ref.index)] = user_ref.num;
    }

    fn rejected(
        timestamp_ns: u64,
        user_ref: UserRef,
        cl_ord_id: ClOrdId,
        code: RejectCode,
    ) -> Outbound {
        Outbound::Rejected(Rejected {
            timestamp_ns,
            user_ref_num: user_ref.num,
            reason: code,
            cl_ord_id,
            options: echo(user_ref),
        })
    }

    /// Judges one Unsequenced Data payload. A message that does not parse is answered with a
    /// Rejected when it is an Enter or Replace Order whose UserRefNum and ClOrdID can be read
    /// (channel 0), and ignored otherwise.
    pub fn on_message(
        &mut self,
        instruments: &Instruments,
        timestamp_ns: u64,
        bytes: &[u8],
    ) -> InboundAction {
        let error = match Inbound::parse(bytes) {
            Ok(message) => return self.on_inbound(instruments, timestamp_ns, &message),
            Err(error) => error,
        };
        let Some((num, cl_ord_id)) = Inbound::reject_context(bytes) else {
            return InboundAction::Ignore(IgnoreReason::Malformed(error));
        };
        let user_ref = UserRef { index: 0, num };
        if !self.is_fresh(user_ref) {
            return InboundAction::Ignore(IgnoreReason::StaleUserRefNum);
        }
        self.consume(user_ref);
        InboundAction::Reply(Self::rejected(
            timestamp_ns,
            user_ref,
            cl_ord_id,
            error.reject,
        ))
    }

    /// Judges one parsed inbound message.
    pub fn on_inbound(
        &mut self,
        instruments: &Instruments,
        timestamp_ns: u64,
        message: &Inbound,
    ) -> InboundAction {
        match message {
            Inbound::EnterOrder(enter) => self.on_enter(instruments, timestamp_ns, enter),
            Inbound::ReplaceOrder(replace) => self.on_replace(timestamp_ns, replace),
            Inbound::CancelOrder(cancel) => self.on_cancel(cancel),
            Inbound::ModifyOrder(modify) => self.on_modify(timestamp_ns, modify),
            Inbound::MassCancel(mass) => self.on_mass_cancel(instruments, timestamp_ns, mass),
            Inbound::DisableOrderEntry(control) | Inbound::EnableOrderEntry(control) => {
                // Not supported: the engine has no per-session order-entry switch (its
                // BlockAccount also cancels every order, which Disable must not do).
                let user_ref = user_ref(&control.options, control.user_ref_num);
                if !self.is_fresh(user_ref) {
                    return InboundAction::Ignore(IgnoreReason::StaleUserRefNum);
                }
                self.consume(user_ref);
                let code = RejectCode::Other;
                InboundAction::Reply(Self::rejected(
                    timestamp_ns,
                    user_ref,
                    BLANK_CL_ORD_ID,
                    code,
                ))
            }
            Inbound::AccountQuery(query) => {
                let index = query.options.user_ref_idx.unwrap_or(0);
                InboundAction::Reply(Outbound::AccountQueryResponse(AccountQueryResponse {
                    timestamp_ns,
                    next_user_ref_num: self.next_user_ref_num(index),
                    options: query.options,
                }))
            }
        }
    }

    fn on_enter(
        &mut self,
        instruments: &Instruments,
        timestamp_ns: u64,
        enter: &EnterOrder,
    ) -> InboundAction {
        let user_ref = user_ref(&enter.options, enter.user_ref_num);
        if !self.is_fresh(user_ref) {
            return InboundAction::Ignore(IgnoreReason::StaleUserRefNum);
        }
        self.consume(user_ref);
        match self.new_order(instruments, user_ref, enter) {
            Ok(command) => InboundAction::Submit(command),
            Err(code) => InboundAction::Reply(Self::rejected(
                timestamp_ns,
                user_ref,
                enter.cl_ord_id,
                code,
            )),
        }
    }

    fn new_order(
        &mut self,
        instruments: &Instruments,
        user_ref: UserRef,
        enter: &EnterOrder,
    ) -> Result<Command, RejectCode> {
        let instrument = instruments
            .lookup(&enter.symbol)
            .ok_or(RejectCode::InvalidSymbol)?;
        check_enter_support(enter, &self.context.firm)?;
        let market = is_market_price(enter.price);
        let (order_type, price) = if market {
            (OrderType::Market, Price(0))
        } else {
            // Parse bounded the price by PRICE_MAX, far below i64::MAX.
            (
                OrderType::Limit,
                Price(i64::try_from(enter.price).map_err(|_| RejectCode::InvalidPrice)?),
            )
        };
        let options = &enter.options;
        let record = OrderRecord {
            user_ref,
            order: OrderId::NONE,
            instrument,
            side: enter.side,
            time_in_force: enter.time_in_force,
            display: enter.display,
            capacity: enter.capacity,
            cl_ord_id: enter.cl_ord_id,
            market,
            min_qty: options.min_qty.unwrap_or(0),
            max_floor: options.max_floor.unwrap_or(0),
            post_only: options.post_only.unwrap_or(false),
            leaves_qty: enter.quantity,
            executed_qty: 0,
            pending: Pending::None,
        };
        self.orders
            .insert(record)
            .map_err(|_| RejectCode::ProcessingError)?;
        Ok(Command::NewOrder(NewOrder {
            account: self.context.account,
            session: self.context.session,
            client_ref: user_ref.client_ref(),
            instrument,
            side: engine_side(enter.side),
            order_type,
            time_in_force: engine_time_in_force(enter.time_in_force),
            price,
            qty: Qty(enter.quantity),
            display_qty: Qty(record.max_floor),
            min_qty: Qty(record.min_qty),
            post_only: record.post_only,
            stp: StpMode::AccountDefault,
        }))
    }

    fn on_replace(&mut self, timestamp_ns: u64, replace: &ReplaceOrder) -> InboundAction {
        let user_ref = user_ref(&replace.options, replace.user_ref_num);
        if !self.is_fresh(user_ref) {
            return InboundAction::Ignore(IgnoreReason::StaleUserRefNum);
        }
        let original = UserRef {
            index: user_ref.index,
            num: replace.orig_user_ref_num,
        };
        let Some(slot) = self.orders.find_ref(original) else {
            return InboundAction::Ignore(IgnoreReason::UnknownOrder);
        };
        self.consume(user_ref);
        let old = *self.orders.get(slot);
        match self.replace_order(old, user_ref, replace) {
            Ok(command) => InboundAction::Submit(command),
            Err(code) => InboundAction::Reply(Self::rejected(
                timestamp_ns,
                user_ref,
                replace.cl_ord_id,
                code,
            )),
        }
    }

    fn replace_order(
        &mut self,
        old: OrderRecord,
        user_ref: UserRef,
        replace: &ReplaceOrder,
    ) -> Result<Command, RejectCode> {
        check_replace_support(&old, replace)?;
        let options = &replace.options;
        let side = options.side.unwrap_or(old.side);
        let open_qty = replace
            .quantity
            .checked_sub(old.executed_qty)
            .filter(|&open| open > 0);
        let open_qty = open_qty.ok_or(RejectCode::InvalidQuantity)?;
        let max_floor = options.max_floor.unwrap_or(old.max_floor);
        let price = i64::try_from(replace.price).map_err(|_| RejectCode::InvalidPrice)?;
        let record = OrderRecord {
            user_ref,
            order: OrderId::NONE,
            side,
            time_in_force: replace.time_in_force,
            display: replace.display,
            cl_ord_id: replace.cl_ord_id,
            max_floor,
            leaves_qty: open_qty,
            pending: Pending::None,
            ..old
        };
        self.orders
            .insert(record)
            .map_err(|_| RejectCode::ProcessingError)?;
        Ok(Command::Replace(EngineReplaceOrder {
            account: self.context.account,
            session: self.context.session,
            client_ref: user_ref.client_ref(),
            order: old.order,
            price: Price(price),
            qty: Qty(open_qty),
            display_qty: Qty(max_floor),
        }))
    }

    fn cancel_command(&self, record: &OrderRecord, quantity: u32) -> Command {
        let (account, session) = (self.context.account, self.context.session);
        let client_ref = record.user_ref.client_ref();
        if quantity == 0 {
            Command::Cancel(CancelOrder {
                account,
                session,
                client_ref,
                order: record.order,
            })
        } else {
            Command::Reduce(ReduceOrder {
                account,
                session,
                client_ref,
                order: record.order,
                leaves_qty: Qty(quantity),
            })
        }
    }

    fn on_cancel(&mut self, cancel: &OuchCancel) -> InboundAction {
        let user_ref = user_ref(&cancel.options, cancel.user_ref_num);
        let Some(slot) = self.orders.find_ref(user_ref) else {
            return InboundAction::Ignore(IgnoreReason::UnknownOrder);
        };
        let record = self.orders.get_mut(slot);
        if record.order == OrderId::NONE {
            record.pending = Pending::DeferredCancel {
                quantity: cancel.quantity,
            };
            return InboundAction::Deferred;
        }
        let record = *record;
        InboundAction::Submit(self.cancel_command(&record, cancel.quantity))
    }

    fn on_modify(&mut self, timestamp_ns: u64, modify: &ModifyOrder) -> InboundAction {
        let user_ref = user_ref(&modify.options, modify.user_ref_num);
        let Some(slot) = self.orders.find_ref(user_ref) else {
            return InboundAction::Ignore(IgnoreReason::UnknownOrder);
        };
        let record = *self.orders.get(slot);
        if record.order == OrderId::NONE {
            return InboundAction::Ignore(IgnoreReason::NotYetAccepted);
        }
        if engine_side(record.side) != engine_side(modify.side) {
            return InboundAction::Ignore(IgnoreReason::ModifySideNotAllowed);
        }
        if modify.quantity < record.leaves_qty {
            self.orders.get_mut(slot).pending = Pending::Modify { side: modify.side };
            return InboundAction::Submit(self.cancel_command(&record, modify.quantity));
        }
        if modify.side == record.side {
            return InboundAction::Ignore(IgnoreReason::ModifyNoChange);
        }
        self.orders.get_mut(slot).side = modify.side;
        InboundAction::Reply(Outbound::OrderModified(OrderModified {
            timestamp_ns,
            user_ref_num: user_ref.num,
            side: modify.side,
            quantity: record.leaves_qty,
            options: echo(user_ref),
        }))
    }

    fn on_mass_cancel(
        &mut self,
        instruments: &Instruments,
        timestamp_ns: u64,
        mass: &MassCancel,
    ) -> InboundAction {
        let user_ref = user_ref(&mass.options, mass.user_ref_num);
        if !self.is_fresh(user_ref) {
            return InboundAction::Ignore(IgnoreReason::StaleUserRefNum);
        }
        self.consume(user_ref);
        let firm_ok = mass.firm == [b' '; 4] || mass.firm == self.context.firm;
        let instrument = if mass.symbol == BLANK_SYMBOL {
            Ok(None)
        } else {
            instruments
                .lookup(&mass.symbol)
                .map(Some)
                .ok_or(RejectCode::InvalidSymbol)
        };
        let code = match (firm_ok, instrument, mass.options.side) {
            (false, _, _) => RejectCode::FirmNotAuthorized,
            (true, Err(code), _) => code,
            // The engine cannot cancel one side only.
            (true, Ok(_), Some(_)) => RejectCode::Other,
            (true, Ok(instrument), None) => {
                if mass.options.group_id.is_some_and(|group| group != 0) {
                    // Orders never carry a Group ID here, so none matches: nothing to cancel.
                    return InboundAction::Reply(Outbound::MassCancelResponse(
                        MassCancelResponse {
                            timestamp_ns,
                            user_ref_num: mass.user_ref_num,
                            firm: mass.firm,
                            symbol: mass.symbol,
                            options: mass.options,
                        },
                    ));
                }
                return InboundAction::Submit(Command::MassCancel(EngineMassCancel {
                    account: Some(self.context.account),
                    instrument,
                    session: self.context.session,
                    client_ref: user_ref.client_ref(),
                }));
            }
        };
        InboundAction::Reply(Self::rejected(
            timestamp_ns,
            user_ref,
            BLANK_CL_ORD_ID,
            code,
        ))
    }
}

fn engine_time_in_force(time_in_force: TimeInForce) -> EngineTimeInForce {
    match time_in_force {
        TimeInForce::Ioc => EngineTimeInForce::Ioc,
        // Only Day reaches here besides IOC: the others are rejected by the support checks.
        TimeInForce::Day | TimeInForce::Gtx | TimeInForce::Gtt | TimeInForce::AfterHours => {
            EngineTimeInForce::Day
        }
    }
}

/// Judges what this venue supports of an order's instructions (shared by Enter and Replace).
fn check_instructions(
    time_in_force: TimeInForce,
    display: Display,
    sweep: bool,
    options: &Options,
) -> Result<(), RejectCode> {
    match time_in_force {
        TimeInForce::Day | TimeInForce::Ioc => {}
        TimeInForce::Gtx | TimeInForce::Gtt | TimeInForce::AfterHours => {
            return Err(RejectCode::Other)
        }
    }
    match display {
        Display::Visible | Display::Attributable => {}
        Display::Hidden | Display::Conformant => return Err(RejectCode::InvalidDisplay),
    }
    if sweep {
        return Err(RejectCode::IsoNotAllowed);
    }
    let not_limit =
        |price_type: Option<PriceType>| price_type.is_some_and(|t| t != PriceType::Limit);
    let nonzero = |value: Option<i32>| value.is_some_and(|v| v != 0);
    if not_limit(options.price_type)
        || not_limit(options.discretion_price_type)
        || nonzero(options.peg_offset)
        || nonzero(options.discretion_peg_offset)
        || options.discretion_price.is_some_and(|price| price != 0)
    {
        return Err(RejectCode::PeggingNotAllowed);
    }
    if options.random_reserves.is_some_and(|shares| shares != 0) {
        return Err(RejectCode::InvalidMaxFloor);
    }
    let expires = options.expire_time_s.is_some_and(|seconds| seconds != 0);
    let handled = options
        .handle_inst
        .is_some_and(|inst| inst != HandleInst::NoInstructions);
    if expires || handled {
        return Err(RejectCode::Other);
    }
    Ok(())
}

fn check_enter_support(enter: &EnterOrder, firm: &Firm) -> Result<(), RejectCode> {
    let options = &enter.options;
    if options
        .firm
        .is_some_and(|given| given != [b' '; 4] && given != *firm)
    {
        return Err(RejectCode::FirmNotAuthorized);
    }
    if enter.cross_type != CrossType::Continuous {
        return Err(RejectCode::InvalidCrossOrder);
    }
    check_instructions(
        enter.time_in_force,
        enter.display,
        enter.intermarket_sweep,
        options,
    )?;
    if options.customer_type == Some(CustomerType::Retail) {
        return Err(RejectCode::RetailNotAllowed);
    }
    if options.group_id.is_some_and(|group| group != 0) {
        return Err(RejectCode::Other);
    }
    Ok(())
}

fn check_replace_support(old: &OrderRecord, replace: &ReplaceOrder) -> Result<(), RejectCode> {
    if old.order == OrderId::NONE {
        // The original has not been accepted yet: there is no engine order to replace.
        return Err(RejectCode::ReplaceNotAllowed);
    }
    if is_market_price(replace.price) {
        return Err(RejectCode::InvalidPrice);
    }
    check_instructions(
        replace.time_in_force,
        replace.display,
        replace.intermarket_sweep,
        &replace.options,
    )?;
    let options = &replace.options;
    if replace.time_in_force != old.time_in_force
        || options
            .post_only
            .is_some_and(|post_only| post_only != old.post_only)
    {
        // The engine keeps the original's time in force and post-only flag.
        return Err(RejectCode::ReplaceNotAllowed);
    }
    if options.min_qty.is_some_and(|qty| qty != 0) {
        // A replacement re-enters without a fill requirement.
        return Err(RejectCode::InvalidMinQuantity);
    }
    if options
        .side
        .is_some_and(|side| engine_side(side) != engine_side(old.side))
    {
        return Err(RejectCode::InvalidSide);
    }
    Ok(())
}

/// The OUCH reject code (Appendix C) for an engine or risk reject reason.
pub const fn reject_code(reason: RejectReason) -> RejectCode {
    match reason {
        RejectReason::UnknownInstrument => RejectCode::InvalidSymbol,
        RejectReason::UnknownAccount => RejectCode::FirmNotAuthorized,
        RejectReason::InstrumentHalted => RejectCode::Halted,
        RejectReason::ZeroQty => RejectCode::InvalidQuantity,
        RejectReason::QtyNotLotMultiple => RejectCode::InvalidQuantity,
        RejectReason::QtyAboveInstrumentMax => RejectCode::SharesExceedThreshold,
        RejectReason::PriceNotTickMultiple => RejectCode::InvalidPrice,
        RejectReason::PriceOutOfBand => RejectCode::InvalidPrice,
        RejectReason::InvalidDisplayQty => RejectCode::InvalidMaxFloor,
        RejectReason::InvalidMinQty => RejectCode::InvalidMinQuantity,
        RejectReason::InvalidMarketOrder => RejectCode::Other,
        RejectReason::PostOnlyWouldTake => RejectCode::CrossedMarket,
        RejectReason::UnknownOrder => RejectCode::ReplaceNotAllowed,
        RejectReason::OrderCapacity => RejectCode::ProcessingError,
        RejectReason::LevelCapacity => RejectCode::ProcessingError,
        RejectReason::ReduceNotLower => RejectCode::InvalidQuantity,
        RejectReason::ReplaceNoChange => RejectCode::ReplaceNotAllowed,
        RejectReason::InvalidMassCancel => RejectCode::FirmNotAuthorized,
        RejectReason::InstrumentClosed => RejectCode::DestinationClosed,
        RejectReason::NotAllowedInPhase => RejectCode::InvalidCrossOrder,
        RejectReason::InvalidTradingStatus => RejectCode::Other,
        RejectReason::RiskMaxOrderQty => RejectCode::RiskMaxQuantityExceeded,
        RejectReason::RiskMaxOrderNotional => RejectCode::RiskSingleOrderNotionalExceeded,
        RejectReason::RiskPriceCollar => RejectCode::RiskFatFinger,
        RejectReason::RiskMaxOpenOrders => RejectCode::RiskAggregateExposureExceeded,
        RejectReason::RiskCreditLimit => RejectCode::RiskAggregateExposureExceeded,
        RejectReason::RiskNetPosition => RejectCode::RiskAggregateExposureExceeded,
        RejectReason::RiskGrossPosition => RejectCode::RiskAggregateExposureExceeded,
        RejectReason::RiskThrottle => RejectCode::RiskPortMessageRateRestriction,
        RejectReason::RiskAccountBlocked => RejectCode::FirmNotAuthorized,
        RejectReason::RiskInvalidLimit => RejectCode::Other,
    }
}

/// The OUCH cancel reason (Appendix B) for an engine cancel reason.
pub const fn cancel_reason(reason: event::CancelReason) -> CancelReason {
    match reason {
        event::CancelReason::UserRequested => CancelReason::UserRequested,
        event::CancelReason::Reduced => CancelReason::UserRequested,
        event::CancelReason::ImmediateOrCancel => CancelReason::ImmediateOrCancel,
        // Cancelled on arrival because the minimum could not execute: an immediate cancel.
        event::CancelReason::MinQtyNotMet => CancelReason::ImmediateOrCancel,
        event::CancelReason::SelfTrade => CancelReason::SelfMatchPrevention,
        event::CancelReason::MassCancel => CancelReason::UserRequested,
        event::CancelReason::KillSwitch => CancelReason::Supervisory,
        event::CancelReason::Disconnect => CancelReason::SystemCancel,
        // A DAY order's time in force expired.
        event::CancelReason::EndOfDay => CancelReason::Timeout,
    }
}

impl OrderEntry {
    /// Turns one engine event into this session's outbound messages. Events of other sessions
    /// give nothing. Order records are created by inbound messages, bound to engine ids by
    /// `Accepted`/`Replaced`, and dropped when the order has no open shares left.
    pub fn on_event(
        &mut self,
        instruments: &Instruments,
        timestamp_ns: u64,
        event: &Event,
    ) -> EventOutput {
        let mine = self.context.session;
        match event {
            Event::Accepted(accepted) if accepted.session == mine => {
                self.on_accepted(instruments, timestamp_ns, accepted)
            }
            Event::Rejected(rejected) if rejected.session == mine => {
                self.on_rejected(timestamp_ns, rejected)
            }
            Event::Executed(executed) => self.on_executed(timestamp_ns, executed),
            Event::Cancelled(cancelled) if cancelled.session == mine => {
                self.on_cancelled(timestamp_ns, cancelled)
            }
            Event::Replaced(replaced) if replaced.session == mine => {
                self.on_replaced(instruments, timestamp_ns, replaced)
            }
            Event::Restated(restated) if restated.session == mine => {
                self.on_restated(timestamp_ns, restated)
            }
            Event::MassCancelled(done) if done.session == mine => {
                let Some(user_ref) = UserRef::from_client_ref(done.client_ref) else {
                    return EventOutput::NONE;
                };
                let symbol = done.instrument.and_then(|id| instruments.symbol(id));
                EventOutput::one(Outbound::MassCancelResponse(MassCancelResponse {
                    timestamp_ns,
                    user_ref_num: user_ref.num,
                    firm: self.context.firm,
                    symbol: symbol.unwrap_or(BLANK_SYMBOL),
                    options: echo(user_ref),
                }))
            }
            Event::AuctionFill(fill) if fill.session == mine => {
                self.on_auction_fill(timestamp_ns, fill)
            }
            Event::Accepted(_)
            | Event::Rejected(_)
            | Event::Cancelled(_)
            | Event::Replaced(_)
            | Event::Restated(_)
            | Event::MassCancelled(_)
            | Event::ControlAck(_)
            | Event::TradingStatus { .. }
            | Event::BookAdd(_)
            | Event::BookReduce(_)
            | Event::BookDelete(_)
            | Event::BookReplace(_)
            | Event::AuctionFill(_)
            | Event::AuctionUncrossed(_)
            | Event::AuctionIndicative(_) => EventOutput::NONE,
        }
    }

    fn on_accepted(
        &mut self,
        instruments: &Instruments,
        timestamp_ns: u64,
        accepted: &event::Accepted,
    ) -> EventOutput {
        let slot =
            UserRef::from_client_ref(accepted.client_ref).and_then(|r| self.orders.find_ref(r));
        let Some(slot) = slot else {
            return EventOutput::NONE;
        };
        self.orders.bind_order(slot, accepted.order);
        let record = self.orders.get_mut(slot);
        record.leaves_qty = accepted.qty.0;
        let deferred = match record.pending {
            Pending::DeferredCancel { quantity } => Some(quantity),
            Pending::None | Pending::Modify { .. } => None,
        };
        record.pending = Pending::None;
        let record = *record;
        let price = if record.market {
            MARKET_PRICE
        } else {
            wire_price(accepted.price)
        };
        let options = Options {
            min_qty: (record.min_qty != 0).then_some(record.min_qty),
            max_floor: (accepted.display_qty != accepted.qty).then_some(accepted.display_qty.0),
            post_only: record.post_only.then_some(true),
            ..echo(record.user_ref)
        };
        let message = Outbound::OrderAccepted(OrderAccepted {
            timestamp_ns,
            user_ref_num: record.user_ref.num,
            side: record.side,
            quantity: accepted.qty.0,
            symbol: instruments
                .symbol(accepted.instrument)
                .unwrap_or(BLANK_SYMBOL),
            price,
            time_in_force: record.time_in_force,
            display: record.display,
            order_reference_number: accepted.order.0,
            capacity: record.capacity,
            intermarket_sweep: false,
            cross_type: CrossType::Continuous,
            order_state: OrderState::Live,
            cl_ord_id: record.cl_ord_id,
            options,
        });
        let command = deferred.map(|quantity| self.cancel_command(&record, quantity));
        EventOutput {
            messages: [Some(message), None],
            command,
        }
    }

    fn on_rejected(&mut self, timestamp_ns: u64, rejected: &event::Rejected) -> EventOutput {
        let Some(user_ref) = UserRef::from_client_ref(rejected.client_ref) else {
            return EventOutput::NONE;
        };
        let slot = self.orders.find_ref(user_ref);
        match rejected.command {
            CommandKind::NewOrder | CommandKind::Replace | CommandKind::MassCancel => {
                let mut cl_ord_id = BLANK_CL_ORD_ID;
                if let Some(slot) = slot {
                    cl_ord_id = self.orders.get(slot).cl_ord_id;
                    // Only the pending record of the rejected order or replacement goes.
                    if self.orders.get(slot).order == OrderId::NONE {
                        self.orders.remove(slot);
                    }
                }
                let code = reject_code(rejected.reason);
                EventOutput::one(Self::rejected(timestamp_ns, user_ref, cl_ord_id, code))
            }
            CommandKind::Cancel | CommandKind::Reduce => {
                // Superfluous cancels are silent (§2.3); a refused Modify leaves the order as is.
                if let Some(slot) = slot {
                    self.orders.get_mut(slot).pending = Pending::None;
                }
                EventOutput::NONE
            }
            CommandKind::SetTradingStatus
            | CommandKind::EndOfDay
            | CommandKind::SetRiskLimit
            | CommandKind::BlockAccount
            | CommandKind::UnblockAccount
            | CommandKind::SetReferencePrice
            | CommandKind::SessionLost => EventOutput::NONE,
        }
    }

    /// One side's Order Executed; drops the record when the order is done.
    fn execution(
        &mut self,
        timestamp_ns: u64,
        order: OrderId,
        leaves: Qty,
        flag: LiquidityFlag,
        executed: &event::Executed,
    ) -> Option<Outbound> {
        let slot = self.orders.find_order(order)?;
        let record = self.orders.get_mut(slot);
        record.executed_qty = record.executed_qty.saturating_add(executed.qty.0);
        record.leaves_qty = leaves.0;
        let user_ref = record.user_ref;
        if leaves.is_zero() {
            self.orders.remove(slot);
        }
        Some(Outbound::OrderExecuted(OrderExecuted {
            timestamp_ns,
            user_ref_num: user_ref.num,
            quantity: executed.qty.0,
            price: wire_price(executed.price),
            liquidity_flag: flag,
            match_number: executed.match_id.0,
            options: echo(user_ref),
        }))
    }

    fn on_executed(&mut self, timestamp_ns: u64, executed: &event::Executed) -> EventOutput {
        let mut output = EventOutput::NONE;
        let mine = self.context.session;
        if executed.maker_session == mine {
            let (order, leaves) = (executed.maker_order, executed.maker_leaves);
            let maker = self.execution(timestamp_ns, order, leaves, LiquidityFlag::Added, executed);
            maker.into_iter().for_each(|message| output.push(message));
        }
        if executed.taker_session == mine {
            let (order, leaves) = (executed.taker_order, executed.taker_leaves);
            let taker = self.execution(
                timestamp_ns,
                order,
                leaves,
                LiquidityFlag::Removed,
                executed,
            );
            taker.into_iter().for_each(|message| output.push(message));
        }
        output
    }

    /// One side of an auction trade: an Order Executed with the cross's liquidity flag; drops
    /// the record when the order is done.
    fn on_auction_fill(&mut self, timestamp_ns: u64, fill: &event::AuctionFill) -> EventOutput {
        let Some(slot) = self.orders.find_order(fill.order) else {
            return EventOutput::NONE;
        };
        let record = self.orders.get_mut(slot);
        record.executed_qty = record.executed_qty.saturating_add(fill.qty.0);
        record.leaves_qty = fill.leaves.0;
        let user_ref = record.user_ref;
        if fill.leaves.is_zero() {
            self.orders.remove(slot);
        }
        let liquidity_flag = match fill.phase {
            TradingStatus::OpeningAuction | TradingStatus::PreOpen => LiquidityFlag::OpeningCross,
            TradingStatus::ClosingAuction | TradingStatus::Closed => LiquidityFlag::ClosingCross,
            TradingStatus::ResumeAuction
            | TradingStatus::VolatilityAuction
            | TradingStatus::BatchAuction
            | TradingStatus::Halted
            | TradingStatus::Trading => LiquidityFlag::HaltCross,
        };
        EventOutput::one(Outbound::OrderExecuted(OrderExecuted {
            timestamp_ns,
            user_ref_num: user_ref.num,
            quantity: fill.qty.0,
            price: wire_price(fill.price),
            liquidity_flag,
            match_number: fill.match_id.0,
            options: echo(user_ref),
        }))
    }

    fn on_cancelled(&mut self, timestamp_ns: u64, cancelled: &event::Cancelled) -> EventOutput {
        let Some(slot) = self.orders.find_order(cancelled.order) else {
            return EventOutput::NONE;
        };
        let record = self.orders.get_mut(slot);
        record.leaves_qty = cancelled.leaves.0;
        let user_ref = record.user_ref;
        let modify = match (record.pending, cancelled.reason) {
            (
                Pending::Modify { side },
                event::CancelReason::Reduced | event::CancelReason::UserRequested,
            ) => Some(side),
            _ => None,
        };
        let message = if let Some(side) = modify {
            record.pending = Pending::None;
            record.side = side;
            Outbound::OrderModified(OrderModified {
                timestamp_ns,
                user_ref_num: user_ref.num,
                side,
                quantity: cancelled.leaves.0,
                options: echo(user_ref),
            })
        } else {
            Outbound::OrderCanceled(OrderCanceled {
                timestamp_ns,
                user_ref_num: user_ref.num,
                quantity: cancelled.cancelled_qty.0,
                reason: cancel_reason(cancelled.reason),
                options: echo(user_ref),
            })
        };
        if cancelled.leaves.is_zero() {
            self.orders.remove(slot);
        }
        EventOutput::one(message)
    }

    fn on_replaced(
        &mut self,
        instruments: &Instruments,
        timestamp_ns: u64,
        replaced: &event::Replaced,
    ) -> EventOutput {
        let new_ref = UserRef::from_client_ref(replaced.client_ref);
        let Some(new_slot) = new_ref.and_then(|r| self.orders.find_ref(r)) else {
            return EventOutput::NONE;
        };
        let mut orig_user_ref_num = 0;
        if let Some(old_slot) = self.orders.find_order(replaced.old_order) {
            let old = self.orders.remove(old_slot);
            orig_user_ref_num = old.user_ref.num;
            self.orders.get_mut(new_slot).executed_qty = old.executed_qty;
        }
        self.orders.bind_order(new_slot, replaced.new_order);
        let record = self.orders.get_mut(new_slot);
        record.leaves_qty = replaced.qty.0;
        let record = *record;
        let options = Options {
            max_floor: (replaced.display_qty != replaced.qty).then_some(replaced.display_qty.0),
            post_only: record.post_only.then_some(true),
            ..echo(record.user_ref)
        };
        EventOutput::one(Outbound::OrderReplaced(OrderReplaced {
            timestamp_ns,
            orig_user_ref_num,
            user_ref_num: record.user_ref.num,
            side: record.side,
            quantity: replaced.qty.0,
            symbol: instruments
                .symbol(replaced.instrument)
                .unwrap_or(BLANK_SYMBOL),
            price: wire_price(replaced.price),
            time_in_force: record.time_in_force,
            display: record.display,
            order_reference_number: replaced.new_order.0,
            capacity: record.capacity,
            intermarket_sweep: false,
            cross_type: CrossType::Continuous,
            order_state: OrderState::Live,
            cl_ord_id: record.cl_ord_id,
            options,
        }))
    }

    fn on_restated(&mut self, timestamp_ns: u64, restated: &event::Restated) -> EventOutput {
        let Some(slot) = self.orders.find_order(restated.order) else {
            return EventOutput::NONE;
        };
        let record = self.orders.get_mut(slot);
        record.leaves_qty = restated.leaves.0;
        let user_ref = record.user_ref;
        let reason = match restated.reason {
            event::RestateReason::DisplayRefresh => RestateReason::Refresh,
        };
        EventOutput::one(Outbound::OrderRestated(OrderRestated {
            timestamp_ns,
            user_ref_num: user_ref.num,
            reason,
            options: Options {
                display_qty: Some(restated.display_qty.0),
                ..echo(user_ref)
            },
        }))
    }
}
