//! `rvs` binary: see the library crate for everything.

fn main() {
    std::process::exit(rvs::run(std::env::args_os()));
}
