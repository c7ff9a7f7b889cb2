//! The gateway stage: order-entry connections over kernel TCP (epoll through `mio`), one
//! SoupBinTCP [`ServerSession`] per connection, one OUCH [`OrderEntry`] and one
//! [`SessionLog`] per user, and the routing of core events back to their users.
//!
//! This one struct does both directions (see the `node` module docs for why): it reads
//! sockets, logs users in, turns OUCH messages into commands for the inbound ring, routes the
//! core's events into each user's log as OUCH messages, and writes every session's control
//! packets and sequenced messages (read back from the log) to its socket.
//!
//! Order of calls per loop turn: [`Gateway::poll_io`] (readiness, accepts),
//! [`Gateway::on_outbound`] for each record from the core, [`Gateway::flush_pending`],
//! [`Gateway::service_reads`], [`Gateway::service_writes`].
//!
//! # Invariants
//! - A message reaches `OrderEntry::on_message` only after it is in the user's log (`In`), and
//!   only when the inbound ring has room for every command the read can produce: a full ring
//!   stops reading (counted in `backpressure_stalls`), nothing is dropped.
//! - A sequenced message is in the user's log before any socket sees it; a session's sequenced
//!   stream is exactly the log's `Out` records, in order, each once per login.
//! - Commands produced by events (deferred cancels) and session losses wait in `pending`,
//!   which is drained into the ring before any socket is read again, so a user's commands keep
//!   their order.
//! - Work per turn is bounded: one read per connection, `SESSION_EVENTS_MAX`-sized batches of
//!   packets, at most `TX_MESSAGES_PER_TURN` sequenced messages per connection.
//! - Nothing from a socket can panic this code: framing errors close the connection with a
//!   logged reason, OUCH errors become protocol rejects or counted ignores.

use std::collections::{BTreeMap, VecDeque};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use peregrine_engine::record::{decode_event, encode_event, EVENT_BYTES};
use peregrine_engine::{
    AccountId, Command, CommandKind, Event, InstrumentId, OrderId, RejectReason, Rejected,
    SessionId,
};
use peregrine_gateway::mapping::{
    ns_since_midnight, IgnoreReason, InboundAction, Instruments, OrderEntry, SessionContext,
};
use peregrine_gateway::orders::UserRef;
use peregrine_gateway::ouch::{self, Inbound, Options, Outbound, RejectCode};
use peregrine_gateway::session::{
    ServerSession, SessionConfig, SessionEvent, SessionState, CONTROL_PACKET_MAX,
};
use peregrine_gateway::soupbintcp::{
    alpha_trimmed_left, session_name, LoginRejectReason, LoginRequest, HEADER_LEN,
};
use peregrine_gateway::{alpha, alpha_trimmed};
use peregrine_tuning::ring::Producer;

use super::auth::Credentials;
use super::records::{InboundRecord, OutboundKind, OutboundRecord};
use super::store::{Checkpoint, RecordKind, SessionLog};
use super::transport::{system_now_ns, Clock, KernelTransport, Ready, Transport};
use crate::config::{NodeConfig, UserRefGapPolicy};

/// Bytes of each connection's receive buffer (several whole packets of the largest size).
const RX_BYTES: usize = 16 * 1024;
/// Bytes of each connection's transmit buffer.
const TX_BYTES: usize = 64 * 1024;
/// Sequenced messages one connection may write per turn (fairness between members).
const TX_MESSAGES_PER_TURN: usize = 512;
/// Log records a transmit cursor hops over per turn looking for the next message.
const TX_HOPS_PER_TURN: usize = 4096;
/// Inbound ring room needed before a connection is read: one `handle_input` yields at most
/// this many messages, each at most one command.
const SESSION_EVENTS_MAX: usize = peregrine_gateway::session::EVENT_QUEUE_LEN;
/// Largest outbound OUCH message the gateway writes.
const OUTBOUND_BYTES_MAX: usize = 512;

/// Plain counters (metrics; read by `run` and `demo`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GatewayCounters {
    pub connections_accepted: u64,
    pub connections_refused: u64,
    pub logins_accepted: u64,
    pub logins_rejected: u64,
    pub messages_in: u64,
    pub commands_submitted: u64,
    pub sequenced_out: u64,
    pub protocol_errors: u64,
    pub timeouts: u64,
    pub ignored_messages: u64,
    pub stale_user_ref_nums: u64,
    pub user_ref_gap_rejects: u64,
    pub backpressure_stalls: u64,
    pub pending_high_water: u64,
}

/// One order-entry user: identity, OUCH state, and the log behind its sequenced stream.
struct User {
    name: String,
    context: SessionContext,
    entry: OrderEntry,
    log: SessionLog,
    credentials: Credentials,
    /// Connection slot of the logged-in session, if any.
    connection: Option<usize>,
    /// `(input_seq, event_index)` of the last event logged for this user.
    last_event: (u64, u32),
    /// Recovery only: submissions (client_ref → kind) not yet answered by an event.
    unresolved: Option<BTreeMap<u64, CommandKind>>,
}

/// A connection's receive and transmit buffers, reused across connections.
type Buffers = (Box<[u8]>, Box<[u8]>);

/// One TCP connection and its SoupBinTCP session.
struct Connection {
    /// Index in `Gateway::slots` (and the transport's slot).
    slot: usize,
    peer: SocketAddr,
    session: ServerSession,
    user: Option<u32>,
    rx: Box<[u8]>,
    rx_len: usize,
    tx: Box<[u8]>,
    tx_start: usize,
    tx_end: usize,
    /// Log offset where the next sequenced message is looked for.
    cursor: usize,
    /// Edge-triggered readiness: the socket may hold unread bytes.
    readable: bool,
    /// `rx` may hold whole packets that were left for want of inbound ring room.
    backlog: bool,
    /// The last write would block; wait for a writable event.
    write_blocked: bool,
    /// The peer closed or the socket failed: close without writing more.
    dead: bool,
}

/// The gateway stage, over a [`Transport`] (kernel TCP by default).
pub struct Gateway<T: Transport = KernelTransport> {
    transport: T,
    /// Readiness reports of one poll (capacity kept across polls).
    ready: Vec<Ready>,
    clock: Clock,
    /// The transport stopped accepting (shutdown).
    listening: bool,
    slots: Vec<Option<Connection>>,
    /// Buffers of closed connections, reused by the next ones.
    spare_buffers: Vec<Buffers>,
    users: Vec<User>,
    /// Users by name, for login.
    user_names: BTreeMap<String, u32>,
    instruments: Instruments,
    session_config: SessionConfig,
    session_name: [u8; 10],
    gap_policy: UserRefGapPolicy,
    pending: VecDeque<InboundRecord>,
    checkpoint: Checkpoint,
    scratch: [u8; OUTBOUND_BYTES_MAX],
    pub counters: GatewayCounters,
}

/// The system clock every stage reads in production: Unix nanoseconds (the gateway itself
/// reads its injected [`Clock`]).
pub fn clock_ns() -> u64 {
    system_now_ns()
}

/// The users an event concerns, by `SessionId` (user index + 1); at most two (a trade).
fn sessions_of(event: &Event) -> [Option<SessionId>; 2] {
    match event {
        Event::Accepted(e) => [Some(e.session), None],
        Event::Rejected(e) => [Some(e.session), None],
        Event::Executed(e) => {
            let taker = (e.taker_session != e.maker_session).then_some(e.taker_session);
            [Some(e.maker_session), taker]
        }
        Event::Cancelled(e) => [Some(e.session), None],
        Event::Replaced(e) => [Some(e.session), None],
        Event::Restated(e) => [Some(e.session), None],
        Event::MassCancelled(e) => [Some(e.session), None],
        // One fill per side of an auction trade, each to its own member.
        Event::AuctionFill(e) => [Some(e.session), None],
        // Control acks, trading status, book changes and any market-wide event (auction
        // indications, phases) go to the feed, not to a member.
        _ => [None, None],
    }
}

/// The submission an event answers: `(session, client_ref)` of a new order, replace or mass
/// cancel (recovery bookkeeping of this gateway and of the FIX gateway).
pub(crate) fn answered_submission(event: &Event) -> Option<(SessionId, u64)> {
    match event {
        Event::Accepted(e) => Some((e.session, e.client_ref)),
        Event::Replaced(e) => Some((e.session, e.client_ref)),
        Event::MassCancelled(e) => Some((e.session, e.client_ref)),
        Event::Rejected(e) => match e.command {
            CommandKind::NewOrder | CommandKind::Replace | CommandKind::MassCancel => {
                Some((e.session, e.client_ref))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The reject recovery sends for a submission lost in a crash before it reached the journal
/// (reason `OrderCapacity`), and its encoded record for the session's log. Shared by this
/// gateway and the FIX gateway.
pub(crate) fn lost_submission_reject(
    context: &SessionContext,
    client_ref: u64,
    command: CommandKind,
    order: OrderId,
) -> (Event, [u8; EVENT_BYTES]) {
    let event = Event::Rejected(Rejected {
        account: context.account,
        session: context.session,
        client_ref,
        instrument: InstrumentId(0),
        order,
        command,
        reason: RejectReason::OrderCapacity,
    });
    let mut record = [0u8; EVENT_BYTES];
    encode_event(&event, &mut record);
    (event, record)
}

/// Marks the submission `event` answers as resolved in `session`'s recovery bookkeeping
/// (`unresolved`: client_ref → what recovery answers if it is lost; `None` once recovery is
/// over). Shared by this gateway and the FIX gateway.
pub(crate) fn resolve_submission<V>(
    unresolved: &mut Option<BTreeMap<u64, V>>,
    session: SessionId,
    event: &Event,
) {
    let Some(unresolved) = unresolved.as_mut() else {
        return;
    };
    if let Some((answered_session, client_ref)) = answered_submission(event) {
        if answered_session == session {
            unresolved.remove(&client_ref);
        }
    }
}

/// The UserRefNum channel and number a message would consume, with its ClOrdID (for a reject).
fn consumed_user_ref(bytes: &[u8]) -> Option<(UserRef, [u8; 14])> {
    let blank = [b' '; 14];
    let reference = |options: &Options, num: u32| UserRef {
        index: options.user_ref_idx.unwrap_or(0),
        num,
    };
    match Inbound::parse(bytes).ok()? {
        Inbound::EnterOrder(m) => Some((reference(&m.options, m.user_ref_num), m.cl_ord_id)),
        Inbound::ReplaceOrder(m) => Some((reference(&m.options, m.user_ref_num), m.cl_ord_id)),
        Inbound::MassCancel(m) => Some((reference(&m.options, m.user_ref_num), blank)),
        Inbound::DisableOrderEntry(m) | Inbound::EnableOrderEntry(m) => {
            Some((reference(&m.options, m.user_ref_num), blank))
        }
        Inbound::CancelOrder(_) | Inbound::ModifyOrder(_) | Inbound::AccountQuery(_) => None,
    }
}

impl Gateway<KernelTransport> {
    /// Binds the listener on kernel TCP and opens the gateway over it with the system clock
    /// (see [`Gateway::open_with`]).
    pub fn open(config: &NodeConfig) -> anyhow::Result<Gateway> {
        let transport = KernelTransport::bind(config.listen_addr()?, config.node.max_connections)
            .with_context(|| format!("cannot listen on {}", config.node.listen))?;
        Gateway::open_with(config, transport, Clock::System)
    }
}

impl<T: Transport> Gateway<T> {
    /// Opens (or creates) every user's log, rebuilding each user's OUCH state from it, over a
    /// listening `transport` and reading `clock`. Call [`Gateway::finish_recovery`] after
    /// feeding any regenerated events.
    /// The transport's frame counters (kernel bypass only).
    pub fn frame_counters(&self) -> Option<peregrine_gateway::frame::FrameCounters> {
        self.transport.frame_counters()
    }

    /// A waker that ends a blocking [`Gateway::poll_io`] from another thread; `None` when the
    /// transport never blocks (kernel bypass: poll it with a zero timeout).
    pub fn waker(&self) -> anyhow::Result<Option<mio::Waker>> {
        Ok(self.transport.waker()?)
    }

    pub fn open_with(config: &NodeConfig, transport: T, clock: Clock) -> anyhow::Result<Self> {
        // A read needs room for SESSION_EVENTS_MAX commands and stalls at less or equal room:
        // a smaller ring would never let the gateway read a socket (found by `peregrine sim`).
        anyhow::ensure!(
            config.node.inbound_ring_records > SESSION_EVENTS_MAX,
            "node.inbound_ring_records must exceed {SESSION_EVENTS_MAX} (got {})",
            config.node.inbound_ring_records
        );
        let core = config.core_config();
        let instruments = Instruments::new(&core.engine);
        let sessions_dir = config.sessions_dir();
        std::fs::create_dir_all(&sessions_dir)
            .with_context(|| format!("cannot create {}", sessions_dir.display()))?;
        let node = &config.node;
        let session_config = SessionConfig {
            heartbeat_interval_ns: node.heartbeat_interval_ms * 1_000_000,
            peer_timeout_ns: node.peer_timeout_ms * 1_000_000,
            packet_length_max: node.packet_length_max,
        };
        let mut users = Vec::with_capacity(config.users.len());
        let mut user_names = BTreeMap::new();
        for index in 0..config.users.len() {
            let user = open_user(config, index, &sessions_dir, &instruments)?;
            user_names.insert(user.name.clone(), u32::try_from(index)?);
            users.push(user);
        }
        let checkpoint = Checkpoint::open(&config.node.data_dir.join("gateway.checkpoint"))?;
        let max_connections = node.max_connections;
        let spare_buffers = (0..max_connections)
            .map(|_| {
                (
                    vec![0u8; RX_BYTES].into_boxed_slice(),
                    vec![0u8; TX_BYTES].into_boxed_slice(),
                )
            })
            .collect();
        Ok(Gateway {
            transport,
            ready: Vec::with_capacity(max_connections + 2),
            clock,
            listening: true,
            slots: (0..max_connections).map(|_| None).collect(),
            spare_buffers,
            users,
            user_names,
            instruments,
            session_config,
            session_name: session_name(&node.session_name),
            gap_policy: node.user_ref_num_gaps,
            pending: VecDeque::with_capacity(65_536),
            checkpoint,
            scratch: [0; OUTBOUND_BYTES_MAX],
            counters: GatewayCounters::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.transport.local_addr()
    }

    /// The clock this gateway reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The transport (the simulator drives its in-memory network through it).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The last input whose events were all routed (and logged).
    pub fn checkpoint_seq(&self) -> u64 {
        self.checkpoint.input_seq()
    }

    /// Users currently logged in.
    pub fn logged_in_count(&self) -> usize {
        self.users.iter().filter(|u| u.connection.is_some()).count()
    }

    pub fn connection_count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Recovery's last step: submissions logged before a crash that never reached the
    /// journal get a Rejected (ProcessingError), so their UserRefNums are answered; then the
    /// checkpoint moves to the journal's end. Returns the number of such rejects.
    pub fn finish_recovery(&mut self, journal_last_seq: u64) -> anyhow::Result<usize> {
        let mut count = 0;
        for index in 0..self.users.len() {
            let Some(unresolved) = self.users[index].unresolved.take() else {
                continue;
            };
            for (client_ref, command) in unresolved {
                let user = &mut self.users[index];
                // Maps to OUCH ProcessingError.
                let (event, record) =
                    lost_submission_reject(&user.context, client_ref, command, OrderId::NONE);
                user.log.append(RecordKind::Synthetic, 0, 0, &record)?;
                let timestamp_ns = ns_since_midnight(self.clock.now_ns());
                let output = user.entry.on_event(&self.instruments, timestamp_ns, &event);
                for message in output.iter() {
                    append_out(&mut user.log, &mut self.scratch, message)?;
                }
                tracing::warn!(user = %user.name, client_ref, ?command,
                    "recovery: submission lost before the journal; rejected");
                count += 1;
            }
        }
        if journal_last_seq > self.checkpoint.input_seq() {
            self.checkpoint.set_input_seq(journal_last_seq);
        }
        Ok(count)
    }

    /// Waits up to `timeout` for socket readiness; accepts new connections and marks
    /// connections readable or writable. Returns true if anything became ready.
    pub fn poll_io(&mut self, timeout: Option<Duration>, now_ns: u64) -> anyhow::Result<bool> {
        self.ready.clear();
        match self.transport.poll(timeout, &mut self.ready) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        let any = !self.ready.is_empty();
        let mut accept = false;
        for report in &self.ready {
            let (slot, readable, writable) = match *report {
                Ready::Accept => {
                    accept = true;
                    continue;
                }
                Ready::Wake => continue,
                Ready::Connection {
                    slot,
                    readable,
                    writable,
                } => (slot, readable, writable),
            };
            let Some(Some(connection)) = self.slots.get_mut(slot) else {
                continue;
            };
            connection.readable |= readable;
            if writable {
                connection.write_blocked = false;
            }
        }
        if accept {
            self.accept_all(now_ns)?;
        }
        Ok(any)
    }

    fn accept_all(&mut self, now_ns: u64) -> anyhow::Result<()> {
        // Bounded: the backlog is finite and each pass takes one connection.
        for _ in 0..1024 {
            if !self.listening {
                return Ok(());
            }
            let free = self.slots.iter().position(|slot| slot.is_none());
            // With every slot taken, accept into the refusal slot and close at once.
            let slot = free.unwrap_or(self.slots.len());
            let peer = match self.transport.accept(slot) {
                Ok(Some(peer)) => peer,
                Ok(None) => return Ok(()),
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    return Ok(());
                }
            };
            let (Some(slot), Some((rx, tx))) = (free, self.spare_buffers.pop()) else {
                self.transport.close(slot);
                self.counters.connections_refused += 1;
                tracing::warn!(%peer, "connection refused: max_connections reached");
                continue;
            };
            self.counters.connections_accepted += 1;
            tracing::info!(%peer, slot, "connection accepted");
            self.slots[slot] = Some(Connection {
                slot,
                peer,
                session: ServerSession::new(self.session_config, now_ns),
                user: None,
                rx,
                rx_len: 0,
                tx,
                tx_start: 0,
                tx_end: 0,
                cursor: 0,
                readable: true,
                backlog: false,
                write_blocked: false,
                dead: false,
            });
        }
        Ok(())
    }

    /// Routes one record from the core: logs and maps each event for the users it concerns;
    /// an `InputDone` moves the checkpoint. Commands the mapping produces go to `pending`.
    pub fn on_outbound(&mut self, record: &OutboundRecord) -> anyhow::Result<()> {
        let event = match record.kind {
            OutboundKind::InputDone => {
                assert!(record.input_seq >= self.checkpoint.input_seq());
                self.checkpoint.set_input_seq(record.input_seq);
                return Ok(());
            }
            OutboundKind::Event(event) => event,
        };
        let timestamp_ns = ns_since_midnight(record.timestamp_ns);
        for session in sessions_of(&event).into_iter().flatten() {
            let Some(index) = user_index(session, self.users.len()) else {
                continue;
            };
            let user = &mut self.users[index];
            let position = (record.input_seq, record.event_index);
            if position <= user.last_event {
                continue; // Already logged before a restart (recovery regenerates it).
            }
            let mut bytes = [0u8; EVENT_BYTES];
            encode_event(&event, &mut bytes);
            user.log.append(
                RecordKind::Event,
                record.input_seq,
                record.event_index,
                &bytes,
            )?;
            user.last_event = position;
            resolve_submission(&mut user.unresolved, user.context.session, &event);
            let output = user.entry.on_event(&self.instruments, timestamp_ns, &event);
            for message in output.iter() {
                append_out(&mut user.log, &mut self.scratch, message)?;
                self.counters.sequenced_out += 1;
            }
            if let Some(command) = output.command {
                self.pending.push_back(InboundRecord {
                    user_index: u32::try_from(index)?,
                    command,
                    received_ns: self.clock.now_ns(),
                });
            }
        }
        Ok(())
    }

    /// Moves waiting commands into the inbound ring while it has room; returns how many.
    pub fn flush_pending(&mut self, inbound: &mut Producer<InboundRecord>) -> usize {
        self.counters.pending_high_water = self
            .counters
            .pending_high_water
            .max(self.pending.len() as u64);
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

    /// Reads every readable connection once and handles what it brought. Returns the number
    /// of connections that made progress.
    pub fn service_reads(&mut self, now_ns: u64, inbound: &mut Producer<InboundRecord>) -> usize {
        let mut progress = 0;
        for slot in 0..self.slots.len() {
            let ready =
                matches!(&self.slots[slot], Some(c) if (c.readable || c.backlog) && !c.dead);
            if !ready {
                continue;
            }
            if !self.pending.is_empty() || free_room(inbound) <= SESSION_EVENTS_MAX {
                // Back-pressure: the core is behind; leave the bytes in the socket.
                self.counters.backpressure_stalls += 1;
                return progress;
            }
            let Some(mut connection) = self.slots[slot].take() else {
                continue;
            };
            if self.read_connection(&mut connection, now_ns, inbound) {
                progress += 1;
            }
            self.slots[slot] = Some(connection);
        }
        progress
    }

    /// One read, then packets until the buffer has no whole one or the ring could fill.
    fn read_connection(
        &mut self,
        connection: &mut Connection,
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
    ) -> bool {
        let mut progress = false;
        // A full buffer holds whole packets the ring had no room for (packets are at most
        // `packet_length_max` bytes, far below RX_BYTES): process before reading more.
        if connection.readable && connection.rx_len < RX_BYTES {
            match self
                .transport
                .read(connection.slot, &mut connection.rx[connection.rx_len..])
            {
                Ok(0) => {
                    connection.dead = true;
                    tracing::info!(peer = %connection.peer, "peer closed the connection");
                    return true;
                }
                Ok(count) => {
                    connection.rx_len += count;
                    progress = true;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => connection.readable = false,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    connection.dead = true;
                    tracing::info!(peer = %connection.peer, %error, "read failed");
                    return true;
                }
            }
        }
        // Bounded: each pass consumes at least one packet or stops. Packets left for want of
        // ring room are the connection's backlog, handled on a later turn without a read.
        connection.backlog = false;
        loop {
            if free_room(inbound) <= SESSION_EVENTS_MAX {
                connection.backlog = connection.rx_len > 0;
                break;
            }
            let input = &connection.rx[..connection.rx_len];
            let consumed = connection.session.handle_input(now_ns, input);
            self.drain_session_events(connection, now_ns, inbound);
            if consumed == 0 {
                break;
            }
            connection.rx.copy_within(consumed..connection.rx_len, 0);
            connection.rx_len -= consumed;
            progress = true;
        }
        progress
    }

    /// Handles every event the session queued (login, messages, logout, errors).
    fn drain_session_events(
        &mut self,
        connection: &mut Connection,
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
    ) {
        while let Some(event) = connection.session.poll_event() {
            match event {
                SessionEvent::LoginRequested(request) => self.on_login(connection, &request),
                SessionEvent::Message { start, end } => {
                    let Some(user) = connection.user else {
                        continue;
                    };
                    let message = &connection.rx[start..end];
                    if let Err(error) = self.on_message(user, message, now_ns, inbound) {
                        tracing::error!(%error, "session log append failed; closing");
                        connection.dead = true;
                    }
                }
                SessionEvent::LoggedOut => {
                    tracing::info!(peer = %connection.peer, "logout");
                }
                SessionEvent::TimedOut => {
                    self.counters.timeouts += 1;
                    tracing::info!(peer = %connection.peer, "peer timed out");
                }
                SessionEvent::ProtocolError(error) => {
                    self.counters.protocol_errors += 1;
                    tracing::warn!(peer = %connection.peer, %error, "protocol error; disconnecting");
                }
            }
        }
    }

    fn on_login(&mut self, connection: &mut Connection, request: &LoginRequest) {
        let name = String::from_utf8_lossy(alpha_trimmed(&request.username)).into_owned();
        let decision = self.judge_login(&name, request);
        match decision {
            Err(reason) => {
                self.counters.logins_rejected += 1;
                tracing::warn!(peer = %connection.peer, user = %name, %reason, "login rejected");
                connection.session.reject_login(reason);
            }
            Ok(index) => {
                let user = &mut self.users[index as usize];
                let next_live = user.log.out_count() + 1;
                let next_seq = match request.requested_seq {
                    0 => next_live,
                    requested => requested.min(next_live),
                };
                connection.session.accept_login(self.session_name, next_seq);
                connection.cursor = user.log.seek(next_seq);
                connection.user = Some(index);
                user.connection = Some(connection.slot);
                self.counters.logins_accepted += 1;
                tracing::info!(peer = %connection.peer, user = %name, next_seq, "login accepted");
            }
        }
    }

    fn judge_login(
        &mut self,
        name: &str,
        request: &LoginRequest,
    ) -> Result<u32, LoginRejectReason> {
        let index = *self
            .user_names
            .get(name)
            .ok_or(LoginRejectReason::NotAuthorized)?;
        let user = &mut self.users[index as usize];
        if !user.credentials.check(&request.password) {
            return Err(LoginRejectReason::NotAuthorized);
        }
        let requested = alpha_trimmed_left(&request.requested_session);
        if !requested.is_empty() && requested != alpha_trimmed_left(&self.session_name) {
            return Err(LoginRejectReason::SessionNotAvailable);
        }
        if user.connection.is_some() {
            return Err(LoginRejectReason::SessionNotAvailable);
        }
        Ok(index)
    }

    /// One Unsequenced Data payload of a logged-in user.
    fn on_message(
        &mut self,
        index: u32,
        bytes: &[u8],
        now_ns: u64,
        inbound: &mut Producer<InboundRecord>,
    ) -> anyhow::Result<()> {
        self.counters.messages_in += 1;
        let user = &mut self.users[index as usize];
        let timestamp_ns = ns_since_midnight(now_ns);
        if self.gap_policy == UserRefGapPolicy::Reject {
            if let Some((user_ref, cl_ord_id)) = consumed_user_ref(bytes) {
                if user_ref.num > user.entry.next_user_ref_num(user_ref.index) {
                    self.counters.user_ref_gap_rejects += 1;
                    tracing::info!(user = %user.name, num = user_ref.num,
                        expected = user.entry.next_user_ref_num(user_ref.index),
                        "UserRefNum gap; rejected");
                    let reject = Outbound::Rejected(ouch::Rejected {
                        timestamp_ns,
                        user_ref_num: user_ref.num,
                        reason: RejectCode::Other,
                        cl_ord_id,
                        options: Options::user_ref_idx(
                            (user_ref.index != 0).then_some(user_ref.index),
                        ),
                    });
                    append_out(&mut user.log, &mut self.scratch, &reject)?;
                    return Ok(());
                }
            }
        }
        user.log.append(RecordKind::In, now_ns, 0, bytes)?;
        match user
            .entry
            .on_message(&self.instruments, timestamp_ns, bytes)
        {
            InboundAction::Submit(command) => {
                let record = InboundRecord {
                    user_index: index,
                    command,
                    received_ns: now_ns,
                };
                // Room was checked before the read (SESSION_EVENTS_MAX per handle_input).
                let pushed = inbound.try_push(record);
                assert!(pushed.is_ok(), "inbound ring room was reserved");
                self.counters.commands_submitted += 1;
            }
            InboundAction::Reply(message) => {
                append_out(&mut user.log, &mut self.scratch, &message)?;
                self.counters.sequenced_out += 1;
            }
            InboundAction::Deferred => {}
            InboundAction::Ignore(reason) => {
                self.counters.ignored_messages += 1;
                if reason == IgnoreReason::StaleUserRefNum {
                    self.counters.stale_user_ref_nums += 1;
                }
                tracing::debug!(user = %user.name, ?reason, "message ignored");
            }
        }
        Ok(())
    }

    /// Runs timers and writes every connection's pending output; closes finished
    /// connections. Returns the number of connections that wrote something.
    pub fn service_writes(&mut self, now_ns: u64) -> usize {
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
                self.drain_timer_events(&mut connection);
            }
            if !connection.dead && self.write_connection(&mut connection, now_ns) {
                progress += 1;
            }
            let finished =
                connection.session.is_closed() && connection.tx_start == connection.tx_end;
            if connection.dead || finished {
                self.close_connection(slot, connection);
            } else {
                self.slots[slot] = Some(connection);
            }
        }
        progress
    }

    /// Timer events carry no messages; only count and log them.
    fn drain_timer_events(&mut self, connection: &mut Connection) {
        while let Some(event) = connection.session.poll_event() {
            if event == SessionEvent::TimedOut {
                self.counters.timeouts += 1;
                tracing::info!(peer = %connection.peer, "peer timed out; disconnecting");
            }
        }
    }

    /// Fills the transmit buffer (control packets, then sequenced messages from the log) and
    /// writes it. Returns true if bytes went out.
    fn write_connection(&mut self, connection: &mut Connection, _now_ns: u64) -> bool {
        if connection.tx_start == connection.tx_end {
            connection.tx_start = 0;
            connection.tx_end = 0;
        }
        while TX_BYTES - connection.tx_end >= CONTROL_PACKET_MAX {
            let written = connection
                .session
                .poll_transmit(&mut connection.tx[connection.tx_end..]);
            if written == 0 {
                break;
            }
            connection.tx_end += written;
        }
        if let Some(index) = connection.user {
            let log = &self.users[index as usize].log;
            fill_sequenced(connection, log);
        }
        if connection.write_blocked || connection.tx_start == connection.tx_end {
            return false;
        }
        match self.transport.write(
            connection.slot,
            &connection.tx[connection.tx_start..connection.tx_end],
        ) {
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
                tracing::info!(peer = %connection.peer, %error, "write failed");
                connection.dead = true;
                false
            }
        }
    }

    fn close_connection(&mut self, slot: usize, connection: Connection) {
        self.transport.close(slot);
        let reason = match connection.session.state() {
            SessionState::Closed(reason) => Some(reason),
            _ => None,
        };
        tracing::info!(peer = %connection.peer, ?reason, "connection closed");
        if let Some(index) = connection.user {
            let user = &mut self.users[index as usize];
            user.connection = None;
            self.pending.push_back(InboundRecord {
                user_index: index,
                command: Command::SessionLost {
                    account: user.context.account,
                    session: user.context.session,
                },
                received_ns: self.clock.now_ns(),
            });
        }
        let Connection { rx, tx, .. } = connection;
        self.spare_buffers.push((rx, tx));
        assert!(self.slots[slot].is_none());
    }

    /// Shutdown: stop accepting; with `end_session`, every active session gets End of
    /// Session; every connection is then flushed (best effort) and closed.
    pub fn shut_down(&mut self, end_session: bool, now_ns: u64) {
        if self.listening {
            self.listening = false;
            self.transport.stop_listening();
        }
        for slot in 0..self.slots.len() {
            let Some(mut connection) = self.slots[slot].take() else {
                continue;
            };
            if end_session {
                connection.session.end_session();
            }
            // Best effort: a few rounds of writing what is queued.
            for _ in 0..8 {
                connection.write_blocked = false;
                if !self.write_connection(&mut connection, now_ns) {
                    break;
                }
            }
            self.close_connection(slot, connection);
        }
    }

    /// `msync`s every log and the checkpoint.
    pub fn flush_storage(&self) -> anyhow::Result<()> {
        for user in &self.users {
            user.log.flush()?;
        }
        self.checkpoint.flush()
    }
}

/// Opens user `index`'s log and rebuilds its OUCH state from it.
fn open_user(
    config: &NodeConfig,
    index: usize,
    sessions_dir: &std::path::Path,
    instruments: &Instruments,
) -> anyhow::Result<User> {
    let user = &config.users[index];
    let account_index = config.account_index(&user.account).unwrap_or(0);
    let account = &config.accounts[account_index];
    let context = SessionContext {
        account: AccountId(u32::try_from(account_index)?),
        session: SessionId(u32::try_from(index)? + 1),
        firm: alpha::<4>(&account.firm),
    };
    let log_path = sessions_dir.join(format!("{}.log", user.username));
    let log = SessionLog::open(&log_path, config.node.session_log_bytes)?;
    let mut state = User {
        name: user.username.clone(),
        context,
        entry: OrderEntry::new(context, config.node.user_order_capacity),
        log,
        credentials: Credentials::new(&user.password_hash),
        connection: None,
        last_event: (0, 0),
        unresolved: Some(BTreeMap::new()),
    };
    rebuild_user(&mut state, instruments)?;
    Ok(state)
}

/// Room left in the inbound ring.
pub(crate) fn free_room(inbound: &Producer<InboundRecord>) -> usize {
    inbound.capacity() - inbound.len()
}

fn user_index(session: SessionId, user_count: usize) -> Option<usize> {
    let index = usize::try_from(session.0).ok()?.checked_sub(1)?;
    (index < user_count).then_some(index)
}

/// Emits an OUCH message into the user's log as the next sequenced message.
fn append_out(
    log: &mut SessionLog,
    scratch: &mut [u8; OUTBOUND_BYTES_MAX],
    message: &Outbound,
) -> anyhow::Result<u64> {
    let length = message.buffer_len();
    anyhow::ensure!(
        length <= OUTBOUND_BYTES_MAX,
        "outbound message of {length} bytes"
    );
    let written = message.emit(&mut scratch[..length]);
    log.append_out(&scratch[..written])
}

/// Copies sequenced messages the session wants from the log into the transmit buffer.
fn fill_sequenced(connection: &mut Connection, log: &SessionLog) {
    let mut sent = 0;
    while sent < TX_MESSAGES_PER_TURN {
        let Some(wanted) = connection.session.sequenced_wanted() else {
            return;
        };
        let (seq, payload, next) = match log.next_out(connection.cursor, TX_HOPS_PER_TURN) {
            Ok(found) => found,
            Err(resume) => {
                connection.cursor = resume;
                return;
            }
        };
        if seq < wanted {
            connection.cursor = next;
            continue;
        }
        assert!(seq == wanted, "log holds every sequenced message in order");
        if TX_BYTES - connection.tx_end < HEADER_LEN + payload.len() {
            return;
        }
        let buffer = &mut connection.tx[connection.tx_end..];
        match connection.session.transmit_sequenced(seq, payload, buffer) {
            Ok(written) => {
                connection.tx_end += written;
                connection.cursor = next;
                sent += 1;
            }
            Err(error) => {
                tracing::error!(?error, "transmit_sequenced refused a stored message");
                connection.dead = true;
                return;
            }
        }
    }
}

/// Replays a user's log into its fresh `OrderEntry`: `In` and event records in file order.
fn rebuild_user(user: &mut User, instruments: &Instruments) -> anyhow::Result<()> {
    let mut replayed = 0u64;
    for record in user.log.records() {
        match record.kind {
            RecordKind::In => {
                let timestamp_ns = ns_since_midnight(record.tag);
                let action = user
                    .entry
                    .on_message(instruments, timestamp_ns, record.payload);
                if let (InboundAction::Submit(command), Some(unresolved)) =
                    (action, user.unresolved.as_mut())
                {
                    if let Some((client_ref, kind)) = answerable(&command) {
                        unresolved.insert(client_ref, kind);
                    }
                }
            }
            RecordKind::Event | RecordKind::Synthetic => {
                let event = decode_event(record.payload).map_err(|_| {
                    anyhow::anyhow!("{}: bad event record", user.log.path().display())
                })?;
                if record.kind == RecordKind::Event {
                    user.last_event = (record.tag, record.aux);
                }
                if let Some(unresolved) = user.unresolved.as_mut() {
                    if let Some((session, client_ref)) = answered_submission(&event) {
                        if session == user.context.session {
                            unresolved.remove(&client_ref);
                        }
                    }
                }
                let _ = user.entry.on_event(instruments, 0, &event);
            }
            RecordKind::Out => {}
        }
        replayed += 1;
    }
    if replayed > 0 {
        tracing::info!(user = %user.name, records = replayed, sequenced = user.log.out_count(),
            "session log replayed");
    }
    Ok(())
}

/// A submitted command that an event will answer: `(client_ref, kind)`.
fn answerable(command: &Command) -> Option<(u64, CommandKind)> {
    match command {
        Command::NewOrder(c) => Some((c.client_ref, CommandKind::NewOrder)),
        Command::Replace(c) => Some((c.client_ref, CommandKind::Replace)),
        Command::MassCancel(c) => Some((c.client_ref, CommandKind::MassCancel)),
        _ => None,
    }
}
