// ctest clients_rest: the Figma REST clients people use (figma-api,
// figma-js) and curl against pat-sidecar --api=rest in front of the echo
// upstream (pat-sample-upstream), on a real pat-authority. Both credential
// headers (X-Figma-Token, Authorization: Bearer); allowed endpoints reach the
// upstream without the secret, denials carry pat's status and reason.
//
// Client limits worked around (docs/npm-clients.md, "REST clients"):
//  * figma-api hard-codes https://api.figma.com (lib/config.js API_DOMAIN, no
//    option): the test assigns the module's exported API_DOMAIN.
//  * figma-js's apiRoot option is a host only, always https://: the test sets
//    the baseURL of the axios instance it exposes (client.client).
//  * figma-js componentSet(key) requests /v1/component_set/{key} (the API is
//    /v1/component_sets/{key}): pat answers 403 endpoint_unknown.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';

import { PatStack, tempDir } from './lib/pat_stack.mjs';
import { reapAndCheck, run, SECRET_RE } from './lib/procs.mjs';

const require = createRequire(import.meta.url);
const figmaApiConfig = require('figma-api/lib/config');
const FigmaApi = require('figma-api');
const Figma = require('figma-js');

const F1 = 'FILEKEY1';  // on the allowlist token's list
const F2 = 'FILEKEY2';  // same project, not on the list
const TEAM = 'team1';
const PROJECT = 'proj1';
const READ_SCOPES = ['file_content:read', 'file_comments:read', 'file_versions:read',
  'projects:read', 'library_content:read', 'team_library_content:read', 'library_assets:read'];

const ctx = {};

before(async () => {
  ctx.dir = tempDir('pat-clients-rest');
  const pat = ctx.pat = new PatStack(ctx.dir);
  await pat.startAuthority();
  await pat.upsertPlan();
  await pat.upsertResource('workspace', 'ws1');
  await pat.upsertResource('team', TEAM, ['--parent_kind=workspace', '--parent_id=ws1']);
  await pat.upsertResource('project', PROJECT, [`--parent_kind=team`, `--parent_id=${TEAM}`]);
  for (const f of [F1, F2]) {
    await pat.upsertResource('file', f, ['--parent_kind=project', `--parent_id=${PROJECT}`]);
  }
  await pat.upsertResource('npm_scope', '@acme');
  ctx.all = await pat.createToken('rest-all', 'rest', READ_SCOPES, { allResources: true });
  ctx.one = await pat.createToken('rest-one-file', 'rest', ['file_content:read'],
    { links: [`https://www.figma.com/design/${F1}`] });
  ctx.revoked = await pat.createToken('rest-revoked', 'rest', READ_SCOPES, { allResources: true });
  ctx.npm = await pat.createToken('npm-token', 'npm', ['packages:read'], { allResources: true });
  await pat.revoke(ctx.revoked.id);
  const upstream = await pat.startSampleUpstream();
  ctx.sidecar = await pat.startSidecar('rest', `http://127.0.0.1:${upstream.port}`);
  ctx.base = `http://127.0.0.1:${ctx.sidecar.port}`;
  figmaApiConfig.API_DOMAIN = ctx.base;  // workaround: no base URL option
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

function figmaJs(token, header) {
  const c = header === 'bearer'
    ? Figma.Client({ accessToken: token.secret })
    : Figma.Client({ personalAccessToken: token.secret });
  c.client.defaults.baseURL = `${ctx.base}/v1/`;  // workaround: https:// only
  return c;
}

function figmaApi(token, header) {
  return header === 'bearer'
    ? new FigmaApi.Api({ oAuthToken: token.secret })
    : new FigmaApi.Api({ personalAccessToken: token.secret });
}

// The echo of an allowed request: the upstream saw the path, the token id,
// and no credential.
function assertForwarded(echo, token, pathPrefix) {
  assert.ok(echo.target.startsWith(pathPrefix), `${echo.target} should start with ${pathPrefix}`);
  assert.deepEqual(echo.headers['x-pat-token-id'], [token.id]);
  assert.equal(echo.headers.authorization, undefined);
  assert.equal(echo.headers['x-figma-token'], undefined);
  assert.doesNotMatch(JSON.stringify(echo), SECRET_RE);
}

async function denied(promise, status, reason) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.response?.status, status, `expected ${status} ${reason}, got ${e.response?.status}: ${JSON.stringify(e.response?.data)}`);
    assert.equal(e.response.data.reason, reason);
    assert.equal(e.response.data.status, status);
    assert.equal(typeof e.response.data.err, 'string');
    return true;
  });
}

for (const header of ['x-figma-token', 'bearer']) {
  describe(`figma-js (${header})`, () => {
    it('file, nodes, images, comments, versions, projects, components', async () => {
      const c = figmaJs(ctx.all, header);
      const calls = [
        [c.file(F1), `/v1/files/${F1}`],
        [c.fileNodes(F1, { ids: ['1:2'] }), `/v1/files/${F1}/nodes?`],
        [c.fileImages(F1, { ids: ['1:2'] }), `/v1/images/${F1}?`],
        [c.fileImageFills(F1), `/v1/files/${F1}/images`],
        [c.comments(F1), `/v1/files/${F1}/comments`],
        [c.fileVersions(F1), `/v1/files/${F1}/versions`],
        [c.teamProjects(TEAM), `/v1/teams/${TEAM}/projects`],
        [c.projectFiles(PROJECT), `/v1/projects/${PROJECT}/files`],
        [c.fileComponents(F1), `/v1/files/${F1}/components`],
        [c.teamComponents(TEAM), `/v1/teams/${TEAM}/components`],
        [c.component('COMPKEY'), '/v1/components/COMPKEY'],
        [c.fileStyles(F1), `/v1/files/${F1}/styles`],
      ];
      for (const [p, prefix] of calls) {
        const r = await p;
        assert.equal(r.status, 200);
        assertForwarded(r.data, ctx.all, prefix);
      }
    });
    it('excluded endpoints are not for plan tokens', async () => {
      const c = figmaJs(ctx.all, header);
      await denied(c.me(), 403, 'endpoint_not_supported');
      await denied(c.postComment(F1, { message: 'hi' }), 403, 'endpoint_not_supported');
      await denied(c.deleteComment(F1, '1'), 403, 'endpoint_not_supported');
    });
    it('client bug: componentSet requests a path the API does not have', async () => {
      await denied(figmaJs(ctx.all, header).componentSet('SETKEY'), 403, 'endpoint_unknown');
    });
    it('an allowlist token: its file only, its scopes only', async () => {
      const c = figmaJs(ctx.one, header);
      assertForwarded((await c.file(F1)).data, ctx.one, `/v1/files/${F1}`);
      await denied(c.file(F2), 403, 'resource_not_allowed');
      await denied(c.comments(F1), 403, 'scope_missing');
      await denied(c.teamProjects(TEAM), 403, 'scope_missing');
      await denied(c.component('COMPKEY'), 403, 'scope_missing');
    });
    it('revoked and wrong-kind tokens', async () => {
      await denied(figmaJs(ctx.revoked, header).file(F1), 401, 'token_revoked');
      await denied(figmaJs(ctx.npm, header).file(F1), 401, 'token_kind_mismatch');
    });
  });

  describe(`figma-api (${header})`, () => {
    it('file, nodes, images, comments, versions, projects, components', async () => {
      const api = figmaApi(ctx.all, header);
      const calls = [
        [api.getFile(F1), `/v1/files/${F1}?`],
        [api.getFileNodes(F1, ['1:2']), `/v1/files/${F1}/nodes?`],
        [api.getImage(F1, { ids: '1:2', scale: 1, format: 'png' }), `/v1/images/${F1}?`],
        [api.getImageFills(F1), `/v1/files/${F1}/images`],
        [api.getComments(F1), `/v1/files/${F1}/comments`],
        [api.getVersions(F1), `/v1/files/${F1}/versions`],
        [api.getTeamProjects(TEAM), `/v1/teams/${TEAM}/projects`],
        [api.getProjectFiles(PROJECT), `/v1/projects/${PROJECT}/files`],
        [api.getFileComponents(F1), `/v1/files/${F1}/components`],
        [api.getTeamComponents(TEAM), `/v1/teams/${TEAM}/components`],
        [api.getComponent('COMPKEY'), '/v1/components/COMPKEY'],
      ];
      for (const [p, prefix] of calls) assertForwarded(await p, ctx.all, prefix);
    });
    it('excluded endpoints are not for plan tokens', async () => {
      const api = figmaApi(ctx.all, header);
      await denied(api.getMe(), 403, 'endpoint_not_supported');
      await denied(api.postComment(F1, 'hi'), 403, 'endpoint_not_supported');
      await denied(api.deleteComments(F1, '1'), 403, 'endpoint_not_supported');
    });
    it('an allowlist token: its file only, its scopes only', async () => {
      const api = figmaApi(ctx.one, header);
      assertForwarded(await api.getFile(F1), ctx.one, `/v1/files/${F1}`);
      await denied(api.getFile(F2), 403, 'resource_not_allowed');
      await denied(api.getComments(F1), 403, 'scope_missing');
      await denied(api.getVersions(F1), 403, 'scope_missing');
    });
    it('revoked and wrong-kind tokens', async () => {
      await denied(figmaApi(ctx.revoked, header).getFile(F1), 401, 'token_revoked');
      await denied(figmaApi(ctx.npm, header).getFile(F1), 401, 'token_kind_mismatch');
    });
  });
}

describe('curl', () => {
  async function curl(args) {
    const r = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args], { timeoutMs: 30000 });
    assert.equal(r.code, 0, r.out);
    const nl = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(nl + 1)), body: JSON.parse(r.stdout.slice(0, nl)) };
  }
  for (const [name, h] of [['X-Figma-Token', (s) => `X-Figma-Token: ${s}`],
    ['Bearer', (s) => `Authorization: Bearer ${s}`]]) {
    it(`${name}: allowed, excluded and denied endpoints`, async () => {
      const ok = await curl(['-H', h(ctx.all.secret), `${ctx.base}/v1/files/${F1}/versions`]);
      assert.equal(ok.status, 200);
      assertForwarded(ok.body, ctx.all, `/v1/files/${F1}/versions`);
      for (const [p, status, reason] of [
        ['/v1/me', 403, 'endpoint_not_supported'],
        [`/v1/oembed?url=https://www.figma.com/design/${F1}`, 403, 'endpoint_not_supported'],
        ['/v1/nothing', 403, 'endpoint_unknown'],
      ]) {
        const r = await curl(['-H', h(ctx.all.secret), `${ctx.base}${p}`]);
        assert.equal(r.status, status, p);
        assert.equal(r.body.reason, reason, p);
      }
      const r = await curl(['-H', h(ctx.one.secret), `${ctx.base}/v1/files/${F2}`]);
      assert.equal(r.status, 403);
      assert.equal(r.body.reason, 'resource_not_allowed');
      const m = await curl([`${ctx.base}/v1/files/${F1}`]);
      assert.equal(m.status, 401);
      assert.equal(m.body.reason, 'token_missing');
    });
  }
  it('the sidecar logged no secret', () => {
    assert.match(ctx.sidecar.log(), /"status":200/);
    assert.doesNotMatch(ctx.sidecar.log(), SECRET_RE);
  });
});
