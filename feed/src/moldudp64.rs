//! MoldUDP64: the packet framing of the market-data feed, and the [`Packetiser`] that fills
//! packets with ITCH messages.
//!
//! A downstream packet is a 20-byte header (session 10 ASCII, sequence number `u64` of its
//! first message, message count `u16`) followed by `count` message blocks, each a `u16` length
//! and that many bytes. Count 0 is a heartbeat and 0xFFFF the end of the session; both carry
//! the sequence number of the next message and no blocks. A request packet (subscriber to
//! re-request server) is the header alone: the first sequence number wanted and how many.
//!
//! # Invariants
//! - [`PacketRepr::parse`] accepts a packet only when its blocks tile the payload exactly and
//!   their number equals the header's count; control packets (heartbeat, end of session) carry
//!   no payload; `seq + count` does not overflow.
//! - The packetiser never writes past its configured packet size, numbers messages from its
//!   start sequence with no gap, and allocates nothing: it writes into the buffer it was given.
//! - After a [`Packetiser::flush`] the next packet starts at the sequence number after the last
//!   message flushed; a heartbeat or end-of-session carries that same number.
//!
//! # Panic contract
//! After `new_checked` succeeds no getter panics. Emission and the packetiser assert their own
//! bookkeeping (O(1) facts), never the input.

use core::fmt;

use crate::itch::{MessageRepr, MESSAGE_LEN_MAX};
use crate::wire::{Alpha, Field};

/// Bytes in a packet header (and in a whole request packet).
pub const HEADER_LEN: usize = 20;
/// Bytes in the length prefix of a message block.
pub const BLOCK_PREFIX_LEN: usize = 2;
/// Message count of a heartbeat.
pub const COUNT_HEARTBEAT: u16 = 0;
/// Message count of an end-of-session packet.
pub const COUNT_END_OF_SESSION: u16 = 0xFFFF;
/// Most messages one packet can carry (0xFFFF is reserved for end of session).
pub const MESSAGE_COUNT_MAX: u16 = 0xFFFE;
/// A common payload limit for one UDP datagram on a 1,500-byte MTU path.
pub const PACKET_BYTES_DEFAULT: usize = 1_400;
/// The smallest packet size a packetiser accepts: a header and one block of the longest
/// ITCH message.
pub const PACKET_BYTES_MIN: usize = HEADER_LEN + BLOCK_PREFIX_LEN + MESSAGE_LEN_MAX;

/// MoldUDP64 session name: 10 ASCII bytes, space-padded.
pub type Session = Alpha<10>;

mod field {
    pub const SESSION: usize = 0;
    pub const SEQ: usize = 10;
    pub const COUNT: usize = 18;
    pub const PAYLOAD: usize = 20;
}

const _: () = assert!(field::PAYLOAD == HEADER_LEN);
const _: () = assert!(MESSAGE_LEN_MAX <= u16::MAX as usize);
const _: () = assert!(crate::wire::layout_tiles(
    &[(0, 10), (10, 8), (18, 2)],
    0,
    HEADER_LEN
));

/// Why bytes are not a valid MoldUDP64 packet. Each is a reason to drop the whole packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// Shorter than the 20-byte header.
    HeaderTruncated,
    /// A request packet longer than its 20 bytes.
    RequestOverlong,
    /// The session name is not printable ASCII.
    BadSession,
    /// A block's length prefix, or its bytes, run past the end of the packet.
    BlockTruncated,
    /// The payload holds a different number of blocks than the header's count.
    CountMismatch,
    /// A heartbeat or end-of-session packet carries payload bytes.
    PayloadOnControl,
    /// `seq + count` overflows `u64`.
    SequenceOverflow,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            FrameError::HeaderTruncated => "shorter than the MoldUDP64 header",
            FrameError::RequestOverlong => "request packet longer than 20 bytes",
            FrameError::BadSession => "session name is not printable ASCII",
            FrameError::BlockTruncated => "message block runs past the end of the packet",
            FrameError::CountMismatch => "block count differs from the header's count",
            FrameError::PayloadOnControl => "heartbeat or end of session carries payload",
            FrameError::SequenceOverflow => "sequence number plus count overflows",
        };
        f.write_str(text)
    }
}

impl std::error::Error for FrameError {}

/// A downstream packet over a byte buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps untrusted bytes: checks only that the header is there.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(FrameError::HeaderTruncated);
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn session(&self) -> [u8; 10] {
        <[u8; 10]>::read(self.buffer.as_ref(), field::SESSION)
    }

    /// Sequence number of the first message (of the next one, for a control packet).
    pub fn seq(&self) -> u64 {
        u64::read(self.buffer.as_ref(), field::SEQ)
    }

    pub fn count(&self) -> u16 {
        u16::read(self.buffer.as_ref(), field::COUNT)
    }

    /// The bytes after the header: the message blocks.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }

    /// The message blocks, in order, without copying.
    pub fn blocks(&self) -> Blocks<'_> {
        Blocks {
            rest: self.payload(),
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_session(&mut self, session: [u8; 10]) {
        session.write(self.buffer.as_mut(), field::SESSION);
    }

    pub fn set_seq(&mut self, seq: u64) {
        seq.write(self.buffer.as_mut(), field::SEQ);
    }

    pub fn set_count(&mut self, count: u16) {
        count.write(self.buffer.as_mut(), field::COUNT);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// Iterator over the message blocks of a payload. Yields `Err(BlockTruncated)` once, then
/// stops, if a block runs past the end.
#[derive(Clone, Debug)]
pub struct Blocks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<&'a [u8], FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        if rest.len() < BLOCK_PREFIX_LEN {
            return Some(Err(FrameError::BlockTruncated));
        }
        let len = usize::from(u16::read(rest, 0));
        let Some(block) = rest.get(BLOCK_PREFIX_LEN..BLOCK_PREFIX_LEN + len) else {
            return Some(Err(FrameError::BlockTruncated));
        };
        self.rest = &rest[BLOCK_PREFIX_LEN + len..];
        Some(Ok(block))
    }
}

/// What a packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `count` message blocks, `1..=MESSAGE_COUNT_MAX`.
    Messages(u16),
    Heartbeat,
    EndOfSession,
}

impl PacketKind {
    pub const fn from_count(count: u16) -> PacketKind {
        match count {
            COUNT_HEARTBEAT => PacketKind::Heartbeat,
            COUNT_END_OF_SESSION => PacketKind::EndOfSession,
            count => PacketKind::Messages(count),
        }
    }

    pub const fn count(self) -> u16 {
        match self {
            PacketKind::Messages(count) => count,
            PacketKind::Heartbeat => COUNT_HEARTBEAT,
            PacketKind::EndOfSession => COUNT_END_OF_SESSION,
        }
    }

    /// Messages the packet carries (0 for control packets).
    pub const fn message_count(self) -> u16 {
        match self {
            PacketKind::Messages(count) => count,
            PacketKind::Heartbeat | PacketKind::EndOfSession => 0,
        }
    }
}

/// A validated packet header. The payload stays in the packet ([`Packet::blocks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketRepr {
    pub session: Session,
    /// Sequence number of the first message, or of the next message for a control packet.
    pub seq: u64,
    pub kind: PacketKind,
}

impl PacketRepr {
    /// Judges the header and the framing of every block (one walk over the payload).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<PacketRepr, FrameError> {
        let session = Session::new(packet.session()).ok_or(FrameError::BadSession)?;
        let seq = packet.seq();
        let kind = PacketKind::from_count(packet.count());
        if seq.checked_add(u64::from(kind.message_count())).is_none() {
            return Err(FrameError::SequenceOverflow);
        }
        match kind {
            PacketKind::Heartbeat | PacketKind::EndOfSession => {
                if !packet.payload().is_empty() {
                    return Err(FrameError::PayloadOnControl);
                }
            }
            PacketKind::Messages(count) => check_blocks(packet.blocks(), count)?,
        }
        Ok(PacketRepr { session, seq, kind })
    }

    /// Header bytes (the payload is written separately).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header; the caller has written the payload.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_session(self.session.bytes());
        packet.set_seq(self.seq);
        packet.set_count(self.kind.count());
    }

    /// Sequence number after this packet's messages.
    pub const fn end_seq(&self) -> u64 {
        self.seq + self.kind.message_count() as u64
    }
}

/// Walks the blocks: exactly `count` of them, tiling the payload.
fn check_blocks(blocks: Blocks<'_>, count: u16) -> Result<(), FrameError> {
    let mut seen: u32 = 0;
    for block in blocks {
        block?;
        seen += 1;
        if seen > u32::from(count) {
            return Err(FrameError::CountMismatch);
        }
    }
    if seen != u32::from(count) {
        return Err(FrameError::CountMismatch);
    }
    Ok(())
}

impl fmt::Display for PacketRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PacketKind::Messages(count) => {
                write!(
                    f,
                    "mold session={} seq={} count={count}",
                    self.session, self.seq
                )
            }
            PacketKind::Heartbeat => write!(
                f,
                "mold session={} seq={} heartbeat",
                self.session, self.seq
            ),
            PacketKind::EndOfSession => {
                write!(
                    f,
                    "mold session={} seq={} end-of-session",
                    self.session, self.seq
                )
            }
        }
    }
}

/// A request packet (subscriber to re-request server): exactly 20 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Request<T> {
    pub const LEN: usize = HEADER_LEN;

    pub const fn new_unchecked(buffer: T) -> Self {
        Request { buffer }
    }

    /// Wraps untrusted bytes: exactly the header's length.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(FrameError::HeaderTruncated);
        }
        if len > HEADER_LEN {
            return Err(FrameError::RequestOverlong);
        }
        Ok(Request { buffer })
    }

    pub fn session(&self) -> [u8; 10] {
        <[u8; 10]>::read(self.buffer.as_ref(), field::SESSION)
    }

    /// First sequence number wanted.
    pub fn seq(&self) -> u64 {
        u64::read(self.buffer.as_ref(), field::SEQ)
    }

    /// Messages wanted.
    pub fn count(&self) -> u16 {
        u16::read(self.buffer.as_ref(), field::COUNT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Request<T> {
    pub fn set_session(&mut self, session: [u8; 10]) {
        session.write(self.buffer.as_mut(), field::SESSION);
    }

    pub fn set_seq(&mut self, seq: u64) {
        seq.write(self.buffer.as_mut(), field::SEQ);
    }

    pub fn set_count(&mut self, count: u16) {
        count.write(self.buffer.as_mut(), field::COUNT);
    }
}

/// A validated re-request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestRepr {
    pub session: Session,
    /// First sequence number wanted.
    pub seq: u64,
    /// Messages wanted.
    pub count: u16,
}

impl RequestRepr {
    pub fn parse<T: AsRef<[u8]>>(request: &Request<T>) -> Result<RequestRepr, FrameError> {
        Ok(RequestRepr {
            session: Session::new(request.session()).ok_or(FrameError::BadSession)?,
            seq: request.seq(),
            count: request.count(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, request: &mut Request<T>) {
        request.set_session(self.session.bytes());
        request.set_seq(self.seq);
        request.set_count(self.count);
    }
}

impl fmt::Display for RequestRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mold request session={} seq={} count={}",
            self.session, self.seq, self.count
        )
    }
}

/// Why the packetiser did not take a message or build a control packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketiserError {
    /// The message does not fit in the pending packet: flush, then push again.
    Full,
    /// A heartbeat or end of session needs an empty packet: flush first.
    Pending,
    /// The session has ended; nothing more can be sent.
    Ended,
    /// Construction: the packet size is below [`PACKET_BYTES_MIN`] or above the buffer.
    PacketSize,
    /// Construction: sequence numbers start at 1.
    ZeroSeq,
}

impl fmt::Display for PacketiserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            PacketiserError::Full => "packet full",
            PacketiserError::Pending => "messages pending: flush first",
            PacketiserError::Ended => "session ended",
            PacketiserError::PacketSize => "packet size below the minimum or above the buffer",
            PacketiserError::ZeroSeq => "sequence numbers start at 1",
        };
        f.write_str(text)
    }
}

impl std::error::Error for PacketiserError {}

/// Fills MoldUDP64 packets with ITCH messages in a caller-provided buffer.
///
/// Drain order, per core batch: [`push`](Self::push) (or [`push_with`](Self::push_with))
/// each message, sending the packet [`flush`](Self::flush) returns whenever a push says
/// `Full`; at the end of the batch, `flush` and send. When idle, send a
/// [`heartbeat`](Self::heartbeat); at the end of the day, [`end_of_session`](Self::end_of_session).
///
/// The packet returned by `flush` and the control packets borrow the buffer: send it before the
/// next push.
#[derive(Debug)]
pub struct Packetiser<B: AsRef<[u8]> + AsMut<[u8]>> {
    buffer: B,
    session: Session,
    /// Largest packet, header included: `PACKET_BYTES_MIN..=buffer.len()`.
    packet_bytes_max: usize,
    /// Sequence number of the first pending message (the next message when none is pending).
    first_seq: u64,
    /// Messages in the pending packet: `0..=MESSAGE_COUNT_MAX`.
    pending_count: u16,
    /// Bytes of the pending packet, header included: `HEADER_LEN..=packet_bytes_max`.
    pending_bytes: usize,
    ended: bool,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Packetiser<B> {
    /// `next_seq` is the sequence number of the first message to send (1 at the start of a
    /// session); `packet_bytes_max` bounds every packet, header included.
    pub fn new(
        buffer: B,
        session: Session,
        next_seq: u64,
        packet_bytes_max: usize,
    ) -> Result<Self, PacketiserError> {
        if packet_bytes_max < PACKET_BYTES_MIN || packet_bytes_max > buffer.as_ref().len() {
            return Err(PacketiserError::PacketSize);
        }
        if next_seq == 0 {
            return Err(PacketiserError::ZeroSeq);
        }
        Ok(Packetiser {
            buffer,
            session,
            packet_bytes_max,
            first_seq: next_seq,
            pending_count: 0,
            pending_bytes: HEADER_LEN,
            ended: false,
        })
    }

    pub fn session(&self) -> Session {
        self.session
    }

    /// Sequence number the next pushed message will get.
    pub fn next_seq(&self) -> u64 {
        self.first_seq + u64::from(self.pending_count)
    }

    /// Messages waiting in the pending packet.
    pub fn pending_count(&self) -> u16 {
        self.pending_count
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Appends one message to the pending packet; returns its sequence number.
    pub fn push(&mut self, message: &MessageRepr) -> Result<u64, PacketiserError> {
        if self.ended {
            return Err(PacketiserError::Ended);
        }
        let message_len = message.buffer_len();
        let block_end = self.pending_bytes + BLOCK_PREFIX_LEN + message_len;
        if block_end > self.packet_bytes_max || self.pending_count == MESSAGE_COUNT_MAX {
            return Err(PacketiserError::Full);
        }
        assert!(message_len <= MESSAGE_LEN_MAX);
        let bytes = self.buffer.as_mut();
        // Lossless: at most MESSAGE_LEN_MAX, asserted above and below u16::MAX at compile time.
        (message_len as u16).write(bytes, self.pending_bytes);
        message.emit(&mut bytes[self.pending_bytes + BLOCK_PREFIX_LEN..block_end]);
        let seq = self.next_seq();
        self.pending_bytes = block_end;
        self.pending_count += 1;
        Ok(seq)
    }

    /// Pushes, first flushing a full packet into `send`.
    pub fn push_with(
        &mut self,
        message: &MessageRepr,
        send: &mut impl FnMut(&[u8]),
    ) -> Result<u64, PacketiserError> {
        match self.push(message) {
            Err(PacketiserError::Full) => {
                if let Some(packet) = self.flush() {
                    send(packet);
                }
                self.push(message)
            }
            other => other,
        }
    }

    /// Closes the pending packet and returns its bytes, or `None` when nothing is pending.
    pub fn flush(&mut self) -> Option<&[u8]> {
        if self.pending_count == 0 {
            return None;
        }
        let header = PacketRepr {
            session: self.session,
            seq: self.first_seq,
            kind: PacketKind::Messages(self.pending_count),
        };
        let len = self.pending_bytes;
        header.emit(&mut Packet::new_unchecked(&mut self.buffer.as_mut()[..len]));
        self.first_seq += u64::from(self.pending_count);
        self.pending_count = 0;
        self.pending_bytes = HEADER_LEN;
        Some(&self.buffer.as_ref()[..len])
    }

    /// A heartbeat carrying the next sequence number. Needs an empty pending packet.
    pub fn heartbeat(&mut self) -> Result<&[u8], PacketiserError> {
        self.control(PacketKind::Heartbeat)
    }

    /// The end-of-session packet; after it the packetiser takes nothing more. It may be
    /// repeated (subscribers may miss the first).
    pub fn end_of_session(&mut self) -> Result<&[u8], PacketiserError> {
        if self.pending_count != 0 {
            return Err(PacketiserError::Pending);
        }
        self.ended = true;
        self.control(PacketKind::EndOfSession)
    }

    fn control(&mut self, kind: PacketKind) -> Result<&[u8], PacketiserError> {
        if self.pending_count != 0 {
            return Err(PacketiserError::Pending);
        }
        if self.ended && kind == PacketKind::Heartbeat {
            return Err(PacketiserError::Ended);
        }
        let header = PacketRepr {
            session: self.session,
            seq: self.first_seq,
            kind,
        };
        header.emit(&mut Packet::new_unchecked(
            &mut self.buffer.as_mut()[..HEADER_LEN],
        ));
        Ok(&self.buffer.as_ref()[..HEADER_LEN])
    }
}

#[cfg(test)]
mod tests;
