#!/usr/bin/env bash
# An EXTRA radosgw process against the Ceph cluster that scripts/rgw-start.sh
# started, so that a test can SIGKILL / SIGSTOP "S3" without disturbing the
# shared gateway every other test file uses. Same zone, same users, same data:
# objects written through the shared gateway are readable through this one.
#
#   rgw-gateway.sh start STATE_DIR [PORT]   start; prints "PORT PID"
#   rgw-gateway.sh kill  STATE_DIR          SIGKILL it (a crash), then release its watches
#   rgw-gateway.sh stop  STATE_DIR          stop only the PID recorded in STATE_DIR
#
# Every radosgw watches the zone's control objects, and a metadata write by
# any gateway (a bucket created by another test file, say) waits for every
# watcher to answer. A SIGKILLed gateway's watches linger for the OSD's watch
# timeout (30 s), stalling the shared gateway meanwhile, so after a crash this
# script blocklists the dead client, which drops its watches at once. The
# extra gateway runs without its metadata cache, so its own start does not
# wait on a predecessor's watches either.
#
# The cluster is found through S3_TEST_CEPH_CONF (written into s3.env by
# rgw-start.sh). STATE_DIR holds this gateway's pid, port, logs and admin socket;
# it must be private to the caller. A restart on the same PORT is how a test
# brings "S3" back after killing it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { echo "rgw-gateway: $*" >&2; }
usage() { log "usage: $0 start STATE_DIR [PORT] | stop STATE_DIR"; exit 2; }

[ $# -ge 2 ] || usage
CMD=$1
DIR=$2

running() { # exists and is not a zombie
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
alive() { # running and still a radosgw (guards against PID reuse)
  running "$1" || return 1
  case "$(cat "/proc/$1/comm" 2>/dev/null)" in radosgw*) return 0 ;; *) return 1 ;; esac
}

CONF=${S3_TEST_CEPH_CONF:?S3_TEST_CEPH_CONF is not set: source the s3.env written by scripts/rgw-start.sh}
[ -f "$CONF" ] || { log "no Ceph configuration at $CONF"; exit 1; }

control_pool() { timeout 10 rados -c "$CONF" lspools 2>/dev/null | grep '\.rgw\.control$' | head -n 1; }
watchers() { # client addresses watching the zone's first control object, sorted
  local pool
  pool=$(control_pool)
  [ -n "$pool" ] || return 0
  timeout 10 rados -c "$CONF" -p "$pool" listwatchers notify.0 2>/dev/null | sed -n 's/^watcher=\([^ ]*\) .*/\1/p' | sort
}

forget() { # a dead gateway's watches: drop them now instead of in 30 s
  [ -s "$DIR/addr" ] || return 0
  local pid
  pid=$(cat "$DIR/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && alive "$pid"; then return 0; fi
  for addr in $(cat "$DIR/addr"); do
    timeout 20 ceph -c "$CONF" osd blocklist add "$addr" 3600 >/dev/null 2>&1 || log "could not blocklist $addr"
  done
  rm -f "$DIR/addr"
}

stop() {
  if [ ! -f "$DIR/pid" ]; then forget; return 0; fi
  local pid
  pid=$(cat "$DIR/pid")
  case "$pid" in ''|*[!0-9]*) rm -f "$DIR/pid"; return 0 ;; esac
  if alive "$pid"; then
    # a stopped process cannot act on SIGTERM
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do alive "$pid" || break; sleep 0.05; done
    fi
  fi
  forget
  rm -f "$DIR/pid"
}



case "$CMD" in
  stop)
    stop
    ;;
  kill)
    pid=$(cat "$DIR/pid" 2>/dev/null || true)
    case "$pid" in ''|*[!0-9]*) log "no gateway recorded in $DIR"; exit 1 ;; esac
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.02; done
    forget
    ;;
  start)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    stop
    PORT=${3:-$(free_port)}
    before=$(watchers)
    # its own instance name, so its admin socket and logs do not clash with the
    # shared gateway's (client.rgw); a per-directory suffix keeps several test
    # files' extra gateways apart too
    NAME="client.rgwx$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)"
    setsid radosgw -f -c "$CONF" -n "$NAME" \
      --rgw-frontends "beast endpoint=127.0.0.1:$PORT tcp_nodelay=1" \
      --admin-socket "$DIR/radosgw.asok" --log-file "$DIR/radosgw.log" \
      --rgw-data "$DIR" --rgw-cache-enabled=false \
      </dev/null >"$DIR/radosgw.out" 2>&1 &
    PID=$!
    echo "$PID" >"$DIR/pid"
    echo "$PORT" >"$DIR/port"
    ready=
    for _ in $(seq 1 300); do
      # not alive(): for a moment after the fork the child is still bash or
      # setsid, not yet radosgw (CI once gave up on a gateway at that moment);
      # it is our own child, so its PID cannot have been reused
      running "$PID" || break
      case "$(http_status "http://127.0.0.1:$PORT/")" in [1-5][0-9][0-9]) ready=1; break ;; esac
      sleep 0.1
    done
    if [ -z "$ready" ]; then
      if running "$PID"; then log "radosgw did not answer on 127.0.0.1:$PORT within 30 s"
      else log "radosgw exited before it answered on 127.0.0.1:$PORT"; fi
      tail -n 20 "$DIR/radosgw.out" "$DIR/radosgw.log" >&2 2>/dev/null || true
      stop
      exit 1
    fi
    # its client address, to blocklist after a crash: the watcher that is new
    comm -13 <(printf '%s\n' "$before") <(watchers) | grep -v '^$' >"$DIR/addr" || true
    echo "$PORT $PID"
    ;;
  *) usage ;;
esac
