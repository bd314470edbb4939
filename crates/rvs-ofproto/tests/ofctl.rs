//! `ovs-ofctl -O OpenFlow13` against a `ptcp:` listener (ControllerSet + OfSwitch + fake
//! datapath). ovs-ofctl is required when CI=true.

mod common;

use common::Bridge;
use rvs_ofproto::conn::ConnOptions;
use std::process::Command;

fn ofctl_available() -> bool {
    let ok = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("ovs-ofctl is required when CI=true");
        }
        eprintln!("!!! ovs-ofctl not found: SKIPPING the ovs-ofctl interoperability test !!!");
    }
    ok
}

fn ofctl(target: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("ovs-ofctl");
    cmd.args(["-O", "OpenFlow13", "--timeout=10"]);
    let (verb, rest) = args.split_first().expect("verb");
    cmd.arg(verb).arg(target).args(rest);
    let out = cmd.output().expect("run ovs-ofctl");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "ovs-ofctl {args:?} failed: {stderr}\n{stdout}"
    );
    stdout
}

#[test]
fn ovs_ofctl_interoperates() {
    if !ofctl_available() {
        return;
    }
    let br = Bridge::start(&["ptcp:0"], ConnOptions::default(), &[("p1", 1), ("p2", 2)]);
    let t = format!("tcp:{}", br.addrs[0]);
    let t = t.as_str();

    let show = ofctl(t, &["show"]);
    assert!(show.contains("dpid:0000000000000abc"), "{show}");
    assert!(show.contains("1(p1)") && show.contains("2(p2)"), "{show}");

    let flows = ofctl(t, &["dump-flows"]);
    assert!(flows.contains("priority=0 actions=NORMAL"), "{flows}");

    ofctl(t, &["add-flow", "priority=10,in_port=1,actions=output:2"]);
    ofctl(
        t,
        &[
            "add-flow",
            "table=1,priority=20,tcp,tp_dst=80,idle_timeout=30,cookie=0x12,actions=drop",
        ],
    );
    let flows = ofctl(t, &["dump-flows"]);
    assert!(
        flows.contains("priority=10,in_port=p1 actions=output:p2")
            || flows.contains("priority=10,in_port=1 actions=output:2"),
        "{flows}"
    );
    assert!(
        flows.contains("cookie=0x12")
            && flows.contains("tp_dst=80")
            && flows.contains("idle_timeout=30"),
        "{flows}"
    );

    ofctl(
        t,
        &[
            "add-group",
            "group_id=1,type=all,bucket=output:1,bucket=output:2",
        ],
    );
    let groups = ofctl(t, &["dump-groups"]);
    assert!(
        groups.contains("group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2")
            || groups
                .contains("group_id=1,type=all,bucket=actions=output:p1,bucket=actions=output:p2"),
        "{groups}"
    );

    ofctl(t, &["add-meter", "meter=1,kbps,band=type=drop,rate=1000"]);
    let meters = ofctl(t, &["dump-meters"]);
    assert!(
        meters.contains("meter=1 kbps bands=") && meters.contains("type=drop rate=1000"),
        "{meters}"
    );

    ofctl(t, &["add-flow", "priority=30,ip,actions=meter:1,group:1"]);
    let flows = ofctl(t, &["dump-flows"]);
    assert!(
        flows.contains("meter:1") && flows.contains("group:1"),
        "{flows}"
    );

    let ports = ofctl(t, &["dump-ports"]);
    assert!(
        ports.contains("port  \"p1\"") || ports.contains("port  1") || ports.contains("p1"),
        "{ports}"
    );
    assert!(
        ports.contains("rx pkts=10") && ports.contains("rx pkts=20"),
        "{ports}"
    );
    let desc = ofctl(t, &["dump-ports-desc"]);
    assert!(desc.contains("1(p1)") && desc.contains("2(p2)"), "{desc}");

    let tables = ofctl(t, &["dump-tables"]);
    assert!(
        tables.contains("table 0") && tables.contains("active="),
        "{tables}"
    );

    ofctl(t, &["del-flows"]);
    let flows = ofctl(t, &["dump-flows"]);
    assert!(!flows.contains("priority="), "{flows}");
    let groups = ofctl(t, &["dump-groups"]);
    assert!(groups.contains("group_id=1"), "groups stay: {groups}");
}
