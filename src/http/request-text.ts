// The path and query of a management or webhook request are text Postgres can hold: ids, names
// and cursors from them reach SQL, and a NUL there failed the statement with a 500. Refused at
// the edge with a 400 naming the part.
import type { MiddlewareHandler } from "hono";
import { isStorableText } from "../db/storable.ts";
import { IsoboxError } from "../errors.ts";
import type { AppEnv } from "./app-env.ts";

function refuse(field: string, problem: string): never {
  throw new IsoboxError("ERR_BAD_REQUEST", `${field}: ${problem}`, { details: { field } });
}

export const storableRequestText: MiddlewareHandler<AppEnv> = async (c, next) => {
  const url = new URL(c.req.url);
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    refuse("path", "is not valid percent-encoded UTF-8");
  }
  if (!isStorableText(path)) refuse("path", "holds a NUL character");
  for (const [name, value] of url.searchParams) {
    if (!isStorableText(name) || !isStorableText(value)) refuse(`query.${isStorableText(name) ? name : "?"}`, "holds a NUL character");
  }
  await next();
};
