# shellcheck shell=bash
# pat-console in the local development stack (scripts/dev sources this).
#
#   pat_dev_start_console DEV BUILD_DIR AUTHORITY PORT
#       (re)starts pat-console on 127.0.0.1:PORT as --dev_user=alice against
#       AUTHORITY (plaintext), logging to DEV/console.log, pid in
#       DEV/console.pid; waits until /healthz answers. Does nothing (and
#       returns 0) when the binary is not built.
#   pat_dev_console_url PORT   prints the URL.
#
# Uses pat_stop_pidfile / pat_tcp_open / pat_die / pat_log from common.sh.

pat_dev_console_url() {
  printf 'http://127.0.0.1:%s/\n' "$1"
}

pat_dev_start_console() {
  local dev="$1" build_dir="$2" authority="$3" port="$4"
  local bin="$build_dir/console/pat-console" pid deadline
  pat_stop_pidfile "$dev/console.pid" "pat-console"
  if [[ ! -x "$bin" ]]; then
    pat_log "no $bin yet: not starting the admin console"
    return 0
  fi
  if pat_tcp_open 127.0.0.1 "$port"; then
    pat_die "port $port (for pat-console) is already in use by another process; set PAT_DEV_CONSOLE_PORT"
  fi
  pat_log "starting pat-console on $(pat_dev_console_url "$port") (signed in as alice; log: .dev/console.log)"
  setsid "$bin" --listen="127.0.0.1:${port}" --authority="$authority" --insecure \
    --dev_user=alice >>"$dev/console.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$dev/console.pid"
  pid="$(<"$dev/console.pid")"
  deadline=$((SECONDS + 30))
  until curl -fsS -o /dev/null "http://127.0.0.1:${port}/healthz" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 20 "$dev/console.log" >&2 || true
      pat_stop_pidfile "$dev/console.pid" "pat-console"
      pat_die "pat-console did not start; log above"
    fi
    sleep 0.2
  done
}
