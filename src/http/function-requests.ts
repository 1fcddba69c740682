// ANY /fn/:tenant/:function/* → the function's fetch handler. The guest sees the request URL
// without the /fn/:tenant/:function prefix, so an app written for "/" runs unchanged.
import { Hono, type Context } from "hono";
import type { WireRequest, WireResponse } from "../../sandbox/protocol.ts";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type TextMapGetter } from "@opentelemetry/api";
import { tracer } from "../telemetry/tracing.ts";
import { IsoboxError } from "../errors.ts";
import { toIsoboxError } from "./errors.ts";
import { readBodyOf } from "./body.ts";
import type { Services } from "./services.ts";
import { NAME_PATTERN } from "../names.ts";
import type { AppEnv } from "./app-env.ts";
import { assertReaches } from "./auth.ts";
import { withoutSessionCookie } from "../console/sessions.ts";

/**
 * On every function response while the console is served from this origin: a page a function
 * answers with runs with an opaque origin, so its script cannot call /api with a signed-in
 * person's cookie (README, "Console").
 */
export const FUNCTION_CSP = "sandbox allow-scripts allow-forms allow-popups";

const NULL_BODY = new Set([101, 204, 205, 304]);
const HEADER_GETTER: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

export function functionRequestRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const handler = (c: Context<AppEnv>) => invoke(services, c);
  app.all("/fn/:tenant/:function", handler);
  app.all("/fn/:tenant/:function/*", handler);
  return app;
}

async function invoke(services: Services, c: Context<AppEnv>): Promise<Response> {
  const started = performance.now();
  const tenant = c.req.param("tenant")!;
  const name = c.req.param("function")!;
  // A name no function can have is not looked up (a NUL in it would reach SQL).
  const fn = NAME_PATTERN.test(tenant) && NAME_PATTERN.test(name) ? await services.registry.get(tenant, name) : undefined;
  // Only functions that exist are counted: made-up names must not create metric series.
  if (!fn) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name}`);
  try {
    if (fn.auth === "key") await authorize(services, c, tenant);
    await services.limiter.enter(tenant);
    let response: Response;
    // The request's span continues the caller's trace (an incoming traceparent).
    const parent = propagation.extract(ROOT_CONTEXT, c.req.raw.headers, HEADER_GETTER);
    const span = tracer.startSpan(`${c.req.method} /fn/${tenant}/${name}`, { kind: SpanKind.SERVER, attributes: { "http.request.method": c.req.method, "isobox.tenant": tenant, "isobox.function": name } }, parent);
    try {
      const request = await toWire(c, tenant, name);
      const { value } = await context.with(trace.setSpan(parent, span), () => services.invoker.invoke<WireResponse>(fn, "fetch", request, "http"));
      response = fromWire(value, services.config.console);
      span.setAttribute("http.response.status_code", response.status);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
      services.limiter.leave(tenant);
    }
    services.metrics.httpRequest(fn.tenant, fn.name, response.status, (performance.now() - started) / 1000);
    return response;
  } catch (error) {
    const { code, status } = toIsoboxError(error);
    services.metrics.httpRequest(fn.tenant, fn.name, status, (performance.now() - started) / 1000, code);
    throw error;
  }
}

async function authorize(services: Services, c: Context<AppEnv>, tenant: string): Promise<void> {
  const principal = await services.auth.principal(c.req.header("authorization"));
  if (!principal) throw new IsoboxError("ERR_UNAUTHORIZED", "This function needs Authorization: Bearer <tenant API key> (its manifest has routes.auth \"key\")");
  assertReaches(principal, tenant);
}

async function toWire(c: Context<AppEnv>, tenant: string, name: string): Promise<WireRequest> {
  const raw = c.req.raw;
  const url = new URL(raw.url);
  const prefix = `/fn/${encodeURIComponent(tenant)}/${encodeURIComponent(name)}`;
  const at = url.pathname.indexOf(prefix);
  const rest = at >= 0 ? url.pathname.slice(at + prefix.length) : url.pathname;
  url.pathname = rest.startsWith("/") ? rest : `/${rest}`;
  const headers: string[] = [];
  raw.headers.forEach((value, key) => {
    if (key !== "cookie") headers.push(key, value);
    else if ((value = withoutSessionCookie(value)) !== "") headers.push(key, value);
  });
  const hasBody = raw.method !== "GET" && raw.method !== "HEAD";
  const body = hasBody ? await readBodyOf(c) : null;
  return { method: raw.method, url: url.href, headers, body: body && body.byteLength > 0 ? exactBuffer(body) : null };
}

/**
 * A plain header object and a Uint8Array body keep @hono/node-server on its fast path (no
 * Headers, no stream), ~10% more hello requests a second. Repeated names (several
 * set-cookie) need a Headers. `sandboxed`: the response gets an opaque origin (FUNCTION_CSP), on
 * top of any policy of the function's own.
 */
function fromWire(wire: WireResponse, sandboxed: boolean): Response {
  const pairs = sandboxed ? [...wire.headers, "content-security-policy", FUNCTION_CSP] : wire.headers;
  const plain: Record<string, string> = Object.create(null);
  let repeated = false;
  for (let i = 0; i < pairs.length && !repeated; i += 2) {
    if (pairs[i] in plain) repeated = true;
    else plain[pairs[i]] = pairs[i + 1];
  }
  let headers: Record<string, string> | Headers = plain;
  if (repeated) {
    headers = new Headers();
    for (let i = 0; i < pairs.length; i += 2) headers.append(pairs[i], pairs[i + 1]);
  }
  const body = NULL_BODY.has(wire.status) || wire.body === null ? null : new Uint8Array(wire.body);
  return new Response(body, { status: wire.status, statusText: wire.statusText, headers });
}

/** The bytes as an ArrayBuffer of their own (what crosses into the isolate). */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = bytes;
  return byteOffset === 0 && byteLength === buffer.byteLength ? (buffer as ArrayBuffer) : (buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer);
}
