//! Engine [`Event`]s to ITCH 5.0 messages.
//!
//! The engine's book-change events carry everything a feed needs, so the encoder is a pure
//! function of the event, its sequencer timestamp and the start-of-day configuration:
//!
//! | engine event | ITCH |
//! |---|---|
//! | `BookAdd` | `A` Add Order, or `F` with MPID when the account has an attribution |
//! | `Executed` | `E` Order Executed (maker's order ref, shares, match number) |
//! | `BookReduce` | `X` Order Cancel (shares taken off the display) |
//! | `BookDelete` | `D` Order Delete |
//! | `BookReplace` | `U` Order Replace (old ref, new ref, displayed shares, price) |
//! | `TradingStatus` | `H` Stock Trading Action: `T` trading; `H` halted (configured reason) or closed (blank); `P` paused in a volatility call; `Q` quotation only in the other call phases |
//! | `AuctionFill` | `C` Order Executed With Price, non-printable (the cross's volume prints once, in `Q`) |
//! | `AuctionUncrossed` | `Q` Cross Trade (shares, price, its own match number, cross type of the phase) |
//! | `AuctionIndicative` | `I` NOII (near = far = reference = the indicative price; variation against the engine's reference) |
//! | member-only events | nothing |
//!
//! Cross type of a phase: opening call (and pre-open) `O`, closing call (and closed) `C`, resume
//! and volatility calls (and halted) `H`, batch auctions (and continuous) `I`.
//!
//! plus [`Encoder::system_event`] (`S`, start/end of day) and [`Encoder::stock_directory`]
//! (`R`, from the instrument's configuration).
//!
//! **Stock locate** = `InstrumentId + 1`: locate 0 is reserved for market-wide messages
//! (System Event), so instrument 0 is locate 1. The engine's configuration allows at most 65,535
//! instruments, so every locate fits a `u16`.
//!
//! **Timestamp** = the sequencer's `timestamp_ns` (ns since the Unix epoch, UTC) modulo one day:
//! nanoseconds since UTC midnight.
//!
//! **Price**: the engine's `Price` (i64, 4 implied decimals) and ITCH's (u32, 4 implied
//! decimals) share a unit; a price below 0 or above `u32::MAX` is
//! [`EncodeError::PriceOutOfRange`], never truncated.
//!
//! # Invariants
//! - Feed consistency carries over: applying the ITCH messages of the book-change events in
//!   order to an order-by-order book ([`crate::book::Book`]) gives the engine's displayed book.
//! - The encoder allocates only in [`Encoder::new`]; encoding is allocation-free and pure.

use core::fmt;

use peregrine_engine::{
    AccountId, AuctionIndicative, Event, ImbalanceSide, InstrumentConfig, InstrumentId, Price, Qty,
    TradingStatus,
};

use crate::itch::{
    AddOrderMpidRepr, AddOrderRepr, Authenticity, CrossTradeRepr, CrossType, EventCode,
    FinancialStatus, HeaderRepr, ImbalanceDirection, Indicator, ItchPrice, LuldTier,
    MarketCategory, MessageRepr, NoiiRepr, OrderCancelRepr, OrderDeleteRepr, OrderExecutedRepr,
    OrderExecutedWithPriceRepr, OrderReplaceRepr, PriceVariation, StockDirectoryRepr,
    SystemEventRepr, TradingActionRepr, TradingState, YesNo, NS_PER_DAY,
};
use crate::wire::{Alpha, Mpid, Symbol};

/// Why an event could not be encoded (or the encoder not built).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncodeError {
    /// The instrument is not in the encoder's table.
    UnknownInstrument(InstrumentId),
    /// The account is not in the attribution table.
    UnknownAccount(AccountId),
    /// The price does not fit ITCH's `u32`.
    PriceOutOfRange(Price),
    /// Construction: the instrument's symbol is not printable ASCII.
    BadSymbol(InstrumentId),
    /// Construction: more instruments than stock locates (65,535).
    TooManyInstruments,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::UnknownInstrument(id) => write!(f, "unknown instrument {}", id.0),
            EncodeError::UnknownAccount(id) => write!(f, "unknown account {}", id.0),
            EncodeError::PriceOutOfRange(price) => {
                write!(
                    f,
                    "price {price} does not fit an ITCH price (0 to 429496.7295)"
                )
            }
            EncodeError::BadSymbol(id) => {
                write!(f, "instrument {}: symbol is not printable ASCII", id.0)
            }
            EncodeError::TooManyInstruments => write!(f, "more than 65535 instruments"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// The fields of a Stock Directory message that the engine's configuration does not give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectoryDefaults {
    pub market_category: MarketCategory,
    pub financial_status: FinancialStatus,
    pub issue_classification: Alpha<1>,
    pub issue_sub_type: Alpha<2>,
    /// `Test` outside production.
    pub authenticity: Authenticity,
}

impl Default for DirectoryDefaults {
    /// A common stock (`C`, sub-type `C `) on an unlisted category, status not available.
    fn default() -> Self {
        DirectoryDefaults {
            market_category: MarketCategory::NotAvailable,
            financial_status: FinancialStatus::NotAvailable,
            issue_classification: Alpha::new(*b"C").unwrap_or(Alpha::BLANK),
            issue_sub_type: Alpha::new(*b"C ").unwrap_or(Alpha::BLANK),
            authenticity: Authenticity::Test,
        }
    }
}

/// Start-of-day settings of the encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    /// MPID per account (index = `AccountId`); `None` publishes that account's orders
    /// anonymously (`A`). An account beyond the table is an error.
    pub attribution: Vec<Option<Mpid>>,
    /// Sent in every header (Nasdaq's internal tracking number).
    pub tracking_number: u16,
    /// Reason code of a Stock Trading Action for a halt (blank on resume).
    pub halt_reason: Alpha<4>,
    pub directory: DirectoryDefaults,
}

impl EncoderConfig {
    /// Every one of `account_count` accounts anonymous, tracking number 0, halt reason blank.
    pub fn anonymous(account_count: usize) -> EncoderConfig {
        EncoderConfig {
            attribution: vec![None; account_count],
            tracking_number: 0,
            halt_reason: Alpha::BLANK,
            directory: DirectoryDefaults::default(),
        }
    }
}

/// The stock locate of an instrument: its id plus one (locate 0 is market-wide).
pub fn stock_locate(instrument: InstrumentId) -> Option<u16> {
    u16::try_from(instrument.0).ok()?.checked_add(1)
}

/// The instrument of a stock locate, `None` for locate 0.
pub fn instrument_of_locate(locate: u16) -> Option<InstrumentId> {
    locate
        .checked_sub(1)
        .map(|index| InstrumentId(u32::from(index)))
}

/// Nanoseconds since UTC midnight of a sequencer timestamp (ns since the Unix epoch).
pub const fn since_midnight_ns(timestamp_ns: u64) -> u64 {
    timestamp_ns % NS_PER_DAY
}

/// Whether [`Encoder::encode`] turns this event into an ITCH message (when it succeeds): the
/// book-change events and `TradingStatus`. Lets the core count feed sequence numbers without
/// encoding ([`crate::publisher::FeedSeq`]).
pub const fn publishes(event: &Event) -> bool {
    match event {
        Event::Accepted(_)
        | Event::Rejected(_)
        | Event::Cancelled(_)
        | Event::Replaced(_)
        | Event::Restated(_)
        | Event::MassCancelled(_)
        | Event::ControlAck(_) => false,
        Event::Executed(_)
        | Event::BookAdd(_)
        | Event::BookReduce(_)
        | Event::BookDelete(_)
        | Event::BookReplace(_)
        | Event::TradingStatus { .. }
        | Event::AuctionFill(_)
        | Event::AuctionUncrossed(_)
        | Event::AuctionIndicative(_) => true,
    }
}

/// The ITCH cross type of the phase whose call an auction event belongs to.
pub const fn cross_type(phase: TradingStatus) -> CrossType {
    match phase {
        TradingStatus::OpeningAuction | TradingStatus::PreOpen => CrossType::Opening,
        TradingStatus::ClosingAuction | TradingStatus::Closed => CrossType::Closing,
        TradingStatus::ResumeAuction | TradingStatus::VolatilityAuction | TradingStatus::Halted => {
            CrossType::HaltOrIpo
        }
        TradingStatus::BatchAuction | TradingStatus::Trading => CrossType::Intraday,
    }
}

/// NOII price variation: how far `price` is from `reference`, in whole percent bands;
/// `NotAvailable` when either is not positive.
pub fn price_variation(price: Price, reference: Price) -> PriceVariation {
    if price.0 <= 0 || reference.0 <= 0 {
        return PriceVariation::NotAvailable;
    }
    let distance = i128::from(price.0 - reference.0).unsigned_abs();
    let percent = distance * 100 / i128::from(reference.0).unsigned_abs();
    match percent {
        0 => PriceVariation::BelowOnePct,
        1 => PriceVariation::Pct1,
        2 => PriceVariation::Pct2,
        3 => PriceVariation::Pct3,
        4 => PriceVariation::Pct4,
        5 => PriceVariation::Pct5,
        6 => PriceVariation::Pct6,
        7 => PriceVariation::Pct7,
        8 => PriceVariation::Pct8,
        9 => PriceVariation::Pct9,
        10..=19 => PriceVariation::Pct10To19,
        20..=29 => PriceVariation::Pct20To29,
        _ => PriceVariation::Pct30OrMore,
    }
}

fn itch_price(price: Price) -> Result<ItchPrice, EncodeError> {
    ItchPrice::from_price(price).ok_or(EncodeError::PriceOutOfRange(price))
}

/// One instrument as the encoder needs it.
#[derive(Clone, Copy, Debug)]
struct Listing {
    symbol: Symbol,
    round_lot_size: Qty,
}

/// Turns engine events into ITCH messages.
#[derive(Clone, Debug)]
pub struct Encoder {
    /// Index = `InstrumentId`; length `<= u16::MAX`.
    listings: Vec<Listing>,
    config: EncoderConfig,
}

impl Encoder {
    /// Builds the tables from the engine's instruments (index = `InstrumentId`).
    pub fn new(
        instruments: &[InstrumentConfig],
        config: EncoderConfig,
    ) -> Result<Self, EncodeError> {
        if instruments.len() > usize::from(u16::MAX) {
            return Err(EncodeError::TooManyInstruments);
        }
        let mut listings = Vec::with_capacity(instruments.len());
        for (index, instrument) in instruments.iter().enumerate() {
            let id =
                InstrumentId(u32::try_from(index).map_err(|_| EncodeError::TooManyInstruments)?);
            let symbol = Symbol::new(instrument.symbol).ok_or(EncodeError::BadSymbol(id))?;
            listings.push(Listing {
                symbol,
                round_lot_size: instrument.lot_size,
            });
        }
        Ok(Encoder { listings, config })
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    pub fn instrument_count(&self) -> usize {
        self.listings.len()
    }

    fn header(
        &self,
        timestamp_ns: u64,
        instrument: InstrumentId,
    ) -> Result<HeaderRepr, EncodeError> {
        let known = usize::try_from(instrument.0).is_ok_and(|index| index < self.listings.len());
        let locate = stock_locate(instrument).filter(|_| known);
        let stock_locate = locate.ok_or(EncodeError::UnknownInstrument(instrument))?;
        Ok(HeaderRepr {
            stock_locate,
            tracking_number: self.config.tracking_number,
            timestamp_ns: since_midnight_ns(timestamp_ns),
        })
    }

    fn listing(&self, instrument: InstrumentId) -> Result<&Listing, EncodeError> {
        usize::try_from(instrument.0)
            .ok()
            .and_then(|index| self.listings.get(index))
            .ok_or(EncodeError::UnknownInstrument(instrument))
    }

    fn attribution(&self, account: AccountId) -> Result<Option<Mpid>, EncodeError> {
        usize::try_from(account.0)
            .ok()
            .and_then(|index| self.config.attribution.get(index))
            .copied()
            .ok_or(EncodeError::UnknownAccount(account))
    }

    /// The ITCH message for one event stamped `timestamp_ns` (sequencer time, ns since the
    /// epoch), or `None` for an event the market does not see.
    pub fn encode(
        &self,
        timestamp_ns: u64,
        event: &Event,
    ) -> Result<Option<MessageRepr>, EncodeError> {
        let message = match event {
            Event::Accepted(_)
            | Event::Rejected(_)
            | Event::Cancelled(_)
            | Event::Replaced(_)
            | Event::Restated(_)
            | Event::MassCancelled(_)
            | Event::ControlAck(_) => return Ok(None),
            Event::BookAdd(add) => {
                let header = self.header(timestamp_ns, add.instrument)?;
                let stock = self.listing(add.instrument)?.symbol;
                let price = itch_price(add.price)?;
                match self.attribution(add.account)? {
                    None => MessageRepr::AddOrder(AddOrderRepr {
                        header,
                        order: add.order,
                        side: add.side,
                        shares: add.display_qty,
                        stock,
                        price,
                    }),
                    Some(attribution) => MessageRepr::AddOrderMpid(AddOrderMpidRepr {
                        header,
                        order: add.order,
                        side: add.side,
                        shares: add.display_qty,
                        stock,
                        price,
                        attribution,
                    }),
                }
            }
            Event::Executed(executed) => MessageRepr::OrderExecuted(OrderExecutedRepr {
                header: self.header(timestamp_ns, executed.instrument)?,
                order: executed.maker_order,
                executed_shares: executed.qty,
                match_number: executed.match_id,
            }),
            Event::BookReduce(reduce) => MessageRepr::OrderCancel(OrderCancelRepr {
                header: self.header(timestamp_ns, reduce.instrument)?,
                order: reduce.order,
                cancelled_shares: reduce.qty,
            }),
            Event::BookDelete(delete) => MessageRepr::OrderDelete(OrderDeleteRepr {
                header: self.header(timestamp_ns, delete.instrument)?,
                order: delete.order,
            }),
            Event::BookReplace(replace) => MessageRepr::OrderReplace(OrderReplaceRepr {
                header: self.header(timestamp_ns, replace.instrument)?,
                original_order: replace.old_order,
                new_order: replace.new_order,
                shares: replace.display_qty,
                price: itch_price(replace.price)?,
            }),
            Event::TradingStatus { instrument, status } => {
                self.trading_action(timestamp_ns, *instrument, *status)?
            }
            Event::AuctionFill(fill) => {
                MessageRepr::OrderExecutedWithPrice(OrderExecutedWithPriceRepr {
                    header: self.header(timestamp_ns, fill.instrument)?,
                    order: fill.order,
                    executed_shares: fill.qty,
                    match_number: fill.match_id,
                    printable: YesNo::No,
                    execution_price: itch_price(fill.price)?,
                })
            }
            Event::AuctionUncrossed(cross) => MessageRepr::CrossTrade(CrossTradeRepr {
                header: self.header(timestamp_ns, cross.instrument)?,
                shares: cross.qty,
                stock: self.listing(cross.instrument)?.symbol,
                cross_price: itch_price(cross.price)?,
                match_number: cross.match_id,
                cross_type: cross_type(cross.phase),
            }),
            Event::AuctionIndicative(indicative) => self.noii(timestamp_ns, indicative)?,
        };
        Ok(Some(message))
    }

    /// Net Order Imbalance Indicator (`I`) of an indicative auction event.
    fn noii(
        &self,
        timestamp_ns: u64,
        indicative: &AuctionIndicative,
    ) -> Result<MessageRepr, EncodeError> {
        let price = itch_price(indicative.price)?;
        let imbalance_direction = match indicative.imbalance_side {
            ImbalanceSide::Buy => ImbalanceDirection::Buy,
            ImbalanceSide::Sell => ImbalanceDirection::Sell,
            ImbalanceSide::Balanced => ImbalanceDirection::NoImbalance,
            ImbalanceSide::NoCross => ImbalanceDirection::InsufficientOrders,
        };
        Ok(MessageRepr::Noii(NoiiRepr {
            header: self.header(timestamp_ns, indicative.instrument)?,
            paired_shares: indicative.paired_qty,
            imbalance_shares: indicative.imbalance_qty,
            imbalance_direction,
            stock: self.listing(indicative.instrument)?.symbol,
            far_price: price,
            near_price: price,
            current_reference_price: price,
            cross_type: cross_type(indicative.phase),
            price_variation: price_variation(indicative.price, indicative.reference_price),
        }))
    }

    /// System Event (`S`, locate 0): `StartOfMessages` … `EndOfMessages` frame the day.
    pub fn system_event(&self, timestamp_ns: u64, event_code: EventCode) -> MessageRepr {
        MessageRepr::SystemEvent(SystemEventRepr {
            header: HeaderRepr {
                stock_locate: 0,
                tracking_number: self.config.tracking_number,
                timestamp_ns: since_midnight_ns(timestamp_ns),
            },
            event_code,
        })
    }

    /// Stock Directory (`R`) of one instrument: symbol and round lot (= the lot size) from
    /// its configuration, the rest from [`DirectoryDefaults`].
    pub fn stock_directory(
        &self,
        timestamp_ns: u64,
        instrument: InstrumentId,
    ) -> Result<MessageRepr, EncodeError> {
        let header = self.header(timestamp_ns, instrument)?;
        let listing = self.listing(instrument)?;
        let defaults = &self.config.directory;
        Ok(MessageRepr::StockDirectory(StockDirectoryRepr {
            header,
            stock: listing.symbol,
            market_category: defaults.market_category,
            financial_status: defaults.financial_status,
            round_lot_size: listing.round_lot_size.0,
            round_lots_only: YesNo::No,
            issue_classification: defaults.issue_classification,
            issue_sub_type: defaults.issue_sub_type,
            authenticity: defaults.authenticity,
            short_sale_threshold: Indicator::NotAvailable,
            ipo_flag: Indicator::NotAvailable,
            luld_tier: LuldTier::NotAvailable,
            etp_flag: Indicator::NotAvailable,
            etp_leverage_factor: 0,
            inverse_indicator: YesNo::No,
        }))
    }

    /// Stock Trading Action (`H`) for an instrument's status.
    pub fn trading_action(
        &self,
        timestamp_ns: u64,
        instrument: InstrumentId,
        status: TradingStatus,
    ) -> Result<MessageRepr, EncodeError> {
        let (trading_state, reason) = match status {
            TradingStatus::Trading => (TradingState::Trading, Alpha::BLANK),
            TradingStatus::Halted => (TradingState::Halted, self.config.halt_reason),
            TradingStatus::Closed => (TradingState::Halted, Alpha::BLANK),
            TradingStatus::VolatilityAuction => (TradingState::Paused, Alpha::BLANK),
            TradingStatus::PreOpen
            | TradingStatus::OpeningAuction
            | TradingStatus::ClosingAuction
            | TradingStatus::ResumeAuction
            | TradingStatus::BatchAuction => (TradingState::QuotationOnly, Alpha::BLANK),
        };
        Ok(MessageRepr::TradingAction(TradingActionRepr {
            header: self.header(timestamp_ns, instrument)?,
            stock: self.listing(instrument)?.symbol,
            trading_state,
            reason,
        }))
    }
}

#[cfg(test)]
mod tests;
