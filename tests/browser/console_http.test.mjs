// pat-console's HTTP edge with a real HTTP client (node:http): sign-in
// trust, CSRF (every check, every state-changing endpoint), cache and
// security headers, limits, the JSON mapping's errors, secrets never logged.
// Against a real pat-authority on PostgreSQL.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { ACME, Proc, Stack, env, eventually, request } from "./harness.mjs";

const stack = new Stack();
let dev; // --dev_user=alice
const RPCS = ["ListPlans", "CreateToken", "GetToken", "ListTokens", "UpdateToken", "RefreshToken", "RevokeToken", "ListAuditEvents", "CheckAccess", "GetTokenUsageReport"];

async function session(port, headers = {}) {
  const r = await request(port, "GET", "/api/session", { headers });
  return { ...r, json: r.status === 200 ? JSON.parse(r.body) : JSON.parse(r.body || "{}") };
}

function post(port, path, body, headers) {
  const data = typeof body === "string" ? body : JSON.stringify(body);
  return request(port, "POST", path, {
    headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data), ...headers },
    body: data,
  });
}

async function csrfHeaders(port, extra = {}) {
  const s = await session(port, extra);
  assert.equal(s.status, 200, s.body);
  return { "X-Pat-Csrf": s.json.csrf_token, Origin: `http://127.0.0.1:${port}`, "Sec-Fetch-Site": "same-origin", ...extra };
}

before(async () => {
  await stack.start();
  dev = await stack.console(["--dev_user=alice", "--rate_limit_burst=1000", "--rate_limit_per_minute=6000"], "console-dev");
});

after(async () => {
  if (process.exitCode) console.error(stack.logs());
  await stack.stop();
});

test("--dev_user is refused on a non-loopback listener", async () => {
  for (const listen of ["0.0.0.0:0", "[::]:0"]) {
    const p = new Proc("console-bad", env("PAT_CONSOLE_BIN"), [`--listen=${listen}`, "--dev_user=alice", "--authority=127.0.0.1:1", "--insecure"]);
    const exit = await p.exitPromise;
    assert.equal(exit.code, 2, p.log);
    assert.match(p.log, /--dev_user: refused on a non-loopback/);
  }
  const none = new Proc("console-bad", env("PAT_CONSOLE_BIN"), ["--listen=127.0.0.1:0", "--authority=127.0.0.1:1", "--insecure"]);
  assert.equal((await none.exitPromise).code, 2);
  assert.match(none.log, /sign-in: give --trusted_proxies/);
});

test("dev user: the session names alice and carries a CSRF token", async () => {
  const s = await session(dev.port);
  assert.equal(s.status, 200);
  assert.equal(s.json.user, "alice");
  assert.match(s.json.csrf_token, /^[A-Za-z0-9_-]{40,}$/);
  assert.equal(s.headers["cache-control"], "no-store");
});

test("sign-in headers are believed only from a trusted proxy or with the shared secret", async () => {
  const secret = "s".repeat(20) + "0123456789abcdefghij";
  const bySecret = await stack.console([`--proxy_secret_file=${stack.file("proxy-secret", secret + "\n")}`], "console-secret");
  const untrusted = await stack.console(["--trusted_proxies=10.0.0.0/8,fd00::/8"], "console-untrusted");
  const trusted = await stack.console(["--trusted_proxies=127.0.0.0/8"], "console-trusted");

  assert.equal((await session(untrusted.port, { "X-Auth-Request-User": "alice" })).status, 401);
  assert.equal((await session(bySecret.port, { "X-Forwarded-User": "alice" })).status, 401);
  const wrong = await session(bySecret.port, { "X-Pat-Proxy-Secret": secret.slice(0, -1) + "X", "X-Forwarded-User": "alice" });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error.code, "UNAUTHENTICATED");
  const ok = await session(bySecret.port, { "X-Pat-Proxy-Secret": secret, "X-Forwarded-User": "bob" });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.user, "bob");
  // The first configured header wins; a repeated one is refused; no user: 401.
  const both = await session(trusted.port, { "X-Auth-Request-User": "carol", "X-Forwarded-User": "dave" });
  assert.equal(both.json.user, "carol");
  const twice = await request(trusted.port, "GET", "/api/session", { headers: { "X-Auth-Request-User": ["carol", "dave"] } });
  assert.equal(twice.status, 400);
  assert.equal((await session(trusted.port)).status, 401);
  assert.equal((await session(trusted.port, { "X-Auth-Request-User": "has space" })).status, 400);
  // The secret is not echoed anywhere.
  assert.ok(!bySecret.proc.log.includes(secret));
});

test("CSRF: every state-changing endpoint needs the token, same origin and JSON", async () => {
  const good = await csrfHeaders(dev.port);
  const paths = [...RPCS.map((m) => `/api/v1/TokenService/${m}`), "/api/links:validate"];
  const bobToken = (await session((await stack.console(["--trusted_proxies=127.0.0.1"], "console-bob")).port, { "X-Auth-Request-User": "bob" })).json.csrf_token;
  const cases = [
    ["missing token", { ...good, "X-Pat-Csrf": undefined }, /missing/],
    ["malformed token", { ...good, "X-Pat-Csrf": "not*a*token" }, /malformed/],
    ["forged token", { ...good, "X-Pat-Csrf": good["X-Pat-Csrf"].slice(0, -4) + (good["X-Pat-Csrf"].endsWith("AAAA") ? "BBBB" : "AAAA") }, /invalid|malformed/],
    ["another user's token", { ...good, "X-Pat-Csrf": bobToken }, /invalid/],
    ["foreign Origin", { ...good, Origin: "https://evil.example" }, /foreign Origin/],
    ["cross-site fetch", { ...good, "Sec-Fetch-Site": "cross-site" }, /cross-site/],
    ["same-site fetch", { ...good, "Sec-Fetch-Site": "same-site" }, /cross-site/],
    ["text/plain body", { ...good, "Content-Type": "text/plain" }, /Content-Type/],
    ["form body", { ...good, "Content-Type": "application/x-www-form-urlencoded" }, /Content-Type/],
  ];
  for (const path of paths) {
    for (const [name, headers, why] of cases) {
      const h = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined));
      const r = await post(dev.port, path, {}, h);
      assert.equal(r.status, 403, `${path} ${name}: ${r.body}`);
      const e = JSON.parse(r.body).error;
      assert.equal(e.code, "PERMISSION_DENIED");
      assert.match(e.message, why, `${path} ${name}`);
    }
  }
  const ok = await post(dev.port, "/api/v1/TokenService/ListPlans", {}, good);
  assert.equal(ok.status, 200, ok.body);
  assert.ok(JSON.parse(ok.body).plans.some((p) => p.id === ACME));
});

test("responses carrying secrets are no-store; every response has the security headers", async () => {
  const h = await csrfHeaders(dev.port);
  const created = await post(dev.port, "/api/v1/TokenService/CreateToken", {
    plan_id: ACME, kind: "TOKEN_KIND_REST_API", name: "headers", expires_in_days: 5, scopes: ["file_content:read"], all_resources: true,
  }, h);
  assert.equal(created.status, 200, created.body);
  const body = JSON.parse(created.body);
  assert.match(body.secret, /^pat_rest_/);
  assert.equal(created.headers["cache-control"], "no-store");
  const refreshed = await post(dev.port, "/api/v1/TokenService/RefreshToken", { plan_id: ACME, token_id: body.token.id }, h);
  assert.equal(refreshed.status, 200);
  assert.equal(refreshed.headers["cache-control"], "no-store");
  for (const [method, path] of [["GET", "/"], ["GET", "/assets/app.js"], ["GET", "/assets/app.css"], ["GET", "/nope"], ["GET", "/api/scopes"], ["POST", "/"]]) {
    const r = await request(dev.port, method, path);
    assert.match(r.headers["content-security-policy"], /default-src 'none'; script-src 'self'/, path);
    assert.equal(r.headers["x-content-type-options"], "nosniff", path);
    assert.equal(r.headers["x-frame-options"], "DENY", path);
    assert.equal(r.headers["referrer-policy"], "no-referrer", path);
    assert.equal(r.headers["set-cookie"], undefined, path);
  }
  // The secrets never reach the console's log.
  assert.ok(!dev.proc.log.includes(body.secret));
  assert.ok(!dev.proc.log.includes(JSON.parse(refreshed.body).secret));
  assert.doesNotMatch(dev.proc.log, /pat_rest_[0-9A-Za-z]{49}/);
});

test("the JSON mapping: errors name their field, unknown fields and methods are refused", async () => {
  const h = await csrfHeaders(dev.port);
  const base = { plan_id: ACME, kind: "TOKEN_KIND_REST_API", name: "x", expires_in_days: 30, scopes: ["file_content:read"], all_resources: true };
  const cases = [
    [{ ...base, expires_in_days: 366 }, "expires_in_days"],
    [{ ...base, name: "" }, "name"],
    [{ ...base, scopes: ["file_comments:write"] }, "scopes"],
    [{ ...base, all_resources: false, resource_links: ["https://figma.com/design/NOPE"] }, "resource_links[0]"],
  ];
  for (const [req, field] of cases) {
    const r = await post(dev.port, "/api/v1/TokenService/CreateToken", req, h);
    assert.equal(r.status, 400, r.body);
    const e = JSON.parse(r.body).error;
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.equal(e.field, field, e.message);
  }
  const unknown = await post(dev.port, "/api/v1/TokenService/ListPlans", { bogus: 1 }, h);
  assert.equal(unknown.status, 400);
  const notJson = await post(dev.port, "/api/v1/TokenService/ListPlans", "{", h);
  assert.equal(notJson.status, 400);
  assert.equal((await post(dev.port, "/api/v1/TokenService/DeleteEverything", {}, h)).status, 404);
  assert.equal((await post(dev.port, "/api/v1/DirectoryService/UpsertPlan", {}, h)).status, 404);
  const get = await request(dev.port, "GET", "/api/v1/TokenService/ListPlans");
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, "POST");
  const notFound = await post(dev.port, "/api/v1/TokenService/GetToken", { plan_id: ACME, token_id: "tok_0000000000000000000000" }, h);
  assert.equal(notFound.status, 404);
  const link = await post(dev.port, "/api/links:validate", { kind: "TOKEN_KIND_REST_API", plan_id: ACME, link: "https://figma.com/files/999/team/1" }, h);
  assert.deepEqual(JSON.parse(link.body), { valid: false, message: "belongs to another organization" });
});

test("per-user rate limit", async () => {
  const c = await stack.console(["--trusted_proxies=127.0.0.1", "--rate_limit_per_minute=1", "--rate_limit_burst=3"], "console-limited");
  const as = (u) => ({ "X-Auth-Request-User": u });
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await request(c.port, "GET", "/api/scopes", { headers: as("erin") })).status);
  assert.deepEqual(codes, [200, 200, 200, 429, 429]);
  const limited = await request(c.port, "GET", "/api/scopes", { headers: as("erin") });
  assert.equal(JSON.parse(limited.body).error.code, "RESOURCE_EXHAUSTED");
  assert.equal((await request(c.port, "GET", "/api/scopes", { headers: as("frank") })).status, 200);
});

test("bounded request size and connection count", async () => {
  const c = await stack.console(["--dev_user=alice", "--max_body_bytes=4096", "--max_connections=3"], "console-bounded");
  const h = await csrfHeaders(c.port);
  const big = await post(c.port, "/api/v1/TokenService/ListPlans", JSON.stringify({ x: "a".repeat(5000) }), h);
  assert.equal(big.status, 413);
  const headers = await request(c.port, "GET", "/", { headers: { "X-Big": "b".repeat(20000) } });
  assert.equal(headers.status, 431);
  // Three idle connections fill the console; a fourth is closed at once.
  const idle = [];
  for (let i = 0; i < 3; i++) {
    const s = net.connect(c.port, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    idle.push(s);
  }
  const extra = net.connect(c.port, "127.0.0.1");
  const closed = await new Promise((resolve) => {
    extra.on("close", () => resolve(true));
    extra.on("error", () => resolve(true));
    extra.on("connect", () => extra.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    extra.on("data", () => resolve(false));
  });
  assert.ok(closed, "the fourth connection was served");
  for (const s of idle) s.destroy();
  await eventually(async () => (await request(c.port, "GET", "/healthz")).status === 200, { what: "capacity back" });
});

test("mTLS to the authority as an admin caller; other identities are refused", async () => {
  const { execFileSync } = await import("node:child_process");
  const dir = stack.tmp;
  const ssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const key = (name) => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`];
  ssl("req", "-x509", ...key("ca"), "-out", "ca.pem", "-days", "2", "-subj", "/CN=pat-test-ca",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  const issue = (name, san, eku) => {
    stack.file(`${name}.ext`, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${eku}\nsubjectAltName=${san}\n`);
    ssl("req", "-new", ...key(name), "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`);
  };
  issue("server", "DNS:pat-authority.test,IP:127.0.0.1", "serverAuth");
  issue("console", "URI:spiffe://pat/console", "clientAuth");
  issue("sidecar", "URI:spiffe://pat/sidecar", "clientAuth");
  const callers = stack.file("callers.conf", "spiffe://pat/console admin\nspiffe://pat/sidecar sidecar\n");
  const authority = stack.add(
    new Proc("pat-authority-tls", env("PAT_AUTHORITY_BIN"), [
      "--listen=127.0.0.1:0",
      `--database_url=${stack.db.url}`,
      `--tls_cert=${dir}/server.pem`,
      `--tls_key=${dir}/server.key`,
      `--tls_client_ca=${dir}/ca.pem`,
      `--callers_config=${callers}`,
    ]),
  );
  const port = (await authority.listening()).port;
  const start = async (who) => {
    const p = stack.add(
      new Proc(`console-${who}`, env("PAT_CONSOLE_BIN"), [
        "--listen=127.0.0.1:0",
        `--authority=127.0.0.1:${port}`,
        `--tls_ca=${dir}/ca.pem`,
        `--tls_cert=${dir}/${who}.pem`,
        `--tls_key=${dir}/${who}.key`,
        "--tls_server_name=pat-authority.test",
        "--dev_user=alice",
      ]),
    );
    return (await p.listening()).port;
  };
  const admin = await start("console");
  const ok = await post(admin, "/api/v1/TokenService/ListPlans", {}, await csrfHeaders(admin));
  assert.equal(ok.status, 200, ok.body);
  assert.ok(JSON.parse(ok.body).plans.some((p) => p.id === ACME));
  // A sidecar's certificate may not use TokenService.
  const notAdmin = await start("sidecar");
  const denied = await post(notAdmin, "/api/v1/TokenService/ListPlans", {}, await csrfHeaders(notAdmin));
  assert.equal(denied.status, 403, denied.body);
  assert.equal(JSON.parse(denied.body).error.code, "PERMISSION_DENIED");
});
