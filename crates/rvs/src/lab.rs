//! `rvs lab`: whole virtual networks from one topology file (the work is done by the
//! `rvs-lab` crate; this module is the command line).
//!
//! Progress goes to stderr (one line per step of `up`, notes of `down` and
//! `ping-matrix`); results to stdout, as text or, with `--format json`, as JSON.
//! Exit codes: 0 success; 1 the operation failed (for `up`: after rolling back);
//! 2 usage errors, including every error in a topology file (nothing was created);
//! 3 rvsd not reachable (and, for `up`, not startable); `exec` exits with the command's
//! own status.

use crate::cli::OutputFormat;
use crate::Failure;
use clap::{Args, Subcommand};
use rvs_lab::control::{Control, ControlError};
use rvs_lab::daemon::{ensure_rvsd, RvsdStart};
use rvs_lab::runtime::{self, Progress, Quiet, StderrProgress, UpOptions};
use rvs_lab::state::LabState;
use rvs_lab::{graph, Topology, TopologyError};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The topology `rvs lab up` uses when no file is given: `examples/quickstart.toml`,
/// built into the binary.
pub const BUILTIN_QUICKSTART: &str = include_str!("../../../examples/quickstart.toml");
/// How the built-in topology is named in messages.
pub const BUILTIN_SOURCE: &str = "<built-in examples/quickstart.toml>";

/// `rvs lab ...`
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

/// The lab verbs.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum LabCommand {
    /// Bring a lab up from a topology file (idempotent; a failure rolls back what this
    /// run created). Starts rvsd when none answers on the run directory.
    Up(LabUpArgs),
    /// Remove everything a lab created (also when rvsd died or the lab is half built).
    Down(LabTarget),
    /// Show the labs of the run directory, or one lab in detail.
    Status(LabStatusArgs),
    /// Run a command inside a host's network namespace.
    Exec(LabExecArgs),
    /// Ping from every host to every other host and print who reaches whom.
    PingMatrix(LabTarget),
    /// Draw the lab: Graphviz DOT on stdout, or SVG/DOT into a file with -o.
    Graph(LabGraphArgs),
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LabUpArgs {
    /// Topology file (TOML). Default: the built-in examples/quickstart.toml.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Database of an rvsd this command starts (default: /var/lib/rvs/conf.db for the
    /// default run directory, else /var/lib/rvs/conf-<run dir>.db).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// The rvsd binary to start (default: next to rvs, else on PATH).
    #[arg(long, value_name = "PATH")]
    pub rvsd: Option<PathBuf>,
    /// Fail (exit 3) instead of starting rvsd when none answers.
    #[arg(long)]
    pub no_start: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A lab by name, or by its topology file.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LabTarget {
    /// Lab name, or its topology file.
    #[arg(value_name = "NAME|FILE")]
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LabStatusArgs {
    /// Only this lab, in detail.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LabExecArgs {
    /// The lab, when the host name is not unique among the labs of the run directory.
    #[arg(long, value_name = "NAME")]
    pub lab: Option<String>,
    /// Host: its name, LAB/HOST, or its namespace LAB-HOST.
    #[arg(value_name = "HOST")]
    pub host: String,
    /// The command and its arguments (after `--`).
    #[arg(
        value_name = "CMD",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LabGraphArgs {
    /// Lab name, or its topology file (the lab need not be up).
    #[arg(value_name = "NAME|FILE")]
    pub target: String,
    /// Write to FILE instead of stdout: SVG when it ends in .svg (needs Graphviz's dot),
    /// DOT otherwise.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Maps a lab error to its exit code and one line.
fn failure(e: anyhow::Error) -> Failure {
    let code = if e.chain().any(|c| c.is::<TopologyError>()) {
        crate::EXIT_USAGE
    } else if e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ControlError>(),
            Some(ControlError::Unreachable(_))
        )
    }) {
        crate::EXIT_UNREACHABLE
    } else {
        crate::EXIT_REFUSED
    };
    // These two say everything themselves; the others get their context chain. One
    // line, except the detail of a topology error (a flow with a caret under the fault).
    let message = if let Some(t) = e.downcast_ref::<TopologyError>() {
        let line = TopologyError {
            detail: None,
            ..t.clone()
        }
        .to_string();
        match &t.detail {
            Some(detail) => format!("{}\n{detail}", line.replace(['\n', '\r'], " ")),
            None => line.replace(['\n', '\r'], " "),
        }
    } else if let Some(f) = e.downcast_ref::<runtime::UpFailure>() {
        f.to_string().replace(['\n', '\r'], " ")
    } else {
        format!("{e:#}").replace(['\n', '\r'], " ")
    };
    Failure::Lab { code, message }
}

fn progress(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Quiet)
    } else {
        Box::new(StderrProgress)
    }
}

fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn json(v: &impl serde::Serialize) -> String {
    crate::format::json(v)
}

/// The topology of an `up`: a file, or the built-in quick start.
fn load_up_topology(file: Option<&Path>) -> Result<Topology, anyhow::Error> {
    Ok(match file {
        Some(p) => Topology::load(p)?,
        None => Topology::parse(BUILTIN_QUICKSTART, BUILTIN_SOURCE)?,
    })
}

/// Runs `rvs lab ...`; returns stdout's text.
pub fn execute(
    run_dir: &Path,
    format: OutputFormat,
    timeout: u64,
    args: &LabArgs,
) -> Result<String, Failure> {
    let ctl = Control::new(run_dir).with_timeout(timeout);
    match &args.command {
        LabCommand::Up(a) => up(&ctl, format, a).map_err(failure),
        LabCommand::Down(a) => down(&ctl, format, a).map_err(failure),
        LabCommand::Status(a) => status(&ctl, format, a).map_err(failure),
        LabCommand::Exec(a) => exec(run_dir, a),
        LabCommand::PingMatrix(a) => ping_matrix(run_dir, format, a).map_err(failure),
        LabCommand::Graph(a) => graph_cmd(run_dir, a).map_err(failure),
    }
}

fn up(ctl: &Control, format: OutputFormat, a: &LabUpArgs) -> anyhow::Result<String> {
    let topology = load_up_topology(a.file.as_deref())?;
    let mut p = progress(a.quiet);
    let started = if a.no_start {
        ctl.ping()?;
        None
    } else {
        match ensure_rvsd(ctl, a.db.as_deref(), a.rvsd.as_deref(), p.as_mut())? {
            RvsdStart::Running { .. } => None,
            RvsdStart::Started { pid, db, log, .. } => Some((pid, db, log)),
        }
    };
    p.note(&format!(
        "bringing up lab '{}' from {} (prefix {})",
        topology.name, topology.source, topology.prefix
    ));
    let report = runtime::up(&topology, ctl, &UpOptions::from_env(), p.as_mut())?;
    Ok(match format {
        OutputFormat::Json => json(&serde_json::json!({
            "lab": report.lab,
            "prefix": report.prefix,
            "steps": report.steps,
            "created": report.created,
            "changed": report.changed,
            "present": report.present,
            "rvsd_started": started.as_ref().map(|(pid, db, log)| serde_json::json!({
                "pid": pid, "db": db, "log": log,
            })),
        })),
        OutputFormat::Text => {
            let mut out = format!(
                "lab {} is up (prefix {}): {} steps, {} created, {} updated, {} already present\n",
                report.lab,
                report.prefix,
                report.steps,
                report.created,
                report.changed,
                report.present
            );
            if let Some((pid, db, log)) = started {
                let _ = writeln!(
                    out,
                    "rvsd was started for it: pid {pid}, database {}, log {}",
                    db.display(),
                    log.display()
                );
            }
            out
        }
    })
}

/// A lab name from `NAME|FILE`.
fn lab_name(target: &str) -> anyhow::Result<String> {
    let p = Path::new(target);
    if target.ends_with(".toml") || target.contains('/') || p.is_file() {
        return Ok(Topology::load(p)?.name);
    }
    Ok(target.to_string())
}

fn down(ctl: &Control, format: OutputFormat, a: &LabTarget) -> anyhow::Result<String> {
    let name = lab_name(&a.target)?;
    let report = runtime::down(&name, ctl, &mut StderrProgress)?;
    Ok(match format {
        OutputFormat::Json => json(&report),
        OutputFormat::Text => {
            let mut out = if report.removed() == 0 && report.rvsd_pending.is_none() {
                format!("lab {name}: nothing to remove\n")
            } else {
                format!(
                    "lab {name} is down: removed {} bridges, {} other ports, {} namespaces, {} interfaces\n",
                    report.bridges.len(),
                    report.ports.len(),
                    report.namespaces.len(),
                    report.links.len()
                )
            };
            if report.rvsd_pending.is_some() {
                let _ = writeln!(
                    out,
                    "rvsd was not reachable: its configuration still lists the lab's bridges; run `rvs lab down {name}` again once rvsd runs"
                );
            }
            out
        }
    })
}

fn status(ctl: &Control, format: OutputFormat, a: &LabStatusArgs) -> anyhow::Result<String> {
    let labs = match &a.name {
        Some(n) => match LabState::read(ctl.run_dir(), n)? {
            Some(st) => vec![runtime::status_of(&st, ctl)],
            None => anyhow::bail!("no lab named '{n}' in {}", ctl.run_dir().display()),
        },
        None => runtime::status(ctl)?,
    };
    if format == OutputFormat::Json {
        return Ok(json(&labs));
    }
    if labs.is_empty() {
        return Ok(format!("no labs in {}\n", ctl.run_dir().display()));
    }
    let mut out = String::new();
    if a.name.is_none() {
        let w = labs.iter().map(|l| l.lab.len()).max().unwrap_or(3).max(3) + 2;
        let pw = labs
            .iter()
            .map(|l| l.phase.as_str().len())
            .max()
            .unwrap_or(5)
            .max(5)
            + 2;
        let _ = writeln!(
            out,
            "{:<w$}{:<8}{:<9}{:<pw$}SOURCE",
            "LAB", "HOSTS", "BRIDGES", "PHASE"
        );
        for l in &labs {
            let hosts_ok = l.hosts.iter().filter(|h| h.netns_present).count();
            let br_ok = l.bridges.iter().filter(|b| b.present == Some(true)).count();
            let _ = writeln!(
                out,
                "{:<w$}{:<8}{:<9}{:<pw$}{}",
                l.lab,
                format!("{hosts_ok}/{}", l.hosts.len()),
                format!("{br_ok}/{}", l.bridges.len()),
                l.phase.as_str(),
                l.source
            );
            if l.health != "up" {
                let _ = writeln!(out, "{:<w$}  {}", "", l.health);
            }
        }
        return Ok(out);
    }
    for l in &labs {
        let _ = writeln!(
            out,
            "lab {} (prefix {}, from {}): {}",
            l.lab, l.prefix, l.source, l.health
        );
        if let Some(e) = &l.rvsd_error {
            let _ = writeln!(out, "  rvsd: {e}");
        }
        for b in &l.bridges {
            let mut openflow = String::new();
            if let (Some(mode), Some(flows)) = (b.fail_mode, b.n_flows) {
                openflow = format!(", fail mode {mode}, {flows} flows");
                if !b.controllers.is_empty() {
                    openflow.push_str(&format!(", controllers {}", b.controllers.join(" ")));
                }
            }
            let state = match b.present {
                Some(true) => format!("{}/{} ports up{openflow}", b.ports_up, b.ports),
                Some(false) => "missing in rvsd".to_string(),
                None => "unknown".to_string(),
            };
            let _ = writeln!(out, "  bridge {} ({}): {state}", b.bridge, b.rvs_name);
            for p in &b.problems {
                let _ = writeln!(out, "    port {p}");
            }
        }
        for h in &l.hosts {
            let _ = writeln!(
                out,
                "  host {}: namespace {}{}",
                h.host,
                h.netns,
                if h.netns_present { "" } else { " (missing)" }
            );
        }
    }
    Ok(out)
}

fn exec(run_dir: &Path, a: &LabExecArgs) -> Result<String, Failure> {
    let (_, netns) = runtime::resolve_host(run_dir, a.lab.as_deref(), &a.host).map_err(failure)?;
    let status = runtime::exec_command(&netns, &a.command)
        .status()
        .map_err(|e| Failure::Lab {
            code: crate::EXIT_REFUSED,
            message: format!("cannot run `ip netns exec {netns} ...`: {e}"),
        })?;
    match status.code() {
        Some(0) => Ok(String::new()),
        // The command's own status; it said what it had to say.
        Some(code) => Err(Failure::Exit(code)),
        None => Err(Failure::Exit(
            128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0),
        )),
    }
}

fn ping_matrix(run_dir: &Path, format: OutputFormat, a: &LabTarget) -> anyhow::Result<String> {
    let topology = runtime::topology_of(run_dir, &a.target)?;
    let mut p = StderrProgress;
    let m = runtime::ping_matrix(&topology, &mut p)?;
    Ok(match format {
        OutputFormat::Json => json(&m.to_json()),
        OutputFormat::Text => m.render_text(colour()),
    })
}

fn graph_cmd(run_dir: &Path, a: &LabGraphArgs) -> anyhow::Result<String> {
    let topology = runtime::topology_of(run_dir, &a.target)?;
    let dot = graph::dot(&topology);
    let Some(out) = &a.output else {
        return Ok(dot);
    };
    let svg = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    let bytes = if svg {
        graph::svg(&dot)?
    } else {
        dot.into_bytes()
    };
    std::fs::write(out, bytes).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    Ok(format!(
        "wrote {} ({})\n",
        out.display(),
        if svg { "SVG" } else { "DOT" }
    ))
}
