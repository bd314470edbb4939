//! End-to-end tests of `--type afxdp` ports through a real `rvsd`: hosts in namespaces
//! behind veth pairs whose host ends are AF_XDP ports.
//!
//! Needs root. Every namespace, link and bridge name starts with "ax-". Addresses are in
//! 10.77.60.0/24, inside our namespaces only.

mod common;

use common::*;
use rvs_api::PortKind;
use rvs_lab::frames::ethernet;
use rvs_lab::{disable_tx_offload, require_tool, unique_name, RvsdProcess};
use std::process::Command;
use std::time::Duration;

const P: &str = "ax-";

/// A host whose namespace side sends complete checksums (XDP drops the partial-checksum
/// metadata, see the afxdp module docs).
fn host(cidr: &str) -> VethHost {
    let h = VethHost::new(P, Some(cidr));
    disable_tx_offload(Some(&h.ns), h.nic()).expect("ethtool -K tx off in the namespace");
    h
}

/// The XDP part of `ip -d link show DEV` (empty when none is attached).
fn xdp_of(dev: &str) -> String {
    let out = Command::new("ip")
        .args(["-d", "link", "show", "dev", dev])
        .output()
        .expect("ip link show");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter(|l| l.contains("prog/xdp") || l.contains("xdp"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_afxdp_up(rvsd: &RvsdProcess, br: &str, port: &str) {
    let b = show_bridge(rvsd, br);
    let p = b
        .ports
        .iter()
        .find(|p| p.name == port)
        .unwrap_or_else(|| panic!("port {port} missing: {b:#?}"));
    assert_eq!(p.kind, PortKind::Afxdp, "{p:#?}");
    assert!(
        p.status.starts_with("up (afxdp native, copy, 1 queue"),
        "status should show the mode: {p:#?}"
    );
}

#[test]
fn afxdp_ports_forward_count_exactly_and_survive_readd_and_kill9() {
    setup();
    require_tool("ethtool");
    let h1 = host("10.77.60.1/24");
    let h2 = host("10.77.60.2/24");
    let mut rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, h1.port(), "--type", "afxdp"]);
    rvs_ok(&rvsd, &["add-port", &br, h2.port(), "--type", "afxdp"]);
    assert_afxdp_up(&rvsd, &br, h1.port());
    assert_afxdp_up(&rvsd, &br, h2.port());
    assert!(xdp_of(h1.port()).contains("xdp"), "program attached");
    let text = rvs_ok(&rvsd, &["show"]);
    assert!(text.contains("afxdp native, copy"), "{text}");

    // Static neighbours: no ARP traffic to blur the exact counts below.
    let mac = |m: [u8; 6]| rvs_lab::frames::fmt_mac(&m);
    h1.ns
        .run(&[
            "ip",
            "neigh",
            "replace",
            "10.77.60.2",
            "lladdr",
            &mac(h2.mac()),
            "dev",
            h1.nic(),
            "nud",
            "permanent",
        ])
        .expect("static neighbour");
    h2.ns
        .run(&[
            "ip",
            "neigh",
            "replace",
            "10.77.60.1",
            "lladdr",
            &mac(h1.mac()),
            "dev",
            h2.nic(),
            "nud",
            "permanent",
        ])
        .expect("static neighbour");
    assert_pings(&[(&h1.ns, "10.77.60.2", "h1 -> h2 over afxdp")]);

    // A burst of 2000 unicast frames to h2 (learned by the ping), counted exactly.
    let before = port_stats(&rvsd, &br);
    let sock = h1.sock();
    for n in 0..2000u32 {
        let mut p = payload(&format!("burst {n}"));
        p.resize(100, b'.');
        sock.send(&ethernet(h2.mac(), h1.mac(), ETHERTYPE_TEST, &p))
            .expect("send burst frame");
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = port_stats(&rvsd, &br);
    let rx = after[h1.port()].rx_packets - before[h1.port()].rx_packets;
    let tx = after[h2.port()].tx_packets - before[h2.port()].tx_packets;
    assert_eq!(rx, 2000, "rx on h1's port: {after:#?}");
    assert_eq!(tx, 2000, "tx on h2's port: {after:#?}");

    // TCP (namespace sides have TX checksum offload off).
    require_tool("iperf3");
    let mut server = h2
        .ns
        .command(&["iperf3", "-s", "-1", "-B", "10.77.60.2"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(300));
    let client = output_within(
        h1.ns
            .command(&["iperf3", "-c", "10.77.60.2", "-t", "1", "-J"]),
        Duration::from_secs(20),
    );
    let _ = server.kill();
    let _ = server.wait();
    let out = String::from_utf8_lossy(&client.stdout);
    assert!(client.status.success(), "iperf3 over afxdp failed: {out}");
    assert!(out.contains("\"bits_per_second\""), "{out}");

    // Removed: the program goes; re-added: it comes back and forwarding resumes.
    rvs_ok(&rvsd, &["del-port", &br, h1.port()]);
    assert_eq!(xdp_of(h1.port()), "", "program left after del-port");
    rvs_ok(&rvsd, &["add-port", &br, h1.port(), "--type", "afxdp"]);
    assert_afxdp_up(&rvsd, &br, h1.port());
    assert_pings(&[(&h1.ns, "10.77.60.2", "h1 -> h2 after re-adding the port")]);

    // kill -9 leaves the programs attached (stale); the restarted rvsd replaces them.
    rvsd.kill9();
    assert!(
        xdp_of(h1.port()).contains("xdp"),
        "stale program expected after kill -9"
    );
    rvsd.start_again().expect("restart rvsd after kill -9");
    assert_afxdp_up(&rvsd, &br, h1.port());
    assert_afxdp_up(&rvsd, &br, h2.port());
    assert!(
        rvsd.log().contains("replacing a stale rvs XDP program"),
        "{}",
        rvsd.log()
    );
    assert_pings(&[(&h1.ns, "10.77.60.2", "h1 -> h2 after the restart")]);
}

#[test]
fn mixed_bridge_afxdp_and_system_ports() {
    setup();
    require_tool("ethtool");
    let h1 = host("10.77.60.11/24");
    let h2 = host("10.77.60.12/24");
    let rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, h1.port(), "--type", "afxdp"]);
    rvs_ok(&rvsd, &["add-port", &br, h2.port()]);
    assert_afxdp_up(&rvsd, &br, h1.port());
    assert_pings(&[
        (&h1.ns, "10.77.60.12", "afxdp -> system"),
        (&h2.ns, "10.77.60.11", "system -> afxdp"),
    ]);
}

#[test]
fn an_interface_another_rvsd_serves_is_refused_and_missing_ones_are_named() {
    setup();
    let h1 = host("10.77.60.21/24");
    let first = start_rvsd();
    let second = start_rvsd();
    let (b1, b2) = (unique_name(P), unique_name(P));
    rvs_ok(&first, &["add-br", &b1]);
    rvs_ok(&second, &["add-br", &b2]);
    rvs_ok(&first, &["add-port", &b1, h1.port(), "--type", "afxdp"]);
    let out = second.rvs(&["add-port", &b2, h1.port(), "--type", "afxdp"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "second rvsd took the interface");
    assert!(
        err.contains("already has an XDP program attached") && err.contains("running process"),
        "{err}"
    );
    // The first one still forwards to its own port's program.
    assert!(xdp_of(h1.port()).contains("xdp"));

    let out = second.rvs(&["add-port", &b2, "ax-nosuchif9", "--type", "afxdp"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not found"), "{err}");
}
