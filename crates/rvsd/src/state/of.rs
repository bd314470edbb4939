//! OpenFlow in rvsd: one [`OfSwitch`] per bridge with its controller connections and its
//! flow log, and the datapath side ([`DpControl`]) over the worker thread.
//!
//! ```text
//!  controllers ─tcp─► ControllerSet (tokio tasks) ─ConnEvent─┐
//!  rvs CLI ─JSON─► Request::OpenFlow ────────────────────────┤
//!  worker ─PacketIn (try_send)───────────────────────────────┤
//!                                                            ▼
//!                       State::of_input / of_handle_api: OfSwitch::handle ──► FlowLog (append)
//!                                                            │ flush → DpControl::publish
//!                                                            ▼
//!                       worker: Datapath::set_openflow (read-only snapshot, swapped whole)
//! ```
//!
//! The configuration database stays the source of truth for ports and their OpenFlow
//! numbers; [`State::of_reconcile`] brings each switch's port list (port-status messages)
//! and the datapath's port map in line with it after every change, so the rest of the
//! state machine needs no OpenFlow special cases.
//!
//! `publish` returns only after the worker swapped the tables in: the worker runs control
//! closures between batches, so a barrier reply means every earlier change applies to
//! packets received afterwards.

use super::{no_bridge, worker_gone, ApiResult, State};
use rvs_api::{ApiError, ControllerInfo, ErrorKind, FailMode, HexBytes, OfBridgeInfo, Response};
use rvs_datapath::openflow::{mono_ms, OfConfig, OfPort, PacketIn};
use rvs_datapath::worker::WorkerHandle;
use rvs_datapath::{BridgeId, PortId};
use rvs_flow::classifier::Credit;
use rvs_flow::pipeline::DpAction;
use rvs_ofproto::conn::{parse_target, ConnEvent, ConnOptions, ControllerSet};
use rvs_ofproto::persist::FlowLog;
use rvs_ofproto::switch::{
    DpControl, OfSnapshot, OfSwitch, OfSwitchOptions, Outgoing, PacketInEvent, PortDesc,
};
use rvs_openflow::error::OfError;
use rvs_openflow::multipart::PortStats;
use rvs_openflow::{Message, PortNo};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What the server loop feeds to [`State::of_input`].
#[derive(Debug)]
pub enum OfInput {
    Conn(String, ConnEvent),
    /// A packet-in from datapath thread `.0` (bridge ids are per thread).
    PacketIn(usize, PacketIn),
}

/// The connection id the management API's messages use (never a real connection's).
const API_CONN: u64 = u64::MAX;

/// One bridge's OpenFlow side.
pub struct OfBridge {
    pub switch: OfSwitch,
    pub ctl: ControllerSet,
    forwarder: tokio::task::JoinHandle<()>,
    /// The last snapshot published, to re-publish when port attachments change.
    last: Option<Arc<OfSnapshot>>,
    /// Port attachments the datapath has (name → PortId) with that snapshot.
    published_ports: BTreeMap<String, PortId>,
    /// Link state told to the switch, by port name.
    link: BTreeMap<String, bool>,
    started: Instant,
}

impl Drop for OfBridge {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// A bridge's switch, connections and link-state record, borrowed together.
struct Parts<'a> {
    switch: &'a mut OfSwitch,
    ctl: &'a mut ControllerSet,
    link: &'a mut BTreeMap<String, bool>,
}

/// The datapath as one switch sees it.
struct Dp<'a> {
    /// Every datapath thread: each has a replica of the bridge.
    workers: &'a [WorkerHandle],
    bridge: BridgeId,
    /// Attached ports of the bridge: name → PortId.
    attached: BTreeMap<String, PortId>,
    local: Option<PortId>,
    last: &'a mut Option<Arc<OfSnapshot>>,
    published_ports: &'a mut BTreeMap<String, PortId>,
    started: Instant,
}

fn to_config(
    snap: &OfSnapshot,
    attached: &BTreeMap<String, PortId>,
    local: Option<PortId>,
) -> OfConfig {
    OfConfig {
        flows: snap.flows.clone(),
        groups: snap.groups.clone(),
        meters: snap.meters.clone(),
        ports: snap
            .ports
            .iter()
            .filter_map(|(ofport, name, config)| {
                attached.get(name).map(|&port| OfPort {
                    ofport: *ofport,
                    port,
                    config: *config,
                })
            })
            .collect(),
        local,
        fail_open: snap.fail_open,
        version: snap.version,
    }
}

impl DpControl for Dp<'_> {
    fn publish(&mut self, snap: Arc<OfSnapshot>) {
        let cfg = Arc::new(to_config(&snap, &self.attached, self.local));
        let b = self.bridge;
        // One thread after the other: when this returns, every replica has the tables.
        for w in self.workers {
            let cfg = cfg.clone();
            if w.call(move |w| w.datapath().set_openflow(b, Some(cfg)))
                .is_err()
            {
                tracing::error!("datapath thread gone: OpenFlow tables not published");
            }
        }
        *self.last = Some(snap);
        *self.published_ports = self.attached.clone();
    }

    fn packet_out(
        &mut self,
        in_port: u32,
        actions: Vec<DpAction>,
        frame: Vec<u8>,
    ) -> Result<(), OfError> {
        let b = self.bridge;
        // Any replica reaches every port; the first thread's does it.
        let r = self.workers[0]
            .call(move |w| {
                let now = w.now();
                w.datapath().packet_out(b, in_port, &actions, &frame, now)
            })
            .map_err(|_| {
                OfError::new(
                    rvs_openflow::error::BadRequestCode::Eperm,
                    "datapath thread gone",
                )
            })?;
        if let Err(reason) = r {
            tracing::debug!("packet-out dropped: {}", reason.name());
        }
        Ok(())
    }

    fn collect(&mut self) -> Vec<Credit> {
        let b = self.bridge;
        self.workers
            .iter()
            .flat_map(|w| {
                w.call(move |w| w.datapath().of_collect(b))
                    .unwrap_or_default()
            })
            .collect()
    }

    fn port_stats(&mut self) -> Vec<PortStats> {
        let Some(snap) = self.last.as_ref() else {
            return Vec::new();
        };
        let wanted: Vec<(u32, PortId)> = snap
            .ports
            .iter()
            .filter_map(|(of, name, _)| self.attached.get(name).map(|&id| (*of, id)))
            .collect();
        let ids: Vec<PortId> = wanted.iter().map(|(_, id)| *id).collect();
        // A thread gone: no statistics rather than partial ones.
        let summed = super::sum_counters(self.workers, &ids).unwrap_or_default();
        let counters: Vec<(u32, rvs_datapath::PortCounters)> = wanted
            .iter()
            .zip(summed)
            .filter_map(|((of, _), c)| c.map(|c| (*of, c.0)))
            .collect();
        let up = self.started.elapsed();
        counters
            .into_iter()
            .map(|(of, c)| PortStats {
                port_no: PortNo(of),
                rx_packets: c.rx_packets,
                tx_packets: c.tx_packets,
                rx_bytes: c.rx_bytes,
                tx_bytes: c.tx_bytes,
                rx_dropped: c.total_drops()
                    - c.dropped(rvs_datapath::DropReason::TxFailed)
                    - c.dropped(rvs_datapath::DropReason::TxTooBig),
                tx_dropped: c.dropped(rvs_datapath::DropReason::TxFailed)
                    + c.dropped(rvs_datapath::DropReason::TxTooBig),
                rx_errors: 0,
                tx_errors: 0,
                rx_frame_err: 0,
                rx_over_err: 0,
                rx_crc_err: 0,
                collisions: 0,
                duration_sec: up.as_secs() as u32,
                duration_nsec: up.subsec_nanos(),
            })
            .collect()
    }

    fn port_live(&self, ofport: u32) -> bool {
        self.last.as_ref().is_some_and(|s| {
            s.ports
                .iter()
                .any(|(of, name, _)| *of == ofport && self.attached.contains_key(name))
        })
    }
}

/// The interface's MAC address as the kernel shows it in rvsd's namespace (zero if unknown).
fn hw_addr(name: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    if let Ok(s) = std::fs::read_to_string(format!("/sys/class/net/{name}/address")) {
        for (i, part) in s.trim().split(':').take(6).enumerate() {
            if let (Some(o), Ok(v)) = (out.get_mut(i), u8::from_str_radix(part, 16)) {
                *o = v;
            }
        }
    }
    out
}

/// Where a bridge's flow log lives: beside the configuration database.
pub fn log_path(db: &std::path::Path, bridge: &str) -> PathBuf {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    dir.join("flows").join(format!("{bridge}.oflog"))
}

impl State {
    /// Runs `f` with the switch of `bridge`, its connections, its link-state record and
    /// the datapath view. `None` if the bridge has no OpenFlow side.
    fn with_of<R>(
        &mut self,
        bridge: &str,
        f: impl FnOnce(&mut Parts<'_>, &mut Dp<'_>) -> R,
    ) -> Option<R> {
        let State {
            of,
            workers,
            config,
            ports,
            bridge_ids,
            ..
        } = self;
        let bid = *bridge_ids.get(bridge)?;
        let bc = config.bridges.get(bridge)?;
        let attached: BTreeMap<String, PortId> = bc
            .ports
            .keys()
            .filter_map(|n| ports.get(n).and_then(|r| r.id).map(|id| (n.clone(), id)))
            .collect();
        let local = attached.get(bridge).copied();
        let OfBridge {
            switch,
            ctl,
            last,
            published_ports,
            link,
            started,
            ..
        } = of.get_mut(bridge)?;
        let mut dp = Dp {
            workers,
            bridge: bid,
            attached,
            local,
            last,
            published_ports,
            started: *started,
        };
        let mut parts = Parts { switch, ctl, link };
        Some(f(&mut parts, &mut dp))
    }

    /// Starts the OpenFlow side of a bridge: flow log replayed (or the standalone default
    /// flow on a new bridge), controllers connected.
    pub(super) fn of_start(&mut self, name: &str) {
        let Some(bc) = self.config.bridges.get(name) else {
            return;
        };
        let mut opts = OfSwitchOptions::new(name, bc.effective_dpid(name));
        opts.fail_mode = bc.fail_mode;
        let targets = bc.controllers.clone();
        let now = mono_ms();
        let path = log_path(&self.db, name);
        let switch = match std::fs::create_dir_all(path.parent().unwrap_or(&path))
            .and_then(|_| FlowLog::open(&path))
        {
            Ok(log) => {
                let (s, report) = OfSwitch::with_log(opts, log, now);
                if !report.failed.is_empty() || report.dropped_tail {
                    tracing::warn!(bridge = name, failed = ?report.failed, torn_tail = report.dropped_tail, "flow log replayed with problems");
                } else {
                    tracing::info!(bridge = name, records = report.records, "flow log replayed");
                }
                s
            }
            Err(e) => {
                tracing::error!(
                    bridge = name,
                    "cannot open flow log {}: {e}; flows will not survive a restart",
                    path.display()
                );
                OfSwitch::new(opts, now)
            }
        };
        let (ctl, mut events) = ControllerSet::new(name, ConnOptions::default());
        let tx = self.of_tx.clone();
        let bname = name.to_string();
        let forwarder = tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if tx.send(OfInput::Conn(bname.clone(), ev)).await.is_err() {
                    break;
                }
            }
        });
        let mut ofb = OfBridge {
            switch,
            ctl,
            forwarder,
            last: None,
            published_ports: BTreeMap::new(),
            link: BTreeMap::new(),
            started: Instant::now(),
        };
        if let Err(e) = ofb.ctl.set_targets(&targets) {
            tracing::error!(bridge = name, "controllers: {e}");
        }
        ofb.switch
            .set_controllers_configured(!targets.is_empty(), now);
        self.of.insert(name.to_string(), ofb);
        self.of_reconcile_bridge(name);
    }

    /// Stops a bridge's OpenFlow side; with `forget`, its flow log is deleted too.
    pub(super) fn of_stop(&mut self, name: &str, forget: bool) {
        self.of.remove(name);
        if forget {
            let path = log_path(&self.db, name);
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("cannot remove flow log {}: {e}", path.display());
                }
            }
        }
    }

    /// Brings every switch's ports and the datapath's port maps in line with the
    /// configuration and the attachments.
    pub(super) fn of_reconcile(&mut self) {
        let names: Vec<String> = self.of.keys().cloned().collect();
        for n in names {
            self.of_reconcile_bridge(&n);
        }
    }

    fn of_reconcile_bridge(&mut self, bridge: &str) {
        let Some(bc) = self.config.bridges.get(bridge) else {
            return;
        };
        let configured: Vec<(String, Option<u32>, bool)> = bc
            .ports
            .iter()
            .map(|(n, pc)| {
                let up = self.ports.get(n).is_some_and(|r| r.id.is_some());
                (n.clone(), pc.ofport, up)
            })
            .collect();
        let now = mono_ms();
        self.with_of(bridge, |ofb, dp| {
        let mut out = Vec::new();
        let known: Vec<String> = ofb.switch.ports().into_iter().map(|(_, n)| n).collect();
        for n in &known {
            if !configured.iter().any(|(c, _, _)| c == n) {
                out.extend(ofb.switch.port_removed(n, now));
                ofb.link.remove(n);
            }
        }
        for (n, ofport, up) in &configured {
            let is_new = !known.contains(n);
            if !is_new && ofb.link.get(n) == Some(up) {
                continue;
            }
            let desc = PortDesc {
                hw_addr: hw_addr(n),
                link_up: *up,
                curr_speed: 10_000_000,
                max_speed: 0,
            };
            if is_new {
                match ofb.switch.port_added(n, *ofport, desc, now) {
                    Ok((num, o)) => {
                        if Some(num) != *ofport {
                            tracing::warn!(bridge, port = %n, "OpenFlow port number {num} instead of {ofport:?}");
                        }
                        out.extend(o);
                    }
                    Err(e) => tracing::warn!(bridge, port = %n, "{e}"),
                }
                ofb.link.insert(n.clone(), *up);
            } else {
                out.extend(ofb.switch.port_changed(n, desc));
                ofb.link.insert(n.clone(), *up);
            }
        }
        ofb.switch.end_batch(now);
        ofb.switch.flush(dp);
        // Attachments changed without a switch change: re-publish the same tables.
        if *dp.published_ports != dp.attached {
            if let Some(snap) = dp.last.clone() {
                dp.publish(snap);
            }
        }
        send_all(ofb.ctl, out);
        });
    }

    /// Messages from the management API, handled as from a controller with role equal.
    pub(super) fn of_handle_api(&mut self, bridge: &str, msgs: Vec<HexBytes>) -> ApiResult {
        if !self.config.bridges.contains_key(bridge) {
            return Err(no_bridge(bridge));
        }
        let now = mono_ms();
        let replies = self
            .with_of(bridge, |ofb, dp| {
                let mut replies = Vec::new();
                let mut others = Vec::new();
                for HexBytes(bytes) in msgs {
                    let xid = bytes
                        .get(4..8)
                        .map_or(0, |x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
                    match Message::decode(&bytes) {
                        Ok((_, msg)) => {
                            for o in ofb.switch.handle(API_CONN, xid, msg, now, dp) {
                                if o.to == API_CONN {
                                    replies.push(o);
                                } else {
                                    others.push(o);
                                }
                            }
                        }
                        Err(e) => replies.push(Outgoing {
                            to: API_CONN,
                            xid,
                            msg: Message::Error(e.to_error_msg(&bytes)),
                        }),
                    }
                }
                ofb.switch.end_batch(now);
                ofb.switch.flush(dp);
                send_all(ofb.ctl, others);
                replies
            })
            .ok_or_else(worker_gone)?;
        let mut messages = Vec::new();
        for o in replies {
            match o.msg.encode(o.xid) {
                Ok(bytes) => messages.push(HexBytes(bytes)),
                Err(e) => {
                    return Err(ApiError::new(
                        ErrorKind::System,
                        format!("cannot encode reply: {e}"),
                    ))
                }
            }
        }
        Ok(Response::OpenFlow { messages })
    }

    /// Controller events and packet-ins, as they arrived.
    pub fn of_input(&mut self, batch: Vec<OfInput>) {
        let now = mono_ms();
        let mut touched: Vec<String> = Vec::new();
        for input in batch {
            let (bridge, ev) = match input {
                OfInput::Conn(b, ev) => (b, Some(ev)),
                OfInput::PacketIn(_thread, p) => {
                    // Bridge ids are the same on every thread.
                    let Some(name) = self
                        .bridge_ids
                        .iter()
                        .find(|(_, &id)| id == p.bridge)
                        .map(|(n, _)| n.clone())
                    else {
                        continue;
                    };
                    let Some(ofb) = self.of.get_mut(&name) else {
                        continue;
                    };
                    let ofb = &mut *ofb;
                    let ev = PacketInEvent {
                        in_port: p.in_port,
                        reason: p.reason,
                        table_id: p.table_id,
                        cookie: p.cookie,
                        frame: p.frame,
                        total_len: u16::try_from(p.total_len).unwrap_or(u16::MAX),
                        metadata: p.metadata,
                        tunnel_id: p.tunnel_id,
                    };
                    let out = ofb.switch.packet_in(ev, now);
                    send_all(&ofb.ctl, out);
                    continue;
                }
            };
            self.with_of(&bridge, |ofb, dp| {
            let out = match ev {
                Some(ConnEvent::Up(c, peer)) => {
                    tracing::info!(bridge = %bridge, conn = c, %peer, "controller connected");
                    ofb.switch.conn_up(c, now);
                    Vec::new()
                }
                Some(ConnEvent::Down(c, why)) => {
                    tracing::info!(bridge = %bridge, conn = c, "controller disconnected: {why}");
                    ofb.switch.conn_down(c, now);
                    Vec::new()
                }
                Some(ConnEvent::Message(c, xid, msg)) => ofb.switch.handle(c, xid, msg, now, dp),
                None => Vec::new(),
            };
            send_all(ofb.ctl, out);
            });
            if !touched.contains(&bridge) {
                touched.push(bridge);
            }
        }
        for b in touched {
            self.with_of(&b, |ofb, dp| {
                ofb.switch.end_batch(now);
                ofb.switch.flush(dp);
            });
        }
    }

    /// Periodic work: counters, timeouts (flow-removed), fail-open, log sync.
    pub fn of_tick(&mut self) {
        let now = mono_ms();
        let names: Vec<String> = self.of.keys().cloned().collect();
        for n in names {
            self.with_of(&n, |ofb, dp| {
                let out = ofb.switch.tick(now, dp);
                send_all(ofb.ctl, out);
            });
        }
    }

    pub(super) fn set_controller(&mut self, bridge: String, targets: Vec<String>) -> ApiResult {
        self.bridge_id(&bridge)?;
        let mut uniq: Vec<String> = Vec::new();
        for t in &targets {
            parse_target(t).map_err(|e| ApiError::invalid(format!("controller '{t}': {e}")))?;
            if !uniq.contains(t) {
                uniq.push(t.clone());
            }
        }
        let ofb = self.of.get_mut(&bridge).ok_or_else(worker_gone)?;
        // Listen/connect first: a passive target that cannot bind is refused unchanged.
        ofb.ctl.set_targets(&uniq).map_err(ApiError::invalid)?;
        let mut next = self.config.clone();
        if let Some(b) = next.bridges.get_mut(&bridge) {
            b.controllers = uniq.clone();
        }
        if let Err(e) = self.commit(next) {
            let old = self
                .config
                .bridges
                .get(&bridge)
                .map(|b| b.controllers.clone())
                .unwrap_or_default();
            if let Some(ofb) = self.of.get_mut(&bridge) {
                let _ = ofb.ctl.set_targets(&old);
            }
            return Err(e);
        }
        let now = mono_ms();
        self.with_of(&bridge, |ofb, dp| {
            ofb.switch.set_controllers_configured(!uniq.is_empty(), now);
            ofb.switch.flush(dp);
        });
        tracing::info!(bridge = %bridge, targets = ?uniq, "controllers set");
        Ok(Response::Done)
    }

    pub(super) fn set_fail_mode(&mut self, bridge: String, mode: FailMode) -> ApiResult {
        self.bridge_id(&bridge)?;
        let mut next = self.config.clone();
        if let Some(b) = next.bridges.get_mut(&bridge) {
            b.fail_mode = mode;
        }
        self.commit(next)?;
        self.with_of(&bridge, |ofb, dp| {
            ofb.switch.set_fail_mode(mode);
            ofb.switch.flush(dp);
        });
        Ok(Response::Done)
    }

    pub(super) fn set_dpid(&mut self, bridge: String, dpid: u64) -> ApiResult {
        self.bridge_id(&bridge)?;
        if dpid == 0 {
            return Err(ApiError::invalid("a datapath id cannot be 0"));
        }
        let mut next = self.config.clone();
        if let Some(b) = next.bridges.get_mut(&bridge) {
            b.dpid = Some(dpid);
        }
        self.commit(next)?;
        if let Some(ofb) = self.of.get_mut(&bridge) {
            ofb.switch.set_datapath_id(dpid);
        }
        Ok(Response::Done)
    }

    pub(super) fn of_show(&mut self, bridge: String) -> ApiResult {
        self.bridge_id(&bridge)?;
        let bc = self
            .config
            .bridges
            .get(&bridge)
            .ok_or_else(|| no_bridge(&bridge))?;
        let ofb = self.of.get(&bridge).ok_or_else(worker_gone)?;
        let mut controllers: Vec<ControllerInfo> = ofb.ctl.status();
        controllers.sort_by(|a, b| a.target.cmp(&b.target));
        let info = OfBridgeInfo {
            bridge: bridge.clone(),
            dpid: format!("{:016x}", ofb.switch.datapath_id()),
            fail_mode: bc.fail_mode,
            controllers,
            ports: ofb.switch.ports(),
            n_flows: ofb.switch.flows().len() as u64,
            n_groups: ofb.switch.groups().len() as u64,
            n_meters: ofb.switch.meters().len() as u64,
        };
        Ok(Response::OfShow { info })
    }
}

fn send_all(ctl: &ControllerSet, out: Vec<Outgoing>) {
    for o in out {
        if o.to == API_CONN {
            continue;
        }
        ctl.send(o.to, o.xid, &o.msg);
    }
}

/// Datapath actions in ovs-ofctl's action syntax.
pub fn format_dp_actions(acts: &[DpAction]) -> String {
    use rvs_openflow::action::Action;
    if acts.is_empty() {
        return "drop".into();
    }
    let parts: Vec<String> = acts
        .iter()
        .map(|a| {
            let of = match a {
                DpAction::Output(p) => Action::output(PortNo(*p)),
                DpAction::InPort => Action::output(PortNo::IN_PORT),
                DpAction::Flood => Action::output(PortNo::FLOOD),
                DpAction::All => Action::output(PortNo::ALL),
                DpAction::Normal => Action::output(PortNo::NORMAL),
                DpAction::Local => Action::output(PortNo::LOCAL),
                DpAction::Controller { max_len, .. } => Action::Output {
                    port: PortNo::CONTROLLER,
                    max_len: *max_len,
                },
                DpAction::SetField(f) => Action::SetField(*f),
                DpAction::PushVlan(t) => Action::PushVlan(*t),
                DpAction::PopVlan => Action::PopVlan,
                DpAction::PushMpls(t) => Action::PushMpls(*t),
                DpAction::PopMpls(t) => Action::PopMpls(*t),
                DpAction::SetMplsTtl(t) => Action::SetMplsTtl(*t),
                DpAction::DecMplsTtl => Action::DecMplsTtl,
                DpAction::SetNwTtl(t) => Action::SetNwTtl(*t),
                DpAction::DecNwTtl => Action::DecNwTtl,
                DpAction::CopyTtlOut => Action::CopyTtlOut,
                DpAction::CopyTtlIn => Action::CopyTtlIn,
                DpAction::SetQueue(q) => Action::SetQueue(*q),
                DpAction::Group(g) => Action::Group(*g),
                DpAction::Meter(m) => return format!("meter:{m}"),
            };
            rvs_ofctl::format_actions(std::slice::from_ref(&of))
        })
        .collect();
    parts.join(",")
}

impl State {
    /// `ofproto/trace`: the pipeline table by table for a flow (ovs-ofctl match syntax)
    /// or a whole packet.
    pub(super) fn trace(
        &mut self,
        bridge: String,
        flow: Option<String>,
        packet: Option<HexBytes>,
        in_port: Option<String>,
    ) -> ApiResult {
        use std::fmt::Write as _;
        self.bridge_id(&bridge)?;
        let ofb = self.of.get(&bridge).ok_or_else(worker_gone)?;
        let sw = &ofb.switch;
        let resolve_port = |p: &str| -> Result<u32, ApiError> {
            match p.parse::<u32>() {
                Ok(n) => Ok(n),
                Err(_) => sw.ofport(p).ok_or_else(|| {
                    ApiError::invalid(format!("bridge '{bridge}' has no port named '{p}'"))
                }),
            }
        };
        let (key, heading) = match (flow, packet) {
            (Some(text), None) => {
                let mut m = rvs_ofctl::parse_match(&text)
                    .map_err(|e| ApiError::invalid(e.render(&text)))?;
                if let Some(p) = in_port {
                    let n = resolve_port(&p)?;
                    m.fields
                        .retain(|f| !matches!(f, rvs_openflow::OxmField::InPort(_)));
                    m = m.with(rvs_openflow::OxmField::InPort(PortNo(n)));
                }
                let key = rvs_flow::key_from_match(&m)
                    .map_err(|e| ApiError::invalid(format!("flow: {e}")))?;
                (key, format!("Flow: {}", rvs_ofctl::format_match(&m)))
            }
            (None, Some(HexBytes(frame))) => {
                let Some(p) = in_port else {
                    return Err(ApiError::invalid("a traced packet needs --in-port"));
                };
                let n = resolve_port(&p)?;
                if frame.len() < 14 {
                    return Err(ApiError::invalid(format!(
                        "a packet of {} bytes is shorter than an Ethernet header",
                        frame.len()
                    )));
                }
                let key = rvs_flow::extract(&frame, n);
                let all = full_mask();
                (
                    key,
                    format!(
                        "Packet: {} bytes on port {n}\nFlow: {}",
                        frame.len(),
                        rvs_ofctl::format_match(&rvs_flow::key_to_match(&key, &all))
                    ),
                )
            }
            _ => {
                return Err(ApiError::invalid(
                    "trace needs either a flow or a packet (with its in_port)",
                ))
            }
        };
        let tr = rvs_flow::pipeline::trace(sw.flows(), &key);
        let mut t = String::new();
        let _ = writeln!(t, "{heading}\n");
        let _ = writeln!(t, "bridge(\"{bridge}\")\n{}", "-".repeat(bridge.len() + 10));
        if sw.fail_open() {
            let _ = writeln!(
                t,
                "fail-open: no controller reachable, the bridge acts as a learning switch (tables ignored)"
            );
        }
        for st in &tr.steps {
            match &st.rule {
                Some(r) => {
                    let m = rvs_ofctl::format_match(&r.match_);
                    let _ = writeln!(
                        t,
                        "{:2}. {}priority {}{}{}",
                        st.table,
                        if r.table_miss { "table-miss: " } else { "" },
                        r.priority,
                        if r.cookie != 0 {
                            format!(", cookie {:#x}", r.cookie)
                        } else {
                            String::new()
                        },
                        if m.is_empty() {
                            String::new()
                        } else {
                            format!(", {m}")
                        },
                    );
                    let _ = writeln!(
                        t,
                        "    instructions: {}",
                        rvs_ofctl::format_instructions(&r.instructions)
                    );
                    if !st.applied.is_empty() {
                        let _ = writeln!(t, "    applied: {}", format_dp_actions(&st.applied));
                    }
                    if !st.action_set.is_empty() {
                        let _ =
                            writeln!(t, "    action set: {}", format_dp_actions(&st.action_set));
                    }
                    if let Some(g) = st.goto {
                        let _ = writeln!(t, "    -> table {g}");
                    }
                }
                None => {
                    let _ = writeln!(t, "{:2}. no match and no table-miss entry: drop", st.table);
                }
            }
        }
        let all = full_mask();
        let final_flow = rvs_ofctl::format_match(&rvs_flow::key_to_match(&tr.final_key, &all));
        let start_flow = rvs_ofctl::format_match(&rvs_flow::key_to_match(&key, &all));
        if final_flow != start_flow {
            let _ = writeln!(t, "\nFinal flow: {final_flow}");
        } else {
            let _ = writeln!(t, "\nFinal flow: unchanged");
        }
        for a in &tr.result.actions {
            if let DpAction::Group(id) = a {
                match sw.groups().get(*id) {
                    Some(g) => {
                        let mut chosen = Vec::new();
                        g.choose(key.flow_hash(), &|_| true, sw.groups(), &mut chosen);
                        let _ = writeln!(
                            t,
                            "group {id} ({:?}, {} buckets): this flow takes bucket(s) {:?}",
                            g.kind,
                            g.buckets.len(),
                            chosen
                        );
                        for b in chosen {
                            if let Some(bk) = g.buckets.get(b) {
                                let _ = writeln!(
                                    t,
                                    "    bucket {b}: {}",
                                    format_dp_actions(&bk.actions)
                                );
                            }
                        }
                    }
                    None => {
                        let _ = writeln!(t, "group {id}: does not exist (packet dropped)");
                    }
                }
            }
        }
        let megaflow = rvs_ofctl::format_match(&rvs_flow::key_to_match(&key, &tr.result.mask));
        let megaflow = if megaflow.is_empty() {
            "(matches every packet)".to_string()
        } else {
            megaflow
        };
        let actions = format_dp_actions(&tr.result.actions);
        let _ = writeln!(t, "Megaflow: {megaflow}");
        let _ = write!(t, "Datapath actions: {actions}");
        Ok(Response::Trace {
            text: t,
            actions,
            megaflow,
        })
    }
}

/// A mask with every bit set (to print a whole key).
fn full_mask() -> rvs_flow::FlowMask {
    let mut mask = rvs_flow::FlowMask::default();
    for w in 0..rvs_flow::KEY_WORDS {
        let l = rvs_flow::key::Loc {
            word: w as u8,
            shift: 0,
            bits: 64,
        };
        mask.add(l, u64::MAX);
    }
    mask
}
