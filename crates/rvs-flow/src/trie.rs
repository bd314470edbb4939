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
//! The trie consumes 4 bits per level (at most 8 dependent loads per walk); prefixes
//! whose length is not a multiple of 4 are kept as bits inside the node where they end.
//! The walk stops at the first level with no branch for the packet's next 4 bits,
//! after looking at `d` bits (a multiple of 4, at most 32). Any packet that agrees on those bits walks the same path
//! and gets the same set, so un-wildcarding those bits is enough to make skipping
//! safe for a megaflow — and it is often far fewer bits than the skipped subtables'
//! masks, which makes megaflows wider as well as lookups faster. (Open vSwitch's
//! classifier uses prefix tries the same way, one bit per level; the 4-bit stride
//! here trades up to 3 more un-wildcarded bits for a quarter of the levels.)
//!
//! Nodes are never freed one by one: a node whose subtree holds no prefix any more has
//! weight 0 and is treated as absent; the trie is rebuilt when such nodes outnumber
//! the live ones.

/// Bits consumed per trie level.
const STRIDE: u32 = 4;
const FANOUT: usize = 1 << STRIDE;

/// What a walk reads: 72 bytes.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Node {
    /// Prefixes at or below this node.
    weight: u32,
    /// Prefixes ending inside this node: for length `depth + j` (j in 1..=4) and the
    /// j-bit pattern `p` that follows the node's path, bit `(1 << j) - 2 + p`.
    internal: u32,
    /// Children by the next 4 bits (0 = none).
    child: [u32; FANOUT],
}

/// How many prefixes share each internal bit of a node (for removal), kept apart
/// from the nodes so walks do not load them.
type Counts = [u32; 30];

#[inline(always)]
fn internal_bit(j: u32, pattern: u32) -> u32 {
    (1 << j) - 2 + pattern
}

/// The 4 bits of `v` after the first `depth` bits (zero-padded past bit 31).
#[inline(always)]
fn chunk(v: u32, depth: u32) -> usize {
    ((u64::from(v) << 32 >> (60 - depth)) & (FANOUT as u64 - 1)) as usize
}

/// A multiset of prefixes of a 32-bit field, in a trie of 4-bit strides (at most 8
/// levels, so a walk is at most 8 dependent loads). Prefixes whose length is not a
/// multiple of 4 are stored inside the node where they end, as bits of `internal`.
#[derive(Clone)]
pub(crate) struct PrefixTrie {
    nodes: Vec<Node>,
    counts: Vec<Counts>,
    prefixes: usize,
}

impl Default for PrefixTrie {
    fn default() -> Self {
        PrefixTrie {
            nodes: vec![Node::default()],
            counts: vec![[0; 30]],
            prefixes: 0,
        }
    }
}

impl PrefixTrie {
    /// Adds prefix `value/len` (`len` in 1..=32; bits beyond `len` are ignored).
    pub fn insert(&mut self, value: u32, len: u8) {
        let len = u32::from(len.clamp(1, 32));
        let mut n = 0usize;
        let mut depth = 0;
        loop {
            if let Some(x) = self.nodes.get_mut(n) {
                x.weight += 1;
            }
            let j = len - depth;
            if j <= STRIDE {
                let pattern = (chunk(value, depth) >> (STRIDE - j)) as u32;
                let b = internal_bit(j, pattern);
                if let Some(x) = self.nodes.get_mut(n) {
                    x.internal |= 1 << b;
                }
                if let Some(c) = self.counts.get_mut(n).and_then(|c| c.get_mut(b as usize)) {
                    *c += 1;
                }
                break;
            }
            let c = chunk(value, depth);
            let next = self.nodes.get(n).map_or(0, |x| x.child[c]) as usize;
            n = if next == 0 {
                self.nodes.push(Node::default());
                self.counts.push([0; 30]);
                let new = self.nodes.len() - 1;
                if let Some(x) = self.nodes.get_mut(n) {
                    x.child[c] = new as u32;
                }
                new
            } else {
                next
            };
            depth += STRIDE;
        }
        self.prefixes += 1;
    }

    /// Removes one copy of prefix `value/len` (which must have been inserted).
    pub fn remove(&mut self, value: u32, len: u8) {
        let len = u32::from(len.clamp(1, 32));
        let mut n = 0usize;
        let mut depth = 0;
        loop {
            if let Some(x) = self.nodes.get_mut(n) {
                x.weight = x.weight.saturating_sub(1);
            }
            let j = len - depth;
            if j <= STRIDE {
                let pattern = (chunk(value, depth) >> (STRIDE - j)) as u32;
                let b = internal_bit(j, pattern);
                let left = match self.counts.get_mut(n).and_then(|c| c.get_mut(b as usize)) {
                    Some(c) => {
                        *c = c.saturating_sub(1);
                        *c
                    }
                    None => 0,
                };
                if left == 0 {
                    if let Some(x) = self.nodes.get_mut(n) {
                        x.internal &= !(1 << b);
                    }
                }
                break;
            }
            n = self
                .nodes
                .get(n)
                .map_or(0, |x| x.child[chunk(value, depth)]) as usize;
            if n == 0 {
                return;
            }
            depth += STRIDE;
        }
        self.prefixes = self.prefixes.saturating_sub(1);
        // Dead nodes far outnumber what the live prefixes need: rebuild.
        if self.nodes.len() > 64 && self.nodes.len() > 9 * (self.prefixes + 1) {
            self.rebuild();
        }
    }

    fn rebuild(&mut self) {
        let mut out = PrefixTrie::default();
        let mut stack = vec![(0usize, 0u32, 0u32)];
        while let Some((n, value, depth)) = stack.pop() {
            let (Some(node), Some(counts)) = (self.nodes.get(n), self.counts.get(n)) else {
                continue;
            };
            for j in 1..=STRIDE {
                for pattern in 0..(1u32 << j) {
                    let b = internal_bit(j, pattern);
                    let count = counts.get(b as usize).copied().unwrap_or(0);
                    let shift = 32u32.saturating_sub(depth + j);
                    let v = value | pattern.checked_shl(shift).unwrap_or(0);
                    for _ in 0..count {
                        out.insert(v, (depth + j) as u8);
                    }
                }
            }
            if depth + STRIDE < 32 {
                for (c, &child) in node.child.iter().enumerate() {
                    if child != 0 && self.nodes.get(child as usize).is_some_and(|x| x.weight > 0) {
                        let v = value | ((c as u32) << (32 - depth - STRIDE));
                        stack.push((child as usize, v, depth + STRIDE));
                    }
                }
            }
        }
        *self = out;
    }

    /// Walks the trie with `addr`: bit `L` of the result is set when some prefix of
    /// length `L` (1..=32) equals the first `L` bits of `addr`; the second value is the
    /// number of leading bits of `addr` the walk looked at (a multiple of 4).
    #[inline]
    pub fn lookup(&self, addr: u32) -> (u64, u32) {
        let mut lens = 0u64;
        let mut n = 0usize;
        let mut depth = 0u32;
        loop {
            let Some(node) = self.nodes.get(n) else {
                return (lens, depth);
            };
            let c = chunk(addr, depth);
            if node.internal != 0 {
                for j in 1..=STRIDE {
                    if node.internal & (1 << internal_bit(j, c as u32 >> (STRIDE - j))) != 0 {
                        lens |= 1 << (depth + j);
                    }
                }
            }
            let next = node.child[c] as usize;
            depth += STRIDE;
            match self.nodes.get(next) {
                Some(x) if next != 0 && x.weight > 0 && depth < 32 => n = next,
                _ => return (lens, depth.min(32)),
            }
        }
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
                                   // 10.1.2.3 matches /8 and /16; the walk stops below 10.1 (no 4-bit branch
                                   // for the "0" nibble of 2 after 10.1: the /16 ends in the node at depth 12).
        let (lens, bits) = t.lookup(0x0a01_0203);
        assert_eq!(lens, (1 << 8) | (1 << 16));
        assert_eq!(bits, 16);
        // 11.x: the first byte differs in its second nibble.
        let (lens, bits) = t.lookup(0x0b00_0000);
        assert_eq!((lens, bits), (0, 8));
        assert_eq!(t.lookup(0xc0a8_01ff).0, 1 << 24);
        t.remove(0x0a01_0000, 16);
        let (lens, bits) = t.lookup(0x0a01_0203);
        assert_eq!((lens, bits), (1 << 8, 8));
        // Lengths that are not multiples of the stride.
        t.insert(0x0a80_0000, 9); // 10.128/9
        t.insert(0x0a00_0000, 7); // 10/7 (also 11/7)
        assert_eq!(t.lookup(0x0a81_0000).0, (1 << 7) | (1 << 8) | (1 << 9));
        assert_eq!(t.lookup(0x0b00_0000).0, 1 << 7);
        assert_eq!(t.lookup(0x0a7f_0000).0, (1 << 7) | (1 << 8));
        t.remove(0x0a00_0000, 7);
        assert_eq!(t.lookup(0x0b00_0000).0, 0);
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
        // Every length survives a rebuild.
        let mut u = PrefixTrie::default();
        for len in 1..=32u8 {
            u.insert(0xdead_beef & prefix_mask(u32::from(len)), len);
        }
        for i in 0..200u32 {
            u.insert(i << 8, 24);
        }
        for i in 0..200u32 {
            u.remove(i << 8, 24);
        }
        assert_eq!(u.lookup(0xdead_beef).0, ((1u64 << 33) - 1) & !1);
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
