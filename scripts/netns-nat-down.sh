#!/bin/sh
# Removes what scripts/netns-nat-up.sh built (same NETNS_PREFIX). Deleting a
# namespace takes its veths, bridge and iptables rules with it. Never fails:
# it also runs before every bring-up to clear a crashed run's leftovers.
P=${NETNS_PREFIX:-fmi-}
for ns in f1 f2 nat1 nat2 pub; do
  ip netns del "$P$ns" 2>/dev/null || true
done
echo "netns-nat-down: ${P}* removed"
