//! The normalized event both decoders emit, its 64-byte record (the layout the card writes into
//! the host's event ring), and the decoder counters.
//!
//! One [`FeedEvent`] per delivered ITCH message of the eleven offloaded types
//! ([`OFFLOAD_TYPES`]). Fields a type does not carry are zero. The record layout is written
//! once, in [`field`], and matches the RTL (`rtl/itch_decoder.v` header comment):
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..8 | `seq` | MoldUDP64 sequence number of the message |
//! | 8..16 | `order_ref` | A F E C X D P: order reference; U: original order reference |
//! | 16..24 | `ref2` | U: new order reference; E C P: match number |
//! | 24..32 | `stock` | A F P R H: stock symbol bytes as on the wire |
//! | 32..38 | `timestamp_ns` | 48 bits, nanoseconds since midnight |
//! | 38..40 | `stock_locate` | |
//! | 40..44 | `shares` | A F P U: shares; E C: executed; X: cancelled; R: round lot size |
//! | 44..48 | `price` | A F P U: price; C: execution price; R: ETP leverage factor |
//! | 48..50 | `tracking_number` | |
//! | 50 | `kind` | the ITCH type byte |
//! | 51 | `side` | A F P: `B` or `S` |
//! | 52 | `code` | S: event code; H: trading state; C: printable; R: market category |
//! | 53..64 | `detail` | F: attribution; H: reason; R: financial status, bytes 25..=33, inverse indicator |
//!
//! Integers are little-endian in the record (the host's byte order), big-endian on the wire.
//!
//! # Invariants
//! - `FeedEvent::from_record(&event.to_record()) == event` for every event with
//!   `timestamp_ns < 2^48` (every ITCH timestamp is below a day, `< 2^47`).
//! - [`FeedEvent::from_message`] returns `Some` exactly for the types in [`OFFLOAD_TYPES`].

use peregrine_feed::itch::{HeaderRepr, MessageRepr};

/// Bytes in one event record of the event ring.
pub const EVENT_RECORD_BYTES: usize = 64;

/// The ITCH message types the offload decodes, as type bytes. Any other type is counted as
/// unknown (`messages_unknown_type`) and produces no event.
pub const OFFLOAD_TYPES: [u8; 11] = *b"AFECXDUPSRH";

/// Record byte ranges, in record order.
pub mod field {
    use core::ops::Range;
    pub const SEQ: Range<usize> = 0..8;
    pub const ORDER_REF: Range<usize> = 8..16;
    pub const REF2: Range<usize> = 16..24;
    pub const STOCK: Range<usize> = 24..32;
    pub const TIMESTAMP: Range<usize> = 32..38;
    pub const STOCK_LOCATE: Range<usize> = 38..40;
    pub const SHARES: Range<usize> = 40..44;
    pub const PRICE: Range<usize> = 44..48;
    pub const TRACKING_NUMBER: Range<usize> = 48..50;
    pub const KIND: usize = 50;
    pub const SIDE: usize = 51;
    pub const CODE: usize = 52;
    pub const DETAIL: Range<usize> = 53..64;
}

const _: () = assert!(field::DETAIL.end == EVENT_RECORD_BYTES);
const _: () = assert!(field::DETAIL.end - field::DETAIL.start == DETAIL_BYTES);

/// Bytes of type-specific detail in a record.
pub const DETAIL_BYTES: usize = 11;

/// One decoded message, normalized to fixed width (see the module docs for each field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FeedEvent {
    pub seq: u64,
    pub order_ref: u64,
    pub ref2: u64,
    pub stock: [u8; 8],
    /// Nanoseconds since midnight (`< 2^48`).
    pub timestamp_ns: u64,
    pub stock_locate: u16,
    pub shares: u32,
    /// ITCH price units (1/10,000 of the currency unit, the engine's `Price` unit).
    pub price: u32,
    pub tracking_number: u16,
    pub kind: u8,
    pub side: u8,
    pub code: u8,
    pub detail: [u8; DETAIL_BYTES],
}

fn put(record: &mut [u8; EVENT_RECORD_BYTES], range: core::ops::Range<usize>, value: u64) {
    let len = range.len();
    record[range].copy_from_slice(&value.to_le_bytes()[..len]);
}

fn get(record: &[u8; EVENT_RECORD_BYTES], range: core::ops::Range<usize>) -> u64 {
    let mut raw = [0u8; 8];
    raw[..range.len()].copy_from_slice(&record[range]);
    u64::from_le_bytes(raw)
}

impl FeedEvent {
    /// The record the card writes for this event.
    pub fn to_record(&self) -> [u8; EVENT_RECORD_BYTES] {
        assert!(self.timestamp_ns < 1 << 48);
        let mut record = [0u8; EVENT_RECORD_BYTES];
        put(&mut record, field::SEQ, self.seq);
        put(&mut record, field::ORDER_REF, self.order_ref);
        put(&mut record, field::REF2, self.ref2);
        record[field::STOCK].copy_from_slice(&self.stock);
        put(&mut record, field::TIMESTAMP, self.timestamp_ns);
        put(
            &mut record,
            field::STOCK_LOCATE,
            u64::from(self.stock_locate),
        );
        put(&mut record, field::SHARES, u64::from(self.shares));
        put(&mut record, field::PRICE, u64::from(self.price));
        put(
            &mut record,
            field::TRACKING_NUMBER,
            u64::from(self.tracking_number),
        );
        record[field::KIND] = self.kind;
        record[field::SIDE] = self.side;
        record[field::CODE] = self.code;
        record[field::DETAIL].copy_from_slice(&self.detail);
        record
    }

    /// Reads a record (every bit pattern is a value; the narrowing casts keep exactly the
    /// bytes the field has).
    pub fn from_record(record: &[u8; EVENT_RECORD_BYTES]) -> FeedEvent {
        let mut stock = [0u8; 8];
        stock.copy_from_slice(&record[field::STOCK]);
        let mut detail = [0u8; DETAIL_BYTES];
        detail.copy_from_slice(&record[field::DETAIL]);
        FeedEvent {
            seq: get(record, field::SEQ),
            order_ref: get(record, field::ORDER_REF),
            ref2: get(record, field::REF2),
            stock,
            timestamp_ns: get(record, field::TIMESTAMP),
            stock_locate: get(record, field::STOCK_LOCATE) as u16,
            shares: get(record, field::SHARES) as u32,
            price: get(record, field::PRICE) as u32,
            tracking_number: get(record, field::TRACKING_NUMBER) as u16,
            kind: record[field::KIND],
            side: record[field::SIDE],
            code: record[field::CODE],
            detail,
        }
    }

    /// The normalized event of a parsed message, or `None` for a type outside
    /// [`OFFLOAD_TYPES`]. This is the software side of the normalization: it reads the
    /// validated `Repr` values, not the wire bytes.
    pub fn from_message(seq: u64, message: &MessageRepr) -> Option<FeedEvent> {
        let mut event = FeedEvent {
            seq,
            ..FeedEvent::default()
        };
        let (header, kind) = event.fill_body(message)?;
        event.kind = kind;
        event.stock_locate = header.stock_locate;
        event.tracking_number = header.tracking_number;
        event.timestamp_ns = header.timestamp_ns;
        Some(event)
    }

    /// Writes the type-specific fields; returns the header and the type byte, or `None` for a
    /// type outside [`OFFLOAD_TYPES`].
    fn fill_body(&mut self, message: &MessageRepr) -> Option<(HeaderRepr, u8)> {
        let event = self;
        let header = match message {
            MessageRepr::AddOrder(m) => {
                (event.order_ref, event.side, event.shares) =
                    (m.order.0, m.side.code(), m.shares.0);
                (event.stock, event.price) = (m.stock.bytes(), m.price.0);
                (m.header, b'A')
            }
            MessageRepr::AddOrderMpid(m) => {
                (event.order_ref, event.side, event.shares) =
                    (m.order.0, m.side.code(), m.shares.0);
                (event.stock, event.price) = (m.stock.bytes(), m.price.0);
                event.detail[..4].copy_from_slice(&m.attribution.bytes());
                (m.header, b'F')
            }
            MessageRepr::OrderExecuted(m) => {
                (event.order_ref, event.shares) = (m.order.0, m.executed_shares.0);
                event.ref2 = m.match_number.0;
                (m.header, b'E')
            }
            MessageRepr::OrderExecutedWithPrice(m) => {
                (event.order_ref, event.shares) = (m.order.0, m.executed_shares.0);
                (event.ref2, event.code) = (m.match_number.0, m.printable.code());
                event.price = m.execution_price.0;
                (m.header, b'C')
            }
            MessageRepr::OrderCancel(m) => {
                (event.order_ref, event.shares) = (m.order.0, m.cancelled_shares.0);
                (m.header, b'X')
            }
            MessageRepr::OrderDelete(m) => {
                event.order_ref = m.order.0;
                (m.header, b'D')
            }
            MessageRepr::OrderReplace(m) => {
                (event.order_ref, event.ref2) = (m.original_order.0, m.new_order.0);
                (event.shares, event.price) = (m.shares.0, m.price.0);
                (m.header, b'U')
            }
            MessageRepr::Trade(m) => {
                (event.order_ref, event.side, event.shares) =
                    (m.order.0, m.side.code(), m.shares.0);
                (event.stock, event.price) = (m.stock.bytes(), m.price.0);
                event.ref2 = m.match_number.0;
                (m.header, b'P')
            }
            MessageRepr::SystemEvent(m) => {
                event.code = m.event_code.code();
                (m.header, b'S')
            }
            MessageRepr::StockDirectory(m) => {
                (event.stock, event.code) = (m.stock.bytes(), m.market_category.code());
                (event.shares, event.price) = (m.round_lot_size, m.etp_leverage_factor);
                event.detail = stock_directory_detail(m);
                (m.header, b'R')
            }
            MessageRepr::TradingAction(m) => {
                (event.stock, event.code) = (m.stock.bytes(), m.trading_state.code());
                event.detail[..4].copy_from_slice(&m.reason.bytes());
                (m.header, b'H')
            }
            MessageRepr::RegSho(_)
            | MessageRepr::CrossTrade(_)
            | MessageRepr::BrokenTrade(_)
            | MessageRepr::Noii(_) => return None,
        };
        Some(header)
    }
}

fn stock_directory_detail(m: &peregrine_feed::itch::StockDirectoryRepr) -> [u8; DETAIL_BYTES] {
    let sub_type = m.issue_sub_type.bytes();
    [
        m.financial_status.code(),
        m.round_lots_only.code(),
        m.issue_classification.bytes()[0],
        sub_type[0],
        sub_type[1],
        m.authenticity.code(),
        m.short_sale_threshold.code(),
        m.ipo_flag.code(),
        m.luld_tier.code(),
        m.etp_flag.code(),
        m.inverse_indicator.code(),
    ]
}

/// Counters both decoders keep, in the order of the RTL's `counters` bus (index 0 first).
/// The card's counters are 32 bits wide and wrap; the host widens them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderCounters {
    pub packets: u64,
    /// Packets dropped whole (the sum of the seven reasons below).
    pub packets_dropped: u64,
    pub drop_header_truncated: u64,
    pub drop_bad_session: u64,
    pub drop_block_truncated: u64,
    pub drop_count_mismatch: u64,
    pub drop_payload_on_control: u64,
    pub drop_sequence_overflow: u64,
    pub drop_wrong_session: u64,
    pub packets_duplicate: u64,
    /// Packets that start beyond the expected sequence number (a gap).
    pub packets_ahead: u64,
    pub heartbeats: u64,
    pub end_of_session: u64,
    /// Messages delivered in sequence (events plus the three kinds of bad message).
    pub messages_delivered: u64,
    /// Messages skipped in packets that straddle the expected sequence number.
    pub messages_duplicate: u64,
    pub messages_unknown_type: u64,
    /// Blocks of an offloaded type whose length is not the type's length (or empty blocks).
    pub messages_bad_length: u64,
    /// Blocks of the right length with a value outside its set (timestamp, side, code, alpha).
    pub messages_bad_value: u64,
    pub events: u64,
}

/// Counters on the RTL's bus.
pub const COUNTER_COUNT: usize = 19;

impl DecoderCounters {
    /// From the card's counter words, in bus order.
    pub fn from_words(words: &[u32; COUNTER_COUNT]) -> DecoderCounters {
        let w = words.map(u64::from);
        DecoderCounters {
            packets: w[0],
            packets_dropped: w[1],
            drop_header_truncated: w[2],
            drop_bad_session: w[3],
            drop_block_truncated: w[4],
            drop_count_mismatch: w[5],
            drop_payload_on_control: w[6],
            drop_sequence_overflow: w[7],
            drop_wrong_session: w[8],
            packets_duplicate: w[9],
            packets_ahead: w[10],
            heartbeats: w[11],
            end_of_session: w[12],
            messages_delivered: w[13],
            messages_duplicate: w[14],
            messages_unknown_type: w[15],
            messages_bad_length: w[16],
            messages_bad_value: w[17],
            events: w[18],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_with_every_byte_distinct() {
        let event = FeedEvent {
            seq: 0x0102_0304_0506_0708,
            order_ref: 0x1112_1314_1516_1718,
            ref2: 0x2122_2324_2526_2728,
            stock: *b"ABCDEFGH",
            timestamp_ns: 0x3132_3334_3536,
            stock_locate: 0x4142,
            shares: 0x5152_5354,
            price: 0x6162_6364,
            tracking_number: 0x7172,
            kind: b'A',
            side: b'B',
            code: b'C',
            detail: *b"0123456789a",
        };
        let record = event.to_record();
        assert_eq!(record[0], 0x08, "little-endian seq");
        assert_eq!(&record[24..32], b"ABCDEFGH");
        assert_eq!(record[32], 0x36);
        assert_eq!(record[37], 0x31);
        assert_eq!(FeedEvent::from_record(&record), event);
    }
}
