//! The fast path: exact-match cache → megaflow cache → pipeline (slow path).
//!
//! ```text
//!  key ──hash──► EMC (exact key, 2-way, per thread) ──hit──► megaflow ──► actions
//!                  │ miss
//!                  ▼
//!               megaflow cache: one hash table per mask,
//!               probed in order of hits (re-ranked periodically) ──hit──► actions
//!                  │ miss
//!                  ▼
//!               pipeline::translate over the flow tables ──► actions + consulted mask
//!                  └──► installed as a megaflow (key & mask → actions)
//! ```
//!
//! A [`FastPath`] belongs to one thread (like Open vSwitch's per-PMD caches): nothing on
//! its lookup path takes a lock, and a hit allocates nothing. It reads the flow tables
//! through `&FlowTables`; how the tables are shared with the thread that changes them
//! is the caller's business (see the crate README).
//!
//! # Megaflows
//!
//! A megaflow is `(key & mask, actions)` where `mask` is what the pipeline consulted
//! ([`crate::pipeline`]): every packet that agrees with the key on the mask gets the
//! same actions from the tables as they were. Megaflows are kept in tuple-space
//! subtables like the classifier's, but probed in order of hits (the busiest mask
//! first), re-ranked every [`Config::rerank_every`] lookups with the counts halved so
//! the ranking follows the traffic.
//!
//! # Exact-match cache
//!
//! The EMC maps a whole key to a megaflow: 2-way set associative, indexed by two halves
//! of the key's hash, holding `(key, megaflow slot, megaflow stamp)`. The stamp is the
//! megaflow's incarnation, so an entry whose megaflow was removed or replaced misses.
//! Insertion is probabilistic (1 in [`Config::emc_insert_inv_prob`] megaflow hits) so
//! that a flood of short flows does not churn the entries of long ones; long flows get
//! in quickly anyway because they keep hitting.
//!
//! # Invalidation
//!
//! Every change to the tables bumps [`FlowTables::generation`] and stamps the changed
//! table with it. Each megaflow records the generation it was last validated at, the
//! set of tables its translation looked up, and the rules it went through. On a hit:
//!
//! 1. Same generation: valid (one comparison, the steady state).
//! 2. Otherwise, if none of the tables it looked up changed since it was validated, it
//!    is still valid: a decision depends only on the entries of the tables visited, and
//!    the path through the tables changes only if one of those tables does. It is marked
//!    validated at the current generation.
//! 3. Otherwise it is *revalidated*: the pipeline runs again for the packet at hand. If
//!    the new consulted mask is contained in the megaflow's mask, the new actions hold
//!    for every packet the megaflow covers (they all agree with this packet on the new
//!    mask), so the megaflow is kept with the new actions. If not, it is removed and the
//!    new translation installed as a new megaflow.
//!
//! So a change invalidates lazily and exactly the megaflows that went through a changed
//! table, and of those, only the ones whose decision actually changed are replaced;
//! the rest cost one slow-path run each, once. The alternative, dropping every cache on
//! every change, is simpler but makes each flow-mod cost a burst of upcalls for all
//! traffic, which a controller that installs flows continuously would turn into a
//! permanent slow path. EMC entries need no invalidation of their own: they point to
//! megaflows, whose validity is checked on every EMC hit.
//!
//! # Counters
//!
//! Hits count packets and bytes on the megaflow (plain integers: the cache is
//! per-thread). [`FastPath::take_credits`] turns what was not yet reported into
//! [`Credit`]s for [`FlowTables::apply_credits`]: per-rule packet/byte counters, idle
//! times and table lookup/match counters. Counts of a megaflow that is removed or whose
//! rules change are kept aside until the next report, so nothing is lost.

use crate::classifier::{Credit, FlowTables, Millis, RuleRef, TableSet};
use crate::key::{FlowKey, FlowMask};
use crate::pipeline::{translate_into, DpAction, Translation};
use crate::tss::Subtable;
use std::collections::HashMap;
use std::sync::Arc;

/// Counts of removed megaflows kept for the next [`FastPath::take_credits`]; beyond
/// this they are dropped (and counted in [`Stats::credits_dropped`]) rather than
/// grow without bound when nobody collects them.
pub const MAX_PENDING: usize = 1 << 16;

/// Largest batch [`FastPath::process_batch`] takes (the datapath's batch size).
pub const MAX_BATCH: usize = 32;

/// Hints the CPU to load the cache line holding `r`.
#[inline(always)]
fn prefetch<T>(r: Option<&T>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(r) = r {
        // SAFETY: a prefetch is a hint: it never faults and changes no state that Rust
        // can observe; the pointer comes from a live reference anyway.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                (r as *const T).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Fast-path tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// EMC entries (rounded up to a power of two; 0 disables the EMC).
    pub emc_entries: usize,
    /// Insert into the EMC on 1 in this many megaflow hits (1 = always).
    pub emc_insert_inv_prob: u32,
    /// Re-rank megaflow subtables every this many megaflow lookups.
    pub rerank_every: u32,
    /// At most this many megaflows (older ones are evicted round-robin).
    pub max_megaflows: usize,
    /// [`FastPath::sweep`] removes megaflows unused for this long.
    pub idle_ms: Millis,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            emc_entries: 8192,
            emc_insert_inv_prob: 100,
            rerank_every: 1 << 16,
            max_megaflows: 200_000,
            idle_ms: 10_000,
        }
    }
}

/// Which tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Emc,
    Megaflow,
    /// The pipeline ran (a miss, or a megaflow that had to be revalidated).
    Upcall,
}

/// Counters of one fast path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub emc_hits: u64,
    pub megaflow_hits: u64,
    /// Packets that ran the pipeline.
    pub upcalls: u64,
    /// Pipeline runs that revalidated a stale megaflow...
    pub revalidations: u64,
    /// ...of which the megaflow was kept.
    pub revalidated_kept: u64,
    pub megaflows_installed: u64,
    pub megaflows_evicted: u64,
    pub emc_inserts: u64,
    /// Credits dropped because [`FastPath::take_credits`] was not called for
    /// [`MAX_PENDING`] removals (their packets are missing from rule counters).
    pub credits_dropped: u64,
}

/// The answer for one packet.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// Datapath actions; empty = drop.
    pub actions: &'a [DpAction],
    pub tier: Tier,
}

/// `repr(C)` with what a hit touches in the first 64 bytes.
#[repr(C)]
struct Megaflow {
    /// 0 = free slot.
    stamp: u32,
    subtable: u32,
    validated: u64,
    packets: u64,
    bytes: u64,
    used: Millis,
    actions: Vec<DpAction>,
    // Cold: revalidation, reporting, removal.
    tables: TableSet,
    rules: Arc<[RuleRef]>,
    reported_packets: u64,
    reported_bytes: u64,
    key: FlowKey,
}

struct MfSubtable {
    st: Subtable<u32>,
    hits: u64,
}

#[derive(Clone, Copy, Default)]
struct EmcMeta {
    /// Megaflow slot and stamp (stamp 0 = empty entry).
    mf: u32,
    stamp: u32,
}

/// One thread's fast path.
pub struct FastPath {
    cfg: Config,
    // EMC: keys and metadata in separate arrays (the metadata stays in cache).
    emc_keys: Box<[FlowKey]>,
    emc_meta: Box<[EmcMeta]>,
    emc_mask: u64,
    // Megaflows.
    flows: Vec<Megaflow>,
    free: Vec<u32>,
    live: usize,
    subtables: Vec<MfSubtable>,
    by_mask: HashMap<FlowMask, u32>,
    order: Vec<u32>,
    lookups: u32,
    next_stamp: u32,
    clock: usize,
    // Slow path scratch and bookkeeping.
    xlate: Translation,
    instance: u64,
    now: Millis,
    rng: u32,
    pending: Vec<Credit>,
    stats: Stats,
}

impl Default for FastPath {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl FastPath {
    pub fn new(cfg: Config) -> Self {
        let n = if cfg.emc_entries == 0 {
            0
        } else {
            cfg.emc_entries.next_power_of_two()
        };
        FastPath {
            cfg,
            emc_keys: vec![FlowKey::default(); n].into_boxed_slice(),
            emc_meta: vec![EmcMeta::default(); n].into_boxed_slice(),
            emc_mask: (n as u64).saturating_sub(1),
            flows: Vec::new(),
            free: Vec::new(),
            live: 0,
            subtables: Vec::new(),
            by_mask: HashMap::new(),
            order: Vec::new(),
            lookups: 0,
            next_stamp: 1,
            clock: 0,
            xlate: Translation::default(),
            instance: 0,
            now: 0,
            rng: 0x9e37_79b9,
            pending: Vec::new(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Number of megaflows.
    pub fn megaflow_count(&self) -> usize {
        self.live
    }

    /// Number of megaflow subtables (distinct masks).
    pub fn megaflow_subtables(&self) -> usize {
        self.order.len()
    }

    /// Sets the time stamped on megaflows that are hit (call once per batch).
    pub fn set_now(&mut self, now: Millis) {
        self.now = now;
    }

    /// Decides what to do with a packet whose key is `key` and length `bytes`.
    #[inline]
    pub fn process(&mut self, tables: &FlowTables, key: &FlowKey, bytes: u32) -> Lookup<'_> {
        self.check_instance(tables);
        // The full-key hash only serves the EMC.
        let h = if self.emc_meta.is_empty() {
            0
        } else {
            key.hash()
        };
        let emc = self.emc_find(h, key);
        self.resolve(tables, key, h, emc, bytes)
    }

    /// Decides for a batch of packets (`keys[i]` of `bytes[i]` bytes, at most
    /// [`MAX_BATCH`] of them; the rest are ignored), calling `out(i, lookup)` for each in
    /// order. Same answers as [`Self::process`] one by one, but the batch is hashed
    /// first and the memory the exact-match cache and the megaflows will read is
    /// prefetched, so the cache misses of a batch overlap instead of adding up.
    pub fn process_batch(
        &mut self,
        tables: &FlowTables,
        keys: &[FlowKey],
        bytes: &[u32],
        mut out: impl FnMut(usize, Lookup<'_>),
    ) {
        self.check_instance(tables);
        let n = keys.len().min(bytes.len()).min(MAX_BATCH);
        let mut hashes = [0u64; MAX_BATCH];
        let mut emc = [None; MAX_BATCH];
        if !self.emc_meta.is_empty() {
            for (h, k) in hashes.iter_mut().zip(&keys[..n]) {
                *h = k.hash();
                for i in self.emc_ways(*h) {
                    prefetch(self.emc_meta.get(i));
                    prefetch(self.emc_keys.get(i));
                }
            }
            for i in 0..n {
                emc[i] = self.emc_find(hashes[i], &keys[i]);
                if let Some((idx, _)) = emc[i] {
                    prefetch(self.flows.get(idx as usize));
                }
            }
        }
        for i in 0..n {
            let l = self.resolve(tables, &keys[i], hashes[i], emc[i], bytes[i]);
            out(i, l);
        }
    }

    #[inline]
    fn check_instance(&mut self, tables: &FlowTables) {
        if tables.instance() != self.instance {
            self.clear();
            self.instance = tables.instance();
        }
    }

    /// The rest of [`Self::process`] once the key is hashed and the EMC probed.
    #[inline]
    fn resolve(
        &mut self,
        tables: &FlowTables,
        key: &FlowKey,
        h: u64,
        emc: Option<(u32, u32)>,
        bytes: u32,
    ) -> Lookup<'_> {
        let gen = tables.generation();
        // The stamp is checked again: in a batch, an earlier packet may have removed
        // the megaflow and its slot may hold another one now.
        if let Some((idx, stamp)) = emc {
            let same = self
                .flows
                .get(idx as usize)
                .is_some_and(|f| f.stamp == stamp);
            if same && self.check(idx, tables, gen) {
                self.stats.emc_hits += 1;
                return self.hit(idx, bytes, Tier::Emc);
            }
        }
        if let Some(idx) = self.mf_find(key) {
            if self.check(idx, tables, gen) {
                self.stats.megaflow_hits += 1;
                self.emc_maybe_insert(h, key, idx);
                return self.hit(idx, bytes, Tier::Megaflow);
            }
            // Stale: revalidate against the tables as they are now.
            self.stats.revalidations += 1;
            self.stats.upcalls += 1;
            translate_into(tables, key, &mut self.xlate);
            let keep = self
                .mf_mask(idx)
                .is_some_and(|m| self.xlate.mask.is_subset_of(&m));
            if keep {
                self.stats.revalidated_kept += 1;
                self.set_aside(idx);
                if let Some(mf) = self.flows.get_mut(idx as usize) {
                    mf.actions.clear();
                    mf.actions.extend_from_slice(&self.xlate.actions);
                    mf.tables = self.xlate.tables;
                    mf.rules = self.xlate.rules.as_slice().into();
                    mf.validated = gen;
                }
                self.emc_insert(h, key, idx);
                return self.hit(idx, bytes, Tier::Upcall);
            }
            self.remove(idx);
        } else {
            self.stats.upcalls += 1;
            translate_into(tables, key, &mut self.xlate);
        }
        match self.install(key, gen) {
            Some(idx) => {
                self.emc_insert(h, key, idx);
                self.hit(idx, bytes, Tier::Upcall)
            }
            None => {
                // Not cached (no room): credit directly.
                self.push_pending(Credit {
                    rules: self.xlate.rules.as_slice().into(),
                    tables: self.xlate.tables,
                    packets: 1,
                    bytes: u64::from(bytes),
                    used: self.now,
                });
                Lookup {
                    actions: &self.xlate.actions,
                    tier: Tier::Upcall,
                }
            }
        }
    }

    #[inline]
    fn hit(&mut self, idx: u32, bytes: u32, tier: Tier) -> Lookup<'_> {
        match self.flows.get_mut(idx as usize) {
            Some(mf) => {
                mf.packets += 1;
                mf.bytes += u64::from(bytes);
                mf.used = self.now;
                Lookup {
                    actions: &mf.actions,
                    tier,
                }
            }
            None => Lookup { actions: &[], tier },
        }
    }

    /// Whether megaflow `idx` is valid at generation `gen` (steps 1 and 2 of the
    /// module docs), marking it so.
    #[inline]
    fn check(&mut self, idx: u32, tables: &FlowTables, gen: u64) -> bool {
        let Some(mf) = self.flows.get_mut(idx as usize) else {
            return false;
        };
        if mf.validated == gen {
            return true;
        }
        let v = mf.validated;
        if mf.tables.iter().all(|t| tables.changed_at(t) <= v) {
            mf.validated = gen;
            return true;
        }
        false
    }

    fn mf_mask(&self, idx: u32) -> Option<FlowMask> {
        let mf = self.flows.get(idx as usize)?;
        self.subtables.get(mf.subtable as usize).map(|s| s.st.mask)
    }

    // ----- EMC -----

    #[inline]
    fn emc_ways(&self, h: u64) -> [usize; 2] {
        [
            (h & self.emc_mask) as usize,
            ((h >> 32) & self.emc_mask) as usize,
        ]
    }

    /// The megaflow (slot, stamp) the EMC holds for `key`.
    #[inline]
    fn emc_find(&self, h: u64, key: &FlowKey) -> Option<(u32, u32)> {
        if self.emc_meta.is_empty() {
            return None;
        }
        for i in self.emc_ways(h) {
            let (Some(m), Some(k)) = (self.emc_meta.get(i), self.emc_keys.get(i)) else {
                continue;
            };
            if m.stamp != 0 && k == key {
                let live = self
                    .flows
                    .get(m.mf as usize)
                    .is_some_and(|f| f.stamp == m.stamp);
                return live.then_some((m.mf, m.stamp));
            }
        }
        None
    }

    #[inline]
    fn emc_maybe_insert(&mut self, h: u64, key: &FlowKey, idx: u32) {
        let inv = self.cfg.emc_insert_inv_prob;
        if inv > 1 {
            // xorshift32
            let mut x = self.rng;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.rng = x;
            if !x.is_multiple_of(inv) {
                return;
            }
        }
        self.emc_insert(h, key, idx);
    }

    fn emc_insert(&mut self, h: u64, key: &FlowKey, idx: u32) {
        if self.emc_meta.is_empty() {
            return;
        }
        let Some(stamp) = self.flows.get(idx as usize).map(|f| f.stamp) else {
            return;
        };
        let ways = self.emc_ways(h);
        let usable = |i: usize| {
            let m = self.emc_meta.get(i).copied().unwrap_or_default();
            m.stamp == 0
                || self.emc_keys.get(i) == Some(key)
                || self
                    .flows
                    .get(m.mf as usize)
                    .is_none_or(|f| f.stamp != m.stamp)
        };
        let i = if usable(ways[0]) {
            ways[0]
        } else if usable(ways[1]) {
            ways[1]
        } else {
            ways[(h >> 63) as usize]
        };
        if let (Some(m), Some(k)) = (self.emc_meta.get_mut(i), self.emc_keys.get_mut(i)) {
            *k = *key;
            *m = EmcMeta { mf: idx, stamp };
            self.stats.emc_inserts += 1;
        }
    }

    // ----- megaflows -----

    #[inline]
    fn mf_find(&mut self, key: &FlowKey) -> Option<u32> {
        self.lookups = self.lookups.wrapping_add(1);
        if self.lookups >= self.cfg.rerank_every {
            self.rerank();
        }
        for &si in &self.order {
            let Some(sub) = self.subtables.get_mut(si as usize) else {
                continue;
            };
            if let Some(e) = sub.st.find(key) {
                sub.hits += 1;
                return Some(e.value);
            }
        }
        None
    }

    /// Orders subtables by hits (most first) and halves the counts.
    pub fn rerank(&mut self) {
        self.lookups = 0;
        let subs = &self.subtables;
        self.order.sort_unstable_by_key(|&i| {
            (
                core::cmp::Reverse(subs.get(i as usize).map_or(0, |s| s.hits)),
                i,
            )
        });
        for s in &mut self.subtables {
            s.hits /= 2;
        }
    }

    /// Installs the translation in `self.xlate` for `key`.
    fn install(&mut self, key: &FlowKey, gen: u64) -> Option<u32> {
        if self.cfg.max_megaflows == 0 {
            return None;
        }
        while self.live >= self.cfg.max_megaflows {
            self.evict_one();
        }
        let mask = self.xlate.mask;
        let si = match self.by_mask.get(&mask) {
            Some(&si) => si,
            None => {
                let si = self.subtables.len() as u32;
                self.subtables.push(MfSubtable {
                    st: Subtable::new(mask),
                    hits: 0,
                });
                self.by_mask.insert(mask, si);
                self.order.push(si);
                si
            }
        };
        if !self.order.contains(&si) {
            self.order.push(si);
        }
        // A stale megaflow with the same masked key (found behind another one) goes.
        if let Some(old) = self
            .subtables
            .get(si as usize)
            .and_then(|s| s.st.find(key))
            .map(|e| e.value)
        {
            self.remove(old);
        }
        let stamp = self.next_stamp;
        self.next_stamp = self.next_stamp.wrapping_add(1).max(1);
        let mf = Megaflow {
            stamp,
            subtable: si,
            key: key.masked(&mask),
            actions: self.xlate.actions.clone(),
            validated: gen,
            tables: self.xlate.tables,
            rules: self.xlate.rules.as_slice().into(),
            packets: 0,
            bytes: 0,
            reported_packets: 0,
            reported_bytes: 0,
            used: self.now,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.flows.get_mut(i as usize) {
                    *slot = mf;
                }
                i
            }
            None => {
                self.flows.push(mf);
                (self.flows.len() - 1) as u32
            }
        };
        if let Some(s) = self.subtables.get_mut(si as usize) {
            s.st.insert(key, idx);
        }
        self.live += 1;
        self.stats.megaflows_installed += 1;
        Some(idx)
    }

    /// Moves the unreported counts of megaflow `idx` to the pending credits.
    fn set_aside(&mut self, idx: u32) {
        let Some(mf) = self.flows.get_mut(idx as usize) else {
            return;
        };
        if let Some(c) = unreported(mf) {
            self.push_pending(c);
        }
    }

    fn push_pending(&mut self, c: Credit) {
        if self.pending.len() < MAX_PENDING {
            self.pending.push(c);
        } else {
            self.stats.credits_dropped += 1;
        }
    }

    fn remove(&mut self, idx: u32) {
        self.set_aside(idx);
        let Some(mf) = self.flows.get_mut(idx as usize) else {
            return;
        };
        if mf.stamp == 0 {
            return;
        }
        mf.stamp = 0;
        mf.actions = Vec::new();
        let (si, key) = (mf.subtable, mf.key);
        if let Some(s) = self.subtables.get_mut(si as usize) {
            s.st.remove(&key);
            if s.st.is_empty() {
                self.order.retain(|&o| o != si);
            }
        }
        self.free.push(idx);
        self.live -= 1;
    }

    fn evict_one(&mut self) {
        let n = self.flows.len();
        for _ in 0..n {
            self.clock = (self.clock + 1) % n.max(1);
            if self.flows.get(self.clock).is_some_and(|f| f.stamp != 0) {
                self.remove(self.clock as u32);
                self.stats.megaflows_evicted += 1;
                return;
            }
        }
        self.live = 0;
    }

    /// Removes megaflows not hit for [`Config::idle_ms`] before `now`.
    pub fn sweep(&mut self, now: Millis) {
        for i in 0..self.flows.len() {
            let idle = self
                .flows
                .get(i)
                .is_some_and(|f| f.stamp != 0 && f.used.saturating_add(self.cfg.idle_ms) < now);
            if idle {
                self.remove(i as u32);
            }
        }
    }

    /// Drops every cached decision (counts are kept for the next report).
    pub fn clear(&mut self) {
        for i in 0..self.flows.len() {
            self.remove(i as u32);
        }
        self.flows.clear();
        self.free.clear();
        self.subtables.clear();
        self.by_mask.clear();
        self.order.clear();
        self.live = 0;
        for m in self.emc_meta.iter_mut() {
            *m = EmcMeta::default();
        }
    }

    /// The counts not yet reported, as credits for [`FlowTables::apply_credits`].
    pub fn take_credits(&mut self) -> Vec<Credit> {
        let mut out = core::mem::take(&mut self.pending);
        for mf in self.flows.iter_mut().filter(|f| f.stamp != 0) {
            if let Some(c) = unreported(mf) {
                out.push(c);
            }
        }
        out
    }

    /// Reports the counts to `tables` ([`Self::take_credits`] then
    /// [`FlowTables::apply_credits`]).
    pub fn flush_stats(&mut self, tables: &mut FlowTables) {
        let credits = self.take_credits();
        tables.apply_credits(&credits);
    }
}

fn unreported(mf: &mut Megaflow) -> Option<Credit> {
    let packets = mf.packets - mf.reported_packets;
    if packets == 0 {
        return None;
    }
    let bytes = mf.bytes - mf.reported_bytes;
    mf.reported_packets = mf.packets;
    mf.reported_bytes = mf.bytes;
    Some(Credit {
        rules: mf.rules.clone(),
        tables: mf.tables,
        packets,
        bytes,
        used: mf.used,
    })
}

#[cfg(test)]
mod tests;
