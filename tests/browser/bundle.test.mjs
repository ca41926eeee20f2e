// The committed bundle (console/web/dist, embedded into pat-console) is
// exactly what the sources build to, and the page needs nothing from
// another origin.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "console", "web");

test("console/web/dist matches console/web/src", () => {
  const out = execFileSync(process.execPath, [join(web, "build.mjs"), "--check"], { encoding: "utf8" });
  assert.match(out, /dist\/ matches src\//);
});

test("the TypeScript sources type-check", () => {
  execFileSync(join(web, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", web], { encoding: "utf8" });
});

test("no CDN, no inline script or style in the page", () => {
  const html = readFileSync(join(web, "dist", "index.html"), "utf8");
  const js = readFileSync(join(web, "dist", "app.js"), "utf8");
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc="\/assets\/)/);
  assert.doesNotMatch(html, /style=|<style/);
  assert.doesNotMatch(html + js, /https?:\/\/(?!(www\.)?figma\.com)[a-z0-9.-]+\//i);
  assert.doesNotMatch(js, /innerHTML|insertAdjacentHTML|document\.write|\beval\(/);
  assert.doesNotMatch(js, /localStorage|sessionStorage|document\.cookie/);
});
