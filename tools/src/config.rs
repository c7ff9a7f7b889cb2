//! The node's TOML configuration: network, threads, storage, instruments, accounts (with their
//! risk limits) and order-entry users. `peregrine run` with no `--config` uses the embedded
//! [`DEFAULT_CONFIG_TOML`] (localhost port, three demo instruments, three firms, demo users).
//!
//! [`NodeConfig::load`] parses and judges the whole file once, at start-up: every later stage
//! reads plain validated values ([`NodeConfig::core_config`] builds the deterministic core's
//! configuration, which the journal embeds).
//!
//! # Invariants
//! - Unknown keys are errors (`deny_unknown_fields`), so a typo never silently falls back to a
//!   default.
//! - After `validate`: symbols, account names and usernames are unique and fit their wire
//!   fields; every user names an existing account; every password hash is a parseable PHC
//!   string; ring capacities are powers of two.
//! - Account `i` is the engine's `AccountId(i)`, instrument `i` its `InstrumentId(i)`, and user
//!   `i` is order-entry `SessionId(i + 1)`, for the life of a journal: append new entries, never
//!   reorder (the journal refuses a changed core config; user order is not journaled, so keep it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use peregrine_engine::{AccountConfig, EngineConfig, InstrumentConfig, Price, Qty, StpMode};
use peregrine_replay::{CoreConfig, Durability, JournalOptions, StageOptions};
use peregrine_risk::config::{AccountRiskConfig, InstrumentRiskConfig, RiskConfig};
use peregrine_tuning::wait::WaitStrategy;
use serde::Deserialize;

/// The configuration `peregrine run` uses when no file is given.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../config/default.toml");

/// How the node's stages map onto threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Gateway I/O thread and core thread joined by SPSC rings (see `node` module docs).
    Threaded,
    /// Every stage in one loop on the calling thread (tests, small hosts).
    Single,
}

/// What the gateway does with a UserRefNum above the next expected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserRefGapPolicy {
    /// Reject the message (OUCH Rejected, code Other) without consuming the number.
    Reject,
    /// Accept any increasing number (the OUCH PDF's §1.2 rule).
    Allow,
}

/// `[node]`: process-level settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// Order-entry listen address (`127.0.0.1:0` picks a free port; the bound one is logged
    /// and printed as `listening on ADDR`).
    pub listen: String,
    /// SoupBinTCP session name (at most 10 ASCII characters).
    pub session_name: String,
    /// Journal, session stores and checkpoints live here (relative to the working directory).
    pub data_dir: PathBuf,
    pub mode: Mode,
    /// Wait strategy of both loops (`busy-spin`, `spin-then-yield[:N]`, `park[:N:US]`).
    pub wait: String,
    /// Core to pin the gateway thread to (threaded mode), or the single loop.
    pub gateway_cpu: Option<usize>,
    /// Core to pin the core thread to (threaded mode).
    pub core_cpu: Option<usize>,
    /// SCHED_FIFO priority for the pinned threads (needs CAP_SYS_NICE; refused otherwise).
    pub fifo_priority: Option<i32>,
    /// `mlockall` at start (refusals are logged, not fatal).
    pub lock_memory: bool,
    pub inbound_ring_records: usize,
    pub outbound_ring_records: usize,
    pub max_connections: usize,
    /// Live orders (incl. awaiting an answer) one user may have in the gateway's table.
    pub user_order_capacity: u32,
    pub heartbeat_interval_ms: u64,
    pub peer_timeout_ms: u64,
    /// Largest SoupBinTCP length field accepted from a client (type byte included).
    pub packet_length_max: u16,
    pub user_ref_num_gaps: UserRefGapPolicy,
    /// Send End of Session to every client on shutdown (the trading day is over): clients
    /// must then not re-login to this session name.
    pub end_of_session_on_shutdown: bool,
    /// Journal durability: `page-cache`, `sync-per-batch` or `sync-every:N`.
    pub durability: String,
    pub journal_segment_bytes: u64,
    /// Initial size of each user's session log file (grown by doubling).
    pub session_log_bytes: u64,
}

impl Default for NodeSection {
    fn default() -> Self {
        NodeSection {
            listen: "127.0.0.1:15000".to_string(),
            session_name: "PEREGRINE".to_string(),
            data_dir: PathBuf::from("peregrine-data"),
            mode: Mode::Threaded,
            wait: "spin-then-yield:2000".to_string(),
            gateway_cpu: None,
            core_cpu: None,
            fifo_priority: None,
            lock_memory: false,
            inbound_ring_records: 4096,
            outbound_ring_records: 16384,
            max_connections: 256,
            user_order_capacity: 65_536,
            heartbeat_interval_ms: 1_000,
            peer_timeout_ms: 15_000,
            packet_length_max: 1_024,
            user_ref_num_gaps: UserRefGapPolicy::Reject,
            end_of_session_on_shutdown: false,
            durability: "page-cache".to_string(),
            journal_segment_bytes: 64 << 20,
            session_log_bytes: 16 << 20,
        }
    }
}

/// `[engine]`: pool sizes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    pub order_capacity: u32,
    pub level_capacity: u32,
    pub throttle_history_len: u32,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            order_capacity: 1 << 20,
            level_capacity: 1 << 18,
            throttle_history_len: peregrine_risk::THROTTLE_HISTORY_LEN_DEFAULT,
        }
    }
}

/// `[[instruments]]`: one order book. Prices in units of 1/10,000.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSection {
    pub symbol: String,
    pub tick_size: i64,
    #[serde(default = "one")]
    pub lot_size: u32,
    pub min_price: i64,
    pub max_price: i64,
    pub max_order_qty: u32,
    /// Opening reference price for the risk collar (0 = none).
    #[serde(default)]
    pub reference_price: i64,
}

fn one() -> u32 {
    1
}

/// Self-trade prevention default of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StpSetting {
    Off,
    CancelResting,
    CancelIncoming,
    CancelBoth,
    Decrement,
}

/// `[[accounts]]`: one trading account (member firm).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    pub name: String,
    /// OUCH Firm (at most 4 characters): a Firm field must be blank or this.
    pub firm: String,
    #[serde(default = "cancel_resting")]
    pub stp: StpSetting,
    /// Risk limits (`peregrine_risk::AccountRiskConfig`; every limit 0 = off).
    #[serde(default)]
    pub risk: AccountRiskConfig,
}

fn cancel_resting() -> StpSetting {
    StpSetting::CancelResting
}

/// `[[users]]`: one SoupBinTCP login.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSection {
    /// At most 6 characters (the Login Request field).
    pub username: String,
    /// An argon2 PHC string (`peregrine run --hash-password PW` prints one).
    pub password_hash: String,
    /// Name of the account this user trades for.
    pub account: String,
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    #[serde(default)]
    pub node: NodeSection,
    #[serde(default)]
    pub engine: EngineSection,
    /// The market-data publisher (`crate::node::feed`).
    #[serde(default)]
    pub feed: crate::node::feed::FeedSection,
    /// Metrics endpoint and admin socket (`crate::node::metrics`, `crate::node::admin`).
    #[serde(default)]
    pub ops: crate::node::metrics::OpsSection,
    /// The FIX 4.4 listener and its users (`crate::node::fix`).
    #[serde(default)]
    pub fix: crate::node::fix::FixSection,
    /// Trading phases and auctions (`crate::node::market`); absent: continuous all day.
    #[serde(default)]
    pub market: crate::node::market::MarketSection,
    /// Order entry over kernel bypass (`crate::node::bypass`); absent: kernel TCP.
    #[serde(default)]
    pub gateway_bypass: crate::node::bypass::GatewayBypassSection,
    /// The feed over kernel bypass (`crate::node::bypass`); absent: a kernel UDP socket.
    #[serde(default)]
    pub feed_bypass: crate::node::bypass::FeedBypassSection,
    /// The DPDK environment when a bypass table chooses `dpdk` (`crate::node::bypass`).
    #[serde(default)]
    pub dpdk: crate::node::bypass::DpdkSection,
    pub instruments: Vec<InstrumentSection>,
    pub accounts: Vec<AccountSection>,
    pub users: Vec<UserSection>,
}

impl NodeConfig {
    /// Reads `path`, or the embedded default when `None`; then validates.
    pub fn load(path: Option<&Path>) -> anyhow::Result<NodeConfig> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))?,
            None => DEFAULT_CONFIG_TOML.to_string(),
        };
        let config = NodeConfig::parse(&text)?;
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> anyhow::Result<NodeConfig> {
        let config: NodeConfig = toml::from_str(text).context("config is not valid")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let node = &self.node;
        if node.session_name.is_empty() || node.session_name.len() > 10 {
            bail!("node.session_name must have 1..=10 characters");
        }
        for (name, records) in [
            ("inbound_ring_records", node.inbound_ring_records),
            ("outbound_ring_records", node.outbound_ring_records),
        ] {
            if !records.is_power_of_two() || records < 64 {
                bail!("node.{name} must be a power of two >= 64");
            }
        }
        if node.max_connections == 0 || node.heartbeat_interval_ms == 0 {
            bail!("node.max_connections and node.heartbeat_interval_ms must be positive");
        }
        if node.peer_timeout_ms <= node.heartbeat_interval_ms {
            bail!("node.peer_timeout_ms must exceed node.heartbeat_interval_ms");
        }
        if node.packet_length_max < 64 {
            bail!("node.packet_length_max must be at least 64");
        }
        self.listen_addr()?;
        self.wait_strategy()?;
        self.durability()?;
        self.validate_names()?;
        self.feed.validate()?;
        crate::node::bypass::validate(self)?;
        crate::node::market::node_market_config(self)?;
        for user in &self.users {
            argon2::PasswordHash::new(&user.password_hash).map_err(|error| {
                anyhow::anyhow!("user {}: bad password_hash: {error}", user.username)
            })?;
        }
        Ok(())
    }

    fn validate_names(&self) -> anyhow::Result<()> {
        let mut symbols: Vec<&str> = self.instruments.iter().map(|i| i.symbol.as_str()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        if symbols.len() != self.instruments.len() {
            bail!("instrument symbols must be unique");
        }
        if self
            .instruments
            .iter()
            .any(|i| i.symbol.is_empty() || i.symbol.len() > 8)
        {
            bail!("instrument symbols must have 1..=8 characters");
        }
        let mut names: Vec<&str> = self.accounts.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() != self.accounts.len() {
            bail!("account names must be unique");
        }
        if self.accounts.iter().any(|a| a.firm.len() > 4) {
            bail!("account firm must have at most 4 characters");
        }
        let mut users: Vec<&str> = self.users.iter().map(|u| u.username.as_str()).collect();
        users.sort_unstable();
        users.dedup();
        if users.len() != self.users.len() {
            bail!("usernames must be unique");
        }
        for user in &self.users {
            if user.username.is_empty() || user.username.len() > 6 || !user.username.is_ascii() {
                bail!(
                    "username {:?} must have 1..=6 ASCII characters",
                    user.username
                );
            }
            if self.account_index(&user.account).is_none() {
                bail!(
                    "user {} names unknown account {}",
                    user.username,
                    user.account
                );
            }
        }
        if u32::try_from(self.users.len()).is_err() {
            bail!("too many users");
        }
        Ok(())
    }

    pub fn account_index(&self, name: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.name == name)
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.node
            .listen
            .parse()
            .with_context(|| format!("node.listen {:?} is not an address", self.node.listen))
    }

    pub fn wait_strategy(&self) -> anyhow::Result<WaitStrategy> {
        self.node
            .wait
            .parse()
            .map_err(|error| anyhow::anyhow!("node.wait: {error}"))
    }

    pub fn durability(&self) -> anyhow::Result<Durability> {
        let text = self.node.durability.as_str();
        if text == "page-cache" {
            return Ok(Durability::PageCache);
        }
        if text == "sync-per-batch" {
            return Ok(Durability::SyncPerBatch);
        }
        if let Some(count) = text.strip_prefix("sync-every:") {
            let count: u32 = count.parse().context("node.durability sync-every:N")?;
            if count > 0 {
                return Ok(Durability::SyncEveryRecords(count));
            }
        }
        bail!("node.durability must be page-cache, sync-per-batch or sync-every:N (N >= 1)")
    }

    pub fn stage_options(&self) -> anyhow::Result<StageOptions> {
        Ok(StageOptions {
            journal: JournalOptions {
                segment_size_bytes: self.node.journal_segment_bytes,
                durability: self.durability()?,
                prefault: true,
            },
            ..StageOptions::default()
        })
    }

    /// The deterministic core's configuration (what the journal embeds).
    pub fn core_config(&self) -> CoreConfig {
        let instruments = self
            .instruments
            .iter()
            .map(|i| InstrumentConfig {
                symbol: InstrumentConfig::symbol_from_str(&i.symbol),
                tick_size: Price(i.tick_size),
                lot_size: Qty(i.lot_size),
                min_price: Price(i.min_price),
                max_price: Price(i.max_price),
                max_order_qty: Qty(i.max_order_qty),
            })
            .collect();
        let accounts = self
            .accounts
            .iter()
            .map(|a| AccountConfig {
                stp: stp_mode(a.stp),
            })
            .collect();
        let engine = EngineConfig {
            instruments,
            accounts,
            order_capacity: self.engine.order_capacity,
            level_capacity: self.engine.level_capacity,
        };
        let risk = RiskConfig {
            accounts: self.accounts.iter().map(|a| a.risk.clone()).collect(),
            instruments: self
                .instruments
                .iter()
                .map(|i| InstrumentRiskConfig {
                    reference_price: i.reference_price,
                })
                .collect(),
            throttle_history_len: self.engine.throttle_history_len,
        };
        // Judged in `validate`; continuous when absent.
        let market = crate::node::market::node_market_config(self).unwrap_or_else(|_| {
            peregrine_engine::MarketConfig::continuous(engine.instruments.len())
        });
        CoreConfig {
            engine,
            risk,
            market,
        }
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.node.data_dir.join("journal")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.node.data_dir.join("sessions")
    }
}

fn stp_mode(setting: StpSetting) -> StpMode {
    match setting {
        StpSetting::Off => StpMode::Off,
        StpSetting::CancelResting => StpMode::CancelResting,
        StpSetting::CancelIncoming => StpMode::CancelIncoming,
        StpSetting::CancelBoth => StpMode::CancelBoth,
        StpSetting::Decrement => StpMode::Decrement,
    }
}

/// An argon2id PHC string for `password` (a fresh random salt each call).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use std::io::Read;
    let mut salt_bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut salt_bytes))
        .context("cannot read /dev/urandom for a salt")?;
    let params = argon2::Params::new(4096, 1, 1, None)
        .map_err(|error| anyhow::anyhow!("argon2 params: {error}"))?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|error| anyhow::anyhow!("salt: {error}"))?;
    let hash = hasher
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("argon2: {error}"))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_config_is_valid() {
        let config = NodeConfig::parse(DEFAULT_CONFIG_TOML).expect("default config");
        assert!(config.users.len() >= 3);
        let core = config.core_config();
        assert_eq!(core.engine.accounts.len(), config.accounts.len());
        assert!(core.engine.validate().is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_users_are_errors() {
        let bad_key = DEFAULT_CONFIG_TOML.replace("[node]", "[node]\nlisten_typo = 1");
        assert!(NodeConfig::parse(&bad_key).is_err());
        let bad_account =
            DEFAULT_CONFIG_TOML.replacen("account = \"FIRMA\"", "account = \"NOPE\"", 1);
        assert!(NodeConfig::parse(&bad_account).is_err());
    }
}
