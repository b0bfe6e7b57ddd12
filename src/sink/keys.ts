import { FatalError } from "../core/errors.ts";

/**
 * Object names and keys. Keys are always derived (`{version prefix}{name}`), never taken from
 * untrusted input as-is, and every one is checked here before a single byte is written: a name
 * that could climb out of its prefix, hide in a control character or collide with our own temp
 * files must be refused up front, both for S3 (where `..` is just bytes, but readers that map
 * keys onto paths would follow it) and for the folder store (where it would be a traversal).
 */

/** S3's own key limit; the manifest schema uses the same bound. */
export const MAX_KEY_BYTES = 1024;
/** Names are a part of a key; keep room for the version prefix. */
export const MAX_NAME_BYTES = 512;
/** Suffix of the folder store's in-progress files; cleanupStale recognises them by it. */
export const TEMP_SUFFIX = ".trace-tmp";

// C0 controls, DEL and C1 controls: invisible in logs and listings, never legitimate in keys.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

// With the `u` flag only unpaired surrogates match this class (pairs are one code point).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function invalid(what: string, value: string, why: string): FatalError {
  // JSON.stringify makes control characters visible in the message instead of emitting them.
  return new FatalError(`invalid ${what} ${JSON.stringify(value.slice(0, 200))}: ${why}`, {
    category: "invalid_object_name",
  });
}

/** Why `path` (a "/"-separated relative path) is unsafe, or undefined when it is fine. */
function pathProblem(path: string, allowTrailingSlash: boolean): string | undefined {
  if (path.length === 0) return "must not be empty";
  if (path.startsWith("/")) return "must not start with '/'";
  if (path.includes("\\")) return "must not contain '\\'";
  if (CONTROL_CHARS.test(path)) return "must not contain control characters";
  if (LONE_SURROGATE.test(path)) return "must be valid Unicode (lone surrogate)";
  const segments = path.split("/");
  if (allowTrailingSlash && segments.at(-1) === "") segments.pop();
  for (const s of segments) {
    if (s === "") return "must not contain empty path segments ('//' or a trailing '/')";
    if (s === "." || s === "..") return "must not contain '.' or '..' segments";
  }
  if (path.endsWith(TEMP_SUFFIX)) return `must not end with the reserved suffix ${TEMP_SUFFIX}`;
  return undefined;
}

/** An object name inside a version prefix, e.g. `blocks__00000000_to_00000999.parquet`. */
export function validateObjectName(name: unknown): string {
  if (typeof name !== "string") throw invalid("object name", String(name), "must be a string");
  const problem = pathProblem(name, false);
  if (problem) throw invalid("object name", name, problem);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES)
    throw invalid("object name", name, `must be at most ${MAX_NAME_BYTES} bytes`);
  return name;
}

/** A full object key relative to a store's base (no trailing slash). */
export function validateKey(key: string): string {
  const problem = pathProblem(key, false);
  if (problem) throw invalid("object key", key, problem);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw invalid("object key", key, `must be at most ${MAX_KEY_BYTES} bytes`);
  return key;
}

/** A key prefix: empty (the whole store) or a path ending in '/'. */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  if (!prefix.endsWith("/")) throw invalid("key prefix", prefix, "must end with '/'");
  const problem = pathProblem(prefix, true);
  if (problem) throw invalid("key prefix", prefix, problem);
  if (Buffer.byteLength(prefix) >= MAX_KEY_BYTES)
    throw invalid("key prefix", prefix, `must be shorter than ${MAX_KEY_BYTES} bytes`);
  return prefix;
}

/** A listing filter: like a prefix, but it may end mid-name (`cryo/1/ab`). */
export function validateListPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  const problem = pathProblem(prefix, true);
  // A listing prefix may legitimately end in a partial temp suffix; only structure matters.
  if (problem && !problem.includes(TEMP_SUFFIX)) throw invalid("list prefix", prefix, problem);
  return prefix;
}
