//! Running external commands with bounded time and useful errors.

use crate::Netns;
use anyhow::{bail, Result};
use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a helper command (`ip`, `ethtool`, ...) may run before it is
/// killed. Generous: such commands take milliseconds.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Renders an argument vector for messages, quoting arguments that need it.
pub fn cmdline<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| {
            let a = a.as_ref();
            let plain = !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
            if plain {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` in the host namespace; returns its stdout.
///
/// The error names the command line, the exit status and the stderr.
pub fn run_host(argv: &[&str]) -> Result<String> {
    run_argv(argv)
}

/// Runs `argv` in `ns` (`ip netns exec`), or in the host namespace for
/// `None`; returns its stdout. The error names the command line, the exit
/// status and the stderr.
pub fn run_in(ns: Option<&Netns>, argv: &[&str]) -> Result<String> {
    match ns {
        Some(ns) => ns.run(argv),
        None => run_host(argv),
    }
}

/// Runs an argument vector, checks the exit status, returns stdout.
pub(crate) fn run_argv(argv: &[&str]) -> Result<String> {
    let out = output_argv(argv);
    check_output(argv, &out)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs an argument vector (bounded by [`COMMAND_TIMEOUT`]) and returns its
/// output. Never fails: a command that cannot be started yields exit code
/// 127 and the reason on stderr, one that times out is killed and says so
/// on stderr.
pub(crate) fn output_argv(argv: &[&str]) -> Output {
    let Some((program, args)) = argv.split_first() else {
        return failed_output("rvs-lab: empty command line");
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    output_timeout(&mut cmd, COMMAND_TIMEOUT, &cmdline(argv))
}

/// Errors unless `out` reports success.
pub(crate) fn check_output<S: AsRef<str>>(argv: &[S], out: &Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "`{}` failed ({}):\nstderr: {}\nstdout: {}",
        cmdline(argv),
        describe_status(out.status),
        String::from_utf8_lossy(&out.stderr).trim_end(),
        String::from_utf8_lossy(&out.stdout).trim_end(),
    )
}

/// "exit code N" or "killed by signal N".
pub(crate) fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => format!("{status}"),
    }
}

/// An `Output` for a command that could not run: exit code 127 (as a shell
/// reports "command not found") and `msg` on stderr.
pub(crate) fn failed_output(msg: &str) -> Output {
    Output {
        status: ExitStatus::from_raw(127 << 8),
        stdout: Vec::new(),
        stderr: msg.as_bytes().to_vec(),
    }
}

/// Runs `cmd` with stdin from /dev/null and stdout/stderr captured, and kills
/// it once `timeout` has passed. Never fails (see [`output_argv`]); `what`
/// names the command in messages.
pub(crate) fn output_timeout(cmd: &mut Command, timeout: Duration, what: &str) -> Output {
    match try_output_timeout(cmd, timeout) {
        Ok((out, false)) => out,
        Ok((mut out, true)) => {
            let note = format!("\nrvs-lab: `{what}` timed out after {timeout:?} and was killed");
            out.stderr.extend_from_slice(note.as_bytes());
            out
        }
        Err(e) => failed_output(&format!("rvs-lab: cannot run `{what}`: {e}")),
    }
}

/// Like [`output_timeout`]; the flag tells whether the command was killed
/// for running too long.
pub(crate) fn try_output_timeout(
    cmd: &mut Command,
    timeout: Duration,
) -> io::Result<(Output, bool)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let deadline = start + timeout;
    let mut child = cmd.spawn()?;
    let stdout = spawn_reader(child.stdout.take());
    let stderr = spawn_reader(child.stderr.take());

    let mut timed_out = false;
    let mut nap = Duration::from_millis(1);
    // Bounded by the deadline; the naps are at least 1 ms, so the count is
    // bounded too (the explicit cap only guards against clock oddities).
    let max_polls = timeout.as_millis().saturating_add(10);
    let mut polls: u128 = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        polls += 1;
        if Instant::now() >= deadline || polls > max_polls {
            // The child may exit between try_wait and kill; both are fine.
            let _ = child.kill();
            timed_out = true;
            break child.wait()?;
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };

    // A grandchild that inherited the pipes can keep them open after the
    // child exited; do not wait for it past the deadline (plus a grace
    // period for output that is already in the pipe).
    let read_deadline = deadline.max(Instant::now()) + Duration::from_millis(500);
    let stdout = collect(stdout, read_deadline);
    let stderr = collect(stderr, read_deadline);
    Ok((
        Output {
            status,
            stdout,
            stderr,
        },
        timed_out,
    ))
}

fn spawn_reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        thread::spawn(move || {
            let mut buf = Vec::new();
            // A read error just ends the capture; what was read is kept.
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

fn collect(rx: mpsc::Receiver<Vec<u8>>, deadline: Instant) -> Vec<u8> {
    let wait = deadline.saturating_duration_since(Instant::now());
    rx.recv_timeout(wait).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_quotes() {
        assert_eq!(cmdline(&["ip", "link", "show"]), "ip link show");
        assert_eq!(cmdline(&["echo", "a b", ""]), "echo 'a b' ''");
        assert_eq!(cmdline(&["x'y"]), r"'x'\''y'");
    }

    #[test]
    fn run_reports_stderr_and_status() {
        let err = run_host(&["sh", "-c", "echo oops >&2; exit 3"])
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("oops"), "{err}");
        assert!(err.contains("exit code 3"), "{err}");
        assert!(err.contains("sh -c"), "{err}");
    }

    #[test]
    fn run_returns_stdout() {
        assert_eq!(run_host(&["echo", "hi"]).expect("echo"), "hi\n");
    }

    #[test]
    fn missing_program_is_exit_127() {
        let out = output_argv(&["/nonexistent/rvs-lab-prog"]);
        assert_eq!(out.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run"));
    }

    #[test]
    fn timeout_kills() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let start = Instant::now();
        let (out, timed_out) =
            try_output_timeout(&mut cmd, Duration::from_millis(200)).expect("spawn sleep");
        assert!(timed_out);
        assert!(!out.status.success());
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
