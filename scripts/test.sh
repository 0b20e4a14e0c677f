#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, builds, and runs the whole suite.
# This is README's test command; .ci/run calls it. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# Services the channel tests start on free ports themselves: a real Redis and
# a real S3 server (Ceph RADOS Gateway), both from Debian's packages.
# Emscripten (Debian's 3.1.6) compiles the C MPI test programs.
# Open MPI (openmpi-bin, libopenmpi-dev) runs some of them natively too: the reference they must agree with.
# iproute2 and iptables build the NATs the hole-punching tests cross (test/nat.test.ts)
# and the network partition of test/faults/partition.test.ts.
# openssl makes the self-signed certificate of test/security/rendezvous-tls.test.ts.
# openmpi-bin's mpirun starts ranks that take their rank from it (test/scheduler-env.test.ts).
APT_PACKAGES=(redis-server ceph-mon ceph-osd radosgw ceph-common bc emscripten iproute2 iptables openssl openmpi-bin libopenmpi-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm run build
npx vitest run
