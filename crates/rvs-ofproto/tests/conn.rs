//! Controller connections over 127.0.0.1 with a Rust test controller.

mod common;

use common::{Bridge, TestController};
use rvs_flow::pipeline::DpAction;
use rvs_ofproto::conn::ConnOptions;
use rvs_ofproto::PacketInEvent;
use rvs_openflow::action::Action;
use rvs_openflow::error::{BadRequestCode, ErrorCode, HelloFailedCode};
use rvs_openflow::message::{PacketInReason, PacketOut, OFP_NO_BUFFER};
use rvs_openflow::multipart::{
    FlowStatsRequest, MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
};
use rvs_openflow::{FlowMod, Hello, Instruction, Match, Message, OxmField, PortNo};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn fast() -> ConnOptions {
    ConnOptions {
        probe_interval: Duration::from_millis(300),
        ..ConnOptions::default()
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn controller_session() {
    let br = Bridge::start(&["ptcp:0"], ConnOptions::default(), &[("p1", 1), ("p2", 2)]);
    let addr = br.addrs[0];
    assert!(addr.ip().is_loopback());
    let mut c = TestController::connect(addr);

    match c.request(&Message::FeaturesRequest) {
        Message::FeaturesReply(f) => assert_eq!(f.datapath_id, 0xabc),
        m => panic!("{m:?}"),
    }
    let payload = vec![1, 2, 3];
    assert_eq!(
        c.request(&Message::EchoRequest(payload.clone())),
        Message::EchoReply(payload)
    );

    // flow-mod + barrier: the barrier reply comes after the snapshot is published.
    let fm = FlowMod::add(
        10,
        Match::new().with(OxmField::InPort(PortNo(1))),
        vec![Instruction::ApplyActions(vec![Action::output(PortNo(2))])],
    );
    c.send(&Message::FlowMod(fm));
    assert_eq!(c.request(&Message::BarrierRequest), Message::BarrierReply);
    {
        let dp = br.dp.lock().expect("lock");
        let snap = dp.last.as_ref().expect("published");
        // The standalone default flow and ours.
        assert_eq!(snap.flows.len(), 2);
    }
    match c.request(&Message::MultipartRequest(MultipartRequest::new(
        MultipartRequestBody::Flow(FlowStatsRequest::all()),
    ))) {
        Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::Flow(f),
            ..
        }) => assert_eq!(f.len(), 2),
        m => panic!("{m:?}"),
    }

    // packet-out reaches the datapath.
    let po = PacketOut {
        buffer_id: OFP_NO_BUFFER,
        in_port: PortNo(1),
        actions: vec![Action::output(PortNo(2))],
        data: vec![0xaa; 60],
    };
    c.send(&Message::PacketOut(po));
    c.request(&Message::BarrierRequest);
    assert_eq!(
        br.dp.lock().expect("lock").packet_outs,
        vec![(1, vec![DpAction::Output(2)], vec![0xaa; 60])]
    );

    // packet-in reaches the controller.
    br.packet_in(PacketInEvent {
        in_port: 2,
        reason: PacketInReason::NoMatch,
        table_id: 0,
        cookie: 0,
        frame: vec![0x55; 64],
        total_len: 64,
        metadata: 0,
        tunnel_id: 0,
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "no packet-in");
        if let Some((_, Message::PacketIn(pi))) = c.recv(Duration::from_millis(100)) {
            assert_eq!(pi.data, vec![0x55; 64]);
            assert_eq!(pi.match_, Match::new().with(OxmField::InPort(PortNo(2))));
            break;
        }
    }

    // An undecodable message gets the decoder's error; the connection stays up.
    let mut bad = Message::BarrierRequest.encode(77).expect("encode");
    bad[1] = 99; // unknown type
    c.send_raw(&bad);
    match c.reply(77) {
        Message::Error(e) => {
            assert_eq!(e.code, ErrorCode::BadRequest(BadRequestCode::BadType));
            assert_eq!(e.data, bad);
        }
        m => panic!("{m:?}"),
    }
    assert_eq!(c.request(&Message::BarrierRequest), Message::BarrierReply);
    assert_eq!(
        br.events().iter().filter(|e| e.starts_with("up")).count(),
        1
    );
    let st = br.status.lock().expect("lock").clone();
    if let Some(s) = st.first() {
        assert_eq!(s.state, "listening");
    }
}

#[test]
fn several_passive_clients() {
    let br = Bridge::start(&["ptcp:0"], ConnOptions::default(), &[]);
    let mut a = TestController::connect(br.addrs[0]);
    let mut b = TestController::connect(br.addrs[0]);
    assert_eq!(a.request(&Message::BarrierRequest), Message::BarrierReply);
    assert_eq!(b.request(&Message::BarrierRequest), Message::BarrierReply);
    wait_for("two connections", || {
        br.status
            .lock()
            .expect("lock")
            .first()
            .is_some_and(|s| s.connections.len() == 2)
    });
}

#[test]
fn incompatible_hello_is_refused() {
    let br = Bridge::start(&["ptcp:0"], ConnOptions::default(), &[]);
    let mut s = std::net::TcpStream::connect(br.addrs[0]).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    use std::io::{Read, Write};
    // OpenFlow 1.0 only.
    let mut hello = Message::Hello(Hello::with_versions(&[1]))
        .encode(5)
        .expect("encode");
    hello[0] = 1;
    s.write_all(&hello).expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("expected close, got {e}"),
        }
    }
    let mut f = rvs_openflow::Framer::new();
    f.push(&got);
    let mut msgs = Vec::new();
    while let Ok(Some(m)) = f.next_frame() {
        msgs.push(Message::decode(m).expect("decode").1);
    }
    assert!(matches!(msgs[0], Message::Hello(_)));
    match &msgs[1] {
        Message::Error(e) => assert_eq!(
            e.code,
            ErrorCode::HelloFailed(HelloFailedCode::Incompatible)
        ),
        m => panic!("{m:?}"),
    }
}

#[test]
fn inactivity_probe_and_disconnect() {
    let br = Bridge::start(&["ptcp:0"], fast(), &[]);
    let mut c = TestController::connect(br.addrs[0]);
    let t = Instant::now();
    // Silence: an echo request comes after one probe interval...
    let (xid, m) = c.recv(Duration::from_secs(5)).expect("no probe");
    assert_eq!(m, Message::EchoRequest(vec![]));
    let probe_at = t.elapsed();
    assert!(probe_at >= Duration::from_millis(250), "{probe_at:?}");
    // ...answering keeps the connection.
    c.send_xid(xid, &Message::EchoReply(vec![]));
    let (_, m) = c.recv(Duration::from_secs(5)).expect("second probe");
    assert_eq!(m, Message::EchoRequest(vec![]));
    // Not answering closes it after another interval.
    let t = Instant::now();
    loop {
        match c.recv_or_closed(Duration::from_secs(5)) {
            Err(()) => break,
            Ok(Some(_)) => {}
            Ok(None) => panic!("not disconnected"),
        }
    }
    assert!(t.elapsed() >= Duration::from_millis(250));
    wait_for("down event", || {
        br.events().iter().any(|e| e.contains("inactivity probe"))
    });
}

#[test]
fn active_reconnects_with_backoff() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let opts = ConnOptions {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        ..ConnOptions::default()
    };
    let target = format!("tcp:127.0.0.1:{port}");
    let br = Bridge::start(&[&target], opts, &[]);
    l.set_nonblocking(false).expect("blocking");
    let mut accepted = Vec::new();
    for _ in 0..5 {
        let (s, _) = l.accept().expect("accept");
        accepted.push(Instant::now());
        // Complete the hello, then hang up at once.
        let c = TestController::from_stream(s);
        drop(c);
    }
    let gaps: Vec<u128> = accepted
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    println!("reconnect gaps (ms): {gaps:?}");
    // 100, 200, 400, 400 ms (plus scheduling noise).
    assert!(gaps[0] >= 90 && gaps[0] < 300, "{gaps:?}");
    assert!(gaps[1] >= 190, "{gaps:?}");
    assert!(gaps[2] >= 390, "{gaps:?}");
    assert!(
        gaps[3] >= 390 && gaps[3] < 1500,
        "capped at backoff_max: {gaps:?}"
    );
    wait_for("backoff state", || {
        br.status
            .lock()
            .expect("lock")
            .first()
            .is_some_and(|s| s.state.starts_with("backoff") || s.state == "connecting")
    });
    // A stable connection: stays up, the switch answers.
    let (s, _) = l.accept().expect("accept");
    let mut c = TestController::from_stream(s);
    assert_eq!(c.request(&Message::BarrierRequest), Message::BarrierReply);
    wait_for("connected state", || {
        br.status
            .lock()
            .expect("lock")
            .first()
            .is_some_and(|s| s.state == "connected")
    });
}
