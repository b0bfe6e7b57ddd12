import { lstat, mkdir, readdir, rm, rmdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDir } from "../core/dirs.ts";
import { FatalError, RetryableError } from "../core/errors.ts";
import { isUuid } from "../core/ids.ts";

/**
 * Private staging directories of the cli fallback: `{root}/{task_id}/{attempt}`, mode 0700, under
 * `$TMPDIR/trace-cryo` by default (trace-rust §9.15: the reference ignored TMPDIR). Removed after
 * every run; a crash leaves one behind, which `sweepStaleStaging` removes on the next start.
 */

export const DEFAULT_STAGING_TTL_HOURS = 24;

/** `$TMPDIR/trace-cryo`, resolved when called so a changed TMPDIR is honoured. */
export function defaultStagingRoot(): string {
  return join(tmpdir(), "trace-cryo");
}

/** TRACE_CRYO_STAGING_TTL_HOURS (default 24, fractions allowed) in milliseconds. */
export function stagingTtlMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TRACE_CRYO_STAGING_TTL_HOURS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_STAGING_TTL_HOURS * 3_600_000;
  const v = raw.trim();
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v))
    throw new FatalError(
      `TRACE_CRYO_STAGING_TTL_HOURS must be a non-negative number of hours, got ${JSON.stringify(raw)}`,
      { category: "invalid_config" },
    );
  return Math.round(Number(v) * 3_600_000);
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await ensureDir(dir, 0o700);
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  // A pre-existing dir owned by someone else, or readable by others, is not private.
  if (typeof process.getuid === "function" && st.uid !== process.getuid())
    throw new Error(`${dir} is owned by another user`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${dir} is accessible to other users`);
}

/**
 * Creates a fresh, empty staging dir for one attempt. Leftovers of an earlier run of the same
 * attempt (a crash) are removed first so they can never be uploaded.
 */
export async function createStagingDir(
  root: string,
  taskId: string,
  attempt: number,
): Promise<string> {
  if (!isUuid(taskId) || !Number.isSafeInteger(attempt) || attempt < 1)
    throw new FatalError("staging dir needs a task UUID and a positive attempt", {
      category: "invalid_task",
    });
  const dir = join(root, taskId, String(attempt));
  try {
    await ensurePrivateDir(root);
    await ensureDir(join(root, taskId), 0o700);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    throw new RetryableError(`could not create the private staging dir under ${root}`, {
      category: "staging_dir",
      cause: err,
    });
  }
  return dir;
}

/** Removes an attempt's staging dir and its task dir when that is empty. Never throws. */
export async function removeStagingDir(dir: string): Promise<boolean> {
  try {
    await rm(dir, { recursive: true, force: true });
    // rmdir only succeeds on an empty dir: another attempt of the task may still be staged.
    await rmdir(join(dir, "..")).catch(() => {});
    return true;
  } catch {
    return false;
  }
}

export interface StagingSweepReport {
  removed: string[];
  kept: number;
}

/**
 * Removes `<task_id>/<attempt>` dirs under `root` whose mtime is older than `olderThanMs` (a
 * younger one may belong to a live worker on this host), then task dirs left empty. Only entries
 * shaped like ours are touched; anything else under the root is left alone.
 */
export async function sweepStaleStaging(
  root: string,
  olderThanMs: number,
  now: Date = new Date(),
): Promise<StagingSweepReport> {
  const report: StagingSweepReport = { removed: [], kept: 0 };
  const cutoff = now.getTime() - olderThanMs;
  let tasks: string[];
  try {
    tasks = await readdir(root);
  } catch {
    return report; // no root yet: nothing to sweep
  }
  for (const task of tasks) {
    if (!isUuid(task)) continue;
    const taskDir = join(root, task);
    let attempts: string[];
    try {
      if (!(await lstat(taskDir)).isDirectory()) continue;
      attempts = await readdir(taskDir);
    } catch {
      continue;
    }
    for (const attempt of attempts) {
      if (!/^[0-9]{1,9}$/.test(attempt)) continue;
      const dir = join(taskDir, attempt);
      try {
        const st = await lstat(dir);
        if (!st.isDirectory()) continue;
        if (st.mtimeMs > cutoff) {
          report.kept++;
          continue;
        }
        await rm(dir, { recursive: true, force: true });
        report.removed.push(dir);
      } catch {
        // Raced with its owner or unreadable: the next sweep tries again.
      }
    }
    await rmdir(taskDir).catch(() => {});
  }
  return report;
}

/** True when `path` exists (for tests and diagnostics). */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
