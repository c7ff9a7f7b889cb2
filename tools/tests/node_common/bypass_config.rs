//! The `[gateway_bypass]`/`[feed_bypass]` (and `[dpdk]`) config text that puts a node's order
//! entry and feed on a veth end, shared by the `node_bypass` test and the `bypass_node`
//! example (which includes this file by path).
//!
//! Layout on the wire: AF_XDP gateway on queue 0 and feed on queue 1 of one interface; DPDK
//! gateway on `net_af_packet0` over the interface and feed on `net_af_packet1` over a second
//! interface (`feed_interface`, a macvlan on the same veth end). DPDK 22.11's `net_af_packet`
//! puts every port of one process on one interface into one `PACKET_FANOUT` group, which would
//! split the received frames between the two ports; on a NIC the second interface is a queue.

use std::net::Ipv4Addr;

/// Where the bypass side of the node lives.
pub struct BypassSite<'a> {
    /// A's veth end.
    pub interface: &'a str,
    /// The order-entry address smoltcp answers on (not the kernel's).
    pub node_ip: Ipv4Addr,
    pub ouch_port: u16,
    /// UMEM frames / mbufs per port.
    pub frame_count: u32,
}

/// Gateway on AF_XDP queue 0, feed on AF_XDP queue 1 of `site.interface`.
pub fn afxdp_sections(site: &BypassSite) -> String {
    let interface = site.interface;
    sections(
        site,
        "af-xdp",
        &format!("interface = \"{interface}\"\nqueue_id = 0"),
        &format!("interface = \"{interface}\"\nqueue_id = 1"),
    )
}

/// Gateway on `net_af_packet0` over `site.interface`, feed on `net_af_packet1` over
/// `feed_interface`; the EAL runs without hugepages or PCI, its runtime files under
/// `/var/run/dpdk/<file_prefix>`.
#[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
pub fn dpdk_sections(site: &BypassSite, feed_interface: &str, file_prefix: &str) -> String {
    let interface = site.interface;
    let eal = format!(
        "
[dpdk]
eal_args = [\"--no-huge\", \"--no-pci\", \"-m\", \"256\", \"--log-level=error\",
            \"--file-prefix={file_prefix}\",
            \"--vdev=net_af_packet0,iface={interface}\",
            \"--vdev=net_af_packet1,iface={feed_interface}\"]
"
    );
    let ports = sections(
        site,
        "dpdk",
        "dpdk_port = \"net_af_packet0\"",
        "dpdk_port = \"net_af_packet1\"",
    );
    eal + &ports
}

/// Both tables on `backend`, each placed by its `..._where` lines.
fn sections(site: &BypassSite, backend: &str, gateway_where: &str, feed_where: &str) -> String {
    let BypassSite {
        node_ip,
        ouch_port,
        frame_count,
        ..
    } = site;
    format!(
        "
[gateway_bypass]
backend = \"{backend}\"
{gateway_where}
ipv4 = \"{node_ip}\"
port = {ouch_port}
frame_count = {frame_count}

[feed_bypass]
backend = \"{backend}\"
{feed_where}
frame_count = {frame_count}
source_ipv4 = \"{node_ip}\"
source_port = 31000
"
    )
}
