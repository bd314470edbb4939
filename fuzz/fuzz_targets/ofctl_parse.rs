//! ovs-ofctl text syntax: no input makes the parsers panic, errors point inside the
//! input, and whatever parses prints back to text that parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_ofctl::{
    format_flow_mod, format_group_mod, format_meter_mod, parse_flow, parse_group, parse_match,
    parse_meter,
};
use rvs_openflow::group::GroupModCommand;
use rvs_openflow::meter::MeterModCommand;
use rvs_openflow::{FlowModCommand, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for cmd in [FlowModCommand::Add, FlowModCommand::Modify, FlowModCommand::Delete] {
        match parse_flow(text, cmd, false) {
            Ok(fm) => {
                let printed = format_flow_mod(&fm);
                assert_eq!(parse_flow(&printed, cmd, false).as_ref(), Ok(&fm), "{printed}");
                let _ = Message::FlowMod(fm).encode(1);
            }
            Err(e) => {
                assert!(e.pos <= text.len());
                let _ = e.render(text);
            }
        }
    }
    let _ = parse_match(text);
    if let Ok(g) = parse_group(text, GroupModCommand::Add) {
        let printed = format_group_mod(&g);
        assert_eq!(parse_group(&printed, GroupModCommand::Add).as_ref(), Ok(&g), "{printed}");
    }
    if let Ok(m) = parse_meter(text, MeterModCommand::Add) {
        let printed = format_meter_mod(&m);
        assert_eq!(parse_meter(&printed, MeterModCommand::Add).as_ref(), Ok(&m), "{printed}");
    }
});
