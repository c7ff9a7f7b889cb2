//! The feed over kernel bypass: MoldUDP64 packets wrapped in Ethernet/IPv4/UDP multicast
//! frames built here and sent through a frame backend ([`peregrine_gateway::frame::FrameIo`]:
//! the AF_XDP TX ring, a DPDK port, or the in-memory link), with no kernel socket on the path.
//!
//! ```text
//! Ethernet  dst 01:00:5e + low 23 bits of the group │ src = interface MAC │ 0x0800
//! IPv4      45 00 len ident DF ttl 17 checksum src group
//! UDP       src port │ group port │ len │ checksum (optional: 0 = none, as IPv4 allows)
//! payload   one MoldUDP64 packet from the sans-IO `Publisher`
//! ```
//!
//! [`FramePublisher::send`] is the `send` callback of [`crate::publisher::Publisher`]: the
//! same publisher, encoder and packetiser as the kernel path, only the last step differs.
//!
//! # Invariants
//! - A frame is written into the backend's own transmit buffer (no copy beyond the payload)
//!   and every header field is written, so no byte of an earlier frame leaks through.
//! - The IPv4 header checksum is always computed; the UDP checksum when configured (a computed
//!   zero goes out as 0xffff, RFC 768).
//! - Payloads that do not fit one frame are refused with a typed error, never truncated.
//! - Nothing allocates: the publisher holds only addresses and counters.

use core::fmt;
use std::net::Ipv4Addr;

use peregrine_gateway::frame::{FrameError, FrameIo};

use crate::publisher::PacketOut;

/// Ethernet + IPv4 + UDP header bytes.
pub const HEADERS_LEN: usize = 14 + 20 + 8;

mod field {
    pub const ETH_DST: core::ops::Range<usize> = 0..6;
    pub const ETH_SRC: core::ops::Range<usize> = 6..12;
    pub const ETH_TYPE: core::ops::Range<usize> = 12..14;
    pub const IP: usize = 14;
    pub const IP_TOTAL_LEN: core::ops::Range<usize> = 16..18;
    pub const IP_IDENT: core::ops::Range<usize> = 18..20;
    pub const IP_FLAGS: core::ops::Range<usize> = 20..22;
    pub const IP_CHECKSUM: core::ops::Range<usize> = 24..26;
    pub const IP_SRC: core::ops::Range<usize> = 26..30;
    pub const IP_DST: core::ops::Range<usize> = 30..34;
    pub const UDP: usize = 34;
    pub const UDP_SRC: core::ops::Range<usize> = 34..36;
    pub const UDP_DST: core::ops::Range<usize> = 36..38;
    pub const UDP_LEN: core::ops::Range<usize> = 38..40;
    pub const UDP_CHECKSUM: core::ops::Range<usize> = 40..42;
}

/// Addresses of the feed's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpFlow {
    pub src_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub src_port: u16,
    /// The multicast group (224.0.0.0/4).
    pub group: Ipv4Addr,
    pub group_port: u16,
    pub ttl: u8,
    /// Compute the UDP checksum (else 0: "no checksum", legal over IPv4).
    pub udp_checksum: bool,
}

/// Why a frame was not built or sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The payload does not fit in one frame of the backend.
    TooLong { len: usize, max: usize },
    /// No transmit buffer came free within the retry budget.
    TxFull,
    /// The backend failed.
    Backend(FrameError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::TooLong { len, max } => {
                write!(f, "payload of {len} bytes, at most {max} fit")
            }
            SendError::TxFull => write!(f, "no transmit buffer free"),
            SendError::Backend(error) => write!(f, "frame backend: {error}"),
        }
    }
}

/// The Ethernet address of an IPv4 multicast group: 01:00:5e and the group's low 23 bits.
pub fn multicast_mac(group: Ipv4Addr) -> [u8; 6] {
    let [_, b, c, d] = group.octets();
    [0x01, 0x00, 0x5e, b & 0x7f, c, d]
}

/// Ones'-complement sum of 16-bit big-endian words (an odd last byte is padded with zero).
fn sum_words(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum (RFC 1071) of an IPv4 header whose checksum field is zero.
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    fold(sum_words(0, header))
}

/// The UDP checksum over the IPv4 pseudo-header and the datagram (checksum field zero).
pub fn udp_checksum(src: Ipv4Addr, dst: Ipv4Addr, datagram: &[u8]) -> u16 {
    let mut sum = sum_words(0, &src.octets());
    sum = sum_words(sum, &dst.octets());
    sum += 17 + u32::try_from(datagram.len()).unwrap_or(0);
    let checksum = fold(sum_words(sum, datagram));
    if checksum == 0 {
        0xffff
    } else {
        checksum
    }
}

/// Writes the frame for `payload` into `buffer`; returns the frame length.
pub fn build_frame(
    flow: &UdpFlow,
    ident: u16,
    payload: &[u8],
    buffer: &mut [u8],
) -> Result<usize, SendError> {
    let len = HEADERS_LEN + payload.len();
    let max = buffer.len().min(usize::from(u16::MAX) - 14);
    if len > max {
        return Err(SendError::TooLong {
            len: payload.len(),
            max: max.saturating_sub(HEADERS_LEN),
        });
    }
    let frame = &mut buffer[..len];
    frame[field::ETH_DST].copy_from_slice(&multicast_mac(flow.group));
    frame[field::ETH_SRC].copy_from_slice(&flow.src_mac);
    frame[field::ETH_TYPE].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = u16::try_from(len - 14).unwrap_or(u16::MAX);
    frame[field::IP] = 0x45;
    frame[field::IP + 1] = 0;
    frame[field::IP_TOTAL_LEN].copy_from_slice(&ip_len.to_be_bytes());
    frame[field::IP_IDENT].copy_from_slice(&ident.to_be_bytes());
    frame[field::IP_FLAGS].copy_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
    frame[field::IP + 8] = flow.ttl;
    frame[field::IP + 9] = 17;
    frame[field::IP_CHECKSUM].copy_from_slice(&[0, 0]);
    frame[field::IP_SRC].copy_from_slice(&flow.src_ip.octets());
    frame[field::IP_DST].copy_from_slice(&flow.group.octets());
    let checksum = ipv4_checksum(&frame[field::IP..field::UDP]);
    frame[field::IP_CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    frame[field::UDP_SRC].copy_from_slice(&flow.src_port.to_be_bytes());
    frame[field::UDP_DST].copy_from_slice(&flow.group_port.to_be_bytes());
    frame[field::UDP_LEN].copy_from_slice(&(ip_len - 20).to_be_bytes());
    frame[field::UDP_CHECKSUM].copy_from_slice(&[0, 0]);
    frame[HEADERS_LEN..].copy_from_slice(payload);
    if flow.udp_checksum {
        let checksum = udp_checksum(flow.src_ip, flow.group, &frame[field::UDP..]);
        frame[field::UDP_CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }
    Ok(len)
}

/// Counters of a [`FramePublisher`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCounters {
    pub frames: u64,
    pub payload_bytes: u64,
    /// Payloads dropped (too long, or no buffer within the retry budget).
    pub dropped: u64,
    /// Times `send` had to flush to get a buffer back.
    pub tx_waits: u64,
}

/// Sends MoldUDP64 packets as multicast frames through a frame backend.
#[derive(Debug)]
pub struct FramePublisher {
    flow: UdpFlow,
    ident: u16,
    /// Flushes tried for a free buffer before a payload is dropped.
    retries_max: u32,
    counters: FrameCounters,
}

impl FramePublisher {
    /// A publisher for `flow`; `retries_max` bounds the wait for a transmit buffer.
    pub fn new(flow: UdpFlow, retries_max: u32) -> FramePublisher {
        assert!(
            flow.group.is_multicast(),
            "the feed goes to a multicast group"
        );
        FramePublisher {
            flow,
            ident: 0,
            retries_max,
            counters: FrameCounters::default(),
        }
    }

    pub fn flow(&self) -> &UdpFlow {
        &self.flow
    }

    pub fn counters(&self) -> FrameCounters {
        self.counters
    }

    /// Builds one frame for `payload` in a transmit buffer of `io` and queues it (it leaves at
    /// the backend's next `tx_flush`; [`FramePublisher::flush`] does that).
    pub fn send<F: FrameIo>(&mut self, io: &mut F, payload: &[u8]) -> Result<(), SendError> {
        // Judge the length before taking a buffer: a taken buffer must go out as a frame.
        let max = io.frame_len_max().min(usize::from(u16::MAX) - 14) - HEADERS_LEN;
        if payload.len() > max {
            self.counters.dropped += 1;
            return Err(SendError::TooLong {
                len: payload.len(),
                max,
            });
        }
        let mut frame = io.tx_alloc();
        let mut retries = 0;
        while frame.is_none() && retries < self.retries_max {
            self.counters.tx_waits += 1;
            io.tx_flush().map_err(SendError::Backend)?;
            frame = io.tx_alloc();
            retries += 1;
        }
        let Some(frame) = frame else {
            self.counters.dropped += 1;
            return Err(SendError::TxFull);
        };
        let built = build_frame(&self.flow, self.ident, payload, io.tx_data(&frame));
        let Ok(len) = built else {
            unreachable!("the length was checked against the buffer above");
        };
        io.tx_submit(frame, len);
        self.ident = self.ident.wrapping_add(1);
        self.counters.frames += 1;
        self.counters.payload_bytes += payload.len() as u64;
        Ok(())
    }

    /// Publishes every queued frame.
    pub fn flush<F: FrameIo>(&mut self, io: &mut F) -> Result<(), SendError> {
        io.tx_flush().map_err(SendError::Backend)
    }
}

/// A [`FramePublisher`] with the backend it sends through: the publisher thread's
/// [`PacketOut`] over kernel bypass (it owns the backend, e.g. a transmit-only AF_XDP socket
/// on a queue of its own). Packets are queued by `send` and published by `flush`, once per
/// publishing step, so a burst of packets costs one ring update and at most one kernel kick.
pub struct FrameOut<F: FrameIo> {
    io: F,
    frames: FramePublisher,
    /// Frames queued since the last flush.
    queued: u32,
}

impl<F: FrameIo> FrameOut<F> {
    pub fn new(io: F, frames: FramePublisher) -> FrameOut<F> {
        FrameOut {
            io,
            frames,
            queued: 0,
        }
    }

    pub fn counters(&self) -> FrameCounters {
        self.frames.counters()
    }

    /// The backend's own counters (frames, full rings, kernel kicks).
    pub fn backend_counters(&self) -> peregrine_gateway::frame::FrameCounters {
        self.io.counters()
    }
}

impl<F: FrameIo> PacketOut for FrameOut<F> {
    fn send(&mut self, packet: &[u8]) -> Result<(), std::io::ErrorKind> {
        match self.frames.send(&mut self.io, packet) {
            Ok(()) => {
                self.queued += 1;
                Ok(())
            }
            Err(SendError::TooLong { .. }) => Err(std::io::ErrorKind::InvalidInput),
            Err(SendError::TxFull) => Err(std::io::ErrorKind::WouldBlock),
            Err(SendError::Backend(_)) => Err(std::io::ErrorKind::Other),
        }
    }

    fn flush(&mut self) -> Result<(), std::io::ErrorKind> {
        if self.queued == 0 {
            return Ok(());
        }
        self.queued = 0;
        self.frames
            .flush(&mut self.io)
            .map_err(|_| std::io::ErrorKind::Other)
    }

    fn frame_counters(&self) -> Option<FrameCounters> {
        Some(self.frames.counters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: UdpFlow = UdpFlow {
        src_mac: [0x02, 0, 0, 0, 0, 0x01],
        src_ip: Ipv4Addr::new(10, 77, 0, 1),
        src_port: 40_000,
        group: Ipv4Addr::new(239, 192, 0, 1),
        group_port: 31_001,
        ttl: 1,
        udp_checksum: true,
    };

    #[test]
    fn multicast_mac_keeps_the_low_23_bits() {
        assert_eq!(
            multicast_mac(Ipv4Addr::new(239, 192, 0, 1)),
            [1, 0, 0x5e, 0x40, 0, 1]
        );
        assert_eq!(
            multicast_mac(Ipv4Addr::new(224, 0, 0, 251)),
            [1, 0, 0x5e, 0, 0, 251]
        );
        // 225.128.1.2 and 224.0.1.2 share a MAC: the top bit of the second octet is dropped.
        assert_eq!(
            multicast_mac(Ipv4Addr::new(225, 128, 1, 2)),
            [1, 0, 0x5e, 0, 1, 2]
        );
    }

    #[test]
    fn ipv4_checksum_of_a_known_header() {
        // A textbook header (RFC 1071 style worked example): checksum 0xb861.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&header), 0xb861);
    }

    #[test]
    fn built_frame_has_every_field_and_valid_checksums() {
        let payload = *b"MOLDUDP64 payload";
        let mut buffer = [0xa5u8; 128];
        let len = build_frame(&FLOW, 0x1234, &payload, &mut buffer).unwrap();
        assert_eq!(len, HEADERS_LEN + payload.len());
        let frame = &buffer[..len];
        let expected_headers: [u8; 34] = [
            1, 0, 0x5e, 0x40, 0, 1, 2, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
            0x45, 0, 0, 45, 0x12, 0x34, 0x40, 0, 1, 17, 0, 0, 10, 77, 0, 1, 239, 192, 0, 1,
        ];
        assert_eq!(&frame[..24], &expected_headers[..24]);
        assert_eq!(&frame[26..34], &expected_headers[26..34]);
        // The header sums to 0xffff with its checksum in place.
        assert_eq!(fold(sum_words(0, &frame[14..34])), 0);
        assert_eq!(&frame[34..40], &[0x9c, 0x40, 0x79, 0x19, 0, 25]);
        let mut pseudo = sum_words(0, &[10, 77, 0, 1, 239, 192, 0, 1]);
        pseudo += 17 + 25;
        assert_eq!(
            fold(sum_words(pseudo, &frame[34..])),
            0,
            "UDP checksum verifies"
        );
        assert_eq!(&frame[42..], &payload);
        assert_eq!(buffer[len], 0xa5, "nothing written past the frame");
    }

    #[test]
    fn udp_checksum_off_writes_zero() {
        let flow = UdpFlow {
            udp_checksum: false,
            ..FLOW
        };
        let mut buffer = [0xa5u8; 64];
        let len = build_frame(&flow, 0, b"x", &mut buffer).unwrap();
        assert_eq!(&buffer[40..42], &[0, 0]);
        assert_eq!(len, 43);
    }

    /// The publisher thread's driver over frames: every packet the store kept arrives, in
    /// order, as one well-formed frame on the other end of an in-memory link, and a
    /// subscriber reading the frames' payloads sees the whole session.
    #[test]
    fn publisher_run_over_frame_out_delivers_every_stored_packet() {
        use crate::encoder::EncoderConfig;
        use crate::moldudp64::Session;
        use crate::publisher::{self, iter_source, FeedRecord, Publisher, PublisherConfig};
        use crate::retransmit::{lock, RetransmitConfig, SharedStore, Store};
        use crate::subscriber::Subscriber;
        use peregrine_engine::{
            AccountId, BookAdd, EngineConfig, Event, InstrumentId, OrderId, Price, Qty, Side,
        };
        use peregrine_gateway::frame::memory::MemoryLink;

        let dir = tempfile::tempdir().expect("temp dir");
        let session = Session::from_text("FRAMEOUT").expect("session");
        let engine = EngineConfig::demo(2, 2, 64);
        let config = PublisherConfig {
            packet_size_bytes: 300,
            end_of_session_repeat: 2,
            heartbeat_interval_ms: 1,
            ..PublisherConfig::default()
        };
        let publisher =
            Publisher::new(&config, session, &engine, EncoderConfig::anonymous(2)).expect("pub");
        let retransmit = RetransmitConfig {
            path: dir.path().join("store"),
            ..RetransmitConfig::default()
        };
        let store: SharedStore = std::sync::Arc::new(std::sync::Mutex::new(
            Store::create(&retransmit, session, 1).expect("store"),
        ));
        let (node, mut wire) = MemoryLink::pair([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 512);
        let out = FrameOut::new(node, FramePublisher::new(FLOW, 8));
        let mut records = Vec::new();
        for order in 1..=200u64 {
            records.push(FeedRecord::Event {
                input_seq: order,
                timestamp_ns: 1_000 + order,
                event: Event::BookAdd(BookAdd {
                    order: OrderId(order),
                    instrument: InstrumentId((order % 2) as u32),
                    account: AccountId(1),
                    side: Side::Buy,
                    price: Price(1_000_000 + 100 * (order % 7) as i64),
                    display_qty: Qty(10),
                }),
            });
            if order % 10 == 0 {
                records.push(FeedRecord::BatchEnd);
            }
        }
        let live = crate::service::FeedMetrics::default();
        let source = iter_source(records, 9_999);
        let report = publisher::run_observed(publisher, out, &store, 1, source, &live);
        assert_eq!(report.send_errors, 0, "{report:?}");
        // The live mirror ends equal to the report, frames included.
        assert_eq!(live.load_publisher().counters, report.counters);
        assert_eq!(live.load_publisher().next_seq, report.next_seq);
        let live_frames = live.frames.load();
        let sent = report.counters.packets
            + report.counters.heartbeats
            + report.counters.end_of_session_packets;
        assert_eq!(live_frames.frames, sent, "{live_frames:?}");
        assert_eq!(live_frames.dropped, 0);
        // Start of messages, two directories, 200 adds, end of messages.
        assert_eq!(report.next_seq, 1 + 1 + 2 + 200 + 1);
        assert_eq!(lock(&store).next_seq(), report.next_seq);

        let mut subscriber = Subscriber::new(Some(session), 1);
        let mut delivered = 0u64;
        let mut frames = 0;
        wire.rx_poll().expect("poll");
        while let Some(frame) = wire.rx_take() {
            let bytes = wire.rx_data(&frame);
            assert_eq!(&bytes[..6], &multicast_mac(FLOW.group));
            assert_eq!(fold(sum_words(0, &bytes[14..34])), 0, "IPv4 checksum");
            subscriber.handle_packet_parsed(&bytes[HEADERS_LEN..], |_, _| delivered += 1);
            wire.rx_release(frame);
            frames += 1;
            if wire.rx_poll().expect("poll") == 0 {
                break;
            }
        }
        assert!(subscriber.is_ended(), "end of session arrived");
        assert_eq!(subscriber.gap(), None);
        assert_eq!(delivered, report.next_seq - 1);
        let counters = report.counters;
        let packets = counters.packets + counters.heartbeats + counters.end_of_session_packets;
        assert_eq!(frames, packets, "{report:?}");
    }

    #[test]
    fn too_long_is_refused() {
        let mut buffer = [0u8; 100];
        assert_eq!(
            build_frame(&FLOW, 0, &[0; 59], &mut buffer),
            Err(SendError::TooLong { len: 59, max: 58 })
        );
    }
}
