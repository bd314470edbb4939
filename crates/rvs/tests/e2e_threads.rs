//! Several datapath threads (`rvsd --dp-threads`): bridges are spread over the threads,
//! `rvs show` says which thread serves each, and traffic crosses from one thread to another
//! through patch ports, also after a restart.
//!
//! Needs root. Names start with "et"; addresses are in 10.81.0.0/24 inside our namespaces.

mod common;

use common::*;
use rvs_lab::{unique_name, RvsdProcess};

#[test]
fn bridges_on_two_threads_forward_across_a_patch_pair() {
    setup();
    let mut rvsd = RvsdProcess::start_with_args(
        rvs_lab::workspace_bin("rvsd"),
        env!("CARGO_BIN_EXE_rvs"),
        &["--dp-threads", "2"],
    )
    .expect("start rvsd");
    let h1 = VethHost::new("et", Some("10.81.0.1/24"));
    let h2 = VethHost::new("et", Some("10.81.0.2/24"));
    let h3 = VethHost::new("et", Some("10.81.0.3/24"));
    let (bra, brb) = (unique_name("eta"), unique_name("etb"));
    let (pa, pb) = (unique_name("etp"), unique_name("etq"));
    rvs_ok(&rvsd, &["add-br", &bra]);
    rvs_ok(&rvsd, &["add-br", &brb]);
    rvs_ok(&rvsd, &["add-port", &bra, h1.port()]);
    rvs_ok(&rvsd, &["add-port", &bra, h3.port()]);
    rvs_ok(&rvsd, &["add-port", &brb, h2.port()]);
    rvs_ok(
        &rvsd,
        &["add-port", &bra, &pa, "--type", "patch", "--peer", &pb],
    );
    rvs_ok(
        &rvsd,
        &["add-port", &brb, &pb, "--type", "patch", "--peer", &pa],
    );
    let (ta, tb) = (
        show_bridge(&rvsd, &bra).datapath_thread,
        show_bridge(&rvsd, &brb).datapath_thread,
    );
    assert!(
        ta.is_some() && tb.is_some() && ta != tb,
        "threads {ta:?} {tb:?}"
    );
    let text = rvs_ok(&rvsd, &["show"]);
    assert!(
        text.contains("datapath thread: dp0") && text.contains("datapath thread: dp1"),
        "{text}"
    );
    assert!(
        h1.ping_until("10.81.0.2"),
        "h1 (thread {ta:?}) -> h2 (thread {tb:?})"
    );
    assert!(h1.ping("10.81.0.3"), "within one thread");
    // `rvs dp-threads`: each bridge on its own thread, with its ports as receive queues.
    let threads = dp_threads(&rvsd);
    assert_eq!(threads.len(), 2, "{threads:?}");
    for (br, t, ports) in [
        (&bra, ta, vec![h1.port(), h3.port(), pa.as_str()]),
        (&brb, tb, vec![h2.port(), pb.as_str()]),
    ] {
        let info = threads
            .iter()
            .find(|i| i.bridges.contains(br))
            .unwrap_or_else(|| panic!("{br} on no thread: {threads:?}"));
        assert_eq!(info.name, format!("rvs-dp{}", t.expect("thread")));
        assert_eq!(info.poll_mode, "adaptive (up to 100 us)");
        for p in ports {
            assert!(
                info.rx_queues.contains(&format!("{br}/{p}")),
                "{p} not polled by {}: {info:?}",
                info.name
            );
        }
        assert!(info.sleeps > 0 && info.tid > 0, "{info:?}");
    }
    assert_ne!(threads[0].tid, threads[1].tid);
    let text = rvs_ok(&rvsd, &["dp-threads"]);
    assert!(
        text.contains(&format!("    rx {bra}/{}", h1.port())) && text.contains("rvs-dp1 (tid "),
        "{text}"
    );
    // A packet-in from the second thread reaches a controller of the right bridge.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    rvs_ok(&rvsd, &["set-controller", &brb, &format!("ptcp:{port}")]);
    rvs_ok(
        &rvsd,
        &[
            "add-flow",
            &brb,
            "priority=5,dl_type=0x88b5,actions=controller",
        ],
    );
    let got = packet_in_marker(port, &h2, "et-pktin");
    assert!(
        got,
        "no packet-in from bridge {brb} on thread {tb:?}\n{}",
        rvsd.log()
    );
    // Restart: the same spread, the same forwarding.
    rvsd.kill9();
    rvsd.start_again().expect("restart");
    assert!(h2.ping_until("10.81.0.1"), "after restart\n{}", rvsd.log());
    let (ta2, tb2) = (
        show_bridge(&rvsd, &bra).datapath_thread,
        show_bridge(&rvsd, &brb).datapath_thread,
    );
    assert!(ta2.is_some() && tb2.is_some() && ta2 != tb2);
}

/// The threads of `rvs --format json dp-threads`.
fn dp_threads(rvsd: &RvsdProcess) -> Vec<rvs_api::DpThreadInfo> {
    match rvs_json(rvsd, &["dp-threads"]) {
        rvs_api::Response::DpThreads { threads } => threads,
        other => panic!("dp-threads answered {other:?}"),
    }
}

/// The poll modes do what `rvs dp-threads` says: `busy` never sleeps, a zero adaptive
/// window never polls, and both forward.
#[test]
fn poll_modes_busy_and_event_driven() {
    setup();
    for (args, mode) in [
        (&["--poll-mode", "busy", "--dp-threads", "1"][..], "busy"),
        (
            &["--busy-poll-us", "0", "--dp-threads", "1"][..],
            "event-driven",
        ),
    ] {
        let rvsd = RvsdProcess::start_with_args(
            rvs_lab::workspace_bin("rvsd"),
            env!("CARGO_BIN_EXE_rvs"),
            args,
        )
        .expect("start rvsd");
        let h1 = VethHost::new("et", Some("10.81.0.11/24"));
        let h2 = VethHost::new("et", Some("10.81.0.12/24"));
        let br = unique_name("etm");
        rvs_ok(&rvsd, &["add-br", &br]);
        rvs_ok(&rvsd, &["add-port", &br, h1.port()]);
        rvs_ok(&rvsd, &["add-port", &br, h2.port()]);
        assert!(h1.ping_until("10.81.0.12"), "{mode}\n{}", rvsd.log());
        let t = dp_threads(&rvsd);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].poll_mode, mode);
        match mode {
            "busy" => assert!(t[0].sleeps == 0 && t[0].polls > 1000, "{t:?}"),
            _ => assert!(t[0].polls == 0 && t[0].sleeps > 0, "{t:?}"),
        }
    }
    // Out-of-range and unknown values are refused before anything starts.
    for bad in [
        &["--poll-mode", "spin"][..],
        &["--busy-poll-us", "2000000"][..],
    ] {
        let out = std::process::Command::new(rvs_lab::workspace_bin("rvsd"))
            .args(bad)
            .output()
            .expect("run rvsd");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// Connects to `port` as an OpenFlow 1.3 controller, sends a frame with `marker` from `h`
/// and waits (bounded) for the packet-in carrying it.
fn packet_in_marker(port: u16, h: &VethHost, marker: &str) -> bool {
    use rvs_openflow::{Framer, Message};
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut sock = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("connect: {e}"),
        }
    };
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let hello = Message::Hello(rvs_openflow::hello::Hello::of13())
        .encode(1)
        .expect("encode");
    sock.write_all(&hello).expect("hello");
    let frame = rvs_lab::frames::pad_min(rvs_lab::frames::ethernet(
        [0xff; 6],
        h.mac(),
        0x88b5,
        &payload(marker),
    ));
    let tx = h.sock();
    let mut framer = Framer::new();
    let mut buf = [0u8; 65536];
    let mut sent_at = Instant::now() - Duration::from_secs(1);
    while Instant::now() < deadline {
        if sent_at.elapsed() > Duration::from_millis(500) {
            tx.send(&frame).expect("send");
            sent_at = Instant::now();
        }
        while let Ok(Some(f)) = framer.next_frame() {
            match Message::decode(f) {
                Ok((_, Message::PacketIn(p))) if has_marker(&p.data, marker) => return true,
                Ok((h, Message::EchoRequest(d))) => {
                    let reply = Message::EchoReply(d).encode(h.xid).expect("encode");
                    let _ = sock.write_all(&reply);
                }
                _ => {}
            }
        }
        match sock.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => framer.push(&buf[..n]),
            Err(_) => {}
        }
    }
    false
}
