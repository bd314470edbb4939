//! IPv6 headers (RFC 8200), as far as segmentation and checksum offload need them:
//! the fixed header and a walk over the extension headers that may precede TCP or UDP.

use crate::{Result, WireError};
use core::ops::Range;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: usize = 0;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;

/// Extension headers that [`Ipv6Packet::upper_layer`] steps over.
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const DEST_OPTS: u8 = 60;
}

/// At most this many extension headers are walked (a guard against crafted chains).
const MAX_EXT_HEADERS: usize = 8;

/// A view of an IPv6 packet over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer holding at least the fixed header, with version 6.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < IPV6_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 6 {
            return Err(WireError::Malformed);
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
    fn addr(&self, r: Range<usize>) -> [u8; 16] {
        self.buffer
            .as_ref()
            .get(r)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 16])
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.byte(field::VER_TC_FLOW) >> 4
    }
    /// Traffic class: DSCP in the top 6 bits, ECN in the low 2.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.byte(0) << 4) | (self.byte(1) >> 4)
    }
    /// The 20-bit flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        (u32::from(self.byte(1) & 0x0f) << 16)
            | (u32::from(self.byte(2)) << 8)
            | u32::from(self.byte(3))
    }
    #[inline]
    pub fn payload_len(&self) -> u16 {
        match self.buffer.as_ref().get(field::PAYLOAD_LEN) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.byte(field::NEXT_HEADER)
    }
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.byte(field::HOP_LIMIT)
    }
    #[inline]
    pub fn src_addr(&self) -> [u8; 16] {
        self.addr(field::SRC)
    }
    #[inline]
    pub fn dst_addr(&self) -> [u8; 16] {
        self.addr(field::DST)
    }

    /// The first header that is not a hop-by-hop, routing or destination-options header:
    /// its protocol number and its offset from the start of the IPv6 header. A fragment
    /// header is returned as such (its payload is not a whole upper-layer packet).
    pub fn upper_layer(&self) -> Result<(u8, usize)> {
        let buf = self.buffer.as_ref();
        let mut nh = self.next_header();
        let mut off = IPV6_HEADER_LEN;
        for _ in 0..MAX_EXT_HEADERS {
            match nh {
                next_header::HOP_BY_HOP | next_header::ROUTING | next_header::DEST_OPTS => {
                    let (Some(&next), Some(&len)) = (buf.get(off), buf.get(off + 1)) else {
                        return Err(WireError::Truncated);
                    };
                    nh = next;
                    off += (usize::from(len) + 1) * 8;
                }
                _ => return Ok((nh, off)),
            }
        }
        Err(WireError::Malformed)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    pub fn set_payload_len(&mut self, v: u16) {
        if let Some(s) = self.buffer.as_mut().get_mut(field::PAYLOAD_LEN) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload_len: u16) -> Vec<u8> {
        let mut h = vec![0x60, 0x01, 0x23, 0x45];
        h.extend_from_slice(&payload_len.to_be_bytes());
        h.extend_from_slice(&[next, 64]);
        h.extend((0..16).map(|i| 0x20 + i));
        h.extend((0..16).map(|i| 0x40 + i));
        h
    }

    #[test]
    fn fields_and_setter() {
        let mut h = header(6, 1460);
        let p = Ipv6Packet::new_checked(&h[..]).expect("valid");
        assert_eq!(p.version(), 6);
        assert_eq!((p.traffic_class(), p.flow_label()), (0x00, 0x12345));
        let mut tc = header(6, 0);
        tc[0] = 0x6b;
        tc[1] = 0x81;
        let q = Ipv6Packet::new_checked(&tc[..]).expect("valid");
        assert_eq!((q.traffic_class(), q.flow_label()), (0xb8, 0x12345));
        assert_eq!(
            (p.payload_len(), p.next_header(), p.hop_limit()),
            (1460, 6, 64)
        );
        assert_eq!(p.src_addr()[0], 0x20);
        assert_eq!(p.dst_addr()[15], 0x4f);
        assert_eq!(p.upper_layer(), Ok((6, 40)));
        let mut m = Ipv6Packet::new_unchecked(&mut h[..]);
        m.set_payload_len(9000);
        assert_eq!(m.payload_len(), 9000);
    }

    #[test]
    fn extension_headers_are_walked() {
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then TCP.
        let mut h = header(next_header::HOP_BY_HOP, 0);
        h.extend_from_slice(&[next_header::DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]);
        h.extend_from_slice(&[6, 1]);
        h.extend_from_slice(&[0; 14]);
        let p = Ipv6Packet::new_checked(&h[..]).expect("valid");
        assert_eq!(p.upper_layer(), Ok((6, 40 + 8 + 16)));
        // A fragment header stops the walk.
        let f = header(next_header::FRAGMENT, 0);
        assert_eq!(
            Ipv6Packet::new_checked(&f[..])
                .expect("valid")
                .upper_layer(),
            Ok((next_header::FRAGMENT, 40))
        );
        // A chain cut short.
        let t = header(next_header::ROUTING, 0);
        assert_eq!(
            Ipv6Packet::new_checked(&t[..])
                .expect("valid")
                .upper_layer(),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn malformed_and_short() {
        let h = header(6, 0);
        for n in 0..40 {
            assert_eq!(
                Ipv6Packet::new_checked(&h[..n]).err(),
                Some(WireError::Truncated)
            );
        }
        let mut v4 = h.clone();
        v4[0] = 0x45;
        assert_eq!(
            Ipv6Packet::new_checked(&v4[..]).err(),
            Some(WireError::Malformed)
        );
        let p = Ipv6Packet::new_unchecked(&h[..2]);
        assert_eq!((p.payload_len(), p.src_addr()), (0, [0; 16]));
    }
}
