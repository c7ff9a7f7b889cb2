//! Peregrine's pre-trade risk: inline, deterministic checks that stop a member's runaway
//! algorithm before it reaches the book, and [`Core`], the engine behind its risk as one state
//! machine that the core stage, the journal's replay and the tests drive.
//!
//! Risk is part of the deterministic state: it reads no clock (time is the sequencer's
//! `timestamp_ns`), uses integers only (`i64` shares and price units, `i128` notional), keeps
//! dense tables sized at start-up (`accounts × instruments`, no hashing), allocates nothing per
//! command, and is rebuilt by replaying the journal (or from a snapshot plus the journal's tail).
//!
//! # What risk keeps
//! Per account: limits (max open orders, credit limit = max gross open notional, max gross
//! position, throttle count and interval, cancel-on-disconnect), the kill-switch flag, a ring of
//! the latest admitted order timestamps, open order count, gross open notional and the sum of
//! worst-case positions. Per (account, instrument): limits (max order qty, max order notional,
//! price collar in bps, max net position), net position (filled buys − sells), open quantity and
//! open notional per side. Per instrument: the collar reference price.
//!
//! Exposure follows the engine's events ([`state`] documents each), so it is exact for fills,
//! partial fills, cancels, reduces, replaces (up, down, priority kept or not), STP decrements,
//! iceberg refreshes, mass cancels, end of day, kill switch and cancel-on-disconnect.
//! *Open* means resting: an order counts as open from its `Accepted` (or `Replaced`) event, and
//! an IOC/FOK/market order's remainder is cancelled within the same command, so after every
//! command open exposure equals the resting orders' (checked by [`Core::verify`]).
//!
//! # Checks, in order (the first failure is the reject reason)
//! Notation for the order's account and instrument: `pos` net position, `B`/`S` open buy/sell
//! shares, `W = max(pos + B, S − pos)` the cell's worst-case absolute position (what the
//! position becomes if every open order on one side fills; `W >= 0`), `ΣW` its sum over the
//! account's instruments, `N` the account's gross open notional, `O` its open order count.
//! `q` is the order quantity, `p` its limit price. Every limit is `<=`-inclusive, and a limit
//! that is off (`0`) never fails.
//!
//! **New order** (unknown account or instrument: no risk check, the engine rejects it):
//! 1. `RiskAccountBlocked`: the kill switch is on.
//! 2. `RiskThrottle`: `throttle_count` orders were already admitted in `(now − interval, now]`
//!    (`now` = the input's `timestamp_ns`). An order the throttle admits is recorded in the
//!    account's ring even if a later check, or the engine, rejects it; a throttled one is not.
//! 3. `RiskMaxOrderQty`: `q > max_order_qty`.
//! 4. `RiskPriceCollar` (limit orders, when there is a reference `r` and a collar `c`):
//!    `|p − r| × 10,000 > c × r`. The reference is the instrument's last trade price; before
//!    the first trade, the configured opening price or the last `SetReferencePrice`; none
//!    means no collar.
//! 5. `RiskMaxOrderNotional`: `p' × q > max_order_notional`, where `p' = p` for a limit order;
//!    a market order is priced conservatively at the collar's top, `ceil(r × (10,000 + c) /
//!    10,000)`, capped by the instrument's band top `max_price`, and at `max_price` when there
//!    is no reference or no collar (no execution can be dearer than the band top). The collar
//!    itself does not apply to market orders: they carry no price, and the engine does not
//!    stop them at the collar.
//! 6. `RiskMaxOpenOrders` (orders that may rest: limit DAY/GTC): `O + 1 > max_open_orders`.
//! 7. `RiskCreditLimit`: `N + p' × q > max_gross_open_notional` (for every order type: an
//!    immediate order's notional is committed while it matches).
//! 8. `RiskNetPosition`, on the order's side only (orders that reduce a position are never
//!    stopped by it): buy `pos + B + q > max_net_position`, sell `S + q − pos > max_net_position`.
//! 9. `RiskGrossPosition`: with `W'` the cell's worst case with the order added,
//!    `W' > W` and `ΣW − W + W' > max_gross_position`.
//!
//! Fills never raise `pos + B` or `S − pos` (a buy fill moves shares from `B` into `pos`), and
//! cancels lower them, so a position limit that held when an order was accepted keeps holding
//! until a new order or a replace grows the open quantity; likewise `N` and `O`.
//!
//! **Replace** (checked on its delta against the order as it rests, `p0`, `L0` leaves):
//! `RiskAccountBlocked`, `RiskThrottle` (a replace is an order message); then, for an order the
//! account owns (else the engine rejects it as unknown): `RiskMaxOrderQty` when `q > L0` and
//! `q > max`; `RiskPriceCollar` when `p != p0` and `p` is outside the collar;
//! `RiskMaxOrderNotional` when `p × q > p0 × L0` and `p × q > max`; `RiskCreditLimit` when
//! `Δ = p × q − p0 × L0 > 0` and `N + Δ > max`; and the position checks of 8 and 9 with
//! `q − L0` in place of `q` when it is positive. A replace that only shrinks an order, or keeps
//! its price, is never stopped by a limit that was lowered below the order's current terms.
//!
//! **Other member commands** (cancel, reduce, mass cancel) are never checked: a blocked
//! account may always take orders off the book.
//!
//! # Admin commands (journaled, so replay reproduces them)
//! Each is acknowledged with `ControlAck` or rejected with `Rejected` (session 0, client_ref 0,
//! no order) and then changes nothing.
//! - `SetRiskLimit { account, instrument, limit, value }`: `UnknownAccount`,
//!   `UnknownInstrument`, then `RiskInvalidLimit` for a negative value, an instrument on an
//!   account-wide limit, a throttle count above [`RiskConfig::throttle_history_len`], or a
//!   cancel-on-disconnect value other than 0/1. `instrument: None` on a per-instrument limit
//!   sets it for every instrument. Ack value = the value set. Applies to orders from the next
//!   input on; resting orders are not touched.
//! - `BlockAccount`: `UnknownAccount`; else the account is blocked, the engine cancels every
//!   resting order of the account (`Cancelled(KillSwitch)` + `BookDelete`, ascending order id),
//!   then the ack (value = orders cancelled). Every later new order or replace of the account
//!   is rejected with `RiskAccountBlocked` until `UnblockAccount` (ack value 0).
//! - `SetReferencePrice`: `UnknownInstrument`, then `RiskInvalidLimit` for a price `<= 0`;
//!   ack value = the price. The next trade replaces it.
//! - `SessionLost { account, session }`: `UnknownAccount`; with cancel-on-disconnect on, the
//!   orders that session entered are cancelled (`Cancelled(Disconnect)` + `BookDelete`); the ack
//!   value is the number cancelled (0 with the flag off).
//!
//! A risk reject is one `Rejected` event with a `Risk*` reason (each its own code, which the
//! gateway maps to its protocol's reject code); the engine never sees the command, so the book
//! does not change.
//!
//! # Invariants
//! - Same inputs ⇒ same events and the same risk state, on any host.
//! - After every command, risk's open exposure equals the one recomputed from the engine's
//!   resting orders, and every worst-case figure equals its formula.
//! - No accepted order takes an account beyond a limit it was within: for every limit, the
//!   measured figure after the command is within the limit or not above its value before.
//! - Configuration and snapshot bytes are judged with typed errors; neither input nor
//!   configuration can make risk panic.
//!
//! # Cost
//! `risk/benches/risk.rs` applies one journal to a bare engine, a permissive core and a core
//! with every limit on. Exposure bookkeeping is one inlined cell update per member event inside
//! the engine's push sites; the checks are a few dozen integer comparisons per order. On the
//! shared 2-core CI VM (load ≈ 8): about +8 ns per command for the checks (all on vs all off)
//! and about +50 ns per command for all of risk against the bare engine (≈ 240 more
//! instructions per command under callgrind, against the engine's ≈ 550).
//!
//! # Memory
//! `accounts × instruments × 112` bytes of cells, `accounts × throttle_history_len × 8` bytes of
//! throttle history, a few words per account and instrument: 1,000 accounts × 1,000
//! instruments is about 112 MB, taken at start.

pub mod config;
pub mod core;
pub mod snapshot;
pub mod state;

pub use crate::config::{
    AccountRiskConfig, InstrumentLimitOverride, InstrumentLimits, InstrumentRiskConfig, RiskConfig,
    RiskConfigError, THROTTLE_HISTORY_LEN_DEFAULT, THROTTLE_HISTORY_LEN_MAX,
};
pub use crate::core::{Core, CoreError, CoreSnapshot};
pub use crate::snapshot::{
    AccountSnapshot, CellSnapshot, RiskSnapshot, SnapshotDecodeError, SnapshotFault,
    SNAPSHOT_VERSION,
};
pub use crate::state::{AccountView, ExposureView, Risk};
