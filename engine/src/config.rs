//! Engine configuration: instruments, accounts and pool capacities, fixed at construction.
//!
//! # Invariants
//! - Every capacity is decided here, before the first command; the engine never grows a pool.
//! - [`EngineConfig::validate`] is the one place a configuration is judged; `Engine::new` asserts
//!   nothing the validator did not already check.

use crate::types::{Price, Qty, StpMode};

/// One order book's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstrumentConfig {
    /// Eight ASCII characters, space-padded (the ITCH/OUCH stock symbol).
    pub symbol: [u8; 8],
    /// Smallest price increment, in price units (`100` = one cent).
    pub tick_size: Price,
    /// Quantities must be multiples of this.
    pub lot_size: Qty,
    /// Lowest and highest price an order may carry (inclusive, multiples of `tick_size`). The
    /// band sets the size of the book's tick ladder: `(max - min) / tick + 1` levels per side.
    pub min_price: Price,
    pub max_price: Price,
    pub max_order_qty: Qty,
}

impl InstrumentConfig {
    /// Number of price steps in the band: the length of each side's ladder.
    pub fn ladder_len(&self) -> usize {
        let steps = (self.max_price.0 - self.min_price.0) / self.tick_size.0;
        usize::try_from(steps).unwrap_or(0) + 1
    }

    /// Symbol from a string: truncated to eight bytes and space-padded.
    pub fn symbol_from_str(text: &str) -> [u8; 8] {
        let mut symbol = [b' '; 8];
        for (slot, byte) in symbol.iter_mut().zip(text.bytes()) {
            *slot = byte;
        }
        symbol
    }
}

/// One trading account's engine-side settings (its risk limits live in `risk/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountConfig {
    /// Self-trade prevention used by orders that say `StpMode::AccountDefault`.
    pub stp: StpMode,
}

/// Largest tick ladder one instrument may have per side (16 Mi steps, 64 MiB of level heads).
pub const LADDER_LEN_MAX: usize = 1 << 24;

/// Everything the engine needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    pub instruments: Vec<InstrumentConfig>,
    pub accounts: Vec<AccountConfig>,
    /// Most resting orders at once, across instruments.
    pub order_capacity: u32,
    /// Most non-empty price levels at once, across instruments and sides.
    pub level_capacity: u32,
}

/// Why a configuration cannot start an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    NoInstruments,
    TooManyInstruments,
    NoAccounts,
    TooManyAccounts,
    /// The instrument at this index has a zero or negative tick, lot or band, or a band that is
    /// not tick-aligned.
    BadInstrument(usize),
    /// The instrument at this index has a band longer than [`LADDER_LEN_MAX`].
    LadderTooLong(usize),
    /// `StpMode::AccountDefault` cannot be an account's own default (account index).
    BadAccountStp(usize),
    ZeroCapacity,
    CapacityTooLarge,
    /// The market rules do not have one entry per instrument.
    MarketRuleCount,
    /// The market rules of the instrument at this index are invalid (schedule out of order or
    /// beyond one day, a phase a schedule cannot start, batch auctions without an interval).
    BadMarketRules(usize),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::NoInstruments => write!(f, "no instruments configured"),
            ConfigError::TooManyInstruments => write!(f, "more than 65535 instruments"),
            ConfigError::NoAccounts => write!(f, "no accounts configured"),
            ConfigError::TooManyAccounts => write!(f, "more than 2^31 accounts"),
            ConfigError::BadInstrument(i) => write!(
                f,
                "instrument {i}: tick, lot and max qty must be positive, 0 < min <= max, both tick-aligned"
            ),
            ConfigError::LadderTooLong(i) => {
                write!(f, "instrument {i}: price band has more than {LADDER_LEN_MAX} ticks")
            }
            ConfigError::BadAccountStp(i) => {
                write!(f, "account {i}: STP default must be a concrete mode")
            }
            ConfigError::ZeroCapacity => write!(f, "order and level capacity must be positive"),
            ConfigError::CapacityTooLarge => write!(f, "capacity above 2^30"),
            ConfigError::MarketRuleCount => {
                write!(f, "market rules must have one entry per instrument")
            }
            ConfigError::BadMarketRules(i) => write!(
                f,
                "instrument {i}: schedule must ascend within one day and start only pre-open, \
                 opening, continuous, closing, batch (with an interval) or closed phases"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Largest order or level capacity (indices are `u32` with a sentinel, hash table is 2×).
pub const CAPACITY_MAX: u32 = 1 << 30;

impl EngineConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.instruments.is_empty() {
            return Err(ConfigError::NoInstruments);
        }
        if self.instruments.len() > usize::from(u16::MAX) {
            return Err(ConfigError::TooManyInstruments);
        }
        if self.accounts.is_empty() {
            return Err(ConfigError::NoAccounts);
        }
        if self.accounts.len() > (1 << 31) {
            return Err(ConfigError::TooManyAccounts);
        }
        for (index, instrument) in self.instruments.iter().enumerate() {
            let tick = instrument.tick_size.0;
            let ok = tick > 0
                && instrument.lot_size.0 > 0
                && instrument.max_order_qty.0 > 0
                && instrument.min_price.0 > 0
                && instrument.min_price <= instrument.max_price
                && instrument.min_price.0 % tick == 0
                && instrument.max_price.0 % tick == 0;
            if !ok {
                return Err(ConfigError::BadInstrument(index));
            }
            if (instrument.max_price.0 - instrument.min_price.0) / tick >= LADDER_LEN_MAX as i64 {
                return Err(ConfigError::LadderTooLong(index));
            }
        }
        for (index, account) in self.accounts.iter().enumerate() {
            if account.stp == StpMode::AccountDefault {
                return Err(ConfigError::BadAccountStp(index));
            }
        }
        if self.order_capacity == 0 || self.level_capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        if self.order_capacity > CAPACITY_MAX || self.level_capacity > CAPACITY_MAX {
            return Err(ConfigError::CapacityTooLarge);
        }
        Ok(())
    }

    /// A small configuration for tests, demos and benchmarks: `instrument_count` books of the
    /// symbols `SYM0`, `SYM1`, … with a one-cent tick, lot 1, prices 0.01–1,000.00, and
    /// `account_count` accounts that cancel resting orders on self-trade.
    pub fn demo(instrument_count: usize, account_count: usize, order_capacity: u32) -> Self {
        let instruments = (0..instrument_count)
            .map(|index| InstrumentConfig {
                symbol: InstrumentConfig::symbol_from_str(&format!("SYM{index}")),
                tick_size: Price(100),
                lot_size: Qty(1),
                min_price: Price(100),
                max_price: Price(1_000 * Price::SCALE),
                max_order_qty: Qty(1_000_000),
            })
            .collect();
        let accounts = vec![
            AccountConfig {
                stp: StpMode::CancelResting
            };
            account_count
        ];
        EngineConfig {
            instruments,
            accounts,
            order_capacity,
            level_capacity: order_capacity,
        }
    }
}
