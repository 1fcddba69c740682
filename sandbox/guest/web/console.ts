// console: every method formats its arguments (inspect.ts) into one line of text and hands it to
// the host with a level, attributed to the invocation that is running.
import { MAX_FIELDS_CHARS, type LogLevel } from "../../protocol.ts";
import { formatArgs, inspect } from "./inspect.ts";

export type Logger = (level: LogLevel, message: string, fields?: string) => void;

let write: Logger = () => {};
/** Whether a line may still go out: checked before formatting, so dropped lines cost next to nothing. */
let may: () => boolean = () => true;
let groupIndent = "";

function emit(level: LogLevel, message: string, fields?: string): void {
  try {
    write(level, groupIndent ? message.replace(/^/gm, groupIndent) : message, fields);
  } catch {
    // Logging never throws into user code.
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Structured logging: a plain object as the last argument (`console.log("fetched", { url, ms })`)
 * becomes the line's fields, stored and shown apart from the message; a lone object is both.
 * A printf-style first argument keeps its objects for the format.
 */
function structured(args: unknown[]): { message: string; fields?: string } {
  const last = args[args.length - 1];
  const formatted = typeof args[0] === "string" && args[0].includes("%");
  if (!isPlainObject(last) || formatted) return { message: formatArgs(args) };
  let fields: string | undefined;
  try {
    fields = JSON.stringify(last);
  } catch {
    // Cycles, BigInt: the object stays in the message only.
  }
  if (fields === undefined || fields.length > MAX_FIELDS_CHARS) return { message: formatArgs(args) };
  return { message: formatArgs(args.length > 1 ? args.slice(0, -1) : args), fields };
}

/** Reports an exception nobody caught (a timer callback, an event listener, queueMicrotask). */
export function reportError(error: unknown): void {
  emit("error", `Uncaught ${typeof error === "string" ? error : inspect(error)}`);
}

function label(value: unknown): string {
  return value === undefined ? "default" : String(value);
}

/** Builds the console object; its methods are closures, so `const { log } = console` works. */
export function createConsole(logger: Logger, mayLog: () => boolean): object {
  write = logger;
  may = mayLog;
  const counts = new Map<string, number>();
  const timers = new Map<string, number>();
  const line = (level: LogLevel) => (...args: unknown[]) => {
    if (!may()) return;
    const { message, fields } = structured(args);
    emit(level, message, fields);
  };
  const elapsed = (name: string) => `${name}: ${(Date.now() - timers.get(name)!).toFixed(3)}ms`;

  const methods = {
    log: line("log"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    debug: line("debug"),
    // A trace is diagnostic output, not a failure: it goes out at debug level with the call stack.
    trace: (...args: unknown[]) => {
      if (!may()) return;
      const stack = (new Error().stack ?? "").split("\n").slice(2).join("\n");
      emit("debug", `Trace${args.length ? `: ${formatArgs(args)}` : ""}\n${stack}`);
    },
    dir: (value?: unknown) => {
      if (may()) emit("log", inspect(value));
    },
    dirxml: line("log"),
    table: line("log"),
    assert: (condition?: unknown, ...args: unknown[]) => {
      if (!condition) emit("error", `Assertion failed${args.length ? `: ${formatArgs(args)}` : ""}`);
    },
    count: (name?: unknown) => {
      const key = label(name);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      emit("log", `${key}: ${count}`);
    },
    countReset: (name?: unknown) => {
      const key = label(name);
      if (counts.has(key)) counts.set(key, 0);
      else emit("warn", `Count for '${key}' does not exist`);
    },
    time: (name?: unknown) => {
      const key = label(name);
      if (timers.has(key)) emit("warn", `Label '${key}' already exists for console.time()`);
      else timers.set(key, Date.now());
    },
    timeLog: (name?: unknown, ...args: unknown[]) => {
      const key = label(name);
      if (!timers.has(key)) return emit("warn", `No such label '${key}' for console.timeLog()`);
      emit("log", args.length ? `${elapsed(key)} ${formatArgs(args)}` : elapsed(key));
    },
    timeEnd: (name?: unknown) => {
      const key = label(name);
      if (!timers.has(key)) return emit("warn", `No such label '${key}' for console.timeEnd()`);
      emit("log", elapsed(key));
      timers.delete(key);
    },
    group: (...args: unknown[]) => {
      if (args.length) emit("log", formatArgs(args));
      groupIndent += "  ";
    },
    groupCollapsed: (...args: unknown[]) => methods.group(...args),
    groupEnd: () => {
      groupIndent = groupIndent.slice(2);
    },
    clear: () => {},
  };
  const console = {};
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(fn, "name", { value: name });
    Object.defineProperty(console, name, { value: fn, writable: true, enumerable: true, configurable: true });
  }
  Object.defineProperty(console, Symbol.toStringTag, { value: "console", configurable: true });
  return console;
}
