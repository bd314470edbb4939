//! Extraction over hand-built frames of each protocol, and OXM translation.

use super::*;
use rvs_openflow::oxm::OFPVID_PRESENT;
use rvs_openflow::PortNo;
use std::net::{Ipv4Addr, Ipv6Addr};

const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = DST.to_vec();
    f.extend_from_slice(&SRC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn vlan(tci: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut inner = tci.to_be_bytes().to_vec();
    inner.extend_from_slice(&ethertype.to_be_bytes());
    inner.extend_from_slice(payload);
    eth(0x8100, &inner)
}

fn ipv4(proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0xb9, 0, 0, 0, 0];
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[63, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    h.extend_from_slice(l4);
    h
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x6b, 0x81, 0x23, 0x45, 0, 0, next, 255];
    h.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets());
    h.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets());
    h.extend_from_slice(payload);
    h
}

fn tcp(src: u16, dst: u16, flags: u8) -> Vec<u8> {
    let mut t = src.to_be_bytes().to_vec();
    t.extend_from_slice(&dst.to_be_bytes());
    t.extend_from_slice(&[0; 8]);
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

fn udp(src: u16, dst: u16) -> Vec<u8> {
    let mut u = src.to_be_bytes().to_vec();
    u.extend_from_slice(&dst.to_be_bytes());
    u.extend_from_slice(&[0, 8, 0, 0]);
    u
}

fn mac(a: [u8; 6]) -> u64 {
    super::mac(a)
}

/// Every prefix of every frame extracts without panicking, and the whole frame's key
/// is returned for the full length.
fn all_prefixes(f: &[u8]) -> FlowKey {
    for n in 0..f.len() {
        let _ = extract(&f[..n], 1);
    }
    extract(f, 7)
}

#[test]
fn ethernet_only_and_runts() {
    let k = all_prefixes(&eth(0x88b5, &[1, 2, 3]));
    assert_eq!(k.in_port(), 7);
    assert_eq!((k.eth_dst(), k.eth_src()), (mac(DST), mac(SRC)));
    assert_eq!(k.eth_type(), 0x88b5);
    assert_eq!(k.vlan_tci(), 0);
    let runt = extract(&[1, 2, 3], 9);
    assert_eq!(runt, {
        let mut k = FlowKey::default();
        k.set_in_port(9);
        k
    });
    // 802.3 length field.
    assert_eq!(
        extract(&eth(0x0040, &[0xaa; 64]), 1).eth_type(),
        ETH_TYPE_NONE
    );
}

#[test]
fn vlan_ipv4_tcp() {
    let f = vlan(0xb00a, 0x0800, &ipv4(6, 0x4000, &tcp(40000, 80, 0x12)));
    let k = all_prefixes(&f);
    // PCP 5, DEI set on the wire (replaced by the present bit), VID 10.
    assert_eq!(k.vlan_vid(), OFPVID_PRESENT | 10);
    assert_eq!(k.vlan_pcp(), 5);
    assert_eq!(k.eth_type(), 0x0800);
    assert_eq!(k.nw_src(), u32::from(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(k.nw_dst(), u32::from(Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!(
        (k.ip_proto(), k.ip_dscp(), k.ip_ecn(), k.ip_ttl()),
        (6, 46, 1, 63)
    );
    assert_eq!((k.tp_src(), k.tp_dst(), k.tcp_flags()), (40000, 80, 0x12));
    assert_eq!(k.ip_frag(), 0);
    // The same frame without the tag has vlan_vid OFPVID_NONE.
    let u = extract(&eth(0x0800, &ipv4(6, 0, &tcp(40000, 80, 0x12))), 7);
    assert_eq!(u.vlan_tci(), 0);
    assert_eq!(u.tp_dst(), 80);
    // A tag announced but cut.
    let cut = extract(&eth(0x8100, &[0x00]), 7);
    assert_eq!((cut.eth_type(), cut.vlan_tci()), (0x8100, 0));
}

#[test]
fn ipv4_udp_sctp_icmp_and_fragments() {
    let k = all_prefixes(&eth(0x0800, &ipv4(17, 0, &udp(68, 67))));
    assert_eq!((k.ip_proto(), k.tp_src(), k.tp_dst()), (17, 68, 67));
    let mut sctp = udp(2905, 2906);
    sctp.extend_from_slice(&[0, 0, 0, 0]);
    let k = all_prefixes(&eth(0x0800, &ipv4(132, 0, &sctp)));
    assert_eq!((k.ip_proto(), k.tp_src(), k.tp_dst()), (132, 2905, 2906));
    let k = all_prefixes(&eth(0x0800, &ipv4(1, 0, &[3, 4, 0, 0, 0, 0, 0, 0])));
    assert_eq!((k.ip_proto(), k.tp_src(), k.tp_dst()), (1, 3, 4));
    // First fragment: L4 read; later fragment: not.
    let first = extract(&eth(0x0800, &ipv4(17, 0x2000, &udp(1, 2))), 1);
    assert_eq!((first.ip_frag(), first.tp_dst()), (frag::ANY, 2));
    let later = extract(&eth(0x0800, &ipv4(17, 0x0010, &udp(1, 2))), 1);
    assert_eq!(later.ip_frag(), frag::ANY | frag::LATER);
    assert_eq!(
        (later.tp_src(), later.tp_dst(), later.ip_proto()),
        (0, 0, 17)
    );
    // A bad version leaves L3 empty.
    let mut bad = ipv4(17, 0, &udp(1, 2));
    bad[0] = 0x55;
    let k = extract(&eth(0x0800, &bad), 1);
    assert_eq!((k.eth_type(), k.nw_src(), k.ip_proto()), (0x0800, 0, 0));
}

#[test]
fn ipv6_tcp_through_extension_headers() {
    // Hop-by-hop (8 bytes), then a first fragment, then TCP.
    let mut p = vec![44, 0, 1, 4, 0, 0, 0, 0];
    p.extend_from_slice(&[6, 0, 0, 1, 0, 0, 0, 9]);
    p.extend_from_slice(&tcp(1234, 443, 0x02));
    let k = all_prefixes(&eth(0x86dd, &ipv6(0, &p)));
    assert_eq!(k.eth_type(), 0x86dd);
    assert_eq!(
        k.ipv6_src(),
        u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
    );
    assert_eq!(
        k.ipv6_dst(),
        u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2))
    );
    assert_eq!(
        (k.ip_dscp(), k.ip_ecn(), k.ipv6_label()),
        (0xb8 >> 2, 0, 0x12345)
    );
    assert_eq!((k.ip_proto(), k.ip_ttl(), k.ip_frag()), (6, 255, frag::ANY));
    assert_eq!((k.tp_src(), k.tp_dst()), (1234, 443));
    // A later fragment.
    let later = extract(&eth(0x86dd, &ipv6(44, &[17, 0, 0, 8, 0, 0, 0, 1])), 1);
    assert_eq!(later.ip_frag(), frag::ANY | frag::LATER);
    assert_eq!(later.ip_proto(), 17);
    // A chain cut inside an extension header.
    let cut = extract(&eth(0x86dd, &ipv6(60, &[6])), 1);
    assert_eq!((cut.ip_proto(), cut.tp_dst()), (60, 0));
}

#[test]
fn icmpv6_neighbor_discovery() {
    let target = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let ll = [0x52, 0x54, 0, 0xaa, 0xbb, 0xcc];
    let nd = |ty: u8, opt: u8| {
        let mut v = vec![ty, 0, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&target.octets());
        v.extend_from_slice(&[opt, 1]);
        v.extend_from_slice(&ll);
        v
    };
    let ns = all_prefixes(&eth(0x86dd, &ipv6(58, &nd(135, 1))));
    assert_eq!((ns.ip_proto(), ns.tp_src(), ns.tp_dst()), (58, 135, 0));
    assert_eq!(ns.nd_target(), u128::from(target));
    assert_eq!(ns.arp_sha(), mac(ll));
    let na = extract(&eth(0x86dd, &ipv6(58, &nd(136, 2))), 1);
    assert_eq!((na.tp_src(), na.arp_sha()), (136, mac(ll)));
    // An NA carrying a *source* option has no TLL.
    let odd = extract(&eth(0x86dd, &ipv6(58, &nd(136, 1))), 1);
    assert_eq!((odd.nd_target(), odd.arp_sha()), (u128::from(target), 0));
    // A zero-length option makes the link-layer address untrusted.
    let mut bad = nd(135, 1);
    bad[25] = 0;
    let b = extract(&eth(0x86dd, &ipv6(58, &bad)), 1);
    assert_eq!((b.nd_target(), b.arp_sha()), (u128::from(target), 0));
    // Echo: type and code only.
    let echo = extract(&eth(0x86dd, &ipv6(58, &[128, 0, 0, 0, 0, 1, 0, 1])), 1);
    assert_eq!((echo.tp_src(), echo.nd_target()), (128, 0));
}

#[test]
fn arp_and_mpls() {
    let arp = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 192,
        168, 1, 100, 0x02, 0, 0, 0, 0, 0x09, 192, 168, 1, 1,
    ];
    let k = all_prefixes(&eth(0x0806, &arp));
    assert_eq!(k.arp_op(), 2);
    assert_eq!(k.nw_src(), u32::from(Ipv4Addr::new(192, 168, 1, 100)));
    assert_eq!(k.nw_dst(), u32::from(Ipv4Addr::new(192, 168, 1, 1)));
    assert_eq!(k.arp_sha(), mac([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
    assert_eq!(k.arp_tha(), mac([0x02, 0, 0, 0, 0, 0x09]));
    let k = all_prefixes(&eth(0x8847, &[0x00, 0x01, 0x0b, 0x40, 0x45]));
    assert_eq!(
        (k.mpls_label(), k.mpls_tc(), k.mpls_bos(), k.mpls_ttl()),
        (16, 5, 1, 64)
    );
    assert_eq!(k.ip_proto(), 0);
}

#[test]
fn random_bytes_never_panic() {
    // A cheap deterministic generator; the fuzz target explores further.
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut buf = [0u8; 160];
    for i in 0..20_000 {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        // Steer some frames into the interesting EtherTypes.
        let et: [u16; 6] = [0x0800, 0x86dd, 0x0806, 0x8847, 0x8100, 0x88a8];
        buf[12..14].copy_from_slice(&et[i % 6].to_be_bytes());
        if i % 12 < 2 {
            buf[14] = 0x45;
        }
        let _ = extract(&buf[..(x as usize % buf.len())], 1);
    }
}

#[test]
fn match_translation() {
    let m = Match::new()
        .with(OxmField::InPort(PortNo(3)))
        .with(OxmField::EthType(0x0800))
        .with(OxmField::IpProto(6))
        .with(OxmField::Ipv4Src(Masked::new(
            Ipv4Addr::new(10, 0, 0, 0),
            Ipv4Addr::new(255, 0, 0, 0),
        )))
        .with(OxmField::TcpDst(80))
        .with(OxmField::VlanVid(Masked::new(
            OFPVID_PRESENT,
            OFPVID_PRESENT,
        )));
    let (k, mask) = match_to_key(&m).expect("supported");
    let pkt = extract(&vlan(0x0005, 0x0800, &ipv4(6, 0, &tcp(9, 80, 0))), 3);
    // 10.0.0.1 is in 10/8, the frame is tagged, TCP to port 80 on port 3.
    assert!(pkt.eq_masked(&k, &mask));
    let other = extract(&eth(0x0800, &ipv4(6, 0, &tcp(9, 80, 0))), 3);
    assert!(!other.eq_masked(&k, &mask), "untagged must not match");
    assert_eq!(mask.get(loc::NW_SRC), 0xff00_0000);
    assert_eq!(mask.get(loc::VLAN_TCI), u64::from(OFPVID_PRESENT));
    // Exact and all-ones-masked forms translate alike.
    let a = Match::new().with(OxmField::Metadata(Masked::exact(5)));
    let b = Match::new().with(OxmField::Metadata(Masked::new(5, u64::MAX)));
    assert_eq!(match_to_key(&a).ok(), match_to_key(&b).ok());
    // Unsupported fields.
    let pbb = Match::new()
        .with(OxmField::EthType(0x88e7))
        .with(OxmField::PbbIsid(Masked::exact(1)));
    assert_eq!(
        match_to_key(&pbb).err().map(|e| e.code),
        Some(BadMatchCode::BadField.into())
    );
}

#[test]
fn set_fields() {
    let mut k = extract(&vlan(0x2005, 0x0800, &ipv4(6, 0, &tcp(9, 80, 0))), 3);
    set_field(
        &mut k,
        &OxmField::VlanVid(Masked::exact(OFPVID_PRESENT | 77)),
    )
    .expect("ok");
    assert_eq!((k.vlan_vid(), k.vlan_pcp()), (OFPVID_PRESENT | 77, 1));
    set_field(
        &mut k,
        &OxmField::Ipv4Dst(Masked::exact(Ipv4Addr::new(1, 2, 3, 4))),
    )
    .expect("ok");
    assert_eq!(k.nw_dst(), 0x0102_0304);
    set_field(&mut k, &OxmField::TcpSrc(22)).expect("ok");
    assert_eq!(k.tp_src(), 22);
    set_field(&mut k, &OxmField::EthDst(Masked::exact([1, 2, 3, 4, 5, 6]))).expect("ok");
    assert_eq!(k.eth_dst(), 0x0102_0304_0506);
    set_field(
        &mut k,
        &OxmField::Ipv6Src(Masked::exact(Ipv6Addr::LOCALHOST)),
    )
    .expect("ok");
    assert_eq!(k.ipv6_src(), 1);
    assert!(set_field(&mut k, &OxmField::InPort(PortNo(1))).is_err());
    assert!(!settable(&OxmField::Ipv6Exthdr(Masked::exact(1))));
}

#[test]
fn mask_operations() {
    let mut m = FlowMask::default();
    assert!(m.is_catchall());
    m.add_field(loc::IN_PORT);
    m.add(loc::NW_SRC, 0xffff_0000);
    assert_eq!(m.nonzero_words().as_slice(), &[0, 5]);
    let mut n = FlowMask::default();
    n.add_field(loc::IN_PORT);
    assert!(n.is_subset_of(&m) && !m.is_subset_of(&n));
    n.union_with(&m);
    assert_eq!(n, m);
    assert_eq!(m.intersect(&FlowMask::CATCHALL), FlowMask::CATCHALL);
    assert!(FlowMask::EXACT.nonzero_words().len() == KEY_WORDS);
}

#[test]
fn key_from_match_fills_prerequisites() {
    use rvs_openflow::oxm::Masked;
    let k = key_from_match(&Match::new().with(OxmField::TcpDst(80))).expect("tcp");
    assert_eq!((k.eth_type(), k.ip_proto(), k.tp_dst()), (0x0800, 6, 80));
    let k = key_from_match(
        &Match::new()
            .with(OxmField::EthType(0x86dd))
            .with(OxmField::UdpSrc(53)),
    )
    .expect("udp6");
    assert_eq!((k.eth_type(), k.ip_proto(), k.tp_src()), (0x86dd, 17, 53));
    let t = std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let k = key_from_match(&Match::new().with(OxmField::Ipv6NdTarget(t))).expect("nd");
    assert_eq!((k.eth_type(), k.ip_proto()), (0x86dd, 58));
    assert_eq!(k.get(loc::ICMP_TYPE), 135);
    assert_eq!(k.nd_target(), u128::from(t));
    let k = key_from_match(&Match::new().with(OxmField::ArpOp(2))).expect("arp");
    assert_eq!((k.eth_type(), k.arp_op()), (0x0806, 2));
    let k = key_from_match(&Match::new().with(OxmField::VlanPcp(3))).expect("pcp");
    assert_eq!(
        (k.vlan_pcp(), k.vlan_tci() & VLAN_PRESENT),
        (3, VLAN_PRESENT)
    );
    let k = key_from_match(&Match::new().with(OxmField::Ipv4Dst(Masked::new(
        std::net::Ipv4Addr::new(10, 1, 2, 3),
        std::net::Ipv4Addr::new(255, 255, 0, 0),
    ))))
    .expect("masked");
    assert_eq!((k.eth_type(), k.nw_dst()), (0x0800, 0x0a01_0000));
    let k = key_from_match(&Match::new().with(OxmField::InPort(PortNo(4)))).expect("port");
    let mut want = FlowKey::default();
    want.set_in_port(4);
    assert_eq!(k, want, "exactly the fields given");
}

#[test]
fn flow_hash_covers_the_five_tuple_only() {
    let mut a = FlowKey::default();
    a.set_eth_type(0x0800);
    a.set_ip_proto(6);
    a.set_nw_src(1);
    a.set_nw_dst(2);
    a.set_tp_src(1000);
    a.set_tp_dst(80);
    let mut b = a;
    b.set_in_port(9);
    b.set_ip_ttl(3);
    b.set_tcp_flags(2);
    b.set_eth_src(5);
    assert_eq!(a.flow_hash(), b.flow_hash());
    for change in [
        |k: &mut FlowKey| k.set_tp_src(1001),
        |k: &mut FlowKey| k.set_tp_dst(81),
        |k: &mut FlowKey| k.set_nw_src(3),
        |k: &mut FlowKey| k.set_ip_proto(17),
    ] {
        let mut c = a;
        change(&mut c);
        assert_ne!(a.flow_hash(), c.flow_hash());
    }
    let mut l2 = FlowKey::default();
    l2.set_eth_type(0x88b5);
    l2.set_eth_src(1);
    let mut l2b = l2;
    l2b.set_eth_src(2);
    assert_ne!(l2.flow_hash(), l2b.flow_hash());
}
