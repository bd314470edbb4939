//! Meters: `OFPT_METER_MOD`, bands, and the meter multipart bodies
//! (`OFPMP_METER`, `OFPMP_METER_CONFIG`, `OFPMP_METER_FEATURES`).

use crate::buf::{Put, Reader};
use crate::error::{MeterModFailedCode, OfError};

/// `OFPM_MAX`: last usable meter number.
pub const OFPM_MAX: u32 = 0xffff_0000;
/// `OFPM_SLOWPATH`: meter for slow datapath traffic.
pub const OFPM_SLOWPATH: u32 = 0xffff_fffd;
/// `OFPM_CONTROLLER`: meter for controller-bound traffic.
pub const OFPM_CONTROLLER: u32 = 0xffff_fffe;
/// `OFPM_ALL`: all meters (stats requests, delete).
pub const OFPM_ALL: u32 = 0xffff_ffff;

/// `ofp_meter_flags` bits.
pub mod meter_flags {
    pub const KBPS: u16 = 1 << 0;
    pub const PKTPS: u16 = 1 << 1;
    pub const BURST: u16 = 1 << 2;
    pub const STATS: u16 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u16 = KBPS | PKTPS | BURST | STATS;
}

/// `ofp_meter_band_type` values.
pub mod band_type {
    pub const DROP: u16 = 1;
    pub const DSCP_REMARK: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `ofp_meter_mod_command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeterModCommand {
    Add = 0,
    Modify = 1,
    Delete = 2,
}

impl MeterModCommand {
    pub const fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            0 => Self::Add,
            1 => Self::Modify,
            2 => Self::Delete,
            _ => return None,
        })
    }
}

/// A meter band (`ofp_meter_band_*`). Rates are in kb/s or packets/s per the meter's
/// flags; bursts in kb or packets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MeterBand {
    Drop {
        rate: u32,
        burst_size: u32,
    },
    DscpRemark {
        rate: u32,
        burst_size: u32,
        /// Number of drop-precedence levels to add.
        prec_level: u8,
    },
    /// Experimenter band, kept opaque: `data` follows the experimenter id and is
    /// zero-padded to a multiple of 8 bytes on the wire.
    Experimenter {
        rate: u32,
        burst_size: u32,
        experimenter: u32,
        data: Vec<u8>,
    },
}

impl MeterBand {
    pub fn band_type(&self) -> u16 {
        match self {
            MeterBand::Drop { .. } => band_type::DROP,
            MeterBand::DscpRemark { .. } => band_type::DSCP_REMARK,
            MeterBand::Experimenter { .. } => band_type::EXPERIMENTER,
        }
    }

    pub fn rate(&self) -> u32 {
        match self {
            MeterBand::Drop { rate, .. }
            | MeterBand::DscpRemark { rate, .. }
            | MeterBand::Experimenter { rate, .. } => *rate,
        }
    }

    pub fn burst_size(&self) -> u32 {
        match self {
            MeterBand::Drop { burst_size, .. }
            | MeterBand::DscpRemark { burst_size, .. }
            | MeterBand::Experimenter { burst_size, .. } => *burst_size,
        }
    }

    pub fn wire_len(&self) -> usize {
        match self {
            MeterBand::Experimenter { data, .. } => crate::buf::pad8(16 + data.len()),
            _ => 16,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(self.band_type());
        out.put_u16(0);
        out.put_u32(self.rate());
        out.put_u32(self.burst_size());
        match self {
            MeterBand::Drop { .. } => out.put_zeros(4),
            MeterBand::DscpRemark { prec_level, .. } => {
                out.put_u8(*prec_level);
                out.put_zeros(3);
            }
            MeterBand::Experimenter {
                experimenter, data, ..
            } => {
                out.put_u32(*experimenter);
                out.extend_from_slice(data);
                out.pad8_from(start);
            }
        }
        let len = out.len() - start;
        out.patch_u16(start + 2, len);
    }

    /// Decodes one band; structural defects are `OFPMMFC_BAD_BAND`.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let bad = OfError::new(MeterModFailedCode::BadBand, "meter band");
        let btype = r.peek_u16_at(0).map_err(|_| bad)?;
        let len = usize::from(r.peek_u16_at(2).map_err(|_| bad)?);
        if len < 16 || len % 8 != 0 {
            return Err(bad);
        }
        let mut b = Reader::new(r.bytes(len).map_err(|_| bad)?, bad);
        b.skip(4)?;
        let rate = b.u32()?;
        let burst_size = b.u32()?;
        let fixed = || if len == 16 { Ok(()) } else { Err(bad) };
        Ok(match btype {
            band_type::DROP => {
                fixed()?;
                MeterBand::Drop { rate, burst_size }
            }
            band_type::DSCP_REMARK => {
                fixed()?;
                MeterBand::DscpRemark {
                    rate,
                    burst_size,
                    prec_level: b.u8()?,
                }
            }
            band_type::EXPERIMENTER => MeterBand::Experimenter {
                rate,
                burst_size,
                experimenter: b.u32()?,
                data: b.rest().to_vec(),
            },
            _ => return Err(bad),
        })
    }
}

fn decode_bands(buf: &[u8]) -> Result<Vec<MeterBand>, OfError> {
    let mut r = Reader::new(buf, OfError::new(MeterModFailedCode::BadBand, "meter band"));
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(MeterBand::decode(&mut r)?);
    }
    Ok(out)
}

/// `OFPT_METER_MOD` body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MeterMod {
    pub command: MeterModCommand,
    /// `ofp_meter_flags` bits.
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let command = r.u16()?;
        let flags = r.u16()?;
        let meter_id = r.u32()?;
        let command = MeterModCommand::from_u16(command).ok_or(OfError::new(
            MeterModFailedCode::BadCommand,
            "meter command",
        ))?;
        if flags & !meter_flags::ALL != 0 {
            return Err(OfError::new(MeterModFailedCode::BadFlags, "meter flags"));
        }
        let id_ok = match command {
            MeterModCommand::Delete => {
                (meter_id != 0 && meter_id <= OFPM_MAX)
                    || meter_id == OFPM_SLOWPATH
                    || meter_id == OFPM_CONTROLLER
                    || meter_id == OFPM_ALL
            }
            _ => {
                (meter_id != 0 && meter_id <= OFPM_MAX)
                    || meter_id == OFPM_SLOWPATH
                    || meter_id == OFPM_CONTROLLER
            }
        };
        if !id_ok {
            return Err(OfError::new(MeterModFailedCode::InvalidMeter, "meter id"));
        }
        Ok(MeterMod {
            command,
            flags,
            meter_id,
            bands: decode_bands(r.rest())?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command as u16);
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        for b in &self.bands {
            b.encode(out);
        }
    }
}

/// `ofp_meter_band_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MeterBandStats {
    pub packet_band_count: u64,
    pub byte_band_count: u64,
}

/// `ofp_meter_stats` (one entry of an `OFPMP_METER` reply).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub band_stats: Vec<MeterBandStats>,
}

impl MeterStats {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u32(self.meter_id);
        out.put_u16(0);
        out.put_zeros(6);
        out.put_u32(self.flow_count);
        out.put_u64(self.packet_in_count);
        out.put_u64(self.byte_in_count);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        for b in &self.band_stats {
            out.put_u64(b.packet_band_count);
            out.put_u64(b.byte_band_count);
        }
        let len = out.len() - start;
        out.patch_u16(start + 4, len);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let len = usize::from(r.peek_u16_at(4)?);
        if len < 40 || (len - 40) % 16 != 0 {
            return Err(r.err());
        }
        let mut b = Reader::new(r.bytes(len)?, r.err());
        let meter_id = b.u32()?;
        b.skip(8)?;
        let flow_count = b.u32()?;
        let packet_in_count = b.u64()?;
        let byte_in_count = b.u64()?;
        let duration_sec = b.u32()?;
        let duration_nsec = b.u32()?;
        let mut band_stats = Vec::new();
        while !b.is_empty() {
            band_stats.push(MeterBandStats {
                packet_band_count: b.u64()?,
                byte_band_count: b.u64()?,
            });
        }
        Ok(MeterStats {
            meter_id,
            flow_count,
            packet_in_count,
            byte_in_count,
            duration_sec,
            duration_nsec,
            band_stats,
        })
    }
}

/// `ofp_meter_config` (one entry of an `OFPMP_METER_CONFIG` reply).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MeterConfig {
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterConfig {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        for b in &self.bands {
            b.encode(out);
        }
        let len = out.len() - start;
        out.patch_u16(start, len);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let len = usize::from(r.peek_u16_at(0)?);
        if len < 8 {
            return Err(r.err());
        }
        let mut b = Reader::new(r.bytes(len)?, r.err());
        b.skip(2)?;
        let flags = b.u16()?;
        let meter_id = b.u32()?;
        Ok(MeterConfig {
            flags,
            meter_id,
            bands: decode_bands(b.rest())?,
        })
    }
}

/// `ofp_meter_features` (`OFPMP_METER_FEATURES` reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MeterFeatures {
    pub max_meter: u32,
    /// Bitmap of supported band types (bit `1 << type`).
    pub band_types: u32,
    /// Bitmap of supported `ofp_meter_flags`.
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}

impl MeterFeatures {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.max_meter);
        out.put_u32(self.band_types);
        out.put_u32(self.capabilities);
        out.put_u8(self.max_bands);
        out.put_u8(self.max_color);
        out.put_zeros(2);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, OfError> {
        let f = MeterFeatures {
            max_meter: r.u32()?,
            band_types: r.u32()?,
            capabilities: r.u32()?,
            max_bands: r.u8()?,
            max_color: r.u8()?,
        };
        r.skip(2)?;
        Ok(f)
    }
}
