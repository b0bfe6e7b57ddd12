export * from "./chain-sync-spec.ts";
export * from "./errors.ts";
export * from "./ids.ts";
export * from "./rpc-pools.ts";
export * from "./tokens.ts";
export * from "./types.ts";
