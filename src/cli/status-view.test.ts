import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bar, formatDuration, formatRate, renderStatus } from "./status-view.ts";
import { jobStatus, NOW, streamStatus } from "./testing/status-fixtures.ts";

const stream = streamStatus;
const job = jobStatus;

describe("renderStatus", () => {
  test("fixed_target: bar over the target, cursor, counts, rate and ETA", () => {
    const text = renderStatus([job()], { now: NOW, width: 80 });
    const lines = text.trimEnd().split("\n");
    assert.equal(
      lines[0],
      "job demo  fixed_target  active  syncing  chain 31337  blocks [0, 3000)",
    );
    assert.match(lines[1] ?? "", /^ {2}blocks {2}\[#+-+\] {2}33\.3% {2}1000\/3000 blocks$/);
    const barText = /\[([#-]+)\]/.exec(lines[1] ?? "")?.[1] ?? "";
    assert.equal(barText.split("").filter((c) => c === "#").length, Math.round(barText.length / 3));
    assert.equal(lines[2], "          cursor 2000 → target 3000 · 125 blocks/s · ETA 16s");
    assert.equal(lines[3], "          ranges 1 done · 0 failed · 1 in flight");
    for (const l of lines) assert.ok(l.length <= 80, l);
  });

  test("completed and paused jobs say so; done streams show a full bar and ETA done", () => {
    const done = stream({
      cursor: 3000,
      ranges: { scheduled: 0, completed: 3, failed: 0 },
      inflight: 0,
      blocks_completed: 3000,
      eta_seconds: 0,
    });
    const text = renderStatus([job({ completed: true, enabled: false }, [done])], { now: NOW });
    assert.match(text, /^job demo {2}fixed_target {2}paused {2}completed /);
    assert.match(text, /\[#+\] 100\.0% {2}3000\/3000 blocks/);
    assert.match(text, /ETA done/);
  });

  test("failed ranges: count, last error with category, age and message", () => {
    const failing = stream({
      ranges: { scheduled: 0, completed: 2, failed: 1 },
      inflight: 0,
      blocks_completed: 2000,
      eta_seconds: null,
      blocks_per_second: 0,
      last_error: {
        category: "rpc_timeout",
        message: "range [2000, 3000) failed: timed out\nafter 3 attempts",
        at: "2026-01-01T11:58:30.000Z",
      },
    });
    const text = renderStatus([job({}, [failing])], { now: NOW, width: 200 });
    assert.match(text, /ranges 2 done · 1 failed · 0 in flight/);
    assert.match(text, /0 blocks\/s · ETA \?/);
    assert.match(
      text,
      /last error: rpc_timeout \(1m30s ago, 2026-01-01T11:58:30\.000Z\)\n {12}range \[2000, 3000\) failed: timed out after 3 attempts\n/,
    );
    // Narrow terminals: long lines are cut, never wrapped.
    for (const l of renderStatus([job({}, [failing])], { now: NOW, width: 60 }).split("\n"))
      assert.ok(l.length <= 60, l);
  });

  test("follow_head: progress against the head, stale head and blocked reason shown", () => {
    const following = stream({
      cursor: 900,
      target: null,
      observed_head: 999,
      head_stale: true,
      blocks_completed: 500,
      eta_seconds: null,
      blocked: "stale_head_observation",
    });
    const text = renderStatus(
      [job({ mode: "follow_head", to_block: null, tail_lag: 5 }, [following])],
      { now: NOW },
    );
    assert.match(
      text,
      /follow_head {2}active {2}following {2}chain 31337 {2}from block 0, tail lag 5/,
    );
    assert.match(text, /50\.0% {2}500\/1000 blocks/);
    assert.match(text, /cursor 900 → head 999 \(stale\) · 125 blocks\/s\n/);
    assert.doesNotMatch(text, /ETA/);
    assert.match(text, /blocked: stale_head_observation/);
  });

  test("unknown head: no made-up progress", () => {
    const text = renderStatus(
      [
        job({ mode: "follow_head", to_block: null }, [
          stream({ target: null, observed_head: null }),
        ]),
      ],
      { now: NOW },
    );
    assert.match(text, /\[\?+\] {5}\?% {2}1000\/\? blocks/);
    assert.match(text, /head unknown/);
  });

  test("a job-level error not tied to a stream, several jobs, and no jobs at all", () => {
    const text = renderStatus(
      [
        job({
          last_error: {
            category: "rpc_unreachable",
            message: "pool devnet",
            at: "2026-01-01T11:00:00.000Z",
          },
        }),
        job({ name: "other", streams: [] }),
      ],
      { now: NOW, width: 120 },
    );
    assert.match(text, /\n {2}last error: rpc_unreachable \(1h00m ago, [^)]+\)\n {4}pool devnet\n/);
    assert.match(text, /\njob other .*\n {2}\(no streams\)\n$/);
    assert.equal(
      renderStatus([]),
      "no chain_sync jobs yet: apply one with `trace apply <file.yaml>`\n",
    );
  });

  test("helpers", () => {
    assert.equal(bar(0.5, 10), "[#####-----]");
    assert.equal(bar(0, 4), "[----]");
    assert.equal(bar(null, 3), "[???]");
    assert.equal(formatRate(0), "0 blocks/s");
    assert.equal(formatRate(2.5), "2.50 blocks/s");
    assert.equal(formatRate(1234), "1.2k blocks/s");
    assert.equal(formatDuration(59), "59s");
    assert.equal(formatDuration(3725), "1h02m");
    assert.equal(formatDuration(200_000), "2d07h");
  });
});

test("a long error message wraps onto at most two lines, cut with an ellipsis", () => {
  const long = stream({
    last_error: { category: "fatal_rpc", message: "m".repeat(500), at: NOW.toISOString() },
  });
  const lines = renderStatus([job({}, [long])], { now: NOW, width: 60 })
    .trimEnd()
    .split("\n");
  const at = lines.findIndex((l) => l.includes("last error: fatal_rpc (0s ago"));
  assert.ok(at > 0);
  assert.equal(lines.length, at + 3);
  assert.ok(lines.at(-1)?.endsWith("…"));
  for (const l of lines) assert.ok(l.length <= 60, l);
});
