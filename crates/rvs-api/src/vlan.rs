//! Port VLAN configuration, with Open vSwitch's `vlan_mode` semantics.
//!
//! | mode | untagged ingress | tagged ingress (VID v) | egress in VLAN v |
//! |---|---|---|---|
//! | access | VLAN `tag` | dropped (VID 0 priority tags count as untagged) | untagged, only if v == `tag` |
//! | trunk | VLAN 0, if 0 is trunked | VLAN v, if v is trunked | tagged (untagged when v == 0) |
//! | native-tagged | VLAN `tag` | VLAN v, if trunked | tagged, also for v == `tag` |
//! | native-untagged | VLAN `tag` | VLAN v, if trunked | untagged when v == `tag`, else tagged |
//!
//! An empty trunk list trunks every VLAN. In the native modes the native VLAN is always trunked.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const VID_MIN: u16 = 1;
pub const VID_MAX: u16 = 4094;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum VlanMode {
    Access,
    Trunk,
    NativeTagged,
    NativeUntagged,
}

impl VlanMode {
    pub fn as_str(self) -> &'static str {
        match self {
            VlanMode::Access => "access",
            VlanMode::Trunk => "trunk",
            VlanMode::NativeTagged => "native-tagged",
            VlanMode::NativeUntagged => "native-untagged",
        }
    }
}

impl fmt::Display for VlanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VlanMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "access" => Ok(VlanMode::Access),
            "trunk" => Ok(VlanMode::Trunk),
            "native-tagged" => Ok(VlanMode::NativeTagged),
            "native-untagged" => Ok(VlanMode::NativeUntagged),
            other => Err(format!(
                "unknown vlan mode '{other}' (expected access, trunk, native-tagged or native-untagged)"
            )),
        }
    }
}

/// A port's VLAN settings as configured (before defaults are resolved).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VlanSpec {
    /// Access VLAN (access mode) or native VLAN (native modes).
    pub tag: Option<u16>,
    /// Trunked VLANs, sorted and without duplicates; empty means all.
    #[serde(default)]
    pub trunks: Vec<u16>,
    /// Explicit mode; `None` means access when `tag` is set, trunk otherwise.
    pub mode: Option<VlanMode>,
}

impl VlanSpec {
    /// The mode in force.
    pub fn effective_mode(&self) -> VlanMode {
        self.mode.unwrap_or(if self.tag.is_some() {
            VlanMode::Access
        } else {
            VlanMode::Trunk
        })
    }

    /// Checks ranges and combinations; returns the normalized spec.
    pub fn validated(mut self) -> Result<VlanSpec, String> {
        if let Some(tag) = self.tag {
            validate_vid(tag).map_err(|e| format!("--tag: {e}"))?;
        }
        for &v in &self.trunks {
            validate_vid(v).map_err(|e| format!("--trunks: {e}"))?;
        }
        self.trunks.sort_unstable();
        self.trunks.dedup();
        match self.effective_mode() {
            VlanMode::Access => {
                if self.tag.is_none() {
                    return Err("vlan mode access needs a VLAN: give --tag VID".into());
                }
                if !self.trunks.is_empty() {
                    return Err("--trunks cannot be used with vlan mode access".into());
                }
            }
            VlanMode::Trunk => {
                if self.tag.is_some() {
                    return Err(
                        "--tag cannot be used with vlan mode trunk (use native-tagged or native-untagged for a native VLAN)"
                            .into(),
                    );
                }
            }
            VlanMode::NativeTagged | VlanMode::NativeUntagged => {
                if self.tag.is_none() {
                    return Err(format!(
                        "vlan mode {} needs a native VLAN: give --tag VID",
                        self.effective_mode()
                    ));
                }
            }
        }
        Ok(self)
    }

    /// Short human form, e.g. `access tag=10` or `trunk trunks=10,20-30`.
    pub fn describe(&self) -> String {
        let mut s = self.effective_mode().to_string();
        if let Some(t) = self.tag {
            s.push_str(&format!(" tag={t}"));
        }
        if !self.trunks.is_empty() {
            s.push_str(&format!(" trunks={}", format_trunks(&self.trunks)));
        }
        s
    }
}

/// Checks that a VLAN ID is usable as a port VLAN (1-4094).
pub fn validate_vid(vid: u16) -> Result<u16, String> {
    if (VID_MIN..=VID_MAX).contains(&vid) {
        Ok(vid)
    } else {
        Err(format!("VLAN {vid} is outside {VID_MIN}-{VID_MAX}"))
    }
}

/// Parses `10,20-30,40` into a sorted, deduplicated list. Errors name the bad element.
pub fn parse_trunks(text: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return Ok(out);
    }
    for part in text.split(',') {
        let part = part.trim();
        let parse_one = |s: &str| -> Result<u16, String> {
            let v: u32 = s
                .trim()
                .parse()
                .map_err(|_| format!("'{s}' in '{text}' is not a VLAN number"))?;
            let v =
                u16::try_from(v).map_err(|_| format!("VLAN {v} is outside {VID_MIN}-{VID_MAX}"))?;
            validate_vid(v)
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse_one(a)?, parse_one(b)?);
                if a > b {
                    return Err(format!("range '{part}' runs backwards"));
                }
                out.extend(a..=b);
            }
            None => out.push(parse_one(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Formats a sorted VLAN list compactly (`10,20-30`).
pub fn format_trunks(vids: &[u16]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < vids.len() {
        let start = vids[i];
        let mut end = start;
        while i + 1 < vids.len() && vids[i + 1] == end + 1 {
            i += 1;
            end = vids[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunks_parse_ranges_and_dedup() {
        assert_eq!(parse_trunks("30,10-12,11"), Ok(vec![10, 11, 12, 30]));
        assert_eq!(format_trunks(&[10, 11, 12, 30]), "10-12,30");
        assert_eq!(parse_trunks(""), Ok(vec![]));
    }

    #[test]
    fn trunks_reject_bad_elements() {
        assert!(parse_trunks("0").unwrap_err().contains("outside 1-4094"));
        assert!(parse_trunks("4095").unwrap_err().contains("outside"));
        assert!(parse_trunks("99999").unwrap_err().contains("outside"));
        assert!(parse_trunks("10,x").unwrap_err().contains("'x'"));
        assert!(parse_trunks("20-10").unwrap_err().contains("backwards"));
    }

    #[test]
    fn default_mode_follows_tag() {
        assert_eq!(
            VlanSpec {
                tag: Some(5),
                ..Default::default()
            }
            .effective_mode(),
            VlanMode::Access
        );
        assert_eq!(VlanSpec::default().effective_mode(), VlanMode::Trunk);
    }

    #[test]
    fn validation_rejects_inconsistent_specs() {
        let bad = [
            VlanSpec {
                tag: Some(0),
                ..Default::default()
            },
            VlanSpec {
                tag: Some(4095),
                ..Default::default()
            },
            VlanSpec {
                tag: None,
                trunks: vec![],
                mode: Some(VlanMode::Access),
            },
            VlanSpec {
                tag: Some(5),
                trunks: vec![6],
                mode: Some(VlanMode::Access),
            },
            VlanSpec {
                tag: None,
                trunks: vec![],
                mode: Some(VlanMode::NativeTagged),
            },
            VlanSpec {
                tag: Some(5),
                trunks: vec![],
                mode: Some(VlanMode::Trunk),
            },
        ];
        for spec in bad {
            assert!(
                spec.clone().validated().is_err(),
                "{spec:?} should be refused"
            );
        }
        let ok = VlanSpec {
            tag: Some(5),
            trunks: vec![7, 6, 7],
            mode: Some(VlanMode::NativeUntagged),
        };
        assert_eq!(ok.validated().map(|s| s.trunks), Ok(vec![6, 7]));
    }
}
