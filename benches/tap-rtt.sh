#!/bin/bash
# A veth host (system port) and a tap host (tap port) on one rvsd bridge; 1000 pings 1 ms
# apart, twice. Run from anywhere after `cargo build --release -p rvsd -p rvs`, as root:
#   bash benches/tap-rtt.sh ""   and   bash benches/tap-rtt.sh "--rx-steering cpu"
set -u
R=${RVS_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release}; D=/tmp/tb-run
cleanup() { [ -f $D/pid ] && kill $(cat $D/pid) 2>/dev/null; sleep 0.3; ip -n tb-h2 link del tb-tap 2>/dev/null; ip link del tb-tap 2>/dev/null; ip link del tb-h1p 2>/dev/null; ip netns del tb-h1 2>/dev/null; ip netns del tb-h2 2>/dev/null; rm -rf $D; }
cleanup; mkdir -p $D
trap cleanup EXIT
$R/rvsd $1 --run-dir $D --db $D/db > $D/log 2>&1 & echo $! > $D/pid
for _ in $(seq 100); do [ -S $D/rvsd.sock ] && break; sleep 0.05; done
ip netns add tb-h1; ip netns add tb-h2
for n in tb-h1 tb-h2; do ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip -n $n link set lo up; done
ip link add tb-h1p type veth peer name tb-h1v netns tb-h1; ip link set tb-h1p up
ip -n tb-h1 addr add 10.88.0.1/24 dev tb-h1v; ip -n tb-h1 link set tb-h1v up
ethtool -K tb-h1p tx off >/dev/null 2>&1; ip netns exec tb-h1 ethtool -K tb-h1v tx off >/dev/null 2>&1
$R/rvs --run-dir $D add-br br0; $R/rvs --run-dir $D add-port br0 tb-h1p --type system; $R/rvs --run-dir $D add-port br0 tb-tap --type tap
ip link set tb-tap netns tb-h2; ip -n tb-h2 addr add 10.88.0.2/24 dev tb-tap; ip -n tb-h2 link set tb-tap up
$R/rvs --run-dir $D show | grep -E "Port|status"
ip netns exec tb-h1 ping -c 3 -W 1 -q 10.88.0.2 > /dev/null || { echo no ping; cat $D/log; exit 1; }
for i in 1 2; do
ip netns exec tb-h1 ping -c 1000 -i 0.001 10.88.0.2 2>/dev/null | python3 -c '
import sys,re
v=sorted(float(m.group(1)) for m in (re.search(r"time=([\d.]+)",l) for l in sys.stdin) if m)
print("n=%d p50=%.0f p99=%.0f us"%(len(v),v[len(v)//2]*1000,v[int(len(v)*.99)]*1000))'
done
