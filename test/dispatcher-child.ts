/**
 * Child process for test/dispatcher-processes.test.ts: enqueues tasks in a loop as fast as it
 * can and prints each committed task id, until it is killed. Used to kill a producer between
 * writing tasks and any dispatcher draining their wake-ups.
 *   DATABASE_URL=… node --import tsx test/dispatcher-child.ts
 */
import { randomUUID } from "node:crypto";
import { enqueueTask } from "../src/dispatcher/enqueue.ts";
import { cryoPayload } from "../src/dispatcher/testkit.ts";
import { connect } from "../src/state/index.ts";

const sql = connect(process.env.DATABASE_URL!, { max: 4 });
for (;;) {
  const taskId = randomUUID();
  await enqueueTask(sql, { taskId, payload: cryoPayload() });
  process.stdout.write(`${taskId}\n`);
}
