#!/usr/bin/env bash
# Start a throwaway single-host Ceph RADOS Gateway (S3 API) for tests.
#   one mon (msgr2, loopback) + one memstore OSD + radosgw, no mgr, no cephx.
# State lives in .cache/rgw/ (wiped on every start); PIDs in .cache/rgw/pids.
# On success writes .cache/stack/s3.env. Stop with scripts/rgw-stop.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
DIR="$ROOT/.cache/rgw"
STACK="$ROOT/.cache/stack"
REGION="${S3_TEST_REGION:-eu-west-2}"
ADMIN_UID=s3proxy-test
LIMITED_UID=s3proxy-limited
t0=$(date +%s.%N)

log() { echo "rgw-start: $*" >&2; }



# --- install Ceph if missing -------------------------------------------------
missing=()
for pair in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw radosgw-admin:radosgw ceph:ceph-common monmaptool:ceph-base; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Ceph binaries (${missing[*]}) and not root; install ceph-mon ceph-osd radosgw"; exit 1
  fi
  log "installing ceph-mon ceph-osd radosgw"
  apt_install ceph-mon ceph-osd radosgw
fi

# --- stop a previous instance, wipe state ------------------------------------
if [ -f "$DIR/pids" ]; then
  log "stopping previous instance"
  "$ROOT/scripts/rgw-stop.sh" || true
fi
rm -rf "$DIR"
mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw} "$STACK"
: >"$DIR/pids"

MON_PORT=$(free_port)
RGW_PORT=$(free_port)
while [ "$RGW_PORT" = "$MON_PORT" ]; do RGW_PORT=$(free_port); done
FSID=$(cat /proc/sys/kernel/random/uuid)
CONF="$DIR/ceph.conf"

cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_PORT]
public_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
paxos_propose_interval = 0.01
paxos_min_wait = 0.01
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
log_file = $DIR/log/\$name.log
mon_cluster_log_file = $DIR/log/cluster.log
keyring = $DIR/keyring
[mon]
mon_data = $DIR/mon.\$id
mon_initial_members = a
[osd]
osd_data = $DIR/osd.\$id
osd_objectstore = memstore
# The whole suite writes a few GiB (large downloads, multipart uploads) and
# never deletes; memstore takes memory only as objects are written.
memstore_device_bytes = 8589934592
osd_max_object_name_len = 2048
[client]
rgw_data = $DIR/rgw
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw_realm = $REGION
rgw_zonegroup = $REGION
rgw_zone = $REGION
rgw_dns_name = localhost
rgw_enable_usage_log = false
rgw_thread_pool_size = 64
CONF
export CEPH_CONF="$CONF"

bg() { # bg NAME CMD... : start a foreground daemon in the background, record its PID
  local name=$1; shift
  # setsid: own session, so a Ctrl-C in the calling terminal doesn't hit the daemons
  # (the caller's trap stops them cleanly). setsid execs in place, so $! is the daemon.
  setsid "$@" </dev/null >"$DIR/log/$name.out" 2>&1 &
  echo "$!" >>"$DIR/pids"
}
fail() {
  log "$*"
  for f in "$DIR"/log/*; do echo "--- $f (tail)" >&2; tail -n 20 "$f" >&2 || true; done
  "$ROOT/scripts/rgw-stop.sh" >&2 || true
  exit 1
}

# --- monitor -----------------------------------------------------------------
ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >/dev/null 2>&1 || fail "ceph-mon --mkfs failed"
bg mon.a ceph-mon -f -i a

# --- OSD (memstore) ----------------------------------------------------------
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(timeout 30 ceph osd new "$OSD_UUID" 2>/dev/null) || fail "mon did not answer 'ceph osd new'"
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1 || fail "ceph-osd --mkfs failed"
bg "osd.$OSD_ID" ceph-osd -f -i "$OSD_ID"
osd_up() { timeout 10 ceph osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1[,}]'; }
for _ in $(seq 1 300); do osd_up && break; sleep 0.1; done
osd_up || fail "OSD did not come up"

# --- realm / zonegroup / zone / users ----------------------------------------
rgwadm() { timeout 60 radosgw-admin "$@" 2>>"$DIR/log/radosgw-admin.err"; }
EP="http://127.0.0.1:$RGW_PORT"
rgwadm realm create --rgw-realm="$REGION" --default >/dev/null || fail "realm create failed"
rgwadm zonegroup create --rgw-realm="$REGION" --rgw-zonegroup="$REGION" --endpoints="$EP" --master --default >/dev/null || fail "zonegroup create failed"
rgwadm zone create --rgw-zonegroup="$REGION" --rgw-zone="$REGION" --endpoints="$EP" --master --default >/dev/null || fail "zone create failed"
rgwadm period update --commit >/dev/null || fail "period update --commit failed"

ADMIN_AK=S3PROXYTESTADMIN0001
ADMIN_SK=$(head -c 90 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
LIMITED_AK=S3PROXYTESTLIMITED01
LIMITED_SK=$(head -c 90 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
rgwadm user create --uid="$ADMIN_UID" --display-name="s3proxy test admin" \
  --access-key="$ADMIN_AK" --secret-key="$ADMIN_SK" >/dev/null || fail "user create $ADMIN_UID failed"
rgwadm user create --uid="$LIMITED_UID" --display-name="s3proxy test limited" \
  --access-key="$LIMITED_AK" --secret-key="$LIMITED_SK" >/dev/null || fail "user create $LIMITED_UID failed"

# --- radosgw -----------------------------------------------------------------
bg rgw radosgw -f -n client.rgw
ready=
for _ in $(seq 1 300); do
  case "$(http_status "$EP/")" in [1-5][0-9][0-9]) ready=1; break ;; esac
  sleep 0.1
done
[ -n "$ready" ] || fail "radosgw did not answer on $EP"

umask 077
cat >"$STACK/s3.env.tmp" <<ENV
# Written by scripts/rgw-start.sh: throwaway Ceph RADOS Gateway (Ceph $(ceph-mon --version | awk '{print $3}')).
# NOTE: with @aws-sdk/client-s3 >= 3.729, S3Client must be created with
#   requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED'
# (otherwise the SDK sends aws-chunked bodies with checksum trailers, which RGW rejects with 411).
# Use path-style addressing (forcePathStyle: true).
# The limited user owns nothing; grant it access with a bucket policy whose Principal is
#   {"AWS": ["\$S3_TEST_LIMITED_PRINCIPAL"]}.
export S3_TEST_KIND=rgw
export S3_TEST_ENDPOINT=$EP
export S3_TEST_REGION=$REGION
export S3_TEST_ACCESS_KEY=$ADMIN_AK
export S3_TEST_SECRET_KEY=$ADMIN_SK
export S3_TEST_LIMITED_ACCESS_KEY=$LIMITED_AK
export S3_TEST_LIMITED_SECRET_KEY=$LIMITED_SK
export S3_TEST_LIMITED_PRINCIPAL=arn:aws:iam:::user/$LIMITED_UID
# the cluster behind the gateway, for scripts/rgw-gateway.sh (extra gateways tests may kill)
export S3_TEST_CEPH_CONF=$CONF
ENV
mv "$STACK/s3.env.tmp" "$STACK/s3.env"
log "ready at $EP in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s; env: $STACK/s3.env"
