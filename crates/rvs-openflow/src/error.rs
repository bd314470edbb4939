//! OpenFlow 1.3 error types and codes (`ofp_error_type` and the per-type code enums),
//! the decode error [`OfError`], and the `OFPT_ERROR` message body [`ErrorMsg`].
//!
//! Every decode failure carries the `(type, code)` pair the specification names for that
//! failure, so the connection layer can answer the offending message with
//! [`OfError::to_error_msg`] (which keeps the first 64 bytes of the request, as the spec
//! asks).

use crate::buf::{Put, Reader};

macro_rules! error_codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $val:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum $name {
            $(
                #[doc = $text]
                $variant = $val,
            )*
        }

        impl $name {
            /// The code for a wire value, if known.
            pub const fn from_u16(v: u16) -> Option<Self> {
                match v {
                    $($val => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// The specification's constant name.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

error_codes!(
    /// `OFPET_HELLO_FAILED` codes.
    HelloFailedCode {
        Incompatible = 0 => "OFPHFC_INCOMPATIBLE",
        Eperm = 1 => "OFPHFC_EPERM",
    }
);

error_codes!(
    /// `OFPET_BAD_REQUEST` codes.
    BadRequestCode {
        BadVersion = 0 => "OFPBRC_BAD_VERSION",
        BadType = 1 => "OFPBRC_BAD_TYPE",
        BadMultipart = 2 => "OFPBRC_BAD_MULTIPART",
        BadExperimenter = 3 => "OFPBRC_BAD_EXPERIMENTER",
        BadExpType = 4 => "OFPBRC_BAD_EXP_TYPE",
        Eperm = 5 => "OFPBRC_EPERM",
        BadLen = 6 => "OFPBRC_BAD_LEN",
        BufferEmpty = 7 => "OFPBRC_BUFFER_EMPTY",
        BufferUnknown = 8 => "OFPBRC_BUFFER_UNKNOWN",
        BadTableId = 9 => "OFPBRC_BAD_TABLE_ID",
        IsSlave = 10 => "OFPBRC_IS_SLAVE",
        BadPort = 11 => "OFPBRC_BAD_PORT",
        BadPacket = 12 => "OFPBRC_BAD_PACKET",
        MultipartBufferOverflow = 13 => "OFPBRC_MULTIPART_BUFFER_OVERFLOW",
    }
);

error_codes!(
    /// `OFPET_BAD_ACTION` codes.
    BadActionCode {
        BadType = 0 => "OFPBAC_BAD_TYPE",
        BadLen = 1 => "OFPBAC_BAD_LEN",
        BadExperimenter = 2 => "OFPBAC_BAD_EXPERIMENTER",
        BadExpType = 3 => "OFPBAC_BAD_EXP_TYPE",
        BadOutPort = 4 => "OFPBAC_BAD_OUT_PORT",
        BadArgument = 5 => "OFPBAC_BAD_ARGUMENT",
        Eperm = 6 => "OFPBAC_EPERM",
        TooMany = 7 => "OFPBAC_TOO_MANY",
        BadQueue = 8 => "OFPBAC_BAD_QUEUE",
        BadOutGroup = 9 => "OFPBAC_BAD_OUT_GROUP",
        MatchInconsistent = 10 => "OFPBAC_MATCH_INCONSISTENT",
        UnsupportedOrder = 11 => "OFPBAC_UNSUPPORTED_ORDER",
        BadTag = 12 => "OFPBAC_BAD_TAG",
        BadSetType = 13 => "OFPBAC_BAD_SET_TYPE",
        BadSetLen = 14 => "OFPBAC_BAD_SET_LEN",
        BadSetArgument = 15 => "OFPBAC_BAD_SET_ARGUMENT",
    }
);

error_codes!(
    /// `OFPET_BAD_INSTRUCTION` codes.
    BadInstructionCode {
        UnknownInst = 0 => "OFPBIC_UNKNOWN_INST",
        UnsupInst = 1 => "OFPBIC_UNSUP_INST",
        BadTableId = 2 => "OFPBIC_BAD_TABLE_ID",
        UnsupMetadata = 3 => "OFPBIC_UNSUP_METADATA",
        UnsupMetadataMask = 4 => "OFPBIC_UNSUP_METADATA_MASK",
        BadExperimenter = 5 => "OFPBIC_BAD_EXPERIMENTER",
        BadExpType = 6 => "OFPBIC_BAD_EXP_TYPE",
        BadLen = 7 => "OFPBIC_BAD_LEN",
        Eperm = 8 => "OFPBIC_EPERM",
    }
);

error_codes!(
    /// `OFPET_BAD_MATCH` codes.
    BadMatchCode {
        BadType = 0 => "OFPBMC_BAD_TYPE",
        BadLen = 1 => "OFPBMC_BAD_LEN",
        BadTag = 2 => "OFPBMC_BAD_TAG",
        BadDlAddrMask = 3 => "OFPBMC_BAD_DL_ADDR_MASK",
        BadNwAddrMask = 4 => "OFPBMC_BAD_NW_ADDR_MASK",
        BadWildcards = 5 => "OFPBMC_BAD_WILDCARDS",
        BadField = 6 => "OFPBMC_BAD_FIELD",
        BadValue = 7 => "OFPBMC_BAD_VALUE",
        BadMask = 8 => "OFPBMC_BAD_MASK",
        BadPrereq = 9 => "OFPBMC_BAD_PREREQ",
        DupField = 10 => "OFPBMC_DUP_FIELD",
        Eperm = 11 => "OFPBMC_EPERM",
    }
);

error_codes!(
    /// `OFPET_FLOW_MOD_FAILED` codes.
    FlowModFailedCode {
        Unknown = 0 => "OFPFMFC_UNKNOWN",
        TableFull = 1 => "OFPFMFC_TABLE_FULL",
        BadTableId = 2 => "OFPFMFC_BAD_TABLE_ID",
        Overlap = 3 => "OFPFMFC_OVERLAP",
        Eperm = 4 => "OFPFMFC_EPERM",
        BadTimeout = 5 => "OFPFMFC_BAD_TIMEOUT",
        BadCommand = 6 => "OFPFMFC_BAD_COMMAND",
        BadFlags = 7 => "OFPFMFC_BAD_FLAGS",
    }
);

error_codes!(
    /// `OFPET_GROUP_MOD_FAILED` codes.
    GroupModFailedCode {
        GroupExists = 0 => "OFPGMFC_GROUP_EXISTS",
        InvalidGroup = 1 => "OFPGMFC_INVALID_GROUP",
        WeightUnsupported = 2 => "OFPGMFC_WEIGHT_UNSUPPORTED",
        OutOfGroups = 3 => "OFPGMFC_OUT_OF_GROUPS",
        OutOfBuckets = 4 => "OFPGMFC_OUT_OF_BUCKETS",
        ChainingUnsupported = 5 => "OFPGMFC_CHAINING_UNSUPPORTED",
        WatchUnsupported = 6 => "OFPGMFC_WATCH_UNSUPPORTED",
        Loop = 7 => "OFPGMFC_LOOP",
        UnknownGroup = 8 => "OFPGMFC_UNKNOWN_GROUP",
        ChainedGroup = 9 => "OFPGMFC_CHAINED_GROUP",
        BadType = 10 => "OFPGMFC_BAD_TYPE",
        BadCommand = 11 => "OFPGMFC_BAD_COMMAND",
        BadBucket = 12 => "OFPGMFC_BAD_BUCKET",
        BadWatch = 13 => "OFPGMFC_BAD_WATCH",
        Eperm = 14 => "OFPGMFC_EPERM",
    }
);

error_codes!(
    /// `OFPET_PORT_MOD_FAILED` codes.
    PortModFailedCode {
        BadPort = 0 => "OFPPMFC_BAD_PORT",
        BadHwAddr = 1 => "OFPPMFC_BAD_HW_ADDR",
        BadConfig = 2 => "OFPPMFC_BAD_CONFIG",
        BadAdvertise = 3 => "OFPPMFC_BAD_ADVERTISE",
        Eperm = 4 => "OFPPMFC_EPERM",
    }
);

error_codes!(
    /// `OFPET_TABLE_MOD_FAILED` codes.
    TableModFailedCode {
        BadTable = 0 => "OFPTMFC_BAD_TABLE",
        BadConfig = 1 => "OFPTMFC_BAD_CONFIG",
        Eperm = 2 => "OFPTMFC_EPERM",
    }
);

error_codes!(
    /// `OFPET_QUEUE_OP_FAILED` codes.
    QueueOpFailedCode {
        BadPort = 0 => "OFPQOFC_BAD_PORT",
        BadQueue = 1 => "OFPQOFC_BAD_QUEUE",
        Eperm = 2 => "OFPQOFC_EPERM",
    }
);

error_codes!(
    /// `OFPET_SWITCH_CONFIG_FAILED` codes.
    SwitchConfigFailedCode {
        BadFlags = 0 => "OFPSCFC_BAD_FLAGS",
        BadLen = 1 => "OFPSCFC_BAD_LEN",
        Eperm = 2 => "OFPSCFC_EPERM",
    }
);

error_codes!(
    /// `OFPET_ROLE_REQUEST_FAILED` codes.
    RoleRequestFailedCode {
        Stale = 0 => "OFPRRFC_STALE",
        Unsup = 1 => "OFPRRFC_UNSUP",
        BadRole = 2 => "OFPRRFC_BAD_ROLE",
    }
);

error_codes!(
    /// `OFPET_METER_MOD_FAILED` codes.
    MeterModFailedCode {
        Unknown = 0 => "OFPMMFC_UNKNOWN",
        MeterExists = 1 => "OFPMMFC_METER_EXISTS",
        InvalidMeter = 2 => "OFPMMFC_INVALID_METER",
        UnknownMeter = 3 => "OFPMMFC_UNKNOWN_METER",
        BadCommand = 4 => "OFPMMFC_BAD_COMMAND",
        BadFlags = 5 => "OFPMMFC_BAD_FLAGS",
        BadRate = 6 => "OFPMMFC_BAD_RATE",
        BadBurst = 7 => "OFPMMFC_BAD_BURST",
        BadBand = 8 => "OFPMMFC_BAD_BAND",
        BadBandValue = 9 => "OFPMMFC_BAD_BAND_VALUE",
        OutOfMeters = 10 => "OFPMMFC_OUT_OF_METERS",
        OutOfBands = 11 => "OFPMMFC_OUT_OF_BANDS",
    }
);

error_codes!(
    /// `OFPET_TABLE_FEATURES_FAILED` codes.
    TableFeaturesFailedCode {
        BadTable = 0 => "OFPTFFC_BAD_TABLE",
        BadMetadata = 1 => "OFPTFFC_BAD_METADATA",
        BadType = 2 => "OFPTFFC_BAD_TYPE",
        BadLen = 3 => "OFPTFFC_BAD_LEN",
        BadArgument = 4 => "OFPTFFC_BAD_ARGUMENT",
        Eperm = 5 => "OFPTFFC_EPERM",
    }
);

/// `ofp_error_type` values.
pub mod error_type {
    pub const HELLO_FAILED: u16 = 0;
    pub const BAD_REQUEST: u16 = 1;
    pub const BAD_ACTION: u16 = 2;
    pub const BAD_INSTRUCTION: u16 = 3;
    pub const BAD_MATCH: u16 = 4;
    pub const FLOW_MOD_FAILED: u16 = 5;
    pub const GROUP_MOD_FAILED: u16 = 6;
    pub const PORT_MOD_FAILED: u16 = 7;
    pub const TABLE_MOD_FAILED: u16 = 8;
    pub const QUEUE_OP_FAILED: u16 = 9;
    pub const SWITCH_CONFIG_FAILED: u16 = 10;
    pub const ROLE_REQUEST_FAILED: u16 = 11;
    pub const METER_MOD_FAILED: u16 = 12;
    pub const TABLE_FEATURES_FAILED: u16 = 13;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// An OpenFlow error type and code.
///
/// [`ErrorCode::from_raw`] maps every known pair to its typed variant, so decoded values
/// are canonical; [`ErrorCode::Other`] keeps pairs this crate does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    HelloFailed(HelloFailedCode),
    BadRequest(BadRequestCode),
    BadAction(BadActionCode),
    BadInstruction(BadInstructionCode),
    BadMatch(BadMatchCode),
    FlowModFailed(FlowModFailedCode),
    GroupModFailed(GroupModFailedCode),
    PortModFailed(PortModFailedCode),
    TableModFailed(TableModFailedCode),
    QueueOpFailed(QueueOpFailedCode),
    SwitchConfigFailed(SwitchConfigFailedCode),
    RoleRequestFailed(RoleRequestFailedCode),
    MeterModFailed(MeterModFailedCode),
    TableFeaturesFailed(TableFeaturesFailedCode),
    /// `OFPET_EXPERIMENTER`: an experimenter-defined error.
    Experimenter {
        exp_type: u16,
        experimenter: u32,
    },
    /// A standard-looking pair this crate does not know.
    Other {
        err_type: u16,
        code: u16,
    },
}

impl ErrorCode {
    /// The canonical value for a wire `(type, code)` pair (not for `OFPET_EXPERIMENTER`,
    /// whose body carries an extra experimenter id; see [`ErrorMsg`]).
    pub fn from_raw(err_type: u16, code: u16) -> Self {
        use error_type as t;
        let known = match err_type {
            t::HELLO_FAILED => HelloFailedCode::from_u16(code).map(Self::HelloFailed),
            t::BAD_REQUEST => BadRequestCode::from_u16(code).map(Self::BadRequest),
            t::BAD_ACTION => BadActionCode::from_u16(code).map(Self::BadAction),
            t::BAD_INSTRUCTION => BadInstructionCode::from_u16(code).map(Self::BadInstruction),
            t::BAD_MATCH => BadMatchCode::from_u16(code).map(Self::BadMatch),
            t::FLOW_MOD_FAILED => FlowModFailedCode::from_u16(code).map(Self::FlowModFailed),
            t::GROUP_MOD_FAILED => GroupModFailedCode::from_u16(code).map(Self::GroupModFailed),
            t::PORT_MOD_FAILED => PortModFailedCode::from_u16(code).map(Self::PortModFailed),
            t::TABLE_MOD_FAILED => TableModFailedCode::from_u16(code).map(Self::TableModFailed),
            t::QUEUE_OP_FAILED => QueueOpFailedCode::from_u16(code).map(Self::QueueOpFailed),
            t::SWITCH_CONFIG_FAILED => {
                SwitchConfigFailedCode::from_u16(code).map(Self::SwitchConfigFailed)
            }
            t::ROLE_REQUEST_FAILED => {
                RoleRequestFailedCode::from_u16(code).map(Self::RoleRequestFailed)
            }
            t::METER_MOD_FAILED => MeterModFailedCode::from_u16(code).map(Self::MeterModFailed),
            t::TABLE_FEATURES_FAILED => {
                TableFeaturesFailedCode::from_u16(code).map(Self::TableFeaturesFailed)
            }
            _ => None,
        };
        known.unwrap_or(Self::Other { err_type, code })
    }

    /// The wire `(type, code)` pair. For experimenter errors this is
    /// `(OFPET_EXPERIMENTER, exp_type)`.
    pub const fn type_code(self) -> (u16, u16) {
        use error_type as t;
        match self {
            Self::HelloFailed(c) => (t::HELLO_FAILED, c as u16),
            Self::BadRequest(c) => (t::BAD_REQUEST, c as u16),
            Self::BadAction(c) => (t::BAD_ACTION, c as u16),
            Self::BadInstruction(c) => (t::BAD_INSTRUCTION, c as u16),
            Self::BadMatch(c) => (t::BAD_MATCH, c as u16),
            Self::FlowModFailed(c) => (t::FLOW_MOD_FAILED, c as u16),
            Self::GroupModFailed(c) => (t::GROUP_MOD_FAILED, c as u16),
            Self::PortModFailed(c) => (t::PORT_MOD_FAILED, c as u16),
            Self::TableModFailed(c) => (t::TABLE_MOD_FAILED, c as u16),
            Self::QueueOpFailed(c) => (t::QUEUE_OP_FAILED, c as u16),
            Self::SwitchConfigFailed(c) => (t::SWITCH_CONFIG_FAILED, c as u16),
            Self::RoleRequestFailed(c) => (t::ROLE_REQUEST_FAILED, c as u16),
            Self::MeterModFailed(c) => (t::METER_MOD_FAILED, c as u16),
            Self::TableFeaturesFailed(c) => (t::TABLE_FEATURES_FAILED, c as u16),
            Self::Experimenter { exp_type, .. } => (t::EXPERIMENTER, exp_type),
            Self::Other { err_type, code } => (err_type, code),
        }
    }

    /// The specification's name of the error type.
    pub const fn type_name(self) -> &'static str {
        match self {
            Self::HelloFailed(_) => "OFPET_HELLO_FAILED",
            Self::BadRequest(_) => "OFPET_BAD_REQUEST",
            Self::BadAction(_) => "OFPET_BAD_ACTION",
            Self::BadInstruction(_) => "OFPET_BAD_INSTRUCTION",
            Self::BadMatch(_) => "OFPET_BAD_MATCH",
            Self::FlowModFailed(_) => "OFPET_FLOW_MOD_FAILED",
            Self::GroupModFailed(_) => "OFPET_GROUP_MOD_FAILED",
            Self::PortModFailed(_) => "OFPET_PORT_MOD_FAILED",
            Self::TableModFailed(_) => "OFPET_TABLE_MOD_FAILED",
            Self::QueueOpFailed(_) => "OFPET_QUEUE_OP_FAILED",
            Self::SwitchConfigFailed(_) => "OFPET_SWITCH_CONFIG_FAILED",
            Self::RoleRequestFailed(_) => "OFPET_ROLE_REQUEST_FAILED",
            Self::MeterModFailed(_) => "OFPET_METER_MOD_FAILED",
            Self::TableFeaturesFailed(_) => "OFPET_TABLE_FEATURES_FAILED",
            Self::Experimenter { .. } => "OFPET_EXPERIMENTER",
            Self::Other { .. } => "unknown",
        }
    }

    /// The specification's name of the code, when known.
    pub const fn code_name(self) -> Option<&'static str> {
        Some(match self {
            Self::HelloFailed(c) => c.name(),
            Self::BadRequest(c) => c.name(),
            Self::BadAction(c) => c.name(),
            Self::BadInstruction(c) => c.name(),
            Self::BadMatch(c) => c.name(),
            Self::FlowModFailed(c) => c.name(),
            Self::GroupModFailed(c) => c.name(),
            Self::PortModFailed(c) => c.name(),
            Self::TableModFailed(c) => c.name(),
            Self::QueueOpFailed(c) => c.name(),
            Self::SwitchConfigFailed(c) => c.name(),
            Self::RoleRequestFailed(c) => c.name(),
            Self::MeterModFailed(c) => c.name(),
            Self::TableFeaturesFailed(c) => c.name(),
            Self::Experimenter { .. } | Self::Other { .. } => return None,
        })
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self, self.code_name()) {
            (_, Some(code)) => write!(f, "{}/{}", self.type_name(), code),
            (
                Self::Experimenter {
                    exp_type,
                    experimenter,
                },
                None,
            ) => write!(
                f,
                "OFPET_EXPERIMENTER(experimenter={experimenter:#x}, exp_type={exp_type})"
            ),
            (_, None) => {
                let (t, c) = self.type_code();
                write!(f, "error type {t} code {c}")
            }
        }
    }
}

impl From<HelloFailedCode> for ErrorCode {
    fn from(c: HelloFailedCode) -> Self {
        Self::HelloFailed(c)
    }
}
impl From<BadRequestCode> for ErrorCode {
    fn from(c: BadRequestCode) -> Self {
        Self::BadRequest(c)
    }
}
impl From<BadActionCode> for ErrorCode {
    fn from(c: BadActionCode) -> Self {
        Self::BadAction(c)
    }
}
impl From<BadInstructionCode> for ErrorCode {
    fn from(c: BadInstructionCode) -> Self {
        Self::BadInstruction(c)
    }
}
impl From<BadMatchCode> for ErrorCode {
    fn from(c: BadMatchCode) -> Self {
        Self::BadMatch(c)
    }
}
impl From<FlowModFailedCode> for ErrorCode {
    fn from(c: FlowModFailedCode) -> Self {
        Self::FlowModFailed(c)
    }
}
impl From<GroupModFailedCode> for ErrorCode {
    fn from(c: GroupModFailedCode) -> Self {
        Self::GroupModFailed(c)
    }
}
impl From<PortModFailedCode> for ErrorCode {
    fn from(c: PortModFailedCode) -> Self {
        Self::PortModFailed(c)
    }
}
impl From<TableModFailedCode> for ErrorCode {
    fn from(c: TableModFailedCode) -> Self {
        Self::TableModFailed(c)
    }
}
impl From<QueueOpFailedCode> for ErrorCode {
    fn from(c: QueueOpFailedCode) -> Self {
        Self::QueueOpFailed(c)
    }
}
impl From<SwitchConfigFailedCode> for ErrorCode {
    fn from(c: SwitchConfigFailedCode) -> Self {
        Self::SwitchConfigFailed(c)
    }
}
impl From<RoleRequestFailedCode> for ErrorCode {
    fn from(c: RoleRequestFailedCode) -> Self {
        Self::RoleRequestFailed(c)
    }
}
impl From<MeterModFailedCode> for ErrorCode {
    fn from(c: MeterModFailedCode) -> Self {
        Self::MeterModFailed(c)
    }
}
impl From<TableFeaturesFailedCode> for ErrorCode {
    fn from(c: TableFeaturesFailedCode) -> Self {
        Self::TableFeaturesFailed(c)
    }
}

/// Why a message could not be decoded: the error to send back, plus a short reason
/// for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfError {
    /// The `OFPT_ERROR` type/code the specification names for this failure.
    pub code: ErrorCode,
    /// A short human-readable reason (for logs; not sent on the wire).
    pub detail: &'static str,
}

impl OfError {
    pub fn new(code: impl Into<ErrorCode>, detail: &'static str) -> Self {
        OfError {
            code: code.into(),
            detail,
        }
    }

    /// The `OFPT_ERROR` body answering `offending` (the whole request as received): the
    /// spec asks for at least its first 64 bytes; we send exactly those.
    pub fn to_error_msg(&self, offending: &[u8]) -> ErrorMsg {
        ErrorMsg::reply_to(self.code, offending)
    }
}

impl core::fmt::Display for OfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.code, self.detail)
    }
}

impl std::error::Error for OfError {}

/// How many bytes of the offending request an error reply carries.
pub const ERROR_DATA_LEN: usize = 64;

/// The body of `OFPT_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorMsg {
    pub code: ErrorCode,
    /// For request errors: the start of the offending message. For
    /// `OFPET_HELLO_FAILED`: an optional ASCII explanation. For experimenter errors:
    /// experimenter-defined data.
    pub data: Vec<u8>,
}

impl ErrorMsg {
    /// An error answering `offending`, carrying its first [`ERROR_DATA_LEN`] bytes.
    pub fn reply_to(code: ErrorCode, offending: &[u8]) -> Self {
        let n = offending.len().min(ERROR_DATA_LEN);
        ErrorMsg {
            code,
            data: offending[..n].to_vec(),
        }
    }

    /// `OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE` with an ASCII explanation.
    pub fn hello_incompatible(text: &str) -> Self {
        ErrorMsg {
            code: ErrorCode::HelloFailed(HelloFailedCode::Incompatible),
            data: text.as_bytes().to_vec(),
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let err_type = r.u16()?;
        let code = r.u16()?;
        let code = if err_type == error_type::EXPERIMENTER {
            ErrorCode::Experimenter {
                exp_type: code,
                experimenter: r.u32()?,
            }
        } else {
            ErrorCode::from_raw(err_type, code)
        };
        Ok(ErrorMsg {
            code,
            data: r.rest().to_vec(),
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let (t, c) = self.code.type_code();
        out.put_u16(t);
        out.put_u16(c);
        if let ErrorCode::Experimenter { experimenter, .. } = self.code {
            out.put_u32(experimenter);
        }
        out.extend_from_slice(&self.data);
    }
}
