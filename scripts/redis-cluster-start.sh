#!/usr/bin/env bash
# A throwaway three-master Redis Cluster for tests: loopback, free ports, no
# persistence, no replicas.
#   redis-cluster-start.sh [STATE_DIR]    default .cache/redis-cluster
# PIDs in STATE_DIR/pids, node URLs in STATE_DIR/urls (one per line); prints the
# comma-separated node URLs. Stop with scripts/redis-cluster-stop.sh [STATE_DIR].
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
DIR=${1:-$ROOT/.cache/redis-cluster}
log() { echo "redis-cluster-start: $*" >&2; }

for bin in redis-server redis-cli; do
  command -v "$bin" >/dev/null 2>&1 || { log "$bin missing: install the Debian package redis-server"; exit 1; }
done


[ -f "$DIR/pids" ] && "$ROOT/scripts/redis-cluster-stop.sh" "$DIR" || true
rm -rf "$DIR"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
: >"$DIR/pids"
fail() {
  log "$*"
  for f in "$DIR"/*.log; do [ -f "$f" ] && { echo "--- $f (tail)" >&2; tail -n 10 "$f" >&2; }; done
  "$ROOT/scripts/redis-cluster-stop.sh" "$DIR" >&2 || true
  exit 1
}

ports=()
while [ "${#ports[@]}" -lt 3 ]; do
  p=$(free_port)
  # a cluster node also listens on PORT+10000 (the cluster bus): both must be free
  [ "$p" -lt 55535 ] || continue
  case " ${ports[*]} " in *" $p "*) continue ;; esac
  ports+=("$p")
done

for p in "${ports[@]}"; do
  mkdir -p "$DIR/$p"
  setsid redis-server --bind 127.0.0.1 --port "$p" --cluster-enabled yes \
    --cluster-config-file "$DIR/$p/nodes.conf" --cluster-node-timeout 2000 \
    --save '' --appendonly no --daemonize no --dir "$DIR/$p" --logfile "$DIR/$p.log" \
    </dev/null >/dev/null 2>&1 &
  echo "$!" >>"$DIR/pids"
done
for p in "${ports[@]}"; do
  for _ in $(seq 1 100); do
    [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
  done
  [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null)" = PONG ] || fail "node 127.0.0.1:$p did not answer PING"
done

redis-cli --cluster create $(for p in "${ports[@]}"; do printf '127.0.0.1:%s ' "$p"; done) \
  --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 || fail "redis-cli --cluster create failed (see $DIR/create.log)"

# create returns once slots are assigned; every node must agree before clients arrive
ok=
for _ in $(seq 1 200); do
  ok=1
  for p in "${ports[@]}"; do
    redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ok=; break; }
  done
  [ -n "$ok" ] && break
  sleep 0.05
done
[ -n "$ok" ] || fail "cluster_state did not become ok"

: >"$DIR/urls"
for p in "${ports[@]}"; do echo "redis://127.0.0.1:$p" >>"$DIR/urls"; done
paste -sd, "$DIR/urls"
log "ready: $(paste -sd' ' "$DIR/urls")"
