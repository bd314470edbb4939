//! Property tests: generated matches, actions, instructions and flow-mods survive
//! encode → decode unchanged; decoding arbitrary or corrupted bytes never panics and
//! whatever decodes re-encodes to something that decodes to the same value.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use rvs_openflow::action::{decode_actions, encode_actions, Action};
use rvs_openflow::framer::Framer;
use rvs_openflow::group::{Bucket, GroupMod, GroupModCommand, GroupType, OFPG_MAX};
use rvs_openflow::instruction::{decode_instructions, encode_instructions, Instruction};
use rvs_openflow::matching::Match;
use rvs_openflow::message::{FlowMod, FlowModCommand, Message, OFP_NO_BUFFER};
use rvs_openflow::multipart::{FlowStats, MultipartReply, MultipartReplyBody, OFPMPF_MORE};
use rvs_openflow::oxm::{Masked, OxmField as F, OFPVID_PRESENT};
use rvs_openflow::PortNo;

// ----- value strategies -----------------------------------------------------------

fn bits_u64(bits: u32) -> impl Strategy<Value = u64> {
    any::<u64>().prop_map(move |v| {
        if bits >= 64 {
            v
        } else {
            v & ((1u64 << bits) - 1)
        }
    })
}

/// A masked value of `bits` significant bits, with value bits only where the mask is set.
fn masked_bits(bits: u32) -> impl Strategy<Value = Masked<u64>> {
    (bits_u64(bits), option::of(bits_u64(bits))).prop_map(|(v, m)| match m {
        Some(m) => Masked::new(v & m, m),
        None => Masked::exact(v),
    })
}

fn mac() -> impl Strategy<Value = [u8; 6]> {
    any::<[u8; 6]>()
}

fn masked_mac() -> impl Strategy<Value = Masked<[u8; 6]>> {
    (mac(), option::of(mac())).prop_map(|(v, m)| match m {
        Some(m) => Masked::new(std::array::from_fn(|i| v[i] & m[i]), m),
        None => Masked::exact(v),
    })
}

fn masked_v4() -> impl Strategy<Value = Masked<Ipv4Addr>> {
    masked_bits(32).prop_map(|m| Masked {
        value: Ipv4Addr::from(m.value as u32),
        mask: m.mask.map(|x| Ipv4Addr::from(x as u32)),
    })
}

fn masked_v6() -> impl Strategy<Value = Masked<Ipv6Addr>> {
    (any::<u128>(), option::of(any::<u128>())).prop_map(|(v, m)| match m {
        Some(m) => Masked::new(Ipv6Addr::from(v & m), Ipv6Addr::from(m)),
        None => Masked::exact(Ipv6Addr::from(v)),
    })
}

fn port() -> impl Strategy<Value = PortNo> {
    prop_oneof![
        (1u32..=0xffff_ff00).prop_map(PortNo),
        (0xffff_fff8u32..=0xffff_fffe).prop_map(PortNo),
    ]
}

// ----- match ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum L3 {
    None,
    Ipv4,
    Ipv6,
    Arp,
    Mpls,
    Pbb,
}

#[derive(Debug, Clone, Copy)]
enum L4 {
    None,
    Tcp,
    Udp,
    Sctp,
    Icmp,
}

fn l3() -> impl Strategy<Value = L3> {
    prop_oneof![
        Just(L3::None),
        Just(L3::Ipv4),
        Just(L3::Ipv6),
        Just(L3::Arp),
        Just(L3::Mpls),
        Just(L3::Pbb)
    ]
}

fn l4() -> impl Strategy<Value = L4> {
    prop_oneof![
        Just(L4::None),
        Just(L4::Tcp),
        Just(L4::Udp),
        Just(L4::Sctp),
        Just(L4::Icmp)
    ]
}

/// Fields that have no prerequisite (or only in_port / VLAN presence).
fn l2_fields() -> BoxedStrategy<Vec<F>> {
    (
        option::of(port()),
        option::of(port()),
        option::of(masked_bits(64)),
        option::of(masked_mac()),
        option::of(masked_mac()),
        option::of((0u16..0x1000, any::<bool>(), 0u8..8)),
        option::of(masked_bits(64)),
    )
        .prop_map(|(in_port, phy, meta, dst, src, vlan, tun)| {
            let mut f = Vec::new();
            if let Some(p) = in_port {
                f.push(F::InPort(p));
                if let Some(phy) = phy {
                    f.push(F::InPhyPort(phy));
                }
            }
            if let Some(m) = meta {
                f.push(F::Metadata(m));
            }
            if let Some(m) = dst {
                f.push(F::EthDst(m));
            }
            if let Some(m) = src {
                f.push(F::EthSrc(m));
            }
            if let Some((vid, with_pcp, pcp)) = vlan {
                f.push(F::VlanVid(Masked::exact(OFPVID_PRESENT | vid)));
                if with_pcp {
                    f.push(F::VlanPcp(pcp));
                }
            }
            if let Some(t) = tun {
                f.push(F::TunnelId(t));
            }
            f
        })
        .boxed()
}

#[allow(clippy::type_complexity)]
fn upper_fields() -> BoxedStrategy<Vec<F>> {
    (
        l3(),
        l4(),
        (any::<u8>(), 0u8..64, 0u8..4, any::<bool>(), any::<bool>()),
        (
            masked_v4(),
            masked_v4(),
            masked_v6(),
            masked_v6(),
            masked_bits(20),
        ),
        (any::<u16>(), any::<u16>(), any::<u8>(), any::<u8>()),
        (
            prop_oneof![Just(0u8), Just(135), Just(136)],
            any::<[u8; 16]>(),
            mac(),
        ),
        (
            masked_mac(),
            masked_mac(),
            any::<u16>(),
            0u32..0x10_0000,
            0u8..8,
            0u8..2,
        ),
        (masked_bits(24), masked_bits(9)),
    )
        .prop_map(
            |(
                l3,
                l4,
                (proto, dscp, ecn, with_tos, pick),
                (v4s, v4d, v6s, v6d, fl),
                (sp, dp, it, ic),
                (ndt, target, ll),
                (sha, tha, arp_op, label, tc, bos),
                (isid, exthdr),
            )| {
                let mut f = Vec::new();
                let ip = |f: &mut Vec<F>, eth: u16| {
                    f.push(F::EthType(eth));
                    if with_tos {
                        f.push(F::IpDscp(dscp));
                        f.push(F::IpEcn(ecn));
                    }
                };
                match l3 {
                    L3::None => return f,
                    L3::Ipv4 => {
                        ip(&mut f, 0x0800);
                        f.push(F::Ipv4Src(v4s));
                        if pick {
                            f.push(F::Ipv4Dst(v4d));
                        }
                    }
                    L3::Ipv6 => {
                        ip(&mut f, 0x86dd);
                        f.push(F::Ipv6Src(v6s));
                        f.push(F::Ipv6Dst(v6d));
                        f.push(F::Ipv6Flabel(Masked {
                            value: fl.value as u32,
                            mask: fl.mask.map(|m| m as u32),
                        }));
                        if pick {
                            f.push(F::Ipv6Exthdr(Masked {
                                value: exthdr.value as u16,
                                mask: exthdr.mask.map(|m| m as u16),
                            }));
                        }
                    }
                    L3::Arp => {
                        f.push(F::EthType(0x0806));
                        f.push(F::ArpOp(arp_op));
                        f.push(F::ArpSpa(v4s));
                        f.push(F::ArpTpa(v4d));
                        f.push(F::ArpSha(sha));
                        f.push(F::ArpTha(tha));
                        return f;
                    }
                    L3::Mpls => {
                        f.push(F::EthType(if pick { 0x8847 } else { 0x8848 }));
                        f.push(F::MplsLabel(label));
                        f.push(F::MplsTc(tc));
                        f.push(F::MplsBos(bos));
                        return f;
                    }
                    L3::Pbb => {
                        f.push(F::EthType(0x88e7));
                        f.push(F::PbbIsid(Masked {
                            value: isid.value as u32,
                            mask: isid.mask.map(|m| m as u32),
                        }));
                        return f;
                    }
                }
                let v6 = matches!(l3, L3::Ipv6);
                match l4 {
                    L4::None => {
                        f.push(F::IpProto(proto));
                    }
                    L4::Tcp => {
                        f.push(F::IpProto(6));
                        f.push(F::TcpSrc(sp));
                        f.push(F::TcpDst(dp));
                    }
                    L4::Udp => {
                        f.push(F::IpProto(17));
                        f.push(F::UdpSrc(sp));
                        f.push(F::UdpDst(dp));
                    }
                    L4::Sctp => {
                        f.push(F::IpProto(132));
                        f.push(F::SctpSrc(sp));
                        f.push(F::SctpDst(dp));
                    }
                    L4::Icmp if !v6 => {
                        f.push(F::IpProto(1));
                        f.push(F::Icmpv4Type(it));
                        f.push(F::Icmpv4Code(ic));
                    }
                    L4::Icmp => {
                        f.push(F::IpProto(58));
                        f.push(F::Icmpv6Code(ic));
                        if ndt == 0 {
                            f.push(F::Icmpv6Type(it));
                        } else {
                            f.push(F::Icmpv6Type(ndt));
                            f.push(F::Ipv6NdTarget(Ipv6Addr::from(target)));
                            f.push(if ndt == 135 {
                                F::Ipv6NdSll(ll)
                            } else {
                                F::Ipv6NdTll(ll)
                            });
                        }
                    }
                }
                f
            },
        )
        .boxed()
}

/// A valid match: consistent protocol stack, fields in a shuffled order.
fn a_match() -> BoxedStrategy<Match> {
    (l2_fields(), upper_fields())
        .prop_flat_map(|(mut a, b)| {
            a.extend(b);
            Just(a).prop_shuffle()
        })
        .prop_map(|fields| Match { fields })
        .boxed()
}

// ----- actions and instructions ---------------------------------------------------

/// A field valid in a set-field action (no mask, value in range).
fn set_field() -> BoxedStrategy<F> {
    (l2_fields(), upper_fields())
        .prop_map(|(mut a, b)| {
            a.extend(b);
            a
        })
        .prop_filter("non-empty", |v| !v.is_empty())
        .prop_flat_map(proptest::sample::select)
        .prop_map(strip_mask)
        .boxed()
}

fn strip_mask(f: F) -> F {
    fn s<T>(m: Masked<T>) -> Masked<T> {
        Masked::exact(m.value)
    }
    match f {
        F::Metadata(m) => F::Metadata(s(m)),
        F::EthDst(m) => F::EthDst(s(m)),
        F::EthSrc(m) => F::EthSrc(s(m)),
        F::VlanVid(m) => F::VlanVid(s(m)),
        F::Ipv4Src(m) => F::Ipv4Src(s(m)),
        F::Ipv4Dst(m) => F::Ipv4Dst(s(m)),
        F::ArpSpa(m) => F::ArpSpa(s(m)),
        F::ArpTpa(m) => F::ArpTpa(s(m)),
        F::ArpSha(m) => F::ArpSha(s(m)),
        F::ArpTha(m) => F::ArpTha(s(m)),
        F::Ipv6Src(m) => F::Ipv6Src(s(m)),
        F::Ipv6Dst(m) => F::Ipv6Dst(s(m)),
        F::Ipv6Flabel(m) => F::Ipv6Flabel(s(m)),
        F::PbbIsid(m) => F::PbbIsid(s(m)),
        F::TunnelId(m) => F::TunnelId(s(m)),
        F::Ipv6Exthdr(m) => F::Ipv6Exthdr(s(m)),
        other => other,
    }
}

fn action() -> BoxedStrategy<Action> {
    prop_oneof![
        (port(), any::<u16>()).prop_map(|(port, max_len)| Action::Output { port, max_len }),
        Just(Action::CopyTtlOut),
        Just(Action::CopyTtlIn),
        any::<u8>().prop_map(Action::SetMplsTtl),
        Just(Action::DecMplsTtl),
        prop_oneof![Just(0x8100u16), Just(0x88a8)].prop_map(Action::PushVlan),
        Just(Action::PopVlan),
        prop_oneof![Just(0x8847u16), Just(0x8848)].prop_map(Action::PushMpls),
        any::<u16>().prop_map(Action::PopMpls),
        any::<u32>().prop_map(Action::SetQueue),
        (0..=OFPG_MAX).prop_map(Action::Group),
        any::<u8>().prop_map(Action::SetNwTtl),
        Just(Action::DecNwTtl),
        set_field().prop_map(Action::SetField),
        Just(Action::PushPbb(0x88e7)),
        Just(Action::PopPbb),
        (
            any::<u32>(),
            (0usize..4).prop_flat_map(|n| vec(any::<u8>(), n * 8))
        )
            .prop_map(|(experimenter, data)| Action::Experimenter { experimenter, data }),
    ]
    .boxed()
}

fn actions() -> BoxedStrategy<Vec<Action>> {
    vec(action(), 0..6).boxed()
}

/// An instruction set for a flow in `table`: at most one of each type.
fn instructions(table: u8) -> BoxedStrategy<Vec<Instruction>> {
    (
        option::of((table.saturating_add(1)..=0xfe).prop_filter("forward", move |t| *t > table)),
        option::of((any::<u64>(), any::<u64>())),
        option::of(actions()),
        option::of(actions()),
        any::<bool>(),
        option::of(1u32..=0xffff_0000),
        option::of((
            any::<u32>(),
            (0usize..3).prop_flat_map(|n| vec(any::<u8>(), n * 8)),
        )),
    )
        .prop_map(|(goto, wm, write, apply, clear, meter, exp)| {
            let mut v = Vec::new();
            if let Some(m) = meter {
                v.push(Instruction::Meter(m));
            }
            if let Some(a) = apply {
                v.push(Instruction::ApplyActions(a));
            }
            if clear {
                v.push(Instruction::ClearActions);
            }
            if let Some(a) = write {
                v.push(Instruction::WriteActions(a));
            }
            if let Some((metadata, mask)) = wm {
                v.push(Instruction::WriteMetadata { metadata, mask });
            }
            if let Some(t) = goto {
                v.push(Instruction::GotoTable(t));
            }
            if let Some((experimenter, data)) = exp {
                v.push(Instruction::Experimenter { experimenter, data });
            }
            v
        })
        .boxed()
}

fn command() -> impl Strategy<Value = FlowModCommand> {
    prop_oneof![
        Just(FlowModCommand::Add),
        Just(FlowModCommand::Modify),
        Just(FlowModCommand::ModifyStrict),
        Just(FlowModCommand::Delete),
        Just(FlowModCommand::DeleteStrict),
    ]
}

fn flow_mod() -> BoxedStrategy<FlowMod> {
    (command(), 0u8..=0xfd)
        .prop_flat_map(|(command, table_id)| {
            (
                Just(command),
                Just(table_id),
                (
                    any::<u64>(),
                    any::<u64>(),
                    any::<u16>(),
                    any::<u16>(),
                    any::<u16>(),
                ),
                (
                    prop_oneof![Just(OFP_NO_BUFFER), any::<u32>()],
                    any::<u32>(),
                    any::<u32>(),
                    0u16..0x20,
                ),
                a_match(),
                instructions(table_id),
            )
        })
        .prop_map(
            |(
                command,
                table_id,
                (cookie, cookie_mask, idle, hard, prio),
                (buffer_id, out_port, out_group, flags),
                match_,
                instructions,
            )| FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command,
                idle_timeout: idle,
                hard_timeout: hard,
                priority: prio,
                buffer_id,
                out_port: PortNo(out_port),
                out_group,
                flags,
                match_,
                instructions,
            },
        )
        .boxed()
}

fn group_mod() -> BoxedStrategy<GroupMod> {
    (
        prop_oneof![
            Just(GroupModCommand::Add),
            Just(GroupModCommand::Modify),
            Just(GroupModCommand::Delete)
        ],
        prop_oneof![
            Just(GroupType::All),
            Just(GroupType::Select),
            Just(GroupType::Indirect),
            Just(GroupType::FastFailover)
        ],
        0..=OFPG_MAX,
        vec(
            (any::<u16>(), any::<u32>(), any::<u32>(), actions()).prop_map(
                |(weight, watch_port, watch_group, actions)| Bucket {
                    weight,
                    watch_port: PortNo(watch_port),
                    watch_group,
                    actions,
                },
            ),
            0..4,
        ),
    )
        .prop_map(|(command, group_type, group_id, buckets)| GroupMod {
            command,
            group_type,
            group_id,
            buckets,
        })
        .boxed()
}

/// Decode; if it decodes, re-encode and decode again: same value. Never panics.
fn check_bytes(bytes: &[u8]) {
    if let Ok((hdr, msg)) = Message::decode(bytes) {
        let again = msg.encode(hdr.xid).expect("decoded message re-encodes");
        let (hdr2, msg2) = Message::decode(&again).expect("re-encoded message decodes");
        assert_eq!(msg2, msg);
        assert_eq!(hdr2.xid, hdr.xid);
        assert_eq!(msg2.encode(hdr.xid).expect("encode"), again);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn match_round_trip(m in a_match()) {
        prop_assert_eq!(m.validate(), Ok(()));
        let mut bytes = Vec::new();
        m.encode(&mut bytes);
        prop_assert_eq!(bytes.len() % 8, 0);
        prop_assert_eq!(bytes.len(), m.padded_len());
        prop_assert_eq!(Match::from_bytes(&bytes), Ok(m));
    }

    #[test]
    fn actions_round_trip(a in actions()) {
        let mut bytes = Vec::new();
        encode_actions(&a, &mut bytes);
        prop_assert_eq!(bytes.len(), rvs_openflow::action::actions_len(&a));
        prop_assert_eq!(decode_actions(&bytes), Ok(a));
    }

    #[test]
    fn instructions_round_trip(i in instructions(0)) {
        let mut bytes = Vec::new();
        encode_instructions(&i, &mut bytes);
        prop_assert_eq!(
            bytes.len(),
            i.iter().map(Instruction::wire_len).sum::<usize>()
        );
        prop_assert_eq!(decode_instructions(&bytes), Ok(i));
    }

    #[test]
    fn flow_mod_round_trip(fm in flow_mod(), xid in any::<u32>()) {
        let msg = Message::FlowMod(fm);
        let bytes = msg.encode(xid).expect("fits");
        let (hdr, back) = Message::decode(&bytes).expect("decodes");
        prop_assert_eq!(hdr.xid, xid);
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(back.encode(xid).expect("fits"), bytes);
    }

    #[test]
    fn group_mod_round_trip(gm in group_mod()) {
        let msg = Message::GroupMod(gm);
        let bytes = msg.encode(7).expect("fits");
        prop_assert_eq!(Message::decode(&bytes).map(|(_, m)| m), Ok(msg));
    }

    /// Corrupting a valid message anywhere never panics the decoder.
    #[test]
    fn corrupted_flow_mods_never_panic(
        fm in flow_mod(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = Message::FlowMod(fm).encode(1).expect("fits");
        for (i, b) in edits {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        check_bytes(&bytes);
        // Also with the header length fixed up so the body parsers see the damage.
        let len = bytes.len() as u16;
        bytes[2..4].copy_from_slice(&len.to_be_bytes());
        bytes[0] = 4;
        check_bytes(&bytes);
    }

    /// Arbitrary bodies behind a valid header, for every message type.
    #[test]
    fn arbitrary_bodies_never_panic(t in 0u8..32, body in vec(any::<u8>(), 0..200)) {
        let mut bytes = vec![4, t, 0, 0, 0, 0, 0, 1];
        bytes.extend_from_slice(&body);
        let len = bytes.len() as u16;
        bytes[2..4].copy_from_slice(&len.to_be_bytes());
        check_bytes(&bytes);
    }

    /// However the stream is cut, the framer returns the same messages.
    #[test]
    fn framer_reassembles(fms in vec(flow_mod(), 1..4), cuts in vec(1usize..64, 1..20)) {
        let msgs: Vec<Vec<u8>> = fms
            .into_iter()
            .map(|fm| Message::FlowMod(fm).encode(3).expect("fits"))
            .collect();
        let stream = msgs.concat();
        let mut framer = Framer::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut cut = cuts.iter().cycle();
        while pos < stream.len() {
            let n = (*cut.next().expect("cycle")).min(stream.len() - pos);
            framer.push(&stream[pos..pos + n]);
            pos += n;
            while let Some(frame) = framer.next_frame().expect("valid stream") {
                got.push(frame.to_vec());
            }
        }
        prop_assert_eq!(got, msgs);
    }
}

#[test]
fn multipart_reply_split() {
    // Enough flows to need several 64 KiB messages.
    let flow = FlowStats {
        match_: Match::new()
            .with(F::EthType(0x86dd))
            .with(F::Ipv6Src(Masked::exact(Ipv6Addr::LOCALHOST))),
        instructions: vec![Instruction::ApplyActions(vec![
            Action::output(PortNo(1));
            20
        ])],
        ..FlowStats::default()
    };
    let flows: Vec<FlowStats> = (0..1000)
        .map(|i| FlowStats {
            cookie: i,
            ..flow.clone()
        })
        .collect();
    let reply = MultipartReply::new(MultipartReplyBody::Flow(flows.clone()));
    assert!(Message::MultipartReply(reply.clone()).encode(9).is_err());
    let parts = reply.encode_split(9).expect("split");
    assert!(parts.len() > 1);
    let mut back = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        assert!(p.len() <= 65535);
        let (hdr, msg) = Message::decode(p).expect("part decodes");
        assert_eq!(hdr.xid, 9);
        let Message::MultipartReply(r) = msg else {
            panic!("not a multipart reply")
        };
        assert_eq!(r.flags & OFPMPF_MORE != 0, i + 1 < parts.len());
        let MultipartReplyBody::Flow(f) = r.body else {
            panic!("not flow stats")
        };
        back.extend(f);
    }
    assert_eq!(back, flows);
    // A small reply is one message, identical to the plain encoding.
    let small = MultipartReply::new(MultipartReplyBody::Flow(flows[..2].to_vec()));
    assert_eq!(
        small.encode_split(1).expect("split"),
        vec![Message::MultipartReply(small).encode(1).expect("fits")]
    );
}
