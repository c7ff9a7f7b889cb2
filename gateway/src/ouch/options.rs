//! OUCH 5.0 optional appendage: `u16` appendage length, then TagValue elements
//! (`u8` length of the rest of the element, `u8` option tag, value), per §1.2 and Appendix A.
//!
//! # Invariants
//! - Each message has a [`TagSet`] of the options the spec lists for it. Inside that set an
//!   option must have its Appendix A size, appear once and hold a value from its list; a tag
//!   outside the set (unknown, or not listed for this message) is skipped by its length.
//! - A malformed appendage (length past the message, an element of length 0 or past the
//!   appendage, bytes after it) is a typed [`Error`], never a panic.
//! - [`Options::emit`] writes the options in tag order, only those in the message's set, so
//!   `parse(emit(o)) == o` for options within the set.

use core::fmt;

use super::{Error, ErrorKind, RejectCode, Side};
use crate::wire::{is_printable, wire_enum, AlphaDisplay, WireField};

wire_enum! {
    /// Option tags of Appendix A.
    OptionTag: u8 {
        SecondaryOrdRefNum = 1,
        Firm = 2,
        MinQty = 3,
        CustomerType = 4,
        MaxFloor = 5,
        PriceType = 6,
        PegOffset = 7,
        DiscretionPrice = 9,
        DiscretionPriceType = 10,
        DiscretionPegOffset = 11,
        PostOnly = 12,
        RandomReserves = 13,
        Route = 14,
        ExpireTime = 15,
        TradeNow = 16,
        HandleInst = 17,
        BboWeightIndicator = 18,
        DisplayQuantity = 22,
        DisplayPrice = 23,
        GroupId = 24,
        SharesLocated = 25,
        LocateBroker = 26,
        Side = 27,
        UserRefIdx = 28,
    }
}

impl OptionTag {
    /// Size of the option's value (Appendix A, "Size").
    pub const fn value_len(self) -> usize {
        match self {
            OptionTag::SecondaryOrdRefNum
            | OptionTag::DiscretionPrice
            | OptionTag::DisplayPrice => 8,
            OptionTag::Firm
            | OptionTag::MinQty
            | OptionTag::MaxFloor
            | OptionTag::PegOffset
            | OptionTag::DiscretionPegOffset
            | OptionTag::RandomReserves
            | OptionTag::Route
            | OptionTag::ExpireTime
            | OptionTag::DisplayQuantity
            | OptionTag::LocateBroker => 4,
            OptionTag::GroupId => 2,
            OptionTag::CustomerType
            | OptionTag::PriceType
            | OptionTag::DiscretionPriceType
            | OptionTag::PostOnly
            | OptionTag::TradeNow
            | OptionTag::HandleInst
            | OptionTag::BboWeightIndicator
            | OptionTag::SharesLocated
            | OptionTag::Side
            | OptionTag::UserRefIdx => 1,
        }
    }
}

wire_enum! {
    /// CustomerType (tag 4).
    CustomerType: u8 {
        Retail = b'R',
        NotRetail = b'N',
        PortDefault = b' ',
    }
}

wire_enum! {
    /// PriceType and DiscretionPriceType (tags 6 and 10).
    PriceType: u8 {
        Limit = b'L',
        MarketPeg = b'P',
        MidpointPeg = b'M',
        PrimaryPeg = b'R',
        MarketMakerPeg = b'Q',
        Midpoint = b'm',
    }
}

wire_enum! {
    /// TradeNow (tag 16).
    TradeNow: u8 {
        Yes = b'Y',
        No = b'N',
        PortDefault = b' ',
    }
}

wire_enum! {
    /// HandleInst (tag 17).
    HandleInst: u8 {
        ImbalanceOnly = b'I',
        RetailOrderType1 = b'O',
        RetailOrderType2 = b'T',
        RetailPriceImprovement = b'Q',
        ExtendedLifeContinuous = b'B',
        DirectListingCapitalRaise = b'D',
        NoInstructions = b' ',
    }
}

wire_enum! {
    /// BBO Weight Indicator (tag 18).
    BboWeight: u8 {
        UpTo0_2Pct = b'0',
        UpTo1Pct = b'1',
        UpTo2Pct = b'2',
        Above2Pct = b'3',
        Unspecified = b' ',
        SetsQbboJoinsNbbo = b'S',
        ImprovesNbbo = b'N',
    }
}

/// Options of the messages whose only option is UserRefIdx (Cancel Order, Disable/Enable
/// Order Entry, Account Query and most outbound messages).
pub const USER_REF_IDX_ONLY: TagSet = TagSet::of(&[OptionTag::UserRefIdx]);

/// A set of option tags (bit `tag` set = the option belongs to the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TagSet(pub u32);

impl TagSet {
    pub const EMPTY: TagSet = TagSet(0);

    pub const fn of(tags: &[OptionTag]) -> TagSet {
        let mut bits = 0u32;
        let mut index = 0;
        while index < tags.len() {
            bits |= 1 << tags[index].code();
            index += 1;
        }
        TagSet(bits)
    }

    pub const fn contains(self, tag: OptionTag) -> bool {
        self.0 & (1 << tag.code()) != 0
    }
}

/// The options of one message; `None` = absent (the spec's default applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Options {
    pub secondary_ord_ref_num: Option<u64>,
    pub firm: Option<[u8; 4]>,
    pub min_qty: Option<u32>,
    pub customer_type: Option<CustomerType>,
    /// Displayed portion of the order (reserve orders).
    pub max_floor: Option<u32>,
    pub price_type: Option<PriceType>,
    pub peg_offset: Option<i32>,
    pub discretion_price: Option<u64>,
    pub discretion_price_type: Option<PriceType>,
    pub discretion_peg_offset: Option<i32>,
    pub post_only: Option<bool>,
    pub random_reserves: Option<u32>,
    pub route: Option<[u8; 4]>,
    /// Seconds to live, below 86,400.
    pub expire_time_s: Option<u32>,
    pub trade_now: Option<TradeNow>,
    pub handle_inst: Option<HandleInst>,
    pub bbo_weight: Option<BboWeight>,
    pub display_qty: Option<u32>,
    pub display_price: Option<u64>,
    pub group_id: Option<u16>,
    pub shares_located: Option<bool>,
    pub locate_broker: Option<[u8; 4]>,
    pub side: Option<Side>,
    pub user_ref_idx: Option<u8>,
}

/// Seconds in a day: ExpireTime must be below it.
const EXPIRE_TIME_LIMIT_S: u32 = 86_400;
/// Bytes of the appendage length field.
pub const APPENDAGE_LENGTH_LEN: usize = 2;

/// One option's value as raw bytes of its size; the helpers below read and write them.
fn value<T: WireField>(bytes: &[u8]) -> T {
    T::read(bytes, 0)
}

fn flag(byte: u8, yes: u8) -> Option<bool> {
    match byte {
        b'N' => Some(false),
        other if other == yes => Some(true),
        _ => None,
    }
}

impl Options {
    /// True when no option is present.
    pub fn is_empty(&self) -> bool {
        *self == Options::default()
    }

    /// Options that only carry a UserRefIdx (the set of most outbound messages).
    pub fn user_ref_idx(index: Option<u8>) -> Options {
        Options {
            user_ref_idx: index,
            ..Options::default()
        }
    }

    /// Parses an appendage: `bytes` starts at the appendage length field and runs to the end of
    /// the message. `optional`: the length field may be absent. `base` is the offset of `bytes`
    /// in the message (for error offsets).
    pub fn parse(bytes: &[u8], optional: bool, set: TagSet, base: usize) -> Result<Options, Error> {
        if bytes.is_empty() && optional {
            return Ok(Options::default());
        }
        if bytes.len() < APPENDAGE_LENGTH_LEN {
            return Err(Error::structural(ErrorKind::Truncated));
        }
        let declared = usize::from(u16::read(bytes, 0));
        let elements = &bytes[APPENDAGE_LENGTH_LEN..];
        if elements.len() < declared {
            return Err(Error::structural(ErrorKind::Truncated));
        }
        if elements.len() > declared {
            return Err(Error::structural(ErrorKind::TrailingBytes));
        }
        let mut options = Options::default();
        let mut seen = TagSet::EMPTY;
        let mut offset = 0;
        // Bounded: each element consumes at least two bytes of a slice of at most 64 KiB.
        while offset < elements.len() {
            let element_len = usize::from(elements[offset]);
            let end = offset + 1 + element_len;
            if element_len == 0 || end > elements.len() {
                let at = base + APPENDAGE_LENGTH_LEN + offset;
                return Err(Error::structural(ErrorKind::BadElement {
                    offset: at as u16,
                }));
            }
            let tag = elements[offset + 1];
            if let Some(tag) = OptionTag::from_code(tag).filter(|&tag| set.contains(tag)) {
                if seen.contains(tag) {
                    return Err(Error::structural(ErrorKind::DuplicateOption {
                        tag: tag.code(),
                    }));
                }
                seen.0 |= 1 << tag.code();
                let raw = &elements[offset + 2..end];
                if raw.len() != tag.value_len() {
                    return Err(Error::structural(ErrorKind::OptionLength {
                        tag: tag.code(),
                    }));
                }
                options.apply(tag, raw)?;
            }
            offset = end;
        }
        Ok(options)
    }

    /// Sets one option from its raw value (exactly `tag.value_len()` bytes).
    fn apply(&mut self, tag: OptionTag, raw: &[u8]) -> Result<(), Error> {
        let invalid = |reject| Error {
            kind: ErrorKind::InvalidOption { tag: tag.code() },
            reject,
        };
        let other = invalid(RejectCode::Other);
        match tag {
            OptionTag::SecondaryOrdRefNum => self.secondary_ord_ref_num = Some(value(raw)),
            OptionTag::Firm => self.firm = Some(printable4(raw).ok_or(other)?),
            OptionTag::MinQty => self.min_qty = Some(value(raw)),
            OptionTag::CustomerType => {
                self.customer_type = Some(CustomerType::from_code(raw[0]).ok_or(other)?);
            }
            OptionTag::MaxFloor => self.max_floor = Some(value(raw)),
            OptionTag::PriceType => {
                let peg = invalid(RejectCode::InvalidPegType);
                self.price_type = Some(PriceType::from_code(raw[0]).ok_or(peg)?);
            }
            OptionTag::PegOffset => self.peg_offset = Some(value(raw)),
            OptionTag::DiscretionPrice => self.discretion_price = Some(value(raw)),
            OptionTag::DiscretionPriceType => {
                let peg = invalid(RejectCode::InvalidPegType);
                self.discretion_price_type = Some(PriceType::from_code(raw[0]).ok_or(peg)?);
            }
            OptionTag::DiscretionPegOffset => self.discretion_peg_offset = Some(value(raw)),
            OptionTag::PostOnly => self.post_only = Some(flag(raw[0], b'P').ok_or(other)?),
            OptionTag::RandomReserves => self.random_reserves = Some(value(raw)),
            OptionTag::Route => self.route = Some(printable4(raw).ok_or(other)?),
            OptionTag::ExpireTime => {
                let seconds: u32 = value(raw);
                if seconds >= EXPIRE_TIME_LIMIT_S {
                    return Err(other);
                }
                self.expire_time_s = Some(seconds);
            }
            OptionTag::TradeNow => self.trade_now = Some(TradeNow::from_code(raw[0]).ok_or(other)?),
            OptionTag::HandleInst => {
                self.handle_inst = Some(HandleInst::from_code(raw[0]).ok_or(other)?);
            }
            OptionTag::BboWeightIndicator => {
                self.bbo_weight = Some(BboWeight::from_code(raw[0]).ok_or(other)?);
            }
            OptionTag::DisplayQuantity => self.display_qty = Some(value(raw)),
            OptionTag::DisplayPrice => self.display_price = Some(value(raw)),
            OptionTag::GroupId => self.group_id = Some(value(raw)),
            OptionTag::SharesLocated => {
                self.shares_located = Some(flag(raw[0], b'Y').ok_or(other)?)
            }
            OptionTag::LocateBroker => self.locate_broker = Some(printable4(raw).ok_or(other)?),
            OptionTag::Side => {
                let side = invalid(RejectCode::InvalidSide);
                self.side = Some(Side::from_code(raw[0]).ok_or(side)?);
            }
            OptionTag::UserRefIdx => self.user_ref_idx = Some(raw[0]),
        }
        Ok(())
    }

    /// The value of one option as big-endian bytes (`buffer[..len]`), if present.
    fn raw(&self, tag: OptionTag, buffer: &mut [u8; 8]) -> Option<usize> {
        fn put<T: WireField>(value: Option<T>, buffer: &mut [u8; 8]) -> Option<usize> {
            let value = value?;
            value.write(buffer, 0);
            Some(T::SIZE)
        }
        let post_only = self.post_only.map(|flag| if flag { b'P' } else { b'N' });
        let located = self
            .shares_located
            .map(|flag| if flag { b'Y' } else { b'N' });
        match tag {
            OptionTag::SecondaryOrdRefNum => put(self.secondary_ord_ref_num, buffer),
            OptionTag::Firm => put(self.firm, buffer),
            OptionTag::MinQty => put(self.min_qty, buffer),
            OptionTag::CustomerType => put(self.customer_type.map(CustomerType::code), buffer),
            OptionTag::MaxFloor => put(self.max_floor, buffer),
            OptionTag::PriceType => put(self.price_type.map(PriceType::code), buffer),
            OptionTag::PegOffset => put(self.peg_offset, buffer),
            OptionTag::DiscretionPrice => put(self.discretion_price, buffer),
            OptionTag::DiscretionPriceType => {
                put(self.discretion_price_type.map(PriceType::code), buffer)
            }
            OptionTag::DiscretionPegOffset => put(self.discretion_peg_offset, buffer),
            OptionTag::PostOnly => put(post_only, buffer),
            OptionTag::RandomReserves => put(self.random_reserves, buffer),
            OptionTag::Route => put(self.route, buffer),
            OptionTag::ExpireTime => put(self.expire_time_s, buffer),
            OptionTag::TradeNow => put(self.trade_now.map(TradeNow::code), buffer),
            OptionTag::HandleInst => put(self.handle_inst.map(HandleInst::code), buffer),
            OptionTag::BboWeightIndicator => put(self.bbo_weight.map(BboWeight::code), buffer),
            OptionTag::DisplayQuantity => put(self.display_qty, buffer),
            OptionTag::DisplayPrice => put(self.display_price, buffer),
            OptionTag::GroupId => put(self.group_id, buffer),
            OptionTag::SharesLocated => put(located, buffer),
            OptionTag::LocateBroker => put(self.locate_broker, buffer),
            OptionTag::Side => put(self.side.map(Side::code), buffer),
            OptionTag::UserRefIdx => put(self.user_ref_idx, buffer),
        }
    }

    /// Bytes of the elements (without the appendage length field) for the options in `set`.
    pub fn elements_len(&self, set: TagSet) -> usize {
        let mut scratch = [0u8; 8];
        OptionTag::ALL
            .iter()
            .filter(|&&tag| set.contains(tag))
            .filter_map(|&tag| self.raw(tag, &mut scratch))
            .map(|len| len + 2)
            .sum()
    }

    /// Bytes of the whole appendage; 0 when it is optional and there is nothing to send.
    pub fn buffer_len(&self, optional: bool, set: TagSet) -> usize {
        let elements = self.elements_len(set);
        if optional && elements == 0 {
            0
        } else {
            APPENDAGE_LENGTH_LEN + elements
        }
    }

    /// Writes the appendage (length field and elements) into `buffer[..buffer_len()]`.
    pub fn emit(&self, optional: bool, set: TagSet, buffer: &mut [u8]) -> usize {
        let total = self.buffer_len(optional, set);
        if total == 0 {
            return 0;
        }
        let elements = u16::try_from(total - APPENDAGE_LENGTH_LEN).unwrap_or(u16::MAX);
        elements.write(buffer, 0);
        let mut offset = APPENDAGE_LENGTH_LEN;
        let mut scratch = [0u8; 8];
        for &tag in OptionTag::ALL.iter().filter(|&&tag| set.contains(tag)) {
            if let Some(len) = self.raw(tag, &mut scratch) {
                buffer[offset] = (len + 1) as u8;
                buffer[offset + 1] = tag.code();
                buffer[offset + 2..offset + 2 + len].copy_from_slice(&scratch[..len]);
                offset += 2 + len;
            }
        }
        assert_eq!(offset, total);
        total
    }
}

fn printable4(raw: &[u8]) -> Option<[u8; 4]> {
    let field: [u8; 4] = WireField::read(raw, 0);
    is_printable(&field).then_some(field)
}

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut scratch = [0u8; 8];
        for &tag in OptionTag::ALL {
            if let Some(len) = self.raw(tag, &mut scratch) {
                match len {
                    1 => write!(f, " {tag}={}", AlphaDisplay(&scratch[..1]))?,
                    2 => write!(f, " {tag}={}", u16::read(&scratch, 0))?,
                    4 if matches!(
                        tag,
                        OptionTag::Firm | OptionTag::Route | OptionTag::LocateBroker
                    ) =>
                    {
                        write!(f, " {tag}={}", AlphaDisplay(&scratch[..4]))?
                    }
                    4 => write!(f, " {tag}={}", u32::read(&scratch, 0))?,
                    _ => write!(f, " {tag}={}", u64::read(&scratch, 0))?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    //! Proptest strategies for options within a tag set.
    use super::*;
    use proptest::prelude::*;

    fn pick<T: Copy + core::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
        proptest::sample::select(all)
    }

    fn alpha4() -> impl Strategy<Value = [u8; 4]> {
        proptest::array::uniform4(0x20u8..0x7f)
    }

    /// Any options within `set`.
    pub fn options(set: TagSet) -> impl Strategy<Value = Options> {
        let numbers = (
            any::<Option<u64>>(),
            proptest::option::of(alpha4()),
            any::<Option<u32>>(),
            proptest::option::of(pick(CustomerType::ALL)),
            any::<Option<u32>>(),
            proptest::option::of(pick(PriceType::ALL)),
            any::<Option<i32>>(),
            any::<Option<u64>>(),
            proptest::option::of(pick(PriceType::ALL)),
            any::<Option<i32>>(),
            any::<Option<bool>>(),
            any::<Option<u32>>(),
        );
        let rest = (
            proptest::option::of(alpha4()),
            proptest::option::of(0u32..EXPIRE_TIME_LIMIT_S),
            proptest::option::of(pick(TradeNow::ALL)),
            proptest::option::of(pick(HandleInst::ALL)),
            proptest::option::of(pick(BboWeight::ALL)),
            any::<Option<u32>>(),
            any::<Option<u64>>(),
            any::<Option<u16>>(),
            any::<Option<bool>>(),
            proptest::option::of(alpha4()),
            proptest::option::of(pick(Side::ALL)),
            any::<Option<u8>>(),
        );
        (numbers, rest).prop_map(move |(a, b)| {
            let all = Options {
                secondary_ord_ref_num: a.0,
                firm: a.1,
                min_qty: a.2,
                customer_type: a.3,
                max_floor: a.4,
                price_type: a.5,
                peg_offset: a.6,
                discretion_price: a.7,
                discretion_price_type: a.8,
                discretion_peg_offset: a.9,
                post_only: a.10,
                random_reserves: a.11,
                route: b.0,
                expire_time_s: b.1,
                trade_now: b.2,
                handle_inst: b.3,
                bbo_weight: b.4,
                display_qty: b.5,
                display_price: b.6,
                group_id: b.7,
                shares_located: b.8,
                locate_broker: b.9,
                side: b.10,
                user_ref_idx: b.11,
            };
            all.restricted(set)
        })
    }
}

impl Options {
    /// The same options with everything outside `set` removed.
    pub fn restricted(&self, set: TagSet) -> Options {
        let keep = |tag| set.contains(tag);
        Options {
            secondary_ord_ref_num: self
                .secondary_ord_ref_num
                .filter(|_| keep(OptionTag::SecondaryOrdRefNum)),
            firm: self.firm.filter(|_| keep(OptionTag::Firm)),
            min_qty: self.min_qty.filter(|_| keep(OptionTag::MinQty)),
            customer_type: self.customer_type.filter(|_| keep(OptionTag::CustomerType)),
            max_floor: self.max_floor.filter(|_| keep(OptionTag::MaxFloor)),
            price_type: self.price_type.filter(|_| keep(OptionTag::PriceType)),
            peg_offset: self.peg_offset.filter(|_| keep(OptionTag::PegOffset)),
            discretion_price: self
                .discretion_price
                .filter(|_| keep(OptionTag::DiscretionPrice)),
            discretion_price_type: self
                .discretion_price_type
                .filter(|_| keep(OptionTag::DiscretionPriceType)),
            discretion_peg_offset: self
                .discretion_peg_offset
                .filter(|_| keep(OptionTag::DiscretionPegOffset)),
            post_only: self.post_only.filter(|_| keep(OptionTag::PostOnly)),
            random_reserves: self
                .random_reserves
                .filter(|_| keep(OptionTag::RandomReserves)),
            route: self.route.filter(|_| keep(OptionTag::Route)),
            expire_time_s: self.expire_time_s.filter(|_| keep(OptionTag::ExpireTime)),
            trade_now: self.trade_now.filter(|_| keep(OptionTag::TradeNow)),
            handle_inst: self.handle_inst.filter(|_| keep(OptionTag::HandleInst)),
            bbo_weight: self
                .bbo_weight
                .filter(|_| keep(OptionTag::BboWeightIndicator)),
            display_qty: self
                .display_qty
                .filter(|_| keep(OptionTag::DisplayQuantity)),
            display_price: self.display_price.filter(|_| keep(OptionTag::DisplayPrice)),
            group_id: self.group_id.filter(|_| keep(OptionTag::GroupId)),
            shares_located: self
                .shares_located
                .filter(|_| keep(OptionTag::SharesLocated)),
            locate_broker: self.locate_broker.filter(|_| keep(OptionTag::LocateBroker)),
            side: self.side.filter(|_| keep(OptionTag::Side)),
            user_ref_idx: self.user_ref_idx.filter(|_| keep(OptionTag::UserRefIdx)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL_TAGS: TagSet = TagSet(u32::MAX);

    #[test]
    fn elements_parse_and_unknown_tags_are_skipped() {
        // MinQty 100, an unknown tag 20 with 3 value bytes, PostOnly 'P', UserRefIdx 7.
        let bytes = [
            0, 17, 5, 3, 0, 0, 0, 100, 4, 20, 1, 2, 3, 2, 12, b'P', 2, 28, 7,
        ];
        let options = Options::parse(&bytes, false, ALL_TAGS, 0).unwrap();
        let expected = Options {
            min_qty: Some(100),
            post_only: Some(true),
            user_ref_idx: Some(7),
            ..Options::default()
        };
        assert_eq!(options, expected);
    }

    #[test]
    fn tags_outside_the_set_are_skipped_by_length() {
        let bytes = [0, 6, 5, 3, 0, 0, 0, 100];
        let set = TagSet::of(&[OptionTag::UserRefIdx]);
        assert_eq!(
            Options::parse(&bytes, false, set, 0),
            Ok(Options::default())
        );
    }

    #[test]
    fn malformed_appendages_are_typed_errors() {
        let parse = |bytes: &[u8]| Options::parse(bytes, false, ALL_TAGS, 10).map_err(|e| e.kind);
        assert_eq!(parse(&[]), Err(ErrorKind::Truncated));
        assert_eq!(parse(&[0, 3, 2, 28]), Err(ErrorKind::Truncated));
        assert_eq!(parse(&[0, 0, 9]), Err(ErrorKind::TrailingBytes));
        assert_eq!(parse(&[0, 1, 0]), Err(ErrorKind::BadElement { offset: 12 }));
        assert_eq!(
            parse(&[0, 2, 5, 3]),
            Err(ErrorKind::BadElement { offset: 12 })
        );
        assert_eq!(
            parse(&[0, 4, 3, 3, 0, 0]),
            Err(ErrorKind::OptionLength { tag: 3 })
        );
        assert_eq!(
            parse(&[0, 6, 2, 28, 1, 2, 28, 2]),
            Err(ErrorKind::DuplicateOption { tag: 28 })
        );
        assert_eq!(
            parse(&[0, 3, 2, 12, b'X']),
            Err(ErrorKind::InvalidOption { tag: 12 })
        );
        let side = Options::parse(&[0, 3, 2, 27, b'X'], false, ALL_TAGS, 0).unwrap_err();
        assert_eq!(side.reject, RejectCode::InvalidSide);
        assert_eq!(
            Options::parse(&[], true, ALL_TAGS, 0),
            Ok(Options::default())
        );
    }

    #[test]
    fn optional_appendage_is_omitted_when_empty() {
        let options = Options::default();
        assert_eq!(options.buffer_len(true, ALL_TAGS), 0);
        assert_eq!(options.buffer_len(false, ALL_TAGS), 2);
        let mut buffer = [0xa5u8; 4];
        assert_eq!(options.emit(false, ALL_TAGS, &mut buffer), 2);
        assert_eq!(buffer, [0, 0, 0xa5, 0xa5]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn options_round_trip(options in strategy::options(ALL_TAGS), optional in any::<bool>()) {
            let mut buffer = vec![0xa5u8; options.buffer_len(optional, ALL_TAGS)];
            let written = options.emit(optional, ALL_TAGS, &mut buffer);
            prop_assert_eq!(written, buffer.len());
            prop_assert_eq!(Options::parse(&buffer, optional, ALL_TAGS, 0), Ok(options));
            prop_assert_eq!(options.to_string().is_empty(), options.is_empty());
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let _ = Options::parse(&bytes, true, ALL_TAGS, 0);
        }
    }
}
