// Structured log fields: console.log("fetched", { url, ms }) hands the host the object's JSON,
// stored beside the message (run_logs.fields) so lines can be filtered and shown by field.
import { redact } from "../capabilities/secrets.ts";

/** A log line's structured fields, secrets redacted (raw and as they appear inside JSON strings). */
export function logFields(json: string | undefined, hidden: string[]): Record<string, unknown> | undefined {
  if (json === undefined) return undefined;
  const escaped = hidden.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]);
  try {
    const fields: unknown = JSON.parse(redact(json, escaped));
    return typeof fields === "object" && fields !== null && !Array.isArray(fields) ? (fields as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
