//! Subscriber side of the feed, sans-IO: MoldUDP64 packets in, ITCH messages out in sequence
//! order, with gap detection.
//!
//! [`Subscriber::handle_packet`] takes one datagram's bytes. It judges the framing of the whole
//! packet first (a malformed packet is dropped whole, counted, and its typed reason returned),
//! then delivers each message it has not delivered before, in sequence order, without copying:
//! the raw message bytes borrow the packet. [`Subscriber::handle_packet_parsed`] parses each
//! message as well ([`MessageRepr`]); a message that does not parse is counted and skipped (its
//! sequence number is still consumed: a re-request would return the same bytes).
//!
//! **Gaps.** The subscriber delivers strictly in order and keeps no reorder buffer. A packet
//! that starts beyond the next expected sequence number is not delivered: the outstanding range
//! `[expected, newest end seen)` is reported ([`PacketOutcome::Gap`], [`Subscriber::gap`]) for
//! the caller to re-request ([`Subscriber::request`]). Answers to the re-request are ordinary
//! packets and fill the gap. A packet wholly before the expected number is a duplicate; one
//! that straddles it delivers only its new messages.
//!
//! # Invariants
//! - Messages are delivered with consecutive sequence numbers starting at the configured first
//!   sequence number; none twice, none skipped.
//! - A packet rejected for its framing or session changes nothing but the counters.
//! - `expected_seq <= newest_end_seq`; the gap, if any, is exactly the range between them.
//! - No allocation: packets are borrowed, state is a few integers.

use core::fmt;

use crate::itch::MessageRepr;
use crate::moldudp64::{FrameError, Packet, PacketKind, PacketRepr, RequestRepr, Session};
use crate::wire::Error;

/// A half-open range of sequence numbers `[first, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqRange {
    pub first: u64,
    pub end: u64,
}

impl SeqRange {
    /// Messages in the range.
    pub const fn count(&self) -> u64 {
        self.end - self.first
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.first, self.end)
    }
}

/// Why a packet was dropped whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Malformed framing.
    Frame(FrameError),
    /// A session other than the one this subscriber follows.
    WrongSession,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Frame(error) => write!(f, "malformed packet: {error}"),
            DropReason::WrongSession => write!(f, "packet of another session"),
        }
    }
}

/// What one packet did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketOutcome {
    /// New messages `[first, end)` were delivered (a straddling packet delivers only its tail).
    Delivered(SeqRange),
    /// Every message of the packet had been delivered already.
    Duplicate,
    /// A heartbeat that revealed no gap.
    Heartbeat,
    /// The end of the session, with nothing missing before it.
    EndOfSession,
    /// Messages are missing: this range must be re-requested. Nothing was delivered.
    Gap(SeqRange),
    /// The packet was dropped whole.
    Dropped(DropReason),
}

/// Counters, one per thing that can happen to a packet or message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubscriberCounters {
    pub packets: u64,
    pub packets_dropped: u64,
    pub packets_duplicate: u64,
    /// Packets not delivered because they start beyond the expected sequence number.
    pub packets_ahead: u64,
    pub heartbeats: u64,
    pub messages_delivered: u64,
    /// Messages skipped in packets that straddle the expected sequence number.
    pub messages_duplicate: u64,
    /// Delivered messages that did not parse as ITCH ([`Subscriber::handle_packet_parsed`]).
    pub messages_malformed: u64,
    /// Delivered messages of an ITCH type this crate does not decode.
    pub messages_unknown_type: u64,
}

/// Follows one MoldUDP64 session.
#[derive(Clone, Debug)]
pub struct Subscriber {
    /// `None` until the first well-formed packet names it (when not configured).
    session: Option<Session>,
    /// Next sequence number to deliver.
    expected_seq: u64,
    /// Highest `seq + count` (or control-packet seq) seen: `>= expected_seq`.
    newest_end_seq: u64,
    ended: bool,
    counters: SubscriberCounters,
    last_drop: Option<DropReason>,
    last_malformed: Option<(u64, Error)>,
}

impl Subscriber {
    /// Follows `session` (or the first one seen, when `None`) from `first_seq` (1 for a
    /// subscriber that joins at the start of the day; a snapshot's join sequence otherwise).
    pub fn new(session: Option<Session>, first_seq: u64) -> Subscriber {
        Subscriber {
            session,
            expected_seq: first_seq,
            newest_end_seq: first_seq,
            ended: false,
            counters: SubscriberCounters::default(),
            last_drop: None,
            last_malformed: None,
        }
    }

    pub fn session(&self) -> Option<Session> {
        self.session
    }

    /// Next sequence number to deliver.
    pub fn expected_seq(&self) -> u64 {
        self.expected_seq
    }

    /// Whether an end-of-session packet was seen.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub fn counters(&self) -> &SubscriberCounters {
        &self.counters
    }

    /// The reason the last dropped packet was dropped.
    pub fn last_drop(&self) -> Option<DropReason> {
        self.last_drop
    }

    /// Sequence number and reason of the last message that did not parse.
    pub fn last_malformed(&self) -> Option<(u64, Error)> {
        self.last_malformed
    }

    /// Messages known to exist and not yet delivered.
    pub fn gap(&self) -> Option<SeqRange> {
        (self.newest_end_seq > self.expected_seq).then_some(SeqRange {
            first: self.expected_seq,
            end: self.newest_end_seq,
        })
    }

    /// A re-request for the start of the gap, at most `count_max` messages.
    pub fn request(&self, count_max: u16) -> Option<RequestRepr> {
        let gap = self.gap()?;
        let session = self.session?;
        let count = u16::try_from(gap.count())
            .unwrap_or(u16::MAX)
            .min(count_max);
        Some(RequestRepr {
            session,
            seq: gap.first,
            count,
        })
    }

    /// Handles one packet, delivering each new message's sequence number and raw bytes.
    pub fn handle_packet(
        &mut self,
        bytes: &[u8],
        mut deliver: impl FnMut(u64, &[u8]),
    ) -> PacketOutcome {
        self.counters.packets += 1;
        let (packet, repr) = match self.judge(bytes) {
            Ok(judged) => judged,
            Err(reason) => {
                self.counters.packets_dropped += 1;
                self.last_drop = Some(reason);
                return PacketOutcome::Dropped(reason);
            }
        };
        let end_seq = repr.end_seq();
        self.newest_end_seq = self.newest_end_seq.max(end_seq);
        if let Some(gap) = self.gap().filter(|_| repr.seq > self.expected_seq) {
            self.counters.packets_ahead += 1;
            self.ended |= repr.kind == PacketKind::EndOfSession;
            return PacketOutcome::Gap(gap);
        }
        match repr.kind {
            PacketKind::Heartbeat => {
                self.counters.heartbeats += 1;
                PacketOutcome::Heartbeat
            }
            PacketKind::EndOfSession => {
                self.ended = true;
                PacketOutcome::EndOfSession
            }
            PacketKind::Messages(_) if end_seq <= self.expected_seq => {
                self.counters.packets_duplicate += 1;
                PacketOutcome::Duplicate
            }
            PacketKind::Messages(_) => self.deliver(&packet, repr.seq, &mut deliver),
        }
    }

    /// As [`handle_packet`](Self::handle_packet), parsing each message; messages that do not
    /// parse are counted and skipped.
    pub fn handle_packet_parsed(
        &mut self,
        bytes: &[u8],
        mut deliver: impl FnMut(u64, &MessageRepr),
    ) -> PacketOutcome {
        let (mut malformed, mut unknown, mut last) = (0u64, 0u64, None);
        let outcome = self.handle_packet(bytes, |seq, message| match MessageRepr::parse(message) {
            Ok(parsed) => deliver(seq, &parsed),
            Err(error) => {
                match error {
                    Error::UnknownType(_) => unknown += 1,
                    Error::Truncated
                    | Error::Overlong
                    | Error::WrongType(_)
                    | Error::BadValue(_) => malformed += 1,
                }
                last = Some((seq, error));
            }
        });
        self.counters.messages_malformed += malformed;
        self.counters.messages_unknown_type += unknown;
        if last.is_some() {
            self.last_malformed = last;
        }
        outcome
    }

    /// Framing and session checks: the whole packet or nothing.
    fn judge<'a>(&mut self, bytes: &'a [u8]) -> Result<(Packet<&'a [u8]>, PacketRepr), DropReason> {
        let packet = Packet::new_checked(bytes).map_err(DropReason::Frame)?;
        let repr = PacketRepr::parse(&packet).map_err(DropReason::Frame)?;
        match self.session {
            Some(session) if session != repr.session => return Err(DropReason::WrongSession),
            Some(_) => {}
            None => self.session = Some(repr.session),
        }
        Ok((packet, repr))
    }

    /// Delivers the messages of a judged packet from `expected_seq` on.
    fn deliver(
        &mut self,
        packet: &Packet<&[u8]>,
        first_seq: u64,
        deliver: &mut impl FnMut(u64, &[u8]),
    ) -> PacketOutcome {
        assert!(first_seq <= self.expected_seq);
        let first_new = self.expected_seq;
        let mut seq = first_seq;
        for block in packet.blocks() {
            // Framing was judged whole in `judge`; a bad block here is impossible.
            let Ok(message) = block else {
                unreachable!("blocks were checked by PacketRepr::parse");
            };
            if seq >= first_new {
                deliver(seq, message);
                self.counters.messages_delivered += 1;
            } else {
                self.counters.messages_duplicate += 1;
            }
            seq += 1;
        }
        assert!(seq > first_new);
        self.expected_seq = seq;
        PacketOutcome::Delivered(SeqRange {
            first: first_new,
            end: seq,
        })
    }
}

#[cfg(test)]
mod tests;
