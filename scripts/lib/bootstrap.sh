# shellcheck shell=bash
# Installing what the build needs and building it. Source it (scripts/test,
# scripts/dev and scripts/bootstrap do).
#
#   pat_install_deps [EXTRA_PKG...]  apt-get install the Debian packages that
#                       are missing (checked with dpkg-query; `apt-get update`
#                       runs once, only when something is missing).
#   pat_build DIR [CMAKE_ARG...]     configure (Ninja) and build the tree DIR.
#   pat_asan_cmake_args              prints the extra cmake args of the clang
#                       ASan/UBSan tree (which also builds the fuzz targets).
#   pat_tsan_cmake_args              the same for the clang ThreadSanitizer tree.
#
# Environment:
#   PAT_SKIP_INSTALL=1     never call apt-get (fail later if something is missing)
#   PAT_EXTRA_PACKAGES     more Debian packages to ensure (space separated)
#   CMAKE_BUILD_TYPE       default RelWithDebInfo
#   PAT_CMAKE_ARGS         extra cmake configure args (space separated)
#   PAT_BUILD_TARGETS      build only these targets (space separated; pat_build
#                          callers may set it per tree, e.g. pat_tests_unit)
#   PAT_NO_CCACHE=1        do not use ccache even when it is installed
#   PAT_BUILD_JOBS         parallel jobs (default: nproc)

if [[ -n "${PAT_BOOTSTRAP_SH_LOADED:-}" ]]; then
  return 0
fi
PAT_BOOTSTRAP_SH_LOADED=1

# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# clang (Debian 12: clang 14) builds the sanitizer trees; libclang-rt-14-dev
# holds the ASan/UBSan/LSan/TSan/libFuzzer runtimes, llvm the symbolizer that
# sanitizer reports use.
PAT_DEB_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libpqxx-dev postgresql
  libgtest-dev libgmock-dev libbenchmark-dev libboost1.81-dev nlohmann-json3-dev
  zlib1g-dev ccache
  clang libclang-rt-14-dev llvm
  prometheus python3 python3-yaml curl
  pgbouncer  # feed_listen_check_test: a real transaction-mode pooler (docs/feed-faults.md)
)

# pat_missing_packages PKG...: prints the ones dpkg does not have installed.
pat_missing_packages() {
  local p status
  for p in "$@"; do
    # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
    if [[ "$status" != ii* ]]; then
      printf '%s\n' "$p"
    fi
  done
}

pat_install_deps() {
  local -a wanted=("${PAT_DEB_PACKAGES[@]}" "$@") missing=()
  local extra
  # shellcheck disable=SC2206 # deliberate word splitting of a package list
  extra=(${PAT_EXTRA_PACKAGES:-})
  wanted+=("${extra[@]}")
  if ! command -v dpkg-query >/dev/null 2>&1; then
    pat_log "dpkg-query not found: not a Debian system, skipping package installation"
    return 0
  fi
  mapfile -t missing < <(pat_missing_packages "${wanted[@]}")
  if ((${#missing[@]} == 0)); then
    pat_log "all ${#wanted[@]} required Debian packages are installed"
    return 0
  fi
  if [[ "${PAT_SKIP_INSTALL:-0}" == 1 ]]; then
    pat_log "missing packages (PAT_SKIP_INSTALL=1, not installing): ${missing[*]}"
    return 0
  fi
  pat_log "installing missing packages: ${missing[*]}"
  pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    pat_die "apt-get update failed"
  pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}" </dev/null ||
    pat_die "apt-get install failed: ${missing[*]}"
  mapfile -t missing < <(pat_missing_packages "${wanted[@]}")
  if ((${#missing[@]} > 0)); then
    pat_die "still missing after apt-get install: ${missing[*]}"
  fi
  return 0
}

# The sanitizer trees are built with clang: -Wthread-safety checks every
# ABSL_GUARDED_BY (GCC ignores them), and clang's runtimes give LSan, TSan and
# libFuzzer. bench/ is not run there, so it is not built.
pat_asan_cmake_args() {
  printf '%s\n' -DCMAKE_CXX_COMPILER=clang++ -DPAT_FUZZ=ON -DPAT_BUILD_BENCH=OFF
}
pat_tsan_cmake_args() {
  printf '%s\n' -DCMAKE_CXX_COMPILER=clang++ -DPAT_TSAN=ON -DPAT_BUILD_BENCH=OFF
}

# pat_cached_compiler_differs DIR CMAKE_ARG...: true when DIR's CMake cache
# was made with another C++ compiler than a -DCMAKE_CXX_COMPILER= argument
# asks for (CMake cannot switch compilers in place).
pat_cached_compiler_differs() {
  local dir="$1" arg want have
  shift
  [[ -f "$dir/CMakeCache.txt" ]] || return 1
  for arg in "$@"; do
    [[ "$arg" == -DCMAKE_CXX_COMPILER=* ]] && want="${arg#*=}"
  done
  [[ -n "${want:-}" ]] || return 1
  want="$(command -v "$want" 2>/dev/null || printf '%s' "$want")"
  have="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")"
  [[ -n "$have" ]] || return 1
  [[ "$(readlink -f "$want")" != "$(readlink -f "$have")" ]]
}

# pat_build DIR [CMAKE_ARG...]: configure and build. Relative DIRs are taken
# from the repository root.
pat_build() {
  local dir="${1:?pat_build DIR}"
  shift
  [[ "$dir" == /* ]] || dir="$PAT_ROOT/$dir"
  local -a extra targets build_args
  # shellcheck disable=SC2206 # deliberate word splitting of flag lists
  extra=(${PAT_CMAKE_ARGS:-})
  # shellcheck disable=SC2206
  targets=(${PAT_BUILD_TARGETS:-})

  # A tree configured with another generator cannot be reused as is: drop
  # its cache (build outputs are regenerated anyway).
  if [[ -f "$dir/CMakeCache.txt" ]] &&
    ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    pat_log "$dir was configured with another generator; removing its CMake cache"
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
  if pat_cached_compiler_differs "$dir" "$@" "${extra[@]}"; then
    pat_log "$dir was configured with another compiler; removing its CMake cache"
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi

  # ccache, when present: object files are shared between trees and clones
  # (paths are hashed relative to the source root, not absolutely).
  local -a launcher=()
  if command -v ccache >/dev/null 2>&1 && [[ "${PAT_NO_CCACHE:-0}" != 1 ]]; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR="$PAT_ROOT" CCACHE_NOHASHDIR=1
    export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-20G}"
  fi

  pat_log "configuring $dir"
  cmake -S "$PAT_ROOT" -B "$dir" -G Ninja "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
    "$@" "${extra[@]}" || return 1

  build_args=(--build "$dir" -j "$(pat_build_jobs)")
  if ((${#targets[@]} > 0)); then
    build_args+=(--target "${targets[@]}")
  fi
  pat_log "building $dir with $(pat_build_jobs) jobs"
  cmake "${build_args[@]}" || return 1
  return 0
}

# pat_install_kubectl: kubectl for the deploy test (kubectl kustomize). A
# kubectl already on PATH is used as is: Debian's kubernetes-client conflicts
# with other kubectl packages.
pat_install_kubectl() {
  command -v kubectl >/dev/null 2>&1 && return 0
  if [[ "${PAT_SKIP_INSTALL:-0}" == 1 ]]; then
    pat_log "kubectl missing (PAT_SKIP_INSTALL=1, not installing)"
    return 0
  fi
  pat_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends kubernetes-client </dev/null
}
