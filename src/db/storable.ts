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

/** Whether JSON text (from JSON.stringify) holds escapes jsonb refuses. */
export function isStorableJsonText(json: string): boolean {
  return storableJsonText(json) === json;
}

/** JSON.stringify for a jsonb parameter. */
export function storableJson(value: unknown): string {
  return storableJsonText(JSON.stringify(value));
}

/**
 * A database error caused by the data of its statement, not by the database's state: SQLSTATE
 * class 22 (data exception: bad encoding, an escape jsonb refuses), 23 (integrity) or 54 (a limit:
 * stack depth, index row size). Such a statement fails again however often it is sent. Returns
 * the database's own message (never a wrapper's, which quotes the statement's parameters); drivers
 * put the code on the error or, wrapped by drizzle, on its cause.
 */
export function dataError(error: unknown): string | undefined {
  for (const candidate of [error, (error as { cause?: unknown } | null)?.cause]) {
    const { code, message } = (candidate ?? {}) as { code?: unknown; message?: unknown };
    if (typeof code === "string" && /^(22|23|54)[0-9A-Z]{3}$/.test(code)) return `${String(message).split("\n")[0]} (SQLSTATE ${code})`;
  }
  return undefined;
}

export function isDataError(error: unknown): boolean {
  return dataError(error) !== undefined;
}

/** How deep JSON values a caller or a guest hands Isobox may nest; Postgres' jsonb parser gives up near 100,000. */
export const MAX_JSON_DEPTH = 100;

/** What makes a JSON value unstorable, and where: "" is the value itself, else ".key" and ".3" steps (as zod names fields). */
export interface JsonProblem {
  path: string;
  /** "text": a string or key Postgres cannot store (storableJson can make it storable); "depth": too deep. */
  kind: "text" | "depth";
  problem: string;
}

/**
 * The first thing in a JSON value (as JSON.parse makes them) that Postgres could not store or
 * that nests deeper than MAX_JSON_DEPTH; undefined when there is none. Iterative: a value
 * 100,000 levels deep is walked without recursion.
 */
export function jsonProblem(value: unknown): JsonProblem | undefined {
  const stack: Array<[unknown, string, number]> = [[value, "", 0]];
  while (stack.length > 0) {
    const [item, path, depth] = stack.pop()!;
    if (typeof item === "string") {
      if (!isStorableText(item)) return { path, kind: "text", problem: "holds a NUL character or a lone surrogate, which cannot be stored" };
      continue;
    }
    if (typeof item !== "object" || item === null) continue;
    if (depth >= MAX_JSON_DEPTH) return { path, kind: "depth", problem: `nests deeper than ${MAX_JSON_DEPTH} levels` };
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${path}.${i}`, depth + 1]);
      continue;
    }
    for (const key of Object.keys(item)) {
      if (!isStorableText(key)) return { path, kind: "text", problem: "has a key with a NUL character or a lone surrogate, which cannot be stored" };
      stack.push([(item as Record<string, unknown>)[key], `${path}.${key}`, depth + 1]);
    }
  }
  return undefined;
}

/** How deep JSON text nests (brackets outside strings), without parsing it. */
export function jsonTextDepth(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const char = json.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i++;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x5b || char === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (char === 0x5d || char === 0x7d) depth--;
  }
  return deepest;
}
