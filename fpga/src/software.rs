//! The software decoder: `peregrine_feed`'s [`Subscriber`] (framing, session, sequence and gap
//! rules) and [`MessageRepr::parse`] (message judgement), normalized to [`FeedEvent`]s and
//! [`DecoderCounters`] exactly as the card does.
//!
//! A delivered message block is classified in the order the RTL judges it: an empty block is
//! a bad length; a type outside [`OFFLOAD_TYPES`] is unknown (even one this crate's parser
//! knows, such as `Y`, `Q`, `B`, `I`: the card does not decode them); then the parser's
//! `Truncated`/`Overlong` are a bad length and `BadValue` a bad value.
//!
//! # Invariants
//! - Messages are judged only after the subscriber has judged their packet's framing whole,
//!   so a dropped packet changes no message counter (the card's tentative counters).
//! - `events + unknown + bad length + bad value == messages_delivered`.
//! - No allocation: the subscriber borrows the packet; counters are integers.

use peregrine_feed::itch::MessageRepr;
use peregrine_feed::moldudp64::FrameError;
use peregrine_feed::moldudp64::Session;
use peregrine_feed::subscriber::{DropReason, PacketOutcome, SeqRange, Subscriber};
use peregrine_feed::wire::Error;

use crate::card::PACKET_BYTES_MAX;
use crate::event::{DecoderCounters, FeedEvent, OFFLOAD_TYPES};
use crate::{DecodeError, FeedDecoder};

/// What one delivered block is.
enum Judgement {
    Event(FeedEvent),
    UnknownType,
    BadLength,
    BadValue,
}

fn judge(seq: u64, block: &[u8]) -> Judgement {
    let Some(&type_byte) = block.first() else {
        return Judgement::BadLength;
    };
    if !OFFLOAD_TYPES.contains(&type_byte) {
        return Judgement::UnknownType;
    }
    match MessageRepr::parse(block) {
        Ok(message) => match FeedEvent::from_message(seq, &message) {
            Some(event) => Judgement::Event(event),
            None => Judgement::UnknownType,
        },
        Err(Error::Truncated | Error::Overlong) => Judgement::BadLength,
        Err(Error::BadValue(_) | Error::WrongType(_)) => Judgement::BadValue,
        Err(Error::UnknownType(_)) => Judgement::UnknownType,
    }
}

/// The software implementation of [`FeedDecoder`].
#[derive(Clone, Debug)]
pub struct SoftwareDecoder {
    subscriber: Subscriber,
    counters: DecoderCounters,
}

impl SoftwareDecoder {
    /// Follows `session` (or the first one seen) from `first_seq`.
    pub fn new(session: Option<Session>, first_seq: u64) -> SoftwareDecoder {
        SoftwareDecoder {
            subscriber: Subscriber::new(session, first_seq),
            counters: DecoderCounters::default(),
        }
    }

    /// The subscriber inside.
    pub fn subscriber(&self) -> &Subscriber {
        &self.subscriber
    }

    fn count_outcome(&mut self, outcome: &PacketOutcome) {
        let c = &mut self.counters;
        c.packets += 1;
        match outcome {
            PacketOutcome::Delivered(_) => {}
            PacketOutcome::Duplicate => c.packets_duplicate += 1,
            PacketOutcome::Heartbeat => c.heartbeats += 1,
            PacketOutcome::EndOfSession => c.end_of_session += 1,
            PacketOutcome::Gap(_) => c.packets_ahead += 1,
            PacketOutcome::Dropped(reason) => {
                c.packets_dropped += 1;
                let counter = match reason {
                    DropReason::WrongSession => &mut c.drop_wrong_session,
                    DropReason::Frame(FrameError::HeaderTruncated) => &mut c.drop_header_truncated,
                    DropReason::Frame(FrameError::BadSession) => &mut c.drop_bad_session,
                    DropReason::Frame(FrameError::BlockTruncated) => &mut c.drop_block_truncated,
                    DropReason::Frame(FrameError::CountMismatch) => &mut c.drop_count_mismatch,
                    DropReason::Frame(FrameError::PayloadOnControl) => {
                        &mut c.drop_payload_on_control
                    }
                    DropReason::Frame(FrameError::SequenceOverflow) => {
                        &mut c.drop_sequence_overflow
                    }
                    // Only request packets can be overlong; the subscriber never says so.
                    DropReason::Frame(FrameError::RequestOverlong) => &mut c.drop_header_truncated,
                };
                *counter += 1;
            }
        }
    }
}

impl FeedDecoder for SoftwareDecoder {
    fn handle_packet(
        &mut self,
        payload: &[u8],
        on_event: &mut dyn FnMut(&FeedEvent),
    ) -> Result<PacketOutcome, DecodeError> {
        if payload.len() > PACKET_BYTES_MAX {
            return Err(DecodeError::PacketTooLong);
        }
        let before = *self.subscriber.counters();
        let mut tally = DecoderCounters::default();
        let outcome =
            self.subscriber
                .handle_packet(payload, |seq, block| match judge(seq, block) {
                    Judgement::Event(event) => {
                        tally.events += 1;
                        on_event(&event);
                    }
                    Judgement::UnknownType => tally.messages_unknown_type += 1,
                    Judgement::BadLength => tally.messages_bad_length += 1,
                    Judgement::BadValue => tally.messages_bad_value += 1,
                });
        let after = *self.subscriber.counters();
        self.count_outcome(&outcome);
        let c = &mut self.counters;
        c.messages_delivered += after.messages_delivered - before.messages_delivered;
        c.messages_duplicate += after.messages_duplicate - before.messages_duplicate;
        c.messages_unknown_type += tally.messages_unknown_type;
        c.messages_bad_length += tally.messages_bad_length;
        c.messages_bad_value += tally.messages_bad_value;
        c.events += tally.events;
        assert_eq!(
            c.events + c.messages_unknown_type + c.messages_bad_length + c.messages_bad_value,
            c.messages_delivered
        );
        Ok(outcome)
    }

    fn counters(&self) -> DecoderCounters {
        self.counters
    }

    fn expected_seq(&self) -> u64 {
        self.subscriber.expected_seq()
    }

    fn gap(&self) -> Option<SeqRange> {
        self.subscriber.gap()
    }

    fn is_ended(&self) -> bool {
        self.subscriber.is_ended()
    }
}
