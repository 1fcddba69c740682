// Reads a request body up to the configured limit: Content-Length is checked first, and a
// chunked body is counted as it streams, so an oversized upload is refused without being held.
import type { Context, MiddlewareHandler } from "hono";
import { IsoboxError } from "../errors.ts";
import type { AppEnv } from "./app-env.ts";

/** Puts the body limit on the context, where readBodyOf finds it. */
export function bodyLimit(max: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("maxBodyBytes", max);
    await next();
  };
}

/** The request's body, within the limit bodyLimit set. */
export function readBodyOf(c: Context<AppEnv>): Promise<Uint8Array> {
  return readBody(c.req.raw, c.get("maxBodyBytes"));
}

function tooLarge(max: number): IsoboxError {
  return new IsoboxError("ERR_BODY_TOO_LARGE", `The request body is larger than ${max} bytes`);
}

export async function readBody(request: Request, max: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > max) throw tooLarge(max);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
