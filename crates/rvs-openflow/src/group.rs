//! Groups: `OFPT_GROUP_MOD`, buckets, and the group multipart bodies
//! (`OFPMP_GROUP`, `OFPMP_GROUP_DESC`, `OFPMP_GROUP_FEATURES`).

use crate::action::{actions_len, decode_actions, encode_actions, Action};
use crate::buf::{Put, Reader};
use crate::error::{BadRequestCode, GroupModFailedCode, OfError};
use crate::port::PortNo;

/// `OFPG_MAX`: last usable group number.
pub const OFPG_MAX: u32 = 0xffff_ff00;
/// `OFPG_ALL`: all groups (group delete, group stats).
pub const OFPG_ALL: u32 = 0xffff_fffc;
/// `OFPG_ANY`: wildcard (flow-mod `out_group`, bucket `watch_group`).
pub const OFPG_ANY: u32 = 0xffff_ffff;

/// `ofp_group_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupType {
    All = 0,
    Select = 1,
    Indirect = 2,
    FastFailover = 3,
}

impl GroupType {
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::All,
            1 => Self::Select,
            2 => Self::Indirect,
            3 => Self::FastFailover,
            _ => return None,
        })
    }
}

/// `ofp_group_mod_command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupModCommand {
    Add = 0,
    Modify = 1,
    Delete = 2,
}

impl GroupModCommand {
    pub const fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            0 => Self::Add,
            1 => Self::Modify,
            2 => Self::Delete,
            _ => return None,
        })
    }
}

/// Size of `ofp_bucket` without actions.
pub const OFP_BUCKET_LEN: usize = 16;

/// `ofp_bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Relative weight (select groups only).
    pub weight: u16,
    /// Port whose liveness gates this bucket (fast-failover only; `ANY` otherwise).
    pub watch_port: PortNo,
    /// Group whose liveness gates this bucket (fast-failover only; `OFPG_ANY` otherwise).
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    /// A bucket with no weight and no watch.
    pub fn new(actions: Vec<Action>) -> Self {
        Bucket {
            weight: 0,
            watch_port: PortNo::ANY,
            watch_group: OFPG_ANY,
            actions,
        }
    }

    pub fn wire_len(&self) -> usize {
        OFP_BUCKET_LEN + actions_len(&self.actions)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u16(self.weight);
        out.put_u32(self.watch_port.0);
        out.put_u32(self.watch_group);
        out.put_zeros(4);
        encode_actions(&self.actions, out);
        let len = out.len() - start;
        out.patch_u16(start, len);
    }

    /// Decodes one bucket; structural defects are reported as `bad` (the group-mod
    /// decoder passes `OFPGMFC_BAD_BUCKET`).
    pub(crate) fn decode(r: &mut Reader<'_>, bad: OfError) -> Result<Self, OfError> {
        let len = usize::from(r.peek_u16_at(0).map_err(|_| bad)?);
        if len < OFP_BUCKET_LEN || len % 8 != 0 {
            return Err(bad);
        }
        let body = r.bytes(len).map_err(|_| bad)?;
        let mut b = Reader::new(body, bad);
        b.skip(2)?;
        let weight = b.u16()?;
        let watch_port = PortNo(b.u32()?);
        let watch_group = b.u32()?;
        b.skip(4)?;
        Ok(Bucket {
            weight,
            watch_port,
            watch_group,
            actions: decode_actions(b.rest())?,
        })
    }
}

fn decode_buckets(buf: &[u8], bad: OfError) -> Result<Vec<Bucket>, OfError> {
    let mut r = Reader::new(buf, bad);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(Bucket::decode(&mut r, bad)?);
    }
    Ok(out)
}

/// `OFPT_GROUP_MOD` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupMod {
    pub command: GroupModCommand,
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let command = r.u16()?;
        let group_type = r.u8()?;
        r.skip(1)?;
        let group_id = r.u32()?;
        let command = GroupModCommand::from_u16(command).ok_or(OfError::new(
            GroupModFailedCode::BadCommand,
            "group command",
        ))?;
        let group_type = GroupType::from_u8(group_type)
            .ok_or(OfError::new(GroupModFailedCode::BadType, "group type"))?;
        let id_ok = match command {
            GroupModCommand::Delete => group_id <= OFPG_MAX || group_id == OFPG_ALL,
            _ => group_id <= OFPG_MAX,
        };
        if !id_ok {
            return Err(OfError::new(
                GroupModFailedCode::InvalidGroup,
                "reserved group id",
            ));
        }
        let buckets = decode_buckets(
            r.rest(),
            OfError::new(GroupModFailedCode::BadBucket, "bucket length"),
        )?;
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            buckets,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command as u16);
        out.put_u8(self.group_type as u8);
        out.put_zeros(1);
        out.put_u32(self.group_id);
        for b in &self.buckets {
            b.encode(out);
        }
    }
}

/// `ofp_group_desc` (one entry of an `OFPMP_GROUP_DESC` reply).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupDesc {
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupDesc {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.group_type as u8);
        out.put_zeros(1);
        out.put_u32(self.group_id);
        for b in &self.buckets {
            b.encode(out);
        }
        let len = out.len() - start;
        out.patch_u16(start, len);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let bad = OfError::new(BadRequestCode::BadLen, "group desc length");
        let len = usize::from(r.peek_u16_at(0)?);
        if len < 8 {
            return Err(bad);
        }
        let mut b = Reader::new(r.bytes(len)?, bad);
        b.skip(2)?;
        let group_type = GroupType::from_u8(b.u8()?)
            .ok_or(OfError::new(GroupModFailedCode::BadType, "group type"))?;
        b.skip(1)?;
        let group_id = b.u32()?;
        Ok(GroupDesc {
            group_type,
            group_id,
            buckets: decode_buckets(b.rest(), bad)?,
        })
    }
}

/// `ofp_bucket_counter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BucketCounter {
    pub packet_count: u64,
    pub byte_count: u64,
}

/// `ofp_group_stats` (one entry of an `OFPMP_GROUP` reply).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GroupStats {
    pub group_id: u32,
    /// Number of flows or groups that forward to this group.
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub bucket_stats: Vec<BucketCounter>,
}

impl GroupStats {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_zeros(2);
        out.put_u32(self.group_id);
        out.put_u32(self.ref_count);
        out.put_zeros(4);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        for c in &self.bucket_stats {
            out.put_u64(c.packet_count);
            out.put_u64(c.byte_count);
        }
        let len = out.len() - start;
        out.patch_u16(start, len);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let len = usize::from(r.peek_u16_at(0)?);
        if len < 40 || (len - 40) % 16 != 0 {
            return Err(r.err());
        }
        let mut b = Reader::new(r.bytes(len)?, r.err());
        b.skip(4)?;
        let group_id = b.u32()?;
        let ref_count = b.u32()?;
        b.skip(4)?;
        let packet_count = b.u64()?;
        let byte_count = b.u64()?;
        let duration_sec = b.u32()?;
        let duration_nsec = b.u32()?;
        let mut bucket_stats = Vec::new();
        while !b.is_empty() {
            bucket_stats.push(BucketCounter {
                packet_count: b.u64()?,
                byte_count: b.u64()?,
            });
        }
        Ok(GroupStats {
            group_id,
            ref_count,
            packet_count,
            byte_count,
            duration_sec,
            duration_nsec,
            bucket_stats,
        })
    }
}

/// `ofp_group_capabilities` bits.
pub mod group_capabilities {
    pub const SELECT_WEIGHT: u32 = 1 << 0;
    pub const SELECT_LIVENESS: u32 = 1 << 1;
    pub const CHAINING: u32 = 1 << 2;
    pub const CHAINING_CHECKS: u32 = 1 << 3;
}

/// `ofp_group_features` (`OFPMP_GROUP_FEATURES` reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GroupFeatures {
    /// Bitmap of supported `GroupType`s (bit `1 << type`).
    pub types: u32,
    pub capabilities: u32,
    /// Maximum number of groups for each type.
    pub max_groups: [u32; 4],
    /// Bitmaps of `ofp_action_type`s supported by each type.
    pub actions: [u32; 4],
}

impl GroupFeatures {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.types);
        out.put_u32(self.capabilities);
        for v in self.max_groups.iter().chain(&self.actions) {
            out.put_u32(*v);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let types = r.u32()?;
        let capabilities = r.u32()?;
        let mut max_groups = [0; 4];
        for v in &mut max_groups {
            *v = r.u32()?;
        }
        let mut actions = [0; 4];
        for v in &mut actions {
            *v = r.u32()?;
        }
        Ok(GroupFeatures {
            types,
            capabilities,
            max_groups,
            actions,
        })
    }
}
