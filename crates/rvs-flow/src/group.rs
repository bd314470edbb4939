//! OpenFlow 1.3 groups: the group table, group-mod checks, bucket choice and counters.
//!
//! # Design
//!
//! The control thread owns a [`GroupTable`] and changes it with [`GroupTable::apply`];
//! datapath threads read clones of it. Each [`Group`] sits behind an `Arc` and never
//! changes once installed: a modify builds a new `Group` and swaps the `Arc`, so a
//! clone of the table is a consistent snapshot and cloning costs one reference count
//! per group. Counters are atomics: the group's packet/byte counters live in an `Arc`
//! shared by every version of the group (a modify keeps them), bucket counters belong
//! to one set of buckets (a modify that replaces the buckets starts them at zero).
//!
//! # Choosing buckets
//!
//! [`Group::choose`] returns the buckets a packet takes:
//!
//! * all: every bucket; indirect: its one bucket;
//! * fast failover: the first live bucket;
//! * select: one live bucket of non-zero weight, by weighted rendezvous hashing: each
//!   bucket scores `-ln(u) / weight` with `u` uniform in (0, 1] drawn from the packet's
//!   flow hash and the bucket's index, and the lowest score wins. A bucket is chosen
//!   with probability proportional to its weight, and a packet's choice changes only
//!   when its chosen bucket dies or a better-scoring bucket comes back: flows on other
//!   buckets stay where they are.
//!
//! A bucket is live when its watched port is live (the caller's `port_live`) and its
//! watched group has a live bucket; a bucket that watches nothing is live. Liveness of
//! chained watches is followed to a fixed depth ([`MAX_CHAIN_DEPTH`]), beyond which a
//! group counts as dead.
//!
//! # Checks
//!
//! Group-mods fail with the codes OpenFlow 1.3 names: `GROUP_EXISTS` (add of an
//! existing id), `UNKNOWN_GROUP` (modify of a missing id), `INVALID_GROUP` (a reserved
//! id), `OUT_OF_GROUPS`/`OUT_OF_BUCKETS` (the limits in [`GroupTable::features`]),
//! `BAD_BUCKET` (an indirect group without exactly one bucket), `WEIGHT_UNSUPPORTED`
//! (a weight outside a select group), `BAD_WATCH` (a fast-failover bucket that watches
//! nothing, a reserved watch port, a group watching itself), `LOOP` (a bucket chaining
//! back to the group), `CHAINED_GROUP` (deleting a group another group forwards to),
//! and for bucket actions the flow-mod action codes (`OFPBAC_*`; a group action naming
//! a missing group is `OFPBAC_BAD_OUT_GROUP`). Since a chained group must exist first,
//! [`GroupTable::to_mods`] lists groups after the groups they chain to.

use crate::classifier::check_action;
use crate::pipeline::{actions_to_dp, DpAction};
use rvs_openflow::action::{action_type, Action};
use rvs_openflow::error::{BadActionCode, GroupModFailedCode};
use rvs_openflow::group::{
    group_capabilities, Bucket, BucketCounter, GroupDesc, GroupFeatures, GroupMod, GroupModCommand,
    GroupStats, GroupType, OFPG_ALL, OFPG_ANY, OFPG_MAX,
};
use rvs_openflow::{OfError, PortNo};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Most groups a table holds (of each type, as features report; the limit is global).
pub const MAX_GROUPS: u32 = 65_536;
/// Most buckets in one group.
pub const MAX_BUCKETS: usize = 1024;
/// How deep [`Group::choose`] follows watched groups.
pub const MAX_CHAIN_DEPTH: u32 = 16;

/// One bucket as installed.
#[derive(Debug)]
pub struct GroupBucket {
    pub weight: u16,
    pub watch_port: u32,
    pub watch_group: u32,
    /// The bucket's actions as datapath actions, in order (see
    /// [`crate::pipeline::actions_to_dp`]).
    pub actions: Vec<DpAction>,
    /// The actions as the controller sent them.
    pub of_actions: Vec<Action>,
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl GroupBucket {
    fn new(b: &Bucket) -> Self {
        GroupBucket {
            weight: b.weight,
            watch_port: b.watch_port.0,
            watch_group: b.watch_group,
            actions: actions_to_dp(&b.actions),
            of_actions: b.actions.clone(),
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn to_bucket(&self) -> Bucket {
        Bucket {
            weight: self.weight,
            watch_port: PortNo(self.watch_port),
            watch_group: self.watch_group,
            actions: self.of_actions.clone(),
        }
    }

    fn counter(&self) -> BucketCounter {
        BucketCounter {
            packet_count: self.packets.load(Ordering::Relaxed),
            byte_count: self.bytes.load(Ordering::Relaxed),
        }
    }

    fn is_live(&self, port_live: &dyn Fn(u32) -> bool, groups: &GroupTable, depth: u32) -> bool {
        let port_ok = self.watch_port == PortNo::ANY.0 || port_live(self.watch_port);
        let group_ok = self.watch_group == OFPG_ANY
            || groups
                .get(self.watch_group)
                .is_some_and(|g| g.is_live(port_live, groups, depth + 1));
        port_ok && group_ok
    }

    /// Groups this bucket forwards to.
    fn chained(&self) -> impl Iterator<Item = u32> + '_ {
        self.of_actions.iter().filter_map(|a| match a {
            Action::Group(g) => Some(*g),
            _ => None,
        })
    }
}

/// Counters that survive a modify.
#[derive(Debug)]
struct GroupCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    created: Instant,
}

/// One group as installed.
#[derive(Debug)]
pub struct Group {
    pub id: u32,
    pub kind: GroupType,
    pub buckets: Vec<GroupBucket>,
    counters: Arc<GroupCounters>,
}

/// splitmix64's finalizer: a full-avalanche mix of one word.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Group {
    /// Buckets a packet with flow hash `hash` takes, as indexes into `buckets`, written
    /// into `out` (cleared first). Empty: the packet is dropped.
    pub fn choose(
        &self,
        hash: u64,
        port_live: &dyn Fn(u32) -> bool,
        groups: &GroupTable,
        out: &mut Vec<usize>,
    ) {
        out.clear();
        match self.kind {
            GroupType::All => out.extend(0..self.buckets.len()),
            GroupType::Indirect => out.extend((!self.buckets.is_empty()).then_some(0)),
            GroupType::FastFailover => out.extend(
                self.buckets
                    .iter()
                    .position(|b| b.is_live(port_live, groups, 0)),
            ),
            GroupType::Select => {
                let mut best: Option<(f64, usize)> = None;
                for (i, b) in self.buckets.iter().enumerate() {
                    if b.weight == 0 || !b.is_live(port_live, groups, 0) {
                        continue;
                    }
                    let r = mix64(hash ^ mix64(i as u64 ^ 0x5851_f42d_4c95_7f2d));
                    // Uniform in (0, 1]: 53 random bits, plus one so ln() stays finite.
                    let u = ((r >> 11) + 1) as f64 / (1u64 << 53) as f64;
                    let score = -u.ln() / f64::from(b.weight);
                    if best.is_none_or(|(s, _)| score < s) {
                        best = Some((score, i));
                    }
                }
                out.extend(best.map(|(_, i)| i));
            }
        }
    }

    /// Whether some bucket is live (a watched group's liveness).
    fn is_live(&self, port_live: &dyn Fn(u32) -> bool, groups: &GroupTable, depth: u32) -> bool {
        depth < MAX_CHAIN_DEPTH
            && self
                .buckets
                .iter()
                .any(|b| b.is_live(port_live, groups, depth))
    }

    /// Counts one packet of `bytes` on the group and on bucket `bucket` (an index out of
    /// range counts on the group only). Thread-safe; shared by clones of the table.
    pub fn count(&self, bucket: usize, bytes: u64) {
        self.count_group(bytes);
        self.count_bucket(bucket, bytes);
    }

    /// Counts one packet on the group alone (an all group: once per packet, then
    /// [`Self::count_bucket`] for each bucket).
    pub fn count_group(&self, bytes: u64) {
        self.counters.packets.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts one packet on bucket `bucket` alone.
    pub fn count_bucket(&self, bucket: usize, bytes: u64) {
        if let Some(b) = self.buckets.get(bucket) {
            b.packets.fetch_add(1, Ordering::Relaxed);
            b.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// The group's packet and byte counters.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counters.packets.load(Ordering::Relaxed),
            self.counters.bytes.load(Ordering::Relaxed),
        )
    }

    fn desc(&self) -> GroupDesc {
        GroupDesc {
            group_type: self.kind,
            group_id: self.id,
            buckets: self.buckets.iter().map(GroupBucket::to_bucket).collect(),
        }
    }

    fn chained(&self) -> BTreeSet<u32> {
        self.buckets.iter().flat_map(GroupBucket::chained).collect()
    }
}

/// What a group-mod changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    /// Groups deleted: flows that forward to them must be removed.
    pub removed: Vec<u32>,
}

/// Action types rvs executes (group features, and the switch's table features).
pub const SUPPORTED_ACTIONS: [u16; 14] = {
    use action_type as t;
    [
        t::OUTPUT,
        t::COPY_TTL_OUT,
        t::COPY_TTL_IN,
        t::SET_MPLS_TTL,
        t::DEC_MPLS_TTL,
        t::PUSH_VLAN,
        t::POP_VLAN,
        t::PUSH_MPLS,
        t::POP_MPLS,
        t::SET_QUEUE,
        t::GROUP,
        t::SET_NW_TTL,
        t::DEC_NW_TTL,
        t::SET_FIELD,
    ]
};

/// The group table of one bridge.
#[derive(Debug, Clone, Default)]
pub struct GroupTable {
    groups: BTreeMap<u32, Arc<Group>>,
}

fn gm_err(code: GroupModFailedCode, detail: &'static str) -> OfError {
    OfError::new(code, detail)
}

impl GroupTable {
    pub fn new() -> Self {
        GroupTable::default()
    }

    /// Applies a group-mod (see the module documentation for the checks). Delete of
    /// `OFPG_ALL` removes every group; delete of a missing group is not an error.
    /// Modify replaces type and buckets and keeps the group's counters and age.
    pub fn apply(&mut self, gm: &GroupMod) -> Result<GroupChange, OfError> {
        use GroupModFailedCode as C;
        match gm.command {
            GroupModCommand::Delete => {
                if gm.group_id == OFPG_ALL {
                    let removed = self.groups.keys().copied().collect();
                    self.groups.clear();
                    return Ok(GroupChange { removed });
                }
                if gm.group_id > OFPG_MAX {
                    return Err(gm_err(C::InvalidGroup, "reserved group id"));
                }
                if !self.groups.contains_key(&gm.group_id) {
                    return Ok(GroupChange::default());
                }
                let referenced = self
                    .groups
                    .values()
                    .any(|g| g.id != gm.group_id && g.chained().contains(&gm.group_id));
                if referenced {
                    return Err(gm_err(
                        C::ChainedGroup,
                        "another group forwards to this group",
                    ));
                }
                self.groups.remove(&gm.group_id);
                Ok(GroupChange {
                    removed: vec![gm.group_id],
                })
            }
            GroupModCommand::Add | GroupModCommand::Modify => {
                if gm.group_id > OFPG_MAX {
                    return Err(gm_err(C::InvalidGroup, "reserved group id"));
                }
                let old = self.groups.get(&gm.group_id);
                match (gm.command, old) {
                    (GroupModCommand::Add, Some(_)) => {
                        return Err(gm_err(C::GroupExists, "group already exists"))
                    }
                    (GroupModCommand::Modify, None) => {
                        return Err(gm_err(C::UnknownGroup, "no such group"))
                    }
                    (GroupModCommand::Add, None) if self.groups.len() >= MAX_GROUPS as usize => {
                        return Err(gm_err(C::OutOfGroups, "group table full"))
                    }
                    _ => {}
                }
                self.check(gm)?;
                let counters = match old {
                    Some(g) => g.counters.clone(),
                    None => Arc::new(GroupCounters {
                        packets: AtomicU64::new(0),
                        bytes: AtomicU64::new(0),
                        created: Instant::now(),
                    }),
                };
                let group = Group {
                    id: gm.group_id,
                    kind: gm.group_type,
                    buckets: gm.buckets.iter().map(GroupBucket::new).collect(),
                    counters,
                };
                self.groups.insert(gm.group_id, Arc::new(group));
                Ok(GroupChange::default())
            }
        }
    }

    /// Checks type, buckets, watches, bucket actions and chaining of an add/modify.
    fn check(&self, gm: &GroupMod) -> Result<(), OfError> {
        use GroupModFailedCode as C;
        if gm.buckets.len() > MAX_BUCKETS {
            return Err(gm_err(C::OutOfBuckets, "too many buckets"));
        }
        if gm.group_type == GroupType::Indirect && gm.buckets.len() != 1 {
            return Err(gm_err(
                C::BadBucket,
                "an indirect group has exactly one bucket",
            ));
        }
        for b in &gm.buckets {
            if gm.group_type != GroupType::Select && b.weight != 0 {
                return Err(gm_err(
                    C::WeightUnsupported,
                    "weights are for select groups",
                ));
            }
            let port_ok = b.watch_port == PortNo::ANY || b.watch_port.is_standard();
            let group_ok = b.watch_group == OFPG_ANY
                || (b.watch_group <= OFPG_MAX && b.watch_group != gm.group_id);
            if !port_ok || !group_ok {
                return Err(gm_err(C::BadWatch, "bad watch port or group"));
            }
            if gm.group_type == GroupType::FastFailover
                && b.watch_port == PortNo::ANY
                && b.watch_group == OFPG_ANY
            {
                return Err(gm_err(
                    C::BadWatch,
                    "fast-failover buckets must watch a port or group",
                ));
            }
            for a in &b.actions {
                check_action(a)?;
                if let Action::Group(g) = a {
                    if *g == gm.group_id || self.reaches(*g, gm.group_id) {
                        return Err(gm_err(C::Loop, "group chaining loop"));
                    }
                    if !self.groups.contains_key(g) {
                        return Err(OfError::new(
                            BadActionCode::BadOutGroup,
                            "bucket forwards to a missing group",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `from` forwards, directly or through other groups, to `to`.
    fn reaches(&self, from: u32, to: u32) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(id) = todo.pop() {
            if id == to {
                return true;
            }
            if !seen.insert(id) {
                continue;
            }
            if let Some(g) = self.groups.get(&id) {
                todo.extend(g.chained());
            }
        }
        false
    }

    pub fn get(&self, id: u32) -> Option<&Arc<Group>> {
        self.groups.get(&id)
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every group in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Group>> {
        self.groups.values()
    }

    /// `OFPMP_GROUP_DESC`: every group by id, with exactly the buckets installed.
    pub fn desc(&self) -> Vec<GroupDesc> {
        self.groups.values().map(|g| g.desc()).collect()
    }

    /// `OFPMP_GROUP` for one group or `OFPG_ALL`; `ref_count(id)` is the number of flows
    /// forwarding to the group (known to the caller); groups chaining to it are added.
    pub fn stats(&self, id: u32, ref_count: &dyn Fn(u32) -> u32) -> Vec<GroupStats> {
        let one = |g: &Group| {
            let (packet_count, byte_count) = g.counts();
            let age = g.counters.created.elapsed();
            let chained_refs = self
                .groups
                .values()
                .filter(|o| o.chained().contains(&g.id))
                .count() as u32;
            GroupStats {
                group_id: g.id,
                ref_count: ref_count(g.id).saturating_add(chained_refs),
                packet_count,
                byte_count,
                duration_sec: age.as_secs().min(u64::from(u32::MAX)) as u32,
                duration_nsec: age.subsec_nanos(),
                bucket_stats: g.buckets.iter().map(GroupBucket::counter).collect(),
            }
        };
        if id == OFPG_ALL {
            self.groups.values().map(|g| one(g)).collect()
        } else {
            self.groups.get(&id).map(|g| one(g)).into_iter().collect()
        }
    }

    /// `OFPMP_GROUP_FEATURES`: every type, weights, liveness, chaining with checks.
    pub fn features() -> GroupFeatures {
        let actions = SUPPORTED_ACTIONS.iter().fold(0u32, |acc, &a| acc | 1 << a);
        GroupFeatures {
            types: (1 << GroupType::All as u32)
                | (1 << GroupType::Select as u32)
                | (1 << GroupType::Indirect as u32)
                | (1 << GroupType::FastFailover as u32),
            capabilities: group_capabilities::SELECT_WEIGHT
                | group_capabilities::SELECT_LIVENESS
                | group_capabilities::CHAINING
                | group_capabilities::CHAINING_CHECKS,
            max_groups: [MAX_GROUPS; 4],
            actions: [actions; 4],
        }
    }

    /// Every group as an add, each after the groups it forwards to, so that applying
    /// them in order to an empty table rebuilds this one.
    pub fn to_mods(&self) -> Vec<GroupMod> {
        let mut done = BTreeSet::new();
        let mut visiting = BTreeSet::new();
        let mut out = Vec::with_capacity(self.groups.len());
        for &root in self.groups.keys() {
            // Iterative post-order walk (the table has no loops; `done` bounds it anyway).
            let mut stack = vec![(root, false)];
            while let Some((id, expanded)) = stack.pop() {
                if done.contains(&id) {
                    continue;
                }
                let Some(g) = self.groups.get(&id) else {
                    continue;
                };
                if expanded {
                    done.insert(id);
                    out.push(GroupMod {
                        command: GroupModCommand::Add,
                        group_type: g.kind,
                        group_id: g.id,
                        buckets: g.buckets.iter().map(GroupBucket::to_bucket).collect(),
                    });
                } else if visiting.insert(id) {
                    stack.push((id, true));
                    stack.extend(
                        g.chained()
                            .into_iter()
                            .filter(|c| !done.contains(c))
                            .map(|c| (c, false)),
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
