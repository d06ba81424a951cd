#!/usr/bin/env bash
# The project's one test command (CI runs it via .ci/run).
#   ./test.sh                              # whole suite
#   ./test.sh test/unit/foo.test.ts        # arguments go to ava
# Steps: Node >= 22.18 (installs Node 24 into .cache/ if needed), npm ci, build,
# chromium for browser tests, S3 + Redis via scripts/stack-up.sh, then ava.
# Everything this script starts is stopped again on exit (success, failure, Ctrl-C).
# If a stack started earlier with scripts/stack-up.sh is still healthy, it is reused
# and left running.
# S3 server: $S3_TEST_ENDPOINT (+ S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY, ...) if set,
# else MinIO (Docker / minio binary), else a throwaway Ceph RADOS Gateway.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$PWD"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
STACK="$ROOT/.cache/stack"
t0=$SECONDS

stop_stack_on_exit

# shellcheck source=scripts/ensure-node.sh
source scripts/ensure-node.sh
echo "test.sh: npm ci" >&2
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
scripts/ensure-chromium.sh

# --- S3 + Redis ------------------------------------------------------------------
stack_state() { # 0: a recorded stack answers (and matches S3_TEST_ENDPOINT if given)
                # 1: none / not answering   2: answering but a different S3 endpoint
  [ -s "$STACK/started" ] && [ -f "$STACK/s3.env" ] && [ -f "$STACK/redis.env" ] || return 1
  (
    wanted=${S3_TEST_ENDPOINT:-}
    source "$STACK/s3.env"; source "$STACK/redis.env"
    case "$(http_status "$S3_TEST_ENDPOINT/")" in [1-5][0-9][0-9]) ;; *) exit 1 ;; esac
    port=${REDIS_TEST_URL##*:}
    if command -v redis-cli >/dev/null 2>&1; then
      [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] || exit 1
    else
      (exec 3<>"/dev/tcp/127.0.0.1/$port") || exit 1
    fi
    [ -z "$wanted" ] || [ "$wanted" = "$S3_TEST_ENDPOINT" ] || exit 2
  ) >/dev/null 2>&1
}
state=0; stack_state || state=$?
case "$state" in
  0) echo "test.sh: reusing the running stack recorded in $STACK/started (not stopping it afterwards)" >&2 ;;
  2) echo "test.sh: a stack from scripts/stack-up.sh is running with another S3 endpoint; stop it first (scripts/stack-down.sh)" >&2
     exit 1 ;;
  *) we_started=1
     scripts/stack-up.sh >/dev/null ;;
esac
source "$STACK/s3.env"
source "$STACK/redis.env"
echo "test.sh: S3 ($S3_TEST_KIND) at $S3_TEST_ENDPOINT, Redis at $REDIS_TEST_URL; setup took $((SECONDS - t0))s" >&2

# --- tests -----------------------------------------------------------------------
set +e
npx ava "$@"
status=$?
set -e
exit "$status"
