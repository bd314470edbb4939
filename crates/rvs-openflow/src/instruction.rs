//! OpenFlow 1.3 instructions (`ofp_instruction_*`).

use crate::action::{actions_len, decode_actions, encode_actions, Action};
use crate::buf::{decode_feature_id, encode_feature_id, pad8, Put, Reader};
use crate::error::{BadInstructionCode, OfError};

/// `ofp_instruction_type` values.
pub mod instruction_type {
    pub const GOTO_TABLE: u16 = 1;
    pub const WRITE_METADATA: u16 = 2;
    pub const WRITE_ACTIONS: u16 = 3;
    pub const APPLY_ACTIONS: u16 = 4;
    pub const CLEAR_ACTIONS: u16 = 5;
    pub const METER: u16 = 6;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `OFPTT_MAX`: the last usable table id.
pub const OFPTT_MAX: u8 = 0xfe;
/// `OFPTT_ALL`: wildcard table id (deletes, stats requests, table-mod).
pub const OFPTT_ALL: u8 = 0xff;

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Instruction {
    GotoTable(u8),
    WriteMetadata {
        metadata: u64,
        mask: u64,
    },
    /// Merge these actions into the action set.
    WriteActions(Vec<Action>),
    /// Apply these actions immediately.
    ApplyActions(Vec<Action>),
    ClearActions,
    Meter(u32),
    /// An experimenter instruction, kept opaque (`data.len() % 8 == 0`).
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

fn bad_len() -> OfError {
    OfError::new(BadInstructionCode::BadLen, "instruction length")
}

impl Instruction {
    pub fn instruction_type(&self) -> u16 {
        use instruction_type as t;
        match self {
            Instruction::GotoTable(_) => t::GOTO_TABLE,
            Instruction::WriteMetadata { .. } => t::WRITE_METADATA,
            Instruction::WriteActions(_) => t::WRITE_ACTIONS,
            Instruction::ApplyActions(_) => t::APPLY_ACTIONS,
            Instruction::ClearActions => t::CLEAR_ACTIONS,
            Instruction::Meter(_) => t::METER,
            Instruction::Experimenter { .. } => t::EXPERIMENTER,
        }
    }

    pub fn wire_len(&self) -> usize {
        match self {
            Instruction::WriteMetadata { .. } => 24,
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => 8 + actions_len(a),
            Instruction::Experimenter { data, .. } => pad8(8 + data.len()),
            _ => 8,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(self.instruction_type());
        out.put_u16(0);
        match self {
            Instruction::GotoTable(t) => {
                out.put_u8(*t);
                out.put_zeros(3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                out.put_zeros(4);
                out.put_u64(*metadata);
                out.put_u64(*mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                out.put_zeros(4);
                encode_actions(a, out);
            }
            Instruction::ClearActions => out.put_zeros(4),
            Instruction::Meter(m) => out.put_u32(*m),
            Instruction::Experimenter { experimenter, data } => {
                out.put_u32(*experimenter);
                out.extend_from_slice(data);
                out.pad8_from(start);
            }
        }
        let len = out.len() - start;
        out.patch_u16(start + 2, len);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let itype = r.peek_u16_at(0).map_err(|_| bad_len())?;
        let len = usize::from(r.peek_u16_at(2).map_err(|_| bad_len())?);
        if len < 8 || len % 8 != 0 {
            return Err(bad_len());
        }
        let body = r.bytes(len).map_err(|_| bad_len())?;
        let mut b = Reader::new(body, bad_len());
        b.skip(4)?;
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(bad_len())
            }
        };
        use instruction_type as t;
        Ok(match itype {
            t::GOTO_TABLE => {
                fixed(8)?;
                let table = b.u8()?;
                if table > OFPTT_MAX {
                    return Err(OfError::new(
                        BadInstructionCode::BadTableId,
                        "goto_table beyond OFPTT_MAX",
                    ));
                }
                Instruction::GotoTable(table)
            }
            t::WRITE_METADATA => {
                fixed(24)?;
                b.skip(4)?;
                Instruction::WriteMetadata {
                    metadata: b.u64()?,
                    mask: b.u64()?,
                }
            }
            t::WRITE_ACTIONS | t::APPLY_ACTIONS => {
                b.skip(4)?;
                let actions = decode_actions(b.rest())?;
                if itype == t::WRITE_ACTIONS {
                    Instruction::WriteActions(actions)
                } else {
                    Instruction::ApplyActions(actions)
                }
            }
            t::CLEAR_ACTIONS => {
                fixed(8)?;
                Instruction::ClearActions
            }
            t::METER => {
                fixed(8)?;
                Instruction::Meter(b.u32()?)
            }
            t::EXPERIMENTER => Instruction::Experimenter {
                experimenter: b.u32()?,
                data: b.rest().to_vec(),
            },
            _ => {
                return Err(OfError::new(
                    BadInstructionCode::UnknownInst,
                    "unknown instruction type",
                ))
            }
        })
    }
}

/// Appends a list of instructions.
pub fn encode_instructions(insts: &[Instruction], out: &mut Vec<u8>) {
    for i in insts {
        i.encode(out);
    }
}

/// Decodes an instruction set: until `buf` is exhausted, refusing a repeated type.
///
/// The spec allows at most one instruction of each type but names no error code for a
/// repeat; we answer `OFPBIC_UNSUP_INST` (the combination is not supported).
pub fn decode_instructions(buf: &[u8]) -> Result<Vec<Instruction>, OfError> {
    let mut r = Reader::new(buf, bad_len());
    let mut out: Vec<Instruction> = Vec::new();
    while !r.is_empty() {
        let i = Instruction::decode(&mut r)?;
        if out
            .iter()
            .any(|o| o.instruction_type() == i.instruction_type())
        {
            return Err(OfError::new(
                BadInstructionCode::UnsupInst,
                "instruction type repeated",
            ));
        }
        out.push(i);
    }
    Ok(out)
}

/// An entry of a table-features instruction list (`OFPTFPT_INSTRUCTIONS*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstructionId {
    pub instruction_type: u16,
    /// Present exactly when `instruction_type == OFPIT_EXPERIMENTER`.
    pub experimenter: Option<u32>,
}

impl InstructionId {
    pub const fn new(instruction_type: u16) -> Self {
        InstructionId {
            instruction_type,
            experimenter: None,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let (instruction_type, experimenter) =
            decode_feature_id(r, instruction_type::EXPERIMENTER)?;
        Ok(InstructionId {
            instruction_type,
            experimenter,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        encode_feature_id(out, self.instruction_type, self.experimenter);
    }
}
