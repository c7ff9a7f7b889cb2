//! The risk state: limits, blocked flags, throttle rings, reference prices and exposure, in
//! fixed tables sized at start-up; the pre-trade checks, the admin changes, and the exposure
//! bookkeeping that follows the engine's events.
//!
//! Limits are stored in *effective* form: a limit that is off holds `OFF` (`i64::MAX`; notional
//! limits `i128::MAX`), so every check is one comparison that an off limit can never fail.
//! Views and snapshots show the configuration form again (`0` = off).
//!
//! # Invariants
//! - Tables never grow after [`Risk::new`]: `accounts` has one entry per engine account, `cells`
//!   one per (account, instrument) pair, account-major; `throttle_ns` `history_len` slots per
//!   account. No method on the apply path allocates.
//! - After every command, for every (account, instrument, side): `open_qty` is the sum of the
//!   leaves of the account's resting orders there and `open_notional` the sum of
//!   `price × leaves`; an account's `open_orders` counts its resting orders and its
//!   `open_notional` sums its cells. Inside a command, the order the command entered counts as
//!   open from its `Accepted` (or `Replaced`) event until its last fill or cancel.
//! - `worst_qty = max(position + open_buy, open_sell − position)` for each cell (always `>= 0`),
//!   and an account's `worst_gross_qty` is the sum of its cells' `worst_qty`.
//! - Every field that only events change is changed only in `Risk::observe`; the checks
//!   change nothing but the throttle ring.
//!
//! # Panics
//! Only on programmer errors: an event that names an account or instrument outside the tables,
//! or event sequences the engine's rules exclude (an execution of a taker other than the order
//! the command entered, open quantity going negative). Input never panics: unknown accounts,
//! instruments and orders pass through to the engine, which rejects them.

use peregrine_engine::{
    Accepted, AccountId, Cancelled, EngineConfig, Event, Executed, InstrumentId, NewOrder, OrderId,
    OrderType, Price, Qty, RejectReason, ReplaceOrder, Replaced, RiskLimit, SetRiskLimit, Side,
};

use crate::config::{
    throttle_count_fits, AccountRiskConfig, InstrumentLimits, RiskConfig, RiskConfigError,
};
use crate::snapshot::{AccountSnapshot, CellSnapshot, RiskSnapshot, SnapshotFault};

/// The effective value of a limit that is off.
pub(crate) const OFF: i64 = i64::MAX;
/// The effective value of a notional limit that is off.
const OFF_NOTIONAL: i128 = i128::MAX;
/// Basis points per unit.
const BPS_PER_UNIT: i128 = 10_000;

fn limit_from_raw(raw: i64) -> i64 {
    if raw == 0 {
        OFF
    } else {
        raw
    }
}

fn limit_to_raw(limit: i64) -> i64 {
    if limit == OFF {
        0
    } else {
        limit
    }
}

fn notional_limit_from_raw(raw: i64) -> i128 {
    if raw == 0 || raw == i64::MAX {
        OFF_NOTIONAL
    } else {
        i128::from(raw)
    }
}

fn notional_limit_to_raw(limit: i128) -> i64 {
    // Effective notional limits are either OFF_NOTIONAL or came from a positive i64.
    i64::try_from(limit).unwrap_or(0)
}

/// One account's limits, flags, throttle ring position and account-wide exposure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AccountState {
    max_open_orders: i64,
    max_gross_open_notional: i128,
    max_gross_position: i64,
    /// Orders per window; `<= history_len` unless [`OFF`].
    throttle_count: i64,
    throttle_interval_ns: i64,
    blocked: bool,
    cancel_on_disconnect: bool,
    /// Next ring slot to write: `0..history_len` (0 when `history_len == 0`).
    throttle_head: usize,
    /// Admitted orders the ring remembers: `0..=history_len`.
    throttle_len: usize,
    /// Resting orders (plus the one being entered, inside a command).
    open_orders: i64,
    /// Sum over cells and sides of `open_notional`.
    open_notional: i128,
    /// Sum over cells of `worst_qty`.
    worst_gross_qty: i64,
}

impl AccountState {
    fn from_config(config: &AccountRiskConfig) -> AccountState {
        AccountState {
            max_open_orders: limit_from_raw(config.max_open_orders),
            max_gross_open_notional: notional_limit_from_raw(config.max_gross_open_notional),
            max_gross_position: limit_from_raw(config.max_gross_position),
            throttle_count: limit_from_raw(config.throttle_orders_per_interval),
            throttle_interval_ns: limit_from_raw(config.throttle_interval_ns),
            blocked: config.blocked,
            cancel_on_disconnect: config.cancel_on_disconnect,
            throttle_head: 0,
            throttle_len: 0,
            open_orders: 0,
            open_notional: 0,
            worst_gross_qty: 0,
        }
    }
}

/// One account on one instrument: per-instrument limits, position and open exposure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cell {
    max_order_qty: i64,
    max_order_notional: i128,
    price_collar_bps: i64,
    max_net_position: i64,
    /// Net filled shares: buys minus sells.
    position_qty: i64,
    /// Open shares per side (`Side::index`).
    open_qty: [i64; 2],
    /// Open `price × leaves` per side.
    open_notional: [i128; 2],
    /// `max(position + open_buy, open_sell − position)`.
    worst_qty: i64,
}

impl Cell {
    fn from_limits(limits: &InstrumentLimits) -> Cell {
        Cell {
            max_order_qty: limit_from_raw(limits.max_order_qty),
            max_order_notional: notional_limit_from_raw(limits.max_order_notional),
            price_collar_bps: limit_from_raw(limits.price_collar_bps),
            max_net_position: limit_from_raw(limits.max_net_position),
            position_qty: 0,
            open_qty: [0; 2],
            open_notional: [0; 2],
            worst_qty: 0,
        }
    }

    fn set_limits(&mut self, limits: &InstrumentLimits) {
        let rebuilt = Cell::from_limits(limits);
        self.max_order_qty = rebuilt.max_order_qty;
        self.max_order_notional = rebuilt.max_order_notional;
        self.price_collar_bps = rebuilt.price_collar_bps;
        self.max_net_position = rebuilt.max_net_position;
    }

    fn limits(&self) -> InstrumentLimits {
        InstrumentLimits {
            max_order_qty: limit_to_raw(self.max_order_qty),
            max_order_notional: notional_limit_to_raw(self.max_order_notional),
            price_collar_bps: limit_to_raw(self.price_collar_bps),
            max_net_position: limit_to_raw(self.max_net_position),
        }
    }

    #[inline(always)]
    fn worst(&self) -> i64 {
        worst_qty(self.position_qty, self.open_qty[0], self.open_qty[1])
    }
}

/// Worst-case absolute position if every open order filled on its side alone.
fn worst_qty(position_qty: i64, open_buy_qty: i64, open_sell_qty: i64) -> i64 {
    (position_qty + open_buy_qty).max(open_sell_qty - position_qty)
}

/// True when `price_units` is within `collar_bps` of `reference_units` (or there is no
/// reference or no collar): `|price − reference| × 10,000 <= bps × reference`.
fn within_collar(reference_units: i64, collar_bps: i64, price_units: i64) -> bool {
    if reference_units <= 0 || collar_bps == OFF {
        return true;
    }
    let distance = (i128::from(price_units) - i128::from(reference_units)).abs();
    distance * BPS_PER_UNIT <= i128::from(collar_bps) * i128::from(reference_units)
}

/// The price at which a market order's notional is counted: the collar's upper bound
/// `ceil(reference × (10,000 + bps) / 10,000)` when there is a reference and a collar, capped
/// by the band's top price; else the band's top price (no execution can be dearer).
fn market_risk_price(reference_units: i64, collar_bps: i64, band_max_units: i64) -> i64 {
    if reference_units <= 0 || collar_bps == OFF {
        return band_max_units;
    }
    let scaled = i128::from(reference_units) * (BPS_PER_UNIT + i128::from(collar_bps));
    let bound = (scaled + BPS_PER_UNIT - 1) / BPS_PER_UNIT;
    i64::try_from(bound.min(i128::from(band_max_units))).unwrap_or(band_max_units)
}

/// One change to an (account, instrument) cell, as an event implies it.
#[derive(Clone, Copy, Debug)]
struct CellChange {
    side: Side,
    /// Open shares added (positive) or taken off (negative) on `side`.
    open_qty: i64,
    /// The order's price, for the open notional (`price × open_qty`).
    price_units: i64,
    /// Open orders added (+1) or closed (−1), or 0.
    open_orders: i64,
    /// Shares filled on `side`.
    filled_qty: i64,
}

impl CellChange {
    /// An order of `qty` at `price_units` opens (accepted, or a replacement entered).
    #[inline(always)]
    fn opened(side: Side, qty: Qty, price_units: i64) -> CellChange {
        let open_qty = i64::from(qty.0);
        CellChange {
            side,
            open_qty,
            price_units,
            open_orders: 1,
            filled_qty: 0,
        }
    }

    /// `qty` of an order at `price_units` is cancelled; `closed` when nothing is left.
    #[inline(always)]
    fn cancelled(side: Side, qty: i64, price_units: i64, closed: bool) -> CellChange {
        let open_orders = -i64::from(closed);
        CellChange {
            side,
            open_qty: -qty,
            price_units,
            open_orders,
            filled_qty: 0,
        }
    }

    /// `qty` of an order at `price_units` executes, leaving `leaves`.
    #[inline(always)]
    fn filled(side: Side, qty: Qty, price_units: i64, leaves: Qty) -> CellChange {
        let filled_qty = i64::from(qty.0);
        let open_orders = -i64::from(leaves.is_zero());
        CellChange {
            side,
            open_qty: -filled_qty,
            price_units,
            open_orders,
            filled_qty,
        }
    }
}

/// A resting order as risk needs to see it (built from the engine's `OrderView`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RestingOrder {
    pub(crate) id: OrderId,
    pub(crate) account: AccountId,
    pub(crate) instrument: InstrumentId,
    pub(crate) side: Side,
    pub(crate) price_units: i64,
    pub(crate) leaves_qty: i64,
}

/// What [`Risk::observe`] must remember between the events of one command.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ObserveContext {
    /// The order the command entered (from `Accepted`, or the replacement of a `Replaced`).
    taker_order: OrderId,
    /// Its limit price (0 for a market order, as its events carry).
    taker_price_units: i64,
    /// For a replace command: the named order as it rested before the command.
    pub(crate) replaced: Option<RestingOrder>,
    /// Orders whose open quantity a `Cancelled` event took to zero.
    pub(crate) closed_by_cancel_count: u32,
}

/// Open exposure recomputed from a list of resting orders (tests, `verify`, restore).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpenExposure {
    instrument_count: usize,
    /// Per cell: open qty and notional per side.
    cells: Vec<([i64; 2], [i128; 2])>,
    /// Per account: open orders and gross open notional.
    accounts: Vec<(i64, i128)>,
}

impl OpenExposure {
    pub(crate) fn new(account_count: usize, instrument_count: usize) -> OpenExposure {
        OpenExposure {
            instrument_count,
            cells: vec![([0; 2], [0; 2]); account_count * instrument_count],
            accounts: vec![(0, 0); account_count],
        }
    }

    pub(crate) fn add(&mut self, order: &RestingOrder) {
        let account_index = index_of(order.account.0);
        let instrument_index = index_of(order.instrument.0);
        assert!(
            instrument_index < self.instrument_count,
            "resting order names no instrument"
        );
        let notional = i128::from(order.price_units) * i128::from(order.leaves_qty);
        let cell = &mut self.cells[account_index * self.instrument_count + instrument_index];
        cell.0[order.side.index()] += order.leaves_qty;
        cell.1[order.side.index()] += notional;
        let account = &mut self.accounts[account_index];
        account.0 += 1;
        account.1 += notional;
    }
}

fn index_of(id: u32) -> usize {
    usize::try_from(id).unwrap_or(usize::MAX)
}

/// A read-only view of one account's risk state. Limits in configuration form (`0` = off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountView {
    pub blocked: bool,
    pub cancel_on_disconnect: bool,
    pub max_open_orders: i64,
    pub max_gross_open_notional: i64,
    pub max_gross_position: i64,
    pub throttle_orders_per_interval: i64,
    pub throttle_interval_ns: i64,
    /// Resting orders.
    pub open_orders: i64,
    /// Gross notional of resting orders, price units × shares.
    pub open_notional: i128,
    /// Sum over instruments of worst-case absolute positions, shares.
    pub worst_gross_position_qty: i64,
    /// Sum over instruments of absolute filled positions, shares.
    pub gross_position_qty: i64,
}

/// A read-only view of one account on one instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExposureView {
    pub limits: InstrumentLimits,
    /// Net filled shares (buys minus sells).
    pub position_qty: i64,
    pub open_buy_qty: i64,
    pub open_sell_qty: i64,
    pub open_buy_notional: i128,
    pub open_sell_notional: i128,
    /// `max(position + open_buy, open_sell − position)`.
    pub worst_position_qty: i64,
}

/// Pre-trade risk state for every account and instrument of one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Risk {
    instrument_count: usize,
    /// Throttle ring length per account.
    history_len: usize,
    accounts: Vec<AccountState>,
    /// `accounts.len() × instrument_count`, account-major.
    cells: Vec<Cell>,
    /// Collar reference per instrument, price units; 0 = none.
    reference_price_units: Vec<i64>,
    /// Each instrument's band top, price units (market orders' notional price bound).
    band_max_price_units: Vec<i64>,
    /// `accounts.len() × history_len` admitted-order timestamps, one ring per account.
    throttle_ns: Vec<u64>,
}

impl Risk {
    /// Build the tables (all memory is taken here) from a configuration that must match the
    /// engine's account and instrument counts.
    pub fn new(config: &RiskConfig, engine: &EngineConfig) -> Result<Risk, RiskConfigError> {
        let account_count = engine.accounts.len();
        let instrument_count = engine.instruments.len();
        config.validate(account_count, instrument_count)?;
        let history_len = usize::try_from(config.throttle_history_len)
            .map_err(|_| RiskConfigError::HistoryTooLong)?;
        let mut cells = Vec::with_capacity(account_count * instrument_count);
        for account in &config.accounts {
            let first = cells.len();
            cells.extend(
                (0..instrument_count).map(|_| Cell::from_limits(&account.instrument_limits)),
            );
            for item in &account.instrument_overrides {
                cells[first + index_of(item.instrument)].set_limits(&item.limits);
            }
        }
        Ok(Risk {
            instrument_count,
            history_len,
            accounts: config
                .accounts
                .iter()
                .map(AccountState::from_config)
                .collect(),
            cells,
            reference_price_units: config
                .instruments
                .iter()
                .map(|i| i.reference_price)
                .collect(),
            band_max_price_units: engine.instruments.iter().map(|i| i.max_price.0).collect(),
            throttle_ns: vec![0; account_count * history_len],
        })
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    pub fn instrument_count(&self) -> usize {
        self.instrument_count
    }

    fn account_index(&self, account: AccountId) -> Option<usize> {
        let index = usize::try_from(account.0).ok()?;
        (index < self.accounts.len()).then_some(index)
    }

    fn instrument_index(&self, instrument: InstrumentId) -> Option<usize> {
        let index = usize::try_from(instrument.0).ok()?;
        (index < self.instrument_count).then_some(index)
    }

    /// Account and cell index of an event's account and instrument. The account bound is
    /// checked by indexing `accounts`; the instrument bound here (a row must not spill into the
    /// next account's).
    #[inline(always)]
    fn cell_index(&self, account: AccountId, instrument: InstrumentId) -> (usize, usize) {
        let account_index = index_of(account.0);
        let instrument_index = index_of(instrument.0);
        assert!(
            instrument_index < self.instrument_count,
            "event names an unknown instrument"
        );
        (
            account_index,
            account_index * self.instrument_count + instrument_index,
        )
    }

    /// One account's limits and exposure, or `None` for an unknown account.
    pub fn account(&self, account: AccountId) -> Option<AccountView> {
        let index = self.account_index(account)?;
        let state = &self.accounts[index];
        let cells = &self.cells[index * self.instrument_count..][..self.instrument_count];
        Some(AccountView {
            blocked: state.blocked,
            cancel_on_disconnect: state.cancel_on_disconnect,
            max_open_orders: limit_to_raw(state.max_open_orders),
            max_gross_open_notional: notional_limit_to_raw(state.max_gross_open_notional),
            max_gross_position: limit_to_raw(state.max_gross_position),
            throttle_orders_per_interval: limit_to_raw(state.throttle_count),
            throttle_interval_ns: limit_to_raw(state.throttle_interval_ns),
            open_orders: state.open_orders,
            open_notional: state.open_notional,
            worst_gross_position_qty: state.worst_gross_qty,
            gross_position_qty: cells.iter().map(|c| c.position_qty.abs()).sum(),
        })
    }

    /// One account's limits and exposure on one instrument, or `None` if either is unknown.
    pub fn exposure(&self, account: AccountId, instrument: InstrumentId) -> Option<ExposureView> {
        let account_index = self.account_index(account)?;
        let instrument_index = self.instrument_index(instrument)?;
        let cell = &self.cells[account_index * self.instrument_count + instrument_index];
        Some(ExposureView {
            limits: cell.limits(),
            position_qty: cell.position_qty,
            open_buy_qty: cell.open_qty[Side::Buy.index()],
            open_sell_qty: cell.open_qty[Side::Sell.index()],
            open_buy_notional: cell.open_notional[Side::Buy.index()],
            open_sell_notional: cell.open_notional[Side::Sell.index()],
            worst_position_qty: cell.worst_qty,
        })
    }

    /// The collar reference (last trade, else the configured or admin-set price), if any.
    pub fn reference_price(&self, instrument: InstrumentId) -> Option<Price> {
        let units = *self
            .reference_price_units
            .get(self.instrument_index(instrument)?)?;
        (units > 0).then_some(Price(units))
    }

    /// Pre-trade checks of a new order, in the crate docs' order; the first failure is the
    /// reason. Unknown accounts and instruments pass (the engine rejects them). Only the
    /// throttle ring changes, and only when the throttle admits the order.
    pub(crate) fn check_new_order(
        &mut self,
        order: &NewOrder,
        now_ns: u64,
    ) -> Result<(), RejectReason> {
        let Some(account_index) = self.account_index(order.account) else {
            return Ok(());
        };
        let Some(instrument_index) = self.instrument_index(order.instrument) else {
            return Ok(());
        };
        if self.accounts[account_index].blocked {
            return Err(RejectReason::RiskAccountBlocked);
        }
        self.admit_throttle(account_index, now_ns)?;
        let account = &self.accounts[account_index];
        let cell = &self.cells[account_index * self.instrument_count + instrument_index];
        let reference_units = self.reference_price_units[instrument_index];
        let qty = i64::from(order.qty.0);
        if qty > cell.max_order_qty {
            return Err(RejectReason::RiskMaxOrderQty);
        }
        let price_units = match order.order_type {
            OrderType::Limit => {
                if !within_collar(reference_units, cell.price_collar_bps, order.price.0) {
                    return Err(RejectReason::RiskPriceCollar);
                }
                order.price.0
            }
            OrderType::Market => market_risk_price(
                reference_units,
                cell.price_collar_bps,
                self.band_max_price_units[instrument_index],
            ),
        };
        let notional = i128::from(price_units) * i128::from(qty);
        if notional > cell.max_order_notional {
            return Err(RejectReason::RiskMaxOrderNotional);
        }
        let may_rest = order.order_type == OrderType::Limit && !order.time_in_force.is_immediate();
        if may_rest && account.open_orders >= account.max_open_orders {
            return Err(RejectReason::RiskMaxOpenOrders);
        }
        if account.open_notional + notional > account.max_gross_open_notional {
            return Err(RejectReason::RiskCreditLimit);
        }
        check_position_increase(account, cell, order.side, qty)
    }

    /// Pre-trade checks of a replace, on its delta against the order as it rests (`resting`,
    /// looked up by the caller; `None` or another account's order passes to the engine, which
    /// rejects it as unknown). Per-order limits apply to the new terms when they grow.
    pub(crate) fn check_replace(
        &mut self,
        replace: &ReplaceOrder,
        resting: Option<&RestingOrder>,
        now_ns: u64,
    ) -> Result<(), RejectReason> {
        let Some(account_index) = self.account_index(replace.account) else {
            return Ok(());
        };
        if self.accounts[account_index].blocked {
            return Err(RejectReason::RiskAccountBlocked);
        }
        self.admit_throttle(account_index, now_ns)?;
        let Some(old) = resting.filter(|o| o.account == replace.account) else {
            return Ok(());
        };
        let (_, cell_index) = self.cell_index(old.account, old.instrument);
        let account = &self.accounts[account_index];
        let cell = &self.cells[cell_index];
        let qty = i64::from(replace.qty.0);
        if qty > old.leaves_qty && qty > cell.max_order_qty {
            return Err(RejectReason::RiskMaxOrderQty);
        }
        let reference_units = self.reference_price_units[index_of(old.instrument.0)];
        let price_moved = replace.price.0 != old.price_units;
        if price_moved && !within_collar(reference_units, cell.price_collar_bps, replace.price.0) {
            return Err(RejectReason::RiskPriceCollar);
        }
        let notional = i128::from(replace.price.0) * i128::from(qty);
        let old_notional = i128::from(old.price_units) * i128::from(old.leaves_qty);
        if notional > old_notional && notional > cell.max_order_notional {
            return Err(RejectReason::RiskMaxOrderNotional);
        }
        let notional_increase = notional - old_notional;
        if notional_increase > 0
            && account.open_notional + notional_increase > account.max_gross_open_notional
        {
            return Err(RejectReason::RiskCreditLimit);
        }
        check_position_increase(account, cell, old.side, qty - old.leaves_qty)
    }

    /// Sliding-window throttle: admit when fewer than `throttle_count` orders were admitted in
    /// `(now − interval, now]`, i.e. when the `throttle_count`-th latest admitted timestamp is
    /// at least `interval` old. An admitted order is recorded (also while the throttle is off,
    /// so that switching it on at run time sees the real history).
    #[inline(always)]
    fn admit_throttle(&mut self, account_index: usize, now_ns: u64) -> Result<(), RejectReason> {
        let history_len = self.history_len;
        if history_len == 0 {
            return Ok(());
        }
        let account = &mut self.accounts[account_index];
        let ring = &mut self.throttle_ns[account_index * history_len..][..history_len];
        let head = account.throttle_head;
        assert!(head < history_len && account.throttle_len <= history_len);
        if account.throttle_count != OFF && account.throttle_interval_ns != OFF {
            // Validated on every write: 1 <= count <= history_len.
            let count = usize::try_from(account.throttle_count).unwrap_or(history_len);
            if account.throttle_len >= count {
                let slot = if head >= count {
                    head - count
                } else {
                    head + history_len - count
                };
                let age_ns = now_ns.saturating_sub(ring[slot]);
                if age_ns < account.throttle_interval_ns.unsigned_abs() {
                    return Err(RejectReason::RiskThrottle);
                }
            }
        }
        ring[head] = now_ns;
        account.throttle_head = if head + 1 == history_len { 0 } else { head + 1 };
        account.throttle_len += usize::from(account.throttle_len < history_len);
        Ok(())
    }

    /// Admin: change one limit. Unknown account or instrument, a negative value, an
    /// account-wide limit with an instrument, a throttle count above the ring, or a
    /// cancel-on-disconnect value other than 0/1 is a reject and changes nothing.
    pub(crate) fn set_limit(&mut self, set: &SetRiskLimit) -> Result<(), RejectReason> {
        let account_index = self
            .account_index(set.account)
            .ok_or(RejectReason::UnknownAccount)?;
        let instrument_index = match set.instrument {
            None => None,
            Some(id) => Some(
                self.instrument_index(id)
                    .ok_or(RejectReason::UnknownInstrument)?,
            ),
        };
        if set.value < 0 {
            return Err(RejectReason::RiskInvalidLimit);
        }
        let per_instrument = match set.limit {
            RiskLimit::MaxOrderQty
            | RiskLimit::MaxOrderNotional
            | RiskLimit::PriceCollarBps
            | RiskLimit::MaxNetPosition => true,
            RiskLimit::MaxOpenOrders
            | RiskLimit::MaxGrossOpenNotional
            | RiskLimit::MaxGrossPosition
            | RiskLimit::ThrottleOrdersPerInterval
            | RiskLimit::ThrottleIntervalNs
            | RiskLimit::CancelOnDisconnect => false,
        };
        if !per_instrument {
            if instrument_index.is_some() {
                return Err(RejectReason::RiskInvalidLimit);
            }
            return self.set_account_limit(account_index, set.limit, set.value);
        }
        let (first, end) = match instrument_index {
            Some(index) => (index, index + 1),
            None => (0, self.instrument_count),
        };
        let row = account_index * self.instrument_count;
        for cell in &mut self.cells[row + first..row + end] {
            let mut limits = cell.limits();
            match set.limit {
                RiskLimit::MaxOrderQty => limits.max_order_qty = set.value,
                RiskLimit::MaxOrderNotional => limits.max_order_notional = set.value,
                RiskLimit::PriceCollarBps => limits.price_collar_bps = set.value,
                RiskLimit::MaxNetPosition => limits.max_net_position = set.value,
                RiskLimit::MaxOpenOrders
                | RiskLimit::MaxGrossOpenNotional
                | RiskLimit::MaxGrossPosition
                | RiskLimit::ThrottleOrdersPerInterval
                | RiskLimit::ThrottleIntervalNs
                | RiskLimit::CancelOnDisconnect => {}
            }
            cell.set_limits(&limits);
        }
        Ok(())
    }

    fn set_account_limit(
        &mut self,
        account_index: usize,
        limit: RiskLimit,
        value: i64,
    ) -> Result<(), RejectReason> {
        let history_len = u32::try_from(self.history_len).unwrap_or(0);
        let account = &mut self.accounts[account_index];
        match limit {
            RiskLimit::MaxOpenOrders => account.max_open_orders = limit_from_raw(value),
            RiskLimit::MaxGrossOpenNotional => {
                account.max_gross_open_notional = notional_limit_from_raw(value);
            }
            RiskLimit::MaxGrossPosition => account.max_gross_position = limit_from_raw(value),
            RiskLimit::ThrottleOrdersPerInterval => {
                if !throttle_count_fits(value, history_len) {
                    return Err(RejectReason::RiskInvalidLimit);
                }
                account.throttle_count = limit_from_raw(value);
            }
            RiskLimit::ThrottleIntervalNs => account.throttle_interval_ns = limit_from_raw(value),
            RiskLimit::CancelOnDisconnect => match value {
                0 => account.cancel_on_disconnect = false,
                1 => account.cancel_on_disconnect = true,
                _ => return Err(RejectReason::RiskInvalidLimit),
            },
            RiskLimit::MaxOrderQty
            | RiskLimit::MaxOrderNotional
            | RiskLimit::PriceCollarBps
            | RiskLimit::MaxNetPosition => return Err(RejectReason::RiskInvalidLimit),
        }
        Ok(())
    }

    /// Admin: kill switch on (`true`) or off. The caller cancels the orders.
    pub(crate) fn set_blocked(
        &mut self,
        account: AccountId,
        blocked: bool,
    ) -> Result<(), RejectReason> {
        let index = self
            .account_index(account)
            .ok_or(RejectReason::UnknownAccount)?;
        self.accounts[index].blocked = blocked;
        Ok(())
    }

    /// Whether the account cancels its orders on a lost session.
    pub(crate) fn cancels_on_disconnect(&self, account: AccountId) -> Result<bool, RejectReason> {
        let index = self
            .account_index(account)
            .ok_or(RejectReason::UnknownAccount)?;
        Ok(self.accounts[index].cancel_on_disconnect)
    }

    /// Admin: set an instrument's collar reference (until the next trade).
    pub(crate) fn set_reference_price(
        &mut self,
        instrument: InstrumentId,
        price: Price,
    ) -> Result<(), RejectReason> {
        let index = self
            .instrument_index(instrument)
            .ok_or(RejectReason::UnknownInstrument)?;
        if price.0 <= 0 {
            return Err(RejectReason::RiskInvalidLimit);
        }
        self.reference_price_units[index] = price.0;
        Ok(())
    }

    /// Follow one engine event: open exposure, positions and the last-trade reference.
    #[inline(always)]
    pub(crate) fn observe(&mut self, event: &Event, context: &mut ObserveContext) {
        match event {
            Event::Accepted(accepted) => self.observe_accepted(accepted, context),
            Event::Executed(executed) => self.observe_executed(executed, context),
            Event::Cancelled(cancelled) => self.observe_cancelled(cancelled, context),
            Event::Replaced(replaced) => self.observe_replaced(replaced, context),
            // One side of an auction trade: a resting order filled at the uncross price; its
            // open exposure is released at its own limit price, the print is the new reference.
            Event::AuctionFill(fill) => {
                let change =
                    CellChange::filled(fill.side, fill.qty, fill.order_price.0, fill.leaves);
                self.change(fill.account, fill.instrument, change);
                self.reference_price_units[index_of(fill.instrument.0)] = fill.price.0;
            }
            Event::Rejected(_)
            | Event::Restated(_)
            | Event::MassCancelled(_)
            | Event::ControlAck(_)
            | Event::TradingStatus { .. }
            | Event::BookAdd(_)
            | Event::BookReduce(_)
            | Event::BookDelete(_)
            | Event::BookReplace(_)
            | Event::AuctionUncrossed(_)
            | Event::AuctionIndicative(_) => {}
        }
    }

    #[inline(always)]
    fn observe_accepted(&mut self, accepted: &Accepted, context: &mut ObserveContext) {
        context.taker_order = accepted.order;
        context.taker_price_units = accepted.price.0;
        let change = CellChange::opened(accepted.side, accepted.qty, accepted.price.0);
        self.change(accepted.account, accepted.instrument, change);
    }

    #[inline(always)]
    fn observe_executed(&mut self, executed: &Executed, context: &ObserveContext) {
        assert!(
            executed.taker_order == context.taker_order,
            "execution of an unknown taker"
        );
        let maker_side = executed.taker_side.opposite();
        let maker = CellChange::filled(
            maker_side,
            executed.qty,
            executed.price.0,
            executed.maker_leaves,
        );
        self.change(executed.maker_account, executed.instrument, maker);
        let taker_price_units = context.taker_price_units;
        let taker = CellChange::filled(
            executed.taker_side,
            executed.qty,
            taker_price_units,
            executed.taker_leaves,
        );
        self.change(executed.taker_account, executed.instrument, taker);
        self.reference_price_units[index_of(executed.instrument.0)] = executed.price.0;
    }

    #[inline(always)]
    fn observe_cancelled(&mut self, cancelled: &Cancelled, context: &mut ObserveContext) {
        let change = CellChange::cancelled(
            cancelled.side,
            i64::from(cancelled.cancelled_qty.0),
            cancelled.price.0,
            cancelled.leaves.is_zero(),
        );
        self.change(cancelled.account, cancelled.instrument, change);
        if cancelled.leaves.is_zero() {
            context.closed_by_cancel_count += 1;
        }
    }

    fn observe_replaced(&mut self, replaced: &Replaced, context: &mut ObserveContext) {
        let Some(old) = context.replaced else {
            panic!("Replaced event without the replaced order looked up");
        };
        assert!(old.id == replaced.old_order, "Replaced names another order");
        let (account, instrument, side) = (replaced.account, replaced.instrument, replaced.side);
        if replaced.priority_kept {
            let cut_qty = old.leaves_qty - i64::from(replaced.qty.0);
            assert!(cut_qty >= 0, "a replace that keeps priority cannot grow");
            let change = CellChange::cancelled(side, cut_qty, old.price_units, false);
            self.change(account, instrument, change);
        } else {
            let change = CellChange::cancelled(side, old.leaves_qty, old.price_units, true);
            self.change(account, instrument, change);
            self.change(
                account,
                instrument,
                CellChange::opened(side, replaced.qty, replaced.price.0),
            );
            context.taker_order = replaced.new_order;
            context.taker_price_units = replaced.price.0;
        }
    }

    /// Apply one change to an (account, instrument) cell and its account's sums, and refresh
    /// the cell's worst case. The hot path of exposure bookkeeping: one lookup per change.
    #[inline(always)]
    fn change(&mut self, account: AccountId, instrument: InstrumentId, change: CellChange) {
        let (account_index, cell_index) = self.cell_index(account, instrument);
        let cell = &mut self.cells[cell_index];
        let state = &mut self.accounts[account_index];
        let side_index = change.side.index();
        let notional = i128::from(change.price_units) * i128::from(change.open_qty);
        cell.open_qty[side_index] += change.open_qty;
        cell.open_notional[side_index] += notional;
        assert!(cell.open_qty[side_index] >= 0, "open quantity below zero");
        cell.position_qty += match change.side {
            Side::Buy => change.filled_qty,
            Side::Sell => -change.filled_qty,
        };
        state.open_orders += change.open_orders;
        assert!(state.open_orders >= 0, "open order count below zero");
        state.open_notional += notional;
        let worst = cell.worst();
        state.worst_gross_qty += worst - cell.worst_qty;
        cell.worst_qty = worst;
    }

    /// Replace the derived open exposure with one recomputed from the resting orders, and
    /// recompute the worst-case positions (restore).
    pub(crate) fn load_open(&mut self, open: &OpenExposure) {
        assert!(open.accounts.len() == self.accounts.len());
        assert!(open.instrument_count == self.instrument_count);
        for (cell, (open_qty, open_notional)) in self.cells.iter_mut().zip(&open.cells) {
            cell.open_qty = *open_qty;
            cell.open_notional = *open_notional;
            cell.worst_qty = cell.worst();
        }
        let row_len = self.instrument_count;
        for (index, (state, (orders, notional))) in
            self.accounts.iter_mut().zip(&open.accounts).enumerate()
        {
            state.open_orders = *orders;
            state.open_notional = *notional;
            let row = &self.cells[index * row_len..][..row_len];
            state.worst_gross_qty = row.iter().map(|c| c.worst_qty).sum();
        }
    }

    /// Panic, naming the first difference, unless the incremental exposure equals `open`
    /// (recomputed from the resting orders) and every derived worst case is consistent.
    pub(crate) fn verify_open(&self, open: &OpenExposure) {
        assert!(
            open.accounts.len() == self.accounts.len(),
            "exposure: account count"
        );
        assert!(
            open.instrument_count == self.instrument_count,
            "exposure: instrument count"
        );
        for (index, (cell, expected)) in self.cells.iter().zip(&open.cells).enumerate() {
            let (account, instrument) =
                (index / self.instrument_count, index % self.instrument_count);
            assert!(
                cell.open_qty == expected.0 && cell.open_notional == expected.1,
                "risk: open exposure of account {account} instrument {instrument}: \
                 incremental {:?}/{:?}, recomputed {:?}/{:?}",
                cell.open_qty,
                cell.open_notional,
                expected.0,
                expected.1
            );
            assert!(
                cell.worst_qty == cell.worst(),
                "risk: worst position of {account}/{instrument}"
            );
            assert!(cell.worst_qty >= 0, "risk: negative worst position");
        }
        for (index, (state, expected)) in self.accounts.iter().zip(&open.accounts).enumerate() {
            assert!(
                (state.open_orders, state.open_notional) == *expected,
                "risk: account {index} open orders/notional: incremental {}/{}, recomputed {:?}",
                state.open_orders,
                state.open_notional,
                expected
            );
            let row = &self.cells[index * self.instrument_count..][..self.instrument_count];
            let worst_sum: i64 = row.iter().map(|c| c.worst_qty).sum();
            assert!(
                state.worst_gross_qty == worst_sum,
                "risk: account {index} gross worst"
            );
            assert!(
                state.throttle_len <= self.history_len,
                "risk: throttle ring length"
            );
        }
    }

    /// The state that events cannot rebuild: limits, flags, positions, references, throttle.
    pub fn snapshot(&self) -> RiskSnapshot {
        let accounts = self
            .accounts
            .iter()
            .map(|state| AccountSnapshot {
                blocked: state.blocked,
                cancel_on_disconnect: state.cancel_on_disconnect,
                max_open_orders: limit_to_raw(state.max_open_orders),
                max_gross_open_notional: notional_limit_to_raw(state.max_gross_open_notional),
                max_gross_position: limit_to_raw(state.max_gross_position),
                throttle_orders_per_interval: limit_to_raw(state.throttle_count),
                throttle_interval_ns: limit_to_raw(state.throttle_interval_ns),
                throttle_head: u32::try_from(state.throttle_head).unwrap_or(u32::MAX),
                throttle_len: u32::try_from(state.throttle_len).unwrap_or(u32::MAX),
            })
            .collect();
        let cells = self
            .cells
            .iter()
            .map(|cell| CellSnapshot {
                limits: cell.limits(),
                position_qty: cell.position_qty,
            })
            .collect();
        RiskSnapshot {
            instrument_count: u32::try_from(self.instrument_count).unwrap_or(u32::MAX),
            throttle_history_len: u32::try_from(self.history_len).unwrap_or(u32::MAX),
            accounts,
            cells,
            reference_prices: self
                .reference_price_units
                .iter()
                .map(|&p| Price(p))
                .collect(),
            throttle_history_ns: self.throttle_ns.clone(),
        }
    }

    /// Take the snapshot's limits, flags, positions, references and throttle rings; the
    /// caller then rebuilds open exposure with [`Risk::load_open`].
    pub(crate) fn load_snapshot(&mut self, snapshot: &RiskSnapshot) -> Result<(), SnapshotFault> {
        snapshot.validate()?;
        if snapshot.accounts.len() != self.accounts.len() {
            return Err(SnapshotFault::AccountCount);
        }
        if index_of(snapshot.instrument_count) != self.instrument_count {
            return Err(SnapshotFault::InstrumentCount);
        }
        if index_of(snapshot.throttle_history_len) != self.history_len {
            return Err(SnapshotFault::HistoryLen);
        }
        for (state, saved) in self.accounts.iter_mut().zip(&snapshot.accounts) {
            let config = AccountRiskConfig {
                max_open_orders: saved.max_open_orders,
                max_gross_open_notional: saved.max_gross_open_notional,
                max_gross_position: saved.max_gross_position,
                throttle_orders_per_interval: saved.throttle_orders_per_interval,
                throttle_interval_ns: saved.throttle_interval_ns,
                cancel_on_disconnect: saved.cancel_on_disconnect,
                blocked: saved.blocked,
                ..AccountRiskConfig::default()
            };
            *state = AccountState::from_config(&config);
            // Validated against the ring length, which fits in memory.
            state.throttle_head = index_of(saved.throttle_head);
            state.throttle_len = index_of(saved.throttle_len);
        }
        for (cell, saved) in self.cells.iter_mut().zip(&snapshot.cells) {
            *cell = Cell::from_limits(&saved.limits);
            cell.position_qty = saved.position_qty;
        }
        for (reference, saved) in self
            .reference_price_units
            .iter_mut()
            .zip(&snapshot.reference_prices)
        {
            *reference = saved.0;
        }
        self.throttle_ns
            .copy_from_slice(&snapshot.throttle_history_ns);
        Ok(())
    }
}

/// Worst-case position checks for `added_qty > 0` more open shares on `side` (a new order, or
/// the growth of a replaced one); nothing to check when the open quantity does not grow.
///
/// Net (per instrument, on the order's side only, so orders that reduce a position pass):
/// buy `position + open_buy + added <= max_net`, sell `open_sell + added − position <= max_net`.
/// Gross (across instruments, only when the cell's worst case grows):
/// `worst_gross − worst + worst' <= max_gross` with `worst' = max(pos + buy', sell' − pos)`.
fn check_position_increase(
    account: &AccountState,
    cell: &Cell,
    side: Side,
    added_qty: i64,
) -> Result<(), RejectReason> {
    if added_qty <= 0 {
        return Ok(());
    }
    let position_qty = cell.position_qty;
    let (buy_side_qty, sell_side_qty) = match side {
        Side::Buy => (
            position_qty + cell.open_qty[0] + added_qty,
            cell.open_qty[1] - position_qty,
        ),
        Side::Sell => (
            position_qty + cell.open_qty[0],
            cell.open_qty[1] + added_qty - position_qty,
        ),
    };
    let side_worst_qty = match side {
        Side::Buy => buy_side_qty,
        Side::Sell => sell_side_qty,
    };
    if side_worst_qty > cell.max_net_position {
        return Err(RejectReason::RiskNetPosition);
    }
    let increase_qty = buy_side_qty.max(sell_side_qty) - cell.worst_qty;
    if increase_qty > 0
        && account.worst_gross_qty.saturating_add(increase_qty) > account.max_gross_position
    {
        return Err(RejectReason::RiskGrossPosition);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collar_is_inclusive_and_off_without_reference() {
        // 100.00 reference, 500 bps: 95.00..=105.00.
        assert!(within_collar(1_000_000, 500, 1_050_000));
        assert!(within_collar(1_000_000, 500, 950_000));
        assert!(!within_collar(1_000_000, 500, 1_050_001));
        assert!(!within_collar(1_000_000, 500, 949_999));
        assert!(within_collar(0, 500, 5));
        assert!(within_collar(1_000_000, OFF, i64::MAX));
        assert!(!within_collar(1_000_000, 0, 1_000_001));
        assert!(!within_collar(1_000_000, 500, -5));
    }

    #[test]
    fn market_price_is_collar_top_capped_by_band() {
        assert_eq!(market_risk_price(1_000_000, 500, 10_000_000), 1_050_000);
        assert_eq!(market_risk_price(3, 1, 10_000_000), 4); // rounded up
        assert_eq!(market_risk_price(1_000_000, 500, 1_020_000), 1_020_000);
        assert_eq!(market_risk_price(0, 500, 10_000_000), 10_000_000);
        assert_eq!(market_risk_price(1_000_000, OFF, 10_000_000), 10_000_000);
        assert_eq!(market_risk_price(i64::MAX, OFF - 1, i64::MAX), i64::MAX);
    }

    #[test]
    fn limits_round_trip_through_effective_form() {
        assert_eq!(limit_from_raw(0), OFF);
        assert_eq!(limit_to_raw(limit_from_raw(0)), 0);
        assert_eq!(limit_to_raw(limit_from_raw(7)), 7);
        assert_eq!(notional_limit_from_raw(i64::MAX), OFF_NOTIONAL);
        assert_eq!(notional_limit_to_raw(notional_limit_from_raw(0)), 0);
        assert_eq!(notional_limit_to_raw(notional_limit_from_raw(9)), 9);
    }

    #[test]
    fn worst_is_never_negative() {
        for position in -5..=5 {
            for buy in 0..=3 {
                for sell in 0..=3 {
                    let worst = worst_qty(position, buy, sell);
                    assert!(worst >= 0);
                    assert!(worst >= (position + buy).abs() && worst >= (position - sell).abs());
                }
            }
        }
    }
}
