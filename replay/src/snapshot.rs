//! Snapshot files: the core's state (engine + risk) and the output digest at one sequence
//! number, so recovery is "load the newest valid snapshot, replay the journal after it".
//!
//! File `snapshot-NNNNNNNNNNNNNNNNNNNN.snap` (the seq, twenty digits) in the journal directory,
//! little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"PRGSNAP\0"` |
//! | 8 | 4 | version ([`SNAPSHOT_VERSION`]) |
//! | 12 | 4 | reserved, zero |
//! | 16 | 8 | `last_seq`: the last input applied |
//! | 24 | 8 | config digest (as in the journal's segment headers) |
//! | 32 | 8 | output digest state after `last_seq` |
//! | 40 | 8 | output event count after `last_seq` |
//! | 48 | 8 | timestamp of input `last_seq`, ns |
//! | 56 | 8 | payload length in bytes |
//! | 64 | len | engine snapshot, then `u64` length + risk snapshot (`RiskSnapshot::encode`), then the market state (`u64` sequencer time, `u64` count, per instrument 51 bytes: phase the schedule gave, schedule/call/batch deadlines, last trade and reference prices, last indicative time, pending flag) |
//! | 64 + len | 8 | XXH3-64 of bytes `0..64 + len` |
//!
//! Written to `*.tmp`, `fsync`ed, renamed into place, directory `fsync`ed: a snapshot file is
//! either absent or whole. A file whose checksum or contents do not check is skipped by
//! recovery, which falls back to the previous snapshot or to a full replay. Version 1 files
//! (before market state) are refused by version, so recovery replays past them.
//!
//! # Invariants
//! - `StageSnapshot::decode(&s.encode()) == Ok(s)`.
//! - Decoding never panics and sizes no `Vec` beyond what the input's length justifies.

use std::path::{Path, PathBuf};

use peregrine_engine::{
    AccountId, EngineSnapshot, InstrumentId, MarketSnapshot, MarketStateView, MatchId, OrderId,
    OrderView, Price, Qty, SessionId, Side, StpMode, TimeInForce, TradingStatus,
};
use peregrine_risk::snapshot::{RiskSnapshot, SnapshotDecodeError};
use peregrine_risk::CoreSnapshot;

use crate::digest::OutputDigest;
use crate::error::{io_error, JournalError};

pub const SNAPSHOT_MAGIC: [u8; 8] = *b"PRGSNAP\0";
pub const SNAPSHOT_VERSION: u32 = 2;
const HEADER_BYTES: usize = 64;
const CHECKSUM_BYTES: usize = 8;
const ORDER_BYTES: usize = 44;
/// One instrument's market state: phase code, 6 times/prices, pending flag.
const MARKET_STATE_BYTES: usize = 1 + 6 * 8 + 1 + 1;

/// Everything a snapshot file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageSnapshot {
    pub core: CoreSnapshot,
    pub config_digest: u64,
    pub digest: OutputDigest,
    pub last_timestamp_ns: u64,
}

/// Why a snapshot file cannot be used.
#[derive(Debug)]
pub enum SnapshotError {
    Io(JournalError),
    Magic,
    Version(u32),
    Short,
    Checksum,
    /// The engine part does not decode (what).
    Engine(&'static str),
    Risk(SnapshotDecodeError),
}

impl core::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SnapshotError::Io(error) => write!(f, "{error}"),
            SnapshotError::Magic => write!(f, "not a snapshot file (bad magic)"),
            SnapshotError::Version(v) => {
                write!(f, "snapshot version {v}, expected {SNAPSHOT_VERSION}")
            }
            SnapshotError::Short => write!(f, "snapshot file truncated"),
            SnapshotError::Checksum => write!(f, "snapshot checksum mismatch"),
            SnapshotError::Engine(what) => write!(f, "engine snapshot invalid: {what}"),
            SnapshotError::Risk(error) => write!(f, "risk snapshot invalid: {error:?}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl StageSnapshot {
    pub fn last_seq(&self) -> u64 {
        self.core.last_seq
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(64 + self.core.engine.orders.len() * ORDER_BYTES);
        encode_engine(&self.core.engine, &mut payload);
        let mut risk = Vec::new();
        self.core.risk.encode(&mut risk);
        payload.extend_from_slice(&(risk.len() as u64).to_le_bytes());
        payload.extend_from_slice(&risk);
        encode_market(&self.core.market, &mut payload);

        let mut out = Vec::with_capacity(HEADER_BYTES + payload.len() + CHECKSUM_BYTES);
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for word in [
            self.core.last_seq,
            self.config_digest,
            self.digest.state,
            self.digest.event_count,
            self.last_timestamp_ns,
            payload.len() as u64,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&payload);
        let checksum = xxhash_rust::xxh3::xxh3_64(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<StageSnapshot, SnapshotError> {
        if bytes.len() < HEADER_BYTES + CHECKSUM_BYTES {
            return Err(SnapshotError::Short);
        }
        if bytes[0..8] != SNAPSHOT_MAGIC {
            return Err(SnapshotError::Magic);
        }
        let body_len = bytes.len() - CHECKSUM_BYTES;
        if word(bytes, body_len) != xxhash_rust::xxh3::xxh3_64(&bytes[..body_len]) {
            return Err(SnapshotError::Checksum);
        }
        let version = u32::try_from(word(bytes, 8) & 0xffff_ffff).unwrap_or(0);
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(version));
        }
        if word(bytes, 56) != (body_len - HEADER_BYTES) as u64 {
            return Err(SnapshotError::Short);
        }
        let mut r = Reader {
            bytes: &bytes[HEADER_BYTES..body_len],
            offset: 0,
        };
        let engine = decode_engine(&mut r)?;
        let risk_len = usize::try_from(r.u64()?).map_err(|_| SnapshotError::Short)?;
        let risk = RiskSnapshot::decode(r.take(risk_len)?).map_err(SnapshotError::Risk)?;
        let market = decode_market(&mut r)?;
        if r.offset != r.bytes.len() {
            return Err(SnapshotError::Engine("trailing bytes"));
        }
        let last_seq = word(bytes, 16);
        Ok(StageSnapshot {
            core: CoreSnapshot {
                last_seq,
                engine,
                risk,
                market,
            },
            config_digest: word(bytes, 24),
            digest: OutputDigest {
                state: word(bytes, 32),
                event_count: word(bytes, 40),
            },
            last_timestamp_ns: word(bytes, 48),
        })
    }
}

/// Path of the snapshot at `seq` in `dir`.
pub fn snapshot_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("snapshot-{seq:020}.snap"))
}

fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Snapshot files in `dir`, newest (highest seq) first.
pub fn list_snapshots(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error("read directory", dir))? {
        let entry = entry.map_err(io_error("read directory", dir))?;
        if let Some(seq) = parse_snapshot_name(&entry.file_name().to_string_lossy()) {
            found.push((seq, entry.path()));
        }
    }
    found.sort_by_key(|entry| core::cmp::Reverse(entry.0));
    Ok(found)
}

/// Reads and checks one snapshot file.
pub fn load_snapshot(path: &Path) -> Result<StageSnapshot, SnapshotError> {
    let bytes =
        std::fs::read(path).map_err(|e| SnapshotError::Io(io_error("read snapshot", path)(e)))?;
    StageSnapshot::decode(&bytes)
}

/// Writes encoded snapshot bytes for `seq` durably: temp file, `fsync`, rename, `fsync` dir.
pub fn write_snapshot_file(dir: &Path, seq: u64, bytes: &[u8]) -> Result<PathBuf, JournalError> {
    use std::io::Write;
    let path = snapshot_path(dir, seq);
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp).map_err(io_error("create snapshot", &temp))?;
    file.write_all(bytes)
        .map_err(io_error("write snapshot", &temp))?;
    file.sync_all().map_err(io_error("fsync snapshot", &temp))?;
    drop(file);
    std::fs::rename(&temp, &path).map_err(io_error("rename snapshot", &path))?;
    crate::journal::sync_dir(dir)?;
    Ok(path)
}

fn word(bytes: &[u8], offset: usize) -> u64 {
    crate::format::u64_at(bytes, offset)
}

fn encode_engine(engine: &EngineSnapshot, out: &mut Vec<u8>) {
    out.extend_from_slice(&engine.next_order_id.0.to_le_bytes());
    out.extend_from_slice(&engine.next_match_id.0.to_le_bytes());
    out.extend_from_slice(&(engine.trading_status.len() as u64).to_le_bytes());
    out.extend(engine.trading_status.iter().map(|s| s.code()));
    out.extend_from_slice(&(engine.orders.len() as u64).to_le_bytes());
    for order in &engine.orders {
        let start = out.len();
        out.extend_from_slice(&order.id.0.to_le_bytes());
        out.extend_from_slice(&order.account.0.to_le_bytes());
        out.extend_from_slice(&order.session.0.to_le_bytes());
        out.extend_from_slice(&order.instrument.0.to_le_bytes());
        out.push(order.side.code());
        out.push(order.time_in_force.code());
        out.extend_from_slice(&order.price.0.to_le_bytes());
        out.extend_from_slice(&order.leaves.0.to_le_bytes());
        out.extend_from_slice(&order.displayed.0.to_le_bytes());
        out.extend_from_slice(&order.peak.0.to_le_bytes());
        out.push(order.stp.code());
        out.push(u8::from(order.post_only));
        debug_assert_eq!(out.len() - start, ORDER_BYTES);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self.offset.checked_add(len).ok_or(SnapshotError::Short)?;
        let slice = self
            .bytes
            .get(self.offset..end)
            .ok_or(SnapshotError::Short)?;
        self.offset = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let mut w = [0u8; 4];
        w.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(w))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(w))
    }
    /// A count of items of `item_bytes` each, checked against the bytes left.
    fn count(&mut self, item_bytes: usize) -> Result<usize, SnapshotError> {
        let count = usize::try_from(self.u64()?).map_err(|_| SnapshotError::Short)?;
        if count.saturating_mul(item_bytes) > self.bytes.len() - self.offset {
            return Err(SnapshotError::Short);
        }
        Ok(count)
    }
    fn code<T>(
        &mut self,
        from_code: fn(u8) -> Option<T>,
        what: &'static str,
    ) -> Result<T, SnapshotError> {
        from_code(self.u8()?).ok_or(SnapshotError::Engine(what))
    }
}

fn decode_order(r: &mut Reader<'_>) -> Result<OrderView, SnapshotError> {
    Ok(OrderView {
        id: OrderId(r.u64()?),
        account: AccountId(r.u32()?),
        session: SessionId(r.u32()?),
        instrument: InstrumentId(r.u32()?),
        side: r.code(Side::from_code, "side")?,
        time_in_force: r.code(TimeInForce::from_code, "time in force")?,
        price: Price(i64::from_le_bytes(r.u64()?.to_le_bytes())),
        leaves: Qty(r.u32()?),
        displayed: Qty(r.u32()?),
        peak: Qty(r.u32()?),
        stp: r.code(StpMode::from_code, "stp mode")?,
        post_only: match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(SnapshotError::Engine("post_only flag")),
        },
    })
}

fn decode_engine(r: &mut Reader<'_>) -> Result<EngineSnapshot, SnapshotError> {
    let next_order_id = OrderId(r.u64()?);
    let next_match_id = MatchId(r.u64()?);
    let status_count = r.count(1)?;
    let mut trading_status = Vec::with_capacity(status_count);
    for _ in 0..status_count {
        trading_status.push(r.code(TradingStatus::from_code, "trading status")?);
    }
    let order_count = r.count(ORDER_BYTES)?;
    let mut orders = Vec::with_capacity(order_count);
    for _ in 0..order_count {
        orders.push(decode_order(r)?);
    }
    Ok(EngineSnapshot {
        next_order_id,
        next_match_id,
        trading_status,
        orders,
    })
}

fn encode_market(market: &MarketSnapshot, out: &mut Vec<u8>) {
    out.extend_from_slice(&market.now_ns.to_le_bytes());
    out.extend_from_slice(&(market.instruments.len() as u64).to_le_bytes());
    for view in &market.instruments {
        let MarketStateView {
            scheduled,
            schedule_next_ns,
            call_end_ns,
            batch_end_ns,
            last_trade_price,
            reference_price,
            last_indicative_ns,
            indicative_pending,
        } = view;
        out.push(scheduled.code());
        for value in [
            *schedule_next_ns,
            *call_end_ns,
            *batch_end_ns,
            u64::from_le_bytes(last_trade_price.0.to_le_bytes()),
            u64::from_le_bytes(reference_price.0.to_le_bytes()),
            *last_indicative_ns,
        ] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.push(u8::from(*indicative_pending));
        // Reserved, zero: keeps room for one flag without a version change.
        out.push(0);
    }
}

fn decode_market_state(r: &mut Reader<'_>) -> Result<MarketStateView, SnapshotError> {
    let scheduled = r.code(TradingStatus::from_code, "scheduled phase")?;
    let schedule_next_ns = r.u64()?;
    let call_end_ns = r.u64()?;
    let batch_end_ns = r.u64()?;
    let last_trade_price = Price(i64::from_le_bytes(r.u64()?.to_le_bytes()));
    let reference_price = Price(i64::from_le_bytes(r.u64()?.to_le_bytes()));
    let last_indicative_ns = r.u64()?;
    let indicative_pending = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(SnapshotError::Engine("indicative pending flag")),
    };
    if r.u8()? != 0 {
        return Err(SnapshotError::Engine("market reserved byte"));
    }
    Ok(MarketStateView {
        scheduled,
        schedule_next_ns,
        call_end_ns,
        batch_end_ns,
        last_trade_price,
        reference_price,
        last_indicative_ns,
        indicative_pending,
    })
}

fn decode_market(r: &mut Reader<'_>) -> Result<MarketSnapshot, SnapshotError> {
    let now_ns = r.u64()?;
    let count = r.count(MARKET_STATE_BYTES)?;
    let mut instruments = Vec::with_capacity(count);
    for _ in 0..count {
        instruments.push(decode_market_state(r)?);
    }
    Ok(MarketSnapshot {
        now_ns,
        instruments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_parse_strictly() {
        assert_eq!(
            parse_snapshot_name("snapshot-00000000000000000042.snap"),
            Some(42)
        );
        assert_eq!(parse_snapshot_name("snapshot-42.snap"), None);
        assert_eq!(
            parse_snapshot_name("snapshot-00000000000000000042.tmp"),
            None
        );
    }
}
