// The console's cookie authenticates only requests from the console itself. A page elsewhere (another
// site, or a function's page, which /fn serves with an opaque origin) can make the browser send
// the cookie; its requests are refused here. Bearer tokens are not ambient and skip this check.
import type { Context } from "hono";
import { IsoboxError } from "../errors.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Throws ERR_FORBIDDEN unless the request comes from the node's own origin: `Sec-Fetch-Site`, when
 * the browser sends it, must say same-origin (or none: typed in the address bar); a request that
 * changes anything must also carry an `Origin` naming this host (`null` never does), or, without
 * one, `Sec-Fetch-Site: same-origin`.
 */
export function assertSameOrigin(c: Context): void {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") refuse(`Sec-Fetch-Site is ${site}`);
  if (SAFE_METHODS.has(c.req.method)) return;
  const origin = c.req.header("origin");
  if (origin === undefined) {
    if (site !== "same-origin") refuse("it carries neither Origin nor Sec-Fetch-Site: same-origin");
    return;
  }
  if (hostOf(origin) !== c.req.header("host")?.toLowerCase()) refuse(`its Origin is ${origin.slice(0, 200)}`);
}

function hostOf(origin: string): string | undefined {
  if (!URL.canParse(origin)) return undefined;
  const url = new URL(origin);
  return url.protocol === "http:" || url.protocol === "https:" ? url.host : undefined;
}

function refuse(why: string): never {
  throw new IsoboxError("ERR_FORBIDDEN", `A request signed in by the console's cookie must come from the console's own origin; ${why}`);
}
