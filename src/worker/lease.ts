import type { Logger } from "pino";
import { describeError } from "../core/errors.ts";
import type { DispatcherClient, Fence } from "./dispatcher-client.ts";
import { LeaseLostError } from "./errors.ts";

export interface LeaseOptions {
  /** Fixed heartbeat period; default: `safety` × the lease time left at each renewal. */
  intervalMs?: number;
  /** Fraction of the remaining lease to wait before renewing (0 < safety ≤ 0.5). Default 1/3. */
  safety?: number;
}

/**
 * Keeps one attempt's lease alive by heartbeating well inside it. The first refusal (409: the
 * lease expired or a newer attempt exists) aborts `signal` with a LeaseLostError, which stops the
 * extraction; so does failing to renew before the last known expiry (the dispatcher cannot be
 * reached, so this attempt must assume it lost the task). Heartbeats also refresh the capability
 * token, so a long task never completes with an expired one.
 */
export class LeaseKeeper {
  private readonly ctl = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private token: string;
  /** Local clock time by which the lease must have been renewed. */
  private deadline: number;
  private beats = 0;

  constructor(
    private readonly client: DispatcherClient,
    private readonly fence: Fence,
    capabilityToken: string,
    leaseExpiresAt: string,
    private readonly options: LeaseOptions,
    private readonly log: Logger,
  ) {
    const safety = options.safety ?? 1 / 3;
    if (!(safety > 0 && safety <= 0.5)) throw new RangeError("lease safety must be in (0, 0.5]");
    this.token = capabilityToken;
    this.deadline = this.expiryToLocal(leaseExpiresAt, Date.now());
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }
  get lost(): boolean {
    return this.ctl.signal.aborted;
  }
  get capabilityToken(): string {
    return this.token;
  }
  get heartbeats(): number {
    return this.beats;
  }

  /** The lease time left, measured on our clock when the answer arrived. */
  private expiryToLocal(expiresAt: string, receivedAt: number): number {
    const t = Date.parse(expiresAt);
    return Number.isFinite(t) ? receivedAt + Math.max(0, t - Date.now()) : receivedAt;
  }

  private nextDelay(): number {
    if (this.options.intervalMs !== undefined) return this.options.intervalMs;
    const left = this.deadline - Date.now();
    return Math.max(20, Math.floor(left * (this.options.safety ?? 1 / 3)));
  }

  start(): void {
    this.schedule(this.nextDelay());
  }

  private schedule(ms: number): void {
    if (this.stopped || this.lost) return;
    this.timer = setTimeout(() => void this.beat(), ms);
  }

  private lose(detail: string): void {
    if (this.lost) return;
    this.log.warn({ event: "worker.lease.lost", ...this.fence, detail }, "lease lost");
    this.ctl.abort(new LeaseLostError(detail));
  }

  private async beat(): Promise<void> {
    if (this.stopped || this.lost) return;
    try {
      const reply = await this.client.heartbeat(this.fence, this.token);
      if (this.stopped) return;
      if (reply.kind === "ok") {
        this.beats++;
        const expires = reply.body.lease_expires_at;
        if (typeof expires === "string") this.deadline = this.expiryToLocal(expires, Date.now());
        if (typeof reply.body.capability_token === "string")
          this.token = reply.body.capability_token;
        this.schedule(this.nextDelay());
        return;
      }
      this.lose(
        reply.kind === "lost"
          ? `heartbeat refused (${reply.error})`
          : `heartbeat rejected (${reply.status} ${reply.error})`,
      );
    } catch (err) {
      if (this.stopped) return;
      // Transient: try again soon, but never past the lease we know of.
      const left = this.deadline - Date.now();
      if (left <= 0) {
        this.lose(`could not renew before expiry: ${describeError(err)}`);
        return;
      }
      this.log.warn(
        { event: "worker.heartbeat.retry", task_id: this.fence.task_id, error: describeError(err) },
        "heartbeat failed; retrying",
      );
      this.schedule(Math.max(20, Math.min(1_000, Math.floor(left / 4))));
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
