import { lstat, readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { FatalError, RetryableError } from "../core/errors.ts";
import { type ArtifactCaps, capExceeded } from "../sink/index.ts";

/** A Parquet file cryo produced, relative to the staging dir ("/"-separated). */
export interface StagedFile {
  name: string;
  path: string;
  size: number;
}

/**
 * Every regular `*.parquet` file (case-insensitive) under `dir`, sorted by name. cryo's `.cryo/`
 * reports are skipped, never read (cryo-library-adapter.md); symlinks are never followed, so a
 * hostile output cannot make us upload files from elsewhere on the host.
 */
export async function collectParquet(dir: string): Promise<StagedFile[]> {
  const out: StagedFile[] = [];
  async function walk(d: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== ".cryo") await walk(p);
        continue;
      }
      if (!entry.isFile() || !entry.name.toLowerCase().endsWith(".parquet")) continue;
      const st = await lstat(p);
      if (!st.isFile()) continue;
      out.push({ name: relative(dir, p).split(sep).join("/"), path: p, size: st.size });
    }
  }
  try {
    await walk(dir);
  } catch (err) {
    throw new RetryableError("could not list cryo's output in the staging dir", {
      category: "staging_walk",
      cause: err,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The caps, checked on the staged files before a single byte is uploaded (trace-rust §4):
 * count, bytes per file, running total. Any violation is fatal: a retry would produce the same.
 */
export function checkStagedCaps(files: readonly StagedFile[], caps: ArtifactCaps): void {
  if (files.length === 0)
    throw new FatalError("cryo produced no Parquet files", { category: "no_output" });
  if (files.length > caps.maxFiles)
    throw capExceeded("maxFiles", caps.maxFiles, `cryo produced ${files.length} Parquet files`);
  let total = 0;
  for (const f of files) {
    if (f.size > caps.maxBytesPerFile)
      throw capExceeded("maxBytesPerFile", caps.maxBytesPerFile, `${f.name} is ${f.size} bytes`);
    total += f.size;
    if (total > caps.maxTotalBytes)
      throw capExceeded(
        "maxTotalBytes",
        caps.maxTotalBytes,
        `range reached ${total} bytes at ${f.name}`,
      );
  }
}
