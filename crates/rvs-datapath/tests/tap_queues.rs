//! Multi-queue TAP ports against the kernel: a tap with several queues moved into a
//! namespace of ours. Needs root (fails loudly otherwise). Names start with "mq".

use rvs_datapath::packet::{RxBatch, TxFrame};
use rvs_datapath::ports::tap::TapPort;
use rvs_datapath::{Port, PortFault};
use rvs_lab::frames::ethernet;
use rvs_lab::hosts::TapHost;
use rvs_lab::{require_root, require_tool, unique_name};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const P: &str = "mq";
const NS_ADDR: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
/// A neighbour of the namespace that exists only as a static ARP entry: frames to it
/// leave through the tap and reach the port.
const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x79, 0x02];
const FLOWS: u16 = 32;
const PER_FLOW: usize = 8;

/// Deletes a device made with `ip tuntap` when the test ends, however it ends.
struct TuntapGuard(String);

impl TuntapGuard {
    fn create(name: &str, multi_queue: bool) -> TuntapGuard {
        let mut argv = vec!["tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"];
        if multi_queue {
            argv.push("multi_queue");
        }
        let st = Command::new("ip").args(&argv).status().expect("run ip");
        assert!(st.success(), "ip {argv:?} failed");
        TuntapGuard(name.to_string())
    }
}

impl Drop for TuntapGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", "dev", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// UDP datagrams from the namespace to `PEER_ADDR:9` that the port received (by UDP source
/// port), until `want` arrived or `limit` passed.
fn recv_udp(port: &mut dyn Port, want: usize, limit: Duration) -> Vec<u16> {
    let mut got = Vec::new();
    let mut batch = RxBatch::new();
    let t = Instant::now();
    while got.len() < want && t.elapsed() < limit {
        batch.clear();
        match port.recv_batch(&mut batch) {
            Ok(0) => std::thread::sleep(Duration::from_millis(1)),
            Ok(_) => got.extend(batch.iter().filter_map(|s| {
                let f = s.frame();
                let ours = f.get(12..14) == Some(&[0x08, 0x00][..])
                    && f.get(23) == Some(&17)
                    && f.get(30..34) == Some(&PEER_ADDR.octets()[..])
                    && f.get(36..38) == Some(&[0, 9][..]);
                ours.then(|| u16::from_be_bytes([f[34], f[35]]))
            })),
            Err(e) => panic!("recv_batch failed: {e:?}"),
        }
    }
    got
}

/// Makes `PEER_ADDR` a static neighbour of the namespace, reached through the tap.
fn static_peer(host: &TapHost) {
    host.ns
        .run(&[
            "ip",
            "neigh",
            "replace",
            &PEER_ADDR.to_string(),
            "lladdr",
            &rvs_lab::frames::fmt_mac(&PEER_MAC),
            "dev",
            host.nic(),
        ])
        .expect("static neighbour");
}

/// `FLOWS` UDP sockets in the namespace, one flow (source port) each.
fn flow_sockets(host: &TapHost) -> Vec<UdpSocket> {
    host.ns.enter(|| {
        (0..FLOWS)
            .map(|_| UdpSocket::bind(SocketAddrV4::new(NS_ADDR, 0)).expect("bind"))
            .collect()
    })
}

/// An Ethernet + IPv4 + UDP frame from the peer to `dst_port` in the namespace (no UDP
/// checksum, which IPv4 allows).
fn udp_to_ns(ns_mac: [u8; 6], src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len() as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(20 + udp_len).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&PEER_ADDR.octets());
    ip.extend_from_slice(&NS_ADDR.octets());
    let csum = rvs_wire::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    ip.extend_from_slice(&src_port.to_be_bytes());
    ip.extend_from_slice(&dst_port.to_be_bytes());
    ip.extend_from_slice(&udp_len.to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(payload);
    ethernet(ns_mac, PEER_MAC, 0x0800, &ip)
}

#[test]
fn four_queues_carry_many_flows_both_ways() {
    require_root();
    require_tool("ip");
    let host = TapHost::new(P, Some(&format!("{NS_ADDR}/24")));
    let (mut port, attach) =
        TapPort::open_or_create(host.port(), None, 4).expect("create a 4-queue tap");
    assert!(attach.created);
    assert_eq!(port.queue_count(), 4);
    assert!(port
        .queue_counters()
        .iter()
        .all(|q| *q == Default::default()));
    host.plug();
    let mac = host.mac();
    static_peer(&host);

    // Namespace -> port: many flows, told apart by their source port.
    let sockets = flow_sockets(&host);
    let peer = SocketAddrV4::new(PEER_ADDR, 9);
    for round in 0..PER_FLOW {
        for s in &sockets {
            s.send_to(&[round as u8; 64], peer).expect("send_to");
        }
    }
    let want = FLOWS as usize * PER_FLOW;
    let got = recv_udp(&mut port, want, Duration::from_secs(10));
    assert_eq!(got.len(), want, "every datagram reaches the port");
    for s in &sockets {
        let p = s.local_addr().expect("addr").port();
        assert_eq!(
            got.iter().filter(|&&x| x == p).count(),
            PER_FLOW,
            "flow {p}"
        );
    }
    let rx = port.queue_counters();
    assert_eq!(rx.len(), 4);
    assert!(
        rx.iter().filter(|q| q.rx_packets > 0).count() >= 2,
        "the kernel spreads flows over the queues: {rx:?}"
    );
    assert!(rx.iter().map(|q| q.rx_packets).sum::<u64>() >= want as u64);

    // Port -> namespace: as many flows back, each through the queue of its hash.
    let sink = host.ns.enter(|| {
        let s = UdpSocket::bind(SocketAddrV4::new(NS_ADDR, 7777)).expect("bind sink");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        s
    });
    let frames: Vec<Vec<u8>> = (0..want)
        .map(|i| udp_to_ns(mac, 20_000 + (i % FLOWS as usize) as u16, 7777, b"reply"))
        .collect();
    let mut sent = 0;
    for chunk in frames.chunks(16) {
        let tx: Vec<TxFrame<'_>> = chunk.iter().map(|f| TxFrame::whole(f)).collect();
        sent += port.send_batch(&tx).sent;
    }
    assert_eq!(sent, want, "the tap takes every frame");
    let mut delivered = 0;
    let mut buf = [0u8; 64];
    let t = Instant::now();
    while delivered < want && t.elapsed() < Duration::from_secs(10) {
        match sink.recv_from(&mut buf) {
            Ok((n, _)) if &buf[..n] == b"reply" => delivered += 1,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("recv: {e}"),
        }
    }
    assert_eq!(delivered, want, "every frame written reaches the namespace");
    let q = port.queue_counters();
    assert_eq!(q.iter().map(|q| q.tx_packets).sum::<u64>(), want as u64);
    assert!(
        q.iter().filter(|q| q.tx_packets > 0).count() >= 2,
        "transmit spreads flows over the queues: {q:?}"
    );
    // The same flow always takes the same queue.
    let one_flow: Vec<Vec<u8>> = (0..20)
        .map(|_| udp_to_ns(mac, 30_000, 7777, b"reply"))
        .collect();
    let before = port.queue_counters();
    let tx: Vec<TxFrame<'_>> = one_flow.iter().map(|f| TxFrame::whole(f)).collect();
    assert_eq!(port.send_batch(&tx).sent, 20);
    let after = port.queue_counters();
    let moved: Vec<u64> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.tx_packets - b.tx_packets)
        .collect();
    assert_eq!(
        moved.iter().filter(|&&n| n > 0).collect::<Vec<_>>(),
        vec![&20],
        "one flow, one queue: {moved:?}"
    );

    // Destroying the port deletes the device once its last queue is closed. Another
    // test thread's process spawn may hold a copy of the queues until its exec, so the
    // device is given a short, bounded time to go.
    Box::new(port).destroy().expect("unset persist");
    let t = Instant::now();
    let gone = loop {
        let listed = host
            .ns
            .output(&["ip", "link", "show", host.nic()])
            .status
            .success();
        if !listed || t.elapsed() > Duration::from_secs(3) {
            break !listed;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(gone, "the tap is deleted when the port is destroyed");
}

/// A 4-queue tap split over two threads: part 0 receives on queues 0 and 2, part 1 on 1
/// and 3; between them they receive every datagram, each only from its own queues, and
/// either part transmits on every queue.
#[test]
fn a_split_port_shares_its_queues_between_threads() {
    require_root();
    require_tool("ip");
    let host = TapHost::new(P, Some(&format!("{NS_ADDR}/24")));
    let (mut port, _) = TapPort::open_or_create(host.port(), None, 4).expect("4-queue tap");
    let mut parts = port.split_rx(2);
    assert_eq!(parts.len(), 1, "two parts in all");
    let mut other = parts.remove(0);
    assert_eq!(port.rx_queue_ids(), vec![0, 2]);
    assert_eq!(other.rx_queue_ids(), vec![1, 3]);
    assert!(other.poll_fd().is_some() && other.poll_fd() != port.poll_fd());
    host.plug();
    static_peer(&host);
    let sockets = flow_sockets(&host);
    let peer = SocketAddrV4::new(PEER_ADDR, 9);
    for s in &sockets {
        s.send_to(&[1u8; 64], peer).expect("send_to");
    }
    let want = FLOWS as usize;
    let mut got0 = Vec::new();
    let mut got1 = Vec::new();
    let t = Instant::now();
    while got0.len() + got1.len() < want && t.elapsed() < Duration::from_secs(10) {
        got0.extend(recv_udp(&mut port, want, Duration::from_millis(20)));
        got1.extend(recv_udp(other.as_mut(), want, Duration::from_millis(20)));
    }
    assert_eq!(got0.len() + got1.len(), want, "every datagram, once");
    assert!(
        !got0.is_empty() && !got1.is_empty(),
        "both parts receive: {} and {}",
        got0.len(),
        got1.len()
    );
    // The counters are the port's, whichever part reads them; only the part's queues
    // received on it.
    let q = port.queue_counters();
    assert_eq!(q, other.queue_counters());
    assert_eq!(
        q.iter().map(|c| c.rx_packets).sum::<u64>(),
        want as u64,
        "{q:?}"
    );
    // Part 1 transmits on every queue, like the whole port.
    let mac = host.mac();
    let frames: Vec<Vec<u8>> = (0..want)
        .map(|i| udp_to_ns(mac, 21_000 + i as u16, 7778, b"x"))
        .collect();
    let tx: Vec<TxFrame<'_>> = frames.iter().map(|f| TxFrame::whole(f)).collect();
    assert_eq!(other.send_batch(&tx).sent, want);
    let q = port.queue_counters();
    assert!(
        q.iter().filter(|c| c.tx_packets > 0).count() >= 2,
        "transmit uses every queue: {q:?}"
    );
    drop(other);
    Box::new(port).destroy().expect("unset persist");
}

#[test]
fn single_queue_devices_and_bad_counts_are_refused_clearly() {
    require_root();
    require_tool("ip");
    for n in [0, 17] {
        let name = unique_name(P);
        let e = TapPort::open_or_create(&name, None, n)
            .err()
            .expect("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("1 to 16"), "{e}");
        assert!(!exists(&name), "nothing created for {n} queues");
    }

    // A tap made without multi-queue support has exactly one queue.
    let single = unique_name(P);
    let _g1 = TuntapGuard::create(&single, false);
    let e = TapPort::open_or_create(&single, None, 4)
        .err()
        .expect("refused");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("without multi-queue"), "{e}");
    assert!(exists(&single), "the device is left alone");
    let (port, attach) = TapPort::open_or_create(&single, None, 1).expect("one queue works");
    assert!(!attach.created);
    assert_eq!(port.queue_count(), 1);
    assert!(port.queue_counters().is_empty());
    drop(port);

    // A multi-queue tap someone else made (and holds one queue of) takes four more.
    let multi = unique_name(P);
    let _g2 = TuntapGuard::create(&multi, true);
    let (other, _) = TapPort::open_or_create(&multi, None, 1).expect("another holder");
    let (mut port, attach) = TapPort::open_or_create(&multi, None, 4).expect("attach 4 queues");
    assert!(!attach.created);
    assert_eq!(port.queue_count(), 4);
    drop(other);

    // The device vanishing shows as a fault on receive.
    let st = Command::new("ip")
        .args(["link", "del", "dev", &multi])
        .status()
        .expect("ip");
    assert!(st.success());
    let mut batch = RxBatch::new();
    let mut fault = None;
    for _ in 0..100 {
        batch.clear();
        match port.recv_batch(&mut batch) {
            Err(f) => {
                fault = Some(f);
                break;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert_eq!(fault, Some(PortFault::InterfaceGone));
}

/// With several queues holding frames, one receive call shares the batch among them:
/// every ready queue gets at least an equal part, whatever its position.
#[test]
fn one_receive_shares_the_batch_among_ready_queues() {
    require_root();
    require_tool("ip");
    let host = TapHost::new(P, Some(&format!("{NS_ADDR}/24")));
    let (mut port, _) = TapPort::open_or_create(host.port(), None, 4).expect("4-queue tap");
    host.plug();
    static_peer(&host);
    let sockets = flow_sockets(&host);
    let per_flow = 16;
    for _ in 0..per_flow {
        for s in &sockets {
            s.send_to(&[7; 64], SocketAddrV4::new(PEER_ADDR, 9))
                .expect("send_to");
        }
    }
    std::thread::sleep(Duration::from_millis(100));

    let mut batch = RxBatch::new();
    let got = port.recv_batch(&mut batch).expect("receive");
    let first: Vec<u64> = port.queue_counters().iter().map(|q| q.rx_packets).collect();
    let sent = FLOWS as usize * per_flow;
    let rest = recv_udp(&mut port, sent - got, Duration::from_secs(10));
    let total: Vec<u64> = port.queue_counters().iter().map(|q| q.rx_packets).collect();
    assert_eq!(
        got,
        batch.capacity(),
        "a full batch: {first:?} of {total:?}"
    );
    assert_eq!(got + rest.len(), sent, "every datagram arrives once");
    let ready = total.iter().filter(|&&n| n > 0).count();
    assert!(ready >= 2, "{total:?}");
    let share = got.div_ceil(ready) as u64;
    for (q, (&f, &t)) in first.iter().zip(&total).enumerate() {
        // At least its share (more when another queue had less than its share).
        assert!(
            f >= t.min(share),
            "queue {q}: first call took {f} of {t} (share {share}); all: {first:?} of {total:?}"
        );
    }
}

/// Runs the calling thread on `cpu` only.
fn pin_self(cpu: usize) {
    rvs_datapath::worker::pin_current_thread(cpu).expect("pin the sending thread");
}

/// CPU steering on a 2-queue tap (the device's steering program): what the namespace sends
/// from a thread pinned to a CPU arrives on the queue whose thread is pinned there (the
/// mapping is reversed, so neither the kernel's own flow choice nor "CPU number = queue"
/// passes every round), and a flow does not overtake frames left unread on its old queue.
#[test]
fn cpu_steering_picks_the_queue_of_the_sending_cpu() {
    require_root();
    require_tool("ip");
    let cpus = rvs_datapath::worker::allowed_cpus().expect("affinity");
    assert!(
        cpus.len() >= 2,
        "this test needs two CPUs; the process may use {cpus:?}"
    );
    let (a, b) = (cpus[1], cpus[0]);
    let host = TapHost::new(P, Some(&format!("{NS_ADDR}/24")));
    let (mut port, _) = TapPort::open_or_create(host.port(), None, 2).expect("2-queue tap");
    host.plug();
    static_peer(&host);
    port.steer_by_cpu(&[a, b])
        .expect("the kernel takes the program");
    let mut parts = port.split_rx(2);
    assert_eq!(parts.len(), 1, "two parts");
    let mut other = parts.remove(0);
    let sock = host
        .ns
        .enter(|| UdpSocket::bind(SocketAddrV4::new(NS_ADDR, 0)).expect("bind in the namespace"));
    let sport = sock.local_addr().expect("addr").port();
    let send_from = |cpu: usize, n: usize| {
        std::thread::scope(|s| {
            s.spawn(|| {
                pin_self(cpu);
                for i in 0..n {
                    sock.send_to(&[i as u8; 32], SocketAddrV4::new(PEER_ADDR, 9))
                        .expect("send_to");
                }
            });
        });
    };
    const N: usize = 20;
    for (round, cpu) in [a, b, b, a].into_iter().enumerate() {
        std::thread::sleep(Duration::from_millis(2));
        send_from(cpu, N);
        let (mine, theirs): (&mut dyn Port, &mut dyn Port) = if cpu == a {
            (&mut port, other.as_mut())
        } else {
            (other.as_mut(), &mut port)
        };
        let got = recv_udp(mine, N, Duration::from_secs(2));
        assert_eq!(
            got,
            vec![sport; N],
            "round {round}: what CPU {cpu} sent, on its queue"
        );
        let stray = recv_udp(theirs, 1, Duration::from_millis(20));
        assert!(stray.is_empty(), "round {round}: on the other queue");
    }
    // The flow is on CPU a's queue. Frames wait there unread; what CPU b sends 20 ms
    // later follows them.
    send_from(a, N);
    std::thread::sleep(Duration::from_millis(20));
    send_from(b, N);
    assert!(recv_udp(other.as_mut(), 1, Duration::from_millis(50)).is_empty());
    assert_eq!(
        recv_udp(&mut port, 2 * N, Duration::from_secs(2)).len(),
        2 * N
    );
    drop(other);
    Box::new(port).destroy().expect("unset persist");
}
