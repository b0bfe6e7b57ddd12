/**
 * Shared by the `trace up` / `trace demo` / per-service command tests (not a test file itself):
 * runs `node bin/trace.js …` as child processes with a private TRACE_HOME, the way a user would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { eventually } from "../src/dispatcher/testkit.ts";
import { TRACE_BIN as BIN, type CliRun, runTrace } from "./support/cli.ts";

export type { CliRun };

/** A temp dir for a home; searchable by others, since as root PostgreSQL runs as `postgres`. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `trace-${label}-`));
  chmodSync(dir, 0o711);
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment of a child: nothing of ours leaks in (no DATABASE_URL, pools, AWS…). */
export function baseEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "", HOME: home, TRACE_HOME: home, ...extra };
}

/** Runs `trace <args>` to completion. */
export function trace(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliRun> {
  return runTrace(args, { env, timeoutMs });
}

export interface StackJson {
  pid: number;
  dispatcher_url: string;
  query_url: string;
  database_url_redacted: string;
  object_store: string;
}

/** A running `trace up` child. */
export interface UpProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with stack.json once this child wrote it (its own pid) and printed that it is up. */
  ready(timeoutMs?: number): Promise<StackJson>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function startUp(args: string[], env: Record<string, string>): UpProcess {
  const child = spawn(process.execPath, [BIN, "up", ...args], { env, stdio: "pipe" });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code)),
  );
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  // A test that fails midway must not leave a stack behind.
  after(() => {
    if (exitCode === undefined) child.kill("SIGKILL");
  });
  const home = env.TRACE_HOME as string;
  return {
    child,
    exited,
    output: () => out,
    ready: (timeoutMs = 90_000) =>
      eventually(
        async () => {
          if (exitCode !== undefined) throw new Error(`trace up exited with ${exitCode}:\n${out}`);
          const path = join(home, "stack.json");
          // stack.json is written as the services start listening; the banner follows it.
          if (!existsSync(path) || !out.includes("Trace is up")) return undefined;
          const stack = JSON.parse(readFileSync(path, "utf8")) as StackJson;
          return stack.pid === child.pid ? stack : undefined;
        },
        timeoutMs,
        `trace up to be ready:\n${out}`,
      ),
    async stop(signal = "SIGINT", timeoutMs = 60_000) {
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`trace up did not stop in ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** True while `pid` is a live (non-zombie) process. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Rows of the first aligned table printed after `heading` (cells split on runs of spaces). */
export function tableAfter(text: string, heading: string): string[][] {
  const lines = text.slice(text.indexOf(heading)).split("\n");
  const dashes = lines.findIndex((l) => /^-+(\s+-+)*\s*$/.test(l));
  if (dashes < 0) throw new Error(`no table after ${heading}`);
  const rows: string[][] = [];
  for (const line of lines.slice(dashes + 1)) {
    if (line.trim() === "" || /^\(\d+ rows?\)$/.test(line.trim())) break;
    rows.push(line.trim().split(/\s{2,}|\s+(?=\S)/));
  }
  return rows;
}

/** Pids of live processes whose command line mentions `text` (e.g. a data dir). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(text) && processAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
