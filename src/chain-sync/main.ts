/**
 * Runs one dispatcher process with chain_sync from environment variables: everything
 * src/dispatcher/env.ts reads, plus TRACE_ADMIN_TOKEN (required), TRACE_CHAIN_SYNC_PLANNER_MS,
 * TRACE_HEAD_OBSERVER_MS, TRACE_TASK_MAX_ATTEMPTS and the TRACE_RPC_POOL_<POOL>_URL pools.
 *   node --import tsx src/chain-sync/main.ts
 * SIGTERM / SIGINT stop the loops and the server gracefully.
 */
import { describeError } from "../core/errors.ts";
import { dispatcherConfigFromEnv } from "../dispatcher/env.ts";
import { chainSyncConfigFromEnv, createChainSyncDispatcher } from "./dispatcher.ts";

try {
  const cfg = dispatcherConfigFromEnv(process.env);
  const dispatcher = await createChainSyncDispatcher({
    ...cfg.options,
    ...chainSyncConfigFromEnv(process.env),
  });
  await dispatcher.listen({ host: cfg.host, port: cfg.port });
  await dispatcher.start();
  const shutdown = () => {
    dispatcher.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
} catch (err) {
  process.stderr.write(`dispatcher failed to start: ${describeError(err)}\n`);
  process.exit(1);
}
