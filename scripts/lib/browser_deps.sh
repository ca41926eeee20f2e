# shellcheck shell=bash
# What the browser tests (ctest label `browser`) need, installed the ordinary
# way: Debian's chromium and fonts (apt) and the pinned npm packages of
# console/web (esbuild, typescript) and tests/browser (puppeteer-core,
# axe-core) from their lockfiles (`npm ci`). No browser download: puppeteer
# drives /usr/bin/chromium.
#
#   pat_browser_deps   install whatever is missing; idempotent.
#
# Environment: PAT_SKIP_INSTALL=1 skips apt-get (npm ci still runs when
# node_modules is missing or older than its lockfile).

_pat_browser_root() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
}

_pat_npm_ci() {
  local dir="$1"
  if [[ -d "$dir/node_modules" && "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
    return 0
  fi
  (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}

pat_browser_deps() {
  local root sudo=()
  root="$(_pat_browser_root)"
  if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
  if [[ "${PAT_SKIP_INSTALL:-0}" != 1 ]]; then
    local -a want=(chromium fonts-dejavu-core) missing=()
    local p
    for p in "${want[@]}"; do
      dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
    done
    # node and npm by command: a nodejs build that bundles npm conflicts
    # with Debian's npm package.
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if ((${#missing[@]})); then
      "${sudo[@]}" apt-get update -qq
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
  fi
  _pat_npm_ci "$root/console/web"
  _pat_npm_ci "$root/tests/browser"
}
