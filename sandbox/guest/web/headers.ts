// Headers (Fetch Standard). The header list keeps insertion order with lower-cased names;
// iteration is the spec's "sort and combine": names sorted, values of one name joined by ", ",
// except set-cookie, whose values stay separate (getSetCookie returns them as a list).
import { enumerableMembers, requireArgs, tagClass, toByteString } from "./util.ts";

export type HeadersInit = Headers | Iterable<Iterable<string>> | Record<string, string>;
export type Guard = "none" | "request" | "response" | "immutable";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LEADING_TRAILING_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const INVALID_VALUE = /[\0\r\n]/;

function headerName(name: unknown): string {
  const text = toByteString(name, "Headers");
  if (!TOKEN.test(text)) throw new TypeError(`Headers: invalid header name "${text}"`);
  return text.toLowerCase();
}

function headerValue(value: unknown): string {
  const text = toByteString(value, "Headers").replace(LEADING_TRAILING_WHITESPACE, "");
  if (INVALID_VALUE.test(text)) throw new TypeError(`Headers: invalid header value "${text}"`);
  return text;
}

// Module-internal access to the private state, assigned by the class's static block.
let internals: {
  list(headers: Headers): Array<[string, string]>;
  setGuard(headers: Headers, guard: Guard): void;
  guard(headers: Headers): Guard;
  appendUnchecked(headers: Headers, name: string, value: string): void;
};
let pairsOf: (headers: Headers) => Array<[string, string]>;

export class Headers {
  #list: Array<[string, string]> = [];
  #guard: Guard = "none";
  /** The sorted-and-combined view, rebuilt after a change. */
  #sorted: Array<[string, string]> | null = null;

  constructor(init?: HeadersInit) {
    if (init !== undefined) fill(this, init);
  }

  append(name: string, value: string): void {
    requireArgs(arguments.length, 2, "Headers.append");
    const key = headerName(name);
    const text = headerValue(value);
    this.#checkMutable();
    this.#list.push([key, text]);
    this.#sorted = null;
  }

  delete(name: string): void {
    requireArgs(arguments.length, 1, "Headers.delete");
    const key = headerName(name);
    this.#checkMutable();
    if (!this.#list.some(([existing]) => existing === key)) return;
    this.#list = this.#list.filter(([existing]) => existing !== key);
    this.#sorted = null;
  }

  get(name: string): string | null {
    requireArgs(arguments.length, 1, "Headers.get");
    const key = headerName(name);
    const values = this.#list.filter(([existing]) => existing === key).map(([, value]) => value);
    return values.length === 0 ? null : values.join(", ");
  }

  getSetCookie(): string[] {
    return this.#list.filter(([name]) => name === "set-cookie").map(([, value]) => value);
  }

  has(name: string): boolean {
    requireArgs(arguments.length, 1, "Headers.has");
    const key = headerName(name);
    return this.#list.some(([existing]) => existing === key);
  }

  set(name: string, value: string): void {
    requireArgs(arguments.length, 2, "Headers.set");
    const key = headerName(name);
    const text = headerValue(value);
    this.#checkMutable();
    // The first entry of that name takes the value in place; the others go.
    const index = this.#list.findIndex(([existing]) => existing === key);
    if (index === -1) this.#list.push([key, text]);
    else {
      this.#list[index] = [key, text];
      this.#list = this.#list.filter(([existing], i) => existing !== key || i === index);
    }
    this.#sorted = null;
  }

  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void {
    requireArgs(arguments.length, 1, "Headers.forEach");
    if (typeof callback !== "function") throw new TypeError("Headers.forEach: callback must be a function");
    // Index-based over the live sorted view, so changes made by the callback are seen.
    for (let i = 0; i < this.#pairs().length; i++) {
      const [name, value] = this.#pairs()[i];
      callback.call(thisArg, value, name, this);
    }
  }

  entries(): HeadersIterator<[string, string]> {
    return new HeadersIterator(this, "entries");
  }

  keys(): HeadersIterator<string> {
    return new HeadersIterator(this, "keys");
  }

  values(): HeadersIterator<string> {
    return new HeadersIterator(this, "values");
  }

  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }

  #checkMutable(): void {
    if (this.#guard === "immutable") throw new TypeError("Headers are immutable");
  }

  /** Sort and combine (Fetch Standard), cached until the next change. */
  #pairs(): Array<[string, string]> {
    if (this.#sorted) return this.#sorted;
    const names = [...new Set(this.#list.map(([name]) => name))].sort();
    const pairs: Array<[string, string]> = [];
    for (const name of names) {
      const values = this.#list.filter(([existing]) => existing === name).map(([, value]) => value);
      if (name === "set-cookie") for (const value of values) pairs.push([name, value]);
      else pairs.push([name, values.join(", ")]);
    }
    return (this.#sorted = pairs);
  }

  static {
    internals = {
      list: (headers) => headers.#list,
      setGuard: (headers, guard) => {
        headers.#guard = guard;
      },
      guard: (headers) => headers.#guard,
      appendUnchecked: (headers, name, value) => {
        headers.#list.push([name, value]);
        headers.#sorted = null;
      },
    };
    pairsOf = (headers) => headers.#pairs();
  }
}

/** The iterator objects of Headers: live, index-based, with their own prototype. */
class HeadersIterator<T> {
  #headers: Headers;
  #kind: "entries" | "keys" | "values";
  #index = 0;

  constructor(headers: Headers, kind: "entries" | "keys" | "values") {
    this.#headers = headers;
    this.#kind = kind;
  }

  next(): IteratorResult<T, undefined> {
    const pairs = pairsOf(this.#headers);
    if (this.#index >= pairs.length) return { value: undefined, done: true };
    const [name, value] = pairs[this.#index++];
    const item = this.#kind === "keys" ? name : this.#kind === "values" ? value : [name, value];
    return { value: item as T, done: false };
  }

  [Symbol.iterator](): this {
    return this;
  }
}
Object.setPrototypeOf(HeadersIterator.prototype, Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())));
tagClass(HeadersIterator, "Headers Iterator");

/** Fills headers from a HeadersInit: another Headers, a sequence of pairs or a record. */
export function fill(headers: Headers, init: unknown): void {
  if (init instanceof Headers && init[Symbol.iterator] === Headers.prototype[Symbol.iterator]) {
    // A plain copy keeps repeated headers (set-cookie included) as they are.
    for (const [name, value] of internals.list(init)) headers.append(name, value);
    return;
  }
  if (init === null || (typeof init !== "object" && typeof init !== "function")) {
    throw new TypeError("Headers: init must be an object, a sequence of pairs or a Headers");
  }
  const iterator = (init as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (iterator !== undefined) {
    if (typeof iterator !== "function") throw new TypeError("Headers: init[Symbol.iterator] is not a function");
    for (const pair of init as Iterable<unknown>) {
      if (pair === null || typeof pair !== "object" || typeof (pair as Iterable<unknown>)[Symbol.iterator] !== "function") {
        throw new TypeError("Headers: each header must be a [name, value] pair");
      }
      const items = Array.from(pair as Iterable<unknown>);
      if (items.length !== 2) throw new TypeError("Headers: each header must be a [name, value] pair");
      headers.append(items[0] as string, items[1] as string);
    }
    return;
  }
  for (const key of Reflect.ownKeys(init)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(init, key);
    if (!descriptor?.enumerable) continue;
    if (typeof key === "symbol") throw new TypeError("Headers: a header name cannot be a symbol");
    headers.append(key, (init as Record<string, string>)[key]);
  }
}

export function headerList(headers: Headers): ReadonlyArray<readonly [string, string]> {
  return internals.list(headers);
}

export function setGuard(headers: Headers, guard: Guard): void {
  internals.setGuard(headers, guard);
}

export function guardOf(headers: Headers): Guard {
  return internals.guard(headers);
}

/** Appends a header the runtime itself computed (a default Content-Type), past the guard. */
export function appendTrusted(headers: Headers, name: string, value: string): void {
  internals.appendUnchecked(headers, name, value);
}

/** A copy with the same list and guard (Request/Response.clone). */
export function copyHeaders(headers: Headers): Headers {
  const copy = new Headers();
  for (const [name, value] of internals.list(headers)) internals.appendUnchecked(copy, name, value);
  internals.setGuard(copy, internals.guard(headers));
  return copy;
}

/** Flat pairs in iteration order, ready for the wire (names lower-case). */
export function sortedPairs(headers: Headers): Array<[string, string]> {
  return pairsOf(headers);
}

enumerableMembers(Headers);
tagClass(Headers, "Headers");
