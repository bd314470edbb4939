//! Every class of bad token is reported at its own byte range, and no input panics.

use proptest::prelude::*;
use rvs_ofctl::*;
use rvs_openflow::group::GroupModCommand;
use rvs_openflow::meter::MeterModCommand;
use rvs_openflow::FlowModCommand;

/// `(input, the exact bytes the error must point at, words the message must contain)`.
const CASES: &[(&str, &str, &str)] = &[
    (
        "priority=10,nw_sr=1.2.3.4,actions=drop",
        "nw_sr",
        "unknown field 'nw_sr'",
    ),
    (
        "ip,nw_ttl=3,actions=drop",
        "nw_ttl",
        "no OpenFlow 1.3 encoding",
    ),
    (
        "ip,nw_src=1.2.3.400,actions=drop",
        "1.2.3.400",
        "not an IPv4 address",
    ),
    (
        "ip,nw_src=1.2.3.4/40,actions=drop",
        "1.2.3.4/40",
        "prefix length",
    ),
    (
        "dl_src=00:11:22:33:44,actions=drop",
        "00:11:22:33:44",
        "not a MAC address",
    ),
    ("in_port=eth0,actions=drop", "eth0", "not a port"),
    ("in_port=0,actions=drop", "0", "out of range"),
    ("priority=70000,actions=drop", "70000", "16 bits"),
    ("table=255,actions=drop", "255", "all tables"),
    ("idle_timeout=x,actions=drop", "x", "not a number"),
    ("dl_vlan_pcp=9,actions=drop", "9", "3 bits"),
    (
        "tcp,tp_dst=80/0xff00,actions=drop",
        "80/0xff00",
        "cannot be masked",
    ),
    (
        "in_port=1,tp_dst=80,actions=drop",
        "tp_dst",
        "transport protocol",
    ),
    (
        "udp6,nw_src=1.1.1.1,actions=drop",
        "nw_src=1.1.1.1",
        "requires ip",
    ),
    (
        "ip,nw_proto=6,nw_proto=17,actions=drop",
        "nw_proto=17",
        "different value",
    ),
    ("ip,tcp_dst=5,actions=drop", "tcp_dst=5", "requires tcp"),
    ("dl_type,actions=drop", "dl_type", "needs a value"),
    ("ip,nw_tos=3,actions=drop", "3", "ECN"),
    ("dl_vlan=5000,actions=drop", "5000", "VLAN id"),
    ("in_port=1", "", "missing 'actions='"),
    (
        "send_flow_rem=1,actions=drop",
        "send_flow_rem=1",
        "takes no value",
    ),
    ("actions=frob:1", "frob", "unknown action 'frob'"),
    ("actions=resubmit:1", "resubmit", "no OpenFlow 1.3 encoding"),
    ("actions=output", "output", "needs an argument"),
    ("actions=output:x", "x", "not a port"),
    ("actions=group:4294967295", "4294967295", "group is"),
    (
        "actions=goto_table:1,output:1",
        "output:1",
        "instruction ordering",
    ),
    (
        "actions=write_actions(output:1),clear_actions",
        "clear_actions",
        "instruction ordering",
    ),
    ("actions=meter:1,meter:2", "meter:2", "twice"),
    ("actions=output:1,drop", "drop", "only action"),
    (
        "actions=set_field:1.2.3.4->ip_dst",
        "set_field:1.2.3.4->ip_dst",
        "requires ip",
    ),
    ("actions=set_field:1->nope", "nope", "unknown field 'nope'"),
    ("actions=set_field:1", "1", "VALUE->FIELD"),
    (
        "ip,actions=set_field:1.2.3.4/8->ip_dst",
        "1.2.3.4/8",
        "mask",
    ),
    ("actions=mod_tp_dst:80", "mod_tp_dst", "tcp, udp or sctp"),
    ("actions=push_vlan:0x0800", "0x0800", "0x8100"),
    ("actions=mod_vlan_vid:5000", "5000", "12 bits"),
    (
        "actions=controller(reason=no_match)",
        "reason=no_match",
        "only max_len",
    ),
    ("actions=write_actions(output:1", "(", "unmatched '('"),
    ("actions=output:1)", ")", "unmatched ')'"),
    ("cookie=1/1,actions=drop", "1/1", "cookie mask"),
];

fn check(input: &str, token: &str, words: &str, e: &SyntaxError) {
    let want_pos = if token.is_empty() {
        input.len()
    } else {
        input
            .rfind(token)
            .unwrap_or_else(|| panic!("bad case: {token:?} not in {input:?}"))
    };
    assert!(
        e.message.contains(words),
        "{input:?}: message {:?} lacks {words:?}",
        e.message
    );
    assert_eq!(
        (e.pos, e.len),
        (want_pos, token.len().max(1)),
        "{input:?}: points at the wrong bytes:\n{}",
        e.render(input)
    );
}

#[test]
fn flow_errors_point_at_the_offending_token() {
    for (input, token, words) in CASES {
        match parse_flow(input, FlowModCommand::Add, false) {
            Ok(fm) => panic!("{input:?} was accepted: {fm:?}"),
            Err(e) => check(input, token, words, &e),
        }
    }
}

#[test]
fn the_caret_sits_under_the_token() {
    let input = "priority=10,nw_sr=1.2.3.4,actions=drop";
    let e = parse_flow(input, FlowModCommand::Add, false).unwrap_err();
    assert_eq!(
        e.render(input),
        "error: unknown field 'nw_sr'\n  priority=10,nw_sr=1.2.3.4,actions=drop\n              ^^^^^"
    );
}

#[test]
fn other_commands_and_syntaxes() {
    let cases: &[(Result<(), SyntaxError>, &str, &str, &str)] = &[
        (
            parse_flow("in_port=1,actions=drop", FlowModCommand::Delete, false).map(|_| ()),
            "in_port=1,actions=drop",
            "actions",
            "no actions",
        ),
        (
            parse_match("priority=5,ip").map(|_| ()),
            "priority=5,ip",
            "priority",
            "not a match field",
        ),
        (
            parse_group("group_id=1,type=fancy", GroupModCommand::Add).map(|_| ()),
            "group_id=1,type=fancy",
            "fancy",
            "unknown group type",
        ),
        (
            parse_group("group_id=x", GroupModCommand::Add).map(|_| ()),
            "group_id=x",
            "x",
            "not a number",
        ),
        (
            parse_group(
                "group_id=1,bucket=weight:1,actions=bogus",
                GroupModCommand::Add,
            )
            .map(|_| ()),
            "group_id=1,bucket=weight:1,actions=bogus",
            "bogus",
            "unknown action",
        ),
        (
            parse_meter("meter=1,kbps,bands=type=drop,rate=x", MeterModCommand::Add).map(|_| ()),
            "meter=1,kbps,bands=type=drop,rate=x",
            "x",
            "not a number",
        ),
        (
            parse_meter("meter=1,fast,bands=type=drop,rate=1", MeterModCommand::Add).map(|_| ()),
            "meter=1,fast,bands=type=drop,rate=1",
            "fast",
            "unknown meter keyword",
        ),
        (
            parse_meter("meter=1,bands=type=police,rate=1", MeterModCommand::Add).map(|_| ()),
            "meter=1,bands=type=police,rate=1",
            "police",
            "drop or dscp_remark",
        ),
        (
            parse_meter("meter=0,bands=type=drop,rate=1", MeterModCommand::Add).map(|_| ()),
            "meter=0,bands=type=drop,rate=1",
            "0",
            "meter is",
        ),
    ];
    for (result, input, token, words) in cases {
        match result {
            Ok(()) => panic!("{input:?} was accepted"),
            Err(e) => check(input, token, words, e),
        }
    }
}

/// Pieces real lines are made of, so random lines get past the first check.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ip".to_string()),
        Just("tcp6".to_string()),
        Just("arp".to_string()),
        Just("actions=".to_string()),
        Just("output:".to_string()),
        Just("write_actions(".to_string()),
        Just(")".to_string()),
        Just("set_field:".to_string()),
        Just("->".to_string()),
        Just("bucket=".to_string()),
        Just("bands=type=drop".to_string()),
        Just("/".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just(":".to_string()),
        "[a-z_]{1,12}",
        "[0-9a-fx:./]{1,20}",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn no_input_panics(parts in proptest::collection::vec(fragment(), 0..12)) {
        let text: String = parts.concat();
        for cmd in [FlowModCommand::Add, FlowModCommand::Modify, FlowModCommand::Delete] {
            if let Err(e) = parse_flow(&text, cmd, false) {
                let _ = e.render(&text);
                prop_assert!(e.pos <= text.len());
            }
        }
        let _ = parse_match(&text);
        let _ = parse_group(&text, GroupModCommand::Add);
        let _ = parse_group(&text, GroupModCommand::Delete);
        let _ = parse_meter(&text, MeterModCommand::Add);
        let _ = parse_meter(&text, MeterModCommand::Delete);
    }

    /// Whatever parses prints back to text that parses to the same flow mod.
    #[test]
    fn accepted_flows_round_trip(parts in proptest::collection::vec(fragment(), 0..10)) {
        let text: String = parts.concat();
        if let Ok(fm) = parse_flow(&text, FlowModCommand::Add, false) {
            let printed = format_flow_mod(&fm);
            prop_assert_eq!(parse_flow(&printed, FlowModCommand::Add, false), Ok(fm));
        }
    }
}

/// Match pieces that combine freely (each with its own prerequisites).
const MATCH_PIECES: &[&str] = &[
    "in_port=3",
    "hard_timeout=60",
    "dl_src=00:11:22:33:44:55",
    "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
    "metadata=0x12/0xff",
    "tun_id=0x7",
    "dl_vlan=9",
    "priority=77",
    "table=4",
    "cookie=0xabc",
    "idle_timeout=30",
    "send_flow_rem",
];

/// One of these sets eth_type (and maybe ip_proto) plus dependent fields.
const L3_PIECES: &[&str] = &[
    "",
    "ip,nw_src=10.1.0.0/16,nw_tos=8",
    "tcp,nw_dst=1.2.3.4,tp_dst=443",
    "udp6,ipv6_src=2001:db8::/48,tp_src=53",
    "icmp6,icmp_type=135,nd_target=fe80::1",
    "arp,arp_op=2,arp_sha=00:00:00:00:00:09",
    "mpls,mpls_label=77,mpls_bos=1",
    "sctp,sctp_src=9,ip_ecn=1",
];

const ACTION_PIECES: &[&str] = &[
    "output:1",
    "normal",
    "controller:64",
    "mod_dl_dst:00:00:00:00:00:07",
    "mod_vlan_vid:12",
    "pop_vlan",
    "set_queue:2",
    "group:3",
    "dec_ttl",
    "push_vlan:0x8100",
];

const INSTRUCTION_TAILS: &[&str] = &[
    "",
    ",write_metadata:0x1/0x1",
    ",goto_table:9",
    ",clear_actions,write_actions(output:2)",
    ",write_actions(group:1),goto_table:5",
];

proptest! {
    /// Random valid flows print back to text that parses to the same flow mod.
    #[test]
    fn structured_flows_round_trip(
        fields in proptest::sample::subsequence(MATCH_PIECES, 0..MATCH_PIECES.len()),
        l3 in proptest::sample::select(L3_PIECES),
        actions in proptest::collection::vec(proptest::sample::select(ACTION_PIECES), 0..5),
        tail in proptest::sample::select(INSTRUCTION_TAILS),
        meter in any::<bool>(),
    ) {
        let mut parts: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        if !l3.is_empty() {
            parts.push(l3.to_string());
        }
        let mut acts: Vec<String> = Vec::new();
        if meter {
            acts.push("meter:4".into());
        }
        acts.extend(actions.iter().map(|s| s.to_string()));
        let mut acts = acts.join(",");
        if acts.is_empty() && tail.is_empty() {
            acts = "drop".into();
        }
        let tail = if acts.is_empty() { tail.trim_start_matches(',') } else { tail };
        parts.push(format!("actions={acts}{tail}"));
        let text = parts.join(",");
        let fm = parse_flow(&text, FlowModCommand::Add, false)
            .map_err(|e| TestCaseError::fail(e.render(&text)))?;
        let printed = format_flow_mod(&fm);
        prop_assert_eq!(parse_flow(&printed, FlowModCommand::Add, false), Ok(fm), "{} -> {}", text, printed);
    }
}
