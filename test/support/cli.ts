import { spawn } from "node:child_process";
import { join } from "node:path";

/** `node bin/trace.js`, as a user runs it. */
export const TRACE_BIN = join(import.meta.dirname, "..", "..", "bin", "trace.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `trace <args>` as a child process to completion. A run that outlives `timeoutMs` is
 * killed and rejected with what it printed, so a hang reads as one rather than as a bad exit.
 */
export function runTrace(
  args: string[],
  options: {
    env: Record<string, string | undefined>;
    cwd?: string;
    input?: string;
    timeoutMs?: number;
  },
): Promise<CliRun> {
  const env = Object.fromEntries(
    Object.entries(options.env).filter(([, v]) => v !== undefined),
  ) as NodeJS.ProcessEnv;
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TRACE_BIN, ...args], {
      env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `trace ${args.join(" ")} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
