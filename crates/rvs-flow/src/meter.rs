//! OpenFlow 1.3 meters: the meter table, meter-mod checks and lock-free token buckets.
//!
//! # Design
//!
//! As with groups ([`crate::group`]), the control thread owns a [`MeterTable`] and
//! datapath threads read clones; each [`Meter`] is behind an `Arc`, so clones share
//! each meter's buckets and counters. A modify installs a new `Meter` (fresh, full
//! buckets) that keeps the meter's packet/byte counters and age.
//!
//! # Token buckets
//!
//! Each band has a token bucket filled at the band's rate and holding at most its
//! burst: `burst_size` with `OFPMF_BURST`, else 100 ms at the rate but at least one
//! 1500-byte packet (kb/s) or one packet (packets/s). Tokens are integers in units
//! that make the refill one multiplication: 10⁻⁶ bit for kb/s meters (`elapsed_ns ×
//! rate_kbps`), 10⁻⁹ packet for packets/s meters. [`Meter::admit`] refills each bucket
//! for the time since its last refill — the thread that moves the bucket's timestamp
//! forward with a compare-and-swap adds the tokens for that interval, so concurrent
//! threads never add the same interval twice — then takes the packet's cost from every
//! bucket that holds it. A packet exceeds the bands whose bucket does not hold it, and
//! the exceeded band with the highest rate decides (OpenFlow 1.3 section 5.7): drop, or
//! DSCP remark by `prec_level`. Time is the caller's monotonic nanoseconds; a clock
//! that goes backwards adds nothing.
//!
//! # Checks
//!
//! Meter-mods fail with `METER_EXISTS`, `UNKNOWN_METER` (modify of a missing meter),
//! `INVALID_METER` (id 0 or above `OFPM_MAX`, except the slow-path and controller
//! meters), `BAD_FLAGS` (undefined bits, or both `KBPS` and `PKTPS`), `BAD_RATE` (rate
//! 0), `BAD_BURST` (`OFPMF_BURST` with burst 0), `BAD_BAND` (experimenter bands),
//! `BAD_BAND_VALUE` (a DSCP remark of 0 levels), `OUT_OF_BANDS` and `OUT_OF_METERS`
//! (the limits in [`MeterTable::features`]). A meter without `KBPS` or `PKTPS` is
//! kb/s. Counters are kept whether or not `OFPMF_STATS` is set (they cost one atomic
//! add each).

use rvs_openflow::error::MeterModFailedCode;
use rvs_openflow::meter::{
    band_type, meter_flags, MeterBand, MeterBandStats, MeterConfig, MeterFeatures, MeterMod,
    MeterModCommand, MeterStats, OFPM_ALL, OFPM_CONTROLLER, OFPM_MAX, OFPM_SLOWPATH,
};
use rvs_openflow::OfError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Most meters a table holds.
pub const MAX_METERS: u32 = 65_536;
/// Most bands in one meter.
pub const MAX_BANDS: u8 = 16;

/// Token units per kilobit (kb/s meters count 10⁻⁶ bit).
const UNITS_PER_KBIT: u64 = 1_000_000_000;
/// Token units per bit.
const UNITS_PER_BIT: u64 = 1_000_000;
/// Token units per packet (packets/s meters count 10⁻⁹ packet).
const UNITS_PER_PACKET: u64 = 1_000_000_000;
/// Default burst: this fraction of a second at the rate (1/10 s).
const DEFAULT_BURST_DIVISOR: u64 = 10;
/// Smallest default burst of a kb/s meter: one 1500-byte packet.
const MIN_DEFAULT_BURST_BITS: u64 = 1500 * 8;

/// What a meter says about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterVerdict {
    /// Within every band.
    Pass,
    /// Exceeded a drop band.
    Drop,
    /// Exceeded a DSCP remark band: raise the drop precedence by `prec_level`
    /// ([`crate::modify::dscp_remark`]).
    Remark { prec_level: u8 },
}

/// One band's token bucket and counters.
#[derive(Debug)]
struct BandState {
    /// Tokens added per nanosecond.
    rate: u64,
    capacity: u64,
    tokens: AtomicU64,
    last_ns: AtomicU64,
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl BandState {
    fn refill(&self, now_ns: u64) {
        let last = self.last_ns.load(Ordering::Acquire);
        if now_ns <= last {
            return;
        }
        if self
            .last_ns
            .compare_exchange(last, now_ns, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            let add = (now_ns - last).saturating_mul(self.rate);
            let cap = self.capacity;
            let _ = self
                .tokens
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    Some(t.saturating_add(add).min(cap))
                });
        }
    }

    /// Takes `cost` tokens if the bucket holds them.
    fn take(&self, cost: u64) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }
}

/// Counters that survive a modify.
#[derive(Debug)]
struct MeterCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    created_ns: u64,
}

/// One meter as installed.
#[derive(Debug)]
pub struct Meter {
    pub id: u32,
    /// `ofp_meter_flags` as configured.
    pub flags: u16,
    pub bands: Vec<MeterBand>,
    state: Vec<BandState>,
    counters: Arc<MeterCounters>,
}

impl Meter {
    fn new(mm: &MeterMod, now_ns: u64, counters: Arc<MeterCounters>) -> Self {
        let pktps = mm.flags & meter_flags::PKTPS != 0;
        let burst = mm.flags & meter_flags::BURST != 0;
        let state = mm
            .bands
            .iter()
            .map(|b| {
                let rate = u64::from(b.rate());
                let (per_sec, min_default) = if pktps {
                    (rate * UNITS_PER_PACKET, UNITS_PER_PACKET)
                } else {
                    (
                        rate * UNITS_PER_KBIT,
                        MIN_DEFAULT_BURST_BITS * UNITS_PER_BIT,
                    )
                };
                let capacity = if burst {
                    u64::from(b.burst_size()).saturating_mul(UNITS_PER_KBIT)
                } else {
                    (per_sec / DEFAULT_BURST_DIVISOR).max(min_default)
                };
                BandState {
                    // Units per second / 1e9 = units per nanosecond: exactly `rate`.
                    rate,
                    capacity,
                    tokens: AtomicU64::new(capacity),
                    last_ns: AtomicU64::new(now_ns),
                    packets: AtomicU64::new(0),
                    bytes: AtomicU64::new(0),
                }
            })
            .collect();
        Meter {
            id: mm.meter_id,
            flags: mm.flags,
            bands: mm.bands.clone(),
            state,
            counters,
        }
    }

    /// Charges one packet of `bytes` at `now_ns` and says what the highest-rate
    /// exceeded band asks. Thread-safe and lock-free; counts the packet on the meter
    /// and on the band applied.
    pub fn admit(&self, now_ns: u64, bytes: u32) -> MeterVerdict {
        self.counters.packets.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes
            .fetch_add(u64::from(bytes), Ordering::Relaxed);
        let cost = if self.flags & meter_flags::PKTPS != 0 {
            UNITS_PER_PACKET
        } else {
            u64::from(bytes) * 8 * UNITS_PER_BIT
        };
        let mut worst: Option<usize> = None;
        for (i, s) in self.state.iter().enumerate() {
            s.refill(now_ns);
            if !s.take(cost) {
                let rate = |j: usize| self.bands.get(j).map_or(0, MeterBand::rate);
                if worst.is_none_or(|w| rate(i) > rate(w)) {
                    worst = Some(i);
                }
            }
        }
        let Some(w) = worst else {
            return MeterVerdict::Pass;
        };
        if let Some(s) = self.state.get(w) {
            s.packets.fetch_add(1, Ordering::Relaxed);
            s.bytes.fetch_add(u64::from(bytes), Ordering::Relaxed);
        }
        match self.bands.get(w) {
            Some(MeterBand::DscpRemark { prec_level, .. }) => MeterVerdict::Remark {
                prec_level: *prec_level,
            },
            Some(MeterBand::Drop { .. }) => MeterVerdict::Drop,
            // Refused at meter-mod; nothing to apply.
            Some(MeterBand::Experimenter { .. }) | None => MeterVerdict::Pass,
        }
    }

    fn config(&self) -> MeterConfig {
        MeterConfig {
            flags: self.flags,
            meter_id: self.id,
            bands: self.bands.clone(),
        }
    }

    fn stats(&self, flow_count: u32, now_ns: u64) -> MeterStats {
        let age = now_ns.saturating_sub(self.counters.created_ns);
        MeterStats {
            meter_id: self.id,
            flow_count,
            packet_in_count: self.counters.packets.load(Ordering::Relaxed),
            byte_in_count: self.counters.bytes.load(Ordering::Relaxed),
            duration_sec: (age / 1_000_000_000).min(u64::from(u32::MAX)) as u32,
            duration_nsec: (age % 1_000_000_000) as u32,
            band_stats: self
                .state
                .iter()
                .map(|s| MeterBandStats {
                    packet_band_count: s.packets.load(Ordering::Relaxed),
                    byte_band_count: s.bytes.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

/// The meter table of one bridge.
#[derive(Debug, Clone, Default)]
pub struct MeterTable {
    meters: BTreeMap<u32, Arc<Meter>>,
}

fn mm_err(code: MeterModFailedCode, detail: &'static str) -> OfError {
    OfError::new(code, detail)
}

fn id_ok(id: u32) -> bool {
    (id != 0 && id <= OFPM_MAX) || id == OFPM_SLOWPATH || id == OFPM_CONTROLLER
}

fn check(mm: &MeterMod) -> Result<(), OfError> {
    use MeterModFailedCode as C;
    let units = meter_flags::KBPS | meter_flags::PKTPS;
    if mm.flags & !meter_flags::ALL != 0 || mm.flags & units == units {
        return Err(mm_err(C::BadFlags, "meter flags"));
    }
    if mm.bands.len() > usize::from(MAX_BANDS) {
        return Err(mm_err(C::OutOfBands, "too many bands"));
    }
    for b in &mm.bands {
        match b {
            MeterBand::Experimenter { .. } => {
                return Err(mm_err(C::BadBand, "experimenter bands are not supported"))
            }
            MeterBand::DscpRemark { prec_level: 0, .. } => {
                return Err(mm_err(C::BadBandValue, "DSCP remark of no level"))
            }
            _ => {}
        }
        if b.rate() == 0 {
            return Err(mm_err(C::BadRate, "band rate 0"));
        }
        if mm.flags & meter_flags::BURST != 0 && b.burst_size() == 0 {
            return Err(mm_err(C::BadBurst, "burst flag with burst size 0"));
        }
    }
    Ok(())
}

impl MeterTable {
    pub fn new() -> Self {
        MeterTable::default()
    }

    /// Applies a meter-mod at `now_ns` (see the module documentation for the checks).
    /// Delete of `OFPM_ALL` removes every meter; delete of a missing meter is not an
    /// error.
    pub fn apply(&mut self, mm: &MeterMod, now_ns: u64) -> Result<(), OfError> {
        use MeterModFailedCode as C;
        match mm.command {
            MeterModCommand::Delete => {
                if mm.meter_id == OFPM_ALL {
                    self.meters.clear();
                } else if id_ok(mm.meter_id) {
                    self.meters.remove(&mm.meter_id);
                } else {
                    return Err(mm_err(C::InvalidMeter, "meter id"));
                }
                Ok(())
            }
            MeterModCommand::Add | MeterModCommand::Modify => {
                if !id_ok(mm.meter_id) {
                    return Err(mm_err(C::InvalidMeter, "meter id"));
                }
                let old = self.meters.get(&mm.meter_id);
                match (mm.command, old) {
                    (MeterModCommand::Add, Some(_)) => {
                        return Err(mm_err(C::MeterExists, "meter already exists"))
                    }
                    (MeterModCommand::Modify, None) => {
                        return Err(mm_err(C::UnknownMeter, "no such meter"))
                    }
                    (MeterModCommand::Add, None) if self.meters.len() >= MAX_METERS as usize => {
                        return Err(mm_err(C::OutOfMeters, "meter table full"))
                    }
                    _ => {}
                }
                check(mm)?;
                let counters = match old {
                    Some(m) => m.counters.clone(),
                    None => Arc::new(MeterCounters {
                        packets: AtomicU64::new(0),
                        bytes: AtomicU64::new(0),
                        created_ns: now_ns,
                    }),
                };
                self.meters
                    .insert(mm.meter_id, Arc::new(Meter::new(mm, now_ns, counters)));
                Ok(())
            }
        }
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

    /// Every meter in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Meter>> {
        self.meters.values()
    }

    /// `OFPMP_METER_CONFIG` for one meter or `OFPM_ALL`, by id.
    pub fn config(&self, id: u32) -> Vec<MeterConfig> {
        self.select(id).map(|m| m.config()).collect()
    }

    /// `OFPMP_METER` for one meter or `OFPM_ALL` at `now_ns`; `flow_count(id)` is the
    /// number of flows using the meter (known to the caller).
    pub fn stats(&self, id: u32, flow_count: &dyn Fn(u32) -> u32, now_ns: u64) -> Vec<MeterStats> {
        self.select(id)
            .map(|m| m.stats(flow_count(m.id), now_ns))
            .collect()
    }

    fn select(&self, id: u32) -> impl Iterator<Item = &Arc<Meter>> {
        self.meters
            .iter()
            .filter(move |(&k, _)| id == OFPM_ALL || k == id)
            .map(|(_, m)| m)
    }

    /// `OFPMP_METER_FEATURES`.
    pub fn features() -> MeterFeatures {
        MeterFeatures {
            max_meter: MAX_METERS,
            band_types: (1 << band_type::DROP) | (1 << band_type::DSCP_REMARK),
            capabilities: u32::from(
                meter_flags::KBPS | meter_flags::PKTPS | meter_flags::BURST | meter_flags::STATS,
            ),
            max_bands: MAX_BANDS,
            max_color: 0,
        }
    }

    /// Every meter as an add, by id (for persistence replay).
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

#[cfg(test)]
mod tests;
