import type { Logger } from "pino";
import { describeError, errorCategory } from "../core/errors.ts";

/**
 * A periodic background job. Ticks never overlap (the next one is scheduled after the previous
 * one settles); a failing tick is logged by category and retried on the next period. Each tick
 * is a self-contained transaction, so stopping or crashing between ticks is always safe.
 */
export interface Loop {
  readonly name: string;
  stop(): Promise<void>;
}

export function startLoop(
  name: string,
  intervalMs: number,
  tick: () => Promise<number>,
  log: Logger,
  batchSize = 50,
): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const run = async () => {
    try {
      // A full batch means more work is probably waiting: go again at once.
      let n: number;
      do {
        n = await tick();
      } while (!stopped && n >= batchSize);
    } catch (err) {
      log.error(
        {
          event: `dispatcher.${name}.error`,
          category: errorCategory(err),
          err: describeError(err),
        },
        `${name} tick failed`,
      );
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run().finally(schedule);
    }, intervalMs);
  };
  running = run().finally(schedule);

  return {
    name,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
