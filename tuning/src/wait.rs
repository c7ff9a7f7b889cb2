//! What a stage's loop does when its ring has nothing for it (empty on read, full on write).
//!
//! The policy is configuration, because the right answer depends on the host: an isolated core
//! should busy-spin (lowest latency, one core burnt), a shared machine such as a 2-core CI box
//! should spin briefly and then give the core away. A loop owns one [`Waiter`] and calls
//! [`Waiter::idle`] after every attempt that made no progress and [`Waiter::reset`] after every
//! attempt that did.
//!
//! ```
//! use peregrine_tuning::wait::{Waiter, WaitStrategy};
//!
//! let strategy: WaitStrategy = "spin-then-yield:100".parse()?;
//! let (mut producer, mut consumer) = peregrine_tuning::ring::channel::<u64>(8)?;
//! producer.try_push(1)?;
//! let mut waiter = Waiter::new(strategy);
//! let record = loop {
//!     match consumer.try_pop() {
//!         Some(record) => break record,
//!         None => waiter.idle(),
//!     }
//! };
//! waiter.reset();
//! assert_eq!(record, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Invariants
//! - [`Waiter::idle`] returns after at most one spin hint, one `yield`, or one park of
//!   `park_us` (which may end early: the thread can be unparked or woken spuriously). It never
//!   blocks indefinitely, so a loop that calls it stays live without anyone waking it.
//! - A waiter's phase only moves forward (spin, then yield or park) until [`Waiter::reset`].
//! - Nothing here allocates.
//!
//! # Config syntax
//! `busy-spin`, `spin-then-yield` or `spin-then-yield:SPINS`, `park` or `park:SPINS:PARK_US`.
//! [`Display`](std::fmt::Display) writes the full form, which parses back to the same value.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Spins before yielding or parking when the config gives no count.
pub const DEFAULT_SPINS: u32 = 1_000;
/// Park time when the config gives none, in microseconds.
pub const DEFAULT_PARK_US: u32 = 50;
/// The longest park the config may ask for, in microseconds (1 s).
pub const MAX_PARK_US: u32 = 1_000_000;

/// How a loop waits for its ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin forever with a CPU spin hint. For isolated cores only.
    BusySpin,
    /// Spin `spins` times, then yield the core to the scheduler on each idle call.
    SpinThenYield {
        /// Idle calls that spin before the first yield.
        spins: u32,
    },
    /// Spin `spins` times, then park the thread for up to `park_us` on each idle call.
    Park {
        /// Idle calls that spin before the first park.
        spins: u32,
        /// The longest a single park lasts, in microseconds: `1..=MAX_PARK_US`.
        park_us: u32,
    },
}

/// What the next [`Waiter::idle`] call will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Issue a spin-loop hint and return.
    Spin,
    /// Yield the core to the scheduler.
    Yield,
    /// Park the thread for up to `park_us`.
    Park,
}

/// Why a wait strategy string did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseWaitStrategyError {
    /// The name is none of `busy-spin`, `spin-then-yield`, `park`.
    UnknownName,
    /// The strategy takes fewer `:`-separated fields than given.
    TooManyFields,
    /// `park:SPINS` without `:PARK_US`.
    MissingParkTime,
    /// A field is not a decimal `u32`.
    BadNumber {
        /// `"spins"` or `"park_us"`.
        field: &'static str,
    },
    /// `park_us` is 0 or above [`MAX_PARK_US`].
    ParkTimeOutOfRange,
}

impl fmt::Display for ParseWaitStrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParseWaitStrategyError::UnknownName => {
                f.write_str("unknown wait strategy: expected busy-spin, spin-then-yield or park")
            }
            ParseWaitStrategyError::TooManyFields => f.write_str(
                "too many fields: busy-spin | spin-then-yield[:SPINS] | park[:SPINS:PARK_US]",
            ),
            ParseWaitStrategyError::MissingParkTime => {
                f.write_str("park with a spin count needs a park time: park:SPINS:PARK_US")
            }
            ParseWaitStrategyError::BadNumber { field } => {
                write!(
                    f,
                    "wait strategy field {field} is not a number in 0..=4294967295"
                )
            }
            ParseWaitStrategyError::ParkTimeOutOfRange => {
                write!(f, "park_us must be in 1..={MAX_PARK_US}")
            }
        }
    }
}

impl std::error::Error for ParseWaitStrategyError {}

impl FromStr for WaitStrategy {
    type Err = ParseWaitStrategyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut fields = text.trim().split(':');
        let name = fields.next().unwrap_or("");
        let spins_text = fields.next();
        let park_us_text = fields.next();
        if fields.next().is_some() {
            return Err(ParseWaitStrategyError::TooManyFields);
        }
        match (name, spins_text, park_us_text) {
            ("busy-spin", None, None) => Ok(WaitStrategy::BusySpin),
            ("spin-then-yield", _, None) => Ok(WaitStrategy::SpinThenYield {
                spins: parse_field(spins_text, "spins", DEFAULT_SPINS)?,
            }),
            ("park", None, None) => Ok(WaitStrategy::Park {
                spins: DEFAULT_SPINS,
                park_us: DEFAULT_PARK_US,
            }),
            ("park", Some(_), None) => Err(ParseWaitStrategyError::MissingParkTime),
            ("park", Some(_), Some(_)) => {
                let spins = parse_field(spins_text, "spins", DEFAULT_SPINS)?;
                let park_us = parse_field(park_us_text, "park_us", DEFAULT_PARK_US)?;
                if park_us == 0 || park_us > MAX_PARK_US {
                    return Err(ParseWaitStrategyError::ParkTimeOutOfRange);
                }
                Ok(WaitStrategy::Park { spins, park_us })
            }
            ("busy-spin" | "spin-then-yield", _, _) => Err(ParseWaitStrategyError::TooManyFields),
            _ => Err(ParseWaitStrategyError::UnknownName),
        }
    }
}

/// Parses an optional decimal field, `default` when absent.
fn parse_field(
    text: Option<&str>,
    field: &'static str,
    default: u32,
) -> Result<u32, ParseWaitStrategyError> {
    match text {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| ParseWaitStrategyError::BadNumber { field }),
    }
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WaitStrategy::BusySpin => f.write_str("busy-spin"),
            WaitStrategy::SpinThenYield { spins } => write!(f, "spin-then-yield:{spins}"),
            WaitStrategy::Park { spins, park_us } => write!(f, "park:{spins}:{park_us}"),
        }
    }
}

/// A loop's wait state: how many idle calls in a row since the last progress.
#[derive(Debug, Clone)]
pub struct Waiter {
    strategy: WaitStrategy,
    /// Idle calls since the last `reset`, saturating at `u32::MAX`.
    idle_count: u32,
}

impl Waiter {
    /// A waiter that has not idled yet.
    pub fn new(strategy: WaitStrategy) -> Self {
        Waiter {
            strategy,
            idle_count: 0,
        }
    }

    /// The strategy this waiter follows.
    pub fn strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Idle calls since the last [`reset`](Self::reset), saturating at `u32::MAX`.
    pub fn idle_count(&self) -> u32 {
        self.idle_count
    }

    /// What the next [`idle`](Self::idle) call will do.
    pub fn phase(&self) -> Phase {
        match self.strategy {
            WaitStrategy::BusySpin => Phase::Spin,
            WaitStrategy::SpinThenYield { spins } if self.idle_count < spins => Phase::Spin,
            WaitStrategy::SpinThenYield { .. } => Phase::Yield,
            WaitStrategy::Park { spins, .. } if self.idle_count < spins => Phase::Spin,
            WaitStrategy::Park { .. } => Phase::Park,
        }
    }

    /// Waits a little, as the strategy and the number of idle calls so far say. Call it after
    /// an attempt that made no progress.
    pub fn idle(&mut self) {
        match self.phase() {
            Phase::Spin => std::hint::spin_loop(),
            Phase::Yield => std::thread::yield_now(),
            Phase::Park => {
                std::thread::park_timeout(Duration::from_micros(u64::from(self.park_us())))
            }
        }
        self.idle_count = self.idle_count.saturating_add(1);
    }

    /// Starts the next wait from the beginning (spinning). Call it after progress.
    pub fn reset(&mut self) {
        self.idle_count = 0;
    }

    /// The park time of a `Park` strategy, in microseconds; 0 for the others.
    fn park_us(&self) -> u32 {
        match self.strategy {
            WaitStrategy::Park { park_us, .. } => park_us,
            WaitStrategy::BusySpin | WaitStrategy::SpinThenYield { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_strings_parse_to_strategies() {
        let table = [
            ("busy-spin", WaitStrategy::BusySpin),
            (
                "spin-then-yield",
                WaitStrategy::SpinThenYield {
                    spins: DEFAULT_SPINS,
                },
            ),
            (
                " spin-then-yield:0 ",
                WaitStrategy::SpinThenYield { spins: 0 },
            ),
            (
                "park",
                WaitStrategy::Park {
                    spins: DEFAULT_SPINS,
                    park_us: DEFAULT_PARK_US,
                },
            ),
            (
                "park:10:200",
                WaitStrategy::Park {
                    spins: 10,
                    park_us: 200,
                },
            ),
        ];
        for (text, strategy) in table {
            assert_eq!(text.parse::<WaitStrategy>(), Ok(strategy), "{text}");
            let printed = strategy.to_string();
            assert_eq!(printed.parse::<WaitStrategy>(), Ok(strategy), "{printed}");
        }
    }

    #[test]
    fn bad_config_strings_say_why() {
        use ParseWaitStrategyError as E;
        let table = [
            ("", E::UnknownName),
            ("spin", E::UnknownName),
            ("Busy-Spin", E::UnknownName),
            ("busy-spin:5", E::TooManyFields),
            ("spin-then-yield:1:2", E::TooManyFields),
            ("park:1:2:3", E::TooManyFields),
            ("park:10", E::MissingParkTime),
            ("spin-then-yield:-1", E::BadNumber { field: "spins" }),
            ("spin-then-yield:", E::BadNumber { field: "spins" }),
            ("park:x:5", E::BadNumber { field: "spins" }),
            ("park:5:99999999999", E::BadNumber { field: "park_us" }),
            ("park:5:0", E::ParkTimeOutOfRange),
            ("park:5:1000001", E::ParkTimeOutOfRange),
        ];
        for (text, error) in table {
            assert_eq!(text.parse::<WaitStrategy>(), Err(error), "{text}");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn waiter_spins_then_moves_on_and_reset_starts_over() {
        let table = [
            (WaitStrategy::BusySpin, Phase::Spin),
            (WaitStrategy::SpinThenYield { spins: 3 }, Phase::Yield),
            (
                WaitStrategy::Park {
                    spins: 3,
                    park_us: 1,
                },
                Phase::Park,
            ),
        ];
        for (strategy, late_phase) in table {
            let mut waiter = Waiter::new(strategy);
            assert_eq!(waiter.strategy(), strategy);
            for _ in 0..3 {
                assert_eq!(waiter.phase(), Phase::Spin);
                waiter.idle();
            }
            for _ in 0..3 {
                assert_eq!(waiter.phase(), late_phase);
                waiter.idle();
            }
            assert_eq!(waiter.idle_count(), 6);
            waiter.reset();
            assert_eq!(waiter.idle_count(), 0);
            assert_eq!(waiter.phase(), Phase::Spin);
        }
    }

    #[test]
    fn idle_count_saturates() {
        let mut waiter = Waiter::new(WaitStrategy::BusySpin);
        waiter.idle_count = u32::MAX - 1;
        waiter.idle();
        waiter.idle();
        assert_eq!(waiter.idle_count(), u32::MAX);
    }
}
