import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "../cli/local-stack.ts";
import { FatalError } from "../core/errors.ts";

/**
 * One `trace up` per home. The lock is a file holding the owner's pid, created exclusively; it is
 * only honoured while that pid is alive, so a crashed or killed `trace up` never blocks the next
 * one (its file is taken over). The embedded PostgreSQL's own postmaster.pid guards the data dir
 * independently (see postgres.ts).
 */
export class HomeLockedError extends FatalError {
  readonly pid: number;
  readonly path: string;
  constructor(path: string, pid: number) {
    super(
      `${path} is locked by another \`trace up\` (pid ${pid}); stop that one first (Ctrl-C in its terminal, or kill ${pid}), or use another TRACE_HOME / --home`,
      { category: "home_locked" },
    );
    this.pid = pid;
    this.path = path;
  }
}

export interface HomeLock {
  path: string;
  /** True when the previous owner died without releasing it (crash cleanup may be due). */
  tookOverStale: boolean;
  release(): void;
}

export function lockPath(home: string): string {
  return join(home, "up.lock");
}

export function acquireHomeLock(home: string): HomeLock {
  const path = lockPath(home);
  let tookOverStale = false;
  // Two attempts: the second follows the removal of a stale file.
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = readOwner(path);
      if (owner !== undefined && owner !== process.pid && isAlive(owner))
        throw new HomeLockedError(path, owner);
      rmSync(path, { force: true });
      tookOverStale = true;
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    let released = false;
    return {
      path,
      tookOverStale,
      release() {
        if (released) return;
        released = true;
        // Only remove our own lock (never one a successor took over).
        if (readOwner(path) === process.pid) rmSync(path, { force: true });
      },
    };
  }
  // Another process took the stale lock between our removal and our create.
  const owner = readOwner(path);
  throw new HomeLockedError(path, owner ?? 0);
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
