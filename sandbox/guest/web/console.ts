// console: every method formats its arguments (inspect.ts) into one line of text and hands it to
// the host with a level, attributed to the invocation that is running.
import type { LogLevel } from "../../protocol.ts";
import { formatArgs, inspect } from "./inspect.ts";

export type Logger = (level: LogLevel, message: string) => void;

let write: Logger = () => {};
let groupIndent = "";

function emit(level: LogLevel, message: string): void {
  try {
    write(level, groupIndent ? message.replace(/^/gm, groupIndent) : message);
  } catch {
    // Logging never throws into user code.
  }
}

/** Reports an exception nobody caught (a timer callback, an event listener, queueMicrotask). */
export function reportError(error: unknown): void {
  emit("error", `Uncaught ${typeof error === "string" ? error : inspect(error)}`);
}

function label(value: unknown): string {
  return value === undefined ? "default" : String(value);
}

/** Builds the console object; its methods are closures, so `const { log } = console` works. */
export function createConsole(logger: Logger): object {
  write = logger;
  const counts = new Map<string, number>();
  const timers = new Map<string, number>();
  const line = (level: LogLevel) => (...args: unknown[]) => emit(level, formatArgs(args));
  const elapsed = (name: string) => `${name}: ${(Date.now() - timers.get(name)!).toFixed(3)}ms`;

  const methods = {
    log: line("log"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    debug: line("debug"),
    // A trace is diagnostic output, not a failure: it goes out at debug level with the call stack.
    trace: (...args: unknown[]) => {
      const stack = (new Error().stack ?? "").split("\n").slice(2).join("\n");
      emit("debug", `Trace${args.length ? `: ${formatArgs(args)}` : ""}\n${stack}`);
    },
    dir: (value?: unknown) => emit("log", inspect(value)),
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
