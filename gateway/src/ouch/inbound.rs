//! OUCH 5.0 inbound messages (client to server, §2): views and `Repr`s.
//!
//! Each view covers a message's fixed part, up to (not including) its appendage length field;
//! the appendage follows at offset `*_LEN`. The `*_LEN` constants are the PDF's offset of the
//! "Appendage Length" field.
//!
//! # Invariants
//! - `parse` judges every field against the spec's lists (§2) and returns the reject code for
//!   the first bad one; options outside a message's set are skipped.
//! - `emit` writes exactly `buffer_len()` bytes.

use core::fmt;

use super::options::{Options, TagSet, USER_REF_IDX_ONLY};
use super::{
    check_cl_ord_id, check_entered_price, check_entered_quantity, check_printable, coded,
    message_type_of, parse_as, yes_no, yes_no_code, Capacity, ClOrdId, CrossType, Display, Error,
    ErrorKind, Firm, OptionTag, RejectCode, Side, Symbol, TimeInForce,
};
use crate::wire::{view, AlphaDisplay, PriceDisplay};

view! {
    /// Enter Order (`O`, §2.1).
    EnterOrderView, ENTER_ORDER_LEN = 45;
    message_type, set_message_type: u8 = 0;
    user_ref_num, set_user_ref_num: u32 = 1;
    side, set_side: u8 = 5;
    quantity, set_quantity: u32 = 6;
    symbol, set_symbol: [u8; 8] = 10;
    price, set_price: u64 = 18;
    time_in_force, set_time_in_force: u8 = 26;
    display, set_display: u8 = 27;
    capacity, set_capacity: u8 = 28;
    intermarket_sweep, set_intermarket_sweep: u8 = 29;
    cross_type, set_cross_type: u8 = 30;
    cl_ord_id, set_cl_ord_id: [u8; 14] = 31;
}

view! {
    /// Replace Order Request (`U`, §2.2).
    ReplaceOrderView, REPLACE_ORDER_LEN = 38;
    message_type, set_message_type: u8 = 0;
    orig_user_ref_num, set_orig_user_ref_num: u32 = 1;
    user_ref_num, set_user_ref_num: u32 = 5;
    quantity, set_quantity: u32 = 9;
    price, set_price: u64 = 13;
    time_in_force, set_time_in_force: u8 = 21;
    display, set_display: u8 = 22;
    intermarket_sweep, set_intermarket_sweep: u8 = 23;
    cl_ord_id, set_cl_ord_id: [u8; 14] = 24;
}

view! {
    /// Cancel Order Request (`X`, §2.3). The appendage is optional.
    CancelOrderView, CANCEL_ORDER_LEN = 9;
    message_type, set_message_type: u8 = 0;
    user_ref_num, set_user_ref_num: u32 = 1;
    quantity, set_quantity: u32 = 5;
}

view! {
    /// Modify Order Request (`M`, §2.4). The appendage is optional.
    ModifyOrderView, MODIFY_ORDER_LEN = 10;
    message_type, set_message_type: u8 = 0;
    user_ref_num, set_user_ref_num: u32 = 1;
    side, set_side: u8 = 5;
    quantity, set_quantity: u32 = 6;
}

view! {
    /// Mass Cancel Request (`C`, §2.5).
    MassCancelView, MASS_CANCEL_LEN = 17;
    message_type, set_message_type: u8 = 0;
    user_ref_num, set_user_ref_num: u32 = 1;
    firm, set_firm: [u8; 4] = 5;
    symbol, set_symbol: [u8; 8] = 9;
}

view! {
    /// Disable (`D`, §2.6) and Enable (`E`, §2.7) Order Entry Request.
    OrderEntryControlView, ORDER_ENTRY_CONTROL_LEN = 9;
    message_type, set_message_type: u8 = 0;
    user_ref_num, set_user_ref_num: u32 = 1;
    firm, set_firm: [u8; 4] = 5;
}

view! {
    /// Account Query Request (`Q`, §2.8). The appendage is optional.
    AccountQueryView, ACCOUNT_QUERY_LEN = 1;
    message_type, set_message_type: u8 = 0;
}

/// Options of Enter Order (§2.1).
pub const ENTER_ORDER_OPTIONS: TagSet = TagSet::of(&[
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
    OptionTag::ExpireTime,
    OptionTag::TradeNow,
    OptionTag::HandleInst,
    OptionTag::GroupId,
    OptionTag::SharesLocated,
    OptionTag::LocateBroker,
    OptionTag::UserRefIdx,
]);

/// Options of Replace Order (§2.2).
pub const REPLACE_ORDER_OPTIONS: TagSet = TagSet::of(&[
    OptionTag::MinQty,
    OptionTag::MaxFloor,
    OptionTag::PriceType,
    OptionTag::PostOnly,
    OptionTag::ExpireTime,
    OptionTag::TradeNow,
    OptionTag::HandleInst,
    OptionTag::RandomReserves,
    OptionTag::PegOffset,
    OptionTag::DiscretionPrice,
    OptionTag::DiscretionPriceType,
    OptionTag::DiscretionPegOffset,
    OptionTag::SharesLocated,
    OptionTag::LocateBroker,
    OptionTag::UserRefIdx,
    OptionTag::Side,
]);

/// Options of Modify Order (§2.4).
pub const MODIFY_ORDER_OPTIONS: TagSet = TagSet::of(&[
    OptionTag::UserRefIdx,
    OptionTag::SharesLocated,
    OptionTag::LocateBroker,
]);

/// Options of Mass Cancel (§2.5).
pub const MASS_CANCEL_OPTIONS: TagSet =
    TagSet::of(&[OptionTag::Side, OptionTag::GroupId, OptionTag::UserRefIdx]);

/// Enter Order (§2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnterOrder {
    pub user_ref_num: u32,
    pub side: Side,
    /// `1..1_000_000`.
    pub quantity: u32,
    pub symbol: Symbol,
    /// 4 implied decimals, at most [`super::PRICE_MAX`], or a market sentinel.
    pub price: u64,
    pub time_in_force: TimeInForce,
    pub display: Display,
    pub capacity: Capacity,
    pub intermarket_sweep: bool,
    pub cross_type: CrossType,
    pub cl_ord_id: ClOrdId,
    pub options: Options,
}

impl EnterOrder {
    pub fn parse(view: &EnterOrderView<&[u8]>) -> Result<EnterOrder, Error> {
        let side = coded(Side::from_code(view.side()), 5, RejectCode::InvalidSide)?;
        check_entered_quantity(view.quantity(), 6)?;
        check_printable(&view.symbol(), 10, RejectCode::InvalidSymbol)?;
        check_entered_price(view.price(), 18)?;
        let tif = coded(
            TimeInForce::from_code(view.time_in_force()),
            26,
            RejectCode::Other,
        )?;
        let display = coded(
            Display::from_code(view.display()),
            27,
            RejectCode::InvalidDisplay,
        )?;
        let capacity = coded(Capacity::from_code(view.capacity()), 28, RejectCode::Other)?;
        let sweep = coded(
            yes_no(view.intermarket_sweep()),
            29,
            RejectCode::IsoNotAllowed,
        )?;
        let cross = coded(
            CrossType::from_code(view.cross_type()),
            30,
            RejectCode::InvalidCrossOrder,
        )?;
        check_cl_ord_id(&view.cl_ord_id(), 31)?;
        let options = Options::parse(view.rest(), false, ENTER_ORDER_OPTIONS, ENTER_ORDER_LEN)?;
        Ok(EnterOrder {
            user_ref_num: view.user_ref_num(),
            side,
            quantity: view.quantity(),
            symbol: view.symbol(),
            price: view.price(),
            time_in_force: tif,
            display,
            capacity,
            intermarket_sweep: sweep,
            cross_type: cross,
            cl_ord_id: view.cl_ord_id(),
            options,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ENTER_ORDER_LEN + self.options.buffer_len(false, ENTER_ORDER_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = EnterOrderView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'O');
        view.set_user_ref_num(self.user_ref_num);
        view.set_side(self.side.code());
        view.set_quantity(self.quantity);
        view.set_symbol(self.symbol);
        view.set_price(self.price);
        view.set_time_in_force(self.time_in_force.code());
        view.set_display(self.display.code());
        view.set_capacity(self.capacity.code());
        view.set_intermarket_sweep(yes_no_code(self.intermarket_sweep));
        view.set_cross_type(self.cross_type.code());
        view.set_cl_ord_id(self.cl_ord_id);
        ENTER_ORDER_LEN
            + self
                .options
                .emit(false, ENTER_ORDER_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for EnterOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EnterOrder ref={} {} {} {} @ {} tif={} display={} capacity={} iso={} cross={} \
             clordid={}{}",
            self.user_ref_num,
            self.side,
            self.quantity,
            AlphaDisplay(&self.symbol),
            PriceDisplay(self.price),
            self.time_in_force,
            self.display,
            self.capacity,
            self.intermarket_sweep,
            self.cross_type,
            AlphaDisplay(&self.cl_ord_id),
            self.options
        )
    }
}

/// Replace Order Request (§2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplaceOrder {
    pub orig_user_ref_num: u32,
    /// The replacement's UserRefNum: new, strictly increasing.
    pub user_ref_num: u32,
    /// Total shares liable on the whole order chain, executions included; `1..1_000_000`.
    pub quantity: u32,
    pub price: u64,
    pub time_in_force: TimeInForce,
    pub display: Display,
    pub intermarket_sweep: bool,
    pub cl_ord_id: ClOrdId,
    pub options: Options,
}

impl ReplaceOrder {
    pub fn parse(view: &ReplaceOrderView<&[u8]>) -> Result<ReplaceOrder, Error> {
        check_entered_quantity(view.quantity(), 9)?;
        check_entered_price(view.price(), 13)?;
        let tif = coded(
            TimeInForce::from_code(view.time_in_force()),
            21,
            RejectCode::Other,
        )?;
        let display = coded(
            Display::from_code(view.display()),
            22,
            RejectCode::InvalidDisplay,
        )?;
        let sweep = coded(
            yes_no(view.intermarket_sweep()),
            23,
            RejectCode::IsoNotAllowed,
        )?;
        check_cl_ord_id(&view.cl_ord_id(), 24)?;
        let options = Options::parse(view.rest(), false, REPLACE_ORDER_OPTIONS, REPLACE_ORDER_LEN)?;
        Ok(ReplaceOrder {
            orig_user_ref_num: view.orig_user_ref_num(),
            user_ref_num: view.user_ref_num(),
            quantity: view.quantity(),
            price: view.price(),
            time_in_force: tif,
            display,
            intermarket_sweep: sweep,
            cl_ord_id: view.cl_ord_id(),
            options,
        })
    }

    pub fn buffer_len(&self) -> usize {
        REPLACE_ORDER_LEN + self.options.buffer_len(false, REPLACE_ORDER_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = ReplaceOrderView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'U');
        view.set_orig_user_ref_num(self.orig_user_ref_num);
        view.set_user_ref_num(self.user_ref_num);
        view.set_quantity(self.quantity);
        view.set_price(self.price);
        view.set_time_in_force(self.time_in_force.code());
        view.set_display(self.display.code());
        view.set_intermarket_sweep(yes_no_code(self.intermarket_sweep));
        view.set_cl_ord_id(self.cl_ord_id);
        REPLACE_ORDER_LEN
            + self
                .options
                .emit(false, REPLACE_ORDER_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for ReplaceOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ReplaceOrder orig={} ref={} {} @ {} tif={} display={} iso={} clordid={}{}",
            self.orig_user_ref_num,
            self.user_ref_num,
            self.quantity,
            PriceDisplay(self.price),
            self.time_in_force,
            self.display,
            self.intermarket_sweep,
            AlphaDisplay(&self.cl_ord_id),
            self.options
        )
    }
}

/// Cancel Order Request (§2.3): `quantity` is the new intended size, 0 cancels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelOrder {
    pub user_ref_num: u32,
    pub quantity: u32,
    pub options: Options,
}

impl CancelOrder {
    pub fn parse(view: &CancelOrderView<&[u8]>) -> Result<CancelOrder, Error> {
        let options = Options::parse(view.rest(), true, USER_REF_IDX_ONLY, CANCEL_ORDER_LEN)?;
        Ok(CancelOrder {
            user_ref_num: view.user_ref_num(),
            quantity: view.quantity(),
            options,
        })
    }

    pub fn buffer_len(&self) -> usize {
        CANCEL_ORDER_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = CancelOrderView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'X');
        view.set_user_ref_num(self.user_ref_num);
        view.set_quantity(self.quantity);
        CANCEL_ORDER_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for CancelOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CancelOrder ref={} qty={}{}",
            self.user_ref_num, self.quantity, self.options
        )
    }
}

/// Modify Order Request (§2.4): new side (sell-type changes only) and new intended size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModifyOrder {
    pub user_ref_num: u32,
    pub side: Side,
    pub quantity: u32,
    pub options: Options,
}

impl ModifyOrder {
    pub fn parse(view: &ModifyOrderView<&[u8]>) -> Result<ModifyOrder, Error> {
        let side = coded(Side::from_code(view.side()), 5, RejectCode::InvalidSide)?;
        let options = Options::parse(view.rest(), true, MODIFY_ORDER_OPTIONS, MODIFY_ORDER_LEN)?;
        Ok(ModifyOrder {
            user_ref_num: view.user_ref_num(),
            side,
            quantity: view.quantity(),
            options,
        })
    }

    pub fn buffer_len(&self) -> usize {
        MODIFY_ORDER_LEN + self.options.buffer_len(true, MODIFY_ORDER_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = ModifyOrderView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'M');
        view.set_user_ref_num(self.user_ref_num);
        view.set_side(self.side.code());
        view.set_quantity(self.quantity);
        MODIFY_ORDER_LEN
            + self
                .options
                .emit(true, MODIFY_ORDER_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for ModifyOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ModifyOrder ref={} {} qty={}{}",
            self.user_ref_num, self.side, self.quantity, self.options
        )
    }
}

/// Mass Cancel Request (§2.5). A blank symbol means every symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassCancel {
    pub user_ref_num: u32,
    pub firm: Firm,
    pub symbol: Symbol,
    pub options: Options,
}

impl MassCancel {
    pub fn parse(view: &MassCancelView<&[u8]>) -> Result<MassCancel, Error> {
        check_printable(&view.firm(), 5, RejectCode::FirmNotAuthorized)?;
        check_printable(&view.symbol(), 9, RejectCode::InvalidSymbol)?;
        let options = Options::parse(view.rest(), false, MASS_CANCEL_OPTIONS, MASS_CANCEL_LEN)?;
        Ok(MassCancel {
            user_ref_num: view.user_ref_num(),
            firm: view.firm(),
            symbol: view.symbol(),
            options,
        })
    }

    pub fn buffer_len(&self) -> usize {
        MASS_CANCEL_LEN + self.options.buffer_len(false, MASS_CANCEL_OPTIONS)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = MassCancelView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'C');
        view.set_user_ref_num(self.user_ref_num);
        view.set_firm(self.firm);
        view.set_symbol(self.symbol);
        MASS_CANCEL_LEN
            + self
                .options
                .emit(false, MASS_CANCEL_OPTIONS, view.rest_mut())
    }
}

impl fmt::Display for MassCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MassCancel ref={} firm={} symbol={}{}",
            self.user_ref_num,
            AlphaDisplay(&self.firm),
            AlphaDisplay(&self.symbol),
            self.options
        )
    }
}

/// Disable (§2.6) or Enable (§2.7) Order Entry Request; which one is the [`Inbound`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderEntryControl {
    pub user_ref_num: u32,
    pub firm: Firm,
    pub options: Options,
}

impl OrderEntryControl {
    pub fn parse(view: &OrderEntryControlView<&[u8]>) -> Result<OrderEntryControl, Error> {
        check_printable(&view.firm(), 5, RejectCode::FirmNotAuthorized)?;
        let options = Options::parse(
            view.rest(),
            false,
            USER_REF_IDX_ONLY,
            ORDER_ENTRY_CONTROL_LEN,
        )?;
        Ok(OrderEntryControl {
            user_ref_num: view.user_ref_num(),
            firm: view.firm(),
            options,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ORDER_ENTRY_CONTROL_LEN + self.options.buffer_len(false, USER_REF_IDX_ONLY)
    }

    /// Writes the message with type byte `D` (disable) or `E` (enable).
    pub fn emit(&self, message_type: u8, buffer: &mut [u8]) -> usize {
        assert!(message_type == b'D' || message_type == b'E');
        let mut view = OrderEntryControlView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(message_type);
        view.set_user_ref_num(self.user_ref_num);
        view.set_firm(self.firm);
        ORDER_ENTRY_CONTROL_LEN + self.options.emit(false, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

impl fmt::Display for OrderEntryControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ref={} firm={}{}",
            self.user_ref_num,
            AlphaDisplay(&self.firm),
            self.options
        )
    }
}

/// Account Query Request (§2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountQuery {
    pub options: Options,
}

impl AccountQuery {
    pub fn parse(view: &AccountQueryView<&[u8]>) -> Result<AccountQuery, Error> {
        let options = Options::parse(view.rest(), true, USER_REF_IDX_ONLY, ACCOUNT_QUERY_LEN)?;
        Ok(AccountQuery { options })
    }

    pub fn buffer_len(&self) -> usize {
        ACCOUNT_QUERY_LEN + self.options.buffer_len(true, USER_REF_IDX_ONLY)
    }

    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut view = AccountQueryView::new_unchecked(&mut buffer[..self.buffer_len()]);
        view.set_message_type(b'Q');
        ACCOUNT_QUERY_LEN + self.options.emit(true, USER_REF_IDX_ONLY, view.rest_mut())
    }
}

/// Any inbound message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound {
    EnterOrder(EnterOrder),
    ReplaceOrder(ReplaceOrder),
    CancelOrder(CancelOrder),
    ModifyOrder(ModifyOrder),
    MassCancel(MassCancel),
    DisableOrderEntry(OrderEntryControl),
    EnableOrderEntry(OrderEntryControl),
    AccountQuery(AccountQuery),
}

impl Inbound {
    /// Parses one whole message (the payload of a SoupBinTCP Unsequenced Data packet).
    pub fn parse(bytes: &[u8]) -> Result<Inbound, Error> {
        let message_type = message_type_of(bytes)?;
        let message = match message_type {
            b'O' => Inbound::EnterOrder(parse_as(
                bytes,
                EnterOrderView::new_checked,
                EnterOrder::parse,
            )?),
            b'U' => Inbound::ReplaceOrder(parse_as(
                bytes,
                ReplaceOrderView::new_checked,
                ReplaceOrder::parse,
            )?),
            b'X' => Inbound::CancelOrder(parse_as(
                bytes,
                CancelOrderView::new_checked,
                CancelOrder::parse,
            )?),
            b'M' => Inbound::ModifyOrder(parse_as(
                bytes,
                ModifyOrderView::new_checked,
                ModifyOrder::parse,
            )?),
            b'C' => Inbound::MassCancel(parse_as(
                bytes,
                MassCancelView::new_checked,
                MassCancel::parse,
            )?),
            b'D' | b'E' => {
                let control = parse_as(
                    bytes,
                    OrderEntryControlView::new_checked,
                    OrderEntryControl::parse,
                )?;
                if message_type == b'D' {
                    Inbound::DisableOrderEntry(control)
                } else {
                    Inbound::EnableOrderEntry(control)
                }
            }
            b'Q' => Inbound::AccountQuery(parse_as(
                bytes,
                AccountQueryView::new_checked,
                AccountQuery::parse,
            )?),
            other => return Err(Error::structural(ErrorKind::UnknownType(other))),
        };
        Ok(message)
    }

    pub fn message_type(&self) -> u8 {
        match self {
            Inbound::EnterOrder(_) => b'O',
            Inbound::ReplaceOrder(_) => b'U',
            Inbound::CancelOrder(_) => b'X',
            Inbound::ModifyOrder(_) => b'M',
            Inbound::MassCancel(_) => b'C',
            Inbound::DisableOrderEntry(_) => b'D',
            Inbound::EnableOrderEntry(_) => b'E',
            Inbound::AccountQuery(_) => b'Q',
        }
    }

    /// The options of the message (the UserRefIdx lives there).
    pub fn options(&self) -> &Options {
        match self {
            Inbound::EnterOrder(message) => &message.options,
            Inbound::ReplaceOrder(message) => &message.options,
            Inbound::CancelOrder(message) => &message.options,
            Inbound::ModifyOrder(message) => &message.options,
            Inbound::MassCancel(message) => &message.options,
            Inbound::DisableOrderEntry(message) | Inbound::EnableOrderEntry(message) => {
                &message.options
            }
            Inbound::AccountQuery(message) => &message.options,
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            Inbound::EnterOrder(message) => message.buffer_len(),
            Inbound::ReplaceOrder(message) => message.buffer_len(),
            Inbound::CancelOrder(message) => message.buffer_len(),
            Inbound::ModifyOrder(message) => message.buffer_len(),
            Inbound::MassCancel(message) => message.buffer_len(),
            Inbound::DisableOrderEntry(message) | Inbound::EnableOrderEntry(message) => {
                message.buffer_len()
            }
            Inbound::AccountQuery(message) => message.buffer_len(),
        }
    }

    /// Writes the message into `buffer[..buffer_len()]`; returns `buffer_len()`.
    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        match self {
            Inbound::EnterOrder(message) => message.emit(buffer),
            Inbound::ReplaceOrder(message) => message.emit(buffer),
            Inbound::CancelOrder(message) => message.emit(buffer),
            Inbound::ModifyOrder(message) => message.emit(buffer),
            Inbound::MassCancel(message) => message.emit(buffer),
            Inbound::DisableOrderEntry(message) => message.emit(b'D', buffer),
            Inbound::EnableOrderEntry(message) => message.emit(b'E', buffer),
            Inbound::AccountQuery(message) => message.emit(buffer),
        }
    }

    /// For an Enter or Replace Order whose fixed part is present, the UserRefNum and ClOrdID a
    /// Rejected message needs, read without judging anything else. Lets a caller answer a
    /// message that `parse` refused.
    pub fn reject_context(bytes: &[u8]) -> Option<(u32, ClOrdId)> {
        match bytes.first()? {
            b'O' => {
                let view = EnterOrderView::new_checked(bytes).ok()?;
                Some((view.user_ref_num(), view.cl_ord_id()))
            }
            b'U' => {
                let view = ReplaceOrderView::new_checked(bytes).ok()?;
                Some((view.user_ref_num(), view.cl_ord_id()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inbound::EnterOrder(message) => message.fmt(f),
            Inbound::ReplaceOrder(message) => message.fmt(f),
            Inbound::CancelOrder(message) => message.fmt(f),
            Inbound::ModifyOrder(message) => message.fmt(f),
            Inbound::MassCancel(message) => message.fmt(f),
            Inbound::DisableOrderEntry(message) => write!(f, "DisableOrderEntry {message}"),
            Inbound::EnableOrderEntry(message) => write!(f, "EnableOrderEntry {message}"),
            Inbound::AccountQuery(message) => write!(f, "AccountQuery{}", message.options),
        }
    }
}
