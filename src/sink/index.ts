export * from "./artifact-sink.ts";
export * from "./caps.ts";
export * from "./cleanup.ts";
export * from "./keys.ts";
export * from "./manifest.ts";
export type * from "./object-store.ts";
export * from "./open-store.ts";
export { storageError } from "./storage-errors.ts";
