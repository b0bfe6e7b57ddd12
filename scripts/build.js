// `npm run build` (also run by `npm ci` / `npm install` as `prepare`): compiles src/ to dist/ so
// that `trace` processes run plain JavaScript without tsx's loader thread (bin/trace.js). Type
// checking is `npm run typecheck`'s job; this only emits. Without TypeScript installed (an
// install without dev dependencies) there is nothing to do: `trace` then runs the sources.
import { spawnSync } from "node:child_process";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { STAMP } from "./dist.js";

const root = join(import.meta.dirname, "..");
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  console.log("build: TypeScript is not installed; `trace` will run the sources through tsx");
  process.exit(0);
}
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
});
if (r.status !== 0) {
  rmSync(dist, { recursive: true, force: true });
  process.exit(r.status ?? 1);
}
// Files the compiled code reads next to itself.
cpSync(join(root, "src", "state", "migrations"), join(dist, "state", "migrations"), {
  recursive: true,
});
writeFileSync(join(dist, STAMP), `${new Date().toISOString()}\n`);
