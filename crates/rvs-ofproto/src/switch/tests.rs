use super::*;
use rvs_openflow::error::{ErrorCode, FlowModFailedCode, GroupModFailedCode};
use rvs_openflow::group::{Bucket, GroupModCommand, GroupType};
use rvs_openflow::message::{flow_mod_flags, FlowRemoved};
use rvs_openflow::meter::MeterBand;
use rvs_openflow::multipart::{FlowStatsRequest, OFPMPF_MORE};
use rvs_openflow::Masked;

#[derive(Default)]
struct FakeDp {
    published: Vec<Arc<OfSnapshot>>,
    packet_outs: Vec<(u32, Vec<DpAction>, Vec<u8>)>,
    credits: Vec<Credit>,
    collects: usize,
    port_stats: Vec<PortStats>,
}

impl DpControl for FakeDp {
    fn publish(&mut self, snap: Arc<OfSnapshot>) {
        self.published.push(snap);
    }
    fn packet_out(
        &mut self,
        in_port: u32,
        actions: Vec<DpAction>,
        frame: Vec<u8>,
    ) -> Result<(), OfError> {
        self.packet_outs.push((in_port, actions, frame));
        Ok(())
    }
    fn collect(&mut self) -> Vec<Credit> {
        self.collects += 1;
        std::mem::take(&mut self.credits)
    }
    fn port_stats(&mut self) -> Vec<PortStats> {
        self.port_stats.clone()
    }
    fn port_live(&self, _ofport: u32) -> bool {
        true
    }
}

const C1: ConnId = 1;
const C2: ConnId = 2;
const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn switch(mode: FailMode) -> OfSwitch {
    let mut o = OfSwitchOptions::new("br0", 0x42);
    o.fail_mode = mode;
    let mut s = OfSwitch::new(o, 0);
    s.conn_up(C1, 0);
    s
}

fn send(s: &mut OfSwitch, dp: &mut FakeDp, conn: ConnId, msg: Message) -> Vec<Outgoing> {
    s.handle(conn, 7, msg, 0, dp)
}

fn error_code(out: &[Outgoing]) -> Option<ErrorCode> {
    out.iter().find_map(|o| match &o.msg {
        Message::Error(e) => Some(e.code),
        _ => None,
    })
}

fn output(p: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![Action::output(PortNo(p))])]
}

fn eth_dst(i: u32) -> Match {
    let b = i.to_be_bytes();
    Match::new().with(OxmField::EthDst(Masked::exact([
        2, 0, b[0], b[1], b[2], b[3],
    ])))
}

fn flows(s: &mut OfSwitch, dp: &mut FakeDp) -> Vec<rvs_openflow::multipart::FlowStats> {
    let out = send(
        s,
        dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Flow(
            FlowStatsRequest::all(),
        ))),
    );
    let mut v = Vec::new();
    for o in out {
        match o.msg {
            Message::MultipartReply(MultipartReply {
                body: MultipartReplyBody::Flow(f),
                ..
            }) => v.extend(f),
            m => panic!("unexpected {m:?}"),
        }
    }
    v
}

#[test]
fn features_config_echo_desc() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    let out = send(&mut s, &mut dp, C1, Message::FeaturesRequest);
    match &out[0].msg {
        Message::FeaturesReply(f) => {
            assert_eq!(f.datapath_id, 0x42);
            assert_eq!(f.n_buffers, 0);
            assert_eq!(f.n_tables, 254);
        }
        m => panic!("{m:?}"),
    }
    assert_eq!(out[0].xid, 7);
    let set = SwitchConfig {
        flags: 0,
        miss_send_len: 256,
    };
    assert!(send(&mut s, &mut dp, C1, Message::SetConfig(set)).is_empty());
    let out = send(&mut s, &mut dp, C1, Message::GetConfigRequest);
    assert_eq!(out[0].msg, Message::GetConfigReply(set));
    let out = send(&mut s, &mut dp, C1, Message::EchoRequest(vec![1, 2]));
    assert_eq!(out[0].msg, Message::EchoReply(vec![1, 2]));
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Desc)),
    );
    match &out[0].msg {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::Desc(d),
            ..
        }) => assert_eq!(d.dp_desc.to_string_lossy(), "br0"),
        m => panic!("{m:?}"),
    }
}

#[test]
fn unsupported_messages_get_the_spec_error() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    let out = send(&mut s, &mut dp, C1, Message::BarrierReply);
    assert_eq!(error_code(&out), Some(BadRequestCode::BadType.into()));
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::Experimenter(rvs_openflow::message::Experimenter {
            experimenter: 1,
            exp_type: 2,
            data: vec![],
        }),
    );
    assert_eq!(
        error_code(&out),
        Some(BadRequestCode::BadExperimenter.into())
    );
    // The error carries the start of the request.
    match &out[0].msg {
        Message::Error(e) => assert_eq!(&e.data[..2], &[4, 4]),
        m => panic!("{m:?}"),
    }
}

#[test]
fn fail_modes_and_default_flow() {
    let mut s = switch(FailMode::Standalone);
    let mut dp = FakeDp::default();
    let f = flows(&mut s, &mut dp);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].priority, 0);
    assert_eq!(
        f[0].instructions,
        vec![Instruction::ApplyActions(vec![Action::output(
            PortNo::NORMAL
        )])]
    );
    let mut s = switch(FailMode::Secure);
    assert!(flows(&mut s, &mut dp).is_empty());

    // Fail-open: standalone, controllers configured, none connected for 3 probes.
    let mut s = OfSwitch::new(OfSwitchOptions::new("br0", 1), 0);
    s.set_controllers_configured(true, 0);
    s.tick(14_999, &mut dp);
    assert!(!s.fail_open());
    s.tick(15_000, &mut dp);
    assert!(s.fail_open());
    assert!(dp.published.last().is_some_and(|p| p.fail_open));
    s.conn_up(C1, 16_000);
    assert!(!s.fail_open());
    s.tick(16_001, &mut dp);
    assert!(dp.published.last().is_some_and(|p| !p.fail_open));
    s.conn_down(C1, 20_000);
    s.tick(34_999, &mut dp);
    assert!(!s.fail_open());
    s.tick(35_000, &mut dp);
    assert!(s.fail_open());
    // Secure never fails open.
    s.set_fail_mode(FailMode::Secure);
    assert!(!s.fail_open());
}

#[test]
fn flow_mod_checks_and_lazy_publish() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    s.flush(&mut dp);
    let before = dp.published.len();
    // Output to a port that does not exist is allowed.
    let fm = FlowMod::add(10, eth_dst(1), output(99));
    assert!(send(&mut s, &mut dp, C1, Message::FlowMod(fm)).is_empty());
    assert_eq!(dp.published.len(), before, "publishing is lazy");
    let out = send(&mut s, &mut dp, C1, Message::BarrierRequest);
    assert_eq!(out[0].msg, Message::BarrierReply);
    assert_eq!(dp.published.len(), before + 1);
    assert_eq!(dp.published.last().map(|p| p.flows.len()), Some(1));
    // Nothing changed: a second barrier does not publish again.
    send(&mut s, &mut dp, C1, Message::BarrierRequest);
    assert_eq!(dp.published.len(), before + 1);

    let bad_group = FlowMod::add(
        10,
        eth_dst(2),
        vec![Instruction::ApplyActions(vec![Action::Group(5)])],
    );
    let out = send(&mut s, &mut dp, C1, Message::FlowMod(bad_group));
    assert_eq!(error_code(&out), Some(BadActionCode::BadOutGroup.into()));
    let bad_meter = FlowMod::add(10, eth_dst(2), vec![Instruction::Meter(3)]);
    let out = send(&mut s, &mut dp, C1, Message::FlowMod(bad_meter));
    assert_eq!(
        error_code(&out),
        Some(MeterModFailedCode::UnknownMeter.into())
    );
    let mut buffered = FlowMod::add(10, eth_dst(2), output(1));
    buffered.buffer_id = 1;
    let out = send(&mut s, &mut dp, C1, Message::FlowMod(buffered));
    assert_eq!(error_code(&out), Some(BadRequestCode::BufferUnknown.into()));
    let mut bad_table = FlowMod::add(10, eth_dst(2), output(1));
    bad_table.table_id = 254;
    let out = send(&mut s, &mut dp, C1, Message::FlowMod(bad_table));
    assert_eq!(error_code(&out), Some(FlowModFailedCode::BadTableId.into()));
    assert_eq!(flows(&mut s, &mut dp).len(), 1);
}

#[test]
fn stats_collect_credits_first() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    send(
        &mut s,
        &mut dp,
        C1,
        Message::FlowMod(FlowMod::add(1, eth_dst(1), output(1))),
    );
    let n = dp.collects;
    flows(&mut s, &mut dp);
    assert_eq!(dp.collects, n + 1);
}

#[test]
fn groups_and_meters() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    let gm = GroupMod {
        command: GroupModCommand::Add,
        group_type: GroupType::All,
        group_id: 5,
        buckets: vec![Bucket::new(vec![Action::output(PortNo(1))])],
    };
    assert!(send(&mut s, &mut dp, C1, Message::GroupMod(gm.clone())).is_empty());
    let out = send(&mut s, &mut dp, C1, Message::GroupMod(gm.clone()));
    assert_eq!(
        error_code(&out),
        Some(GroupModFailedCode::GroupExists.into())
    );
    let mm = MeterMod {
        command: MeterModCommand::Add,
        flags: rvs_openflow::meter::meter_flags::KBPS,
        meter_id: 3,
        bands: vec![MeterBand::Drop {
            rate: 1000,
            burst_size: 0,
        }],
    };
    assert!(send(&mut s, &mut dp, C1, Message::MeterMod(mm)).is_empty());
    let mut fm = FlowMod::add(
        10,
        eth_dst(2),
        vec![
            Instruction::Meter(3),
            Instruction::ApplyActions(vec![Action::Group(5)]),
        ],
    );
    fm.flags = flow_mod_flags::SEND_FLOW_REM;
    assert!(send(&mut s, &mut dp, C1, Message::FlowMod(fm)).is_empty());
    send(
        &mut s,
        &mut dp,
        C1,
        Message::FlowMod(FlowMod::add(9, eth_dst(3), output(1))),
    );
    // Group stats count the flow referring to it.
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Group(
            rvs_openflow::group::OFPG_ALL,
        ))),
    );
    match &out[0].msg {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::Group(g),
            ..
        }) => assert_eq!((g[0].group_id, g[0].ref_count), (5, 1)),
        m => panic!("{m:?}"),
    }
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Meter(OFPM_ALL))),
    );
    match &out[0].msg {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::Meter(m),
            ..
        }) => assert_eq!((m[0].meter_id, m[0].flow_count), (3, 1)),
        m => panic!("{m:?}"),
    }
    // Deleting the group deletes the flow, with a flow-removed (reason group delete).
    let del = GroupMod {
        command: GroupModCommand::Delete,
        buckets: vec![],
        ..gm
    };
    let out = send(&mut s, &mut dp, C1, Message::GroupMod(del));
    match &out[..] {
        [Outgoing {
            msg:
                Message::FlowRemoved(FlowRemoved {
                    reason,
                    priority: 10,
                    ..
                }),
            ..
        }] => assert_eq!(*reason, FlowRemovedReason::GroupDelete),
        o => panic!("{o:?}"),
    }
    assert_eq!(flows(&mut s, &mut dp).len(), 1);
    assert!(s.groups().is_empty());
}

#[test]
fn port_map_and_port_mod() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    let desc = PortDesc {
        hw_addr: MAC1,
        link_up: true,
        ..PortDesc::default()
    };
    let (a, st) = s.port_added("a", None, desc, 0).expect("add a");
    assert_eq!(a, 1);
    assert!(matches!(&st[0].msg, Message::PortStatus(p) if p.reason == PortReason::Add));
    let (b, _) = s.port_added("b", Some(10), desc, 0).expect("add b");
    assert_eq!(b, 10);
    // Requested number taken: the lowest free one.
    let (c, _) = s.port_added("c", Some(10), desc, 0).expect("add c");
    assert_eq!(c, 2);
    assert!(s.port_added("c", None, desc, 0).is_err());
    s.port_removed("a", 0);
    let (d, _) = s.port_added("d", None, desc, 0).expect("add d");
    assert_eq!(d, 1, "numbers are reused only after the port is gone");

    let pm = |port: u32, hw: [u8; 6], config: u32, mask: u32| {
        Message::PortMod(PortMod {
            port_no: PortNo(port),
            hw_addr: hw,
            config,
            mask,
            advertise: 0,
        })
    };
    let out = send(
        &mut s,
        &mut dp,
        C1,
        pm(10, MAC1, port_config::NO_FWD, port_config::NO_FWD),
    );
    assert!(
        matches!(&out[0].msg, Message::PortStatus(p) if p.reason == PortReason::Modify && p.desc.config == port_config::NO_FWD)
    );
    assert_eq!(s.port_config(10), Some(port_config::NO_FWD));
    s.flush(&mut dp);
    assert!(dp.published.last().is_some_and(|p| p.ports.contains(&(
        10,
        "b".into(),
        port_config::NO_FWD
    ))));
    let out = send(&mut s, &mut dp, C1, pm(77, MAC1, 0, 1));
    assert_eq!(error_code(&out), Some(PortModFailedCode::BadPort.into()));
    let out = send(&mut s, &mut dp, C1, pm(10, [9; 6], 0, 1));
    assert_eq!(error_code(&out), Some(PortModFailedCode::BadHwAddr.into()));
    let out = send(&mut s, &mut dp, C1, pm(10, MAC1, 1 << 3, 1 << 3));
    assert_eq!(error_code(&out), Some(PortModFailedCode::BadConfig.into()));

    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::PortDesc)),
    );
    match &out[0].msg {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::PortDesc(p),
            ..
        }) => {
            let names: Vec<_> = p
                .iter()
                .map(|p| (p.port_no.0, p.name.to_string_lossy()))
                .collect();
            assert_eq!(
                names,
                vec![(1, "d".into()), (2, "c".into()), (10, "b".into())]
            );
        }
        m => panic!("{m:?}"),
    }
    dp.port_stats = vec![
        PortStats {
            port_no: PortNo(2),
            rx_packets: 5,
            ..Default::default()
        },
        PortStats {
            port_no: PortNo(10),
            rx_packets: 6,
            ..Default::default()
        },
    ];
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::PortStats(
            PortNo(10),
        ))),
    );
    match &out[0].msg {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::PortStats(p),
            ..
        }) => assert_eq!(p.iter().map(|p| p.rx_packets).collect::<Vec<_>>(), vec![6]),
        m => panic!("{m:?}"),
    }
}

#[test]
fn packet_out() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    s.port_added("a", None, PortDesc::default(), 0)
        .expect("add");
    let po = |buffer_id: u32, in_port: PortNo, data: Vec<u8>| {
        Message::PacketOut(PacketOut {
            buffer_id,
            in_port,
            actions: vec![Action::output(PortNo::FLOOD)],
            data,
        })
    };
    let out = send(&mut s, &mut dp, C1, po(3, PortNo(1), vec![1; 60]));
    assert_eq!(error_code(&out), Some(BadRequestCode::BufferUnknown.into()));
    let out = send(
        &mut s,
        &mut dp,
        C1,
        po(OFP_NO_BUFFER, PortNo(9), vec![1; 60]),
    );
    assert_eq!(error_code(&out), Some(BadRequestCode::BadPort.into()));
    let n = dp.published.len();
    send(
        &mut s,
        &mut dp,
        C1,
        Message::FlowMod(FlowMod::add(1, eth_dst(1), output(1))),
    );
    let out = send(
        &mut s,
        &mut dp,
        C1,
        po(OFP_NO_BUFFER, PortNo(1), vec![1; 60]),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(dp.published.len(), n + 1, "packet-out flushes first");
    assert_eq!(
        dp.packet_outs,
        vec![(1, vec![DpAction::Flood], vec![1; 60])]
    );
}

#[test]
fn roles_and_generation_ids() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    s.conn_up(C2, 0);
    let role = |r: ControllerRole, g: u64| {
        Message::RoleRequest(Role {
            role: r,
            generation_id: g,
        })
    };
    let out = send(&mut s, &mut dp, C1, role(ControllerRole::Master, 10));
    assert_eq!(
        out[0].msg,
        Message::RoleReply(Role {
            role: ControllerRole::Master,
            generation_id: 10
        })
    );
    // C2 takes over: C1 becomes slave.
    send(&mut s, &mut dp, C2, role(ControllerRole::Master, 11));
    assert_eq!(s.role(C1), Some(ControllerRole::Slave));
    assert_eq!(s.role(C2), Some(ControllerRole::Master));
    // A stale generation id is refused.
    let out = send(&mut s, &mut dp, C1, role(ControllerRole::Master, 9));
    assert_eq!(error_code(&out), Some(RoleRequestFailedCode::Stale.into()));
    assert_eq!(s.role(C1), Some(ControllerRole::Slave));
    // Wrap-around: 2^64 - 1 is older than 11.
    let out = send(&mut s, &mut dp, C1, role(ControllerRole::Master, u64::MAX));
    assert_eq!(error_code(&out), Some(RoleRequestFailedCode::Stale.into()));
    // No-change reports the role.
    let out = send(&mut s, &mut dp, C1, role(ControllerRole::NoChange, 0));
    assert!(matches!(
        out[0].msg,
        Message::RoleReply(Role {
            role: ControllerRole::Slave,
            generation_id: 11
        })
    ));
    // Slaves may read but not write.
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::FlowMod(FlowMod::add(1, eth_dst(1), output(1))),
    );
    assert_eq!(error_code(&out), Some(BadRequestCode::IsSlave.into()));
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::SetConfig(SwitchConfig::default()),
    );
    assert_eq!(error_code(&out), Some(BadRequestCode::IsSlave.into()));
    assert_eq!(
        error_code(&send(&mut s, &mut dp, C1, Message::FeaturesRequest)),
        None
    );

    // Async: the slave gets no packet-in, the master does; port status goes to both.
    let ev = PacketInEvent {
        in_port: 1,
        reason: PacketInReason::NoMatch,
        table_id: 0,
        cookie: 0,
        frame: vec![0; 64],
        total_len: 64,
        metadata: 0,
        tunnel_id: 0,
    };
    let out = s.packet_in(ev.clone(), 0);
    assert_eq!(out.iter().map(|o| o.to).collect::<Vec<_>>(), vec![C2]);
    let (_, st) = s
        .port_added("p", None, PortDesc::default(), 0)
        .expect("add");
    assert_eq!(st.iter().map(|o| o.to).collect::<Vec<_>>(), vec![C1, C2]);
    // The slave asks for packet-ins; the master turns off misses.
    let mut cfg = DEFAULT_ASYNC;
    cfg.packet_in_mask[1] = 1 << PacketInReason::NoMatch.to_u8();
    send(&mut s, &mut dp, C1, Message::SetAsync(cfg));
    let mut cfg2 = DEFAULT_ASYNC;
    cfg2.packet_in_mask[0] = 1 << PacketInReason::Action.to_u8();
    send(&mut s, &mut dp, C2, Message::SetAsync(cfg2));
    let out = send(&mut s, &mut dp, C2, Message::GetAsyncRequest);
    assert_eq!(out[0].msg, Message::GetAsyncReply(cfg2));
    let out = s.packet_in(ev, 0);
    assert_eq!(out.iter().map(|o| o.to).collect::<Vec<_>>(), vec![C1]);
    // Equal role: C1 returns to equal and may write again.
    send(&mut s, &mut dp, C1, role(ControllerRole::Equal, 0));
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::FlowMod(FlowMod::add(1, eth_dst(1), output(1))),
    );
    assert!(out.is_empty());
}

#[test]
fn packet_in_rate_limit_and_no_packet_in_ports() {
    let mut s = switch(FailMode::Secure);
    let (p, _) = s
        .port_added("a", None, PortDesc::default(), 0)
        .expect("add");
    let ev = |in_port: u32| PacketInEvent {
        in_port,
        reason: PacketInReason::Action,
        table_id: 3,
        cookie: 9,
        frame: vec![1; 10],
        total_len: 100,
        metadata: 5,
        tunnel_id: 0,
    };
    let mut sent = 0;
    for _ in 0..1500 {
        sent += s.packet_in(ev(p), 0).len();
    }
    assert_eq!(sent, 1000);
    assert_eq!(s.counters().packet_in_dropped, 500);
    // Tokens come back with time: 100 ms = 100 packet-ins.
    let mut sent = 0;
    for _ in 0..200 {
        sent += s.packet_in(ev(p), 100).len();
    }
    assert_eq!(sent, 100);
    let out = s.packet_in(ev(p), 10_000);
    match &out[0].msg {
        Message::PacketIn(pi) => {
            assert_eq!(pi.buffer_id, OFP_NO_BUFFER);
            assert_eq!((pi.total_len, pi.table_id, pi.cookie), (100, 3, 9));
            assert_eq!(
                pi.match_,
                Match::new()
                    .with(OxmField::InPort(PortNo(p)))
                    .with(OxmField::Metadata(Masked::exact(5)))
            );
        }
        m => panic!("{m:?}"),
    }
    let mut dp = FakeDp::default();
    send(
        &mut s,
        &mut dp,
        C1,
        Message::PortMod(PortMod {
            port_no: PortNo(p),
            hw_addr: [0; 6],
            config: port_config::NO_PACKET_IN,
            mask: port_config::NO_PACKET_IN,
            advertise: 0,
        }),
    );
    assert!(s.packet_in(ev(p), 20_000).is_empty());
}

#[test]
fn timeouts_send_flow_removed() {
    let mut s = switch(FailMode::Secure);
    s.conn_up(C2, 0);
    let mut dp = FakeDp::default();
    let mut idle = FlowMod::add(5, eth_dst(1), output(1));
    idle.idle_timeout = 10;
    idle.flags = flow_mod_flags::SEND_FLOW_REM;
    let mut hard = FlowMod::add(6, eth_dst(2), output(1));
    hard.hard_timeout = 20;
    hard.idle_timeout = 30;
    hard.flags = flow_mod_flags::SEND_FLOW_REM;
    let mut quiet = FlowMod::add(7, eth_dst(3), output(1));
    quiet.hard_timeout = 5;
    for fm in [idle, hard, quiet] {
        assert!(send(&mut s, &mut dp, C1, Message::FlowMod(fm)).is_empty());
    }
    // C2 does not want idle-timeout notifications.
    let mut cfg = DEFAULT_ASYNC;
    cfg.flow_removed_mask[0] = 1 << FlowRemovedReason::HardTimeout.to_u8();
    send(&mut s, &mut dp, C2, Message::SetAsync(cfg));
    assert!(s.tick(4_999, &mut dp).is_empty());
    // The quiet flow expires without a message.
    assert!(s.tick(5_000, &mut dp).is_empty());
    assert_eq!(s.flows().len(), 2);
    let out = s.tick(10_000, &mut dp);
    let got: Vec<_> = out
        .iter()
        .map(|o| match &o.msg {
            Message::FlowRemoved(r) => (o.to, r.reason, r.priority, r.duration_sec),
            m => panic!("{m:?}"),
        })
        .collect();
    assert_eq!(got, vec![(C1, FlowRemovedReason::IdleTimeout, 5, 10)]);
    let out = s.tick(20_000, &mut dp);
    let got: Vec<_> = out
        .iter()
        .map(|o| match &o.msg {
            Message::FlowRemoved(r) => (o.to, r.reason, r.priority),
            m => panic!("{m:?}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (C1, FlowRemovedReason::HardTimeout, 6),
            (C2, FlowRemovedReason::HardTimeout, 6)
        ]
    );
    assert!(s.flows().is_empty());
    assert!(dp.published.last().is_some_and(|p| p.flows.is_empty()));
}

#[test]
fn idle_timeout_follows_credits() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    let mut fm = FlowMod::add(5, eth_dst(1), output(1));
    fm.idle_timeout = 1;
    send(&mut s, &mut dp, C1, Message::FlowMod(fm));
    s.flush(&mut dp);
    // The datapath reports use of the rule at 900 ms.
    let snap = dp.published.last().expect("published").clone();
    let key = rvs_flow::match_to_key(&eth_dst(1)).expect("key").0;
    let mut wc = rvs_flow::FlowMask::default();
    let (_, rref) = snap.flows.lookup(0, &key, &mut wc).expect("hit");
    dp.credits.push(Credit {
        rules: Arc::from(vec![rref]),
        tables: Default::default(),
        packets: 1,
        bytes: 60,
        used: 900,
    });
    assert!(s.tick(1_000, &mut dp).is_empty());
    assert_eq!(s.flows().len(), 1);
    s.tick(1_900, &mut dp);
    assert!(s.flows().is_empty());
}

#[test]
fn long_replies_are_split() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    for i in 0..3000 {
        send(
            &mut s,
            &mut dp,
            C1,
            Message::FlowMod(FlowMod::add(1, eth_dst(i), output(1))),
        );
    }
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Flow(
            FlowStatsRequest::all(),
        ))),
    );
    assert!(out.len() > 1);
    let mut total = 0;
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o.xid, 7);
        match &o.msg {
            Message::MultipartReply(r) => {
                assert_eq!(r.flags & OFPMPF_MORE != 0, i + 1 < out.len());
                if let MultipartReplyBody::Flow(f) = &r.body {
                    total += f.len();
                }
                assert!(o.msg.encode(7).is_ok());
            }
            m => panic!("{m:?}"),
        }
    }
    assert_eq!(total, 3000);
}

#[test]
fn table_features_and_table_mod() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::TableFeatures(
            vec![],
        ))),
    );
    let mut tables = Vec::new();
    for o in &out {
        if let Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::TableFeatures(t),
            ..
        }) = &o.msg
        {
            tables.extend(t.iter().cloned());
        }
    }
    assert_eq!(tables.len(), 254);
    assert!(out.len() > 1);
    let last = &tables[253];
    assert!(last
        .properties
        .iter()
        .any(|p| matches!(p, TableFeatureProp::NextTables { tables, .. } if tables.is_empty())));
    let set = MultipartRequestBody::TableFeatures(vec![tables[0].clone()]);
    let out = send(
        &mut s,
        &mut dp,
        C1,
        Message::MultipartRequest(MultipartRequest::new(set)),
    );
    assert_eq!(
        error_code(&out),
        Some(TableFeaturesFailedCode::Eperm.into())
    );
    let tm = |table_id: u8, config: u32| Message::TableMod(TableMod { table_id, config });
    assert!(send(&mut s, &mut dp, C1, tm(3, 0)).is_empty());
    assert_eq!(
        error_code(&send(&mut s, &mut dp, C1, tm(254, 0))),
        Some(TableModFailedCode::BadTable.into())
    );
    assert_eq!(
        error_code(&send(&mut s, &mut dp, C1, tm(0, 8))),
        Some(TableModFailedCode::BadConfig.into())
    );
}

#[test]
fn unknown_connection_acts_as_equal() {
    let mut s = switch(FailMode::Secure);
    let mut dp = FakeDp::default();
    let out = s.handle(
        999,
        1,
        Message::FlowMod(FlowMod::add(1, eth_dst(1), output(1))),
        0,
        &mut dp,
    );
    assert!(out.is_empty());
    let out = s.handle(
        999,
        2,
        Message::RoleRequest(Role {
            role: ControllerRole::Master,
            generation_id: 1,
        }),
        0,
        &mut dp,
    );
    assert_eq!(error_code(&out), Some(RoleRequestFailedCode::Unsup.into()));
}
