#!/usr/bin/env bash
# Stop the MinIO started by ./minio-start.sh (only the recorded container / PID).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="$ROOT/.cache/minio"

alive() {
  kill -0 "$1" 2>/dev/null || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null && return 1
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = minio ]
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
rm -rf "$DIR"
if [ -f "$ROOT/.cache/stack/s3.env" ] && grep -q '^export S3_TEST_KIND=minio$' "$ROOT/.cache/stack/s3.env"; then
  rm -f "$ROOT/.cache/stack/s3.env"
fi
echo "minio-stop: stopped" >&2
