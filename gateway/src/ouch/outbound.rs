//! OUCH 5.0 outbound messages (server to client, §3): views and `Repr`s.
//!
//! Each view covers a message's fixed part, up to (not including) its appendage length field;
//! the appendage follows at offset `*_LEN` (the PDF's offset of "Appendage Length"). System
//! Event has no appendage. Where the PDF says the appendage is optional (it is sent only to
//! carry a UserRefIdx), `emit` leaves it out when there are no options and `parse` accepts a
//! message with or without it.
//!
//! # Invariants
//! - `parse` checks every coded field against the spec's list (clients judge what we send).
//! - `emit` writes exactly `buffer_len()` bytes; `parse(emit(r)) == r` for options within the
//!   message's set.

use core::fmt;

use super::options::{Options, TagSet, USER_REF_IDX_ONLY};
use super::{
    coded, message_type_of, parse_as, yes_no, yes_no_code, BrokenReason, CancelReason, Capacity,
    CrossType, Display, Error, ErrorKind, EventCode, LiquidityFlag, OptionTag, OrderState,
    RejectCode, RestateReason, Side, TimeInForce,
};
use crate::wire::{view, AlphaDisplay, PriceDisplay};

/// Options of Order Accepted (§3.2).
pub const ORDER_ACCEPTED_OPTIONS: TagSet = TagSet::of(&[
    OptionTag::Firm,
    OptionTag::MinQty,
    OptionTag::CustomerType,
    OptionTag::MaxFloor,
    OptionTag::PriceType,
    OptionTag::PegOffset,
    OptionTag::DiscretionPrice,
    OptionTag::DiscretionPriceType,
    OptionTag::DiscretionPegOffset,
    OptionTag::PostOnly,
    OptionTag::RandomReserves,
    OptionTag::Route,
    OptionTag::ExpireTime,
    OptionTag::TradeNow,
    OptionTag::HandleInst,
    OptionTag::BboWeightIndicator,
    OptionTag::GroupId,
    OptionTag::SharesLocated,
    OptionTag::UserRefIdx,
]);

/// Options of Order Replaced (§3.3).
pub const ORDER_REPLACED_OPTIONS: TagSet = TagSet::of(&[
    OptionTag::Firm,
    OptionTag::MinQty,
    OptionTag::MaxFloor,
    OptionTag::PriceType,
    OptionTag::PostOnly,
    OptionTag::ExpireTime,
    OptionTag::TradeNow,
    OptionTag::HandleInst,
    OptionTag::BboWeightIndicator,
    OptionTag::UserRefIdx,
]);

/// Options of Order Modified (§3.12).
pub const ORDER_MODIFIED_OPTIONS: TagSet = TagSet::of(&[
    OptionTag::UserRefIdx,
    OptionTag::SharesLocated,
    OptionTag::LocateBroker,
]);

/// Options of Order Restated (§3.13).
pub const ORDER_RESTATED_OPTIONS: TagSet = TagSet::of(&[
    OptionTag::DisplayQuantity,
    OptionTag::DisplayPrice,
    OptionTag::SecondaryOrdRefNum,
    OptionTag::UserRefIdx,
]);

/// Options of Mass Cancel Response (§3.14).
pub const MASS_CANCEL_RESPONSE_OPTIONS: TagSet =
    TagSet::of(&[OptionTag::Side, OptionTag::GroupId, OptionTag::UserRefIdx]);

view! {
    /// System Event (`S`, §3.1).
    SystemEventView, SYSTEM_EVENT_LEN = 10;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    event_code, set_event_code: u8 = 9;
}

/// System Event (`S`, §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemEvent {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub event_code: EventCode,
}

impl SystemEvent {
    pub fn parse(view: &SystemEventView<&[u8]>) -> Result<SystemEvent, Error> {
        Ok(SystemEvent {
            timestamp_ns: view.timestamp_ns(),
            event_code: coded(
                EventCode::from_code(view.event_code()),
                9,
                RejectCode::Other,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        SYSTEM_EVENT_LEN
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = SystemEventView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'S');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_event_code(self.event_code.code());
        SYSTEM_EVENT_LEN
    }
}

impl fmt::Display for SystemEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SystemEvent t={} event_code={}",
            self.timestamp_ns, self.event_code
        )
    }
}

view! {
    /// Order Accepted (`A`, §3.2).
    OrderAcceptedView, ORDER_ACCEPTED_LEN = 62;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    side, set_side: u8 = 13;
    quantity, set_quantity: u32 = 14;
    symbol, set_symbol: [u8; 8] = 18;
    price, set_price: u64 = 26;
    time_in_force, set_time_in_force: u8 = 34;
    display, set_display: u8 = 35;
    order_reference_number, set_order_reference_number: u64 = 36;
    capacity, set_capacity: u8 = 44;
    intermarket_sweep, set_intermarket_sweep: u8 = 45;
    cross_type, set_cross_type: u8 = 46;
    order_state, set_order_state: u8 = 47;
    cl_ord_id, set_cl_ord_id: [u8; 14] = 48;
}

/// Order Accepted (`A`, §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderAccepted {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub side: Side,
    pub quantity: u32,
    pub symbol: [u8; 8],
    pub price: u64,
    pub time_in_force: TimeInForce,
    pub display: Display,
    pub order_reference_number: u64,
    pub capacity: Capacity,
    pub intermarket_sweep: bool,
    pub cross_type: CrossType,
    pub order_state: OrderState,
    pub cl_ord_id: [u8; 14],
    pub options: Options,
}

impl OrderAccepted {
    pub fn parse(view: &OrderAcceptedView<&[u8]>) -> Result<OrderAccepted, Error> {
        Ok(OrderAccepted {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            side: coded(Side::from_code(view.side()), 13, RejectCode::Other)?,
            quantity: view.quantity(),
            symbol: view.symbol(),
            price: view.price(),
            time_in_force: coded(
                TimeInForce::from_code(view.time_in_force()),
                34,
                RejectCode::Other,
            )?,
            display: coded(Display::from_code(view.display()), 35, RejectCode::Other)?,
            order_reference_number: view.order_reference_number(),
            capacity: coded(Capacity::from_code(view.capacity()), 44, RejectCode::Other)?,
            intermarket_sweep: coded(yes_no(view.intermarket_sweep()), 45, RejectCode::Other)?,
            cross_type: coded(
                CrossType::from_code(view.cross_type()),
                46,
                RejectCode::Other,
            )?,
            order_state: coded(
                OrderState::from_code(view.order_state()),
                47,
                RejectCode::Other,
            )?,
            cl_ord_id: view.cl_ord_id(),
            options: Options::parse(
                view.rest(),
                false,
                ORDER_ACCEPTED_OPTIONS,
                ORDER_ACCEPTED_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_ACCEPTED_LEN + self.options.buffer_len(false, ORDER_ACCEPTED_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = OrderAcceptedView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'A');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_side(self.side.code());
        view.set_quantity(self.quantity);
        view.set_symbol(self.symbol);
        view.set_price(self.price);
        view.set_time_in_force(self.time_in_force.code());
        view.set_display(self.display.code());
        view.set_order_reference_number(self.order_reference_number);
        view.set_capacity(self.capacity.code());
        view.set_intermarket_sweep(yes_no_code(self.intermarket_sweep));
        view.set_cross_type(self.cross_type.code());
        view.set_order_state(self.order_state.code());
        view.set_cl_ord_id(self.cl_ord_id);
        ORDER_ACCEPTED_LEN
            + self
                .options
                .emit(false, ORDER_ACCEPTED_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for OrderAccepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OrderAccepted t={} user_ref_num={} side={} quantity={} symbol={} price={} time_in_force={} display={} order_reference_number={} capacity={} intermarket_sweep={} cross_type={} order_state={} cl_ord_id={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            self.side,
            self.quantity,
            AlphaDisplay(&self.symbol),
            PriceDisplay(self.price),
            self.time_in_force,
            self.display,
            self.order_reference_number,
            self.capacity,
            self.intermarket_sweep,
            self.cross_type,
            self.order_state,
            AlphaDisplay(&self.cl_ord_id),
            self.options
        )
    }
}

view! {
    /// Order Replaced (`U`, §3.3).
    OrderReplacedView, ORDER_REPLACED_LEN = 66;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    orig_user_ref_num, set_orig_user_ref_num: u32 = 9;
    user_ref_num, set_user_ref_num: u32 = 13;
    side, set_side: u8 = 17;
    quantity, set_quantity: u32 = 18;
    symbol, set_symbol: [u8; 8] = 22;
    price, set_price: u64 = 30;
    time_in_force, set_time_in_force: u8 = 38;
    display, set_display: u8 = 39;
    order_reference_number, set_order_reference_number: u64 = 40;
    capacity, set_capacity: u8 = 48;
    intermarket_sweep, set_intermarket_sweep: u8 = 49;
    cross_type, set_cross_type: u8 = 50;
    order_state, set_order_state: u8 = 51;
    cl_ord_id, set_cl_ord_id: [u8; 14] = 52;
}

/// Order Replaced (`U`, §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderReplaced {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub orig_user_ref_num: u32,
    pub user_ref_num: u32,
    pub side: Side,
    /// Shares outstanding.
    pub quantity: u32,
    pub symbol: [u8; 8],
    pub price: u64,
    pub time_in_force: TimeInForce,
    pub display: Display,
    pub order_reference_number: u64,
    pub capacity: Capacity,
    pub intermarket_sweep: bool,
    pub cross_type: CrossType,
    pub order_state: OrderState,
    pub cl_ord_id: [u8; 14],
    pub options: Options,
}

impl OrderReplaced {
    pub fn parse(view: &OrderReplacedView<&[u8]>) -> Result<OrderReplaced, Error> {
        Ok(OrderReplaced {
            timestamp_ns: view.timestamp_ns(),
            orig_user_ref_num: view.orig_user_ref_num(),
            user_ref_num: view.user_ref_num(),
            side: coded(Side::from_code(view.side()), 17, RejectCode::Other)?,
            quantity: view.quantity(),
            symbol: view.symbol(),
            price: view.price(),
            time_in_force: coded(
                TimeInForce::from_code(view.time_in_force()),
                38,
                RejectCode::Other,
            )?,
            display: coded(Display::from_code(view.display()), 39, RejectCode::Other)?,
            order_reference_number: view.order_reference_number(),
            capacity: coded(Capacity::from_code(view.capacity()), 48, RejectCode::Other)?,
            intermarket_sweep: coded(yes_no(view.intermarket_sweep()), 49, RejectCode::Other)?,
            cross_type: coded(
                CrossType::from_code(view.cross_type()),
                50,
                RejectCode::Other,
            )?,
            order_state: coded(
                OrderState::from_code(view.order_state()),
                51,
                RejectCode::Other,
            )?,
            cl_ord_id: view.cl_ord_id(),
            options: Options::parse(
                view.rest(),
                false,
                ORDER_REPLACED_OPTIONS,
                ORDER_REPLACED_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_REPLACED_LEN + self.options.buffer_len(false, ORDER_REPLACED_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = OrderReplacedView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'U');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_orig_user_ref_num(self.orig_user_ref_num);
        view.set_user_ref_num(self.user_ref_num);
        view.set_side(self.side.code());
        view.set_quantity(self.quantity);
        view.set_symbol(self.symbol);
        view.set_price(self.price);
        view.set_time_in_force(self.time_in_force.code());
        view.set_display(self.display.code());
        view.set_order_reference_number(self.order_reference_number);
        view.set_capacity(self.capacity.code());
        view.set_intermarket_sweep(yes_no_code(self.intermarket_sweep));
        view.set_cross_type(self.cross_type.code());
        view.set_order_state(self.order_state.code());
        view.set_cl_ord_id(self.cl_ord_id);
        ORDER_REPLACED_LEN
            + self
                .options
                .emit(false, ORDER_REPLACED_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for OrderReplaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OrderReplaced t={} orig_user_ref_num={} user_ref_num={} side={} quantity={} symbol={} price={} time_in_force={} display={} order_reference_number={} capacity={} intermarket_sweep={} cross_type={} order_state={} cl_ord_id={}{}",
            self.timestamp_ns,
            self.orig_user_ref_num,
            self.user_ref_num,
            self.side,
            self.quantity,
            AlphaDisplay(&self.symbol),
            PriceDisplay(self.price),
            self.time_in_force,
            self.display,
            self.order_reference_number,
            self.capacity,
            self.intermarket_sweep,
            self.cross_type,
            self.order_state,
            AlphaDisplay(&self.cl_ord_id),
            self.options
        )
    }
}

view! {
    /// Order Canceled (`C`, §3.4).
    OrderCanceledView, ORDER_CANCELED_LEN = 18;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    quantity, set_quantity: u32 = 13;
    reason, set_reason: u8 = 17;
}

/// Order Canceled (`C`, §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCanceled {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    /// Shares taken off, incremental.
    pub quantity: u32,
    pub reason: CancelReason,
    pub options: Options,
}

impl OrderCanceled {
    pub fn parse(view: &OrderCanceledView<&[u8]>) -> Result<OrderCanceled, Error> {
        Ok(OrderCanceled {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            quantity: view.quantity(),
            reason: coded(
                CancelReason::from_code(view.reason()),
                17,
                RejectCode::Other,
            )?,
            options: Options::parse(view.rest(), true, USER_REF_IDX_ONLY, ORDER_CANCELED_LEN)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_CANCELED_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = OrderCanceledView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'C');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_quantity(self.quantity);
        view.set_reason(self.reason.code());
        ORDER_CANCELED_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for OrderCanceled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OrderCanceled t={} user_ref_num={} quantity={} reason={}{}",
            self.timestamp_ns, self.user_ref_num, self.quantity, self.reason, self.options
        )
    }
}

view! {
    /// AIQ Canceled (`D`, §3.5).
    AiqCanceledView, AIQ_CANCELED_LEN = 32;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    decrement_shares, set_decrement_shares: u32 = 13;
    reason, set_reason: u8 = 17;
    quantity_prevented, set_quantity_prevented: u32 = 18;
    execution_price, set_execution_price: u64 = 22;
    liquidity_flag, set_liquidity_flag: u8 = 30;
    aiq_strategy, set_aiq_strategy: u8 = 31;
}

/// AIQ Canceled (`D`, §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AiqCanceled {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub decrement_shares: u32,
    pub reason: CancelReason,
    pub quantity_prevented: u32,
    pub execution_price: u64,
    pub liquidity_flag: LiquidityFlag,
    /// Raw strategy code.
    pub aiq_strategy: u8,
    pub options: Options,
}

impl AiqCanceled {
    pub fn parse(view: &AiqCanceledView<&[u8]>) -> Result<AiqCanceled, Error> {
        Ok(AiqCanceled {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            decrement_shares: view.decrement_shares(),
            reason: coded(
                CancelReason::from_code(view.reason()),
                17,
                RejectCode::Other,
            )?,
            quantity_prevented: view.quantity_prevented(),
            execution_price: view.execution_price(),
            liquidity_flag: coded(
                LiquidityFlag::from_code(view.liquidity_flag()),
                30,
                RejectCode::Other,
            )?,
            aiq_strategy: view.aiq_strategy(),
            options: Options::parse(view.rest(), true, USER_REF_IDX_ONLY, AIQ_CANCELED_LEN)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        AIQ_CANCELED_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = AiqCanceledView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'D');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_decrement_shares(self.decrement_shares);
        view.set_reason(self.reason.code());
        view.set_quantity_prevented(self.quantity_prevented);
        view.set_execution_price(self.execution_price);
        view.set_liquidity_flag(self.liquidity_flag.code());
        view.set_aiq_strategy(self.aiq_strategy);
        AIQ_CANCELED_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for AiqCanceled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AiqCanceled t={} user_ref_num={} decrement_shares={} reason={} quantity_prevented={} execution_price={} liquidity_flag={} aiq_strategy={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            self.decrement_shares,
            self.reason,
            self.quantity_prevented,
            PriceDisplay(self.execution_price),
            self.liquidity_flag,
            self.aiq_strategy,
            self.options
        )
    }
}

view! {
    /// Order Executed (`E`, §3.6).
    OrderExecutedView, ORDER_EXECUTED_LEN = 34;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    quantity, set_quantity: u32 = 13;
    price, set_price: u64 = 17;
    liquidity_flag, set_liquidity_flag: u8 = 25;
    match_number, set_match_number: u64 = 26;
}

/// Order Executed (`E`, §3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderExecuted {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    /// Shares just executed.
    pub quantity: u32,
    pub price: u64,
    pub liquidity_flag: LiquidityFlag,
    pub match_number: u64,
    pub options: Options,
}

impl OrderExecuted {
    pub fn parse(view: &OrderExecutedView<&[u8]>) -> Result<OrderExecuted, Error> {
        Ok(OrderExecuted {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            quantity: view.quantity(),
            price: view.price(),
            liquidity_flag: coded(
                LiquidityFlag::from_code(view.liquidity_flag()),
                25,
                RejectCode::Other,
            )?,
            match_number: view.match_number(),
            options: Options::parse(view.rest(), false, USER_REF_IDX_ONLY, ORDER_EXECUTED_LEN)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_EXECUTED_LEN + self.options.buffer_len(false, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = OrderExecutedView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'E');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_quantity(self.quantity);
        view.set_price(self.price);
        view.set_liquidity_flag(self.liquidity_flag.code());
        view.set_match_number(self.match_number);
        ORDER_EXECUTED_LEN + self.options.emit(false, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for OrderExecuted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OrderExecuted t={} user_ref_num={} quantity={} price={} liquidity_flag={} match_number={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            self.quantity,
            PriceDisplay(self.price),
            self.liquidity_flag,
            self.match_number,
            self.options
        )
    }
}

view! {
    /// Broken Trade (`B`, §3.7).
    BrokenTradeView, BROKEN_TRADE_LEN = 36;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    match_number, set_match_number: u64 = 13;
    reason, set_reason: u8 = 21;
    cl_ord_id, set_cl_ord_id: [u8; 14] = 22;
}

/// Broken Trade (`B`, §3.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokenTrade {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub match_number: u64,
    pub reason: BrokenReason,
    pub cl_ord_id: [u8; 14],
    pub options: Options,
}

impl BrokenTrade {
    pub fn parse(view: &BrokenTradeView<&[u8]>) -> Result<BrokenTrade, Error> {
        Ok(BrokenTrade {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            match_number: view.match_number(),
            reason: coded(
                BrokenReason::from_code(view.reason()),
                21,
                RejectCode::Other,
            )?,
            cl_ord_id: view.cl_ord_id(),
            options: Options::parse(view.rest(), true, USER_REF_IDX_ONLY, BROKEN_TRADE_LEN)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        BROKEN_TRADE_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = BrokenTradeView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'B');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_match_number(self.match_number);
        view.set_reason(self.reason.code());
        view.set_cl_ord_id(self.cl_ord_id);
        BROKEN_TRADE_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for BrokenTrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BrokenTrade t={} user_ref_num={} match_number={} reason={} cl_ord_id={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            self.match_number,
            self.reason,
            AlphaDisplay(&self.cl_ord_id),
            self.options
        )
    }
}

view! {
    /// Rejected (`J`, §3.8).
    RejectedView, REJECTED_LEN = 29;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    reason, set_reason: u16 = 13;
    cl_ord_id, set_cl_ord_id: [u8; 14] = 15;
}

/// Rejected (`J`, §3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub reason: RejectCode,
    pub cl_ord_id: [u8; 14],
    pub options: Options,
}

impl Rejected {
    pub fn parse(view: &RejectedView<&[u8]>) -> Result<Rejected, Error> {
        Ok(Rejected {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            reason: coded(RejectCode::from_code(view.reason()), 13, RejectCode::Other)?,
            cl_ord_id: view.cl_ord_id(),
            options: Options::parse(view.rest(), true, USER_REF_IDX_ONLY, REJECTED_LEN)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        REJECTED_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = RejectedView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'J');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_reason(self.reason.code());
        view.set_cl_ord_id(self.cl_ord_id);
        REJECTED_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Rejected t={} user_ref_num={} reason={} cl_ord_id={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            self.reason,
            AlphaDisplay(&self.cl_ord_id),
            self.options
        )
    }
}

view! {
    /// Timestamp + UserRefNum, the shape Cancel Pending (`P`, §3.9) and Cancel Reject
    /// (`I`, §3.10) share; the type byte tells them apart.
    UserRefNoticeView, USER_REF_NOTICE_LEN = 13;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
}

/// View of Cancel Pending (`P`, §3.9).
pub type CancelPendingView<T> = UserRefNoticeView<T>;
/// Fixed length of Cancel Pending (`P`, §3.9).
pub const CANCEL_PENDING_LEN: usize = USER_REF_NOTICE_LEN;
/// View of Cancel Reject (`I`, §3.10).
pub type CancelRejectView<T> = UserRefNoticeView<T>;
/// Fixed length of Cancel Reject (`I`, §3.10).
pub const CANCEL_REJECT_LEN: usize = USER_REF_NOTICE_LEN;

/// A message of timestamp + UserRefNum + options whose type byte is `TYPE`: Cancel Pending
/// (`b'P'`) or Cancel Reject (`b'I'`). Use the aliases [`CancelPending`] and [`CancelReject`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRefNotice<const TYPE: u8> {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub options: Options,
}

/// Cancel Pending (`P`, §3.9).
pub type CancelPending = UserRefNotice<b'P'>;
/// Cancel Reject (`I`, §3.10).
pub type CancelReject = UserRefNotice<b'I'>;

impl<const TYPE: u8> UserRefNotice<TYPE> {
    /// The name `Display` prints for this type byte. Any type byte but `P` and `I` fails to
    /// compile (const evaluation), so no other message can take this shape by mistake.
    const NAME: &'static str = match TYPE {
        b'P' => "CancelPending",
        b'I' => "CancelReject",
        _ => panic!("UserRefNotice is only Cancel Pending (P) or Cancel Reject (I)"),
    };
    /// `TYPE`, checked at compile time through [`Self::NAME`].
    const MESSAGE_TYPE: u8 = {
        let _ = Self::NAME;
        TYPE
    };

    pub fn parse(view: &UserRefNoticeView<&[u8]>) -> Result<UserRefNotice<TYPE>, Error> {
        Ok(UserRefNotice {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            options: Options::parse(view.rest(), true, USER_REF_IDX_ONLY, USER_REF_NOTICE_LEN)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        USER_REF_NOTICE_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = UserRefNoticeView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(Self::MESSAGE_TYPE);
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        USER_REF_NOTICE_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl<const TYPE: u8> fmt::Display for UserRefNotice<TYPE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} t={} user_ref_num={}{}",
            Self::NAME,
            self.timestamp_ns,
            self.user_ref_num,
            self.options
        )
    }
}

view! {
    /// Order Priority Update (`T`, §3.11).
    OrderPriorityUpdateView, ORDER_PRIORITY_UPDATE_LEN = 30;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    price, set_price: u64 = 13;
    display, set_display: u8 = 21;
    order_reference_number, set_order_reference_number: u64 = 22;
}

/// Order Priority Update (`T`, §3.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderPriorityUpdate {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub price: u64,
    pub display: Display,
    pub order_reference_number: u64,
    pub options: Options,
}

impl OrderPriorityUpdate {
    pub fn parse(view: &OrderPriorityUpdateView<&[u8]>) -> Result<OrderPriorityUpdate, Error> {
        Ok(OrderPriorityUpdate {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            price: view.price(),
            display: coded(Display::from_code(view.display()), 21, RejectCode::Other)?,
            order_reference_number: view.order_reference_number(),
            options: Options::parse(
                view.rest(),
                true,
                USER_REF_IDX_ONLY,
                ORDER_PRIORITY_UPDATE_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_PRIORITY_UPDATE_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = OrderPriorityUpdateView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'T');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_price(self.price);
        view.set_display(self.display.code());
        view.set_order_reference_number(self.order_reference_number);
        ORDER_PRIORITY_UPDATE_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for OrderPriorityUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OrderPriorityUpdate t={} user_ref_num={} price={} display={} order_reference_number={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            PriceDisplay(self.price),
            self.display,
            self.order_reference_number,
            self.options
        )
    }
}

view! {
    /// Order Modified (`M`, §3.12).
    OrderModifiedView, ORDER_MODIFIED_LEN = 18;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    side, set_side: u8 = 13;
    quantity, set_quantity: u32 = 14;
}

/// Order Modified (`M`, §3.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderModified {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub side: Side,
    /// Shares outstanding.
    pub quantity: u32,
    pub options: Options,
}

impl OrderModified {
    pub fn parse(view: &OrderModifiedView<&[u8]>) -> Result<OrderModified, Error> {
        Ok(OrderModified {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            side: coded(Side::from_code(view.side()), 13, RejectCode::Other)?,
            quantity: view.quantity(),
            options: Options::parse(
                view.rest(),
                true,
                ORDER_MODIFIED_OPTIONS,
                ORDER_MODIFIED_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_MODIFIED_LEN + self.options.buffer_len(true, ORDER_MODIFIED_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = OrderModifiedView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'M');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_side(self.side.code());
        view.set_quantity(self.quantity);
        ORDER_MODIFIED_LEN
            + self
                .options
                .emit(true, ORDER_MODIFIED_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for OrderModified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OrderModified t={} user_ref_num={} side={} quantity={}{}",
            self.timestamp_ns, self.user_ref_num, self.side, self.quantity, self.options
        )
    }
}

view! {
    /// Order Restated (`R`, §3.13).
    OrderRestatedView, ORDER_RESTATED_LEN = 14;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    reason, set_reason: u8 = 13;
}

/// Order Restated (`R`, §3.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRestated {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub reason: RestateReason,
    pub options: Options,
}

impl OrderRestated {
    pub fn parse(view: &OrderRestatedView<&[u8]>) -> Result<OrderRestated, Error> {
        Ok(OrderRestated {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            reason: coded(
                RestateReason::from_code(view.reason()),
                13,
                RejectCode::Other,
            )?,
            options: Options::parse(
                view.rest(),
                false,
                ORDER_RESTATED_OPTIONS,
                ORDER_RESTATED_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_RESTATED_LEN + self.options.buffer_len(false, ORDER_RESTATED_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = OrderRestatedView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'R');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_reason(self.reason.code());
        ORDER_RESTATED_LEN
            + self
                .options
                .emit(false, ORDER_RESTATED_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for OrderRestated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OrderRestated t={} user_ref_num={} reason={}{}",
            self.timestamp_ns, self.user_ref_num, self.reason, self.options
        )
    }
}

view! {
    /// Account Query Response (`Q`, §3.17).
    AccountQueryResponseView, ACCOUNT_QUERY_RESPONSE_LEN = 13;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    next_user_ref_num, set_next_user_ref_num: u32 = 9;
}

/// Account Query Response (`Q`, §3.17).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountQueryResponse {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub next_user_ref_num: u32,
    pub options: Options,
}

impl AccountQueryResponse {
    pub fn parse(view: &AccountQueryResponseView<&[u8]>) -> Result<AccountQueryResponse, Error> {
        Ok(AccountQueryResponse {
            timestamp_ns: view.timestamp_ns(),
            next_user_ref_num: view.next_user_ref_num(),
            options: Options::parse(
                view.rest(),
                true,
                USER_REF_IDX_ONLY,
                ACCOUNT_QUERY_RESPONSE_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ACCOUNT_QUERY_RESPONSE_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = AccountQueryResponseView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'Q');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_next_user_ref_num(self.next_user_ref_num);
        ACCOUNT_QUERY_RESPONSE_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for AccountQueryResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AccountQueryResponse t={} next_user_ref_num={}{}",
            self.timestamp_ns, self.next_user_ref_num, self.options
        )
    }
}

view! {
    /// Mass Cancel Response (`X`, §3.14).
    MassCancelResponseView, MASS_CANCEL_RESPONSE_LEN = 25;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    firm, set_firm: [u8; 4] = 13;
    symbol, set_symbol: [u8; 8] = 17;
}

/// Mass Cancel Response (`X`, §3.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassCancelResponse {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub firm: [u8; 4],
    pub symbol: [u8; 8],
    pub options: Options,
}

impl MassCancelResponse {
    pub fn parse(view: &MassCancelResponseView<&[u8]>) -> Result<MassCancelResponse, Error> {
        Ok(MassCancelResponse {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            firm: view.firm(),
            symbol: view.symbol(),
            options: Options::parse(
                view.rest(),
                false,
                MASS_CANCEL_RESPONSE_OPTIONS,
                MASS_CANCEL_RESPONSE_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        MASS_CANCEL_RESPONSE_LEN + self.options.buffer_len(false, MASS_CANCEL_RESPONSE_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = MassCancelResponseView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'X');
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_firm(self.firm);
        view.set_symbol(self.symbol);
        MASS_CANCEL_RESPONSE_LEN
            + self
                .options
                .emit(false, MASS_CANCEL_RESPONSE_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for MassCancelResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MassCancelResponse t={} user_ref_num={} firm={} symbol={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            AlphaDisplay(&self.firm),
            AlphaDisplay(&self.symbol),
            self.options
        )
    }
}

view! {
    /// Disable (`G`, §3.15) or Enable (`K`, §3.16) Order Entry Response; which one is the [`Outbound`] variant.
    OrderEntryControlResponseView, ORDER_ENTRY_CONTROL_RESPONSE_LEN = 17;
    message_type, set_message_type: u8 = 0;
    timestamp_ns, set_timestamp_ns: u64 = 1;
    user_ref_num, set_user_ref_num: u32 = 9;
    firm, set_firm: [u8; 4] = 13;
}

/// Disable (`G`, §3.15) or Enable (`K`, §3.16) Order Entry Response; which one is the [`Outbound`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderEntryControlResponse {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    pub user_ref_num: u32,
    pub firm: [u8; 4],
    pub options: Options,
}

impl OrderEntryControlResponse {
    pub fn parse(
        view: &OrderEntryControlResponseView<&[u8]>,
    ) -> Result<OrderEntryControlResponse, Error> {
        Ok(OrderEntryControlResponse {
            timestamp_ns: view.timestamp_ns(),
            user_ref_num: view.user_ref_num(),
            firm: view.firm(),
            options: Options::parse(
                view.rest(),
                false,
                USER_REF_IDX_ONLY,
                ORDER_ENTRY_CONTROL_RESPONSE_LEN,
            )?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_ENTRY_CONTROL_RESPONSE_LEN + self.options.buffer_len(false, USER_REF_IDX_ONLY)
    }

    /// Writes the message with type byte `G` (disable) or `K` (enable).
    pub fn emit(&self, message_type: u8, buffer: &mut [u8]) -> usize {
        assert!(message_type == b'G' || message_type == b'K');
        let mut view =
            OrderEntryControlResponseView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(message_type);
        view.set_timestamp_ns(self.timestamp_ns);
        view.set_user_ref_num(self.user_ref_num);
        view.set_firm(self.firm);
        ORDER_ENTRY_CONTROL_RESPONSE_LEN
            + self.options.emit(false, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for OrderEntryControlResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={} user_ref_num={} firm={}{}",
            self.timestamp_ns,
            self.user_ref_num,
            AlphaDisplay(&self.firm),
            self.options
        )
    }
}

/// Any outbound message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound {
    SystemEvent(SystemEvent),
    OrderAccepted(OrderAccepted),
    OrderReplaced(OrderReplaced),
    OrderCanceled(OrderCanceled),
    AiqCanceled(AiqCanceled),
    OrderExecuted(OrderExecuted),
    BrokenTrade(BrokenTrade),
    Rejected(Rejected),
    CancelPending(CancelPending),
    CancelReject(CancelReject),
    OrderPriorityUpdate(OrderPriorityUpdate),
    OrderModified(OrderModified),
    OrderRestated(OrderRestated),
    AccountQueryResponse(AccountQueryResponse),
    MassCancelResponse(MassCancelResponse),
    DisableOrderEntryResponse(OrderEntryControlResponse),
    EnableOrderEntryResponse(OrderEntryControlResponse),
}

impl Outbound {
    /// Parses one whole message (the payload of a SoupBinTCP Sequenced Data packet).
    pub fn parse(bytes: &[u8]) -> Result<Outbound, Error> {
        let message_type = message_type_of(bytes)?;
        let message = match message_type {
            b'S' => Outbound::SystemEvent(parse_as(
                bytes,
                SystemEventView::new_checked,
                SystemEvent::parse,
            )?),
            b'A' => Outbound::OrderAccepted(parse_as(
                bytes,
                OrderAcceptedView::new_checked,
                OrderAccepted::parse,
            )?),
            b'U' => Outbound::OrderReplaced(parse_as(
                bytes,
                OrderReplacedView::new_checked,
                OrderReplaced::parse,
            )?),
            b'C' => Outbound::OrderCanceled(parse_as(
                bytes,
                OrderCanceledView::new_checked,
                OrderCanceled::parse,
            )?),
            b'D' => Outbound::AiqCanceled(parse_as(
                bytes,
                AiqCanceledView::new_checked,
                AiqCanceled::parse,
            )?),
            b'E' => Outbound::OrderExecuted(parse_as(
                bytes,
                OrderExecutedView::new_checked,
                OrderExecuted::parse,
            )?),
            b'B' => Outbound::BrokenTrade(parse_as(
                bytes,
                BrokenTradeView::new_checked,
                BrokenTrade::parse,
            )?),
            b'J' => {
                Outbound::Rejected(parse_as(bytes, RejectedView::new_checked, Rejected::parse)?)
            }
            b'P' => Outbound::CancelPending(parse_as(
                bytes,
                CancelPendingView::new_checked,
                CancelPending::parse,
            )?),
            b'I' => Outbound::CancelReject(parse_as(
                bytes,
                CancelRejectView::new_checked,
                CancelReject::parse,
            )?),
            b'T' => Outbound::OrderPriorityUpdate(parse_as(
                bytes,
                OrderPriorityUpdateView::new_checked,
                OrderPriorityUpdate::parse,
            )?),
            b'M' => Outbound::OrderModified(parse_as(
                bytes,
                OrderModifiedView::new_checked,
                OrderModified::parse,
            )?),
            b'R' => Outbound::OrderRestated(parse_as(
                bytes,
                OrderRestatedView::new_checked,
                OrderRestated::parse,
            )?),
            b'Q' => Outbound::AccountQueryResponse(parse_as(
                bytes,
                AccountQueryResponseView::new_checked,
                AccountQueryResponse::parse,
            )?),
            b'X' => Outbound::MassCancelResponse(parse_as(
                bytes,
                MassCancelResponseView::new_checked,
                MassCancelResponse::parse,
            )?),
            b'G' => Outbound::DisableOrderEntryResponse(parse_as(
                bytes,
                OrderEntryControlResponseView::new_checked,
                OrderEntryControlResponse::parse,
            )?),
            b'K' => Outbound::EnableOrderEntryResponse(parse_as(
                bytes,
                OrderEntryControlResponseView::new_checked,
                OrderEntryControlResponse::parse,
            )?),
            other => return Err(Error::structural(ErrorKind::UnknownType(other))),
        };
        Ok(message)
    }

    pub fn message_type(&self) -> u8 {
        match self {
            Outbound::SystemEvent(_) => b'S',
            Outbound::OrderAccepted(_) => b'A',
            Outbound::OrderReplaced(_) => b'U',
            Outbound::OrderCanceled(_) => b'C',
            Outbound::AiqCanceled(_) => b'D',
            Outbound::OrderExecuted(_) => b'E',
            Outbound::BrokenTrade(_) => b'B',
            Outbound::Rejected(_) => b'J',
            Outbound::CancelPending(_) => b'P',
            Outbound::CancelReject(_) => b'I',
            Outbound::OrderPriorityUpdate(_) => b'T',
            Outbound::OrderModified(_) => b'M',
            Outbound::OrderRestated(_) => b'R',
            Outbound::AccountQueryResponse(_) => b'Q',
            Outbound::MassCancelResponse(_) => b'X',
            Outbound::DisableOrderEntryResponse(_) => b'G',
            Outbound::EnableOrderEntryResponse(_) => b'K',
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            Outbound::SystemEvent(message) => message.buffer_len(),
            Outbound::OrderAccepted(message) => message.buffer_len(),
            Outbound::OrderReplaced(message) => message.buffer_len(),
            Outbound::OrderCanceled(message) => message.buffer_len(),
            Outbound::AiqCanceled(message) => message.buffer_len(),
            Outbound::OrderExecuted(message) => message.buffer_len(),
            Outbound::BrokenTrade(message) => message.buffer_len(),
            Outbound::Rejected(message) => message.buffer_len(),
            Outbound::CancelPending(message) => message.buffer_len(),
            Outbound::CancelReject(message) => message.buffer_len(),
            Outbound::OrderPriorityUpdate(message) => message.buffer_len(),
            Outbound::OrderModified(message) => message.buffer_len(),
            Outbound::OrderRestated(message) => message.buffer_len(),
            Outbound::AccountQueryResponse(message) => message.buffer_len(),
            Outbound::MassCancelResponse(message) => message.buffer_len(),
            Outbound::DisableOrderEntryResponse(message) => message.buffer_len(),
            Outbound::EnableOrderEntryResponse(message) => message.buffer_len(),
        }
    }

    /// Writes the message into `buffer[..buffer_len()]`; returns `buffer_len()`.
    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        match self {
            Outbound::SystemEvent(message) => message.emit(buffer),
            Outbound::OrderAccepted(message) => message.emit(buffer),
            Outbound::OrderReplaced(message) => message.emit(buffer),
            Outbound::OrderCanceled(message) => message.emit(buffer),
            Outbound::AiqCanceled(message) => message.emit(buffer),
            Outbound::OrderExecuted(message) => message.emit(buffer),
            Outbound::BrokenTrade(message) => message.emit(buffer),
            Outbound::Rejected(message) => message.emit(buffer),
            Outbound::CancelPending(message) => message.emit(buffer),
            Outbound::CancelReject(message) => message.emit(buffer),
            Outbound::OrderPriorityUpdate(message) => message.emit(buffer),
            Outbound::OrderModified(message) => message.emit(buffer),
            Outbound::OrderRestated(message) => message.emit(buffer),
            Outbound::AccountQueryResponse(message) => message.emit(buffer),
            Outbound::MassCancelResponse(message) => message.emit(buffer),
            Outbound::DisableOrderEntryResponse(message) => message.emit(b'G', buffer),
            Outbound::EnableOrderEntryResponse(message) => message.emit(b'K', buffer),
        }
    }
}

impl fmt::Display for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outbound::SystemEvent(message) => message.fmt(f),
            Outbound::OrderAccepted(message) => message.fmt(f),
            Outbound::OrderReplaced(message) => message.fmt(f),
            Outbound::OrderCanceled(message) => message.fmt(f),
            Outbound::AiqCanceled(message) => message.fmt(f),
            Outbound::OrderExecuted(message) => message.fmt(f),
            Outbound::BrokenTrade(message) => message.fmt(f),
            Outbound::Rejected(message) => message.fmt(f),
            Outbound::CancelPending(message) => message.fmt(f),
            Outbound::CancelReject(message) => message.fmt(f),
            Outbound::OrderPriorityUpdate(message) => message.fmt(f),
            Outbound::OrderModified(message) => message.fmt(f),
            Outbound::OrderRestated(message) => message.fmt(f),
            Outbound::AccountQueryResponse(message) => message.fmt(f),
            Outbound::MassCancelResponse(message) => message.fmt(f),
            Outbound::DisableOrderEntryResponse(message) => {
                write!(f, "DisableOrderEntryResponse {message}")
            }
            Outbound::EnableOrderEntryResponse(message) => {
                write!(f, "EnableOrderEntryResponse {message}")
            }
        }
    }
}
