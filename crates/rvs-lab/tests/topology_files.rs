//! Topology files: every kind of mistake gives one error naming the file, the line and
//! the key; the examples parse and draw as expected. No root needed: nothing here
//! touches the system (that parse errors create nothing is checked end to end in
//! `crates/rvs/tests/lab_cli.rs`).

use rvs_lab::graph;
use rvs_lab::topology::IfaceKind;
use rvs_lab::Topology;
use std::path::PathBuf;

/// A small valid file; tests break one line of it.
const GOOD: &str = r#"name = "t1"

[[bridges]]
name = "br0"
vlans = [10, 20]

[[bridges]]
name = "br1"

[[links]]
bridges = ["br0", "br1"]
trunks = [10, 20]

[[hosts]]
name = "h1"
gateway = "10.0.0.254"
[[hosts.interfaces]]
bridge = "br0"
vlan = 10
addresses = ["10.0.0.1/24", "fd00::1/64"]

[[hosts]]
name = "h2"
[[hosts.interfaces]]
bridge = "br1"
kind = "tap"
vlan = 10
mac = "02:00:00:00:00:02"
addresses = ["10.0.0.2/24"]
"#;

fn err(text: &str) -> String {
    match Topology::parse(text, "lab.toml") {
        Ok(t) => panic!("should be refused, parsed as {t:?}"),
        Err(e) => e.to_string(),
    }
}

/// `GOOD` with the first occurrence of `from` replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?} not in GOOD");
    GOOD.replacen(from, to, 1)
}

#[test]
fn good_file_resolves_names_and_defaults() {
    let t = Topology::parse(GOOD, "lab.toml").expect("valid");
    assert_eq!(t.prefix, "t1-");
    assert_eq!(t.bridges[0].rvs_name, "t1-br0");
    assert_eq!(t.bridges[0].vlans, vec![10, 20]);
    let h1 = t.host("h1").unwrap();
    assert_eq!(h1.netns, "t1-h1");
    assert_eq!(h1.interfaces[0].port, "t1-h1-0");
    assert_eq!(h1.interfaces[0].nic, "eth0");
    assert_eq!(h1.interfaces[0].kind, IfaceKind::Veth);
    assert!(
        h1.interfaces[0].offloads,
        "offloads default to the kernel's (on)"
    );
    assert_eq!(h1.gateway.unwrap().to_string(), "10.0.0.254");
    let h2 = t.host("h2").unwrap();
    assert_eq!(h2.interfaces[0].kind, IfaceKind::Tap);
    assert_eq!(h2.interfaces[0].nic, "t1-h2-0", "a tap keeps rvsd's name");
    assert_eq!(
        t.links[0].ports,
        ["t1-l0-a".to_string(), "t1-l0-b".to_string()]
    );
    assert_eq!(t.links[0].vlan.trunks, vec![10, 20]);
    assert_eq!(
        h1.ping_targets()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["10.0.0.1", "fd00::1"]
    );
}

#[test]
fn syntax_error_names_the_line() {
    let e = err(&with("name = \"h2\"", "name = \"h2"));
    assert!(e.starts_with("lab.toml:23: TOML syntax error: "), "{e}");
}

#[test]
fn unknown_key() {
    let e = err(&with("vlan = 10\naddresses", "vlna = 10\naddresses"));
    assert!(
        e.starts_with(
            "lab.toml:19: key `hosts[0].interfaces[0].vlna`: unknown key `vlna`, expected one of "
        ),
        "{e}"
    );
    let e = err(&with("name = \"br1\"", "name = \"br1\"\ncolour = \"red\""));
    assert!(
        e.starts_with("lab.toml:9: key `bridges[1].colour`: unknown key `colour`"),
        "{e}"
    );
    let e = err(&format!("{GOOD}\n[extra]\nx = 1\n"));
    assert!(
        e.starts_with("lab.toml:31: key `extra`: unknown key `extra`"),
        "{e}"
    );
}

#[test]
fn missing_key_and_wrong_type() {
    let e = err(&with("name = \"h2\"\n", ""));
    assert_eq!(e, "lab.toml:22: key `hosts[1].name`: missing key `name`");
    let e = err(&with("vlan = 10\naddresses", "vlan = \"ten\"\naddresses"));
    assert!(
        e.starts_with(
            "lab.toml:19: key `hosts[0].interfaces[0].vlan`: invalid type: string \"ten\""
        ),
        "{e}"
    );
    let e = err(&with("kind = \"tap\"", "kind = \"vm\""));
    assert!(
        e.starts_with("lab.toml:26: key `hosts[1].interfaces[0].kind`: unknown variant `vm`"),
        "{e}"
    );
}

#[test]
fn dangling_references() {
    let e = err(&with("bridge = \"br1\"\nkind", "bridge = \"br9\"\nkind"));
    assert_eq!(
        e,
        "lab.toml:25: key `hosts[1].interfaces[0].bridge`: no bridge named 'br9'"
    );
    let e = err(&with(
        "bridges = [\"br0\", \"br1\"]",
        "bridges = [\"br0\", \"nope\"]",
    ));
    assert_eq!(
        e,
        "lab.toml:11: key `links[0].bridges[1]`: no bridge named 'nope'"
    );
    let e = err(&with("gateway = \"10.0.0.254\"", "gateway = \"10.9.0.1\""));
    assert_eq!(
        e,
        "lab.toml:16: key `hosts[0].gateway`: 10.9.0.1 is not on a network of host 'h1' (no IPv4 address of its interfaces covers it)"
    );
}

#[test]
fn duplicate_names() {
    let e = err(&with("name = \"h2\"", "name = \"h1\""));
    assert_eq!(
        e,
        "lab.toml:23: key `hosts[1].name`: duplicate host name 'h1' (also hosts[0])"
    );
    let e = err(&with("name = \"br1\"", "name = \"br0\""));
    assert_eq!(
        e,
        "lab.toml:8: key `bridges[1].name`: duplicate bridge name 'br0'"
    );
}

#[test]
fn bad_addresses() {
    let e = err(&with("\"10.0.0.2/24\"", "\"10.0.0.2\""));
    assert_eq!(
        e,
        "lab.toml:29: key `hosts[1].interfaces[0].addresses[0]`: bad address: '10.0.0.2' has no prefix length: write it as ADDRESS/LENGTH, e.g. 10.0.0.1/24"
    );
    let e = err(&with("\"10.0.0.2/24\"", "\"10.0.0.300/24\""));
    assert!(
        e.contains("'10.0.0.300' in '10.0.0.300/24' is not an IPv4 or IPv6 address"),
        "{e}"
    );
    let e = err(&with("\"10.0.0.2/24\"", "\"10.0.0.0/24\""));
    assert!(
        e.ends_with("bad address: '10.0.0.0/24' is the network address of its prefix"),
        "{e}"
    );
    let e = err(&with("\"10.0.0.2/24\"", "\"10.0.0.1/24\""));
    assert_eq!(
        e,
        "lab.toml:29: key `hosts[1].interfaces[0].addresses[0]`: duplicate address 10.0.0.1: `hosts[0].interfaces[0].addresses[0]` has it already"
    );
    let e = err(&with("\"fd00::1/64\"", "\"fe80::1/64\""));
    assert!(e.contains("is link-local"), "{e}");
    let e = err(&with(
        "mac = \"02:00:00:00:00:02\"",
        "mac = \"01:00:5e:00:00:01\"",
    ));
    assert!(
        e.starts_with("lab.toml:28: key `hosts[1].interfaces[0].mac`: bad MAC address '01:00:5e:00:00:01': it is a multicast address"),
        "{e}"
    );
}

#[test]
fn bad_vlans() {
    let e = err(&with(
        "vlan = 10\naddresses = [\"10.0.0.1",
        "vlan = 5000\naddresses = [\"10.0.0.1",
    ));
    assert_eq!(
        e,
        "lab.toml:19: key `hosts[0].interfaces[0].vlan`: VLAN 5000 is outside 1-4094"
    );
    let e = err(&with("trunks = [10, 20]", "trunks = [10, \"30-20\"]"));
    assert_eq!(
        e,
        "lab.toml:12: key `links[0].trunks[1]`: invalid VLAN range '30-20': range '30-20' runs backwards"
    );
    // br1 declares no VLANs, so any VLAN is fine there; br0 declares 10 and 20.
    Topology::parse(&with("vlan = 10\nmac", "vlan = 30\nmac"), "x").expect("br1 takes any VLAN");
    let e = err(&with(
        "vlan = 10\naddresses = [\"10.0.0.1",
        "vlan = 30\naddresses = [\"10.0.0.1",
    ));
    assert_eq!(
        e,
        "lab.toml:19: key `hosts[0].interfaces[0].vlan`: VLAN 30 is not among the VLANs of bridge 'br0' (10,20)"
    );
    let e = err(&with(
        "vlan = 10\naddresses = [\"10.0.0.1",
        "vlan = 10\ntrunks = [20]\naddresses = [\"10.0.0.1",
    ));
    assert!(
        e.starts_with("lab.toml:20: key `hosts[0].interfaces[0].trunks`: `trunks` with `vlan` needs vlan_mode native-tagged or native-untagged"),
        "{e}"
    );
    let e = err(&with("trunks = [10, 20]", "trunks = []"));
    assert!(
        e.starts_with("lab.toml:12: key `links[0].trunks`: empty VLAN list"),
        "{e}"
    );
}

#[test]
fn names_that_do_not_fit() {
    let e = err(&with("name = \"h1\"", "name = \"a-very-long-host\""));
    assert_eq!(
        e,
        "lab.toml:15: key `hosts[0].name`: the port (host-side interface) 't1-a-very-long-host-0' would be 21 bytes long (Linux interface names are at most 15): use a shorter lab or host name"
    );
    let e = err(&with("name = \"t1\"", "name = \"my-lab\""));
    assert!(
        e.starts_with(
            "lab.toml:1: key `name`: bad lab name 'my-lab': use 1-12 lowercase letters and digits"
        ),
        "{e}"
    );
    let e = err(&with("name = \"br1\"", "name = \"bridge-number-1\""));
    assert!(e.starts_with("lab.toml:8: key `bridges[1].name`: the bridge name 't1-bridge-number-1' would be 18 bytes long"), "{e}");
    let e = err(&with("kind = \"tap\"", "kind = \"tap\"\nname = \"eth0\""));
    assert!(e.starts_with("lab.toml:27: key `hosts[1].interfaces[0].name`: a tap interface keeps the name rvsd gave it ('t1-h2-0')"), "{e}");
}

#[test]
fn openflow_keys_resolve() {
    let t = Topology::parse(
        &with(
            "name = \"br1\"",
            "name = \"br1\"\ncontroller = [\"tcp:127.0.0.1:6653\", \"ptcp:6654:127.0.0.1\"]\nfail_mode = \"secure\"\nflows = [\"priority=100,icmp,actions=NORMAL\", \"priority=100,arp,actions=NORMAL\"]",
        ),
        "x",
    )
    .expect("valid OpenFlow keys");
    let b = t.bridge("br1").unwrap();
    assert_eq!(
        b.controllers.as_deref(),
        Some(
            &[
                "tcp:127.0.0.1:6653".to_string(),
                "ptcp:6654:127.0.0.1".to_string()
            ][..]
        )
    );
    assert_eq!(b.fail_mode, Some(rvs_api::FailMode::Secure));
    assert_eq!(b.flows.as_ref().map(Vec::len), Some(2));
    // Not given: left as they are in rvsd.
    let b0 = t.bridge("br0").unwrap();
    assert_eq!(
        (&b0.controllers, b0.fail_mode, &b0.flows),
        (&None, None, &None)
    );
    // One target as a plain string; an empty list means no controller; `flows = []` is
    // an empty table.
    let t = Topology::parse(
        &with(
            "name = \"br1\"",
            "name = \"br1\"\ncontroller = \"ptcp:6653\"\nfail_mode = \"standalone\"\nflows = []",
        ),
        "x",
    )
    .expect("valid");
    let b = t.bridge("br1").unwrap();
    assert_eq!(b.controllers, Some(vec!["ptcp:6653".to_string()]));
    assert_eq!(b.fail_mode, Some(rvs_api::FailMode::Standalone));
    assert_eq!(b.flows, Some(vec![]));
    let t = Topology::parse(
        &with("name = \"br1\"", "name = \"br1\"\ncontroller = []"),
        "x",
    )
    .expect("valid");
    assert_eq!(t.bridge("br1").unwrap().controllers, Some(vec![]));
}

#[test]
fn bad_controller_targets_are_located() {
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\ncontroller = \"tcp:127.0.0.1\"",
    ));
    assert_eq!(
        e,
        "lab.toml:9: key `bridges[1].controller`: invalid controller target 'tcp:127.0.0.1': no port (expected tcp:IP:PORT or ptcp:PORT[:IP])"
    );
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\ncontroller = [\n  \"ptcp:6653\",\n  \"udp:1.2.3.4:5\",\n]",
    ));
    assert_eq!(
        e,
        "lab.toml:11: key `bridges[1].controller[1]`: invalid controller target 'udp:1.2.3.4:5': unknown kind (expected tcp:IP:PORT or ptcp:PORT[:IP])"
    );
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\ncontroller = \"ptcp:0\"",
    ));
    assert!(e.contains("'0' is not a port 1-65535"), "{e}");
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\ncontroller = \"tcp:10.0.0.300:6653\"",
    ));
    assert!(e.contains("'10.0.0.300' is not an IP address"), "{e}");
    let e = err(&with("name = \"br1\"", "name = \"br1\"\ncontroller = 5"));
    assert!(
        e.starts_with("lab.toml:9: key `bridges[1].controller`: "),
        "{e}"
    );
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\nfail_mode = \"open\"",
    ));
    assert_eq!(
        e,
        "lab.toml:9: key `bridges[1].fail_mode`: unknown fail_mode 'open' (expected standalone or secure)"
    );
}

#[test]
fn bad_flows_are_located_with_a_caret() {
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\nflows = [\n  \"priority=100,icmp,actions=NORMAL\",\n  \"priority=10,nw_sr=1.2.3.4,actions=drop\",\n]",
    ));
    assert_eq!(
        e,
        "lab.toml:11: key `bridges[1].flows[1]`: bridge 'br1': unknown field 'nw_sr'\n  priority=10,nw_sr=1.2.3.4,actions=drop\n              ^^^^^",
    );
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\nflows = [\"priority=100,icmp,actions=output:x\"]",
    ));
    assert!(
        e.starts_with("lab.toml:9: key `bridges[1].flows[0]`: bridge 'br1': "),
        "{e}"
    );
    assert!(
        e.contains("\n  priority=100,icmp,actions=output:x\n"),
        "{e}"
    );
    assert!(e.ends_with('^'), "{e}");
    let e = err(&with("name = \"br1\"", "name = \"br1\"\nflows = \"x\""));
    assert!(e.starts_with("lab.toml:9: key `bridges[1].flows`: "), "{e}");
}

#[test]
fn per_bridge_thread_counts_are_refused() {
    let e = err(&with(
        "name = \"br1\"",
        "name = \"br1\"\ndatapath_threads = 4",
    ));
    assert!(e.starts_with("lab.toml:9: key `bridges[1].datapath_threads`: datapath_threads 4 cannot be set per bridge"), "{e}");
    Topology::parse(
        &with(
            "name = \"br1\"",
            "name = \"br1\"\nfail_mode = \"standalone\"\ndatapath_threads = 1",
        ),
        "x",
    )
    .expect("one thread is what rvsd does");
}

#[test]
fn loops_and_sub_interfaces() {
    let looped = format!("{GOOD}\n[[links]]\nbridges = [\"br1\", \"br0\"]\n");
    let e = err(&looped);
    assert!(
        e.starts_with("lab.toml:32: key `links[1].bridges`: this link closes a loop: 'br1' and 'br0' are connected by other links already"),
        "{e}"
    );
    // A VLAN sub-interface needs the VLAN carried tagged.
    let e = err(&with(
        "vlan = 10\naddresses = [\"10.0.0.1",
        "vlan = 10\nvlan_interfaces = [{ vlan = 20 }]\naddresses = [\"10.0.0.1",
    ));
    assert!(
        e.starts_with("lab.toml:20: key `hosts[0].interfaces[0].vlan_interfaces[0].vlan`: an access port carries VLAN 10 untagged only"),
        "{e}"
    );
    let ok = with(
        "vlan = 10\naddresses = [\"10.0.0.1",
        "trunks = [10, 20]\nvlan_interfaces = [{ vlan = 20, addresses = [\"10.2.0.1/24\"] }]\naddresses = [\"10.0.0.1",
    );
    let t = Topology::parse(&ok, "x").expect("a trunk with a sub-interface");
    let sub = &t.host("h1").unwrap().interfaces[0].vlan_interfaces[0];
    assert_eq!((sub.vid, sub.name.as_str()), (20, "vlan20"));
}

#[test]
fn unreadable_file_is_reported() {
    let e = Topology::load(std::path::Path::new("/nonexistent/lab.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/lab.toml: cannot read the topology file: "),
        "{e}"
    );
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

#[test]
fn examples_parse() {
    for (file, lab, hosts) in [
        ("quickstart.toml", "quickstart", 4),
        ("vlans-and-trunks.toml", "vlans", 7),
        ("taps-and-veths.toml", "mixed", 4),
        ("openflow-policy.toml", "ofpolicy", 3),
    ] {
        let t = Topology::load(&example(file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.name, lab);
        assert_eq!(t.hosts.len(), hosts, "{file}");
    }
}

#[test]
fn graph_has_the_nodes_and_edges() {
    let t = Topology::load(&example("quickstart.toml")).unwrap();
    let dot = graph::dot(&t);
    assert!(dot.starts_with("graph \"lab quickstart\" {\n"), "{dot}");
    for line in [
        "\"bridge:br0\" [shape=box",
        "\"bridge:br1\" [shape=box",
        "\"host:h1\" [shape=ellipse, label=\"h1\\n10.70.0.1/24\"]",
        "\"host:h3\" [shape=doubleoctagon, label=\"h3\\n10.70.0.3/24\"]",
        "\"host:h1\" -- \"bridge:br0\" [style=solid, label=\"eth0 (veth)\\naccess 10\"]",
        "\"host:h4\" -- \"bridge:br1\" [style=dashed, label=\"quickstart-h4-0 (tap)\\naccess 20\"]",
        "\"bridge:br0\" -- \"bridge:br1\" [style=bold, penwidth=2, label=\"patch\\ntrunk 10,20\"]",
    ] {
        assert!(dot.contains(line), "missing {line:?} in:\n{dot}");
    }
    assert_eq!(
        dot.matches(" -- ").count(),
        5,
        "4 host edges and 1 link:\n{dot}"
    );
    let t = Topology::load(&example("vlans-and-trunks.toml")).unwrap();
    let dot = graph::dot(&t);
    assert!(
        dot.contains(
            "\"host:r1\" [shape=ellipse, label=\"r1\\n10.10.0.1/24\\n10.20.0.1/24\\n(router)\"]"
        ),
        "{dot}"
    );
    assert!(dot.contains("\"host:n1\" -- \"bridge:core\" [style=solid, label=\"eth0 (veth)\\nnative-untagged 30 + 20\"]"), "{dot}");
    assert_eq!(dot.matches(" -- ").count(), 9, "{dot}");
    if graph::dot_available() {
        let svg = String::from_utf8(graph::svg(&dot).expect("dot -Tsvg")).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains(">r1<"), "the router is drawn");
    } else {
        let e = graph::svg(&dot).unwrap_err().to_string();
        assert!(e.contains("install Graphviz"), "{e}");
    }
}
