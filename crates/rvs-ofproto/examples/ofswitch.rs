//! A bridge with a fake datapath behind a controller target, for trying controllers and
//! `ovs-ofctl` by hand:
//!
//! ```text
//! cargo run -p rvs-ofproto --example ofswitch -- ptcp:6653
//! ovs-ofctl -O OpenFlow13 dump-flows tcp:127.0.0.1:6653
//! ```
//!
//! Ports `p1` (1) and `p2` (2) exist; packet-outs are recorded, nothing is forwarded.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ptcp:6653".to_string());
    if let Err(e) = rvs_ofproto::conn::parse_target(&target) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let br = common::Bridge::start(
        &[&target],
        rvs_ofproto::conn::ConnOptions::default(),
        &[("p1", 1), ("p2", 2)],
    );
    for a in &br.addrs {
        println!("listening on {a}");
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(5));
        for s in br.status.lock().map(|s| s.clone()).unwrap_or_default() {
            println!("{} {} {:?}", s.target, s.state, s.connections);
        }
    }
}
