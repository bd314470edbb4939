//! Network namespaces.

use crate::cmd::{self, cmdline};
use crate::names::unique_name;
use anyhow::{anyhow, Context, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

/// Where `ip netns` keeps the namespace handles.
const NETNS_RUN_DIR: &str = "/run/netns";

/// A network namespace made with `ip netns add`, deleted on drop.
///
/// The name comes from [`unique_name`], so namespaces of concurrent tests
/// never collide. Dropping it (also while a panic unwinds) kills every
/// process still inside with `SIGKILL` and runs `ip netns del`; errors are
/// ignored there. Use [`Netns::delete`] to see them.
#[derive(Debug)]
pub struct Netns {
    name: String,
    deleted: bool,
}

impl Netns {
    /// Creates a namespace named `unique_name(prefix)` and brings its `lo` up.
    pub fn create(prefix: &str) -> Result<Netns> {
        let name = unique_name(prefix);
        cmd::run_argv(&["ip", "netns", "add", &name])
            .with_context(|| format!("creating network namespace {name}"))?;
        // From here on, Drop removes the namespace if anything fails.
        let ns = Netns {
            name,
            deleted: false,
        };
        cmd::run_argv(&["ip", "-n", &ns.name, "link", "set", "lo", "up"])
            .with_context(|| format!("bringing lo up in network namespace {}", ns.name))?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace handle, `/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_RUN_DIR).join(&self.name)
    }

    /// Opens the namespace handle (for `setns(2)`). The returned file keeps
    /// the namespace alive as long as it is open, even after deletion.
    pub fn fd(&self) -> Result<File> {
        let path = self.path();
        File::open(&path).with_context(|| format!("opening {}", path.display()))
    }

    /// A [`Command`] that runs `argv` inside the namespace
    /// (`ip netns exec NAME argv...`), for processes the caller spawns and
    /// manages itself (they are killed when the namespace is dropped).
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        cmd
    }

    /// Runs `argv` inside the namespace and returns its stdout.
    ///
    /// The error contains the command line, the exit status and stderr. The
    /// command is killed if it runs for more than 60 s.
    pub fn run(&self, argv: &[&str]) -> Result<String> {
        let full = self.exec_argv(argv);
        cmd::run_argv(&full)
    }

    /// Runs `argv` inside the namespace and returns its output whatever the
    /// exit status. Never panics: a command that cannot be started reports
    /// exit code 127 with the reason on stderr; one that runs for more than
    /// 60 s is killed.
    pub fn output(&self, argv: &[&str]) -> Output {
        let full = self.exec_argv(argv);
        cmd::output_argv(&full)
    }

    fn exec_argv<'a>(&'a self, argv: &[&'a str]) -> Vec<&'a str> {
        let mut full = vec!["ip", "netns", "exec", self.name.as_str()];
        full.extend_from_slice(argv);
        full
    }

    /// One ping attempt from inside the namespace: `ping -c 1 -W T -n ADDR`
    /// with T = `timeout` rounded up to whole seconds (at least 1). Returns
    /// whether a reply came back.
    pub fn ping(&self, addr: &str, timeout: Duration) -> bool {
        let secs = (timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0)).max(1);
        let secs_arg = secs.to_string();
        let full = self.exec_argv(&["ping", "-c", "1", "-W", &secs_arg, "-n", addr]);
        let Some((program, args)) = full.split_first() else {
            return false;
        };
        let mut command = Command::new(program);
        command.args(args);
        // Bound the whole attempt, not only ping's wait for the reply.
        let limit = Duration::from_secs(secs.saturating_add(5));
        cmd::output_timeout(&mut command, limit, &cmdline(&full))
            .status
            .success()
    }

    /// Pings `addr` until a reply comes back or `total` has passed; returns
    /// whether a reply came back. For the warm-up of ARP and MAC learning.
    ///
    /// Each attempt waits at most 1 s for its reply and failed attempts are
    /// 100 ms apart, so this returns within about `total` + 1 s and makes at
    /// most `total / 100 ms` + 2 attempts.
    pub fn ping_until(&self, addr: &str, total: Duration) -> bool {
        let deadline = Instant::now() + total;
        let max_attempts = (total.as_millis() / 100).saturating_add(2);
        let mut attempts: u128 = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = remaining.clamp(Duration::from_millis(1), Duration::from_secs(1));
            if self.ping(addr, wait) {
                return true;
            }
            attempts += 1;
            if attempts >= max_attempts || Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(100).min(remaining));
        }
    }

    /// Runs `f` on a fresh thread that first joins this namespace
    /// (`setns(2)` with `CLONE_NEWNET`), and returns its result.
    ///
    /// Sockets that `f` creates belong to this namespace for their whole life,
    /// also when used from other threads afterwards. The calling thread's
    /// namespace is not touched. A panic in `f` is passed on to the caller.
    ///
    /// # Panics
    ///
    /// If the namespace cannot be joined (see [`Netns::try_enter`] for the
    /// fallible form), or if `f` panics.
    pub fn enter<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        match self.try_enter(f) {
            Ok(r) => r,
            Err(e) => panic!("{e:#}"),
        }
    }

    /// Like [`Netns::enter`], but returns an error when the namespace cannot
    /// be joined. A panic in `f` is still passed on to the caller.
    pub fn try_enter<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let handle = self.fd()?;
        let name = &self.name;
        thread::scope(|scope| {
            let worker = scope.spawn(move || -> Result<R> {
                // SAFETY: setns only reads the descriptor, which `handle`
                // keeps open for the duration of the call. Network namespaces
                // are per thread, so this changes this new thread only, and
                // the thread ends when `f` returns.
                let rc = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    let err = std::io::Error::last_os_error();
                    return Err(anyhow!("setns into network namespace {name}: {err}"));
                }
                drop(handle);
                Ok(f())
            });
            match worker.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Process ids of the processes inside the namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
        pids_in(&self.name)
    }

    /// Kills the processes left inside and deletes the namespace, reporting
    /// errors (dropping does the same but ignores them).
    pub fn delete(mut self) -> Result<()> {
        self.deleted = true;
        kill_pids_in(&self.name);
        cmd::run_argv(&["ip", "netns", "del", &self.name])
            .with_context(|| format!("deleting network namespace {}", self.name))?;
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        kill_pids_in(&self.name);
        let _ = cmd::output_argv(&["ip", "netns", "del", &self.name]);
    }
}

/// Pids from `ip netns pids NAME`; empty if the command fails.
fn pids_in(name: &str) -> Vec<i32> {
    let out = cmd::output_argv(&["ip", "netns", "pids", name]);
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Sends `SIGKILL` to every process inside the namespace `name` and waits
/// (at most 2 s, 100 checks) until none is left. Never kills this process
/// or pid 1. Ignores all errors.
pub(crate) fn kill_pids_in(name: &str) {
    // A process id from the kernel always fits in i32.
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let deadline = Instant::now() + Duration::from_secs(2);
    for _ in 0..100 {
        let pids: Vec<i32> = pids_in(name)
            .into_iter()
            .filter(|&p| p > 1 && p != me)
            .collect();
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in pids {
            // SAFETY: kill has no memory-safety preconditions; a pid that is
            // gone already just makes it fail with ESRCH.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        // Our own children stay zombies until reaped, but a zombie has left
        // its namespaces, so it is no longer listed.
        thread::sleep(Duration::from_millis(20));
    }
}
