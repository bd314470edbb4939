//! Arbitrary frames through the bridge pipeline with arbitrary port VLAN settings.
//!
//! Input: byte 0 picks the ingress port's VLAN mode, then frames as (u16 length, bytes).
//! Checks: no panic; every received frame is forwarded or counted as a drop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_api::{VlanMode, VlanSpec};
use rvs_datapath::ports::memory::MemoryPort;
use rvs_datapath::Datapath;

fn spec(sel: u8) -> VlanSpec {
    let tag = Some(u16::from(sel >> 3).max(1));
    match sel & 7 {
        0 => VlanSpec { tag: None, trunks: vec![], mode: Some(VlanMode::Trunk) },
        1 => VlanSpec { tag: None, trunks: vec![1, 2, 3], mode: Some(VlanMode::Trunk) },
        2 | 3 => VlanSpec { tag, trunks: vec![], mode: Some(VlanMode::Access) },
        4 | 5 => VlanSpec { tag, trunks: vec![2], mode: Some(VlanMode::NativeTagged) },
        _ => VlanSpec { tag, trunks: vec![], mode: Some(VlanMode::NativeUntagged) },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else { return };
    let mut dp = Datapath::new();
    let br = dp.add_bridge("br", 8, 300);
    let (a, ha) = MemoryPort::new("a");
    let (b, _hb) = MemoryPort::new("b");
    let Some(pa) = dp.add_port(br, Box::new(a), &spec(sel)) else { return };
    let all = VlanSpec { tag: None, trunks: vec![], mode: Some(VlanMode::Trunk) };
    let Some(pb) = dp.add_port(br, Box::new(b), &all) else { return };
    let mut n = 0u64;
    while rest.len() >= 2 && n < 256 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        ha.inject(&rest[2..2 + len]);
        rest = &rest[2 + len..];
        n += 1;
    }
    for now in 0..16 {
        let _ = dp.poll_port(pa, now * 1000);
    }
    let (Some(ca), Some(cb)) = (dp.counters(pa), dp.counters(pb)) else { return };
    assert_eq!(ca.rx_packets, n);
    assert_eq!(cb.tx_packets + ca.total_drops(), n);
});
