//! The lab's OpenFlow steps: a bridge's controllers, fail mode and flow table.
//!
//! Flow tables are compared, not rewritten blindly: [`flows_match`] reads the bridge's
//! flows with one flow-stats request (all tables) and compares them, as an unordered set
//! of (table, priority, cookie, timeouts, flags, match fields, instructions), with the
//! flows of the file. Only when they differ does [`replace_flows`] send, in one request,
//! a delete of every flow in every table, the file's flows and a barrier; an `OFPT_ERROR`
//! among the replies fails the step. So a second `up` with the same file leaves the table
//! (and its counters) alone. The previous table, kept as read, is what the rollback puts
//! back.

use crate::control::{Control, ControlError};
use anyhow::{anyhow, bail, Context, Result};
use rvs_api::{HexBytes, OfBridgeInfo, Request, Response};
use rvs_openflow::message::OFP_NO_BUFFER;
use rvs_openflow::multipart::{
    FlowStats, FlowStatsRequest, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
};
use rvs_openflow::{FlowMod, FlowModCommand, Message, PortNo};

/// `OFPTT_ALL`: every table.
const ALL_TABLES: u8 = 0xff;
/// `OFPFF_CHECK_OVERLAP`: a flag of the request, not kept with the flow.
const CHECK_OVERLAP: u16 = 1 << 1;

/// The OpenFlow view of `bridge` (`rvs of-show`).
pub(crate) fn of_show(ctl: &Control, bridge: &str) -> Result<OfBridgeInfo, ControlError> {
    match ctl.call(
        &format!("show the OpenFlow state of bridge {bridge}"),
        Request::OfShow {
            bridge: bridge.to_string(),
        },
    )? {
        Response::OfShow { info } => Ok(info),
        other => Err(crate::control::unexpected("of-show", &other)),
    }
}

/// Sends `messages` (xid 1, 2, ...) to `bridge` as a controller would and returns the
/// replies; an `OFPT_ERROR` fails, naming the message it answers (`origins[xid - 1]`).
fn exchange(ctl: &Control, bridge: &str, messages: &[(Message, String)]) -> Result<Vec<Message>> {
    let mut encoded = Vec::with_capacity(messages.len());
    for (i, (m, origin)) in messages.iter().enumerate() {
        let xid = u32::try_from(i + 1).context("too many OpenFlow messages")?;
        let bytes = m
            .encode(xid)
            .map_err(|e| anyhow!("cannot encode {origin}: {e}"))?;
        encoded.push(HexBytes(bytes));
    }
    let reply = ctl.call(
        &format!("take OpenFlow messages for bridge {bridge}"),
        Request::OpenFlow {
            bridge: bridge.to_string(),
            messages: encoded,
        },
    )?;
    let Response::OpenFlow { messages: replies } = reply else {
        return Err(crate::control::unexpected("open-flow", &reply).into());
    };
    let mut out = Vec::with_capacity(replies.len());
    for r in &replies {
        let (header, msg) =
            Message::decode(&r.0).map_err(|e| anyhow!("undecodable OpenFlow reply: {e}"))?;
        if let Message::Error(e) = &msg {
            let origin = usize::try_from(header.xid)
                .ok()
                .and_then(|x| x.checked_sub(1))
                .and_then(|i| messages.get(i))
                .map_or_else(|| format!("xid {}", header.xid), |(_, o)| o.clone());
            let (ty, code) = e.code.type_code();
            bail!(
                "bridge {bridge} refused {origin}: OpenFlow error {} ({ty}/{code})",
                e.code.code_name().unwrap_or(e.code.type_name())
            );
        }
        out.push(msg);
    }
    Ok(out)
}

/// Every flow of `bridge`, in every table.
pub(crate) fn dump_flows(ctl: &Control, bridge: &str) -> Result<Vec<FlowStats>> {
    let request = Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Flow(
        FlowStatsRequest::all(),
    )));
    let replies = exchange(ctl, bridge, &[(request, "the flow-stats request".into())])?;
    let mut flows = Vec::new();
    let mut parts = 0;
    for m in replies {
        if let Message::MultipartReply(r) = m {
            if let MultipartReplyBody::Flow(f) = r.body {
                flows.extend(f);
                parts += 1;
            }
        }
    }
    if parts == 0 {
        bail!("bridge {bridge} sent no flow statistics");
    }
    Ok(flows)
}

/// The flow mods of the file's `flows` (checked when the file was read).
pub(crate) fn wanted_mods(texts: &[String]) -> Result<Vec<(FlowMod, String)>> {
    texts
        .iter()
        .map(|t| {
            rvs_ofctl::parse_flow(t, FlowModCommand::Add, false)
                .map(|fm| (fm, format!("flow '{t}'")))
                .map_err(|e| anyhow!("flow '{t}': {}", e.message))
        })
        .collect()
}

/// What identifies a flow in the table, as a comparable string.
#[allow(clippy::too_many_arguments)]
fn key(
    table: u8,
    priority: u16,
    cookie: u64,
    idle: u16,
    hard: u16,
    flags: u16,
    m: &rvs_openflow::Match,
    instructions: &[rvs_openflow::Instruction],
) -> String {
    let mut fields: Vec<String> = m.fields.iter().map(|f| format!("{f:?}")).collect();
    fields.sort();
    format!(
        "{table}|{priority}|{cookie:#x}|{idle}|{hard}|{:#x}|{}|{instructions:?}",
        flags & !CHECK_OVERLAP,
        fields.join(",")
    )
}

fn mod_key(f: &FlowMod) -> String {
    key(
        f.table_id,
        f.priority,
        f.cookie,
        f.idle_timeout,
        f.hard_timeout,
        f.flags,
        &f.match_,
        &f.instructions,
    )
}

fn stats_key(f: &FlowStats) -> String {
    key(
        f.table_id,
        f.priority,
        f.cookie,
        f.idle_timeout,
        f.hard_timeout,
        f.flags,
        &f.match_,
        &f.instructions,
    )
}

/// Whether the table `current` holds exactly the flows `wanted` (in any order).
pub(crate) fn flows_match(current: &[FlowStats], wanted: &[(FlowMod, String)]) -> bool {
    let mut a: Vec<String> = current.iter().map(stats_key).collect();
    let mut b: Vec<String> = wanted.iter().map(|(f, _)| mod_key(f)).collect();
    a.sort();
    b.sort();
    a == b
}

/// The add that recreates a flow read from the table.
pub(crate) fn readd(f: &FlowStats) -> (FlowMod, String) {
    let fm = FlowMod {
        cookie: f.cookie,
        cookie_mask: 0,
        table_id: f.table_id,
        command: FlowModCommand::Add,
        idle_timeout: f.idle_timeout,
        hard_timeout: f.hard_timeout,
        priority: f.priority,
        buffer_id: OFP_NO_BUFFER,
        out_port: PortNo::ANY,
        out_group: rvs_openflow::group::OFPG_ANY,
        flags: f.flags & !CHECK_OVERLAP,
        match_: f.match_.clone(),
        instructions: f.instructions.clone(),
    };
    let text = format!("previous flow '{}'", rvs_ofctl::format_flow_mod(&fm).trim());
    (fm, text)
}

/// Replaces every flow of `bridge` (all tables) with `flows`: one request holding the
/// delete, the adds and a barrier.
pub(crate) fn replace_flows(
    ctl: &Control,
    bridge: &str,
    flows: &[(FlowMod, String)],
) -> Result<()> {
    let mut delete = FlowMod::add(0, rvs_openflow::Match::new(), Vec::new());
    delete.command = FlowModCommand::Delete;
    delete.table_id = ALL_TABLES;
    let mut messages = Vec::with_capacity(flows.len() + 2);
    messages.push((
        Message::FlowMod(delete),
        "the delete of every flow".to_string(),
    ));
    messages.extend(
        flows
            .iter()
            .map(|(f, what)| (Message::FlowMod(f.clone()), what.clone())),
    );
    messages.push((Message::BarrierRequest, "the barrier".to_string()));
    let replies = exchange(ctl, bridge, &messages)?;
    if !replies.iter().any(|m| matches!(m, Message::BarrierReply)) {
        bail!("bridge {bridge} did not answer the barrier");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(fm: &FlowMod) -> FlowStats {
        FlowStats {
            table_id: fm.table_id,
            duration_sec: 3,
            duration_nsec: 0,
            priority: fm.priority,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            cookie: fm.cookie,
            packet_count: 7,
            byte_count: 700,
            match_: fm.match_.clone(),
            instructions: fm.instructions.clone(),
        }
    }

    #[test]
    fn tables_compare_as_sets_and_see_every_difference() {
        let wanted = wanted_mods(&[
            "priority=100,icmp,actions=NORMAL".to_string(),
            "priority=100,arp,actions=NORMAL".to_string(),
        ])
        .unwrap();
        let mut current: Vec<FlowStats> = wanted.iter().rev().map(|(f, _)| stats_of(f)).collect();
        assert!(
            flows_match(&current, &wanted),
            "order and counters do not matter"
        );
        // Match fields in another order are the same flow.
        current[0].match_.fields.reverse();
        assert!(flows_match(&current, &wanted));
        let mut other = current.clone();
        other[0].priority = 99;
        assert!(!flows_match(&other, &wanted));
        assert!(!flows_match(&current[..1], &wanted));
        let extra = wanted_mods(&["priority=0,actions=NORMAL".to_string()]).unwrap();
        current.push(stats_of(&extra[0].0));
        assert!(!flows_match(&current, &wanted));
        assert!(flows_match(&[], &[]));
        // What is read back re-adds as the same flow.
        let back: Vec<_> = current.iter().map(readd).collect();
        assert!(flows_match(&current, &back));
    }
}
