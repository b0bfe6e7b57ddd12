export * from "./errors.ts";
export * from "./ids.ts";
export * from "./tokens.ts";
export * from "./types.ts";
