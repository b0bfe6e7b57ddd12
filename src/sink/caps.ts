import { FatalError } from "../core/errors.ts";

/** Artifact caps of one range (trace-rust §4); crossing any is a fatal task error. */
export interface ArtifactCaps {
  /** MAX_PARQUET_FILES_PER_RANGE */
  maxFiles: number;
  /** MAX_PARQUET_BYTES_PER_FILE */
  maxBytesPerFile: number;
  /** MAX_TOTAL_PARQUET_BYTES_PER_RANGE */
  maxTotalBytes: number;
}

export const DEFAULT_ARTIFACT_CAPS: Readonly<ArtifactCaps> = Object.freeze({
  maxFiles: 256,
  maxBytesPerFile: 536_870_912,
  maxTotalBytes: 2_147_483_648,
});

/** The env var behind each cap; also what a cap error names. */
export const CAP_ENV: Readonly<Record<keyof ArtifactCaps, string>> = Object.freeze({
  maxFiles: "MAX_PARQUET_FILES_PER_RANGE",
  maxBytesPerFile: "MAX_PARQUET_BYTES_PER_FILE",
  maxTotalBytes: "MAX_TOTAL_PARQUET_BYTES_PER_RANGE",
});

function parsePositiveInt(name: string, raw: string): number {
  const v = raw.trim();
  if (!/^[0-9]+$/.test(v))
    throw new FatalError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`, {
      category: "invalid_config",
    });
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new FatalError(`${name} must be between 1 and ${Number.MAX_SAFE_INTEGER}, got ${v}`, {
      category: "invalid_config",
    });
  return n;
}

/** Caps from MAX_PARQUET_* env vars; unset or empty vars keep their defaults. */
export function artifactCapsFromEnv(env: NodeJS.ProcessEnv = process.env): ArtifactCaps {
  const caps = { ...DEFAULT_ARTIFACT_CAPS };
  for (const field of Object.keys(CAP_ENV) as (keyof ArtifactCaps)[]) {
    const raw = env[CAP_ENV[field]];
    if (raw !== undefined && raw.trim() !== "") caps[field] = parsePositiveInt(CAP_ENV[field], raw);
  }
  return caps;
}

/** Validates caps passed in code (same rules as the env vars). */
export function resolveCaps(partial: Partial<ArtifactCaps> = {}): ArtifactCaps {
  const caps = { ...DEFAULT_ARTIFACT_CAPS, ...partial };
  for (const field of Object.keys(CAP_ENV) as (keyof ArtifactCaps)[]) {
    const v = caps[field];
    if (!Number.isSafeInteger(v) || v <= 0)
      throw new FatalError(`${CAP_ENV[field]} (${field}) must be a positive integer, got ${v}`, {
        category: "invalid_config",
      });
  }
  return caps;
}

export function capExceeded(field: keyof ArtifactCaps, limit: number, detail: string): FatalError {
  return new FatalError(`${CAP_ENV[field]} exceeded (limit ${limit}): ${detail}`, {
    category: "cap_exceeded",
  });
}
