//! A naive ITCH 5.0 encoder, the peer of `peregrine_feed::encoder`: what one writes first —
//! a fresh `Vec<u8>` per message, fields pushed one by one with `extend_from_slice`. It covers
//! the book-change messages the bench flows produce (Add Order `A` without attribution, Order
//! Executed `E`, Order Cancel `X`, Order Delete `D`, Order Replace `U`), laid out from the
//! public ITCH 5.0 specification, and returns `None` for every other event.
//!
//! The bench compares its bytes with the real encoder's on every message: equal work.
//!
//! # Invariants
//! - Output = header (type, stock locate = instrument index + 1, tracking number, 6-byte
//!   timestamp in ns since midnight) then the message body, all integers big-endian.

use peregrine_engine::{Event, InstrumentConfig, Side};

const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

pub struct NaiveEncoder {
    symbols: Vec<[u8; 8]>,
    tracking_number: u16,
}

impl NaiveEncoder {
    pub fn new(instruments: &[InstrumentConfig], tracking_number: u16) -> NaiveEncoder {
        NaiveEncoder {
            symbols: instruments.iter().map(|i| i.symbol).collect(),
            tracking_number,
        }
    }

    fn header(&self, type_byte: u8, instrument: u32, timestamp_ns: u64) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(type_byte);
        let locate = u16::try_from(instrument + 1).unwrap_or(u16::MAX);
        out.extend_from_slice(&locate.to_be_bytes());
        out.extend_from_slice(&self.tracking_number.to_be_bytes());
        let since_midnight_ns = timestamp_ns % NS_PER_DAY;
        out.extend_from_slice(&since_midnight_ns.to_be_bytes()[2..]);
        out
    }

    /// The message bytes for one event, or `None` when the naive encoder does not publish it.
    pub fn encode(&self, timestamp_ns: u64, event: &Event) -> Option<Vec<u8>> {
        match event {
            Event::BookAdd(add) => {
                let mut out = self.header(b'A', add.instrument.0, timestamp_ns);
                out.extend_from_slice(&add.order.0.to_be_bytes());
                out.push(match add.side {
                    Side::Buy => b'B',
                    Side::Sell => b'S',
                });
                out.extend_from_slice(&add.display_qty.0.to_be_bytes());
                out.extend_from_slice(self.symbols.get(add.instrument.0 as usize)?);
                out.extend_from_slice(&u32::try_from(add.price.0).ok()?.to_be_bytes());
                Some(out)
            }
            Event::Executed(executed) => {
                let mut out = self.header(b'E', executed.instrument.0, timestamp_ns);
                out.extend_from_slice(&executed.maker_order.0.to_be_bytes());
                out.extend_from_slice(&executed.qty.0.to_be_bytes());
                out.extend_from_slice(&executed.match_id.0.to_be_bytes());
                Some(out)
            }
            Event::BookReduce(reduce) => {
                let mut out = self.header(b'X', reduce.instrument.0, timestamp_ns);
                out.extend_from_slice(&reduce.order.0.to_be_bytes());
                out.extend_from_slice(&reduce.qty.0.to_be_bytes());
                Some(out)
            }
            Event::BookDelete(delete) => {
                let mut out = self.header(b'D', delete.instrument.0, timestamp_ns);
                out.extend_from_slice(&delete.order.0.to_be_bytes());
                Some(out)
            }
            Event::BookReplace(replace) => {
                let mut out = self.header(b'U', replace.instrument.0, timestamp_ns);
                out.extend_from_slice(&replace.old_order.0.to_be_bytes());
                out.extend_from_slice(&replace.new_order.0.to_be_bytes());
                out.extend_from_slice(&replace.display_qty.0.to_be_bytes());
                out.extend_from_slice(&u32::try_from(replace.price.0).ok()?.to_be_bytes());
                Some(out)
            }
            _ => None,
        }
    }
}
