# shellcheck shell=bash
# A private PostgreSQL cluster for tests and local development.
#
#   pg_start DIR   initialise (if needed) and start a cluster in DIR; sets and
#                  exports PG_DIR, PG_PORT, PG_URL (postgresql://postgres@
#                  127.0.0.1:PORT/postgres). Reuses a cluster already running
#                  there. Loopback TCP only, trust auth, superuser "postgres".
#   pg_halt DIR    stop the cluster, keep its data.
#   pg_stop DIR    stop the cluster and remove DIR (only a directory that
#                  pg_start set up, or an empty one). Safe to call twice.
#   pg_running DIR true when the cluster in DIR is up.
#   pg_temp_start  pg_start in a new `mktemp -d` directory.
#   pg_createdb NAME  create database NAME on the running cluster if missing.
#
# PostgreSQL refuses to run as root: when root, DIR is chowned to the
# `postgres` OS user and the server binaries run through `runuser -u
# postgres`; otherwise they run as the current user. The bootstrap superuser
# is named "postgres" either way (initdb -U postgres), so URLs look the same.
#
# Knobs (environment):
#   PG_BINDIR        server binaries (default: /usr/lib/postgresql/15/bin)
#   PG_TEST_MODE     1 (default): initdb --no-sync, fsync/full_page_writes/
#                    synchronous_commit off. 0: durable (local development).
#   PG_MAX_CONNECTIONS  default 200
#   PG_START_TIMEOUT    seconds to wait for readiness, default 60
#
# The caller owns traps: call pg_stop from an EXIT trap.

if [[ -n "${PAT_PG_SH_LOADED:-}" ]]; then
  return 0
fi
PAT_PG_SH_LOADED=1

# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_MARKER=".pat-pg-cluster"

_pg_bindir() {
  if [[ -n "${PG_BINDIR:-}" ]]; then
    printf '%s\n' "$PG_BINDIR"
    return 0
  fi
  if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
    printf '%s\n' /usr/lib/postgresql/15/bin
    return 0
  fi
  local d
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    if [[ -x "$d/pg_ctl" ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  pat_die "PostgreSQL server binaries not found (install the 'postgresql' package)"
}

# Runs "$@" as the cluster's OS user (postgres when we are root), from / so
# that an unreadable working directory does not bother the server tools.
_pg_run() {
  if pat_is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# _pg_write FILE: writes stdin to FILE as the cluster owner.
_pg_write() {
  _pg_run tee "$1" >/dev/null
}

pg_running() {
  local dir="$1" bindir
  [[ -f "$dir/data/postmaster.pid" ]] || return 1
  bindir="$(_pg_bindir)"
  _pg_run "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

_pg_postmaster_pid() {
  local pidfile="$1/data/postmaster.pid" pid=""
  if [[ -r "$pidfile" ]]; then
    read -r pid <"$pidfile" || true
  fi
  [[ "$pid" =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
}

_pg_wait_ready() {
  local port="$1" secs="$2" bindir
  bindir="$(_pg_bindir)"
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

_pg_set_env() {
  PG_DIR="$1"
  PG_PORT="$2"
  PG_URL="postgresql://postgres@127.0.0.1:${PG_PORT}/postgres"
  export PG_DIR PG_PORT PG_URL
}

_pg_prepare_dir() {
  local dir="$1"
  mkdir -p "$dir"
  if pat_is_root; then
    id postgres >/dev/null 2>&1 ||
      pat_die "OS user 'postgres' is missing (install the 'postgresql' package)"
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    if ! runuser -u postgres -- test -w "$dir" -a -x "$dir"; then
      pat_die "user 'postgres' cannot reach $dir (a parent directory is not searchable); use a directory under /tmp or /var/tmp"
    fi
  else
    chmod 700 "$dir"
  fi
}

_pg_initdb() {
  local dir="$1" bindir
  bindir="$(_pg_bindir)"
  local -a args=(-D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-instructions)
  if [[ "${PG_TEST_MODE:-1}" == 1 ]]; then
    args+=(--no-sync)
  fi
  if ! _pg_run "$bindir/initdb" "${args[@]}" >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    pat_die "initdb failed in $dir/data"
  fi
  # Our settings live in pat.conf, rewritten at every start (the port may
  # change); postgresql.conf only includes it.
  printf "\ninclude_if_exists = 'pat.conf'\n" | _pg_run tee -a "$dir/data/postgresql.conf" >/dev/null
  _pg_run touch "$dir/$PG_MARKER"
}

_pg_write_conf() {
  local dir="$1" port="$2" sockdir="$1"
  # sun_path holds 107 bytes; a deeper directory gets no unix socket at all
  # (everything here talks TCP to 127.0.0.1).
  if ((${#dir} + 20 > 107)); then
    sockdir=""
  fi
  {
    echo "# written by scripts/lib/pg.sh"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = ${port}"
    echo "unix_socket_directories = '${sockdir}'"
    echo "max_connections = ${PG_MAX_CONNECTIONS:-200}"
    echo "logging_collector = off"
    echo "log_min_messages = warning"
    if [[ "${PG_TEST_MODE:-1}" == 1 ]]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } | _pg_write "$dir/data/pat.conf"
  printf '%s\n' "$port" | _pg_write "$dir/port"
}

pg_start() {
  local dir="${1:?pg_start DIR}" bindir port attempt
  bindir="$(_pg_bindir)"
  dir="$(mkdir -p "$dir" && cd "$dir" && pwd -P)"

  if pg_running "$dir" && [[ -s "$dir/port" ]]; then
    port="$(<"$dir/port")"
    if _pg_wait_ready "$port" "${PG_START_TIMEOUT:-60}"; then
      _pg_set_env "$dir" "$port"
      pat_log "PostgreSQL already running in $dir on 127.0.0.1:$port"
      return 0
    fi
    pat_die "PostgreSQL in $dir runs but does not answer on port $port"
  fi

  _pg_prepare_dir "$dir"
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    if [[ -n "$(ls -A "$dir" 2>/dev/null)" && ! -f "$dir/$PG_MARKER" ]]; then
      pat_die "$dir is not empty and is not a cluster made by pg_start"
    fi
    _pg_initdb "$dir"
  fi

  for attempt in 1 2 3 4 5; do
    port=""
    # Keep the previous port when it is still free (stable dev URLs).
    if [[ "$attempt" == 1 && -s "$dir/port" ]]; then
      port="$(<"$dir/port")"
      if pat_tcp_open 127.0.0.1 "$port"; then
        port=""
      fi
    fi
    [[ -n "$port" ]] || port="$(pat_free_port)"
    _pg_write_conf "$dir" "$port"
    if _pg_run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -t "${PG_START_TIMEOUT:-60}" -s start >/dev/null 2>&1; then
      if _pg_wait_ready "$port" "${PG_START_TIMEOUT:-60}"; then
        _pg_set_env "$dir" "$port"
        pat_log "PostgreSQL started in $dir on 127.0.0.1:$port"
        return 0
      fi
      pat_log "PostgreSQL started but did not become ready; log follows"
      tail -n 50 "$dir/server.log" >&2 || true
      pg_halt "$dir"
      return 1
    fi
    if grep -qiE 'could not bind|address already in use' "$dir/server.log" 2>/dev/null; then
      pat_log "port $port was taken; retrying with another"
      continue
    fi
    pat_log "pg_ctl start failed; server log follows"
    tail -n 50 "$dir/server.log" >&2 || true
    return 1
  done
  pat_log "could not start PostgreSQL: no free port after 5 attempts"
  return 1
}

# pg_halt DIR: stop the server, keep the data. Never fails.
pg_halt() {
  local dir="${1:?pg_halt DIR}" bindir pid i
  [[ -d "$dir/data" ]] || return 0
  bindir="$(_pg_bindir)" || return 0
  pid="$(_pg_postmaster_pid "$dir" || true)"
  [[ -n "$pid" ]] || return 0
  if ! _pg_run "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 -s stop >/dev/null 2>&1; then
    _pg_run "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 10 -s stop >/dev/null 2>&1 || true
  fi
  # pg_ctl returns once the pid file is gone; give the process a moment to
  # exit, then, as a last resort, kill the postmaster we started (pid from
  # its own pid file, checked against its command line).
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/data"; then
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  return 0
}

# pg_stop DIR: stop the server and remove DIR. Never fails.
pg_stop() {
  local dir="${1:-}"
  [[ -n "$dir" && -d "$dir" ]] || return 0
  pg_halt "$dir"
  if [[ -f "$dir/$PG_MARKER" || -z "$(ls -A "$dir" 2>/dev/null)" ]]; then
    rm -rf -- "$dir" || pat_log "could not remove $dir"
  else
    pat_log "not removing $dir: it was not made by pg_start"
  fi
  return 0
}

pg_temp_start() {
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/pat-pg.XXXXXX")"
  # Record it before starting so an EXIT trap can clean up a failed start.
  PG_DIR="$dir"
  export PG_DIR
  pg_start "$dir"
}

# pg_createdb NAME: creates database NAME on the cluster at $PG_URL if missing.
pg_createdb() {
  local name="$1"
  [[ "$name" =~ ^[a-zA-Z_][a-zA-Z0-9_]*$ ]] || pat_die "bad database name: $name"
  local exists
  exists="$(psql "$PG_URL" -XAtq -v ON_ERROR_STOP=1 \
    -c "SELECT 1 FROM pg_database WHERE datname = '${name}'")"
  if [[ "$exists" != 1 ]]; then
    psql "$PG_URL" -Xq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"${name}\"" >/dev/null
  fi
}
