//! Bringing labs up and down, and looking at them.
//!
//! # `up`: a plan of idempotent steps with an undo log
//!
//! [`plan`] turns a [`Topology`] into an ordered list of [`Step`]s: bridges, links
//! (patch port pairs), then per host its namespace, interfaces (veth pair or tap, the rvs
//! port, the interface's settings), VLAN sub-interfaces, addresses and routes. [`up`]
//! runs them in order. Each step first looks whether its object exists already and only
//! creates (or, for rvs settings, corrects) what is missing, so running `up` twice changes
//! nothing the second time. Every step that creates or changes something records how to
//! undo it; when a step fails, the undo log is run backwards, so a failed `up` leaves the
//! system as it found it (objects that existed before are left alone).
//! [`UpOptions::fail_at`] injects a failure before step N, for the tests.
//!
//! Settings *inside* a namespace the lab created (MAC, MTU, offloads) are not undone one
//! by one: deleting the namespace takes them along.
//!
//! # `down`: by prefix, not by memory
//!
//! [`down`] does not need the state file nor a running rvsd: it deletes every rvs bridge
//! and port, every network namespace and every link of rvsd's namespace whose name starts
//! with the lab's prefix `NAME-`. Since lab names contain no `-`, no other lab's objects
//! start with that prefix. When rvsd is not reachable, its configuration keeps the lab's
//! bridges; the state file then stays (phase `rvsd-cleanup-pending`) and the next `down`
//! with rvsd running finishes the job.
//!
//! rvsd must run in the same network namespace as the process that runs the lab (taps
//! are created in rvsd's namespace and moved from there).

use crate::cmd::{self, run_argv};
use crate::control::{Control, ControlError};
use crate::openflow;
use crate::ping::{self, PingMatrix};
use crate::state::{LabLock, LabPhase, LabState};
use crate::topology::{Cidr, Host, IfaceKind, Topology};
use crate::validate::valid_lab_name;
use anyhow::{anyhow, bail, Context, Result};
use rvs_api::{BridgeInfo, BridgeSettings, FailMode, PortKind, PortVlanChange, Request, VlanSpec};
use rvs_openflow::multipart::FlowStats;
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// How long `up`/`down` wait for another `up`/`down` of the same lab.
const LOCK_WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Progress.
// ---------------------------------------------------------------------------------------

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The object was made.
    Created,
    /// The object existed; something was corrected.
    Changed,
    /// The object existed as it should.
    Present,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Changed => "updated",
            Outcome::Present => "present",
        }
    }
}

/// Receives progress of long operations.
pub trait Progress {
    /// Step `n` of `total` finished.
    fn step(&mut self, _n: usize, _total: usize, _what: &str, _outcome: Outcome) {}
    /// Anything else worth saying.
    fn note(&mut self, _message: &str) {}
}

/// Says nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// Prints one line per step and note on stderr.
pub struct StderrProgress;
impl Progress for StderrProgress {
    fn step(&mut self, n: usize, total: usize, what: &str, outcome: Outcome) {
        let width = total.to_string().len();
        eprintln!("[{n:>width$}/{total}] {what}: {}", outcome.as_str());
    }
    fn note(&mut self, message: &str) {
        eprintln!("{message}");
    }
}

// ---------------------------------------------------------------------------------------
// Small wrappers around `ip`.
// ---------------------------------------------------------------------------------------

fn ip_argv<'a>(ns: Option<&'a str>, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["ip"];
    if let Some(ns) = ns {
        v.extend(["-n", ns]);
    }
    v.extend_from_slice(args);
    v
}

fn ip(ns: Option<&str>, args: &[&str]) -> Result<String> {
    run_argv(&ip_argv(ns, args))
}

/// Whether the named namespace exists.
pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Names of every named network namespace.
pub fn list_netns() -> Result<Vec<String>> {
    let out = run_argv(&["ip", "netns", "list"])?;
    Ok(crate::parse_netns_list(&out)
        .into_iter()
        .map(str::to_string)
        .collect())
}

/// Names of the links of a namespace (`None`: ours).
pub fn list_links(ns: Option<&str>) -> Result<Vec<String>> {
    let out = ip(ns, &["-o", "link", "show"])?;
    Ok(crate::parse_link_list(&out)
        .into_iter()
        .map(str::to_string)
        .collect())
}

fn link_present(ns: Option<&str>, name: &str) -> bool {
    cmd::output_argv(&ip_argv(ns, &["link", "show", "dev", name]))
        .status
        .success()
}

/// Kills the processes inside namespace `name`, then deletes it.
fn delete_netns(name: &str) -> Result<()> {
    crate::netns::kill_pids_in(name);
    run_argv(&["ip", "netns", "del", name])?;
    Ok(())
}

fn require_tools(topology: &Topology) -> Result<()> {
    let tools = [("ip", "iproute2"), ("ethtool", "ethtool")];
    for (tool, package) in tools {
        if crate::find_on_path(tool).is_none() {
            bail!("`{tool}` is not on PATH; install it (Debian package {package})");
        }
    }
    let subifs: Vec<String> = topology
        .hosts
        .iter()
        .flat_map(|h| {
            h.interfaces.iter().flat_map(move |i| {
                i.vlan_interfaces
                    .iter()
                    .map(move |v| format!("{}/{}", h.name, v.name))
            })
        })
        .collect();
    if !subifs.is_empty() && !kernel_has_8021q() {
        bail!(
            "the VLAN sub-interfaces of this lab ({}) need the kernel's 802.1Q support (module 8021q), which this kernel does not offer; use one access interface per VLAN instead",
            subifs.join(", ")
        );
    }
    Ok(())
}

/// Whether VLAN devices can be made: `/proc/net/vlan` exists once the kernel's 8021q
/// support is loaded; try loading it once.
pub fn kernel_has_8021q() -> bool {
    let present = || Path::new("/proc/net/vlan").exists();
    if present() {
        return true;
    }
    let _ = cmd::output_argv(&["modprobe", "-q", "8021q"]);
    present()
}

// ---------------------------------------------------------------------------------------
// The plan.
// ---------------------------------------------------------------------------------------

/// One action of `up`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An rvs bridge.
    Bridge {
        name: String,
        settings: BridgeSettings,
    },
    /// An rvs port (system, tap or patch).
    Port {
        bridge: String,
        name: String,
        kind: PortKind,
        vlan: VlanSpec,
        peer: Option<String>,
    },
    /// A network namespace with `lo` up (and forwarding on, for a router).
    Netns { name: String, forwarding: bool },
    /// A veth pair: `host_end` in our namespace (up, TX checksum offload off), `nic` in
    /// `netns`.
    Veth {
        host_end: String,
        netns: String,
        nic: String,
        mtu: Option<u32>,
    },
    /// Moves the tap rvsd created into the host's namespace.
    TapIntoNetns { tap: String, netns: String },
    /// Settings of an interface in a namespace, which is then set up.
    Nic {
        netns: String,
        nic: String,
        mac: Option<String>,
        mtu: Option<u32>,
        offloads: bool,
    },
    /// An 802.1Q sub-interface.
    VlanIf {
        netns: String,
        parent: String,
        name: String,
        vid: u16,
    },
    /// An address on an interface.
    Address {
        netns: String,
        dev: String,
        cidr: Cidr,
    },
    /// A route (`to` 0.0.0.0/0 or ::/0 for a default route).
    Route {
        netns: String,
        to: Cidr,
        via: IpAddr,
    },
    /// The OpenFlow controllers of a bridge (empty: none).
    Controllers {
        bridge: String,
        targets: Vec<String>,
    },
    /// The fail mode of a bridge.
    FailMode { bridge: String, mode: FailMode },
    /// The whole flow table of a bridge (ovs-ofctl syntax, every entry known to parse).
    Flows { bridge: String, flows: Vec<String> },
}

/// An action with its description for progress and errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub what: String,
    pub action: Action,
}

/// The steps of `up` for `t`, in order.
pub fn plan(t: &Topology) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut push = |what: String, action: Action| steps.push(Step { what, action });
    let rvs_bridge = |name: &str| {
        t.bridge(name)
            .map_or_else(|| name.to_string(), |b| b.rvs_name.clone())
    };
    for b in &t.bridges {
        push(
            format!("bridge {} ({})", b.name, b.rvs_name),
            Action::Bridge {
                name: b.rvs_name.clone(),
                settings: BridgeSettings {
                    mac_aging_secs: b.mac_aging_secs,
                    mac_table_size: b.mac_table_size,
                },
            },
        );
        if let Some(mode) = b.fail_mode {
            push(
                format!("bridge {}: fail mode {mode}", b.name),
                Action::FailMode {
                    bridge: b.rvs_name.clone(),
                    mode,
                },
            );
        }
        if let Some(targets) = &b.controllers {
            push(
                format!("bridge {}: controllers [{}]", b.name, targets.join(", ")),
                Action::Controllers {
                    bridge: b.rvs_name.clone(),
                    targets: targets.clone(),
                },
            );
        }
    }
    for l in &t.links {
        for k in 0..2 {
            push(
                format!(
                    "link {} <-> {}: patch port {} on {}",
                    l.bridges[0], l.bridges[1], l.ports[k], l.bridges[k]
                ),
                Action::Port {
                    bridge: rvs_bridge(&l.bridges[k]),
                    name: l.ports[k].clone(),
                    kind: PortKind::Patch,
                    vlan: l.vlan.clone(),
                    peer: Some(l.ports[1 - k].clone()),
                },
            );
        }
    }
    for h in &t.hosts {
        push(
            format!("host {}: namespace {}", h.name, h.netns),
            Action::Netns {
                name: h.netns.clone(),
                forwarding: h.forwarding,
            },
        );
        for i in &h.interfaces {
            let port = Action::Port {
                bridge: rvs_bridge(&i.bridge),
                name: i.port.clone(),
                kind: match i.kind {
                    IfaceKind::Veth => PortKind::System,
                    IfaceKind::Tap => PortKind::Tap,
                },
                vlan: i.vlan.clone(),
                peer: None,
            };
            let port_what = format!(
                "host {}: port {} on bridge {} ({})",
                h.name,
                i.port,
                i.bridge,
                i.vlan.describe()
            );
            match i.kind {
                IfaceKind::Veth => {
                    push(
                        format!("host {}: veth {} <-> {}", h.name, i.port, i.nic),
                        Action::Veth {
                            host_end: i.port.clone(),
                            netns: h.netns.clone(),
                            nic: i.nic.clone(),
                            mtu: i.mtu,
                        },
                    );
                    push(port_what, port);
                }
                IfaceKind::Tap => {
                    push(port_what, port);
                    push(
                        format!("host {}: tap {} into {}", h.name, i.port, h.netns),
                        Action::TapIntoNetns {
                            tap: i.port.clone(),
                            netns: h.netns.clone(),
                        },
                    );
                }
            }
            push(
                format!("host {}: interface {} settings", h.name, i.nic),
                Action::Nic {
                    netns: h.netns.clone(),
                    nic: i.nic.clone(),
                    mac: i.mac.clone(),
                    mtu: i.mtu,
                    offloads: i.offloads,
                },
            );
            for a in &i.addresses {
                push(
                    format!("host {}: address {a} on {}", h.name, i.nic),
                    Action::Address {
                        netns: h.netns.clone(),
                        dev: i.nic.clone(),
                        cidr: *a,
                    },
                );
            }
            for v in &i.vlan_interfaces {
                push(
                    format!("host {}: VLAN {} sub-interface {}", h.name, v.vid, v.name),
                    Action::VlanIf {
                        netns: h.netns.clone(),
                        parent: i.nic.clone(),
                        name: v.name.clone(),
                        vid: v.vid,
                    },
                );
                for a in &v.addresses {
                    push(
                        format!("host {}: address {a} on {}", h.name, v.name),
                        Action::Address {
                            netns: h.netns.clone(),
                            dev: v.name.clone(),
                            cidr: *a,
                        },
                    );
                }
            }
        }
        for (to, via) in host_routes(h) {
            push(
                format!("host {}: route {to} via {via}", h.name),
                Action::Route {
                    netns: h.netns.clone(),
                    to,
                    via,
                },
            );
        }
    }
    // Flows last: they name OpenFlow port numbers, which exist once every port does.
    for b in &t.bridges {
        if let Some(flows) = &b.flows {
            push(
                format!("bridge {}: {} flows", b.name, flows.len()),
                Action::Flows {
                    bridge: b.rvs_name.clone(),
                    flows: flows.clone(),
                },
            );
        }
    }
    steps
}

/// The routes of a host, default routes first.
fn host_routes(h: &Host) -> Vec<(Cidr, IpAddr)> {
    let mut out = Vec::new();
    if let Some(g) = h.gateway {
        out.push((
            Cidr {
                addr: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                prefix: 0,
            },
            IpAddr::V4(g),
        ));
    }
    if let Some(g) = h.gateway6 {
        out.push((
            Cidr {
                addr: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                prefix: 0,
            },
            IpAddr::V6(g),
        ));
    }
    out.extend(h.routes.iter().map(|r| (r.to, r.via)));
    out
}

// ---------------------------------------------------------------------------------------
// Running the plan.
// ---------------------------------------------------------------------------------------

/// How to undo one change of `up`.
#[derive(Debug, Clone)]
enum Undo {
    DelBridge(String),
    SetBridge(String, BridgeSettings),
    DelPort {
        bridge: String,
        name: String,
    },
    SetPortVlan {
        bridge: String,
        name: String,
        vlan: VlanSpec,
    },
    DelNetns(String),
    DelLink {
        ns: Option<String>,
        name: String,
    },
    DelAddress {
        ns: String,
        dev: String,
        cidr: Cidr,
    },
    DelRoute {
        ns: String,
        to: Cidr,
    },
    SetControllers {
        bridge: String,
        targets: Vec<String>,
    },
    SetFailMode {
        bridge: String,
        mode: FailMode,
    },
    RestoreFlows {
        bridge: String,
        flows: Vec<FlowStats>,
    },
}

impl Undo {
    fn describe(&self) -> String {
        match self {
            Undo::DelBridge(b) => format!("delete bridge {b}"),
            Undo::SetBridge(b, _) => format!("restore the settings of bridge {b}"),
            Undo::DelPort { bridge, name } => format!("delete port {name} of {bridge}"),
            Undo::SetPortVlan { name, .. } => format!("restore the VLAN settings of port {name}"),
            Undo::DelNetns(n) => format!("delete namespace {n}"),
            Undo::DelLink { name, .. } => format!("delete interface {name}"),
            Undo::DelAddress { dev, cidr, .. } => format!("delete address {cidr} of {dev}"),
            Undo::DelRoute { to, .. } => format!("delete route {to}"),
            Undo::SetControllers { bridge, .. } => {
                format!("restore the controllers of bridge {bridge}")
            }
            Undo::SetFailMode { bridge, mode } => {
                format!("restore fail mode {mode} of bridge {bridge}")
            }
            Undo::RestoreFlows { bridge, flows } => {
                format!("restore the {} flows of bridge {bridge}", flows.len())
            }
        }
    }

    fn run(&self, ctl: &Control) -> Result<()> {
        match self {
            Undo::DelBridge(b) => ctl.change(
                &format!("delete bridge {b}"),
                Request::DelBridge {
                    name: b.clone(),
                    if_exists: true,
                },
            )?,
            Undo::SetBridge(b, settings) => ctl.change(
                &format!("restore bridge {b}"),
                Request::SetBridge {
                    name: b.clone(),
                    settings: settings.clone(),
                },
            )?,
            Undo::DelPort { bridge, name } => ctl.change(
                &format!("delete port {name}"),
                Request::DelPort {
                    bridge: bridge.clone(),
                    name: name.clone(),
                    if_exists: true,
                },
            )?,
            Undo::SetPortVlan { bridge, name, vlan } => ctl.change(
                &format!("restore port {name}"),
                Request::SetPort {
                    bridge: bridge.clone(),
                    name: name.clone(),
                    change: full_change(vlan),
                },
            )?,
            Undo::DelNetns(n) => delete_netns(n)?,
            Undo::DelLink { ns, name } => {
                if link_present(ns.as_deref(), name) {
                    ip(ns.as_deref(), &["link", "del", "dev", name])?;
                }
            }
            Undo::DelAddress { ns, dev, cidr } => {
                ip(Some(ns), &["addr", "del", &cidr.to_string(), "dev", dev])?;
            }
            Undo::DelRoute { ns, to } => {
                let fam = family(to.addr);
                ip(Some(ns), &[fam, "route", "del", &route_dest(to)])?;
            }
            Undo::SetControllers { bridge, targets } => ctl.change(
                &format!("restore the controllers of bridge {bridge}"),
                Request::SetController {
                    bridge: bridge.clone(),
                    targets: targets.clone(),
                },
            )?,
            Undo::SetFailMode { bridge, mode } => ctl.change(
                &format!("restore the fail mode of bridge {bridge}"),
                Request::SetFailMode {
                    bridge: bridge.clone(),
                    mode: *mode,
                },
            )?,
            Undo::RestoreFlows { bridge, flows } => {
                let old: Vec<_> = flows.iter().map(openflow::readd).collect();
                openflow::replace_flows(ctl, bridge, &old)?;
            }
        }
        Ok(())
    }
}

fn full_change(vlan: &VlanSpec) -> PortVlanChange {
    PortVlanChange {
        tag: Some(vlan.tag),
        trunks: Some(vlan.trunks.clone()),
        vlan_mode: Some(vlan.mode),
    }
}

fn family(a: IpAddr) -> &'static str {
    if a.is_ipv4() {
        "-4"
    } else {
        "-6"
    }
}

fn route_dest(to: &Cidr) -> String {
    if to.prefix == 0 {
        "default".to_string()
    } else {
        to.to_string()
    }
}

/// Options of [`up`].
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Test hook: fail before running step N (1-based), as if it had failed, to check the
    /// rollback. `None` in normal use.
    pub fail_at: Option<usize>,
}

/// Environment variable read by [`UpOptions::from_env`] (a test hook for the CLI).
pub const FAIL_AT_ENV: &str = "RVS_LAB_FAIL_AT";

impl UpOptions {
    /// Options from the environment: `RVS_LAB_FAIL_AT=N` sets [`UpOptions::fail_at`].
    /// Only for tests of the command line; unset in normal use.
    pub fn from_env() -> UpOptions {
        UpOptions {
            fail_at: std::env::var(FAIL_AT_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// What [`up`] did.
#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    pub lab: String,
    pub prefix: String,
    pub steps: usize,
    pub created: usize,
    pub changed: usize,
    pub present: usize,
}

/// Why [`up`] failed, after rolling back.
#[derive(Debug)]
pub struct UpFailure {
    /// 1-based number of the failed step (0: before any step).
    pub step: usize,
    pub total: usize,
    pub what: String,
    pub error: anyhow::Error,
    /// How many changes were undone.
    pub undone: usize,
    /// Undo actions that failed (the rollback is incomplete when not empty).
    pub rollback_errors: Vec<String>,
}

impl std::fmt::Display for UpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {}/{} ({}) failed: {:#}; ",
            self.step, self.total, self.what, self.error
        )?;
        if self.rollback_errors.is_empty() {
            write!(f, "rolled back ({} changes undone)", self.undone)
        } else {
            write!(
                f,
                "rollback incomplete ({} undone, {} failed: {}); `rvs lab down` removes the rest",
                self.undone,
                self.rollback_errors.len(),
                self.rollback_errors.join("; ")
            )
        }
    }
}

impl std::error::Error for UpFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error.as_ref())
    }
}

/// Brings the lab up (see the module documentation). rvsd must answer on `ctl`.
///
/// On failure everything this call created is removed again and the error is an
/// [`UpFailure`] (or, before any step ran, the reason: rvsd unreachable, tool missing,
/// lab busy).
pub fn up(
    t: &Topology,
    ctl: &Control,
    opts: &UpOptions,
    progress: &mut dyn Progress,
) -> Result<UpReport> {
    require_tools(t)?;
    let _lock = LabLock::acquire(ctl.run_dir(), &t.name, LOCK_WAIT)?;
    ctl.ping()?;
    let previous = LabState::read(ctl.run_dir(), &t.name)?;
    if let Some(prev) = &previous {
        if prev.topology.source != t.source && prev.phase == LabPhase::Up {
            progress.note(&format!(
                "note: lab '{}' was brought up from {}; applying {} over it",
                t.name, prev.topology.source, t.source
            ));
        }
    }
    let mut state = LabState::new(t, LabPhase::Building);
    if previous.as_ref().map(|p| p.phase) == Some(LabPhase::Up) {
        state.phase = LabPhase::Up;
    }
    state.write(ctl.run_dir())?;

    let steps = plan(t);
    let total = steps.len();
    let mut undo: Vec<Undo> = Vec::new();
    let mut report = UpReport {
        lab: t.name.clone(),
        prefix: t.prefix.clone(),
        steps: total,
        created: 0,
        changed: 0,
        present: 0,
    };
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        let result = if opts.fail_at == Some(n) {
            Err(anyhow!("injected failure (test hook fail_at={n})"))
        } else {
            apply(ctl, &step.action, &mut undo)
        };
        match result {
            Ok(outcome) => {
                match outcome {
                    Outcome::Created => report.created += 1,
                    Outcome::Changed => report.changed += 1,
                    Outcome::Present => report.present += 1,
                }
                progress.step(n, total, &step.what, outcome);
            }
            Err(error) => {
                progress.note(&format!(
                    "[{n}/{total}] {} failed: {error:#}; rolling back {} changes",
                    step.what,
                    undo.len()
                ));
                let (undone, rollback_errors) = rollback(ctl, undo, progress);
                // Forget the lab if this run introduced it and nothing is left of it.
                if previous.is_none() && rollback_errors.is_empty() {
                    let _ = LabState::remove(ctl.run_dir(), &t.name);
                } else if let Some(mut prev) = previous {
                    let _ = prev.write(ctl.run_dir());
                }
                return Err(UpFailure {
                    step: n,
                    total,
                    what: step.what.clone(),
                    error,
                    undone,
                    rollback_errors,
                }
                .into());
            }
        }
    }
    state.phase = LabPhase::Up;
    state.write(ctl.run_dir())?;
    Ok(report)
}

fn rollback(ctl: &Control, undo: Vec<Undo>, progress: &mut dyn Progress) -> (usize, Vec<String>) {
    let mut undone = 0;
    let mut errors = Vec::new();
    for u in undo.into_iter().rev() {
        match u.run(ctl) {
            Ok(()) => {
                undone += 1;
                progress.note(&format!("  undone: {}", u.describe()));
            }
            Err(e) => errors.push(format!("{}: {e:#}", u.describe())),
        }
    }
    (undone, errors)
}

fn find_port<'a>(
    bridges: &'a [BridgeInfo],
    port: &str,
) -> Option<(&'a str, &'a rvs_api::PortInfo)> {
    bridges.iter().find_map(|b| {
        b.ports
            .iter()
            .find(|p| p.name == port)
            .map(|p| (b.name.as_str(), p))
    })
}

fn same_vlan(a: &VlanSpec, b: &VlanSpec) -> bool {
    a.effective_mode() == b.effective_mode() && a.tag == b.tag && a.trunks == b.trunks
}

/// Runs one action; records undo entries for what it created or changed.
fn apply(ctl: &Control, action: &Action, undo: &mut Vec<Undo>) -> Result<Outcome> {
    match action {
        Action::FailMode { bridge, mode } => {
            let info = openflow::of_show(ctl, bridge)?;
            if info.fail_mode == *mode {
                return Ok(Outcome::Present);
            }
            ctl.change(
                &format!("set the fail mode of bridge {bridge}"),
                Request::SetFailMode {
                    bridge: bridge.clone(),
                    mode: *mode,
                },
            )?;
            undo.push(Undo::SetFailMode {
                bridge: bridge.clone(),
                mode: info.fail_mode,
            });
            Ok(Outcome::Changed)
        }
        Action::Controllers { bridge, targets } => {
            let info = openflow::of_show(ctl, bridge)?;
            let mut now: Vec<&str> = info.controllers.iter().map(|c| c.target.as_str()).collect();
            let mut want: Vec<&str> = targets.iter().map(String::as_str).collect();
            now.sort_unstable();
            want.sort_unstable();
            if now == want {
                return Ok(Outcome::Present);
            }
            ctl.change(
                &format!("set the controllers of bridge {bridge}"),
                Request::SetController {
                    bridge: bridge.clone(),
                    targets: targets.clone(),
                },
            )?;
            undo.push(Undo::SetControllers {
                bridge: bridge.clone(),
                targets: info.controllers.into_iter().map(|c| c.target).collect(),
            });
            Ok(Outcome::Changed)
        }
        Action::Flows { bridge, flows } => {
            let wanted = openflow::wanted_mods(flows)?;
            let current = openflow::dump_flows(ctl, bridge)?;
            if openflow::flows_match(&current, &wanted) {
                return Ok(Outcome::Present);
            }
            // Recorded first: a failure half-way through the replacement is undone too.
            undo.push(Undo::RestoreFlows {
                bridge: bridge.clone(),
                flows: current,
            });
            openflow::replace_flows(ctl, bridge, &wanted)?;
            Ok(Outcome::Changed)
        }
        Action::Bridge { name, settings } => {
            let bridges = ctl.show()?;
            if let Some(b) = bridges.iter().find(|b| &b.name == name) {
                let differs = settings
                    .mac_aging_secs
                    .is_some_and(|a| a != b.mac_aging_secs)
                    || settings
                        .mac_table_size
                        .is_some_and(|s| s != b.mac_table_size);
                if !differs {
                    return Ok(Outcome::Present);
                }
                let old = BridgeSettings {
                    mac_aging_secs: Some(b.mac_aging_secs),
                    mac_table_size: Some(b.mac_table_size),
                };
                ctl.change(
                    &format!("change bridge {name}"),
                    Request::SetBridge {
                        name: name.clone(),
                        settings: settings.clone(),
                    },
                )?;
                undo.push(Undo::SetBridge(name.clone(), old));
                return Ok(Outcome::Changed);
            }
            ctl.change(
                &format!("add bridge {name}"),
                Request::AddBridge {
                    name: name.clone(),
                    settings: settings.clone(),
                    may_exist: true,
                },
            )?;
            undo.push(Undo::DelBridge(name.clone()));
            Ok(Outcome::Created)
        }
        Action::Port {
            bridge,
            name,
            kind,
            vlan,
            peer,
        } => {
            let bridges = ctl.show()?;
            if let Some((on, p)) = find_port(&bridges, name) {
                if on != bridge || p.kind != *kind || p.peer != *peer {
                    bail!(
                        "port {name} exists already on bridge {on} as a {} port; `rvs lab down` the lab first",
                        p.kind
                    );
                }
                if same_vlan(&p.vlan, vlan) {
                    return Ok(Outcome::Present);
                }
                ctl.change(
                    &format!("change port {name}"),
                    Request::SetPort {
                        bridge: bridge.clone(),
                        name: name.clone(),
                        change: full_change(vlan),
                    },
                )?;
                undo.push(Undo::SetPortVlan {
                    bridge: bridge.clone(),
                    name: name.clone(),
                    vlan: p.vlan.clone(),
                });
                return Ok(Outcome::Changed);
            }
            ctl.change(
                &format!("add port {name} to {bridge}"),
                Request::AddPort {
                    bridge: bridge.clone(),
                    name: name.clone(),
                    kind: *kind,
                    vlan: vlan.clone(),
                    may_exist: true,
                    peer: peer.clone(),
                    ofport: None,
                    queues: None,
                },
            )?;
            undo.push(Undo::DelPort {
                bridge: bridge.clone(),
                name: name.clone(),
            });
            Ok(Outcome::Created)
        }
        Action::Netns { name, forwarding } => {
            let outcome = if netns_exists(name) {
                Outcome::Present
            } else {
                run_argv(&["ip", "netns", "add", name])
                    .with_context(|| format!("creating namespace {name}"))?;
                undo.push(Undo::DelNetns(name.clone()));
                Outcome::Created
            };
            ip(Some(name), &["link", "set", "lo", "up"])?;
            if *forwarding {
                run_argv(&[
                    "ip",
                    "netns",
                    "exec",
                    name,
                    "sysctl",
                    "-qw",
                    "net.ipv4.ip_forward=1",
                    "net.ipv6.conf.all.forwarding=1",
                ])?;
            }
            Ok(outcome)
        }
        Action::Veth {
            host_end,
            netns,
            nic,
            mtu,
        } => {
            let outcome = match (link_present(None, host_end), link_present(Some(netns), nic)) {
                (true, true) => Outcome::Present,
                (true, false) => bail!(
                    "interface {host_end} exists, but its peer {nic} is not in namespace {netns}; `rvs lab down` the lab first"
                ),
                (false, true) => bail!(
                    "namespace {netns} has an interface {nic} already that is not the peer of {host_end}"
                ),
                (false, false) => {
                    ip(
                        None,
                        &[
                            "link", "add", host_end, "type", "veth", "peer", "name", nic, "netns",
                            netns,
                        ],
                    )
                    .with_context(|| format!("creating veth pair {host_end} <-> {nic}"))?;
                    undo.push(Undo::DelLink {
                        ns: None,
                        name: host_end.clone(),
                    });
                    Outcome::Created
                }
            };
            if let Some(m) = mtu {
                ip(
                    None,
                    &["link", "set", "dev", host_end, "mtu", &m.to_string()],
                )?;
            }
            ip(None, &["link", "set", "dev", host_end, "up"])?;
            Ok(outcome)
        }
        Action::TapIntoNetns { tap, netns } => {
            if link_present(Some(netns), tap) {
                return Ok(Outcome::Present);
            }
            if !link_present(None, tap) {
                bail!("tap {tap} is neither in rvsd's namespace nor in {netns}");
            }
            ip(None, &["link", "set", "dev", tap, "netns", netns])
                .with_context(|| format!("moving tap {tap} into {netns}"))?;
            // No undo of its own: deleting the port deletes the tap wherever it is.
            Ok(Outcome::Created)
        }
        Action::Nic {
            netns,
            nic,
            mac,
            mtu,
            offloads,
        } => {
            let ns = Some(netns.as_str());
            let mut outcome = Outcome::Present;
            if let Some(mac) = mac {
                let current = crate::link_mac_in(ns, nic)?;
                if crate::frames::try_mac(mac) != Some(current) {
                    ip(ns, &["link", "set", "dev", nic, "address", mac])?;
                    outcome = Outcome::Changed;
                }
            }
            if let Some(m) = mtu {
                ip(ns, &["link", "set", "dev", nic, "mtu", &m.to_string()])?;
            }
            let flags = ip(ns, &["-o", "link", "show", "dev", nic])?;
            let is_up = flags
                .split(['<', '>'])
                .nth(1)
                .is_some_and(|f| f.split(',').any(|x| x == "UP"));
            if !is_up {
                outcome = Outcome::Changed;
            }
            if !offloads {
                run_argv(&[
                    "ip", "netns", "exec", netns, "ethtool", "-K", nic, "tx", "off", "tso", "off",
                    "gso", "off",
                ])?;
            }
            ip(ns, &["link", "set", "dev", nic, "up"])?;
            Ok(outcome)
        }
        Action::VlanIf {
            netns,
            parent,
            name,
            vid,
        } => {
            let ns = Some(netns.as_str());
            let outcome = if link_present(ns, name) {
                Outcome::Present
            } else {
                ip(
                    ns,
                    &[
                        "link",
                        "add",
                        "link",
                        parent,
                        "name",
                        name,
                        "type",
                        "vlan",
                        "id",
                        &vid.to_string(),
                    ],
                )?;
                undo.push(Undo::DelLink {
                    ns: Some(netns.clone()),
                    name: name.clone(),
                });
                Outcome::Created
            };
            ip(ns, &["link", "set", "dev", name, "up"])?;
            Ok(outcome)
        }
        Action::Address { netns, dev, cidr } => {
            let out = ip(Some(netns), &["-o", "addr", "show", "dev", dev])?;
            let text = cidr.to_string();
            if out.split_whitespace().any(|w| w == text) {
                return Ok(Outcome::Present);
            }
            let mut args = vec!["addr", "add", text.as_str(), "dev", dev.as_str()];
            if cidr.addr.is_ipv6() {
                // Usable at once: no duplicate address detection in a lab.
                args.push("nodad");
            }
            ip(Some(netns), &args)?;
            undo.push(Undo::DelAddress {
                ns: netns.clone(),
                dev: dev.clone(),
                cidr: *cidr,
            });
            Ok(Outcome::Created)
        }
        Action::Route { netns, to, via } => {
            let fam = family(to.addr);
            let dest = route_dest(to);
            let out = ip(Some(netns), &[fam, "route", "show", "exact", &dest])?;
            let via_text = via.to_string();
            if !out.trim().is_empty() {
                let words: Vec<&str> = out.split_whitespace().collect();
                if words.windows(2).any(|w| w[0] == "via" && w[1] == via_text) {
                    return Ok(Outcome::Present);
                }
                bail!(
                    "namespace {netns} has another route to {dest}: {}",
                    out.trim()
                );
            }
            ip(Some(netns), &[fam, "route", "add", &dest, "via", &via_text])?;
            undo.push(Undo::DelRoute {
                ns: netns.clone(),
                to: *to,
            });
            Ok(Outcome::Created)
        }
    }
}

// ---------------------------------------------------------------------------------------
// down
// ---------------------------------------------------------------------------------------

/// What [`down`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DownReport {
    pub lab: String,
    pub prefix: String,
    /// rvs bridges deleted (with all their ports).
    pub bridges: Vec<String>,
    /// rvs ports deleted from bridges that are not the lab's.
    pub ports: Vec<String>,
    pub namespaces: Vec<String>,
    pub links: Vec<String>,
    /// Why rvsd's configuration could not be cleaned, when it could not.
    pub rvsd_pending: Option<String>,
}

impl DownReport {
    pub fn removed(&self) -> usize {
        self.bridges.len() + self.ports.len() + self.namespaces.len() + self.links.len()
    }
}

/// Removes everything of lab `name` (see the module documentation). Succeeds when there
/// is nothing to remove.
pub fn down(name: &str, ctl: &Control, progress: &mut dyn Progress) -> Result<DownReport> {
    if !valid_lab_name(name) {
        bail!("'{name}' is not a lab name (lowercase letters and digits, starting with a letter)");
    }
    let _lock = LabLock::acquire(ctl.run_dir(), name, LOCK_WAIT)?;
    let prefix = format!("{name}-");
    let mut report = DownReport {
        lab: name.to_string(),
        prefix: prefix.clone(),
        ..DownReport::default()
    };

    // 1. rvsd's configuration: bridges (with their ports, taps included), then strays.
    match ctl.show() {
        Ok(bridges) => {
            for b in bridges.iter().filter(|b| b.name.starts_with(&prefix)) {
                ctl.change(
                    &format!("delete bridge {}", b.name),
                    Request::DelBridge {
                        name: b.name.clone(),
                        if_exists: true,
                    },
                )?;
                progress.note(&format!("removed bridge {}", b.name));
                report.bridges.push(b.name.clone());
            }
            for b in bridges.iter().filter(|b| !b.name.starts_with(&prefix)) {
                for p in b.ports.iter().filter(|p| p.name.starts_with(&prefix)) {
                    ctl.change(
                        &format!("delete port {}", p.name),
                        Request::DelPort {
                            bridge: b.name.clone(),
                            name: p.name.clone(),
                            if_exists: true,
                        },
                    )?;
                    progress.note(&format!("removed port {} of {}", p.name, b.name));
                    report.ports.push(p.name.clone());
                }
            }
        }
        Err(ControlError::Unreachable(e)) => {
            progress.note(&format!(
                "warning: {e}; removing the namespaces and interfaces, but rvsd's configuration keeps the lab's bridges until `rvs lab down {name}` runs again with rvsd running"
            ));
            report.rvsd_pending = Some(e.to_string());
        }
        Err(e) => return Err(e.into()),
    }

    // 2. Namespaces (their interfaces, moved taps included, go with them).
    for ns in list_netns()?.into_iter().filter(|n| n.starts_with(&prefix)) {
        delete_netns(&ns).with_context(|| format!("deleting namespace {ns}"))?;
        progress.note(&format!("removed namespace {ns}"));
        report.namespaces.push(ns);
    }

    // 3. Links left in our namespace: veth host ends, taps not moved yet. The kernel
    // removes the host end of a veth whose namespace end went away asynchronously, so
    // look a few times.
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..50 {
        let left: Vec<String> = list_links(None)?
            .into_iter()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        if left.is_empty() {
            break;
        }
        for l in left {
            if link_present(None, &l) && ip(None, &["link", "del", "dev", &l]).is_ok() {
                progress.note(&format!("removed interface {l}"));
                report.links.push(l);
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let left_links: Vec<String> = list_links(None)?
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .collect();
    let left_ns: Vec<String> = list_netns()?
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    if !left_links.is_empty() || !left_ns.is_empty() {
        bail!(
            "lab '{name}': could not remove everything: namespaces {left_ns:?}, interfaces {left_links:?}"
        );
    }

    // 4. The state file goes once rvsd's part is done too.
    if report.rvsd_pending.is_some() {
        match LabState::read(ctl.run_dir(), name)? {
            Some(mut st) => {
                st.phase = LabPhase::RvsdCleanupPending;
                st.write(ctl.run_dir())?;
            }
            None => {
                // Nothing recorded it; `status` will not show it, but a later `down`
                // still finds the bridges by prefix.
            }
        }
    } else {
        LabState::remove(ctl.run_dir(), name)?;
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------

/// How a lab looks now.
#[derive(Debug, Clone, Serialize)]
pub struct LabStatus {
    pub lab: String,
    pub prefix: String,
    pub source: String,
    /// The phase recorded in the state file.
    pub phase: LabPhase,
    /// `up`, or what is wrong (`degraded: ...`).
    pub health: String,
    pub hosts: Vec<HostStatus>,
    pub bridges: Vec<BridgeStatus>,
    /// Why rvsd could not be asked, when it could not.
    pub rvsd_error: Option<String>,
}

/// A host of a lab.
#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    pub host: String,
    pub netns: String,
    pub netns_present: bool,
}

/// A bridge of a lab.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeStatus {
    pub bridge: String,
    pub rvs_name: String,
    /// Whether rvsd has it (`None`: rvsd not reachable).
    pub present: Option<bool>,
    pub ports_up: usize,
    pub ports: usize,
    /// Ports that are not up, with rvsd's reason.
    pub problems: Vec<String>,
    /// OpenFlow fail mode (`None`: rvsd not asked or the bridge is missing).
    pub fail_mode: Option<FailMode>,
    /// OpenFlow controller targets.
    pub controllers: Vec<String>,
    /// Flows in all tables (`None`: not known).
    pub n_flows: Option<u64>,
}

/// Status of lab `state` now.
pub fn status_of(state: &LabState, ctl: &Control) -> LabStatus {
    let t = &state.topology;
    let hosts: Vec<HostStatus> = t
        .hosts
        .iter()
        .map(|h| HostStatus {
            host: h.name.clone(),
            netns: h.netns.clone(),
            netns_present: netns_exists(&h.netns),
        })
        .collect();
    let shown = ctl.show();
    let rvsd_error = shown.as_ref().err().map(|e| e.to_string());
    let bridges: Vec<BridgeStatus> = t
        .bridges
        .iter()
        .map(|b| {
            let info = shown
                .as_ref()
                .ok()
                .map(|all| all.iter().find(|x| x.name == b.rvs_name));
            let (ports_up, ports, problems) = match info {
                Some(Some(bi)) => (
                    bi.ports.iter().filter(|p| p.status == "up").count(),
                    bi.ports.len(),
                    bi.ports
                        .iter()
                        .filter(|p| p.status != "up")
                        .map(|p| format!("{}: {}", p.name, p.status))
                        .collect(),
                ),
                _ => (0, 0, Vec::new()),
            };
            let of = match info {
                Some(Some(_)) => openflow::of_show(ctl, &b.rvs_name).ok(),
                _ => None,
            };
            BridgeStatus {
                bridge: b.name.clone(),
                rvs_name: b.rvs_name.clone(),
                present: info.map(|i| i.is_some()),
                ports_up,
                ports,
                problems,
                fail_mode: of.as_ref().map(|o| o.fail_mode),
                controllers: of
                    .as_ref()
                    .map(|o| o.controllers.iter().map(|c| c.target.clone()).collect())
                    .unwrap_or_default(),
                n_flows: of.as_ref().map(|o| o.n_flows),
            }
        })
        .collect();
    let mut issues = Vec::new();
    let missing_ns = hosts.iter().filter(|h| !h.netns_present).count();
    if missing_ns > 0 {
        issues.push(format!("{missing_ns} namespaces missing"));
    }
    if rvsd_error.is_some() {
        issues.push("rvsd not reachable".to_string());
    } else {
        let missing_br = bridges.iter().filter(|b| b.present == Some(false)).count();
        if missing_br > 0 {
            issues.push(format!("{missing_br} bridges missing"));
        }
        let down: usize = bridges.iter().map(|b| b.problems.len()).sum();
        if down > 0 {
            issues.push(format!("{down} ports not up"));
        }
    }
    let health = match (state.phase, issues.is_empty()) {
        (LabPhase::Up, true) => "up".to_string(),
        (LabPhase::Building, _) => {
            "building (or an `up` was interrupted: run up or down again)".to_string()
        }
        (LabPhase::RvsdCleanupPending, _) => {
            "down, but rvsd still has its bridges: run `rvs lab down` with rvsd running".to_string()
        }
        (LabPhase::Up, false) => format!("degraded: {}", issues.join(", ")),
    };
    LabStatus {
        lab: state.name.clone(),
        prefix: state.prefix.clone(),
        source: t.source.clone(),
        phase: state.phase,
        health,
        hosts,
        bridges,
        rvsd_error,
    }
}

/// Status of every lab with a state file in `ctl`'s run directory.
pub fn status(ctl: &Control) -> Result<Vec<LabStatus>> {
    let mut out = Vec::new();
    for st in LabState::all(ctl.run_dir()) {
        out.push(status_of(&st?, ctl));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// exec, ping-matrix, lookups
// ---------------------------------------------------------------------------------------

/// Finds the namespace of `host`: `LAB-HOST` (the namespace's name), `LAB/HOST`, or a bare
/// host name, which must then be unique among the labs of the run directory (or of
/// `lab`, when given).
pub fn resolve_host(run_dir: &Path, lab: Option<&str>, host: &str) -> Result<(Topology, String)> {
    let labs: Vec<LabState> = match lab {
        Some(l) => vec![LabState::read(run_dir, l)?
            .ok_or_else(|| anyhow!("no lab named '{l}' in {}", run_dir.display()))?],
        None => LabState::all(run_dir)
            .into_iter()
            .filter_map(Result::ok)
            .collect(),
    };
    let mut found = Vec::new();
    for st in &labs {
        for h in &st.topology.hosts {
            let qualified = format!("{}/{}", st.name, h.name);
            if host == h.netns || host == qualified || host == h.name {
                found.push((st.topology.clone(), h.netns.clone()));
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no host '{host}' in {} (known: {})",
            lab.map_or_else(|| "any lab".to_string(), |l| format!("lab '{l}'")),
            labs.iter()
                .flat_map(|s| s
                    .topology
                    .hosts
                    .iter()
                    .map(move |h| format!("{}/{}", s.name, h.name)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => bail!(
            "host '{host}' is in several labs ({}); write LAB/HOST",
            found
                .iter()
                .map(|(t, _)| t.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A command that runs `argv` inside namespace `netns` (`ip netns exec`).
pub fn exec_command(netns: &str, argv: &[String]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", netns]).args(argv);
    c
}

/// The lab named `name_or_file`: a file path (when it exists or ends in `.toml`), read
/// and validated; else a lab name, whose topology comes from its state file.
pub fn topology_of(run_dir: &Path, name_or_file: &str) -> Result<Topology> {
    let p = PathBuf::from(name_or_file);
    if name_or_file.ends_with(".toml") || name_or_file.contains('/') || p.is_file() {
        return Ok(Topology::load(&p)?);
    }
    match LabState::read(run_dir, name_or_file)? {
        Some(st) => Ok(st.topology),
        None => bail!(
            "no lab named '{name_or_file}' is up in {} (and no such file)",
            run_dir.display()
        ),
    }
}

/// Pings from every host to every other host (see [`ping::run`]).
pub fn ping_matrix(t: &Topology, progress: &mut dyn Progress) -> Result<PingMatrix> {
    for h in &t.hosts {
        if !netns_exists(&h.netns) {
            bail!(
                "host {} of lab '{}' has no namespace {}: is the lab up?",
                h.name,
                t.name,
                h.netns
            );
        }
    }
    if crate::find_on_path("ping").is_none() {
        bail!("`ping` is not on PATH; install it (Debian package iputils-ping)");
    }
    Ok(ping::run(t, progress))
}

// ---------------------------------------------------------------------------------------
// A lab owned by a test.
// ---------------------------------------------------------------------------------------

/// A lab that is up, brought down when dropped (also while a panic unwinds): the way
/// tests use labs.
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// use rvs_lab::{workspace_bin, Control, RunningLab, RvsdProcess, Topology};
/// let rvsd = RvsdProcess::start(workspace_bin("rvsd"), workspace_bin("rvs"))?;
/// let topo = Topology::parse(r#"
///     name = "demo1"
///     [[bridges]]
///     name = "br0"
///     [[hosts]]
///     name = "a"
///     interfaces = [{ bridge = "br0", vlan = 10, addresses = ["192.0.2.1/24"] }]
///     [[hosts]]
///     name = "b"
///     interfaces = [{ bridge = "br0", vlan = 10, addresses = ["192.0.2.2/24"] }]
/// "#, "demo.toml")?;
/// let lab = RunningLab::up(topo, Control::new(rvsd.run_dir()))?;
/// assert!(lab.ping_matrix()?.reaches("a", "b"));
/// # Ok(()) }
/// ```
pub struct RunningLab {
    topology: Topology,
    ctl: Control,
    down_on_drop: bool,
}

impl RunningLab {
    /// Brings `topology` up on the rvsd at `ctl` (quietly).
    pub fn up(topology: Topology, ctl: Control) -> Result<RunningLab> {
        up(&topology, &ctl, &UpOptions::default(), &mut Quiet)?;
        Ok(RunningLab {
            topology,
            ctl,
            down_on_drop: true,
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn control(&self) -> &Control {
        &self.ctl
    }

    /// The namespace of `host`.
    ///
    /// # Panics
    ///
    /// If the lab has no such host.
    pub fn netns(&self, host: &str) -> &str {
        match self.topology.host(host) {
            Some(h) => &h.netns,
            None => panic!("lab '{}' has no host '{host}'", self.topology.name),
        }
    }

    /// Runs `argv` in `host`'s namespace (bounded to 60 s); its stdout, or an error with
    /// the command line, status and stderr.
    pub fn exec(&self, host: &str, argv: &[&str]) -> Result<String> {
        let mut full = vec!["ip", "netns", "exec", self.netns(host)];
        full.extend_from_slice(argv);
        run_argv(&full)
    }

    /// One ping from `from` to `addr` (`ping -c 1 -W 1`), retried once.
    pub fn ping(&self, from: &str, addr: &str) -> bool {
        ping::probe(self.netns(from), addr)
    }

    /// Who reaches whom.
    pub fn ping_matrix(&self) -> Result<PingMatrix> {
        ping_matrix(&self.topology, &mut Quiet)
    }

    /// Brings the lab down now, reporting errors (dropping does it silently).
    pub fn down(mut self) -> Result<DownReport> {
        self.down_on_drop = false;
        down(&self.topology.name, &self.ctl, &mut Quiet)
    }

    /// Keeps the lab up when this value is dropped.
    pub fn leak(mut self) {
        self.down_on_drop = false;
    }
}

impl Drop for RunningLab {
    fn drop(&mut self) {
        if self.down_on_drop {
            let _ = down(&self.topology.name, &self.ctl, &mut Quiet);
        }
    }
}
