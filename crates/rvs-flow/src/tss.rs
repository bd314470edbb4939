//! One subtable of a tuple space search: a hash table of keys that all share one mask.
//!
//! Both the OpenFlow classifier and the megaflow cache are lists of these. A lookup
//! masks the packet's key with the subtable's mask, hashes the masked words and probes
//! one hash table. Only the words in which the mask has bits are hashed and compared
//! ([`FlowMask::nonzero_words`]): a subtable over `in_port` and `eth_dst` touches two
//! of the key's sixteen words.
//!
//! The table is hashbrown's `HashTable` (the table inside std's `HashMap`), used raw so
//! that the probe compares the stored masked key against `packet & mask` word by word
//! without first building a masked copy of the packet's key.

use crate::hash;
use crate::key::{FlowKey, FlowMask, KEY_WORDS};
use arrayvec::ArrayVec;
use hashbrown::HashTable;

pub(crate) struct Entry<V> {
    pub hash: u64,
    /// The masked key.
    pub key: FlowKey,
    pub value: V,
}

pub(crate) struct Subtable<V> {
    pub mask: FlowMask,
    pub words: ArrayVec<u8, KEY_WORDS>,
    table: HashTable<Entry<V>>,
}

impl<V> Subtable<V> {
    pub fn new(mask: FlowMask) -> Self {
        Subtable {
            words: mask.nonzero_words(),
            mask,
            table: HashTable::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Hash of `key & mask`, over the mask's nonzero words.
    #[inline(always)]
    pub fn hash_of(&self, key: &FlowKey) -> u64 {
        let mut h = hash::start();
        for &i in &self.words {
            let i = usize::from(i);
            h = hash::mix(h, key.w[i] & self.mask.w[i]);
        }
        hash::finish(h)
    }

    /// The entry whose masked key equals `key & mask`.
    #[inline(always)]
    pub fn find(&self, key: &FlowKey) -> Option<&Entry<V>> {
        let h = self.hash_of(key);
        let (words, mask) = (&self.words, &self.mask);
        self.table.find(h, |e| {
            e.hash == h
                && words.iter().all(|&i| {
                    let i = usize::from(i);
                    e.key.w[i] == key.w[i] & mask.w[i]
                })
        })
    }

    #[inline]
    pub fn find_mut(&mut self, key: &FlowKey) -> Option<&mut Entry<V>> {
        let h = self.hash_of(key);
        let (words, mask) = (&self.words, &self.mask);
        self.table.find_mut(h, |e| {
            e.hash == h
                && words.iter().all(|&i| {
                    let i = usize::from(i);
                    e.key.w[i] == key.w[i] & mask.w[i]
                })
        })
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
        None
    }

    /// Removes the entry under `key & mask`.
    pub fn remove(&mut self, key: &FlowKey) -> Option<V> {
        let h = self.hash_of(key);
        let (words, mask) = (&self.words, &self.mask);
        let found = self.table.find_entry(h, |e| {
            words.iter().all(|&i| {
                let i = usize::from(i);
                e.key.w[i] == key.w[i] & mask.w[i]
            })
        });
        match found {
            Ok(occ) => Some(occ.remove().0.value),
            Err(_) => None,
        }
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
}
