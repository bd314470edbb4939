#!/usr/bin/env bash
# SUT_UP for ../shared/bench/netbench.sh: starts rvsd inside the switch namespace and puts the
# two switch-side veths on one bridge as system ports. Run from the repository root after
# `cargo build --release -p rvsd -p rvs`; RVS_BIN overrides the binaries' directory and
# RVSD_ARGS adds rvsd options (e.g. "--busy-poll-us 100"); RVS_PORT_TYPE=afxdp makes both ports
# AF_XDP ports instead of system (AF_PACKET) ports; RVS_QUEUES=N gives system ports N receive
# queues (PACKET_FANOUT sockets, one per datapath thread).
set -euo pipefail
T=${RVS_PORT_TYPE:-system}
R=${RVS_BIN:-$PWD/target/release}
D=$NB_RUNDIR/rvs
mkdir -p "$D"
# shellcheck disable=SC2086
"$R/rvsd" ${RVSD_ARGS:-} --run-dir "$D" --db "$D/conf.db" >"$NB_RUNDIR/rvsd.log" 2>&1 &
echo $! >"$NB_PIDFILE"
for _ in $(seq 100); do [ -S "$D/rvsd.sock" ] && break; sleep 0.05; done
"$R/rvs" --run-dir "$D" add-br br0 --may-exist
Q=()
[ -n "${RVS_QUEUES:-}" ] && Q=(--queues "$RVS_QUEUES")
"$R/rvs" --run-dir "$D" add-port br0 "$NB_IF1" --type "$T" --may-exist "${Q[@]}"
"$R/rvs" --run-dir "$D" add-port br0 "$NB_IF2" --type "$T" --may-exist "${Q[@]}"
