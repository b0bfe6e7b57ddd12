export * from "./backoff.ts";
export * from "./completion.ts";
export * from "./dispatcher.ts";
export * from "./enqueue.ts";
export * from "./grants.ts";
export * from "./hooks.ts";
export * from "./lifecycle.ts";
