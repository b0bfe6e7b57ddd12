import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { errorCategory, isRetryable } from "../core/errors.ts";
import { DispatcherClient } from "./dispatcher-client.ts";

/**
 * The claim reply is checked before the worker acts on it. A real dispatcher never sends these
 * replies, so a bare HTTP server on 127.0.0.1 plays a mismatched (older or newer) one.
 */
let reply: { status: number; body: unknown } = { status: 200, body: {} };
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(reply.status, { "content-type": "application/json" });
    res.end(JSON.stringify(reply.body));
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
after(() => new Promise<void>((resolve) => server.close(() => resolve())));
const client = new DispatcherClient(
  `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  "w".repeat(32),
  "worker-1",
);
const taskId = "11111111-1111-4111-8111-111111111111";
const good = {
  task_id: taskId,
  attempt: 1,
  lease_token: "lease",
  lease_expires_at: new Date().toISOString(),
  capability_token: "cap",
  work_payload: { kind: "cryo_ingest" },
};

test("a well-formed claim reply is returned as claimed", async () => {
  reply = { status: 200, body: good };
  assert.deepEqual(await client.claim(taskId), { kind: "claimed", task: good });
});

test("malformed claim replies are retryable protocol errors, never acted on", async () => {
  for (const body of [
    {},
    { ...good, attempt: "1" },
    { ...good, lease_expires_at: "soon" },
    { ...good, capability_token: "" },
    { ...good, task_id: "22222222-2222-4222-8222-222222222222" },
  ]) {
    reply = { status: 200, body };
    const err = await client.claim(taskId).then(
      () => assert.fail(`accepted ${JSON.stringify(body)}`),
      (e: unknown) => e,
    );
    assert.equal(errorCategory(err), "dispatcher_protocol", JSON.stringify(body));
    assert.ok(isRetryable(err));
  }
});

test("a rejected worker token is fatal for the worker; 409 is not claimable", async () => {
  reply = { status: 401, body: { error: "invalid worker token" } };
  const err = await client.claim(taskId).catch((e: unknown) => e);
  assert.equal(errorCategory(err), "worker_unauthorized");
  assert.equal(isRetryable(err), false);
  reply = { status: 409, body: { error: "task already leased" } };
  assert.deepEqual(await client.claim(taskId), {
    kind: "not_claimable",
    status: 409,
    error: "task already leased",
  });
});
