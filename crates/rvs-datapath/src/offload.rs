//! Checksum and segmentation offload: what ports can take, and the software fallback for
//! those that cannot.
//!
//! Ports with virtio-net headers (AF_PACKET with `PACKET_VNET_HDR`, TAP with
//! `IFF_VNET_HDR` + `TUNSETOFFLOAD`) hand rvs TCP as 64 KB GSO "super-frames" whose L4
//! checksum is still to be computed (`NEEDS_CSUM`), and take such frames back: the kernel on
//! the far side finishes the work — or, between two namespaces, never needs to. rvs moves
//! the header along with the frame ([`crate::packet::RxSlot::vnet`],
//! [`crate::packet::TxFrame::vnet`]) and touches neither payload nor checksum.
//!
//! Only when an egress port cannot take a frame as it is ([`OffloadCaps::accepts`]) does
//! the datapath do the work itself, per egress port and without touching the receive buffer
//! (a flooded frame goes to other ports unchanged):
//! - `NEEDS_CSUM` without GSO: [`complete_checksum`] copies the frame's first bytes up to
//!   the checksum field into the port's scratch area, fills the field in, and the frame goes
//!   out as that header followed by the rest of the receive buffer.
//! - GSO: [`Segmenter`] writes one header per segment into the scratch area (IP length,
//!   IPv4 ID and header checksum, TCP sequence number and flags or UDP length, L4 checksum);
//!   each segment goes out as its header followed by its slice of the receive buffer. The
//!   payload is never copied; it is read once per segment for the checksum.
//!
//! Supported GSO types: TCPv4, TCPv6 (ECN or not) and UDP_L4 (USO) over IPv4 or IPv6,
//! behind up to two VLAN tags and IPv6 extension headers. UFO (IP fragmentation of UDP)
//! is refused: no port rvs opens produces it. The headers must fit
//! [`MAX_OFFLOAD_HEADER`] bytes; frames that do not fit, or whose offload metadata does not
//! match their headers, are dropped at ingress (`bad_offload`).

use crate::packet::TxFrame;
use rvs_wire::checksum::{proto, pseudo_header_v4, pseudo_header_v6, Checksum};
use rvs_wire::ipv6::IPV6_HEADER_LEN;
use rvs_wire::tcp::{flags as tcp_flags, TCP_CHECKSUM_OFFSET};
use rvs_wire::udp::{UDP_CHECKSUM_OFFSET, UDP_HEADER_LEN};
use rvs_wire::{
    GsoType, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket, VirtioNetHdr, ETHERNET_HEADER_LEN,
};

/// Longest header (L2 to L4 inclusive) that the software fallback rebuilds.
/// IPv4 and TCP with full options behind two VLAN tags take 142 bytes.
pub const MAX_OFFLOAD_HEADER: usize = 256;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88a8;
/// VLAN tags looked through in front of the IP header.
const MAX_TAGS: usize = 2;

/// The offloads a port takes on transmit: frames with these offloads pending are handed to
/// it as they are, with their virtio-net header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OffloadCaps(u8);

impl OffloadCaps {
    /// Complete frames only.
    pub const NONE: OffloadCaps = OffloadCaps(0);
    /// Partial checksums (`NEEDS_CSUM`).
    pub const CSUM: OffloadCaps = OffloadCaps(1);
    pub const TSO4: OffloadCaps = OffloadCaps(2);
    pub const TSO6: OffloadCaps = OffloadCaps(4);
    /// TSO of streams with ECN (the ECN bit in `gso_type`).
    pub const TSO_ECN: OffloadCaps = OffloadCaps(8);
    /// UDP segmentation (`GSO_UDP_L4`).
    pub const USO: OffloadCaps = OffloadCaps(16);
    /// Everything rvs knows about.
    pub const ALL: OffloadCaps = OffloadCaps(31);

    #[inline]
    pub const fn union(self, other: OffloadCaps) -> OffloadCaps {
        OffloadCaps(self.0 | other.0)
    }

    #[inline]
    pub const fn contains(self, other: OffloadCaps) -> bool {
        self.0 & other.0 == other.0
    }

    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether a frame with header `h` can be given to the port as it is.
    #[inline]
    pub fn accepts(self, h: &VirtioNetHdr) -> bool {
        if h.is_gso() {
            let kind = match h.gso() {
                GsoType::TcpV4 => Self::TSO4,
                GsoType::TcpV6 => Self::TSO6,
                GsoType::UdpL4 => Self::USO,
                _ => return false,
            };
            let ecn = if h.ecn() { Self::TSO_ECN } else { Self::NONE };
            self.contains(kind.union(ecn).union(Self::CSUM))
        } else if h.needs_csum() {
            self.contains(Self::CSUM)
        } else {
            true
        }
    }
}

/// Why offload metadata cannot be honoured for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadError {
    /// A GSO type rvs does not segment (UFO, unknown values).
    UnsupportedGso,
    /// No IPv4/IPv6 + TCP/UDP headers matching the GSO type, or truncated ones.
    Headers,
    /// Headers longer than [`MAX_OFFLOAD_HEADER`].
    HeadersTooLong,
    /// `csum_start`/`csum_offset` outside the frame or not where the L4 checksum is.
    ChecksumOffsets,
    /// `gso_size` 0.
    NoSegmentSize,
    /// The payload is not contiguous in the frame's pieces.
    Pieces,
}

/// Transport protocol of a GSO frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Tcp,
    Udp,
}

/// Where the headers of a GSO frame are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsoLayout {
    /// Offset of the IP header.
    pub l3: usize,
    /// Offset of the TCP/UDP header.
    pub l4: usize,
    /// Length of all headers: the payload starts here.
    pub header_len: usize,
    pub ipv6: bool,
    pub l4_proto: L4,
    /// Payload bytes per segment (`gso_size`).
    pub mss: usize,
}

impl GsoLayout {
    /// Parses the headers of a GSO frame. `headers` is the frame's beginning (at least its
    /// headers, or all of it), `frame_len` its full length.
    pub fn parse(
        headers: &[u8],
        frame_len: usize,
        h: &VirtioNetHdr,
    ) -> Result<GsoLayout, OffloadError> {
        let (want_ipv6, l4_proto) = match h.gso() {
            GsoType::TcpV4 => (Some(false), L4::Tcp),
            GsoType::TcpV6 => (Some(true), L4::Tcp),
            GsoType::UdpL4 => (None, L4::Udp),
            _ => return Err(OffloadError::UnsupportedGso),
        };
        if h.gso_size == 0 {
            return Err(OffloadError::NoSegmentSize);
        }
        if !h.needs_csum() {
            // virtio 1.x §5.1.6.2: a GSO frame always carries NEEDS_CSUM.
            return Err(OffloadError::ChecksumOffsets);
        }
        let (ethertype, l3) = l3_start(headers).ok_or(OffloadError::Headers)?;
        let l3_buf = headers.get(l3..).ok_or(OffloadError::Headers)?;
        let (ipv6, protocol, l4) = match ethertype {
            ETHERTYPE_IPV4 => {
                let ip = Ipv4Packet::new_checked(l3_buf).map_err(|_| OffloadError::Headers)?;
                if ip.is_fragment() {
                    return Err(OffloadError::Headers);
                }
                (false, ip.protocol(), l3 + ip.header_len())
            }
            ETHERTYPE_IPV6 => {
                let ip = Ipv6Packet::new_checked(l3_buf).map_err(|_| OffloadError::Headers)?;
                let (nh, off) = ip.upper_layer().map_err(|_| OffloadError::Headers)?;
                (true, nh, l3 + off)
            }
            _ => return Err(OffloadError::Headers),
        };
        if want_ipv6.is_some_and(|w| w != ipv6) {
            return Err(OffloadError::Headers);
        }
        let l4_buf = headers.get(l4..).ok_or(OffloadError::Headers)?;
        let (l4_len, csum_offset) = match (l4_proto, protocol) {
            (L4::Tcp, proto::TCP) => (
                TcpPacket::new_checked(l4_buf)
                    .map_err(|_| OffloadError::Headers)?
                    .header_len(),
                TCP_CHECKSUM_OFFSET,
            ),
            (L4::Udp, proto::UDP) => {
                UdpPacket::new_checked(l4_buf).map_err(|_| OffloadError::Headers)?;
                (UDP_HEADER_LEN, UDP_CHECKSUM_OFFSET)
            }
            _ => return Err(OffloadError::Headers),
        };
        if usize::from(h.csum_start) != l4 || usize::from(h.csum_offset) != csum_offset {
            return Err(OffloadError::ChecksumOffsets);
        }
        let header_len = l4 + l4_len;
        if header_len > MAX_OFFLOAD_HEADER {
            return Err(OffloadError::HeadersTooLong);
        }
        if header_len > frame_len {
            return Err(OffloadError::Headers);
        }
        Ok(GsoLayout {
            l3,
            l4,
            header_len,
            ipv6,
            l4_proto,
            mss: usize::from(h.gso_size),
        })
    }

    /// Frame length of a full-size segment.
    #[inline]
    pub fn segment_frame_len(&self) -> usize {
        self.header_len + self.mss
    }

    /// Segments a frame of `frame_len` bytes becomes (at least one).
    #[inline]
    pub fn segment_count(&self, frame_len: usize) -> usize {
        frame_len
            .saturating_sub(self.header_len)
            .div_ceil(self.mss)
            .max(1)
    }
}

/// EtherType of the L3 header and its offset, through up to [`MAX_TAGS`] VLAN tags.
fn l3_start(f: &[u8]) -> Option<(u16, usize)> {
    let mut at = ETHERNET_HEADER_LEN - 2;
    for _ in 0..=MAX_TAGS {
        let t = u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]);
        if t != TPID_8021Q && t != TPID_8021AD {
            return Some((t, at + 2));
        }
        at += 4;
    }
    None
}

/// Checks a received frame's offload metadata against the frame. Returns the GSO layout
/// for a GSO frame, `None` for any other frame (also one with a valid partial checksum).
pub fn check_rx(frame: &[u8], h: &VirtioNetHdr) -> Result<Option<GsoLayout>, OffloadError> {
    if h.is_gso() {
        let pre = frame.get(..MAX_OFFLOAD_HEADER).unwrap_or(frame);
        return GsoLayout::parse(pre, frame.len(), h).map(Some);
    }
    if h.gso() != GsoType::None {
        return Err(OffloadError::UnsupportedGso);
    }
    if h.needs_csum() {
        let start = usize::from(h.csum_start);
        let end = start + usize::from(h.csum_offset) + 2;
        if start < ETHERNET_HEADER_LEN || end > frame.len() || end > MAX_OFFLOAD_HEADER {
            return Err(OffloadError::ChecksumOffsets);
        }
    }
    Ok(None)
}

/// Completes a partial checksum without touching the frame: writes the frame's first bytes,
/// up to the end of the checksum field, into `out` with the field filled in. Returns how
/// many bytes were written and the rest of the frame, to be sent after them unchanged.
pub fn complete_checksum<'a>(
    frame: &TxFrame<'a>,
    out: &mut [u8],
) -> Result<(usize, &'a [u8]), OffloadError> {
    let start = usize::from(frame.vnet.csum_start);
    let field = start + usize::from(frame.vnet.csum_offset);
    let end = field + 2;
    if start < ETHERNET_HEADER_LEN || end > frame.len() {
        return Err(OffloadError::ChecksumOffsets);
    }
    let head = out.get_mut(..end).ok_or(OffloadError::HeadersTooLong)?;
    if frame.copy_prefix(head) != end {
        return Err(OffloadError::ChecksumOffsets);
    }
    let rest = frame.suffix(end).ok_or(OffloadError::Pieces)?;
    // The field holds the pseudo-header sum; summing it with the rest gives the checksum.
    let mut c = Checksum::new();
    c.add(head.get(start..).unwrap_or(&[]));
    c.add(rest);
    let sum = match c.finish() {
        // 0 means "no checksum" for UDP; 0xffff is the same value in ones' complement.
        0 => 0xffff,
        s => s,
    };
    if let Some(f) = head.get_mut(field..end) {
        f.copy_from_slice(&sum.to_be_bytes());
    }
    Ok((end, rest))
}

/// Cuts a GSO frame into complete segments, one header at a time (see the module docs).
pub struct Segmenter<'a> {
    layout: GsoLayout,
    template: [u8; MAX_OFFLOAD_HEADER],
    payload: &'a [u8],
    /// Offset in `payload` of the next segment.
    next: usize,
    index: u16,
    first_seq: u32,
    first_ip_id: u16,
    l4_flags: u8,
    /// Pseudo-header sum without the length.
    pseudo: Checksum,
    done: bool,
}

impl<'a> Segmenter<'a> {
    /// Prepares to segment `frame` according to its virtio-net header.
    pub fn new(frame: &TxFrame<'a>) -> Result<Self, OffloadError> {
        let mut template = [0u8; MAX_OFFLOAD_HEADER];
        let n = frame.copy_prefix(&mut template);
        let layout = GsoLayout::parse(template.get(..n).unwrap_or(&[]), frame.len(), &frame.vnet)?;
        let payload = frame
            .suffix(layout.header_len)
            .ok_or(OffloadError::Pieces)?;
        let hdrs = template.get(..layout.header_len).unwrap_or(&[]);
        let l3 = hdrs.get(layout.l3..).unwrap_or(&[]);
        let l4 = hdrs.get(layout.l4..).unwrap_or(&[]);
        let protocol = match layout.l4_proto {
            L4::Tcp => proto::TCP,
            L4::Udp => proto::UDP,
        };
        let (pseudo, first_ip_id) = if layout.ipv6 {
            let ip = Ipv6Packet::new_unchecked(l3);
            (
                pseudo_header_v6(ip.src_addr(), ip.dst_addr(), protocol, 0),
                0,
            )
        } else {
            let ip = Ipv4Packet::new_unchecked(l3);
            (
                pseudo_header_v4(ip.src_addr(), ip.dst_addr(), protocol, 0),
                ip.ident(),
            )
        };
        let (first_seq, l4_flags) = match layout.l4_proto {
            L4::Tcp => {
                let t = TcpPacket::new_unchecked(l4);
                (t.seq_number(), t.flags())
            }
            L4::Udp => (0, 0),
        };
        Ok(Segmenter {
            layout,
            template,
            payload,
            next: 0,
            index: 0,
            first_seq,
            first_ip_id,
            l4_flags,
            pseudo,
            done: false,
        })
    }

    pub fn layout(&self) -> &GsoLayout {
        &self.layout
    }

    /// Length of each segment's header (what [`Self::next_into`] writes).
    #[inline]
    pub fn header_len(&self) -> usize {
        self.layout.header_len
    }

    #[inline]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Segments in total.
    pub fn segment_count(&self) -> usize {
        self.payload.len().div_ceil(self.layout.mss).max(1)
    }

    /// Writes the next segment's complete headers into `out[..header_len()]` and returns
    /// the segment's payload (a slice of the original frame). `None` when all segments were
    /// produced or `out` is too short.
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        let l = self.layout;
        let hdr = out.get_mut(..l.header_len)?;
        hdr.copy_from_slice(self.template.get(..l.header_len)?);
        let end = (self.next + l.mss).min(self.payload.len());
        let seg = self.payload.get(self.next..end)?;
        let last = end == self.payload.len();
        let l4_len = l.header_len - l.l4 + seg.len();
        let l3_len = l.header_len - l.l3 + seg.len();

        // IP: lengths, and for IPv4 a fresh ID and header checksum.
        if l.ipv6 {
            let mut ip = Ipv6Packet::new_unchecked(hdr.get_mut(l.l3..)?);
            ip.set_payload_len(u16::try_from(l3_len - IPV6_HEADER_LEN).ok()?);
        } else {
            let mut ip = Ipv4Packet::new_unchecked(hdr.get_mut(l.l3..l.l4)?);
            ip.set_total_len(u16::try_from(l3_len).ok()?);
            ip.set_ident(self.first_ip_id.wrapping_add(self.index));
            ip.fill_checksum();
        }

        // L4: sequence number and flags or length; then the checksum over header + payload.
        let mut c = self.pseudo;
        c.add_u32(u32::try_from(l4_len).ok()?);
        match l.l4_proto {
            L4::Tcp => {
                let mut t = TcpPacket::new_unchecked(hdr.get_mut(l.l4..)?);
                t.set_seq_number(self.first_seq.wrapping_add(self.next as u32));
                let mut f = self.l4_flags;
                if !last {
                    f &= !(tcp_flags::FIN | tcp_flags::PSH);
                }
                if self.index > 0 {
                    f &= !tcp_flags::CWR;
                }
                t.set_flags(f);
                t.set_checksum(0);
                c.add(hdr.get(l.l4..)?);
                c.add(seg);
                TcpPacket::new_unchecked(hdr.get_mut(l.l4..)?).set_checksum(c.finish());
            }
            L4::Udp => {
                let mut u = UdpPacket::new_unchecked(hdr.get_mut(l.l4..)?);
                u.set_len(u16::try_from(l4_len).ok()?);
                u.set_checksum(0);
                c.add(hdr.get(l.l4..)?);
                c.add(seg);
                let sum = match c.finish() {
                    0 => 0xffff,
                    s => s,
                };
                UdpPacket::new_unchecked(hdr.get_mut(l.l4..)?).set_checksum(sum);
            }
        }
        self.next = end;
        self.index = self.index.wrapping_add(1);
        self.done = last;
        Some(seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_wire::virtio_net::{
        VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4,
        VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP, VIRTIO_NET_HDR_GSO_UDP_L4,
    };

    fn tso4(mss: u16) -> VirtioNetHdr {
        VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            hdr_len: 66,
            gso_size: mss,
            csum_start: 34,
            csum_offset: 16,
        }
    }

    #[test]
    fn caps_accept() {
        let t4 = tso4(1448);
        assert!(!OffloadCaps::NONE.accepts(&t4));
        assert!(!OffloadCaps::CSUM.accepts(&t4));
        assert!(OffloadCaps::CSUM.union(OffloadCaps::TSO4).accepts(&t4));
        let ecn = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
            ..t4
        };
        assert!(!OffloadCaps::CSUM.union(OffloadCaps::TSO4).accepts(&ecn));
        assert!(OffloadCaps::ALL.accepts(&ecn));
        let t6 = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV6,
            ..t4
        };
        assert!(!OffloadCaps::CSUM.union(OffloadCaps::TSO4).accepts(&t6));
        let uso = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
            ..t4
        };
        assert!(OffloadCaps::ALL.accepts(&uso));
        let ufo = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_UDP,
            ..t4
        };
        assert!(!OffloadCaps::ALL.accepts(&ufo), "UFO is never passed on");
        let csum = VirtioNetHdr {
            gso_type: 0,
            gso_size: 0,
            ..t4
        };
        assert!(OffloadCaps::CSUM.accepts(&csum));
        assert!(!OffloadCaps::NONE.accepts(&csum));
        assert!(OffloadCaps::NONE.accepts(&VirtioNetHdr::NONE));
    }
}
