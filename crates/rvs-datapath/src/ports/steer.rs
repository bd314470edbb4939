//! CPU-local receive steering for ports with several receive queues.
//!
//! A system port with N queues is N AF_PACKET sockets in one `PACKET_FANOUT` group, each
//! served by its own datapath thread ([`crate::ports::afpacket`]); a multi-queue tap has N
//! queue descriptors, split over the threads ([`crate::ports::tap`]). The kernel asks a
//! program which queue a frame goes to: the fanout program of the group, or the tap
//! device's steering program (`TUNSETSTEERINGEBPF`); both take the same socket-filter
//! program and reduce its answer modulo the queues. With flow steering the kernel hashes
//! the flow; with CPU steering (this module) the program picks the queue of the thread
//! pinned to the CPU the frame was produced on: a container that sends runs on that CPU,
//! so the frame is switched there without waking another CPU. On a VM, a cross-CPU wakeup of an idle
//! vCPU costs tens of microseconds; it is most of an event-driven round trip.
//!
//! Sending each frame to its producer's CPU would reorder flows: a TCP sender transmits
//! from its process and from the softirq that takes the ACKs, which runs where the ACK was
//! delivered, and the scheduler moves processes. So a flow moves the way the kernel's RFS
//! moves one between CPUs: only once every frame it left in its old queue has been read.
//! - Flows are tracked in 256 slots (the kernel's flow hash modulo 256; frames without a
//!   hash share slot 0). A slot holds its queue, the queue position of its last frame, and
//!   that frame's time.
//! - Each queue counts the frames steered to it (the program, atomically) and publishes how
//!   far it has read (its thread, after a read that emptied the socket: "everything
//!   counted before this read is gone", which also covers frames the kernel dropped).
//! - A frame goes to its CPU's queue when its slot is there already, or when the slot's old
//!   queue has read past the slot's last frame and the slot has been idle for
//!   [`MIN_IDLE_NS`] (the time to switch the frames just read). Otherwise it follows the
//!   slot.
//!
//! The counters live in the same BPF array map as the slots, mapped into rvsd's memory
//! (`BPF_F_MMAPABLE`), so publishing is one atomic store per read. The program is eBPF
//! (`PACKET_FANOUT_EBPF`), hand-assembled like the XDP program ([`crate::ports::bpf`]):
//!
//! ```text
//!      key = skb->hash & 255 ; now = ktime_get_ns()
//!      want = queue of CPU (get_smp_processor_id())          ; chain of compares, else cpu % N
//!      slot = lookup(key) ; if !slot: return want
//!      if slot.queue != want:
//!          if now - slot.last <= MIN_IDLE_NS: want = slot.queue
//!          elif counters[slot.queue].read < slot.pos: want = slot.queue
//!      slot.pos = fetch_add(counters[want].steered, 1) + 1
//!      slot.queue = want ; slot.last = now ; return want
//! ```

use super::bpf::{
    self, Insn, BPF_ADD, BPF_AND, BPF_DW, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JNE, BPF_MOD, BPF_SUB,
    BPF_W,
};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// A flow that left frames in its queue moves only after this much idle time as well
/// (50 µs): the frames its old thread has just read are switched by then.
pub const MIN_IDLE_NS: i32 = 50_000;
/// Flow slots (a power of two): the kernel's flow hash modulo this.
pub const SLOTS: u32 = 256;
/// Queues a group may have (one per datapath thread).
pub const MAX_QUEUES: u32 = 64;
/// Bytes per map entry. A slot: last frame's time (u64), its queue position (u64), its
/// queue (u32). A queue's counters (entry `SLOTS + q`): frames steered (u64), frames read
/// (u64).
const ENTRY: u32 = 24;
const SLOT_LAST: i16 = 0;
const SLOT_POS: i16 = 8;
const SLOT_QUEUE: i16 = 16;
const QUEUE_STEERED: i16 = 0;
const QUEUE_READ: i16 = 8;
/// `offsetof(struct __sk_buff, hash)`.
const SKB_HASH: i16 = 68;
/// Name of the loaded program (and, with `_map`, of its map).
pub const PROG_NAME: &str = "rvs_steer";

/// The instructions that map the CPU number in r0 to the queue pinned there, in r0: a
/// chain of compares, falling back to the CPU number modulo the queues.
fn queue_of_cpu(cpus: &[usize]) -> Vec<Insn> {
    let n = cpus.len();
    let mut out = Vec::with_capacity(3 * n + 2);
    for (q, &cpu) in cpus.iter().enumerate() {
        // Past the rest of the chain and the fallback.
        let rest = i16::try_from(3 * (n - 1 - q) + 1).unwrap_or(i16::MAX);
        out.push(Insn::jmp_imm(
            BPF_JNE,
            0,
            i32::try_from(cpu).unwrap_or(i32::MAX),
            2,
        ));
        out.push(Insn::mov64_imm(0, i32::try_from(q).unwrap_or(0)));
        out.push(Insn::ja(rest));
    }
    out.push(Insn::alu64_imm(
        BPF_MOD,
        0,
        i32::try_from(n.max(1)).unwrap_or(1),
    ));
    out
}

/// A small assembler: instructions with jumps to named labels, resolved at the end.
struct Asm {
    insns: Vec<Insn>,
    fixups: Vec<(usize, &'static str)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            insns: Vec::new(),
            fixups: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn op(&mut self, i: Insn) -> &mut Asm {
        self.insns.push(i);
        self
    }
    fn ops(&mut self, is: &[Insn]) -> &mut Asm {
        self.insns.extend_from_slice(is);
        self
    }
    /// A jump (whose offset is filled in later) to `label`.
    fn jump(&mut self, i: Insn, label: &'static str) -> &mut Asm {
        self.fixups.push((self.insns.len(), label));
        self.insns.push(i);
        self
    }
    fn label(&mut self, name: &'static str) -> &mut Asm {
        self.labels.push((name, self.insns.len()));
        self
    }
    /// `r0 = lookup(map, key in r1)`, the key spilled to fp - 8.
    fn lookup(&mut self, map_fd: RawFd) -> &mut Asm {
        let [lo, hi] = Insn::ld_map_fd(1, map_fd);
        self.ops(&[
            Insn::stx(BPF_W, 10, 1, -8),
            Insn::mov64_reg(2, 10),
            Insn::alu64_imm(BPF_ADD, 2, -8),
            lo,
            hi,
            Insn::call(bpf::BPF_FUNC_MAP_LOOKUP_ELEM),
        ])
    }
    fn finish(mut self) -> Vec<Insn> {
        for (at, name) in &self.fixups {
            let found = self.labels.iter().find(|(n, _)| n == name);
            debug_assert!(found.is_some(), "jump to the missing label {name}");
            let target = found.map_or(*at + 1, |(_, t)| *t);
            let off = target as isize - (*at as isize + 1);
            self.insns[*at].off = i16::try_from(off).unwrap_or(0);
        }
        self.insns
    }
}

/// The steering program for the map `map_fd`, where the thread of queue q is pinned to
/// `cpus[q]`. Registers: r6 the frame, r7 the time, r8 the slot, r9 the chosen queue.
pub fn program(map_fd: RawFd, cpus: &[usize]) -> Vec<Insn> {
    let slots = SLOTS as i32;
    let mut a = Asm::new();
    a.ops(&[
        Insn::mov64_reg(6, 1),
        Insn::call(bpf::BPF_FUNC_KTIME_GET_NS),
        Insn::mov64_reg(7, 0),
        Insn::call(bpf::BPF_FUNC_GET_SMP_PROCESSOR_ID),
    ])
    .ops(&queue_of_cpu(cpus))
    .op(Insn::mov64_reg(9, 0))
    // The slot.
    .ops(&[
        Insn::ldx(BPF_W, 1, 6, SKB_HASH),
        Insn::alu64_imm(BPF_AND, 1, slots - 1),
    ])
    .lookup(map_fd)
    .jump(Insn::jmp_imm(BPF_JEQ, 0, 0, 0), "exit")
    .op(Insn::mov64_reg(8, 0))
    .op(Insn::ldx(BPF_W, 1, 8, SLOT_QUEUE))
    .jump(Insn::jmp_reg(BPF_JEQ, 1, 9, 0), "count")
    // Another queue: recently busy stays.
    .ops(&[
        Insn::ldx(BPF_DW, 2, 8, SLOT_LAST),
        Insn::mov64_reg(3, 7),
        Insn::alu64_reg(BPF_SUB, 3, 2),
    ])
    .jump(Insn::jmp_imm(BPF_JGT, 3, MIN_IDLE_NS, 0), "idle")
    .jump(Insn::ja(0), "stay")
    // Idle: moves if the old queue has read past the slot's last frame.
    .label("idle")
    .op(Insn::alu64_imm(BPF_ADD, 1, slots))
    .lookup(map_fd)
    .jump(Insn::jmp_imm(BPF_JEQ, 0, 0, 0), "stay")
    .ops(&[
        Insn::ldx(BPF_DW, 1, 0, QUEUE_READ),
        Insn::ldx(BPF_DW, 2, 8, SLOT_POS),
    ])
    .jump(Insn::jmp_reg(BPF_JGE, 1, 2, 0), "count")
    .label("stay")
    .op(Insn::ldx(BPF_W, 9, 8, SLOT_QUEUE))
    // Count the frame in its queue; the slot remembers where it is.
    .label("count")
    .op(Insn::mov64_reg(1, 9))
    .op(Insn::alu64_imm(BPF_ADD, 1, slots))
    .lookup(map_fd)
    .jump(Insn::jmp_imm(BPF_JEQ, 0, 0, 0), "remember")
    .ops(&[
        Insn::mov64_imm(1, 1),
        Insn::atomic_fetch_add(BPF_DW, 0, 1, QUEUE_STEERED),
        Insn::alu64_imm(BPF_ADD, 1, 1),
        Insn::stx(BPF_DW, 8, 1, SLOT_POS),
    ])
    .label("remember")
    .ops(&[
        Insn::stx(BPF_W, 8, 9, SLOT_QUEUE),
        Insn::stx(BPF_DW, 8, 7, SLOT_LAST),
    ])
    .label("exit")
    .ops(&[Insn::mov64_reg(0, 9), Insn::exit()]);
    a.finish()
}

/// The map of a steered group, mapped into rvsd's memory: each queue's thread publishes
/// there how far it has read.
pub struct SteerMap {
    map: OwnedFd,
    base: *mut u8,
    len: usize,
    queues: usize,
}

// SAFETY: the mapping is shared memory used only through atomics; it lives until drop.
unsafe impl Send for SteerMap {}
// SAFETY: as above.
unsafe impl Sync for SteerMap {}

impl SteerMap {
    /// Creates and maps the map, and loads the program for threads pinned to `cpus` (queue
    /// q's thread on `cpus[q]`, at most [`MAX_QUEUES`]). Returns the mapping and the
    /// program, which the caller attaches to a fanout group (`PACKET_FANOUT_DATA`) and may
    /// then close: the group keeps it.
    pub fn load(cpus: &[usize]) -> io::Result<(SteerMap, OwnedFd)> {
        let queues = cpus.len().min(MAX_QUEUES as usize);
        let cpus = &cpus[..queues];
        let entries = SLOTS + queues as u32;
        let map = bpf::create_mmapable_array(&format!("{PROG_NAME}_map"), ENTRY, entries).map_err(
            |e| io::Error::new(e.kind(), format!("cannot create the steering map: {e}")),
        )?;
        // SAFETY: sysconf has no memory effects.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = (ENTRY as usize * entries as usize).div_ceil(page) * page;
        // SAFETY: mapping a BPF array map made mmapable, shared, for its whole length.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                map.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("cannot map the steering map: {e}"),
            ));
        }
        let steering = SteerMap {
            map,
            base: base.cast(),
            len,
            queues,
        };
        let prog = bpf::load(
            bpf::BPF_PROG_TYPE_SOCKET_FILTER,
            &program(steering.map.as_raw_fd(), cpus),
            PROG_NAME,
        )
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the kernel refused the steering program: {e}"),
            )
        })?;
        Ok((steering, prog))
    }

    fn counter(&self, queue: usize, field: i16) -> Option<&AtomicU64> {
        if queue >= self.queues {
            return None;
        }
        let off = (SLOTS as usize + queue) * ENTRY as usize + field as usize;
        // SAFETY: inside the mapping (queue < queues), 8-byte aligned (ENTRY and the field
        // offsets are multiples of 8, the mapping is page aligned); the kernel and the
        // threads touch it only atomically.
        Some(unsafe { AtomicU64::from_ptr(self.base.add(off).cast()) })
    }

    /// Frames steered to `queue` so far. Read it before reading the queue's socket.
    pub fn steered(&self, queue: usize) -> u64 {
        self.counter(queue, QUEUE_STEERED)
            .map_or(0, |c| c.load(Ordering::Acquire))
    }

    /// Says that every frame steered to `queue` before `steered` was read (or dropped):
    /// call after a read that emptied the socket, with [`SteerMap::steered`] from before it.
    pub fn read_up_to(&self, queue: usize, steered: u64) {
        if let Some(c) = self.counter(queue, QUEUE_READ) {
            c.store(steered, Ordering::Release);
        }
    }
}

impl Drop for SteerMap {
    fn drop(&mut self) {
        // SAFETY: unmapping what load mapped, once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: u64 = 0x1_0000_0000;
    const MAP: u64 = 0x2_0000_0000;
    const CTX: u64 = 0x3_0000_0000;

    /// Runs the program the way the kernel would, for one frame with flow hash `hash` seen
    /// at `now` on `cpu`, over `map` (the array's bytes). Pointers are tagged addresses
    /// into the stack, the map or the frame. Returns r0 at exit.
    fn run(prog: &[Insn], map: &mut [u8], hash: u32, now: u64, cpu: u64) -> u64 {
        let entries = (map.len() / ENTRY as usize) as u64;
        let mut r = [0u64; 11];
        r[1] = CTX;
        r[10] = STACK + 512;
        let mut stack = [0u8; 512];
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = prog[pc];
            pc += 1;
            let (d, s) = (usize::from(i.dst), usize::from(i.src));
            let width = if i.code & 0x18 == 0x18 { 8 } else { 4 };
            let mut mem = |addr: u64, write: Option<u64>| -> u64 {
                let (buf, off): (&mut [u8], usize) = if addr >= CTX {
                    assert_eq!(addr - CTX, SKB_HASH as u64, "only skb->hash is read");
                    return u64::from(hash);
                } else if addr >= MAP {
                    (&mut *map, (addr - MAP) as usize)
                } else {
                    (&mut stack[..], (addr - STACK) as usize)
                };
                let b = &mut buf[off..off + width];
                match write {
                    Some(v) => {
                        b.copy_from_slice(&v.to_le_bytes()[..width]);
                        v
                    }
                    None => {
                        let mut w = [0u8; 8];
                        w[..width].copy_from_slice(b);
                        u64::from_le_bytes(w)
                    }
                }
            };
            let addr = |base: u64| base.wrapping_add(i.off as i64 as u64);
            let imm = i.imm as i64 as u64;
            match i.code {
                0x61 | 0x79 => r[d] = mem(addr(r[s]), None),
                0x63 | 0x7b => {
                    mem(addr(r[d]), Some(r[s]));
                }
                0xdb => {
                    assert_eq!(i.imm, 1, "fetch-add");
                    let old = mem(addr(r[d]), None);
                    mem(addr(r[d]), Some(old + r[s]));
                    r[s] = old;
                }
                0xbf => r[d] = r[s],
                0xb7 => r[d] = imm,
                0x07 => r[d] = r[d].wrapping_add(imm),
                0x57 => r[d] &= imm,
                0x97 => r[d] %= imm,
                0x1f => r[d] = r[d].wrapping_sub(r[s]),
                0x18 => {
                    r[d] = 0xfeed;
                    pc += 1;
                }
                0x85 => {
                    r[0] = match i.imm {
                        bpf::BPF_FUNC_KTIME_GET_NS => now,
                        bpf::BPF_FUNC_GET_SMP_PROCESSOR_ID => cpu,
                        bpf::BPF_FUNC_MAP_LOOKUP_ELEM => {
                            assert_eq!(r[1], 0xfeed, "the map");
                            let key = mem(r[2], None) & 0xffff_ffff;
                            if key < entries {
                                MAP + key * u64::from(ENTRY)
                            } else {
                                0
                            }
                        }
                        h => unreachable!("helper {h}"),
                    };
                    for x in &mut r[1..=5] {
                        *x = 0xdead;
                    }
                }
                0x05 | 0x15 | 0x55 | 0x25 | 0x1d | 0x3d => {
                    let (a, b) = (r[d], if i.code & 0x08 != 0 { r[s] } else { imm });
                    let taken = match i.code & 0xf0 {
                        0x00 => true,
                        0x10 => a == b,
                        0x50 => a != b,
                        0x20 => a > b,
                        _ => a >= b,
                    };
                    if taken {
                        pc = (pc as isize + isize::from(i.off)) as usize;
                    }
                }
                0x95 => return r[0],
                c => unreachable!("opcode {c:#x} at {}", pc - 1),
            }
        }
        unreachable!("no exit");
    }

    fn map_for(queues: usize) -> Vec<u8> {
        vec![0u8; (SLOTS as usize + queues) * ENTRY as usize]
    }

    fn counter(map: &[u8], queue: usize, field: i16) -> u64 {
        let off = (SLOTS as usize + queue) * ENTRY as usize + field as usize;
        u64::from_le_bytes(map[off..off + 8].try_into().expect("8 bytes"))
    }

    fn set_read(map: &mut [u8], queue: usize, v: u64) {
        let off = (SLOTS as usize + queue) * ENTRY as usize + QUEUE_READ as usize;
        map[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn a_flow_moves_to_the_sending_cpu_only_once_its_old_queue_is_read() {
        // Queue 0's thread on CPU 2, queue 1's on CPU 5.
        let p = program(3, &[2, 5]);
        let mut m = map_for(2);
        // A fresh flow goes to its CPU's queue, counted there.
        assert_eq!(run(&p, &mut m, 7, 10 * MS, 5), 1);
        assert_eq!(counter(&m, 1, QUEUE_STEERED), 1);
        // From CPU 2 while queue 1 has not read it: it stays, even when idle for long.
        assert_eq!(run(&p, &mut m, 7, 20 * MS, 2), 1);
        assert_eq!(counter(&m, 1, QUEUE_STEERED), 2);
        // Queue 1 read its first frame only: still stays.
        set_read(&mut m, 1, 1);
        assert_eq!(run(&p, &mut m, 7, 30 * MS, 2), 1);
        // Queue 1 read everything, but the flow was busy a moment ago: stays.
        set_read(&mut m, 1, 3);
        assert_eq!(run(&p, &mut m, 7, 30 * MS + 10_000, 2), 1);
        // Read and idle: moves to CPU 2's queue, counted there.
        set_read(&mut m, 1, 4);
        assert_eq!(run(&p, &mut m, 7, 40 * MS, 2), 0);
        assert_eq!(counter(&m, 0, QUEUE_STEERED), 1);
        // Back on queue 0, from CPU 2 again: stays, busy or not.
        assert_eq!(run(&p, &mut m, 7, 40 * MS + 1, 2), 0);
        // Another flow is on its own.
        assert_eq!(run(&p, &mut m, 8, 40 * MS + 2, 5), 1);
        // A CPU without a thread: its number modulo the queues (9 % 2), once free to move.
        set_read(&mut m, 0, 2);
        assert_eq!(run(&p, &mut m, 7, 50 * MS, 9), 1);
    }

    #[test]
    fn slot_numbers_stay_inside_the_map_and_queues_inside_the_group() {
        let p = program(3, &[0, 1, 2, 3]);
        for (n, hash) in [0, 1, 255, 256, u32::MAX].into_iter().enumerate() {
            let mut m = map_for(4);
            let q = run(&p, &mut m, hash, 1 << 40, 3);
            assert_eq!(q, 3, "{n}");
            let q = run(&p, &mut m, hash, 1 << 41, 77);
            assert!(q < 4, "{q}");
        }
    }
}
