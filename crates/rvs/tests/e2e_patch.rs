//! Patch ports link two bridges inside rvs: hosts on different bridges talk through the
//! pair, VLAN rules apply on both ends, and removing one end disconnects the other.

mod common;

use common::*;

#[test]
fn patch_pair_links_two_bridges() {
    setup();
    let mut rvsd = start_rvsd();
    let h1 = VethHost::new("ep", Some("10.79.0.1/24"));
    let h2 = VethHost::new("ep", Some("10.79.0.2/24"));
    let h3 = VethHost::new("ep", Some("10.79.0.3/24"));
    let (bra, brb) = (rvs_lab::unique_name("epa"), rvs_lab::unique_name("epb"));
    let (pa, pb) = (rvs_lab::unique_name("epp"), rvs_lab::unique_name("epq"));

    rvs_ok(&rvsd, &["add-br", &bra]);
    rvs_ok(&rvsd, &["add-br", &brb]);
    rvs_ok(&rvsd, &["add-port", &bra, h1.port(), "--tag", "10"]);
    rvs_ok(&rvsd, &["add-port", &brb, h2.port(), "--tag", "10"]);
    rvs_ok(&rvsd, &["add-port", &brb, h3.port(), "--tag", "20"]);
    // One end alone waits for its peer.
    rvs_ok(
        &rvsd,
        &["add-port", &bra, &pa, "--type", "patch", "--peer", &pb],
    );
    let a = show_bridge(&rvsd, &bra);
    let pa_info = a.ports.iter().find(|p| p.name == pa).expect("patch listed");
    assert!(
        pa_info.status.contains("not configured"),
        "{}",
        pa_info.status
    );
    assert_eq!(pa_info.peer.as_deref(), Some(pb.as_str()));
    // The other end completes the link (a trunk for VLANs 10 and 20).
    rvs_ok(
        &rvsd,
        &["add-port", &brb, &pb, "--type", "patch", "--peer", &pa],
    );
    for b in [&bra, &brb] {
        assert!(show_bridge(&rvsd, b).ports.iter().all(port_is_up));
    }
    assert!(
        h1.ping_until("10.79.0.2"),
        "h1 reaches h2 across the patch pair"
    );
    assert!(!h1.ping("10.79.0.3"), "VLAN 20 stays apart");

    // Removing one end disconnects the other; re-adding restores the link.
    rvs_ok(&rvsd, &["del-port", &brb, &pb]);
    let a = show_bridge(&rvsd, &bra);
    let pa_info = a.ports.iter().find(|p| p.name == pa).expect("patch listed");
    assert_ne!(pa_info.status, "up");
    assert!(!h1.ping("10.79.0.2"));
    rvs_ok(
        &rvsd,
        &["add-port", &brb, &pb, "--type", "patch", "--peer", &pa],
    );
    assert!(h1.ping_until("10.79.0.2"));

    // The link survives a crash of rvsd.
    rvsd.kill9();
    rvsd.start_again().expect("restart");
    assert!(
        h1.ping_until("10.79.0.2"),
        "patch link restored after restart"
    );

    // Bad input: a patch without a peer, a peer that is not a patch port pointing back.
    let out = rvsd.rvs(&["add-port", &bra, "epx0", "--type", "patch"]);
    assert_eq!(out.status.code(), Some(2));
    let out = rvsd.rvs(&[
        "add-port",
        &bra,
        "epx1",
        "--type",
        "patch",
        "--peer",
        h2.port(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a patch port"), "{err}");

    rvs_ok(&rvsd, &["del-br", &bra]);
    rvs_ok(&rvsd, &["del-br", &brb]);
}
