//! eBPF programs, hand-assembled, and the `bpf(2)` calls that load them (no clang, no
//! libbpf). Two programs use this: the AF_XDP redirect program below, and the steering
//! program of [`crate::ports::steer`] (for fanout groups and taps).
//!
//! The XDP program is five instructions (six slots, `ld_imm64` takes two):
//!
//! ```text
//! r2 = *(u32 *)(r1 + 16)        ; ctx->rx_queue_index
//! r1 = map[xsks_map]            ; ld_imm64 with src = BPF_PSEUDO_MAP_FD, imm = the map's fd
//! r3 = XDP_PASS                 ; what bpf_redirect_map returns when the slot is empty
//! call bpf_redirect_map
//! exit
//! ```
//!
//! Every frame of a queue goes to the AF_XDP socket bound to that queue; a queue without a
//! socket (none bound yet, or rvsd died and the kernel emptied the map) passes frames to
//! the kernel stack, so a stale program never blackholes an interface.
//!
//! `bpf_attr` is built as a zeroed byte array with fields written at their UAPI offsets
//! (`linux/bpf.h`): the kernel insists that bytes past the fields it knows are zero.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Name given to the program; a program of this name on an interface was left by rvs.
pub const PROG_NAME: &str = "rvs_xsk";
/// Prefix of the socket map's name; the owning process id follows (`rvs_xsk_1234`).
pub const MAP_NAME_PREFIX: &str = "rvs_xsk_";

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_MAP_GET_FD_BY_ID: libc::c_long = 14;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;

pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;
pub const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
pub const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_PSEUDO_MAP_FD: u8 = 1;
// Helper ids.
pub const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;
pub const BPF_FUNC_KTIME_GET_NS: i32 = 5;
pub const BPF_FUNC_GET_SMP_PROCESSOR_ID: i32 = 8;
pub const BPF_FUNC_REDIRECT_MAP: i32 = 51;
pub const XDP_PASS: i32 = 2;
/// Offset of `rx_queue_index` in `struct xdp_md`.
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

// Opcode parts (linux/bpf_common.h, linux/bpf.h).
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_STX: u8 = 0x03;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
pub const BPF_W: u8 = 0x00;
pub const BPF_DW: u8 = 0x18;
const BPF_IMM: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_AND: u8 = 0x50;
pub const BPF_MOD: u8 = 0x90;
const BPF_MOV: u8 = 0xb0;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_JA: u8 = 0x00;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGE: u8 = 0x30;
const BPF_ATOMIC: u8 = 0xc0;
/// With `BPF_ATOMIC`: the old value comes back in the source register.
const BPF_FETCH: i32 = 0x01;
/// `map_flags` bit: the array map can be mapped into memory.
const BPF_F_MMAPABLE: u32 = 1 << 10;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;

/// One eBPF instruction, `struct bpf_insn`: opcode, dst (low nibble) and src (high nibble)
/// registers, 16-bit offset, 32-bit immediate; little-endian on x86 and arm64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The 8 bytes the kernel reads.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | ((self.src & 0x0f) << 4);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }

    /// `dst = *(size *)(src + off)`, size [`BPF_W`] or [`BPF_DW`].
    pub fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: BPF_LDX | BPF_MEM | size,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    /// `*(size *)(dst + off) = src`.
    pub fn stx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: BPF_STX | BPF_MEM | size,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    /// `dst = src`.
    pub fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn {
            code: BPF_ALU64 | BPF_MOV | BPF_X,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }

    /// `dst op= imm` for `op` in [`BPF_ADD`], [`BPF_SUB`], [`BPF_AND`].
    pub fn alu64_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: BPF_ALU64 | op | BPF_K,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }

    /// `dst op= src`.
    pub fn alu64_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn {
            code: BPF_ALU64 | op | BPF_X,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }

    /// `if dst op imm goto +off` (unsigned comparisons), `op` in [`BPF_JEQ`], [`BPF_JNE`],
    /// [`BPF_JGT`].
    pub fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: BPF_JMP | op | BPF_K,
            dst,
            src: 0,
            off,
            imm,
        }
    }

    /// `if dst op src goto +off` (unsigned comparisons).
    pub fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: BPF_JMP | op | BPF_X,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    /// `src = fetch_add((size *)(dst + off), src)`: atomic, the old value in `src`.
    pub fn atomic_fetch_add(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: BPF_STX | BPF_ATOMIC | size,
            dst,
            src,
            off,
            imm: i32::from(BPF_ADD) | BPF_FETCH,
        }
    }

    /// `goto +off`.
    pub fn ja(off: i16) -> Insn {
        Insn {
            code: BPF_JMP | BPF_JA,
            dst: 0,
            src: 0,
            off,
            imm: 0,
        }
    }

    /// `dst = map` (two slots): the loader replaces the fd with the map's address.
    pub fn ld_map_fd(dst: u8, map_fd: RawFd) -> [Insn; 2] {
        [
            Insn {
                code: BPF_LD | BPF_DW | BPF_IMM,
                dst,
                src: BPF_PSEUDO_MAP_FD,
                off: 0,
                imm: map_fd,
            },
            Insn {
                code: 0,
                dst: 0,
                src: 0,
                off: 0,
                imm: 0,
            },
        ]
    }

    pub fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn {
            code: BPF_ALU64 | BPF_MOV | BPF_K,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }

    pub fn call(helper: i32) -> Insn {
        Insn {
            code: BPF_JMP | BPF_CALL,
            dst: 0,
            src: 0,
            off: 0,
            imm: helper,
        }
    }

    pub fn exit() -> Insn {
        Insn {
            code: BPF_JMP | BPF_EXIT,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }
}

/// The redirect program for the socket map `map_fd`.
pub fn redirect_program(map_fd: RawFd) -> Vec<Insn> {
    let [lo, hi] = Insn::ld_map_fd(1, map_fd);
    vec![
        Insn::ldx(BPF_W, 2, 1, XDP_MD_RX_QUEUE_INDEX),
        lo,
        hi,
        Insn::mov64_imm(3, XDP_PASS),
        Insn::call(BPF_FUNC_REDIRECT_MAP),
        Insn::exit(),
    ]
}

/// Instructions as the byte image `BPF_PROG_LOAD` takes.
pub fn encode_program(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode()).collect()
}

/// A zeroed `union bpf_attr` with fields written at byte offsets.
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Self {
        Attr([0; 128])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn name(&mut self, off: usize, name: &str) -> &mut Self {
        let n = name.len().min(15);
        self.0[off..off + n].copy_from_slice(&name.as_bytes()[..n]);
        self
    }
    fn sys(&mut self, cmd: libc::c_long) -> io::Result<libc::c_long> {
        // SAFETY: bpf(2) with a live, zero-padded attribute buffer of the size passed; any
        // pointers written into it point to buffers that outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                self.0.as_mut_ptr(),
                self.0.len() as libc::c_uint,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }
    fn sys_fd(&mut self, cmd: libc::c_long) -> io::Result<OwnedFd> {
        let fd = RawFd::try_from(self.sys(cmd)?)
            .map_err(|_| io::Error::other("bpf(2) returned an out-of-range fd"))?;
        // SAFETY: the kernel just returned this new descriptor to us.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn with_permission_hint(what: &str, e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{what}: {e} (AF_XDP ports need CAP_BPF/CAP_SYS_ADMIN and CAP_NET_ADMIN)"),
        ),
        _ => io::Error::new(e.kind(), format!("{what}: {e}")),
    }
}

/// Creates an `XSKMAP` with `entries` slots (one per queue id), named after this process.
pub fn create_xsk_map(entries: u32) -> io::Result<OwnedFd> {
    let name = format!("{MAP_NAME_PREFIX}{}", std::process::id());
    Attr::new()
        .u32(0, BPF_MAP_TYPE_XSKMAP)
        .u32(4, 4)
        .u32(8, 4)
        .u32(12, entries.max(1))
        .name(28, &name)
        .sys_fd(BPF_MAP_CREATE)
        .map_err(|e| with_permission_hint("cannot create the XSKMAP", e))
}

/// Puts socket `xsk_fd` in slot `queue` of the map.
pub fn map_set_socket(map: &OwnedFd, queue: u32, xsk_fd: RawFd) -> io::Result<()> {
    let key = queue;
    let value = xsk_fd as u32;
    Attr::new()
        .u32(0, map.as_raw_fd() as u32)
        .u64(8, &key as *const u32 as u64)
        .u64(16, &value as *const u32 as u64)
        .sys(BPF_MAP_UPDATE_ELEM)
        .map(|_| ())
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot put the socket of queue {queue} in the XSKMAP: {e}"),
            )
        })
}

/// Empties slot `queue` (the program then passes that queue's frames to the stack).
pub fn map_clear(map: &OwnedFd, queue: u32) {
    let key = queue;
    let _ = Attr::new()
        .u32(0, map.as_raw_fd() as u32)
        .u64(8, &key as *const u32 as u64)
        .sys(BPF_MAP_DELETE_ELEM);
}

/// Loads the redirect program for `map`. On refusal the verifier's log is in the error.
pub fn load_program(map: &OwnedFd) -> io::Result<OwnedFd> {
    load(
        BPF_PROG_TYPE_XDP,
        &redirect_program(map.as_raw_fd()),
        PROG_NAME,
    )
    .map_err(|e| with_permission_hint("the kernel refused the XDP program", e))
}

/// Creates an array map of `entries` values of `value_size` bytes (keys are u32 indexes),
/// all zero, that can be mapped into memory (`mmap` of the map's descriptor), where user
/// space and the programs share them.
pub fn create_mmapable_array(name: &str, value_size: u32, entries: u32) -> io::Result<OwnedFd> {
    Attr::new()
        .u32(0, BPF_MAP_TYPE_ARRAY)
        .u32(4, 4)
        .u32(8, value_size)
        .u32(12, entries.max(1))
        .u32(16, BPF_F_MMAPABLE)
        .name(28, name)
        .sys_fd(BPF_MAP_CREATE)
}

/// Loads `insns` as a program of type `prog_type`. When the kernel refuses it, the load is
/// tried once more with a log, and the verifier's words are put in the error.
pub fn load(prog_type: u32, insns: &[Insn], name: &str) -> io::Result<OwnedFd> {
    let image = encode_program(insns);
    let license = c"Apache-2.0";
    let load = |log: Option<&mut Vec<u8>>| {
        let mut a = Attr::new();
        a.u32(0, prog_type)
            .u32(4, (image.len() / 8) as u32)
            .u64(8, image.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .name(48, name);
        if let Some(buf) = log {
            a.u32(24, 1)
                .u32(28, buf.len() as u32)
                .u64(32, buf.as_mut_ptr() as u64);
            a.sys_fd(BPF_PROG_LOAD)
        } else {
            a.sys_fd(BPF_PROG_LOAD)
        }
    };
    match load(None) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            let mut log = vec![0u8; 64 * 1024];
            let again = load(Some(&mut log));
            let text =
                String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)])
                    .trim()
                    .to_string();
            match again {
                Ok(fd) => Ok(fd),
                Err(_) if text.is_empty() => Err(first),
                Err(_) => Err(io::Error::new(
                    first.kind(),
                    format!("{first}; verifier log:\n{text}"),
                )),
            }
        }
    }
}

/// What an attached program is, as far as recognising our own goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    pub id: u32,
    pub prog_type: u32,
    pub name: String,
    /// Ids of the maps it uses (up to four).
    pub map_ids: Vec<u32>,
}

impl ProgInfo {
    /// A program rvs loaded (by name and type; see the module docs of `afxdp`).
    pub fn is_rvs(&self) -> bool {
        self.prog_type == BPF_PROG_TYPE_XDP && self.name == PROG_NAME
    }
}

/// Looks up a loaded program by id.
pub fn prog_info_by_id(id: u32) -> io::Result<ProgInfo> {
    let fd = Attr::new().u32(0, id).sys_fd(BPF_PROG_GET_FD_BY_ID)?;
    prog_info(&fd)
}

/// `bpf_prog_info` of a program fd (type, id, name).
pub fn prog_info(fd: &OwnedFd) -> io::Result<ProgInfo> {
    let mut info = [0u8; 80];
    let mut maps = [0u32; 4];
    info[52..56].copy_from_slice(&(maps.len() as u32).to_ne_bytes());
    info[56..64].copy_from_slice(&(maps.as_mut_ptr() as u64).to_ne_bytes());
    obj_info(fd, &mut info)?;
    let word = |o: usize| u32::from_ne_bytes([info[o], info[o + 1], info[o + 2], info[o + 3]]);
    let nr = (word(52) as usize).min(maps.len());
    Ok(ProgInfo {
        prog_type: word(0),
        id: word(4),
        name: c_name(&info[64..80]),
        map_ids: maps[..nr].to_vec(),
    })
}

fn obj_info(fd: &OwnedFd, info: &mut [u8]) -> io::Result<()> {
    Attr::new()
        .u32(0, fd.as_raw_fd() as u32)
        .u32(4, info.len() as u32)
        .u64(8, info.as_mut_ptr() as u64)
        .sys(BPF_OBJ_GET_INFO_BY_FD)
        .map(|_| ())
}

fn c_name(b: &[u8]) -> String {
    let len = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..len]).into_owned()
}

/// The name of the map with id `id`.
pub fn map_name_by_id(id: u32) -> io::Result<String> {
    let fd = Attr::new().u32(0, id).sys_fd(BPF_MAP_GET_FD_BY_ID)?;
    let mut info = [0u8; 40];
    obj_info(&fd, &mut info)?;
    Ok(c_name(&info[24..40]))
}

/// The process id in an rvs socket map's name.
pub fn owner_pid(map_name: &str) -> Option<u32> {
    map_name.strip_prefix(MAP_NAME_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_bytes_match_the_hand_assembly() {
        let bytes = encode_program(&redirect_program(7));
        #[rustfmt::skip]
        let want: [u8; 48] = [
            0x61, 0x12, 16, 0, 0, 0, 0, 0,       // r2 = *(u32 *)(r1 + 16)
            0x18, 0x11, 0, 0, 7, 0, 0, 0,        // r1 = map fd 7 (src = PSEUDO_MAP_FD)
            0x00, 0x00, 0, 0, 0, 0, 0, 0,        //   (second half of ld_imm64)
            0xb7, 0x03, 0, 0, 2, 0, 0, 0,        // r3 = XDP_PASS
            0x85, 0x00, 0, 0, 51, 0, 0, 0,       // call bpf_redirect_map
            0x95, 0x00, 0, 0, 0, 0, 0, 0,        // exit
        ];
        assert_eq!(bytes, want);
    }

    #[test]
    fn registers_pack_into_nibbles_and_offsets_keep_sign() {
        let i = Insn {
            code: 0x61,
            dst: 9,
            src: 10,
            off: -8,
            imm: -1,
        };
        let b = i.encode();
        assert_eq!(b[1], 0xa9);
        assert_eq!(i16::from_ne_bytes([b[2], b[3]]), -8);
        assert_eq!(i32::from_ne_bytes([b[4], b[5], b[6], b[7]]), -1);
    }

    #[test]
    fn only_our_name_and_type_count_as_ours() {
        let ours = ProgInfo {
            id: 1,
            prog_type: BPF_PROG_TYPE_XDP,
            name: PROG_NAME.into(),
            map_ids: vec![],
        };
        assert!(ours.is_rvs());
        assert!(!ProgInfo {
            name: "xdp_dispatcher".into(),
            ..ours.clone()
        }
        .is_rvs());
        assert!(!ProgInfo {
            prog_type: 3,
            ..ours
        }
        .is_rvs());
        assert_eq!(owner_pid("rvs_xsk_4194304"), Some(4194304));
        assert_eq!(owner_pid("rvs_xsks"), None);
        assert_eq!(owner_pid("xsks_map"), None);
    }
}
