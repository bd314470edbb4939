//! State files of labs: `RUN_DIR/labs/NAME.json`, and the lock that serializes `up` and
//! `down` of one lab (`RUN_DIR/labs/NAME.lock`, `flock(2)`).
//!
//! The state file is written *before* `up` creates anything (status `building`), so a
//! lab whose `up` was killed half-way is still known to `status` and `down`. It holds the
//! resolved [`Topology`], which lets `ping-matrix`, `graph` and `exec` work by lab name.
//! `down` never depends on it: it finds a lab's objects by their prefix.

use crate::topology::Topology;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Subdirectory of the run directory that holds the state files.
pub const LABS_DIR: &str = "labs";

/// What a lab is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabPhase {
    /// `up` is running (or was killed while running).
    Building,
    /// `up` finished.
    Up,
    /// `down` removed the namespaces and links, but rvsd was not reachable, so its
    /// configuration still lists the lab's bridges: run `down` again with rvsd running.
    RvsdCleanupPending,
}

impl LabPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            LabPhase::Building => "building",
            LabPhase::Up => "up",
            LabPhase::RvsdCleanupPending => "rvsd-cleanup-pending",
        }
    }
}

/// Contents of `RUN_DIR/labs/NAME.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    pub name: String,
    pub prefix: String,
    pub phase: LabPhase,
    /// Seconds since the Unix epoch of the last change.
    pub updated: u64,
    pub topology: Topology,
}

/// `RUN_DIR/labs`.
pub fn labs_dir(run_dir: &Path) -> PathBuf {
    run_dir.join(LABS_DIR)
}

/// `RUN_DIR/labs/NAME.json`.
pub fn state_path(run_dir: &Path, name: &str) -> PathBuf {
    labs_dir(run_dir).join(format!("{name}.json"))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl LabState {
    pub fn new(topology: &Topology, phase: LabPhase) -> LabState {
        LabState {
            name: topology.name.clone(),
            prefix: topology.prefix.clone(),
            phase,
            updated: now(),
            topology: topology.clone(),
        }
    }

    /// Reads the state of lab `name`; `None` if there is none.
    pub fn read(run_dir: &Path, name: &str) -> Result<Option<LabState>> {
        let path = state_path(run_dir, name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("reading the lab state {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes it atomically (temporary file, rename).
    pub fn write(&mut self, run_dir: &Path) -> Result<()> {
        self.updated = now();
        let dir = labs_dir(run_dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = state_path(run_dir, &self.name);
        let tmp = dir.join(format!(".{}.json.tmp", self.name));
        let text = serde_json::to_string_pretty(self).context("encoding the lab state")?;
        let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        Ok(())
    }

    /// Removes the state file of lab `name` (no error if there is none).
    pub fn remove(run_dir: &Path, name: &str) -> Result<()> {
        let path = state_path(run_dir, name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }

    /// Every lab with a state file in `run_dir`, sorted by name. Unreadable files are
    /// reported as errors next to the good ones.
    pub fn all(run_dir: &Path) -> Vec<Result<LabState>> {
        let dir = labs_dir(run_dir);
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_suffix(".json")
                    .filter(|s| !s.starts_with('.'))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| LabState::read(run_dir, &n).transpose())
            .collect()
    }
}

/// An exclusive lock on lab `name` in `run_dir`, held until dropped.
#[derive(Debug)]
pub struct LabLock {
    _file: File,
}

impl LabLock {
    /// Takes the lock, waiting at most `wait` for another `up`/`down` of the same lab.
    pub fn acquire(run_dir: &Path, name: &str, wait: std::time::Duration) -> Result<LabLock> {
        let dir = labs_dir(run_dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let deadline = std::time::Instant::now() + wait;
        let max_tries = wait.as_millis() / 50 + 1;
        for _ in 0..max_tries {
            // SAFETY: flock only reads the descriptor, which `file` keeps open.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(LabLock { _file: file });
            }
            if std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        bail!(
            "lab '{name}' is busy: another `rvs lab up` or `down` of it holds {} (waited {wait:?})",
            path.display()
        )
    }
}
