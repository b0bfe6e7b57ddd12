import { FatalError } from "../core/errors.ts";
import { validatePrefix } from "./keys.ts";
import type { IncompleteUpload, ObjectStore } from "./object-store.ts";

export const DEFAULT_STALE_TTL_HOURS = 24;

/** TRACE_SINK_STALE_TTL_HOURS (default 24; fractions allowed) in milliseconds. */
export function staleTtlMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TRACE_SINK_STALE_TTL_HOURS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_STALE_TTL_HOURS * 3_600_000;
  const v = raw.trim();
  const hours = Number(v);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || !Number.isFinite(hours))
    throw new FatalError(
      `TRACE_SINK_STALE_TTL_HOURS must be a non-negative number of hours, got ${JSON.stringify(raw)}`,
      {
        category: "invalid_config",
      },
    );
  return Math.round(hours * 3_600_000);
}

export interface CleanupReport {
  /** Unfinished uploads (multipart uploads / temp files) that were aborted. */
  aborted: IncompleteUpload[];
  /** Unfinished uploads younger than the TTL, left alone (another worker may own them). */
  kept: number;
  failed: { item: IncompleteUpload; error: unknown }[];
}

/**
 * Crash cleanup, run by workers on start: aborts unfinished multipart uploads and removes temp
 * files under `prefix` that are older than the TTL. Younger ones may belong to a live worker
 * and are kept. Complete objects are never touched: without a registered version and manifest
 * they are invisible to readers, and a retry overwrites them with the same bytes.
 */
export async function cleanupStale(
  store: ObjectStore,
  opts: { prefix: string; olderThanMs?: number; now?: Date; env?: NodeJS.ProcessEnv },
): Promise<CleanupReport> {
  const prefix = validatePrefix(opts.prefix);
  const olderThanMs = opts.olderThanMs ?? staleTtlMsFromEnv(opts.env);
  if (!Number.isFinite(olderThanMs) || olderThanMs < 0)
    throw new FatalError(`olderThanMs must be >= 0, got ${olderThanMs}`, {
      category: "invalid_config",
    });
  const cutoff = (opts.now ?? new Date()).getTime() - olderThanMs;
  const report: CleanupReport = { aborted: [], kept: 0, failed: [] };
  for (const item of await store.listIncomplete(prefix)) {
    if (item.initiated.getTime() > cutoff) {
      report.kept++;
      continue;
    }
    try {
      await store.abortIncomplete(item);
      report.aborted.push(item);
    } catch (error) {
      report.failed.push({ item, error });
    }
  }
  return report;
}
