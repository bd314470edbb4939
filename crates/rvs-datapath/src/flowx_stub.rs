//! Placeholder for rvs-flow's group/meter/modify modules until they land.
#![allow(dead_code)]
use rvs_flow::pipeline::DpAction;
use std::sync::Arc;

pub mod group {
    use super::*;
    #[derive(Clone, Default)]
    pub struct GroupTable;
    pub struct GroupBucket {
        pub actions: Vec<DpAction>,
    }
    pub struct Group {
        pub buckets: Vec<GroupBucket>,
    }
    impl GroupTable {
        pub fn get(&self, _id: u32) -> Option<&Arc<Group>> {
            None
        }
    }
    impl Group {
        pub fn choose(
            &self,
            _h: u64,
            _l: &dyn Fn(u32) -> bool,
            _g: &GroupTable,
            _o: &mut Vec<usize>,
        ) {
        }
        pub fn count(&self, _b: usize, _n: u64) {}
    }
}
pub mod meter {
    use super::*;
    #[derive(Clone, Default)]
    pub struct MeterTable;
    pub enum MeterVerdict {
        Pass,
        Drop,
        Remark { prec_level: u8 },
    }
    pub struct Meter;
    impl MeterTable {
        pub fn get(&self, _id: u32) -> Option<&Arc<Meter>> {
            None
        }
    }
    impl Meter {
        pub fn admit(&self, _n: u64, _b: u32) -> MeterVerdict {
            MeterVerdict::Pass
        }
    }
}
pub mod modify {
    use super::*;
    #[derive(Debug)]
    pub enum ModifyError {
        TtlExpired,
        NotApplicable,
    }
    pub fn apply(_f: &mut Vec<u8>, _a: &DpAction, _p: bool) -> Result<(), ModifyError> {
        Err(ModifyError::NotApplicable)
    }
    pub fn dscp_remark(_f: &mut [u8], _p: u8) -> bool {
        false
    }
}
pub trait FlowHash {
    fn flow_hash(&self) -> u64;
}
impl FlowHash for rvs_flow::FlowKey {
    fn flow_hash(&self) -> u64 {
        self.hash()
    }
}
