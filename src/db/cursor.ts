// Keyset pagination, newest first: a page is the rows after the last one of the page before, by
// (time, id), read as `limit + 1` rows so the extra one says whether a next page exists. The
// cursor is that last row's time and id, opaque to clients (base64url).
import { sql, type SQL } from "drizzle-orm";
import { isStorableText } from "./storable.ts";

export interface Cursor {
  at: Date;
  id: string;
}

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString("base64url");
}

/** The time and id a cursor holds, or undefined when it is not one this API made. */
export function decodeCursor(cursor: string): Cursor | undefined {
  if (cursor.length > 400) return undefined;
  const [time, id, extra] = Buffer.from(cursor, "base64url").toString().split("|");
  const at = new Date(time);
  // What goes into a query must be an id this API could have made: no NUL, a real time.
  if (extra !== undefined || !id || id.length > 200 || !isStorableText(id) || Number.isNaN(at.getTime())) return undefined;
  return { at, id };
}

/** The condition of rows after `cursor` in (time desc, id desc) order; `time` names the column. */
export function afterCursor(time: SQL, cursor: Cursor): SQL {
  return sql`(${time}, id) < (${cursor.at.toISOString()}::timestamptz, ${cursor.id})`;
}

/** A page of the `limit + 1` rows read, and the cursor of the next page (null on the last). */
export function pageOf<T>(rows: T[], limit: number, key: (row: T) => Cursor): { page: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { page: rows, nextCursor: null };
  const page = rows.slice(0, limit);
  const last = key(page[page.length - 1]);
  return { page, nextCursor: encodeCursor(last.at, last.id) };
}
