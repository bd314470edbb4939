//! SCTP common headers (RFC 9260): the ports that OpenFlow matches.

use crate::{Result, WireError};

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const VERIFICATION_TAG: Range<usize> = 4..8;
}

/// Length of the common header (ports, verification tag, checksum).
pub const SCTP_HEADER_LEN: usize = 12;

/// A view of an SCTP packet over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct SctpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SctpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        SctpPacket { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < SCTP_HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
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
    #[inline]
    pub fn verification_tag(&self) -> u32 {
        match self.buffer.as_ref().get(field::VERIFICATION_TAG) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HDR: [u8; 12] = [0x0b, 0x59, 0x0b, 0x59, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0];

    #[test]
    fn deconstruct_and_short() {
        let p = SctpPacket::new_checked(&HDR[..]).expect("valid");
        assert_eq!((p.src_port(), p.dst_port()), (2905, 2905));
        assert_eq!(p.verification_tag(), 0xdead_beef);
        for n in 0..SCTP_HEADER_LEN {
            assert_eq!(
                SctpPacket::new_checked(&HDR[..n]).err(),
                Some(WireError::Truncated)
            );
        }
    }
}
