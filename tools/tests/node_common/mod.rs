//! Shared helpers of the node's end-to-end tests: start the real `peregrine run` process on a
//! free loopback port with a fresh data directory, and a blocking member client built on the
//! gateway crate's sans-IO `ClientSession` and OUCH codecs.
//!
//! Waiting is by polling with a generous deadline: tests assert what arrives, never how fast.

#![allow(dead_code)]

pub mod books;
pub mod bypass_config;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use peregrine_gateway::alpha;
use peregrine_gateway::client::{ClientEvent, ClientSession, CLIENT_CONTROL_PACKET_MAX};
use peregrine_gateway::ouch::options::Options;
use peregrine_gateway::ouch::{
    CancelOrder, Capacity, CrossType, Display, EnterOrder, Inbound, Outbound, ReplaceOrder, Side,
    TimeInForce,
};
use peregrine_gateway::session::SessionConfig;
use peregrine_gateway::soupbintcp::{LoginRejectReason, LoginRequest};

/// Long enough for a debug build on a loaded 2-core machine; only failures wait this long.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A running `peregrine run` process.
pub struct NodeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    stderr_path: PathBuf,
}

/// The embedded default configuration's text, for tests that change a few keys.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

impl NodeProcess {
    /// Starts the node with `config` (TOML text, written into `data_dir`), on `127.0.0.1:0`.
    pub fn start_with_config(data_dir: &Path, config: &str, extra: &[&str]) -> NodeProcess {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let path = data_dir.join("node.toml");
        std::fs::write(&path, config).expect("config");
        let path = path.to_string_lossy().into_owned();
        let mut args = vec!["--config", path.as_str()];
        args.extend_from_slice(extra);
        NodeProcess::start(data_dir, &args)
    }

    /// Starts the node with the embedded default config on `127.0.0.1:0`, data in `data_dir`.
    pub fn start(data_dir: &Path, extra: &[&str]) -> NodeProcess {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let stderr_path = data_dir.join(format!("node-{}.stderr", unique()));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
            .arg("run")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn peregrine");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        NodeProcess {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            stderr_path,
        }
    }

    /// The node's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGTERM, then waits for a clean exit; returns the exit status success.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "node did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn now_ns() -> u64 {
    u64::try_from(unique()).unwrap_or(u64::MAX)
}

/// How a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Accepted { next_seq: u64 },
    Rejected(LoginRejectReason),
}

/// A member connection: blocking socket, client session, every sequenced message received.
pub struct Member {
    stream: TcpStream,
    session: ClientSession,
    rx: Vec<u8>,
    rx_len: usize,
    /// `(seq, message)` in arrival order.
    pub received: Vec<(u64, Outbound)>,
    pub next_user_ref_num: u32,
    pub closed: bool,
}

pub fn login_request(user: &str, password: &str, requested_seq: u64) -> LoginRequest {
    LoginRequest {
        username: alpha::<6>(user),
        password: alpha::<10>(password),
        requested_session: [b' '; 10],
        requested_seq,
    }
}

impl Member {
    /// Connects and logs in; returns the member and how the login ended.
    pub fn login(
        addr: SocketAddr,
        user: &str,
        password: &str,
        requested_seq: u64,
    ) -> (Member, Login) {
        Member::login_with(addr, login_request(user, password, requested_seq))
    }

    /// Logs in, retrying while the node still holds the user's previous connection (it has
    /// not yet seen that connection drop): what a member's reconnect loop does.
    pub fn relogin(
        addr: SocketAddr,
        user: &str,
        password: &str,
        requested_seq: u64,
    ) -> (Member, Login) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let (member, login) = Member::login(addr, user, password, requested_seq);
            if login != Login::Rejected(LoginRejectReason::SessionNotAvailable) {
                return (member, login);
            }
            assert!(
                Instant::now() < deadline,
                "re-login of {user} kept being refused"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Logs in with client heartbeats switched off (an hour apart): a member that only
    /// speaks when it has orders, so a server that waits for more bytes before handling what
    /// it already has would stall it until the peer timeout.
    pub fn login_silent(addr: SocketAddr, user: &str, password: &str) -> (Member, Login) {
        let config = SessionConfig {
            heartbeat_interval_ns: 3_600_000_000_000,
            ..SessionConfig::default()
        };
        Member::login_configured(addr, login_request(user, password, 0), config)
    }

    pub fn login_with(addr: SocketAddr, request: LoginRequest) -> (Member, Login) {
        Member::login_configured(addr, request, SessionConfig::default())
    }

    fn login_configured(
        addr: SocketAddr,
        request: LoginRequest,
        config: SessionConfig,
    ) -> (Member, Login) {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let mut member = Member {
            stream,
            session: ClientSession::new(config, now_ns(), request),
            rx: vec![0; 1 << 20],
            rx_len: 0,
            received: Vec::new(),
            next_user_ref_num: 1,
            closed: false,
        };
        member.flush_control();
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < deadline, "no login answer");
            for event in member.pump() {
                match event {
                    ClientEvent::LoginAccepted { next_seq, .. } => {
                        return (member, Login::Accepted { next_seq });
                    }
                    ClientEvent::LoginRejected(reason) => return (member, Login::Rejected(reason)),
                    _ => {}
                }
            }
        }
    }

    /// The next sequence number this client expects (what a re-login should ask for).
    pub fn next_seq(&self) -> u64 {
        self.session.next_seq()
    }

    fn flush_control(&mut self) {
        let mut buffer = [0u8; CLIENT_CONTROL_PACKET_MAX];
        loop {
            let written = self.session.poll_transmit(&mut buffer);
            if written == 0 {
                return;
            }
            if self.stream.write_all(&buffer[..written]).is_err() {
                self.closed = true;
                return;
            }
        }
    }

    /// Reads what has arrived (waits up to the read timeout) and returns the session events;
    /// sequenced messages are also appended to `received`.
    pub fn pump(&mut self) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        self.session.handle_timeout(now_ns());
        self.flush_control();
        match self.stream.read(&mut self.rx[self.rx_len..]) {
            Ok(0) => self.closed = true,
            Ok(count) => self.rx_len += count,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.closed = true,
        }
        loop {
            let consumed = self.session.handle_input(now_ns(), &self.rx[..self.rx_len]);
            while let Some(event) = self.session.poll_event() {
                if let ClientEvent::Sequenced { seq, start, end } = event {
                    let message = Outbound::parse(&self.rx[start..end])
                        .unwrap_or_else(|error| panic!("bad outbound message: {error}"));
                    self.received.push((seq, message));
                }
                events.push(event);
            }
            if consumed == 0 {
                break;
            }
            self.rx.copy_within(consumed..self.rx_len, 0);
            self.rx_len -= consumed;
        }
        events
    }

    /// Sends raw bytes (hostile-input tests).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    pub fn send(&mut self, message: &Inbound) {
        let mut payload = vec![0u8; message.buffer_len()];
        let written = message.emit(&mut payload);
        let mut packet = vec![0u8; written + 3];
        let length = self
            .session
            .send_unsequenced(&payload[..written], &mut packet)
            .expect("frame");
        self.stream.write_all(&packet[..length]).expect("send");
    }

    /// Enters a limit DAY order with the next UserRefNum; returns that number.
    pub fn enter(&mut self, symbol: &str, side: Side, quantity: u32, price: u64) -> u32 {
        let user_ref_num = self.next_user_ref_num;
        self.next_user_ref_num += 1;
        self.send(&Inbound::EnterOrder(enter_order(
            user_ref_num,
            symbol,
            side,
            quantity,
            price,
        )));
        user_ref_num
    }

    pub fn cancel(&mut self, user_ref_num: u32) {
        self.send(&Inbound::CancelOrder(CancelOrder {
            user_ref_num,
            quantity: 0,
            options: Options::default(),
        }));
    }

    /// Replaces an order with a new price and quantity; returns the new UserRefNum.
    pub fn replace(&mut self, orig_user_ref_num: u32, quantity: u32, price: u64) -> u32 {
        let user_ref_num = self.next_user_ref_num;
        self.next_user_ref_num += 1;
        self.send(&Inbound::ReplaceOrder(ReplaceOrder {
            orig_user_ref_num,
            user_ref_num,
            quantity,
            price,
            time_in_force: TimeInForce::Day,
            display: Display::Visible,
            intermarket_sweep: false,
            cl_ord_id: alpha::<14>("REPL"),
            options: Options::default(),
        }));
        user_ref_num
    }

    /// Pumps until `pick` matches a received message (searching from `from`), or panics.
    pub fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&Outbound) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        let mut checked = 0;
        loop {
            while checked < self.received.len() {
                if let Some(found) = pick(&self.received[checked].1) {
                    return found;
                }
                checked += 1;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {:?}",
                self.received
            );
            assert!(!self.closed, "connection closed waiting for {what}");
            self.pump();
        }
    }

    /// Pumps until the session has received `count` sequenced messages in total.
    pub fn wait_count(&mut self, count: usize) {
        let deadline = Instant::now() + DEADLINE;
        while self.received.len() < count {
            assert!(
                Instant::now() < deadline,
                "timed out at {} of {count} messages: {:?}",
                self.received.len(),
                self.received
            );
            self.pump();
        }
    }

    /// Pumps for `duration` and returns what arrived meanwhile (to check that nothing does).
    pub fn settle(&mut self, duration: Duration) -> usize {
        let before = self.received.len();
        let until = Instant::now() + duration;
        while Instant::now() < until {
            self.pump();
        }
        self.received.len() - before
    }

    /// Pumps until the server closes the connection.
    pub fn wait_closed(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        while !self.closed {
            assert!(
                Instant::now() < deadline,
                "server did not close the connection"
            );
            self.pump();
        }
    }

    pub fn logout(&mut self) {
        self.session.logout();
        self.flush_control();
    }
}

pub fn enter_order(
    user_ref_num: u32,
    symbol: &str,
    side: Side,
    quantity: u32,
    price: u64,
) -> EnterOrder {
    EnterOrder {
        user_ref_num,
        side,
        quantity,
        symbol: alpha::<8>(symbol),
        price,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: alpha::<14>(&format!("C{user_ref_num}")),
        options: Options::default(),
    }
}

/// A fresh data directory in the system's temp dir: removed when the test passes, kept
/// (for a post-mortem: node logs, journal, session logs) when it fails.
pub struct TestDir(PathBuf);

impl std::ops::Deref for TestDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn data_dir(name: &str) -> TestDir {
    let dir = std::env::temp_dir().join(format!("peregrine-node-test-{name}-{}", unique()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    TestDir(dir)
}
