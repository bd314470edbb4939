//! The group and meter tables and the action translation the switch uses, from `rvs-flow`
//! (shared with the datapath, which executes groups and meters from the same tables).

pub use rvs_flow::group::GroupTable;
pub use rvs_flow::meter::MeterTable;
pub use rvs_flow::pipeline::actions_to_dp;
