//! CPU-local receive steering for system ports with several receive queues.
//!
//! A system port with N queues is N AF_PACKET sockets in one `PACKET_FANOUT` group, each
//! served by its own datapath thread ([`crate::ports::afpacket`]). The kernel asks a
//! fanout program which socket a frame goes to. With flow steering it hashes the flow; with
//! CPU steering (this module) it picks the socket of the thread pinned to the CPU the
//! frame was produced on: a container that sends runs on that CPU, so the frame is
//! switched there without waking another CPU. On a VM, a cross-CPU wakeup of an idle
//! vCPU costs tens of microseconds; it is most of an event-driven round trip.
//!
//! Sending a flow's frames from whichever CPU produced them would reorder it. A TCP sender
//! transmits both from its process and from the softirq that takes the ACKs, which runs
//! where the ACK was delivered. So the choice is sticky: per flow slot (the kernel's flow
//! hash, 256 slots), the socket chosen by the first frame of a burst keeps the following
//! frames until the slot has been idle for [`IDLE_GAP_NS`]. Frames of one burst stay in
//! order. A new burst goes to the sender's current CPU. Frames the kernel has no hash for
//! share one slot.
//!
//! The program is eBPF (`PACKET_FANOUT_EBPF`), hand-assembled like the XDP program
//! ([`crate::ports::bpf`]):
//!
//! ```text
//!      r0 = skb->hash & 255 ; *(u32 *)(fp - 4) = r0          ; slot number
//!      call ktime_get_ns ; r7 = r0                           ; now
//!      r0 = lookup(slots, fp - 4) ; if r0 == 0 goto plain
//!      r8 = r0 ; r1 = slot.last ; slot.last = r7 ; r7 -= r1
//!      if r7 > IDLE_GAP_NS goto local
//!      r0 = slot.queue ; exit                                ; the burst goes on
//! local: call get_smp_processor_id ; r0 = queue of CPU r0 ; slot.queue = r0 ; exit
//! plain: call get_smp_processor_id ; r0 = queue of CPU r0 ; exit
//! ```
//!
//! "queue of CPU" is a chain of compares: the queue whose thread is pinned to that CPU,
//! else the CPU number itself (the kernel takes it modulo the group's size).

use super::bpf::{self, Insn, BPF_ADD, BPF_AND, BPF_DW, BPF_JEQ, BPF_JGT, BPF_JNE, BPF_SUB, BPF_W};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A flow slot idle for this long may move to another queue (0.5 ms).
pub const IDLE_GAP_NS: i32 = 500_000;
/// Flow slots (a power of two): the kernel's flow hash modulo this.
pub const SLOTS: u32 = 256;
/// Bytes per slot: last frame's time (u64), then the queue (u32), then padding.
const SLOT_BYTES: u32 = 16;
/// `offsetof(struct __sk_buff, hash)`.
const SKB_HASH: i16 = 68;
/// Name of the loaded program (and, with `_slots`, of its map).
pub const PROG_NAME: &str = "rvs_steer";

/// The instructions that map a CPU number in r0 to the queue pinned there, in r0.
fn queue_of_cpu(cpus: &[usize]) -> Vec<Insn> {
    let n = cpus.len();
    let mut out = Vec::with_capacity(3 * n);
    for (q, &cpu) in cpus.iter().enumerate() {
        let rest = i16::try_from(3 * (n - 1 - q)).unwrap_or(i16::MAX);
        out.push(Insn::jmp_imm(
            BPF_JNE,
            0,
            i32::try_from(cpu).unwrap_or(i32::MAX),
            2,
        ));
        out.push(Insn::mov64_imm(0, i32::try_from(q).unwrap_or(0)));
        out.push(Insn::ja(rest));
    }
    out
}

/// The steering program for the slot map `map_fd`, where the thread of queue q is pinned
/// to `cpus[q]`.
pub fn program(map_fd: RawFd, cpus: &[usize]) -> Vec<Insn> {
    let chain = queue_of_cpu(cpus);
    let [map_lo, map_hi] = Insn::ld_map_fd(1, map_fd);
    let mut p = vec![
        Insn::ldx(BPF_W, 0, 1, SKB_HASH),
        Insn::alu64_imm(BPF_AND, 0, (SLOTS - 1) as i32),
        Insn::stx(BPF_W, 10, 0, -4),
        Insn::call(bpf::BPF_FUNC_KTIME_GET_NS),
        Insn::mov64_reg(7, 0),
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -4),
        map_lo,
        map_hi,
        Insn::call(bpf::BPF_FUNC_MAP_LOOKUP_ELEM),
    ];
    // The "local" part: 1 call, the chain, 1 store, 1 exit.
    let local_len = chain.len() + 3;
    let sticky = [
        Insn::mov64_reg(8, 0),
        Insn::ldx(BPF_DW, 1, 8, 0),
        Insn::stx(BPF_DW, 8, 7, 0),
        Insn::alu64_reg(BPF_SUB, 7, 1),
        Insn::jmp_imm(BPF_JGT, 7, IDLE_GAP_NS, 2),
        Insn::ldx(BPF_W, 0, 8, 8),
        Insn::exit(),
    ];
    let to_plain = i16::try_from(sticky.len() + local_len).unwrap_or(i16::MAX);
    p.push(Insn::jmp_imm(BPF_JEQ, 0, 0, to_plain));
    p.extend_from_slice(&sticky);
    p.push(Insn::call(bpf::BPF_FUNC_GET_SMP_PROCESSOR_ID));
    p.extend_from_slice(&chain);
    p.push(Insn::stx(BPF_W, 8, 0, 8));
    p.push(Insn::exit());
    p.push(Insn::call(bpf::BPF_FUNC_GET_SMP_PROCESSOR_ID));
    p.extend_from_slice(&chain);
    p.push(Insn::exit());
    p
}

/// Creates the slot map and loads the program for threads pinned to `cpus` (queue q's
/// thread on `cpus[q]`). The program holds the map; the caller attaches the program to a
/// fanout group with `PACKET_FANOUT_DATA` and may then close it.
pub fn load(cpus: &[usize]) -> io::Result<OwnedFd> {
    let map = bpf::create_array_map(&format!("{PROG_NAME}_slots"), SLOT_BYTES, SLOTS)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create the steering map: {e}")))?;
    bpf::load(
        bpf::BPF_PROG_TYPE_SOCKET_FILTER,
        &program(map.as_raw_fd(), cpus),
        PROG_NAME,
    )
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("the kernel refused the steering program: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows the program's control flow the way the kernel would, for one frame, with
    /// the helpers and the slot given: returns r0 at exit and the slot afterwards.
    fn run(
        prog: &[Insn],
        hash: u32,
        now: u64,
        cpu: u64,
        slot: Option<(u64, u32)>,
    ) -> (u64, Option<(u64, u32)>) {
        let mut r = [0u64; 11];
        let mut stack_key = 0u32;
        let mut slot = slot;
        let mut pc = 0usize;
        for _ in 0..1000 {
            let i = prog[pc];
            pc += 1;
            let (dst, src) = (usize::from(i.dst), usize::from(i.src));
            match i.code {
                0x61 if src == 1 => r[dst] = u64::from(hash),
                0x61 if src == 8 => r[dst] = u64::from(slot.map_or(0, |s| s.1)),
                0x79 => r[dst] = slot.map_or(0, |s| s.0),
                0x57 => r[dst] &= i.imm as u64,
                0x63 if dst == 10 => stack_key = r[src] as u32,
                0x63 if dst == 8 => {
                    if let Some(s) = slot.as_mut() {
                        s.1 = r[src] as u32;
                    }
                }
                0x7b => {
                    if let Some(s) = slot.as_mut() {
                        s.0 = r[src];
                    }
                }
                0xbf => r[dst] = r[src],
                0xb7 => r[dst] = i.imm as u64,
                0x07 => r[dst] = r[dst].wrapping_add(i.imm as i64 as u64),
                0x1f => r[dst] = r[dst].wrapping_sub(r[src]),
                0x18 => pc += 1,
                0x85 => {
                    r[0] = match i.imm {
                        bpf::BPF_FUNC_KTIME_GET_NS => now,
                        bpf::BPF_FUNC_GET_SMP_PROCESSOR_ID => cpu,
                        bpf::BPF_FUNC_MAP_LOOKUP_ELEM => {
                            assert!(stack_key < SLOTS, "key {stack_key} out of the map");
                            u64::from(slot.is_some())
                        }
                        h => unreachable!("helper {h}"),
                    }
                }
                0x15 | 0x55 | 0x25 => {
                    let (a, b) = (r[dst], i.imm as i64 as u64);
                    let taken = match i.code {
                        0x15 => a == b,
                        0x55 => a != b,
                        _ => a > b,
                    };
                    if taken {
                        pc = (pc as isize + isize::from(i.off)) as usize;
                    }
                }
                0x05 => pc = (pc as isize + isize::from(i.off)) as usize,
                0x95 => return (r[0], slot),
                c => unreachable!("opcode {c:#x} at {}", pc - 1),
            }
        }
        unreachable!("no exit");
    }

    #[test]
    fn a_burst_sticks_and_an_idle_slot_moves_to_the_sending_cpu() {
        // Queue 0's thread on CPU 2, queue 1's on CPU 5.
        let p = program(3, &[2, 5]);
        let gap = IDLE_GAP_NS as u64;
        // A fresh slot goes to the CPU's queue and remembers it.
        let (q, s) = run(&p, 7, 10 * gap, 5, Some((0, 0)));
        assert_eq!((q, s), (1, Some((10 * gap, 1))));
        // The burst goes on from CPU 2: still queue 1.
        let (q, s) = run(&p, 7, 10 * gap + 1000, 2, s);
        assert_eq!((q, s), (1, Some((10 * gap + 1000, 1))));
        // After an idle gap, CPU 2 takes it.
        let (q, s) = run(&p, 7, 12 * gap, 2, s);
        assert_eq!((q, s), (0, Some((12 * gap, 0))));
        // A CPU without a thread: its own number (the kernel takes it modulo the group).
        let (q, _) = run(&p, 7, 20 * gap, 9, s);
        assert_eq!(q, 9);
        // No slot (cannot happen with an array map, but the verifier wants the check).
        let (q, _) = run(&p, 7, 0, 5, None);
        assert_eq!(q, 1);
    }

    #[test]
    fn slot_numbers_stay_inside_the_map() {
        let p = program(3, &[0, 1, 2, 3]);
        for hash in [0, 1, 255, 256, u32::MAX] {
            let (q, _) = run(&p, hash, 1 << 40, 3, Some((0, 0)));
            assert_eq!(q, 3);
        }
    }
}
