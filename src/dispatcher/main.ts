/**
 * Runs one dispatcher process from environment variables (see env.ts):
 *   node --import tsx src/dispatcher/main.ts
 * Logs JSON lines (pino) to stdout, including `dispatcher.listening` with the bound address.
 * SIGTERM / SIGINT stop the loops and the server gracefully.
 */
import { describeError } from "../core/errors.ts";
import { createDispatcher } from "./dispatcher.ts";
import { dispatcherConfigFromEnv } from "./env.ts";

try {
  const cfg = dispatcherConfigFromEnv(process.env);
  const dispatcher = await createDispatcher(cfg.options);
  await dispatcher.listen({ host: cfg.host, port: cfg.port });
  await dispatcher.start();
  const shutdown = () => {
    dispatcher.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
} catch (err) {
  process.stderr.write(`dispatcher failed to start: ${describeError(err)}\n`);
  process.exit(1);
}
