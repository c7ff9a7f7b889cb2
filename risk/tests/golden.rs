//! Golden table: one row per risk reject reason (and the boundary that is still accepted).
//! Each row starts a fresh core with a configuration tweak, applies setup commands, then a
//! probe, and compares the probe's events with the exact expected `Rejected` event. A final
//! check asserts that every `Risk*` reason has a row and that reasons have distinct codes.

mod common;

use common::{limit, market, replace, Driver, MID_PRICE, TICK};
use peregrine_engine::{
    AccountId, Command, CommandKind, EngineConfig, Event, InstrumentId, OrderId, Price,
    RejectReason, Rejected, RiskLimit, SessionId, SetRiskLimit, Side,
};
use peregrine_risk::RiskConfig;

struct Row {
    name: &'static str,
    tweak: fn(&mut RiskConfig),
    setup: fn() -> Vec<Command>,
    probe: Command,
    /// `Some(reason)`: the probe is rejected with exactly this; `None`: it is accepted.
    expected: Option<RejectReason>,
}

fn no_tweak(_: &mut RiskConfig) {}
fn no_setup() -> Vec<Command> {
    Vec::new()
}

fn set(limit: RiskLimit, instrument: Option<u32>, value: i64) -> Command {
    Command::SetRiskLimit(SetRiskLimit {
        account: AccountId(0),
        instrument: instrument.map(InstrumentId),
        limit,
        value,
    })
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "blocked account",
            tweak: no_tweak,
            setup: || {
                vec![Command::BlockAccount {
                    account: AccountId(0),
                }]
            },
            probe: limit(0, 0, Side::Buy, MID_PRICE, 1),
            expected: Some(RejectReason::RiskAccountBlocked),
        },
        Row {
            name: "blocked account, replace",
            tweak: no_tweak,
            setup: || {
                vec![Command::BlockAccount {
                    account: AccountId(0),
                }]
            },
            probe: replace(0, OrderId(1), MID_PRICE, 1),
            expected: Some(RejectReason::RiskAccountBlocked),
        },
        Row {
            name: "throttle: third order in the window",
            tweak: |c| {
                c.accounts[0].throttle_orders_per_interval = 2;
                c.accounts[0].throttle_interval_ns = 1_000;
            },
            setup: || {
                vec![
                    limit(0, 0, Side::Buy, MID_PRICE, 1),
                    limit(0, 0, Side::Buy, MID_PRICE, 1),
                ]
            },
            probe: limit(0, 0, Side::Buy, MID_PRICE, 1),
            expected: Some(RejectReason::RiskThrottle),
        },
        Row {
            name: "max order qty",
            tweak: |c| c.accounts[0].instrument_limits.max_order_qty = 10,
            setup: no_setup,
            probe: limit(0, 0, Side::Buy, MID_PRICE, 11),
            expected: Some(RejectReason::RiskMaxOrderQty),
        },
        Row {
            name: "max order qty: at the limit",
            tweak: |c| c.accounts[0].instrument_limits.max_order_qty = 10,
            setup: no_setup,
            probe: limit(0, 0, Side::Buy, MID_PRICE, 10),
            expected: None,
        },
        Row {
            name: "price collar: 1% band, 2% away",
            tweak: |c| {
                c.accounts[0].instrument_limits.price_collar_bps = 100;
                c.instruments[0].reference_price = MID_PRICE;
            },
            setup: no_setup,
            probe: limit(0, 0, Side::Sell, MID_PRICE * 98 / 100, 1),
            expected: Some(RejectReason::RiskPriceCollar),
        },
        Row {
            name: "price collar: exactly 1% away",
            tweak: |c| {
                c.accounts[0].instrument_limits.price_collar_bps = 100;
                c.instruments[0].reference_price = MID_PRICE;
            },
            setup: no_setup,
            probe: limit(0, 0, Side::Buy, MID_PRICE * 101 / 100, 1),
            expected: None,
        },
        Row {
            name: "price collar: admin reference",
            tweak: |c| c.accounts[0].instrument_limits.price_collar_bps = 100,
            setup: || {
                vec![Command::SetReferencePrice {
                    instrument: InstrumentId(0),
                    price: Price(MID_PRICE),
                }]
            },
            probe: limit(0, 0, Side::Buy, MID_PRICE * 102 / 100, 1),
            expected: Some(RejectReason::RiskPriceCollar),
        },
        Row {
            name: "max order notional",
            tweak: |c| c.accounts[0].instrument_limits.max_order_notional = MID_PRICE * 10,
            setup: no_setup,
            probe: limit(0, 0, Side::Buy, MID_PRICE + TICK, 10),
            expected: Some(RejectReason::RiskMaxOrderNotional),
        },
        Row {
            name: "max order notional: market order priced at the band top",
            tweak: |c| c.accounts[0].instrument_limits.max_order_notional = MID_PRICE * 5,
            setup: no_setup,
            probe: market(0, 0, Side::Buy, 1),
            expected: Some(RejectReason::RiskMaxOrderNotional),
        },
        Row {
            name: "max order notional: market order priced at the collar top",
            tweak: |c| {
                c.accounts[0].instrument_limits.max_order_notional = MID_PRICE * 101 / 100;
                c.accounts[0].instrument_limits.price_collar_bps = 100;
                c.instruments[0].reference_price = MID_PRICE;
            },
            setup: no_setup,
            probe: market(0, 0, Side::Buy, 1),
            expected: None,
        },
        Row {
            name: "max open orders",
            tweak: |c| c.accounts[0].max_open_orders = 2,
            setup: || {
                vec![
                    limit(0, 0, Side::Buy, MID_PRICE, 1),
                    limit(0, 1, Side::Sell, MID_PRICE, 1),
                ]
            },
            probe: limit(0, 0, Side::Buy, MID_PRICE, 1),
            expected: Some(RejectReason::RiskMaxOpenOrders),
        },
        Row {
            name: "max open orders: an IOC does not rest",
            tweak: |c| c.accounts[0].max_open_orders = 2,
            setup: || {
                vec![
                    limit(0, 0, Side::Buy, MID_PRICE, 1),
                    limit(0, 1, Side::Sell, MID_PRICE, 1),
                ]
            },
            probe: market(0, 1, Side::Sell, 1),
            expected: None,
        },
        Row {
            name: "credit limit",
            tweak: |c| c.accounts[0].max_gross_open_notional = MID_PRICE * 15,
            setup: || vec![limit(0, 0, Side::Buy, MID_PRICE, 10)],
            probe: limit(0, 1, Side::Sell, MID_PRICE, 6),
            expected: Some(RejectReason::RiskCreditLimit),
        },
        Row {
            name: "credit limit: replace up by its delta",
            tweak: |c| c.accounts[0].max_gross_open_notional = MID_PRICE * 15,
            setup: || vec![limit(0, 0, Side::Buy, MID_PRICE, 10)],
            probe: replace(0, OrderId(1), MID_PRICE, 16),
            expected: Some(RejectReason::RiskCreditLimit),
        },
        Row {
            name: "credit limit: replace up within the limit",
            tweak: |c| c.accounts[0].max_gross_open_notional = MID_PRICE * 15,
            setup: || vec![limit(0, 0, Side::Buy, MID_PRICE, 10)],
            probe: replace(0, OrderId(1), MID_PRICE, 15),
            expected: None,
        },
        Row {
            name: "net position: open buys count",
            tweak: |c| c.accounts[0].instrument_limits.max_net_position = 10,
            setup: || vec![limit(0, 0, Side::Buy, MID_PRICE, 8)],
            probe: limit(0, 0, Side::Buy, MID_PRICE - TICK, 3),
            expected: Some(RejectReason::RiskNetPosition),
        },
        Row {
            name: "net position: a sell is checked on its own side",
            tweak: |c| c.accounts[0].instrument_limits.max_net_position = 10,
            setup: || vec![limit(0, 0, Side::Buy, MID_PRICE, 8)],
            probe: limit(0, 0, Side::Sell, MID_PRICE + TICK, 10),
            expected: None,
        },
        Row {
            name: "net position: fills count",
            tweak: |c| c.accounts[0].instrument_limits.max_net_position = 10,
            setup: || {
                vec![
                    limit(1, 0, Side::Sell, MID_PRICE, 8),
                    limit(0, 0, Side::Buy, MID_PRICE, 8),
                ]
            },
            probe: limit(0, 0, Side::Buy, MID_PRICE - TICK, 3),
            expected: Some(RejectReason::RiskNetPosition),
        },
        Row {
            name: "gross position across instruments",
            tweak: |c| c.accounts[0].max_gross_position = 15,
            setup: || vec![limit(0, 0, Side::Buy, MID_PRICE, 10)],
            probe: limit(0, 1, Side::Sell, MID_PRICE, 6),
            expected: Some(RejectReason::RiskGrossPosition),
        },
        Row {
            name: "gross position: the other side of a cell that does not grow",
            tweak: |c| c.accounts[0].max_gross_position = 15,
            setup: || {
                vec![
                    limit(0, 0, Side::Buy, MID_PRICE, 10),
                    limit(0, 1, Side::Sell, MID_PRICE, 5),
                ]
            },
            probe: limit(0, 0, Side::Sell, MID_PRICE + TICK, 10),
            expected: None,
        },
        Row {
            name: "invalid limit: negative",
            tweak: no_tweak,
            setup: no_setup,
            probe: set(RiskLimit::MaxOrderQty, None, -1),
            expected: Some(RejectReason::RiskInvalidLimit),
        },
        Row {
            name: "invalid limit: account-wide limit with an instrument",
            tweak: no_tweak,
            setup: no_setup,
            probe: set(RiskLimit::MaxOpenOrders, Some(0), 5),
            expected: Some(RejectReason::RiskInvalidLimit),
        },
        Row {
            name: "invalid limit: throttle count above the ring",
            tweak: no_tweak,
            setup: no_setup,
            probe: set(RiskLimit::ThrottleOrdersPerInterval, None, 65),
            expected: Some(RejectReason::RiskInvalidLimit),
        },
        Row {
            name: "invalid limit: cancel-on-disconnect 2",
            tweak: no_tweak,
            setup: no_setup,
            probe: set(RiskLimit::CancelOnDisconnect, None, 2),
            expected: Some(RejectReason::RiskInvalidLimit),
        },
        Row {
            name: "admin limit change takes effect on the next order",
            tweak: no_tweak,
            setup: || vec![set(RiskLimit::MaxOrderQty, Some(0), 5)],
            probe: limit(0, 0, Side::Buy, MID_PRICE, 6),
            expected: Some(RejectReason::RiskMaxOrderQty),
        },
        Row {
            name: "engine reasons pass through risk",
            tweak: |c| c.accounts[0].instrument_limits.max_order_qty = 10,
            setup: no_setup,
            probe: limit(0, 0, Side::Buy, MID_PRICE, 0),
            expected: Some(RejectReason::ZeroQty),
        },
    ]
}

fn expected_reject(probe: &Command, reason: RejectReason) -> Event {
    let (account, session, instrument, order, command) = match probe {
        Command::NewOrder(o) => (
            o.account,
            o.session,
            o.instrument,
            OrderId::NONE,
            CommandKind::NewOrder,
        ),
        Command::Replace(r) => (
            r.account,
            r.session,
            InstrumentId(0),
            r.order,
            CommandKind::Replace,
        ),
        Command::SetRiskLimit(s) => (
            s.account,
            SessionId(0),
            s.instrument.unwrap_or_default(),
            OrderId::NONE,
            CommandKind::SetRiskLimit,
        ),
        other => panic!("no probe builder for {other:?}"),
    };
    Event::Rejected(Rejected {
        account,
        session,
        client_ref: 0,
        instrument,
        order,
        command,
        reason,
    })
}

#[test]
fn golden_reject_table() {
    for row in rows() {
        let mut risk = RiskConfig::permissive(3, 2);
        (row.tweak)(&mut risk);
        let mut driver = Driver::new(EngineConfig::demo(2, 3, 64), risk);
        for command in (row.setup)() {
            let events = driver.apply(command);
            assert!(
                common::rejected(&events).is_none(),
                "{}: setup rejected: {events:?}",
                row.name
            );
        }
        let before = driver.core.snapshot();
        let events = driver.apply(row.probe);
        match row.expected {
            Some(reason) => {
                let mut expected = expected_reject(&row.probe, reason);
                // A replace of a resting order reports the order's instrument.
                if let (Event::Rejected(r), Some(view)) = (
                    &mut expected,
                    driver.core.engine().order(r_order(&row.probe)),
                ) {
                    r.instrument = view.instrument;
                }
                assert_eq!(events, vec![expected], "{}", row.name);
                let after = driver.core.snapshot();
                assert_eq!(
                    before.engine, after.engine,
                    "{}: a reject changed the book",
                    row.name
                );
            }
            None => assert!(
                matches!(
                    events.first(),
                    Some(Event::Accepted(_) | Event::Replaced(_))
                ),
                "{}: expected acceptance, got {events:?}",
                row.name
            ),
        }
        driver.core.verify();
    }
}

fn r_order(command: &Command) -> OrderId {
    match command {
        Command::Replace(r) => r.order,
        _ => OrderId::NONE,
    }
}

#[test]
fn every_risk_reason_has_a_row_and_codes_are_distinct() {
    let table = rows();
    let risk_reasons: Vec<RejectReason> = RejectReason::ALL
        .iter()
        .copied()
        .filter(|r| r.code() >= 32)
        .collect();
    assert_eq!(risk_reasons.len(), 10);
    for reason in &risk_reasons {
        assert!(
            table.iter().any(|row| row.expected == Some(*reason)),
            "no golden row for {reason}"
        );
    }
    let mut codes: Vec<u8> = RejectReason::ALL.iter().map(|r| r.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), RejectReason::ALL.len());
}

#[test]
fn admin_commands_acknowledge_with_their_values() {
    let mut driver = Driver::new(EngineConfig::demo(2, 3, 64), RiskConfig::permissive(3, 2));
    let events = driver.apply(set(RiskLimit::PriceCollarBps, Some(1), 250));
    let Some(Event::ControlAck(ack)) = events.first() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (ack.command, ack.account, ack.instrument, ack.value),
        (
            CommandKind::SetRiskLimit,
            AccountId(0),
            InstrumentId(1),
            250
        )
    );
    assert_eq!(
        driver
            .core
            .risk()
            .exposure(AccountId(0), InstrumentId(1))
            .unwrap()
            .limits
            .price_collar_bps,
        250
    );
    assert_eq!(
        driver
            .core
            .risk()
            .exposure(AccountId(0), InstrumentId(0))
            .unwrap()
            .limits
            .price_collar_bps,
        0
    );
    let events = driver.apply(Command::SetReferencePrice {
        instrument: InstrumentId(1),
        price: Price(0),
    });
    assert_eq!(
        common::rejected(&events),
        Some(RejectReason::RiskInvalidLimit)
    );
    let events = driver.apply(Command::SetReferencePrice {
        instrument: InstrumentId(9),
        price: Price(5),
    });
    assert_eq!(
        common::rejected(&events),
        Some(RejectReason::UnknownInstrument)
    );
    let events = driver.apply(Command::BlockAccount {
        account: AccountId(7),
    });
    assert_eq!(
        common::rejected(&events),
        Some(RejectReason::UnknownAccount)
    );
    let events = driver.apply(Command::UnblockAccount {
        account: AccountId(1),
    });
    assert!(
        matches!(events.as_slice(), [Event::ControlAck(a)] if a.command == CommandKind::UnblockAccount)
    );
    let events = driver.apply(Command::SetRiskLimit(SetRiskLimit {
        account: AccountId(3),
        instrument: None,
        limit: RiskLimit::MaxOrderQty,
        value: 1,
    }));
    assert_eq!(
        common::rejected(&events),
        Some(RejectReason::UnknownAccount)
    );
}
