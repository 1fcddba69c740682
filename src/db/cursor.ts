// Keyset pagination cursors: the last row's time and id, opaque to clients (base64url).

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString("base64url");
}

/** The time and id a cursor holds, or undefined when it is not one this API made. */
export function decodeCursor(cursor: string): { at: Date; id: string } | undefined {
  const [time, id] = Buffer.from(cursor, "base64url").toString().split("|");
  const at = new Date(time);
  return id && !Number.isNaN(at.getTime()) ? { at, id } : undefined;
}
