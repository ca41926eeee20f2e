// Processes for the client tests: long-running services (pat-authority,
// pat-sidecar, pat-sample-upstream, verdaccio) and one-shot client commands,
// every wait bounded. Nothing sleeps to synchronize: waits poll a condition
// with a deadline.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const live = new Set();  // services still running, killed at exit

function killAll() {
  for (const s of live) s.kill();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(1);
  });
}

export function requireEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest: ctest -L clients)`);
  return v;
}

// Polls `condition` (async or not) every 50 ms until it returns a truthy
// value, which is returned; throws `what` after `timeoutMs`.
export async function waitFor(condition, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await condition();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A loopback port that was free a moment ago (for verdaccio, which cannot
// listen on port 0 and report the port).
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A service whose stdout+stderr go to `logFile`. `ready(text)` is polled on
// the log text; the service is killed with its process group on stop().
export class Service {
  constructor(name, bin, args, { env, cwd, logFile }) {
    this.name = name;
    this.logFile = logFile;
    const fd = fs.openSync(logFile, 'a');
    this.child = spawn(bin, args, {
      env, cwd, stdio: ['ignore', fd, fd], detached: true,
    });
    fs.closeSync(fd);
    this.exited = false;
    this.child.on('exit', () => {
      this.exited = true;
      live.delete(this);
    });
    live.add(this);
  }

  log() {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  // The first JSON log line with msg == "listening" (pat binaries).
  async listening(timeoutMs = 30000) {
    return waitFor(() => {
      if (this.exited) throw new Error(`${this.name} exited:\n${this.log()}`);
      for (const line of this.log().split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const j = JSON.parse(line);
          if (j.msg === 'listening') return j;
        } catch { /* not a JSON line */ }
      }
      return null;
    }, `${this.name} to listen`, timeoutMs);
  }

  kill() {
    if (this.exited) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
}

// Runs one client command; resolves {code, stdout, stderr, out} (out =
// stdout + stderr). Killed (process group) after `timeoutMs`.
export function run(bin, args, { cwd, env, timeoutMs = 90000, input } = {}) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, {
      cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => {
      stderr += `\n[pat test] ${path.basename(bin)} killed after ${timeoutMs} ms\n`;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, signal, stdout, stderr, out: stdout + stderr });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: String(e), out: String(e) });
    });
  });
}

// Every plan-token secret shape (README "Regex for leak scanners").
export const SECRET_RE = /pat_(rest|npm)_[0-9A-Za-z]{49}/;
