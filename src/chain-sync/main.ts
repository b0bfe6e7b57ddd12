/**
 * Runs one dispatcher process with chain_sync from environment variables: everything
 * src/dispatcher/env.ts reads, plus TRACE_ADMIN_TOKEN (required), TRACE_CHAIN_SYNC_PLANNER_MS,
 * TRACE_HEAD_OBSERVER_MS, TRACE_TASK_MAX_ATTEMPTS and the TRACE_RPC_POOL_<POOL>_URL pools.
 *   node --import tsx src/chain-sync/main.ts
 * The same as `trace dispatcher` (src/cli/services.ts): SIGTERM / SIGINT stop the loops and the
 * server gracefully (exit 0); bad configuration exits 2, any other failure to start 1.
 */
import { runDispatcherService } from "../cli/services.ts";

process.exitCode = await runDispatcherService(process.env);
