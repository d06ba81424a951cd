#!/usr/bin/env bash
# Stop exactly what scripts/stack-up.sh recorded in .cache/stack/started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$ROOT/.cache/stack"
STARTED="$STACK/started"

[ -f "$STARTED" ] || { echo "stack-down: nothing recorded" >&2; exit 0; }
rc=0
# reverse order of start
for what in $(tac "$STARTED"); do
  case "$what" in
    redis) "$ROOT/redis-stop.sh" || rc=1 ;;
    rgw) "$ROOT/scripts/rgw-stop.sh" || rc=1 ;;
    minio) "$ROOT/minio-stop.sh" || rc=1 ;;
    external-s3) rm -f "$STACK/s3.env" ;;
  esac
done
rm -f "$STARTED"
exit "$rc"
