//! Call auctions, phases, halts, volatility interruptions and batch auctions.
//!
//! Method: golden cases build a call book by hand, end the call, and compare the whole event
//! list with hand-computed uncross prices and allocations (ties included). A property test
//! builds random call books and compares the engine's uncross with a brute-force reference
//! that tries every tick of the band and allocates by price then time over a sorted list. The
//! phase cases drive `apply_at` with sequencer timestamps and check which orders are allowed,
//! when the book uncrosses, and what is published.

use peregrine_engine::{
    AccountConfig, AccountId, AuctionFill, AuctionIndicative, AuctionUncrossed, BookAdd, Command,
    Engine, EngineConfig, Event, ImbalanceSide, InstrumentConfig, InstrumentId, MarketConfig,
    MatchId, NewOrder, OrderId, OrderType, Price, Qty, RejectReason, ScheduleEntry, SessionId,
    Side, StpMode, TimeInForce, TradingStatus,
};
use proptest::prelude::*;

const I0: InstrumentId = InstrumentId(0);
const TICK: i64 = 100;
const MIN_TICKS: i64 = 100;
const MAX_TICKS: i64 = 200;

fn config() -> EngineConfig {
    EngineConfig {
        instruments: vec![InstrumentConfig {
            symbol: InstrumentConfig::symbol_from_str("AUCT"),
            tick_size: Price(TICK),
            lot_size: Qty(1),
            min_price: Price(MIN_TICKS * TICK),
            max_price: Price(MAX_TICKS * TICK),
            max_order_qty: Qty(1_000_000),
        }],
        accounts: vec![
            AccountConfig {
                stp: StpMode::CancelBoth
            };
            4
        ],
        order_capacity: 1_024,
        level_capacity: 512,
    }
}

fn engine_with(rules: peregrine_engine::MarketRules) -> Engine {
    let market = MarketConfig {
        instruments: vec![rules],
    };
    Engine::with_market(config(), market).expect("valid config")
}

/// An engine whose only instrument starts in the opening call (admin command at time 0).
fn opening_call() -> Engine {
    let mut engine = Engine::new(config()).expect("valid config");
    let events = apply(&mut engine, 0, status(TradingStatus::OpeningAuction));
    assert_eq!(events[0], trading(TradingStatus::OpeningAuction));
    engine
}

fn apply(engine: &mut Engine, now_ns: u64, command: Command) -> Vec<Event> {
    let mut events = Vec::new();
    engine.apply_at(now_ns, &command, &mut events);
    engine.verify();
    events
}

/// A command the engine answers with nothing (risk's business).
fn noop() -> Command {
    Command::UnblockAccount {
        account: AccountId(0),
    }
}

fn status(status: TradingStatus) -> Command {
    Command::SetTradingStatus {
        instrument: I0,
        status,
    }
}

fn trading(status: TradingStatus) -> Event {
    Event::TradingStatus {
        instrument: I0,
        status,
    }
}

fn order(account: u32, side: Side, ticks: i64, qty: u32) -> NewOrder {
    NewOrder {
        account: AccountId(account),
        session: SessionId(account + 10),
        client_ref: 0,
        instrument: I0,
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price: Price(ticks * TICK),
        qty: Qty(qty),
        display_qty: Qty(0),
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::AccountDefault,
    }
}

fn enter(engine: &mut Engine, now_ns: u64, new: NewOrder) -> (OrderId, Vec<Event>) {
    let id = engine.next_order_id();
    let events = apply(engine, now_ns, Command::NewOrder(new));
    (id, events)
}

/// The expected `AuctionFill` of one side.
struct Side1 {
    order: u64,
    account: u32,
    side: Side,
    ticks: i64,
    leaves: u32,
}

fn fill(match_id: u64, price_ticks: i64, qty: u32, me: Side1, contra: u64) -> Event {
    Event::AuctionFill(AuctionFill {
        match_id: MatchId(match_id),
        instrument: I0,
        price: Price(price_ticks * TICK),
        qty: Qty(qty),
        side: me.side,
        order: OrderId(me.order),
        account: AccountId(me.account),
        session: SessionId(me.account + 10),
        order_price: Price(me.ticks * TICK),
        leaves: Qty(me.leaves),
        contra_order: OrderId(contra),
        phase: TradingStatus::OpeningAuction,
    })
}

fn uncrossed(match_id: u64, price_ticks: i64, qty: u64, phase: TradingStatus) -> Event {
    Event::AuctionUncrossed(AuctionUncrossed {
        match_id: MatchId(match_id),
        instrument: I0,
        price: Price(price_ticks * TICK),
        qty,
        phase,
    })
}

#[test]
fn opening_uncross_maximises_volume_and_allocates_by_price_then_time() {
    let mut engine = opening_call();
    // Bids: #1 100@150, #2 50@152, #3 70@150. Asks: #4 80@149, #5 100@151.
    // B(149)=220 S=80 → 80; B(150)=220 S(150)=80 → 80; B(151)=50 S=180 → 50; so 149 and 150
    // tie on volume 80 and imbalance 140; no reference: the lower price, 149.
    for new in [
        order(0, Side::Buy, 150, 100),
        order(1, Side::Buy, 152, 50),
        order(2, Side::Buy, 150, 70),
        order(3, Side::Sell, 149, 80),
        order(1, Side::Sell, 151, 100),
    ] {
        let (_, events) = enter(&mut engine, 1, new);
        assert!(matches!(events[1], Event::BookAdd(_)), "{events:?}");
        assert!(matches!(events[2], Event::AuctionIndicative(_)));
    }
    assert_eq!(
        engine.indicative(I0),
        Some(AuctionIndicative {
            instrument: I0,
            phase: TradingStatus::OpeningAuction,
            price: Price(149 * TICK),
            paired_qty: 80,
            imbalance_qty: 140,
            imbalance_side: ImbalanceSide::Buy,
            reference_price: Price(0),
        })
    );
    let events = apply(&mut engine, 2, status(TradingStatus::Trading));
    let buy = |order, account, ticks, leaves| Side1 {
        order,
        account,
        side: Side::Buy,
        ticks,
        leaves,
    };
    let sell = |order, account, ticks, leaves| Side1 {
        order,
        account,
        side: Side::Sell,
        ticks,
        leaves,
    };
    // Price priority: #2 (152) first, then #1 (150, earlier) before #3.
    assert_eq!(
        events,
        vec![
            fill(1, 149, 50, buy(2, 1, 152, 0), 4),
            fill(1, 149, 50, sell(4, 3, 149, 30), 2),
            fill(2, 149, 30, buy(1, 0, 150, 70), 4),
            fill(2, 149, 30, sell(4, 3, 149, 0), 1),
            uncrossed(3, 149, 80, TradingStatus::OpeningAuction),
            trading(TradingStatus::Trading),
        ]
    );
    assert_eq!(engine.best_price(I0, Side::Buy), Some(Price(150 * TICK)));
    assert_eq!(engine.best_price(I0, Side::Sell), Some(Price(151 * TICK)));
}

#[test]
fn reference_price_breaks_a_volume_and_imbalance_tie() {
    // Bids 5@100 (ticks 120), 10@130; asks 10@120, 5@130: at 120 B 15 S 10, inside the gap
    // B 10 S 10 (imbalance 0), at 130 B 10 S 15. The gap ties at 121..=129: nearest the
    // reference 127 wins; without a reference the lowest, 121.
    for (reference, expected) in [(None, 121), (Some(127), 127), (Some(190), 129)] {
        let mut engine = opening_call();
        if let Some(ticks) = reference {
            let set = Command::SetReferencePrice {
                instrument: I0,
                price: Price(ticks * TICK),
            };
            assert!(apply(&mut engine, 1, set).is_empty());
        }
        for new in [
            order(0, Side::Buy, 120, 5),
            order(0, Side::Buy, 130, 10),
            order(1, Side::Sell, 120, 10),
            order(1, Side::Sell, 130, 5),
        ] {
            enter(&mut engine, 1, new);
        }
        let events = apply(&mut engine, 2, status(TradingStatus::Trading));
        let summary = events.iter().find_map(|event| match event {
            Event::AuctionUncrossed(u) => Some((u.price, u.qty)),
            _ => None,
        });
        assert_eq!(summary, Some((Price(expected * TICK), 10)), "{reference:?}");
    }
}

#[test]
fn iceberg_refreshes_behind_its_level_during_the_uncross() {
    let mut engine = opening_call();
    let mut iceberg = order(0, Side::Sell, 150, 30);
    iceberg.display_qty = Qty(10);
    enter(&mut engine, 1, iceberg); // #1
    enter(&mut engine, 1, order(1, Side::Sell, 150, 10)); // #2
    enter(&mut engine, 1, order(2, Side::Buy, 150, 25)); // #3
    let events = apply(&mut engine, 2, status(TradingStatus::Trading));
    let fills: Vec<(u64, u32, u32)> = events
        .iter()
        .filter_map(|event| match event {
            Event::AuctionFill(f) if f.side == Side::Sell => Some((f.order.0, f.qty.0, f.leaves.0)),
            _ => None,
        })
        .collect();
    // #1 shows 10, refreshes to the back behind #2; #2 fills 10; #1 fills the last 5.
    assert_eq!(fills, vec![(1, 10, 20), (2, 10, 0), (1, 5, 15)]);
    assert!(events.contains(&Event::BookAdd(BookAdd {
        order: OrderId(1),
        instrument: I0,
        account: AccountId(0),
        side: Side::Sell,
        price: Price(150 * TICK),
        display_qty: Qty(10),
    })));
    assert_eq!(engine.order(OrderId(1)).map(|o| o.leaves), Some(Qty(15)));
}

#[test]
fn calls_reject_orders_that_cannot_rest_and_closed_rejects_entry() {
    let mut engine = opening_call();
    let mut ioc = order(0, Side::Buy, 150, 5);
    ioc.time_in_force = TimeInForce::Ioc;
    let mut market = order(0, Side::Buy, 150, 5);
    market.order_type = OrderType::Market;
    let mut post_only = order(0, Side::Buy, 150, 5);
    post_only.post_only = true;
    let mut min_qty = order(0, Side::Buy, 150, 5);
    min_qty.min_qty = Qty(2);
    for new in [ioc, market, post_only, min_qty] {
        let (_, events) = enter(&mut engine, 1, new);
        let reason = match events[..] {
            [Event::Rejected(rejected)] => rejected.reason,
            _ => panic!("{events:?}"),
        };
        assert_eq!(reason, RejectReason::NotAllowedInPhase);
    }
    apply(&mut engine, 2, status(TradingStatus::Closed));
    let (_, events) = enter(&mut engine, 3, order(0, Side::Buy, 150, 5));
    assert!(
        matches!(events[..], [Event::Rejected(r)] if r.reason == RejectReason::InstrumentClosed)
    );
    let batch = apply(&mut engine, 3, status(TradingStatus::BatchAuction));
    assert!(
        matches!(batch[..], [Event::Rejected(r)] if r.reason == RejectReason::InvalidTradingStatus)
    );
}

const SECOND_NS: u64 = 1_000_000_000;

#[test]
fn schedule_boundaries_move_phases_at_the_first_command_after_them() {
    let day_ns = 19_000 * peregrine_engine::market::NS_PER_DAY;
    let at = |seconds: u64, phase| ScheduleEntry {
        time_of_day_ns: seconds * SECOND_NS,
        phase,
    };
    let mut engine = engine_with(peregrine_engine::MarketRules {
        schedule: vec![
            at(100, TradingStatus::OpeningAuction),
            at(200, TradingStatus::Trading),
            at(300, TradingStatus::Closed),
        ],
        ..Default::default()
    });
    assert_eq!(engine.trading_status(I0), Some(TradingStatus::Closed));
    let (_, events) = enter(
        &mut engine,
        day_ns + 50 * SECOND_NS,
        order(0, Side::Buy, 150, 5),
    );
    assert!(
        matches!(events[..], [Event::Rejected(r)] if r.reason == RejectReason::InstrumentClosed)
    );
    let (_, events) = enter(
        &mut engine,
        day_ns + 150 * SECOND_NS,
        order(0, Side::Buy, 150, 5),
    );
    assert_eq!(events[0], trading(TradingStatus::OpeningAuction));
    enter(
        &mut engine,
        day_ns + 160 * SECOND_NS,
        order(1, Side::Sell, 148, 3),
    );
    // The first command after 200 s ends the call: uncross at 148 (lower of 148..=150, all
    // with volume 3 and imbalance 2), then continuous trading, then the command itself.
    let events = apply(&mut engine, day_ns + 250 * SECOND_NS, Command::EndOfDay);
    assert_eq!(
        events[2],
        uncrossed(2, 148, 3, TradingStatus::OpeningAuction)
    );
    assert_eq!(events[3], trading(TradingStatus::Trading));
    assert!(matches!(events.last(), Some(Event::ControlAck(_))));
    let events = apply(&mut engine, day_ns + 301 * SECOND_NS, Command::EndOfDay);
    assert_eq!(events[0], trading(TradingStatus::Closed));
}

#[test]
fn volatility_interruption_starts_a_call_instead_of_printing() {
    let mut engine = engine_with(peregrine_engine::MarketRules {
        volatility_band_bps: 200,
        volatility_call_ns: 10 * SECOND_NS,
        ..Default::default()
    });
    // A first trade at 150 sets the reference; the band is 147..=153 ticks (2 %).
    enter(&mut engine, 1, order(0, Side::Sell, 150, 10));
    enter(&mut engine, 1, order(1, Side::Buy, 150, 5));
    enter(&mut engine, 1, order(0, Side::Sell, 160, 10)); // #3, outside the band
    let (id, events) = enter(&mut engine, 2, order(1, Side::Buy, 165, 12));
    // Trades 5 at 150 (inside), then 160 would print outside: the call starts and the rest
    // of the order rests in it.
    let executed: Vec<u32> = events
        .iter()
        .filter_map(|event| match event {
            Event::Executed(e) => Some(e.qty.0),
            _ => None,
        })
        .collect();
    assert_eq!(executed, vec![5]);
    let call = events
        .iter()
        .position(|event| *event == trading(TradingStatus::VolatilityAuction));
    let rested = events
        .iter()
        .position(|event| matches!(event, Event::BookAdd(b) if b.order == id));
    assert!(call.is_some() && call < rested, "{events:?}");
    assert_eq!(
        engine.trading_status(I0),
        Some(TradingStatus::VolatilityAuction)
    );
    // Before the call's end nothing happens; the first command after it uncrosses at 160
    // (bid 7@165 against ask 10@160: volume 7) and continuous trading resumes.
    assert!(apply(&mut engine, 5 * SECOND_NS, noop()).is_empty());
    let events = apply(&mut engine, 12 * SECOND_NS + 2, noop());
    assert_eq!(
        events[2],
        uncrossed(4, 160, 7, TradingStatus::VolatilityAuction)
    );
    assert_eq!(events[3], trading(TradingStatus::Trading));
}

#[test]
fn halt_resumes_through_a_short_call() {
    let mut engine = engine_with(peregrine_engine::MarketRules {
        resume_call_ns: SECOND_NS,
        ..Default::default()
    });
    apply(&mut engine, 1, status(TradingStatus::Halted));
    let (_, events) = enter(&mut engine, 2, order(0, Side::Buy, 150, 5));
    assert!(
        matches!(events[..], [Event::Rejected(r)] if r.reason == RejectReason::InstrumentHalted)
    );
    let events = apply(&mut engine, 3, status(TradingStatus::Trading));
    assert_eq!(events[0], trading(TradingStatus::ResumeAuction));
    enter(&mut engine, 4, order(0, Side::Buy, 150, 5));
    enter(&mut engine, 5, order(1, Side::Sell, 140, 5));
    let events = apply(&mut engine, SECOND_NS + 3, Command::EndOfDay);
    assert_eq!(
        events[2],
        uncrossed(2, 140, 5, TradingStatus::ResumeAuction)
    );
    assert_eq!(events[3], trading(TradingStatus::Trading));
}

#[test]
fn batch_auctions_uncross_once_per_interval() {
    let interval_ns = 1_000;
    let mut engine = engine_with(peregrine_engine::MarketRules {
        batch_interval_ns: interval_ns,
        ..Default::default()
    });
    assert_eq!(engine.trading_status(I0), Some(TradingStatus::BatchAuction));
    enter(&mut engine, 10, order(0, Side::Buy, 151, 5));
    enter(&mut engine, 20, order(1, Side::Sell, 150, 3));
    // Crossed but inside the batch [0, 1000): no trade until the boundary.
    let (_, events) = enter(&mut engine, 999, order(2, Side::Sell, 149, 4));
    assert!(!events.iter().any(|e| matches!(e, Event::AuctionFill(_))));
    // The first command at or after 1000 uncrosses the batch first: B 5, S 7 at 150 and 151
    // (imbalance 2) against B 5, S 4 at 149 (volume 4): 150 (lower of the tie) for 5 shares.
    let (_, events) = enter(&mut engine, 1_500, order(3, Side::Buy, 100, 1));
    assert_eq!(events[4], uncrossed(3, 150, 5, TradingStatus::BatchAuction));
    let accepted = events.iter().position(|e| matches!(e, Event::Accepted(_)));
    assert!(accepted > Some(4), "{events:?}");
    // The order at 1500 belongs to the batch [1000, 2000).
    let (_, events) = enter(&mut engine, 1_999, order(3, Side::Buy, 150, 1));
    assert!(!events.iter().any(|e| matches!(e, Event::AuctionFill(_))));
    let events = apply(&mut engine, 2_000, Command::EndOfDay);
    assert!(events.contains(&uncrossed(5, 150, 1, TradingStatus::BatchAuction)));
}

// ----- brute-force reference -----

#[derive(Clone, Copy, Debug)]
struct RefOrder {
    id: u64,
    side: Side,
    ticks: i64,
    qty: u32,
}

/// (volume from the top, |imbalance|, distance to the reference, price): smaller is better.
type RankKey = (u64, u64, u64, i64);

/// Tries every tick of the band with the documented ranking.
fn reference_uncross(orders: &[RefOrder], reference: Option<i64>) -> Option<(i64, u64)> {
    let mut best: Option<(i64, u64, RankKey)> = None;
    for ticks in MIN_TICKS..=MAX_TICKS {
        let buy: u64 = orders
            .iter()
            .filter(|o| o.side == Side::Buy && o.ticks >= ticks)
            .map(|o| u64::from(o.qty))
            .sum();
        let sell: u64 = orders
            .iter()
            .filter(|o| o.side == Side::Sell && o.ticks <= ticks)
            .map(|o| u64::from(o.qty))
            .sum();
        let volume = buy.min(sell);
        if volume == 0 {
            continue;
        }
        let distance = reference.map_or(0, |r| (ticks - r).unsigned_abs());
        let key = (u64::MAX - volume, buy.abs_diff(sell), distance, ticks);
        if best.is_none_or(|(_, _, k)| key < k) {
            best = Some((ticks, volume, key));
        }
    }
    best.map(|(ticks, volume, _)| (ticks, volume))
}

/// Shares each order gets at the uncross: price priority, then time (id) priority.
fn reference_allocation(orders: &[RefOrder], ticks: i64, volume: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for side in [Side::Buy, Side::Sell] {
        let mut eligible: Vec<RefOrder> = orders
            .iter()
            .filter(|o| o.side == side)
            .filter(|o| match side {
                Side::Buy => o.ticks >= ticks,
                Side::Sell => o.ticks <= ticks,
            })
            .copied()
            .collect();
        eligible.sort_by_key(|o| match side {
            Side::Buy => (-o.ticks, o.id),
            Side::Sell => (o.ticks, o.id),
        });
        let mut left = volume;
        for o in eligible {
            let take = left.min(u64::from(o.qty));
            if take > 0 {
                out.push((o.id, take));
            }
            left -= take;
        }
    }
    out.sort_unstable();
    out
}

fn book_strategy() -> impl Strategy<Value = (Vec<(bool, i64, u32)>, Option<i64>)> {
    (
        prop::collection::vec((any::<bool>(), 130i64..=170, 1u32..=50), 1..40),
        prop::option::of(MIN_TICKS..=MAX_TICKS),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn uncross_matches_the_brute_force_reference((rows, reference) in book_strategy()) {
        let mut engine = opening_call();
        if let Some(ticks) = reference {
            let set = Command::SetReferencePrice { instrument: I0, price: Price(ticks * TICK) };
            apply(&mut engine, 1, set);
        }
        let mut orders = Vec::new();
        for (index, &(buy, ticks, qty)) in rows.iter().enumerate() {
            let side = if buy { Side::Buy } else { Side::Sell };
            let (id, _) = enter(&mut engine, 1, order((index % 4) as u32, side, ticks, qty));
            orders.push(RefOrder { id: id.0, side, ticks, qty });
        }
        let expected = reference_uncross(&orders, reference);
        let indicative = engine.indicative(I0).expect("known instrument");
        prop_assert_eq!(
            expected.map(|(t, v)| (Price(t * TICK), v)),
            (indicative.paired_qty > 0).then_some((indicative.price, indicative.paired_qty))
        );
        let events = apply(&mut engine, 2, status(TradingStatus::Trading));
        let mut filled: std::collections::BTreeMap<u64, u64> = Default::default();
        let mut summary = None;
        for event in &events {
            match event {
                Event::AuctionFill(f) => *filled.entry(f.order.0).or_default() += u64::from(f.qty.0),
                Event::AuctionUncrossed(u) => summary = Some((u.price.0 / TICK, u.qty)),
                _ => {}
            }
        }
        prop_assert_eq!(summary, expected);
        let allocation: Vec<(u64, u64)> = filled.into_iter().collect();
        let want = expected.map_or(Vec::new(), |(t, v)| reference_allocation(&orders, t, v));
        prop_assert_eq!(allocation, want);
    }
}
