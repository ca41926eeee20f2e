#!/usr/bin/env bash
# ValidateToken warm throughput, side by side in interleaved rounds, on one
# private PostgreSQL cluster (docs/capacity.md "ValidateToken from memory"):
#   memory    pat-authority (this tree), --validate_memory_entries=100000
#   database  the same binary, --validate_memory_entries=0
#   before    PAT_OLD_AUTHORITY_BIN, if given (e.g. a build of an older commit)
#   pgbench   pgbench -S (select only), same concurrency
# Prints one line per round and a median summary (ratios per round).
#
#   bench/authority/validate_memory.sh [ROUNDS]   (default 3; ~1 min a round)
#
# Needs BUILD_DIR (default build) with pat-authority, patctl and
# pat-bench-authority (configure with -DPAT_BUILD_BENCH=ON). Asserts no time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/bootstrap.sh
source "$ROOT/scripts/lib/bootstrap.sh"
# shellcheck source=scripts/lib/pg.sh
source "$ROOT/scripts/lib/pg.sh"
ROUNDS="${1:-3}"
BUILD_DIR="${BUILD_DIR:-build}"
[[ "$BUILD_DIR" == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
AUTH="$BUILD_DIR/server/pat-authority"
PATCTL="$BUILD_DIR/cli/patctl"
LOAD="$BUILD_DIR/bench/authority/pat-bench-authority"
OLD="${PAT_OLD_AUTHORITY_BIN:-}"
for b in "$AUTH" "$PATCTL" "$LOAD"; do [[ -x "$b" ]] || pat_die "missing $b"; done
W="$(mktemp -d "${TMPDIR:-/tmp}/pat-vmem.XXXXXX")"
APID=""
cleanup() {
  [[ -n "$APID" ]] && kill "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
  pg_stop "${PG_DIR:-}"
  rm -rf "$W"
}
trap cleanup EXIT
pg_temp_start >"$W/pg.log" 2>&1
pg_createdb vmem
pg_createdb pgb
DB_URL="${PG_URL%/*}/vmem"
PGB_URL="${PG_URL%/*}/pgb"
pgbench -i -q -s 10 "$PGB_URL" >"$W/pgbench-init.log" 2>&1

# start NAME BIN FLAG...: starts an authority; sets APID and PORT.
start() {
  local name="$1" bin="$2"
  shift 2
  "$bin" --insecure --listen=127.0.0.1:0 --admin_listen= --auto_migrate \
    --database_url="$DB_URL" "$@" >"$W/auth-$name.log" 2>&1 &
  APID=$!
  PORT=""
  for _ in $(seq 200); do
    PORT="$(grep -o '"port":[0-9]*' "$W/auth-$name.log" | head -1 | cut -d: -f2 || true)"
    [[ -n "$PORT" ]] && return 0
    sleep 0.05
  done
  pat_die "authority $name did not start: $(tail -n 3 "$W/auth-$name.log")"
}
stop() { kill "$APID"; wait "$APID" 2>/dev/null || true; APID=""; }
rps() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rps"])' "$1"; }

start seed "$AUTH"
"$PATCTL" --authority="127.0.0.1:$PORT" --insecure --actor=bench upsert-plan \
  --id=1234567890 --name=Bench --tier=organization --admins=bench >/dev/null
"$LOAD" seed --authority="127.0.0.1:$PORT" --plan=1234567890 --actor=bench \
  --count=1000 --concurrency=8 --scopes=file_content:read --all_resources \
  --days=90 --out="$W/tokens.tsv" 2>"$W/seed.log"
stop

variants=(memory database)
[[ -n "$OLD" ]] && variants+=(before)
declare -A results
for ((round = 1; round <= ROUNDS; round++)); do
  line="round $round:"
  for v in "${variants[@]}"; do
    case "$v" in
      memory) start "$v" "$AUTH" --validate_memory_entries=100000 ;;
      database) start "$v" "$AUTH" --validate_memory_entries=0 ;;
      before) start "$v" "$OLD" ;;
    esac
    "$LOAD" load --authority="127.0.0.1:$PORT" --rpc=validate --concurrency=16 \
      --duration=8s --warmup=2s --secrets="$W/tokens.tsv" --plan=1234567890 \
      --actor=bench --label="$v" --out="$W/$v-$round.json" 2>>"$W/load.log"
    stop
    results[$v,$round]="$(rps "$W/$v-$round.json")"
    line+=" $v ${results[$v,$round]}/s"
  done
  pgbench -S -n -c 16 -j 2 -T 8 "$PGB_URL" >"$W/pgbench-$round.log" 2>&1
  results[pgbench,$round]="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/pgbench-$round.log")"
  line+=" pgbench-S ${results[pgbench,$round]}/s"
  echo "$line"
done
python3 - "$ROUNDS" "${variants[@]}" <<PY
import statistics, sys
rounds = int(sys.argv[1]); variants = sys.argv[2:]
r = {$(for k in "${!results[@]}"; do printf '"%s": %s, ' "$k" "${results[$k]}"; done)}
for v in variants:
    ratios = [r[f"{v},{i}"] / r[f"pgbench,{i}"] for i in range(1, rounds + 1)]
    print(f"{v}: median {statistics.median(r[f'{v},{i}'] for i in range(1, rounds + 1)):.0f}/s, "
          f"vs pgbench -S median {statistics.median(ratios):.2f}x (per round {', '.join(f'{x:.2f}' for x in ratios)})")
if "database" in variants:
    ratios = [r[f"memory,{i}"] / r[f"database,{i}"] for i in range(1, rounds + 1)]
    print(f"memory vs database: median {statistics.median(ratios):.2f}x")
PY
