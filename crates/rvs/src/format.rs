//! Rendering of daemon responses as text or JSON. Every function returns a `String`
//! (ending in a newline unless empty) so tests can check the exact output.

use crate::cli::{Command, OutputFormat};
use crate::client::ClientError;
use rvs_api::{
    ApiError, BridgeInfo, DpThreadInfo, FdbEntry, PortStats, Response, VlanSpec, PROTOCOL_VERSION,
};
use serde::Serialize;
use std::fmt::Write as _;

/// Version of this CLI.
pub const CLI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `kind` tag of a response, as on the wire.
pub fn response_kind(response: &Response) -> &'static str {
    match response {
        Response::Done => "done",
        Response::Pong { .. } => "pong",
        Response::Bridges { .. } => "bridges",
        Response::Ports { .. } => "ports",
        Response::Show { .. } => "show",
        Response::Fdb { .. } => "fdb",
        Response::PortStats { .. } => "port-stats",
        Response::OpenFlow { .. } => "open-flow",
        Response::Trace { .. } => "trace",
        Response::OfShow { .. } => "of-show",
        Response::DpThreads { .. } => "dp-threads",
    }
}

/// The response kind that answers a verb.
pub fn expected_kind(command: &Command) -> &'static str {
    match command {
        Command::AddBr(_)
        | Command::DelBr(_)
        | Command::SetBr(_)
        | Command::AddPort(_)
        | Command::SetPort(_)
        | Command::DelPort(_)
        | Command::FdbFlush(_) => "done",
        Command::ListBr => "bridges",
        Command::ListPorts(_) => "ports",
        Command::Show => "show",
        Command::DpThreads => "dp-threads",
        Command::FdbShow(_) => "fdb",
        Command::PortStats(_) => "port-stats",
        Command::Version => "pong",
        // `rvs lab` renders its own output.
        Command::Lab(_) => "lab",
        Command::SetController(_)
        | Command::DelController(_)
        | Command::SetFailMode(_)
        | Command::SetDpid(_) => "done",
        Command::GetController(_) | Command::GetFailMode(_) | Command::OfShow(_) => "of-show",
        Command::Trace(_) => "trace",
        Command::AddFlow(_)
        | Command::AddFlows(_)
        | Command::ModFlows(_)
        | Command::DelFlows(_)
        | Command::DumpFlows(_)
        | Command::AddGroup(_)
        | Command::ModGroup(_)
        | Command::DelGroups(_)
        | Command::DumpGroups(_)
        | Command::DumpGroupStats(_)
        | Command::AddMeter(_)
        | Command::ModMeter(_)
        | Command::DelMeters(_)
        | Command::DumpMeters(_)
        | Command::MeterStats(_)
        | Command::DumpPorts(_)
        | Command::DumpPortsDesc(_)
        | Command::DumpTables(_) => "open-flow",
    }
}

/// Pretty JSON followed by a newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    // Serializing these plain data types cannot fail (string keys, no custom impls).
    let mut s = serde_json::to_string_pretty(value)
        .unwrap_or_else(|e| format!("\"<unserializable: {e}>\""));
    s.push('\n');
    s
}

/// One name per line.
pub fn names(names: &[String]) -> String {
    names.iter().map(|n| format!("{n}\n")).collect()
}

/// `ovs-vsctl show`-like listing of bridges and ports.
pub fn show(bridges: &[BridgeInfo]) -> String {
    let mut out = String::new();
    for b in bridges {
        let _ = writeln!(out, "Bridge {}", b.name);
        let _ = write!(
            out,
            "    mac_aging: {}s  mac_table_size: {}",
            b.mac_aging_secs, b.mac_table_size
        );
        match b.datapath_thread {
            Some(t) => {
                let _ = writeln!(out, "  datapath thread: dp{t}");
            }
            None => out.push('\n'),
        }
        for p in &b.ports {
            // Print the mode the daemon reports as effective.
            let vlan = VlanSpec {
                mode: Some(p.vlan_mode),
                ..p.vlan.clone()
            }
            .describe();
            let _ = writeln!(out, "    Port {}", p.name);
            let _ = write!(
                out,
                "        type: {}  vlan: {vlan}  status: {}",
                p.kind, p.status
            );
            if let Some(peer) = &p.peer {
                let _ = write!(out, "  peer: {peer}");
            }
            if p.datapath_threads.len() > 1 {
                let list: Vec<String> = p
                    .datapath_threads
                    .iter()
                    .map(|t| format!("dp{t}"))
                    .collect();
                let _ = write!(out, "  threads: {}", list.join(","));
            } else if let Some(t) = p.datapath_thread {
                let _ = write!(out, "  thread: dp{t}");
            }
            if let Some(ns) = &p.netns {
                let _ = write!(out, "  netns: {ns}");
            }
            out.push('\n');
        }
    }
    out
}

fn fdb_row(port: &str, vlan: &str, mac: &str, age: &str) -> String {
    format!(" {port:<15} {vlan:>5}  {mac:<17}  {age:>3}\n")
}

/// `ovs-appctl fdb/show`-like table, sorted by VLAN, then MAC, then port.
pub fn fdb(entries: &[FdbEntry]) -> String {
    let mut sorted: Vec<&FdbEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        (a.vlan, a.mac.to_ascii_lowercase(), &a.port).cmp(&(
            b.vlan,
            b.mac.to_ascii_lowercase(),
            &b.port,
        ))
    });
    let mut out = fdb_row("port", "VLAN", "MAC", "Age");
    for e in sorted {
        out.push_str(&fdb_row(
            &e.port,
            &e.vlan.to_string(),
            &e.mac,
            &e.age_secs.to_string(),
        ));
    }
    out
}

/// One line under the fdb table: size, limit, aging, moves, evictions.
pub fn fdb_summary(s: &rvs_api::FdbSummary) -> String {
    format!(
        "{} entries (limit {}), aging {}s, station moves {}, evictions {}\n",
        s.entries, s.limit, s.aging_secs, s.moves, s.evictions
    )
}

/// Each datapath thread, with its bridges and receive queues.
pub fn dp_threads(threads: &[DpThreadInfo]) -> String {
    let mut out = String::new();
    for t in threads {
        let _ = write!(
            out,
            "{} (tid {}): poll {}  cpu {} ms  sleeps {}  polls {} (hits {})",
            t.name, t.tid, t.poll_mode, t.cpu_ms, t.sleeps, t.polls, t.poll_hits
        );
        match t.cpu {
            Some(c) => {
                let _ = writeln!(out, "  pinned to CPU {c}");
            }
            None => out.push('\n'),
        }
        let _ = writeln!(out, "    frames: rx {}  tx {}", t.rx_packets, t.tx_packets);
        let _ = writeln!(
            out,
            "    bridges: {}",
            if t.bridges.is_empty() {
                "-".to_string()
            } else {
                t.bridges.join(" ")
            }
        );
        for q in &t.rx_queues {
            let _ = writeln!(out, "    rx {q}");
        }
    }
    out
}

/// Per-port counters, with one indented line for software offload work (when there was
/// any), one per nonzero drop reason and, for multi-queue ports, one per queue.
pub fn port_stats(ports: &[PortStats]) -> String {
    let mut out = String::new();
    for p in ports {
        let _ = writeln!(
            out,
            "port {}: rx pkts={} bytes={}  tx pkts={} bytes={}  drops={}",
            p.port,
            p.rx_packets,
            p.rx_bytes,
            p.tx_packets,
            p.tx_bytes,
            p.total_drops()
        );
        if p.sw_csum != 0 || p.sw_segments != 0 {
            let _ = writeln!(
                out,
                "    software offload: csum={} segments={}",
                p.sw_csum, p.sw_segments
            );
        }
        for (reason, n) in p.drops.iter().filter(|(_, n)| **n != 0) {
            let _ = writeln!(out, "    drop {reason}={n}");
        }
        for (i, q) in p.queues.iter().enumerate() {
            let _ = writeln!(
                out,
                "    queue {i}: rx pkts={}  tx pkts={}",
                q.rx_packets, q.tx_packets
            );
        }
    }
    out
}

/// What `version` learned about the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum DaemonVersion {
    /// rvsd answered the ping.
    Answered {
        daemon_version: String,
        protocol: u32,
        pid: u32,
    },
    /// rvsd answered with an error (e.g. a protocol version mismatch).
    Refused(ApiError),
    /// rvsd could not be asked; the reason, as one line.
    Unreachable(String),
}

#[derive(Serialize)]
struct DaemonJson<'a> {
    version: &'a str,
    protocol: u32,
    pid: u32,
}

#[derive(Serialize)]
struct VersionJson<'a> {
    cli_version: &'a str,
    cli_protocol: u32,
    daemon: Option<DaemonJson<'a>>,
    daemon_error: Option<String>,
}

/// Output of `version`.
pub fn version(format: OutputFormat, daemon: &DaemonVersion) -> String {
    match format {
        OutputFormat::Json => {
            let (d, error) = match daemon {
                DaemonVersion::Answered {
                    daemon_version,
                    protocol,
                    pid,
                } => (
                    Some(DaemonJson {
                        version: daemon_version,
                        protocol: *protocol,
                        pid: *pid,
                    }),
                    None,
                ),
                DaemonVersion::Refused(e) => (None, Some(e.message.clone())),
                DaemonVersion::Unreachable(m) => (None, Some(m.clone())),
            };
            json(&VersionJson {
                cli_version: CLI_VERSION,
                cli_protocol: PROTOCOL_VERSION,
                daemon: d,
                daemon_error: error,
            })
        }
        OutputFormat::Text => {
            let mut out = format!("rvs {CLI_VERSION} (protocol {PROTOCOL_VERSION})\n");
            let _ = match daemon {
                DaemonVersion::Answered {
                    daemon_version,
                    protocol,
                    pid,
                } => {
                    writeln!(
                        out,
                        "rvsd {daemon_version} (protocol {protocol}, pid {pid})"
                    )
                }
                DaemonVersion::Refused(e) => writeln!(out, "rvsd: refused ping: {}", e.message),
                DaemonVersion::Unreachable(m) => writeln!(out, "rvsd: not reachable: {m}"),
            };
            out
        }
    }
}

/// Renders the daemon's answer to `command` (any verb but `version`).
/// A response of the wrong kind is an error: the daemon and CLI disagree.
pub fn render(
    command: &Command,
    response: &Response,
    format: OutputFormat,
) -> Result<String, ClientError> {
    let expected = expected_kind(command);
    let got = response_kind(response);
    if expected != got {
        return Err(ClientError::Unexpected { expected, got });
    }
    if format == OutputFormat::Json {
        return Ok(json(response));
    }
    Ok(match response {
        Response::Done | Response::Pong { .. } => String::new(),
        Response::Bridges { bridges } => names(bridges),
        Response::Ports { ports } => names(ports),
        Response::Show { bridges } => show(bridges),
        Response::Fdb { entries, summary } => fdb(entries) + &fdb_summary(summary),
        Response::PortStats { ports } => port_stats(ports),
        // Formatted by the OpenFlow commands themselves.
        Response::OpenFlow { .. } | Response::OfShow { .. } => String::new(),
        Response::Trace { text, .. } => text.clone(),
        Response::DpThreads { threads } => dp_threads(threads),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{BridgeArg, Command};
    use rvs_api::{ErrorKind, PortInfo, PortKind, QueueStats, VlanMode};
    use std::collections::BTreeMap;

    fn sample_show() -> Vec<BridgeInfo> {
        vec![
            BridgeInfo {
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
                    PortInfo {
                        datapath_thread: None,
                        datapath_threads: Vec::new(),
                        name: "up0".into(),
                        kind: PortKind::Internal,
                        vlan: VlanSpec {
                            tag: Some(5),
                            trunks: vec![6, 7, 8],
                            mode: Some(VlanMode::NativeUntagged),
                        },
                        vlan_mode: VlanMode::NativeUntagged,
                        status: "down: no such device".into(),
                        netns: None,
                        peer: None,
                    },
                ],
            },
            BridgeInfo {
                datapath_thread: None,
                name: "br1".into(),
                mac_aging_secs: 60,
                mac_table_size: 16,
                ports: vec![],
            },
        ]
    }

    #[test]
    fn dp_threads_text_is_exact() {
        let t = DpThreadInfo {
            name: "rvs-dp0".into(),
            tid: 41,
            poll_mode: "adaptive (up to 100 us)".into(),
            bridges: vec!["br0".into()],
            rx_queues: vec!["br0/a".into(), "br0/vm q0".into(), "br0/vm q1".into()],
            sleeps: 5,
            polls: 7,
            poll_hits: 2,
            cpu_ms: 30,
            cpu: None,
            rx_packets: 100,
            tx_packets: 99,
        };
        let idle = DpThreadInfo {
            name: "rvs-dp1".into(),
            tid: 42,
            poll_mode: "busy".into(),
            cpu: Some(1),
            bridges: vec![],
            rx_queues: vec![],
            ..t.clone()
        };
        assert_eq!(
            render(
                &Command::DpThreads,
                &Response::DpThreads {
                    threads: vec![t, idle]
                },
                OutputFormat::Text
            )
            .expect("render"),
            "\
rvs-dp0 (tid 41): poll adaptive (up to 100 us)  cpu 30 ms  sleeps 5  polls 7 (hits 2)
    frames: rx 100  tx 99
    bridges: br0
    rx br0/a
    rx br0/vm q0
    rx br0/vm q1
rvs-dp1 (tid 42): poll busy  cpu 30 ms  sleeps 5  polls 7 (hits 2)  pinned to CPU 1
    frames: rx 100  tx 99
    bridges: -
"
        );
    }

    #[test]
    fn show_text_is_exact() {
        let expected = "\
Bridge br0
    mac_aging: 300s  mac_table_size: 8192
    Port veth-a
        type: system  vlan: access tag=10  status: up
    Port tap1
        type: tap  vlan: trunk trunks=10,20  status: up  netns: h3
    Port up0
        type: internal  vlan: native-untagged tag=5 trunks=6-8  status: down: no such device
Bridge br1
    mac_aging: 60s  mac_table_size: 16
";
        assert_eq!(show(&sample_show()), expected);
        assert_eq!(show(&[]), "");
    }

    #[test]
    fn fdb_text_is_sorted_and_aligned() {
        let e = |port: &str, vlan, mac: &str, age| FdbEntry {
            port: port.into(),
            vlan,
            mac: mac.into(),
            age_secs: age,
        };
        let entries = vec![
            e("tap1", 20, "52:54:00:00:00:02", 7),
            e("veth-a", 10, "52:54:00:00:00:09", 1234),
            e("veth-b", 10, "52:54:00:00:00:01", 0),
        ];
        let out = fdb(&entries);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            vec![
                " port             VLAN  MAC                Age",
                " veth-b             10  52:54:00:00:00:01    0",
                " veth-a             10  52:54:00:00:00:09  1234",
                " tap1               20  52:54:00:00:00:02    7",
            ]
        );
        assert_eq!(fdb(&[]), " port             VLAN  MAC                Age\n");
    }

    #[test]
    fn port_stats_text_is_exact() {
        let mut drops = BTreeMap::new();
        drops.insert("vlan-filtered".to_string(), 3);
        drops.insert("no-buffer".to_string(), 2);
        drops.insert("zero".to_string(), 0);
        let ports = vec![
            PortStats {
                port: "veth-a".into(),
                rx_packets: 10,
                rx_bytes: 1000,
                tx_packets: 20,
                tx_bytes: 2000,
                drops,
                ..Default::default()
            },
            PortStats {
                port: "tap1".into(),
                rx_packets: 3,
                tx_packets: 4,
                queues: vec![
                    QueueStats {
                        rx_packets: 1,
                        tx_packets: 4,
                    },
                    QueueStats {
                        rx_packets: 2,
                        tx_packets: 0,
                    },
                ],
                ..Default::default()
            },
            PortStats {
                port: "mem".into(),
                tx_packets: 45,
                sw_csum: 1,
                sw_segments: 44,
                ..Default::default()
            },
        ];
        assert_eq!(
            port_stats(&ports),
            "port veth-a: rx pkts=10 bytes=1000  tx pkts=20 bytes=2000  drops=5\n\
             \x20   drop no-buffer=2\n\
             \x20   drop vlan-filtered=3\n\
             port tap1: rx pkts=3 bytes=0  tx pkts=4 bytes=0  drops=0\n\
             \x20   queue 0: rx pkts=1  tx pkts=4\n\
             \x20   queue 1: rx pkts=2  tx pkts=0\n\
             port mem: rx pkts=0 bytes=0  tx pkts=45 bytes=0  drops=0\n\
             \x20   software offload: csum=1 segments=44\n"
        );
    }

    #[test]
    fn port_stats_from_an_older_daemon_parse() {
        // A daemon without the software offload counters: they default to zero.
        let json =
            r#"{"port":"p","rx_packets":1,"rx_bytes":2,"tx_packets":3,"tx_bytes":4,"drops":{}}"#;
        let p: PortStats = serde_json::from_str(json).expect("old PortStats");
        assert_eq!((p.sw_csum, p.sw_segments, p.tx_bytes), (0, 0, 4));
        assert!(p.queues.is_empty());
    }

    #[test]
    fn render_checks_kind_and_formats() {
        let br = || BridgeArg {
            bridge: "br0".into(),
        };
        assert_eq!(
            render(
                &Command::ListBr,
                &Response::Bridges {
                    bridges: vec!["a".into(), "b".into()]
                },
                OutputFormat::Text
            )
            .unwrap(),
            "a\nb\n"
        );
        assert_eq!(
            render(
                &Command::FdbFlush(br()),
                &Response::Done,
                OutputFormat::Text
            )
            .unwrap(),
            ""
        );
        let err = render(
            &Command::ListPorts(br()),
            &Response::Done,
            OutputFormat::Text,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected reply from rvsd: expected 'ports', got 'done'"
        );

        let out = render(
            &Command::Show,
            &Response::Show {
                bridges: sample_show(),
            },
            OutputFormat::Json,
        )
        .unwrap();
        let back: Response = serde_json::from_str(&out).unwrap();
        assert_eq!(
            back,
            Response::Show {
                bridges: sample_show()
            }
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["kind"], "show");
        assert_eq!(v["bridges"][0]["ports"][1]["netns"], "h3");
        assert_eq!(
            render(
                &Command::FdbFlush(br()),
                &Response::Done,
                OutputFormat::Json
            )
            .unwrap(),
            "{\n  \"kind\": \"done\"\n}\n"
        );
    }

    #[test]
    fn version_output() {
        let answered = DaemonVersion::Answered {
            daemon_version: "9.9.9".into(),
            protocol: 1,
            pid: 42,
        };
        assert_eq!(
            version(OutputFormat::Text, &answered),
            format!("rvs {CLI_VERSION} (protocol 1)\nrvsd 9.9.9 (protocol 1, pid 42)\n")
        );
        let refused = DaemonVersion::Refused(ApiError::new(
            ErrorKind::Protocol,
            "protocol 1 not supported",
        ));
        assert!(version(OutputFormat::Text, &refused)
            .ends_with("\nrvsd: refused ping: protocol 1 not supported\n"));
        let v: serde_json::Value =
            serde_json::from_str(&version(OutputFormat::Json, &answered)).unwrap();
        assert_eq!(v["cli_version"], CLI_VERSION);
        assert_eq!(v["daemon"]["version"], "9.9.9");
        assert_eq!(v["daemon"]["pid"], 42);
        assert!(v["daemon_error"].is_null());
        let down = DaemonVersion::Unreachable("rvsd is not running".into());
        let v: serde_json::Value =
            serde_json::from_str(&version(OutputFormat::Json, &down)).unwrap();
        assert!(v["daemon"].is_null());
        assert_eq!(v["daemon_error"], "rvsd is not running");
    }
}
