#!/usr/bin/env bash
# ctest entry point of the `browser` label: runs one node test file of
# tests/browser with Debian's chromium. Needs the npm packages
# (scripts/lib/browser_deps.sh: pat_browser_deps) and, for the stack tests,
# PAT_TEST_DATABASE_URL and the PAT_*_BIN binaries (set by ctest).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for d in "$here/node_modules/puppeteer-core" "$here/node_modules/axe-core" \
         "$here/../../console/web/node_modules/esbuild"; do
  if [[ ! -d "$d" ]]; then
    echo "missing $d: run scripts/lib/browser_deps.sh (pat_browser_deps)" >&2
    exit 1
  fi
done
export PAT_BROWSER_ARTIFACTS="${PAT_BROWSER_ARTIFACTS:-$PWD/browser-artifacts}"
cd "$here"
exec node --test --test-concurrency=1 --test-timeout=600000 "$@"
