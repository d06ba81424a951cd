#!/usr/bin/env bash
# Start a throwaway Redis for tests (loopback, free port, no persistence).
# Docker when an engine answers, else the redis-server binary (installed from
# Debian when missing and root). PID (or container id) in .cache/redis/.
# On success writes .cache/stack/redis.env. Stop with ./redis-stop.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
DIR="$ROOT/.cache/redis"
STACK="$ROOT/.cache/stack"
log() { echo "redis-start: $*" >&2; }



if [ -f "$DIR/pid" ] || [ -f "$DIR/container" ]; then
  log "stopping previous instance"
  "$ROOT/redis-stop.sh" || true
fi
rm -rf "$DIR"
mkdir -p "$DIR" "$STACK"
PORT=$(free_port)

if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
  docker run -d --rm -p "127.0.0.1:$PORT:6379" redis:7-alpine \
    redis-server --save '' --appendonly no >"$DIR/container"
  ping() { docker exec "$(cat "$DIR/container")" redis-cli ping 2>/dev/null; }
  how="docker container $(cut -c1-12 "$DIR/container")"
else
  if ! command -v redis-server >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { log "redis-server missing and not root; install Debian package redis-server"; exit 1; }
    log "installing redis-server"
    apt_install redis-server
  fi
  # foreground process in its own session, backgrounded; PID recorded
  setsid redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no \
    --daemonize no --dir "$DIR" --logfile "$DIR/redis.log" </dev/null >/dev/null 2>&1 &
  echo "$!" >"$DIR/pid"
  ping() { redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null; }
  how="redis-server PID $(cat "$DIR/pid")"
fi

for _ in $(seq 1 100); do
  [ "$(ping)" = PONG ] && break
  sleep 0.1
done
if [ "$(ping)" != PONG ]; then
  log "Redis did not answer PING on 127.0.0.1:$PORT"
  tail -n 20 "$DIR/redis.log" >&2 2>/dev/null || true
  "$ROOT/redis-stop.sh" || true
  exit 1
fi

echo "export REDIS_TEST_URL=redis://127.0.0.1:$PORT" >"$STACK/redis.env.tmp"
mv "$STACK/redis.env.tmp" "$STACK/redis.env"
log "ready at redis://127.0.0.1:$PORT ($how); env: $STACK/redis.env"
