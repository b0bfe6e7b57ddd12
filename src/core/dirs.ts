import { mkdirSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * `mkdir -p` that always ends. Node's own `mkdir(dir, { recursive: true })` spins forever, at
 * 100% CPU in a libuv thread, when the parent exists but refuses the child with ENOENT: any path
 * under /proc (procfs answers ENOENT for names it does not know), as a typo in an output folder
 * or `TRACE_HOME` easily is. Its loop steps back to the parent on ENOENT and forward again on
 * EEXIST. Here an ENOENT once the parent exists is final, and the error names the directory.
 *
 * `mode` applies to the directories created, as with mkdir. An existing path that is not a
 * directory is an ENOTDIR error.
 */
export async function ensureDir(dir: string, mode?: number): Promise<void> {
  const made = await tryMkdir(dir, mode);
  if (made !== "missing parent") return;
  const parent = dirname(dir);
  if (parent === dir) throw notFound(dir);
  await ensureDir(parent, mode);
  if ((await tryMkdir(dir, mode)) === "missing parent") throw notFound(dir);
}

/** ensureDir for synchronous callers (startup code). */
export function ensureDirSync(dir: string, mode?: number): void {
  const made = tryMkdirSync(dir, mode);
  if (made !== "missing parent") return;
  const parent = dirname(dir);
  if (parent === dir) throw notFound(dir);
  ensureDirSync(parent, mode);
  if (tryMkdirSync(dir, mode) === "missing parent") throw notFound(dir);
}

type Made = "ok" | "missing parent";

async function tryMkdir(dir: string, mode: number | undefined): Promise<Made> {
  try {
    await mkdir(dir, { mode });
    return "ok";
  } catch (err) {
    return afterMkdirError(err, dir);
  }
}

function tryMkdirSync(dir: string, mode: number | undefined): Made {
  try {
    mkdirSync(dir, { mode });
    return "ok";
  } catch (err) {
    return afterMkdirError(err, dir);
  }
}

/** EEXIST is fine for a directory (a stat of an existing path: sync is harmless here too). */
function afterMkdirError(err: unknown, dir: string): Made {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === "ENOENT") return "missing parent";
  if (code !== "EEXIST") throw err;
  if (!statSync(dir).isDirectory()) throw notADirectory(dir);
  return "ok";
}

function fsError(code: string, message: string, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}, mkdir '${path}'`);
  err.code = code;
  err.syscall = "mkdir";
  err.path = path;
  return err;
}

const notFound = (dir: string) =>
  fsError("ENOENT", "cannot create a directory here (its parent refuses it)", dir);
const notADirectory = (dir: string) => fsError("ENOTDIR", "exists and is not a directory", dir);
