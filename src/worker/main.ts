/**
 * One worker process from environment variables (see config.ts):
 *   node --import tsx src/worker/main.ts [--concurrency N]      (or embed via runWorkerMain)
 * Logs JSON lines (pino) to stdout. SIGTERM / SIGINT: stop claiming, let running tasks finish
 * until TRACE_WORKER_SHUTDOWN_MS, then abort them cleanly and exit.
 */
import { realpathSync } from "node:fs";
import { describeError, errorCategory } from "../core/errors.ts";
import { configureExtractionMemory } from "../core/extraction-memory.ts";
import { parseWorkerArgs, workerConfigFromEnv } from "./config.ts";
import { createWorker } from "./worker.ts";

/**
 * Runs a worker until SIGTERM/SIGINT; resolves with the process exit code. `--concurrency N`
 * overrides TRACE_WORKER_CONCURRENCY.
 */
export async function runWorkerMain(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = [],
): Promise<number> {
  let worker: ReturnType<typeof createWorker>;
  let deadlineMs: number;
  try {
    const args = parseWorkerArgs(argv);
    const cfg = workerConfigFromEnv(env);
    deadlineMs = cfg.shutdownDeadlineMs;
    worker = createWorker({ ...cfg.options, ...args });
    await worker.start();
  } catch (err) {
    process.stderr.write(`worker failed to start: ${describeError(err)}\n`);
    // Bad configuration is a usage error (2), like every other service; anything else is 1.
    return errorCategory(err) === "config" ? 2 : 1;
  }
  return await new Promise<number>((resolve) => {
    const onSignal = () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      worker.stop({ deadlineMs }).then(
        () => resolve(0),
        (err) => {
          process.stderr.write(`worker shutdown failed: ${describeError(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    void worker.failed.then((err) => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      process.stderr.write(
        `worker stopped: ${describeError(err)} — check TRACE_WORKER_TOKEN against the dispatcher's\n`,
      );
      // A token the dispatcher refuses is a configuration error (2), like a bad variable.
      worker.stop({ deadlineMs }).then(
        () => resolve(2),
        () => resolve(2),
      );
    });
  });
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return /worker[\\/]main\.[jt]s$/.test(realpathSync(script));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A worker process extracts: the V8 memory settings of TRACE_MEMORY (as `trace worker` sets
  // them: src/cli/main.ts).
  try {
    configureExtractionMemory(process.env);
    process.exitCode = await runWorkerMain(process.env, process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`worker failed to start: ${describeError(err)}\n`);
    process.exitCode = 2;
  }
}
