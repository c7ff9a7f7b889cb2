//! A simulated member: one order-entry user driving the gateway crate's sans-IO
//! [`ClientSession`] over the simulated network, and keeping its own view of its orders from
//! the sequenced messages it receives (the view the invariants compare with the engine).
//!
//! # Invariants
//! - Sequenced messages are taken in order with no gap; a message seen again (after a
//!   re-login) must be byte-identical to the first delivery, else it is a violation.
//! - An order is accepted at most once per UserRefNum, and never executed or cancelled for
//!   more than its quantity: each breach is reported as a violation, never a panic.

use std::collections::BTreeMap;
use std::io::ErrorKind;

use peregrine_engine::{AccountId, SessionId};
use peregrine_gateway::alpha;
use peregrine_gateway::client::{ClientEvent, ClientSession, CLIENT_CONTROL_PACKET_MAX};
use peregrine_gateway::ouch::{Inbound, Outbound, Side};
use peregrine_gateway::session::SessionConfig;
use peregrine_gateway::soupbintcp::{LoginRequest, HEADER_LEN};

use super::net::{ClientConn, SimNet};

/// One order as the member knows it.
#[derive(Clone, Copy, Debug)]
pub struct MemberOrder {
    pub order_id: u64,
    pub side: Side,
    pub symbol: [u8; 8],
    pub quantity: u64,
    pub executed: u64,
    pub cancelled: u64,
}

impl MemberOrder {
    pub fn leaves(&self) -> u64 {
        self.quantity - self.executed - self.cancelled
    }
}

/// A simulated order-entry user.
pub struct SimMember {
    pub username: String,
    password: String,
    pub account: AccountId,
    pub session_id: SessionId,
    conn: Option<ClientConn>,
    session: Option<ClientSession>,
    rx: Vec<u8>,
    rx_len: usize,
    tx: Vec<u8>,
    pub logged_in: bool,
    /// The member learnt its next UserRefNum (Account Query) since it logged in.
    pub synced: bool,
    /// Account Queries sent and not yet answered.
    queries: u32,
    /// The next UserRefNum this member will use.
    pub next_user_ref: u32,
    /// FNV-1a of every sequenced message received, by seq - 1.
    pub received: Vec<u64>,
    /// Orders by UserRefNum (the latest number of a replaced order).
    pub orders: BTreeMap<u32, MemberOrder>,
    /// UserRefNums accepted (new order or replace), for duplicate detection.
    pub answered: BTreeMap<u32, u8>,
    /// UserRefNums sent on purpose above the next one (their gap reject answers nothing).
    pub probes: std::collections::BTreeSet<u32>,
    /// Until this time the member does not read (a slow reader).
    pub slow_until_ns: u64,
    /// Violations this member saw (the simulator reports the first).
    pub violations: Vec<String>,
    /// `PEREGRINE_SIM_DEBUG` set: print every send and every sequenced message to stderr.
    debug: bool,
    /// Running digest of everything received (the trace digest's member part).
    pub digest: u64,
}

/// FNV-1a, 64 bits.
pub fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash
}

pub const FNV_START: u64 = 0xCBF2_9CE4_8422_2325;

impl SimMember {
    pub fn new(username: &str, password: &str, account: AccountId, session: SessionId) -> Self {
        SimMember {
            username: username.to_string(),
            password: password.to_string(),
            account,
            session_id: session,
            conn: None,
            session: None,
            rx: vec![0; 64 * 1024],
            rx_len: 0,
            tx: Vec::new(),
            logged_in: false,
            synced: false,
            queries: 0,
            next_user_ref: 1,
            received: Vec::new(),
            orders: BTreeMap::new(),
            answered: BTreeMap::new(),
            probes: std::collections::BTreeSet::new(),
            slow_until_ns: 0,
            violations: Vec::new(),
            debug: std::env::var_os("PEREGRINE_SIM_DEBUG").is_some(),
            digest: FNV_START,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Connects and logs in, asking for the first message it has not seen.
    pub fn connect(&mut self, net: &mut SimNet, now_ns: u64) {
        let config = SessionConfig {
            heartbeat_interval_ns: 1_000_000_000,
            peer_timeout_ns: 15_000_000_000,
            packet_length_max: 1024,
        };
        let login = LoginRequest {
            username: alpha::<6>(&self.username),
            password: alpha::<10>(&self.password),
            requested_session: [b' '; 10],
            requested_seq: self.received.len() as u64 + 1,
        };
        self.conn = Some(net.connect());
        self.session = Some(ClientSession::new(config, now_ns, login));
        self.rx_len = 0;
        self.tx.clear();
        self.logged_in = false;
        self.synced = false;
        self.queries = 0;
    }

    /// Drops the connection (the member closes its socket).
    pub fn disconnect(&mut self, net: &mut SimNet) {
        if let Some(conn) = self.conn.take() {
            net.client_close(conn);
        }
        self.session = None;
        self.logged_in = false;
        self.synced = false;
    }

    /// Queues one OUCH message (dropped if not logged in: a member only sends when it can).
    pub fn send(&mut self, message: &Inbound) {
        if self.debug {
            eprintln!(
                "{} send (logged_in {}): {message:?}",
                self.username, self.logged_in
            );
        }
        let mut scratch = [0u8; 512];
        let length = message.buffer_len();
        let written = message.emit(&mut scratch[..length]);
        self.send_raw_payload(&scratch[..written]);
    }

    /// Frames `payload` as Unsequenced Data, whatever it holds (bad messages too).
    pub fn send_raw_payload(&mut self, payload: &[u8]) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if !self.logged_in {
            return;
        }
        let start = self.tx.len();
        self.tx.resize(start + HEADER_LEN + payload.len(), 0);
        match session.send_unsequenced(payload, &mut self.tx[start..]) {
            Ok(framed) => self.tx.truncate(start + framed),
            Err(_) => self.tx.truncate(start),
        }
    }

    /// Queues raw bytes on the stream (a broken frame).
    pub fn send_garbage(&mut self, bytes: &[u8]) {
        if self.conn.is_some() {
            self.tx.extend_from_slice(bytes);
        }
    }

    /// Timers, control packets, writing and (unless slow) reading.
    pub fn pump(&mut self, net: &mut SimNet, now_ns: u64) {
        let (Some(conn), Some(session)) = (self.conn, self.session.as_mut()) else {
            return;
        };
        if session.poll_timeout().is_some_and(|due| due <= now_ns) {
            session.handle_timeout(now_ns);
        }
        let mut control = [0u8; CLIENT_CONTROL_PACKET_MAX];
        loop {
            let written = session.poll_transmit(&mut control);
            if written == 0 {
                break;
            }
            self.tx.extend_from_slice(&control[..written]);
        }
        let mut dead = false;
        while !self.tx.is_empty() {
            match net.client_write(conn, &self.tx) {
                Ok(count) => {
                    self.tx.drain(..count);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    dead = true;
                    break;
                }
            }
        }
        if !dead && now_ns >= self.slow_until_ns {
            dead = self.read_all(net, conn, now_ns);
        }
        self.drain_events();
        let closed = self.session.as_ref().is_some_and(ClientSession::is_closed);
        if dead || closed {
            self.disconnect(net);
        }
    }

    /// Reads what the network delivered; returns true when the stream ended.
    fn read_all(&mut self, net: &mut SimNet, conn: ClientConn, now_ns: u64) -> bool {
        for _ in 0..64 {
            if self.rx_len == self.rx.len() {
                return false;
            }
            match net.client_read(conn, &mut self.rx[self.rx_len..]) {
                Ok(0) => return true,
                Ok(count) => {
                    self.rx_len += count;
                    self.consume(now_ns);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
        false
    }

    fn consume(&mut self, now_ns: u64) {
        loop {
            let Some(session) = self.session.as_mut() else {
                return;
            };
            let consumed = session.handle_input(now_ns, &self.rx[..self.rx_len]);
            self.drain_events();
            if consumed == 0 {
                return;
            }
            self.rx.copy_within(consumed..self.rx_len, 0);
            self.rx_len -= consumed;
        }
    }

    fn drain_events(&mut self) {
        loop {
            let Some(event) = self.session.as_mut().and_then(ClientSession::poll_event) else {
                return;
            };
            match event {
                ClientEvent::LoginAccepted { next_seq, .. } => {
                    self.logged_in = true;
                    self.queries += 1;
                    let query = Inbound::AccountQuery(peregrine_gateway::ouch::AccountQuery {
                        options: peregrine_gateway::ouch::Options::default(),
                    });
                    self.send(&query);
                    let expected = self.received.len() as u64 + 1;
                    if next_seq > expected {
                        self.violate(format!(
                            "login skipped messages: asked {expected}, server starts at {next_seq}"
                        ));
                    }
                }
                ClientEvent::Sequenced { seq, start, end } => {
                    let payload = self.rx[start..end].to_vec();
                    self.on_sequenced(seq, &payload);
                }
                ClientEvent::LoginRejected(_)
                | ClientEvent::EndOfSession
                | ClientEvent::TimedOut
                | ClientEvent::ProtocolError(_) => {}
            }
        }
    }

    fn violate(&mut self, what: String) {
        self.violations
            .push(format!("member {}: {what}", self.username));
    }

    fn on_sequenced(&mut self, seq: u64, payload: &[u8]) {
        let hash = fnv(FNV_START, payload);
        let expected = self.received.len() as u64 + 1;
        if seq < expected {
            if self.received[(seq - 1) as usize] != hash {
                self.violate(format!("message {seq} differs on redelivery"));
            }
            return;
        }
        if seq > expected {
            self.violate(format!("sequence gap: expected {expected}, got {seq}"));
            return;
        }
        self.received.push(hash);
        if self.debug {
            eprintln!(
                "{} seq {seq}: {:?}",
                self.username,
                Outbound::parse(payload)
            );
        }
        self.digest = fnv(fnv(self.digest, &seq.to_be_bytes()), payload);
        match Outbound::parse(payload) {
            Ok(message) => self.on_message(&message),
            Err(error) => self.violate(format!("message {seq} does not parse: {error:?}")),
        }
    }

    fn answer(&mut self, user_ref_num: u32, kind: u8) {
        if let Some(previous) = self.answered.insert(user_ref_num, kind) {
            self.violate(format!(
                "UserRefNum {user_ref_num} answered twice ({} then {})",
                previous as char, kind as char
            ));
        }
    }

    fn on_message(&mut self, message: &Outbound) {
        match message {
            Outbound::AccountQueryResponse(m) => {
                self.queries = self.queries.saturating_sub(1);
                self.next_user_ref = m.next_user_ref_num;
                // Numbers at or above it were gap rejects: they may be used again.
                let _ = self.answered.split_off(&m.next_user_ref_num);
                self.synced = self.queries == 0;
            }
            Outbound::OrderAccepted(m) => {
                self.answer(m.user_ref_num, b'A');
                self.next_user_ref = self.next_user_ref.max(m.user_ref_num + 1);
                self.orders.insert(
                    m.user_ref_num,
                    MemberOrder {
                        order_id: m.order_reference_number,
                        side: m.side,
                        symbol: m.symbol,
                        quantity: u64::from(m.quantity),
                        executed: 0,
                        cancelled: 0,
                    },
                );
            }
            Outbound::Rejected(m) => self.on_rejected(m.user_ref_num),
            Outbound::OrderExecuted(m) => {
                self.reduce(m.user_ref_num, u64::from(m.quantity), true);
            }
            Outbound::OrderCanceled(m) => {
                self.reduce(m.user_ref_num, u64::from(m.quantity), false);
            }
            Outbound::OrderReplaced(m) => {
                self.answer(m.user_ref_num, b'R');
                if let Some(old) = self.orders.remove(&m.orig_user_ref_num) {
                    let order = MemberOrder {
                        order_id: m.order_reference_number,
                        quantity: old.executed + u64::from(m.quantity),
                        executed: old.executed,
                        cancelled: 0,
                        side: m.side,
                        symbol: m.symbol,
                    };
                    self.orders.insert(m.user_ref_num, order);
                }
            }
            _ => {}
        }
    }

    /// A Rejected is not recorded as an answer: a gap reject consumes nothing and can repeat
    /// for the same number (a member out of sync resending it), so only acceptances count
    /// towards "answered twice". A probe's number may be used for real later.
    fn on_rejected(&mut self, user_ref_num: u32) {
        self.probes.remove(&user_ref_num);
    }

    fn reduce(&mut self, user_ref_num: u32, quantity: u64, executed: bool) {
        let Some(order) = self.orders.get_mut(&user_ref_num) else {
            self.violate(format!(
                "fill or cancel for unknown UserRefNum {user_ref_num}"
            ));
            return;
        };
        if quantity > order.leaves() {
            let what = if executed { "executed" } else { "cancelled" };
            let leaves = order.leaves();
            self.violate(format!(
                "UserRefNum {user_ref_num} {what} {quantity} with only {leaves} open"
            ));
            return;
        }
        if executed {
            order.executed += quantity;
        } else {
            order.cancelled += quantity;
        }
    }

    /// Net filled shares per symbol (buys minus sells).
    pub fn positions(&self) -> BTreeMap<[u8; 8], i64> {
        let mut positions = BTreeMap::new();
        for order in self.orders.values() {
            let signed = match order.side {
                Side::Buy => order.executed as i64,
                _ => -(order.executed as i64),
            };
            *positions.entry(order.symbol).or_insert(0) += signed;
        }
        positions
    }
}
