//! TCP headers (RFC 9293), as far as segmentation needs them: ports, sequence number,
//! header length, flags and checksum.

use crate::{Result, WireError};
use core::ops::Range;

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
}

/// Offset of the checksum field (what `csum_offset` says for TCP).
pub const TCP_CHECKSUM_OFFSET: usize = 16;
/// Length of a header without options.
pub const TCP_MIN_HEADER_LEN: usize = 20;

/// The flag bits of byte 13.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// A view of a TCP segment over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer holding the whole header, options included.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < TCP_MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.header_len() < TCP_MIN_HEADER_LEN {
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
    fn u16_at(&self, r: Range<usize>) -> u16 {
        match self.buffer.as_ref().get(r) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }
    #[inline]
    fn u32_at(&self, r: Range<usize>) -> u32 {
        match self.buffer.as_ref().get(r) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
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
    #[inline]
    pub fn seq_number(&self) -> u32 {
        self.u32_at(field::SEQ)
    }
    #[inline]
    pub fn ack_number(&self) -> u32 {
        self.u32_at(field::ACK)
    }
    /// Header length in bytes (data offset × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(
            self.buffer
                .as_ref()
                .get(field::DATA_OFF)
                .copied()
                .unwrap_or(0)
                >> 4,
        ) * 4
    }
    /// The eight flag bits (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref().get(field::FLAGS).copied().unwrap_or(0)
    }
    #[inline]
    pub fn window(&self) -> u16 {
        self.u16_at(field::WINDOW)
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_seq_number(&mut self, v: u32) {
        if let Some(s) = self.buffer.as_mut().get_mut(field::SEQ) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn set_flags(&mut self, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::FLAGS) {
            *b = v;
        }
    }
    pub fn set_checksum(&mut self, v: u16) {
        if let Some(s) = self.buffer.as_mut().get_mut(field::CHECKSUM) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SYN of the checksum module's Linux vector (TCP part only).
    const SYN: [u8; 40] = [
        0x9c, 0x40, 0x13, 0x89, 0xf3, 0x85, 0xe6, 0xf6, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x73, 0x99, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x8c, 0x7e,
        0xae, 0x99, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    #[test]
    fn fields() {
        let p = TcpPacket::new_checked(&SYN[..]).expect("valid");
        assert_eq!((p.src_port(), p.dst_port()), (40000, 5001));
        assert_eq!(p.seq_number(), 0xf385_e6f6);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.flags(), flags::SYN);
        assert_eq!((p.window(), p.checksum()), (0xfaf0, 0x7399));
        assert!(p.payload().is_empty());
    }

    #[test]
    fn setters() {
        let mut b = SYN;
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.set_seq_number(0xffff_fff0);
        p.set_flags(flags::ACK | flags::PSH | flags::FIN);
        p.set_checksum(0xbeef);
        assert_eq!(p.seq_number(), 0xffff_fff0);
        assert_eq!(p.flags(), 0x19);
        assert_eq!(p.checksum(), 0xbeef);
        assert_eq!(&b[4..8], &[0xff, 0xff, 0xff, 0xf0]);
    }

    #[test]
    fn malformed_and_short() {
        for n in 0..20 {
            assert_eq!(
                TcpPacket::new_checked(&SYN[..n]).err(),
                Some(WireError::Truncated)
            );
        }
        // Data offset 10 (40 bytes) in a 30-byte buffer; data offset 4.
        assert_eq!(
            TcpPacket::new_checked(&SYN[..30]).err(),
            Some(WireError::Truncated)
        );
        let mut b = SYN;
        b[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).err(),
            Some(WireError::Malformed)
        );
        let p = TcpPacket::new_unchecked(&SYN[..5]);
        assert_eq!((p.seq_number(), p.flags(), p.header_len()), (0, 0, 0));
    }
}
