//! Running `rvsd` and the `rvs` command line for end-to-end tests.

use crate::cmd::{self, cmdline, describe_status};
use crate::Netns;
use anyhow::{anyhow, bail, Context, Result};
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long [`RvsdProcess::start`] waits for the daemon to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often readiness is checked.
const READY_POLL: Duration = Duration::from_millis(20);
/// How long one `rvs list-br` readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`RvsdProcess::rvs`] lets the command line run before killing it.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`RvsdProcess::terminate`] waits after `SIGTERM`.
const TERM_TIMEOUT: Duration = Duration::from_secs(5);
/// Set this variable (to anything) to keep the temporary directory (run
/// directory, database, log) after the test, for a post-mortem.
const KEEP_ENV: &str = "RVS_LAB_KEEP";

/// An `rvsd` daemon with a private run directory and database in a
/// temporary directory, and the `rvs` command line pointed at it.
///
/// Layout of the temporary directory `DIR`:
///
/// * `DIR/run/`: the run directory (`--run-dir`), holding `rvsd.sock`;
/// * `DIR/conf.db`: the database (`--db`), created by `rvsd`;
/// * `DIR/rvsd.log`: the daemon's stdout and stderr, appended to on every
///   (re)start, each start preceded by a marker line.
///
/// Dropping it (also while a panic unwinds) kills the daemon with `SIGKILL`
/// and removes the directory; while a panic unwinds it first prints the end
/// of the daemon log to stderr, so a failing test shows what the daemon
/// said. Set the environment variable `RVS_LAB_KEEP` to keep the directory.
#[derive(Debug)]
pub struct RvsdProcess {
    dir: TempDir,
    run_dir: PathBuf,
    db_path: PathBuf,
    log_path: PathBuf,
    rvsd: PathBuf,
    rvs: PathBuf,
    /// Namespace the daemon runs in (`None`: the test's own).
    netns: Option<String>,
    child: Option<Child>,
    starts: u32,
    /// More rvsd options (every start).
    extra_args: Vec<String>,
}

impl RvsdProcess {
    /// Starts `rvsd --run-dir DIR/run --db DIR/conf.db` in a fresh temporary
    /// directory and waits (up to 10 s) until `DIR/run/rvsd.sock` exists and
    /// `rvs --run-dir DIR/run list-br` succeeds.
    ///
    /// `rvsd` and `rvs` are the paths of the two binaries (see
    /// [`workspace_bin`]). If the daemon exits early or does not become
    /// ready in time, the error includes its log.
    pub fn start(rvsd: impl AsRef<Path>, rvs: impl AsRef<Path>) -> Result<RvsdProcess> {
        Self::start_impl(None, rvsd.as_ref(), rvs.as_ref(), &[])
    }

    /// Like [`RvsdProcess::start`], with more rvsd options (e.g. `--dp-threads 2`), used
    /// again by every restart.
    pub fn start_with_args(
        rvsd: impl AsRef<Path>,
        rvs: impl AsRef<Path>,
        args: &[&str],
    ) -> Result<RvsdProcess> {
        Self::start_impl(None, rvsd.as_ref(), rvs.as_ref(), args)
    }

    /// Like [`RvsdProcess::start`], with the daemon running inside `ns`
    /// (`ip netns exec`). The command line still runs in the test's
    /// namespace; it reaches the daemon through the socket file.
    pub fn start_in(
        ns: &Netns,
        rvsd: impl AsRef<Path>,
        rvs: impl AsRef<Path>,
    ) -> Result<RvsdProcess> {
        Self::start_impl(
            Some(ns.name().to_string()),
            rvsd.as_ref(),
            rvs.as_ref(),
            &[],
        )
    }

    fn start_impl(
        netns: Option<String>,
        rvsd: &Path,
        rvs: &Path,
        args: &[&str],
    ) -> Result<RvsdProcess> {
        for bin in [rvsd, rvs] {
            if !bin.is_file() {
                bail!("{} does not exist; run `cargo build` first", bin.display());
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("rvs-lab-")
            .tempdir()
            .context("creating the temporary directory for rvsd")?;
        let run_dir = dir.path().join("run");
        fs::create_dir(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
        let mut daemon = RvsdProcess {
            db_path: dir.path().join("conf.db"),
            log_path: dir.path().join("rvsd.log"),
            run_dir,
            dir,
            rvsd: rvsd.to_path_buf(),
            rvs: rvs.to_path_buf(),
            netns,
            child: None,
            starts: 0,
            extra_args: args.iter().map(|a| a.to_string()).collect(),
        };
        daemon.spawn_and_wait()?;
        Ok(daemon)
    }

    /// Starts the daemon again with the same run directory and database,
    /// after [`kill9`](RvsdProcess::kill9) or
    /// [`terminate`](RvsdProcess::terminate); waits like
    /// [`start`](RvsdProcess::start). An error if it is still running.
    pub fn start_again(&mut self) -> Result<()> {
        if self.is_running() {
            bail!("rvsd is still running; stop it with kill9() or terminate() first");
        }
        self.spawn_and_wait()
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        self.starts += 1;
        // A socket left by a killed daemon would make the wait below succeed before the
        // new one is ready.
        let _ = std::fs::remove_file(self.run_dir.join("rvsd.sock"));
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("opening {}", self.log_path.display()))?;
        let mut argv: Vec<OsString> = Vec::new();
        if let Some(ns) = &self.netns {
            argv.extend(["ip", "netns", "exec", ns].map(OsString::from));
        }
        argv.push(self.rvsd.clone().into());
        argv.push("--run-dir".into());
        argv.push(self.run_dir.clone().into());
        argv.push("--db".into());
        argv.push(self.db_path.clone().into());
        argv.extend(self.extra_args.iter().map(OsString::from));
        let shown: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        writeln!(
            log,
            "=== rvs-lab: start #{}: {} ===",
            self.starts,
            cmdline(&shown)
        )
        .with_context(|| format!("writing {}", self.log_path.display()))?;
        let stderr = log.try_clone().context("duplicating the log file handle")?;

        let (program, args) = argv
            .split_first()
            .ok_or_else(|| anyhow!("empty rvsd command line"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env_remove("RVS_RUN_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr));
        if std::env::var_os("RUST_BACKTRACE").is_none() {
            command.env("RUST_BACKTRACE", "1");
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting `{}`", cmdline(&shown)))?;
        self.child = Some(child);

        match self.wait_ready() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.kill9();
                Err(e.context(format!(
                    "rvsd did not come up; its log ({}):\n{}",
                    self.log_path.display(),
                    self.log()
                )))
            }
        }
    }

    /// Waits until the socket exists and `rvs list-br` succeeds, the child
    /// exits, or [`READY_TIMEOUT`] passes.
    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let max_polls = READY_TIMEOUT.as_millis() / READY_POLL.as_millis() + 1;
        let socket = self.socket_path();
        let mut last_probe = None;
        for _ in 0..max_polls {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().context("checking on rvsd")? {
                    self.child = None;
                    bail!("rvsd exited during startup ({})", describe_status(status));
                }
            }
            if socket.exists() {
                let out = self.rvs_timeout(&["list-br"], PROBE_TIMEOUT);
                if out.status.success() {
                    return Ok(());
                }
                last_probe = Some(out);
            }
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(READY_POLL);
        }
        let probe = match last_probe {
            None => format!("{} never appeared", socket.display()),
            Some(out) => format!(
                "`rvs list-br` kept failing, last with {}: {}",
                describe_status(out.status),
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
        };
        bail!("rvsd was not ready after {READY_TIMEOUT:?}: {probe}")
    }

    /// The run directory (`--run-dir`).
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The database path (`--db`).
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The control socket, `run_dir()/rvsd.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.run_dir.join("rvsd.sock")
    }

    /// The temporary directory holding everything.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The daemon's output so far, over all starts (empty if unreadable).
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The daemon's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the daemon is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_))) | Some(Err(_)) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// A [`Command`] for `rvs --run-dir RUN_DIR args...`, with
    /// `RVS_RUN_DIR` removed from its environment.
    pub fn rvs_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.rvs);
        command
            .arg("--run-dir")
            .arg(&self.run_dir)
            .args(args)
            .env_remove("RVS_RUN_DIR");
        command
    }

    /// Runs `rvs --run-dir RUN_DIR args...` and returns its output, whatever
    /// the exit status. Never panics: if the command cannot be started the
    /// exit code is 127 with the reason on stderr; after 60 s it is killed.
    pub fn rvs(&self, args: &[&str]) -> Output {
        self.rvs_timeout(args, CLI_TIMEOUT)
    }

    fn rvs_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        let what = format!("rvs {}", cmdline(args));
        cmd::output_timeout(&mut self.rvs_command(args), timeout, &what)
    }

    /// Runs `rvs` like [`RvsdProcess::rvs`] and returns its stdout; an error
    /// naming the arguments, the exit status and stderr unless it succeeds.
    pub fn rvs_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.rvs(args);
        if !out.status.success() {
            bail!(
                "`rvs {}` failed ({}):\nstderr: {}\nstdout: {}",
                cmdline(args),
                describe_status(out.status),
                String::from_utf8_lossy(&out.stderr).trim_end(),
                String::from_utf8_lossy(&out.stdout).trim_end(),
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Kills the daemon with `SIGKILL` (a crash) and reaps it. Does nothing
    /// if it is not running.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if the child has exited already, which is fine.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `SIGTERM` and waits up to 5 s for the daemon to exit; returns
    /// its exit status. If it does not exit in time it is killed with
    /// `SIGKILL` and this returns an error.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("rvsd is not running");
        };
        let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
        // SAFETY: kill has no memory-safety preconditions. `child` has not
        // been reaped, so the pid still names our child.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            let _ = child.kill();
            let _ = child.wait();
            bail!("sending SIGTERM to rvsd: {err}");
        }
        let deadline = Instant::now() + TERM_TIMEOUT;
        let max_polls = TERM_TIMEOUT.as_millis() / 10 + 1;
        for _ in 0..max_polls {
            if let Some(status) = child.try_wait().context("waiting for rvsd")? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        bail!(
            "rvsd did not exit within {TERM_TIMEOUT:?} of SIGTERM and was killed; its log:\n{}",
            self.log()
        )
    }
}

impl Drop for RvsdProcess {
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(200)..];
            // A failed write to stderr is not worth a panic in a panic.
            let _ = writeln!(
                std::io::stderr(),
                "--- rvs-lab: last {} lines of {} ---\n{}\n--- end of rvsd log ---",
                tail.len(),
                self.log_path.display(),
                tail.join("\n")
            );
        }
        if std::env::var_os(KEEP_ENV).is_some() {
            self.dir.disable_cleanup(true);
            let _ = writeln!(
                std::io::stderr(),
                "rvs-lab: {KEEP_ENV} is set; keeping {}",
                self.dir.path().display()
            );
        }
    }
}

/// The path of the binary `name` that cargo built, for tests of other
/// crates (an integration test only gets `CARGO_BIN_EXE_*` for its own
/// crate's binaries).
///
/// Looks in `$RVS_BIN_DIR` if that variable is set; otherwise walks up from
/// the test executable (which lives in `target/<profile>/deps/`) to the
/// first directory that contains `name`.
///
/// # Panics
///
/// If the binary is not found; the message says to run `cargo build` first.
pub fn workspace_bin(name: &str) -> PathBuf {
    match try_workspace_bin(name) {
        Ok(path) => path,
        Err(e) => panic!("{e:#}"),
    }
}

/// Like [`workspace_bin`], returning an error instead of panicking.
pub fn try_workspace_bin(name: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RVS_BIN_DIR") {
        let path = PathBuf::from(dir).join(name);
        if path.is_file() {
            return Ok(path);
        }
        bail!(
            "binary {name:?} is not in RVS_BIN_DIR ({}); run `cargo build` first",
            path.display()
        );
    }
    let exe = std::env::current_exe().context("finding the test executable")?;
    // `ancestors` is finite: it ends at the root.
    for dir in exe.ancestors().skip(1) {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!(
        "binary {name:?} not found in any directory above {}; run `cargo build` first \
         (or set RVS_BIN_DIR)",
        exe.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_is_reported() {
        let err = try_workspace_bin("no-such-binary-rvs-lab").expect_err("must not be found");
        assert!(format!("{err:#}").contains("cargo build"), "{err:#}");
    }

    #[test]
    fn start_refuses_missing_binaries() {
        let err =
            RvsdProcess::start("/nonexistent/rvsd", "/nonexistent/rvs").expect_err("must fail");
        assert!(format!("{err:#}").contains("cargo build"), "{err:#}");
    }

    #[test]
    fn early_exit_reports_log() {
        // A stand-in daemon: the shell ignores the arguments and exits, so
        // startup must fail and the error must carry the log.
        let err = RvsdProcess::start("/bin/true", "/bin/true").expect_err("must fail");
        let text = format!("{err:#}");
        assert!(text.contains("rvs-lab: start #1"), "{text}");
        assert!(text.contains("exited during startup"), "{text}");
    }
}
