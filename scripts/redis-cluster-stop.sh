#!/usr/bin/env bash
# Stop the Redis Cluster started by scripts/redis-cluster-start.sh [STATE_DIR]:
# only the PIDs it recorded, then remove the state.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR=${1:-$ROOT/.cache/redis-cluster}

alive() {
  kill -0 "$1" 2>/dev/null || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null && return 1
  case "$(cat "/proc/$1/comm" 2>/dev/null)" in redis-server*) return 0 ;; *) return 1 ;; esac
}

if [ -f "$DIR/pids" ]; then
  for pid in $(cat "$DIR/pids"); do
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $(cat "$DIR/pids"); do
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  done
fi
rm -rf "$DIR"
echo "redis-cluster-stop: stopped" >&2
