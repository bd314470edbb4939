//! End-to-end tests of refusals, against a real `rvsd`: every error is one
//! stderr line starting `rvs: ` with the documented exit code, and a refused
//! change leaves the running and the persisted state as they were. Also raw
//! requests on the control socket that bypass the CLI's checks, the CLI
//! without a daemon, and a live `set-port` VLAN change.
//!
//! Needs root (except the no-daemon test). Every namespace, link and bridge
//! name starts with "ec". Addresses are in 10.77.0.0/16, inside our
//! namespaces only.

mod common;

use common::*;
use rvs_api::{ErrorKind, Reply, Response, PROTOCOL_VERSION};
use rvs_lab::{link_exists, unique_name, RvsdProcess};
use serde_json::{json, Value};
use std::fs;
use std::process::{Command, Output};
use std::time::Duration;

const P: &str = "ec";

/// What must not change when a request is refused: the database bytes and
/// the JSON of `rvs show`.
fn snapshot(rvsd: &RvsdProcess) -> (Vec<u8>, String) {
    let db = fs::read(rvsd.db_path()).expect("read the database");
    let show = rvs_ok(rvsd, &["--format", "json", "show"]);
    (db, show)
}

/// Checks the shape of a failed CLI run: exit `code`, nothing on stdout,
/// exactly one stderr line that starts with `rvs: ` and contains `needle`.
fn assert_one_line_error(args: &[&str], out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!("`rvs {}`", args.join(" "));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit status; stderr: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: stdout must be empty, got {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.starts_with("rvs: ") && stderr.ends_with('\n') && stderr.lines().count() == 1,
        "{what}: stderr must be one line starting with 'rvs: ', got {stderr:?}"
    );
    assert!(
        stderr.contains(needle),
        "{what}: stderr must mention {needle:?}, got {stderr:?}"
    );
}

/// Runs `rvs ARGS`, which must fail with `code` and one line mentioning
/// `needle`, and must not change anything.
fn refused(rvsd: &RvsdProcess, args: &[&str], code: i32, needle: &str) {
    let before = snapshot(rvsd);
    let out = rvsd.rvs(args);
    assert_one_line_error(args, &out, code, needle);
    let after = snapshot(rvsd);
    assert!(
        after.0 == before.0,
        "`rvs {}` was refused but changed the database",
        args.join(" ")
    );
    assert_eq!(
        after.1,
        before.1,
        "`rvs {}` was refused but changed `rvs show`",
        args.join(" ")
    );
}

/// Runs `rvs ARGS`, which must succeed silently and change nothing.
fn silent_noop(rvsd: &RvsdProcess, args: &[&str]) {
    let before = snapshot(rvsd);
    let out = rvsd.rvs(args);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "`rvs {}` must succeed silently: {out:?}",
        args.join(" ")
    );
    assert!(
        snapshot(rvsd) == before,
        "`rvs {}` changed state",
        args.join(" ")
    );
}

#[test]
fn refused_commands_print_one_line_and_change_nothing() {
    setup();
    let h = VethHost::new(P, None);
    let spare = VethHost::new(P, None); // an existing interface that is no port
    let rvsd = start_rvsd();
    let br = unique_name(P);
    let br2 = unique_name(P);
    let port = h.port();
    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-br", &br2]);
    rvs_ok(&rvsd, &["add-port", &br, port, "--tag", "10"]);

    // Unknown bridge (exit 1, rvsd's message).
    let nosuch = "no bridge named 'nosuch'";
    refused(&rvsd, &["add-port", "nosuch", "x"], 1, nosuch);
    refused(&rvsd, &["del-br", "nosuch"], 1, nosuch);
    refused(&rvsd, &["list-ports", "nosuch"], 1, nosuch);
    refused(&rvsd, &["fdb-show", "nosuch"], 1, nosuch);
    refused(&rvsd, &["fdb-flush", "nosuch"], 1, nosuch);
    refused(&rvsd, &["port-stats", "nosuch"], 1, nosuch);
    refused(&rvsd, &["set-br", "nosuch", "--mac-aging", "60"], 1, nosuch);
    refused(&rvsd, &["del-port", "nosuch", port], 1, nosuch);

    // Unknown port.
    let no_port = format!("bridge '{br}' has no port named 'nosuch'");
    refused(&rvsd, &["del-port", &br, "nosuch"], 1, &no_port);
    refused(
        &rvsd,
        &["set-port", &br, "nosuch", "--tag", "5"],
        1,
        &no_port,
    );
    // A port of another bridge is unknown on this one.
    let not_here = format!("bridge '{br2}' has no port named '{port}'");
    refused(&rvsd, &["del-port", &br2, port], 1, &not_here);

    // Duplicates.
    refused(
        &rvsd,
        &["add-br", &br],
        1,
        &format!("bridge '{br}' already exists"),
    );
    let dup = format!("port '{port}' already exists on bridge '{br}'");
    refused(&rvsd, &["add-port", &br, port, "--tag", "10"], 1, &dup);
    refused(&rvsd, &["add-port", &br, port, "--tag", "20"], 1, &dup);
    refused(&rvsd, &["add-port", &br2, port], 1, &dup);
    refused(&rvsd, &["add-port", &br2, port, "--may-exist"], 1, &dup);
    refused(&rvsd, &["add-br", port], 1, "already the name of a port");
    refused(
        &rvsd,
        &["add-port", &br, &br2],
        1,
        "already the name of a bridge",
    );

    // Interfaces that do not exist, or are not what --type says.
    refused(
        &rvsd,
        &["add-port", &br, "doesnotexist0"],
        1,
        "interface 'doesnotexist0' not found",
    );
    refused(
        &rvsd,
        &[
            "add-port",
            &br,
            spare.port(),
            "--type",
            "tap",
            "--tag",
            "10",
        ],
        1,
        "not a tap device",
    );
    assert!(
        link_exists(None, spare.port()),
        "a refused --type tap add-port deleted the existing interface"
    );

    // VLANs outside 1-4094 and bad combinations: caught by the CLI (exit 2).
    for tag in ["0", "4095", "5000"] {
        refused(
            &rvsd,
            &["add-port", &br, spare.port(), "--tag", tag],
            2,
            &format!("invalid VLAN {tag}: outside 1-4094"),
        );
        refused(
            &rvsd,
            &["set-port", &br, port, "--tag", tag],
            2,
            &format!("invalid VLAN {tag}: outside 1-4094"),
        );
    }
    refused(
        &rvsd,
        &["add-port", &br, spare.port(), "--trunks", "1,5000"],
        2,
        "invalid --trunks '1,5000'",
    );
    refused(
        &rvsd,
        &["set-port", &br, port, "--trunks", "0,10"],
        2,
        "invalid --trunks '0,10'",
    );
    refused(
        &rvsd,
        &[
            "add-port",
            &br,
            spare.port(),
            "--tag",
            "10",
            "--trunks",
            "20",
        ],
        2,
        "rvs: ",
    );
    // A merged set-port result that rvsd refuses (exit 1): an access port
    // made a trunk while it keeps its tag.
    refused(
        &rvsd,
        &["set-port", &br, port, "--vlan-mode", "trunk"],
        1,
        "--tag cannot be used with vlan mode trunk",
    );

    // --may-exist / --if-exists succeed silently.
    silent_noop(&rvsd, &["add-br", &br, "--may-exist"]);
    silent_noop(
        &rvsd,
        &["add-port", &br, port, "--tag", "10", "--may-exist"],
    );
    silent_noop(&rvsd, &["del-br", "nosuch", "--if-exists"]);
    silent_noop(&rvsd, &["del-port", &br, "nosuch", "--if-exists"]);

    // Everything is still as configured, and forwarding state is intact.
    let bridge = show_bridge(&rvsd, &br);
    assert_eq!(bridge.ports.len(), 1, "{bridge:#?}");
    assert_eq!(bridge.ports[0].name, port);
    assert_eq!(bridge.ports[0].vlan.tag, Some(10));
    assert_eq!(bridge.ports[0].status, "up");
    assert!(show_bridge(&rvsd, &br2).ports.is_empty());
}

/// A request line: `{"version": 1, "request": REQ}`. Built as JSON, as it
/// goes on the wire, so optional fields the protocol may grow later do not
/// matter here.
fn line(req: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "version": PROTOCOL_VERSION, "request": req }))
        .expect("encode request")
}

/// A `VlanSpec` as JSON.
fn spec(tag: Option<u16>, trunks: &[u16], mode: Option<&str>) -> Value {
    json!({ "tag": tag, "trunks": trunks, "mode": mode })
}

/// Expects an error reply of `kind`.
fn expect_error(reply: Option<Reply>, kind: ErrorKind, what: &str) -> String {
    match reply {
        Some(Reply::Error(e)) => {
            assert_eq!(e.kind, kind, "{what}: {e:?}");
            e.message
        }
        other => panic!("{what}: expected an error reply of kind {kind:?}, got {other:?}"),
    }
}

/// Invalid requests sent straight to the socket, past the CLI's checks, get
/// error replies; garbage gets an error reply or a closed connection; the
/// daemon stays up and its state does not change.
#[test]
fn invalid_requests_on_the_socket_are_answered_and_the_daemon_survives() {
    setup();
    let h = VethHost::new(P, None);
    let spare = VethHost::new(P, None);
    let mut rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, h.port(), "--tag", "10"]);
    let before = snapshot(&rvsd);
    let fresh_tap = unique_name(P);

    let add_port = |name: &str, kind: &str, vlan: Value| {
        json!({
            "op": "add-port",
            "bridge": br,
            "name": name,
            "kind": kind,
            "vlan": vlan,
            "may_exist": false,
        })
    };
    let set_port = |change: Value| json!({ "op": "set-port", "bridge": br, "name": h.port(), "change": change });
    let settings = |aging: Option<u32>, size: Option<u32>| json!({ "mac_aging_secs": aging, "mac_table_size": size });
    let add_br = |name: &str, settings: Value| json!({ "op": "add-bridge", "name": name, "settings": settings, "may_exist": false });
    let invalid: Vec<(&str, Value)> = vec![
        (
            "add-port --tag 5000",
            add_port(spare.port(), "system", spec(Some(5000), &[], None)),
        ),
        (
            "add-port --tag 0",
            add_port(spare.port(), "system", spec(Some(0), &[], None)),
        ),
        (
            "add-port --tag 4095",
            add_port(spare.port(), "system", spec(Some(4095), &[], None)),
        ),
        (
            "add-port --trunks 1,5000",
            add_port(
                spare.port(),
                "system",
                spec(None, &[1, 5000], Some("trunk")),
            ),
        ),
        (
            "add-port tap --tag 5000",
            add_port(&fresh_tap, "tap", spec(Some(5000), &[], None)),
        ),
        (
            "add-port tap access without a tag",
            add_port(&fresh_tap, "tap", spec(None, &[], Some("access"))),
        ),
        ("set-port --tag 5000", set_port(json!({ "tag": 5000 }))),
        ("set-port --tag 0", set_port(json!({ "tag": 0 }))),
        (
            "set-port --trunks 0,10",
            set_port(json!({ "trunks": [0, 10] })),
        ),
        (
            "add-br --mac-aging 1",
            add_br(&unique_name(P), settings(Some(1), None)),
        ),
        (
            "set-br --mac-table-size 0",
            json!({
                "op": "set-bridge",
                "name": br,
                "settings": settings(None, Some(0)),
            }),
        ),
        (
            "add-br with a '/' in the name",
            add_br("ec/bad", settings(None, None)),
        ),
        (
            "add-br with a 20-byte name",
            add_br("ecnamethatistoolong0", settings(None, None)),
        ),
        (
            "add-port with a space in the name",
            add_port("ec bad", "tap", spec(Some(10), &[], None)),
        ),
    ];

    let mut client = RawClient::connect(&rvsd.socket_path());
    for (what, req) in invalid {
        let msg = expect_error(client.call(&line(req)), ErrorKind::InvalidArgument, what);
        assert!(!msg.is_empty(), "{what}: empty error message");
    }
    // Control: the same request shape with valid values is accepted (so the
    // refusals above are about the values, not about the encoding).
    let mut valid = add_port(h.port(), "system", spec(Some(10), &[], None));
    valid["may_exist"] = json!(true);
    match client.call(&line(valid)) {
        Some(Reply::Ok(Response::Done)) => {}
        other => panic!("valid add-port --may-exist over the socket: {other:?}"),
    }
    assert!(
        !link_exists(None, &fresh_tap),
        "a refused tap add-port left the device {fresh_tap} behind"
    );

    // Malformed lines on the same connection.
    let protocol: Vec<(&str, Vec<u8>)> = vec![
        ("garbage text", b"hello rvsd".to_vec()),
        ("binary garbage", vec![0x00, 0x01, 0x02, 0x7f, 0x1b]),
        ("not UTF-8", vec![0xff, 0xfe, 0xfd, 0x80, b'{', 0xc3]),
        ("empty line", Vec::new()),
        ("JSON that is no request", br#"{"version":1}"#.to_vec()),
        (
            "unknown op",
            br#"{"version":1,"request":{"op":"explode"}}"#.to_vec(),
        ),
        (
            "missing fields",
            br#"{"version":1,"request":{"op":"add-port","bridge":"x"}}"#.to_vec(),
        ),
        (
            "tag that is no u16",
            format!(
                r#"{{"version":1,"request":{{"op":"set-port","bridge":"{br}","name":"{}","change":{{"tag":70000}}}}}}"#,
                h.port()
            )
            .into_bytes(),
        ),
        (
            "another protocol version",
            br#"{"version":2,"request":{"op":"list-bridges"}}"#.to_vec(),
        ),
    ];
    for (what, bytes) in protocol {
        expect_error(client.call(&bytes), ErrorKind::Protocol, what);
    }
    // The connection still serves good requests.
    match client.call(&line(json!({ "op": "list-bridges" }))) {
        Some(Reply::Ok(Response::Bridges { bridges })) => assert_eq!(bridges, vec![br.clone()]),
        other => panic!("list-bridges after errors on the same connection: {other:?}"),
    }
    drop(client);

    // An overlong line (over 1 MiB): an error reply and/or a closed
    // connection, never a dead daemon.
    let mut big = vec![b'a'; (1 << 20) + 4096];
    big.push(b'\n');
    let mut client = RawClient::connect(&rvsd.socket_path());
    let _ = client.send(&big); // may fail once rvsd has closed
    if let Some(reply) = client.reply() {
        expect_error(Some(reply), ErrorKind::Protocol, "overlong line");
        assert!(
            client.reply().is_none(),
            "rvsd must close the connection after an overlong line"
        );
    }
    // Overlong, no newline, then the client stops writing.
    let mut client = RawClient::connect(&rvsd.socket_path());
    let _ = client.send(&vec![b'{'; (1 << 20) + 10]);
    let _ = client.shutdown_write();
    if let Some(reply) = client.reply() {
        expect_error(
            Some(reply),
            ErrorKind::Protocol,
            "overlong line without newline",
        );
    }
    // A connection that says nothing, and one that sends half a request.
    drop(RawClient::connect(&rvsd.socket_path()));
    let mut client = RawClient::connect(&rvsd.socket_path());
    let _ = client.send(br#"{"version":1,"request":{"op":"#);
    drop(client);

    assert!(rvsd.is_running(), "rvsd died:\n{}", rvsd.log());
    let listed = rvs_ok(&rvsd, &["list-br"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), vec![br.as_str()]);
    let after = snapshot(&rvsd);
    assert!(
        after.0 == before.0,
        "refused raw requests changed the database"
    );
    assert_eq!(after.1, before.1, "refused raw requests changed `rvs show`");
}

/// Without a daemon the CLI exits 3 and says how to start one.
#[test]
fn cli_without_a_daemon_exits_3_and_says_how_to_start_it() {
    let dir = TempDir::new("nodaemon");
    let run_dir = dir.path().to_str().expect("UTF-8 temp dir").to_string();
    for args in [vec!["list-br"], vec!["--format", "json", "show"]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rvs"));
        cmd.arg("--run-dir")
            .arg(&run_dir)
            .args(&args)
            .env_remove("RVS_RUN_DIR");
        let out = output_within(cmd, Duration::from_secs(20));
        let expected = format!(
            "rvs: rvsd is not running (no socket at {run_dir}/rvsd.sock); start it with: rvsd --run-dir {run_dir}\n"
        );
        assert_one_line_error(&args, &out, 3, "rvsd is not running");
        assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
    }
}

/// `set-port` changes a port's VLAN live: pings follow the port into its new
/// VLAN and no longer reach the old one.
#[test]
fn set_port_moves_a_host_to_another_vlan_live() {
    setup();
    let h1 = VethHost::new(P, Some("10.77.21.1/24"));
    let h10 = VethHost::new(P, Some("10.77.21.10/24"));
    let h20 = TapHost::new(P, Some("10.77.21.20/24"));
    let rvsd = start_rvsd();
    let br = unique_name(P);
    rvs_ok(&rvsd, &["add-br", &br]);
    rvs_ok(&rvsd, &["add-port", &br, h1.port(), "--tag", "10"]);
    rvs_ok(&rvsd, &["add-port", &br, h10.port(), "--tag", "10"]);
    rvs_ok(
        &rvsd,
        &["add-port", &br, h20.port(), "--type", "tap", "--tag", "20"],
    );
    h20.plug();

    assert_pings(&[(&h1.ns, "10.77.21.10", "h1 -> h10 in VLAN 10")]);
    assert_no_pings(&[(&h1.ns, "10.77.21.20", "h1 (VLAN 10) -> h20 (VLAN 20)")]);

    rvs_ok(&rvsd, &["set-port", &br, h1.port(), "--tag", "20"]);
    let p = show_bridge(&rvsd, &br)
        .ports
        .into_iter()
        .find(|p| p.name == h1.port())
        .expect("h1's port");
    assert_eq!(p.vlan.tag, Some(20), "{p:#?}");
    assert_eq!(p.status, "up", "{p:#?}");

    assert_pings(&[(
        &h1.ns,
        "10.77.21.20",
        "h1 -> h20 after moving h1 to VLAN 20",
    )]);
    assert_no_pings(&[
        (&h1.ns, "10.77.21.10", "h1 (now VLAN 20) -> h10 (VLAN 10)"),
        (&h10.ns, "10.77.21.1", "h10 (VLAN 10) -> h1 (now VLAN 20)"),
    ]);

    // And back: the change is persistent and reversible.
    rvs_ok(&rvsd, &["set-port", &br, h1.port(), "--tag", "10"]);
    assert_pings(&[(&h1.ns, "10.77.21.10", "h1 -> h10 after moving h1 back")]);
    assert_no_pings(&[(&h1.ns, "10.77.21.20", "h1 (VLAN 10 again) -> h20")]);
}
