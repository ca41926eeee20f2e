// The npm-registry matrix: one client (npm, pnpm or yarn) against a real
// verdaccio behind a real pat-sidecar --api=npm on a real pat-authority, with
// four tokens (scope-limited read, scope-limited read/write, all-resources,
// revoked). Every expected success must succeed; every expected denial must
// fail with pat's reason where the client shows registry errors, and the
// sidecar's access log must record that reason. Expected behaviour and the
// command -> endpoint table: docs/npm-clients.md.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { PatStack, PLAN, tempDir } from './pat_stack.mjs';
import { reapAndCheck, run, SECRET_RE } from './procs.mjs';
import { BIN_DIR, startVerdaccio } from './verdaccio.mjs';
import { CLIENTS } from './npm_clients.mjs';

// pat's message for each reason (common/policy/reason.cc ReasonMessage).
export const MESSAGES = {
  token_revoked: 'Token revoked',
  resource_not_allowed: 'Token may not access this resource',
  scope_missing: 'Token lacks a required scope',
  endpoint_not_supported: 'Endpoint not supported for plan access tokens',
};

// All that yarn 1's `yarn info` prints for any refusal (--json).
const YARN_INFO_FAIL = '{"type":"error","data":"Received invalid response from npm."}';

const A = '@acme/widget';   // on the scope-limited tokens' list
const B = '@beta/gadget';   // a scope of the plan, not on their list
const U = 'pat-demo-pkg';   // unscoped: no npm scope, all-resources only
const Z = '@zeta/thing';    // a scope that is not in the plan's directory

export function defineClientTests(clientName) {
  const client = CLIENTS[clientName];
  const ctx = {};
  let counter = 0;

  before(async () => {
    ctx.dir = tempDir(`pat-clients-${clientName}`);
    ctx.pat = new PatStack(ctx.dir);
    await ctx.pat.startAuthority();
    await ctx.pat.upsertPlan();
    await ctx.pat.upsertResource('npm_scope', '@acme');
    await ctx.pat.upsertResource('npm_scope', '@beta');
    const rw = ['packages:read', 'packages:write'];
    ctx.tokens = {
      ro: await ctx.pat.createToken('ci-read', 'npm', ['packages:read'], { links: ['@acme'] }),
      rw: await ctx.pat.createToken('ci-publish', 'npm', rw, { links: ['@acme'] }),
      all: await ctx.pat.createToken('ci-all', 'npm', rw, { allResources: true }),
      revoked: await ctx.pat.createToken('ci-revoked', 'npm', rw, { allResources: true }),
    };
    await ctx.pat.revoke(ctx.tokens.revoked.id);
    ctx.verdaccio = await startVerdaccio(ctx.pat, ctx.dir, cleanEnv());
    ctx.sidecar = await ctx.pat.startSidecar('npm', `http://127.0.0.1:${ctx.verdaccio.port}`);
    ctx.registry = `http://127.0.0.1:${ctx.sidecar.port}/`;
    for (const [name, t] of Object.entries(ctx.tokens)) {
      t.home = path.join(ctx.dir, `home-${name}`);
      fs.mkdirSync(t.home);
      client.writeConfig(t.home, ctx.registry, t.secret);
    }
  });

  // The last hook: nothing this file started may outlive it (procs.mjs).
  after(async () => {
    try {
      if (ctx.pat) await ctx.pat.stop();
    } finally {
      if (ctx.dir && !process.env.PAT_KEEP_TMP) fs.rmSync(ctx.dir, { recursive: true, force: true });
      await reapAndCheck();
    }
  });

  // Runs `op` of the client with token `tok`; fresh caches every time, so
  // every request really reaches the registry.
  async function exec(tok, op, ...args) {
    const t = ctx.tokens[tok];
    const n = ++counter;
    const scratch = path.join(ctx.dir, 'runs', String(n));
    fs.mkdirSync(path.join(scratch, 'cache'), { recursive: true });
    fs.mkdirSync(path.join(scratch, 'logs'), { recursive: true });
    const cmd = await client.ops[op](ctx, scratch, ...args);
    const env = {
      ...cleanEnv(),
      HOME: t.home,
      PATH: `${BIN_DIR}:${path.dirname(process.execPath)}:${process.env.PATH}`,
      npm_config_cache: path.join(scratch, 'cache', 'npm'),
      npm_config_logs_dir: path.join(scratch, 'logs'),
      XDG_CACHE_HOME: path.join(scratch, 'cache', 'xdg'),
      ...client.cacheEnv(path.join(scratch, 'cache')),
      ...(cmd.env || {}),
    };
    const before = ctx.sidecar.log().length;
    const r = await run(cmd.bin, cmd.args, { cwd: cmd.cwd || scratch, env });
    r.sidecarLog = ctx.sidecar.log().slice(before);
    r.npmLog = readDir(path.join(scratch, 'logs'));
    r.label = `${clientName} ${op} ${args.join(' ')} [${tok}]`;
    fs.writeFileSync(path.join(scratch, 'output.txt'),
      `${r.label}\nexit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n`);
    r.visibility = cmd.visibility || 'out';
    assert.equal(r.leftover, false, `${r.label} left processes running:\n${r.out}`);
    return r;
  }

  function ok(r, check) {
    assert.equal(r.code, 0, `${r.label} should succeed:\n${r.out}\n--- sidecar:\n${r.sidecarLog}`);
    if (check) check(r);
  }

  function denied(r, reason) {
    if (r.visibility === 'hidden') {
      // yarn info replaces every registry error (its request's rejection,
      // pat's message included) with this one line on stderr, and exits 0.
      assert.equal(r.code, 0, `${r.label}: yarn info exits 0 on a refusal:\n${r.out}`);
      assert.equal(r.stderr.trim(), YARN_INFO_FAIL, `${r.label} should be denied (${reason}):\n${r.out}`);
      assert.equal(r.stdout.trim(), '', r.label);
    } else {
      assert.notEqual(r.code, 0, `${r.label} should be denied (${reason}):\n${r.out}`);
    }
    assert.match(r.sidecarLog, new RegExp(`"reason":"${reason}"`),
      `${r.label}: the sidecar's access log should record ${reason}:\n${r.sidecarLog}`);
    const message = MESSAGES[reason];
    switch (r.visibility) {
      case 'out':
        assert.ok(r.out.includes(message),
          `${r.label}: pat's reason "${message}" should be in the client's output:\n${r.out}`);
        break;
      case 'npmlog':
        // npm shows only "Unable to authenticate" for a 401 with
        // WWW-Authenticate: Bearer and never reads the body; its debug log
        // (named in the output: "A complete log of this run can be found
        // in: ...") has "Unable to authenticate, need: <WWW-Authenticate>",
        // so pat's reason is visible there when the challenge carries it
        // (error_description, RFC 6750).
        assert.match(r.out, /complete log of this run/);
        assert.ok(r.npmLog.includes(`error_description="${reason}: ${message}"`),
          `${r.label}: pat's reason (${reason}) should be in npm's debug log:\n${r.npmLog}`);
        break;
      case 'phrase': {
        // pnpm's fetcher prints only the status line, which in npm mode is
        // "<standard phrase> (<reason code>)" (pnpm pads the code with
        // U+2009 thin spaces).
        const [st, phrase] = reason.startsWith('token_') ? [401, 'Unauthorized'] : [403, 'Forbidden'];
        assert.match(r.out, new RegExp(`ERR_PNPM_FETCH_${st}\\s.*: ${phrase} \\(${reason}\\) - ${st}`),
          `${r.label}: pat's reason should be in the status line the client prints:\n${r.out}`);
        break;
      }
      case 'hidden':
        // The client replaces every registry error with its own text
        // (docs/npm-clients.md, client limits); the access log has it.
        break;
      default:
        throw new Error(`unknown visibility ${r.visibility}`);
    }
  }

  async function expectOk(tok, op, ...args) {
    const r = await exec(tok, op, ...args);
    ok(r);
    return r;
  }

  async function expectDenied(tok, reason, op, ...args) {
    const r = await exec(tok, op, ...args);
    r.status401 = reason.startsWith('token_');
    if (r.status401 && client.npmBacked(op)) r.visibility = 'npmlog';
    denied(r, reason);
    return r;
  }

  // What the registry really holds (clients' own success messages are not
  // trusted): the packument straight from verdaccio, as the sidecar would
  // forward it for the all-resources token.
  async function packument(name) {
    const res = await fetch(`http://127.0.0.1:${ctx.verdaccio.port}/${name.replace('/', '%2f')}`, {
      headers: { 'x-pat-token-id': ctx.tokens.all.id, 'x-pat-plan-id': PLAN },
    });
    return res.status === 200 ? res.json() : { versions: {}, 'dist-tags': {} };
  }
  async function hasVersion(name, v) {
    return Boolean((await packument(name)).versions[v]);
  }

  const has = (op) => Boolean(client.ops[op]);
  const itIf = (op, name, fn) => (has(op) ? it(name, fn) : null);

  describe(`${clientName}: all-resources token`, () => {
    itIf('ping', 'ping', () => expectOk('all', 'ping'));
    itIf('whoami', 'whoami names the token', async () => {
      const r = await expectOk('all', 'whoami');
      assert.match(r.stdout, new RegExp(ctx.tokens.all.id));
    });
    it('publishes scoped and unscoped packages', async () => {
      await expectOk('all', 'publish', A, '1.0.0');
      await expectOk('all', 'publish', A, '1.0.1');
      await expectOk('all', 'publish', B, '1.0.0');
      await expectOk('all', 'publish', U, '1.0.0');
      for (const [p, v] of [[A, '1.0.0'], [A, '1.0.1'], [B, '1.0.0'], [U, '1.0.0']]) {
        assert.ok(await hasVersion(p, v), `${p}@${v} should be in the registry`);
      }
    });
    it('cannot publish to a scope outside the plan', async () => {
      await expectDenied('all', 'resource_not_allowed', 'publish', Z, '1.0.0');
      assert.equal(await hasVersion(Z, '1.0.0'), false);
    });
    it('views scoped and unscoped packages', async () => {
      for (const p of [A, B, U]) {
        const r = await expectOk('all', 'view', p);
        assert.match(r.stdout, /1\.0\./);
      }
    });
    it('installs scoped and unscoped packages (metadata and tarballs)', async () => {
      await expectOk('all', 'install', A);
      await expectOk('all', 'install', U);
    });
    it('dist-tag add, ls, rm', async () => {
      await expectOk('all', 'distTagAdd', A, '1.0.0', 'beta');
      assert.equal((await packument(A))['dist-tags'].beta, '1.0.0');
      const r = await expectOk('all', 'distTagLs', A);
      assert.match(r.out, /beta: 1\.0\.0/);
      await expectOk('all', 'distTagRm', A, 'beta');
      assert.equal((await packument(A))['dist-tags'].beta, undefined);
    });
    itIf('deprecate', 'deprecate', async () => {
      await expectOk('all', 'deprecate', A, '1.0.0');
      assert.ok((await packument(A)).versions['1.0.0'].deprecated);
    });
    itIf('unpublish', 'unpublish a version', async () => {
      await expectOk('all', 'unpublish', A, '1.0.1');
      assert.equal(await hasVersion(A, '1.0.1'), false);
      assert.ok(await hasVersion(A, '1.0.0'));
    });
    itIf('audit', 'audit', () => expectOk('all', 'audit', A));
    itIf('search', 'search', () => expectOk('all', 'search', 'widget'));
    itIf('tokenList', 'token management is not for plan tokens', () =>
      expectDenied('all', 'endpoint_not_supported', 'tokenList'));
    itIf('ownerAdd', 'owner add is not for plan tokens', () =>
      expectDenied('all', 'endpoint_not_supported', 'ownerAdd', A, 'bob'));
  });

  describe(`${clientName}: scope-limited read/write token (@acme)`, () => {
    itIf('ping', 'ping', () => expectOk('rw', 'ping'));
    itIf('whoami', 'whoami names the token', async () => {
      const r = await expectOk('rw', 'whoami');
      assert.match(r.stdout, new RegExp(ctx.tokens.rw.id));
    });
    it('publishes in its scope only', async () => {
      await expectOk('rw', 'publish', A, '1.1.0');
      await expectOk('rw', 'publish', A, '1.1.1');
      assert.ok(await hasVersion(A, '1.1.0'));
      await expectDenied('rw', 'resource_not_allowed', 'publish', B, '1.1.0');
      await expectDenied('rw', 'resource_not_allowed', 'publish', U, '1.1.0');
      assert.equal(await hasVersion(B, '1.1.0'), false);
      assert.equal(await hasVersion(U, '1.1.0'), false);
    });
    it('views its scope only', async () => {
      await expectOk('rw', 'view', A);
      await expectDenied('rw', 'resource_not_allowed', 'view', B);
      await expectDenied('rw', 'resource_not_allowed', 'view', U);
    });
    it('installs its scope only', async () => {
      await expectOk('rw', 'install', A);
      await expectDenied('rw', 'resource_not_allowed', 'install', U);
    });
    it('dist-tag add, ls, rm in its scope only', async () => {
      await expectOk('rw', 'distTagAdd', A, '1.1.0', 'next');
      const r = await expectOk('rw', 'distTagLs', A);
      assert.match(r.out, /next: 1\.1\.0/);
      await expectOk('rw', 'distTagRm', A, 'next');
      assert.equal((await packument(A))['dist-tags'].next, undefined);
      await expectDenied('rw', 'resource_not_allowed', 'distTagAdd', B, '1.0.0', 'next');
      assert.equal((await packument(B))['dist-tags'].next, undefined);
    });
    itIf('deprecate', 'deprecate', async () => {
      await expectOk('rw', 'deprecate', A, '1.1.0');
      assert.ok((await packument(A)).versions['1.1.0'].deprecated);
    });
    itIf('unpublish', 'unpublish a version', async () => {
      await expectOk('rw', 'unpublish', A, '1.1.1');
      assert.equal(await hasVersion(A, '1.1.1'), false);
    });
    itIf('audit', 'audit', () => expectOk('rw', 'audit', A));
    itIf('search', 'search lists every scope: all-resources tokens only', () =>
      expectDenied('rw', 'resource_not_allowed', 'search', 'widget'));
    itIf('tokenList', 'token management is not for plan tokens', () =>
      expectDenied('rw', 'endpoint_not_supported', 'tokenList'));
  });

  describe(`${clientName}: scope-limited read token (@acme)`, () => {
    itIf('ping', 'ping', () => expectOk('ro', 'ping'));
    itIf('whoami', 'whoami names the token', async () => {
      const r = await expectOk('ro', 'whoami');
      assert.match(r.stdout, new RegExp(ctx.tokens.ro.id));
    });
    it('views and installs its scope only', async () => {
      await expectOk('ro', 'view', A);
      await expectDenied('ro', 'resource_not_allowed', 'view', B);
      await expectOk('ro', 'install', A);
      await expectDenied('ro', 'resource_not_allowed', 'install', U);
    });
    it('cannot publish', async () => {
      await expectDenied('ro', 'scope_missing', 'publish', A, '1.2.0');
      assert.equal(await hasVersion(A, '1.2.0'), false);
    });
    it('dist-tag ls, but not add or rm', async () => {
      await expectOk('ro', 'distTagLs', A);
      await expectDenied('ro', 'scope_missing', 'distTagAdd', A, '1.0.0', 'beta');
      await expectDenied('ro', 'scope_missing', 'distTagRm', A, 'latest');
      assert.ok((await packument(A))['dist-tags'].latest);
    });
    itIf('deprecate', 'cannot deprecate', () =>
      expectDenied('ro', 'scope_missing', 'deprecate', A, '1.0.0'));
    itIf('unpublish', 'cannot unpublish', async () => {
      await expectDenied('ro', 'scope_missing', 'unpublish', A, '1.0.0');
      assert.ok(await hasVersion(A, '1.0.0'));
    });
    itIf('audit', 'audit', () => expectOk('ro', 'audit', A));
  });

  describe(`${clientName}: revoked token`, () => {
    itIf('ping', 'ping', () => expectDenied('revoked', 'token_revoked', 'ping'));
    itIf('whoami', 'whoami', () => expectDenied('revoked', 'token_revoked', 'whoami'));
    it('view, install, publish, dist-tag', async () => {
      await expectDenied('revoked', 'token_revoked', 'view', A);
      await expectDenied('revoked', 'token_revoked', 'install', A);
      await expectDenied('revoked', 'token_revoked', 'publish', A, '1.3.0');
      assert.equal(await hasVersion(A, '1.3.0'), false);
      await expectDenied('revoked', 'token_revoked', 'distTagLs', A);
    });
    itIf('audit', 'audit', () => expectDenied('revoked', 'token_revoked', 'audit', A));
  });

  if (client.extraTests) {
    describe(`${clientName}: client limits`, () => client.extraTests({ it, ctx, exec }));
  }

  describe(`${clientName}: what the registry saw`, () => {
    it('verdaccio never saw a secret and served only the sidecar', () => {
      const log = ctx.verdaccio.log();
      assert.ok(log.length > 0);
      assert.doesNotMatch(log, SECRET_RE);
      for (const t of Object.values(ctx.tokens)) assert.ok(!log.includes(t.secret));
      // Every request verdaccio answered came with the sidecar's token id.
      let answered = 0;
      for (const line of log.split('\n')) {
        if (!line.startsWith('{')) continue;
        const j = JSON.parse(line);
        if (j.request && typeof j.status === 'number') {
          if (j.request.url === '/-/ping' && j.user === null && j.status === 403) continue;  // readiness probe
          ++answered;
          assert.match(String(j.user), /^tok_[0-9A-Za-z]{22}$/, line);
        }
        assert.equal(j.req?.headers?.authorization, undefined, line);
      }
      assert.ok(answered > 0);
    });
    it('the sidecar logged no secret', () => {
      const log = ctx.sidecar.log();
      assert.match(log, /"reason":"allowed"|"status":200/);
      assert.doesNotMatch(log, SECRET_RE);
    });
  });
}

function readDir(dir) {
  let text = '';
  for (const f of fs.readdirSync(dir)) text += fs.readFileSync(path.join(dir, f), 'utf8');
  return text;
}

// The parent environment without npm/yarn configuration that would leak into
// the clients (ctest may run under npm; a developer may have settings).
export function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    const l = k.toLowerCase();
    if (l.startsWith('npm_') || l.startsWith('yarn_') || l.startsWith('pnpm_') ||
        l.startsWith('pat_') || l === 'node_options') continue;
    env[k] = v;
  }
  return env;
}
