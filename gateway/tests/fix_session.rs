//! The FIX session and application layers without a network: a hand-driven client (messages
//! framed by the codec) against a `FixSession` on a fake clock, and a `FixOrderEntry` whose
//! commands go through a real `Engine` whose events come back. Method: quinn-style pair
//! testing — every input carries `now_ns`, nothing sleeps.

use std::collections::BTreeMap;

use peregrine_engine::{
    AccountConfig, AccountId, Command, Engine, EngineConfig, Event, InstrumentConfig, Price, Qty,
    SessionId, StpMode,
};
use peregrine_gateway::fix::app::{FixAction, FixOrderEntry, FixOut};
use peregrine_gateway::fix::codec::{frame, Fields};
use peregrine_gateway::fix::session::{
    compose_message, FixSession, Header, SessionConfig, SessionEvent, State, Text,
};
use peregrine_gateway::mapping::{Instruments, SessionContext};

const SECOND_NS: u64 = 1_000_000_000;

fn text(value: &str) -> Text {
    Text::new(value.as_bytes()).expect("short")
}

/// Frames one client message.
fn message(msg_type: &str, seq: u64, fields: &[(u32, &str)]) -> Vec<u8> {
    let mut buffer = [0xa5u8; 2048];
    let header = Header {
        msg_type: msg_type.as_bytes(),
        seq,
        sending_ns: 0,
        poss_dup: None,
    };
    let ids = (&text("MEMBER"), &text("PEREGRINE"));
    let len = compose_message(&mut buffer, ids, &header, |w| {
        for (tag, value) in fields {
            w.bytes(*tag, value.as_bytes());
        }
    })
    .expect("fits");
    buffer[..len].to_vec()
}

fn logon(seq: u64, reset: bool) -> Vec<u8> {
    let mut fields = vec![(98, "0"), (108, "30"), (553, "MEMBER"), (554, "pw")];
    if reset {
        fields.push((141, "Y"));
    }
    message("A", seq, &fields)
}

fn tags(bytes: &[u8]) -> BTreeMap<u32, String> {
    assert_eq!(
        frame(bytes),
        Ok(Some(bytes.len())),
        "whole, with a good checksum"
    );
    let fields = Fields::parse(bytes).expect("fields");
    let mut map = BTreeMap::new();
    for (tag, value) in fields.iter() {
        map.entry(tag)
            .or_insert_with(|| String::from_utf8_lossy(value).into_owned());
    }
    map
}

/// Every admin message the session wants to send, as tag maps.
fn drain_admin(session: &mut FixSession, now_ns: u64) -> Vec<BTreeMap<u32, String>> {
    let mut buffer = [0u8; 4096];
    let mut out = Vec::new();
    while let Some(len) = session.poll_admin(now_ns, &mut buffer) {
        out.push(tags(&buffer[..len]));
    }
    out
}

fn events(session: &mut FixSession) -> Vec<SessionEvent> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn logged_on(next_in: u64, next_out: u64) -> FixSession {
    let config = SessionConfig {
        comp_id: text("PEREGRINE"),
        reset_on_logon: false,
    };
    let mut session = FixSession::new(config, 0);
    let bytes = logon(next_in, false);
    assert_eq!(session.handle_input(0, &bytes), bytes.len());
    assert!(matches!(
        events(&mut session)[..],
        [SessionEvent::LogonRequested(_)]
    ));
    assert!(!session.accept_logon(0, next_in, next_out));
    let answer = drain_admin(&mut session, 0);
    assert_eq!(answer[0][&35], "A");
    assert_eq!(answer[0][&34], next_out.to_string());
    session
}

#[test]
fn logon_heartbeats_test_requests_and_timeout() {
    let mut session = logged_on(1, 1);
    assert_eq!((session.next_in(), session.next_out()), (2, 2));
    // Quiet for one interval: a Heartbeat goes out.
    session.handle_timeout(30 * SECOND_NS);
    let heartbeat = drain_admin(&mut session, 30 * SECOND_NS);
    assert_eq!(heartbeat.len(), 1);
    assert_eq!(heartbeat[0][&35], "0");
    // Nothing received for 1.2 intervals: a TestRequest; no answer in time: timed out.
    session.handle_timeout(36 * SECOND_NS);
    let test = drain_admin(&mut session, 36 * SECOND_NS);
    assert!(test.iter().any(|m| m[&35] == "1" && m.contains_key(&112)));
    session.handle_timeout(67 * SECOND_NS);
    assert!(events(&mut session).contains(&SessionEvent::TimedOut));
    assert!(session.is_closed());
}

#[test]
fn a_test_request_is_answered_and_a_heartbeat_clears_ours() {
    let mut session = logged_on(1, 1);
    let test = message("1", 2, &[(112, "PING")]);
    session.handle_input(SECOND_NS, &test);
    let answer = drain_admin(&mut session, SECOND_NS);
    assert_eq!(
        (answer[0][&35].as_str(), answer[0][&112].as_str()),
        ("0", "PING")
    );
    assert_eq!(session.next_in(), 3);
}

#[test]
fn sequence_gaps_duplicates_and_too_low_numbers() {
    let mut session = logged_on(1, 1);
    // Too high: one ResendRequest from the first missing number, the message is not handled.
    let ahead = message("D", 5, &[(11, "X")]);
    session.handle_input(0, &ahead);
    assert!(events(&mut session).is_empty());
    let resend = drain_admin(&mut session, 0);
    assert_eq!(
        (
            resend[0][&35].as_str(),
            resend[0][&7].as_str(),
            resend[0][&16].as_str()
        ),
        ("2", "2", "0")
    );
    session.handle_input(0, &message("0", 6, &[]));
    assert!(
        drain_admin(&mut session, 0).is_empty(),
        "one outstanding ResendRequest"
    );
    // The peer fills the gap: a gap fill to 5, then message 5 again.
    session.handle_input(0, &message("4", 2, &[(123, "Y"), (36, "5")]));
    assert_eq!(session.next_in(), 5);
    session.handle_input(0, &message("D", 5, &[(11, "X"), (43, "Y")]));
    assert!(matches!(
        events(&mut session)[..],
        [SessionEvent::Application { seq: 5, .. }]
    ));
    // A possible duplicate below next_in is dropped quietly.
    let mut duplicate = message("D", 3, &[]);
    duplicate = String::from_utf8(duplicate)
        .expect("ascii")
        .replace("\x0134=3\x01", "\x0134=3\x0143=Y\x01")
        .into_bytes();
    let fixed = reframe(&duplicate);
    session.handle_input(0, &fixed);
    assert!(events(&mut session).is_empty() && !session.is_closed());
    // Too low without PossDupFlag: Logout and closed.
    session.handle_input(0, &message("0", 2, &[]));
    let logout = drain_admin(&mut session, 0);
    assert_eq!(logout[0][&35], "5");
    assert!(logout[0][&58].contains("too low"));
    assert!(session.is_closed());
}

/// Recomputes BodyLength and CheckSum of an edited message.
fn reframe(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let body_start = text.find("35=").expect("35");
    let body_end = text.rfind("10=").expect("10");
    let body = &text[body_start..body_end];
    let head = format!("8=FIX.4.4\x019={}\x01{body}", body.len());
    let sum: u32 = head.bytes().map(u32::from).sum::<u32>() % 256;
    format!("{head}10={sum:03}\x01").into_bytes()
}

#[test]
fn garbled_and_malformed_messages() {
    let mut session = logged_on(1, 1);
    let mut garbled = message("0", 2, &[]);
    let at = garbled.len() - 3;
    garbled[at] = if garbled[at] == b'9' { b'8' } else { b'9' };
    assert_eq!(session.handle_input(0, &garbled), garbled.len());
    assert_eq!(events(&mut session), [SessionEvent::Garbled]);
    assert_eq!(session.next_in(), 2, "a garbled message uses no number");
    // An empty value: session Reject (reason 4) naming the tag, the number is used.
    let empty = reframe(
        &String::from_utf8(message("D", 2, &[(11, "x")]))
            .expect("ascii")
            .replace("11=x", "11=")
            .into_bytes(),
    );
    session.handle_input(0, &empty);
    let reject = drain_admin(&mut session, 0);
    assert_eq!(
        (
            reject[0][&35].as_str(),
            reject[0][&373].as_str(),
            reject[0][&371].as_str()
        ),
        ("3", "4", "11")
    );
    assert_eq!(session.next_in(), 3);
    // A wrong BeginString ends the session.
    session.handle_input(0, b"8=FIX.4.2\x019=5\x0135=0\x0110=000\x01");
    assert!(session.is_closed());
}

#[test]
fn reset_on_logon_and_a_first_message_that_is_not_logon() {
    let config = SessionConfig {
        comp_id: text("PEREGRINE"),
        reset_on_logon: false,
    };
    let mut session = FixSession::new(config, 0);
    session.handle_input(0, &message("0", 1, &[]));
    assert!(session.is_closed());
    assert_eq!(drain_admin(&mut session, 0)[0][&35], "5");

    let mut session = FixSession::new(config, 0);
    session.handle_input(0, &logon(1, true));
    assert!(matches!(session.state(), State::LogonPending(_)));
    events(&mut session);
    assert!(
        session.accept_logon(0, 40, 70),
        "ResetSeqNumFlag resets both numbers"
    );
    let answer = drain_admin(&mut session, 0);
    assert_eq!(
        (answer[0][&34].as_str(), answer[0][&141].as_str()),
        ("1", "Y")
    );
    assert_eq!(session.next_in(), 2);
}

#[test]
fn a_stored_message_is_resent_as_a_duplicate_and_admin_ones_as_a_gap_fill() {
    let mut session = logged_on(1, 1);
    let mut buffer = [0u8; 1024];
    let len = session
        .compose_app(5 * SECOND_NS, b"8", &mut buffer, |w| {
            w.bytes(37, b"7").bytes(11, b"C1");
        })
        .expect("fits");
    let stored = buffer[..len].to_vec();
    assert_eq!(tags(&stored)[&34], "2");
    let mut again = [0u8; 1024];
    let len = session
        .reframe_poss_dup(9 * SECOND_NS, &stored, &mut again)
        .expect("ours");
    let resent = tags(&again[..len]);
    assert_eq!(
        (
            resent[&34].as_str(),
            resent[&43].as_str(),
            resent[&11].as_str()
        ),
        ("2", "Y", "C1")
    );
    assert_eq!(
        resent[&122],
        tags(&stored)[&52],
        "OrigSendingTime is the first SendingTime"
    );
    let len = session
        .gap_fill(9 * SECOND_NS, 1, 2, &mut again)
        .expect("fits");
    let gap = tags(&again[..len]);
    assert_eq!(
        (
            gap[&35].as_str(),
            gap[&123].as_str(),
            gap[&36].as_str(),
            gap[&34].as_str()
        ),
        ("4", "Y", "2", "1")
    );
    session.handle_input(0, &message("2", 2, &[(7, "1"), (16, "0")]));
    assert_eq!(
        events(&mut session),
        [SessionEvent::ResendRequested { begin: 1, end: 2 }]
    );
}

/// A FIX user trading through a real engine.
struct Desk {
    engine: Engine,
    instruments: Instruments,
    entries: [FixOrderEntry; 2],
    seq: u64,
}

impl Desk {
    fn new() -> Desk {
        let config = EngineConfig {
            instruments: vec![InstrumentConfig {
                symbol: InstrumentConfig::symbol_from_str("AAPL"),
                tick_size: Price(100),
                lot_size: Qty(1),
                min_price: Price(100),
                max_price: Price(10_000_000),
                max_order_qty: Qty(100_000),
            }],
            accounts: vec![
                AccountConfig { stp: StpMode::Off },
                AccountConfig { stp: StpMode::Off },
            ],
            order_capacity: 64,
            level_capacity: 64,
        };
        let instruments = Instruments::new(&config);
        let entry = |index: u32| {
            let context = SessionContext {
                account: AccountId(index),
                session: SessionId(0x0100_0000 + index),
                firm: *b"FIRM",
            };
            FixOrderEntry::new(context, 16, 64)
        };
        Desk {
            engine: Engine::new(config).expect("engine"),
            instruments,
            entries: [entry(0), entry(1)],
            seq: 1,
        }
    }

    /// Sends one message from member `who`; returns every message both members get.
    fn send(&mut self, who: usize, msg_type: &str, fields: &[(u32, &str)]) -> [Vec<FixOut>; 2] {
        let bytes = message(msg_type, self.seq, fields);
        self.seq += 1;
        let fields = Fields::parse(&bytes).expect("fields");
        let mut out: [Vec<FixOut>; 2] = [Vec::new(), Vec::new()];
        let command: Option<Command> =
            match self.entries[who].on_message(&self.instruments, 0, &fields, 1) {
                FixAction::Submit { command, reply } => {
                    out[who].extend(reply);
                    Some(command)
                }
                FixAction::Reply(reply) => {
                    out[who].push(reply);
                    None
                }
                FixAction::SessionReject(error) => panic!("session reject {error}"),
            };
        let mut events: Vec<Event> = Vec::new();
        if let Some(command) = command {
            self.engine.apply(&command, &mut events);
        }
        for event in &events {
            for (index, entry) in self.entries.iter_mut().enumerate() {
                out[index].extend(
                    entry
                        .on_event(&self.instruments, 0, event)
                        .into_iter()
                        .flatten(),
                );
            }
        }
        out
    }
}

fn exec(out: &FixOut) -> (u8, u8, u32, u32) {
    match out {
        FixOut::Execution(r) => (r.exec_type, r.ord_status, r.cum_qty, r.leaves_qty),
        other => panic!("not an ExecutionReport: {other:?}"),
    }
}

const T: (u32, &str) = (60, "20260101-00:00:00.000");

#[test]
fn orders_fills_replaces_cancels_and_duplicates_through_an_engine() {
    let mut desk = Desk::new();
    let buy = [
        (11, "B1"),
        (55, "AAPL"),
        (54, "1"),
        T,
        (38, "100"),
        (40, "2"),
        (44, "10"),
    ];
    let [mine, _] = desk.send(0, "D", &buy);
    assert_eq!(exec(&mine[0]), (b'0', b'0', 0, 100));
    let sell = [
        (11, "S1"),
        (55, "AAPL"),
        (54, "2"),
        T,
        (38, "30"),
        (40, "2"),
        (44, "10"),
    ];
    let [buyer, seller] = desk.send(1, "D", &sell);
    assert_eq!(exec(&seller[0]), (b'0', b'0', 0, 30));
    assert_eq!(exec(&seller[1]), (b'F', b'2', 30, 0));
    assert_eq!(exec(&buyer[0]), (b'F', b'1', 30, 70));
    // Replace to 80 total (50 open) at a new price; then the duplicate ClOrdID and a cancel.
    let replace = [
        (41, "B1"),
        (11, "B2"),
        (55, "AAPL"),
        (54, "1"),
        T,
        (38, "80"),
        (40, "2"),
        (44, "9.5"),
    ];
    let [mine, _] = desk.send(0, "G", &replace);
    assert_eq!(exec(&mine[0]).0, b'E');
    assert_eq!(exec(&mine[1]), (b'5', b'1', 30, 50));
    let [mine, _] = desk.send(0, "D", &buy);
    let FixOut::Execution(duplicate) = mine[0] else {
        panic!("{mine:?}")
    };
    assert_eq!((duplicate.exec_type, duplicate.rej_reason), (b'8', Some(6)));
    let old = [(41, "B1"), (11, "B3"), (55, "AAPL"), (54, "1"), T];
    let [mine, _] = desk.send(0, "F", &old);
    assert!(
        matches!(mine[0], FixOut::CancelReject(r) if r.reason == 1),
        "B1 is no longer live"
    );
    let cancel = [(41, "B2"), (11, "B4"), (55, "AAPL"), (54, "1"), T];
    let [mine, _] = desk.send(0, "F", &cancel);
    assert_eq!(exec(&mine[0]).0, b'6');
    assert_eq!(exec(&mine[1]), (b'4', b'4', 30, 0));
    assert_eq!(desk.entries[0].open_orders(), 0);
    // Mass cancel with nothing open: a report with zero affected orders.
    let [mine, _] = desk.send(0, "q", &[(11, "M1"), (530, "7"), T]);
    assert!(
        matches!(mine[0], FixOut::MassCancelReport(r) if r.affected == 0 && r.response == b'7')
    );
}
