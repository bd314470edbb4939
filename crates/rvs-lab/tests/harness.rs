//! Tests of the harness itself. They need root and really create network
//! namespaces and links; every name starts with "lh" so they cannot collide
//! with other tests running at the same time.

use rvs_lab::frames::{self, mac, parse_vlan, TPID_8021AD, TPID_8021Q};
use rvs_lab::{
    add_addr, cleanup_stale, link_exists, link_mac, require_root, require_tool, run_host,
    unique_name, Netns, RawSocket, RvsdProcess, VethPair, MAX_IFNAME_LEN,
};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

const SRC: &str = "02:00:00:00:00:01";
const DST: &str = "02:00:00:00:00:02";
const EXPERIMENTAL: u16 = 0x88b5;

fn setup() {
    require_root();
    require_tool("ip");
}

/// A namespace without IPv6, so links in it send no router solicitations
/// or MLD reports that a raw socket would see.
fn quiet_ns() -> Netns {
    let ns = Netns::create("lh").expect("create netns");
    ns.run(&[
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
    ])
    .expect("disable IPv6");
    ns
}

/// Two namespaces joined by a veth pair: end `a` in the first, `b` in the
/// second.
fn two_hosts() -> (Netns, Netns, VethPair) {
    let left = quiet_ns();
    let right = quiet_ns();
    let veth = VethPair::create(&unique_name("lha"), &unique_name("lhb")).expect("veth");
    veth.move_a_to(&left).expect("move a");
    veth.move_peer_to(&right).expect("move b");
    (left, right, veth)
}

fn netns_listed(name: &str) -> bool {
    let list = run_host(&["ip", "netns", "list"]).expect("ip netns list");
    list.lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

fn host_link_listed(name: &str) -> bool {
    let list = run_host(&["ip", "-o", "link", "show"]).expect("ip link show");
    list.lines().any(|l| {
        l.split(": ")
            .nth(1)
            .is_some_and(|n| n.split('@').next() == Some(name))
    })
}

/// Waits (at most 3 s) for `cond` to become true; the kernel removes links
/// of a deleted namespace asynchronously.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    for _ in 0..300 {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Receives until a frame whose source MAC is `src` arrives (other traffic
/// is skipped), for at most `timeout`.
fn recv_from(sock: &RawSocket, src: [u8; 6], timeout: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    for _ in 0..10_000 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let frame = sock.recv_timeout(remaining)?;
        if frames::src(&frame) == Some(src) {
            return Some(frame);
        }
    }
    None
}

#[test]
fn unique_names_are_distinct_and_short() {
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let n = unique_name("lhun");
        assert!(n.len() <= MAX_IFNAME_LEN, "{n} is too long");
        assert!(n.starts_with("lhun"), "{n}");
        assert!(seen.insert(n.clone()), "duplicate {n}");
    }
    // Also from several threads at once.
    let names: Vec<Vec<String>> = thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..2_500).map(|_| unique_name("lhun")).collect()))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    for n in names.into_iter().flatten() {
        assert!(n.len() <= MAX_IFNAME_LEN, "{n} is too long");
        assert!(seen.insert(n.clone()), "duplicate {n}");
    }
    assert_eq!(seen.len(), 20_000);
    // Long prefixes are cut.
    assert!(unique_name("lhverylongprefix").len() <= MAX_IFNAME_LEN);
}

#[test]
fn two_namespaces_ping_and_everything_is_removed() {
    setup();
    require_tool("ping");
    let (left, right, veth) = two_hosts();
    let (left_name, right_name) = (left.name().to_string(), right.name().to_string());
    let (a, b) = (veth.a().to_string(), veth.b().to_string());

    assert!(netns_listed(&left_name) && netns_listed(&right_name));
    assert!(link_exists(Some(&left), &a) && link_exists(Some(&right), &b));
    assert!(!link_exists(None, &a) && !link_exists(None, &b));
    assert_eq!(veth.a_netns().as_deref(), Some(left_name.as_str()));
    assert_eq!(veth.b_netns().as_deref(), Some(right_name.as_str()));

    // Documentation addresses, only inside our namespaces.
    left.run(&["ip", "addr", "add", "192.0.2.1/24", "dev", &a])
        .expect("address left");
    add_addr(Some(&right), &b, "192.0.2.2/24").expect("address right");
    veth.set_mtu_a(1400).expect("mtu a");
    veth.set_mtu_b(1400).expect("mtu b");
    assert!(left
        .run(&["ip", "link", "show", "dev", &a])
        .expect("show")
        .contains("mtu 1400"));

    assert!(
        left.ping_until("192.0.2.2", Duration::from_secs(5)),
        "left -> right"
    );
    assert!(
        right.ping("192.0.2.1", Duration::from_secs(1)),
        "right -> left"
    );

    // Nobody answers here; the bounded retry gives up in time.
    let start = Instant::now();
    assert!(!left.ping_until("192.0.2.99", Duration::from_millis(1500)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    drop(veth);
    assert!(!link_exists(Some(&left), &a) && !link_exists(Some(&right), &b));
    drop(left);
    drop(right);
    assert!(!netns_listed(&left_name), "{left_name} left behind");
    assert!(!netns_listed(&right_name), "{right_name} left behind");
    assert!(!host_link_listed(&a) && !host_link_listed(&b));
}

#[test]
fn host_veth_is_deleted_on_drop_and_with_its_namespace() {
    setup();
    let veth = VethPair::create(&unique_name("lha"), &unique_name("lhb")).expect("veth");
    let (a, b) = (veth.a().to_string(), veth.b().to_string());
    assert!(host_link_listed(&a) && host_link_listed(&b));
    assert!(link_mac(None, &a).is_ok());
    drop(veth);
    assert!(!host_link_listed(&a) && !host_link_listed(&b));

    // Peer in a namespace, the namespace goes first: the host end goes too,
    // and the pair's own Drop afterwards does not panic.
    let ns = Netns::create("lh").expect("netns");
    let veth = VethPair::create(&unique_name("lha"), &unique_name("lhb")).expect("veth");
    let a = veth.a().to_string();
    veth.move_peer_to(&ns).expect("move peer");
    assert!(link_exists(Some(&ns), veth.b()));
    drop(ns);
    assert!(
        eventually(|| !host_link_listed(&a)),
        "{a} outlived its peer's namespace"
    );
    drop(veth);
}

#[test]
fn run_errors_carry_command_and_stderr() {
    setup();
    let ns = Netns::create("lh").expect("netns");
    let missing = unique_name("lhno");
    let err = ns
        .run(&["ip", "link", "show", "dev", &missing])
        .expect_err("no such link")
        .to_string();
    assert!(
        err.contains(&format!("ip link show dev {missing}")),
        "{err}"
    );
    assert!(err.contains("exit code"), "{err}");
    assert!(err.contains(&missing) && err.contains("stderr"), "{err}");
    let out = ns.output(&["sh", "-c", "echo out; echo err >&2; exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
}

#[test]
fn enter_runs_in_the_namespace() {
    setup();
    let ns = Netns::create("lh").expect("netns");
    let veth = VethPair::create(&unique_name("lha"), &unique_name("lhb")).expect("veth");
    veth.move_peer_to(&ns).expect("move peer");
    let b = std::ffi::CString::new(veth.b()).expect("name");
    // SAFETY (both calls): `b` is a NUL-terminated string that outlives them.
    let inside = ns.enter(|| unsafe { libc::if_nametoindex(b.as_ptr()) });
    let outside = unsafe { libc::if_nametoindex(b.as_ptr()) };
    assert_ne!(inside, 0, "peer not visible inside");
    assert_eq!(outside, 0, "peer still visible outside");

    // A panic inside is passed on to the caller.
    let r = panic::catch_unwind(AssertUnwindSafe(|| ns.enter(|| panic!("inside enter"))));
    assert!(r.is_err());
}

#[test]
fn raw_socket_reinserts_vlan_tags() {
    setup();
    let (left, right, veth) = two_hosts();
    let tx = RawSocket::open(Some(&left), veth.a()).expect("tx socket");
    let rx = RawSocket::open_rx_only(Some(&right), veth.b()).expect("rx socket");
    assert_eq!(rx.ifname(), veth.b());
    assert!(rx.ifindex() > 0);
    let (src, dst) = (mac(SRC), mac(DST));

    let payload = b"rvs-lab vlan tag test, padded to more than sixty bytes ......";
    let cases = [
        frames::vlan_tagged(dst, src, TPID_8021Q, 5, 100, EXPERIMENTAL, payload),
        frames::vlan_tagged(dst, src, TPID_8021AD, 3, 2000, EXPERIMENTAL, payload),
        // Priority tag: VID 0, PCP 0, TCI 0.
        frames::vlan_tagged(dst, src, TPID_8021Q, 0, 0, EXPERIMENTAL, payload),
        frames::ethernet(dst, src, EXPERIMENTAL, payload),
    ];
    rx.drain();
    for sent in &cases {
        tx.send(sent).expect("send");
        let got = recv_from(&rx, src, Duration::from_secs(2)).expect("frame not received");
        assert_eq!(parse_vlan(&got), parse_vlan(sent));
        assert_eq!(&got, sent, "received frame differs from the sent one");
    }
    assert_eq!(
        parse_vlan(&cases[0]),
        Some((TPID_8021Q, 5, 100, EXPERIMENTAL))
    );

    // Nothing else from us is queued.
    assert!(recv_from(&rx, src, Duration::from_millis(200)).is_none());
    assert!(tx.send(&[]).is_err(), "an empty frame must be refused");
}

#[test]
fn rx_only_socket_ignores_outgoing_frames() {
    setup();
    let (left, right, veth) = two_hosts();
    let tap = RawSocket::open(Some(&left), veth.a()).expect("tap socket");
    let rx_only = RawSocket::open_rx_only(Some(&left), veth.a()).expect("rx-only socket");
    let sender = RawSocket::open(Some(&left), veth.a()).expect("sender");
    let peer = RawSocket::open_rx_only(Some(&right), veth.b()).expect("peer");
    let (src, dst) = (mac(SRC), mac(DST));

    let out = frames::ethernet(
        dst,
        src,
        EXPERIMENTAL,
        b"outgoing from left.........................",
    );
    sender.send(&out).expect("send");
    assert_eq!(
        recv_from(&tap, src, Duration::from_secs(2)).as_ref(),
        Some(&out)
    );
    assert_eq!(
        recv_from(&peer, src, Duration::from_secs(2)).as_ref(),
        Some(&out)
    );
    assert!(recv_from(&rx_only, src, Duration::from_millis(300)).is_none());

    // The other direction arrives at the rx-only socket.
    let back = frames::ethernet(
        src,
        dst,
        EXPERIMENTAL,
        b"incoming to left.........................",
    );
    peer.send(&back).expect("send back");
    assert_eq!(
        recv_from(&rx_only, dst, Duration::from_secs(2)).as_ref(),
        Some(&back)
    );

    // recv_for collects a burst, drain throws a burst away.
    for _ in 0..5 {
        sender.send(&out).expect("send burst");
    }
    let burst: Vec<_> = peer
        .recv_for(Duration::from_millis(500))
        .into_iter()
        .filter(|f| frames::src(f) == Some(src))
        .collect();
    assert_eq!(burst.len(), 5);
    for _ in 0..5 {
        sender.send(&out).expect("send burst");
    }
    thread::sleep(Duration::from_millis(100));
    assert!(peer.drain() >= 5);
    assert!(recv_from(&peer, src, Duration::from_millis(200)).is_none());
}

#[test]
fn cleanup_happens_when_a_test_body_panics() {
    setup();
    let names = Mutex::new(Vec::new());
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let ns = Netns::create("lh").expect("netns");
        let veth = VethPair::create(&unique_name("lha"), &unique_name("lhb")).expect("veth");
        // A process left running inside must not keep anything alive.
        let child = ns.command(&["sleep", "60"]).spawn().expect("spawn sleep");
        names.lock().expect("lock").extend([
            ns.name().to_string(),
            veth.a().to_string(),
            veth.b().to_string(),
        ]);
        assert!(netns_listed(ns.name()));
        let _keep = child;
        panic!("intentional panic: checking cleanup during unwinding");
    }));
    assert!(result.is_err());
    let names = names.into_inner().expect("names");
    assert_eq!(names.len(), 3);
    assert!(!netns_listed(&names[0]), "{} left behind", names[0]);
    assert!(!host_link_listed(&names[1]), "{} left behind", names[1]);
    assert!(!host_link_listed(&names[2]), "{} left behind", names[2]);
}

#[test]
fn cleanup_stale_removes_leftovers_with_the_prefix() {
    setup();
    // A prefix that only this process's "lhs" names have: "lhs" + pid.
    let prefix = unique_name("lhs")[..8].to_string();
    let ns = Netns::create("lhs").expect("netns");
    let veth = VethPair::create(&unique_name("lhs"), &unique_name("lhs")).expect("veth");
    let (ns_name, a, b) = (
        ns.name().to_string(),
        veth.a().to_string(),
        veth.b().to_string(),
    );
    assert!(ns_name.starts_with(&prefix) && a.starts_with(&prefix));
    // Simulate a test process that was killed: nothing is dropped.
    std::mem::forget(ns);
    std::mem::forget(veth);

    let removed = cleanup_stale(&prefix).expect("cleanup_stale");
    assert!(removed >= 2, "removed {removed}");
    assert!(!netns_listed(&ns_name));
    assert!(!host_link_listed(&a) && !host_link_listed(&b));
    assert!(cleanup_stale("l").is_err(), "too-short prefix accepted");
}

/// A stand-in for rvsd: makes the socket file, then sleeps. Not the real
/// daemon; this only checks the harness's process handling.
const FAKE_RVSD: &str = r#"#!/bin/sh
run=""; db=""
while [ $# -gt 0 ]; do
  case "$1" in
    --run-dir) run="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    *) echo "fake rvsd: unknown argument $1" >&2; exit 2 ;;
  esac
done
echo "fake rvsd up, db=$db"
: > "$run/rvsd.sock"
exec sleep 60
"#;

/// A stand-in for the rvs command line.
const FAKE_RVS: &str = r#"#!/bin/sh
[ "$1" = "--run-dir" ] || { echo "run dir must come first" >&2; exit 2; }
run="$2"; shift 2
[ -n "$RVS_RUN_DIR" ] && { echo "RVS_RUN_DIR leaked" >&2; exit 2; }
[ -e "$run/rvsd.sock" ] || { echo "no socket" >&2; exit 1; }
[ "$1" = "fail" ] && { echo "failing on purpose" >&2; exit 3; }
echo "ok $*"
"#;

fn write_script(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn rvsd_process_handling_with_a_stand_in_daemon() {
    let bins = tempfile::tempdir().expect("tempdir");
    let rvsd = write_script(bins.path(), "rvsd", FAKE_RVSD);
    let rvs = write_script(bins.path(), "rvs", FAKE_RVS);

    let mut d = RvsdProcess::start(&rvsd, &rvs).expect("start");
    assert!(d.socket_path().exists());
    assert!(d.db_path().starts_with(d.dir()));
    assert!(d.pid().is_some());
    assert_eq!(
        d.rvs_ok(&["add-br", "br0"]).expect("rvs_ok"),
        "ok add-br br0\n"
    );
    let err = d.rvs_ok(&["fail", "x"]).expect_err("must fail").to_string();
    assert!(
        err.contains("rvs fail x") && err.contains("exit code 3"),
        "{err}"
    );
    assert!(err.contains("failing on purpose"), "{err}");
    assert_eq!(d.rvs(&["fail"]).status.code(), Some(3));

    d.kill9();
    assert!(d.pid().is_none());
    assert!(!d.is_running());
    d.start_again().expect("start again");
    assert!(d.start_again().is_err(), "start_again while running");
    let log = d.log();
    assert!(
        log.contains("start #1") && log.contains("start #2"),
        "{log}"
    );
    assert_eq!(log.matches("fake rvsd up").count(), 2, "{log}");

    let status = d.terminate().expect("terminate");
    assert!(!status.success());
    assert!(d.terminate().is_err(), "terminate when not running");

    let dir = d.dir().to_path_buf();
    drop(d);
    assert!(!dir.exists(), "temporary directory left behind");

    // A daemon that never becomes ready: the error carries its log.
    let silent = write_script(
        bins.path(),
        "silent",
        "#!/bin/sh\necho about to fail\nexit 9\n",
    );
    let err = format!(
        "{:#}",
        RvsdProcess::start(&silent, &rvs).expect_err("must fail")
    );
    assert!(
        err.contains("about to fail") && err.contains("exit code 9"),
        "{err}"
    );
}
