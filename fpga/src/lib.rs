//! FPGA feed-decoding offload (issue 9): the Verilog decoder in `rtl/`, its Verilator
//! co-simulation, and the host interface a PCIe card would present.
//!
//! - `rtl/itch_decoder.v`, `rtl/itch_normalize.v`: a synthesizable Verilog-2005 streaming
//!   decoder. 64-bit AXI-Stream-style input of UDP payload bytes, MoldUDP64 header parse,
//!   message-block walk across word boundaries, ITCH 5.0 decode of A F E C X D U P S R H into a
//!   64-byte normalized event ([`event`]), sequence tracking with gap detection and counters.
//! - [`rtl`]: the Verilated model (built by `build.rs`) behind a cycle-level Rust API.
//! - [`card`]: the host interface (BAR registers, packet descriptor ring, event ring) with a
//!   DMA engine model around the Verilated decoder; [`card::SimDecoder`].
//! - [`software::SoftwareDecoder`]: `peregrine_feed`'s subscriber and parser with the same
//!   normalization.
//! - [`workload`]: publisher-made datagrams from random engine flow (tests, figures).
//! - [`synth`]: runs `synth/decoder.ys` with yosys and parses the resource counts.
//!
//! Both decoders implement [`FeedDecoder`]; `tests/equivalence.rs` holds them to identical
//! outcomes, events and counters on publisher-made and malformed packets.
//!
//! # Example
//!
//! ```
//! use peregrine_fpga::{FeedDecoder, card::SimDecoder, software::SoftwareDecoder};
//! let mut packet = Vec::new();
//! packet.extend_from_slice(b"SESSION001");
//! packet.extend_from_slice(&1u64.to_be_bytes());
//! packet.extend_from_slice(&1u16.to_be_bytes());
//! let mut system_event = [0u8; 12];
//! system_event[0] = b'S';
//! system_event[11] = b'O';
//! packet.extend_from_slice(&12u16.to_be_bytes());
//! packet.extend_from_slice(&system_event);
//! let (mut hardware, mut software) = (SimDecoder::new(None, 1), SoftwareDecoder::new(None, 1));
//! let (mut from_hardware, mut from_software) = (Vec::new(), Vec::new());
//! let outcome = hardware.handle_packet(&packet, &mut |e| from_hardware.push(*e)).unwrap();
//! assert_eq!(outcome, software.handle_packet(&packet, &mut |e| from_software.push(*e)).unwrap());
//! assert_eq!(from_hardware, from_software);
//! assert_eq!((from_hardware[0].kind, from_hardware[0].code), (b'S', b'O'));
//! assert_eq!(hardware.counters(), software.counters());
//! ```
//!
//! # Invariants
//! - The two [`FeedDecoder`]s agree on every packet: outcome, events and counters.
//! - The host interface allocates only when a card is built.
//! - `unsafe` is confined to [`rtl`] (the FFI calls into the Verilated model), each block with
//!   a `// SAFETY:` line.

use core::fmt;

use peregrine_feed::subscriber::{PacketOutcome, SeqRange};

pub mod card;
pub mod event;
pub mod rtl;
pub mod software;
pub mod synth;
pub mod workload;

pub use event::{DecoderCounters, FeedEvent};

/// Why a packet could not be handed to a decoder (the packet itself is judged, not refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// Longer than [`card::PACKET_BYTES_MAX`], the descriptor buffer size.
    PacketTooLong,
    /// Every descriptor is posted and none has completed.
    RingFull,
    /// The card did not complete the packet within its cycle budget (a model bug).
    Stalled,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::PacketTooLong => write!(f, "packet longer than the descriptor buffer"),
            DecodeError::RingFull => write!(f, "descriptor ring full"),
            DecodeError::Stalled => write!(f, "card did not complete the packet"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A MoldUDP64/ITCH decoder: one UDP payload in, its outcome and normalized events out.
pub trait FeedDecoder {
    /// Judges one packet and hands each event it delivers to `on_event`, in sequence order.
    fn handle_packet(
        &mut self,
        payload: &[u8],
        on_event: &mut dyn FnMut(&FeedEvent),
    ) -> Result<PacketOutcome, DecodeError>;

    fn counters(&self) -> DecoderCounters;

    /// Next sequence number to deliver.
    fn expected_seq(&self) -> u64;

    /// Messages known to exist and not yet delivered.
    fn gap(&self) -> Option<SeqRange>;

    /// Whether an end-of-session packet was seen.
    fn is_ended(&self) -> bool;
}
