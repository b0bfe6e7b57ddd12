import { setFlagsFromString } from "node:v8";
import { FatalError } from "./errors.ts";

/**
 * How an extracting process trades CPU for memory, from `TRACE_MEMORY`:
 * - `lean` (the default; `default` names it too): V8 collects its old generation once the heap
 *   has doubled since the last full collection (`--heap-growing-percent=100`) instead of letting
 *   it grow up to four times. Since extraction decodes its RPC answers from bytes it makes
 *   little garbage, so the extra full collections are cheap: bench/extract-child.js,
 *   mainnet-sized blocks, three alternated runs each, peak RSS blocks 151–169 → 140–145 MiB,
 *   transactions 215–223 → 210–223, logs 173–196 → 171–177, and client CPU the same or 10–12%
 *   lower (BENCHMARKS.md, extract, entry 14:30–16:55). Before the byte decoders it cost 13–37% more CPU.
 * - `v8`: V8's own sizing of the old generation (the default before; more memory, no faster
 *   now).
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
  if (mode === "lean") flags.push("--heap-growing-percent=100");
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
