use super::*;
use rvs_openflow::error::ErrorCode;
use rvs_openflow::oxm::Masked;
use rvs_openflow::OxmField;
use std::net::Ipv4Addr;

fn out(p: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![Action::output(PortNo(p))])]
}

fn fm(table: u8, cmd: FlowModCommand, prio: u16, m: Match, insts: Vec<Instruction>) -> FlowMod {
    let mut f = FlowMod::add(prio, m, insts);
    f.table_id = table;
    f.command = cmd;
    f
}

fn ip_dst(a: [u8; 4], plen: u32) -> Match {
    let mask = if plen == 0 {
        0
    } else {
        u32::MAX << (32 - plen)
    };
    Match::new()
        .with(OxmField::EthType(0x0800))
        .with(OxmField::Ipv4Dst(Masked::new(
            Ipv4Addr::from(a),
            Ipv4Addr::from(mask),
        )))
}

fn pkt(dst: [u8; 4], in_port: u32) -> FlowKey {
    let mut k = FlowKey::default();
    k.set_in_port(in_port);
    k.set_eth_type(0x0800);
    k.set_nw_dst(u32::from_be_bytes(dst));
    k.set_ip_proto(6);
    k
}

fn first_output(r: &Rule) -> Option<u32> {
    r.actions().find_map(|a| match a {
        Action::Output { port, .. } => Some(port.0),
        _ => None,
    })
}

fn lookup(t: &FlowTables, k: &FlowKey) -> (Option<u32>, FlowMask) {
    let mut wc = FlowMask::default();
    let r = t.lookup(0, k, &mut wc).and_then(|(r, _)| first_output(r));
    (r, wc)
}

#[test]
fn priorities_and_longest_prefix() {
    let mut t = FlowTables::new();
    for (prio, plen, port) in [(8, 8, 1), (16, 16, 2), (24, 24, 3), (0, 0, 9)] {
        t.apply(
            &fm(
                0,
                FlowModCommand::Add,
                prio,
                ip_dst([10, 1, 2, 0], plen),
                out(port),
            ),
            0,
        )
        .expect("add");
    }
    assert_eq!(t.len(), 4);
    assert_eq!(t.table(0).map(FlowTable::subtable_count), Some(4));
    assert_eq!(lookup(&t, &pkt([10, 1, 2, 3], 1)).0, Some(3));
    assert_eq!(lookup(&t, &pkt([10, 1, 9, 3], 1)).0, Some(2));
    assert_eq!(lookup(&t, &pkt([10, 9, 9, 3], 1)).0, Some(1));
    assert_eq!(lookup(&t, &pkt([11, 9, 9, 3], 1)).0, Some(9));
    // The /24 hit prunes every other subtable: only its bits (and eth_type) matter.
    let (_, wc) = lookup(&t, &pkt([10, 1, 2, 3], 1));
    assert_eq!(wc.get(crate::key::loc::NW_DST), 0xffff_ff00);
    assert_eq!(wc.get(crate::key::loc::IN_PORT), 0);
    // 11.9.9.3 misses every prefix: the trie walk stops at the first byte's last bit
    // (10 vs 11), so only 8 bits of the destination matter, not the /24's.
    let (r, wc) = lookup(&t, &pkt([11, 9, 9, 3], 1));
    assert_eq!(r, Some(9));
    assert_eq!(wc.get(crate::key::loc::NW_DST), 0xff00_0000);
    // 10.1.9.3: the /24 subtable is skipped (the walk toward 10.1.2 parts in the
    // nibble of bits 20..24, so 24 bits were looked at), the /16 hits and prunes the /8.
    let (r, wc) = lookup(&t, &pkt([10, 1, 9, 3], 1));
    assert_eq!(r, Some(2));
    assert_eq!(wc.get(crate::key::loc::NW_DST), 0xffff_ff00);
}

#[test]
fn equal_priorities_first_added_wins_and_replacement_keeps_place() {
    let mut t = FlowTables::new();
    let a = Match::new().with(OxmField::InPort(PortNo(1)));
    let b = Match::new().with(OxmField::EthType(0x0800));
    t.apply(&fm(0, FlowModCommand::Add, 5, a.clone(), out(1)), 0)
        .expect("a");
    t.apply(&fm(0, FlowModCommand::Add, 5, b.clone(), out(2)), 0)
        .expect("b");
    assert_eq!(lookup(&t, &pkt([1, 1, 1, 1], 1)).0, Some(1));
    // Re-adding `a` replaces it in place: still first.
    t.apply(&fm(0, FlowModCommand::Add, 5, a, out(3)), 0)
        .expect("a again");
    assert_eq!(t.len(), 2);
    assert_eq!(lookup(&t, &pkt([1, 1, 1, 1], 1)).0, Some(3));
    assert_eq!(lookup(&t, &pkt([1, 1, 1, 1], 2)).0, Some(2));
}

#[test]
fn overlap_check() {
    let mut t = FlowTables::new();
    t.apply(
        &fm(0, FlowModCommand::Add, 5, ip_dst([10, 0, 0, 0], 8), out(1)),
        0,
    )
    .expect("add");
    let mut f = fm(0, FlowModCommand::Add, 5, ip_dst([10, 1, 0, 0], 16), out(2));
    f.flags = flow_mod_flags::CHECK_OVERLAP;
    let err = t.apply(&f, 0).expect_err("overlaps");
    assert_eq!(
        err.code,
        ErrorCode::FlowModFailed(FlowModFailedCode::Overlap)
    );
    // Different priority, or disjoint: fine.
    f.priority = 6;
    t.apply(&f, 0).expect("other priority");
    let mut g = fm(0, FlowModCommand::Add, 5, ip_dst([11, 1, 0, 0], 16), out(2));
    g.flags = flow_mod_flags::CHECK_OVERLAP;
    t.apply(&g, 0).expect("disjoint");
    assert_eq!(t.len(), 3);
}

#[test]
fn modify_and_delete_strict_and_loose_with_cookies() {
    let mut t = FlowTables::new();
    for (i, plen) in [8u32, 16, 24].iter().enumerate() {
        let mut f = fm(
            0,
            FlowModCommand::Add,
            10 + i as u16,
            ip_dst([10, 1, 2, 0], *plen),
            out(1),
        );
        f.cookie = 0x100 + i as u64;
        t.apply(&f, 0).expect("add");
    }
    // Loose modify of 10.1/16: hits /16 and /24, not /8.
    let m = t
        .apply(
            &fm(
                0,
                FlowModCommand::Modify,
                0,
                ip_dst([10, 1, 0, 0], 16),
                out(7),
            ),
            0,
        )
        .expect("modify");
    assert_eq!(m.count, 2);
    assert_eq!(lookup(&t, &pkt([10, 1, 2, 3], 1)).0, Some(7));
    assert_eq!(lookup(&t, &pkt([10, 2, 2, 3], 1)).0, Some(1));
    // Modify matching nothing adds nothing.
    let none = t
        .apply(
            &fm(
                0,
                FlowModCommand::ModifyStrict,
                99,
                ip_dst([10, 1, 0, 0], 16),
                out(8),
            ),
            0,
        )
        .expect("modify strict");
    assert_eq!((none.count, t.len()), (0, 3));
    // Cookie-filtered loose delete: only the /24 (cookie 0x102).
    let mut d = fm(0, FlowModCommand::Delete, 0, Match::new(), vec![]);
    d.cookie = 0x102;
    d.cookie_mask = u64::MAX;
    assert_eq!(t.apply(&d, 0).expect("delete").count, 1);
    assert_eq!(t.len(), 2);
    // Strict delete needs the priority.
    let mut s = fm(
        0,
        FlowModCommand::DeleteStrict,
        10,
        ip_dst([10, 0, 0, 0], 8),
        vec![],
    );
    assert_eq!(t.apply(&s, 0).expect("strict").count, 1);
    s.priority = 11;
    assert_eq!(t.apply(&s, 0).expect("strict").count, 0);
    // out_port filter.
    let mut o = fm(0, FlowModCommand::Delete, 0, Match::new(), vec![]);
    o.out_port = PortNo(1);
    assert_eq!(t.apply(&o, 0).expect("out_port").count, 0);
    o.out_port = PortNo(7);
    assert_eq!(t.apply(&o, 0).expect("out_port").count, 1);
    assert!(t.is_empty());
    assert_eq!(t.table(0).map(FlowTable::subtable_count), Some(0));
}

#[test]
fn delete_all_tables_and_flow_removed() {
    let mut t = FlowTables::new();
    for table in [0u8, 3, 200] {
        let mut f = fm(table, FlowModCommand::Add, 1, Match::new(), out(1));
        f.flags = if table == 3 {
            flow_mod_flags::SEND_FLOW_REM
        } else {
            0
        };
        f.cookie = u64::from(table);
        t.apply(&f, 1000).expect("add");
    }
    let r = t
        .apply(
            &fm(OFPTT_ALL, FlowModCommand::Delete, 0, Match::new(), vec![]),
            3500,
        )
        .expect("delete all");
    assert_eq!(r.count, 3);
    let notified: Vec<_> = r.removed.iter().filter(|x| x.notify).collect();
    assert_eq!(notified.len(), 1);
    let m = &notified[0].msg;
    assert_eq!(
        (m.table_id, m.cookie, m.reason),
        (3, 3, FlowRemovedReason::Delete)
    );
    assert_eq!((m.duration_sec, m.duration_nsec), (2, 500_000_000));
}

#[test]
fn validation_errors() {
    let mut t = FlowTables::new();
    let e = t
        .apply(&fm(254, FlowModCommand::Add, 1, Match::new(), vec![]), 0)
        .expect_err("table 254 does not exist");
    assert_eq!(
        e.code,
        ErrorCode::FlowModFailed(FlowModFailedCode::BadTableId)
    );
    let e = t
        .apply(
            &fm(
                0,
                FlowModCommand::Add,
                1,
                Match::new(),
                vec![Instruction::GotoTable(254)],
            ),
            0,
        )
        .expect_err("goto 254");
    assert_eq!(
        e.code,
        ErrorCode::BadInstruction(BadInstructionCode::BadTableId)
    );
    let pbb = vec![Instruction::ApplyActions(vec![Action::PopPbb])];
    let e = t
        .apply(&fm(0, FlowModCommand::Add, 1, Match::new(), pbb), 0)
        .expect_err("pbb");
    assert_eq!(e.code, ErrorCode::BadAction(BadActionCode::BadType));
    let table = vec![Instruction::ApplyActions(vec![Action::output(
        PortNo::TABLE,
    )])];
    assert!(t
        .apply(&fm(0, FlowModCommand::Add, 1, Match::new(), table), 0)
        .is_err());
    assert!(t.is_empty());
    assert_eq!(
        t.generation(),
        1,
        "refused changes do not bump the generation"
    );
}

#[test]
fn timeouts_and_counters() {
    let mut t = FlowTables::new();
    let mut idle = fm(0, FlowModCommand::Add, 1, ip_dst([10, 0, 0, 0], 8), out(1));
    idle.idle_timeout = 2;
    idle.flags = flow_mod_flags::SEND_FLOW_REM;
    t.apply(&idle, 0).expect("idle");
    let mut hard = fm(0, FlowModCommand::Add, 2, ip_dst([11, 0, 0, 0], 8), out(2));
    hard.hard_timeout = 3;
    hard.idle_timeout = 1;
    t.apply(&hard, 0).expect("hard");
    // Traffic on the idle flow at 1.5 s keeps it alive until 3.5 s.
    let mut wc = FlowMask::default();
    let (_, rref) = t.lookup(0, &pkt([10, 0, 0, 1], 1), &mut wc).expect("hit");
    let mut tables = TableSet::default();
    tables.insert(0);
    t.apply_credits(&[Credit {
        rules: Arc::from(vec![rref]),
        tables,
        packets: 3,
        bytes: 180,
        used: 1500,
    }]);
    // At 1 s the hard flow is idle for 1 s: idle timeout first.
    let gone = t.expire(1000);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].msg.reason, FlowRemovedReason::IdleTimeout);
    assert_eq!(gone[0].msg.priority, 2);
    assert!(t.expire(3000).is_empty());
    let gone = t.expire(3500);
    assert_eq!(gone.len(), 1);
    assert!(gone[0].notify);
    assert_eq!((gone[0].msg.packet_count, gone[0].msg.byte_count), (3, 180));
    // Credits for a deleted rule are dropped.
    t.apply_credits(&[Credit {
        rules: Arc::from(vec![rref]),
        tables,
        packets: 1,
        bytes: 1,
        used: 4000,
    }]);
    let ts = t.table_stats();
    assert_eq!(ts.len(), DEFAULT_TABLES);
    assert_eq!(
        (ts[0].lookup_count, ts[0].matched_count, ts[0].active_count),
        (4, 4, 0)
    );

    let mut h = fm(0, FlowModCommand::Add, 3, Match::new(), out(1));
    h.hard_timeout = 1;
    h.idle_timeout = 5;
    t.apply(&h, 10_000).expect("add");
    let gone = t.expire(11_000);
    assert_eq!(gone[0].msg.reason, FlowRemovedReason::HardTimeout);
}

#[test]
fn flow_stats_return_what_was_installed() {
    let mut t = FlowTables::new();
    let m = Match::new()
        .with(OxmField::IpProto(17))
        .with(OxmField::EthType(0x0800))
        .with(OxmField::UdpDst(53));
    let insts = vec![
        Instruction::WriteMetadata {
            metadata: 1,
            mask: 1,
        },
        Instruction::GotoTable(5),
    ];
    let mut f = fm(2, FlowModCommand::Add, 77, m.clone(), insts.clone());
    f.cookie = 0xabc;
    f.idle_timeout = 60;
    f.hard_timeout = 600;
    f.flags = flow_mod_flags::SEND_FLOW_REM | flow_mod_flags::NO_BYT_COUNTS;
    t.apply(&f, 5).expect("add");
    t.apply(&fm(2, FlowModCommand::Add, 1, Match::new(), vec![]), 5)
        .expect("add");
    let mut req = FlowStatsRequest::all();
    req.match_ = Match::new().with(OxmField::EthType(0x0800));
    let s = t.flow_stats(&req, 2005).expect("stats");
    assert_eq!(s.len(), 1);
    let s = &s[0];
    assert_eq!(s.match_, m, "fields in the order sent");
    assert_eq!(s.instructions, insts);
    assert_eq!(
        (
            s.table_id,
            s.priority,
            s.cookie,
            s.idle_timeout,
            s.hard_timeout,
            s.flags
        ),
        (2, 77, 0xabc, 60, 600, f.flags)
    );
    assert_eq!(
        (s.duration_sec, s.packet_count, s.byte_count),
        (2, 0, u64::MAX)
    );
    let agg = t
        .aggregate_stats(&FlowStatsRequest::all(), 2005)
        .expect("agg");
    assert_eq!(agg.flow_count, 2);
}

#[test]
fn table_set_iterates_members() {
    let mut s = TableSet::default();
    for t in [0u8, 63, 64, 200, 255] {
        s.insert(t);
    }
    assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 63, 64, 200, 255]);
    assert!(s.contains(200) && !s.contains(1));
}

#[test]
fn equal_priority_in_a_later_subtable_still_wins_by_age() {
    // Subtable A (in_port) is created first by a priority-9 rule; subtable B (eth_type)
    // by an older priority-5 rule than the priority-5 rule later added to A. The packet
    // misses the priority-9 rule, so the two priority-5 rules tie and the older (in B)
    // must win although A is probed first.
    let mut t = FlowTables::new();
    let a = |p| Match::new().with(OxmField::InPort(PortNo(p)));
    t.apply(&fm(0, FlowModCommand::Add, 9, a(7), out(9)), 0)
        .expect("a9");
    let b = Match::new().with(OxmField::EthType(0x0800));
    t.apply(&fm(0, FlowModCommand::Add, 5, b, out(2)), 0)
        .expect("b5");
    t.apply(&fm(0, FlowModCommand::Add, 5, a(1), out(1)), 0)
        .expect("a5");
    assert_eq!(lookup(&t, &pkt([1, 1, 1, 1], 1)).0, Some(2));
}

#[test]
fn table_full() {
    let mut t = FlowTables::new();
    t.set_max_flows_per_table(2);
    t.apply(
        &fm(0, FlowModCommand::Add, 1, ip_dst([10, 0, 0, 0], 8), out(1)),
        0,
    )
    .expect("1");
    t.apply(
        &fm(0, FlowModCommand::Add, 2, ip_dst([10, 0, 0, 0], 8), out(1)),
        0,
    )
    .expect("2");
    let e = t
        .apply(
            &fm(0, FlowModCommand::Add, 3, ip_dst([10, 0, 0, 0], 8), out(1)),
            0,
        )
        .expect_err("full");
    assert_eq!(
        e.code,
        ErrorCode::FlowModFailed(FlowModFailedCode::TableFull)
    );
    // Replacing is not adding; another table has room.
    t.apply(
        &fm(0, FlowModCommand::Add, 2, ip_dst([10, 0, 0, 0], 8), out(5)),
        0,
    )
    .expect("replace");
    t.apply(
        &fm(1, FlowModCommand::Add, 3, ip_dst([10, 0, 0, 0], 8), out(1)),
        0,
    )
    .expect("table 1");
    assert_eq!(t.len(), 3);
}
