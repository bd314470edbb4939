//! Shared pieces of the end-to-end tests (`e2e_*.rs`): hosts in network
//! namespaces plugged into a real `rvsd`, JSON helpers for the CLI, frame
//! helpers and a bounded process runner.
//!
//! The hosts ([`VethHost`], [`TapHost`], [`quiet_ns`]) live in the library,
//! `rvs_lab::hosts`, which documents their cleanup. Tests declare their hosts
//! *before* the [`RvsdProcess`], so the daemon (a local declared later) is
//! dropped first.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use rvs_api::{BridgeInfo, FdbEntry, PortInfo, PortKind, PortStats, Reply, Response};
use rvs_lab::frames;
use rvs_lab::{require_root, require_tool, Netns, RawSocket, RvsdProcess};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// EtherType of the test frames (IEEE "local experimental 1").
pub const ETHERTYPE_TEST: u16 = frames::ETHERTYPE_EXPERIMENTAL;
/// How long the first ping between two hosts may take (ARP, learning).
pub const WARMUP: Duration = rvs_lab::hosts::WARMUP;
/// How long a frame that should arrive may take.
pub const ARRIVAL: Duration = Duration::from_secs(2);
/// How long we listen for a frame that must not arrive, once a frame that
/// was forwarded in the same batch has arrived elsewhere.
pub const QUIET: Duration = Duration::from_millis(250);

/// Fails loudly unless the tests can run here.
pub fn setup() {
    require_root();
    require_tool("ip");
    require_tool("ping");
    host_port_kind();
}

/// The environment variable that picks the port kind of veth hosts.
pub const PORT_KIND_VAR: &str = "RVS_E2E_PORT_KIND";

/// The kind of port an `add-port` without `--type` gives a veth host in these tests:
/// `system` unless [`PORT_KIND_VAR`] says `afxdp`. Panics on any other value.
pub fn host_port_kind() -> PortKind {
    match std::env::var(PORT_KIND_VAR) {
        Err(std::env::VarError::NotPresent) => PortKind::System,
        Ok(v) if v == "system" => PortKind::System,
        Ok(v) if v == "afxdp" => PortKind::Afxdp,
        other => panic!("{PORT_KIND_VAR} must be `system` or `afxdp`, not {other:?}"),
    }
}

/// `args` with `--type KIND` appended when they add a port without naming a type and
/// the veth hosts' kind is not the CLI's default (`system`, left implicit so the
/// default stays under test).
fn with_host_port_kind<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut full = args.to_vec();
    if args.first() == Some(&"add-port") && !args.contains(&"--type") {
        match host_port_kind() {
            PortKind::System => {}
            PortKind::Afxdp => full.extend_from_slice(&["--type", "afxdp"]),
            other => panic!("veth hosts cannot be {other} ports"),
        }
    }
    full
}

/// Whether `rvs show` reports port `p` as up, in the form its kind uses: plain `up`,
/// or for afxdp `up (afxdp MODE, copy, N queues)`.
pub fn port_is_up(p: &PortInfo) -> bool {
    match p.kind {
        PortKind::Afxdp => p.status.starts_with("up (afxdp ") && p.status.ends_with(')'),
        _ => p.status == "up",
    }
}

/// Starts a private `rvsd` (the one cargo built next to this test).
pub fn start_rvsd() -> RvsdProcess {
    RvsdProcess::start(rvs_lab::workspace_bin("rvsd"), env!("CARGO_BIN_EXE_rvs"))
        .expect("start rvsd")
}

// The hosts moved into the library (`rvs_lab::hosts`); re-exported under their old
// names so the tests read as before.
#[allow(unused_imports)] // each test binary uses a subset
pub use rvs_lab::hosts::{quiet_ns, TapHost, VethHost};

/// Runs `rvs ARGS` and panics with the daemon log unless it succeeds. An `add-port`
/// without `--type` gets the veth hosts' kind ([`host_port_kind`]).
pub fn rvs_ok(rvsd: &RvsdProcess, args: &[&str]) -> String {
    match rvsd.rvs_ok(&with_host_port_kind(args)) {
        Ok(out) => out,
        Err(e) => panic!("{e:#}\n--- rvsd log ---\n{}", rvsd.log()),
    }
}

/// `rvs --format json ARGS`, parsed.
pub fn rvs_json(rvsd: &RvsdProcess, args: &[&str]) -> Response {
    let mut full = vec!["--format", "json"];
    full.extend_from_slice(args);
    let out = rvs_ok(rvsd, &full);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("`rvs {}` printed no Response ({e}):\n{out}", full.join(" ")))
}

/// The bridges of `rvs --format json show`.
pub fn show(rvsd: &RvsdProcess) -> Vec<BridgeInfo> {
    match rvs_json(rvsd, &["show"]) {
        Response::Show { bridges } => bridges,
        other => panic!("show answered {other:?}"),
    }
}

/// The bridge `br` of `rvs --format json show`.
pub fn show_bridge(rvsd: &RvsdProcess, br: &str) -> BridgeInfo {
    show(rvsd)
        .into_iter()
        .find(|b| b.name == br)
        .unwrap_or_else(|| panic!("bridge {br} not in `rvs show`"))
}

/// `rvs --format json port-stats BR`, by port name.
pub fn port_stats(rvsd: &RvsdProcess, br: &str) -> BTreeMap<String, PortStats> {
    match rvs_json(rvsd, &["port-stats", br]) {
        Response::PortStats { ports } => ports.into_iter().map(|p| (p.port.clone(), p)).collect(),
        other => panic!("port-stats answered {other:?}"),
    }
}

/// The drop counters of one port.
pub fn drops(rvsd: &RvsdProcess, br: &str, port: &str) -> BTreeMap<String, u64> {
    port_stats(rvsd, br)
        .remove(port)
        .unwrap_or_else(|| panic!("port {port} not in `rvs port-stats {br}`"))
        .drops
}

/// A `{reason: count}` map for comparisons.
pub fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// `rvs --format json fdb-show BR`.
pub fn fdb(rvsd: &RvsdProcess, br: &str) -> Vec<FdbEntry> {
    match rvs_json(rvsd, &["fdb-show", br]) {
        Response::Fdb { entries, .. } => entries,
        other => panic!("fdb-show answered {other:?}"),
    }
}

/// A test frame payload: a marker, padded so the frame has minimum size.
pub fn payload(marker: &str) -> Vec<u8> {
    let mut p = format!("rvs-e2e {marker};").into_bytes();
    if p.len() < 46 {
        p.resize(46, b'.');
    }
    p
}

/// Whether `frame` carries `payload(marker)`.
pub fn has_marker(frame: &[u8], marker: &str) -> bool {
    let needle = format!("rvs-e2e {marker};").into_bytes();
    frame.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// The frames whose marker starts with `prefix` received during `window`.
pub fn prefixed_during(sock: &RawSocket, prefix: &str, window: Duration) -> Vec<Vec<u8>> {
    let needle = format!("rvs-e2e {prefix}").into_bytes();
    sock.recv_for(window)
        .into_iter()
        .filter(|f| f.windows(needle.len()).any(|w| w == needle.as_slice()))
        .collect()
}

/// Waits (up to [`ARRIVAL`]) for a frame with `marker`, skipping others.
pub fn recv_marked(sock: &RawSocket, marker: &str) -> Option<Vec<u8>> {
    let deadline = Instant::now() + ARRIVAL;
    for _ in 0..100_000 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return None;
        }
        let frame = sock.recv_timeout(remaining)?;
        if has_marker(&frame, marker) {
            return Some(frame);
        }
    }
    None
}

/// The frames with `marker` received during `window`.
pub fn marked_during(sock: &RawSocket, marker: &str, window: Duration) -> Vec<Vec<u8>> {
    sock.recv_for(window)
        .into_iter()
        .filter(|f| has_marker(f, marker))
        .collect()
}

/// Runs every ping attempt (`(from, to, label)`) at once, one attempt each;
/// panics naming those that got a reply.
pub fn assert_no_pings(attempts: &[(&Netns, &str, &str)]) {
    let answered: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = attempts
            .iter()
            .map(|(ns, addr, label)| {
                s.spawn(move || {
                    ns.ping(addr, Duration::from_secs(1))
                        .then(|| label.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("ping thread"))
            .collect()
    });
    assert!(
        answered.is_empty(),
        "these pings must not get through the switch but did: {answered:?}"
    );
}

/// Like [`assert_no_pings`] for pings that must get through: each retries
/// for up to [`WARMUP`].
pub fn assert_pings(attempts: &[(&Netns, &str, &str)]) {
    let failed: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = attempts
            .iter()
            .map(|(ns, addr, label)| {
                s.spawn(move || (!ns.ping_until(addr, WARMUP)).then(|| label.to_string()))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("ping thread"))
            .collect()
    });
    assert!(failed.is_empty(), "these pings got no reply: {failed:?}");
}

/// A fresh empty directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rvs-e2e-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd` with stdout and stderr captured; kills it after `limit`.
/// Panics if it cannot be started or had to be killed.
pub fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let mut status = None;
    for _ in 0..(limit.as_millis() / 10 + 1) {
        if let Some(s) = child.try_wait().expect("wait for child") {
            status = Some(s);
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not finish within {limit:?} and was killed");
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// A connection to rvsd's control socket that bypasses the CLI.
pub struct RawClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl RawClient {
    pub fn connect(socket: &Path) -> RawClient {
        let s = UnixStream::connect(socket)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()));
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        s.set_write_timeout(Some(Duration::from_secs(10)))
            .expect("write timeout");
        RawClient {
            reader: BufReader::new(s.try_clone().expect("clone stream")),
            writer: s,
        }
    }

    /// Sends `bytes` as they are (add the newline yourself).
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// Tells the daemon we will send nothing more.
    pub fn shutdown_write(&self) -> std::io::Result<()> {
        self.writer.shutdown(std::net::Shutdown::Write)
    }

    /// Reads one reply line; `None` if the daemon closed the connection.
    /// Panics on a timeout or a line that is not a `Reply`.
    pub fn reply(&mut self) -> Option<Reply> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("reply is not a Reply ({e}): {line:?}")),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("reading a reply from rvsd: {e}"),
        }
    }

    /// Sends one line and reads the reply.
    pub fn call(&mut self, line: &[u8]) -> Option<Reply> {
        let mut bytes = line.to_vec();
        bytes.push(b'\n');
        self.send(&bytes).expect("send request");
        self.reply()
    }
}
