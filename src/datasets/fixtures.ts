import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/**
 * Read-only access to the recorded mainnet JSON-RPC responses in ../shared/testdata (tests and
 * benchmarks only). Nothing here is used by the extraction path.
 */
export const TESTDATA_DIR = join(import.meta.dirname, "..", "..", "..", "shared", "testdata");

export interface Recording {
  method: string;
  params: unknown[];
  result?: unknown;
  error?: unknown;
}

let cache: Recording[] | undefined;

export function loadRecordings(): Recording[] {
  cache ??= gunzipSync(readFileSync(join(TESTDATA_DIR, "mainnet", "recordings.jsonl.gz")))
    .toString("utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Recording);
  return cache;
}

/** The recorded result of `method` whose first param is block `n` (hex case-insensitive). */
export function recordedResult(
  method: string,
  n: number,
  extra?: (r: Recording) => boolean,
): unknown {
  const hit = loadRecordings().find(
    (r) =>
      r.method === method &&
      typeof r.params[0] === "string" &&
      r.params[0].toLowerCase() === `0x${n.toString(16)}` &&
      (extra?.(r) ?? true),
  );
  if (!hit) throw new Error(`no recording of ${method} for block ${n}`);
  return hit.result;
}
