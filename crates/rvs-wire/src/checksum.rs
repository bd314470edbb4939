//! The Internet checksum (RFC 1071) and the TCP/UDP pseudo-headers.
//!
//! The ones'-complement sum does not depend on byte order except for a final swap
//! (RFC 1071 §2(B)), so [`Checksum`] adds the data as native-endian 32-bit words into a
//! 64-bit accumulator — a loop the compiler vectorises — and converts once at the end.
//! Data may arrive in pieces of any length: a piece that starts at an odd offset of the
//! checksummed range is byte-swapped before it is added (RFC 1071 §2(C)).
//!
//! Conventions, as on the wire: every `u16` returned is in host order, ready for
//! `to_be_bytes`; [`Checksum::finish`] returns the complemented value that goes into a
//! header field, [`Checksum::fold`] the plain folded sum.

/// Sum of `data` as native-endian 32-bit words (zero-padded at the end), not folded.
/// The 64-bit accumulator cannot overflow below 2^32 words (16 GiB).
#[inline]
fn native_sum(data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    let mut acc: u64 = 0;
    for c in &mut chunks {
        acc += u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 4];
        last[..rest.len()].copy_from_slice(rest);
        acc += u64::from(u32::from_ne_bytes(last));
    }
    acc
}

/// Folds a 64-bit ones'-complement accumulator to 16 bits (end-around carries).
#[inline]
const fn fold64(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// A running Internet checksum over data added in pieces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Sum of 16-bit big-endian words, with carries still to fold.
    acc: u64,
    /// The bytes added so far are odd in number: the next piece starts at an odd offset.
    odd: bool,
}

impl Checksum {
    pub const fn new() -> Self {
        Checksum { acc: 0, odd: false }
    }

    /// Adds `data`, which follows everything added before.
    #[inline]
    pub fn add(&mut self, data: &[u8]) {
        let native = fold64(native_sum(data));
        // The native-order sum of 16-bit words is the big-endian sum, byte-swapped on a
        // little-endian host; a piece starting at an odd offset is swapped once more.
        let mut be = u16::from_be(native);
        if self.odd {
            be = be.swap_bytes();
        }
        self.acc += u64::from(be);
        if data.len() % 2 == 1 {
            self.odd = !self.odd;
        }
    }

    /// Adds one 16-bit word at an even offset (header fields, pseudo-header words).
    #[inline]
    pub fn add_u16(&mut self, word: u16) {
        self.acc += u64::from(word);
    }

    /// Adds a 32-bit value as two 16-bit words.
    #[inline]
    pub fn add_u32(&mut self, v: u32) {
        self.acc += u64::from(v >> 16) + u64::from(v & 0xffff);
    }

    /// Adds a partial sum computed elsewhere (e.g. by [`Checksum::fold`]).
    #[inline]
    pub fn add_sum(&mut self, other: Checksum) {
        self.acc += u64::from(other.fold());
    }

    /// The folded ones'-complement sum (not complemented).
    #[inline]
    pub fn fold(&self) -> u16 {
        fold64(self.acc)
    }

    /// The value for a checksum field: the complement of the folded sum.
    #[inline]
    pub fn finish(&self) -> u16 {
        !self.fold()
    }
}

/// Checksum field value for `data` alone (e.g. an IPv4 header whose checksum field is zero).
pub fn checksum(data: &[u8]) -> u16 {
    let mut c = Checksum::new();
    c.add(data);
    c.finish()
}

/// Whether `data`, checksum field included, sums to all ones (the field is correct).
pub fn verify(data: &[u8]) -> bool {
    let mut c = Checksum::new();
    c.add(data);
    c.fold() == 0xffff
}

/// IP protocol numbers used with the pseudo-headers.
pub mod proto {
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
}

/// The IPv4 pseudo-header (RFC 793 §3.1, RFC 768): addresses, protocol, L4 length.
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, l4_len: u16) -> Checksum {
    let mut c = Checksum::new();
    c.add(&src);
    c.add(&dst);
    c.add_u16(u16::from(protocol));
    c.add_u16(l4_len);
    c
}

/// The IPv6 pseudo-header (RFC 8200 §8.1): addresses, upper-layer length, next header.
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, l4_len: u32) -> Checksum {
    let mut c = Checksum::new();
    c.add(&src);
    c.add(&dst);
    c.add_u32(l4_len);
    c.add_u16(u16::from(next_header));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071's definition, one big-endian word at a time: the reference.
    fn naive(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for pair in data.chunks(2) {
            let w = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        let mut c = Checksum::new();
        c.add(&d);
        assert_eq!(c.fold(), 0xddf2);
        assert_eq!(checksum(&d), 0x220d);
    }

    #[test]
    fn ipv4_header_vector() {
        // A textbook IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199), checksum b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert!(verify(&h));
        h[15] ^= 1;
        assert!(!verify(&h));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// Frames that Linux 6.18 sent from a veth with transmit checksum offload off (so the
    /// kernel computed every checksum), captured with AF_PACKET on the peer.
    const UDP4: &str = "d23bc80c3df42a7e881a2b4c08004500002ea5064000401181a40a0900010a0900029c41138a001a68a468656c6c6f2072767320636865636b73756d";
    const UDP6: &str = "d23bc80c3df42a7e881a2b4c86dd6003c172001b1140fd000000000000000000000000000001fd0000000000000000000000000000029c41138a001b61b268656c6c6f2072767320636865636b73756d21";
    const TCP4_SYN: &str = "d23bc80c3df42a7e881a2b4c08004500003cce914000400658160a0900010a0900029c401389f385e6f600000000a002faf073990000020405b40402080a8c7eae99000000000103030a";

    /// Recomputes the L4 checksum of a captured IPv4 frame (field zeroed) and compares.
    fn recompute_v4(frame: &[u8], field: usize) -> (u16, u16) {
        let ip = &frame[14..34];
        let l4 = &frame[34..];
        let stored = u16::from_be_bytes([l4[field], l4[field + 1]]);
        let mut zeroed = l4.to_vec();
        zeroed[field..field + 2].copy_from_slice(&[0, 0]);
        let src = [ip[12], ip[13], ip[14], ip[15]];
        let dst = [ip[16], ip[17], ip[18], ip[19]];
        let mut c = pseudo_header_v4(src, dst, ip[9], l4.len() as u16);
        c.add(&zeroed);
        assert_eq!(c.finish(), naive_l4_v4(src, dst, ip[9], &zeroed));
        (c.finish(), stored)
    }

    #[test]
    fn linux_vectors_ipv4() {
        let udp = hex(UDP4);
        assert_eq!(checksum(&udp[14..34]), 0, "IPv4 header checksum verifies");
        assert!(verify(&udp[14..34]));
        let (ours, kernel) = recompute_v4(&udp, 6);
        assert_eq!((ours, kernel), (0x68a4, 0x68a4));
        let syn = hex(TCP4_SYN);
        assert!(verify(&syn[14..34]));
        let (ours, kernel) = recompute_v4(&syn, 16);
        assert_eq!((ours, kernel), (0x7399, 0x7399));
    }

    #[test]
    fn linux_vector_ipv6() {
        let f = hex(UDP6);
        let ip = &f[14..54];
        let l4 = &f[54..];
        let src: [u8; 16] = ip[8..24].try_into().expect("16");
        let dst: [u8; 16] = ip[24..40].try_into().expect("16");
        let mut zeroed = l4.to_vec();
        zeroed[6..8].copy_from_slice(&[0, 0]);
        let mut c = pseudo_header_v6(src, dst, ip[6], l4.len() as u32);
        c.add(&zeroed);
        assert_eq!(c.finish(), 0x61b2);
        // Verifying the stored value: the full sum is all ones.
        let mut v = pseudo_header_v6(src, dst, ip[6], l4.len() as u32);
        v.add(l4);
        assert_eq!(v.fold(), 0xffff);
    }

    fn naive_l4_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, seg: &[u8]) -> u16 {
        let mut all = Vec::new();
        all.extend_from_slice(&src);
        all.extend_from_slice(&dst);
        all.extend_from_slice(&[0, protocol]);
        all.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        all.extend_from_slice(seg);
        !naive(&all)
    }

    #[test]
    fn ipv6_pseudo_header_layout() {
        // The v6 pseudo-header is src, dst, 32-bit length, 3 zero bytes, next header.
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut flat = Vec::new();
        flat.extend_from_slice(&src);
        flat.extend_from_slice(&dst);
        flat.extend_from_slice(&70000u32.to_be_bytes());
        flat.extend_from_slice(&[0, 0, 0, proto::UDP]);
        assert_eq!(
            pseudo_header_v6(src, dst, proto::UDP, 70000).fold(),
            naive(&flat)
        );
    }

    proptest! {
        #[test]
        fn matches_naive_over_any_split(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                        cuts in proptest::collection::vec(any::<usize>(), 0..5)) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            points.sort_unstable();
            let mut c = Checksum::new();
            let mut prev = 0;
            for p in points.into_iter().chain([data.len()]) {
                c.add(&data[prev..p]);
                prev = p;
            }
            prop_assert_eq!(c.fold(), naive(&data));
        }
    }
}
