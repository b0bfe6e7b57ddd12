export * from "./collect.ts";
export * from "./run-cryo.ts";
export * from "./staging.ts";
