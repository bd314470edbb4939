//! Flow persistence: an append-only log per bridge that makes flows, groups, meters and
//! the OpenFlow port numbers survive a restart, including `kill -9`.
//!
//! # Format
//!
//! The file starts with the 8-byte magic `RVSOFL01`, followed by records:
//!
//! ```text
//! len: u32 BE (bytes after the crc) | crc: u32 BE (CRC-32/IEEE of those bytes) | kind: u8 | payload
//! ```
//!
//! `kind` 1 is an OpenFlow message (a flow-mod, group-mod or meter-mod in its OpenFlow 1.3
//! encoding, xid 0), 2 assigns an OpenFlow port number to a port name (`ofport: u32 BE`
//! then the name), 3 forgets a port name's number. A deletion is logged as the delete
//! that caused it (a flow-mod delete, a group or meter delete, which also removes the
//! flows that use it) and an expiry as a strict delete of that flow, so replaying the
//! records in order through [`crate::OfSwitch`] rebuilds the same tables.
//!
//! # Durability and cost
//!
//! [`FlowLog::append`] only encodes into a memory buffer. The switch writes the buffer
//! with one `write(2)` per batch of messages, before sending any reply that follows those
//! changes, so an acknowledged change survives the process being killed; `fdatasync`
//! runs before a barrier reply and otherwise at most every 100 ms
//! ([`FlowLog::sync_if_due`]), which bounds what a power loss can take. A change costs an
//! encode and a memcpy, never a rewrite of the table.
//!
//! # Recovery
//!
//! [`FlowLog::open`] reads every record; the first one that is cut short (a write torn by
//! a crash) or fails its CRC ends the log: it and everything after it are dropped, logged
//! with `tracing::warn!` and reported by [`FlowLog::dropped_tail`], and the file is
//! truncated there so new records follow the last good one.
//!
//! # Compaction
//!
//! When the log grows beyond twice the size of the live state plus 1 MiB, the switch
//! rewrites it ([`FlowLog::rewrite`]) as a snapshot: meters, then groups (each after the
//! groups it chains to), then flows table by table in insertion order, then the port
//! numbers. The snapshot goes to a temporary file that is synced and renamed over the
//! log, so a crash leaves either the old log or the new one.
//!
//! Timeouts restart on replay: a flow with `idle_timeout=10` lives 10 s from the restart.
//! Counters start at zero. Cookies, flags, priorities, matches and instructions are kept
//! exactly.

use rvs_openflow::group::GroupMod;
use rvs_openflow::meter::MeterMod;
use rvs_openflow::{FlowMod, Message};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RVSOFL01";
const KIND_OPENFLOW: u8 = 1;
const KIND_PORT_NUMBER: u8 = 2;
const KIND_PORT_FORGET: u8 = 3;
/// Largest record accepted on replay (an OpenFlow message is at most 64 KiB).
const MAX_RECORD: usize = 1 << 17;
/// Shortest interval between two periodic `fdatasync`s.
pub const SYNC_INTERVAL_MS: u64 = 100;

/// One persisted change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    MeterMod(MeterMod),
    /// Port `name` has OpenFlow number `ofport`.
    PortNumber {
        name: String,
        ofport: u32,
    },
    /// Port `name` left the bridge; its number may be given to another port.
    PortForget {
        name: String,
    },
}

impl Record {
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        let body = out.len();
        let msg = match self {
            Record::FlowMod(fm) => Some(Message::FlowMod(fm.clone())),
            Record::GroupMod(gm) => Some(Message::GroupMod(gm.clone())),
            Record::MeterMod(mm) => Some(Message::MeterMod(mm.clone())),
            Record::PortNumber { name, ofport } => {
                out.push(KIND_PORT_NUMBER);
                out.extend_from_slice(&ofport.to_be_bytes());
                out.extend_from_slice(name.as_bytes());
                None
            }
            Record::PortForget { name } => {
                out.push(KIND_PORT_FORGET);
                out.extend_from_slice(name.as_bytes());
                None
            }
        };
        if let Some(m) = msg {
            out.push(KIND_OPENFLOW);
            if m.encode_into(0, out).is_err() {
                // Cannot happen for a message that was decoded from the wire; keep the
                // log consistent by writing nothing.
                out.truncate(start);
                return;
            }
        }
        let len = (out.len() - body) as u32;
        let crc = crc32(&out[body..]);
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_be_bytes());
    }

    fn decode(b: &[u8]) -> Result<Record, String> {
        let (&kind, rest) = b.split_first().ok_or("empty record")?;
        match kind {
            KIND_OPENFLOW => match Message::decode(rest) {
                Ok((_, Message::FlowMod(fm))) => Ok(Record::FlowMod(fm)),
                Ok((_, Message::GroupMod(gm))) => Ok(Record::GroupMod(gm)),
                Ok((_, Message::MeterMod(mm))) => Ok(Record::MeterMod(mm)),
                Ok((_, m)) => Err(format!("unexpected message type {}", m.msg_type())),
                Err(e) => Err(format!("bad OpenFlow record: {e}")),
            },
            KIND_PORT_NUMBER => {
                let (n, name) = rest.split_at_checked(4).ok_or("short port record")?;
                let ofport = u32::from_be_bytes([n[0], n[1], n[2], n[3]]);
                let name = String::from_utf8(name.to_vec()).map_err(|_| "port name not UTF-8")?;
                Ok(Record::PortNumber { name, ofport })
            }
            KIND_PORT_FORGET => {
                let name = String::from_utf8(rest.to_vec()).map_err(|_| "port name not UTF-8")?;
                Ok(Record::PortForget { name })
            }
            k => Err(format!("unknown record kind {k}")),
        }
    }
}

/// What recovery dropped at the end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailDrop {
    /// File offset of the first dropped byte.
    pub offset: u64,
    /// Bytes dropped.
    pub bytes: u64,
    pub reason: String,
}

/// Counters for display and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    pub records: u64,
    pub writes: u64,
    pub syncs: u64,
    pub compactions: u64,
}

/// The append-only log of one bridge.
#[derive(Debug)]
pub struct FlowLog {
    file: File,
    path: PathBuf,
    pending: Vec<u8>,
    /// Bytes in the file, not counting `pending`.
    written: u64,
    unsynced: bool,
    last_sync_ms: u64,
    replay: Vec<Record>,
    dropped: Option<TailDrop>,
    stats: LogStats,
}

impl FlowLog {
    /// Opens (creating if needed) the log at `path` and reads its records, which
    /// [`FlowLog::take_replay`] hands out once.
    pub fn open(path: impl AsRef<Path>) -> io::Result<FlowLog> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let mut replay = Vec::new();
        let mut dropped = None;
        let good_end = if data.is_empty() {
            file.write_all(MAGIC)?;
            file.sync_data()?;
            MAGIC.len()
        } else if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not an rvs flow log", path.display()),
            ));
        } else {
            let (end, why) = parse_records(&data, &mut replay);
            if let Some(reason) = why {
                let d = TailDrop {
                    offset: end as u64,
                    bytes: (data.len() - end) as u64,
                    reason,
                };
                tracing::warn!(
                    "flow log {}: dropping {} bytes at offset {}: {}",
                    path.display(),
                    d.bytes,
                    d.offset,
                    d.reason
                );
                file.set_len(end as u64)?;
                file.sync_data()?;
                dropped = Some(d);
            }
            end
        };
        file.seek(SeekFrom::Start(good_end as u64))?;
        Ok(FlowLog {
            file,
            path,
            pending: Vec::with_capacity(64 * 1024),
            written: good_end as u64,
            unsynced: false,
            last_sync_ms: 0,
            replay,
            dropped,
            stats: LogStats::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records read by [`FlowLog::open`] (empty after the first call).
    pub fn take_replay(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.replay)
    }

    /// What recovery dropped, if the log ended in a torn or corrupt record.
    pub fn dropped_tail(&self) -> Option<&TailDrop> {
        self.dropped.as_ref()
    }

    /// Queues a record; [`FlowLog::write`] puts it in the file.
    pub fn append(&mut self, r: &Record) {
        r.encode(&mut self.pending);
        self.stats.records += 1;
    }

    /// Queues a flow-mod, group-mod or meter-mod as received (no copy of the message).
    pub fn append_message(&mut self, m: &Message) {
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; 8]);
        self.pending.push(KIND_OPENFLOW);
        if m.encode_into(0, &mut self.pending).is_err() {
            self.pending.truncate(start);
            return;
        }
        let body = start + 8;
        let len = (self.pending.len() - body) as u32;
        let crc = crc32(&self.pending[body..]);
        self.pending[start..start + 4].copy_from_slice(&len.to_be_bytes());
        self.pending[start + 4..body].copy_from_slice(&crc.to_be_bytes());
        self.stats.records += 1;
    }

    /// Whether appended records are waiting for [`FlowLog::write`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes the queued records with one `write(2)` (more only if the kernel writes
    /// part of it).
    pub fn write(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        self.unsynced = true;
        self.stats.writes += 1;
        Ok(())
    }

    /// Writes and `fdatasync`s.
    pub fn sync(&mut self, now_ms: u64) -> io::Result<()> {
        self.write()?;
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
            self.stats.syncs += 1;
        }
        self.last_sync_ms = now_ms;
        Ok(())
    }

    /// Writes, and syncs when the last sync is [`SYNC_INTERVAL_MS`] old.
    pub fn sync_if_due(&mut self, now_ms: u64) -> io::Result<()> {
        self.write()?;
        if self.unsynced && now_ms.saturating_sub(self.last_sync_ms) >= SYNC_INTERVAL_MS {
            self.sync(now_ms)?;
        }
        Ok(())
    }

    /// Size of the log including queued records.
    pub fn len(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= MAGIC.len() as u64
    }

    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// Replaces the whole log by `records` (compaction): temporary file, fsync,
    /// rename, directory fsync. Queued records are discarded: `records` must describe
    /// the current state.
    pub fn rewrite(&mut self, records: &[Record]) -> io::Result<()> {
        let tmp = self.path.with_extension("compact.tmp");
        let mut buf = Vec::with_capacity(MAGIC.len() + records.len() * 96);
        buf.extend_from_slice(MAGIC);
        for r in records {
            r.encode(&mut buf);
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&buf)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) {
                d.sync_all()?;
            }
        }
        let mut file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        file.seek(SeekFrom::End(0))?;
        self.file = file;
        self.written = buf.len() as u64;
        self.pending.clear();
        self.unsynced = false;
        self.stats.compactions += 1;
        Ok(())
    }
}

/// Parses records after the magic into `out`; returns the end of the last good record
/// and, if the log did not end cleanly, why.
fn parse_records(data: &[u8], out: &mut Vec<Record>) -> (usize, Option<String>) {
    let mut at = MAGIC.len();
    while at < data.len() {
        let Some(head) = data.get(at..at + 8) else {
            return (at, Some("torn record header".into()));
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if len == 0 || len > MAX_RECORD {
            return (at, Some(format!("implausible record length {len}")));
        }
        let Some(body) = data.get(at + 8..at + 8 + len) else {
            return (at, Some("torn record".into()));
        };
        if crc32(body) != crc {
            return (at, Some("record CRC mismatch".into()));
        }
        match Record::decode(body) {
            Ok(r) => out.push(r),
            Err(e) => return (at, Some(e)),
        }
        at += 8 + len;
    }
    (at, None)
}

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_known_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn records_round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("log");
        let recs = vec![
            Record::PortNumber {
                name: "eth0".into(),
                ofport: 7,
            },
            Record::FlowMod(FlowMod::add(5, rvs_openflow::Match::new(), vec![])),
            Record::PortForget {
                name: "eth0".into(),
            },
        ];
        {
            let mut log = FlowLog::open(&p).expect("open");
            for r in &recs {
                log.append(r);
            }
            log.sync(0).expect("sync");
        }
        let full = std::fs::read(&p).expect("read");
        let mut log = FlowLog::open(&p).expect("reopen");
        assert_eq!(log.take_replay(), recs);
        assert!(log.dropped_tail().is_none());
        drop(log);
        // Cut the last record in half.
        std::fs::write(&p, &full[..full.len() - 3]).expect("write");
        let mut log = FlowLog::open(&p).expect("reopen torn");
        assert_eq!(log.take_replay(), recs[..2].to_vec());
        assert!(log.dropped_tail().is_some());
        // Appends continue after the last good record.
        log.append(&recs[2]);
        log.sync(0).expect("sync");
        drop(log);
        let mut log = FlowLog::open(&p).expect("reopen again");
        assert_eq!(log.take_replay(), recs);
    }

    #[test]
    fn not_a_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("log");
        std::fs::write(&p, b"hello world").expect("write");
        assert!(FlowLog::open(&p).is_err());
    }
}
