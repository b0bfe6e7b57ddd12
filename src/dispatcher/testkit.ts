import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { cryoConfigHash, datasetVersion, versionPrefix } from "../core/ids.ts";
import type { TokenKeyConfig } from "../core/tokens.ts";
import type { CryoIngestPayload, DatasetPublication } from "../core/types.ts";

/** Helpers shared by the dispatcher's tests and benchmark (not used by production code). */

export const TEST_WORKER_TOKEN = "worker-token-for-tests-0123456789";
export const TEST_CAPABILITY: TokenKeyConfig = {
  issuer: "trace-dispatcher",
  audience: "trace.task",
  kid: "k1",
  secret: "capability-secret-for-tests-0123456789abcdef",
  ttlSeconds: 300,
};

export function cryoPayload(overrides: Partial<CryoIngestPayload> = {}): CryoIngestPayload {
  return {
    operator: "cryo_ingest",
    chain_id: 1,
    dataset_key: "blocks",
    dataset_uuid: randomUUID(),
    cryo_dataset_name: "blocks",
    rpc_pool: "default",
    range_start: 0,
    range_end: 1000,
    config_hash: cryoConfigHash("blocks"),
    ...overrides,
  };
}

/** The publication an honest worker derives for a payload. */
export function publicationFor(p: CryoIngestPayload, bucket = "trace"): DatasetPublication {
  const version = datasetVersion(
    p.dataset_uuid,
    p.config_hash,
    p.chain_id,
    p.range_start,
    p.range_end,
  );
  return {
    dataset_uuid: p.dataset_uuid,
    dataset_version: version,
    storage_ref: {
      scheme: "s3",
      bucket,
      prefix: versionPrefix({
        chainId: p.chain_id,
        datasetUuid: p.dataset_uuid,
        rangeStart: p.range_start,
        rangeEnd: p.range_end,
        datasetVersion: version,
      }),
      glob: "*.parquet",
    },
    config_hash: p.config_hash,
    range_start: p.range_start,
    range_end: p.range_end,
  };
}

export interface Claim {
  task_id: string;
  attempt: number;
  lease_token: string;
  lease_expires_at: string;
  capability_token: string;
  work_payload: CryoIngestPayload;
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** A minimal HTTP client for the dispatcher API (what a worker does, without the worker). */
export class DispatcherClient {
  constructor(
    readonly baseUrl: string,
    readonly workerToken = TEST_WORKER_TOKEN,
  ) {}

  async post<T = Record<string, unknown>>(
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  claim(
    taskId: string,
    token: string | null = this.workerToken,
  ): Promise<Reply<Claim & { error?: string }>> {
    return this.post(
      "/internal/task-claim",
      { task_id: taskId },
      token === null ? {} : { "x-trace-worker-token": token },
    );
  }

  heartbeat(
    c: Pick<Claim, "task_id" | "attempt" | "lease_token">,
    token: string | null,
  ): Promise<Reply> {
    return this.post(
      "/v1/task/heartbeat",
      { task_id: c.task_id, attempt: c.attempt, lease_token: c.lease_token },
      token === null ? {} : { "x-trace-task-capability": token },
    );
  }

  complete(
    c: Pick<Claim, "task_id" | "attempt" | "lease_token" | "capability_token">,
    body: {
      outcome: string;
      datasets_published?: unknown[];
      error?: { category: string; message: string };
    },
    token: string | null = c.capability_token,
  ): Promise<Reply> {
    return this.post(
      "/v1/task/complete",
      { task_id: c.task_id, attempt: c.attempt, lease_token: c.lease_token, ...body },
      token === null ? {} : { "x-trace-task-capability": token },
    );
  }
}

/** Polls `fn` until it returns a truthy value; fails after `timeoutMs` (an upper bound only). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
