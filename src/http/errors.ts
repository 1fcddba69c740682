// Every error leaves as its status plus {"error":{"code","message"}}; nothing of the host's stack.
import { ZodError } from "zod";
import { IsoboxError } from "../errors.ts";

export function errorResponse(error: unknown): Response {
  const failure = toIsoboxError(error);
  if (failure.code === "ERR_INTERNAL" && !(error instanceof IsoboxError)) console.error("isobox: unexpected error", error);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (failure.retryAfter !== undefined) headers["retry-after"] = String(failure.retryAfter);
  return new Response(JSON.stringify(failure.toJSON()), { status: failure.status, headers });
}

/** The error a request answers with: what it threw, or a 500 that says nothing of the host. */
export function toIsoboxError(error: unknown): IsoboxError {
  if (error instanceof IsoboxError) return error;
  if (error instanceof ZodError) return fromZod(error, "body");
  if (error instanceof Error && error.name === "BodyLimitError") return new IsoboxError("ERR_BODY_TOO_LARGE", error.message);
  return new IsoboxError("ERR_INTERNAL", "Internal error");
}

/** A zod failure as a 400 that names the field. */
export function fromZod(error: ZodError, root: string): IsoboxError {
  const issue = error.issues[0];
  const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path;
  const field = [root, ...path.map(String)].join(".");
  const message = issue.code === "unrecognized_keys" ? "unknown key" : issue.message;
  return new IsoboxError("ERR_BAD_REQUEST", `${field}: ${message}`, { details: { field } });
}
