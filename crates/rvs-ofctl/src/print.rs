//! Printing matches, actions, flows, groups, meters, ports and tables as
//! `ovs-ofctl -O OpenFlow13` prints them.
//!
//! The statistics formatters return the lines that follow ovs-ofctl's header line
//! (`OFPST_FLOW reply (OF1.3) (xid=0x2):`), each ending in a newline.
//! [`format_flow_mod`], [`format_group_mod`] and [`format_meter_mod`] print the
//! *input* syntax instead (what `add-flow` / `add-group` / `add-meter` accept), so that
//! parsing what they print gives the same message back.

use crate::parse::{
    DEFAULT_PRIORITY, ETH_ARP, ETH_IPV4, ETH_IPV6, ETH_MPLS, ETH_MPLS_MC, ETH_RARP,
};
use crate::value::{fmt_ipv4_masked, fmt_ipv6_masked, fmt_mac, port_name};
use rvs_openflow::group::{
    Bucket, GroupDesc, GroupMod, GroupModCommand, GroupStats, GroupType, OFPG_ALL, OFPG_ANY,
};
use rvs_openflow::instruction::OFPTT_ALL;
use rvs_openflow::message::flow_mod_flags;
use rvs_openflow::meter::{
    meter_flags, MeterBand, MeterConfig, MeterMod, MeterModCommand, MeterStats, OFPM_ALL,
};
use rvs_openflow::multipart::{FlowStats, PortStats, TableStats};
use rvs_openflow::oxm::{MacAddr, OFPVID_PRESENT};
use rvs_openflow::port::{port_config, port_features, port_state, Port};
use rvs_openflow::{
    Action, FlowMod, FlowModCommand, Instruction, Masked, Match, OxmField, OxmFieldId, PortNo,
};
use std::fmt::Write;

fn mac_masked(m: &Masked<MacAddr>) -> String {
    match m.mask {
        None => fmt_mac(&m.value),
        Some(k) => format!("{}/{}", fmt_mac(&m.value), fmt_mac(&k)),
    }
}

/// `N` exact, `0xV/0xM` masked (ovs-ofctl's format of masked integers).
fn int_masked(value: u64, mask: Option<u64>) -> String {
    match mask {
        None => value.to_string(),
        Some(m) => format!("{value:#x}/{m:#x}"),
    }
}

fn hex_masked(value: u64, mask: Option<u64>) -> String {
    match mask {
        None => format!("{value:#x}"),
        Some(m) => format!("{value:#x}/{m:#x}"),
    }
}

/// A match as ovs-ofctl prints it, without priority: shorthand (`tcp`, `arp`...) first,
/// then the fields in ovs-ofctl's order. Empty for the empty match.
pub fn format_match(m: &Match) -> String {
    format_match_with_priority(m, None)
}

fn format_match_with_priority(m: &Match, priority: Option<u16>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = priority.filter(|&p| p != DEFAULT_PRIORITY) {
        parts.push(format!("priority={p}"));
    }
    let get = |id: OxmFieldId| m.get(id).copied();
    let eth_type = match get(OxmFieldId::EthType) {
        Some(OxmField::EthType(t)) => Some(t),
        _ => None,
    };
    let ip_proto = match get(OxmFieldId::IpProto) {
        Some(OxmField::IpProto(p)) => Some(p),
        _ => None,
    };
    let is_ip = matches!(eth_type, Some(ETH_IPV4 | ETH_IPV6));
    let is_arp = matches!(eth_type, Some(ETH_ARP | ETH_RARP));
    let shorthand = match (eth_type, ip_proto) {
        (Some(ETH_IPV4), Some(1)) => Some(("icmp", true)),
        (Some(ETH_IPV4), Some(6)) => Some(("tcp", true)),
        (Some(ETH_IPV4), Some(17)) => Some(("udp", true)),
        (Some(ETH_IPV4), Some(132)) => Some(("sctp", true)),
        (Some(ETH_IPV4), _) => Some(("ip", false)),
        (Some(ETH_IPV6), Some(58)) => Some(("icmp6", true)),
        (Some(ETH_IPV6), Some(6)) => Some(("tcp6", true)),
        (Some(ETH_IPV6), Some(17)) => Some(("udp6", true)),
        (Some(ETH_IPV6), Some(132)) => Some(("sctp6", true)),
        (Some(ETH_IPV6), _) => Some(("ipv6", false)),
        (Some(ETH_ARP), _) => Some(("arp", false)),
        (Some(ETH_RARP), _) => Some(("rarp", false)),
        (Some(ETH_MPLS), _) => Some(("mpls", false)),
        (Some(ETH_MPLS_MC), _) => Some(("mplsm", false)),
        _ => None,
    };
    if let Some((s, _)) = shorthand {
        parts.push(s.to_string());
    }
    if let Some(OxmField::TunnelId(v)) = get(OxmFieldId::TunnelId) {
        parts.push(format!("tun_id={}", hex_masked(v.value, v.mask)));
    }
    if let Some(OxmField::Metadata(v)) = get(OxmFieldId::Metadata) {
        parts.push(format!("metadata={}", hex_masked(v.value, v.mask)));
    }
    if let Some(OxmField::InPort(p)) = get(OxmFieldId::InPort) {
        parts.push(format!("in_port={}", port_name(p)));
    }
    if let Some(OxmField::InPhyPort(p)) = get(OxmFieldId::InPhyPort) {
        parts.push(format!("in_phy_port={}", port_name(p)));
    }
    // The 802.1Q TCI as ovs-ofctl sees it: VID and CFI from vlan_vid, PCP from vlan_pcp.
    let vid = match get(OxmFieldId::VlanVid) {
        Some(OxmField::VlanVid(v)) => Some(v),
        _ => None,
    };
    let pcp = match get(OxmFieldId::VlanPcp) {
        Some(OxmField::VlanPcp(p)) => Some(p),
        _ => None,
    };
    if vid.is_some() || pcp.is_some() {
        let (mut tci, mut mask) = match vid {
            Some(v) => (v.value & 0x1fff, v.mask.unwrap_or(0x1fff) & 0x1fff),
            None => (0, 0),
        };
        if let Some(p) = pcp {
            tci |= u16::from(p & 7) << 13;
            mask |= 0xe000;
        }
        let vid_mask = mask & 0x0fff;
        let pcp_mask = mask & 0xe000;
        if mask & OFPVID_PRESENT != 0
            && tci & OFPVID_PRESENT != 0
            && (vid_mask == 0 || vid_mask == 0x0fff)
            && (vid_mask != 0 || pcp_mask != 0)
        {
            if vid_mask != 0 {
                parts.push(format!("dl_vlan={}", tci & 0x0fff));
            }
            if pcp_mask != 0 {
                parts.push(format!("dl_vlan_pcp={}", tci >> 13));
            }
        } else if mask == 0xffff {
            parts.push(format!("vlan_tci={tci:#06x}"));
        } else {
            parts.push(format!("vlan_tci={tci:#06x}/{mask:#06x}"));
        }
    }
    if let Some(OxmField::EthSrc(v)) = get(OxmFieldId::EthSrc) {
        parts.push(format!("dl_src={}", mac_masked(&v)));
    }
    if let Some(OxmField::EthDst(v)) = get(OxmFieldId::EthDst) {
        parts.push(format!("dl_dst={}", mac_masked(&v)));
    }
    if let (None, Some(t)) = (shorthand, eth_type) {
        parts.push(format!("dl_type={t:#06x}"));
    }
    for f in &m.fields {
        match *f {
            OxmField::Ipv6Src(v) => {
                parts.push(format!("ipv6_src={}", fmt_ipv6_masked(v.value, v.mask)))
            }
            OxmField::Ipv6Dst(v) => {
                parts.push(format!("ipv6_dst={}", fmt_ipv6_masked(v.value, v.mask)))
            }
            _ => {}
        }
    }
    if let Some(OxmField::Ipv6Flabel(v)) = get(OxmFieldId::Ipv6Flabel) {
        parts.push(match v.mask {
            None => format!("ipv6_label={:#07x}", v.value),
            Some(k) => format!("ipv6_label={:#07x}/{k:#07x}", v.value),
        });
    }
    for f in &m.fields {
        match *f {
            OxmField::ArpSpa(v) => {
                parts.push(format!("arp_spa={}", fmt_ipv4_masked(v.value, v.mask)))
            }
            OxmField::ArpTpa(v) => {
                parts.push(format!("arp_tpa={}", fmt_ipv4_masked(v.value, v.mask)))
            }
            _ => {}
        }
    }
    for f in &m.fields {
        match *f {
            OxmField::Ipv4Src(v) => {
                parts.push(format!("nw_src={}", fmt_ipv4_masked(v.value, v.mask)))
            }
            OxmField::Ipv4Dst(v) => {
                parts.push(format!("nw_dst={}", fmt_ipv4_masked(v.value, v.mask)))
            }
            _ => {}
        }
    }
    if let Some(p) = ip_proto {
        if !shorthand.is_some_and(|(_, covers_proto)| covers_proto) {
            parts.push(format!("nw_proto={p}"));
        }
    }
    if let Some(OxmField::ArpOp(op)) = get(OxmFieldId::ArpOp) {
        parts.push(format!("arp_op={op}"));
    }
    if let Some(OxmField::ArpSha(v)) = get(OxmFieldId::ArpSha) {
        parts.push(format!("arp_sha={}", mac_masked(&v)));
    }
    if let Some(OxmField::ArpTha(v)) = get(OxmFieldId::ArpTha) {
        parts.push(format!("arp_tha={}", mac_masked(&v)));
    }
    if let Some(OxmField::IpDscp(d)) = get(OxmFieldId::IpDscp) {
        parts.push(format!("nw_tos={}", u16::from(d) << 2));
    }
    if let Some(OxmField::IpEcn(e)) = get(OxmFieldId::IpEcn) {
        parts.push(format!("nw_ecn={e}"));
    }
    if let Some(OxmField::MplsLabel(l)) = get(OxmFieldId::MplsLabel) {
        parts.push(format!("mpls_label={l}"));
    }
    if let Some(OxmField::MplsTc(l)) = get(OxmFieldId::MplsTc) {
        parts.push(format!("mpls_tc={l}"));
    }
    if let Some(OxmField::MplsBos(l)) = get(OxmFieldId::MplsBos) {
        parts.push(format!("mpls_bos={l}"));
    }
    for f in &m.fields {
        let s = match *f {
            OxmField::Icmpv4Type(t) | OxmField::Icmpv6Type(t) => format!("icmp_type={t}"),
            _ => continue,
        };
        parts.push(s);
    }
    for f in &m.fields {
        let s = match *f {
            OxmField::Icmpv4Code(t) | OxmField::Icmpv6Code(t) => format!("icmp_code={t}"),
            _ => continue,
        };
        parts.push(s);
    }
    if let Some(OxmField::Ipv6NdTarget(a)) = get(OxmFieldId::Ipv6NdTarget) {
        parts.push(format!("nd_target={a}"));
    }
    if let Some(OxmField::Ipv6NdSll(a)) = get(OxmFieldId::Ipv6NdSll) {
        parts.push(format!("nd_sll={}", fmt_mac(&a)));
    }
    if let Some(OxmField::Ipv6NdTll(a)) = get(OxmFieldId::Ipv6NdTll) {
        parts.push(format!("nd_tll={}", fmt_mac(&a)));
    }
    // Transport ports: `tp_src` when the protocol says which, else the OXM name.
    for f in &m.fields {
        let (src, p, proto) = match *f {
            OxmField::TcpSrc(p) => (true, p, 6),
            OxmField::TcpDst(p) => (false, p, 6),
            OxmField::UdpSrc(p) => (true, p, 17),
            OxmField::UdpDst(p) => (false, p, 17),
            OxmField::SctpSrc(p) => (true, p, 132),
            OxmField::SctpDst(p) => (false, p, 132),
            _ => continue,
        };
        let dir = if src { "src" } else { "dst" };
        if is_ip && ip_proto == Some(proto) {
            parts.push(format!("tp_{dir}={p}"));
        } else {
            parts.push(format!("{}={p}", f.id().name()));
        }
    }
    let _ = is_arp;
    if let Some(OxmField::PbbIsid(v)) = get(OxmFieldId::PbbIsid) {
        parts.push(format!(
            "pbb_isid={}",
            hex_masked(u64::from(v.value), v.mask.map(u64::from))
        ));
    }
    if let Some(OxmField::Ipv6Exthdr(v)) = get(OxmFieldId::Ipv6Exthdr) {
        parts.push(format!(
            "ipv6_exthdr={}",
            hex_masked(u64::from(v.value), v.mask.map(u64::from))
        ));
    }
    parts.join(",")
}

/// The name ovs-ofctl gives a field in `set_field:V->NAME`.
fn set_field_name(id: OxmFieldId) -> &'static str {
    use OxmFieldId as O;
    match id {
        O::InPort => "in_port",
        O::EthDst => "eth_dst",
        O::EthSrc => "eth_src",
        O::EthType => "eth_type",
        O::VlanVid => "vlan_vid",
        O::VlanPcp => "vlan_pcp",
        O::IpDscp => "ip_dscp",
        O::IpEcn => "nw_ecn",
        O::IpProto => "nw_proto",
        O::Ipv4Src => "ip_src",
        O::Ipv4Dst => "ip_dst",
        O::Icmpv4Type => "icmp_type",
        O::Icmpv4Code => "icmp_code",
        O::Ipv6Flabel => "ipv6_label",
        O::Ipv6NdTarget => "nd_target",
        O::Ipv6NdSll => "nd_sll",
        O::Ipv6NdTll => "nd_tll",
        O::TunnelId => "tun_id",
        other => other.name(),
    }
}

fn set_field_value(f: &OxmField) -> String {
    match *f {
        OxmField::InPort(p) | OxmField::InPhyPort(p) => port_name(p),
        OxmField::Metadata(v) | OxmField::TunnelId(v) => hex_masked(v.value, v.mask),
        OxmField::EthDst(v) | OxmField::EthSrc(v) | OxmField::ArpSha(v) | OxmField::ArpTha(v) => {
            mac_masked(&v)
        }
        OxmField::Ipv6NdSll(a) | OxmField::Ipv6NdTll(a) => fmt_mac(&a),
        OxmField::EthType(t) => format!("{t:#06x}"),
        OxmField::VlanVid(v) => int_masked(u64::from(v.value), v.mask.map(u64::from)),
        OxmField::VlanPcp(x)
        | OxmField::IpDscp(x)
        | OxmField::IpEcn(x)
        | OxmField::IpProto(x)
        | OxmField::Icmpv4Type(x)
        | OxmField::Icmpv4Code(x)
        | OxmField::Icmpv6Type(x)
        | OxmField::Icmpv6Code(x)
        | OxmField::MplsTc(x)
        | OxmField::MplsBos(x) => x.to_string(),
        OxmField::Ipv4Src(v) | OxmField::Ipv4Dst(v) | OxmField::ArpSpa(v) | OxmField::ArpTpa(v) => {
            fmt_ipv4_masked(v.value, v.mask)
        }
        OxmField::TcpSrc(p)
        | OxmField::TcpDst(p)
        | OxmField::UdpSrc(p)
        | OxmField::UdpDst(p)
        | OxmField::SctpSrc(p)
        | OxmField::SctpDst(p)
        | OxmField::ArpOp(p) => p.to_string(),
        OxmField::Ipv6Src(v) | OxmField::Ipv6Dst(v) => fmt_ipv6_masked(v.value, v.mask),
        OxmField::Ipv6NdTarget(a) => a.to_string(),
        OxmField::Ipv6Flabel(v) | OxmField::PbbIsid(v) => {
            hex_masked(u64::from(v.value), v.mask.map(u64::from))
        }
        OxmField::MplsLabel(l) => l.to_string(),
        OxmField::Ipv6Exthdr(v) => hex_masked(u64::from(v.value), v.mask.map(u64::from)),
    }
}

fn format_action(a: &Action) -> String {
    match a {
        Action::Output { port, max_len } => match *port {
            PortNo::CONTROLLER => format!("CONTROLLER:{max_len}"),
            PortNo(n) if n <= PortNo::MAX.0 => format!("output:{n}"),
            p => port_name(p),
        },
        Action::CopyTtlOut => "copy_ttl_out".into(),
        Action::CopyTtlIn => "copy_ttl_in".into(),
        Action::SetMplsTtl(t) => format!("set_mpls_ttl({t})"),
        Action::DecMplsTtl => "dec_mpls_ttl".into(),
        Action::PushVlan(e) => format!("push_vlan:{e:#06x}"),
        Action::PopVlan => "pop_vlan".into(),
        Action::PushMpls(e) => format!("push_mpls:{e:#06x}"),
        Action::PopMpls(e) => format!("pop_mpls:{e:#06x}"),
        Action::SetQueue(q) => format!("set_queue:{q}"),
        Action::Group(g) => format!("group:{g}"),
        Action::SetNwTtl(t) => format!("mod_nw_ttl:{t}"),
        Action::DecNwTtl => "dec_ttl".into(),
        Action::SetField(f) => format!(
            "set_field:{}->{}",
            set_field_value(f),
            set_field_name(f.id())
        ),
        Action::PushPbb(e) => format!("push_pbb:{e:#06x}"),
        Action::PopPbb => "pop_pbb".into(),
        Action::Experimenter { experimenter, data } => {
            format!("experimenter({experimenter:#x},{} bytes)", data.len())
        }
    }
}

/// An action list, comma-separated; `drop` when empty.
pub fn format_actions(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    actions
        .iter()
        .map(format_action)
        .collect::<Vec<_>>()
        .join(",")
}

/// `actions=...` for a flow's instructions, as ovs-ofctl prints them: applied actions
/// inline, then the other instructions; `actions=drop` when there are none.
pub fn format_instructions(insts: &[Instruction]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for i in insts {
        match i {
            Instruction::Meter(m) => parts.push(format!("meter:{m}")),
            Instruction::ApplyActions(a) => parts.extend(a.iter().map(format_action)),
            Instruction::ClearActions => parts.push("clear_actions".into()),
            Instruction::WriteActions(a) => parts.push(format!(
                "write_actions({})",
                a.iter().map(format_action).collect::<Vec<_>>().join(",")
            )),
            Instruction::WriteMetadata { metadata, mask } => parts.push(if *mask == u64::MAX {
                format!("write_metadata:{metadata:#x}")
            } else {
                format!("write_metadata:{metadata:#x}/{mask:#x}")
            }),
            Instruction::GotoTable(t) => parts.push(format!("goto_table:{t}")),
            Instruction::Experimenter { experimenter, data } => parts.push(format!(
                "experimenter({experimenter:#x},{} bytes)",
                data.len()
            )),
        }
    }
    if parts.is_empty() {
        "actions=drop".into()
    } else {
        format!("actions={}", parts.join(","))
    }
}

fn flag_names(flags: u16) -> Vec<&'static str> {
    [
        (flow_mod_flags::SEND_FLOW_REM, "send_flow_rem"),
        (flow_mod_flags::CHECK_OVERLAP, "check_overlap"),
        (flow_mod_flags::RESET_COUNTS, "reset_counts"),
        (flow_mod_flags::NO_PKT_COUNTS, "no_packet_counts"),
        (flow_mod_flags::NO_BYT_COUNTS, "no_byte_counts"),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, n)| *n)
    .collect()
}

/// Seconds as ovs-ofctl prints flow and group durations: no decimals for whole
/// seconds, three for whole milliseconds, else as many as the nanoseconds need.
fn duration(sec: u32, nsec: u32) -> String {
    if nsec == 0 {
        format!("{sec}s")
    } else if nsec.is_multiple_of(1_000_000) {
        format!("{sec}.{:03}s", nsec / 1_000_000)
    } else {
        let frac = format!("{nsec:09}");
        format!("{sec}.{}s", frac.trim_end_matches('0'))
    }
}

/// One `dump-flows` line (leading space, no newline):
/// ` cookie=0x0, duration=1.234s, table=0, n_packets=3, n_bytes=294, idle_timeout=10, priority=100,ip,nw_src=10.0.0.1 actions=output:2`.
pub fn format_flow_stats(fs: &FlowStats) -> String {
    let mut s = format!(
        " cookie={:#x}, duration={}, table={}, n_packets={}, n_bytes={}, ",
        fs.cookie,
        duration(fs.duration_sec, fs.duration_nsec),
        fs.table_id,
        fs.packet_count,
        fs.byte_count
    );
    if fs.idle_timeout != 0 {
        let _ = write!(s, "idle_timeout={}, ", fs.idle_timeout);
    }
    if fs.hard_timeout != 0 {
        let _ = write!(s, "hard_timeout={}, ", fs.hard_timeout);
    }
    for f in flag_names(fs.flags) {
        s.push_str(f);
        s.push(' ');
    }
    s.push_str(&format_match_with_priority(&fs.match_, Some(fs.priority)));
    if !s.ends_with(' ') {
        s.push(' ');
    }
    s.push_str(&format_instructions(&fs.instructions));
    s
}

/// A flow mod in the syntax [`crate::parse_flow`] reads (`table=1,priority=10,...,actions=...`);
/// the command is not printed. Parsing the result with the same command gives `fm` back
/// for every flow mod that `parse_flow` can produce.
pub fn format_flow_mod(fm: &FlowMod) -> String {
    let mut parts: Vec<String> = Vec::new();
    let delete = fm.command.is_delete();
    if fm.table_id != if delete { OFPTT_ALL } else { 0 } {
        parts.push(format!("table={}", fm.table_id));
    }
    if fm.priority != DEFAULT_PRIORITY {
        parts.push(format!("priority={}", fm.priority));
    }
    let exact_cookie = delete && fm.cookie_mask == u64::MAX;
    if fm.cookie_mask != 0 && !exact_cookie {
        parts.push(format!("cookie={:#x}/{:#x}", fm.cookie, fm.cookie_mask));
    } else if fm.cookie != 0 || exact_cookie {
        parts.push(format!("cookie={:#x}", fm.cookie));
    }
    if fm.idle_timeout != 0 {
        parts.push(format!("idle_timeout={}", fm.idle_timeout));
    }
    if fm.hard_timeout != 0 {
        parts.push(format!("hard_timeout={}", fm.hard_timeout));
    }
    if fm.buffer_id != rvs_openflow::message::OFP_NO_BUFFER {
        parts.push(format!("buffer_id={}", fm.buffer_id));
    }
    if fm.out_port != PortNo::ANY {
        parts.push(format!("out_port={}", port_name(fm.out_port)));
    }
    if fm.out_group != OFPG_ANY {
        parts.push(if fm.out_group == OFPG_ALL {
            "out_group=all".to_string()
        } else {
            format!("out_group={}", fm.out_group)
        });
    }
    parts.extend(flag_names(fm.flags).into_iter().map(String::from));
    let m = format_match(&fm.match_);
    if !m.is_empty() {
        parts.push(m);
    }
    if !matches!(
        fm.command,
        FlowModCommand::Delete | FlowModCommand::DeleteStrict
    ) {
        parts.push(format_instructions(&fm.instructions));
    }
    parts.join(",")
}

fn group_type_name(t: GroupType) -> &'static str {
    match t {
        GroupType::All => "all",
        GroupType::Select => "select",
        GroupType::Indirect => "indirect",
        GroupType::FastFailover => "ff",
    }
}

fn format_bucket(b: &Bucket, t: GroupType) -> String {
    let mut s = String::from("bucket=");
    if t == GroupType::Select || b.weight != 0 {
        let _ = write!(s, "weight:{},", b.weight);
    }
    if b.watch_port != PortNo::ANY {
        let _ = write!(s, "watch_port:{},", port_name(b.watch_port));
    }
    if b.watch_group != OFPG_ANY {
        let _ = write!(s, "watch_group:{},", b.watch_group);
    }
    s.push_str("actions=");
    s.push_str(&format_actions(&b.actions));
    s
}

fn format_group(id: u32, t: GroupType, buckets: &[Bucket]) -> String {
    let mut s = format!("group_id={id},type={}", group_type_name(t));
    for b in buckets {
        s.push(',');
        s.push_str(&format_bucket(b, t));
    }
    s
}

/// One `dump-groups` line (leading space): ` group_id=1,type=select,bucket=weight:50,actions=output:1`.
pub fn format_group_desc(g: &GroupDesc) -> String {
    format!(" {}", format_group(g.group_id, g.group_type, &g.buckets))
}

/// A group mod in the syntax [`crate::parse_group`] reads.
pub fn format_group_mod(g: &GroupMod) -> String {
    if g.command == GroupModCommand::Delete {
        return if g.group_id == OFPG_ALL {
            String::new()
        } else {
            format!("group_id={}", g.group_id)
        };
    }
    format_group(g.group_id, g.group_type, &g.buckets)
}

/// One `dump-group-stats` line (leading space):
/// ` group_id=1,duration=2.000s,ref_count=1,packet_count=5,byte_count=300,bucket0:packet_count=5,byte_count=300`.
pub fn format_group_stats(g: &GroupStats) -> String {
    let mut s = format!(
        " group_id={},duration={},ref_count={},packet_count={},byte_count={}",
        g.group_id,
        duration(g.duration_sec, g.duration_nsec),
        g.ref_count,
        g.packet_count,
        g.byte_count
    );
    for (i, b) in g.bucket_stats.iter().enumerate() {
        let _ = write!(
            s,
            ",bucket{i}:packet_count={},byte_count={}",
            b.packet_count, b.byte_count
        );
    }
    s
}

fn meter_flag_words(flags: u16) -> String {
    let mut s = String::new();
    for (bit, name) in [
        (meter_flags::KBPS, "kbps"),
        (meter_flags::PKTPS, "pktps"),
        (meter_flags::BURST, "burst"),
        (meter_flags::STATS, "stats"),
    ] {
        if flags & bit != 0 {
            s.push_str(name);
            s.push(' ');
        }
    }
    s
}

/// A band; `burst_size` only when `show_burst` (ovs-ofctl shows it for meters with
/// the `burst` flag).
fn format_band(b: &MeterBand, show_burst: bool) -> String {
    match b {
        MeterBand::Drop { rate, burst_size } => {
            let mut s = format!("type=drop rate={rate}");
            if show_burst {
                let _ = write!(s, " burst_size={burst_size}");
            }
            s
        }
        MeterBand::DscpRemark {
            rate,
            burst_size,
            prec_level,
        } => {
            let mut s = format!("type=dscp_remark rate={rate}");
            if show_burst {
                let _ = write!(s, " burst_size={burst_size}");
            }
            let _ = write!(s, " prec_level={prec_level}");
            s
        }
        MeterBand::Experimenter {
            rate,
            burst_size,
            experimenter,
            ..
        } => format!(
            "type=experimenter rate={rate} burst_size={burst_size} experimenter={experimenter:#x}"
        ),
    }
}

/// One `dump-meters` entry: `meter=1 kbps burst stats bands=` and one line per band
/// (ovs-ofctl separates entries with an empty line).
pub fn format_meter_config(m: &MeterConfig) -> String {
    let mut s = format!("meter={} {}bands=\n", m.meter_id, meter_flag_words(m.flags));
    for b in &m.bands {
        s.push_str(&format_band(b, m.flags & meter_flags::BURST != 0));
        s.push('\n');
    }
    s
}

/// A meter mod in the syntax [`crate::parse_meter`] reads.
pub fn format_meter_mod(m: &MeterMod) -> String {
    if m.command == MeterModCommand::Delete {
        return if m.meter_id == OFPM_ALL {
            String::new()
        } else {
            format!("meter={}", m.meter_id)
        };
    }
    let mut parts = vec![format!("meter={}", m.meter_id)];
    for (bit, name) in [
        (meter_flags::KBPS, "kbps"),
        (meter_flags::PKTPS, "pktps"),
        (meter_flags::BURST, "burst"),
        (meter_flags::STATS, "stats"),
    ] {
        if m.flags & bit != 0 {
            parts.push(name.into());
        }
    }
    let bands: Vec<String> = m
        .bands
        .iter()
        .map(|b| format_band(b, b.burst_size() != 0).replace(' ', ","))
        .collect();
    if !bands.is_empty() {
        parts.push(format!("bands={}", bands.join(",")));
    }
    parts.join(",")
}

/// One `meter-stats` entry: `meter:1 flow_count:0 ... bands:` and one line per band.
pub fn format_meter_stats(m: &MeterStats) -> String {
    let mut s = format!(
        "meter:{} flow_count:{} packet_in_count:{} byte_in_count:{} duration:{} bands:\n",
        m.meter_id,
        m.flow_count,
        m.packet_in_count,
        m.byte_in_count,
        duration_full(m.duration_sec, m.duration_nsec)
    );
    for (i, b) in m.band_stats.iter().enumerate() {
        let _ = writeln!(
            s,
            "{i}: packet_count:{} byte_count:{}",
            b.packet_band_count, b.byte_band_count
        );
    }
    s
}

fn duration_full(sec: u32, nsec: u32) -> String {
    format!("{sec}.{:03}s", nsec / 1_000_000)
}

fn stat(v: u64) -> String {
    if v == u64::MAX {
        "?".into()
    } else {
        v.to_string()
    }
}

/// One `dump-ports` entry (three lines).
pub fn format_port_stats(p: &PortStats) -> String {
    let name = match p.port_no {
        PortNo(n) if n <= PortNo::MAX.0 => format!("{n:>2}"),
        other => port_name(other),
    };
    let mut s = format!(
        "  port {name}: rx pkts={}, bytes={}, drop={}, errs={}, frame={}, over={}, crc={}\n",
        stat(p.rx_packets),
        stat(p.rx_bytes),
        stat(p.rx_dropped),
        stat(p.rx_errors),
        stat(p.rx_frame_err),
        stat(p.rx_over_err),
        stat(p.rx_crc_err)
    );
    let _ = writeln!(
        s,
        "           tx pkts={}, bytes={}, drop={}, errs={}, coll={}",
        stat(p.tx_packets),
        stat(p.tx_bytes),
        stat(p.tx_dropped),
        stat(p.tx_errors),
        stat(p.collisions)
    );
    if p.duration_sec != u32::MAX {
        let _ = writeln!(
            s,
            "           duration={}",
            duration(p.duration_sec, p.duration_nsec)
        );
    }
    s
}

/// `dump-tables`: tables with flows or lookups, or all of them with `all`; entries are
/// separated by an empty line and a run of tables with the same counters as the one
/// before is one `ditto` line, as ovs-ofctl prints them.
pub fn format_table_stats(tables: &[TableStats], all: bool) -> String {
    let shown: Vec<&TableStats> = tables
        .iter()
        .filter(|t| all || t.active_count != 0 || t.lookup_count != 0)
        .collect();
    let same = |a: &TableStats, b: &TableStats| {
        (a.active_count, a.lookup_count, a.matched_count)
            == (b.active_count, b.lookup_count, b.matched_count)
    };
    let mut entries = Vec::new();
    let mut i = 0;
    while i < shown.len() {
        let t = shown[i];
        entries.push(format!(
            "  table {}:\n    active={}, lookup={}, matched={}\n",
            t.table_id, t.active_count, t.lookup_count, t.matched_count
        ));
        let mut j = i + 1;
        while j < shown.len() && same(shown[j], t) {
            j += 1;
        }
        match j - i - 1 {
            0 => {}
            1 => entries.push(format!("  table {}: ditto\n", shown[i + 1].table_id)),
            _ => entries.push(format!(
                "  tables {}...{}: ditto\n",
                shown[i + 1].table_id,
                shown[j - 1].table_id
            )),
        }
        i = j;
    }
    entries.join("\n")
}

fn feature_words(f: u32) -> String {
    use port_features as p;
    let names = [
        (p::F_10MB_HD, "10MB-HD"),
        (p::F_10MB_FD, "10MB-FD"),
        (p::F_100MB_HD, "100MB-HD"),
        (p::F_100MB_FD, "100MB-FD"),
        (p::F_1GB_HD, "1GB-HD"),
        (p::F_1GB_FD, "1GB-FD"),
        (p::F_10GB_FD, "10GB-FD"),
        (p::F_40GB_FD, "40GB-FD"),
        (p::F_100GB_FD, "100GB-FD"),
        (p::F_1TB_FD, "1TB-FD"),
        (p::F_OTHER, "OTHER"),
        (p::COPPER, "COPPER"),
        (p::FIBER, "FIBER"),
        (p::AUTONEG, "AUTO_NEG"),
        (p::PAUSE, "AUTO_PAUSE"),
        (p::PAUSE_ASYM, "AUTO_PAUSE_ASYM"),
    ];
    names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One port of `dump-ports-desc` / `show`: ` 1(p1): addr:...` with config, state and
/// speeds.
pub fn format_port_desc(p: &Port) -> String {
    let name = p.name.to_string_lossy();
    let mut s = format!(
        " {}({name}): addr:{}\n",
        port_name(p.port_no),
        fmt_mac(&p.hw_addr)
    );
    let config = [
        (port_config::PORT_DOWN, "PORT_DOWN"),
        (port_config::NO_RECV, "NO_RECV"),
        (port_config::NO_FWD, "NO_FWD"),
        (port_config::NO_PACKET_IN, "NO_PACKET_IN"),
    ]
    .iter()
    .filter(|(b, _)| p.config & b != 0)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>();
    let state = [
        (port_state::LINK_DOWN, "LINK_DOWN"),
        (port_state::BLOCKED, "BLOCKED"),
        (port_state::LIVE, "LIVE"),
    ]
    .iter()
    .filter(|(b, _)| p.state & b != 0)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>();
    let words = |v: Vec<&str>| {
        if v.is_empty() {
            "0".to_string()
        } else {
            v.join(" ")
        }
    };
    let _ = writeln!(s, "     config:     {}", words(config));
    let _ = writeln!(s, "     state:      {}", words(state));
    for (label, f) in [
        ("current", p.curr),
        ("advertised", p.advertised),
        ("supported", p.supported),
        ("peer", p.peer),
    ] {
        if f != 0 {
            let _ = writeln!(s, "     {:<12}{}", format!("{label}:"), feature_words(f));
        }
    }
    let _ = writeln!(
        s,
        "     speed: {} Mbps now, {} Mbps max",
        p.curr_speed / 1000,
        p.max_speed / 1000
    );
    s
}
