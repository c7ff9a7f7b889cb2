//! SoupBinTCP sessions, client and server, on a fake clock. Goal: login, heartbeats, timeouts,
//! logout, end of session and re-login replay behave as SoupBinTCP 3.0 says, and hostile input
//! ends in a typed error, never a panic. Method (after quinn-proto's test `Pair`): both state
//! machines run in one thread; `Pair::drive` carries bytes between them until nothing moves,
//! `Pair::advance` moves the clock and fires due timers. No sockets, no sleeps.

use peregrine_gateway::client::{ClientCloseReason, ClientEvent, ClientSession, ClientState};
use peregrine_gateway::session::{
    CloseReason, ProtocolError, ServerSession, SessionConfig, SessionEvent, SessionState,
    TransmitError,
};
use peregrine_gateway::soupbintcp::{
    session_name, split, Direction, Error as FramingError, LoginRejectReason, LoginRequest,
    PacketType, Split,
};
use peregrine_gateway::store::RingStore;

const S: u64 = 1_000_000_000;
const SESSION: [u8; 10] = *b"    TODAY1";

fn login(requested_seq: u64) -> LoginRequest {
    LoginRequest {
        username: *b"ALICE ",
        password: *b"SECRET    ",
        requested_session: [b' '; 10],
        requested_seq,
    }
}

/// Packet types found in a byte stream (whole packets only).
fn packet_types(mut bytes: &[u8], from: Direction) -> Vec<u8> {
    let mut types = Vec::new();
    while let Ok(Split::Frame { len }) = split(bytes, from, u16::MAX) {
        types.push(bytes[2]);
        bytes = &bytes[len..];
    }
    types
}

struct Pair {
    now_ns: u64,
    server: ServerSession,
    client: ClientSession,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    /// Every packet type each side wrote.
    server_wrote: Vec<u8>,
    client_wrote: Vec<u8>,
    server_events: Vec<SessionEvent>,
    /// Payloads of the server's Message events.
    server_messages: Vec<Vec<u8>>,
    client_events: Vec<ClientEvent>,
    /// (seq, payload) of every sequenced message the client received.
    client_messages: Vec<(u64, Vec<u8>)>,
    password_ok: bool,
    /// The client stops reading and writing (a dead peer).
    client_dead: bool,
}

impl Pair {
    fn new(now_ns: u64, requested_seq: u64) -> Pair {
        let config = SessionConfig::default();
        Pair {
            now_ns,
            server: ServerSession::new(config, now_ns),
            client: ClientSession::new(config, now_ns, login(requested_seq)),
            to_server: Vec::new(),
            to_client: Vec::new(),
            server_wrote: Vec::new(),
            client_wrote: Vec::new(),
            server_events: Vec::new(),
            server_messages: Vec::new(),
            client_events: Vec::new(),
            client_messages: Vec::new(),
            password_ok: true,
            client_dead: false,
        }
    }

    fn server_step(&mut self, store: &RingStore) -> bool {
        let consumed = self.server.handle_input(self.now_ns, &self.to_server);
        let mut moved = consumed > 0;
        while let Some(event) = self.server.poll_event() {
            moved = true;
            self.server_events.push(event);
            match event {
                SessionEvent::Message { start, end } => {
                    self.server_messages
                        .push(self.to_server[start..end].to_vec());
                }
                SessionEvent::LoginRequested(request) => {
                    if self.password_ok && request.password == *b"SECRET    " {
                        let next = store.resolve_requested_seq(request.requested_seq);
                        self.server.accept_login(SESSION, next);
                    } else {
                        self.server.reject_login(LoginRejectReason::NotAuthorized);
                    }
                }
                SessionEvent::LoggedOut
                | SessionEvent::TimedOut
                | SessionEvent::ProtocolError(_) => {}
            }
        }
        self.to_server.drain(..consumed);
        let mut buffer = [0u8; 256];
        loop {
            let written = self.server.poll_transmit(&mut buffer);
            if written == 0 {
                break;
            }
            self.write_to_client(&buffer[..written]);
            moved = true;
        }
        while let Some(seq) = self.server.sequenced_wanted() {
            let Some(message) = store.get(seq) else { break };
            let written = self
                .server
                .transmit_sequenced(seq, message, &mut buffer)
                .unwrap();
            self.write_to_client(&buffer[..written]);
            moved = true;
        }
        moved
    }

    fn write_to_client(&mut self, packet: &[u8]) {
        self.server_wrote
            .extend(packet_types(packet, Direction::ServerToClient));
        self.to_client.extend_from_slice(packet);
    }

    fn client_step(&mut self) -> bool {
        if self.client_dead {
            return false;
        }
        let consumed = self.client.handle_input(self.now_ns, &self.to_client);
        let mut moved = consumed > 0;
        while let Some(event) = self.client.poll_event() {
            moved = true;
            self.client_events.push(event);
            if let ClientEvent::Sequenced { seq, start, end } = event {
                self.client_messages
                    .push((seq, self.to_client[start..end].to_vec()));
            }
        }
        self.to_client.drain(..consumed);
        let mut buffer = [0u8; 64];
        loop {
            let written = self.client.poll_transmit(&mut buffer);
            if written == 0 {
                break;
            }
            self.client_wrote
                .extend(packet_types(&buffer[..written], Direction::ClientToServer));
            self.to_server.extend_from_slice(&buffer[..written]);
            moved = true;
        }
        moved
    }

    /// Carries bytes both ways until nothing moves.
    fn drive(&mut self, store: &RingStore) {
        for _ in 0..1000 {
            let server_moved = self.server_step(store);
            let client_moved = self.client_step();
            if !server_moved && !client_moved {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    /// Moves the clock forward in steps no longer than `step_ns`, firing timers as they fall.
    fn advance(&mut self, store: &RingStore, total_ns: u64, step_ns: u64) {
        let end = self.now_ns + total_ns;
        while self.now_ns < end {
            self.now_ns = (self.now_ns + step_ns).min(end);
            if self
                .server
                .poll_timeout()
                .is_some_and(|at| at <= self.now_ns)
            {
                self.server.handle_timeout(self.now_ns);
            }
            if !self.client_dead
                && self
                    .client
                    .poll_timeout()
                    .is_some_and(|at| at <= self.now_ns)
            {
                self.client.handle_timeout(self.now_ns);
            }
            self.drive(store);
        }
    }

    fn send(&mut self, message: &[u8]) {
        let mut buffer = [0u8; 256];
        let written = self.client.send_unsequenced(message, &mut buffer).unwrap();
        self.client_wrote.push(b'U');
        self.to_server.extend_from_slice(&buffer[..written]);
    }
}

#[test]
fn login_then_messages_both_ways() {
    let mut store = RingStore::new(16, 64);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    assert_eq!(pair.server.state(), SessionState::Active);
    assert_eq!(
        pair.client_events[0],
        ClientEvent::LoginAccepted {
            session: SESSION,
            next_seq: 1
        }
    );
    pair.send(b"hello");
    pair.send(b"world");
    pair.drive(&store);
    assert_eq!(pair.server_messages, [b"hello".to_vec(), b"world".to_vec()]);
    store.append(b"one").unwrap();
    store.append(b"two").unwrap();
    pair.drive(&store);
    assert_eq!(
        pair.client_messages,
        [(1, b"one".to_vec()), (2, b"two".to_vec())]
    );
    assert_eq!(pair.server_wrote, b"ASS");
    assert_eq!(pair.client.next_seq(), 3);
}

#[test]
fn rejected_login_closes_both_sides() {
    let store = RingStore::new(4, 16);
    let mut pair = Pair::new(0, 0);
    pair.password_ok = false;
    pair.drive(&store);
    assert_eq!(
        pair.client_events,
        [ClientEvent::LoginRejected(LoginRejectReason::NotAuthorized)]
    );
    assert_eq!(
        pair.server.state(),
        SessionState::Closed(CloseReason::LoginRejected(LoginRejectReason::NotAuthorized))
    );
    assert!(pair.client.is_closed());
    assert_eq!(pair.server.sequenced_wanted(), None);
}

#[test]
fn heartbeats_keep_an_idle_session_alive() {
    let store = RingStore::new(4, 16);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    pair.advance(&store, 60 * S, S / 4);
    assert_eq!(pair.server.state(), SessionState::Active);
    assert_eq!(pair.client.state(), ClientState::Active);
    let server_heartbeats = pair.server_wrote.iter().filter(|&&t| t == b'H').count();
    let client_heartbeats = pair.client_wrote.iter().filter(|&&t| t == b'R').count();
    assert!(
        (55..=61).contains(&server_heartbeats),
        "{server_heartbeats}"
    );
    assert!(
        (55..=61).contains(&client_heartbeats),
        "{client_heartbeats}"
    );
}

#[test]
fn traffic_defers_heartbeats() {
    let mut store = RingStore::new(64, 16);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    for _ in 0..10 {
        store.append(b"x").unwrap();
        pair.send(b"y");
        pair.advance(&store, S / 2, S / 2);
    }
    assert!(!pair.server_wrote.contains(&b'H'));
    assert!(!pair.client_wrote.contains(&b'R'));
}

#[test]
fn a_silent_client_times_out_after_fifteen_seconds() {
    let store = RingStore::new(4, 16);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    pair.client_dead = true;
    pair.advance(&store, 14 * S, S / 10);
    assert_eq!(pair.server.state(), SessionState::Active);
    pair.advance(&store, 2 * S, S / 10);
    assert_eq!(
        pair.server.state(),
        SessionState::Closed(CloseReason::TimedOut)
    );
    assert_eq!(pair.server_events.last(), Some(&SessionEvent::TimedOut));
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn a_silent_server_times_out_at_the_client() {
    let config = SessionConfig::default();
    let mut client = ClientSession::new(config, 0, login(0));
    let mut buffer = [0u8; 64];
    assert!(client.poll_transmit(&mut buffer) > 0);
    let deadline = client.poll_timeout().unwrap();
    assert_eq!(deadline, 15 * S);
    client.handle_timeout(deadline);
    assert_eq!(
        client.state(),
        ClientState::Closed(ClientCloseReason::TimedOut)
    );
    assert_eq!(client.poll_event(), Some(ClientEvent::TimedOut));
}

#[test]
fn logout_and_end_of_session() {
    let store = RingStore::new(4, 16);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    pair.client.logout();
    pair.drive(&store);
    assert_eq!(pair.server_events.last(), Some(&SessionEvent::LoggedOut));
    assert_eq!(
        pair.server.state(),
        SessionState::Closed(CloseReason::LoggedOut)
    );

    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    pair.server.end_session();
    pair.drive(&store);
    assert_eq!(pair.client_events.last(), Some(&ClientEvent::EndOfSession));
    assert_eq!(pair.server.sequenced_wanted(), None);
    assert!(pair.client.is_closed());
}

#[test]
fn relogin_replays_missed_messages_exactly_once() {
    let mut store = RingStore::new(16, 16);
    let mut first = Pair::new(0, 0);
    first.drive(&store);
    for message in [b"m1", b"m2", b"m3"] {
        store.append(message).unwrap();
    }
    first.drive(&store);
    assert_eq!(first.client.next_seq(), 4);
    // The connection drops; the venue goes on producing messages for this session.
    for message in [b"m4", b"m5"] {
        store.append(message).unwrap();
    }
    let mut second = Pair::new(20 * S, first.client.next_seq());
    second.drive(&store);
    store.append(b"m6").unwrap();
    second.drive(&store);
    let seqs: Vec<u64> = second.client_messages.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, [4, 5, 6]);
    assert_eq!(second.client_messages[0].1, b"m4");
    assert_eq!(second.client_messages[2].1, b"m6");
    assert_eq!(
        second.client_events[0],
        ClientEvent::LoginAccepted {
            session: SESSION,
            next_seq: 4
        }
    );
    // Requesting 0 starts at the next live message; an old number replays what is retained.
    let mut live = Pair::new(30 * S, 0);
    live.drive(&store);
    assert!(live.client_messages.is_empty());
    let mut all = Pair::new(30 * S, 1);
    all.drive(&store);
    assert_eq!(all.client_messages.len(), 6);
}

#[test]
fn transmit_sequenced_refuses_out_of_order_numbers() {
    let store = RingStore::new(4, 16);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    let mut buffer = [0u8; 8];
    assert_eq!(
        pair.server.transmit_sequenced(2, b"x", &mut buffer),
        Err(TransmitError::WrongSequence {
            wanted: 1,
            given: 2
        })
    );
    assert_eq!(
        pair.server.transmit_sequenced(1, b"too long", &mut buffer),
        Err(TransmitError::BufferTooSmall { needed: 11 })
    );
}

fn server_after(input: &[u8]) -> (ServerSession, Vec<SessionEvent>, usize) {
    let mut server = ServerSession::new(SessionConfig::default(), 0);
    let consumed = server.handle_input(0, input);
    let events = std::iter::from_fn(|| server.poll_event()).collect();
    (server, events, consumed)
}

#[test]
fn garbage_oversize_and_misplaced_packets_are_typed_errors() {
    let (server, events, consumed) = server_after(b"\x00\x05Qxxxx");
    let error = ProtocolError::Framing(FramingError::UnknownType(b'Q'));
    assert_eq!(events, [SessionEvent::ProtocolError(error)]);
    assert_eq!(
        server.state(),
        SessionState::Closed(CloseReason::ProtocolError(error))
    );
    assert_eq!(consumed, 0);
    // Oversize is judged from the two length bytes alone, before any payload arrives.
    let (_, events, _) = server_after(b"\xff\xff");
    let oversize = FramingError::Oversize {
        length: 0xffff,
        max: 1024,
    };
    assert_eq!(
        events,
        [SessionEvent::ProtocolError(ProtocolError::Framing(
            oversize
        ))]
    );
    let (_, events, _) = server_after(b"\x00\x00");
    let zero = ProtocolError::Framing(FramingError::ZeroLength);
    assert_eq!(events, [SessionEvent::ProtocolError(zero)]);
    let (_, events, consumed) = server_after(b"\x00\x02Ux");
    let early = ProtocolError::Unexpected(PacketType::UnsequencedData);
    assert_eq!(events, [SessionEvent::ProtocolError(early)]);
    assert_eq!(consumed, 4);
    let (_, events, _) = server_after(b"\x00\x01S");
    let wrong = ProtocolError::Framing(FramingError::WrongDirection(PacketType::SequencedData));
    assert_eq!(events, [SessionEvent::ProtocolError(wrong)]);
    // A login with a non-numeric sequence number.
    let mut bad_login = vec![0u8; 49];
    peregrine_gateway::soupbintcp::Repr::LoginRequest(login(7)).emit(&mut bad_login);
    bad_login[48] = b'x';
    let (_, events, _) = server_after(&bad_login);
    assert!(matches!(
        events[..],
        [SessionEvent::ProtocolError(ProtocolError::Framing(_))]
    ));
}

#[test]
fn a_second_login_is_a_protocol_error() {
    let store = RingStore::new(4, 16);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    let mut buffer = [0u8; 64];
    let written = peregrine_gateway::soupbintcp::Repr::LoginRequest(login(0)).emit(&mut buffer);
    pair.to_server.extend_from_slice(&buffer[..written]);
    pair.drive(&store);
    let error = ProtocolError::Unexpected(PacketType::LoginRequest);
    assert_eq!(
        pair.server_events.last(),
        Some(&SessionEvent::ProtocolError(error))
    );
}

#[test]
fn slowloris_partial_packets_do_not_keep_a_session_alive() {
    // A login dripped one byte a second takes 49 s: the server gives up at 15 s.
    let mut packet = [0u8; 49];
    peregrine_gateway::soupbintcp::Repr::LoginRequest(login(0)).emit(&mut packet);
    let mut server = ServerSession::new(SessionConfig::default(), 0);
    let mut pending = Vec::new();
    for (second, &byte) in packet.iter().enumerate() {
        let now = second as u64 * S;
        if server.poll_timeout().is_some_and(|at| at <= now) {
            server.handle_timeout(now);
        }
        pending.push(byte);
        let consumed = server.handle_input(now, &pending);
        pending.drain(..consumed);
        if server.is_closed() {
            break;
        }
    }
    assert_eq!(server.state(), SessionState::Closed(CloseReason::TimedOut));
    assert_eq!(server.poll_event(), Some(SessionEvent::TimedOut));

    // Same once logged in: heartbeats from the server do not count as the client's traffic.
    let store = RingStore::new(4, 16);
    let mut pair = Pair::new(0, 0);
    pair.drive(&store);
    pair.client_dead = true;
    pair.to_server.extend_from_slice(b"\x00\x10U");
    pair.advance(&store, 16 * S, S);
    assert_eq!(
        pair.server.state(),
        SessionState::Closed(CloseReason::TimedOut)
    );
}

#[test]
fn handle_input_waits_for_events_to_be_drained() {
    let mut packet = [0u8; 64];
    let written = peregrine_gateway::soupbintcp::Repr::LoginRequest(login(0)).emit(&mut packet);
    let mut server = ServerSession::new(SessionConfig::default(), 0);
    assert_eq!(server.handle_input(0, &packet[..written]), written);
    assert_eq!(server.state(), SessionState::LoginPending);
    // Nothing more is read until the login is decided.
    assert_eq!(server.handle_input(0, b"\x00\x01R"), 0);
    assert!(matches!(
        server.poll_event(),
        Some(SessionEvent::LoginRequested(_))
    ));
    server.accept_login(session_name("X"), 1);
    assert_eq!(server.handle_input(0, b"\x00\x01R"), 3);
}
