//! A port's VLAN rules, resolved from its configuration for fast per-packet use.
//!
//! Semantics follow Open vSwitch's `Port.vlan_mode` (see `rvs_api::vlan` for the table).
//! VLAN 0 stands for "untagged": a trunk port with an empty trunk list carries it, a trunk
//! with an explicit list does not. Priority-tagged frames (VID 0) count as untagged but keep
//! their PCP. Only C-tags (TPID 0x8100) select a VLAN; S-tagged (0x88a8) frames are
//! forwarded as untagged frames of their port's VLAN.

use crate::counters::DropReason;
use rvs_api::{VlanMode, VlanSpec};

/// A 4096-bit set of VLAN IDs.
#[derive(Clone, PartialEq, Eq)]
struct VlanSet(Box<[u64; 64]>);

impl VlanSet {
    fn from_list(vids: &[u16]) -> Self {
        let mut s = VlanSet(Box::new([0; 64]));
        for &v in vids {
            let v = usize::from(v & 0x0fff);
            s.0[v / 64] |= 1 << (v % 64);
        }
        s
    }
    #[inline]
    fn contains(&self, vid: u16) -> bool {
        let v = usize::from(vid & 0x0fff);
        self.0[v / 64] & (1 << (v % 64)) != 0
    }
}

impl std::fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v: Vec<u16> = (0..4096).filter(|&v| self.contains(v)).collect();
        write!(f, "{v:?}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortVlan {
    mode: VlanMode,
    /// Access or native VLAN (0 when none).
    tag: u16,
    /// Trunked VLANs; `None` trunks all.
    trunks: Option<VlanSet>,
}

impl PortVlan {
    /// Resolves a validated spec. An invalid spec is resolved as leniently as possible;
    /// callers validate with [`VlanSpec::validated`] first.
    pub fn from_spec(spec: &VlanSpec) -> Self {
        PortVlan {
            mode: spec.effective_mode(),
            tag: spec.tag.unwrap_or(0),
            trunks: if spec.trunks.is_empty() {
                None
            } else {
                Some(VlanSet::from_list(&spec.trunks))
            },
        }
    }

    #[inline]
    fn trunks_vid(&self, vid: u16) -> bool {
        match &self.trunks {
            None => true,
            Some(s) => s.contains(vid),
        }
    }

    /// VLAN of a frame arriving on this port, given its 802.1Q VID (`None`: untagged).
    #[inline]
    pub fn ingress(&self, vid: Option<u16>) -> Result<u16, DropReason> {
        match vid.filter(|&v| v != 0) {
            // VID 4095 is reserved by 802.1Q and never carried.
            Some(0x0fff) => Err(DropReason::VlanNotAllowed),
            Some(vid) => match self.mode {
                VlanMode::Access => Err(DropReason::TaggedOnAccessPort),
                VlanMode::Trunk if self.trunks_vid(vid) => Ok(vid),
                VlanMode::NativeTagged | VlanMode::NativeUntagged
                    if vid == self.tag || self.trunks_vid(vid) =>
                {
                    Ok(vid)
                }
                _ => Err(DropReason::VlanNotAllowed),
            },
            None => match self.mode {
                VlanMode::Access | VlanMode::NativeTagged | VlanMode::NativeUntagged => {
                    Ok(self.tag)
                }
                VlanMode::Trunk if self.trunks.is_none() => Ok(0),
                VlanMode::Trunk => Err(DropReason::VlanNotAllowed),
            },
        }
    }

    /// Whether frames of `vlan` may leave through this port.
    #[inline]
    pub fn carries(&self, vlan: u16) -> bool {
        match self.mode {
            VlanMode::Access => vlan == self.tag,
            VlanMode::Trunk => {
                if vlan == 0 {
                    self.trunks.is_none()
                } else {
                    self.trunks_vid(vlan)
                }
            }
            VlanMode::NativeTagged | VlanMode::NativeUntagged => {
                vlan == self.tag || (vlan != 0 && self.trunks_vid(vlan))
            }
        }
    }

    /// Whether frames of `vlan` leave this port with an 802.1Q header.
    #[inline]
    pub fn egress_tagged(&self, vlan: u16) -> bool {
        match self.mode {
            VlanMode::Access => false,
            VlanMode::Trunk => vlan != 0,
            VlanMode::NativeTagged => true,
            VlanMode::NativeUntagged => vlan != self.tag,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(tag: Option<u16>, trunks: &[u16], mode: VlanMode) -> PortVlan {
        PortVlan::from_spec(&VlanSpec {
            tag,
            trunks: trunks.to_vec(),
            mode: Some(mode),
        })
    }

    #[test]
    fn access() {
        let p = pv(Some(10), &[], VlanMode::Access);
        assert_eq!(p.ingress(None), Ok(10));
        assert_eq!(p.ingress(Some(0)), Ok(10), "priority tag is untagged");
        assert_eq!(p.ingress(Some(10)), Err(DropReason::TaggedOnAccessPort));
        assert!(p.carries(10) && !p.carries(20) && !p.carries(0));
        assert!(!p.egress_tagged(10));
    }

    #[test]
    fn trunk_all_and_listed() {
        let all = pv(None, &[], VlanMode::Trunk);
        assert_eq!(all.ingress(None), Ok(0));
        assert_eq!(all.ingress(Some(4094)), Ok(4094));
        assert_eq!(
            all.ingress(Some(4095)),
            Err(DropReason::VlanNotAllowed),
            "reserved VID"
        );
        assert!(all.carries(0) && all.carries(7));
        assert!(!all.egress_tagged(0) && all.egress_tagged(7));

        let some = pv(None, &[10, 20], VlanMode::Trunk);
        assert_eq!(some.ingress(None), Err(DropReason::VlanNotAllowed));
        assert_eq!(some.ingress(Some(20)), Ok(20));
        assert_eq!(some.ingress(Some(30)), Err(DropReason::VlanNotAllowed));
        assert!(!some.carries(0) && some.carries(10) && !some.carries(11));
    }

    #[test]
    fn native_tagged() {
        let p = pv(Some(10), &[20], VlanMode::NativeTagged);
        assert_eq!(p.ingress(None), Ok(10));
        assert_eq!(
            p.ingress(Some(10)),
            Ok(10),
            "native VLAN is implicitly trunked"
        );
        assert_eq!(p.ingress(Some(20)), Ok(20));
        assert_eq!(p.ingress(Some(30)), Err(DropReason::VlanNotAllowed));
        assert!(p.carries(10) && p.carries(20) && !p.carries(30) && !p.carries(0));
        assert!(p.egress_tagged(10) && p.egress_tagged(20));
    }

    #[test]
    fn native_untagged() {
        let p = pv(Some(10), &[], VlanMode::NativeUntagged);
        assert_eq!(p.ingress(None), Ok(10));
        assert_eq!(p.ingress(Some(10)), Ok(10));
        assert_eq!(p.ingress(Some(99)), Ok(99), "empty trunk list trunks all");
        assert!(!p.egress_tagged(10) && p.egress_tagged(99));
        assert!(!p.carries(0));
    }
}
