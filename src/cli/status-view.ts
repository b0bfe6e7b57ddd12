import type { JobStatus, LastError, StreamStatus } from "../chain-sync/status.ts";

/**
 * `trace status` as text: one block per job, one per stream, no colour (it is also what goes
 * into logs and non-TTY output). Pure: the clock and the width come in as options so the view
 * can be tested exactly.
 *
 *   job demo  fixed_target  active  syncing  chain 31337  blocks [0, 3000)
 *     blocks        [########----------------]  33.3%  1000/3000 blocks
 *                   cursor 2000 → target 3000 · 120 blocks/s · ETA 17s
 *                   ranges 1 done · 0 failed · 1 in flight
 */
export interface RenderStatusOptions {
  /** "Now" for relative times (default: the current time). */
  now?: Date;
  /** Terminal width the lines should fit (default 80). */
  width?: number;
}

export function renderStatus(jobs: JobStatus[], options: RenderStatusOptions = {}): string {
  const now = options.now ?? new Date();
  const width = Math.max(40, options.width ?? 80);
  if (jobs.length === 0)
    return "no chain_sync jobs yet: apply one with `trace apply <file.yaml>`\n";
  return `${jobs.map((j) => renderJob(j, now, width)).join("\n")}`;
}

function renderJob(job: JobStatus, now: Date, width: number): string {
  const range =
    job.mode === "fixed_target"
      ? `blocks [${job.from_block}, ${job.to_block ?? "?"})`
      : `from block ${job.from_block}, tail lag ${job.tail_lag ?? 0}`;
  const state = job.mode === "follow_head" ? "following" : job.completed ? "completed" : "syncing";
  const head = `job ${job.name}  ${job.mode}  ${job.enabled ? "active" : "paused"}  ${state}`;
  const where = `chain ${job.chain_id}  ${range}`;
  // One line when it fits, else the chain and range go on their own line.
  const lines =
    head.length + 2 + where.length <= width ? [`${head}  ${where}`] : [head, `  ${where}`];
  if (job.streams.length === 0) lines.push("  (no streams)");
  const keyWidth = Math.min(24, Math.max(...job.streams.map((s) => s.dataset_key.length), 4));
  for (const s of job.streams) lines.push(...renderStream(job, s, now, width, keyWidth));
  if (job.last_error && !job.streams.some((s) => sameError(s.last_error, job.last_error)))
    lines.push(...describeLastError(job.last_error, now, "  ", width));
  return `${lines.map((l) => fit(l, width)).join("\n")}\n`;
}

/** Blocks the progress bar measures against: the target, or for follow_head the head. */
export function streamGoal(job: JobStatus, s: StreamStatus): number | null {
  if (job.mode === "fixed_target") return job.to_block;
  if (s.target !== null) return s.target;
  return s.observed_head === null ? null : s.observed_head + 1;
}

function renderStream(
  job: JobStatus,
  s: StreamStatus,
  now: Date,
  width: number,
  keyWidth: number,
): string[] {
  const goal = streamGoal(job, s);
  const total = goal === null ? null : Math.max(0, goal - job.from_block);
  const done = s.blocks_completed;
  const fraction = total === null ? null : total === 0 ? 1 : Math.min(1, done / total);
  const indent = " ".repeat(keyWidth + 4);
  const pct = fraction === null ? "    ?%" : `${(fraction * 100).toFixed(1).padStart(5)}%`;
  const count = `${done}/${total ?? "?"} blocks`;
  // Whatever the width leaves after the key, percentage and count (at least 10 cells).
  const barWidth = Math.max(10, Math.min(40, width - keyWidth - count.length - 16));
  const first = `  ${s.dataset_key.padEnd(keyWidth)}  ${bar(fraction, barWidth)} ${pct}  ${count}`;

  const where =
    job.mode === "fixed_target"
      ? `cursor ${s.cursor} → target ${goal ?? "?"}`
      : `cursor ${s.cursor} → head ${s.observed_head ?? "unknown"}${s.head_stale ? " (stale)" : ""}`;
  const eta =
    job.mode === "follow_head"
      ? ""
      : s.eta_seconds === 0 && s.inflight === 0 && s.ranges.failed === 0
        ? " · ETA done"
        : s.eta_seconds === null || s.eta_seconds === 0
          ? " · ETA ?"
          : ` · ETA ${formatDuration(s.eta_seconds)}`;
  const second = `${indent}${where} · ${formatRate(s.blocks_per_second)}${eta}`;
  const third = `${indent}ranges ${s.ranges.completed} done · ${s.ranges.failed} failed · ${s.inflight} in flight`;

  const lines = [first, second, third];
  if (!s.active) lines.push(`${indent}inactive (removed from the YAML): nothing new is planned`);
  if (s.blocked) lines.push(`${indent}blocked: ${s.blocked}`);
  if (s.last_error) lines.push(...describeLastError(s.last_error, now, indent, width));
  return lines;
}

export function bar(fraction: number | null, width: number): string {
  if (fraction === null) return `[${"?".repeat(width)}]`;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

export function formatRate(blocksPerSecond: number): string {
  if (!(blocksPerSecond > 0)) return "0 blocks/s";
  if (blocksPerSecond >= 10_000) return `${(blocksPerSecond / 1000).toFixed(0)}k blocks/s`;
  if (blocksPerSecond >= 1000) return `${(blocksPerSecond / 1000).toFixed(1)}k blocks/s`;
  if (blocksPerSecond >= 10) return `${blocksPerSecond.toFixed(0)} blocks/s`;
  return `${blocksPerSecond.toFixed(2)} blocks/s`;
}

export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

/** Category and time on one line, the message wrapped below it (at most two lines). */
function describeLastError(e: LastError, now: Date, indent: string, width: number): string[] {
  const ago = (now.getTime() - Date.parse(e.at)) / 1000;
  const when = Number.isFinite(ago) ? `${formatDuration(Math.max(0, ago))} ago, ${e.at}` : e.at;
  const lines = [`${indent}last error: ${e.category} (${when})`];
  const message = e.message.replace(/\s+/g, " ").trim();
  const room = Math.max(20, width - indent.length - 2);
  for (let i = 0; i < message.length && lines.length < 3; i += room) {
    const last = lines.length === 2 && i + room < message.length;
    const chunk = message.slice(i, i + room);
    lines.push(`${indent}  ${last ? `${chunk.slice(0, -1)}…` : chunk}`);
  }
  return lines;
}

function sameError(a: LastError | null, b: LastError | null): boolean {
  return a !== null && b !== null && a.category === b.category && a.at === b.at;
}

/** Long lines (error messages) are cut to the width, so a redraw keeps its line count. */
function fit(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}
