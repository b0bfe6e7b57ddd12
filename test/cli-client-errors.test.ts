/**
 * Every bad input of the client commands gives its specific message and a non-zero exit code
 * (2 for usage / input errors, 1 for failures of the services), against a real dispatcher and
 * query service (no worker: nothing here needs a sync to run).
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseChainSyncYaml, SpecError } from "../src/core/chain-sync-spec.ts";
import { type CliRun, type CliStack, startCliStack, syncYaml, trace } from "./cli-client-kit.ts";
import { freePort } from "./support/net.ts";

// Nobody listens there (bound, then released).
const closedPort = await freePort();
const cli: CliStack = await startCliStack("cli_client_errors");

/** Runs the cases a few at a time (each is a child process) and checks each one. */
async function expectAll(
  cases: {
    args: string[];
    env?: Record<string, string | undefined>;
    code: number;
    stderr: RegExp | string;
  }[],
): Promise<void> {
  const results: CliRun[] = [];
  for (let i = 0; i < cases.length; i += 4) {
    const batch = cases.slice(i, i + 4);
    results.push(...(await Promise.all(batch.map((c) => trace(cli, c.args, { env: c.env })))));
  }
  cases.forEach((c, i) => {
    const r = results[i] as CliRun;
    const what = `trace ${c.args.join(" ")}: ${r.stderr}`;
    assert.equal(r.code, c.code, what);
    assert.equal(r.stdout, "", what);
    if (typeof c.stderr === "string") assert.equal(r.stderr, c.stderr, what);
    else assert.match(r.stderr, c.stderr, what);
  });
}

test("apply: missing file, directory, invalid YAML, invalid spec, rejected re-apply", async () => {
  const badYaml = cli.writeFile("bad.yaml", "kind: chain_sync\nname: [unclosed\n");
  const badSpec = cli.writeFile(
    "bad-spec.yaml",
    syncYaml({ name: "x", from: 10, to: 5, datasets: ["blocks"] }).replace(
      "chain_id: 31337",
      "chain_id: -1",
    ),
  );
  const dir = join(cli.dir, "a-folder.yaml");
  mkdirSync(dir);
  // The messages are the dispatcher's own validation (the same parser), path and problem.
  const problems = (text: string, path: string) => {
    try {
      parseChainSyncYaml(text, path);
    } catch (err) {
      if (err instanceof SpecError) return err.problems;
    }
    throw new Error("expected a SpecError");
  };
  const specProblems = problems(
    syncYaml({ name: "x", from: 10, to: 5, datasets: ["blocks"] }).replace(
      "chain_id: 31337",
      "chain_id: -1",
    ),
    badSpec,
  );
  assert.ok(specProblems.some((p) => p.startsWith("chain_id: ")));
  await expectAll([
    {
      args: ["apply", join(cli.dir, "missing.yaml")],
      code: 2,
      stderr: `error: cannot read ${join(cli.dir, "missing.yaml")}: no such file\n`,
    },
    {
      args: ["apply", dir],
      code: 2,
      stderr: `error: cannot read ${dir}: it is a directory, not a YAML file\n`,
    },
    {
      args: ["apply", badYaml],
      code: 2,
      stderr: /^error: .*bad\.yaml is not a valid chain_sync spec:\n {2}- line 3, column 1: .+\n$/,
    },
    {
      args: ["apply", badSpec],
      code: 2,
      stderr: `error: ${badSpec} is not a valid chain_sync spec:\n${specProblems.map((p) => `  - ${p}\n`).join("")}`,
    },
    { args: ["apply"], code: 2, stderr: /^error: missing required argument 'file'\n/ },
  ]);

  // Valid locally, refused by the dispatcher: a re-apply may not change the chain.
  const first = cli.writeFile(
    "job.yaml",
    syncYaml({ name: "owned", from: 0, to: 100, datasets: ["logs"] }),
  );
  const applied = await trace(cli, ["apply", first]);
  assert.equal(applied.code, 0, applied.stderr);
  const moved = cli.writeFile(
    "moved.yaml",
    syncYaml({ name: "owned", from: 0, to: 100, datasets: ["logs"] }).replace(
      "chain_id: 31337",
      "chain_id: 10",
    ),
  );
  await expectAll([{ args: ["apply", moved], code: 1, stderr: /^error: .*chain_id.*\n/ }]);
});

test("unreachable, unauthorised or missing services; unknown jobs", async () => {
  const port = new URL(cli.queryUrl).port;
  await expectAll([
    {
      args: ["status"],
      env: { TRACE_ADMIN_TOKEN: "not-the-admin-token" },
      code: 1,
      stderr:
        /^error: the dispatcher at http:\/\/127\.0\.0\.1:\d+ refused the admin token \(invalid admin token\): check TRACE_ADMIN_TOKEN/,
    },
    {
      args: ["pause", "demo"],
      env: { TRACE_DISPATCHER_URL: `http://127.0.0.1:${closedPort}` },
      code: 1,
      stderr:
        /^error: cannot reach the dispatcher at http:\/\/127\.0\.0\.1:\d+: connection refused \(is `trace up` or `trace dispatcher` running\?/,
    },
    {
      args: ["status"],
      env: { TRACE_DISPATCHER_URL: undefined, TRACE_ADMIN_TOKEN: undefined },
      code: 2,
      stderr: `error: no running local stack under ${join(cli.dir, ".trace")}: start one with \`trace up\` (or set TRACE_DISPATCHER_URL and TRACE_ADMIN_TOKEN)\n`,
    },
    {
      args: ["status"],
      env: { TRACE_ADMIN_TOKEN: undefined },
      code: 2,
      stderr: "error: set both TRACE_DISPATCHER_URL and TRACE_ADMIN_TOKEN, or neither\n",
    },
    { args: ["pause", "nope"], code: 1, stderr: "error: chain_sync job not found: nope\n" },
    { args: ["resume", "nope"], code: 1, stderr: "error: chain_sync job not found: nope\n" },
    {
      args: ["status", "--job", "nope"],
      code: 1,
      stderr: "error: chain_sync job not found: nope\n",
    },
    {
      args: ["retry-failed", "00000000-0000-4000-8000-000000000000"],
      code: 1,
      stderr: "error: chain_sync job not found: 00000000-0000-4000-8000-000000000000\n",
    },
    {
      args: ["query", "SELECT 1"],
      code: 2,
      stderr: /^error: no published datasets to query yet: apply a chain_sync job/,
    },
    {
      args: ["query", "SELECT 1"],
      env: { TRACE_ORG_ID: "my-org" },
      code: 2,
      stderr: 'error: the org id must be a lowercase UUID (TRACE_ORG_ID), got "my-org"\n',
    },
    {
      args: ["query", "--format", "xml", "SELECT 1"],
      code: 2,
      stderr: /option '--format <format>' argument 'xml' is invalid/,
    },
    { args: ["query", "  "], code: 2, stderr: "error: the SQL is empty\n" },
    {
      args: ["query", "SELECT 1"],
      env: { TRACE_ORG_ID: undefined },
      code: 2,
      stderr:
        "error: set TRACE_QUERY_URL, TRACE_USER_TOKEN_SECRET and TRACE_ORG_ID together, or none of them\n",
    },
    {
      args: ["devnet", "--host", "0.0.0.0"],
      code: 1,
      stderr:
        "error: trace devnet serves on loopback only (127.0.0.1), not 0.0.0.0: it is a test chain without access control\n",
    },
    {
      args: ["devnet", "--port", port],
      code: 1,
      stderr: `error: port ${port} on 127.0.0.1 is in use: pick another with --port (0 picks a free one)\n`,
    },
    { args: ["devnet", "--port", "70000"], code: 2, stderr: /a port is at most 65535, got 70000/ },
  ]);
});
