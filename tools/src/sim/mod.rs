//! Deterministic simulation of the whole node (`peregrine sim`): the real gateway, core loop,
//! journal, session logs and recovery code in single-thread mode ([`crate::node::single_turn`],
//! [`crate::node::open_parts`]), over a simulated network ([`net`]), a manual clock and a data
//! directory the simulator crashes at will, driven by one seed.
//!
//! Each step advances the clock, lets seeded members act (orders, cancels, bursts, duplicate
//! and gapped UserRefNums, bad frames, slow reads, disconnects, re-logins), may inject an admin
//! command (kill switch, halt/resume) or a crash (drop the node without shutdown, optionally
//! with a torn journal tail, then recover through the normal open path), and runs one node
//! turn inside `catch_unwind`. Every `settle_every` steps (and at the end) the simulator
//! settles: faults off, every member logged in and caught up; then the invariants are checked.
//!
//! # Invariants checked
//! - No panic anywhere in a node turn or in recovery.
//! - Every member's stream is gapless and identical on redelivery; no UserRefNum is answered
//!   twice; no order executes or cancels beyond its quantity (members, continuously).
//! - After settling: every order a member holds open rests in the engine with the same
//!   leaves and session, and every resting order is known to its member; every account's
//!   net position per instrument equals the members' fills; engine resting counts equal the
//!   risk state's; limits (`max_open_orders`) hold; a blocked account rests nothing.
//! - Recovery loses nothing: the journal's last seq after a crash (torn tail or not) equals
//!   the one before; replaying the journal reproduces every recorded output digest.
//!
//! # Determinism
//! Everything random comes from [`rng::Rng`] streams forked from the seed; time is the
//! manual clock; maps are `BTreeMap`. Same seed and options ⇒ same trace digest.

pub mod feed;
pub mod member;
pub mod net;
pub mod rng;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use peregrine_engine::{AccountId, Command, InstrumentId, SessionId, Side, TradingStatus};
use peregrine_gateway::alpha;
use peregrine_gateway::ouch::{
    self, Capacity, CrossType, Display, EnterOrder, Inbound, Options, TimeInForce,
};
use peregrine_replay::{verify_journal, JournalReader};
use peregrine_tuning::ring::{channel, Consumer, Producer};

use crate::config::{Mode, NodeConfig, DEFAULT_CONFIG_TOML};
use crate::node::core_loop::CoreLoop;
use crate::node::gateway::Gateway;
use crate::node::records::InboundRecord;
use crate::node::transport::Clock;
use crate::node::{open_parts, single_turn};
use member::{fnv, SimMember, FNV_START};
use net::{NetFaults, SimNet};
use rng::Rng;

/// Users the simulation logs in (password = lower-case name in the default config).
const USERS: [&str; 4] = ["ALICE", "BOB", "CAROL", "DAVE"];
/// Symbols traded (the default config's instruments 0..3).
const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "GOOG"];
/// Simulated start: 2026-01-05 14:30 UTC, in Unix ns.
const START_NS: u64 = 1_767_623_400_000_000_000;
/// Turns a settle may take before it counts as stuck.
const SETTLE_TURNS_MAX: usize = 20_000;
/// `max_open_orders` given to BOB's account, so the limit is exercised.
const BOB_MAX_OPEN_ORDERS: i64 = 12;

/// What a run does.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub seed: u64,
    pub steps: u64,
    /// Steps between settle-and-check points.
    pub settle_every: u64,
    /// Chance of a crash per step, per million.
    pub crash_per_million: u64,
    /// Planted bug for tests: the checker is fed a member view with one order's leaves off
    /// by one, so a violation must be reported.
    pub plant_bug: bool,
    /// Where the data directory goes (a fresh subdirectory per run, removed on success).
    pub work_dir: PathBuf,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOutcome {
    pub seed: u64,
    pub steps_run: u64,
    /// FNV-1a over everything observable: member streams, journal seqs, actions.
    pub trace_digest: u64,
    /// The first invariant violated, with the step.
    pub violation: Option<String>,
    pub crashes: u64,
    pub torn_tails: u64,
    pub last_seq: u64,
    pub messages_received: u64,
    /// Feed packets the last feed check published, and re-requests over all checks.
    pub feed_packets: u64,
    pub feed_rerequests: u64,
}

/// The node's parts as the simulator holds them.
struct NodeParts {
    gateway: Gateway<SimNet>,
    core: CoreLoop,
    inbound: Producer<InboundRecord>,
    inbound_rx: Consumer<InboundRecord>,
}

/// One simulation run.
pub struct Sim {
    options: SimOptions,
    config: NodeConfig,
    rng: Rng,
    time: Arc<AtomicU64>,
    clock: Clock,
    node: Option<NodeParts>,
    epoch: u64,
    members: Vec<SimMember>,
    blocked: [bool; 4],
    trace: u64,
    outcome: SimOutcome,
}

/// The simulation's node config: the default one, single-thread, no feed, small files.
fn sim_config(data_dir: &Path, ring_records: usize) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::parse(DEFAULT_CONFIG_TOML)?;
    config.node.data_dir = data_dir.to_path_buf();
    config.node.mode = Mode::Single;
    config.node.inbound_ring_records = ring_records;
    config.node.journal_segment_bytes = 256 * 1024;
    config.node.session_log_bytes = 16 * 1024;
    config.node.max_connections = 8;
    config.feed.enabled = false;
    config.accounts[1].risk.max_open_orders = BOB_MAX_OPEN_ORDERS;
    // Small pools: every recovery and replay check builds an engine.
    config.engine.order_capacity = 1 << 14;
    config.engine.level_capacity = 1 << 12;
    for (user, name) in config.users.iter_mut().zip(USERS) {
        user.password_hash = cheap_hash(&name.to_lowercase())?;
    }
    Ok(config)
}

/// An argon2id PHC string with the smallest parameters and a fixed salt: every crash makes
/// the gateway check each password once more, and the simulation is not about argon2.
fn cheap_hash(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, None)
        .map_err(|error| anyhow::anyhow!("argon2 params: {error}"))?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"peregrine-sim-salt")
        .map_err(|error| anyhow::anyhow!("salt: {error}"))?;
    let hash = hasher
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("argon2: {error}"))?;
    Ok(hash.to_string())
}

impl Sim {
    pub fn new(options: SimOptions) -> anyhow::Result<Sim> {
        let data_dir = options.work_dir.join(format!("sim-{}", options.seed));
        if data_dir.exists() {
            std::fs::remove_dir_all(&data_dir)?;
        }
        let mut rng = Rng::fork(options.seed, 0);
        // 32 is the smallest ring the gateway can read into (it needs more than one read's 16
        // commands free); the gateway refuses 16 or less (config validation lets it through).
        let ring_records = if rng.chance(500_000) { 32 } else { 4096 };
        let config = sim_config(&data_dir, ring_records)?;
        let (clock, time) = Clock::manual(START_NS);
        let members = USERS
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let user = &config.users[index];
                let account = config.account_index(&user.account).unwrap_or(0);
                let session = SessionId(u32::try_from(index).unwrap_or(0) + 1);
                let account = AccountId(u32::try_from(account).unwrap_or(0));
                SimMember::new(name, &name.to_lowercase(), account, session)
            })
            .collect();
        let outcome = SimOutcome {
            seed: options.seed,
            steps_run: 0,
            trace_digest: 0,
            violation: None,
            crashes: 0,
            torn_tails: 0,
            last_seq: 0,
            messages_received: 0,
            feed_packets: 0,
            feed_rerequests: 0,
        };
        Ok(Sim {
            options,
            config,
            rng,
            time,
            clock,
            node: None,
            epoch: 0,
            members,
            blocked: [false; 4],
            trace: FNV_START,
            outcome,
        })
    }

    fn now_ns(&self) -> u64 {
        self.time.load(Ordering::Relaxed)
    }

    fn note(&mut self, bytes: &[u8]) {
        self.trace = fnv(self.trace, bytes);
    }

    fn violate(&mut self, step: u64, what: impl Into<String>) {
        if self.outcome.violation.is_none() {
            self.outcome.violation = Some(format!("step {step}: {}", what.into()));
        }
    }

    /// Opens (or recovers) the node over a fresh network, inside `catch_unwind`.
    fn open_node(&mut self, faults: NetFaults) -> anyhow::Result<()> {
        self.epoch += 1;
        let net = SimNet::new(
            self.epoch,
            self.clock.clone(),
            Rng::fork(self.options.seed, 1000 + self.epoch),
            faults,
        );
        let clock = self.clock.clone();
        let config = self.config.clone();
        let opened = catch_unwind(AssertUnwindSafe(move || {
            open_parts(&config, |config| Gateway::open_with(config, net, clock))
        }));
        let (stage, gateway) = match opened {
            Ok(result) => result?,
            Err(_) => anyhow::bail!("panic while recovering the node"),
        };
        let (inbound, inbound_rx) =
            channel::<InboundRecord>(self.config.node.inbound_ring_records)?;
        self.node = Some(NodeParts {
            gateway,
            core: CoreLoop::new(stage, None),
            inbound,
            inbound_rx,
        });
        Ok(())
    }

    fn net(&mut self) -> Option<&mut SimNet> {
        self.node.as_mut().map(|n| n.gateway.transport_mut())
    }

    fn last_seq(&self) -> u64 {
        self.node.as_ref().map_or(0, |n| n.core.stage.last_seq())
    }

    /// Runs the whole simulation.
    pub fn run(mut self) -> anyhow::Result<SimOutcome> {
        let faults = self.faults();
        self.open_node(faults)?;
        for step in 0..self.options.steps {
            self.step(step)?;
            self.outcome.steps_run = step + 1;
            if self.outcome.violation.is_some() {
                break;
            }
            if (step + 1) % self.options.settle_every == 0 {
                self.settle_and_check(step)?;
                if self.outcome.violation.is_some() {
                    break;
                }
            }
        }
        if self.outcome.violation.is_none() {
            let step = self.outcome.steps_run;
            self.settle_and_check(step)?;
            self.verify_replay(step)?;
        }
        self.outcome.last_seq = self.last_seq();
        self.outcome.messages_received = self.members.iter().map(|m| m.received.len() as u64).sum();
        let members: Vec<u64> = self.members.iter().map(|m| m.digest).collect();
        for digest in members {
            self.note(&digest.to_be_bytes());
        }
        let last_seq = self.outcome.last_seq;
        self.note(&last_seq.to_be_bytes());
        self.outcome.trace_digest = self.trace;
        if self.outcome.violation.is_none() {
            self.node = None;
            let _ = std::fs::remove_dir_all(&self.config.node.data_dir);
        }
        Ok(self.outcome)
    }

    fn faults(&mut self) -> NetFaults {
        NetFaults {
            delay_ns_max: self.rng.range(0, 2_000_000),
            partial_per_million: self.rng.range(0, 300_000),
            reset_per_million: self.rng.range(0, 2_000),
        }
    }

    fn step(&mut self, step: u64) -> anyhow::Result<()> {
        let advance_ns = self.rng.range(0, 2_000_000);
        self.time.fetch_add(advance_ns, Ordering::Relaxed);
        for index in 0..self.members.len() {
            self.member_act(index);
        }
        if self.rng.chance(3_000) {
            self.admin_fault();
        }
        if self.rng.chance(self.options.crash_per_million) {
            self.crash_and_recover(step)?;
        }
        self.pump_members();
        self.node_turn(step);
        self.collect_member_violations(step);
        Ok(())
    }

    fn pump_members(&mut self) {
        let now_ns = self.now_ns();
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let net = node.gateway.transport_mut();
        for member in &mut self.members {
            member.pump(net, now_ns);
        }
    }

    fn node_turn(&mut self, step: u64) {
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let now_ns = node.gateway.clock().now_ns();
        let result = catch_unwind(AssertUnwindSafe(|| {
            node.gateway.poll_io(Some(Duration::ZERO), now_ns)?;
            single_turn(
                &mut node.gateway,
                &mut node.core,
                &mut node.inbound,
                &mut node.inbound_rx,
                false,
            )
        }));
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => self.violate(step, format!("node turn failed: {error:#}")),
            Err(_) => self.violate(step, "panic in a node turn"),
        }
    }

    fn collect_member_violations(&mut self, step: u64) {
        let first = self
            .members
            .iter()
            .find_map(|m| m.violations.first().cloned());
        if let Some(what) = first {
            self.violate(step, what);
        }
    }

    /// One member's move this step.
    fn member_act(&mut self, index: usize) {
        let now_ns = self.now_ns();
        let roll = self.rng.below(1_000);
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let net = node.gateway.transport_mut();
        let member = &mut self.members[index];
        if !member.is_connected() {
            if roll < 200 {
                member.connect(net, now_ns);
                self.trace = fnv(self.trace, &[b'c', index as u8]);
            }
            return;
        }
        if !member.synced {
            return;
        }
        let action = match roll {
            0..=399 => Action::Enter(1),
            400..=419 => Action::Enter(self.rng.range(5, 40) as u32),
            420..=559 => Action::Cancel,
            560..=564 => Action::Duplicate,
            565..=569 => Action::Gap,
            570..=573 => Action::BadFrame,
            574..=577 => Action::BadMessage,
            578..=585 => Action::Slow,
            586..=591 => Action::Disconnect,
            _ => Action::Idle,
        };
        self.trace = fnv(self.trace, &[b'a', index as u8, action.code()]);
        do_action(&mut self.rng, member, net, action, now_ns);
    }

    fn admin_fault(&mut self) {
        let account = self.rng.below(4) as usize;
        let instrument = InstrumentId(self.rng.below(3) as u32);
        let command = match self.rng.below(4) {
            0 => {
                self.blocked[account] = true;
                Command::BlockAccount {
                    account: AccountId(account as u32),
                }
            }
            1 => {
                self.blocked[account] = false;
                Command::UnblockAccount {
                    account: AccountId(account as u32),
                }
            }
            2 => Command::SetTradingStatus {
                instrument,
                status: TradingStatus::Halted,
            },
            _ => Command::SetTradingStatus {
                instrument,
                status: TradingStatus::Trading,
            },
        };
        self.note(format!("{command:?}").as_bytes());
        let now_ns = self.now_ns();
        if let Some(node) = self.node.as_mut() {
            // The admin path's ring position: after what the gateway already queued.
            let record = InboundRecord {
                user_index: u32::MAX,
                command,
                received_ns: now_ns,
            };
            if node.inbound.try_push(record).is_err() {
                self.note(b"admin ring full");
            }
        }
    }

    /// Drops the node without shutdown, maybe tears the journal tail, and recovers.
    fn crash_and_recover(&mut self, step: u64) -> anyhow::Result<()> {
        let seq_before = self.last_seq();
        // Admin commands still in the ring were never journaled: lost with the process,
        // like any command not yet sequenced.
        self.node = None;
        self.outcome.crashes += 1;
        if self.rng.chance(500_000) {
            self.tear_tail()?;
            self.outcome.torn_tails += 1;
        }
        for member in &mut self.members {
            member.slow_until_ns = 0;
        }
        let faults = self.faults();
        if let Err(error) = self.open_node(faults) {
            self.violate(step, format!("recovery failed: {error:#}"));
            return Ok(());
        }
        // Members' sockets died with the process.
        let net = self.node.as_mut().map(|n| n.gateway.transport_mut());
        if let Some(net) = net {
            for member in &mut self.members {
                member.disconnect(net);
            }
        }
        let seq_after = self.last_seq();
        self.note(&seq_after.to_be_bytes());
        if seq_after != seq_before {
            self.violate(
                step,
                format!("recovery lost inputs: journal at {seq_before} before, {seq_after} after"),
            );
        }
        Ok(())
    }

    /// Writes a partial record after the journal's last whole one (a crash mid-append).
    fn tear_tail(&mut self) -> anyhow::Result<()> {
        let dir = self.config.journal_dir();
        let reader = JournalReader::open(&dir).context("journal for tearing")?;
        let mut cursor = reader.cursor();
        while cursor.next_record()?.is_some() {}
        let Some(end) = cursor.end() else {
            return Ok(());
        };
        let segments = reader.segments();
        let Some(segment) = segments.get(end.segment_index as usize) else {
            return Ok(());
        };
        let length = self.rng.range(1, 40) as usize;
        let room = end.segment_size_bytes.saturating_sub(end.offset) as usize;
        let length = length.min(room);
        let junk: Vec<u8> = (0..length).map(|_| self.rng.below(256) as u8).collect();
        let path = segment.path.clone();
        let offset = end.offset;
        drop(reader);
        write_at(&path, offset, &junk)
    }

    /// Faults off, every member connected and synced, the network drained; then checks.
    fn settle_and_check(&mut self, step: u64) -> anyhow::Result<()> {
        if let Some(net) = self.net() {
            net.faults = NetFaults::CALM;
        }
        for member in &mut self.members {
            member.slow_until_ns = 0;
        }
        let mut quiet_turns = 0;
        for _ in 0..SETTLE_TURNS_MAX {
            self.time.fetch_add(100_000, Ordering::Relaxed);
            let now_ns = self.now_ns();
            if let Some(node) = self.node.as_mut() {
                let net = node.gateway.transport_mut();
                for member in &mut self.members {
                    if !member.is_connected() {
                        member.connect(net, now_ns);
                    }
                }
            }
            self.pump_members();
            self.node_turn(step);
            self.collect_member_violations(step);
            if self.outcome.violation.is_some() {
                return Ok(());
            }
            let in_flight = self.net().map_or(0, |n| n.bytes_in_flight());
            let all_synced = self.members.iter().all(|m| m.synced);
            let idle = self
                .node
                .as_ref()
                .is_some_and(|n| n.inbound_rx.is_empty() && !n.gateway.has_pending());
            quiet_turns = if in_flight == 0 && all_synced && idle {
                quiet_turns + 1
            } else {
                0
            };
            if quiet_turns >= 20 {
                break;
            }
        }
        if quiet_turns < 20 {
            self.violate(step, "the node did not settle (members not caught up)");
            return Ok(());
        }
        self.check_books(step);
        self.check_feed(step)?;
        let faults = self.faults();
        if let Some(net) = self.net() {
            net.faults = faults;
        }
        Ok(())
    }

    /// The member-view versus engine checks (see the module docs).
    fn check_books(&mut self, step: u64) {
        let Some(node) = self.node.as_ref() else {
            return;
        };
        let core = node.core.stage.core();
        let mut problems = check_views(core, &self.members, self.options.plant_bug);
        for (account, blocked) in self.blocked.iter().enumerate() {
            let view = core.risk().account(AccountId(account as u32));
            if let Some(view) = view {
                if *blocked != view.blocked {
                    // Admin commands can be lost in a crash; follow the engine.
                    continue;
                }
                if view.blocked && view.open_orders != 0 {
                    problems.push(format!(
                        "blocked account {account} rests {} orders",
                        view.open_orders
                    ));
                }
            }
        }
        if let Some(problem) = problems.into_iter().next() {
            self.violate(step, problem);
        }
    }

    /// Subscribers (one from the start, one late joiner) against the live books.
    fn check_feed(&mut self, step: u64) -> anyhow::Result<()> {
        let Some(node) = self.node.as_ref() else {
            return Ok(());
        };
        let mut rng = Rng::fork(self.options.seed, 2_000_000 + step);
        let result = feed::check(&self.config.journal_dir(), node.core.stage.core(), &mut rng)?;
        self.outcome.feed_packets = result.packets;
        self.outcome.feed_rerequests += result.rerequests;
        self.note(&result.packets.to_be_bytes());
        if let Some(problem) = result.problems.into_iter().next() {
            self.violate(step, problem);
        }
        Ok(())
    }

    fn verify_replay(&mut self, step: u64) -> anyhow::Result<()> {
        let dir = self.config.journal_dir();
        let reader = JournalReader::open(&dir)?;
        let report = verify_journal(&reader, None, &mut |_| {})
            .map_err(|error| anyhow::anyhow!("verify: {error}"))?;
        if let Some(divergence) = report.divergence {
            self.violate(
                step,
                format!(
                    "replay diverges in seqs {}..={}",
                    divergence.window_first_seq, divergence.window_last_seq
                ),
            );
        }
        if report.last_seq != self.last_seq() {
            let live = self.last_seq();
            self.violate(
                step,
                format!("replay ends at {} but live at {live}", report.last_seq),
            );
        }
        Ok(())
    }
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)?;
    Ok(())
}

/// What a member does in one step.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// Enter this many orders (1, or a burst).
    Enter(u32),
    Cancel,
    /// Resend an already used UserRefNum.
    Duplicate,
    /// Skip ahead in UserRefNums.
    Gap,
    /// Bytes that are no SoupBinTCP packet.
    BadFrame,
    /// A well-framed payload that is no OUCH message.
    BadMessage,
    /// Stop reading for a while.
    Slow,
    Disconnect,
    Idle,
}

impl Action {
    fn code(self) -> u8 {
        match self {
            Action::Enter(_) => b'E',
            Action::Cancel => b'X',
            Action::Duplicate => b'D',
            Action::Gap => b'G',
            Action::BadFrame => b'F',
            Action::BadMessage => b'M',
            Action::Slow => b'S',
            Action::Disconnect => b'Q',
            Action::Idle => b'I',
        }
    }
}

fn enter_order(rng: &mut Rng, user_ref_num: u32) -> Inbound {
    let side = if rng.chance(500_000) {
        ouch::Side::Buy
    } else {
        ouch::Side::Sell
    };
    // Prices around 100.00 in cents (ticks of 100 price units), so books cross often.
    let ticks = rng.range(9_990, 10_010);
    Inbound::EnterOrder(EnterOrder {
        user_ref_num,
        side,
        quantity: rng.range(1, 5) as u32 * 100,
        symbol: alpha::<8>(SYMBOLS[rng.below(3) as usize]),
        price: ticks * 100,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: alpha::<14>("SIM"),
        options: Options::default(),
    })
}

fn do_action(rng: &mut Rng, member: &mut SimMember, net: &mut SimNet, action: Action, now_ns: u64) {
    match action {
        Action::Enter(count) => {
            for _ in 0..count {
                let number = member.next_user_ref;
                member.next_user_ref += 1;
                member.send(&enter_order(rng, number));
            }
        }
        Action::Cancel => {
            let open: Vec<u32> = member
                .orders
                .iter()
                .filter(|(_, o)| o.leaves() > 0)
                .map(|(&k, _)| k)
                .collect();
            if !open.is_empty() {
                let pick = open[rng.below(open.len() as u64) as usize];
                member.send(&Inbound::CancelOrder(ouch::CancelOrder {
                    user_ref_num: pick,
                    quantity: 0,
                    options: Options::default(),
                }));
            }
        }
        Action::Duplicate => {
            if member.next_user_ref > 1 {
                let old = rng.range(1, u64::from(member.next_user_ref - 1)) as u32;
                member.send(&enter_order(rng, old));
            }
        }
        Action::Gap => {
            let ahead = member.next_user_ref + rng.range(2, 9) as u32;
            member.probes.insert(ahead);
            member.send(&enter_order(rng, ahead));
        }
        Action::BadFrame => {
            let length = rng.range(1, 12) as usize;
            let junk: Vec<u8> = (0..length).map(|_| rng.below(256) as u8).collect();
            member.send_garbage(&junk);
        }
        Action::BadMessage => {
            let length = rng.range(1, 30) as usize;
            let junk: Vec<u8> = (0..length).map(|_| rng.below(256) as u8).collect();
            member.send_raw_payload(&junk);
        }
        Action::Slow => member.slow_until_ns = now_ns + rng.range(1, 3_000) * 1_000_000,
        Action::Disconnect => member.disconnect(net),
        Action::Idle => {}
    }
}

/// Compares the members' views with the engine and risk state; returns every problem.
fn check_views(core: &peregrine_risk::Core, members: &[SimMember], plant_bug: bool) -> Vec<String> {
    let engine = core.engine();
    let mut problems = Vec::new();
    let mut known = std::collections::BTreeSet::new();
    let mut planted = plant_bug;
    for member in members {
        for (&user_ref, order) in &member.orders {
            let mut leaves = order.leaves();
            if leaves == 0 {
                continue;
            }
            if planted {
                leaves += 1;
                planted = false;
            }
            known.insert(order.order_id);
            match engine.order(peregrine_engine::OrderId(order.order_id)) {
                None => problems.push(format!(
                    "{}: accepted order {user_ref} (id {}) with {leaves} open is not in the engine",
                    member.username, order.order_id
                )),
                Some(view)
                    if u64::from(view.leaves.0) != leaves || view.session != member.session_id =>
                {
                    problems.push(format!(
                        "{}: order {user_ref} has {leaves} open, engine has {:?} for {:?}",
                        member.username, view.leaves, view.session
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let mut resting_per_account = [0i64; 8];
    for instrument in 0..SYMBOLS.len() as u32 {
        for side in [Side::Buy, Side::Sell] {
            engine.for_each_order(InstrumentId(instrument), side, |view| {
                if let Some(count) = resting_per_account.get_mut(view.account.0 as usize) {
                    *count += 1;
                }
                let ours = members.iter().any(|m| m.session_id == view.session);
                if ours && !known.contains(&view.id.0) {
                    problems.push(format!("resting order {} unknown to its member", view.id.0));
                }
            });
        }
    }
    check_accounts(core, members, &resting_per_account, &mut problems);
    problems
}

fn check_accounts(
    core: &peregrine_risk::Core,
    members: &[SimMember],
    resting: &[i64; 8],
    problems: &mut Vec<String>,
) {
    for account in 0..4u32 {
        let Some(view) = core.risk().account(AccountId(account)) else {
            continue;
        };
        if view.open_orders != resting[account as usize] {
            problems.push(format!(
                "account {account}: risk counts {} open orders, engine rests {}",
                view.open_orders, resting[account as usize]
            ));
        }
        if view.max_open_orders > 0 && view.open_orders > view.max_open_orders {
            problems.push(format!(
                "account {account}: {} open orders above the limit {}",
                view.open_orders, view.max_open_orders
            ));
        }
        for (instrument, symbol) in SYMBOLS.iter().enumerate() {
            let key = alpha::<8>(symbol);
            let filled: i64 = members
                .iter()
                .filter(|m| m.account.0 == account)
                .map(|m| m.positions().get(&key).copied().unwrap_or(0))
                .sum();
            let exposure = core
                .risk()
                .exposure(AccountId(account), InstrumentId(instrument as u32));
            let position = exposure.map_or(0, |e| e.position_qty);
            if position != filled {
                problems.push(format!(
                    "account {account} {symbol}: members filled {filled}, risk position {position}"
                ));
            }
        }
    }
}

/// Runs one seed; a convenience for the CLI and the tests.
pub fn run_seed(options: SimOptions) -> anyhow::Result<SimOutcome> {
    Sim::new(options)?.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64, steps: u64) -> SimOptions {
        SimOptions {
            seed,
            steps,
            settle_every: 400,
            crash_per_million: 2_000,
            plant_bug: false,
            work_dir: std::env::temp_dir()
                .join(format!("peregrine-sim-unit-{}", std::process::id())),
        }
    }

    #[test]
    fn a_seed_runs_clean_and_reproduces_its_digest() {
        let first = run_seed(options(11, 600)).unwrap();
        assert_eq!(first.violation, None, "{first:?}");
        assert!(first.last_seq > 0, "{first:?}");
        let second = run_seed(options(11, 600)).unwrap();
        assert_eq!(first, second);
    }
}
