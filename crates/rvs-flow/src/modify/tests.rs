use super::*;
use proptest::prelude::*;
use rvs_openflow::oxm::Masked;
use rvs_wire::checksum::{checksum, pseudo_header_v4, pseudo_header_v6};
use std::net::{Ipv4Addr, Ipv6Addr};

const DST: [u8; 6] = [2, 0, 0, 0, 0, 2];
const SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DST);
    f.extend_from_slice(&SRC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn ipv4(proto: u8, tos: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut h = vec![0x45, tos];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0, ttl, proto, 0, 0]);
    h.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

fn ipv6(next: u8, tc: u8, hop: u8, l4: &[u8]) -> Vec<u8> {
    let w: u32 = (6 << 28) | (u32::from(tc) << 20) | 0x12345;
    let mut h = w.to_be_bytes().to_vec();
    h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, hop]);
    h.extend_from_slice(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).octets());
    h.extend_from_slice(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).octets());
    h.extend_from_slice(l4);
    h
}

fn tcp() -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&1234u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x18;
    t.extend_from_slice(b"hello, world!");
    t
}

fn udp() -> Vec<u8> {
    let payload = b"some udp data";
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&5000u16.to_be_bytes());
    u[2..4].copy_from_slice(&53u16.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(payload);
    u
}

/// L4 checksum offset in the L4 header, by protocol.
fn csum_off(proto: u8) -> Option<usize> {
    match proto {
        6 => Some(16),
        17 => Some(6),
        1 | 58 => Some(2),
        _ => None,
    }
}

/// Where IP and L4 start (one optional VLAN tag; no extension headers).
fn offsets(f: &[u8]) -> (usize, u16) {
    let t = u16::from_be_bytes([f[12], f[13]]);
    if t == 0x8100 || t == 0x88a8 {
        (18, u16::from_be_bytes([f[16], f[17]]))
    } else {
        (14, t)
    }
}

/// The pseudo-header sum of a frame's L4 packet (none for ICMPv4).
fn pseudo(f: &[u8]) -> Option<(Checksum, usize, u8)> {
    let (l3, et) = offsets(f);
    match et {
        0x0800 => {
            let ihl = usize::from(f[l3] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]));
            let proto = f[l3 + 9];
            let src: [u8; 4] = f[l3 + 12..l3 + 16].try_into().ok()?;
            let dst: [u8; 4] = f[l3 + 16..l3 + 20].try_into().ok()?;
            let p = if proto == 1 {
                Checksum::new()
            } else {
                pseudo_header_v4(src, dst, proto, (total - ihl) as u16)
            };
            Some((p, l3 + ihl, proto))
        }
        0x86dd => {
            let plen = u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]);
            let proto = f[l3 + 6];
            let src: [u8; 16] = f[l3 + 8..l3 + 24].try_into().ok()?;
            let dst: [u8; 16] = f[l3 + 24..l3 + 40].try_into().ok()?;
            Some((
                pseudo_header_v6(src, dst, proto, u32::from(plen)),
                l3 + 40,
                proto,
            ))
        }
        _ => None,
    }
}

/// Fills the L4 checksum from scratch.
fn fill_l4(f: &mut [u8]) {
    let Some((mut c, l4, proto)) = pseudo(f) else {
        return;
    };
    let Some(off) = csum_off(proto) else { return };
    f[l4 + off..l4 + off + 2].fill(0);
    c.add(&f[l4..]);
    f[l4 + off..l4 + off + 2].copy_from_slice(&c.finish().to_be_bytes());
}

/// IPv4 header and L4 checksums are right, computed from scratch.
fn assert_csums(f: &[u8]) {
    let (l3, et) = offsets(f);
    if et == 0x0800 {
        let ihl = usize::from(f[l3] & 15) * 4;
        assert!(
            rvs_wire::checksum::verify(&f[l3..l3 + ihl]),
            "IPv4 header checksum"
        );
    }
    if let Some((mut c, l4, proto)) = pseudo(f) {
        if csum_off(proto).is_some() {
            c.add(&f[l4..]);
            assert_eq!(c.fold(), 0xffff, "L4 checksum (proto {proto})");
        }
    }
}

fn v4_frame(proto: u8, l4: Vec<u8>) -> Vec<u8> {
    let mut f = eth(0x0800, &ipv4(proto, 0x28, 64, &l4));
    fill_l4(&mut f);
    f
}

fn v6_frame(proto: u8, l4: Vec<u8>) -> Vec<u8> {
    let mut f = eth(0x86dd, &ipv6(proto, 0x28, 64, &l4));
    fill_l4(&mut f);
    f
}

fn set(f: &mut Vec<u8>, field: OxmField) -> Res {
    apply(f, &DpAction::SetField(field), false)
}

fn v4a(a: [u8; 4]) -> Masked<Ipv4Addr> {
    Masked::exact(Ipv4Addr::from(a))
}

#[test]
fn ethernet_fields() {
    let mut f = v4_frame(6, tcp());
    set(&mut f, OxmField::EthDst(Masked::exact([1, 2, 3, 4, 5, 6]))).expect("dst");
    set(&mut f, OxmField::EthSrc(Masked::exact([6, 5, 4, 3, 2, 1]))).expect("src");
    assert_eq!(&f[..12], &[1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1]);
    set(&mut f, OxmField::EthType(0x0801)).expect("type");
    assert_eq!(&f[12..14], &[0x08, 0x01]);
    assert_eq!(set(&mut vec![0; 13], OxmField::EthType(1)), Err(Truncated));
}

#[test]
fn ipv4_tcp_fields_keep_checksums() {
    let mut f = v4_frame(6, tcp());
    assert_csums(&f);
    let k0 = crate::extract(&f, 1);
    set(&mut f, OxmField::Ipv4Src(v4a([192, 168, 7, 9]))).expect("src");
    assert_csums(&f);
    set(&mut f, OxmField::Ipv4Dst(v4a([172, 16, 255, 1]))).expect("dst");
    assert_csums(&f);
    set(&mut f, OxmField::TcpSrc(4321)).expect("sport");
    set(&mut f, OxmField::TcpDst(8080)).expect("dport");
    assert_csums(&f);
    set(&mut f, OxmField::IpDscp(46)).expect("dscp");
    set(&mut f, OxmField::IpEcn(3)).expect("ecn");
    assert_csums(&f);
    apply(&mut f, &DpAction::SetNwTtl(9), false).expect("ttl");
    apply(&mut f, &DpAction::DecNwTtl, false).expect("dec");
    assert_csums(&f);
    let k = crate::extract(&f, 1);
    assert_eq!(k.nw_src(), u32::from(Ipv4Addr::new(192, 168, 7, 9)));
    assert_eq!(k.nw_dst(), u32::from(Ipv4Addr::new(172, 16, 255, 1)));
    assert_eq!((k.tp_src(), k.tp_dst()), (4321, 8080));
    assert_eq!((k.ip_dscp(), k.ip_ecn(), k.ip_ttl()), (46, 3, 8));
    assert_eq!(k.tcp_flags(), k0.tcp_flags());
    // The key's own set_field agrees with the frame's.
    let mut kk = k0;
    for fld in [
        OxmField::Ipv4Src(v4a([192, 168, 7, 9])),
        OxmField::Ipv4Dst(v4a([172, 16, 255, 1])),
        OxmField::TcpSrc(4321),
        OxmField::TcpDst(8080),
        OxmField::IpDscp(46),
        OxmField::IpEcn(3),
    ] {
        crate::key::set_field(&mut kk, &fld).expect("key set");
    }
    kk.set_ip_ttl(8);
    assert_eq!(kk, k);
    // A UDP field on a TCP packet is not applicable; the frame is unchanged.
    let before = f.clone();
    assert_eq!(set(&mut f, OxmField::UdpDst(1)), Err(NotApplicable));
    assert_eq!(
        set(
            &mut f,
            OxmField::Ipv6Src(Masked::exact(Ipv6Addr::LOCALHOST))
        ),
        Err(NotApplicable)
    );
    assert_eq!(f, before);
}

#[test]
fn ip_proto_change_keeps_the_pseudo_header_right() {
    let mut f = v4_frame(6, tcp());
    set(&mut f, OxmField::IpProto(17)).expect("proto");
    // The L4 checksum still verifies for the protocol now in the header.
    let (mut c, l4, proto) = pseudo(&f).expect("ip");
    assert_eq!(proto, 17);
    c.add(&f[l4..]);
    assert_eq!(c.fold(), 0xffff);
    let (l3, _) = offsets(&f);
    assert!(rvs_wire::checksum::verify(&f[l3..l3 + 20]));
}

#[test]
fn udp_checksums_including_zero() {
    let mut f = v4_frame(17, udp());
    set(&mut f, OxmField::Ipv4Dst(v4a([8, 8, 4, 4]))).expect("dst");
    set(&mut f, OxmField::UdpSrc(1)).expect("sport");
    set(&mut f, OxmField::UdpDst(2)).expect("dport");
    assert_csums(&f);
    // "No checksum" stays so.
    let mut z = eth(0x0800, &ipv4(17, 0, 64, &udp()));
    set(&mut z, OxmField::Ipv4Src(v4a([1, 2, 3, 4]))).expect("src");
    set(&mut z, OxmField::UdpDst(99)).expect("dport");
    assert_eq!(&z[14 + 20 + 6..14 + 20 + 8], &[0, 0]);
    let ihl = &z[14..34];
    assert!(rvs_wire::checksum::verify(ihl));
}

#[test]
fn ipv6_fields_keep_checksums() {
    for (proto, l4) in [
        (6u8, tcp()),
        (17, udp()),
        (58, vec![128, 0, 0, 0, 0, 1, 0, 1, 9, 9]),
    ] {
        let mut f = v6_frame(proto, l4);
        assert_csums(&f);
        let a = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0xffff, 0, 0x1234, 0xabcd);
        set(&mut f, OxmField::Ipv6Src(Masked::exact(a))).expect("src");
        set(
            &mut f,
            OxmField::Ipv6Dst(Masked::exact(Ipv6Addr::LOCALHOST)),
        )
        .expect("dst");
        set(&mut f, OxmField::Ipv6Flabel(Masked::exact(0xabcde))).expect("flabel");
        set(&mut f, OxmField::IpDscp(10)).expect("dscp");
        set(&mut f, OxmField::IpEcn(1)).expect("ecn");
        apply(&mut f, &DpAction::DecNwTtl, false).expect("hop");
        assert_csums(&f);
        let k = crate::extract(&f, 1);
        assert_eq!(k.ipv6_src(), u128::from(a));
        assert_eq!(k.ipv6_dst(), 1);
        assert_eq!(k.ipv6_label(), 0xabcde);
        assert_eq!((k.ip_dscp(), k.ip_ecn(), k.ip_ttl()), (10, 1, 63));
    }
}

#[test]
fn icmp_and_nd_fields() {
    let mut f = v4_frame(1, vec![8, 0, 0, 0, 0, 7, 0, 1, 1, 2, 3]);
    set(&mut f, OxmField::Icmpv4Type(0)).expect("type");
    set(&mut f, OxmField::Icmpv4Code(5)).expect("code");
    set(&mut f, OxmField::Ipv4Src(v4a([9, 9, 9, 9]))).expect("src");
    assert_csums(&f);
    assert_eq!(&f[34..36], &[0, 5]);
    assert_eq!(set(&mut f, OxmField::Icmpv6Type(1)), Err(NotApplicable));

    // Neighbor solicitation with a source link-layer address option.
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets());
    ns.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 1]);
    let mut f = v6_frame(58, ns);
    let t = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x77);
    set(&mut f, OxmField::Ipv6NdTarget(t)).expect("target");
    set(&mut f, OxmField::Ipv6NdSll([0xa, 0xb, 0xc, 0xd, 0xe, 0xf])).expect("sll");
    assert_eq!(set(&mut f, OxmField::Ipv6NdTll([1; 6])), Err(NotApplicable));
    assert_csums(&f);
    let k = crate::extract(&f, 1);
    assert_eq!(k.nd_target(), u128::from(t));
    assert_eq!(k.arp_sha(), 0x0a0b_0c0d_0e0f);
    set(&mut f, OxmField::Icmpv6Code(3)).expect("code");
    assert_csums(&f);
    assert_eq!(crate::extract(&f, 1).tp_dst(), 3);
}

#[test]
fn arp_fields() {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&SRC);
    a.extend_from_slice(&[10, 0, 0, 1]);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&[10, 0, 0, 2]);
    let mut f = eth(0x0806, &a);
    set(&mut f, OxmField::ArpOp(2)).expect("op");
    set(&mut f, OxmField::ArpSpa(v4a([1, 1, 1, 1]))).expect("spa");
    set(&mut f, OxmField::ArpTpa(v4a([2, 2, 2, 2]))).expect("tpa");
    set(&mut f, OxmField::ArpSha(Masked::exact([3; 6]))).expect("sha");
    set(&mut f, OxmField::ArpTha(Masked::exact([4; 6]))).expect("tha");
    let k = crate::extract(&f, 1);
    assert_eq!(k.arp_op(), 2);
    assert_eq!((k.nw_src(), k.nw_dst()), (0x0101_0101, 0x0202_0202));
    assert_eq!(
        (k.arp_sha(), k.arp_tha()),
        (0x0303_0303_0303, 0x0404_0404_0404)
    );
    assert_eq!(
        set(&mut f, OxmField::Ipv4Src(v4a([1; 4]))),
        Err(NotApplicable)
    );
    f.truncate(30);
    assert_eq!(set(&mut f, OxmField::ArpOp(1)), Err(Truncated));
}

#[test]
fn vlan_push_pop_and_fields() {
    let orig = v4_frame(6, tcp());
    let mut f = orig.clone();
    assert_eq!(apply(&mut f, &DpAction::PopVlan, false), Err(NotApplicable));
    apply(&mut f, &DpAction::PushVlan(0x8100), false).expect("push");
    assert_eq!(f.len(), orig.len() + 4);
    assert_eq!(&f[12..18], &[0x81, 0, 0, 0, 0x08, 0]);
    set(&mut f, OxmField::VlanVid(Masked::exact(0x1000 | 42))).expect("vid");
    set(&mut f, OxmField::VlanPcp(5)).expect("pcp");
    let k = crate::extract(&f, 1);
    assert_eq!((k.vlan_vid(), k.vlan_pcp()), (0x1000 | 42, 5));
    // IP fields are still found under the tag.
    set(&mut f, OxmField::Ipv4Dst(v4a([1, 2, 3, 4]))).expect("dst");
    assert_csums(&f);
    // A second push copies the outer TCI.
    apply(&mut f, &DpAction::PushVlan(0x88a8), false).expect("push 2");
    assert_eq!(&f[12..20], &[0x88, 0xa8, 0xa0, 42, 0x81, 0, 0xa0, 42]);
    apply(&mut f, &DpAction::PopVlan, false).expect("pop");
    apply(&mut f, &DpAction::PopVlan, false).expect("pop");
    let mut want = orig.clone();
    set(&mut want, OxmField::Ipv4Dst(v4a([1, 2, 3, 4]))).expect("dst");
    assert_eq!(f, want);
    // No tag: VLAN fields do not apply.
    assert_eq!(set(&mut f, OxmField::VlanPcp(1)), Err(NotApplicable));
    assert_eq!(
        apply(&mut vec![0; 10], &DpAction::PushVlan(0x8100), false),
        Err(Truncated)
    );
}

#[test]
fn mpls_push_pop_ttl_and_fields() {
    let orig = v4_frame(17, udp());
    let mut f = orig.clone();
    apply(&mut f, &DpAction::PushMpls(0x8847), false).expect("push");
    assert_eq!(f.len(), orig.len() + 4);
    let k = crate::extract(&f, 1);
    assert_eq!(k.eth_type(), 0x8847);
    // Label 0, BOS, TTL copied from IP (64).
    assert_eq!(k.mpls_lse(), 0x100 | 64);
    set(&mut f, OxmField::MplsLabel(0xabcde)).expect("label");
    set(&mut f, OxmField::MplsTc(5)).expect("tc");
    let k = crate::extract(&f, 1);
    assert_eq!(
        (k.mpls_label(), k.mpls_tc(), k.mpls_bos(), k.mpls_ttl()),
        (0xabcde, 5, 1, 64)
    );
    apply(&mut f, &DpAction::SetMplsTtl(2), false).expect("ttl");
    apply(&mut f, &DpAction::DecMplsTtl, false).expect("dec");
    assert_eq!(
        apply(&mut f, &DpAction::DecMplsTtl, false),
        Err(ModifyError::TtlExpired)
    );
    // Copy TTL in: the IPv4 TTL becomes 1, header checksum fixed.
    apply(&mut f, &DpAction::CopyTtlIn, false).expect("in");
    assert_eq!(f[18 + 8], 1);
    assert!(rvs_wire::checksum::verify(&f[18..38]));
    apply(&mut f, &DpAction::SetMplsTtl(30), false).expect("ttl");
    apply(&mut f, &DpAction::CopyTtlOut, false).expect("out");
    assert_eq!(f[17], 1);
    // A second entry: copies the top one, BOS cleared; TTL copies between entries.
    apply(&mut f, &DpAction::PushMpls(0x8847), false).expect("push 2");
    assert_eq!(&f[14..18], &[0xab, 0xcd, 0xea, 1]);
    set(&mut f, OxmField::MplsBos(0)).expect("bos");
    apply(&mut f, &DpAction::SetMplsTtl(77), false).expect("ttl");
    apply(&mut f, &DpAction::CopyTtlIn, false).expect("in");
    assert_eq!(f[21], 77);
    apply(&mut f, &DpAction::PopMpls(0x8847), false).expect("pop");
    apply(&mut f, &DpAction::PopMpls(0x0800), false).expect("pop");
    assert_eq!(f.len(), orig.len());
    let k = crate::extract(&f, 1);
    assert_eq!(k.eth_type(), 0x0800);
    assert_eq!(k.ip_ttl(), 1);
    assert_csums(&f);
    // Pop on a non-MPLS frame.
    assert_eq!(
        apply(&mut f, &DpAction::PopMpls(0x0800), false),
        Err(NotApplicable)
    );
    assert_eq!(
        apply(&mut f, &DpAction::CopyTtlOut, false),
        Err(NotApplicable)
    );
}

#[test]
fn ttl_expiry_leaves_the_frame() {
    let mut f = eth(0x0800, &ipv4(6, 0, 1, &tcp()));
    let before = f.clone();
    assert_eq!(
        apply(&mut f, &DpAction::DecNwTtl, false),
        Err(ModifyError::TtlExpired)
    );
    assert_eq!(f, before);
    let mut a = eth(0x0806, &[0; 28]);
    assert_eq!(
        apply(&mut a, &DpAction::DecNwTtl, false),
        Err(NotApplicable)
    );
}

#[test]
fn non_header_actions() {
    let mut f = v4_frame(6, tcp());
    for a in [
        DpAction::Output(1),
        DpAction::Flood,
        DpAction::Group(1),
        DpAction::Meter(1),
        DpAction::SetQueue(1),
    ] {
        assert_eq!(apply(&mut f, &a, false), Err(NotApplicable));
    }
    assert_eq!(
        set(&mut f, OxmField::TunnelId(Masked::exact(5))),
        Err(ModifyError::NotAHeaderField)
    );
    assert_eq!(
        set(&mut f, OxmField::Metadata(Masked::exact(5))),
        Err(ModifyError::NotAHeaderField)
    );
}

#[test]
fn partial_checksum_holds_the_pseudo_header_sum() {
    for v6 in [false, true] {
        let mut f = if v6 {
            v6_frame(6, tcp())
        } else {
            v4_frame(6, tcp())
        };
        let set_partial = |f: &mut Vec<u8>| {
            let (p, l4, _) = pseudo(f).expect("ip");
            f[l4 + 16..l4 + 18].copy_from_slice(&p.fold().to_be_bytes());
            l4
        };
        let l4 = set_partial(&mut f);
        let dst = if v6 {
            OxmField::Ipv6Dst(Masked::exact(Ipv6Addr::new(1, 2, 3, 4, 5, 6, 7, 8)))
        } else {
            OxmField::Ipv4Dst(v4a([100, 64, 3, 7]))
        };
        apply(&mut f, &DpAction::SetField(dst), true).expect("dst");
        let before_port = f.clone();
        apply(&mut f, &DpAction::SetField(OxmField::TcpDst(443)), true).expect("port");
        // The port is in the L4 bytes the device sums: the field does not change.
        assert_eq!(f[l4 + 16..l4 + 18], before_port[l4 + 16..l4 + 18]);
        let mut expect = f.clone();
        set_partial(&mut expect);
        assert_eq!(f, expect, "v6 {v6}");
        if !v6 {
            assert!(rvs_wire::checksum::verify(&f[14..34]));
        }
    }
}

#[test]
fn sctp_ports_recompute_crc32c() {
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    let mut s = vec![0u8; 12];
    s[0..2].copy_from_slice(&7u16.to_be_bytes());
    s[2..4].copy_from_slice(&9u16.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let mut f = eth(0x0800, &ipv4(132, 0, 64, &s));
    set(&mut f, OxmField::SctpDst(2905)).expect("dst");
    let l4 = 34;
    let stored = u32::from_le_bytes([f[l4 + 8], f[l4 + 9], f[l4 + 10], f[l4 + 11]]);
    let mut z = f[l4..].to_vec();
    z[8..12].fill(0);
    assert_eq!(stored, crc32c(&z));
    assert_eq!(crate::extract(&f, 1).tp_dst(), 2905);
}

#[test]
fn dscp_remark_raises_af_drop_precedence() {
    // AF11 -> AF12 -> AF13 (capped), with checksums.
    let mut f = eth(0x0800, &ipv4(6, 10 << 2 | 1, 64, &tcp()));
    fill_l4(&mut f);
    assert!(dscp_remark(&mut f, 1));
    assert_eq!(f[15], 12 << 2 | 1, "ECN kept");
    assert_csums(&f);
    assert!(dscp_remark(&mut f, 2));
    assert_eq!(f[15] >> 2, 14);
    assert!(!dscp_remark(&mut f, 1), "AF13 is the top");
    // EF and best effort are not AF: unchanged.
    for dscp in [46u8, 0, 48] {
        let mut g = eth(0x0800, &ipv4(6, dscp << 2, 64, &tcp()));
        assert!(!dscp_remark(&mut g, 1));
    }
    // IPv6 AF31 -> AF33.
    let mut g = v6_frame(17, udp());
    set(&mut g, OxmField::IpDscp(26)).expect("af31");
    assert!(dscp_remark(&mut g, 2));
    assert_eq!(crate::extract(&g, 1).ip_dscp(), 30);
    // Not IP.
    assert!(!dscp_remark(&mut eth(0x0806, &[0; 28]), 1));
    assert!(!dscp_remark(&mut [0u8; 5], 1));
}

fn arb_field() -> impl Strategy<Value = OxmField> {
    use OxmField as O;
    prop_oneof![
        any::<[u8; 6]>().prop_map(|m| O::EthDst(Masked::exact(m))),
        any::<u16>().prop_map(O::EthType),
        any::<u16>().prop_map(|v| O::VlanVid(Masked::exact(v & 0x1fff))),
        (0u8..8).prop_map(O::VlanPcp),
        (0u8..64).prop_map(O::IpDscp),
        (0u8..4).prop_map(O::IpEcn),
        any::<u8>().prop_map(O::IpProto),
        any::<[u8; 4]>().prop_map(|a| O::Ipv4Src(v4a(a))),
        any::<[u8; 4]>().prop_map(|a| O::Ipv4Dst(v4a(a))),
        any::<u16>().prop_map(O::TcpSrc),
        any::<u16>().prop_map(O::TcpDst),
        any::<u16>().prop_map(O::UdpSrc),
        any::<u16>().prop_map(O::UdpDst),
        any::<u16>().prop_map(O::SctpDst),
        any::<u8>().prop_map(O::Icmpv4Type),
        any::<u8>().prop_map(O::Icmpv6Code),
        any::<u16>().prop_map(O::ArpOp),
        any::<[u8; 16]>().prop_map(|a| O::Ipv6Src(Masked::exact(Ipv6Addr::from(a)))),
        any::<u32>().prop_map(|v| O::Ipv6Flabel(Masked::exact(v & 0xfffff))),
        any::<[u8; 16]>().prop_map(|a| O::Ipv6NdTarget(Ipv6Addr::from(a))),
        any::<[u8; 6]>().prop_map(O::Ipv6NdTll),
        (0u32..1 << 20).prop_map(O::MplsLabel),
        (0u8..8).prop_map(O::MplsTc),
        (0u8..2).prop_map(O::MplsBos),
    ]
}

pub(crate) fn arb_action() -> impl Strategy<Value = DpAction> {
    prop_oneof![
        4 => arb_field().prop_map(DpAction::SetField),
        1 => prop_oneof![Just(0x8100u16), Just(0x88a8)].prop_map(DpAction::PushVlan),
        1 => Just(DpAction::PopVlan),
        1 => prop_oneof![Just(0x8847u16), Just(0x8848)].prop_map(DpAction::PushMpls),
        1 => any::<u16>().prop_map(DpAction::PopMpls),
        1 => any::<u8>().prop_map(DpAction::SetMplsTtl),
        1 => Just(DpAction::DecMplsTtl),
        1 => any::<u8>().prop_map(DpAction::SetNwTtl),
        1 => Just(DpAction::DecNwTtl),
        1 => Just(DpAction::CopyTtlOut),
        1 => Just(DpAction::CopyTtlIn),
        1 => Just(DpAction::Output(1)),
    ]
}

/// Frames that are mostly well-formed headers, cut or corrupted anywhere.
fn arb_frame() -> impl Strategy<Value = Vec<u8>> {
    let good = prop_oneof![
        Just(v4_frame(6, tcp())),
        Just(v4_frame(17, udp())),
        Just(v6_frame(6, tcp())),
        Just(v6_frame(58, vec![135; 40])),
        Just(eth(0x8847, &[0, 0, 1, 64, 0x45, 0, 0, 20])),
        Just(eth(0x0806, &[0; 28])),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        (good, any::<usize>(), any::<(usize, u8)>()).prop_map(|(mut f, cut, (at, b))| {
            if !f.is_empty() {
                let i = at % f.len();
                f[i] ^= b;
            }
            let keep = cut % (f.len() + 1);
            f.truncate(keep.max(f.len() * 3 / 4).min(f.len()));
            f
        }),
    ]
}

proptest! {
    #[test]
    fn never_panics_and_errors_leave_the_frame(
        frame in arb_frame(),
        acts in prop::collection::vec(arb_action(), 1..8),
        partial in any::<bool>(),
    ) {
        let mut f = frame;
        for a in &acts {
            let before = f.clone();
            if apply(&mut f, a, partial).is_err() {
                prop_assert_eq!(&f, &before);
            }
            let _ = dscp_remark(&mut f, 1);
        }
    }

    #[test]
    fn checksums_stay_valid(
        v6 in any::<bool>(),
        udp_l4 in any::<bool>(),
        tagged in any::<bool>(),
        acts in prop::collection::vec(arb_field(), 1..10),
    ) {
        let (proto, l4) = if udp_l4 { (17, udp()) } else { (6, tcp()) };
        let mut f = if v6 { v6_frame(proto, l4) } else { v4_frame(proto, l4) };
        if tagged {
            apply(&mut f, &DpAction::PushVlan(0x8100), false).expect("push");
        }
        for a in acts {
            // Keep the frame's structure: no ethertype, protocol or VLAN-present change.
            if matches!(a, OxmField::EthType(_) | OxmField::IpProto(_)) {
                continue;
            }
            let _ = apply(&mut f, &DpAction::SetField(a), false);
            assert_csums(&f);
        }
    }
}
