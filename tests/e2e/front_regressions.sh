#!/usr/bin/env bash
# Runs tests/e2e/front_regressions.py (issue #8's black-box regression suite)
# against one set of binaries.
#
#   tests/e2e/front_regressions.sh [BUILD_DIR]
#
# Binaries: PAT_SIDECAR_BIN, PAT_AUTHORITY_BIN, PAT_PATCTL_BIN, each
# defaulting to BUILD_DIR (default: build) / sidecar/pat-sidecar,
# server/pat-authority, cli/patctl. Database: PAT_TEST_DATABASE_URL when set
# (a fresh database is made on it and dropped), else a private throwaway
# PostgreSQL cluster (scripts/lib/pg.sh) started and removed here.
# Exit status: the suite's (0 only when every item passed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/pg.sh
source "$root/scripts/lib/pg.sh"
build="${1:-$root/build}"
export PAT_SIDECAR_BIN="${PAT_SIDECAR_BIN:-$build/sidecar/pat-sidecar}"
export PAT_AUTHORITY_BIN="${PAT_AUTHORITY_BIN:-$build/server/pat-authority}"
export PAT_PATCTL_BIN="${PAT_PATCTL_BIN:-$build/cli/patctl}"
for b in "$PAT_SIDECAR_BIN" "$PAT_AUTHORITY_BIN" "$PAT_PATCTL_BIN"; do
  [[ -x "$b" ]] || { echo "front_regressions: $b is not an executable" >&2; exit 2; }
done
if [[ -z "${PAT_TEST_DATABASE_URL:-}" ]]; then
  pg_temp_start
  trap 'pg_stop "$PG_DIR"' EXIT
  export PAT_TEST_DATABASE_URL="$PG_URL"
fi
rc=0
python3 "$root/tests/e2e/front_regressions.py" || rc=$?
exit "$rc"
