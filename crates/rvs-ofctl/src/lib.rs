//! The text syntax of `ovs-ofctl` for rvs: flows, matches, groups and meters are parsed
//! into `rvs-openflow` messages, and OpenFlow 1.3 messages and statistics are printed the
//! way `ovs-ofctl -O OpenFlow13` prints them.
//!
//! # Design
//!
//! * **Hand-written, span-carrying parser.** A line is split at top-level commas and
//!   whitespace (parentheses nest), each piece remembering its byte offset. Every error is
//!   a [`SyntaxError`] naming the byte range of the offending key or value, so
//!   [`SyntaxError::render`] can underline it. Nothing panics on any input (fuzzed).
//! * **Same meaning as ovs-ofctl.** Field aliases (`dl_src`/`eth_src`, `nw_src`/`ip_src`
//!   ...), context-dependent names (`tp_dst` becomes `tcp_dst`, `udp_dst` or `sctp_dst`
//!   after the protocol; `nw_src` on an `arp` flow is `arp_spa`), shorthands (`tcp6`
//!   sets `eth_type` and `ip_proto`), `nw_tos` being the DSCP shifted left by two,
//!   `mod_vlan_vid` pushing a tag when the flow has none, default priority 32768 and the
//!   instruction order OpenFlow 1.1+ demands: all as `ovs-ofctl`, checked against the real
//!   tool in `tests/ovs_compat.rs`.
//! * **Canonical results.** Match fields are sorted by OXM field number (which also puts
//!   every prerequisite before its dependants), masked values are ANDed with their mask
//!   and instructions come in the OpenFlow order (meter, apply, clear, write, metadata,
//!   goto). Printing a parsed flow and parsing it again gives the same `FlowMod`.
//! * **OpenFlow 1.3 only.** Fields and actions with no OpenFlow 1.3 encoding (`nw_ttl`,
//!   `ip_frag`, `load`, `resubmit`, transport-port masks...) are refused with a message
//!   saying so rather than approximated.
//!
//! | module | contents |
//! |---|---|
//! | [`parse`] | [`parse_flow`], [`parse_match`], [`parse_actions`], [`parse_group`], [`parse_meter`] |
//! | [`print`] | [`format_match`], [`format_instructions`], [`format_flow_stats`], groups, meters, ports, tables |
#![deny(clippy::unwrap_used, clippy::panic)]

mod lex;
pub mod parse;
pub mod print;
mod value;

pub use parse::{parse_actions, parse_flow, parse_group, parse_match, parse_meter};
pub use print::{
    format_actions, format_flow_mod, format_flow_stats, format_group_desc, format_group_mod,
    format_group_stats, format_instructions, format_match, format_meter_config, format_meter_mod,
    format_meter_stats, format_port_desc, format_port_stats, format_table_stats,
};

use std::fmt;

/// A parse error: a message and the byte range `pos..pos + len` of the input it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the offending token in the input.
    pub pos: usize,
    /// Its length in bytes (at least 1 when rendered).
    pub len: usize,
    pub message: String,
}

impl SyntaxError {
    pub fn new(pos: usize, len: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            pos,
            len,
            message: message.into(),
        }
    }

    /// The message, the input and a line of carets under the offending bytes:
    ///
    /// ```text
    /// error: unknown field 'nw_sr'
    ///   priority=10,nw_sr=1.2.3.4,actions=drop
    ///               ^^^^^
    /// ```
    ///
    /// Control characters of the input are shown as spaces so the carets stay aligned.
    pub fn render(&self, input: &str) -> String {
        let line: String = input
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let start = floor_char_boundary(input, self.pos.min(input.len()));
        let end = floor_char_boundary(input, self.pos.saturating_add(self.len).min(input.len()));
        let col = input[..start].chars().count();
        let width = input[start..end].chars().count().max(1);
        format!(
            "error: {}\n  {}\n  {}{}",
            self.message,
            line,
            " ".repeat(col),
            "^".repeat(width)
        )
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.pos)
    }
}

impl std::error::Error for SyntaxError {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn render_underlines_the_token() {
        let input = "priority=10,nw_sr=1.2.3.4,actions=drop";
        let e = SyntaxError::new(12, 5, "unknown field 'nw_sr'");
        assert_eq!(
            e.render(input),
            "error: unknown field 'nw_sr'\n  priority=10,nw_sr=1.2.3.4,actions=drop\n              ^^^^^"
        );
    }

    #[test]
    fn render_survives_odd_ranges() {
        let e = SyntaxError::new(100, 7, "x");
        assert!(e.render("ab").ends_with("  ^"));
        let e = SyntaxError::new(1, 2, "x");
        // Byte 1 is inside "é": the carets start at that character.
        assert!(e.render("é=1").ends_with("\n  ^^"));
    }
}
