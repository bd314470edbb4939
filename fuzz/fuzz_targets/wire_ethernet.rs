//! Ethernet and 802.1Q views over arbitrary bytes: no panic, consistent lengths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_wire::{EthernetFrame, VlanTag, ETHERNET_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = EthernetFrame::new_checked(data) {
        let _ = (f.dst_addr(), f.src_addr(), f.ethertype());
        assert_eq!(f.payload().len(), data.len() - ETHERNET_HEADER_LEN);
    } else {
        assert!(data.len() < ETHERNET_HEADER_LEN);
    }
    if let Ok(Some((tag, _inner))) = VlanTag::parse_outer(data) {
        assert!(data.len() >= 18);
        assert_eq!(VlanTag::from_tci(tag.tpid, tag.tci()), tag);
    }
});
