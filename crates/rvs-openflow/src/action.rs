//! OpenFlow 1.3 actions (`ofp_action_*`).
//!
//! Every action is a TLV `type(16) | len(16) | body`, with `len` a multiple of 8.

use crate::buf::{decode_feature_id, encode_feature_id, pad8, Put, Reader};
use crate::error::{BadActionCode, OfError};
use crate::group::OFPG_MAX;
use crate::oxm::{OxmContext, OxmField};
use crate::port::PortNo;

/// `ofp_action_type` values.
pub mod action_type {
    pub const OUTPUT: u16 = 0;
    pub const COPY_TTL_OUT: u16 = 11;
    pub const COPY_TTL_IN: u16 = 12;
    pub const SET_MPLS_TTL: u16 = 15;
    pub const DEC_MPLS_TTL: u16 = 16;
    pub const PUSH_VLAN: u16 = 17;
    pub const POP_VLAN: u16 = 18;
    pub const PUSH_MPLS: u16 = 19;
    pub const POP_MPLS: u16 = 20;
    pub const SET_QUEUE: u16 = 21;
    pub const GROUP: u16 = 22;
    pub const SET_NW_TTL: u16 = 23;
    pub const DEC_NW_TTL: u16 = 24;
    pub const SET_FIELD: u16 = 25;
    pub const PUSH_PBB: u16 = 26;
    pub const POP_PBB: u16 = 27;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `OFPCML_MAX`: largest `max_len` that asks for buffering.
pub const OFPCML_MAX: u16 = 0xffe5;
/// `OFPCML_NO_BUFFER`: send the whole packet to the controller, unbuffered.
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// One action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Output to a port; `max_len` bytes go to the controller when the port is
    /// `CONTROLLER`.
    Output {
        port: PortNo,
        max_len: u16,
    },
    CopyTtlOut,
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    /// Push a VLAN tag with this TPID (0x8100 or 0x88a8).
    PushVlan(u16),
    PopVlan,
    /// Push an MPLS shim with this ethertype (0x8847 or 0x8848).
    PushMpls(u16),
    /// Pop the MPLS shim; the ethertype of the payload.
    PopMpls(u16),
    SetQueue(u32),
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    /// Set a header field (the OXM carries no mask).
    SetField(OxmField),
    /// Push a PBB service tag with this ethertype (0x88e7).
    PushPbb(u16),
    PopPbb,
    /// An experimenter action, kept opaque: `data` follows the experimenter id and
    /// must keep the action a multiple of 8 bytes long (`data.len() % 8 == 0`).
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

fn bad_len() -> OfError {
    OfError::new(BadActionCode::BadLen, "action length")
}

impl Action {
    /// The `ofp_action_type`.
    pub fn action_type(&self) -> u16 {
        use action_type as t;
        match self {
            Action::Output { .. } => t::OUTPUT,
            Action::CopyTtlOut => t::COPY_TTL_OUT,
            Action::CopyTtlIn => t::COPY_TTL_IN,
            Action::SetMplsTtl(_) => t::SET_MPLS_TTL,
            Action::DecMplsTtl => t::DEC_MPLS_TTL,
            Action::PushVlan(_) => t::PUSH_VLAN,
            Action::PopVlan => t::POP_VLAN,
            Action::PushMpls(_) => t::PUSH_MPLS,
            Action::PopMpls(_) => t::POP_MPLS,
            Action::SetQueue(_) => t::SET_QUEUE,
            Action::Group(_) => t::GROUP,
            Action::SetNwTtl(_) => t::SET_NW_TTL,
            Action::DecNwTtl => t::DEC_NW_TTL,
            Action::SetField(_) => t::SET_FIELD,
            Action::PushPbb(_) => t::PUSH_PBB,
            Action::PopPbb => t::POP_PBB,
            Action::Experimenter { .. } => t::EXPERIMENTER,
        }
    }

    /// Output to `port` with `max_len = OFPCML_NO_BUFFER` for the controller.
    pub const fn output(port: PortNo) -> Self {
        let max_len = if port.0 == PortNo::CONTROLLER.0 {
            OFPCML_NO_BUFFER
        } else {
            0
        };
        Action::Output { port, max_len }
    }

    /// Appends the action.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(self.action_type());
        out.put_u16(0);
        match self {
            Action::Output { port, max_len } => {
                out.put_u32(port.0);
                out.put_u16(*max_len);
                out.put_zeros(6);
            }
            Action::CopyTtlOut
            | Action::CopyTtlIn
            | Action::DecMplsTtl
            | Action::PopVlan
            | Action::DecNwTtl
            | Action::PopPbb => out.put_zeros(4),
            Action::SetMplsTtl(ttl) | Action::SetNwTtl(ttl) => {
                out.put_u8(*ttl);
                out.put_zeros(3);
            }
            Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) | Action::PushPbb(e) => {
                out.put_u16(*e);
                out.put_zeros(2);
            }
            Action::SetQueue(v) | Action::Group(v) => out.put_u32(*v),
            Action::SetField(f) => {
                f.encode(out);
                out.pad8_from(start);
            }
            Action::Experimenter { experimenter, data } => {
                out.put_u32(*experimenter);
                out.extend_from_slice(data);
                out.pad8_from(start);
            }
        }
        let len = out.len() - start;
        out.patch_u16(start + 2, len);
    }

    /// Encoded length.
    pub fn wire_len(&self) -> usize {
        match self {
            Action::Output { .. } => 16,
            Action::SetField(f) => pad8(4 + f.wire_len()),
            Action::Experimenter { data, .. } => pad8(8 + data.len()),
            _ => 8,
        }
    }

    /// Decodes one action.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let atype = r.peek_u16_at(0).map_err(|_| bad_len())?;
        let len = usize::from(r.peek_u16_at(2).map_err(|_| bad_len())?);
        if len < 8 || len % 8 != 0 {
            return Err(bad_len());
        }
        let body = r.bytes(len).map_err(|_| bad_len())?;
        let mut b = Reader::new(body, bad_len());
        b.skip(4)?;
        use action_type as t;
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(bad_len())
            }
        };
        let action = match atype {
            t::OUTPUT => {
                fixed(16)?;
                let port = PortNo(b.u32()?);
                let max_len = b.u16()?;
                if !port.is_valid_output() {
                    return Err(OfError::new(
                        BadActionCode::BadOutPort,
                        "invalid output port",
                    ));
                }
                Action::Output { port, max_len }
            }
            t::COPY_TTL_OUT => fixed(8).map(|_| Action::CopyTtlOut)?,
            t::COPY_TTL_IN => fixed(8).map(|_| Action::CopyTtlIn)?,
            t::DEC_MPLS_TTL => fixed(8).map(|_| Action::DecMplsTtl)?,
            t::POP_VLAN => fixed(8).map(|_| Action::PopVlan)?,
            t::DEC_NW_TTL => fixed(8).map(|_| Action::DecNwTtl)?,
            t::POP_PBB => fixed(8).map(|_| Action::PopPbb)?,
            t::SET_MPLS_TTL => {
                fixed(8)?;
                Action::SetMplsTtl(b.u8()?)
            }
            t::SET_NW_TTL => {
                fixed(8)?;
                Action::SetNwTtl(b.u8()?)
            }
            t::PUSH_VLAN => {
                fixed(8)?;
                let e = b.u16()?;
                if e != 0x8100 && e != 0x88a8 {
                    return Err(OfError::new(
                        BadActionCode::BadArgument,
                        "push_vlan ethertype",
                    ));
                }
                Action::PushVlan(e)
            }
            t::PUSH_MPLS => {
                fixed(8)?;
                let e = b.u16()?;
                if e != 0x8847 && e != 0x8848 {
                    return Err(OfError::new(
                        BadActionCode::BadArgument,
                        "push_mpls ethertype",
                    ));
                }
                Action::PushMpls(e)
            }
            t::PUSH_PBB => {
                fixed(8)?;
                let e = b.u16()?;
                if e != 0x88e7 {
                    return Err(OfError::new(
                        BadActionCode::BadArgument,
                        "push_pbb ethertype",
                    ));
                }
                Action::PushPbb(e)
            }
            t::POP_MPLS => {
                fixed(8)?;
                Action::PopMpls(b.u16()?)
            }
            t::SET_QUEUE => {
                fixed(8)?;
                Action::SetQueue(b.u32()?)
            }
            t::GROUP => {
                fixed(8)?;
                let g = b.u32()?;
                if g > OFPG_MAX {
                    return Err(OfError::new(
                        BadActionCode::BadOutGroup,
                        "group id > OFPG_MAX",
                    ));
                }
                Action::Group(g)
            }
            t::SET_FIELD => {
                let bad_set_len = OfError::new(BadActionCode::BadSetLen, "set-field length");
                let mut fr = Reader::new(b.rest(), bad_set_len);
                let f = OxmField::decode(&mut fr, OxmContext::SetField)?;
                // The OXM plus the minimum padding must make up the action exactly.
                if pad8(4 + f.wire_len()) != len {
                    return Err(bad_set_len);
                }
                Action::SetField(f)
            }
            t::EXPERIMENTER => Action::Experimenter {
                experimenter: b.u32()?,
                data: b.rest().to_vec(),
            },
            _ => return Err(OfError::new(BadActionCode::BadType, "unknown action type")),
        };
        Ok(action)
    }
}

/// Appends a list of actions.
pub fn encode_actions(actions: &[Action], out: &mut Vec<u8>) {
    for a in actions {
        a.encode(out);
    }
}

/// Total encoded length of a list of actions.
pub fn actions_len(actions: &[Action]) -> usize {
    actions.iter().map(Action::wire_len).sum()
}

/// Decodes a list of actions filling all of `buf` (as in an apply-actions
/// instruction, a bucket or a packet-out).
pub fn decode_actions(buf: &[u8]) -> Result<Vec<Action>, OfError> {
    let mut r = Reader::new(buf, bad_len());
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(Action::decode(&mut r)?);
    }
    Ok(out)
}

/// An entry of a table-features action list (`OFPTFPT_*_ACTIONS*`): the action type,
/// plus the experimenter id for experimenter actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionId {
    pub action_type: u16,
    /// Present exactly when `action_type == OFPAT_EXPERIMENTER`.
    pub experimenter: Option<u32>,
}

impl ActionId {
    pub const fn new(action_type: u16) -> Self {
        ActionId {
            action_type,
            experimenter: None,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let (action_type, experimenter) = decode_feature_id(r, action_type::EXPERIMENTER)?;
        Ok(ActionId {
            action_type,
            experimenter,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        encode_feature_id(out, self.action_type, self.experimenter);
    }
}
