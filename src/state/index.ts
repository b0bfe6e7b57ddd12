export * from "./connect.ts";
export * from "./migrate.ts";
export * from "./outbox.ts";
export * from "./pgqueue.ts";
export * from "./registry.ts";
export * from "./tasks.ts";
