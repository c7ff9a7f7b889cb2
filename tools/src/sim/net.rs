//! The simulated network: an in-memory [`Transport`] for the gateway, with a client side for
//! the simulated members. Every byte stream is a queue of chunks, each delivered at a seeded
//! time; reads and writes move seeded partial amounts; a slow reader fills its queue until
//! the gateway's writes block; a reset kills a connection in both directions.
//!
//! A node crash drops the gateway and with it this network (as a process's sockets die with
//! it): members hold a [`ClientConn`] tagged with the network's epoch, and any call with a
//! stale epoch fails with `ConnectionReset`.
//!
//! # Invariants
//! - Bytes arrive in order, each exactly once, never before their delivery time and never
//!   after a reset.
//! - A server queue never holds more than `SERVER_QUEUE_BYTES` (writes beyond it block).
//! - The gateway's slots map to at most one connection each, and only between `accept` and
//!   `close`.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use super::rng::Rng;
use crate::node::transport::{Clock, Ready, Transport};

/// Bytes the gateway may have in flight towards one member (its socket send buffer).
const SERVER_QUEUE_BYTES: usize = 16 * 1024;
/// Bytes a member may have in flight towards the gateway.
const CLIENT_QUEUE_BYTES: usize = 64 * 1024;

/// Fault rates of the network, per million operations.
#[derive(Clone, Copy, Debug)]
pub struct NetFaults {
    /// Longest delivery delay of a chunk.
    pub delay_ns_max: u64,
    /// Chance that a read or write moves only part of what it could.
    pub partial_per_million: u64,
    /// Chance per poll that one established connection is reset.
    pub reset_per_million: u64,
}

impl NetFaults {
    /// A network that only delays (used while settling).
    pub const CALM: NetFaults = NetFaults {
        delay_ns_max: 50_000,
        partial_per_million: 0,
        reset_per_million: 0,
    };
}

/// One direction of a connection.
#[derive(Default)]
struct Pipe {
    chunks: VecDeque<(u64, Vec<u8>)>,
    /// Bytes of the front chunk already read.
    front_read: usize,
    bytes: usize,
}

impl Pipe {
    fn push(&mut self, deliver_ns: u64, bytes: &[u8]) {
        // Never before an earlier chunk: a stream is ordered.
        let at_ns = self
            .chunks
            .back()
            .map_or(deliver_ns, |c| c.0.max(deliver_ns));
        self.chunks.push_back((at_ns, bytes.to_vec()));
        self.bytes += bytes.len();
    }

    fn delivered(&self, now_ns: u64) -> bool {
        self.chunks.front().is_some_and(|c| c.0 <= now_ns)
    }

    fn read(&mut self, now_ns: u64, buffer: &mut [u8], limit: usize) -> usize {
        let mut copied = 0;
        let limit = limit.min(buffer.len());
        while copied < limit && self.delivered(now_ns) {
            let Some((_, chunk)) = self.chunks.front() else {
                break;
            };
            let available = &chunk[self.front_read..];
            let count = available.len().min(limit - copied);
            buffer[copied..copied + count].copy_from_slice(&available[..count]);
            copied += count;
            self.front_read += count;
            if self.front_read == chunk.len() {
                self.chunks.pop_front();
                self.front_read = 0;
            }
        }
        self.bytes -= copied;
        copied
    }
}

#[derive(Default)]
struct Conn {
    to_server: Pipe,
    to_client: Pipe,
    client_closed: bool,
    server_closed: bool,
    reset: bool,
    slot: Option<usize>,
}

/// A member's end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConn {
    epoch: u64,
    id: u64,
}

/// The in-memory network and the gateway's transport over it.
pub struct SimNet {
    epoch: u64,
    clock: Clock,
    rng: Rng,
    pub faults: NetFaults,
    conns: BTreeMap<u64, Conn>,
    backlog: VecDeque<u64>,
    slots: BTreeMap<usize, u64>,
    next_id: u64,
    listening: bool,
}

fn reset() -> io::Error {
    io::Error::from(ErrorKind::ConnectionReset)
}

impl SimNet {
    pub fn new(epoch: u64, clock: Clock, rng: Rng, faults: NetFaults) -> SimNet {
        SimNet {
            epoch,
            clock,
            rng,
            faults,
            conns: BTreeMap::new(),
            backlog: VecDeque::new(),
            slots: BTreeMap::new(),
            next_id: 1,
            listening: true,
        }
    }

    fn deliver_ns(&mut self) -> u64 {
        self.clock.now_ns() + self.rng.below(self.faults.delay_ns_max + 1)
    }

    /// How much of `wanted` bytes one call moves: all, or a seeded part.
    fn amount(&mut self, wanted: usize) -> usize {
        if wanted > 1 && self.rng.chance(self.faults.partial_per_million) {
            return 1 + self.rng.below(wanted as u64 - 1) as usize;
        }
        wanted
    }

    fn client(&mut self, conn: ClientConn) -> io::Result<&mut Conn> {
        if conn.epoch != self.epoch {
            return Err(reset());
        }
        self.conns.get_mut(&conn.id).ok_or_else(reset)
    }

    /// Starts a connection to the gateway (refused at once if it stopped listening).
    pub fn connect(&mut self) -> ClientConn {
        let id = self.next_id;
        self.next_id += 1;
        let conn = Conn {
            reset: !self.listening,
            ..Conn::default()
        };
        self.conns.insert(id, conn);
        if self.listening {
            self.backlog.push_back(id);
        }
        ClientConn {
            epoch: self.epoch,
            id,
        }
    }

    pub fn client_write(&mut self, conn: ClientConn, bytes: &[u8]) -> io::Result<usize> {
        let deliver_ns = self.deliver_ns();
        let wanted = self.amount(bytes.len());
        let state = self.client(conn)?;
        if state.reset || state.server_closed || state.client_closed {
            return Err(io::Error::from(ErrorKind::BrokenPipe));
        }
        let room = CLIENT_QUEUE_BYTES.saturating_sub(state.to_server.bytes);
        let count = wanted.min(room);
        if count == 0 {
            return Err(io::Error::from(ErrorKind::WouldBlock));
        }
        state.to_server.push(deliver_ns, &bytes[..count]);
        Ok(count)
    }

    pub fn client_read(&mut self, conn: ClientConn, buffer: &mut [u8]) -> io::Result<usize> {
        let now_ns = self.clock.now_ns();
        let limit = self.amount(buffer.len());
        let state = self.client(conn)?;
        if state.reset {
            return Err(reset());
        }
        let count = state.to_client.read(now_ns, buffer, limit);
        if count > 0 {
            return Ok(count);
        }
        if state.server_closed && state.to_client.bytes == 0 {
            return Ok(0);
        }
        Err(io::Error::from(ErrorKind::WouldBlock))
    }

    /// The member closes its end (bytes already sent still arrive, then end of stream).
    pub fn client_close(&mut self, conn: ClientConn) {
        if let Ok(state) = self.client(conn) {
            state.client_closed = true;
        }
        self.collect();
    }

    /// Bytes in flight anywhere (settling waits for zero).
    pub fn bytes_in_flight(&self) -> usize {
        self.conns
            .values()
            .filter(|c| !c.reset)
            .map(|c| c.to_server.bytes + c.to_client.bytes)
            .sum()
    }

    /// Drops connections both ends closed.
    fn collect(&mut self) {
        // Once both ends are gone nobody can read what is still queued.
        self.conns
            .retain(|_, c| !(c.slot.is_none() && c.server_closed && (c.client_closed || c.reset)));
    }

    fn maybe_reset_one(&mut self) {
        if self.slots.is_empty() || !self.rng.chance(self.faults.reset_per_million) {
            return;
        }
        let pick = self.rng.below(self.slots.len() as u64) as usize;
        if let Some(id) = self.slots.values().nth(pick).copied() {
            if let Some(state) = self.conns.get_mut(&id) {
                state.reset = true;
            }
        }
    }

    fn server(&mut self, slot: usize) -> io::Result<&mut Conn> {
        let id = *self
            .slots
            .get(&slot)
            .ok_or_else(|| io::Error::from(ErrorKind::NotConnected))?;
        self.conns.get_mut(&id).ok_or_else(reset)
    }
}

impl Transport for SimNet {
    fn local_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 15_000))
    }

    fn poll(&mut self, _timeout: Option<Duration>, ready: &mut Vec<Ready>) -> io::Result<()> {
        self.maybe_reset_one();
        if self.listening && !self.backlog.is_empty() {
            ready.push(Ready::Accept);
        }
        let now_ns = self.clock.now_ns();
        for (&slot, id) in &self.slots {
            let Some(state) = self.conns.get(id) else {
                continue;
            };
            let readable = state.reset || state.client_closed || state.to_server.delivered(now_ns);
            let writable = state.to_client.bytes < SERVER_QUEUE_BYTES;
            if readable || writable {
                ready.push(Ready::Connection {
                    slot,
                    readable,
                    writable,
                });
            }
        }
        Ok(())
    }

    fn accept(&mut self, slot: usize) -> io::Result<Option<SocketAddr>> {
        if self.slots.contains_key(&slot) {
            return Err(io::Error::new(ErrorKind::InvalidInput, "slot not free"));
        }
        let Some(id) = self.backlog.pop_front() else {
            return Ok(None);
        };
        if let Some(state) = self.conns.get_mut(&id) {
            state.slot = Some(slot);
        }
        self.slots.insert(slot, id);
        let port = u16::try_from(id % 50_000).unwrap_or(0) + 10_000;
        Ok(Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, 0, 0, 2),
            port,
        ))))
    }

    fn read(&mut self, slot: usize, buffer: &mut [u8]) -> io::Result<usize> {
        let now_ns = self.clock.now_ns();
        let limit = self.amount(buffer.len());
        let state = self.server(slot)?;
        if state.reset {
            return Err(reset());
        }
        let count = state.to_server.read(now_ns, buffer, limit);
        if count > 0 {
            return Ok(count);
        }
        if state.client_closed && state.to_server.bytes == 0 {
            return Ok(0);
        }
        Err(io::Error::from(ErrorKind::WouldBlock))
    }

    fn write(&mut self, slot: usize, bytes: &[u8]) -> io::Result<usize> {
        let deliver_ns = self.deliver_ns();
        let wanted = self.amount(bytes.len());
        let state = self.server(slot)?;
        if state.reset || state.client_closed {
            return Err(io::Error::from(ErrorKind::BrokenPipe));
        }
        let room = SERVER_QUEUE_BYTES.saturating_sub(state.to_client.bytes);
        let count = wanted.min(room);
        if count == 0 {
            return Err(io::Error::from(ErrorKind::WouldBlock));
        }
        state.to_client.push(deliver_ns, &bytes[..count]);
        Ok(count)
    }

    fn close(&mut self, slot: usize) {
        if let Some(id) = self.slots.remove(&slot) {
            if let Some(state) = self.conns.get_mut(&id) {
                state.server_closed = true;
                state.slot = None;
            }
        }
        self.collect();
    }

    fn stop_listening(&mut self) {
        self.listening = false;
        for id in self.backlog.drain(..) {
            if let Some(state) = self.conns.get_mut(&id) {
                state.reset = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> (SimNet, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        let (clock, time) = Clock::manual(1_000);
        let faults = NetFaults {
            delay_ns_max: 100,
            partial_per_million: 500_000,
            reset_per_million: 0,
        };
        (SimNet::new(1, clock, Rng::new(3), faults), time)
    }

    #[test]
    fn bytes_arrive_in_order_once_after_their_delay() {
        let (mut net, time) = net();
        let client = net.connect();
        assert!(net.accept(0).unwrap().is_some());
        let message: Vec<u8> = (0..=255).collect();
        let mut sent = 0;
        while sent < message.len() {
            sent += net.client_write(client, &message[sent..]).unwrap();
        }
        let mut got = Vec::new();
        let mut buffer = [0u8; 64];
        for _ in 0..10_000 {
            match net.read(0, &mut buffer) {
                Ok(count) => got.extend_from_slice(&buffer[..count]),
                Err(error) => assert_eq!(error.kind(), ErrorKind::WouldBlock),
            }
            time.fetch_add(7, std::sync::atomic::Ordering::Relaxed);
        }
        assert_eq!(got, message);
        net.client_close(client);
        assert_eq!(net.read(0, &mut buffer).unwrap(), 0);
    }

    #[test]
    fn stale_epoch_and_reset_fail_and_full_queue_blocks() {
        let (mut net, _time) = net();
        let client = net.connect();
        net.accept(0).unwrap();
        let big = vec![7u8; SERVER_QUEUE_BYTES * 2];
        let mut written = 0;
        loop {
            match net.write(0, &big[written..]) {
                Ok(count) => written += count,
                Err(error) => {
                    assert_eq!(error.kind(), ErrorKind::WouldBlock);
                    break;
                }
            }
        }
        assert_eq!(written, SERVER_QUEUE_BYTES);
        let stale = ClientConn { epoch: 0, id: 1 };
        let error = net.client_write(stale, b"x").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset);
        net.close(0);
        assert!(net.client_write(client, b"x").is_err());
        assert_eq!(
            net.read(0, &mut [0u8; 4]).unwrap_err().kind(),
            ErrorKind::NotConnected
        );
    }
}
