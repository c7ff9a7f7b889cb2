//! Open-loop order flow over many member sessions, for `peregrine load` and `peregrine demo`.
//!
//! Orders are scheduled at a fixed rate: order `k` is *intended* at `start + k × interval`,
//! whatever happened to earlier ones, and its order-to-ack latency is measured from that
//! intended time to the arrival of its Order Accepted (or Rejected). A stalled server therefore
//! shows up in the histogram as the queue it caused (no coordinated omission). Sessions take
//! orders round robin; each keeps its outstanding orders in a FIFO (the node answers one
//! session's messages in order), and cancels its oldest resting order when it has more than
//! `live_orders_max`, so the book stays bounded.
//!
//! **Order to feed.** With [`LoadOptions::feed`] set, the generator also joins the node's
//! multicast group and measures, for every order that rests, the time from its intended send
//! time to the arrival of the ITCH Add Order that shows it (matched on the order reference
//! number, which the OUCH Order Accepted carries too). The Add Order may arrive before or after
//! the Accepted; whichever comes second completes the pair. Orders that trade in full on entry
//! print no Add Order and are not in this histogram; packets lost on the way are not
//! re-requested, their orders are simply not measured (`feed_unmatched`).
//!
//! # Invariants
//! - One thread, one `mio` poll; nothing blocks except the poll, and a `timerfd` armed at the
//!   next intended send time (nanosecond precision, unlike epoll's millisecond timeout) ends
//!   it, so the generator neither spins nor oversleeps.
//! - An order is counted in the histogram only if its intended time is after the warm-up.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use mio::{Events, Poll, Token};
use peregrine_gateway::alpha;
use peregrine_gateway::ouch::{
    AccountQuery, CancelOrder, Capacity, CrossType, Display, EnterOrder, Inbound, Options,
    Outbound, Side, TimeInForce,
};

use peregrine_feed::itch::MessageRepr;
use peregrine_feed::moldudp64::Packet;
use peregrine_feed::net::{multicast_receiver, MulticastConfig};

use super::member::{MemberConnection, MemberEvent};

/// What to generate.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub addr: SocketAddr,
    /// `(username, password)` of each session.
    pub users: Vec<(String, String)>,
    pub rate_per_s: u64,
    pub duration: Duration,
    pub warmup: Duration,
    pub symbols: Vec<String>,
    /// Price around which orders are placed (units of 1/10,000).
    pub mid_price: u64,
    pub tick: u64,
    /// Orders are priced `mid ± rand(0..=spread_ticks)` ticks; buys and sells overlap so that
    /// some trade.
    pub spread_ticks: u64,
    pub live_orders_max: usize,
    pub seed: u64,
    /// The node's feed: when set, order-to-feed latency is measured too.
    pub feed: Option<MulticastConfig>,
}

/// Running totals (the progress callback sees them every second).
#[derive(Clone, Debug)]
pub struct LoadProgress {
    pub elapsed: Duration,
    pub sent: u64,
    pub acked: u64,
    pub rejected: u64,
    pub executions: u64,
    pub cancels_sent: u64,
    /// Order-to-ack latency, ns, orders after the warm-up.
    pub latency_ns: Histogram<u64>,
    /// The same for the last progress interval only.
    pub interval_latency_ns: Histogram<u64>,
    pub interval_sent: u64,
    pub interval_executions: u64,
    pub interval_rejected: u64,
    /// Orders sent after their intended time by more than 1 ms (the generator fell behind).
    pub late_sends: u64,
    /// Order-to-feed latency, ns: intended send time to the Add Order on the multicast feed
    /// (orders after the warm-up that rested; only with [`LoadOptions::feed`]).
    pub feed_latency_ns: Histogram<u64>,
    /// Feed packets received, and the MoldUDP64 gaps seen in them (loss between node and us).
    pub feed_packets: u64,
    pub feed_gaps: u64,
    /// Measured orders still waiting for their other half (Add Order or Accepted) at the end.
    pub feed_unmatched: u64,
}

struct Session {
    username: String,
    connection: MemberConnection,
    /// Next UserRefNum (from the Account Query answer); 0 until known.
    next_user_ref_num: u32,
    /// Orders awaiting their answer: `(UserRefNum, intended_ns)`, in send order.
    outstanding: VecDeque<(u32, u64)>,
    /// Accepted orders not yet cancelled by us, oldest first.
    live: VecDeque<u32>,
}

fn now_ns() -> u64 {
    super::gateway::clock_ns()
}

/// A small deterministic generator (xorshift64*).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1_000, 60_000_000_000, 3).context("histogram")
}

/// Connects and logs in every session, then asks each for its next UserRefNum.
fn open_sessions(options: &LoadOptions, poll: &Poll) -> anyhow::Result<Vec<Session>> {
    let mut sessions = Vec::with_capacity(options.users.len());
    for (index, (username, password)) in options.users.iter().enumerate() {
        let mut connection =
            MemberConnection::connect(options.addr, username, password, 0, now_ns())?;
        connection.register(poll.registry(), Token(index))?;
        sessions.push(Session {
            username: username.clone(),
            connection,
            next_user_ref_num: 0,
            outstanding: VecDeque::new(),
            live: VecDeque::new(),
        });
    }
    Ok(sessions)
}

/// Polls until every session is logged in and knows its next UserRefNum.
fn wait_ready(poll: &mut Poll, sessions: &mut [Session]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut events = Events::with_capacity(256);
    let mut member_events = Vec::new();
    let mut queried = vec![false; sessions.len()];
    while sessions.iter().any(|s| s.next_user_ref_num == 0) {
        if Instant::now() > deadline {
            bail!("sessions did not log in within 20 s");
        }
        poll.poll(&mut events, Some(Duration::from_millis(10)))?;
        for (index, session) in sessions.iter_mut().enumerate() {
            member_events.clear();
            session.connection.flush();
            session.connection.on_readable(now_ns(), &mut member_events);
            for event in &member_events {
                match event {
                    MemberEvent::LoginRejected(reason) => {
                        bail!("login of {} rejected: {reason}", session.username)
                    }
                    MemberEvent::Closed => bail!("{} disconnected", session.username),
                    MemberEvent::Message {
                        message: Outbound::AccountQueryResponse(answer),
                        ..
                    } => session.next_user_ref_num = answer.next_user_ref_num.max(1),
                    _ => {}
                }
            }
            if session.connection.logged_in && !queried[index] {
                queried[index] = true;
                session
                    .connection
                    .send(&Inbound::AccountQuery(AccountQuery {
                        options: Options::default(),
                    }))?;
                session.connection.flush();
            }
        }
    }
    Ok(())
}

fn enter_message(options: &LoadOptions, random: &mut Random, user_ref_num: u32) -> Inbound {
    let side = if random.next().is_multiple_of(2) {
        Side::Buy
    } else {
        Side::Sell
    };
    let offset_ticks = random.next() % (options.spread_ticks + 1);
    // Buys lean up and sells lean down by half the spread, so the two sides overlap.
    let half = options.spread_ticks / 2;
    let ticks = match side {
        Side::Buy => options.mid_price / options.tick + offset_ticks - half,
        _ => options.mid_price / options.tick + half - offset_ticks,
    };
    let symbol_index = (random.next() % options.symbols.len() as u64) as usize;
    Inbound::EnterOrder(EnterOrder {
        user_ref_num,
        side,
        quantity: 100,
        symbol: alpha::<8>(&options.symbols[symbol_index]),
        price: ticks * options.tick,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: alpha::<14>("LOAD"),
        options: Options::default(),
    })
}

/// Sends order `k` of the schedule (and a cancel when the session has too many live orders).
fn send_one(
    options: &LoadOptions,
    session: &mut Session,
    random: &mut Random,
    intended_ns: u64,
    progress: &mut LoadProgress,
) -> anyhow::Result<()> {
    let user_ref_num = session.next_user_ref_num;
    session.next_user_ref_num += 1;
    session
        .connection
        .send(&enter_message(options, random, user_ref_num))?;
    session.outstanding.push_back((user_ref_num, intended_ns));
    progress.sent += 1;
    progress.interval_sent += 1;
    if session.live.len() > options.live_orders_max {
        if let Some(oldest) = session.live.pop_front() {
            session.connection.send(&Inbound::CancelOrder(CancelOrder {
                user_ref_num: oldest,
                quantity: 0,
                options: Options::default(),
            }))?;
            progress.cancels_sent += 1;
        }
    }
    Ok(())
}

/// Books an answer: latency from the intended time of the order it answers.
fn on_message(
    session: &mut Session,
    message: &Outbound,
    received_ns: u64,
    warmup_end_ns: u64,
    progress: &mut LoadProgress,
    feed: Option<&mut FeedWatch>,
) {
    let (user_ref_num, accepted) = match message {
        Outbound::OrderAccepted(a) => {
            if let (Some(feed), Some(&(num, intended_ns))) = (feed, session.outstanding.front()) {
                if num == a.user_ref_num && intended_ns >= warmup_end_ns {
                    feed.on_accepted(a.order_reference_number, intended_ns, progress);
                }
            }
            (a.user_ref_num, true)
        }
        Outbound::Rejected(r) => (r.user_ref_num, false),
        Outbound::OrderExecuted(_) => {
            progress.executions += 1;
            progress.interval_executions += 1;
            return;
        }
        _ => return,
    };
    while let Some(&(num, intended_ns)) = session.outstanding.front() {
        if num > user_ref_num {
            break;
        }
        session.outstanding.pop_front();
        if num < user_ref_num {
            continue; // unanswered (cannot happen with an in-order server); not measured
        }
        if accepted {
            progress.acked += 1;
            session.live.push_back(num);
        } else {
            progress.rejected += 1;
            progress.interval_rejected += 1;
        }
        if intended_ns >= warmup_end_ns {
            let latency = received_ns.saturating_sub(intended_ns).max(1_000);
            let _ = progress.latency_ns.record(latency);
            let _ = progress.interval_latency_ns.record(latency);
        }
    }
}

/// The poll token of the pacing timer.
const PACER: Token = Token(usize::MAX);
/// The poll token of the feed socket.
const FEED: Token = Token(usize::MAX - 1);

/// The multicast side of order-to-feed measurement: pairs each measured order's Accepted
/// with its Add Order on the feed, whichever arrives first.
struct FeedWatch {
    socket: mio::net::UdpSocket,
    /// The sequence number the next packet should start at (0 before the first).
    next_seq: u64,
    buffer: Box<[u8]>,
    /// Order reference number → intended send time, for accepted orders whose Add Order is not seen.
    waiting_for_feed: std::collections::HashMap<u64, u64>,
    /// Order reference number → arrival time, for Add Orders whose Accepted is not seen yet.
    waiting_for_ack: std::collections::HashMap<u64, u64>,
}

impl FeedWatch {
    fn join(config: &MulticastConfig, poll: &Poll) -> anyhow::Result<FeedWatch> {
        let socket = multicast_receiver(config).context("cannot join the feed group")?;
        socket.set_nonblocking(true)?;
        let mut socket = mio::net::UdpSocket::from_std(socket);
        poll.registry()
            .register(&mut socket, FEED, mio::Interest::READABLE)?;
        Ok(FeedWatch {
            socket,
            next_seq: 0,
            buffer: vec![0u8; 65_536].into_boxed_slice(),
            waiting_for_feed: std::collections::HashMap::with_capacity(1 << 16),
            waiting_for_ack: std::collections::HashMap::with_capacity(1 << 16),
        })
    }

    fn on_accepted(&mut self, order_ref: u64, intended_ns: u64, progress: &mut LoadProgress) {
        match self.waiting_for_ack.remove(&order_ref) {
            Some(arrival_ns) => record_feed(progress, arrival_ns.saturating_sub(intended_ns)),
            None => {
                self.waiting_for_feed.insert(order_ref, intended_ns);
            }
        }
    }

    /// Reads every waiting datagram; Add Orders complete or open a pair.
    fn drain(&mut self, received_ns: u64, progress: &mut LoadProgress) -> anyhow::Result<()> {
        loop {
            let len = match self.socket.recv_from(&mut self.buffer) {
                Ok((len, _)) => len,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error).context("feed socket"),
            };
            progress.feed_packets += 1;
            // Latency needs no sequencing: every Add Order that arrives is timed, in any order;
            // a jump in sequence numbers is only counted (the orders it hid go unmeasured).
            let Ok(packet) = Packet::new_checked(&self.buffer[..len]) else {
                continue;
            };
            if packet.count() == 0 || packet.count() == u16::MAX {
                continue; // heartbeat or end of session
            }
            if self.next_seq != 0 && packet.seq() > self.next_seq {
                progress.feed_gaps += 1;
            }
            self.next_seq = self.next_seq.max(packet.seq() + u64::from(packet.count()));
            for block in packet.blocks() {
                let Ok(block) = block else { break };
                let order_ref = match MessageRepr::parse(block) {
                    Ok(MessageRepr::AddOrder(add)) => add.order.0,
                    Ok(MessageRepr::AddOrderMpid(add)) => add.order.0,
                    _ => continue,
                };
                match self.waiting_for_feed.remove(&order_ref) {
                    Some(intended_ns) => {
                        record_feed(progress, received_ns.saturating_sub(intended_ns))
                    }
                    None => {
                        self.waiting_for_ack.insert(order_ref, received_ns);
                    }
                }
            }
            // Add Orders of orders we never measure (warm-up, other members) would pile up.
            if self.waiting_for_ack.len() > 1 << 20 {
                self.waiting_for_ack.clear();
            }
        }
    }
}

fn record_feed(progress: &mut LoadProgress, latency_ns: u64) {
    let _ = progress.feed_latency_ns.record(latency_ns.max(1_000));
}

/// A `timerfd` on the realtime clock (the clock intended times are on), armed at absolute
/// times: the generator's nanosecond-precision wake-up.
struct Pacer {
    fd: std::os::fd::RawFd,
}

impl Pacer {
    fn new() -> anyhow::Result<Pacer> {
        // SAFETY: plain syscall with constant flags; the result is checked below.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("timerfd_create");
        }
        Ok(Pacer { fd })
    }

    /// Arms the timer to fire at `at_ns` (Unix ns); a time in the past fires at once.
    fn arm_at(&mut self, at_ns: u64) -> anyhow::Result<()> {
        let at_ns = at_ns.max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(at_ns / 1_000_000_000)?,
                tv_nsec: libc::c_long::try_from(at_ns % 1_000_000_000)?,
            },
        };
        // SAFETY: `fd` is our open timerfd; `spec` is a valid itimerspec that outlives the
        // call; the old value is not asked for (null).
        let result = unsafe {
            libc::timerfd_settime(
                self.fd,
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if result < 0 {
            return Err(std::io::Error::last_os_error()).context("timerfd_settime");
        }
        Ok(())
    }

    /// Consumes a pending expiry so the next one raises a fresh readiness edge.
    fn clear(&mut self) {
        let mut expirations = 0u64;
        // SAFETY: reads 8 bytes into a local u64 from our non-blocking timerfd; EAGAIN (no
        // expiry) is fine and ignored.
        let _ = unsafe { libc::read(self.fd, (&mut expirations as *mut u64).cast(), 8) };
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        // SAFETY: closes the fd this struct owns, once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

/// Runs the load; `tick` sees the totals about every second. Returns the final totals.
pub fn run_load(
    options: &LoadOptions,
    mut tick: impl FnMut(&LoadProgress),
) -> anyhow::Result<LoadProgress> {
    anyhow::ensure!(!options.users.is_empty(), "no sessions");
    anyhow::ensure!(options.rate_per_s > 0, "rate must be positive");
    let mut poll = Poll::new()?;
    let mut sessions = open_sessions(options, &poll)?;
    let mut feed = match &options.feed {
        Some(config) => Some(FeedWatch::join(config, &poll)?),
        None => None,
    };
    wait_ready(&mut poll, &mut sessions)?;
    let start_ns = now_ns() + 1_000_000;
    let end_ns = start_ns + u64::try_from(options.duration.as_nanos())?;
    let mut run = Schedule {
        options,
        random: Random(options.seed | 1),
        interval_ns: 1_000_000_000 / options.rate_per_s,
        start_ns,
        end_ns,
        warmup_end_ns: start_ns + u64::try_from(options.warmup.as_nanos())?,
        order_index: 0,
        progress: new_progress()?,
    };
    let mut events = Events::with_capacity(1024);
    let mut pacer = Pacer::new()?;
    let mut source = mio::unix::SourceFd(&pacer.fd);
    poll.registry()
        .register(&mut source, PACER, mio::Interest::READABLE)?;
    let mut member_events = Vec::with_capacity(1024);
    let mut next_tick_ns = start_ns + 1_000_000_000;
    let mut next_timer_ns = start_ns;
    let drain_end_ns = end_ns + 2_000_000_000;
    loop {
        let now = now_ns();
        run.send_due(now, &mut sessions)?;
        let outstanding: usize = sessions.iter().map(|s| s.outstanding.len()).sum();
        if now >= end_ns && (outstanding == 0 || now >= drain_end_ns) {
            break;
        }
        // Block until a response arrives or the next order is due: a timerfd armed at the
        // next intended time gives the wake-up nanosecond precision (epoll's own timeout is
        // in milliseconds), without spinning.
        pacer.arm_at(run.next_send_ns().min(next_timer_ns).min(next_tick_ns))?;
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        pacer.clear();
        let received_ns = now_ns();
        for event in events.iter() {
            if event.token() == FEED {
                if let Some(feed) = feed.as_mut() {
                    feed.drain(received_ns, &mut run.progress)?;
                }
            } else if let Some(session) = sessions.get_mut(event.token().0) {
                run.receive(session, received_ns, &mut member_events, feed.as_mut())?;
            }
        }
        if received_ns >= next_timer_ns {
            next_timer_ns = received_ns + 100_000_000;
            for session in sessions.iter_mut() {
                member_events.clear();
                session.connection.on_timer(received_ns, &mut member_events);
            }
        }
        if received_ns >= next_tick_ns {
            next_tick_ns += 1_000_000_000;
            run.progress.elapsed = Duration::from_nanos(received_ns.saturating_sub(start_ns));
            tick(&run.progress);
            run.progress.start_interval();
        }
    }
    if let Some(feed) = feed.as_mut() {
        // The last Add Orders may still be in flight: give them a moment.
        let settle_end_ns = now_ns() + 200_000_000;
        while !feed.waiting_for_feed.is_empty() && now_ns() < settle_end_ns {
            poll.poll(&mut events, Some(Duration::from_millis(10)))?;
            feed.drain(now_ns(), &mut run.progress)?;
        }
        run.progress.feed_unmatched = feed.waiting_for_feed.len() as u64;
    }
    run.progress.elapsed = Duration::from_nanos(now_ns().saturating_sub(start_ns));
    for session in sessions.iter_mut() {
        session.connection.logout();
    }
    Ok(run.progress)
}

fn new_progress() -> anyhow::Result<LoadProgress> {
    Ok(LoadProgress {
        elapsed: Duration::ZERO,
        sent: 0,
        acked: 0,
        rejected: 0,
        executions: 0,
        cancels_sent: 0,
        latency_ns: new_histogram()?,
        interval_latency_ns: new_histogram()?,
        interval_sent: 0,
        interval_executions: 0,
        interval_rejected: 0,
        late_sends: 0,
        feed_latency_ns: new_histogram()?,
        feed_packets: 0,
        feed_gaps: 0,
        feed_unmatched: 0,
    })
}

impl LoadProgress {
    /// Starts the next progress interval.
    fn start_interval(&mut self) {
        self.interval_latency_ns.reset();
        self.interval_sent = 0;
        self.interval_executions = 0;
        self.interval_rejected = 0;
    }
}

/// The fixed-rate schedule and what it measured.
struct Schedule<'a> {
    options: &'a LoadOptions,
    random: Random,
    interval_ns: u64,
    start_ns: u64,
    end_ns: u64,
    warmup_end_ns: u64,
    /// Orders sent so far; order `k` is intended at `start_ns + k * interval_ns`.
    order_index: u64,
    progress: LoadProgress,
}

impl Schedule<'_> {
    fn intended_ns(&self, index: u64) -> u64 {
        self.start_ns + index * self.interval_ns
    }

    /// When to wake up to send: the next intended time, or in a millisecond when draining.
    fn next_send_ns(&self) -> u64 {
        let next = self.intended_ns(self.order_index);
        if next < self.end_ns {
            next
        } else {
            now_ns() + 1_000_000
        }
    }

    /// Sends every order whose intended time has come, round robin over the sessions.
    fn send_due(&mut self, now: u64, sessions: &mut [Session]) -> anyhow::Result<()> {
        while now < self.end_ns && self.intended_ns(self.order_index) <= now {
            let intended_ns = self.intended_ns(self.order_index);
            if now - intended_ns > 1_000_000 {
                self.progress.late_sends += 1;
            }
            let session_index = (self.order_index % sessions.len() as u64) as usize;
            send_one(
                self.options,
                &mut sessions[session_index],
                &mut self.random,
                intended_ns,
                &mut self.progress,
            )?;
            self.order_index += 1;
        }
        for session in sessions.iter_mut() {
            session.connection.flush();
        }
        Ok(())
    }

    /// Reads one session's socket and books what arrived.
    fn receive(
        &mut self,
        session: &mut Session,
        received_ns: u64,
        member_events: &mut Vec<MemberEvent>,
        mut feed: Option<&mut FeedWatch>,
    ) -> anyhow::Result<()> {
        member_events.clear();
        session.connection.on_readable(received_ns, member_events);
        for member_event in member_events.iter() {
            match member_event {
                MemberEvent::Message { message, .. } => on_message(
                    session,
                    message,
                    received_ns,
                    self.warmup_end_ns,
                    &mut self.progress,
                    feed.as_deref_mut(),
                ),
                MemberEvent::Closed => bail!("{} was disconnected", session.username),
                _ => {}
            }
        }
        Ok(())
    }
}

/// `# NAME p50=… p90=… p99=… p99.9=… p99.99=… max=… count=…` in µs, without the line end.
fn write_percentiles(
    out: &mut impl std::io::Write,
    name: &str,
    h: &Histogram<u64>,
) -> std::io::Result<()> {
    let us = |ns: u64| ns as f64 / 1_000.0;
    write!(out, "# {name}")?;
    for (label, quantile) in [
        ("p50", 0.50),
        ("p90", 0.90),
        ("p99", 0.99),
        ("p99.9", 0.999),
        ("p99.99", 0.9999),
    ] {
        write!(out, " {label}={:.1}", us(h.value_at_quantile(quantile)))?;
    }
    write!(out, " max={:.1} count={}", us(h.max()), h.len())
}

/// The HDR report: a summary line per percentile, then the percentile distribution (`.hgrm`
/// layout: value in µs, percentile, total count, 1/(1-percentile)).
pub fn write_report(
    out: &mut impl std::io::Write,
    title: &str,
    progress: &LoadProgress,
    options: &LoadOptions,
) -> std::io::Result<()> {
    let h = &progress.latency_ns;
    let us = |ns: u64| ns as f64 / 1_000.0;
    writeln!(out, "# {title}")?;
    writeln!(
        out,
        "# sessions={} rate_per_s={} duration_s={:.1} warmup_s={:.1}",
        options.users.len(),
        options.rate_per_s,
        options.duration.as_secs_f64(),
        options.warmup.as_secs_f64()
    )?;
    let seconds = progress.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "# sent={} acked={} rejected={} executions={} cancels={} late_sends={} achieved_orders_per_s={:.0}",
        progress.sent,
        progress.acked,
        progress.rejected,
        progress.executions,
        progress.cancels_sent,
        progress.late_sends,
        (progress.acked + progress.rejected) as f64 / seconds
    )?;
    write_percentiles(out, "order_to_ack_us", h)?;
    writeln!(out)?;
    if options.feed.is_some() {
        write_percentiles(out, "order_to_feed_us", &progress.feed_latency_ns)?;
        writeln!(
            out,
            " feed_packets={} feed_gaps={} unmatched={}",
            progress.feed_packets, progress.feed_gaps, progress.feed_unmatched
        )?;
    }
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}",
        "Value(us)", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total_count = 0;
    for value in h.iter_quantiles(2) {
        total_count += value.count_since_last_iteration();
        let quantile = value.quantile_iterated_to();
        let inverse = if quantile < 1.0 {
            1.0 / (1.0 - quantile)
        } else {
            f64::INFINITY
        };
        writeln!(
            out,
            "{:>12.3} {:>14.12} {:>10} {:>14.2}",
            us(value.value_iterated_to()),
            quantile,
            total_count,
            inverse
        )?;
    }
    Ok(())
}
