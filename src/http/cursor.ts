// A list's `cursor` query parameter, decoded, or a 400 that names it.
import { decodeCursor } from "../db/cursor.ts";
import { IsoboxError } from "../errors.ts";

export function queryCursor(cursor: string | undefined): { at: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor(cursor);
  if (!decoded) throw new IsoboxError("ERR_BAD_REQUEST", "query.cursor: not a cursor this API returned", { details: { field: "query.cursor" } });
  return decoded;
}
