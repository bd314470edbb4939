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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Second pass: the end-to-end suites again with the veth hosts as afxdp ports instead of
# system ports (RVS_E2E_PORT_KIND, see crates/rvs/tests/common/mod.rs).
echo "=== end-to-end suites with RVS_E2E_PORT_KIND=afxdp ==="
RVS_E2E_PORT_KIND=afxdp cargo test -p rvs --no-fail-fast \
    --test e2e_switching --test e2e_openflow --test e2e_restart \
    --test e2e_patch --test e2e_threads --test e2e_offload 2>&1 | tee -a "$log"
afxdp_status=${PIPESTATUS[0]}
set -e
if [ "$status" -eq 0 ]; then status=$afxdp_status; fi
# One closing line over every test binary of both passes (cargo prints one result line
# per binary).
sum() { grep -E '^test result:' "$log" | sed -E "s/.* ([0-9]+) passed; ([0-9]+) failed.*/\\$1/" | awk '{s+=$1} END {print s+0}'; }
echo "tests: $(sum 1) passed, $(sum 2) failed"
exit "$status"
