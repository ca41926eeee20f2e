#!/usr/bin/env bash
# Runs tests/failover/failover_drill.py (issue #12: PostgreSQL failover
# without losing an acked revoke; docs/failover.md) in one mode.
#
#   tests/failover/failover_drill.sh sync|async [BUILD_DIR]
#
# Binaries: PAT_AUTHORITY_BIN, PAT_SIDECAR_BIN, PAT_PATCTL_BIN,
# PAT_SAMPLE_UPSTREAM_BIN, each defaulting to BUILD_DIR (default: build).
# The drill starts its own two PostgreSQL clusters (Debian's PostgreSQL 15,
# PG_BINDIR to override); PAT_TEST_DATABASE_URL is not used.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mode="${1:?usage: failover_drill.sh sync|async [BUILD_DIR]}"
build="${2:-$root/build}"
export PAT_AUTHORITY_BIN="${PAT_AUTHORITY_BIN:-$build/server/pat-authority}"
export PAT_SIDECAR_BIN="${PAT_SIDECAR_BIN:-$build/sidecar/pat-sidecar}"
export PAT_PATCTL_BIN="${PAT_PATCTL_BIN:-$build/cli/patctl}"
export PAT_SAMPLE_UPSTREAM_BIN="${PAT_SAMPLE_UPSTREAM_BIN:-$build/tools/pat-sample-upstream}"
for b in "$PAT_AUTHORITY_BIN" "$PAT_SIDECAR_BIN" "$PAT_PATCTL_BIN" "$PAT_SAMPLE_UPSTREAM_BIN"; do
  [[ -x "$b" ]] || { echo "failover_drill: $b is not an executable" >&2; exit 2; }
done
if [[ -z "${PG_BINDIR:-}" ]]; then
  # shellcheck source=scripts/lib/pg.sh
  source "$root/scripts/lib/pg.sh"
  PG_BINDIR="$(_pg_bindir)"
  export PG_BINDIR
fi
exec python3 "$root/tests/failover/failover_drill.py" --mode="$mode"
