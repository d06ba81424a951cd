#!/usr/bin/env bash
# The benchmark: `npm run bench [-- --soak [--soak-minutes N]]` (options: scripts/bench/run.ts).
# Uses the running S3 + Redis when S3_TEST_ENDPOINT and REDIS_TEST_URL are set
# (e.g. after `source .cache/stack/s3.env; source .cache/stack/redis.env`),
# else starts them with scripts/stack-up.sh and stops them again on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
stop_stack_on_exit

# shellcheck source=scripts/ensure-node.sh
source scripts/ensure-node.sh

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing wrk" >&2
    apt_install wrk
  else
    echo "bench.sh: wrk is needed (Debian: apt-get install wrk)" >&2
    exit 1
  fi
fi

# A thousand slow clients hold two sockets each in the proxy and one in the bench.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
if [ "$(ulimit -n)" -lt 4096 ]; then
  echo "bench.sh: open-file limit $(ulimit -n) is below 4096; the 1,000-client memory run will fail" >&2
fi

npm run build --silent

if [ -n "${S3_TEST_ENDPOINT:-}" ] && [ -n "${REDIS_TEST_URL:-}" ]; then
  echo "bench.sh: using the running stack: S3 at $S3_TEST_ENDPOINT, Redis at $REDIS_TEST_URL" >&2
else
  we_started=1
  scripts/stack-up.sh >/dev/null
  # shellcheck disable=SC1091
  source .cache/stack/s3.env
  # shellcheck disable=SC1091
  source .cache/stack/redis.env
fi

node scripts/bench/run.ts "$@"
