//! SoupBinTCP 3.0 framing: the packet view, the [`Repr`] of every packet type in both
//! directions, and [`split`], which finds packet boundaries in a byte stream.
//!
//! Every packet is `u16 length` (big-endian, bytes after the length field) + `u8 type` + payload.
//! Login fields are ASCII: username and password left-justified, session and sequence numbers
//! right-justified, all space-padded.
//!
//! # Invariants
//! - [`split`] judges a packet's header (length, type, direction, fixed size) as soon as its first
//!   three bytes are present, before the rest arrives: an oversize or unknown packet is an error
//!   at once, never a buffer that waits to fill.
//! - After [`Packet::new_checked`] no getter panics; [`Repr::emit`] writes exactly
//!   [`Repr::buffer_len`] bytes and panics only if the caller's buffer is shorter than that, or
//!   the payload is longer than [`PAYLOAD_MAX`] (both programmer errors).
//! - Parsing never panics on any input: bad bytes give an [`Error`].

use core::fmt;

use crate::wire::{alpha_trimmed, wire_enum, AlphaDisplay, WireField};

/// Bytes of the length field.
pub const LENGTH_LEN: usize = 2;
/// Bytes of the length field plus the type byte: the smallest packet.
pub const HEADER_LEN: usize = 3;
/// Largest payload a packet can carry (the length field counts the type byte too).
pub const PAYLOAD_MAX: usize = u16::MAX as usize - 1;

const USERNAME_LEN: usize = 6;
const PASSWORD_LEN: usize = 10;
const SESSION_LEN: usize = 10;
const SEQUENCE_LEN: usize = 20;

/// Payload length of a Login Request.
pub const LOGIN_REQUEST_PAYLOAD_LEN: usize =
    USERNAME_LEN + PASSWORD_LEN + SESSION_LEN + SEQUENCE_LEN;
/// Payload length of a Login Accepted.
pub const LOGIN_ACCEPTED_PAYLOAD_LEN: usize = SESSION_LEN + SEQUENCE_LEN;
/// Payload length of a Login Rejected.
pub const LOGIN_REJECTED_PAYLOAD_LEN: usize = 1;

const _: () = assert!(LOGIN_REQUEST_PAYLOAD_LEN == 46);
const _: () = assert!(LOGIN_ACCEPTED_PAYLOAD_LEN == 30);
const _: () = assert!(HEADER_LEN + PAYLOAD_MAX == LENGTH_LEN + u16::MAX as usize);

mod field {
    use core::ops::{Range, RangeFrom};
    pub const LENGTH: Range<usize> = 0..2;
    pub const TYPE: usize = 2;
    pub const PAYLOAD: RangeFrom<usize> = 3..;
    // Login Request payload, offsets from the start of the packet.
    pub const USERNAME: Range<usize> = 3..9;
    pub const PASSWORD: Range<usize> = 9..19;
    pub const REQUESTED_SESSION: Range<usize> = 19..29;
    pub const REQUESTED_SEQUENCE: Range<usize> = 29..49;
    // Login Accepted payload.
    pub const SESSION: Range<usize> = 3..13;
    pub const SEQUENCE: Range<usize> = 13..33;
    // Login Rejected payload.
    pub const REJECT_REASON: usize = 3;
}

const _: () = assert!(field::REQUESTED_SEQUENCE.end == HEADER_LEN + LOGIN_REQUEST_PAYLOAD_LEN);
const _: () = assert!(field::SEQUENCE.end == HEADER_LEN + LOGIN_ACCEPTED_PAYLOAD_LEN);

wire_enum! {
    /// The packet type byte.
    PacketType: u8 {
        /// Both directions: free text for humans.
        Debug = b'+',
        LoginAccepted = b'A',
        LoginRejected = b'J',
        SequencedData = b'S',
        ServerHeartbeat = b'H',
        EndOfSession = b'Z',
        LoginRequest = b'L',
        UnsequencedData = b'U',
        ClientHeartbeat = b'R',
        LogoutRequest = b'O',
    }
}

wire_enum! {
    /// Why the server refused a login.
    LoginRejectReason: u8 {
        NotAuthorized = b'A',
        SessionNotAvailable = b'S',
    }
}

/// Who sends a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl PacketType {
    /// The direction this type travels in; `None` for types that travel both ways.
    pub const fn direction(self) -> Option<Direction> {
        match self {
            PacketType::Debug => None,
            PacketType::LoginAccepted
            | PacketType::LoginRejected
            | PacketType::SequencedData
            | PacketType::ServerHeartbeat
            | PacketType::EndOfSession => Some(Direction::ServerToClient),
            PacketType::LoginRequest
            | PacketType::UnsequencedData
            | PacketType::ClientHeartbeat
            | PacketType::LogoutRequest => Some(Direction::ClientToServer),
        }
    }

    /// The payload length this type must have, `None` when it is variable.
    pub const fn fixed_payload_len(self) -> Option<usize> {
        match self {
            PacketType::Debug | PacketType::SequencedData | PacketType::UnsequencedData => None,
            PacketType::LoginRequest => Some(LOGIN_REQUEST_PAYLOAD_LEN),
            PacketType::LoginAccepted => Some(LOGIN_ACCEPTED_PAYLOAD_LEN),
            PacketType::LoginRejected => Some(LOGIN_REJECTED_PAYLOAD_LEN),
            PacketType::ServerHeartbeat
            | PacketType::EndOfSession
            | PacketType::ClientHeartbeat
            | PacketType::LogoutRequest => Some(0),
        }
    }
}

/// Why bytes are not a valid SoupBinTCP packet. Any of these ends the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The length field is zero: there is not even a type byte.
    ZeroLength,
    /// The length field is above the configured maximum (`max` counts the type byte).
    Oversize { length: u16, max: u16 },
    /// The type byte is not a SoupBinTCP packet type.
    UnknownType(u8),
    /// A known type that the other side must not send.
    WrongDirection(PacketType),
    /// A fixed-size packet type with the wrong length.
    BadLength { packet: PacketType, length: u16 },
    /// An ASCII number field holds something other than right-justified digits (packet offset).
    BadNumber { offset: u8 },
    /// Fewer bytes than the packet needs (only from [`Packet::new_checked`] / [`Repr::parse`]).
    Truncated,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroLength => write!(f, "packet length 0"),
            Error::Oversize { length, max } => write!(f, "packet length {length} above {max}"),
            Error::UnknownType(byte) => write!(f, "unknown packet type 0x{byte:02x}"),
            Error::WrongDirection(packet) => write!(f, "{packet} sent in the wrong direction"),
            Error::BadLength { packet, length } => write!(f, "{packet} with length {length}"),
            Error::BadNumber { offset } => write!(f, "bad ASCII number at offset {offset}"),
            Error::Truncated => write!(f, "truncated packet"),
        }
    }
}

/// What [`split`] found at the front of a byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// At least `needed` more bytes must arrive before the first packet is complete.
    Incomplete { needed: usize },
    /// The first `len` bytes are one whole packet (length field included).
    Frame { len: usize },
}

/// Finds the first packet in `stream`, a peer sending in `from` direction. `length_max` bounds
/// the length field (type byte included); it is judged as soon as the header is present.
pub fn split(stream: &[u8], from: Direction, length_max: u16) -> Result<Split, Error> {
    if stream.len() < LENGTH_LEN {
        return Ok(Split::Incomplete {
            needed: LENGTH_LEN - stream.len(),
        });
    }
    let length = u16::read(stream, field::LENGTH.start);
    if length == 0 {
        return Err(Error::ZeroLength);
    }
    if length > length_max {
        return Err(Error::Oversize {
            length,
            max: length_max,
        });
    }
    if stream.len() < HEADER_LEN {
        return Ok(Split::Incomplete {
            needed: HEADER_LEN - stream.len(),
        });
    }
    check_header(stream[field::TYPE], length, from)?;
    let total = LENGTH_LEN + usize::from(length);
    if stream.len() < total {
        return Ok(Split::Incomplete {
            needed: total - stream.len(),
        });
    }
    Ok(Split::Frame { len: total })
}

/// Judges a packet's type byte and length field for a peer sending in `from` direction.
fn check_header(type_byte: u8, length: u16, from: Direction) -> Result<PacketType, Error> {
    let packet = PacketType::from_code(type_byte).ok_or(Error::UnknownType(type_byte))?;
    if packet
        .direction()
        .is_some_and(|direction| direction != from)
    {
        return Err(Error::WrongDirection(packet));
    }
    let payload_len = usize::from(length) - 1;
    if packet
        .fixed_payload_len()
        .is_some_and(|fixed| fixed != payload_len)
    {
        return Err(Error::BadLength { packet, length });
    }
    Ok(packet)
}

/// A view over one SoupBinTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps untrusted bytes holding exactly one packet: the length field must match the buffer
    /// and the type must be known with its fixed length. After this no getter panics.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let bytes = buffer.as_ref();
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let length = u16::read(bytes, field::LENGTH.start);
        if length == 0 {
            return Err(Error::ZeroLength);
        }
        if bytes.len() != LENGTH_LEN + usize::from(length) {
            return Err(Error::Truncated);
        }
        let type_byte = bytes[field::TYPE];
        let packet = PacketType::from_code(type_byte).ok_or(Error::UnknownType(type_byte))?;
        if packet
            .fixed_payload_len()
            .is_some_and(|fixed| fixed != usize::from(length) - 1)
        {
            return Err(Error::BadLength { packet, length });
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The length field: bytes after it (type byte included).
    pub fn length(&self) -> u16 {
        u16::read(self.buffer.as_ref(), field::LENGTH.start)
    }

    pub fn type_byte(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_length(&mut self, value: u16) {
        value.write(self.buffer.as_mut(), field::LENGTH.start);
    }

    pub fn set_type_byte(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// A Login Request's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// Left-justified, space-padded.
    pub username: [u8; USERNAME_LEN],
    /// Left-justified, space-padded.
    pub password: [u8; PASSWORD_LEN],
    /// Right-justified; all spaces asks for the current session.
    pub requested_session: [u8; SESSION_LEN],
    /// Sequence number of the next sequenced message the client wants; 0 = from the next live.
    pub requested_seq: u64,
}

/// A Login Accepted's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginAccepted {
    /// Right-justified session name.
    pub session: [u8; SESSION_LEN],
    /// Sequence number of the next sequenced message the server will send.
    pub next_seq: u64,
}

/// A session name from text: right-justified and space-padded, truncated to ten bytes.
pub fn session_name(text: &str) -> [u8; SESSION_LEN] {
    let mut name = [b' '; SESSION_LEN];
    let bytes = &text.as_bytes()[..text.len().min(SESSION_LEN)];
    name[SESSION_LEN - bytes.len()..].copy_from_slice(bytes);
    name
}

/// A SoupBinTCP packet, parsed. Payloads borrow from the parsed buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repr<'a> {
    Debug(&'a [u8]),
    LoginAccepted(LoginAccepted),
    LoginRejected(LoginRejectReason),
    SequencedData(&'a [u8]),
    ServerHeartbeat,
    EndOfSession,
    LoginRequest(LoginRequest),
    UnsequencedData(&'a [u8]),
    ClientHeartbeat,
    LogoutRequest,
}

impl<'a> Repr<'a> {
    /// Parses a checked packet. The one place a packet's content is judged.
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Repr<'a>, Error> {
        let bytes: &'a [u8] = packet.buffer;
        let type_byte = packet.type_byte();
        let kind = PacketType::from_code(type_byte).ok_or(Error::UnknownType(type_byte))?;
        let payload = &bytes[field::PAYLOAD];
        let repr = match kind {
            PacketType::Debug => Repr::Debug(payload),
            PacketType::SequencedData => Repr::SequencedData(payload),
            PacketType::UnsequencedData => Repr::UnsequencedData(payload),
            PacketType::ServerHeartbeat => Repr::ServerHeartbeat,
            PacketType::EndOfSession => Repr::EndOfSession,
            PacketType::ClientHeartbeat => Repr::ClientHeartbeat,
            PacketType::LogoutRequest => Repr::LogoutRequest,
            PacketType::LoginRejected => {
                let code = bytes[field::REJECT_REASON];
                let reason = LoginRejectReason::from_code(code).ok_or(Error::BadNumber {
                    offset: field::REJECT_REASON as u8,
                })?;
                Repr::LoginRejected(reason)
            }
            PacketType::LoginAccepted => Repr::LoginAccepted(LoginAccepted {
                session: WireField::read(bytes, field::SESSION.start),
                next_seq: parse_ascii_u64(&bytes[field::SEQUENCE]).ok_or(Error::BadNumber {
                    offset: field::SEQUENCE.start as u8,
                })?,
            }),
            PacketType::LoginRequest => Repr::LoginRequest(LoginRequest {
                username: WireField::read(bytes, field::USERNAME.start),
                password: WireField::read(bytes, field::PASSWORD.start),
                requested_session: WireField::read(bytes, field::REQUESTED_SESSION.start),
                requested_seq: parse_ascii_u64(&bytes[field::REQUESTED_SEQUENCE]).ok_or(
                    Error::BadNumber {
                        offset: field::REQUESTED_SEQUENCE.start as u8,
                    },
                )?,
            }),
        };
        Ok(repr)
    }

    /// Checks and parses one whole packet from untrusted bytes.
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Repr<'a>, Error> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    pub fn packet_type(&self) -> PacketType {
        match self {
            Repr::Debug(_) => PacketType::Debug,
            Repr::LoginAccepted(_) => PacketType::LoginAccepted,
            Repr::LoginRejected(_) => PacketType::LoginRejected,
            Repr::SequencedData(_) => PacketType::SequencedData,
            Repr::ServerHeartbeat => PacketType::ServerHeartbeat,
            Repr::EndOfSession => PacketType::EndOfSession,
            Repr::LoginRequest(_) => PacketType::LoginRequest,
            Repr::UnsequencedData(_) => PacketType::UnsequencedData,
            Repr::ClientHeartbeat => PacketType::ClientHeartbeat,
            Repr::LogoutRequest => PacketType::LogoutRequest,
        }
    }

    fn payload_len(&self) -> usize {
        match self {
            Repr::Debug(payload)
            | Repr::SequencedData(payload)
            | Repr::UnsequencedData(payload) => payload.len(),
            Repr::LoginAccepted(_) => LOGIN_ACCEPTED_PAYLOAD_LEN,
            Repr::LoginRejected(_) => LOGIN_REJECTED_PAYLOAD_LEN,
            Repr::LoginRequest(_) => LOGIN_REQUEST_PAYLOAD_LEN,
            Repr::ServerHeartbeat
            | Repr::EndOfSession
            | Repr::ClientHeartbeat
            | Repr::LogoutRequest => 0,
        }
    }

    /// Bytes the whole packet takes, length field included.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Writes the whole packet into `buffer[..buffer_len()]`; returns `buffer_len()`.
    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let payload_len = self.payload_len();
        assert!(
            payload_len <= PAYLOAD_MAX,
            "payload longer than a packet can carry"
        );
        let total = HEADER_LEN + payload_len;
        let length = u16::try_from(payload_len + 1).unwrap_or(u16::MAX);
        let mut packet = Packet::new_unchecked(&mut buffer[..total]);
        packet.set_length(length);
        packet.set_type_byte(self.packet_type().code());
        let bytes = packet.into_inner();
        match self {
            Repr::Debug(payload)
            | Repr::SequencedData(payload)
            | Repr::UnsequencedData(payload) => {
                bytes[field::PAYLOAD].copy_from_slice(payload);
            }
            Repr::LoginAccepted(accepted) => {
                accepted.session.write(bytes, field::SESSION.start);
                write_ascii_u64(&mut bytes[field::SEQUENCE], accepted.next_seq);
            }
            Repr::LoginRejected(reason) => bytes[field::REJECT_REASON] = reason.code(),
            Repr::LoginRequest(request) => {
                request.username.write(bytes, field::USERNAME.start);
                request.password.write(bytes, field::PASSWORD.start);
                request
                    .requested_session
                    .write(bytes, field::REQUESTED_SESSION.start);
                write_ascii_u64(&mut bytes[field::REQUESTED_SEQUENCE], request.requested_seq);
            }
            Repr::ServerHeartbeat
            | Repr::EndOfSession
            | Repr::ClientHeartbeat
            | Repr::LogoutRequest => {}
        }
        total
    }
}

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repr::Debug(text) => write!(f, "Debug \"{}\"", AlphaDisplay(text)),
            Repr::LoginAccepted(accepted) => write!(
                f,
                "LoginAccepted session={} next_seq={}",
                AlphaDisplay(alpha_trimmed_left(&accepted.session)),
                accepted.next_seq
            ),
            Repr::LoginRejected(reason) => write!(f, "LoginRejected {reason}"),
            Repr::SequencedData(payload) => write!(f, "SequencedData {} bytes", payload.len()),
            Repr::UnsequencedData(payload) => write!(f, "UnsequencedData {} bytes", payload.len()),
            Repr::LoginRequest(request) => write!(
                f,
                "LoginRequest user={} session={} seq={}",
                AlphaDisplay(&request.username),
                AlphaDisplay(alpha_trimmed_left(&request.requested_session)),
                request.requested_seq
            ),
            Repr::ServerHeartbeat => f.write_str("ServerHeartbeat"),
            Repr::EndOfSession => f.write_str("EndOfSession"),
            Repr::ClientHeartbeat => f.write_str("ClientHeartbeat"),
            Repr::LogoutRequest => f.write_str("LogoutRequest"),
        }
    }
}

/// The field without its left padding.
pub fn alpha_trimmed_left(field: &[u8]) -> &[u8] {
    let start = field
        .iter()
        .position(|&byte| byte != b' ')
        .unwrap_or(field.len());
    alpha_trimmed(&field[start..])
}

/// Parses a space-padded ASCII decimal number (leading and trailing spaces allowed, all spaces
/// is 0). `None` for any other byte, digits split by a space, or overflow.
pub fn parse_ascii_u64(field: &[u8]) -> Option<u64> {
    let digits = alpha_trimmed_left(field);
    let mut value: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

/// Writes `value` right-justified in decimal, left-padded with spaces. The field must hold
/// at least 20 bytes (every `u64` fits).
fn write_ascii_u64(field: &mut [u8], mut value: u64) {
    assert!(field.len() >= SEQUENCE_LEN);
    field.fill(b' ');
    let mut index = field.len();
    loop {
        index -= 1;
        field[index] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::alpha;
    use proptest::prelude::*;

    struct Golden {
        name: &'static str,
        bytes: &'static [u8],
        repr: Repr<'static>,
    }

    const GOLDEN: &[Golden] = &[
        Golden {
            name: "Login Request",
            bytes: concat!(
                "\x00\x2f",
                "L",
                "ALICE ",
                "PASSWORD1 ",
                "       ABC",
                "                  42"
            )
            .as_bytes(),
            repr: Repr::LoginRequest(LoginRequest {
                username: *b"ALICE ",
                password: *b"PASSWORD1 ",
                requested_session: *b"       ABC",
                requested_seq: 42,
            }),
        },
        Golden {
            name: "Login Accepted",
            bytes: concat!("\x00\x1f", "A", "  SESSION1", "                   7").as_bytes(),
            repr: Repr::LoginAccepted(LoginAccepted {
                session: *b"  SESSION1",
                next_seq: 7,
            }),
        },
        Golden {
            name: "Login Rejected",
            bytes: b"\x00\x02JA",
            repr: Repr::LoginRejected(LoginRejectReason::NotAuthorized),
        },
        Golden {
            name: "Sequenced Data",
            bytes: b"\x00\x03Sxy",
            repr: Repr::SequencedData(b"xy"),
        },
        Golden {
            name: "Unsequenced Data",
            bytes: b"\x00\x02Uq",
            repr: Repr::UnsequencedData(b"q"),
        },
        Golden {
            name: "Server Heartbeat",
            bytes: b"\x00\x01H",
            repr: Repr::ServerHeartbeat,
        },
        Golden {
            name: "End of Session",
            bytes: b"\x00\x01Z",
            repr: Repr::EndOfSession,
        },
        Golden {
            name: "Client Heartbeat",
            bytes: b"\x00\x01R",
            repr: Repr::ClientHeartbeat,
        },
        Golden {
            name: "Logout Request",
            bytes: b"\x00\x01O",
            repr: Repr::LogoutRequest,
        },
        Golden {
            name: "Debug",
            bytes: b"\x00\x03+hi",
            repr: Repr::Debug(b"hi"),
        },
    ];

    #[test]
    fn golden_packets_parse_and_emit() {
        for row in GOLDEN {
            assert_eq!(Repr::parse_bytes(row.bytes), Ok(row.repr), "{}", row.name);
            let mut buffer = [0xa5u8; 80];
            assert_eq!(row.repr.buffer_len(), row.bytes.len(), "{}", row.name);
            let written = row.repr.emit(&mut buffer);
            assert_eq!(&buffer[..written], row.bytes, "{}", row.name);
            assert!(
                buffer[written..].iter().all(|&byte| byte == 0xa5),
                "{}",
                row.name
            );
            assert!(!row.repr.to_string().is_empty());
        }
    }

    #[test]
    fn split_reports_incomplete_then_frame() {
        let bytes = GOLDEN[0].bytes;
        for cut in 0..bytes.len() {
            let needed = match cut {
                0 | 1 => 2 - cut,
                2 => 1,
                _ => bytes.len() - cut,
            };
            assert_eq!(
                split(&bytes[..cut], Direction::ClientToServer, 100),
                Ok(Split::Incomplete { needed }),
                "cut at {cut}"
            );
        }
        assert_eq!(
            split(bytes, Direction::ClientToServer, 100),
            Ok(Split::Frame { len: bytes.len() })
        );
    }

    #[test]
    fn split_rejects_bad_headers_at_once() {
        let to_server = Direction::ClientToServer;
        assert_eq!(split(b"\x00\x00", to_server, 100), Err(Error::ZeroLength));
        assert_eq!(
            split(b"\x01\x00", to_server, 100),
            Err(Error::Oversize {
                length: 256,
                max: 100
            })
        );
        assert_eq!(
            split(b"\x00\x05Q", to_server, 100),
            Err(Error::UnknownType(b'Q'))
        );
        assert_eq!(
            split(b"\x00\x05S", to_server, 100),
            Err(Error::WrongDirection(PacketType::SequencedData))
        );
        assert_eq!(
            split(b"\x00\x02R", to_server, 100),
            Err(Error::BadLength {
                packet: PacketType::ClientHeartbeat,
                length: 2
            })
        );
        assert_eq!(
            split(b"\x00\x05+", to_server, 100),
            Ok(Split::Incomplete { needed: 4 })
        );
        assert_eq!(
            split(b"\x00\x01L", to_server, 100),
            Err(Error::BadLength {
                packet: PacketType::LoginRequest,
                length: 1
            })
        );
    }

    #[test]
    fn ascii_numbers() {
        assert_eq!(parse_ascii_u64(b"   12"), Some(12));
        assert_eq!(parse_ascii_u64(b"12   "), Some(12));
        assert_eq!(parse_ascii_u64(b"     "), Some(0));
        assert_eq!(parse_ascii_u64(b" 1 2 "), None);
        assert_eq!(parse_ascii_u64(b"  -1 "), None);
        assert_eq!(parse_ascii_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_ascii_u64(b"18446744073709551616"), None);
        let mut field = [0u8; 20];
        write_ascii_u64(&mut field, u64::MAX);
        assert_eq!(&field, b"18446744073709551615");
        write_ascii_u64(&mut field, 0);
        assert_eq!(&field, b"                   0");
        assert_eq!(session_name("ABC"), *b"       ABC");
        assert_eq!(alpha::<6>("ALICE"), *b"ALICE ");
    }

    #[test]
    fn login_fields_with_bad_numbers_are_errors() {
        let mut bytes = GOLDEN[0].bytes.to_vec();
        bytes[40] = b'x';
        assert_eq!(
            Repr::parse_bytes(&bytes),
            Err(Error::BadNumber { offset: 29 })
        );
        assert_eq!(
            Repr::parse_bytes(b"\x00\x02JQ"),
            Err(Error::BadNumber { offset: 3 })
        );
        assert_eq!(Repr::parse_bytes(b"\x00\x02H"), Err(Error::Truncated));
    }

    fn any_repr() -> impl Strategy<Value = (u8, Vec<u8>, [u8; 46])> {
        (
            0u8..10,
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<[u8; 46]>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn parse_inverts_emit((pick, payload, login) in any_repr()) {
            let seq = u64::from_be_bytes(login[..8].try_into().unwrap_or([0; 8]));
            let session: [u8; 10] = login[8..18].try_into().unwrap_or([b' '; 10]);
            let repr = match pick {
                0 => Repr::Debug(&payload),
                1 => Repr::LoginAccepted(LoginAccepted { session, next_seq: seq }),
                2 => Repr::LoginRejected(LoginRejectReason::SessionNotAvailable),
                3 => Repr::SequencedData(&payload),
                4 => Repr::ServerHeartbeat,
                5 => Repr::EndOfSession,
                6 => Repr::LoginRequest(LoginRequest {
                    username: login[18..24].try_into().unwrap_or([b' '; 6]),
                    password: login[24..34].try_into().unwrap_or([b' '; 10]),
                    requested_session: session,
                    requested_seq: seq,
                }),
                7 => Repr::UnsequencedData(&payload),
                8 => Repr::ClientHeartbeat,
                _ => Repr::LogoutRequest,
            };
            let mut buffer = vec![0xa5u8; repr.buffer_len()];
            let written = repr.emit(&mut buffer);
            prop_assert_eq!(written, buffer.len());
            prop_assert_eq!(Repr::parse_bytes(&buffer), Ok(repr));
            let direction = repr.packet_type().direction().unwrap_or(Direction::ServerToClient);
            prop_assert_eq!(split(&buffer, direction, u16::MAX), Ok(Split::Frame { len: written }));
        }

        #[test]
        fn split_and_parse_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            for direction in [Direction::ClientToServer, Direction::ServerToClient] {
                if let Ok(Split::Frame { len }) = split(&bytes, direction, 64) {
                    prop_assert!(len <= bytes.len());
                    let _ = Repr::parse_bytes(&bytes[..len]);
                }
            }
            let _ = Repr::parse_bytes(&bytes);
        }
    }
}
