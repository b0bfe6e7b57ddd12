import { setFlagsFromString } from "node:v8";
import { FatalError } from "./errors.ts";

/**
 * How an extracting process trades CPU for memory, from `TRACE_MEMORY`:
 * - `default`: fastest; peak RSS as measured in BENCHMARKS.md (extract).
 * - `lean`: V8 collects its old generation sooner (`--heap-growing-percent=100`, i.e. the heap
 *   may grow to twice what survived the last full collection instead of up to four times).
 *   bench/extract.ts, 10,000 mainnet-sized blocks: peak RSS transactions 294 → 224 MiB, logs
 *   232 → 189, for 24–37% (transactions) and 13–15% (logs) more CPU. For small containers, and
 *   where memory costs more than time.
 */
export type MemoryMode = "default" | "lean";

const MODES: readonly MemoryMode[] = ["default", "lean"];

/** TRACE_MEMORY, checked: unset or empty is `default`; anything unknown is a config error. */
export function memoryModeFromEnv(env: NodeJS.ProcessEnv): MemoryMode {
  const value = env.TRACE_MEMORY;
  if (value === undefined || value === "") return "default";
  if ((MODES as readonly string[]).includes(value)) return value as MemoryMode;
  throw new FatalError(
    `invalid TRACE_MEMORY "${value}": expected ${MODES.map((m) => `"${m}"`).join(" or ")}`,
    { category: "config" },
  );
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
