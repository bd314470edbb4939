//! End-to-end tests of rvsd's lifecycle: crash and restart with the
//! configuration and the taps kept, clean SIGTERM shutdown, the run
//! directory lock, and a corrupted database.
//!
//! Needs root. Every namespace, link and bridge name starts with "er".
//! Addresses are in 10.77.0.0/16, inside our namespaces only.

mod common;

use common::*;
use rvs_api::BridgeInfo;
use rvs_lab::unique_name;
use std::fs;
use std::process::Command;
use std::time::Duration;

const P: &str = "er";

/// `show` output with the namespace fields blanked out.
fn without_netns(bridges: &[BridgeInfo]) -> Vec<BridgeInfo> {
    let mut b = bridges.to_vec();
    for br in &mut b {
        for p in &mut br.ports {
            p.netns = None;
        }
    }
    b
}

/// After `kill -9` and a restart, rvsd has the same bridges and ports, finds
/// the tap again in the namespace it was moved to, and forwarding works
/// again with the same VLAN separation.
#[test]
fn crash_and_restart_restores_config_taps_and_forwarding() {
    setup();
    let h1 = VethHost::new(P, Some("10.77.11.1/24")); // VLAN 10
    let h2 = VethHost::new(P, Some("10.77.11.2/24")); // VLAN 10
    let h3 = TapHost::new(P, Some("10.77.11.3/24")); // VLAN 10, tap
    let h4 = VethHost::new(P, Some("10.77.11.4/24")); // VLAN 20
    let mut rvsd = start_rvsd();
    let br = unique_name(P);

    rvs_ok(&rvsd, &["add-br", &br, "--mac-aging", "120"]);
    rvs_ok(&rvsd, &["add-port", &br, h1.port(), "--tag", "10"]);
    rvs_ok(&rvsd, &["add-port", &br, h2.port(), "--tag", "10"]);
    rvs_ok(
        &rvsd,
        &["add-port", &br, h3.port(), "--type", "tap", "--tag", "10"],
    );
    rvs_ok(&rvsd, &["add-port", &br, h4.port(), "--tag", "20"]);
    h3.plug();

    assert_pings(&[
        (&h1.ns, "10.77.11.2", "h1 -> h2 before the crash"),
        (&h1.ns, "10.77.11.3", "h1 -> h3 (tap) before the crash"),
        (&h3.ns, "10.77.11.2", "h3 (tap) -> h2 before the crash"),
    ]);
    assert_no_pings(&[(&h1.ns, "10.77.11.4", "h1 -> h4 (VLAN 20) before the crash")]);
    let before = show(&rvsd);
    let bridge = before.iter().find(|b| b.name == br).expect("bridge");
    assert_eq!(bridge.ports.len(), 4, "{before:#?}");
    assert!(bridge.ports.iter().all(port_is_up), "{before:#?}");

    rvsd.kill9();
    // A dead daemon with its socket file left behind: the CLI says so.
    let out = rvsd.rvs(&["show"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rvsd is not running"),
        "{out:?}"
    );
    // The tap outlived the daemon, with its address.
    let addr = h3
        .ns
        .run(&["ip", "addr", "show", "dev", h3.nic()])
        .expect("ip addr show of the tap after the crash");
    assert!(addr.contains("10.77.11.3/24"), "{addr}");

    rvsd.start_again().expect("restart rvsd after kill -9");
    let after = show(&rvsd);

    // Forwarding is back for the veth and the tap hosts, and VLAN 20 is
    // still separate.
    assert_pings(&[
        (&h1.ns, "10.77.11.2", "h1 -> h2 after the restart"),
        (&h1.ns, "10.77.11.3", "h1 -> h3 (tap) after the restart"),
        (&h3.ns, "10.77.11.2", "h3 (tap) -> h2 after the restart"),
    ]);
    assert_no_pings(&[
        (&h1.ns, "10.77.11.4", "h1 -> h4 (VLAN 20) after the restart"),
        (&h3.ns, "10.77.11.4", "h3 -> h4 (VLAN 20) after the restart"),
    ]);
    let addr = h3
        .ns
        .run(&["ip", "addr", "show", "dev", h3.nic()])
        .expect("ip addr show of the tap after the restart");
    assert!(
        addr.contains("10.77.11.3/24"),
        "the tap lost its address: {addr}"
    );
    assert!(
        !rvs_lab::link_exists(None, h3.nic()),
        "rvsd made a second tap in its own namespace instead of finding the moved one"
    );

    // Same configuration and status; checked with the namespace fields
    // blanked first, then exactly (rvsd knows the tap's namespace after the
    // restart, since it had to search for it; before the crash it must
    // have reported it too).
    assert_eq!(
        without_netns(&after),
        without_netns(&before),
        "`rvs show` differs after the restart"
    );
    let tap_after = after
        .iter()
        .flat_map(|b| &b.ports)
        .find(|p| p.name == h3.port())
        .expect("tap port after the restart");
    assert_eq!(
        tap_after.netns.as_deref(),
        Some(h3.ns.name()),
        "{tap_after:#?}"
    );
    assert_eq!(
        after, before,
        "`rvs show` must be the same before the crash and after the restart"
    );
}

/// SIGTERM: exit status 0, the control socket is gone, and the next start
/// finds the configuration.
#[test]
fn sigterm_stops_cleanly_and_removes_the_socket() {
    setup();
    let mut rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    let socket = rvsd.socket_path();
    assert!(socket.exists());

    let status = rvsd.terminate().expect("rvsd exits after SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status:?}"
    );
    assert!(
        !socket.exists(),
        "{} is left behind after SIGTERM",
        socket.display()
    );
    let out = rvsd.rvs(&["list-br"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    rvsd.start_again().expect("start again after SIGTERM");
    let listed = rvs_ok(&rvsd, &["list-br"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), vec![br.as_str()]);
}

/// A second rvsd on a run directory that is in use exits non-zero, naming
/// the running daemon's pid; the first keeps working, and the database is
/// not touched.
#[test]
fn second_rvsd_on_the_same_run_dir_is_refused() {
    setup();
    let rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    let db_before = fs::read(rvsd.db_path()).expect("read db");
    let pid = rvsd.pid().expect("pid of the running rvsd");

    let mut second = Command::new(rvs_lab::workspace_bin("rvsd"));
    second
        .arg("--run-dir")
        .arg(rvsd.run_dir())
        .arg("--db")
        .arg(rvsd.db_path())
        .env_remove("RVS_RUN_DIR");
    let out = output_within(second, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "second rvsd succeeded: {out:?}");
    assert!(
        stderr.contains("another rvsd") && stderr.contains(&format!("pid {pid}")),
        "the refusal must name the running rvsd (pid {pid}): {stderr}"
    );

    assert!(rvsd.socket_path().exists(), "the running daemon's socket");
    let listed = rvs_ok(&rvsd, &["list-br"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), vec![br.as_str()]);
    assert_eq!(
        fs::read(rvsd.db_path()).expect("read db"),
        db_before,
        "the refused rvsd changed the database"
    );
    let pid_file = fs::read_to_string(rvsd.run_dir().join(rvs_api::LOCK_NAME)).expect("pid file");
    assert_eq!(pid_file.trim(), pid.to_string(), "pid file");
}

/// Stops a fresh rvsd that has one bridge, so its database exists.
fn stopped_rvsd_with_a_db() -> rvs_lab::RvsdProcess {
    let mut rvsd = start_rvsd();
    rvs_ok(&rvsd, &["add-br", &unique_name(P)]);
    rvsd.terminate().expect("stop rvsd");
    assert!(rvsd.db_path().exists());
    rvsd
}

/// Writes `content` over the database, starts rvsd, and checks that it
/// refuses to start, leaves the file as it was and binds no socket; returns
/// the error (which includes rvsd's log).
fn start_on_db(rvsd: &mut rvs_lab::RvsdProcess, content: &[u8]) -> String {
    fs::write(rvsd.db_path(), content).expect("write db");
    let err = rvsd
        .start_again()
        .expect_err("rvsd must refuse to start on this database");
    assert!(!rvsd.is_running());
    assert_eq!(
        fs::read(rvsd.db_path()).expect("read db"),
        content,
        "the refused database was modified"
    );
    assert!(!rvsd.socket_path().exists(), "socket of a refused start");
    let out = rvsd.rvs(&["list-br"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    format!("{err:#}")
}

/// A database that does not parse stops rvsd with a clear message, and is
/// left exactly as it was.
#[test]
fn corrupted_database_is_refused_and_left_untouched() {
    setup();
    let mut rvsd = stopped_rvsd_with_a_db();
    let db = rvsd.db_path().display().to_string();

    let text = start_on_db(
        &mut rvsd,
        b"{\"format_version\": 1, \"bridges\": {  garbage",
    );
    assert!(
        text.contains(&format!("configuration database {db} is not valid")),
        "the error must say the database is not valid and name it: {text}"
    );

    // Well-formed JSON with a VLAN out of range is refused too.
    let bad_vlan = br#"{"format_version":1,"bridges":{"b":{"mac_aging_secs":300,"mac_table_size":10,"ports":{"p":{"kind":"system","vlan":{"tag":5000,"trunks":[],"mode":null}}}}}}"#;
    let text = start_on_db(&mut rvsd, bad_vlan);
    assert!(text.contains("outside 1-4094"), "{text}");
}

/// Binary garbage (not even UTF-8) is a corrupted database like any other:
/// refused, untouched, and reported as not valid with the usual hint.
#[test]
fn binary_garbage_database_is_reported_as_not_valid() {
    setup();
    let mut rvsd = stopped_rvsd_with_a_db();
    let db = rvsd.db_path().display().to_string();
    let text = start_on_db(&mut rvsd, b"\x00\xff\xfe garbage \x80\x81\n");
    assert!(
        text.contains(&format!("configuration database {db} is not valid")),
        "the error must say the database is not valid and name it: {text}"
    );
}

/// rvsd owns the taps it made: `del-port` and `del-br` delete them wherever
/// they live, also when rvsd found them in a namespace after a restart.
#[test]
fn del_port_and_del_br_delete_taps_in_any_namespace() {
    setup();
    let t1 = TapHost::new(P, None);
    let t2 = TapHost::new(P, None);
    let t3 = TapHost::new(P, None); // stays in rvsd's namespace
    let mut rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    for t in [&t1, &t2, &t3] {
        rvs_ok(
            &rvsd,
            &["add-port", &br, t.port(), "--type", "tap", "--tag", "10"],
        );
    }
    t1.plug();
    t2.plug();
    assert!(rvs_lab::link_exists(None, t3.nic()));

    // Deleted while attached since its creation (then moved).
    rvs_ok(&rvsd, &["del-port", &br, t1.port()]);
    assert!(
        !rvs_lab::link_exists(Some(&t1.ns), t1.nic()),
        "del-port left the tap {} in its namespace",
        t1.nic()
    );

    // Found again in its namespace after a crash, then deleted with the
    // bridge, together with the tap in rvsd's own namespace.
    rvsd.kill9();
    rvsd.start_again().expect("restart rvsd");
    let bridge = show_bridge(&rvsd, &br);
    assert_eq!(bridge.ports.len(), 2, "{bridge:#?}");
    assert!(bridge.ports.iter().all(port_is_up), "{bridge:#?}");
    rvs_ok(&rvsd, &["del-br", &br]);
    assert!(
        !rvs_lab::link_exists(Some(&t2.ns), t2.nic()),
        "del-br left the tap {} in its namespace",
        t2.nic()
    );
    assert!(
        !rvs_lab::link_exists(None, t3.nic()),
        "del-br left the tap {} in rvsd's namespace",
        t3.nic()
    );
    assert!(show(&rvsd).is_empty());
}
