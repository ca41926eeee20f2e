# shellcheck shell=bash
# Shared by the bench/authority/*.sh scripts (sourced, not run): a work
# directory and a private PostgreSQL cluster removed on exit, and one
# pat-authority at a time on a loopback port.
#
#   bench_begin NAME DB...   work dir $W (pat-NAME.XXXXXX), a cluster, the
#                            databases DB...; DB_URL = the first one
#   bench_start LABEL BIN [FLAG...]
#                            starts BIN on DB_URL; sets APID and PORT
#   bench_stop               stops it
#   bench_seed_plan          upserts plan 1234567890 (admin "bench") through
#                            $PATCTL on the running authority
# Needs scripts/lib/bootstrap.sh and scripts/lib/pg.sh sourced first.

APID=""
W=""

bench_cleanup() {
  [[ -n "$APID" ]] && kill "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
  pg_stop "${PG_DIR:-}"
  [[ -n "$W" ]] && rm -rf "$W"
}

bench_begin() {
  local name="$1" db
  shift
  # mktemp's template: the X's are replaced by random characters.
  W="$(mktemp -d "${TMPDIR:-/tmp}/pat-$name.XXXXXX")"
  trap bench_cleanup EXIT
  pg_temp_start >"$W/pg.log" 2>&1
  for db in "$@"; do pg_createdb "$db"; done
  DB_URL="${PG_URL%/*}/$1"
}

bench_start() {
  local label="$1" bin="$2"
  shift 2
  "$bin" --insecure --listen=127.0.0.1:0 --admin_listen= --auto_migrate \
    --database_url="$DB_URL" "$@" >"$W/auth-$label.log" 2>&1 &
  APID=$!
  PORT=""
  for _ in $(seq 200); do
    PORT="$(grep -o '"port":[0-9]*' "$W/auth-$label.log" | head -1 | cut -d: -f2 || true)"
    [[ -n "$PORT" ]] && return 0
    sleep 0.05
  done
  pat_die "authority $label did not start: $(tail -n 3 "$W/auth-$label.log")"
}

bench_stop() {
  kill "$APID"
  wait "$APID" 2>/dev/null || true
  APID=""
}

bench_seed_plan() {
  "$PATCTL" --authority="127.0.0.1:$PORT" --insecure --actor=bench upsert-plan \
    --id=1234567890 --name=Bench --tier=organization --admins=bench >/dev/null
}
