# Shell helpers shared by the stack scripts. Sourced, after ROOT is set to the
# repository root; it sets no shell options of its own.

# http_status URL: prints the HTTP status code (curl, else bash's /dev/tcp), or nothing.
http_status() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
    return 0
  fi
  local hostport=${1#http://}; hostport=${hostport%%/*}
  local path=/${1#http://*/}; [ "$path" = "/$1" ] && path=/
  ( exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 0
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
    timeout 2 head -n 1 <&3 | awk '{print $2}' ) 2>/dev/null || true
}

# free_port: prints a TCP port free on 127.0.0.1 right now.
free_port() {
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
  fi
}

# apt_install PKG...: apt-get update at most once an hour (a shared marker), then install.
apt_install() {
  local marker="$ROOT/.cache/apt-updated"
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p "$ROOT/.cache"
  if [ -z "$(find "$marker" -mmin -60 2>/dev/null)" ]; then apt-get update -qq && touch "$marker"; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# stop_stack_on_exit: at exit (normal, failure, Ctrl-C or SIGTERM), run
# scripts/stack-down.sh if this script started the stack, i.e. set
# we_started=1 after starting it; the exit status is kept.
we_started=
stop_stack_on_exit() {
  _stop_stack() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$we_started" ]; then "$ROOT/scripts/stack-down.sh" || true; fi
    exit "$rc"
  }
  trap _stop_stack EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
