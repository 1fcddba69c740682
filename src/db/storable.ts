// What Postgres can store. Its text holds no NUL, and jsonb refuses the escapes \u0000 and a lone
// surrogate (\ud800 without its pair), which JavaScript strings may hold and JSON.stringify writes.
// Values callers send are refused at the edge (src/http/json.ts names the field); values a guest
// produces (results, step outputs, logs, errors) are made storable here, the way TextEncoder
// writes them: each such character becomes U+FFFD.

/** A NUL or a lone surrogate: what `storableText` replaces. */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** An escape of NUL or of a lone surrogate in JSON text, after an even number of backslashes (a real escape). */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2}\\u)d[c-f][0-9a-f]{2})/gi;

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** Text as Postgres can hold it: NUL and lone surrogates as U+FFFD. */
export function storableText(text: string): string {
  return isStorableText(text) ? text : text.replaceAll("\0", "\ufffd").toWellFormed();
}

/**
 * JSON text as jsonb can hold it: the escapes of NUL and of lone surrogates JSON.stringify wrote
 * become U+FFFD. A pair of surrogates is written as itself, never escaped, so an escaped high
 * surrogate followed by an escaped low one only comes from hand-written JSON, and is kept.
 */
export function storableJsonText(json: string): string {
  if (!json.includes("\\u")) return json;
  return json.replace(UNSTORABLE_ESCAPE, (_, backslashes: string) => `${backslashes}\\ufffd`);
}

/** JSON.stringify for a jsonb parameter. */
export function storableJson(value: unknown): string {
  return storableJsonText(JSON.stringify(value));
}

/**
 * Whether a database error is about the data of the statement (SQLSTATE classes 22 data
 * exception, 23 integrity, 54 program limit such as a nesting too deep) rather than the
 * connection: such a statement fails again however often it is sent.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(22|23|54)/.test(code);
}
