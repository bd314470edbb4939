//! Flow-key extraction over arbitrary bytes: never panics, and the key is consistent
//! with the frame (in_port as given, Ethernet fields only for a whole header, the VLAN
//! present bit only for a tagged frame). The key then goes through a tiny fast path
//! (one table-miss rule) to exercise hashing, the exact-match cache and a megaflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_flow::cache::{Config, FastPath};
use rvs_flow::classifier::FlowTables;
use rvs_flow::key::{ETH_TYPE_NONE, VLAN_PRESENT};
use rvs_flow::{extract, FlowKey};
use rvs_openflow::action::Action;
use rvs_openflow::{FlowMod, Instruction, Match, PortNo};

fuzz_target!(|data: &[u8]| {
    let (port, frame) = match data.split_first() {
        Some((&p, rest)) => (u32::from(p), rest),
        None => (0, data),
    };
    let k = extract(frame, port);
    assert_eq!(k.in_port(), port);
    if frame.len() < 14 {
        let mut only_port = FlowKey::default();
        only_port.set_in_port(port);
        assert_eq!(k, only_port);
        return;
    }
    let tpid = u16::from_be_bytes([frame[12], frame[13]]);
    let tagged = (tpid == 0x8100 || tpid == 0x88a8) && frame.len() >= 18;
    assert_eq!(k.vlan_tci() & VLAN_PRESENT != 0, tagged);
    assert!(k.eth_type() >= 0x0600 || k.eth_type() == ETH_TYPE_NONE);
    assert_eq!(k, extract(frame, port), "deterministic");

    let mut tables = FlowTables::with_tables(1);
    let miss = FlowMod::add(
        0,
        Match::new(),
        vec![Instruction::ApplyActions(vec![Action::output(PortNo(1))])],
    );
    tables.apply(&miss, 0).expect("table-miss flow");
    let mut fp = FastPath::new(Config {
        emc_entries: 16,
        emc_insert_inv_prob: 1,
        ..Config::default()
    });
    let first = fp.process(&tables, &k, frame.len() as u32).actions.to_vec();
    let second = fp.process(&tables, &k, frame.len() as u32).actions.to_vec();
    assert_eq!(first, second);
});
