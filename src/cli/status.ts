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
          flags.json ? `${JSON.stringify(name ? jobs[0] : { jobs })}\n` : view(jobs),
        );
        return;
      }
      await watch(fetchJobs, flags);
    });
}

async function fetchStatus(session: AdminSession, name: string | undefined): Promise<JobStatus[]> {
  return name ? [await session.call((c) => c.status(name))] : await session.call((c) => c.list());
}

function view(jobs: JobStatus[]): string {
  return renderStatus(jobs, { width: process.stdout.columns || 80 });
}

/** Done when every job shown is a fixed_target job that completed (follow_head never is). */
function allCompleted(jobs: JobStatus[]): boolean {
  return jobs.length > 0 && jobs.every((j) => j.completed);
}

/**
 * In a terminal the view is redrawn in place; otherwise (a pipe, a log) a timestamped block is
 * printed whenever the view changed, so logs stay readable. JSON prints one line per refresh.
 */
async function watch(fetchJobs: () => Promise<JobStatus[]>, flags: StatusFlags): Promise<void> {
  const tty = process.stdout.isTTY === true && !flags.json;
  let stopped = false;
  let wake: (() => void) | undefined;
  const onSigint = () => {
    stopped = true;
    wake?.();
  };
  process.on("SIGINT", onSigint);
  /** Waits one interval (or until Ctrl-C); true when stopped. */
  const pause = async () => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, flags.interval * 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return stopped;
  };
  let previous = "";
  let seen = false;
  try {
    for (;;) {
      let jobs: JobStatus[];
      try {
        jobs = await fetchJobs();
        seen = true;
      } catch (err) {
        // Once watching, a dispatcher restart or blip is shown and waited out; a first
        // failure (wrong address, token, job) is an error.
        if (!seen || !isRetryable(err)) throw err;
        process.stderr.write(`${new Date().toISOString()} ${(err as Error).message}; retrying\n`);
        if (await pause()) return;
        continue;
      }
      if (flags.json)
        process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), jobs })}\n`);
      else if (tty)
        process.stdout.write(
          `\x1b[H\x1b[2J${view(jobs)}\n(every ${flags.interval}s until completed; Ctrl-C stops)\n`,
        );
      else {
        // Relative ages change every second; compare without them.
        const text = view(jobs);
        const key = text.replace(/\(\d+[smhd][^,)]* ago, /g, "(");
        if (key !== previous) process.stdout.write(`-- ${new Date().toISOString()}\n${text}`);
        previous = key;
      }
      if (allCompleted(jobs) || stopped || (await pause())) return;
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
}
