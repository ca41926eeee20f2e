// Processes for the client tests: long-running services (pat-authority,
// pat-sidecar, pat-sample-upstream, verdaccio) and one-shot client commands,
// every wait bounded. Nothing sleeps to synchronize: waits poll a condition
// with a deadline.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

// Every process a test starts — services, client commands and whatever
// they start in turn — carries PATTEST_OWNER=<this process's marker> in its
// environment (inherited by descendants, even ones that leave the process
// group), so leftovers are found by scanning /proc, not by name.
export const OWNER_ENV = 'PATTEST_OWNER';
const OWNER = `${process.pid}-${randomBytes(6).toString('hex')}`;

const live = new Set();      // services not yet stopped
const inFlight = new Set();  // client commands still running ({label, pgid})

function markEnv(env) {
  return { ...(env ?? process.env), [OWNER_ENV]: OWNER };
}

function killGroup(pgid, signal = 'SIGKILL') {
  try {
    process.kill(-pgid, signal);
  } catch { /* the group is gone */ }
}

// True while any process of group `pgid` exists (zombies included).
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// Live processes (not zombies) carrying this test process's marker:
// [{pid, cmd}].
export function ownedProcesses() {
  const needle = Buffer.from(`${OWNER_ENV}=${OWNER}\0`);
  const found = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (!fs.readFileSync(`/proc/${name}/environ`).includes(needle)) continue;
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      found.push({ pid: Number(name), cmd });
    } catch { /* exited while scanning, or not ours to read */ }
  }
  return found;
}

// Last resort (synchronous): SIGKILL every service group, every running
// command's group and every process carrying the marker.
function killEverythingSync() {
  for (const s of live) killGroup(s.pgid);
  for (const c of inFlight) killGroup(c.pgid);
  for (const p of ownedProcesses()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch { /* gone */ }
  }
}

process.on('exit', killEverythingSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`[pat test] ${sig}: killing every process this test started\n`);
    killEverythingSync();
    process.exit(1);
  });
}

// The teardown check, for the last after() hook of a test file: stops every
// service nobody stopped, kills every process still carrying the marker,
// waits until none is left, and throws (failing the file) naming each
// leftover. Then arms the exit watchdog: if anything still keeps the event
// loop alive `exitGraceMs` later, the process prints what and exits 1.
export async function reapAndCheck({ exitGraceMs = 10000 } = {}) {
  const leaks = [];
  for (const s of [...live]) {
    leaks.push(`service ${s.name} (pid ${s.child.pid}) was never stopped`);
    await s.stop();
  }
  for (const c of [...inFlight]) {
    leaks.push(`command ${c.label} still running`);
    killGroup(c.pgid);
  }
  const seen = new Map();
  await waitFor(() => {
    const left = ownedProcesses();
    for (const p of left) {
      if (!seen.has(p.pid)) seen.set(p.pid, p.cmd);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch { /* gone */ }
    }
    return left.length === 0;
  }, 'leftover processes to die', 10000);
  for (const [pid, cmd] of seen) leaks.push(`process ${pid} left running: ${cmd}`);
  armExitWatchdog(exitGraceMs);
  if (leaks.length) throw new Error(`processes left after the tests:\n  ${leaks.join('\n  ')}`);
}

function activeResources() {
  return process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').join(', ') || 'none';
}

// An unref'd timer: does not itself keep the process alive.
function armExitWatchdog(ms) {
  setTimeout(() => {
    process.stderr.write(`[pat test] the test process did not exit ${ms} ms after its last ` +
      `hook; still active: ${activeResources()}\n`);
    process.exitCode = 1;
    process.exit(1);
  }, ms).unref();
}

// The whole-file deadline (PAT_CLIENTS_DEADLINE_SECONDS, set by ctest a little
// under its TIMEOUT): a hang anywhere becomes a failure that names the
// running commands instead of a silent kill by ctest. Also ends the file
// (and everything it started) if its parent (node --test) is gone.
const deadlineSeconds = Number(process.env.PAT_CLIENTS_DEADLINE_SECONDS || 0);
if (deadlineSeconds > 0) {
  setTimeout(() => {
    const running = [...inFlight].map((c) => c.label).join('; ') || 'none';
    process.stderr.write(`[pat test] deadline of ${deadlineSeconds} s passed; running ` +
      `commands: ${running}; services: ${[...live].map((s) => s.name).join(', ') || 'none'}; ` +
      `active: ${activeResources()}\n`);
    process.exit(1);  // the exit handler kills everything
  }, deadlineSeconds * 1000).unref();
}
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) {
    process.stderr.write('[pat test] parent process gone: exiting\n');
    process.exit(1);
  }
}, 1000).unref();

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
      env: markEnv(env), cwd, stdio: ['ignore', fd, fd], detached: true,
    });
    fs.closeSync(fd);
    this.pgid = this.child.pid;  // detached: the leader of a new group
    this.exited = false;
    this.child.on('exit', () => { this.exited = true; });
    this.child.on('error', () => { this.exited = true; });
    if (this.pgid) live.add(this);
    else this.exited = true;
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

  // SIGKILLs the service's process group (every process it started that
  // stayed in it) and resolves once the leader is reaped and the group is
  // empty; throws after `timeoutMs`.
  async stop(timeoutMs = 10000) {
    if (this.pgid) killGroup(this.pgid);
    await waitFor(() => this.exited && !groupAlive(this.pgid),
      `${this.name} (process group ${this.pgid}) to exit`, timeoutMs);
    live.delete(this);
  }
}

// Runs one client command; resolves {code, stdout, stderr, out} (out =
// stdout + stderr). Killed (process group) after `timeoutMs`.
// Processes of the command's group still alive after it exited (a daemon
// it left behind) are killed and the command gets `leftover` = true.
export function run(bin, args, { cwd, env, timeoutMs = 90000, input } = {}) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, {
      cwd, env: markEnv(env), stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    });
    const entry = { label: `${path.basename(bin)} ${args.join(' ')}`, pgid: child.pid };
    if (child.pid) inFlight.add(entry);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdin.on('error', () => { /* exited before reading its input */ });
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => {
      stderr += `\n[pat test] ${path.basename(bin)} killed after ${timeoutMs} ms\n`;
      killGroup(child.pid);
    }, timeoutMs);
    const done = (r) => {
      clearTimeout(timer);
      inFlight.delete(entry);
      resolve(r);
    };
    child.on('close', (code, signal) => {
      const leftover = Boolean(child.pid) && groupAlive(child.pid);
      if (leftover) {
        stderr += `\n[pat test] ${path.basename(bin)} left processes in its group; killed\n`;
        killGroup(child.pid);
      }
      done({ code: code ?? 128, signal, stdout, stderr, out: stdout + stderr, leftover });
    });
    child.on('error', (e) => {
      done({ code: 127, stdout, stderr: String(e), out: String(e), leftover: false });
    });
  });
}

// Every plan-token secret shape (README "Regex for leak scanners").
export const SECRET_RE = /pat_(rest|npm)_[0-9A-Za-z]{49}/;
