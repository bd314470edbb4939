//! Packet header rewriting: the header-changing datapath actions applied to whole
//! Ethernet frames, with checksums kept right.
//!
//! # Design
//!
//! [`apply`] parses just enough of the frame to find the header an action touches —
//! Ethernet, one VLAN tag (as [`crate::key::extract`] reads it), then IPv4, IPv6 (with
//! its extension headers), ARP or the top MPLS label stack entry, then TCP, UDP, SCTP,
//! ICMPv4 or ICMPv6 — and rewrites it in place. A field changes through one helper that
//! sums the 16-bit words it covers before and after the write and adjusts every
//! checksum that covers them incrementally (RFC 1624, `HC' = ~(~HC + ~m + m')`): the
//! IPv4 header checksum, and for fields in the TCP/UDP/ICMPv6 pseudo-header (addresses,
//! protocol) also the L4 checksum. Frame offsets of IP and L4 headers are always even
//! (Ethernet is 14 bytes, tags 4, IP headers a multiple of 4), so words at even frame
//! offsets are the words each checksum sums. SCTP's CRC32c cannot be adjusted: a port
//! change recomputes it over the SCTP packet.
//!
//! A UDP-over-IPv4 checksum of zero means "none" and stays zero (a result of zero is
//! sent as 0xffff). With `l4_csum_partial` the frame is `CHECKSUM_PARTIAL` (virtio-net
//! `NEEDS_CSUM`): its L4 checksum field holds the folded pseudo-header sum, not
//! complemented, and the device sums the L4 bytes itself; so only pseudo-header changes
//! adjust it (as a plain sum), and changes inside the L4 header leave it alone.
//!
//! Push and pop grow or shrink the frame at the tag's place: VLAN tags right after the
//! Ethernet addresses (a new tag copies the outer one's TCI, or is 0), MPLS entries
//! after the VLAN tag (a new entry copies the top one with BOS cleared, or is label 0,
//! BOS set, TTL copied from the IP header).
//!
//! Nothing here panics or reads out of bounds on any input: an action on a header the
//! frame does not have is [`ModifyError::NotApplicable`], one on a header cut short is
//! [`ModifyError::Truncated`], and the frame is unchanged in both cases.

use crate::pipeline::DpAction;
use rvs_openflow::oxm::OxmField;
use rvs_wire::Checksum;

/// Why an action could not be applied (the frame is left unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModifyError {
    /// The header the action changes is cut short.
    Truncated,
    /// The frame has no such header (set `ipv4_src` on ARP, pop a tag that is not
    /// there), or the action is not a header action (output, group, meter, queue).
    NotApplicable,
    /// A TTL decrement would reach zero: the packet must be dropped.
    TtlExpired,
    /// A set-field of a field that is not in the frame (metadata, tunnel id, in_port).
    NotAHeaderField,
}

impl core::fmt::Display for ModifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ModifyError::Truncated => "header truncated",
            ModifyError::NotApplicable => "no such header in the frame",
            ModifyError::TtlExpired => "TTL expired",
            ModifyError::NotAHeaderField => "not a packet header field",
        })
    }
}

impl std::error::Error for ModifyError {}

type Res = Result<(), ModifyError>;
use ModifyError::{NotApplicable, Truncated};

const ETH_ADDR_LEN: usize = 6;
const ETH_TYPE_OFF: usize = 12;
const ETH_HLEN: usize = 14;
const TAG_LEN: usize = 4;
const LSE_LEN: usize = 4;
const TPID_CTAG: u16 = 0x8100;
const TPID_STAG: u16 = 0x88a8;
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// IPv4 header offsets.
mod v4 {
    pub const MIN_LEN: usize = 20;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTO: usize = 9;
    pub const CSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// IPv6 header offsets.
mod v6 {
    pub const LEN: usize = 40;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const MAX_EXT: usize = 8;
}

/// ARP (Ethernet/IPv4) offsets.
mod arp {
    pub const LEN: usize = 28;
    pub const OP: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
}

/// Offsets of the checksum field and header length of each L4 protocol.
const TCP_CSUM: usize = 16;
const TCP_HLEN: usize = 20;
const UDP_CSUM: usize = 6;
const UDP_HLEN: usize = 8;
const ICMP_CSUM: usize = 2;
const ICMP_HLEN: usize = 4;
const SCTP_CSUM: usize = 8;
const SCTP_HLEN: usize = 12;
const ND_TARGET: usize = 8;
const ND_OPTIONS: usize = 24;
const ND_SLL: u8 = 1;
const ND_TLL: u8 = 2;
const ND_NS: u8 = 135;
const ND_NA: u8 = 136;

fn be16(f: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]))
}

fn byte(f: &[u8], at: usize) -> Result<u8, ModifyError> {
    f.get(at).copied().ok_or(Truncated)
}

/// Where the headers are.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// The outer VLAN tag's TCI, if tagged.
    tci_off: Option<usize>,
    /// The EtherType naming the L3 protocol.
    type_off: usize,
    eth_type: u16,
    l3: usize,
    /// Upper-layer protocol, the offset of the byte naming it, and the L4 header's
    /// offset (`None` for a later fragment).
    ip: Option<Ip>,
}

#[derive(Debug, Clone, Copy)]
struct Ip {
    v6: bool,
    proto: u8,
    proto_off: usize,
    l4: Option<usize>,
    /// End of the IP packet within the frame (Ethernet padding excluded).
    end: usize,
}

fn parse(f: &[u8]) -> Result<Layout, ModifyError> {
    let outer = be16(f, ETH_TYPE_OFF).ok_or(Truncated)?;
    let (tci_off, type_off) = if outer == TPID_CTAG || outer == TPID_STAG {
        if f.len() < ETH_HLEN + TAG_LEN {
            (None, ETH_TYPE_OFF)
        } else {
            (Some(ETH_HLEN), ETH_TYPE_OFF + TAG_LEN)
        }
    } else {
        (None, ETH_TYPE_OFF)
    };
    let eth_type = be16(f, type_off).unwrap_or(0);
    let l3 = type_off + 2;
    let ip = match eth_type {
        ETH_IPV4 => parse_v4(f, l3),
        ETH_IPV6 => parse_v6(f, l3),
        _ => None,
    };
    Ok(Layout {
        tci_off,
        type_off,
        eth_type,
        l3,
        ip,
    })
}

fn parse_v4(f: &[u8], l3: usize) -> Option<Ip> {
    let ihl = usize::from(*f.get(l3)? & 0x0f) * 4;
    if ihl < v4::MIN_LEN || f.len() < l3 + ihl {
        return None;
    }
    let total = usize::from(be16(f, l3 + v4::TOTAL_LEN)?);
    let later_fragment = be16(f, l3 + v4::FLAGS_FRAG)? & 0x1fff != 0;
    Some(Ip {
        v6: false,
        proto: *f.get(l3 + v4::PROTO)?,
        proto_off: l3 + v4::PROTO,
        l4: (!later_fragment).then_some(l3 + ihl),
        end: f.len().min(l3 + total.max(ihl)),
    })
}

fn parse_v6(f: &[u8], l3: usize) -> Option<Ip> {
    if f.len() < l3 + v6::LEN {
        return None;
    }
    let end = f
        .len()
        .min(l3 + v6::LEN + usize::from(be16(f, l3 + v6::PAYLOAD_LEN)?));
    let mut proto_off = l3 + v6::NEXT;
    let mut off = l3 + v6::LEN;
    for _ in 0..v6::MAX_EXT {
        let nh = *f.get(proto_off)?;
        let len = usize::from(*f.get(off + 1)?);
        let next_off = match nh {
            0 | 43 | 60 => off + (len + 1) * 8,
            51 => off + (len + 2) * 4,
            44 => {
                let frag = be16(f, off + 2)?;
                if frag >> 3 != 0 {
                    return Some(Ip {
                        v6: true,
                        proto: *f.get(off)?,
                        proto_off: off,
                        l4: None,
                        end,
                    });
                }
                off + 8
            }
            _ => break,
        };
        proto_off = off;
        off = next_off;
    }
    let proto = *f.get(proto_off)?;
    if matches!(proto, 0 | 43 | 44 | 51 | 60) {
        return None;
    }
    Some(Ip {
        v6: true,
        proto,
        proto_off,
        l4: Some(off),
        end,
    })
}

/// A checksum to adjust after a change.
#[derive(Debug, Clone, Copy)]
enum Fix {
    /// A complemented Internet checksum at this offset.
    Full(usize),
    /// A UDP-over-IPv4 checksum: zero stays zero, a zero result is 0xffff.
    Udp4(usize),
    /// A `CHECKSUM_PARTIAL` pseudo-header sum (not complemented).
    Partial(usize),
}

/// Folded sum of the 16-bit words at even offsets in `a..b` (bytes past the end: 0).
fn word_sum(f: &[u8], a: usize, b: usize) -> u16 {
    let mut c = Checksum::new();
    let mut i = a;
    while i < b {
        let hi = f.get(i).copied().unwrap_or(0);
        let lo = f.get(i + 1).copied().unwrap_or(0);
        c.add_u16(u16::from_be_bytes([hi, lo]));
        i += 2;
    }
    c.fold()
}

fn put16(f: &mut [u8], at: usize, v: u16) {
    if let Some(s) = f.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Writes `new` at `at` and adjusts the checksums `fixes`.
fn edit(f: &mut [u8], at: usize, new: &[u8], fixes: &[Fix]) -> Res {
    let end = at + new.len();
    if end > f.len() {
        return Err(Truncated);
    }
    let (a, b) = (at & !1, (end + 1) & !1);
    let old = word_sum(f, a, b);
    if let Some(s) = f.get_mut(at..end) {
        s.copy_from_slice(new);
    }
    let new = word_sum(f, a, b);
    for fix in fixes {
        let (off, partial, udp) = match *fix {
            Fix::Full(o) => (o, false, false),
            Fix::Udp4(o) => (o, false, true),
            Fix::Partial(o) => (o, true, false),
        };
        let Some(field) = be16(f, off) else { continue };
        if udp && field == 0 {
            continue;
        }
        let mut c = Checksum::new();
        c.add_u16(if partial { field } else { !field });
        c.add_u16(!old);
        c.add_u16(new);
        let v = if partial {
            c.fold()
        } else {
            match c.finish() {
                0 if udp => 0xffff,
                v => v,
            }
        };
        put16(f, off, v);
    }
    Ok(())
}

/// Rewrites one byte through `change`, with checksum fixes.
fn edit_byte(f: &mut [u8], at: usize, fixes: &[Fix], change: impl Fn(u8) -> u8) -> Res {
    let old = byte(f, at)?;
    edit(f, at, &[change(old)], fixes)
}

impl Layout {
    fn ipv4(&self) -> Result<(usize, Ip), ModifyError> {
        if self.eth_type != ETH_IPV4 {
            return Err(NotApplicable);
        }
        let ip = self.ip.ok_or(Truncated)?;
        Ok((self.l3, ip))
    }

    fn ipv6(&self) -> Result<(usize, Ip), ModifyError> {
        if self.eth_type != ETH_IPV6 {
            return Err(NotApplicable);
        }
        let ip = self.ip.ok_or(Truncated)?;
        Ok((self.l3, ip))
    }

    fn arp(&self, f: &[u8]) -> Result<usize, ModifyError> {
        if self.eth_type != ETH_ARP {
            return Err(NotApplicable);
        }
        if f.len() < self.l3 + arp::LEN {
            return Err(Truncated);
        }
        Ok(self.l3)
    }

    fn mpls(&self, f: &[u8]) -> Result<usize, ModifyError> {
        if !matches!(self.eth_type, ETH_MPLS | ETH_MPLS_MC) {
            return Err(NotApplicable);
        }
        if f.len() < self.l3 + LSE_LEN {
            return Err(Truncated);
        }
        Ok(self.l3)
    }

    /// The L4 header of protocol `proto` (at least `hlen` bytes).
    fn l4(&self, proto: u8, hlen: usize) -> Result<(usize, Ip), ModifyError> {
        let ip = self
            .ip
            .ok_or(if matches!(self.eth_type, ETH_IPV4 | ETH_IPV6) {
                Truncated
            } else {
                NotApplicable
            })?;
        let icmp_ok = match proto {
            PROTO_ICMP => !ip.v6,
            PROTO_ICMPV6 => ip.v6,
            _ => true,
        };
        if ip.proto != proto || !icmp_ok {
            return Err(NotApplicable);
        }
        let l4 = ip.l4.ok_or(NotApplicable)?;
        if ip.end < l4 + hlen {
            return Err(Truncated);
        }
        Ok((l4, ip))
    }

    /// The checksum covering the pseudo-header, if the L4 header is there.
    fn pseudo_fix(&self, f: &[u8], partial: bool) -> Option<Fix> {
        let ip = self.ip?;
        let l4 = ip.l4?;
        let (off, hlen) = match ip.proto {
            PROTO_TCP => (TCP_CSUM, TCP_HLEN),
            PROTO_UDP => (UDP_CSUM, UDP_HLEN),
            PROTO_ICMPV6 if ip.v6 => (ICMP_CSUM, ICMP_HLEN),
            _ => return None,
        };
        if ip.end.min(f.len()) < l4 + hlen {
            return None;
        }
        Some(if partial {
            Fix::Partial(l4 + off)
        } else if ip.proto == PROTO_UDP && !ip.v6 {
            Fix::Udp4(l4 + off)
        } else {
            Fix::Full(l4 + off)
        })
    }

    /// The checksum covering the L4 header itself (none when the device computes it).
    fn l4_fix(&self, l4: usize, ip: Ip, partial: bool) -> Option<Fix> {
        if partial {
            return None;
        }
        Some(match ip.proto {
            PROTO_TCP => Fix::Full(l4 + TCP_CSUM),
            PROTO_UDP if !ip.v6 => Fix::Udp4(l4 + UDP_CSUM),
            PROTO_UDP => Fix::Full(l4 + UDP_CSUM),
            PROTO_ICMP | PROTO_ICMPV6 => Fix::Full(l4 + ICMP_CSUM),
            _ => return None,
        })
    }
}

/// Applies one header-changing datapath action to `frame` in place (see the module
/// documentation). Output, group, meter, queue and controller actions are
/// [`ModifyError::NotApplicable`].
pub fn apply(frame: &mut Vec<u8>, act: &DpAction, l4_csum_partial: bool) -> Res {
    let lay = parse(frame)?;
    let f: &mut [u8] = frame.as_mut_slice();
    match act {
        DpAction::SetField(field) => set_field(f, &lay, field, l4_csum_partial),
        DpAction::PushVlan(tpid) => {
            let tci = match lay.tci_off {
                Some(o) => be16(f, o).unwrap_or(0),
                None => 0,
            };
            let [t0, t1] = tpid.to_be_bytes();
            let [c0, c1] = tci.to_be_bytes();
            frame.splice(ETH_TYPE_OFF..ETH_TYPE_OFF, [t0, t1, c0, c1]);
            Ok(())
        }
        DpAction::PopVlan => {
            if lay.tci_off.is_none() {
                return Err(NotApplicable);
            }
            frame.drain(ETH_TYPE_OFF..ETH_TYPE_OFF + TAG_LEN);
            Ok(())
        }
        DpAction::PushMpls(ethertype) => {
            let lse = match lay.mpls(f) {
                Ok(l3) => {
                    let top = u32::from_be_bytes(read4(f, l3)?);
                    top & !0x100
                }
                Err(NotApplicable) => {
                    let ttl = match (lay.eth_type, lay.ip) {
                        (ETH_IPV4, Some(_)) => byte(f, lay.l3 + v4::TTL)?,
                        (ETH_IPV6, Some(_)) => byte(f, lay.l3 + v6::HOP_LIMIT)?,
                        _ => 0,
                    };
                    0x100 | u32::from(ttl)
                }
                Err(e) => return Err(e),
            };
            put16(f, lay.type_off, *ethertype);
            frame.splice(lay.l3..lay.l3, lse.to_be_bytes());
            Ok(())
        }
        DpAction::PopMpls(ethertype) => {
            let l3 = lay.mpls(f)?;
            put16(f, lay.type_off, *ethertype);
            frame.drain(l3..l3 + LSE_LEN);
            Ok(())
        }
        DpAction::SetMplsTtl(ttl) => {
            let l3 = lay.mpls(f)?;
            edit(f, l3 + 3, &[*ttl], &[])
        }
        DpAction::DecMplsTtl => {
            let l3 = lay.mpls(f)?;
            let ttl = byte(f, l3 + 3)?;
            if ttl <= 1 {
                return Err(ModifyError::TtlExpired);
            }
            edit(f, l3 + 3, &[ttl - 1], &[])
        }
        DpAction::SetNwTtl(ttl) => set_nw_ttl(f, &lay, |_| Ok(*ttl)),
        DpAction::DecNwTtl => set_nw_ttl(f, &lay, |t| {
            if t <= 1 {
                Err(ModifyError::TtlExpired)
            } else {
                Ok(t - 1)
            }
        }),
        DpAction::CopyTtlOut => copy_ttl(f, &lay, true),
        DpAction::CopyTtlIn => copy_ttl(f, &lay, false),
        DpAction::Output(_)
        | DpAction::InPort
        | DpAction::Flood
        | DpAction::All
        | DpAction::Normal
        | DpAction::Local
        | DpAction::Controller { .. }
        | DpAction::SetQueue(_)
        | DpAction::Group(_)
        | DpAction::Meter(_) => Err(NotApplicable),
    }
}

fn read4(f: &[u8], at: usize) -> Result<[u8; 4], ModifyError> {
    match f.get(at..at + 4) {
        Some(&[a, b, c, d]) => Ok([a, b, c, d]),
        _ => Err(Truncated),
    }
}

fn set_nw_ttl(f: &mut [u8], lay: &Layout, new: impl Fn(u8) -> Result<u8, ModifyError>) -> Res {
    match lay.eth_type {
        ETH_IPV4 => {
            let (l3, _) = lay.ipv4()?;
            let t = new(byte(f, l3 + v4::TTL)?)?;
            edit(f, l3 + v4::TTL, &[t], &[Fix::Full(l3 + v4::CSUM)])
        }
        ETH_IPV6 => {
            let (l3, _) = lay.ipv6()?;
            let t = new(byte(f, l3 + v6::HOP_LIMIT)?)?;
            edit(f, l3 + v6::HOP_LIMIT, &[t], &[])
        }
        _ => Err(NotApplicable),
    }
}

/// Copies the TTL between the top MPLS entry and the next one, or the IP header under
/// a bottom-of-stack entry: outward (`out`) or inward.
fn copy_ttl(f: &mut [u8], lay: &Layout, out: bool) -> Res {
    let l3 = lay.mpls(f)?;
    let top_ttl = l3 + 3;
    let bos = byte(f, l3 + 2)? & 1 != 0;
    let inner = l3 + LSE_LEN;
    // (offset of the inner TTL, checksum to fix when it changes)
    let (inner_ttl, fixes): (usize, Vec<Fix>) = if !bos {
        if f.len() < inner + LSE_LEN {
            return Err(Truncated);
        }
        (inner + 3, Vec::new())
    } else {
        match byte(f, inner)? >> 4 {
            4 => {
                if f.len() < inner + v4::MIN_LEN {
                    return Err(Truncated);
                }
                (inner + v4::TTL, vec![Fix::Full(inner + v4::CSUM)])
            }
            6 => {
                if f.len() < inner + v6::LEN {
                    return Err(Truncated);
                }
                (inner + v6::HOP_LIMIT, Vec::new())
            }
            _ => return Err(NotApplicable),
        }
    };
    if out {
        let t = byte(f, inner_ttl)?;
        edit(f, top_ttl, &[t], &[])
    } else {
        let t = byte(f, top_ttl)?;
        edit(f, inner_ttl, &[t], &fixes)
    }
}

fn set_field(f: &mut [u8], lay: &Layout, field: &OxmField, partial: bool) -> Res {
    use OxmField as O;
    match field {
        O::EthDst(m) => edit(f, 0, &m.value, &[]),
        O::EthSrc(m) => edit(f, ETH_ADDR_LEN, &m.value, &[]),
        O::EthType(t) => edit(f, lay.type_off, &t.to_be_bytes(), &[]),
        O::VlanVid(m) => {
            let o = lay.tci_off.ok_or(NotApplicable)?;
            let tci = be16(f, o).ok_or(Truncated)?;
            edit(
                f,
                o,
                &((tci & 0xf000) | (m.value & 0x0fff)).to_be_bytes(),
                &[],
            )
        }
        O::VlanPcp(p) => {
            let o = lay.tci_off.ok_or(NotApplicable)?;
            edit_byte(f, o, &[], |b| (b & 0x1f) | ((p & 7) << 5))
        }
        O::IpDscp(d) => set_tos(f, lay, 0xfc, (d & 0x3f) << 2),
        O::IpEcn(e) => set_tos(f, lay, 0x03, e & 0x03),
        O::IpProto(p) => {
            let ip = match lay.eth_type {
                ETH_IPV4 => lay.ipv4()?.1,
                ETH_IPV6 => lay.ipv6()?.1,
                _ => return Err(NotApplicable),
            };
            let mut fixes = Vec::with_capacity(2);
            if !ip.v6 {
                fixes.push(Fix::Full(lay.l3 + v4::CSUM));
            }
            // The protocol is in the pseudo-header: the old protocol's checksum
            // follows (the word holding it differs only by the protocol byte).
            fixes.extend(lay.pseudo_fix(f, partial));
            edit(f, ip.proto_off, &[*p], &fixes)
        }
        O::Ipv4Src(m) | O::Ipv4Dst(m) => {
            let (l3, _) = lay.ipv4()?;
            let at = l3
                + if matches!(field, O::Ipv4Src(_)) {
                    v4::SRC
                } else {
                    v4::DST
                };
            let mut fixes = vec![Fix::Full(l3 + v4::CSUM)];
            fixes.extend(lay.pseudo_fix(f, partial));
            edit(f, at, &m.value.octets(), &fixes)
        }
        O::Ipv6Src(m) | O::Ipv6Dst(m) => {
            let (l3, _) = lay.ipv6()?;
            let at = l3
                + if matches!(field, O::Ipv6Src(_)) {
                    v6::SRC
                } else {
                    v6::DST
                };
            let fixes: Vec<Fix> = lay.pseudo_fix(f, partial).into_iter().collect();
            edit(f, at, &m.value.octets(), &fixes)
        }
        O::Ipv6Flabel(m) => {
            let (l3, _) = lay.ipv6()?;
            let w = u32::from_be_bytes(read4(f, l3)?);
            let w = (w & !0x000f_ffff) | (m.value & 0x000f_ffff);
            edit(f, l3, &w.to_be_bytes(), &[])
        }
        O::TcpSrc(p) | O::TcpDst(p) => {
            let (l4, ip) = lay.l4(PROTO_TCP, TCP_HLEN)?;
            let at = l4 + if matches!(field, O::TcpSrc(_)) { 0 } else { 2 };
            let fixes: Vec<Fix> = lay.l4_fix(l4, ip, partial).into_iter().collect();
            edit(f, at, &p.to_be_bytes(), &fixes)
        }
        O::UdpSrc(p) | O::UdpDst(p) => {
            let (l4, ip) = lay.l4(PROTO_UDP, UDP_HLEN)?;
            let at = l4 + if matches!(field, O::UdpSrc(_)) { 0 } else { 2 };
            let fixes: Vec<Fix> = lay.l4_fix(l4, ip, partial).into_iter().collect();
            edit(f, at, &p.to_be_bytes(), &fixes)
        }
        O::SctpSrc(p) | O::SctpDst(p) => {
            let (l4, ip) = lay.l4(PROTO_SCTP, SCTP_HLEN)?;
            let at = l4 + if matches!(field, O::SctpSrc(_)) { 0 } else { 2 };
            edit(f, at, &p.to_be_bytes(), &[])?;
            if !partial {
                put_sctp_crc(f, l4, ip.end);
            }
            Ok(())
        }
        O::Icmpv4Type(v) | O::Icmpv4Code(v) => {
            let (l4, ip) = lay.l4(PROTO_ICMP, ICMP_HLEN)?;
            let at = l4 + usize::from(matches!(field, O::Icmpv4Code(_)));
            let fixes: Vec<Fix> = lay.l4_fix(l4, ip, partial).into_iter().collect();
            edit(f, at, &[*v], &fixes)
        }
        O::Icmpv6Type(v) | O::Icmpv6Code(v) => {
            let (l4, ip) = lay.l4(PROTO_ICMPV6, ICMP_HLEN)?;
            let at = l4 + usize::from(matches!(field, O::Icmpv6Code(_)));
            let fixes: Vec<Fix> = lay.l4_fix(l4, ip, partial).into_iter().collect();
            edit(f, at, &[*v], &fixes)
        }
        O::Ipv6NdTarget(a) => {
            let (l4, ip) = lay.l4(PROTO_ICMPV6, ND_OPTIONS)?;
            if !matches!(byte(f, l4)?, ND_NS | ND_NA) {
                return Err(NotApplicable);
            }
            let fixes: Vec<Fix> = lay.l4_fix(l4, ip, partial).into_iter().collect();
            edit(f, l4 + ND_TARGET, &a.octets(), &fixes)
        }
        O::Ipv6NdSll(a) | O::Ipv6NdTll(a) => {
            let (l4, ip) = lay.l4(PROTO_ICMPV6, ND_OPTIONS)?;
            let (msg, opt) = if matches!(field, O::Ipv6NdSll(_)) {
                (ND_NS, ND_SLL)
            } else {
                (ND_NA, ND_TLL)
            };
            if byte(f, l4)? != msg {
                return Err(NotApplicable);
            }
            let at = find_nd_option(f, l4 + ND_OPTIONS, ip.end, opt).ok_or(NotApplicable)?;
            let fixes: Vec<Fix> = lay.l4_fix(l4, ip, partial).into_iter().collect();
            edit(f, at, a, &fixes)
        }
        O::ArpOp(op) => {
            let l3 = lay.arp(f)?;
            edit(f, l3 + arp::OP, &op.to_be_bytes(), &[])
        }
        O::ArpSpa(m) | O::ArpTpa(m) => {
            let l3 = lay.arp(f)?;
            let at = l3
                + if matches!(field, O::ArpSpa(_)) {
                    arp::SPA
                } else {
                    arp::TPA
                };
            edit(f, at, &m.value.octets(), &[])
        }
        O::ArpSha(m) | O::ArpTha(m) => {
            let l3 = lay.arp(f)?;
            let at = l3
                + if matches!(field, O::ArpSha(_)) {
                    arp::SHA
                } else {
                    arp::THA
                };
            edit(f, at, &m.value, &[])
        }
        O::MplsLabel(l) => set_lse(f, lay, 0xffff_f000, (l & 0x000f_ffff) << 12),
        O::MplsTc(tc) => set_lse(f, lay, 0x0000_0e00, u32::from(tc & 7) << 9),
        O::MplsBos(b) => set_lse(f, lay, 0x0000_0100, u32::from(b & 1) << 8),
        O::InPort(_)
        | O::InPhyPort(_)
        | O::Metadata(_)
        | O::TunnelId(_)
        | O::PbbIsid(_)
        | O::Ipv6Exthdr(_) => Err(ModifyError::NotAHeaderField),
    }
}

fn set_lse(f: &mut [u8], lay: &Layout, mask: u32, value: u32) -> Res {
    let l3 = lay.mpls(f)?;
    let lse = u32::from_be_bytes(read4(f, l3)?);
    edit(f, l3, &((lse & !mask) | value).to_be_bytes(), &[])
}

/// Sets the bits `mask` of the IPv4 ToS / IPv6 traffic class to `value`.
fn set_tos(f: &mut [u8], lay: &Layout, mask: u8, value: u8) -> Res {
    match lay.eth_type {
        ETH_IPV4 => {
            let (l3, _) = lay.ipv4()?;
            edit_byte(f, l3 + v4::TOS, &[Fix::Full(l3 + v4::CSUM)], |b| {
                (b & !mask) | value
            })
        }
        ETH_IPV6 => {
            let (l3, _) = lay.ipv6()?;
            // The traffic class spans bits 4..12 of the first word.
            let w = u16::from_be_bytes([byte(f, l3)?, byte(f, l3 + 1)?]);
            let tc = (w >> 4) as u8;
            let tc = (tc & !mask) | value;
            let w = (w & 0xf00f) | (u16::from(tc) << 4);
            edit(f, l3, &w.to_be_bytes(), &[])
        }
        _ => Err(NotApplicable),
    }
}

/// Offset of the link-layer address in the first ND option of type `opt`.
fn find_nd_option(f: &[u8], mut off: usize, end: usize, opt: u8) -> Option<usize> {
    // Each option is at least 8 bytes, so the walk is bounded by the packet.
    while off + 8 <= end {
        let t = *f.get(off)?;
        let len = usize::from(*f.get(off + 1)?) * 8;
        if len == 0 {
            return None;
        }
        if t == opt {
            return Some(off + 2);
        }
        off += len;
    }
    None
}

/// CRC32c (Castagnoli, reflected polynomial 0x82f63b78), as SCTP uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recomputes the SCTP checksum of the packet `l4..end`.
fn put_sctp_crc(f: &mut [u8], l4: usize, end: usize) {
    let end = end.min(f.len());
    if let Some(c) = f.get_mut(l4 + SCTP_CSUM..l4 + SCTP_CSUM + 4) {
        c.fill(0);
    }
    let crc = f.get(l4..end).map_or(0, crc32c);
    if let Some(c) = f.get_mut(l4 + SCTP_CSUM..l4 + SCTP_CSUM + 4) {
        // Transmitted least significant byte first (RFC 4960 appendix B).
        c.copy_from_slice(&crc.to_le_bytes());
    }
}

/// A meter's DSCP remark: raises the drop precedence of an AF DSCP (RFC 2597: AFxy is
/// `8x + 2y`, class x in 1..=4, drop precedence y in 1..=3) by `prec_level`, up to 3,
/// in IPv4 (with the header checksum) or IPv6. Other DSCPs and non-IP frames are left
/// alone. Returns whether the frame changed.
pub fn dscp_remark(frame: &mut [u8], prec_level: u8) -> bool {
    let Ok(lay) = parse(frame) else {
        return false;
    };
    let dscp = match (lay.eth_type, lay.ip) {
        (ETH_IPV4, Some(_)) => frame.get(lay.l3 + v4::TOS).map(|t| t >> 2),
        (ETH_IPV6, Some(_)) => be16(frame, lay.l3).map(|w| (w >> 6) as u8 & 0x3f),
        _ => None,
    };
    let Some(dscp) = dscp else {
        return false;
    };
    let (class, drop) = (dscp >> 3, (dscp >> 1) & 3);
    if !(1..=4).contains(&class) || drop == 0 || dscp & 1 != 0 {
        return false;
    }
    let new_drop = drop.saturating_add(prec_level).min(3);
    if new_drop == drop {
        return false;
    }
    let new = (class << 3) | (new_drop << 1);
    set_tos(frame, &lay, 0xfc, new << 2).is_ok()
}

#[cfg(test)]
mod tests;
