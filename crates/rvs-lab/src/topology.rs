//! Topology files: the declarative description of a lab, in TOML.
//!
//! A file is read in three passes, and nothing is created before all three succeed:
//!
//! 1. **Syntax**: [`toml::de::DeTable::parse`] keeps the byte span of every key and value.
//! 2. **Shape**: serde deserializes the text into the `File*` types of this module, which
//!    all use `#[serde(deny_unknown_fields)]`; a misspelt key, a value of the wrong type
//!    or a missing key is refused here.
//! 3. **Meaning**: [`crate::validate`] checks names, references between sections,
//!    addresses, VLANs and derived interface names, and resolves the file into a
//!    [`Topology`] (every default filled in, every derived name computed).
//!
//! Every error of every pass becomes one [`TopologyError`] line,
//! `FILE:LINE: key `hosts[1].interfaces[0].bridge`: no bridge named 'br9'`. Errors of
//! pass 3 name a key path; the [`Locator`] turns it into a line through the spans of
//! pass 1. Errors of pass 2 come with a byte span, which the locator turns into the key
//! path. The reference of every key is in the crate's README.

use crate::validate;
use rvs_api::{FailMode, VlanSpec};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

// ---------------------------------------------------------------------------------------
// The file, as written (pass 2).
// ---------------------------------------------------------------------------------------

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileTopology {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub bridges: Vec<FileBridge>,
    #[serde(default)]
    pub hosts: Vec<FileHost>,
    #[serde(default)]
    pub links: Vec<FileLink>,
}

/// `[[bridges]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileBridge {
    pub name: String,
    #[serde(default)]
    pub vlans: Option<Vec<TrunkItem>>,
    #[serde(default)]
    pub mac_aging: Option<i64>,
    #[serde(default)]
    pub mac_table_size: Option<i64>,
    #[serde(default)]
    pub fail_mode: Option<String>,
    #[serde(default)]
    pub controller: Option<Targets>,
    #[serde(default)]
    pub flows: Option<Vec<String>>,
    #[serde(default)]
    pub datapath_threads: Option<i64>,
}

/// `controller = "tcp:..."` or `controller = ["tcp:...", "ptcp:..."]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum Targets {
    One(String),
    Many(Vec<String>),
}

/// `[[hosts]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileHost {
    pub name: String,
    #[serde(default)]
    pub interfaces: Vec<FileInterface>,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub gateway6: Option<String>,
    #[serde(default)]
    pub routes: Vec<FileRoute>,
    #[serde(default)]
    pub forwarding: bool,
}

/// How a host's interface is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IfaceKind {
    /// A veth pair: one end in the host's namespace, the other a `system` port of rvsd.
    #[default]
    Veth,
    /// A TAP device that rvsd creates (`--type tap`), moved into the host's namespace.
    Tap,
}

impl IfaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IfaceKind::Veth => "veth",
            IfaceKind::Tap => "tap",
        }
    }
}

impl fmt::Display for IfaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[[hosts.interfaces]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileInterface {
    #[serde(default)]
    pub name: Option<String>,
    pub bridge: String,
    #[serde(default)]
    pub kind: IfaceKind,
    #[serde(default)]
    pub vlan: Option<i64>,
    #[serde(default)]
    pub trunks: Option<Vec<TrunkItem>>,
    #[serde(default)]
    pub vlan_mode: Option<String>,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub mtu: Option<i64>,
    #[serde(default)]
    pub offloads: Option<bool>,
    #[serde(default)]
    pub vlan_interfaces: Vec<FileVlanInterface>,
}

/// `hosts.interfaces.vlan_interfaces = [{ vlan = 10, ... }]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileVlanInterface {
    pub vlan: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// `hosts.routes = [{ to = "...", via = "..." }]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRoute {
    pub to: String,
    pub via: String,
}

/// `[[links]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileLink {
    pub bridges: Vec<String>,
    #[serde(default)]
    pub vlan: Option<i64>,
    #[serde(default)]
    pub trunks: Option<Vec<TrunkItem>>,
    #[serde(default)]
    pub vlan_mode: Option<String>,
}

/// One element of a VLAN list: `10` or `"20-30"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrunkItem {
    One(i64),
    Range(String),
}

impl<'de> Deserialize<'de> for TrunkItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TrunkItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a VLAN number or a range like \"20-30\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<TrunkItem, E> {
                Ok(TrunkItem::One(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<TrunkItem, E> {
                Ok(TrunkItem::One(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TrunkItem, E> {
                Ok(TrunkItem::Range(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// The resolved topology (pass 3's result).
// ---------------------------------------------------------------------------------------

/// A validated lab: every default filled in and every name the lab creates computed.
///
/// Serializable, so that a running lab's state file keeps the topology it was built from
/// (`rvs lab ping-matrix NAME` and `rvs lab graph NAME` work without the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// The lab's name (`name = ...`).
    pub name: String,
    /// Prefix of every object the lab creates: `NAME-`.
    pub prefix: String,
    /// Free text (`description = ...`).
    #[serde(default)]
    pub description: Option<String>,
    /// Where it was read from (a path, or `<built-in quickstart.toml>`).
    pub source: String,
    pub bridges: Vec<Bridge>,
    pub hosts: Vec<Host>,
    pub links: Vec<Link>,
}

/// A bridge of the lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bridge {
    /// Name in the file.
    pub name: String,
    /// Name in rvsd (`PREFIX` + name).
    pub rvs_name: String,
    pub mac_aging_secs: Option<u32>,
    pub mac_table_size: Option<u32>,
    /// VLANs declared for this bridge (empty: not declared, anything goes).
    pub vlans: Vec<u16>,
    /// OpenFlow controller targets (`controller = ...`); `None`: not given, left as is.
    #[serde(default)]
    pub controllers: Option<Vec<String>>,
    /// `fail_mode = ...`; `None`: not given, left as is.
    #[serde(default)]
    pub fail_mode: Option<FailMode>,
    /// The bridge's whole flow table in ovs-ofctl syntax (`flows = [...]`), each entry
    /// known to parse; `None`: not given, the bridge keeps its flows.
    #[serde(default)]
    pub flows: Option<Vec<String>>,
}

/// A host: one network namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    /// The namespace (`PREFIX` + name).
    pub netns: String,
    pub interfaces: Vec<Interface>,
    pub gateway: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
    pub routes: Vec<Route>,
    /// IPv4 and IPv6 forwarding on (a router).
    pub forwarding: bool,
}

/// A host's network interface, plugged into a bridge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub kind: IfaceKind,
    /// The bridge's name in the file.
    pub bridge: String,
    /// The rvs port: the veth end left in rvsd's namespace, or the tap (`PREFIX` + host
    /// + `-` + index).
    pub port: String,
    /// The interface inside the namespace: the veth's other end (`name`, default `ethN`),
    /// or the tap itself (same name as `port`).
    pub nic: String,
    /// VLAN settings of the port.
    pub vlan: VlanSpec,
    pub mac: Option<String>,
    pub addresses: Vec<Cidr>,
    pub mtu: Option<u32>,
    /// `false` (the default): TX checksum offload, TSO and GSO are turned off on the
    /// interface in the namespace, so every frame the host sends has a complete checksum
    /// (rvsd's system ports do not take vnet headers yet; without this TCP and UDP fail
    /// across rvs). `true`: the kernel's defaults stay.
    pub offloads: bool,
    pub vlan_interfaces: Vec<VlanInterface>,
}

/// An 802.1Q sub-interface of a host's interface (on a trunk port).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VlanInterface {
    pub vid: u16,
    /// Name inside the namespace (default `vlanVID`).
    pub name: String,
    pub addresses: Vec<Cidr>,
}

/// A static route of a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Destination network (`0.0.0.0/0` / `::/0` for `"default"`).
    pub to: Cidr,
    pub via: IpAddr,
}

/// A link between two bridges: a pair of rvs patch ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The two bridges' names in the file.
    pub bridges: [String; 2],
    /// The patch port on each bridge (`PREFIX` + `lN-a` / `lN-b`).
    pub ports: [String; 2],
    /// VLAN settings of both patch ports.
    pub vlan: VlanSpec,
}

impl Topology {
    /// Reads and validates a topology file; errors name the file as given.
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TopologyError {
            source: source.clone(),
            line: 0,
            key: None,
            message: format!("cannot read the topology file: {e}"),
            detail: None,
        })?;
        Topology::parse(&text, &source)
    }

    /// Parses and validates `text`; `source` names it in errors (a path, usually).
    pub fn parse(text: &str, source: &str) -> Result<Topology, TopologyError> {
        let locator = Locator::new(text, source)?;
        let file: FileTopology = toml::from_str(text).map_err(|e| locator.serde_error(&e))?;
        validate::resolve(file, source).map_err(|errors| locator.first_problem(errors))
    }

    /// The bridge called `name` in the file.
    pub fn bridge(&self, name: &str) -> Option<&Bridge> {
        self.bridges.iter().find(|b| b.name == name)
    }

    /// The host called `name` in the file.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Names of every rvs object (bridges, ports) the lab creates.
    pub fn rvs_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.bridges.iter().map(|b| b.rvs_name.clone()).collect();
        for h in &self.hosts {
            v.extend(h.interfaces.iter().map(|i| i.port.clone()));
        }
        for l in &self.links {
            v.extend(l.ports.iter().cloned());
        }
        v
    }
}

impl Host {
    /// The addresses other hosts ping to test reachability: the first IPv4 and the first
    /// IPv6 address of every interface and VLAN sub-interface, in file order.
    pub fn ping_targets(&self) -> Vec<IpAddr> {
        let mut out = Vec::new();
        let mut firsts = |addrs: &[Cidr]| {
            if let Some(a) = addrs.iter().find(|c| c.addr.is_ipv4()) {
                out.push(a.addr);
            }
            if let Some(a) = addrs.iter().find(|c| c.addr.is_ipv6()) {
                out.push(a.addr);
            }
        };
        for i in &self.interfaces {
            firsts(&i.addresses);
            for v in &i.vlan_interfaces {
                firsts(&v.addresses);
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Addresses.
// ---------------------------------------------------------------------------------------

/// An address with a prefix length, `10.0.0.1/24` or `fd00::1/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// The largest prefix length of the address family (32 or 128).
    pub fn max_prefix(addr: IpAddr) -> u8 {
        if addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    fn bits(addr: IpAddr) -> u128 {
        match addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }

    fn mask(&self) -> u128 {
        let width = u32::from(Cidr::max_prefix(self.addr));
        let host_bits = width - u32::from(self.prefix);
        let all = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        if host_bits >= 128 {
            0
        } else {
            all & !((1u128 << host_bits) - 1)
        }
    }

    fn from_bits(like: IpAddr, bits: u128) -> IpAddr {
        match like {
            // The value was masked to 32 bits.
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        Cidr::from_bits(self.addr, Cidr::bits(self.addr) & self.mask())
    }

    /// The IPv4 broadcast address of the network (`None` for IPv6).
    pub fn broadcast(&self) -> Option<IpAddr> {
        match self.addr {
            IpAddr::V4(_) => {
                let host = !self.mask() & u128::from(u32::MAX);
                Some(Cidr::from_bits(
                    self.addr,
                    (Cidr::bits(self.addr) & self.mask()) | host,
                ))
            }
            IpAddr::V6(_) => None,
        }
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && Cidr::bits(ip) & self.mask() == Cidr::bits(self.addr) & self.mask()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;
    /// `ADDR/LEN`; the length is required.
    fn from_str(s: &str) -> Result<Cidr, String> {
        let Some((addr, len)) = s.split_once('/') else {
            return Err(format!(
                "'{s}' has no prefix length: write it as ADDRESS/LENGTH, e.g. 10.0.0.1/24"
            ));
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{addr}' in '{s}' is not an IPv4 or IPv6 address"))?;
        let max = Cidr::max_prefix(addr);
        let prefix = len
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("prefix length '{len}' in '{s}' is not 0-{max}"))?;
        Ok(Cidr { addr, prefix })
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Errors and their location.
// ---------------------------------------------------------------------------------------

/// A problem in a topology file: `SOURCE:LINE: key `PATH`: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyError {
    /// The file as named by the caller.
    pub source: String,
    /// 1-based line; 0 when the file could not be read at all.
    pub line: usize,
    /// The key path, e.g. `hosts[1].interfaces[0].bridge`, when there is one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// More lines shown under the message (the offending text with a caret line), when
    /// there are some.
    pub detail: Option<String>,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.source)?;
        } else {
            write!(f, "{}:{}: ", self.source, self.line)?;
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        // One line, whatever the message holds; then the detail lines, if any.
        f.write_str(&self.message.replace(['\n', '\r'], " "))?;
        if let Some(detail) = &self.detail {
            write!(f, "\n{detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TopologyError {}

/// A problem found by validation: the key path it is about, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub path: String,
    pub message: String,
    /// Extra lines for [`TopologyError::detail`].
    pub detail: Option<String>,
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn render_path(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// `hosts[1].interfaces[0].bridge` -> segments. Keys of this format never contain `.`
/// or `[`.
fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            out.push(Seg::Key(rest[..open].to_string()));
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else {
                    break;
                };
                if let Ok(i) = stripped[..close].parse() {
                    out.push(Seg::Index(i));
                }
                rest = &stripped[close + 1..];
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// Maps key paths to lines and byte offsets to key paths, with the spans of the parsed
/// document.
pub(crate) struct Locator<'a> {
    text: &'a str,
    source: &'a str,
    root: Spanned<DeTable<'a>>,
}

impl<'a> Locator<'a> {
    /// Parses the syntax (pass 1); a syntax error is returned located.
    pub fn new(text: &'a str, source: &'a str) -> Result<Locator<'a>, TopologyError> {
        match DeTable::parse(text) {
            Ok(root) => Ok(Locator { text, source, root }),
            Err(e) => {
                let line = e.span().map_or(1, |s| line_of(text, s.start));
                Err(TopologyError {
                    source: source.to_string(),
                    line,
                    key: None,
                    message: format!("TOML syntax error: {}", e.message().trim_end()),
                    detail: None,
                })
            }
        }
    }

    fn error(&self, path: &str, message: String, offset: Option<usize>) -> TopologyError {
        let offset = offset.or_else(|| self.offset_of(path));
        TopologyError {
            source: self.source.to_string(),
            line: offset.map_or(1, |o| line_of(self.text, o)),
            key: (!path.is_empty()).then(|| path.to_string()),
            message,
            detail: None,
        }
    }

    /// A serde error of pass 2, located.
    pub fn serde_error(&self, e: &toml::de::Error) -> TopologyError {
        let offset = e.span().map(|s| s.start);
        let mut path = offset.map(|o| self.path_at(o)).unwrap_or_default();
        let mut message = e.message().trim_end().to_string();
        if let Some(rest) = message.strip_prefix("missing field `") {
            if let Some(field) = rest.split('`').next() {
                path.push(Seg::Key(field.to_string()));
            }
            message = format!("missing key{}", &message["missing field".len()..]);
        } else if let Some(rest) = message.strip_prefix("unknown field") {
            message = format!("unknown key{rest}");
        }
        self.error(&render_path(&path), message, offset)
    }

    /// The problem of pass 3 that comes first in the file.
    pub fn first_problem(&self, problems: Vec<Problem>) -> TopologyError {
        problems
            .into_iter()
            .map(|p| TopologyError {
                detail: p.detail,
                ..self.error(&p.path, p.message, None)
            })
            .min_by_key(|e| e.line)
            .unwrap_or_else(|| TopologyError {
                source: self.source.to_string(),
                line: 1,
                key: None,
                message: "invalid topology".to_string(),
                detail: None,
            })
    }

    /// Byte offset of the key (or array element) at `path`; for a path that is not in
    /// the file (a default), the deepest part of it that is.
    fn offset_of(&self, path: &str) -> Option<usize> {
        let segs = parse_path(path);
        let mut table: &DeTable<'_> = self.root.get_ref();
        let mut value: Option<&Spanned<DeValue<'_>>> = None;
        let mut best: Option<usize> = None;
        for seg in segs {
            match seg {
                Seg::Key(k) => {
                    let t = match value {
                        None => table,
                        Some(v) => match v.get_ref() {
                            DeValue::Table(t) => t,
                            _ => break,
                        },
                    };
                    let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k)
                    else {
                        break;
                    };
                    best = Some(key.span().start);
                    table = t;
                    value = Some(v);
                }
                Seg::Index(i) => {
                    let Some(DeValue::Array(a)) = value.map(Spanned::get_ref) else {
                        break;
                    };
                    let Some(v) = a.get(i) else {
                        break;
                    };
                    best = Some(v.span().start);
                    value = Some(v);
                }
            }
        }
        best
    }

    /// The deepest key path whose key or value span contains `offset`.
    fn path_at(&self, offset: usize) -> Vec<Seg> {
        let mut path = Vec::new();
        walk_table(self.root.get_ref(), offset, &mut path);
        path
    }
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && (offset < span.end || span.is_empty() && offset == span.start)
}

fn walk_table(t: &DeTable<'_>, offset: usize, path: &mut Vec<Seg>) -> bool {
    for (k, v) in t.iter() {
        path.push(Seg::Key(k.get_ref().to_string()));
        if walk_value(v, offset, path) || contains(&k.span(), offset) {
            return true;
        }
        path.pop();
    }
    false
}

fn walk_value(v: &Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<Seg>) -> bool {
    let nested = match v.get_ref() {
        DeValue::Table(t) => walk_table(t, offset, path),
        DeValue::Array(a) => {
            let mut found = false;
            for (i, item) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                if walk_value(item, offset, path) {
                    found = true;
                    break;
                }
                path.pop();
            }
            found
        }
        _ => false,
    };
    nested || contains(&v.span(), offset)
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_and_computes() {
        let c: Cidr = "10.1.2.3/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.1.2.3/24");
        assert_eq!(c.network().to_string(), "10.1.2.0");
        assert_eq!(c.broadcast().unwrap().to_string(), "10.1.2.255");
        assert!(c.contains("10.1.2.200".parse().unwrap()));
        assert!(!c.contains("10.1.3.1".parse().unwrap()));
        assert!(!c.contains("fd00::1".parse().unwrap()));
        let z: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(z.contains("192.0.2.1".parse().unwrap()));
        let v6: Cidr = "fd00:1::5/64".parse().unwrap();
        assert_eq!(v6.network().to_string(), "fd00:1::");
        assert!(v6.contains("fd00:1::9".parse().unwrap()));
        assert!(v6.broadcast().is_none());
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains("fd00::1".parse().unwrap()));
        assert!("10.0.0.1"
            .parse::<Cidr>()
            .unwrap_err()
            .contains("no prefix"));
        assert!("10.0.0.1/33".parse::<Cidr>().unwrap_err().contains("0-32"));
        assert!("10.0.0.256/24"
            .parse::<Cidr>()
            .unwrap_err()
            .contains("not an IPv4"));
    }

    #[test]
    fn paths_round_trip() {
        let p = "hosts[1].interfaces[0].trunks[2]";
        assert_eq!(render_path(&parse_path(p)), p);
        assert_eq!(render_path(&parse_path("name")), "name");
    }

    #[test]
    fn locator_finds_lines_both_ways() {
        let text = "name = \"x\"\n\n[[hosts]]\nname = \"h1\"\n[[hosts.interfaces]]\nbridge = \"br0\"\n\n[[hosts]]\nname = \"h2\"\ninterfaces = [ { bridge = \"b\", vlan = 5 } ]\n";
        let loc = Locator::new(text, "t.toml").unwrap();
        assert_eq!(
            loc.offset_of("hosts[0].interfaces[0].bridge")
                .map(|o| line_of(text, o)),
            Some(6)
        );
        assert_eq!(
            loc.offset_of("hosts[1].interfaces[0].vlan")
                .map(|o| line_of(text, o)),
            Some(10)
        );
        // A key that is not written falls back to the deepest existing part.
        assert_eq!(
            loc.offset_of("hosts[1].gateway").map(|o| line_of(text, o)),
            Some(8)
        );
        let at = text.find("vlan = 5").unwrap();
        assert_eq!(render_path(&loc.path_at(at)), "hosts[1].interfaces[0].vlan");
    }
}
