//! Market operations through the real `peregrine run` process: a `[market]` section with a
//! resume call; an admin halt rejects members' new orders; the resume starts a call in which
//! crossing orders rest without trading; the first command after the call's end (sequencer
//! time) uncrosses the book, and both members see their fills (OUCH Order Executed) under one
//! match number at one price. Both thread modes.

mod node_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use node_common::{data_dir, Member, NodeProcess, DEFAULT_CONFIG};
use peregrine_gateway::ouch::{Outbound, Side};

/// `peregrine admin --data-dir D WORDS…`: the exit code.
fn admin(dir: &Path, words: &[&str]) -> i32 {
    let dir = dir.to_string_lossy().into_owned();
    let mut args = vec!["admin", "--data-dir", dir.as_str()];
    args.extend_from_slice(words);
    let output = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(&args)
        .output()
        .expect("run peregrine admin");
    output.status.code().unwrap_or(-1)
}

fn accepted(num: u32) -> impl FnMut(&Outbound) -> Option<u64> {
    move |message| match message {
        Outbound::OrderAccepted(a) if a.user_ref_num == num => Some(a.order_reference_number),
        _ => None,
    }
}

fn rejected(num: u32) -> impl FnMut(&Outbound) -> Option<()> {
    move |message| match message {
        Outbound::Rejected(r) if r.user_ref_num == num => Some(()),
        _ => None,
    }
}

/// (quantity, price, match number) of the execution of order `num`.
fn executed(num: u32) -> impl FnMut(&Outbound) -> Option<(u32, u64, u64)> {
    move |message| match message {
        Outbound::OrderExecuted(e) if e.user_ref_num == num => {
            Some((e.quantity, e.price, e.match_number))
        }
        _ => None,
    }
}

const RESUME_CALL_MS: u64 = 2_000;

fn halt_resume_call_uncross(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    // A 2 s resume call (long beside the few ms an admin round trip and an order take, so
    // the crossing ask lands inside it); the first command stamped after it ends it.
    let config = format!("{DEFAULT_CONFIG}\n[market]\nresume_call_ms = {RESUME_CALL_MS}\n");
    let node = NodeProcess::start_with_config(&dir, &config, mode);
    let (mut alice, _) = Member::login(node.addr, "ALICE", "alice", 0);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);

    let bid = alice.enter("AAPL", Side::Buy, 100, 1_000_000);
    alice.wait_for("bid accepted", accepted(bid));
    assert_eq!(admin(&dir, &["halt", "AAPL"]), 0);
    let halted = bob.enter("AAPL", Side::Sell, 100, 1_000_000);
    bob.wait_for("rejected while halted", rejected(halted));

    // The resume starts a call: a crossing ask rests without trading.
    assert_eq!(admin(&dir, &["resume", "AAPL"]), 0);
    let ask = bob.enter("AAPL", Side::Sell, 60, 990_000);
    bob.wait_for("ask accepted in the call", accepted(ask));
    assert!(
        !bob.received
            .iter()
            .any(|(_, message)| executed(ask)(message).is_some()),
        "no trade inside the call"
    );
    // Let sequencer time pass the call's end; the next command fires the uncross first.
    std::thread::sleep(Duration::from_millis(RESUME_CALL_MS + 100));
    let away = alice.enter("AAPL", Side::Buy, 1, 900_000);
    alice.wait_for("away bid accepted", accepted(away));
    let (bid_qty, bid_price, bid_match) = alice.wait_for("bid filled", executed(bid));
    let (ask_qty, ask_price, ask_match) = bob.wait_for("ask filled", executed(ask));
    assert_eq!((bid_qty, ask_qty), (60, 60));
    assert_eq!(bid_price, ask_price);
    assert!((990_000..=1_000_000).contains(&bid_price));
    assert_eq!(bid_match, ask_match);
    assert!(node.terminate(), "clean shutdown");
}

#[test]
fn halt_resume_call_uncross_single_thread() {
    halt_resume_call_uncross(&["--single-thread"], "market-single");
}

#[test]
fn halt_resume_call_uncross_threaded() {
    halt_resume_call_uncross(&[], "market-threaded");
}
