// How each client spells each operation (docs/npm-clients.md). An op returns
// {bin, args, cwd, visibility}: visibility says where the client shows a
// registry's refusal — 'out' (its output prints the body's "error"),
// 'phrase' (it prints only the HTTP reason phrase), 'hidden' (it prints a
// fixed text of its own). A missing op is a command the client does not have.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

function writeFile(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

// A publishable package in scratch/pkg.
function makePackage(scratch, name, version) {
  const dir = path.join(scratch, 'pkg');
  writeFile(path.join(dir, 'package.json'), JSON.stringify({
    name, version, description: 'pat client test package', license: 'MIT', main: 'index.js',
  }, null, 2));
  writeFile(path.join(dir, 'index.js'), `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`);
  return dir;
}

// An empty project in scratch/app.
function makeProject(scratch, deps = {}) {
  const dir = path.join(scratch, 'app');
  writeFile(path.join(dir, 'package.json'), JSON.stringify({
    name: 'pat-client-test-app', version: '1.0.0', private: true, license: 'MIT',
    dependencies: deps,
  }, null, 2));
  return dir;
}

// A project whose lockfile holds `name`@1.0.0 (audit reads only the lockfile).
function npmAuditProject(ctx, scratch, name) {
  const dir = makeProject(scratch, { [name]: '^1.0.0' });
  const base = name.split('/').pop();
  writeFile(path.join(dir, 'package-lock.json'), JSON.stringify({
    name: 'pat-client-test-app', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'pat-client-test-app', version: '1.0.0', dependencies: { [name]: '^1.0.0' } },
      [`node_modules/${name}`]: {
        version: '1.0.0', resolved: `${ctx.registry}${name}/-/${base}-1.0.0.tgz`,
      },
    },
  }, null, 2));
  return dir;
}

function pnpmAuditProject(ctx, scratch, name) {
  const dir = makeProject(scratch, { [name]: '^1.0.0' });
  writeFile(path.join(dir, 'pnpm-lock.yaml'), `lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      '${name}':
        specifier: ^1.0.0
        version: 1.0.0

packages:

  '${name}@1.0.0':
    resolution: {integrity: sha512-${'A'.repeat(86)}==}

snapshots:

  '${name}@1.0.0': {}
`);
  return dir;
}

function yarnAuditProject(ctx, scratch, name) {
  const dir = makeProject(scratch, { [name]: '^1.0.0' });
  const base = name.split('/').pop();
  writeFile(path.join(dir, 'yarn.lock'), `# yarn lockfile v1


"${name}@^1.0.0":
  version "1.0.0"
  resolved "${ctx.registry}${name}/-/${base}-1.0.0.tgz"
`);
  return dir;
}

// .npmrc for a plan token, with no login: the registry is the sidecar.
function npmrc(registry, secret, extra = '') {
  const host = registry.replace(/^http:/, '');
  return `registry=${registry}\n${host}:_authToken=${secret}\n` +
    'update-notifier=false\nfund=false\n' + extra;
}

const npmOps = (bin, pre = []) => ({
  ping: () => ({ bin, args: [...pre, 'ping'] }),
  whoami: () => ({ bin, args: [...pre, 'whoami'] }),
  view: (ctx, s, p) => ({ bin, args: [...pre, 'view', p, 'versions', '--json'] }),
  install: (ctx, s, p) => ({ bin, args: [...pre, 'install', p], cwd: makeProject(s) }),
  publish: (ctx, s, p, v) => ({ bin, args: [...pre, 'publish'], cwd: makePackage(s, p, v) }),
  distTagAdd: (ctx, s, p, v, tag) => ({ bin, args: [...pre, 'dist-tag', 'add', `${p}@${v}`, tag] }),
  distTagLs: (ctx, s, p) => ({ bin, args: [...pre, 'dist-tag', 'ls', p] }),
  distTagRm: (ctx, s, p, tag) => ({ bin, args: [...pre, 'dist-tag', 'rm', p, tag] }),
  deprecate: (ctx, s, p, v) => ({ bin, args: [...pre, 'deprecate', `${p}@${v}`, 'pat test: use a newer version'] }),
  unpublish: (ctx, s, p, v) => ({ bin, args: [...pre, 'unpublish', `${p}@${v}`] }),
  audit: (ctx, s, p) => ({ bin, args: [...pre, 'audit'], cwd: npmAuditProject(ctx, s, p) }),
  search: (ctx, s, text) => ({ bin, args: [...pre, 'search', text] }),
  tokenList: () => ({ bin, args: [...pre, 'token', 'list'] }),
  ownerAdd: (ctx, s, p, user) => ({ bin, args: [...pre, 'owner', 'add', user, p] }),
});

export const CLIENTS = {
  // npm 11 (the one that comes with Node).
  npm: {
    writeConfig(home, registry, secret) {
      writeFile(path.join(home, '.npmrc'), npmrc(registry, secret));
    },
    ops: npmOps('npm'),
    npmBacked: () => true,
    cacheEnv: () => ({}),
  },

  // pnpm 9: install (add) and audit are pnpm's own; publish packs and runs
  // npm publish; view, ping, whoami, dist-tag, deprecate, unpublish, search,
  // token and owner are passed through to npm.
  pnpm: {
    writeConfig(home, registry, secret) {
      writeFile(path.join(home, '.npmrc'), npmrc(registry, secret));
    },
    ops: (() => {
      const o = npmOps('pnpm');
      delete o.ownerAdd;  // the same npm owner add as the npm client's
      o.install = (ctx, s, p) => ({
        bin: 'pnpm', args: ['add', p], cwd: makeProject(s), visibility: 'phrase',
      });
      o.publish = (ctx, s, p, v) => ({
        bin: 'pnpm', args: ['publish', '--no-git-checks'], cwd: makePackage(s, p, v),
      });
      o.audit = (ctx, s, p) => ({ bin: 'pnpm', args: ['audit'], cwd: pnpmAuditProject(ctx, s, p) });
      return o;
    })(),
    npmBacked: (op) => op !== 'install' && op !== 'audit',
    cacheEnv: (dir) => ({
      npm_config_store_dir: path.join(dir, 'pnpm-store'),
      npm_config_cache_dir: path.join(dir, 'pnpm'),
    }),
  },

  // yarn 1: no ping, whoami, deprecate, unpublish or search commands; audit
  // goes to a hard-coded public registry (extra test below).
  yarn: {
    writeConfig(home, registry, secret) {
      const host = registry.replace(/^http:/, '');
      // always-auth: yarn 1 sends the token for unscoped packages only then.
      writeFile(path.join(home, '.npmrc'), npmrc(registry, secret, `${host}:always-auth=true\n`));
      writeFile(path.join(home, '.yarnrc'), 'disable-self-update-check true\n');
    },
    ops: {
      view: (ctx, s, p) => ({
        bin: 'yarn', args: ['info', p, 'versions', '--json', '--non-interactive'], visibility: 'hidden',
      }),
      install: (ctx, s, p) => ({
        bin: 'yarn', args: ['add', p, '--non-interactive', '--no-progress'], cwd: makeProject(s),
      }),
      publish: (ctx, s, p, v) => ({
        bin: 'yarn',
        args: ['publish', '--non-interactive', '--new-version', v, '--no-git-tag-version'],
        cwd: makePackage(s, p, '0.0.0'),
      }),
      distTagAdd: (ctx, s, p, v, tag) => ({ bin: 'yarn', args: ['tag', 'add', `${p}@${v}`, tag, '--non-interactive'] }),
      distTagLs: (ctx, s, p) => ({ bin: 'yarn', args: ['tag', 'ls', p, '--non-interactive'] }),
      distTagRm: (ctx, s, p, tag) => ({ bin: 'yarn', args: ['tag', 'rm', p, tag, '--non-interactive'] }),
      // Not in the matrix: yarn 1 audit ignores the registry (extraTests).
      auditPublic: (ctx, s, p, proxy) => ({
        bin: 'yarn',
        args: ['audit', '--non-interactive', '--proxy', proxy, '--https-proxy', proxy],
        cwd: yarnAuditProject(ctx, s, p),
      }),
    },
    extraTests({ it, ctx, exec }) {
      it('yarn audit goes to the hard-coded public registry, never to the configured one', async () => {
        // A loopback "proxy" that records what yarn asks for and refuses it,
        // so nothing leaves the machine.
        const seen = [];
        const socks = new Set();
        const proxy = net.createServer((sock) => {
          socks.add(sock);
          sock.on('close', () => socks.delete(sock));
          sock.on('error', () => {});
          sock.once('data', (d) => {
            seen.push(String(d).split('\r\n')[0]);
            sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
          });
        });
        await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
        try {
          const r = await exec('all', 'auditPublic', '@acme/widget',
            `http://127.0.0.1:${proxy.address().port}`);
          assert.notEqual(r.code, 0, r.out);
          assert.ok(seen.some((l) => l.includes('registry.yarnpkg.com')), `${seen}\n${r.out}`);
          assert.doesNotMatch(r.sidecarLog, /security\/audits/);
        } finally {
          for (const sock of socks) sock.destroy();
          await new Promise((r) => proxy.close(r));
        }
      });
    },
    npmBacked: () => false,
    cacheEnv: (dir) => ({ YARN_CACHE_FOLDER: path.join(dir, 'yarn') }),
  },
};
