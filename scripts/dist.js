// Whether dist/ (the compiled JavaScript) may run in place of the TypeScript sources. Shared by
// bin/trace.js and the benchmarks; plain JavaScript because it decides before any loader exists.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const STAMP = ".build-stamp";

/**
 * True when `npm run build` completed after the last change to any file under src/: a source
 * edited since (or a checkout of another commit) makes the build stale, and the caller then runs
 * the sources. One stat per source file (~200, a few milliseconds).
 */
export function freshDist(root) {
  let built;
  try {
    built = statSync(join(root, "dist", STAMP)).mtimeMs;
  } catch {
    return false;
  }
  const src = join(root, "src");
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    if (statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs > built) return false;
  }
  return true;
}
