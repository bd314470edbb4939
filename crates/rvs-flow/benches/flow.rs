//! Criterion benchmarks of the flow crate (in memory, one core):
//!
//! * `classifier/lookup`: OpenFlow table lookups (with un-wildcarding, as the slow path
//!   does) at 1,000 rules in 30 subtables and at 100,000 rules in 30 subtables;
//! * `fastpath/emc_hit`, `fastpath/megaflow_hit/{1,10,30}`: per-packet cost of a hit in
//!   each cache tier; `fastpath/miss`: a packet that runs the pipeline and installs a
//!   megaflow (with eviction at the cap);
//! * `extract`: flow-key extraction per frame;
//! * `flow_mod/{add,delete_strict}`: flow-mods applied per second.
//!
//! `cargo bench -p rvs-flow -- --measurement-time 3 --warm-up-time 1`. Throughput is in
//! elements: lookups, packets or flow-mods.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rvs_flow::cache::{Config, FastPath, Tier};
use rvs_flow::classifier::FlowTables;
use rvs_flow::{extract, FlowKey, FlowMask};
use rvs_openflow::action::Action;
use rvs_openflow::oxm::{Masked, OFPVID_PRESENT};
use rvs_openflow::{FlowMod, FlowModCommand, Instruction, Match, OxmField, PortNo};
use std::hint::black_box;
use std::net::Ipv4Addr;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn out(p: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![Action::output(PortNo(p))])]
}

/// Thirty masks: combinations of in_port, VLAN, eth_dst, IPv4 source/destination
/// prefixes, IP protocol and TCP ports, each with its prerequisites.
fn masked_match(shape: usize, r: &mut Rng) -> Match {
    let mut m = Match::new();
    let s = shape as u64;
    if s.is_multiple_of(2) {
        m = m.with(OxmField::InPort(PortNo(1 + r.below(16) as u32)));
    }
    if s.is_multiple_of(3) {
        m = m.with(OxmField::VlanVid(Masked::exact(
            OFPVID_PRESENT | (1 + r.below(64) as u16),
        )));
    }
    if s % 5 == 1 {
        let mut a = [2u8, 0, 0, 0, 0, 0];
        for b in a.iter_mut().skip(3) {
            *b = r.next() as u8;
        }
        m = m.with(OxmField::EthDst(Masked::exact(a)));
    }
    m = m.with(OxmField::EthType(0x0800));
    let plen = 8 + (s * 7 % 25) as u32; // 8..=32
    let mask = u32::MAX << (32 - plen);
    let addr = (r.next() as u32) & mask;
    if s % 4 < 2 {
        m = m.with(OxmField::Ipv4Dst(Masked::new(
            Ipv4Addr::from(addr),
            Ipv4Addr::from(mask),
        )));
    } else {
        m = m.with(OxmField::Ipv4Src(Masked::new(
            Ipv4Addr::from(addr),
            Ipv4Addr::from(mask),
        )));
    }
    if s % 7 < 3 {
        m = m.with(OxmField::IpProto(6));
        m = m.with(OxmField::TcpDst(1 + r.below(1024) as u16));
    }
    m
}

/// `n` rules in table 0 spread over 30 masks; returns the tables and packets built
/// from the rules' values (so most of them hit something). Priorities are random
/// (`banded` false: every subtable holds high and low priorities, so priority pruning
/// cannot skip any) or one band per mask (`banded`: as controllers usually lay out a
/// pipeline, one kind of rule per priority range).
fn rule_set_with(n: usize, seed: u64, banded: bool) -> (FlowTables, Vec<FlowKey>) {
    let mut r = Rng(seed);
    let mut t = FlowTables::new();
    let mut pkts = Vec::new();
    for i in 0..n {
        let shape = i % 30;
        let m = masked_match(shape, &mut r);
        let (k, _) = rvs_flow::match_to_key(&m).expect("supported");
        let prio = if banded {
            (30 - shape as u16) * 100 + r.below(100) as u16
        } else {
            1 + r.below(1000) as u16
        };
        let fm = FlowMod::add(prio, m, out(1 + (i % 8) as u32));
        t.apply(&fm, 0).expect("add");
        if pkts.len() < 4096 {
            // Fill the wildcarded fields with noise.
            let mut p = k;
            if p.in_port() == 0 {
                p.set_in_port(1 + r.below(16) as u32);
            }
            p.set_eth_src(r.next() & 0xffff_ffff_ffff);
            if p.ip_proto() == 0 {
                p.set_ip_proto(17);
            }
            p.set_tp_src(r.next() as u16);
            pkts.push(p);
        }
    }
    (t, pkts)
}

fn rule_set(n: usize, seed: u64) -> (FlowTables, Vec<FlowKey>) {
    rule_set_with(n, seed, false)
}

fn classifier(c: &mut Criterion) {
    let mut g = c.benchmark_group("classifier/lookup");
    for (n, banded, label) in [
        (1_000usize, false, "1k_rules_30_subtables"),
        (1_000, true, "1k_rules_30_subtables_banded_priorities"),
        (100_000, false, "100k_rules_30_subtables"),
        (100_000, true, "100k_rules_30_subtables_banded_priorities"),
    ] {
        let (t, pkts) = rule_set_with(n, 0x5eed + n as u64, banded);
        let st = t.table(0).map_or(0, |t| t.subtable_count());
        assert_eq!(st, 30, "{label}");
        g.throughput(Throughput::Elements(pkts.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                let mut hits = 0u32;
                for p in &pkts {
                    let mut wc = FlowMask::default();
                    hits += u32::from(t.lookup(0, black_box(p), &mut wc).is_some());
                }
                hits
            })
        });
    }
    g.finish();
}

fn emc_hit(c: &mut Criterion) {
    let (t, pkts) = rule_set(1_000, 7);
    let pkts = &pkts[..pkts.len().min(1024)];
    let mut fp = FastPath::new(Config {
        emc_insert_inv_prob: 1,
        ..Config::default()
    });
    for _ in 0..2 {
        for p in pkts {
            fp.process(&t, p, 64);
        }
    }
    assert!(pkts.iter().all(|p| fp.process(&t, p, 64).tier == Tier::Emc));
    let mut g = c.benchmark_group("fastpath");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    g.bench_function("emc_hit", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for p in pkts {
                n += fp.process(&t, black_box(p), 64).actions.len();
            }
            n
        })
    });
    let lens = [64u32; 32];
    g.bench_function("emc_hit_batch32", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for chunk in pkts.chunks(32) {
                fp.process_batch(&t, black_box(chunk), &lens, |_, l| n += l.actions.len());
            }
            n
        })
    });
    g.finish();
}

/// `k` rules whose consulted masks are all different: rule i matches in_port i+1 and
/// an IPv4 source prefix of length i+1 at priority k-i, so a packet on port j probes
/// (and un-wildcards) the subtables of rules 0..=j and gets the mask "in_port + /(j+1)".
fn megaflow_tables(k: usize) -> (FlowTables, Vec<FlowKey>) {
    let mut t = FlowTables::new();
    for i in 0..k {
        let plen = i as u32 + 1;
        let mask = u32::MAX << (32 - plen);
        let m = Match::new()
            .with(OxmField::InPort(PortNo(i as u32 + 1)))
            .with(OxmField::EthType(0x0800))
            .with(OxmField::Ipv4Src(Masked::new(
                Ipv4Addr::from(0x0a00_0000 & mask),
                Ipv4Addr::from(mask),
            )));
        t.apply(&FlowMod::add((k - i) as u16, m, out(100)), 0)
            .expect("add");
    }
    let mut r = Rng(99);
    let pkts = (0..4096)
        .map(|i| {
            let mut p = FlowKey::default();
            p.set_in_port((i % k) as u32 + 1);
            p.set_eth_type(0x0800);
            p.set_nw_src(0x0a00_0000);
            p.set_nw_dst(r.next() as u32);
            p.set_eth_src(r.next() & 0xffff_ffff_ffff);
            p.set_ip_proto(6);
            p.set_tp_src(r.next() as u16);
            p
        })
        .collect();
    (t, pkts)
}

fn megaflow_hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("fastpath/megaflow_hit");
    for k in [1usize, 10, 30] {
        let (t, pkts) = megaflow_tables(k);
        let mut fp = FastPath::new(Config {
            emc_entries: 0,
            ..Config::default()
        });
        for p in &pkts {
            fp.process(&t, p, 64);
        }
        assert_eq!(fp.megaflow_subtables(), k);
        assert!(pkts
            .iter()
            .all(|p| fp.process(&t, p, 64).tier == Tier::Megaflow));
        g.throughput(Throughput::Elements(pkts.len() as u64));
        let lens = [64u32; 32];
        g.bench_function(
            BenchmarkId::from_parameter(format!("{k}_subtables_batch32")),
            |b| {
                b.iter(|| {
                    let mut n = 0usize;
                    for chunk in pkts.chunks(32) {
                        fp.process_batch(&t, black_box(chunk), &lens, |_, l| n += l.actions.len());
                    }
                    n
                })
            },
        );
        g.bench_function(BenchmarkId::from_parameter(format!("{k}_subtables")), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for p in &pkts {
                    n += fp.process(&t, black_box(p), 64).actions.len();
                }
                n
            })
        });
    }
    g.finish();
}

fn miss(c: &mut Criterion) {
    // The 1k-rule table plus a top-priority rule on tcp_src, so every packet's megaflow
    // includes tp_src and a new tp_src is always a miss.
    let (mut t, pkts) = rule_set(1_000, 11);
    let m = Match::new()
        .with(OxmField::EthType(0x0800))
        .with(OxmField::IpProto(6))
        .with(OxmField::TcpSrc(0));
    t.apply(&FlowMod::add(0xffff, m, out(9)), 0).expect("add");
    let mut fp = FastPath::new(Config {
        emc_entries: 0,
        max_megaflows: 16_384,
        ..Config::default()
    });
    let mut i = 0u64;
    let mut g = c.benchmark_group("fastpath");
    g.throughput(Throughput::Elements(1));
    g.bench_function("miss", |b| {
        b.iter(|| {
            i += 1;
            let mut p = pkts[(i % pkts.len() as u64) as usize];
            p.set_ip_proto(6);
            p.set_tp_src(1 + (i % 65_535) as u16);
            p.set_tcp_flags((i >> 16) as u16);
            let l = fp.process(&t, black_box(&p), 64);
            debug_assert_eq!(l.tier, Tier::Upcall);
            l.actions.len()
        })
    });
    g.finish();
}

fn frames() -> Vec<Vec<u8>> {
    let eth = |et: u16, payload: &[u8]| {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let mut tcp4 = vec![
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    tcp4.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    let mut vlan = vec![0x00, 0x0a, 0x08, 0x00];
    vlan.extend_from_slice(&tcp4);
    let mut tcp6 = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
    tcp6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    tcp6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    tcp6.extend_from_slice(&tcp4[20..]);
    let arp = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ];
    vec![
        eth(0x0800, &tcp4),
        eth(0x8100, &vlan),
        eth(0x86dd, &tcp6),
        eth(0x0806, &arp),
    ]
}

fn extraction(c: &mut Criterion) {
    let fs = frames();
    let mut g = c.benchmark_group("extract");
    for (name, f) in ["ipv4_tcp", "vlan_ipv4_tcp", "ipv6_tcp", "arp"]
        .iter()
        .zip(&fs)
    {
        g.throughput(Throughput::Elements(1));
        g.bench_function(*name, |b| b.iter(|| extract(black_box(f), 3)));
    }
    g.finish();
}

fn flow_mods(c: &mut Criterion) {
    let mut r = Rng(3);
    let mods: Vec<FlowMod> = (0..10_000)
        .map(|i| {
            FlowMod::add(
                1 + r.below(1000) as u16,
                masked_match(i % 30, &mut r),
                out(1),
            )
        })
        .collect();
    let mut g = c.benchmark_group("flow_mod");
    g.throughput(Throughput::Elements(mods.len() as u64));
    g.sample_size(10);
    g.bench_function("add_10k", |b| {
        b.iter_batched(
            FlowTables::new,
            |mut t| {
                for m in &mods {
                    let _ = t.apply(m, 0);
                }
                t
            },
            BatchSize::LargeInput,
        )
    });
    let dels: Vec<FlowMod> = mods
        .iter()
        .map(|m| {
            let mut d = m.clone();
            d.command = FlowModCommand::DeleteStrict;
            d
        })
        .collect();
    g.bench_function("delete_strict_10k", |b| {
        b.iter_batched(
            || {
                let mut t = FlowTables::new();
                for m in &mods {
                    let _ = t.apply(m, 0);
                }
                t
            },
            |mut t| {
                for d in &dels {
                    let _ = t.apply(d, 0);
                }
                t
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    classifier,
    emc_hit,
    megaflow_hit,
    miss,
    extraction,
    flow_mods
);
criterion_main!(benches);
