//! FIX tag=value codec: framing (BeginString, BodyLength, CheckSum), a field view over one
//! message, and a writer that produces whole messages with BodyLength and CheckSum filled in.
//!
//! Parsing borrows the caller's bytes: [`frame`] finds one whole message at the start of a
//! buffer and judges its BodyLength and CheckSum; [`Fields::parse`] splits it into at most
//! [`FIELDS_MAX`] `(tag, value)` ranges kept in a fixed array. Writing goes into a caller
//! buffer through [`Writer`]; [`finish_message`] prepends the BeginString and BodyLength and
//! appends the CheckSum. Nothing here allocates.
//!
//! # Invariants
//! - [`frame`] returns `Ok(Some(len))` only for a message that starts `8=FIX.4.4<SOH>9=N<SOH>`,
//!   whose body is exactly N bytes, followed by `10=XYZ<SOH>` with XYZ the byte sum mod 256.
//! - A [`Fields`] holds ranges inside the message it was parsed from, in wire order; every
//!   range is non-empty (an empty value is a parse error).
//! - No input makes this module panic: every failure is a [`FrameError`] or [`FieldError`].
//! - A writer never writes past its buffer: a field that does not fit sets `overflow`, and
//!   [`finish_message`] then refuses.

use core::fmt;

pub const SOH: u8 = 0x01;
/// `8=FIX.4.4<SOH>9=`.
pub const BEGIN: &[u8] = b"8=FIX.4.4\x019=";
/// Largest BodyLength accepted from a peer.
pub const BODY_LENGTH_MAX: usize = 4096;
/// Fields kept per message; a longer message is refused with a session Reject.
pub const FIELDS_MAX: usize = 96;
/// Bytes of `10=XYZ<SOH>`.
pub const TRAILER_LEN: usize = 7;
/// Room a writer keeps before the body for `8=FIX.4.4<SOH>9=NNNN<SOH>`.
pub const HEADER_ROOM: usize = 24;

const _: () = assert!(BEGIN.len() + 5 < HEADER_ROOM);

/// Why bytes are not a FIX message. `BadBeginString` and `BadBodyLength` leave the stream
/// without a message boundary (disconnect); a `ChecksumMismatch` message is whole and is
/// skipped as garbled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    BadBeginString,
    BadBodyLength,
    /// The trailer is not `10=NNN<SOH>` right after the body.
    BadTrailer,
    /// `len` is the whole message's length, so it can be skipped.
    ChecksumMismatch {
        expected: u8,
        received: u8,
        len: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadBeginString => write!(f, "BeginString is not FIX.4.4"),
            FrameError::BadBodyLength => write!(f, "BodyLength missing or out of range"),
            FrameError::BadTrailer => write!(f, "CheckSum field not where BodyLength says"),
            FrameError::ChecksumMismatch {
                expected, received, ..
            } => {
                write!(
                    f,
                    "CheckSum {received:03} but the bytes sum to {expected:03}"
                )
            }
        }
    }
}

/// The byte sum mod 256 of `bytes`.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

fn parse_digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 18 {
        return None;
    }
    let mut value = 0u64;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
    }
    Some(value)
}

/// Finds one whole message at the start of `input`: `Ok(None)` when more bytes are needed,
/// `Ok(Some(len))` for a message of `len` bytes whose checksum is right.
pub fn frame(input: &[u8]) -> Result<Option<usize>, FrameError> {
    let prefix = input.len().min(BEGIN.len());
    if input[..prefix] != BEGIN[..prefix] {
        return Err(FrameError::BadBeginString);
    }
    if input.len() <= BEGIN.len() {
        return Ok(None);
    }
    let digits = &input[BEGIN.len()..];
    let Some(end) = digits.iter().take(6).position(|&b| b == SOH) else {
        return if digits.len() < 6 && digits.iter().all(u8::is_ascii_digit) {
            Ok(None)
        } else {
            Err(FrameError::BadBodyLength)
        };
    };
    let body_len = parse_digits(&digits[..end]).ok_or(FrameError::BadBodyLength)?;
    let body_len = usize::try_from(body_len).map_err(|_| FrameError::BadBodyLength)?;
    if body_len == 0 || body_len > BODY_LENGTH_MAX {
        return Err(FrameError::BadBodyLength);
    }
    let body_start = BEGIN.len() + end + 1;
    let trailer_start = body_start + body_len;
    let total = trailer_start + TRAILER_LEN;
    if input.len() < total {
        return Ok(None);
    }
    let trailer = &input[trailer_start..total];
    if &trailer[..3] != b"10=" || trailer[6] != SOH || input[trailer_start - 1] != SOH {
        return Err(FrameError::BadTrailer);
    }
    let received = parse_digits(&trailer[3..6]).ok_or(FrameError::BadTrailer)?;
    let received = u8::try_from(received).map_err(|_| FrameError::BadTrailer)?;
    let expected = checksum(&input[..trailer_start]);
    if expected != received {
        return Err(FrameError::ChecksumMismatch {
            expected,
            received,
            len: total,
        });
    }
    Ok(Some(total))
}

/// The session Reject reasons (tag 373) this codec and the session layer use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    InvalidTagNumber = 0,
    RequiredTagMissing = 1,
    TagNotDefinedForMessageType = 2,
    TagSpecifiedWithoutValue = 4,
    ValueIncorrect = 5,
    IncorrectDataFormat = 6,
    CompIdProblem = 9,
    SendingTimeAccuracy = 10,
    InvalidMsgType = 11,
    TagAppearsMoreThanOnce = 13,
    TagOutOfOrder = 14,
    Other = 99,
}

/// Why a framed message's fields cannot be used; answered with a session Reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub reason: RejectReason,
    /// The tag concerned (0 when none).
    pub tag: u32,
}

impl FieldError {
    pub const fn new(reason: RejectReason, tag: u32) -> FieldError {
        FieldError { reason, tag }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (tag {})", self.reason, self.tag)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Field {
    tag: u32,
    start: u16,
    end: u16,
}

/// The fields of one framed message (`8`, `9` and `10` included), in wire order.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    bytes: &'a [u8],
    fields: [Field; FIELDS_MAX],
    count: usize,
}

impl<'a> Fields<'a> {
    /// Splits a message that [`frame`] accepted. Checks tag syntax, empty values, the field
    /// count, that `35` is the third field, and that no header tag appears twice.
    pub fn parse(bytes: &'a [u8]) -> Result<Fields<'a>, FieldError> {
        let mut fields = Fields {
            bytes,
            fields: [Field::default(); FIELDS_MAX],
            count: 0,
        };
        let limit = bytes.len().min(usize::from(u16::MAX));
        let mut at = 0;
        // Bounded: each pass consumes at least one byte.
        while at < limit {
            let rest = &bytes[at..limit];
            let equals = rest.iter().position(|&b| b == b'=');
            let equals = equals.ok_or(FieldError::new(RejectReason::InvalidTagNumber, 0))?;
            let tag = parse_digits(&rest[..equals])
                .filter(|&tag| tag > 0 && rest[0] != b'0')
                .and_then(|tag| u32::try_from(tag).ok())
                .ok_or(FieldError::new(RejectReason::InvalidTagNumber, 0))?;
            let value = &rest[equals + 1..];
            let soh = value.iter().position(|&b| b == SOH);
            let soh = soh.ok_or(FieldError::new(RejectReason::IncorrectDataFormat, tag))?;
            if soh == 0 {
                return Err(FieldError::new(RejectReason::TagSpecifiedWithoutValue, tag));
            }
            if fields.count == FIELDS_MAX {
                return Err(FieldError::new(RejectReason::Other, tag));
            }
            let start = at + equals + 1;
            fields.fields[fields.count] = Field {
                tag,
                start: start as u16,
                end: (start + soh) as u16,
            };
            fields.count += 1;
            at = start + soh + 1;
        }
        fields.check_header()?;
        Ok(fields)
    }

    fn check_header(&self) -> Result<(), FieldError> {
        let order = [8u32, 9, 35];
        for (index, &tag) in order.iter().enumerate() {
            if self.fields.get(index).map(|f| f.tag) != Some(tag) || index >= self.count {
                return Err(FieldError::new(RejectReason::TagOutOfOrder, tag));
            }
        }
        for tag in [35u32, 49, 56, 34, 52, 43, 122] {
            if self.iter().filter(|&(t, _)| t == tag).count() > 1 {
                return Err(FieldError::new(RejectReason::TagAppearsMoreThanOnce, tag));
            }
        }
        Ok(())
    }

    /// The whole message.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// `(tag, value)` in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'a [u8])> + '_ {
        let bytes = self.bytes;
        self.fields[..self.count]
            .iter()
            .map(move |f| (f.tag, &bytes[usize::from(f.start)..usize::from(f.end)]))
    }

    /// The first value of `tag`.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        let field = self.fields[..self.count].iter().find(|f| f.tag == tag)?;
        Some(&self.bytes[usize::from(field.start)..usize::from(field.end)])
    }

    pub fn msg_type(&self) -> &'a [u8] {
        self.get(35).unwrap_or(b"")
    }

    /// A required field.
    pub fn required(&self, tag: u32) -> Result<&'a [u8], FieldError> {
        self.get(tag)
            .ok_or(FieldError::new(RejectReason::RequiredTagMissing, tag))
    }

    /// An optional unsigned integer field.
    pub fn u64_of(&self, tag: u32) -> Result<Option<u64>, FieldError> {
        match self.get(tag) {
            None => Ok(None),
            Some(value) => parse_digits(value)
                .map(Some)
                .ok_or(FieldError::new(RejectReason::IncorrectDataFormat, tag)),
        }
    }

    /// A required unsigned integer field.
    pub fn required_u64(&self, tag: u32) -> Result<u64, FieldError> {
        self.u64_of(tag)?
            .ok_or(FieldError::new(RejectReason::RequiredTagMissing, tag))
    }

    /// A Boolean (`Y`/`N`) field; absent is `false`.
    pub fn flag(&self, tag: u32) -> Result<bool, FieldError> {
        match self.get(tag) {
            None | Some(b"N") => Ok(false),
            Some(b"Y") => Ok(true),
            Some(_) => Err(FieldError::new(RejectReason::ValueIncorrect, tag)),
        }
    }

    /// A single-character field.
    pub fn char_of(&self, tag: u32) -> Result<Option<u8>, FieldError> {
        match self.get(tag) {
            None => Ok(None),
            Some(&[c]) => Ok(Some(c)),
            Some(_) => Err(FieldError::new(RejectReason::ValueIncorrect, tag)),
        }
    }

    /// A decimal price in 1/10,000 units (at most four significant decimals).
    pub fn price_of(&self, tag: u32) -> Result<Option<i64>, FieldError> {
        match self.get(tag) {
            None => Ok(None),
            Some(value) => parse_decimal4(value)
                .map(Some)
                .ok_or(FieldError::new(RejectReason::IncorrectDataFormat, tag)),
        }
    }

    /// A whole-share quantity (a decimal point with zero decimals is accepted).
    pub fn qty_of(&self, tag: u32) -> Result<Option<u32>, FieldError> {
        let Some(value) = self.price_of(tag)? else {
            return Ok(None);
        };
        let whole = (value % 10_000 == 0)
            .then_some(value / 10_000)
            .and_then(|shares| u32::try_from(shares).ok());
        whole
            .map(Some)
            .ok_or(FieldError::new(RejectReason::ValueIncorrect, tag))
    }
}

/// Parses `[-]digits[.digits]` into units of 1/10,000; `None` for anything else or more than
/// four non-zero decimals.
pub fn parse_decimal4(text: &[u8]) -> Option<i64> {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let whole = if whole.is_empty() {
        0
    } else {
        parse_digits(whole)?
    };
    if whole > 900_000_000_000_000 / 10_000 || fraction.len() > 18 {
        return None;
    }
    let mut units = whole * 10_000;
    for (index, &b) in fraction.iter().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let digit = u64::from(b - b'0');
        if index < 4 {
            units += digit * 10u64.pow(3 - index as u32);
        } else if digit != 0 {
            return None;
        }
    }
    let units = i64::try_from(units).ok()?;
    Some(if negative { -units } else { units })
}

/// Writes `tag=value<SOH>` fields into a buffer; refuses (sets `overflow`) rather than
/// writing past it.
pub struct Writer<'b> {
    buffer: &'b mut [u8],
    len: usize,
    overflow: bool,
}

impl<'b> Writer<'b> {
    pub fn new(buffer: &'b mut [u8]) -> Writer<'b> {
        Writer {
            buffer,
            len: 0,
            overflow: false,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if self.overflow || end > self.buffer.len() {
            self.overflow = true;
            return;
        }
        self.buffer[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    fn put_u64(&mut self, value: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.put(&digits[at..]);
    }

    fn tag(&mut self, tag: u32) {
        self.put_u64(u64::from(tag));
        self.put(b"=");
    }

    pub fn bytes(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        self.tag(tag);
        self.put(value);
        self.put(&[SOH]);
        self
    }

    pub fn u64(&mut self, tag: u32, value: u64) -> &mut Self {
        self.tag(tag);
        self.put_u64(value);
        self.put(&[SOH]);
        self
    }

    pub fn char(&mut self, tag: u32, value: u8) -> &mut Self {
        self.bytes(tag, &[value])
    }

    /// A price in 1/10,000 units as a decimal (`1234500` → `123.45`).
    pub fn price(&mut self, tag: u32, units: i64) -> &mut Self {
        self.tag(tag);
        if units < 0 {
            self.put(b"-");
        }
        let magnitude = units.unsigned_abs();
        self.put_u64(magnitude / 10_000);
        let mut fraction = magnitude % 10_000;
        if fraction != 0 {
            let mut digits = [b'.', b'0', b'0', b'0', b'0'];
            for at in (1..5).rev() {
                digits[at] = b'0' + (fraction % 10) as u8;
                fraction /= 10;
            }
            let mut end = digits.len();
            while digits[end - 1] == b'0' {
                end -= 1;
            }
            self.put(&digits[..end]);
        }
        self.put(&[SOH]);
        self
    }

    /// A UTCTimestamp with milliseconds from Unix nanoseconds.
    pub fn timestamp(&mut self, tag: u32, unix_ns: u64) -> &mut Self {
        let text = utc_timestamp(unix_ns);
        self.bytes(tag, &text)
    }
}

/// `YYYYMMDD-HH:MM:SS.sss` for Unix nanoseconds (proleptic Gregorian calendar, UTC).
pub fn utc_timestamp(unix_ns: u64) -> [u8; 21] {
    let millis = unix_ns / 1_000_000;
    let seconds = millis / 1_000;
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut text = *b"00000000-00:00:00.000";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for index in (at..at + width).rev() {
            text[index] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(4, 2, month);
    put(6, 2, day);
    put(9, 2, second_of_day / 3_600);
    put(12, 2, second_of_day / 60 % 60);
    put(15, 2, second_of_day % 60);
    put(18, 3, millis % 1_000);
    text
}

/// Year, month, day of the `days`th day after 1970-01-01 (H. Hinnant's civil-from-days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Turns `buffer[HEADER_ROOM..HEADER_ROOM + body_len]` (fields from `35=` on) into a whole
/// message: writes `8=FIX.4.4<SOH>9=N<SOH>` right before the body, the CheckSum after it, and
/// moves the result to the start of `buffer`. Returns the message length, `None` if the
/// trailer does not fit.
pub fn finish_message(buffer: &mut [u8], body_len: usize) -> Option<usize> {
    let body_end = HEADER_ROOM + body_len;
    if body_end + TRAILER_LEN > buffer.len() || body_len > 99_999 {
        return None;
    }
    let mut length = [0u8; 8];
    let mut writer = Writer::new(&mut length);
    writer.put_u64(body_len as u64);
    let digits = writer.len();
    let header_len = BEGIN.len() + digits + 1;
    let start = HEADER_ROOM - header_len;
    buffer[start..start + BEGIN.len()].copy_from_slice(BEGIN);
    buffer[start + BEGIN.len()..start + BEGIN.len() + digits].copy_from_slice(&length[..digits]);
    buffer[HEADER_ROOM - 1] = SOH;
    let sum = checksum(&buffer[start..body_end]);
    let trailer = [
        b'1',
        b'0',
        b'=',
        b'0' + sum / 100,
        b'0' + sum / 10 % 10,
        b'0' + sum % 10,
        SOH,
    ];
    buffer[body_end..body_end + TRAILER_LEN].copy_from_slice(&trailer);
    let total = body_end + TRAILER_LEN - start;
    buffer.copy_within(start..body_end + TRAILER_LEN, 0);
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(text: &str) -> Vec<u8> {
        text.replace('|', "\x01").into_bytes()
    }

    fn build(body: &str) -> Vec<u8> {
        let mut buffer = [0xa5u8; 512];
        let body = fix(body);
        buffer[HEADER_ROOM..HEADER_ROOM + body.len()].copy_from_slice(&body);
        let len = finish_message(&mut buffer, body.len()).expect("fits");
        buffer[..len].to_vec()
    }

    #[test]
    fn a_known_message_frames_with_its_spec_checksum() {
        // BodyLength 46 and CheckSum 103 computed independently (Python) for this Heartbeat.
        let message = build("35=0|49=A|56=B|34=12|52=20260101-00:00:00.000|");
        let text = String::from_utf8_lossy(&message).replace('\x01', "|");
        assert!(text.starts_with("8=FIX.4.4|9=46|35=0|"), "{text}");
        assert!(text.ends_with("|10=103|"), "{text}");
        let sum = checksum(&message[..message.len() - TRAILER_LEN]);
        assert!(text.ends_with(&format!("|10={sum:03}|")), "{text}");
        assert_eq!(frame(&message), Ok(Some(message.len())));
        for cut in 0..message.len() {
            assert_eq!(frame(&message[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn bad_checksum_length_and_begin_string_are_typed_errors() {
        let mut message = build("35=0|49=A|56=B|34=1|52=20260101-00:00:00.000|");
        let len = message.len();
        message[len - 2] = if message[len - 2] == b'9' { b'0' } else { b'9' };
        assert!(matches!(
            frame(&message),
            Err(FrameError::ChecksumMismatch { .. })
        ));
        assert_eq!(frame(b"8=FIX.4.2\x01"), Err(FrameError::BadBeginString));
        assert_eq!(
            frame(b"8=FIX.4.4\x019=x\x01"),
            Err(FrameError::BadBodyLength)
        );
        assert_eq!(
            frame(b"8=FIX.4.4\x019=99999\x01"),
            Err(FrameError::BadBodyLength)
        );
        let short = fix("8=FIX.4.4|9=5|35=0|49=A|10=000|");
        assert_eq!(frame(&short), Err(FrameError::BadTrailer));
    }

    #[test]
    fn fields_are_read_and_judged() {
        let message = build("35=D|49=A|56=B|34=3|52=x|11=c1|38=100|44=12.3400|54=1|");
        let fields = Fields::parse(&message).expect("fields");
        assert_eq!(fields.msg_type(), b"D");
        assert_eq!(fields.get(11), Some(&b"c1"[..]));
        assert_eq!(fields.qty_of(38), Ok(Some(100)));
        assert_eq!(fields.price_of(44), Ok(Some(123_400)));
        assert_eq!(
            fields.required(1).map_err(|e| e.reason),
            Err(RejectReason::RequiredTagMissing)
        );
        let empty = build("35=D|49=A|11=|");
        assert_eq!(
            Fields::parse(&empty).map(|_| ()).map_err(|e| e.reason),
            Err(RejectReason::TagSpecifiedWithoutValue)
        );
        let twice = build("35=D|34=1|34=2|");
        assert_eq!(
            Fields::parse(&twice).map(|_| ()).map_err(|e| e.tag),
            Err(34)
        );
        let bad_tag = build("35=D|4x=1|");
        assert!(Fields::parse(&bad_tag).is_err());
    }

    #[test]
    fn decimals_and_timestamps() {
        assert_eq!(parse_decimal4(b"100"), Some(1_000_000));
        assert_eq!(parse_decimal4(b"0.01"), Some(100));
        assert_eq!(parse_decimal4(b"-1.5"), Some(-15_000));
        assert_eq!(parse_decimal4(b"1.00001"), None);
        assert_eq!(parse_decimal4(b"1.000010"), None);
        assert_eq!(parse_decimal4(b"1.23450000"), Some(12_345));
        assert_eq!(parse_decimal4(b"."), None);
        assert_eq!(parse_decimal4(b"1e3"), None);
        let mut buffer = [0u8; 64];
        let mut writer = Writer::new(&mut buffer);
        writer.price(44, 1_234_500).price(6, 0).price(31, -15_000);
        let len = writer.len();
        assert_eq!(&buffer[..len], b"44=123.45\x016=0\x0131=-1.5\x01");
        // 2026-11-22 03:17:07.123 UTC.
        let unix_ns = 1_795_317_427_123_000_000;
        assert_eq!(&utc_timestamp(unix_ns), b"20261122-03:17:07.123");
        assert_eq!(&utc_timestamp(0), b"19700101-00:00:00.000");
        assert_eq!(
            &utc_timestamp(951_782_400_000_000_000),
            b"20000229-00:00:00.000"
        );
    }

    #[test]
    fn a_writer_refuses_to_overflow() {
        let mut buffer = [0u8; 8];
        let mut writer = Writer::new(&mut buffer);
        writer.bytes(58, b"too long for eight");
        assert!(writer.overflowed());
    }
}
