//! The lab as a picture: Graphviz DOT, and SVG through `dot` when it is installed.
//!
//! Bridges are boxes, hosts ellipses (taps drawn as double ellipses, like a VM), host
//! interfaces are edges from a host to its bridge labelled with the interface, its kind
//! and its VLANs, and links are bold edges between bridges. Node ids are `bridge:NAME`
//! and `host:NAME`, so tests (and scripts) can look for them.

use crate::cmd::{check_output, output_timeout};
use crate::topology::{Cidr, IfaceKind, Topology};
use anyhow::{bail, Context, Result};
use rvs_api::{format_trunks, VlanMode, VlanSpec};
use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

/// A DOT string literal.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `access 10`, `trunk 10,20`, `trunk all`, `native-untagged 5 + 10,20`.
pub fn vlan_label(v: &VlanSpec) -> String {
    let trunks = if v.trunks.is_empty() {
        "all".to_string()
    } else {
        format_trunks(&v.trunks)
    };
    match v.effective_mode() {
        VlanMode::Access => format!("access {}", v.tag.unwrap_or(0)),
        VlanMode::Trunk => format!("trunk {trunks}"),
        m => format!("{m} {} + {trunks}", v.tag.unwrap_or(0)),
    }
}

fn addrs(list: &[Cidr]) -> Vec<String> {
    list.iter().map(Cidr::to_string).collect()
}

/// The topology in DOT.
pub fn dot(t: &Topology) -> String {
    let mut out = String::new();
    let title = match &t.description {
        Some(d) => format!("lab {}: {d}", t.name),
        None => format!("lab {}", t.name),
    };
    let _ = writeln!(out, "graph {} {{", q(&format!("lab {}", t.name)));
    let _ = writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"Helvetica\", overlap=false];",
        q(&title)
    );
    let _ = writeln!(out, "  node [fontname=\"Helvetica\", fontsize=11];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];");
    for b in &t.bridges {
        let mut label = format!("{}\n({})", b.name, b.rvs_name);
        if !b.vlans.is_empty() {
            label.push_str(&format!("\nVLANs {}", format_trunks(&b.vlans)));
        }
        let _ = writeln!(
            out,
            "  {} [shape=box, style=\"rounded,filled\", fillcolor=\"#dce9f8\", label={}];",
            q(&format!("bridge:{}", b.name)),
            q(&label)
        );
    }
    for h in &t.hosts {
        let mut lines = vec![h.name.clone()];
        for i in &h.interfaces {
            lines.extend(addrs(&i.addresses));
            for v in &i.vlan_interfaces {
                lines.extend(
                    addrs(&v.addresses)
                        .into_iter()
                        .map(|a| format!("{a} ({})", v.name)),
                );
            }
        }
        if h.forwarding {
            lines.push("(router)".into());
        }
        // VM-style hosts (a tap) stand out from container-style ones (veth).
        let shape = if h.interfaces.iter().any(|i| i.kind == IfaceKind::Tap) {
            "doubleoctagon"
        } else {
            "ellipse"
        };
        let _ = writeln!(
            out,
            "  {} [shape={shape}, label={}];",
            q(&format!("host:{}", h.name)),
            q(&lines.join("\n"))
        );
    }
    for h in &t.hosts {
        for i in &h.interfaces {
            let mut label = format!("{} ({})\n{}", i.nic, i.kind, vlan_label(&i.vlan));
            for v in &i.vlan_interfaces {
                label.push_str(&format!("\n{}: VLAN {}", v.name, v.vid));
            }
            let style = if i.kind == IfaceKind::Tap {
                "dashed"
            } else {
                "solid"
            };
            let _ = writeln!(
                out,
                "  {} -- {} [style={style}, label={}];",
                q(&format!("host:{}", h.name)),
                q(&format!("bridge:{}", i.bridge)),
                q(&label)
            );
        }
    }
    for l in &t.links {
        let _ = writeln!(
            out,
            "  {} -- {} [style=bold, penwidth=2, label={}];",
            q(&format!("bridge:{}", l.bridges[0])),
            q(&format!("bridge:{}", l.bridges[1])),
            q(&format!("patch\n{}", vlan_label(&l.vlan)))
        );
    }
    out.push_str("}\n");
    out
}

/// Whether Graphviz's `dot` is on PATH.
pub fn dot_available() -> bool {
    crate::find_on_path("dot").is_some()
}

/// Renders DOT text to SVG with `dot -Tsvg` (at most 60 s).
pub fn svg(dot_text: &str) -> Result<Vec<u8>> {
    if !dot_available() {
        bail!("`dot` is not on PATH; install Graphviz (Debian package graphviz) for SVG");
    }
    let mut file = tempfile::Builder::new()
        .prefix("rvs-lab-graph-")
        .suffix(".dot")
        .tempfile()
        .context("creating a temporary file for dot")?;
    std::io::Write::write_all(&mut file, dot_text.as_bytes()).context("writing the DOT file")?;
    let path = file.path().to_string_lossy().into_owned();
    let argv = ["dot", "-Tsvg", path.as_str()];
    let mut cmd = Command::new("dot");
    cmd.args(&argv[1..]);
    let out = output_timeout(&mut cmd, Duration::from_secs(60), "dot -Tsvg");
    check_output(&argv, &out)?;
    Ok(out.stdout)
}
