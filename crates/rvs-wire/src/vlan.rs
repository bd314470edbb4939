//! IEEE 802.1Q / 802.1ad VLAN tags.
//!
//! A tag sits between the source MAC and the EtherType: `TPID(2) | PCP(3) DEI(1) VID(12) | inner EtherType(2)`.
//! [`VlanTag`] covers the four tag bytes (TPID + TCI); the inner EtherType follows it.

use crate::ethernet::{EtherType, ETHERNET_HEADER_LEN};
use crate::{Result, WireError};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Length of one tag (TPID + TCI).
pub const VLAN_TAG_LEN: usize = 4;
/// Offset of the TPID within an Ethernet frame (right after the two MAC addresses).
pub const TAG_OFFSET: usize = 12;
/// Minimum length of a frame carrying one tag: MACs, tag, inner EtherType.
pub const TAGGED_HEADER_LEN: usize = ETHERNET_HEADER_LEN + VLAN_TAG_LEN;

/// Wire layout of a tag plus the EtherType that follows it.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct TagHeader {
    tpid: U16,
    tci: U16,
    inner_ethertype: U16,
}

/// A decoded VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    pub tpid: u16,
    pub pcp: u8,
    pub dei: bool,
    pub vid: u16,
}

impl VlanTag {
    pub const fn new(tpid: u16, pcp: u8, vid: u16) -> Self {
        VlanTag {
            tpid,
            pcp: pcp & 0x7,
            dei: false,
            vid: vid & 0x0fff,
        }
    }

    /// Tag Control Information: PCP, DEI, VID.
    #[inline]
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }

    #[inline]
    pub const fn from_tci(tpid: u16, tci: u16) -> Self {
        VlanTag {
            tpid,
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    /// The four bytes as they appear on the wire.
    #[inline]
    pub const fn to_bytes(&self) -> [u8; VLAN_TAG_LEN] {
        let t = self.tpid.to_be_bytes();
        let c = self.tci().to_be_bytes();
        [t[0], t[1], c[0], c[1]]
    }

    /// Reads the outer tag of an Ethernet frame whose EtherType is a VLAN TPID.
    ///
    /// Returns `Ok(None)` for an untagged frame, `Err(Truncated)` when the frame announces a
    /// tag but is too short to hold it and the inner EtherType.
    pub fn parse_outer(frame: &[u8]) -> Result<Option<(VlanTag, EtherType)>> {
        let Some(tpid) = frame.get(TAG_OFFSET..TAG_OFFSET + 2) else {
            return Err(WireError::Truncated);
        };
        let tpid = u16::from_be_bytes([tpid[0], tpid[1]]);
        if !EtherType::from(tpid).is_vlan_tpid() {
            return Ok(None);
        }
        let rest = frame.get(TAG_OFFSET..).unwrap_or(&[]);
        let (hdr, _) = TagHeader::read_from_prefix(rest).map_err(|_| WireError::Truncated)?;
        Ok(Some((
            VlanTag::from_tci(tpid, hdr.tci.get()),
            EtherType::from(hdr.inner_ethertype.get()),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tci_roundtrip() {
        let t = VlanTag {
            tpid: 0x8100,
            pcp: 5,
            dei: true,
            vid: 100,
        };
        assert_eq!(t.tci(), (5 << 13) | 0x1000 | 100);
        assert_eq!(VlanTag::from_tci(0x8100, t.tci()), t);
        assert_eq!(t.to_bytes(), [0x81, 0x00, 0xb0, 0x64]);
    }

    #[test]
    fn parse_tagged_and_untagged() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x60, 0x0a, 0x08, 0x00, 0x45]);
        let (tag, inner) = VlanTag::parse_outer(&f).expect("ok").expect("tagged");
        assert_eq!((tag.pcp, tag.vid, inner), (3, 10, EtherType::Ipv4));

        let mut u = vec![0u8; 12];
        u.extend_from_slice(&[0x08, 0x06]);
        assert_eq!(VlanTag::parse_outer(&u), Ok(None));
    }

    #[test]
    fn truncated_tags_are_errors() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x60, 0x0a, 0x08, 0x00]);
        for n in 14..18 {
            assert_eq!(
                VlanTag::parse_outer(&f[..n]),
                Err(WireError::Truncated),
                "len {n}"
            );
        }
        assert_eq!(VlanTag::parse_outer(&f[..10]), Err(WireError::Truncated));
    }
}
