# shellcheck shell=bash
# Shared helpers for scripts/*. Source it; it defines functions and a few
# variables and changes nothing else.

if [[ -n "${PAT_COMMON_SH_LOADED:-}" ]]; then
  return 0
fi
PAT_COMMON_SH_LOADED=1

# Repository root (the directory above scripts/).
PAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export PAT_ROOT

pat_log() { printf '[%s] %s\n' "${PAT_LOG_TAG:-pat}" "$*" >&2; }
pat_die() { printf '[%s] error: %s\n' "${PAT_LOG_TAG:-pat}" "$*" >&2; exit 1; }

pat_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Runs "$@" as root: directly when root, through sudo otherwise.
pat_as_root() {
  if pat_is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    pat_die "need root for: $* (sudo is not installed; run as root)"
  fi
}

# Number of parallel build jobs: PAT_BUILD_JOBS, else nproc.
pat_build_jobs() {
  if [[ -n "${PAT_BUILD_JOBS:-}" ]]; then
    printf '%s\n' "${PAT_BUILD_JOBS}"
  else
    nproc 2>/dev/null || echo 2
  fi
}

# pat_tcp_open HOST PORT: true when something accepts TCP connections there.
pat_tcp_open() {
  local host="$1" port="$2"
  # shellcheck disable=SC2016 # expanded by the inner bash
  if command -v timeout >/dev/null 2>&1; then
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
  else
    bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
  fi
}

# pat_wait_tcp HOST PORT SECONDS [PID]: waits until HOST:PORT accepts
# connections. Fails after SECONDS, or at once when PID (if given) exits.
pat_wait_tcp() {
  local host="$1" port="$2" secs="$3" pid="${4:-}"
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if pat_tcp_open "$host" "$port"; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    sleep 0.1
  done
  return 1
}

# pat_free_port: prints a TCP port on 127.0.0.1 that is free right now.
# (Whoever binds it must still cope with losing a race for it.)
pat_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - <<'PY' && return 0
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
  fi
  local i port
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 40000))
    if command -v ss >/dev/null 2>&1; then
      if ! ss -Htln "sport = :${port}" 2>/dev/null | grep -q .; then
        printf '%s\n' "$port"
        return 0
      fi
    elif ! pat_tcp_open 127.0.0.1 "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  pat_die "could not find a free TCP port"
}

# pat_pid_alive PIDFILE [PATTERN]: true when the pid in PIDFILE is running
# (and, if PATTERN is given, its command line contains PATTERN, so a
# recycled pid is not mistaken for ours).
pat_pid_alive() {
  local pidfile="$1" pattern="${2:-}" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "$pattern" && -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
  fi
  return 0
}

# pat_stop_pidfile PIDFILE [PATTERN] [SECONDS]: TERM the process, wait up to
# SECONDS (default 10), then KILL it. Removes PIDFILE.
pat_stop_pidfile() {
  local pidfile="$1" pattern="${2:-}" secs="${3:-10}" pid deadline
  if pat_pid_alive "$pidfile" "$pattern"; then
    pid="$(<"$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + secs))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      pat_log "pid $pid did not stop in ${secs}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}
