//! OpenFlow bridges in the datapath, with in-memory ports: flows decide forwarding,
//! counters come back as credits, packet-ins reach the sink, packet-out sends, port config
//! bits apply, and a published change is in effect for the very next batch.

use rvs_api::VlanSpec;
use rvs_datapath::openflow::{OfConfig, OfPort, PacketIn};
use rvs_datapath::ports::memory::{MemoryPort, MemoryPortHandle};
use rvs_datapath::{BridgeId, Datapath, DropReason, PortId};
use rvs_flow::classifier::FlowTables;
use rvs_flow::pipeline::DpAction;
use rvs_openflow::action::Action;
use rvs_openflow::group::{Bucket, GroupMod, GroupModCommand, GroupType};
use rvs_openflow::message::PacketInReason;
use rvs_openflow::meter::{meter_flags, MeterBand, MeterMod, MeterModCommand};
use rvs_openflow::{FlowMod, Instruction, Match, OxmField, PortNo};
use std::sync::{Arc, Mutex};

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// An IPv4 frame from host `s` to host `d` with protocol `proto` and L4 ports.
fn ipv4(s: u8, d: u8, proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&mac(d));
    f.extend_from_slice(&mac(s));
    f.extend_from_slice(&[0x08, 0x00]);
    let l4_len = 20usize;
    let total = 20 + l4_len;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        proto,
    ]);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[10, 0, 0, s, 10, 0, 0, d]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0u8; 16]);
    if proto == 6 {
        f[14 + 20 + 12] = 0x50; // data offset: 5 words
    }
    f
}

struct Rig {
    dp: Datapath,
    br: BridgeId,
    ports: Vec<(PortId, MemoryPortHandle)>,
    tables: FlowTables,
    groups: rvs_flow::group::GroupTable,
    meters: rvs_flow::meter::MeterTable,
    version: u64,
    packet_ins: Arc<Mutex<Vec<PacketIn>>>,
    config: Vec<u32>,
}

impl Rig {
    /// A bridge with `n` ports numbered 1..=n for OpenFlow.
    fn new(n: usize) -> Rig {
        let mut dp = Datapath::new();
        let br = dp.add_bridge("br0", 1024, 300);
        let mut ports = Vec::new();
        for i in 0..n {
            let (p, h) = MemoryPort::new(&format!("p{}", i + 1));
            let id = dp
                .add_port(br, Box::new(p), &VlanSpec::default())
                .expect("port");
            ports.push((id, h));
        }
        let packet_ins = Arc::new(Mutex::new(Vec::new()));
        let sink = packet_ins.clone();
        dp.set_packet_in_sink(Some(Box::new(move |ev| {
            sink.lock().expect("lock").push(ev);
            true
        })));
        Rig {
            dp,
            br,
            ports,
            tables: FlowTables::new(),
            groups: Default::default(),
            meters: Default::default(),
            version: 0,
            packet_ins,
            config: vec![0; n],
        }
    }

    fn add(&mut self, prio: u16, m: Match, actions: Vec<Action>) {
        self.tables
            .apply(
                &FlowMod::add(prio, m, vec![Instruction::ApplyActions(actions)]),
                0,
            )
            .expect("flow-mod");
    }

    fn publish(&mut self) {
        self.version += 1;
        let cfg = OfConfig {
            flows: self.tables.snapshot(),
            groups: Arc::new(self.groups.clone()),
            meters: Arc::new(self.meters.clone()),
            ports: self
                .ports
                .iter()
                .enumerate()
                .map(|(i, (id, _))| OfPort {
                    ofport: i as u32 + 1,
                    port: *id,
                    config: self.config[i],
                })
                .collect(),
            local: None,
            fail_open: false,
            version: self.version,
        };
        self.dp.set_openflow(self.br, Some(Arc::new(cfg)));
    }

    /// Injects on OpenFlow port `p` and polls.
    fn send(&mut self, p: usize, frame: &[u8]) {
        let (id, h) = &self.ports[p - 1];
        h.inject(frame);
        self.dp.poll_port(*id, 1).expect("poll");
    }

    fn sent(&self, p: usize) -> Vec<Vec<u8>> {
        self.ports[p - 1].1.take_sent()
    }

    fn drops(&self, p: usize, r: DropReason) -> u64 {
        self.dp
            .counters(self.ports[p - 1].0)
            .expect("counters")
            .dropped(r)
    }
}

fn out(p: u32) -> Action {
    Action::output(PortNo(p))
}

fn icmp() -> Match {
    Match::new()
        .with(OxmField::EthType(0x0800))
        .with(OxmField::IpProto(1))
}

#[test]
fn only_icmp_passes_and_the_rest_is_counted() {
    let mut r = Rig::new(3);
    r.add(10, icmp(), vec![Action::output(PortNo::NORMAL)]);
    r.publish();
    // ICMP floods (unknown destination) to ports 2 and 3; UDP is dropped by the miss.
    r.send(1, &ipv4(1, 2, 1, 0, 0));
    assert_eq!(r.sent(2).len(), 1);
    assert_eq!(r.sent(3).len(), 1);
    r.send(1, &ipv4(1, 2, 17, 5000, 53));
    assert!(r.sent(2).is_empty() && r.sent(3).is_empty());
    assert_eq!(r.drops(1, DropReason::FlowDrop), 1);
    // NORMAL learned host 1 on port 1: the reply is unicast.
    r.send(2, &ipv4(2, 1, 1, 0, 0));
    assert_eq!(r.sent(1).len(), 1);
    assert!(r.sent(3).is_empty(), "learned: not flooded");
}

#[test]
fn tcp_80_is_steered_and_counters_come_back() {
    let mut r = Rig::new(3);
    r.add(0, Match::new(), vec![out(2)]);
    let web = Match::new()
        .with(OxmField::EthType(0x0800))
        .with(OxmField::IpProto(6))
        .with(OxmField::TcpDst(80));
    r.add(100, web, vec![out(3)]);
    r.publish();
    for sport in 0..5u16 {
        r.send(1, &ipv4(1, 9, 6, 40000 + sport, 80));
    }
    r.send(1, &ipv4(1, 9, 6, 40000, 443));
    r.send(1, &ipv4(1, 9, 17, 40000, 80));
    assert_eq!(r.sent(3).len(), 5, "tcp_dst=80 to port 3");
    assert_eq!(r.sent(2).len(), 2, "the rest to port 2");
    // Counters reach the rules.
    let credits = r.dp.of_collect(r.br);
    r.tables.apply_credits(&credits);
    let stats = r
        .tables
        .flow_stats(&rvs_openflow::multipart::FlowStatsRequest::all(), 1000)
        .expect("flow stats");
    let mut counts: Vec<(u16, u64)> = stats.iter().map(|s| (s.priority, s.packet_count)).collect();
    counts.sort();
    assert_eq!(counts, vec![(0, 2), (100, 5)]);
}

#[test]
fn a_published_change_applies_to_the_next_packet() {
    let mut r = Rig::new(3);
    r.add(5, Match::new(), vec![out(2)]);
    r.publish();
    r.send(1, &ipv4(1, 9, 17, 1, 1));
    assert_eq!(r.sent(2).len(), 1);
    // Same flow (cached in EMC/megaflow), new tables: the next packet goes to 3.
    r.add(5, Match::new(), vec![out(3)]);
    r.publish();
    r.send(1, &ipv4(1, 9, 17, 1, 1));
    assert!(r.sent(2).is_empty());
    assert_eq!(r.sent(3).len(), 1);
}

#[test]
fn output_to_the_ingress_port_needs_in_port() {
    let mut r = Rig::new(2);
    let m1 = Match::new().with(OxmField::InPort(PortNo(1)));
    r.add(5, m1, vec![out(1), out(2)]);
    let m2 = Match::new().with(OxmField::InPort(PortNo(2)));
    r.add(5, m2, vec![Action::output(PortNo::IN_PORT)]);
    r.publish();
    r.send(1, &ipv4(1, 2, 17, 1, 1));
    assert!(r.sent(1).is_empty(), "never back out the ingress port");
    assert_eq!(r.sent(2).len(), 1);
    r.send(2, &ipv4(2, 1, 17, 1, 1));
    assert_eq!(r.sent(2).len(), 1, "IN_PORT sends back");
}

#[test]
fn flood_and_all_skip_the_ingress_port() {
    let mut r = Rig::new(4);
    r.add(1, Match::new(), vec![Action::output(PortNo::FLOOD)]);
    r.publish();
    r.send(2, &ipv4(2, 9, 17, 1, 1));
    assert!(r.sent(2).is_empty());
    for p in [1, 3, 4] {
        assert_eq!(r.sent(p).len(), 1, "port {p}");
    }
}

#[test]
fn table_miss_to_controller_makes_a_packet_in() {
    let mut r = Rig::new(2);
    r.add(
        0,
        Match::new(),
        vec![Action::Output {
            port: PortNo::CONTROLLER,
            max_len: 32,
        }],
    );
    r.publish();
    let f = ipv4(1, 2, 17, 7, 8);
    r.send(2, &f);
    let evs = r.packet_ins.lock().expect("lock").clone();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].in_port, 2);
    assert_eq!(evs[0].reason, PacketInReason::NoMatch);
    assert_eq!(evs[0].frame, f[..32].to_vec());
    assert_eq!(evs[0].total_len, f.len());
}

#[test]
fn packet_out_sends_and_can_use_the_tables() {
    let mut r = Rig::new(3);
    r.add(0, Match::new(), vec![out(3)]);
    r.publish();
    let f = ipv4(7, 8, 17, 1, 2);
    r.dp.packet_out(r.br, 0xffff_fffd, &[DpAction::Output(2)], &f, 1)
        .expect("packet-out");
    assert_eq!(r.sent(2), vec![f.clone()]);
    r.dp.packet_out(r.br, 1, &[DpAction::Output(0xffff_fff9)], &f, 1)
        .expect("packet-out through the tables");
    assert_eq!(r.sent(3), vec![f]);
}

#[test]
fn port_config_no_recv_and_no_fwd() {
    let mut r = Rig::new(3);
    r.add(0, Match::new(), vec![Action::output(PortNo::FLOOD)]);
    r.config = vec![0, 1 << 5, 0]; // port 2 no_fwd
    r.publish();
    r.send(1, &ipv4(1, 9, 17, 1, 1));
    assert!(r.sent(2).is_empty());
    assert_eq!(r.sent(3).len(), 1);
    r.config = vec![1 << 2, 0, 0]; // port 1 no_recv
    r.publish();
    r.send(1, &ipv4(1, 9, 17, 1, 1));
    assert!(r.sent(2).is_empty() && r.sent(3).is_empty());
    assert_eq!(r.drops(1, DropReason::PortNoRecv), 1);
}

#[test]
fn fail_open_and_no_tables_fall_back_to_the_l2_switch() {
    let mut r = Rig::new(2);
    // No tables published: plain L2 switch.
    r.send(1, &ipv4(1, 2, 17, 1, 1));
    assert_eq!(r.sent(2).len(), 1);
    // Empty tables: everything dropped.
    r.publish();
    r.send(1, &ipv4(1, 2, 17, 1, 1));
    assert!(r.sent(2).is_empty());
    // Back to None: the L2 switch again.
    r.dp.set_openflow(r.br, None);
    r.send(1, &ipv4(1, 2, 17, 1, 1));
    assert_eq!(r.sent(2).len(), 1);
}

#[test]
fn garbage_frames_are_counted_not_fatal() {
    let mut r = Rig::new(2);
    r.add(0, Match::new(), vec![out(2)]);
    r.publish();
    r.send(1, &[1, 2, 3]);
    assert_eq!(r.drops(1, DropReason::Runt), 1);
    // Truncated IPv4 header still forwards (the key just lacks L3 fields).
    let mut f = ipv4(1, 2, 6, 1, 80);
    f.truncate(20);
    r.send(1, &f);
    assert_eq!(r.sent(2).len(), 1);
}

fn group(id: u32, kind: GroupType, buckets: Vec<Bucket>) -> GroupMod {
    GroupMod {
        command: GroupModCommand::Add,
        group_type: kind,
        group_id: id,
        buckets,
    }
}

fn weighted(w: u16, port: u32) -> Bucket {
    let mut b = Bucket::new(vec![out(port)]);
    b.weight = w;
    b
}

#[test]
fn select_group_spreads_flows_and_keeps_each_flow_on_one_port() {
    let mut r = Rig::new(4);
    r.groups
        .apply(&group(
            7,
            GroupType::Select,
            vec![weighted(1, 2), weighted(1, 3), weighted(1, 4)],
        ))
        .expect("group");
    r.add(1, Match::new(), vec![Action::Group(7)]);
    r.publish();
    let mut per_port = [0usize; 5];
    for flow in 0..60u16 {
        // Each flow twice: both packets must leave on the same port.
        for _ in 0..2 {
            r.send(1, &ipv4(1, 9, 17, 1000 + flow, 53));
        }
        let mut got = Vec::new();
        for p in 2..=4 {
            let n = r.sent(p).len();
            if n > 0 {
                got.push((p, n));
            }
        }
        assert_eq!(got.len(), 1, "flow {flow} went to {got:?}");
        assert_eq!(got[0].1, 2);
        per_port[got[0].0] += 1;
    }
    for (p, n) in per_port.iter().enumerate().skip(2) {
        assert!(*n >= 8, "port {p} got {n} of 60 flows");
    }
    let g = r.groups.get(7).expect("group");
    assert_eq!(g.counts().0, 120, "group counted every packet");
}

#[test]
fn all_group_copies_and_fast_failover_follows_liveness() {
    let mut r = Rig::new(4);
    r.groups
        .apply(&group(
            1,
            GroupType::All,
            vec![Bucket::new(vec![out(2)]), Bucket::new(vec![out(3)])],
        ))
        .expect("all group");
    let mut b1 = Bucket::new(vec![out(2)]);
    b1.watch_port = PortNo(2);
    let mut b2 = Bucket::new(vec![out(4)]);
    b2.watch_port = PortNo(4);
    r.groups
        .apply(&group(2, GroupType::FastFailover, vec![b1, b2]))
        .expect("ff group");
    let m1 = Match::new().with(OxmField::InPort(PortNo(1)));
    r.add(1, m1, vec![Action::Group(1)]);
    let m3 = Match::new().with(OxmField::InPort(PortNo(3)));
    r.add(1, m3, vec![Action::Group(2)]);
    r.publish();
    r.send(1, &ipv4(1, 9, 17, 1, 1));
    assert_eq!(
        (r.sent(2).len(), r.sent(3).len()),
        (1, 1),
        "all: both buckets"
    );
    r.send(3, &ipv4(3, 9, 17, 1, 1));
    assert_eq!((r.sent(2).len(), r.sent(4).len()), (1, 0), "ff: first live");
    // Port 2 goes away: fast-failover moves to port 4.
    let (id2, _) = r.ports[1];
    assert!(r.dp.del_port(id2).is_some());
    r.send(3, &ipv4(3, 9, 17, 1, 1));
    assert_eq!(r.sent(4).len(), 1, "ff: failed over");
}

#[test]
fn meter_drops_over_the_rate() {
    let mut r = Rig::new(2);
    r.meters
        .apply(
            &MeterMod {
                command: MeterModCommand::Add,
                flags: meter_flags::PKTPS | meter_flags::BURST,
                meter_id: 1,
                bands: vec![MeterBand::Drop {
                    rate: 10,
                    burst_size: 10,
                }],
            },
            rvs_datapath::openflow::mono_ns(),
        )
        .expect("meter");
    r.tables
        .apply(
            &FlowMod::add(
                1,
                Match::new(),
                vec![
                    Instruction::Meter(1),
                    Instruction::ApplyActions(vec![out(2)]),
                ],
            ),
            0,
        )
        .expect("flow");
    r.publish();
    // 200 packets at once: the burst passes, the rest is over 10 pkt/s.
    for i in 0..200u16 {
        r.send(1, &ipv4(1, 2, 17, i, 1));
    }
    let passed = r.sent(2).len();
    assert!((10..=25).contains(&passed), "passed {passed}");
    assert_eq!(r.drops(1, DropReason::Meter) as usize, 200 - passed);
}

#[test]
fn set_field_and_vlan_push_rewrite_a_copy() {
    let mut r = Rig::new(3);
    r.add(
        1,
        Match::new().with(OxmField::InPort(PortNo(1))),
        vec![
            out(3),
            Action::SetField(OxmField::EthDst(rvs_openflow::oxm::Masked::exact([
                0x02, 0, 0, 0, 0, 0xaa,
            ]))),
            Action::PushVlan(0x8100),
            Action::SetField(OxmField::VlanVid(rvs_openflow::oxm::Masked::exact(
                0x1000 | 42,
            ))),
            out(2),
        ],
    );
    r.publish();
    let f = ipv4(1, 9, 17, 1, 1);
    r.send(1, &f);
    assert_eq!(
        r.sent(3),
        vec![f.clone()],
        "output before the rewrite: as received"
    );
    let got = r.sent(2);
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(&g[..6], &[0x02, 0, 0, 0, 0, 0xaa]);
    assert_eq!(&g[12..16], &[0x81, 0x00, 0x00, 42]);
    assert_eq!(&g[16..], &f[12..]);
}

#[test]
fn dec_ttl_to_zero_drops() {
    let mut r = Rig::new(2);
    r.add(
        1,
        Match::new().with(OxmField::EthType(0x0800)),
        vec![Action::DecNwTtl, out(2)],
    );
    r.publish();
    let mut f = ipv4(1, 2, 17, 1, 1);
    r.send(1, &f);
    let got = r.sent(2);
    assert_eq!(got[0][22], 63, "ttl decremented");
    f[22] = 1;
    r.send(1, &f);
    assert!(r.sent(2).is_empty());
    assert_eq!(r.drops(1, DropReason::TtlExpired), 1);
}
