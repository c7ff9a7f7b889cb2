//! Cost of pre-trade risk per command: the same realistic journal applied to
//! - `engine`: a bare `Engine::apply` (no risk at all),
//! - `core_permissive`: `Core::apply` with every limit off (exposure still followed),
//! - `core_all_checks`: `Core::apply` with every limit on and sized so that none bites
//!   (every check is computed, none rejects, so all three do the same matching work).
//!
//! The journal: 8 accounts on 4 instruments; after a warm-up that touches the memory the run
//! uses and builds the books, commands are about 45% resting limit orders near the touch
//! (1 in 12 crossing, so some trade), 5% IOC/market orders, 30% cancels, 15% replaces and 5%
//! reduces of live orders; the book stays at a steady size. Each criterion
//! iteration is one command (`iter_custom`; a fresh state after the warm-up is built outside the
//! timed section whenever the journal runs out), so the reported time is ns per command and
//! the differences between the three are the cost of risk per command.
//!
//! Times are this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so that other
//! processes on a shared machine (preemption) do not land in the figures; caches are still
//! shared. Before criterion runs, an interleaved summary applies the three variants in turn
//! for several rounds and prints the median ns per command of each and the differences.
//!
//! Run: `cargo bench -p peregrine-risk --bench risk -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use peregrine_engine::event::sink::CountSink;
use peregrine_engine::{
    AccountId, CancelOrder, Command, Engine, EngineConfig, Event, EventSink, InstrumentId,
    MassCancel, NewOrder, OrderId, OrderType, Price, Qty, ReduceOrder, ReplaceOrder, Sequenced,
    SessionId, Side, StpMode, TimeInForce,
};
use peregrine_risk::{Core, RiskConfig};

const ACCOUNTS: u32 = 8;
const INSTRUMENTS: u32 = 4;
const MID_PRICE: i64 = 1_000_000;
const TICK: i64 = 100;
/// Resting orders entered (then cancelled) to touch memory before the measured part.
const TOUCH_ORDERS: usize = 12_000;
/// Commands of the mix between the touch phase and the measured part.
const SETTLE_COMMANDS: usize = 6_000;
const WARM_UP_COMMANDS: usize = TOUCH_ORDERS + ACCOUNTS as usize + SETTLE_COMMANDS;
const MEASURED_COMMANDS: usize = 40_000;
const COMMAND_SPACING_NS: u64 = 250;

fn engine_config() -> EngineConfig {
    EngineConfig::demo(INSTRUMENTS as usize, ACCOUNTS as usize, 65_536)
}

fn permissive() -> RiskConfig {
    RiskConfig::permissive(ACCOUNTS as usize, INSTRUMENTS as usize)
}

/// Every limit on, none tight enough to reject this flow.
fn all_checks() -> RiskConfig {
    let mut risk = permissive();
    for account in &mut risk.accounts {
        account.max_open_orders = 100_000;
        account.max_gross_open_notional = i64::MAX / 4;
        account.max_gross_position = 1_000_000_000;
        account.throttle_orders_per_interval = 64;
        account.throttle_interval_ns = 10_000;
        account.cancel_on_disconnect = true;
        account.instrument_limits.max_order_qty = 1_000_000;
        account.instrument_limits.max_order_notional = i64::MAX / 4;
        account.instrument_limits.price_collar_bps = 500;
        account.instrument_limits.max_net_position = 1_000_000_000;
    }
    for instrument in &mut risk.instruments {
        instrument.reference_price = MID_PRICE;
    }
    risk
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn new_order(rng: &mut Rng) -> NewOrder {
    let account = rng.below(u64::from(ACCOUNTS)) as u32;
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let crossing = rng.below(12) == 0;
    let offset = (rng.below(25) as i64 + 1) * TICK;
    let price = match (side, crossing) {
        (Side::Buy, false) | (Side::Sell, true) => MID_PRICE - offset,
        (Side::Sell, false) | (Side::Buy, true) => MID_PRICE + offset,
    };
    NewOrder {
        account: AccountId(account),
        session: SessionId(account),
        client_ref: 0,
        instrument: InstrumentId(rng.below(u64::from(INSTRUMENTS)) as u32),
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price: Price(price),
        qty: Qty((rng.below(20) as u32 + 1) * 10),
        display_qty: Qty(0),
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::AccountDefault,
    }
}

/// The generator's list of resting orders (generation only; not timed).
#[derive(Default)]
struct LiveOrders {
    ids: Vec<OrderId>,
    index_of: std::collections::BTreeMap<OrderId, usize>,
}

impl LiveOrders {
    fn insert(&mut self, id: OrderId) {
        if !self.index_of.contains_key(&id) {
            self.index_of.insert(id, self.ids.len());
            self.ids.push(id);
        }
    }

    fn remove(&mut self, id: OrderId) {
        if let Some(index) = self.index_of.remove(&id) {
            self.ids.swap_remove(index);
            if let Some(&moved) = self.ids.get(index) {
                self.index_of.insert(moved, index);
            }
        }
    }

    fn follow(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::BookAdd(add) => self.insert(add.order),
                Event::BookReplace(replace) => {
                    self.remove(replace.old_order);
                    self.insert(replace.new_order);
                }
                Event::BookDelete(delete) => self.remove(delete.order),
                Event::Executed(executed) if executed.maker_leaves.0 == 0 => {
                    self.remove(executed.maker_order)
                }
                _ => {}
            }
        }
    }

    fn pick(&self, rng: &mut Rng) -> Option<OrderId> {
        let count = self.ids.len() as u64;
        (count > 0).then(|| self.ids[rng.below(count) as usize])
    }
}

/// One command of the steady mix: 45% resting limit orders, 5% IOC/market, 30% cancels,
/// 15% replaces, 5% reduces of live orders.
fn mixed_command(rng: &mut Rng, core: &Core, live: &LiveOrders) -> Command {
    let roll = rng.below(100);
    let live = live.pick(rng).and_then(|id| core.engine().order(id));
    match (roll, live) {
        (0..=44, _) | (_, None) => Command::NewOrder(new_order(rng)),
        (45..=49, _) => {
            let mut order = new_order(rng);
            order.time_in_force = TimeInForce::Ioc;
            if rng.below(2) == 0 {
                order.order_type = OrderType::Market;
                order.price = Price(0);
            }
            Command::NewOrder(order)
        }
        (50..=79, Some(view)) => Command::Cancel(CancelOrder {
            account: view.account,
            session: view.session,
            client_ref: 0,
            order: view.id,
        }),
        (80..=94, Some(view)) => Command::Replace(ReplaceOrder {
            account: view.account,
            session: view.session,
            client_ref: 0,
            order: view.id,
            price: Price(view.price.0 + (rng.below(5) as i64 - 2) * TICK),
            qty: Qty((rng.below(20) as u32 + 1) * 10),
            display_qty: Qty(0),
        }),
        (_, Some(view)) => Command::Reduce(ReduceOrder {
            account: view.account,
            session: view.session,
            client_ref: 0,
            order: view.id,
            leaves_qty: Qty(view.leaves.0 / 2),
        }),
    }
}

/// Generate the journal by running it on a permissive core (to name live orders). Warm-up:
/// `TOUCH_ORDERS` resting orders then a mass cancel per account, so that the order arena,
/// index and ladder pages the run will use are already touched (no page faults in the timed
/// part), then `SETTLE_COMMANDS` of the mix to build the book; then the measured mix.
fn journal() -> Vec<Sequenced> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut core = Core::new(engine_config(), permissive()).expect("config");
    let mut journal = Vec::with_capacity(WARM_UP_COMMANDS + MEASURED_COMMANDS);
    let mut live = LiveOrders::default();
    let mut events = Vec::new();
    for index in 0..WARM_UP_COMMANDS + MEASURED_COMMANDS {
        let command = if index < TOUCH_ORDERS {
            let mut order = new_order(&mut rng);
            order.price = Price(match order.side {
                Side::Buy => MID_PRICE - (rng.below(25) as i64 + 1) * TICK,
                Side::Sell => MID_PRICE + (rng.below(25) as i64 + 1) * TICK,
            });
            Command::NewOrder(order)
        } else if index < TOUCH_ORDERS + ACCOUNTS as usize {
            let account = AccountId((index - TOUCH_ORDERS) as u32);
            Command::MassCancel(MassCancel {
                account: Some(account),
                instrument: None,
                session: SessionId(account.0),
                client_ref: 0,
            })
        } else {
            mixed_command(&mut rng, &core, &live)
        };
        let seq = index as u64 + 1;
        let input = Sequenced {
            seq,
            timestamp_ns: seq * COMMAND_SPACING_NS,
            command,
        };
        events.clear();
        core.apply(&input, &mut events);
        live.follow(&events);
        journal.push(input);
        if index + 1 == WARM_UP_COMMANDS || index + 1 == journal.capacity() {
            let resting = core.engine().resting_order_count();
            println!(
                "journal: {resting} resting orders after {} commands",
                index + 1
            );
        }
    }
    journal
}

/// Stands in for the core stage's outbound ring: every event is written to a slot, so every
/// variant must build its events in full (a counting sink would let the compiler drop the
/// bare engine's event construction and flatter it).
struct RingSink {
    slots: Box<[Event]>,
    next_index: usize,
}

const RING_SLOTS: usize = 1 << 12;

impl RingSink {
    fn new() -> RingSink {
        let empty = Event::BookDelete(peregrine_engine::BookDelete {
            order: OrderId::NONE,
            instrument: InstrumentId(0),
        });
        RingSink {
            slots: vec![empty; RING_SLOTS].into_boxed_slice(),
            next_index: 0,
        }
    }
}

impl EventSink for RingSink {
    #[inline]
    fn push(&mut self, event: Event) {
        self.slots[self.next_index & (RING_SLOTS - 1)] = event;
        self.next_index = self.next_index.wrapping_add(1);
    }
}

/// A state after the warm-up part of the journal.
trait Subject {
    fn fresh(journal: &[Sequenced]) -> Self;
    fn apply(&mut self, input: &Sequenced, sink: &mut RingSink);
}

struct Bare(Engine);
struct WithRisk<const CHECKS: bool>(Core);

impl Subject for Bare {
    fn fresh(journal: &[Sequenced]) -> Self {
        let mut engine = Engine::new(engine_config()).expect("config");
        for input in &journal[..WARM_UP_COMMANDS] {
            engine.apply(&input.command, &mut CountSink::default());
        }
        Bare(engine)
    }

    #[inline(never)] // one call per command in every variant; a symbol for callgrind
    fn apply(&mut self, input: &Sequenced, sink: &mut RingSink) {
        self.0.apply(&input.command, sink);
    }
}

impl<const CHECKS: bool> Subject for WithRisk<CHECKS> {
    fn fresh(journal: &[Sequenced]) -> Self {
        let risk = if CHECKS { all_checks() } else { permissive() };
        let mut core = Core::new(engine_config(), risk).expect("config");
        for input in &journal[..WARM_UP_COMMANDS] {
            core.apply(input, &mut CountSink::default());
        }
        WithRisk(core)
    }

    #[inline(never)] // one call per command in every variant; a symbol for callgrind
    fn apply(&mut self, input: &Sequenced, sink: &mut RingSink) {
        self.0.apply(input, sink);
    }
}

/// This thread's CPU time.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(result, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(now.tv_nsec).unwrap_or(0);
    Duration::new(seconds, nanos)
}

/// Time `iters` commands from the measured part, starting over on a fresh state (untimed)
/// when it runs out.
fn run<S: Subject>(journal: &[Sequenced], iters: u64) -> Duration {
    let measured = &journal[WARM_UP_COMMANDS..];
    let mut total = Duration::ZERO;
    let mut remaining = usize::try_from(iters).unwrap_or(usize::MAX);
    while remaining > 0 {
        let mut subject = S::fresh(journal);
        let count = remaining.min(measured.len());
        let mut sink = RingSink::new();
        let start = thread_cpu_time();
        for input in &measured[..count] {
            subject.apply(input, &mut sink);
        }
        total += thread_cpu_time() - start;
        black_box(&sink.slots[..]);
        black_box(sink.next_index);
        black_box(&subject);
        remaining -= count;
    }
    total
}

/// The three must do the same matching work: the checked core rejects nothing.
fn assert_no_risk_rejects(journal: &[Sequenced]) {
    let mut core = Core::new(engine_config(), all_checks()).expect("config");
    let mut rejects = 0usize;
    let mut events = Vec::new();
    for input in journal {
        events.clear();
        core.apply(input, &mut events);
        rejects += events
            .iter()
            .filter(|e| matches!(e, Event::Rejected(r) if r.reason.code() >= 32))
            .count();
    }
    assert_eq!(
        rejects, 0,
        "the all-checks configuration must not reject this flow"
    );
    core.verify();
}

/// Median ns per command of each variant over interleaved rounds of the whole measured part.
fn interleaved_summary(journal: &[Sequenced]) {
    const ROUNDS: usize = 15;
    let commands = (journal.len() - WARM_UP_COMMANDS) as u64;
    let per_command = |d: Duration| d.as_nanos() as f64 / commands as f64;
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        samples[0].push(per_command(run::<Bare>(journal, commands)));
        samples[1].push(per_command(run::<WithRisk<false>>(journal, commands)));
        samples[2].push(per_command(run::<WithRisk<true>>(journal, commands)));
    }
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    println!("interleaved medians over {ROUNDS} rounds of {commands} commands (thread CPU time):");
    println!("  engine           {:8.1} ns/command", medians[0]);
    println!("  core_permissive  {:8.1} ns/command", medians[1]);
    println!("  core_all_checks  {:8.1} ns/command", medians[2]);
    println!(
        "  risk, checks off {:+8.1} ns/command (permissive - engine)",
        medians[1] - medians[0]
    );
    println!(
        "  risk, checks on  {:+8.1} ns/command (all checks - engine)",
        medians[2] - medians[0]
    );
    println!(
        "  the checks alone {:+8.1} ns/command (all checks - permissive)",
        medians[2] - medians[1]
    );
}

fn risk_cost(c: &mut Criterion, journal: &[Sequenced]) {
    let mut group = c.benchmark_group("apply_per_command");
    group.throughput(Throughput::Elements(1));
    group.bench_function("engine", |b| {
        b.iter_custom(|iters| run::<Bare>(journal, iters))
    });
    group.bench_function("core_permissive", |b| {
        b.iter_custom(|iters| run::<WithRisk<false>>(journal, iters))
    });
    group.bench_function("core_all_checks", |b| {
        b.iter_custom(|iters| run::<WithRisk<true>>(journal, iters))
    });
    group.finish();
}

fn main() {
    let journal = journal();
    // Profiling aid: `RISK_BENCH_VARIANT=engine|permissive|checks` runs only that variant
    // (`RISK_BENCH_PASSES` passes over the measured part, default 10), for `perf record` or
    // `valgrind --tool=callgrind --toggle-collect='*Subject*apply*'` (instructions per command,
    // independent of machine load).
    if let Ok(variant) = std::env::var("RISK_BENCH_VARIANT") {
        let commands = (journal.len() - WARM_UP_COMMANDS) as u64;
        let passes: u32 = std::env::var("RISK_BENCH_PASSES")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(10);
        let elapsed: Duration = (0..passes)
            .map(|_| match variant.as_str() {
                "engine" => run::<Bare>(&journal, commands),
                "permissive" => run::<WithRisk<false>>(&journal, commands),
                _ => run::<WithRisk<true>>(&journal, commands),
            })
            .sum();
        let timed_commands = u64::from(passes) * commands;
        println!(
            "{variant}: {:.1} ns/command over {timed_commands} commands",
            elapsed.as_nanos() as f64 / timed_commands as f64
        );
        return;
    }
    assert_no_risk_rejects(&journal);
    interleaved_summary(&journal);
    let mut criterion = Criterion::default().configure_from_args();
    risk_cost(&mut criterion, &journal);
    criterion.final_summary();
}
