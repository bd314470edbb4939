//! Runs the built `rvs` binary against a missing daemon, a stale socket and a fake
//! daemon (a `UnixListener` in a thread that checks the request and sends a canned reply).
//! Every wait is bounded: sockets have timeouts, the child and the fake daemon deadlines.

use rvs_api::{
    ApiError, BridgeInfo, Envelope, ErrorKind, FdbEntry, PortInfo, PortKind, PortStats,
    PortVlanChange, Reply, Request, Response, VlanMode, VlanSpec, PROTOCOL_VERSION,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const CHILD_DEADLINE: Duration = Duration::from_secs(30);
const DAEMON_DEADLINE: Duration = Duration::from_secs(30);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("rvs-cli-test-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn socket(&self) -> PathBuf {
        self.0.join(rvs_api::SOCKET_NAME)
    }
    fn arg(&self) -> &str {
        self.0.to_str().expect("temp dir is UTF-8")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn drain(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Runs `rvs` with `args` (RVS_RUN_DIR removed unless given in `env`), killing it after a deadline.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rvs"));
    cmd.args(args)
        .env_remove("RVS_RUN_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn rvs");
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait rvs") {
            break status;
        }
        if start.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rvs {args:?} did not finish within {CHILD_DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        code: status.code().expect("rvs exited by signal"),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn run(args: &[&str]) -> Outcome {
    run_env(args, &[])
}

/// Asserts stderr is exactly one line `rvs: <msg>` and returns `<msg>`.
fn one_error_line(o: &Outcome) -> &str {
    let line = o
        .stderr
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("stderr must end in a newline: {:?}", o.stderr));
    assert!(
        !line.contains('\n'),
        "stderr must be one line: {:?}",
        o.stderr
    );
    line.strip_prefix("rvs: ")
        .unwrap_or_else(|| panic!("stderr must start with 'rvs: ': {:?}", o.stderr))
}

/// What the fake daemon answers.
enum Answer {
    Reply(Reply),
    Raw(&'static str),
    /// Read the request, then say nothing until the client hangs up.
    Silence,
}

/// A one-connection fake rvsd. `finish` reports what the daemon thread saw.
struct FakeDaemon {
    done: mpsc::Receiver<Result<(), String>>,
}

impl FakeDaemon {
    fn start(dir: &TempDir, expected: Request, answer: Answer) -> FakeDaemon {
        let listener = UnixListener::bind(dir.socket()).expect("bind fake rvsd socket");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let (tx, done) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(serve_one(&listener, &expected, answer));
        });
        FakeDaemon { done }
    }

    fn finish(self) {
        match self.done.recv_timeout(DAEMON_DEADLINE) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("fake rvsd: {e}"),
            Err(e) => panic!("fake rvsd did not finish: {e}"),
        }
    }
}

fn serve_one(listener: &UnixListener, expected: &Request, answer: Answer) -> Result<(), String> {
    let start = Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if start.elapsed() > DAEMON_DEADLINE {
                    return Err("no client connected".into());
                }
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("read request: {e}"))?;
    if !line.ends_with('\n') || line.trim_end().contains('\n') {
        return Err(format!(
            "request must be one line ending in a newline: {line:?}"
        ));
    }
    let env: Envelope =
        serde_json::from_str(&line).map_err(|e| format!("request {line:?} is no Envelope: {e}"))?;
    if env.version != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {} != {PROTOCOL_VERSION}",
            env.version
        ));
    }
    if &env.request != expected {
        return Err(format!(
            "request {:?} != expected {expected:?}",
            env.request
        ));
    }
    let mut w = &stream;
    match answer {
        Answer::Reply(r) => {
            let mut s = serde_json::to_string(&r).map_err(|e| e.to_string())?;
            s.push('\n');
            w.write_all(s.as_bytes())
                .map_err(|e| format!("write reply: {e}"))?;
        }
        Answer::Raw(s) => w
            .write_all(s.as_bytes())
            .map_err(|e| format!("write reply: {e}"))?,
        Answer::Silence => {
            // Wait (bounded by the read timeout) for the client to give up and close.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        }
    }
    Ok(())
}

fn ok(r: Response) -> Answer {
    Answer::Reply(Reply::Ok(r))
}

fn sample_show() -> Vec<BridgeInfo> {
    vec![BridgeInfo {
        datapath_thread: None,
        name: "br0".into(),
        mac_aging_secs: 300,
        mac_table_size: 8192,
        ports: vec![
            PortInfo {
                datapath_thread: None,
                datapath_threads: Vec::new(),
                name: "veth-a".into(),
                kind: PortKind::System,
                vlan: VlanSpec {
                    tag: Some(10),
                    trunks: vec![],
                    mode: None,
                },
                vlan_mode: VlanMode::Access,
                status: "up".into(),
                netns: None,
                peer: None,
            },
            PortInfo {
                datapath_thread: None,
                datapath_threads: Vec::new(),
                name: "tap1".into(),
                kind: PortKind::Tap,
                vlan: VlanSpec {
                    tag: None,
                    trunks: vec![10, 20],
                    mode: None,
                },
                vlan_mode: VlanMode::Trunk,
                status: "up".into(),
                netns: Some("h3".into()),
                peer: None,
            },
        ],
    }]
}

#[test]
fn missing_socket_is_exit_3_with_start_hint() {
    let dir = TempDir::new("nosock");
    let o = run(&["--run-dir", dir.arg(), "show"]);
    assert_eq!(o.code, 3, "stderr: {}", o.stderr);
    assert_eq!(o.stdout, "");
    let msg = one_error_line(&o);
    assert_eq!(
        msg,
        format!(
            "rvsd is not running (no socket at {}); start it with: rvsd --run-dir {}",
            dir.socket().display(),
            dir.arg()
        )
    );

    // A run dir that does not exist at all is the same situation.
    let missing = dir.path().join("missing");
    let o = run(&["--run-dir", missing.to_str().unwrap(), "list-br"]);
    assert_eq!(o.code, 3);
    assert!(one_error_line(&o).starts_with("rvsd is not running (no socket at "));
}

#[test]
fn stale_socket_is_exit_3() {
    let dir = TempDir::new("stale");
    drop(UnixListener::bind(dir.socket()).expect("bind"));
    assert!(
        dir.socket().exists(),
        "socket file stays after the listener is gone"
    );
    let o = run(&["--run-dir", dir.arg(), "list-br"]);
    assert_eq!(o.code, 3);
    let msg = one_error_line(&o);
    assert!(
        msg.starts_with("rvsd is not running (nothing listens on "),
        "{msg}"
    );
    assert!(
        msg.ends_with(&format!("start it with: rvsd --run-dir {}", dir.arg())),
        "{msg}"
    );
}

#[test]
fn owner_only_socket_gives_permission_hint() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = TempDir::new("perm");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    let _listener = UnixListener::bind(dir.socket()).expect("bind");
    std::fs::set_permissions(dir.socket(), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // The superuser ignores file modes, so the client runs as an unprivileged user ("nobody")
    // from a copy of the binary that user can execute.
    let bin = dir.path().join("rvs");
    std::fs::copy(env!("CARGO_BIN_EXE_rvs"), &bin).expect("copy rvs");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod bin");
    let mut cmd = Command::new(&bin);
    cmd.args(["--run-dir", dir.arg(), "show"])
        .env_remove("RVS_RUN_DIR");
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().expect("run rvs");
    let o = Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(o.code, 3, "{o:?}");
    let msg = one_error_line(&o);
    assert!(msg.starts_with("permission denied on "), "{msg}");
    assert!(msg.contains("owner-only"), "{msg}");
}

#[test]
fn change_command_succeeds_silently() {
    let dir = TempDir::new("addport");
    let daemon = FakeDaemon::start(
        &dir,
        Request::AddPort {
            bridge: "br0".into(),
            name: "veth-a".into(),
            kind: PortKind::Tap,
            vlan: VlanSpec {
                tag: Some(10),
                trunks: vec![],
                mode: Some(VlanMode::Access),
            },
            may_exist: true,
            peer: None,
            ofport: None,
            queues: None,
        },
        ok(Response::Done),
    );
    let o = run(&[
        "--run-dir",
        dir.arg(),
        "add-port",
        "br0",
        "veth-a",
        "--type",
        "tap",
        "--tag",
        "10",
        "--vlan-mode",
        "access",
        "--may-exist",
    ]);
    daemon.finish();
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
}

#[test]
fn set_port_sends_the_vlan_change() {
    let dir = TempDir::new("setport");
    let daemon = FakeDaemon::start(
        &dir,
        Request::SetPort {
            bridge: "br0".into(),
            name: "p1".into(),
            change: PortVlanChange {
                tag: Some(Some(20)),
                trunks: Some(vec![10, 20, 21, 22]),
                vlan_mode: Some(Some(VlanMode::NativeTagged)),
            },
        },
        ok(Response::Done),
    );
    let o = run(&[
        "--run-dir",
        dir.arg(),
        "set-port",
        "br0",
        "p1",
        "--tag",
        "20",
        "--trunks",
        "20-22,10",
        "--vlan-mode",
        "native-tagged",
    ]);
    daemon.finish();
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
}

#[test]
fn no_tag_reaches_rvsd_as_clear_or_is_refused() {
    let change = PortVlanChange {
        tag: Some(None),
        trunks: None,
        vlan_mode: None,
    };
    let wire = serde_json::to_string(&change).unwrap();
    let survives = serde_json::from_str::<PortVlanChange>(&wire).unwrap() == change;
    let dir = TempDir::new("notag");
    if survives {
        let daemon = FakeDaemon::start(
            &dir,
            Request::SetPort {
                bridge: "br0".into(),
                name: "p1".into(),
                change,
            },
            ok(Response::Done),
        );
        let o = run(&["--run-dir", dir.arg(), "set-port", "br0", "p1", "--no-tag"]);
        daemon.finish();
        assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    } else {
        // The protocol cannot tell "clear" from "leave as is": rvs must refuse rather than
        // report success for a change rvsd would never make. No socket: nothing is sent.
        let o = run(&["--run-dir", dir.arg(), "set-port", "br0", "p1", "--no-tag"]);
        assert_eq!(o.code, 2, "stderr: {}", o.stderr);
        assert!(
            one_error_line(&o).starts_with("--no-tag cannot be sent: "),
            "{}",
            o.stderr
        );
    }
}

#[test]
fn daemon_refusal_is_exit_1_with_its_message() {
    let dir = TempDir::new("refuse");
    let daemon = FakeDaemon::start(
        &dir,
        Request::DelBridge {
            name: "br9".into(),
            if_exists: false,
        },
        Answer::Reply(Reply::Error(ApiError::new(
            ErrorKind::NoSuchBridge,
            "no bridge named 'br9'",
        ))),
    );
    let o = run(&["--run-dir", dir.arg(), "del-br", "br9"]);
    daemon.finish();
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert_eq!(o.stderr, "rvs: no bridge named 'br9'\n");
}

#[test]
fn protocol_error_reply_is_printed() {
    let dir = TempDir::new("proto");
    let daemon = FakeDaemon::start(
        &dir,
        Request::ListBridges,
        Answer::Reply(Reply::Error(ApiError::new(
            ErrorKind::Protocol,
            "unsupported protocol version 1 (rvsd speaks 2)",
        ))),
    );
    let o = run(&["--run-dir", dir.arg(), "list-br"]);
    daemon.finish();
    assert_eq!(o.code, 1);
    assert_eq!(
        one_error_line(&o),
        "unsupported protocol version 1 (rvsd speaks 2)"
    );
}

#[test]
fn show_prints_the_tree() {
    let dir = TempDir::new("show");
    let daemon = FakeDaemon::start(
        &dir,
        Request::Show,
        ok(Response::Show {
            bridges: sample_show(),
        }),
    );
    let o = run(&["--run-dir", dir.arg(), "show"]);
    daemon.finish();
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    assert_eq!(o.stderr, "");
    assert_eq!(
        o.stdout,
        "Bridge br0\n    mac_aging: 300s  mac_table_size: 8192\n    Port veth-a\n        \
         type: system  vlan: access tag=10  status: up\n    Port tap1\n        \
         type: tap  vlan: trunk trunks=10,20  status: up  netns: h3\n"
    );
}

#[test]
fn run_dir_comes_from_the_environment() {
    let dir = TempDir::new("env");
    let daemon = FakeDaemon::start(
        &dir,
        Request::ListPorts {
            bridge: "br0".into(),
        },
        ok(Response::Ports {
            ports: vec!["veth-a".into(), "tap1".into()],
        }),
    );
    let o = run_env(&["list-ports", "br0"], &[("RVS_RUN_DIR", dir.arg())]);
    daemon.finish();
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "veth-a\ntap1\n", "")
    );
}

#[test]
fn json_output_parses() {
    let dir = TempDir::new("json-show");
    let daemon = FakeDaemon::start(
        &dir,
        Request::Show,
        ok(Response::Show {
            bridges: sample_show(),
        }),
    );
    let o = run(&["--run-dir", dir.arg(), "--format", "json", "show"]);
    daemon.finish();
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let back: Response = serde_json::from_str(&o.stdout).expect("show JSON parses as a Response");
    assert_eq!(
        back,
        Response::Show {
            bridges: sample_show()
        }
    );

    let dir = TempDir::new("json-fdb");
    let entries = vec![FdbEntry {
        port: "veth-a".into(),
        vlan: 10,
        mac: "52:54:00:00:00:01".into(),
        age_secs: 3,
    }];
    let daemon = FakeDaemon::start(
        &dir,
        Request::FdbShow {
            bridge: "br0".into(),
        },
        ok(Response::Fdb {
            entries: entries.clone(),
            summary: Default::default(),
        }),
    );
    let o = run(&[
        "--run-dir",
        dir.arg(),
        "--format",
        "json",
        "fdb-show",
        "br0",
    ]);
    daemon.finish();
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("fdb JSON");
    assert_eq!(v["kind"], "fdb");
    assert_eq!(v["entries"][0]["mac"], "52:54:00:00:00:01");

    let dir = TempDir::new("json-stats");
    let stats = vec![PortStats {
        port: "veth-a".into(),
        rx_packets: 5,
        ..Default::default()
    }];
    let daemon = FakeDaemon::start(
        &dir,
        Request::PortStats {
            bridge: "br0".into(),
        },
        ok(Response::PortStats {
            ports: stats.clone(),
        }),
    );
    // Global options are also accepted after the verb.
    let o = run(&[
        "port-stats",
        "br0",
        "--run-dir",
        dir.arg(),
        "--format",
        "json",
    ]);
    daemon.finish();
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let back: Response = serde_json::from_str(&o.stdout).expect("port-stats JSON");
    assert_eq!(back, Response::PortStats { ports: stats });

    let dir = TempDir::new("json-ver");
    let daemon = FakeDaemon::start(
        &dir,
        Request::Ping,
        ok(Response::Pong {
            daemon_version: "1.2.3".into(),
            protocol: PROTOCOL_VERSION,
            pid: 77,
        }),
    );
    let o = run(&["--run-dir", dir.arg(), "--format", "json", "version"]);
    daemon.finish();
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("version JSON");
    assert_eq!(v["cli_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["daemon"]["version"], "1.2.3");
    assert_eq!(v["daemon"]["pid"], 77);
}

#[test]
fn version_text_with_and_without_daemon() {
    let dir = TempDir::new("ver");
    let daemon = FakeDaemon::start(
        &dir,
        Request::Ping,
        ok(Response::Pong {
            daemon_version: "1.2.3".into(),
            protocol: PROTOCOL_VERSION,
            pid: 77,
        }),
    );
    let o = run(&["--run-dir", dir.arg(), "version"]);
    daemon.finish();
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        format!(
            "rvs {} (protocol {PROTOCOL_VERSION})\nrvsd 1.2.3 (protocol 1, pid 77)\n",
            env!("CARGO_PKG_VERSION")
        )
    );

    let empty = TempDir::new("ver-none");
    let o = run(&["--run-dir", empty.arg(), "version"]);
    assert_eq!(o.code, 0);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{:?}", o.stdout);
    assert!(
        lines[1].starts_with("rvsd: not reachable: rvsd is not running"),
        "{}",
        lines[1]
    );
}

#[test]
fn malformed_reply_is_one_line_exit_3() {
    let dir = TempDir::new("garbage");
    let daemon = FakeDaemon::start(
        &dir,
        Request::ListBridges,
        Answer::Raw("this is not json\n"),
    );
    let o = run(&["--run-dir", dir.arg(), "list-br"]);
    daemon.finish();
    assert_eq!(o.code, 3);
    assert!(
        one_error_line(&o).starts_with("malformed reply from rvsd: "),
        "{}",
        o.stderr
    );

    // A well-formed reply of the wrong kind is refused too.
    let dir = TempDir::new("wrongkind");
    let daemon = FakeDaemon::start(&dir, Request::ListBridges, ok(Response::Done));
    let o = run(&["--run-dir", dir.arg(), "list-br"]);
    daemon.finish();
    assert_eq!(o.code, 3);
    assert_eq!(
        one_error_line(&o),
        "unexpected reply from rvsd: expected 'bridges', got 'done'"
    );

    // The daemon hangs up without answering.
    let dir = TempDir::new("hangup");
    let daemon = FakeDaemon::start(&dir, Request::Show, Answer::Raw(""));
    let o = run(&["--run-dir", dir.arg(), "show"]);
    daemon.finish();
    assert_eq!(o.code, 3);
    assert!(
        one_error_line(&o).starts_with("rvsd closed the connection"),
        "{}",
        o.stderr
    );
}

#[test]
fn silent_daemon_times_out() {
    let dir = TempDir::new("silent");
    let daemon = FakeDaemon::start(&dir, Request::Show, Answer::Silence);
    let start = Instant::now();
    let o = run(&["--run-dir", dir.arg(), "--timeout", "1", "show"]);
    let took = start.elapsed();
    daemon.finish();
    assert_eq!(o.code, 3);
    assert!(
        one_error_line(&o).starts_with("rvsd did not answer within 1s"),
        "{}",
        o.stderr
    );
    assert!(took < Duration::from_secs(15), "timeout took {took:?}");
}

#[test]
fn usage_errors_are_exit_2_without_contacting_rvsd() {
    // No socket in this dir: contacting rvsd would be exit 3.
    let dir = TempDir::new("usage");
    let o = run(&[
        "--run-dir",
        dir.arg(),
        "add-port",
        "br0",
        "p1",
        "--tag",
        "5000",
    ]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stderr, "rvs: invalid VLAN 5000: outside 1-4094\n");
    let o = run(&[
        "--run-dir",
        dir.arg(),
        "set-port",
        "br0",
        "p1",
        "--tag",
        "abc",
    ]);
    assert_eq!(o.code, 2);
    assert_eq!(one_error_line(&o), "invalid VLAN 'abc': not a number");
    let o = run(&["--run-dir", dir.arg(), "add-br", "this-name-is-too-long"]);
    assert_eq!(o.code, 2);
    assert!(one_error_line(&o).starts_with("invalid bridge name 'this-name-is-too-long'"));
    let o = run(&[
        "--run-dir",
        dir.arg(),
        "set-port",
        "br0",
        "p1",
        "--tag",
        "10",
        "--no-tag",
    ]);
    assert_eq!(o.code, 2);
    assert!(
        one_error_line(&o).contains("cannot be used with"),
        "{}",
        o.stderr
    );
    let o = run(&["--run-dir", dir.arg(), "set-br", "br0"]);
    assert_eq!(o.code, 2);
    assert_eq!(
        one_error_line(&o),
        "set-br needs at least one of --mac-aging, --mac-table-size"
    );
    let o = run(&["--run-dir", dir.arg(), "no-such-verb"]);
    assert_eq!(o.code, 2);
    one_error_line(&o);
}

/// The OpenFlow request `add-flow FLOW` sends: the flow mod (xid 1) and a barrier (xid 2).
fn add_flow_request(flow: &str) -> (Request, Vec<u8>) {
    use rvs_openflow::{FlowModCommand, Message};
    let fm = rvs_ofctl::parse_flow(flow, FlowModCommand::Add, false).expect("valid flow");
    let mod_bytes = Message::FlowMod(fm).encode(1).expect("encodes");
    let barrier = Message::BarrierRequest.encode(2).expect("encodes");
    (
        Request::OpenFlow {
            bridge: "br0".into(),
            messages: vec![
                rvs_api::HexBytes(mod_bytes.clone()),
                rvs_api::HexBytes(barrier),
            ],
        },
        mod_bytes,
    )
}

#[test]
fn add_flow_prints_nothing_after_the_barrier_reply() {
    use rvs_openflow::Message;
    let dir = TempDir::new("addflow");
    let (request, _) = add_flow_request("in_port=1,actions=output:2");
    let reply = Message::BarrierReply.encode(2).expect("encodes");
    let daemon = FakeDaemon::start(
        &dir,
        request,
        ok(Response::OpenFlow {
            messages: vec![rvs_api::HexBytes(reply)],
        }),
    );
    let o = run(&[
        "--run-dir",
        dir.arg(),
        "add-flow",
        "br0",
        "in_port=1,actions=output:2",
    ]);
    daemon.finish();
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
}

#[test]
fn openflow_error_reply_is_exit_1_with_its_names() {
    use rvs_openflow::error::{BadMatchCode, ErrorCode};
    use rvs_openflow::{ErrorMsg, Message};
    let dir = TempDir::new("oferr");
    let flow = "priority=5,ip,actions=drop";
    let (request, mod_bytes) = add_flow_request(flow);
    let err = Message::Error(ErrorMsg::reply_to(
        ErrorCode::BadMatch(BadMatchCode::BadPrereq),
        &mod_bytes,
    ));
    let replies = [err.encode(1), Message::BarrierReply.encode(2)]
        .into_iter()
        .map(|m| rvs_api::HexBytes(m.expect("encodes")))
        .collect();
    let daemon = FakeDaemon::start(&dir, request, ok(Response::OpenFlow { messages: replies }));
    let o = run(&["--run-dir", dir.arg(), "add-flow", "br0", flow]);
    daemon.finish();
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert_eq!(
        one_error_line(&o),
        "OpenFlow error: BAD_MATCH/BAD_PREREQ: refused: priority=5,ip,actions=drop"
    );
}

#[test]
fn flow_syntax_error_is_exit_2_with_a_caret() {
    let o = run(&[
        "--run-dir",
        "/nonexistent/rvs-oc-test",
        "add-flow",
        "br0",
        "priority=10,nw_sr=1.2.3.4,actions=drop",
    ]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.stderr,
        "rvs: unknown field 'nw_sr'\n  priority=10,nw_sr=1.2.3.4,actions=drop\n              ^^^^^\n"
    );
}

#[test]
fn dump_flows_prints_ovs_ofctl_lines() {
    use rvs_openflow::multipart::{
        FlowStats, FlowStatsRequest, MultipartReply, MultipartReplyBody, MultipartRequest,
        MultipartRequestBody,
    };
    use rvs_openflow::{FlowModCommand, Message};
    let dir = TempDir::new("dumpflows");
    let request = Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Flow(
        FlowStatsRequest::all(),
    )));
    let fm = rvs_ofctl::parse_flow(
        "priority=100,tcp,tp_dst=80,actions=output:2",
        FlowModCommand::Add,
        false,
    )
    .expect("flow");
    let reply = Message::MultipartReply(MultipartReply {
        flags: 0,
        body: MultipartReplyBody::Flow(vec![FlowStats {
            table_id: 0,
            duration_sec: 5,
            duration_nsec: 0,
            priority: fm.priority,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie: 0x10,
            packet_count: 2,
            byte_count: 140,
            match_: fm.match_,
            instructions: fm.instructions,
        }]),
    });
    let daemon = FakeDaemon::start(
        &dir,
        Request::OpenFlow {
            bridge: "br0".into(),
            messages: vec![rvs_api::HexBytes(request.encode(1).expect("encodes"))],
        },
        ok(Response::OpenFlow {
            messages: vec![rvs_api::HexBytes(reply.encode(1).expect("encodes"))],
        }),
    );
    let o = run(&["--run-dir", dir.arg(), "dump-flows", "br0"]);
    daemon.finish();
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    assert_eq!(
        o.stdout,
        " cookie=0x10, duration=5s, table=0, n_packets=2, n_bytes=140, priority=100,tcp,tp_dst=80 actions=output:2\n"
    );
}
