//! The OpenFlow switch agent of rvs: everything between controllers and a bridge's
//! datapath that is not packet processing.
//!
//! ```text
//!  controllers ──TCP──► conn::ControllerSet ──ConnEvent──► owner (rvsd) ──► OfSwitch::handle
//!      ▲   (hello, framing, echo, probes,                      │                │ FlowTables, groups,
//!      └──── bounded queues, reconnect)  ◄──send(ConnId,..)────┘ ◄─Outgoing─────┘ meters, ports, roles
//!                                                                               │
//!                                   persist::FlowLog ◄── every accepted change ─┤
//!                                                                               ▼
//!                                                         DpControl::publish(Arc<OfSnapshot>)
//! ```
//!
//! | module | contents |
//! |---|---|
//! | [`switch`] | [`OfSwitch`]: the per-bridge OpenFlow 1.3 state machine (synchronous, no I/O) and the [`DpControl`] trait the datapath implements |
//! | [`conn`] | [`conn::ControllerSet`]: active (`tcp:`) and passive (`ptcp:`) controller connections on tokio |
//! | [`persist`] | [`persist::FlowLog`]: the append-only, CRC-checked, compacting log that makes the tables survive restarts |
//!
//! The datapath (packet execution, group buckets, meter token buckets) and the glue
//! between these pieces are rvsd's: it owns one `OfSwitch` and one `ControllerSet` per
//! bridge, feeds `ConnEvent`s to [`OfSwitch::handle`], sends the [`Outgoing`] messages
//! back with [`conn::ControllerSet::send`], and calls [`OfSwitch::tick`] periodically and
//! [`OfSwitch::end_batch`] after each batch of events.

pub mod conn;
mod flowext;
pub mod persist;
pub mod switch;

pub use flowext::{GroupTable, MeterTable};
pub use persist::{FlowLog, Record};
pub use switch::{
    ConnId, DpControl, OfSnapshot, OfSwitch, OfSwitchOptions, Outgoing, PacketInEvent, PortDesc,
    PortError, ReplayReport, SwitchCounters,
};
