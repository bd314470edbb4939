//! The property test of the OpenFlow issue: for random flow tables, random packets and
//! random changes between them, the cached fast path (EMC → megaflows → pipeline)
//! decides exactly what a naive linear scan of OpenFlow 1.3 semantics decides — and the
//! counters and timeouts it feeds back agree too.
//!
//! The reference below shares no code with the crate's classifier, pipeline or cache:
//! it keeps flows in a `Vec` in insertion order, evaluates OXM fields one by one on the
//! key's typed getters, and runs instructions and the action set from its own reading
//! of the specification. Field values are drawn from a small universe so that matches
//! overlap, priorities tie, masks differ and packets hit the same flows often.

use proptest::prelude::*;
use rvs_flow::cache::{Config, FastPath};
use rvs_flow::classifier::FlowTables;
use rvs_flow::pipeline::{trace, translate, DpAction};
use rvs_flow::FlowKey;
use rvs_openflow::action::Action;
use rvs_openflow::instruction::OFPTT_ALL;
use rvs_openflow::message::{flow_mod_flags, FlowRemovedReason, PacketInReason};
use rvs_openflow::multipart::FlowStatsRequest;
use rvs_openflow::oxm::{Masked, OFPVID_PRESENT};
use rvs_openflow::{FlowMod, FlowModCommand, Instruction, Match, OxmField, PortNo};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

const N_TABLES: usize = 4;

// ------------------------------------------------------------------------------------
// The reference switch.

/// A field as (OXM field number, value, mask) over the field's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct F {
    id: u8,
    v: u128,
    m: u128,
}

fn mac(a: [u8; 6]) -> u128 {
    a.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
}

fn norm(f: &OxmField) -> F {
    use OxmField as O;
    let (v, m, width): (u128, Option<u128>, u32) = match f {
        O::InPort(p) => (p.0.into(), None, 32),
        O::EthType(t) => ((*t).into(), None, 16),
        O::VlanVid(x) => (x.value.into(), x.mask.map(u128::from), 13),
        O::EthDst(x) => (mac(x.value), x.mask.map(mac), 48),
        O::Metadata(x) => (x.value.into(), x.mask.map(u128::from), 64),
        O::TunnelId(x) => (x.value.into(), x.mask.map(u128::from), 64),
        O::IpProto(p) => ((*p).into(), None, 8),
        O::Ipv4Dst(x) => (
            u32::from(x.value).into(),
            x.mask.map(|m| u32::from(m).into()),
            32,
        ),
        O::TcpDst(p) => ((*p).into(), None, 16),
        other => panic!("field outside the test universe: {other:?}"),
    };
    let m = m.unwrap_or((1u128 << width) - 1);
    F {
        id: f.id() as u8,
        v: v & m,
        m,
    }
}

fn packet_field(id: u8, k: &FlowKey) -> u128 {
    use rvs_openflow::OxmFieldId as I;
    match id {
        x if x == I::InPort as u8 => k.in_port().into(),
        x if x == I::EthType as u8 => k.eth_type().into(),
        x if x == I::VlanVid as u8 => k.vlan_vid().into(),
        x if x == I::EthDst as u8 => k.eth_dst().into(),
        x if x == I::Metadata as u8 => k.metadata().into(),
        x if x == I::TunnelId as u8 => k.tunnel_id().into(),
        x if x == I::IpProto as u8 => k.ip_proto().into(),
        x if x == I::Ipv4Dst as u8 => k.nw_dst().into(),
        x if x == I::TcpDst as u8 => k.tp_dst().into(),
        _ => panic!("field {id}"),
    }
}

#[derive(Debug, Clone)]
struct RefFlow {
    table: u8,
    priority: u16,
    fields: Vec<F>,
    match_: Match,
    cookie: u64,
    insts: Vec<Instruction>,
    flags: u16,
    idle: u16,
    hard: u16,
    created: u64,
    last_used: u64,
    packets: u64,
}

impl RefFlow {
    fn matches(&self, k: &FlowKey) -> bool {
        self.fields
            .iter()
            .all(|f| packet_field(f.id, k) & f.m == f.v)
    }
    fn same_match(&self, fields: &[F]) -> bool {
        let mut a = self.fields.clone();
        let mut b = fields.to_vec();
        a.sort();
        b.sort();
        a == b
    }
    /// At least as specific as `req` (non-strict modify/delete).
    fn covered_by(&self, req: &[F]) -> bool {
        req.iter().all(|r| {
            self.fields
                .iter()
                .any(|f| f.id == r.id && f.m & r.m == r.m && f.v & r.m == r.v)
        })
    }
    fn overlaps(&self, other: &[F]) -> bool {
        self.fields.iter().all(|f| {
            other
                .iter()
                .filter(|o| o.id == f.id)
                .all(|o| (f.v ^ o.v) & f.m & o.m == 0)
        })
    }
    fn cookie_ok(&self, cookie: u64, mask: u64) -> bool {
        self.cookie & mask == cookie & mask
    }
    fn outputs_to(&self, port: PortNo) -> bool {
        port == PortNo::ANY
            || self.insts.iter().any(|i| match i {
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a
                    .iter()
                    .any(|a| matches!(a, Action::Output { port: p, .. } if *p == port)),
                _ => false,
            })
    }
    fn is_miss(&self) -> bool {
        self.priority == 0 && self.fields.is_empty()
    }
}

#[derive(Default)]
struct RefSwitch {
    flows: Vec<RefFlow>,
}

#[derive(Clone, Copy)]
struct Origin {
    table: u8,
    cookie: u64,
    miss: bool,
}

fn ref_apply(k: &mut FlowKey, in_port: u32, a: &Action, o: Origin, out: &mut Vec<DpAction>) {
    match a {
        Action::Output { port, max_len } => {
            let p = *port;
            if p == PortNo::CONTROLLER {
                out.push(DpAction::Controller {
                    max_len: *max_len,
                    reason: if o.miss {
                        PacketInReason::NoMatch
                    } else {
                        PacketInReason::Action
                    },
                    table_id: o.table,
                    cookie: o.cookie,
                });
            } else if p == PortNo::IN_PORT {
                out.push(DpAction::InPort);
            } else if p == PortNo::FLOOD {
                out.push(DpAction::Flood);
            } else if p.0 != in_port {
                out.push(DpAction::Output(p.0));
            }
        }
        Action::SetField(f) => {
            match f {
                OxmField::Ipv4Dst(x) => k.set_nw_dst(u32::from(x.value)),
                OxmField::VlanVid(x) => {
                    k.set_vlan_tci((k.vlan_tci() & !0x0fff) | (x.value & 0x0fff))
                }
                OxmField::TunnelId(x) => k.set_tunnel_id(x.value),
                OxmField::EthDst(x) => k.set_eth_dst(mac(x.value) as u64),
                other => panic!("set-field outside the universe: {other:?}"),
            }
            out.push(DpAction::SetField(*f));
        }
        Action::PushVlan(e) => {
            if k.vlan_tci() & 0x1000 != 0 {
                k.set_eth_type(0x8100);
            } else {
                k.set_vlan_tci(0x1000);
            }
            out.push(DpAction::PushVlan(*e));
        }
        Action::PopVlan => {
            k.set_vlan_tci(0);
            out.push(DpAction::PopVlan);
        }
        Action::Group(g) => out.push(DpAction::Group(*g)),
        Action::DecNwTtl => {
            k.set_ip_ttl(k.ip_ttl().saturating_sub(1));
            out.push(DpAction::DecNwTtl);
        }
        Action::SetQueue(q) => out.push(DpAction::SetQueue(*q)),
        other => panic!("action outside the universe: {other:?}"),
    }
}

/// Position of an action in the action set's execution order (spec 5.10), with a
/// second number that separates set-fields by field.
fn set_slot(a: &Action) -> (u8, u8) {
    match a {
        Action::PopVlan => (2, 0),
        Action::PushVlan(_) => (5, 0),
        Action::DecNwTtl => (7, 0),
        Action::SetField(f) => (8, f.id() as u8),
        Action::SetQueue(_) => (9, 0),
        Action::Group(_) => (10, 0),
        Action::Output { .. } => (11, 0),
        other => panic!("{other:?}"),
    }
}

impl RefSwitch {
    fn decide(&mut self, key: &FlowKey, now: u64) -> Vec<DpAction> {
        let mut k = *key;
        let in_port = k.in_port();
        let mut out = Vec::new();
        let mut set: BTreeMap<(u8, u8), (Action, Origin)> = BTreeMap::new();
        let mut table = 0u8;
        loop {
            // Linear scan: highest priority, then the earliest added.
            let mut best: Option<usize> = None;
            for (i, f) in self.flows.iter().enumerate() {
                if f.table == table
                    && f.matches(&k)
                    && best.is_none_or(|b| f.priority > self.flows[b].priority)
                {
                    best = Some(i);
                }
            }
            let Some(i) = best else { return out };
            let f = &mut self.flows[i];
            f.packets += 1;
            f.last_used = now;
            let o = Origin {
                table,
                cookie: f.cookie,
                miss: f.is_miss(),
            };
            let insts = f.insts.clone();
            for i in &insts {
                if let Instruction::Meter(m) = i {
                    out.push(DpAction::Meter(*m));
                }
            }
            for i in &insts {
                if let Instruction::ApplyActions(acts) = i {
                    for a in acts {
                        ref_apply(&mut k, in_port, a, o, &mut out);
                    }
                }
            }
            if insts.iter().any(|i| matches!(i, Instruction::ClearActions)) {
                set.clear();
            }
            for i in &insts {
                if let Instruction::WriteActions(acts) = i {
                    for a in acts {
                        set.insert(set_slot(a), (a.clone(), o));
                    }
                }
            }
            for i in &insts {
                if let Instruction::WriteMetadata { metadata, mask } = i {
                    k.set_metadata((k.metadata() & !mask) | (metadata & mask));
                }
            }
            let goto = insts.iter().find_map(|i| match i {
                Instruction::GotoTable(t) => Some(*t),
                _ => None,
            });
            match goto {
                Some(t) => table = t,
                None => {
                    let has_group = set.keys().any(|s| s.0 == 10);
                    for (slot, (a, o)) in &set {
                        if slot.0 == 11 && has_group {
                            continue;
                        }
                        ref_apply(&mut k, in_port, a, *o, &mut out);
                    }
                    return out;
                }
            }
        }
    }

    /// Returns `Err(())` where the switch must refuse, else the number of entries
    /// touched.
    fn flow_mod(&mut self, fm: &FlowMod, now: u64) -> Result<usize, ()> {
        let fields: Vec<F> = fm.match_.fields.iter().map(norm).collect();
        let cookie_ok = |f: &RefFlow| f.cookie_ok(fm.cookie, fm.cookie_mask);
        match fm.command {
            FlowModCommand::Add => {
                if fm.flags & flow_mod_flags::CHECK_OVERLAP != 0
                    && self.flows.iter().any(|f| {
                        f.table == fm.table_id && f.priority == fm.priority && f.overlaps(&fields)
                    })
                {
                    return Err(());
                }
                let new = RefFlow {
                    table: fm.table_id,
                    priority: fm.priority,
                    fields: fields.clone(),
                    match_: fm.match_.clone(),
                    cookie: fm.cookie,
                    insts: fm.instructions.clone(),
                    flags: fm.flags,
                    idle: fm.idle_timeout,
                    hard: fm.hard_timeout,
                    created: now,
                    last_used: now,
                    packets: 0,
                };
                let same = self.flows.iter_mut().find(|f| {
                    f.table == fm.table_id && f.priority == fm.priority && f.same_match(&fields)
                });
                match same {
                    Some(old) => {
                        let packets = if fm.flags & flow_mod_flags::RESET_COUNTS != 0 {
                            0
                        } else {
                            old.packets
                        };
                        *old = RefFlow { packets, ..new };
                    }
                    None => self.flows.push(new),
                }
                Ok(1)
            }
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                let strict = fm.command == FlowModCommand::ModifyStrict;
                let mut n = 0;
                for f in self.flows.iter_mut() {
                    let hit = f.table == fm.table_id
                        && cookie_ok(f)
                        && if strict {
                            f.priority == fm.priority && f.same_match(&fields)
                        } else {
                            f.covered_by(&fields)
                        };
                    if hit {
                        f.insts = fm.instructions.clone();
                        if fm.flags & flow_mod_flags::RESET_COUNTS != 0 {
                            f.packets = 0;
                        }
                        n += 1;
                    }
                }
                Ok(n)
            }
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                let strict = fm.command == FlowModCommand::DeleteStrict;
                let before = self.flows.len();
                self.flows.retain(|f| {
                    let hit = (fm.table_id == OFPTT_ALL || f.table == fm.table_id)
                        && cookie_ok(f)
                        && f.outputs_to(fm.out_port)
                        && if strict {
                            f.priority == fm.priority && f.same_match(&fields)
                        } else {
                            f.covered_by(&fields)
                        };
                    !hit
                });
                Ok(before - self.flows.len())
            }
        }
    }

    /// (table, priority, reason, packets) of the flows that time out at `now`.
    fn expire(&mut self, now: u64) -> Vec<(u8, u16, FlowRemovedReason, u64, bool)> {
        let mut out = Vec::new();
        self.flows.retain(|f| {
            let reason = if f.hard != 0 && now >= f.created + u64::from(f.hard) * 1000 {
                FlowRemovedReason::HardTimeout
            } else if f.idle != 0 && now >= f.last_used + u64::from(f.idle) * 1000 {
                FlowRemovedReason::IdleTimeout
            } else {
                return true;
            };
            out.push((
                f.table,
                f.priority,
                reason,
                f.packets,
                f.flags & flow_mod_flags::SEND_FLOW_REM != 0,
            ));
            false
        });
        out.sort_by_key(|x| (x.0, x.1, x.2.to_u8(), x.3, x.4));
        out
    }
}

// ------------------------------------------------------------------------------------
// Generators over a small universe.

/// Matches over the whole universe, or (`narrow`) over `in_port` and `eth_dst` only,
/// where few masks exist and so equal priorities meet across subtables often.
fn arb_match(narrow: bool) -> impl Strategy<Value = Match> {
    let l3 = prop_oneof![
        Just(None),
        (
            prop::option::of(prop_oneof![Just(6u8), Just(17u8)]),
            prop::option::of((0u8..4, prop_oneof![Just(30u32), Just(31), Just(32)])),
            prop::option::of(prop_oneof![Just(80u16), Just(443)]),
        )
            .prop_map(Some),
    ];
    (
        prop::option::of(1u32..=3),
        prop::option::of(0u8..4),
        prop::option::of((1u8..=3, any::<bool>())),
        prop::option::of((0u64..4, 1u64..=3)),
        prop::option::of((0u64..4, 1u64..=3)),
        prop::option::of(prop_oneof![Just(0x0800u16), Just(0x86dd)]),
        l3,
        any::<bool>(),
    )
        .prop_map(move |(port, vlan, dst, md, tun, et, l3, rev)| {
            let (vlan, md, tun, et, l3) = if narrow {
                (None, None, None, None, None)
            } else {
                (vlan, md, tun, et, l3)
            };
            let mut f = Vec::new();
            if let Some(p) = port {
                f.push(OxmField::InPort(PortNo(p)));
            }
            match vlan {
                Some(0) => f.push(OxmField::VlanVid(Masked::exact(0))),
                Some(3) => f.push(OxmField::VlanVid(Masked::new(
                    OFPVID_PRESENT,
                    OFPVID_PRESENT,
                ))),
                Some(v) => f.push(OxmField::VlanVid(Masked::exact(
                    OFPVID_PRESENT | u16::from(v),
                ))),
                None => {}
            }
            if let Some((b, masked)) = dst {
                f.push(OxmField::EthDst(if masked {
                    Masked::new([0, 0, 0, 0, 0, b & 1], [0, 0, 0, 0, 0, 1])
                } else {
                    Masked::exact([0, 0, 0, 0, 0, b])
                }));
            }
            if let Some((v, m)) = md {
                f.push(OxmField::Metadata(Masked::new(v & m, m)));
            }
            if let Some((v, m)) = tun {
                f.push(OxmField::TunnelId(Masked::new(v & m, m)));
            }
            // IP fields only with their prerequisites.
            let et = if l3.is_some() { Some(0x0800) } else { et };
            if let Some(t) = et {
                f.push(OxmField::EthType(t));
            }
            if let Some((proto, dst, tp)) = l3 {
                let proto = if tp.is_some() { Some(6) } else { proto };
                if let Some(p) = proto {
                    f.push(OxmField::IpProto(p));
                }
                if let Some((a, plen)) = dst {
                    let addr = u32::from(Ipv4Addr::new(10, 0, 0, a));
                    f.push(OxmField::Ipv4Dst(if plen == 32 {
                        Masked::exact(Ipv4Addr::from(addr))
                    } else {
                        let m = u32::MAX << (32 - plen);
                        Masked::new(Ipv4Addr::from(addr & m), Ipv4Addr::from(m))
                    }));
                }
                if let Some(p) = tp {
                    f.push(OxmField::TcpDst(p));
                }
            }
            if rev {
                f.reverse();
            }
            Match { fields: f }
        })
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (1u32..=4).prop_map(|p| Action::output(PortNo(p))),
        1 => Just(Action::output(PortNo::CONTROLLER)),
        1 => Just(Action::output(PortNo::IN_PORT)),
        1 => Just(Action::output(PortNo::FLOOD)),
        1 => (0u8..4).prop_map(|a| Action::SetField(OxmField::Ipv4Dst(Masked::exact(
            Ipv4Addr::new(10, 0, 0, a)
        )))),
        1 => (1u16..=2).prop_map(|v| Action::SetField(OxmField::VlanVid(Masked::exact(
            OFPVID_PRESENT | v
        )))),
        1 => (0u64..4).prop_map(|v| Action::SetField(OxmField::TunnelId(Masked::exact(v)))),
        1 => (1u8..=3).prop_map(|b| Action::SetField(OxmField::EthDst(Masked::exact([0, 0, 0, 0, 0, b])))),
        1 => Just(Action::PushVlan(0x8100)),
        1 => Just(Action::PopVlan),
        1 => (1u32..=2).prop_map(Action::Group),
        1 => Just(Action::DecNwTtl),
        1 => Just(Action::SetQueue(1)),
    ]
}

fn arb_instructions(table: u8) -> impl Strategy<Value = Vec<Instruction>> {
    (
        prop::option::of(1u32..=2),
        prop::option::of(prop::collection::vec(arb_action(), 0..3)),
        any::<bool>(),
        prop::option::of(prop::collection::vec(arb_action(), 0..3)),
        prop::option::of((0u64..4, 1u64..=3)),
        prop::option::of(table + 1..=N_TABLES as u8 - 1),
        any::<bool>(),
    )
        .prop_map(move |(meter, apply, clear, write, md, goto, rev)| {
            let mut v = Vec::new();
            if let Some(m) = meter {
                v.push(Instruction::Meter(m));
            }
            if let Some(a) = apply {
                v.push(Instruction::ApplyActions(a));
            }
            if clear {
                v.push(Instruction::ClearActions);
            }
            if let Some(a) = write {
                v.push(Instruction::WriteActions(a));
            }
            if let Some((m, mask)) = md {
                v.push(Instruction::WriteMetadata {
                    metadata: m & mask,
                    mask,
                });
            }
            if let Some(t) = goto.filter(|&t| usize::from(t) < N_TABLES && t > table) {
                v.push(Instruction::GotoTable(t));
            }
            if rev {
                v.reverse();
            }
            v
        })
}

fn arb_flow_mod(narrow: bool) -> impl Strategy<Value = FlowMod> {
    (0u8..3, 0u8..10)
        .prop_flat_map(move |(table, kind)| {
            (
                Just(table),
                Just(kind),
                arb_match(narrow),
                arb_instructions(table),
                0u16..4,
                0u64..3,
                prop_oneof![Just(0u64), Just(u64::MAX), Just(1)],
                (0u16..4, 0u16..3, 0u16..3, any::<bool>()),
            )
        })
        .prop_map(
            |(table, kind, m, insts, prio, cookie, cookie_mask, (flag_bits, idle, hard, all))| {
                let command = match kind {
                    0..=4 => FlowModCommand::Add,
                    5 => FlowModCommand::Modify,
                    6 => FlowModCommand::ModifyStrict,
                    7 | 8 => FlowModCommand::Delete,
                    _ => FlowModCommand::DeleteStrict,
                };
                // A table-miss entry now and then.
                let (m, prio) = if kind == 0 && prio == 0 {
                    (Match::new(), 0)
                } else {
                    (m, prio)
                };
                let mut f = FlowMod::add(prio, m, insts);
                f.table_id = if command.is_delete() && all {
                    OFPTT_ALL
                } else {
                    table
                };
                f.command = command;
                f.cookie = cookie;
                f.cookie_mask = if command == FlowModCommand::Add {
                    0
                } else {
                    cookie_mask
                };
                f.flags = [
                    0,
                    flow_mod_flags::CHECK_OVERLAP,
                    flow_mod_flags::RESET_COUNTS,
                    flow_mod_flags::SEND_FLOW_REM,
                ][usize::from(flag_bits)];
                f.idle_timeout = idle;
                f.hard_timeout = hard;
                if kind == 8 {
                    f.out_port = PortNo(1);
                }
                f
            },
        )
}

fn arb_packet() -> impl Strategy<Value = FlowKey> {
    (
        1u32..=3,
        0u16..3,
        1u64..=3,
        prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x0806)],
        prop_oneof![Just(6u8), Just(17)],
        0u8..5,
        prop_oneof![Just(80u16), Just(443), Just(53)],
        0u64..4,
    )
        .prop_map(|(port, vlan, dst, et, proto, a, tp, tun)| {
            let mut k = FlowKey::default();
            k.set_in_port(port);
            if vlan > 0 {
                k.set_vlan_tci(0x1000 | vlan);
            }
            k.set_eth_dst(dst);
            k.set_eth_src(0x0200_0000_0001);
            k.set_eth_type(et);
            if et != 0x0806 {
                k.set_ip_proto(proto);
                k.set_nw_dst(u32::from(Ipv4Addr::new(10, 0, 0, a)));
                k.set_tp_dst(tp);
                k.set_ip_ttl(64);
            }
            k.set_tunnel_id(tun);
            k
        })
}

#[derive(Debug, Clone)]
enum Op {
    Change(FlowMod),
    Packets(Vec<FlowKey>),
    /// Advance the clock and expire flows.
    Tick(u64),
}

fn arb_op(narrow: bool) -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => arb_flow_mod(narrow).prop_map(Op::Change),
        4 => prop::collection::vec(arb_packet(), 1..16).prop_map(Op::Packets),
        1 => (1u64..1500).prop_map(Op::Tick),
    ]
}

fn arb_config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![Just(0usize), Just(4), Just(64)],
        prop_oneof![Just(1u32), Just(3)],
        prop_oneof![Just(3u32), Just(1 << 16)],
        prop_oneof![Just(3usize), Just(1000)],
    )
        .prop_map(|(emc, inv, rerank, max)| Config {
            emc_entries: emc,
            emc_insert_inv_prob: inv,
            rerank_every: rerank,
            max_megaflows: max,
            idle_ms: 10_000,
        })
}

// ------------------------------------------------------------------------------------

/// Packet counts of every flow, by (table, priority, match).
fn counts_of(tables: &FlowTables) -> Vec<(u8, u16, String, u64)> {
    let mut v: Vec<_> = tables
        .flow_stats(&FlowStatsRequest::all(), 0)
        .expect("stats")
        .into_iter()
        .map(|s| {
            (
                s.table_id,
                s.priority,
                format!("{:?}", s.match_),
                s.packet_count,
            )
        })
        .collect();
    v.sort();
    v
}

fn ref_counts(r: &RefSwitch) -> Vec<(u8, u16, String, u64)> {
    let mut v: Vec<_> = r
        .flows
        .iter()
        .map(|f| (f.table, f.priority, format!("{:?}", f.match_), f.packets))
        .collect();
    v.sort();
    v
}

fn run(cfg: Config, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut tables = FlowTables::with_tables(N_TABLES);
    let mut fp = FastPath::new(cfg);
    let mut reference = RefSwitch::default();
    let mut now = 0u64;
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Change(fm) => {
                fp.flush_stats(&mut tables);
                let got = tables.apply(fm, now).map(|a| a.count).map_err(|_| ());
                let want = reference.flow_mod(fm, now);
                prop_assert_eq!(got, want, "step {}: {:?}", step, fm);
            }
            Op::Packets(pkts) => {
                fp.set_now(now);
                let lens: Vec<u32> = (0..pkts.len() as u32).map(|i| 100 + i).collect();
                let got: Vec<Vec<DpAction>> = if pkts.len() % 2 == 0 {
                    // Batches (with their prefetching and deferred resolution) and
                    // single packets must decide alike.
                    let mut v = Vec::new();
                    fp.process_batch(&tables, pkts, &lens, |_, l| v.push(l.actions.to_vec()));
                    v
                } else {
                    pkts.iter()
                        .zip(&lens)
                        .map(|(k, &n)| fp.process(&tables, k, n).actions.to_vec())
                        .collect()
                };
                prop_assert_eq!(got.len(), pkts.len());
                for (k, got) in pkts.iter().zip(got) {
                    let want = reference.decide(k, now);
                    prop_assert_eq!(&got, &want, "step {} packet {:?}", step, k);
                    // ofproto/trace walks the same pipeline: same result, and its
                    // steps add up to it.
                    let tr = trace(&tables, k);
                    prop_assert_eq!(&tr.result, &translate(&tables, k));
                    prop_assert_eq!(&tr.result.actions, &want);
                    prop_assert_eq!(tr.steps.len(), tr.result.tables.iter().count());
                    let applied: usize = tr.steps.iter().map(|s| s.applied.len()).sum();
                    let set_len = match tr.steps.last() {
                        Some(last) if last.rule.is_some() => last.action_set.len(),
                        _ => 0,
                    };
                    prop_assert_eq!(applied + set_len, want.len());
                }
            }
            Op::Tick(ms) => {
                now += ms;
                fp.flush_stats(&mut tables);
                let mut got: Vec<_> = tables
                    .expire(now)
                    .into_iter()
                    .map(|r| {
                        (
                            r.msg.table_id,
                            r.msg.priority,
                            r.msg.reason,
                            r.msg.packet_count,
                            r.notify,
                        )
                    })
                    .collect();
                got.sort_by_key(|x| (x.0, x.1, x.2.to_u8(), x.3, x.4));
                prop_assert_eq!(got, reference.expire(now), "step {} expiry", step);
            }
        }
    }
    fp.flush_stats(&mut tables);
    prop_assert_eq!(counts_of(&tables), ref_counts(&reference));
    Ok(())
}

/// `cases` unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn fast_path_decides_like_a_linear_scan(
        cfg in arb_config(),
        ops in prop::collection::vec(arb_op(false), 1..40),
    ) {
        run(cfg, &ops)?;
    }

    #[test]
    fn fast_path_decides_like_a_linear_scan_with_ties(
        cfg in arb_config(),
        ops in prop::collection::vec(arb_op(true), 1..40),
    ) {
        run(cfg, &ops)?;
    }
}
