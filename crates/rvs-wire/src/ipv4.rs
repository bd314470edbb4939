//! IPv4 headers (RFC 791), as far as segmentation and checksum offload need them.

use crate::checksum;
use crate::{Result, WireError};
use core::ops::Range;

/// Byte ranges of the fixed header fields.
mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Length of a header without options.
pub const IPV4_MIN_HEADER_LEN: usize = 20;

/// A view of an IPv4 packet over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer holding a whole IPv4 header (version 4, options included).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the version and that the header, options included, fits the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < IPV4_MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 || self.header_len() < IPV4_MIN_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if self.header_len() > len {
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
    fn addr(&self, r: Range<usize>) -> [u8; 4] {
        self.buffer
            .as_ref()
            .get(r)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 4])
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.byte(field::VER_IHL) >> 4
    }
    /// Header length in bytes (IHL × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.byte(field::VER_IHL) & 0x0f) * 4
    }
    /// The type-of-service byte: DSCP in the top 6 bits, ECN in the low 2.
    #[inline]
    pub fn tos(&self) -> u8 {
        self.byte(field::TOS)
    }
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos() & 0x3
    }
    #[inline]
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::TOTAL_LEN)
    }
    #[inline]
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }
    /// Flags and fragment offset (DF = 0x4000, MF = 0x2000, offset in the low 13 bits).
    #[inline]
    pub fn flags_frag(&self) -> u16 {
        self.u16_at(field::FLAGS_FRAG)
    }
    /// Whether the packet is a fragment (MF set or a nonzero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & 0x3fff != 0
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.byte(field::TTL)
    }
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.byte(field::PROTOCOL)
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    #[inline]
    pub fn src_addr(&self) -> [u8; 4] {
        self.addr(field::SRC)
    }
    #[inline]
    pub fn dst_addr(&self) -> [u8; 4] {
        self.addr(field::DST)
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        self.buffer
            .as_ref()
            .get(..self.header_len())
            .is_some_and(checksum::verify)
    }

    /// Everything after the header (options included), up to the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    fn set_u16(&mut self, r: Range<usize>, v: u16) {
        if let Some(s) = self.buffer.as_mut().get_mut(r) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn set_total_len(&mut self, v: u16) {
        self.set_u16(field::TOTAL_LEN, v);
    }
    pub fn set_ident(&mut self, v: u16) {
        self.set_u16(field::IDENT, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16(field::CHECKSUM, v);
    }
    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let sum = self
            .buffer
            .as_ref()
            .get(..hl)
            .map(checksum::checksum)
            .unwrap_or(0);
        self.set_checksum(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn fields() {
        let p = Ipv4Packet::new_checked(&HDR[..]).expect("valid");
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 0x73);
        assert_eq!((p.tos(), p.dscp(), p.ecn()), (0, 0, 0));
        let mut ef = HDR;
        ef[1] = 0xb9; // DSCP 46 (EF), ECN 1
        let q = Ipv4Packet::new_checked(&ef[..]).expect("valid");
        assert_eq!((q.dscp(), q.ecn()), (46, 1));
        assert_eq!(p.ident(), 0x1234);
        assert_eq!(p.flags_frag(), 0x4000);
        assert!(!p.is_fragment());
        assert_eq!((p.ttl(), p.protocol()), (64, 17));
        assert_eq!(p.src_addr(), [192, 168, 0, 1]);
        assert_eq!(p.dst_addr(), [192, 168, 0, 199]);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn setters_and_checksum() {
        let mut b = HDR;
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        // With identification 0 this is the textbook header whose checksum is b861.
        p.set_ident(0);
        p.fill_checksum();
        assert_eq!(p.checksum(), 0xb861);
        assert!(p.verify_checksum());
        p.set_total_len(1500);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.total_len(), 1500);
    }

    #[test]
    fn malformed_and_short() {
        for n in 0..20 {
            assert_eq!(
                Ipv4Packet::new_checked(&HDR[..n]).err(),
                Some(WireError::Truncated)
            );
        }
        let mut v6 = HDR;
        v6[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&v6[..]).err(),
            Some(WireError::Malformed)
        );
        let mut short_ihl = HDR;
        short_ihl[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&short_ihl[..]).err(),
            Some(WireError::Malformed)
        );
        // IHL 6 (24 bytes) in a 20-byte buffer.
        let mut opts = HDR;
        opts[0] = 0x46;
        assert_eq!(
            Ipv4Packet::new_checked(&opts[..]).err(),
            Some(WireError::Truncated)
        );
        // Accessors on an unchecked short buffer return zeros instead of panicking.
        let p = Ipv4Packet::new_unchecked(&HDR[..3]);
        assert_eq!((p.ident(), p.src_addr(), p.protocol()), (0, [0; 4], 0));
        assert!(!p.verify_checksum());
    }
}
