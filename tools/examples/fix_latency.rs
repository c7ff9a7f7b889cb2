//! Order-to-ack latency over FIX beside OUCH, in the same run against the same node: a
//! closed loop that alternates one OUCH Enter Order (until its Order Accepted) and one FIX
//! NewOrderSingle (until its ExecutionReport New), from two members of two firms, at prices
//! that never trade. Prints median, p99, p99.9 and max of each (HDR histograms) and the
//! FIX/OUCH ratio of the medians.
//!
//! Run: `cargo build --release -p peregrine-tools --bin peregrine --example fix_latency &&
//! target/release/examples/fix_latency [ORDERS] [WAIT]` (ORDERS per protocol, default 5000;
//! WAIT the node's wait strategy, default `spin-then-yield:2000`, so that both listeners are
//! polled every turn). The node binary is looked for next to the examples directory, or in
//! `PEREGRINE_BIN`.

#[path = "../tests/fix/client.rs"]
mod fix_client;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fix_client::{field, fix_addr, FixClient};
use hdrhistogram::Histogram;
use peregrine_gateway::alpha;
use peregrine_gateway::client::{ClientEvent, ClientSession, CLIENT_CONTROL_PACKET_MAX};
use peregrine_gateway::ouch::inbound::EnterOrder;
use peregrine_gateway::ouch::{
    Capacity, CrossType, Display, Inbound, Options, Outbound, Side, TimeInForce,
};
use peregrine_gateway::session::SessionConfig;
use peregrine_gateway::soupbintcp::LoginRequest;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A blocking OUCH member, just enough for the loop.
struct Ouch {
    stream: TcpStream,
    session: ClientSession,
    rx: Vec<u8>,
    rx_len: usize,
}

impl Ouch {
    fn login(addr: SocketAddr, user: &str, password: &str) -> Ouch {
        let stream = TcpStream::connect(addr).expect("connect OUCH");
        stream.set_nodelay(true).expect("nodelay");
        let request = LoginRequest {
            username: alpha::<6>(user),
            password: alpha::<10>(password),
            requested_session: [b' '; 10],
            requested_seq: 0,
        };
        let config = SessionConfig::default();
        let mut ouch = Ouch {
            stream,
            session: ClientSession::new(config, now_ns(), request),
            rx: vec![0; 1 << 20],
            rx_len: 0,
        };
        ouch.flush();
        while !ouch.pump(|event, _| matches!(event, ClientEvent::LoginAccepted { .. })) {}
        ouch
    }

    fn flush(&mut self) {
        let mut buffer = [0u8; CLIENT_CONTROL_PACKET_MAX];
        loop {
            let written = self.session.poll_transmit(&mut buffer);
            if written == 0 {
                return;
            }
            self.stream.write_all(&buffer[..written]).expect("write");
        }
    }

    /// Reads once; true when `done` accepts an event.
    fn pump(&mut self, mut done: impl FnMut(&ClientEvent, &[u8]) -> bool) -> bool {
        self.session.handle_timeout(now_ns());
        self.flush();
        let count = self.stream.read(&mut self.rx[self.rx_len..]).expect("read");
        assert!(count > 0, "OUCH connection closed");
        self.rx_len += count;
        let mut found = false;
        loop {
            let consumed = self.session.handle_input(now_ns(), &self.rx[..self.rx_len]);
            while let Some(event) = self.session.poll_event() {
                let payload = match event {
                    ClientEvent::Sequenced { start, end, .. } => &self.rx[start..end],
                    _ => &[][..],
                };
                found |= done(&event, payload);
            }
            if consumed == 0 {
                return found;
            }
            self.rx.copy_within(consumed..self.rx_len, 0);
            self.rx_len -= consumed;
        }
    }

    fn enter(&mut self, user_ref_num: u32) {
        let message = Inbound::EnterOrder(EnterOrder {
            user_ref_num,
            side: Side::Buy,
            quantity: 100,
            symbol: alpha::<8>("MSFT"),
            price: 10_000,
            time_in_force: TimeInForce::Day,
            display: Display::Visible,
            capacity: Capacity::Agency,
            intermarket_sweep: false,
            cross_type: CrossType::Continuous,
            cl_ord_id: alpha::<14>("LAT"),
            options: Options::default(),
        });
        let mut payload = [0u8; 256];
        let written = message.emit(&mut payload[..message.buffer_len()]);
        let mut packet = [0u8; 300];
        let len = self
            .session
            .send_unsequenced(&payload[..written], &mut packet)
            .expect("frame");
        self.stream.write_all(&packet[..len]).expect("send");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let orders: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let wait = args
        .next()
        .unwrap_or_else(|| "spin-then-yield:2000".to_string());
    let binary = std::env::var_os("PEREGRINE_BIN").map_or_else(
        || {
            let exe = std::env::current_exe().expect("current exe");
            exe.parent()
                .and_then(|p| p.parent())
                .expect("target dir")
                .join("peregrine")
        },
        std::path::PathBuf::from,
    );
    let dir = std::env::temp_dir().join(format!("peregrine-fix-latency-{}", now_ns()));
    std::fs::create_dir_all(&dir).expect("data dir");
    let mut node = Command::new(&binary)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--no-feed",
            "--wait",
            &wait,
            "--data-dir",
        ])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
    let mut line = String::new();
    BufReader::new(node.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let ouch_addr: SocketAddr = line
        .trim()
        .trim_start_matches("listening on ")
        .parse()
        .expect("addr");
    let mut ouch = Ouch::login(ouch_addr, "ALICE", "alice");
    let mut fix = FixClient::connect(fix_addr(&dir), "FIXB");
    fix.logon("FIXB", "fixb", false);

    let mut ouch_ns = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram");
    let mut fix_ns = ouch_ns.clone();
    let warmup = orders / 10;
    for index in 0..orders + warmup {
        let user_ref_num = index + 1;
        let started = Instant::now();
        ouch.enter(user_ref_num);
        while !ouch.pump(|event, payload| {
            matches!(event, ClientEvent::Sequenced { .. })
                && matches!(Outbound::parse(payload), Ok(Outbound::OrderAccepted(a)) if a.user_ref_num == user_ref_num)
        }) {}
        let ouch_elapsed = started.elapsed();
        let cl_ord_id = format!("L{index}");
        let started = Instant::now();
        fix.new_order(&cl_ord_id, "2", "100", "999", "MSFT");
        let report = fix.report(&cl_ord_id, "0");
        let fix_elapsed = started.elapsed();
        assert_eq!(field(&report, 39), "0");
        fix.received.clear();
        if index >= warmup {
            ouch_ns
                .record(ouch_elapsed.as_nanos() as u64)
                .expect("record");
            fix_ns
                .record(fix_elapsed.as_nanos() as u64)
                .expect("record");
        }
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(node.id().to_string())
        .status();
    let _ = node.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
    println!("order-to-ack round trip over loopback, {orders} orders each, node wait {wait}");
    println!(
        "{:<6} {:>10} {:>10} {:>10} {:>10}",
        "proto", "p50 us", "p99 us", "p99.9 us", "max us"
    );
    for (name, h) in [("OUCH", &ouch_ns), ("FIX", &fix_ns)] {
        println!(
            "{name:<6} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            us(h, 0.5),
            us(h, 0.99),
            us(h, 0.999),
            h.max() as f64 / 1_000.0
        );
    }
    println!(
        "FIX/OUCH median ratio {:.2}",
        us(&fix_ns, 0.5) / us(&ouch_ns, 0.5)
    );
    let _ = Duration::ZERO;
}
