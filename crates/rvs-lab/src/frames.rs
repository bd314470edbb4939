//! Building and parsing the Ethernet frames that tests send and expect.
//!
//! Frames are plain byte vectors without FCS. The builders add no padding:
//! a frame shorter than 60 bytes is sent as it is (veth and raw sockets
//! accept it); use [`pad_min`] for a wire-sized frame.

/// The broadcast address `ff:ff:ff:ff:ff:ff`.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// TPID of an 802.1Q (customer) VLAN tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad (service) VLAN tag.
pub const TPID_8021AD: u16 = 0x88a8;
/// Pre-standard QinQ TPID some switches use.
pub const TPID_9100: u16 = 0x9100;
/// EtherType reserved for local experiments (IEEE 802 "local experimental 1").
pub const ETHERTYPE_EXPERIMENTAL: u16 = 0x88b5;
/// Smallest Ethernet frame without FCS.
pub const MIN_FRAME_LEN: usize = 60;

/// An untagged frame: `dst`, `src`, `ethertype`, `payload`.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A frame with one VLAN tag: `dst`, `src`, `tpid`, TCI (`pcp`, DEI 0,
/// `vid`), `inner_ethertype`, `payload`.
///
/// # Panics
///
/// If `pcp` > 7 or `vid` > 4095.
pub fn vlan_tagged(
    dst: [u8; 6],
    src: [u8; 6],
    tpid: u16,
    pcp: u8,
    vid: u16,
    inner_ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    assert!(pcp <= 7, "PCP {pcp} does not fit in 3 bits");
    assert!(vid <= 0x0fff, "VID {vid} does not fit in 12 bits");
    let tci = (u16::from(pcp) << 13) | vid;
    let mut f = Vec::with_capacity(18 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&tpid.to_be_bytes());
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&inner_ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The outer VLAN tag of `frame` as `(tpid, pcp, vid, inner_ethertype)`, or
/// `None` if the frame is too short or its EtherType is not a VLAN TPID
/// (0x8100, 0x88a8 or 0x9100).
pub fn parse_vlan(frame: &[u8]) -> Option<(u16, u8, u16, u16)> {
    let tpid = be16(frame, 12)?;
    if !matches!(tpid, TPID_8021Q | TPID_8021AD | TPID_9100) {
        return None;
    }
    let tci = be16(frame, 14)?;
    let inner = be16(frame, 16)?;
    Some((tpid, (tci >> 13) as u8, tci & 0x0fff, inner))
}

/// The EtherType field right after the MAC addresses (a TPID for a tagged
/// frame).
pub fn ethertype(frame: &[u8]) -> Option<u16> {
    be16(frame, 12)
}

/// Destination MAC address.
pub fn dst(frame: &[u8]) -> Option<[u8; 6]> {
    frame.get(0..6)?.try_into().ok()
}

/// Source MAC address.
pub fn src(frame: &[u8]) -> Option<[u8; 6]> {
    frame.get(6..12)?.try_into().ok()
}

/// Pads `frame` with zeros to [`MIN_FRAME_LEN`] bytes.
pub fn pad_min(mut frame: Vec<u8>) -> Vec<u8> {
    if frame.len() < MIN_FRAME_LEN {
        frame.resize(MIN_FRAME_LEN, 0);
    }
    frame
}

/// Parses `"02:00:00:00:00:01"` (also with `-` separators, any case).
///
/// # Panics
///
/// If `s` is not a MAC address; see [`try_mac`].
pub fn mac(s: &str) -> [u8; 6] {
    match try_mac(s) {
        Some(m) => m,
        None => panic!("{s:?} is not a MAC address like 02:00:00:00:00:01"),
    }
}

/// Parses a MAC address like [`mac`]; `None` if `s` is not one.
pub fn try_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for byte in &mut out {
        let part = parts.next()?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// Formats a MAC address as `02:00:00:00:00:01`.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    let b = frame.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn builds_untagged() {
        let f = ethernet(B, A, 0x88b5, b"hi");
        assert_eq!(f.len(), 16);
        assert_eq!(&f[..6], &B);
        assert_eq!(&f[6..12], &A);
        assert_eq!(&f[12..], &[0x88, 0xb5, b'h', b'i']);
        assert_eq!(parse_vlan(&f), None);
        assert_eq!(ethertype(&f), Some(0x88b5));
        assert_eq!(dst(&f), Some(B));
        assert_eq!(src(&f), Some(A));
    }

    #[test]
    fn builds_and_parses_tagged() {
        let f = vlan_tagged(B, A, TPID_8021Q, 5, 100, 0x88b5, b"x");
        assert_eq!(&f[12..18], &[0x81, 0x00, 0xa0, 0x64, 0x88, 0xb5]);
        assert_eq!(parse_vlan(&f), Some((0x8100, 5, 100, 0x88b5)));
        let f = vlan_tagged(B, A, TPID_8021AD, 7, 4095, 0x0800, b"");
        assert_eq!(parse_vlan(&f), Some((0x88a8, 7, 4095, 0x0800)));
        assert_eq!(parse_vlan(&f[..17]), None);
    }

    #[test]
    #[should_panic(expected = "VID")]
    fn rejects_big_vid() {
        vlan_tagged(B, A, TPID_8021Q, 0, 4096, 0x0800, b"");
    }

    #[test]
    fn parses_macs() {
        assert_eq!(mac("02:00:00:00:00:01"), A);
        assert_eq!(mac("FF-ff-FF-ff-FF-ff"), BROADCAST);
        assert_eq!(try_mac("02:00:00:00:00"), None);
        assert_eq!(try_mac("02:00:00:00:00:01:02"), None);
        assert_eq!(try_mac("02:00:00:00:00:1"), None);
        assert_eq!(try_mac("02:00:00:00:00:zz"), None);
        assert_eq!(try_mac("02:00:00:00:00:+1"), None);
        assert_eq!(fmt_mac(&A), "02:00:00:00:00:01");
    }

    #[test]
    fn pads() {
        assert_eq!(pad_min(vec![1; 10]).len(), MIN_FRAME_LEN);
        assert_eq!(pad_min(vec![1; 70]).len(), 70);
    }
}
