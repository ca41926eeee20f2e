#!/usr/bin/env bash
# WatchGrants fan-out at fleet size, side by side in interleaved rounds on one
# private PostgreSQL cluster (docs/capacity.md "Watch streams on the callback
# API"): for each variant and each stream count, pat-bench-propagation holds
# that many WatchGrants streams (one HTTP/2 connection each), revokes COUNT
# tokens 20 ms apart, and reports revoke -> event delay on every stream
# (p50/p99/max), the authority's CPU (user + system, /proc/PID/stat) per
# revocation and per stream event over the revocations, and its RSS with
# every stream open.
#   new      pat-authority (this tree)
#   before   PAT_OLD_AUTHORITY_BIN, if given (e.g. a build of an older commit)
#
#   bench/authority/watch_fleet.sh [ROUNDS] [STREAMS...]   (default 1; 100 1000)
#
# Environment: BUILD_DIR (default build; needs pat-authority, patctl,
# pat-bench-authority and pat-bench-propagation: -DPAT_BUILD_BENCH=ON),
# COUNT (revocations per run, default 100). Asserts no time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/bootstrap.sh
source "$ROOT/scripts/lib/bootstrap.sh"
# shellcheck source=scripts/lib/pg.sh
source "$ROOT/scripts/lib/pg.sh"
# shellcheck source=bench/authority/lib.sh
source "$ROOT/bench/authority/lib.sh"
ROUNDS="${1:-1}"
shift || true
STREAMS=("$@")
((${#STREAMS[@]} > 0)) || STREAMS=(100 1000)
COUNT="${COUNT:-100}"
BUILD_DIR="${BUILD_DIR:-build}"
[[ "$BUILD_DIR" == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
AUTH="$BUILD_DIR/server/pat-authority"
PATCTL="$BUILD_DIR/cli/patctl"
LOAD="$BUILD_DIR/bench/authority/pat-bench-authority"
PROP="$BUILD_DIR/bench/propagation/pat-bench-propagation"
OLD="${PAT_OLD_AUTHORITY_BIN:-}"
for b in "$AUTH" "$PATCTL" "$LOAD" "$PROP"; do [[ -x "$b" ]] || pat_die "missing $b"; done
# One descriptor per stream on each side (raised to the hard limit).
ulimit -n "$(ulimit -Hn)"
bench_begin wfleet wfleet

bench_start seed "$AUTH"
bench_seed_plan
variants=(new)
[[ -n "$OLD" ]] && variants+=(before)
runs=$((ROUNDS * ${#variants[@]} * ${#STREAMS[@]}))
"$LOAD" seed --authority="127.0.0.1:$PORT" --plan=1234567890 --actor=bench \
  --count=$((runs * COUNT)) --concurrency=8 --scopes=file_content:read \
  --all_resources --days=90 --out="$W/tokens.tsv" 2>"$W/seed.log"
bench_stop

printf '%-8s %-6s %-7s %10s %10s %10s %14s %14s %9s\n' variant round streams \
  p50_ms p99_ms max_ms cpu_us/revoke cpu_us/event rss_mib
run=0
for ((round = 1; round <= ROUNDS; round++)); do
  for n in "${STREAMS[@]}"; do
    for v in "${variants[@]}"; do
      # Each run revokes tokens no earlier run revoked.
      sed -n "$((run * COUNT + 1)),$(((run + 1) * COUNT))p" "$W/tokens.tsv" >"$W/run.tsv"
      run=$((run + 1))
      case "$v" in
        new) bench_start "$v" "$AUTH" ;;
        before) bench_start "$v" "$OLD" ;;
      esac
      "$PROP" --authority="127.0.0.1:$PORT" --actor=bench --plan=1234567890 \
        --tokens="$W/run.tsv" --streams="$n" --interval=20ms --sync_timeout=300s \
        --cpu_pid="$APID" --label="$v-$n" --out="$W/$v-$n-$round.json" \
        2>>"$W/prop.log" || pat_log "run $v $n round $round had failures (see its JSON)"
      bench_stop
      python3 - "$W/$v-$n-$round.json" "$v" "$round" "$n" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); d = j["stream_delay_ms"]
f = sum(j["failures"].values())
print(f"{sys.argv[2]:<8} {sys.argv[3]:<6} {sys.argv[4]:<7} {d['p50']:>10.3f} {d['p99']:>10.3f} "
      f"{d['max']:>10.3f} {j.get('target_cpu_us_per_revocation', float('nan')):>14.0f} "
      f"{j.get('target_cpu_us_per_stream_event', float('nan')):>14.2f} "
      f"{j.get('target_rss_kib', float('nan')) / 1024:>9.1f}"
      + (f"  failures={j['failures']}" if f else ""))
PY
    done
  done
done
