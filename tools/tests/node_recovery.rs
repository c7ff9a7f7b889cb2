//! Re-login recovery against the real node: a member that drops its connection mid-stream, and
//! a node killed with SIGKILL and restarted from its journal and session logs. After re-login
//! with the sequence number it expects next, every member must have received every sequenced
//! message exactly once (contiguous numbers, no repeated answer), and every order whose
//! acceptance it saw must still be live (it can be cancelled).

mod node_common;

use std::collections::BTreeMap;
use std::time::Duration;

use node_common::{data_dir, enter_order, Login, Member, NodeProcess};
use peregrine_gateway::ouch::{Inbound, Outbound, Side};

/// Every sequenced message exactly once: numbers `1..=n` in order, across connections.
fn assert_contiguous(history: &[(u64, Outbound)]) {
    for (index, (seq, _)) in history.iter().enumerate() {
        assert_eq!(*seq, index as u64 + 1, "message numbers: {:?}", history);
    }
}

/// UserRefNum → order reference of every Accepted; panics on a repeated answer.
fn accepted_orders(history: &[(u64, Outbound)]) -> BTreeMap<u32, u64> {
    let mut accepted = BTreeMap::new();
    let mut answered = BTreeMap::new();
    for (_, message) in history {
        let num = match message {
            Outbound::OrderAccepted(a) => {
                accepted.insert(a.user_ref_num, a.order_reference_number);
                a.user_ref_num
            }
            Outbound::Rejected(r) => r.user_ref_num,
            _ => continue,
        };
        *answered.entry(num).or_insert(0) += 1;
    }
    assert!(
        answered.values().all(|&n| n == 1),
        "answered twice: {answered:?}"
    );
    accepted
}

fn drop_mid_stream(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let node = NodeProcess::start(&dir, mode);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    for index in 0..40u64 {
        alice.enter("AAPL", Side::Buy, 10, 1_000_000 + 100 * index);
    }
    alice.wait_count(10);
    let first = alice.received.clone();
    drop(alice); // no logout: the connection just goes away mid-stream
                 // While Alice is away, Bob sells into her bids: her fills queue in her log.
    for _ in 0..5 {
        bob.enter("AAPL", Side::Sell, 10, 1_000_000);
    }
    bob.wait_count(10);
    let total = 40 + 5;

    // Re-login from an old number: the overlap is replayed identically.
    let (mut again, login) = Member::relogin(node.addr, "ALICE", "alice", 5);
    assert_eq!(login, Login::Accepted { next_seq: 5 });
    again.wait_count(total - 4);
    for (seq, message) in again
        .received
        .iter()
        .take_while(|(seq, _)| *seq <= first.len() as u64)
    {
        assert_eq!(
            &first[*seq as usize - 1].1,
            message,
            "replayed message {seq}"
        );
    }
    again.logout();
    again.wait_closed();

    // Re-login from the number after the last one seen: exactly the rest, once.
    let next = first.len() as u64 + 1;
    let (mut last, login) = Member::relogin(node.addr, "ALICE", "alice", next);
    assert_eq!(login, Login::Accepted { next_seq: next });
    last.wait_count(total - first.len());
    assert_eq!(
        last.settle(Duration::from_millis(300)),
        0,
        "nothing beyond the stream"
    );
    let mut history = first.clone();
    history.extend(last.received.iter().cloned());
    assert_contiguous(&history);
    assert_eq!(accepted_orders(&history).len(), 40);
    let executions = history
        .iter()
        .filter(|(_, m)| matches!(m, Outbound::OrderExecuted(_)))
        .count();
    assert_eq!(
        executions, 5,
        "fills made while disconnected arrive on re-login"
    );
    assert!(node.terminate());
}

#[test]
fn relogin_after_drop_single_thread() {
    drop_mid_stream(&["--single-thread"], "drop-single");
}

#[test]
fn relogin_after_drop_threaded() {
    drop_mid_stream(&[], "drop-threaded");
}

fn kill_and_restart(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let node = NodeProcess::start(&dir, mode);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    let order_count = 300u32;
    for index in 0..order_count {
        // Alternate sides and overlap prices so that some orders trade.
        let price = 1_000_000 + 100 * u64::from(index % 7);
        alice.enter("MSFT", Side::Buy, 10, price);
        if index % 3 == 0 {
            bob.enter("MSFT", Side::Sell, 10, 1_000_300);
        }
    }
    alice.wait_count(20);
    node.kill(); // mid-stream: no shutdown code runs
    alice.settle(Duration::from_millis(200));
    bob.settle(Duration::from_millis(50));
    let mut alice_history = alice.received.clone();
    let bob_history = bob.received.clone();

    let node = NodeProcess::start(&dir, mode);
    let (mut alice2, login) = Member::login(node.addr, "ALICE", "alice", alice.next_seq());
    assert_eq!(
        login,
        Login::Accepted {
            next_seq: alice.next_seq()
        }
    );
    let (mut bob2, _) = Member::login(node.addr, "BOB", "bob", bob.next_seq());
    alice2.settle(Duration::from_millis(1_500));
    bob2.settle(Duration::from_millis(300));
    alice_history.extend(alice2.received.iter().cloned());
    let mut bob_all = bob_history;
    bob_all.extend(bob2.received.iter().cloned());
    assert_contiguous(&alice_history);
    assert_contiguous(&bob_all);
    let accepted = accepted_orders(&alice_history);
    accepted_orders(&bob_all);
    assert!(!accepted.is_empty());

    // The UserRefNum high-water mark survived: an old number is ignored.
    alice2.send(&Inbound::EnterOrder(enter_order(
        1,
        "MSFT",
        Side::Buy,
        10,
        1_000_000,
    )));
    assert_eq!(
        alice2.settle(Duration::from_millis(300)),
        0,
        "duplicate after restart ignored"
    );

    // No accepted order is lost: every one still resting can be cancelled, and the rest
    // were filled (their executions are in the history).
    let mut filled: BTreeMap<u32, u32> = BTreeMap::new();
    for (_, message) in &alice_history {
        if let Outbound::OrderExecuted(e) = message {
            *filled.entry(e.user_ref_num).or_insert(0) += e.quantity;
        }
    }
    let resting: Vec<u32> = accepted
        .keys()
        .copied()
        .filter(|num| filled.get(num).copied().unwrap_or(0) < 10)
        .collect();
    for num in &resting {
        alice2.cancel(*num);
    }
    for num in &resting {
        alice2.wait_for("cancel of a recovered order", |m| match m {
            Outbound::OrderCanceled(c) if c.user_ref_num == *num => Some(()),
            _ => None,
        });
    }
    assert!(node.terminate());
}

#[test]
fn sigkill_and_restart_single_thread() {
    kill_and_restart(&["--single-thread"], "kill-single");
}

#[test]
fn sigkill_and_restart_threaded() {
    kill_and_restart(&[], "kill-threaded");
}

/// Cancel on disconnect is journaled like any input: CAROL's firm has it on, so her resting
/// order is cancelled when her connection drops, and she learns it on re-login.
#[test]
fn cancel_on_disconnect_is_delivered_on_relogin() {
    let dir = data_dir("cod");
    let node = NodeProcess::start(&dir, &["--single-thread"]);
    let (mut carol, _) = Member::login(node.addr, "CAROL", "carol", 0);
    let num = carol.enter("GOOG", Side::Sell, 10, 2_000_000);
    carol.wait_count(1);
    drop(carol);
    let (mut again, login) = Member::relogin(node.addr, "CAROL", "carol", 2);
    assert_eq!(login, Login::Accepted { next_seq: 2 });
    let reason = again.wait_for("cancel on disconnect", |m| match m {
        Outbound::OrderCanceled(c) if c.user_ref_num == num => Some(c.reason),
        _ => None,
    });
    assert_eq!(reason, peregrine_gateway::ouch::CancelReason::SystemCancel);
    assert!(node.terminate());
}
