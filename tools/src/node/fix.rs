//! The node's FIX 4.4 order-entry listener: kernel TCP through its own `mio` poll, one
//! [`FixSession`] per connection, one [`FixOrderEntry`] and one store per FIX user, and the
//! routing of core events to FIX users as ExecutionReports and friends. The node loop calls it
//! beside the OUCH [`super::gateway::Gateway`] in both thread modes (in single-thread mode
//! through `node::single_turn_with_fix`): commands go into the same inbound ring, events come
//! from the same outbound records. Its sockets have their own `mio` poll, which the node never
//! blocks in: an idle node notices FIX input at its next wake-up (the park time, at most
//! about a millisecond with the default `park` wait).
//!
//! **Users.** `[[fix.users]]` has the fields of `[[users]]` (username, argon2 hash, account);
//! user `i` is `SessionId(FIX_SESSION_BASE + i)`, a range the OUCH gateway never routes. A
//! Logon must carry Username (553) = SenderCompID (49) and Password (554), checked with the
//! same argon2 credentials as a SoupBinTCP login, and TargetCompID (56) = `[fix] comp_id`.
//!
//! **Store.** Each user has a session log (`store::SessionLog`, in `data_dir/fix/`): `In`
//! records are the application messages received (raw FIX), `Event` records the core events
//! routed to the user, `Out` records every message sent (admin ones too) exactly as framed,
//! and a `Synthetic` `RESET` record marks a sequence reset (its tag is the `Out` count then,
//! so FIX MsgSeqNum `s` is `Out` record `base + s`). The next expected inbound MsgSeqNum sits
//! in a small checkpoint file. On start each user's order state is rebuilt by replaying its
//! `In` and `Event` records, so ClOrdIDs, live orders and ExecIDs survive a restart, and a
//! ResendRequest is answered from the `Out` records across restarts too.
//!
//! **Recovery.** `data_dir/fix/routed.checkpoint` holds the last journal input whose events
//! were all routed into the stores (moved by `InputDone`). On start the node regenerates the
//! events of later journal inputs into the gateway (`recovery::regenerate`; the per-user
//! `(input_seq, event_index)` check skips events a store holds), then
//! [`FixGateway::finish_recovery`] answers submissions that are in a store's `In` records but
//! never reached the journal (a NewOrderSingle, replace or mass cancel without its answering
//! event) with a reject, stored as a `Synthetic` event record so a later start replays it.
//!
//! **Sending.** Every outbound message is stored first and then sent from the store by the
//! connection's cursor, so a resend is the cursor moving back: application messages go again
//! with PossDupFlag=Y, runs of admin messages become one SequenceReset-GapFill.
//!
//! # Invariants
//! - A message a member can see is in its store first; the store's next MsgSeqNum equals the
//!   connected session's `next_out` after every call (asserted).
//! - A connection is read only when the inbound ring has room for every command one
//!   `handle_input` can produce; otherwise the bytes wait (back-pressure, counted).
//! - Work per turn is bounded: one read per connection, at most `TX_MESSAGES_PER_TURN`
//!   stored messages per connection.

use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use peregrine_engine::record::{decode_event, encode_event, EVENT_BYTES};
use peregrine_engine::{AccountId, Command, CommandKind, Event, OrderId, SessionId};
use peregrine_gateway::fix::app::{FixAction, FixOrderEntry, FixOut};
use peregrine_gateway::fix::codec::Fields;
use peregrine_gateway::fix::session::{
    compose_message, is_admin_message, FixSession, Header, LogonRequest, SessionConfig,
    SessionEvent, Text, EVENT_QUEUE_LEN,
};
use peregrine_gateway::mapping::{Instruments, SessionContext};
use peregrine_gateway::{alpha, alpha_trimmed};
use peregrine_tuning::ring::Producer;
use serde::Deserialize;

use super::auth::Credentials;
use super::gateway::{
    answered_submission, clock_ns, free_room, lost_submission_reject, resolve_submission,
};
use super::records::{InboundRecord, OutboundKind, OutboundRecord};
use super::store::{Checkpoint, RecordKind, SessionLog};
use crate::config::NodeConfig;

/// FIX user `i` is `SessionId(FIX_SESSION_BASE + i)`.
pub const FIX_SESSION_BASE: u32 = 0x0100_0000;
const LISTENER: Token = Token(usize::MAX);
const RX_BYTES: usize = 32 * 1024;
const TX_BYTES: usize = 128 * 1024;
/// Largest message the gateway frames (BodyLength limit plus header and trailer).
const MESSAGE_BYTES_MAX: usize = 4096 + 64;
const TX_MESSAGES_PER_TURN: usize = 512;
const TX_HOPS_PER_TURN: usize = 4096;
const RESET_MARKER: &[u8] = b"RESET";

/// `[[fix.users]]`: one FIX login.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixUserSection {
    /// Username (553) and SenderCompID (49) of the member's Logon.
    pub username: String,
    /// An argon2 PHC string (`peregrine run --hash-password PW`); passwords of at most 10
    /// characters, as for SoupBinTCP.
    pub password_hash: String,
    pub account: String,
}

/// `[fix]`: the FIX 4.4 listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixSection {
    pub enabled: bool,
    /// Listen address; default: the order-entry address with port + 1 (port 0 when the
    /// order-entry port is 0, so tests get a free port; the bound address is logged and
    /// written to `data_dir/fix.addr`).
    pub listen: Option<String>,
    /// Our CompID (the members' TargetCompID).
    pub comp_id: String,
    /// Reset both sequence numbers at every Logon.
    pub reset_on_logon: bool,
    pub max_connections: usize,
    /// ClOrdIDs one user may use per data directory (idempotency set).
    pub cl_ord_id_capacity: u32,
    pub users: Vec<FixUserSection>,
}

impl Default for FixSection {
    fn default() -> Self {
        FixSection {
            enabled: true,
            listen: None,
            comp_id: "PEREGRINE".to_string(),
            reset_on_logon: false,
            max_connections: 64,
            cl_ord_id_capacity: 1 << 16,
            users: Vec::new(),
        }
    }
}

impl FixSection {
    fn listen_addr(&self, config: &NodeConfig) -> anyhow::Result<SocketAddr> {
        if let Some(listen) = &self.listen {
            return listen
                .parse()
                .with_context(|| format!("fix.listen {listen:?} is not an address"));
        }
        let mut addr = config.listen_addr()?;
        if addr.port() != 0 {
            addr.set_port(addr.port().checked_add(1).context("fix listen port")?);
        }
        Ok(addr)
    }

    fn validate(&self, config: &NodeConfig) -> anyhow::Result<()> {
        anyhow::ensure!(
            Text::new(self.comp_id.as_bytes()).is_some() && !self.comp_id.is_empty(),
            "fix.comp_id must have 1..=32 characters"
        );
        anyhow::ensure!(
            self.max_connections > 0,
            "fix.max_connections must be positive"
        );
        let mut names: Vec<&str> = self.users.iter().map(|u| u.username.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        anyhow::ensure!(
            names.len() == self.users.len(),
            "fix usernames must be unique"
        );
        for user in &self.users {
            let name_ok = !user.username.is_empty()
                && user.username.len() <= 32
                && user.username.bytes().all(|b| b.is_ascii_graphic());
            anyhow::ensure!(
                name_ok,
                "fix username {:?} must be 1..=32 printable ASCII",
                user.username
            );
            anyhow::ensure!(
                config.account_index(&user.account).is_some(),
                "fix user {} names unknown account {}",
                user.username,
                user.account
            );
            argon2::PasswordHash::new(&user.password_hash).map_err(|error| {
                anyhow::anyhow!("fix user {}: bad password_hash: {error}", user.username)
            })?;
        }
        anyhow::ensure!(
            u32::try_from(self.users.len()).is_ok_and(|n| n < FIX_SESSION_BASE),
            "too many fix users"
        );
        Ok(())
    }
}

/// Plain counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct FixCounters {
    pub connections_accepted: u64,
    pub logons_accepted: u64,
    pub logons_rejected: u64,
    pub messages_in: u64,
    pub commands_submitted: u64,
    pub messages_out: u64,
    pub resend_requests: u64,
    pub session_rejects: u64,
    pub garbled: u64,
    pub protocol_errors: u64,
    pub backpressure_stalls: u64,
}

/// One user's persistent FIX state: sequenced messages, next inbound MsgSeqNum.
struct FixStore {
    log: SessionLog,
    /// `Out` records before the last sequence reset.
    base: u64,
    next_in: Checkpoint,
}

impl FixStore {
    fn next_out(&self) -> u64 {
        self.log.out_count() - self.base + 1
    }

    fn next_in(&self) -> u64 {
        self.next_in.input_seq().max(1)
    }

    fn set_next_in(&mut self, seq: u64) {
        if self.next_in.input_seq() != seq {
            self.next_in.set_input_seq(seq);
        }
    }

    fn append_out(&mut self, message: &[u8]) -> anyhow::Result<u64> {
        let index = self.log.append_out(message)?;
        Ok(index - self.base)
    }

    fn reset(&mut self) -> anyhow::Result<()> {
        let count = self.log.out_count();
        self.log
            .append(RecordKind::Synthetic, count, 0, RESET_MARKER)?;
        self.base = count;
        self.next_in.set_input_seq(1);
        Ok(())
    }

    /// Log offset to read MsgSeqNum `seq` from.
    fn offset_of(&self, seq: u64) -> usize {
        self.log.seek(self.base + seq)
    }
}

struct FixUser {
    name: String,
    name_text: Text,
    context: SessionContext,
    entry: FixOrderEntry,
    store: FixStore,
    credentials: Credentials,
    connection: Option<usize>,
    last_event: (u64, u32),
    /// Recovery only: submissions (client_ref → kind, order) not yet answered by an event.
    unresolved: Option<BTreeMap<u64, (CommandKind, OrderId)>>,
}

/// A resend in progress: stored messages up to `end` go again as duplicates or gap fills.
#[derive(Clone, Copy, Debug)]
struct Resend {
    end: u64,
    gap_start: Option<u64>,
}

struct FixConnection {
    slot: usize,
    stream: TcpStream,
    peer: SocketAddr,
    session: FixSession,
    user: Option<u32>,
    rx: Box<[u8]>,
    rx_len: usize,
    tx: Box<[u8]>,
    tx_start: usize,
    tx_end: usize,
    /// Next stored MsgSeqNum to send, and where its record is looked for.
    cursor_seq: u64,
    cursor_offset: usize,
    resend: Option<Resend>,
    readable: bool,
    backlog: bool,
    write_blocked: bool,
    dead: bool,
}

/// The FIX listener and its users.
pub struct FixGateway {
    poll: Poll,
    events: Events,
    listener: Option<TcpListener>,
    slots: Vec<Option<FixConnection>>,
    users: Vec<FixUser>,
    user_names: BTreeMap<String, u32>,
    instruments: Instruments,
    session_config: SessionConfig,
    pending: VecDeque<InboundRecord>,
    scratch: Box<[u8]>,
    /// The last journal input whose events were all routed into the stores.
    routed: Checkpoint,
    pub counters: FixCounters,
}

/// The FIX users an event concerns, as user indexes.
fn fix_users_of(event: &Event, user_count: usize) -> [Option<usize>; 2] {
    let index = |session: SessionId| {
        let index = usize::try_from(session.0.checked_sub(FIX_SESSION_BASE)?).ok()?;
        (index < user_count).then_some(index)
    };
    match event {
        Event::Accepted(e) => [index(e.session), None],
        Event::Rejected(e) => [index(e.session), None],
        Event::Executed(e) => {
            let taker = (e.taker_session != e.maker_session).then_some(e.taker_session);
            [index(e.maker_session), taker.and_then(index)]
        }
        Event::AuctionFill(e) => [index(e.session), None],
        Event::Cancelled(e) => [index(e.session), None],
        Event::Replaced(e) => [index(e.session), None],
        Event::MassCancelled(e) => [index(e.session), None],
        _ => [None, None],
    }
}

/// A submission recovery answers if it is lost: client_ref → (kind, order).
fn answerable(command: &Command) -> Option<(u64, (CommandKind, OrderId))> {
    match command {
        Command::NewOrder(c) => Some((c.client_ref, (CommandKind::NewOrder, OrderId::NONE))),
        Command::Replace(c) => Some((c.client_ref, (CommandKind::Replace, c.order))),
        Command::MassCancel(c) => Some((c.client_ref, (CommandKind::MassCancel, OrderId::NONE))),
        _ => None,
    }
}

impl FixGateway {
    /// Binds the listener and opens every FIX user's store, rebuilding its order state.
    /// `None` when `[fix] enabled = false`.
    pub fn open(config: &NodeConfig) -> anyhow::Result<Option<FixGateway>> {
        let section = &config.fix;
        if !section.enabled {
            return Ok(None);
        }
        section.validate(config)?;
        let core = config.core_config();
        let instruments = Instruments::new(&core.engine);
        let dir = config.node.data_dir.join("fix");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut users = Vec::with_capacity(section.users.len());
        let mut user_names = BTreeMap::new();
        for index in 0..section.users.len() {
            let user = open_user(config, index, &dir, &instruments)?;
            user_names.insert(user.name.clone(), u32::try_from(index)?);
            users.push(user);
        }
        let addr = section.listen_addr(config)?;
        let mut listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen for FIX on {addr}"))?;
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let addr_file = config.node.data_dir.join("fix.addr");
        std::fs::write(&addr_file, format!("{local_addr}\n"))
            .with_context(|| format!("cannot write {}", addr_file.display()))?;
        tracing::info!(%local_addr, users = users.len(), "FIX listening");
        let comp_id = Text::new(section.comp_id.as_bytes()).context("fix.comp_id")?;
        let routed = Checkpoint::open(&dir.join("routed.checkpoint"))?;
        Ok(Some(FixGateway {
            poll,
            events: Events::with_capacity(256),
            listener: Some(listener),
            slots: (0..section.max_connections).map(|_| None).collect(),
            users,
            user_names,
            instruments,
            session_config: SessionConfig {
                comp_id,
                reset_on_logon: section.reset_on_logon,
            },
            pending: VecDeque::with_capacity(4096),
            scratch: vec![0u8; MESSAGE_BYTES_MAX].into_boxed_slice(),
            routed,
            counters: FixCounters::default(),
        }))
    }

    /// The last journal input whose events were all routed into the stores.
    pub fn checkpoint_seq(&self) -> u64 {
        self.routed.input_seq()
    }

    /// Recovery's last step: submissions in a store that never reached the journal get a
    /// Rejected (stored as a `Synthetic` event record, answered as an ExecutionReport or
    /// OrderCancelReject); then the checkpoint moves to the journal's end. Returns the number
    /// of such rejects.
    pub fn finish_recovery(&mut self, journal_last_seq: u64) -> anyhow::Result<usize> {
        let mut count = 0;
        let now_ns = clock_ns();
        for index in 0..self.users.len() {
            let Some(unresolved) = self.users[index].unresolved.take() else {
                continue;
            };
            for (client_ref, (command, order)) in unresolved {
                let user = &mut self.users[index];
                let (event, bytes) =
                    lost_submission_reject(&user.context, client_ref, command, order);
                user.store.log.append(RecordKind::Synthetic, 0, 0, &bytes)?;
                let outputs = user.entry.on_event(&self.instruments, now_ns, &event);
                for out in outputs.iter().flatten() {
                    self.emit(u32::try_from(index)?, None, out, now_ns)?;
                }
                tracing::warn!(user = %self.users[index].name, client_ref, ?command,
                    "recovery: FIX submission lost before the journal; rejected");
                count += 1;
            }
        }
        if journal_last_seq > self.routed.input_seq() {
            self.routed.set_input_seq(journal_last_seq);
        }
        Ok(count)
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// One input turn: readiness (without blocking), accepts, waiting commands, then one read
    /// per readable connection (none while `stopping`). Returns the progress made.
    pub fn service_reads(
        &mut self,
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
        stopping: bool,
    ) -> anyhow::Result<usize> {
        self.poll_io(now_ns)?;
        let mut progress = self.flush_pending(inbound);
        if stopping {
            return Ok(progress);
        }
        for slot in 0..self.slots.len() {
            let ready =
                matches!(&self.slots[slot], Some(c) if (c.readable || c.backlog) && !c.dead);
            if !ready {
                continue;
            }
            if !self.pending.is_empty() || free_room(inbound) <= EVENT_QUEUE_LEN {
                self.counters.backpressure_stalls += 1;
                return Ok(progress);
            }
            let Some(mut connection) = self.slots[slot].take() else {
                continue;
            };
            let result = self.read_connection(&mut connection, now_ns, inbound);
            self.slots[slot] = Some(connection);
            if result? {
                progress += 1;
            }
        }
        Ok(progress)
    }

    fn poll_io(&mut self, now_ns: u64) -> anyhow::Result<()> {
        match self.poll.poll(&mut self.events, Some(Duration::ZERO)) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error.into()),
        }
        let mut accept = false;
        for event in self.events.iter() {
            if event.token() == LISTENER {
                accept = true;
                continue;
            }
            let Some(Some(connection)) = self.slots.get_mut(event.token().0) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                connection.readable = true;
            }
            if event.is_writable() || event.is_write_closed() {
                connection.write_blocked = false;
            }
        }
        if accept {
            self.accept_all(now_ns)?;
        }
        Ok(())
    }

    fn accept_all(&mut self, now_ns: u64) -> anyhow::Result<()> {
        for _ in 0..1024 {
            let Some(listener) = self.listener.as_ref() else {
                return Ok(());
            };
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(error) => {
                    tracing::warn!(%error, "FIX accept failed");
                    return Ok(());
                }
            };
            let Some(slot) = self.slots.iter().position(Option::is_none) else {
                tracing::warn!(%peer, "FIX connection refused: max_connections reached");
                continue;
            };
            let _ = stream.set_nodelay(true);
            self.poll.registry().register(
                &mut stream,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            self.counters.connections_accepted += 1;
            tracing::info!(%peer, slot, "FIX connection accepted");
            self.slots[slot] = Some(FixConnection {
                slot,
                stream,
                peer,
                session: FixSession::new(self.session_config, now_ns),
                user: None,
                rx: vec![0u8; RX_BYTES].into_boxed_slice(),
                rx_len: 0,
                tx: vec![0u8; TX_BYTES].into_boxed_slice(),
                tx_start: 0,
                tx_end: 0,
                cursor_seq: 1,
                cursor_offset: 0,
                resend: None,
                readable: true,
                backlog: false,
                write_blocked: false,
                dead: false,
            });
        }
        Ok(())
    }

    fn flush_pending(&mut self, inbound: &mut Producer<InboundRecord>) -> usize {
        let mut moved = 0;
        while let Some(record) = self.pending.front() {
            if inbound.try_push(*record).is_err() {
                break;
            }
            self.pending.pop_front();
            self.counters.commands_submitted += 1;
            moved += 1;
        }
        moved
    }

    /// One read, then messages while the ring has room. Returns whether anything happened.
    fn read_connection(
        &mut self,
        connection: &mut FixConnection,
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
    ) -> anyhow::Result<bool> {
        let mut progress = false;
        if connection.readable && connection.rx_len < RX_BYTES {
            match connection
                .stream
                .read(&mut connection.rx[connection.rx_len..])
            {
                Ok(0) => {
                    connection.dead = true;
                    return Ok(true);
                }
                Ok(count) => {
                    connection.rx_len += count;
                    progress = true;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => connection.readable = false,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::info!(peer = %connection.peer, %error, "FIX read failed");
                    connection.dead = true;
                    return Ok(true);
                }
            }
        }
        connection.backlog = false;
        // Bounded: each pass consumes bytes or stops.
        loop {
            if free_room(inbound) <= EVENT_QUEUE_LEN {
                connection.backlog = connection.rx_len > 0;
                break;
            }
            let consumed = connection
                .session
                .handle_input(now_ns, &connection.rx[..connection.rx_len]);
            self.drain_events(connection, now_ns, inbound)?;
            if consumed == 0 {
                break;
            }
            connection.rx.copy_within(consumed..connection.rx_len, 0);
            connection.rx_len -= consumed;
            progress = true;
        }
        Ok(progress)
    }

    fn drain_events(
        &mut self,
        connection: &mut FixConnection,
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
    ) -> anyhow::Result<()> {
        while let Some(event) = connection.session.poll_event() {
            match event {
                SessionEvent::LogonRequested(request) => {
                    self.on_logon(connection, &request, now_ns)?
                }
                SessionEvent::Application { start, end, seq } => {
                    let Some(index) = connection.user else {
                        continue;
                    };
                    self.counters.messages_in += 1;
                    let bytes = &connection.rx[start..end];
                    let session = &mut connection.session;
                    self.on_application(index, session, bytes, seq, now_ns, inbound)?;
                }
                SessionEvent::ResendRequested { begin, end } => {
                    self.counters.resend_requests += 1;
                    if let Some(index) = connection.user {
                        let store = &self.users[index as usize].store;
                        connection.cursor_seq = begin;
                        connection.cursor_offset = store.offset_of(begin);
                        connection.resend = Some(Resend {
                            end,
                            gap_start: None,
                        });
                        tracing::info!(peer = %connection.peer, begin, end, "FIX resend requested");
                    }
                }
                SessionEvent::PeerReject { ref_seq } => {
                    tracing::warn!(peer = %connection.peer, ref_seq, "FIX peer rejected our message");
                }
                SessionEvent::Garbled => self.counters.garbled += 1,
                SessionEvent::LoggedOut => tracing::info!(peer = %connection.peer, "FIX logout"),
                SessionEvent::TimedOut => {
                    tracing::info!(peer = %connection.peer, "FIX peer timed out")
                }
                SessionEvent::ProtocolError(error) => {
                    self.counters.protocol_errors += 1;
                    tracing::warn!(peer = %connection.peer, ?error, "FIX protocol error");
                }
            }
        }
        self.store_admin(connection, now_ns)
    }

    /// Frames queued admin messages; a logged-on user's go into its store (sent by the
    /// cursor), an anonymous connection's straight into its transmit buffer.
    fn store_admin(&mut self, connection: &mut FixConnection, now_ns: u64) -> anyhow::Result<()> {
        // Bounded by the session's admin queue.
        while let Some(len) = connection.session.poll_admin(now_ns, &mut self.scratch) {
            let message = &self.scratch[..len];
            match connection.user {
                Some(index) => {
                    let user = &mut self.users[index as usize];
                    user.store.append_out(message)?;
                    assert_eq!(user.store.next_out(), connection.session.next_out());
                }
                None => {
                    if TX_BYTES - connection.tx_end >= len {
                        connection.tx[connection.tx_end..connection.tx_end + len]
                            .copy_from_slice(message);
                        connection.tx_end += len;
                    }
                }
            }
            self.counters.messages_out += 1;
        }
        if let Some(index) = connection.user {
            let store = &mut self.users[index as usize].store;
            store.set_next_in(connection.session.next_in());
        }
        Ok(())
    }

    fn on_logon(
        &mut self,
        connection: &mut FixConnection,
        request: &LogonRequest,
        now_ns: u64,
    ) -> anyhow::Result<()> {
        let Some(index) = self.judge_logon(request) else {
            self.counters.logons_rejected += 1;
            tracing::warn!(peer = %connection.peer, user = %String::from_utf8_lossy(request.username.as_bytes()),
                "FIX logon rejected");
            connection.session.reject_logon("logon refused");
            return Ok(());
        };
        let user = &mut self.users[index as usize];
        let reset =
            connection
                .session
                .accept_logon(now_ns, user.store.next_in(), user.store.next_out());
        if reset {
            user.store.reset()?;
        }
        connection.user = Some(index);
        connection.cursor_seq = user.store.next_out();
        connection.cursor_offset = user.store.offset_of(connection.cursor_seq);
        connection.resend = None;
        user.connection = Some(connection.slot);
        self.counters.logons_accepted += 1;
        tracing::info!(peer = %connection.peer, user = %user.name, reset,
            next_out = user.store.next_out(), "FIX logon accepted");
        Ok(())
    }

    fn judge_logon(&mut self, request: &LogonRequest) -> Option<u32> {
        let name = std::str::from_utf8(request.username.as_bytes()).ok()?;
        let index = *self.user_names.get(name)?;
        let user = &mut self.users[index as usize];
        if request.sender != user.name_text || user.connection.is_some() {
            return None;
        }
        let password = request.password.as_bytes();
        if password.len() > 10 || password.contains(&b' ') {
            return None;
        }
        let field = alpha::<10>(std::str::from_utf8(password).ok()?);
        user.credentials.check(&field).then_some(index)
    }

    fn on_application(
        &mut self,
        index: u32,
        session: &mut FixSession,
        bytes: &[u8],
        seq: u64,
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
    ) -> anyhow::Result<()> {
        let user = &mut self.users[index as usize];
        let Ok(fields) = Fields::parse(bytes) else {
            return Ok(()); // The session parsed it already.
        };
        user.store.log.append(
            RecordKind::In,
            now_ns,
            u32::try_from(seq).unwrap_or(u32::MAX),
            bytes,
        )?;
        let action = user
            .entry
            .on_message(&self.instruments, now_ns, &fields, seq);
        match action {
            FixAction::Submit { command, reply } => {
                if let Some(reply) = reply {
                    self.emit(index, Some(&mut *session), &reply, now_ns)?;
                }
                let record = InboundRecord {
                    user_index: FIX_SESSION_BASE + index,
                    command,
                    received_ns: now_ns,
                };
                let pushed = inbound.try_push(record);
                assert!(pushed.is_ok(), "inbound ring room was reserved");
                self.counters.commands_submitted += 1;
            }
            FixAction::Reply(out) => self.emit(index, Some(&mut *session), &out, now_ns)?,
            FixAction::SessionReject(error) => {
                self.counters.session_rejects += 1;
                let msg_type = fields.msg_type();
                session.queue_reject(seq, error.tag, msg_type, error.reason, "invalid field");
            }
        }
        Ok(())
    }

    /// Frames `out` for user `index` with its next MsgSeqNum and stores it.
    fn emit(
        &mut self,
        index: u32,
        session: Option<&mut FixSession>,
        out: &FixOut,
        now_ns: u64,
    ) -> anyhow::Result<()> {
        let user = &mut self.users[index as usize];
        let body = |writer: &mut peregrine_gateway::fix::codec::Writer| out.write_body(writer);
        let len = match session {
            Some(session) => {
                let len = session.compose_app(now_ns, out.msg_type(), &mut self.scratch, body);
                let len = len.context("FIX message too large")?;
                user.store.append_out(&self.scratch[..len])?;
                assert_eq!(user.store.next_out(), session.next_out());
                len
            }
            None => {
                let header = Header {
                    msg_type: out.msg_type(),
                    seq: user.store.next_out(),
                    sending_ns: now_ns,
                    poss_dup: None,
                };
                let ids = (&self.session_config.comp_id, &user.name_text);
                let len = compose_message(&mut self.scratch, ids, &header, body);
                let len = len.context("FIX message too large")?;
                user.store.append_out(&self.scratch[..len])?;
                len
            }
        };
        self.counters.messages_out += 1;
        let _ = len;
        Ok(())
    }

    /// Routes one record from the core to the FIX users it concerns.
    pub fn on_outbound(&mut self, record: &OutboundRecord) -> anyhow::Result<()> {
        let event = match record.kind {
            OutboundKind::InputDone => {
                assert!(
                    record.input_seq >= self.routed.input_seq(),
                    "inputs reach the FIX gateway in journal order"
                );
                self.routed.set_input_seq(record.input_seq);
                return Ok(());
            }
            OutboundKind::Event(event) => event,
        };
        for index in fix_users_of(&event, self.users.len()).into_iter().flatten() {
            let user = &mut self.users[index];
            let position = (record.input_seq, record.event_index);
            if position <= user.last_event {
                continue;
            }
            let mut bytes = [0u8; EVENT_BYTES];
            encode_event(&event, &mut bytes);
            user.store.log.append(
                RecordKind::Event,
                record.input_seq,
                record.event_index,
                &bytes,
            )?;
            user.last_event = position;
            resolve_submission(&mut user.unresolved, user.context.session, &event);
            let outputs = user
                .entry
                .on_event(&self.instruments, record.timestamp_ns, &event);
            let slot = user.connection;
            for out in outputs.iter().flatten() {
                let mut connection = slot.and_then(|slot| self.slots[slot].take());
                let session = connection.as_mut().map(|c| &mut c.session);
                let result = self.emit(index as u32, session, out, record.timestamp_ns);
                if let (Some(slot), Some(connection)) = (slot, connection) {
                    self.slots[slot] = Some(connection);
                }
                result?;
            }
        }
        Ok(())
    }

    /// Timers, then every connection's stored messages into its socket; closes finished
    /// connections. Returns the number of connections that wrote.
    pub fn service_writes(&mut self, now_ns: u64) -> anyhow::Result<usize> {
        let mut progress = 0;
        for slot in 0..self.slots.len() {
            let Some(mut connection) = self.slots[slot].take() else {
                continue;
            };
            if connection
                .session
                .poll_timeout()
                .is_some_and(|due| due <= now_ns)
            {
                connection.session.handle_timeout(now_ns);
                while let Some(event) = connection.session.poll_event() {
                    tracing::info!(peer = %connection.peer, ?event, "FIX timer");
                }
                self.store_admin(&mut connection, now_ns)?;
            }
            if !connection.dead && self.write_connection(&mut connection, now_ns) {
                progress += 1;
            }
            let drained = connection.tx_start == connection.tx_end && !self.has_unsent(&connection);
            if connection.dead || (connection.session.is_closed() && drained) {
                self.close_connection(connection);
            } else {
                self.slots[slot] = Some(connection);
            }
        }
        Ok(progress)
    }

    fn has_unsent(&self, connection: &FixConnection) -> bool {
        connection.user.is_some_and(|index| {
            connection.cursor_seq < self.users[index as usize].store.next_out()
        })
    }

    fn write_connection(&mut self, connection: &mut FixConnection, now_ns: u64) -> bool {
        if connection.tx_start == connection.tx_end {
            connection.tx_start = 0;
            connection.tx_end = 0;
        }
        if let Some(index) = connection.user {
            fill_from_store(connection, &self.users[index as usize].store, now_ns);
        }
        if connection.write_blocked || connection.tx_start == connection.tx_end {
            return false;
        }
        match connection
            .stream
            .write(&connection.tx[connection.tx_start..connection.tx_end])
        {
            Ok(count) => {
                connection.tx_start += count;
                if connection.tx_start < connection.tx_end {
                    connection.write_blocked = true;
                }
                count > 0
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                connection.write_blocked = true;
                false
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => false,
            Err(error) => {
                tracing::info!(peer = %connection.peer, %error, "FIX write failed");
                connection.dead = true;
                false
            }
        }
    }

    fn close_connection(&mut self, mut connection: FixConnection) {
        let _ = self.poll.registry().deregister(&mut connection.stream);
        tracing::info!(peer = %connection.peer, state = ?connection.session.state(), "FIX connection closed");
        if let Some(index) = connection.user {
            let user = &mut self.users[index as usize];
            user.store.set_next_in(connection.session.next_in());
            user.connection = None;
            self.pending.push_back(InboundRecord {
                user_index: FIX_SESSION_BASE + index,
                command: Command::SessionLost {
                    account: user.context.account,
                    session: user.context.session,
                },
                received_ns: clock_ns(),
            });
        }
    }

    /// Shutdown: stop accepting; every logged-on session gets a Logout; connections are
    /// flushed (best effort) and closed.
    pub fn shut_down(&mut self, now_ns: u64) -> anyhow::Result<()> {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        for slot in 0..self.slots.len() {
            let Some(mut connection) = self.slots[slot].take() else {
                continue;
            };
            connection.session.logout("server shutting down");
            self.store_admin(&mut connection, now_ns)?;
            for _ in 0..8 {
                connection.write_blocked = false;
                if !self.write_connection(&mut connection, now_ns) {
                    break;
                }
            }
            self.close_connection(connection);
        }
        Ok(())
    }

    /// `msync`s every store.
    pub fn flush_storage(&self) -> anyhow::Result<()> {
        for user in &self.users {
            user.store.log.flush()?;
            user.store.next_in.flush()?;
        }
        self.routed.flush()
    }
}

/// Copies stored messages from the cursor on into the transmit buffer; inside a resend,
/// application messages go as possible duplicates and admin runs as one gap fill.
fn fill_from_store(connection: &mut FixConnection, store: &FixStore, now_ns: u64) {
    for _ in 0..TX_MESSAGES_PER_TURN {
        if TX_BYTES - connection.tx_end < 2 * MESSAGE_BYTES_MAX {
            return;
        }
        let next_out = store.next_out();
        if connection.cursor_seq >= next_out {
            flush_gap(connection, next_out, now_ns);
            return;
        }
        let (index, payload, next) = match store
            .log
            .next_out(connection.cursor_offset, TX_HOPS_PER_TURN)
        {
            Ok(found) => found,
            Err(resume) => {
                connection.cursor_offset = resume;
                return;
            }
        };
        let seq = index.saturating_sub(store.base);
        connection.cursor_offset = next;
        if seq < connection.cursor_seq {
            continue;
        }
        assert!(
            seq == connection.cursor_seq,
            "the store holds every MsgSeqNum in order"
        );
        connection.cursor_seq = seq + 1;
        let buffer = &mut connection.tx[connection.tx_end..];
        let written = match connection.resend {
            Some(resend) if seq <= resend.end => {
                let admin = is_admin_message(payload);
                if admin {
                    connection.resend = Some(Resend {
                        gap_start: resend.gap_start.or(Some(seq)),
                        ..resend
                    });
                    if seq == resend.end {
                        flush_gap(connection, seq + 1, now_ns);
                        connection.resend = None;
                    }
                    continue;
                }
                flush_gap(connection, seq, now_ns);
                if seq == resend.end {
                    connection.resend = None;
                }
                let buffer = &mut connection.tx[connection.tx_end..];
                connection
                    .session
                    .reframe_poss_dup(now_ns, payload, buffer)
                    .unwrap_or(0)
            }
            _ => {
                buffer[..payload.len()].copy_from_slice(payload);
                payload.len()
            }
        };
        connection.tx_end += written;
    }
}

/// Sends the pending gap fill of a resend (up to `new_seq`), if any.
fn flush_gap(connection: &mut FixConnection, new_seq: u64, now_ns: u64) {
    let Some(resend) = connection.resend else {
        return;
    };
    let Some(start) = resend.gap_start else {
        return;
    };
    connection.resend = Some(Resend {
        gap_start: None,
        ..resend
    });
    let buffer = &mut connection.tx[connection.tx_end..];
    let written = connection
        .session
        .gap_fill(now_ns, start, new_seq, buffer)
        .unwrap_or(0);
    connection.tx_end += written;
}

fn open_user(
    config: &NodeConfig,
    index: usize,
    dir: &Path,
    instruments: &Instruments,
) -> anyhow::Result<FixUser> {
    let section = &config.fix.users[index];
    let account_index = config.account_index(&section.account).unwrap_or(0);
    let account = &config.accounts[account_index];
    let context = SessionContext {
        account: AccountId(u32::try_from(account_index)?),
        session: SessionId(FIX_SESSION_BASE + u32::try_from(index)?),
        firm: alpha::<4>(&account.firm),
    };
    let log = SessionLog::open(
        &dir.join(format!("{}.log", section.username)),
        config.node.session_log_bytes,
    )?;
    let next_in = Checkpoint::open(&dir.join(format!("{}.seq", section.username)))?;
    let mut user = FixUser {
        name: section.username.clone(),
        name_text: Text::new(section.username.as_bytes()).context("fix username")?,
        context,
        entry: FixOrderEntry::new(
            context,
            config.node.user_order_capacity,
            config.fix.cl_ord_id_capacity,
        ),
        store: FixStore {
            log,
            base: 0,
            next_in,
        },
        credentials: Credentials::new(&section.password_hash),
        connection: None,
        last_event: (0, 0),
        unresolved: Some(BTreeMap::new()),
    };
    rebuild_user(&mut user, instruments)?;
    let _ = alpha_trimmed;
    Ok(user)
}

/// Replays a user's store into its fresh order state: `In` and `Event` records in file order.
fn rebuild_user(user: &mut FixUser, instruments: &Instruments) -> anyhow::Result<()> {
    let mut replayed = 0u64;
    for record in user.store.log.records() {
        match record.kind {
            RecordKind::In => {
                if let Ok(fields) = Fields::parse(record.payload) {
                    let action = user.entry.on_message(
                        instruments,
                        record.tag,
                        &fields,
                        u64::from(record.aux),
                    );
                    if let (FixAction::Submit { command, .. }, Some(unresolved)) =
                        (action, user.unresolved.as_mut())
                    {
                        if let Some((client_ref, kind)) = answerable(&command) {
                            unresolved.insert(client_ref, kind);
                        }
                    }
                }
            }
            RecordKind::Synthetic if record.payload == RESET_MARKER => user.store.base = record.tag,
            RecordKind::Event | RecordKind::Synthetic => {
                let event = decode_event(record.payload).map_err(|_| {
                    anyhow::anyhow!("{}: bad event record", user.store.log.path().display())
                })?;
                if record.kind == RecordKind::Event {
                    user.last_event = (record.tag, record.aux);
                }
                if let Some(unresolved) = user.unresolved.as_mut() {
                    match answered_submission(&event) {
                        Some((session, client_ref)) if session == user.context.session => {
                            unresolved.remove(&client_ref);
                        }
                        _ => {}
                    }
                }
                let _ = user.entry.on_event(instruments, record.tag, &event);
            }
            RecordKind::Out => {}
        }
        replayed += 1;
    }
    if replayed > 0 {
        tracing::info!(user = %user.name, records = replayed, next_out = user.store.next_out(),
            next_in = user.store.next_in(), "FIX store replayed");
    }
    Ok(())
}

/// The node loop's handle on the FIX listener (both thread modes): every call is a no-op when
/// FIX is off.
pub struct FixHook(Option<FixGateway>);

impl FixHook {
    /// No FIX listener (the simulator's parts).
    pub fn none() -> FixHook {
        FixHook(None)
    }

    /// The FIX gateway's routing checkpoint; `None` when FIX is off.
    pub fn checkpoint_seq(&self) -> Option<u64> {
        self.0.as_ref().map(FixGateway::checkpoint_seq)
    }

    /// See [`FixGateway::finish_recovery`]; 0 when FIX is off.
    pub fn finish_recovery(&mut self, journal_last_seq: u64) -> anyhow::Result<usize> {
        self.0
            .as_mut()
            .map_or(Ok(0), |fix| fix.finish_recovery(journal_last_seq))
    }

    pub fn open(config: &NodeConfig) -> anyhow::Result<FixHook> {
        Ok(FixHook(FixGateway::open(config)?))
    }

    pub fn on_outbound(&mut self, record: &OutboundRecord) -> anyhow::Result<()> {
        self.0
            .as_mut()
            .map_or(Ok(()), |fix| fix.on_outbound(record))
    }

    pub fn service_reads(
        &mut self,
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
        stopping: bool,
    ) -> anyhow::Result<usize> {
        self.0
            .as_mut()
            .map_or(Ok(0), |fix| fix.service_reads(now_ns, inbound, stopping))
    }

    pub fn service_writes(&mut self, now_ns: u64) -> anyhow::Result<usize> {
        self.0
            .as_mut()
            .map_or(Ok(0), |fix| fix.service_writes(now_ns))
    }

    pub fn shut_down(&mut self, now_ns: u64) -> anyhow::Result<()> {
        self.0.as_mut().map_or(Ok(()), |fix| fix.shut_down(now_ns))
    }

    pub fn has_pending(&self) -> bool {
        self.0.as_ref().is_some_and(FixGateway::has_pending)
    }

    pub fn flush_storage(&self) -> anyhow::Result<()> {
        self.0.as_ref().map_or(Ok(()), FixGateway::flush_storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> NodeConfig {
        let mut config = NodeConfig::parse(crate::config::DEFAULT_CONFIG_TOML).expect("config");
        config.node.data_dir = dir.to_path_buf();
        config.fix.listen = Some("127.0.0.1:0".to_string());
        config.node.session_log_bytes = 1 << 16;
        config
    }

    /// The ExecutionReports (ClOrdID, ExecType) in user `index`'s store.
    fn stored_reports(gateway: &FixGateway, index: usize) -> Vec<(String, String)> {
        let store = &gateway.users[index].store;
        let text = |fields: &Fields<'_>, tag| {
            String::from_utf8_lossy(fields.get(tag).unwrap_or_default()).into_owned()
        };
        store
            .log
            .records()
            .filter(|record| record.kind == RecordKind::Out)
            .filter_map(|record| {
                let fields = Fields::parse(record.payload).ok()?;
                (fields.msg_type() == b"8").then(|| (text(&fields, 11), text(&fields, 150)))
            })
            .collect()
    }

    #[test]
    fn a_submission_stored_but_never_journaled_is_rejected_once_on_recovery() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config(dir.path());
        let mut gateway = FixGateway::open(&config).expect("open").expect("enabled");
        let index = gateway.user_names["FIXA"] as usize;
        // The node stored a NewOrderSingle and died before the core journaled it.
        let mut message = [0u8; 512];
        let header = Header {
            msg_type: b"D",
            seq: 1,
            sending_ns: 0,
            poss_dup: None,
        };
        let user = &gateway.users[index];
        let ids = (&user.name_text, &gateway.session_config.comp_id);
        let len = compose_message(&mut message, ids, &header, |writer| {
            writer
                .bytes(11, b"LOST1")
                .bytes(55, b"AAPL")
                .char(54, b'1')
                .bytes(60, b"20260101-00:00:00.000")
                .u64(38, 10)
                .char(40, b'2')
                .price(44, 1_000_000)
                .char(59, b'0');
        })
        .expect("message fits");
        let store = &mut gateway.users[index].store;
        store
            .log
            .append(RecordKind::In, 1, 1, &message[..len])
            .expect("append");
        drop(gateway);

        let mut gateway = FixGateway::open(&config).expect("open").expect("enabled");
        assert_eq!(gateway.finish_recovery(0).expect("recovery"), 1);
        let reports = stored_reports(&gateway, index);
        assert_eq!(reports, [("LOST1".to_string(), "8".to_string())]);
        assert!(gateway.users[index]
            .entry
            .order_by_cl_ord_id(b"LOST1")
            .is_none());
        drop(gateway);

        // The reject is stored: the next start answers nothing again.
        let mut gateway = FixGateway::open(&config).expect("open").expect("enabled");
        assert_eq!(gateway.finish_recovery(0).expect("recovery"), 0);
        assert_eq!(stored_reports(&gateway, index).len(), 1);
    }
}
