/**
 * `trace devnet` as a child process: it prints its URL and the env line for an RPC pool, answers
 * JSON-RPC as the synthetic chain with the parameters given, and Ctrl-C (SIGINT) stops it cleanly.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { SyntheticChain } from "../src/devnet/chain.ts";

const BIN = join(import.meta.dirname, "..", "bin", "trace.js");

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

test("trace devnet serves the chain on loopback until SIGINT", async () => {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "devnet",
      "--port",
      "0",
      "--seed",
      "cli",
      "--length",
      "50",
      "--chain-id",
      "777",
      "--pool",
      "lab",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "" } },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  try {
    const deadline = Date.now() + 60_000;
    while (!stdout.includes("Ctrl-C stops it") && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    const url = /at (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout)?.[1];
    assert.ok(url, `${stdout}${stderr}`);
    assert.match(stdout, /^devnet: chain 777, blocks 0\.\.49, at http:\/\/127\.0\.0\.1:\d+\n/);
    assert.ok(stdout.includes(`\n  export TRACE_RPC_POOL_LAB_URL=${url}\n`), stdout);

    const expected = new SyntheticChain({ seed: "cli", length: 50, chainId: 777 });
    assert.equal(await rpc(url, "eth_chainId"), "0x309");
    assert.equal(await rpc(url, "eth_blockNumber"), "0x31");
    const block = (await rpc(url, "eth_getBlockByNumber", ["0x7", false])) as { hash: string };
    assert.equal(block.hash, expected.blockHash(7));
  } finally {
    child.kill("SIGINT");
  }
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /devnet stopped\n$/);
});
