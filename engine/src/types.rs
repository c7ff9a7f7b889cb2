//! Domain values: identifiers, fixed-point price, quantity, side and the small closed sets that
//! describe an order.
//!
//! # Invariants
//! - Every value here is a plain integer newtype or a fieldless enum: `Copy`, no heap, no float.
//! - Each closed set converts to and from a `u8` code (`code` / `from_code`) used by the record
//!   layouts in [`crate::record`]; `from_code` is total (unknown codes give `None`), so a decoder
//!   never panics on a byte it does not know.

use core::fmt;

/// Instrument (order book) identifier: a dense index `0..instrument_count` into the engine's
/// instrument table. Feeds map it to an ITCH stock locate code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstrumentId(pub u32);

/// Order identifier, assigned by the engine from 1 upwards in acceptance order, unique for the
/// life of the engine (a replace that loses priority gets a fresh one). `OrderId(0)` means "none"
/// in records. Published on the feed as the ITCH order reference number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub u64);

impl OrderId {
    /// The "no order" value used in records where an order id is absent.
    pub const NONE: OrderId = OrderId(0);
}

/// Trading account (member firm account): a dense index `0..account_count` into the engine's
/// account table. Self-trade prevention and ownership checks use it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u32);

/// Order-entry session that sent a command (assigned by the gateway). The engine stores it on
/// each order only so that events can be routed back; it never affects matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u32);

/// Match number: unique per execution, from 1 upwards. ITCH/OUCH "match number".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MatchId(pub u64);

/// Price in integer units of 1/10,000 of the currency unit (4 implied decimals, as ITCH and OUCH
/// carry it): `Price(1_234_500)` is 123.45. Signed so that spreads and differences are natural;
/// an instrument's band keeps book prices positive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(pub i64);

impl Price {
    /// Units per whole currency unit (4 implied decimals).
    pub const SCALE: i64 = 10_000;
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let scale = Price::SCALE.unsigned_abs();
        write!(f, "{sign}{}.{:04}", magnitude / scale, magnitude % scale)
    }
}

/// Quantity in shares (or contracts). ITCH and OUCH carry it as `u32`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub u32);

impl Qty {
    pub const ZERO: Qty = Qty(0);

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Declares a fieldless `u8`-coded enum with `code`/`from_code` and `Display` (its name).
/// The only macro in the crate: a table, nothing hidden.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:expr,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vmeta])* $variant = $code,)+ }

        impl $name {
            /// Every variant, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The byte that stands for this value in records.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The value a record byte stands for, or `None` for an unknown byte.
            pub const fn from_code(code: u8) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let name = match self { $($name::$variant => stringify!($variant),)+ };
                f.write_str(name)
            }
        }
    };
}
pub(crate) use coded_enum;

coded_enum! {
    /// Side of an order.
    Side {
        Buy = b'B',
        Sell = b'S',
    }
}

impl Side {
    /// The side an order of this side trades against.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Array index: `Buy = 0`, `Sell = 1`.
    pub const fn index(self) -> usize {
        match self {
            Side::Buy => 0,
            Side::Sell => 1,
        }
    }
}

coded_enum! {
    /// Price instruction of an order.
    OrderType {
        /// Executes at its limit price or better; the remainder follows the time in force.
        Limit = b'L',
        /// Executes at any price against the book; never rests (the remainder is cancelled).
        Market = b'M',
    }
}

coded_enum! {
    /// How long an order may live.
    TimeInForce {
        /// Rests until cancelled or the end-of-day command.
        Day = b'0',
        /// Rests until cancelled (survives end of day).
        Gtc = b'1',
        /// Immediate or cancel: executes what it can on arrival, the rest is cancelled.
        Ioc = b'3',
        /// Fill or kill: executes its whole quantity on arrival or nothing.
        Fok = b'4',
    }
}

impl TimeInForce {
    /// True when any quantity left after the arrival match is cancelled instead of resting.
    pub const fn is_immediate(self) -> bool {
        match self {
            TimeInForce::Ioc | TimeInForce::Fok => true,
            TimeInForce::Day | TimeInForce::Gtc => false,
        }
    }
}

coded_enum! {
    /// Self-trade prevention: what happens when an incoming order would trade with a resting
    /// order of the same account.
    StpMode {
        /// Use the account's configured mode.
        AccountDefault = 0,
        /// No prevention: the account may trade with itself.
        Off = 1,
        /// Cancel the resting order and keep matching the incoming one.
        CancelResting = 2,
        /// Cancel the rest of the incoming order; the resting order is untouched.
        CancelIncoming = 3,
        /// Cancel both the resting order and the rest of the incoming order.
        CancelBoth = 4,
        /// Decrement both by the smaller quantity without a trade; an order reduced to zero is
        /// cancelled, and matching goes on if the incoming order has quantity left.
        Decrement = 5,
    }
}

coded_enum! {
    /// An instrument's trading phase: whether it accepts orders and how it matches them. The
    /// phase rules (what each allows, when the book uncrosses) are in the crate docs.
    TradingStatus {
        /// Continuous matching (the default phase, all day, without a schedule).
        Trading = b'T',
        /// New orders and replaces are rejected; cancels and reduces are allowed.
        Halted = b'H',
        /// Order entry without matching and without indicative prices; no uncross on leaving
        /// (except into continuous trading).
        PreOpen = b'P',
        /// Opening call: orders rest without matching, indicative prices are published, the book
        /// uncrosses when the phase ends.
        OpeningAuction = b'O',
        /// Closing call, like the opening call.
        ClosingAuction = b'E',
        /// The short call that resumes a halted instrument; ends after the configured duration.
        ResumeAuction = b'R',
        /// The short call a volatility interruption starts; ends after the configured duration.
        VolatilityAuction = b'V',
        /// Frequent batch auctions: orders are collected and the book uncrosses at every
        /// boundary of the configured interval of sequencer time.
        BatchAuction = b'B',
        /// No order entry; cancels and reduces are allowed.
        Closed = b'C',
    }
}

impl TradingStatus {
    /// Orders rest without matching on arrival (every phase but continuous, halted, closed).
    pub const fn is_call(self) -> bool {
        match self {
            TradingStatus::PreOpen
            | TradingStatus::OpeningAuction
            | TradingStatus::ClosingAuction
            | TradingStatus::ResumeAuction
            | TradingStatus::VolatilityAuction
            | TradingStatus::BatchAuction => true,
            TradingStatus::Trading | TradingStatus::Halted | TradingStatus::Closed => false,
        }
    }

    /// A call that ends in an uncross and publishes indicative prices (every call but
    /// pre-open).
    pub const fn is_auction(self) -> bool {
        self.is_call() && !matches!(self, TradingStatus::PreOpen)
    }

    /// New orders and replaces are accepted.
    pub const fn accepts_orders(self) -> bool {
        !matches!(self, TradingStatus::Halted | TradingStatus::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_displays_four_decimals() {
        assert_eq!(Price(1_234_500).to_string(), "123.4500");
        assert_eq!(Price(5).to_string(), "0.0005");
        assert_eq!(Price(-10_001).to_string(), "-1.0001");
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_are_none() {
        for &side in Side::ALL {
            assert_eq!(Side::from_code(side.code()), Some(side));
        }
        for &mode in StpMode::ALL {
            assert_eq!(StpMode::from_code(mode.code()), Some(mode));
        }
        for &tif in TimeInForce::ALL {
            assert_eq!(TimeInForce::from_code(tif.code()), Some(tif));
        }
        assert_eq!(Side::from_code(b'X'), None);
        assert_eq!(OrderType::from_code(0), None);
        assert_eq!(TradingStatus::from_code(0xff), None);
    }

    #[test]
    fn side_opposite_and_index() {
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(Side::Sell.opposite(), Side::Buy);
        assert_ne!(Side::Buy.index(), Side::Sell.index());
    }
}
