#!/usr/bin/env bash
# Make sure /usr/bin/chromium exists for the browser tests: install Debian's
# `chromium` (no recommends) when it is missing and we are root; otherwise warn.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium is missing and cannot be installed here (need root + apt); browser tests may fail" >&2
  exit 0
fi
echo "ensure-chromium: installing chromium" >&2
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$ROOT/.cache"
marker="$ROOT/.cache/apt-updated"   # shared with rgw-start.sh / redis-start.sh
if [ -z "$(find "$marker" -mmin -60 2>/dev/null)" ]; then apt-get update -qq && touch "$marker"; fi
apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "ensure-chromium: install finished but /usr/bin/chromium is missing" >&2; exit 1; }
