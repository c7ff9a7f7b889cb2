//! The End of Snapshot codec (golden bytes both ways, rejects), snapshots built from a real
//! engine (applied to an empty feed book they give the engine's book), the sans-IO session on a
//! fake clock (complete spin, rejects, protocol errors, logout, timeouts), and the server and
//! client over TCP on 127.0.0.1.

use peregrine_engine::{
    AccountId, Command, Engine, EngineConfig, NewOrder, OrderType, Price, Qty, SessionId, Side,
    StpMode, TimeInForce, TradingStatus,
};

use super::*;
use crate::book::{Book, BookConfig};
use crate::encoder::EncoderConfig;

fn session() -> Session {
    Session::from_text("SNAPTEST").expect("session")
}

fn config() -> SnapshotConfig {
    SnapshotConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        clients_max: 2,
        login_timeout_ms: 1,
        idle_timeout_ms: 2,
        transmit_buffer_bytes: 4_096,
    }
}

#[test]
fn end_of_snapshot_golden_bytes() {
    let mut bytes = [0xa5u8; END_OF_SNAPSHOT_LEN];
    EndOfSnapshotRepr { join_seq: 12_345 }.emit(&mut bytes);
    assert_eq!(&bytes, b"G               12345");
    assert_eq!(
        EndOfSnapshotRepr::parse(&bytes),
        Some(EndOfSnapshotRepr { join_seq: 12_345 })
    );
    let mut max = [0u8; END_OF_SNAPSHOT_LEN];
    EndOfSnapshotRepr { join_seq: u64::MAX }.emit(&mut max);
    assert_eq!(&max, b"G18446744073709551615");
    assert_eq!(
        EndOfSnapshotRepr::parse(&max),
        Some(EndOfSnapshotRepr { join_seq: u64::MAX })
    );
    let bad: [&[u8]; 6] = [
        b"G               1234",
        b"G               123456",
        b"H               12345",
        b"G          123 45    ",
        b"G                    ",
        b"G99999999999999999999",
    ];
    for bytes in bad {
        assert_eq!(
            EndOfSnapshotRepr::parse(bytes),
            None,
            "{:?}",
            core::str::from_utf8(bytes)
        );
    }
}

/// An engine with resting orders on both sides of two instruments, one halted.
fn engine() -> (EngineConfig, Engine) {
    let config = EngineConfig::demo(2, 2, 64);
    let mut engine = Engine::new(config.clone()).expect("engine");
    let mut events = Vec::new();
    let orders = [
        (0, Side::Buy, 1_000_000, 10),
        (0, Side::Buy, 1_000_100, 20),
        (0, Side::Buy, 1_000_000, 30),
        (0, Side::Sell, 1_000_500, 40),
        (1, Side::Sell, 2_000_000, 50),
        (1, Side::Sell, 1_999_900, 60),
    ];
    for (index, (instrument, side, price, qty)) in orders.into_iter().enumerate() {
        let command = Command::NewOrder(NewOrder {
            account: AccountId(index as u32 % 2),
            session: SessionId(1),
            client_ref: index as u64,
            instrument: InstrumentId(instrument),
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price: Price(price),
            qty: Qty(qty),
            display_qty: Qty(0),
            min_qty: Qty(0),
            post_only: false,
            stp: StpMode::Off,
        });
        engine.apply(&command, &mut events);
    }
    engine.apply(
        &Command::SetTradingStatus {
            instrument: InstrumentId(1),
            status: TradingStatus::Halted,
        },
        &mut events,
    );
    (config, engine)
}

fn snapshot() -> BookSnapshot {
    let (config, engine) = engine();
    let encoder = Encoder::new(&config.instruments, EncoderConfig::anonymous(2)).expect("encoder");
    BookSnapshot::from_engine(&encoder, &engine.snapshot(), 77, 1_790_000_000_000_000_000)
        .expect("encodes")
}

#[test]
fn a_snapshot_describes_instruments_and_rebuilds_the_engine_book() {
    let (_, engine) = engine();
    let snapshot = snapshot();
    assert_eq!(snapshot.join_seq(), 77);
    let messages = snapshot.messages();
    assert_eq!(messages.len(), 2 + 2 + 6);
    assert!(matches!(messages[0], MessageRepr::StockDirectory(r) if r.header.stock_locate == 1));
    assert!(matches!(messages[1], MessageRepr::StockDirectory(r) if r.header.stock_locate == 2));
    assert!(matches!(messages[2], MessageRepr::TradingAction(h)
        if h.header.stock_locate == 1 && h.trading_state == crate::itch::TradingState::Trading));
    assert!(matches!(messages[3], MessageRepr::TradingAction(h)
        if h.header.stock_locate == 2 && h.trading_state == crate::itch::TradingState::Halted));
    let mut book = Book::new(BookConfig {
        locate_count: 2,
        order_capacity: 64,
        level_capacity: 64,
        levels_per_side_max: 64,
    });
    for message in messages {
        book.apply(message).expect("applies");
    }
    for instrument in 0..2u32 {
        for side in [Side::Buy, Side::Sell] {
            let mut expected = Vec::new();
            engine.for_each_order(InstrumentId(instrument), side, |order| {
                expected.push((order.id, order.price, order.displayed));
            });
            let mut actual = Vec::new();
            book.for_each_order(instrument as u16 + 1, side, |order| {
                actual.push((order.order, order.price.to_price(), order.shares));
            });
            assert_eq!(actual, expected, "instrument {instrument} {side:?}");
        }
    }
}

fn login_bytes(requested_session: [u8; 10]) -> Vec<u8> {
    let mut bytes = vec![0u8; 64];
    let len = Repr::LoginRequest(LoginRequest {
        username: *b"anyone",
        password: *b"whatever  ",
        requested_session,
        requested_seq: 1,
    })
    .emit(&mut bytes);
    bytes.truncate(len);
    bytes
}

/// Every packet the session transmits, drained through a small buffer.
fn drain(session: &mut SnapshotSession) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut buffer = [0u8; 4 * FRAME_LEN_MAX];
    for _ in 0..1_000 {
        let len = session.poll_transmit(&mut buffer);
        if len == 0 {
            break;
        }
        let mut offset = 0;
        while offset < len {
            let Ok(Split::Frame { len: frame }) =
                split(&buffer[offset..len], Direction::ServerToClient, 1_024)
            else {
                panic!("whole frames only");
            };
            packets.push(buffer[offset..offset + frame].to_vec());
            offset += frame;
        }
    }
    packets
}

#[test]
fn a_session_spins_the_whole_snapshot_then_ends() {
    let snapshot = Arc::new(snapshot());
    let mut session = SnapshotSession::new(0, session(), &config());
    assert_eq!(
        session.poll_transmit(&mut [0u8; 256]),
        0,
        "nothing before login"
    );
    let login = login_bytes([b' '; 10]);
    // Half a packet is not consumed.
    assert_eq!(
        session.handle_input(1, &login[..10], || Some(snapshot.clone())),
        0
    );
    assert_eq!(
        session.handle_input(1, &login, || Some(snapshot.clone())),
        login.len()
    );
    let packets = drain(&mut session);
    assert_eq!(packets.len(), 1 + snapshot.messages().len() + 2);
    let reprs: Vec<Repr<'_>> = packets
        .iter()
        .map(|p| Repr::parse_bytes(p).expect("packet"))
        .collect();
    assert_eq!(
        reprs[0],
        Repr::LoginAccepted(LoginAccepted {
            session: session_bytes(),
            next_seq: 1
        })
    );
    for (repr, message) in reprs[1..].iter().zip(snapshot.messages()) {
        let Repr::SequencedData(payload) = repr else {
            panic!("sequenced data expected: {repr}");
        };
        assert_eq!(MessageRepr::parse(payload).as_ref(), Ok(message));
    }
    let end = &reprs[reprs.len() - 2];
    assert!(matches!(end, Repr::SequencedData(payload)
        if EndOfSnapshotRepr::parse(payload) == Some(EndOfSnapshotRepr { join_seq: 77 })));
    assert_eq!(reprs[reprs.len() - 1], Repr::EndOfSession);
    assert_eq!(session.end(), Some(SessionEnd::Complete));
    assert_eq!(session.poll_timeout(), None);
}

fn session_bytes() -> [u8; 10] {
    session().bytes()
}

#[test]
fn logins_are_rejected_without_a_snapshot_or_for_another_session() {
    let snapshot = Arc::new(snapshot());
    let cases = [
        (login_bytes([b' '; 10]), None),
        (login_bytes(*b"OTHER     "), Some(snapshot.clone())),
    ];
    for (login, latest) in cases {
        let mut session = SnapshotSession::new(0, session(), &config());
        session.handle_input(0, &login, || latest);
        let packets = drain(&mut session);
        assert_eq!(packets.len(), 1);
        assert_eq!(
            Repr::parse_bytes(&packets[0]),
            Ok(Repr::LoginRejected(LoginRejectReason::SessionNotAvailable))
        );
        assert_eq!(session.end(), Some(SessionEnd::Rejected));
    }
    // The session name right-justified is accepted too.
    let mut session = SnapshotSession::new(0, session(), &config());
    session.handle_input(0, &login_bytes(*b"  SNAPTEST"), || Some(snapshot.clone()));
    assert!(matches!(
        Repr::parse_bytes(&drain(&mut session)[0]),
        Ok(Repr::LoginAccepted(_))
    ));
}

#[test]
fn protocol_errors_logouts_and_timeouts_end_the_session() {
    let snapshot = Arc::new(snapshot());
    let mut garbage = SnapshotSession::new(0, session(), &config());
    garbage.handle_input(0, &[0, 5, b'Q', 1, 2, 3, 4], || None);
    assert_eq!(garbage.end(), Some(SessionEnd::Protocol));
    let mut twice = SnapshotSession::new(0, session(), &config());
    let mut logins = login_bytes([b' '; 10]);
    logins.extend(login_bytes([b' '; 10]));
    twice.handle_input(0, &logins, || Some(snapshot.clone()));
    assert_eq!(twice.end(), Some(SessionEnd::Protocol));
    let mut logout = SnapshotSession::new(0, session(), &config());
    logout.handle_input(0, &[0, 1, b'O'], || None);
    assert_eq!(logout.end(), Some(SessionEnd::Logout));
    // Login timeout 1 ms.
    let mut silent = SnapshotSession::new(0, session(), &config());
    assert_eq!(silent.poll_timeout(), Some(1_000_000));
    silent.handle_timeout(999_999);
    assert_eq!(silent.end(), None);
    silent.handle_timeout(1_000_000);
    assert_eq!(silent.end(), Some(SessionEnd::Timeout));
    // Idle timeout 2 ms while streaming; writing counts as progress.
    let mut stalled = SnapshotSession::new(0, session(), &config());
    stalled.handle_input(5, &login_bytes([b' '; 10]), || Some(snapshot.clone()));
    assert_eq!(stalled.poll_timeout(), Some(2_000_005));
    stalled.handle_written(1_000_000);
    stalled.handle_timeout(2_000_005);
    assert_eq!(stalled.end(), None);
    stalled.handle_timeout(3_000_000);
    assert_eq!(stalled.end(), Some(SessionEnd::Timeout));
}

#[test]
fn server_and_client_over_tcp() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = SnapshotHandle::new();
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (handle, stop) = (handle.clone(), stop.clone());
        let config = SnapshotConfig {
            login_timeout_ms: 5_000,
            idle_timeout_ms: 5_000,
            transmit_buffer_bytes: 256,
            ..config()
        };
        std::thread::spawn(move || run(&config, listener, session(), &handle, &stop))
    };
    let timeout = Duration::from_secs(10);
    let rejected = fetch(addr, timeout, |_| panic!("no snapshot yet"));
    assert_eq!(
        rejected,
        Err(FetchError::Rejected(LoginRejectReason::SessionNotAvailable))
    );
    let snapshot = Arc::new(snapshot());
    handle.publish(snapshot.clone());
    for _ in 0..3 {
        let mut received = Vec::new();
        let fetched = fetch(addr, timeout, |message| received.push(*message)).expect("snapshot");
        assert_eq!(fetched.join_seq, 77);
        assert_eq!(fetched.session, session_bytes());
        assert_eq!(fetched.message_count, snapshot.messages().len() as u64);
        assert_eq!(received.as_slice(), snapshot.messages());
    }
    stop.store(true, Ordering::Relaxed);
    let counters = server.join().expect("server thread").expect("server");
    assert_eq!(
        (counters.accepted, counters.complete, counters.rejected),
        (4, 3, 1)
    );
}
