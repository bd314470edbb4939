//! ARP packets (RFC 826), as an OpenFlow switch matches them: Ethernet hardware
//! addresses and IPv4 protocol addresses.

use crate::{Result, WireError};
use core::ops::Range;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    /// Start of the variable part: SHA, SPA, THA, TPA.
    pub const ADDRS: usize = 8;
}

/// `HTYPE` of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// `PTYPE` of IPv4.
pub const PTYPE_IPV4: u16 = 0x0800;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_ETH_IPV4_LEN: usize = 28;

/// ARP operation codes.
pub mod operation {
    pub const REQUEST: u16 = 1;
    pub const REPLY: u16 = 2;
}

/// A view of an ARP packet over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps a buffer holding the fixed part and both address pairs.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the fixed part and the four addresses (of the announced lengths) fit.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < field::ADDRS {
            return Err(WireError::Truncated);
        }
        let need = field::ADDRS + 2 * usize::from(self.hlen()) + 2 * usize::from(self.plen());
        if len < need {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }
    #[inline]
    fn u16_at(&self, r: Range<usize>) -> u16 {
        match self.buffer.as_ref().get(r) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }
    #[inline]
    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        self.buffer
            .as_ref()
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; N])
    }

    #[inline]
    pub fn hardware_type(&self) -> u16 {
        self.u16_at(field::HTYPE)
    }
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        self.u16_at(field::PTYPE)
    }
    #[inline]
    pub fn hlen(&self) -> u8 {
        self.byte(field::HLEN)
    }
    #[inline]
    pub fn plen(&self) -> u8 {
        self.byte(field::PLEN)
    }
    #[inline]
    pub fn operation(&self) -> u16 {
        self.u16_at(field::OPER)
    }

    /// Ethernet hardware and IPv4 protocol addresses (the only kind OpenFlow matches).
    #[inline]
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hardware_type() == HTYPE_ETHERNET
            && self.protocol_type() == PTYPE_IPV4
            && self.hlen() == 6
            && self.plen() == 4
    }

    /// Offsets of SHA, SPA, THA, TPA for the announced address lengths.
    #[inline]
    fn offsets(&self) -> [usize; 4] {
        let (h, p) = (usize::from(self.hlen()), usize::from(self.plen()));
        let sha = field::ADDRS;
        [sha, sha + h, sha + h + p, sha + 2 * h + p]
    }

    /// Sender hardware address (Ethernet/IPv4 ARP; zeros otherwise).
    #[inline]
    pub fn source_hardware_addr(&self) -> [u8; 6] {
        self.array(self.offsets()[0])
    }
    #[inline]
    pub fn source_protocol_addr(&self) -> [u8; 4] {
        self.array(self.offsets()[1])
    }
    #[inline]
    pub fn target_hardware_addr(&self) -> [u8; 6] {
        self.array(self.offsets()[2])
    }
    #[inline]
    pub fn target_protocol_addr(&self) -> [u8; 4] {
        self.array(self.offsets()[3])
    }
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: u16,
    pub source_hardware_addr: [u8; 6],
    pub source_protocol_addr: [u8; 4],
    pub target_hardware_addr: [u8; 6],
    pub target_protocol_addr: [u8; 4],
}

impl ArpRepr {
    /// Parses an Ethernet/IPv4 ARP packet; other kinds are `Malformed`.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> Result<Self> {
        p.check_len()?;
        if !p.is_ethernet_ipv4() {
            return Err(WireError::Malformed);
        }
        Ok(ArpRepr {
            operation: p.operation(),
            source_hardware_addr: p.source_hardware_addr(),
            source_protocol_addr: p.source_protocol_addr(),
            target_hardware_addr: p.target_hardware_addr(),
            target_protocol_addr: p.target_protocol_addr(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        ARP_ETH_IPV4_LEN
    }

    /// Writes the packet into the first [`ARP_ETH_IPV4_LEN`] bytes of `buf` (nothing
    /// when it is shorter).
    pub fn emit(&self, buf: &mut [u8]) {
        let Some(b) = buf.get_mut(..ARP_ETH_IPV4_LEN) else {
            return;
        };
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        b[field::OPER].copy_from_slice(&self.operation.to_be_bytes());
        b[8..14].copy_from_slice(&self.source_hardware_addr);
        b[14..18].copy_from_slice(&self.source_protocol_addr);
        b[18..24].copy_from_slice(&self.target_hardware_addr);
        b[24..28].copy_from_slice(&self.target_protocol_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A who-has 192.168.1.1 tell 192.168.1.100 from 52:54:00:12:34:56.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0,
        0xa8, 0x01, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01,
    ];

    #[test]
    fn deconstruct() {
        let p = ArpPacket::new_checked(&REQUEST[..]).expect("valid");
        assert!(p.is_ethernet_ipv4());
        assert_eq!(p.operation(), operation::REQUEST);
        assert_eq!(
            p.source_hardware_addr(),
            [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
        );
        assert_eq!(p.source_protocol_addr(), [192, 168, 1, 100]);
        assert_eq!(p.target_hardware_addr(), [0; 6]);
        assert_eq!(p.target_protocol_addr(), [192, 168, 1, 1]);
    }

    #[test]
    fn roundtrip() {
        let repr =
            ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).expect("valid")).expect("parse");
        let mut buf = [0u8; 28];
        repr.emit(&mut buf);
        assert_eq!(buf, REQUEST);
        assert_eq!(repr.buffer_len(), 28);
    }

    #[test]
    fn short_and_other_kinds() {
        for n in 0..28 {
            assert_eq!(
                ArpPacket::new_checked(&REQUEST[..n]).err(),
                Some(WireError::Truncated),
                "len {n}"
            );
        }
        // hlen 255 announces addresses far beyond the buffer.
        let mut big = REQUEST;
        big[4] = 255;
        assert_eq!(
            ArpPacket::new_checked(&big[..]).err(),
            Some(WireError::Truncated)
        );
        // A non-IPv4 protocol type parses as a view but not as a repr.
        let mut other = REQUEST;
        other[2] = 0x86;
        other[3] = 0xdd;
        let p = ArpPacket::new_checked(&other[..]).expect("fits");
        assert_eq!(ArpRepr::parse(&p).err(), Some(WireError::Malformed));
        // Unchecked short buffers read as zeros.
        let p = ArpPacket::new_unchecked(&REQUEST[..9]);
        assert_eq!(p.target_protocol_addr(), [0; 4]);
    }
}
