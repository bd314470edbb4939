//! Labs for real: bringing topologies up and down against a private rvsd, in network
//! namespaces. Needs root (fails loudly without it) and the binaries `rvsd` and `rvs`
//! (`cargo build` first).
//!
//! Every test uses lab names from `unique_name`, so its objects (`NAME-...`) never meet
//! another test's, and checks at the end that nothing with its prefix is left.

use rvs_lab::runtime::{self, Action, Quiet, UpOptions};
use rvs_lab::state::{LabPhase, LabState};
use rvs_lab::{
    require_root, require_tool, run_host, unique_name, workspace_bin, Control, RunningLab,
    RvsdProcess, Topology, UpFailure,
};
use std::path::PathBuf;

fn setup() -> RvsdProcess {
    require_root();
    require_tool("ip");
    require_tool("ping");
    require_tool("ethtool");
    RvsdProcess::start(workspace_bin("rvsd"), workspace_bin("rvs")).expect("start rvsd")
}

/// Brings lab `name` down when dropped, also while a failed assertion unwinds (for tests
/// that drive `runtime::up` themselves instead of holding a `RunningLab`). Declared after
/// the `RvsdProcess`, so it runs while rvsd still does.
struct DownOnDrop(String, Control);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = runtime::down(&self.0, &self.1, &mut Quiet);
    }
}

fn example_text(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with its lab name (the first top-level `name = "..."`) replaced.
fn renamed(text: &str, name: &str) -> String {
    let mut done = false;
    text.lines()
        .map(|l| {
            if !done && l.starts_with("name = ") {
                done = true;
                format!("name = \"{name}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A lab name no other test (or test process) uses: 8 characters or less.
fn lab_name(tag: &str) -> String {
    unique_name(tag)
}

fn topology(text: &str) -> Topology {
    Topology::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Namespaces and links of our namespace whose name starts with `prefix`.
fn kernel_leftovers(prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = runtime::list_netns()
        .expect("ip netns list")
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .map(|n| format!("netns {n}"))
        .collect();
    out.extend(
        runtime::list_links(None)
            .expect("ip link")
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .map(|n| format!("link {n}")),
    );
    out
}

/// rvs bridges and ports whose name starts with `prefix`.
fn rvs_leftovers(ctl: &Control, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in ctl.show().expect("rvs show") {
        if b.name.starts_with(prefix) {
            out.push(format!("bridge {}", b.name));
        }
        for p in b.ports.iter().filter(|p| p.name.starts_with(prefix)) {
            out.push(format!("port {}", p.name));
        }
    }
    out
}

/// Waits (at most 3 s) until the kernel has finished removing links of deleted
/// namespaces, then returns what is left.
fn settled_leftovers(prefix: &str) -> Vec<String> {
    for _ in 0..30 {
        let left = kernel_leftovers(prefix);
        if left.is_empty() {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    kernel_leftovers(prefix)
}

fn assert_nothing_left(ctl: &Control, prefix: &str) {
    assert_eq!(
        settled_leftovers(prefix),
        Vec::<String>::new(),
        "kernel objects left"
    );
    assert_eq!(
        rvs_leftovers(ctl, prefix),
        Vec::<String>::new(),
        "rvs objects left"
    );
}

/// Everything observable about a lab: rvs configuration and status, namespaces, links
/// with their index (a recreated link gets a new one), addresses and routes inside.
fn snapshot(ctl: &Control, t: &Topology) -> String {
    let mut s = String::new();
    for b in ctl.show().expect("show") {
        if b.name.starts_with(&t.prefix) {
            s.push_str(&serde_json::to_string(&b).unwrap());
            s.push('\n');
        }
    }
    let links = run_host(&["ip", "-o", "link", "show"]).unwrap();
    for l in links.lines().filter(|l| l.contains(&t.prefix)) {
        s.push_str(l.split(" mtu ").next().unwrap_or(l));
        s.push('\n');
    }
    for h in &t.hosts {
        for argv in [
            &["ip", "-n", &h.netns, "-o", "link", "show"][..],
            &["ip", "-n", &h.netns, "-o", "addr", "show"],
            &["ip", "-n", &h.netns, "route", "show"],
            &["ip", "-n", &h.netns, "-6", "route", "show"],
        ] {
            s.push_str(&run_host(argv).unwrap());
        }
    }
    // The kernel's own IPv6 link-local addresses finish duplicate address detection
    // some time after the interface came up; that is not the lab's doing.
    s.replace(" tentative", "")
}

const QUICKSTART_MATRIX: &str = "\
from\\to  h1     h2     h3     h4
h1       -      no     yes    no
h2       no     -      no     yes
h3       yes    no     -      no
h4       no     yes    no     -
";

const VLANS_MATRIX: &str = "\
from\\to  r1     a1     b1     b2     c1     c2     n1
r1       -      yes    yes    yes    no     no     no
a1       yes    -      yes    yes    no     no     no
b1       yes    yes    -      yes    no     no     no
b2       yes    yes    yes    -      no     no     no
c1       no     no     no     no     -      no     yes
c2       no     no     no     no     no     -      no
n1       no     no     no     no     yes    no     -
";

const MIXED_MATRIX: &str = "\
from\\to  vm1    vm2    ct1    ct2
vm1      -      no     yes    no
vm2      no     -      no     yes
ct1      yes    no     -      no
ct2      no     yes    no     -
";

fn check_example(file: &str, tag: &str, expected: &str) {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let name = lab_name(tag);
    let t = topology(&renamed(&example_text(file), &name));
    let prefix = t.prefix.clone();
    let lab = RunningLab::up(t, ctl.clone()).unwrap_or_else(|e| panic!("{e:#}"));
    let m = lab.ping_matrix().expect("ping matrix");
    assert_eq!(m.render_text(false), expected, "{file}: who reaches whom");
    // IPv6 targets are probed too where hosts have them.
    if file == "taps-and-veths.toml" {
        assert_eq!(m.targets["vm1"].len(), 2);
        assert!(m
            .probes
            .iter()
            .any(|p| p.address.to_string() == "fd00:100::12" && p.from == "vm1" && p.reached));
    }
    lab.down().expect("down");
    assert_nothing_left(&ctl, &prefix);
}

#[test]
fn quickstart_example_matrix() {
    check_example("quickstart.toml", "q", QUICKSTART_MATRIX);
}

#[test]
fn vlans_and_trunks_example_matrix() {
    check_example("vlans-and-trunks.toml", "v", VLANS_MATRIX);
}

#[test]
fn taps_and_veths_example_matrix() {
    check_example("taps-and-veths.toml", "m", MIXED_MATRIX);
}

#[test]
fn up_twice_changes_nothing_and_down_twice_is_fine() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let t = topology(&renamed(
        &example_text("taps-and-veths.toml"),
        &lab_name("i"),
    ));
    let _guard = DownOnDrop(t.name.clone(), ctl.clone());
    let first = runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up");
    assert_eq!(first.steps, first.created + first.changed + first.present);
    assert!(first.created > 0);
    let before = snapshot(&ctl, &t);
    let second = runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up again");
    assert_eq!(
        (second.created, second.changed, second.present),
        (0, 0, second.steps),
        "the second up finds everything in place"
    );
    assert_eq!(snapshot(&ctl, &t), before, "the second up changed nothing");
    assert_eq!(
        LabState::read(rvsd.run_dir(), &t.name)
            .unwrap()
            .unwrap()
            .phase,
        LabPhase::Up
    );

    // A setting changed behind the lab's back is corrected by the next up.
    rvsd.rvs_ok(&[
        "set-port",
        &format!("{}br0", t.prefix),
        &format!("{}ct1-0", t.prefix),
        "--tag",
        "200",
    ])
    .expect("set-port");
    let third = runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up a third time");
    assert_eq!((third.created, third.changed), (0, 1));
    assert_eq!(snapshot(&ctl, &t), before);

    let down = runtime::down(&t.name, &ctl, &mut Quiet).expect("down");
    assert_eq!(down.bridges, vec![format!("{}br0", t.prefix)]);
    assert_eq!(down.namespaces.len(), 4);
    assert!(down.rvsd_pending.is_none());
    assert_nothing_left(&ctl, &t.prefix);
    assert!(LabState::read(rvsd.run_dir(), &t.name).unwrap().is_none());
    let again = runtime::down(&t.name, &ctl, &mut Quiet).expect("down again");
    assert_eq!(again.removed(), 0);
}

#[test]
fn down_after_rvsd_was_killed_removes_everything() {
    let mut rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let t = topology(&renamed(&example_text("quickstart.toml"), &lab_name("k")));
    let _guard = DownOnDrop(t.name.clone(), ctl.clone());
    runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up");
    assert_eq!(
        kernel_leftovers(&t.prefix).len(),
        4 + 2,
        "4 namespaces, 2 veth host ends"
    );
    rvsd.kill9();

    let report = runtime::down(&t.name, &ctl, &mut Quiet).expect("down without rvsd");
    assert_eq!(report.namespaces.len(), 4);
    assert!(report.rvsd_pending.is_some());
    assert_eq!(settled_leftovers(&t.prefix), Vec::<String>::new());
    let st = LabState::read(rvsd.run_dir(), &t.name)
        .unwrap()
        .expect("state kept");
    assert_eq!(st.phase, LabPhase::RvsdCleanupPending);

    // rvsd comes back with the lab's bridges in its database (and recreates the taps);
    // the next down finishes the job.
    rvsd.start_again().expect("restart rvsd");
    assert_eq!(
        rvs_leftovers(&ctl, &t.prefix).len(),
        2 + 2 + 4,
        "bridges, patch ports, host ports"
    );
    let report = runtime::down(&t.name, &ctl, &mut Quiet).expect("down with rvsd");
    assert_eq!(report.bridges.len(), 2);
    assert_nothing_left(&ctl, &t.prefix);
    assert!(LabState::read(rvsd.run_dir(), &t.name).unwrap().is_none());
}

#[test]
fn failed_up_rolls_back_what_it_created() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let t = topology(&renamed(&example_text("quickstart.toml"), &lab_name("r")));
    let _guard = DownOnDrop(t.name.clone(), ctl.clone());
    let total = runtime::plan(&t).len();
    // The first step, a patch port, a veth, a tap move, an address, the last step.
    let kinds = [1, 3, 6, 17, 19, total];
    for n in kinds {
        let err = runtime::up(&t, &ctl, &UpOptions { fail_at: Some(n) }, &mut Quiet)
            .expect_err("the injected failure must fail up");
        let failure = err.downcast_ref::<UpFailure>().expect("an UpFailure");
        assert_eq!((failure.step, failure.total), (n, total));
        // Every step before n made one object, except interface settings and tap moves
        // (the namespace and the port take those along).
        let undoable = runtime::plan(&t)
            .iter()
            .take(n - 1)
            .filter(|s| !matches!(s.action, Action::Nic { .. } | Action::TapIntoNetns { .. }))
            .count();
        assert_eq!(failure.undone, undoable, "fail_at={n}: {failure}");
        assert!(failure.rollback_errors.is_empty(), "{failure}");
        assert!(
            failure.to_string().contains("injected failure"),
            "{failure}"
        );
        assert_nothing_left(&ctl, &t.prefix);
        assert!(
            LabState::read(rvsd.run_dir(), &t.name).unwrap().is_none(),
            "fail_at={n}"
        );
    }

    // Only what *this* run created goes: a lab that is up keeps everything when a
    // bigger version of it fails half-way.
    let small = t.clone();
    let lab = RunningLab::up(small.clone(), ctl.clone()).expect("up");
    let before = snapshot(&ctl, &small);
    let bigger_text = format!(
        "{}\n[[hosts]]\nname = \"h5\"\n[[hosts.interfaces]]\nbridge = \"br1\"\nvlan = 10\naddresses = [\"10.70.0.5/24\"]\n",
        renamed(&example_text("quickstart.toml"), &small.name)
    );
    let bigger = topology(&bigger_text);
    let steps = runtime::plan(&bigger).len();
    assert_eq!(steps, total + 5, "namespace, veth, port, settings, address");
    let err = runtime::up(
        &bigger,
        &ctl,
        &UpOptions {
            fail_at: Some(steps),
        },
        &mut Quiet,
    )
    .expect_err("must fail");
    let failure = err.downcast_ref::<UpFailure>().expect("an UpFailure");
    assert_eq!(
        failure.undone, 3,
        "namespace, veth and port of h5: {failure}"
    );
    assert_eq!(
        snapshot(&ctl, &small),
        before,
        "the running lab is untouched"
    );
    assert!(!runtime::netns_exists(&format!("{}h5", small.prefix)));
    assert_eq!(
        lab.ping_matrix().unwrap().render_text(false),
        QUICKSTART_MATRIX
    );
    lab.down().expect("down");
    assert_nothing_left(&ctl, &t.prefix);
}

#[test]
fn two_labs_side_by_side() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let text = example_text("quickstart.toml");
    let a = RunningLab::up(topology(&renamed(&text, &lab_name("a"))), ctl.clone()).expect("up a");
    let b = RunningLab::up(topology(&renamed(&text, &lab_name("b"))), ctl.clone()).expect("up b");
    let (pa, pb) = (a.topology().prefix.clone(), b.topology().prefix.clone());
    // The same addresses in both labs: each matrix only sees its own lab.
    assert_eq!(
        a.ping_matrix().unwrap().render_text(false),
        QUICKSTART_MATRIX
    );
    assert_eq!(
        b.ping_matrix().unwrap().render_text(false),
        QUICKSTART_MATRIX
    );
    // Neither lab's bridges learned a station of the other.
    for (lab, own) in [(&a, &pa), (&b, &pb)] {
        for br in &lab.topology().bridges {
            let out = rvsd
                .rvs_ok(&["--format", "json", "fdb-show", &br.rvs_name])
                .expect("fdb-show");
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let entries = v["entries"].as_array().unwrap();
            assert!(!entries.is_empty(), "{} learned nothing", br.rvs_name);
            for e in entries {
                assert!(e["port"].as_str().unwrap().starts_with(own.as_str()), "{e}");
            }
        }
    }
    // Taking one down leaves the other whole.
    a.down().expect("down a");
    assert_nothing_left(&ctl, &pa);
    assert_eq!(rvs_leftovers(&ctl, &pb).len(), 8);
    assert_eq!(
        b.ping_matrix().unwrap().render_text(false),
        QUICKSTART_MATRIX
    );
    b.down().expect("down b");
    assert_nothing_left(&ctl, &pb);
}

/// VLAN sub-interfaces need the kernel's 8021q support: with it they carry a VLAN over
/// a trunk port; without it `up` refuses before creating anything, saying why.
#[test]
fn vlan_sub_interfaces_or_a_clear_refusal() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let name = lab_name("s");
    let t = topology(&format!(
        r#"name = "{name}"
[[bridges]]
name = "br0"
[[hosts]]
name = "t"
[[hosts.interfaces]]
bridge = "br0"
trunks = [10]
vlan_interfaces = [{{ vlan = 10, addresses = ["10.71.0.1/24"] }}]
[[hosts]]
name = "a"
[[hosts.interfaces]]
bridge = "br0"
vlan = 10
addresses = ["10.71.0.2/24"]
"#
    ));
    let _guard = DownOnDrop(name.clone(), ctl.clone());
    if runtime::kernel_has_8021q() {
        let lab = RunningLab::up(t.clone(), ctl.clone()).expect("up");
        assert!(
            lab.ping("a", "10.71.0.1"),
            "VLAN 10 reaches the sub-interface"
        );
        lab.down().expect("down");
    } else {
        let e = runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet)
            .expect_err("no 8021q: refused");
        assert!(
            e.to_string().starts_with(
                "the VLAN sub-interfaces of this lab (t/vlan10) need the kernel's 802.1Q support"
            ),
            "{e}"
        );
    }
    assert_nothing_left(&ctl, &t.prefix);
    assert!(LabState::read(rvsd.run_dir(), &name).unwrap().is_none());
}

/// Two hosts on one bridge; `bridge_keys` are added to the bridge's table.
fn two_hosts(name: &str, bridge_keys: &str) -> Topology {
    topology(&format!(
        "name = \"{name}\"\n\n[[bridges]]\nname = \"br0\"\n{bridge_keys}\n\n\
         [[hosts]]\nname = \"h1\"\n[[hosts.interfaces]]\nbridge = \"br0\"\naddresses = [\"10.72.0.1/24\", \"fd00:72::1/64\"]\n\n\
         [[hosts]]\nname = \"h2\"\n[[hosts.interfaces]]\nbridge = \"br0\"\naddresses = [\"10.72.0.2/24\", \"fd00:72::2/64\"]\n"
    ))
}

/// The flows of `bridge` as `rvs dump-flows` prints them, without the counters.
fn flow_lines(rvsd: &RvsdProcess, bridge: &str) -> Vec<String> {
    let text = rvsd.rvs_ok(&["dump-flows", bridge]).expect("dump-flows");
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.split(", ")
                .filter(|f| {
                    !["duration=", "n_packets=", "n_bytes="]
                        .iter()
                        .any(|c| f.trim_start().starts_with(c))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    lines.sort();
    lines
}

const ICMP_ARP: &str =
    "flows = [\"priority=100,icmp,actions=NORMAL\", \"priority=100,arp,actions=NORMAL\"]";

#[test]
fn flows_replace_the_table_and_a_second_up_keeps_it() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let t = two_hosts(&lab_name("f"), ICMP_ARP);
    let br = format!("{}br0", t.prefix);
    let _guard = DownOnDrop(t.name.clone(), ctl.clone());
    runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up");
    let flows = flow_lines(&rvsd, &br);
    assert_eq!(flows.len(), 2, "the default NORMAL flow is gone: {flows:?}");
    assert!(
        flows.iter().any(|f| f.contains("priority=100,icmp")),
        "{flows:?}"
    );
    assert!(
        flows.iter().any(|f| f.contains("priority=100,arp")),
        "{flows:?}"
    );
    let netns = |h: &str| format!("{}{h}", t.prefix);
    assert!(
        rvs_lab::ping::probe(&netns("h1"), "10.72.0.2"),
        "ICMP is allowed"
    );
    // IPv6 (neighbour discovery, ICMPv6) matches no flow: dropped.
    assert!(
        !rvs_lab::ping::probe(&netns("h1"), "fd00:72::2"),
        "IPv6 must be dropped by the flow table"
    );
    let counted = rvsd.rvs_ok(&["dump-flows", &br]).expect("dump-flows");
    assert!(
        counted
            .lines()
            .any(|l| l.contains("icmp") && !l.contains("n_packets=0,")),
        "the ICMP flow counted the pings: {counted}"
    );

    // The same file again: nothing changes, counters included (the table is not rewritten).
    let second = runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up again");
    assert_eq!(
        (second.created, second.changed, second.present),
        (0, 0, second.steps),
        "the second up finds the flows in place"
    );
    assert_eq!(
        rvsd.rvs_ok(&["dump-flows", &br])
            .expect("dump-flows")
            .lines()
            .filter(|l| l.contains("icmp") && l.contains("n_packets=0,"))
            .count(),
        0,
        "the counters survive a second up"
    );

    // A flow added behind the lab's back is removed by the next up.
    rvsd.rvs_ok(&["add-flow", &br, "priority=50,ipv6,actions=NORMAL"])
        .expect("add-flow");
    let third = runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up a third time");
    assert_eq!((third.created, third.changed), (0, 1));
    assert_eq!(flow_lines(&rvsd, &br), flows);

    runtime::down(&t.name, &ctl, &mut Quiet).expect("down");
    assert_nothing_left(&ctl, &t.prefix);
}

#[test]
fn secure_with_no_flows_drops_everything() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let t = two_hosts(&lab_name("s"), "fail_mode = \"secure\"\nflows = []");
    let br = format!("{}br0", t.prefix);
    let lab = RunningLab::up(t.clone(), ctl.clone()).expect("up");
    let show = rvsd.rvs_ok(&["get-fail-mode", &br]).expect("get-fail-mode");
    assert_eq!(show.trim(), "secure");
    assert_eq!(flow_lines(&rvsd, &br), Vec::<String>::new());
    assert!(
        !lab.ping("h1", "10.72.0.2"),
        "an empty secure table drops the ping"
    );
    let state = LabState::read(rvsd.run_dir(), &t.name).unwrap().unwrap();
    let status = runtime::status_of(&state, &ctl);
    assert_eq!(
        (status.bridges[0].fail_mode, status.bridges[0].n_flows),
        (Some(rvs_api::FailMode::Secure), Some(0))
    );
    let again = runtime::up(&t, &ctl, &UpOptions::default(), &mut Quiet).expect("up again");
    assert_eq!((again.created, again.changed), (0, 0));
    lab.down().expect("down");
    assert_nothing_left(&ctl, &t.prefix);
}

#[test]
fn controller_targets_are_set_and_a_refused_flow_table_is_rolled_back() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let name = lab_name("c");
    // A passive target on 127.0.0.1: nothing connects, nothing leaves the machine.
    let port = 20000 + (std::process::id() % 20000);
    let t = two_hosts(&name, &format!("controller = \"ptcp:{port}:127.0.0.1\""));
    let br = format!("{}br0", t.prefix);
    let lab = RunningLab::up(t.clone(), ctl.clone()).expect("up");
    let targets = rvsd
        .rvs_ok(&["get-controller", &br])
        .expect("get-controller");
    assert_eq!(targets.trim(), format!("ptcp:{port}:127.0.0.1"));
    let default_flows = flow_lines(&rvsd, &br);
    assert_eq!(default_flows.len(), 1, "{default_flows:?}");
    assert!(lab.ping("h1", "10.72.0.2"));

    // The same lab with a flow rvsd refuses (no group 99) and no controller: the flows
    // step fails, the controller and the old flows come back.
    let bad = two_hosts(
        &name,
        "controller = []\nflows = [\"priority=100,icmp,actions=NORMAL\", \"priority=5,actions=group:99\"]",
    );
    let err = runtime::up(&bad, &ctl, &UpOptions::default(), &mut Quiet)
        .expect_err("rvsd refuses the group");
    let failure = err.downcast_ref::<UpFailure>().expect("an UpFailure");
    let text = format!("{failure}");
    assert!(text.contains("group:99"), "{text}");
    assert_eq!(failure.undone, 2, "controllers and flows: {failure}");
    assert!(failure.rollback_errors.is_empty(), "{failure}");
    assert_eq!(flow_lines(&rvsd, &br), default_flows);
    let targets = rvsd
        .rvs_ok(&["get-controller", &br])
        .expect("get-controller");
    assert_eq!(targets.trim(), format!("ptcp:{port}:127.0.0.1"));
    assert!(lab.ping("h1", "10.72.0.2"));
    lab.down().expect("down");
    assert_nothing_left(&ctl, &t.prefix);
}

#[test]
fn openflow_policy_example_pings() {
    let rvsd = setup();
    let ctl = Control::new(rvsd.run_dir());
    let t = topology(&renamed(
        &example_text("openflow-policy.toml"),
        &lab_name("o"),
    ));
    let br = format!("{}br0", t.prefix);
    let lab = RunningLab::up(t.clone(), ctl.clone()).expect("up");
    let ports = rvsd.rvs_ok(&["of-show", &br]).expect("of-show");
    assert!(
        ports.contains(&format!("3({}h3-0)", t.prefix)),
        "h3 is OpenFlow port 3, as the example's flows assume: {ports}"
    );
    assert_eq!(flow_lines(&rvsd, &br).len(), 5);
    let m = lab.ping_matrix().expect("ping matrix");
    assert!(
        m.probes.iter().all(|p| p.reached),
        "{}",
        m.render_text(false)
    );
    lab.down().expect("down");
    assert_nothing_left(&ctl, &t.prefix);
}
