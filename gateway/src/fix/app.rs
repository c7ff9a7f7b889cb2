//! FIX 4.4 application messages ⇄ engine: NewOrderSingle (D), OrderCancelRequest (F),
//! OrderCancelReplaceRequest (G), OrderMassCancelRequest (q) and OrderStatusRequest (H) become
//! [`Command`]s or direct answers; engine [`Event`]s become ExecutionReports (8) for every order
//! state, OrderCancelReject (9) and OrderMassCancelReport (r). Unsupported message types get a
//! BusinessMessageReject (j); malformed fields a session Reject through the session layer.
//!
//! [`FixOrderEntry`] is one FIX user's state: its account and session id, the live orders keyed
//! by engine `OrderId` and by ClOrdID, and every ClOrdID used (a duplicate is rejected, never
//! executed twice). Same command semantics as the OUCH mapping (`crate::mapping`), which owns
//! the [`Instruments`] table both share.
//!
//! Rules of this venue's FIX dialect:
//! - OrderQty is the order's total; a replace's new OrderQty must exceed the executed quantity
//!   and the engine gets the open remainder. Side, OrdType and TimeInForce cannot change.
//! - A ClOrdID names the order's latest state: cancel/replace must give the current one as
//!   OrigClOrdID (an earlier one of the chain is an unknown order).
//! - Cancel and replace are answered at once with Pending Cancel / Pending Replace, then with
//!   Canceled / Replaced (or an OrderCancelReject) when the engine has decided.
//!
//! # Invariants
//! - A message is judged fully before any state changes; a command is returned only for a
//!   message that passed every check.
//! - The tables never grow: a full table is a reject with a reason.
//! - ExecIDs are `1, 2, 3, …` per user, a function of the user's inputs and events, so a
//!   rebuild from the session store reproduces them.

// See `Judged`: the early answer is deliberately returned by value.
#![allow(clippy::result_large_err)]

use peregrine_engine::{
    event, CancelOrder, Command, CommandKind, Event, InstrumentId, MassCancel, NewOrder, OrderId,
    OrderType, Price, Qty, RejectReason as EngineReject, ReplaceOrder, Side, StpMode, TimeInForce,
};

use super::codec::{FieldError, Fields, RejectReason, Writer};
use super::session::Text;
use super::table::{text_key, SeenIds, U64Index};
use crate::mapping::{Instruments, SessionContext};
use crate::ouch::Symbol;

/// Mass cancels that may wait for the engine at once.
const MASS_PENDING_MAX: usize = 8;
/// The `client_ref` bit that marks a mass cancel.
const MASS_REF_BIT: u64 = 1 << 63;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    None,
    Cancel {
        cl_ord_id: Text,
    },
    Replace {
        cl_ord_id: Text,
        price: i64,
        order_qty: u32,
    },
}

/// What the session remembers about one live order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixOrder {
    pub cl_ord_id: Text,
    /// The ClOrdID this order replaced (empty for an original order).
    pub orig_cl_ord_id: Text,
    client_ref: u64,
    /// [`OrderId::NONE`] until the engine accepts it.
    pub order: OrderId,
    pub instrument: InstrumentId,
    /// FIX Side (54) as received.
    pub side: u8,
    pub ord_type: u8,
    pub time_in_force: u8,
    pub price: i64,
    /// Total quantity of the order (FIX OrderQty).
    pub order_qty: u32,
    pub cum_qty: u32,
    pub leaves_qty: u32,
    /// Sum of price × quantity of the fills, for AvgPx.
    traded_value: i128,
    pending: Pending,
}

impl FixOrder {
    /// OrdStatus (39) of a live order.
    pub fn status(&self) -> u8 {
        match self.pending {
            Pending::Cancel { .. } => b'6',
            Pending::Replace { .. } => b'E',
            Pending::None if self.order == OrderId::NONE => b'A',
            Pending::None if self.cum_qty > 0 && self.leaves_qty == 0 => b'2',
            Pending::None if self.cum_qty > 0 => b'1',
            Pending::None => b'0',
        }
    }

    fn avg_px(&self) -> i64 {
        if self.cum_qty == 0 {
            return 0;
        }
        i64::try_from(self.traded_value / i128::from(self.cum_qty)).unwrap_or(0)
    }
}

/// ExecutionReport (8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecReport {
    pub order: OrderId,
    pub exec_id: u64,
    pub exec_type: u8,
    pub ord_status: u8,
    pub cl_ord_id: Text,
    pub orig_cl_ord_id: Text,
    pub symbol: Text,
    pub side: u8,
    pub ord_type: u8,
    pub time_in_force: u8,
    pub price: i64,
    pub order_qty: u32,
    pub last_qty: u32,
    pub last_px: i64,
    pub leaves_qty: u32,
    pub cum_qty: u32,
    pub avg_px: i64,
    /// OrdRejReason (103) of a rejected order.
    pub rej_reason: Option<u8>,
    pub text: &'static str,
    pub transact_ns: u64,
    /// OrdStatusReqID (790) echoed on a status answer.
    pub status_req_id: Text,
}

/// OrderCancelReject (9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelReject {
    pub order: OrderId,
    pub cl_ord_id: Text,
    pub orig_cl_ord_id: Text,
    pub ord_status: u8,
    /// CxlRejResponseTo (434): `1` cancel, `2` replace.
    pub response_to: u8,
    /// CxlRejReason (102).
    pub reason: u8,
    pub text: &'static str,
}

/// OrderMassCancelReport (r).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassCancelReport {
    pub cl_ord_id: Text,
    pub report_id: u64,
    pub request_type: u8,
    /// MassCancelResponse (531): `0` rejected, else the request type.
    pub response: u8,
    pub reject_reason: Option<u8>,
    pub affected: u32,
    pub symbol: Text,
}

/// BusinessMessageReject (j).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusinessReject {
    pub ref_seq: u64,
    pub ref_msg_type: Text,
    pub ref_id: Text,
    /// BusinessRejectReason (380).
    pub reason: u8,
    pub text: &'static str,
}

/// An outbound application message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixOut {
    Execution(ExecReport),
    CancelReject(CancelReject),
    MassCancelReport(MassCancelReport),
    BusinessReject(BusinessReject),
}

/// What to do with one inbound application message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixAction {
    /// Send the command to the core; send `reply` (a pending state) first if there is one.
    Submit {
        command: Command,
        reply: Option<FixOut>,
    },
    /// Answer without the core.
    Reply(FixOut),
    /// A session-level Reject (3) of the message.
    SessionReject(FieldError),
}

/// Up to two messages for one event (a trade between two orders of the same user).
pub type EventOutput = [Option<FixOut>; 2];

/// One FIX user's order-entry state.
#[derive(Debug)]
pub struct FixOrderEntry {
    context: SessionContext,
    orders: Box<[Option<FixOrder>]>,
    generations: Box<[u32]>,
    free: Vec<u32>,
    by_order: U64Index,
    by_cl_ord_id: U64Index,
    seen: SeenIds,
    mass: [Option<(u64, Text, u8, Text)>; MASS_PENDING_MAX],
    next_mass_ref: u64,
    last_exec_id: u64,
}

/// A judgment: `Err` carries the answer that ends it early (through `?`). The answer is a
/// stack value of a few hundred bytes, returned once per message, so it is not boxed.
type Judged<T> = Result<T, FixAction>;

fn session_reject(reason: RejectReason, tag: u32) -> FixAction {
    FixAction::SessionReject(FieldError::new(reason, tag))
}

fn field_error(error: FieldError) -> FixAction {
    FixAction::SessionReject(error)
}

/// A required identifier field (ClOrdID and the like) as a [`Text`].
fn id_field(fields: &Fields<'_>, tag: u32) -> Judged<Text> {
    let value = fields.required(tag).map_err(field_error)?;
    Text::new(value).ok_or(session_reject(RejectReason::ValueIncorrect, tag))
}

fn optional_id(fields: &Fields<'_>, tag: u32) -> Text {
    fields.get(tag).and_then(Text::new).unwrap_or(Text::EMPTY)
}

/// Judges a one-character enum: `Ok(Some(c))` supported, `Ok(None)` a valid FIX 4.4 value this
/// venue does not support, `Err` an invalid value.
fn enum_field(value: u8, supported: &[u8], valid: &[u8], tag: u32) -> Judged<Option<u8>> {
    if supported.contains(&value) {
        Ok(Some(value))
    } else if valid.contains(&value) {
        Ok(None)
    } else {
        Err(session_reject(RejectReason::ValueIncorrect, tag))
    }
}

fn engine_side(side: u8) -> Side {
    if side == b'1' {
        Side::Buy
    } else {
        Side::Sell
    }
}

fn engine_time_in_force(value: u8) -> TimeInForce {
    match value {
        b'1' => TimeInForce::Gtc,
        b'3' => TimeInForce::Ioc,
        b'4' => TimeInForce::Fok,
        _ => TimeInForce::Day,
    }
}

fn symbol_field(text: &[u8]) -> Option<Symbol> {
    let mut symbol = [b' '; 8];
    symbol.get_mut(..text.len())?.copy_from_slice(text);
    Some(symbol)
}

fn symbol_text(instruments: &Instruments, instrument: InstrumentId) -> Text {
    let symbol = instruments.symbol(instrument).unwrap_or([b' '; 8]);
    Text::new(crate::alpha_trimmed(&symbol)).unwrap_or(Text::EMPTY)
}

/// Whether `msg_type` is a FIX 4.4 application message type (answered with a
/// BusinessMessageReject when unsupported; anything else is an invalid MsgType).
fn is_fix44_app_type(msg_type: &[u8]) -> bool {
    match msg_type {
        [c] => b"6789BCDEFGHJKLMNPQRSTVWXYZabcdefghijklmnopqrstuvwxyz".contains(c),
        [b'A', c] => c.is_ascii_uppercase(),
        [b'B', c] => (b'A'..=b'H').contains(c),
        _ => false,
    }
}

/// OrdRejReason (103) and a text for an engine or risk reject.
fn ord_rej_reason(reason: EngineReject) -> (u8, &'static str) {
    match reason {
        EngineReject::UnknownInstrument => (1, "unknown symbol"),
        EngineReject::InstrumentHalted => (2, "instrument halted"),
        EngineReject::UnknownOrder => (5, "unknown order"),
        EngineReject::RiskMaxOrderQty
        | EngineReject::RiskMaxOrderNotional
        | EngineReject::RiskMaxOpenOrders
        | EngineReject::RiskCreditLimit
        | EngineReject::RiskNetPosition
        | EngineReject::RiskGrossPosition
        | EngineReject::QtyAboveInstrumentMax => (3, "order exceeds limit"),
        EngineReject::PriceOutOfBand | EngineReject::RiskPriceCollar => (99, "price out of band"),
        EngineReject::PriceNotTickMultiple => (99, "price not a tick multiple"),
        EngineReject::ZeroQty | EngineReject::QtyNotLotMultiple => (13, "incorrect quantity"),
        EngineReject::PostOnlyWouldTake => (99, "post-only order would take"),
        EngineReject::RiskThrottle => (99, "throttled"),
        EngineReject::RiskAccountBlocked => (99, "account blocked"),
        // Other engine reasons (capacity, display and minimum quantity rules, phases).
        _ => (99, "rejected by the engine"),
    }
}

impl FixOrderEntry {
    /// A user's state with room for `order_capacity` live orders and `cl_ord_id_capacity`
    /// ClOrdIDs per day (all memory taken here).
    pub fn new(context: SessionContext, order_capacity: u32, cl_ord_id_capacity: u32) -> Self {
        let capacity = order_capacity.max(1) as usize;
        FixOrderEntry {
            context,
            orders: vec![None; capacity].into_boxed_slice(),
            generations: vec![0; capacity].into_boxed_slice(),
            free: (0..capacity as u32).rev().collect(),
            by_order: U64Index::new(capacity),
            by_cl_ord_id: U64Index::new(capacity),
            seen: SeenIds::new(cl_ord_id_capacity.max(1) as usize),
            mass: [None; MASS_PENDING_MAX],
            next_mass_ref: 0,
            last_exec_id: 0,
        }
    }

    pub fn context(&self) -> &SessionContext {
        &self.context
    }

    pub fn open_orders(&self) -> usize {
        self.orders.len() - self.free.len()
    }

    /// The live order whose current ClOrdID is `cl_ord_id`.
    pub fn order_by_cl_ord_id(&self, cl_ord_id: &[u8]) -> Option<&FixOrder> {
        let id = Text::new(cl_ord_id)?;
        let slot = self.find_cl(&id)?;
        self.orders[slot].as_ref()
    }

    fn find_cl(&self, id: &Text) -> Option<usize> {
        let slot = self.by_cl_ord_id.get(text_key(id))? as usize;
        let order = self.orders[slot].as_ref()?;
        (order.cl_ord_id == *id).then_some(slot)
    }

    fn find_order(&self, order: OrderId) -> Option<usize> {
        Some(self.by_order.get(order.0)? as usize)
    }

    fn slot_of_ref(&self, client_ref: u64) -> Option<usize> {
        let slot = usize::try_from(client_ref & u64::from(u32::MAX)).ok()?;
        let order = self.orders.get(slot)?.as_ref()?;
        (order.client_ref == client_ref).then_some(slot)
    }

    fn next_exec_id(&mut self) -> u64 {
        self.last_exec_id += 1;
        self.last_exec_id
    }

    fn insert(&mut self, mut order: FixOrder) -> Option<usize> {
        let key = text_key(&order.cl_ord_id);
        if self.by_cl_ord_id.get(key).is_some() {
            return None; // A 64-bit hash collision with a live ClOrdID: refuse.
        }
        let slot = self.free.pop()? as usize;
        self.generations[slot] = self.generations[slot].wrapping_add(1);
        order.client_ref = (u64::from(self.generations[slot]) << 32) | slot as u64;
        let inserted = self.by_cl_ord_id.insert(key, slot as u32);
        assert!(inserted, "the ClOrdID index has room for every slot");
        self.orders[slot] = Some(order);
        Some(slot)
    }

    fn remove(&mut self, slot: usize) -> Option<FixOrder> {
        let order = self.orders[slot].take()?;
        self.by_cl_ord_id.remove(text_key(&order.cl_ord_id));
        if order.order != OrderId::NONE {
            self.by_order.remove(order.order.0);
        }
        self.free.push(slot as u32);
        Some(order)
    }

    /// Submits a cancel or replace of `order` and answers at once with its pending
    /// ExecutionReport (`exec_type` 6 or E), naming the request's ClOrdID and the order's.
    fn submit_pending(
        &mut self,
        order: &FixOrder,
        exec_type: u8,
        cl_ord_id: Text,
        command: Command,
        instruments: &Instruments,
        now_ns: u64,
    ) -> FixAction {
        let mut report = self.report(order, exec_type, instruments, now_ns);
        report.cl_ord_id = cl_ord_id;
        report.orig_cl_ord_id = order.cl_ord_id;
        FixAction::Submit {
            command,
            reply: Some(FixOut::Execution(report)),
        }
    }

    fn report(
        &mut self,
        order: &FixOrder,
        exec_type: u8,
        instruments: &Instruments,
        now_ns: u64,
    ) -> ExecReport {
        ExecReport {
            order: order.order,
            exec_id: self.next_exec_id(),
            exec_type,
            ord_status: order.status(),
            cl_ord_id: order.cl_ord_id,
            orig_cl_ord_id: order.orig_cl_ord_id,
            symbol: symbol_text(instruments, order.instrument),
            side: order.side,
            ord_type: order.ord_type,
            time_in_force: order.time_in_force,
            price: order.price,
            order_qty: order.order_qty,
            last_qty: 0,
            last_px: 0,
            leaves_qty: order.leaves_qty,
            cum_qty: order.cum_qty,
            avg_px: order.avg_px(),
            rej_reason: None,
            text: "",
            transact_ns: now_ns,
            status_req_id: Text::EMPTY,
        }
    }

    /// An ExecutionReport rejecting a new order that never reached the engine.
    fn new_order_reject(
        &mut self,
        fields: &Fields<'_>,
        cl_ord_id: Text,
        reason: u8,
        text: &'static str,
        now_ns: u64,
    ) -> FixAction {
        FixAction::Reply(FixOut::Execution(ExecReport {
            order: OrderId::NONE,
            exec_id: self.next_exec_id(),
            exec_type: b'8',
            ord_status: b'8',
            cl_ord_id,
            orig_cl_ord_id: Text::EMPTY,
            symbol: optional_id(fields, 55),
            side: fields
                .get(54)
                .and_then(|s| s.first().copied())
                .unwrap_or(b'1'),
            ord_type: fields
                .get(40)
                .and_then(|s| s.first().copied())
                .unwrap_or(b'2'),
            time_in_force: 0,
            price: 0,
            order_qty: fields.qty_of(38).ok().flatten().unwrap_or(0),
            last_qty: 0,
            last_px: 0,
            leaves_qty: 0,
            cum_qty: 0,
            avg_px: 0,
            rej_reason: Some(reason),
            text,
            transact_ns: now_ns,
            status_req_id: Text::EMPTY,
        }))
    }

    /// Judges one in-sequence application message (`seq` is its MsgSeqNum).
    pub fn on_message(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        fields: &Fields<'_>,
        seq: u64,
    ) -> FixAction {
        let result = match fields.msg_type() {
            b"D" => self.on_new_order(instruments, now_ns, fields),
            b"F" => self.on_cancel(instruments, now_ns, fields),
            b"G" => self.on_replace(instruments, now_ns, fields),
            b"q" => self.on_mass_cancel(instruments, fields),
            b"H" => self.on_status(instruments, now_ns, fields),
            other if is_fix44_app_type(other) => {
                Err(FixAction::Reply(FixOut::BusinessReject(BusinessReject {
                    ref_seq: seq,
                    ref_msg_type: Text::new(other).unwrap_or(Text::EMPTY),
                    ref_id: Text::EMPTY,
                    reason: 3,
                    text: "unsupported message type",
                })))
            }
            _ => Err(session_reject(RejectReason::InvalidMsgType, 35)),
        };
        match result {
            Ok(action) | Err(action) => action,
        }
    }

    fn on_new_order(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        fields: &Fields<'_>,
    ) -> Judged<FixAction> {
        let cl_ord_id = id_field(fields, 11)?;
        let symbol = fields.required(55).map_err(field_error)?;
        fields.required(60).map_err(field_error)?;
        let side = fields.char_of(54).map_err(field_error)?;
        let side = side.ok_or(session_reject(RejectReason::RequiredTagMissing, 54))?;
        let side = enum_field(side, b"1256", b"3456789ABCDEFG", 54)?;
        let ord_type = fields.char_of(40).map_err(field_error)?;
        let ord_type = ord_type.ok_or(session_reject(RejectReason::RequiredTagMissing, 40))?;
        let ord_type = enum_field(ord_type, b"12", b"3456789DEGIJKLMP", 40)?;
        let time_in_force = fields.char_of(59).map_err(field_error)?.unwrap_or(b'0');
        let time_in_force = enum_field(time_in_force, b"0134", b"25678", 59)?;
        let qty = fields.qty_of(38).map_err(field_error)?;
        let qty = qty.ok_or(session_reject(RejectReason::RequiredTagMissing, 38))?;
        let price = fields.price_of(44).map_err(field_error)?;
        let min_qty = fields.qty_of(110).map_err(field_error)?.unwrap_or(0);
        let max_floor = fields.qty_of(111).map_err(field_error)?.unwrap_or(0);
        let post_only = fields
            .get(18)
            .is_some_and(|inst| inst.split(|&b| b == b' ').any(|v| v == b"6"));
        let (Some(side), Some(ord_type), Some(time_in_force)) = (side, ord_type, time_in_force)
        else {
            return Ok(self.new_order_reject(
                fields,
                cl_ord_id,
                99,
                "unsupported side, order type or time in force",
                now_ns,
            ));
        };
        if ord_type == b'2' && price.is_none() {
            return Ok(FixAction::Reply(FixOut::BusinessReject(BusinessReject {
                ref_seq: fields.u64_of(34).ok().flatten().unwrap_or(0),
                ref_msg_type: Text::new(b"D").unwrap_or(Text::EMPTY),
                ref_id: cl_ord_id,
                reason: 5,
                text: "Price required for a limit order",
            })));
        }
        match self.seen.insert(&cl_ord_id) {
            Ok(true) => {}
            Ok(false) => {
                return Ok(self.new_order_reject(fields, cl_ord_id, 6, "duplicate ClOrdID", now_ns))
            }
            Err(_) => {
                return Ok(self.new_order_reject(
                    fields,
                    cl_ord_id,
                    99,
                    "ClOrdID table full",
                    now_ns,
                ))
            }
        }
        let instrument = symbol_field(symbol).and_then(|s| instruments.lookup(&s));
        let Some(instrument) = instrument else {
            return Ok(self.new_order_reject(fields, cl_ord_id, 1, "unknown symbol", now_ns));
        };
        let market = ord_type == b'1';
        let price = if market { 0 } else { price.unwrap_or(0) };
        let record = FixOrder {
            cl_ord_id,
            orig_cl_ord_id: Text::EMPTY,
            client_ref: 0,
            order: OrderId::NONE,
            instrument,
            side,
            ord_type,
            time_in_force,
            price,
            order_qty: qty,
            cum_qty: 0,
            leaves_qty: qty,
            traded_value: 0,
            pending: Pending::None,
        };
        let Some(slot) = self.insert(record) else {
            return Ok(self.new_order_reject(fields, cl_ord_id, 99, "order table full", now_ns));
        };
        let client_ref = self.orders[slot].map_or(0, |order| order.client_ref);
        let command = Command::NewOrder(NewOrder {
            account: self.context.account,
            session: self.context.session,
            client_ref,
            instrument,
            side: engine_side(side),
            order_type: if market {
                OrderType::Market
            } else {
                OrderType::Limit
            },
            time_in_force: engine_time_in_force(time_in_force),
            price: Price(price),
            qty: Qty(qty),
            display_qty: Qty(max_floor),
            min_qty: Qty(min_qty),
            post_only,
            stp: StpMode::AccountDefault,
        });
        Ok(FixAction::Submit {
            command,
            reply: None,
        })
    }

    fn cancel_reject(
        &self,
        order: Option<&FixOrder>,
        cl_ord_id: Text,
        orig: Text,
        response_to: u8,
        reason: u8,
        text: &'static str,
    ) -> FixAction {
        FixAction::Reply(FixOut::CancelReject(CancelReject {
            order: order.map_or(OrderId::NONE, |o| o.order),
            cl_ord_id,
            orig_cl_ord_id: orig,
            ord_status: order.map_or(b'8', FixOrder::status),
            response_to,
            reason,
            text,
        }))
    }

    /// The common checks of cancel and replace: the new ClOrdID is fresh, the original is live,
    /// accepted and has nothing pending. Returns the original's slot.
    fn judge_change(&mut self, cl_ord_id: Text, orig: Text, response_to: u8) -> Judged<usize> {
        match self.seen.insert(&cl_ord_id) {
            Ok(true) => {}
            Ok(false) => {
                return Err(self.cancel_reject(
                    None,
                    cl_ord_id,
                    orig,
                    response_to,
                    6,
                    "duplicate ClOrdID",
                ))
            }
            Err(_) => {
                return Err(self.cancel_reject(
                    None,
                    cl_ord_id,
                    orig,
                    response_to,
                    99,
                    "ClOrdID table full",
                ))
            }
        }
        let Some(slot) = self.find_cl(&orig) else {
            return Err(self.cancel_reject(None, cl_ord_id, orig, response_to, 1, "unknown order"));
        };
        let order = self.orders[slot].as_ref();
        match order.map(|o| (o.pending, o.order)) {
            Some((Pending::None, id)) if id != OrderId::NONE => Ok(slot),
            Some((Pending::None, _)) => Err(self.cancel_reject(
                order,
                cl_ord_id,
                orig,
                response_to,
                2,
                "order not yet acknowledged",
            )),
            _ => Err(self.cancel_reject(
                order,
                cl_ord_id,
                orig,
                response_to,
                3,
                "cancel or replace already pending",
            )),
        }
    }

    fn on_cancel(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        fields: &Fields<'_>,
    ) -> Judged<FixAction> {
        let cl_ord_id = id_field(fields, 11)?;
        let orig = id_field(fields, 41)?;
        for tag in [55, 54, 60] {
            fields.required(tag).map_err(field_error)?;
        }
        let slot = self.judge_change(cl_ord_id, orig, b'1')?;
        let Some(order) = self.orders[slot].as_mut() else {
            return Err(session_reject(RejectReason::Other, 41));
        };
        order.pending = Pending::Cancel { cl_ord_id };
        let order = *order;
        let command = Command::Cancel(CancelOrder {
            account: self.context.account,
            session: self.context.session,
            client_ref: order.client_ref,
            order: order.order,
        });
        Ok(self.submit_pending(&order, b'6', cl_ord_id, command, instruments, now_ns))
    }

    fn on_replace(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        fields: &Fields<'_>,
    ) -> Judged<FixAction> {
        let cl_ord_id = id_field(fields, 11)?;
        let orig = id_field(fields, 41)?;
        for tag in [55, 54, 60, 40] {
            fields.required(tag).map_err(field_error)?;
        }
        let qty = fields.qty_of(38).map_err(field_error)?;
        let qty = qty.ok_or(session_reject(RejectReason::RequiredTagMissing, 38))?;
        let price = fields.price_of(44).map_err(field_error)?;
        let max_floor = fields.qty_of(111).map_err(field_error)?.unwrap_or(0);
        let side = fields.char_of(54).map_err(field_error)?;
        let ord_type = fields.char_of(40).map_err(field_error)?;
        let time_in_force = fields.char_of(59).map_err(field_error)?;
        let slot = self.judge_change(cl_ord_id, orig, b'2')?;
        let Some(order) = self.orders[slot] else {
            return Err(session_reject(RejectReason::Other, 41));
        };
        let refuse = |text| Err(self.cancel_reject(Some(&order), cl_ord_id, orig, b'2', 2, text));
        if side.map(engine_side) != Some(engine_side(order.side))
            || ord_type != Some(order.ord_type)
        {
            return refuse("side and order type cannot change");
        }
        if time_in_force.is_some_and(|tif| tif != order.time_in_force) || order.ord_type != b'2' {
            return refuse("only a limit order's price and quantity can change");
        }
        let Some(price) = price else {
            return refuse("Price required");
        };
        let Some(open_qty) = qty.checked_sub(order.cum_qty).filter(|&open| open > 0) else {
            return refuse("OrderQty must exceed the executed quantity");
        };
        let order = self.orders[slot].as_mut().map(|o| {
            o.pending = Pending::Replace {
                cl_ord_id,
                price,
                order_qty: qty,
            };
            *o
        });
        let Some(order) = order else {
            return Err(session_reject(RejectReason::Other, 41));
        };
        let command = Command::Replace(ReplaceOrder {
            account: self.context.account,
            session: self.context.session,
            client_ref: order.client_ref,
            order: order.order,
            price: Price(price),
            qty: Qty(open_qty),
            display_qty: Qty(max_floor),
        });
        Ok(self.submit_pending(&order, b'E', cl_ord_id, command, instruments, now_ns))
    }

    fn mass_report(
        &mut self,
        cl_ord_id: Text,
        request_type: u8,
        reject: Option<u8>,
        affected: u32,
        symbol: Text,
    ) -> FixOut {
        self.next_mass_ref += 1;
        FixOut::MassCancelReport(MassCancelReport {
            cl_ord_id,
            report_id: self.next_mass_ref,
            request_type,
            response: if reject.is_some() { b'0' } else { request_type },
            reject_reason: reject,
            affected,
            symbol,
        })
    }

    fn on_mass_cancel(
        &mut self,
        instruments: &Instruments,
        fields: &Fields<'_>,
    ) -> Judged<FixAction> {
        let cl_ord_id = id_field(fields, 11)?;
        fields.required(60).map_err(field_error)?;
        let request_type = fields.char_of(530).map_err(field_error)?;
        let request_type =
            request_type.ok_or(session_reject(RejectReason::RequiredTagMissing, 530))?;
        let supported = enum_field(request_type, b"17", b"234567", 530)?;
        let symbol = optional_id(fields, 55);
        let reject = |this: &mut Self, reason| {
            Ok(FixAction::Reply(this.mass_report(
                cl_ord_id,
                request_type,
                Some(reason),
                0,
                symbol,
            )))
        };
        if supported.is_none() {
            return reject(self, 0);
        }
        let instrument = if request_type == b'1' {
            let found = symbol_field(symbol.as_bytes()).and_then(|s| instruments.lookup(&s));
            match found {
                Some(instrument) => Some(instrument),
                None => return reject(self, 1),
            }
        } else {
            None
        };
        if self.seen.insert(&cl_ord_id) != Ok(true) {
            return reject(self, 99);
        }
        let Some(free) = self.mass.iter().position(Option::is_none) else {
            return reject(self, 99);
        };
        self.next_mass_ref += 1;
        let client_ref = MASS_REF_BIT | self.next_mass_ref;
        self.mass[free] = Some((client_ref, cl_ord_id, request_type, symbol));
        let command = Command::MassCancel(MassCancel {
            account: Some(self.context.account),
            instrument,
            session: self.context.session,
            client_ref,
        });
        Ok(FixAction::Submit {
            command,
            reply: None,
        })
    }

    fn on_status(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        fields: &Fields<'_>,
    ) -> Judged<FixAction> {
        let cl_ord_id = id_field(fields, 11)?;
        fields.required(54).map_err(field_error)?;
        let status_req_id = optional_id(fields, 790);
        let report = match self.find_cl(&cl_ord_id).and_then(|slot| self.orders[slot]) {
            Some(order) => self.report(&order, b'I', instruments, now_ns),
            None => {
                let FixAction::Reply(FixOut::Execution(mut report)) =
                    self.new_order_reject(fields, cl_ord_id, 5, "unknown order", now_ns)
                else {
                    return Err(session_reject(RejectReason::Other, 11));
                };
                report.exec_type = b'I';
                report
            }
        };
        Ok(FixAction::Reply(FixOut::Execution(ExecReport {
            status_req_id,
            ..report
        })))
    }
}

impl FixOrderEntry {
    /// Turns one engine event into this user's outbound messages (none for other users'
    /// events). `now_ns` is the event's Unix time (TransactTime).
    pub fn on_event(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        event: &Event,
    ) -> EventOutput {
        let mine = self.context.session;
        let one = |out: Option<FixOut>| [out, None];
        match event {
            Event::Accepted(e) if e.session == mine => {
                one(self.on_accepted(instruments, now_ns, e))
            }
            Event::Rejected(e) if e.session == mine => {
                one(self.on_rejected(instruments, now_ns, e))
            }
            Event::Executed(e) => {
                let trade = (e.price, e.qty);
                let maker = (e.maker_session == mine).then(|| {
                    self.on_fill(instruments, now_ns, trade, e.maker_order, e.maker_leaves)
                });
                let taker = (e.taker_session == mine).then(|| {
                    self.on_fill(instruments, now_ns, trade, e.taker_order, e.taker_leaves)
                });
                [maker.flatten(), taker.flatten()]
            }
            // One side of an uncross: a Trade report like a continuous fill.
            Event::AuctionFill(e) if e.session == mine => {
                one(self.on_fill(instruments, now_ns, (e.price, e.qty), e.order, e.leaves))
            }
            Event::Cancelled(e) if e.session == mine => {
                one(self.on_cancelled(instruments, now_ns, e))
            }
            Event::Replaced(e) if e.session == mine => {
                one(self.on_replaced(instruments, now_ns, e))
            }
            Event::MassCancelled(e) if e.session == mine => {
                one(self.on_mass_cancelled(e.client_ref, None, e.cancelled_count))
            }
            // Display refreshes, book changes, other users' events and market-wide events
            // (trading status, control acks, any later kind) say nothing to this member.
            _ => [None, None],
        }
    }

    fn on_accepted(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        accepted: &event::Accepted,
    ) -> Option<FixOut> {
        let slot = self.slot_of_ref(accepted.client_ref)?;
        let order = self.orders[slot].as_mut()?;
        order.order = accepted.order;
        order.leaves_qty = accepted.qty.0;
        let order = *order;
        let inserted = self.by_order.insert(accepted.order.0, slot as u32);
        assert!(inserted, "the order index has room for every slot");
        Some(FixOut::Execution(self.report(
            &order,
            b'0',
            instruments,
            now_ns,
        )))
    }

    fn on_rejected(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        rejected: &event::Rejected,
    ) -> Option<FixOut> {
        let (rej_reason, text) = ord_rej_reason(rejected.reason);
        match rejected.command {
            CommandKind::NewOrder => {
                let slot = self.slot_of_ref(rejected.client_ref)?;
                let order = self.remove(slot)?;
                let mut report = self.report(&order, b'8', instruments, now_ns);
                report.ord_status = b'8';
                report.leaves_qty = 0;
                report.rej_reason = Some(rej_reason);
                report.text = text;
                Some(FixOut::Execution(report))
            }
            CommandKind::Cancel | CommandKind::Reduce | CommandKind::Replace => {
                let slot = self.find_order(rejected.order)?;
                let order = self.orders[slot].as_mut()?;
                let (cl_ord_id, response_to) = match order.pending {
                    Pending::Cancel { cl_ord_id } => (cl_ord_id, b'1'),
                    Pending::Replace { cl_ord_id, .. } => (cl_ord_id, b'2'),
                    Pending::None => return None,
                };
                order.pending = Pending::None;
                let order = *order;
                let reason = if rejected.reason == EngineReject::UnknownOrder {
                    0
                } else {
                    99
                };
                Some(FixOut::CancelReject(CancelReject {
                    order: order.order,
                    cl_ord_id,
                    orig_cl_ord_id: order.cl_ord_id,
                    ord_status: order.status(),
                    response_to,
                    reason,
                    text,
                }))
            }
            CommandKind::MassCancel => self.on_mass_cancelled(rejected.client_ref, Some(99), 0),
            _ => None,
        }
    }

    fn on_fill(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        (price, qty): (Price, Qty),
        order_id: OrderId,
        leaves: Qty,
    ) -> Option<FixOut> {
        let slot = self.find_order(order_id)?;
        let order = self.orders[slot].as_mut()?;
        order.cum_qty = order.cum_qty.saturating_add(qty.0);
        order.leaves_qty = leaves.0;
        order.traded_value += i128::from(price.0) * i128::from(qty.0);
        let order = *order;
        if leaves.is_zero() {
            self.remove(slot);
        }
        let mut report = self.report(&order, b'F', instruments, now_ns);
        if leaves.is_zero() {
            report.ord_status = b'2';
        }
        report.last_qty = qty.0;
        report.last_px = price.0;
        Some(FixOut::Execution(report))
    }

    fn on_cancelled(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        cancelled: &event::Cancelled,
    ) -> Option<FixOut> {
        let slot = self.find_order(cancelled.order)?;
        let order = self.orders[slot].as_mut()?;
        order.leaves_qty = cancelled.leaves.0;
        let requested = match order.pending {
            Pending::Cancel { cl_ord_id } if cancelled.leaves.is_zero() => Some(cl_ord_id),
            _ => None,
        };
        if cancelled.leaves.is_zero() {
            order.pending = Pending::None;
        }
        let order = *order;
        if !cancelled.leaves.is_zero() {
            // A reduction the member did not ask for as such (STP decrement): restated.
            return Some(FixOut::Execution(self.report(
                &order,
                b'D',
                instruments,
                now_ns,
            )));
        }
        self.remove(slot);
        let mut report = self.report(&order, b'4', instruments, now_ns);
        report.ord_status = b'4';
        if let Some(cl_ord_id) = requested {
            report.cl_ord_id = cl_ord_id;
            report.orig_cl_ord_id = order.cl_ord_id;
        }
        Some(FixOut::Execution(report))
    }

    fn on_replaced(
        &mut self,
        instruments: &Instruments,
        now_ns: u64,
        replaced: &event::Replaced,
    ) -> Option<FixOut> {
        let slot = self.find_order(replaced.old_order)?;
        let order = self.orders[slot]?;
        let Pending::Replace {
            cl_ord_id,
            price,
            order_qty,
        } = order.pending
        else {
            return None;
        };
        self.by_order.remove(replaced.old_order.0);
        self.by_cl_ord_id.remove(text_key(&order.cl_ord_id));
        let updated = FixOrder {
            cl_ord_id,
            orig_cl_ord_id: order.cl_ord_id,
            order: replaced.new_order,
            price,
            order_qty,
            leaves_qty: replaced.qty.0,
            pending: Pending::None,
            ..order
        };
        let indexed = self.by_order.insert(replaced.new_order.0, slot as u32)
            && self.by_cl_ord_id.insert(text_key(&cl_ord_id), slot as u32);
        assert!(indexed, "the indexes have room for every slot");
        self.orders[slot] = Some(updated);
        Some(FixOut::Execution(self.report(
            &updated,
            b'5',
            instruments,
            now_ns,
        )))
    }

    fn on_mass_cancelled(
        &mut self,
        client_ref: u64,
        reject: Option<u8>,
        count: u32,
    ) -> Option<FixOut> {
        let at = self
            .mass
            .iter()
            .position(|m| m.is_some_and(|(r, ..)| r == client_ref))?;
        let (_, cl_ord_id, request_type, symbol) = self.mass[at].take()?;
        Some(self.mass_report(cl_ord_id, request_type, reject, count, symbol))
    }
}

impl FixOut {
    /// MsgType (35).
    pub fn msg_type(&self) -> &'static [u8] {
        match self {
            FixOut::Execution(_) => b"8",
            FixOut::CancelReject(_) => b"9",
            FixOut::MassCancelReport(_) => b"r",
            FixOut::BusinessReject(_) => b"j",
        }
    }

    /// Writes the fields after the standard header.
    pub fn write_body(&self, writer: &mut Writer) {
        match self {
            FixOut::Execution(report) => write_execution(report, writer),
            FixOut::CancelReject(reject) => {
                write_order_id(writer, reject.order);
                writer.bytes(11, reject.cl_ord_id.as_bytes());
                writer.bytes(41, reject.orig_cl_ord_id.as_bytes());
                writer
                    .char(39, reject.ord_status)
                    .char(434, reject.response_to);
                writer.u64(102, u64::from(reject.reason));
                write_text(writer, reject.text);
            }
            FixOut::MassCancelReport(report) => {
                writer.bytes(11, report.cl_ord_id.as_bytes());
                writer.u64(37, report.report_id);
                writer
                    .char(530, report.request_type)
                    .char(531, report.response);
                if let Some(reason) = report.reject_reason {
                    writer.u64(532, u64::from(reason));
                }
                writer.u64(533, u64::from(report.affected));
                if report.symbol.as_bytes() != b"" {
                    writer.bytes(55, report.symbol.as_bytes());
                }
            }
            FixOut::BusinessReject(reject) => {
                writer.u64(45, reject.ref_seq);
                writer.bytes(372, reject.ref_msg_type.as_bytes());
                if reject.ref_id.as_bytes() != b"" {
                    writer.bytes(379, reject.ref_id.as_bytes());
                }
                writer.u64(380, u64::from(reject.reason));
                write_text(writer, reject.text);
            }
        }
    }
}

fn write_order_id(writer: &mut Writer, order: OrderId) {
    if order == OrderId::NONE {
        writer.bytes(37, b"NONE");
    } else {
        writer.u64(37, order.0);
    }
}

fn write_text(writer: &mut Writer, text: &str) {
    if !text.is_empty() {
        writer.bytes(58, text.as_bytes());
    }
}

fn write_execution(report: &ExecReport, writer: &mut Writer) {
    write_order_id(writer, report.order);
    writer.bytes(11, report.cl_ord_id.as_bytes());
    if report.orig_cl_ord_id.as_bytes() != b"" {
        writer.bytes(41, report.orig_cl_ord_id.as_bytes());
    }
    if report.status_req_id.as_bytes() != b"" {
        writer.bytes(790, report.status_req_id.as_bytes());
    }
    writer.u64(17, report.exec_id);
    writer
        .char(150, report.exec_type)
        .char(39, report.ord_status);
    if let Some(reason) = report.rej_reason {
        writer.u64(103, u64::from(reason));
    }
    if report.symbol.as_bytes() != b"" {
        writer.bytes(55, report.symbol.as_bytes());
    }
    writer.char(54, report.side);
    if report.order_qty > 0 {
        writer.u64(38, u64::from(report.order_qty));
    }
    writer.char(40, report.ord_type);
    if report.ord_type == b'2' && report.price != 0 {
        writer.price(44, report.price);
    }
    if report.time_in_force != 0 {
        writer.char(59, report.time_in_force);
    }
    if report.exec_type == b'F' {
        writer
            .u64(32, u64::from(report.last_qty))
            .price(31, report.last_px);
    }
    writer.u64(151, u64::from(report.leaves_qty));
    writer.u64(14, u64::from(report.cum_qty));
    writer.price(6, report.avg_px);
    writer.timestamp(60, report.transact_ns);
    write_text(writer, report.text);
}
