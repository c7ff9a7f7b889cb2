//! Kernel UDP sockets of the feed: the multicast sender and receiver, built with `socket2`
//! from [`MulticastConfig`], and the monotonic clock the drivers read.
//!
//! # Invariants
//! - The sender is connected to `group:port`, sends through `interface` with the configured
//!   TTL and loopback, and never joins the group.
//! - The receiver binds `group:port` (so it sees that group's datagrams only, even when other
//!   groups share the port) with `SO_REUSEADDR`, so several subscribers on one host each get
//!   every datagram, and joins the group on `interface`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

/// The multicast group and how to reach it. A `[feed.multicast]` table in the node's TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MulticastConfig {
    /// The group, in `224.0.0.0/4` (administratively scoped `239.0.0.0/8` on a venue LAN).
    pub group: Ipv4Addr,
    pub port: u16,
    /// Local address of the interface to send on and join on; `0.0.0.0` lets the kernel pick
    /// by its routes.
    pub interface: Ipv4Addr,
    /// Hops a datagram may cross: 1 keeps it on the local network.
    pub ttl: u32,
    /// Whether the sender's own host receives its datagrams (needed for subscribers on the
    /// publishing host, and in tests).
    pub loopback: bool,
    /// `SO_SNDBUF` of the sender and `SO_RCVBUF` of a receiver; 0 keeps the kernel's default.
    pub socket_buffer_bytes: u32,
}

impl Default for MulticastConfig {
    fn default() -> Self {
        MulticastConfig {
            group: Ipv4Addr::new(239, 192, 0, 1),
            port: 31_001,
            interface: Ipv4Addr::UNSPECIFIED,
            ttl: 1,
            loopback: true,
            socket_buffer_bytes: 4 << 20,
        }
    }
}

impl MulticastConfig {
    /// `group:port`.
    pub fn group_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.group, self.port))
    }

    /// Judges the addresses: the group must be multicast, the interface must not be.
    pub fn validate(&self) -> io::Result<()> {
        if !self.group.is_multicast() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "feed.multicast.group is not a multicast address",
            ));
        }
        if self.interface.is_multicast() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "feed.multicast.interface must be a local unicast address",
            ));
        }
        Ok(())
    }
}

fn udp_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
}

/// A UDP socket that sends to the group (blocking sends; on loopback and on most NICs a send
/// never waits long, and a full socket buffer is an error that the publisher counts).
pub fn multicast_sender(config: &MulticastConfig) -> io::Result<UdpSocket> {
    config.validate()?;
    let socket = udp_socket()?;
    socket.set_multicast_if_v4(&config.interface)?;
    socket.set_multicast_ttl_v4(config.ttl)?;
    socket.set_multicast_loop_v4(config.loopback)?;
    if config.socket_buffer_bytes > 0 {
        socket.set_send_buffer_size(config.socket_buffer_bytes as usize)?;
    }
    let local = SocketAddr::V4(SocketAddrV4::new(config.interface, 0));
    socket.bind(&local.into())?;
    socket.connect(&config.group_addr().into())?;
    Ok(socket.into())
}

/// A UDP socket that receives the group's datagrams (blocking; the caller sets timeouts or
/// non-blocking mode).
pub fn multicast_receiver(config: &MulticastConfig) -> io::Result<UdpSocket> {
    config.validate()?;
    let socket = udp_socket()?;
    socket.set_reuse_address(true)?;
    if config.socket_buffer_bytes > 0 {
        socket.set_recv_buffer_size(config.socket_buffer_bytes as usize)?;
    }
    socket.bind(&config.group_addr().into())?;
    socket.join_multicast_v4(&config.group, &config.interface)?;
    Ok(socket.into())
}

/// A unicast UDP socket bound to `addr` (port 0 picks one), with the given buffer sizes.
pub fn unicast_socket(addr: SocketAddr, buffer_bytes: u32) -> io::Result<UdpSocket> {
    let domain = Domain::for_address(addr);
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if buffer_bytes > 0 {
        socket.set_recv_buffer_size(buffer_bytes as usize)?;
        socket.set_send_buffer_size(buffer_bytes as usize)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Monotonic nanoseconds since the clock was made: the `now_ns` the drivers hand to the
/// sans-IO cores.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Wall-clock nanoseconds since the Unix epoch (for timestamps of messages a driver makes up
/// itself, e.g. the tap's capture times); 0 if the clock is before 1970.
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_from_toml_and_judges_addresses() {
        let config: MulticastConfig = toml::from_str(
            "group = \"239.1.2.3\"\nport = 4000\ninterface = \"127.0.0.1\"\nloopback = false\n",
        )
        .expect("toml");
        assert_eq!(config.group, Ipv4Addr::new(239, 1, 2, 3));
        assert_eq!(config.port, 4000);
        assert!(!config.loopback);
        assert_eq!(config.ttl, 1);
        assert!(config.validate().is_ok());
        let unicast = MulticastConfig {
            group: Ipv4Addr::LOCALHOST,
            ..config
        };
        assert_eq!(
            unicast.validate().map_err(|error| error.kind()),
            Err(io::ErrorKind::InvalidInput)
        );
        assert!(multicast_sender(&unicast).is_err());
        assert!(toml::from_str::<MulticastConfig>("grupo = \"239.1.2.3\"\n").is_err());
    }
}
