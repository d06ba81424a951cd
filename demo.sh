#!/usr/bin/env bash
# A local s3proxy to click around in, from a fresh clone:
#   ./demo.sh            (or: npm run demo)
# Node >= 22.18, dependencies, the build (when the sources changed), then
# S3 + Redis from scripts/stack-up.sh (unless S3_TEST_ENDPOINT and
# REDIS_TEST_URL already name a running stack, which is then used and left
# alone), then scripts/demo/run.ts: an OpenID provider with
# a demo user, a seeded bucket and the proxy on http://localhost:8080 (DEMO_PORT).
# Ctrl-C stops everything this started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD
STACK="$ROOT/.cache/stack"

# shellcheck source=scripts/ensure-node.sh
source scripts/ensure-node.sh >&2
if [ ! -d node_modules ]; then
  echo "demo: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
# Build only when the sources are newer than the last complete build: a rebuild
# empties and rewrites dist/, under any proxy starting from it at that moment
# (the test suite runs this script while other tests start dist/main.js).
if [ ! -f dist/.built ] || [ -n "$(find src scripts/build.ts package.json package-lock.json tsconfig.json tsconfig.build.json -newer dist/.built -print -quit)" ]; then
  npm run build --silent
fi

if [ -n "${S3_TEST_ENDPOINT:-}" ] && [ -n "${REDIS_TEST_URL:-}" ]; then
  echo "demo: using the running stack (S3 at $S3_TEST_ENDPOINT, Redis at $REDIS_TEST_URL)" >&2
  exec node scripts/demo/run.ts
fi

# A stack someone started with scripts/stack-up.sh and left running is theirs:
# use it, and leave it running afterwards.
answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
if [ -s "$STACK/started" ] && [ -f "$STACK/s3.env" ] && [ -f "$STACK/redis.env" ] &&
  ( source "$STACK/s3.env"; source "$STACK/redis.env"
    hostport=${S3_TEST_ENDPOINT#*://}; hostport=${hostport%%/*}
    answers "${hostport%:*}" "${hostport##*:}" && answers 127.0.0.1 "${REDIS_TEST_URL##*:}" ); then
  echo "demo: using the stack recorded in $STACK (leaving it running)" >&2
  source "$STACK/s3.env"; source "$STACK/redis.env"
  exec node scripts/demo/run.ts
fi

cleanup() {
  trap - EXIT INT TERM
  if [ -n "${demo_pid:-}" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  echo "demo: stopping S3 and Redis" >&2
  scripts/stack-down.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "demo: starting S3 and Redis (scripts/stack-up.sh)" >&2
scripts/stack-up.sh >/dev/null
source "$STACK/s3.env"
source "$STACK/redis.env"

# In the background so that this shell sees signals at once (bash runs traps
# only between commands), and stops the stack once the demo has stopped.
node scripts/demo/run.ts &
demo_pid=$!
set +e
wait "$demo_pid"
status=$?
set -e
demo_pid=
exit "$status"
