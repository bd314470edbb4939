//! One subtable of a tuple space search: a hash table of keys that all share one mask.
//!
//! Both the OpenFlow classifier and the megaflow cache are lists of these. A lookup
//! masks the packet's key with the subtable's mask, hashes the masked words and probes
//! one hash table. Only the words in which the mask has bits are hashed and compared
//! ([`FlowMask::nonzero_words`], packed with their mask values in [`MaskWords`]): a
//! subtable over `in_port` and `eth_dst` touches two of the key's sixteen words.
//!
//! The table is hashbrown's `HashTable` (the table inside std's `HashMap`), used raw so
//! that the probe compares the stored masked key against `packet & mask` word by word
//! without first building a masked copy of the packet's key.

use crate::hash;
use crate::key::{FlowKey, FlowMask, KEY_WORDS};
use hashbrown::HashTable;

#[derive(Clone)]
pub(crate) struct Entry<V> {
    pub hash: u64,
    /// The masked key.
    pub key: FlowKey,
    pub value: V,
}

/// The nonzero words of a mask, packed for the lookup loop: their indexes and values.
#[derive(Clone, Copy)]
pub(crate) struct MaskWords {
    n: usize,
    idx: [u8; KEY_WORDS],
    mask: [u64; KEY_WORDS],
}

impl MaskWords {
    fn new(m: &FlowMask) -> Self {
        let mut mw = MaskWords {
            n: 0,
            idx: [0; KEY_WORDS],
            mask: [0; KEY_WORDS],
        };
        for (i, &w) in m.w.iter().enumerate() {
            if w != 0 {
                mw.idx[mw.n] = i as u8;
                mw.mask[mw.n] = w;
                mw.n += 1;
            }
        }
        mw
    }

    /// `(word index, mask word)` pairs.
    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let n = self.n.min(KEY_WORDS);
        self.idx[..n]
            .iter()
            .zip(&self.mask[..n])
            .map(|(&i, &m)| (usize::from(i) & (KEY_WORDS - 1), m))
    }

    /// Hash of `key & mask` over these words: one independent multiply per word
    /// (they overlap in the pipeline), a rotate-xor chain, one folded multiply to finish.
    #[inline(always)]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        let mut acc = hash::start();
        for (i, m) in self.iter() {
            acc = acc.rotate_left(23) ^ hash::spread(key.w[i] & m);
        }
        hash::finish(acc)
    }

    /// Whether `stored` (a masked key) equals `key & mask`.
    #[inline(always)]
    pub fn eq(&self, stored: &FlowKey, key: &FlowKey) -> bool {
        let mut diff = 0;
        for (i, m) in self.iter() {
            diff |= stored.w[i] ^ (key.w[i] & m);
        }
        diff == 0
    }

    /// `wc |= mask`.
    #[inline(always)]
    pub fn or_into(&self, wc: &mut FlowMask) {
        for (i, m) in self.iter() {
            wc.w[i] |= m;
        }
    }
}

/// Filter bits per entry (a false positive rate of about 1 in 16 when full).
const FILTER_BITS_PER_ENTRY: usize = 16;
const FILTER_MIN_BITS: usize = 512;

#[derive(Clone)]
pub(crate) struct Subtable<V> {
    pub mw: MaskWords,
    /// A one-hash Bloom filter of the entries' hashes: a clear bit proves a miss
    /// without touching the hash table. Most subtables miss most packets, and the
    /// filter's words stay in L1 where the table's would not.
    filter: Vec<u64>,
    /// Entries removed since the filter was built (their bits linger).
    stale: usize,
    pub mask: FlowMask,
    table: HashTable<Entry<V>>,
}

#[inline(always)]
fn filter_bit(h: u64, words: usize) -> (usize, u64) {
    // Bits 24.. of the hash: apart from the low bits that index the hash table and
    // the top 7 that hashbrown uses as tags.
    let b = (h >> 24) as usize & (words * 64 - 1);
    (b >> 6, 1u64 << (b & 63))
}

impl<V> Subtable<V> {
    pub fn new(mask: FlowMask) -> Self {
        Subtable {
            mw: MaskWords::new(&mask),
            filter: vec![0; FILTER_MIN_BITS / 64],
            stale: 0,
            mask,
            table: HashTable::new(),
        }
    }

    #[inline(always)]
    fn filter_may_contain(&self, h: u64) -> bool {
        let (w, bit) = filter_bit(h, self.filter.len());
        self.filter.get(w).is_some_and(|x| x & bit != 0)
    }

    fn filter_add(&mut self, h: u64) {
        let (w, bit) = filter_bit(h, self.filter.len());
        if let Some(x) = self.filter.get_mut(w) {
            *x |= bit;
        }
    }

    /// Resizes the filter to the entry count and rebuilds it from the stored hashes.
    fn rebuild_filter(&mut self) {
        let bits = (self.table.len() * FILTER_BITS_PER_ENTRY)
            .next_power_of_two()
            .max(FILTER_MIN_BITS);
        self.filter.clear();
        self.filter.resize(bits / 64, 0);
        self.stale = 0;
        let words = self.filter.len();
        for e in self.table.iter() {
            let (w, bit) = filter_bit(e.hash, words);
            if let Some(x) = self.filter.get_mut(w) {
                *x |= bit;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Hash of `key & mask`, over the mask's nonzero words.
    #[inline(always)]
    pub fn hash_of(&self, key: &FlowKey) -> u64 {
        self.mw.hash(key)
    }

    /// The entry whose masked key equals `key & mask`.
    #[inline(always)]
    pub fn find(&self, key: &FlowKey) -> Option<&Entry<V>> {
        let h = self.mw.hash(key);
        if !self.filter_may_contain(h) {
            return None;
        }
        let mw = &self.mw;
        self.table.find(h, |e| e.hash == h && mw.eq(&e.key, key))
    }

    #[inline]
    pub fn find_mut(&mut self, key: &FlowKey) -> Option<&mut Entry<V>> {
        let h = self.mw.hash(key);
        if !self.filter_may_contain(h) {
            return None;
        }
        let mw = &self.mw;
        self.table
            .find_mut(h, |e| e.hash == h && mw.eq(&e.key, key))
    }

    /// Inserts `value` under `key & mask`, returning the value it replaces.
    pub fn insert(&mut self, key: &FlowKey, value: V) -> Option<V> {
        if let Some(e) = self.find_mut(key) {
            return Some(core::mem::replace(&mut e.value, value));
        }
        let h = self.hash_of(key);
        let entry = Entry {
            hash: h,
            key: key.masked(&self.mask),
            value,
        };
        self.table.insert_unique(h, entry, |e| e.hash);
        if self.table.len() * FILTER_BITS_PER_ENTRY > self.filter.len() * 64 {
            self.rebuild_filter();
        } else {
            self.filter_add(h);
        }
        None
    }

    /// Removes the entry under `key & mask`.
    pub fn remove(&mut self, key: &FlowKey) -> Option<V> {
        let h = self.mw.hash(key);
        let mw = &self.mw;
        let found = self.table.find_entry(h, |e| mw.eq(&e.key, key));
        let v = match found {
            Ok(occ) => occ.remove().0.value,
            Err(_) => return None,
        };
        self.stale += 1;
        if self.stale
            > self
                .table
                .len()
                .max(FILTER_MIN_BITS / FILTER_BITS_PER_ENTRY)
        {
            self.rebuild_filter();
        }
        Some(v)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry<V>> {
        self.table.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::loc;

    #[test]
    fn insert_find_remove() {
        let mut m = FlowMask::default();
        m.add_field(loc::IN_PORT);
        m.add(loc::NW_DST, 0xffff_ff00);
        let mut st = Subtable::new(m);
        let mut k = FlowKey::default();
        k.set_in_port(1);
        k.set_nw_dst(0x0a00_0001);
        k.set_tp_dst(80); // outside the mask
        assert_eq!(st.insert(&k, 7), None);
        let mut p = k;
        p.set_nw_dst(0x0a00_00fe);
        p.set_tp_dst(443);
        assert_eq!(st.find(&p).map(|e| e.value), Some(7));
        assert_eq!(st.find(&p).map(|e| e.key), Some(k.masked(&m)));
        p.set_nw_dst(0x0a00_0101);
        assert!(st.find(&p).is_none());
        assert_eq!(st.insert(&k, 8), Some(7));
        assert_eq!(st.iter().count(), 1);
        assert_eq!(st.remove(&k), Some(8));
        assert!(st.is_empty() && st.find(&k).is_none());
    }

    #[test]
    fn filter_grows_and_forgets() {
        let mut m = FlowMask::default();
        m.add_field(loc::NW_DST);
        let mut st = Subtable::new(m);
        let key = |i: u32| {
            let mut k = FlowKey::default();
            k.set_nw_dst(i);
            k
        };
        for i in 0..10_000 {
            st.insert(&key(i), i);
        }
        assert!(st.filter.len() * 64 >= 10_000 * FILTER_BITS_PER_ENTRY);
        assert!((0..10_000).all(|i| st.find(&key(i)).map(|e| e.value) == Some(i)));
        let false_pos = (10_000..20_000)
            .filter(|&i| st.filter_may_contain(st.hash_of(&key(i))))
            .count();
        assert!(false_pos < 1_000, "{false_pos} false positives in 10000");
        for i in 0..10_000 {
            assert_eq!(st.remove(&key(i)), Some(i));
        }
        assert!(st.is_empty());
        assert_eq!(st.filter.len() * 64, FILTER_MIN_BITS, "rebuilt small");
        let lingering: u32 = st.filter.iter().map(|w| w.count_ones()).sum();
        assert!(lingering as usize <= FILTER_MIN_BITS / FILTER_BITS_PER_ENTRY);
    }
}
