// What of a delivery Postgres (and PGlite) can store. The body is a text column, the headers and
// the job's payload ({headers, body, event}) are jsonb, the delivery id is in unique indexes. A
// correctly signed delivery that cannot be stored as it came is refused here with the reason,
// before any statement could fail on it: a failed insert would answer 500, and the provider would
// retry it for days. Nothing is rewritten on the way: what is stored is what the provider sent.
import { isUtf8 } from "node:buffer";
import { WebhookRejected } from "./signature.ts";
import { isStorableText, jsonProblem, MAX_JSON_DEPTH, storableText } from "../db/storable.ts";

/**
 * Longest delivery id, in UTF-8 bytes. It is part of unique btree keys (the event's, the job's),
 * which Postgres caps at about 2,700 bytes; real ids are 30 to 64 characters.
 */
export const MAX_DELIVERY_ID_BYTES = 255;

function refuse(message: string): never {
  throw new WebhookRejected("ERR_BAD_REQUEST", message);
}

/**
 * The body as text. Invalid UTF-8 would be stored with replacement characters, no longer the bytes
 * that were signed; a NUL byte cannot be stored as text at all.
 */
export function bodyText(body: Buffer): string {
  if (!isUtf8(body)) refuse(`The body is not valid UTF-8 (first bad byte at offset ${firstInvalidUtf8(body)}); it must be text to be stored`);
  const nul = body.indexOf(0);
  if (nul >= 0) refuse(`The body contains a NUL byte (at offset ${nul}), which cannot be stored as text`);
  return body.toString("utf8");
}

/** Offset of the first byte that does not start a valid UTF-8 sequence (only called on invalid input). */
function firstInvalidUtf8(body: Buffer): number {
  for (let i = 0; i < body.length;) {
    const lead = body[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const length = lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    // isUtf8 on the one sequence judges continuation bytes, overlong forms and surrogates.
    if (length === 0 || !isUtf8(body.subarray(i, i + length))) return i;
    i += length;
  }
  return -1;
}

/**
 * The body parsed as JSON, else null (form-encoded, XML: the handler reads `body`); refused when
 * not storable. It nests at most MAX_JSON_DEPTH levels, as all JSON Isobox takes: every consumer
 * of it recurses once per level (JSON.stringify here and in the guest, jsonb's input and output),
 * and deep enough nesting exhausts each one's stack: JSON.stringify throws, Postgres refuses
 * ("stack depth limit exceeded"), PGlite does not return for minutes, stalling every statement of
 * the node. Provider events nest about ten levels.
 */
export function parseEvent(text: string): unknown {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return null;
  }
  const problem = jsonProblem(event);
  if (problem) refuse(`The body's JSON ${problem.kind === "depth" ? `is nested more than ${MAX_JSON_DEPTH} levels deep` : `holds a \\u0000 escape or an unpaired surrogate${problem.path ? ` at ${problem.path.slice(1)}` : ""}, which jsonb cannot store`}`);
  return event;
}

export function checkDeliveryId(id: string): void {
  const bytes = Buffer.byteLength(id);
  if (bytes > MAX_DELIVERY_ID_BYTES) refuse(`The delivery id is ${bytes} bytes long; at most ${MAX_DELIVERY_ID_BYTES} are accepted`);
  if (!isStorableText(id)) refuse("The delivery id holds a NUL character or an unpaired surrogate, which cannot be stored");
}

/** A rejected delivery's headers as they can be stored (the reason it is kept for; never an accepted one's). */
export function storableHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) kept[storableText(name)] = storableText(value);
  return kept;
}
