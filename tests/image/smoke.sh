#!/usr/bin/env bash
# Smoke test of the images scripts/image built (ctest label image).
#
# `podman run` does not work in these VMs, so each image is mounted
# (`podman image mount`) and its binaries run inside it with chroot, as the
# image's non-root user 65532:
#   * every image: the binary's --version names the version and commit;
#   * the images hold no compiler and no -dev package (runtime libraries only);
#   * pat-authority (in its image) starts against PostgreSQL
#     ($PAT_TEST_DATABASE_URL, on loopback: chroot shares the network), becomes
#     ready on /readyz, pat-sidecar (in its image) syncs from it (/readyz) and
#     answers 401 without a token, patctl (in its image) upserts a plan, and
#     pat-console (in its image) serves its page and /healthz.
# Needs root and podman. Without podman (or without the images) it fails with
# a message saying so. scripts/test runs it (through scripts/image --smoke)
# when podman and the images are present and says which is missing when not;
# ctest registers it only with -DPAT_IMAGE_TESTS=ON (tests/CMakeLists.txt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fail() { printf 'image smoke: FAIL: %s\n' "$*" >&2; exit 1; }
log() { printf 'image smoke: %s\n' "$*" >&2; }

command -v podman >/dev/null || fail "podman is not installed (scripts/image installs it)"
[[ "$(id -u)" == 0 ]] || fail "needs root (podman image mount, chroot)"
[[ -n "${PAT_TEST_DATABASE_URL:-}" ]] || fail "PAT_TEST_DATABASE_URL is not set"
VERSION="$(sed -n 's/^set(PAT_VERSION "\([^"]*\)".*/\1/p' "$ROOT/common/CMakeLists.txt")"

declare -A MNT=()
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for p in "${!MNT[@]}"; do
    umount "${MNT[$p]}/proc" 2>/dev/null || true
    umount "${MNT[$p]}/dev" 2>/dev/null || true
    podman image unmount "localhost/$p:$VERSION" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

IMAGES=(pat-authority pat-sidecar patctl pat-console)
for name in "${IMAGES[@]}"; do
  podman image exists "localhost/$name:$VERSION" ||
    fail "image localhost/$name:$VERSION is missing: run scripts/image first"
  MNT[$name]="$(podman image mount "localhost/$name:$VERSION")"
  root="${MNT[$name]}"
  # What a container runtime would provide.
  mount --bind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  [[ -x "$root/usr/local/bin/$name" ]] || fail "$name: /usr/local/bin/$name is not in the image"
  out="$(chroot --userspec=65532:65532 "$root" "/usr/local/bin/$name" --version)" ||
    fail "$name --version failed in its image"
  [[ "$out" =~ ^$name\ $VERSION\ \(commit\ [0-9a-z.-]+\)$ ]] || fail "$name --version: $out"
  log "$out"
  for f in usr/bin/g++ usr/bin/cc usr/bin/cmake usr/include/grpcpp; do
    [[ ! -e "$root/$f" ]] || fail "$name: the runtime image holds /$f"
  done
  grep -q '^pat:x:65532:' "$root/etc/passwd" || fail "$name: no user pat (65532)"
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {  # URL SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}

# A fresh database for the authority.
db="pat_image_$$"
psql "$PAT_TEST_DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
url="${PAT_TEST_DATABASE_URL%/*}/$db"
trap 'cleanup; psql "$PAT_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

grpc_port="$(free_port)"
admin_port="$(free_port)"
chroot --userspec=65532:65532 "${MNT[pat-authority]}" /usr/local/bin/pat-authority \
  --insecure --listen="127.0.0.1:$grpc_port" --admin_listen="127.0.0.1:$admin_port" \
  --database_url="$url" --auto_migrate >"${TMPDIR:-/tmp}/image-authority.$$.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$admin_port/readyz" 60 ||
  fail "pat-authority in its image did not become ready: $(tail -5 "${TMPDIR:-/tmp}/image-authority.$$.log")"
log "pat-authority (image) ready on 127.0.0.1:$grpc_port"
curl -sf "http://127.0.0.1:$admin_port/metrics" | grep -q '^pat_authority_ready 1$' ||
  fail "pat-authority metrics do not say ready"

proxy_port="$(free_port)"
sidecar_admin="$(free_port)"
chroot --userspec=65532:65532 "${MNT[pat-sidecar]}" /usr/local/bin/pat-sidecar \
  --insecure --authority="127.0.0.1:$grpc_port" --upstream=http://127.0.0.1:9 \
  --listen="127.0.0.1:$proxy_port" --admin_listen="127.0.0.1:$sidecar_admin" \
  >"${TMPDIR:-/tmp}/image-sidecar.$$.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$sidecar_admin/readyz" 60 ||
  fail "pat-sidecar in its image did not sync: $(tail -5 "${TMPDIR:-/tmp}/image-sidecar.$$.log")"
log "pat-sidecar (image) synced from the authority"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$proxy_port/v1/files/KEY")"
[[ "$code" == 401 ]] || fail "pat-sidecar answered $code without a token, not 401"

# patctl (its image) talks to the authority.
chroot --userspec=65532:65532 "${MNT[patctl]}" /usr/local/bin/patctl --insecure \
  --authority="127.0.0.1:$grpc_port" upsert-plan --id=1234567890 --name=Acme \
  --tier=organization --admins=alice >/dev/null || fail "patctl in its image failed"
log "patctl (image) upserted a plan"

# pat-console (its image) serves its page, as a signed-in dev user.
console_port="$(free_port)"
chroot --userspec=65532:65532 "${MNT[pat-console]}" /usr/local/bin/pat-console \
  --insecure --authority="127.0.0.1:$grpc_port" --listen="127.0.0.1:$console_port" \
  --dev_user=alice >"${TMPDIR:-/tmp}/image-console.$$.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$console_port/healthz" 60 ||
  fail "pat-console in its image did not serve /healthz: $(tail -5 "${TMPDIR:-/tmp}/image-console.$$.log")"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$console_port/")"
[[ "$code" == 200 ]] || fail "pat-console answered $code for its page, not 200"
log "pat-console (image) serves its page"
log "PASS: ${#IMAGES[@]} images: --version, runtime-only contents, authority ready, sidecar synced and 401, patctl works, console serves"
