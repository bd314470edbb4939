//! Offloads: software segmentation and checksums (checked against an independent, naive
//! checksum implementation), and the datapath deciding per egress port between handing a
//! frame over as it is and doing the work in software.

use rvs_api::{VlanMode, VlanSpec};
use rvs_datapath::offload::{check_rx, complete_checksum, OffloadError, Segmenter};
use rvs_datapath::packet::TxFrame;
use rvs_datapath::ports::memory::{MemoryPort, MemoryPortHandle};
use rvs_datapath::{Datapath, DropReason, OffloadCaps, PortId};
use rvs_wire::virtio_net::{
    VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN,
    VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP,
    VIRTIO_NET_HDR_GSO_UDP_L4,
};
use rvs_wire::VirtioNetHdr;

const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

const SRC4: [u8; 4] = [10, 1, 0, 1];
const DST4: [u8; 4] = [10, 1, 0, 2];
const SRC6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// Sequence number of the first byte: the stream wraps around 2^32 inside the frame.
const SEQ: u32 = 0xffff_8000;
const IP_ID: u16 = 0xfffe;

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

// ---- an independent checksum: RFC 1071 one 16-bit word at a time ------------------------

fn naive_sum(data: &[u8]) -> u32 {
    let mut s: u32 = 0;
    for pair in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// Folded ones'-complement sum of the L4 segment plus its pseudo-header (0xffff: correct).
fn l4_sum(src: &[u8], dst: &[u8], protocol: u8, l4: &[u8]) -> u32 {
    let mut p = Vec::new();
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    if src.len() == 16 {
        p.extend_from_slice(&(l4.len() as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, protocol]);
    } else {
        p.extend_from_slice(&[0, protocol]);
        p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    }
    p.extend_from_slice(l4);
    naive_sum(&p)
}

/// The pseudo-header sum Linux leaves in the checksum field of a NEEDS_CSUM frame.
fn partial_field(src: &[u8], dst: &[u8], protocol: u8, l4_len: usize) -> u16 {
    let mut p = Vec::new();
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    if src.len() == 16 {
        p.extend_from_slice(&(l4_len as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, protocol]);
    } else {
        p.extend_from_slice(&[0, protocol]);
        p.extend_from_slice(&(l4_len as u16).to_be_bytes());
    }
    naive_sum(&p) as u16
}

// ---- frame builders -----------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ip {
    V4,
    V6,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proto {
    Tcp,
    Udp,
}

struct Built {
    frame: Vec<u8>,
    vnet: VirtioNetHdr,
    l3: usize,
    l4: usize,
    header_len: usize,
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A frame as Linux hands it over with a virtio-net header: L4 checksum field holding the
/// pseudo-header sum, NEEDS_CSUM, and GSO when `mss` is set.
fn build(
    ip: Ip,
    proto: Proto,
    tag: Option<u16>,
    data_len: usize,
    mss: Option<u16>,
    tcp_flags: u8,
) -> Built {
    let mut f = Vec::new();
    f.extend_from_slice(&mac(2));
    f.extend_from_slice(&mac(1));
    if let Some(vid) = tag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(match ip {
        Ip::V4 => &[0x08, 0x00],
        Ip::V6 => &[0x86, 0xdd],
    });
    let l3 = f.len();
    let (l4_hdr_len, protocol) = match proto {
        Proto::Tcp => (32, 6u8),
        Proto::Udp => (8, 17u8),
    };
    let l4_len = l4_hdr_len + data_len;
    let (src, dst): (&[u8], &[u8]) = match ip {
        Ip::V4 => (&SRC4, &DST4),
        Ip::V6 => (&SRC6, &DST6),
    };
    match ip {
        Ip::V4 => {
            let total = (20 + l4_len).min(0xffff) as u16;
            f.extend_from_slice(&[0x45, 0x00]);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&IP_ID.to_be_bytes());
            f.extend_from_slice(&[0x40, 0x00, 64, protocol, 0, 0]);
            f.extend_from_slice(&SRC4);
            f.extend_from_slice(&DST4);
            let c = !(naive_sum(&f[l3..l3 + 20]) as u16);
            f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        Ip::V6 => {
            f.extend_from_slice(&[0x60, 0x00, 0x00, 0x00]);
            f.extend_from_slice(&(l4_len.min(0xffff) as u16).to_be_bytes());
            f.extend_from_slice(&[protocol, 64]);
            f.extend_from_slice(&SRC6);
            f.extend_from_slice(&DST6);
        }
    }
    let l4 = f.len();
    let field = partial_field(src, dst, protocol, l4_len);
    match proto {
        Proto::Tcp => {
            f.extend_from_slice(&40000u16.to_be_bytes());
            f.extend_from_slice(&5001u16.to_be_bytes());
            f.extend_from_slice(&SEQ.to_be_bytes());
            f.extend_from_slice(&0x0102_0304u32.to_be_bytes());
            f.extend_from_slice(&[0x80, tcp_flags, 0x01, 0xf6]);
            f.extend_from_slice(&field.to_be_bytes());
            f.extend_from_slice(&[0, 0]);
            // NOP NOP timestamps.
            f.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        }
        Proto::Udp => {
            f.extend_from_slice(&40001u16.to_be_bytes());
            f.extend_from_slice(&5002u16.to_be_bytes());
            f.extend_from_slice(&(l4_len.min(0xffff) as u16).to_be_bytes());
            f.extend_from_slice(&field.to_be_bytes());
        }
    }
    let header_len = f.len();
    f.extend_from_slice(&payload(data_len));
    let gso_type = match (mss, ip, proto) {
        (None, _, _) => 0,
        (Some(_), Ip::V4, Proto::Tcp) => VIRTIO_NET_HDR_GSO_TCPV4,
        (Some(_), Ip::V6, Proto::Tcp) => VIRTIO_NET_HDR_GSO_TCPV6,
        (Some(_), _, Proto::Udp) => VIRTIO_NET_HDR_GSO_UDP_L4,
    };
    let vnet = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type,
        hdr_len: header_len as u16,
        gso_size: mss.unwrap_or(0),
        csum_start: l4 as u16,
        csum_offset: if proto == Proto::Tcp { 16 } else { 6 },
    };
    Built {
        frame: f,
        vnet,
        l3,
        l4,
        header_len,
    }
}

/// Checks one complete segment independently of rvs: IP header and L4 checksums, lengths.
/// Returns (TCP seq, TCP flags, IPv4 ID, payload).
fn check_segment(
    seg: &[u8],
    ip: Ip,
    proto: Proto,
    l3: usize,
    l4: usize,
) -> (u32, u8, u16, Vec<u8>) {
    let (src, dst): (Vec<u8>, Vec<u8>);
    let mut ip_id = 0;
    match ip {
        Ip::V4 => {
            let h = &seg[l3..l3 + 20];
            assert_eq!(naive_sum(h), 0xffff, "IPv4 header checksum");
            assert_eq!(
                usize::from(u16::from_be_bytes([h[2], h[3]])),
                seg.len() - l3,
                "IPv4 total length"
            );
            ip_id = u16::from_be_bytes([h[4], h[5]]);
            src = h[12..16].to_vec();
            dst = h[16..20].to_vec();
        }
        Ip::V6 => {
            let h = &seg[l3..l3 + 40];
            assert_eq!(
                usize::from(u16::from_be_bytes([h[4], h[5]])),
                seg.len() - l3 - 40,
                "IPv6 payload length"
            );
            src = h[8..24].to_vec();
            dst = h[24..40].to_vec();
        }
    }
    let l4b = &seg[l4..];
    match proto {
        Proto::Tcp => {
            assert_eq!(l4_sum(&src, &dst, 6, l4b), 0xffff, "TCP checksum");
            let seq = u32::from_be_bytes([l4b[4], l4b[5], l4b[6], l4b[7]]);
            (seq, l4b[13], ip_id, l4b[32..].to_vec())
        }
        Proto::Udp => {
            assert_eq!(l4_sum(&src, &dst, 17, l4b), 0xffff, "UDP checksum");
            assert_ne!(&l4b[6..8], &[0, 0], "UDP checksum present");
            assert_eq!(usize::from(u16::from_be_bytes([l4b[4], l4b[5]])), l4b.len());
            (0, 0, ip_id, l4b[8..].to_vec())
        }
    }
}

fn segment_all(frame: &TxFrame<'_>) -> Vec<Vec<u8>> {
    let mut seg = Segmenter::new(frame).expect("segmentable");
    let mut out = Vec::new();
    let mut hdr = [0u8; 256];
    while let Some(p) = seg.next_into(&mut hdr) {
        let mut v = hdr[..seg.header_len()].to_vec();
        v.extend_from_slice(p);
        out.push(v);
    }
    assert!(seg.is_done());
    out
}

// ---- segmentation -------------------------------------------------------------------

/// A 64 KB TCP GSO frame becomes ceil(len / mss) MSS-sized segments with consecutive
/// sequence numbers (wrapping), PSH/FIN on the last only, correct lengths and checksums.
fn tso_64k(ip: Ip) {
    let data_len = 65000 - 20 * usize::from(ip == Ip::V6);
    let mss = 1448u16;
    let b = build(ip, Proto::Tcp, None, data_len, Some(mss), ACK | PSH | FIN);
    assert_eq!(b.frame.len(), b.header_len + data_len);
    let segs = segment_all(&TxFrame::with_vnet(&b.frame, b.vnet));
    let want = data_len.div_ceil(usize::from(mss));
    assert_eq!(segs.len(), want);
    let mut data = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let last = i == segs.len() - 1;
        let (seq, flags, id, p) = check_segment(s, ip, Proto::Tcp, b.l3, b.l4);
        // Apart from lengths, IPv4 ID and checksums, sequence number and flags, every
        // header byte is the original's.
        let mut varying: Vec<std::ops::Range<usize>> = vec![
            b.l4 + 4..b.l4 + 8,
            b.l4 + 13..b.l4 + 14,
            b.l4 + 16..b.l4 + 18,
        ];
        match ip {
            Ip::V4 => varying.extend([b.l3 + 2..b.l3 + 6, b.l3 + 10..b.l3 + 12]),
            Ip::V6 => varying.push(b.l3 + 4..b.l3 + 6),
        }
        let (mut got, mut orig) = (s[..b.header_len].to_vec(), b.frame[..b.header_len].to_vec());
        for r in &varying {
            got[r.clone()].fill(0);
            orig[r.clone()].fill(0);
        }
        assert_eq!(got, orig, "segment {i} headers");
        if last {
            assert_eq!(p.len(), data_len - (want - 1) * usize::from(mss));
            assert_eq!(flags, ACK | PSH | FIN, "segment {i}");
        } else {
            assert_eq!(p.len(), usize::from(mss), "segment {i}");
            assert_eq!(s.len(), b.header_len + usize::from(mss));
            assert_eq!(flags, ACK, "segment {i}: PSH and FIN only on the last");
        }
        assert_eq!(
            seq,
            SEQ.wrapping_add((i * usize::from(mss)) as u32),
            "segment {i}"
        );
        if ip == Ip::V4 {
            assert_eq!(id, IP_ID.wrapping_add(i as u16), "IPv4 ID of segment {i}");
        }
        data.extend_from_slice(&p);
    }
    assert_eq!(data, payload(data_len), "payload reassembles");
}

#[test]
fn tso_64k_ipv4() {
    tso_64k(Ip::V4);
}

#[test]
fn tso_64k_ipv6() {
    tso_64k(Ip::V6);
}

#[test]
fn cwr_only_on_the_first_segment() {
    let mut b = build(Ip::V4, Proto::Tcp, None, 5000, Some(1000), ACK | CWR | ECE);
    b.vnet.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    let segs = segment_all(&TxFrame::with_vnet(&b.frame, b.vnet));
    assert_eq!(segs.len(), 5);
    let flags: Vec<u8> = segs
        .iter()
        .map(|s| check_segment(s, Ip::V4, Proto::Tcp, b.l3, b.l4).1)
        .collect();
    assert_eq!(
        flags,
        vec![ACK | CWR | ECE, ACK | ECE, ACK | ECE, ACK | ECE, ACK | ECE]
    );
}

#[test]
fn uso_ipv4_and_ipv6() {
    for ip in [Ip::V4, Ip::V6] {
        let b = build(ip, Proto::Udp, None, 10_000, Some(1400), 0);
        let segs = segment_all(&TxFrame::with_vnet(&b.frame, b.vnet));
        assert_eq!(segs.len(), 8);
        let mut data = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let (_, _, id, p) = check_segment(s, ip, Proto::Udp, b.l3, b.l4);
            if ip == Ip::V4 {
                assert_eq!(id, IP_ID.wrapping_add(i as u16));
            }
            data.extend_from_slice(&p);
        }
        assert_eq!(data, payload(10_000), "{ip:?}");
    }
}

#[test]
fn segmentation_through_a_pushed_tag() {
    // An untagged GSO frame leaving a trunk: the segments carry the tag and correct sums.
    let b = build(Ip::V4, Proto::Tcp, None, 4000, Some(1448), ACK);
    let f = TxFrame {
        head: &b.frame[..12],
        tag: Some([0x81, 0x00, 0x00, 0x0a]),
        tail: &b.frame[12..],
        vnet: b.vnet.shifted(4),
    };
    let segs = segment_all(&f);
    assert_eq!(segs.len(), 3);
    for s in &segs {
        assert_eq!(&s[12..16], &[0x81, 0x00, 0x00, 0x0a]);
        check_segment(s, Ip::V4, Proto::Tcp, b.l3 + 4, b.l4 + 4);
    }
    // Without the shifted metadata the checksum offsets point at the wrong bytes.
    let stale = TxFrame { vnet: b.vnet, ..f };
    assert_eq!(
        Segmenter::new(&stale).err(),
        Some(OffloadError::ChecksumOffsets)
    );
}

#[test]
fn complete_checksum_without_touching_the_frame() {
    for (ip, proto) in [
        (Ip::V4, Proto::Tcp),
        (Ip::V6, Proto::Tcp),
        (Ip::V4, Proto::Udp),
        (Ip::V6, Proto::Udp),
    ] {
        let b = build(ip, proto, Some(7), 1001, None, ACK);
        let before = b.frame.clone();
        let f = TxFrame::with_vnet(&b.frame, b.vnet);
        let mut out = [0u8; 256];
        let (n, rest) = complete_checksum(&f, &mut out).expect("completes");
        assert_eq!(n, usize::from(b.vnet.csum_start + b.vnet.csum_offset) + 2);
        let mut whole = out[..n].to_vec();
        whole.extend_from_slice(rest);
        assert_eq!(whole.len(), b.frame.len());
        check_segment(&whole, ip, proto, b.l3, b.l4);
        assert_eq!(b.frame, before, "the received frame is left alone");
    }
}

#[test]
fn metadata_that_does_not_fit_the_frame_is_refused() {
    let b = build(Ip::V4, Proto::Tcp, None, 3000, Some(1448), ACK);
    assert!(check_rx(&b.frame, &b.vnet).expect("valid").is_some());
    let wrong_family = VirtioNetHdr {
        gso_type: VIRTIO_NET_HDR_GSO_TCPV6,
        ..b.vnet
    };
    assert_eq!(
        check_rx(&b.frame, &wrong_family),
        Err(OffloadError::Headers)
    );
    let ufo = VirtioNetHdr {
        gso_type: VIRTIO_NET_HDR_GSO_UDP,
        ..b.vnet
    };
    assert_eq!(check_rx(&b.frame, &ufo), Err(OffloadError::UnsupportedGso));
    let no_mss = VirtioNetHdr {
        gso_size: 0,
        ..b.vnet
    };
    assert_eq!(
        check_rx(&b.frame, &no_mss),
        Err(OffloadError::NoSegmentSize)
    );
    let moved = VirtioNetHdr {
        csum_start: 30,
        ..b.vnet
    };
    assert_eq!(
        check_rx(&b.frame, &moved),
        Err(OffloadError::ChecksumOffsets)
    );
    let no_csum = VirtioNetHdr { flags: 0, ..b.vnet };
    assert_eq!(
        check_rx(&b.frame, &no_csum),
        Err(OffloadError::ChecksumOffsets)
    );
    // A partial checksum whose field lies past the end of the frame.
    let csum = VirtioNetHdr {
        gso_type: 0,
        gso_size: 0,
        csum_start: 60,
        csum_offset: 16,
        ..b.vnet
    };
    assert_eq!(
        check_rx(&b.frame[..70], &csum),
        Err(OffloadError::ChecksumOffsets)
    );
    assert_eq!(check_rx(&b.frame[..78], &csum), Ok(None));
    // Truncated headers.
    assert_eq!(
        check_rx(&b.frame[..60], &b.vnet),
        Err(OffloadError::Headers)
    );
}

// ---- through the datapath -----------------------------------------------------------

fn trunk() -> VlanSpec {
    VlanSpec {
        tag: None,
        trunks: vec![],
        mode: Some(VlanMode::Trunk),
    }
}

fn access(tag: u16) -> VlanSpec {
    VlanSpec {
        tag: Some(tag),
        trunks: vec![],
        mode: Some(VlanMode::Access),
    }
}

struct Net {
    dp: Datapath,
    ports: Vec<(PortId, MemoryPortHandle)>,
}

impl Net {
    /// Ports: (mtu, caps, vlan).
    fn new(ports: &[(usize, OffloadCaps, VlanSpec)]) -> Net {
        let mut dp = Datapath::new();
        let br = dp.add_bridge("br", 64, 300);
        let ports = ports
            .iter()
            .enumerate()
            .map(|(i, (mtu, caps, vlan))| {
                let (p, h) = MemoryPort::with_offloads(&format!("p{i}"), *mtu, *caps);
                (dp.add_port(br, Box::new(p), vlan).expect("bridge"), h)
            })
            .collect();
        Net { dp, ports }
    }

    fn send(&mut self, from: usize, frame: &[u8], vnet: VirtioNetHdr) {
        self.ports[from].1.inject_with(frame, vnet);
        while self.ports[from].1.pending_rx() > 0 {
            self.dp.poll_port(self.ports[from].0, 0).expect("poll");
        }
    }

    fn counters(&self, i: usize) -> rvs_datapath::PortCounters {
        self.dp.counters(self.ports[i].0).expect("port")
    }
}

#[test]
fn gso_to_a_port_without_offloads_arrives_segmented_and_checksummed() {
    let mut n = Net::new(&[
        (1500, OffloadCaps::ALL, access(1)),
        (1500, OffloadCaps::NONE, access(1)),
    ]);
    let b = build(Ip::V4, Proto::Tcp, None, 64_000, Some(1448), ACK | PSH);
    n.send(0, &b.frame, b.vnet);
    let sent = n.ports[1].1.take_sent_with_vnet();
    let want = 64_000usize.div_ceil(1448);
    assert_eq!(sent.len(), want, "45 segments, over two transmit calls");
    let mut data = Vec::new();
    for (i, (vnet, s)) in sent.iter().enumerate() {
        assert_eq!(*vnet, VirtioNetHdr::NONE, "complete frames");
        assert!(s.len() <= 1514);
        let (seq, _, _, p) = check_segment(s, Ip::V4, Proto::Tcp, b.l3, b.l4);
        assert_eq!(seq, SEQ.wrapping_add((i * 1448) as u32));
        data.extend_from_slice(&p);
    }
    assert_eq!(data, payload(64_000));
    let c = n.counters(1);
    assert_eq!(
        (c.tx_packets, c.sw_segments, c.sw_csum),
        (want as u64, want as u64, 0)
    );
    assert_eq!(c.total_drops(), 0);
    let c0 = n.counters(0);
    assert_eq!((c0.rx_packets, c0.total_drops()), (1, 0));
    assert_eq!(c0.rx_bytes, b.frame.len() as u64);
}

#[test]
fn partial_checksum_to_a_port_without_offloads_is_completed() {
    let mut n = Net::new(&[
        (1500, OffloadCaps::ALL, access(1)),
        (1500, OffloadCaps::NONE, access(1)),
    ]);
    for proto in [Proto::Tcp, Proto::Udp] {
        let b = build(Ip::V6, proto, None, 1200, None, ACK);
        n.send(0, &b.frame, b.vnet);
        let sent = n.ports[1].1.take_sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].len(), b.frame.len());
        check_segment(&sent[0], Ip::V6, proto, b.l3, b.l4);
        assert_eq!(
            sent[0][b.l4 + 20..],
            b.frame[b.l4 + 20..],
            "payload unchanged"
        );
    }
    let c = n.counters(1);
    assert_eq!((c.tx_packets, c.sw_csum, c.sw_segments), (2, 2, 0));
}

#[test]
fn to_a_port_with_offloads_frames_pass_unchanged() {
    let mut n = Net::new(&[
        (1500, OffloadCaps::ALL, access(1)),
        (1500, OffloadCaps::ALL, access(1)),
    ]);
    let b = build(Ip::V6, Proto::Tcp, None, 60_000, Some(1428), ACK);
    n.send(0, &b.frame, b.vnet);
    let c = build(Ip::V4, Proto::Udp, None, 300, None, 0);
    n.send(0, &c.frame, c.vnet);
    // DATA_VALID is receive-only metadata: not passed on.
    let valid = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_DATA_VALID,
        ..VirtioNetHdr::NONE
    };
    let d = build(Ip::V4, Proto::Udp, None, 20, None, 0);
    n.send(0, &d.frame, valid);
    let sent = n.ports[1].1.take_sent_with_vnet();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0], (b.vnet, b.frame.clone()));
    assert_eq!(sent[1], (c.vnet, c.frame.clone()));
    assert_eq!(sent[2], (VirtioNetHdr::NONE, d.frame.clone()));
    let k = n.counters(1);
    assert_eq!((k.tx_packets, k.sw_csum, k.sw_segments), (3, 0, 0));
}

#[test]
fn a_flood_gives_each_port_what_it_takes() {
    // Unknown destination: flooded to one port with offloads and two without. The shared
    // receive buffer must reach the offload port untouched after the others' fallbacks.
    let mut n = Net::new(&[
        (1500, OffloadCaps::ALL, access(1)),
        (1500, OffloadCaps::NONE, access(1)),
        (1500, OffloadCaps::ALL, access(1)),
        (1500, OffloadCaps::CSUM, access(1)),
    ]);
    let b = build(Ip::V4, Proto::Tcp, None, 10_000, Some(1448), ACK);
    let p = build(Ip::V4, Proto::Tcp, None, 500, None, ACK);
    n.send(0, &b.frame, b.vnet);
    n.send(0, &p.frame, p.vnet);
    assert_eq!(
        n.ports[2].1.take_sent_with_vnet(),
        vec![(b.vnet, b.frame.clone()), (p.vnet, p.frame.clone())]
    );
    for i in [1, 3] {
        let sent = n.ports[i].1.take_sent_with_vnet();
        assert_eq!(sent.len(), 7 + 1, "port {i}");
        for (vnet, s) in &sent[..7] {
            assert_eq!(*vnet, VirtioNetHdr::NONE);
            check_segment(s, Ip::V4, Proto::Tcp, b.l3, b.l4);
        }
        let (vnet, last) = &sent[7];
        if i == 3 {
            // Takes partial checksums: the small frame goes as it is.
            assert_eq!((vnet, last), (&p.vnet, &p.frame));
        } else {
            check_segment(last, Ip::V4, Proto::Tcp, p.l3, p.l4);
        }
    }
    assert_eq!(n.counters(1).sw_csum, 1);
    assert_eq!(n.counters(3).sw_csum, 0);
    assert_eq!(n.counters(3).sw_segments, 7);
}

#[test]
fn vlan_edits_move_the_offload_offsets() {
    // Access ingress (untagged) -> trunk egress (tag pushed): offsets +4; and back: -4.
    let mut n = Net::new(&[
        (1500, OffloadCaps::ALL, access(10)),
        (1500, OffloadCaps::ALL, trunk()),
        (1500, OffloadCaps::NONE, trunk()),
    ]);
    let b = build(Ip::V4, Proto::Tcp, None, 8000, Some(1448), ACK);
    n.send(0, &b.frame, b.vnet);
    let sent = n.ports[1].1.take_sent_with_vnet();
    assert_eq!(sent.len(), 1);
    let (vnet, f) = &sent[0];
    assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 10]);
    assert_eq!(vnet.csum_start, b.vnet.csum_start + 4);
    assert_eq!(vnet.hdr_len, b.vnet.hdr_len + 4);
    assert_eq!((vnet.gso_size, vnet.csum_offset), (b.vnet.gso_size, 16));
    // The port without offloads gets tagged, complete segments.
    let segs = n.ports[2].1.take_sent();
    assert_eq!(segs.len(), 6);
    for s in &segs {
        assert_eq!(&s[12..16], &[0x81, 0x00, 0x00, 10]);
        check_segment(s, Ip::V4, Proto::Tcp, b.l3 + 4, b.l4 + 4);
    }

    // Tagged from the trunk to the access port: stripped, offsets -4.
    let t = build(Ip::V6, Proto::Tcp, Some(10), 8000, Some(1428), ACK);
    n.send(1, &t.frame, t.vnet);
    let sent = n.ports[0].1.take_sent_with_vnet();
    assert_eq!(sent.len(), 1);
    let (vnet, f) = &sent[0];
    assert_eq!(&f[12..14], &[0x86, 0xdd]);
    assert_eq!(vnet.csum_start, t.vnet.csum_start - 4);
    assert_eq!(vnet.hdr_len, t.vnet.hdr_len - 4);
    assert!(check_rx(f, vnet).expect("consistent").is_some());
}

#[test]
fn gso_frames_are_measured_by_their_segments() {
    let mut n = Net::new(&[
        (1500, OffloadCaps::ALL, access(1)),
        (1400, OffloadCaps::ALL, access(1)),
        (1500, OffloadCaps::NONE, access(1)),
    ]);
    // 1448-byte segments (1500 on the wire after L2): fits a 1500 MTU, not 1400.
    let b = build(Ip::V4, Proto::Tcp, None, 30_000, Some(1448), ACK);
    n.send(0, &b.frame, b.vnet);
    assert_eq!(n.counters(0).dropped(DropReason::Oversized), 0);
    assert_eq!(n.counters(1).dropped(DropReason::TxTooBig), 1);
    assert_eq!(n.ports[1].1.take_sent().len(), 0);
    assert_eq!(n.ports[2].1.take_sent().len(), 30_000usize.div_ceil(1448));
    // Segments larger than the ingress MTU: oversized, as a plain frame would be.
    let big = build(Ip::V4, Proto::Tcp, None, 30_000, Some(1500), ACK);
    n.send(0, &big.frame, big.vnet);
    assert_eq!(n.counters(0).dropped(DropReason::Oversized), 1);
    // A plain frame of 64 KB is still oversized.
    let plain = build(Ip::V4, Proto::Tcp, None, 30_000, None, ACK);
    n.send(
        0,
        &plain.frame,
        VirtioNetHdr {
            flags: 0,
            ..VirtioNetHdr::NONE
        },
    );
    assert_eq!(n.counters(0).dropped(DropReason::Oversized), 2);
    // Metadata that does not match the frame.
    let bad = VirtioNetHdr {
        gso_type: VIRTIO_NET_HDR_GSO_TCPV6,
        ..b.vnet
    };
    n.send(0, &b.frame, bad);
    assert_eq!(n.counters(0).dropped(DropReason::BadOffload), 1);
    assert_eq!(n.counters(0).rx_packets, 4);
}

#[test]
fn refused_segments_are_counted() {
    let mut n = Net::new(&[
        (1500, OffloadCaps::ALL, access(1)),
        (1500, OffloadCaps::NONE, access(1)),
    ]);
    n.ports[1].1.limit_tx(Some(40));
    let b = build(Ip::V4, Proto::Tcp, None, 64_000, Some(1448), ACK);
    n.send(0, &b.frame, b.vnet);
    let c = n.counters(1);
    assert_eq!(c.tx_packets, 40);
    assert_eq!(c.sw_segments, 45);
    assert_eq!(c.dropped(DropReason::TxFailed), 5);
}
