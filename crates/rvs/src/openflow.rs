//! The OpenFlow verbs of `rvs` (`add-flow`, `dump-flows`, `add-group`, `set-controller`,
//! `trace`...), in the syntax of `ovs-ofctl` (crate `rvs-ofctl`).
//!
//! # Design
//!
//! * [`plan`] turns a verb into a [`Plan`]: the rvsd request plus, for each OpenFlow
//!   message sent, where it came from (`flows.txt:3: in_port=1,actions=drop`) to name
//!   it in an error. Text is parsed here, before contacting rvsd: a syntax error is a
//!   usage error (exit 2) shown with a caret under the bad token.
//! * Table changes are sent as [`Request::OpenFlow`]: the mods (xid 1, 2, ...) and then
//!   a barrier request, so every error the switch raises comes back in the same reply.
//!   An `OFPT_ERROR` among the replies makes the verb fail with exit 1:
//!   `OpenFlow error: BAD_MATCH/BAD_PREREQ: ...`.
//! * Dump verbs send one multipart request; the reply may come in several parts
//!   (`OFPMPF_REPLY_MORE`), which [`render`] joins before printing. Text output is what
//!   `ovs-ofctl -O OpenFlow13` prints (without its header line); `--format json` gives
//!   the same data as structured JSON.
//! * Controllers, fail mode, datapath id, `of-show` and `trace` are plain rvsd requests.

use crate::cli::{Command, OutputFormat};
use crate::format::json;
use crate::Failure;
use rvs_api::{FailMode, HexBytes, OfBridgeInfo, Request, Response};
use rvs_ofctl::SyntaxError;
use rvs_openflow::group::{GroupDesc, GroupModCommand, GroupStats, OFPG_ALL};
use rvs_openflow::meter::{MeterConfig, MeterModCommand, MeterStats, OFPM_ALL};
use rvs_openflow::multipart::{
    FlowStats, FlowStatsRequest, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
    PortStats, TableStats,
};
use rvs_openflow::port::Port;
use rvs_openflow::{ErrorMsg, FlowModCommand, Message, PortNo};
use serde::Serialize;
use std::io::Read;
use std::path::Path;

/// What a verb sends and how its answer is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub request: Request,
    /// For [`Request::OpenFlow`]: a description of message `i` (xid `i + 1`).
    pub origins: Vec<String>,
}

/// A syntax error as a usage message: `WHERE: message`, the input, a caret line.
pub fn syntax_message(place: &str, e: &SyntaxError, input: &str) -> String {
    let rendered = e.render(input);
    let body = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    if place.is_empty() {
        body.to_string()
    } else {
        format!("{place}: {body}")
    }
}

/// Lines of an `add-flows` file: `(line number, text)`, without blank lines and `#`
/// comments.
pub fn flow_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn encode(msg: &Message, xid: u32) -> Result<HexBytes, String> {
    msg.encode(xid)
        .map(HexBytes)
        .map_err(|e| format!("cannot encode the OpenFlow message: {e}"))
}

/// The mods followed by a barrier request.
fn with_barrier(bridge: &str, mods: Vec<(Message, String)>) -> Result<Plan, String> {
    let mut messages = Vec::with_capacity(mods.len() + 1);
    let mut origins = Vec::with_capacity(mods.len() + 1);
    for (i, (m, origin)) in mods.into_iter().enumerate() {
        messages.push(encode(&m, i as u32 + 1)?);
        origins.push(origin);
    }
    messages.push(encode(&Message::BarrierRequest, messages.len() as u32 + 1)?);
    origins.push("barrier".into());
    Ok(Plan {
        request: Request::OpenFlow {
            bridge: bridge.to_string(),
            messages,
        },
        origins,
    })
}

/// Hex characters of OpenFlow messages per request: rvsd refuses request lines over 1 MiB.
const MAX_REQUEST_HEX: usize = 768 * 1024;

/// A plan whose messages would make too long a request, as several plans that each send a
/// run of the mods followed by the barrier (xids, and so error origins, unchanged).
pub fn split_plan(plan: &Plan) -> Vec<Plan> {
    let Request::OpenFlow { bridge, messages } = &plan.request else {
        return vec![plan.clone()];
    };
    let total: usize = messages.iter().map(|m| m.0.len() * 2).sum();
    let is_barrier_last = plan.origins.last().is_some_and(|o| o == "barrier");
    let (Some((barrier, mods)), true) = (messages.split_last(), is_barrier_last) else {
        return vec![plan.clone()];
    };
    if total <= MAX_REQUEST_HEX {
        return vec![plan.clone()];
    }
    let mut parts = Vec::new();
    let mut run: Vec<HexBytes> = Vec::new();
    let mut size = barrier.0.len() * 2;
    for m in mods {
        let len = m.0.len() * 2;
        if !run.is_empty() && size + len > MAX_REQUEST_HEX {
            run.push(barrier.clone());
            parts.push(std::mem::take(&mut run));
            size = barrier.0.len() * 2;
        }
        size += len;
        run.push(m.clone());
    }
    run.push(barrier.clone());
    parts.push(run);
    parts
        .into_iter()
        .map(|messages| Plan {
            request: Request::OpenFlow {
                bridge: bridge.clone(),
                messages,
            },
            origins: plan.origins.clone(),
        })
        .collect()
}

fn multipart(bridge: &str, body: MultipartRequestBody, what: &str) -> Result<Plan, String> {
    let msg = Message::MultipartRequest(MultipartRequest::new(body));
    Ok(Plan {
        request: Request::OpenFlow {
            bridge: bridge.to_string(),
            messages: vec![encode(&msg, 1)?],
        },
        origins: vec![what.to_string()],
    })
}

fn flow_mod(text: &str, cmd: FlowModCommand, strict: bool) -> Result<Message, String> {
    rvs_ofctl::parse_flow(text, cmd, strict)
        .map(Message::FlowMod)
        .map_err(|e| syntax_message("", &e, text))
}

/// Reads an `add-flows` file (`-` = stdin).
fn read_flows_file(file: &Path) -> Result<String, String> {
    if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read flows from stdin: {e}"))?;
        return Ok(s);
    }
    std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

/// The flow mods of an `add-flows` file; errors name `FILE:LINE`.
pub fn flows_from_text(name: &str, text: &str) -> Result<Vec<(Message, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in flow_lines(text) {
        let fm = rvs_ofctl::parse_flow(line, FlowModCommand::Add, false)
            .map_err(|e| syntax_message(&format!("{name}:{n}"), &e, line))?;
        out.push((Message::FlowMod(fm), format!("{name}:{n}: {line}")));
    }
    if out.is_empty() {
        return Err(format!("{name}: no flows (only blank lines and comments)"));
    }
    Ok(out)
}

/// A port for `dump-ports`: a number or a reserved name (`LOCAL`).
fn parse_port_arg(text: &str) -> Result<PortNo, String> {
    let m = rvs_ofctl::parse_match(&format!("in_port={text}")).map_err(|_| {
        format!("invalid port '{text}': give its OpenFlow number (see 'rvs of-show BR') or LOCAL")
    })?;
    match m.fields.first() {
        Some(rvs_openflow::OxmField::InPort(p)) => Ok(*p),
        _ => Err(format!("invalid port '{text}'")),
    }
}

/// A datapath id: 1-16 hex digits (optional `0x`), not all zero.
pub fn parse_dpid(text: &str) -> Result<u64, String> {
    let t = text.strip_prefix("0x").unwrap_or(text);
    let bad = || format!("invalid datapath id '{text}': 1-16 hex digits, not all zero");
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    match u64::from_str_radix(t, 16) {
        Ok(0) | Err(_) => Err(bad()),
        Ok(v) => Ok(v),
    }
}

/// A controller target: `tcp:IP:PORT`, `ptcp:PORT[:IP]`, `unix:PATH`, `punix:PATH`.
/// Only the shape is checked here; rvsd checks the rest.
fn check_target(t: &str) -> Result<String, String> {
    let ok = ["tcp:", "ptcp:", "ssl:", "pssl:", "unix:", "punix:"]
        .iter()
        .any(|p| t.starts_with(p) && t.len() > p.len());
    if ok && !t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Ok(t.to_string())
    } else {
        Err(format!(
            "invalid controller target '{}': expected tcp:IP:PORT or ptcp:PORT[:IP]",
            t.escape_debug()
        ))
    }
}

/// The plan of an OpenFlow verb; `None` for the other verbs. An error is a usage error.
pub fn plan(command: &Command) -> Result<Option<Plan>, String> {
    use Command as C;
    let br = |b: &str| -> Result<String, String> {
        crate::cli::validate_ifname("bridge", b)?;
        Ok(b.to_string())
    };
    let plan = match command {
        C::AddFlow(a) => with_barrier(
            &br(&a.bridge)?,
            vec![(
                flow_mod(&a.flow, FlowModCommand::Add, false)?,
                a.flow.clone(),
            )],
        )?,
        C::AddFlows(a) => {
            let bridge = br(&a.bridge)?;
            let text = read_flows_file(&a.file)?;
            let name = a.file.display().to_string();
            let name = if name == "-" {
                "stdin".to_string()
            } else {
                name
            };
            with_barrier(&bridge, flows_from_text(&name, &text)?)?
        }
        C::ModFlows(a) => with_barrier(
            &br(&a.bridge)?,
            vec![(
                flow_mod(&a.flow, FlowModCommand::Modify, a.strict)?,
                a.flow.clone(),
            )],
        )?,
        C::DelFlows(a) => {
            let text = a.flow.clone().unwrap_or_default();
            with_barrier(
                &br(&a.bridge)?,
                vec![(flow_mod(&text, FlowModCommand::Delete, a.strict)?, text)],
            )?
        }
        C::DumpFlows(a) => {
            let text = a.flow.clone().unwrap_or_default();
            let filter = rvs_ofctl::parse_flow(&text, FlowModCommand::Delete, false)
                .map_err(|e| syntax_message("", &e, &text))?;
            let table_id = match a.table {
                Some(t) if t > 254 => return Err("--table is 0-254".into()),
                Some(t) => t,
                None => filter.table_id,
            };
            let req = FlowStatsRequest {
                table_id,
                out_port: filter.out_port,
                out_group: filter.out_group,
                cookie: filter.cookie,
                cookie_mask: filter.cookie_mask,
                match_: filter.match_,
            };
            multipart(
                &br(&a.bridge)?,
                MultipartRequestBody::Flow(req),
                "dump-flows",
            )?
        }
        C::AddGroup(a) | C::ModGroup(a) => {
            let cmd = if matches!(command, C::AddGroup(_)) {
                GroupModCommand::Add
            } else {
                GroupModCommand::Modify
            };
            let gm = rvs_ofctl::parse_group(&a.spec, cmd)
                .map_err(|e| syntax_message("", &e, &a.spec))?;
            with_barrier(
                &br(&a.bridge)?,
                vec![(Message::GroupMod(gm), a.spec.clone())],
            )?
        }
        C::DelGroups(a) => {
            let text = a.spec.clone().unwrap_or_default();
            let gm = rvs_ofctl::parse_group(&text, GroupModCommand::Delete)
                .map_err(|e| syntax_message("", &e, &text))?;
            with_barrier(&br(&a.bridge)?, vec![(Message::GroupMod(gm), text)])?
        }
        C::DumpGroups(a) => multipart(
            &br(&a.bridge)?,
            MultipartRequestBody::GroupDesc,
            "dump-groups",
        )?,
        C::DumpGroupStats(a) => multipart(
            &br(&a.bridge)?,
            MultipartRequestBody::Group(OFPG_ALL),
            "dump-group-stats",
        )?,
        C::AddMeter(a) | C::ModMeter(a) => {
            let cmd = if matches!(command, C::AddMeter(_)) {
                MeterModCommand::Add
            } else {
                MeterModCommand::Modify
            };
            let mm = rvs_ofctl::parse_meter(&a.spec, cmd)
                .map_err(|e| syntax_message("", &e, &a.spec))?;
            with_barrier(
                &br(&a.bridge)?,
                vec![(Message::MeterMod(mm), a.spec.clone())],
            )?
        }
        C::DelMeters(a) => {
            let text = a.spec.clone().unwrap_or_default();
            let mm = rvs_ofctl::parse_meter(&text, MeterModCommand::Delete)
                .map_err(|e| syntax_message("", &e, &text))?;
            with_barrier(&br(&a.bridge)?, vec![(Message::MeterMod(mm), text)])?
        }
        C::DumpMeters(a) => multipart(
            &br(&a.bridge)?,
            MultipartRequestBody::MeterConfig(OFPM_ALL),
            "dump-meters",
        )?,
        C::MeterStats(a) => multipart(
            &br(&a.bridge)?,
            MultipartRequestBody::Meter(OFPM_ALL),
            "meter-stats",
        )?,
        C::DumpPorts(a) => {
            let port = match &a.port {
                Some(p) => parse_port_arg(p)?,
                None => PortNo::ANY,
            };
            multipart(
                &br(&a.bridge)?,
                MultipartRequestBody::PortStats(port),
                "dump-ports",
            )?
        }
        C::DumpPortsDesc(a) => multipart(
            &br(&a.bridge)?,
            MultipartRequestBody::PortDesc,
            "dump-ports-desc",
        )?,
        C::DumpTables(a) => multipart(&br(&a.bridge)?, MultipartRequestBody::Table, "dump-tables")?,
        C::SetController(a) => Plan {
            request: Request::SetController {
                bridge: br(&a.bridge)?,
                targets: a
                    .targets
                    .iter()
                    .map(|t| check_target(t))
                    .collect::<Result<_, _>>()?,
            },
            origins: Vec::new(),
        },
        C::DelController(a) => Plan {
            request: Request::SetController {
                bridge: br(&a.bridge)?,
                targets: Vec::new(),
            },
            origins: Vec::new(),
        },
        C::SetFailMode(a) => Plan {
            request: Request::SetFailMode {
                bridge: br(&a.bridge)?,
                mode: a.mode.parse()?,
            },
            origins: Vec::new(),
        },
        C::SetDpid(a) => Plan {
            request: Request::SetDpid {
                bridge: br(&a.bridge)?,
                dpid: parse_dpid(&a.dpid)?,
            },
            origins: Vec::new(),
        },
        C::GetController(a) | C::GetFailMode(a) | C::OfShow(a) => Plan {
            request: Request::OfShow {
                bridge: br(&a.bridge)?,
            },
            origins: Vec::new(),
        },
        C::Trace(a) => {
            let bridge = br(&a.bridge)?;
            let request = match (&a.flow, &a.packet) {
                (Some(flow), None) => {
                    if a.in_port.is_some() {
                        return Err(
                            "--in-port goes with --packet; put in_port=N in the flow".into()
                        );
                    }
                    rvs_ofctl::parse_match(flow).map_err(|e| syntax_message("", &e, flow))?;
                    Request::Trace {
                        bridge,
                        flow: Some(flow.clone()),
                        packet: None,
                        in_port: None,
                    }
                }
                (None, Some(hex)) => {
                    let bytes =
                        rvs_api::parse_hex(hex).map_err(|e| format!("invalid --packet: {e}"))?;
                    if bytes.len() < 14 {
                        return Err(format!(
                            "invalid --packet: {} bytes, an Ethernet frame has at least 14",
                            bytes.len()
                        ));
                    }
                    let Some(in_port) = a.in_port.clone() else {
                        return Err("trace --packet needs --in-port PORT".into());
                    };
                    Request::Trace {
                        bridge,
                        flow: None,
                        packet: Some(HexBytes(bytes)),
                        in_port: Some(in_port),
                    }
                }
                (Some(_), Some(_)) => return Err("give either FLOW or --packet, not both".into()),
                (None, None) => {
                    return Err("trace needs FLOW or --packet HEX --in-port PORT".into())
                }
            };
            Plan {
                request,
                origins: Vec::new(),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(plan))
}

/// `TYPE/CODE` without the `OFPET_`/`OFPxxx_` prefixes: `BAD_MATCH/BAD_PREREQ`.
pub fn error_name(e: &ErrorMsg) -> String {
    let t = e.code.type_name();
    let t = t.strip_prefix("OFPET_").unwrap_or(t);
    let (_, code) = e.code.type_code();
    let c = match e.code.code_name() {
        Some(n) => n
            .split_once('_')
            .map(|(_, rest)| rest)
            .unwrap_or(n)
            .to_string(),
        None => code.to_string(),
    };
    format!("{t}/{c}")
}

/// The failure for an `OFPT_ERROR` answering message `xid`.
fn of_failure(e: &ErrorMsg, xid: u32, origins: &[String]) -> Failure {
    let what = usize::try_from(xid)
        .ok()
        .and_then(|x| x.checked_sub(1))
        .and_then(|i| origins.get(i));
    let description = match what {
        Some(o) => format!("refused: {o}"),
        None => format!("refused message xid {xid}"),
    };
    Failure::OpenFlow(format!("{}: {description}", error_name(e)))
}

/// Decodes the replies; the first `OFPT_ERROR` becomes a failure.
fn decode_replies(messages: &[HexBytes], origins: &[String]) -> Result<Vec<Message>, Failure> {
    let mut out = Vec::new();
    for m in messages {
        let (header, msg) = Message::decode(&m.0).map_err(|e| {
            Failure::Daemon(crate::client::ClientError::Malformed {
                detail: format!("undecodable OpenFlow reply: {e}"),
            })
        })?;
        if let Message::Error(e) = &msg {
            return Err(of_failure(e, header.xid, origins));
        }
        out.push(msg);
    }
    Ok(out)
}

fn unexpected(what: &str) -> Failure {
    Failure::Daemon(crate::client::ClientError::Malformed {
        detail: format!("rvsd's OpenFlow reply holds no {what}"),
    })
}

/// All parts of a multipart reply, joined.
fn joined_body(msgs: Vec<Message>, what: &str) -> Result<MultipartReplyBody, Failure> {
    use MultipartReplyBody as B;
    let mut acc: Option<B> = None;
    for m in msgs {
        let Message::MultipartReply(r) = m else {
            continue;
        };
        acc = Some(match (acc, r.body) {
            (None, b) => b,
            (Some(B::Flow(mut a)), B::Flow(b)) => {
                a.extend(b);
                B::Flow(a)
            }
            (Some(B::Group(mut a)), B::Group(b)) => {
                a.extend(b);
                B::Group(a)
            }
            (Some(B::GroupDesc(mut a)), B::GroupDesc(b)) => {
                a.extend(b);
                B::GroupDesc(a)
            }
            (Some(B::Meter(mut a)), B::Meter(b)) => {
                a.extend(b);
                B::Meter(a)
            }
            (Some(B::MeterConfig(mut a)), B::MeterConfig(b)) => {
                a.extend(b);
                B::MeterConfig(a)
            }
            (Some(B::PortStats(mut a)), B::PortStats(b)) => {
                a.extend(b);
                B::PortStats(a)
            }
            (Some(B::PortDesc(mut a)), B::PortDesc(b)) => {
                a.extend(b);
                B::PortDesc(a)
            }
            (Some(B::Table(mut a)), B::Table(b)) => {
                a.extend(b);
                B::Table(a)
            }
            (Some(a), _) => a,
        });
    }
    acc.ok_or_else(|| unexpected(what))
}

#[derive(Serialize)]
struct FlowJson {
    table: u8,
    priority: u16,
    cookie: String,
    duration_secs: f64,
    n_packets: u64,
    n_bytes: u64,
    idle_timeout: u16,
    hard_timeout: u16,
    flags: u16,
    #[serde(rename = "match")]
    match_: String,
    actions: String,
}

fn secs(sec: u32, nsec: u32) -> f64 {
    f64::from(sec) + f64::from(nsec) / 1e9
}

impl From<&FlowStats> for FlowJson {
    fn from(f: &FlowStats) -> Self {
        let actions = rvs_ofctl::format_instructions(&f.instructions);
        FlowJson {
            table: f.table_id,
            priority: f.priority,
            cookie: format!("{:#x}", f.cookie),
            duration_secs: secs(f.duration_sec, f.duration_nsec),
            n_packets: f.packet_count,
            n_bytes: f.byte_count,
            idle_timeout: f.idle_timeout,
            hard_timeout: f.hard_timeout,
            flags: f.flags,
            match_: rvs_ofctl::format_match(&f.match_),
            actions: actions
                .strip_prefix("actions=")
                .unwrap_or(&actions)
                .to_string(),
        }
    }
}

#[derive(Serialize)]
struct BucketJson {
    weight: u16,
    watch_port: Option<u32>,
    watch_group: Option<u32>,
    actions: String,
}

#[derive(Serialize)]
struct GroupJson {
    group_id: u32,
    #[serde(rename = "type")]
    group_type: &'static str,
    buckets: Vec<BucketJson>,
}

impl From<&GroupDesc> for GroupJson {
    fn from(g: &GroupDesc) -> Self {
        use rvs_openflow::group::{GroupType, OFPG_ANY};
        GroupJson {
            group_id: g.group_id,
            group_type: match g.group_type {
                GroupType::All => "all",
                GroupType::Select => "select",
                GroupType::Indirect => "indirect",
                GroupType::FastFailover => "ff",
            },
            buckets: g
                .buckets
                .iter()
                .map(|b| BucketJson {
                    weight: b.weight,
                    watch_port: (b.watch_port != PortNo::ANY).then_some(b.watch_port.0),
                    watch_group: (b.watch_group != OFPG_ANY).then_some(b.watch_group),
                    actions: rvs_ofctl::format_actions(&b.actions),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct GroupStatsJson {
    group_id: u32,
    ref_count: u32,
    packet_count: u64,
    byte_count: u64,
    duration_secs: f64,
    buckets: Vec<(u64, u64)>,
}

impl From<&GroupStats> for GroupStatsJson {
    fn from(g: &GroupStats) -> Self {
        GroupStatsJson {
            group_id: g.group_id,
            ref_count: g.ref_count,
            packet_count: g.packet_count,
            byte_count: g.byte_count,
            duration_secs: secs(g.duration_sec, g.duration_nsec),
            buckets: g
                .bucket_stats
                .iter()
                .map(|b| (b.packet_count, b.byte_count))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct BandJson {
    #[serde(rename = "type")]
    band_type: &'static str,
    rate: u32,
    burst_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    prec_level: Option<u8>,
}

#[derive(Serialize)]
struct MeterJson {
    meter_id: u32,
    flags: Vec<&'static str>,
    bands: Vec<BandJson>,
}

impl From<&MeterConfig> for MeterJson {
    fn from(m: &MeterConfig) -> Self {
        use rvs_openflow::meter::{meter_flags as f, MeterBand};
        MeterJson {
            meter_id: m.meter_id,
            flags: [
                (f::KBPS, "kbps"),
                (f::PKTPS, "pktps"),
                (f::BURST, "burst"),
                (f::STATS, "stats"),
            ]
            .iter()
            .filter(|(b, _)| m.flags & b != 0)
            .map(|(_, n)| *n)
            .collect(),
            bands: m
                .bands
                .iter()
                .map(|b| BandJson {
                    band_type: match b {
                        MeterBand::Drop { .. } => "drop",
                        MeterBand::DscpRemark { .. } => "dscp_remark",
                        MeterBand::Experimenter { .. } => "experimenter",
                    },
                    rate: b.rate(),
                    burst_size: b.burst_size(),
                    prec_level: match b {
                        MeterBand::DscpRemark { prec_level, .. } => Some(*prec_level),
                        _ => None,
                    },
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct MeterStatsJson {
    meter_id: u32,
    flow_count: u32,
    packet_in_count: u64,
    byte_in_count: u64,
    duration_secs: f64,
    bands: Vec<(u64, u64)>,
}

impl From<&MeterStats> for MeterStatsJson {
    fn from(m: &MeterStats) -> Self {
        MeterStatsJson {
            meter_id: m.meter_id,
            flow_count: m.flow_count,
            packet_in_count: m.packet_in_count,
            byte_in_count: m.byte_in_count,
            duration_secs: secs(m.duration_sec, m.duration_nsec),
            bands: m
                .band_stats
                .iter()
                .map(|b| (b.packet_band_count, b.byte_band_count))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct PortStatsJson {
    port: String,
    rx_packets: u64,
    rx_bytes: u64,
    rx_dropped: u64,
    rx_errors: u64,
    tx_packets: u64,
    tx_bytes: u64,
    tx_dropped: u64,
    tx_errors: u64,
    duration_secs: f64,
}

fn port_label(p: PortNo) -> String {
    if p.is_reserved() {
        p.to_string()
            .strip_prefix("OFPP_")
            .map(str::to_string)
            .unwrap_or_else(|| p.0.to_string())
    } else {
        p.0.to_string()
    }
}

impl From<&PortStats> for PortStatsJson {
    fn from(p: &PortStats) -> Self {
        PortStatsJson {
            port: port_label(p.port_no),
            rx_packets: p.rx_packets,
            rx_bytes: p.rx_bytes,
            rx_dropped: p.rx_dropped,
            rx_errors: p.rx_errors,
            tx_packets: p.tx_packets,
            tx_bytes: p.tx_bytes,
            tx_dropped: p.tx_dropped,
            tx_errors: p.tx_errors,
            duration_secs: secs(p.duration_sec, p.duration_nsec),
        }
    }
}

#[derive(Serialize)]
struct PortDescJson {
    port: String,
    name: String,
    hw_addr: String,
    config: u32,
    state: u32,
    curr_speed_kbps: u32,
    max_speed_kbps: u32,
}

impl From<&Port> for PortDescJson {
    fn from(p: &Port) -> Self {
        let m = p.hw_addr;
        PortDescJson {
            port: port_label(p.port_no),
            name: p.name.to_string_lossy(),
            hw_addr: format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            config: p.config,
            state: p.state,
            curr_speed_kbps: p.curr_speed,
            max_speed_kbps: p.max_speed,
        }
    }
}

#[derive(Serialize)]
struct TableJson {
    table: u8,
    active: u32,
    lookup: u64,
    matched: u64,
}

impl From<&TableStats> for TableJson {
    fn from(t: &TableStats) -> Self {
        TableJson {
            table: t.table_id,
            active: t.active_count,
            lookup: t.lookup_count,
            matched: t.matched_count,
        }
    }
}

fn lines<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(|i| f(i) + "\n").collect()
}

/// `of-show` text.
pub fn of_show(info: &OfBridgeInfo) -> String {
    let mut s = format!(
        "Bridge {}: dpid {}, fail_mode {}\n  flows {}, groups {}, meters {}\n",
        info.bridge, info.dpid, info.fail_mode, info.n_flows, info.n_groups, info.n_meters
    );
    if info.controllers.is_empty() {
        s.push_str("  no controller\n");
    }
    for c in &info.controllers {
        s.push_str(&format!("  Controller {}: {}\n", c.target, c.state));
        for conn in &c.connections {
            s.push_str(&format!("    {conn}\n"));
        }
    }
    s.push_str("  Ports:\n");
    for (n, name) in &info.ports {
        s.push_str(&format!("    {}({name})\n", port_label(PortNo(*n))));
    }
    s
}

#[derive(Serialize)]
struct FailModeJson {
    fail_mode: FailMode,
}

#[derive(Serialize)]
struct ControllersJson<'a> {
    controllers: &'a [rvs_api::ControllerInfo],
}

/// Renders rvsd's answer to an OpenFlow verb.
pub fn render(
    command: &Command,
    plan: &Plan,
    response: &Response,
    format: OutputFormat,
) -> Result<String, Failure> {
    use Command as C;
    let text = format == OutputFormat::Text;
    let msgs = match response {
        Response::OpenFlow { messages } => decode_replies(messages, &plan.origins)?,
        Response::Done => return Ok(String::new()),
        Response::OfShow { info } => {
            return Ok(match (command, text) {
                (C::GetController(_), true) => lines(&info.controllers, |c| c.target.clone()),
                (C::GetController(_), false) => json(&ControllersJson {
                    controllers: &info.controllers,
                }),
                (C::GetFailMode(_), true) => format!("{}\n", info.fail_mode),
                (C::GetFailMode(_), false) => json(&FailModeJson {
                    fail_mode: info.fail_mode,
                }),
                (_, true) => of_show(info),
                (_, false) => json(info),
            })
        }
        Response::Trace { text: t, .. } => {
            return Ok(if text {
                let mut t = t.clone();
                if !t.is_empty() && !t.ends_with('\n') {
                    t.push('\n');
                }
                t
            } else {
                json(response)
            })
        }
        other => {
            return Err(Failure::Daemon(crate::client::ClientError::Unexpected {
                expected: "open-flow",
                got: crate::format::response_kind(other),
            }))
        }
    };
    use MultipartReplyBody as B;
    let is_dump = matches!(
        command,
        C::DumpFlows(_)
            | C::DumpGroups(_)
            | C::DumpGroupStats(_)
            | C::DumpMeters(_)
            | C::MeterStats(_)
            | C::DumpPorts(_)
            | C::DumpPortsDesc(_)
            | C::DumpTables(_)
    );
    if !is_dump {
        if !msgs.iter().any(|m| matches!(m, Message::BarrierReply)) {
            return Err(unexpected("barrier reply"));
        }
        return Ok(String::new());
    }
    let body = joined_body(msgs, "multipart reply")?;
    Ok(match (command, body) {
        (C::DumpFlows(_), B::Flow(f)) if text => lines(&f, rvs_ofctl::format_flow_stats),
        (C::DumpFlows(_), B::Flow(f)) => json(&f.iter().map(FlowJson::from).collect::<Vec<_>>()),
        (C::DumpGroups(_), B::GroupDesc(g)) if text => lines(&g, rvs_ofctl::format_group_desc),
        (C::DumpGroups(_), B::GroupDesc(g)) => {
            json(&g.iter().map(GroupJson::from).collect::<Vec<_>>())
        }
        (C::DumpGroupStats(_), B::Group(g)) if text => lines(&g, rvs_ofctl::format_group_stats),
        (C::DumpGroupStats(_), B::Group(g)) => {
            json(&g.iter().map(GroupStatsJson::from).collect::<Vec<_>>())
        }
        (C::DumpMeters(_), B::MeterConfig(m)) if text => m
            .iter()
            .map(rvs_ofctl::format_meter_config)
            .collect::<Vec<_>>()
            .join("\n"),
        (C::DumpMeters(_), B::MeterConfig(m)) => {
            json(&m.iter().map(MeterJson::from).collect::<Vec<_>>())
        }
        (C::MeterStats(_), B::Meter(m)) if text => m
            .iter()
            .map(rvs_ofctl::format_meter_stats)
            .collect::<Vec<_>>()
            .join("\n"),
        (C::MeterStats(_), B::Meter(m)) => {
            json(&m.iter().map(MeterStatsJson::from).collect::<Vec<_>>())
        }
        (C::DumpPorts(_), B::PortStats(p)) if text => {
            p.iter().map(rvs_ofctl::format_port_stats).collect()
        }
        (C::DumpPorts(_), B::PortStats(p)) => {
            json(&p.iter().map(PortStatsJson::from).collect::<Vec<_>>())
        }
        (C::DumpPortsDesc(_), B::PortDesc(p)) if text => {
            p.iter().map(rvs_ofctl::format_port_desc).collect()
        }
        (C::DumpPortsDesc(_), B::PortDesc(p)) => {
            json(&p.iter().map(PortDescJson::from).collect::<Vec<_>>())
        }
        (C::DumpTables(a), B::Table(t)) if text => rvs_ofctl::format_table_stats(&t, a.all),
        (C::DumpTables(a), B::Table(t)) => json(
            &t.iter()
                .filter(|t| a.all || t.active_count != 0 || t.lookup_count != 0)
                .map(TableJson::from)
                .collect::<Vec<_>>(),
        ),
        _ => return Err(unexpected("reply of the requested kind")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;
    use rvs_openflow::error::{BadMatchCode, ErrorCode};
    use rvs_openflow::group::{Bucket, GroupType};
    use rvs_openflow::meter::{MeterBand, MeterMod};
    use rvs_openflow::multipart::{MultipartReply, OFPMPF_MORE};
    use rvs_openflow::{Action, FlowMod};

    fn command(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("rvs").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
    }

    fn plan_of(args: &[&str]) -> Plan {
        match plan(&command(args)) {
            Ok(Some(p)) => p,
            Ok(None) => panic!("{args:?} is not an OpenFlow verb"),
            Err(e) => panic!("{args:?} refused: {e}"),
        }
    }

    fn plan_err(args: &[&str]) -> String {
        match plan(&command(args)) {
            Ok(p) => panic!("{args:?} accepted: {p:?}"),
            Err(e) => e,
        }
    }

    /// The messages of an OpenFlow request, decoded, with their xids.
    fn sent(p: &Plan) -> (String, Vec<(u32, Message)>) {
        let Request::OpenFlow { bridge, messages } = &p.request else {
            panic!("not an OpenFlow request: {:?}", p.request)
        };
        let msgs = messages
            .iter()
            .map(|m| {
                let (h, msg) = Message::decode(&m.0).expect("rvs sends valid messages");
                (h.xid, msg)
            })
            .collect();
        (bridge.clone(), msgs)
    }

    fn flow(text: &str, cmd: FlowModCommand, strict: bool) -> Message {
        Message::FlowMod(rvs_ofctl::parse_flow(text, cmd, strict).expect("valid flow"))
    }

    #[test]
    fn flow_verbs_send_the_mod_and_a_barrier() {
        let f = "priority=10,in_port=1,actions=output:2";
        let (br, msgs) = sent(&plan_of(&["add-flow", "br0", f]));
        assert_eq!(br, "br0");
        assert_eq!(
            msgs,
            vec![
                (1, flow(f, FlowModCommand::Add, false)),
                (2, Message::BarrierRequest)
            ]
        );
        let (_, msgs) = sent(&plan_of(&["mod-flows", "br0", f, "--strict"]));
        assert_eq!(msgs[0].1, flow(f, FlowModCommand::ModifyStrict, false));
        let (_, msgs) = sent(&plan_of(&["del-flows", "br0"]));
        assert_eq!(msgs[0].1, flow("", FlowModCommand::Delete, false));
        let (_, msgs) = sent(&plan_of(&["del-flows", "br0", "priority=5,ip", "--strict"]));
        assert_eq!(
            msgs[0].1,
            flow("priority=5,ip", FlowModCommand::DeleteStrict, false)
        );
    }

    #[test]
    fn large_flow_files_are_split_under_the_request_limit() {
        let text: String = (0..20_000)
            .map(|i| {
                format!(
                    "priority={},ip,nw_src=10.0.{}.{},actions=drop\n",
                    i % 100 + 1,
                    (i >> 8) & 255,
                    i & 255
                )
            })
            .collect();
        let mods = flows_from_text("f", &text).expect("parse");
        let plan = with_barrier("br0", mods).expect("plan");
        let parts = split_plan(&plan);
        assert!(parts.len() > 1, "{} parts", parts.len());
        let mut xids = Vec::new();
        for p in &parts {
            let (_, sent) = sent(p);
            let json = serde_json::to_string(&p.request).expect("json");
            assert!(json.len() < 1 << 20, "request of {} bytes", json.len());
            assert!(matches!(sent.last(), Some((_, Message::BarrierRequest))));
            xids.extend(
                sent.iter()
                    .filter(|(_, m)| !matches!(m, Message::BarrierRequest))
                    .map(|(x, _)| *x),
            );
        }
        assert_eq!(
            xids,
            (1..=20_000).collect::<Vec<u32>>(),
            "every mod once, in order"
        );
        // Small plans are left alone.
        let small = with_barrier("br0", flows_from_text("f", "actions=drop").expect("parse"))
            .expect("plan");
        assert_eq!(split_plan(&small), vec![small.clone()]);
    }

    #[test]
    fn add_flows_reads_a_file_skipping_comments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flows.txt");
        std::fs::write(
            &path,
            "# the table\n\npriority=1,actions=drop\n  in_port=2,actions=output:1  \n",
        )
        .expect("write");
        let p = plan_of(&["add-flows", "br0", path.to_str().expect("utf-8")]);
        let (_, msgs) = sent(&p);
        assert_eq!(msgs.len(), 3);
        assert_eq!(
            msgs[1].1,
            flow("in_port=2,actions=output:1", FlowModCommand::Add, false)
        );
        assert_eq!(
            p.origins[1],
            format!("{}:4: in_port=2,actions=output:1", path.display())
        );
        std::fs::write(&path, "actions=drop\n\n ip,nw_sr=1.2.3.4,actions=drop\n").expect("write");
        let e = plan_err(&["add-flows", "br0", path.to_str().expect("utf-8")]);
        assert_eq!(
            e,
            format!(
                "{}:3: unknown field 'nw_sr'\n  ip,nw_sr=1.2.3.4,actions=drop\n     ^^^^^",
                path.display()
            )
        );
        std::fs::write(&path, "# nothing\n").expect("write");
        assert!(
            plan_err(&["add-flows", "br0", path.to_str().expect("utf-8")]).contains("no flows")
        );
        assert!(plan_err(&["add-flows", "br0", "/nonexistent/flows"]).starts_with("cannot read"));
    }

    #[test]
    fn syntax_errors_show_a_caret() {
        assert_eq!(
            plan_err(&["add-flow", "br0", "priority=10,nw_sr=1.2.3.4,actions=drop"]),
            "unknown field 'nw_sr'\n  priority=10,nw_sr=1.2.3.4,actions=drop\n              ^^^^^"
        );
        assert!(plan_err(&["add-group", "br0", "group_id=1,type=x"]).contains("unknown group type"));
        assert!(plan_err(&["add-meter", "br0", "meter=1"]).contains("missing bands"));
        assert!(plan_err(&["add-flow", "br/0", "actions=drop"]).contains("invalid bridge name"));
    }

    #[test]
    fn dump_flows_builds_a_filtered_request() {
        let (_, msgs) = sent(&plan_of(&["dump-flows", "br0"]));
        assert_eq!(
            msgs,
            vec![(
                1,
                Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Flow(
                    FlowStatsRequest::all()
                )))
            )]
        );
        let (_, msgs) = sent(&plan_of(&[
            "dump-flows",
            "br0",
            "cookie=0x5/0xff,tcp,out_port=3",
            "--table",
            "2",
        ]));
        let Message::MultipartRequest(MultipartRequest {
            body: MultipartRequestBody::Flow(r),
            ..
        }) = &msgs[0].1
        else {
            panic!("{msgs:?}")
        };
        assert_eq!(r.table_id, 2);
        assert_eq!((r.cookie, r.cookie_mask), (5, 0xff));
        assert_eq!(r.out_port, PortNo(3));
        assert_eq!(r.match_, rvs_ofctl::parse_match("tcp").expect("match"));
        assert!(plan_err(&["dump-flows", "br0", "--table", "255"]).contains("0-254"));
    }

    #[test]
    fn group_meter_port_and_table_verbs() {
        let (_, msgs) = sent(&plan_of(&[
            "add-group",
            "br0",
            "group_id=1,type=select,bucket=weight:5,actions=output:1",
        ]));
        let Message::GroupMod(g) = &msgs[0].1 else {
            panic!("{msgs:?}")
        };
        assert_eq!((g.group_id, g.group_type), (1, GroupType::Select));
        assert_eq!(
            g.buckets,
            vec![Bucket {
                weight: 5,
                ..Bucket::new(vec![Action::output(PortNo(1))])
            }]
        );
        let (_, msgs) = sent(&plan_of(&["mod-group", "br0", "group_id=1,type=all"]));
        assert!(matches!(&msgs[0].1, Message::GroupMod(g) if g.command == GroupModCommand::Modify));
        let (_, msgs) = sent(&plan_of(&["del-groups", "br0"]));
        assert!(matches!(&msgs[0].1, Message::GroupMod(g) if g.group_id == OFPG_ALL));
        let (_, msgs) = sent(&plan_of(&["del-groups", "br0", "group_id=4"]));
        assert!(matches!(&msgs[0].1, Message::GroupMod(g) if g.group_id == 4));
        let (_, msgs) = sent(&plan_of(&[
            "add-meter",
            "br0",
            "meter=2,pktps,bands=type=drop,rate=10",
        ]));
        assert_eq!(
            msgs[0].1,
            Message::MeterMod(MeterMod {
                command: MeterModCommand::Add,
                flags: rvs_openflow::meter::meter_flags::PKTPS,
                meter_id: 2,
                bands: vec![MeterBand::Drop {
                    rate: 10,
                    burst_size: 0
                }],
            })
        );
        let (_, msgs) = sent(&plan_of(&["del-meters", "br0", "meter=2"]));
        assert!(matches!(&msgs[0].1, Message::MeterMod(m) if m.meter_id == 2));
        let body = |args: &[&str]| match sent(&plan_of(args)).1.remove(0).1 {
            Message::MultipartRequest(r) => r.body,
            other => panic!("{other:?}"),
        };
        assert_eq!(body(&["dump-groups", "b"]), MultipartRequestBody::GroupDesc);
        assert_eq!(
            body(&["dump-group-stats", "b"]),
            MultipartRequestBody::Group(OFPG_ALL)
        );
        assert_eq!(
            body(&["dump-meters", "b"]),
            MultipartRequestBody::MeterConfig(OFPM_ALL)
        );
        assert_eq!(
            body(&["meter-stats", "b"]),
            MultipartRequestBody::Meter(OFPM_ALL)
        );
        assert_eq!(
            body(&["dump-ports", "b"]),
            MultipartRequestBody::PortStats(PortNo::ANY)
        );
        assert_eq!(
            body(&["dump-ports", "b", "3"]),
            MultipartRequestBody::PortStats(PortNo(3))
        );
        assert_eq!(
            body(&["dump-ports", "b", "LOCAL"]),
            MultipartRequestBody::PortStats(PortNo::LOCAL)
        );
        assert!(plan_err(&["dump-ports", "b", "eth0"]).contains("OpenFlow number"));
        assert_eq!(
            body(&["dump-ports-desc", "b"]),
            MultipartRequestBody::PortDesc
        );
        assert_eq!(
            body(&["dump-tables", "b", "--all"]),
            MultipartRequestBody::Table
        );
    }

    #[test]
    fn controller_fail_mode_dpid_and_trace_requests() {
        assert_eq!(
            plan_of(&["set-controller", "br0", "tcp:127.0.0.1:6653", "ptcp:6634"]).request,
            Request::SetController {
                bridge: "br0".into(),
                targets: vec!["tcp:127.0.0.1:6653".into(), "ptcp:6634".into()],
            }
        );
        assert!(
            plan_err(&["set-controller", "br0", "127.0.0.1"]).contains("invalid controller target")
        );
        assert_eq!(
            plan_of(&["del-controller", "br0"]).request,
            Request::SetController {
                bridge: "br0".into(),
                targets: vec![],
            }
        );
        assert_eq!(
            plan_of(&["set-fail-mode", "br0", "secure"]).request,
            Request::SetFailMode {
                bridge: "br0".into(),
                mode: FailMode::Secure,
            }
        );
        assert!(Cli::try_parse_from(["rvs", "set-fail-mode", "br0", "open"]).is_err());
        assert_eq!(
            plan_of(&["set-dpid", "br0", "0x00000000000000ab"]).request,
            Request::SetDpid {
                bridge: "br0".into(),
                dpid: 0xab,
            }
        );
        assert!(plan_err(&["set-dpid", "br0", "0"]).contains("not all zero"));
        assert!(plan_err(&["set-dpid", "br0", "12345678901234567"]).contains("1-16 hex"));
        for verb in ["get-controller", "get-fail-mode", "of-show"] {
            assert_eq!(
                plan_of(&[verb, "br0"]).request,
                Request::OfShow {
                    bridge: "br0".into()
                }
            );
        }
        assert_eq!(
            plan_of(&["trace", "br0", "in_port=1,tcp,tp_dst=80"]).request,
            Request::Trace {
                bridge: "br0".into(),
                flow: Some("in_port=1,tcp,tp_dst=80".into()),
                packet: None,
                in_port: None,
            }
        );
        let frame = "ffffffffffff0000000000010800".to_string() + &"00".repeat(20);
        assert_eq!(
            plan_of(&["trace", "br0", "--packet", &frame, "--in-port", "p1"]).request,
            Request::Trace {
                bridge: "br0".into(),
                flow: None,
                packet: Some(HexBytes(rvs_api::parse_hex(&frame).expect("hex"))),
                in_port: Some("p1".into()),
            }
        );
        assert!(plan_err(&["trace", "br0", "tp_dst=80"]).contains("transport protocol"));
        assert!(plan_err(&["trace", "br0", "--packet", &frame]).contains("--in-port"));
        assert!(plan_err(&["trace", "br0", "--packet", "0011"]).contains("14"));
        assert!(plan_err(&["trace", "br0"]).contains("needs FLOW"));
    }

    fn reply_msgs(msgs: &[(u32, Message)]) -> Response {
        Response::OpenFlow {
            messages: msgs
                .iter()
                .map(|(xid, m)| HexBytes(m.encode(*xid).expect("encodes")))
                .collect(),
        }
    }

    #[test]
    fn change_replies_succeed_on_barrier_and_fail_on_error() {
        let args = ["add-flow", "br0", "tcp,actions=drop"];
        let p = plan_of(&args);
        let c = command(&args);
        let ok = reply_msgs(&[(2, Message::BarrierReply)]);
        assert_eq!(
            render(&c, &p, &ok, OutputFormat::Text).ok().as_deref(),
            Some("")
        );
        let sent_flow = match &p.request {
            Request::OpenFlow { messages, .. } => messages[0].0.clone(),
            _ => unreachable!(),
        };
        let err = Message::Error(ErrorMsg::reply_to(
            ErrorCode::BadMatch(BadMatchCode::BadPrereq),
            &sent_flow,
        ));
        let bad = reply_msgs(&[(1, err), (2, Message::BarrierReply)]);
        let f = render(&c, &p, &bad, OutputFormat::Text).unwrap_err();
        assert_eq!(f.exit_code(), crate::EXIT_REFUSED);
        assert_eq!(
            f.to_string(),
            "OpenFlow error: BAD_MATCH/BAD_PREREQ: refused: tcp,actions=drop"
        );
        let none = reply_msgs(&[]);
        assert_eq!(
            render(&c, &p, &none, OutputFormat::Text)
                .unwrap_err()
                .exit_code(),
            crate::EXIT_UNREACHABLE
        );
    }

    fn stats(text: &str, packets: u64) -> FlowStats {
        let fm: FlowMod = rvs_ofctl::parse_flow(text, FlowModCommand::Add, false).expect("flow");
        FlowStats {
            table_id: fm.table_id,
            duration_sec: 1,
            duration_nsec: 234_000_000,
            priority: fm.priority,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            cookie: fm.cookie,
            packet_count: packets,
            byte_count: packets * 98,
            match_: fm.match_,
            instructions: fm.instructions,
        }
    }

    #[test]
    fn dump_flows_joins_all_parts() {
        let args = ["dump-flows", "br0"];
        let (p, c) = (plan_of(&args), command(&args));
        let part = |flags, f: Vec<FlowStats>| {
            Message::MultipartReply(MultipartReply {
                flags,
                body: MultipartReplyBody::Flow(f),
            })
        };
        let r = reply_msgs(&[
            (
                1,
                part(
                    OFPMPF_MORE,
                    vec![stats(
                        "priority=100,ip,nw_src=10.0.0.1,idle_timeout=10,actions=output:2",
                        3,
                    )],
                ),
            ),
            (1, part(0, vec![stats("priority=0,actions=normal", 0)])),
        ]);
        assert_eq!(
            render(&c, &p, &r, OutputFormat::Text).ok().as_deref(),
            Some(
                " cookie=0x0, duration=1.234s, table=0, n_packets=3, n_bytes=294, idle_timeout=10, priority=100,ip,nw_src=10.0.0.1 actions=output:2\n \
                 cookie=0x0, duration=1.234s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL\n"
            )
        );
        let j: serde_json::Value =
            serde_json::from_str(&render(&c, &p, &r, OutputFormat::Json).expect("json"))
                .expect("valid json");
        assert_eq!(j[0]["match"], "ip,nw_src=10.0.0.1");
        assert_eq!(j[0]["actions"], "output:2");
        assert_eq!(j[0]["n_packets"], 3);
        assert_eq!(j[1]["priority"], 0);
        // A reply of another kind is the daemon's fault.
        let wrong = reply_msgs(&[(1, Message::BarrierReply)]);
        assert_eq!(
            render(&c, &p, &wrong, OutputFormat::Text)
                .unwrap_err()
                .exit_code(),
            crate::EXIT_UNREACHABLE
        );
    }

    #[test]
    fn other_dumps_render_text_and_json() {
        let one = |args: &[&str], body: MultipartReplyBody, fmt| {
            let (p, c) = (plan_of(args), command(args));
            let r = reply_msgs(&[(
                1,
                Message::MultipartReply(MultipartReply { flags: 0, body }),
            )]);
            render(&c, &p, &r, fmt).unwrap_or_else(|e| panic!("{args:?}: {e}"))
        };
        let g = GroupDesc {
            group_type: GroupType::Select,
            group_id: 1,
            buckets: vec![Bucket {
                weight: 50,
                ..Bucket::new(vec![Action::output(PortNo(1))])
            }],
        };
        assert_eq!(
            one(
                &["dump-groups", "b"],
                MultipartReplyBody::GroupDesc(vec![g.clone()]),
                OutputFormat::Text
            ),
            " group_id=1,type=select,bucket=weight:50,actions=output:1\n"
        );
        let j: serde_json::Value = serde_json::from_str(&one(
            &["dump-groups", "b"],
            MultipartReplyBody::GroupDesc(vec![g]),
            OutputFormat::Json,
        ))
        .expect("json");
        assert_eq!(j[0]["type"], "select");
        assert_eq!(j[0]["buckets"][0]["weight"], 50);
        let m = MeterConfig {
            flags: rvs_openflow::meter::meter_flags::KBPS,
            meter_id: 1,
            bands: vec![MeterBand::Drop {
                rate: 1000,
                burst_size: 0,
            }],
        };
        assert_eq!(
            one(&["dump-meters", "b"], MultipartReplyBody::MeterConfig(vec![m.clone(), m]), OutputFormat::Text),
            "meter=1 kbps bands=\ntype=drop rate=1000\n\nmeter=1 kbps bands=\ntype=drop rate=1000\n"
        );
        let t = |id, active| TableStats {
            table_id: id,
            active_count: active,
            lookup_count: 0,
            matched_count: 0,
        };
        assert_eq!(
            one(
                &["dump-tables", "b"],
                MultipartReplyBody::Table(vec![t(0, 2), t(1, 0)]),
                OutputFormat::Text
            ),
            "  table 0:\n    active=2, lookup=0, matched=0\n"
        );
        let j: serde_json::Value = serde_json::from_str(&one(
            &["dump-tables", "b", "--all"],
            MultipartReplyBody::Table(vec![t(0, 2), t(1, 0)]),
            OutputFormat::Json,
        ))
        .expect("json");
        assert_eq!(j.as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn of_show_and_getters() {
        let info = OfBridgeInfo {
            bridge: "br0".into(),
            dpid: "00000000000000ab".into(),
            fail_mode: FailMode::Secure,
            controllers: vec![rvs_api::ControllerInfo {
                target: "tcp:127.0.0.1:6653".into(),
                connections: vec!["127.0.0.1:6653 role=equal".into()],
                state: "connected".into(),
            }],
            ports: vec![(1, "p1".into()), (PortNo::LOCAL.0, "br0".into())],
            n_flows: 3,
            n_groups: 1,
            n_meters: 0,
        };
        let r = Response::OfShow { info };
        let show =
            |args: &[&str], fmt| render(&command(args), &plan_of(args), &r, fmt).expect("renders");
        assert_eq!(
            show(&["of-show", "br0"], OutputFormat::Text),
            "Bridge br0: dpid 00000000000000ab, fail_mode secure\n  flows 3, groups 1, meters 0\n  \
             Controller tcp:127.0.0.1:6653: connected\n    127.0.0.1:6653 role=equal\n  Ports:\n    1(p1)\n    LOCAL(br0)\n"
        );
        assert_eq!(
            show(&["get-controller", "br0"], OutputFormat::Text),
            "tcp:127.0.0.1:6653\n"
        );
        assert_eq!(
            show(&["get-fail-mode", "br0"], OutputFormat::Text),
            "secure\n"
        );
        assert!(show(&["get-fail-mode", "br0"], OutputFormat::Json)
            .contains("\"fail_mode\": \"secure\""));
    }

    #[test]
    fn error_names_drop_the_prefixes() {
        let e = ErrorMsg::reply_to(ErrorCode::BadMatch(BadMatchCode::BadPrereq), &[]);
        assert_eq!(error_name(&e), "BAD_MATCH/BAD_PREREQ");
        let e = ErrorMsg::reply_to(ErrorCode::from_raw(99, 7), &[]);
        assert_eq!(error_name(&e), "unknown/7");
    }
}
