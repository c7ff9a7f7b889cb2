//! The core's configuration as journal bytes: [`CoreConfig`] (engine + risk + market rules)
//! with a stable,
//! versioned binary encoding. The journal's config record holds these bytes and every segment
//! header holds their XXH3-64 ([`crate::config_digest`]), so a journal carries the exact
//! configuration it was produced with: `peregrine replay --verify` needs nothing else, and a
//! recovery or replay with a different configuration is refused.
//!
//! Layout (little-endian): magic `b"PRGCONF\0"`, `u32` version, then the engine part
//! (instruments, accounts, capacities) and the risk part (accounts with their limits and
//! overrides, instruments, throttle history), each list preceded by its `u32` count. Version 2
//! appends the market rules (per instrument: the schedule as `u32` count of (`u64` time of
//! day ns, `u8` phase code), then batch interval, resume call, `u32` band bps, volatility call
//! and indicative interval). Continuous rules ([`MarketConfig::continuous`]) are written as
//! version 1, byte for byte what this crate wrote before market rules existed, so a
//! continuous journal keeps its config digest and an old journal decodes as continuous.
//!
//! # Invariants
//! - `CoreConfig::decode(&c.encode()) == Ok(c)`; encoding is a pure function of the value.
//! - Version 1 ⇔ every instrument's market rules are the default (continuous).
//! - Decoding never panics and never allocates more than the input's length justifies (every
//!   count is checked against the bytes left before a `Vec` is sized).
//! - The encoder destructures every config struct exhaustively, so a field added to the engine
//!   or risk config fails to compile here until the encoding (and its version) follows.

use peregrine_engine::{
    AccountConfig, EngineConfig, InstrumentConfig, MarketConfig, MarketRules, Price, Qty,
    ScheduleEntry, StpMode, TradingStatus,
};
use peregrine_risk::config::{
    AccountRiskConfig, InstrumentLimitOverride, InstrumentLimits, InstrumentRiskConfig, RiskConfig,
};

/// Magic bytes at the start of an encoded config.
pub const CONFIG_MAGIC: [u8; 8] = *b"PRGCONF\0";
/// Version of the config encoding with market rules.
pub const CONFIG_VERSION: u32 = 2;
/// Version of the encoding without market rules (continuous trading), still written for it.
pub const CONFIG_VERSION_CONTINUOUS: u32 = 1;

/// Everything the deterministic core is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreConfig {
    pub engine: EngineConfig,
    pub risk: RiskConfig,
    /// One entry per engine instrument; [`MarketConfig::continuous`] for continuous trading.
    pub market: MarketConfig,
}

/// Why bytes are not a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigDecodeError {
    Magic,
    Version(u32),
    /// The bytes end before the field at this offset.
    Short(usize),
    /// A coded field (STP mode, flag) holds an invalid value at this offset.
    BadCode(usize),
    /// Bytes left over after the last field.
    Trailing(usize),
}

impl core::fmt::Display for ConfigDecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigDecodeError::Magic => write!(f, "not a peregrine config (bad magic)"),
            ConfigDecodeError::Version(v) => {
                write!(
                    f,
                    "config encoding version {v}, this build reads {CONFIG_VERSION_CONTINUOUS} \
                     and {CONFIG_VERSION}"
                )
            }
            ConfigDecodeError::Short(at) => write!(f, "config truncated at byte {at}"),
            ConfigDecodeError::BadCode(at) => write!(f, "invalid code in config at byte {at}"),
            ConfigDecodeError::Trailing(at) => write!(f, "trailing bytes in config at {at}"),
        }
    }
}

impl std::error::Error for ConfigDecodeError {}

impl CoreConfig {
    /// The demo configuration tools use until the node's TOML config exists:
    /// `EngineConfig::demo` with every risk limit off.
    pub fn demo(instrument_count: usize, account_count: usize, order_capacity: u32) -> CoreConfig {
        CoreConfig {
            engine: EngineConfig::demo(instrument_count, account_count, order_capacity),
            risk: RiskConfig::permissive(account_count, instrument_count),
            market: MarketConfig::continuous(instrument_count),
        }
    }

    /// Every instrument trades continuously all day (no market rules).
    pub fn is_continuous(&self) -> bool {
        self.market
            .instruments
            .iter()
            .all(|rules| *rules == MarketRules::default())
    }

    /// The encoding: version 1 for continuous trading, else version 2 with the market rules.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&CONFIG_MAGIC);
        let continuous = self.is_continuous();
        put_u32(
            &mut out,
            if continuous {
                CONFIG_VERSION_CONTINUOUS
            } else {
                CONFIG_VERSION
            },
        );
        encode_engine(&self.engine, &mut out);
        encode_risk(&self.risk, &mut out);
        if !continuous {
            encode_market(&self.market, &mut out);
        }
        out
    }

    /// XXH3-64 of the encoding: the identity that journal segment headers carry.
    pub fn digest(&self) -> u64 {
        crate::journal::config_digest(&self.encode())
    }

    pub fn decode(bytes: &[u8]) -> Result<CoreConfig, ConfigDecodeError> {
        let mut r = ByteReader { bytes, offset: 0 };
        if r.take(8)? != CONFIG_MAGIC {
            return Err(ConfigDecodeError::Magic);
        }
        let version = r.u32()?;
        if version != CONFIG_VERSION && version != CONFIG_VERSION_CONTINUOUS {
            return Err(ConfigDecodeError::Version(version));
        }
        let engine = decode_engine(&mut r)?;
        let risk = decode_risk(&mut r)?;
        let market = if version == CONFIG_VERSION {
            decode_market(&mut r)?
        } else {
            MarketConfig::continuous(engine.instruments.len())
        };
        if r.offset != bytes.len() {
            return Err(ConfigDecodeError::Trailing(r.offset));
        }
        Ok(CoreConfig {
            engine,
            risk,
            market,
        })
    }
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_count(out: &mut Vec<u8>, count: usize) {
    put_u32(out, u32::try_from(count).unwrap_or(u32::MAX));
}

fn encode_engine(engine: &EngineConfig, out: &mut Vec<u8>) {
    let EngineConfig {
        instruments,
        accounts,
        order_capacity,
        level_capacity,
    } = engine;
    put_count(out, instruments.len());
    for instrument in instruments {
        let InstrumentConfig {
            symbol,
            tick_size,
            lot_size,
            min_price,
            max_price,
            max_order_qty,
        } = instrument;
        out.extend_from_slice(symbol);
        put_i64(out, tick_size.0);
        put_u32(out, lot_size.0);
        put_i64(out, min_price.0);
        put_i64(out, max_price.0);
        put_u32(out, max_order_qty.0);
    }
    put_count(out, accounts.len());
    for account in accounts {
        let AccountConfig { stp } = account;
        out.push(stp.code());
    }
    put_u32(out, *order_capacity);
    put_u32(out, *level_capacity);
}

fn encode_limits(limits: &InstrumentLimits, out: &mut Vec<u8>) {
    let InstrumentLimits {
        max_order_qty,
        max_order_notional,
        price_collar_bps,
        max_net_position,
    } = limits;
    for value in [
        max_order_qty,
        max_order_notional,
        price_collar_bps,
        max_net_position,
    ] {
        put_i64(out, *value);
    }
}

fn encode_risk(risk: &RiskConfig, out: &mut Vec<u8>) {
    let RiskConfig {
        accounts,
        instruments,
        throttle_history_len,
    } = risk;
    put_count(out, accounts.len());
    for account in accounts {
        let AccountRiskConfig {
            max_open_orders,
            max_gross_open_notional,
            max_gross_position,
            throttle_orders_per_interval,
            throttle_interval_ns,
            cancel_on_disconnect,
            blocked,
            instrument_limits,
            instrument_overrides,
        } = account;
        for value in [
            max_open_orders,
            max_gross_open_notional,
            max_gross_position,
            throttle_orders_per_interval,
            throttle_interval_ns,
        ] {
            put_i64(out, *value);
        }
        out.push(u8::from(*cancel_on_disconnect));
        out.push(u8::from(*blocked));
        encode_limits(instrument_limits, out);
        put_count(out, instrument_overrides.len());
        for item in instrument_overrides {
            let InstrumentLimitOverride { instrument, limits } = item;
            put_u32(out, *instrument);
            encode_limits(limits, out);
        }
    }
    put_count(out, instruments.len());
    for instrument in instruments {
        let InstrumentRiskConfig { reference_price } = instrument;
        put_i64(out, *reference_price);
    }
    put_u32(out, *throttle_history_len);
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn encode_market(market: &MarketConfig, out: &mut Vec<u8>) {
    let MarketConfig { instruments } = market;
    put_count(out, instruments.len());
    for rules in instruments {
        let MarketRules {
            schedule,
            batch_interval_ns,
            resume_call_ns,
            volatility_band_bps,
            volatility_call_ns,
            indicative_interval_ns,
        } = rules;
        put_count(out, schedule.len());
        for entry in schedule {
            let ScheduleEntry {
                time_of_day_ns,
                phase,
            } = entry;
            put_u64(out, *time_of_day_ns);
            out.push(phase.code());
        }
        put_u64(out, *batch_interval_ns);
        put_u64(out, *resume_call_ns);
        put_u32(out, *volatility_band_bps);
        put_u64(out, *volatility_call_ns);
        put_u64(out, *indicative_interval_ns);
    }
}

/// Bounds-checked little-endian reader.
struct ByteReader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> ByteReader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], ConfigDecodeError> {
        let end = self
            .offset
            .checked_add(len)
            .ok_or(ConfigDecodeError::Short(self.offset))?;
        let slice = self
            .bytes
            .get(self.offset..end)
            .ok_or(ConfigDecodeError::Short(self.offset))?;
        self.offset = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, ConfigDecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, ConfigDecodeError> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(word))
    }
    fn u64(&mut self) -> Result<u64, ConfigDecodeError> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(word))
    }
    fn i64(&mut self) -> Result<i64, ConfigDecodeError> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(word))
    }
    fn bool(&mut self) -> Result<bool, ConfigDecodeError> {
        let at = self.offset;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ConfigDecodeError::BadCode(at)),
        }
    }
    /// A list count, checked against the bytes left at `min_item_bytes` each.
    fn count(&mut self, min_item_bytes: usize) -> Result<usize, ConfigDecodeError> {
        let at = self.offset;
        let count = self.u32()? as usize;
        let left = self.bytes.len() - self.offset;
        if count.saturating_mul(min_item_bytes) > left {
            return Err(ConfigDecodeError::Short(at));
        }
        Ok(count)
    }
}

fn decode_engine(r: &mut ByteReader<'_>) -> Result<EngineConfig, ConfigDecodeError> {
    let instrument_count = r.count(40)?;
    let mut instruments = Vec::with_capacity(instrument_count);
    for _ in 0..instrument_count {
        let mut symbol = [0u8; 8];
        symbol.copy_from_slice(r.take(8)?);
        instruments.push(InstrumentConfig {
            symbol,
            tick_size: Price(r.i64()?),
            lot_size: Qty(r.u32()?),
            min_price: Price(r.i64()?),
            max_price: Price(r.i64()?),
            max_order_qty: Qty(r.u32()?),
        });
    }
    let account_count = r.count(1)?;
    let mut accounts = Vec::with_capacity(account_count);
    for _ in 0..account_count {
        let at = r.offset;
        let stp = StpMode::from_code(r.u8()?).ok_or(ConfigDecodeError::BadCode(at))?;
        accounts.push(AccountConfig { stp });
    }
    let order_capacity = r.u32()?;
    let level_capacity = r.u32()?;
    Ok(EngineConfig {
        instruments,
        accounts,
        order_capacity,
        level_capacity,
    })
}

fn decode_limits(r: &mut ByteReader<'_>) -> Result<InstrumentLimits, ConfigDecodeError> {
    Ok(InstrumentLimits {
        max_order_qty: r.i64()?,
        max_order_notional: r.i64()?,
        price_collar_bps: r.i64()?,
        max_net_position: r.i64()?,
    })
}

fn decode_account(r: &mut ByteReader<'_>) -> Result<AccountRiskConfig, ConfigDecodeError> {
    let max_open_orders = r.i64()?;
    let max_gross_open_notional = r.i64()?;
    let max_gross_position = r.i64()?;
    let throttle_orders_per_interval = r.i64()?;
    let throttle_interval_ns = r.i64()?;
    let cancel_on_disconnect = r.bool()?;
    let blocked = r.bool()?;
    let instrument_limits = decode_limits(r)?;
    let override_count = r.count(36)?;
    let mut instrument_overrides = Vec::with_capacity(override_count);
    for _ in 0..override_count {
        let instrument = r.u32()?;
        instrument_overrides.push(InstrumentLimitOverride {
            instrument,
            limits: decode_limits(r)?,
        });
    }
    Ok(AccountRiskConfig {
        max_open_orders,
        max_gross_open_notional,
        max_gross_position,
        throttle_orders_per_interval,
        throttle_interval_ns,
        cancel_on_disconnect,
        blocked,
        instrument_limits,
        instrument_overrides,
    })
}

fn decode_risk(r: &mut ByteReader<'_>) -> Result<RiskConfig, ConfigDecodeError> {
    let account_count = r.count(78)?;
    let mut accounts = Vec::with_capacity(account_count);
    for _ in 0..account_count {
        accounts.push(decode_account(r)?);
    }
    let instrument_count = r.count(8)?;
    let mut instruments = Vec::with_capacity(instrument_count);
    for _ in 0..instrument_count {
        instruments.push(InstrumentRiskConfig {
            reference_price: r.i64()?,
        });
    }
    let throttle_history_len = r.u32()?;
    Ok(RiskConfig {
        accounts,
        instruments,
        throttle_history_len,
    })
}

fn decode_rules(r: &mut ByteReader<'_>) -> Result<MarketRules, ConfigDecodeError> {
    let entry_count = r.count(9)?;
    let mut schedule = Vec::with_capacity(entry_count);
    for _ in 0..entry_count {
        let time_of_day_ns = r.u64()?;
        let at = r.offset;
        let phase = TradingStatus::from_code(r.u8()?).ok_or(ConfigDecodeError::BadCode(at))?;
        schedule.push(ScheduleEntry {
            time_of_day_ns,
            phase,
        });
    }
    Ok(MarketRules {
        schedule,
        batch_interval_ns: r.u64()?,
        resume_call_ns: r.u64()?,
        volatility_band_bps: r.u32()?,
        volatility_call_ns: r.u64()?,
        indicative_interval_ns: r.u64()?,
    })
}

fn decode_market(r: &mut ByteReader<'_>) -> Result<MarketConfig, ConfigDecodeError> {
    let instrument_count = r.count(40)?;
    let mut instruments = Vec::with_capacity(instrument_count);
    for _ in 0..instrument_count {
        instruments.push(decode_rules(r)?);
    }
    Ok(MarketConfig { instruments })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CoreConfig {
        let mut config = CoreConfig::demo(3, 4, 1_000);
        config.engine.accounts[2].stp = StpMode::Decrement;
        config.risk.accounts[1].max_open_orders = 17;
        config.risk.accounts[1].cancel_on_disconnect = true;
        config.risk.accounts[3]
            .instrument_overrides
            .push(InstrumentLimitOverride {
                instrument: 2,
                limits: InstrumentLimits {
                    max_order_qty: 5,
                    ..InstrumentLimits::default()
                },
            });
        config.risk.instruments[0].reference_price = 1_000_000;
        config
    }

    #[test]
    fn round_trips_and_digest_tracks_content() {
        let config = sample();
        let bytes = config.encode();
        assert_eq!(CoreConfig::decode(&bytes), Ok(config.clone()));
        let mut other = config.clone();
        other.risk.accounts[0].blocked = true;
        assert_ne!(other.digest(), config.digest());
        assert_eq!(config.digest(), sample().digest());
    }

    fn sample_with_market() -> CoreConfig {
        let mut config = sample();
        config.market.instruments[1] = MarketRules {
            schedule: vec![
                ScheduleEntry {
                    time_of_day_ns: 4_000,
                    phase: TradingStatus::PreOpen,
                },
                ScheduleEntry {
                    time_of_day_ns: 9_000,
                    phase: TradingStatus::OpeningAuction,
                },
            ],
            batch_interval_ns: 0,
            resume_call_ns: 5,
            volatility_band_bps: 250,
            volatility_call_ns: 7,
            indicative_interval_ns: 11,
        };
        config.market.instruments[2].batch_interval_ns = 1_000;
        config
    }

    #[test]
    fn continuous_configs_keep_version_1_and_market_rules_round_trip() {
        let continuous = sample();
        let bytes = continuous.encode();
        assert_eq!(bytes[8..12], CONFIG_VERSION_CONTINUOUS.to_le_bytes());
        let with_market = sample_with_market();
        let market_bytes = with_market.encode();
        assert_eq!(market_bytes[8..12], CONFIG_VERSION.to_le_bytes());
        // The version-1 part is a prefix: the market rules are appended.
        assert_eq!(market_bytes[12..bytes.len()], bytes[12..]);
        assert_eq!(CoreConfig::decode(&market_bytes), Ok(with_market.clone()));
        assert_ne!(with_market.digest(), continuous.digest());
        for len in 0..market_bytes.len() {
            assert!(
                CoreConfig::decode(&market_bytes[..len]).is_err(),
                "len {len}"
            );
        }
        // A version-1 config with bytes after the risk part is not read as market rules.
        let mut spliced = bytes.clone();
        spliced.extend_from_slice(&market_bytes[bytes.len()..]);
        assert_eq!(
            CoreConfig::decode(&spliced),
            Err(ConfigDecodeError::Trailing(bytes.len()))
        );
        let mut bad_phase = market_bytes.clone();
        // First schedule entry's phase code of instrument 1: after the market count, instrument
        // 0's 40 bytes of continuous rules, instrument 1's entry count and time.
        let phase_at = bytes.len() + 4 + (4 + 36) + 4 + 8;
        assert_eq!(bad_phase[phase_at], TradingStatus::PreOpen.code());
        bad_phase[phase_at] = 0xee;
        assert_eq!(
            CoreConfig::decode(&bad_phase),
            Err(ConfigDecodeError::BadCode(phase_at))
        );
    }

    #[test]
    fn every_truncation_and_bad_header_is_an_error() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(CoreConfig::decode(&bytes[..len]).is_err(), "len {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            CoreConfig::decode(&longer),
            Err(ConfigDecodeError::Trailing(bytes.len()))
        );
        let mut bad = bytes.clone();
        bad[8] = 9;
        assert_eq!(CoreConfig::decode(&bad), Err(ConfigDecodeError::Version(9)));
    }
}
