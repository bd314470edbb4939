//! The rvs datapath: ports, packet batches, the bridge pipeline and MAC learning.
//!
//! ```text
//!   Port::recv_batch ──► RxBatch (32 reused buffers)
//!                          │
//!                          ▼
//!   openflow::process_batch: FlowKey ─► EMC / megaflow / pipeline ─► datapath actions
//!                          │   (NORMAL, or no tables published / fail-open:)
//!                          ▼
//!   Bridge L2 switch: checks ─► VLAN ingress ─► learn src ─► lookup dst / flood
//!                          │                                         (per-port drop counters)
//!                          ▼
//!   per-egress-port TxDesc queues (slot + tag edit, no copies)
//!                          │
//!                          ▼
//!   Port::send_batch (one call per egress port per batch)
//! ```
//!
//! Layering, so that later stages slot in without a rewrite:
//! - [`port`]: the `Port` trait; [`ports`] has AF_PACKET (`system`), AF_XDP (`afxdp`), TAP and
//!   in-memory kinds.
//!   vhost-user and tunnels are further implementations of the same trait.
//! - [`datapath`]: bridges and ports driven one batch at a time, no threads, no fds: tests use it
//!   directly.
//! - [`openflow`]: the OpenFlow bridge between receive and the transmit queues: the control
//!   plane publishes read-only tables, the fast path decides, the action executor runs
//!   outputs, NORMAL, groups, meters, rewrites (on copies) and packet-ins.
//! - [`worker`]: a thread that owns a `Datapath` and waits on epoll; the control plane sends it
//!   closures. rvsd runs several, each with whole bridges (and so all their ports).
//! - [`offload`]: checksum/GSO metadata travels with each frame from port to port; only an
//!   egress port that cannot take it gets software checksums or segments, built per port in a
//!   scratch area (headers only; payloads stay in the receive buffer).
#![deny(clippy::unwrap_used, clippy::panic)]

pub mod bridge;
pub mod counters;
pub mod datapath;
pub mod mac_table;
pub mod offload;
pub mod openflow;
pub mod packet;
pub mod port;
pub mod ports;
pub mod vlan;
pub mod worker;

/// Index of a port in its datapath.
pub type PortId = u32;

pub use counters::{DropReason, PortCounters};
pub use datapath::{BridgeId, Datapath, FdbRow, FdbStats};
pub use offload::OffloadCaps;
pub use port::{Port, PortFault, QueueCounters, TxOutcome};
