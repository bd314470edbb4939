//! Binary prefix tries over a 32-bit field (IPv4 source and destination), used by the
//! classifier to skip subtables that cannot match.
//!
//! A flow table keeps one trie per address field holding the prefix of every rule
//! whose mask on that field is a CIDR prefix (`/1` to `/32`). Walking the trie with a
//! packet's address gives the set of prefix lengths `L` for which *some* rule has a
//! prefix equal to the packet's first `L` bits. A subtable whose mask on the field is a
//! `/L` prefix can only match the packet if `L` is in that set; otherwise the subtable
//! is skipped without hashing it.
//!
//! The walk stops at the first bit for which the trie has no branch, after looking at
//! `d + 1` bits (or all 32). Any packet that agrees on those bits walks the same path
//! and gets the same set, so un-wildcarding those bits is enough to make skipping
//! safe for a megaflow — and it is often far fewer bits than the skipped subtables'
//! masks, which makes megaflows wider as well as lookups faster. (Open vSwitch's
//! classifier uses prefix tries the same way; this is a plain one-bit-per-level trie.)
//!
//! Nodes are never freed one by one: a node whose subtree holds no prefix any more has
//! weight 0 and is treated as absent; the trie is rebuilt when such nodes outnumber
//! the live ones.

#[derive(Clone, Copy, Default)]
struct Node {
    child: [u32; 2],
    /// Prefixes at or below this node.
    weight: u32,
    /// Prefixes ending at this node.
    here: u32,
}

/// A multiset of prefixes of a 32-bit field.
#[derive(Clone)]
pub(crate) struct PrefixTrie {
    nodes: Vec<Node>,
    prefixes: usize,
}

impl Default for PrefixTrie {
    fn default() -> Self {
        PrefixTrie {
            nodes: vec![Node::default()],
            prefixes: 0,
        }
    }
}

#[inline(always)]
fn bit(v: u32, depth: u32) -> usize {
    ((v >> (31 - depth)) & 1) as usize
}

impl PrefixTrie {
    /// Adds prefix `value/len` (`len` in 1..=32; bits beyond `len` are ignored).
    pub fn insert(&mut self, value: u32, len: u8) {
        let len = u32::from(len.min(32));
        let mut n = 0usize;
        self.bump(n, 1);
        for d in 0..len {
            let b = bit(value, d);
            let c = self.nodes.get(n).map_or(0, |x| x.child[b]) as usize;
            let c = if c == 0 {
                self.nodes.push(Node::default());
                let c = self.nodes.len() - 1;
                if let Some(x) = self.nodes.get_mut(n) {
                    x.child[b] = c as u32;
                }
                c
            } else {
                c
            };
            n = c;
            self.bump(n, 1);
        }
        if let Some(x) = self.nodes.get_mut(n) {
            x.here += 1;
        }
        self.prefixes += 1;
    }

    /// Removes one copy of prefix `value/len` (which must have been inserted).
    pub fn remove(&mut self, value: u32, len: u8) {
        let len = u32::from(len.min(32));
        let mut n = 0usize;
        self.bump(n, -1);
        for d in 0..len {
            let b = bit(value, d);
            n = self.nodes.get(n).map_or(0, |x| x.child[b]) as usize;
            if n == 0 {
                return;
            }
            self.bump(n, -1);
        }
        if let Some(x) = self.nodes.get_mut(n) {
            x.here = x.here.saturating_sub(1);
        }
        self.prefixes = self.prefixes.saturating_sub(1);
        // Dead nodes more than twice the live prefixes' worth: rebuild.
        if self.nodes.len() > 64 && self.nodes.len() > 66 * (self.prefixes + 1) {
            self.rebuild();
        }
    }

    fn bump(&mut self, n: usize, by: i32) {
        if let Some(x) = self.nodes.get_mut(n) {
            x.weight = x.weight.saturating_add_signed(by);
        }
    }

    fn rebuild(&mut self) {
        let mut out = PrefixTrie::default();
        let mut stack = vec![(0usize, 0u32, 0u32)];
        while let Some((n, value, depth)) = stack.pop() {
            let Some(node) = self.nodes.get(n).copied() else {
                continue;
            };
            for _ in 0..node.here {
                out.insert(value, depth as u8);
            }
            if depth < 32 {
                for b in 0..2 {
                    let c = node.child[b] as usize;
                    if c != 0 && self.nodes.get(c).is_some_and(|x| x.weight > 0) {
                        stack.push((c, value | ((b as u32) << (31 - depth)), depth + 1));
                    }
                }
            }
        }
        *self = out;
    }

    /// Walks the trie with `addr`: bit `L` of the result is set when some prefix of
    /// length `L` (0..=32) equals the first `L` bits of `addr`; the second value is the
    /// number of leading bits of `addr` the walk looked at.
    #[inline]
    pub fn lookup(&self, addr: u32) -> (u64, u32) {
        let mut lens = 0u64;
        let mut n = 0usize;
        for d in 0..32u32 {
            let Some(node) = self.nodes.get(n) else {
                return (lens, d);
            };
            if node.here != 0 {
                lens |= 1 << d;
            }
            let c = node.child[bit(addr, d)] as usize;
            match self.nodes.get(c) {
                Some(x) if c != 0 && x.weight > 0 => n = c,
                _ => return (lens, d + 1),
            }
        }
        if self.nodes.get(n).is_some_and(|x| x.here != 0) {
            lens |= 1 << 32;
        }
        (lens, 32)
    }
}

/// The length of `mask` if it is a CIDR prefix mask (1..=32 leading ones, then zeros).
pub(crate) fn prefix_len(mask: u32) -> Option<u8> {
    let len = mask.leading_ones();
    (len > 0 && mask.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// The mask of the first `bits` bits.
pub(crate) fn prefix_mask(bits: u32) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits.min(32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_consulted_bits() {
        let mut t = PrefixTrie::default();
        t.insert(0x0a00_0000, 8); // 10/8
        t.insert(0x0a01_0000, 16); // 10.1/16
        t.insert(0xc0a8_0100, 24); // 192.168.1/24
                                   // 10.1.2.3 matches /8 and /16; the walk stops below 10.1 (bit 16 has no branch).
        let (lens, bits) = t.lookup(0x0a01_0203);
        assert_eq!(lens, (1 << 8) | (1 << 16));
        assert_eq!(bits, 17);
        // 11.x: the first byte differs at bit 7.
        let (lens, bits) = t.lookup(0x0b00_0000);
        assert_eq!((lens, bits), (0, 8));
        assert_eq!(t.lookup(0xc0a8_01ff).0, 1 << 24);
        t.remove(0x0a01_0000, 16);
        let (lens, bits) = t.lookup(0x0a01_0203);
        assert_eq!((lens, bits), (1 << 8, 9));
        // Duplicates are counted.
        t.insert(0x0a00_0000, 8);
        t.remove(0x0a00_0000, 8);
        assert_eq!(t.lookup(0x0a01_0203).0, 1 << 8);
        t.insert(0x0102_0304, 32);
        assert_eq!(t.lookup(0x0102_0304), (1 << 32, 32));
    }

    #[test]
    fn rebuild_keeps_contents() {
        let mut t = PrefixTrie::default();
        for i in 0..1000u32 {
            t.insert(i.wrapping_mul(0x9e37_79b9), 32);
        }
        t.insert(0x0a00_0000, 8);
        for i in 0..1000u32 {
            t.remove(i.wrapping_mul(0x9e37_79b9), 32);
        }
        assert!(t.nodes.len() < 100, "rebuilt: {}", t.nodes.len());
        assert_eq!(t.lookup(0x0a11_2233).0, 1 << 8);
        assert_eq!(t.prefixes, 1);
    }

    #[test]
    fn cidr() {
        assert_eq!(prefix_len(0xffff_ff00), Some(24));
        assert_eq!(prefix_len(u32::MAX), Some(32));
        assert_eq!(prefix_len(0), None);
        assert_eq!(prefix_len(0xff00_ff00), None);
        assert_eq!(prefix_mask(0), 0);
        assert_eq!(prefix_mask(9), 0xff80_0000);
        assert_eq!(prefix_mask(32), u32::MAX);
    }
}
