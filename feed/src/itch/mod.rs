//! ITCH 5.0 (Nasdaq TotalView-ITCH 5.0) messages: byte views and validated `Repr`s.
//!
//! Every message starts with an 11-byte header: type (1), stock locate (u16), tracking number
//! (u16) and a timestamp of 6 bytes (nanoseconds since midnight). All integers are big-endian;
//! prices are `u32` with 4 implied decimals ([`ItchPrice`]); alpha fields are ASCII,
//! left-justified and space-padded ([`crate::wire::Alpha`]).
//!
//! Two layers per message, as in smoltcp: a view (`AddOrder<T: AsRef<[u8]>>`) that only knows
//! where the fields are, and a `Repr` (`AddOrderRepr`) holding validated values, with `parse`
//! (from a view), `buffer_len` and `emit` (into a view). [`MessageRepr`] is the closed set of
//! every message this crate decodes, dispatched on the type byte.
//!
//! # Invariants
//! - Each view's layout is written once, in spec order, and a `const` assertion checks that its
//!   fields tile the bytes from the header to the spec's total length without gap or overlap.
//! - `new_checked` judges the length (exact: a block longer than its type's length is an error)
//!   and the type byte only; `Repr::parse` judges every value; `Repr::emit` writes every byte,
//!   the type byte, header, reserved bytes and space padding included.
//! - Whatever a `Repr` can hold can be emitted, and `parse(emit(r)) == r`.
//!
//! # Panic contract
//! After `new_checked` succeeds no getter panics. `emit` never panics on a view over exactly
//! `buffer_len()` bytes made with `new_unchecked`. Untrusted input goes through `new_checked`
//! (or [`MessageRepr::parse`]) only. No allocation, no `unsafe`.

mod repr;
#[cfg(test)]
pub(crate) mod tests;

pub use repr::*;

use core::fmt;

use crate::wire::{layout_tiles, Error, Field};

/// Bytes in the common header (type, stock locate, tracking number, timestamp).
pub const HEADER_LEN: usize = 11;
/// Nanoseconds in a day: every ITCH timestamp is below this.
pub const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;
/// The largest message length of ITCH 5.0 (NOII, 50 bytes).
pub const MESSAGE_LEN_MAX: usize = 50;

/// Header byte ranges, shared by every message.
mod field {
    pub const TYPE: usize = 0;
    pub const STOCK_LOCATE: usize = 1;
    pub const TRACKING_NUMBER: usize = 3;
    pub const TIMESTAMP: core::ops::Range<usize> = 5..11;
}

const _: () = assert!(field::TIMESTAMP.end == HEADER_LEN);
const _: () = assert!(NS_PER_DAY < 1 << 48);

/// Checks a message buffer: long enough, no longer, the right type byte.
fn check_message(bytes: &[u8], type_byte: u8, len: usize) -> Result<(), Error> {
    if bytes.len() < len {
        return Err(Error::Truncated);
    }
    if bytes.len() > len {
        return Err(Error::Overlong);
    }
    if bytes[field::TYPE] != type_byte {
        return Err(Error::WrongType(bytes[field::TYPE]));
    }
    Ok(())
}

fn read_timestamp_ns(bytes: &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    raw[2..].copy_from_slice(&bytes[field::TIMESTAMP]);
    u64::from_be_bytes(raw)
}

fn write_timestamp_ns(bytes: &mut [u8], timestamp_ns: u64) {
    assert!(timestamp_ns < 1 << 48);
    bytes[field::TIMESTAMP].copy_from_slice(&timestamp_ns.to_be_bytes()[2..]);
}

/// Declares the view of one message type from its layout table: `getter, setter: Type = offset`
/// in spec order. Generates the header accessors, one getter and one setter per field and the
/// `const` check that the layout tiles the message. A table, nothing hidden.
macro_rules! itch_view {
    ($(#[$meta:meta])* $name:ident = $type_byte:expr, $len:expr;
     $($(#[$fmeta:meta])* $get:ident, $set:ident: $ty:ty = $start:expr;)+) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        const _: () = assert!($crate::wire::layout_tiles(
            &[$(($start, <$ty as $crate::wire::Field>::WIDTH)),+], HEADER_LEN, $len));

        impl<T: AsRef<[u8]>> $name<T> {
            /// The message type byte.
            pub const TYPE: u8 = $type_byte;
            /// Total length on the wire, type byte included.
            pub const LEN: usize = $len;

            /// Wraps a buffer without checks (for emission into a buffer of `LEN` bytes).
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps untrusted bytes: checks the exact length and the type byte only.
            pub fn new_checked(buffer: T) -> Result<Self, Error> {
                check_message(buffer.as_ref(), $type_byte, $len)?;
                Ok(Self { buffer })
            }

            pub fn into_inner(self) -> T {
                self.buffer
            }

            pub fn message_type(&self) -> u8 {
                u8::read(self.buffer.as_ref(), field::TYPE)
            }

            pub fn stock_locate(&self) -> u16 {
                u16::read(self.buffer.as_ref(), field::STOCK_LOCATE)
            }

            pub fn tracking_number(&self) -> u16 {
                u16::read(self.buffer.as_ref(), field::TRACKING_NUMBER)
            }

            /// Nanoseconds since midnight, as on the wire (not yet judged).
            pub fn timestamp_ns(&self) -> u64 {
                read_timestamp_ns(self.buffer.as_ref())
            }

            /// The header as a validated value.
            pub fn header(&self) -> Result<HeaderRepr, Error> {
                HeaderRepr::parse(self.buffer.as_ref())
            }

            $($(#[$fmeta])* pub fn $get(&self) -> $ty {
                <$ty as Field>::read(self.buffer.as_ref(), $start)
            })+
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// Writes the type byte and the header.
            pub fn set_header(&mut self, header: &HeaderRepr) {
                header.emit(self.buffer.as_mut(), $type_byte);
            }

            $(pub fn $set(&mut self, value: $ty) {
                value.write(self.buffer.as_mut(), $start);
            })+
        }
    };
}

/// The common header as a validated value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeaderRepr {
    /// Instrument code for the day (0 for market-wide messages such as System Event).
    pub stock_locate: u16,
    /// Nasdaq's internal tracking number; Peregrine sends 0.
    pub tracking_number: u16,
    /// Nanoseconds since midnight, `< NS_PER_DAY`.
    pub timestamp_ns: u64,
}

impl HeaderRepr {
    /// Reads and judges the header of a buffer of at least [`HEADER_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<HeaderRepr, Error> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let timestamp_ns = read_timestamp_ns(bytes);
        if timestamp_ns >= NS_PER_DAY {
            return Err(Error::BadValue(crate::wire::offset_u8(
                field::TIMESTAMP.start,
            )));
        }
        Ok(HeaderRepr {
            stock_locate: u16::read(bytes, field::STOCK_LOCATE),
            tracking_number: u16::read(bytes, field::TRACKING_NUMBER),
            timestamp_ns,
        })
    }

    /// Writes the type byte and the header into the first [`HEADER_LEN`] bytes.
    pub fn emit(&self, bytes: &mut [u8], type_byte: u8) {
        assert!(self.timestamp_ns < NS_PER_DAY);
        type_byte.write(bytes, field::TYPE);
        self.stock_locate.write(bytes, field::STOCK_LOCATE);
        self.tracking_number.write(bytes, field::TRACKING_NUMBER);
        write_timestamp_ns(bytes, self.timestamp_ns);
    }
}

impl fmt::Display for HeaderRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.timestamp_ns / 1_000_000_000;
        let nanos = self.timestamp_ns % 1_000_000_000;
        write!(
            f,
            "{:02}:{:02}:{:02}.{nanos:09} locate={} track={}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            self.stock_locate,
            self.tracking_number
        )
    }
}

/// An ITCH price: `u32` in units of 1/10,000 of the currency unit, the same unit as the
/// engine's [`peregrine_engine::Price`] but a quarter of its range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItchPrice(pub u32);

impl ItchPrice {
    /// The engine price this stands for (always representable).
    pub fn to_price(self) -> peregrine_engine::Price {
        peregrine_engine::Price(i64::from(self.0))
    }

    /// The ITCH price of an engine price, or `None` when it is negative or above `u32::MAX`.
    pub fn from_price(price: peregrine_engine::Price) -> Option<ItchPrice> {
        u32::try_from(price.0).ok().map(ItchPrice)
    }
}

impl fmt::Display for ItchPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:04}", self.0 / 10_000, self.0 % 10_000)
    }
}

itch_view! {
    /// System Event (`S`, 12 bytes).
    SystemEvent = b'S', 12;
    event_code, set_event_code: u8 = 11;
}

itch_view! {
    /// Stock Directory (`R`, 39 bytes).
    StockDirectory = b'R', 39;
    stock, set_stock: [u8; 8] = 11;
    market_category, set_market_category: u8 = 19;
    financial_status, set_financial_status: u8 = 20;
    round_lot_size, set_round_lot_size: u32 = 21;
    round_lots_only, set_round_lots_only: u8 = 25;
    issue_classification, set_issue_classification: u8 = 26;
    issue_sub_type, set_issue_sub_type: [u8; 2] = 27;
    authenticity, set_authenticity: u8 = 29;
    short_sale_threshold, set_short_sale_threshold: u8 = 30;
    ipo_flag, set_ipo_flag: u8 = 31;
    luld_tier, set_luld_tier: u8 = 32;
    etp_flag, set_etp_flag: u8 = 33;
    etp_leverage_factor, set_etp_leverage_factor: u32 = 34;
    inverse_indicator, set_inverse_indicator: u8 = 38;
}

itch_view! {
    /// Stock Trading Action (`H`, 25 bytes).
    TradingAction = b'H', 25;
    stock, set_stock: [u8; 8] = 11;
    trading_state, set_trading_state: u8 = 19;
    /// Reserved: ignored on parse, emitted as a space.
    reserved, set_reserved: u8 = 20;
    reason, set_reason: [u8; 4] = 21;
}

itch_view! {
    /// Reg SHO Short Sale Price Test Restricted Indicator (`Y`, 20 bytes).
    RegSho = b'Y', 20;
    stock, set_stock: [u8; 8] = 11;
    reg_sho_action, set_reg_sho_action: u8 = 19;
}

itch_view! {
    /// Add Order, no MPID attribution (`A`, 36 bytes).
    AddOrder = b'A', 36;
    order_ref, set_order_ref: u64 = 11;
    side, set_side: u8 = 19;
    shares, set_shares: u32 = 20;
    stock, set_stock: [u8; 8] = 24;
    price, set_price: u32 = 32;
}

itch_view! {
    /// Add Order with MPID attribution (`F`, 40 bytes).
    AddOrderMpid = b'F', 40;
    order_ref, set_order_ref: u64 = 11;
    side, set_side: u8 = 19;
    shares, set_shares: u32 = 20;
    stock, set_stock: [u8; 8] = 24;
    price, set_price: u32 = 32;
    attribution, set_attribution: [u8; 4] = 36;
}

itch_view! {
    /// Order Executed (`E`, 31 bytes): at the resting order's price.
    OrderExecuted = b'E', 31;
    order_ref, set_order_ref: u64 = 11;
    executed_shares, set_executed_shares: u32 = 19;
    match_number, set_match_number: u64 = 23;
}

itch_view! {
    /// Order Executed With Price (`C`, 36 bytes): at a price other than the order's.
    OrderExecutedWithPrice = b'C', 36;
    order_ref, set_order_ref: u64 = 11;
    executed_shares, set_executed_shares: u32 = 19;
    match_number, set_match_number: u64 = 23;
    printable, set_printable: u8 = 31;
    execution_price, set_execution_price: u32 = 32;
}

itch_view! {
    /// Order Cancel (`X`, 23 bytes): part of an order's shares cancelled.
    OrderCancel = b'X', 23;
    order_ref, set_order_ref: u64 = 11;
    cancelled_shares, set_cancelled_shares: u32 = 19;
}

itch_view! {
    /// Order Delete (`D`, 19 bytes).
    OrderDelete = b'D', 19;
    order_ref, set_order_ref: u64 = 11;
}

itch_view! {
    /// Order Replace (`U`, 35 bytes): the original order leaves, the new one joins the back.
    OrderReplace = b'U', 35;
    original_order_ref, set_original_order_ref: u64 = 11;
    new_order_ref, set_new_order_ref: u64 = 19;
    shares, set_shares: u32 = 27;
    price, set_price: u32 = 31;
}

itch_view! {
    /// Trade, non-cross (`P`, 44 bytes): an execution against a non-displayed order.
    Trade = b'P', 44;
    order_ref, set_order_ref: u64 = 11;
    side, set_side: u8 = 19;
    shares, set_shares: u32 = 20;
    stock, set_stock: [u8; 8] = 24;
    price, set_price: u32 = 32;
    match_number, set_match_number: u64 = 36;
}

itch_view! {
    /// Cross Trade (`Q`, 40 bytes; shares are `u64`).
    CrossTrade = b'Q', 40;
    shares, set_shares: u64 = 11;
    stock, set_stock: [u8; 8] = 19;
    cross_price, set_cross_price: u32 = 27;
    match_number, set_match_number: u64 = 31;
    cross_type, set_cross_type: u8 = 39;
}

itch_view! {
    /// Broken Trade (`B`, 19 bytes).
    BrokenTrade = b'B', 19;
    match_number, set_match_number: u64 = 11;
}

itch_view! {
    /// Net Order Imbalance Indicator (`I`, 50 bytes).
    Noii = b'I', 50;
    paired_shares, set_paired_shares: u64 = 11;
    imbalance_shares, set_imbalance_shares: u64 = 19;
    imbalance_direction, set_imbalance_direction: u8 = 27;
    stock, set_stock: [u8; 8] = 28;
    far_price, set_far_price: u32 = 36;
    near_price, set_near_price: u32 = 40;
    current_reference_price, set_current_reference_price: u32 = 44;
    cross_type, set_cross_type: u8 = 48;
    price_variation, set_price_variation: u8 = 49;
}

const _: () = assert!(Noii::<&[u8]>::LEN == MESSAGE_LEN_MAX);
const _: () = assert!(layout_tiles(
    &[(0, 1), (1, 2), (3, 2), (5, 6)],
    0,
    HEADER_LEN
));

/// The exact length of a message type this crate decodes, or `None` for any other byte.
pub const fn message_len(type_byte: u8) -> Option<usize> {
    match type_byte {
        b'S' => Some(12),
        b'R' => Some(39),
        b'H' => Some(25),
        b'Y' => Some(20),
        b'A' => Some(36),
        b'F' => Some(40),
        b'E' => Some(31),
        b'C' => Some(36),
        b'X' => Some(23),
        b'D' => Some(19),
        b'U' => Some(35),
        b'P' => Some(44),
        b'Q' => Some(40),
        b'B' => Some(19),
        b'I' => Some(50),
        _ => None,
    }
}

// The table above and the views agree.
const _: () = {
    assert!(matches!(message_len(b'S'), Some(SystemEvent::<&[u8]>::LEN)));
    assert!(matches!(
        message_len(b'R'),
        Some(StockDirectory::<&[u8]>::LEN)
    ));
    assert!(matches!(
        message_len(b'H'),
        Some(TradingAction::<&[u8]>::LEN)
    ));
    assert!(matches!(message_len(b'Y'), Some(RegSho::<&[u8]>::LEN)));
    assert!(matches!(message_len(b'A'), Some(AddOrder::<&[u8]>::LEN)));
    assert!(matches!(
        message_len(b'F'),
        Some(AddOrderMpid::<&[u8]>::LEN)
    ));
    assert!(matches!(
        message_len(b'E'),
        Some(OrderExecuted::<&[u8]>::LEN)
    ));
    assert!(matches!(
        message_len(b'C'),
        Some(OrderExecutedWithPrice::<&[u8]>::LEN)
    ));
    assert!(matches!(message_len(b'X'), Some(OrderCancel::<&[u8]>::LEN)));
    assert!(matches!(message_len(b'D'), Some(OrderDelete::<&[u8]>::LEN)));
    assert!(matches!(
        message_len(b'U'),
        Some(OrderReplace::<&[u8]>::LEN)
    ));
    assert!(matches!(message_len(b'P'), Some(Trade::<&[u8]>::LEN)));
    assert!(matches!(message_len(b'Q'), Some(CrossTrade::<&[u8]>::LEN)));
    assert!(matches!(message_len(b'B'), Some(BrokenTrade::<&[u8]>::LEN)));
    assert!(matches!(message_len(b'I'), Some(Noii::<&[u8]>::LEN)));
};
