//! Who reaches whom: pings from every host of a lab to every other host.
//!
//! The targets of a host are the first IPv4 and the first IPv6 address of each of its
//! interfaces and VLAN sub-interfaces ([`Host::ping_targets`]). Each probe is one
//! `ping -c 1 -W 1 -n ADDR` inside the source host's namespace, retried once when it
//! gets no answer (the first packet may wait for ARP or neighbour discovery), so a probe
//! takes at most about 2 s. Probes run on up to [`PARALLEL`] threads at once.
//!
//! A cell of the matrix is `yes` when every target of the destination answered, `no`
//! when none did and `K/N` when some did.

use crate::cmd::output_timeout;
use crate::runtime::Progress;
use crate::topology::{Host, Topology};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Probes in flight at once.
pub const PARALLEL: usize = 16;
/// Attempts per probe (the second one after ARP warm-up).
pub const ATTEMPTS: usize = 2;

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub from: String,
    pub to: String,
    pub address: IpAddr,
    pub reached: bool,
}

/// A cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Every target answered.
    All,
    /// No target answered.
    None,
    /// `k` of `n` targets answered.
    Some(usize, usize),
    /// The destination has no address to ping.
    NoTargets,
}

impl Cell {
    fn text(self) -> String {
        match self {
            Cell::All => "yes".into(),
            Cell::None => "no".into(),
            Cell::Some(k, n) => format!("{k}/{n}"),
            Cell::NoTargets => "n/a".into(),
        }
    }
}

/// The result of a ping matrix run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PingMatrix {
    pub lab: String,
    /// Hosts in file order.
    pub hosts: Vec<String>,
    /// The addresses pinged for each host.
    pub targets: BTreeMap<String, Vec<IpAddr>>,
    /// Every probe, in (from, to, address) order.
    pub probes: Vec<Probe>,
}

impl PingMatrix {
    /// The cell from `from` to `to`.
    pub fn cell(&self, from: &str, to: &str) -> Cell {
        let mine: Vec<&Probe> = self
            .probes
            .iter()
            .filter(|p| p.from == from && p.to == to)
            .collect();
        let n = mine.len();
        let k = mine.iter().filter(|p| p.reached).count();
        match (k, n) {
            (_, 0) => Cell::NoTargets,
            (0, _) => Cell::None,
            (k, n) if k == n => Cell::All,
            (k, n) => Cell::Some(k, n),
        }
    }

    /// Whether every target of `to` answered `from`.
    pub fn reaches(&self, from: &str, to: &str) -> bool {
        self.cell(from, to) == Cell::All
    }

    /// The pairs `(from, to)` where every target answered, sorted.
    pub fn reachable_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for a in &self.hosts {
            for b in &self.hosts {
                if a != b && self.reaches(a, b) {
                    out.push((a.clone(), b.clone()));
                }
            }
        }
        out
    }

    /// `matrix[from][to]`: `true` when every target of `to` answered, `null` when `to`
    /// has no address.
    pub fn to_json(&self) -> serde_json::Value {
        let mut matrix = serde_json::Map::new();
        for a in &self.hosts {
            let mut row = serde_json::Map::new();
            for b in self.hosts.iter().filter(|b| *b != a) {
                let v = match self.cell(a, b) {
                    Cell::NoTargets => serde_json::Value::Null,
                    c => serde_json::Value::Bool(c == Cell::All),
                };
                row.insert(b.clone(), v);
            }
            matrix.insert(a.clone(), serde_json::Value::Object(row));
        }
        serde_json::json!({
            "lab": self.lab,
            "hosts": self.hosts,
            "targets": self.targets,
            "matrix": matrix,
            "probes": self.probes,
        })
    }

    /// The table: rows are sources, columns destinations. With `colour`, `yes` is green,
    /// `no` red and partial answers yellow (ANSI escapes).
    pub fn render_text(&self, colour: bool) -> String {
        let width = self.hosts.iter().map(String::len).max().unwrap_or(0).max(5) + 2;
        let first = width.max("from\\to".len() + 2);
        let mut out = String::new();
        let _ = write!(out, "{:<first$}", "from\\to");
        for h in &self.hosts {
            let _ = write!(out, "{h:<width$}");
        }
        trim_end(&mut out);
        out.push('\n');
        for a in &self.hosts {
            let _ = write!(out, "{a:<first$}");
            for b in &self.hosts {
                let (text, cell) = if a == b {
                    ("-".to_string(), None)
                } else {
                    let c = self.cell(a, b);
                    (c.text(), Some(c))
                };
                let pad = " ".repeat(width.saturating_sub(text.len()));
                let painted = match (colour, cell) {
                    (true, Some(Cell::All)) => format!("\x1b[32m{text}\x1b[0m"),
                    (true, Some(Cell::None)) => format!("\x1b[31m{text}\x1b[0m"),
                    (true, Some(Cell::Some(..))) => format!("\x1b[33m{text}\x1b[0m"),
                    _ => text,
                };
                out.push_str(&painted);
                out.push_str(&pad);
            }
            trim_end(&mut out);
            out.push('\n');
        }
        out
    }
}

fn trim_end(s: &mut String) {
    let len = s.trim_end_matches(' ').len();
    s.truncate(len);
}

/// One ping attempt from namespace `netns` to `addr`, bounded to a few seconds.
fn attempt(netns: &str, addr: &str) -> bool {
    let mut c = Command::new("ip");
    c.args([
        "netns", "exec", netns, "ping", "-c", "1", "-W", "1", "-n", addr,
    ]);
    output_timeout(&mut c, Duration::from_secs(5), "ping")
        .status
        .success()
}

/// Pings `addr` from `netns`: up to [`ATTEMPTS`] attempts of `ping -c 1 -W 1`.
pub fn probe(netns: &str, addr: &str) -> bool {
    (0..ATTEMPTS).any(|_| attempt(netns, addr))
}

/// Runs the matrix for `t`; the lab must be up.
pub fn run(t: &Topology, progress: &mut dyn Progress) -> PingMatrix {
    let targets: BTreeMap<String, Vec<IpAddr>> = t
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.ping_targets()))
        .collect();
    let mut jobs: Vec<(&Host, &Host, IpAddr)> = Vec::new();
    for a in &t.hosts {
        for b in t.hosts.iter().filter(|b| b.name != a.name) {
            for addr in &targets[&b.name] {
                jobs.push((a, b, *addr));
            }
        }
    }
    progress.note(&format!(
        "pinging {} addresses between {} hosts of lab '{}' ({} at a time, at most {}s each)...",
        jobs.len(),
        t.hosts.len(),
        t.name,
        PARALLEL.min(jobs.len()).max(1),
        ATTEMPTS
    ));
    let results: Mutex<Vec<Option<bool>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(jobs.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((a, _, addr)) = jobs.get(i) else {
                    break;
                };
                let ok = probe(&a.netns, &addr.to_string());
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(ok);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let probes = jobs
        .iter()
        .zip(results)
        .map(|((a, b, addr), r)| Probe {
            from: a.name.clone(),
            to: b.name.clone(),
            address: *addr,
            reached: r.unwrap_or(false),
        })
        .collect();
    PingMatrix {
        lab: t.name.clone(),
        hosts: t.hosts.iter().map(|h| h.name.clone()).collect(),
        targets,
        probes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PingMatrix {
        let p = |from: &str, to: &str, a: &str, reached| Probe {
            from: from.into(),
            to: to.into(),
            address: a.parse().unwrap(),
            reached,
        };
        PingMatrix {
            lab: "x".into(),
            hosts: vec!["a".into(), "b".into(), "c".into()],
            targets: BTreeMap::new(),
            probes: vec![
                p("a", "b", "10.0.0.2", true),
                p("a", "b", "fd00::2", true),
                p("a", "c", "10.0.0.3", false),
                p("b", "a", "10.0.0.1", true),
                p("b", "c", "10.0.0.3", true),
                p("b", "c", "fd00::3", false),
                p("c", "a", "10.0.0.1", false),
            ],
        }
    }

    #[test]
    fn cells_and_text() {
        let m = sample();
        assert_eq!(m.cell("a", "b"), Cell::All);
        assert_eq!(m.cell("a", "c"), Cell::None);
        assert_eq!(m.cell("b", "c"), Cell::Some(1, 2));
        assert_eq!(m.cell("c", "b"), Cell::NoTargets);
        assert_eq!(
            m.reachable_pairs(),
            vec![("a".into(), "b".into()), ("b".into(), "a".into())]
        );
        assert_eq!(
            m.render_text(false),
            "from\\to  a      b      c\n\
             a        -      yes    no\n\
             b        yes    -      1/2\n\
             c        no     n/a    -\n"
        );
        let coloured = m.render_text(true);
        assert!(coloured.contains("\x1b[32myes\x1b[0m"));
        assert!(coloured.contains("\x1b[31mno\x1b[0m"));
        let j = m.to_json();
        assert_eq!(j["matrix"]["a"]["b"], true);
        assert_eq!(j["matrix"]["b"]["c"], false);
        assert!(j["matrix"]["c"]["b"].is_null());
        assert_eq!(j["probes"][0]["address"], "10.0.0.2");
    }
}
