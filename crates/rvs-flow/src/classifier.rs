//! OpenFlow flow tables: tuple space search with priorities, flow-mods, timeouts,
//! counters and flow statistics.
//!
//! # Lookup
//!
//! A [`FlowTable`] groups its rules by mask: every distinct [`FlowMask`] is a subtable,
//! one hash table keyed by `key & mask` (tuple space search). A rule lives in exactly
//! one subtable, in a bucket with the rules that have the same masked key (they differ
//! in priority). To look a packet up, the table visits its subtables in order of the
//! highest priority they hold and keeps the best hit: highest priority first, and among
//! equal priorities the rule added first (OpenFlow leaves that case undefined; rvs makes
//! it deterministic). Once a hit of priority `p` is found, subtables whose best rule is
//! below `p` cannot win and are skipped: *priority pruning*. Subtables with equal
//! maximum priority keep the order in which they were created (stable ranking).
//!
//! # Un-wildcarding
//!
//! The megaflow cache needs to know which bits of the packet the answer depended on.
//! [`FlowTable::lookup`] therefore ORs into a caller-provided mask the mask of every
//! subtable it probed. This is sufficient: for a probed subtable, whether the packet
//! hits it, and which bucket, depends only on `key & subtable_mask`; a subtable
//! skipped by pruning was skipped because of priorities alone, whatever the packet.
//! So any other packet that agrees with this one on the accumulated mask makes the same
//! probes with the same outcomes and finds the same rule.
//!
//! Subtables whose mask on the IPv4 source or destination is a CIDR prefix are also
//! skipped when a prefix trie shows that no rule anywhere in the table has a prefix of
//! that length equal to the packet's address (the private `trie` module); then only the address
//! bits the trie walk looked at are un-wildcarded, not the skipped subtables' masks. It is not minimal (Open
//! vSwitch's staged lookup and prefix tries un-wildcard fewer bits on misses); fewer
//! bits would only mean fewer, wider megaflows, never a different decision.
//!
//! # Changes
//!
//! [`FlowTables::apply`] implements the five flow-mod commands of OpenFlow 1.3 with
//! cookies and cookie masks, `out_port`/`out_group` filters, `OFPFF_CHECK_OVERLAP`,
//! `OFPFF_RESET_COUNTS` and `OFPFF_SEND_FLOW_REM`. Every change bumps the tables'
//! generation and records it as the table's last change, which is what the fast path's
//! invalidation reads (see [`crate::cache`]). Timeouts are enforced by
//! [`FlowTables::expire`]; counters come from the fast path through
//! [`FlowTables::apply_credits`] (the slow path reads the tables without writing them).

use crate::key::{loc, match_to_key, settable, FlowKey, FlowMask, Loc};
use crate::trie::{prefix_len, prefix_mask, PrefixTrie};
use crate::tss::Subtable;
use rvs_openflow::action::Action;
use rvs_openflow::error::{BadActionCode, BadInstructionCode, FlowModFailedCode};
use rvs_openflow::group::OFPG_ANY;
use rvs_openflow::instruction::OFPTT_ALL;
use rvs_openflow::message::{flow_mod_flags, FlowRemoved, FlowRemovedReason};
use rvs_openflow::multipart::{AggregateStats, FlowStats, FlowStatsRequest, TableStats};
use rvs_openflow::{FlowMod, FlowModCommand, Instruction, Match, OfError, PortNo};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Milliseconds on a monotonic clock chosen by the caller.
pub type Millis = u64;

/// Number of flow tables (0..=253), as the OpenFlow issue asks; configurable with
/// [`FlowTables::with_tables`] up to 255 (`OFPTT_MAX` + 1).
pub const DEFAULT_TABLES: usize = 254;

/// One installed flow entry.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) key: FlowKey,
    pub(crate) mask: FlowMask,
    pub priority: u16,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// `ofp_flow_mod_flags` as installed.
    pub flags: u16,
    /// The match exactly as the controller sent it.
    pub match_: Match,
    pub instructions: Arc<[Instruction]>,
    pub created: Millis,
    pub last_used: Millis,
    pub packets: u64,
    pub bytes: u64,
    /// Insertion order, the tie-break between equal priorities.
    seq: u64,
    /// Identity of this entry, so counters for a deleted entry are not credited to a
    /// later one in the same slot.
    uid: u64,
}

impl Rule {
    /// The key/mask pair the match translated to.
    pub fn key_mask(&self) -> (FlowKey, FlowMask) {
        (self.key, self.mask)
    }

    /// Insertion order, the tie-break between equal priorities (earlier wins): a
    /// persisted table replays its adds in this order to keep lookups identical.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The table-miss flow entry: priority 0, every field wildcarded.
    pub fn is_table_miss(&self) -> bool {
        self.priority == 0 && self.mask.is_catchall()
    }

    fn cookie_matches(&self, cookie: u64, mask: u64) -> bool {
        self.cookie & mask == cookie & mask
    }

    /// Whether the instructions output to `port` (`ANY`: no restriction).
    fn outputs_to(&self, port: PortNo) -> bool {
        port == PortNo::ANY
            || self
                .actions()
                .any(|a| matches!(a, Action::Output { port: p, .. } if *p == port))
    }

    /// Whether the instructions use group `group` (`OFPG_ANY`: no restriction).
    fn uses_group(&self, group: u32) -> bool {
        group == OFPG_ANY
            || self
                .actions()
                .any(|a| matches!(a, Action::Group(g) if *g == group))
    }

    fn actions(&self) -> impl Iterator<Item = &Action> {
        self.instructions.iter().flat_map(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
            _ => &[],
        })
    }
}

/// A reference to a rule for crediting counters: stays harmless after the rule is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleRef {
    pub table: u8,
    slot: u32,
    uid: u64,
}

/// A set of table ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TableSet([u64; 4]);

impl TableSet {
    pub fn insert(&mut self, t: u8) {
        self.0[usize::from(t >> 6)] |= 1 << (t & 63);
    }
    pub fn contains(&self, t: u8) -> bool {
        self.0[usize::from(t >> 6)] & (1 << (t & 63)) != 0
    }
    pub fn clear(&mut self) {
        self.0 = [0; 4];
    }
    /// The ids in the set, ascending.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            core::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((i as u32 * 64 + b) as u8)
            })
        })
    }
}

/// Packets that went through a set of rules, reported by a fast path.
#[derive(Debug, Clone)]
pub struct Credit {
    pub rules: Arc<[RuleRef]>,
    pub tables: TableSet,
    pub packets: u64,
    pub bytes: u64,
    pub used: Millis,
}

/// A flow removed by a delete or a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The `OFPT_FLOW_REMOVED` body describing it.
    pub msg: FlowRemoved,
    /// Whether the flow asked for it to be sent (`OFPFF_SEND_FLOW_REM`).
    pub notify: bool,
}

/// What a successful flow-mod did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries added, replaced, modified or deleted.
    pub count: usize,
    /// Entries deleted (with their flow-removed message).
    pub removed: Vec<Removed>,
}

/// One entry of a subtable bucket.
#[derive(Debug, Clone, Copy)]
struct Slot {
    priority: u16,
    seq: u64,
    rule: u32,
}

impl Slot {
    /// Better = higher priority, then earlier.
    #[inline]
    fn beats(&self, o: &Slot) -> bool {
        self.priority > o.priority || (self.priority == o.priority && self.seq < o.seq)
    }
}

/// The rules of one subtable with the same masked key, best first.
#[derive(Clone)]
struct Bucket {
    best: Slot,
    rest: Vec<Slot>,
}

impl Bucket {
    fn insert(&mut self, s: Slot) {
        if s.beats(&self.best) {
            let old = core::mem::replace(&mut self.best, s);
            self.rest.insert(0, old);
        } else {
            let at = self
                .rest
                .iter()
                .position(|o| s.beats(o))
                .unwrap_or(self.rest.len());
            self.rest.insert(at, s);
        }
    }
    /// Removes `rule`; returns whether the bucket is now empty.
    fn remove(&mut self, rule: u32) -> bool {
        if self.best.rule == rule {
            if self.rest.is_empty() {
                return true;
            }
            self.best = self.rest.remove(0);
        } else {
            self.rest.retain(|s| s.rule != rule);
        }
        false
    }
    fn find_priority(&self, p: u16) -> Option<u32> {
        core::iter::once(&self.best)
            .chain(&self.rest)
            .find(|s| s.priority == p)
            .map(|s| s.rule)
    }
    fn slots(&self) -> impl Iterator<Item = &Slot> {
        core::iter::once(&self.best).chain(&self.rest)
    }
}

/// The fields with prefix tries (see [`crate::trie`]).
const TRIE_FIELDS: [Loc; 2] = [loc::NW_SRC, loc::NW_DST];

#[derive(Clone, Copy)]
struct Hot {
    index: u32,
    max_priority: u16,
    plen: [u8; 2],
}

#[derive(Clone)]
struct ClsSubtable {
    st: Subtable<Bucket>,
    /// Prefix length of the mask on each trie field (0: not a prefix, no trie).
    plen: [u8; 2],
    /// Rules per priority, to know the maximum after deletions.
    prios: BTreeMap<u16, u32>,
    max_priority: u16,
    /// Creation order, for stable ranking.
    created: u64,
}

/// One OpenFlow flow table.
#[derive(Default, Clone)]
pub struct FlowTable {
    rules: Vec<Option<Rule>>,
    free: Vec<u32>,
    n_rules: usize,
    subtables: Vec<Option<ClsSubtable>>,
    free_subtables: Vec<u32>,
    by_mask: HashMap<FlowMask, u32>,
    /// Subtables by descending maximum priority, ties in creation order.
    order: Vec<u32>,
    /// What the lookup loop reads of each subtable in `order`, packed, so subtables
    /// that are pruned or skipped by a trie are never touched.
    hot: Vec<Hot>,
    n_created: u64,
    /// Slots of rules with a timeout.
    timed: Vec<u32>,
    tries: [PrefixTrie; 2],
    lookup_count: u64,
    matched_count: u64,
    /// Generation of the last change.
    changed: u64,
}

impl FlowTable {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.n_rules
    }

    pub fn is_empty(&self) -> bool {
        self.n_rules == 0
    }

    /// Number of subtables (distinct masks).
    pub fn subtable_count(&self) -> usize {
        self.order.len()
    }

    /// Generation of the last change to this table.
    pub fn changed_at(&self) -> u64 {
        self.changed
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().flatten()
    }

    #[inline]
    fn rule(&self, slot: u32) -> Option<&Rule> {
        self.rules.get(slot as usize).and_then(Option::as_ref)
    }

    /// The highest-priority rule matching `key`, ORing into `wc` every bit the answer
    /// depended on (see the module docs).
    #[inline]
    pub fn lookup(&self, key: &FlowKey, wc: &mut FlowMask) -> Option<&Rule> {
        self.lookup_slot(key, wc).and_then(|s| self.rule(s))
    }

    #[inline]
    fn lookup_slot(&self, key: &FlowKey, wc: &mut FlowMask) -> Option<u32> {
        let mut best: Option<Slot> = None;
        let mut tries: [Option<(u64, u32)>; 2] = [None, None];
        let mut consulted = [0u32; 2];
        for hot in &self.hot {
            if let Some(b) = &best {
                if hot.max_priority < b.priority {
                    break;
                }
            }
            // Prefix tries: skip a subtable whose prefix length no rule's prefix
            // shares with the packet.
            let mut skip = false;
            for f in 0..2 {
                let l = hot.plen[f];
                if l == 0 {
                    continue;
                }
                let (lens, bits) = *tries[f].get_or_insert_with(|| {
                    let addr = key.get(TRIE_FIELDS[f]) as u32;
                    self.tries[f].lookup(addr)
                });
                if lens & (1u64 << l) == 0 {
                    consulted[f] = bits;
                    skip = true;
                    break;
                }
            }
            if skip {
                continue;
            }
            let Some(Some(sub)) = self.subtables.get(hot.index as usize) else {
                continue;
            };
            sub.st.mw.or_into(wc);
            if let Some(e) = sub.st.find(key) {
                let s = e.value.best;
                if best.is_none_or(|b| s.beats(&b)) {
                    best = Some(s);
                }
            }
        }
        for f in 0..2 {
            if consulted[f] != 0 {
                wc.add(TRIE_FIELDS[f], u64::from(prefix_mask(consulted[f])));
            }
        }
        best.map(|s| s.rule)
    }

    /// The rule with exactly this key/mask and priority.
    fn find_strict(&self, key: &FlowKey, mask: &FlowMask, priority: u16) -> Option<u32> {
        let si = *self.by_mask.get(mask)?;
        let sub = self.subtables.get(si as usize)?.as_ref()?;
        sub.st.find(key)?.value.find_priority(priority)
    }

    /// Slots of rules at least as specific as `key/mask` (non-strict flow-mod matching):
    /// only subtables whose mask contains the request's mask can hold any.
    fn find_loose(&self, key: &FlowKey, mask: &FlowMask) -> Vec<u32> {
        let mut out = Vec::new();
        for sub in self.subtables.iter().flatten() {
            if !mask.is_subset_of(&sub.st.mask) {
                continue;
            }
            for e in sub.st.iter() {
                if e.key.eq_masked(key, mask) {
                    out.extend(e.value.slots().map(|s| s.rule));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn resort(&mut self) {
        let subs = &self.subtables;
        let rank = |i: &u32| {
            subs.get(*i as usize)
                .and_then(Option::as_ref)
                .map_or((0, u64::MAX), |s| (s.max_priority, s.created))
        };
        self.order.sort_by(|a, b| {
            let (pa, ca) = rank(a);
            let (pb, cb) = rank(b);
            pb.cmp(&pa).then(ca.cmp(&cb))
        });
        self.rebuild_hot();
    }

    fn rebuild_hot(&mut self) {
        let subs = &self.subtables;
        self.hot.clear();
        self.hot.extend(self.order.iter().filter_map(|&i| {
            let s = subs.get(i as usize)?.as_ref()?;
            Some(Hot {
                index: i,
                max_priority: s.max_priority,
                plen: s.plen,
            })
        }));
    }

    fn insert(&mut self, rule: Rule) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.rules.push(None);
                (self.rules.len() - 1) as u32
            }
        };
        let entry = Slot {
            priority: rule.priority,
            seq: rule.seq,
            rule: slot,
        };
        let si = match self.by_mask.get(&rule.mask) {
            Some(&si) => si,
            None => {
                let plen = TRIE_FIELDS.map(|l| prefix_len(rule.mask.get(l) as u32).unwrap_or(0));
                let sub = ClsSubtable {
                    plen,
                    st: Subtable::new(rule.mask),
                    prios: BTreeMap::new(),
                    max_priority: 0,
                    created: self.n_created,
                };
                self.n_created += 1;
                let si = match self.free_subtables.pop() {
                    Some(si) => {
                        if let Some(s) = self.subtables.get_mut(si as usize) {
                            *s = Some(sub);
                        }
                        si
                    }
                    None => {
                        self.subtables.push(Some(sub));
                        (self.subtables.len() - 1) as u32
                    }
                };
                self.by_mask.insert(rule.mask, si);
                self.order.push(si);
                si
            }
        };
        if let Some(Some(sub)) = self.subtables.get_mut(si as usize) {
            for (f, trie) in self.tries.iter_mut().enumerate() {
                if sub.plen[f] != 0 {
                    trie.insert(rule.key.get(TRIE_FIELDS[f]) as u32, sub.plen[f]);
                }
            }
            match sub.st.find_mut(&rule.key) {
                Some(e) => e.value.insert(entry),
                None => {
                    sub.st.insert(
                        &rule.key,
                        Bucket {
                            best: entry,
                            rest: Vec::new(),
                        },
                    );
                }
            }
            *sub.prios.entry(rule.priority).or_insert(0) += 1;
            let old_max = sub.max_priority;
            sub.max_priority = sub.prios.keys().next_back().copied().unwrap_or(0);
            if sub.max_priority != old_max || sub.prios.len() == 1 {
                self.resort();
            }
        }
        if rule.idle_timeout != 0 || rule.hard_timeout != 0 {
            self.timed.push(slot);
        }
        if let Some(r) = self.rules.get_mut(slot as usize) {
            *r = Some(rule);
        }
        self.n_rules += 1;
        slot
    }

    fn remove(&mut self, slot: u32) -> Option<Rule> {
        let rule = self.rules.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        self.n_rules -= 1;
        if rule.idle_timeout != 0 || rule.hard_timeout != 0 {
            self.timed.retain(|&s| s != slot);
        }
        let si = *self.by_mask.get(&rule.mask)?;
        let mut drop_subtable = false;
        if let Some(Some(sub)) = self.subtables.get_mut(si as usize) {
            for (f, trie) in self.tries.iter_mut().enumerate() {
                if sub.plen[f] != 0 {
                    trie.remove(rule.key.get(TRIE_FIELDS[f]) as u32, sub.plen[f]);
                }
            }
            let empty = sub
                .st
                .find_mut(&rule.key)
                .is_some_and(|e| e.value.remove(slot));
            if empty {
                sub.st.remove(&rule.key);
            }
            if let Some(n) = sub.prios.get_mut(&rule.priority) {
                *n -= 1;
                if *n == 0 {
                    sub.prios.remove(&rule.priority);
                }
            }
            let old_max = sub.max_priority;
            sub.max_priority = sub.prios.keys().next_back().copied().unwrap_or(0);
            drop_subtable = sub.st.is_empty();
            if !drop_subtable && old_max != sub.max_priority {
                self.resort();
            }
        }
        if drop_subtable {
            self.by_mask.remove(&rule.mask);
            self.order.retain(|&s| s != si);
            if let Some(s) = self.subtables.get_mut(si as usize) {
                *s = None;
            }
            self.free_subtables.push(si);
            self.rebuild_hot();
        }
        Some(rule)
    }
}

static INSTANCES: AtomicU64 = AtomicU64::new(1);

/// The flow tables of one OpenFlow switch.
pub struct FlowTables {
    tables: Vec<FlowTable>,
    /// Most entries a table may hold (`OFPFMFC_TABLE_FULL` beyond).
    max_per_table: usize,
    generation: u64,
    instance: u64,
    next_seq: u64,
    next_uid: u64,
}

impl Default for FlowTables {
    fn default() -> Self {
        Self::new()
    }
}

impl FlowTables {
    /// [`DEFAULT_TABLES`] empty tables.
    pub fn new() -> Self {
        Self::with_tables(DEFAULT_TABLES)
    }

    /// `n` empty tables (clamped to 1..=255).
    pub fn with_tables(n: usize) -> Self {
        let n = n.clamp(1, 255);
        FlowTables {
            tables: (0..n).map(|_| FlowTable::default()).collect(),
            max_per_table: usize::MAX,
            generation: 1,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            next_seq: 0,
            next_uid: 1,
        }
    }

    pub fn n_tables(&self) -> usize {
        self.tables.len()
    }

    /// A read-only copy to publish to fast paths on other threads (e.g. swapped into
    /// an `Arc` after a batch of flow-mods), O(rules).
    ///
    /// The copy keeps this instance's identity and generation, so a [`FastPath`]
    /// that moves from one snapshot to the next keeps every cached decision that the
    /// changes in between did not touch. That is only sound while snapshots are never
    /// changed themselves: change the original and take a new snapshot, which is why
    /// the copy comes behind an `Arc` and `FlowTables` is not `Clone`.
    ///
    /// [`FastPath`]: crate::cache::FastPath
    pub fn snapshot(&self) -> Arc<FlowTables> {
        Arc::new(FlowTables {
            tables: self.tables.clone(),
            max_per_table: self.max_per_table,
            generation: self.generation,
            instance: self.instance,
            next_seq: self.next_seq,
            next_uid: self.next_uid,
        })
    }

    /// Limits each table to `n` entries: an add beyond fails with
    /// `OFPFMFC_TABLE_FULL` (replacing an existing entry still works). No limit by
    /// default.
    pub fn set_max_flows_per_table(&mut self, n: usize) {
        self.max_per_table = n;
    }

    pub fn table(&self, id: u8) -> Option<&FlowTable> {
        self.tables.get(usize::from(id))
    }

    /// Bumped by every change to any table.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Identifies this set of tables, so a cache never mixes two switches.
    #[inline]
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Generation of the last change to table `t`.
    #[inline]
    pub fn changed_at(&self, t: u8) -> u64 {
        self.tables.get(usize::from(t)).map_or(0, |t| t.changed)
    }

    /// Total rules over all tables.
    pub fn len(&self) -> usize {
        self.tables.iter().map(FlowTable::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks `key` up in table `t` (see [`FlowTable::lookup`]), also returning a
    /// reference for crediting counters.
    #[inline]
    pub fn lookup(&self, t: u8, key: &FlowKey, wc: &mut FlowMask) -> Option<(&Rule, RuleRef)> {
        let table = self.tables.get(usize::from(t))?;
        let slot = table.lookup_slot(key, wc)?;
        let r = table.rule(slot)?;
        Some((
            r,
            RuleRef {
                table: t,
                slot,
                uid: r.uid,
            },
        ))
    }

    fn touch(&mut self, t: usize) {
        self.generation += 1;
        if let Some(table) = self.tables.get_mut(t) {
            table.changed = self.generation;
        }
    }

    fn check_table(&self, t: u8) -> Result<(), OfError> {
        if usize::from(t) < self.tables.len() {
            Ok(())
        } else {
            Err(OfError::new(FlowModFailedCode::BadTableId, "no such table"))
        }
    }

    /// Switch-state checks the codec cannot make.
    fn check_instructions(&self, insts: &[Instruction]) -> Result<(), OfError> {
        for i in insts {
            match i {
                Instruction::GotoTable(t) if usize::from(*t) >= self.tables.len() => {
                    return Err(OfError::new(
                        BadInstructionCode::BadTableId,
                        "goto_table to a table that does not exist",
                    ))
                }
                Instruction::Experimenter { .. } => {
                    return Err(OfError::new(
                        BadInstructionCode::UnsupInst,
                        "experimenter instructions are not supported",
                    ))
                }
                Instruction::ApplyActions(acts) | Instruction::WriteActions(acts) => {
                    for a in acts {
                        check_action(a)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Applies a flow-mod at time `now`.
    ///
    /// * Add: refuses an overlap with an entry of the same priority when
    ///   `OFPFF_CHECK_OVERLAP` is set (`OFPFMFC_OVERLAP`); replaces an entry with the
    ///   identical match and priority (counters kept unless `OFPFF_RESET_COUNTS`,
    ///   duration restarted, position among equal priorities kept).
    /// * Modify / modify-strict: replace the instructions of the matching entries
    ///   (cookie filter applies; counters reset with `OFPFF_RESET_COUNTS`); no entry
    ///   matching is not an error and adds nothing (OpenFlow 1.3).
    /// * Delete / delete-strict: remove matching entries (`OFPTT_ALL` for every table;
    ///   cookie, `out_port` and `out_group` filters apply).
    ///
    /// `buffer_id` is not handled here (rvs does not buffer packets).
    pub fn apply(&mut self, fm: &FlowMod, now: Millis) -> Result<Applied, OfError> {
        let (key, mask) = match_to_key(&fm.match_)?;
        match fm.command {
            FlowModCommand::Add => self.add(fm, key, mask, now),
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                self.check_table(fm.table_id)?;
                self.check_instructions(&fm.instructions)?;
                let strict = fm.command == FlowModCommand::ModifyStrict;
                let t = usize::from(fm.table_id);
                let slots = self.select(t, &key, &mask, strict.then_some(fm.priority), fm);
                let insts: Arc<[Instruction]> = fm.instructions.clone().into();
                let reset = fm.flags & flow_mod_flags::RESET_COUNTS != 0;
                let Some(table) = self.tables.get_mut(t) else {
                    return Ok(Applied::default());
                };
                for &s in &slots {
                    if let Some(Some(r)) = table.rules.get_mut(s as usize) {
                        r.instructions = insts.clone();
                        if reset {
                            r.packets = 0;
                            r.bytes = 0;
                        }
                    }
                }
                if !slots.is_empty() {
                    self.touch(t);
                }
                Ok(Applied {
                    count: slots.len(),
                    removed: Vec::new(),
                })
            }
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                let strict = fm.command == FlowModCommand::DeleteStrict;
                let tables: Vec<usize> = if fm.table_id == OFPTT_ALL {
                    (0..self.tables.len()).collect()
                } else {
                    self.check_table(fm.table_id)?;
                    vec![usize::from(fm.table_id)]
                };
                let mut out = Applied::default();
                for t in tables {
                    let slots = self.select(t, &key, &mask, strict.then_some(fm.priority), fm);
                    let slots: Vec<u32> = match self.tables.get(t) {
                        Some(table) => slots
                            .into_iter()
                            .filter(|&s| {
                                table.rule(s).is_some_and(|r| {
                                    r.outputs_to(fm.out_port) && r.uses_group(fm.out_group)
                                })
                            })
                            .collect(),
                        None => continue,
                    };
                    if slots.is_empty() {
                        continue;
                    }
                    for s in slots {
                        if let Some(r) = self.tables.get_mut(t).and_then(|tb| tb.remove(s)) {
                            out.count += 1;
                            out.removed
                                .push(removed(&r, t as u8, FlowRemovedReason::Delete, now));
                        }
                    }
                    self.touch(t);
                }
                Ok(out)
            }
        }
    }

    /// Entries of table `t` selected by a modify/delete: strict (same match and
    /// priority) or not (at least as specific as the match), and the cookie filter.
    fn select(
        &self,
        t: usize,
        key: &FlowKey,
        mask: &FlowMask,
        strict: Option<u16>,
        fm: &FlowMod,
    ) -> Vec<u32> {
        let Some(table) = self.tables.get(t) else {
            return Vec::new();
        };
        let slots = match strict {
            Some(p) => table.find_strict(key, mask, p).into_iter().collect(),
            None => table.find_loose(key, mask),
        };
        slots
            .into_iter()
            .filter(|&s| {
                table
                    .rule(s)
                    .is_some_and(|r| r.cookie_matches(fm.cookie, fm.cookie_mask))
            })
            .collect()
    }

    fn add(
        &mut self,
        fm: &FlowMod,
        key: FlowKey,
        mask: FlowMask,
        now: Millis,
    ) -> Result<Applied, OfError> {
        self.check_table(fm.table_id)?;
        self.check_instructions(&fm.instructions)?;
        let t = usize::from(fm.table_id);
        let Some(table) = self.tables.get_mut(t) else {
            return Err(OfError::new(FlowModFailedCode::BadTableId, "no such table"));
        };
        if fm.flags & flow_mod_flags::CHECK_OVERLAP != 0 {
            let both = |r: &Rule| r.mask.intersect(&mask);
            let overlap = table
                .rules()
                .any(|r| r.priority == fm.priority && r.key.eq_masked(&key, &both(r)));
            if overlap {
                return Err(OfError::new(
                    FlowModFailedCode::Overlap,
                    "overlapping entry with the same priority",
                ));
            }
        }
        let mut rule = Rule {
            key,
            mask,
            priority: fm.priority,
            cookie: fm.cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            match_: fm.match_.clone(),
            instructions: fm.instructions.clone().into(),
            created: now,
            last_used: now,
            packets: 0,
            bytes: 0,
            seq: self.next_seq,
            uid: self.next_uid,
        };
        let existing = table.find_strict(&key, &mask, fm.priority);
        if existing.is_none() && table.len() >= self.max_per_table {
            return Err(OfError::new(FlowModFailedCode::TableFull, "table full"));
        }
        if let Some(old) = existing.and_then(|s| table.remove(s)) {
            rule.seq = old.seq;
            if fm.flags & flow_mod_flags::RESET_COUNTS == 0 {
                rule.packets = old.packets;
                rule.bytes = old.bytes;
                rule.uid = old.uid;
            }
        }
        if rule.seq == self.next_seq {
            self.next_seq += 1;
        }
        if rule.uid == self.next_uid {
            self.next_uid += 1;
        }
        table.insert(rule);
        self.touch(t);
        Ok(Applied {
            count: 1,
            removed: Vec::new(),
        })
    }

    /// Removes the entries whose hard or idle timeout has passed at `now`. Counters
    /// (and so idle times) are as fresh as the last [`Self::apply_credits`].
    pub fn expire(&mut self, now: Millis) -> Vec<Removed> {
        let mut out = Vec::new();
        for t in 0..self.tables.len() {
            let Some(table) = self.tables.get_mut(t) else {
                continue;
            };
            let mut due = Vec::new();
            for &s in &table.timed {
                let Some(r) = table.rule(s) else { continue };
                let hard = r.hard_timeout != 0
                    && now >= r.created.saturating_add(u64::from(r.hard_timeout) * 1000);
                let idle = r.idle_timeout != 0
                    && now >= r.last_used.saturating_add(u64::from(r.idle_timeout) * 1000);
                if hard {
                    due.push((s, FlowRemovedReason::HardTimeout));
                } else if idle {
                    due.push((s, FlowRemovedReason::IdleTimeout));
                }
            }
            if due.is_empty() {
                continue;
            }
            for (s, why) in due {
                if let Some(r) = table.remove(s) {
                    out.push(removed(&r, t as u8, why, now));
                }
            }
            self.touch(t);
        }
        out
    }

    /// Adds fast-path counters to rules and tables. Credits for rules deleted since
    /// are dropped.
    pub fn apply_credits(&mut self, credits: &[Credit]) {
        for c in credits {
            for t in c.tables.iter() {
                if let Some(table) = self.tables.get_mut(usize::from(t)) {
                    table.lookup_count += c.packets;
                }
            }
            for r in c.rules.iter() {
                let Some(table) = self.tables.get_mut(usize::from(r.table)) else {
                    continue;
                };
                table.matched_count += c.packets;
                if let Some(Some(rule)) = table.rules.get_mut(r.slot as usize) {
                    if rule.uid == r.uid {
                        rule.packets += c.packets;
                        rule.bytes += c.bytes;
                        rule.last_used = rule.last_used.max(c.used);
                    }
                }
            }
        }
    }

    /// `OFPMP_FLOW`: the entries selected by the request, each with exactly what was
    /// installed (match, instructions, cookie, priority, timeouts, flags).
    pub fn flow_stats(
        &self,
        req: &FlowStatsRequest,
        now: Millis,
    ) -> Result<Vec<FlowStats>, OfError> {
        let (key, mask) = match_to_key(&req.match_)?;
        let mut out = Vec::new();
        for (t, table) in self.tables.iter().enumerate() {
            if req.table_id != OFPTT_ALL && usize::from(req.table_id) != t {
                continue;
            }
            for s in table.find_loose(&key, &mask) {
                let Some(r) = table.rule(s) else { continue };
                if !r.cookie_matches(req.cookie, req.cookie_mask)
                    || !r.outputs_to(req.out_port)
                    || !r.uses_group(req.out_group)
                {
                    continue;
                }
                let (sec, nsec) = duration(r.created, now);
                out.push(FlowStats {
                    table_id: t as u8,
                    duration_sec: sec,
                    duration_nsec: nsec,
                    priority: r.priority,
                    idle_timeout: r.idle_timeout,
                    hard_timeout: r.hard_timeout,
                    flags: r.flags,
                    cookie: r.cookie,
                    packet_count: packet_count(r),
                    byte_count: byte_count(r),
                    match_: r.match_.clone(),
                    instructions: r.instructions.to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// `OFPMP_AGGREGATE` over the same selection as [`Self::flow_stats`].
    pub fn aggregate_stats(
        &self,
        req: &FlowStatsRequest,
        now: Millis,
    ) -> Result<AggregateStats, OfError> {
        let flows = self.flow_stats(req, now)?;
        Ok(AggregateStats {
            packet_count: flows
                .iter()
                .map(|f| f.packet_count)
                .fold(0, u64::wrapping_add),
            byte_count: flows
                .iter()
                .map(|f| f.byte_count)
                .fold(0, u64::wrapping_add),
            flow_count: flows.len() as u32,
        })
    }

    /// `OFPMP_TABLE`: one entry per table.
    pub fn table_stats(&self) -> Vec<TableStats> {
        self.tables
            .iter()
            .enumerate()
            .map(|(t, table)| TableStats {
                table_id: t as u8,
                active_count: table.len() as u32,
                lookup_count: table.lookup_count,
                matched_count: table.matched_count,
            })
            .collect()
    }
}

pub(crate) fn check_action(a: &Action) -> Result<(), OfError> {
    match a {
        Action::Output { port, .. } if *port == PortNo::TABLE => Err(OfError::new(
            BadActionCode::BadOutPort,
            "output to TABLE is for packet-out only",
        )),
        Action::SetField(f) if !settable(f) => Err(OfError::new(
            BadActionCode::BadSetType,
            "set-field on a field rvs cannot set",
        )),
        Action::PushPbb(_) | Action::PopPbb => Err(OfError::new(
            BadActionCode::BadType,
            "PBB actions are not supported",
        )),
        Action::Experimenter { .. } => Err(OfError::new(
            BadActionCode::BadExperimenter,
            "experimenter actions are not supported",
        )),
        _ => Ok(()),
    }
}

fn duration(created: Millis, now: Millis) -> (u32, u32) {
    let d = now.saturating_sub(created);
    ((d / 1000) as u32, ((d % 1000) * 1_000_000) as u32)
}

/// Counters a flow asked not to keep read as all ones (OpenFlow's "unavailable").
fn packet_count(r: &Rule) -> u64 {
    if r.flags & flow_mod_flags::NO_PKT_COUNTS != 0 {
        u64::MAX
    } else {
        r.packets
    }
}

fn byte_count(r: &Rule) -> u64 {
    if r.flags & flow_mod_flags::NO_BYT_COUNTS != 0 {
        u64::MAX
    } else {
        r.bytes
    }
}

fn removed(r: &Rule, table_id: u8, reason: FlowRemovedReason, now: Millis) -> Removed {
    let (sec, nsec) = duration(r.created, now);
    Removed {
        msg: FlowRemoved {
            cookie: r.cookie,
            priority: r.priority,
            reason,
            table_id,
            duration_sec: sec,
            duration_nsec: nsec,
            idle_timeout: r.idle_timeout,
            hard_timeout: r.hard_timeout,
            packet_count: packet_count(r),
            byte_count: byte_count(r),
            match_: r.match_.clone(),
        },
        notify: r.flags & flow_mod_flags::SEND_FLOW_REM != 0,
    }
}

#[cfg(test)]
mod tests;
