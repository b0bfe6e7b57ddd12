import { startReplayServer } from "../../test/support/replay-server.ts";

const s = await startReplayServer({ port: 18545 });
console.log(s.url);
setTimeout(() => s.stop(), 60000);
