use super::*;
use rvs_openflow::error::ErrorCode;
use rvs_openflow::oxm::{Masked, OxmField};

fn out(p: u32) -> Action {
    Action::output(PortNo(p))
}

fn bucket(actions: Vec<Action>) -> Bucket {
    Bucket::new(actions)
}

fn weighted(w: u16, p: u32) -> Bucket {
    Bucket {
        weight: w,
        ..Bucket::new(vec![out(p)])
    }
}

fn watching(port: u32, p: u32) -> Bucket {
    Bucket {
        watch_port: PortNo(port),
        ..Bucket::new(vec![out(p)])
    }
}

fn gm(command: GroupModCommand, kind: GroupType, id: u32, buckets: Vec<Bucket>) -> GroupMod {
    GroupMod {
        command,
        group_type: kind,
        group_id: id,
        buckets,
    }
}

fn add(t: &mut GroupTable, kind: GroupType, id: u32, buckets: Vec<Bucket>) -> Result<(), OfError> {
    t.apply(&gm(GroupModCommand::Add, kind, id, buckets))
        .map(|_| ())
}

fn code(r: Result<(), OfError>) -> ErrorCode {
    match r {
        Err(e) => e.code,
        Ok(()) => ErrorCode::from(GroupModFailedCode::Eperm), // never expected
    }
}

fn all_live(_: u32) -> bool {
    true
}

#[test]
fn error_codes() {
    use GroupModFailedCode as C;
    let mut t = GroupTable::new();
    add(&mut t, GroupType::All, 1, vec![bucket(vec![out(1)])]).expect("add");
    assert_eq!(
        code(add(&mut t, GroupType::All, 1, vec![])),
        C::GroupExists.into()
    );
    assert_eq!(
        code(
            t.apply(&gm(GroupModCommand::Modify, GroupType::All, 2, vec![]))
                .map(|_| ())
        ),
        C::UnknownGroup.into()
    );
    assert_eq!(
        code(add(&mut t, GroupType::All, OFPG_MAX + 1, vec![])),
        C::InvalidGroup.into()
    );
    assert_eq!(
        code(add(&mut t, GroupType::Indirect, 3, vec![])),
        C::BadBucket.into()
    );
    assert_eq!(
        code(add(&mut t, GroupType::All, 3, vec![weighted(2, 1)])),
        C::WeightUnsupported.into()
    );
    assert_eq!(
        code(add(
            &mut t,
            GroupType::FastFailover,
            3,
            vec![bucket(vec![out(1)])]
        )),
        C::BadWatch.into()
    );
    assert_eq!(
        code(add(
            &mut t,
            GroupType::FastFailover,
            3,
            vec![watching(PortNo::CONTROLLER.0, 1)]
        )),
        C::BadWatch.into()
    );
    let self_watch = Bucket {
        watch_group: 3,
        ..bucket(vec![out(1)])
    };
    assert_eq!(
        code(add(&mut t, GroupType::FastFailover, 3, vec![self_watch])),
        C::BadWatch.into()
    );
    assert_eq!(
        code(add(
            &mut t,
            GroupType::All,
            3,
            vec![bucket(vec![Action::Group(3)])]
        )),
        C::Loop.into()
    );
    assert_eq!(
        code(add(
            &mut t,
            GroupType::All,
            3,
            vec![bucket(vec![Action::Group(77)])]
        )),
        BadActionCode::BadOutGroup.into()
    );
    // Bucket actions are checked like flow actions.
    assert_eq!(
        code(add(
            &mut t,
            GroupType::All,
            3,
            vec![bucket(vec![Action::output(PortNo::TABLE)])]
        )),
        BadActionCode::BadOutPort.into()
    );
    assert_eq!(
        code(add(
            &mut t,
            GroupType::All,
            3,
            vec![bucket(vec![Action::SetField(OxmField::InPort(PortNo(1)))])]
        )),
        BadActionCode::BadSetType.into()
    );
    assert_eq!(
        code(add(
            &mut t,
            GroupType::All,
            3,
            vec![bucket(vec![Action::PopPbb])]
        )),
        BadActionCode::BadType.into()
    );
    let many = vec![bucket(vec![out(1)]); MAX_BUCKETS + 1];
    assert_eq!(
        code(add(&mut t, GroupType::All, 3, many)),
        C::OutOfBuckets.into()
    );
    // Nothing of the failed adds was installed.
    assert_eq!(t.len(), 1);
    // Chained: 4 -> 1; deleting 1 is refused, deleting 4 then 1 works.
    add(
        &mut t,
        GroupType::Indirect,
        4,
        vec![bucket(vec![Action::Group(1)])],
    )
    .expect("chain");
    let del = |id| gm(GroupModCommand::Delete, GroupType::All, id, vec![]);
    assert_eq!(code(t.apply(&del(1)).map(|_| ())), C::ChainedGroup.into());
    assert_eq!(t.apply(&del(4)).expect("del").removed, vec![4]);
    assert_eq!(t.apply(&del(1)).expect("del").removed, vec![1]);
    assert_eq!(
        t.apply(&del(1)).expect("missing").removed,
        Vec::<u32>::new()
    );
    assert!(t.is_empty());
}

#[test]
fn out_of_groups() {
    let mut t = GroupTable::new();
    for id in 0..MAX_GROUPS {
        add(&mut t, GroupType::All, id, vec![]).expect("add");
    }
    assert_eq!(
        code(add(&mut t, GroupType::All, MAX_GROUPS, vec![])),
        GroupModFailedCode::OutOfGroups.into()
    );
    let all = gm(GroupModCommand::Delete, GroupType::All, OFPG_ALL, vec![]);
    assert_eq!(
        t.apply(&all).expect("del all").removed.len(),
        MAX_GROUPS as usize
    );
    assert!(t.is_empty());
}

#[test]
fn loop_through_modify() {
    let mut t = GroupTable::new();
    add(&mut t, GroupType::All, 1, vec![bucket(vec![out(1)])]).expect("1");
    add(
        &mut t,
        GroupType::All,
        2,
        vec![bucket(vec![Action::Group(1)])],
    )
    .expect("2");
    add(
        &mut t,
        GroupType::All,
        3,
        vec![bucket(vec![Action::Group(2)])],
    )
    .expect("3");
    // 1 -> 3 would close 3 -> 2 -> 1 -> 3.
    let r = t.apply(&gm(
        GroupModCommand::Modify,
        GroupType::All,
        1,
        vec![bucket(vec![Action::Group(3)])],
    ));
    assert_eq!(
        r.map(|_| ()).err().map(|e| e.code),
        Some(GroupModFailedCode::Loop.into())
    );
    // The failed modify left group 1 as it was.
    assert_eq!(
        t.get(1).expect("1").buckets[0].actions,
        vec![DpAction::Output(1)]
    );
}

#[test]
fn desc_stats_modify_keeps_counters_and_replay() {
    let mut t = GroupTable::new();
    let set = Action::SetField(OxmField::EthDst(Masked::exact([2, 0, 0, 0, 0, 9])));
    add(
        &mut t,
        GroupType::Select,
        7,
        vec![weighted(3, 1), weighted(1, 2)],
    )
    .expect("7");
    add(
        &mut t,
        GroupType::All,
        2,
        vec![
            bucket(vec![set.clone(), Action::Group(7)]),
            bucket(vec![out(4)]),
        ],
    )
    .expect("2");
    let g = t.get(2).expect("2").clone();
    assert_eq!(
        g.buckets[0].actions,
        vec![
            DpAction::SetField(OxmField::EthDst(Masked::exact([2, 0, 0, 0, 0, 9]))),
            DpAction::Group(7)
        ]
    );
    g.count_group(100);
    g.count_bucket(0, 100);
    g.count_bucket(1, 100);
    g.count(5, 60); // out-of-range bucket: group only
    let desc = t.desc();
    assert_eq!(
        desc.iter().map(|d| d.group_id).collect::<Vec<_>>(),
        vec![2, 7]
    );
    assert_eq!(desc[0].buckets[0].actions, vec![set, Action::Group(7)]);
    assert_eq!(desc[1].buckets[0].weight, 3);
    let st = t.stats(2, &|id| if id == 2 { 5 } else { 0 });
    assert_eq!(st.len(), 1);
    assert_eq!(
        (st[0].packet_count, st[0].byte_count, st[0].ref_count),
        (2, 160, 5)
    );
    assert_eq!(
        st[0].bucket_stats,
        vec![
            BucketCounter {
                packet_count: 1,
                byte_count: 100
            },
            BucketCounter {
                packet_count: 1,
                byte_count: 100
            }
        ]
    );
    // Group 7 is referenced by group 2's bucket.
    assert_eq!(t.stats(7, &|_| 0)[0].ref_count, 1);
    assert_eq!(t.stats(OFPG_ALL, &|_| 0).len(), 2);
    assert!(t.stats(99, &|_| 0).is_empty());
    // A snapshot clone shares counters.
    let snap = t.clone();
    // Modify keeps group counters, restarts bucket counters, changes the type.
    t.apply(&gm(
        GroupModCommand::Modify,
        GroupType::Indirect,
        2,
        vec![bucket(vec![out(9)])],
    ))
    .expect("modify");
    snap.get(2).expect("old").count_group(1);
    let st = t.stats(2, &|_| 0);
    assert_eq!((st[0].packet_count, st[0].byte_count), (3, 161));
    assert_eq!(st[0].bucket_stats, vec![BucketCounter::default()]);
    assert_eq!(t.get(2).expect("2").kind, GroupType::Indirect);
    // The old snapshot still has the old buckets.
    assert_eq!(snap.get(2).expect("old").buckets.len(), 2);

    // Replay: a chain 10 -> 11 -> 12 added in dependency order, replayed from to_mods.
    let mut t = GroupTable::new();
    add(&mut t, GroupType::All, 12, vec![bucket(vec![out(1)])]).expect("12");
    add(
        &mut t,
        GroupType::All,
        11,
        vec![bucket(vec![Action::Group(12)])],
    )
    .expect("11");
    add(
        &mut t,
        GroupType::All,
        10,
        vec![
            bucket(vec![Action::Group(11)]),
            bucket(vec![Action::Group(12)]),
        ],
    )
    .expect("10");
    add(
        &mut t,
        GroupType::All,
        1,
        vec![bucket(vec![Action::Group(10)])],
    )
    .expect("1");
    let mods = t.to_mods();
    assert_eq!(
        mods.iter().map(|m| m.group_id).collect::<Vec<_>>(),
        vec![12, 11, 10, 1]
    );
    let mut replay = GroupTable::new();
    for m in &mods {
        replay.apply(m).expect("replays");
    }
    assert_eq!(replay.desc(), t.desc());
}

#[test]
fn features() {
    let f = GroupTable::features();
    assert_eq!(f.types, 0b1111);
    assert_eq!(f.max_groups, [MAX_GROUPS; 4]);
    assert_ne!(f.actions[0] & (1 << action_type::GROUP), 0);
    assert_eq!(f.actions[0] & (1 << action_type::PUSH_PBB), 0);
}

#[test]
fn all_and_indirect_choose() {
    let mut t = GroupTable::new();
    add(
        &mut t,
        GroupType::All,
        1,
        vec![bucket(vec![out(1)]), bucket(vec![out(2)]), bucket(vec![])],
    )
    .expect("all");
    add(&mut t, GroupType::Indirect, 2, vec![bucket(vec![out(3)])]).expect("indirect");
    let mut v = Vec::new();
    t.get(1).expect("1").choose(5, &all_live, &t, &mut v);
    assert_eq!(v, vec![0, 1, 2]);
    t.get(2).expect("2").choose(5, &|_| false, &t, &mut v);
    assert_eq!(v, vec![0]);
}

#[test]
fn select_distribution_follows_weights() {
    let mut t = GroupTable::new();
    let weights = [1u16, 2, 3, 4, 0];
    add(
        &mut t,
        GroupType::Select,
        1,
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| weighted(w, i as u32 + 1))
            .collect(),
    )
    .expect("select");
    let g = t.get(1).expect("1");
    let mut counts = [0u32; 5];
    let mut v = Vec::new();
    const N: u64 = 10_000;
    for i in 0..N {
        let mut k = crate::FlowKey::default();
        k.set_eth_type(0x0800);
        k.set_ip_proto(6);
        k.set_nw_src(0x0a00_0001);
        k.set_tp_src(i as u16);
        g.choose(k.flow_hash(), &all_live, &t, &mut v);
        assert_eq!(v.len(), 1);
        counts[v[0]] += 1;
    }
    assert_eq!(counts[4], 0, "weight 0 is never chosen");
    for (i, &w) in weights.iter().enumerate().take(4) {
        let expect = N as f64 * f64::from(w) / 10.0;
        let got = f64::from(counts[i]);
        assert!(
            (got - expect).abs() < expect * 0.1 + 50.0,
            "bucket {i}: {got} vs {expect} ({counts:?})"
        );
    }
}

#[test]
fn select_is_stable_when_another_bucket_dies() {
    let mut t = GroupTable::new();
    let buckets = (0..4)
        .map(|i| Bucket {
            watch_port: PortNo(i + 1),
            ..weighted(1, i + 10)
        })
        .collect();
    add(&mut t, GroupType::Select, 1, buckets).expect("select");
    let g = t.get(1).expect("1");
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut moved = 0;
    for h in 0..2000u64 {
        let hash = mix64(h);
        g.choose(hash, &all_live, &t, &mut before);
        g.choose(hash, &all_live, &t, &mut after);
        assert_eq!(before, after, "same hash, same bucket");
        // Port 3 (bucket 2) goes down.
        g.choose(hash, &|p| p != 3, &t, &mut after);
        assert_eq!(after.len(), 1);
        assert_ne!(after[0], 2);
        if before[0] != 2 {
            assert_eq!(before, after, "a flow not on the dead bucket stays");
        } else {
            moved += 1;
        }
    }
    assert!(moved > 300 && moved < 700, "about a quarter moved: {moved}");
    // Nothing live: drop.
    g.choose(1, &|_| false, &t, &mut after);
    assert!(after.is_empty());
}

#[test]
fn fast_failover_follows_liveness_and_watched_groups() {
    let mut t = GroupTable::new();
    add(&mut t, GroupType::FastFailover, 5, vec![watching(7, 7)]).expect("5");
    let via_group = Bucket {
        watch_group: 5,
        ..bucket(vec![out(8)])
    };
    add(
        &mut t,
        GroupType::FastFailover,
        1,
        vec![watching(1, 1), via_group, watching(2, 2)],
    )
    .expect("1");
    let g = t.get(1).expect("1");
    let mut v = Vec::new();
    g.choose(0, &all_live, &t, &mut v);
    assert_eq!(v, vec![0]);
    g.choose(0, &|p| p != 1, &t, &mut v);
    assert_eq!(v, vec![1], "port 1 down: the bucket watching live group 5");
    g.choose(0, &|p| p != 1 && p != 7, &t, &mut v);
    assert_eq!(v, vec![2], "group 5 dead too: port 2");
    g.choose(0, &|p| p == 9, &t, &mut v);
    assert!(v.is_empty());
    // A watched group that disappears counts as dead.
    let del = gm(GroupModCommand::Delete, GroupType::All, 5, vec![]);
    t.apply(&del).expect("del");
    let g = t.get(1).expect("1");
    g.choose(0, &|p| p != 1, &t, &mut v);
    assert_eq!(v, vec![2]);
}

#[test]
fn deep_watch_chains_are_bounded() {
    let mut t = GroupTable::new();
    add(&mut t, GroupType::FastFailover, 0, vec![watching(1, 1)]).expect("0");
    for id in 1..40u32 {
        let b = Bucket {
            watch_group: id - 1,
            ..bucket(vec![out(1)])
        };
        add(&mut t, GroupType::FastFailover, id, vec![b]).expect("chain");
    }
    let mut v = Vec::new();
    t.get(3).expect("3").choose(0, &all_live, &t, &mut v);
    assert_eq!(v, vec![0]);
    // Beyond the depth bound the chain counts as dead rather than recursing on.
    t.get(39).expect("39").choose(0, &all_live, &t, &mut v);
    assert!(v.is_empty());
}

#[test]
fn counting_from_two_threads() {
    let mut t = GroupTable::new();
    add(
        &mut t,
        GroupType::Select,
        1,
        vec![weighted(1, 1), weighted(1, 2)],
    )
    .expect("1");
    let snap = t.clone();
    std::thread::scope(|s| {
        for b in 0..2 {
            let snap = &snap;
            s.spawn(move || {
                let g = snap.get(1).expect("1");
                for _ in 0..10_000 {
                    g.count(b, 10);
                }
            });
        }
    });
    let st = t.stats(1, &|_| 0);
    assert_eq!((st[0].packet_count, st[0].byte_count), (20_000, 200_000));
    assert_eq!(st[0].bucket_stats[0].packet_count, 10_000);
    assert_eq!(st[0].bucket_stats[1].byte_count, 100_000);
}
