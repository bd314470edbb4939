//! Per-port counters with named drop reasons.
//!
//! Each datapath thread owns its counters and bumps them without atomics; readers ask the
//! thread for a copy. When there are several threads, their copies are summed.

/// Why the datapath dropped a frame. Names are stable: they appear in `rvs port-stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum DropReason {
    /// Shorter than an Ethernet header, or a header with no payload at all.
    Runt,
    /// EtherType announces an 802.1Q tag, but the frame ends inside the tag.
    TruncatedVlan,
    /// Longer than the port's MTU allows (or than the receive buffer).
    Oversized,
    /// Source MAC is a group (multicast/broadcast) or all-zero address.
    InvalidSrcMac,
    /// Destination is an IEEE 802.1D reserved address (STP, LACP, LLDP...), never bridged.
    ReservedMulticast,
    /// A frame tagged with a nonzero VID arrived on an access port.
    TaggedOnAccessPort,
    /// The frame's VLAN is not carried by the ingress port.
    VlanNotAllowed,
    /// The destination was learned on the ingress port itself.
    DstIsIngressPort,
    /// Flooding found no other port in the frame's VLAN.
    NoOutput,
    /// The egress port's queue or socket refused the frame.
    TxFailed,
    /// Too large for the egress port's MTU.
    TxTooBig,
    /// Offload metadata that does not fit the frame (GSO type rvs cannot segment, checksum
    /// position outside the frame, headers that do not match the GSO type).
    BadOffload,
    /// The OpenFlow pipeline decided to drop it (no matching entry, no output, explicit drop).
    FlowDrop,
    /// `dec_ttl`/`dec_mpls_ttl` would have made the TTL zero.
    TtlExpired,
    /// Over a meter's rate (a drop band).
    Meter,
    /// A packet-in could not be queued to the control plane (controller too slow).
    ControllerQueueFull,
    /// The port's OpenFlow config says `no_recv`.
    PortNoRecv,
    /// More rewritten copies of one batch than the datapath keeps.
    RewriteOverflow,
    /// An action referred to a group that no longer exists, or group chaining ran too deep.
    NoSuchGroup,
    /// The kernel dropped the frame before rvs saw it: the port's receive queue or ring
    /// was full (from `PACKET_STATISTICS`).
    KernelRxQueue,
}

impl DropReason {
    pub const COUNT: usize = 20;
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Runt,
        DropReason::TruncatedVlan,
        DropReason::Oversized,
        DropReason::InvalidSrcMac,
        DropReason::ReservedMulticast,
        DropReason::TaggedOnAccessPort,
        DropReason::VlanNotAllowed,
        DropReason::DstIsIngressPort,
        DropReason::NoOutput,
        DropReason::TxFailed,
        DropReason::TxTooBig,
        DropReason::BadOffload,
        DropReason::FlowDrop,
        DropReason::TtlExpired,
        DropReason::Meter,
        DropReason::ControllerQueueFull,
        DropReason::PortNoRecv,
        DropReason::RewriteOverflow,
        DropReason::NoSuchGroup,
        DropReason::KernelRxQueue,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Runt => "runt",
            DropReason::TruncatedVlan => "truncated_vlan",
            DropReason::Oversized => "oversized",
            DropReason::InvalidSrcMac => "invalid_src_mac",
            DropReason::ReservedMulticast => "reserved_multicast",
            DropReason::TaggedOnAccessPort => "tagged_on_access_port",
            DropReason::VlanNotAllowed => "vlan_not_allowed",
            DropReason::DstIsIngressPort => "dst_is_ingress_port",
            DropReason::NoOutput => "no_output",
            DropReason::TxFailed => "tx_failed",
            DropReason::TxTooBig => "tx_too_big",
            DropReason::BadOffload => "bad_offload",
            DropReason::FlowDrop => "flow_drop",
            DropReason::TtlExpired => "ttl_expired",
            DropReason::Meter => "meter",
            DropReason::ControllerQueueFull => "controller_queue_full",
            DropReason::PortNoRecv => "port_no_recv",
            DropReason::RewriteOverflow => "rewrite_overflow",
            DropReason::NoSuchGroup => "no_such_group",
            DropReason::KernelRxQueue => "kernel_rx_queue",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames whose partial checksum rvs completed in software for this (egress) port.
    pub sw_csum: u64,
    /// Segments rvs cut from GSO frames in software for this (egress) port.
    pub sw_segments: u64,
    pub drops: [u64; DropReason::COUNT],
}

impl PortCounters {
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }
    #[inline]
    pub fn drop_n(&mut self, reason: DropReason, n: u64) {
        self.drops[reason as usize] += n;
    }
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
    /// Adds another thread's counters into these.
    pub fn accumulate(&mut self, other: &PortCounters) {
        self.rx_packets += other.rx_packets;
        self.rx_bytes += other.rx_bytes;
        self.tx_packets += other.tx_packets;
        self.tx_bytes += other.tx_bytes;
        self.sw_csum += other.sw_csum;
        self.sw_segments += other.sw_segments;
        for (a, b) in self.drops.iter_mut().zip(other.drops.iter()) {
            *a += b;
        }
    }
    /// Nonzero drop reasons by name.
    pub fn drops_by_name(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (r.name(), self.drops[*r as usize]))
            .filter(|(_, n)| *n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_distinct_slot_and_name() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
    }

    #[test]
    fn accumulate_sums() {
        let mut a = PortCounters::default();
        a.drop(DropReason::Runt);
        a.rx_packets = 2;
        let mut b = a.clone();
        b.accumulate(&a);
        assert_eq!(b.rx_packets, 4);
        assert_eq!(b.dropped(DropReason::Runt), 2);
        assert_eq!(b.drops_by_name().collect::<Vec<_>>(), vec![("runt", 2)]);
    }
}
