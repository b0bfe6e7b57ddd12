export * from "./config.ts";
export * from "./dispatcher-client.ts";
export * from "./errors.ts";
export * from "./fenced-store.ts";
export * from "./lease.ts";
export { runWorkerMain } from "./main.ts";
export * from "./rpc-pools.ts";
export * from "./run-task.ts";
export * from "./worker.ts";
