//! The card as the host sees it: a BAR of registers, a packet descriptor ring (host to card) and
//! an event ring (card to host), with the Verilated decoder and a DMA engine model behind them.
//!
//! # Register map (BAR0, 64-bit registers)
//!
//! | offset | name | access | meaning |
//! |---|---|---|---|
//! | 0x000 | `ID` | RO | [`CARD_ID`] |
//! | 0x008 | `CONTROL` | WO | bit 0: load the configuration below (self-clearing) |
//! | 0x010 | `CFG_FIRST_SEQ` | RW | first sequence number expected |
//! | 0x018 | `CFG_SESSION_LO` | RW | session bytes 0..8 (byte 0 lowest) |
//! | 0x020 | `CFG_SESSION_HI` | RW | session bytes 8..10; bit 63: session fixed (else learnt) |
//! | 0x040 | `RX_ENTRIES` | RO | packet descriptor ring size (power of two) |
//! | 0x048 | `RX_HEAD` | RO | descriptors the card has completed (free-running `u32`) |
//! | 0x050 | `RX_TAIL` | RW | doorbell: descriptors the host has posted (free-running) |
//! | 0x060 | `EV_ENTRIES` | RO | event ring size in records (power of two) |
//! | 0x068 | `EV_PROD` | RO | records published (free-running; advances per delivered packet) |
//! | 0x070 | `EV_CONS` | RW | records the host has consumed (free-running) |
//! | 0x080 | `EXPECTED_SEQ` | RO | next sequence number to deliver |
//! | 0x088 | `NEWEST_END_SEQ` | RO | highest `seq + count` seen |
//! | 0x090 | `STATUS` | RO | bit 0 session valid, bit 1 ended, bit 2 idle |
//! | 0x098, 0x0a0 | `SESSION_LO/HI` | RO | the followed session |
//! | 0x100 + 8 i | `COUNTER[i]` | RO | [`DecoderCounters`] in declaration order, 32-bit wrapping |
//! | 0x200 | `CYCLES` | RO | decoder clock cycles since reset |
//!
//! # Packet descriptor (32 bytes, little-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | buffer address (here: offset into the packet buffer area) |
//! | 8..10 | payload length in bytes (`<=` [`PACKET_BYTES_MAX`]) |
//! | 10 | flags: bit 0 posted (host), bit 1 done (card write-back) |
//! | 11 | outcome code (write-back, [`outcome_code`]) |
//! | 12..16 | events written for this packet (write-back) |
//! | 16..24, 24..32 | outcome range first, end (write-back: delivered or gap range) |
//!
//! The event ring holds 64-byte records ([`crate::event`]). The card writes a packet's events
//! at its private write index as they are decoded and moves `EV_PROD` past them only when the
//! packet's status beat says delivered; a dropped packet's records are overwritten. So the
//! ring needs room for one packet's events ([`EVENTS_PER_PACKET_MAX`]) beyond what the host
//! has not consumed, which [`Card::new`] asserts.
//!
//! # Invariants
//! - `ev_cons <= ev_prod <= ev_write <= ev_cons + ev_entries` (free-running, wrapping `u32`).
//! - `rx_head <= rx_fetch <= rx_tail <= rx_head + rx_entries`.
//! - Nothing here allocates after [`Card::new`].

use peregrine_feed::moldudp64::FrameError;
use peregrine_feed::moldudp64::Session;
use peregrine_feed::subscriber::{DropReason, PacketOutcome, SeqRange};

use crate::event::{DecoderCounters, FeedEvent, COUNTER_COUNT, EVENT_RECORD_BYTES};
use crate::rtl::RtlModel;
use crate::{DecodeError, FeedDecoder};

/// Value of the `ID` register: "PRGNFPGA".
pub const CARD_ID: u64 = u64::from_le_bytes(*b"PRGNFPGA");
/// Longest UDP payload a descriptor may carry (a 9,216-byte jumbo frame's worth).
pub const PACKET_BYTES_MAX: usize = 9_216;
/// Bytes of one packet descriptor.
pub const DESCRIPTOR_BYTES: usize = 32;
/// Most events one packet can produce: the smallest offloaded message (S, 12 bytes) with its
/// 2-byte length prefix, after the 20-byte header.
pub const EVENTS_PER_PACKET_MAX: usize = (PACKET_BYTES_MAX - 20) / 14;

/// Register offsets.
pub mod reg {
    pub const ID: u32 = 0x000;
    pub const CONTROL: u32 = 0x008;
    pub const CFG_FIRST_SEQ: u32 = 0x010;
    pub const CFG_SESSION_LO: u32 = 0x018;
    pub const CFG_SESSION_HI: u32 = 0x020;
    pub const RX_ENTRIES: u32 = 0x040;
    pub const RX_HEAD: u32 = 0x048;
    pub const RX_TAIL: u32 = 0x050;
    pub const EV_ENTRIES: u32 = 0x060;
    pub const EV_PROD: u32 = 0x068;
    pub const EV_CONS: u32 = 0x070;
    pub const EXPECTED_SEQ: u32 = 0x080;
    pub const NEWEST_END_SEQ: u32 = 0x088;
    pub const STATUS: u32 = 0x090;
    pub const SESSION_LO: u32 = 0x098;
    pub const SESSION_HI: u32 = 0x0a0;
    pub const COUNTER_BASE: u32 = 0x100;
    pub const CYCLES: u32 = 0x200;
}

const FLAG_POSTED: u8 = 1;
const FLAG_DONE: u8 = 2;

/// The status beat's outcome code for an outcome (the RTL's `OUT_*` constants).
pub fn outcome_code(outcome: &PacketOutcome) -> u8 {
    match outcome {
        PacketOutcome::Delivered(_) => 0,
        PacketOutcome::Duplicate => 1,
        PacketOutcome::Heartbeat => 2,
        PacketOutcome::EndOfSession => 3,
        PacketOutcome::Gap(_) => 4,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::HeaderTruncated)) => 5,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::BadSession)) => 6,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::BlockTruncated)) => 7,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::CountMismatch)) => 8,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::PayloadOnControl)) => 9,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::SequenceOverflow)) => 10,
        PacketOutcome::Dropped(DropReason::WrongSession) => 11,
        PacketOutcome::Dropped(DropReason::Frame(FrameError::RequestOverlong)) => 12,
    }
}

/// The outcome a status code and range stand for; `None` for a code the RTL never sends.
pub fn outcome_from_code(code: u8, range: SeqRange) -> Option<PacketOutcome> {
    let frame = |error| Some(PacketOutcome::Dropped(DropReason::Frame(error)));
    match code {
        0 => Some(PacketOutcome::Delivered(range)),
        1 => Some(PacketOutcome::Duplicate),
        2 => Some(PacketOutcome::Heartbeat),
        3 => Some(PacketOutcome::EndOfSession),
        4 => Some(PacketOutcome::Gap(range)),
        5 => frame(FrameError::HeaderTruncated),
        6 => frame(FrameError::BadSession),
        7 => frame(FrameError::BlockTruncated),
        8 => frame(FrameError::CountMismatch),
        9 => frame(FrameError::PayloadOnControl),
        10 => frame(FrameError::SequenceOverflow),
        11 => Some(PacketOutcome::Dropped(DropReason::WrongSession)),
        _ => None,
    }
}

/// Host memory the card reaches by DMA: the descriptor ring, one packet buffer per
/// descriptor, and the event ring.
struct HostMemory {
    descriptors: Vec<u8>,
    packets: Vec<u8>,
    events: Vec<u8>,
}

/// Where the DMA engine is in the descriptor being streamed.
#[derive(Clone, Copy, Debug, Default)]
struct Stream {
    /// A descriptor is being streamed (its index is `rx_fetch - 1`).
    active: bool,
    /// Payload bytes sent so far.
    sent_bytes: usize,
    /// The last beat has been accepted.
    sent_last: bool,
    /// Events written for this packet.
    events: u32,
}

/// The card: registers, rings and the decoder.
pub struct Card {
    rtl: RtlModel,
    memory: HostMemory,
    rx_entries: u32,
    ev_entries: u32,
    rx_head: u32,
    rx_fetch: u32,
    rx_tail: u32,
    ev_prod: u32,
    ev_write: u32,
    ev_cons: u32,
    cfg_first_seq: u64,
    cfg_session: [u8; 10],
    cfg_session_fixed: bool,
    stream: Stream,
}

impl Card {
    /// A card with `rx_entries` descriptors and `ev_entries` event records (powers of two;
    /// the event ring holds at least two packets' worth of events).
    pub fn new(rx_entries: u32, ev_entries: u32) -> Card {
        assert!(rx_entries.is_power_of_two());
        assert!(ev_entries.is_power_of_two());
        assert!(ev_entries as usize >= 2 * EVENTS_PER_PACKET_MAX);
        Card {
            rtl: RtlModel::new(),
            memory: HostMemory {
                descriptors: vec![0; rx_entries as usize * DESCRIPTOR_BYTES],
                packets: vec![0; rx_entries as usize * PACKET_BYTES_MAX],
                events: vec![0; ev_entries as usize * EVENT_RECORD_BYTES],
            },
            rx_entries,
            ev_entries,
            rx_head: 0,
            rx_fetch: 0,
            rx_tail: 0,
            ev_prod: 0,
            ev_write: 0,
            ev_cons: 0,
            cfg_first_seq: 1,
            cfg_session: [b' '; 10],
            cfg_session_fixed: false,
            stream: Stream::default(),
        }
    }

    /// Reads a register (an unmapped offset reads 0, as on a PCIe BAR).
    pub fn read_register(&self, offset: u32) -> u64 {
        let out = self.rtl.outputs();
        let session = |range: core::ops::Range<usize>| {
            let mut raw = [0u8; 8];
            raw[..range.len()].copy_from_slice(&out.session[range]);
            u64::from_le_bytes(raw)
        };
        match offset {
            reg::ID => CARD_ID,
            reg::CFG_FIRST_SEQ => self.cfg_first_seq,
            reg::CFG_SESSION_LO => session_word(&self.cfg_session, 0..8),
            reg::CFG_SESSION_HI => {
                session_word(&self.cfg_session, 8..10) | u64::from(self.cfg_session_fixed) << 63
            }
            reg::RX_ENTRIES => u64::from(self.rx_entries),
            reg::RX_HEAD => u64::from(self.rx_head),
            reg::RX_TAIL => u64::from(self.rx_tail),
            reg::EV_ENTRIES => u64::from(self.ev_entries),
            reg::EV_PROD => u64::from(self.ev_prod),
            reg::EV_CONS => u64::from(self.ev_cons),
            reg::EXPECTED_SEQ => out.expected_seq,
            reg::NEWEST_END_SEQ => out.newest_end_seq,
            reg::STATUS => {
                u64::from(out.session_valid & 1)
                    | u64::from(out.ended & 1) << 1
                    | u64::from(out.idle & 1) << 2
            }
            reg::SESSION_LO => session(0..8),
            reg::SESSION_HI => session(8..10),
            reg::CYCLES => self.rtl.cycles(),
            offset
                if (reg::COUNTER_BASE..reg::COUNTER_BASE + 8 * COUNTER_COUNT as u32)
                    .contains(&offset)
                    && offset % 8 == 0 =>
            {
                u64::from(out.counters[((offset - reg::COUNTER_BASE) / 8) as usize])
            }
            _ => 0,
        }
    }

    /// Writes a register; read-only and unmapped offsets ignore the write.
    pub fn write_register(&mut self, offset: u32, value: u64) {
        match offset {
            reg::CONTROL if value & 1 != 0 => self.load_configuration(),
            reg::CFG_FIRST_SEQ => self.cfg_first_seq = value,
            reg::CFG_SESSION_LO => self.cfg_session[..8].copy_from_slice(&value.to_le_bytes()[..8]),
            reg::CFG_SESSION_HI => {
                self.cfg_session[8..].copy_from_slice(&value.to_le_bytes()[..2]);
                self.cfg_session_fixed = value >> 63 != 0;
            }
            // The doorbell: descriptors up to `value` are posted (at most a ring's worth).
            reg::RX_TAIL => {
                let tail = value as u32;
                if tail.wrapping_sub(self.rx_head) <= self.rx_entries {
                    self.rx_tail = tail;
                }
            }
            reg::EV_CONS => {
                let cons = value as u32;
                if self.ev_prod.wrapping_sub(cons) <= self.ev_prod.wrapping_sub(self.ev_cons) {
                    self.ev_cons = cons;
                }
            }
            _ => {}
        }
    }

    /// Applies the configuration registers (one cycle with `cfg_load`; the decoder is idle
    /// between packets, which is when the host calls this).
    fn load_configuration(&mut self) {
        let inputs = &mut self.rtl.inputs;
        inputs.cfg_load = 1;
        inputs.cfg_first_seq = self.cfg_first_seq;
        inputs.cfg_session = self.cfg_session;
        inputs.cfg_session_fixed = u8::from(self.cfg_session_fixed);
        inputs.s_tvalid = 0;
        self.rtl.settle();
        self.rtl.tick();
        self.rtl.inputs.cfg_load = 0;
        self.rtl.settle();
    }

    /// Host side: copies a payload into the next free descriptor's buffer and posts it
    /// (descriptor write, then the `RX_TAIL` doorbell). Returns the descriptor index.
    pub fn post_packet(&mut self, payload: &[u8]) -> Result<u32, DecodeError> {
        if payload.len() > PACKET_BYTES_MAX {
            return Err(DecodeError::PacketTooLong);
        }
        if self.rx_tail.wrapping_sub(self.rx_head) == self.rx_entries {
            return Err(DecodeError::RingFull);
        }
        let index = self.rx_tail;
        let slot = (index % self.rx_entries) as usize;
        let buffer_offset = slot * PACKET_BYTES_MAX;
        self.memory.packets[buffer_offset..buffer_offset + payload.len()].copy_from_slice(payload);
        let descriptor =
            &mut self.memory.descriptors[slot * DESCRIPTOR_BYTES..][..DESCRIPTOR_BYTES];
        descriptor.fill(0);
        descriptor[0..8].copy_from_slice(&(buffer_offset as u64).to_le_bytes());
        descriptor[8..10].copy_from_slice(&(payload.len() as u16).to_le_bytes());
        descriptor[10] = FLAG_POSTED;
        self.write_register(reg::RX_TAIL, u64::from(index.wrapping_add(1)));
        Ok(index)
    }

    /// Host side: the write-back of a completed descriptor, or `None` while it is pending.
    pub fn completion(&self, index: u32) -> Option<(PacketOutcome, u32)> {
        let slot = (index % self.rx_entries) as usize;
        let descriptor = &self.memory.descriptors[slot * DESCRIPTOR_BYTES..][..DESCRIPTOR_BYTES];
        if descriptor[10] & FLAG_DONE == 0 {
            return None;
        }
        let word =
            |at: usize| u64::from_le_bytes(descriptor[at..at + 8].try_into().unwrap_or([0; 8]));
        let events = u32::from_le_bytes(descriptor[12..16].try_into().unwrap_or([0; 4]));
        let range = SeqRange {
            first: word(16),
            end: word(24),
        };
        outcome_from_code(descriptor[11], range).map(|outcome| (outcome, events))
    }

    /// Host side: hands every published event to `on_event` and returns the records to the
    /// card (`EV_CONS`). Returns how many.
    pub fn drain_events(&mut self, on_event: &mut dyn FnMut(&FeedEvent)) -> u32 {
        let mut count = 0;
        while self.ev_cons != self.ev_prod {
            let slot = (self.ev_cons % self.ev_entries) as usize;
            let record = &self.memory.events[slot * EVENT_RECORD_BYTES..][..EVENT_RECORD_BYTES];
            let mut bytes = [0u8; EVENT_RECORD_BYTES];
            bytes.copy_from_slice(record);
            on_event(&FeedEvent::from_record(&bytes));
            self.ev_cons = self.ev_cons.wrapping_add(1);
            count += 1;
        }
        count
    }

    /// Whether every posted descriptor is complete and the decoder is idle.
    pub fn is_idle(&self) -> bool {
        self.rx_head == self.rx_tail && !self.stream.active && self.rtl.outputs().idle != 0
    }

    /// Decoder clock cycles since reset.
    pub fn cycles(&self) -> u64 {
        self.rtl.cycles()
    }

    /// Counters, widened.
    pub fn counters(&self) -> DecoderCounters {
        DecoderCounters::from_words(&self.rtl.outputs().counters)
    }

    /// One decoder clock cycle of the card: the DMA engine drives the next payload beat and
    /// takes the decoder's output beat if the event ring has room.
    pub fn step(&mut self) {
        self.drive_input();
        let ring_room = self.ev_write.wrapping_sub(self.ev_cons) < self.ev_entries;
        self.rtl.inputs.m_ready = u8::from(ring_room);
        let out = *self.rtl.settle();
        let beat_taken = out.s_tready != 0 && self.rtl.inputs.s_tvalid != 0;
        if out.m_valid != 0 && ring_room {
            if out.m_is_status != 0 {
                self.complete_packet(&out.m_data);
            } else {
                self.write_event(&out.m_data);
            }
        }
        self.rtl.tick();
        if beat_taken {
            self.advance_input();
        }
    }

    /// Steps until every posted packet is complete.
    pub fn run_until_idle(&mut self, cycles_max: u64) -> Result<(), DecodeError> {
        let start = self.rtl.cycles();
        while !self.is_idle() {
            if self.rtl.cycles() - start >= cycles_max {
                return Err(DecodeError::Stalled);
            }
            self.step();
        }
        Ok(())
    }

    /// Sets the input bus for this cycle from the descriptor being streamed (fetching the
    /// next posted descriptor when none is).
    fn drive_input(&mut self) {
        if !self.stream.active && self.rx_fetch != self.rx_tail {
            self.stream = Stream {
                active: true,
                ..Stream::default()
            };
            self.rx_fetch = self.rx_fetch.wrapping_add(1);
        }
        if !self.stream.active || self.stream.sent_last {
            self.rtl.inputs.s_tvalid = 0;
            return;
        }
        let (offset, len) = self.current_buffer();
        let inputs = &mut self.rtl.inputs;
        let sent = self.stream.sent_bytes;
        let beat_bytes = (len - sent).min(8);
        let mut word = [0u8; 8];
        word[..beat_bytes].copy_from_slice(&self.memory.packets[offset + sent..][..beat_bytes]);
        inputs.s_tdata = u64::from_le_bytes(word);
        inputs.s_tkeep = ((1u16 << beat_bytes) - 1) as u8;
        inputs.s_tlast = u8::from(sent + beat_bytes == len);
        inputs.s_tvalid = 1;
    }

    fn advance_input(&mut self) {
        let (_, len) = self.current_buffer();
        let beat_bytes = (len - self.stream.sent_bytes).min(8);
        self.stream.sent_bytes += beat_bytes;
        self.stream.sent_last = self.stream.sent_bytes == len;
    }

    /// Buffer offset and length of the descriptor being streamed.
    fn current_buffer(&self) -> (usize, usize) {
        let slot = (self.rx_fetch.wrapping_sub(1) % self.rx_entries) as usize;
        let descriptor = &self.memory.descriptors[slot * DESCRIPTOR_BYTES..][..DESCRIPTOR_BYTES];
        let offset = u64::from_le_bytes(descriptor[0..8].try_into().unwrap_or([0; 8])) as usize;
        let len = usize::from(u16::from_le_bytes([descriptor[8], descriptor[9]]));
        assert!(len <= PACKET_BYTES_MAX, "post_packet checks the length");
        (offset, len)
    }

    fn write_event(&mut self, data: &[u32; 16]) {
        assert!(self.ev_write.wrapping_sub(self.ev_cons) < self.ev_entries);
        let slot = (self.ev_write % self.ev_entries) as usize;
        let record = &mut self.memory.events[slot * EVENT_RECORD_BYTES..][..EVENT_RECORD_BYTES];
        for (chunk, word) in record.chunks_exact_mut(4).zip(data) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        self.ev_write = self.ev_write.wrapping_add(1);
        self.stream.events += 1;
    }

    /// The status beat: write back the descriptor, publish or rewind the packet's events.
    fn complete_packet(&mut self, data: &[u32; 16]) {
        assert!(
            self.stream.active && self.stream.sent_last,
            "status before the last beat"
        );
        let code = data[4] as u8;
        let delivered = code == 0;
        if delivered {
            self.ev_prod = self.ev_write;
        } else {
            self.ev_write = self.ev_prod;
        }
        let slot = (self.rx_head % self.rx_entries) as usize;
        let descriptor =
            &mut self.memory.descriptors[slot * DESCRIPTOR_BYTES..][..DESCRIPTOR_BYTES];
        descriptor[10] = FLAG_POSTED | FLAG_DONE;
        descriptor[11] = code;
        let events = if delivered { self.stream.events } else { 0 };
        descriptor[12..16].copy_from_slice(&events.to_le_bytes());
        let first = u64::from(data[0]) | u64::from(data[1]) << 32;
        let end = u64::from(data[2]) | u64::from(data[3]) << 32;
        descriptor[16..24].copy_from_slice(&first.to_le_bytes());
        descriptor[24..32].copy_from_slice(&end.to_le_bytes());
        self.rx_head = self.rx_head.wrapping_add(1);
        self.stream = Stream::default();
    }
}

fn session_word(session: &[u8; 10], range: core::ops::Range<usize>) -> u64 {
    let mut raw = [0u8; 8];
    raw[..range.len()].copy_from_slice(&session[range]);
    u64::from_le_bytes(raw)
}

/// The Verilated decoder behind the card's rings, as a [`FeedDecoder`]: each packet is posted
/// to the descriptor ring, the card runs until the descriptor completes, and the published
/// events are drained from the event ring.
pub struct SimDecoder {
    card: Card,
    packet_cycles_max: u64,
}

impl SimDecoder {
    /// Follows `session` (or the first seen) from `first_seq`, through the registers.
    pub fn new(session: Option<Session>, first_seq: u64) -> SimDecoder {
        let mut card = Card::new(64, 2048);
        let bytes = session.map_or([b' '; 10], |session| session.bytes());
        card.write_register(reg::CFG_FIRST_SEQ, first_seq);
        card.write_register(reg::CFG_SESSION_LO, session_word(&bytes, 0..8));
        let fixed = u64::from(session.is_some()) << 63;
        card.write_register(reg::CFG_SESSION_HI, session_word(&bytes, 8..10) | fixed);
        card.write_register(reg::CONTROL, 1);
        SimDecoder {
            card,
            // Generous: the parser needs about one cycle per 6 bytes plus a few per packet.
            packet_cycles_max: 4 * PACKET_BYTES_MAX as u64 + 64,
        }
    }

    /// The card, for register reads and cycle counts.
    pub fn card(&self) -> &Card {
        &self.card
    }
}

impl FeedDecoder for SimDecoder {
    fn handle_packet(
        &mut self,
        payload: &[u8],
        on_event: &mut dyn FnMut(&FeedEvent),
    ) -> Result<PacketOutcome, DecodeError> {
        let index = self.card.post_packet(payload)?;
        self.card.run_until_idle(self.packet_cycles_max)?;
        let (outcome, events) = self.card.completion(index).ok_or(DecodeError::Stalled)?;
        let drained = self.card.drain_events(on_event);
        assert_eq!(
            drained, events,
            "published events equal the write-back count"
        );
        Ok(outcome)
    }

    fn counters(&self) -> DecoderCounters {
        self.card.counters()
    }

    fn expected_seq(&self) -> u64 {
        self.card.read_register(reg::EXPECTED_SEQ)
    }

    fn gap(&self) -> Option<SeqRange> {
        let expected = self.card.read_register(reg::EXPECTED_SEQ);
        let newest = self.card.read_register(reg::NEWEST_END_SEQ);
        (newest > expected).then_some(SeqRange {
            first: expected,
            end: newest,
        })
    }

    fn is_ended(&self) -> bool {
        self.card.read_register(reg::STATUS) & 2 != 0
    }
}
