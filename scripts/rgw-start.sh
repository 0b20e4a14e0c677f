#!/usr/bin/env bash
# Starts a throw-away S3 server for tests and benchmarks: a single-node Ceph
# cluster (one monitor, one OSD keeping its data in memory, one RADOS Gateway)
# bound to 127.0.0.1, without systemd, everything under one scratch directory.
#
# usage: scripts/rgw-start.sh DIR
#   DIR          scratch directory, created (or emptied, if it holds an earlier
#                cluster of this script); scripts/rgw-stop.sh DIR stops it all
#   RGW_PORT     gateway port (default: a free port)
#   RGW_ACCESS_KEY / RGW_SECRET_KEY   the S3 user's keys
#                (default: fmi-test / fmi-test-secret)
#
# stdout: the gateway's port, alone on one line, once it accepts connections.
# stderr: progress with timings. DIR/rgw.env: RGW_ENDPOINT, RGW_ACCESS_KEY,
# RGW_SECRET_KEY, RGW_REGION for other tools. On any failure the daemons
# already started are stopped again and the exit status is non-zero.
#
# Needs Debian's ceph-mon ceph-osd radosgw ceph-common (scripts/test.sh
# installs them) and node (to find free ports).
set -euo pipefail

DIR=${1:?usage: $0 DIR}
ACCESS=${RGW_ACCESS_KEY:-fmi-test}
SECRET=${RGW_SECRET_KEY:-fmi-test-secret}
HERE=$(cd "$(dirname "$0")" && pwd)
START=$(date +%s%N)
say() { echo "rgw-start: [$(( ($(date +%s%N) - START) / 1000000 )) ms] $*" >&2; }
die() { echo "rgw-start: $*" >&2; exit 1; }

for tool in ceph ceph-mon ceph-osd ceph-authtool monmaptool radosgw radosgw-admin node; do
  command -v "$tool" >/dev/null || die "'$tool' not found. Install Ceph with: apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common (scripts/test.sh does)"
done

if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  [ -f "$DIR/.fmi-rgw" ] || die "$DIR is not empty and was not made by this script; refusing to touch it"
  "$HERE/rgw-stop.sh" "$DIR" --keep >/dev/null 2>&1 || true
  find "$DIR" -mindepth 1 -delete
fi
mkdir -p "$DIR"/{mon,osd,run,log}
DIR=$(cd "$DIR" && pwd)
touch "$DIR/.fmi-rgw"
# From here on, a failure stops whatever was started.
trap 'status=$?; if [ $status -ne 0 ]; then echo "rgw-start: failed, logs in $DIR/log" >&2; "$HERE/rgw-stop.sh" "$DIR" --keep >/dev/null 2>&1 || true; fi' EXIT

free_port() { node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'; }
MON_PORT=$(free_port)
RGW_PORT=${RGW_PORT:-$(free_port)}
FSID=$(cat /proc/sys/kernel/random/uuid)
CONF=$DIR/ceph.conf

# No authentication, one replica, few placement groups: a cluster for one
# machine's tests. The monitor proposes changes every 50 ms instead of every
# second, which takes most of the waiting out of creating pools.
cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
ms bind ipv6 = false
ms mon client mode = crc
ms client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.05
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
keyring = $DIR/keyring

[mon]
mon data = $DIR/mon/\$cluster-\$id
mon cluster log file = $DIR/log/cluster.log

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd max object size = 1073741824
# The whole cluster goes down together: an OSD that waits for the monitor to
# acknowledge its shutdown only adds seconds.
osd fast shutdown notify mon = false

[client.rgw.fmi]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw dns name = 127.0.0.1
EOF

# Monitor.
ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring"
ceph-mon -c "$CONF" -i a -f >"$DIR/log/mon.out" 2>&1 &
echo $! >"$DIR/mon.pid"
ceph -c "$CONF" --connect-timeout 30 status >/dev/null || die "monitor did not answer"
say "monitor up on port $MON_PORT"

# One OSD with its store in memory.
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph -c "$CONF" osd new "$OSD_UUID")
mkdir -p "$DIR/osd/ceph-$OSD_ID"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd-mkfs.out" 2>&1
ceph-osd -c "$CONF" -i "$OSD_ID" -f >"$DIR/log/osd.out" 2>&1 &
echo $! >"$DIR/osd.pid"
up=''
for _ in $(seq 1 300); do
  if ceph -c "$CONF" osd stat 2>/dev/null | grep -q ' 1 up'; then up=1; break; fi
  sleep 0.1
done
[ -n "$up" ] || die "the OSD did not come up"
say "OSD $OSD_ID up"

# The gateway's pools, made up front and all at once: left to radosgw-admin
# and the gateway, they are created one by one, each waiting for its
# placement groups.
pools=(.rgw.root default.rgw.log default.rgw.control default.rgw.meta
       default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec)
pids=()
for p in "${pools[@]}"; do
  ( ceph -c "$CONF" osd pool create "$p" 8 8 >/dev/null 2>&1 &&
    ceph -c "$CONF" osd pool application enable "$p" rgw >/dev/null 2>&1 ) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || die "creating a pool failed"; done
say "pools created"

radosgw-admin -c "$CONF" user create --uid=fmi-test --display-name='fmi tests' \
  --access-key="$ACCESS" --secret-key="$SECRET" >"$DIR/log/user.out" 2>&1 || die "creating the S3 user failed (see $DIR/log/user.out)"
say "S3 user created"

radosgw -c "$CONF" -n client.rgw.fmi -f >"$DIR/log/rgw.out" 2>&1 &
echo $! >"$DIR/rgw.pid"
listening=''
for _ in $(seq 1 600); do
  kill -0 "$(cat "$DIR/rgw.pid")" 2>/dev/null || die "radosgw exited (see $DIR/log/rgw.out)"
  if (exec 3<>"/dev/tcp/127.0.0.1/$RGW_PORT") 2>/dev/null; then listening=1; break; fi
  sleep 0.05
done
[ -n "$listening" ] || die "radosgw did not listen on port $RGW_PORT"

cat >"$DIR/rgw.env" <<EOF
RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
RGW_ACCESS_KEY=$ACCESS
RGW_SECRET_KEY=$SECRET
RGW_REGION=us-east-1
EOF
echo "$RGW_PORT" >"$DIR/rgw.port"
say "gateway listening on http://127.0.0.1:$RGW_PORT (pids: mon $(cat "$DIR/mon.pid"), osd $(cat "$DIR/osd.pid"), rgw $(cat "$DIR/rgw.pid"))"
echo "$RGW_PORT"
