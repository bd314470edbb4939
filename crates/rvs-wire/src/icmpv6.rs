//! ICMPv6 messages (RFC 4443) and the Neighbor Discovery messages OpenFlow matches
//! (RFC 4861): neighbor solicitation and advertisement, their target address and their
//! source/target link-layer address options.

use crate::{Result, WireError};
use core::ops::Range;

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// NS/NA: 4 bytes of flags/reserved, then the target address.
    pub const ND_TARGET: Range<usize> = 8..24;
    pub const ND_OPTIONS: usize = 24;
}

/// Type, code and checksum.
pub const ICMPV6_MIN_LEN: usize = 4;
/// A neighbor solicitation or advertisement without options.
pub const ND_MIN_LEN: usize = 24;

/// ICMPv6 message types.
pub mod msg_type {
    pub const DEST_UNREACHABLE: u8 = 1;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
}

/// Neighbor Discovery option types.
pub mod nd_option {
    pub const SOURCE_LL_ADDR: u8 = 1;
    pub const TARGET_LL_ADDR: u8 = 2;
}

/// A view of an ICMPv6 message over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ICMPV6_MIN_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }
    #[inline]
    fn range(&self, r: Range<usize>) -> &[u8] {
        self.buffer.as_ref().get(r).unwrap_or(&[])
    }

    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.byte(field::TYPE)
    }
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.byte(field::CODE)
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        match self.range(field::CHECKSUM) {
            &[a, b] => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }

    /// A neighbor solicitation or advertisement (code 0) long enough for its target.
    #[inline]
    pub fn is_neighbor_discovery(&self) -> bool {
        matches!(
            self.msg_type(),
            msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT
        ) && self.msg_code() == 0
            && self.buffer.as_ref().len() >= ND_MIN_LEN
    }

    /// The target address of a neighbor solicitation/advertisement (zeros when short).
    #[inline]
    pub fn nd_target(&self) -> [u8; 16] {
        self.range(field::ND_TARGET).try_into().unwrap_or([0; 16])
    }

    /// The options of a neighbor solicitation/advertisement.
    pub fn nd_options(&self) -> NdOptions<'_> {
        NdOptions {
            rest: self.buffer.as_ref().get(field::ND_OPTIONS..).unwrap_or(&[]),
        }
    }
}

/// One Neighbor Discovery option: its type and its data (after type and length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdOption<'a> {
    pub option_type: u8,
    pub data: &'a [u8],
}

impl NdOption<'_> {
    /// The link-layer address of a source/target link-layer address option on
    /// Ethernet (an option of length 1: 6 address bytes).
    pub fn link_layer_addr(&self) -> Option<[u8; 6]> {
        match self.option_type {
            nd_option::SOURCE_LL_ADDR | nd_option::TARGET_LL_ADDR if self.data.len() == 6 => {
                self.data.try_into().ok()
            }
            _ => None,
        }
    }
}

/// Iterator over ND options. Yields `Err(Malformed)` once (then stops) for an option of
/// length zero or one that runs past the buffer, as RFC 4861 asks receivers to discard
/// such messages.
#[derive(Debug, Clone)]
pub struct NdOptions<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = Result<NdOption<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let (Some(&option_type), Some(&len)) = (rest.first(), rest.get(1)) else {
            return Some(Err(WireError::Truncated));
        };
        let total = usize::from(len) * 8;
        if total == 0 {
            return Some(Err(WireError::Malformed));
        }
        let Some(opt) = rest.get(..total) else {
            return Some(Err(WireError::Truncated));
        };
        self.rest = rest.get(total..).unwrap_or(&[]);
        Some(Ok(NdOption {
            option_type,
            data: opt.get(2..).unwrap_or(&[]),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neighbor solicitation for fe80::1 with a source link-layer address option
    /// (checksum left zero: views do not check it).
    fn ns() -> Vec<u8> {
        let mut v = vec![135, 0, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&[1, 1, 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]);
        v
    }

    #[test]
    fn neighbor_solicitation() {
        let b = ns();
        let p = Icmpv6Packet::new_checked(&b[..]).expect("valid");
        assert_eq!((p.msg_type(), p.msg_code()), (135, 0));
        assert!(p.is_neighbor_discovery());
        assert_eq!(p.nd_target()[0], 0xfe);
        assert_eq!(p.nd_target()[15], 1);
        let opts: Vec<_> = p.nd_options().collect();
        assert_eq!(opts.len(), 1);
        let o = opts[0].expect("option");
        assert_eq!(o.option_type, nd_option::SOURCE_LL_ADDR);
        assert_eq!(o.link_layer_addr(), Some([0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]));
    }

    #[test]
    fn malformed_options() {
        let mut zero = ns();
        zero[25] = 0;
        let p = Icmpv6Packet::new_checked(&zero[..]).expect("valid");
        assert_eq!(
            p.nd_options().collect::<Vec<_>>(),
            vec![Err(WireError::Malformed)]
        );
        let mut long = ns();
        long[25] = 2;
        let p = Icmpv6Packet::new_checked(&long[..]).expect("valid");
        assert_eq!(
            p.nd_options().collect::<Vec<_>>(),
            vec![Err(WireError::Truncated)]
        );
        let b = ns();
        let p = Icmpv6Packet::new_checked(&b[..25]).expect("valid");
        assert_eq!(
            p.nd_options().collect::<Vec<_>>(),
            vec![Err(WireError::Truncated)]
        );
    }

    #[test]
    fn echo_and_short() {
        let echo = [128u8, 0, 0x12, 0x34, 0, 1, 0, 1];
        let p = Icmpv6Packet::new_checked(&echo[..]).expect("valid");
        assert_eq!(
            (p.msg_type(), p.checksum()),
            (msg_type::ECHO_REQUEST, 0x1234)
        );
        assert!(!p.is_neighbor_discovery());
        assert_eq!(p.nd_target(), [0; 16]);
        for n in 0..ICMPV6_MIN_LEN {
            assert_eq!(
                Icmpv6Packet::new_checked(&echo[..n]).err(),
                Some(WireError::Truncated)
            );
        }
        // An NS cut before the end of its target is not ND.
        let b = ns();
        assert!(!Icmpv6Packet::new_unchecked(&b[..20]).is_neighbor_discovery());
    }
}
