//! Arbitrary bytes through the real pipeline: nothing panics, and every received frame is
//! either forwarded or counted as a drop.

use proptest::prelude::*;
use rvs_api::{VlanMode, VlanSpec};
use rvs_datapath::ports::memory::MemoryPort;
use rvs_datapath::Datapath;

fn arbitrary_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Pure noise of any length around the interesting boundaries.
        proptest::collection::vec(any::<u8>(), 0..64),
        // Plausible frames: random MACs, a VLAN TPID or not, random tails.
        (
            any::<[u8; 12]>(),
            any::<bool>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..1600)
        )
            .prop_map(|(macs, tagged, tci, tail)| {
                let mut f = macs.to_vec();
                if tagged {
                    f.extend_from_slice(&[0x81, 0x00]);
                    f.extend_from_slice(&tci.to_be_bytes());
                }
                f.extend_from_slice(&tail);
                f
            }),
    ]
}

fn any_spec() -> impl Strategy<Value = VlanSpec> {
    prop_oneof![
        Just(VlanSpec {
            tag: None,
            trunks: vec![],
            mode: Some(VlanMode::Trunk)
        }),
        Just(VlanSpec {
            tag: None,
            trunks: vec![1, 2, 3],
            mode: Some(VlanMode::Trunk)
        }),
        (1u16..5).prop_map(|t| VlanSpec {
            tag: Some(t),
            trunks: vec![],
            mode: Some(VlanMode::Access)
        }),
        (1u16..5).prop_map(|t| VlanSpec {
            tag: Some(t),
            trunks: vec![2],
            mode: Some(VlanMode::NativeTagged)
        }),
        (1u16..5).prop_map(|t| VlanSpec {
            tag: Some(t),
            trunks: vec![],
            mode: Some(VlanMode::NativeUntagged)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_frame_is_forwarded_or_counted(
        in_spec in any_spec(),
        frames in proptest::collection::vec(arbitrary_frame(), 1..80),
    ) {
        // Two ports that carry everything the ingress can accept: the egress trunks all VLANs.
        let mut dp = Datapath::new();
        let br = dp.add_bridge("br", 16, 300);
        let (a, ha) = MemoryPort::new("a");
        let (b, hb) = MemoryPort::new("b");
        let pa = dp.add_port(br, Box::new(a), &in_spec).expect("bridge");
        let all = VlanSpec { tag: None, trunks: vec![], mode: Some(VlanMode::Trunk) };
        let pb = dp.add_port(br, Box::new(b), &all).expect("bridge");
        for f in &frames {
            ha.inject(f);
        }
        for now in 0..10 {
            dp.poll_port(pa, now).expect("memory port");
        }
        let ca = dp.counters(pa).expect("a");
        let cb = dp.counters(pb).expect("b");
        prop_assert_eq!(ca.rx_packets, frames.len() as u64);
        prop_assert_eq!(cb.tx_packets + ca.total_drops(), frames.len() as u64);
        prop_assert_eq!(hb.take_sent().len() as u64, cb.tx_packets);
    }
}
