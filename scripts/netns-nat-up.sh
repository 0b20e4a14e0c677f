#!/bin/sh
# Builds two NATed "functions" and an "internet" on one machine, with network
# namespaces, for testing the direct channel's hole punching (needs root,
# `ip` and `iptables`). Safe to re-run: leftovers of the same prefix (a
# crashed run) are removed first.
#
#   scripts/netns-nat-up.sh [nat] [inbound]
#     nat     default       MASQUERADE keeps the source port when it can (most home NATs)
#             random        MASQUERADE --random: ports chosen at random per mapping
#             random-fully  MASQUERADE --random-fully: a new random port per
#                           connection (a symmetric NAT: cannot be punched)
#     inbound drop          the router silently drops unsolicited inbound SYNs (most CPE)
#             rst           the router's own stack answers them with a RST (plain Linux)
#             X,Y           nat1 does X, nat2 does Y (e.g. rst,drop)
#   env NETNS_PREFIX  namespace name prefix (default "fmi-"), so concurrent users do not collide
#
# Namespaces (prefix omitted):
#   pub   the internet: bridge br0 10.99.0.1/24 (run the rendezvous server here)
#   nat1  router: wan 10.99.0.11, lan 192.168.1.1     f1  function 192.168.1.2
#   nat2  router: wan 10.99.0.12, lan 192.168.2.1     f2  function 192.168.2.2
set -eu
NAT=${1:-default}
INBOUND=${2:-drop}
P=${NETNS_PREFIX:-fmi-}
case $NAT in
  default) MASQ_FLAGS= ;;
  random) MASQ_FLAGS=--random ;;
  random-fully) MASQ_FLAGS=--random-fully ;;
  *) echo "netns-nat-up: nat must be default, random or random-fully, got '$NAT'" >&2; exit 2 ;;
esac
INBOUND1=${INBOUND%,*}
INBOUND2=${INBOUND#*,}
for b in "$INBOUND1" "$INBOUND2"; do
  case $b in drop|rst) ;; *) echo "netns-nat-up: inbound must be drop, rst or X,Y of those, got '$INBOUND'" >&2; exit 2 ;; esac
done

"$(dirname "$0")/netns-nat-down.sh" >/dev/null

in_ns() { ns=$1; shift; ip netns exec "$P$ns" "$@"; }

for ns in pub nat1 nat2 f1 f2; do
  ip netns add "$P$ns"
  ip -n "$P$ns" link set lo up
done

ip -n "${P}pub" link add name br0 type bridge
ip -n "${P}pub" addr add 10.99.0.1/24 dev br0
ip -n "${P}pub" link set br0 up
# The internet does not route between the routers' LANs.
in_ns pub sysctl -qw net.ipv4.ip_forward=0

for i in 1 2; do
  nat=nat$i
  # WAN: router <-> a port of the internet's bridge.
  ip link add name wan netns "$P$nat" type veth peer name port$i netns "${P}pub"
  ip -n "${P}pub" link set port$i master br0 up
  ip -n "$P$nat" addr add 10.99.0.1$i/24 dev wan
  ip -n "$P$nat" link set wan up
  ip -n "$P$nat" route add default via 10.99.0.1
  # LAN: router <-> the function.
  ip link add name lan netns "$P$nat" type veth peer name eth0 netns "${P}f$i"
  ip -n "$P$nat" addr add 192.168.$i.1/24 dev lan
  ip -n "$P$nat" link set lan up
  ip -n "${P}f$i" addr add 192.168.$i.2/24 dev eth0
  ip -n "${P}f$i" link set eth0 up
  ip -n "${P}f$i" route add default via 192.168.$i.1

  in_ns $nat sysctl -qw net.ipv4.ip_forward=1
  # shellcheck disable=SC2086 # MASQ_FLAGS is empty or one flag
  in_ns $nat iptables -t nat -A POSTROUTING -o wan -j MASQUERADE $MASQ_FLAGS
  # A NAT's firewall: from the WAN, only packets of connections the LAN opened
  # get in. Without this, a SYN to a mapped port would be forwarded.
  in_ns $nat iptables -A FORWARD -i wan -o lan -m conntrack --ctstate NEW,INVALID -j DROP
  if [ "$i" = 1 ]; then inbound=$INBOUND1; else inbound=$INBOUND2; fi
  if [ "$inbound" = drop ]; then
    # Otherwise an unsolicited SYN reaches the router's own stack, which resets it.
    in_ns $nat iptables -A INPUT -i wan -p tcp -m conntrack --ctstate NEW,INVALID -j DROP
  fi
done
echo "netns-nat-up: ${P}{pub,nat1,nat2,f1,f2} up, nat=$NAT inbound=$INBOUND"
