//! Header rewriting over arbitrary frames and actions: never panics, a failed action
//! leaves the frame as it was, and push/pop of a VLAN tag is an exact round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_flow::modify::{apply, dscp_remark};
use rvs_flow::pipeline::DpAction;
use rvs_openflow::oxm::{Masked, OxmField};
use std::net::{Ipv4Addr, Ipv6Addr};

fn action(sel: u8, v: u32) -> DpAction {
    let b = v as u8;
    let w = v as u16;
    match sel % 24 {
        0 => DpAction::SetField(OxmField::EthDst(Masked::exact([b; 6]))),
        1 => DpAction::SetField(OxmField::VlanVid(Masked::exact(w & 0x1fff))),
        2 => DpAction::SetField(OxmField::VlanPcp(b & 7)),
        3 => DpAction::SetField(OxmField::IpDscp(b & 0x3f)),
        4 => DpAction::SetField(OxmField::IpEcn(b & 3)),
        5 => DpAction::SetField(OxmField::IpProto(b)),
        6 => DpAction::SetField(OxmField::Ipv4Src(Masked::exact(Ipv4Addr::from(v)))),
        7 => DpAction::SetField(OxmField::TcpDst(w)),
        8 => DpAction::SetField(OxmField::UdpSrc(w)),
        9 => DpAction::SetField(OxmField::SctpSrc(w)),
        10 => DpAction::SetField(OxmField::Icmpv4Code(b)),
        11 => DpAction::SetField(OxmField::Icmpv6Type(b)),
        12 => DpAction::SetField(OxmField::Ipv6Dst(Masked::exact(Ipv6Addr::from(
            u128::from(v) << 64 | u128::from(v),
        )))),
        13 => DpAction::SetField(OxmField::Ipv6NdSll([b; 6])),
        14 => DpAction::SetField(OxmField::ArpSpa(Masked::exact(Ipv4Addr::from(v)))),
        15 => DpAction::SetField(OxmField::MplsLabel(v & 0xfffff)),
        16 => DpAction::PushVlan(if b & 1 == 0 { 0x8100 } else { 0x88a8 }),
        17 => DpAction::PopVlan,
        18 => DpAction::PushMpls(0x8847),
        19 => DpAction::PopMpls(w),
        20 => DpAction::DecMplsTtl,
        21 => DpAction::DecNwTtl,
        22 => DpAction::CopyTtlIn,
        _ => DpAction::CopyTtlOut,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, frame)) = data.split_at_checked(6) else {
        return;
    };
    let sel = head[0];
    let v = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    let partial = head[5] & 1 != 0;
    let mut f = frame.to_vec();
    let before = f.clone();
    if apply(&mut f, &action(sel, v), partial).is_err() {
        assert_eq!(f, before, "a failed action changes nothing");
    }
    let _ = dscp_remark(&mut f, head[5] >> 1 & 3);
    // Push then pop of a tag restores the frame.
    let mut g = frame.to_vec();
    if apply(&mut g, &DpAction::PushVlan(0x8100), partial).is_ok() {
        apply(&mut g, &DpAction::PopVlan, partial).expect("pop after push");
        assert_eq!(g, frame);
    }
});
