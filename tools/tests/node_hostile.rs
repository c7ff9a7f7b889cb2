//! Hostile and broken clients against the real node: malformed frames, unknown packet types,
//! oversize lengths, data before login, garbage OUCH, slowloris and silent peers. Each must
//! end in a logged disconnect or a protocol-level answer, never a panic, and the node must go
//! on serving a well-behaved member afterwards.

mod node_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use node_common::{data_dir, login_request, Login, Member, NodeProcess, DEADLINE, DEFAULT_CONFIG};
use peregrine_gateway::ouch::{Outbound, Side};
use peregrine_gateway::soupbintcp::Repr;

/// Waits until the server closes `stream` (read returns 0 or an error); returns the bytes it
/// sent before closing.
fn wait_server_close(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let deadline = Instant::now() + DEADLINE;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        assert!(Instant::now() < deadline, "server kept the connection open");
        match stream.read(&mut buffer) {
            Ok(0) => return received,
            Ok(count) => received.extend_from_slice(&buffer[..count]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return received,
        }
    }
}

fn short_timeouts() -> String {
    DEFAULT_CONFIG
        .replace(
            "heartbeat_interval_ms = 1000",
            "heartbeat_interval_ms = 300",
        )
        .replace("peer_timeout_ms = 15000", "peer_timeout_ms = 1500")
}

fn hostile(mode: &[&str], name: &str) {
    let dir = data_dir(name);
    let node = NodeProcess::start_with_config(&dir, &short_timeouts(), mode);
    let bad_frames: [&[u8]; 5] = [
        b"\x00\x01Q",     // unknown packet type
        b"\xff\xff",      // oversize length, judged before the body arrives
        b"\x00\x00",      // zero length
        b"\x00\x02Ux",    // data before login
        b"\x00\x05S1234", // a server-only packet type from a client
    ];
    for bytes in bad_frames {
        let mut stream = TcpStream::connect(node.addr).expect("connect");
        stream.write_all(bytes).expect("send");
        let answer = wait_server_close(&mut stream);
        assert!(answer.is_empty(), "no answer to {bytes:?}, got {answer:?}");
    }
    // A login with a non-numeric sequence field is a framing error too.
    let mut stream = TcpStream::connect(node.addr).expect("connect");
    let mut login = [0u8; 49];
    Repr::LoginRequest(login_request("ALICE", "alice", 0)).emit(&mut login);
    login[40] = b'x';
    stream.write_all(&login).expect("send");
    assert!(wait_server_close(&mut stream).is_empty());

    // Slowloris: a login dribbled one byte at a time, slower than the peer timeout allows.
    let mut slow = TcpStream::connect(node.addr).expect("connect");
    let started = Instant::now();
    let mut closed = false;
    for byte in login.iter().take(20) {
        if slow.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    if !closed {
        wait_server_close(&mut slow);
    }
    assert!(started.elapsed() < DEADLINE);

    // A silent connection that never logs in is dropped.
    let mut silent = TcpStream::connect(node.addr).expect("connect");
    wait_server_close(&mut silent);

    // Garbage OUCH inside a valid session: ignored or rejected, the session stays up.
    let (mut alice, login) = Member::login(node.addr, "ALICE", "alice", 0);
    assert!(matches!(login, Login::Accepted { .. }));
    alice.send_raw(b"\x00\x03UZZ"); // unknown OUCH type
    alice.send_raw(b"\x00\x04UO\x00\x00"); // truncated Enter Order
    let num = alice.enter("AAPL", Side::Buy, 10, 1_000_000);
    alice.wait_for("accepted after garbage", |m| match m {
        Outbound::OrderAccepted(a) if a.user_ref_num == num => Some(()),
        _ => None,
    });
    // The client heartbeats (its session does), so it outlives the peer timeout.
    std::thread::sleep(Duration::from_millis(10));
    let stay_until = Instant::now() + Duration::from_millis(2_500);
    while Instant::now() < stay_until {
        alice.pump();
    }
    assert!(!alice.closed, "a heartbeating client is kept");

    // A logged-in client that goes silent is dropped after the peer timeout.
    let mut quiet = TcpStream::connect(node.addr).expect("connect");
    let mut bob_login = [0u8; 49];
    Repr::LoginRequest(login_request("BOB", "bob", 0)).emit(&mut bob_login);
    quiet.write_all(&bob_login).expect("send");
    let answer = wait_server_close(&mut quiet);
    assert_eq!(
        answer.get(2),
        Some(&b'A'),
        "login accepted first: {answer:?}"
    );
    assert!(
        answer.iter().skip(33).any(|&b| b == b'H'),
        "server heartbeats were sent"
    );

    let log = node.log();
    assert!(log.contains("protocol error"), "reasons are logged:\n{log}");
    assert!(log.contains("timed out"), "timeouts are logged:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(node.terminate(), "clean shutdown after hostile clients");
}

#[test]
fn hostile_clients_single_thread() {
    hostile(&["--single-thread"], "hostile-single");
}

#[test]
fn hostile_clients_threaded() {
    hostile(&[], "hostile-threaded");
}
