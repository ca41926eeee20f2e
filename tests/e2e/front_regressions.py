#!/usr/bin/env python3
"""Black-box regression suite for issue #8 (the sidecar front).

Runs the same wire-level checks against ANY pat-sidecar binary, so that the
pre-rebuild binary (commit e9510e3) and the current one can be compared:
real processes, real sockets, no code of the project linked in.

  PAT_SIDECAR_BIN, PAT_AUTHORITY_BIN, PAT_PATCTL_BIN   the binaries under test
  PAT_TEST_DATABASE_URL   a PostgreSQL superuser URL; a fresh database is made
                          on it and dropped afterwards (tests/e2e/
                          front_regressions.sh starts a private cluster when
                          this is unset)
  PAT_FRONT_ITEMS         optional comma-separated item numbers to run
  PAT_FRONT_KEEP_LOGS     keep the log directory (printed) when set

Started here: pat-authority (--insecure, port 0), three pat-sidecars (REST,
npm, REST with --credential_headers=x-figma-token), and an upstream HTTP
server in this process that the test controls (splits responses at chosen
byte offsets, streams chunked bodies with extensions and trailers, records
every request it receives byte for byte). State is made with patctl.

Every numbered item of issue #8 prints one line `item N: PASS|FAIL <detail>`;
the pass criterion is the documented correct behaviour (README "pat-sidecar",
SPEC), the same request for every binary. Exit status 0 only if every item
that ran passed. Only standard-library Python 3.
"""

import gzip
import http.client
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zlib

SECRET_RE = re.compile(rb"pat_(?:rest|npm)_[0-9A-Za-z]{49}")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ACTOR = "alice"
PLAN_A = "1111111111"
PLAN_B = "2222222222"
# Directory: plan A and plan B each own a workspace > team > project > file
# and an npm scope. File keys have one length so that bodies naming them
# have one length too (item 8 compares whole responses).
FILE_A = "FileAaaaaaaaaaaaaaaaa1"
FILE_B = "FileBbbbbbbbbbbbbbbbb1"
TEAM_A = "1000000000000001"
TEAM_B = "2000000000000001"
SCOPE_A = "@a-scope"
SCOPE_B = "@b-scope"
ROUTING_HEADERS = ["X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override",
                   "X-Forwarded-Host", "X-Forwarded-Prefix", "Forwarded"]


def log(msg):
    sys.stderr.write("[front_regressions] %s\n" % msg)
    sys.stderr.flush()


def wait_for(pred, what, timeout):
    """Polls pred() until it returns a truthy value; raises after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def make_secret(prefix="pat_rest_"):
    """A well-formed secret (valid CRC32/base62 checksum) that no token has."""
    body = "".join(secrets.choice(BASE62) for _ in range(43))
    s = prefix + body
    n, c = zlib.crc32(s.encode()), ""
    for _ in range(6):
        c, n = BASE62[n % 62] + c, n // 62
    return s + c


def random_key(length):
    return "".join(secrets.choice(BASE62) for _ in range(length))


def child_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAT_")}
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------
# Processes


class Proc:
    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        self.log_file = open(self.log_path, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                  stderr=subprocess.STDOUT, env=child_env(env),
                                  start_new_session=True)
        self.pid = self.p.pid

    def log_bytes(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def listening(self, timeout=60):
        def find():
            if self.p.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (
                    self.name, self.p.returncode, self.log_bytes()[-3000:].decode("utf-8", "replace")))
            for line in self.log_bytes().splitlines():
                if b'"listening"' not in line:
                    continue
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("msg") == "listening":
                    return j
            return None
        return wait_for(find, self.name + " to listen", timeout)

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS for " + self.name)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(10)
        self.log_file.close()


def psql(url, sql):
    r = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", url, "-c", sql],
                       env=child_env(), capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("psql failed: %s" % r.stderr.decode("utf-8", "replace"))


# ---------------------------------------------------------------------------
# The upstream: records every request; answers with a JSON echo, or with one
# of the response shapes of item 1 split at a chosen byte offset.

SHAPE_BODY = json.dumps({
    "name": "widget", "dist-tags": {"latest": "1.2.3"},
    "versions": {"1.2.3": {"dist": {"tarball": "http://r/widget-1.2.3.tgz"}}},
}, separators=(",", ":")).encode()


def chunk(data, ext=b""):
    return b"%x%s\r\n%s\r\n" % (len(data), ext, data)


def shape_response(shape):
    """Returns (response bytes, close after sending, body the client must get)."""
    b = SHAPE_BODY
    if shape == "chunked_ext_trailers":
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nTrailer: X-Digest\r\n\r\n")
        body = (chunk(b[:7], b";ext=1") + chunk(b[7:40], b';name="v a l"') +
                chunk(b[40:]) + b"0;last\r\nX-Digest: sha-256=abc\r\n\r\n")
        return head + body, False, b
    if shape == "chunked_gzip":
        z = gzip.compress(b * 3, mtime=0)
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
        # Upper-case hex sizes, a 1-byte chunk, then the rest.
        body = (b"%X\r\n%s\r\n" % (1, z[:1]) + b"%X\r\n%s\r\n" % (len(z) - 1, z[1:]) +
                b"0\r\n\r\n")
        return head + body, False, z
    if shape == "content_length":
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(b))
        return head + b, False, b
    if shape == "close_delimited":
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        return head + b, True, b
    raise ValueError(shape)


SHAPES = ["chunked_ext_trailers", "chunked_gzip", "content_length", "close_delimited"]


class Upstream:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.received = []  # (raw head bytes, body bytes)
        self.split_gap = 0.015
        threading.Thread(target=self._accept, daemon=True).start()

    def mark(self):
        with self.lock:
            return len(self.received)

    def since(self, mark):
        with self.lock:
            return list(self.received[mark:])

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read_until(c, buf, marker, limit):
        while marker not in buf:
            if len(buf) > limit:
                raise ValueError("too long")
            d = c.recv(65536)
            if not d:
                return None
            buf += d
        return buf

    def _read_request(self, c, buf):
        buf = self._read_until(c, buf, b"\r\n\r\n", 1 << 20)
        if buf is None:
            return None
        i = buf.index(b"\r\n\r\n")
        head, buf = buf[:i + 4], buf[i + 4:]
        lines = head[:-4].split(b"\r\n")
        method, target, _ = lines[0].split(b" ", 2)
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers.append((k.strip().lower(), v.strip()))
        hmap = dict(headers)
        body = b""
        if hmap.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                buf = self._read_until(c, buf, b"\r\n", 1 << 20)
                j = buf.index(b"\r\n")
                size = int(buf[:j].split(b";")[0], 16)
                buf = buf[j + 2:]
                if size == 0:
                    buf = self._read_until(c, buf, b"\r\n", 1 << 20)
                    while not buf.startswith(b"\r\n"):  # trailers
                        buf = buf[buf.index(b"\r\n") + 2:]
                        buf = self._read_until(c, buf, b"\r\n", 1 << 20)
                    buf = buf[2:]
                    break
                while len(buf) < size + 2:
                    d = c.recv(65536)
                    if not d:
                        return None
                    buf += d
                body += buf[:size]
                buf = buf[size + 2:]
        else:
            n = int(hmap.get(b"content-length", b"0"))
            while len(buf) < n:
                d = c.recv(65536)
                if not d:
                    return None
                buf += d
            body, buf = buf[:n], buf[n:]
        with self.lock:
            self.received.append((head, body))
        return method.decode(), target.decode("latin-1"), headers, body, buf

    def _serve(self, c):
        buf = b""
        try:
            while True:
                r = self._read_request(c, buf)
                if r is None:
                    return
                method, target, headers, body, buf = r
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
                shape = q.get("shape", [None])[0]
                if shape is None:
                    echo = json.dumps({
                        "method": method, "target": target,
                        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers],
                        "body": body.decode("latin-1"),
                    }).encode()
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (len(echo), echo))
                    continue
                data, close, _ = shape_response(shape)
                split = q.get("split", ["0"])[0]
                if split == "each":
                    for k in range(len(data)):
                        c.sendall(data[k:k + 1])
                        time.sleep(0.001)
                else:
                    k = int(split)
                    c.sendall(data[:k])
                    time.sleep(self.split_gap)
                    c.sendall(data[k:])
                if close:
                    c.shutdown(socket.SHUT_WR)
                    return
        except (OSError, ValueError):
            return
        finally:
            c.close()


# ---------------------------------------------------------------------------
# HTTP client helpers (http.client, the standard library's client)


class Resp:
    def __init__(self, status, headers, body, seconds):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.seconds = seconds

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def reason(self):
        j = self.json()
        return j.get("reason") if isinstance(j, dict) else None

    def raw(self):
        return (b"".join(("%s: %s\n" % (k, v)).encode("latin-1") for k, v in self.headers) +
                self.body)

    def describe(self):
        return "%s %s" % (self.status, self.body[:160].decode("utf-8", "replace"))


def request(port, method, target, headers=None, body=None, timeout=15, conn=None):
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, r.getheaders(), data, time.monotonic() - t0)
    finally:
        if own:
            conn.close()


def bearer(secret):
    return {"Authorization": "Bearer " + secret}


def echo_of(resp):
    j = resp.json()
    if resp.status != 200 or not isinstance(j, dict) or "headers" not in j:
        return None
    return j


def received_header_names(echo):
    return {k.lower() for k, _ in echo["headers"]}


# ---------------------------------------------------------------------------
# The stack


class Stack:
    def __init__(self, logdir):
        self.logdir = logdir
        self.procs = []
        self.db_url = None
        self.admin_url = os.environ["PAT_TEST_DATABASE_URL"]
        self.bins = {k: os.environ[k] for k in
                     ("PAT_SIDECAR_BIN", "PAT_AUTHORITY_BIN", "PAT_PATCTL_BIN")}

    def start(self):
        self.db_name = "pat_front_" + secrets.token_hex(6)
        psql(self.admin_url, "CREATE DATABASE %s" % self.db_name)
        u = urllib.parse.urlsplit(self.admin_url)
        self.db_url = urllib.parse.urlunsplit(u._replace(path="/" + self.db_name))
        self.authority = self.spawn("pat-authority", [
            self.bins["PAT_AUTHORITY_BIN"], "--listen=127.0.0.1:0", "--insecure",
            "--database_url=" + self.db_url, "--auto_migrate"],
            env={"PAT_ADMIN_LISTEN": "127.0.0.1:0"})  # the newer authority's flag
        self.authority_target = "127.0.0.1:%d" % self.authority.listening()["port"]
        self.seed()
        self.upstream = Upstream()
        self.rest = self.start_sidecar("rest", [])
        self.npm = self.start_sidecar("npm", [])
        self.figma = self.start_sidecar("figma", ["--credential_headers=x-figma-token"])

    def spawn(self, name, argv, env=None):
        p = Proc(name, argv, self.logdir, env)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (p.name, e))
        if self.db_url:
            try:
                psql(self.admin_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.db_name)
            except Exception as e:
                log("drop database: %s" % e)

    def patctl(self, *args):
        r = subprocess.run([self.bins["PAT_PATCTL_BIN"], "--insecure",
                            "--authority=" + self.authority_target, "--actor=" + ACTOR] + list(args),
                           env=child_env(), capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("patctl %s failed: %s" % (args[0], (r.stdout + r.stderr).decode()))
        return r.stdout.decode()

    def token(self, kind, scopes, name):
        out = self.patctl("create", "--plan=" + PLAN_A, "--kind=" + kind, "--name=" + name,
                          "--days=30", "--scopes=" + ",".join(scopes), "--all_resources")
        f = dict(re.findall(r"^(token_id|secret): *(\S+)$", out, re.M))
        return f["token_id"], f["secret"]

    def seed(self):
        for plan, sfx, team, fkey, scope in ((PLAN_A, "a", TEAM_A, FILE_A, SCOPE_A),
                                             (PLAN_B, "b", TEAM_B, FILE_B, SCOPE_B)):
            self.patctl("upsert-plan", "--id=" + plan, "--name=Plan " + sfx,
                        "--tier=organization", "--admins=" + ACTOR)
            self.patctl("upsert-resource", "--plan=" + plan, "--kind=workspace",
                        "--id=ws" + sfx, "--name=ws" + sfx)
            self.patctl("upsert-resource", "--plan=" + plan, "--kind=team", "--id=" + team,
                        "--parent_kind=workspace", "--parent_id=ws" + sfx, "--name=team" + sfx)
            self.patctl("upsert-resource", "--plan=" + plan, "--kind=project",
                        "--id=proj" + sfx, "--parent_kind=team", "--parent_id=" + team,
                        "--name=proj" + sfx)
            self.patctl("upsert-resource", "--plan=" + plan, "--kind=file", "--id=" + fkey,
                        "--parent_kind=project", "--parent_id=proj" + sfx, "--name=file" + sfx)
            self.patctl("upsert-resource", "--plan=" + plan, "--kind=npm_scope",
                        "--id=" + scope, "--name=scope" + sfx)
        _, self.rest_secret = self.token(
            "rest", ["file_content:read", "webhooks:read", "webhooks:write",
                     "file_dev_resources:write"], "all resources")
        _, self.other_secret = self.token("rest", ["file_content:read"], "second token")
        _, self.npm_secret = self.token("npm", ["packages:read"], "npm all resources")

    def start_sidecar(self, name, extra):
        api = "npm" if name == "npm" else "rest"
        p = self.spawn("pat-sidecar-" + name, [
            self.bins["PAT_SIDECAR_BIN"], "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0",
            "--upstream=http://127.0.0.1:%d" % self.upstream.port,
            "--authority=" + self.authority_target, "--insecure", "--api=" + api] + extra)
        j = p.listening()
        p.port, p.admin_port = j["port"], j["admin_port"]
        self.wait_ready(p)
        return p

    @staticmethod
    def wait_ready(p, timeout=30):
        def ready():
            if not p.alive():
                raise RuntimeError("%s exited" % p.name)
            try:
                return request(p.admin_port, "GET", "/readyz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(ready, p.name + " /readyz", timeout)

    def access_lines(self, p):
        return p.log_bytes().count(b'"latency_us"')


# ---------------------------------------------------------------------------
# Items. Each returns (passed, detail).


def item1(st):
    """Responses whose reads end anywhere (inside chunk framing, trailers...)."""
    port, secret = st.rest.port, st.rest_secret
    cases = []
    for shape in SHAPES:
        n = len(shape_response(shape)[0])
        cases += [(shape, str(k)) for k in range(1, n)]
        cases.append((shape, "each"))
    failures = {}
    lock = threading.Lock()
    it = iter(cases)

    def worker():
        conn = None
        while True:
            with lock:
                case = next(it, None)
            if case is None:
                break
            shape, split = case
            want = shape_response(shape)[2]
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            try:
                r = request(port, "GET", "/v1/files/%s?shape=%s&split=%s" % (FILE_A, shape, split),
                            bearer(secret), conn=conn)
                ok = r.status == 200 and r.body == want
                what = r.describe() if r.status != 200 else "body differs (%d bytes)" % len(r.body)
                if r.header("Connection") == "close" or not ok:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                ok, what = False, "%s: %s" % (type(e).__name__, e)
                conn.close()
                conn = None
            if not ok:
                with lock:
                    failures[case] = what
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_shape = {}
    for shape, _ in failures:
        per_shape[shape] = per_shape.get(shape, 0) + 1
    detail = "%d responses (%s: every split point + byte by byte), %d wrong" % (
        len(cases), ", ".join(SHAPES), len(failures))
    if failures:
        first = sorted(failures.items(), key=lambda kv: (kv[0][0], kv[0][1].zfill(4)))[0]
        detail += "; per shape %s; e.g. %s split=%s -> %s" % (
            per_shape, first[0][0], first[0][1], first[1])
    return not failures, detail


def item2(st):
    """npm: %40 (and other escapes) never reach another plan's scope."""
    port, secret = st.npm.port, st.npm_secret
    control = request(port, "GET", "/%s/pkg" % SCOPE_A, bearer(secret))
    if control.status != 200:
        return False, "control GET /%s/pkg (own plan) not 200: %s" % (SCOPE_A, control.describe())
    b = SCOPE_B[1:]  # b-scope
    targets = ["/%40" + b + "/pkg", "/%40" + b + "/pkg/1.0.0", "/%40" + b + "/pkg/-/pkg-1.0.0.tgz",
               "/@b%2Dscope/pkg", "/%40b%2Dscope/pkg", "/%40" + b + "%2fpkg", "/@" + b + "/pkg"]
    bad, seen = [], []
    for t in targets:
        mark = st.upstream.mark()
        r = request(port, "GET", t, bearer(secret))
        reached = len(st.upstream.since(mark)) > 0
        seen.append("%s -> %s %s" % (t, r.status, r.reason() or ""))
        if r.status == 200 or reached or r.status not in (400, 403):
            bad.append(t)
    return not bad, "plan A all-resources npm token, %s of plan B: %s%s" % (
        SCOPE_B, "; ".join(seen), ("; WRONG: " + ", ".join(bad)) if bad else "")


def item3(st):
    """Resources named in the query and in the JSON body are checked (R13)."""
    port, secret = st.rest.port, st.rest_secret
    hdr = dict(bearer(secret), **{"Content-Type": "application/json"})

    def webhook(team):
        return json.dumps({"event_type": "FILE_UPDATE", "context": "team", "context_id": team,
                           "endpoint": "https://example.com/hook", "passcode": "pw"})

    def dev_resource(fkey):
        return json.dumps({"dev_resources": [{"name": "doc", "url": "https://example.com/d",
                                              "file_key": fkey, "node_id": "1:2"}]})
    rows = [
        ("GET /v2/webhooks?context=team&context_id=B",
         lambda t: request(port, "GET", "/v2/webhooks?context=team&context_id=" + t, hdr)),
        ("POST /v2/webhooks {context_id: B}",
         lambda t: request(port, "POST", "/v2/webhooks", hdr, webhook(t))),
        ("POST /v1/dev_resources {file_key: B}",
         lambda t: request(port, "POST", "/v1/dev_resources", hdr,
                           dev_resource(FILE_B if t == TEAM_B else FILE_A))),
    ]
    bad, seen = [], []
    for name, send in rows:
        own = send(TEAM_A)
        mark = st.upstream.mark()
        other = send(TEAM_B)
        reached = len(st.upstream.since(mark)) > 0
        seen.append("%s -> %s %s (own plan: %s)" % (name, other.status, other.reason() or "",
                                                     own.status))
        if own.status != 200:
            bad.append(name + " own-plan control not 200")
        if other.status != 403 or reached:
            bad.append(name)
    return not bad, "; ".join(seen) + (("; WRONG: " + ", ".join(bad)) if bad else "")


def item5(st):
    """1,500 connections holding unfinished 40 KB heads: memory bounded."""
    n, head_bytes = 1500, 40000
    p = st.rest
    # Idle-state baseline after a few ordinary requests.
    for _ in range(5):
        request(p.port, "GET", "/v1/files/" + FILE_A, bearer(st.rest_secret))
    base = p.rss_kib()
    partial = (b"GET /v1/files/" + FILE_A.encode() + b" HTTP/1.1\r\nHost: x\r\n"
               b"Authorization: Bearer " + st.rest_secret.encode() + b"\r\nX-Pad: ")
    partial += b"a" * (head_bytes - len(partial))  # no CRLF CRLF: unfinished
    socks, send_failed = [], 0
    peak = base
    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(3)
            try:
                s.connect(("127.0.0.1", p.port))
                s.sendall(partial)
            except OSError:
                send_failed += 1
            socks.append(s)
            if i % 100 == 0:
                peak = max(peak, p.rss_kib())
        # Poll RSS until it stops growing (the sidecar reads at its own pace).
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and time.monotonic() - stable_since < 1.0:
            cur = p.rss_kib()
            peak = max(peak, cur)
            if cur > last + 256:
                last, stable_since = cur, time.monotonic()
            time.sleep(0.1)
        held, answered, closed = 0, 0, 0
        for s in socks:
            s.setblocking(False)
            try:
                d = s.recv(4096)
                if d:
                    answered += 1
                else:
                    closed += 1
            except BlockingIOError:
                held += 1
            except OSError:
                closed += 1
        real = request(p.port, "GET", "/v1/files/" + FILE_A, bearer(st.rest_secret), timeout=15)
        peak = max(peak, p.rss_kib())
    finally:
        for s in socks:
            s.close()
    growth_mib = (peak - base) / 1024.0
    alive = p.alive()
    ok = growth_mib < 64 and real.status == 200 and alive
    return ok, ("RSS %.1f -> %.1f MiB: growth %.1f MiB for %d x %d-byte unfinished heads "
                "(bound 64); still held open %d, answered (503) %d, closed %d, send failed %d; "
                "real request during the flood: %s in %.0f ms; sidecar %s") % (
        base / 1024.0, peak / 1024.0, growth_mib, n, head_bytes, held, answered, closed,
        send_failed, real.status, real.seconds * 1000, "alive" if alive else "DEAD")


def item6(st):
    """Secrets never reach the upstream, the response or the log."""
    bad, seen = [], []
    other = st.other_secret.encode()
    # (a) --credential_headers=x-figma-token and a second token in Authorization.
    mark = st.upstream.mark()
    r = request(st.figma.port, "GET", "/v1/files/" + FILE_A,
                {"X-Figma-Token": st.rest_secret, "Authorization": "Bearer " + st.other_secret})
    got = st.upstream.since(mark)
    leaked = any(SECRET_RE.search(h + b) for h, b in got)
    cred_hdr = any(re.search(rb"(?im)^(authorization|x-figma-token):", h) for h, _ in got)
    seen.append("X-Figma-Token + Authorization (second token) -> %s %s, upstream %s" % (
        r.status, r.reason() or "",
        "got a secret" if leaked else ("got a credential header" if cred_hdr else
                                       ("clean" if got else "not reached"))))
    if leaked or cred_hdr or other in r.raw():
        bad.append("second token forwarded")
    # (b) a secret as X-Request-Id, on both REST sidecars.
    for p in (st.rest, st.figma):
        auth = bearer(st.rest_secret) if p is st.rest else {"X-Figma-Token": st.rest_secret}
        mark = st.upstream.mark()
        r = request(p.port, "GET", "/v1/files/" + FILE_A, dict(auth, **{"X-Request-Id": st.other_secret}))
        got = st.upstream.since(mark)
        up = any(other in h + b for h, b in got)
        echoed = other in r.raw()
        seen.append("%s: X-Request-Id=<secret> -> %s, echoed %s, upstream %s" % (
            p.name, r.status, "YES" if echoed else "no", "YES" if up else "no"))
        if up or echoed:
            bad.append("X-Request-Id secret (%s)" % p.name)
    # (c) secrets in the path and the query string: refused, and not logged.
    before = st.access_lines(st.rest)
    for t in ("/v1/files/" + st.other_secret, "/v1/files/%s?x=%s" % (FILE_A, st.other_secret),
              "/v1/files/%s/nodes?ids=1&note=%s" % (FILE_A, st.other_secret)):
        mark = st.upstream.mark()
        r = request(st.rest.port, "GET", t, bearer(st.rest_secret))
        if st.upstream.since(mark) or other in r.raw():
            bad.append("secret in target forwarded/echoed")
        seen.append("secret in %s -> %s %s" % ("query" if "?" in t else "path", r.status,
                                                r.reason() or ""))
    # Every request so far is in the access log once it has been written.
    try:
        wait_for(lambda: st.access_lines(st.rest) >= before + 3, "access log lines", 5)
    except RuntimeError:
        pass
    for p in (st.rest, st.figma):
        n_logged = len(SECRET_RE.findall(p.log_bytes()))
        if n_logged:
            bad.append("%s log holds %d secret-shaped values" % (p.name, n_logged))
            seen.append("%s log: %d secret-shaped values" % (p.name, n_logged))
        else:
            seen.append("%s log: no secret" % p.name)
    return not bad, "; ".join(seen) + (("; WRONG: " + ", ".join(bad)) if bad else "")


def item7(st):
    """Routing headers stripped; Expect other than 100-continue is 417."""
    port = st.rest.port
    hdr = bearer(st.rest_secret)
    routing = {"X-Original-URL": "/v1/files/" + FILE_B, "X-Rewrite-URL": "/v1/files/" + FILE_B,
               "X-HTTP-Method-Override": "DELETE", "X-Forwarded-Host": "evil.example",
               "X-Forwarded-Prefix": "/evil", "Forwarded": "host=evil.example;proto=https"}
    mark = st.upstream.mark()
    r = request(port, "GET", "/v1/files/" + FILE_A, dict(hdr, **routing))
    got = st.upstream.since(mark)
    passed = set()
    for h, _ in got:
        for name in ROUTING_HEADERS:
            if re.search(rb"(?im)^" + re.escape(name.encode()) + rb":", h):
                passed.add(name)
    bad = sorted(passed)
    detail = "routing headers -> %s, forwarded upstream: %s" % (
        r.status, ", ".join(bad) if bad else "none")
    mark = st.upstream.mark()
    e = request(port, "GET", "/v1/files/" + FILE_A, dict(hdr, Expect="foo"))
    reached = len(st.upstream.since(mark)) > 0
    detail += "; Expect: foo -> %s %s%s" % (e.status, e.reason() or "",
                                           " (reached the upstream)" if reached else "")
    ok = not bad and r.status == 200 and e.status == 417 and not reached
    return ok, detail


def normalized(r, key):
    """Status, the body with the requested key replaced, and the header names."""
    names = sorted({k.lower() for k, _ in r.headers} - {"date"})
    return r.status, r.body.replace(key.encode(), b"<KEY>"), names


def item8_running(st):
    port, hdr = st.rest.port, bearer(st.rest_secret)
    other, unknown = [], []
    diff = None
    for _ in range(15):
        o = request(port, "GET", "/v1/files/" + FILE_B, hdr)
        key = random_key(len(FILE_B))
        u = request(port, "GET", "/v1/files/" + key, hdr)
        other.append(o.seconds)
        unknown.append(u.seconds)
        if normalized(o, FILE_B) != normalized(u, key) and diff is None:
            diff = "other-plan %s vs unknown %s" % (o.describe(), u.describe())
        if o.status == 200:
            diff = diff or "other-plan file answered 200"
    ms = lambda xs: statistics.median(xs) * 1000
    return diff, "authority up: other-plan %s %s vs unknown %s %s (median %.2f ms vs %.2f ms)" % (
        o.status, o.reason() or "", u.status, u.reason() or "", ms(other), ms(unknown))


def item8_stalled(st):
    """With the authority stopped: an answer that needs no RPC for either."""
    port, hdr = st.rest.port, bearer(st.rest_secret)
    o = request(port, "GET", "/v1/files/" + FILE_B, hdr, timeout=20)
    key = random_key(len(FILE_B))
    u = request(port, "GET", "/v1/files/" + key, hdr, timeout=20)
    diff = None
    if normalized(o, FILE_B) != normalized(u, key):
        diff = "other-plan %s vs unknown %s" % (o.describe(), u.describe())
    return diff, "authority stopped: other-plan %s %s in %.1f ms vs unknown %s %s in %.1f ms" % (
        o.status, o.reason() or "", o.seconds * 1000, u.status, u.reason() or "", u.seconds * 1000)


def item4(st):
    """Authority stopped + a flood of unknown secrets: cached tokens unaffected."""
    port = st.rest.port
    stop = threading.Event()
    flood_stats = {"sent": 0, "answered": {}}
    lock = threading.Lock()

    def flooder():
        conn = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                with lock:
                    flood_stats["sent"] += 1
                r = request(port, "GET", "/v1/files/" + FILE_A, bearer(make_secret()), conn=conn)
                with lock:
                    flood_stats["answered"][r.status] = flood_stats["answered"].get(r.status, 0) + 1
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=flooder) for _ in range(16)]
    for t in threads:
        t.start()
    lat, statuses = [], []
    t0 = time.monotonic()
    try:
        # Cached-token probes, each on a new connection, for 3 s of flood.
        while time.monotonic() - t0 < 3.0:
            try:
                r = request(port, "GET", "/v1/files/" + FILE_A, bearer(st.rest_secret), timeout=45)
                lat.append(r.seconds)
                statuses.append(r.status)
            except (OSError, http.client.HTTPException) as e:
                lat.append(45.0)
                statuses.append(type(e).__name__)
            time.sleep(0.05)
    finally:
        stop.set()
    window = time.monotonic() - t0
    lat_ms = sorted(x * 1000 for x in lat)
    p50 = lat_ms[len(lat_ms) // 2]
    p99 = lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))]
    # Not queued behind a miss: a request that waits for a stalled miss's
    # turn waits at least until that miss's RPC deadline (2 s), usually many.
    ok = all(s == 200 for s in statuses) and lat_ms[-1] < 2000
    detail = ("%d cached-token requests (new connection each) during %.1f s of a flood of unknown "
              "secrets on 16 connections with the authority SIGSTOPped: p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms (bound: under the 2 s RPC deadline; 45000 = client gave up), "
              "statuses %s") % (
        len(lat), window, p50, p99, lat_ms[-1], sorted(set(map(str, statuses))))
    return ok, detail, threads, flood_stats


# ---------------------------------------------------------------------------


def main():
    wanted = {int(x) for x in os.environ.get("PAT_FRONT_ITEMS", "1,2,3,4,5,6,7,8").split(",") if x}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    except (ValueError, OSError):
        pass
    logdir = tempfile.mkdtemp(prefix="front-regressions-")
    st = Stack(logdir)
    results = {}

    def run(n, fn):
        if n not in wanted:
            return
        t0 = time.monotonic()
        try:
            ok, detail = fn()
        except Exception as e:
            ok, detail = False, "error: %s: %s" % (type(e).__name__, e)
            traceback.print_exc()
        results[n] = ok
        print("item %d: %s %s [%.1f s]" % (n, "PASS" if ok else "FAIL", detail,
                                          time.monotonic() - t0), flush=True)

    started = time.monotonic()
    try:
        st.start()
        log("stack up in %.1f s (logs: %s)" % (time.monotonic() - started, logdir))
        warm = request(st.rest.port, "GET", "/v1/files/" + FILE_A, bearer(st.rest_secret))
        if warm.status != 200:
            raise RuntimeError("warm-up request not 200: " + warm.describe())
        run(1, lambda: item1(st))
        run(2, lambda: item2(st))
        run(3, lambda: item3(st))
        run(6, lambda: item6(st))
        run(7, lambda: item7(st))
        state8 = {}

        def part8a():
            state8["a"] = item8_running(st)
            return True, ""
        if 8 in wanted:
            part8a()
        run(5, lambda: item5(st))
        if 4 in wanted or 8 in wanted:
            Stack.wait_ready(st.rest)
            request(st.rest.port, "GET", "/v1/files/" + FILE_A, bearer(st.rest_secret))
            os.kill(st.authority.pid, signal.SIGSTOP)
            try:
                def item8():
                    diff_a, detail_a = state8["a"]
                    diff_b, detail_b = item8_stalled(st)
                    diffs = [d for d in (diff_a, diff_b) if d]
                    return not diffs, "%s; %s%s" % (detail_a, detail_b,
                                                    ("; DIFFER: " + "; ".join(diffs)) if diffs else "")
                run(8, item8)
                flood = {}

                def item4_run():
                    ok, detail, threads, stats = item4(st)
                    flood.update(threads=threads, stats=stats)
                    return ok, detail
                run(4, item4_run)
            finally:
                os.kill(st.authority.pid, signal.SIGCONT)
            for t in flood.get("threads", []):
                t.join(30)
            if flood:
                log("flood: %d unknown-secret requests sent, answers by status %s" % (
                    flood["stats"]["sent"], flood["stats"]["answered"]))
    except Exception as e:
        traceback.print_exc()
        print("front_regressions: setup failed: %s" % e, flush=True)
        results[0] = False
    finally:
        st.stop()
    passed = sum(1 for n, ok in results.items() if ok and n)
    ran = sum(1 for n in results if n)
    print("front_regressions: %d/%d items PASS (sidecar %s) in %.1f s" % (
        passed, ran, st.bins["PAT_SIDECAR_BIN"], time.monotonic() - started), flush=True)
    if os.environ.get("PAT_FRONT_KEEP_LOGS") or not all(results.values()):
        log("logs kept in %s" % logdir)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return 0 if results and all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
