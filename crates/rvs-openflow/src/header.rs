//! `ofp_header`: version, message type, length and transaction id.

use crate::buf::{Put, Reader};
use crate::error::{BadRequestCode, OfError};

/// Wire version of OpenFlow 1.3.
pub const OFP_VERSION: u8 = 0x04;
/// Size of `ofp_header`.
pub const OFP_HEADER_LEN: usize = 8;
/// Largest message the 16-bit length field can describe.
pub const OFP_MAX_MSG_LEN: usize = u16::MAX as usize;

/// `ofp_type` values of OpenFlow 1.3.
pub mod msg_type {
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PACKET_IN: u8 = 10;
    pub const FLOW_REMOVED: u8 = 11;
    pub const PORT_STATUS: u8 = 12;
    pub const PACKET_OUT: u8 = 13;
    pub const FLOW_MOD: u8 = 14;
    pub const GROUP_MOD: u8 = 15;
    pub const PORT_MOD: u8 = 16;
    pub const TABLE_MOD: u8 = 17;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const QUEUE_GET_CONFIG_REQUEST: u8 = 22;
    pub const QUEUE_GET_CONFIG_REPLY: u8 = 23;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
    pub const GET_ASYNC_REQUEST: u8 = 26;
    pub const GET_ASYNC_REPLY: u8 = 27;
    pub const SET_ASYNC: u8 = 28;
    pub const METER_MOD: u8 = 29;

    /// The specification's name for a message type.
    pub const fn name(t: u8) -> &'static str {
        match t {
            HELLO => "OFPT_HELLO",
            ERROR => "OFPT_ERROR",
            ECHO_REQUEST => "OFPT_ECHO_REQUEST",
            ECHO_REPLY => "OFPT_ECHO_REPLY",
            EXPERIMENTER => "OFPT_EXPERIMENTER",
            FEATURES_REQUEST => "OFPT_FEATURES_REQUEST",
            FEATURES_REPLY => "OFPT_FEATURES_REPLY",
            GET_CONFIG_REQUEST => "OFPT_GET_CONFIG_REQUEST",
            GET_CONFIG_REPLY => "OFPT_GET_CONFIG_REPLY",
            SET_CONFIG => "OFPT_SET_CONFIG",
            PACKET_IN => "OFPT_PACKET_IN",
            FLOW_REMOVED => "OFPT_FLOW_REMOVED",
            PORT_STATUS => "OFPT_PORT_STATUS",
            PACKET_OUT => "OFPT_PACKET_OUT",
            FLOW_MOD => "OFPT_FLOW_MOD",
            GROUP_MOD => "OFPT_GROUP_MOD",
            PORT_MOD => "OFPT_PORT_MOD",
            TABLE_MOD => "OFPT_TABLE_MOD",
            MULTIPART_REQUEST => "OFPT_MULTIPART_REQUEST",
            MULTIPART_REPLY => "OFPT_MULTIPART_REPLY",
            BARRIER_REQUEST => "OFPT_BARRIER_REQUEST",
            BARRIER_REPLY => "OFPT_BARRIER_REPLY",
            QUEUE_GET_CONFIG_REQUEST => "OFPT_QUEUE_GET_CONFIG_REQUEST",
            QUEUE_GET_CONFIG_REPLY => "OFPT_QUEUE_GET_CONFIG_REPLY",
            ROLE_REQUEST => "OFPT_ROLE_REQUEST",
            ROLE_REPLY => "OFPT_ROLE_REPLY",
            GET_ASYNC_REQUEST => "OFPT_GET_ASYNC_REQUEST",
            GET_ASYNC_REPLY => "OFPT_GET_ASYNC_REPLY",
            SET_ASYNC => "OFPT_SET_ASYNC",
            METER_MOD => "OFPT_METER_MOD",
            _ => "unknown",
        }
    }
}

/// A decoded `ofp_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub version: u8,
    pub msg_type: u8,
    /// Total message length including this header.
    pub length: u16,
    pub xid: u32,
}

impl Header {
    /// Parses the first 8 bytes of `buf` without checking the length against the
    /// buffer or the version: useful to learn the xid of a message that failed to
    /// decode, so the error reply can echo it.
    pub fn parse(buf: &[u8]) -> Result<Header, OfError> {
        let mut r = Reader::new(
            buf,
            OfError::new(BadRequestCode::BadLen, "shorter than ofp_header"),
        );
        Ok(Header {
            version: r.u8()?,
            msg_type: r.u8()?,
            length: r.u16()?,
            xid: r.u32()?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.put_u8(self.version);
        out.put_u8(self.msg_type);
        out.put_u16(self.length);
        out.put_u32(self.xid);
    }
}
