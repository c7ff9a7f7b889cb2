//! `peregrine feed tap`: watch the feed. Joins the multicast group, prints every packet and
//! message (their `Display`), the top of book of each instrument a packet changed, and gaps;
//! optionally writes every datagram to a classic pcap file (Ethernet link type, IPv4/UDP
//! headers built here) that Wireshark and tshark open (`-d udp.port==PORT,moldudp64`).
//!
//! The tap never re-requests: it shows the feed as it arrives. After a gap it goes on from the
//! next packet; book updates for orders it never saw are counted (`book_errors`), so the top
//! of book it prints is exact only while `gaps == 0`.
//!
//! # Invariants
//! - Every datagram received is written to the pcap (if any) before it is decoded, so the
//!   capture holds exactly what arrived, malformed packets included.
//! - The tap stops on end of session (if configured), after `packet_limit` datagrams, after
//!   `idle_limit_ms` of silence, or when `stop` is set; it checks at least every 50 ms.

use core::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use peregrine_engine::Side;
use serde::{Deserialize, Serialize};

use crate::book::{Book, BookConfig};
use crate::itch::MessageRepr;
use crate::moldudp64::{Packet, PacketKind, PacketRepr};
use crate::net::{multicast_receiver, unix_now_ns, Clock, MulticastConfig};

/// What to watch and when to stop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TapConfig {
    pub multicast: MulticastConfig,
    /// Write every datagram here (classic pcap, Ethernet).
    pub pcap: Option<PathBuf>,
    /// Print each message (else only packets, gaps and tops of book).
    pub show_messages: bool,
    /// Print the top of book of each instrument a packet changed.
    pub show_top_of_book: bool,
    pub stop_at_end_of_session: bool,
    /// Stop after this many datagrams.
    pub packet_limit: Option<u64>,
    /// Stop after this long without a datagram.
    pub idle_limit_ms: Option<u64>,
    /// Book capacities: instruments (stock locates `1..=locate_count`), orders, levels.
    pub locate_count: u16,
    pub order_capacity: u32,
    pub level_capacity: u32,
}

impl Default for TapConfig {
    fn default() -> Self {
        TapConfig {
            multicast: MulticastConfig::default(),
            pcap: None,
            show_messages: true,
            show_top_of_book: true,
            stop_at_end_of_session: true,
            packet_limit: None,
            idle_limit_ms: None,
            locate_count: 1_024,
            order_capacity: 1 << 20,
            level_capacity: 1 << 16,
        }
    }
}

/// What the tap saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapSummary {
    pub packets: u64,
    pub messages: u64,
    pub heartbeats: u64,
    /// Packets that started beyond the next expected sequence number.
    pub gaps: u64,
    /// Datagrams that are not well-formed MoldUDP64.
    pub malformed_packets: u64,
    /// Messages that are not ITCH 5.0 this crate decodes.
    pub malformed_messages: u64,
    pub book_errors: u64,
    pub end_of_session: bool,
    /// Sequence number after the last message seen.
    pub next_seq: u64,
}

/// Why the tap stopped early.
#[derive(Debug)]
pub enum TapError {
    Socket(io::Error),
    Pcap(io::Error),
    Output(io::Error),
}

impl fmt::Display for TapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TapError::Socket(error) => write!(f, "tap socket: {error}"),
            TapError::Pcap(error) => write!(f, "pcap file: {error}"),
            TapError::Output(error) => write!(f, "output: {error}"),
        }
    }
}

impl std::error::Error for TapError {}

/// Runs the tap until one of its stop conditions (see [`run_until`]).
pub fn run(config: &TapConfig, out: impl Write) -> Result<TapSummary, TapError> {
    run_until(config, out, &AtomicBool::new(false))
}

/// Runs the tap, also stopping when `stop` is set (a signal handler's flag).
pub fn run_until(
    config: &TapConfig,
    out: impl Write,
    stop: &AtomicBool,
) -> Result<TapSummary, TapError> {
    let socket = multicast_receiver(&config.multicast).map_err(TapError::Socket)?;
    run_on(&socket, config, out, stop)
}

/// As [`run_until`], on a socket that has already joined the group (made with
/// [`multicast_receiver`] from `config.multicast`): a caller that must know the tap is
/// listening before traffic starts joins first.
pub fn run_on(
    socket: &std::net::UdpSocket,
    config: &TapConfig,
    mut out: impl Write,
    stop: &AtomicBool,
) -> Result<TapSummary, TapError> {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(TapError::Socket)?;
    let mut pcap = match &config.pcap {
        Some(path) => {
            let file = File::create(path).map_err(TapError::Pcap)?;
            Some(PcapWriter::new(BufWriter::new(file)).map_err(TapError::Pcap)?)
        }
        None => None,
    };
    let mut tap = Tap::new(config);
    let mut buffer = vec![0u8; 65_536];
    let clock = Clock::new();
    let mut last_packet_ns = clock.now_ns();
    let idle_limit_ns = config.idle_limit_ms.map(|ms| ms.saturating_mul(1_000_000));
    // Relaxed: a plain flag set by another thread or a signal handler.
    while !stop.load(Ordering::Relaxed) && !tap.done(config) {
        let (len, source) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if idle_limit_ns.is_some_and(|limit| clock.now_ns() - last_packet_ns >= limit) {
                    break;
                }
                continue;
            }
            Err(error) => return Err(TapError::Socket(error)),
        };
        last_packet_ns = clock.now_ns();
        let datagram = &buffer[..len];
        if let (Some(pcap), SocketAddr::V4(source)) = (pcap.as_mut(), source) {
            let target = SocketAddrV4::new(config.multicast.group, config.multicast.port);
            let ttl = u8::try_from(config.multicast.ttl).unwrap_or(u8::MAX);
            pcap.write_udp(unix_now_ns(), source, target, ttl, datagram)
                .map_err(TapError::Pcap)?;
        }
        tap.handle(datagram, config, &mut out)
            .map_err(TapError::Output)?;
    }
    if let Some(pcap) = pcap {
        pcap.finish().map_err(TapError::Pcap)?;
    }
    out.flush().map_err(TapError::Output)?;
    Ok(tap.summary)
}

/// Decoding and printing state.
struct Tap {
    book: Book,
    summary: TapSummary,
    /// Locates changed by the current packet (index = locate).
    touched: Vec<bool>,
}

impl Tap {
    fn new(config: &TapConfig) -> Tap {
        let level_capacity = config.level_capacity.max(1);
        Tap {
            book: Book::new(BookConfig {
                locate_count: config.locate_count,
                order_capacity: config.order_capacity.max(1),
                level_capacity,
                levels_per_side_max: level_capacity,
            }),
            summary: TapSummary::default(),
            touched: vec![false; usize::from(config.locate_count) + 1],
        }
    }

    fn done(&self, config: &TapConfig) -> bool {
        (config.stop_at_end_of_session && self.summary.end_of_session)
            || config
                .packet_limit
                .is_some_and(|limit| self.summary.packets >= limit)
    }

    fn handle(
        &mut self,
        datagram: &[u8],
        config: &TapConfig,
        out: &mut impl Write,
    ) -> io::Result<()> {
        self.summary.packets += 1;
        let parsed = Packet::new_checked(datagram)
            .and_then(|packet| Ok((PacketRepr::parse(&packet)?, packet)));
        let (repr, packet) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                self.summary.malformed_packets += 1;
                return writeln!(out, "malformed packet ({} bytes): {error}", datagram.len());
            }
        };
        writeln!(out, "{repr}")?;
        if self.summary.next_seq != 0 && repr.seq > self.summary.next_seq {
            self.summary.gaps += 1;
            writeln!(
                out,
                "  gap: [{}, {}) missing",
                self.summary.next_seq, repr.seq
            )?;
        }
        match repr.kind {
            PacketKind::Heartbeat => self.summary.heartbeats += 1,
            PacketKind::EndOfSession => self.summary.end_of_session = true,
            PacketKind::Messages(_) => {}
        }
        self.summary.next_seq = self.summary.next_seq.max(repr.end_seq());
        for (offset, block) in packet.blocks().enumerate() {
            let Ok(block) = block else {
                break;
            };
            self.message(repr.seq + offset as u64, block, config, out)?;
        }
        if config.show_top_of_book {
            self.print_tops(out)?;
        }
        Ok(())
    }

    fn message(
        &mut self,
        seq: u64,
        block: &[u8],
        config: &TapConfig,
        out: &mut impl Write,
    ) -> io::Result<()> {
        self.summary.messages += 1;
        let message = match MessageRepr::parse(block) {
            Ok(message) => message,
            Err(error) => {
                self.summary.malformed_messages += 1;
                return writeln!(out, "  {seq} undecoded ({} bytes): {error}", block.len());
            }
        };
        if config.show_messages {
            writeln!(out, "  {seq} {message}")?;
        }
        if self.book.apply(&message).is_err() {
            self.summary.book_errors += 1;
        }
        let locate = usize::from(message.header().stock_locate);
        if let Some(touched) = self.touched.get_mut(locate) {
            *touched |= locate != 0 && changes_book(&message);
        }
        Ok(())
    }

    fn print_tops(&mut self, out: &mut impl Write) -> io::Result<()> {
        for locate in 1..self.touched.len() {
            if !std::mem::take(&mut self.touched[locate]) {
                continue;
            }
            let locate = u16::try_from(locate).unwrap_or(u16::MAX);
            let side = |side| match self.book.best(locate, side) {
                Some(level) => format!("{}@{} ({})", level.shares, level.price, level.order_count),
                None => "-".to_string(),
            };
            writeln!(
                out,
                "  top locate={locate} bid {} | ask {}",
                side(Side::Buy),
                side(Side::Sell)
            )?;
        }
        Ok(())
    }
}

fn changes_book(message: &MessageRepr) -> bool {
    match message {
        MessageRepr::AddOrder(_)
        | MessageRepr::AddOrderMpid(_)
        | MessageRepr::OrderExecuted(_)
        | MessageRepr::OrderExecutedWithPrice(_)
        | MessageRepr::OrderCancel(_)
        | MessageRepr::OrderDelete(_)
        | MessageRepr::OrderReplace(_) => true,
        MessageRepr::SystemEvent(_)
        | MessageRepr::StockDirectory(_)
        | MessageRepr::TradingAction(_)
        | MessageRepr::RegSho(_)
        | MessageRepr::Trade(_)
        | MessageRepr::CrossTrade(_)
        | MessageRepr::BrokenTrade(_)
        | MessageRepr::Noii(_) => false,
    }
}

/// Bytes of the pcap file header.
pub const PCAP_HEADER_LEN: usize = 24;
/// Bytes of Ethernet + IPv4 + UDP headers before the payload.
pub const FRAME_HEADERS_LEN: usize = 14 + 20 + 8;
/// Largest UDP payload in an IPv4 datagram.
pub const UDP_PAYLOAD_MAX: usize = 65_535 - 20 - 8;

/// Writes a classic pcap file (microsecond timestamps, little-endian, link type Ethernet),
/// framing each UDP payload with Ethernet, IPv4 (checksummed) and UDP (checksum 0, allowed
/// over IPv4) headers.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    ip_id: u16,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut header = [0u8; PCAP_HEADER_LEN];
        header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs: 0.
        header[16..20].copy_from_slice(&65_535u32.to_le_bytes());
        header[20..24].copy_from_slice(&1u32.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, ip_id: 0 })
    }

    /// Writes one datagram from `source` to `target` captured at `timestamp_ns` (Unix).
    pub fn write_udp(
        &mut self,
        timestamp_ns: u64,
        source: SocketAddrV4,
        target: SocketAddrV4,
        ttl: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        if payload.len() > UDP_PAYLOAD_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "UDP payload too long",
            ));
        }
        let mut headers = [0u8; FRAME_HEADERS_LEN];
        self.ip_id = self.ip_id.wrapping_add(1);
        frame_headers(&mut headers, source, target, ttl, self.ip_id, payload.len());
        // Lossless: at most FRAME_HEADERS_LEN + UDP_PAYLOAD_MAX.
        let frame_len = (FRAME_HEADERS_LEN + payload.len()) as u32;
        let mut record = [0u8; 16];
        let seconds = u32::try_from(timestamp_ns / 1_000_000_000).unwrap_or(u32::MAX);
        let micros = (timestamp_ns % 1_000_000_000 / 1_000) as u32;
        record[0..4].copy_from_slice(&seconds.to_le_bytes());
        record[4..8].copy_from_slice(&micros.to_le_bytes());
        record[8..12].copy_from_slice(&frame_len.to_le_bytes());
        record[12..16].copy_from_slice(&frame_len.to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&headers)?;
        self.out.write_all(payload)
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Ethernet (multicast MAC of the target), IPv4 and UDP headers for a payload of `len` bytes
/// (`len <= UDP_PAYLOAD_MAX`).
fn frame_headers(
    bytes: &mut [u8; FRAME_HEADERS_LEN],
    source: SocketAddrV4,
    target: SocketAddrV4,
    ttl: u8,
    ip_id: u16,
    len: usize,
) {
    assert!(len <= UDP_PAYLOAD_MAX);
    let group = target.ip().octets();
    // 01:00:5e + the low 23 bits of the group address (RFC 1112).
    let target_mac = [0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]];
    let source_mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    bytes[0..6].copy_from_slice(&target_mac);
    bytes[6..12].copy_from_slice(&source_mac);
    bytes[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut bytes[14..34];
    ip[0] = 0x45;
    ip[1] = 0;
    // Lossless: asserted above.
    ip[2..4].copy_from_slice(&((20 + 8 + len) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
    ip[6..8].copy_from_slice(&0u16.to_be_bytes());
    ip[8] = ttl;
    ip[9] = 17;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&source.ip().octets());
    ip[16..20].copy_from_slice(&target.ip().octets());
    let checksum = ipv4_checksum(ip);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());
    let udp = &mut bytes[34..42];
    udp[0..2].copy_from_slice(&source.port().to_be_bytes());
    udp[2..4].copy_from_slice(&target.port().to_be_bytes());
    udp[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]);
}

/// The Internet checksum of a header (one's complement of the one's-complement sum of its
/// 16-bit words); a header carrying its checksum sums to 0.
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in header.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    // Two folds suffice for a header below 64 KiB.
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// The multicast group as an address of the `ANY` source: what `feed tap` prints first.
pub fn describe(config: &TapConfig) -> String {
    let interface = if config.multicast.interface == Ipv4Addr::UNSPECIFIED {
        "default interface".to_string()
    } else {
        config.multicast.interface.to_string()
    };
    format!(
        "tap {}:{} on {interface}",
        config.multicast.group, config.multicast.port
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_header_and_frame_bytes() {
        let mut writer = PcapWriter::new(Vec::new()).expect("vec");
        let source = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 40_000);
        let target = SocketAddrV4::new(Ipv4Addr::new(239, 192, 0, 1), 31_001);
        writer
            .write_udp(1_700_000_000_123_456_789, source, target, 1, b"hello")
            .expect("write");
        let bytes = writer.finish().expect("finish");
        assert_eq!(
            &bytes[..PCAP_HEADER_LEN],
            &[
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0
            ]
        );
        let record = &bytes[PCAP_HEADER_LEN..PCAP_HEADER_LEN + 16];
        assert_eq!(
            u32::from_le_bytes(record[0..4].try_into().expect("4")),
            1_700_000_000
        );
        assert_eq!(
            u32::from_le_bytes(record[4..8].try_into().expect("4")),
            123_456
        );
        assert_eq!(u32::from_le_bytes(record[8..12].try_into().expect("4")), 47);
        let frame = &bytes[PCAP_HEADER_LEN + 16..];
        assert_eq!(frame.len(), 47);
        assert_eq!(&frame[0..6], &[0x01, 0x00, 0x5e, 0x40, 0x00, 0x01]);
        assert_eq!(&frame[12..14], &[0x08, 0x00]);
        let ip = &frame[14..34];
        assert_eq!(ipv4_checksum(ip), 0, "a header with its checksum sums to 0");
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 33);
        assert_eq!((ip[8], ip[9]), (1, 17));
        assert_eq!(&ip[12..16], &[127, 0, 0, 1]);
        assert_eq!(&ip[16..20], &[239, 192, 0, 1]);
        let udp = &frame[34..42];
        assert_eq!(u16::from_be_bytes([udp[0], udp[1]]), 40_000);
        assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 31_001);
        assert_eq!(u16::from_be_bytes([udp[4], udp[5]]), 13);
        assert_eq!(&frame[42..], b"hello");
        let mut writer = PcapWriter::new(Vec::new()).expect("vec");
        let too_long = vec![0u8; UDP_PAYLOAD_MAX + 1];
        assert!(writer.write_udp(0, source, target, 1, &too_long).is_err());
    }

    #[test]
    fn checksum_of_a_known_header() {
        // The classic worked example: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&header), 0xb861);
    }

    #[test]
    fn the_tap_prints_packets_messages_gaps_and_tops_of_book() {
        use crate::itch::{AddOrderRepr, HeaderRepr, ItchPrice};
        use crate::moldudp64::{Packetiser, Session};
        use crate::wire::Symbol;
        use peregrine_engine::{OrderId, Qty};
        let config = TapConfig {
            locate_count: 2,
            order_capacity: 16,
            level_capacity: 16,
            ..TapConfig::default()
        };
        let mut tap = Tap::new(&config);
        let session = Session::from_text("TAPTEST").expect("session");
        let mut packetiser =
            Packetiser::new(vec![0u8; 1_400], session, 1, 1_400).expect("packetiser");
        let add = |order: u64, side, price: u32| {
            MessageRepr::AddOrder(AddOrderRepr {
                header: HeaderRepr {
                    stock_locate: 2,
                    tracking_number: 0,
                    timestamp_ns: 1,
                },
                order: OrderId(order),
                side,
                shares: Qty(100),
                stock: Symbol::from_text("SYM1").expect("symbol"),
                price: ItchPrice(price),
            })
        };
        let mut out = Vec::new();
        packetiser
            .push(&add(1, Side::Buy, 1_000_000))
            .expect("push");
        packetiser
            .push(&add(2, Side::Sell, 1_010_000))
            .expect("push");
        let first = packetiser.flush().expect("packet").to_vec();
        tap.handle(&first, &config, &mut out).expect("write");
        packetiser
            .push(&add(3, Side::Buy, 1_000_100))
            .expect("push");
        let _lost = packetiser.flush().expect("packet").to_vec();
        let heartbeat = packetiser.heartbeat().expect("heartbeat").to_vec();
        tap.handle(&heartbeat, &config, &mut out).expect("write");
        tap.handle(b"short", &config, &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "mold session=TAPTEST seq=1 count=2");
        assert!(
            lines[1].starts_with("  1 A ") && lines[2].starts_with("  2 A "),
            "{text}"
        );
        assert_eq!(
            lines[3],
            "  top locate=2 bid 100@100.0000 (1) | ask 100@101.0000 (1)"
        );
        assert_eq!(lines[4], "mold session=TAPTEST seq=4 heartbeat");
        assert_eq!(lines[5], "  gap: [3, 4) missing");
        assert!(lines[6].starts_with("malformed packet (5 bytes)"), "{text}");
        let summary = tap.summary;
        assert_eq!(
            (summary.packets, summary.messages, summary.heartbeats),
            (3, 2, 1)
        );
        assert_eq!(
            (summary.gaps, summary.malformed_packets, summary.next_seq),
            (1, 1, 4)
        );
        assert!(!summary.end_of_session);
    }
}
