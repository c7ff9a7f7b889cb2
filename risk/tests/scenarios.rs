//! Scenario tests: the kill switch under load, cancel-on-disconnect, and the throttle's exact
//! window. Each drives a `Core` through deterministic flow and checks the events and the
//! state after every step (`Core::verify`).

mod common;

use common::{cancel, limit, replace, Driver, FlowGen, MID_PRICE, TICK};
use peregrine_engine::{
    AccountId, CancelReason, Command, CommandKind, EngineConfig, Event, RejectReason, RiskLimit,
    SessionId, SetRiskLimit, Side,
};
use peregrine_risk::RiskConfig;

fn resting_of(driver: &Driver, account: u32) -> usize {
    driver
        .resting()
        .iter()
        .filter(|o| o.account.0 == account)
        .count()
}

#[test]
fn kill_switch_under_load_cancels_everything_and_blocks_until_unblocked() {
    const ACCOUNTS: u32 = 4;
    let engine = EngineConfig::demo(3, ACCOUNTS as usize, 8_192);
    let mut driver = Driver::new(engine, RiskConfig::permissive(ACCOUNTS as usize, 3));
    let mut flow = FlowGen::new(0x5eed_0001, ACCOUNTS, 3, false);
    for _ in 0..3_000 {
        let (advance_ns, command) = flow.next(&driver.core);
        driver.advance_ns(advance_ns);
        driver.apply(command);
    }
    driver.core.verify();
    let resting_before = resting_of(&driver, 1);
    assert!(
        resting_before > 50,
        "the load should leave account 1 with many resting orders"
    );

    let events = driver.apply(Command::BlockAccount {
        account: AccountId(1),
    });
    let cancelled: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Cancelled(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled.len(), resting_before);
    assert!(cancelled
        .iter()
        .all(|c| c.account == AccountId(1) && c.reason == CancelReason::KillSwitch));
    assert!(
        cancelled.windows(2).all(|w| w[0].order < w[1].order),
        "ascending order ids"
    );
    let Some(Event::ControlAck(ack)) = events.last() else {
        panic!("no ack: {:?}", events.last())
    };
    assert_eq!(
        (ack.command, ack.account, ack.value),
        (
            CommandKind::BlockAccount,
            AccountId(1),
            resting_before as i64
        )
    );
    assert_eq!(resting_of(&driver, 1), 0);
    let view = driver.core.risk().account(AccountId(1)).unwrap();
    assert!(view.blocked);
    assert_eq!((view.open_orders, view.open_notional), (0, 0));
    driver.core.verify();

    // Load goes on: every order and replace of account 1 is rejected, cancels still pass to the
    // engine, the other accounts trade on.
    let mut blocked_rejects = 0;
    let mut others_accepted = 0;
    for step in 0..2_000 {
        let (advance_ns, command) = flow.next(&driver.core);
        driver.advance_ns(advance_ns);
        let of_account_1 = match &command {
            Command::NewOrder(o) => o.account.0 == 1,
            Command::Replace(r) => r.account.0 == 1,
            _ => false,
        };
        let events = driver.apply(command);
        if of_account_1 {
            assert_eq!(events.len(), 1);
            assert_eq!(
                common::rejected(&events),
                Some(RejectReason::RiskAccountBlocked)
            );
            blocked_rejects += 1;
        } else if common::accepted_id(&events).is_some() {
            others_accepted += 1;
        }
        assert_eq!(
            driver
                .core
                .risk()
                .account(AccountId(1))
                .unwrap()
                .open_orders,
            0
        );
        if step % 100 == 0 {
            // Whole-structure walks: every 100 steps keeps the test fast in debug builds.
            assert_eq!(resting_of(&driver, 1), 0);
            driver.core.verify();
        }
    }
    driver.core.verify();
    assert!(blocked_rejects > 100 && others_accepted > 500);
    let events = driver.apply(cancel(1, driver.core.engine().next_order_id()));
    assert_eq!(
        common::rejected(&events),
        Some(RejectReason::UnknownOrder),
        "cancels reach the engine"
    );

    let events = driver.apply(Command::UnblockAccount {
        account: AccountId(1),
    });
    assert!(
        matches!(events.as_slice(), [Event::ControlAck(a)] if a.command == CommandKind::UnblockAccount)
    );
    let events = driver.apply(limit(1, 0, Side::Buy, MID_PRICE - 50 * TICK, 5));
    assert!(
        common::accepted_id(&events).is_some(),
        "accepted again after unblock: {events:?}"
    );
    driver.core.verify();
}

#[test]
fn cancel_on_disconnect_cancels_only_the_lost_sessions_orders() {
    let mut risk = RiskConfig::permissive(2, 2);
    risk.accounts[0].cancel_on_disconnect = true;
    let mut driver = Driver::new(EngineConfig::demo(2, 2, 64), risk);
    let enter = |driver: &mut Driver, account: u32, session: u32, instrument: u32, step: i64| {
        let Command::NewOrder(mut order) =
            limit(account, instrument, Side::Buy, MID_PRICE - step * TICK, 5)
        else {
            unreachable!()
        };
        order.session = SessionId(session);
        common::accepted_id(&driver.apply(Command::NewOrder(order))).expect("accepted")
    };
    let lost_a = enter(&mut driver, 0, 1, 0, 1);
    let kept = enter(&mut driver, 0, 2, 0, 2);
    let lost_b = enter(&mut driver, 0, 1, 1, 3);
    let other = enter(&mut driver, 1, 1, 0, 4);

    let events = driver.apply(Command::SessionLost {
        account: AccountId(0),
        session: SessionId(1),
    });
    let cancelled: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Cancelled(c) => Some((c.order, c.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        cancelled,
        vec![
            (lost_a, CancelReason::Disconnect),
            (lost_b, CancelReason::Disconnect)
        ]
    );
    let Some(Event::ControlAck(ack)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!((ack.command, ack.value), (CommandKind::SessionLost, 2));
    assert!(driver.core.engine().order(kept).is_some());
    assert!(driver.core.engine().order(other).is_some());
    driver.core.verify();

    // Account 1 has the flag off: nothing is cancelled, the ack says 0.
    let events = driver.apply(Command::SessionLost {
        account: AccountId(1),
        session: SessionId(1),
    });
    assert!(matches!(events.as_slice(), [Event::ControlAck(a)] if a.value == 0));
    assert!(driver.core.engine().order(other).is_some());

    // Switched on at run time, it applies to the next loss.
    driver.apply(Command::SetRiskLimit(SetRiskLimit {
        account: AccountId(1),
        instrument: None,
        limit: RiskLimit::CancelOnDisconnect,
        value: 1,
    }));
    let events = driver.apply(Command::SessionLost {
        account: AccountId(1),
        session: SessionId(1),
    });
    assert_eq!(events.len(), 3, "Cancelled + BookDelete + ack: {events:?}");
    assert!(driver.core.engine().order(other).is_none());
    assert_eq!(
        driver
            .core
            .risk()
            .account(AccountId(1))
            .unwrap()
            .open_orders,
        0
    );
    driver.core.verify();
}

#[test]
fn throttle_window_is_exact_in_sequencer_time() {
    let mut risk = RiskConfig::permissive(2, 1);
    risk.accounts[0].throttle_orders_per_interval = 3;
    risk.accounts[0].throttle_interval_ns = 1_000;
    risk.accounts[0].instrument_limits.max_order_qty = 100;
    let mut driver = Driver::new(EngineConfig::demo(1, 2, 64), risk);
    driver.now_ns = 10_000;
    let buy = |qty| limit(0, 0, Side::Buy, MID_PRICE - TICK, qty);
    let outcome = |driver: &mut Driver, command| common::rejected(&driver.apply(command));

    assert_eq!(outcome(&mut driver, buy(1)), None);
    // Rejected by a later check, it still used a slot of the window.
    assert_eq!(
        outcome(&mut driver, buy(101)),
        Some(RejectReason::RiskMaxOrderQty)
    );
    let first = driver.core.engine().next_order_id();
    assert_eq!(
        outcome(
            &mut driver,
            replace(
                0,
                peregrine_engine::OrderId(first.0 - 1),
                MID_PRICE - TICK,
                2
            )
        ),
        None
    );
    driver.now_ns = 10_999;
    assert_eq!(
        outcome(&mut driver, buy(1)),
        Some(RejectReason::RiskThrottle)
    );
    // The other account is not throttled.
    assert_eq!(
        outcome(&mut driver, limit(1, 0, Side::Buy, MID_PRICE - TICK, 1)),
        None
    );
    // Exactly one interval after the first admitted order, one slot frees.
    driver.now_ns = 11_000;
    assert_eq!(outcome(&mut driver, buy(1)), None);
    assert_eq!(outcome(&mut driver, buy(1)), None);
    assert_eq!(outcome(&mut driver, buy(1)), None);
    assert_eq!(
        outcome(&mut driver, buy(1)),
        Some(RejectReason::RiskThrottle)
    );
    // Throttled orders do not use slots: after one more interval, three again.
    driver.now_ns = 12_000;
    for _ in 0..3 {
        assert_eq!(outcome(&mut driver, buy(1)), None);
    }
    assert_eq!(
        outcome(&mut driver, buy(1)),
        Some(RejectReason::RiskThrottle)
    );
    // Lowering the count at run time applies to the history already recorded.
    driver.apply(Command::SetRiskLimit(SetRiskLimit {
        account: AccountId(0),
        instrument: None,
        limit: RiskLimit::ThrottleOrdersPerInterval,
        value: 1,
    }));
    driver.now_ns = 12_999;
    assert_eq!(
        outcome(&mut driver, buy(1)),
        Some(RejectReason::RiskThrottle)
    );
    driver.now_ns = 13_000;
    assert_eq!(outcome(&mut driver, buy(1)), None);
    driver.core.verify();
}
