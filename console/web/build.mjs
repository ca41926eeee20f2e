// Builds console/web/dist (committed; embedded into pat-console) from src/:
//   node build.mjs          write dist/
//   node build.mjs --check  exit 1 if dist/ differs from what src/ builds to
// The output is deterministic for a given esbuild version (package-lock.json).
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const dist = join(here, "dist");

async function outputs() {
  const js = await build({
    absWorkingDir: here,
    entryPoints: [join(src, "main.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    charset: "utf8",
    write: false,
    logLevel: "error",
  });
  return {
    "app.js": js.outputFiles[0].text,
    "app.css": readFileSync(join(src, "app.css"), "utf8"),
    "index.html": readFileSync(join(src, "index.html"), "utf8"),
  };
}

const files = await outputs();
if (process.argv.includes("--check")) {
  const stale = Object.entries(files).filter(([name, text]) => {
    try {
      return readFileSync(join(dist, name), "utf8") !== text;
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    console.error(`dist/ is stale (${stale.map(([n]) => n).join(", ")}): run node console/web/build.mjs and commit`);
    process.exit(1);
  }
  console.log("dist/ matches src/");
} else {
  mkdirSync(dist, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dist, name), text);
  console.log(`wrote ${Object.keys(files).map((n) => `dist/${n}`).join(", ")}`);
}
