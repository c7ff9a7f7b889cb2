//! Market rules: each instrument's trading-phase schedule, batch-auction interval, halt-resume
//! and volatility-interruption settings, and the state the engine keeps for them.
//!
//! The rules are start-of-day configuration beside [`crate::EngineConfig`] (given to
//! [`crate::Engine::with_market`]); [`MarketConfig::continuous`] is the default: no schedule,
//! continuous trading all day, resume straight into trading, no volatility band. With it the
//! engine behaves exactly as before market operations existed.
//!
//! Time is sequencer time only: a schedule entry is nanoseconds since UTC midnight of the
//! `timestamp_ns` the sequencer stamps (ns since the Unix epoch), so the engine stays a pure
//! function of the journal.
//!
//! # Invariants
//! - [`MarketConfig::validate`] is the one place rules are judged: schedule times ascend
//!   strictly and stay below one day, scheduled phases are the ones a clock may start
//!   (pre-open, opening call, continuous, closing call, batch auctions, closed), batch auctions
//!   need a non-zero interval.
//! - The helpers here are pure functions of the rules and a time; they never allocate.

use crate::config::ConfigError;
use crate::types::{Price, TradingStatus};

/// Nanoseconds in one day: schedule times are `0..NS_PER_DAY`.
pub const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// "No deadline": a timer that never fires.
pub const NEVER_NS: u64 = u64::MAX;

/// From this time of day on (until the next entry), the instrument is in `phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleEntry {
    /// Nanoseconds since UTC midnight of sequencer time, `0..NS_PER_DAY`.
    pub time_of_day_ns: u64,
    pub phase: TradingStatus,
}

/// One instrument's market rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketRules {
    /// Phase changes by time of day, ascending. Empty: the trading phase all day. Before the
    /// first entry of a day the last entry's phase holds (the schedule wraps at midnight).
    pub schedule: Vec<ScheduleEntry>,
    /// Frequent batch auctions when non-zero: the trading phase is `BatchAuction` and the book
    /// uncrosses at every multiple of this interval of sequencer time. 0: continuous trading.
    pub batch_interval_ns: u64,
    /// Length of the call that resumes a halted instrument; 0 resumes straight into trading.
    pub resume_call_ns: u64,
    /// Dynamic band around the last trade price, in basis points: a continuous trade that would
    /// print outside it starts a volatility call instead. 0: no band.
    pub volatility_band_bps: u32,
    /// Length of a volatility call.
    pub volatility_call_ns: u64,
    /// Least sequencer time between two indicative events of one call; 0 publishes after
    /// every command that changes the call's book.
    pub indicative_interval_ns: u64,
}

impl MarketRules {
    /// The phase an instrument trades in when the schedule says nothing else.
    pub fn trading_phase(&self) -> TradingStatus {
        if self.batch_interval_ns > 0 {
            TradingStatus::BatchAuction
        } else {
            TradingStatus::Trading
        }
    }

    /// The phase before any sequencer time is seen: the trading phase without a schedule,
    /// else the phase the schedule wraps into at midnight (its last entry's).
    pub fn initial_phase(&self) -> TradingStatus {
        self.schedule
            .last()
            .map_or(self.trading_phase(), |entry| entry.phase)
    }

    /// The phase the schedule gives at `timestamp_ns` (sequencer time).
    pub fn scheduled_at(&self, timestamp_ns: u64) -> TradingStatus {
        let time_of_day_ns = timestamp_ns % NS_PER_DAY;
        let mut phase = self.initial_phase();
        for entry in &self.schedule {
            if entry.time_of_day_ns > time_of_day_ns {
                break;
            }
            phase = entry.phase;
        }
        phase
    }

    /// The first schedule boundary strictly after `timestamp_ns`, or [`NEVER_NS`].
    pub fn next_boundary_ns(&self, timestamp_ns: u64) -> u64 {
        let Some(first) = self.schedule.first() else {
            return NEVER_NS;
        };
        let day_start_ns = timestamp_ns - timestamp_ns % NS_PER_DAY;
        let time_of_day_ns = timestamp_ns % NS_PER_DAY;
        let later_today = self
            .schedule
            .iter()
            .find(|entry| entry.time_of_day_ns > time_of_day_ns);
        match later_today {
            Some(entry) => day_start_ns.saturating_add(entry.time_of_day_ns),
            None => day_start_ns
                .saturating_add(NS_PER_DAY)
                .saturating_add(first.time_of_day_ns),
        }
    }

    /// The end of the batch that is open at `timestamp_ns`: the next multiple of the batch
    /// interval strictly after it ([`NEVER_NS`] without batch auctions).
    pub fn batch_end_ns(&self, timestamp_ns: u64) -> u64 {
        if self.batch_interval_ns == 0 {
            return NEVER_NS;
        }
        let interval = self.batch_interval_ns;
        (timestamp_ns / interval + 1).saturating_mul(interval)
    }

    /// The band `[low, high]` a continuous trade may print in around `reference`, or `None`
    /// when there is no band (no rule, or no reference yet).
    pub fn volatility_band(&self, reference: Price) -> Option<(Price, Price)> {
        if self.volatility_band_bps == 0 || reference.0 <= 0 {
            return None;
        }
        let width = i128::from(reference.0) * i128::from(self.volatility_band_bps) / 10_000;
        let width = i64::try_from(width).unwrap_or(i64::MAX);
        Some((
            Price(reference.0.saturating_sub(width)),
            Price(reference.0.saturating_add(width)),
        ))
    }

    fn validate(&self) -> bool {
        let ascending = self
            .schedule
            .windows(2)
            .all(|pair| pair[0].time_of_day_ns < pair[1].time_of_day_ns);
        let phases_ok = self.schedule.iter().all(|entry| {
            entry.time_of_day_ns < NS_PER_DAY
                && match entry.phase {
                    TradingStatus::BatchAuction => self.batch_interval_ns > 0,
                    TradingStatus::PreOpen
                    | TradingStatus::OpeningAuction
                    | TradingStatus::Trading
                    | TradingStatus::ClosingAuction
                    | TradingStatus::Closed => true,
                    TradingStatus::Halted
                    | TradingStatus::ResumeAuction
                    | TradingStatus::VolatilityAuction => false,
                }
        });
        ascending && phases_ok
    }
}

/// Market rules of every instrument (index = `InstrumentId`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketConfig {
    pub instruments: Vec<MarketRules>,
}

impl MarketConfig {
    /// Continuous trading all day for `instrument_count` instruments: the default.
    pub fn continuous(instrument_count: usize) -> MarketConfig {
        MarketConfig {
            instruments: vec![MarketRules::default(); instrument_count],
        }
    }

    /// Judges the rules against an engine of `instrument_count` instruments.
    pub fn validate(&self, instrument_count: usize) -> Result<(), ConfigError> {
        if self.instruments.len() != instrument_count {
            return Err(ConfigError::MarketRuleCount);
        }
        match self.instruments.iter().position(|rules| !rules.validate()) {
            Some(index) => Err(ConfigError::BadMarketRules(index)),
            None => Ok(()),
        }
    }
}

/// One instrument's market state as plain data (snapshots).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketStateView {
    /// The phase the schedule gave at its last boundary (or the initial phase).
    pub scheduled: TradingStatus,
    /// Next schedule boundary to act on, 0 before the first timed command.
    pub schedule_next_ns: u64,
    /// End of a resume or volatility call, [`NEVER_NS`] when none runs.
    pub call_end_ns: u64,
    /// End of the open batch, [`NEVER_NS`] outside batch auctions.
    pub batch_end_ns: u64,
    /// Price of the last trade (continuous or auction), 0 before the first.
    pub last_trade_price: Price,
    /// Reference set by `SetReferencePrice`, 0 when none.
    pub reference_price: Price,
    /// Sequencer time of the last indicative event, [`NEVER_NS`] when none yet in this call.
    pub last_indicative_ns: u64,
    /// The call's book changed since the last indicative event.
    pub indicative_pending: bool,
}

/// The engine's market state as plain data: its clock and every instrument's timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketSnapshot {
    /// Latest sequencer time the engine has seen.
    pub now_ns: u64,
    /// One per instrument, indexed by instrument id.
    pub instruments: Vec<MarketStateView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_NS: u64 = 3_600 * 1_000_000_000;

    fn day_rules() -> MarketRules {
        MarketRules {
            schedule: vec![
                ScheduleEntry {
                    time_of_day_ns: 4 * HOUR_NS,
                    phase: TradingStatus::PreOpen,
                },
                ScheduleEntry {
                    time_of_day_ns: 9 * HOUR_NS,
                    phase: TradingStatus::OpeningAuction,
                },
                ScheduleEntry {
                    time_of_day_ns: 10 * HOUR_NS,
                    phase: TradingStatus::Trading,
                },
                ScheduleEntry {
                    time_of_day_ns: 16 * HOUR_NS,
                    phase: TradingStatus::Closed,
                },
            ],
            ..MarketRules::default()
        }
    }

    #[test]
    fn schedule_phases_wrap_at_midnight() {
        let rules = day_rules();
        let day_ns = 20_000 * NS_PER_DAY;
        assert_eq!(rules.initial_phase(), TradingStatus::Closed);
        assert_eq!(rules.scheduled_at(day_ns), TradingStatus::Closed);
        assert_eq!(
            rules.scheduled_at(day_ns + 4 * HOUR_NS),
            TradingStatus::PreOpen
        );
        assert_eq!(
            rules.scheduled_at(day_ns + 10 * HOUR_NS - 1),
            TradingStatus::OpeningAuction
        );
        assert_eq!(
            rules.scheduled_at(day_ns + 12 * HOUR_NS),
            TradingStatus::Trading
        );
        assert_eq!(
            rules.scheduled_at(day_ns + 23 * HOUR_NS),
            TradingStatus::Closed
        );
        assert_eq!(rules.next_boundary_ns(day_ns), day_ns + 4 * HOUR_NS);
        assert_eq!(
            rules.next_boundary_ns(day_ns + 4 * HOUR_NS),
            day_ns + 9 * HOUR_NS
        );
        assert_eq!(
            rules.next_boundary_ns(day_ns + 17 * HOUR_NS),
            day_ns + NS_PER_DAY + 4 * HOUR_NS
        );
        assert_eq!(MarketRules::default().next_boundary_ns(day_ns), NEVER_NS);
    }

    #[test]
    fn batch_grid_and_band() {
        let rules = MarketRules {
            batch_interval_ns: 100,
            volatility_band_bps: 500,
            ..MarketRules::default()
        };
        assert_eq!(rules.trading_phase(), TradingStatus::BatchAuction);
        assert_eq!(rules.batch_end_ns(0), 100);
        assert_eq!(rules.batch_end_ns(99), 100);
        assert_eq!(rules.batch_end_ns(100), 200);
        assert_eq!(MarketRules::default().batch_end_ns(5), NEVER_NS);
        assert_eq!(
            rules.volatility_band(Price(10_000)),
            Some((Price(9_500), Price(10_500)))
        );
        assert_eq!(rules.volatility_band(Price(0)), None);
        assert_eq!(MarketRules::default().volatility_band(Price(10_000)), None);
    }

    #[test]
    fn validation_names_the_bad_instrument() {
        let mut config = MarketConfig::continuous(2);
        assert_eq!(config.validate(2), Ok(()));
        assert_eq!(config.validate(3), Err(ConfigError::MarketRuleCount));
        config.instruments[1] = day_rules();
        assert_eq!(config.validate(2), Ok(()));
        config.instruments[1].schedule.swap(0, 1);
        assert_eq!(config.validate(2), Err(ConfigError::BadMarketRules(1)));
        config.instruments[1] = MarketRules {
            schedule: vec![ScheduleEntry {
                time_of_day_ns: 0,
                phase: TradingStatus::BatchAuction,
            }],
            ..MarketRules::default()
        };
        assert_eq!(config.validate(2), Err(ConfigError::BadMarketRules(1)));
        config.instruments[1].schedule[0].phase = TradingStatus::Halted;
        assert_eq!(config.validate(2), Err(ConfigError::BadMarketRules(1)));
        config.instruments[1].schedule[0] = ScheduleEntry {
            time_of_day_ns: NS_PER_DAY,
            phase: TradingStatus::Trading,
        };
        assert_eq!(config.validate(2), Err(ConfigError::BadMarketRules(1)));
    }
}
