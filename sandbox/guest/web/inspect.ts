// A small util.inspect: how console.* shows values. It follows Node's output for the common cases
// (quoting, `Map(1) { 'a' => 1 }`, `[Circular *1]`, `[Object]` past the depth, error stacks) and
// leaves out colours, column-aligned arrays and custom inspect hooks.

const MAX_ARRAY_ITEMS = 100;
const MAX_STRING_LENGTH = 10_000;
const BREAK_LENGTH = 80;
const DEFAULT_DEPTH = 2;

interface Context {
  /** Objects being formatted, outermost first: a repeat is a cycle. */
  stack: object[];
  /** Objects found to be the target of a cycle, and their reference number. */
  circular: Map<object, number>;
  depth: number;
}

export function inspect(value: unknown, depth = DEFAULT_DEPTH): string {
  return formatValue(value, { stack: [], circular: new Map(), depth }, 0);
}

function formatValue(value: unknown, ctx: Context, level: number): string {
  if (typeof value === "string") return quote(value);
  if (typeof value !== "object" && typeof value !== "function") return formatPrimitive(value);
  if (value === null) return "null";
  if (ctx.stack.includes(value)) {
    if (!ctx.circular.has(value)) ctx.circular.set(value, ctx.circular.size + 1);
    return `[Circular *${ctx.circular.get(value)}]`;
  }
  ctx.stack.push(value);
  try {
    const text = formatObject(value, ctx, level);
    const ref = ctx.circular.get(value);
    return ref === undefined ? text : `<ref *${ref}> ${text}`;
  } catch {
    return `[${objectTag(value)}]`; // e.g. a throwing getter or a revoked proxy
  } finally {
    ctx.stack.pop();
  }
}

function formatPrimitive(value: unknown): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol") return value.toString();
  return String(value);
}

/** Node's quoting: single quotes unless the string holds them, then double quotes or backticks. */
export function quote(text: string): string {
  let suffix = "";
  if (text.length > MAX_STRING_LENGTH) {
    suffix = `... ${text.length - MAX_STRING_LENGTH} more characters`;
    text = text.slice(0, MAX_STRING_LENGTH);
  }
  let mark = "'";
  if (text.includes("'")) {
    if (!text.includes('"')) mark = '"';
    else if (!text.includes("`") && !text.includes("${")) mark = "`";
  }
  const escaped = text.replace(/[\\\x00-\x1f\x7f]|'|"|`/g, (char) => {
    if (char === "\\") return "\\\\";
    if (char.length === 1 && char !== mark && (char === "'" || char === '"' || char === "`")) return char;
    if (char === mark) return `\\${char}`;
    const named: Record<string, string> = { "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f", "\v": "\\v" };
    return named[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase()}`;
  });
  return `${mark}${escaped}${mark}${suffix}`;
}

function objectTag(value: object): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

function constructorName(value: object): string | null {
  let proto = Object.getPrototypeOf(value);
  while (proto !== null) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, "constructor");
    if (descriptor && typeof descriptor.value === "function" && descriptor.value.name) return descriptor.value.name;
    proto = Object.getPrototypeOf(proto);
  }
  return null;
}

/** The "Foo [tag]" or "[Object: null prototype]" that precedes an object's braces. */
function prefixOf(value: object, fallback: string): string {
  const name = constructorName(value);
  const tag = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  const tagText = typeof tag === "string" && tag !== "" && tag !== name ? ` [${tag}]` : "";
  if (name === null) return `[${fallback}: null prototype]${tagText}`;
  return `${name}${tagText}`;
}

function formatObject(value: object, ctx: Context, level: number): string {
  if (typeof value === "function") return formatFunction(value, ctx, level);
  if (value instanceof Error || objectTag(value) === "Error") return formatError(value as Error, ctx, level);
  if (Array.isArray(value)) return formatArray(value, ctx, level);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return formatTypedArray(value, ctx, level);
  if (value instanceof ArrayBuffer) return formatArrayBuffer(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (value instanceof Map) return formatMap(value, ctx, level);
  if (value instanceof Set) return formatSet(value, ctx, level);
  if (value instanceof WeakMap || value instanceof WeakSet) return `${prefixOf(value, "Object")} { <items unknown> }`;
  if (value instanceof Promise) return braces(prefixOf(value, "Promise"), propertyEntries(value, ctx, level), level);
  const boxed = boxedPrimitive(value);
  if (boxed !== null) return boxed;
  const entries = webEntries(value, ctx, level);
  if (entries !== null) return braces(prefixOf(value, "Object"), entries, level);
  const prefix = prefixOf(value, "Object");
  if (level > ctx.depth) return `[${prefix}]`;
  return braces(prefix === "Object" ? "" : prefix, propertyEntries(value, ctx, level), level);
}

function formatFunction(fn: Function, ctx: Context, level: number): string {
  const source = Function.prototype.toString.call(fn);
  const name = fn.name ? `: ${fn.name}` : " (anonymous)";
  let text: string;
  if (source.startsWith("class")) {
    const base = Object.getPrototypeOf(fn);
    text = `[class ${fn.name || "(anonymous)"}${typeof base === "function" && base.name ? ` extends ${base.name}` : ""}]`;
  } else {
    const kind = objectTag(fn); // Function, AsyncFunction, GeneratorFunction, AsyncGeneratorFunction
    text = `[${kind === "Object" ? "Function" : kind}${name}]`;
  }
  const entries = propertyEntries(fn, ctx, level);
  return entries.length === 0 ? text : braces(text, entries, level);
}

function formatError(error: Error, ctx: Context, level: number): string {
  let text: string;
  try {
    const stack = error.stack;
    text = typeof stack === "string" && stack !== "" ? stack : error.message ? `${error.name}: ${error.message}` : String(error.name);
  } catch {
    text = "[Error]";
  }
  const entries = propertyEntries(error, ctx, level, (key) => key !== "stack" && key !== "message");
  if (Object.prototype.hasOwnProperty.call(error, "cause") && !Object.prototype.propertyIsEnumerable.call(error, "cause")) {
    entries.push(`[cause]: ${formatValue(error.cause, ctx, level + 1)}`);
  }
  if (level > 0) text = text.split("\n").join(`\n${"  ".repeat(level)}`);
  return entries.length === 0 ? text : braces(text, entries, level);
}

function formatArray(array: unknown[], ctx: Context, level: number): string {
  if (level > ctx.depth) return "[Array]";
  const entries: string[] = [];
  let holes = 0;
  const flushHoles = () => {
    if (holes > 0) entries.push(`<${holes} empty item${holes === 1 ? "" : "s"}>`);
    holes = 0;
  };
  const shown = Math.min(array.length, MAX_ARRAY_ITEMS);
  for (let i = 0; i < shown; i++) {
    if (!Object.prototype.hasOwnProperty.call(array, i)) {
      holes++;
      continue;
    }
    flushHoles();
    entries.push(formatValue(array[i], ctx, level + 1));
  }
  flushHoles();
  if (array.length > shown) entries.push(`... ${array.length - shown} more item${array.length - shown === 1 ? "" : "s"}`);
  entries.push(...propertyEntries(array, ctx, level, (key) => !isIndex(key)));
  const prefix = constructorName(array);
  return brackets(prefix === "Array" ? "" : `${prefix ?? "[Array: null prototype]"}(${array.length}) `, entries, level);
}

function formatTypedArray(view: ArrayBufferView, ctx: Context, level: number): string {
  const items = view as unknown as ArrayLike<number | bigint>;
  const entries: string[] = [];
  const shown = Math.min(items.length, MAX_ARRAY_ITEMS);
  for (let i = 0; i < shown; i++) entries.push(formatPrimitive(items[i]));
  if (items.length > shown) entries.push(`... ${items.length - shown} more items`);
  if (level > ctx.depth) return `[${objectTag(view)}]`;
  return brackets(`${objectTag(view)}(${items.length}) `, entries, level);
}

function formatArrayBuffer(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer, 0, Math.min(buffer.byteLength, 50));
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
  const more = buffer.byteLength > 50 ? ` ... ${buffer.byteLength - 50} more bytes` : "";
  return `ArrayBuffer { [Uint8Contents]: <${hex}${more}>, byteLength: ${buffer.byteLength} }`;
}

function formatMap(map: Map<unknown, unknown>, ctx: Context, level: number): string {
  const prefix = `${prefixOf(map, "Map")}(${map.size})`;
  if (level > ctx.depth) return `[${prefix}]`;
  const entries: string[] = [];
  for (const [key, item] of map) {
    if (entries.length >= MAX_ARRAY_ITEMS) {
      entries.push(`... ${map.size - MAX_ARRAY_ITEMS} more items`);
      break;
    }
    entries.push(`${formatValue(key, ctx, level + 1)} => ${formatValue(item, ctx, level + 1)}`);
  }
  return braces(prefix, [...entries, ...propertyEntries(map, ctx, level)], level);
}

function formatSet(set: Set<unknown>, ctx: Context, level: number): string {
  const prefix = `${prefixOf(set, "Set")}(${set.size})`;
  if (level > ctx.depth) return `[${prefix}]`;
  const entries: string[] = [];
  for (const item of set) {
    if (entries.length >= MAX_ARRAY_ITEMS) {
      entries.push(`... ${set.size - MAX_ARRAY_ITEMS} more items`);
      break;
    }
    entries.push(formatValue(item, ctx, level + 1));
  }
  return braces(prefix, [...entries, ...propertyEntries(set, ctx, level)], level);
}

function boxedPrimitive(value: object): string | null {
  if (value instanceof Number) return `[Number: ${formatPrimitive(value.valueOf())}]`;
  if (value instanceof String) return `[String: ${quote(value.valueOf())}]`;
  if (value instanceof Boolean) return `[Boolean: ${value.valueOf()}]`;
  if (value instanceof BigInt) return `[BigInt: ${value.valueOf()}n]`;
  if (value instanceof Symbol) return `[Symbol: ${value.valueOf().toString()}]`;
  return null;
}

/**
 * Web API objects keep their state in private fields, so own properties show nothing: show what
 * their public surface says instead (URL by its href, Headers and friends by their entries).
 */
function webEntries(value: object, ctx: Context, level: number): string[] | null {
  const tag = objectTag(value);
  if (tag === "URL") return [`href: ${quote(String((value as { href: string }).href))}`];
  if (tag === "Headers" || tag === "URLSearchParams" || tag === "FormData") {
    const pairs = (value as { entries(): Iterable<[string, unknown]> }).entries();
    return Array.from(pairs, ([key, item]) => `${formatKey(key)}: ${formatValue(item, ctx, level + 1)}`);
  }
  if (tag === "Request" || tag === "Response" || tag === "Blob" || tag === "File" || tag === "AbortSignal") {
    const keys = { Request: ["method", "url"], Response: ["status", "statusText", "url"], Blob: ["size", "type"], File: ["name", "size", "type"], AbortSignal: ["aborted"] }[tag];
    return keys.map((key) => `${key}: ${formatValue((value as Record<string, unknown>)[key], ctx, level + 1)}`);
  }
  return null;
}

function isIndex(key: string): boolean {
  return /^(0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

function formatKey(key: string | symbol): string {
  if (typeof key === "symbol") return `[${key.toString()}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : quote(key);
}

/** Own enumerable properties (string keys, then symbols) as `key: value`. */
function propertyEntries(value: object, ctx: Context, level: number, keep: (key: string) => boolean = () => true): string[] {
  const entries: string[] = [];
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === "string" && !keep(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (!descriptor || !descriptor.enumerable) continue;
    let shown: string;
    if (descriptor.get || descriptor.set) {
      shown = descriptor.get && descriptor.set ? "[Getter/Setter]" : descriptor.get ? "[Getter]" : "[Setter]";
    } else {
      shown = formatValue(descriptor.value, ctx, level + 1);
    }
    entries.push(`${formatKey(key)}: ${shown}`);
  }
  return entries;
}

/** Node's isBelowBreakLength, with its start estimate (entries, indentation, brace, prefix, 10). */
function fitsOnOneLine(prefix: string, entries: string[], level: number): boolean {
  const start = entries.length + level * 2 + 1 + prefix.length + 10;
  const length = entries.reduce((sum, entry) => sum + entry.length, start + entries.length);
  return length <= BREAK_LENGTH && !entries.some((entry) => entry.includes("\n"));
}

function braces(prefix: string, entries: string[], level: number): string {
  const start = prefix ? `${prefix} ` : "";
  if (entries.length === 0) return `${start}{}`;
  if (fitsOnOneLine(prefix, entries, level)) return `${start}{ ${entries.join(", ")} }`;
  return `${start}{\n${indent(entries.join(",\n"))}\n}`;
}

function brackets(prefix: string, entries: string[], level: number): string {
  if (entries.length === 0) return `${prefix}[]`;
  if (fitsOnOneLine(prefix, entries, level)) return `${prefix}[ ${entries.join(", ")} ]`;
  // Many short items are packed several to a line, as Node groups them.
  if (entries.length > 6 && entries.every((entry) => entry.length <= 16 && !entry.includes("\n"))) {
    const lines: string[] = [];
    let line = "";
    for (const entry of entries) {
      if (line && line.length + entry.length + 2 > BREAK_LENGTH - 4) {
        lines.push(line);
        line = "";
      }
      line += line ? `, ${entry}` : entry;
    }
    lines.push(line);
    return `${prefix}[\n${indent(lines.join(",\n"))}\n]`;
  }
  return `${prefix}[\n${indent(entries.join(",\n"))}\n]`;
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  ${line}`).join("\n");
}

/** console.log's formatting: printf-style substitutions in a leading string, then the rest. */
export function formatArgs(args: unknown[]): string {
  if (args.length === 0) return "";
  const first = args[0];
  let rest = 1;
  let out: string;
  if (typeof first === "string") {
    if (args.length > 1 && first.includes("%")) {
      const substituted = substitute(first, args);
      out = substituted.text;
      rest = substituted.used;
    } else {
      out = first;
    }
  } else {
    out = inspect(first);
  }
  for (let i = rest; i < args.length; i++) {
    const arg = args[i];
    out += ` ${typeof arg === "string" ? arg : inspect(arg)}`;
  }
  return out;
}

function substitute(format: string, args: unknown[]): { text: string; used: number } {
  let used = 1;
  const text = format.replace(/%[sdifjoOc%]/g, (directive) => {
    if (directive === "%%") return "%";
    if (used >= args.length) return directive;
    const arg = args[used++];
    switch (directive) {
      case "%s":
        if (typeof arg === "bigint") return `${arg}n`;
        if (typeof arg === "symbol") return arg.toString();
        if (typeof arg === "object" && arg !== null) return inspect(arg, 0);
        return Object.is(arg, -0) ? "-0" : String(arg);
      case "%d":
        if (typeof arg === "bigint") return `${arg}n`;
        if (typeof arg === "symbol" || (typeof arg === "object" && arg !== null)) return "NaN";
        return formatPrimitive(Number(arg));
      case "%i":
        if (typeof arg === "bigint") return `${arg}n`;
        return typeof arg === "symbol" ? "NaN" : String(Number.parseInt(String(arg), 10));
      case "%f":
        return typeof arg === "symbol" ? "NaN" : String(Number.parseFloat(String(arg)));
      case "%j":
        try {
          return JSON.stringify(arg) ?? "undefined";
        } catch {
          return "[Circular]";
        }
      case "%c":
        return ""; // CSS styling has no meaning in a log line
      default:
        return inspect(arg, directive === "%o" ? 4 : DEFAULT_DEPTH);
    }
  });
  return { text, used };
}
