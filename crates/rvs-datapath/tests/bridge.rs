//! In-memory bridge tests: every vlan_mode ingress/egress case, flooding, learning, moves,
//! limits and malformed frames, through the real datapath with in-memory ports.

use rvs_api::{VlanMode, VlanSpec};
use rvs_datapath::ports::memory::{MemoryPort, MemoryPortHandle};
use rvs_datapath::{BridgeId, Datapath, DropReason, PortId};

const BCAST: [u8; 6] = [0xff; 6];

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

fn untagged(dst: [u8; 6], src: [u8; 6], payload_len: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend((0..payload_len).map(|i| i as u8));
    f
}

fn tagged_tci(dst: [u8; 6], src: [u8; 6], tci: u16, payload_len: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend((0..payload_len).map(|i| i as u8));
    f
}

fn tagged(dst: [u8; 6], src: [u8; 6], pcp: u8, vid: u16, payload_len: usize) -> Vec<u8> {
    tagged_tci(dst, src, (u16::from(pcp) << 13) | vid, payload_len)
}

/// (pcp, vid) of a tagged frame, None if untagged.
fn tag_of(f: &[u8]) -> Option<(u8, u16)> {
    (f[12..14] == [0x81, 0x00]).then(|| {
        let tci = u16::from_be_bytes([f[14], f[15]]);
        ((tci >> 13) as u8, tci & 0xfff)
    })
}

fn strip(f: &[u8]) -> Vec<u8> {
    if tag_of(f).is_some() {
        let mut v = f[..12].to_vec();
        v.extend_from_slice(&f[16..]);
        v
    } else {
        f.to_vec()
    }
}

fn spec(tag: Option<u16>, trunks: &[u16], mode: VlanMode) -> VlanSpec {
    VlanSpec {
        tag,
        trunks: trunks.to_vec(),
        mode: Some(mode),
    }
    .validated()
    .expect("valid spec")
}

fn access(tag: u16) -> VlanSpec {
    spec(Some(tag), &[], VlanMode::Access)
}

fn trunk(trunks: &[u16]) -> VlanSpec {
    spec(None, trunks, VlanMode::Trunk)
}

struct Harness {
    dp: Datapath,
    br: BridgeId,
    ports: Vec<(PortId, MemoryPortHandle)>,
    now: u64,
}

impl Harness {
    fn new(specs: &[VlanSpec]) -> Self {
        Self::with_table(specs, 8192, 300)
    }

    fn with_table(specs: &[VlanSpec], size: usize, aging: u32) -> Self {
        let mut dp = Datapath::new();
        let br = dp.add_bridge("br0", size, aging);
        let mut h = Harness {
            dp,
            br,
            ports: Vec::new(),
            now: 1,
        };
        for s in specs {
            h.add(s, 1500);
        }
        h
    }

    fn add(&mut self, s: &VlanSpec, mtu: usize) -> usize {
        let (p, handle) = MemoryPort::with_mtu(&format!("p{}", self.ports.len()), mtu);
        let id = self
            .dp
            .add_port(self.br, Box::new(p), s)
            .expect("bridge exists");
        self.ports.push((id, handle));
        self.ports.len() - 1
    }

    /// Injects frames on port `i` and runs the datapath over them.
    fn send(&mut self, i: usize, frames: &[Vec<u8>]) {
        for f in frames {
            self.ports[i].1.inject(f);
        }
        for _ in 0..100 {
            if self.ports[i].1.pending_rx() == 0 {
                break;
            }
            self.dp
                .poll_port(self.ports[i].0, self.now)
                .expect("memory ports do not fail");
        }
    }

    fn out(&self, i: usize) -> Vec<Vec<u8>> {
        self.ports[i].1.take_sent()
    }

    fn drops(&self, i: usize, r: DropReason) -> u64 {
        self.dp.counters(self.ports[i].0).expect("port").dropped(r)
    }

    fn clear(&self) {
        for (_, h) in &self.ports {
            h.take_sent();
        }
    }
}

#[test]
fn access_ports_flood_within_their_vlan_only() {
    let mut h = Harness::new(&[access(10), access(10), access(20), access(10)]);
    let f = untagged(BCAST, mac(1), 50);
    h.send(0, std::slice::from_ref(&f));
    assert!(h.out(0).is_empty(), "never back out the ingress port");
    assert_eq!(h.out(1), vec![f.clone()]);
    assert!(h.out(2).is_empty(), "other VLAN stays isolated");
    assert_eq!(h.out(3), vec![f]);
}

#[test]
fn learned_unicast_is_not_flooded() {
    let mut h = Harness::new(&[access(10), access(10), access(10)]);
    h.send(0, &[untagged(BCAST, mac(1), 50)]);
    h.send(1, &[untagged(mac(1), mac(2), 50)]);
    assert_eq!(h.out(0).len(), 1, "mac(1) was learned on port 0");
    h.clear();
    let f = untagged(mac(2), mac(1), 60);
    h.send(0, std::slice::from_ref(&f));
    assert_eq!(h.out(1), vec![f]);
    assert!(h.out(2).is_empty(), "known unicast goes to one port only");
}

#[test]
fn unknown_unicast_floods() {
    let mut h = Harness::new(&[access(10), access(10), access(10)]);
    h.send(0, &[untagged(mac(9), mac(1), 50)]);
    assert_eq!(h.out(1).len(), 1);
    assert_eq!(h.out(2).len(), 1);
}

#[test]
fn same_mac_in_two_vlans_is_learned_separately() {
    let mut h = Harness::new(&[access(10), access(20), trunk(&[])]);
    h.send(0, &[untagged(BCAST, mac(1), 50)]);
    h.send(1, &[untagged(BCAST, mac(1), 50)]);
    h.clear();
    h.send(2, &[tagged(mac(1), mac(7), 0, 10, 50)]);
    assert_eq!(h.out(0).len(), 1);
    assert!(h.out(1).is_empty());
    h.send(2, &[tagged(mac(1), mac(7), 0, 20, 50)]);
    assert_eq!(h.out(1).len(), 1);
    assert!(h.out(0).is_empty());
}

#[test]
fn access_to_trunk_pushes_tag_with_pcp_zero() {
    let mut h = Harness::new(&[access(10), trunk(&[]), trunk(&[10, 11]), trunk(&[20])]);
    let f = untagged(BCAST, mac(1), 50);
    h.send(0, std::slice::from_ref(&f));
    for i in [1, 2] {
        let out = h.out(i);
        assert_eq!(out.len(), 1);
        assert_eq!(tag_of(&out[0]), Some((0, 10)));
        assert_eq!(strip(&out[0]), f);
    }
    assert!(h.out(3).is_empty(), "VLAN 10 is not trunked on port 3");
}

#[test]
fn trunk_to_access_strips_and_trunk_to_trunk_keeps_pcp() {
    let mut h = Harness::new(&[trunk(&[]), access(10), trunk(&[10]), access(20)]);
    let f = tagged(BCAST, mac(1), 5, 10, 50);
    h.send(0, std::slice::from_ref(&f));
    assert_eq!(h.out(1), vec![strip(&f)]);
    assert_eq!(h.out(2), vec![f], "PCP 5 preserved, frame unchanged");
    assert!(h.out(3).is_empty());
}

#[test]
fn dei_bit_is_preserved() {
    let mut h = Harness::new(&[trunk(&[]), spec(Some(10), &[], VlanMode::NativeTagged)]);
    let f = tagged_tci(BCAST, mac(1), (6 << 13) | 0x1000 | 10, 40);
    h.send(0, std::slice::from_ref(&f));
    assert_eq!(h.out(1), vec![f]);
}

#[test]
fn trunk_ingress_checks_allowed_list() {
    let mut h = Harness::new(&[trunk(&[10, 20]), trunk(&[]), access(30)]);
    h.send(
        0,
        &[
            tagged(BCAST, mac(1), 0, 30, 50),
            untagged(BCAST, mac(1), 50),
        ],
    );
    assert_eq!(h.drops(0, DropReason::VlanNotAllowed), 2);
    assert!(h.out(1).is_empty() && h.out(2).is_empty());
    h.send(0, &[tagged(BCAST, mac(1), 0, 20, 50)]);
    assert_eq!(h.out(1).len(), 1);
}

#[test]
fn untagged_on_trunk_all_is_vlan_zero() {
    let mut h = Harness::new(&[trunk(&[]), trunk(&[]), access(10), trunk(&[10])]);
    let f = untagged(BCAST, mac(1), 50);
    h.send(0, std::slice::from_ref(&f));
    assert_eq!(h.out(1), vec![f], "VLAN 0 leaves a trunk untagged");
    assert!(h.out(2).is_empty());
    assert!(
        h.out(3).is_empty(),
        "a trunk with a list does not carry VLAN 0"
    );
}

#[test]
fn access_port_drops_tagged_but_accepts_priority_tags() {
    let mut h = Harness::new(&[access(10), access(10), trunk(&[])]);
    h.send(0, &[tagged(BCAST, mac(1), 0, 10, 50)]);
    assert_eq!(h.drops(0, DropReason::TaggedOnAccessPort), 1);
    assert!(h.out(1).is_empty());
    let prio = tagged(BCAST, mac(1), 3, 0, 50);
    h.send(0, std::slice::from_ref(&prio));
    assert_eq!(
        h.out(1),
        vec![strip(&prio)],
        "priority tag removed on the access port"
    );
    let t = h.out(2);
    assert_eq!(t.len(), 1);
    assert_eq!(tag_of(&t[0]), Some((3, 10)), "PCP kept, VID set");
    assert_eq!(strip(&t[0]), strip(&prio));
}

#[test]
fn native_tagged_semantics() {
    let nt = spec(Some(10), &[20], VlanMode::NativeTagged);
    let mut h = Harness::new(&[nt, access(10), access(20), access(30)]);
    // Untagged ingress joins the native VLAN.
    let f = untagged(BCAST, mac(1), 50);
    h.send(0, std::slice::from_ref(&f));
    assert_eq!(h.out(1), vec![f.clone()]);
    assert!(h.out(2).is_empty());
    // Tagged native VID is accepted; a listed VID too; others are not.
    h.send(0, &[tagged(BCAST, mac(1), 0, 10, 50)]);
    assert_eq!(h.out(1).len(), 1);
    h.send(0, &[tagged(BCAST, mac(1), 0, 20, 50)]);
    assert_eq!(h.out(2).len(), 1);
    h.send(0, &[tagged(BCAST, mac(1), 0, 30, 50)]);
    assert_eq!(h.drops(0, DropReason::VlanNotAllowed), 1);
    // Egress in the native VLAN is tagged.
    h.send(1, &[untagged(BCAST, mac(2), 50)]);
    let out = h.out(0);
    assert_eq!(out.len(), 1);
    assert_eq!(tag_of(&out[0]), Some((0, 10)));
    // Not carried: VLAN 30.
    h.send(3, &[untagged(BCAST, mac(3), 50)]);
    assert!(h.out(0).is_empty());
}

#[test]
fn native_untagged_semantics() {
    let nu = spec(Some(10), &[20], VlanMode::NativeUntagged);
    let mut h = Harness::new(&[nu, access(10), access(20)]);
    let f = untagged(BCAST, mac(2), 50);
    h.send(1, std::slice::from_ref(&f));
    assert_eq!(h.out(0), vec![f], "native VLAN leaves untagged");
    h.send(2, &[untagged(BCAST, mac(3), 50)]);
    let out = h.out(0);
    assert_eq!(tag_of(&out[0]), Some((0, 20)), "other VLANs leave tagged");
    // Ingress: untagged and native-tagged both land in VLAN 10.
    h.send(
        0,
        &[
            untagged(BCAST, mac(1), 50),
            tagged(BCAST, mac(1), 0, 10, 50),
        ],
    );
    assert_eq!(h.out(1).len(), 2);
}

#[test]
fn station_moves_are_learned_and_counted() {
    let mut h = Harness::new(&[access(10), access(10), access(10)]);
    h.send(0, &[untagged(BCAST, mac(1), 50)]);
    h.send(1, &[untagged(BCAST, mac(1), 50)]);
    h.clear();
    h.send(2, &[untagged(mac(1), mac(3), 50)]);
    assert_eq!(h.out(1).len(), 1);
    assert!(h.out(0).is_empty());
    assert_eq!(h.dp.fdb_stats(h.br, h.now).moves, 1);
}

#[test]
fn table_limit_evicts_oldest_and_counts() {
    let mut h = Harness::with_table(&[access(10), access(10), access(10)], 2, 300);
    h.send(0, &[untagged(BCAST, mac(1), 50)]);
    h.now += 1;
    h.send(0, &[untagged(BCAST, mac(2), 50)]);
    h.now += 1;
    h.send(1, &[untagged(BCAST, mac(3), 50)]);
    let st = h.dp.fdb_stats(h.br, h.now);
    assert_eq!((st.entries, st.evictions), (2, 1));
    h.clear();
    // mac(1) was evicted: unicast to it floods again.
    h.send(2, &[untagged(mac(1), mac(9), 50)]);
    assert_eq!(h.out(0).len(), 1);
    assert_eq!(h.out(1).len(), 1);
}

#[test]
fn entries_age_out() {
    let mut h = Harness::with_table(&[access(10), access(10), access(10)], 100, 2);
    h.send(0, &[untagged(BCAST, mac(1), 50)]);
    h.now += 1999;
    h.clear();
    h.send(2, &[untagged(mac(1), mac(3), 50)]);
    assert!(h.out(1).is_empty(), "still known at 1.999 s");
    h.now += 1;
    h.dp.expire(h.now);
    h.send(2, &[untagged(mac(1), mac(3), 50)]);
    assert_eq!(h.out(1).len(), 1, "aged out at 2 s: flooded");
    assert!(h.dp.fdb(h.br, h.now).iter().all(|r| r.mac.0 != mac(1)));
}

#[test]
fn malformed_frames_are_counted_and_forwarding_goes_on() {
    let mut h = Harness::new(&[trunk(&[]), trunk(&[])]);
    let good = untagged(BCAST, mac(1), 50);
    let mut stp = untagged([0x01, 0x80, 0xc2, 0, 0, 0], mac(1), 50);
    stp[12..14].copy_from_slice(&[0x00, 0x26]);
    let mut big_src = untagged(BCAST, mac(1), 50);
    big_src[6] = 0x01;
    let frames = vec![
        vec![0xff; 10],                                  // runt
        untagged(BCAST, mac(1), 0),                      // header, no payload
        tagged(BCAST, mac(1), 0, 10, 50)[..16].to_vec(), // truncated 802.1Q
        untagged(BCAST, mac(1), 1501),                   // oversized for MTU 1500
        tagged(BCAST, mac(1), 0, 10, 1501),              // oversized tagged
        big_src,                                         // multicast source
        untagged(BCAST, [0; 6], 50),                     // zero source
        stp,                                             // 802.1D reserved destination
        good.clone(),
    ];
    h.send(0, &frames);
    assert_eq!(h.drops(0, DropReason::Runt), 2);
    assert_eq!(h.drops(0, DropReason::TruncatedVlan), 1);
    assert_eq!(h.drops(0, DropReason::Oversized), 2);
    assert_eq!(h.drops(0, DropReason::InvalidSrcMac), 2);
    assert_eq!(h.drops(0, DropReason::ReservedMulticast), 1);
    assert_eq!(
        h.out(1),
        vec![good],
        "the valid frame in the same batch is forwarded"
    );
    let c = h.dp.counters(h.ports[0].0).expect("port");
    assert_eq!(c.rx_packets, frames.len() as u64);
    // Maximum legal sizes pass.
    h.send(
        0,
        &[
            untagged(BCAST, mac(1), 1500),
            tagged(BCAST, mac(1), 0, 10, 1500),
        ],
    );
    assert_eq!(h.out(1).len(), 2);
}

#[test]
fn flood_with_no_member_in_vlan_counts_no_output() {
    let mut h = Harness::new(&[access(10), access(20)]);
    h.send(0, &[untagged(BCAST, mac(1), 50)]);
    assert_eq!(h.drops(0, DropReason::NoOutput), 1);
}

#[test]
fn destination_on_ingress_port_is_dropped() {
    let mut h = Harness::new(&[access(10), access(10)]);
    h.send(
        0,
        &[untagged(BCAST, mac(1), 50), untagged(mac(1), mac(2), 50)],
    );
    assert_eq!(h.drops(0, DropReason::DstIsIngressPort), 1);
    assert_eq!(h.out(1).len(), 1, "only the broadcast");
}

#[test]
fn live_vlan_change_takes_effect_and_forgets_learned_macs() {
    let mut h = Harness::new(&[access(10), access(10), access(20)]);
    h.send(1, &[untagged(BCAST, mac(2), 50)]);
    h.clear();
    assert!(h.dp.set_port_vlan(h.ports[1].0, &access(20)));
    assert!(
        h.dp.fdb(h.br, h.now).is_empty(),
        "entries on the changed port are flushed"
    );
    h.send(0, &[untagged(BCAST, mac(1), 50)]);
    assert!(h.out(1).is_empty(), "port 1 left VLAN 10");
    h.send(2, &[untagged(BCAST, mac(3), 50)]);
    assert_eq!(h.out(1).len(), 1, "port 1 joined VLAN 20");
}

#[test]
fn transmit_refusals_and_small_mtus_are_counted_on_egress() {
    let mut h = Harness::new(&[access(10), access(10)]);
    let small = h.add(&access(10), 100);
    h.ports[1].1.limit_tx(Some(1));
    h.send(
        0,
        &[untagged(BCAST, mac(1), 50), untagged(BCAST, mac(1), 200)],
    );
    assert_eq!(h.out(1).len(), 1);
    assert_eq!(h.drops(1, DropReason::TxFailed), 1);
    assert_eq!(h.out(small).len(), 1, "the 50-byte frame fits");
    assert_eq!(h.drops(small, DropReason::TxTooBig), 1);
    let c = h.dp.counters(h.ports[1].0).expect("port");
    assert_eq!(c.tx_packets, 1);
}

#[test]
fn counters_count_packets_and_bytes() {
    let mut h = Harness::new(&[access(10), access(10)]);
    let f = untagged(BCAST, mac(1), 86);
    h.send(0, &[f.clone(), f.clone()]);
    let rx = h.dp.counters(h.ports[0].0).expect("port");
    let tx = h.dp.counters(h.ports[1].0).expect("port");
    assert_eq!((rx.rx_packets, rx.rx_bytes), (2, 200));
    assert_eq!((tx.tx_packets, tx.tx_bytes), (2, 200));
}

#[test]
fn deleting_a_port_removes_it_from_flooding_and_fdb() {
    let mut h = Harness::new(&[access(10), access(10), access(10)]);
    h.send(1, &[untagged(BCAST, mac(2), 50)]);
    let removed = h.dp.del_port(h.ports[1].0);
    assert!(removed.is_some());
    assert!(h.dp.fdb(h.br, h.now).iter().all(|r| r.mac.0 != mac(2)));
    h.clear();
    h.send(0, &[untagged(mac(2), mac(1), 50)]);
    assert!(h.out(1).is_empty());
    assert_eq!(h.out(2).len(), 1);
}

#[test]
fn large_batches_are_all_processed() {
    let mut h = Harness::new(&[access(10), access(10)]);
    let frames: Vec<Vec<u8>> = (0..100).map(|i| untagged(BCAST, mac(1), 40 + i)).collect();
    h.send(0, &frames);
    assert_eq!(h.out(1), frames);
}
