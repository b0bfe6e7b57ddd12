import { setFlagsFromString } from "node:v8";
import { FatalError } from "./errors.ts";

/**
 * How an extracting process trades CPU for memory, from `TRACE_MEMORY`:
 * - `lean` (the default; `default` names it too): V8 collects its old generation once the heap
 *   has grown by half since the last full collection (`--heap-growing-percent=50`) instead of
 *   letting it grow up to four times. Since extraction decodes its RPC answers from bytes it
 *   makes little garbage, so the extra full collections cost some CPU, not much. Why half and not
 *   double (the setting before): with double, a blocks run's old space kept growing for its
 *   first ~30 s (19 → 31 MB, sampled every 2 s), so a long run peaked higher than a short one. In
 *   alternated bench/extract-child.js runs, mainnet-sized blocks (BENCHMARKS.md, extract, entry
 *   21:18–23:00), double → half: blocks over 100,000 (one run each) peak 142 → 126 MiB (at
 *   the 10,000th block 128 → 126), transactions over 10,000 204, 206 → 193, 193, logs 179,
 *   174, 178, 189, 167 → 172, 167, 160, 166, 166; client CPU +5% (blocks), +11–12%
 *   (transactions), −1 to +13% (logs; +38% in a fifth pair).
 *   Double itself had cut peaks by up to 27 MiB against V8's sizing at the same or lower CPU
 *   (entry 14:30–16:55).
 * - `v8`: V8's own sizing of the old generation (more memory; against `lean` at half not
 *   measured).
 */
export type MemoryMode = "lean" | "v8";

const NAMES: Readonly<Record<string, MemoryMode>> = { lean: "lean", default: "lean", v8: "v8" };

/** TRACE_MEMORY, checked: unset or empty is `lean`; anything unknown is a config error. */
export function memoryModeFromEnv(env: NodeJS.ProcessEnv): MemoryMode {
  const value = env.TRACE_MEMORY;
  if (value === undefined || value === "") return "lean";
  const mode = Object.hasOwn(NAMES, value) ? NAMES[value] : undefined;
  if (mode) return mode;
  throw new FatalError(`invalid TRACE_MEMORY "${value}": expected "lean" (the default) or "v8"`, {
    category: "config",
  });
}

/** The V8 flags a mode sets; both are read by V8 each time it sizes a space, so they take
 * effect when set at run time (unlike `--max-semi-space-size` / `--max-old-space-size`). */
export function memoryFlags(mode: MemoryMode): string[] {
  // Always: keep the young generation from growing (it stays at the few MiB it has; V8 would
  // otherwise grow it to 16 MiB per semi-space, 32 MiB in all). Extraction parses megabytes of
  // JSON per RPC batch and turns it into column buffers at once, so much of it survives a
  // scavenge or two; V8 reads that as a reason to grow the young generation, which then mostly
  // holds garbage. bench/extract.ts, 3,000 blocks of transactions: peak RSS 318 → 269 MiB for
  // ~4% more CPU (more, smaller scavenges).
  const flags = ["--semi-space-growth-factor=1"];
  if (mode === "lean") flags.push("--heap-growing-percent=50");
  return flags;
}

/**
 * Sets the V8 flags of an extracting process (`trace extract`, `trace worker`, `trace up`,
 * `trace demo`) for the TRACE_MEMORY mode; returns the mode. Throws a config FatalError for an
 * unknown mode, before anything is set.
 */
export function configureExtractionMemory(env: NodeJS.ProcessEnv = process.env): MemoryMode {
  const mode = memoryModeFromEnv(env);
  for (const flag of memoryFlags(mode)) setFlagsFromString(flag);
  return mode;
}
