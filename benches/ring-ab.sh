#!/bin/bash
# A/B of the system port receive path on a veth pair between two namespaces (names rg-*).
# usage: sudo benches/ring-ab.sh ring|mmsg [QDISC_BYPASS 0|1]   (after cargo build --release)
set -u
MODE=$1; BYP=${2:-0}
B=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/release
D=$(mktemp -d /tmp/rvs-ring-ab.XXXXXX); rm -rf $D; mkdir -p $D
cleanup() { kill $(cat $D/rvsd.pid 2>/dev/null) 2>/dev/null; sleep 0.3; ip netns del rg-na 2>/dev/null; ip netns del rg-nb 2>/dev/null; ip link del rg-va 2>/dev/null; ip link del rg-vb 2>/dev/null; }
cleanup; trap cleanup EXIT
ip netns add rg-na; ip netns add rg-nb
ip link add rg-va type veth peer name rg-pa netns rg-na
ip link add rg-vb type veth peer name rg-pb netns rg-nb
ip link set rg-va up; ip link set rg-vb up
ip -n rg-na addr add 10.84.0.1/24 dev rg-pa; ip -n rg-na link set rg-pa up; ip -n rg-na link set lo up
ip -n rg-nb addr add 10.84.0.2/24 dev rg-pb; ip -n rg-nb link set rg-pb up; ip -n rg-nb link set lo up
RVS_AFPACKET_RX=$MODE RVS_AFPACKET_QDISC_BYPASS=$BYP $B/rvsd --run-dir $D --db $D/conf.db >$D/log 2>&1 &
echo $! > $D/rvsd.pid
sleep 0.5
R="$B/rvs --run-dir $D"
$R add-br rg-br >/dev/null; $R add-port rg-br rg-va >/dev/null; $R add-port rg-br rg-vb >/dev/null
ip netns exec rg-na ping -c 3 -i 0.2 -q 10.84.0.2 | tail -1
echo "ping latency:"; ip netns exec rg-na ping -c 200 -i 0.005 -q 10.84.0.2 | tail -1
ip netns exec rg-nb iperf3 -s -D -1 -p 5201 >/dev/null; sleep 0.3
echo "TCP offloads on:"; ip netns exec rg-na iperf3 -c 10.84.0.2 -p 5201 -t 5 -f g | grep -E "sender|receiver"
ip netns exec rg-na ethtool -K rg-pa tx off tso off gso off >/dev/null 2>&1
ip netns exec rg-nb ethtool -K rg-pb tx off tso off gso off >/dev/null 2>&1
ip netns exec rg-nb iperf3 -s -D -1 -p 5202 >/dev/null; sleep 0.3
echo "TCP offloads off:"; ip netns exec rg-na iperf3 -c 10.84.0.2 -p 5202 -t 5 -f g | grep -E "sender|receiver"
ip netns exec rg-nb iperf3 -s -D -1 -p 5203 >/dev/null; sleep 0.3
echo "UDP 64B:"; ip netns exec rg-na iperf3 -c 10.84.0.2 -p 5203 -u -b 0 -l 64 -t 5 | grep -E "sender|receiver"
$R port-stats rg-br
