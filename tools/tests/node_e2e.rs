//! End to end over loopback TCP against the real `peregrine run` process: login, orders,
//! fills on both sides, cancels, replaces, rejects with their OUCH codes, wrong passwords, and
//! one member unable to touch another's order. Each scenario runs in single-thread and
//! threaded mode.

mod node_common;

use node_common::{data_dir, enter_order, Login, Member, NodeProcess};
use peregrine_gateway::ouch::{CancelReason, Inbound, LiquidityFlag, Outbound, RejectCode, Side};
use peregrine_gateway::soupbintcp::LoginRejectReason;

fn accepted(num: u32) -> impl FnMut(&Outbound) -> Option<u64> {
    move |message| match message {
        Outbound::OrderAccepted(a) if a.user_ref_num == num => Some(a.order_reference_number),
        _ => None,
    }
}

fn login_enter_ack(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let node = NodeProcess::start(&dir, mode);
    let (mut alice, login) = Member::login(node.addr, "ALICE", "alice", 0);
    assert_eq!(login, Login::Accepted { next_seq: 1 });
    let num = alice.enter("AAPL", Side::Buy, 100, 1_000_000);
    let order = alice.wait_for("accepted", accepted(num));
    assert!(order > 0);
    assert_eq!(alice.received[0].0, 1);
    assert!(node.terminate(), "clean shutdown");
}

#[test]
fn login_enter_ack_single_thread() {
    login_enter_ack(&["--single-thread"], "ack-single");
}

#[test]
fn login_enter_ack_threaded() {
    login_enter_ack(&[], "ack-threaded");
}

/// Trades between two firms, cancels, a replace, rejects, and isolation between members.
fn trading_scenario(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let node = NodeProcess::start(&dir, mode);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);

    // A resting bid, then a sell that takes part of it: fills on both sides.
    let bid = alice.enter("AAPL", Side::Buy, 300, 1_500_000);
    alice.wait_for("bid accepted", accepted(bid));
    let ask = bob.enter("AAPL", Side::Sell, 100, 1_490_000);
    bob.wait_for("ask accepted", accepted(ask));
    let taker_fill = bob.wait_for("taker fill", |m| match m {
        Outbound::OrderExecuted(e) if e.user_ref_num == ask => Some(*e),
        _ => None,
    });
    assert_eq!((taker_fill.quantity, taker_fill.price), (100, 1_500_000));
    assert_eq!(taker_fill.liquidity_flag, LiquidityFlag::Removed);
    let maker_fill = alice.wait_for("maker fill", |m| match m {
        Outbound::OrderExecuted(e) if e.user_ref_num == bid => Some(*e),
        _ => None,
    });
    assert_eq!(maker_fill.liquidity_flag, LiquidityFlag::Added);
    assert_eq!(maker_fill.match_number, taker_fill.match_number);

    // Bob cannot cancel Alice's order: his session has no order with her reference.
    bob.cancel(bid);
    // Replace Alice's remaining 200 to 150 at a new price: a new reference, priority lost.
    let replacement = alice.replace(bid, 250, 1_400_000);
    let replaced = alice.wait_for("replaced", |m| match m {
        Outbound::OrderReplaced(r) if r.user_ref_num == replacement => Some(*r),
        _ => None,
    });
    assert_eq!(replaced.orig_user_ref_num, bid);
    assert_eq!(replaced.price, 1_400_000);
    // Then Alice cancels it herself.
    alice.cancel(replacement);
    let canceled = alice.wait_for("canceled", |m| match m {
        Outbound::OrderCanceled(c) if c.user_ref_num == replacement => Some(*c),
        _ => None,
    });
    assert_eq!(canceled.reason, CancelReason::UserRequested);

    // Rejects with their Appendix C codes.
    let unknown = alice.enter("ZZZZ", Side::Buy, 10, 1_000_000);
    let off_tick = alice.enter("AAPL", Side::Buy, 10, 1_000_050);
    for (num, code) in [
        (unknown, RejectCode::InvalidSymbol),
        (off_tick, RejectCode::InvalidPrice),
    ] {
        let reason = alice.wait_for("rejected", |m| match m {
            Outbound::Rejected(r) if r.user_ref_num == num => Some(r.reason),
            _ => None,
        });
        assert_eq!(reason, code, "reject code of UserRefNum {num}");
    }
    // Bob saw exactly his own three messages and nothing of Alice's.
    assert_eq!(bob.settle(std::time::Duration::from_millis(300)), 0);
    assert_eq!(bob.received.len(), 2, "{:?}", bob.received);

    // Duplicate UserRefNum: ignored (never executed twice); a gap: rejected, not consumed.
    let next = alice.next_user_ref_num;
    alice.send(&Inbound::EnterOrder(enter_order(
        next - 1,
        "MSFT",
        Side::Buy,
        5,
        1_000_000,
    )));
    alice.send(&Inbound::EnterOrder(enter_order(
        next + 5,
        "MSFT",
        Side::Buy,
        5,
        1_000_000,
    )));
    let gap = alice.wait_for("gap rejected", |m| match m {
        Outbound::Rejected(r) if r.user_ref_num == next + 5 => Some(r.reason),
        _ => None,
    });
    assert_eq!(gap, RejectCode::Other);
    let fresh = alice.enter("MSFT", Side::Buy, 5, 1_000_000);
    assert_eq!(fresh, next);
    alice.wait_for("fresh accepted", accepted(fresh));
    // `next - 1` was the off-tick order: still exactly one answer for that reference.
    let answers = alice
        .received
        .iter()
        .filter(|(_, m)| match m {
            Outbound::OrderAccepted(a) => a.user_ref_num == next - 1,
            Outbound::Rejected(r) => r.user_ref_num == next - 1,
            _ => false,
        })
        .count();
    assert_eq!(answers, 1, "the duplicate was not executed twice");

    // Wrong password and unknown user are refused.
    let (_, login) = Member::login(node.addr, "BOB", "alice", 0);
    assert_eq!(login, Login::Rejected(LoginRejectReason::NotAuthorized));
    let (_, login) = Member::login(node.addr, "MALLORY", "x", 0);
    assert_eq!(login, Login::Rejected(LoginRejectReason::NotAuthorized));
    // A second login of a logged-in user is refused.
    let (_, login) = Member::login(node.addr, "ALICE", "alice", 0);
    assert_eq!(
        login,
        Login::Rejected(LoginRejectReason::SessionNotAvailable)
    );
    assert!(node.terminate(), "clean shutdown");
}

#[test]
fn trading_scenario_single_thread() {
    trading_scenario(&["--single-thread"], "trade-single");
}

#[test]
fn trading_scenario_threaded() {
    trading_scenario(&[], "trade-threaded");
}

/// A burst far larger than a tiny inbound ring: the gateway stops reading while the ring is
/// full (and counts it), and every order is still answered exactly once.
fn burst_through_a_tiny_ring(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let config = node_common::DEFAULT_CONFIG.replace(
        "max_connections = 64",
        "max_connections = 64\ninbound_ring_records = 64\noutbound_ring_records = 64",
    );
    let node = NodeProcess::start_with_config(&dir, &config, mode);
    let users = [
        ("ALICE", "alice"),
        ("BOB", "bob"),
        ("CAROL", "carol"),
        ("DAVE", "dave"),
    ];
    let mut members: Vec<Member> = users
        .iter()
        .map(|(user, password)| Member::login_silent(node.addr, user, password).0)
        .collect();
    let per_member = 400u32;
    for index in 0..per_member {
        for (slot, member) in members.iter_mut().enumerate() {
            let side = if slot % 2 == 0 { Side::Buy } else { Side::Sell };
            let price = 900_000 + 100 * u64::from(index % 5) + 100_000 * (slot as u64 % 2);
            member.enter("GOOG", side, 10, price);
        }
    }
    for member in &mut members {
        let mut answered = std::collections::BTreeSet::new();
        let deadline = std::time::Instant::now() + node_common::DEADLINE;
        while answered.len() < per_member as usize {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} answers",
                answered.len()
            );
            member.pump();
            for (_, message) in &member.received {
                match message {
                    Outbound::OrderAccepted(a) => assert!(answered.insert(a.user_ref_num)),
                    Outbound::Rejected(r) => assert!(answered.insert(r.user_ref_num)),
                    _ => {}
                }
            }
            member.received.retain(|_| false);
        }
    }
    drop(members);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let log_before = node.log();
    assert!(node.terminate());
    let log = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "stderr"))
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
        .collect::<String>();
    let stalls = log
        .split("backpressure_stalls: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no counters in the log:\n{log_before}"));
    assert!(
        stalls > 0,
        "a 64-record ring under a 1,600-order burst must stall reads"
    );

    // The journal the node closed verifies against its recorded digests.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .arg("replay")
        .arg("--verify")
        .arg(dir.join("journal"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("replay --verify");
    assert!(status.success(), "replay --verify of the node's journal");
}

#[test]
fn burst_through_a_tiny_ring_single_thread() {
    burst_through_a_tiny_ring(&["--single-thread"], "burst-single");
}

#[test]
fn burst_through_a_tiny_ring_threaded() {
    burst_through_a_tiny_ring(&[], "burst-threaded");
}
