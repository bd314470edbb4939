//! End-to-end tests of multi-queue TAP ports (`add-port --type tap --queues N`): many UDP
//! flows between a host behind a 4-queue tap and a host behind a veth, both ways, the
//! per-queue counters, a crash and restart, and the refusals of bad queue counts.
//!
//! Needs root. Every namespace, link and bridge name starts with "mq". Addresses are in
//! 10.78.0.0/16, inside our namespaces only.

mod common;

use common::*;
use rvs_api::{Envelope, ErrorKind, PortKind, Reply, Request, Response, VlanSpec};
use rvs_lab::{link_exists, unique_name, RvsdProcess};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const P: &str = "mq";
const TAP_ADDR: &str = "10.78.5.1";
const VETH_ADDR: &str = "10.78.5.2";
const SERVER_PORT: u16 = 5300;
const FLOWS: usize = 32;
const ROUNDS: usize = 8;

/// The port named `name` in `rvs show`.
fn port_status(rvsd: &RvsdProcess, br: &str, name: &str) -> String {
    show_bridge(rvsd, br)
        .ports
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("port {name} not in `rvs show`"))
        .status
}

/// Receives one datagram within `limit` (the socket has a short read timeout).
fn recv_within(sock: &UdpSocket, buf: &mut [u8], limit: Duration) -> Option<(usize, SocketAddr)> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Ok(r) = sock.recv_from(buf) {
            return Some(r);
        }
    }
    None
}

/// `FLOWS` UDP flows from the tap host to the veth host, each answered: in every round each
/// client sends one datagram, the server answers each one to its sender, and every client
/// must get its answer. Panics naming what got lost.
fn udp_flows_both_ways(tap: &TapHost, veth: &VethHost) {
    let server: UdpSocket = veth
        .ns
        .enter(|| UdpSocket::bind(format!("{VETH_ADDR}:{SERVER_PORT}")).expect("bind the server"));
    let clients: Vec<UdpSocket> = tap.ns.enter(|| {
        (0..FLOWS)
            .map(|_| UdpSocket::bind(format!("{TAP_ADDR}:0")).expect("bind a client"))
            .collect()
    });
    for s in clients.iter().chain([&server]) {
        s.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
    }
    let target: SocketAddr = format!("{VETH_ADDR}:{SERVER_PORT}").parse().expect("addr");
    let mut buf = [0u8; 128];
    for round in 0..ROUNDS {
        for (i, c) in clients.iter().enumerate() {
            c.send_to(format!("mq {round} {i}").as_bytes(), target)
                .expect("client send");
        }
        let mut seen = BTreeMap::new();
        for _ in 0..FLOWS {
            let Some((n, from)) = recv_within(&server, &mut buf, ARRIVAL) else {
                break;
            };
            server.send_to(&buf[..n], from).expect("server reply");
            *seen.entry(from).or_insert(0) += 1;
        }
        assert_eq!(
            seen.len(),
            FLOWS,
            "round {round}: datagrams from {} of {FLOWS} flows reached the veth host",
            seen.len()
        );
        assert!(seen.values().all(|&n| n == 1), "round {round}: {seen:?}");
        for (i, c) in clients.iter().enumerate() {
            let want = format!("mq {round} {i}");
            let got = recv_within(c, &mut buf, ARRIVAL);
            assert!(
                got.is_some_and(|(n, _)| &buf[..n] == want.as_bytes()),
                "round {round}: flow {i} got no reply"
            );
        }
    }
}

/// Checks the per-queue counters of the tap: 4 queues, at least 2 received frames, and
/// they add up to the port's totals.
fn assert_queues_used(rvsd: &RvsdProcess, br: &str, tap: &str) {
    let stats = port_stats(rvsd, br);
    let s = &stats[tap];
    assert_eq!(s.queues.len(), 4, "{s:#?}");
    let rx: Vec<u64> = s.queues.iter().map(|q| q.rx_packets).collect();
    assert!(
        rx.iter().filter(|&&n| n > 0).count() >= 2,
        "the flows from the tap host should arrive on at least 2 queues: {rx:?}"
    );
    assert_eq!(rx.iter().sum::<u64>(), s.rx_packets, "{s:#?}");
    let tx: u64 = s.queues.iter().map(|q| q.tx_packets).sum();
    assert_eq!(tx, s.tx_packets, "{s:#?}");
    assert!(tx >= (FLOWS * ROUNDS) as u64, "{s:#?}");
    // The text form lists the queues too.
    let text = rvs_ok(rvsd, &["port-stats", br]);
    for q in 0..4 {
        assert!(text.contains(&format!("queue {q}: rx pkts=")), "{text}");
    }
}

#[test]
fn four_queue_tap_carries_many_flows_and_survives_kill9() {
    setup();
    let tap = TapHost::new(P, Some(&format!("{TAP_ADDR}/24")));
    let veth = VethHost::new(P, Some(&format!("{VETH_ADDR}/24")));
    // Two datapath threads: the tap's queues are split over both.
    let mut rvsd = RvsdProcess::start_with_args(
        rvs_lab::workspace_bin("rvsd"),
        env!("CARGO_BIN_EXE_rvs"),
        &["--dp-threads", "2"],
    )
    .expect("start rvsd");
    let br = unique_name(P);

    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, veth.port()]);
    rvs_ok(
        &rvsd,
        &[
            "add-port",
            &br,
            tap.port(),
            "--type",
            "tap",
            "--queues",
            "4",
        ],
    );
    tap.plug();
    assert_eq!(port_status(&rvsd, &br, tap.port()), "up (tap, 4 queues)");
    let db = std::fs::read_to_string(rvsd.db_path()).expect("read the database");
    assert!(db.contains("\"queues\": 4"), "{db}");

    assert_pings(&[
        (&tap.ns, VETH_ADDR, "tap host -> veth host"),
        (&veth.ns, TAP_ADDR, "veth host -> tap host"),
    ]);
    udp_flows_both_ways(&tap, &veth);
    assert_queues_used(&rvsd, &br, tap.port());
    assert_queues_split(&rvsd, &br, tap.port());

    rvsd.kill9();
    rvsd.start_again().expect("restart rvsd after kill -9");
    assert_eq!(
        port_status(&rvsd, &br, tap.port()),
        "up (tap, 4 queues)",
        "the restarted rvsd reattaches all 4 queues"
    );
    assert!(
        !link_exists(None, tap.nic()),
        "rvsd made a second tap instead of finding the moved one"
    );
    assert_pings(&[(
        &tap.ns,
        VETH_ADDR,
        "tap host -> veth host after the restart",
    )]);
    udp_flows_both_ways(&tap, &veth);
    assert_queues_used(&rvsd, &br, tap.port());
    assert_queues_split(&rvsd, &br, tap.port());
}

/// The tap's 4 queues are received by both threads, 0 and 2 on one, 1 and 3 on the
/// other, as `rvs show` and `rvs dp-threads` tell.
fn assert_queues_split(rvsd: &RvsdProcess, br: &str, port: &str) {
    let info = show_bridge(rvsd, br);
    let p = info
        .ports
        .iter()
        .find(|p| p.name == port)
        .expect("tap in show");
    let mut threads = p.datapath_threads.clone();
    threads.sort_unstable();
    assert_eq!(threads, vec![0, 1], "{p:?}");
    let listed = match rvs_json(rvsd, &["dp-threads"]) {
        rvs_api::Response::DpThreads { threads } => threads,
        other => panic!("dp-threads answered {other:?}"),
    };
    let queues_of = |t: u32| -> Vec<String> {
        listed
            .iter()
            .find(|i| i.name == format!("rvs-dp{t}"))
            .map(|i| {
                i.rx_queues
                    .iter()
                    .filter(|q| q.starts_with(&format!("{br}/{port} ")))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    let (first, second) = (p.datapath_threads[0], p.datapath_threads[1]);
    assert_eq!(
        queues_of(first),
        vec![format!("{br}/{port} q0"), format!("{br}/{port} q2")],
        "{listed:?}"
    );
    assert_eq!(
        queues_of(second),
        vec![format!("{br}/{port} q1"), format!("{br}/{port} q3")],
        "{listed:?}"
    );
}

/// One JSON request line, as the CLI would send it.
fn add_port_line(br: &str, name: &str, kind: PortKind, queues: u16) -> Vec<u8> {
    serde_json::to_vec(&Envelope::new(Request::AddPort {
        bridge: br.into(),
        name: name.into(),
        kind,
        vlan: VlanSpec::default(),
        may_exist: false,
        peer: None,
        ofport: None,
        queues: Some(queues),
    }))
    .expect("encode")
}

/// Deletes a device rvsd may have made in this namespace, however the test ends.
struct LinkGuard(String);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        let _ = rvs_lab::delete_link(None, &self.0);
    }
}

#[test]
fn bad_queue_counts_are_refused_and_change_nothing() {
    setup();
    let veth = VethHost::new(P, None);
    let rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    let db_before = std::fs::read(rvsd.db_path()).expect("read the database");
    let name = unique_name(P);
    let _guard = LinkGuard(name.clone());

    // The CLI refuses (exit 2, like other bad arguments).
    for args in [
        vec!["add-port", &br, &name, "--type", "tap", "--queues", "0"],
        vec!["add-port", &br, &name, "--type", "tap", "--queues", "17"],
        vec!["add-port", &br, veth.port(), "--queues", "0"],
        vec![
            "add-port",
            &br,
            veth.port(),
            "--type",
            "afxdp",
            "--queues",
            "2",
        ],
    ] {
        let out = rvsd.rvs(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "rvs {args:?}: {stderr}");
        assert!(stderr.contains("queues"), "rvs {args:?}: {stderr}");
    }

    // rvsd refuses the same when asked directly.
    let mut client = RawClient::connect(&rvsd.socket_path());
    for (kind, queues, port, needle) in [
        (PortKind::Tap, 0, name.as_str(), "outside 1-16"),
        (PortKind::Tap, 17, name.as_str(), "outside 1-16"),
        (PortKind::Internal, 17, name.as_str(), "outside 1-16"),
        (PortKind::System, 0, veth.port(), "outside 1-16"),
        (
            PortKind::Afxdp,
            2,
            veth.port(),
            "only to --type tap, internal and system",
        ),
    ] {
        match client.call(&add_port_line(&br, port, kind, queues)) {
            Some(Reply::Error(e)) => {
                assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e:?}");
                assert!(e.message.contains(needle), "{kind} {queues}: {}", e.message);
            }
            other => panic!("{kind} with {queues} queues must be refused: {other:?}"),
        }
    }
    assert!(!link_exists(None, &name), "no tap was created");
    assert!(show_bridge(&rvsd, &br).ports.is_empty());
    assert_eq!(
        std::fs::read(rvsd.db_path()).expect("read the database"),
        db_before,
        "the database is unchanged"
    );

    // Control: a valid count over the same path is accepted.
    match client.call(&add_port_line(&br, &name, PortKind::Internal, 2)) {
        Some(Reply::Ok(Response::Done)) => {}
        other => panic!("internal port with 2 queues: {other:?}"),
    }
    assert_eq!(port_status(&rvsd, &br, &name), "up (internal, 2 queues)");
    rvs_ok(&rvsd, &["del-port", &br, &name]);
    assert!(!link_exists(None, &name), "del-port deletes the device");
}
