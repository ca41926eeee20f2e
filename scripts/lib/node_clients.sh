# shellcheck shell=bash
# The real npm/pnpm/yarn and Figma REST clients of the ctest label "clients"
# (tests/clients). Source it after scripts/lib/common.sh; it defines:
#
#   pat_install_node_clients   makes sure Node (>= 20) and npm exist, then
#                              installs tests/clients' pinned packages with
#                              `npm ci` (verdaccio, pnpm, yarn, figma-api,
#                              figma-js; exact versions from the lockfile).
#                              Skipped when node_modules already matches the
#                              lockfile. After it the tests run offline.
#                              Also installs curl if it is missing.
#
# Node: if `node` is missing, Debian's nodejs and npm are installed. A machine
# that already has NodeSource's nodejs package ships npm inside it, and
# Debian's npm package conflicts with that nodejs: there the bundled npm is
# used and nothing is installed. PAT_SKIP_INSTALL=1 never calls apt-get.

# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PAT_NODE_CLIENTS_DIR="${PAT_ROOT}/tests/clients"

# Major version of the node on PATH ("" when there is none).
pat_node_major() {
  command -v node >/dev/null 2>&1 || return 0
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true
}

pat_ensure_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    :
  elif [[ "${PAT_SKIP_INSTALL:-0}" == 1 ]]; then
    pat_die "node/npm missing (PAT_SKIP_INSTALL=1, not installing)"
  elif command -v node >/dev/null 2>&1 &&
    dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then
    pat_die "NodeSource nodejs is installed without its bundled npm; reinstall nodejs (Debian's npm conflicts with it)"
  elif command -v node >/dev/null 2>&1; then
    pat_log "installing Debian's npm"
    pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
      pat_die "apt-get update failed"
    pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm ||
      pat_die "apt-get install npm failed"
  else
    pat_log "installing Debian's nodejs and npm"
    pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
      pat_die "apt-get update failed"
    pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm ||
      pat_die "apt-get install nodejs npm failed"
  fi
  local major
  major="$(pat_node_major)"
  if [[ -z "$major" || "$major" -lt 18 ]]; then
    pat_die "Node $(node --version 2>/dev/null) is too old for tests/clients (verdaccio 6.8 needs >= 18; 20 is tested)"
  fi
}

pat_install_node_clients() {
  pat_ensure_node
  # The REST client test also drives curl.
  if ! command -v curl >/dev/null 2>&1; then
    [[ "${PAT_SKIP_INSTALL:-0}" == 1 ]] && pat_die "curl missing (PAT_SKIP_INSTALL=1, not installing)"
    pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl ||
      pat_die "apt-get install curl failed"
  fi
  local dir="$PAT_NODE_CLIENTS_DIR" stamp="$PAT_NODE_CLIENTS_DIR/node_modules/.package-lock.json"
  # npm ci records the installed tree in node_modules/.package-lock.json.
  if [[ -f "$stamp" && "$stamp" -nt "$dir/package-lock.json" &&
    -x "$dir/node_modules/.bin/verdaccio" && -x "$dir/node_modules/.bin/pnpm" &&
    -x "$dir/node_modules/.bin/yarn" ]]; then
    pat_log "tests/clients: node_modules is up to date"
    return 0
  fi
  pat_log "tests/clients: npm ci (verdaccio, pnpm, yarn, figma-api, figma-js)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=warn) ||
    pat_die "npm ci in tests/clients failed"
}
