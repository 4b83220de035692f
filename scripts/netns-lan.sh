#!/bin/sh
# Build or tear down a test LAN out of network namespaces, as
# swarm/cli/tests/netns_lan.rs does, for trying things by hand.
#
#   scripts/netns-lan.sh up   PREFIX [HOSTS]   # PREFIX-br + PREFIX-a, -b, ... (10.99.0.1, .2, ...)
#   scripts/netns-lan.sh down PREFIX
#   ip netns exec PREFIX-a swarm share ./zines
#
# Needs root. Addresses 10.99.0.0/24 exist only inside the namespaces;
# no default route, a multicast route on each host, IPv6 off.
set -eu
cmd=${1:?up|down}; p=${2:?prefix}; n=${3:-3}
case "$cmd" in
up)
  ip netns add "$p-br"
  ip -n "$p-br" link set lo up
  ip -n "$p-br" link add br0 type bridge mcast_snooping 0
  ip -n "$p-br" link set br0 up
  i=0
  for h in a b c d e f g h; do
    [ "$i" -lt "$n" ] || break
    i=$((i + 1))
    ns="$p-$h"
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
    ip -n "$p-br" link add "p$i" type veth peer name eth0 netns "$ns"
    ip -n "$p-br" link set "p$i" master br0 up
    ip -n "$ns" addr add "10.99.0.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add 224.0.0.0/4 dev eth0
    echo "$ns 10.99.0.$i"
  done
  ;;
down)
  for ns in $(ip netns list | awk '{print $1}' | grep "^$p-"); do ip netns del "$ns"; done
  ;;
*) echo "usage: $0 up|down PREFIX [HOSTS]" >&2; exit 2 ;;
esac
