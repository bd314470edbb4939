//! The persistent configuration database.
//!
//! One JSON document, rewritten atomically after every accepted change: write a temporary
//! file beside it, fsync it, rename it over the old one, fsync the directory. A crash at any
//! point leaves either the old or the new document, never a mix. At start the document is
//! read back and applied; one that does not parse stops rvsd with a clear error rather than
//! being overwritten, so nothing a user configured is lost.

use anyhow::{bail, Context, Result};
use rvs_api::{
    FailMode, PortKind, VlanSpec, DEFAULT_MAC_AGING_SECS, DEFAULT_MAC_TABLE_SIZE, MAX_TAP_QUEUES,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

/// Schema version of the document.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub format_version: u32,
    #[serde(default)]
    pub bridges: BTreeMap<String, BridgeConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format_version: FORMAT_VERSION,
            bridges: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    pub mac_aging_secs: u32,
    pub mac_table_size: u32,
    #[serde(default)]
    pub ports: BTreeMap<String, PortConfig>,
    /// OpenFlow datapath id; derived from the bridge name when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpid: Option<u64>,
    #[serde(default)]
    pub fail_mode: FailMode,
    /// Controller targets (`tcp:IP:PORT`, `ptcp:PORT[:IP]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controllers: Vec<String>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            mac_aging_secs: DEFAULT_MAC_AGING_SECS,
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            ports: BTreeMap::new(),
            dpid: None,
            fail_mode: FailMode::Standalone,
            controllers: Vec::new(),
        }
    }
}

impl BridgeConfig {
    /// The datapath id in effect: the configured one, or one derived from the name
    /// (stable across restarts, locally administered like a MAC address in the low 48 bits).
    pub fn effective_dpid(&self, name: &str) -> u64 {
        self.dpid.unwrap_or_else(|| {
            // FNV-1a over the name: stable, no dependency on the process.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in name.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            (h & 0x0000_feff_ffff_ffff) | 0x0000_0200_0000_0000
        })
    }

    /// The lowest OpenFlow port number no port of this bridge has.
    pub fn free_ofport(&self) -> u32 {
        let used: std::collections::BTreeSet<u32> =
            self.ports.values().filter_map(|p| p.ofport).collect();
        (1..).find(|n| !used.contains(n)).unwrap_or(1)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    pub kind: PortKind,
    #[serde(default)]
    pub vlan: VlanSpec,
    /// Network namespace a tap device was last found in (a hint for re-attaching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// The other end of a patch port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// OpenFlow port number (requested or assigned; kept for the port's lifetime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ofport: Option<u32>,
    /// Queues of a tap or internal port. Left out when 1, so databases without it (and
    /// rvsd versions that do not know it) read the same.
    #[serde(default = "one_queue", skip_serializing_if = "is_one_queue")]
    pub queues: u16,
}

fn one_queue() -> u16 {
    1
}

fn is_one_queue(n: &u16) -> bool {
    *n == 1
}

impl Config {
    /// Reads the database; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot read configuration database {}", path.display())
                })
            }
        };
        let cfg: Config = serde_json::from_slice(&text).with_context(|| {
            format!(
                "configuration database {} is not valid (fix it, or move it away to start empty)",
                path.display()
            )
        })?;
        if cfg.format_version != FORMAT_VERSION {
            bail!(
                "configuration database {} has format version {}, this rvsd reads version {FORMAT_VERSION}",
                path.display(),
                cfg.format_version
            );
        }
        for (b, bc) in &cfg.bridges {
            for (p, pc) in &bc.ports {
                pc.vlan.clone().validated().map_err(|e| {
                    anyhow::anyhow!(
                        "configuration database {}: port {b}/{p}: {e}",
                        path.display()
                    )
                })?;
                if !(1..=MAX_TAP_QUEUES).contains(&pc.queues) {
                    bail!(
                        "configuration database {}: port {b}/{p}: {} queues is outside 1-{MAX_TAP_QUEUES}",
                        path.display(),
                        pc.queues
                    );
                }
            }
        }
        Ok(cfg)
    }

    /// Writes the database atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut text = serde_json::to_string_pretty(self).context("cannot encode configuration")?;
        text.push('\n');
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "conf.db".into());
        let tmp = dir.join(format!(".{file_name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            fs::File::open(dir)?.sync_all()
        };
        write()
            .with_context(|| format!("cannot save configuration database {}", path.display()))?;
        Ok(())
    }

    /// A port's bridge and configuration, wherever it is.
    pub fn find_port(&self, name: &str) -> Option<(&str, &PortConfig)> {
        self.bridges
            .iter()
            .find_map(|(b, bc)| bc.ports.get(name).map(|p| (b.as_str(), p)))
    }

    /// The bridge that holds port `name`, if any.
    pub fn bridge_of_port(&self, name: &str) -> Option<&str> {
        self.bridges
            .iter()
            .find(|(_, b)| b.ports.contains_key(name))
            .map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rvsd-config-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn save_then_load_roundtrips() {
        let d = tempdir("rt");
        let db = d.join("sub/conf.db");
        let mut cfg = Config::default();
        let mut br = BridgeConfig::default();
        br.ports.insert(
            "tap1".into(),
            PortConfig {
                kind: PortKind::Tap,
                vlan: VlanSpec {
                    tag: Some(10),
                    ..Default::default()
                },
                netns: Some("h1".into()),
                peer: None,
                ofport: Some(3),
                queues: 4,
            },
        );
        cfg.bridges.insert("br0".into(), br);
        cfg.save(&db).expect("save");
        assert_eq!(Config::load(&db).expect("load"), cfg);
        assert!(
            !d.join("sub/.conf.db.tmp").exists(),
            "temporary file renamed away"
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn queues_default_to_one_and_one_is_not_written() {
        let d = tempdir("queues");
        let db = d.join("conf.db");
        // A database from before `queues`.
        fs::write(&db, r#"{"format_version":1,"bridges":{"b":{"mac_aging_secs":300,"mac_table_size":10,"ports":{"t":{"kind":"tap"}}}}}"#).expect("write");
        let mut cfg = Config::load(&db).expect("old database loads");
        let port = |c: &Config| c.bridges["b"].ports["t"].queues;
        assert_eq!(port(&cfg), 1);
        cfg.save(&db).expect("save");
        let text = fs::read_to_string(&db).expect("read");
        assert!(!text.contains("queues"), "one queue stays implicit: {text}");
        if let Some(p) = cfg.bridges.get_mut("b").and_then(|b| b.ports.get_mut("t")) {
            p.queues = 4;
        }
        cfg.save(&db).expect("save");
        assert!(fs::read_to_string(&db)
            .expect("read")
            .contains("\"queues\": 4"));
        assert_eq!(port(&Config::load(&db).expect("load")), 4);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_file_is_empty_and_garbage_is_refused() {
        let d = tempdir("bad");
        assert_eq!(
            Config::load(&d.join("none.db")).expect("load"),
            Config::default()
        );
        let db = d.join("conf.db");
        fs::write(&db, "{ not json").expect("write");
        let err = format!("{:#}", Config::load(&db).expect_err("must refuse"));
        assert!(err.contains("not valid"), "{err}");
        fs::write(&db, r#"{"format_version":1,"bridges":{"b":{"mac_aging_secs":300,"mac_table_size":10,"ports":{"p":{"kind":"system","vlan":{"tag":9999,"trunks":[],"mode":null}}}}}}"#).expect("write");
        let err = format!("{:#}", Config::load(&db).expect_err("must refuse"));
        assert!(err.contains("outside 1-4094"), "{err}");
        fs::write(&db, r#"{"format_version":1,"bridges":{"b":{"mac_aging_secs":300,"mac_table_size":10,"ports":{"p":{"kind":"tap","queues":17}}}}}"#).expect("write");
        let err = format!("{:#}", Config::load(&db).expect_err("must refuse"));
        assert!(err.contains("17 queues is outside 1-16"), "{err}");
        fs::write(&db, r#"{"format_version":1,"bogus":1}"#).expect("write");
        assert!(Config::load(&db).is_err(), "unknown keys are refused");
        let _ = fs::remove_dir_all(&d);
    }
}
