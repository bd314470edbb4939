//! Port numbers (with the reserved ports), `ofp_port`, port-status and port-mod.

use crate::buf::{FixedStr, Put, Reader};
use crate::error::OfError;

/// An OpenFlow 1.3 port number (`ofp_port_no`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PortNo(pub u32);

impl PortNo {
    /// Largest number of a physical or logical port.
    pub const MAX: PortNo = PortNo(0xffff_ff00);
    /// Send the packet out the port it came in on.
    pub const IN_PORT: PortNo = PortNo(0xffff_fff8);
    /// Submit the packet to the first flow table (packet-out only).
    pub const TABLE: PortNo = PortNo(0xffff_fff9);
    /// Forward using non-OpenFlow (normal L2) processing.
    pub const NORMAL: PortNo = PortNo(0xffff_fffa);
    /// Flood along the non-blocked ports, except the input port.
    pub const FLOOD: PortNo = PortNo(0xffff_fffb);
    /// All standard ports except the input port.
    pub const ALL: PortNo = PortNo(0xffff_fffc);
    /// Send to the controller.
    pub const CONTROLLER: PortNo = PortNo(0xffff_fffd);
    /// The switch's local networking stack.
    pub const LOCAL: PortNo = PortNo(0xffff_fffe);
    /// Wildcard: no port (in requests and commands).
    pub const ANY: PortNo = PortNo(0xffff_ffff);

    /// A physical or logical port number (`1..=OFPP_MAX`).
    pub const fn is_standard(self) -> bool {
        self.0 != 0 && self.0 <= Self::MAX.0
    }

    /// One of the named reserved ports (`IN_PORT` .. `ANY`).
    pub const fn is_reserved(self) -> bool {
        self.0 >= Self::IN_PORT.0
    }

    /// Valid as the port of an output action: a standard port or a reserved port
    /// other than `ANY`.
    pub const fn is_valid_output(self) -> bool {
        self.is_standard() || (self.is_reserved() && self.0 != Self::ANY.0)
    }

    /// The `OFPP_*` name of a reserved port.
    pub const fn reserved_name(self) -> Option<&'static str> {
        Some(match self.0 {
            0xffff_ff00 => "OFPP_MAX",
            0xffff_fff8 => "OFPP_IN_PORT",
            0xffff_fff9 => "OFPP_TABLE",
            0xffff_fffa => "OFPP_NORMAL",
            0xffff_fffb => "OFPP_FLOOD",
            0xffff_fffc => "OFPP_ALL",
            0xffff_fffd => "OFPP_CONTROLLER",
            0xffff_fffe => "OFPP_LOCAL",
            0xffff_ffff => "OFPP_ANY",
            _ => return None,
        })
    }
}

impl From<u32> for PortNo {
    fn from(v: u32) -> Self {
        PortNo(v)
    }
}

impl core::fmt::Display for PortNo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.reserved_name() {
            Some(n) if self.0 != Self::MAX.0 => f.write_str(n),
            _ => write!(f, "{}", self.0),
        }
    }
}

/// `ofp_port_config` bits.
pub mod port_config {
    pub const PORT_DOWN: u32 = 1 << 0;
    pub const NO_RECV: u32 = 1 << 2;
    pub const NO_FWD: u32 = 1 << 5;
    pub const NO_PACKET_IN: u32 = 1 << 6;
}

/// `ofp_port_state` bits.
pub mod port_state {
    pub const LINK_DOWN: u32 = 1 << 0;
    pub const BLOCKED: u32 = 1 << 1;
    pub const LIVE: u32 = 1 << 2;
}

/// `ofp_port_features` bits.
pub mod port_features {
    pub const F_10MB_HD: u32 = 1 << 0;
    pub const F_10MB_FD: u32 = 1 << 1;
    pub const F_100MB_HD: u32 = 1 << 2;
    pub const F_100MB_FD: u32 = 1 << 3;
    pub const F_1GB_HD: u32 = 1 << 4;
    pub const F_1GB_FD: u32 = 1 << 5;
    pub const F_10GB_FD: u32 = 1 << 6;
    pub const F_40GB_FD: u32 = 1 << 7;
    pub const F_100GB_FD: u32 = 1 << 8;
    pub const F_1TB_FD: u32 = 1 << 9;
    pub const F_OTHER: u32 = 1 << 10;
    pub const COPPER: u32 = 1 << 11;
    pub const FIBER: u32 = 1 << 12;
    pub const AUTONEG: u32 = 1 << 13;
    pub const PAUSE: u32 = 1 << 14;
    pub const PAUSE_ASYM: u32 = 1 << 15;
}

/// Width of `ofp_port.name`.
pub const OFP_MAX_PORT_NAME_LEN: usize = 16;
/// Size of `ofp_port`.
pub const OFP_PORT_LEN: usize = 64;

/// `ofp_port`: a port description (features reply port list, port-status, port-desc).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Port {
    pub port_no: PortNo,
    pub hw_addr: [u8; 6],
    pub name: FixedStr,
    /// `ofp_port_config` bits.
    pub config: u32,
    /// `ofp_port_state` bits.
    pub state: u32,
    /// Current features (`ofp_port_features`).
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// Current bit rate in kbps.
    pub curr_speed: u32,
    /// Maximum bit rate in kbps.
    pub max_speed: u32,
}

impl Port {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let port_no = PortNo(r.u32()?);
        r.skip(4)?;
        let hw_addr = r.array()?;
        r.skip(2)?;
        Ok(Port {
            port_no,
            hw_addr,
            name: FixedStr::read(r, OFP_MAX_PORT_NAME_LEN)?,
            config: r.u32()?,
            state: r.u32()?,
            curr: r.u32()?,
            advertised: r.u32()?,
            supported: r.u32()?,
            peer: r.u32()?,
            curr_speed: r.u32()?,
            max_speed: r.u32()?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no.0);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        self.name.write(out, OFP_MAX_PORT_NAME_LEN);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            out.put_u32(v);
        }
    }
}

/// `ofp_port_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortReason {
    Add,
    Delete,
    Modify,
    Other(u8),
}

impl PortReason {
    pub const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Add,
            1 => Self::Delete,
            2 => Self::Modify,
            v => Self::Other(v),
        }
    }
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Add => 0,
            Self::Delete => 1,
            Self::Modify => 2,
            Self::Other(v) => v,
        }
    }
}

/// `OFPT_PORT_STATUS` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortStatus {
    pub reason: PortReason,
    pub desc: Port,
}

impl PortStatus {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let reason = PortReason::from_u8(r.u8()?);
        r.skip(7)?;
        let desc = Port::decode(r)?;
        Ok(PortStatus { reason, desc })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.reason.to_u8());
        out.put_zeros(7);
        self.desc.encode(out);
    }
}

/// `OFPT_PORT_MOD` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortMod {
    pub port_no: PortNo,
    /// Must match the port's address; not configurable.
    pub hw_addr: [u8; 6],
    /// `ofp_port_config` bits to set.
    pub config: u32,
    /// Which `config` bits to change.
    pub mask: u32,
    /// `ofp_port_features` to advertise; zero leaves them unchanged.
    pub advertise: u32,
}

impl PortMod {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let port_no = PortNo(r.u32()?);
        r.skip(4)?;
        let hw_addr = r.array()?;
        r.skip(2)?;
        let config = r.u32()?;
        let mask = r.u32()?;
        let advertise = r.u32()?;
        r.skip(4)?;
        Ok(PortMod {
            port_no,
            hw_addr,
            config,
            mask,
            advertise,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no.0);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        out.put_u32(self.config);
        out.put_u32(self.mask);
        out.put_u32(self.advertise);
        out.put_zeros(4);
    }
}
