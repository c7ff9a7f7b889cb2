//! [`RiskSnapshot`]: the part of the risk state that the engine's orders cannot rebuild, and
//! its byte layout for the journal's snapshot files.
//!
//! A snapshot holds limits (configuration form, `0` = off), blocked and cancel-on-disconnect
//! flags, positions, collar references and the throttle rings. Open exposure is *not* in it:
//! it is a function of the resting orders, so restore recomputes it from the engine snapshot.
//!
//! # Layout (version 1, little-endian, no padding between records)
//! ```text
//! header   20 bytes  magic "PGRS" | version u16 = 1 | reserved u16 = 0
//!                    | account_count u32 | instrument_count u32 | throttle_history_len u32
//! accounts 52 bytes each: flags u8 (bit 0 blocked, bit 1 cancel-on-disconnect, others 0)
//!                    | reserved [u8; 3] = 0 | throttle_head u32 | throttle_len u32
//!                    | max_open_orders i64 | max_gross_open_notional i64
//!                    | max_gross_position i64 | throttle_orders_per_interval i64
//!                    | throttle_interval_ns i64
//! cells    40 bytes each, account-major (account_count × instrument_count):
//!                    max_order_qty i64 | max_order_notional i64 | price_collar_bps i64
//!                    | max_net_position i64 | position_qty i64
//! prices    8 bytes each (instrument_count): reference price i64, 0 = none
//! throttle  8 bytes each (account_count × throttle_history_len): ring slots u64, ns
//! ```
//!
//! # Invariants
//! - `decode` never panics and never allocates more than the input's length justifies: the
//!   total size is computed with checked arithmetic and compared with the input before any
//!   vector is sized.
//! - `decode(encode(s)) == s` for every `s` that [`RiskSnapshot::validate`] accepts, and
//!   `decode` returns only snapshots that `validate` accepts.

use peregrine_engine::Price;

use crate::config::{throttle_count_fits, InstrumentLimits};

const MAGIC: [u8; 4] = *b"PGRS";
/// The layout version `encode` writes and `decode` reads.
pub const SNAPSHOT_VERSION: u16 = 1;
const HEADER_BYTES: usize = 20;
const ACCOUNT_BYTES: usize = 52;
const CELL_BYTES: usize = 40;
const PRICE_BYTES: usize = 8;
const SLOT_BYTES: usize = 8;
const FLAG_BLOCKED: u8 = 1;
const FLAG_CANCEL_ON_DISCONNECT: u8 = 2;

const _: () = assert!(HEADER_BYTES == 4 + 2 + 2 + 4 + 4 + 4);
const _: () = assert!(ACCOUNT_BYTES == 1 + 3 + 4 + 4 + 5 * 8);
const _: () = assert!(CELL_BYTES == 5 * 8);

/// One account's saved state. Limits in configuration form (`0` = off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub blocked: bool,
    pub cancel_on_disconnect: bool,
    pub max_open_orders: i64,
    pub max_gross_open_notional: i64,
    pub max_gross_position: i64,
    pub throttle_orders_per_interval: i64,
    pub throttle_interval_ns: i64,
    /// Next ring slot to write: `0..throttle_history_len` (0 when the ring is empty-sized).
    pub throttle_head: u32,
    /// Admitted orders the ring remembers: `0..=throttle_history_len`.
    pub throttle_len: u32,
}

/// One (account, instrument) pair's saved state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CellSnapshot {
    pub limits: InstrumentLimits,
    /// Net filled shares.
    pub position_qty: i64,
}

/// Risk state that events cannot rebuild (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskSnapshot {
    pub instrument_count: u32,
    pub throttle_history_len: u32,
    pub accounts: Vec<AccountSnapshot>,
    /// `accounts.len() × instrument_count`, account-major.
    pub cells: Vec<CellSnapshot>,
    /// One per instrument; `Price(0)` = no reference.
    pub reference_prices: Vec<Price>,
    /// `accounts.len() × throttle_history_len` ring slots (timestamps in ns), account-major.
    pub throttle_history_ns: Vec<u64>,
}

/// What is wrong with a snapshot's values (decoded, or built in memory) or with its shape
/// against the configuration it is restored into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotFault {
    /// No accounts, or a different account count than the configuration.
    AccountCount,
    /// No instruments, or a different instrument count than the configuration.
    InstrumentCount,
    /// A different throttle history length than the configuration.
    HistoryLen,
    /// A table's length disagrees with the counts.
    TableLength,
    /// A limit of this account (index) is negative.
    NegativeLimit { account: usize },
    /// This account's throttle ring head or length is outside the ring, or its throttle count
    /// does not fit the ring.
    Throttle { account: usize },
    /// This instrument's reference price is negative.
    NegativeReferencePrice { instrument: usize },
    /// This account's flags byte has unknown bits or its reserved bytes are not zero.
    Flags { account: usize },
}

impl core::fmt::Display for SnapshotFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SnapshotFault::AccountCount => write!(f, "account count"),
            SnapshotFault::InstrumentCount => write!(f, "instrument count"),
            SnapshotFault::HistoryLen => write!(f, "throttle history length"),
            SnapshotFault::TableLength => write!(f, "table length disagrees with the counts"),
            SnapshotFault::NegativeLimit { account } => {
                write!(f, "account {account}: negative limit")
            }
            SnapshotFault::Throttle { account } => write!(f, "account {account}: throttle ring"),
            SnapshotFault::NegativeReferencePrice { instrument } => {
                write!(f, "instrument {instrument}: negative reference price")
            }
            SnapshotFault::Flags { account } => write!(f, "account {account}: flags"),
        }
    }
}

/// Why bytes are not a risk snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotDecodeError {
    /// The input ends before the layout its header announces (`needed` bytes).
    Truncated {
        needed: usize,
        available: usize,
    },
    BadMagic,
    UnsupportedVersion(u16),
    /// The input is longer than the layout its header announces.
    TrailingBytes {
        extra: usize,
    },
    /// The header's counts describe more bytes than this host can address.
    TooLarge,
    /// The header's reserved field is not zero.
    ReservedNotZero,
    /// The layout is complete but a value is not allowed.
    Value(SnapshotFault),
}

impl core::fmt::Display for SnapshotDecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SnapshotDecodeError::Truncated { needed, available } => {
                write!(f, "risk snapshot truncated: {available} of {needed} bytes")
            }
            SnapshotDecodeError::BadMagic => write!(f, "not a risk snapshot (magic)"),
            SnapshotDecodeError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "risk snapshot version {v} (this build reads {SNAPSHOT_VERSION})"
                )
            }
            SnapshotDecodeError::TrailingBytes { extra } => {
                write!(f, "risk snapshot has {extra} trailing bytes")
            }
            SnapshotDecodeError::TooLarge => write!(f, "risk snapshot counts too large"),
            SnapshotDecodeError::ReservedNotZero => write!(f, "risk snapshot reserved field set"),
            SnapshotDecodeError::Value(fault) => write!(f, "risk snapshot value: {fault}"),
        }
    }
}

impl std::error::Error for SnapshotDecodeError {}

/// Reads fixed-width little-endian fields; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], SnapshotDecodeError> {
        let end = self
            .offset
            .checked_add(N)
            .ok_or(SnapshotDecodeError::TooLarge)?;
        let slice = self
            .bytes
            .get(self.offset..end)
            .ok_or(SnapshotDecodeError::Truncated {
                needed: end,
                available: self.bytes.len(),
            })?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        self.offset = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, SnapshotDecodeError> {
        Ok(self.take::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, SnapshotDecodeError> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    fn u32(&mut self) -> Result<u32, SnapshotDecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn u64(&mut self) -> Result<u64, SnapshotDecodeError> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    fn i64(&mut self) -> Result<i64, SnapshotDecodeError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
}

/// Total encoded size for the given counts, or `None` on overflow.
fn encoded_len(account_count: usize, instrument_count: usize, history_len: usize) -> Option<usize> {
    let cells = account_count.checked_mul(instrument_count)?;
    let slots = account_count.checked_mul(history_len)?;
    HEADER_BYTES
        .checked_add(account_count.checked_mul(ACCOUNT_BYTES)?)?
        .checked_add(cells.checked_mul(CELL_BYTES)?)?
        .checked_add(instrument_count.checked_mul(PRICE_BYTES)?)?
        .checked_add(slots.checked_mul(SLOT_BYTES)?)
}

fn limits_valid(limits: &InstrumentLimits) -> bool {
    limits.max_order_qty >= 0
        && limits.max_order_notional >= 0
        && limits.price_collar_bps >= 0
        && limits.max_net_position >= 0
}

impl RiskSnapshot {
    /// Check counts, table lengths and values (see [`SnapshotFault`]).
    pub fn validate(&self) -> Result<(), SnapshotFault> {
        let account_count = self.accounts.len();
        let instrument_count =
            usize::try_from(self.instrument_count).map_err(|_| SnapshotFault::InstrumentCount)?;
        let history_len =
            usize::try_from(self.throttle_history_len).map_err(|_| SnapshotFault::HistoryLen)?;
        if account_count == 0 {
            return Err(SnapshotFault::AccountCount);
        }
        if instrument_count == 0 {
            return Err(SnapshotFault::InstrumentCount);
        }
        let lengths_ok = Some(self.cells.len()) == account_count.checked_mul(instrument_count)
            && self.reference_prices.len() == instrument_count
            && Some(self.throttle_history_ns.len()) == account_count.checked_mul(history_len);
        if !lengths_ok {
            return Err(SnapshotFault::TableLength);
        }
        for (index, account) in self.accounts.iter().enumerate() {
            validate_account(index, account, self.throttle_history_len)?;
            let row = &self.cells[index * instrument_count..][..instrument_count];
            if !row.iter().all(|cell| limits_valid(&cell.limits)) {
                return Err(SnapshotFault::NegativeLimit { account: index });
            }
        }
        for (index, price) in self.reference_prices.iter().enumerate() {
            if price.0 < 0 {
                return Err(SnapshotFault::NegativeReferencePrice { instrument: index });
            }
        }
        Ok(())
    }

    /// Append the version-1 layout to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let account_count = u32::try_from(self.accounts.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&account_count.to_le_bytes());
        out.extend_from_slice(&self.instrument_count.to_le_bytes());
        out.extend_from_slice(&self.throttle_history_len.to_le_bytes());
        for account in &self.accounts {
            let mut flags = 0u8;
            if account.blocked {
                flags |= FLAG_BLOCKED;
            }
            if account.cancel_on_disconnect {
                flags |= FLAG_CANCEL_ON_DISCONNECT;
            }
            out.push(flags);
            out.extend_from_slice(&[0u8; 3]);
            out.extend_from_slice(&account.throttle_head.to_le_bytes());
            out.extend_from_slice(&account.throttle_len.to_le_bytes());
            for value in [
                account.max_open_orders,
                account.max_gross_open_notional,
                account.max_gross_position,
                account.throttle_orders_per_interval,
                account.throttle_interval_ns,
            ] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        for cell in &self.cells {
            for value in [
                cell.limits.max_order_qty,
                cell.limits.max_order_notional,
                cell.limits.price_collar_bps,
                cell.limits.max_net_position,
                cell.position_qty,
            ] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        for price in &self.reference_prices {
            out.extend_from_slice(&price.0.to_le_bytes());
        }
        for slot in &self.throttle_history_ns {
            out.extend_from_slice(&slot.to_le_bytes());
        }
    }

    /// Parse the version-1 layout; the whole input must be one snapshot.
    pub fn decode(bytes: &[u8]) -> Result<RiskSnapshot, SnapshotDecodeError> {
        let mut reader = Reader { bytes, offset: 0 };
        if reader.take::<4>()? != MAGIC {
            return Err(SnapshotDecodeError::BadMagic);
        }
        let version = reader.u16()?;
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotDecodeError::UnsupportedVersion(version));
        }
        if reader.u16()? != 0 {
            return Err(SnapshotDecodeError::ReservedNotZero);
        }
        let account_count = reader.u32()?;
        let instrument_count = reader.u32()?;
        let throttle_history_len = reader.u32()?;
        let to_usize = |n: u32| usize::try_from(n).map_err(|_| SnapshotDecodeError::TooLarge);
        let (accounts_n, instruments_n, history_n) = (
            to_usize(account_count)?,
            to_usize(instrument_count)?,
            to_usize(throttle_history_len)?,
        );
        let needed = encoded_len(accounts_n, instruments_n, history_n)
            .ok_or(SnapshotDecodeError::TooLarge)?;
        if bytes.len() < needed {
            return Err(SnapshotDecodeError::Truncated {
                needed,
                available: bytes.len(),
            });
        }
        if bytes.len() > needed {
            return Err(SnapshotDecodeError::TrailingBytes {
                extra: bytes.len() - needed,
            });
        }
        let mut accounts = Vec::with_capacity(accounts_n);
        for index in 0..accounts_n {
            accounts.push(decode_account(&mut reader, index)?);
        }
        let mut cells = Vec::with_capacity(accounts_n * instruments_n);
        for _ in 0..accounts_n * instruments_n {
            let limits = InstrumentLimits {
                max_order_qty: reader.i64()?,
                max_order_notional: reader.i64()?,
                price_collar_bps: reader.i64()?,
                max_net_position: reader.i64()?,
            };
            cells.push(CellSnapshot {
                limits,
                position_qty: reader.i64()?,
            });
        }
        let mut reference_prices = Vec::with_capacity(instruments_n);
        for _ in 0..instruments_n {
            reference_prices.push(Price(reader.i64()?));
        }
        let mut throttle_history_ns = Vec::with_capacity(accounts_n * history_n);
        for _ in 0..accounts_n * history_n {
            throttle_history_ns.push(reader.u64()?);
        }
        let snapshot = RiskSnapshot {
            instrument_count,
            throttle_history_len,
            accounts,
            cells,
            reference_prices,
            throttle_history_ns,
        };
        snapshot.validate().map_err(SnapshotDecodeError::Value)?;
        Ok(snapshot)
    }
}

fn decode_account(
    reader: &mut Reader<'_>,
    index: usize,
) -> Result<AccountSnapshot, SnapshotDecodeError> {
    let flags = reader.u8()?;
    let reserved = reader.take::<3>()?;
    if flags & !(FLAG_BLOCKED | FLAG_CANCEL_ON_DISCONNECT) != 0 || reserved != [0; 3] {
        return Err(SnapshotDecodeError::Value(SnapshotFault::Flags {
            account: index,
        }));
    }
    Ok(AccountSnapshot {
        blocked: flags & FLAG_BLOCKED != 0,
        cancel_on_disconnect: flags & FLAG_CANCEL_ON_DISCONNECT != 0,
        throttle_head: reader.u32()?,
        throttle_len: reader.u32()?,
        max_open_orders: reader.i64()?,
        max_gross_open_notional: reader.i64()?,
        max_gross_position: reader.i64()?,
        throttle_orders_per_interval: reader.i64()?,
        throttle_interval_ns: reader.i64()?,
    })
}

fn validate_account(
    index: usize,
    account: &AccountSnapshot,
    history_len: u32,
) -> Result<(), SnapshotFault> {
    let limits_ok = account.max_open_orders >= 0
        && account.max_gross_open_notional >= 0
        && account.max_gross_position >= 0
        && account.throttle_orders_per_interval >= 0
        && account.throttle_interval_ns >= 0;
    if !limits_ok {
        return Err(SnapshotFault::NegativeLimit { account: index });
    }
    let head_ok = if history_len == 0 {
        account.throttle_head == 0
    } else {
        account.throttle_head < history_len
    };
    let ring_ok = head_ok
        && account.throttle_len <= history_len
        && throttle_count_fits(account.throttle_orders_per_interval, history_len);
    if !ring_ok {
        return Err(SnapshotFault::Throttle { account: index });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RiskSnapshot {
        let limits = InstrumentLimits {
            max_order_qty: 100,
            max_order_notional: 0,
            price_collar_bps: 250,
            max_net_position: 1_000,
        };
        RiskSnapshot {
            instrument_count: 2,
            throttle_history_len: 3,
            accounts: vec![
                AccountSnapshot {
                    blocked: true,
                    throttle_orders_per_interval: 3,
                    throttle_interval_ns: 1_000,
                    throttle_head: 2,
                    throttle_len: 2,
                    ..AccountSnapshot::default()
                },
                AccountSnapshot {
                    cancel_on_disconnect: true,
                    max_open_orders: 7,
                    max_gross_open_notional: i64::MAX,
                    ..AccountSnapshot::default()
                },
            ],
            cells: vec![
                CellSnapshot {
                    limits,
                    position_qty: -5,
                },
                CellSnapshot::default(),
                CellSnapshot::default(),
                CellSnapshot {
                    limits,
                    position_qty: i64::MIN,
                },
            ],
            reference_prices: vec![Price(1_000_000), Price(0)],
            throttle_history_ns: vec![10, 20, 0, 0, 0, 0],
        }
    }

    fn encoded(snapshot: &RiskSnapshot) -> Vec<u8> {
        let mut out = Vec::new();
        snapshot.encode(&mut out);
        out
    }

    #[test]
    fn round_trips_and_has_the_documented_length() {
        let snapshot = sample();
        let bytes = encoded(&snapshot);
        assert_eq!(bytes.len(), encoded_len(2, 2, 3).unwrap());
        assert_eq!(bytes.len(), 20 + 2 * 52 + 4 * 40 + 2 * 8 + 6 * 8);
        assert_eq!(&bytes[..6], b"PGRS\x01\x00");
        assert_eq!(RiskSnapshot::decode(&bytes), Ok(snapshot));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encoded(&sample());
        for len in 0..bytes.len() {
            assert!(
                RiskSnapshot::decode(&bytes[..len]).is_err(),
                "prefix {len} decoded"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            RiskSnapshot::decode(&long),
            Err(SnapshotDecodeError::TrailingBytes { extra: 1 })
        );
    }

    #[test]
    fn header_faults_are_typed() {
        let bytes = encoded(&sample());
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(
            RiskSnapshot::decode(&bad),
            Err(SnapshotDecodeError::BadMagic)
        );
        let mut bad = bytes.clone();
        bad[4] = 2;
        assert_eq!(
            RiskSnapshot::decode(&bad),
            Err(SnapshotDecodeError::UnsupportedVersion(2))
        );
        let mut bad = bytes.clone();
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(RiskSnapshot::decode(&bad).is_err());
        let mut bad = bytes;
        bad[HEADER_BYTES] = 0x80;
        assert_eq!(
            RiskSnapshot::decode(&bad),
            Err(SnapshotDecodeError::Value(SnapshotFault::Flags {
                account: 0
            }))
        );
    }

    #[test]
    fn value_faults_are_typed() {
        let mut snapshot = sample();
        snapshot.accounts[1].throttle_head = 3;
        assert_eq!(
            snapshot.validate(),
            Err(SnapshotFault::Throttle { account: 1 })
        );
        let bytes = encoded(&snapshot);
        assert_eq!(
            RiskSnapshot::decode(&bytes),
            Err(SnapshotDecodeError::Value(SnapshotFault::Throttle {
                account: 1
            }))
        );
        let mut snapshot = sample();
        snapshot.cells[3].limits.price_collar_bps = -1;
        assert_eq!(
            snapshot.validate(),
            Err(SnapshotFault::NegativeLimit { account: 1 })
        );
        let mut snapshot = sample();
        snapshot.reference_prices[1] = Price(-1);
        assert_eq!(
            snapshot.validate(),
            Err(SnapshotFault::NegativeReferencePrice { instrument: 1 })
        );
        let mut snapshot = sample();
        snapshot.throttle_history_ns.pop();
        assert_eq!(snapshot.validate(), Err(SnapshotFault::TableLength));
    }

    #[test]
    fn random_bytes_never_panic() {
        // A fixed xorshift stream: deterministic, and enough to walk every early exit.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let valid = encoded(&sample());
        for round in 0..2_000 {
            let mut bytes = valid.clone();
            for _ in 0..(round % 7 + 1) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = usize::try_from(state % bytes.len() as u64).unwrap();
                bytes[at] = (state >> 32) as u8;
            }
            let cut = usize::try_from(state % (bytes.len() as u64 + 1)).unwrap();
            let _ = RiskSnapshot::decode(&bytes[..cut]);
            if let Ok(decoded) = RiskSnapshot::decode(&bytes) {
                assert_eq!(encoded(&decoded), bytes);
            }
        }
    }
}
