// The admin's whole flow on the page, in Debian's headless Chromium, against
// a real pat-authority (PostgreSQL), pat-sidecar and sample upstream.
// Screenshots of every step go to $PAT_BROWSER_ARTIFACTS.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { ACME, BETA, Stack, artifactsDir, eventually, launchBrowser } from "./harness.mjs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const shots = artifactsDir();
const stack = new Stack();
let browser;
let page;
let consoleUrl;
let step = 0;

async function shot(name) {
  step += 1;
  await page.screenshot({ path: join(shots, `${String(step).padStart(2, "0")}-${name}.png`) });
}

const $ = (testid) => `[data-testid="${testid}"]`;

async function click(testid) {
  await page.waitForSelector(`${$(testid)}:not([disabled])`, { visible: true });
  await page.click($(testid));
}

async function typeInto(testid, text, { replace = true } = {}) {
  await page.waitForSelector($(testid), { visible: true });
  if (replace) {
    await page.$eval($(testid), (el) => {
      el.value = "";
    });
  }
  await page.type($(testid), text);
}

async function text(selector) {
  await page.waitForSelector(selector, { visible: true });
  return page.$eval(selector, (el) => el.textContent);
}

// Runs axe-core (evaluated through the DevTools protocol, which the page's
// CSP does not govern) and fails on serious or critical violations.
async function axe(where) {
  const results = await page.evaluate(async (source) => {
    if (!window.axe) (0, eval)(source);
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  }, axeSource);
  const bad = results.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `axe violations (${where}): ${JSON.stringify(bad, null, 1)}`);
}

async function rowOf(name) {
  return eventually(
    async () => {
      const id = await page.evaluate((n) => {
        for (const row of document.querySelectorAll("tr.token-row")) {
          if (row.querySelector(".token-name")?.textContent === n) return row.getAttribute("data-token-id");
        }
        return null;
      }, name);
      return id;
    },
    { what: `row ${name}` },
  );
}

async function statusOf(id) {
  return page.$eval(`${$(`row-${id}`)} ${$("status")}`, (el) => el.textContent);
}

async function openRowAction(id, action) {
  await click(`menu-${id}`);
  await click(`action-${action}`);
}

async function readSecretAndClose() {
  await page.waitForSelector($("secret"), { visible: true });
  const secret = (await text($("secret"))).trim();
  assert.match(secret, /^pat_(rest|npm)_[0-9A-Za-z]{49}$/);
  assert.match(await text($("secret-warning")), /only time the secret is displayed/);
  await click("copy-secret");
  await eventually(async () => (await text($("copy-status"))).includes("Copied"), { what: "copy status" });
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(clip, secret, "the clipboard holds the secret");
  return secret;
}

async function closeSecret() {
  await click("secret-done");
  await page.waitForSelector($("secret"), { hidden: true });
  // The secret is gone from the page, storage and cookies.
  const leftovers = await page.evaluate(() => ({
    html: document.documentElement.outerHTML,
    local: JSON.stringify(localStorage),
    session: JSON.stringify(sessionStorage),
    cookie: document.cookie,
  }));
  return leftovers;
}

before(async () => {
  await stack.start();
  const c = await stack.console(["--trusted_proxies=127.0.0.1"]);
  consoleUrl = c.url;
  browser = await launchBrowser(puppeteer, mkdtempSync(join(tmpdir(), "pat-chromium-")));
  await browser.defaultBrowserContext().overridePermissions(consoleUrl, ["clipboard-read", "clipboard-write", "clipboard-sanitized-write"]);
  page = await browser.newPage();
  // The sign-in proxy's header (the console trusts 127.0.0.1 as its proxy).
  await page.setExtraHTTPHeaders({ "X-Auth-Request-User": "alice" });
  page.on("pageerror", (e) => console.error("page error:", e.message));
});

after(async () => {
  await browser?.close();
  if (process.exitCode) console.error(stack.logs());
  await stack.stop();
});

test("admin flow: org and tab, generate, use, edit, refresh, revoke, audit", async () => {
  await page.goto(consoleUrl, { waitUntil: "networkidle0" });
  await page.waitForSelector($("org-select"));
  assert.match(await text("header"), /Signed in as alice/);
  // REST API is the default tab.
  assert.equal(await page.$eval($("tab-rest"), (e) => e.getAttribute("aria-selected")), "true");
  assert.equal(await text($("generate")), "Generate REST API token");
  await shot("tokens-page");
  await axe("tokens page");

  // Switch organization, then back.
  await page.select($("org-select"), BETA);
  await eventually(async () => (await page.$($("empty"))) !== null, { what: "Beta's empty table" });
  await shot("org-beta");
  await page.select($("org-select"), ACME);
  // Switch tab (npm registry), then back to REST with the keyboard.
  await click("tab-npm");
  assert.equal(await text($("generate")), "Generate npm registry token");
  await shot("tab-npm");
  await page.focus($("tab-npm"));
  await page.keyboard.press("ArrowLeft");
  await eventually(async () => (await text($("generate"))) === "Generate REST API token", { what: "REST tab" });

  // Generate: page 1, Describe your token (validation errors first).
  await click("generate");
  await page.waitForSelector($("generate-modal"));
  assert.match(await text($("modal-step")), /Describe your token/);
  await click("modal-next");
  assert.equal(await text($("error-name")), "Enter a name for the token.");
  await typeInto("token-name", "ci-export");
  await typeInto("token-description", "Exports files nightly");
  await typeInto("token-days", "400");
  await click("modal-next");
  assert.match(await text($("error-expires_in_days")), /between 1 and 365/);
  await shot("generate-describe-errors");
  await typeInto("token-days", "30");
  await axe("generate: describe");
  await click("modal-next");

  // Page 2, Choose scopes: the excluded scopes are absent.
  assert.match(await text($("modal-step")), /Choose scopes/);
  for (const excluded of ["file_comments:write", "file_variables:write", "file_code_connect:write"]) {
    assert.equal(await page.$($(`scope-${excluded}`)), null, `${excluded} is offered`);
  }
  await click("modal-next");
  assert.equal(await text($("error-scopes")), "Select at least one scope.");
  await page.click($("scope-file_content:read"));
  await page.click($("scope-file_versions:read"));
  await shot("generate-scopes");
  await axe("generate: scopes");
  await click("modal-next");

  // Page 3, Choose resources: links are checked as they are typed.
  assert.match(await text($("modal-step")), /Choose resources/);
  await page.click($("resources-selected"));
  await typeInto("token-links", "http://figma.com/design/ABC");
  await eventually(async () => (await text($("link-results"))).includes("✗ link 1"), { what: "bad link flagged" });
  await typeInto("token-links", `https://figma.com/files/${BETA}/project/9`);
  await eventually(async () => (await text($("link-results"))).includes("another organization"), { what: "foreign org flagged" });
  await shot("generate-resources-invalid");
  await typeInto("token-links", "https://figma.com/design/NOSUCHFILE");
  await eventually(async () => (await text($("link-results"))).includes("✓ file NOSUCHFILE"), { what: "link accepted" });
  // The authority's directory check comes back next to the field.
  await click("modal-create");
  await eventually(async () => (await text($("error-resource_links"))).includes("no such file in this organization"), {
    what: "authority error next to the links",
  });
  await typeInto("token-links", "https://www.figma.com/design/FILEKEY1/Home-page?node-id=1");
  await eventually(async () => (await text($("link-results"))).includes("✓ file FILEKEY1"), { what: "link accepted" });
  await shot("generate-resources");
  await axe("generate: resources");
  await click("modal-create");

  // The secret, once, with Copy.
  const secret1 = await readSecretAndClose();
  await shot("secret-shown");
  await axe("secret box");
  const leftovers = await closeSecret();
  for (const v of Object.values(leftovers)) assert.ok(!v.includes(secret1), "secret left in the page or storage");

  const id = await rowOf("ci-export");
  assert.equal(await statusOf(id), "Active");
  assert.match(await page.$eval($(`row-${id}`), (r) => r.textContent), /file_content:read, file_versions:read/);
  await shot("token-listed");

  // Use it through the sidecar.
  assert.deepEqual(await stack.use(secret1, "/v1/files/FILEKEY1"), { status: 200, reason: "" });
  assert.deepEqual(await stack.use(secret1, "/v1/files/FILEKEY1/versions"), { status: 200, reason: "" });
  assert.equal((await stack.use(secret1, "/v1/files/FILEKEY2")).reason, "resource_not_allowed");

  // Edit: remove file_versions:read; the sidecar denies it at once.
  await openRowAction(id, "edit");
  await page.waitForSelector($("edit-modal"));
  await typeInto("token-name", "ci-export-v2");
  await page.click($("scope-file_versions:read"));
  await shot("edit");
  await axe("edit");
  await click("edit-save");
  await page.waitForSelector($("edit-modal"), { hidden: true });
  await rowOf("ci-export-v2");
  await eventually(async () => (await stack.use(secret1, "/v1/files/FILEKEY1/versions")).status === 403, {
    what: "the removed scope to be denied",
  });
  assert.equal((await stack.use(secret1, "/v1/files/FILEKEY1/versions")).reason, "scope_missing");
  assert.equal((await stack.use(secret1, "/v1/files/FILEKEY1")).status, 200);

  // Refresh: new expiration and the 24-hour overlap are stated; both work.
  await openRowAction(id, "refresh");
  await page.waitForSelector($("refresh-modal"));
  const refreshText = await text($("refresh-modal"));
  assert.match(refreshText, /original lifetime of 30 days/);
  assert.match(refreshText, /previous secret continues to work for 24 hours/);
  await shot("refresh-confirm");
  await click("refresh-modal-confirm");
  const secret2 = await readSecretAndClose();
  assert.notEqual(secret2, secret1);
  await shot("refresh-secret");
  await closeSecret();
  await eventually(async () => (await stack.use(secret2, "/v1/files/FILEKEY1")).status === 200, { what: "new secret" });
  assert.equal((await stack.use(secret1, "/v1/files/FILEKEY1")).status, 200, "old secret works during the overlap");
  // Last used (time and IP) arrives through the sidecar's usage reports.
  await eventually(
    async () => {
      await page.reload({ waitUntil: "networkidle0" });
      await page.waitForSelector($(`row-${id}`));
      return /\d{4}-\d\d-\d\d \d\d:\d\d UTC from 127\.0\.0\.1/.test(await page.$eval($(`row-${id}`), (r) => r.textContent));
    },
    { timeoutMs: 40000, intervalMs: 1000, what: "last used time and IP in the row" },
  );

  // Revoke: the confirmation says it cannot be undone; both secrets stop.
  await openRowAction(id, "revoke");
  await page.waitForSelector($("revoke-modal"));
  assert.match(await text($("revoke-modal")), /immediately revoked\. This action cannot be undone/);
  await shot("revoke-confirm");
  await axe("revoke confirm");
  await click("revoke-modal-confirm");
  await eventually(async () => (await statusOf(id)) === "Revoked", { what: "row shows Revoked" });
  await eventually(async () => (await stack.use(secret1, "/v1/files/FILEKEY1")).status === 401, { what: "old secret denied" });
  assert.equal((await stack.use(secret1, "/v1/files/FILEKEY1")).reason, "token_revoked");
  assert.equal((await stack.use(secret2, "/v1/files/FILEKEY1")).reason, "token_revoked");
  assert.ok(await page.$eval($(`row-${id}`), (r) => r.classList.contains("status-revoked")));
  await shot("revoked");

  // Audit view: who, when, what, before/after.
  await openRowAction(id, "audit");
  await page.waitForSelector($("audit-row"));
  const audit = await text($("audit-modal"));
  for (const action of ["create", "update", "refresh", "revoke"]) assert.match(audit, new RegExp(action));
  assert.match(audit, /alice/);
  assert.match(audit, /"before"/);
  assert.match(audit, /file_versions:read/);
  assert.doesNotMatch(audit, /pat_rest_/);
  await shot("audit");
  await axe("audit");
  await page.keyboard.press("Escape");
  await page.waitForSelector($("audit-modal"), { hidden: true });
});

test("usage report: no traffic, then the sidecar's counts, scopes, resources and the suggestion", async () => {
  const created = JSON.parse(
    stack.patctl(
      "--actor=alice",
      "create",
      `--plan=${ACME}`,
      "--kind=rest",
      "--name=usage-probe",
      "--days=30",
      "--scopes=file_content:read,file_versions:read,file_metadata:read",
      "--all_resources",
      "--output=json",
    ),
  );
  const id = created.token.id;
  const secret = created.secret;
  await page.goto(consoleUrl, { waitUntil: "networkidle0" });
  assert.equal(await rowOf("usage-probe"), id);

  // No traffic yet: the documented "nothing to suggest" report.
  await openRowAction(id, "usage");
  await page.waitForSelector($("usage-no-traffic"), { visible: true });
  assert.match(await text($("usage-no-traffic")), /No traffic in the window: nothing to suggest/);
  assert.match(await text($("usage-summary")), /^0 request\(s\) from \d{4}-\d\d-\d\d \d\d:\d\d UTC to /);
  assert.equal(await text($("usage-endpoints-empty")), "No requests.");
  const scopeRows = async () =>
    page.$$eval(`${$("usage-scopes")} tbody tr`, (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.deepEqual(await scopeRows(), [
    ["file_content:read", "held", "0"],
    ["file_metadata:read", "held", "0"],
    ["file_versions:read", "held", "0"],
  ]);
  assert.equal(await text($("usage-allowed")), "All resources");
  assert.doesNotMatch(await text($("usage-modal")), /pat_rest_/);
  await shot("usage-no-traffic");
  await axe("usage: no traffic");
  await page.keyboard.press("Escape");
  await page.waitForSelector($("usage-modal"), { hidden: true });

  // Traffic through the sidecar: getFile twice, getFileVersions once, and a
  // denied request (not usage).
  for (const path of ["/v1/files/FILEKEY1", "/v1/files/FILEKEY1", "/v1/files/FILEKEY1/versions"]) {
    assert.deepEqual(await stack.use(secret, path), { status: 200, reason: "" }, path);
  }
  assert.equal((await stack.use(secret, "/v1/files/FILEKEY1/comments")).reason, "scope_missing");
  const endpointRows = async () =>
    page.$$eval(`${$("usage-endpoints")} tbody tr`, (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  // The sidecar flushes its counts every 10 s (possibly across two flushes):
  // reopen the panel until all three allowed requests are in.
  await eventually(
    async () => {
      if ((await page.$($("usage-modal"))) !== null) {
        await page.keyboard.press("Escape");
        await page.waitForSelector($("usage-modal"), { hidden: true });
      }
      await openRowAction(id, "usage");
      await page.waitForSelector($("usage-suggestion"), { visible: true, timeout: 5000 });
      return /^3 request\(s\)/.test(await text($("usage-summary")));
    },
    { timeoutMs: 40000, intervalMs: 1000, what: "the sidecar's usage in the report" },
  );
  assert.deepEqual(await endpointRows(), [
    ["getFile", "2", "file_content:read"],
    ["getFileVersions", "1", "file_versions:read"],
  ]);
  assert.match(await text($("usage-summary")), /^3 request\(s\) from /);
  assert.deepEqual(await scopeRows(), [
    ["file_content:read", "held", "2"],
    ["file_metadata:read", "held", "0"],
    ["file_versions:read", "held", "1"],
  ]);
  const touched = await page.$$eval(`${$("usage-touched")} tbody tr`, (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.equal(touched.length, 1, JSON.stringify(touched));
  assert.match(touched[0][0], /FILEKEY1/);
  assert.equal(touched[0][1], "3");
  assert.equal(await text($("usage-suggested-scopes")), "file_content:read, file_versions:read");
  assert.match(await text($("usage-suggested-resources")), /FILEKEY1/);
  assert.doesNotMatch(await text($("usage-suggested-resources")), /All resources/);
  assert.equal(await page.$($("usage-no-traffic")), null);
  await shot("usage-report");
  await axe("usage report");
  await page.keyboard.press("Escape");
  await page.waitForSelector($("usage-modal"), { hidden: true });
});

test("keyboard: the Generate modal is operable and keeps focus inside", async () => {
  await page.goto(consoleUrl, { waitUntil: "networkidle0" });
  await page.waitForSelector($("generate"));
  await page.focus($("generate"));
  await page.keyboard.press("Enter");
  await page.waitForSelector($("generate-modal"));
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute("data-testid"));
  assert.equal(await focused(), "token-name", "focus starts in the name field");
  await page.keyboard.type("kbd-token");
  // Tab through the modal many times: focus never leaves it.
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    const inside = await page.evaluate(() => !!document.activeElement?.closest("dialog"));
    assert.ok(inside, `focus left the modal after ${i + 1} tabs`);
  }
  await page.keyboard.press("Escape");
  await page.waitForSelector($("generate-modal"), { hidden: true });
  assert.equal(await focused(), "generate", "focus returns to the Generate button");
});

test("a user who administers no plan sees no plans", async () => {
  const other = await browser.newPage();
  await other.setExtraHTTPHeaders({ "X-Auth-Request-User": "mallory" });
  await other.goto(consoleUrl, { waitUntil: "networkidle0" });
  await other.waitForSelector($("no-plans"));
  assert.match(await other.$eval($("no-plans"), (e) => e.textContent), /not an administrator/);
  assert.equal(await other.$($("generate")), null);
  await other.screenshot({ path: join(shots, "90-non-admin.png") });
  // Asking for Acme's tokens directly is refused by the authority.
  const r = await other.evaluate(async (plan) => {
    const s = await (await fetch("/api/session")).json();
    const res = await fetch("/api/v1/TokenService/ListTokens", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Pat-Csrf": s.csrf_token },
      body: JSON.stringify({ plan_id: plan }),
    });
    return { status: res.status, body: await res.json() };
  }, ACME);
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "PERMISSION_DENIED");
  await other.close();
});

test("CSP: no inline script runs; the policy is strict", async () => {
  const res = await page.goto(consoleUrl, { waitUntil: "networkidle0" });
  const csp = res.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const outcome = await page.evaluate(
    () =>
      new Promise((resolve) => {
        document.addEventListener("securitypolicyviolation", (e) => resolve({ blocked: e.violatedDirective, ran: !!window.__inlineRan }), { once: true });
        const s = document.createElement("script");
        s.textContent = "window.__inlineRan = true";
        document.body.append(s);
      }),
  );
  assert.equal(outcome.ran, false);
  assert.match(outcome.blocked, /^script-src/);
  assert.equal(await page.evaluate(() => window.__inlineRan), undefined);
});

test("CSRF: a cross-site form post is refused and creates nothing", async () => {
  // The attacker's page on another origin (a data: URL) auto-submits a
  // text/plain form shaped like JSON to CreateToken.
  const before = await stack.patctl("--actor=alice", "--output=json", "list", `--plan=${ACME}`);
  const attack = `<html><body><form id=f method=POST enctype="text/plain" action="${consoleUrl}/api/v1/TokenService/CreateToken">
    <input name='{"plan_id":"${ACME}","kind":"TOKEN_KIND_REST_API","name":"evil","expires_in_days":1,"scopes":["file_content:read"],"all_resources":true,"x":"' value='"}'>
    </form><script>document.getElementById("f").submit()</script></body></html>`;
  const evil = await browser.newPage();
  await evil.setExtraHTTPHeaders({ "X-Auth-Request-User": "alice" });
  const nav = evil.waitForNavigation({ waitUntil: "load" });
  await evil.goto(`data:text/html,${encodeURIComponent(attack)}`);
  await nav;
  const body = await evil.evaluate(() => document.body.innerText);
  assert.match(body, /PERMISSION_DENIED/);
  assert.match(body, /csrf/);
  await evil.close();
  const afterList = await stack.patctl("--actor=alice", "--output=json", "list", `--plan=${ACME}`);
  assert.equal(afterList, before, "a token was created by the forged request");
  assert.doesNotMatch(afterList, /"evil"/);
});
