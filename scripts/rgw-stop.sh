#!/usr/bin/env bash
# Stops the cluster scripts/rgw-start.sh DIR started and removes DIR.
#
# usage: scripts/rgw-stop.sh DIR [--keep]
#   --keep   leave DIR (logs, config) in place
#
# The gateway goes first: once the monitor and the OSD are gone it no longer
# reacts to SIGTERM. Each daemon gets 5 s to exit, then SIGKILL.
set -uo pipefail

DIR=${1:?usage: $0 DIR [--keep]}
KEEP=${2:-}
[ -d "$DIR" ] || exit 0
[ -f "$DIR/.fmi-rgw" ] || { echo "rgw-stop: $DIR was not made by scripts/rgw-start.sh; leaving it alone" >&2; exit 1; }

# A daemon that has exited but was not reaped yet (its parent is gone) counts as stopped.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

# Waits up to 5 s for each of the given daemons, then SIGKILLs what is left.
stop() {
  local pids=() daemon pid
  for daemon in "$@"; do
    [ -f "$DIR/$daemon.pid" ] || continue
    pid=$(cat "$DIR/$daemon.pid")
    kill "$pid" 2>/dev/null && pids+=("$daemon:$pid")
  done
  for entry in "${pids[@]}"; do
    daemon=${entry%%:*}; pid=${entry#*:}
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.05
    done
    if alive "$pid"; then
      echo "rgw-stop: $daemon (pid $pid) ignored SIGTERM, killing it" >&2
      kill -9 "$pid" 2>/dev/null
    fi
  done
  for daemon in "$@"; do rm -f "$DIR/$daemon.pid"; done
}

stop rgw
stop osd mon

[ "$KEEP" = "--keep" ] || rm -rf "$DIR"
