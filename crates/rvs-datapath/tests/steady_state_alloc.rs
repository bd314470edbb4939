//! No allocation per packet in steady state: once addresses are learned and the flow caches
//! hold the traffic's megaflows, forwarding batch after batch allocates nothing, through
//! the plain L2 switch and through an OpenFlow pipeline with header rewrites, a select
//! group and NORMAL.
//!
//! A counting global allocator counts allocations made by this test's thread while armed;
//! the ports replay prebuilt frames and count what they send without storing it, so any
//! allocation counted is the datapath's.

use rvs_api::VlanSpec;
use rvs_datapath::openflow::{OfConfig, OfPort};
use rvs_datapath::packet::{RxBatch, TxFrame};
use rvs_datapath::port::{Port, PortFault, TxOutcome};
use rvs_datapath::{BridgeId, Datapath, PortId};
use rvs_flow::classifier::FlowTables;
use rvs_openflow::action::Action;
use rvs_openflow::group::{Bucket, GroupMod, GroupModCommand, GroupType};
use rvs_openflow::oxm::Masked;
use rvs_openflow::{FlowMod, Instruction, Match, OxmField, PortNo};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[global_allocator]
static GLOBAL: rvs_lab::alloc_count::CountingAllocator = rvs_lab::alloc_count::CountingAllocator;

use rvs_lab::alloc_count::allocations_in;

/// Replays its frames round-robin, a full batch per receive; counts what it is given.
struct ReplayPort {
    name: String,
    frames: Arc<Vec<Vec<u8>>>,
    next: usize,
    sent: Arc<AtomicU64>,
}

impl Port for ReplayPort {
    fn name(&self) -> &str {
        &self.name
    }
    fn recv_batch(&mut self, batch: &mut RxBatch) -> Result<usize, PortFault> {
        if self.frames.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        for slot in batch.free_slots() {
            slot.fill(&self.frames[self.next % self.frames.len()]);
            self.next += 1;
            n += 1;
        }
        batch.commit(n);
        Ok(n)
    }
    fn send_batch(&mut self, frames: &[TxFrame<'_>]) -> TxOutcome {
        self.sent.fetch_add(frames.len() as u64, Ordering::Relaxed);
        TxOutcome {
            sent: frames.len(),
            bytes: frames.iter().map(|f| f.len() as u64).sum(),
        }
    }
    fn poll_fd(&self) -> Option<RawFd> {
        None
    }
    fn mtu(&self) -> usize {
        1500
    }
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// A TCP/IPv4 frame from host `s` to host `d`.
fn tcp(s: u8, d: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&mac(d));
    f.extend_from_slice(&mac(s));
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, s, 10, 0, 0, d]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    f.resize(60, 0);
    f
}

struct Rig {
    dp: Datapath,
    br: BridgeId,
    ports: Vec<(PortId, Arc<AtomicU64>)>,
}

/// A bridge with one replay port per frame list (OpenFlow ports 1..=n).
fn rig(traffic: Vec<Vec<Vec<u8>>>) -> Rig {
    let mut dp = Datapath::new();
    let br = dp.add_bridge("br0", 1024, 300);
    let mut ports = Vec::new();
    for (i, frames) in traffic.into_iter().enumerate() {
        let sent = Arc::new(AtomicU64::new(0));
        let p = ReplayPort {
            name: format!("p{}", i + 1),
            frames: Arc::new(frames),
            next: 0,
            sent: sent.clone(),
        };
        let id = dp
            .add_port(br, Box::new(p), &VlanSpec::default())
            .expect("port");
        ports.push((id, sent));
    }
    Rig { dp, br, ports }
}

impl Rig {
    /// One receive batch on every port (a full one on ports with traffic).
    fn round(&mut self) {
        for (id, _) in &self.ports {
            self.dp.poll_port(*id, 1).expect("poll");
        }
    }

    fn sent(&self) -> u64 {
        self.ports
            .iter()
            .map(|(_, s)| s.load(Ordering::Relaxed))
            .sum()
    }

    /// Warms up, then checks that `rounds` more rounds allocate nothing and forward.
    fn assert_steady(&mut self, rounds: usize, what: &str) {
        for _ in 0..20 {
            self.round();
        }
        let before = self.sent();
        let n = allocations_in(|| {
            for _ in 0..rounds {
                self.round();
            }
        });
        let forwarded = self.sent() - before;
        assert_eq!(n, 0, "{what}: {n} allocations in {rounds} rounds");
        assert!(
            forwarded >= (rounds * rvs_datapath::packet::BATCH_SIZE) as u64,
            "{what}: only {forwarded} frames forwarded"
        );
    }
}

/// Host 1 on port 1 and host 2 on port 2 talk over several TCP connections.
fn two_hosts() -> Vec<Vec<Vec<u8>>> {
    let conns = 0..8u16;
    vec![
        conns.clone().map(|c| tcp(1, 2, 40000 + c, 80)).collect(),
        conns.map(|c| tcp(2, 1, 80, 40000 + c)).collect(),
    ]
}

#[test]
fn l2_switch_forwards_without_allocating() {
    let mut r = rig(two_hosts());
    r.assert_steady(500, "L2 known unicast");
}

#[test]
fn l2_flooding_without_allocating() {
    // Unknown destinations (host 9 never speaks) are flooded to the other ports.
    let mut r = rig(vec![
        (0..4u16).map(|c| tcp(1, 9, 1000 + c, 80)).collect(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    ]);
    for _ in 0..20 {
        r.dp.poll_port(r.ports[0].0, 1).expect("poll");
    }
    let id = r.ports[0].0;
    let n = allocations_in(|| {
        for _ in 0..500 {
            r.dp.poll_port(id, 1).expect("poll");
        }
    });
    assert_eq!(n, 0, "flooding: {n} allocations");
    assert!(r.sent() >= 3 * 500 * 32, "flooded {}", r.sent());
}

#[test]
fn openflow_pipeline_with_rewrites_and_groups_without_allocating() {
    let mut r = rig(two_hosts());
    r.ports.push({
        let sent = Arc::new(AtomicU64::new(0));
        let p = ReplayPort {
            name: "p3".into(),
            frames: Arc::new(Vec::new()),
            next: 0,
            sent: sent.clone(),
        };
        let id =
            r.dp.add_port(r.br, Box::new(p), &VlanSpec::default())
                .expect("port");
        (id, sent)
    });
    let mut tables = FlowTables::new();
    let add = |t: &mut FlowTables, prio: u16, m: Match, inst: Vec<Instruction>| {
        t.apply(&FlowMod::add(prio, m, inst), 0).expect("flow-mod");
    };
    // Web traffic from port 1: rewrite the destination MAC and spread over a select group
    // of ports 2 and 3; the replies (port 2) go through table 1 and NORMAL (which floods
    // them: host 1 is never learned, its frames never reach NORMAL).
    let web = Match::new()
        .with(OxmField::InPort(PortNo(1)))
        .with(OxmField::EthType(0x0800))
        .with(OxmField::IpProto(6))
        .with(OxmField::TcpDst(80));
    add(
        &mut tables,
        100,
        web,
        vec![Instruction::ApplyActions(vec![
            Action::SetField(OxmField::EthDst(Masked::exact(mac(2)))),
            Action::Group(7),
        ])],
    );
    add(
        &mut tables,
        0,
        Match::new(),
        vec![Instruction::GotoTable(1)],
    );
    let mut t1 = FlowMod::add(
        0,
        Match::new(),
        vec![Instruction::ApplyActions(vec![Action::output(
            PortNo::NORMAL,
        )])],
    );
    t1.table_id = 1;
    tables.apply(&t1, 0).expect("table 1");
    let mut groups = rvs_flow::group::GroupTable::default();
    groups
        .apply(&GroupMod {
            command: GroupModCommand::Add,
            group_type: GroupType::Select,
            group_id: 7,
            buckets: [2u32, 3]
                .iter()
                .map(|p| {
                    let mut b = Bucket::new(vec![Action::output(PortNo(*p))]);
                    b.weight = 1;
                    b
                })
                .collect(),
        })
        .expect("group");
    let cfg = OfConfig {
        flows: tables.snapshot(),
        groups: Arc::new(groups),
        meters: Arc::new(Default::default()),
        ports: r
            .ports
            .iter()
            .enumerate()
            .map(|(i, (id, _))| OfPort {
                ofport: i as u32 + 1,
                port: *id,
                config: 0,
            })
            .collect(),
        local: None,
        fail_open: false,
        version: 1,
    };
    r.dp.set_openflow(r.br, Some(Arc::new(cfg)));
    r.assert_steady(500, "OpenFlow set-field + select group + NORMAL");
    // Both group buckets carried traffic.
    assert!(
        r.ports[1].1.load(Ordering::Relaxed) > 0 && r.ports[2].1.load(Ordering::Relaxed) > 0,
        "select group used one bucket only: {:?}",
        r.ports
            .iter()
            .map(|(_, s)| s.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
    );
    // The counters reach the rules: what the caches forwarded is accounted.
    let credits = r.dp.of_collect(r.br);
    assert!(!credits.is_empty());
}
