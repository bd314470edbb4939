//! Flow keys: every header field OpenFlow 1.3 can match, packed into sixteen `u64` words.
//!
//! # Layout
//!
//! A [`FlowKey`] is `[u64; 16]`, 128 bytes, aligned to a cache line. A [`FlowMask`] has the
//! same shape: a 1-bit means "this bit of the key matters". Masking, hashing and comparing
//! are loops over words, and a table whose mask leaves most words zero touches only the
//! others (see [`FlowMask::nonzero_words`]).
//!
//! | word | bits 63..0 |
//! |---|---|
//! | 0 | `in_port`:32, `eth_type`:16, VLAN TCI:16 (PCP:3, *present*:1, VID:12) |
//! | 1 | `metadata` |
//! | 2 | `tunnel_id` |
//! | 3 | `eth_dst`:48, `ip_proto`:8, ToS:8 (DSCP:6, ECN:2) |
//! | 4 | `eth_src`:48, `ip_ttl`:8, fragment flags:8 |
//! | 5 | IPv4 source:32, IPv4 destination:32 (ARP: SPA, TPA) |
//! | 6–7 | IPv6 source |
//! | 8–9 | IPv6 destination |
//! | 10 | L4 source port:16, L4 destination port:16 (ICMP: type, code), IPv6 flow label:32 (20 used) |
//! | 11 | MPLS top entry:32 (label:20, TC:3, BOS:1, TTL:8), `arp_op`:16, TCP flags:16 |
//! | 12 | ARP SHA / ND SLL / ND TLL:48, 0:16 |
//! | 13 | ARP THA:48, 0:16 |
//! | 14–15 | ND target |
//!
//! Several OpenFlow fields share bits (`tcp_src`, `udp_src`, `sctp_src` and `icmpv4_type`
//! are all the L4 source slot; `ipv4_src` and `arp_spa` share word 5; `ipv6_nd_sll` and
//! `ipv6_nd_tll` share word 12 with `arp_sha`). This is sound because OpenFlow's
//! prerequisites make every match on such a field also match the field that tells them
//! apart (`eth_type`, `ip_proto` or `icmpv6_type`), and [`extract`] fills each slot only
//! for the protocol that owns it. It keeps the key at two cache lines.
//!
//! The VLAN TCI keeps the 802.1Q layout except that the DEI bit (which OpenFlow 1.3
//! cannot match) is replaced by "a tag is present", so the low 13 bits are exactly
//! OpenFlow's `vlan_vid` with `OFPVID_PRESENT` (0x1000).
//!
//! Frames whose EtherType is below 0x0600 (802.3 length) get `eth_type` 0x05ff, which no
//! EtherType uses; fields of headers that are absent or truncated stay zero.

use core::fmt;
use rvs_openflow::error::{BadActionCode, BadMatchCode};
use rvs_openflow::oxm::{Masked, OxmField};
use rvs_openflow::{Match, OfError};
use rvs_wire::icmpv6::{msg_type as icmp6, nd_option};
use rvs_wire::{
    ArpPacket, EthernetFrame, Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, MplsPacket,
    SctpPacket, TcpPacket, UdpPacket, ETHERNET_HEADER_LEN,
};

/// Words in a key.
pub const KEY_WORDS: usize = 16;

/// `eth_type` of frames without an Ethernet II type (802.3 length field).
pub const ETH_TYPE_NONE: u16 = 0x05ff;
/// The "tag present" bit of the key's VLAN TCI (= `OFPVID_PRESENT`).
pub const VLAN_PRESENT: u16 = 0x1000;

/// Fragment flags in the key (not matchable in OpenFlow 1.3; they decide whether L4
/// fields were read).
pub mod frag {
    /// The packet is an IP fragment.
    pub const ANY: u8 = 1;
    /// The packet is a fragment other than the first (no L4 header).
    pub const LATER: u8 = 2;
}

/// Where a field of up to 64 bits lives in the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub word: u8,
    pub shift: u8,
    pub bits: u8,
}

impl Loc {
    const fn new(word: u8, shift: u8, bits: u8) -> Self {
        Loc { word, shift, bits }
    }
    /// The field's bits in place (all ones over the field).
    #[inline]
    pub const fn word_mask(self) -> u64 {
        let ones = if self.bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        };
        ones << self.shift
    }
}

/// Locations of the key's fields.
pub mod loc {
    use super::Loc;
    pub const IN_PORT: Loc = Loc::new(0, 32, 32);
    pub const ETH_TYPE: Loc = Loc::new(0, 16, 16);
    pub const VLAN_TCI: Loc = Loc::new(0, 0, 16);
    /// OpenFlow's 13-bit `vlan_vid` (VID plus the present bit).
    pub const VLAN_VID: Loc = Loc::new(0, 0, 13);
    /// The 12-bit VID alone.
    pub const VLAN_VID12: Loc = Loc::new(0, 0, 12);
    pub const VLAN_PCP: Loc = Loc::new(0, 13, 3);
    pub const METADATA: Loc = Loc::new(1, 0, 64);
    pub const TUNNEL_ID: Loc = Loc::new(2, 0, 64);
    pub const ETH_DST: Loc = Loc::new(3, 16, 48);
    pub const IP_PROTO: Loc = Loc::new(3, 8, 8);
    pub const IP_TOS: Loc = Loc::new(3, 0, 8);
    pub const IP_DSCP: Loc = Loc::new(3, 2, 6);
    pub const IP_ECN: Loc = Loc::new(3, 0, 2);
    pub const ETH_SRC: Loc = Loc::new(4, 16, 48);
    pub const IP_TTL: Loc = Loc::new(4, 8, 8);
    pub const IP_FRAG: Loc = Loc::new(4, 0, 8);
    pub const NW_SRC: Loc = Loc::new(5, 32, 32);
    pub const NW_DST: Loc = Loc::new(5, 0, 32);
    /// First word of the IPv6 source (the second follows).
    pub const IPV6_SRC_WORD: u8 = 6;
    pub const IPV6_DST_WORD: u8 = 8;
    pub const TP_SRC: Loc = Loc::new(10, 48, 16);
    pub const TP_DST: Loc = Loc::new(10, 32, 16);
    /// ICMP type: the low byte of the L4 source slot.
    pub const ICMP_TYPE: Loc = Loc::new(10, 48, 8);
    /// ICMP code: the low byte of the L4 destination slot.
    pub const ICMP_CODE: Loc = Loc::new(10, 32, 8);
    pub const IPV6_LABEL: Loc = Loc::new(10, 0, 20);
    pub const MPLS_LSE: Loc = Loc::new(11, 32, 32);
    pub const MPLS_LABEL: Loc = Loc::new(11, 44, 20);
    pub const MPLS_TC: Loc = Loc::new(11, 41, 3);
    pub const MPLS_BOS: Loc = Loc::new(11, 40, 1);
    pub const MPLS_TTL: Loc = Loc::new(11, 32, 8);
    pub const ARP_OP: Loc = Loc::new(11, 16, 16);
    pub const TCP_FLAGS: Loc = Loc::new(11, 0, 16);
    /// ARP SHA, ND SLL (solicitations) or ND TLL (advertisements).
    pub const ARP_SHA: Loc = Loc::new(12, 16, 48);
    pub const ND_LL: Loc = Loc::new(12, 16, 48);
    pub const ARP_THA: Loc = Loc::new(13, 16, 48);
    pub const ND_TARGET_WORD: u8 = 14;
}

/// A packed flow key. `Default` is the all-zero key.
#[derive(Clone, Copy, Eq, Default)]
#[repr(C, align(64))]
pub struct FlowKey {
    pub(crate) w: [u64; KEY_WORDS],
}

/// A mask of the same shape as [`FlowKey`]; a 1-bit is a bit that matters.
#[derive(Clone, Copy, Eq, Default)]
#[repr(C, align(64))]
pub struct FlowMask {
    pub(crate) w: [u64; KEY_WORDS],
}

/// Word-wise, branch-free and inlined (the derived comparison calls `memcmp`, which
/// was a third of an exact-match cache hit).
#[inline(always)]
fn words_eq(a: &[u64; KEY_WORDS], b: &[u64; KEY_WORDS]) -> bool {
    let mut diff = 0;
    for i in 0..KEY_WORDS {
        diff |= a[i] ^ b[i];
    }
    diff == 0
}

impl PartialEq for FlowKey {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        words_eq(&self.w, &other.w)
    }
}

impl PartialEq for FlowMask {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        words_eq(&self.w, &other.w)
    }
}

impl core::hash::Hash for FlowKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(crate::hash::hash_words(&self.w));
    }
}

impl core::hash::Hash for FlowMask {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(crate::hash::hash_words(&self.w));
    }
}

macro_rules! accessors {
    ($($(#[$doc:meta])* $get:ident, $set:ident: $t:ty = $loc:ident;)*) => {
        impl FlowKey {
            $(
                $(#[$doc])*
                #[inline]
                pub fn $get(&self) -> $t {
                    self.get(loc::$loc) as $t
                }
                #[inline]
                pub fn $set(&mut self, v: $t) {
                    self.set(loc::$loc, u64::from(v));
                }
            )*
        }
    };
}

accessors! {
    in_port, set_in_port: u32 = IN_PORT;
    eth_type, set_eth_type: u16 = ETH_TYPE;
    /// PCP:3, present:1, VID:12.
    vlan_tci, set_vlan_tci: u16 = VLAN_TCI;
    /// OpenFlow `vlan_vid`: `OFPVID_PRESENT | vid` for tagged frames, 0 for untagged.
    vlan_vid, set_vlan_vid: u16 = VLAN_VID;
    vlan_pcp, set_vlan_pcp: u8 = VLAN_PCP;
    metadata, set_metadata: u64 = METADATA;
    tunnel_id, set_tunnel_id: u64 = TUNNEL_ID;
    /// Low 48 bits.
    eth_dst, set_eth_dst: u64 = ETH_DST;
    eth_src, set_eth_src: u64 = ETH_SRC;
    ip_proto, set_ip_proto: u8 = IP_PROTO;
    ip_dscp, set_ip_dscp: u8 = IP_DSCP;
    ip_ecn, set_ip_ecn: u8 = IP_ECN;
    ip_ttl, set_ip_ttl: u8 = IP_TTL;
    ip_frag, set_ip_frag: u8 = IP_FRAG;
    /// IPv4 source, or ARP SPA.
    nw_src, set_nw_src: u32 = NW_SRC;
    /// IPv4 destination, or ARP TPA.
    nw_dst, set_nw_dst: u32 = NW_DST;
    /// TCP/UDP/SCTP source port; ICMP type.
    tp_src, set_tp_src: u16 = TP_SRC;
    /// TCP/UDP/SCTP destination port; ICMP code.
    tp_dst, set_tp_dst: u16 = TP_DST;
    ipv6_label, set_ipv6_label: u32 = IPV6_LABEL;
    mpls_lse, set_mpls_lse: u32 = MPLS_LSE;
    mpls_label, set_mpls_label: u32 = MPLS_LABEL;
    mpls_tc, set_mpls_tc: u8 = MPLS_TC;
    mpls_bos, set_mpls_bos: u8 = MPLS_BOS;
    mpls_ttl, set_mpls_ttl: u8 = MPLS_TTL;
    arp_op, set_arp_op: u16 = ARP_OP;
    tcp_flags, set_tcp_flags: u16 = TCP_FLAGS;
    /// ARP SHA, or the ND link-layer address option.
    arp_sha, set_arp_sha: u64 = ARP_SHA;
    arp_tha, set_arp_tha: u64 = ARP_THA;
}

impl FlowKey {
    /// The raw words.
    #[inline]
    pub fn words(&self) -> &[u64; KEY_WORDS] {
        &self.w
    }

    /// Builds a key from raw words.
    #[inline]
    pub const fn from_words(w: [u64; KEY_WORDS]) -> Self {
        FlowKey { w }
    }

    /// Reads a field.
    #[inline]
    pub fn get(&self, l: Loc) -> u64 {
        let w = self.w.get(usize::from(l.word)).copied().unwrap_or(0);
        (w & l.word_mask()) >> l.shift
    }

    /// Writes a field (bits beyond its width are dropped).
    #[inline]
    pub fn set(&mut self, l: Loc, v: u64) {
        if let Some(w) = self.w.get_mut(usize::from(l.word)) {
            let m = l.word_mask();
            *w = (*w & !m) | ((v << l.shift) & m);
        }
    }

    #[inline]
    fn get128(&self, word: u8) -> u128 {
        let i = usize::from(word);
        let hi = self.w.get(i).copied().unwrap_or(0);
        let lo = self.w.get(i + 1).copied().unwrap_or(0);
        (u128::from(hi) << 64) | u128::from(lo)
    }

    #[inline]
    fn set128(&mut self, word: u8, v: u128) {
        let i = usize::from(word);
        if let Some(s) = self.w.get_mut(i..i + 2) {
            s[0] = (v >> 64) as u64;
            s[1] = v as u64;
        }
    }

    pub fn ipv6_src(&self) -> u128 {
        self.get128(loc::IPV6_SRC_WORD)
    }
    pub fn set_ipv6_src(&mut self, v: u128) {
        self.set128(loc::IPV6_SRC_WORD, v)
    }
    pub fn ipv6_dst(&self) -> u128 {
        self.get128(loc::IPV6_DST_WORD)
    }
    pub fn set_ipv6_dst(&mut self, v: u128) {
        self.set128(loc::IPV6_DST_WORD, v)
    }
    pub fn nd_target(&self) -> u128 {
        self.get128(loc::ND_TARGET_WORD)
    }
    pub fn set_nd_target(&mut self, v: u128) {
        self.set128(loc::ND_TARGET_WORD, v)
    }

    /// `self & mask`.
    #[inline]
    pub fn masked(&self, mask: &FlowMask) -> FlowKey {
        let mut out = FlowKey::default();
        for i in 0..KEY_WORDS {
            out.w[i] = self.w[i] & mask.w[i];
        }
        out
    }

    /// Whether `self` and `other` agree on every bit of `mask`.
    #[inline]
    pub fn eq_masked(&self, other: &FlowKey, mask: &FlowMask) -> bool {
        let mut diff = 0;
        for i in 0..KEY_WORDS {
            diff |= (self.w[i] ^ other.w[i]) & mask.w[i];
        }
        diff == 0
    }

    /// Hash of the whole key (the exact-match cache's hash).
    #[inline]
    pub fn hash(&self) -> u64 {
        crate::hash::hash_words(&self.w)
    }

    /// Hash of the flow for select groups: the 5-tuple (addresses, `ip_proto`, L4
    /// ports) of IP packets, else the Ethernet addresses, type and VLAN. Fields outside
    /// the flow (in_port, metadata, TTL, TCP flags) are left out, so every packet of a
    /// connection takes the same bucket.
    pub fn flow_hash(&self) -> u64 {
        use crate::hash::{finish, mix, start};
        let w = &self.w;
        let word = |i: usize| w.get(i).copied().unwrap_or(0);
        let mut h = start();
        match self.eth_type() {
            ETH_IPV4 | ETH_IPV6 => {
                let l4 = self.get(loc::TP_SRC) << 16 | self.get(loc::TP_DST);
                h = mix(h, u64::from(self.ip_proto()) << 32 | l4);
                if self.eth_type() == ETH_IPV4 {
                    h = mix(h, word(5));
                } else {
                    for i in 6..10 {
                        h = mix(h, word(i));
                    }
                }
            }
            _ => {
                h = mix(h, self.eth_dst());
                h = mix(h, self.eth_src());
                h = mix(
                    h,
                    u64::from(self.eth_type()) << 16 | u64::from(self.vlan_tci() & 0x0fff),
                );
                h = mix(h, word(5));
            }
        }
        finish(h)
    }
}

impl FlowMask {
    /// The mask that matches everything (no bit matters).
    pub const CATCHALL: FlowMask = FlowMask { w: [0; KEY_WORDS] };
    /// Every bit matters.
    pub const EXACT: FlowMask = FlowMask {
        w: [u64::MAX; KEY_WORDS],
    };

    #[inline]
    pub fn words(&self) -> &[u64; KEY_WORDS] {
        &self.w
    }

    #[inline]
    pub const fn from_words(w: [u64; KEY_WORDS]) -> Self {
        FlowMask { w }
    }

    /// Adds bits `m` (right-aligned) of field `l`.
    #[inline]
    pub fn add(&mut self, l: Loc, m: u64) {
        if let Some(w) = self.w.get_mut(usize::from(l.word)) {
            *w |= (m << l.shift) & l.word_mask();
        }
    }

    /// Adds the whole field `l`.
    #[inline]
    pub fn add_field(&mut self, l: Loc) {
        if let Some(w) = self.w.get_mut(usize::from(l.word)) {
            *w |= l.word_mask();
        }
    }

    /// The bits of field `l` in this mask, right-aligned.
    #[inline]
    pub fn get(&self, l: Loc) -> u64 {
        let w = self.w.get(usize::from(l.word)).copied().unwrap_or(0);
        (w & l.word_mask()) >> l.shift
    }

    #[inline]
    fn add128(&mut self, word: u8, m: u128) {
        let i = usize::from(word);
        if let Some(s) = self.w.get_mut(i..i + 2) {
            s[0] |= (m >> 64) as u64;
            s[1] |= m as u64;
        }
    }

    /// `self |= other`.
    #[inline]
    pub fn union_with(&mut self, other: &FlowMask) {
        for i in 0..KEY_WORDS {
            self.w[i] |= other.w[i];
        }
    }

    /// `self & other`.
    #[inline]
    pub fn intersect(&self, other: &FlowMask) -> FlowMask {
        let mut out = *self;
        for i in 0..KEY_WORDS {
            out.w[i] &= other.w[i];
        }
        out
    }

    /// Every bit of `self` is also in `other`.
    #[inline]
    pub fn is_subset_of(&self, other: &FlowMask) -> bool {
        (0..KEY_WORDS).all(|i| self.w[i] & !other.w[i] == 0)
    }

    pub fn is_catchall(&self) -> bool {
        self.w.iter().all(|&w| w == 0)
    }

    /// Indexes of the words with at least one bit set.
    pub fn nonzero_words(&self) -> arrayvec::ArrayVec<u8, KEY_WORDS> {
        (0..KEY_WORDS as u8)
            .filter(|&i| self.w[usize::from(i)] != 0)
            .collect()
    }
}

impl fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowKey[")?;
        for (i, w) in self.w.iter().enumerate().filter(|(_, w)| **w != 0) {
            write!(f, " {i}:{w:016x}")?;
        }
        f.write_str(" ]")
    }
}

impl fmt::Debug for FlowMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowMask[")?;
        for (i, w) in self.w.iter().enumerate().filter(|(_, w)| **w != 0) {
            write!(f, " {i}:{w:016x}")?;
        }
        f.write_str(" ]")
    }
}

// ---------------------------------------------------------------------------------------
// OXM fields <-> key bits

/// Where an OXM field's value goes in the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldBits {
    /// A field of up to 64 bits: value and mask, right-aligned.
    Narrow { loc: Loc, value: u64, mask: u64 },
    /// A 128-bit field in two consecutive words.
    Wide { word: u8, value: u128, mask: u128 },
}

fn mac(a: [u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, a[0], a[1], a[2], a[3], a[4], a[5]])
}

fn narrow<T: Copy>(l: Loc, m: &Masked<T>, conv: impl Fn(T) -> u64) -> FieldBits {
    let full = l.word_mask() >> l.shift;
    FieldBits::Narrow {
        loc: l,
        value: conv(m.value) & full,
        mask: m.mask.map_or(full, |x| conv(x) & full),
    }
}

fn exact(l: Loc, v: u64) -> FieldBits {
    let full = l.word_mask() >> l.shift;
    FieldBits::Narrow {
        loc: l,
        value: v & full,
        mask: full,
    }
}

fn wide(word: u8, m: &Masked<std::net::Ipv6Addr>) -> FieldBits {
    FieldBits::Wide {
        word,
        value: u128::from(m.value),
        mask: m.mask.map_or(u128::MAX, u128::from),
    }
}

/// The key bits of an OXM field, or `None` for a field rvs does not match
/// (`in_phy_port`, `pbb_isid`, `ipv6_exthdr`).
pub(crate) fn field_bits(f: &OxmField) -> Option<FieldBits> {
    use OxmField as F;
    Some(match f {
        F::InPort(p) => exact(loc::IN_PORT, u64::from(p.0)),
        F::Metadata(m) => narrow(loc::METADATA, m, |v| v),
        F::EthDst(m) => narrow(loc::ETH_DST, m, mac),
        F::EthSrc(m) => narrow(loc::ETH_SRC, m, mac),
        F::EthType(v) => exact(loc::ETH_TYPE, u64::from(*v)),
        F::VlanVid(m) => narrow(loc::VLAN_VID, m, u64::from),
        F::VlanPcp(v) => exact(loc::VLAN_PCP, u64::from(*v)),
        F::IpDscp(v) => exact(loc::IP_DSCP, u64::from(*v)),
        F::IpEcn(v) => exact(loc::IP_ECN, u64::from(*v)),
        F::IpProto(v) => exact(loc::IP_PROTO, u64::from(*v)),
        F::Ipv4Src(m) | F::ArpSpa(m) => narrow(loc::NW_SRC, m, |a| u64::from(u32::from(a))),
        F::Ipv4Dst(m) | F::ArpTpa(m) => narrow(loc::NW_DST, m, |a| u64::from(u32::from(a))),
        F::TcpSrc(v) | F::UdpSrc(v) | F::SctpSrc(v) => exact(loc::TP_SRC, u64::from(*v)),
        F::TcpDst(v) | F::UdpDst(v) | F::SctpDst(v) => exact(loc::TP_DST, u64::from(*v)),
        F::Icmpv4Type(v) | F::Icmpv6Type(v) => exact(loc::ICMP_TYPE, u64::from(*v)),
        F::Icmpv4Code(v) | F::Icmpv6Code(v) => exact(loc::ICMP_CODE, u64::from(*v)),
        F::ArpOp(v) => exact(loc::ARP_OP, u64::from(*v)),
        F::ArpSha(m) => narrow(loc::ARP_SHA, m, mac),
        F::ArpTha(m) => narrow(loc::ARP_THA, m, mac),
        F::Ipv6Src(m) => wide(loc::IPV6_SRC_WORD, m),
        F::Ipv6Dst(m) => wide(loc::IPV6_DST_WORD, m),
        F::Ipv6Flabel(m) => narrow(loc::IPV6_LABEL, m, u64::from),
        F::Ipv6NdTarget(a) => wide(loc::ND_TARGET_WORD, &Masked::exact(*a)),
        F::Ipv6NdSll(a) | F::Ipv6NdTll(a) => exact(loc::ND_LL, mac(*a)),
        F::MplsLabel(v) => exact(loc::MPLS_LABEL, u64::from(*v)),
        F::MplsTc(v) => exact(loc::MPLS_TC, u64::from(*v)),
        F::MplsBos(v) => exact(loc::MPLS_BOS, u64::from(*v)),
        F::TunnelId(m) => narrow(loc::TUNNEL_ID, m, |v| v),
        F::InPhyPort(_) | F::PbbIsid(_) | F::Ipv6Exthdr(_) => return None,
    })
}

/// Translates an OpenFlow match into the key value and mask it stands for.
///
/// The match is expected to have passed the codec's checks (prerequisites, widths,
/// duplicates); fields rvs does not support are refused with `OFPBMC_BAD_FIELD`.
/// Two matches that select the same packets with the same fields (an exact field and
/// the same field with an all-ones mask) translate to the same pair, which is what
/// "identical match" means for flow-mods.
pub fn match_to_key(m: &Match) -> Result<(FlowKey, FlowMask), OfError> {
    let mut key = FlowKey::default();
    let mut mask = FlowMask::default();
    for f in &m.fields {
        match field_bits(f) {
            Some(FieldBits::Narrow {
                loc: l,
                value,
                mask: fm,
            }) => {
                key.set(l, (key.get(l) & !fm) | (value & fm));
                mask.add(l, fm);
            }
            Some(FieldBits::Wide {
                word,
                value,
                mask: fm,
            }) => {
                key.set128(word, (key.get128(word) & !fm) | (value & fm));
                mask.add128(word, fm);
            }
            None => {
                return Err(OfError::new(
                    BadMatchCode::BadField,
                    "field not supported by rvs",
                ))
            }
        }
    }
    Ok((key.masked(&mask), mask))
}

/// A key with exactly the fields of `m` (masked bits only) plus what their
/// prerequisites imply: `tcp_dst` alone gives `eth_type` 0x0800 and `ip_proto` 6,
/// `ipv6_nd_target` gives 0x86dd, 58 and ICMPv6 type 135, `vlan_pcp` a tag. Prerequisites
/// the match itself sets win (`eth_type` 0x86dd with `tcp_dst` stays IPv6). For
/// `ofproto/trace`-style requests given as a match.
pub fn key_from_match(m: &Match) -> Result<FlowKey, OfError> {
    use rvs_openflow::oxm::Prereq;
    let (mut key, mask) = match_to_key(m)?;
    let unset = |l: Loc| mask.get(l) == 0;
    // Deepest prerequisites first: each one may imply the next.
    for f in &m.fields {
        if let Prereq::Icmpv6Type(types) = f.id().prereq() {
            if unset(loc::ICMP_TYPE) {
                key.set(
                    loc::ICMP_TYPE,
                    u64::from(types.first().copied().unwrap_or(0)),
                );
            }
            if unset(loc::IP_PROTO) {
                key.set_ip_proto(PROTO_ICMPV6);
            }
        }
    }
    let ip_proto = if unset(loc::IP_PROTO) {
        m.fields.iter().find_map(|f| match f.id().prereq() {
            Prereq::IpProto(p) => Some(p),
            _ => None,
        })
    } else {
        Some(key.ip_proto())
    };
    if let Some(p) = ip_proto {
        key.set_ip_proto(p);
    }
    if unset(loc::ETH_TYPE) {
        // A field allowing one type decides (ipv6_src); else ICMPv6 means IPv6; else
        // the first type a field allows (ip_dscp: IPv4), IPv4 for bare L4 fields.
        let allowed = || {
            m.fields.iter().filter_map(|f| match f.id().prereq() {
                Prereq::EthType(types) => Some(types),
                _ => None,
            })
        };
        let eth_type = allowed()
            .find(|t| t.len() == 1)
            .and_then(|t| t.first().copied())
            .or(match ip_proto {
                Some(PROTO_ICMPV6) => Some(ETH_IPV6),
                _ => None,
            })
            .or_else(|| allowed().find_map(|t| t.first().copied()))
            .or(ip_proto.map(|_| ETH_IPV4));
        if let Some(t) = eth_type {
            key.set_eth_type(t);
        }
    }
    let needs_tag = m
        .fields
        .iter()
        .any(|f| f.id().prereq() == Prereq::VlanPresent);
    if needs_tag && key.vlan_tci() & VLAN_PRESENT == 0 {
        key.set_vlan_tci(key.vlan_tci() | VLAN_PRESENT);
    }
    Ok(key)
}

/// Applies a set-field action to a key. In-port and fields rvs does not match are
/// refused with `OFPBAC_BAD_SET_TYPE`. `vlan_vid` sets the 12-bit VID and leaves the
/// present bit alone (setting a VID does not push a tag).
pub fn set_field(key: &mut FlowKey, f: &OxmField) -> Result<(), OfError> {
    if matches!(f, OxmField::InPort(_)) {
        return Err(OfError::new(
            BadActionCode::BadSetType,
            "in_port cannot be set",
        ));
    }
    match field_bits(f) {
        Some(FieldBits::Narrow { loc: l, value, .. }) => {
            let l = if l == loc::VLAN_VID {
                loc::VLAN_VID12
            } else {
                l
            };
            key.set(l, value);
            Ok(())
        }
        Some(FieldBits::Wide { word, value, .. }) => {
            key.set128(word, value);
            Ok(())
        }
        None => Err(OfError::new(
            BadActionCode::BadSetType,
            "field cannot be set by rvs",
        )),
    }
}

/// Whether a set-field action on `f` is supported (see [`set_field`]).
pub fn settable(f: &OxmField) -> bool {
    !matches!(f, OxmField::InPort(_)) && field_bits(f).is_some()
}

// ---------------------------------------------------------------------------------------
// Extraction

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_IPV6: u16 = 0x86dd;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const TPID_CTAG: u16 = 0x8100;
const TPID_STAG: u16 = 0x88a8;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_SCTP: u8 = 132;
const PROTO_ICMPV6: u8 = 58;
/// IPv6 extension headers walked before the upper layer, and a bound on the walk.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AUTH: u8 = 51;
const IPV6_DEST_OPTS: u8 = 60;
const IPV6_MAX_EXT: usize = 8;

/// Parses a frame into a flow key. Never panics and never allocates, on any input:
/// fields of missing or truncated headers stay zero.
///
/// One VLAN tag (TPID 0x8100 or 0x88a8) is read, as OpenFlow 1.3 matches the outermost
/// tag; with a second tag, `eth_type` is the inner TPID. MPLS frames yield the top label
/// stack entry and nothing beneath. Later IP fragments yield no L4 fields.
pub fn extract(frame: &[u8], in_port: u32) -> FlowKey {
    let mut k = FlowKey::default();
    k.set_in_port(in_port);
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return k;
    };
    k.set_eth_dst(eth.dst_addr().to_u64());
    k.set_eth_src(eth.src_addr().to_u64());
    let mut ethertype = u16::from(eth.ethertype());
    let mut off = ETHERNET_HEADER_LEN;
    if ethertype == TPID_CTAG || ethertype == TPID_STAG {
        match frame.get(off..off + 4) {
            Some(&[t0, t1, e0, e1]) => {
                let tci = u16::from_be_bytes([t0, t1]);
                // DEI (bit 12) gives way to the present bit.
                k.set_vlan_tci((tci & !VLAN_PRESENT) | VLAN_PRESENT);
                ethertype = u16::from_be_bytes([e0, e1]);
                off += 4;
            }
            _ => {
                // A tag announced but cut: keep the TPID as the type, read nothing more.
                k.set_eth_type(ethertype);
                return k;
            }
        }
    }
    if ethertype < 0x0600 {
        k.set_eth_type(ETH_TYPE_NONE);
        return k;
    }
    k.set_eth_type(ethertype);
    let l3 = frame.get(off..).unwrap_or(&[]);
    match ethertype {
        ETH_IPV4 => extract_ipv4(&mut k, l3),
        ETH_IPV6 => extract_ipv6(&mut k, l3),
        ETH_ARP => extract_arp(&mut k, l3),
        ETH_MPLS | ETH_MPLS_MC => {
            if let Ok(m) = MplsPacket::new_checked(l3) {
                k.set_mpls_lse(m.lse());
            }
        }
        _ => {}
    }
    k
}

fn extract_ipv4(k: &mut FlowKey, l3: &[u8]) {
    let Ok(ip) = Ipv4Packet::new_checked(l3) else {
        return;
    };
    k.set_nw_src(u32::from_be_bytes(ip.src_addr()));
    k.set_nw_dst(u32::from_be_bytes(ip.dst_addr()));
    k.set_ip_proto(ip.protocol());
    k.set(loc::IP_TOS, u64::from(ip.tos()));
    k.set_ip_ttl(ip.ttl());
    let ff = ip.flags_frag();
    if ip.is_fragment() {
        let later = ff & 0x1fff != 0;
        k.set_ip_frag(frag::ANY | if later { frag::LATER } else { 0 });
        if later {
            return;
        }
    }
    extract_l4(k, ip.protocol(), ip.payload(), false);
}

fn extract_ipv6(k: &mut FlowKey, l3: &[u8]) {
    let Ok(ip) = Ipv6Packet::new_checked(l3) else {
        return;
    };
    k.set_ipv6_src(u128::from_be_bytes(ip.src_addr()));
    k.set_ipv6_dst(u128::from_be_bytes(ip.dst_addr()));
    k.set(loc::IP_TOS, u64::from(ip.traffic_class()));
    k.set_ipv6_label(ip.flow_label());
    k.set_ip_ttl(ip.hop_limit());
    let mut nh = ip.next_header();
    let mut off = rvs_wire::ipv6::IPV6_HEADER_LEN;
    for _ in 0..IPV6_MAX_EXT {
        let (Some(&next), Some(&len)) = (l3.get(off), l3.get(off + 1)) else {
            break;
        };
        match nh {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS => {
                nh = next;
                off += (usize::from(len) + 1) * 8;
            }
            IPV6_AUTH => {
                nh = next;
                off += (usize::from(len) + 2) * 4;
            }
            IPV6_FRAGMENT => {
                let Some(&[o0, o1]) = l3.get(off + 2..off + 4) else {
                    break;
                };
                let later = u16::from_be_bytes([o0, o1]) >> 3 != 0;
                k.set_ip_frag(frag::ANY | if later { frag::LATER } else { 0 });
                nh = next;
                off += 8;
                if later {
                    k.set_ip_proto(nh);
                    return;
                }
            }
            _ => break,
        }
    }
    k.set_ip_proto(nh);
    if matches!(
        nh,
        IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS | IPV6_AUTH | IPV6_FRAGMENT
    ) {
        // The chain was cut or too long: no upper layer.
        return;
    }
    extract_l4(k, nh, l3.get(off..).unwrap_or(&[]), true);
}

fn extract_l4(k: &mut FlowKey, proto: u8, l4: &[u8], v6: bool) {
    match proto {
        PROTO_TCP => {
            if let Ok(t) = TcpPacket::new_checked(l4) {
                k.set_tp_src(t.src_port());
                k.set_tp_dst(t.dst_port());
                let ns = l4.get(12).copied().unwrap_or(0) & 0x01;
                k.set_tcp_flags((u16::from(ns) << 8) | u16::from(t.flags()));
            }
        }
        PROTO_UDP => {
            if let Ok(u) = UdpPacket::new_checked(l4) {
                k.set_tp_src(u.src_port());
                k.set_tp_dst(u.dst_port());
            }
        }
        PROTO_SCTP => {
            if let Ok(s) = SctpPacket::new_checked(l4) {
                k.set_tp_src(s.src_port());
                k.set_tp_dst(s.dst_port());
            }
        }
        PROTO_ICMP if !v6 => {
            if let Ok(i) = Icmpv4Packet::new_checked(l4) {
                k.set_tp_src(u16::from(i.msg_type()));
                k.set_tp_dst(u16::from(i.msg_code()));
            }
        }
        PROTO_ICMPV6 if v6 => {
            if let Ok(i) = Icmpv6Packet::new_checked(l4) {
                k.set_tp_src(u16::from(i.msg_type()));
                k.set_tp_dst(u16::from(i.msg_code()));
                if i.is_neighbor_discovery() {
                    extract_nd(k, &i);
                }
            }
        }
        _ => {}
    }
}

fn extract_nd(k: &mut FlowKey, i: &Icmpv6Packet<&[u8]>) {
    k.set_nd_target(u128::from_be_bytes(i.nd_target()));
    let wanted = if i.msg_type() == icmp6::NEIGHBOR_SOLICIT {
        nd_option::SOURCE_LL_ADDR
    } else {
        nd_option::TARGET_LL_ADDR
    };
    for opt in i.nd_options() {
        let Ok(opt) = opt else {
            // A malformed option list: the link-layer address is not trusted.
            k.set_arp_sha(0);
            return;
        };
        if opt.option_type == wanted {
            if let Some(a) = opt.link_layer_addr() {
                if k.arp_sha() == 0 {
                    k.set_arp_sha(mac(a));
                }
            }
        }
    }
}

fn extract_arp(k: &mut FlowKey, l3: &[u8]) {
    let Ok(a) = ArpPacket::new_checked(l3) else {
        return;
    };
    if !a.is_ethernet_ipv4() {
        return;
    }
    k.set_arp_op(a.operation());
    k.set_nw_src(u32::from_be_bytes(a.source_protocol_addr()));
    k.set_nw_dst(u32::from_be_bytes(a.target_protocol_addr()));
    k.set_arp_sha(mac(a.source_hardware_addr()));
    k.set_arp_tha(mac(a.target_hardware_addr()));
}

#[cfg(test)]
mod tests;

/// The OpenFlow match that selects exactly the packets agreeing with `key` on `mask`, as
/// far as OXM fields can say it (for printing megaflows and traced packets). Fields are
/// named after the key's protocol (`tcp_dst` for TCP, `udp_dst` for UDP...); bits OXM
/// has no field for (TTL, fragment, TCP flags) are left out.
pub fn key_to_match(key: &FlowKey, mask: &FlowMask) -> Match {
    use rvs_openflow::PortNo;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use OxmField as F;
    let mut m = Match::new();
    let full = |l: Loc| l.word_mask() >> l.shift;
    // (value, Some(mask)) when partially masked; None when not consulted at all.
    let part = |l: Loc| -> Option<(u64, Option<u64>)> {
        let mk = mask.get(l);
        if mk == 0 {
            return None;
        }
        let v = key.get(l) & mk;
        Some((v, (mk != full(l)).then_some(mk)))
    };
    let macb = |v: u64| -> [u8; 6] {
        let b = v.to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    };
    let mac_field = |l: Loc| {
        part(l).map(|(v, mk)| Masked {
            value: macb(v),
            mask: mk.map(macb),
        })
    };
    let v4 = |l: Loc| {
        part(l).map(|(v, mk)| Masked {
            value: Ipv4Addr::from(v as u32),
            mask: mk.map(|x| Ipv4Addr::from(x as u32)),
        })
    };
    let v6 = |word: u8| -> Option<Masked<Ipv6Addr>> {
        let i = usize::from(word);
        let mw = mask.words();
        let mk = (u128::from(mw.get(i).copied().unwrap_or(0)) << 64)
            | u128::from(mw.get(i + 1).copied().unwrap_or(0));
        if mk == 0 {
            return None;
        }
        let v = key.get128(word) & mk;
        Some(Masked {
            value: Ipv6Addr::from(v),
            mask: (mk != u128::MAX).then(|| Ipv6Addr::from(mk)),
        })
    };
    if let Some((v, _)) = part(loc::IN_PORT) {
        m = m.with(F::InPort(PortNo(v as u32)));
    }
    if let Some((v, mk)) = part(loc::METADATA) {
        m = m.with(F::Metadata(Masked { value: v, mask: mk }));
    }
    if let Some((v, mk)) = part(loc::TUNNEL_ID) {
        m = m.with(F::TunnelId(Masked { value: v, mask: mk }));
    }
    if let Some(f) = mac_field(loc::ETH_SRC) {
        m = m.with(F::EthSrc(f));
    }
    if let Some(f) = mac_field(loc::ETH_DST) {
        m = m.with(F::EthDst(f));
    }
    if let Some((v, mk)) = part(loc::VLAN_VID) {
        m = m.with(F::VlanVid(Masked {
            value: v as u16,
            mask: mk.map(|x| x as u16),
        }));
    }
    if key.vlan_tci() & VLAN_PRESENT != 0 {
        if let Some((v, _)) = part(loc::VLAN_PCP) {
            m = m.with(F::VlanPcp(v as u8));
        }
    }
    let Some((eth_type, _)) = part(loc::ETH_TYPE) else {
        return m;
    };
    m = m.with(F::EthType(eth_type as u16));
    match eth_type {
        0x0800 | 0x86dd => {
            if let Some((v, _)) = part(loc::IP_DSCP) {
                m = m.with(F::IpDscp(v as u8));
            }
            if let Some((v, _)) = part(loc::IP_ECN) {
                m = m.with(F::IpEcn(v as u8));
            }
            if eth_type == 0x0800 {
                if let Some(f) = v4(loc::NW_SRC) {
                    m = m.with(F::Ipv4Src(f));
                }
                if let Some(f) = v4(loc::NW_DST) {
                    m = m.with(F::Ipv4Dst(f));
                }
            } else {
                if let Some(f) = v6(loc::IPV6_SRC_WORD) {
                    m = m.with(F::Ipv6Src(f));
                }
                if let Some(f) = v6(loc::IPV6_DST_WORD) {
                    m = m.with(F::Ipv6Dst(f));
                }
                if let Some((v, mk)) = part(loc::IPV6_LABEL) {
                    m = m.with(F::Ipv6Flabel(Masked {
                        value: v as u32,
                        mask: mk.map(|x| x as u32),
                    }));
                }
            }
            let Some((proto, _)) = part(loc::IP_PROTO) else {
                return m;
            };
            m = m.with(F::IpProto(proto as u8));
            let tp = |l: Loc| part(l).map(|(v, _)| v as u16);
            let ty = |l: Loc| part(l).map(|(v, _)| v as u8);
            match (proto, eth_type) {
                (6, _) => {
                    if let Some(v) = tp(loc::TP_SRC) {
                        m = m.with(F::TcpSrc(v));
                    }
                    if let Some(v) = tp(loc::TP_DST) {
                        m = m.with(F::TcpDst(v));
                    }
                }
                (17, _) => {
                    if let Some(v) = tp(loc::TP_SRC) {
                        m = m.with(F::UdpSrc(v));
                    }
                    if let Some(v) = tp(loc::TP_DST) {
                        m = m.with(F::UdpDst(v));
                    }
                }
                (132, _) => {
                    if let Some(v) = tp(loc::TP_SRC) {
                        m = m.with(F::SctpSrc(v));
                    }
                    if let Some(v) = tp(loc::TP_DST) {
                        m = m.with(F::SctpDst(v));
                    }
                }
                (1, 0x0800) => {
                    if let Some(v) = ty(loc::ICMP_TYPE) {
                        m = m.with(F::Icmpv4Type(v));
                    }
                    if let Some(v) = ty(loc::ICMP_CODE) {
                        m = m.with(F::Icmpv4Code(v));
                    }
                }
                (58, 0x86dd) => {
                    if let Some(v) = ty(loc::ICMP_TYPE) {
                        m = m.with(F::Icmpv6Type(v));
                    }
                    if let Some(v) = ty(loc::ICMP_CODE) {
                        m = m.with(F::Icmpv6Code(v));
                    }
                }
                _ => {}
            }
        }
        0x0806 => {
            if let Some((v, _)) = part(loc::ARP_OP) {
                m = m.with(F::ArpOp(v as u16));
            }
            if let Some(f) = v4(loc::NW_SRC) {
                m = m.with(F::ArpSpa(f));
            }
            if let Some(f) = v4(loc::NW_DST) {
                m = m.with(F::ArpTpa(f));
            }
            if let Some(f) = mac_field(loc::ARP_SHA) {
                m = m.with(F::ArpSha(f));
            }
            if let Some(f) = mac_field(loc::ARP_THA) {
                m = m.with(F::ArpTha(f));
            }
        }
        0x8847 | 0x8848 => {
            if let Some((v, _)) = part(loc::MPLS_LABEL) {
                m = m.with(F::MplsLabel(v as u32));
            }
            if let Some((v, _)) = part(loc::MPLS_TC) {
                m = m.with(F::MplsTc(v as u8));
            }
            if let Some((v, _)) = part(loc::MPLS_BOS) {
                m = m.with(F::MplsBos(v as u8));
            }
        }
        _ => {}
    }
    m
}

#[cfg(test)]
mod key_to_match_tests {
    use super::*;

    #[test]
    fn a_match_survives_the_round_trip_through_key_bits() {
        use rvs_openflow::PortNo;
        let m = Match::new()
            .with(OxmField::InPort(PortNo(3)))
            .with(OxmField::EthType(0x0800))
            .with(OxmField::Ipv4Dst(Masked::new(
                std::net::Ipv4Addr::new(10, 1, 0, 0),
                std::net::Ipv4Addr::new(255, 255, 0, 0),
            )))
            .with(OxmField::IpProto(6))
            .with(OxmField::TcpDst(80));
        let (k, mk) = match_to_key(&m).expect("key");
        let back = key_to_match(&k, &mk);
        assert_eq!(match_to_key(&back).expect("key"), (k, mk));
        assert_eq!(back.fields.len(), m.fields.len());
    }

    #[test]
    fn an_empty_mask_is_an_empty_match() {
        let k = extract(&[0u8; 60], 1);
        assert!(key_to_match(&k, &FlowMask::default()).is_empty());
    }
}
