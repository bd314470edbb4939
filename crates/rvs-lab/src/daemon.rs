//! Starting rvsd for `rvs lab up` when none answers on the run directory.
//!
//! The daemon is started detached (its own session, stdin from `/dev/null`, stdout and
//! stderr appended to `RUN_DIR/rvsd.log`), so it outlives the `rvs` process, as a
//! service would. The binary is `rvsd` next to the running executable, else the first on
//! `PATH`. Its database is the one given, else [`default_db`].

use crate::control::Control;
use crate::runtime::Progress;
use anyhow::{anyhow, bail, Context, Result};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a started rvsd has to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`ensure_rvsd`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RvsdStart {
    /// An rvsd answered already.
    Running { pid: u32 },
    /// This call started one.
    Started {
        pid: u32,
        binary: PathBuf,
        db: PathBuf,
        log: PathBuf,
    },
}

/// The database for an rvsd started on `run_dir`: rvsd's own default
/// (`/var/lib/rvs/conf.db`) for the default run directory, else
/// `/var/lib/rvs/conf-<run dir, '/' as '-'>.db` (for `/run/rvs-x`: `conf-run-rvs-x.db`),
/// so daemons of different run directories never share a database.
pub fn default_db(run_dir: &Path) -> PathBuf {
    if run_dir == Path::new(rvs_api::DEFAULT_RUN_DIR) {
        return PathBuf::from(rvs_api::DEFAULT_DB);
    }
    let flat: String = run_dir
        .to_string_lossy()
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let dir = Path::new(rvs_api::DEFAULT_DB)
        .parent()
        .unwrap_or(Path::new("/var/lib/rvs"));
    dir.join(format!("conf-{flat}.db"))
}

/// The rvsd binary: next to the running executable, else on `PATH`.
pub fn find_rvsd() -> Result<PathBuf> {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let p = dir.join("rvsd");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    crate::find_on_path("rvsd").ok_or_else(|| {
        anyhow!("no rvsd binary next to this program nor on PATH; build it (cargo build --release -p rvsd) or start rvsd yourself")
    })
}

/// Makes sure an rvsd answers on `ctl`'s run directory, starting one when none does.
pub fn ensure_rvsd(
    ctl: &Control,
    db: Option<&Path>,
    binary: Option<&Path>,
    progress: &mut dyn Progress,
) -> Result<RvsdStart> {
    if let Ok(pid) = ctl.ping() {
        return Ok(RvsdStart::Running { pid });
    }
    let binary = match binary {
        Some(b) => b.to_path_buf(),
        None => find_rvsd()?,
    };
    let run_dir = ctl.run_dir();
    let db = db.map_or_else(|| default_db(run_dir), Path::to_path_buf);
    fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let log_path = run_dir.join("rvsd.log");
    progress.note(&format!(
        "no rvsd answers on {}: starting {} --run-dir {} --db {} (log: {})",
        run_dir.display(),
        binary.display(),
        run_dir.display(),
        db.display(),
        log_path.display()
    ));
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let _ = writeln!(log, "=== rvs lab: starting rvsd ===");
    let err = log.try_clone().context("duplicating the log handle")?;
    let mut cmd = Command::new(&binary);
    cmd.arg("--run-dir")
        .arg(run_dir)
        .arg("--db")
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err));
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent; it makes
    // the daemon the leader of its own session, detached from our terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let deadline = Instant::now() + START_TIMEOUT;
    let polls = START_TIMEOUT.as_millis() / 50 + 1;
    for _ in 0..polls {
        if let Some(status) = child.try_wait().context("checking on rvsd")? {
            bail!(
                "rvsd exited at once ({status}); the end of {}:\n{}",
                log_path.display(),
                tail(&log_path, 20)
            );
        }
        if let Ok(pid) = ctl.ping() {
            progress.note(&format!("rvsd started (pid {pid})"));
            return Ok(RvsdStart::Started {
                pid,
                binary,
                db,
                log: log_path,
            });
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    bail!(
        "rvsd did not answer within {START_TIMEOUT:?} and was stopped; the end of {}:\n{}",
        log_path.display(),
        tail(&log_path, 20)
    )
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_db_per_run_dir() {
        assert_eq!(
            default_db(Path::new("/run/rvs")),
            PathBuf::from("/var/lib/rvs/conf.db")
        );
        assert_eq!(
            default_db(Path::new("/run/rvs-quickstart")),
            PathBuf::from("/var/lib/rvs/conf-run-rvs-quickstart.db")
        );
        assert_eq!(
            default_db(Path::new("/tmp/a b/run")),
            PathBuf::from("/var/lib/rvs/conf-tmp-a-b-run.db")
        );
    }
}
