import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobStatus } from "../chain-sync/status.ts";
import { FatalError, RetryableError } from "../core/errors.ts";
import { watchStatus } from "./status.ts";
import { jobStatus, NOW, streamStatus } from "./testing/status-fixtures.ts";

/** The job at `cursor` of a 200-block target, in ranges of 100 (completed at 200). */
function job(completed: boolean, cursor: number): JobStatus {
  return jobStatus({ to_block: 200, completed }, [
    streamStatus({
      chunk_size: 100,
      max_inflight: 1,
      cursor,
      target: 200,
      ranges: {
        scheduled: completed ? 0 : 1,
        completed: cursor / 100 - (completed ? 0 : 1),
        failed: 0,
      },
      inflight: completed ? 0 : 1,
      blocks_completed: completed ? cursor : cursor - 100,
      blocks_per_second: 1,
      eta_seconds: completed ? 0 : 200 - cursor + 100,
    }),
  ]);
}

/** Answers the given sequence (values or errors to throw), then the last one forever. */
function answers(seq: (JobStatus[] | Error)[]): {
  fetchJobs: () => Promise<JobStatus[]>;
  calls: () => number;
} {
  let i = 0;
  return {
    calls: () => i,
    fetchJobs: async () => {
      const a = seq[Math.min(i++, seq.length - 1)] as JobStatus[] | Error;
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

function sink(isTTY: boolean) {
  let text = "";
  const write = (t: string) => {
    text += t;
  };
  return { isTTY, columns: 80, write, text: () => text };
}

describe("watchStatus", () => {
  test("terminal: redraws in place each refresh and stops once completed", async () => {
    const src = answers([[job(false, 100)], [job(false, 200)], [job(true, 200)]]);
    const out = sink(true);
    await watchStatus({ ...src, out, err: sink(false), intervalSeconds: 0.01, now: () => NOW });
    assert.equal(src.calls(), 3);
    const frames = out.text().split("\x1b[H\x1b[2J").slice(1);
    assert.equal(frames.length, 3);
    assert.match(frames[0] ?? "", /syncing[\s\S]*0\/200 blocks[\s\S]*Ctrl-C stops\)\n$/);
    assert.match(frames[2] ?? "", /completed[\s\S]*\[#+\] 100\.0% {2}200\/200 blocks/);
  });

  test("not a terminal: a timestamped block only when the view changed", async () => {
    const src = answers([[job(false, 100)], [job(false, 100)], [job(true, 200)]]);
    const out = sink(false);
    await watchStatus({ ...src, out, err: sink(false), intervalSeconds: 0.01, now: () => NOW });
    assert.equal(src.calls(), 3);
    assert.ok(!out.text().includes("\x1b"), "no terminal control sequences");
    const blocks = out.text().split(/^-- 2026-01-01T12:00:00\.000Z\n/m);
    assert.equal(blocks.length, 3, out.text());
  });

  test("json: one line per refresh", async () => {
    const src = answers([[job(false, 100)], [job(true, 200)]]);
    const out = sink(true);
    await watchStatus({
      ...src,
      out,
      err: sink(false),
      intervalSeconds: 0.01,
      json: true,
      now: () => NOW,
    });
    const lines = out
      .text()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.at, l.jobs[0].completed]),
      [
        [NOW.toISOString(), false],
        [NOW.toISOString(), true],
      ],
    );
  });

  test("a retryable failure after the first refresh is shown and waited out; a first failure is thrown", async () => {
    const blip = new RetryableError("cannot reach the dispatcher: connection refused", {
      category: "unreachable",
    });
    const src = answers([[job(false, 100)], blip, [job(true, 200)]]);
    const err = sink(false);
    await watchStatus({ ...src, out: sink(false), err, intervalSeconds: 0.01, now: () => NOW });
    assert.equal(
      err.text(),
      `${NOW.toISOString()} cannot reach the dispatcher: connection refused; retrying\n`,
    );

    await assert.rejects(
      watchStatus({
        ...answers([blip]),
        out: sink(false),
        err: sink(false),
        intervalSeconds: 0.01,
      }),
      /connection refused/,
    );
    const fatal = new FatalError("refused the admin token", { category: "unauthorized" });
    await assert.rejects(
      watchStatus({
        ...answers([[job(false, 100)], fatal]),
        out: sink(false),
        err: sink(false),
        intervalSeconds: 0.01,
      }),
      /refused the admin token/,
    );
  });

  test("Ctrl-C (abort) ends a watch that would never complete", async () => {
    const stop = new AbortController();
    const src = answers([[job(false, 100)]]);
    const watching = watchStatus({
      ...src,
      out: sink(false),
      err: sink(false),
      intervalSeconds: 3600,
      signal: stop.signal,
    });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    await watching;
    assert.equal(src.calls(), 1);
  });
});
