import { z } from "zod";
import { FatalError, RetryableError } from "../core/errors.ts";
import { type DatasetPublication, type TaskOutcome, UuidSchema } from "../core/types.ts";

/**
 * The worker's side of the dispatcher's HTTP task API (claim / heartbeat / complete). This is the
 * worker's only path to task state: it holds no state-DB credentials beyond the queue.
 * Transport problems and 5xx are RetryableError; the answers a worker acts on are returned.
 */

/** A 200 claim reply; checked before the worker acts on it (the payload by run-task.ts). */
const ClaimedTaskSchema = z.object({
  task_id: UuidSchema,
  attempt: z.number().int().positive(),
  lease_token: z.string().min(1),
  lease_expires_at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a timestamp"),
  capability_token: z.string().min(1),
  work_payload: z.unknown(),
});
export type ClaimedTask = z.infer<typeof ClaimedTaskSchema>;

export type ClaimReply =
  | { kind: "claimed"; task: ClaimedTask }
  /** 409 (leased, not due, not claimable) or 404: nothing to do for this wake-up. */
  | { kind: "not_claimable"; status: number; error: string };

export type FenceReply =
  | { kind: "ok"; body: Record<string, unknown> }
  /** 409/404: the lease is gone (expired and reaped, or a newer attempt took over). */
  | { kind: "lost"; error: string }
  /** Any other 4xx: the request itself was refused (a bug or a misconfiguration). */
  | { kind: "rejected"; status: number; error: string };

export interface Fence {
  task_id: string;
  attempt: number;
  lease_token: string;
}

export interface CompletionBody {
  outcome: TaskOutcome;
  datasets_published?: DatasetPublication[];
  error?: { category: string; message: string };
}

const REQUEST_TIMEOUT_MS = 30_000;

export class DispatcherClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly workerToken: string,
    private readonly workerId: string,
  ) {
    let u: URL;
    try {
      u = new URL(baseUrl);
    } catch {
      throw new TypeError(`dispatcher URL ${JSON.stringify(baseUrl)} is not a URL`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw new TypeError("dispatcher URL must be http(s)");
    this.base = baseUrl.replace(/\/+$/, "");
  }

  private async post(
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new RetryableError(`dispatcher ${path} unreachable`, {
        category: "dispatcher_unreachable",
        cause: err,
      });
    }
    const text = await res.text().catch(() => "");
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    if (res.status >= 500 || res.status === 429)
      throw new RetryableError(`dispatcher ${path} answered ${res.status}`, {
        category: "dispatcher_unavailable",
      });
    return { status: res.status, body: parsed };
  }

  async claim(taskId: string): Promise<ClaimReply> {
    const r = await this.post(
      "/internal/task-claim",
      { task_id: taskId, worker_id: this.workerId },
      { "x-trace-worker-token": this.workerToken },
    );
    if (r.status === 200) {
      const task = ClaimedTaskSchema.safeParse(r.body);
      // Claimed on the dispatcher's side but unusable here (a version mismatch): the lease is
      // left to expire, and the reaper turns it into a retry.
      if (!task.success || task.data.task_id !== taskId)
        throw new RetryableError(
          `the dispatcher's claim reply is malformed (${task.success ? "task_id differs" : (task.error.issues[0]?.path.join(".") ?? "body")})`,
          { category: "dispatcher_protocol" },
        );
      return { kind: "claimed", task: task.data };
    }
    if (r.status === 409 || r.status === 404)
      return { kind: "not_claimable", status: r.status, error: String(r.body.error ?? "") };
    // A rejected worker token fails every claim this worker will ever make: the worker has to
    // stop rather than burn wake-up deliveries (category checked by worker.ts).
    if (r.status === 401)
      throw new FatalError("the dispatcher rejected this worker's token (401)", {
        category: "worker_unauthorized",
      });
    // 400 must not be acked away silently: the caller retries/logs.
    throw new RetryableError(`task claim refused (${r.status} ${String(r.body.error ?? "")})`, {
      category: "claim_refused",
    });
  }

  private fenced(r: { status: number; body: Record<string, unknown> }): FenceReply {
    if (r.status === 200) return { kind: "ok", body: r.body };
    // 409 stale fence; 404 the task is gone: either way this attempt no longer owns it.
    if (r.status === 409 || r.status === 404)
      return { kind: "lost", error: String(r.body.error ?? "") };
    return { kind: "rejected", status: r.status, error: String(r.body.error ?? "") };
  }

  async heartbeat(fence: Fence, capabilityToken: string): Promise<FenceReply> {
    return this.fenced(
      await this.post("/v1/task/heartbeat", fence, { "x-trace-task-capability": capabilityToken }),
    );
  }

  async complete(fence: Fence, capabilityToken: string, body: CompletionBody): Promise<FenceReply> {
    return this.fenced(
      await this.post(
        "/v1/task/complete",
        { ...fence, ...body },
        { "x-trace-task-capability": capabilityToken },
      ),
    );
  }
}
