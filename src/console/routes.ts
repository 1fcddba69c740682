// The browser console (README, "Console"): the page at /, its hashed assets, and the session a
// token opens. Everything else the console does goes through the documented /api.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { IsoboxError } from "../errors.ts";
import type { AppEnv } from "../http/app-env.ts";
import { readJson } from "../http/json.ts";
import { randomBytes } from "node:crypto";
import { ASSET_PATH, consoleFiles, NONCE_PLACEHOLDER } from "./assets.ts";
import { assertSameOrigin } from "./same-origin.ts";
import { SESSION_COOKIE, type ConsoleSessions } from "./sessions.ts";

const SignIn = z.strictObject({ token: z.string().min(1).max(4096) });

/**
 * The page runs only the console's own scripts (no inline script, no eval) and cannot be framed;
 * what it shows of tenants is text (see page/), and this policy would stop a script that slipped in.
 * The editor adds its styles as <style> elements: those carry the page's nonce, no other inline
 * style applies.
 */
export function consoleCsp(styleNonce?: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self'${styleNonce ? ` 'nonce-${styleNonce}'` : ""}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (!c.res.headers.has("content-security-policy")) c.header("content-security-policy", consoleCsp());
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "no-referrer");
  c.header("x-frame-options", "DENY");
  c.header("cross-origin-opener-policy", "same-origin");
};

export function consoleRoutes(sessions: ConsoleSessions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/", securityHeaders);
  app.use("/console/*", securityHeaders);

  app.get("/", async (c) => {
    const { index } = await consoleFiles();
    const nonce = randomBytes(16).toString("base64");
    c.header("cache-control", "no-store");
    c.header("content-security-policy", consoleCsp(nonce));
    return c.html(index.replace(NONCE_PLACEHOLDER, nonce));
  });

  app.get(`${ASSET_PATH}:file`, async (c) => {
    const asset = (await consoleFiles()).assets.get(c.req.param("file"));
    if (!asset) throw new IsoboxError("ERR_NOT_FOUND", "No such console asset");
    // The name holds the content's hash: a changed file has a new name.
    c.header("cache-control", "public, max-age=31536000, immutable");
    c.header("content-type", asset.type);
    c.header("vary", "accept-encoding");
    if (!/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) return c.body(asset.body as Uint8Array<ArrayBuffer>);
    c.header("content-encoding", "gzip");
    return c.body(asset.gzip as Uint8Array<ArrayBuffer>);
  });

  app.post("/console/session", async (c) => {
    assertSameOrigin(c);
    const { token } = await readJson(c, SignIn);
    const opened = await sessions.open(token);
    if (!opened) throw new IsoboxError("ERR_UNAUTHORIZED", "That token is neither the admin token nor an API key of a tenant", { details: { field: "body.token" } });
    setCookie(c, SESSION_COOKIE, opened.cookie, { httpOnly: true, sameSite: "Strict", path: "/", secure: isHttps(c) });
    return c.body(null, 204);
  });

  app.get("/console/session", async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    const principal = cookie === undefined ? undefined : await sessions.principal(cookie);
    if (!principal) throw new IsoboxError("ERR_UNAUTHORIZED", "Not signed in");
    return c.json({ principal });
  });

  app.delete("/console/session", async (c) => {
    assertSameOrigin(c);
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie !== undefined) await sessions.close(cookie);
    deleteCookie(c, SESSION_COOKIE, { httpOnly: true, sameSite: "Strict", path: "/", secure: isHttps(c) });
    return c.body(null, 204);
  });

  return app;
}

/** Served over HTTPS, directly or behind a proxy that says so. */
function isHttps(c: Context<AppEnv>): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto")?.split(",")[0].trim() === "https";
}
