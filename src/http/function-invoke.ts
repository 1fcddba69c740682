// POST /api/tenants/:tenant/functions/:name/invoke: one request to a function's fetch handler,
// sent with the caller's credentials whatever the function's routes.auth (the console's Test
// panel, scripts). The answer describes the function's response as JSON, with its run.
import { Hono } from "hono";
import { z } from "zod";
import type { WireRequest, WireResponse } from "../../sandbox/protocol.ts";
import { IsoboxError } from "../errors.ts";
import { scopedTenant } from "./auth.ts";
import { readJson } from "./json.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export const InvokeBody = z.strictObject({
  method: z.string().regex(/^[A-Z]{1,16}$/, "an HTTP method in capitals").default("GET"),
  /** The path and query the function sees, "/" and after. */
  path: z.string().startsWith("/", "starts with /").max(8192).default("/"),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().optional(),
});

const NO_BODY = new Set(["GET", "HEAD"]);

export function functionInvokeRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/:name/invoke", async (c) => {
    const tenant = scopedTenant(c);
    const name = c.req.param("name");
    const input = await readJson(c, InvokeBody);
    if (input.body !== undefined && NO_BODY.has(input.method)) throw new IsoboxError("ERR_BAD_REQUEST", `body: a ${input.method} request has no body`, { details: { field: "body.body" } });
    const fn = await services.registry.get(tenant, name);
    if (!fn) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name}`);
    const request: WireRequest = {
      method: input.method,
      url: new URL(input.path, new URL(c.req.url).origin).href,
      headers: wireHeaders(input.headers),
      body: input.body === undefined ? null : (new TextEncoder().encode(input.body).buffer as ArrayBuffer),
    };
    await services.limiter.enter(tenant);
    const started = performance.now();
    try {
      const { value, runId } = await services.invoker.invoke<WireResponse>(fn, "fetch", request, "http", { record: true });
      return c.json({ status: value.status, headers: pairs(value.headers), ...bodyOf(value.body), durationMs: performance.now() - started, runId });
    } finally {
      services.limiter.leave(tenant);
    }
  });
  return app;
}

/** The headers as a request may carry them: a bad name or value is a 400 naming it. */
function wireHeaders(given: Record<string, string>): string[] {
  const headers = new Headers();
  for (const [name, value] of Object.entries(given)) {
    try {
      headers.append(name, value);
    } catch {
      throw new IsoboxError("ERR_BAD_REQUEST", `headers.${name.slice(0, 100)}: not a valid header name or value`, { details: { field: `body.headers.${name.slice(0, 100)}` } });
    }
  }
  const wire: string[] = [];
  headers.forEach((value, name) => { wire.push(name, value); });
  return wire;
}

function pairs(wire: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < wire.length; i += 2) out.push([wire[i], wire[i + 1]]);
  return out;
}

/** Text when the bytes are UTF-8, else base64. */
function bodyOf(body: ArrayBuffer | null): { body: string } | { bodyBase64: string } {
  if (body === null) return { body: "" };
  try {
    return { body: new TextDecoder("utf-8", { fatal: true }).decode(body) };
  } catch {
    return { bodyBase64: Buffer.from(body).toString("base64") };
  }
}
