//! The word hash used by every table in this crate.
//!
//! Keys are arrays of `u64` words, so the hash consumes words, never bytes: each word is
//! folded into the state with one 64×64→128-bit multiply whose halves are XORed (the
//! "folded multiply" of the wyhash/foldhash family, written here from that idea). One
//! multiply per word is enough for hash tables whose adversary is the traffic mix, not
//! an attacker who can choose keys to collide: a per-process random seed would be the
//! next step if that changes (see the crate README).

use core::hash::{BuildHasher, Hasher};

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xd6e8_feb8_6659_fd93;
const SEED: u64 = 0x2d35_8dcc_aa6c_78a5;

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Adds one word to a running hash.
#[inline(always)]
pub fn mix(h: u64, w: u64) -> u64 {
    fold(h ^ w, K0)
}

/// One multiply of a word, independent of the running state, for hashes whose words
/// are combined by rotate-xor and then [`finish`]ed.
#[inline(always)]
pub fn spread(w: u64) -> u64 {
    (w ^ K1).wrapping_mul(K0)
}

/// The initial state.
#[inline(always)]
pub const fn start() -> u64 {
    SEED
}

/// Final avalanche.
#[inline(always)]
pub fn finish(h: u64) -> u64 {
    fold(h, K1)
}

/// Hash of a whole word array. Words are taken in pairs, each pair XORed with
/// constants for its position and multiplied together (one 128-bit product mixes both
/// words), so the multiplies run in parallel instead of in a chain; the products are
/// combined by XOR and folded once more.
#[inline]
pub fn hash_words<const N: usize>(w: &[u64; N]) -> u64 {
    let mut acc = SEED;
    let mut i = 0;
    while i + 1 < N {
        acc ^= fold(w[i] ^ position(i), w[i + 1] ^ position(i + 1));
        i += 2;
    }
    if i < N {
        acc ^= fold(w[i] ^ position(i), K0);
    }
    finish(acc)
}

/// A distinct constant per word position.
#[inline(always)]
const fn position(i: usize) -> u64 {
    K1.wrapping_mul(i as u64 + 1).rotate_left(17)
}

/// A [`Hasher`] that passes through a hash computed beforehand (written with
/// `write_u64`), for `HashMap`s whose keys carry their own hash.
#[derive(Default, Clone, Copy)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only used by keys that do not carry a hash (never on the fast path).
        for &b in bytes {
            self.0 = mix(self.0, u64::from(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// [`BuildHasher`] for [`PassThrough`].
#[derive(Default, Clone, Copy)]
pub struct BuildPassThrough;

impl BuildHasher for BuildPassThrough {
    type Hasher = PassThrough;
    #[inline]
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn distinct_small_keys_hash_apart() {
        let mut seen = HashSet::new();
        for i in 0..4096u64 {
            let mut w = [0u64; 16];
            w[(i % 16) as usize] = i;
            w[0] |= i << 32;
            assert!(seen.insert(hash_words(&w)), "collision at {i}");
        }
        assert_ne!(hash_words(&[0u64; 16]), hash_words(&[0u64; 15]));
    }

    #[test]
    fn low_bits_spread() {
        // Keys that differ in one high bit must spread over the low bits (table index).
        let mut buckets = [0u32; 64];
        for i in 0..6400u64 {
            buckets[(hash_words(&[i << 40, 7]) & 63) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (50..=150).contains(&n)),
            "{buckets:?}"
        );
    }
}
