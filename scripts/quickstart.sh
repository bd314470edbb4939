#!/usr/bin/env bash
# rvs quick start: builds rvs and brings up examples/quickstart.toml with `rvs lab`,
# then prints who reaches whom:
#
#   h1 (veth, VLAN 10) ─┐                              ┌─ h3 (tap, VLAN 10)
#                       ├─ br0 ══ trunk 10,20 ══ br1 ─┤
#   h2 (veth, VLAN 20) ─┘                              └─ h4 (tap, VLAN 20)
#
# `rvs lab up` starts rvsd (run dir /run/rvs, database /var/lib/rvs/conf.db) when none
# runs. The lab stays up; `scripts/quickstart.sh down` removes it (rvsd keeps running).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ACTION=${1:-up}
RVS=./target/release/rvs

need_root "the quick start"

case "$ACTION" in
up) ;;
down)
    [ -x "$RVS" ] || die "$RVS is not built; nothing of the quick start can be up"
    exec "$RVS" lab down quickstart
    ;;
*) die "usage: $0 [up|down]" ;;
esac

ensure_cargo
ensure_tools ip:iproute2 ping:iputils-ping ethtool:ethtool
echo "== building rvs (release)"
cargo build --release -p rvsd -p rvs

echo "== bringing up examples/quickstart.toml"
"$RVS" lab up examples/quickstart.toml
echo
echo "== who reaches whom (ping from row to column; VLAN 10: h1, h3; VLAN 20: h2, h4)"
"$RVS" lab ping-matrix quickstart
cat <<MSG

The lab is up. Try:
  $RVS lab exec h1 -- ping -c 2 10.70.0.3     # same VLAN, across the trunk: answers
  $RVS lab exec h1 -- ping -c 2 10.70.0.2     # other VLAN: silent
  $RVS show
  $RVS fdb-show quickstart-br0
  $RVS lab graph quickstart -o quickstart.svg
Remove it with: $0 down   (or: $RVS lab down quickstart)
MSG
