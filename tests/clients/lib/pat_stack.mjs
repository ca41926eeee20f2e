// The real pat stack for the client tests: a fresh database on the test
// PostgreSQL (PAT_TEST_DATABASE_URL), pat-authority on it, patctl to seed the
// directory and make tokens, and pat-sidecar in front of an upstream.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import { requireEnv, run, Service, waitFor } from './procs.mjs';

export const PLAN = '4242424242';
export const ACTOR = 'alice';

function baseEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PAT_') && !k.toLowerCase().startsWith('npm_')) env[k] = v;
  }
  return env;
}

async function psql(url, sql) {
  const r = await run('psql', ['-v', 'ON_ERROR_STOP=1', '-qAt', '-d', url, '-c', sql],
    { env: baseEnv(), timeoutMs: 30000 });
  if (r.code !== 0) throw new Error(`psql failed: ${r.out}`);
  return r.stdout;
}

export class PatStack {
  // dir: a temporary directory for logs and state.
  constructor(dir) {
    this.dir = dir;
    this.bins = {
      authority: requireEnv('PAT_AUTHORITY_BIN'),
      patctl: requireEnv('PAT_PATCTL_BIN'),
      sidecar: requireEnv('PAT_SIDECAR_BIN'),
      upstream: requireEnv('PAT_SAMPLE_UPSTREAM_BIN'),
    };
    this.adminUrl = requireEnv('PAT_TEST_DATABASE_URL');
    this.services = [];
  }

  async startAuthority() {
    this.dbName = `pat_clients_${randomBytes(6).toString('hex')}`;
    await psql(this.adminUrl, `CREATE DATABASE ${this.dbName}`);
    const u = new URL(this.adminUrl);
    u.pathname = `/${this.dbName}`;
    this.authority = this.spawn('pat-authority', this.bins.authority, [
      '--listen=127.0.0.1:0', '--insecure', `--database_url=${u.toString()}`,
      '--auto_migrate',
    ]);
    const j = await this.authority.listening(60000);
    this.authorityTarget = `127.0.0.1:${j.port}`;
  }

  spawn(name, bin, args, extraEnv = {}) {
    const s = new Service(name, bin, args, {
      env: { ...baseEnv(), ...extraEnv },
      logFile: path.join(this.dir, `${name}.log`),
    });
    this.services.push(s);
    return s;
  }

  async patctl(...args) {
    const r = await run(this.bins.patctl, [
      '--insecure', `--authority=${this.authorityTarget}`, `--actor=${ACTOR}`, ...args,
    ], { env: baseEnv(), timeoutMs: 30000 });
    if (r.code !== 0) throw new Error(`patctl ${args[0]} failed: ${r.out}`);
    return r.stdout;
  }

  async upsertPlan() {
    await this.patctl('upsert-plan', `--id=${PLAN}`, '--name=Acme Corp',
      '--tier=organization', `--admins=${ACTOR}`);
  }

  async upsertResource(kind, id, extra = []) {
    await this.patctl('upsert-resource', `--plan=${PLAN}`, `--kind=${kind}`, `--id=${id}`,
      `--name=${id}`, ...extra);
  }

  // Creates a token; returns {id, secret}.
  async createToken(name, kind, scopes, { links, allResources } = {}) {
    const args = ['create', `--plan=${PLAN}`, `--kind=${kind}`, `--name=${name}`,
      '--days=30', `--scopes=${scopes.join(',')}`];
    if (allResources) args.push('--all_resources');
    else args.push(`--links=${links.join(',')}`);
    const out = await this.patctl(...args);
    const field = (k) => (out.match(new RegExp(`^${k}: *(\\S+)$`, 'm')) || [])[1];
    const id = field('token_id');
    const secret = field('secret');
    if (!id || !secret) throw new Error(`patctl create printed no token_id/secret`);
    return { id, secret };
  }

  async revoke(id) {
    await this.patctl('revoke', `--plan=${PLAN}`, `--token=${id}`);
  }

  // pat-sidecar --api=API in front of upstreamUrl; resolves its port once
  // /readyz answers 200.
  async startSidecar(api, upstreamUrl) {
    const s = this.spawn(`pat-sidecar-${api}`, this.bins.sidecar, [
      '--listen=127.0.0.1:0', '--admin_listen=127.0.0.1:0', `--upstream=${upstreamUrl}`,
      `--authority=${this.authorityTarget}`, '--insecure', `--api=${api}`, '--workers=2',
    ]);
    const j = await s.listening(60000);
    await waitFor(async () => {
      try {
        return (await fetch(`http://127.0.0.1:${j.admin_port}/readyz`)).status === 200;
      } catch {
        return false;
      }
    }, `pat-sidecar --api=${api} to be ready`, 30000);
    s.port = j.port;
    s.adminPort = j.admin_port;
    return s;
  }

  // pat-sample-upstream (echo API) on a free port.
  async startSampleUpstream() {
    const s = this.spawn('pat-sample-upstream', this.bins.upstream, ['--listen=127.0.0.1:0']);
    const j = await s.listening(30000);
    s.port = j.port;
    return s;
  }

  // Makes `service` (started elsewhere, e.g. verdaccio) stopped by stop().
  adopt(service) {
    this.services.push(service);
    return service;
  }

  // Stops every service (process groups killed and awaited) and drops the
  // database; throws if a service did not go away.
  async stop() {
    const results = await Promise.allSettled(this.services.map((s) => s.stop()));
    if (this.dbName) {
      await psql(this.adminUrl, `DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`)
        .catch(() => {});
    }
    const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    if (failed.length) throw new Error(`services did not stop: ${failed.join('; ')}`);
  }
}

// A temporary directory removed by the caller (kept when PAT_KEEP_TMP is set).
export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', `${prefix}-`));
}
