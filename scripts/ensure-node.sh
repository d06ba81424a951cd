#!/usr/bin/env bash
# Source me: `source scripts/ensure-node.sh`
# Makes sure a Node.js >= 22.18 (native TypeScript type stripping) is first on PATH.
# If the system node is older, installs Node 24 from the npm registry (the `node`
# npm package ships a prebuilt binary) into .cache/node24 and prepends its bin dir.
# The system npm/npx keep working (they run with whichever `node` is first on PATH).

_ensure_node_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_ensure_node_ok() {
  # true when `node` on PATH is >= 22.18
  command -v node >/dev/null 2>&1 || return 1
  node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    process.exit(maj > 22 || (maj === 22 && min >= 18) ? 0 : 1);
  ' 2>/dev/null
}

if _ensure_node_ok; then
  echo "ensure-node: using $(command -v node) ($(node --version))"
else
  _ensure_node_dir="$_ensure_node_root/.cache/node24"
  _ensure_node_bin="$_ensure_node_dir/node_modules/node/bin"
  if [ ! -x "$_ensure_node_bin/node" ] || ! "$_ensure_node_bin/node" --version >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || { echo "ensure-node: node is too old/missing and npm is not available to fetch Node 24" >&2; return 1 2>/dev/null || exit 1; }
    echo "ensure-node: system node is missing or older than 22.18; installing Node 24 into $_ensure_node_dir" >&2
    mkdir -p "$_ensure_node_dir"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$_ensure_node_dir" node@24 >&2 \
      || { echo "ensure-node: failed to install node@24 from the npm registry" >&2; return 1 2>/dev/null || exit 1; }
  fi
  export PATH="$_ensure_node_bin:$PATH"
  hash -r 2>/dev/null || true
  case "$(node --version)" in
    v24.*) echo "ensure-node: using $(command -v node) ($(node --version))" ;;
    *) echo "ensure-node: expected Node v24 after install, got $(node --version)" >&2; return 1 2>/dev/null || exit 1 ;;
  esac
fi
unset -f _ensure_node_ok
unset _ensure_node_root _ensure_node_dir _ensure_node_bin
