//! UDP headers (RFC 768).

use crate::{Result, WireError};
use core::ops::Range;

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// Offset of the checksum field (what `csum_offset` says for UDP).
pub const UDP_CHECKSUM_OFFSET: usize = 6;

/// A view of a UDP datagram over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < UDP_HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn u16_at(&self, r: Range<usize>) -> u16 {
        match self.buffer.as_ref().get(r) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }
    /// Length of header and payload.
    #[inline]
    pub fn len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= UDP_HEADER_LEN
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(UDP_HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    #[inline]
    fn set_u16(&mut self, r: Range<usize>, v: u16) {
        if let Some(s) = self.buffer.as_mut().get_mut(r) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn set_len(&mut self, v: u16) {
        self.set_u16(field::LENGTH, v);
    }
    /// Stores a checksum; a computed 0 goes on the wire as 0xffff (0 means "none").
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16(field::CHECKSUM, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_setters_and_short() {
        let mut b = [0x9c, 0x41, 0x13, 0x8a, 0x00, 0x1a, 0x68, 0xa4, b'h', b'i'];
        let p = UdpPacket::new_checked(&b[..]).expect("valid");
        assert_eq!((p.src_port(), p.dst_port()), (40001, 5002));
        assert_eq!((p.len(), p.checksum()), (26, 0x68a4));
        assert_eq!(p.payload(), b"hi");
        let mut m = UdpPacket::new_unchecked(&mut b[..]);
        m.set_len(10);
        m.set_checksum(0xffff);
        assert_eq!(&b[4..8], &[0, 10, 0xff, 0xff]);
        for n in 0..8 {
            assert_eq!(
                UdpPacket::new_checked(&b[..n]).err(),
                Some(WireError::Truncated)
            );
        }
    }
}
