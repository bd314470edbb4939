//! The fast path allocates nothing per packet once warm: EMC hits, megaflow hits
//! (including subtable re-ranking) and batches, counted on this test's thread by a
//! counting global allocator (`rvs_lab::alloc_count`).

use rvs_flow::cache::{Config, FastPath, Tier};
use rvs_flow::classifier::FlowTables;
use rvs_flow::FlowKey;
use rvs_openflow::action::Action;
use rvs_openflow::oxm::Masked;
use rvs_openflow::{FlowMod, Instruction, Match, OxmField, PortNo};
use std::net::Ipv4Addr;

#[global_allocator]
static GLOBAL: rvs_lab::alloc_count::CountingAllocator = rvs_lab::alloc_count::CountingAllocator;

fn tables() -> FlowTables {
    let mut t = FlowTables::new();
    for i in 0..8u32 {
        let plen = 8 + 3 * i;
        let m = Match::new()
            .with(OxmField::InPort(PortNo(i + 1)))
            .with(OxmField::EthType(0x0800))
            .with(OxmField::Ipv4Dst(Masked::new(
                Ipv4Addr::from(0x0a00_0000),
                Ipv4Addr::from(u32::MAX << (32 - plen)),
            )));
        let insts = vec![Instruction::ApplyActions(vec![Action::output(PortNo(
            100 + i,
        ))])];
        t.apply(&FlowMod::add(10 + i as u16, m, insts), 0)
            .expect("add");
    }
    t
}

fn keys() -> Vec<FlowKey> {
    (0..256u32)
        .map(|i| {
            let mut k = FlowKey::default();
            k.set_in_port(i % 8 + 1);
            k.set_eth_type(0x0800);
            k.set_nw_dst(0x0a00_0000 | (i & 0xff));
            k.set_tp_src(i as u16);
            k
        })
        .collect()
}

#[test]
fn warm_fast_path_does_not_allocate() {
    let t = tables();
    let ks = keys();
    let mut fp = FastPath::new(Config {
        emc_insert_inv_prob: 1,
        rerank_every: 64,
        ..Config::default()
    });
    let mut per_pass = 0usize;
    for k in &ks {
        per_pass += fp.process(&t, k, 64).actions.len();
    }
    assert!(per_pass > 0);
    let lens = [64u32; 32];
    let mut outputs = 0usize;
    let allocs = rvs_lab::alloc_count::allocations_in(|| {
        for _ in 0..20 {
            for k in &ks {
                outputs += fp.process(&t, k, 64).actions.len();
            }
            for chunk in ks.chunks(32) {
                fp.process_batch(&t, chunk, &lens, |_, l| outputs += l.actions.len());
            }
        }
    });
    assert_eq!(allocs, 0, "allocations on the warm fast path");
    assert_eq!(outputs, 20 * 2 * per_pass);
    assert_eq!(fp.process(&t, &ks[0], 64).tier, Tier::Emc);

    // Megaflow hits only (no EMC), with re-ranking every 64 lookups.
    let mut mf_only = FastPath::new(Config {
        emc_entries: 0,
        rerank_every: 64,
        ..Config::default()
    });
    for k in &ks {
        mf_only.process(&t, k, 64);
    }
    let mut tiers = Vec::with_capacity(20 * ks.len());
    let allocs = rvs_lab::alloc_count::allocations_in(|| {
        for _ in 0..20 {
            for k in &ks {
                tiers.push(mf_only.process(&t, k, 64).tier);
            }
        }
    });
    assert_eq!(allocs, 0, "allocations on the megaflow-only path");
    assert!(tiers.iter().all(|t| *t == Tier::Megaflow), "{tiers:?}");
}
