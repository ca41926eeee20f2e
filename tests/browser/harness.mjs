// Starts the real stack the browser tests run against, on loopback ports
// chosen by the processes themselves (port 0):
//   PostgreSQL database (fresh, on the cluster of PAT_TEST_DATABASE_URL)
//   pat-authority --insecure --auto_migrate
//   pat-sample-upstream, pat-sidecar (REST catalog) in front of it
//   pat-console instances (configured per test)
// Binaries come from PAT_*_BIN (set by ctest). Every wait polls a condition
// with a deadline; nothing sleeps as synchronization.

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest -L browser or scripts/test)`);
  return v;
}

export async function eventually(fn, { timeoutMs = 20000, intervalMs = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// A child process whose stderr is collected; resolves once it logs
// {"msg":"listening",...}.
export class Proc {
  constructor(name, bin, args, extraEnv = {}) {
    this.name = name;
    this.log = "";
    this.exited = null;
    this.child = spawn(bin, args, { env: { ...process.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
    const onData = (d) => {
      this.log += d.toString();
      if (this.log.length > 4 << 20) this.log = this.log.slice(-(2 << 20));
    };
    this.child.stdout.on("data", onData);
    this.child.stderr.on("data", onData);
    this.exitPromise = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
    });
  }

  async listening(timeoutMs = 60000) {
    return eventually(
      () => {
        if (this.exited) throw new Error(`${this.name} exited ${JSON.stringify(this.exited)}:\n${this.log}`);
        for (const line of this.log.split("\n")) {
          if (!line.startsWith("{")) continue;
          try {
            const j = JSON.parse(line);
            if (j.msg === "listening") return j;
          } catch {}
        }
        return null;
      },
      { timeoutMs, what: `${this.name} to listen` },
    );
  }

  async stop() {
    if (this.exited) return this.exited;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 15000);
    const r = await this.exitPromise;
    clearTimeout(t);
    return r;
  }
}

// A raw HTTP request (node:http, so Origin and other headers are sent as
// given). Resolves {status, headers, body}.
export function request(port, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function freshDatabase() {
  const base = new URL(env("PAT_TEST_DATABASE_URL"));
  const name = `pat_browser_${process.pid}_${Date.now()}`;
  execFileSync("psql", [base.toString(), "-v", "ON_ERROR_STOP=1", "-qc", `CREATE DATABASE ${name}`]);
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => execFileSync("psql", [base.toString(), "-qc", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]) };
}

export const ACME = "1234567890";
export const BETA = "2222222222";

export class Stack {
  constructor() {
    this.procs = [];
    this.tmp = mkdtempSync(join(tmpdir(), "pat-browser-"));
  }

  patctl(...args) {
    return execFileSync(env("PAT_PATCTL_BIN"), ["--insecure", `--authority=127.0.0.1:${this.authorityPort}`, ...args], {
      encoding: "utf8",
    });
  }

  async start() {
    this.db = freshDatabase();
    const authority = this.add(
      new Proc("pat-authority", env("PAT_AUTHORITY_BIN"), [
        "--insecure",
        "--listen=127.0.0.1:0",
        `--database_url=${this.db.url}`,
        "--auto_migrate",
      ]),
    );
    this.authorityPort = (await authority.listening()).port;
    this.seed();
    const upstream = this.add(new Proc("pat-sample-upstream", env("PAT_SAMPLE_UPSTREAM_BIN"), ["--listen=127.0.0.1:0"]));
    this.upstreamPort = (await upstream.listening()).port;
    const sidecar = this.add(
      new Proc("pat-sidecar", env("PAT_SIDECAR_BIN"), [
        "--listen=127.0.0.1:0",
        "--admin_listen=127.0.0.1:0",
        `--upstream=http://127.0.0.1:${this.upstreamPort}`,
        `--authority=127.0.0.1:${this.authorityPort}`,
        "--insecure",
        "--api=rest",
        "--access_log=false",
      ]),
    );
    const s = await sidecar.listening();
    this.sidecarPort = s.port;
    await eventually(async () => (await request(s.admin_port, "GET", "/readyz")).status === 200, {
      what: "the sidecar to be ready",
    });
  }

  seed() {
    this.patctl("upsert-plan", `--id=${ACME}`, "--name=Acme Corp", "--tier=organization", "--admins=alice");
    this.patctl("upsert-plan", `--id=${BETA}`, "--name=Beta Inc", "--tier=enterprise", "--admins=alice");
    this.patctl("upsert-resource", `--plan=${ACME}`, "--kind=project", "--id=proj1", "--name=Website");
    this.patctl("upsert-resource", `--plan=${ACME}`, "--kind=file", "--id=FILEKEY1", "--parent_kind=project", "--parent_id=proj1", "--name=Home");
    this.patctl("upsert-resource", `--plan=${ACME}`, "--kind=file", "--id=FILEKEY2", "--parent_kind=project", "--parent_id=proj1", "--name=Pricing");
    this.patctl("upsert-resource", `--plan=${BETA}`, "--kind=file", "--id=BETAFILE1", "--name=Beta file");
    this.patctl("upsert-resource", `--plan=${ACME}`, "--kind=npm_scope", "--id=@acme", "--name=Acme packages");
  }

  add(proc) {
    this.procs.push(proc);
    return proc;
  }

  file(name, content) {
    const p = join(this.tmp, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  }

  // Starts a pat-console talking to this stack's authority; resolves its port.
  async console(args, name = "pat-console") {
    const proc = this.add(
      new Proc(name, env("PAT_CONSOLE_BIN"), [
        "--listen=127.0.0.1:0",
        `--authority=127.0.0.1:${this.authorityPort}`,
        "--insecure",
        ...args,
      ]),
    );
    const l = await proc.listening();
    return { port: l.port, url: `http://127.0.0.1:${l.port}`, proc };
  }

  // The sidecar's answer to GET `path` with `secret`.
  async use(secret, path) {
    const r = await request(this.sidecarPort, "GET", path, { headers: { Authorization: `Bearer ${secret}` } });
    let reason = "";
    try {
      reason = JSON.parse(r.body).reason ?? "";
    } catch {}
    return { status: r.status, reason };
  }

  async stop() {
    for (const p of this.procs.reverse()) await p.stop();
    try {
      this.db?.drop();
    } catch {}
    rmSync(this.tmp, { recursive: true, force: true });
  }

  logs() {
    return this.procs.map((p) => `--- ${p.name}\n${p.log.slice(-4000)}`).join("\n");
  }
}

export function artifactsDir() {
  const dir = process.env.PAT_BROWSER_ARTIFACTS || join(process.cwd(), "browser-artifacts");
  mkdirSync(dir, { recursive: true });
  return dir;
}

// Debian's chromium, headless, with a fresh profile.
export async function launchBrowser(puppeteer, profileDir) {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
    headless: true,
    userDataDir: profileDir,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      "--window-size=1400,900",
    ],
    defaultViewport: { width: 1400, height: 900 },
  });
}
