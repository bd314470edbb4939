//! One bridge served by two datapaths (two threads in rvsd): each port receives on one of
//! them, and the other transmits to it through a handle under the same port id. Learning
//! is shared, so a reply handled by the other thread is unicast, not flooded.

use rvs_api::VlanSpec;
use rvs_datapath::mac_table::shared_mac;
use rvs_datapath::ports::memory::{MemoryPort, MemoryPortHandle};
use rvs_datapath::{Datapath, Port, PortId};

fn frame(dst: u8, src: u8) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, dst, 0x02, 0, 0, 0, 0, src, 0x88, 0xb5];
    f.resize(60, 0xab);
    f
}

/// Ports 0, 1, 2 (hosts 1, 2, 3); `home[i]` says which datapath receives on port i.
fn spread(home: [usize; 3]) -> ([Datapath; 2], Vec<MemoryPortHandle>) {
    let mac = shared_mac(1024, 300);
    let mut dps = [Datapath::new(), Datapath::new()];
    for dp in &mut dps {
        assert!(dp.add_bridge_with(7, "br0", mac.clone()));
    }
    let mut handles = Vec::new();
    for (i, &h) in home.iter().enumerate() {
        let (p, handle) = MemoryPort::new(&format!("p{i}"));
        let tx = p.tx_handle().expect("handle");
        let id = 10 + i as PortId;
        let other = 1 - h;
        assert_eq!(
            dps[h].add_port_with_id(7, id, Box::new(p), &VlanSpec::default()),
            Some(id)
        );
        assert_eq!(
            dps[other].add_port_with_id(7, id, tx, &VlanSpec::default()),
            Some(id)
        );
        handles.push(handle);
    }
    (dps, handles)
}

#[test]
fn learning_is_shared_and_handles_transmit() {
    let (mut dps, ports) = spread([0, 1, 1]);
    // Host 1 (port 0, datapath 0) to unknown host 2: flooded to ports 1 and 2, both of
    // which datapath 0 reaches only through handles.
    ports[0].inject(&frame(2, 1));
    assert_eq!(dps[0].poll_port(10, 1).expect("poll"), 1);
    assert_eq!(ports[1].take_sent().len(), 1);
    assert_eq!(ports[2].take_sent().len(), 1);
    // The reply, received by datapath 1: host 1 was learned by datapath 0, so it goes to
    // port 0 only.
    ports[1].inject(&frame(1, 2));
    assert_eq!(dps[1].poll_port(11, 2).expect("poll"), 1);
    assert_eq!(ports[0].take_sent(), vec![frame(1, 2)]);
    assert!(ports[2].take_sent().is_empty(), "flooded despite learning");
    // And back: host 2 is known to datapath 0 too.
    ports[0].inject(&frame(2, 1));
    dps[0].poll_port(10, 3).expect("poll");
    assert_eq!(ports[1].take_sent().len(), 1);
    assert!(ports[2].take_sent().is_empty());
    // The same table behind both: one flush forgets for both.
    assert_eq!(dps[0].fdb(7, 3).len(), 2);
    assert_eq!(dps[1].fdb(7, 3).len(), 2);
    dps[1].fdb_flush(7);
    assert!(dps[0].fdb(7, 3).is_empty());
    // A handle never receives: polling port 11 on datapath 0 finds nothing.
    ports[1].inject(&frame(1, 2));
    assert_eq!(dps[0].poll_port(11, 4).expect("poll"), 0);
    // Transmit counts are per datapath; summed they give the port's total.
    let tx = |p: PortId| -> u64 {
        dps.iter()
            .filter_map(|d| d.counters(p))
            .map(|c| c.tx_packets)
            .sum()
    };
    assert_eq!(tx(11), 2);
    assert_eq!(tx(10), 1);
}

#[test]
fn taken_ids_and_unknown_bridges_are_refused() {
    let (mut dps, _ports) = spread([0, 0, 1]);
    let (p, _h) = MemoryPort::new("dup");
    assert!(dps[0]
        .add_port_with_id(7, 10, Box::new(p), &VlanSpec::default())
        .is_none());
    let (p, _h) = MemoryPort::new("nobridge");
    assert!(dps[0]
        .add_port_with_id(8, 30, Box::new(p), &VlanSpec::default())
        .is_none());
    assert!(!dps[1].add_bridge_with(7, "again", shared_mac(1, 1)));
}
