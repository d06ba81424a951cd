#!/usr/bin/env bash
# Start a throwaway MinIO as the test S3 server: `docker run` when a Docker engine
# answers, else a `minio` binary on PATH (loopback, data in .cache/minio), else fail.
# On success writes .cache/stack/s3.env. Stop with ./minio-stop.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
DIR="$ROOT/.cache/minio"
STACK="$ROOT/.cache/stack"
REGION="${S3_TEST_REGION:-eu-west-2}"
log() { echo "minio-start: $*" >&2; }

rand() { head -c 90 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }

if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
  mode=docker
elif command -v minio >/dev/null 2>&1; then
  mode=binary
else
  echo "MinIO unavailable: no Docker engine and no minio binary on PATH" >&2
  exit 1
fi

if [ -f "$DIR/pid" ] || [ -f "$DIR/container" ]; then "$ROOT/minio-stop.sh" || true; fi
rm -rf "$DIR"
mkdir -p "$DIR/data" "$STACK"
PORT=$(free_port)
EP="http://127.0.0.1:$PORT"
ADMIN_AK=s3proxytestadmin
ADMIN_SK=$(rand 40)
export MINIO_ROOT_USER=$ADMIN_AK MINIO_ROOT_PASSWORD=$ADMIN_SK MINIO_REGION=$REGION MINIO_SITE_REGION=$REGION

if [ "$mode" = docker ]; then
  docker run -d --rm -p "127.0.0.1:$PORT:9000" \
    -e MINIO_ROOT_USER -e MINIO_ROOT_PASSWORD -e MINIO_REGION -e MINIO_SITE_REGION \
    minio/minio server /data >"$DIR/container"
  mc() { docker exec "$(cat "$DIR/container")" mc "$@"; }   # the image ships mc
  MC_EP=http://127.0.0.1:9000
  have_mc=1
else
  setsid minio server --address "127.0.0.1:$PORT" --console-address 127.0.0.1:0 "$DIR/data" \
    </dev/null >"$DIR/minio.log" 2>&1 &
  echo "$!" >"$DIR/pid"
  MC_EP=$EP
  # `mc` must be MinIO's client, not Midnight Commander
  if command -v mc >/dev/null 2>&1 && mc --version 2>/dev/null | grep -qi minio; then
    have_mc=1
    export MC_CONFIG_DIR="$DIR/mc"
  else
    have_mc=
  fi
fi

ready=
for _ in $(seq 1 300); do
  if [ "$(http_status "$EP/minio/health/live")" = 200 ]; then ready=1; break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  log "MinIO did not become ready on $EP"; tail -n 20 "$DIR/minio.log" >&2 2>/dev/null || true
  "$ROOT/minio-stop.sh" || true; exit 1
fi

limited=
if [ -n "$have_mc" ]; then
  # MinIO ignores bucket-policy principals other than anonymous ("*"), so the limited
  # user gets s3:GetObject on every bucket through an IAM policy instead.
  LIMITED_AK=s3proxytestlimited
  LIMITED_SK=$(rand 40)
  pol='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::*/*"]}]}'
  if mc alias set s3proxytest "$MC_EP" "$ADMIN_AK" "$ADMIN_SK" >/dev/null &&
     mc admin user add s3proxytest "$LIMITED_AK" "$LIMITED_SK" >/dev/null &&
     if [ "$mode" = docker ]; then
       docker exec -i "$(cat "$DIR/container")" sh -c 'cat >/tmp/getonly.json' <<<"$pol"; f=/tmp/getonly.json
     else
       f="$DIR/getonly.json"; printf '%s' "$pol" >"$f"
     fi &&
     { mc admin policy create s3proxytest getonly "$f" >/dev/null 2>&1 || mc admin policy add s3proxytest getonly "$f" >/dev/null; } &&
     { mc admin policy attach s3proxytest getonly --user "$LIMITED_AK" >/dev/null 2>&1 || mc admin policy set s3proxytest getonly "user=$LIMITED_AK" >/dev/null; }
  then limited=1
  else log "could not create the limited user with mc; omitting S3_TEST_LIMITED_*"
  fi
fi

umask 077
{
  echo "# Written by ./minio-start.sh ($mode)."
  echo "# With @aws-sdk/client-s3 >= 3.729 set requestChecksumCalculation/responseChecksumValidation"
  echo "# to 'WHEN_REQUIRED' for parity with RGW; use path-style addressing (forcePathStyle: true)."
  echo "export S3_TEST_KIND=minio"
  echo "export S3_TEST_ENDPOINT=$EP"
  echo "export S3_TEST_REGION=$REGION"
  echo "export S3_TEST_ACCESS_KEY=$ADMIN_AK"
  echo "export S3_TEST_SECRET_KEY=$ADMIN_SK"
  if [ -n "$limited" ]; then
    echo "# Limited user: already has s3:GetObject on all buckets via an IAM policy (MinIO has"
    echo "# no per-user bucket-policy principals, hence no S3_TEST_LIMITED_PRINCIPAL)."
    echo "export S3_TEST_LIMITED_ACCESS_KEY=$LIMITED_AK"
    echo "export S3_TEST_LIMITED_SECRET_KEY=$LIMITED_SK"
  fi
} >"$STACK/s3.env.tmp"
mv "$STACK/s3.env.tmp" "$STACK/s3.env"
log "ready at $EP ($mode); env: $STACK/s3.env"
