//! Shared building blocks of the wire codecs: big-endian field access, the view-declaring table
//! macro, coded enums and ASCII alpha fields.
//!
//! # Invariants
//! - [`WireField::read`] and [`WireField::write`] index the buffer directly: they are only called
//!   by views after `check_len` proved that the fixed part is present (the smoltcp contract).
//! - Every view declared with [`view!`] has a compile-time check that its fields are contiguous,
//!   start at offset 0 and end exactly at the declared fixed length.
//! - Alpha fields are ASCII, left-justified and padded with spaces on the right.

use core::fmt;

/// A fixed-size big-endian field of a message.
pub trait WireField: Sized + Copy {
    /// Size of the field on the wire, in bytes.
    const SIZE: usize;
    /// Reads the field at `at`. Panics if `bytes` is shorter than `at + SIZE` (views check first).
    fn read(bytes: &[u8], at: usize) -> Self;
    /// Writes the field at `at`. Panics if `bytes` is shorter than `at + SIZE` (views check first).
    fn write(self, bytes: &mut [u8], at: usize);
}

macro_rules! int_field {
    ($($ty:ty),+) => {$(
        impl WireField for $ty {
            const SIZE: usize = core::mem::size_of::<$ty>();
            fn read(bytes: &[u8], at: usize) -> Self {
                let mut raw = [0u8; core::mem::size_of::<$ty>()];
                raw.copy_from_slice(&bytes[at..at + Self::SIZE]);
                <$ty>::from_be_bytes(raw)
            }
            fn write(self, bytes: &mut [u8], at: usize) {
                bytes[at..at + Self::SIZE].copy_from_slice(&self.to_be_bytes());
            }
        }
    )+};
}
int_field!(u8, u16, u32, u64, i32);

impl<const N: usize> WireField for [u8; N] {
    const SIZE: usize = N;
    fn read(bytes: &[u8], at: usize) -> Self {
        let mut raw = [0u8; N];
        raw.copy_from_slice(&bytes[at..at + N]);
        raw
    }
    fn write(self, bytes: &mut [u8], at: usize) {
        bytes[at..at + N].copy_from_slice(&self);
    }
}

/// Declares a view over a message with a fixed part: one getter and one setter per field, in
/// spec order, `new_checked` / `new_unchecked`, and a const assertion that the fields tile
/// `0..LEN` exactly. A table, nothing hidden: each row is `getter, setter: type = offset;`.
macro_rules! view {
    (
        $(#[$meta:meta])*
        $name:ident, $len:ident = $len_value:expr;
        $( $(#[$fmeta:meta])* $getter:ident, $setter:ident : $ty:ty = $offset:expr; )+
    ) => {
        /// Length of the fixed part of the message this view reads, in bytes.
        pub const $len: usize = $len_value;

        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps a buffer without checking its length: for emission into a buffer of at least
            /// the fixed length.
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps untrusted bytes: after this succeeds no getter panics.
            pub fn new_checked(buffer: T) -> Result<Self, $crate::wire::TooShort> {
                let view = Self::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// Fails when the buffer is shorter than the fixed part.
            pub fn check_len(&self) -> Result<(), $crate::wire::TooShort> {
                if self.buffer.as_ref().len() < $len_value {
                    Err($crate::wire::TooShort)
                } else {
                    Ok(())
                }
            }

            pub fn into_inner(self) -> T {
                self.buffer
            }

            /// The bytes after the fixed part (appendage, payload).
            pub fn rest(&self) -> &[u8] {
                &self.buffer.as_ref()[$len_value..]
            }

            $(
                $(#[$fmeta])*
                pub fn $getter(&self) -> $ty {
                    <$ty as $crate::wire::WireField>::read(self.buffer.as_ref(), $offset)
                }
            )+
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// The bytes after the fixed part, writable.
            pub fn rest_mut(&mut self) -> &mut [u8] {
                &mut self.buffer.as_mut()[$len_value..]
            }

            $(
                pub fn $setter(&mut self, value: $ty) {
                    $crate::wire::WireField::write(value, self.buffer.as_mut(), $offset)
                }
            )+
        }

        const _: () = {
            let offsets = [$($offset),+];
            let sizes = [$(<$ty as $crate::wire::WireField>::SIZE),+];
            let mut next = 0;
            let mut index = 0;
            while index < offsets.len() {
                assert!(offsets[index] == next, "view fields are not contiguous");
                next += sizes[index];
                index += 1;
            }
            assert!(next == $len_value, "view fields do not end at the fixed length");
        };
    };
}
pub(crate) use view;

/// Declares a closed set of wire codes (`u8` or `u16`) as an enum with `code`, `from_code`,
/// `ALL` and `Display` (the variant name). Unknown codes give `None`, never a panic.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident: $repr:ty { $( $(#[$vmeta:meta])* $variant:ident = $code:expr, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The code on the wire.
            pub const fn code(self) -> $repr {
                match self {
                    $( $name::$variant => $code, )+
                }
            }

            /// The value a wire code stands for, `None` for a code outside the set.
            pub const fn from_code(code: $repr) -> Option<$name> {
                match code {
                    $( $code => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let name = match self { $( $name::$variant => stringify!($variant), )+ };
                f.write_str(name)
            }
        }
    };
}
pub(crate) use wire_enum;

/// The buffer is shorter than the fixed part of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooShort;

/// An alpha field from text: left-justified, space-padded, truncated to `N` bytes.
pub fn alpha<const N: usize>(text: &str) -> [u8; N] {
    let mut field = [b' '; N];
    for (slot, byte) in field.iter_mut().zip(text.bytes()) {
        *slot = byte;
    }
    field
}

/// The field without its right padding.
pub fn alpha_trimmed(field: &[u8]) -> &[u8] {
    let end = field
        .iter()
        .rposition(|&byte| byte != b' ')
        .map_or(0, |last| last + 1);
    &field[..end]
}

/// True when every byte is printable ASCII (space included).
pub fn is_printable(field: &[u8]) -> bool {
    field.iter().all(|&byte| (0x20..0x7f).contains(&byte))
}

/// Displays an alpha field, trimmed, with non-printable bytes as `\xNN`.
pub struct AlphaDisplay<'a>(pub &'a [u8]);

impl fmt::Display for AlphaDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &byte in alpha_trimmed(self.0) {
            if (0x20..0x7f).contains(&byte) {
                write!(f, "{}", char::from(byte))?;
            } else {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

/// Displays a price with 4 implied decimals.
pub struct PriceDisplay(pub u64);

impl fmt::Display for PriceDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:04}", self.0 / 10_000, self.0 % 10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_pads_and_trims() {
        assert_eq!(alpha::<6>("AB"), *b"AB    ");
        assert_eq!(alpha::<2>("ABCD"), *b"AB");
        assert_eq!(alpha_trimmed(b"AB  "), b"AB");
        assert_eq!(alpha_trimmed(b"    "), b"");
        assert_eq!(AlphaDisplay(b"A\x01 ").to_string(), "A\\x01");
        assert_eq!(PriceDisplay(1_234_500).to_string(), "123.4500");
    }

    #[test]
    fn fields_are_big_endian() {
        let mut bytes = [0u8; 8];
        0x0102_0304u32.write(&mut bytes, 2);
        assert_eq!(bytes, [0, 0, 1, 2, 3, 4, 0, 0]);
        assert_eq!(u32::read(&bytes, 2), 0x0102_0304);
        assert_eq!(i32::read(&(-2i32).to_be_bytes(), 0), -2);
    }
}
