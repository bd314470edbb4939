//! Ethernet II frames.

use crate::{Result, WireError};
use core::fmt;
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Length of the Ethernet II header (destination, source, EtherType).
pub const ETHERNET_HEADER_LEN: usize = core::mem::size_of::<EthernetHeader>();

/// Wire layout of the Ethernet II header.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EthernetHeader {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: U16,
}

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    pub fn from_bytes(b: &[u8; 6]) -> Self {
        EthernetAddress(*b)
    }
    /// Group (multicast or broadcast) address: the I/G bit is set.
    #[inline]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
    #[inline]
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }
    #[inline]
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
    /// IEEE 802.1D reserved group addresses 01:80:C2:00:00:00-0F (STP, LACP, LLDP, ...),
    /// which a bridge must not forward.
    #[inline]
    pub fn is_link_local_reserved(&self) -> bool {
        self.0[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && self.0[5] <= 0x0f
    }
    /// Packs the address into the low 48 bits of a u64 (for hashing and compact keys).
    #[inline]
    pub fn to_u64(&self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }
    #[inline]
    pub fn from_u64(v: u64) -> Self {
        let b = v.to_be_bytes();
        EthernetAddress([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::str::FromStr for EthernetAddress {
    type Err = String;
    fn from_str(s: &str) -> core::result::Result<Self, String> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let p = parts
                .next()
                .ok_or_else(|| format!("'{s}' is not a MAC address"))?;
            if p.is_empty() || p.len() > 2 {
                return Err(format!("'{s}' is not a MAC address"));
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| format!("'{s}' is not a MAC address"))?;
        }
        if parts.next().is_some() {
            return Err(format!("'{s}' is not a MAC address"));
        }
        Ok(EthernetAddress(out))
    }
}

/// EtherType values rvs knows by name; others are kept as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Arp,
    /// C-tag, IEEE 802.1Q.
    Vlan,
    /// S-tag, IEEE 802.1ad.
    QinQ,
    Ipv6,
    Unknown(u16),
}

impl EtherType {
    /// Whether this EtherType introduces an 802.1Q/802.1ad tag.
    #[inline]
    pub fn is_vlan_tpid(self) -> bool {
        matches!(self, EtherType::Vlan | EtherType::QinQ)
    }
}

impl From<u16> for EtherType {
    #[inline]
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            0x88a8 => EtherType::QinQ,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    #[inline]
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::QinQ => 0x88a8,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(other) => other,
        }
    }
}

/// A view of an Ethernet II frame over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking its length; use [`Self::new_checked`] on untrusted input.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer that holds at least a full Ethernet header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ETHERNET_HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn header(&self) -> EthernetHeader {
        // The length was checked at construction; a short buffer yields zeros, never a panic.
        EthernetHeader::read_from_prefix(self.buffer.as_ref())
            .map(|(h, _)| h)
            .unwrap_or(EthernetHeader {
                dst: [0; 6],
                src: [0; 6],
                ethertype: U16::ZERO,
            })
    }

    #[inline]
    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress(self.header().dst)
    }
    #[inline]
    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress(self.header().src)
    }
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(self.header().ethertype.get())
    }
    /// Everything after the 14-byte header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(ETHERNET_HEADER_LEN..)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    #[inline]
    fn header_mut(&mut self) -> Option<&mut EthernetHeader> {
        EthernetHeader::mut_from_prefix(self.buffer.as_mut())
            .ok()
            .map(|(h, _)| h)
    }
    pub fn set_dst_addr(&mut self, a: EthernetAddress) {
        if let Some(h) = self.header_mut() {
            h.dst = a.0;
        }
    }
    pub fn set_src_addr(&mut self, a: EthernetAddress) {
        if let Some(h) = self.header_mut() {
            h.src = a.0;
        }
    }
    pub fn set_ethertype(&mut self, t: EtherType) {
        if let Some(h) = self.header_mut() {
            h.ethertype = U16::new(t.into());
        }
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(ETHERNET_HEADER_LEN..)
            .unwrap_or(&mut [])
    }
}

/// Owned summary of an Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: EthernetAddress,
    pub dst: EthernetAddress,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<Self> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_HEADER_LEN
    }
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_src_addr(self.src);
        frame.set_dst_addr(self.dst);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FRAME: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0x08, 0x06, // ARP
        0xaa, 0xbb, 0xcc, 0xdd,
    ];

    #[test]
    fn deconstruct() {
        let f = EthernetFrame::new_checked(&FRAME[..]).expect("valid");
        assert!(f.dst_addr().is_broadcast());
        assert_eq!(f.src_addr().to_string(), "02:00:00:00:00:01");
        assert_eq!(f.ethertype(), EtherType::Arp);
        assert_eq!(f.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn construct_roundtrip() {
        let mut buf = [0u8; 18];
        let repr = EthernetRepr::parse(&EthernetFrame::new_checked(&FRAME[..]).expect("valid"))
            .expect("parse");
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        repr.emit(&mut f);
        f.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn short_buffers_are_refused() {
        for n in 0..ETHERNET_HEADER_LEN {
            assert_eq!(
                EthernetFrame::new_checked(&FRAME[..n]).err(),
                Some(WireError::Truncated)
            );
        }
        assert!(EthernetFrame::new_checked(&FRAME[..14]).is_ok());
    }

    #[test]
    fn unknown_ethertype_roundtrips() {
        assert_eq!(u16::from(EtherType::from(0x88b5)), 0x88b5);
        assert_eq!(EtherType::from(0x88b5), EtherType::Unknown(0x88b5));
    }

    #[test]
    fn address_classes() {
        let stp: EthernetAddress = "01:80:c2:00:00:00".parse().expect("mac");
        assert!(stp.is_multicast() && stp.is_link_local_reserved());
        let mdns: EthernetAddress = "01:00:5e:00:00:fb".parse().expect("mac");
        assert!(mdns.is_multicast() && !mdns.is_link_local_reserved());
        let a: EthernetAddress = "02:ab:00:00:00:09".parse().expect("mac");
        assert_eq!(EthernetAddress::from_u64(a.to_u64()), a);
        assert!("02:ab:00:00:00".parse::<EthernetAddress>().is_err());
        assert!("02:ab:00:00:00:00:01".parse::<EthernetAddress>().is_err());
        assert!("zz:ab:00:00:00:00".parse::<EthernetAddress>().is_err());
    }
}
