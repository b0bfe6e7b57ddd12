import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { classify, describeError, errorCategory, FatalError } from "../core/errors.ts";
import { datasetVersion, versionPrefix } from "../core/ids.ts";
import {
  type CryoIngestPayload,
  CryoIngestPayloadSchema,
  type DatasetPublication,
} from "../core/types.ts";
import { runCryoCli } from "../cryo-cli/index.ts";
import { type DatasetOptions, extractRange } from "../extract/index.ts";
import { type ArtifactCaps, createArtifactSink, type ObjectStore } from "../sink/index.ts";
import type { ClaimedTask, CompletionBody, DispatcherClient, Fence } from "./dispatcher-client.ts";
import { fencedStore } from "./fenced-store.ts";
import { LeaseKeeper, type LeaseOptions } from "./lease.ts";
import type { RpcPools } from "./rpc-pools.ts";

export type WorkerMode = "inprocess" | "cli";

/** Everything one task attempt needs; shared by all tasks of a worker. */
export interface TaskDeps {
  client: DispatcherClient;
  store: ObjectStore;
  mode: WorkerMode;
  caps: ArtifactCaps;
  rpc: RpcPools;
  /** Options of the in-process extraction (cryo's flags); defaults match cryo's. */
  extractOptions?: DatasetOptions;
  cryo: { bin: string; stagingRoot: string; timeoutMs?: number; env: NodeJS.ProcessEnv };
  lease: LeaseOptions;
  log: Logger;
}

export type TaskRunResult =
  /** The wake-up was stale or duplicate: the task is leased elsewhere, done, or not due. */
  | { kind: "not_claimable"; reason: string }
  /** The dispatcher accepted the completion. */
  | {
      kind: "completed";
      attempt: number;
      outcome: CompletionBody["outcome"];
      publication?: DatasetPublication;
      error?: { category: string; message: string };
    }
  /** The lease was lost (heartbeat or completion refused): nothing was completed. */
  | { kind: "lease_lost"; attempt: number }
  /** The completion could not be delivered; the lease expires and the dispatcher retries. */
  | { kind: "completion_undelivered"; attempt: number };

const MAX_ERROR_MESSAGE = 2000;
const COMPLETE_ATTEMPTS = 6;

/** A category the dispatcher accepts (`^[a-z0-9_.-]{1,64}$`). */
function wireCategory(err: unknown): string {
  const c = errorCategory(err)
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, "_")
    .slice(0, 64);
  return c.length > 0 ? c : "unknown";
}

function wireMessage(err: unknown): string {
  const m = describeError(err);
  return m.length > MAX_ERROR_MESSAGE ? `${m.slice(0, MAX_ERROR_MESSAGE - 1)}…` : m;
}

function parsePayload(raw: unknown): CryoIngestPayload {
  const parsed = CryoIngestPayloadSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new FatalError(
    `invalid cryo_ingest payload: ${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "rejected"}`,
    { category: "invalid_payload" },
  );
}

/**
 * One wake-up, end to end: claim the task, keep its lease alive, extract `[range_start,
 * range_end)` into an ArtifactSink on the deterministic version prefix (in-process, or through
 * the cryo binary in cli mode), write the manifest last, and complete with exactly one
 * publication. Failures abort the sink and complete as retryable or fatal by their class; a lost
 * lease stops everything and completes nothing. Throws only when the claim itself could not be
 * made (the wake-up should be retried).
 */
export async function runTask(
  deps: TaskDeps,
  taskId: string,
  opts: { signal?: AbortSignal } = {},
): Promise<TaskRunResult> {
  const claim = await deps.client.claim(taskId);
  if (claim.kind === "not_claimable") {
    deps.log.info(
      { event: "worker.claim.skipped", task_id: taskId, status: claim.status, reason: claim.error },
      "wake-up skipped",
    );
    return { kind: "not_claimable", reason: claim.error };
  }
  const task = claim.task;
  const fence: Fence = {
    task_id: task.task_id,
    attempt: task.attempt,
    lease_token: task.lease_token,
  };
  const log = deps.log.child({ task_id: task.task_id, attempt: task.attempt });
  const lease = new LeaseKeeper(
    deps.client,
    fence,
    task.capability_token,
    task.lease_expires_at,
    deps.lease,
    log,
  );
  lease.start();
  const started = performance.now();
  log.info({ event: "worker.task.claimed" }, "task claimed");
  let outcome: CompletionBody;
  try {
    outcome = await execute(deps, task, lease, log, opts.signal);
  } finally {
    lease.stop();
  }
  if (lease.lost) {
    log.warn({ event: "worker.task.abandoned" }, "lease lost: not completing");
    return { kind: "lease_lost", attempt: task.attempt };
  }
  const result = await deliverCompletion(deps, fence, lease, outcome, log);
  log.info(
    {
      event: "worker.task.finished",
      outcome: outcome.outcome,
      result: result.kind,
      category: outcome.error?.category,
      ms: Math.round(performance.now() - started),
    },
    "task finished",
  );
  return result;
}

async function execute(
  deps: TaskDeps,
  task: ClaimedTask,
  lease: LeaseKeeper,
  log: Logger,
  shutdown: AbortSignal | undefined,
): Promise<CompletionBody> {
  const signal = shutdown ? AbortSignal.any([lease.signal, shutdown]) : lease.signal;
  let sink: ReturnType<typeof createArtifactSink> | undefined;
  try {
    const p = parsePayload(task.work_payload);
    const version = datasetVersion(
      p.dataset_uuid,
      p.config_hash,
      p.chain_id,
      p.range_start,
      p.range_end,
    );
    sink = createArtifactSink({
      store: fencedStore(deps.store, () => lease.lost),
      prefix: versionPrefix({
        chainId: p.chain_id,
        datasetUuid: p.dataset_uuid,
        rangeStart: p.range_start,
        rangeEnd: p.range_end,
        datasetVersion: version,
      }),
      datasetUuid: p.dataset_uuid,
      datasetVersion: version,
      configHash: p.config_hash,
      rangeStart: p.range_start,
      rangeEnd: p.range_end,
      caps: deps.caps,
    });
    const range = [p.range_start, p.range_end] as const;
    if (deps.mode === "inprocess") {
      await deps.rpc.checkChain(p.rpc_pool, p.chain_id, signal);
      await extractRange({
        rpc: deps.rpc.client(p.rpc_pool),
        dataset: p.cryo_dataset_name,
        chainId: p.chain_id,
        range,
        sink,
        options: { ...deps.extractOptions, ...deps.rpc.extractSettings(p.rpc_pool) },
        signal,
      });
    } else {
      await runCryoCli({
        bin: deps.cryo.bin,
        dataset: p.cryo_dataset_name,
        rpcUrl: deps.rpc.urls(p.rpc_pool)[0]!,
        range,
        stagingRoot: deps.cryo.stagingRoot,
        taskId: task.task_id,
        attempt: task.attempt,
        sink,
        caps: deps.caps,
        signal,
        env: deps.cryo.env,
        timeoutMs: deps.cryo.timeoutMs,
      });
    }
    // A stop that raced with the last upload must not publish.
    signal.throwIfAborted();
    await removeForeignObjects(deps.store, sink, log);
    signal.throwIfAborted();
    const publication = await sink.writeManifest();
    if (lease.lost) throw lease.signal.reason;
    return { outcome: "success", datasets_published: [publication] };
  } catch (caught) {
    // The abort reason (lease lost / shutdown) explains a failure better than the AbortError.
    const err = signal.aborted ? signal.reason : caught;
    try {
      await sink?.abort();
    } catch (abortErr) {
      log.warn(
        { event: "worker.sink.abort_failed", error: describeError(abortErr) },
        "could not remove the failed attempt's objects",
      );
    }
    const errorClass = classify(err);
    const error = { category: wireCategory(err), message: wireMessage(err) };
    log.warn({ event: "worker.task.failed", class: errorClass, ...error }, "task attempt failed");
    return { outcome: errorClass === "retryable" ? "retryable_error" : "fatal_error", error };
  }
}

/**
 * Objects under the version prefix that this attempt did not write: leftovers of an earlier
 * attempt that lost its lease or was killed (their deletes are fenced off, see fenced-store.ts),
 * possibly with other names if that worker chunked differently. They are removed before the
 * manifest is written, so a published version holds exactly the objects its manifest lists.
 * The current lease makes this safe: no other attempt may write this prefix any more.
 */
async function removeForeignObjects(
  store: ObjectStore,
  sink: ReturnType<typeof createArtifactSink>,
  log: Logger,
): Promise<void> {
  const mine = new Set(sink.objects.map((o) => o.key));
  const foreign = (await store.list(sink.prefix)).filter((o) => !mine.has(o.key));
  for (const o of foreign) await store.delete(o.key);
  if (foreign.length > 0)
    log.info(
      { event: "worker.prefix.cleaned", removed: foreign.length },
      "removed objects of an earlier attempt from the version prefix",
    );
}

/** Completion is idempotent for the same lease, so transport failures are simply retried. */
async function deliverCompletion(
  deps: TaskDeps,
  fence: Fence,
  lease: LeaseKeeper,
  body: CompletionBody,
  log: Logger,
): Promise<TaskRunResult> {
  for (let i = 1; ; i++) {
    try {
      const reply = await deps.client.complete(fence, lease.capabilityToken, body);
      if (reply.kind === "ok")
        return {
          kind: "completed",
          attempt: fence.attempt,
          outcome: body.outcome,
          publication: body.datasets_published?.[0],
          error: body.error,
        };
      if (reply.kind === "lost") {
        log.warn(
          { event: "worker.complete.stale", reason: reply.error },
          "completion refused: lease lost",
        );
        return { kind: "lease_lost", attempt: fence.attempt };
      }
      log.error(
        { event: "worker.complete.rejected", status: reply.status, reason: reply.error },
        "completion rejected",
      );
      return { kind: "completion_undelivered", attempt: fence.attempt };
    } catch (err) {
      if (i >= COMPLETE_ATTEMPTS) {
        log.error(
          { event: "worker.complete.undelivered", error: describeError(err) },
          "could not deliver the completion; the lease will expire",
        );
        return { kind: "completion_undelivered", attempt: fence.attempt };
      }
      await sleep(Math.min(8_000, 250 * 2 ** (i - 1)) * (0.5 + Math.random()));
    }
  }
}
