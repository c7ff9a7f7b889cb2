//! OUCH 5.0 codecs (Nasdaq "OUCH 5.0 Order Entry Specification", April 2023, rev. 1.04).
//!
//! Each message is a view (`*View<T>`, field offsets written once, in spec order, with a const
//! check that they tile the fixed part) plus a `Repr` (the validated value: `parse`,
//! `buffer_len`, `emit`, `Display`). [`Inbound`] holds the client-to-server messages (§2) and
//! [`Outbound`] the server-to-client ones (§3); both dispatch on the type byte. Optional
//! appendages (a `u16` length, then TagValue elements, Appendix A) are in [`options`].
//!
//! # Invariants
//! - `parse` is the one place input is judged: every coded field is checked against the spec's
//!   list, and an [`Error`] carries the Appendix C reject code to answer with.
//! - `parse(emit(r)) == r` for every `Repr` whose options are within its message's option set;
//!   `emit` writes every byte of `buffer_len()` (alpha fields are space-padded by their owner).
//! - Nothing here allocates or panics on input; `emit` panics only on a buffer shorter than
//!   `buffer_len()` (a programmer error).

use core::fmt;

use crate::wire::wire_enum;

pub mod inbound;
pub mod options;
pub mod outbound;

#[cfg(test)]
mod tests;

pub use inbound::{
    AccountQuery, CancelOrder, EnterOrder, Inbound, MassCancel, ModifyOrder, OrderEntryControl,
    ReplaceOrder,
};
pub use options::{OptionTag, Options, TagSet, USER_REF_IDX_ONLY};
pub use outbound::{
    AccountQueryResponse, AiqCanceled, BrokenTrade, CancelPending, CancelReject,
    MassCancelResponse, OrderAccepted, OrderCanceled, OrderEntryControlResponse, OrderExecuted,
    OrderModified, OrderPriorityUpdate, OrderReplaced, OrderRestated, Outbound, Rejected,
    SystemEvent,
};

/// Alpha `Symbol` (8 bytes).
pub type Symbol = [u8; 8];
/// Alpha `ClOrdID` (14 bytes): letters, digits and spaces.
pub type ClOrdId = [u8; 14];
/// Alpha `Firm` (4 bytes).
pub type Firm = [u8; 4];

/// Highest limit price (§1.2: $199,999.9900).
pub const PRICE_MAX: u64 = 1_999_999_900;
/// The price that flags a market order (§1.2: $214,748.3647, `0x7FFFFFFF`).
pub const MARKET_PRICE: u64 = 0x7FFF_FFFF;
/// The other price that is treated as a market order (§1.2: $200,000.00).
pub const MARKET_PRICE_ALT: u64 = 2_000_000_000;
/// Enter and Replace quantities must be below this (§2.1, §2.2).
pub const QUANTITY_LIMIT: u32 = 1_000_000;

/// True when an entered price stands for a market order (§1.2).
pub const fn is_market_price(price: u64) -> bool {
    price == MARKET_PRICE || price == MARKET_PRICE_ALT
}

wire_enum! {
    /// Order side (§2.1).
    Side: u8 {
        Buy = b'B',
        Sell = b'S',
        SellShort = b'T',
        SellShortExempt = b'E',
    }
}

wire_enum! {
    /// Time in force (§2.1).
    TimeInForce: u8 {
        Day = b'0',
        Ioc = b'3',
        /// Extended hours.
        Gtx = b'5',
        /// Good till time: needs ExpireTime.
        Gtt = b'6',
        AfterHours = b'E',
    }
}

wire_enum! {
    /// Display (§2.1, §3.2).
    Display: u8 {
        Visible = b'Y',
        Hidden = b'N',
        Attributable = b'A',
        /// Outbound only in the spec; parsed everywhere so that every value round-trips.
        Conformant = b'Z',
    }
}

wire_enum! {
    /// Capacity (§2.1).
    Capacity: u8 {
        Agency = b'A',
        Principal = b'P',
        Riskless = b'R',
        Other = b'O',
    }
}

wire_enum! {
    /// Cross type (§2.1).
    CrossType: u8 {
        Continuous = b'N',
        Opening = b'O',
        Closing = b'C',
        HaltIpo = b'H',
        Supplemental = b'S',
        Retail = b'R',
        ExtendedLife = b'E',
        AfterHoursClose = b'A',
    }
}

wire_enum! {
    /// Order state on Accepted and Replaced (§3.2).
    OrderState: u8 {
        Live = b'L',
        /// Accepted and cancelled at once.
        Dead = b'D',
    }
}

wire_enum! {
    /// System event code (§3.1).
    EventCode: u8 {
        StartOfDay = b'S',
        EndOfDay = b'E',
    }
}

wire_enum! {
    /// Broken trade reason (§3.7).
    BrokenReason: u8 {
        Erroneous = b'E',
        Consent = b'C',
        Supervisory = b'S',
        External = b'X',
    }
}

wire_enum! {
    /// Order restated reason (§3.13).
    RestateReason: u8 {
        /// Refresh of display on an order with reserves.
        Refresh = b'R',
        /// Update of displayed price.
        PriceUpdate = b'P',
    }
}

wire_enum! {
    /// Order cancel reasons (Appendix B of the PDF's "Order Cancel Reasons" table).
    CancelReason: u8 {
        RegulatoryRestriction = b'D',
        Closed = b'E',
        PostOnlyNms = b'F',
        PostOnlyDisplayed = b'G',
        Halted = b'H',
        ImmediateOrCancel = b'I',
        MarketCollars = b'K',
        SelfMatchPrevention = b'Q',
        Supervisory = b'S',
        Timeout = b'T',
        UserRequested = b'U',
        OpenProtection = b'X',
        SystemCancel = b'Z',
        DirectListingCapitalRaise = b'e',
    }
}

wire_enum! {
    /// Order reject reasons (the PDF's "Order Reject Reasons" table, Appendix C).
    RejectCode: u16 {
        QuoteUnavailable = 0x0001,
        DestinationClosed = 0x0002,
        InvalidDisplay = 0x0003,
        InvalidMaxFloor = 0x0004,
        InvalidPegType = 0x0005,
        FatFinger = 0x0006,
        Halted = 0x0007,
        IsoNotAllowed = 0x0008,
        InvalidSide = 0x0009,
        ProcessingError = 0x000A,
        CancelPending = 0x000B,
        FirmNotAuthorized = 0x000C,
        InvalidMinQuantity = 0x000D,
        NoClosingReferencePrice = 0x000E,
        Other = 0x000F,
        CancelNotAllowed = 0x0010,
        PeggingNotAllowed = 0x0011,
        CrossedMarket = 0x0012,
        InvalidQuantity = 0x0013,
        InvalidCrossOrder = 0x0014,
        ReplaceNotAllowed = 0x0015,
        RoutingNotAllowed = 0x0016,
        InvalidSymbol = 0x0017,
        Test = 0x0018,
        LateLocTooAggressive = 0x0019,
        RetailNotAllowed = 0x001A,
        InvalidMidpointPostOnlyPrice = 0x001B,
        InvalidDestination = 0x001C,
        InvalidPrice = 0x001D,
        SharesExceedThreshold = 0x001E,
        ExceedsMaximumAllowedNotionalValue = 0x001F,
        RiskAggregateExposureExceeded = 0x0020,
        RiskMarketImpact = 0x0021,
        RiskRestrictedStock = 0x0022,
        RiskShortSellRestricted = 0x0023,
        RiskIsoNotAllowed = 0x0024,
        RiskExceedsAdvLimit = 0x0025,
        RiskFatFinger = 0x0026,
        RiskLocateRequired = 0x0027,
        RiskSymbolMessageRateRestriction = 0x0028,
        RiskPortMessageRateRestriction = 0x0029,
        RiskDuplicateMessageRateRestriction = 0x002A,
        RiskShortSellNotAllowed = 0x002B,
        RiskMarketOrderNotAllowed = 0x002C,
        RiskPreMarketNotAllowed = 0x002D,
        RiskPostMarketNotAllowed = 0x002E,
        RiskShortSellExemptNotAllowed = 0x002F,
        RiskSingleOrderNotionalExceeded = 0x0030,
        RiskMaxQuantityExceeded = 0x0031,
        RegShoStateNotAvailable = 0x0032,
        RiskIpoMarketBuyNotAllowed = 0x0033,
    }
}

wire_enum! {
    /// Liquidity flags (the PDF's "Liquidity Flags" table, Appendix D).
    LiquidityFlag: u8 {
        Added = b'A',
        ClosingCross = b'C',
        RetailAddedDisplayed = b'e',
        HaltIpoCross = b'H',
        AfterHoursClosingCross = b'i',
        NonDisplayedAdding = b'J',
        RpiProvidesLiquidity = b'j',
        AddedMidpoint = b'k',
        HaltCross = b'K',
        ClosingCrossImbalanceOnly = b'L',
        OpeningCrossImbalanceOnly = b'M',
        RemovedMidpoint = b'm',
        PassiveMidpoint = b'N',
        MidpointExtendedLife = b'n',
        OpeningCross = b'O',
        RemovedPriceImprovingNonDisplayed = b'p',
        RmoRemovesNonRpiMidpoint = b'q',
        Removed = b'R',
        RetailRemovesRpi = b'r',
        RetailRemovesPriceImproving = b't',
        AddedNonDisplayedReserve = b'u',
        Supplemental = b'0',
        DisplayedImprovesNbbo = b'7',
        DisplayedSetsQbbo = b'8',
        RpiNoRpii = b'1',
    }
}

/// What is wrong with a message, beside the reject code to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No bytes at all.
    Empty,
    /// The type byte is not a message of this direction.
    UnknownType(u8),
    /// Shorter than the message's fixed part, or than its appendage length says.
    Truncated,
    /// Bytes after the end of the appendage.
    TrailingBytes,
    /// A TagValue element with length 0 or running past the appendage.
    BadElement { offset: u16 },
    /// A supported option whose element length does not match the option's size.
    OptionLength { tag: u8 },
    /// The same option twice in one appendage.
    DuplicateOption { tag: u8 },
    /// A field holds a value outside the spec's list (offset in the message).
    InvalidField { offset: u16 },
    /// An option holds a value outside the spec's list.
    InvalidOption { tag: u8 },
}

/// A message that cannot be accepted: what is wrong and the Appendix C code to reject with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub reject: RejectCode,
}

impl Error {
    /// A structural error (truncation, bad appendage): rejected as `Other`.
    pub(crate) const fn structural(kind: ErrorKind) -> Error {
        Error {
            kind,
            reject: RejectCode::Other,
        }
    }

    pub(crate) const fn field(offset: usize, reject: RejectCode) -> Error {
        Error {
            kind: ErrorKind::InvalidField {
                offset: offset as u16,
            },
            reject,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Empty => write!(f, "empty message"),
            ErrorKind::UnknownType(byte) => write!(f, "unknown message type 0x{byte:02x}"),
            ErrorKind::Truncated => write!(f, "truncated message"),
            ErrorKind::TrailingBytes => write!(f, "bytes after the appendage"),
            ErrorKind::BadElement { offset } => write!(f, "bad TagValue element at {offset}"),
            ErrorKind::OptionLength { tag } => write!(f, "option {tag} has the wrong length"),
            ErrorKind::DuplicateOption { tag } => write!(f, "option {tag} given twice"),
            ErrorKind::InvalidField { offset } => write!(f, "invalid field at offset {offset}"),
            ErrorKind::InvalidOption { tag } => write!(f, "invalid value for option {tag}"),
        }?;
        write!(f, " (reject {} 0x{:04x})", self.reject, self.reject.code())
    }
}

/// The type byte of a whole message; an empty one is an [`ErrorKind::Empty`] error.
pub(crate) fn message_type_of(bytes: &[u8]) -> Result<u8, Error> {
    bytes
        .first()
        .copied()
        .ok_or(Error::structural(ErrorKind::Empty))
}

/// Checks `bytes` against a message's fixed length with `new_checked` (too short is an
/// [`ErrorKind::Truncated`] error), then decodes the view with `parse`: the one step every
/// arm of `Inbound::parse` and `Outbound::parse` takes.
pub(crate) fn parse_as<'a, V, R>(
    bytes: &'a [u8],
    new_checked: impl FnOnce(&'a [u8]) -> Result<V, crate::wire::TooShort>,
    parse: impl FnOnce(&V) -> Result<R, Error>,
) -> Result<R, Error> {
    let view = new_checked(bytes).map_err(|_| Error::structural(ErrorKind::Truncated))?;
    parse(&view)
}

/// Reads a coded field, or the error naming its offset and reject code.
pub(crate) fn coded<T>(value: Option<T>, offset: usize, reject: RejectCode) -> Result<T, Error> {
    value.ok_or(Error::field(offset, reject))
}

/// `Y` / `N` as a flag.
pub(crate) fn yes_no(byte: u8) -> Option<bool> {
    match byte {
        b'Y' => Some(true),
        b'N' => Some(false),
        _ => None,
    }
}

pub(crate) const fn yes_no_code(flag: bool) -> u8 {
    if flag {
        b'Y'
    } else {
        b'N'
    }
}

/// ClOrdID: letters, digits and spaces only (§1.2).
pub(crate) fn check_cl_ord_id(cl_ord_id: &ClOrdId, offset: usize) -> Result<(), Error> {
    if cl_ord_id
        .iter()
        .all(|&byte| byte.is_ascii_alphanumeric() || byte == b' ')
    {
        Ok(())
    } else {
        Err(Error::field(offset, RejectCode::Other))
    }
}

/// Symbol and firm: printable ASCII.
pub(crate) fn check_printable(
    field: &[u8],
    offset: usize,
    reject: RejectCode,
) -> Result<(), Error> {
    if crate::wire::is_printable(field) {
        Ok(())
    } else {
        Err(Error::field(offset, reject))
    }
}

/// An entered price: a limit up to [`PRICE_MAX`] or a market sentinel (§1.2).
pub(crate) fn check_entered_price(price: u64, offset: usize) -> Result<(), Error> {
    if price <= PRICE_MAX || is_market_price(price) {
        Ok(())
    } else {
        Err(Error::field(offset, RejectCode::InvalidPrice))
    }
}

/// An entered quantity: `1..QUANTITY_LIMIT` (§2.1).
pub(crate) fn check_entered_quantity(quantity: u32, offset: usize) -> Result<(), Error> {
    if quantity > 0 && quantity < QUANTITY_LIMIT {
        Ok(())
    } else {
        Err(Error::field(offset, RejectCode::InvalidQuantity))
    }
}
