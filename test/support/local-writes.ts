import fs, { readdirSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Evidence for "no Parquet on local disk": records every path-taking write API of `node:fs`
 * while `run` executes, and lists extraction-named files that appeared in the temp dir or cwd.
 */
export async function recordLocalWrites<T>(
  run: () => Promise<T>,
): Promise<{ result: T; writes: string[]; created: string[] }> {
  const before = new Set(localExtractionFiles());
  const writes: string[] = [];
  const patched: [Record<string, unknown>, string, unknown][] = [];
  const wrap = (obj: Record<string, unknown>, key: string) => {
    const orig = obj[key] as (...a: unknown[]) => unknown;
    patched.push([obj, key, orig]);
    obj[key] = function (this: unknown, ...a: unknown[]) {
      writes.push(`${key}(${String(a[0])})`);
      return orig.apply(this, a);
    };
  };
  const sync = fs as unknown as Record<string, unknown>;
  for (const k of [
    "writeFile",
    "writeFileSync",
    "appendFile",
    "appendFileSync",
    "createWriteStream",
    "open",
    "openSync",
    "rename",
    "renameSync",
    "mkdtemp",
    "mkdtempSync",
    "mkdir",
    "mkdirSync",
  ])
    wrap(sync, k);
  for (const k of ["writeFile", "appendFile", "open", "rename", "mkdtemp", "mkdir"])
    wrap(fs.promises as unknown as Record<string, unknown>, k);
  syncBuiltinESMExports();
  let result: T;
  try {
    result = await run();
  } finally {
    for (const [obj, key, orig] of patched) obj[key] = orig;
    syncBuiltinESMExports();
  }
  const created = localExtractionFiles().filter((p) => !before.has(p));
  return { result, writes, created };
}

/** Writes other than opens (reads of code and certificates open paths too). */
export function nonOpenWrites(writes: string[]): string[] {
  return writes.filter((w) => !/^open(Sync)?\(/.test(w));
}

function localExtractionFiles(): string[] {
  return [...walk(tmpdir()), ...walk(process.cwd())];
}

function walk(dir: string, depth = 3): string[] {
  const found: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const e of entries) {
    if (e.name === "node_modules" || e.name === ".git") continue;
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 0) found.push(...walk(p, depth - 1));
    // Only names an extraction could produce (cryo file names, sink temp names): other test
    // files run concurrently and write their own Parquet (query caches) into the shared temp dir.
    else if (/__[a-z_]+__\d+_to_\d+\.parquet|trace-tmp|_tmp$/i.test(e.name)) found.push(p);
  }
  return found;
}
