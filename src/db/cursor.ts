// Keyset pagination cursors: the last row's time and id, opaque to clients (base64url).
import { isStorableText } from "./storable.ts";

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString("base64url");
}

/** The time and id a cursor holds, or undefined when it is not one this API made. */
export function decodeCursor(cursor: string): { at: Date; id: string } | undefined {
  if (cursor.length > 400) return undefined;
  const [time, id, extra] = Buffer.from(cursor, "base64url").toString().split("|");
  const at = new Date(time);
  // What goes into a query must be an id this API could have made: no NUL, a real time.
  if (extra !== undefined || !id || id.length > 200 || !isStorableText(id) || Number.isNaN(at.getTime())) return undefined;
  return { at, id };
}
