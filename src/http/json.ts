// Reading and answering JSON on the management API.
import type { Context } from "hono";
import type { z } from "zod";
import { IsoboxError } from "../errors.ts";
import { readBodyOf } from "./body.ts";
import { fromZod } from "./errors.ts";

export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = new TextDecoder().decode(await readBodyOf(c));
  let body: unknown = undefined;
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new IsoboxError("ERR_BAD_REQUEST", `body: invalid JSON (${(error as Error).message})`);
    }
  }
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw fromZod(parsed.error, "body");
  return parsed.data;
}

/** The origin (plus any mount prefix) the client used, for URLs in responses. */
export function baseUrl(c: Context): string {
  const url = new URL(c.req.url);
  const at = url.pathname.indexOf("/api/");
  return url.origin + (at > 0 ? url.pathname.slice(0, at) : "");
}
