//! rvs datapath.
