import { FatalError } from "../core/errors.ts";

/** A re-apply that would corrupt planned work (changed chain, dataset, shrunk range …). */
export class ApplyRejectedError extends FatalError {
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message, { category: "apply_rejected" });
  }
}

export class JobNotFoundError extends FatalError {
  constructor(name: string) {
    super(`chain_sync job not found: ${name}`, { category: "not_found" });
  }
}

/** Error texts stored in state are bounded (the columns have a CHECK too). */
export const MAX_STORED_ERROR = 1024;

export function boundedMessage(message: string): string {
  return message.length <= MAX_STORED_ERROR
    ? message
    : `${message.slice(0, MAX_STORED_ERROR - 1)}…`;
}
