import { RetryableError } from "../core/errors.ts";

/** The dispatcher refused a heartbeat: another attempt owns (or will own) the task now. */
export class LeaseLostError extends RetryableError {
  constructor(detail: string) {
    super(`task lease lost: ${detail}`, { category: "lease_lost" });
  }
}

/** The worker is shutting down and its deadline for running tasks has passed. */
export class WorkerShutdownError extends RetryableError {
  constructor() {
    super("worker shut down before the task finished", { category: "worker_shutdown" });
  }
}
