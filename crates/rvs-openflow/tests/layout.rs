//! Byte layouts that `ovs-ofctl ofp-print` cannot check (Open vSwitch does not implement
//! them: `in_phy_port`, `pbb_isid`, `ipv6_exthdr`, copy-TTL and PBB actions, unknown
//! experimenters), written out by hand from the OpenFlow 1.3 structure definitions.

use std::net::Ipv6Addr;

use rvs_openflow::action::{decode_actions, encode_actions, Action};
use rvs_openflow::error::{ErrorCode, ErrorMsg};
use rvs_openflow::instruction::{decode_instructions, encode_instructions, Instruction};
use rvs_openflow::matching::Match;
use rvs_openflow::message::{Experimenter, Message};
use rvs_openflow::meter::{MeterBand, MeterMod, MeterModCommand};
use rvs_openflow::multipart::*;
use rvs_openflow::oxm::{ipv6_exthdr, Masked, OxmField as F};
use rvs_openflow::{ActionId, FixedStr, InstructionId, PortNo};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|t| u8::from_str_radix(t, 16).expect("hex"))
        .collect()
}

#[track_caller]
fn check_match(m: Match, expect: &str) {
    let mut out = Vec::new();
    m.encode(&mut out);
    assert_eq!(out, hex(expect));
    assert_eq!(Match::from_bytes(&out), Ok(m));
}

#[track_caller]
fn check_actions(a: Vec<Action>, expect: &str) {
    let mut out = Vec::new();
    encode_actions(&a, &mut out);
    assert_eq!(out, hex(expect));
    assert_eq!(decode_actions(&out), Ok(a));
}

#[track_caller]
fn check_message(m: Message, xid: u32, expect: &str) {
    let out = m.encode(xid).expect("encode");
    assert_eq!(out, hex(expect));
    assert_eq!(Message::decode(&out).map(|(_, m)| m), Ok(m));
}

#[test]
fn oxm_fields_without_ovs_support() {
    // ofp_match: type=1, length=4+8+8, in_port=5, in_phy_port=5, padded to 24.
    check_match(
        Match::new()
            .with(F::InPort(PortNo(5)))
            .with(F::InPhyPort(PortNo(5))),
        "00 01 00 14  80 00 00 04 00 00 00 05  80 00 02 04 00 00 00 05  00 00 00 00",
    );
    // pbb_isid (field 37, 3 bytes) exact and masked, after eth_type=0x88e7.
    check_match(
        Match::new()
            .with(F::EthType(0x88e7))
            .with(F::PbbIsid(Masked::exact(0x12_3456))),
        "00 01 00 11  80 00 0a 02 88 e7  80 00 4a 03 12 34 56  00 00 00 00 00 00 00",
    );
    check_match(
        Match::new()
            .with(F::EthType(0x88e7))
            .with(F::PbbIsid(Masked::new(0x00_ab00, 0x00_ff00))),
        "00 01 00 14  80 00 0a 02 88 e7  80 00 4b 06 00 ab 00 00 ff 00  00 00 00 00",
    );
    // ipv6_exthdr (field 39, 2 bytes, masked).
    check_match(
        Match::new()
            .with(F::EthType(0x86dd))
            .with(F::Ipv6Exthdr(Masked::new(
                ipv6_exthdr::FRAG,
                ipv6_exthdr::FRAG | ipv6_exthdr::UNSEQ,
            ))),
        "00 01 00 12  80 00 0a 02 86 dd  80 00 4f 04 00 10 01 10  00 00 00 00 00 00",
    );
}

#[test]
fn actions_without_ovs_support() {
    check_actions(
        vec![
            Action::CopyTtlOut,
            Action::CopyTtlIn,
            Action::PushPbb(0x88e7),
            Action::PopPbb,
        ],
        "00 0b 00 08 00 00 00 00  00 0c 00 08 00 00 00 00
         00 1a 00 08 88 e7 00 00  00 1b 00 08 00 00 00 00",
    );
    // Experimenter action: header, experimenter id, 8 bytes of data.
    check_actions(
        vec![Action::Experimenter {
            experimenter: 0x00ab_cdef,
            data: vec![1, 2, 3, 4, 5, 6, 7, 8],
        }],
        "ff ff 00 10 00 ab cd ef 01 02 03 04 05 06 07 08",
    );
    // Set-field padding: 4 + 4 + 1 = 9 -> 16; 4 + 4 + 16 = 24 -> 24.
    check_actions(
        vec![
            Action::SetField(F::MplsTc(3)),
            Action::SetField(F::Ipv6NdTarget(Ipv6Addr::LOCALHOST)),
        ],
        "00 19 00 10 80 00 46 01 03 00 00 00 00 00 00 00
         00 19 00 18 80 00 3e 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01",
    );
}

#[test]
fn experimenter_instruction() {
    let insts = vec![Instruction::Experimenter {
        experimenter: 0x1234,
        data: vec![],
    }];
    let mut out = Vec::new();
    encode_instructions(&insts, &mut out);
    assert_eq!(out, hex("ff ff 00 08 00 00 12 34"));
    assert_eq!(decode_instructions(&out), Ok(insts));
}

#[test]
fn experimenter_messages() {
    check_message(
        Message::Experimenter(Experimenter {
            experimenter: 0x1234,
            exp_type: 5,
            data: vec![0xde, 0xad, 0xbe, 0xef],
        }),
        1,
        "04 04 00 14 00 00 00 01  00 00 12 34 00 00 00 05  de ad be ef",
    );
    check_message(
        Message::Error(ErrorMsg {
            code: ErrorCode::Experimenter {
                exp_type: 7,
                experimenter: 0x00d0_f0f0,
            },
            data: vec![9],
        }),
        2,
        "04 01 00 11 00 00 00 02  ff ff 00 07 00 d0 f0 f0 09",
    );
    check_message(
        Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Experimenter {
            experimenter: 0x1234,
            exp_type: 1,
            data: vec![0xaa],
        })),
        3,
        "04 12 00 19 00 00 00 03  ff ff 00 00 00 00 00 00  00 00 12 34 00 00 00 01 aa",
    );
    check_message(
        Message::MeterMod(MeterMod {
            command: MeterModCommand::Add,
            flags: 1,
            meter_id: 1,
            bands: vec![MeterBand::Experimenter {
                rate: 100,
                burst_size: 10,
                experimenter: 0x1234,
                data: vec![],
            }],
        }),
        4,
        "04 1d 00 20 00 00 00 04  00 00 00 01 00 00 00 01
         ff ff 00 10 00 00 00 64 00 00 00 0a 00 00 12 34",
    );
}

#[test]
fn table_feature_experimenter_and_ids() {
    let tf = TableFeatures {
        table_id: 2,
        name: FixedStr::new("t", 32),
        metadata_match: 0,
        metadata_write: 0,
        config: 0,
        max_entries: 1,
        properties: vec![
            TableFeatureProp::Experimenter {
                miss: true,
                experimenter: 0x1234,
                exp_type: 9,
                data: vec![0xaa, 0xbb],
            },
            TableFeatureProp::Instructions {
                miss: false,
                ids: vec![InstructionId {
                    instruction_type: 0xffff,
                    experimenter: Some(0x42),
                }],
            },
            TableFeatureProp::ApplyActions {
                miss: false,
                ids: vec![
                    ActionId::new(0),
                    ActionId {
                        action_type: 0xffff,
                        experimenter: Some(0x43),
                    },
                ],
            },
        ],
    };
    let m = Message::MultipartReply(MultipartReply::new(MultipartReplyBody::TableFeatures(
        vec![tf],
    )));
    let bytes = m.encode(5).expect("encode");
    // Properties after the 64-byte fixed part, each padded to 8 (length excludes padding).
    let props = &bytes[16 + 64..];
    assert_eq!(
        props,
        hex("ff ff 00 0e 00 00 12 34 00 00 00 09 aa bb 00 00
             00 00 00 0c ff ff 00 08 00 00 00 42 00 00 00 00
             00 06 00 10 00 00 00 04 ff ff 00 08 00 00 00 43")
    );
    assert_eq!(Message::decode(&bytes).map(|(_, d)| d), Ok(m));
}
