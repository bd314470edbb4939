//! `OFPT_MULTIPART_REQUEST` / `OFPT_MULTIPART_REPLY` bodies.
//!
//! Both messages start with `type(16) | flags(16) | pad(32)`; the body depends on the
//! type. Group and meter bodies live in [`crate::group`] and [`crate::meter`]; this
//! module holds the rest, including table features with their properties.

use crate::action::ActionId;
use crate::buf::{pad8, FixedStr, Put, Reader};
use crate::error::{BadRequestCode, OfError, TableFeaturesFailedCode};
use crate::group::{GroupDesc, GroupFeatures, GroupStats};
use crate::instruction::{decode_instructions, encode_instructions, Instruction, InstructionId};
use crate::instruction::{OFPTT_ALL, OFPTT_MAX};
use crate::matching::Match;
use crate::meter::{MeterConfig, MeterFeatures, MeterStats};
use crate::oxm::OxmId;
use crate::port::{Port, PortNo};

/// `ofp_multipart_type` values.
pub mod multipart_type {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const TABLE: u16 = 3;
    pub const PORT_STATS: u16 = 4;
    pub const QUEUE: u16 = 5;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const GROUP_FEATURES: u16 = 8;
    pub const METER: u16 = 9;
    pub const METER_CONFIG: u16 = 10;
    pub const METER_FEATURES: u16 = 11;
    pub const TABLE_FEATURES: u16 = 12;
    pub const PORT_DESC: u16 = 13;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `OFPMPF_REQ_MORE` / `OFPMPF_REPLY_MORE`: more messages of this multipart follow.
pub const OFPMPF_MORE: u16 = 1;

/// `OFPQ_ALL`: all queues (queue stats requests).
pub const OFPQ_ALL: u32 = 0xffff_ffff;

fn bad_len(detail: &'static str) -> OfError {
    OfError::new(BadRequestCode::BadLen, detail)
}

/// Body of `OFPMP_FLOW` and `OFPMP_AGGREGATE` requests (`ofp_flow_stats_request`,
/// `ofp_aggregate_stats_request`, which share a layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowStatsRequest {
    /// Table to read, or `OFPTT_ALL`.
    pub table_id: u8,
    /// Require an output action to this port, or `ANY`.
    pub out_port: PortNo,
    /// Require an output to this group, or `OFPG_ANY`.
    pub out_group: u32,
    pub cookie: u64,
    /// Bits of `cookie` that must match; 0 matches every cookie.
    pub cookie_mask: u64,
    pub match_: Match,
}

impl FlowStatsRequest {
    /// All flows in all tables.
    pub fn all() -> Self {
        FlowStatsRequest {
            table_id: OFPTT_ALL,
            out_port: PortNo::ANY,
            out_group: crate::group::OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: Match::new(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.out_port.0);
        out.put_u32(self.out_group);
        out.put_zeros(4);
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        self.match_.encode(out);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let table_id = r.u8()?;
        r.skip(3)?;
        let out_port = PortNo(r.u32()?);
        let out_group = r.u32()?;
        r.skip(4)?;
        Ok(FlowStatsRequest {
            table_id,
            out_port,
            out_group,
            cookie: r.u64()?,
            cookie_mask: r.u64()?,
            match_: Match::decode(r)?,
        })
    }
}

/// `ofp_flow_stats`: one flow entry in an `OFPMP_FLOW` reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// `ofp_flow_mod_flags` of the entry.
    pub flags: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.table_id);
        out.put_zeros(1);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.priority);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u16(self.flags);
        out.put_zeros(4);
        out.put_u64(self.cookie);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        self.match_.encode(out);
        encode_instructions(&self.instructions, out);
        let len = out.len() - start;
        out.patch_u16(start, len);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let len = usize::from(r.peek_u16_at(0)?);
        if len < 56 {
            return Err(r.err());
        }
        let mut b = Reader::new(r.bytes(len)?, r.err());
        b.skip(2)?;
        let table_id = b.u8()?;
        b.skip(1)?;
        let duration_sec = b.u32()?;
        let duration_nsec = b.u32()?;
        let priority = b.u16()?;
        let idle_timeout = b.u16()?;
        let hard_timeout = b.u16()?;
        let flags = b.u16()?;
        b.skip(4)?;
        let cookie = b.u64()?;
        let packet_count = b.u64()?;
        let byte_count = b.u64()?;
        let match_ = Match::decode(&mut b)?;
        let instructions = decode_instructions(b.rest())?;
        Ok(FlowStats {
            table_id,
            duration_sec,
            duration_nsec,
            priority,
            idle_timeout,
            hard_timeout,
            flags,
            cookie,
            packet_count,
            byte_count,
            match_,
            instructions,
        })
    }
}

/// `ofp_aggregate_stats_reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

/// `ofp_table_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TableStats {
    pub table_id: u8,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// `ofp_port_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortStats {
    pub port_no: PortNo,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

impl PortStats {
    fn counters(&self) -> [u64; 12] {
        [
            self.rx_packets,
            self.tx_packets,
            self.rx_bytes,
            self.tx_bytes,
            self.rx_dropped,
            self.tx_dropped,
            self.rx_errors,
            self.tx_errors,
            self.rx_frame_err,
            self.rx_over_err,
            self.rx_crc_err,
            self.collisions,
        ]
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no.0);
        out.put_zeros(4);
        for c in self.counters() {
            out.put_u64(c);
        }
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let port_no = PortNo(r.u32()?);
        r.skip(4)?;
        let mut c = [0u64; 12];
        for v in &mut c {
            *v = r.u64()?;
        }
        let [rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_errors, tx_errors, rx_frame_err, rx_over_err, rx_crc_err, collisions] =
            c;
        Ok(PortStats {
            port_no,
            rx_packets,
            tx_packets,
            rx_bytes,
            tx_bytes,
            rx_dropped,
            tx_dropped,
            rx_errors,
            tx_errors,
            rx_frame_err,
            rx_over_err,
            rx_crc_err,
            collisions,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
        })
    }
}

/// `ofp_queue_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueStats {
    pub port_no: PortNo,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// Width of the `ofp_desc` string fields.
pub const DESC_STR_LEN: usize = 256;
/// Width of `ofp_desc.serial_num`.
pub const SERIAL_NUM_LEN: usize = 32;

/// `ofp_desc` (`OFPMP_DESC` reply).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Desc {
    pub mfr_desc: FixedStr,
    pub hw_desc: FixedStr,
    pub sw_desc: FixedStr,
    pub serial_num: FixedStr,
    pub dp_desc: FixedStr,
}

/// Width of `ofp_table_features.name`.
pub const OFP_MAX_TABLE_NAME_LEN: usize = 32;

/// `ofp_table_feature_prop_type` values.
pub mod table_feature_prop_type {
    pub const INSTRUCTIONS: u16 = 0;
    pub const INSTRUCTIONS_MISS: u16 = 1;
    pub const NEXT_TABLES: u16 = 2;
    pub const NEXT_TABLES_MISS: u16 = 3;
    pub const WRITE_ACTIONS: u16 = 4;
    pub const WRITE_ACTIONS_MISS: u16 = 5;
    pub const APPLY_ACTIONS: u16 = 6;
    pub const APPLY_ACTIONS_MISS: u16 = 7;
    pub const MATCH: u16 = 8;
    pub const WILDCARDS: u16 = 10;
    pub const WRITE_SETFIELD: u16 = 12;
    pub const WRITE_SETFIELD_MISS: u16 = 13;
    pub const APPLY_SETFIELD: u16 = 14;
    pub const APPLY_SETFIELD_MISS: u16 = 15;
    pub const EXPERIMENTER: u16 = 0xfffe;
    pub const EXPERIMENTER_MISS: u16 = 0xffff;
}

/// A table-features property. `miss: true` selects the `*_MISS` variant, which
/// describes the table-miss flow entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TableFeatureProp {
    Instructions {
        miss: bool,
        ids: Vec<InstructionId>,
    },
    NextTables {
        miss: bool,
        tables: Vec<u8>,
    },
    WriteActions {
        miss: bool,
        ids: Vec<ActionId>,
    },
    ApplyActions {
        miss: bool,
        ids: Vec<ActionId>,
    },
    /// Fields the table can match on.
    Match(Vec<OxmId>),
    /// Fields the table can wildcard.
    Wildcards(Vec<OxmId>),
    WriteSetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    ApplySetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    Experimenter {
        miss: bool,
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
}

fn tf_bad_len() -> OfError {
    OfError::new(TableFeaturesFailedCode::BadLen, "table features length")
}

impl TableFeatureProp {
    pub fn prop_type(&self) -> u16 {
        use table_feature_prop_type as t;
        let pick = |miss: bool, a: u16, b: u16| if miss { b } else { a };
        match self {
            Self::Instructions { miss, .. } => pick(*miss, t::INSTRUCTIONS, t::INSTRUCTIONS_MISS),
            Self::NextTables { miss, .. } => pick(*miss, t::NEXT_TABLES, t::NEXT_TABLES_MISS),
            Self::WriteActions { miss, .. } => pick(*miss, t::WRITE_ACTIONS, t::WRITE_ACTIONS_MISS),
            Self::ApplyActions { miss, .. } => pick(*miss, t::APPLY_ACTIONS, t::APPLY_ACTIONS_MISS),
            Self::Match(_) => t::MATCH,
            Self::Wildcards(_) => t::WILDCARDS,
            Self::WriteSetfield { miss, .. } => {
                pick(*miss, t::WRITE_SETFIELD, t::WRITE_SETFIELD_MISS)
            }
            Self::ApplySetfield { miss, .. } => {
                pick(*miss, t::APPLY_SETFIELD, t::APPLY_SETFIELD_MISS)
            }
            Self::Experimenter { miss, .. } => pick(*miss, t::EXPERIMENTER, t::EXPERIMENTER_MISS),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(self.prop_type());
        out.put_u16(0);
        match self {
            Self::Instructions { ids, .. } => ids.iter().for_each(|i| i.encode(out)),
            Self::NextTables { tables, .. } => out.extend_from_slice(tables),
            Self::WriteActions { ids, .. } | Self::ApplyActions { ids, .. } => {
                ids.iter().for_each(|i| i.encode(out))
            }
            Self::Match(ids)
            | Self::Wildcards(ids)
            | Self::WriteSetfield { ids, .. }
            | Self::ApplySetfield { ids, .. } => ids.iter().for_each(|i| i.encode(out)),
            Self::Experimenter {
                experimenter,
                exp_type,
                data,
                ..
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
        let len = out.len() - start;
        out.patch_u16(start + 2, len);
        out.pad8_from(start);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let ptype = r.peek_u16_at(0).map_err(|_| tf_bad_len())?;
        let len = usize::from(r.peek_u16_at(2).map_err(|_| tf_bad_len())?);
        if len < 4 {
            return Err(tf_bad_len());
        }
        let padded = r.bytes(pad8(len)).map_err(|_| tf_bad_len())?;
        let mut b = Reader::new(&padded[4..len], tf_bad_len());
        use table_feature_prop_type as t;
        fn list<T>(
            b: &mut Reader<'_>,
            f: fn(&mut Reader<'_>) -> Result<T, OfError>,
        ) -> Result<Vec<T>, OfError> {
            let mut v = Vec::new();
            while !b.is_empty() {
                v.push(f(b)?);
            }
            Ok(v)
        }
        let miss = ptype & 1 == 1;
        Ok(match ptype {
            t::INSTRUCTIONS | t::INSTRUCTIONS_MISS => Self::Instructions {
                miss,
                ids: list(&mut b, InstructionId::decode)?,
            },
            t::NEXT_TABLES | t::NEXT_TABLES_MISS => Self::NextTables {
                miss,
                tables: b.rest().to_vec(),
            },
            t::WRITE_ACTIONS | t::WRITE_ACTIONS_MISS => Self::WriteActions {
                miss,
                ids: list(&mut b, ActionId::decode)?,
            },
            t::APPLY_ACTIONS | t::APPLY_ACTIONS_MISS => Self::ApplyActions {
                miss,
                ids: list(&mut b, ActionId::decode)?,
            },
            t::MATCH => Self::Match(list(&mut b, OxmId::decode)?),
            t::WILDCARDS => Self::Wildcards(list(&mut b, OxmId::decode)?),
            t::WRITE_SETFIELD | t::WRITE_SETFIELD_MISS => Self::WriteSetfield {
                miss,
                ids: list(&mut b, OxmId::decode)?,
            },
            t::APPLY_SETFIELD | t::APPLY_SETFIELD_MISS => Self::ApplySetfield {
                miss,
                ids: list(&mut b, OxmId::decode)?,
            },
            t::EXPERIMENTER | t::EXPERIMENTER_MISS => Self::Experimenter {
                miss,
                experimenter: b.u32()?,
                exp_type: b.u32()?,
                data: b.rest().to_vec(),
            },
            _ => {
                return Err(OfError::new(
                    TableFeaturesFailedCode::BadType,
                    "unknown table feature property",
                ))
            }
        })
    }
}

/// `ofp_table_features`: one table's capabilities (reply) or requested configuration
/// (request).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TableFeatures {
    pub table_id: u8,
    pub name: FixedStr,
    /// Bits of metadata the table can match.
    pub metadata_match: u64,
    /// Bits of metadata the table can write.
    pub metadata_write: u64,
    /// `ofp_table_config` bits (none are defined in 1.3; `OFPTC_DEPRECATED_MASK` = 3).
    pub config: u32,
    pub max_entries: u32,
    pub properties: Vec<TableFeatureProp>,
}

/// Size of `ofp_table_features` without properties.
pub const OFP_TABLE_FEATURES_LEN: usize = 64;

impl TableFeatures {
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.table_id);
        out.put_zeros(5);
        self.name.write(out, OFP_MAX_TABLE_NAME_LEN);
        out.put_u64(self.metadata_match);
        out.put_u64(self.metadata_write);
        out.put_u32(self.config);
        out.put_u32(self.max_entries);
        for p in &self.properties {
            p.encode(out);
        }
        let len = out.len() - start;
        out.patch_u16(start, len);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let len = usize::from(r.peek_u16_at(0).map_err(|_| tf_bad_len())?);
        if len < OFP_TABLE_FEATURES_LEN || len % 8 != 0 {
            return Err(tf_bad_len());
        }
        let mut b = Reader::new(r.bytes(len).map_err(|_| tf_bad_len())?, tf_bad_len());
        b.skip(2)?;
        let table_id = b.u8()?;
        if table_id > OFPTT_MAX {
            return Err(OfError::new(
                TableFeaturesFailedCode::BadTable,
                "table id beyond OFPTT_MAX",
            ));
        }
        b.skip(5)?;
        let name = FixedStr::read(&mut b, OFP_MAX_TABLE_NAME_LEN)?;
        let metadata_match = b.u64()?;
        let metadata_write = b.u64()?;
        let config = b.u32()?;
        let max_entries = b.u32()?;
        let mut properties = Vec::new();
        while !b.is_empty() {
            properties.push(TableFeatureProp::decode(&mut b)?);
        }
        Ok(TableFeatures {
            table_id,
            name,
            metadata_match,
            metadata_write,
            config,
            max_entries,
            properties,
        })
    }
}

/// The body of a multipart request, by type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultipartRequestBody {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    /// Port number or `ANY`.
    PortStats(PortNo),
    /// Port (or `ANY`) and queue (or `OFPQ_ALL`).
    Queue {
        port_no: PortNo,
        queue_id: u32,
    },
    /// Group id or `OFPG_ALL`.
    Group(u32),
    GroupDesc,
    GroupFeatures,
    /// Meter id or `OFPM_ALL`.
    Meter(u32),
    /// Meter id or `OFPM_ALL`.
    MeterConfig(u32),
    MeterFeatures,
    /// Empty to query; non-empty to set the pipeline.
    TableFeatures(Vec<TableFeatures>),
    PortDesc,
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
}

/// `OFPT_MULTIPART_REQUEST` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartRequest {
    /// `OFPMPF_REQ_MORE` and reserved bits.
    pub flags: u16,
    pub body: MultipartRequestBody,
}

impl MultipartRequest {
    pub fn new(body: MultipartRequestBody) -> Self {
        MultipartRequest { flags: 0, body }
    }

    pub fn multipart_type(&self) -> u16 {
        use multipart_type as t;
        use MultipartRequestBody as B;
        match &self.body {
            B::Desc => t::DESC,
            B::Flow(_) => t::FLOW,
            B::Aggregate(_) => t::AGGREGATE,
            B::Table => t::TABLE,
            B::PortStats(_) => t::PORT_STATS,
            B::Queue { .. } => t::QUEUE,
            B::Group(_) => t::GROUP,
            B::GroupDesc => t::GROUP_DESC,
            B::GroupFeatures => t::GROUP_FEATURES,
            B::Meter(_) => t::METER,
            B::MeterConfig(_) => t::METER_CONFIG,
            B::MeterFeatures => t::METER_FEATURES,
            B::TableFeatures(_) => t::TABLE_FEATURES,
            B::PortDesc => t::PORT_DESC,
            B::Experimenter { .. } => t::EXPERIMENTER,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        use MultipartRequestBody as B;
        out.put_u16(self.multipart_type());
        out.put_u16(self.flags);
        out.put_zeros(4);
        match &self.body {
            B::Desc
            | B::Table
            | B::GroupDesc
            | B::GroupFeatures
            | B::MeterFeatures
            | B::PortDesc => {}
            B::Flow(f) | B::Aggregate(f) => f.encode(out),
            B::PortStats(p) => {
                out.put_u32(p.0);
                out.put_zeros(4);
            }
            B::Queue { port_no, queue_id } => {
                out.put_u32(port_no.0);
                out.put_u32(*queue_id);
            }
            B::Group(id) | B::Meter(id) | B::MeterConfig(id) => {
                out.put_u32(*id);
                out.put_zeros(4);
            }
            B::TableFeatures(tf) => tf.iter().for_each(|t| t.encode(out)),
            B::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        use multipart_type as t;
        use MultipartRequestBody as B;
        let mtype = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let body = match mtype {
            t::DESC => B::Desc,
            t::FLOW => B::Flow(FlowStatsRequest::decode(r)?),
            t::AGGREGATE => B::Aggregate(FlowStatsRequest::decode(r)?),
            t::TABLE => B::Table,
            t::PORT_STATS => {
                let p = PortNo(r.u32()?);
                r.skip(4)?;
                B::PortStats(p)
            }
            t::QUEUE => B::Queue {
                port_no: PortNo(r.u32()?),
                queue_id: r.u32()?,
            },
            t::GROUP | t::METER | t::METER_CONFIG => {
                let id = r.u32()?;
                r.skip(4)?;
                match mtype {
                    t::GROUP => B::Group(id),
                    t::METER => B::Meter(id),
                    _ => B::MeterConfig(id),
                }
            }
            t::GROUP_DESC => B::GroupDesc,
            t::GROUP_FEATURES => B::GroupFeatures,
            t::METER_FEATURES => B::MeterFeatures,
            t::PORT_DESC => B::PortDesc,
            t::TABLE_FEATURES => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(TableFeatures::decode(r)?);
                }
                B::TableFeatures(v)
            }
            t::EXPERIMENTER => B::Experimenter {
                experimenter: r.u32()?,
                exp_type: r.u32()?,
                data: r.rest().to_vec(),
            },
            _ => {
                return Err(OfError::new(
                    BadRequestCode::BadMultipart,
                    "unknown multipart type",
                ))
            }
        };
        if !r.is_empty() {
            return Err(bad_len("trailing bytes in multipart request"));
        }
        Ok(MultipartRequest { flags, body })
    }
}

/// The body of a multipart reply, by type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultipartReplyBody {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    Queue(Vec<QueueStats>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    PortDesc(Vec<Port>),
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
}

/// `OFPT_MULTIPART_REPLY` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartReply {
    /// `OFPMPF_REPLY_MORE` and reserved bits.
    pub flags: u16,
    pub body: MultipartReplyBody,
}

fn encode_list<T>(items: &[T], out: &mut Vec<u8>, f: fn(&T, &mut Vec<u8>)) {
    for i in items {
        f(i, out);
    }
}

fn decode_list<T>(
    r: &mut Reader<'_>,
    f: fn(&mut Reader<'_>) -> Result<T, OfError>,
) -> Result<Vec<T>, OfError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(f(r)?);
    }
    Ok(v)
}

fn encode_table_stats(s: &TableStats, out: &mut Vec<u8>) {
    out.put_u8(s.table_id);
    out.put_zeros(3);
    out.put_u32(s.active_count);
    out.put_u64(s.lookup_count);
    out.put_u64(s.matched_count);
}

fn decode_table_stats(r: &mut Reader<'_>) -> Result<TableStats, OfError> {
    let table_id = r.u8()?;
    r.skip(3)?;
    Ok(TableStats {
        table_id,
        active_count: r.u32()?,
        lookup_count: r.u64()?,
        matched_count: r.u64()?,
    })
}

fn encode_queue_stats(s: &QueueStats, out: &mut Vec<u8>) {
    out.put_u32(s.port_no.0);
    out.put_u32(s.queue_id);
    out.put_u64(s.tx_bytes);
    out.put_u64(s.tx_packets);
    out.put_u64(s.tx_errors);
    out.put_u32(s.duration_sec);
    out.put_u32(s.duration_nsec);
}

fn decode_queue_stats(r: &mut Reader<'_>) -> Result<QueueStats, OfError> {
    Ok(QueueStats {
        port_no: PortNo(r.u32()?),
        queue_id: r.u32()?,
        tx_bytes: r.u64()?,
        tx_packets: r.u64()?,
        tx_errors: r.u64()?,
        duration_sec: r.u32()?,
        duration_nsec: r.u32()?,
    })
}

impl MultipartReply {
    pub fn new(body: MultipartReplyBody) -> Self {
        MultipartReply { flags: 0, body }
    }

    pub fn multipart_type(&self) -> u16 {
        use multipart_type as t;
        use MultipartReplyBody as B;
        match &self.body {
            B::Desc(_) => t::DESC,
            B::Flow(_) => t::FLOW,
            B::Aggregate(_) => t::AGGREGATE,
            B::Table(_) => t::TABLE,
            B::PortStats(_) => t::PORT_STATS,
            B::Queue(_) => t::QUEUE,
            B::Group(_) => t::GROUP,
            B::GroupDesc(_) => t::GROUP_DESC,
            B::GroupFeatures(_) => t::GROUP_FEATURES,
            B::Meter(_) => t::METER,
            B::MeterConfig(_) => t::METER_CONFIG,
            B::MeterFeatures(_) => t::METER_FEATURES,
            B::TableFeatures(_) => t::TABLE_FEATURES,
            B::PortDesc(_) => t::PORT_DESC,
            B::Experimenter { .. } => t::EXPERIMENTER,
        }
    }

    /// Appends the body items, one encoded item per entry, for list-shaped replies;
    /// `None` for single-structure replies (desc, aggregate, features, experimenter).
    pub(crate) fn encoded_items(&self) -> Option<Vec<Vec<u8>>> {
        use MultipartReplyBody as B;
        fn each<T>(items: &[T], f: fn(&T, &mut Vec<u8>)) -> Vec<Vec<u8>> {
            items
                .iter()
                .map(|i| {
                    let mut v = Vec::new();
                    f(i, &mut v);
                    v
                })
                .collect()
        }
        Some(match &self.body {
            B::Flow(v) => each(v, FlowStats::encode),
            B::Table(v) => each(v, encode_table_stats),
            B::PortStats(v) => each(v, PortStats::encode),
            B::Queue(v) => each(v, encode_queue_stats),
            B::Group(v) => each(v, GroupStats::encode),
            B::GroupDesc(v) => each(v, GroupDesc::encode),
            B::Meter(v) => each(v, MeterStats::encode),
            B::MeterConfig(v) => each(v, MeterConfig::encode),
            B::TableFeatures(v) => each(v, TableFeatures::encode),
            B::PortDesc(v) => each(v, Port::encode),
            _ => return None,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        use MultipartReplyBody as B;
        out.put_u16(self.multipart_type());
        out.put_u16(self.flags);
        out.put_zeros(4);
        match &self.body {
            B::Desc(d) => {
                d.mfr_desc.write(out, DESC_STR_LEN);
                d.hw_desc.write(out, DESC_STR_LEN);
                d.sw_desc.write(out, DESC_STR_LEN);
                d.serial_num.write(out, SERIAL_NUM_LEN);
                d.dp_desc.write(out, DESC_STR_LEN);
            }
            B::Flow(v) => encode_list(v, out, FlowStats::encode),
            B::Aggregate(a) => {
                out.put_u64(a.packet_count);
                out.put_u64(a.byte_count);
                out.put_u32(a.flow_count);
                out.put_zeros(4);
            }
            B::Table(v) => encode_list(v, out, encode_table_stats),
            B::PortStats(v) => encode_list(v, out, PortStats::encode),
            B::Queue(v) => encode_list(v, out, encode_queue_stats),
            B::Group(v) => encode_list(v, out, GroupStats::encode),
            B::GroupDesc(v) => encode_list(v, out, GroupDesc::encode),
            B::GroupFeatures(f) => f.encode(out),
            B::Meter(v) => encode_list(v, out, MeterStats::encode),
            B::MeterConfig(v) => encode_list(v, out, MeterConfig::encode),
            B::MeterFeatures(f) => f.encode(out),
            B::TableFeatures(v) => encode_list(v, out, TableFeatures::encode),
            B::PortDesc(v) => encode_list(v, out, Port::encode),
            B::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        use multipart_type as t;
        use MultipartReplyBody as B;
        let mtype = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let body = match mtype {
            t::DESC => B::Desc(Desc {
                mfr_desc: FixedStr::read(r, DESC_STR_LEN)?,
                hw_desc: FixedStr::read(r, DESC_STR_LEN)?,
                sw_desc: FixedStr::read(r, DESC_STR_LEN)?,
                serial_num: FixedStr::read(r, SERIAL_NUM_LEN)?,
                dp_desc: FixedStr::read(r, DESC_STR_LEN)?,
            }),
            t::FLOW => B::Flow(decode_list(r, FlowStats::decode)?),
            t::AGGREGATE => {
                let a = AggregateStats {
                    packet_count: r.u64()?,
                    byte_count: r.u64()?,
                    flow_count: r.u32()?,
                };
                r.skip(4)?;
                B::Aggregate(a)
            }
            t::TABLE => B::Table(decode_list(r, decode_table_stats)?),
            t::PORT_STATS => B::PortStats(decode_list(r, PortStats::decode)?),
            t::QUEUE => B::Queue(decode_list(r, decode_queue_stats)?),
            t::GROUP => B::Group(decode_list(r, GroupStats::decode)?),
            t::GROUP_DESC => B::GroupDesc(decode_list(r, GroupDesc::decode)?),
            t::GROUP_FEATURES => B::GroupFeatures(GroupFeatures::decode(r)?),
            t::METER => B::Meter(decode_list(r, MeterStats::decode)?),
            t::METER_CONFIG => B::MeterConfig(decode_list(r, MeterConfig::decode)?),
            t::METER_FEATURES => B::MeterFeatures(MeterFeatures::decode(r)?),
            t::TABLE_FEATURES => B::TableFeatures(decode_list(r, TableFeatures::decode)?),
            t::PORT_DESC => B::PortDesc(decode_list(r, Port::decode)?),
            t::EXPERIMENTER => B::Experimenter {
                experimenter: r.u32()?,
                exp_type: r.u32()?,
                data: r.rest().to_vec(),
            },
            _ => {
                return Err(OfError::new(
                    BadRequestCode::BadMultipart,
                    "unknown multipart type",
                ))
            }
        };
        if !r.is_empty() {
            return Err(bad_len("trailing bytes in multipart reply"));
        }
        Ok(MultipartReply { flags, body })
    }
}
