//! MPLS label stack entries (RFC 3032): `label(20) | tc(3) | bos(1) | ttl(8)`.

use crate::{Result, WireError};

/// Length of one label stack entry.
pub const MPLS_LSE_LEN: usize = 4;

/// A view of the top label stack entry over a byte buffer (the MPLS payload of an
/// Ethernet frame with EtherType 0x8847 or 0x8848).
#[derive(Debug, Clone, Copy)]
pub struct MplsPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MplsPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        MplsPacket { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < MPLS_LSE_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole 32-bit entry (zero when short).
    #[inline]
    pub fn lse(&self) -> u32 {
        match self.buffer.as_ref().get(..MPLS_LSE_LEN) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        }
    }
    #[inline]
    pub fn label(&self) -> u32 {
        self.lse() >> 12
    }
    /// Traffic class (formerly EXP).
    #[inline]
    pub fn tc(&self) -> u8 {
        ((self.lse() >> 9) & 0x7) as u8
    }
    /// Bottom of stack.
    #[inline]
    pub fn bos(&self) -> bool {
        self.lse() & 0x100 != 0
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        (self.lse() & 0xff) as u8
    }
    /// What follows this entry.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(MPLS_LSE_LEN..).unwrap_or(&[])
    }
}

/// One label stack entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplsRepr {
    pub label: u32,
    pub tc: u8,
    pub bos: bool,
    pub ttl: u8,
}

impl MplsRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &MplsPacket<T>) -> Result<Self> {
        p.check_len()?;
        Ok(MplsRepr {
            label: p.label(),
            tc: p.tc(),
            bos: p.bos(),
            ttl: p.ttl(),
        })
    }
    /// The 32-bit entry (label and tc truncated to their widths).
    pub const fn lse(&self) -> u32 {
        ((self.label & 0xf_ffff) << 12)
            | ((self.tc as u32 & 0x7) << 9)
            | ((self.bos as u32) << 8)
            | self.ttl as u32
    }
    pub const fn buffer_len(&self) -> usize {
        MPLS_LSE_LEN
    }
    /// Writes the entry into the first 4 bytes of `buf` (nothing when shorter).
    pub fn emit(&self, buf: &mut [u8]) {
        if let Some(b) = buf.get_mut(..MPLS_LSE_LEN) {
            b.copy_from_slice(&self.lse().to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Label 16, TC 5, bottom of stack, TTL 64.
    const LSE: [u8; 6] = [0x00, 0x01, 0x0b, 0x40, 0x45, 0x00];

    #[test]
    fn deconstruct_and_roundtrip() {
        let p = MplsPacket::new_checked(&LSE[..]).expect("valid");
        assert_eq!((p.label(), p.tc(), p.bos(), p.ttl()), (16, 5, true, 64));
        assert_eq!(p.payload(), &[0x45, 0x00]);
        let r = MplsRepr::parse(&p).expect("parse");
        let mut b = [0u8; 4];
        r.emit(&mut b);
        assert_eq!(b, LSE[..4]);
        assert_eq!(r.buffer_len(), 4);
    }

    #[test]
    fn short() {
        for n in 0..4 {
            assert_eq!(
                MplsPacket::new_checked(&LSE[..n]).err(),
                Some(WireError::Truncated)
            );
        }
        assert_eq!(MplsPacket::new_unchecked(&LSE[..2]).lse(), 0);
    }
}
