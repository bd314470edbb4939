//! MAC learning table: (VLAN, MAC) -> port, with aging and a size limit.
//!
//! Entries live in an LRU list ordered by last sighting: learning a source address moves
//! its entry to the front. Because the clock only moves forward, the back of the list is
//! always the entry seen longest ago, so aging pops from the back until it meets a fresh
//! entry, and a full table evicts the back entry. Both are O(1) per entry; no periodic
//! full scans. Lookups do not refresh an entry (only the station's own traffic does) and
//! treat an expired entry as absent even before the next aging sweep.

use crate::PortId;
use lru::LruCache;
use rvs_wire::EthernetAddress;
use std::sync::{Arc, Mutex, MutexGuard};

/// Milliseconds on the datapath's monotonic clock.
pub type Millis = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacEntry {
    pub port: PortId,
    pub last_seen: Millis,
}

/// What learning one source address did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// A new entry; `evicted` is true when the table was full and the oldest entry went.
    New { evicted: bool },
    /// Known on the same port; its age was reset.
    Refreshed,
    /// The station moved from another port.
    Moved { from: PortId },
}

#[inline]
fn key(vlan: u16, mac: EthernetAddress) -> u64 {
    (u64::from(vlan) << 48) | mac.to_u64()
}

#[inline]
fn unkey(k: u64) -> (u16, EthernetAddress) {
    (
        (k >> 48) as u16,
        EthernetAddress::from_u64(k & 0xffff_ffff_ffff),
    )
}

/// A bridge's table, shared by the datapath threads that serve its ports. A thread locks
/// it at most once per receive batch ([`MacLock`]), never per packet.
pub type SharedMac = Arc<Mutex<MacTable>>;

/// A new shared table.
pub fn shared_mac(limit: usize, aging_secs: u32) -> SharedMac {
    Arc::new(Mutex::new(MacTable::new(limit, aging_secs)))
}

/// Locks a shared table (a panic elsewhere while it was held leaves it usable: every
/// operation keeps the table consistent before it can fail).
pub fn lock_mac(m: &Mutex<MacTable>) -> MutexGuard<'_, MacTable> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared table of one bridge for the length of one batch, locked on first use.
pub struct MacLock<'m> {
    shared: &'m Mutex<MacTable>,
    guard: Option<MutexGuard<'m, MacTable>>,
}

impl<'m> MacLock<'m> {
    pub fn new(shared: &'m Mutex<MacTable>) -> Self {
        MacLock {
            shared,
            guard: None,
        }
    }

    /// The table, locking it if this batch has not yet.
    pub fn get(&mut self) -> &mut MacTable {
        self.guard.get_or_insert_with(|| lock_mac(self.shared))
    }
}

pub struct MacTable {
    entries: LruCache<u64, MacEntry>,
    limit: usize,
    aging_ms: Millis,
    evictions: u64,
    moves: u64,
}

impl MacTable {
    pub fn new(limit: usize, aging_secs: u32) -> Self {
        MacTable {
            entries: LruCache::unbounded(),
            limit: limit.max(1),
            aging_ms: Millis::from(aging_secs) * 1000,
            evictions: 0,
            moves: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn limit(&self) -> usize {
        self.limit
    }
    pub fn aging_secs(&self) -> u32 {
        u32::try_from(self.aging_ms / 1000).unwrap_or(u32::MAX)
    }
    /// Entries evicted because the table was full.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
    /// Station moves learned.
    pub fn moves(&self) -> u64 {
        self.moves
    }

    #[inline]
    fn expired(&self, e: &MacEntry, now: Millis) -> bool {
        now.saturating_sub(e.last_seen) >= self.aging_ms
    }

    /// Learns that `mac` on `vlan` was seen on `port` at `now`.
    pub fn learn(&mut self, vlan: u16, mac: EthernetAddress, port: PortId, now: Millis) -> Learned {
        let k = key(vlan, mac);
        let aging_ms = self.aging_ms;
        if let Some(e) = self.entries.get_mut(&k) {
            let was_expired = now.saturating_sub(e.last_seen) >= aging_ms;
            let from = e.port;
            e.last_seen = now;
            e.port = port;
            return if was_expired {
                Learned::New { evicted: false }
            } else if from == port {
                Learned::Refreshed
            } else {
                self.moves += 1;
                Learned::Moved { from }
            };
        }
        let mut evicted = false;
        while self.entries.len() >= self.limit {
            if self.entries.pop_lru().is_none() {
                break;
            }
            self.evictions += 1;
            evicted = true;
        }
        self.entries.put(
            k,
            MacEntry {
                port,
                last_seen: now,
            },
        );
        Learned::New { evicted }
    }

    /// The port `mac` on `vlan` was last seen on, if the entry has not aged out.
    #[inline]
    pub fn lookup(&self, vlan: u16, mac: EthernetAddress, now: Millis) -> Option<PortId> {
        self.entries
            .peek(&key(vlan, mac))
            .filter(|e| !self.expired(e, now))
            .map(|e| e.port)
    }

    /// Removes aged-out entries; returns how many.
    pub fn expire(&mut self, now: Millis) -> usize {
        let mut n = 0;
        while let Some((_, e)) = self.entries.peek_lru() {
            if !self.expired(e, now) {
                break;
            }
            self.entries.pop_lru();
            n += 1;
        }
        n
    }

    pub fn flush(&mut self) {
        self.entries.clear();
    }

    /// Forgets every entry that points at `port` (port removed or reconfigured).
    pub fn flush_port(&mut self, port: PortId) {
        let stale: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.port == port)
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            self.entries.pop(&k);
        }
    }

    /// Changes the limit, evicting the oldest entries if the table is now over it.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
        while self.entries.len() > self.limit {
            if self.entries.pop_lru().is_none() {
                break;
            }
            self.evictions += 1;
        }
    }

    pub fn set_aging_secs(&mut self, secs: u32) {
        self.aging_ms = Millis::from(secs) * 1000;
    }

    /// Live entries, most recently seen first: (vlan, mac, entry).
    pub fn entries(&self, now: Millis) -> Vec<(u16, EthernetAddress, MacEntry)> {
        self.entries
            .iter()
            .filter(|(_, e)| !self.expired(e, now))
            .map(|(k, e)| {
                let (vlan, mac) = unkey(*k);
                (vlan, mac, *e)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mac(n: u8) -> EthernetAddress {
        EthernetAddress([0x02, 0, 0, 0, 0, n])
    }

    #[test]
    fn learns_refreshes_and_moves() {
        let mut t = MacTable::new(10, 300);
        assert_eq!(t.learn(10, mac(1), 1, 0), Learned::New { evicted: false });
        assert_eq!(t.learn(10, mac(1), 1, 5), Learned::Refreshed);
        assert_eq!(t.learn(10, mac(1), 2, 6), Learned::Moved { from: 1 });
        assert_eq!(t.moves(), 1);
        assert_eq!(t.lookup(10, mac(1), 7), Some(2));
        // Same MAC in another VLAN is another entry.
        assert_eq!(t.lookup(20, mac(1), 7), None);
    }

    #[test]
    fn ages_out() {
        let mut t = MacTable::new(10, 1);
        t.learn(1, mac(1), 1, 0);
        t.learn(1, mac(2), 1, 500);
        assert_eq!(t.lookup(1, mac(1), 999), Some(1));
        assert_eq!(
            t.lookup(1, mac(1), 1000),
            None,
            "expired entries are invisible before the sweep"
        );
        assert_eq!(t.expire(1000), 1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.expire(1500), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_evicts_oldest() {
        let mut t = MacTable::new(2, 300);
        t.learn(1, mac(1), 1, 0);
        t.learn(1, mac(2), 1, 1);
        t.learn(1, mac(1), 1, 2); // refresh: mac(2) is now oldest
        assert_eq!(t.learn(1, mac(3), 1, 3), Learned::New { evicted: true });
        assert_eq!(t.evictions(), 1);
        assert_eq!(t.lookup(1, mac(2), 3), None);
        assert_eq!(t.lookup(1, mac(1), 3), Some(1));
        t.set_limit(1);
        assert_eq!(t.evictions(), 2);
        assert_eq!(t.lookup(1, mac(3), 3), Some(1));
    }

    #[test]
    fn flush_port_forgets_only_that_port() {
        let mut t = MacTable::new(10, 300);
        t.learn(1, mac(1), 1, 0);
        t.learn(1, mac(2), 2, 0);
        t.flush_port(1);
        assert_eq!(t.lookup(1, mac(1), 0), None);
        assert_eq!(t.lookup(1, mac(2), 0), Some(2));
    }

    /// Naive reference: a vector scanned linearly, eviction by smallest touch sequence.
    #[derive(Default)]
    struct Model {
        entries: Vec<(u16, u8, PortId, Millis, u64)>, // vlan, mac, port, last_seen, touch seq
        seq: u64,
        evictions: u64,
        moves: u64,
    }

    impl Model {
        fn live(&self, i: usize, now: Millis, aging: Millis) -> bool {
            now - self.entries[i].3 < aging
        }
        fn learn(
            &mut self,
            limit: usize,
            aging: Millis,
            vlan: u16,
            m: u8,
            port: PortId,
            now: Millis,
        ) {
            self.seq += 1;
            if let Some(i) = self.entries.iter().position(|e| e.0 == vlan && e.1 == m) {
                let live = self.live(i, now, aging);
                let e = &mut self.entries[i];
                if live && e.2 != port {
                    self.moves += 1;
                }
                e.2 = port;
                e.3 = now;
                e.4 = self.seq;
                return;
            }
            while self.entries.len() >= limit {
                let oldest = (0..self.entries.len())
                    .min_by_key(|&i| self.entries[i].4)
                    .unwrap_or(0);
                self.entries.remove(oldest);
                self.evictions += 1;
            }
            self.entries.push((vlan, m, port, now, self.seq));
        }
        fn lookup(&self, aging: Millis, vlan: u16, m: u8, now: Millis) -> Option<PortId> {
            let i = self.entries.iter().position(|e| e.0 == vlan && e.1 == m)?;
            self.live(i, now, aging).then_some(self.entries[i].2)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Learn {
            vlan: u16,
            mac: u8,
            port: PortId,
            dt: u64,
        },
        Lookup {
            vlan: u16,
            mac: u8,
            dt: u64,
        },
        Expire {
            dt: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u16..4, 0u8..12, 0u32..4, 0u64..400).prop_map(|(vlan, mac, port, dt)| Op::Learn {
                vlan,
                mac,
                port,
                dt
            }),
            (1u16..4, 0u8..12, 0u64..400).prop_map(|(vlan, mac, dt)| Op::Lookup { vlan, mac, dt }),
            (0u64..1500).prop_map(|dt| Op::Expire { dt }),
        ]
    }

    proptest! {
        #[test]
        fn matches_naive_model(limit in 1usize..8, ops in proptest::collection::vec(op(), 1..200)) {
            let aging_secs = 1;
            let aging = 1000;
            let mut t = MacTable::new(limit, aging_secs);
            let mut m = Model::default();
            let mut now = 0;
            for op in ops {
                match op {
                    Op::Learn { vlan, mac: n, port, dt } => {
                        now += dt;
                        t.learn(vlan, mac(n), port, now);
                        m.learn(limit, aging, vlan, n, port, now);
                    }
                    Op::Lookup { vlan, mac: n, dt } => {
                        now += dt;
                        prop_assert_eq!(t.lookup(vlan, mac(n), now), m.lookup(aging, vlan, n, now));
                    }
                    Op::Expire { dt } => {
                        now += dt;
                        t.expire(now);
                        // The model keeps expired entries, but they must be invisible either way.
                        m.entries.retain(|e| now - e.3 < aging);
                    }
                }
                prop_assert!(t.len() <= limit);
                prop_assert_eq!(t.evictions(), m.evictions);
                prop_assert_eq!(t.moves(), m.moves);
                for vlan in 1u16..4 {
                    for n in 0u8..12 {
                        prop_assert_eq!(t.lookup(vlan, mac(n), now), m.lookup(aging, vlan, n, now));
                    }
                }
            }
        }
    }
}
