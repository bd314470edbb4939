#!/usr/bin/env bash
# Runs every rvs test: unit, property, in-memory bridge and end-to-end namespace tests.
# Needs root (the end-to-end tests create network namespaces); installs missing tools.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_root "the test suite"
ensure_cargo
ensure_tools ip:iproute2 ping:iputils-ping ethtool:ethtool ovs-ofctl:openvswitch-common

# The end-to-end tests run the rvsd and rvs binaries built here.
cargo build --workspace
cargo test --workspace --no-fail-fast
