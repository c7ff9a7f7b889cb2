//! Shared pieces of the feed's wire codecs: the one wire [`Error`], big-endian field access,
//! space-padded ASCII fields and the small table macro for coded enums.
//!
//! # Invariants
//! - Field access reads and writes exactly `WIDTH` bytes at a given offset. A caller that has
//!   checked the buffer's length (a view's `new_checked`, or an emit into a buffer of exactly
//!   `buffer_len` bytes) can never make it panic.
//! - [`Alpha`] values hold printable ASCII only (`0x20..=0x7e`), so whatever one holds can be
//!   put on the wire and read back by a strict decoder.
//!
//! # Panic contract
//! Functions here panic only when handed a buffer shorter than the field they address; every
//! codec calls them after a length check.

use core::fmt;

/// Why bytes are not a valid message or packet. One small value: the caller drops the input
/// either way and counts the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Fewer bytes than the message or header needs.
    Truncated,
    /// More bytes than the message's fixed length (an ITCH block must be exact).
    Overlong,
    /// The type byte is not the one this view reads.
    WrongType(u8),
    /// The type byte is not an ITCH 5.0 message this crate decodes.
    UnknownType(u8),
    /// A field holds a value its spec does not allow: the byte offset of the field.
    BadValue(u8),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => write!(f, "truncated"),
            Error::Overlong => write!(f, "longer than the message's fixed length"),
            Error::WrongType(byte) => write!(f, "wrong type byte 0x{byte:02x}"),
            Error::UnknownType(byte) => write!(f, "unknown message type 0x{byte:02x}"),
            Error::BadValue(offset) => write!(f, "invalid value in the field at byte {offset}"),
        }
    }
}

impl std::error::Error for Error {}

/// A fixed-width big-endian wire field.
pub trait Field: Copy {
    /// Bytes on the wire.
    const WIDTH: usize;
    /// Reads the field at `start`. Panics if `bytes` is shorter than `start + WIDTH`.
    fn read(bytes: &[u8], start: usize) -> Self;
    /// Writes the field at `start`. Panics if `bytes` is shorter than `start + WIDTH`.
    fn write(self, bytes: &mut [u8], start: usize);
}

macro_rules! int_field {
    ($($ty:ty),*) => {$(
        impl Field for $ty {
            const WIDTH: usize = core::mem::size_of::<$ty>();
            fn read(bytes: &[u8], start: usize) -> Self {
                let mut raw = [0u8; core::mem::size_of::<$ty>()];
                raw.copy_from_slice(&bytes[start..start + Self::WIDTH]);
                <$ty>::from_be_bytes(raw)
            }
            fn write(self, bytes: &mut [u8], start: usize) {
                bytes[start..start + Self::WIDTH].copy_from_slice(&self.to_be_bytes());
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64);

impl<const N: usize> Field for [u8; N] {
    const WIDTH: usize = N;
    fn read(bytes: &[u8], start: usize) -> Self {
        let mut raw = [0u8; N];
        raw.copy_from_slice(&bytes[start..start + N]);
        raw
    }
    fn write(self, bytes: &mut [u8], start: usize) {
        bytes[start..start + N].copy_from_slice(&self);
    }
}

/// True when `fields` (start, width) tile `first..len` exactly, in order, without gap or
/// overlap. Used in `const` assertions on every view's layout.
pub const fn layout_tiles(fields: &[(usize, usize)], first: usize, len: usize) -> bool {
    let mut next = first;
    let mut index = 0;
    while index < fields.len() {
        if fields[index].0 != next {
            return false;
        }
        next += fields[index].1;
        index += 1;
    }
    next == len
}

/// True for a printable ASCII byte (space included), the alphabet of ITCH alpha fields.
pub const fn is_printable(byte: u8) -> bool {
    byte >= 0x20 && byte <= 0x7e
}

/// A left-justified, space-padded ASCII field of `N` bytes (ITCH stock, MPID, reason; MoldUDP64
/// session). Holds printable ASCII only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Alpha<const N: usize>([u8; N]);

/// ITCH stock symbol: 8 bytes.
pub type Symbol = Alpha<8>;
/// ITCH market participant identifier (attribution): 4 bytes.
pub type Mpid = Alpha<4>;

impl<const N: usize> Alpha<N> {
    /// All spaces.
    pub const BLANK: Alpha<N> = Alpha([b' '; N]);

    /// The bytes as they go on the wire, or `None` if any byte is not printable ASCII.
    pub const fn new(bytes: [u8; N]) -> Option<Self> {
        let mut index = 0;
        while index < N {
            if !is_printable(bytes[index]) {
                return None;
            }
            index += 1;
        }
        Some(Alpha(bytes))
    }

    /// Left-justified and space-padded; `None` if the text is longer than `N` bytes or not
    /// printable ASCII.
    pub fn from_text(text: &str) -> Option<Self> {
        if text.len() > N {
            return None;
        }
        let mut bytes = [b' '; N];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Self::new(bytes)
    }

    pub const fn bytes(&self) -> [u8; N] {
        self.0
    }

    /// The text without its trailing spaces.
    pub fn trimmed(&self) -> &str {
        let end = self
            .0
            .iter()
            .rposition(|&byte| byte != b' ')
            .map_or(0, |index| index + 1);
        // Printable ASCII is valid UTF-8 (invariant of the type), so this never falls back.
        core::str::from_utf8(&self.0[..end]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Display for Alpha<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.trimmed())
    }
}

impl<const N: usize> fmt::Debug for Alpha<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.trimmed())
    }
}

/// Reads an alpha field, judging every byte; the error names the field's offset.
pub fn read_alpha<const N: usize>(bytes: &[u8], start: usize) -> Result<Alpha<N>, Error> {
    Alpha::new(<[u8; N]>::read(bytes, start)).ok_or(Error::BadValue(offset_u8(start)))
}

/// A field offset as carried in [`Error::BadValue`] (every ITCH and Mold offset is below 256).
pub const fn offset_u8(start: usize) -> u8 {
    assert!(start < 256);
    start as u8
}

/// Declares a fieldless enum of wire codes (one ASCII byte each) with `code`, `from_code`,
/// `ALL` and `Display`. A table, nothing hidden.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:expr,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vmeta])* $variant = $code,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The byte on the wire.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The value a wire byte stands for, or `None` for a byte outside the set.
            pub const fn from_code(code: u8) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let name = match self { $($name::$variant => stringify!($variant),)+ };
                f.write_str(name)
            }
        }
    };
}
pub(crate) use wire_enum;

/// Reads a coded enum field, judging the byte; the error names the field's offset.
pub fn read_code<E>(
    bytes: &[u8],
    start: usize,
    from_code: fn(u8) -> Option<E>,
) -> Result<E, Error> {
    from_code(u8::read(bytes, start)).ok_or(Error::BadValue(offset_u8(start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_big_endian() {
        let mut bytes = [0xa5u8; 15];
        0x0102_0304_0506_0708u64.write(&mut bytes, 1);
        0x090au16.write(&mut bytes, 9);
        0x0b0c_0d0eu32.write(&mut bytes, 11);
        assert_eq!(bytes, [0xa5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
        assert_eq!(u64::read(&bytes, 1), 0x0102_0304_0506_0708);
        assert_eq!(u16::read(&bytes, 9), 0x090a);
        assert_eq!(u32::read(&bytes, 11), 0x0b0c_0d0e);
    }

    #[test]
    fn alpha_pads_and_judges() {
        let symbol = Symbol::from_text("AAPL").expect("fits");
        assert_eq!(symbol.bytes(), *b"AAPL    ");
        assert_eq!(symbol.trimmed(), "AAPL");
        assert_eq!(symbol.to_string(), "AAPL");
        assert!(Symbol::from_text("TOOLONGSYM").is_none());
        assert!(Symbol::new(*b"AAP\x00    ").is_none());
        assert!(Mpid::new(*b"\x7fABC").is_none());
        assert_eq!(Mpid::BLANK.trimmed(), "");
    }

    #[test]
    fn layout_tiles_detects_gaps_and_overlaps() {
        assert!(layout_tiles(&[(11, 8), (19, 4)], 11, 23));
        assert!(!layout_tiles(&[(11, 8), (20, 4)], 11, 24));
        assert!(!layout_tiles(&[(11, 8), (18, 4)], 11, 22));
        assert!(!layout_tiles(&[(11, 8)], 11, 20));
    }
}
