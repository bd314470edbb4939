//! Parsing ovs-ofctl flow, match, action, group and meter text.

use crate::lex::{split_top, Piece};
use crate::value::{
    parse_bits, parse_ipv4, parse_ipv4_masked, parse_ipv6, parse_ipv6_masked, parse_mac,
    parse_port, parse_u16, parse_u32, parse_u64, parse_u8,
};
use crate::SyntaxError;
use rvs_openflow::action::OFPCML_NO_BUFFER;
use rvs_openflow::group::{
    Bucket, GroupMod, GroupModCommand, GroupType, OFPG_ALL, OFPG_ANY, OFPG_MAX,
};
use rvs_openflow::instruction::OFPTT_ALL;
use rvs_openflow::message::flow_mod_flags;
use rvs_openflow::meter::{meter_flags, MeterBand, MeterMod, MeterModCommand, OFPM_ALL, OFPM_MAX};
use rvs_openflow::oxm::{Prereq, OFPVID_PRESENT};
use rvs_openflow::{
    Action, FlowMod, FlowModCommand, Instruction, Masked, Match, OxmField, OxmFieldId, PortNo,
};

/// Priority of a flow that does not give one (`OFP_DEFAULT_PRIORITY`).
pub const DEFAULT_PRIORITY: u16 = 0x8000;

pub(crate) const ETH_IPV4: u16 = 0x0800;
pub(crate) const ETH_ARP: u16 = 0x0806;
pub(crate) const ETH_RARP: u16 = 0x8035;
pub(crate) const ETH_IPV6: u16 = 0x86dd;
pub(crate) const ETH_MPLS: u16 = 0x8847;
pub(crate) const ETH_MPLS_MC: u16 = 0x8848;

/// Shorthands: name, eth_type, ip_proto.
pub(crate) const SHORTHANDS: &[(&str, u16, Option<u8>)] = &[
    ("ip", ETH_IPV4, None),
    ("ipv4", ETH_IPV4, None),
    ("icmp", ETH_IPV4, Some(1)),
    ("tcp", ETH_IPV4, Some(6)),
    ("udp", ETH_IPV4, Some(17)),
    ("sctp", ETH_IPV4, Some(132)),
    ("ipv6", ETH_IPV6, None),
    ("icmp6", ETH_IPV6, Some(58)),
    ("tcp6", ETH_IPV6, Some(6)),
    ("udp6", ETH_IPV6, Some(17)),
    ("sctp6", ETH_IPV6, Some(132)),
    ("arp", ETH_ARP, None),
    ("rarp", ETH_RARP, None),
    ("mpls", ETH_MPLS, None),
    ("mplsm", ETH_MPLS_MC, None),
];

/// A match field name: an OXM field or an ovs-ofctl name whose field depends on the
/// value or on the rest of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldName {
    Oxm(OxmFieldId),
    /// `dl_vlan`: a 12-bit VID (present bit implied) or 0xffff for "no VLAN".
    DlVlan,
    /// `vlan_tci`: PCP, CFI and VID of the 802.1Q header, with a mask.
    VlanTci,
    /// `nw_tos`: the DSCP shifted left by 2.
    NwTos,
    /// `nw_src`, `nw_dst`, `nw_proto`: IPv4 or ARP fields.
    NwSrc,
    NwDst,
    NwProto,
    /// `tp_src`, `tp_dst`: ports of the flow's transport protocol (or ICMP type/code).
    TpSrc,
    TpDst,
    /// `icmp_type`, `icmp_code`: ICMPv4 or ICMPv6 after the protocol.
    IcmpType,
    IcmpCode,
}

fn lookup_field(name: &str) -> Option<FieldName> {
    use FieldName as F;
    use OxmFieldId as O;
    Some(match name {
        "in_port" => F::Oxm(O::InPort),
        "in_phy_port" => F::Oxm(O::InPhyPort),
        "metadata" => F::Oxm(O::Metadata),
        "dl_src" | "eth_src" => F::Oxm(O::EthSrc),
        "dl_dst" | "eth_dst" => F::Oxm(O::EthDst),
        "dl_type" | "eth_type" => F::Oxm(O::EthType),
        "dl_vlan" => F::DlVlan,
        "vlan_vid" => F::Oxm(O::VlanVid),
        "vlan_tci" => F::VlanTci,
        "dl_vlan_pcp" | "vlan_pcp" => F::Oxm(O::VlanPcp),
        "nw_src" | "ip_src" => F::NwSrc,
        "nw_dst" | "ip_dst" => F::NwDst,
        "ipv4_src" => F::Oxm(O::Ipv4Src),
        "ipv4_dst" => F::Oxm(O::Ipv4Dst),
        "nw_proto" | "ip_proto" => F::NwProto,
        "nw_tos" => F::NwTos,
        "ip_dscp" => F::Oxm(O::IpDscp),
        "nw_ecn" | "ip_ecn" => F::Oxm(O::IpEcn),
        "tp_src" => F::TpSrc,
        "tp_dst" => F::TpDst,
        "tcp_src" => F::Oxm(O::TcpSrc),
        "tcp_dst" => F::Oxm(O::TcpDst),
        "udp_src" => F::Oxm(O::UdpSrc),
        "udp_dst" => F::Oxm(O::UdpDst),
        "sctp_src" => F::Oxm(O::SctpSrc),
        "sctp_dst" => F::Oxm(O::SctpDst),
        "icmp_type" => F::IcmpType,
        "icmp_code" => F::IcmpCode,
        "icmpv4_type" => F::Oxm(O::Icmpv4Type),
        "icmpv4_code" => F::Oxm(O::Icmpv4Code),
        "icmpv6_type" => F::Oxm(O::Icmpv6Type),
        "icmpv6_code" => F::Oxm(O::Icmpv6Code),
        "arp_op" => F::Oxm(O::ArpOp),
        "arp_spa" => F::Oxm(O::ArpSpa),
        "arp_tpa" => F::Oxm(O::ArpTpa),
        "arp_sha" => F::Oxm(O::ArpSha),
        "arp_tha" => F::Oxm(O::ArpTha),
        "ipv6_src" => F::Oxm(O::Ipv6Src),
        "ipv6_dst" => F::Oxm(O::Ipv6Dst),
        "ipv6_label" | "ipv6_flabel" => F::Oxm(O::Ipv6Flabel),
        "nd_target" | "ipv6_nd_target" => F::Oxm(O::Ipv6NdTarget),
        "nd_sll" | "ipv6_nd_sll" => F::Oxm(O::Ipv6NdSll),
        "nd_tll" | "ipv6_nd_tll" => F::Oxm(O::Ipv6NdTll),
        "mpls_label" => F::Oxm(O::MplsLabel),
        "mpls_tc" => F::Oxm(O::MplsTc),
        "mpls_bos" => F::Oxm(O::MplsBos),
        "pbb_isid" => F::Oxm(O::PbbIsid),
        "tun_id" | "tunnel_id" => F::Oxm(O::TunnelId),
        "ipv6_exthdr" => F::Oxm(O::Ipv6Exthdr),
        _ => return None,
    })
}

/// Field names ovs-ofctl knows that OpenFlow 1.3 cannot carry.
fn is_non_of13_field(name: &str) -> bool {
    matches!(
        name,
        "nw_ttl"
            | "ip_frag"
            | "nw_frag"
            | "tun_src"
            | "tun_dst"
            | "tun_flags"
            | "tun_ipv6_src"
            | "tun_ipv6_dst"
            | "skb_priority"
            | "pkt_mark"
            | "ct_state"
            | "ct_zone"
            | "ct_mark"
            | "ct_label"
            | "conj_id"
            | "recirc_id"
            | "dp_hash"
            | "actset_output"
            | "tcp_flags"
            | "packet_type"
            | "dl_vlan1"
    ) || name.starts_with("reg")
        || name.starts_with("xreg")
        || name.starts_with("xxreg")
        || name.starts_with("tun_metadata")
}

/// What the rest of a flow says about a packet, to resolve context-dependent names and
/// check prerequisites.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Context {
    eth_type: Option<u16>,
    ip_proto: Option<u8>,
    icmpv6_type: Option<u8>,
    vlan_present: bool,
    in_port: bool,
}

impl Context {
    fn of_match(m: &Match) -> Self {
        let mut c = Context::default();
        for f in &m.fields {
            match *f {
                OxmField::EthType(t) => c.eth_type = Some(t),
                OxmField::IpProto(p) => c.ip_proto = Some(p),
                OxmField::Icmpv6Type(t) => c.icmpv6_type = Some(t),
                OxmField::InPort(_) => c.in_port = true,
                OxmField::VlanVid(m) => {
                    c.vlan_present = m.value & OFPVID_PRESENT != 0
                        && m.mask.is_none_or(|k| k & OFPVID_PRESENT != 0)
                }
                _ => {}
            }
        }
        c
    }

    fn is_arp(&self) -> bool {
        matches!(self.eth_type, Some(ETH_ARP | ETH_RARP))
    }

    fn resolve(&self, name: FieldName, key: &Piece<'_>) -> Result<FieldName, SyntaxError> {
        use OxmFieldId as O;
        Ok(match name {
            FieldName::NwSrc if self.is_arp() => FieldName::Oxm(O::ArpSpa),
            FieldName::NwSrc => FieldName::Oxm(O::Ipv4Src),
            FieldName::NwDst if self.is_arp() => FieldName::Oxm(O::ArpTpa),
            FieldName::NwDst => FieldName::Oxm(O::Ipv4Dst),
            FieldName::NwProto if self.is_arp() => FieldName::Oxm(O::ArpOp),
            FieldName::NwProto => FieldName::Oxm(O::IpProto),
            FieldName::IcmpType if self.ip_proto == Some(58) => FieldName::Oxm(O::Icmpv6Type),
            FieldName::IcmpType => FieldName::Oxm(O::Icmpv4Type),
            FieldName::IcmpCode if self.ip_proto == Some(58) => FieldName::Oxm(O::Icmpv6Code),
            FieldName::IcmpCode => FieldName::Oxm(O::Icmpv4Code),
            FieldName::TpSrc | FieldName::TpDst => {
                let src = name == FieldName::TpSrc;
                let id = match self.ip_proto {
                    Some(6) => [O::TcpSrc, O::TcpDst],
                    Some(17) => [O::UdpSrc, O::UdpDst],
                    Some(132) => [O::SctpSrc, O::SctpDst],
                    Some(1) => [O::Icmpv4Type, O::Icmpv4Code],
                    Some(58) => [O::Icmpv6Type, O::Icmpv6Code],
                    _ => {
                        return Err(key.err(format!(
                            "'{}' needs a transport protocol first (tcp, udp, sctp, icmp, ip_proto=...)",
                            key.text
                        )))
                    }
                };
                FieldName::Oxm(if src { id[0] } else { id[1] })
            }
            other => other,
        })
    }

    /// Why `id` may not be used here, if it may not.
    fn missing_prereq(&self, id: OxmFieldId) -> Option<String> {
        let ok = match id.prereq() {
            Prereq::None => true,
            Prereq::InPort => self.in_port,
            Prereq::VlanPresent => self.vlan_present,
            Prereq::EthType(set) => self.eth_type.is_some_and(|t| set.contains(&t)),
            Prereq::IpProto(p) => self.ip_proto == Some(p),
            Prereq::Icmpv6Type(set) => self.icmpv6_type.is_some_and(|t| set.contains(&t)),
        };
        if ok {
            return None;
        }
        let need = match id.prereq() {
            Prereq::None => String::new(),
            Prereq::InPort => "in_port".into(),
            Prereq::VlanPresent => "a VLAN (dl_vlan=N or vlan_tci=0x1000/0x1000)".into(),
            Prereq::EthType(set) => set
                .iter()
                .map(|t| match *t {
                    ETH_IPV4 => "ip".to_string(),
                    ETH_IPV6 => "ipv6".to_string(),
                    ETH_ARP => "arp".to_string(),
                    ETH_MPLS => "mpls".to_string(),
                    ETH_MPLS_MC => "mplsm".to_string(),
                    t => format!("dl_type=0x{t:04x}"),
                })
                .collect::<Vec<_>>()
                .join(" or "),
            Prereq::IpProto(p) => match p {
                1 => "icmp".into(),
                6 => "tcp or tcp6".into(),
                17 => "udp or udp6".into(),
                132 => "sctp or sctp6".into(),
                58 => "icmp6".into(),
                p => format!("ip_proto={p}"),
            },
            Prereq::Icmpv6Type(set) => set
                .iter()
                .map(|t| format!("icmp_type={t}"))
                .collect::<Vec<_>>()
                .join(" or "),
        };
        Some(format!("{} requires {need}", id.name()))
    }
}

/// The OXM value of `id` from text; `allow_mask` is false in `set_field`.
fn parse_oxm(
    id: OxmFieldId,
    v: &Piece<'_>,
    allow_mask: bool,
) -> Result<Option<OxmField>, SyntaxError> {
    use OxmFieldId as O;
    let text = v.text;
    let err = |m: String| v.err(m);
    if text.contains('/') && !(allow_mask && id.maskable()) {
        return Err(v.err(if allow_mask {
            format!("{} cannot be masked in OpenFlow 1.3", id.name())
        } else {
            format!("set_field cannot use a mask ({})", id.name())
        }));
    }
    let bits = id.value_bits();
    let int = |s: &str| parse_bits(s, bits).map_err(err);
    let int_masked = |full: u64| -> Result<Option<(u64, Option<u64>)>, SyntaxError> {
        match text.split_once('/') {
            None => Ok(Some((int(text)?, None))),
            Some((a, m)) => {
                let m = int(m)?;
                if m == 0 {
                    return Ok(None);
                }
                let a = int(a)? & m;
                Ok(Some((a, (m != full).then_some(m))))
            }
        }
    };
    let full = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mac_masked = || -> Result<Option<Masked<[u8; 6]>>, SyntaxError> {
        match text.split_once('/') {
            None => Ok(Some(Masked::exact(parse_mac(text).map_err(err)?))),
            Some((a, m)) => {
                let m = parse_mac(m).map_err(err)?;
                if m == [0; 6] {
                    return Ok(None);
                }
                let mut a = parse_mac(a).map_err(err)?;
                for (x, y) in a.iter_mut().zip(m) {
                    *x &= y;
                }
                Ok(Some(if m == [0xff; 6] {
                    Masked::exact(a)
                } else {
                    Masked::new(a, m)
                }))
            }
        }
    };
    let v4 = || -> Result<Option<Masked<std::net::Ipv4Addr>>, SyntaxError> {
        let (a, m) = parse_ipv4_masked(text).map_err(err)?;
        Ok(match m {
            None => Some(Masked::exact(a)),
            Some(m) if u32::from(m) == 0 => None,
            Some(m) if u32::from(m) == u32::MAX => Some(Masked::exact(a)),
            Some(m) => Some(Masked::new((u32::from(a) & u32::from(m)).into(), m)),
        })
    };
    let v6 = || -> Result<Option<Masked<std::net::Ipv6Addr>>, SyntaxError> {
        let (a, m) = parse_ipv6_masked(text).map_err(err)?;
        Ok(match m {
            None => Some(Masked::exact(a)),
            Some(m) if u128::from(m) == 0 => None,
            Some(m) if u128::from(m) == u128::MAX => Some(Masked::exact(a)),
            Some(m) => Some(Masked::new((u128::from(a) & u128::from(m)).into(), m)),
        })
    };
    let masked_int = |f: fn(Masked<u64>) -> OxmField| -> Result<Option<OxmField>, SyntaxError> {
        Ok(int_masked(full)?.map(|(a, m)| f(Masked { value: a, mask: m })))
    };
    Ok(Some(match id {
        O::InPort => OxmField::InPort(parse_port(text).map_err(err)?),
        O::InPhyPort => OxmField::InPhyPort(parse_port(text).map_err(err)?),
        O::Metadata => return masked_int(OxmField::Metadata),
        O::TunnelId => return masked_int(OxmField::TunnelId),
        O::EthDst => return Ok(mac_masked()?.map(OxmField::EthDst)),
        O::EthSrc => return Ok(mac_masked()?.map(OxmField::EthSrc)),
        O::ArpSha => return Ok(mac_masked()?.map(OxmField::ArpSha)),
        O::ArpTha => return Ok(mac_masked()?.map(OxmField::ArpTha)),
        O::Ipv6NdSll => OxmField::Ipv6NdSll(parse_mac(text).map_err(err)?),
        O::Ipv6NdTll => OxmField::Ipv6NdTll(parse_mac(text).map_err(err)?),
        O::EthType => OxmField::EthType(int(text)? as u16),
        O::VlanVid => {
            return masked_int(|m| {
                OxmField::VlanVid(Masked {
                    value: m.value as u16,
                    mask: m.mask.map(|k| k as u16),
                })
            })
        }
        O::VlanPcp => OxmField::VlanPcp(int(text)? as u8),
        O::IpDscp => OxmField::IpDscp(int(text)? as u8),
        O::IpEcn => OxmField::IpEcn(int(text)? as u8),
        O::IpProto => OxmField::IpProto(int(text)? as u8),
        O::Ipv4Src => return Ok(v4()?.map(OxmField::Ipv4Src)),
        O::Ipv4Dst => return Ok(v4()?.map(OxmField::Ipv4Dst)),
        O::ArpSpa => return Ok(v4()?.map(OxmField::ArpSpa)),
        O::ArpTpa => return Ok(v4()?.map(OxmField::ArpTpa)),
        O::TcpSrc => OxmField::TcpSrc(int(text)? as u16),
        O::TcpDst => OxmField::TcpDst(int(text)? as u16),
        O::UdpSrc => OxmField::UdpSrc(int(text)? as u16),
        O::UdpDst => OxmField::UdpDst(int(text)? as u16),
        O::SctpSrc => OxmField::SctpSrc(int(text)? as u16),
        O::SctpDst => OxmField::SctpDst(int(text)? as u16),
        O::Icmpv4Type => OxmField::Icmpv4Type(int(text)? as u8),
        O::Icmpv4Code => OxmField::Icmpv4Code(int(text)? as u8),
        O::Icmpv6Type => OxmField::Icmpv6Type(int(text)? as u8),
        O::Icmpv6Code => OxmField::Icmpv6Code(int(text)? as u8),
        O::ArpOp => OxmField::ArpOp(int(text)? as u16),
        O::Ipv6Src => return Ok(v6()?.map(OxmField::Ipv6Src)),
        O::Ipv6Dst => return Ok(v6()?.map(OxmField::Ipv6Dst)),
        O::Ipv6NdTarget => OxmField::Ipv6NdTarget(parse_ipv6(text).map_err(err)?),
        O::Ipv6Flabel => {
            return masked_int(|m| {
                OxmField::Ipv6Flabel(Masked {
                    value: m.value as u32,
                    mask: m.mask.map(|k| k as u32),
                })
            })
        }
        O::MplsLabel => OxmField::MplsLabel(int(text)? as u32),
        O::MplsTc => OxmField::MplsTc(int(text)? as u8),
        O::MplsBos => OxmField::MplsBos(int(text)? as u8),
        O::PbbIsid => {
            return masked_int(|m| {
                OxmField::PbbIsid(Masked {
                    value: m.value as u32,
                    mask: m.mask.map(|k| k as u32),
                })
            })
        }
        O::Ipv6Exthdr => {
            return masked_int(|m| {
                OxmField::Ipv6Exthdr(Masked {
                    value: m.value as u16,
                    mask: m.mask.map(|k| k as u16),
                })
            })
        }
    }))
}

/// The OXM fields a special name stands for.
fn parse_special(name: FieldName, v: &Piece<'_>) -> Result<Vec<OxmField>, SyntaxError> {
    match name {
        FieldName::DlVlan => {
            let vid = parse_u16(v.text).map_err(|e| v.err(e))?;
            if vid == 0xffff {
                Ok(vec![OxmField::VlanVid(Masked::exact(0))])
            } else if vid <= 0xfff {
                Ok(vec![OxmField::VlanVid(Masked::exact(OFPVID_PRESENT | vid))])
            } else {
                Err(v.err(format!(
                    "dl_vlan {vid} is not a VLAN id (0-4095, or 0xffff for untagged)"
                )))
            }
        }
        FieldName::NwTos => {
            let tos = parse_u8(v.text).map_err(|e| v.err(e))?;
            if tos & 3 != 0 {
                return Err(v.err(format!(
                    "nw_tos {tos} has ECN bits set (it is the DSCP times 4; use ip_dscp or nw_ecn)"
                )));
            }
            Ok(vec![OxmField::IpDscp(tos >> 2)])
        }
        FieldName::VlanTci => {
            let (value, mask) = match v.text.split_once('/') {
                Some((a, m)) => (
                    parse_u16(a).map_err(|e| v.err(e))?,
                    parse_u16(m).map_err(|e| v.err(e))?,
                ),
                None => (parse_u16(v.text).map_err(|e| v.err(e))?, 0xffff),
            };
            let value = value & mask;
            let mut out = Vec::new();
            if mask == 0xffff && value == 0 {
                return Ok(vec![OxmField::VlanVid(Masked::exact(0))]);
            }
            let vid_mask = mask & 0x1fff;
            match vid_mask {
                0 => {}
                0x1fff => out.push(OxmField::VlanVid(Masked::exact(value & 0x1fff))),
                m => out.push(OxmField::VlanVid(Masked::new(value & m, m))),
            }
            match mask & 0xe000 {
                0 => {}
                0xe000 => {
                    if vid_mask & OFPVID_PRESENT == 0 || value & OFPVID_PRESENT == 0 {
                        return Err(v.err(
                            "vlan_tci matching the priority needs the CFI bit 0x1000 set in value and mask",
                        ));
                    }
                    out.push(OxmField::VlanPcp((value >> 13) as u8))
                }
                _ => {
                    return Err(v.err(
                        "OpenFlow 1.3 can match the VLAN priority only as a whole (mask 0xe000 or none)",
                    ))
                }
            }
            Ok(out)
        }
        _ => Ok(Vec::new()),
    }
}

/// Collected match fields with the span each came from.
#[derive(Default)]
struct MatchBuilder {
    fields: Vec<(OxmField, usize, usize)>,
}

impl MatchBuilder {
    fn add(&mut self, f: OxmField, at: &Piece<'_>) -> Result<(), SyntaxError> {
        if let Some((old, _, _)) = self.fields.iter().find(|(o, _, _)| o.id() == f.id()) {
            if *old == f {
                return Ok(());
            }
            return Err(at.err(format!(
                "{} is already matched with a different value",
                f.id().name()
            )));
        }
        self.fields.push((f, at.pos, at.text.len()));
        Ok(())
    }

    fn context(&self) -> Context {
        Context::of_match(&Match {
            fields: self.fields.iter().map(|(f, _, _)| *f).collect(),
        })
    }

    fn finish(mut self) -> Result<Match, SyntaxError> {
        // A priority without a VID means "tagged, any VID" (as ovs-ofctl).
        let pcp_at = self
            .fields
            .iter()
            .find(|(f, _, _)| f.id() == OxmFieldId::VlanPcp)
            .map(|(_, pos, len)| (*pos, *len));
        if let Some((pos, len)) = pcp_at {
            if !self
                .fields
                .iter()
                .any(|(f, _, _)| f.id() == OxmFieldId::VlanVid)
            {
                let present = Masked::new(OFPVID_PRESENT, OFPVID_PRESENT);
                self.fields.push((OxmField::VlanVid(present), pos, len));
            }
        }
        let ctx = self.context();
        for (f, pos, len) in &self.fields {
            if let Some(why) = ctx.missing_prereq(f.id()) {
                return Err(SyntaxError::new(*pos, *len, why));
            }
            if let OxmField::VlanPcp(p) = f {
                if *p > 7 {
                    return Err(SyntaxError::new(*pos, *len, "vlan_pcp is 0-7"));
                }
            }
        }
        self.fields.sort_by_key(|(f, _, _)| f.id());
        Ok(Match {
            fields: self.fields.into_iter().map(|(f, _, _)| f).collect(),
        })
    }
}

/// Parses match pieces (shorthands and `field=value`).
fn match_from_pieces(pieces: &[Piece<'_>]) -> Result<Match, SyntaxError> {
    let mut b = MatchBuilder::default();
    // Three passes: shorthands and eth_type; then ip_proto; then the rest, whose
    // meaning may depend on both.
    let mut fields: Vec<(FieldName, Piece<'_>, Piece<'_>, Piece<'_>)> = Vec::new();
    for p in pieces {
        if let Some((_, t, proto)) = SHORTHANDS.iter().find(|(n, _, _)| *n == p.text) {
            b.add(OxmField::EthType(*t), p)?;
            if let Some(proto) = proto {
                b.add(OxmField::IpProto(*proto), p)?;
            }
            continue;
        }
        let (key, value) = p.key_value();
        let Some(name) = lookup_field(key.text) else {
            return Err(key.err(if is_non_of13_field(key.text) {
                format!("field '{}' has no OpenFlow 1.3 encoding", key.text)
            } else {
                format!("unknown field '{}'", key.text)
            }));
        };
        let Some(value) = value.filter(|v| !v.text.is_empty()) else {
            return Err(key.err(format!("field '{}' needs a value", key.text)));
        };
        fields.push((name, *p, key, value));
    }
    for stage in 0..3 {
        for (name, p, key, value) in &fields {
            let this_stage = match name {
                FieldName::Oxm(OxmFieldId::EthType) => 0,
                FieldName::NwProto | FieldName::Oxm(OxmFieldId::IpProto) => 1,
                _ => 2,
            };
            if this_stage != stage {
                continue;
            }
            let resolved = b.context().resolve(*name, key)?;
            match resolved {
                FieldName::Oxm(id) => {
                    if let Some(f) = parse_oxm(id, value, true)? {
                        b.add(f, p)?;
                    }
                }
                special => {
                    for f in parse_special(special, value)? {
                        b.add(f, p)?;
                    }
                }
            }
        }
    }
    b.finish()
}

fn whole(text: &str) -> Piece<'_> {
    Piece { pos: 0, text }
}

/// Parses a match (`in_port=1,tcp,tp_dst=80`), as for `dump-flows` filters and `trace`.
/// Flow-level keys (`priority`, `actions`...) are refused.
pub fn parse_match(text: &str) -> Result<Match, SyntaxError> {
    let pieces = split_top(whole(text))?;
    for p in &pieces {
        let (k, _) = p.key_value();
        if FLOW_KEYS.contains(&k.text) || k.text == "actions" {
            return Err(k.err(format!("'{}' is not a match field", k.text)));
        }
    }
    match_from_pieces(&pieces)
}

const FLOW_KEYS: &[&str] = &[
    "table",
    "priority",
    "cookie",
    "idle_timeout",
    "hard_timeout",
    "send_flow_rem",
    "check_overlap",
    "reset_counts",
    "no_packet_counts",
    "no_byte_counts",
    "out_port",
    "out_group",
    "buffer_id",
];

/// Parses one `add-flow` / `mod-flows` / `del-flows` line into a flow mod.
///
/// `command` is the verb; `strict` turns `Modify`/`Delete` into their strict forms.
/// Defaults as ovs-ofctl: priority 32768, table 0 for add and modify, all tables
/// (`OFPTT_ALL`) for delete, no cookie filter, `out_port`/`out_group` any. A cookie
/// without mask is the new cookie for add and modify, and an exact cookie filter for
/// delete. Add and modify need `actions=`; delete refuses it.
pub fn parse_flow(
    text: &str,
    command: FlowModCommand,
    strict: bool,
) -> Result<FlowMod, SyntaxError> {
    let command = match (command, strict) {
        (FlowModCommand::Modify, true) => FlowModCommand::ModifyStrict,
        (FlowModCommand::Delete, true) => FlowModCommand::DeleteStrict,
        (c, _) => c,
    };
    let all = whole(text);
    let mut pieces = split_top(all)?;
    // Everything after `actions=` belongs to the actions, commas included.
    let mut actions: Option<(Piece<'_>, Piece<'_>)> = None;
    if let Some(i) = pieces.iter().position(|p| {
        let (k, v) = p.split_eq();
        v.is_some() && (k.text == "actions" || k.text == "instructions")
    }) {
        let key = pieces[i].slice(0, pieces[i].text.find('=').unwrap_or(0));
        let start = key.pos + key.text.len() + 1;
        actions = Some((key, all.slice(start, text.len())));
        pieces.truncate(i);
    }
    let mut fm = FlowMod::add(DEFAULT_PRIORITY, Match::new(), Vec::new());
    fm.command = command;
    if command.is_delete() {
        fm.table_id = OFPTT_ALL;
    }
    let mut match_pieces = Vec::new();
    let mut cookie_seen = false;
    for p in pieces {
        let (key, value) = p.key_value();
        let flag = match key.text {
            "send_flow_rem" => Some(flow_mod_flags::SEND_FLOW_REM),
            "check_overlap" => Some(flow_mod_flags::CHECK_OVERLAP),
            "reset_counts" => Some(flow_mod_flags::RESET_COUNTS),
            "no_packet_counts" => Some(flow_mod_flags::NO_PKT_COUNTS),
            "no_byte_counts" => Some(flow_mod_flags::NO_BYT_COUNTS),
            _ => None,
        };
        if let Some(flag) = flag {
            if value.is_some() {
                return Err(p.err(format!("'{}' takes no value", key.text)));
            }
            fm.flags |= flag;
            continue;
        }
        if !FLOW_KEYS.contains(&key.text) {
            match_pieces.push(p);
            continue;
        }
        let Some(v) = value.filter(|v| !v.text.is_empty()) else {
            return Err(key.err(format!("'{}' needs a value", key.text)));
        };
        let num_err = |e: String| v.err(e);
        match key.text {
            "table" => {
                fm.table_id = if v.text == "all" || v.text == "255" {
                    if !command.is_delete() {
                        return Err(v.err("only del-flows may name all tables"));
                    }
                    OFPTT_ALL
                } else {
                    let t = parse_u8(v.text).map_err(num_err)?;
                    if t > 254 {
                        return Err(v.err("table is 0-254"));
                    }
                    t
                }
            }
            "priority" => fm.priority = parse_u16(v.text).map_err(num_err)?,
            "idle_timeout" => fm.idle_timeout = parse_u16(v.text).map_err(num_err)?,
            "hard_timeout" => fm.hard_timeout = parse_u16(v.text).map_err(num_err)?,
            "buffer_id" => fm.buffer_id = parse_u32(v.text).map_err(num_err)?,
            "out_port" => fm.out_port = parse_port(v.text).map_err(num_err)?,
            "out_group" => {
                fm.out_group = match v.text {
                    "any" | "ANY" => OFPG_ANY,
                    "all" | "ALL" => OFPG_ALL,
                    t => {
                        let g = parse_u32(t).map_err(num_err)?;
                        if g > OFPG_MAX && g != OFPG_ANY && g != OFPG_ALL {
                            return Err(v.err("out_group is 0-4294967040, all or any"));
                        }
                        g
                    }
                }
            }
            "cookie" => {
                if cookie_seen {
                    return Err(key.err("cookie given twice"));
                }
                cookie_seen = true;
                match v.text.split_once('/') {
                    Some((c, m)) => {
                        if command == FlowModCommand::Add {
                            return Err(v.err("flow additions cannot use a cookie mask"));
                        }
                        fm.cookie = parse_u64(c).map_err(num_err)?;
                        fm.cookie_mask = parse_u64(m).map_err(num_err)?;
                    }
                    None => {
                        fm.cookie = parse_u64(v.text).map_err(num_err)?;
                        if command.is_delete() {
                            fm.cookie_mask = u64::MAX;
                        }
                    }
                }
            }
            _ => return Err(key.err(format!("unknown field '{}'", key.text))),
        }
    }
    fm.match_ = match_from_pieces(&match_pieces)?;
    match actions {
        Some((key, _)) if command.is_delete() => {
            return Err(key.err("del-flows takes no actions"));
        }
        Some((_, acts)) => {
            fm.instructions = instructions_from(acts, &Context::of_match(&fm.match_))?;
        }
        None if !command.is_delete() => {
            return Err(SyntaxError::new(
                text.len(),
                1,
                "missing 'actions=' (use actions=drop to drop)",
            ));
        }
        None => {}
    }
    Ok(fm)
}

/// Parses the text after `actions=` for a flow matching `match_`: actions (applied),
/// `drop`, and the instructions `meter:N`, `apply_actions(...)`, `clear_actions`,
/// `write_actions(...)`, `write_metadata:V[/M]`, `goto_table:N`, in that order.
pub fn parse_actions(text: &str, match_: &Match) -> Result<Vec<Instruction>, SyntaxError> {
    instructions_from(whole(text), &Context::of_match(match_))
}

/// Rank of each instruction in the order OpenFlow 1.1+ requires.
const INSTRUCTION_ORDER: &[&str] = &[
    "meter",
    "apply_actions",
    "clear_actions",
    "write_actions",
    "write_metadata",
    "goto_table",
];

fn instructions_from(text: Piece<'_>, ctx: &Context) -> Result<Vec<Instruction>, SyntaxError> {
    let pieces = split_top(text)?;
    if pieces.len() == 1 && pieces[0].text == "drop" {
        return Ok(Vec::new());
    }
    let mut ctx = *ctx;
    let mut rank: Option<usize> = None;
    let mut apply: Option<Vec<Action>> = None;
    let mut apply_explicit = false;
    let mut out: Vec<(usize, Instruction)> = Vec::new();
    for p in &pieces {
        let (key, value) = p.key_value();
        let inst = INSTRUCTION_ORDER.iter().position(|n| *n == key.text);
        let this = inst.unwrap_or(1);
        if let Some(r) = rank {
            if this < r {
                return Err(p.err(format!(
                    "invalid instruction ordering: {} must appear before {}, for OpenFlow 1.1+ compatibility",
                    INSTRUCTION_ORDER.get(this).unwrap_or(&""),
                    INSTRUCTION_ORDER.get(r).unwrap_or(&"")
                )));
            }
            if this == r && (inst.is_some() && this != 1 || this == 1 && apply_explicit) {
                return Err(p.err(format!(
                    "instruction {} appears twice",
                    INSTRUCTION_ORDER.get(this).unwrap_or(&"")
                )));
            }
        }
        rank = Some(this);
        let arg = || {
            value
                .filter(|v| !v.text.is_empty())
                .ok_or_else(|| key.err(format!("'{}' needs an argument", key.text)))
        };
        match key.text {
            "meter" => {
                let v = arg()?;
                let m = parse_u32(v.text).map_err(|e| v.err(e))?;
                if m == 0 || m > OFPM_MAX {
                    return Err(v.err("meter is 1-4294901760"));
                }
                out.push((0, Instruction::Meter(m)));
            }
            "apply_actions" => {
                if apply.is_some() {
                    return Err(key.err("apply_actions given with other actions"));
                }
                let inner = value.unwrap_or(key.slice(key.text.len(), key.text.len()));
                apply = Some(action_list(inner, &mut ctx)?);
                apply_explicit = true;
            }
            "clear_actions" => {
                if value.is_some() {
                    return Err(p.err("clear_actions takes no argument"));
                }
                out.push((2, Instruction::ClearActions));
            }
            "write_actions" => {
                let inner = value.unwrap_or(key.slice(key.text.len(), key.text.len()));
                let mut wctx = ctx;
                out.push((3, Instruction::WriteActions(action_list(inner, &mut wctx)?)));
            }
            "write_metadata" => {
                let v = arg()?;
                let (m, mask) = match v.text.split_once('/') {
                    Some((a, m)) => (
                        parse_u64(a).map_err(|e| v.err(e))?,
                        parse_u64(m).map_err(|e| v.err(e))?,
                    ),
                    None => (parse_u64(v.text).map_err(|e| v.err(e))?, u64::MAX),
                };
                out.push((4, Instruction::WriteMetadata { metadata: m, mask }));
            }
            "goto_table" => {
                let v = arg()?;
                let t = parse_u8(v.text).map_err(|e| v.err(e))?;
                if t > 254 {
                    return Err(v.err("goto_table is 0-254"));
                }
                out.push((5, Instruction::GotoTable(t)));
            }
            "drop" => return Err(key.err("'drop' must be the only action")),
            _ => {
                let a = action(p, &mut ctx)?;
                apply.get_or_insert_with(Vec::new).extend(a);
            }
        }
    }
    if let Some(a) = apply {
        out.push((1, Instruction::ApplyActions(a)));
    }
    out.sort_by_key(|(r, _)| *r);
    Ok(out.into_iter().map(|(_, i)| i).collect())
}

fn action_list(text: Piece<'_>, ctx: &mut Context) -> Result<Vec<Action>, SyntaxError> {
    let mut out = Vec::new();
    let pieces = split_top(text)?;
    if pieces.len() == 1 && pieces[0].text == "drop" {
        return Ok(out);
    }
    for p in &pieces {
        out.extend(action(p, ctx)?);
    }
    Ok(out)
}

/// Actions ovs-ofctl knows that OpenFlow 1.3 cannot carry.
fn is_non_of13_action(name: &str) -> bool {
    matches!(
        name,
        "resubmit"
            | "load"
            | "move"
            | "learn"
            | "ct"
            | "ct_clear"
            | "note"
            | "enqueue"
            | "set_tunnel"
            | "set_tunnel64"
            | "multipath"
            | "bundle"
            | "bundle_load"
            | "exit"
            | "fin_timeout"
            | "sample"
            | "clone"
            | "conjunction"
            | "nat"
            | "check_pkt_larger"
            | "mod_nw_ttl_dec"
            | "dec_nsh_ttl"
            | "encap"
            | "decap"
            | "pop_queue"
            | "push"
            | "pop"
            | "stack_push"
            | "stack_pop"
            | "output_trunc"
    )
}

fn set_field(f: OxmField, at: &Piece<'_>, ctx: &Context) -> Result<Action, SyntaxError> {
    let id = f.id();
    if id == OxmFieldId::VlanVid && !ctx.vlan_present {
        return Err(at.err("set_field of vlan_vid needs a VLAN (match one, or push_vlan first; mod_vlan_vid pushes one)"));
    }
    if let Some(why) = ctx.missing_prereq(id) {
        return Err(at.err(format!("set_field: {why}")));
    }
    Ok(Action::SetField(f))
}

/// One action (some ovs-ofctl actions are two OpenFlow actions: `mod_vlan_vid` on an
/// untagged flow pushes a tag first).
fn action(p: &Piece<'_>, ctx: &mut Context) -> Result<Vec<Action>, SyntaxError> {
    let (key, value) = p.key_value();
    let name = key.text.to_ascii_lowercase();
    let arg = || {
        value
            .filter(|v| !v.text.is_empty())
            .ok_or_else(|| key.err(format!("'{}' needs an argument", key.text)))
    };
    let no_arg = || {
        if value.is_some() {
            Err(p.err(format!("'{}' takes no argument", key.text)))
        } else {
            Ok(())
        }
    };
    let num = |bits: u32| -> Result<u64, SyntaxError> {
        let v = arg()?;
        parse_bits(v.text, bits).map_err(|e| v.err(e))
    };
    let reserved = |port: PortNo| -> Result<Vec<Action>, SyntaxError> {
        no_arg()?;
        Ok(vec![Action::Output { port, max_len: 0 }])
    };
    let push_if_needed = |ctx: &mut Context, out: &mut Vec<Action>| {
        if !ctx.vlan_present {
            out.push(Action::PushVlan(0x8100));
            ctx.vlan_present = true;
        }
    };
    if value.is_none() && p.text.bytes().all(|b| b.is_ascii_digit()) {
        let port = parse_port(p.text).map_err(|e| p.err(e))?;
        return Ok(vec![Action::output(port)]);
    }
    Ok(match name.as_str() {
        "output" => {
            let v = arg()?;
            let text = v.text.strip_prefix("port=").unwrap_or(v.text);
            let port = parse_port(text).map_err(|e| v.err(e))?;
            if port == PortNo::ANY {
                return Err(v.err("cannot output to ANY"));
            }
            vec![Action::output(port)]
        }
        "in_port" => reserved(PortNo::IN_PORT)?,
        "normal" => reserved(PortNo::NORMAL)?,
        "flood" => reserved(PortNo::FLOOD)?,
        "all" => reserved(PortNo::ALL)?,
        "local" => reserved(PortNo::LOCAL)?,
        "controller" => {
            let max_len = match value {
                None => OFPCML_NO_BUFFER,
                Some(v) => {
                    let mut len = OFPCML_NO_BUFFER;
                    for kv in split_top(v)? {
                        let (k, val) = kv.split_eq();
                        match (k.text, val) {
                            ("max_len", Some(val)) => {
                                len = parse_u16(val.text).map_err(|e| val.err(e))?
                            }
                            (n, None) if n.bytes().all(|b| b.is_ascii_digit()) => {
                                len = parse_u16(n).map_err(|e| kv.err(e))?
                            }
                            _ => {
                                return Err(kv.err(format!(
                                    "controller option '{}' has no OpenFlow 1.3 encoding (only max_len)",
                                    k.text
                                )))
                            }
                        }
                    }
                    len
                }
            };
            vec![Action::Output {
                port: PortNo::CONTROLLER,
                max_len,
            }]
        }
        "group" => {
            let g = num(32)? as u32;
            if g > OFPG_MAX {
                return Err(arg()?.err("group is 0-4294967040"));
            }
            vec![Action::Group(g)]
        }
        "mod_dl_src" | "mod_dl_dst" => {
            let v = arg()?;
            let mac = parse_mac(v.text).map_err(|e| v.err(e))?;
            vec![Action::SetField(if name == "mod_dl_src" {
                OxmField::EthSrc(Masked::exact(mac))
            } else {
                OxmField::EthDst(Masked::exact(mac))
            })]
        }
        "mod_vlan_vid" => {
            let vid = num(12)? as u16;
            let mut out = Vec::new();
            push_if_needed(ctx, &mut out);
            out.push(Action::SetField(OxmField::VlanVid(Masked::exact(
                OFPVID_PRESENT | vid,
            ))));
            out
        }
        "mod_vlan_pcp" => {
            let pcp = num(3)? as u8;
            let mut out = Vec::new();
            push_if_needed(ctx, &mut out);
            out.push(Action::SetField(OxmField::VlanPcp(pcp)));
            out
        }
        "strip_vlan" | "pop_vlan" => {
            no_arg()?;
            ctx.vlan_present = false;
            vec![Action::PopVlan]
        }
        "push_vlan" => {
            let e = num(16)? as u16;
            if e != 0x8100 && e != 0x88a8 {
                return Err(arg()?.err("push_vlan takes 0x8100 or 0x88a8"));
            }
            ctx.vlan_present = true;
            vec![Action::PushVlan(e)]
        }
        "push_mpls" => {
            let e = num(16)? as u16;
            if e != ETH_MPLS && e != ETH_MPLS_MC {
                return Err(arg()?.err("push_mpls takes 0x8847 or 0x8848"));
            }
            ctx.eth_type = Some(e);
            ctx.ip_proto = None;
            vec![Action::PushMpls(e)]
        }
        "pop_mpls" => {
            let e = num(16)? as u16;
            ctx.eth_type = Some(e);
            vec![Action::PopMpls(e)]
        }
        "set_field" => {
            let v = arg()?;
            let Some((val, field)) = v.split_once("->") else {
                return Err(v.err("set_field needs VALUE->FIELD"));
            };
            let Some(fname) = lookup_field(field.text) else {
                return Err(field.err(format!("unknown field '{}'", field.text)));
            };
            let resolved = ctx.resolve(fname, &field)?;
            let f = match resolved {
                FieldName::Oxm(id) => parse_oxm(id, &val, false)?,
                FieldName::DlVlan | FieldName::NwTos => {
                    parse_special(resolved, &val)?.into_iter().next()
                }
                _ => return Err(field.err(format!("set_field cannot set '{}'", field.text))),
            };
            let Some(f) = f else {
                return Err(val.err("set_field needs a value"));
            };
            vec![set_field(f, p, ctx)?]
        }
        "mod_nw_src" | "mod_nw_dst" => {
            let v = arg()?;
            let a = Masked::exact(parse_ipv4(v.text).map_err(|e| v.err(e))?);
            let f = if name == "mod_nw_src" {
                OxmField::Ipv4Src(a)
            } else {
                OxmField::Ipv4Dst(a)
            };
            vec![set_field(f, p, ctx)?]
        }
        "mod_nw_tos" => {
            let v = arg()?;
            let f = parse_special(FieldName::NwTos, &v)?;
            let Some(f) = f.into_iter().next() else {
                return Err(v.err("mod_nw_tos needs a value"));
            };
            vec![set_field(f, p, ctx)?]
        }
        "mod_nw_ecn" => vec![set_field(OxmField::IpEcn(num(2)? as u8), p, ctx)?],
        "mod_nw_ttl" | "set_nw_ttl" => vec![Action::SetNwTtl(num(8)? as u8)],
        "mod_tp_src" | "mod_tp_dst" => {
            let port = num(16)? as u16;
            let src = name == "mod_tp_src";
            let f = match ctx.ip_proto {
                Some(6) if src => OxmField::TcpSrc(port),
                Some(6) => OxmField::TcpDst(port),
                Some(17) if src => OxmField::UdpSrc(port),
                Some(17) => OxmField::UdpDst(port),
                Some(132) if src => OxmField::SctpSrc(port),
                Some(132) => OxmField::SctpDst(port),
                _ => return Err(key.err(format!("{name} needs a tcp, udp or sctp flow"))),
            };
            vec![set_field(f, p, ctx)?]
        }
        "dec_ttl" => {
            no_arg()?;
            vec![Action::DecNwTtl]
        }
        "set_mpls_ttl" => vec![Action::SetMplsTtl(num(8)? as u8)],
        "dec_mpls_ttl" => {
            no_arg()?;
            vec![Action::DecMplsTtl]
        }
        "set_mpls_label" => vec![set_field(OxmField::MplsLabel(num(20)? as u32), p, ctx)?],
        "set_mpls_tc" => vec![set_field(OxmField::MplsTc(num(3)? as u8), p, ctx)?],
        "copy_ttl_out" => {
            no_arg()?;
            vec![Action::CopyTtlOut]
        }
        "copy_ttl_in" => {
            no_arg()?;
            vec![Action::CopyTtlIn]
        }
        "set_queue" => vec![Action::SetQueue(num(32)? as u32)],
        "push_pbb" => {
            let e = num(16)? as u16;
            if e != 0x88e7 {
                return Err(arg()?.err("push_pbb takes 0x88e7"));
            }
            vec![Action::PushPbb(e)]
        }
        "pop_pbb" => {
            no_arg()?;
            vec![Action::PopPbb]
        }
        "drop" => return Err(key.err("'drop' must be the only action")),
        n if INSTRUCTION_ORDER.contains(&n) => {
            return Err(key.err(format!("instruction '{n}' inside an action list")))
        }
        n if is_non_of13_action(n) => {
            return Err(key.err(format!("action '{n}' has no OpenFlow 1.3 encoding")))
        }
        _ => return Err(key.err(format!("unknown action '{}'", key.text))),
    })
}

/// Parses a group: `group_id=1,type=select,bucket=weight:50,actions=output:1,bucket=...`.
///
/// Types `all` (default), `select`, `indirect`, `ff`/`fast_failover`. A bucket holds
/// `weight:N`, `watch_port:P`, `watch_group:G` and its actions (after `actions=`, or
/// directly). For `Delete`, `group_id` alone (or `group_id=all`, or nothing: all groups).
pub fn parse_group(text: &str, command: GroupModCommand) -> Result<GroupMod, SyntaxError> {
    let pieces = split_top(whole(text))?;
    let mut gm = GroupMod {
        command,
        group_type: GroupType::All,
        group_id: if command == GroupModCommand::Delete {
            OFPG_ALL
        } else {
            OFPG_ANY
        },
        buckets: Vec::new(),
    };
    let mut i = 0;
    let mut type_seen = false;
    while i < pieces.len() {
        let p = pieces[i];
        let (key, value) = p.key_value();
        i += 1;
        if key.text == "bucket" {
            if command == GroupModCommand::Delete {
                return Err(key.err("del-groups takes no buckets"));
            }
            // The bucket runs to the next `bucket=`.
            let mut end = i;
            while end < pieces.len() && pieces[end].key_value().0.text != "bucket" {
                end += 1;
            }
            let mut items = Vec::new();
            if let Some(v) = value.filter(|v| !v.text.is_empty()) {
                items.push(v);
            }
            items.extend_from_slice(&pieces[i..end]);
            i = end;
            gm.buckets.push(bucket(&items, &key)?);
            continue;
        }
        let Some(v) = value.filter(|v| !v.text.is_empty()) else {
            return Err(key.err(format!("'{}' needs a value", key.text)));
        };
        match key.text {
            "group_id" => {
                gm.group_id = match v.text {
                    "all" if command == GroupModCommand::Delete => OFPG_ALL,
                    t => {
                        let g = parse_u32(t).map_err(|e| v.err(e))?;
                        if g > OFPG_MAX {
                            return Err(v.err("group_id is 0-4294967040"));
                        }
                        g
                    }
                }
            }
            "type" => {
                type_seen = true;
                gm.group_type = match v.text {
                    "all" => GroupType::All,
                    "select" => GroupType::Select,
                    "indirect" => GroupType::Indirect,
                    "ff" | "fast_failover" => GroupType::FastFailover,
                    _ => {
                        return Err(v.err(format!(
                            "unknown group type '{}' (all, select, indirect, ff)",
                            v.text
                        )))
                    }
                }
            }
            _ => return Err(key.err(format!("unknown group keyword '{}'", key.text))),
        }
    }
    if command != GroupModCommand::Delete && gm.group_id == OFPG_ANY {
        return Err(SyntaxError::new(0, text.len(), "missing group_id"));
    }
    if command == GroupModCommand::Delete && type_seen {
        return Err(SyntaxError::new(
            0,
            text.len(),
            "del-groups takes only group_id",
        ));
    }
    Ok(gm)
}

fn bucket(items: &[Piece<'_>], at: &Piece<'_>) -> Result<Bucket, SyntaxError> {
    let mut b = Bucket::new(Vec::new());
    let mut ctx = Context {
        vlan_present: false,
        ..Context::default()
    };
    let mut i = 0;
    while i < items.len() {
        let p = items[i];
        let (key, value) = p.key_value();
        match (key.text, value) {
            ("weight", Some(v)) => b.weight = parse_u16(v.text).map_err(|e| v.err(e))?,
            ("watch_port", Some(v)) => b.watch_port = parse_port(v.text).map_err(|e| v.err(e))?,
            ("watch_group", Some(v)) => {
                b.watch_group = match v.text {
                    "any" | "ANY" => OFPG_ANY,
                    t => parse_u32(t).map_err(|e| v.err(e))?,
                }
            }
            ("actions", Some(v)) => {
                let mut rest = vec![v];
                rest.extend_from_slice(&items[i + 1..]);
                for a in rest {
                    if a.text == "drop" {
                        continue;
                    }
                    b.actions.extend(action(&a, &mut ctx)?);
                }
                return Ok(b);
            }
            _ => b.actions.extend(action(&p, &mut ctx)?),
        }
        i += 1;
    }
    let _ = at;
    Ok(b)
}

/// Parses a meter: `meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100`.
///
/// Flags `kbps` (default when neither is given), `pktps`, `burst`, `stats`; bands
/// `type=drop` or `type=dscp_remark` with `rate`, `burst_size` and `prec_level`. For
/// `Delete`, `meter=N` alone (or nothing / `meter=all`: all meters).
pub fn parse_meter(text: &str, command: MeterModCommand) -> Result<MeterMod, SyntaxError> {
    let pieces = split_top(whole(text))?;
    let mut mm = MeterMod {
        command,
        flags: 0,
        meter_id: if command == MeterModCommand::Delete {
            OFPM_ALL
        } else {
            0
        },
        bands: Vec::new(),
    };
    let mut id_seen = false;
    let mut i = 0;
    while i < pieces.len() {
        let p = pieces[i];
        i += 1;
        let (key, value) = p.split_eq();
        match (key.text, value) {
            ("kbps", None) => mm.flags |= meter_flags::KBPS,
            ("pktps", None) => mm.flags |= meter_flags::PKTPS,
            ("burst", None) => mm.flags |= meter_flags::BURST,
            ("stats", None) => mm.flags |= meter_flags::STATS,
            ("meter", Some(v)) => {
                id_seen = true;
                mm.meter_id = match v.text {
                    "all" if command == MeterModCommand::Delete => OFPM_ALL,
                    t => {
                        let m = parse_u32(t).map_err(|e| v.err(e))?;
                        if m == 0 || m > OFPM_MAX {
                            return Err(v.err("meter is 1-4294901760"));
                        }
                        m
                    }
                }
            }
            ("bands", Some(v)) => {
                if command == MeterModCommand::Delete {
                    return Err(key.err("del-meters takes no bands"));
                }
                // `bands=type=...`: the band starts with the value; each `type=` starts a band.
                let mut items = vec![v];
                items.extend_from_slice(&pieces[i..]);
                i = pieces.len();
                mm.bands = bands(&items)?;
            }
            _ => {
                return Err(key.err(format!(
                    "unknown meter keyword '{}' (meter, kbps, pktps, burst, stats, bands)",
                    p.text
                )))
            }
        }
    }
    if command != MeterModCommand::Delete {
        if !id_seen {
            return Err(SyntaxError::new(0, text.len(), "missing meter=N"));
        }
        if mm.flags & (meter_flags::KBPS | meter_flags::PKTPS) == 0 {
            mm.flags |= meter_flags::KBPS;
        }
        if mm.flags & meter_flags::KBPS != 0 && mm.flags & meter_flags::PKTPS != 0 {
            return Err(SyntaxError::new(
                0,
                text.len(),
                "kbps and pktps exclude each other",
            ));
        }
        if mm.bands.is_empty() {
            return Err(SyntaxError::new(
                text.len(),
                1,
                "missing bands=type=...,rate=N",
            ));
        }
    } else if mm.flags != 0 {
        return Err(SyntaxError::new(
            0,
            text.len(),
            "del-meters takes only meter=N",
        ));
    }
    Ok(mm)
}

fn bands(items: &[Piece<'_>]) -> Result<Vec<MeterBand>, SyntaxError> {
    struct Partial {
        kind: u8,
        rate: Option<u32>,
        burst: u32,
        prec: u8,
        at: usize,
        at_len: usize,
    }
    let mut parts: Vec<Partial> = Vec::new();
    for p in items {
        let (key, value) = p.split_eq();
        let Some(v) = value.filter(|v| !v.text.is_empty()) else {
            return Err(key.err(format!("'{}' needs a value", key.text)));
        };
        if key.text == "type" {
            let kind = match v.text {
                "drop" => 1,
                "dscp_remark" => 2,
                _ => return Err(v.err("band type is drop or dscp_remark")),
            };
            parts.push(Partial {
                kind,
                rate: None,
                burst: 0,
                prec: 0,
                at: p.pos,
                at_len: p.text.len(),
            });
            continue;
        }
        let Some(cur) = parts.last_mut() else {
            return Err(key.err("a band starts with type="));
        };
        match key.text {
            "rate" => cur.rate = Some(parse_u32(v.text).map_err(|e| v.err(e))?),
            "burst_size" => cur.burst = parse_u32(v.text).map_err(|e| v.err(e))?,
            "prec_level" if cur.kind == 2 => cur.prec = parse_u8(v.text).map_err(|e| v.err(e))?,
            _ => return Err(key.err(format!("unknown band keyword '{}'", key.text))),
        }
    }
    parts
        .into_iter()
        .map(|b| {
            let Some(rate) = b.rate else {
                return Err(SyntaxError::new(b.at, b.at_len, "band needs rate=N"));
            };
            Ok(if b.kind == 1 {
                MeterBand::Drop {
                    rate,
                    burst_size: b.burst,
                }
            } else {
                MeterBand::DscpRemark {
                    rate,
                    burst_size: b.burst,
                    prec_level: b.prec,
                }
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use rvs_openflow::message::OFP_NO_BUFFER;

    #[test]
    fn defaults_of_each_command() {
        let add = parse_flow("actions=drop", FlowModCommand::Add, false).unwrap();
        assert_eq!(add.priority, DEFAULT_PRIORITY);
        assert_eq!(add.table_id, 0);
        assert_eq!(add.buffer_id, OFP_NO_BUFFER);
        assert!(add.instructions.is_empty());
        let del = parse_flow("", FlowModCommand::Delete, true).unwrap();
        assert_eq!(del.command, FlowModCommand::DeleteStrict);
        assert_eq!(del.table_id, OFPTT_ALL);
        let del = parse_flow("cookie=5", FlowModCommand::Delete, false).unwrap();
        assert_eq!((del.cookie, del.cookie_mask), (5, u64::MAX));
        assert!(parse_flow("in_port=1", FlowModCommand::Add, false).is_err());
        assert!(parse_flow("actions=drop", FlowModCommand::Delete, false).is_err());
    }

    #[test]
    fn context_dependent_names() {
        let m = parse_match("tp_dst=80,udp").unwrap();
        assert_eq!(
            m.fields,
            vec![
                OxmField::EthType(ETH_IPV4),
                OxmField::IpProto(17),
                OxmField::UdpDst(80)
            ]
        );
        let m = parse_match("arp,nw_src=1.2.3.4,nw_proto=2").unwrap();
        assert!(m.get(OxmFieldId::ArpSpa).is_some());
        assert_eq!(m.get(OxmFieldId::ArpOp), Some(&OxmField::ArpOp(2)));
        let m = parse_match("nw_tos=8,ip").unwrap();
        assert_eq!(m.get(OxmFieldId::IpDscp), Some(&OxmField::IpDscp(2)));
    }

    #[test]
    fn instructions_come_in_openflow_order() {
        let fm = parse_flow(
            "actions=meter:1,output:1,clear_actions,write_actions(output:2),write_metadata:1/3,goto_table:4",
            FlowModCommand::Add,
            false,
        )
        .unwrap();
        let types: Vec<u16> = fm
            .instructions
            .iter()
            .map(|i| i.instruction_type())
            .collect();
        assert_eq!(types, vec![6, 4, 5, 3, 2, 1]);
        assert!(parse_flow("actions=goto_table:1,output:2", FlowModCommand::Add, false).is_err());
        let explicit = parse_flow(
            "actions=apply_actions(output:1,output:2),goto_table:4",
            FlowModCommand::Add,
            false,
        );
        let implicit = parse_flow(
            "actions=output:1,output:2,goto_table:4",
            FlowModCommand::Add,
            false,
        );
        assert_eq!(explicit, implicit);
        assert!(parse_flow(
            "actions=output:3,apply_actions(output:1)",
            FlowModCommand::Add,
            false
        )
        .is_err());
    }
}
