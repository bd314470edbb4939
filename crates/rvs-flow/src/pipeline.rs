//! The OpenFlow 1.3 pipeline over a flow key: from table 0 through `goto_table`, to a
//! list of datapath actions and the mask of every bit the result depended on.
//!
//! This is the slow path of [`crate::cache`]. [`translate`] walks the tables as the
//! specification describes (section 5): in each table the highest-priority matching
//! entry runs its instructions in the specification's order (meter, apply-actions,
//! clear-actions, write-actions, write-metadata, goto-table), whatever order they came
//! in. Apply-actions take effect at once: they are appended to the output and change the
//! key that later tables match (set-field, push/pop VLAN and MPLS, `write_metadata`).
//! Write-actions merge into the action set, which runs when the pipeline stops without
//! a `goto_table`, in the specification's order (copy TTL in, pop, push MPLS, push VLAN,
//! copy TTL out, decrement TTL, set, queue, group, output; a group makes the set's
//! output ignored). A table with no matching entry and no table-miss entry drops the
//! packet: the action set is discarded (OpenFlow 1.3 behaviour; actions applied before
//! still happened).
//!
//! The output is *datapath actions*: a compact list the datapath runs in order on the
//! packet. Reserved ports stay symbolic (`Flood`, `All`, `Normal`, `InPort`, `Local`,
//! `Controller`), groups and meters are ids, and an empty list means drop.
//!
//! # The consulted mask
//!
//! Every table lookup ORs its un-wildcarded bits into the translation's mask (see
//! [`crate::classifier`]); an output to the packet's own ingress port (which OpenFlow
//! drops unless sent to `IN_PORT`) adds `in_port`. The mask is over the key *as it
//! entered the pipeline*, although later tables match a key changed by set-field and
//! push/pop. That is safe: every change writes either constants or bits copied from the
//! same position (a pushed VLAN tag copies the existing one), so two packets that agree
//! on the mask still agree, after the same changes, on everything each later table looks
//! at. It can only be wider than needed (a field set to a constant then matched is
//! un-wildcarded anyway).
//!
//! # Limits
//!
//! After `pop_mpls` the key's L3 fields are those of the MPLS frame (zero), since the
//! payload is not re-parsed; after popping one of two VLAN tags the inner tag is not
//! known. `dec_nw_ttl`/`dec_mpls_ttl` are left to the datapath, which drops a packet
//! whose TTL would reach zero (rvs does not send `OFPR_INVALID_TTL` packet-ins).

use crate::classifier::{FlowTables, RuleRef, TableSet};
use crate::key::loc;
use crate::key::{set_field, FlowKey, FlowMask, VLAN_PRESENT};
use rvs_openflow::action::Action;
use rvs_openflow::message::PacketInReason;
use rvs_openflow::{Instruction, OxmField, PortNo};

/// One datapath action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpAction {
    /// Send out a port (never the ingress port: that is [`DpAction::InPort`]).
    Output(u32),
    /// Send back out the ingress port.
    InPort,
    Flood,
    All,
    /// Hand to the non-OpenFlow L2 switch.
    Normal,
    Local,
    /// Packet-in to the controller.
    Controller {
        max_len: u16,
        reason: PacketInReason,
        table_id: u8,
        cookie: u64,
    },
    /// Set a header field (the OXM carries no mask).
    SetField(OxmField),
    PushVlan(u16),
    PopVlan,
    PushMpls(u16),
    PopMpls(u16),
    SetMplsTtl(u8),
    DecMplsTtl,
    SetNwTtl(u8),
    DecNwTtl,
    CopyTtlOut,
    CopyTtlIn,
    SetQueue(u32),
    /// Run group `id` (its buckets are the datapath's business).
    Group(u32),
    /// Meter `id` (applied before the entry's actions).
    Meter(u32),
}

/// The result of running the pipeline for one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    /// Datapath actions in order; empty = drop.
    pub actions: Vec<DpAction>,
    /// Every bit of the input key the result depended on.
    pub mask: FlowMask,
    /// Tables looked up.
    pub tables: TableSet,
    /// The entry that matched in each table that had one, in pipeline order.
    pub rules: Vec<RuleRef>,
}

impl Translation {
    pub fn clear(&mut self) {
        self.actions.clear();
        self.mask = FlowMask::default();
        self.tables.clear();
        self.rules.clear();
    }
}

/// Who wrote an output into the action set (for packet-in table id, cookie, reason).
#[derive(Debug, Clone, Copy)]
struct Origin {
    table_id: u8,
    cookie: u64,
    miss: bool,
}

/// The action set: at most one action per type, one set-field per field.
#[derive(Default)]
struct ActionSet {
    copy_ttl_in: bool,
    pop_vlan: bool,
    pop_mpls: Option<u16>,
    push_mpls: Option<u16>,
    push_vlan: Option<u16>,
    copy_ttl_out: bool,
    dec_mpls_ttl: bool,
    dec_nw_ttl: bool,
    set_mpls_ttl: Option<u8>,
    set_nw_ttl: Option<u8>,
    set_fields: Vec<OxmField>,
    set_queue: Option<u32>,
    group: Option<u32>,
    output: Option<(PortNo, u16, Origin)>,
}

impl ActionSet {
    fn write(&mut self, a: &Action, origin: Origin) {
        match a {
            Action::Output { port, max_len } => self.output = Some((*port, *max_len, origin)),
            Action::CopyTtlOut => self.copy_ttl_out = true,
            Action::CopyTtlIn => self.copy_ttl_in = true,
            Action::SetMplsTtl(t) => self.set_mpls_ttl = Some(*t),
            Action::DecMplsTtl => self.dec_mpls_ttl = true,
            Action::PushVlan(e) => self.push_vlan = Some(*e),
            Action::PopVlan => self.pop_vlan = true,
            Action::PushMpls(e) => self.push_mpls = Some(*e),
            Action::PopMpls(e) => self.pop_mpls = Some(*e),
            Action::SetQueue(q) => self.set_queue = Some(*q),
            Action::Group(g) => self.group = Some(*g),
            Action::SetNwTtl(t) => self.set_nw_ttl = Some(*t),
            Action::DecNwTtl => self.dec_nw_ttl = true,
            Action::SetField(f) => match self.set_fields.iter_mut().find(|o| o.id() == f.id()) {
                Some(o) => *o = *f,
                None => self.set_fields.push(*f),
            },
            // Refused when the flow was added.
            Action::PushPbb(_) | Action::PopPbb | Action::Experimenter { .. } => {}
        }
    }

    fn clear(&mut self) {
        *self = ActionSet {
            set_fields: core::mem::take(&mut self.set_fields),
            ..ActionSet::default()
        };
        self.set_fields.clear();
    }

    /// The datapath actions the set would run now (the set is left as it is).
    fn preview(&self, key: &FlowKey) -> Vec<DpAction> {
        let mut copy = ActionSet {
            set_fields: self.set_fields.clone(),
            ..*self
        };
        let mut t = Translation::default();
        let mut x = Exec {
            key: *key,
            in_port: key.in_port(),
            out: &mut t,
        };
        copy.execute(&mut x);
        t.actions
    }

    /// The set as a list of actions in execution order.
    fn execute(&mut self, x: &mut Exec<'_>) {
        if self.copy_ttl_in {
            x.apply(&Action::CopyTtlIn, None);
        }
        if self.pop_vlan {
            x.apply(&Action::PopVlan, None);
        }
        if let Some(e) = self.pop_mpls {
            x.apply(&Action::PopMpls(e), None);
        }
        if let Some(e) = self.push_mpls {
            x.apply(&Action::PushMpls(e), None);
        }
        if let Some(e) = self.push_vlan {
            x.apply(&Action::PushVlan(e), None);
        }
        if self.copy_ttl_out {
            x.apply(&Action::CopyTtlOut, None);
        }
        if self.dec_mpls_ttl {
            x.apply(&Action::DecMplsTtl, None);
        }
        if self.dec_nw_ttl {
            x.apply(&Action::DecNwTtl, None);
        }
        if let Some(t) = self.set_mpls_ttl {
            x.apply(&Action::SetMplsTtl(t), None);
        }
        if let Some(t) = self.set_nw_ttl {
            x.apply(&Action::SetNwTtl(t), None);
        }
        self.set_fields.sort_by_key(|f| f.id());
        for f in &self.set_fields {
            x.apply(&Action::SetField(*f), None);
        }
        if let Some(q) = self.set_queue {
            x.apply(&Action::SetQueue(q), None);
        }
        if let Some(g) = self.group {
            x.apply(&Action::Group(g), None);
        } else if let Some((port, max_len, origin)) = self.output {
            x.apply(&Action::Output { port, max_len }, Some(origin));
        }
    }
}

struct Exec<'a> {
    key: FlowKey,
    in_port: u32,
    out: &'a mut Translation,
}

impl Exec<'_> {
    /// Runs one action: appends its datapath form and updates the key.
    fn apply(&mut self, a: &Action, origin: Option<Origin>) {
        let k = &mut self.key;
        let dp = match a {
            Action::Output { port, max_len } => {
                let p = *port;
                if p == PortNo::CONTROLLER {
                    let o = origin.unwrap_or(Origin {
                        table_id: 0,
                        cookie: 0,
                        miss: false,
                    });
                    DpAction::Controller {
                        max_len: *max_len,
                        reason: if o.miss {
                            PacketInReason::NoMatch
                        } else {
                            PacketInReason::Action
                        },
                        table_id: o.table_id,
                        cookie: o.cookie,
                    }
                } else if p == PortNo::IN_PORT {
                    DpAction::InPort
                } else if p == PortNo::FLOOD {
                    DpAction::Flood
                } else if p == PortNo::ALL {
                    DpAction::All
                } else if p == PortNo::NORMAL {
                    DpAction::Normal
                } else if p == PortNo::LOCAL {
                    DpAction::Local
                } else if p.is_standard() {
                    // OpenFlow never sends a packet back out its ingress port unless
                    // asked with IN_PORT: the answer depends on in_port.
                    self.out.mask.add_field(loc::IN_PORT);
                    if p.0 == self.in_port {
                        return;
                    }
                    DpAction::Output(p.0)
                } else {
                    // TABLE and ANY are refused when flows are added.
                    return;
                }
            }
            Action::SetField(f) => {
                if set_field(k, f).is_err() {
                    return;
                }
                DpAction::SetField(*f)
            }
            Action::PushVlan(tpid) => {
                if k.vlan_tci() & VLAN_PRESENT != 0 {
                    // The new outer tag copies the old one, which becomes inner.
                    k.set_eth_type(0x8100);
                } else {
                    k.set_vlan_tci(VLAN_PRESENT);
                }
                DpAction::PushVlan(*tpid)
            }
            Action::PopVlan => {
                k.set_vlan_tci(0);
                DpAction::PopVlan
            }
            Action::PushMpls(e) => {
                let is_mpls = matches!(k.eth_type(), 0x8847 | 0x8848);
                if is_mpls {
                    k.set_mpls_bos(0);
                } else {
                    let ttl = k.ip_ttl();
                    k.set_mpls_lse(0x100 | u32::from(ttl));
                }
                k.set_eth_type(*e);
                DpAction::PushMpls(*e)
            }
            Action::PopMpls(e) => {
                k.set_mpls_lse(0);
                k.set_eth_type(*e);
                DpAction::PopMpls(*e)
            }
            Action::SetMplsTtl(t) => {
                k.set_mpls_ttl(*t);
                DpAction::SetMplsTtl(*t)
            }
            Action::DecMplsTtl => {
                k.set_mpls_ttl(k.mpls_ttl().saturating_sub(1));
                DpAction::DecMplsTtl
            }
            Action::SetNwTtl(t) => {
                k.set_ip_ttl(*t);
                DpAction::SetNwTtl(*t)
            }
            Action::DecNwTtl => {
                k.set_ip_ttl(k.ip_ttl().saturating_sub(1));
                DpAction::DecNwTtl
            }
            Action::CopyTtlOut => DpAction::CopyTtlOut,
            Action::CopyTtlIn => DpAction::CopyTtlIn,
            Action::SetQueue(q) => DpAction::SetQueue(*q),
            Action::Group(g) => DpAction::Group(*g),
            Action::PushPbb(_) | Action::PopPbb | Action::Experimenter { .. } => return,
        };
        self.out.actions.push(dp);
    }
}

/// Runs the pipeline for `key` into `out` (cleared first; its buffers are reused).
pub fn translate_into(tables: &FlowTables, key: &FlowKey, out: &mut Translation) {
    run(tables, key, out, None);
}

/// Runs the pipeline for `key`.
pub fn translate(tables: &FlowTables, key: &FlowKey) -> Translation {
    let mut t = Translation::default();
    translate_into(tables, key, &mut t);
    t
}

/// The pipeline; with `steps`, each table visited is also recorded (for [`trace`]).
fn run(
    tables: &FlowTables,
    key: &FlowKey,
    out: &mut Translation,
    mut steps: Option<&mut Vec<TraceStep>>,
) -> FlowKey {
    out.clear();
    let mut set = ActionSet::default();
    let mut x = Exec {
        key: *key,
        in_port: key.in_port(),
        out,
    };
    let mut table: u8 = 0;
    loop {
        x.out.tables.insert(table);
        let mut wc = FlowMask::default();
        let hit = tables.lookup(table, &x.key, &mut wc);
        x.out.mask.union_with(&wc);
        let Some((rule, rref)) = hit else {
            // Table miss without a table-miss entry: drop (the action set is discarded).
            if let Some(steps) = steps.as_deref_mut() {
                steps.push(TraceStep {
                    table,
                    key: x.key,
                    rule: None,
                    applied: Vec::new(),
                    action_set: Vec::new(),
                    goto: None,
                });
            }
            return x.key;
        };
        x.out.rules.push(rref);
        let matched_key = x.key;
        let first_action = x.out.actions.len();
        let origin = Origin {
            table_id: table,
            cookie: rule.cookie,
            miss: rule.is_table_miss(),
        };
        let insts = &rule.instructions;
        let find = |f: fn(&Instruction) -> bool| insts.iter().find(|i| f(i));
        if let Some(Instruction::Meter(m)) = find(|i| matches!(i, Instruction::Meter(_))) {
            x.out.actions.push(DpAction::Meter(*m));
        }
        if let Some(Instruction::ApplyActions(acts)) =
            find(|i| matches!(i, Instruction::ApplyActions(_)))
        {
            for a in acts {
                x.apply(a, Some(origin));
            }
        }
        if find(|i| matches!(i, Instruction::ClearActions)).is_some() {
            set.clear();
        }
        if let Some(Instruction::WriteActions(acts)) =
            find(|i| matches!(i, Instruction::WriteActions(_)))
        {
            for a in acts {
                set.write(a, origin);
            }
        }
        if let Some(Instruction::WriteMetadata { metadata, mask }) =
            find(|i| matches!(i, Instruction::WriteMetadata { .. }))
        {
            let md = (x.key.metadata() & !mask) | (metadata & mask);
            x.key.set_metadata(md);
        }
        let goto = match find(|i| matches!(i, Instruction::GotoTable(_))) {
            Some(Instruction::GotoTable(next)) if *next > table => Some(*next),
            _ => None,
        };
        if let Some(steps) = steps.as_deref_mut() {
            steps.push(TraceStep {
                table,
                key: matched_key,
                rule: Some(TraceRule {
                    priority: rule.priority,
                    cookie: rule.cookie,
                    match_: rule.match_.clone(),
                    instructions: rule.instructions.to_vec(),
                    table_miss: rule.is_table_miss(),
                }),
                applied: x.out.actions.get(first_action..).unwrap_or(&[]).to_vec(),
                action_set: set.preview(&x.key),
                goto,
            });
        }
        match goto {
            Some(next) => table = next,
            None => {
                set.execute(&mut x);
                return x.key;
            }
        }
    }
}

/// `ofproto/trace`: the pipeline for one key, table by table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub steps: Vec<TraceStep>,
    /// Exactly what [`translate`] returns for the key.
    pub result: Translation,
    /// The key after every action ran (set-fields, pushes and pops, metadata).
    pub final_key: FlowKey,
}

/// One table visited by [`trace`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    pub table: u8,
    /// The key as matched in this table (earlier apply-actions and metadata included).
    pub key: FlowKey,
    /// The entry that matched; `None` is a miss with no table-miss entry (drop).
    pub rule: Option<TraceRule>,
    /// Datapath actions this entry's meter and apply-actions produced, in order.
    pub applied: Vec<DpAction>,
    /// The action set after this table, as the datapath actions it would run.
    pub action_set: Vec<DpAction>,
    /// The next table, if the entry had a `goto_table`.
    pub goto: Option<u8>,
}

/// The flow entry a [`TraceStep`] matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRule {
    pub priority: u16,
    pub cookie: u64,
    pub match_: rvs_openflow::Match,
    pub instructions: Vec<Instruction>,
    pub table_miss: bool,
}

/// Runs the pipeline for `key`, recording each table: the same walk as [`translate`]
/// (one implementation), so `trace(t, k).result == translate(t, k)`.
pub fn trace(tables: &FlowTables, key: &FlowKey) -> Trace {
    let mut steps = Vec::new();
    let mut result = Translation::default();
    let final_key = run(tables, key, &mut result, Some(&mut steps));
    Trace {
        steps,
        result,
        final_key,
    }
}

/// OpenFlow actions as datapath actions, in order (packet-out, group buckets).
///
/// Each action maps as in a flow's apply-actions, except that no ingress port is known:
/// an output to a standard port is kept even if it is the packet's ingress port (the
/// datapath drops that case, as OpenFlow asks), and a controller output has reason
/// `ACTION`, table 0 and cookie all-ones ("no flow entry"). Output to `TABLE` (packet-out
/// only: run the packet through the tables) becomes `Output(OFPP_TABLE)` for the datapath
/// to recognise; `ANY`, and actions rvs refuses (PBB, experimenter, set-field on an
/// unsettable field) produce nothing.
pub fn actions_to_dp(actions: &[Action]) -> Vec<DpAction> {
    let mut t = Translation::default();
    let mut x = Exec {
        key: FlowKey::default(),
        in_port: PortNo::ANY.0,
        out: &mut t,
    };
    let origin = Origin {
        table_id: 0,
        cookie: u64::MAX,
        miss: false,
    };
    for a in actions {
        if matches!(a, Action::Output { port, .. } if *port == PortNo::TABLE) {
            x.out.actions.push(DpAction::Output(PortNo::TABLE.0));
            continue;
        }
        x.apply(a, Some(origin));
    }
    t.actions
}

#[cfg(test)]
mod tests;
