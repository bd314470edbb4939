//! `system` ports with a `TPACKET_V3` receive ring, driven in-process (a datapath worker
//! thread with `AfPacketPort`s on veth pairs into test namespaces):
//! - 802.1Q-tagged frames cross a trunk in both directions with their tag (the kernel
//!   takes it out; the ring port puts it back in the ring's headroom),
//! - GSO frames from a TCP sender arrive whole through the ring (virtio-net headers),
//! - a paced burst of 5000 small frames arrives exactly, none lost,
//! - frames the kernel drops while the worker is blocked are counted `kernel_rx_queue`,
//!   for ring and `recvmmsg` ports alike.
//!
//! Needs root, ip and python3. Names start with "rg"; addresses are in 10.83.0.0/16,
//! inside our namespaces only.

mod common;

use common::*;
use rvs_api::{VlanMode, VlanSpec};
use rvs_datapath::ports::afpacket::{AfPacketOptions, AfPacketPort};
use rvs_datapath::worker::WorkerHandle;
use rvs_datapath::{DropReason, PortCounters, PortId};
use rvs_lab::{frames, require_tool};
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

const P: &str = "rg";

fn trunk() -> VlanSpec {
    VlanSpec {
        tag: None,
        trunks: vec![],
        mode: Some(VlanMode::Trunk),
    }
}

/// A worker with one bridge and a port on each host, opened with `opts`.
fn switch(h1: &VethHost, h2: &VethHost, opts: AfPacketOptions) -> (WorkerHandle, PortId, PortId) {
    let worker = WorkerHandle::spawn("rg-dp").expect("datapath thread");
    let (a, b) = (h1.port().to_string(), h2.port().to_string());
    let (pa, pb) = worker
        .call(move |w| {
            let br = w.datapath().add_bridge("rg", 64, 300);
            let pa = w.add_port(
                br,
                Box::new(AfPacketPort::open_with_options(&a, opts)?),
                &trunk(),
            )?;
            let pb = w.add_port(
                br,
                Box::new(AfPacketPort::open_with_options(&b, opts)?),
                &trunk(),
            )?;
            Ok::<_, std::io::Error>((pa, pb))
        })
        .expect("datapath thread")
        .expect("ports");
    (worker, pa, pb)
}

fn counters(worker: &WorkerHandle, id: PortId) -> PortCounters {
    worker
        .call(move |w| {
            w.datapath().collect_kernel_drops();
            w.datapath().counters(id)
        })
        .expect("datapath thread")
        .expect("port")
}

fn ring() -> AfPacketOptions {
    AfPacketOptions {
        rx_ring: true,
        ..AfPacketOptions::default()
    }
}

/// A test frame numbered `seq`, tagged with `vid` when given.
fn numbered(dst: [u8; 6], src: [u8; 6], vid: Option<u16>, seq: u32) -> Vec<u8> {
    let mut payload = b"rg-ring".to_vec();
    payload.extend_from_slice(&seq.to_be_bytes());
    payload.resize(46, 0);
    match vid {
        Some(v) => frames::vlan_tagged(dst, src, 0x8100, 5, v, ETHERTYPE_TEST, &payload),
        None => frames::ethernet(dst, src, ETHERTYPE_TEST, &payload),
    }
}

/// The sequence number of one of our test frames (untagged or tagged).
fn seq_of(frame: &[u8]) -> Option<u32> {
    let at = if frames::parse_vlan(frame).is_some() {
        18
    } else {
        14
    };
    let p = frame.get(at..at + 11)?;
    (&p[..7] == b"rg-ring").then(|| u32::from_be_bytes([p[7], p[8], p[9], p[10]]))
}

#[test]
fn vlan_tagged_frames_cross_ring_ports_both_ways() {
    setup();
    let h1 = VethHost::new(P, None);
    let h2 = VethHost::new(P, None);
    let (worker, pa, _pb) = switch(&h1, &h2, ring());
    assert!(
        worker
            .call(move |w| w.datapath().port(pa).map(|p| p.name().to_string()))
            .expect("datapath thread")
            .is_some(),
        "port a is on the bridge"
    );
    let (s1, s2) = (h1.sock(), h2.sock());
    let (m1, m2) = (h1.mac(), h2.mac());
    for (i, (from, to, src, dst)) in [(&s1, &s2, m1, m2), (&s2, &s1, m2, m1)]
        .into_iter()
        .enumerate()
    {
        for (j, vid) in [Some(10u16), Some(4094), None].into_iter().enumerate() {
            let seq = (i * 10 + j) as u32;
            let sent = numbered(dst, src, vid, seq);
            from.send(&sent).expect("send");
            let deadline = Instant::now() + ARRIVAL;
            let got = loop {
                let Some(f) = to.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                else {
                    panic!("frame {seq} (VLAN {vid:?}) did not arrive");
                };
                if seq_of(&f) == Some(seq) {
                    break f;
                }
            };
            assert_eq!(got, sent, "frame {seq} arrives exactly as sent");
            if let Some(v) = vid {
                assert_eq!(
                    frames::parse_vlan(&got),
                    Some((0x8100, 5, v, ETHERTYPE_TEST))
                );
            }
        }
    }
    worker.shutdown();
}

/// Receives one connection, reads to EOF, prints the byte count.
const SINK: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5099))
s.listen(1)
print('listening', flush=True)
s.settimeout(30)
c, _ = s.accept()
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n, flush=True)
"#;

/// Sends argv[2] bytes to argv[1]:5099.
const SOURCE: &str = r#"
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        s = socket.create_connection((sys.argv[1], 5099), timeout=3)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
s.sendall(bytes(int(sys.argv[2])))
s.close()
"#;

#[test]
fn gso_frames_arrive_whole_through_the_ring() {
    setup();
    require_tool("python3");
    let h1 = VethHost::new(P, Some("10.83.1.1/24"));
    let h2 = VethHost::new(P, Some("10.83.1.2/24"));
    let (worker, pa, pb) = switch(&h1, &h2, ring());
    assert_pings(&[(&h1.ns, "10.83.1.2", "h1 -> h2")]);
    let size: usize = 32 << 20;
    let mut sink = h2
        .ns
        .command(&["python3", "-c", SINK, "10.83.1.2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the sink");
    let mut out = sink.stdout.take().expect("sink stdout");
    let mut line = [0u8; 10];
    let _ = std::io::Read::read(&mut out, &mut line);
    let sent = output_within(
        h1.ns
            .command(&["python3", "-c", SOURCE, "10.83.1.2", &size.to_string()]),
        Duration::from_secs(60),
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    let _ = sink.wait();
    assert_eq!(rest.trim(), size.to_string(), "every byte arrived");
    let (ca, cb) = (counters(&worker, pa), counters(&worker, pb));
    assert!(
        ca.rx_bytes / ca.rx_packets.max(1) > 8000,
        "h1's GSO frames came through the ring whole: {ca:?}"
    );
    assert!(
        cb.tx_bytes / cb.tx_packets.max(1) > 8000,
        "and left whole for h2: {cb:?}"
    );
    // A busy machine may overflow the ring under TCP (counted `kernel_rx_queue`; TCP
    // recovers), but no frame may be refused as malformed or too big.
    for reason in [
        DropReason::Oversized,
        DropReason::BadOffload,
        DropReason::TxTooBig,
    ] {
        assert_eq!(ca.dropped(reason) + cb.dropped(reason), 0, "{ca:?} {cb:?}");
    }
    worker.shutdown();
}

#[test]
fn paced_burst_of_5000_small_frames_arrives_exactly() {
    setup();
    const N: u32 = 5000;
    let h1 = VethHost::new(P, None);
    let h2 = VethHost::new(P, None);
    let (worker, pa, pb) = switch(&h1, &h2, ring());
    let (s1, s2) = (h1.sock(), h2.sock());
    let (m1, m2) = (h1.mac(), h2.mac());
    // The receiving test socket must not be what loses frames when this thread is slow.
    let big: libc::c_int = 16 << 20;
    // SAFETY: setsockopt with a live int of the size passed.
    let r = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s2),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&big as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_RCVBUFFORCE on the test socket");
    let got = std::thread::scope(|sc| {
        let rx = sc.spawn(|| {
            let mut seen = BTreeSet::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while seen.len() < N as usize && Instant::now() < deadline {
                if let Some(f) = s2.recv_timeout(Duration::from_millis(500)) {
                    if let Some(seq) = seq_of(&f) {
                        assert!(seen.insert(seq), "frame {seq} arrived twice");
                    }
                }
            }
            seen
        });
        for seq in 0..N {
            s1.send(&numbered(m2, m1, Some(7), seq)).expect("send");
            // At most 50k frames/s: well below what the port forwards.
            if seq % 50 == 49 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        rx.join().expect("receiver thread")
    });
    let (ca, cb) = (counters(&worker, pa), counters(&worker, pb));
    assert_eq!(ca.dropped(DropReason::KernelRxQueue), 0, "{ca:?}");
    assert!(
        ca.rx_packets >= u64::from(N),
        "rvs received them all: {ca:?}"
    );
    assert!(cb.tx_packets >= u64::from(N), "rvs sent them all: {cb:?}");
    assert_eq!(got.len(), N as usize, "every frame arrived: {ca:?} {cb:?}");
    assert_eq!(got.iter().next_back(), Some(&(N - 1)));
    worker.shutdown();
}

/// While the worker sleeps, frames pile up in the port's kernel queue until it overflows;
/// the kernel's drops must show up as `kernel_rx_queue`, and every frame sent is either
/// received or counted (nothing else drops frames between the two veth ends).
fn kernel_drops_are_counted(opts: AfPacketOptions, n: u32, block: Duration) {
    let h1 = VethHost::new(P, None);
    let h2 = VethHost::new(P, None);
    let (worker, pa, _pb) = switch(&h1, &h2, opts);
    let s1 = h1.sock();
    let (m1, m2) = (h1.mac(), h2.mac());
    let before = counters(&worker, pa);
    std::thread::scope(|sc| {
        let blocked = sc.spawn(|| {
            worker
                .call(move |_| std::thread::sleep(block))
                .expect("datapath thread")
        });
        std::thread::sleep(Duration::from_millis(20));
        for seq in 0..n {
            s1.send(&numbered(m2, m1, None, seq)).expect("send");
        }
        blocked.join().expect("blocking call");
    });
    // Let the worker drain what the queue kept.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = counters(&worker, pa);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let next = counters(&worker, pa);
        if next == c {
            break;
        }
        c = next;
    }
    let dropped = c.dropped(DropReason::KernelRxQueue) - before.dropped(DropReason::KernelRxQueue);
    let received = c.rx_packets - before.rx_packets;
    assert!(dropped > 0, "the kernel queue overflowed: {c:?}");
    assert_eq!(
        received + dropped,
        u64::from(n),
        "every frame was received or counted: {c:?}"
    );
    worker.shutdown();
}

#[test]
fn kernel_rx_queue_drops_are_counted_with_a_ring() {
    setup();
    // A small ring (256 KiB: about 1800 small frames) so that the burst overflows it.
    kernel_drops_are_counted(
        AfPacketOptions {
            ring_block_size: 128 << 10,
            ring_blocks: 2,
            ..ring()
        },
        20_000,
        Duration::from_millis(300),
    );
}

#[test]
fn kernel_rx_queue_drops_are_counted_with_recvmmsg() {
    setup();
    // The 8 MiB socket buffer holds about 20000 small frames.
    kernel_drops_are_counted(
        AfPacketOptions {
            rx_ring: false,
            ..AfPacketOptions::default()
        },
        80_000,
        Duration::from_millis(1500),
    );
}
