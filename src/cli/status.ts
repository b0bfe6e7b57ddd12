import type { Command } from "commander";
import type { JobStatus } from "../chain-sync/status.ts";
import { isRetryable } from "../core/errors.ts";
import { type AdminSession, adminSession, resolveJobName } from "./admin.ts";
import { renderStatus } from "./status-view.ts";
import { parsePositive } from "./usage.ts";

interface StatusFlags {
  job?: string;
  watch?: boolean;
  json?: boolean;
  interval: number;
}

/** `trace status [--job <name|id>] [--watch] [--json]`. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description(
      "progress of chain_sync jobs: per stream blocks done, cursor, ranges, rate, ETA, last error",
    )
    .option("--job <name|id>", "only this job")
    .option("--watch", "keep refreshing until the job(s) complete (Ctrl-C stops)")
    .option("--json", "the dispatcher's status as JSON (one line per refresh with --watch)")
    .option("--interval <seconds>", "refresh interval of --watch", parsePositive, 1)
    .action(async (flags: StatusFlags) => {
      const session = adminSession();
      const name = flags.job ? await resolveJobName(session, flags.job) : undefined;
      const fetchJobs = () => fetchStatus(session, name);
      if (!flags.watch) {
        const jobs = await fetchJobs();
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(name ? jobs[0] : { jobs })}\n`
            : renderStatus(jobs, { width: process.stdout.columns || 80 }),
        );
        return;
      }
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.on("SIGINT", onSigint);
      try {
        await watchStatus({
          fetchJobs,
          out: process.stdout,
          err: process.stderr,
          intervalSeconds: flags.interval,
          json: flags.json,
          signal: stop.signal,
        });
      } finally {
        process.off("SIGINT", onSigint);
      }
    });
}

async function fetchStatus(session: AdminSession, name: string | undefined): Promise<JobStatus[]> {
  return name ? [await session.call((c) => c.status(name))] : await session.call((c) => c.list());
}

/** Done when every job shown is a fixed_target job that completed (follow_head never is). */
function allCompleted(jobs: JobStatus[]): boolean {
  return jobs.length > 0 && jobs.every((j) => j.completed);
}

export interface WatchOptions {
  fetchJobs: () => Promise<JobStatus[]>;
  out: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  err: { write(text: string): unknown };
  intervalSeconds: number;
  json?: boolean;
  /** Ctrl-C: ends the watch after the current refresh. */
  signal?: AbortSignal;
  now?: () => Date;
}

/**
 * Refreshes until every job shown completed or `signal` aborts. In a terminal the view is
 * redrawn in place; otherwise (a pipe, a log) a timestamped block is printed whenever the view
 * changed, so logs stay readable. JSON prints one line per refresh.
 */
export async function watchStatus(o: WatchOptions): Promise<void> {
  const tty = o.out.isTTY === true && !o.json;
  const now = o.now ?? (() => new Date());
  const render = (jobs: JobStatus[]) =>
    renderStatus(jobs, { now: now(), width: o.out.columns || 80 });
  /** Waits one interval (or until aborted); true when aborted. */
  const pause = async () => {
    if (o.signal?.aborted) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        o.signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, o.intervalSeconds * 1000);
      o.signal?.addEventListener("abort", done);
    });
    return o.signal?.aborted === true;
  };
  let previous = "";
  let seen = false;
  for (;;) {
    let jobs: JobStatus[];
    try {
      jobs = await o.fetchJobs();
      seen = true;
    } catch (err) {
      // Once watching, a dispatcher restart or blip is shown and waited out; a first failure
      // (wrong address, token, job) is an error.
      if (!seen || !isRetryable(err)) throw err;
      o.err.write(`${now().toISOString()} ${(err as Error).message}; retrying\n`);
      if (await pause()) return;
      continue;
    }
    if (o.json) o.out.write(`${JSON.stringify({ at: now().toISOString(), jobs })}\n`);
    else if (tty)
      o.out.write(
        `\x1b[H\x1b[2J${render(jobs)}\n(every ${o.intervalSeconds}s until completed; Ctrl-C stops)\n`,
      );
    else {
      // Relative ages change every second; compare without them.
      const text = render(jobs);
      const key = text.replace(/\(\d+[smhd][^,)]* ago, /g, "(");
      if (key !== previous) o.out.write(`-- ${now().toISOString()}\n${text}`);
      previous = key;
    }
    if (allCompleted(jobs) || (await pause())) return;
  }
}
