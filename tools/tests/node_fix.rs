//! The FIX gateway in the real node process: an OUCH member and a FIX member trade against
//! each other and both see the same trade; an auction fill reaches the FIX member as a Trade
//! report; fills the journal holds but a FIX store lost are regenerated on restart; FIX
//! sequence numbers, stored messages and ClOrdIDs survive a restart; bad logons and sequence
//! violations end the session with a Logout.
//! Method: `peregrine run` (embedded config with its demo FIX users; the trading, auction and
//! crash-recovery scenarios in both thread modes) on free loopback ports, the OUCH test member
//! from `node_common`, a blocking FIX member built on the gateway crate's codec
//! (`fix/client.rs`).

#[path = "fix/client.rs"]
mod fix_client;
mod node_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fix_client::{field, fix_addr, FixClient};
use node_common::{data_dir, Member, NodeProcess, DEFAULT_CONFIG};
use peregrine_gateway::ouch::{Outbound, Side};

/// `peregrine admin --data-dir D WORDS…` succeeds.
fn admin(dir: &Path, words: &[&str]) {
    let dir = dir.to_string_lossy().into_owned();
    let mut args = vec!["admin", "--data-dir", dir.as_str()];
    args.extend_from_slice(words);
    let status = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(&args)
        .status()
        .expect("run peregrine admin");
    assert!(status.success(), "peregrine admin {words:?}");
}

fn an_ouch_member_and_a_fix_member_trade_and_see_the_same_trade(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let node = NodeProcess::start(&dir, mode);
    let mut fix = FixClient::connect(fix_addr(&dir), "FIXA");
    let logon = fix.logon("FIXA", "fixa", false);
    assert_eq!(
        field(&logon, 35),
        "A",
        "logon answered with a Logon: {logon:?}"
    );
    fix.new_order("F1", "1", "100", "100", "AAPL");
    let new = fix.report("F1", "0");
    assert_eq!((field(&new, 39), field(&new, 151)), ("0", "100"));

    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    let sell = bob.enter("AAPL", Side::Sell, 60, 1_000_000);
    let (ouch_qty, ouch_price, match_number) = bob.wait_for("OUCH execution", |m| match m {
        Outbound::OrderExecuted(e) if e.user_ref_num == sell => {
            Some((e.quantity, e.price, e.match_number))
        }
        _ => None,
    });
    let fill = fix.report("F1", "F");
    assert_eq!((ouch_qty, ouch_price), (60, 1_000_000));
    assert_eq!(field(&fill, 32), "60", "LastQty: {fill:?}");
    assert_eq!(
        field(&fill, 31),
        "100",
        "LastPx (100.0000 = 1,000,000 ticks)"
    );
    assert_eq!((field(&fill, 14), field(&fill, 151)), ("60", "40"));
    assert_eq!(field(&fill, 39), "1", "partially filled");
    assert!(match_number > 0);

    // The FIX member cancels the rest; the OUCH member's order is done already.
    fix.send(
        "F",
        &[
            (41, "F1"),
            (11, "F2"),
            (55, "AAPL"),
            (54, "1"),
            (60, "20260101-00:00:00.000"),
        ],
    );
    fix.report("F2", "6");
    let cancelled = fix.report("F2", "4");
    assert_eq!((field(&cancelled, 41), field(&cancelled, 151)), ("F1", "0"));
    assert_eq!(field(&cancelled, 14), "60", "CumQty kept on the cancel");
    fix.send("5", &[]);
    fix.wait_for("Logout answer", |m| (field(m, 35) == "5").then_some(()));
    fix.wait_closed();
    bob.logout();
    assert!(node.terminate(), "clean shutdown");
}

#[test]
fn an_ouch_member_and_a_fix_member_trade_threaded() {
    an_ouch_member_and_a_fix_member_trade_and_see_the_same_trade(&[], "fix-ouch-threaded");
}

#[test]
fn an_ouch_member_and_a_fix_member_trade_single_thread() {
    an_ouch_member_and_a_fix_member_trade_and_see_the_same_trade(
        &["--single-thread"],
        "fix-ouch-single",
    );
}

#[test]
fn sequence_numbers_orders_and_cl_ord_ids_survive_a_restart() {
    let dir = data_dir("fix-restart");
    let node = NodeProcess::start(&dir, &[]);
    let mut fix = FixClient::connect(fix_addr(&dir), "FIXB");
    fix.logon("FIXB", "fixb", false);
    fix.new_order("R1", "2", "10", "150.25", "MSFT");
    fix.report("R1", "0");
    fix.send("5", &[]);
    fix.wait_for("Logout answer", |m| (field(m, 35) == "5").then_some(()));
    fix.wait_closed();
    let sent_before = fix.next_out;
    assert!(node.terminate());
    std::fs::remove_file(dir.join("fix.addr")).expect("old address file");

    let node = NodeProcess::start(&dir, &[]);
    let mut fix = FixClient::connect(fix_addr(&dir), "FIXB");
    fix.next_out = sent_before;
    let logon = fix.logon("FIXB", "fixb", false);
    assert_eq!(field(&logon, 35), "A");
    // Logon, ExecutionReport and Logout went out before: the gateway continues at 4.
    assert_eq!(
        field(&logon, 34),
        "4",
        "outbound MsgSeqNum continues: {logon:?}"
    );
    fix.new_order("R1", "2", "10", "150.25", "MSFT");
    let duplicate = fix.report("R1", "8");
    assert_eq!(
        field(&duplicate, 103),
        "6",
        "duplicate ClOrdID after a restart"
    );
    fix.send("H", &[(11, "R1"), (55, "MSFT"), (54, "2")]);
    let status = fix.report("R1", "I");
    assert_eq!((field(&status, 39), field(&status, 151)), ("0", "10"));
    assert_eq!(field(&status, 44), "150.25");
    // A resend of everything: application messages as duplicates, admin ones gap-filled.
    fix.send("2", &[(7, "1"), (16, "0")]);
    let gap = fix.wait_for("gap fill", |m| {
        (field(m, 35) == "4" && field(m, 34) == "1").then(|| m.clone())
    });
    assert_eq!((field(&gap, 123), field(&gap, 36)), ("Y", "2"));
    let again = fix.wait_for("resent ExecutionReport", |m| {
        (field(m, 35) == "8" && field(m, 34) == "2").then(|| m.clone())
    });
    assert_eq!((field(&again, 43), field(&again, 11)), ("Y", "R1"));
    assert!(node.terminate());
}

#[test]
fn bad_logons_and_sequence_errors_end_the_session() {
    let dir = data_dir("fix-rules");
    let node = NodeProcess::start(&dir, &[]);
    let addr = fix_addr(&dir);
    let mut wrong = FixClient::connect(addr, "FIXA");
    let answer = wrong.logon("FIXA", "nope", false);
    assert_eq!(field(&answer, 35), "5", "a wrong password gets a Logout");
    wrong.wait_closed();

    let mut fix = FixClient::connect(addr, "FIXA");
    assert_eq!(
        field(&fix.logon("FIXA", "fixa", true), 141),
        "Y",
        "reset acknowledged"
    );
    // A garbled message (bad CheckSum) is skipped without using its MsgSeqNum.
    fix.send_raw(b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01");
    // An unknown MsgType gets a session Reject, an unsupported one a BusinessMessageReject.
    fix.send("ZZ", &[]);
    let reject = fix.wait_for("Reject", |m| (field(m, 35) == "3").then(|| m.clone()));
    assert_eq!((field(&reject, 373), field(&reject, 45)), ("11", "2"));
    fix.send("E", &[]);
    let business = fix.wait_for("BusinessMessageReject", |m| {
        (field(m, 35) == "j").then(|| m.clone())
    });
    assert_eq!((field(&business, 380), field(&business, 372)), ("3", "E"));
    // A NewOrderSingle without TransactTime: session Reject, required tag missing.
    fix.send(
        "D",
        &[
            (11, "X1"),
            (55, "AAPL"),
            (54, "1"),
            (38, "1"),
            (40, "2"),
            (44, "1"),
        ],
    );
    let missing = fix.wait_for("Reject", |m| (field(m, 35) == "3").then(|| m.clone()));
    assert_eq!((field(&missing, 373), field(&missing, 371)), ("1", "60"));
    // A gap: the gateway asks for a resend from the first missing number.
    let seq = fix.next_out;
    fix.send_with_seq("0", seq + 5, &[]);
    let resend = fix.wait_for("ResendRequest", |m| {
        (field(m, 35) == "2").then(|| m.clone())
    });
    assert_eq!(field(&resend, 7), seq.to_string());
    // MsgSeqNum too low without PossDupFlag: Logout and disconnect.
    fix.send_with_seq("0", 1, &[]);
    let logout = fix.wait_for("Logout", |m| (field(m, 35) == "5").then(|| m.clone()));
    assert!(field(&logout, 58).contains("too low"), "{logout:?}");
    fix.wait_closed();
    assert!(node.terminate());
}

const RESUME_CALL_MS: u64 = 600;

/// A FIX member's resting bid is filled in the uncross that ends a resume call: it gets a
/// Trade ExecutionReport (150=F) with the uncross price and quantity, like a continuous fill.
fn auction_fill_reaches_the_fix_member(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let config = format!("{DEFAULT_CONFIG}\n[market]\nresume_call_ms = {RESUME_CALL_MS}\n");
    let node = NodeProcess::start_with_config(&dir, &config, mode);
    let mut fix = FixClient::connect(fix_addr(&dir), "FIXA");
    assert_eq!(field(&fix.logon("FIXA", "fixa", false), 35), "A");
    fix.new_order("A1", "1", "100", "100", "AAPL");
    fix.report("A1", "0");
    admin(&dir, &["halt", "AAPL"]);
    admin(&dir, &["resume", "AAPL"]);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    // Inside the call the crossing ask rests; the next command after the call's end uncrosses.
    let ask = bob.enter("AAPL", Side::Sell, 60, 990_000);
    bob.wait_for("ask accepted in the call", |m| match m {
        Outbound::OrderAccepted(a) if a.user_ref_num == ask => Some(()),
        _ => None,
    });
    std::thread::sleep(Duration::from_millis(RESUME_CALL_MS + 100));
    bob.enter("AAPL", Side::Sell, 1, 2_000_000);
    let (ouch_qty, ouch_price) = bob.wait_for("OUCH auction execution", |m| match m {
        Outbound::OrderExecuted(e) if e.user_ref_num == ask => Some((e.quantity, e.price)),
        _ => None,
    });
    let fill = fix.report("A1", "F");
    assert_eq!(ouch_qty, 60);
    let price = format!("{}", ouch_price as f64 / 10_000.0);
    assert_eq!(field(&fill, 32), "60", "LastQty: {fill:?}");
    assert_eq!(
        field(&fill, 31).parse::<f64>().ok(),
        price.parse().ok(),
        "LastPx"
    );
    assert_eq!(
        field(&fill, 6).parse::<f64>().ok(),
        price.parse().ok(),
        "AvgPx"
    );
    assert_eq!((field(&fill, 14), field(&fill, 151)), ("60", "40"));
    assert_eq!(field(&fill, 39), "1", "partially filled: {fill:?}");
    // The order lives on with the right quantities.
    fix.send("H", &[(11, "A1"), (55, "AAPL"), (54, "1")]);
    let status = fix.report("A1", "I");
    assert_eq!((field(&status, 14), field(&status, 151)), ("60", "40"));
    bob.logout();
    assert!(node.terminate(), "clean shutdown");
}

#[test]
fn auction_fill_reaches_the_fix_member_threaded() {
    auction_fill_reaches_the_fix_member(&[], "fix-auction-threaded");
}

#[test]
fn auction_fill_reaches_the_fix_member_single_thread() {
    auction_fill_reaches_the_fix_member(&["--single-thread"], "fix-auction-single");
}

/// The FIX store files of user `name` (session log, inbound MsgSeqNum) and the FIX gateway's
/// routing checkpoint: (path, contents).
fn fix_store_files(dir: &Path, name: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let fix_dir = dir.join("fix");
    [
        format!("{name}.log"),
        format!("{name}.seq"),
        "routed.checkpoint".to_string(),
    ]
    .iter()
    .map(|file| {
        let path = fix_dir.join(file);
        let bytes = std::fs::read(&path).expect("FIX store file");
        (path, bytes)
    })
    .collect()
}

/// A crash between the journal and a FIX user's store, simulated: the store is put back as it
/// was before a trade the journal holds. On restart the trade's events are regenerated from
/// the journal into the store, and the member gets the fill by resend.
fn fix_reports_lost_after_the_journal_are_regenerated(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let node = NodeProcess::start(&dir, mode);
    let mut fix = FixClient::connect(fix_addr(&dir), "FIXA");
    fix.logon("FIXA", "fixa", false);
    fix.new_order("G1", "1", "100", "100", "AAPL");
    fix.report("G1", "0");
    fix.send("5", &[]);
    fix.wait_for("Logout answer", |m| (field(m, 35) == "5").then_some(()));
    fix.wait_closed();
    let sent_before = fix.next_out;
    assert!(node.terminate());
    let saved = fix_store_files(&dir, "FIXA");

    // While FIXA is away, BOB fills part of its bid; journal and store both get the trade.
    std::fs::remove_file(dir.join("fix.addr")).expect("old address file");
    let node = NodeProcess::start(&dir, mode);
    let (mut bob, _) = Member::login(node.addr, "BOB", "bob", 0);
    let sell = bob.enter("AAPL", Side::Sell, 30, 1_000_000);
    bob.wait_for("OUCH execution", |m| match m {
        Outbound::OrderExecuted(e) if e.user_ref_num == sell => Some(()),
        _ => None,
    });
    bob.logout();
    assert!(node.terminate());
    // The crash: the store (and the FIX checkpoint) lost everything after the first run.
    for (path, bytes) in &saved {
        std::fs::write(path, bytes).expect("restore the FIX store");
    }

    std::fs::remove_file(dir.join("fix.addr")).expect("old address file");
    let node = NodeProcess::start(&dir, mode);
    let mut fix = FixClient::connect(fix_addr(&dir), "FIXA");
    fix.next_out = sent_before;
    let logon = fix.logon("FIXA", "fixa", false);
    // Logon, ExecutionReport, Logout, then the regenerated fill: the Logon answer is 5.
    assert_eq!(
        field(&logon, 34),
        "5",
        "the regenerated fill is stored: {logon:?}"
    );
    fix.send("2", &[(7, "4"), (16, "0")]);
    let fill = fix.wait_for("resent fill", |m| {
        (field(m, 35) == "8" && field(m, 34) == "4").then(|| m.clone())
    });
    assert_eq!((field(&fill, 43), field(&fill, 150)), ("Y", "F"));
    assert_eq!((field(&fill, 11), field(&fill, 32)), ("G1", "30"));
    assert_eq!((field(&fill, 14), field(&fill, 151)), ("30", "70"));
    // The order state was rebuilt with the fill too.
    fix.send("H", &[(11, "G1"), (55, "AAPL"), (54, "1")]);
    let status = fix.report("G1", "I");
    assert_eq!((field(&status, 14), field(&status, 151)), ("30", "70"));
    assert!(node.terminate());
}

#[test]
fn fix_reports_lost_after_the_journal_are_regenerated_threaded() {
    fix_reports_lost_after_the_journal_are_regenerated(&[], "fix-regenerate-threaded");
}

#[test]
fn fix_reports_lost_after_the_journal_are_regenerated_single_thread() {
    fix_reports_lost_after_the_journal_are_regenerated(
        &["--single-thread"],
        "fix-regenerate-single",
    );
}
