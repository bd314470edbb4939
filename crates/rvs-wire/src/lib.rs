//! Packet formats for rvs, in the style of smoltcp's `wire` module: Ethernet and 802.1Q,
//! IPv4, IPv6, TCP and UDP headers as far as checksum offload and segmentation need them,
//! the virtio-net offload header, the Internet checksum, and the headers an OpenFlow flow
//! key reads: ARP, ICMPv4, ICMPv6 with Neighbor Discovery, MPLS and SCTP.
//!
//! Each protocol has a zero-copy view (`Frame<T: AsRef<[u8]>>`) whose constructor
//! `new_checked` validates the length once; after that no accessor panics or allocates.
//! Fixed header layouts are declared once as `zerocopy` structs, so field offsets are
//! never written as magic numbers in the code that reads them. Unknown protocol numbers
//! are kept (`EtherType::Unknown`) so frames round-trip unchanged.
#![deny(clippy::unwrap_used, clippy::panic)]

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod sctp;
pub mod tcp;
pub mod udp;
pub mod virtio_net;
pub mod vlan;

pub use arp::{ArpPacket, ArpRepr};
pub use checksum::Checksum;
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, ETHERNET_HEADER_LEN};
pub use icmpv4::Icmpv4Packet;
pub use icmpv6::Icmpv6Packet;
pub use ipv4::Ipv4Packet;
pub use ipv6::Ipv6Packet;
pub use mpls::{MplsPacket, MplsRepr};
pub use sctp::SctpPacket;
pub use tcp::TcpPacket;
pub use udp::UdpPacket;
pub use virtio_net::{GsoType, VirtioNetHdr, VIRTIO_NET_HDR_LEN};
pub use vlan::{VlanTag, VLAN_TAG_LEN};

/// Errors found while checking a buffer against a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the header it must hold.
    Truncated,
    /// A field holds a value the format does not allow (wrong version, header too short).
    Malformed,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("buffer too short for header"),
            WireError::Malformed => f.write_str("header field out of range"),
        }
    }
}

impl std::error::Error for WireError {}

pub type Result<T> = core::result::Result<T, WireError>;
