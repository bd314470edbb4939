//! Stand-in for `rvs_flow::group`, `rvs_flow::meter` and `rvs_flow::pipeline::actions_to_dp`,
//! which are being written in parallel. Same names and signatures as the agreed API, so
//! switching over is replacing this file's body with
//! `pub use rvs_flow::{group::GroupTable, meter::MeterTable, pipeline::actions_to_dp};`.
//!
//! What it implements is the control-plane half: validation with the specification's
//! error codes, descriptions, configuration, statistics shape and replay order. Packet
//! counters are atomics that stay at zero until a datapath counts into them.

use rvs_flow::pipeline::DpAction;
use rvs_openflow::action::Action;
use rvs_openflow::error::{BadActionCode, GroupModFailedCode, MeterModFailedCode, OfError};
use rvs_openflow::group::{
    group_capabilities, BucketCounter, GroupDesc, GroupFeatures, GroupMod, GroupModCommand,
    GroupStats, GroupType, OFPG_ALL, OFPG_MAX,
};
use rvs_openflow::message::PacketInReason;
use rvs_openflow::meter::{
    band_type, meter_flags, MeterBand, MeterBandStats, MeterConfig, MeterFeatures, MeterMod,
    MeterModCommand, MeterStats, OFPM_ALL, OFPM_MAX,
};
use rvs_openflow::PortNo;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One installed group.
#[derive(Debug)]
pub struct Group {
    pub id: u32,
    pub kind: GroupType,
    pub buckets: Vec<rvs_openflow::group::Bucket>,
    packets: AtomicU64,
    bytes: AtomicU64,
    created_ns: u64,
}

/// Ids of groups a group-mod deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    pub removed: Vec<u32>,
}

/// The groups of one switch; clones share each group.
#[derive(Debug, Clone, Default)]
pub struct GroupTable {
    groups: BTreeMap<u32, Arc<Group>>,
}

fn chained(g: &[rvs_openflow::group::Bucket]) -> impl Iterator<Item = u32> + '_ {
    g.iter().flat_map(|b| {
        b.actions.iter().filter_map(|a| match a {
            Action::Group(id) => Some(*id),
            _ => None,
        })
    })
}

impl GroupTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, gm: &GroupMod) -> Result<GroupChange, OfError> {
        match gm.command {
            GroupModCommand::Delete => {
                let removed: Vec<u32> = if gm.group_id == OFPG_ALL {
                    self.groups.keys().copied().collect()
                } else {
                    self.groups
                        .get(&gm.group_id)
                        .map(|g| g.id)
                        .into_iter()
                        .collect()
                };
                for id in &removed {
                    self.groups.remove(id);
                }
                Ok(GroupChange { removed })
            }
            GroupModCommand::Add | GroupModCommand::Modify => {
                if gm.group_id > OFPG_MAX {
                    return Err(OfError::new(
                        GroupModFailedCode::InvalidGroup,
                        "reserved group id",
                    ));
                }
                let exists = self.groups.contains_key(&gm.group_id);
                if gm.command == GroupModCommand::Add && exists {
                    return Err(OfError::new(
                        GroupModFailedCode::GroupExists,
                        "group exists",
                    ));
                }
                if gm.command == GroupModCommand::Modify && !exists {
                    return Err(OfError::new(
                        GroupModFailedCode::UnknownGroup,
                        "no such group",
                    ));
                }
                if gm.group_type == GroupType::Indirect && gm.buckets.len() != 1 {
                    return Err(OfError::new(
                        GroupModFailedCode::InvalidGroup,
                        "indirect group needs exactly one bucket",
                    ));
                }
                for b in &gm.buckets {
                    if b.weight != 0 && gm.group_type != GroupType::Select {
                        return Err(OfError::new(
                            GroupModFailedCode::BadBucket,
                            "weight on a non-select group",
                        ));
                    }
                }
                for target in chained(&gm.buckets) {
                    if !self.groups.contains_key(&target) {
                        return Err(OfError::new(
                            BadActionCode::BadOutGroup,
                            "bucket chains to a group that does not exist",
                        ));
                    }
                    if self.reaches(target, gm.group_id) {
                        return Err(OfError::new(GroupModFailedCode::Loop, "group loop"));
                    }
                }
                self.groups.insert(
                    gm.group_id,
                    Arc::new(Group {
                        id: gm.group_id,
                        kind: gm.group_type,
                        buckets: gm.buckets.clone(),
                        packets: AtomicU64::new(0),
                        bytes: AtomicU64::new(0),
                        created_ns: 0,
                    }),
                );
                Ok(GroupChange::default())
            }
        }
    }

    /// Whether `from` chains (directly or not) to `to`. Bounded by the table size.
    fn reaches(&self, from: u32, to: u32) -> bool {
        let mut stack = vec![from];
        let mut steps = 0usize;
        while let Some(id) = stack.pop() {
            if id == to {
                return true;
            }
            steps += 1;
            if steps > self.groups.len() + 1 {
                return true;
            }
            if let Some(g) = self.groups.get(&id) {
                stack.extend(chained(&g.buckets));
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

    pub fn desc(&self) -> Vec<GroupDesc> {
        self.groups
            .values()
            .map(|g| GroupDesc {
                group_type: g.kind,
                group_id: g.id,
                buckets: g.buckets.clone(),
            })
            .collect()
    }

    pub fn stats(&self, id: u32, ref_count: &dyn Fn(u32) -> u32) -> Vec<GroupStats> {
        self.groups
            .values()
            .filter(|g| id == OFPG_ALL || g.id == id)
            .map(|g| GroupStats {
                group_id: g.id,
                ref_count: ref_count(g.id),
                packet_count: g.packets.load(Ordering::Relaxed),
                byte_count: g.bytes.load(Ordering::Relaxed),
                duration_sec: (g.created_ns / 1_000_000_000) as u32,
                duration_nsec: 0,
                bucket_stats: g
                    .buckets
                    .iter()
                    .map(|_| BucketCounter {
                        packet_count: 0,
                        byte_count: 0,
                    })
                    .collect(),
            })
            .collect()
    }

    pub fn features() -> GroupFeatures {
        let all_actions = (1u32 << 0)
            | (1 << 11)
            | (1 << 12)
            | (1 << 15)
            | (1 << 16)
            | (1 << 17)
            | (1 << 18)
            | (1 << 19)
            | (1 << 20)
            | (1 << 21)
            | (1 << 22)
            | (1 << 23)
            | (1 << 24)
            | (1 << 25);
        GroupFeatures {
            types: 0b1111,
            capabilities: group_capabilities::SELECT_WEIGHT
                | group_capabilities::SELECT_LIVENESS
                | group_capabilities::CHAINING,
            max_groups: [OFPG_MAX; 4],
            actions: [all_actions; 4],
        }
    }

    /// Every group as an add, each after the groups it chains to.
    pub fn to_mods(&self) -> Vec<GroupMod> {
        let mut out = Vec::with_capacity(self.groups.len());
        let mut done = std::collections::BTreeSet::new();
        for &id in self.groups.keys() {
            self.emit(id, &mut done, &mut out, 0);
        }
        out
    }

    fn emit(
        &self,
        id: u32,
        done: &mut std::collections::BTreeSet<u32>,
        out: &mut Vec<GroupMod>,
        depth: usize,
    ) {
        if done.contains(&id) || depth > self.groups.len() {
            return;
        }
        let Some(g) = self.groups.get(&id) else {
            return;
        };
        for t in chained(&g.buckets) {
            self.emit(t, done, out, depth + 1);
        }
        done.insert(id);
        out.push(GroupMod {
            command: GroupModCommand::Add,
            group_type: g.kind,
            group_id: g.id,
            buckets: g.buckets.clone(),
        });
    }
}

/// One installed meter.
#[derive(Debug)]
pub struct Meter {
    pub id: u32,
    pub flags: u16,
    pub bands: Vec<MeterBand>,
    created_ns: u64,
    packets: AtomicU64,
    bytes: AtomicU64,
}

/// The meters of one switch; clones share each meter.
#[derive(Debug, Clone, Default)]
pub struct MeterTable {
    meters: BTreeMap<u32, Arc<Meter>>,
}

const MAX_BANDS: usize = 8;

impl MeterTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, mm: &MeterMod, now_ns: u64) -> Result<(), OfError> {
        if mm.command == MeterModCommand::Delete {
            if mm.meter_id == OFPM_ALL {
                self.meters.clear();
            } else {
                self.meters.remove(&mm.meter_id);
            }
            return Ok(());
        }
        if mm.meter_id == 0 || mm.meter_id > OFPM_MAX {
            return Err(OfError::new(
                MeterModFailedCode::InvalidMeter,
                "meter id out of range",
            ));
        }
        let exists = self.meters.contains_key(&mm.meter_id);
        if mm.command == MeterModCommand::Add && exists {
            return Err(OfError::new(
                MeterModFailedCode::MeterExists,
                "meter exists",
            ));
        }
        if mm.command == MeterModCommand::Modify && !exists {
            return Err(OfError::new(
                MeterModFailedCode::UnknownMeter,
                "no such meter",
            ));
        }
        let unit = mm.flags & (meter_flags::KBPS | meter_flags::PKTPS);
        if mm.flags & !meter_flags::ALL != 0 || unit == (meter_flags::KBPS | meter_flags::PKTPS) {
            return Err(OfError::new(MeterModFailedCode::BadFlags, "meter flags"));
        }
        if mm.bands.len() > MAX_BANDS {
            return Err(OfError::new(
                MeterModFailedCode::OutOfBands,
                "too many bands",
            ));
        }
        for b in &mm.bands {
            if b.band_type() == band_type::EXPERIMENTER {
                return Err(OfError::new(
                    MeterModFailedCode::BadBand,
                    "experimenter bands are not supported",
                ));
            }
            if b.rate() == 0 {
                return Err(OfError::new(MeterModFailedCode::BadRate, "zero rate"));
            }
            if mm.flags & meter_flags::BURST == 0 && b.burst_size() != 0 {
                return Err(OfError::new(
                    MeterModFailedCode::BadBurst,
                    "burst size without OFPMF_BURST",
                ));
            }
        }
        self.meters.insert(
            mm.meter_id,
            Arc::new(Meter {
                id: mm.meter_id,
                flags: mm.flags,
                bands: mm.bands.clone(),
                created_ns: now_ns,
                packets: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
            }),
        );
        Ok(())
    }

    pub fn get(&self, id: u32) -> Option<&Arc<Meter>> {
        self.meters.get(&id)
    }

    pub fn len(&self) -> usize {
        self.meters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meters.is_empty()
    }

    pub fn config(&self, id: u32) -> Vec<MeterConfig> {
        self.meters
            .values()
            .filter(|m| id == OFPM_ALL || m.id == id)
            .map(|m| MeterConfig {
                flags: m.flags,
                meter_id: m.id,
                bands: m.bands.clone(),
            })
            .collect()
    }

    pub fn stats(&self, id: u32, flow_count: &dyn Fn(u32) -> u32, now_ns: u64) -> Vec<MeterStats> {
        self.meters
            .values()
            .filter(|m| id == OFPM_ALL || m.id == id)
            .map(|m| {
                let d = now_ns.saturating_sub(m.created_ns);
                MeterStats {
                    meter_id: m.id,
                    flow_count: flow_count(m.id),
                    packet_in_count: m.packets.load(Ordering::Relaxed),
                    byte_in_count: m.bytes.load(Ordering::Relaxed),
                    duration_sec: (d / 1_000_000_000) as u32,
                    duration_nsec: (d % 1_000_000_000) as u32,
                    band_stats: m
                        .bands
                        .iter()
                        .map(|_| MeterBandStats {
                            packet_band_count: 0,
                            byte_band_count: 0,
                        })
                        .collect(),
                }
            })
            .collect()
    }

    pub fn features() -> MeterFeatures {
        MeterFeatures {
            max_meter: OFPM_MAX,
            band_types: (1 << band_type::DROP) | (1 << band_type::DSCP_REMARK),
            capabilities: u32::from(meter_flags::ALL),
            max_bands: MAX_BANDS as u8,
            max_color: 0,
        }
    }

    pub fn to_mods(&self) -> Vec<MeterMod> {
        self.meters
            .values()
            .map(|m| MeterMod {
                command: MeterModCommand::Add,
                flags: m.flags,
                meter_id: m.id,
                bands: m.bands.clone(),
            })
            .collect()
    }
}

/// OpenFlow actions (packet-out, group buckets) as datapath actions, in order.
/// `OFPP_TABLE` has no datapath action; it is left out here.
pub fn actions_to_dp(actions: &[Action]) -> Vec<DpAction> {
    actions
        .iter()
        .filter_map(|a| {
            Some(match a {
                Action::Output { port, max_len } => match *port {
                    PortNo::IN_PORT => DpAction::InPort,
                    PortNo::FLOOD => DpAction::Flood,
                    PortNo::ALL => DpAction::All,
                    PortNo::NORMAL => DpAction::Normal,
                    PortNo::LOCAL => DpAction::Local,
                    PortNo::CONTROLLER => DpAction::Controller {
                        max_len: *max_len,
                        reason: PacketInReason::Action,
                        table_id: 0xff,
                        cookie: u64::MAX,
                    },
                    p if p.is_standard() => DpAction::Output(p.0),
                    _ => return None,
                },
                Action::CopyTtlOut => DpAction::CopyTtlOut,
                Action::CopyTtlIn => DpAction::CopyTtlIn,
                Action::SetMplsTtl(t) => DpAction::SetMplsTtl(*t),
                Action::DecMplsTtl => DpAction::DecMplsTtl,
                Action::PushVlan(t) => DpAction::PushVlan(*t),
                Action::PopVlan => DpAction::PopVlan,
                Action::PushMpls(t) => DpAction::PushMpls(*t),
                Action::PopMpls(t) => DpAction::PopMpls(*t),
                Action::SetQueue(q) => DpAction::SetQueue(*q),
                Action::Group(g) => DpAction::Group(*g),
                Action::SetNwTtl(t) => DpAction::SetNwTtl(*t),
                Action::DecNwTtl => DpAction::DecNwTtl,
                Action::SetField(f) => DpAction::SetField(*f),
                Action::PushPbb(_) | Action::PopPbb | Action::Experimenter { .. } => return None,
            })
        })
        .collect()
}
