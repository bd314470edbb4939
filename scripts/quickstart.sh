#!/usr/bin/env bash
# rvs quick start: builds rvs, starts rvsd, and brings up a small virtual network:
#
#   qs-h1 (veth, VLAN 10) ─┐                 ┌─ qs-h3 (tap, VLAN 10)
#                           ├── bridge qs-br0 ─┤
#   qs-h2 (veth, VLAN 20) ─┘                 └─ qs-h4 (tap, VLAN 20)
#
# All four hosts share 10.70.0.0/24, so only the VLANs keep 10 and 20 apart. It then prints
# which hosts reach which. The network stays up; `scripts/quickstart.sh down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ACTION=${1:-up}
RUN_DIR=/run/rvs-quickstart
DB=/var/lib/rvs-quickstart/conf.db
BR=qs-br0
BIN=./target/release
RVS="$BIN/rvs --run-dir $RUN_DIR"
# host  kind  vlan  address
HOSTS="qs-h1:system:10:10.70.0.1 qs-h2:system:20:10.70.0.2 qs-h3:tap:10:10.70.0.3 qs-h4:tap:20:10.70.0.4"

need_root "the quick start"

down() {
    if [ -S "$RUN_DIR/rvsd.sock" ] && [ -x "$BIN/rvs" ]; then
        $RVS del-br "$BR" --if-exists || true
    fi
    if [ -f "$RUN_DIR/rvsd.pid" ]; then
        pid=$(cat "$RUN_DIR/rvsd.pid" 2>/dev/null || true)
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    for h in $HOSTS; do
        name=${h%%:*}
        ip netns del "$name" 2>/dev/null || true
        ip link del "$name-p" 2>/dev/null || true   # host end of a veth
        ip link del "$name-t" 2>/dev/null || true   # tap, if rvsd was gone
    done
    rm -rf "$RUN_DIR" "$(dirname "$DB")"
}

if [ "$ACTION" = down ]; then
    down
    echo "quick start network removed"
    exit 0
fi
[ "$ACTION" = up ] || die "usage: $0 [up|down]"

ensure_cargo
ensure_tools ip:iproute2 ping:iputils-ping ethtool:ethtool
echo "== building rvs (release)"
cargo build --release -p rvsd -p rvs

down >/dev/null 2>&1 || true
mkdir -p "$RUN_DIR" "$(dirname "$DB")"
echo "== starting rvsd (log: $RUN_DIR/rvsd.log)"
nohup "$BIN/rvsd" --run-dir "$RUN_DIR" --db "$DB" >"$RUN_DIR/rvsd.log" 2>&1 &
for _ in $(seq 1 100); do [ -S "$RUN_DIR/rvsd.sock" ] && break; sleep 0.05; done
$RVS list-br >/dev/null || die "rvsd did not start; see $RUN_DIR/rvsd.log"

echo "== building the network"
$RVS add-br "$BR"
for h in $HOSTS; do
    IFS=: read -r name kind vlan addr <<<"$h"
    ip netns add "$name"
    ip -n "$name" link set lo up
    if [ "$kind" = system ]; then
        # A container-style host: a veth pair, its host end a system port.
        ip link add "$name-p" type veth peer name eth0 netns "$name"
        ip link set "$name-p" up
        $RVS add-port "$BR" "$name-p" --tag "$vlan"
        dev=eth0
    else
        # A VM-style host: rvsd creates the tap; its kernel side becomes the host's NIC.
        $RVS add-port "$BR" "$name-t" --type tap --tag "$vlan"
        ip link set "$name-t" netns "$name"
        dev="$name-t"
    fi
    ip -n "$name" addr add "$addr/24" dev "$dev"
    ip -n "$name" link set "$dev" up
done
$RVS show

echo
echo "== who reaches whom (ping, same /24; VLAN 10 = h1,h3; VLAN 20 = h2,h4)"
names=() addrs=()
for h in $HOSTS; do
    IFS=: read -r name kind vlan addr <<<"$h"
    names+=("$name") addrs+=("$addr")
done
printf '%-8s' "from\\to"
for n in "${names[@]}"; do printf '%-8s' "${n#qs-}"; done
echo
for i in "${!names[@]}"; do
    printf '%-8s' "${names[$i]#qs-}"
    for j in "${!names[@]}"; do
        if [ "$i" = "$j" ]; then printf '%-8s' "-"; continue; fi
        if ip netns exec "${names[$i]}" ping -c 3 -i 0.2 -W 1 -q "${addrs[$j]}" >/dev/null 2>&1; then
            printf '%-8s' "yes"
        else
            printf '%-8s' "no"
        fi
    done
    echo
done
echo
$RVS fdb-show "$BR"
cat <<MSG

The network is up. Try:
  ip netns exec qs-h1 ping 10.70.0.3            # same VLAN: answers
  ip netns exec qs-h1 ping -c 2 10.70.0.2       # other VLAN: silent
  $RVS port-stats $BR
  $RVS set-port $BR qs-h2-p --tag 10           # move h2 into VLAN 10, live
Remove it with: $0 down
MSG
