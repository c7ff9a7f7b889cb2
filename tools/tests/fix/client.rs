//! A small blocking FIX 4.4 member for the node's tests, built on the gateway crate's codec
//! (`peregrine_gateway::fix`): it logs on, sends application messages with its own MsgSeqNum,
//! answers TestRequests, and keeps every message received as a tag → value map.
//!
//! Waiting polls with a generous deadline: tests assert what arrives, never how fast.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use peregrine_gateway::fix::codec::{frame, Fields};
use peregrine_gateway::fix::session::{compose_message, Header, Text};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// One received message: tag → value (the first of repeated tags).
pub type Message = BTreeMap<u32, String>;

pub struct FixClient {
    stream: TcpStream,
    sender: Text,
    target: Text,
    pub next_out: u64,
    rx: Vec<u8>,
    pub received: Vec<Message>,
    pub closed: bool,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The FIX listen address the node wrote into its data directory.
pub fn fix_addr(data_dir: &Path) -> SocketAddr {
    let path = data_dir.join("fix.addr");
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(addr) = text.trim().parse() {
                return addr;
            }
        }
        assert!(Instant::now() < deadline, "no {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn field(message: &Message, tag: u32) -> &str {
    message.get(&tag).map_or("", String::as_str)
}

impl FixClient {
    pub fn connect(addr: SocketAddr, sender: &str) -> FixClient {
        let stream = TcpStream::connect(addr).expect("connect to the FIX listener");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        FixClient {
            stream,
            sender: Text::new(sender.as_bytes()).expect("sender"),
            target: Text::new(b"PEREGRINE").expect("target"),
            next_out: 1,
            rx: Vec::new(),
            received: Vec::new(),
            closed: false,
        }
    }

    /// Frames and sends one message with the next MsgSeqNum.
    pub fn send(&mut self, msg_type: &str, fields: &[(u32, &str)]) {
        let seq = self.next_out;
        self.send_with_seq(msg_type, seq, fields);
        self.next_out += 1;
    }

    pub fn send_with_seq(&mut self, msg_type: &str, seq: u64, fields: &[(u32, &str)]) {
        let mut buffer = [0u8; 4096];
        let header = Header {
            msg_type: msg_type.as_bytes(),
            seq,
            sending_ns: now_ns(),
            poss_dup: None,
        };
        let len = compose_message(&mut buffer, (&self.sender, &self.target), &header, |w| {
            for (tag, value) in fields {
                w.bytes(*tag, value.as_bytes());
            }
        })
        .expect("message fits");
        self.send_raw(&buffer[..len]);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        if self.stream.write_all(bytes).is_err() {
            self.closed = true;
        }
    }

    /// Sends a Logon (HeartBtInt 30 s unless given) and waits for the answer.
    pub fn logon(&mut self, username: &str, password: &str, reset: bool) -> Message {
        let mut fields = vec![(98, "0"), (108, "30"), (553, username), (554, password)];
        if reset {
            fields.push((141, "Y"));
        }
        self.send("A", &fields);
        self.wait_for("Logon or Logout", |m| {
            matches!(field(m, 35), "A" | "5").then(|| m.clone())
        })
    }

    /// Reads what is there (up to ~20 ms); answers TestRequests.
    pub fn poll(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => self.closed = true,
            Ok(count) => self.rx.extend_from_slice(&chunk[..count]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.closed = true,
        }
        loop {
            let len = match frame(&self.rx) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(error) => panic!("the gateway sent a bad frame: {error}"),
            };
            let bytes: Vec<u8> = self.rx.drain(..len).collect();
            let fields = Fields::parse(&bytes).expect("the gateway's fields parse");
            let mut message = Message::new();
            for (tag, value) in fields.iter() {
                message
                    .entry(tag)
                    .or_insert_with(|| String::from_utf8_lossy(value).into_owned());
            }
            if field(&message, 35) == "1" {
                let id = field(&message, 112).to_string();
                self.send("0", &[(112, &id)]);
            }
            self.received.push(message);
        }
    }

    /// Polls until `pick` accepts a message received from now on (or earlier and unseen by
    /// previous waits); panics at the deadline.
    pub fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&Message) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        let mut checked = 0;
        loop {
            while checked < self.received.len() {
                let message = self.received[checked].clone();
                checked += 1;
                if let Some(found) = pick(&message) {
                    self.received.remove(checked - 1);
                    return found;
                }
            }
            assert!(
                Instant::now() < deadline && !self.closed,
                "FIX: no {what}; received {:?}",
                self.received
            );
            self.poll();
        }
    }

    /// Polls until the gateway closes the connection.
    pub fn wait_closed(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        while !self.closed {
            assert!(Instant::now() < deadline, "FIX connection not closed");
            self.poll();
        }
    }

    /// A NewOrderSingle (limit, day).
    pub fn new_order(&mut self, cl_ord_id: &str, side: &str, qty: &str, price: &str, symbol: &str) {
        let fields = [
            (11, cl_ord_id),
            (55, symbol),
            (54, side),
            (60, "20260101-00:00:00.000"),
            (38, qty),
            (40, "2"),
            (44, price),
            (59, "0"),
        ];
        self.send("D", &fields);
    }

    /// Waits for the ExecutionReport of `cl_ord_id` with ExecType `exec_type`.
    pub fn report(&mut self, cl_ord_id: &str, exec_type: &str) -> Message {
        let what = format!("ExecutionReport {cl_ord_id} 150={exec_type}");
        self.wait_for(&what, |m| {
            (field(m, 35) == "8" && field(m, 11) == cl_ord_id && field(m, 150) == exec_type)
                .then(|| m.clone())
        })
    }
}
