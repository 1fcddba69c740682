// GET /api/tenants/:tenant/logs?function=&limit=: a function's latest log lines; with &follow=1,
// server-sent events: the latest lines, then each new line as a guest writes it, on any node.
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { LiveLine } from "../telemetry/live-logs.ts";
import { recentLogs } from "../runs/store.ts";
import { scopedTenant } from "./auth.ts";
import { fromZod } from "./errors.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

const LogsQuery = z.strictObject({
  function: z.string().min(1),
  limit: z.coerce.number().int().min(0).max(1000).default(100),
  follow: z.enum(["0", "1", "true", "false"]).optional(),
});

/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export function logRoutes(services: Services): Hono<AppEnv> {
  const live = services.liveLogs;
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const tenant = scopedTenant(c);
    const query = LogsQuery.safeParse(c.req.query());
    if (!query.success) throw fromZod(query.error, "query");
    const { function: fn, limit, follow } = query.data;
    const recent = (await recentLogs(services.db.orm, tenant, fn, limit)).map(({ fields, ...line }) => ({ ...line, ...(fields ? { fields } : {}), function: fn, time: line.time.toISOString() }));
    if (follow !== "1" && follow !== "true") return c.json({ logs: recent });
    const queue: LiveLine[] = [...recent];
    let wake: (() => void) | undefined;
    // Followed before the response starts: a line written once the client has the headers is
    // not missed (this node publishes at once; other nodes once the announcement reaches them).
    const unfollow = await live.follow(tenant, fn, (line) => {
      queue.push(line);
      wake?.();
    });
    return streamSSE(c, async (stream) => {
      let open = !live.closed.aborted;
      const end = () => {
        open = false;
        wake?.();
      };
      stream.onAbort(end);
      live.closed.addEventListener("abort", end, { once: true });
      try {
        while (open) {
          while (queue.length > 0 && open) await stream.writeSSE({ event: "log", data: JSON.stringify(queue.shift()) });
          await new Promise<void>((resolve) => {
            const keepAlive = setTimeout(resolve, KEEPALIVE_MS);
            wake = () => {
              clearTimeout(keepAlive);
              resolve();
            };
          });
          wake = undefined;
          if (open && queue.length === 0) await stream.write(": keep-alive\n\n");
        }
      } finally {
        live.closed.removeEventListener("abort", end);
        unfollow();
      }
    });
  });
  return app;
}
