//! System ports with several receive queues: sockets in one `PACKET_FANOUT` group on a veth
//! whose peer sits in a namespace of ours. Needs root (fails loudly otherwise). Names
//! start with "fo-".

use rvs_datapath::packet::RxBatch;
use rvs_datapath::ports::afpacket::AfPacketPort;
use rvs_datapath::Port;
use rvs_lab::frames::{ethernet, pad_min};
use rvs_lab::hosts::VethHost;
use rvs_lab::require_root;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const FLOWS: u16 = 40;
const PER_FLOW: usize = 10;

/// IPv4/UDP from 10.84.0.1:`sport` to 10.84.0.2:9 (no UDP checksum), tagged with `n`.
fn udp(sport: u16, n: u32) -> Vec<u8> {
    let mut ip = vec![
        0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 84, 0, 1, 10, 84, 0, 2,
    ];
    let c = rvs_wire::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&[0, 9, 0, 12, 0, 0]);
    ip.extend_from_slice(&n.to_be_bytes());
    pad_min(ethernet(
        [0x02, 0, 0, 0, 0x84, 2],
        [0x02, 0, 0, 0, 0x84, 1],
        0x0800,
        &ip,
    ))
}

/// (source port, tag) of our datagrams received on `port` within `limit`.
fn drain(port: &mut dyn Port, limit: Duration) -> Vec<(u16, u32)> {
    let mut got = Vec::new();
    let mut batch = RxBatch::new();
    let t = Instant::now();
    while t.elapsed() < limit {
        batch.clear();
        match port.recv_batch(&mut batch) {
            Ok(0) => std::thread::sleep(Duration::from_millis(1)),
            Ok(_) => got.extend(batch.iter().filter_map(|s| {
                let f = s.frame();
                (f.get(12..14) == Some(&[8, 0][..]) && f.get(30..34) == Some(&[10, 84, 0, 2][..]))
                    .then(|| {
                        (
                            u16::from_be_bytes([f[34], f[35]]),
                            u32::from_be_bytes([f[42], f[43], f[44], f[45]]),
                        )
                    })
            })),
            Err(e) => panic!("recv_batch failed: {e:?}"),
        }
    }
    got
}

#[test]
fn two_queues_share_the_flows_and_see_each_frame_once() {
    require_root();
    let host = VethHost::new("fo-", None);
    let mut port = AfPacketPort::open(host.port()).expect("open");
    port.set_queues(2);
    let mut parts = port.split_rx(2);
    assert_eq!(parts.len(), 1, "one more socket");
    let mut other = parts.remove(0);
    assert_eq!(
        (port.rx_queue_ids(), other.rx_queue_ids()),
        (vec![0], vec![1])
    );
    assert_ne!(port.poll_fd(), other.poll_fd());
    let sock = host.sock();
    let mut n = 0u32;
    for _ in 0..PER_FLOW {
        for f in 0..FLOWS {
            sock.send(&udp(2000 + f, n)).expect("send");
            n += 1;
        }
    }
    let mut got0 = Vec::new();
    let mut got1 = Vec::new();
    let t = Instant::now();
    while got0.len() + got1.len() < n as usize && t.elapsed() < Duration::from_secs(10) {
        got0.extend(drain(&mut port, Duration::from_millis(20)));
        got1.extend(drain(other.as_mut(), Duration::from_millis(20)));
    }
    // Nothing more arrives: no frame is delivered twice.
    got0.extend(drain(&mut port, Duration::from_millis(200)));
    got1.extend(drain(other.as_mut(), Duration::from_millis(200)));
    let mut tags: Vec<u32> = got0.iter().chain(&got1).map(|(_, t)| *t).collect();
    tags.sort_unstable();
    assert_eq!(tags, (0..n).collect::<Vec<_>>(), "each frame exactly once");
    assert!(
        !got0.is_empty() && !got1.is_empty(),
        "the kernel spreads {FLOWS} flows over both sockets: {} and {}",
        got0.len(),
        got1.len()
    );
    // A flow stays on one socket, in order.
    let mut home: BTreeMap<u16, usize> = BTreeMap::new();
    for (q, got) in [&got0, &got1].iter().enumerate() {
        let mut last: BTreeMap<u16, u32> = BTreeMap::new();
        for (sport, tag) in got.iter() {
            assert_eq!(*home.entry(*sport).or_insert(q), q, "flow {sport} on both");
            if let Some(prev) = last.insert(*sport, *tag) {
                assert!(prev < *tag, "flow {sport} out of order");
            }
        }
    }
}

#[test]
fn one_queue_or_one_thread_does_not_split() {
    require_root();
    let host = VethHost::new("fo-", None);
    let mut port = AfPacketPort::open(host.port()).expect("open");
    assert!(port.split_rx(4).is_empty(), "one queue asked for");
    port.set_queues(4);
    let parts = port.split_rx(1);
    assert!(parts.is_empty(), "one thread");
}

/// Runs the calling thread on `cpu` only.
fn pin_self(cpu: usize) {
    rvs_datapath::worker::pin_current_thread(cpu).expect("pin the sending thread");
}

/// Sends frames `tags` of one flow from a thread pinned to `cpu`.
fn send_from(sock: &rvs_lab::RawSocket, cpu: usize, tags: std::ops::Range<u32>) {
    std::thread::scope(|s| {
        s.spawn(|| {
            pin_self(cpu);
            for n in tags {
                sock.send(&udp(4000, n)).expect("send");
            }
        });
    });
}

/// CPU steering, in the kernel: the program is accepted; a flow goes to the queue whose
/// thread is pinned to the CPU that sent it, whole and in order; and it does not move to
/// another CPU's queue while its old queue still holds frames it has not read, however
/// long ago they came.
#[test]
fn cpu_steering_follows_the_sending_cpu_once_the_old_queue_is_read() {
    require_root();
    let cpus = rvs_datapath::worker::allowed_cpus().expect("affinity");
    assert!(
        cpus.len() >= 2,
        "this test needs two CPUs; the process may use {cpus:?}"
    );
    // Queue 0's thread would sit on the second CPU and queue 1's on the first, so a
    // plain "CPU number modulo queues" fanout would get every burst wrong.
    let (a, b) = (cpus[1], cpus[0]);
    rvs_datapath::ports::steer::SteerMap::load(&[a, b]).expect("the kernel takes the program");
    let host = VethHost::new("fo-", None);
    let mut port = AfPacketPort::open(host.port()).expect("open");
    port.steer_by_cpu(vec![a, b]);
    let mut parts = port.split_rx(2);
    assert_eq!(parts.len(), 1, "one more socket");
    let mut other = parts.remove(0);
    let sock = host.sock();
    let tags = |got: Vec<(u16, u32)>| got.into_iter().map(|(_, n)| n).collect::<Vec<_>>();
    const BURST: u32 = 30;
    // Bursts far apart, each read before the next: each on its sender's queue.
    let mut next = 0;
    for (round, cpu) in [a, b, b, a].into_iter().enumerate() {
        std::thread::sleep(Duration::from_millis(2));
        send_from(&sock, cpu, next..next + BURST);
        let (mine, theirs): (&mut dyn Port, &mut dyn Port) = if cpu == a {
            (&mut port, other.as_mut())
        } else {
            (other.as_mut(), &mut port)
        };
        assert_eq!(
            tags(drain(mine, Duration::from_millis(150))),
            (next..next + BURST).collect::<Vec<_>>(),
            "round {round}: the burst from CPU {cpu}, whole and in order, on its queue"
        );
        let stray = drain(theirs, Duration::from_millis(20));
        assert!(
            stray.is_empty(),
            "round {round}: on the other queue: {stray:?}"
        );
        next += BURST;
    }
    // The flow is on queue 0 (CPU a). Frames wait there unread; a burst from CPU b,
    // 20 ms later, follows them instead of overtaking them.
    send_from(&sock, a, next..next + BURST);
    std::thread::sleep(Duration::from_millis(20));
    send_from(&sock, b, next + BURST..next + 2 * BURST);
    assert!(
        drain(other.as_mut(), Duration::from_millis(50)).is_empty(),
        "nothing overtook the unread frames"
    );
    assert_eq!(
        tags(drain(&mut port, Duration::from_millis(150))),
        (next..next + 2 * BURST).collect::<Vec<_>>(),
        "both bursts, in order, on the old queue"
    );
    // Now read: the next burst from CPU b moves to b's queue.
    next += 2 * BURST;
    std::thread::sleep(Duration::from_millis(2));
    send_from(&sock, b, next..next + BURST);
    assert_eq!(
        tags(drain(other.as_mut(), Duration::from_millis(150))),
        (next..next + BURST).collect::<Vec<_>>(),
        "after the old queue was read, the flow moved to CPU {b}'s queue"
    );
}
