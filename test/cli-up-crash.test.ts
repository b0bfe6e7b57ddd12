/**
 * A `trace up` killed with SIGKILL cannot stop anything: its PostgreSQL keeps running and its
 * lock and stack.json stay behind. The next `trace up` on that home must still start — it takes
 * over the stale lock (dead pid) and stops the orphaned postmaster first — and stop cleanly.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { baseEnv, processAlive, processesMentioning, startUp, tempDir } from "./cli-up-kit.ts";
import { freePort } from "./support/net.ts";

test("after a SIGKILLed trace up, the next one on the same home starts (orphaned PostgreSQL stopped) and stops cleanly", async () => {
  const dir = tempDir("up-crash");
  const home = join(dir, "home");
  const env = baseEnv(home, { TMPDIR: dir });
  const args = ["--dispatcher-port", "0", "--query-port", "0", "--workers", "1"];
  const postmaster = () =>
    Number(readFileSync(join(home, "pg", "postmaster.pid"), "utf8").split("\n")[0]);

  const first = startUp(args, env);
  await first.ready();
  const orphan = postmaster();
  assert.notEqual(await first.stop("SIGKILL"), 0);
  assert.ok(processAlive(orphan), "the killed process could not stop its PostgreSQL");
  assert.ok(existsSync(join(home, "up.lock")) && existsSync(join(home, "stack.json")));

  // --no-rpc-check: an unreachable pool is only a warning (named, its endpoint redacted).
  const dead = `http://127.0.0.1:${await freePort()}/key123`;
  const second = startUp([...args, "--no-rpc-check"], { ...env, TRACE_RPC_POOL_DEAD_URL: dead });
  const stack = await second.ready();
  assert.match(
    second.output(),
    /warning: RPC pool "dead" \(TRACE_RPC_POOL_DEAD_URL, endpoint http:\/\/127\.0\.0\.1:\d+\) is unreachable: connection refused/,
  );
  assert.ok(!second.output().includes("key123"));
  assert.equal(stack.pid, second.child.pid);
  assert.equal(processAlive(orphan), false, "the orphaned postmaster was stopped");
  const current = postmaster();
  assert.notEqual(current, orphan);

  assert.equal(await second.stop("SIGINT"), 0, second.output());
  assert.equal(processAlive(current), false);
  assert.deepEqual(processesMentioning(home), []);
  assert.equal(existsSync(join(home, "up.lock")), false);
  assert.equal(existsSync(join(home, "stack.json")), false);
});
