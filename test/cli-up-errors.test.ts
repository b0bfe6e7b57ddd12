/**
 * Bad input to `trace up` and the per-service commands: each gives its specific message and a
 * non-zero exit code, fails before starting anything heavy, and never echoes a secret.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { baseEnv, processesMentioning, tempDir, trace } from "./cli-up-kit.ts";

const dir = tempDir("up-errors");

async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => server.close());
  const address = server.address();
  assert.ok(address && typeof address === "object");
  return { port: address.port, server };
}

test("trace up on a port in use names the port and how to choose another", async () => {
  const { port } = await occupiedPort();
  const home = join(dir, "port");
  const d = await trace(
    ["up", "--dispatcher-port", String(port), "--query-port", "0"],
    baseEnv(home),
  );
  assert.equal(d.code, 1, d.stderr);
  assert.match(
    d.stderr,
    new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(dispatcher\\) is already in use`),
  );
  assert.match(d.stderr, /--dispatcher-port <port> or TRACE_DISPATCHER_PORT/);

  const q = await trace(
    ["up", "--dispatcher-port", "0"],
    baseEnv(home, { TRACE_QUERY_PORT: String(port) }),
  );
  assert.equal(q.code, 1, q.stderr);
  assert.match(
    q.stderr,
    new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(query service\\) is already in use`),
  );
  assert.match(q.stderr, /--query-port <port> or TRACE_QUERY_PORT/);
  // Nothing was started for it.
  assert.deepEqual(processesMentioning(home), []);
});

test("trace up with invalid port, fetch-window or RPC pool settings is a usage error", async () => {
  const home = join(dir, "badport");
  const flag = await trace(["up", "--dispatcher-port", "70000"], baseEnv(home));
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /not a TCP port: "70000"/);
  const env = await trace(["up"], baseEnv(home, { TRACE_QUERY_PORT: "http" }));
  assert.equal(env.code, 2);
  assert.match(env.stderr, /TRACE_QUERY_PORT: expected a non-negative integer, got "http"/);
  const win = await trace(["up"], baseEnv(home, { TRACE_MAX_BLOCKS_IN_FLIGHT: "0" }));
  assert.equal(win.code, 2);
  assert.match(win.stderr, /TRACE_MAX_BLOCKS_IN_FLIGHT: expected a positive integer, got "0"/);
  const pool = await trace(["up"], baseEnv(home, { TRACE_RPC_POOL_MAIN_BATCH_SIZE: "0" }));
  assert.equal(pool.code, 2);
  assert.match(pool.stderr, /TRACE_RPC_POOL_MAIN_BATCH_SIZE must be an integer from 1 to 10000/);
  assert.deepEqual(processesMentioning(home), []);
});

// Node's own recursive mkdir spins forever under /proc (see src/core/dirs.ts).
test("trace up with a home that cannot be created fails at once, naming it", {
  skip: existsSync("/proc/self") ? false : "no procfs",
}, async () => {
  const r = await trace(
    ["up", "--home", "/proc/trace-no-such/home", "--dispatcher-port", "0", "--query-port", "0"],
    baseEnv(join(dir, "procfs")),
    60_000,
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot create a directory here .*mkdir '\/proc\/trace-no-such'/);
});

test("trace up refuses an unreachable RPC pool, naming the pool but not the URL's secrets", async () => {
  const { port, server } = await occupiedPort();
  server.close(); // a port nobody listens on any more: connection refused
  const home = join(dir, "rpc");
  const url = `http://user:hunter2@127.0.0.1:${port}/v3/SECRETKEY?apikey=topsecret`;
  const r = await trace(
    ["up", "--dispatcher-port", "0", "--query-port", "0"],
    baseEnv(home, { TRACE_RPC_POOL_ARCHIVE_URL: url }),
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `RPC pool "archive" \\(TRACE_RPC_POOL_ARCHIVE_URL, endpoint http://127\\.0\\.0\\.1:${port}\\) is unreachable: connection refused`,
    ),
  );
  assert.match(r.stderr, /--no-rpc-check/);
  for (const secret of ["hunter2", "SECRETKEY", "topsecret", "user:"])
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), `${secret} not echoed`);
  assert.deepEqual(processesMentioning(home), []);
});
