/**
 * The cli fallback (TRACE_CRYO_MODE=cli) with a stand-in `cryo` that writes real Parquet named
 * like cryo's: the exact argv of trace-rust §4, a private 0700 staging dir, caps before upload,
 * upload through the same ArtifactSink, exit-code classification with cryo's error text, and no
 * staging dir left behind on success or failure.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { getTask } from "../src/state/index.ts";
import {
  enqueueRanges,
  manifestAndListing,
  type Stack,
  startStack,
  versionsOf,
} from "../src/worker/testing/stack.ts";

const root = join(import.meta.dirname, "..");
const stack: Stack = await startStack({ label: "worker_cli" });
const dir = mkdtempSync(join(tmpdir(), "trace-worker-cli-"));
const stagingRoot = join(dir, "staging");
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a `cryo` wrapper script with its behaviour baked in (cryo gets none of our env). */
type Mode = "ok" | "exit1" | "exit2" | "hang" | "empty";
function standIn(mode: Mode): { bin: string; log: string } {
  const bin = join(dir, `cryo-${mode}`);
  const log = join(dir, `argv-${mode}.json`);
  const loader = join(root, "node_modules", "tsx", "dist", "loader.mjs");
  const script = join(root, "src", "worker", "testing", "standin-cryo.ts");
  writeFileSync(
    bin,
    `#!/bin/sh\nexec "${process.execPath}" --import "file://${loader}" "${script}" ${mode} "${log}" -- "$@"\n`,
  );
  chmodSync(bin, 0o755);
  return { bin, log };
}

function stagingLeft(): string[] {
  try {
    return readdirSync(stagingRoot, { recursive: true }).map(String);
  } catch {
    return [];
  }
}

async function runCli(mode: Mode, range: [number, number], caps = {}, timeoutMs?: number) {
  const { bin, log } = standIn(mode);
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: range[0],
    to: range[1],
    size: range[1] - range[0],
  });
  const w = stack.worker({ mode: "cli", cryo: { bin, stagingRoot, timeoutMs }, caps });
  const result = await w.runTask(r!.taskId);
  const task = await getTask(stack.sql, r!.taskId);
  const prefix = `cryo/31337/${r!.payload.dataset_uuid}/`;
  return { r: r!, result, task, log, prefix };
}

test("success: exact argv, private staging dir, uploads cryo's Parquet (not .cryo/ or symlinks), identical to in-process", async () => {
  const { r, result, task, log } = await runCli("ok", [100, 150]);
  assert.equal(
    result.kind === "completed" && result.outcome,
    "success",
    task?.last_error_message ?? "",
  );
  const seen = JSON.parse(readFileSync(log, "utf8")) as {
    argv: string[];
    mode: number;
    env: string[];
  };
  const staging = join(stagingRoot, r.taskId, "1");
  assert.deepEqual(seen.argv, [
    "blocks",
    "--rpc",
    stack.devnet.url,
    "--blocks",
    "100:150",
    "--output-dir",
    staging,
  ]);
  assert.equal(seen.mode, 0o700);
  // None of the worker's secrets reach cryo.
  for (const k of seen.env) assert.ok(!/AWS_|TRACE_|DATABASE/.test(k), `${k} leaked to cryo`);
  assert.deepEqual(stagingLeft(), []);

  const [v] = await versionsOf(stack.sql, [r]);
  const { read, listed, prefix } = await manifestAndListing(stack, v!);
  assert.deepEqual(
    read.objects.map((o) => o.name),
    ["network_31337__blocks__00000100_to_00000149.parquet"],
  );
  assert.deepEqual(
    listed.map((o) => o.key.slice(prefix.length)),
    ["_manifest.json", "network_31337__blocks__00000100_to_00000149.parquet"],
  );
  // The same range extracted in-process gives the same bytes.
  const [inproc] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: 100,
    to: 150,
    size: 50,
  });
  const ok = await stack.worker().runTask(inproc!.taskId);
  assert.equal(ok.kind === "completed" && ok.outcome, "success");
  const [v2] = await versionsOf(stack.sql, [inproc!]);
  const m2 = await manifestAndListing(stack, v2!);
  assert.equal(m2.read.objects[0]!.sha256, read.objects[0]!.sha256);
});

test("exit code 2 is fatal with cryo's stdout as the error; nothing published; staging removed", async () => {
  const { result, task, prefix } = await runCli("exit2", [200, 210]);
  assert.equal(result.kind === "completed" && result.outcome, "fatal_error");
  assert.equal(task?.status, "failed");
  assert.equal(task?.last_error_category, "cryo_usage");
  assert.match(task?.last_error_message ?? "", /unknown dataset blocks/);
  assert.deepEqual(await stack.store.list(prefix), []);
  assert.deepEqual(stagingLeft(), []);
});

test("another non-zero exit is retryable with stdout and stderr as the error; staging removed", async () => {
  const { result, task, prefix } = await runCli("exit1", [300, 310]);
  assert.equal(result.kind === "completed" && result.outcome, "retryable_error");
  assert.equal(task?.last_error_category, "cryo_failed");
  assert.match(task?.last_error_message ?? "", /collecting blocks/);
  assert.match(task?.last_error_message ?? "", /503 Service Unavailable/);
  assert.equal(task?.attempt, 2, "the dispatcher scheduled a retry");
  assert.deepEqual(await stack.store.list(prefix), []);
  assert.deepEqual(stagingLeft(), []);
});

test("caps are enforced on the staged files before any upload: fatal, nothing uploaded, staging removed", async () => {
  const { result, task, prefix } = await runCli("ok", [400, 450], { maxBytesPerFile: 100 });
  assert.equal(result.kind === "completed" && result.outcome, "fatal_error");
  assert.equal(task?.status, "failed");
  assert.equal(task?.last_error_category, "cap_exceeded");
  assert.deepEqual(await stack.store.list(prefix), []);
  assert.deepEqual(await stack.store.listIncomplete(prefix), []);
  assert.deepEqual(stagingLeft(), []);
});

test("no Parquet output is fatal; a cryo past its timeout is killed and retryable; staging removed", async () => {
  const empty = await runCli("empty", [600, 610]);
  assert.equal(empty.result.kind === "completed" && empty.result.outcome, "fatal_error");
  assert.equal(empty.task?.last_error_category, "no_output");
  assert.deepEqual(await stack.store.list(empty.prefix), []);
  assert.deepEqual(stagingLeft(), []);

  const hung = await runCli("hang", [700, 710], {}, 500);
  assert.equal(hung.result.kind === "completed" && hung.result.outcome, "retryable_error");
  assert.equal(hung.task?.last_error_category, "cryo_timeout");
  assert.equal(hung.task?.attempt, 2, "the dispatcher scheduled a retry");
  assert.deepEqual(await stack.store.list(hung.prefix), []);
  assert.deepEqual(stagingLeft(), []);
});

test("a missing cryo binary is fatal", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: 500,
    to: 510,
    size: 10,
  });
  const w = stack.worker({ mode: "cli", cryo: { bin: join(dir, "no-such-cryo"), stagingRoot } });
  const result = await w.runTask(r!.taskId);
  assert.equal(result.kind === "completed" && result.outcome, "fatal_error");
  assert.equal((await getTask(stack.sql, r!.taskId))?.last_error_category, "cryo_not_found");
  assert.deepEqual(stagingLeft(), []);
});

test("startup removes staging dirs older than the TTL and keeps younger ones", async () => {
  const stale = join(stagingRoot, randomUUID(), "1");
  const fresh = join(stagingRoot, randomUUID(), "2");
  for (const d of [stale, fresh]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    writeFileSync(join(d, "network_31337__blocks__00000000_to_00000009.parquet"), "x");
  }
  const old = new Date(Date.now() - 3 * 3_600_000);
  utimesSync(stale, old, old);
  const w = stack.worker({ mode: "cli", cryo: { stagingRoot, stagingTtlMs: 3_600_000 } });
  const report = await w.start();
  await w.stop({ deadlineMs: 1_000 });
  assert.equal(report.stagingRemoved, 1);
  assert.deepEqual(
    stagingLeft().filter((p) => p.endsWith(".parquet")),
    [
      join(
        fresh.slice(stagingRoot.length + 1),
        "network_31337__blocks__00000000_to_00000009.parquet",
      ),
    ],
  );
  rmSync(join(fresh, ".."), { recursive: true, force: true });
});
