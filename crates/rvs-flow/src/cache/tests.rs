use super::*;
use crate::key::loc;
use rvs_openflow::action::Action;
use rvs_openflow::oxm::Masked;
use rvs_openflow::{FlowMod, FlowModCommand, Instruction, Match, OxmField, PortNo};

fn out(p: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![Action::output(PortNo(p))])]
}

fn in_port(p: u32) -> Match {
    Match::new().with(OxmField::InPort(PortNo(p)))
}

fn key(in_port: u32, dst: u64) -> FlowKey {
    let mut k = FlowKey::default();
    k.set_in_port(in_port);
    k.set_eth_dst(dst);
    k.set_eth_type(0x0800);
    k
}

fn always_emc() -> Config {
    Config {
        emc_insert_inv_prob: 1,
        ..Config::default()
    }
}

#[test]
fn tiers_in_order() {
    let mut t = FlowTables::new();
    t.apply(&FlowMod::add(1, in_port(1), out(2)), 0)
        .expect("add");
    let mut fp = FastPath::new(always_emc());
    let k = key(1, 5);
    let l = fp.process(&t, &k, 60);
    assert_eq!(
        (l.tier, l.actions),
        (Tier::Upcall, &[DpAction::Output(2)][..])
    );
    assert_eq!(fp.process(&t, &k, 60).tier, Tier::Emc);
    // Another MAC on the same port: the megaflow (in_port only) covers it.
    assert_eq!(fp.process(&t, &key(1, 6), 60).tier, Tier::Megaflow);
    assert_eq!(fp.process(&t, &key(1, 6), 60).tier, Tier::Emc);
    // Port 3: miss, drop, cached too.
    let l = fp.process(&t, &key(3, 6), 60);
    assert_eq!((l.tier, l.actions.len()), (Tier::Upcall, 0));
    assert_eq!(fp.megaflow_count(), 2);
    assert_eq!(fp.megaflow_subtables(), 1);
    let s = fp.stats();
    assert_eq!((s.upcalls, s.megaflow_hits, s.emc_hits), (2, 1, 2));
}

#[test]
fn changes_invalidate_exactly_the_tables_visited() {
    let mut t = FlowTables::new();
    t.apply(&FlowMod::add(1, in_port(1), out(2)), 0)
        .expect("add");
    let mut fm = FlowMod::add(
        1,
        in_port(2),
        vec![
            Instruction::ApplyActions(vec![Action::output(PortNo(3))]),
            Instruction::GotoTable(1),
        ],
    );
    t.apply(&fm, 0).expect("add");
    let mut fp = FastPath::new(always_emc());
    fp.process(&t, &key(1, 1), 1);
    fp.process(&t, &key(2, 1), 1);
    // A change in table 5, visited by neither: both stay valid without a pipeline run.
    fm.table_id = 5;
    fm.instructions = out(9);
    t.apply(&fm, 0).expect("table 5");
    assert_eq!(fp.process(&t, &key(1, 1), 1).tier, Tier::Emc);
    assert_eq!(fp.process(&t, &key(2, 1), 1).tier, Tier::Emc);
    assert_eq!(fp.stats().revalidations, 0);
    // A change in table 1: only the port-2 megaflow (which visited table 1) is
    // revalidated, and it gains the new output.
    let mut t1 = FlowMod::add(0, Match::new(), out(4));
    t1.table_id = 1;
    t.apply(&t1, 0).expect("table 1");
    assert_eq!(fp.process(&t, &key(1, 1), 1).tier, Tier::Emc);
    let l = fp.process(&t, &key(2, 1), 1);
    assert_eq!(l.tier, Tier::Upcall);
    assert_eq!(l.actions, &[DpAction::Output(3), DpAction::Output(4)][..]);
    assert_eq!(fp.stats().revalidations, 1);
    assert_eq!(fp.stats().revalidated_kept, 1, "same mask: kept in place");
    assert_eq!(fp.process(&t, &key(2, 1), 1).tier, Tier::Emc);
}

#[test]
fn wider_consultation_replaces_the_megaflow() {
    let mut t = FlowTables::new();
    t.apply(&FlowMod::add(1, in_port(1), out(2)), 0)
        .expect("add");
    let mut fp = FastPath::new(always_emc());
    fp.process(&t, &key(1, 1), 1);
    // A higher-priority rule on eth_dst: the old megaflow (in_port only) is too wide.
    let m = Match::new().with(OxmField::EthDst(Masked::exact([0, 0, 0, 0, 0, 9])));
    t.apply(&FlowMod::add(5, m, out(7)), 0).expect("add");
    let l = fp.process(&t, &key(1, 1), 1);
    assert_eq!(
        (l.tier, l.actions),
        (Tier::Upcall, &[DpAction::Output(2)][..])
    );
    assert_eq!(fp.stats().revalidated_kept, 0);
    assert_eq!(
        fp.process(&t, &key(1, 9), 1).actions,
        &[DpAction::Output(7)][..]
    );
    assert_eq!(fp.process(&t, &key(1, 1), 1).tier, Tier::Emc);
    assert_eq!(fp.megaflow_count(), 2);
}

#[test]
fn counters_reach_the_rules() {
    let mut t = FlowTables::new();
    let mut fm = FlowMod::add(1, in_port(1), out(2));
    fm.idle_timeout = 1;
    t.apply(&fm, 0).expect("add");
    let mut fp = FastPath::new(Config::default());
    fp.set_now(500);
    for i in 0..10 {
        fp.process(&t, &key(1, i), 100);
    }
    // Replace the rule's actions (same mask): counts so far stay with the rule.
    let mut m = fm.clone();
    m.command = FlowModCommand::Modify;
    m.instructions = out(3);
    t.apply(&m, 600).expect("modify");
    fp.set_now(900);
    fp.process(&t, &key(1, 0), 100);
    fp.flush_stats(&mut t);
    let r = t.table(0).and_then(|tb| tb.rules().next()).expect("rule");
    assert_eq!((r.packets, r.bytes, r.last_used), (11, 1100, 900));
    let ts = &t.table_stats()[0];
    assert_eq!((ts.lookup_count, ts.matched_count), (11, 11));
    // Nothing reported twice.
    fp.flush_stats(&mut t);
    let r = t.table(0).and_then(|tb| tb.rules().next()).expect("rule");
    assert_eq!(r.packets, 11);
    // Used at 0.9 s, idle 1 s: alive at 1.5 s, gone at 1.9 s.
    assert!(t.expire(1500).is_empty());
    assert_eq!(t.expire(1900).len(), 1);
}

#[test]
fn eviction_sweep_and_reranking() {
    let mut t = FlowTables::new();
    // Masks on in_port, or in_port + eth_dst: two subtables.
    t.apply(&FlowMod::add(1, in_port(1), out(2)), 0)
        .expect("add");
    let m = Match::new()
        .with(OxmField::InPort(PortNo(2)))
        .with(OxmField::EthDst(Masked::exact([0, 0, 0, 0, 0, 1])));
    t.apply(&FlowMod::add(9, m, out(3)), 0).expect("add");
    let cfg = Config {
        emc_entries: 0,
        max_megaflows: 4,
        rerank_every: 8,
        ..Config::default()
    };
    let mut fp = FastPath::new(cfg);
    for p in 1..=6 {
        fp.process(&t, &key(p, 1), 1);
    }
    assert_eq!(fp.megaflow_count(), 4);
    assert_eq!(fp.stats().megaflows_evicted, 2);
    // Whatever was evicted comes back with the same decision.
    for p in 1..=6 {
        let want: &[DpAction] = match p {
            1 => &[DpAction::Output(2)],
            2 => &[DpAction::Output(3)],
            _ => &[],
        };
        assert_eq!(fp.process(&t, &key(p, 1), 1).actions, want);
    }
    for _ in 0..20 {
        fp.process(&t, &key(2, 1), 1);
    }
    fp.rerank();
    fp.set_now(100);
    fp.process(&t, &key(2, 1), 1);
    fp.sweep(fp.config().idle_ms + 99);
    assert_eq!(
        fp.megaflow_count(),
        1,
        "only the one used at 100 ms is left"
    );
    fp.clear();
    assert_eq!(fp.megaflow_count(), 0);
    // A different set of tables flushes the caches.
    let other = FlowTables::new();
    let l = fp.process(&other, &key(2, 1), 1);
    assert_eq!((l.tier, l.actions.len()), (Tier::Upcall, 0));
    let _ = loc::IN_PORT;
}

#[test]
fn snapshots_keep_cached_decisions_they_do_not_change() {
    let mut master = FlowTables::new();
    master
        .apply(&FlowMod::add(1, in_port(1), out(2)), 0)
        .expect("add");
    let mut fm2 = FlowMod::add(1, in_port(2), out(3));
    fm2.table_id = 0;
    master.apply(&fm2, 0).expect("add");
    let mut fp = FastPath::new(always_emc());
    let s1 = master.snapshot();
    fp.process(&s1, &key(1, 1), 1);
    fp.process(&s1, &key(2, 1), 1);
    // A change in table 7 on the master, then a new snapshot: nothing to redo.
    let mut t7 = FlowMod::add(1, Match::new(), out(9));
    t7.table_id = 7;
    master.apply(&t7, 0).expect("add");
    let s2 = master.snapshot();
    assert_eq!(fp.process(&s2, &key(1, 1), 1).tier, Tier::Emc);
    assert_eq!(fp.process(&s2, &key(2, 1), 1).tier, Tier::Emc);
    // A change in table 0: the affected decision follows the newest snapshot.
    let mut m = FlowMod::add(1, in_port(2), out(4));
    m.command = FlowModCommand::ModifyStrict;
    master.apply(&m, 0).expect("modify");
    let s3 = master.snapshot();
    assert_eq!(
        fp.process(&s3, &key(2, 1), 1).actions,
        &[DpAction::Output(4)][..]
    );
    assert_eq!(fp.stats().upcalls, 3);
    // The old snapshot still answers as it was (it is only read).
    let mut wc = FlowMask::default();
    assert!(s1.lookup(7, &key(1, 1), &mut wc).is_none());
    assert_eq!(s3.len(), 3);
}
