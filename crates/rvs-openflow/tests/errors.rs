//! Malformed messages: each must be refused with the error type/code the OpenFlow 1.3
//! specification names for the defect. Messages are built byte by byte here (not with
//! the crate's encoder) so the tests do not share the encoder's assumptions.

use rvs_openflow::error::*;
use rvs_openflow::hello::Hello;
use rvs_openflow::{negotiate_version, Message};

// ----- raw builders ---------------------------------------------------------------

fn msg_v(version: u8, t: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![version, t];
    m.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
    m.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn msg(t: u8, body: &[u8]) -> Vec<u8> {
    msg_v(4, t, body)
}

/// A basic-class OXM TLV.
fn oxm(field: u8, hasmask: bool, payload: &[u8]) -> Vec<u8> {
    oxm_class(0x8000, field, hasmask, payload)
}

fn oxm_class(class: u16, field: u8, hasmask: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = class.to_be_bytes().to_vec();
    v.push((field << 1) | u8::from(hasmask));
    v.push(payload.len() as u8);
    v.extend_from_slice(payload);
    v
}

fn eth_type(t: u16) -> Vec<u8> {
    oxm(5, false, &t.to_be_bytes())
}
fn ip_proto(p: u8) -> Vec<u8> {
    oxm(10, false, &[p])
}
fn tcp_dst(p: u16) -> Vec<u8> {
    oxm(14, false, &p.to_be_bytes())
}

/// `ofp_match` with the given TLVs, padded to 8.
fn match_of(tlvs: &[u8]) -> Vec<u8> {
    let len = 4 + tlvs.len();
    let mut v = vec![0, 1];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(tlvs);
    v.resize(len.div_ceil(8) * 8, 0);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// An action TLV with the given type; `len` is written as given.
fn action_len(t: u16, len: u16, body: &[u8]) -> Vec<u8> {
    let mut v = t.to_be_bytes().to_vec();
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn output(port: u32) -> Vec<u8> {
    let mut body = port.to_be_bytes().to_vec();
    body.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    action_len(0, 16, &body)
}

fn set_field(tlv: &[u8]) -> Vec<u8> {
    let len = (4 + tlv.len()).div_ceil(8) * 8;
    let mut v = action_len(25, len as u16, tlv);
    v.resize(len, 0);
    v
}

/// An instruction TLV.
fn inst_len(t: u16, len: u16, body: &[u8]) -> Vec<u8> {
    action_len(t, len, body)
}

fn apply_actions(actions: &[u8]) -> Vec<u8> {
    let mut body = vec![0; 4];
    body.extend_from_slice(actions);
    inst_len(4, (4 + body.len()) as u16, &body)
}

fn goto_table(t: u8) -> Vec<u8> {
    inst_len(1, 8, &[t, 0, 0, 0])
}

/// An `OFPT_FLOW_MOD`.
fn flow_mod(table: u8, command: u8, flags: u16, m: &[u8], insts: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0u64.to_be_bytes()); // cookie
    b.extend_from_slice(&0u64.to_be_bytes()); // cookie_mask
    b.push(table);
    b.push(command);
    b.extend_from_slice(&[0, 0, 0, 0]); // timeouts
    b.extend_from_slice(&100u16.to_be_bytes()); // priority
    b.extend_from_slice(&u32::MAX.to_be_bytes()); // buffer_id
    b.extend_from_slice(&u32::MAX.to_be_bytes()); // out_port
    b.extend_from_slice(&u32::MAX.to_be_bytes()); // out_group
    b.extend_from_slice(&flags.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(m);
    b.extend_from_slice(insts);
    msg(14, &b)
}

fn add_flow(m: &[u8], insts: &[u8]) -> Vec<u8> {
    flow_mod(0, 0, 0, m, insts)
}

fn add_flow_actions(actions: &[u8]) -> Vec<u8> {
    add_flow(&match_of(&[]), &apply_actions(actions))
}

#[track_caller]
fn expect(buf: &[u8], code: impl Into<ErrorCode>) {
    let code = code.into();
    match Message::decode(buf) {
        Ok((_, m)) => panic!("expected {code}, decoded {m:?}"),
        Err(e) => assert_eq!(e.code, code, "got {e}"),
    }
}

#[track_caller]
fn expect_ok(buf: &[u8]) {
    if let Err(e) = Message::decode(buf) {
        panic!("expected success, got {e}");
    }
}

// ----- header ---------------------------------------------------------------------

#[test]
fn header_errors() {
    expect(&[4, 0, 0, 8], BadRequestCode::BadLen); // truncated header
    expect(&[], BadRequestCode::BadLen);
    expect(&msg_v(1, 5, &[]), BadRequestCode::BadVersion); // 1.0 features request
    expect(&msg_v(5, 20, &[]), BadRequestCode::BadVersion); // 1.4 barrier
    let mut long = msg(20, &[]);
    long[3] = 16; // says 16, is 8
    expect(&long, BadRequestCode::BadLen);
    let mut short = msg(2, &[1, 2, 3, 4]);
    short[3] = 8; // says 8, is 12
    expect(&short, BadRequestCode::BadLen);
    let mut tiny = msg(2, &[]);
    tiny[3] = 4;
    expect(&tiny[..], BadRequestCode::BadLen);
    expect(&msg(30, &[]), BadRequestCode::BadType);
    expect(&msg(255, &[]), BadRequestCode::BadType);
    // Fixed-size bodies must be exact.
    expect(&msg(20, &[0; 8]), BadRequestCode::BadLen); // barrier with a body
    expect(&msg(5, &[0]), BadRequestCode::BadLen); // features request with a body
    expect(&msg(9, &[0, 0]), BadRequestCode::BadLen); // short set-config
    expect(&msg(24, &[0; 12]), BadRequestCode::BadLen); // short role request
    expect(&msg(28, &[0; 28]), BadRequestCode::BadLen); // short set-async
    expect(&msg(16, &[0; 36]), BadRequestCode::BadLen); // short port-mod
    expect(&msg(17, &[0; 9]), BadRequestCode::BadLen); // long table-mod
                                                       // Hello and error are accepted in any version (negotiation needs them).
    expect_ok(&msg_v(1, 0, &[]));
    expect_ok(&msg_v(6, 1, &[0, 0, 0, 0]));
}

#[test]
fn hello_negotiation() {
    // A 1.0-only peer: plain hello with version 1.
    let (h, m) = Message::decode(&msg_v(1, 0, &[])).expect("hello decodes");
    let Message::Hello(hello) = m else {
        panic!("not a hello")
    };
    let err = negotiate_version(h.version, &hello).expect_err("must fail");
    assert_eq!(
        err.code,
        ErrorCode::HelloFailed(HelloFailedCode::Incompatible)
    );
    // A 1.0 hello with arbitrary body bytes is still a hello (1.0 says: ignore them).
    expect_ok(&msg_v(1, 0, &[1, 2, 3]));
    // Bitmap listing only 1.0 and 1.2, sent with header version 3.
    let body = [0, 1, 0, 8, 0, 0, 0, 0b0000_1010];
    let (h, m) = Message::decode(&msg_v(3, 0, &body)).expect("hello decodes");
    let Message::Hello(hello) = m else {
        panic!("not a hello")
    };
    assert_eq!(hello.bitmap_versions(), Some(vec![1, 3]));
    assert!(negotiate_version(h.version, &hello).is_err());
    // Bitmap listing 1.3..1.5 with header version 6: we pick 1.3.
    let body = [0, 1, 0, 8, 0, 0, 0, 0b0111_0000];
    let (h, m) = Message::decode(&msg_v(6, 0, &body)).expect("hello decodes");
    let Message::Hello(hello) = m else {
        panic!("not a hello")
    };
    assert_eq!(negotiate_version(h.version, &hello), Ok(4));
    // Unknown elements are ignored.
    let body = [0, 9, 0, 6, 0xaa, 0xbb, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0x10];
    let (_, m) = Message::decode(&msg(0, &body)).expect("hello decodes");
    assert_eq!(
        m,
        Message::Hello(Hello {
            elements: vec![
                rvs_openflow::HelloElement::Unknown {
                    element_type: 9,
                    data: vec![0xaa, 0xbb]
                },
                rvs_openflow::HelloElement::VersionBitmap(vec![0x10]),
            ]
        })
    );
    // A 1.3 hello with a malformed element.
    expect(&msg(0, &[0, 1, 0, 2]), BadRequestCode::BadLen);
    expect(&msg(0, &[0, 1, 0, 7, 0, 0, 0, 0]), BadRequestCode::BadLen);
}

// ----- match ----------------------------------------------------------------------

#[test]
fn match_structure_errors() {
    // OXM length wrong for the field (eth_type with 3 bytes).
    let m = match_of(&oxm(5, false, &[8, 0, 0]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadLen);
    // TLV running past the match length.
    let mut m = match_of(&eth_type(0x0800));
    m[3] = 7; // match length 7: TLV header says 2 bytes of value but only 1 is inside
    expect(&add_flow(&m, &[]), BadMatchCode::BadLen);
    // Match length below its own header.
    expect(
        &add_flow(&[0, 1, 0, 2, 0, 0, 0, 0], &[]),
        BadMatchCode::BadLen,
    );
    // Match longer than the message.
    expect(
        &add_flow(&[0, 1, 0, 40, 0, 0, 0, 0], &[]),
        BadMatchCode::BadLen,
    );
    // OpenFlow 1.1 standard match.
    expect(
        &add_flow(&[0, 0, 0, 4, 0, 0, 0, 0], &[]),
        BadMatchCode::BadType,
    );
    // Unknown basic field and foreign classes.
    expect(
        &add_flow(&match_of(&oxm(40, false, &[0; 4])), &[]),
        BadMatchCode::BadField,
    );
    expect(
        &add_flow(&match_of(&oxm_class(0x0000, 0, false, &[0, 1])), &[]),
        BadMatchCode::BadField,
    );
    expect(
        &add_flow(&match_of(&oxm_class(0xffff, 1, false, &[0; 8])), &[]),
        BadMatchCode::BadField,
    );
}

#[test]
fn match_field_errors() {
    // Duplicate field.
    let m = match_of(&cat(&[&eth_type(0x0800), &eth_type(0x0800)]));
    expect(&add_flow(&m, &[]), BadMatchCode::DupField);
    // Mask on a field that is not maskable (eth_type/ffff).
    let m = match_of(&oxm(5, true, &[8, 0, 0xff, 0xff]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadMask);
    // tcp_dst with a mask.
    let m = match_of(&cat(&[
        &eth_type(0x0800),
        &ip_proto(6),
        &oxm(14, true, &[0, 80, 0xff, 0xff]),
    ]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadMask);
    // Value bits outside the mask: 10.0.0.1/255.0.0.0.
    let m = match_of(&cat(&[
        &eth_type(0x0800),
        &oxm(11, true, &[10, 0, 0, 1, 255, 0, 0, 0]),
    ]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadWildcards);
    // Values out of range.
    let vlan = oxm(6, false, &[0x10, 0x0a]);
    let m = match_of(&cat(&[&vlan, &oxm(7, false, &[8])]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadValue); // vlan_pcp 8
    let m = match_of(&oxm(6, false, &[0x20, 0x00]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadValue); // vlan_vid > 13 bits
    let m = match_of(&cat(&[&eth_type(0x0800), &oxm(8, false, &[64])]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadValue); // ip_dscp 64
    let m = match_of(&cat(&[
        &eth_type(0x8847),
        &oxm(34, false, &[0, 0x10, 0, 0]),
    ]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadValue); // mpls_label > 20 bits
                                                        // Mask bits beyond the field width.
    let m = match_of(&oxm(6, true, &[0x10, 0x00, 0xf0, 0x00]));
    expect(&add_flow(&m, &[]), BadMatchCode::BadMask);
}

#[test]
fn match_prerequisites() {
    let bad = BadMatchCode::BadPrereq;
    // tcp_dst with nothing else.
    expect(&add_flow(&match_of(&tcp_dst(80)), &[]), bad);
    // tcp_dst with ip_proto=6 but no eth_type (ip_proto's own prerequisite).
    expect(
        &add_flow(&match_of(&cat(&[&ip_proto(6), &tcp_dst(80)])), &[]),
        bad,
    );
    // tcp_dst with ip_proto=17.
    expect(
        &add_flow(
            &match_of(&cat(&[&eth_type(0x0800), &ip_proto(17), &tcp_dst(80)])),
            &[],
        ),
        bad,
    );
    // ipv4_src under eth_type=IPv6.
    expect(
        &add_flow(
            &match_of(&cat(&[&eth_type(0x86dd), &oxm(11, false, &[1, 2, 3, 4])])),
            &[],
        ),
        bad,
    );
    // vlan_pcp without vlan_vid, and with vlan_vid=OFPVID_NONE.
    expect(&add_flow(&match_of(&oxm(7, false, &[3])), &[]), bad);
    expect(
        &add_flow(
            &match_of(&cat(&[&oxm(6, false, &[0, 0]), &oxm(7, false, &[3])])),
            &[],
        ),
        bad,
    );
    // nd_sll needs icmpv6_type=135.
    let icmp6 = cat(&[&eth_type(0x86dd), &ip_proto(58), &oxm(29, false, &[136])]);
    expect(
        &add_flow(&match_of(&cat(&[&icmp6, &oxm(32, false, &[0; 6])])), &[]),
        bad,
    );
    // in_phy_port needs in_port.
    expect(
        &add_flow(&match_of(&oxm(1, false, &[0, 0, 0, 1])), &[]),
        bad,
    );
    // arp_op needs eth_type=ARP.
    expect(
        &add_flow(
            &match_of(&cat(&[&eth_type(0x0800), &oxm(21, false, &[0, 1])])),
            &[],
        ),
        bad,
    );
    // Satisfied prerequisites in any order are accepted.
    expect_ok(&add_flow(
        &match_of(&cat(&[&tcp_dst(80), &ip_proto(6), &eth_type(0x0800)])),
        &[],
    ));
    // vlan_pcp with vlan_vid=present/present is fine.
    expect_ok(&add_flow(
        &match_of(&cat(&[
            &oxm(6, true, &[0x10, 0, 0x10, 0]),
            &oxm(7, false, &[3]),
        ])),
        &[],
    ));
}

// ----- actions --------------------------------------------------------------------

#[test]
fn action_errors() {
    let code = |c: BadActionCode| ErrorCode::BadAction(c);
    // Output with the length of a short action.
    expect(
        &add_flow_actions(&action_len(0, 8, &[0, 0, 0, 1])),
        code(BadActionCode::BadLen),
    );
    // Length not a multiple of 8, zero, or past the instruction.
    expect(
        &add_flow_actions(&action_len(18, 12, &[0; 12])),
        code(BadActionCode::BadLen),
    );
    expect(
        &add_flow_actions(&action_len(18, 0, &[0; 4])),
        code(BadActionCode::BadLen),
    );
    expect(
        &add_flow_actions(&action_len(18, 16, &[0; 4])),
        code(BadActionCode::BadLen),
    );
    // Unknown types (OpenFlow 1.0/1.1 numbers, and unassigned).
    for t in [1u16, 13, 14, 28, 1000] {
        expect(
            &add_flow_actions(&action_len(t, 8, &[0; 4])),
            code(BadActionCode::BadType),
        );
    }
    // Output to port 0, to ANY, to an unnamed reserved number.
    for p in [0u32, 0xffff_ffff, 0xffff_ff01, 0xffff_fff7] {
        expect(
            &add_flow_actions(&output(p)),
            code(BadActionCode::BadOutPort),
        );
    }
    // Group action to a reserved group.
    expect(
        &add_flow_actions(&action_len(22, 8, &0xffff_fffcu32.to_be_bytes())),
        code(BadActionCode::BadOutGroup),
    );
    // push_vlan with a non-VLAN ethertype; push_mpls with IPv4.
    expect(
        &add_flow_actions(&action_len(17, 8, &[0x08, 0x00, 0, 0])),
        code(BadActionCode::BadArgument),
    );
    expect(
        &add_flow_actions(&action_len(19, 8, &[0x08, 0x00, 0, 0])),
        code(BadActionCode::BadArgument),
    );
    // Set-field: masked, unknown field, wrong OXM length, bad value, bad padding.
    expect(
        &add_flow_actions(&set_field(&oxm(3, true, &[0; 12]))),
        code(BadActionCode::BadSetArgument),
    );
    expect(
        &add_flow_actions(&set_field(&oxm(45, false, &[0; 4]))),
        code(BadActionCode::BadSetType),
    );
    expect(
        &add_flow_actions(&set_field(&oxm_class(0x0001, 0, false, &[0; 4]))),
        code(BadActionCode::BadSetType),
    );
    expect(
        &add_flow_actions(&set_field(&oxm(3, false, &[0; 5]))),
        code(BadActionCode::BadSetLen),
    );
    expect(
        &add_flow_actions(&set_field(&oxm(7, false, &[9]))),
        code(BadActionCode::BadSetArgument),
    );
    let mut padded = set_field(&oxm(5, false, &[8, 0]));
    padded.extend_from_slice(&[0; 8]);
    padded[3] = 24; // one block of padding too many
    expect(&add_flow_actions(&padded), code(BadActionCode::BadSetLen));
    // And the valid forms are accepted.
    expect_ok(&add_flow_actions(&output(0xffff_fffd)));
    expect_ok(&add_flow_actions(&set_field(&oxm(3, false, &[2; 6]))));
}

// ----- instructions ---------------------------------------------------------------

#[test]
fn instruction_errors() {
    let m = match_of(&[]);
    let code = |c: BadInstructionCode| ErrorCode::BadInstruction(c);
    for t in [0u16, 7, 99, 0xfffe] {
        expect(
            &add_flow(&m, &inst_len(t, 8, &[0; 4])),
            code(BadInstructionCode::UnknownInst),
        );
    }
    // goto_table with 16 bytes; write_metadata with 16; a length past the message.
    expect(
        &add_flow(&m, &inst_len(1, 16, &[1; 12])),
        code(BadInstructionCode::BadLen),
    );
    expect(
        &add_flow(&m, &inst_len(2, 16, &[0; 12])),
        code(BadInstructionCode::BadLen),
    );
    expect(
        &add_flow(&m, &inst_len(5, 16, &[0; 4])),
        code(BadInstructionCode::BadLen),
    );
    expect(
        &add_flow(&m, &inst_len(5, 4, &[])),
        code(BadInstructionCode::BadLen),
    );
    // goto_table backwards, to itself, and to OFPTT_ALL.
    expect(
        &flow_mod(3, 0, 0, &m, &goto_table(2)),
        code(BadInstructionCode::BadTableId),
    );
    expect(
        &flow_mod(3, 0, 0, &m, &goto_table(3)),
        code(BadInstructionCode::BadTableId),
    );
    expect(
        &add_flow(&m, &goto_table(0xff)),
        code(BadInstructionCode::BadTableId),
    );
    expect_ok(&flow_mod(3, 0, 0, &m, &goto_table(4)));
    // The same instruction twice.
    expect(
        &add_flow(&m, &cat(&[&goto_table(1), &goto_table(2)])),
        code(BadInstructionCode::UnsupInst),
    );
}

// ----- flow-mod, group-mod, meter-mod, others --------------------------------------

#[test]
fn flow_mod_errors() {
    let m = match_of(&[]);
    expect(&flow_mod(0, 5, 0, &m, &[]), FlowModFailedCode::BadCommand);
    expect(&flow_mod(0, 0, 0x20, &m, &[]), FlowModFailedCode::BadFlags);
    expect(
        &flow_mod(0xff, 0, 0, &m, &[]),
        FlowModFailedCode::BadTableId,
    );
    expect(
        &flow_mod(0xff, 1, 0, &m, &[]),
        FlowModFailedCode::BadTableId,
    );
    expect_ok(&flow_mod(0xff, 3, 0, &m, &[])); // delete from all tables
                                               // Truncated fixed part.
    let fm = flow_mod(0, 0, 0, &m, &[]);
    let body = &fm[8..30];
    expect(&msg(14, body), BadRequestCode::BadLen);
}

fn group_mod(command: u16, gtype: u8, id: u32, buckets: &[u8]) -> Vec<u8> {
    let mut b = command.to_be_bytes().to_vec();
    b.push(gtype);
    b.push(0);
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(buckets);
    msg(15, &b)
}

fn bucket(len: u16, actions: &[u8]) -> Vec<u8> {
    let mut b = len.to_be_bytes().to_vec();
    b.extend_from_slice(&[
        0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    b.extend_from_slice(actions);
    b
}

#[test]
fn group_mod_errors() {
    let good = bucket(32, &output(1));
    expect_ok(&group_mod(0, 0, 1, &good));
    expect(&group_mod(3, 0, 1, &good), GroupModFailedCode::BadCommand);
    expect(&group_mod(0, 4, 1, &good), GroupModFailedCode::BadType);
    expect(
        &group_mod(0, 0, 0xffff_fffc, &good),
        GroupModFailedCode::InvalidGroup,
    );
    expect_ok(&group_mod(2, 0, 0xffff_fffc, &[]));
    expect(
        &group_mod(0, 0, 1, &bucket(8, &[])),
        GroupModFailedCode::BadBucket,
    );
    expect(
        &group_mod(0, 0, 1, &bucket(48, &output(1))),
        GroupModFailedCode::BadBucket,
    );
    expect(
        &group_mod(0, 0, 1, &bucket(32, &output(0))),
        ErrorCode::BadAction(BadActionCode::BadOutPort),
    );
}

fn meter_mod(command: u16, flags: u16, id: u32, bands: &[u8]) -> Vec<u8> {
    let mut b = command.to_be_bytes().to_vec();
    b.extend_from_slice(&flags.to_be_bytes());
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(bands);
    msg(29, &b)
}

fn band(t: u16, len: u16) -> Vec<u8> {
    let mut b = t.to_be_bytes().to_vec();
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0x03, 0xe8, 0, 0, 0, 0x64, 0, 0, 0, 0]);
    b
}

#[test]
fn meter_mod_errors() {
    expect_ok(&meter_mod(0, 1, 1, &band(1, 16)));
    expect(
        &meter_mod(3, 1, 1, &band(1, 16)),
        MeterModFailedCode::BadCommand,
    );
    expect(
        &meter_mod(0, 0x10, 1, &band(1, 16)),
        MeterModFailedCode::BadFlags,
    );
    expect(
        &meter_mod(0, 1, 0, &band(1, 16)),
        MeterModFailedCode::InvalidMeter,
    );
    expect(
        &meter_mod(0, 1, 0xffff_0001, &band(1, 16)),
        MeterModFailedCode::InvalidMeter,
    );
    expect(
        &meter_mod(0, 1, 0xffff_ffff, &band(1, 16)),
        MeterModFailedCode::InvalidMeter,
    );
    expect_ok(&meter_mod(2, 0, 0xffff_ffff, &[]));
    expect(
        &meter_mod(0, 1, 1, &band(3, 16)),
        MeterModFailedCode::BadBand,
    );
    expect(
        &meter_mod(0, 1, 1, &band(1, 8)),
        MeterModFailedCode::BadBand,
    );
}

fn multipart(t: u16, body: &[u8]) -> Vec<u8> {
    let mut b = t.to_be_bytes().to_vec();
    b.extend_from_slice(&[0; 6]);
    b.extend_from_slice(body);
    msg(18, &b)
}

/// One `ofp_table_features` with the given raw properties.
fn table_features(table: u8, props: &[u8]) -> Vec<u8> {
    let len = 64 + props.len();
    let mut b = (len as u16).to_be_bytes().to_vec();
    b.push(table);
    b.extend_from_slice(&[0; 5]);
    b.extend_from_slice(&[0; 32]); // name
    b.extend_from_slice(&[0; 16]); // metadata match/write
    b.extend_from_slice(&[0; 4]); // config
    b.extend_from_slice(&100u32.to_be_bytes());
    b.extend_from_slice(props);
    b
}

#[test]
fn multipart_errors() {
    for t in [14u16, 100, 0x8000, 0xfffe] {
        expect(&multipart(t, &[]), BadRequestCode::BadMultipart);
    }
    expect(&multipart(0, &[0; 8]), BadRequestCode::BadLen); // desc with a body
    expect(&multipart(4, &[0; 4]), BadRequestCode::BadLen); // short port-stats
    expect_ok(&multipart(12, &[]));
    // Table features: next-tables property fine; unknown property types; bad lengths.
    let next_tables = [0, 2, 0, 6, 1, 2, 0, 0];
    expect_ok(&multipart(12, &table_features(0, &next_tables)));
    for t in [9u16, 11, 16, 0x1234] {
        let mut p = next_tables;
        p[0..2].copy_from_slice(&t.to_be_bytes());
        expect(
            &multipart(12, &table_features(0, &p)),
            TableFeaturesFailedCode::BadType,
        );
    }
    expect(
        &multipart(12, &table_features(0, &[0, 2, 0, 3, 0, 0, 0, 0])),
        TableFeaturesFailedCode::BadLen,
    );
    expect(
        &multipart(12, &table_features(0, &[0, 2, 0, 12, 0, 0, 0, 0])),
        TableFeaturesFailedCode::BadLen,
    );
    // Instruction ids must be 4 bytes each.
    expect(
        &multipart(12, &table_features(0, &[0, 0, 0, 8, 0, 1, 0, 8])),
        TableFeaturesFailedCode::BadLen,
    );
    let mut short = table_features(0, &[]);
    short[1] = 56;
    short.truncate(56);
    expect(&multipart(12, &short), TableFeaturesFailedCode::BadLen);
    expect(
        &multipart(12, &table_features(0xff, &[])),
        TableFeaturesFailedCode::BadTable,
    );
}

#[test]
fn other_message_errors() {
    // Role request with an unknown role.
    let mut role = 4u32.to_be_bytes().to_vec();
    role.extend_from_slice(&[0; 12]);
    expect(&msg(24, &role), RoleRequestFailedCode::BadRole);
    // Set-config: FRAG_MASK is not a mode; unknown bits; miss_send_len in the gap.
    expect(&msg(9, &[0, 3, 0, 128]), SwitchConfigFailedCode::BadFlags);
    expect(&msg(9, &[0, 4, 0, 128]), SwitchConfigFailedCode::BadFlags);
    expect(&msg(9, &[0, 0, 0xff, 0xf0]), SwitchConfigFailedCode::BadLen);
    expect_ok(&msg(9, &[0, 0, 0xff, 0xff]));
    expect_ok(&msg(9, &[0, 0, 0xff, 0xe5]));
    // Packet-out: in_port 0, and actions_len past the message.
    let po = |in_port: u32, actions_len: u16, rest: &[u8]| {
        let mut b = u32::MAX.to_be_bytes().to_vec();
        b.extend_from_slice(&in_port.to_be_bytes());
        b.extend_from_slice(&actions_len.to_be_bytes());
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(rest);
        msg(13, &b)
    };
    expect(&po(0, 16, &output(1)), BadRequestCode::BadPort);
    expect(&po(0xffff_fffb, 16, &output(1)), BadRequestCode::BadPort);
    expect(&po(1, 24, &output(2)), BadRequestCode::BadLen);
    expect(
        &po(1, 16, &output(0)),
        ErrorCode::BadAction(BadActionCode::BadOutPort),
    );
    expect_ok(&po(0xffff_fffd, 16, &output(1)));
    // Experimenter message shorter than its fixed part.
    expect(&msg(4, &[0, 0, 0x23, 0x20]), BadRequestCode::BadLen);
}

#[test]
fn error_reply_carries_64_bytes() {
    let fm = add_flow(&match_of(&tcp_dst(80)), &apply_actions(&output(1)));
    assert!(fm.len() > 64);
    let e = Message::decode(&fm).expect_err("bad prereq");
    let reply = e.to_error_msg(&fm);
    assert_eq!(reply.code, ErrorCode::BadMatch(BadMatchCode::BadPrereq));
    assert_eq!(reply.data, fm[..64]);
    let bytes = Message::Error(reply).encode(0x1234_5678).expect("encode");
    assert_eq!(&bytes[8..12], &[0, 4, 0, 9]);
    assert_eq!(bytes.len(), 12 + 64);
}

#[test]
fn error_code_names() {
    let e = ErrorCode::BadMatch(BadMatchCode::BadPrereq);
    assert_eq!(e.to_string(), "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ");
    assert_eq!(e.type_code(), (4, 9));
    assert_eq!(ErrorCode::from_raw(4, 9), e);
    assert_eq!(
        ErrorCode::from_raw(1, 13),
        ErrorCode::BadRequest(BadRequestCode::MultipartBufferOverflow)
    );
    assert_eq!(
        ErrorCode::from_raw(13, 6),
        ErrorCode::Other {
            err_type: 13,
            code: 6
        }
    );
}
