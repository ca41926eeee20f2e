#!/usr/bin/env python3
"""PostgreSQL failover drill (issue #12, docs/failover.md).

Real processes only: two private PostgreSQL clusters (a primary and a
streaming standby made with pg_basebackup -R), two pat-authority replicas on
a multi-host libpq URL with target_session_attrs=read-write, two pat-sidecars
(--api=npm, one per authority) in front of pat-sample-upstream, state made
and changed with patctl.

  --mode=sync   synchronous_standby_names='FIRST 1 (pat_standby)',
                synchronous_commit=on. 100 tokens are revoked (each acked),
                30 more are revoked while the primary is killed -9, the
                standby is promoted. Asserts: every acked revoke is revoked
                on the new primary and denied (401 token_revoked) by every
                sidecar; the new primary's feed head equals the revision the
                sidecars had; both authorities recover without a restart;
                changes made after the failover reach both sidecars at the
                next revision (no gap, no resync, no stale allow).
  --mode=async  no synchronous standby; the standby's walreceiver is stopped
                (primary_conninfo='') before the 100 revokes, so the standby
                lags. Asserts the drill DETECTS the loss: more than 0 acked
                revokes are missing on the new primary (it fails if the
                demonstration became vacuous). Then reports, without failing,
                what sidecars do when the feed revision goes backwards
                (docs/failover.md "Feed revision going backwards").

Environment: PAT_AUTHORITY_BIN, PAT_SIDECAR_BIN, PAT_PATCTL_BIN,
PAT_SAMPLE_UPSTREAM_BIN (tests/failover/failover_drill.sh sets them),
PAT_FAILOVER_KEEP=1 keeps the work directory (printed),
PAT_FAILOVER_LAG=pause makes the async standby lag by pg_wal_replay_pause()
instead (docs/failover.md: that loses nothing, the assertion then fails),
PAT_FAILOVER_STRICT=0 only reports the async feed findings instead of
asserting them (for binaries without the FeedHub fix of docs/failover.md). Every result line
starts with "failover[mode]:"; the last line is PASS or FAIL. Only the
standard library.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
ACTOR = "alice"
PLAN = "1111111111"
SCOPE = "@a-scope"
STANDBY_NAME = "pat_standby"
N_REVOKES = 100
N_BURST = 20
MODE = "?"
T0 = time.monotonic()


def log(msg):
    sys.stdout.write("failover[%s] %5.1fs: %s\n" % (MODE, time.monotonic() - T0, msg))
    sys.stdout.flush()


class DrillFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise DrillFailure(what)
    log("ok: " + what)


def wait_for(pred, what, timeout):
    """Polls pred() until truthy (returns it); DrillFailure after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise DrillFailure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("PAT_")}


# ---------------------------------------------------------------------------
# PostgreSQL clusters (as the postgres OS user when we are root, like
# scripts/lib/pg.sh).


def as_pg(argv):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def run_pg(argv, timeout=60, check_rc=True):
    r = subprocess.run(as_pg(argv), cwd="/", capture_output=True, timeout=timeout,
                       env=child_env())
    if check_rc and r.returncode != 0:
        raise DrillFailure("%s failed: %s" % (" ".join(argv[:2]),
                                              (r.stdout + r.stderr).decode()[-2000:]))
    return r


def psql(port, sql, db="postgres", timeout=30):
    r = subprocess.run(["psql", "-XqAt", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                        "-p", str(port), "-U", "postgres", "-d", db, "-c", sql],
                       capture_output=True, timeout=timeout, env=child_env())
    if r.returncode != 0:
        raise DrillFailure("psql :%d %r: %s" % (port, sql[:60], r.stderr.decode()))
    return r.stdout.decode().strip()


class Cluster:
    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)

    def append_conf(self, fname, lines):
        text = "".join(l + "\n" for l in lines)
        subprocess.run(as_pg(["tee", "-a", os.path.join(self.data, fname)]), cwd="/",
                       input=text.encode(), stdout=subprocess.DEVNULL, check=True)

    def start(self):
        run_pg([PG_BINDIR + "/pg_ctl", "-D", self.data, "-l",
                os.path.join(self.dir, "server.log"), "-w", "-t", "60", "-s", "start"], 90)

    def promote(self):
        run_pg([PG_BINDIR + "/pg_ctl", "-D", self.data, "-w", "-t", "60", "-s", "promote"], 90)

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def kill9(self):
        """SIGKILL the postmaster and all its children at once (a crash)."""
        pm = self.postmaster_pid()
        if pm is None:
            raise DrillFailure("no postmaster pid in " + self.data)
        pids = [pm] + children_of(pm)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not any(alive(p) for p in pids), "killed postmaster to exit", 20)

    def stop(self):
        if self.postmaster_pid() is not None and alive(self.postmaster_pid()):
            run_pg([PG_BINDIR + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w",
                    "-t", "30", "-s", "stop"], 60, check_rc=False)


def children_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def make_pair(root, sync, clusters):
    """Starts a primary and its streaming standby (appended to `clusters` as
    soon as they exist, for the caller's cleanup)."""
    primary = Cluster(root, "primary")
    clusters.append(primary)
    run_pg([PG_BINDIR + "/initdb", "-D", primary.data, "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], 120)
    # fsync=off only makes the drill fast: a process kill (not an OS crash)
    # keeps the page cache, and the standby still reports flush positions.
    primary.append_conf("postgresql.conf", [
        "listen_addresses = '127.0.0.1'", "port = %d" % primary.port,
        "unix_socket_directories = ''", "max_connections = 100", "fsync = off",
        "wal_level = replica", "max_wal_senders = 5", "wal_keep_size = '64MB'",
        "synchronous_commit = on",
        "logging_collector = off", "log_min_messages = warning"])
    primary.start()
    psql(primary.port, "CREATE DATABASE pat")
    standby = Cluster(root, "standby")
    clusters.append(standby)
    run_pg([PG_BINDIR + "/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-D", standby.data, "-R", "-X", "stream", "--no-sync",
            "--checkpoint=fast"], 120)
    # postgresql.auto.conf is read last: the standby's own port and name. It
    # has no synchronous standby of its own, so that after promotion it
    # accepts writes alone (docs/failover.md: what a real HA manager does).
    standby.append_conf("postgresql.auto.conf", [
        "port = %d" % standby.port, "synchronous_standby_names = ''",
        "primary_conninfo = 'host=127.0.0.1 port=%d user=postgres application_name=%s'" % (
            primary.port, STANDBY_NAME)])
    standby.start()
    want = "sync" if sync else "async"
    if sync:
        # Only now: with a synchronous standby named, every commit (CREATE
        # DATABASE and pg_basebackup's too) waits for it.
        psql(primary.port, "ALTER SYSTEM SET synchronous_standby_names = "
             "'FIRST 1 (%s)'" % STANDBY_NAME)
        psql(primary.port, "SELECT pg_reload_conf()")
    wait_for(lambda: psql(primary.port,
                          "SELECT sync_state FROM pg_stat_replication WHERE "
                          "application_name = '%s' AND state = 'streaming'" % STANDBY_NAME) == want,
             "the standby to stream (%s)" % want, 60)
    log("primary :%d, standby :%d streaming, sync_state=%s" % (primary.port, standby.port, want))
    return primary, standby


# ---------------------------------------------------------------------------
# pat processes


class Proc:
    def __init__(self, name, argv, logdir):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        self.log_file = open(self.log_path, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                  stderr=subprocess.STDOUT, env=child_env(),
                                  start_new_session=True)

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def listening(self, timeout=60):
        def find():
            if self.p.poll() is not None:
                raise DrillFailure("%s exited %s:\n%s" % (self.name, self.p.returncode,
                                                          self.text()[-3000:]))
            for line in self.text().splitlines():
                if '"listening"' in line:
                    try:
                        j = json.loads(line)
                    except ValueError:
                        continue
                    if j.get("msg") == "listening":
                        return j
            return None
        return wait_for(find, self.name + " to listen", timeout)

    def stop(self):
        if self.p.poll() is None:
            # Shutdown is not under test here: a short grace, then SIGKILL.
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(3)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self.log_file.close()


def http_get(port, path, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def reason_of(body):
    try:
        return json.loads(body).get("reason")
    except (ValueError, AttributeError):
        return None


class Stack:
    def __init__(self, workdir, bins, db_url):
        self.workdir = workdir
        self.bins = bins
        self.db_url = db_url
        self.procs = []
        self.authorities = []
        self.sidecars = []

    def spawn(self, name, argv):
        p = Proc(name, argv, self.workdir)
        self.procs.append(p)
        return p

    def start_authority(self, name):
        p = self.spawn(name, [self.bins["authority"], "--listen=127.0.0.1:0", "--insecure",
                              "--admin_listen=127.0.0.1:0", "--database_url=" + self.db_url,
                              "--auto_migrate"])
        j = p.listening()
        p.target, p.admin_port = "127.0.0.1:%d" % j["port"], j.get("admin_port", 0)
        return p

    def start_sidecar(self, name, authority):
        p = self.spawn(name, [self.bins["sidecar"], "--listen=127.0.0.1:0",
                              "--admin_listen=127.0.0.1:0",
                              "--upstream=http://127.0.0.1:%d" % self.upstream_port,
                              "--authority=" + authority.target, "--insecure", "--api=npm"])
        j = p.listening()
        p.port, p.admin_port = j["port"], j["admin_port"]
        wait_for(lambda: self.sidecar_ready(p), name + " /readyz", 30)
        return p

    @staticmethod
    def sidecar_ready(p):
        try:
            return http_get(p.admin_port, "/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def start(self):
        up = self.spawn("pat-sample-upstream", [self.bins["upstream"], "--listen=127.0.0.1:0"])
        self.upstream_port = up.listening()["port"]
        self.authorities = [self.start_authority("pat-authority-a"),
                            self.start_authority("pat-authority-b")]
        self.patctl_ok(self.authorities[0], "upsert-plan", "--id=" + PLAN, "--name=Plan A",
                       "--tier=organization", "--admins=" + ACTOR)
        self.patctl_ok(self.authorities[0], "upsert-resource", "--plan=" + PLAN,
                       "--kind=npm_scope", "--id=" + SCOPE, "--name=scope")
        self.sidecars = [self.start_sidecar("pat-sidecar-a", self.authorities[0]),
                         self.start_sidecar("pat-sidecar-b", self.authorities[1])]

    def stop(self):
        def one(p):
            try:
                p.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (p.name, e))
        pmap(one, self.procs, workers=max(1, len(self.procs)))

    def patctl(self, authority, *args, timeout="15s"):
        r = subprocess.run([self.bins["patctl"], "--insecure", "--authority=" + authority.target,
                            "--actor=" + ACTOR, "--timeout=" + timeout] + list(args),
                           env=child_env(), capture_output=True, timeout=60)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")

    def patctl_ok(self, authority, *args):
        rc, out = self.patctl(authority, *args)
        if rc != 0:
            raise DrillFailure("patctl %s via %s: exit %d: %s" % (args[0], authority.name, rc, out))
        return out

    def create_token(self, i):
        out = self.patctl_ok(self.authorities[i % 2], "create", "--plan=" + PLAN, "--kind=npm",
                             "--name=drill-%d" % i, "--days=30", "--scopes=packages:read",
                             "--all_resources", "--request_id=drill-create-%d" % i)
        f = dict(re.findall(r"^(token_id|secret): *(\S+)$", out, re.M))
        return f["token_id"], f["secret"]

    def revoke(self, i, token_id):
        return self.patctl(self.authorities[i % 2], "revoke", "--plan=" + PLAN,
                           "--token=" + token_id)

    def through(self, sidecar, secret):
        return http_get(sidecar.port, "/%s/pkg" % SCOPE, {"Authorization": "Bearer " + secret})

    def metric(self, sidecar, name):
        status, body = http_get(sidecar.admin_port, "/metrics", timeout=5)
        if status != 200:
            raise DrillFailure("%s /metrics: %d" % (sidecar.name, status))
        m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name), body.decode(), re.M)
        if m is None:
            raise DrillFailure("%s /metrics has no %s" % (sidecar.name, name))
        return int(float(m.group(1)))


def pmap(fn, items, workers=8):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, items))


# ---------------------------------------------------------------------------
# Checks shared by both modes


def denied_everywhere(st, secrets_):
    """{sidecar name: [secret index not answered 401 token_revoked]}."""
    bad = {}
    for sc in st.sidecars:
        def one(k):
            status, body = st.through(sc, secrets_[k])
            return None if (status == 401 and reason_of(body) == "token_revoked") else (
                k, status, reason_of(body))
        wrong = [w for w in pmap(one, range(len(secrets_))) if w]
        if wrong:
            bad[sc.name] = wrong
    return bad


def allowed_by(sc, st, secret):
    status, _ = st.through(sc, secret)
    return status == 200


def revoked_count(port, token_ids):
    ids = ",".join("'%s'" % t for t in token_ids)
    return int(psql(port, "SELECT count(*) FROM tokens WHERE id IN (%s) AND revoke_time IS NOT NULL"
                    % ids, db="pat"))


def feed_head(port):
    return int(psql(port, "SELECT revision FROM feed_head WHERE id = 1", db="pat"))


def wait_sidecars_at(st, revision, timeout=20):
    for sc in st.sidecars:
        wait_for(lambda: st.metric(sc, "pat_sidecar_watch_revision") == revision,
                 "%s to reach revision %d" % (sc.name, revision), timeout)


def wait_authorities_recover(st, probe_token, t_kill):
    """Polls a read RPC on each authority until it answers; returns seconds
    from the kill and the number of failed probes (with their exit codes)."""
    out = {}
    for a in st.authorities:
        failures = {}

        def ok():
            rc, text = st.patctl(a, "get", "--plan=" + PLAN, "--token=" + probe_token,
                                 timeout="2s")
            if rc != 0:
                code = re.search(r"\b(UNAVAILABLE|DEADLINE_EXCEEDED|INTERNAL|ABORTED|UNKNOWN)\b",
                                 text)
                key = "exit %d %s" % (rc, code.group(1) if code else "")
                failures[key] = failures.get(key, 0) + 1
            return rc == 0
        wait_for(ok, a.name + " to answer after the failover", 60)
        out[a.name] = (time.monotonic() - t_kill, failures)
    return out


# ---------------------------------------------------------------------------
# The drill


def run(mode, workdir, bins):
    sync = mode == "sync"
    clusters = []
    try:
        primary, standby = make_pair(workdir, sync, clusters)
    except BaseException:
        for c in clusters:
            c.stop()
        raise
    url = ("postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/pat?"
           "target_session_attrs=read-write&connect_timeout=2" % (primary.port, standby.port))
    st = Stack(workdir, bins, url)
    try:
        st.start()
        return drill(st, mode, primary, standby)
    finally:
        st.stop()
        for c in clusters:
            c.stop()


def drill(st, mode, primary, standby):
    sync = mode == "sync"
    n_tokens = N_REVOKES + (N_BURST if sync else 0) + 2
    t0 = time.monotonic()
    tokens = pmap(st.create_token, range(n_tokens))
    revoked, burst = tokens[:N_REVOKES], tokens[N_REVOKES:N_REVOKES + (N_BURST if sync else 0)]
    witness_revoke, witness_live = tokens[-2], tokens[-1]
    log("%d tokens created in %.1f s" % (n_tokens, time.monotonic() - t0))
    check(all(allowed_by(sc, st, s) for sc in st.sidecars for _, s in tokens),
          "every new token is allowed (200) through both sidecars")

    if not sync and os.environ.get("PAT_FAILOVER_LAG") == "pause":
        # Variant: the standby still receives (and flushes) WAL, only replay
        # is paused.
        psql(standby.port, "SELECT pg_wal_replay_pause()")
        log("standby replay paused (pg_wal_replay_pause); WAL still received")
    elif not sync:
        # The standby stops receiving WAL: from here on it lags.
        standby.append_conf("postgresql.auto.conf", ["primary_conninfo = ''"])
        psql(standby.port, "SELECT pg_reload_conf()")
        wait_for(lambda: psql(primary.port, "SELECT count(*) FROM pg_stat_replication") == "0",
                 "the walreceiver to stop", 30)
        log("standby walreceiver stopped (primary_conninfo=''): the standby lags")

    results = pmap(lambda k: st.revoke(k, revoked[k][0]), range(N_REVOKES))
    not_acked = [(k, rc, out[:200]) for k, (rc, out) in enumerate(results) if rc != 0]
    check(not not_acked, "all %d revokes acked OK (%s)" % (N_REVOKES, not_acked[:3]))
    head_before = feed_head(primary.port)
    wait_sidecars_at(st, head_before)
    bad = denied_everywhere(st, [s for _, s in revoked])
    check(not bad, "both sidecars deny all %d revoked tokens before the failover (%s)"
          % (N_REVOKES, str(bad)[:300]))

    # The crash. In sync mode N_BURST more revokes are in flight meanwhile.
    burst_results = {}
    if sync:
        ex = concurrent.futures.ThreadPoolExecutor(6)
        futs = {ex.submit(st.revoke, k, burst[k][0]): k for k in range(N_BURST)}
        wait_for(lambda: sum(f.done() for f in futs) >= N_BURST // 3, "a third of the burst", 30)
    t_kill = time.monotonic()
    primary.kill9()
    log("primary killed -9 (postmaster and children)")
    if sync:
        for f, k in futs.items():
            burst_results[k] = f.result()[0]
        ex.shutdown()

    # During the outage: sidecars serve from their caches.
    outage_bad = denied_everywhere(st, [s for _, s in revoked[:10]])
    outage_live = [allowed_by(sc, st, witness_live[1]) for sc in st.sidecars]
    rc, out = st.revoke(0, witness_revoke[0])
    check(rc != 0 and "UNAVAILABLE" in out,
          "a revoke during the outage fails UNAVAILABLE (exit %d: %s)" % (rc, out.strip()[:120]))
    def probes():
        return {a.name: (http_get(a.admin_port, "/readyz", timeout=5)[0],
                         http_get(a.admin_port, "/healthz", timeout=5)[0])
                for a in st.authorities}
    wait_for(lambda: all(r == (503, 200) for r in probes().values()),
             "the authorities' /readyz 503 (and /healthz 200) during the outage", 15)
    check(True, "during the outage the authorities' /readyz is 503 and /healthz 200")
    check(not outage_bad and all(outage_live),
          "during the outage both sidecars still deny revoked tokens and allow the live one "
          "from cache")

    standby.promote()
    t_promote = time.monotonic()
    log("standby promoted %.1f s after the kill" % (t_promote - t_kill))
    rec = wait_authorities_recover(st, witness_live[0], t_kill)
    for a in st.authorities:
        wait_for(lambda: http_get(a.admin_port, "/readyz", timeout=5)[0] == 200,
                 a.name + " /readyz 200 after the promotion", 30)
    check(True, "both authorities ready again without a restart")
    for name, (secs, failures) in rec.items():
        log("measure: %s answered again %.1f s after the kill (%.1f s after promotion); "
            "failed probes: %s" % (name, secs, secs - (t_promote - t_kill), failures or "none"))

    head_after = feed_head(standby.port)
    still = revoked_count(standby.port, [t for t, _ in revoked])
    lost = N_REVOKES - still
    log("measure: acked revokes on the new primary: %d of %d (lost %d); feed head %d before "
        "the kill, %d on the new primary" % (still, N_REVOKES, lost, head_before, head_after))
    if sync:
        return finish_sync(st, standby, revoked, burst, burst_results, witness_revoke,
                           witness_live, head_before, head_after, lost)
    return finish_async(st, standby, revoked, witness_revoke, witness_live, head_before,
                        head_after, lost)


def finish_sync(st, standby, revoked, burst, burst_results, witness_revoke, witness_live,
                head_before, head_after, lost):
    check(lost == 0, "sync: every acked revoke is revoked on the new primary")
    acked_burst = [burst[k][0] for k, rc in burst_results.items() if rc == 0]
    in_doubt = [burst[k][0] for k, rc in burst_results.items() if rc != 0]
    burst_kept = revoked_count(standby.port, acked_burst)
    log("measure: burst during the kill: %d acked, %d failed (in doubt: %d of them revoked)"
        % (len(acked_burst), len(in_doubt), revoked_count(standby.port, in_doubt) if in_doubt
           else 0))
    check(burst_kept == len(acked_burst),
          "sync: every revoke acked during the kill is revoked on the new primary (%d/%d)"
          % (burst_kept, len(acked_burst)))
    check(head_after >= head_before,
          "sync: the new primary's feed head (%d) is not behind the sidecars' (%d)"
          % (head_after, head_before))
    # Revokes of the burst that committed advance the head past head_before.
    wait_sidecars_at(st, head_after, 30)
    check(True, "both sidecars are at the new primary's head %d" % head_after)
    bad = denied_everywhere(st, [s for _, s in revoked])
    check(not bad, "sync: both sidecars deny all %d acked revokes after the failover"
          % N_REVOKES)
    resyncs = [st.metric(sc, "pat_sidecar_watch_resyncs_total") for sc in st.sidecars]
    # Not only the sidecars' (sticky) caches: a sidecar started now takes a
    # snapshot of the new primary and denies them too.
    late = st.start_sidecar("pat-sidecar-late", st.authorities[1])
    bad = denied_everywhere_one(st, late, [s for _, s in revoked] +
                                [burst[k][1] for k, rc in burst_results.items() if rc == 0])
    check(not bad, "sync: a sidecar started after the failover (snapshot of the new primary) "
          "denies every acked revoke")

    # New changes after the failover, one through each authority.
    st.patctl_ok(st.authorities[0], "revoke", "--plan=" + PLAN, "--token=" + witness_revoke[0])
    new_id, new_secret = st.create_token(1001)
    head_new = feed_head(standby.port)
    check(head_new == head_after + 2, "two changes after the failover are revisions %d and %d"
          % (head_after + 1, head_after + 2))
    wait_sidecars_at(st, head_new)
    for sc in st.sidecars:
        wait_for(lambda: st.through(sc, witness_revoke[1])[0] == 401,
                 "%s to deny the token revoked after the failover" % sc.name, 20)
    wait_for(lambda: st.through(late, witness_revoke[1])[0] == 401, "the late sidecar", 20)
    check(all(reason_of(st.through(sc, witness_revoke[1])[1]) == "token_revoked"
              for sc in st.sidecars + [late]),
          "sync: a revoke made after the failover reaches both sidecars (401 token_revoked)")
    check(all(allowed_by(sc, st, new_secret) and allowed_by(sc, st, witness_live[1])
              for sc in st.sidecars),
          "sync: a token created after the failover and the live one are allowed (200)")
    check([st.metric(sc, "pat_sidecar_watch_resyncs_total") for sc in st.sidecars] == resyncs
          and resyncs == [0, 0],
          "sync: no sidecar saw a gap or resynced (resyncs_total %s)" % resyncs)
    return True


def strict():
    return os.environ.get("PAT_FAILOVER_STRICT", "1") != "0"


def report(cond, what):
    """The feed going backwards (docs/failover.md): asserted, or with
    PAT_FAILOVER_STRICT=0 only logged as a finding (binaries without the
    FeedHub fix)."""
    if strict():
        check(cond, what)
    elif cond:
        log("ok: " + what)
    else:
        log("finding (BUG, not asserted with PAT_FAILOVER_STRICT=0): NOT " + what)


def sidecar_view(st, sc, revoked, witness):
    status, body = st.through(sc, witness[1])
    still_denied = N_REVOKES - len(denied_everywhere_one(st, sc, [s for _, s in revoked]))
    return {"revision": st.metric(sc, "pat_sidecar_watch_revision"),
            "witness": "%d %s" % (status, reason_of(body) or ""),
            "lost_revokes_still_denied": still_denied}


def restart_authority(st, i):
    old = st.authorities[i]
    old.stop()
    p = st.spawn(old.name + "-restarted", [st.bins["authority"], "--listen=" + old.target,
                                           "--insecure", "--admin_listen=127.0.0.1:0",
                                           "--database_url=" + st.db_url])
    p.listening()
    p.target = old.target
    st.authorities[i] = p


def finish_async(st, standby, revoked, witness_revoke, witness_live, head_before, head_after,
                 lost):
    # The demonstration must not become vacuous: the standby lagged, so the
    # acked revokes are not on it.
    check(lost > 0, "async: the drill detects acked revokes missing after promotion "
          "(lost %d of %d)" % (lost, N_REVOKES))
    check(head_after < head_before,
          "async: the feed revision went backwards (%d -> %d)" % (head_before, head_after))

    # 1. The authorities that survived the failover, and their sidecars.
    st.patctl_ok(st.authorities[0], "revoke", "--plan=" + PLAN, "--token=" + witness_revoke[0])
    head_new = feed_head(standby.port)
    # Enough for the authorities' feed listeners to reconnect and their
    # sidecars to resync (with the fix); the bug makes it wait it out.
    deadline = time.monotonic() + (15 if strict() else 5)
    while time.monotonic() < deadline and not all(
            st.through(sc, witness_revoke[1])[0] == 401 for sc in st.sidecars):
        time.sleep(0.1)
    views = {sc.name: sidecar_view(st, sc, revoked, witness_revoke) for sc in st.sidecars}
    log("measure: surviving authorities, new primary head %d: %s" % (head_new, views))
    report(all(v["witness"] == "401 token_revoked" for v in views.values()),
           "async: a revoke made after the failover (revision %d) reaches the sidecars of "
           "authorities that survived it" % head_new)
    report(all(v["revision"] <= head_new for v in views.values()),
           "async: the sidecars' revision follows the new primary's head back")
    # A sidecar that starts now, on a surviving authority.
    fresh = st.start_sidecar("pat-sidecar-fresh", st.authorities[1])
    st.sidecars.append(fresh)
    wait_for(lambda: st.through(fresh, witness_live[1])[0] == 200, "the fresh sidecar", 20)
    v = sidecar_view(st, fresh, revoked, witness_revoke)
    log("measure: fresh sidecar on a surviving authority: %s" % v)
    report(v["lost_revokes_still_denied"] == N_REVOKES - lost,
           "async: a fresh sidecar on a surviving authority sees exactly the new primary's "
           "state (%d revoked tokens allowed)" % lost)

    # 2. The workaround docs/failover.md gives: restart every authority. Each
    # reads the new head at start; sidecars resuming from a revision beyond
    # it get a snapshot of the new primary.
    for i in range(len(st.authorities)):
        restart_authority(st, i)
    log("both authorities restarted")
    for sc in st.sidecars:
        wait_for(lambda: st.through(sc, witness_revoke[1])[0] == 401 and
                 st.metric(sc, "pat_sidecar_watch_revision") == head_new,
                 "%s to re-snapshot at revision %d" % (sc.name, head_new), 30)
        view = sidecar_view(st, sc, revoked, witness_revoke)
        log("measure: after restarting the authorities, %s: %s" % (sc.name, view))
    check(True, "async, after restarting the authorities: every sidecar re-snapshotted at "
          "the new head %d and denies the post-failover revoke" % head_new)
    # R10 (revocation is sticky in a sidecar) keeps the sidecars that saw
    # the lost revokes denying them; a sidecar started now sees the database.
    late = st.start_sidecar("pat-sidecar-late", st.authorities[0])
    st.sidecars.append(late)
    v = sidecar_view(st, late, revoked, witness_revoke)
    log("measure: sidecar started after the restart: %s" % v)
    check(v["lost_revokes_still_denied"] == N_REVOKES - lost and
          v["witness"] == "401 token_revoked",
          "async: a sidecar started after the restart allows the %d lost revokes (the new "
          "primary never saw them) and denies the post-failover one" % lost)
    # The lost revokes are not in the database: revoke them again.
    lost_ids = psql(standby.port, "SELECT id FROM tokens WHERE revoke_time IS NULL AND id IN "
                    "(%s) ORDER BY id LIMIT 5" % ",".join("'%s'" % t for t, _ in revoked),
                    db="pat").split()
    for k, t in enumerate(lost_ids):
        st.patctl_ok(st.authorities[k % 2], "revoke", "--plan=" + PLAN, "--token=" + t)
    head_final = feed_head(standby.port)
    wait_sidecars_at(st, head_final)
    again = [s for t, s in revoked if t in lost_ids]
    bad = denied_everywhere(st, again)
    check(not bad and head_final == head_new + len(lost_ids),
          "async: %d revokes repeated after the restart reach every sidecar (head %d)"
          % (len(lost_ids), head_final))
    return True


def denied_everywhere_one(st, sc, secrets_):
    """Indices of secrets that sc does NOT answer 401 token_revoked."""
    def one(k):
        status, body = st.through(sc, secrets_[k])
        return k if not (status == 401 and reason_of(body) == "token_revoked") else None
    return [k for k in pmap(one, range(len(secrets_))) if k is not None]


def main():
    global MODE
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["sync", "async"], required=True)
    args = ap.parse_args()
    MODE = args.mode
    bins = {"authority": os.environ["PAT_AUTHORITY_BIN"], "sidecar": os.environ["PAT_SIDECAR_BIN"],
            "patctl": os.environ["PAT_PATCTL_BIN"],
            "upstream": os.environ["PAT_SAMPLE_UPSTREAM_BIN"]}
    workdir = tempfile.mkdtemp(prefix="pat-failover-")
    os.chmod(workdir, 0o755)
    started = time.monotonic()
    ok = False
    try:
        ok = run(args.mode, workdir, bins)
    except (DrillFailure, subprocess.TimeoutExpired) as e:
        log("FAIL: %s" % e)
    finally:
        if os.environ.get("PAT_FAILOVER_KEEP"):
            log("work directory kept: " + workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    log("%s in %.1f s" % ("PASS" if ok else "FAIL", time.monotonic() - started))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
