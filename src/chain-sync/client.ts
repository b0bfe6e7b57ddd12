import type { EnabledResult, RetryFailedResult } from "./admin.ts";
import type { ApplyResult } from "./apply.ts";
import type { ChainSyncDataset } from "./grants.ts";
import { ADMIN_PREFIX } from "./routes.ts";
import type { JobStatus } from "./status.ts";

/** An admin API answer other than 2xx; `problems` lists spec / re-apply problems when given. */
export class ChainSyncAdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = "ChainSyncAdminError";
  }
}

/** Typed client of the chain_sync admin API (what `trace apply/status/pause/resume/retry-failed` call). */
export class ChainSyncAdminClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly adminToken: string,
  ) {
    this.base = `${baseUrl.replace(/\/+$/, "")}${ADMIN_PREFIX}`;
  }

  apply(yaml: string): Promise<ApplyResult> {
    return this.request("POST", "/apply", yaml, "application/yaml");
  }

  async list(): Promise<JobStatus[]> {
    return (await this.request<{ jobs: JobStatus[] }>("GET", "/jobs")).jobs;
  }

  status(name: string): Promise<JobStatus> {
    return this.request("GET", `/jobs/${encodeURIComponent(name)}`);
  }

  pause(name: string): Promise<EnabledResult> {
    return this.request("POST", `/jobs/${encodeURIComponent(name)}/pause`, "{}");
  }

  resume(name: string): Promise<EnabledResult> {
    return this.request("POST", `/jobs/${encodeURIComponent(name)}/resume`, "{}");
  }

  retryFailed(
    name: string,
    options: { datasetKey?: string; attempts?: number } = {},
  ): Promise<RetryFailedResult> {
    const body = {
      ...(options.datasetKey ? { dataset_key: options.datasetKey } : {}),
      ...(options.attempts ? { attempts: options.attempts } : {}),
    };
    return this.request(
      "POST",
      `/jobs/${encodeURIComponent(name)}/retry-failed`,
      JSON.stringify(body),
    );
  }

  async datasets(): Promise<ChainSyncDataset[]> {
    return (await this.request<{ datasets: ChainSyncDataset[] }>("GET", "/datasets")).datasets;
  }

  private async request<T>(
    method: "GET" | "POST",
    path: string,
    body?: string,
    contentType = "application/json",
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.adminToken}` };
    if (body !== undefined) headers["content-type"] = contentType;
    const res = await fetch(`${this.base}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new ChainSyncAdminError(
        res.status,
        `dispatcher answered ${res.status} with a non-JSON body`,
      );
    }
    if (!res.ok) {
      const e = parsed as { error?: string; problems?: string[] };
      throw new ChainSyncAdminError(res.status, e.error ?? `HTTP ${res.status}`, e.problems ?? []);
    }
    return parsed as T;
  }
}
