//! The node over kernel bypass. [`BypassTransport`] implements the gateway's [`Transport`] on
//! smoltcp TCP over a frame backend ([`open_afxdp`]; `open_dpdk` with the cargo feature `dpdk`;
//! the in-memory link through the same generic type), so the real gateway (sessions, logins,
//! session logs) and core run unchanged over raw frames. [`open_feed_out`] gives the feed
//! publisher a transmit-only AF_XDP socket of its own (`open_feed_out_dpdk`: a DPDK port of its
//! own), on which it sends the Ethernet/IPv4/UDP multicast frames it builds.
//!
//! Configuration, one table per path, each choosing its backend:
//!
//! ```toml
//! [gateway_bypass]            # OUCH order entry (absent: kernel TCP on node.listen)
//! backend = "af-xdp"          # "kernel" (default), "af-xdp" or "dpdk" (dpdk_port = "...")
//! interface = "ens1f0"        # the XSK binds queue_id of this interface
//! ipv4 = "10.0.0.1"           # the node's address, owned by smoltcp, not by the kernel
//! port = 15000
//!
//! [feed_bypass]               # the multicast feed (absent: a kernel UDP socket)
//! backend = "af-xdp"
//! interface = "ens1f0"
//! queue_id = 1                # a queue of its own: one XSK per queue
//! source_ipv4 = "10.0.0.1"
//!
//! [dpdk]                      # the EAL, started once per process, if a path uses DPDK
//! eal_args = ["--no-huge", "--no-pci", "--vdev=net_af_packet0,iface=ens1f0"]
//! ```
//!
//! Frames the node does not own stay with the kernel: the XDP program redirects only ARP for
//! the node's address and TCP to its port, and passes the rest (the host's own addresses, the
//! feed's re-request and snapshot servers, IPv6, ...). Opening fails with a clear error when
//! the host cannot do it: not root, no such interface, no XDP in the mode asked for.
//!
//! Readiness is level-style, which the `Transport` contract allows ("more often than needed,
//! never less"): every poll reports each connection that has bytes or room, and `Accept` while
//! an established connection waits. Polling never sleeps in the kernel: with a timeout it
//! spins (yielding) until something is ready or the time is up; bypass means busy polling, so
//! the node never gives this transport a timeout (no waker: [`Transport::waker`] is `None`).
//!
//! # Invariants
//! - A gateway slot maps to at most one smoltcp connection and a connection to one slot.
//! - `read` follows the `Transport` contract: `Ok(0)` only at end of stream, `WouldBlock` when
//!   nothing arrived; `write` returns `WouldBlock` when the send buffer is full.
//! - Nothing allocates after `open` except the gateway's own `ready` vector growth (bounded by
//!   the slots).
//! - One socket or port per path and queue: the validation refuses a feed XSK on the gateway's
//!   queue and a DPDK port shared by both (neither backend is shared between threads).

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use peregrine_feed::bypass::{FrameOut, FramePublisher, UdpFlow};
use peregrine_gateway::frame::afxdp::{AfXdp, XdpConfig};
use peregrine_gateway::frame::bpf::{XdpFilter, XdpMode};
use peregrine_gateway::frame::tcp::{Conn, StreamError, TcpConfig, TcpStack};
use peregrine_gateway::frame::FrameIo;
use serde::{Deserialize, Serialize};

use super::transport::{Ready, Transport};
use crate::config::NodeConfig;

/// Which network path a gateway or a feed uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Kernel sockets (the portable default).
    #[default]
    Kernel,
    /// An AF_XDP socket with its own XDP program (root; any interface in SKB mode).
    AfXdp,
    /// A DPDK ethdev port named by `dpdk_port` (cargo feature `dpdk`; EAL from `[dpdk]`).
    Dpdk,
}

/// `[dpdk]`: the DPDK environment, shared by every DPDK port of the process (the EAL starts
/// once), e.g. `["--no-huge", "--no-pci", "--vdev=net_af_packet0,iface=eth1"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpdkSection {
    pub eal_args: Vec<String>,
}

/// `[gateway_bypass]`: order entry over kernel bypass (kernel TCP unless `backend` says).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayBypassSection {
    pub backend: Backend,
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
    /// AF_XDP UMEM frames, or DPDK mbufs.
    pub frame_count: u32,
    /// TCP buffer bytes per connection and direction.
    pub buffer_bytes: usize,
    /// The DPDK port (a vdev name from `[dpdk] eal_args`, e.g. `net_af_packet0`).
    pub dpdk_port: String,
}

impl Default for GatewayBypassSection {
    fn default() -> GatewayBypassSection {
        GatewayBypassSection {
            backend: Backend::Kernel,
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
            dpdk_port: String::new(),
        }
    }
}

/// `[feed_bypass]`: the multicast feed over kernel bypass (a kernel UDP socket unless
/// `backend` says). The group and port are `[feed]`'s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedBypassSection {
    pub backend: Backend,
    pub interface: String,
    /// A queue no other XSK uses (the gateway's is usually 0).
    pub queue_id: u32,
    pub zero_copy: bool,
    pub frame_count: u32,
    /// Source address and port of the frames.
    pub source_ipv4: Ipv4Addr,
    pub source_port: u16,
    pub ttl: u8,
    pub udp_checksum: bool,
    /// The DPDK port (a vdev name from `[dpdk] eal_args`, e.g. `net_af_packet1`).
    pub dpdk_port: String,
}

impl Default for FeedBypassSection {
    fn default() -> FeedBypassSection {
        FeedBypassSection {
            backend: Backend::Kernel,
            interface: String::new(),
            queue_id: 1,
            zero_copy: false,
            frame_count: 4096,
            source_ipv4: Ipv4Addr::new(10, 0, 0, 1),
            source_port: 31_000,
            ttl: 1,
            udp_checksum: true,
            dpdk_port: String::new(),
        }
    }
}

/// Judges both tables (called from `NodeConfig::validate`).
pub fn validate(config: &NodeConfig) -> anyhow::Result<()> {
    let gateway = &config.gateway_bypass;
    let feed = &config.feed_bypass;
    if gateway.backend == Backend::AfXdp {
        anyhow::ensure!(
            !gateway.interface.is_empty(),
            "gateway_bypass.interface must name the interface for AF_XDP"
        );
        xdp_mode(&gateway.mode)?;
    }
    if feed.backend == Backend::AfXdp {
        anyhow::ensure!(
            !feed.interface.is_empty(),
            "feed_bypass.interface must name the interface for AF_XDP"
        );
        let shares_queue = gateway.backend == Backend::AfXdp
            && gateway.interface == feed.interface
            && gateway.queue_id == feed.queue_id;
        anyhow::ensure!(
            !shares_queue,
            "feed_bypass.queue_id must differ from gateway_bypass.queue_id on the same \
             interface (one AF_XDP socket per queue)"
        );
    }
    for (table, backend, port) in [
        ("gateway_bypass", gateway.backend, &gateway.dpdk_port),
        ("feed_bypass", feed.backend, &feed.dpdk_port),
    ] {
        if backend == Backend::Dpdk {
            anyhow::ensure!(
                cfg!(feature = "dpdk"),
                "{table}.backend = \"dpdk\" needs a peregrine built with the cargo feature \
                 `dpdk` (cargo build --release -p peregrine-tools --features dpdk)"
            );
            anyhow::ensure!(
                !port.is_empty() && !config.dpdk.eal_args.is_empty(),
                "{table}.backend = \"dpdk\" needs {table}.dpdk_port and [dpdk] eal_args"
            );
        }
    }
    let both_dpdk = gateway.backend == Backend::Dpdk && feed.backend == Backend::Dpdk;
    anyhow::ensure!(
        !both_dpdk || gateway.dpdk_port != feed.dpdk_port,
        "the gateway and the feed need DPDK ports of their own"
    );
    for (table, backend, count) in [
        ("gateway_bypass", gateway.backend, gateway.frame_count),
        ("feed_bypass", feed.backend, feed.frame_count),
    ] {
        anyhow::ensure!(
            backend == Backend::Kernel || count.is_power_of_two(),
            "{table}.frame_count must be a power of two"
        );
    }
    if feed.backend != Backend::Kernel {
        anyhow::ensure!(
            config.feed.group.is_multicast(),
            "feed.group must be a multicast group"
        );
    }
    Ok(())
}

/// Starts the DPDK environment from `[dpdk]` if a path uses DPDK (once per process). The EAL
/// pins the calling thread to its main lcore; the thread's affinity is put back afterwards,
/// so the node's own threads (spawned later, inheriting it) keep `[node]`'s pinning choices.
pub fn start_dpdk_if_used(config: &NodeConfig) -> anyhow::Result<()> {
    let used = config.gateway_bypass.backend == Backend::Dpdk
        || config.feed_bypass.backend == Backend::Dpdk;
    if !used {
        return Ok(());
    }
    start_dpdk(&config.dpdk)
}

#[cfg(feature = "dpdk")]
fn start_dpdk(section: &DpdkSection) -> anyhow::Result<()> {
    // SAFETY: cpu_set_t is plain old data; all zeros is an empty set.
    let mut affinity: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    let size = core::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: pid 0 is the calling thread; the set is live and `size` bytes long.
    let saved = unsafe { libc::sched_getaffinity(0, size, &mut affinity) } == 0;
    peregrine_gateway::frame::dpdk::eal_init(&section.eal_args)
        .with_context(|| format!("[dpdk] eal_args {:?}", section.eal_args))?;
    if saved {
        // SAFETY: as above; the set was filled by sched_getaffinity.
        unsafe { libc::sched_setaffinity(0, size, &affinity) };
    }
    Ok(())
}

#[cfg(not(feature = "dpdk"))]
fn start_dpdk(_: &DpdkSection) -> anyhow::Result<()> {
    anyhow::bail!("this peregrine was built without the cargo feature `dpdk`")
}

/// The gateway's transport over smoltcp on the `[gateway_bypass]` DPDK port (after
/// [`start_dpdk_if_used`]).
#[cfg(feature = "dpdk")]
pub fn open_dpdk(
    config: &GatewayBypassSection,
    max_connections: usize,
) -> anyhow::Result<BypassTransport<peregrine_gateway::frame::dpdk::DpdkPort>> {
    let port =
        peregrine_gateway::frame::dpdk::DpdkPort::open(&config.dpdk_port, config.frame_count)
            .with_context(|| format!("gateway_bypass: DPDK port {:?}", config.dpdk_port))?;
    BypassTransport::new(port, tcp_config(config, max_connections))
}

/// The feed publisher's output over the `[feed_bypass]` DPDK port.
#[cfg(feature = "dpdk")]
pub fn open_feed_out_dpdk(
    config: &NodeConfig,
) -> anyhow::Result<FrameOut<peregrine_gateway::frame::dpdk::DpdkPort>> {
    let bypass = &config.feed_bypass;
    let port =
        peregrine_gateway::frame::dpdk::DpdkPort::open(&bypass.dpdk_port, bypass.frame_count)
            .with_context(|| format!("feed_bypass: DPDK port {:?}", bypass.dpdk_port))?;
    let flow = feed_flow(config, port.mac());
    Ok(FrameOut::new(
        port,
        FramePublisher::new(flow, FEED_TX_RETRIES),
    ))
}

/// The feed frames' addresses: `[feed_bypass]`'s source, `[feed]`'s group and port.
fn feed_flow(config: &NodeConfig, src_mac: [u8; 6]) -> UdpFlow {
    let bypass = &config.feed_bypass;
    UdpFlow {
        src_mac,
        src_ip: bypass.source_ipv4,
        src_port: bypass.source_port,
        group: config.feed.group,
        group_port: config.feed.port,
        ttl: bypass.ttl,
        udp_checksum: bypass.udp_checksum,
    }
}

/// A full TX ring is waited out for up to this many flushes before a packet is dropped
/// (counted; the store keeps it for re-requests).
const FEED_TX_RETRIES: u32 = 100_000;

fn xdp_mode(mode: &str) -> anyhow::Result<XdpMode> {
    match mode {
        "skb" => Ok(XdpMode::Skb),
        "native" => Ok(XdpMode::Native),
        other => anyhow::bail!("gateway_bypass.mode must be \"skb\" or \"native\", not {other:?}"),
    }
}

/// The feed publisher's output over a transmit-only AF_XDP socket on `[feed_bypass]`'s queue,
/// sending to `[feed]`'s group and port, in the calling thread's network namespace.
pub fn open_feed_out(config: &NodeConfig) -> anyhow::Result<FrameOut<AfXdp>> {
    let bypass = &config.feed_bypass;
    let xdp = XdpConfig {
        queue_id: bypass.queue_id,
        zero_copy: bypass.zero_copy,
        frame_count: bypass.frame_count,
        filter: None,
        ..XdpConfig::default()
    };
    let xsk = AfXdp::open(&bypass.interface, xdp).with_context(|| {
        format!(
            "feed_bypass: AF_XDP on interface {:?} queue {}",
            bypass.interface, bypass.queue_id
        )
    })?;
    let flow = feed_flow(config, xsk.mac());
    Ok(FrameOut::new(
        xsk,
        FramePublisher::new(flow, FEED_TX_RETRIES),
    ))
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
    config: &GatewayBypassSection,
    max_connections: usize,
) -> anyhow::Result<BypassTransport<AfXdp>> {
    let mode = xdp_mode(&config.mode)?;
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
    let xsk = AfXdp::open(&config.interface, xdp).with_context(|| {
        format!(
            "gateway_bypass: AF_XDP on interface {:?} queue {}",
            config.interface, config.queue_id
        )
    })?;
    BypassTransport::new(xsk, tcp_config(config, max_connections))
}

/// smoltcp's settings from `[gateway_bypass]`, with the gateway's slots plus the refusal slot.
fn tcp_config(config: &GatewayBypassSection, max_connections: usize) -> TcpConfig {
    TcpConfig {
        ipv4: config.ipv4.octets(),
        prefix_len: config.prefix_len,
        gateway: config.gateway.map(|g| g.octets()),
        port: config.port,
        connections_max: max_connections + 1,
        buffer_bytes: config.buffer_bytes,
    }
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

    fn frame_counters(&self) -> Option<peregrine_gateway::frame::FrameCounters> {
        Some(self.stack.io().counters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_CONFIG_TOML;

    fn parse(extra: &str) -> anyhow::Result<NodeConfig> {
        NodeConfig::parse(&format!("{DEFAULT_CONFIG_TOML}\n{extra}"))
    }

    #[test]
    fn kernel_sockets_unless_a_table_chooses_bypass() {
        let config = parse("").expect("default");
        assert_eq!(config.gateway_bypass.backend, Backend::Kernel);
        assert_eq!(config.feed_bypass.backend, Backend::Kernel);
        let config = parse(
            "[gateway_bypass]\nbackend = \"af-xdp\"\ninterface = \"eth1\"\n\
             [feed_bypass]\nbackend = \"af-xdp\"\ninterface = \"eth1\"\nqueue_id = 1\n",
        )
        .expect("both on AF_XDP");
        assert_eq!(config.gateway_bypass.backend, Backend::AfXdp);
        assert_eq!(config.feed_bypass.queue_id, 1);
    }

    #[test]
    fn bad_bypass_tables_are_refused_with_the_reason() {
        let cases = [
            (
                "[gateway_bypass]\nbackend = \"af-xdp\"\n",
                "gateway_bypass.interface",
            ),
            (
                "[feed_bypass]\nbackend = \"af-xdp\"\n",
                "feed_bypass.interface",
            ),
            (
                "[gateway_bypass]\nbackend = \"af-xdp\"\ninterface = \"eth1\"\nmode = \"fast\"\n",
                "gateway_bypass.mode",
            ),
            (
                "[gateway_bypass]\nbackend = \"af-xdp\"\ninterface = \"eth1\"\n\
                 [feed_bypass]\nbackend = \"af-xdp\"\ninterface = \"eth1\"\nqueue_id = 0\n",
                "one AF_XDP socket per queue",
            ),
            (
                "[gateway_bypass]\nbackend = \"netmap\"\n",
                "unknown variant",
            ),
            // Without the feature: rebuild; with it: name the port and the EAL arguments.
            (
                "[gateway_bypass]\nbackend = \"dpdk\"\n",
                "gateway_bypass.backend = \"dpdk\" needs",
            ),
        ];
        for (table, reason) in cases {
            let error = format!("{:#}", parse(table).expect_err(table));
            assert!(error.contains(reason), "{table}: {error}");
        }
    }
}
