//! The [`Message`] enum: every OpenFlow 1.3 message, with whole-message encode/decode.

use crate::action::OFPCML_NO_BUFFER;
use crate::action::{actions_len, decode_actions, encode_actions, Action, OFPCML_MAX};
use crate::buf::{Put, Reader};
use crate::error::{
    BadInstructionCode, BadRequestCode, ErrorMsg, FlowModFailedCode, OfError,
    RoleRequestFailedCode, SwitchConfigFailedCode,
};
use crate::group::GroupMod;
use crate::header::{msg_type, Header, OFP_HEADER_LEN, OFP_MAX_MSG_LEN, OFP_VERSION};
use crate::hello::Hello;
use crate::instruction::{decode_instructions, encode_instructions, Instruction, OFPTT_ALL};
use crate::matching::Match;
use crate::meter::MeterMod;
use crate::multipart::{MultipartReply, MultipartRequest, OFPMPF_MORE};
use crate::port::{PortMod, PortNo, PortStatus};

/// `OFP_NO_BUFFER`: the packet is not buffered on the switch.
pub const OFP_NO_BUFFER: u32 = 0xffff_ffff;

/// `ofp_capabilities` bits of the features reply.
pub mod capabilities {
    pub const FLOW_STATS: u32 = 1 << 0;
    pub const TABLE_STATS: u32 = 1 << 1;
    pub const PORT_STATS: u32 = 1 << 2;
    pub const GROUP_STATS: u32 = 1 << 3;
    pub const IP_REASM: u32 = 1 << 5;
    pub const QUEUE_STATS: u32 = 1 << 6;
    pub const PORT_BLOCKED: u32 = 1 << 8;
}

/// `ofp_config_flags` of get/set config.
pub mod config_flags {
    pub const FRAG_NORMAL: u16 = 0;
    pub const FRAG_DROP: u16 = 1;
    pub const FRAG_REASM: u16 = 2;
    pub const FRAG_MASK: u16 = 3;
}

/// `ofp_flow_mod_flags`.
pub mod flow_mod_flags {
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    pub const RESET_COUNTS: u16 = 1 << 2;
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    pub const NO_BYT_COUNTS: u16 = 1 << 4;
    /// Every defined flag.
    pub const ALL: u16 =
        SEND_FLOW_REM | CHECK_OVERLAP | RESET_COUNTS | NO_PKT_COUNTS | NO_BYT_COUNTS;
}

/// `OFPT_FEATURES_REPLY` body (`ofp_switch_features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SwitchFeatures {
    pub datapath_id: u64,
    /// Packets the switch can buffer for packet-in.
    pub n_buffers: u32,
    pub n_tables: u8,
    /// 0 for the main connection.
    pub auxiliary_id: u8,
    /// `ofp_capabilities` bits.
    pub capabilities: u32,
    pub reserved: u32,
}

/// `OFPT_GET_CONFIG_REPLY` / `OFPT_SET_CONFIG` body (`ofp_switch_config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SwitchConfig {
    /// `ofp_config_flags`.
    pub flags: u16,
    /// Bytes of a table-miss packet sent to the controller.
    pub miss_send_len: u16,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            flags: config_flags::FRAG_NORMAL,
            miss_send_len: 128,
        }
    }
}

/// `ofp_packet_in_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketInReason {
    /// No matching flow (table-miss flow entry).
    NoMatch,
    /// Output to controller in an action.
    Action,
    /// Packet has an invalid TTL.
    InvalidTtl,
    Other(u8),
}

impl PacketInReason {
    pub const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::NoMatch,
            1 => Self::Action,
            2 => Self::InvalidTtl,
            v => Self::Other(v),
        }
    }
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::NoMatch => 0,
            Self::Action => 1,
            Self::InvalidTtl => 2,
            Self::Other(v) => v,
        }
    }
}

/// `OFPT_PACKET_IN` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketIn {
    /// Buffer id, or `OFP_NO_BUFFER`.
    pub buffer_id: u32,
    /// Full length of the frame (`data` may be a prefix).
    pub total_len: u16,
    pub reason: PacketInReason,
    pub table_id: u8,
    /// Cookie of the flow entry that sent the packet.
    pub cookie: u64,
    /// Packet metadata: at least `in_port`.
    pub match_: Match,
    pub data: Vec<u8>,
}

/// `ofp_flow_removed_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowRemovedReason {
    IdleTimeout,
    HardTimeout,
    Delete,
    GroupDelete,
    Other(u8),
}

impl FlowRemovedReason {
    pub const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::IdleTimeout,
            1 => Self::HardTimeout,
            2 => Self::Delete,
            3 => Self::GroupDelete,
            v => Self::Other(v),
        }
    }
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::IdleTimeout => 0,
            Self::HardTimeout => 1,
            Self::Delete => 2,
            Self::GroupDelete => 3,
            Self::Other(v) => v,
        }
    }
}

/// `OFPT_FLOW_REMOVED` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: FlowRemovedReason,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
}

/// `OFPT_PACKET_OUT` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketOut {
    /// Buffer id, or `OFP_NO_BUFFER` when the frame is in `data`.
    pub buffer_id: u32,
    /// Input port for the actions: a standard port, `LOCAL`, `CONTROLLER` or `ANY`.
    pub in_port: PortNo,
    pub actions: Vec<Action>,
    pub data: Vec<u8>,
}

/// `ofp_flow_mod_command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowModCommand {
    Add = 0,
    Modify = 1,
    ModifyStrict = 2,
    Delete = 3,
    DeleteStrict = 4,
}

impl FlowModCommand {
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Add,
            1 => Self::Modify,
            2 => Self::ModifyStrict,
            3 => Self::Delete,
            4 => Self::DeleteStrict,
            _ => return None,
        })
    }

    pub const fn is_delete(self) -> bool {
        matches!(self, Self::Delete | Self::DeleteStrict)
    }
}

/// `OFPT_FLOW_MOD` body.
///
/// A flow table keeps `match_`, `instructions`, `cookie`, `priority`, the timeouts and
/// `flags` of an added flow and returns them unchanged in [`crate::multipart::FlowStats`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowMod {
    pub cookie: u64,
    /// For modify/delete: bits of `cookie` that must match (0 = any cookie).
    pub cookie_mask: u64,
    pub table_id: u8,
    pub command: FlowModCommand,
    /// Seconds of inactivity before expiry (0 = never).
    pub idle_timeout: u16,
    /// Seconds before expiry (0 = never).
    pub hard_timeout: u16,
    pub priority: u16,
    /// Buffered packet to apply the flow to, or `OFP_NO_BUFFER`.
    pub buffer_id: u32,
    /// For delete: require an output to this port (`ANY` = no restriction).
    pub out_port: PortNo,
    /// For delete: require an output to this group (`OFPG_ANY` = no restriction).
    pub out_group: u32,
    /// `ofp_flow_mod_flags`.
    pub flags: u16,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// An `OFPFC_ADD` in table 0 with no timeouts, unbuffered.
    pub fn add(priority: u16, match_: Match, instructions: Vec<Instruction>) -> Self {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command: FlowModCommand::Add,
            idle_timeout: 0,
            hard_timeout: 0,
            priority,
            buffer_id: OFP_NO_BUFFER,
            out_port: PortNo::ANY,
            out_group: crate::group::OFPG_ANY,
            flags: 0,
            match_,
            instructions,
        }
    }
}

/// `OFPT_TABLE_MOD` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableMod {
    /// Table id or `OFPTT_ALL`.
    pub table_id: u8,
    /// `ofp_table_config` bits (`OFPTC_DEPRECATED_MASK` = 3 in 1.3).
    pub config: u32,
}

/// `ofp_controller_role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControllerRole {
    NoChange = 0,
    Equal = 1,
    Master = 2,
    Slave = 3,
}

impl ControllerRole {
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::NoChange,
            1 => Self::Equal,
            2 => Self::Master,
            3 => Self::Slave,
            _ => return None,
        })
    }
}

/// `OFPT_ROLE_REQUEST` / `OFPT_ROLE_REPLY` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Role {
    pub role: ControllerRole,
    pub generation_id: u64,
}

/// `OFPT_GET_ASYNC_REPLY` / `OFPT_SET_ASYNC` body. Index 0 applies to master/equal
/// connections, index 1 to slave connections; each mask is a bitmap of reasons
/// (`1 << reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AsyncConfig {
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

/// `OFPT_EXPERIMENTER` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Experimenter {
    pub experimenter: u32,
    pub exp_type: u32,
    pub data: Vec<u8>,
}

/// A queue property (`ofp_queue_prop_*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueueProp {
    /// Minimum rate in 1/10 of a percent; > 1000 means disabled.
    MinRate(u16),
    /// Maximum rate in 1/10 of a percent; > 1000 means disabled.
    MaxRate(u16),
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

/// `ofp_packet_queue`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketQueue {
    pub queue_id: u32,
    pub port: PortNo,
    pub properties: Vec<QueueProp>,
}

/// `OFPT_QUEUE_GET_CONFIG_REPLY` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueGetConfigReply {
    pub port: PortNo,
    pub queues: Vec<PacketQueue>,
}

/// Every OpenFlow 1.3 message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    Hello(Hello),
    Error(ErrorMsg),
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    Experimenter(Experimenter),
    FeaturesRequest,
    FeaturesReply(SwitchFeatures),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod(TableMod),
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    /// Port number (or `ANY`) whose queues are requested.
    QueueGetConfigRequest(PortNo),
    QueueGetConfigReply(QueueGetConfigReply),
    RoleRequest(Role),
    RoleReply(Role),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
    MeterMod(MeterMod),
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The message would exceed the 65535-byte limit of `ofp_header.length`.
    TooLong(usize),
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::TooLong(n) => write!(f, "message of {n} bytes exceeds 65535"),
        }
    }
}

impl std::error::Error for EncodeError {}

fn body_len_err() -> OfError {
    OfError::new(BadRequestCode::BadLen, "message body length")
}

impl Message {
    /// The `ofp_type` of this message.
    pub fn msg_type(&self) -> u8 {
        use msg_type as t;
        match self {
            Message::Hello(_) => t::HELLO,
            Message::Error(_) => t::ERROR,
            Message::EchoRequest(_) => t::ECHO_REQUEST,
            Message::EchoReply(_) => t::ECHO_REPLY,
            Message::Experimenter(_) => t::EXPERIMENTER,
            Message::FeaturesRequest => t::FEATURES_REQUEST,
            Message::FeaturesReply(_) => t::FEATURES_REPLY,
            Message::GetConfigRequest => t::GET_CONFIG_REQUEST,
            Message::GetConfigReply(_) => t::GET_CONFIG_REPLY,
            Message::SetConfig(_) => t::SET_CONFIG,
            Message::PacketIn(_) => t::PACKET_IN,
            Message::FlowRemoved(_) => t::FLOW_REMOVED,
            Message::PortStatus(_) => t::PORT_STATUS,
            Message::PacketOut(_) => t::PACKET_OUT,
            Message::FlowMod(_) => t::FLOW_MOD,
            Message::GroupMod(_) => t::GROUP_MOD,
            Message::PortMod(_) => t::PORT_MOD,
            Message::TableMod(_) => t::TABLE_MOD,
            Message::MultipartRequest(_) => t::MULTIPART_REQUEST,
            Message::MultipartReply(_) => t::MULTIPART_REPLY,
            Message::BarrierRequest => t::BARRIER_REQUEST,
            Message::BarrierReply => t::BARRIER_REPLY,
            Message::QueueGetConfigRequest(_) => t::QUEUE_GET_CONFIG_REQUEST,
            Message::QueueGetConfigReply(_) => t::QUEUE_GET_CONFIG_REPLY,
            Message::RoleRequest(_) => t::ROLE_REQUEST,
            Message::RoleReply(_) => t::ROLE_REPLY,
            Message::GetAsyncRequest => t::GET_ASYNC_REQUEST,
            Message::GetAsyncReply(_) => t::GET_ASYNC_REPLY,
            Message::SetAsync(_) => t::SET_ASYNC,
            Message::MeterMod(_) => t::METER_MOD,
        }
    }

    /// Encodes the message with header version 0x04 and transaction id `xid`.
    pub fn encode(&self, xid: u32) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(xid, &mut out)?;
        Ok(out)
    }

    /// Appends the encoded message to `out`. On error `out` is left as it was.
    pub fn encode_into(&self, xid: u32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        Header {
            version: OFP_VERSION,
            msg_type: self.msg_type(),
            length: 0,
            xid,
        }
        .write(out);
        self.encode_body(out);
        let len = out.len() - start;
        if len > OFP_MAX_MSG_LEN {
            out.truncate(start);
            return Err(EncodeError::TooLong(len));
        }
        out.patch_u16(start + 2, len);
        Ok(())
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello(h) => h.encode(out),
            Message::Error(e) => e.encode(out),
            Message::EchoRequest(d) | Message::EchoReply(d) => out.extend_from_slice(d),
            Message::Experimenter(e) => {
                out.put_u32(e.experimenter);
                out.put_u32(e.exp_type);
                out.extend_from_slice(&e.data);
            }
            Message::FeaturesRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply
            | Message::GetAsyncRequest => {}
            Message::FeaturesReply(f) => {
                out.put_u64(f.datapath_id);
                out.put_u32(f.n_buffers);
                out.put_u8(f.n_tables);
                out.put_u8(f.auxiliary_id);
                out.put_zeros(2);
                out.put_u32(f.capabilities);
                out.put_u32(f.reserved);
            }
            Message::GetConfigReply(c) | Message::SetConfig(c) => {
                out.put_u16(c.flags);
                out.put_u16(c.miss_send_len);
            }
            Message::PacketIn(p) => {
                out.put_u32(p.buffer_id);
                out.put_u16(p.total_len);
                out.put_u8(p.reason.to_u8());
                out.put_u8(p.table_id);
                out.put_u64(p.cookie);
                p.match_.encode(out);
                out.put_zeros(2);
                out.extend_from_slice(&p.data);
            }
            Message::FlowRemoved(f) => {
                out.put_u64(f.cookie);
                out.put_u16(f.priority);
                out.put_u8(f.reason.to_u8());
                out.put_u8(f.table_id);
                out.put_u32(f.duration_sec);
                out.put_u32(f.duration_nsec);
                out.put_u16(f.idle_timeout);
                out.put_u16(f.hard_timeout);
                out.put_u64(f.packet_count);
                out.put_u64(f.byte_count);
                f.match_.encode(out);
            }
            Message::PortStatus(p) => p.encode(out),
            Message::PacketOut(p) => {
                out.put_u32(p.buffer_id);
                out.put_u32(p.in_port.0);
                let alen = actions_len(&p.actions);
                out.put_u16(u16::try_from(alen).unwrap_or(u16::MAX));
                out.put_zeros(6);
                encode_actions(&p.actions, out);
                out.extend_from_slice(&p.data);
            }
            Message::FlowMod(f) => {
                out.put_u64(f.cookie);
                out.put_u64(f.cookie_mask);
                out.put_u8(f.table_id);
                out.put_u8(f.command as u8);
                out.put_u16(f.idle_timeout);
                out.put_u16(f.hard_timeout);
                out.put_u16(f.priority);
                out.put_u32(f.buffer_id);
                out.put_u32(f.out_port.0);
                out.put_u32(f.out_group);
                out.put_u16(f.flags);
                out.put_zeros(2);
                f.match_.encode(out);
                encode_instructions(&f.instructions, out);
            }
            Message::GroupMod(g) => g.encode(out),
            Message::PortMod(p) => p.encode(out),
            Message::TableMod(t) => {
                out.put_u8(t.table_id);
                out.put_zeros(3);
                out.put_u32(t.config);
            }
            Message::MultipartRequest(m) => m.encode(out),
            Message::MultipartReply(m) => m.encode(out),
            Message::QueueGetConfigRequest(p) => {
                out.put_u32(p.0);
                out.put_zeros(4);
            }
            Message::QueueGetConfigReply(q) => encode_queue_reply(q, out),
            Message::RoleRequest(r) | Message::RoleReply(r) => {
                out.put_u32(r.role as u32);
                out.put_zeros(4);
                out.put_u64(r.generation_id);
            }
            Message::GetAsyncReply(a) | Message::SetAsync(a) => {
                for v in a
                    .packet_in_mask
                    .iter()
                    .chain(&a.port_status_mask)
                    .chain(&a.flow_removed_mask)
                {
                    out.put_u32(*v);
                }
            }
            Message::MeterMod(m) => m.encode(out),
        }
    }

    /// Decodes exactly one message occupying all of `buf` (as split by
    /// [`crate::framer`]). Returns the header (for the xid and, for hello, the peer's
    /// version) and the message; on failure, the error to send back.
    ///
    /// Only `OFPT_HELLO` and `OFPT_ERROR` are accepted with a version other than 0x04
    /// (both are needed during version negotiation and share one layout across
    /// versions); anything else gets `OFPBRC_BAD_VERSION`.
    pub fn decode(buf: &[u8]) -> Result<(Header, Message), OfError> {
        let header = Header::parse(buf)?;
        if usize::from(header.length) != buf.len() || buf.len() < OFP_HEADER_LEN {
            return Err(OfError::new(
                BadRequestCode::BadLen,
                "header length differs from message size",
            ));
        }
        if header.version != OFP_VERSION
            && header.msg_type != msg_type::HELLO
            && header.msg_type != msg_type::ERROR
        {
            return Err(OfError::new(
                BadRequestCode::BadVersion,
                "not an OpenFlow 1.3 message",
            ));
        }
        let mut r = Reader::new(&buf[OFP_HEADER_LEN..], body_len_err());
        let msg = decode_body(&header, &mut r)?;
        if !r.is_empty() {
            return Err(body_len_err());
        }
        Ok((header, msg))
    }
}

fn decode_body(header: &Header, r: &mut Reader<'_>) -> Result<Message, OfError> {
    use msg_type as t;
    Ok(match header.msg_type {
        t::HELLO => Message::Hello(Hello::decode(r, header.version < OFP_VERSION)?),
        t::ERROR => Message::Error(ErrorMsg::decode(r)?),
        t::ECHO_REQUEST => Message::EchoRequest(r.rest().to_vec()),
        t::ECHO_REPLY => Message::EchoReply(r.rest().to_vec()),
        t::EXPERIMENTER => Message::Experimenter(Experimenter {
            experimenter: r.u32()?,
            exp_type: r.u32()?,
            data: r.rest().to_vec(),
        }),
        t::FEATURES_REQUEST => Message::FeaturesRequest,
        t::FEATURES_REPLY => {
            let datapath_id = r.u64()?;
            let n_buffers = r.u32()?;
            let n_tables = r.u8()?;
            let auxiliary_id = r.u8()?;
            r.skip(2)?;
            Message::FeaturesReply(SwitchFeatures {
                datapath_id,
                n_buffers,
                n_tables,
                auxiliary_id,
                capabilities: r.u32()?,
                reserved: r.u32()?,
            })
        }
        t::GET_CONFIG_REQUEST => Message::GetConfigRequest,
        t::GET_CONFIG_REPLY => Message::GetConfigReply(decode_config(r)?),
        t::SET_CONFIG => {
            let c = decode_config(r)?;
            if c.flags & !config_flags::FRAG_MASK != 0 || c.flags == config_flags::FRAG_MASK {
                return Err(OfError::new(
                    SwitchConfigFailedCode::BadFlags,
                    "unknown config flags",
                ));
            }
            if c.miss_send_len > OFPCML_MAX && c.miss_send_len != OFPCML_NO_BUFFER {
                return Err(OfError::new(
                    SwitchConfigFailedCode::BadLen,
                    "miss_send_len beyond OFPCML_MAX",
                ));
            }
            Message::SetConfig(c)
        }
        t::PACKET_IN => {
            let buffer_id = r.u32()?;
            let total_len = r.u16()?;
            let reason = PacketInReason::from_u8(r.u8()?);
            let table_id = r.u8()?;
            let cookie = r.u64()?;
            let match_ = Match::decode(r)?;
            r.skip(2)?;
            Message::PacketIn(PacketIn {
                buffer_id,
                total_len,
                reason,
                table_id,
                cookie,
                match_,
                data: r.rest().to_vec(),
            })
        }
        t::FLOW_REMOVED => Message::FlowRemoved(FlowRemoved {
            cookie: r.u64()?,
            priority: r.u16()?,
            reason: FlowRemovedReason::from_u8(r.u8()?),
            table_id: r.u8()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
            idle_timeout: r.u16()?,
            hard_timeout: r.u16()?,
            packet_count: r.u64()?,
            byte_count: r.u64()?,
            match_: Match::decode(r)?,
        }),
        t::PORT_STATUS => Message::PortStatus(PortStatus::decode(r)?),
        t::PACKET_OUT => {
            let buffer_id = r.u32()?;
            let in_port = PortNo(r.u32()?);
            let actions_len = usize::from(r.u16()?);
            r.skip(6)?;
            let valid_in_port = in_port.is_standard()
                || in_port == PortNo::LOCAL
                || in_port == PortNo::CONTROLLER
                || in_port == PortNo::ANY;
            if !valid_in_port {
                return Err(OfError::new(BadRequestCode::BadPort, "packet-out in_port"));
            }
            let actions = decode_actions(r.bytes(actions_len)?)?;
            Message::PacketOut(PacketOut {
                buffer_id,
                in_port,
                actions,
                data: r.rest().to_vec(),
            })
        }
        t::FLOW_MOD => Message::FlowMod(decode_flow_mod(r)?),
        t::GROUP_MOD => Message::GroupMod(GroupMod::decode(r)?),
        t::PORT_MOD => Message::PortMod(PortMod::decode(r)?),
        t::TABLE_MOD => {
            let table_id = r.u8()?;
            r.skip(3)?;
            Message::TableMod(TableMod {
                table_id,
                config: r.u32()?,
            })
        }
        t::MULTIPART_REQUEST => Message::MultipartRequest(MultipartRequest::decode(r)?),
        t::MULTIPART_REPLY => Message::MultipartReply(MultipartReply::decode(r)?),
        t::BARRIER_REQUEST => Message::BarrierRequest,
        t::BARRIER_REPLY => Message::BarrierReply,
        t::QUEUE_GET_CONFIG_REQUEST => {
            let port = PortNo(r.u32()?);
            r.skip(4)?;
            Message::QueueGetConfigRequest(port)
        }
        t::QUEUE_GET_CONFIG_REPLY => Message::QueueGetConfigReply(decode_queue_reply(r)?),
        t::ROLE_REQUEST | t::ROLE_REPLY => {
            let role = r.u32()?;
            r.skip(4)?;
            let generation_id = r.u64()?;
            let role = ControllerRole::from_u32(role).ok_or(OfError::new(
                RoleRequestFailedCode::BadRole,
                "unknown controller role",
            ))?;
            let role = Role {
                role,
                generation_id,
            };
            if header.msg_type == t::ROLE_REQUEST {
                Message::RoleRequest(role)
            } else {
                Message::RoleReply(role)
            }
        }
        t::GET_ASYNC_REQUEST => Message::GetAsyncRequest,
        t::GET_ASYNC_REPLY | t::SET_ASYNC => {
            let mut v = [0u32; 6];
            for x in &mut v {
                *x = r.u32()?;
            }
            let a = AsyncConfig {
                packet_in_mask: [v[0], v[1]],
                port_status_mask: [v[2], v[3]],
                flow_removed_mask: [v[4], v[5]],
            };
            if header.msg_type == t::SET_ASYNC {
                Message::SetAsync(a)
            } else {
                Message::GetAsyncReply(a)
            }
        }
        t::METER_MOD => Message::MeterMod(MeterMod::decode(r)?),
        _ => {
            return Err(OfError::new(
                BadRequestCode::BadType,
                "unknown message type",
            ))
        }
    })
}

fn decode_config(r: &mut Reader<'_>) -> Result<SwitchConfig, OfError> {
    Ok(SwitchConfig {
        flags: r.u16()?,
        miss_send_len: r.u16()?,
    })
}

fn decode_flow_mod(r: &mut Reader<'_>) -> Result<FlowMod, OfError> {
    let cookie = r.u64()?;
    let cookie_mask = r.u64()?;
    let table_id = r.u8()?;
    let command = r.u8()?;
    let idle_timeout = r.u16()?;
    let hard_timeout = r.u16()?;
    let priority = r.u16()?;
    let buffer_id = r.u32()?;
    let out_port = PortNo(r.u32()?);
    let out_group = r.u32()?;
    let flags = r.u16()?;
    r.skip(2)?;
    let command = FlowModCommand::from_u8(command).ok_or(OfError::new(
        FlowModFailedCode::BadCommand,
        "unknown flow-mod command",
    ))?;
    if flags & !flow_mod_flags::ALL != 0 {
        return Err(OfError::new(
            FlowModFailedCode::BadFlags,
            "unknown flow-mod flags",
        ));
    }
    if table_id == OFPTT_ALL && !command.is_delete() {
        return Err(OfError::new(
            FlowModFailedCode::BadTableId,
            "OFPTT_ALL is only valid for delete",
        ));
    }
    let match_ = Match::decode(r)?;
    let instructions = decode_instructions(r.rest())?;
    if !command.is_delete() {
        for i in &instructions {
            if let Instruction::GotoTable(next) = i {
                if *next <= table_id {
                    return Err(OfError::new(
                        BadInstructionCode::BadTableId,
                        "goto_table must go forward",
                    ));
                }
            }
        }
    }
    Ok(FlowMod {
        cookie,
        cookie_mask,
        table_id,
        command,
        idle_timeout,
        hard_timeout,
        priority,
        buffer_id,
        out_port,
        out_group,
        flags,
        match_,
        instructions,
    })
}

/// `OFPQT_*` queue property types.
pub mod queue_prop_type {
    pub const MIN_RATE: u16 = 1;
    pub const MAX_RATE: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

fn encode_queue_reply(q: &QueueGetConfigReply, out: &mut Vec<u8>) {
    out.put_u32(q.port.0);
    out.put_zeros(4);
    for queue in &q.queues {
        let qstart = out.len();
        out.put_u32(queue.queue_id);
        out.put_u32(queue.port.0);
        out.put_u16(0);
        out.put_zeros(6);
        for p in &queue.properties {
            let pstart = out.len();
            let ptype = match p {
                QueueProp::MinRate(_) => queue_prop_type::MIN_RATE,
                QueueProp::MaxRate(_) => queue_prop_type::MAX_RATE,
                QueueProp::Experimenter { .. } => queue_prop_type::EXPERIMENTER,
            };
            out.put_u16(ptype);
            out.put_u16(0);
            out.put_zeros(4);
            match p {
                QueueProp::MinRate(rate) | QueueProp::MaxRate(rate) => {
                    out.put_u16(*rate);
                    out.put_zeros(6);
                }
                QueueProp::Experimenter { experimenter, data } => {
                    out.put_u32(*experimenter);
                    out.put_zeros(4);
                    out.extend_from_slice(data);
                    out.pad8_from(pstart);
                }
            }
            let plen = out.len() - pstart;
            out.patch_u16(pstart + 2, plen);
        }
        let qlen = out.len() - qstart;
        out.patch_u16(qstart + 8, qlen);
    }
}

fn decode_queue_reply(r: &mut Reader<'_>) -> Result<QueueGetConfigReply, OfError> {
    let port = PortNo(r.u32()?);
    r.skip(4)?;
    let mut queues = Vec::new();
    while !r.is_empty() {
        let qlen = usize::from(r.peek_u16_at(8)?);
        if qlen < 16 {
            return Err(body_len_err());
        }
        let mut q = Reader::new(r.bytes(qlen)?, body_len_err());
        let queue_id = q.u32()?;
        let qport = PortNo(q.u32()?);
        q.skip(8)?;
        let mut properties = Vec::new();
        while !q.is_empty() {
            let ptype = q.peek_u16_at(0)?;
            let plen = usize::from(q.peek_u16_at(2)?);
            if plen < 16 || plen % 8 != 0 {
                return Err(body_len_err());
            }
            let mut p = Reader::new(q.bytes(plen)?, body_len_err());
            p.skip(8)?;
            properties.push(match ptype {
                queue_prop_type::MIN_RATE | queue_prop_type::MAX_RATE => {
                    if plen != 16 {
                        return Err(body_len_err());
                    }
                    let rate = p.u16()?;
                    p.skip(6)?;
                    if ptype == queue_prop_type::MIN_RATE {
                        QueueProp::MinRate(rate)
                    } else {
                        QueueProp::MaxRate(rate)
                    }
                }
                queue_prop_type::EXPERIMENTER => {
                    let experimenter = p.u32()?;
                    p.skip(4)?;
                    QueueProp::Experimenter {
                        experimenter,
                        data: p.rest().to_vec(),
                    }
                }
                _ => {
                    return Err(OfError::new(
                        BadRequestCode::BadType,
                        "unknown queue property",
                    ))
                }
            });
        }
        queues.push(PacketQueue {
            queue_id,
            port: qport,
            properties,
        });
    }
    Ok(QueueGetConfigReply { port, queues })
}

impl MultipartReply {
    /// Encodes a reply that may exceed one message: list-shaped bodies are split into
    /// as many messages as needed, all but the last with `OFPMPF_REPLY_MORE`, all with
    /// the same `xid`. Fails only if a single entry cannot fit in a message.
    pub fn encode_split(&self, xid: u32) -> Result<Vec<Vec<u8>>, EncodeError> {
        let Some(items) = self.encoded_items() else {
            return Message::MultipartReply(self.clone())
                .encode(xid)
                .map(|m| vec![m]);
        };
        // ofp_header + ofp_multipart_reply header.
        const FIXED: usize = OFP_HEADER_LEN + 8;
        let mut chunks: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
        let mut size = FIXED;
        for item in items {
            if FIXED + item.len() > OFP_MAX_MSG_LEN {
                return Err(EncodeError::TooLong(FIXED + item.len()));
            }
            if size + item.len() > OFP_MAX_MSG_LEN {
                chunks.push(Vec::new());
                size = FIXED;
            }
            size += item.len();
            if let Some(last) = chunks.last_mut() {
                last.push(item);
            }
        }
        let n = chunks.len();
        let mut out = Vec::with_capacity(n);
        for (i, chunk) in chunks.into_iter().enumerate() {
            let body_len: usize = chunk.iter().map(Vec::len).sum();
            let mut m = Vec::with_capacity(FIXED + body_len);
            Header {
                version: OFP_VERSION,
                msg_type: msg_type::MULTIPART_REPLY,
                length: u16::try_from(FIXED + body_len).unwrap_or(u16::MAX),
                xid,
            }
            .write(&mut m);
            m.put_u16(self.multipart_type());
            let more = if i + 1 < n { OFPMPF_MORE } else { 0 };
            m.put_u16(self.flags | more);
            m.put_zeros(4);
            for item in chunk {
                m.extend_from_slice(&item);
            }
            out.push(m);
        }
        Ok(out)
    }
}
