//! AF_XDP ports against the kernel: a veth whose peer sits in a namespace of ours.
//! Needs root (fails loudly otherwise). Names start with "ax-".

use rvs_datapath::packet::{RxBatch, TxFrame};
use rvs_datapath::ports::afxdp::{AfxdpOptions, AfxdpPort, XdpMode};
use rvs_datapath::Port;
use rvs_lab::frames::{ethernet, pad_min};
use rvs_lab::hosts::VethHost;
use rvs_lab::{require_root, RawSocket};
use std::time::{Duration, Instant};

const P: &str = "ax-";

fn frame(n: u32, len: usize) -> Vec<u8> {
    let mut payload = n.to_be_bytes().to_vec();
    payload.resize(len.saturating_sub(14), 0xab);
    pad_min(ethernet(
        [0x02, 0, 0, 0, 0, 0x10],
        [0x02, 0, 0, 0, 0, 0x20],
        0x88b5,
        &payload,
    ))
}

/// Receives until `want` frames of ours arrived or `limit` passed.
fn recv_n(port: &mut AfxdpPort, want: usize, limit: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut batch = RxBatch::new();
    let t = Instant::now();
    while got.len() < want && t.elapsed() < limit {
        batch.clear();
        match port.recv_batch(&mut batch) {
            Ok(0) => std::thread::sleep(Duration::from_millis(1)),
            Ok(_) => got.extend(
                batch
                    .iter()
                    .map(|s| s.frame().to_vec())
                    .filter(|f| f.get(12..14) == Some(&[0x88, 0xb5][..])),
            ),
            Err(e) => panic!("recv_batch failed: {e:?}"),
        }
    }
    got
}

fn both_ways(mode: Option<XdpMode>) {
    require_root();
    let host = VethHost::new(P, None);
    let mut port =
        AfxdpPort::open_with(host.port(), AfxdpOptions { mode }).expect("open afxdp port");
    if let Some(m) = mode {
        assert_eq!(port.mode(), m);
    }
    assert_eq!(port.queue_count(), 1);
    assert!(port.describe().starts_with("afxdp "), "{}", port.describe());
    let ns_sock: RawSocket = host.sock();

    // Namespace -> port: 500 frames, each exactly once, in order.
    for n in 0..500u32 {
        ns_sock
            .send(&frame(n, 60 + (n as usize % 1400)))
            .expect("send");
    }
    let got = recv_n(&mut port, 500, Duration::from_secs(10));
    assert_eq!(got.len(), 500, "frames received through AF_XDP");
    for (n, f) in got.iter().enumerate() {
        assert_eq!(f[14..18], (n as u32).to_be_bytes(), "order");
        assert_eq!(f.len(), (60 + (n % 1400)).max(60));
    }

    // Port -> namespace: many more frames than the UMEM's transmit half, in batches, so
    // that chunks must come back through the completion ring.
    let frames: Vec<Vec<u8>> = (0..5000u32).map(|n| frame(n, 200)).collect();
    let mut sent = 0;
    let mut received = 0;
    for chunk in frames.chunks(32) {
        let tx: Vec<TxFrame<'_>> = chunk.iter().map(|f| TxFrame::whole(f)).collect();
        let out = port.send_batch(&tx);
        assert_eq!(
            out.sent,
            chunk.len(),
            "a batch was refused after {sent} frames"
        );
        assert_eq!(out.bytes, chunk.iter().map(|f| f.len() as u64).sum::<u64>());
        sent += out.sent;
        // Drain the namespace side as we go so its socket queue never overflows.
        while let Some(f) = ns_sock.recv_timeout(Duration::from_millis(0)) {
            if f.get(12..14) == Some(&[0x88, 0xb5][..]) {
                received += 1;
            }
        }
    }
    let t = Instant::now();
    while received < sent && t.elapsed() < Duration::from_secs(5) {
        if let Some(f) = ns_sock.recv_timeout(Duration::from_millis(50)) {
            if f.get(12..14) == Some(&[0x88, 0xb5][..]) {
                received += 1;
            }
        }
    }
    assert_eq!(
        received, sent,
        "frames sent through AF_XDP that the namespace saw"
    );

    // Every chunk is accounted for once the kernel completed all transmits.
    let t = Instant::now();
    loop {
        let acc = port.frame_accounting();
        assert!(
            acc.iter()
                .all(|a| a.rx_in_kernel + a.rx_pending + a.free_tx + a.tx_in_flight == a.total),
            "{acc:?}"
        );
        if acc.iter().all(|a| a.balanced() && a.tx_in_flight == 0) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "frames never came back: {acc:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = port.xsk_stats().expect("XDP_STATISTICS");
    assert_eq!(
        stats[0].rx_invalid_descs + stats[0].tx_invalid_descs,
        0,
        "{stats:?}"
    );
}

#[test]
fn native_mode_moves_frames_both_ways_without_losing_chunks() {
    both_ways(Some(XdpMode::Native));
}

#[test]
fn generic_mode_moves_frames_both_ways_without_losing_chunks() {
    both_ways(Some(XdpMode::Generic));
}

#[test]
fn program_is_detached_on_close_and_a_missing_interface_is_named() {
    require_root();
    let host = VethHost::new(P, None);
    let port = AfxdpPort::open(host.port()).expect("open");
    assert!(!port.replaced_stale());
    let xdp = |dev: &str| {
        std::process::Command::new("ip")
            .args(["-d", "link", "show", "dev", dev])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    assert!(xdp(host.port()).contains("rvs_xsk"), "{}", xdp(host.port()));
    drop(port);
    assert!(
        !xdp(host.port()).contains("prog/xdp"),
        "program left after close: {}",
        xdp(host.port())
    );
    // (A live program of another rvs process is refused: see crates/rvs/tests/e2e_afxdp.rs.)
    let e = AfxdpPort::open("ax-nosuchif0")
        .err()
        .expect("missing interface must fail");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}

#[test]
fn oversized_mtu_falls_back_to_generic_mode_with_the_reason() {
    require_root();
    let host = VethHost::new(P, None);
    host.ns
        .run(&["ip", "link", "set", "dev", host.veth.b(), "mtu", "5000"])
        .expect("peer mtu");
    std::process::Command::new("ip")
        .args(["link", "set", "dev", host.port(), "mtu", "5000"])
        .status()
        .expect("mtu");
    let port = AfxdpPort::open(host.port()).expect("open");
    assert_eq!(
        port.mode(),
        XdpMode::Generic,
        "native refused for a peer MTU over a page"
    );
    let why = port.native_refusal().expect("reason kept");
    eprintln!("native refusal: {why}");
    assert!(why.contains("MTU"), "{why}");
    assert!(port.mtu() < 4096, "mtu capped to a chunk: {}", port.mtu());
}
