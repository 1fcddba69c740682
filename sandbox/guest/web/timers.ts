// setTimeout/setInterval and friends. Each wait is a host "sleep" call; its completion is a host
// entry, i.e. a macrotask of its own, so microtasks settle between timers as in browsers. The
// callback runs attributed to the invocation that created the timer.
import { currentRun, enterRun } from "../current-run.ts";
import { hostCall } from "../host-call.ts";
import { reportError } from "./console.ts";

interface Timer {
  run: string;
  callback: (...args: unknown[]) => void;
  args: unknown[];
  ms: number;
  repeat: boolean;
}

const active = new Map<number, Timer>();
/** The timer ids of each invocation, so its end clears them without a scan. */
const byRun = new Map<string, Set<number>>();

function remove(id: number): void {
  const timer = active.get(id);
  if (!timer) return;
  active.delete(id);
  const ids = byRun.get(timer.run);
  ids?.delete(id);
  if (ids?.size === 0) byRun.delete(timer.run);
}
let nextId = 1;

/** WebIDL `long`: wraps modulo 2^32, so 2^31 becomes negative and then 0, as in browsers. */
function toDelay(value: unknown): number {
  const number = Math.trunc(Number(value));
  if (!Number.isFinite(number)) return 0;
  const wrapped = ((number % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const signed = wrapped >= 2 ** 31 ? wrapped - 2 ** 32 : wrapped;
  return Math.max(0, signed);
}

function arm(id: number, timer: Timer): void {
  hostCall("sleep", timer.ms).then(() => fire(id, timer), () => remove(id));
}

function fire(id: number, timer: Timer): void {
  if (active.get(id) !== timer) return; // cleared while the host was waiting
  if (!timer.repeat) remove(id);
  enterRun(timer.run);
  try {
    timer.callback(...timer.args);
  } catch (error) {
    reportError(error);
  }
  if (timer.repeat && active.get(id) === timer) {
    enterRun(timer.run);
    arm(id, timer);
  }
}

/** Starts a timer owned by the current invocation; internal callers use it directly. */
export function startTimer(callback: (...args: unknown[]) => void, delay: unknown, repeat: boolean, args: unknown[] = []): number {
  const id = nextId++;
  const timer: Timer = { run: currentRun(), callback, args, ms: toDelay(delay), repeat };
  active.set(id, timer);
  let ids = byRun.get(timer.run);
  if (!ids) byRun.set(timer.run, (ids = new Set()));
  ids.add(id);
  arm(id, timer);
  return id;
}

function handler(callback: unknown, what: string): (...args: unknown[]) => void {
  // Browsers would evaluate a string as code; the sandbox refuses, as Node does.
  if (typeof callback !== "function") throw new TypeError(`${what}: the callback must be a function`);
  return callback as (...args: unknown[]) => void;
}

export function setTimeout(callback: unknown, delay?: unknown, ...args: unknown[]): number {
  return startTimer(handler(callback, "setTimeout"), delay, false, args);
}

export function setInterval(callback: unknown, delay?: unknown, ...args: unknown[]): number {
  return startTimer(handler(callback, "setInterval"), delay, true, args);
}

/** An invocation is over: its timers go with it (none of its code runs after it ended). */
export function clearRunTimers(run: string): void {
  const ids = byRun.get(run);
  if (!ids) return;
  byRun.delete(run);
  for (const id of ids) active.delete(id);
}

/** clearTimeout and clearInterval share one id space, as in browsers. */
export function clearTimer(id?: unknown): void {
  remove(Number(id));
}

export function clearTimeout(id?: unknown): void {
  clearTimer(id);
}

export function clearInterval(id?: unknown): void {
  clearTimer(id);
}

export function queueMicrotask(callback: unknown): void {
  const fn = handler(callback, "queueMicrotask");
  Promise.resolve().then(() => {
    try {
      fn();
    } catch (error) {
      reportError(error);
    }
  });
}
