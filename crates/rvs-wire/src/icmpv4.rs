//! ICMPv4 messages (RFC 792): the type and code that OpenFlow matches.

use crate::{Result, WireError};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: core::ops::Range<usize> = 2..4;
}

/// Type, code and checksum: what every ICMP message starts with.
pub const ICMPV4_MIN_LEN: usize = 4;

/// Common ICMPv4 message types.
pub mod msg_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
}

/// A view of an ICMPv4 message over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ICMPV4_MIN_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref().get(field::TYPE).copied().unwrap_or(0)
    }
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref().get(field::CODE).copied().unwrap_or(0)
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        match self.buffer.as_ref().get(field::CHECKSUM) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo request (ping) header: type 8, code 0, checksum, id 1, seq 1.
    const ECHO: [u8; 8] = [0x08, 0x00, 0xf7, 0xfd, 0x00, 0x01, 0x00, 0x01];

    #[test]
    fn deconstruct() {
        let p = Icmpv4Packet::new_checked(&ECHO[..]).expect("valid");
        assert_eq!(
            (p.msg_type(), p.msg_code(), p.checksum()),
            (msg_type::ECHO_REQUEST, 0, 0xf7fd)
        );
        assert!(crate::checksum::verify(&ECHO));
    }

    #[test]
    fn short() {
        for n in 0..ICMPV4_MIN_LEN {
            assert_eq!(
                Icmpv4Packet::new_checked(&ECHO[..n]).err(),
                Some(WireError::Truncated)
            );
        }
        let p = Icmpv4Packet::new_unchecked(&ECHO[..1]);
        assert_eq!((p.msg_type(), p.msg_code()), (8, 0));
    }
}
