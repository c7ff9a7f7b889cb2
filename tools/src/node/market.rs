//! `[market]`: the node's market rules (trading phases, call auctions, halts, volatility
//! interruptions, frequent batch auctions), turned into the engine's [`MarketConfig`] for
//! [`crate::config::NodeConfig::core_config`]. The rules themselves are the engine crate's
//! ("Trading phases and auctions"); this file only reads them from TOML.
//!
//! ```toml
//! [market]
//! resume_call_ms = 500            # defaults for every instrument
//! volatility_band_bps = 500
//! volatility_call_ms = 2000
//! indicative_interval_ms = 100
//!
//! [[market.instruments]]
//! symbol = "AAPL"
//! schedule = [
//!   { time = "04:00:00", phase = "pre-open" },
//!   { time = "09:28:00", phase = "opening-auction" },
//!   { time = "09:30:00", phase = "trading" },
//!   { time = "15:50:00", phase = "closing-auction" },
//!   { time = "16:00:00", phase = "closed" },
//! ]
//!
//! [[market.instruments]]
//! symbol = "MSFT"
//! batch_interval_ms = 100         # frequent batch auctions
//! ```
//!
//! Times are `HH:MM:SS` of sequencer time, UTC. An instrument not listed takes the section's
//! defaults with no schedule and no batches.
//!
//! # Invariants
//! - An absent or empty section gives [`MarketConfig::continuous`]: the node trades exactly as
//!   before market rules existed, and its journal config keeps the same bytes and digest.
//! - Every value is judged here or by [`MarketConfig::validate`] at start-up, with an error
//!   naming the instrument; nothing is judged later.

use anyhow::{bail, Context};
use peregrine_engine::{MarketConfig, MarketRules, ScheduleEntry, TradingStatus};
use serde::Deserialize;

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_SECOND: u64 = 1_000_000_000;

/// A phase a schedule may start (the engine refuses halts and resume/volatility calls there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulePhase {
    PreOpen,
    OpeningAuction,
    Trading,
    ClosingAuction,
    BatchAuction,
    Closed,
}

impl SchedulePhase {
    fn status(self) -> TradingStatus {
        match self {
            SchedulePhase::PreOpen => TradingStatus::PreOpen,
            SchedulePhase::OpeningAuction => TradingStatus::OpeningAuction,
            SchedulePhase::Trading => TradingStatus::Trading,
            SchedulePhase::ClosingAuction => TradingStatus::ClosingAuction,
            SchedulePhase::BatchAuction => TradingStatus::BatchAuction,
            SchedulePhase::Closed => TradingStatus::Closed,
        }
    }
}

/// One `{ time, phase }` of a schedule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    /// `HH:MM:SS`, sequencer time UTC.
    pub time: String,
    pub phase: SchedulePhase,
}

/// `[[market.instruments]]`: one instrument's rules; unset values take the section's.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketInstrumentSection {
    pub symbol: String,
    #[serde(default)]
    pub schedule: Vec<ScheduleSection>,
    pub batch_interval_ms: Option<u64>,
    pub resume_call_ms: Option<u64>,
    pub volatility_band_bps: Option<u32>,
    pub volatility_call_ms: Option<u64>,
    pub indicative_interval_ms: Option<u64>,
}

/// `[market]`; every default is 0 (off).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSection {
    #[serde(default)]
    pub batch_interval_ms: u64,
    #[serde(default)]
    pub resume_call_ms: u64,
    #[serde(default)]
    pub volatility_band_bps: u32,
    #[serde(default)]
    pub volatility_call_ms: u64,
    #[serde(default)]
    pub indicative_interval_ms: u64,
    #[serde(default)]
    pub instruments: Vec<MarketInstrumentSection>,
}

/// The engine's rules for the node's instruments (`[market]` against `[[instruments]]`).
pub fn node_market_config(config: &crate::config::NodeConfig) -> anyhow::Result<MarketConfig> {
    let symbols: Vec<&str> = config
        .instruments
        .iter()
        .map(|instrument| instrument.symbol.as_str())
        .collect();
    config.market.market_config(&symbols)
}

impl MarketSection {
    /// The engine's rules for instruments named `symbols` (index = instrument id), judged.
    pub fn market_config(&self, symbols: &[&str]) -> anyhow::Result<MarketConfig> {
        let mut market = MarketConfig::continuous(symbols.len());
        if self.is_default() {
            return Ok(market);
        }
        for rules in &mut market.instruments {
            *rules = self.section_rules()?;
        }
        for (index, section) in self.instruments.iter().enumerate() {
            if self.instruments[..index]
                .iter()
                .any(|other| other.symbol == section.symbol)
            {
                bail!("market.instruments: {} is listed twice", section.symbol);
            }
            let Some(position) = symbols.iter().position(|s| *s == section.symbol) else {
                bail!("market.instruments: unknown symbol {}", section.symbol);
            };
            market.instruments[position] = self
                .instrument_rules(section)
                .with_context(|| format!("market.instruments: {}", section.symbol))?;
        }
        if let Err(error) = market.validate(symbols.len()) {
            bail!("market: {error}");
        }
        Ok(market)
    }

    fn is_default(&self) -> bool {
        self.batch_interval_ms == 0
            && self.resume_call_ms == 0
            && self.volatility_band_bps == 0
            && self.volatility_call_ms == 0
            && self.indicative_interval_ms == 0
            && self.instruments.is_empty()
    }

    fn section_rules(&self) -> anyhow::Result<MarketRules> {
        Ok(MarketRules {
            schedule: Vec::new(),
            batch_interval_ns: ms_to_ns(self.batch_interval_ms, "batch_interval_ms")?,
            resume_call_ns: ms_to_ns(self.resume_call_ms, "resume_call_ms")?,
            volatility_band_bps: self.volatility_band_bps,
            volatility_call_ns: ms_to_ns(self.volatility_call_ms, "volatility_call_ms")?,
            indicative_interval_ns: ms_to_ns(
                self.indicative_interval_ms,
                "indicative_interval_ms",
            )?,
        })
    }

    fn instrument_rules(&self, section: &MarketInstrumentSection) -> anyhow::Result<MarketRules> {
        let pick = |value: Option<u64>, default: u64| value.unwrap_or(default);
        let mut schedule = Vec::with_capacity(section.schedule.len());
        for entry in &section.schedule {
            schedule.push(ScheduleEntry {
                time_of_day_ns: parse_time_of_day_ns(&entry.time)?,
                phase: entry.phase.status(),
            });
        }
        if schedule
            .windows(2)
            .any(|pair| pair[0].time_of_day_ns >= pair[1].time_of_day_ns)
        {
            bail!("schedule times must ascend");
        }
        let batch_ms = pick(section.batch_interval_ms, self.batch_interval_ms);
        if schedule
            .iter()
            .any(|entry| entry.phase == TradingStatus::BatchAuction)
            && batch_ms == 0
        {
            bail!("a batch-auction phase needs batch_interval_ms > 0");
        }
        Ok(MarketRules {
            schedule,
            batch_interval_ns: ms_to_ns(batch_ms, "batch_interval_ms")?,
            resume_call_ns: ms_to_ns(
                pick(section.resume_call_ms, self.resume_call_ms),
                "resume_call_ms",
            )?,
            volatility_band_bps: section
                .volatility_band_bps
                .unwrap_or(self.volatility_band_bps),
            volatility_call_ns: ms_to_ns(
                pick(section.volatility_call_ms, self.volatility_call_ms),
                "volatility_call_ms",
            )?,
            indicative_interval_ns: ms_to_ns(
                pick(section.indicative_interval_ms, self.indicative_interval_ms),
                "indicative_interval_ms",
            )?,
        })
    }
}

fn ms_to_ns(value_ms: u64, name: &str) -> anyhow::Result<u64> {
    value_ms
        .checked_mul(NS_PER_MS)
        .with_context(|| format!("{name} is too large"))
}

/// `HH:MM:SS` (00:00:00 to 23:59:59) as nanoseconds since midnight.
pub fn parse_time_of_day_ns(text: &str) -> anyhow::Result<u64> {
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 8
        && bytes[2] == b':'
        && bytes[5] == b':'
        && [0, 1, 3, 4, 6, 7]
            .iter()
            .all(|&index| bytes[index].is_ascii_digit());
    if !well_formed {
        bail!("time {text:?} is not HH:MM:SS");
    }
    let field = |at: usize| u64::from(bytes[at] - b'0') * 10 + u64::from(bytes[at + 1] - b'0');
    let (hours, minutes, seconds) = (field(0), field(3), field(6));
    if hours > 23 || minutes > 59 || seconds > 59 {
        bail!("time {text:?} is out of range");
    }
    Ok(((hours * 60 + minutes) * 60 + seconds) * NS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MarketSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn empty_section_is_continuous() {
        let symbols = ["AAPL", "MSFT"];
        let market = MarketSection::default().market_config(&symbols).unwrap();
        assert_eq!(market, MarketConfig::continuous(2));
        assert_eq!(parse("").market_config(&symbols).unwrap(), market);
    }

    #[test]
    fn the_embedded_default_config_trades_continuously() {
        let config = crate::config::NodeConfig::load(None).unwrap();
        let core = config.core_config();
        assert!(core.is_continuous());
        assert_eq!(
            core.market,
            MarketConfig::continuous(config.instruments.len())
        );
    }

    #[test]
    fn schedules_and_defaults_reach_the_rules() {
        let section = parse(
            r#"
            resume_call_ms = 500
            indicative_interval_ms = 100
            [[instruments]]
            symbol = "MSFT"
            schedule = [
              { time = "04:00:00", phase = "pre-open" },
              { time = "09:28:00", phase = "opening-auction" },
              { time = "09:30:00", phase = "trading" },
            ]
            volatility_band_bps = 250
            volatility_call_ms = 2000
            [[instruments]]
            symbol = "AAPL"
            batch_interval_ms = 100
            "#,
        );
        let market = section.market_config(&["AAPL", "MSFT", "IBM"]).unwrap();
        let hour_ns = 3_600 * NS_PER_SECOND;
        assert_eq!(market.instruments[0].batch_interval_ns, 100 * NS_PER_MS);
        assert_eq!(market.instruments[0].resume_call_ns, 500 * NS_PER_MS);
        assert!(market.instruments[0].schedule.is_empty());
        let msft = &market.instruments[1];
        assert_eq!(msft.schedule.len(), 3);
        assert_eq!(msft.schedule[0].time_of_day_ns, 4 * hour_ns);
        assert_eq!(msft.schedule[1].phase, TradingStatus::OpeningAuction);
        assert_eq!(
            msft.schedule[2].time_of_day_ns,
            9 * hour_ns + 30 * 60 * NS_PER_SECOND
        );
        assert_eq!(msft.volatility_band_bps, 250);
        assert_eq!(msft.volatility_call_ns, 2_000 * NS_PER_MS);
        assert_eq!(msft.indicative_interval_ns, 100 * NS_PER_MS);
        assert_eq!(msft.batch_interval_ns, 0);
        assert_eq!(market.instruments[2].resume_call_ns, 500 * NS_PER_MS);
        assert!(market.instruments[2].schedule.is_empty());
    }

    #[test]
    fn bad_rules_are_errors() {
        let symbols = ["AAPL"];
        for text in [
            r#"[[instruments]]
               symbol = "NOPE""#,
            r#"[[instruments]]
               symbol = "AAPL"
               schedule = [{ time = "10:00:00", phase = "trading" },
                           { time = "09:00:00", phase = "closed" }]"#,
            r#"[[instruments]]
               symbol = "AAPL"
               schedule = [{ time = "10:00:00", phase = "batch-auction" }]"#,
            r#"[[instruments]]
               symbol = "AAPL"
               schedule = [{ time = "24:00:00", phase = "trading" }]"#,
            r#"[[instruments]]
               symbol = "AAPL"
               [[instruments]]
               symbol = "AAPL""#,
        ] {
            assert!(parse(text).market_config(&symbols).is_err(), "{text}");
        }
        assert!(toml::from_str::<MarketSection>(
            r#"[[instruments]]
               symbol = "AAPL"
               schedule = [{ time = "10:00:00", phase = "halted" }]"#
        )
        .is_err());
        assert!(parse_time_of_day_ns("9:30:00").is_err());
        assert!(parse_time_of_day_ns("09:60:00").is_err());
        assert_eq!(
            parse_time_of_day_ns("23:59:59").unwrap(),
            86_399 * NS_PER_SECOND
        );
    }
}
