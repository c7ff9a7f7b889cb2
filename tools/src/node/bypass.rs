//! The node's order entry over kernel bypass: [`BypassTransport`] implements the gateway's
//! [`Transport`] on smoltcp TCP over a frame backend (AF_XDP here; DPDK or the in-memory link
//! through the same generic type), so the real gateway (sessions, logins, session logs) and
//! core run unchanged over raw frames.
//!
//! Readiness is level-style, which the `Transport` contract allows ("more often than needed,
//! never less"): every poll reports each connection that has bytes or room, and `Accept` while
//! an established connection waits. Polling never sleeps in the kernel: with a timeout it
//! spins (yielding) until something is ready or the time is up; bypass means busy polling.
//!
//! [`BypassConfig`] is the `[gateway_bypass]` table a node config can carry; [`open_afxdp`]
//! turns it into a transport with clear errors (not root, no such interface, no XDP).
//!
//! # Invariants
//! - A gateway slot maps to at most one smoltcp connection and a connection to one slot.
//! - `read` follows the `Transport` contract: `Ok(0)` only at end of stream, `WouldBlock` when
//!   nothing arrived; `write` returns `WouldBlock` when the send buffer is full.
//! - Nothing allocates after `open` except the gateway's own `ready` vector growth (bounded by
//!   the slots).

// Until `Node::open` grows a `[gateway_bypass]` branch (a `Gateway<BypassTransport<AfXdp>>`
// beside the kernel one), only this module's test constructs the transport.
#![cfg_attr(not(test), allow(dead_code))]

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use peregrine_gateway::frame::afxdp::{AfXdp, XdpConfig};
use peregrine_gateway::frame::bpf::{XdpFilter, XdpMode};
use peregrine_gateway::frame::tcp::{Conn, StreamError, TcpConfig, TcpStack};
use peregrine_gateway::frame::FrameIo;
use serde::{Deserialize, Serialize};

use super::transport::{Ready, Transport};

/// Kernel-bypass order entry settings (`[gateway_bypass]`; off unless `enabled`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BypassConfig {
    pub enabled: bool,
    /// The interface whose queue the XSK binds.
    pub interface: String,
    pub queue_id: u32,
    /// `"skb"` (generic XDP, any interface) or `"native"` (driver XDP).
    pub mode: String,
    /// Zero-copy (native mode on a NIC that supports it).
    pub zero_copy: bool,
    pub busy_poll: bool,
    /// The node's own IPv4 address (not configured on the kernel interface).
    pub ipv4: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub port: u16,
    pub frame_count: u32,
    pub buffer_bytes: usize,
}

impl Default for BypassConfig {
    fn default() -> BypassConfig {
        BypassConfig {
            enabled: false,
            interface: String::new(),
            queue_id: 0,
            mode: "skb".to_string(),
            zero_copy: false,
            busy_poll: false,
            ipv4: Ipv4Addr::new(10, 0, 0, 1),
            prefix_len: 24,
            gateway: None,
            port: 15000,
            frame_count: 4096,
            buffer_bytes: 256 * 1024,
        }
    }
}

/// The gateway's transport over smoltcp on a frame backend.
pub struct BypassTransport<F: FrameIo> {
    stack: TcpStack<F>,
    local_addr: SocketAddr,
    slots: Vec<Option<Conn>>,
    start: Instant,
}

/// Opens an AF_XDP socket and the TCP stack on it for `max_connections` (plus the refusal
/// slot), in the calling thread's network namespace.
pub fn open_afxdp(
    config: &BypassConfig,
    max_connections: usize,
) -> anyhow::Result<BypassTransport<AfXdp>> {
    let mode = match config.mode.as_str() {
        "skb" => XdpMode::Skb,
        "native" => XdpMode::Native,
        other => anyhow::bail!("gateway_bypass.mode must be \"skb\" or \"native\", not {other:?}"),
    };
    let xdp = XdpConfig {
        queue_id: config.queue_id,
        mode,
        zero_copy: config.zero_copy,
        frame_count: config.frame_count,
        busy_poll: config.busy_poll,
        filter: Some(XdpFilter {
            ipv4: config.ipv4.octets(),
            tcp_port: config.port,
        }),
    };
    let xsk = AfXdp::open(&config.interface, xdp)
        .with_context(|| format!("AF_XDP on interface {:?}", config.interface))?;
    let tcp = TcpConfig {
        ipv4: config.ipv4.octets(),
        prefix_len: config.prefix_len,
        gateway: config.gateway.map(|g| g.octets()),
        port: config.port,
        connections_max: max_connections + 1,
        buffer_bytes: config.buffer_bytes,
    };
    BypassTransport::new(xsk, tcp)
}

impl<F: FrameIo> BypassTransport<F> {
    /// The transport over `io` with `tcp.connections_max` slots.
    pub fn new(io: F, tcp: TcpConfig) -> anyhow::Result<BypassTransport<F>> {
        let stack = TcpStack::new(io, tcp, 1).context("smoltcp stack")?;
        Ok(BypassTransport {
            stack,
            local_addr: SocketAddr::from((tcp.ipv4, tcp.port)),
            slots: vec![None; tcp.connections_max],
            start: Instant::now(),
        })
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn conn(&self, slot: usize) -> io::Result<Conn> {
        self.slots
            .get(slot)
            .copied()
            .flatten()
            .ok_or_else(|| io::Error::from(ErrorKind::NotConnected))
    }

    fn report(&mut self, ready: &mut Vec<Ready>) {
        if self.stack.accept_pending() {
            ready.push(Ready::Accept);
        }
        for slot in 0..self.slots.len() {
            let Some(conn) = self.slots[slot] else {
                continue;
            };
            if let Some((readable, writable)) = self.stack.readiness(conn) {
                if readable || writable {
                    ready.push(Ready::Connection {
                        slot,
                        readable,
                        writable,
                    });
                }
            }
        }
    }
}

impl<F: FrameIo> Transport for BypassTransport<F> {
    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    fn poll(&mut self, timeout: Option<Duration>, ready: &mut Vec<Ready>) -> io::Result<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let now_ns = self.now_ns();
            self.stack.poll(now_ns).map_err(io::Error::other)?;
            let before = ready.len();
            self.report(ready);
            let expired = deadline.is_some_and(|d| Instant::now() >= d);
            if ready.len() > before || expired {
                return Ok(());
            }
            std::thread::yield_now();
        }
    }

    fn accept(&mut self, slot: usize) -> io::Result<Option<SocketAddr>> {
        if self.slots.get(slot).is_none_or(Option::is_some) {
            return Err(io::Error::new(ErrorKind::InvalidInput, "slot not free"));
        }
        let Some(conn) = self.stack.accept() else {
            return Ok(None);
        };
        self.slots[slot] = Some(conn);
        let peer = self.stack.remote(conn);
        Ok(Some(peer.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))))
    }

    fn read(&mut self, slot: usize, buffer: &mut [u8]) -> io::Result<usize> {
        let conn = self.conn(slot)?;
        match self.stack.recv(conn, buffer) {
            Ok(0) if !buffer.is_empty() => Err(ErrorKind::WouldBlock.into()),
            Ok(n) => Ok(n),
            Err(StreamError::Closed) => Ok(0),
            Err(StreamError::NotConnected) => Err(ErrorKind::NotConnected.into()),
        }
    }

    fn write(&mut self, slot: usize, bytes: &[u8]) -> io::Result<usize> {
        let conn = self.conn(slot)?;
        match self.stack.send(conn, bytes) {
            Ok(0) if !bytes.is_empty() => Err(ErrorKind::WouldBlock.into()),
            Ok(n) => Ok(n),
            Err(StreamError::Closed) => Err(ErrorKind::BrokenPipe.into()),
            Err(StreamError::NotConnected) => Err(ErrorKind::NotConnected.into()),
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(conn) = self.slots.get_mut(slot).and_then(Option::take) {
            self.stack.close(conn);
        }
    }

    fn stop_listening(&mut self) {
        self.stack.stop_listening();
    }
}

#[cfg(test)]
mod tests {
    //! The real node (gateway, core, journal, session logs) in single-thread mode over
    //! AF_XDP on a veth pair, with a kernel member on the other side (root only; CI is root).

    use super::*;
    use crate::config::NodeConfig;
    use crate::node::core_loop::CoreLoop;
    use crate::node::gateway::Gateway;
    use crate::node::records::InboundRecord;
    use crate::node::transport::Clock;
    use crate::node::{open_parts, single_turn};
    use peregrine_gateway::frame::netns::{self, VethPair};
    use peregrine_gateway::frame::venue::{KernelMember, Login};
    use peregrine_gateway::ouch::inbound::EnterOrder;
    use peregrine_gateway::ouch::{
        Capacity, CrossType, Display, Inbound, Options, Outbound, Side, TimeInForce,
    };
    use peregrine_tuning::ring::channel;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn order(user_ref_num: u32, side: Side) -> Inbound {
        let symbol = NodeConfig::load(None).unwrap().instruments[0]
            .symbol
            .clone();
        let mut wire = [b' '; 8];
        wire[..symbol.len()].copy_from_slice(symbol.as_bytes());
        Inbound::EnterOrder(EnterOrder {
            user_ref_num,
            side,
            quantity: 100,
            symbol: wire,
            price: 1_000_000,
            time_in_force: TimeInForce::Day,
            display: Display::Visible,
            capacity: Capacity::Agency,
            intermarket_sweep: false,
            cross_type: CrossType::Continuous,
            cl_ord_id: *b"NODEBYPASS    ",
            options: Options::default(),
        })
    }

    #[test]
    fn node_serves_ouch_over_afxdp() {
        if !netns::root_or_notice("node_serves_ouch_over_afxdp") {
            return;
        }
        let pair = VethPair::create().unwrap();
        pair.disable_offloads().unwrap();
        netns::ip_in(
            &pair.ns_b,
            &["addr", "add", "10.79.0.2/24", "dev", &pair.if_b],
        )
        .unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::load(None).unwrap();
        config.node.data_dir = data.path().to_path_buf();
        let bypass = BypassConfig {
            enabled: true,
            interface: pair.if_a.clone(),
            ipv4: Ipv4Addr::new(10, 79, 0, 1),
            port: 15002,
            frame_count: 1024,
            ..BypassConfig::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (names, node_stop) = (pair.names(), Arc::clone(&stop));
        let node = std::thread::spawn(move || -> anyhow::Result<()> {
            netns::enter(&names.ns_a)?;
            let max = config.node.max_connections;
            let transport = open_afxdp(&bypass, max)?;
            let (stage, mut gateway) = open_parts(&config, |config| {
                Gateway::open_with(config, transport, Clock::System)
            })?;
            let mut core = CoreLoop::new(stage, None);
            let (mut inbound, mut inbound_rx) =
                channel::<InboundRecord>(config.node.inbound_ring_records)?;
            let start = Instant::now();
            while !node_stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
                gateway.poll_io(Some(Duration::ZERO), crate::node::gateway::clock_ns())?;
                single_turn(
                    &mut gateway,
                    &mut core,
                    &mut inbound,
                    &mut inbound_rx,
                    false,
                )?;
            }
            Ok(())
        });
        let ns_b = pair.ns_b.clone();
        let client = std::thread::spawn(move || {
            netns::enter(&ns_b).unwrap();
            let addr = SocketAddr::from(([10, 79, 0, 1], 15002));
            let timeout = Duration::from_secs(10);
            let alice = Login {
                username: *b"ALICE ",
                password: *b"alice     ",
            };
            let bob = Login {
                username: *b"BOB   ",
                password: *b"bob       ",
            };
            let mut alice = KernelMember::login(addr, alice, timeout).expect("ALICE logs in");
            let mut bob = KernelMember::login(addr, bob, timeout).expect("BOB logs in");
            alice.send(&order(1, Side::Buy)).unwrap();
            let accepted = alice.next_message().unwrap();
            assert!(
                matches!(accepted, Outbound::OrderAccepted(_)),
                "{accepted:?}"
            );
            bob.send(&order(1, Side::Sell)).unwrap();
            let fill = loop {
                let message = alice.next_message().unwrap();
                if matches!(message, Outbound::OrderExecuted(_)) {
                    break message;
                }
            };
            assert!(matches!(fill, Outbound::OrderExecuted(e) if e.quantity == 100));
        });
        let outcome = client.join();
        stop.store(true, Ordering::Relaxed);
        node.join().expect("node thread").expect("node over AF_XDP");
        outcome.expect("member assertions");
    }
}
