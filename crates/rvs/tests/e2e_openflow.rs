//! OpenFlow end to end: `ovs-ofctl -O OpenFlow13` programs a real rvsd through its passive
//! listener, and hosts in network namespaces see the result (ICMP-only policy, tcp_dst=80
//! steering, a select group, a meter); flows survive `kill -9`; a Rust test controller
//! gets packet-ins, port-status and flow-removed and sends packet-outs.
//!
//! Needs root and ovs-ofctl. Names start with "eo"; addresses are in 10.78.0.0/16 inside
//! our namespaces only.

mod common;

use common::*;
use rvs_api::{FailMode, Request};
use rvs_lab::frames::{self};
use rvs_lab::{require_tool, unique_name, RvsdProcess};
use rvs_openflow::action::Action;
use rvs_openflow::message::{FlowRemovedReason, PacketOut, OFP_NO_BUFFER};
use rvs_openflow::{FlowMod, Framer, Instruction, Match, Message, OxmField, PortNo};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const P: &str = "eo";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn api(rvsd: &RvsdProcess, req: Request) {
    match rvs_api::client::request(rvsd.run_dir(), 10, req.clone()) {
        Ok(rvs_api::Reply::Ok(_)) => {}
        other => panic!("{req:?}: {other:?}\n{}", rvsd.log()),
    }
}

/// `ovs-ofctl -O OpenFlow13 ARGS` against our listener; panics on failure.
fn ofctl(port: u16, args: &[&str]) -> String {
    let target = format!("tcp:127.0.0.1:{port}");
    let mut cmd = Command::new("ovs-ofctl");
    cmd.arg("-O").arg("OpenFlow13").arg("--timeout=10");
    let mut full: Vec<&str> = Vec::new();
    if let Some((verb, rest)) = args.split_first() {
        full.push(verb);
        full.push(&target);
        full.extend_from_slice(rest);
    }
    cmd.args(&full);
    let out = output_within(cmd, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "ovs-ofctl {full:?} failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// `n_packets` of the flow whose dump line contains `needle`.
fn n_packets(dump: &str, needle: &str) -> u64 {
    let line = dump
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no flow with '{needle}' in:\n{dump}"));
    let v = line
        .split("n_packets=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok());
    v.unwrap_or_else(|| panic!("no n_packets in {line}"))
}

/// An IPv4 frame from `src` to `dst` carrying `payload` in an L4 header of `proto`.
fn l4_frame(
    src: (&VethHost, [u8; 4]),
    dst: (&VethHost, [u8; 4]),
    proto: u8,
    sport: u16,
    dport: u16,
    marker: &str,
) -> Vec<u8> {
    let data = payload(marker);
    let l4_hdr = if proto == 6 { 20 } else { 8 };
    let total = 20 + l4_hdr + data.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        proto,
        0,
        0,
    ];
    ip.extend_from_slice(&src.1);
    ip.extend_from_slice(&dst.1);
    let c = rvs_wire::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    if proto == 6 {
        ip.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        let ul = (8 + data.len()) as u16;
        ip.extend_from_slice(&ul.to_be_bytes());
        ip.extend_from_slice(&[0, 0]);
    }
    ip.extend_from_slice(&data);
    frames::ethernet(dst.0.mac(), src.0.mac(), 0x0800, &ip)
}

struct Rig {
    rvsd: RvsdProcess,
    br: String,
    of_port: u16,
    h: Vec<VethHost>,
}

/// A bridge with `n` veth hosts 10.78.1.1.. on OpenFlow ports 1..=n and a ptcp listener.
fn rig(n: usize) -> Rig {
    setup();
    require_tool("ovs-ofctl");
    let h: Vec<VethHost> = (1..=n)
        .map(|i| VethHost::new(P, Some(&format!("10.78.1.{i}/24"))))
        .collect();
    let rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    for (i, host) in h.iter().enumerate() {
        let num = (i + 1).to_string();
        rvs_ok(&rvsd, &["add-port", &br, host.port(), "--ofport", &num]);
    }
    let of_port = free_port();
    api(
        &rvsd,
        Request::SetController {
            bridge: br.clone(),
            targets: vec![format!("ptcp:{of_port}")],
        },
    );
    Rig {
        rvsd,
        br,
        of_port,
        h,
    }
}

fn ip(i: u8) -> [u8; 4] {
    [10, 78, 1, i]
}

#[test]
fn ovs_ofctl_drives_forwarding_icmp_only_steering_groups_and_meters() {
    let r = rig(3);
    let port = r.of_port;
    // A new standalone bridge forwards by its default NORMAL flow.
    let dump = ofctl(port, &["dump-flows"]);
    assert!(dump.contains("priority=0 actions=NORMAL"), "{dump}");
    assert!(r.h[0].ping_until("10.78.1.2"), "default NORMAL flow");

    // Only ICMP (and ARP to resolve) is allowed.
    ofctl(port, &["del-flows"]);
    ofctl(port, &["add-flow", "priority=100,icmp,actions=NORMAL"]);
    ofctl(port, &["add-flow", "priority=100,arp,actions=NORMAL"]);
    assert!(r.h[0].ping("10.78.1.2"), "icmp allowed");
    let s2 = r.h[1].sock();
    s2.drain();
    let send = r.h[0].sock();
    send.send(&l4_frame(
        (&r.h[0], ip(1)),
        (&r.h[1], ip(2)),
        17,
        4000,
        53,
        "eo-udp-blocked",
    ))
    .expect("send");
    assert!(
        marked_during(&s2, "eo-udp-blocked", Duration::from_millis(500)).is_empty(),
        "UDP must not pass"
    );
    let d = drops(&r.rvsd, &r.br, r.h[0].port());
    assert!(d.get("flow_drop").copied().unwrap_or(0) >= 1, "{d:?}");
    let dump = ofctl(port, &["dump-flows"]);
    assert!(n_packets(&dump, "priority=100,icmp") >= 2, "{dump}");

    // tcp_dst=80 to port 3, whatever the destination MAC says.
    ofctl(
        port,
        &["add-flow", "priority=200,tcp,tp_dst=80,actions=output:3"],
    );
    let s3 = r.h[2].sock();
    s3.drain();
    s2.drain();
    send.send(&l4_frame(
        (&r.h[0], ip(1)),
        (&r.h[1], ip(2)),
        6,
        40000,
        80,
        "eo-web",
    ))
    .expect("send");
    assert_eq!(
        marked_during(&s3, "eo-web", Duration::from_millis(500)).len(),
        1
    );
    assert!(marked_during(&s2, "eo-web", Duration::from_millis(200)).is_empty());
    // mod-flows changes the actions in place (counters kept): now to port 2.
    ofctl(port, &["mod-flows", "tcp,tp_dst=80,actions=output:2"]);
    send.send(&l4_frame(
        (&r.h[0], ip(1)),
        (&r.h[1], ip(2)),
        6,
        40001,
        80,
        "eo-web2",
    ))
    .expect("send");
    assert_eq!(
        marked_during(&s2, "eo-web2", Duration::from_millis(500)).len(),
        1
    );
    assert!(marked_during(&s3, "eo-web2", Duration::from_millis(200)).is_empty());
    let dump = ofctl(port, &["dump-flows", "tcp"]);
    assert!(dump.contains("tp_dst=80 actions=output:2"), "{dump}");
    assert_eq!(
        n_packets(&dump, "tp_dst=80"),
        2,
        "counters kept across modify"
    );

    // A select group spreads UDP flows over ports 2 and 3, each flow on one port.
    ofctl(
        port,
        &[
            "add-group",
            "group_id=1,type=select,bucket=output:2,bucket=output:3",
        ],
    );
    ofctl(port, &["add-flow", "priority=300,udp,actions=group:1"]);
    let groups = ofctl(port, &["dump-groups"]);
    assert!(groups.contains("group_id=1,type=select"), "{groups}");
    s2.drain();
    s3.drain();
    for sport in 0..40u16 {
        let f = l4_frame(
            (&r.h[0], ip(1)),
            (&r.h[1], ip(2)),
            17,
            5000 + sport,
            53,
            "eo-sel",
        );
        send.send(&f).expect("send");
    }
    let got2 = marked_during(&s2, "eo-sel", Duration::from_millis(700)).len();
    let got3 = marked_during(&s3, "eo-sel", Duration::from_millis(200)).len();
    assert_eq!(
        got2 + got3,
        40,
        "every packet exactly once ({got2} + {got3})"
    );
    assert!(got2 >= 5 && got3 >= 5, "spread: {got2} / {got3}");
    let gstats = ofctl(port, &["dump-group-stats"]);
    assert!(gstats.contains("packet_count=40"), "{gstats}");

    // A meter of 10 packets/s on ICMP: a fast burst of pings mostly drops.
    ofctl(
        port,
        &[
            "add-meter",
            "meter=1,pktps,burst,bands=type=drop,rate=10,burst_size=5",
        ],
    );
    ofctl(
        port,
        &["add-flow", "priority=400,icmp,actions=meter:1,NORMAL"],
    );
    let meters = ofctl(port, &["dump-meters"]);
    assert!(meters.contains("meter=1"), "{meters}");
    let out = r.h[0].ns.output(&[
        "ping",
        "-c",
        "100",
        "-i",
        "0.002",
        "-W",
        "1",
        "-q",
        "10.78.1.2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let received: u32 = text
        .split(" received")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    assert!(received < 60, "meter let {received}/100 through:\n{text}");
    let d = drops(&r.rvsd, &r.br, r.h[0].port());
    assert!(d.get("meter").copied().unwrap_or(0) >= 40, "{d:?}");
    let mstats = ofctl(port, &["meter-stats"]);
    assert!(mstats.contains("meter:1"), "{mstats}");

    // Ports, port descriptions and tables as ovs-ofctl shows them.
    let ports = ofctl(port, &["dump-ports"]);
    assert!(
        ports.contains("port  1:") || ports.contains("port 1:"),
        "{ports}"
    );
    let desc = ofctl(port, &["dump-ports-desc"]);
    for h in &r.h {
        assert!(desc.contains(h.port()), "{desc}");
    }
    let tables = ofctl(port, &["dump-tables"]);
    assert!(tables.contains("table 0"), "{tables}");
    // Strict delete removes exactly one flow.
    ofctl(port, &["del-flows", "--strict", "priority=400,icmp"]);
    let dump = ofctl(port, &["dump-flows"]);
    assert!(!dump.contains("priority=400"), "{dump}");
    assert!(dump.contains("priority=300"), "{dump}");
}

#[test]
fn flows_survive_kill_9_and_forward_before_any_controller() {
    let mut r = rig(2);
    let port = r.of_port;
    api(
        &r.rvsd,
        Request::SetFailMode {
            bridge: r.br.clone(),
            mode: FailMode::Secure,
        },
    );
    ofctl(port, &["del-flows"]);
    ofctl(
        port,
        &[
            "add-flow",
            "cookie=0x42,priority=100,icmp,idle_timeout=600,actions=NORMAL",
        ],
    );
    ofctl(port, &["add-flow", "priority=100,arp,actions=NORMAL"]);
    ofctl(port, &["add-group", "group_id=5,type=all,bucket=output:2"]);
    ofctl(
        port,
        &["add-meter", "meter=3,kbps,bands=type=drop,rate=1000"],
    );
    let strip = |dump: &str| -> Vec<String> {
        let mut v: Vec<String> = dump
            .lines()
            .filter(|l| l.contains("priority"))
            .map(|l| {
                l.split(", ")
                    .filter(|p| {
                        !p.contains("duration=")
                            && !p.contains("n_packets")
                            && !p.contains("n_bytes")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        v.sort();
        v
    };
    let before = strip(&ofctl(port, &["dump-flows"]));
    assert_eq!(before.len(), 2, "{before:?}");
    r.rvsd.kill9();
    r.rvsd.start_again().expect("restart");
    // No controller connected yet; secure mode: the restored flows forward.
    assert!(
        r.h[0].ping_until("10.78.1.2"),
        "restored flows forward\n{}",
        r.rvsd.log()
    );
    // Same flows, group and meter through the restarted listener.
    let deadline = Instant::now() + Duration::from_secs(5);
    let after = loop {
        let cmd = Command::new("ovs-ofctl");
        let mut cmd = cmd;
        cmd.args(["-O", "OpenFlow13", "--timeout=5", "dump-flows"])
            .arg(format!("tcp:127.0.0.1:{port}"));
        let out = output_within(cmd, Duration::from_secs(10));
        if out.status.success() || Instant::now() > deadline {
            break String::from_utf8_lossy(&out.stdout).to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(strip(&after), before, "flows after kill -9");
    assert!(ofctl(port, &["dump-groups"]).contains("group_id=5,type=all"));
    assert!(ofctl(port, &["dump-meters"]).contains("meter=3"));
}

/// A minimal OpenFlow 1.3 controller over TCP.
struct Controller {
    sock: TcpStream,
    framer: Framer,
    xid: u32,
}

impl Controller {
    fn connect(port: u16) -> Controller {
        let deadline = Instant::now() + Duration::from_secs(5);
        let sock = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("connect: {e}"),
            }
        };
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut c = Controller {
            sock,
            framer: Framer::new(),
            xid: 100,
        };
        c.send(Message::Hello(rvs_openflow::hello::Hello::of13()));
        c.wait(Duration::from_secs(3), |m| matches!(m, Message::Hello(_)))
            .expect("hello");
        c
    }

    fn send(&mut self, m: Message) -> u32 {
        self.xid += 1;
        let bytes = m.encode(self.xid).expect("encode");
        self.sock.write_all(&bytes).expect("write");
        self.xid
    }

    /// Reads until `want` matches a message (answering echo requests), or times out.
    fn wait(&mut self, limit: Duration, mut want: impl FnMut(&Message) -> bool) -> Option<Message> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 65536];
        while Instant::now() < deadline {
            while let Some(frame) = self.framer.next_frame().expect("framing") {
                let (_, m) = Message::decode(frame).expect("decode");
                if let Message::EchoRequest(d) = &m {
                    let d = d.clone();
                    self.send(Message::EchoReply(d));
                    continue;
                }
                if want(&m) {
                    return Some(m);
                }
            }
            match self.sock.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.framer.push(&buf[..n]),
                Err(_) => {}
            }
        }
        None
    }
}

#[test]
fn test_controller_gets_packet_in_port_status_flow_removed_and_sends_packet_out() {
    let r = rig(2);
    let mut c = Controller::connect(r.of_port);
    let x = c.send(Message::FeaturesRequest);
    let f = c
        .wait(Duration::from_secs(3), |m| {
            matches!(m, Message::FeaturesReply(_))
        })
        .expect("features");
    let _ = x;
    if let Message::FeaturesReply(f) = f {
        assert_eq!(f.n_tables, 254);
    }
    // Table miss to the controller, everything else removed.
    let del = FlowMod {
        command: rvs_openflow::FlowModCommand::Delete,
        table_id: 0xff,
        ..FlowMod::add(0, Match::new(), vec![])
    };
    c.send(Message::FlowMod(del));
    c.send(Message::FlowMod(FlowMod::add(
        0,
        Match::new(),
        vec![Instruction::ApplyActions(vec![Action::Output {
            port: PortNo::CONTROLLER,
            max_len: 0xffff,
        }])],
    )));
    c.send(Message::BarrierRequest);
    c.wait(Duration::from_secs(3), |m| {
        matches!(m, Message::BarrierReply)
    })
    .expect("barrier");
    // A frame from host 1 comes up as a packet-in from port 1.
    let s1 = r.h[0].sock();
    let probe = frames::pad_min(frames::ethernet(
        [0xff; 6],
        r.h[0].mac(),
        0x88b5,
        &payload("eo-pktin"),
    ));
    s1.send(&probe).expect("send");
    let pin = c
        .wait(
            Duration::from_secs(3),
            |m| matches!(m, Message::PacketIn(p) if has_marker(&p.data, "eo-pktin")),
        )
        .expect("packet-in");
    if let Message::PacketIn(p) = pin {
        assert_eq!(
            p.match_.fields.first(),
            Some(&OxmField::InPort(PortNo(1))),
            "{:?}",
            p.match_
        );
    }
    // Packet-out to port 2 arrives on host 2.
    let s2 = r.h[1].sock();
    s2.drain();
    let out_frame = frames::pad_min(frames::ethernet(
        r.h[1].mac(),
        [0x02, 0, 0, 0, 0, 9],
        0x88b5,
        &payload("eo-pktout"),
    ));
    c.send(Message::PacketOut(PacketOut {
        buffer_id: OFP_NO_BUFFER,
        in_port: PortNo::CONTROLLER,
        actions: vec![Action::output(PortNo(2))],
        data: out_frame,
    }));
    assert_eq!(
        marked_during(&s2, "eo-pktout", Duration::from_millis(800)).len(),
        1,
        "packet-out delivered"
    );
    // An idle flow with send_flow_rem expires with a flow-removed.
    let mut fm = FlowMod::add(
        50,
        Match::new().with(OxmField::EthType(0x88b6)),
        vec![Instruction::ApplyActions(vec![Action::output(PortNo(2))])],
    );
    fm.idle_timeout = 1;
    fm.flags = 1; // OFPFF_SEND_FLOW_REM
    fm.cookie = 0x77;
    c.send(Message::FlowMod(fm));
    let fr = c
        .wait(Duration::from_secs(5), |m| {
            matches!(m, Message::FlowRemoved(_))
        })
        .expect("flow-removed");
    if let Message::FlowRemoved(fr) = fr {
        assert_eq!(fr.cookie, 0x77);
        assert_eq!(fr.reason, FlowRemovedReason::IdleTimeout);
    }
    // A new port is announced.
    let h3 = VethHost::new(P, None);
    rvs_ok(&r.rvsd, &["add-port", &r.br, h3.port()]);
    let ps = c
        .wait(Duration::from_secs(3), |m| {
            matches!(m, Message::PortStatus(_))
        })
        .expect("port-status");
    if let Message::PortStatus(ps) = ps {
        assert_eq!(ps.desc.name.to_string_lossy(), h3.port());
    }
}
