//! Validated values of the ITCH 5.0 messages, their wire codes, and [`MessageRepr`], the closed
//! set of messages dispatched on the type byte.
//!
//! # Invariants
//! - `parse` is the one place a message's values are judged: coded fields must be in their
//!   set, alpha fields printable ASCII, the timestamp below a day. Numbers are taken as they
//!   are (a zero share count is well-formed ITCH; the book builder judges it).
//! - `emit` writes every byte of the view it is given; `parse(emit(r)) == r` for every value a
//!   `Repr` can hold.

use core::fmt;

use peregrine_engine::{MatchId, OrderId, Qty, Side};

use super::{
    AddOrder, AddOrderMpid, BrokenTrade, CrossTrade, HeaderRepr, ItchPrice, Noii, OrderCancel,
    OrderDelete, OrderExecuted, OrderExecutedWithPrice, OrderReplace, RegSho, StockDirectory,
    SystemEvent, Trade, TradingAction,
};
use crate::wire::{offset_u8, wire_enum, Alpha, Error, Mpid, Symbol};

wire_enum! {
    /// System Event code.
    EventCode {
        StartOfMessages = b'O',
        StartOfSystemHours = b'S',
        StartOfMarketHours = b'Q',
        EndOfMarketHours = b'M',
        EndOfSystemHours = b'E',
        EndOfMessages = b'C',
    }
}

wire_enum! {
    /// Stock Trading Action state.
    TradingState {
        Halted = b'H',
        Paused = b'P',
        QuotationOnly = b'Q',
        Trading = b'T',
    }
}

wire_enum! {
    /// Reg SHO action.
    RegShoAction {
        NoPriceTest = b'0',
        IntradayPriceDrop = b'1',
        PriceTestContinued = b'2',
    }
}

wire_enum! {
    /// A two-valued flag.
    YesNo {
        Yes = b'Y',
        No = b'N',
    }
}

wire_enum! {
    /// A flag that may be unavailable (space).
    Indicator {
        Yes = b'Y',
        No = b'N',
        NotAvailable = b' ',
    }
}

wire_enum! {
    /// Stock Directory authenticity.
    Authenticity {
        Production = b'P',
        Test = b'T',
    }
}

wire_enum! {
    /// Stock Directory market category (listing market).
    MarketCategory {
        NasdaqGlobalSelect = b'Q',
        NasdaqGlobalMarket = b'G',
        NasdaqCapitalMarket = b'S',
        Nyse = b'N',
        NyseAmerican = b'A',
        NyseArca = b'P',
        BatsZ = b'Z',
        InvestorsExchange = b'V',
        NotAvailable = b' ',
    }
}

wire_enum! {
    /// Stock Directory financial status indicator.
    FinancialStatus {
        Deficient = b'D',
        Delinquent = b'E',
        Bankrupt = b'Q',
        Suspended = b'S',
        DeficientBankrupt = b'G',
        DeficientDelinquent = b'H',
        DelinquentBankrupt = b'J',
        DeficientDelinquentBankrupt = b'K',
        CreationsRedemptionsSuspended = b'C',
        Normal = b'N',
        NotAvailable = b' ',
    }
}

wire_enum! {
    /// Stock Directory LULD reference price tier.
    LuldTier {
        Tier1 = b'1',
        Tier2 = b'2',
        NotAvailable = b' ',
    }
}

wire_enum! {
    /// Cross type (Cross Trade and NOII).
    CrossType {
        Opening = b'O',
        Closing = b'C',
        HaltOrIpo = b'H',
        Intraday = b'I',
        ExtendedTradingClose = b'A',
    }
}

wire_enum! {
    /// NOII imbalance direction.
    ImbalanceDirection {
        Buy = b'B',
        Sell = b'S',
        NoImbalance = b'N',
        InsufficientOrders = b'O',
    }
}

wire_enum! {
    /// NOII price variation indicator: distance of the near price from the reference price.
    PriceVariation {
        BelowOnePct = b'L',
        Pct1 = b'1',
        Pct2 = b'2',
        Pct3 = b'3',
        Pct4 = b'4',
        Pct5 = b'5',
        Pct6 = b'6',
        Pct7 = b'7',
        Pct8 = b'8',
        Pct9 = b'9',
        Pct10To19 = b'A',
        Pct20To29 = b'B',
        Pct30OrMore = b'C',
        NotAvailable = b' ',
    }
}

/// Judges a coded byte read at `offset`.
fn code<E>(byte: u8, offset: usize, from_code: fn(u8) -> Option<E>) -> Result<E, Error> {
    from_code(byte).ok_or(Error::BadValue(offset_u8(offset)))
}

/// Judges an alpha field read at `offset`.
fn alpha<const N: usize>(bytes: [u8; N], offset: usize) -> Result<Alpha<N>, Error> {
    Alpha::new(bytes).ok_or(Error::BadValue(offset_u8(offset)))
}

/// System Event (`S`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SystemEventRepr {
    pub header: HeaderRepr,
    pub event_code: EventCode,
}

impl SystemEventRepr {
    pub const fn buffer_len(&self) -> usize {
        SystemEvent::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &SystemEvent<T>) -> Result<Self, Error> {
        Ok(SystemEventRepr {
            header: view.header()?,
            event_code: code(view.event_code(), 11, EventCode::from_code)?,
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut SystemEvent<T>) {
        view.set_header(&self.header);
        view.set_event_code(self.event_code.code());
    }
}

impl fmt::Display for SystemEventRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S {} event={}", self.header, self.event_code)
    }
}

/// Stock Directory (`R`): one instrument's reference data for the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StockDirectoryRepr {
    pub header: HeaderRepr,
    pub stock: Symbol,
    pub market_category: MarketCategory,
    pub financial_status: FinancialStatus,
    /// Shares in a round lot.
    pub round_lot_size: u32,
    pub round_lots_only: YesNo,
    pub issue_classification: Alpha<1>,
    pub issue_sub_type: Alpha<2>,
    pub authenticity: Authenticity,
    pub short_sale_threshold: Indicator,
    pub ipo_flag: Indicator,
    pub luld_tier: LuldTier,
    pub etp_flag: Indicator,
    pub etp_leverage_factor: u32,
    pub inverse_indicator: YesNo,
}

impl StockDirectoryRepr {
    pub const fn buffer_len(&self) -> usize {
        StockDirectory::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &StockDirectory<T>) -> Result<Self, Error> {
        Ok(StockDirectoryRepr {
            header: view.header()?,
            stock: alpha(view.stock(), 11)?,
            market_category: code(view.market_category(), 19, MarketCategory::from_code)?,
            financial_status: code(view.financial_status(), 20, FinancialStatus::from_code)?,
            round_lot_size: view.round_lot_size(),
            round_lots_only: code(view.round_lots_only(), 25, YesNo::from_code)?,
            issue_classification: alpha([view.issue_classification()], 26)?,
            issue_sub_type: alpha(view.issue_sub_type(), 27)?,
            authenticity: code(view.authenticity(), 29, Authenticity::from_code)?,
            short_sale_threshold: code(view.short_sale_threshold(), 30, Indicator::from_code)?,
            ipo_flag: code(view.ipo_flag(), 31, Indicator::from_code)?,
            luld_tier: code(view.luld_tier(), 32, LuldTier::from_code)?,
            etp_flag: code(view.etp_flag(), 33, Indicator::from_code)?,
            etp_leverage_factor: view.etp_leverage_factor(),
            inverse_indicator: code(view.inverse_indicator(), 38, YesNo::from_code)?,
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut StockDirectory<T>) {
        view.set_header(&self.header);
        view.set_stock(self.stock.bytes());
        view.set_market_category(self.market_category.code());
        view.set_financial_status(self.financial_status.code());
        view.set_round_lot_size(self.round_lot_size);
        view.set_round_lots_only(self.round_lots_only.code());
        view.set_issue_classification(self.issue_classification.bytes()[0]);
        view.set_issue_sub_type(self.issue_sub_type.bytes());
        view.set_authenticity(self.authenticity.code());
        view.set_short_sale_threshold(self.short_sale_threshold.code());
        view.set_ipo_flag(self.ipo_flag.code());
        view.set_luld_tier(self.luld_tier.code());
        view.set_etp_flag(self.etp_flag.code());
        view.set_etp_leverage_factor(self.etp_leverage_factor);
        view.set_inverse_indicator(self.inverse_indicator.code());
    }
}

impl fmt::Display for StockDirectoryRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "R {} stock={} market={} status={} round_lot={} round_lots_only={} class={:?} \
             sub_type={:?} authenticity={} ssti={} ipo={} luld={} etp={} leverage={} inverse={}",
            self.header,
            self.stock,
            self.market_category,
            self.financial_status,
            self.round_lot_size,
            self.round_lots_only,
            self.issue_classification,
            self.issue_sub_type,
            self.authenticity,
            self.short_sale_threshold,
            self.ipo_flag,
            self.luld_tier,
            self.etp_flag,
            self.etp_leverage_factor,
            self.inverse_indicator
        )
    }
}

/// Stock Trading Action (`H`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TradingActionRepr {
    pub header: HeaderRepr,
    pub stock: Symbol,
    pub trading_state: TradingState,
    /// Reason code (e.g. `T1`), blank when trading resumes without one.
    pub reason: Alpha<4>,
}

impl TradingActionRepr {
    pub const fn buffer_len(&self) -> usize {
        TradingAction::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &TradingAction<T>) -> Result<Self, Error> {
        Ok(TradingActionRepr {
            header: view.header()?,
            stock: alpha(view.stock(), 11)?,
            trading_state: code(view.trading_state(), 19, TradingState::from_code)?,
            reason: alpha(view.reason(), 21)?,
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut TradingAction<T>) {
        view.set_header(&self.header);
        view.set_stock(self.stock.bytes());
        view.set_trading_state(self.trading_state.code());
        view.set_reserved(b' ');
        view.set_reason(self.reason.bytes());
    }
}

impl fmt::Display for TradingActionRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "H {} stock={} state={} reason={:?}",
            self.header, self.stock, self.trading_state, self.reason
        )
    }
}

/// Reg SHO Short Sale Price Test Restricted Indicator (`Y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegShoRepr {
    pub header: HeaderRepr,
    pub stock: Symbol,
    pub action: RegShoAction,
}

impl RegShoRepr {
    pub const fn buffer_len(&self) -> usize {
        RegSho::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &RegSho<T>) -> Result<Self, Error> {
        Ok(RegShoRepr {
            header: view.header()?,
            stock: alpha(view.stock(), 11)?,
            action: code(view.reg_sho_action(), 19, RegShoAction::from_code)?,
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut RegSho<T>) {
        view.set_header(&self.header);
        view.set_stock(self.stock.bytes());
        view.set_reg_sho_action(self.action.code());
    }
}

impl fmt::Display for RegShoRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Y {} stock={} action={}",
            self.header, self.stock, self.action
        )
    }
}

/// Add Order (`A`): a displayed order joins the back of its price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddOrderRepr {
    pub header: HeaderRepr,
    /// Order reference number (the engine's `OrderId`).
    pub order: OrderId,
    pub side: Side,
    /// Displayed shares.
    pub shares: Qty,
    pub stock: Symbol,
    pub price: ItchPrice,
}

impl AddOrderRepr {
    pub const fn buffer_len(&self) -> usize {
        AddOrder::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &AddOrder<T>) -> Result<Self, Error> {
        Ok(AddOrderRepr {
            header: view.header()?,
            order: OrderId(view.order_ref()),
            side: code(view.side(), 19, Side::from_code)?,
            shares: Qty(view.shares()),
            stock: alpha(view.stock(), 24)?,
            price: ItchPrice(view.price()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut AddOrder<T>) {
        view.set_header(&self.header);
        view.set_order_ref(self.order.0);
        view.set_side(self.side.code());
        view.set_shares(self.shares.0);
        view.set_stock(self.stock.bytes());
        view.set_price(self.price.0);
    }
}

impl fmt::Display for AddOrderRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "A {} ref={} {} {} {} @ {}",
            self.header, self.order.0, self.side, self.shares.0, self.stock, self.price
        )
    }
}

/// Add Order with MPID attribution (`F`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddOrderMpidRepr {
    pub header: HeaderRepr,
    pub order: OrderId,
    pub side: Side,
    /// Displayed shares.
    pub shares: Qty,
    pub stock: Symbol,
    pub price: ItchPrice,
    pub attribution: Mpid,
}

impl AddOrderMpidRepr {
    pub const fn buffer_len(&self) -> usize {
        AddOrderMpid::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &AddOrderMpid<T>) -> Result<Self, Error> {
        Ok(AddOrderMpidRepr {
            header: view.header()?,
            order: OrderId(view.order_ref()),
            side: code(view.side(), 19, Side::from_code)?,
            shares: Qty(view.shares()),
            stock: alpha(view.stock(), 24)?,
            price: ItchPrice(view.price()),
            attribution: alpha(view.attribution(), 36)?,
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut AddOrderMpid<T>) {
        view.set_header(&self.header);
        view.set_order_ref(self.order.0);
        view.set_side(self.side.code());
        view.set_shares(self.shares.0);
        view.set_stock(self.stock.bytes());
        view.set_price(self.price.0);
        view.set_attribution(self.attribution.bytes());
    }
}

impl fmt::Display for AddOrderMpidRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "F {} ref={} {} {} {} @ {} mpid={}",
            self.header,
            self.order.0,
            self.side,
            self.shares.0,
            self.stock,
            self.price,
            self.attribution
        )
    }
}

/// Order Executed (`E`): shares of a resting order traded at its price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderExecutedRepr {
    pub header: HeaderRepr,
    pub order: OrderId,
    pub executed_shares: Qty,
    pub match_number: MatchId,
}

impl OrderExecutedRepr {
    pub const fn buffer_len(&self) -> usize {
        OrderExecuted::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &OrderExecuted<T>) -> Result<Self, Error> {
        Ok(OrderExecutedRepr {
            header: view.header()?,
            order: OrderId(view.order_ref()),
            executed_shares: Qty(view.executed_shares()),
            match_number: MatchId(view.match_number()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut OrderExecuted<T>) {
        view.set_header(&self.header);
        view.set_order_ref(self.order.0);
        view.set_executed_shares(self.executed_shares.0);
        view.set_match_number(self.match_number.0);
    }
}

impl fmt::Display for OrderExecutedRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "E {} ref={} executed={} match={}",
            self.header, self.order.0, self.executed_shares.0, self.match_number.0
        )
    }
}

/// Order Executed With Price (`C`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderExecutedWithPriceRepr {
    pub header: HeaderRepr,
    pub order: OrderId,
    pub executed_shares: Qty,
    pub match_number: MatchId,
    /// Whether the execution should count towards volume and last sale.
    pub printable: YesNo,
    pub execution_price: ItchPrice,
}

impl OrderExecutedWithPriceRepr {
    pub const fn buffer_len(&self) -> usize {
        OrderExecutedWithPrice::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &OrderExecutedWithPrice<T>) -> Result<Self, Error> {
        Ok(OrderExecutedWithPriceRepr {
            header: view.header()?,
            order: OrderId(view.order_ref()),
            executed_shares: Qty(view.executed_shares()),
            match_number: MatchId(view.match_number()),
            printable: code(view.printable(), 31, YesNo::from_code)?,
            execution_price: ItchPrice(view.execution_price()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut OrderExecutedWithPrice<T>) {
        view.set_header(&self.header);
        view.set_order_ref(self.order.0);
        view.set_executed_shares(self.executed_shares.0);
        view.set_match_number(self.match_number.0);
        view.set_printable(self.printable.code());
        view.set_execution_price(self.execution_price.0);
    }
}

impl fmt::Display for OrderExecutedWithPriceRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "C {} ref={} executed={} match={} printable={} @ {}",
            self.header,
            self.order.0,
            self.executed_shares.0,
            self.match_number.0,
            self.printable,
            self.execution_price
        )
    }
}

/// Order Cancel (`X`): some of an order's shares cancelled; it keeps its priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderCancelRepr {
    pub header: HeaderRepr,
    pub order: OrderId,
    pub cancelled_shares: Qty,
}

impl OrderCancelRepr {
    pub const fn buffer_len(&self) -> usize {
        OrderCancel::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &OrderCancel<T>) -> Result<Self, Error> {
        Ok(OrderCancelRepr {
            header: view.header()?,
            order: OrderId(view.order_ref()),
            cancelled_shares: Qty(view.cancelled_shares()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut OrderCancel<T>) {
        view.set_header(&self.header);
        view.set_order_ref(self.order.0);
        view.set_cancelled_shares(self.cancelled_shares.0);
    }
}

impl fmt::Display for OrderCancelRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "X {} ref={} cancelled={}",
            self.header, self.order.0, self.cancelled_shares.0
        )
    }
}

/// Order Delete (`D`): the order leaves the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderDeleteRepr {
    pub header: HeaderRepr,
    pub order: OrderId,
}

impl OrderDeleteRepr {
    pub const fn buffer_len(&self) -> usize {
        OrderDelete::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &OrderDelete<T>) -> Result<Self, Error> {
        Ok(OrderDeleteRepr {
            header: view.header()?,
            order: OrderId(view.order_ref()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut OrderDelete<T>) {
        view.set_header(&self.header);
        view.set_order_ref(self.order.0);
    }
}

impl fmt::Display for OrderDeleteRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "D {} ref={}", self.header, self.order.0)
    }
}

/// Order Replace (`U`): the original order leaves; the new one (same side and stock) joins the
/// back of its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderReplaceRepr {
    pub header: HeaderRepr,
    pub original_order: OrderId,
    pub new_order: OrderId,
    /// Displayed shares of the new order.
    pub shares: Qty,
    pub price: ItchPrice,
}

impl OrderReplaceRepr {
    pub const fn buffer_len(&self) -> usize {
        OrderReplace::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &OrderReplace<T>) -> Result<Self, Error> {
        Ok(OrderReplaceRepr {
            header: view.header()?,
            original_order: OrderId(view.original_order_ref()),
            new_order: OrderId(view.new_order_ref()),
            shares: Qty(view.shares()),
            price: ItchPrice(view.price()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut OrderReplace<T>) {
        view.set_header(&self.header);
        view.set_original_order_ref(self.original_order.0);
        view.set_new_order_ref(self.new_order.0);
        view.set_shares(self.shares.0);
        view.set_price(self.price.0);
    }
}

impl fmt::Display for OrderReplaceRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "U {} ref={} new_ref={} {} @ {}",
            self.header, self.original_order.0, self.new_order.0, self.shares.0, self.price
        )
    }
}

/// Trade, non-cross (`P`): an execution against a non-displayed order (no book change).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TradeRepr {
    pub header: HeaderRepr,
    pub order: OrderId,
    pub side: Side,
    pub shares: Qty,
    pub stock: Symbol,
    pub price: ItchPrice,
    pub match_number: MatchId,
}

impl TradeRepr {
    pub const fn buffer_len(&self) -> usize {
        Trade::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &Trade<T>) -> Result<Self, Error> {
        Ok(TradeRepr {
            header: view.header()?,
            order: OrderId(view.order_ref()),
            side: code(view.side(), 19, Side::from_code)?,
            shares: Qty(view.shares()),
            stock: alpha(view.stock(), 24)?,
            price: ItchPrice(view.price()),
            match_number: MatchId(view.match_number()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut Trade<T>) {
        view.set_header(&self.header);
        view.set_order_ref(self.order.0);
        view.set_side(self.side.code());
        view.set_shares(self.shares.0);
        view.set_stock(self.stock.bytes());
        view.set_price(self.price.0);
        view.set_match_number(self.match_number.0);
    }
}

impl fmt::Display for TradeRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "P {} ref={} {} {} {} @ {} match={}",
            self.header,
            self.order.0,
            self.side,
            self.shares.0,
            self.stock,
            self.price,
            self.match_number.0
        )
    }
}

/// Cross Trade (`Q`): the result of an auction (shares may be zero when nothing crossed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CrossTradeRepr {
    pub header: HeaderRepr,
    pub shares: u64,
    pub stock: Symbol,
    pub cross_price: ItchPrice,
    pub match_number: MatchId,
    pub cross_type: CrossType,
}

impl CrossTradeRepr {
    pub const fn buffer_len(&self) -> usize {
        CrossTrade::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &CrossTrade<T>) -> Result<Self, Error> {
        Ok(CrossTradeRepr {
            header: view.header()?,
            shares: view.shares(),
            stock: alpha(view.stock(), 19)?,
            cross_price: ItchPrice(view.cross_price()),
            match_number: MatchId(view.match_number()),
            cross_type: code(view.cross_type(), 39, CrossType::from_code)?,
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut CrossTrade<T>) {
        view.set_header(&self.header);
        view.set_shares(self.shares);
        view.set_stock(self.stock.bytes());
        view.set_cross_price(self.cross_price.0);
        view.set_match_number(self.match_number.0);
        view.set_cross_type(self.cross_type.code());
    }
}

impl fmt::Display for CrossTradeRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Q {} {} {} @ {} match={} cross={}",
            self.header,
            self.shares,
            self.stock,
            self.cross_price,
            self.match_number.0,
            self.cross_type
        )
    }
}

/// Broken Trade (`B`): an execution was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BrokenTradeRepr {
    pub header: HeaderRepr,
    pub match_number: MatchId,
}

impl BrokenTradeRepr {
    pub const fn buffer_len(&self) -> usize {
        BrokenTrade::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &BrokenTrade<T>) -> Result<Self, Error> {
        Ok(BrokenTradeRepr {
            header: view.header()?,
            match_number: MatchId(view.match_number()),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut BrokenTrade<T>) {
        view.set_header(&self.header);
        view.set_match_number(self.match_number.0);
    }
}

impl fmt::Display for BrokenTradeRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "B {} match={}", self.header, self.match_number.0)
    }
}

/// Net Order Imbalance Indicator (`I`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NoiiRepr {
    pub header: HeaderRepr,
    pub paired_shares: u64,
    pub imbalance_shares: u64,
    pub imbalance_direction: ImbalanceDirection,
    pub stock: Symbol,
    pub far_price: ItchPrice,
    pub near_price: ItchPrice,
    pub current_reference_price: ItchPrice,
    pub cross_type: CrossType,
    pub price_variation: PriceVariation,
}

impl NoiiRepr {
    pub const fn buffer_len(&self) -> usize {
        Noii::<&[u8]>::LEN
    }

    pub fn parse<T: AsRef<[u8]>>(view: &Noii<T>) -> Result<Self, Error> {
        Ok(NoiiRepr {
            header: view.header()?,
            paired_shares: view.paired_shares(),
            imbalance_shares: view.imbalance_shares(),
            imbalance_direction: code(
                view.imbalance_direction(),
                27,
                ImbalanceDirection::from_code,
            )?,
            stock: alpha(view.stock(), 28)?,
            far_price: ItchPrice(view.far_price()),
            near_price: ItchPrice(view.near_price()),
            current_reference_price: ItchPrice(view.current_reference_price()),
            cross_type: code(view.cross_type(), 48, CrossType::from_code)?,
            price_variation: code(view.price_variation(), 49, PriceVariation::from_code)?,
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut Noii<T>) {
        view.set_header(&self.header);
        view.set_paired_shares(self.paired_shares);
        view.set_imbalance_shares(self.imbalance_shares);
        view.set_imbalance_direction(self.imbalance_direction.code());
        view.set_stock(self.stock.bytes());
        view.set_far_price(self.far_price.0);
        view.set_near_price(self.near_price.0);
        view.set_current_reference_price(self.current_reference_price.0);
        view.set_cross_type(self.cross_type.code());
        view.set_price_variation(self.price_variation.code());
    }
}

impl fmt::Display for NoiiRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "I {} {} paired={} imbalance={} {} far={} near={} ref={} cross={} variation={}",
            self.header,
            self.stock,
            self.paired_shares,
            self.imbalance_shares,
            self.imbalance_direction,
            self.far_price,
            self.near_price,
            self.current_reference_price,
            self.cross_type,
            self.price_variation
        )
    }
}

/// Every ITCH 5.0 message this crate decodes and encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageRepr {
    SystemEvent(SystemEventRepr),
    StockDirectory(StockDirectoryRepr),
    TradingAction(TradingActionRepr),
    RegSho(RegShoRepr),
    AddOrder(AddOrderRepr),
    AddOrderMpid(AddOrderMpidRepr),
    OrderExecuted(OrderExecutedRepr),
    OrderExecutedWithPrice(OrderExecutedWithPriceRepr),
    OrderCancel(OrderCancelRepr),
    OrderDelete(OrderDeleteRepr),
    OrderReplace(OrderReplaceRepr),
    Trade(TradeRepr),
    CrossTrade(CrossTradeRepr),
    BrokenTrade(BrokenTradeRepr),
    Noii(NoiiRepr),
}

impl MessageRepr {
    /// Parses one whole message (exactly its bytes, e.g. one MoldUDP64 message block).
    /// An ITCH type this crate does not decode (`L V W K J h N`) is [`Error::UnknownType`].
    pub fn parse(bytes: &[u8]) -> Result<MessageRepr, Error> {
        let Some(&type_byte) = bytes.first() else {
            return Err(Error::Truncated);
        };
        let message = match type_byte {
            b'S' => Self::SystemEvent(SystemEventRepr::parse(&SystemEvent::new_checked(bytes)?)?),
            b'R' => Self::StockDirectory(StockDirectoryRepr::parse(&StockDirectory::new_checked(
                bytes,
            )?)?),
            b'H' => Self::TradingAction(TradingActionRepr::parse(&TradingAction::new_checked(
                bytes,
            )?)?),
            b'Y' => Self::RegSho(RegShoRepr::parse(&RegSho::new_checked(bytes)?)?),
            b'A' => Self::AddOrder(AddOrderRepr::parse(&AddOrder::new_checked(bytes)?)?),
            b'F' => {
                Self::AddOrderMpid(AddOrderMpidRepr::parse(&AddOrderMpid::new_checked(bytes)?)?)
            }
            b'E' => Self::OrderExecuted(OrderExecutedRepr::parse(&OrderExecuted::new_checked(
                bytes,
            )?)?),
            b'C' => Self::OrderExecutedWithPrice(OrderExecutedWithPriceRepr::parse(
                &OrderExecutedWithPrice::new_checked(bytes)?,
            )?),
            b'X' => Self::OrderCancel(OrderCancelRepr::parse(&OrderCancel::new_checked(bytes)?)?),
            b'D' => Self::OrderDelete(OrderDeleteRepr::parse(&OrderDelete::new_checked(bytes)?)?),
            b'U' => {
                Self::OrderReplace(OrderReplaceRepr::parse(&OrderReplace::new_checked(bytes)?)?)
            }
            b'P' => Self::Trade(TradeRepr::parse(&Trade::new_checked(bytes)?)?),
            b'Q' => Self::CrossTrade(CrossTradeRepr::parse(&CrossTrade::new_checked(bytes)?)?),
            b'B' => Self::BrokenTrade(BrokenTradeRepr::parse(&BrokenTrade::new_checked(bytes)?)?),
            b'I' => Self::Noii(NoiiRepr::parse(&Noii::new_checked(bytes)?)?),
            other => return Err(Error::UnknownType(other)),
        };
        Ok(message)
    }

    /// Bytes on the wire.
    pub const fn buffer_len(&self) -> usize {
        match self {
            Self::SystemEvent(m) => m.buffer_len(),
            Self::StockDirectory(m) => m.buffer_len(),
            Self::TradingAction(m) => m.buffer_len(),
            Self::RegSho(m) => m.buffer_len(),
            Self::AddOrder(m) => m.buffer_len(),
            Self::AddOrderMpid(m) => m.buffer_len(),
            Self::OrderExecuted(m) => m.buffer_len(),
            Self::OrderExecutedWithPrice(m) => m.buffer_len(),
            Self::OrderCancel(m) => m.buffer_len(),
            Self::OrderDelete(m) => m.buffer_len(),
            Self::OrderReplace(m) => m.buffer_len(),
            Self::Trade(m) => m.buffer_len(),
            Self::CrossTrade(m) => m.buffer_len(),
            Self::BrokenTrade(m) => m.buffer_len(),
            Self::Noii(m) => m.buffer_len(),
        }
    }

    /// Writes the message into exactly `buffer_len()` bytes (every byte written).
    pub fn emit(&self, bytes: &mut [u8]) {
        assert_eq!(bytes.len(), self.buffer_len());
        match self {
            Self::SystemEvent(m) => m.emit(&mut SystemEvent::new_unchecked(bytes)),
            Self::StockDirectory(m) => m.emit(&mut StockDirectory::new_unchecked(bytes)),
            Self::TradingAction(m) => m.emit(&mut TradingAction::new_unchecked(bytes)),
            Self::RegSho(m) => m.emit(&mut RegSho::new_unchecked(bytes)),
            Self::AddOrder(m) => m.emit(&mut AddOrder::new_unchecked(bytes)),
            Self::AddOrderMpid(m) => m.emit(&mut AddOrderMpid::new_unchecked(bytes)),
            Self::OrderExecuted(m) => m.emit(&mut OrderExecuted::new_unchecked(bytes)),
            Self::OrderExecutedWithPrice(m) => {
                m.emit(&mut OrderExecutedWithPrice::new_unchecked(bytes))
            }
            Self::OrderCancel(m) => m.emit(&mut OrderCancel::new_unchecked(bytes)),
            Self::OrderDelete(m) => m.emit(&mut OrderDelete::new_unchecked(bytes)),
            Self::OrderReplace(m) => m.emit(&mut OrderReplace::new_unchecked(bytes)),
            Self::Trade(m) => m.emit(&mut Trade::new_unchecked(bytes)),
            Self::CrossTrade(m) => m.emit(&mut CrossTrade::new_unchecked(bytes)),
            Self::BrokenTrade(m) => m.emit(&mut BrokenTrade::new_unchecked(bytes)),
            Self::Noii(m) => m.emit(&mut Noii::new_unchecked(bytes)),
        }
    }

    /// The common header.
    pub const fn header(&self) -> &HeaderRepr {
        match self {
            Self::SystemEvent(m) => &m.header,
            Self::StockDirectory(m) => &m.header,
            Self::TradingAction(m) => &m.header,
            Self::RegSho(m) => &m.header,
            Self::AddOrder(m) => &m.header,
            Self::AddOrderMpid(m) => &m.header,
            Self::OrderExecuted(m) => &m.header,
            Self::OrderExecutedWithPrice(m) => &m.header,
            Self::OrderCancel(m) => &m.header,
            Self::OrderDelete(m) => &m.header,
            Self::OrderReplace(m) => &m.header,
            Self::Trade(m) => &m.header,
            Self::CrossTrade(m) => &m.header,
            Self::BrokenTrade(m) => &m.header,
            Self::Noii(m) => &m.header,
        }
    }

    /// The message type byte.
    pub const fn type_byte(&self) -> u8 {
        match self {
            Self::SystemEvent(_) => b'S',
            Self::StockDirectory(_) => b'R',
            Self::TradingAction(_) => b'H',
            Self::RegSho(_) => b'Y',
            Self::AddOrder(_) => b'A',
            Self::AddOrderMpid(_) => b'F',
            Self::OrderExecuted(_) => b'E',
            Self::OrderExecutedWithPrice(_) => b'C',
            Self::OrderCancel(_) => b'X',
            Self::OrderDelete(_) => b'D',
            Self::OrderReplace(_) => b'U',
            Self::Trade(_) => b'P',
            Self::CrossTrade(_) => b'Q',
            Self::BrokenTrade(_) => b'B',
            Self::Noii(_) => b'I',
        }
    }
}

impl fmt::Display for MessageRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SystemEvent(m) => m.fmt(f),
            Self::StockDirectory(m) => m.fmt(f),
            Self::TradingAction(m) => m.fmt(f),
            Self::RegSho(m) => m.fmt(f),
            Self::AddOrder(m) => m.fmt(f),
            Self::AddOrderMpid(m) => m.fmt(f),
            Self::OrderExecuted(m) => m.fmt(f),
            Self::OrderExecutedWithPrice(m) => m.fmt(f),
            Self::OrderCancel(m) => m.fmt(f),
            Self::OrderDelete(m) => m.fmt(f),
            Self::OrderReplace(m) => m.fmt(f),
            Self::Trade(m) => m.fmt(f),
            Self::CrossTrade(m) => m.fmt(f),
            Self::BrokenTrade(m) => m.fmt(f),
            Self::Noii(m) => m.fmt(f),
        }
    }
}
