//! Per-packet cost of the L2 pipeline, without port I/O: a batch of 32 frames is classified,
//! learned, looked up and queued for transmit, as the worker does after `recv_batch`.
//!
//! `cargo bench -p rvs-datapath --bench pipeline`; criterion reports time per batch and
//! (through the element throughput) per packet.
//!
//! The `offload` group measures the software fallback for ports without offloads: cutting a
//! 64 KB TCP GSO frame into 1448-byte segments (headers rebuilt, every segment's checksum
//! computed over its payload), and the Internet checksum alone over the same bytes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvs_api::{VlanMode, VlanSpec};
use rvs_datapath::bridge::{Bridge, Member, PortRuntime};
use rvs_datapath::mac_table::MacTable;
use rvs_datapath::offload::Segmenter;
use rvs_datapath::packet::{RxBatch, TxFrame, BATCH_SIZE};
use rvs_datapath::vlan::PortVlan;
use rvs_wire::checksum::Checksum;
use rvs_wire::virtio_net::{VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
use rvs_wire::{EthernetAddress, VirtioNetHdr};
use std::hint::black_box;

fn frame(dst: [u8; 6], src: [u8; 6], tag: Option<u16>, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(vid) = tag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    f.resize(len, 0x45);
    f
}

fn spec(tag: Option<u16>, mode: VlanMode) -> VlanSpec {
    VlanSpec {
        tag,
        trunks: vec![],
        mode: Some(mode),
    }
}

/// A bridge with `ports` members; port 0 is the ingress with `in_mode`, the rest `out_mode`.
fn setup(ports: u32, in_spec: &VlanSpec, out_spec: &VlanSpec) -> (Bridge, Vec<PortRuntime>) {
    let mut b = Bridge::new("bench", 8192, 300);
    for p in 0..ports {
        let s = if p == 0 { in_spec } else { out_spec };
        b.add_member(Member {
            port: p,
            vlan: PortVlan::from_spec(s),
            mtu: 1500,
        });
    }
    (b, (0..ports).map(|_| PortRuntime::new()).collect())
}

fn fill(batch: &mut RxBatch, frames: &[Vec<u8>]) {
    batch.clear();
    let n = frames.len().min(BATCH_SIZE);
    for (slot, f) in batch.free_slots().iter_mut().zip(frames) {
        slot.fill(f);
    }
    batch.commit(n);
}

fn run(
    c: &mut Criterion,
    name: &str,
    bridge: &mut Bridge,
    rt: &mut [PortRuntime],
    batch: &RxBatch,
) {
    let mut dirty = Vec::with_capacity(64);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter(|| {
            bridge.process_batch(0, black_box(batch), 1000, rt, &mut dirty);
            for p in dirty.drain(..) {
                rt[p as usize].txq.clear();
            }
        })
    });
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let a = [0x02, 0, 0, 0, 0, 0xaa];
    let known = [0x02, 0, 0, 0, 0, 0xbb];
    let mut batch = RxBatch::new();

    // Access -> access, destination learned: one egress port, frames unchanged.
    let (mut br, mut rt) = setup(
        4,
        &spec(Some(10), VlanMode::Access),
        &spec(Some(10), VlanMode::Access),
    );
    rvs_datapath::mac_table::lock_mac(&br.mac).learn(10, EthernetAddress(known), 1, 0);
    fill(&mut batch, &vec![frame(known, a, None, 64); BATCH_SIZE]);
    run(c, "access_unicast_known", &mut br, &mut rt, &batch);

    // Trunk -> access, learned: the tag is stripped (iovec edit, no copy).
    let (mut br, mut rt) = setup(
        4,
        &spec(None, VlanMode::Trunk),
        &spec(Some(10), VlanMode::Access),
    );
    rvs_datapath::mac_table::lock_mac(&br.mac).learn(10, EthernetAddress(known), 2, 0);
    fill(&mut batch, &vec![frame(known, a, Some(10), 64); BATCH_SIZE]);
    run(c, "trunk_to_access_unicast", &mut br, &mut rt, &batch);

    // Broadcast flooded to 7 access ports of the same VLAN.
    let (mut br, mut rt) = setup(
        8,
        &spec(Some(10), VlanMode::Access),
        &spec(Some(10), VlanMode::Access),
    );
    fill(&mut batch, &vec![frame([0xff; 6], a, None, 64); BATCH_SIZE]);
    run(c, "flood_7_ports", &mut br, &mut rt, &batch);

    // 32 different sources and destinations (learning and lookups across the table).
    let (mut br, mut rt) = setup(
        4,
        &spec(Some(10), VlanMode::Access),
        &spec(Some(10), VlanMode::Access),
    );
    for i in 0..BATCH_SIZE as u8 {
        rvs_datapath::mac_table::lock_mac(&br.mac).learn(
            10,
            EthernetAddress([0x02, 1, 0, 0, 0, i]),
            1 + u32::from(i % 3),
            0,
        );
    }
    let mixed: Vec<Vec<u8>> = (0..BATCH_SIZE as u8)
        .map(|i| frame([0x02, 1, 0, 0, 0, i], [0x02, 2, 0, 0, 0, i], None, 64))
        .collect();
    fill(&mut batch, &mixed);
    run(c, "access_32_flows", &mut br, &mut rt, &batch);
}

fn bench_mac_table(c: &mut Criterion) {
    let mut t = MacTable::new(8192, 300);
    for i in 0..8000u32 {
        let b = i.to_be_bytes();
        t.learn(
            1,
            EthernetAddress([0x02, 0, b[0], b[1], b[2], b[3]]),
            i % 16,
            0,
        );
    }
    let probe = EthernetAddress([0x02, 0, 0, 0, 0x10, 0x00]);
    let mut g = c.benchmark_group("mac_table");
    g.throughput(Throughput::Elements(1));
    g.bench_function("lookup_hit_8k", |b| {
        b.iter(|| black_box(t.lookup(1, black_box(probe), 10)))
    });
    g.bench_function("learn_refresh_8k", |b| {
        b.iter(|| black_box(t.learn(1, black_box(probe), 3, 10)))
    });
    g.finish();
}

/// A TCP/IPv4 GSO frame as Linux hands it over: 66 bytes of headers (TCP timestamps) and
/// `payload` bytes, MSS 1448.
fn tso_frame(payload: usize) -> (Vec<u8>, VirtioNetHdr) {
    let mut f = frame([0x02, 0, 0, 0, 0, 2], [0x02, 0, 0, 0, 0, 1], None, 14);
    let total = (20 + 32 + payload) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0x12,
        0x34,
        0x40,
        0,
    ]);
    f.extend_from_slice(&[64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[0x9c, 0x40, 0x13, 0x89, 0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0x18]);
    f.extend_from_slice(&[0x01, 0xf6, 0, 0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    f.extend((0..payload).map(|i| (i * 7) as u8));
    let vnet = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
        hdr_len: 66,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    };
    (f, vnet)
}

fn bench_offload(c: &mut Criterion) {
    let payload = 65_000;
    let (f, vnet) = tso_frame(payload);
    let mut g = c.benchmark_group("offload");
    g.throughput(Throughput::Bytes(payload as u64));
    let mut hdr = [0u8; 256];
    g.bench_function("tcp_segment_64k_mss1448", |b| {
        b.iter(|| {
            let frame = TxFrame::with_vnet(black_box(&f), vnet);
            let mut seg = Segmenter::new(&frame).expect("segmentable");
            let mut n = 0;
            while let Some(p) = seg.next_into(&mut hdr) {
                n += p.len();
            }
            assert_eq!(n, payload);
            black_box(&hdr);
        })
    });
    g.bench_function("checksum_64k", |b| {
        b.iter(|| {
            let mut c = Checksum::new();
            c.add(black_box(&f[66..]));
            black_box(c.finish())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_pipeline, bench_mac_table, bench_offload);
criterion_main!(benches);
