//! Several datapath threads (`rvsd --dp-threads`): bridges are spread over the threads,
//! `rvs show` says which thread serves each, and traffic crosses from one thread to another
//! through patch ports, also after a restart.
//!
//! Needs root. Names start with "et"; addresses are in 10.81.0.0/24 inside our namespaces.

mod common;

use common::*;
use rvs_lab::{unique_name, RvsdProcess};

#[test]
fn bridges_on_two_threads_forward_across_a_patch_pair() {
    setup();
    let mut rvsd = RvsdProcess::start_with_args(
        rvs_lab::workspace_bin("rvsd"),
        env!("CARGO_BIN_EXE_rvs"),
        &["--dp-threads", "2"],
    )
    .expect("start rvsd");
    let h1 = VethHost::new("et", Some("10.81.0.1/24"));
    let h2 = VethHost::new("et", Some("10.81.0.2/24"));
    let h3 = VethHost::new("et", Some("10.81.0.3/24"));
    let (bra, brb) = (unique_name("eta"), unique_name("etb"));
    let (pa, pb) = (unique_name("etp"), unique_name("etq"));
    rvs_ok(&rvsd, &["add-br", &bra]);
    rvs_ok(&rvsd, &["add-br", &brb]);
    rvs_ok(&rvsd, &["add-port", &bra, h1.port()]);
    rvs_ok(&rvsd, &["add-port", &bra, h3.port()]);
    rvs_ok(&rvsd, &["add-port", &brb, h2.port()]);
    rvs_ok(
        &rvsd,
        &["add-port", &bra, &pa, "--type", "patch", "--peer", &pb],
    );
    rvs_ok(
        &rvsd,
        &["add-port", &brb, &pb, "--type", "patch", "--peer", &pa],
    );
    let (ta, tb) = (
        show_bridge(&rvsd, &bra).datapath_thread,
        show_bridge(&rvsd, &brb).datapath_thread,
    );
    assert!(
        ta.is_some() && tb.is_some() && ta != tb,
        "threads {ta:?} {tb:?}"
    );
    let text = rvs_ok(&rvsd, &["show"]);
    assert!(
        text.contains("datapath thread: dp0") && text.contains("datapath thread: dp1"),
        "{text}"
    );
    assert!(
        h1.ping_until("10.81.0.2"),
        "h1 (thread {ta:?}) -> h2 (thread {tb:?})"
    );
    assert!(h1.ping("10.81.0.3"), "within one thread");
    // Restart: the same spread, the same forwarding.
    rvsd.kill9();
    rvsd.start_again().expect("restart");
    assert!(h2.ping_until("10.81.0.1"), "after restart\n{}", rvsd.log());
    let (ta2, tb2) = (
        show_bridge(&rvsd, &bra).datapath_thread,
        show_bridge(&rvsd, &brb).datapath_thread,
    );
    assert!(ta2.is_some() && tb2.is_some() && ta2 != tb2);
}
