import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { FatalError } from "./errors.ts";
import { SLUG_RE } from "./ids.ts";

/**
 * The chain_sync job spec (trace-rust §5.3, "Option B"), parsed from YAML. Unknown fields are
 * rejected at every level; every error names the path and the problem. RPC URLs never live in
 * YAML: a stream names a pool, resolved from TRACE_RPC_POOL_<POOL>_URL at run time.
 */

export const DEFAULT_CHUNK_SIZE = 1000;
export const DEFAULT_MAX_INFLIGHT = 10;
/** Bounds that keep every number exact in JS and in Postgres BIGINT / INT4. */
const MAX_BLOCK = 2 ** 48;
const MAX_INT4 = 2_147_483_647;

const typeError = (what: string, type: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `${what} is required` : `${what} must be ${type}`;

const int = (what: string) =>
  z.number({ error: typeError(what, "a number") }).int(`${what} must be an integer`);

const blockNumber = (what: string) =>
  int(what).min(0, `${what} must be >= 0`).max(MAX_BLOCK, `${what} must be <= ${MAX_BLOCK}`);

const slug = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(SLUG_RE, `${what} must be 1-64 characters of a-z, 0-9 and _`);

const rpcPool = z
  .string({ error: "rpc_pool must be a string" })
  .refine((v) => !v.includes("://") && !/^[a-z]+:/i.test(v.trim()), {
    message: "rpc_pool must name a pool, not a URL (put URLs in TRACE_RPC_POOL_<POOL>_URL)",
  })
  .pipe(slug("rpc_pool"));

const streamSchema = z
  .object({
    cryo_dataset_name: slug("cryo_dataset_name"),
    rpc_pool: rpcPool,
    chunk_size: int("chunk_size")
      .min(1, "chunk_size must be > 0")
      .max(1_000_000, "chunk_size must be <= 1000000")
      .default(DEFAULT_CHUNK_SIZE),
    max_inflight: int("max_inflight")
      .min(1, "max_inflight must be > 0")
      .max(10_000, "max_inflight must be <= 10000")
      .default(DEFAULT_MAX_INFLIGHT),
  })
  .strict();

const fixedTarget = z
  .object({
    kind: z.literal("fixed_target"),
    from_block: blockNumber("from_block"),
    to_block: blockNumber("to_block"),
  })
  .strict()
  .refine((m) => m.to_block > m.from_block, {
    message: "to_block must be > from_block (to_block is exclusive: to include block N, set N+1)",
    path: ["to_block"],
  });

const followHead = z
  .object({
    kind: z.literal("follow_head"),
    from_block: blockNumber("from_block"),
    tail_lag: int("tail_lag")
      .min(0, "tail_lag must be >= 0")
      .max(1_000_000, "tail_lag must be <= 1000000"),
    head_poll_interval_seconds: int("head_poll_interval_seconds")
      .min(1, "head_poll_interval_seconds must be > 0")
      .max(MAX_INT4, "head_poll_interval_seconds is too large"),
    max_head_age_seconds: int("max_head_age_seconds")
      .min(1, "max_head_age_seconds must be > 0")
      .max(MAX_INT4, "max_head_age_seconds is too large"),
  })
  .strict();

const modeSchema = z.discriminatedUnion("kind", [fixedTarget, followHead], {
  error: "mode.kind must be fixed_target or follow_head",
});

export const ChainSyncSpecSchema = z
  .object({
    kind: z.literal("chain_sync", { error: "kind must be chain_sync" }),
    name: z
      .string({ error: "name must be a string" })
      .trim()
      .min(1, "name must not be empty")
      .max(128, "name must be at most 128 characters")
      // The name is echoed in status, logs and admin URLs: no URLs (and their secrets) and no
      // control characters.
      .refine((v) => !v.includes("://"), { message: "name must not be a URL" })
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
      .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), {
        message: "name must not contain control characters",
      }),
    chain_id: int("chain_id")
      .min(1, "chain_id must be > 0")
      .max(MAX_BLOCK, "chain_id is too large"),
    mode: modeSchema,
    streams: z
      .record(z.string(), streamSchema, { error: "streams must be a map of dataset_key to stream" })
      .refine((s) => Object.keys(s).length > 0, { message: "streams must not be empty" })
      .refine((s) => Object.keys(s).length <= 64, { message: "at most 64 streams" }),
  })
  .strict();

export type ChainSyncSpec = z.infer<typeof ChainSyncSpecSchema>;
export type ChainSyncStreamSpec = z.infer<typeof streamSchema>;

export class SpecError extends FatalError {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message, { category: "invalid_spec" });
  }
}

const MAX_YAML_BYTES = 1024 * 1024;

function formatPath(path: PropertyKey[]): string {
  return path.length === 0 ? "(document)" : path.map(String).join(".");
}

/** Parse and validate a chain_sync YAML document. Throws SpecError listing every problem. */
export function parseChainSyncYaml(text: string, source = "spec"): ChainSyncSpec {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES) {
    throw new SpecError(`${source}: YAML is larger than ${MAX_YAML_BYTES} bytes`, ["too large"]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    intAsBigInt: true,
  });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.pos ? lineCounter.linePos(e.pos[0]) : undefined;
      return pos ? `line ${pos.line}, column ${pos.col}: ${e.message.split("\n")[0]}` : e.message;
    });
    throw new SpecError(`${source}: invalid YAML: ${problems.join("; ")}`, problems);
  }
  const raw = toPlain(doc.toJS({ maxAliasCount: 10 }));
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SpecError(`${source}: the document must be a mapping`, ["not a mapping"]);
  }
  const keyProblems = Object.keys((raw as Record<string, unknown>).streams ?? {})
    .filter((k) => !SLUG_RE.test(k))
    .map((k) => `streams.${k}: dataset_key must be 1-64 characters of a-z, 0-9 and _`);
  const parsed = ChainSyncSpecSchema.safeParse(raw);
  const problems = [
    ...keyProblems,
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => {
          const msg =
            i.code === "unrecognized_keys"
              ? `unknown field(s) ${i.keys.map((k) => `'${k}'`).join(", ")}`
              : i.message;
          return `${formatPath(i.path)}: ${msg}`;
        })),
  ];
  if (problems.length > 0 || !parsed.success) {
    throw new SpecError(`${source}: ${problems.join("; ")}`, problems);
  }
  return parsed.data;
}

/**
 * YAML ints are parsed as BigInt so that no value is silently rounded before validation; every
 * numeric field has an upper bound far below 2^53, so converting afterwards is exact where valid
 * and still "too large" where not.
 */
function toPlain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  }
  return v;
}
