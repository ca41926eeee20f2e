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
# shellcheck source=bench/authority/lib.sh
source "$ROOT/bench/authority/lib.sh"
ROUNDS="${1:-3}"
BUILD_DIR="${BUILD_DIR:-build}"
[[ "$BUILD_DIR" == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
AUTH="$BUILD_DIR/server/pat-authority"
PATCTL="$BUILD_DIR/cli/patctl"
LOAD="$BUILD_DIR/bench/authority/pat-bench-authority"
OLD="${PAT_OLD_AUTHORITY_BIN:-}"
for b in "$AUTH" "$PATCTL" "$LOAD"; do [[ -x "$b" ]] || pat_die "missing $b"; done
bench_begin vmem vmem pgb
PGB_URL="${PG_URL%/*}/pgb"
pgbench -i -q -s 10 "$PGB_URL" >"$W/pgbench-init.log" 2>&1

rps() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rps"])' "$1"; }

bench_start seed "$AUTH"
bench_seed_plan
"$LOAD" seed --authority="127.0.0.1:$PORT" --plan=1234567890 --actor=bench \
  --count=1000 --concurrency=8 --scopes=file_content:read --all_resources \
  --days=90 --out="$W/tokens.tsv" 2>"$W/seed.log"
bench_stop

variants=(memory database)
[[ -n "$OLD" ]] && variants+=(before)
declare -A results
for ((round = 1; round <= ROUNDS; round++)); do
  line="round $round:"
  for v in "${variants[@]}"; do
    case "$v" in
      memory) bench_start "$v" "$AUTH" --validate_memory_entries=100000 ;;
      database) bench_start "$v" "$AUTH" --validate_memory_entries=0 ;;
      before) bench_start "$v" "$OLD" ;;
    esac
    "$LOAD" load --authority="127.0.0.1:$PORT" --rpc=validate --concurrency=16 --client=callback \
      --duration=8s --warmup=2s --secrets="$W/tokens.tsv" --plan=1234567890 \
      --actor=bench --label="$v" --out="$W/$v-$round.json" 2>>"$W/load.log"
    bench_stop
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
