use super::*;
use rvs_openflow::error::ErrorCode;

const MS: u64 = 1_000_000;

fn mm(command: MeterModCommand, id: u32, flags: u16, bands: Vec<MeterBand>) -> MeterMod {
    MeterMod {
        command,
        flags,
        meter_id: id,
        bands,
    }
}

fn drop_band(rate: u32, burst_size: u32) -> MeterBand {
    MeterBand::Drop { rate, burst_size }
}

fn add(t: &mut MeterTable, id: u32, flags: u16, bands: Vec<MeterBand>) -> Result<(), OfError> {
    t.apply(&mm(MeterModCommand::Add, id, flags, bands), 0)
}

fn code(r: Result<(), OfError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code)
}

#[test]
fn error_codes() {
    use MeterModFailedCode as C;
    let kbps = meter_flags::KBPS;
    let mut t = MeterTable::new();
    add(&mut t, 1, kbps, vec![drop_band(10, 0)]).expect("add");
    let e = |c: C| Some(ErrorCode::from(c));
    assert_eq!(code(add(&mut t, 1, kbps, vec![])), e(C::MeterExists));
    assert_eq!(
        code(t.apply(&mm(MeterModCommand::Modify, 2, kbps, vec![]), 0)),
        e(C::UnknownMeter)
    );
    assert_eq!(code(add(&mut t, 0, kbps, vec![])), e(C::InvalidMeter));
    assert_eq!(
        code(add(&mut t, OFPM_MAX + 1, kbps, vec![])),
        e(C::InvalidMeter)
    );
    assert_eq!(code(add(&mut t, 2, 0x10, vec![])), e(C::BadFlags));
    assert_eq!(
        code(add(&mut t, 2, kbps | meter_flags::PKTPS, vec![])),
        e(C::BadFlags)
    );
    assert_eq!(
        code(add(&mut t, 2, kbps, vec![drop_band(0, 0)])),
        e(C::BadRate)
    );
    assert_eq!(
        code(add(
            &mut t,
            2,
            kbps | meter_flags::BURST,
            vec![drop_band(5, 0)]
        )),
        e(C::BadBurst)
    );
    let exp = MeterBand::Experimenter {
        rate: 1,
        burst_size: 0,
        experimenter: 7,
        data: vec![],
    };
    assert_eq!(code(add(&mut t, 2, kbps, vec![exp])), e(C::BadBand));
    let remark0 = MeterBand::DscpRemark {
        rate: 1,
        burst_size: 0,
        prec_level: 0,
    };
    assert_eq!(
        code(add(&mut t, 2, kbps, vec![remark0])),
        e(C::BadBandValue)
    );
    let many = vec![drop_band(1, 0); usize::from(MAX_BANDS) + 1];
    assert_eq!(code(add(&mut t, 2, kbps, many)), e(C::OutOfBands));
    assert_eq!(t.len(), 1, "failed adds install nothing");
    // Reserved meters are usable; delete of a missing meter is fine.
    add(&mut t, OFPM_CONTROLLER, kbps, vec![drop_band(1, 0)]).expect("controller meter");
    t.apply(&mm(MeterModCommand::Delete, 99, 0, vec![]), 0)
        .expect("delete missing");
    t.apply(&mm(MeterModCommand::Delete, OFPM_ALL, 0, vec![]), 0)
        .expect("delete all");
    assert!(t.is_empty());
}

#[test]
fn out_of_meters() {
    let mut t = MeterTable::new();
    for id in 1..=MAX_METERS {
        add(&mut t, id, 0, vec![]).expect("add");
    }
    assert_eq!(
        code(add(&mut t, MAX_METERS + 1, 0, vec![])),
        Some(MeterModFailedCode::OutOfMeters.into())
    );
}

#[test]
fn kbps_rate_and_burst() {
    let mut t = MeterTable::new();
    // 1000 kb/s = 1 bit/us; burst 10 kb.
    add(
        &mut t,
        1,
        meter_flags::KBPS | meter_flags::BURST,
        vec![drop_band(1000, 10)],
    )
    .expect("add");
    let m = t.get(1).expect("1");
    // The burst holds one 1000-byte packet (8000 bits), not two.
    assert_eq!(m.admit(0, 1000), MeterVerdict::Pass);
    assert_eq!(m.admit(0, 1000), MeterVerdict::Drop);
    // 6 ms refill 6000 bits: with the 2000 left, exactly one more packet.
    assert_eq!(m.admit(6 * MS, 1000), MeterVerdict::Pass);
    assert_eq!(m.admit(6 * MS, 1000), MeterVerdict::Drop);
    // Offered 8 Mb/s (one packet per ms) for a second: about 1 Mb/s passes.
    let mut passed = 0u64;
    for i in 1..=1000 {
        if m.admit(6 * MS + i * MS, 1000) == MeterVerdict::Pass {
            passed += 1;
        }
    }
    assert!((124..=127).contains(&passed), "passed {passed}");
    // An idle period refills only up to the burst.
    let later = 10_000 * MS;
    assert_eq!(m.admit(later, 1000), MeterVerdict::Pass);
    assert_eq!(m.admit(later, 1000), MeterVerdict::Drop);
    // A clock going backwards adds nothing.
    assert_eq!(m.admit(later - 500 * MS, 1000), MeterVerdict::Drop);
}

#[test]
fn pktps_rate_and_burst() {
    let mut t = MeterTable::new();
    add(
        &mut t,
        1,
        meter_flags::PKTPS | meter_flags::BURST,
        vec![drop_band(100, 5)],
    )
    .expect("add");
    let m = t.get(1).expect("1");
    let verdicts: Vec<_> = (0..10).map(|_| m.admit(0, 64)).collect();
    assert_eq!(
        verdicts
            .iter()
            .filter(|v| **v == MeterVerdict::Pass)
            .count(),
        5
    );
    // Packet size does not matter: 10 ms = one packet.
    assert_eq!(m.admit(10 * MS, 9000), MeterVerdict::Pass);
    assert_eq!(m.admit(10 * MS, 64), MeterVerdict::Drop);
    let mut passed = 0;
    for i in 1..=1000u64 {
        if m.admit(10 * MS + i * MS, 64) == MeterVerdict::Pass {
            passed += 1;
        }
    }
    assert_eq!(passed, 100);
}

#[test]
fn default_burst_without_flag() {
    let mut t = MeterTable::new();
    // 8 kb/s: 100 ms is 800 bits, less than a 1500-byte packet: the floor applies.
    add(&mut t, 1, meter_flags::KBPS, vec![drop_band(8, 0)]).expect("add");
    let m = t.get(1).expect("1");
    assert_eq!(m.admit(0, 1500), MeterVerdict::Pass);
    assert_eq!(m.admit(0, 1), MeterVerdict::Drop);
    // Neither KBPS nor PKTPS: kb/s. 10 Mb/s: 100 ms = 1 Mb = 125000 bytes.
    add(&mut t, 2, 0, vec![drop_band(10_000, 0)]).expect("add");
    let m = t.get(2).expect("2");
    let passed = (0..200)
        .filter(|_| m.admit(0, 1000) == MeterVerdict::Pass)
        .count();
    assert_eq!(passed, 125);
}

#[test]
fn highest_exceeded_band_decides_and_remark() {
    let mut t = MeterTable::new();
    let bands = vec![
        drop_band(2000, 16),
        MeterBand::DscpRemark {
            rate: 1000,
            burst_size: 16,
            prec_level: 1,
        },
    ];
    add(&mut t, 1, meter_flags::KBPS | meter_flags::BURST, bands).expect("add");
    let m = t.get(1).expect("1");
    // 1000-byte packets every 5.3 ms ≈ 1.5 Mb/s: above the remark band only.
    let mut counts = [0u32; 3];
    for i in 0..1000u64 {
        match m.admit(i * 5_300_000, 1000) {
            MeterVerdict::Pass => counts[0] += 1,
            MeterVerdict::Remark { prec_level } => {
                assert_eq!(prec_level, 1);
                counts[1] += 1
            }
            MeterVerdict::Drop => counts[2] += 1,
        }
    }
    assert_eq!(counts[2], 0, "{counts:?}");
    assert!(counts[1] > 250 && counts[0] > 600, "{counts:?}");
    // Every 2 ms ≈ 4 Mb/s: above both; the drop band (higher rate) wins when both
    // are exceeded.
    let base = 10_000 * MS;
    let mut drops = 0u64;
    let mut remarks = u64::from(counts[1]);
    for i in 0..1000u64 {
        match m.admit(base + i * 2 * MS, 1000) {
            MeterVerdict::Drop => drops += 1,
            MeterVerdict::Remark { .. } => remarks += 1,
            MeterVerdict::Pass => {}
        }
    }
    assert!(drops > 400, "{drops}");
    let st = &t.stats(1, &|_| 3, base)[0];
    assert_eq!(st.packet_in_count, 2000);
    assert_eq!(st.byte_in_count, 2_000_000);
    assert_eq!(st.flow_count, 3);
    assert_eq!(st.band_stats[0].packet_band_count, drops);
    assert_eq!(st.band_stats[1].packet_band_count, remarks);
    assert_eq!(st.band_stats[1].byte_band_count, remarks * 1000);
}

#[test]
fn config_stats_modify_and_replay() {
    let mut t = MeterTable::new();
    let bands = vec![drop_band(100, 10)];
    let flags = meter_flags::PKTPS | meter_flags::BURST | meter_flags::STATS;
    t.apply(&mm(MeterModCommand::Add, 5, flags, bands.clone()), 1_000)
        .expect("add");
    add(&mut t, 3, meter_flags::KBPS, vec![drop_band(7, 0)]).expect("add");
    let cfg = t.config(OFPM_ALL);
    assert_eq!(
        cfg.iter().map(|c| c.meter_id).collect::<Vec<_>>(),
        vec![3, 5]
    );
    assert_eq!(t.config(5)[0].bands, bands);
    assert_eq!(t.config(5)[0].flags, flags);
    assert!(t.config(4).is_empty());
    let m = t.get(5).expect("5").clone();
    for _ in 0..15 {
        m.admit(1_000, 100);
    }
    let st = &t.stats(5, &|_| 0, 2_500_001_000)[0];
    assert_eq!((st.packet_in_count, st.byte_in_count), (15, 1500));
    assert_eq!(st.band_stats[0].packet_band_count, 5);
    assert_eq!((st.duration_sec, st.duration_nsec), (2, 500_000_000));
    // Modify: new band, fresh bucket, meter counters kept.
    t.apply(
        &mm(MeterModCommand::Modify, 5, flags, vec![drop_band(100, 1)]),
        2_000,
    )
    .expect("modify");
    let m2 = t.get(5).expect("5");
    assert_eq!(m2.admit(2_000, 1), MeterVerdict::Pass);
    assert_eq!(m2.admit(2_000, 1), MeterVerdict::Drop);
    let st = &t.stats(5, &|_| 0, 3_000)[0];
    assert_eq!(st.packet_in_count, 17);
    assert_eq!(st.band_stats[0].packet_band_count, 1);
    // Replay.
    let mods = t.to_mods();
    let mut r = MeterTable::new();
    for m in &mods {
        r.apply(m, 0).expect("replay");
    }
    assert_eq!(r.config(OFPM_ALL), t.config(OFPM_ALL));
    let f = MeterTable::features();
    assert_eq!(f.band_types, 0b110);
    assert_eq!(f.max_bands, MAX_BANDS);
}

#[test]
fn two_threads_admit_consistently() {
    let mut t = MeterTable::new();
    add(
        &mut t,
        1,
        meter_flags::PKTPS | meter_flags::BURST,
        vec![drop_band(1000, 500)],
    )
    .expect("add");
    let snap = t.clone();
    let passed: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let snap = &snap;
                s.spawn(move || {
                    let m = snap.get(1).expect("1");
                    // 10 000 packets each over the same 1 s (1 ms steps, interleaved).
                    (0..10_000u64)
                        .filter(|i| m.admit(i / 10 * MS, 64) == MeterVerdict::Pass)
                        .count() as u64
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    // Burst 500 + 999 ms of refill at 1 packet/ms: at most 1499 tokens ever existed,
    // and with 20 offered per ms every token is used.
    assert!((1490..=1499).contains(&passed), "passed {passed}");
    let st = &t.stats(1, &|_| 0, 0)[0];
    assert_eq!(st.packet_in_count, 20_000);
    assert_eq!(st.byte_in_count, 20_000 * 64);
    assert_eq!(st.band_stats[0].packet_band_count, 20_000 - passed);
}
