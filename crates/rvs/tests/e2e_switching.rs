//! End-to-end switching through a real `rvsd`: hosts in network namespaces,
//! behind veth pairs (`system` ports) and rvsd-made taps (`tap` ports).
//!
//! Needs root. Every namespace, link and bridge name starts with "es".
//! Addresses are in 10.77.0.0/16, inside our namespaces only.

mod common;

use common::*;
use rvs_api::{PortKind, VlanMode};
use rvs_lab::frames::{self, parse_vlan, BROADCAST, TPID_8021Q};
use rvs_lab::{unique_name, RawSocket};
use std::time::Duration;

const P: &str = "es";

/// Four hosts in ONE /24, two on VLAN 10 and two on VLAN 20, one of each
/// pair behind a veth and one behind a tap: only same-VLAN pairs talk.
#[test]
fn four_hosts_on_two_vlans_talk_only_within_their_vlan() {
    setup();
    let h1 = VethHost::new(P, Some("10.77.1.1/24"));
    let h2 = VethHost::new(P, Some("10.77.1.2/24"));
    let h3 = TapHost::new(P, Some("10.77.1.3/24"));
    let h4 = TapHost::new(P, Some("10.77.1.4/24"));
    let rvsd = start_rvsd();
    let br = unique_name(P);

    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, h1.port(), "--tag", "10"]);
    rvs_ok(&rvsd, &["add-port", &br, h2.port(), "--tag", "20"]);
    rvs_ok(
        &rvsd,
        &["add-port", &br, h3.port(), "--type", "tap", "--tag", "10"],
    );
    rvs_ok(
        &rvsd,
        &["add-port", &br, h4.port(), "--type", "tap", "--tag", "20"],
    );
    h3.plug();
    h4.plug();

    assert_pings(&[
        (&h1.ns, "10.77.1.3", "h1 -> h3 (VLAN 10, veth -> tap)"),
        (&h2.ns, "10.77.1.4", "h2 -> h4 (VLAN 20, veth -> tap)"),
    ]);
    assert_pings(&[
        (&h3.ns, "10.77.1.1", "h3 -> h1 (VLAN 10, tap -> veth)"),
        (&h4.ns, "10.77.1.2", "h4 -> h2 (VLAN 20, tap -> veth)"),
    ]);
    assert_no_pings(&[
        (&h1.ns, "10.77.1.2", "h1 -> h2 (VLAN 10 -> 20)"),
        (&h1.ns, "10.77.1.4", "h1 -> h4 (VLAN 10 -> 20)"),
        (&h3.ns, "10.77.1.2", "h3 -> h2 (VLAN 10 -> 20)"),
        (&h3.ns, "10.77.1.4", "h3 -> h4 (VLAN 10 -> 20)"),
    ]);
    // Isolation did not break the allowed paths.
    assert!(h1.ping("10.77.1.3"), "h1 -> h3 after the isolation checks");

    let bridge = show_bridge(&rvsd, &br);
    assert_eq!(bridge.ports.len(), 4, "{bridge:#?}");
    let expected = [
        (h1.port(), host_port_kind(), 10),
        (h2.port(), host_port_kind(), 20),
        (h3.port(), PortKind::Tap, 10),
        (h4.port(), PortKind::Tap, 20),
    ];
    for (name, kind, tag) in expected {
        let p = bridge
            .ports
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("port {name} missing: {bridge:#?}"));
        assert_eq!(p.kind, kind, "{p:#?}");
        assert!(port_is_up(p), "{p:#?}");
        assert_eq!(p.vlan.tag, Some(tag), "{p:#?}");
        assert_eq!(p.vlan_mode, VlanMode::Access, "{p:#?}");
        if kind != PortKind::Tap {
            assert_eq!(p.netns, None, "{p:#?}");
        }
    }
    // Checked last, so the forwarding checks above run whatever this says:
    // the taps now live in the hosts' namespaces, and `show` must say so
    // (README: "`netns:` appears when the interface lives in another
    // network namespace").
    for tap in [&h3, &h4] {
        let p = bridge
            .ports
            .iter()
            .find(|p| p.name == tap.port())
            .expect("tap port");
        assert_eq!(
            p.netns.as_deref(),
            Some(tap.ns.name()),
            "`rvs show` must report the namespace the tap was moved into: {p:#?}"
        );
    }
}

/// Trunk and native-VLAN ports tag and untag correctly in both directions.
#[test]
fn trunk_and_native_ports_tag_and_untag() {
    setup();
    let h1 = VethHost::new(P, None); // access 10
    let h2 = VethHost::new(P, None); // access 20
    let t = VethHost::new(P, None); // trunk 10,20
    let nu = VethHost::new(P, None); // native-untagged, native 10, all VLANs
    let nt = VethHost::new(P, None); // native-tagged, native 20, trunks 10
    let rvsd = start_rvsd();
    let br = unique_name(P);

    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, h1.port(), "--tag", "10"]);
    rvs_ok(&rvsd, &["add-port", &br, h2.port(), "--tag", "20"]);
    rvs_ok(
        &rvsd,
        &[
            "add-port",
            &br,
            t.port(),
            "--vlan-mode",
            "trunk",
            "--trunks",
            "10,20",
        ],
    );
    rvs_ok(
        &rvsd,
        &[
            "add-port",
            &br,
            nu.port(),
            "--tag",
            "10",
            "--vlan-mode",
            "native-untagged",
        ],
    );
    rvs_ok(
        &rvsd,
        &[
            "add-port",
            &br,
            nt.port(),
            "--tag",
            "20",
            "--vlan-mode",
            "native-tagged",
            "--trunks",
            "10",
        ],
    );

    let (s1, s2, st, snu, snt) = (h1.sock(), h2.sock(), t.sock(), nu.sock(), nt.sock());
    let (m1, m2, mt, mnu, mnt) = (h1.mac(), h2.mac(), t.mac(), nu.mac(), nt.mac());
    let all: [(&str, &RawSocket); 5] = [
        ("h1", &s1),
        ("h2", &s2),
        ("trunk", &st),
        ("native-untagged", &snu),
        ("native-tagged", &snt),
    ];

    // Sends `frame` from `from` and checks who gets it, and how:
    // `expect` lists (receiver, Some((pcp, vid)) for tagged / None for
    // untagged); every other port must get nothing.
    let check =
        |from: &RawSocket, marker: &str, frame: Vec<u8>, expect: &[(&str, Option<(u8, u16)>)]| {
            from.send(&frame).expect("send");
            for (name, tag) in expect {
                let sock = all.iter().find(|(n, _)| n == name).expect("receiver").1;
                let got = recv_marked(sock, marker)
                    .unwrap_or_else(|| panic!("{marker}: nothing arrived at {name}"));
                match tag {
                    Some((pcp, vid)) => {
                        assert_eq!(
                            parse_vlan(&got),
                            Some((TPID_8021Q, *pcp, *vid, ETHERTYPE_TEST)),
                            "{marker}: tag of the frame at {name}: {got:02x?}"
                        );
                        assert_eq!(&got[..12], &frame[..12], "{marker}: MACs at {name}");
                        assert!(got.ends_with(&payload(marker)), "{marker}: payload");
                    }
                    None => {
                        assert_eq!(
                            frames::ethertype(&got),
                            Some(ETHERTYPE_TEST),
                            "{marker}: the frame at {name} must be untagged: {got:02x?}"
                        );
                        assert_eq!(&got[..12], &frame[..12], "{marker}: MACs at {name}");
                        assert!(got.ends_with(&payload(marker)), "{marker}: payload");
                    }
                }
            }
            // One quiet period for all: what was forwarded is queued by then.
            std::thread::sleep(QUIET);
            for (name, sock) in &all {
                if expect.iter().any(|(n, _)| n == name) {
                    continue;
                }
                let stray = marked_during(sock, marker, Duration::from_millis(20));
                assert!(
                    stray.is_empty(),
                    "{marker}: {name} must not receive this frame, got {stray:02x?}"
                );
            }
        };
    let untagged = |src: [u8; 6], marker: &str| {
        frames::ethernet(BROADCAST, src, ETHERTYPE_TEST, &payload(marker))
    };
    let tagged = |src: [u8; 6], pcp: u8, vid: u16, marker: &str| {
        frames::vlan_tagged(
            BROADCAST,
            src,
            TPID_8021Q,
            pcp,
            vid,
            ETHERTYPE_TEST,
            &payload(marker),
        )
    };

    // VLAN 10 from an access port: tagged 10 (PCP 0) on the trunk, untagged
    // on its native-untagged port, tagged on the native-tagged one.
    check(
        &s1,
        "from-h1",
        untagged(m1, "from-h1"),
        &[
            ("trunk", Some((0, 10))),
            ("native-untagged", None),
            ("native-tagged", Some((0, 10))),
        ],
    );
    // VLAN 20 from an access port.
    check(
        &s2,
        "from-h2",
        untagged(m2, "from-h2"),
        &[
            ("trunk", Some((0, 20))),
            ("native-untagged", Some((0, 20))),
            ("native-tagged", Some((0, 20))),
        ],
    );
    // Tagged VID 10 PCP 5 into the trunk: untagged to the VLAN 10 access
    // port, the PCP kept where the frame stays tagged.
    check(
        &st,
        "trunk-vid10",
        tagged(mt, 5, 10, "trunk-vid10"),
        &[
            ("h1", None),
            ("native-untagged", None),
            ("native-tagged", Some((5, 10))),
        ],
    );
    check(
        &st,
        "trunk-vid20",
        tagged(mt, 3, 20, "trunk-vid20"),
        &[
            ("h2", None),
            ("native-untagged", Some((3, 20))),
            ("native-tagged", Some((3, 20))),
        ],
    );
    // Untagged into the native ports: their native VLAN.
    check(
        &snu,
        "nu-untagged",
        untagged(mnu, "nu-untagged"),
        &[
            ("h1", None),
            ("trunk", Some((0, 10))),
            ("native-tagged", Some((0, 10))),
        ],
    );
    check(
        &snt,
        "nt-untagged",
        untagged(mnt, "nt-untagged"),
        &[
            ("h2", None),
            ("trunk", Some((0, 20))),
            ("native-untagged", Some((0, 20))),
        ],
    );
    // Tagged with its own native VLAN into the native-tagged port.
    check(
        &snt,
        "nt-vid20",
        tagged(mnt, 1, 20, "nt-vid20"),
        &[
            ("h2", None),
            ("trunk", Some((1, 20))),
            ("native-untagged", Some((1, 20))),
        ],
    );

    // Refused: a VLAN the trunk does not carry, untagged on a trunk with an
    // explicit list, a VLAN the native-tagged port does not trunk, and a
    // tagged frame on an access port. Nobody gets them.
    check(&st, "trunk-vid30", tagged(mt, 0, 30, "trunk-vid30"), &[]);
    check(&st, "trunk-untagged", untagged(mt, "trunk-untagged"), &[]);
    check(&snt, "nt-vid30", tagged(mnt, 0, 30, "nt-vid30"), &[]);
    check(&s1, "h1-tagged", tagged(m1, 0, 10, "h1-tagged"), &[]);

    let stats = port_stats(&rvsd, &br);
    let drops_of = |p: &str| stats.get(p).expect("port in stats").drops.clone();
    assert_eq!(
        drops_of(t.port()),
        counts(&[("vlan_not_allowed", 2)]),
        "trunk"
    );
    assert_eq!(
        drops_of(nt.port()),
        counts(&[("vlan_not_allowed", 1)]),
        "native-tagged"
    );
    assert_eq!(
        drops_of(h1.port()),
        counts(&[("tagged_on_access_port", 1)]),
        "h1"
    );
    assert_eq!(drops_of(h2.port()), counts(&[]), "h2");
    assert_eq!(drops_of(nu.port()), counts(&[]), "native-untagged");
}

/// Once both stations are learned, unicast between them reaches only the
/// destination; `fdb-show` lists them on the right ports.
#[test]
fn learned_unicast_is_not_flooded() {
    setup();
    let a = VethHost::new(P, None);
    let b = VethHost::new(P, None);
    let c = TapHost::new(P, None);
    let rvsd = start_rvsd();
    let br = unique_name(P);

    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, a.port(), "--tag", "30"]);
    rvs_ok(&rvsd, &["add-port", &br, b.port(), "--tag", "30"]);
    rvs_ok(
        &rvsd,
        &["add-port", &br, c.port(), "--type", "tap", "--tag", "30"],
    );
    c.plug();

    let (sa, sb, sc) = (a.sock(), b.sock(), c.sock());
    let (ma, mb) = (a.mac(), b.mac());

    // Learning: each of A and B broadcasts once; the flood reaching the
    // other two proves rvsd processed (and learned from) the frame.
    sa.send(&frames::ethernet(
        BROADCAST,
        ma,
        ETHERTYPE_TEST,
        &payload("learn-a"),
    ))
    .expect("send");
    assert!(recv_marked(&sb, "learn-a").is_some(), "A's broadcast at B");
    assert!(recv_marked(&sc, "learn-a").is_some(), "A's broadcast at C");
    sb.send(&frames::ethernet(
        BROADCAST,
        mb,
        ETHERTYPE_TEST,
        &payload("learn-b"),
    ))
    .expect("send");
    assert!(recv_marked(&sa, "learn-b").is_some(), "B's broadcast at A");
    assert!(recv_marked(&sc, "learn-b").is_some(), "B's broadcast at C");

    let entries = fdb(&rvsd, &br);
    for (mac, port) in [(ma, a.port()), (mb, b.port())] {
        let e = entries
            .iter()
            .find(|e| frames::try_mac(&e.mac) == Some(mac))
            .unwrap_or_else(|| panic!("{} not learned: {entries:#?}", frames::fmt_mac(&mac)));
        assert_eq!(e.port, port, "{e:#?}");
        assert_eq!(e.vlan, 30, "{e:#?}");
    }
    assert!(
        !entries.iter().any(|e| e.port == c.port()),
        "C sent nothing, so nothing is learned on its port: {entries:#?}"
    );

    const N: usize = 20;
    for i in 0..N {
        sa.send(&frames::ethernet(
            mb,
            ma,
            ETHERTYPE_TEST,
            &payload(&format!("uni-{i}")),
        ))
        .expect("send unicast");
    }
    let mut missing = Vec::new();
    for i in 0..N {
        if recv_marked(&sb, &format!("uni-{i}")).is_none() {
            missing.push(i);
        }
    }
    assert!(
        missing.is_empty(),
        "unicast frames lost on the way to B: {missing:?}"
    );
    let flooded = prefixed_during(&sc, "uni-", QUIET);
    assert!(
        flooded.is_empty(),
        "{} of {N} learned-unicast frames A->B were flooded to C",
        flooded.len()
    );
    let back = prefixed_during(&sa, "uni-", Duration::from_millis(50));
    assert!(back.is_empty(), "unicast frames came back to A");
}

/// Malformed frames are counted as drops on their ingress port, while good
/// frames around them are forwarded and pings keep working.
///
/// A truncated 802.1Q frame can only come in through a tap: on a veth the
/// receiving kernel drops a frame whose EtherType is 0x8100 but which ends
/// inside the tag (`skb_vlan_untag`) before any packet socket sees it. An
/// oversized frame can only come in through a veth whose far end has a
/// larger MTU (an AF_PACKET sender cannot exceed its own interface's MTU).
#[test]
fn malformed_frames_are_counted_and_forwarding_goes_on() {
    setup();
    // X (tap) sends a runt and a truncated VLAN frame, V (veth) a runt and
    // an oversized frame, Y receives.
    let x = TapHost::new(P, Some("10.77.4.1/24"));
    let v = VethHost::new(P, Some("10.77.4.2/24"));
    let y = VethHost::new(P, Some("10.77.4.3/24"));
    // V's NIC may send jumbo frames; rvs's port (the host end) stays at MTU
    // 1500, so a 1504-byte payload is oversized for it.
    v.veth
        .set_mtu_b(9000)
        .expect("MTU 9000 on the namespace end");
    let rvsd = start_rvsd();
    let br = unique_name(P);

    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(
        &rvsd,
        &["add-port", &br, x.port(), "--type", "tap", "--tag", "40"],
    );
    rvs_ok(&rvsd, &["add-port", &br, v.port(), "--tag", "40"]);
    rvs_ok(&rvsd, &["add-port", &br, y.port(), "--tag", "40"]);
    x.plug();

    let (sx, sv, sy) = (x.sock(), v.sock(), y.sock());
    let (mx, mv, my) = (x.mac(), v.mac(), y.mac());
    let good =
        |src: [u8; 6], marker: &str| frames::ethernet(my, src, ETHERTYPE_TEST, &payload(marker));
    // 14 bytes: a header and no payload.
    let runt = |src: [u8; 6]| frames::ethernet(my, src, ETHERTYPE_TEST, &[]);
    // 16 bytes: EtherType 0x8100 and half a tag.
    let truncated_vlan = {
        let mut f = frames::ethernet(my, mx, TPID_8021Q, &[]);
        f.extend_from_slice(&[0x00, 0x28]);
        f
    };
    // 1518 bytes untagged: payload 1504 > 1500.
    let oversized = frames::ethernet(my, mv, ETHERTYPE_TEST, &vec![0x5a; 1504]);
    assert_eq!(runt(mx).len(), 14);
    assert_eq!(truncated_vlan.len(), 16);
    assert_eq!(oversized.len(), 1518);

    sx.send(&good(mx, "good-x1")).expect("send");
    sx.send(&runt(mx)).expect("send runt");
    sx.send(&good(mx, "good-x2")).expect("send");
    sx.send(&truncated_vlan).expect("send truncated VLAN frame");
    sx.send(&good(mx, "good-x3")).expect("send");
    sv.send(&good(mv, "good-v1")).expect("send");
    sv.send(&runt(mv)).expect("send runt");
    sv.send(&good(mv, "good-v2")).expect("send");
    sv.send(&oversized).expect("send oversized frame");
    sv.send(&good(mv, "good-v3")).expect("send");

    // X's and V's frames may be forwarded by different datapath threads, so they can
    // reach Y interleaved: collect, then look for each one.
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let markers = [
        "good-x1", "good-x2", "good-x3", "good-v1", "good-v2", "good-v3",
    ];
    let deadline = std::time::Instant::now() + ARRIVAL;
    for _ in 0..100 {
        let all = markers
            .iter()
            .all(|m| seen.iter().any(|f| has_marker(f, m)));
        if all || std::time::Instant::now() >= deadline {
            break;
        }
        seen.extend(prefixed_during(&sy, "good-", Duration::from_millis(50)));
    }
    let missing: Vec<&str> = markers
        .iter()
        .copied()
        .filter(|m| !seen.iter().any(|f| has_marker(f, m)))
        .collect();
    assert!(missing.is_empty(), "good frames lost: {missing:?}");
    // Nothing malformed was forwarded to Y.
    let stray: Vec<Vec<u8>> = sy
        .recv_for(QUIET)
        .into_iter()
        .filter(|f| f.len() <= 16 || f.len() >= 1518)
        .collect();
    assert!(stray.is_empty(), "malformed frames forwarded: {stray:02x?}");

    let stats = port_stats(&rvsd, &br);
    let drops_of = |p: &str| stats.get(p).expect("port in stats").drops.clone();
    assert_eq!(
        drops_of(x.port()),
        counts(&[("runt", 1), ("truncated_vlan", 1)]),
        "tap ingress port: {stats:#?}"
    );
    assert_eq!(
        drops_of(v.port()),
        counts(&[("oversized", 1), ("runt", 1)]),
        "veth ingress port: {stats:#?}"
    );
    assert_eq!(drops_of(y.port()), counts(&[]), "receiver: {stats:#?}");
    // rx counts every frame, dropped or not: 5 from each sender.
    assert_eq!(stats[x.port()].rx_packets, 5, "{stats:#?}");
    assert_eq!(stats[v.port()].rx_packets, 5, "{stats:#?}");

    assert_pings(&[
        (&x.ns, "10.77.4.3", "x -> y after the malformed frames"),
        (&v.ns, "10.77.4.3", "v -> y after the malformed frames"),
    ]);
}

/// rvsd re-reads port MTUs about once a second and does not send a frame
/// bigger than the egress port's MTU (`tx_too_big`). Checked on a system
/// port (control) and on a tap that was moved into a namespace, where the
/// MTU is changed.
#[test]
fn mtu_changes_are_seen_on_system_and_tap_ports() {
    setup();
    // S sends; V receives behind a system port, T behind a tap. S's path
    // into rvs allows 1500-byte payloads.
    let s = VethHost::new(P, None);
    let v = VethHost::new(P, None);
    let t = TapHost::new(P, None);
    s.veth.set_mtu_b(9000).expect("sender MTU");
    let rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, s.port(), "--tag", "50"]);
    rvs_ok(&rvsd, &["add-port", &br, v.port(), "--tag", "50"]);
    rvs_ok(
        &rvsd,
        &["add-port", &br, t.port(), "--type", "tap", "--tag", "50"],
    );
    t.plug();
    let (ss, sv, st) = (s.sock(), v.sock(), t.sock());
    let ms = s.mac();

    // Both receivers get a 1450-byte payload at MTU 1500.
    let big = |marker: &str| {
        let mut p = payload(marker);
        p.resize(1450, b'.');
        frames::ethernet(BROADCAST, ms, ETHERTYPE_TEST, &p)
    };
    ss.send(&big("big-1500")).expect("send");
    assert!(recv_marked(&sv, "big-1500").is_some(), "at the system port");
    assert!(recv_marked(&st, "big-1500").is_some(), "at the tap");

    // Lower both MTUs to 1400: the system port's (rvs's end of the veth,
    // in rvsd's namespace) and the tap's (in the host's namespace).
    v.veth.set_mtu_a(1400).expect("system port MTU");
    v.veth.set_mtu_b(1400).expect("receiver NIC MTU");
    t.set_mtu(1400);

    // Control: within a few seconds rvsd refuses the frame for the system
    // port as too big.
    let mut seen = false;
    for i in 0..25 {
        ss.send(&big(&format!("big-try-{i}"))).expect("send");
        std::thread::sleep(Duration::from_millis(200));
        if drops(&rvsd, &br, v.port()).contains_key("tx_too_big") {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "rvsd never noticed the system port's MTU of 1400: {:#?}",
        port_stats(&rvsd, &br)
    );
    // The refresh has run at least once more by now.
    std::thread::sleep(Duration::from_millis(1500));
    st.drain();
    let before = drops(&rvsd, &br, t.port())
        .get("tx_too_big")
        .copied()
        .unwrap_or(0);
    ss.send(&big("big-1400")).expect("send");
    std::thread::sleep(QUIET);
    let after = drops(&rvsd, &br, t.port())
        .get("tx_too_big")
        .copied()
        .unwrap_or(0);
    let delivered = marked_during(&st, "big-1400", Duration::from_millis(20));
    assert!(
        after == before + 1 && delivered.is_empty(),
        "a 1450-byte payload must not be sent to a tap whose MTU is 1400 \
         (tx_too_big {before} -> {after}, delivered {} copies); rvsd does not \
         see the MTU of a tap that lives in another namespace",
        delivered.len()
    );
}
