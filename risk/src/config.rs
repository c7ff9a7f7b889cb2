//! Risk configuration: per-account limits, per-instrument overrides and reference prices, as
//! plain serde structs (the node loads them from TOML).
//!
//! Every limit is an `i64` in the unit its name gives, and `0` switches it off (as in the admin
//! command [`peregrine_engine::SetRiskLimit`]; `i64::MAX` is also "unlimited"). Negative values
//! are invalid.
//!
//! # Invariants
//! - [`RiskConfig::validate`] is the one place a configuration is judged; `Risk::new` builds
//!   from a validated configuration and asserts nothing the validator did not check.
//! - Account and instrument counts equal the engine's: risk state is a dense
//!   `account × instrument` table indexed by the engine's ids.

use serde::{Deserialize, Serialize};

/// Limits that apply to one account on one instrument. `0` = off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstrumentLimits {
    /// Largest quantity of one order, in shares.
    pub max_order_qty: i64,
    /// Largest notional of one order, in price units × shares.
    pub max_order_notional: i64,
    /// Price collar around the reference price, in basis points (1/10,000).
    pub price_collar_bps: i64,
    /// Largest worst-case net position on the instrument, in shares (see the crate docs).
    pub max_net_position: i64,
}

/// Per-instrument limits of one account that replace its defaults on one instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentLimitOverride {
    /// Instrument index (the engine's `InstrumentId`).
    pub instrument: u32,
    pub limits: InstrumentLimits,
}

/// One trading account's limits. `0` = off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountRiskConfig {
    /// Most resting orders at once, across instruments.
    pub max_open_orders: i64,
    /// Credit limit: gross notional of open orders (price units × shares), across instruments.
    pub max_gross_open_notional: i64,
    /// Largest sum over instruments of worst-case absolute positions, in shares.
    pub max_gross_position: i64,
    /// Orders (new and replace) allowed in any window of `throttle_interval_ns`; at most
    /// [`RiskConfig::throttle_history_len`].
    pub throttle_orders_per_interval: i64,
    /// Throttle window in sequencer nanoseconds.
    pub throttle_interval_ns: i64,
    /// Cancel the orders a session entered when the gateway reports that session lost.
    pub cancel_on_disconnect: bool,
    /// Start the day with the kill switch on.
    pub blocked: bool,
    /// Limits for every instrument without an override.
    pub instrument_limits: InstrumentLimits,
    /// Per-instrument replacements of `instrument_limits` (the last one for an instrument wins).
    pub instrument_overrides: Vec<InstrumentLimitOverride>,
}

/// One instrument's risk settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstrumentRiskConfig {
    /// Opening reference price for the collar, in price units (`Price`); `0` = none until the
    /// first trade.
    pub reference_price: i64,
}

/// Everything risk needs to start. `accounts[i]` is the engine's `AccountId(i)`, `instruments[i]`
/// the engine's `InstrumentId(i)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    pub accounts: Vec<AccountRiskConfig>,
    pub instruments: Vec<InstrumentRiskConfig>,
    /// Per-account ring of the latest admitted order timestamps: the largest throttle count an
    /// account can be given, now or at run time. Memory: `accounts × len × 8` bytes.
    pub throttle_history_len: u32,
}

/// Largest [`RiskConfig::throttle_history_len`].
pub const THROTTLE_HISTORY_LEN_MAX: u32 = 1 << 16;

/// Default throttle history of [`RiskConfig::permissive`].
pub const THROTTLE_HISTORY_LEN_DEFAULT: u32 = 64;

/// Why a risk configuration cannot start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskConfigError {
    /// The configuration has `config` accounts, the engine `engine`.
    AccountCountMismatch { config: usize, engine: usize },
    /// The configuration has `config` instruments, the engine `engine`.
    InstrumentCountMismatch { config: usize, engine: usize },
    /// A limit of this account (index) is negative.
    NegativeLimit { account: usize },
    /// An override of this account names an instrument that does not exist.
    OverrideInstrument { account: usize, instrument: u32 },
    /// This account's throttle count exceeds `throttle_history_len`.
    ThrottleAboveHistory { account: usize },
    /// This instrument's reference price is negative.
    NegativeReferencePrice { instrument: usize },
    /// `throttle_history_len` exceeds [`THROTTLE_HISTORY_LEN_MAX`].
    HistoryTooLong,
}

impl core::fmt::Display for RiskConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RiskConfigError::AccountCountMismatch { config, engine } => {
                write!(f, "risk config has {config} accounts, engine {engine}")
            }
            RiskConfigError::InstrumentCountMismatch { config, engine } => {
                write!(f, "risk config has {config} instruments, engine {engine}")
            }
            RiskConfigError::NegativeLimit { account } => {
                write!(f, "account {account}: limits must be >= 0 (0 = off)")
            }
            RiskConfigError::OverrideInstrument {
                account,
                instrument,
            } => {
                write!(
                    f,
                    "account {account}: override names unknown instrument {instrument}"
                )
            }
            RiskConfigError::ThrottleAboveHistory { account } => {
                write!(
                    f,
                    "account {account}: throttle count above throttle_history_len"
                )
            }
            RiskConfigError::NegativeReferencePrice { instrument } => {
                write!(f, "instrument {instrument}: reference price must be >= 0")
            }
            RiskConfigError::HistoryTooLong => {
                write!(f, "throttle_history_len above {THROTTLE_HISTORY_LEN_MAX}")
            }
        }
    }
}

impl std::error::Error for RiskConfigError {}

impl InstrumentLimits {
    fn is_valid(&self) -> bool {
        self.max_order_qty >= 0
            && self.max_order_notional >= 0
            && self.price_collar_bps >= 0
            && self.max_net_position >= 0
    }
}

impl RiskConfig {
    /// Every limit off, no reference prices, no cancel-on-disconnect, a default throttle
    /// history so that throttles can be switched on at run time.
    pub fn permissive(account_count: usize, instrument_count: usize) -> RiskConfig {
        RiskConfig {
            accounts: vec![AccountRiskConfig::default(); account_count],
            instruments: vec![InstrumentRiskConfig::default(); instrument_count],
            throttle_history_len: THROTTLE_HISTORY_LEN_DEFAULT,
        }
    }

    /// Judge the configuration against the engine's account and instrument counts.
    pub fn validate(
        &self,
        account_count: usize,
        instrument_count: usize,
    ) -> Result<(), RiskConfigError> {
        if self.accounts.len() != account_count {
            let config = self.accounts.len();
            return Err(RiskConfigError::AccountCountMismatch {
                config,
                engine: account_count,
            });
        }
        if self.instruments.len() != instrument_count {
            let config = self.instruments.len();
            return Err(RiskConfigError::InstrumentCountMismatch {
                config,
                engine: instrument_count,
            });
        }
        if self.throttle_history_len > THROTTLE_HISTORY_LEN_MAX {
            return Err(RiskConfigError::HistoryTooLong);
        }
        for (index, account) in self.accounts.iter().enumerate() {
            self.validate_account(index, account, instrument_count)?;
        }
        for (index, instrument) in self.instruments.iter().enumerate() {
            if instrument.reference_price < 0 {
                return Err(RiskConfigError::NegativeReferencePrice { instrument: index });
            }
        }
        Ok(())
    }

    fn validate_account(
        &self,
        index: usize,
        account: &AccountRiskConfig,
        instrument_count: usize,
    ) -> Result<(), RiskConfigError> {
        let account_limits_valid = account.max_open_orders >= 0
            && account.max_gross_open_notional >= 0
            && account.max_gross_position >= 0
            && account.throttle_orders_per_interval >= 0
            && account.throttle_interval_ns >= 0;
        let overrides_valid = account
            .instrument_overrides
            .iter()
            .all(|o| o.limits.is_valid());
        if !account_limits_valid || !account.instrument_limits.is_valid() || !overrides_valid {
            return Err(RiskConfigError::NegativeLimit { account: index });
        }
        for item in &account.instrument_overrides {
            let known = usize::try_from(item.instrument).is_ok_and(|i| i < instrument_count);
            if !known {
                return Err(RiskConfigError::OverrideInstrument {
                    account: index,
                    instrument: item.instrument,
                });
            }
        }
        if !throttle_count_fits(
            account.throttle_orders_per_interval,
            self.throttle_history_len,
        ) {
            return Err(RiskConfigError::ThrottleAboveHistory { account: index });
        }
        Ok(())
    }
}

/// A throttle count can be kept exactly when the ring remembers that many admitted orders
/// (`0` and `i64::MAX` mean off and need no history).
pub(crate) fn throttle_count_fits(count: i64, history_len: u32) -> bool {
    count == 0 || count == i64::MAX || (count > 0 && count <= i64::from(history_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissive_is_valid_and_everything_is_off() {
        let config = RiskConfig::permissive(3, 2);
        assert_eq!(config.validate(3, 2), Ok(()));
        assert_eq!(
            config.accounts[1].instrument_limits,
            InstrumentLimits::default()
        );
        assert!(!config.accounts[2].cancel_on_disconnect);
    }

    #[test]
    fn validate_names_the_fault() {
        let config = RiskConfig::permissive(3, 2);
        assert_eq!(
            config.validate(4, 2),
            Err(RiskConfigError::AccountCountMismatch {
                config: 3,
                engine: 4
            })
        );
        assert_eq!(
            config.validate(3, 1),
            Err(RiskConfigError::InstrumentCountMismatch {
                config: 2,
                engine: 1
            })
        );
        let mut bad = config.clone();
        bad.accounts[1].instrument_limits.max_order_qty = -1;
        assert_eq!(
            bad.validate(3, 2),
            Err(RiskConfigError::NegativeLimit { account: 1 })
        );
        let mut bad = config.clone();
        bad.accounts[2]
            .instrument_overrides
            .push(InstrumentLimitOverride {
                instrument: 2,
                limits: InstrumentLimits::default(),
            });
        assert_eq!(
            bad.validate(3, 2),
            Err(RiskConfigError::OverrideInstrument {
                account: 2,
                instrument: 2
            })
        );
        let mut bad = config.clone();
        bad.accounts[0].throttle_orders_per_interval = 65;
        assert_eq!(
            bad.validate(3, 2),
            Err(RiskConfigError::ThrottleAboveHistory { account: 0 })
        );
        bad.accounts[0].throttle_orders_per_interval = i64::MAX;
        assert_eq!(bad.validate(3, 2), Ok(()));
        let mut bad = config;
        bad.instruments[1].reference_price = -5;
        assert_eq!(
            bad.validate(3, 2),
            Err(RiskConfigError::NegativeReferencePrice { instrument: 1 })
        );
    }

    #[test]
    fn throttle_fit_bounds() {
        assert!(throttle_count_fits(0, 0));
        assert!(throttle_count_fits(i64::MAX, 0));
        assert!(!throttle_count_fits(1, 0));
        assert!(throttle_count_fits(8, 8));
        assert!(!throttle_count_fits(9, 8));
        assert!(!throttle_count_fits(-1, 8));
    }
}
