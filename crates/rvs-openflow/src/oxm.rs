//! OXM TLVs: the 40 `OXM_OF_*` fields of the OpenFlow basic class.
//!
//! Each TLV is a 32-bit header `class(16) | field(7) | hasmask(1) | length(8)` followed by
//! the value and, when `hasmask` is set, a mask of the same width. [`OxmField`] is the
//! typed form: one variant per field, maskable fields hold a [`Masked`] value.
//!
//! The per-field table (number, width, maskability, significant bits) lives in one macro
//! invocation below, so the encoder, the decoder and the validity checks share it.
//! Prerequisites (spec table "Header match field prerequisites") are in
//! [`OxmFieldId::prereq`] and checked by [`check_prereqs`].

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::buf::{Put, Reader};
use crate::error::{BadActionCode, BadMatchCode, OfError};
use crate::port::PortNo;

/// `OFPXMC_NXM_0`.
pub const OFPXMC_NXM_0: u16 = 0x0000;
/// `OFPXMC_NXM_1`.
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// `OFPXMC_OPENFLOW_BASIC`: the class of every field this crate knows.
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// `OFPXMC_EXPERIMENTER`.
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;

/// `OFPVID_PRESENT`: set in `vlan_vid` values that match a tagged packet.
pub const OFPVID_PRESENT: u16 = 0x1000;
/// `OFPVID_NONE`: `vlan_vid` value matching untagged packets.
pub const OFPVID_NONE: u16 = 0x0000;

/// `ofp_ipv6exthdr_flags` bits for `OXM_OF_IPV6_EXTHDR`.
pub mod ipv6_exthdr {
    pub const NONEXT: u16 = 1 << 0;
    pub const ESP: u16 = 1 << 1;
    pub const AUTH: u16 = 1 << 2;
    pub const DEST: u16 = 1 << 3;
    pub const FRAG: u16 = 1 << 4;
    pub const ROUTER: u16 = 1 << 5;
    pub const HOP: u16 = 1 << 6;
    pub const UNREP: u16 = 1 << 7;
    pub const UNSEQ: u16 = 1 << 8;
}

/// An Ethernet address.
pub type MacAddr = [u8; 6];

/// Builds an OXM header word.
pub const fn oxm_header(class: u16, field: u8, hasmask: bool, len: u8) -> u32 {
    ((class as u32) << 16) | (((field & 0x7f) as u32) << 9) | ((hasmask as u32) << 8) | len as u32
}

/// A value with an optional mask (1-bits of the mask are the bits that must match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Masked<T> {
    pub value: T,
    pub mask: Option<T>,
}

impl<T> Masked<T> {
    /// An exact match (no mask on the wire).
    pub const fn exact(value: T) -> Self {
        Masked { value, mask: None }
    }
    /// A masked match.
    pub const fn new(value: T, mask: T) -> Self {
        Masked {
            value,
            mask: Some(mask),
        }
    }
}

/// Conversion between a field's Rust type and its big-endian wire bytes.
trait OxmValue: Copy {
    /// Appends the value as `len` big-endian bytes (integers keep their low bytes).
    fn put(&self, len: usize, out: &mut Vec<u8>);
    /// Reads the value from exactly its wire width.
    fn get(b: &[u8]) -> Self;
}

fn be_uint(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn put_low(bytes: &[u8], len: usize, out: &mut Vec<u8>) {
    let start = bytes.len().saturating_sub(len);
    out.extend_from_slice(&bytes[start..]);
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl OxmValue for $t {
            fn put(&self, len: usize, out: &mut Vec<u8>) {
                put_low(&self.to_be_bytes(), len, out);
            }
            fn get(b: &[u8]) -> Self {
                be_uint(b) as $t
            }
        }
    )*};
}
int_value!(u8, u16, u32, u64);

impl OxmValue for PortNo {
    fn put(&self, len: usize, out: &mut Vec<u8>) {
        self.0.put(len, out);
    }
    fn get(b: &[u8]) -> Self {
        PortNo(u32::get(b))
    }
}

impl OxmValue for MacAddr {
    fn put(&self, _len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn get(b: &[u8]) -> Self {
        let mut a = [0u8; 6];
        for (d, s) in a.iter_mut().zip(b) {
            *d = *s;
        }
        a
    }
}

impl OxmValue for Ipv4Addr {
    fn put(&self, _len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.octets());
    }
    fn get(b: &[u8]) -> Self {
        Ipv4Addr::from(u32::get(b))
    }
}

impl OxmValue for Ipv6Addr {
    fn put(&self, _len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.octets());
    }
    fn get(b: &[u8]) -> Self {
        let mut a = [0u8; 16];
        for (d, s) in a.iter_mut().zip(b) {
            *d = *s;
        }
        Ipv6Addr::from(a)
    }
}

macro_rules! oxm_ty {
    (exact, $t:ty) => { $t };
    (masked, $t:ty) => { Masked<$t> };
}

macro_rules! oxm_maskable {
    (exact) => {
        false
    };
    (masked) => {
        true
    };
}

macro_rules! oxm_has_mask {
    (exact, $v:expr) => {{
        let _ = $v;
        false
    }};
    (masked, $v:expr) => {
        $v.mask.is_some()
    };
}

macro_rules! oxm_put {
    (exact, $v:expr, $len:expr, $out:expr) => {
        $v.put($len, $out)
    };
    (masked, $v:expr, $len:expr, $out:expr) => {{
        $v.value.put($len, $out);
        if let Some(m) = &$v.mask {
            m.put($len, $out);
        }
    }};
}

macro_rules! oxm_get {
    (exact, $t:ty, $value:expr, $mask:expr) => {{
        let _ = $mask;
        <$t as OxmValue>::get($value)
    }};
    (masked, $t:ty, $value:expr, $mask:expr) => {
        Masked {
            value: <$t as OxmValue>::get($value),
            mask: $mask.map(<$t as OxmValue>::get),
        }
    };
}

macro_rules! oxm_fields {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $num:literal, $name:literal, $len:literal, $kind:ident $ty:ty, bits $bits:literal;
    )*) => {
        /// The field number of an `OXM_OF_*` basic-class field.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum OxmFieldId {
            $($(#[$doc])* $variant = $num,)*
        }

        impl OxmFieldId {
            /// Every basic field, in field-number order.
            pub const ALL: &'static [OxmFieldId] = &[$(OxmFieldId::$variant,)*];

            pub const fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $($num => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// Lower-case field name (`OXM_OF_` stripped), as in the specification.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// Width of the value in bytes (a mask, when present, has the same width).
            pub const fn value_len(self) -> usize {
                match self {
                    $(Self::$variant => $len,)*
                }
            }

            /// Whether the specification allows a mask for this field.
            pub const fn maskable(self) -> bool {
                match self {
                    $(Self::$variant => oxm_maskable!($kind),)*
                }
            }

            /// Number of significant low-order bits of the value.
            pub const fn value_bits(self) -> u32 {
                let bits = match self {
                    $(Self::$variant => $bits,)*
                };
                if bits == 0 { (self.value_len() * 8) as u32 } else { bits }
            }

            /// The OXM header of this field (basic class) without a mask.
            pub const fn header(self) -> u32 {
                oxm_header(OFPXMC_OPENFLOW_BASIC, self as u8, false, self.value_len() as u8)
            }
        }

        /// A typed OXM TLV of the OpenFlow basic class.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OxmField {
            $($(#[$doc])* $variant(oxm_ty!($kind, $ty)),)*
        }

        impl OxmField {
            pub const fn id(&self) -> OxmFieldId {
                match self {
                    $(Self::$variant(_) => OxmFieldId::$variant,)*
                }
            }

            /// Whether the TLV carries a mask.
            pub fn has_mask(&self) -> bool {
                match self {
                    $(Self::$variant(v) => oxm_has_mask!($kind, v),)*
                }
            }

            fn put_payload(&self, out: &mut Vec<u8>) {
                match self {
                    $(Self::$variant(v) => oxm_put!($kind, v, $len, out),)*
                }
            }

            /// Builds the typed value from wire bytes already checked for width.
            fn from_wire(id: OxmFieldId, value: &[u8], mask: Option<&[u8]>) -> Self {
                match id {
                    $(OxmFieldId::$variant => Self::$variant(oxm_get!($kind, $ty, value, mask)),)*
                }
            }
        }
    };
}

oxm_fields! {
    /// Switch input port.
    InPort = 0, "in_port", 4, exact PortNo, bits 0;
    /// Switch physical input port.
    InPhyPort = 1, "in_phy_port", 4, exact PortNo, bits 0;
    /// Metadata passed between tables.
    Metadata = 2, "metadata", 8, masked u64, bits 0;
    /// Ethernet destination address.
    EthDst = 3, "eth_dst", 6, masked MacAddr, bits 0;
    /// Ethernet source address.
    EthSrc = 4, "eth_src", 6, masked MacAddr, bits 0;
    /// Ethernet frame type.
    EthType = 5, "eth_type", 2, exact u16, bits 0;
    /// VLAN id, with `OFPVID_PRESENT` (0x1000) set for tagged packets.
    VlanVid = 6, "vlan_vid", 2, masked u16, bits 13;
    /// VLAN priority.
    VlanPcp = 7, "vlan_pcp", 1, exact u8, bits 3;
    /// IP DSCP (6 bits in ToS field).
    IpDscp = 8, "ip_dscp", 1, exact u8, bits 6;
    /// IP ECN (2 bits in ToS field).
    IpEcn = 9, "ip_ecn", 1, exact u8, bits 2;
    /// IP protocol.
    IpProto = 10, "ip_proto", 1, exact u8, bits 0;
    /// IPv4 source address.
    Ipv4Src = 11, "ipv4_src", 4, masked Ipv4Addr, bits 0;
    /// IPv4 destination address.
    Ipv4Dst = 12, "ipv4_dst", 4, masked Ipv4Addr, bits 0;
    /// TCP source port.
    TcpSrc = 13, "tcp_src", 2, exact u16, bits 0;
    /// TCP destination port.
    TcpDst = 14, "tcp_dst", 2, exact u16, bits 0;
    /// UDP source port.
    UdpSrc = 15, "udp_src", 2, exact u16, bits 0;
    /// UDP destination port.
    UdpDst = 16, "udp_dst", 2, exact u16, bits 0;
    /// SCTP source port.
    SctpSrc = 17, "sctp_src", 2, exact u16, bits 0;
    /// SCTP destination port.
    SctpDst = 18, "sctp_dst", 2, exact u16, bits 0;
    /// ICMP type.
    Icmpv4Type = 19, "icmpv4_type", 1, exact u8, bits 0;
    /// ICMP code.
    Icmpv4Code = 20, "icmpv4_code", 1, exact u8, bits 0;
    /// ARP opcode.
    ArpOp = 21, "arp_op", 2, exact u16, bits 0;
    /// ARP source IPv4 address.
    ArpSpa = 22, "arp_spa", 4, masked Ipv4Addr, bits 0;
    /// ARP target IPv4 address.
    ArpTpa = 23, "arp_tpa", 4, masked Ipv4Addr, bits 0;
    /// ARP source hardware address.
    ArpSha = 24, "arp_sha", 6, masked MacAddr, bits 0;
    /// ARP target hardware address.
    ArpTha = 25, "arp_tha", 6, masked MacAddr, bits 0;
    /// IPv6 source address.
    Ipv6Src = 26, "ipv6_src", 16, masked Ipv6Addr, bits 0;
    /// IPv6 destination address.
    Ipv6Dst = 27, "ipv6_dst", 16, masked Ipv6Addr, bits 0;
    /// IPv6 flow label (20 bits).
    Ipv6Flabel = 28, "ipv6_flabel", 4, masked u32, bits 20;
    /// ICMPv6 type.
    Icmpv6Type = 29, "icmpv6_type", 1, exact u8, bits 0;
    /// ICMPv6 code.
    Icmpv6Code = 30, "icmpv6_code", 1, exact u8, bits 0;
    /// Target address for neighbour discovery.
    Ipv6NdTarget = 31, "ipv6_nd_target", 16, exact Ipv6Addr, bits 0;
    /// Source link-layer address for neighbour solicitation.
    Ipv6NdSll = 32, "ipv6_nd_sll", 6, exact MacAddr, bits 0;
    /// Target link-layer address for neighbour advertisement.
    Ipv6NdTll = 33, "ipv6_nd_tll", 6, exact MacAddr, bits 0;
    /// MPLS label (20 bits).
    MplsLabel = 34, "mpls_label", 4, exact u32, bits 20;
    /// MPLS traffic class (3 bits).
    MplsTc = 35, "mpls_tc", 1, exact u8, bits 3;
    /// MPLS bottom-of-stack bit.
    MplsBos = 36, "mpls_bos", 1, exact u8, bits 1;
    /// PBB I-SID (24 bits).
    PbbIsid = 37, "pbb_isid", 3, masked u32, bits 24;
    /// Logical port metadata (tunnel id).
    TunnelId = 38, "tunnel_id", 8, masked u64, bits 0;
    /// IPv6 extension header pseudo-field (9 flag bits).
    Ipv6Exthdr = 39, "ipv6_exthdr", 2, masked u16, bits 9;
}

/// Ethertypes used by the prerequisites.
const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_IPV6: u16 = 0x86dd;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PBB: u16 = 0x88e7;

/// What must be matched before a field may be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prereq {
    None,
    /// `IN_PORT` present.
    InPort,
    /// `VLAN_VID` present and not `OFPVID_NONE`.
    VlanPresent,
    /// `ETH_TYPE` equal to one of these.
    EthType(&'static [u16]),
    /// `IP_PROTO` equal to this.
    IpProto(u8),
    /// `ICMPV6_TYPE` equal to one of these.
    Icmpv6Type(&'static [u8]),
}

impl OxmFieldId {
    /// The prerequisite of this field (OpenFlow 1.3 table 11).
    pub const fn prereq(self) -> Prereq {
        use OxmFieldId::*;
        match self {
            InPort | Metadata | EthDst | EthSrc | EthType | VlanVid | TunnelId => Prereq::None,
            InPhyPort => Prereq::InPort,
            VlanPcp => Prereq::VlanPresent,
            IpDscp | IpEcn | IpProto => Prereq::EthType(&[ETH_IPV4, ETH_IPV6]),
            Ipv4Src | Ipv4Dst => Prereq::EthType(&[ETH_IPV4]),
            TcpSrc | TcpDst => Prereq::IpProto(6),
            UdpSrc | UdpDst => Prereq::IpProto(17),
            SctpSrc | SctpDst => Prereq::IpProto(132),
            Icmpv4Type | Icmpv4Code => Prereq::IpProto(1),
            ArpOp | ArpSpa | ArpTpa | ArpSha | ArpTha => Prereq::EthType(&[ETH_ARP]),
            Ipv6Src | Ipv6Dst | Ipv6Flabel | Ipv6Exthdr => Prereq::EthType(&[ETH_IPV6]),
            Icmpv6Type | Icmpv6Code => Prereq::IpProto(58),
            Ipv6NdTarget => Prereq::Icmpv6Type(&[135, 136]),
            Ipv6NdSll => Prereq::Icmpv6Type(&[135]),
            Ipv6NdTll => Prereq::Icmpv6Type(&[136]),
            MplsLabel | MplsTc | MplsBos => Prereq::EthType(&[ETH_MPLS, ETH_MPLS_MC]),
            PbbIsid => Prereq::EthType(&[ETH_PBB]),
        }
    }
}

/// Checks every field's prerequisite against the other fields of the same match
/// (order-independent: the spec lets a switch relax the "prerequisites first" rule).
pub fn check_prereqs(fields: &[OxmField]) -> Result<(), OfError> {
    let eth_type = fields.iter().find_map(|f| match f {
        OxmField::EthType(v) => Some(*v),
        _ => None,
    });
    let ip_proto = fields.iter().find_map(|f| match f {
        OxmField::IpProto(v) => Some(*v),
        _ => None,
    });
    let icmpv6_type = fields.iter().find_map(|f| match f {
        OxmField::Icmpv6Type(v) => Some(*v),
        _ => None,
    });
    let has_in_port = fields.iter().any(|f| matches!(f, OxmField::InPort(_)));
    let vlan_present = fields.iter().any(|f| match f {
        OxmField::VlanVid(m) => {
            m.value & OFPVID_PRESENT != 0 && m.mask.is_none_or(|mask| mask & OFPVID_PRESENT != 0)
        }
        _ => false,
    });
    for f in fields {
        let ok = match f.id().prereq() {
            Prereq::None => true,
            Prereq::InPort => has_in_port,
            Prereq::VlanPresent => vlan_present,
            Prereq::EthType(set) => eth_type.is_some_and(|t| set.contains(&t)),
            Prereq::IpProto(p) => ip_proto == Some(p),
            Prereq::Icmpv6Type(set) => icmpv6_type.is_some_and(|t| set.contains(&t)),
        };
        if !ok {
            return Err(OfError::new(
                BadMatchCode::BadPrereq,
                "match field prerequisite missing",
            ));
        }
    }
    Ok(())
}

/// Where an OXM TLV is being decoded: a match and a set-field action report
/// different error codes for the same defects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OxmContext {
    Match,
    SetField,
}

impl OxmContext {
    fn bad_field(self) -> OfError {
        match self {
            Self::Match => OfError::new(BadMatchCode::BadField, "unknown OXM field or class"),
            Self::SetField => OfError::new(BadActionCode::BadSetType, "unsupported set-field"),
        }
    }
    fn bad_len(self) -> OfError {
        match self {
            Self::Match => OfError::new(BadMatchCode::BadLen, "OXM length does not fit field"),
            Self::SetField => OfError::new(BadActionCode::BadSetLen, "set-field OXM length"),
        }
    }
    fn bad_mask(self) -> OfError {
        match self {
            Self::Match => OfError::new(BadMatchCode::BadMask, "mask not allowed or invalid"),
            Self::SetField => OfError::new(BadActionCode::BadSetArgument, "set-field with mask"),
        }
    }
    fn bad_value(self) -> OfError {
        match self {
            Self::Match => OfError::new(BadMatchCode::BadValue, "OXM value out of range"),
            Self::SetField => OfError::new(BadActionCode::BadSetArgument, "set-field value"),
        }
    }
}

/// True when the big-endian `bytes` have a 1-bit above the low `bits` bits.
fn exceeds_bits(bytes: &[u8], bits: u32) -> bool {
    let total = bytes.len() as u32 * 8;
    let excess = total.saturating_sub(bits);
    let mut remaining = excess;
    for &b in bytes {
        if remaining == 0 {
            break;
        }
        let n = remaining.min(8);
        // The top `n` bits of this byte must be zero.
        let top_mask = (0xffu16 << (8 - n)) as u8;
        if b & top_mask != 0 {
            return true;
        }
        remaining -= n;
    }
    false
}

impl OxmField {
    /// Encoded size of the TLV (header included).
    pub fn wire_len(&self) -> usize {
        let len = self.id().value_len();
        4 + if self.has_mask() { 2 * len } else { len }
    }

    /// The TLV's 32-bit header.
    pub fn header(&self) -> u32 {
        let id = self.id();
        let len = id.value_len() * if self.has_mask() { 2 } else { 1 };
        oxm_header(OFPXMC_OPENFLOW_BASIC, id as u8, self.has_mask(), len as u8)
    }

    /// Appends the TLV.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.header());
        self.put_payload(out);
    }

    /// The value/mask bytes of the TLV (without header).
    pub fn payload(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(32);
        self.put_payload(&mut v);
        v
    }

    /// Decodes one TLV, applying the per-field checks of `ctx`.
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: OxmContext) -> Result<Self, OfError> {
        let header = r.u32().map_err(|_| ctx.bad_len())?;
        let class = (header >> 16) as u16;
        let field = ((header >> 9) & 0x7f) as u8;
        let hasmask = header & 0x100 != 0;
        let len = (header & 0xff) as usize;
        let payload = r.bytes(len).map_err(|_| ctx.bad_len())?;
        if class != OFPXMC_OPENFLOW_BASIC {
            return Err(ctx.bad_field());
        }
        let id = OxmFieldId::from_u8(field).ok_or_else(|| ctx.bad_field())?;
        if hasmask && (!id.maskable() || ctx == OxmContext::SetField) {
            return Err(ctx.bad_mask());
        }
        let width = id.value_len();
        if len != width * if hasmask { 2 } else { 1 } {
            return Err(ctx.bad_len());
        }
        let (value, mask) = payload.split_at(width);
        let mask = hasmask.then_some(mask);
        let bits = id.value_bits();
        if exceeds_bits(value, bits) {
            return Err(ctx.bad_value());
        }
        if let Some(mask) = mask {
            if exceeds_bits(mask, bits) {
                return Err(ctx.bad_mask());
            }
            if value.iter().zip(mask).any(|(v, m)| v & !m != 0) {
                return Err(OfError::new(
                    BadMatchCode::BadWildcards,
                    "value has bits outside the mask",
                ));
            }
        }
        Ok(OxmField::from_wire(id, value, mask))
    }

    /// Checks this field as the decoder would (value range, mask validity).
    pub fn validate(&self) -> Result<(), OfError> {
        let mut buf = Vec::with_capacity(40);
        self.encode(&mut buf);
        let mut r = Reader::new(&buf, OfError::new(BadMatchCode::BadLen, "OXM"));
        OxmField::decode(&mut r, OxmContext::Match).map(|_| ())
    }
}

/// An entry of a table-features OXM list (`OFPTFPT_MATCH`, `OFPTFPT_WILDCARDS`,
/// `OFPTFPT_*_SETFIELD*`): an OXM header, plus the experimenter id for
/// experimenter-class headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OxmId {
    pub header: u32,
    /// Present exactly when the header's class is `OFPXMC_EXPERIMENTER`.
    pub experimenter: Option<u32>,
}

impl OxmId {
    /// The id of a basic field (no mask).
    pub const fn basic(id: OxmFieldId) -> Self {
        OxmId {
            header: id.header(),
            experimenter: None,
        }
    }

    /// The id of a basic field with the has-mask bit set (length doubled).
    pub const fn basic_masked(id: OxmFieldId) -> Self {
        OxmId {
            header: oxm_header(
                OFPXMC_OPENFLOW_BASIC,
                id as u8,
                true,
                (id.value_len() * 2) as u8,
            ),
            experimenter: None,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let header = r.u32()?;
        let experimenter = if (header >> 16) as u16 == OFPXMC_EXPERIMENTER {
            Some(r.u32()?)
        } else {
            None
        };
        Ok(OxmId {
            header,
            experimenter,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.header);
        if let Some(e) = self.experimenter {
            out.put_u32(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert_eq!(OxmFieldId::ALL.len(), 40);
        for (i, id) in OxmFieldId::ALL.iter().enumerate() {
            assert_eq!(*id as usize, i);
            assert_eq!(OxmFieldId::from_u8(i as u8), Some(*id));
        }
        assert_eq!(OxmFieldId::from_u8(40), None);
    }

    #[test]
    fn bits() {
        assert!(!exceeds_bits(&[0x1f, 0xff], 13));
        assert!(exceeds_bits(&[0x20, 0x00], 13));
        assert!(!exceeds_bits(&[0x00, 0x0f, 0xff, 0xff], 20));
        assert!(exceeds_bits(&[0x00, 0x10, 0x00, 0x00], 20));
        assert!(!exceeds_bits(&[0xff; 8], 64));
    }

    #[test]
    fn header_layout() {
        // OXM_OF_IN_PORT: class 0x8000, field 0, len 4.
        assert_eq!(OxmFieldId::InPort.header(), 0x8000_0004);
        // OXM_OF_IPV4_SRC_W: field 11, hasmask, len 8.
        assert_eq!(OxmId::basic_masked(OxmFieldId::Ipv4Src).header, 0x8000_1708);
    }
}
