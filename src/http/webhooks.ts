// POST /hooks/:tenant/:function/:hook: webhook intake (verified by signature, not by API key),
// and /api/tenants/:tenant/webhooks: the hooks to paste into providers, the deliveries, replays.
import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { IsoboxError } from "../errors.ts";
import { listFunctions } from "../functions/store.ts";
import { enqueue } from "../jobs/enqueue.ts";
import { getEvent, listEvents, type EventRow } from "../webhooks/events.ts";
import { MAX_WEBHOOK_BYTES, receive, storedHeaders, UNSTORED_HEADERS, webhookPayload } from "../webhooks/intake.ts";
import { usableKeys } from "../webhooks/keys.ts";
import { samplePayload, signedHeaders } from "../webhooks/sign.ts";
import { payloadJson } from "../jobs/enqueue.ts";
import { readJson } from "./json.ts";
import { WebhookRejected } from "../webhooks/signature.ts";
import { scopedTenant } from "./auth.ts";
import { queryCursor } from "./cursor.ts";
import { readBody } from "./body.ts";
import { fromZod } from "./errors.ts";
import { baseUrl } from "./json.ts";
import type { Services } from "./services.ts";
import { RejectionBudget } from "../webhooks/rejection-budget.ts";
import type { AppEnv } from "./app-env.ts";

const EventsQuery = z.strictObject({
  function: z.string().optional(),
  hook: z.string().optional(),
  status: z.enum(["accepted", "rejected"]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

export const SendBody = z.strictObject({ payload: z.unknown().optional() });

export function hookIntakeRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const budget = new RejectionBudget();
  app.post("/hooks/:tenant/:function/:hook", async (c) => {
    const tenant = c.req.param("tenant");
    const name = c.req.param("function");
    const fn = await services.registry.get(tenant, name);
    if (!fn) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name}`);
    const headers = readHeaders(c);
    // An oversized body is refused like a bad signature: recorded, so the user sees why.
    const body = headers.refused ?? await readBody(c.req.raw, MAX_WEBHOOK_BYTES).then(
      (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      () => new WebhookRejected("ERR_BODY_TOO_LARGE", `The body is larger than ${MAX_WEBHOOK_BYTES} bytes`),
    );
    const received = await receive(services.db, services.secrets, budget, fn, c.req.param("hook"), headers.stored, body);
    return c.json({ eventId: received.eventId, jobId: received.jobId }, 202);
  });
  return app;
}

/**
 * The delivery's headers as stored. Node's HTTP parser refuses NUL, CR and LF in a header value,
 * but with its lenient parser (--insecure-http-parser) they arrive, and building the request's
 * Headers then throws: such a delivery is refused (and recorded with the raw headers) rather than
 * answered with a 500. Its body is not read: nothing about it can be verified.
 */
function readHeaders(c: Context<AppEnv>): { stored: Record<string, string>; refused?: WebhookRejected } {
  try {
    return { stored: storedHeaders(c.req.raw.headers) };
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    const raw = (c.env as { incoming?: { rawHeaders?: string[] } } | undefined)?.incoming?.rawHeaders ?? [];
    const stored: Record<string, string> = {};
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      if (!UNSTORED_HEADERS.has(name)) stored[name] = raw[i + 1];
    }
    const bad = Object.keys(stored).find((name) => /[\0\r\n]/.test(stored[name]));
    const which = bad === undefined ? "A header" : `The ${bad} header`;
    return { stored, refused: new WebhookRejected("ERR_BAD_REQUEST", `${which} holds a NUL, CR or LF character, which HTTP does not allow in a header value`) };
  }
}

function eventView(event: EventRow, full: boolean) {
  return {
    id: event.id,
    function: event.function,
    hook: event.hook,
    status: event.status,
    ...(event.deliveryId ? { deliveryId: event.deliveryId } : {}),
    ...(event.reason ? { reason: event.reason } : {}),
    ...(event.jobId ? { jobId: event.jobId } : {}),
    receivedAt: event.receivedAt.toISOString(),
    ...(full ? { headers: event.headers, ...(event.body === null ? {} : { body: event.body }) } : {}),
  };
}

/**
 * An accepted event's payload, built again. Intake checked it; an event stored before a check
 * existed may fail one now, which is a 409 for this event, not a 500.
 */
function replayPayload(headers: Record<string, string>, body: string): string {
  try {
    return webhookPayload(headers, body);
  } catch (error) {
    if (error instanceof WebhookRejected) throw new IsoboxError("ERR_CONFLICT", `The event cannot be replayed: ${error.message}`);
    throw error;
  }
}

export function webhookRoutes(services: Services): Hono<AppEnv> {
  const { db, registry } = services;
  const app = new Hono<AppEnv>();
  // Refusals of test deliveries are stored within a budget of their own.
  const budget = new RejectionBudget();

  // Every webhook of the tenant's functions, with the URL to give the provider.
  app.get("/", async (c) => {
    const tenant = scopedTenant(c);
    const hooks = [];
    for (const row of await listFunctions(db.orm, tenant)) {
      const fn = await registry.get(tenant, row.name);
      for (const hook of fn?.manifest.webhooks ?? []) {
        hooks.push({ function: row.name, hook: hook.name, scheme: hook.verify.scheme, secret: hook.verify.secret, url: `${baseUrl(c)}/hooks/${tenant}/${row.name}/${hook.name}` });
      }
    }
    return c.json({ webhooks: hooks });
  });

  app.get("/events", async (c) => {
    const tenant = scopedTenant(c);
    const query = EventsQuery.safeParse(c.req.query());
    if (!query.success) throw fromZod(query.error, "query");
    const { cursor, limit, ...filter } = query.data;
    const { page, nextCursor } = await listEvents(db, tenant, { ...filter, limit, cursor: queryCursor(cursor) });
    return c.json({
      events: page.map((event) => eventView(event, false)),
      nextCursor,
    });
  });

  const find = async (c: Context<AppEnv>) => {
    const tenant = scopedTenant(c);
    const event = await getEvent(db, tenant, c.req.param("id") ?? "");
    if (!event) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} has no webhook event ${c.req.param("id")}`);
    return { tenant, event };
  };

  app.get("/events/:id", async (c) => c.json(eventView((await find(c)).event, true)));

  // A test delivery signed as the hook's provider signs, with the stored secret, received through
  // the intake's own path (verification included): `isobox hooks send`.
  app.post("/:function/:hook/send", async (c) => {
    const tenant = scopedTenant(c);
    const fn = await registry.get(tenant, c.req.param("function"));
    if (!fn) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${c.req.param("function")}`);
    const hook = fn.manifest.webhooks?.find((h) => h.name === c.req.param("hook"));
    if (!hook) throw new IsoboxError("ERR_NOT_FOUND", `Function ${tenant}/${fn.name} has no webhook ${c.req.param("hook")}`);
    const { payload } = await readJson(c, SendBody);
    const body = Buffer.from(payloadJson(payload === undefined ? samplePayload(hook.verify.scheme) : payload, "body.payload"));
    const secret = (await services.secrets.env(tenant, [hook.verify.secret]))[hook.verify.secret];
    const [key] = secret === undefined ? [] : usableKeys(hook.verify.scheme, secret);
    if (!key) throw new IsoboxError("ERR_CONFLICT", `The secret ${hook.verify.secret} of tenant ${tenant} holds no signing key for scheme ${hook.verify.scheme}: set it with isobox secrets set ${hook.verify.secret}`);
    const received = await receive(db, services.secrets, budget, fn, hook.name, signedHeaders(hook, key, body), body);
    return c.json({ eventId: received.eventId, jobId: received.jobId }, 202);
  });

  // Runs an accepted delivery again as a new job (the provider is not involved). The event keeps
  // pointing at the job its delivery started: a redelivery still answers with that one.
  app.post("/events/:id/replay", async (c) => {
    const { tenant, event } = await find(c);
    if (event.status !== "accepted" || event.body === null) throw new IsoboxError("ERR_CONFLICT", `Event ${event.id} was rejected (${event.reason?.code}); only accepted deliveries can be replayed`);
    const fn = await registry.get(tenant, event.function);
    if (!fn) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${event.function}`);
    const job = await enqueue(db, fn, replayPayload(event.headers, event.body), { key: `webhook:${event.hook}:${event.deliveryId}:replay:${randomUUID()}` }, { trigger: "webhook" });
    return c.json({ eventId: event.id, jobId: job.id }, 202);
  });

  return app;
}
