#!/usr/bin/env bash
# Stop the Redis started by ./redis-start.sh (only the recorded PID / container).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="$ROOT/.cache/redis"

alive() {
  kill -0 "$1" 2>/dev/null || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null && return 1
  case "$(cat "/proc/$1/comm" 2>/dev/null)" in redis-server*|redis-check*) return 0 ;; *) return 1 ;; esac
}

if [ -s "$DIR/container" ]; then
  docker rm -f "$(cat "$DIR/container")" >/dev/null 2>&1 || true
fi
if [ -s "$DIR/pid" ]; then
  pid=$(cat "$DIR/pid")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
fi
rm -rf "$DIR" "$ROOT/.cache/stack/redis.env"
echo "redis-stop: stopped" >&2
