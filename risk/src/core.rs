//! [`Core`]: the deterministic core state, an [`Engine`] behind [`Risk`]. The core stage, the
//! journal's replay and the tests drive exactly this.
//!
//! One [`Core::apply`] per sequenced input: first the engine's market timers reached by the
//! input's sequencer time (schedule boundaries, ends of resume/volatility calls and batches,
//! see the engine's "Trading phases and auctions"), then risk (checks or an admin change), then
//! the engine, whose events reach the caller's sink through a wrapper that lets risk follow
//! exposure (auction fills included). A command that risk rejects never reaches the engine;
//! the timers its time reached still fire, so a boundary's events do not depend on whether
//! the first command after it passes risk.
//!
//! [`Core::new`] trades continuously all day; [`Core::with_market`] takes the market rules
//! (phases, auctions) and [`Core::snapshot`] carries the engine's market state with it.
//!
//! # Invariants
//! - `apply` is a function of the state and the input; the only time it reads is
//!   `input.timestamp_ns`, and every engine call of one input sees that time. Inputs arrive with `seq == last_seq() + 1`; anything else is a
//!   programmer error in the caller (a gap in the journal is found before this point) and panics.
//! - `apply` allocates nothing: risk's tables and the engine's pools are taken in `new`.
//! - After every `apply`, risk's open exposure equals the one recomputed from the engine's
//!   resting orders ([`Core::verify`] checks it, tests call it after every step).
//! - `restore(snapshot())` gives a core that emits exactly the events the original would.
//!
//! # Panics
//! `apply` panics only on a sequence gap or on a broken internal invariant (see `state`);
//! `verify` panics with a message naming the first inconsistency.

use peregrine_engine::{
    AccountId, CancelReason, Command, CommandKind, ConfigError, ControlAck, Engine, EngineConfig,
    EngineSnapshot, Event, EventSink, InstrumentId, MarketConfig, MarketSnapshot, NewOrder,
    OrderFilter, OrderId, OrderView, RejectReason, Rejected, ReplaceOrder, RestoreError, Sequenced,
    SessionId, Side,
};

/// A command the engine ignores (risk handles account unblocking alone): handed to
/// [`Engine::apply_at`] to fire the market timers an input's time reaches before risk runs.
const TIMER_TICK: Command = Command::UnblockAccount {
    account: AccountId(0),
};

use crate::config::{RiskConfig, RiskConfigError};
use crate::snapshot::{RiskSnapshot, SnapshotFault};
use crate::state::{ObserveContext, OpenExposure, RestingOrder, Risk};

/// The whole core state as plain data (allocates; taken off the hot path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreSnapshot {
    /// Sequence number of the last input applied before the snapshot.
    pub last_seq: u64,
    pub engine: EngineSnapshot,
    pub risk: RiskSnapshot,
    /// The engine's market clock and timers (phases themselves are in `engine`).
    pub market: MarketSnapshot,
}

/// Why a core cannot start or be restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreError {
    Engine(ConfigError),
    Risk(RiskConfigError),
    Restore(RestoreError),
    RiskSnapshot(SnapshotFault),
}

impl core::fmt::Display for CoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CoreError::Engine(error) => write!(f, "engine configuration: {error}"),
            CoreError::Risk(error) => write!(f, "risk configuration: {error}"),
            CoreError::Restore(error) => write!(f, "engine snapshot: {error}"),
            CoreError::RiskSnapshot(fault) => write!(f, "risk snapshot: {fault}"),
        }
    }
}

impl std::error::Error for CoreError {}

impl From<ConfigError> for CoreError {
    fn from(error: ConfigError) -> CoreError {
        CoreError::Engine(error)
    }
}

impl From<RiskConfigError> for CoreError {
    fn from(error: RiskConfigError) -> CoreError {
        CoreError::Risk(error)
    }
}

impl From<RestoreError> for CoreError {
    fn from(error: RestoreError) -> CoreError {
        CoreError::Restore(error)
    }
}

impl From<SnapshotFault> for CoreError {
    fn from(fault: SnapshotFault) -> CoreError {
        CoreError::RiskSnapshot(fault)
    }
}

/// Hands each engine event to risk, then to the caller's sink, in the engine's order.
struct ObservingSink<'a, S: EventSink> {
    risk: &'a mut Risk,
    sink: &'a mut S,
    context: ObserveContext,
}

impl<S: EventSink> EventSink for ObservingSink<'_, S> {
    // Inlined into each push site of the engine, so that `observe`'s match on the event kind
    // folds away where the engine builds the event (measured in the bench).
    #[inline(always)]
    fn push(&mut self, event: Event) {
        self.risk.observe(&event, &mut self.context);
        self.sink.push(event);
    }
}

/// The engine and its pre-trade risk, applied as one deterministic state machine.
pub struct Core {
    engine: Engine,
    risk: Risk,
    last_seq: u64,
}

impl Core {
    /// Take all memory for both; the configurations must agree on accounts and instruments.
    /// Continuous trading all day (no market rules).
    pub fn new(engine: EngineConfig, risk: RiskConfig) -> Result<Core, CoreError> {
        let market = MarketConfig::continuous(engine.instruments.len());
        Core::with_market(engine, risk, market)
    }

    /// As [`Core::new`], with market rules (one per instrument: schedule, batch auctions,
    /// halt-resume and volatility calls) for the engine.
    pub fn with_market(
        engine: EngineConfig,
        risk: RiskConfig,
        market: MarketConfig,
    ) -> Result<Core, CoreError> {
        let risk = Risk::new(&risk, &engine)?;
        let engine = Engine::with_market(engine, market)?;
        Ok(Core {
            engine,
            risk,
            last_seq: 0,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn risk(&self) -> &Risk {
        &self.risk
    }

    /// Sequence number of the last input applied; 0 before the first.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Apply one sequenced input (see the crate docs for the order of checks and events).
    pub fn apply(&mut self, input: &Sequenced, sink: &mut impl EventSink) {
        assert!(
            input.seq == self.last_seq + 1,
            "core: input seq {} after {}",
            input.seq,
            self.last_seq
        );
        self.last_seq = input.seq;
        let now_ns = input.timestamp_ns;
        self.fire_timers(now_ns, sink);
        match &input.command {
            Command::NewOrder(order) => match self.risk.check_new_order(order, now_ns) {
                Ok(()) => {
                    self.forward(&input.command, ObserveContext::default(), sink);
                }
                Err(reason) => sink.push(reject_new_order(order, reason)),
            },
            Command::Replace(replace) => self.apply_replace(replace, &input.command, now_ns, sink),
            Command::Cancel(_)
            | Command::Reduce(_)
            | Command::MassCancel(_)
            | Command::SetTradingStatus { .. }
            | Command::EndOfDay => {
                self.forward(&input.command, ObserveContext::default(), sink);
            }
            Command::SetRiskLimit(set) => {
                let instrument = set.instrument.unwrap_or_default();
                let kind = CommandKind::SetRiskLimit;
                match self.risk.set_limit(set) {
                    Ok(()) => sink.push(ack(kind, set.account, instrument, set.value)),
                    Err(reason) => sink.push(reject_admin(kind, set.account, instrument, reason)),
                }
            }
            Command::BlockAccount { account } => self.apply_block(*account, &input.command, sink),
            Command::UnblockAccount { account } => {
                let kind = CommandKind::UnblockAccount;
                match self.risk.set_blocked(*account, false) {
                    Ok(()) => sink.push(ack(kind, *account, InstrumentId(0), 0)),
                    Err(reason) => sink.push(reject_admin(kind, *account, InstrumentId(0), reason)),
                }
            }
            Command::SetReferencePrice { instrument, price } => {
                let kind = CommandKind::SetReferencePrice;
                match self.risk.set_reference_price(*instrument, *price) {
                    Ok(()) => {
                        // The engine keeps it as the auction reference (it emits nothing).
                        self.forward(&input.command, ObserveContext::default(), sink);
                        sink.push(ack(kind, AccountId(0), *instrument, price.0));
                    }
                    Err(reason) => sink.push(reject_admin(kind, AccountId(0), *instrument, reason)),
                }
            }
            Command::SessionLost { account, session } => {
                self.apply_session_lost(*account, *session, sink);
            }
        }
    }

    /// Advance the engine's sequencer clock to `now_ns`, firing the market timers it reaches
    /// (their events, auction fills included, pass risk on the way to `sink`).
    fn fire_timers(&mut self, now_ns: u64, sink: &mut impl EventSink) {
        let mut observing = ObservingSink {
            risk: &mut self.risk,
            sink,
            context: ObserveContext::default(),
        };
        self.engine.apply_at(now_ns, &TIMER_TICK, &mut observing);
    }

    /// Hand a command to the engine with risk following its events; returns the context
    /// (how many orders cancels closed, for acknowledgements).
    fn forward(
        &mut self,
        command: &Command,
        context: ObserveContext,
        sink: &mut impl EventSink,
    ) -> ObserveContext {
        let mut observing = ObservingSink {
            risk: &mut self.risk,
            sink,
            context,
        };
        self.engine.apply(command, &mut observing);
        observing.context
    }

    fn apply_replace(
        &mut self,
        replace: &ReplaceOrder,
        command: &Command,
        now_ns: u64,
        sink: &mut impl EventSink,
    ) {
        let resting = self
            .engine
            .order(replace.order)
            .map(|view| resting_order(&view));
        match self.risk.check_replace(replace, resting.as_ref(), now_ns) {
            Ok(()) => {
                let mut context = ObserveContext::default();
                context.replaced = resting;
                self.forward(command, context, sink);
            }
            Err(reason) => {
                let instrument = resting.map(|order| order.instrument).unwrap_or_default();
                sink.push(Event::Rejected(Rejected {
                    account: replace.account,
                    session: replace.session,
                    client_ref: replace.client_ref,
                    instrument,
                    order: replace.order,
                    command: CommandKind::Replace,
                    reason,
                }));
            }
        }
    }

    /// Kill switch: block first (so nothing the cancels trigger could re-enter), then the
    /// engine cancels every resting order of the account (`KillSwitch`), then the ack with the
    /// number of orders cancelled.
    fn apply_block(&mut self, account: AccountId, command: &Command, sink: &mut impl EventSink) {
        let kind = CommandKind::BlockAccount;
        if let Err(reason) = self.risk.set_blocked(account, true) {
            sink.push(reject_admin(kind, account, InstrumentId(0), reason));
            return;
        }
        let context = self.forward(command, ObserveContext::default(), sink);
        sink.push(ack(
            kind,
            account,
            InstrumentId(0),
            i64::from(context.closed_by_cancel_count),
        ));
    }

    /// Cancel-on-disconnect: with the account's flag set, cancel the orders the lost session
    /// entered (`Disconnect`); the ack carries the count (0 when the flag is off).
    fn apply_session_lost(
        &mut self,
        account: AccountId,
        session: SessionId,
        sink: &mut impl EventSink,
    ) {
        let kind = CommandKind::SessionLost;
        let cancels = match self.risk.cancels_on_disconnect(account) {
            Ok(cancels) => cancels,
            Err(reason) => {
                sink.push(reject_session_admin(
                    kind,
                    account,
                    session,
                    InstrumentId(0),
                    reason,
                ));
                return;
            }
        };
        let mut cancelled_count = 0;
        if cancels {
            let filter = OrderFilter {
                account: Some(account),
                session: Some(session),
                instrument: None,
            };
            let mut observing = ObservingSink {
                risk: &mut self.risk,
                sink,
                context: ObserveContext::default(),
            };
            cancelled_count =
                self.engine
                    .cancel_orders(filter, CancelReason::Disconnect, &mut observing);
        }
        sink.push(ack(
            kind,
            account,
            InstrumentId(0),
            i64::from(cancelled_count),
        ));
    }

    /// Engine invariants, then risk's incremental exposure against a recomputation from the
    /// engine's resting orders. Walks everything: tests and simulation only.
    pub fn verify(&self) {
        self.engine.verify();
        let open = open_exposure(&self.engine, &self.risk);
        self.risk.verify_open(&open);
    }

    /// The whole state as plain data (allocates).
    pub fn snapshot(&self) -> CoreSnapshot {
        CoreSnapshot {
            last_seq: self.last_seq,
            engine: self.engine.snapshot(),
            risk: self.risk.snapshot(),
            market: self.engine.market_snapshot(),
        }
    }

    /// Rebuild a continuous-trading core (see [`Core::new`]) from a snapshot taken with the
    /// same configurations (see [`Core::restore_with_market`]).
    pub fn restore(
        engine: EngineConfig,
        risk: RiskConfig,
        snapshot: &CoreSnapshot,
    ) -> Result<Core, CoreError> {
        let market = MarketConfig::continuous(engine.instruments.len());
        Core::restore_with_market(engine, risk, market, snapshot)
    }

    /// Rebuild a core from a snapshot taken with the same configurations and market rules.
    /// Limits, flags, positions, references and throttle history come from the snapshot
    /// (admin changes survive); the engine's phases, market clock and timers too; open
    /// exposure is recomputed from the engine's restored orders.
    pub fn restore_with_market(
        engine: EngineConfig,
        risk: RiskConfig,
        market: MarketConfig,
        snapshot: &CoreSnapshot,
    ) -> Result<Core, CoreError> {
        let mut restored_risk = Risk::new(&risk, &engine)?;
        let engine =
            Engine::restore_with_market(engine, market, &snapshot.engine, &snapshot.market)?;
        restored_risk.load_snapshot(&snapshot.risk)?;
        let open = open_exposure(&engine, &restored_risk);
        restored_risk.load_open(&open);
        Ok(Core {
            engine,
            risk: restored_risk,
            last_seq: snapshot.last_seq,
        })
    }
}

fn resting_order(view: &OrderView) -> RestingOrder {
    RestingOrder {
        id: view.id,
        account: view.account,
        instrument: view.instrument,
        side: view.side,
        price_units: view.price.0,
        leaves_qty: i64::from(view.leaves.0),
    }
}

/// Open exposure recomputed from every resting order of the engine.
fn open_exposure(engine: &Engine, risk: &Risk) -> OpenExposure {
    let mut open = OpenExposure::new(risk.account_count(), risk.instrument_count());
    for instrument_index in 0..risk.instrument_count() {
        let instrument = InstrumentId(u32::try_from(instrument_index).unwrap_or(u32::MAX));
        for side in [Side::Buy, Side::Sell] {
            engine.for_each_order(instrument, side, |view| open.add(&resting_order(&view)));
        }
    }
    open
}

fn reject_new_order(order: &NewOrder, reason: RejectReason) -> Event {
    Event::Rejected(Rejected {
        account: order.account,
        session: order.session,
        client_ref: order.client_ref,
        instrument: order.instrument,
        order: OrderId::NONE,
        command: CommandKind::NewOrder,
        reason,
    })
}

fn reject_admin(
    command: CommandKind,
    account: AccountId,
    instrument: InstrumentId,
    reason: RejectReason,
) -> Event {
    reject_session_admin(command, account, SessionId(0), instrument, reason)
}

fn reject_session_admin(
    command: CommandKind,
    account: AccountId,
    session: SessionId,
    instrument: InstrumentId,
    reason: RejectReason,
) -> Event {
    Event::Rejected(Rejected {
        account,
        session,
        client_ref: 0,
        instrument,
        order: OrderId::NONE,
        command,
        reason,
    })
}

fn ack(command: CommandKind, account: AccountId, instrument: InstrumentId, value: i64) -> Event {
    Event::ControlAck(ControlAck {
        command,
        account,
        instrument,
        value,
    })
}
