#!/usr/bin/env bash
# Stop the throwaway RGW started by scripts/rgw-start.sh: kills only the PIDs it
# recorded in .cache/rgw/pids, waits for them to exit, then removes the state.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.cache/rgw"
PIDFILE="$DIR/pids"

# alive = running, not a zombie, and still one of our daemons (guards against PID reuse)
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null && return 1
  case "$(cat "/proc/$1/comm" 2>/dev/null)" in ceph-mon|ceph-osd|radosgw*) return 0 ;; *) return 1 ;; esac
}

stop_pid() { # SIGTERM, wait up to 5 s, then SIGKILL; only ever the given PID
  local pid=$1
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do alive "$pid" || return 0; sleep 0.05; done
  echo "rgw-stop: PID $pid ignored SIGTERM, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do alive "$pid" || return 0; sleep 0.05; done
}

if [ -f "$PIDFILE" ]; then
  # one at a time, in reverse start order (radosgw, osd, mon): radosgw shuts down
  # slowly when the cluster vanishes underneath it
  for pid in $(tac "$PIDFILE"); do
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    stop_pid "$pid"
  done
fi
rm -rf "$DIR"
# only remove the env file if it describes this RGW
if [ -f "$ROOT/.cache/stack/s3.env" ] && grep -q '^export S3_TEST_KIND=rgw$' "$ROOT/.cache/stack/s3.env"; then
  rm -f "$ROOT/.cache/stack/s3.env"
fi
echo "rgw-stop: stopped" >&2
