#!/usr/bin/env bash
# Start the test stack (S3 + Redis) and leave it running:
#   S3:    $S3_TEST_ENDPOINT as given (external; S3_TEST_ACCESS_KEY/S3_TEST_SECRET_KEY required),
#          else ./minio-start.sh, else scripts/rgw-start.sh
#   Redis: ./redis-start.sh
# Writes .cache/stack/s3.env and .cache/stack/redis.env, and records what it started in
# .cache/stack/started so scripts/stack-down.sh stops exactly that. Typical use:
#   scripts/stack-up.sh && source .cache/stack/s3.env && source .cache/stack/redis.env
#   npx ava test/...   # as often as you like
#   scripts/stack-down.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$ROOT/.cache/stack"
STARTED="$STACK/started"
log() { echo "stack-up: $*" >&2; }

if [ -s "$STARTED" ]; then
  log "a previous stack is recorded; stopping it first"
  "$ROOT/scripts/stack-down.sh" || true
fi
mkdir -p "$STACK"
: >"$STARTED"
# Record intent *before* starting, so stack-down (or a caller's trap) cleans up even
# if we are interrupted half-way; every stop script is a no-op when nothing runs.
started() { echo "$1" >>"$STARTED"; }
on_fail() { log "failed; stopping what was started"; "$ROOT/scripts/stack-down.sh" || true; }
trap 'rc=$?; [ "$rc" -eq 0 ] || on_fail; exit "$rc"' EXIT

# --- S3 ------------------------------------------------------------------------
if [ -n "${S3_TEST_ENDPOINT:-}" ]; then
  : "${S3_TEST_ACCESS_KEY:?S3_TEST_ENDPOINT is set, so S3_TEST_ACCESS_KEY must be set too}"
  : "${S3_TEST_SECRET_KEY:?S3_TEST_ENDPOINT is set, so S3_TEST_SECRET_KEY must be set too}"
  log "using external S3 at $S3_TEST_ENDPOINT"
  started external-s3
  umask 077
  {
    echo "# External S3 given by the environment when scripts/stack-up.sh ran."
    echo "export S3_TEST_KIND=${S3_TEST_KIND:-external}"
    echo "export S3_TEST_REGION=${S3_TEST_REGION:-eu-west-2}"
    for v in S3_TEST_ENDPOINT S3_TEST_ACCESS_KEY S3_TEST_SECRET_KEY \
             S3_TEST_LIMITED_ACCESS_KEY S3_TEST_LIMITED_SECRET_KEY S3_TEST_LIMITED_PRINCIPAL; do
      [ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
    done
  } >"$STACK/s3.env"
  umask 022
elif started minio && "$ROOT/minio-start.sh"; then
  :
else
  sed -i '/^minio$/d' "$STARTED"
  log "falling back to a local Ceph RADOS Gateway"
  started rgw
  "$ROOT/scripts/rgw-start.sh"
fi

# --- Redis ---------------------------------------------------------------------
started redis
"$ROOT/redis-start.sh"

echo "$STACK/s3.env"
echo "$STACK/redis.env"
