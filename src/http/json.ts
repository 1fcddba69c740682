// Reading and answering JSON on the management API.
import type { Context } from "hono";
import type { z } from "zod";
import { jsonProblem } from "../db/storable.ts";
import { IsoboxError } from "../errors.ts";
import { readBodyOf } from "./body.ts";
import { fromZod } from "./errors.ts";
import type { AppEnv } from "./app-env.ts";

/**
 * The body as JSON, checked against `schema`. Before that, every string and key must be text
 * Postgres can store and the value nest at most MAX_JSON_DEPTH levels: a 400 names the field.
 */
export async function readJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S>> {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(await readBodyOf(c));
  let body: unknown = undefined;
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new IsoboxError("ERR_BAD_REQUEST", `body: invalid JSON (${(error as Error).message})`, { details: { field: "body" } });
    }
  }
  refuseUnstorable(body, "body");
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw fromZod(parsed.error, "body");
  return parsed.data;
}

/** The origin (plus any mount prefix) the client used, for URLs in responses. */
export function baseUrl(c: Context<AppEnv>): string {
  const url = new URL(c.req.url);
  const at = url.pathname.indexOf("/api/");
  return url.origin + (at > 0 ? url.pathname.slice(0, at) : "");
}

/** A 400 naming the field of `value` (under `root`) that Postgres could not store or that nests too deep. */
export function refuseUnstorable(value: unknown, root: string): void {
  const found = jsonProblem(value);
  if (!found) return;
  const field = `${root}${found.path}`;
  throw new IsoboxError("ERR_BAD_REQUEST", `${field}: ${found.problem}`, { details: { field } });
}
