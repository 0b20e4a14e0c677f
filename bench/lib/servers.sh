#!/usr/bin/env bash
# Starts the servers a benchmark needs and stops them again when the
# benchmark goes away, however it goes (normal end, Ctrl-C, SIGTERM, even
# SIGKILL): the benchmark holds this script's stdin open and never writes to
# it; EOF on stdin means "stop now". bench/lib/servers.mjs drives it.
#
# usage: bench/lib/servers.sh DIR [redis] [rgw]
#   DIR    a fresh scratch directory (logs; the RGW cluster under DIR/rgw);
#          removed at the end
#   redis  a redis-server on a free loopback port, no persistence
#   rgw    a Ceph RADOS Gateway through scripts/rgw-start.sh (a few seconds)
#
# stdout: KEY=VALUE lines (REDIS_URL, REDIS_PID, RGW_ENDPOINT, RGW_ACCESS_KEY,
# RGW_SECRET_KEY, RGW_REGION, RGW_PIDS), then READY. Then it waits. At EOF on
# stdin or on SIGTERM/SIGINT/SIGHUP it stops what it started, removes DIR,
# prints STOPPED on stderr and exits. A failure to start prints the reason on
# stderr, stops what was started and exits non-zero before READY.
set -uo pipefail

DIR=${1:?usage: $0 DIR [redis] [rgw]}
shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RGW_DIR="$DIR/rgw"
REDIS_PID=''
STARTER=''

say() { echo "servers: $*" >&2; }

# A process that has exited but was not reaped yet counts as gone.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [ -n "$STARTER" ] && alive "$STARTER"; then
    # rgw-start.sh stops what it already started when it fails (its EXIT trap).
    kill "$STARTER" 2>/dev/null
    wait "$STARTER" 2>/dev/null
  fi
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null
    for _ in $(seq 1 100); do
      alive "$REDIS_PID" || break
      sleep 0.05
    done
    if alive "$REDIS_PID"; then
      say "redis-server (pid $REDIS_PID) ignored SIGTERM, killing it"
      kill -9 "$REDIS_PID" 2>/dev/null
    fi
    wait "$REDIS_PID" 2>/dev/null
  fi
  if [ -f "$RGW_DIR/.fmi-rgw" ]; then "$ROOT/scripts/rgw-stop.sh" "$RGW_DIR" >&2; fi
  rm -rf "$DIR"
  echo "STOPPED" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

free_port() { node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'; }

mkdir -p "$DIR"
for what in "$@"; do
  case "$what" in
    redis)
      command -v redis-server >/dev/null || { say "redis-server not found (apt-get install redis-server)"; exit 1; }
      port=$(free_port)
      redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        </dev/null >"$DIR/redis.log" 2>&1 &
      REDIS_PID=$!
      up=''
      for _ in $(seq 1 200); do
        alive "$REDIS_PID" || { say "redis-server exited: $(tail -n 5 "$DIR/redis.log")"; exit 1; }
        if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then up=1; break; fi
        sleep 0.05
      done
      [ -n "$up" ] || { say "redis-server did not answer on port $port"; exit 1; }
      echo "REDIS_URL=redis://127.0.0.1:$port"
      echo "REDIS_PID=$REDIS_PID"
      ;;
    rgw)
      # In the background, so a signal is handled while it starts (wait is interruptible).
      "$ROOT/scripts/rgw-start.sh" "$RGW_DIR" </dev/null >"$DIR/rgw-start.out" 2>"$DIR/rgw-start.err" &
      STARTER=$!
      wait "$STARTER"
      rc=$?
      STARTER=''
      if [ $rc -ne 0 ]; then
        say "scripts/rgw-start.sh failed ($rc):"
        cat "$DIR/rgw-start.err" >&2
        exit 1
      fi
      sed -n 's/^\(RGW_[A-Z_]*=.*\)$/\1/p' "$RGW_DIR/rgw.env"
      echo "RGW_PIDS=$(cat "$RGW_DIR"/*.pid 2>/dev/null | tr '\n' ' ')"
      ;;
    *)
      say "unknown server $what (redis, rgw)"
      exit 2
      ;;
  esac
done
echo READY

# Wait for EOF (or a line) on stdin; `read` returns at once when the parent is gone.
read -r _ || true
exit 0
