use super::*;
use crate::classifier::FlowTables;
use rvs_openflow::oxm::{Masked, OFPVID_PRESENT};
use rvs_openflow::{FlowMod, Match};

fn add(t: &mut FlowTables, table: u8, prio: u16, m: Match, insts: Vec<Instruction>) {
    let mut f = FlowMod::add(prio, m, insts);
    f.table_id = table;
    t.apply(&f, 0).expect("add");
}

fn key(in_port: u32, vlan: u16) -> FlowKey {
    let mut k = FlowKey::default();
    k.set_in_port(in_port);
    k.set_eth_type(0x0800);
    k.set_vlan_tci(vlan);
    k
}

fn out(p: u32) -> Action {
    Action::output(PortNo(p))
}

#[test]
fn empty_tables_drop() {
    let t = FlowTables::new();
    let x = translate(&t, &key(1, 0));
    assert!(x.actions.is_empty());
    assert_eq!(x.tables.iter().collect::<Vec<_>>(), vec![0]);
    assert!(x.rules.is_empty());
}

#[test]
fn instruction_order_and_action_set() {
    let mut t = FlowTables::new();
    // Instructions listed out of order on purpose: the spec order applies.
    add(
        &mut t,
        0,
        10,
        Match::new(),
        vec![
            Instruction::GotoTable(1),
            Instruction::WriteActions(vec![out(5), Action::SetField(OxmField::IpDscp(3))]),
            Instruction::WriteMetadata {
                metadata: 0xa0,
                mask: 0xf0,
            },
            Instruction::ApplyActions(vec![Action::PushVlan(0x8100), out(2)]),
            Instruction::Meter(7),
        ],
    );
    // Table 1 matches the metadata written and the tag pushed in table 0.
    add(
        &mut t,
        1,
        10,
        Match::new()
            .with(OxmField::Metadata(Masked::new(0xa0, 0xf0)))
            .with(OxmField::VlanVid(Masked::new(
                OFPVID_PRESENT,
                OFPVID_PRESENT,
            ))),
        vec![Instruction::WriteActions(vec![
            Action::Group(9),
            Action::SetField(OxmField::VlanPcp(4)),
            Action::DecNwTtl,
            Action::PopVlan,
        ])],
    );
    let x = translate(&t, &key(1, 0));
    assert_eq!(
        x.actions,
        vec![
            DpAction::Meter(7),
            DpAction::PushVlan(0x8100),
            DpAction::Output(2),
            // Action set: pop, dec TTL, set-fields by field id, group (output ignored).
            DpAction::PopVlan,
            DpAction::DecNwTtl,
            DpAction::SetField(OxmField::VlanPcp(4)),
            DpAction::SetField(OxmField::IpDscp(3)),
            DpAction::Group(9),
        ]
    );
    assert_eq!(x.rules.len(), 2);
    assert_eq!(x.tables.iter().collect::<Vec<_>>(), vec![0, 1]);
    // in_port is consulted (output to a standard port); the VLAN bits of table 1 too.
    assert_eq!(x.mask.get(loc::IN_PORT), u64::from(u32::MAX));
    assert_eq!(x.mask.get(loc::VLAN_VID), u64::from(OFPVID_PRESENT));
}

#[test]
fn clear_actions_and_miss_in_later_table() {
    let mut t = FlowTables::new();
    add(
        &mut t,
        0,
        1,
        Match::new(),
        vec![
            Instruction::WriteActions(vec![out(3)]),
            Instruction::GotoTable(2),
        ],
    );
    // Table 2 has nothing: drop, including the written output.
    assert!(translate(&t, &key(1, 0)).actions.is_empty());
    add(
        &mut t,
        2,
        1,
        Match::new().with(OxmField::InPort(PortNo(1))),
        vec![Instruction::ClearActions],
    );
    add(&mut t, 2, 0, Match::new(), vec![]);
    assert!(translate(&t, &key(1, 0)).actions.is_empty(), "cleared");
    assert_eq!(translate(&t, &key(2, 0)).actions, vec![DpAction::Output(3)]);
    // Output to the ingress port is dropped; IN_PORT is not.
    assert!(translate(&t, &key(3, 0)).actions.is_empty());
}

#[test]
fn controller_reasons_and_symbolic_ports() {
    let mut t = FlowTables::new();
    let mut miss = FlowMod::add(
        0,
        Match::new(),
        vec![Instruction::ApplyActions(vec![out(PortNo::CONTROLLER.0)])],
    );
    miss.cookie = 42;
    t.apply(&miss, 0).expect("miss");
    add(
        &mut t,
        0,
        5,
        Match::new().with(OxmField::InPort(PortNo(2))),
        vec![Instruction::ApplyActions(vec![
            out(PortNo::FLOOD.0),
            out(PortNo::ALL.0),
            out(PortNo::NORMAL.0),
            out(PortNo::LOCAL.0),
            out(PortNo::IN_PORT.0),
            Action::output(PortNo::CONTROLLER),
        ])],
    );
    let x = translate(&t, &key(1, 0));
    assert_eq!(
        x.actions,
        vec![DpAction::Controller {
            max_len: 0xffff,
            reason: PacketInReason::NoMatch,
            table_id: 0,
            cookie: 42
        }]
    );
    let x = translate(&t, &key(2, 0));
    assert_eq!(
        x.actions,
        vec![
            DpAction::Flood,
            DpAction::All,
            DpAction::Normal,
            DpAction::Local,
            DpAction::InPort,
            DpAction::Controller {
                max_len: 0xffff,
                reason: PacketInReason::Action,
                table_id: 0,
                cookie: 0
            }
        ]
    );
}

#[test]
fn set_field_then_match_and_mpls() {
    let mut t = FlowTables::new();
    add(
        &mut t,
        0,
        1,
        Match::new(),
        vec![
            Instruction::ApplyActions(vec![
                Action::SetField(OxmField::TunnelId(Masked::exact(77))),
                Action::PushMpls(0x8847),
            ]),
            Instruction::GotoTable(1),
        ],
    );
    add(
        &mut t,
        1,
        1,
        Match::new()
            .with(OxmField::TunnelId(Masked::exact(77)))
            .with(OxmField::EthType(0x8847))
            .with(OxmField::MplsBos(1)),
        vec![Instruction::ApplyActions(vec![
            Action::PopMpls(0x0800),
            out(4),
        ])],
    );
    let x = translate(&t, &key(1, 0));
    assert_eq!(
        x.actions,
        vec![
            DpAction::SetField(OxmField::TunnelId(Masked::exact(77))),
            DpAction::PushMpls(0x8847),
            DpAction::PopMpls(0x0800),
            DpAction::Output(4)
        ]
    );
}

#[test]
fn trace_records_each_table() {
    let mut t = FlowTables::new();
    add(
        &mut t,
        0,
        10,
        Match::new(),
        vec![
            Instruction::Meter(3),
            Instruction::ApplyActions(vec![Action::PushVlan(0x8100), out(2)]),
            Instruction::WriteActions(vec![out(5)]),
            Instruction::WriteMetadata {
                metadata: 7,
                mask: 0xff,
            },
            Instruction::GotoTable(4),
        ],
    );
    add(
        &mut t,
        4,
        20,
        Match::new().with(OxmField::Metadata(Masked::exact(7))),
        vec![Instruction::WriteActions(vec![Action::DecNwTtl])],
    );
    let k = key(1, 0);
    let tr = trace(&t, &k);
    assert_eq!(tr.result, translate(&t, &k));
    assert_eq!(tr.steps.len(), 2);
    let s0 = &tr.steps[0];
    assert_eq!((s0.table, s0.goto), (0, Some(4)));
    assert_eq!(s0.key, k);
    assert_eq!(
        s0.applied,
        vec![
            DpAction::Meter(3),
            DpAction::PushVlan(0x8100),
            DpAction::Output(2)
        ]
    );
    assert_eq!(s0.action_set, vec![DpAction::Output(5)]);
    let r0 = s0.rule.as_ref().expect("rule");
    assert_eq!((r0.priority, r0.table_miss), (10, false));
    let s1 = &tr.steps[1];
    assert_eq!(s1.table, 4);
    assert_eq!(s1.key.metadata(), 7);
    assert_ne!(s1.key.vlan_tci(), 0, "table 4 saw the pushed tag");
    assert!(s1.applied.is_empty());
    assert_eq!(s1.action_set, vec![DpAction::DecNwTtl, DpAction::Output(5)]);
    assert_eq!(s1.goto, None);
    assert_eq!(tr.final_key.ip_ttl(), 0);
    assert_eq!(tr.final_key.metadata(), 7);

    // A miss without a table-miss entry ends the trace with no rule.
    let mut t2 = FlowTables::new();
    add(&mut t2, 0, 1, Match::new(), vec![Instruction::GotoTable(1)]);
    let tr = trace(&t2, &k);
    assert_eq!(tr.steps.len(), 2);
    assert!(tr.steps[1].rule.is_none());
    assert!(tr.result.actions.is_empty());
    assert_eq!(tr.result, translate(&t2, &k));
}

#[test]
fn actions_to_dp_maps_in_order() {
    let acts = vec![
        Action::SetField(OxmField::IpDscp(3)),
        out(4),
        Action::output(PortNo::IN_PORT),
        Action::output(PortNo::CONTROLLER),
        Action::output(PortNo::TABLE),
        Action::Group(2),
        Action::PopVlan,
        Action::PopPbb,
    ];
    assert_eq!(
        actions_to_dp(&acts),
        vec![
            DpAction::SetField(OxmField::IpDscp(3)),
            DpAction::Output(4),
            DpAction::InPort,
            DpAction::Controller {
                max_len: rvs_openflow::action::OFPCML_NO_BUFFER,
                reason: PacketInReason::Action,
                table_id: 0,
                cookie: u64::MAX,
            },
            DpAction::Output(PortNo::TABLE.0),
            DpAction::Group(2),
            DpAction::PopVlan,
        ]
    );
}
