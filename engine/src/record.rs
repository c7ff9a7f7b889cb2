//! Byte layouts of the sequenced records: [`Command`] in [`COMMAND_BYTES`] and [`Event`] in
//! [`EVENT_BYTES`], little-endian, fixed-size, every byte written (unused tail bytes are zero).
//!
//! These are the engine's own record formats (journal payloads, digests, ring slots), not a
//! wire protocol: wire codecs live in `gateway/` and `feed/`.
//!
//! # Invariants
//! - `decode_command(&encode_command(c)) == Ok(c)` for every command, and the same for events.
//! - Encoding is a pure function of the value: the same command gives the same bytes on every
//!   host, which is what makes journal digests portable.
//! - Decoding never panics: a short buffer, an unknown type byte or an unknown code is a
//!   [`RecordError`].

use crate::command::{
    CancelOrder, Command, CommandKind, MassCancel, NewOrder, ReduceOrder, ReplaceOrder, RiskLimit,
    SetRiskLimit,
};
use crate::event::{
    Accepted, AuctionFill, AuctionIndicative, AuctionUncrossed, BookAdd, BookDelete, BookReduce,
    BookReplace, CancelReason, Cancelled, ControlAck, Event, EventKind, Executed, ImbalanceSide,
    MassCancelled, RejectReason, Rejected, Replaced, RestateReason, Restated,
};
use crate::types::{
    AccountId, InstrumentId, MatchId, OrderId, OrderType, Price, Qty, SessionId, Side, StpMode,
    TimeInForce, TradingStatus,
};

/// Encoded size of a command. Byte 0 is its [`CommandKind`].
pub const COMMAND_BYTES: usize = 64;
/// Encoded size of an event. Byte 0 is its [`EventKind`].
pub const EVENT_BYTES: usize = 80;

/// Why bytes are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than the record size.
    Short,
    /// Byte 0 is not a known kind.
    UnknownKind(u8),
    /// A coded field holds a byte outside its set (offset of the field).
    BadCode(usize),
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RecordError::Short => write!(f, "record shorter than its fixed size"),
            RecordError::UnknownKind(kind) => write!(f, "unknown record kind {kind}"),
            RecordError::BadCode(offset) => write!(f, "invalid code at byte {offset}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// Sequential little-endian writer over a fixed buffer. Callers write at most the record size.
struct Writer<'a> {
    bytes: &'a mut [u8],
    offset: usize,
}

impl Writer<'_> {
    fn put(&mut self, value: &[u8]) {
        self.bytes[self.offset..self.offset + value.len()].copy_from_slice(value);
        self.offset += value.len();
    }
    fn u8(&mut self, value: u8) {
        self.put(&[value]);
    }
    fn u32(&mut self, value: u32) {
        self.put(&value.to_le_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.put(&value.to_le_bytes());
    }
    fn i64(&mut self, value: i64) {
        self.put(&value.to_le_bytes());
    }
    fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }
    /// `None` as a 0 flag byte and a zero id, `Some` as 1 and the id.
    fn option_u32(&mut self, value: Option<u32>) {
        self.bool(value.is_some());
        self.u32(value.unwrap_or(0));
    }
}

/// Sequential little-endian reader; the caller has checked the buffer holds a whole record.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.offset..self.offset + N]);
        self.offset += N;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    fn bool(&mut self) -> Result<bool, RecordError> {
        let at = self.offset;
        match self.u8() {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RecordError::BadCode(at)),
        }
    }
    fn option_u32(&mut self) -> Result<Option<u32>, RecordError> {
        let present = self.bool()?;
        let value = self.u32();
        Ok(present.then_some(value))
    }
    /// Reads one code byte and maps it through `from_code`.
    fn code<T>(&mut self, from_code: fn(u8) -> Option<T>) -> Result<T, RecordError> {
        let at = self.offset;
        from_code(self.u8()).ok_or(RecordError::BadCode(at))
    }
}

/// Writes `command` into `out`; every byte of `out` is written.
pub fn encode_command(command: &Command, out: &mut [u8; COMMAND_BYTES]) {
    out.fill(0);
    let mut w = Writer {
        bytes: out,
        offset: 0,
    };
    w.u8(command.kind().code());
    match command {
        Command::NewOrder(o) => {
            w.u32(o.account.0);
            w.u32(o.session.0);
            w.u64(o.client_ref);
            w.u32(o.instrument.0);
            w.u8(o.side.code());
            w.u8(o.order_type.code());
            w.u8(o.time_in_force.code());
            w.i64(o.price.0);
            w.u32(o.qty.0);
            w.u32(o.display_qty.0);
            w.u32(o.min_qty.0);
            w.bool(o.post_only);
            w.u8(o.stp.code());
        }
        Command::Cancel(c) => {
            w.u32(c.account.0);
            w.u32(c.session.0);
            w.u64(c.client_ref);
            w.u64(c.order.0);
        }
        Command::Reduce(r) => {
            w.u32(r.account.0);
            w.u32(r.session.0);
            w.u64(r.client_ref);
            w.u64(r.order.0);
            w.u32(r.leaves_qty.0);
        }
        Command::Replace(r) => {
            w.u32(r.account.0);
            w.u32(r.session.0);
            w.u64(r.client_ref);
            w.u64(r.order.0);
            w.i64(r.price.0);
            w.u32(r.qty.0);
            w.u32(r.display_qty.0);
        }
        Command::MassCancel(m) => {
            w.option_u32(m.account.map(|a| a.0));
            w.option_u32(m.instrument.map(|i| i.0));
            w.u32(m.session.0);
            w.u64(m.client_ref);
        }
        Command::SetTradingStatus { instrument, status } => {
            w.u32(instrument.0);
            w.u8(status.code());
        }
        Command::EndOfDay => {}
        Command::SetRiskLimit(s) => {
            w.u32(s.account.0);
            w.option_u32(s.instrument.map(|i| i.0));
            w.u8(s.limit.code());
            w.i64(s.value);
        }
        Command::BlockAccount { account } | Command::UnblockAccount { account } => {
            w.u32(account.0);
        }
        Command::SetReferencePrice { instrument, price } => {
            w.u32(instrument.0);
            w.i64(price.0);
        }
        Command::SessionLost { account, session } => {
            w.u32(account.0);
            w.u32(session.0);
        }
    }
    debug_assert!(w.offset <= COMMAND_BYTES);
}

/// Reads a command from the first [`COMMAND_BYTES`] of `bytes`.
pub fn decode_command(bytes: &[u8]) -> Result<Command, RecordError> {
    if bytes.len() < COMMAND_BYTES {
        return Err(RecordError::Short);
    }
    let mut r = Reader {
        bytes: &bytes[..COMMAND_BYTES],
        offset: 0,
    };
    let kind_byte = r.u8();
    let kind = CommandKind::from_code(kind_byte).ok_or(RecordError::UnknownKind(kind_byte))?;
    let command = match kind {
        CommandKind::NewOrder => Command::NewOrder(NewOrder {
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            instrument: InstrumentId(r.u32()),
            side: r.code(Side::from_code)?,
            order_type: r.code(OrderType::from_code)?,
            time_in_force: r.code(TimeInForce::from_code)?,
            price: Price(r.i64()),
            qty: Qty(r.u32()),
            display_qty: Qty(r.u32()),
            min_qty: Qty(r.u32()),
            post_only: r.bool()?,
            stp: r.code(StpMode::from_code)?,
        }),
        CommandKind::Cancel => Command::Cancel(CancelOrder {
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            order: OrderId(r.u64()),
        }),
        CommandKind::Reduce => Command::Reduce(ReduceOrder {
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            order: OrderId(r.u64()),
            leaves_qty: Qty(r.u32()),
        }),
        CommandKind::Replace => Command::Replace(ReplaceOrder {
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            order: OrderId(r.u64()),
            price: Price(r.i64()),
            qty: Qty(r.u32()),
            display_qty: Qty(r.u32()),
        }),
        CommandKind::MassCancel => Command::MassCancel(MassCancel {
            account: r.option_u32()?.map(AccountId),
            instrument: r.option_u32()?.map(InstrumentId),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
        }),
        CommandKind::SetTradingStatus => Command::SetTradingStatus {
            instrument: InstrumentId(r.u32()),
            status: r.code(TradingStatus::from_code)?,
        },
        CommandKind::EndOfDay => Command::EndOfDay,
        CommandKind::SetRiskLimit => Command::SetRiskLimit(SetRiskLimit {
            account: AccountId(r.u32()),
            instrument: r.option_u32()?.map(InstrumentId),
            limit: r.code(RiskLimit::from_code)?,
            value: r.i64(),
        }),
        CommandKind::BlockAccount => Command::BlockAccount {
            account: AccountId(r.u32()),
        },
        CommandKind::UnblockAccount => Command::UnblockAccount {
            account: AccountId(r.u32()),
        },
        CommandKind::SetReferencePrice => Command::SetReferencePrice {
            instrument: InstrumentId(r.u32()),
            price: Price(r.i64()),
        },
        CommandKind::SessionLost => Command::SessionLost {
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
        },
    };
    Ok(command)
}

/// Writes `event` into `out`; every byte of `out` is written.
pub fn encode_event(event: &Event, out: &mut [u8; EVENT_BYTES]) {
    out.fill(0);
    let mut w = Writer {
        bytes: out,
        offset: 0,
    };
    w.u8(event.kind().code());
    match event {
        Event::Accepted(a) => {
            w.u64(a.order.0);
            w.u32(a.account.0);
            w.u32(a.session.0);
            w.u64(a.client_ref);
            w.u32(a.instrument.0);
            w.u8(a.side.code());
            w.u8(a.order_type.code());
            w.u8(a.time_in_force.code());
            w.i64(a.price.0);
            w.u32(a.qty.0);
            w.u32(a.display_qty.0);
        }
        Event::Rejected(r) => {
            w.u32(r.account.0);
            w.u32(r.session.0);
            w.u64(r.client_ref);
            w.u32(r.instrument.0);
            w.u64(r.order.0);
            w.u8(r.command.code());
            w.u8(r.reason.code());
        }
        Event::Executed(e) => {
            w.u64(e.match_id.0);
            w.u32(e.instrument.0);
            w.i64(e.price.0);
            w.u32(e.qty.0);
            w.u8(e.taker_side.code());
            w.u64(e.maker_order.0);
            w.u32(e.maker_account.0);
            w.u32(e.maker_session.0);
            w.u32(e.maker_leaves.0);
            w.u64(e.taker_order.0);
            w.u32(e.taker_account.0);
            w.u32(e.taker_session.0);
            w.u32(e.taker_leaves.0);
        }
        Event::Cancelled(c) => {
            w.u64(c.order.0);
            w.u32(c.account.0);
            w.u32(c.session.0);
            w.u32(c.instrument.0);
            w.u8(c.side.code());
            w.i64(c.price.0);
            w.u32(c.cancelled_qty.0);
            w.u32(c.leaves.0);
            w.u8(c.reason.code());
        }
        Event::Replaced(r) => {
            w.u64(r.old_order.0);
            w.u64(r.new_order.0);
            w.u32(r.account.0);
            w.u32(r.session.0);
            w.u64(r.client_ref);
            w.u32(r.instrument.0);
            w.u8(r.side.code());
            w.i64(r.price.0);
            w.u32(r.qty.0);
            w.u32(r.display_qty.0);
            w.bool(r.priority_kept);
        }
        Event::Restated(r) => {
            w.u64(r.order.0);
            w.u32(r.account.0);
            w.u32(r.session.0);
            w.u32(r.instrument.0);
            w.u32(r.display_qty.0);
            w.u32(r.leaves.0);
            w.u8(r.reason.code());
        }
        Event::MassCancelled(m) => {
            w.option_u32(m.account.map(|a| a.0));
            w.option_u32(m.instrument.map(|i| i.0));
            w.u32(m.session.0);
            w.u64(m.client_ref);
            w.u32(m.cancelled_count);
        }
        Event::ControlAck(c) => {
            w.u8(c.command.code());
            w.u32(c.account.0);
            w.u32(c.instrument.0);
            w.i64(c.value);
        }
        Event::TradingStatus { instrument, status } => {
            w.u32(instrument.0);
            w.u8(status.code());
        }
        Event::BookAdd(b) => {
            w.u64(b.order.0);
            w.u32(b.instrument.0);
            w.u32(b.account.0);
            w.u8(b.side.code());
            w.i64(b.price.0);
            w.u32(b.display_qty.0);
        }
        Event::BookReduce(b) => {
            w.u64(b.order.0);
            w.u32(b.instrument.0);
            w.u32(b.qty.0);
        }
        Event::BookDelete(b) => {
            w.u64(b.order.0);
            w.u32(b.instrument.0);
        }
        Event::BookReplace(b) => {
            w.u64(b.old_order.0);
            w.u64(b.new_order.0);
            w.u32(b.instrument.0);
            w.i64(b.price.0);
            w.u32(b.display_qty.0);
        }
        Event::AuctionFill(f) => {
            w.u64(f.match_id.0);
            w.u32(f.instrument.0);
            w.i64(f.price.0);
            w.u32(f.qty.0);
            w.u8(f.side.code());
            w.u64(f.order.0);
            w.u32(f.account.0);
            w.u32(f.session.0);
            w.i64(f.order_price.0);
            w.u32(f.leaves.0);
            w.u64(f.contra_order.0);
            w.u8(f.phase.code());
        }
        Event::AuctionUncrossed(u) => {
            w.u64(u.match_id.0);
            w.u32(u.instrument.0);
            w.i64(u.price.0);
            w.u64(u.qty);
            w.u8(u.phase.code());
        }
        Event::AuctionIndicative(i) => {
            w.u32(i.instrument.0);
            w.u8(i.phase.code());
            w.i64(i.price.0);
            w.u64(i.paired_qty);
            w.u64(i.imbalance_qty);
            w.u8(i.imbalance_side.code());
            w.i64(i.reference_price.0);
        }
    }
    debug_assert!(w.offset <= EVENT_BYTES);
}

/// Reads an event from the first [`EVENT_BYTES`] of `bytes`.
pub fn decode_event(bytes: &[u8]) -> Result<Event, RecordError> {
    if bytes.len() < EVENT_BYTES {
        return Err(RecordError::Short);
    }
    let mut r = Reader {
        bytes: &bytes[..EVENT_BYTES],
        offset: 0,
    };
    let kind_byte = r.u8();
    let kind = EventKind::from_code(kind_byte).ok_or(RecordError::UnknownKind(kind_byte))?;
    let event = match kind {
        EventKind::Accepted => Event::Accepted(Accepted {
            order: OrderId(r.u64()),
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            instrument: InstrumentId(r.u32()),
            side: r.code(Side::from_code)?,
            order_type: r.code(OrderType::from_code)?,
            time_in_force: r.code(TimeInForce::from_code)?,
            price: Price(r.i64()),
            qty: Qty(r.u32()),
            display_qty: Qty(r.u32()),
        }),
        EventKind::Rejected => Event::Rejected(Rejected {
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            instrument: InstrumentId(r.u32()),
            order: OrderId(r.u64()),
            command: r.code(CommandKind::from_code)?,
            reason: r.code(RejectReason::from_code)?,
        }),
        EventKind::Executed => Event::Executed(Executed {
            match_id: MatchId(r.u64()),
            instrument: InstrumentId(r.u32()),
            price: Price(r.i64()),
            qty: Qty(r.u32()),
            taker_side: r.code(Side::from_code)?,
            maker_order: OrderId(r.u64()),
            maker_account: AccountId(r.u32()),
            maker_session: SessionId(r.u32()),
            maker_leaves: Qty(r.u32()),
            taker_order: OrderId(r.u64()),
            taker_account: AccountId(r.u32()),
            taker_session: SessionId(r.u32()),
            taker_leaves: Qty(r.u32()),
        }),
        EventKind::Cancelled => Event::Cancelled(Cancelled {
            order: OrderId(r.u64()),
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            instrument: InstrumentId(r.u32()),
            side: r.code(Side::from_code)?,
            price: Price(r.i64()),
            cancelled_qty: Qty(r.u32()),
            leaves: Qty(r.u32()),
            reason: r.code(CancelReason::from_code)?,
        }),
        EventKind::Replaced => Event::Replaced(Replaced {
            old_order: OrderId(r.u64()),
            new_order: OrderId(r.u64()),
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            instrument: InstrumentId(r.u32()),
            side: r.code(Side::from_code)?,
            price: Price(r.i64()),
            qty: Qty(r.u32()),
            display_qty: Qty(r.u32()),
            priority_kept: r.bool()?,
        }),
        EventKind::Restated => Event::Restated(Restated {
            order: OrderId(r.u64()),
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            instrument: InstrumentId(r.u32()),
            display_qty: Qty(r.u32()),
            leaves: Qty(r.u32()),
            reason: r.code(RestateReason::from_code)?,
        }),
        EventKind::MassCancelled => Event::MassCancelled(MassCancelled {
            account: r.option_u32()?.map(AccountId),
            instrument: r.option_u32()?.map(InstrumentId),
            session: SessionId(r.u32()),
            client_ref: r.u64(),
            cancelled_count: r.u32(),
        }),
        EventKind::ControlAck => Event::ControlAck(ControlAck {
            command: r.code(CommandKind::from_code)?,
            account: AccountId(r.u32()),
            instrument: InstrumentId(r.u32()),
            value: r.i64(),
        }),
        EventKind::TradingStatus => Event::TradingStatus {
            instrument: InstrumentId(r.u32()),
            status: r.code(TradingStatus::from_code)?,
        },
        EventKind::BookAdd => Event::BookAdd(BookAdd {
            order: OrderId(r.u64()),
            instrument: InstrumentId(r.u32()),
            account: AccountId(r.u32()),
            side: r.code(Side::from_code)?,
            price: Price(r.i64()),
            display_qty: Qty(r.u32()),
        }),
        EventKind::BookReduce => Event::BookReduce(BookReduce {
            order: OrderId(r.u64()),
            instrument: InstrumentId(r.u32()),
            qty: Qty(r.u32()),
        }),
        EventKind::BookDelete => Event::BookDelete(BookDelete {
            order: OrderId(r.u64()),
            instrument: InstrumentId(r.u32()),
        }),
        EventKind::BookReplace => Event::BookReplace(BookReplace {
            old_order: OrderId(r.u64()),
            new_order: OrderId(r.u64()),
            instrument: InstrumentId(r.u32()),
            price: Price(r.i64()),
            display_qty: Qty(r.u32()),
        }),
        EventKind::AuctionFill => Event::AuctionFill(AuctionFill {
            match_id: MatchId(r.u64()),
            instrument: InstrumentId(r.u32()),
            price: Price(r.i64()),
            qty: Qty(r.u32()),
            side: r.code(Side::from_code)?,
            order: OrderId(r.u64()),
            account: AccountId(r.u32()),
            session: SessionId(r.u32()),
            order_price: Price(r.i64()),
            leaves: Qty(r.u32()),
            contra_order: OrderId(r.u64()),
            phase: r.code(TradingStatus::from_code)?,
        }),
        EventKind::AuctionUncrossed => Event::AuctionUncrossed(AuctionUncrossed {
            match_id: MatchId(r.u64()),
            instrument: InstrumentId(r.u32()),
            price: Price(r.i64()),
            qty: r.u64(),
            phase: r.code(TradingStatus::from_code)?,
        }),
        EventKind::AuctionIndicative => Event::AuctionIndicative(AuctionIndicative {
            instrument: InstrumentId(r.u32()),
            phase: r.code(TradingStatus::from_code)?,
            price: Price(r.i64()),
            paired_qty: r.u64(),
            imbalance_qty: r.u64(),
            imbalance_side: r.code(ImbalanceSide::from_code)?,
            reference_price: Price(r.i64()),
        }),
    };
    Ok(event)
}

/// A 64-bit FNV-1a digest over encoded events, for "same input ⇒ same output bytes" checks in
/// tests and tools. Stable across hosts and Rust versions (unlike `DefaultHasher`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventDigest {
    pub state: u64,
    pub event_count: u64,
}

impl Default for EventDigest {
    fn default() -> Self {
        EventDigest {
            state: 0xcbf2_9ce4_8422_2325,
            event_count: 0,
        }
    }
}

impl EventDigest {
    pub fn add(&mut self, event: &Event) {
        let mut bytes = [0u8; EVENT_BYTES];
        encode_event(event, &mut bytes);
        for byte in bytes {
            self.state ^= u64::from(byte);
            self.state = self.state.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.event_count += 1;
    }
}

impl crate::event::EventSink for EventDigest {
    fn push(&mut self, event: Event) {
        self.add(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_unknown_records_are_errors() {
        assert_eq!(decode_command(&[1u8; 10]), Err(RecordError::Short));
        assert_eq!(
            decode_command(&[0u8; COMMAND_BYTES]),
            Err(RecordError::UnknownKind(0))
        );
        assert_eq!(
            decode_event(&[200u8; EVENT_BYTES]),
            Err(RecordError::UnknownKind(200))
        );
        let mut bytes = [0u8; COMMAND_BYTES];
        encode_command(
            &Command::SetTradingStatus {
                instrument: InstrumentId(3),
                status: TradingStatus::Halted,
            },
            &mut bytes,
        );
        bytes[5] = b'?';
        assert_eq!(decode_command(&bytes), Err(RecordError::BadCode(5)));
    }

    #[test]
    fn every_command_kind_round_trips() {
        let new_order = NewOrder {
            account: AccountId(7),
            session: SessionId(9),
            client_ref: u64::MAX,
            instrument: InstrumentId(2),
            side: Side::Sell,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Gtc,
            price: Price(-5),
            qty: Qty(u32::MAX),
            display_qty: Qty(10),
            min_qty: Qty(3),
            post_only: true,
            stp: StpMode::Decrement,
        };
        let commands = [
            Command::NewOrder(new_order),
            Command::Cancel(CancelOrder {
                account: AccountId(1),
                session: SessionId(2),
                client_ref: 3,
                order: OrderId(4),
            }),
            Command::Reduce(ReduceOrder {
                account: AccountId(1),
                session: SessionId(2),
                client_ref: 3,
                order: OrderId(4),
                leaves_qty: Qty(5),
            }),
            Command::Replace(ReplaceOrder {
                account: AccountId(1),
                session: SessionId(2),
                client_ref: 3,
                order: OrderId(4),
                price: Price(6),
                qty: Qty(7),
                display_qty: Qty(8),
            }),
            Command::MassCancel(MassCancel {
                account: Some(AccountId(0)),
                instrument: None,
                session: SessionId(1),
                client_ref: 2,
            }),
            Command::SetTradingStatus {
                instrument: InstrumentId(1),
                status: TradingStatus::Halted,
            },
            Command::EndOfDay,
            Command::SetRiskLimit(SetRiskLimit {
                account: AccountId(1),
                instrument: Some(InstrumentId(2)),
                limit: RiskLimit::PriceCollarBps,
                value: i64::MIN,
            }),
            Command::BlockAccount {
                account: AccountId(5),
            },
            Command::UnblockAccount {
                account: AccountId(5),
            },
            Command::SetReferencePrice {
                instrument: InstrumentId(1),
                price: Price(100),
            },
            Command::SessionLost {
                account: AccountId(1),
                session: SessionId(8),
            },
        ];
        assert_eq!(commands.len(), CommandKind::ALL.len());
        for &status in TradingStatus::ALL {
            let command = Command::SetTradingStatus {
                instrument: InstrumentId(u32::MAX),
                status,
            };
            let mut bytes = [0xa5u8; COMMAND_BYTES];
            encode_command(&command, &mut bytes);
            assert_eq!(decode_command(&bytes), Ok(command));
        }
        for command in commands {
            let mut bytes = [0xa5u8; COMMAND_BYTES];
            encode_command(&command, &mut bytes);
            assert_eq!(decode_command(&bytes), Ok(command));
        }
    }

    #[test]
    fn auction_events_round_trip_and_bad_codes_are_errors() {
        let fill = AuctionFill {
            match_id: MatchId(u64::MAX),
            instrument: InstrumentId(u32::MAX),
            price: Price(i64::MIN),
            qty: Qty(u32::MAX),
            side: Side::Sell,
            order: OrderId(7),
            account: AccountId(8),
            session: SessionId(9),
            order_price: Price(i64::MAX),
            leaves: Qty(3),
            contra_order: OrderId(u64::MAX),
            phase: TradingStatus::BatchAuction,
        };
        let mut events = vec![Event::AuctionFill(fill)];
        for &phase in TradingStatus::ALL {
            events.push(Event::AuctionUncrossed(AuctionUncrossed {
                match_id: MatchId(1),
                instrument: InstrumentId(2),
                price: Price(3),
                qty: u64::MAX,
                phase,
            }));
            events.push(Event::TradingStatus {
                instrument: InstrumentId(4),
                status: phase,
            });
        }
        for &imbalance_side in ImbalanceSide::ALL {
            events.push(Event::AuctionIndicative(AuctionIndicative {
                instrument: InstrumentId(5),
                phase: TradingStatus::ClosingAuction,
                price: Price(-1),
                paired_qty: u64::MAX,
                imbalance_qty: 6,
                imbalance_side,
                reference_price: Price(i64::MAX),
            }));
        }
        for event in events {
            let mut bytes = [0xa5u8; EVENT_BYTES];
            encode_event(&event, &mut bytes);
            assert_eq!(decode_event(&bytes), Ok(event));
        }
        let mut bytes = [0u8; EVENT_BYTES];
        encode_event(&Event::AuctionFill(fill), &mut bytes);
        // Byte 25 is the side code: kind 1 + match 8 + instrument 4 + price 8 + qty 4.
        assert_eq!(bytes[25], b'S');
        bytes[25] = b'?';
        assert_eq!(decode_event(&bytes), Err(RecordError::BadCode(25)));
    }
}
