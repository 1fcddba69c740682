// URL and URLSearchParams (WHATWG URL) from core-js-pure, loaded on first use (see lazy.ts).
// Measured minified in this bundle's settings: core-js-pure 48.8 KB (about 400 KB of heap once
// loaded); whatwg-url 17 (tr46's UTS-46 tables and @exodus/bytes) 499 KB; whatwg-url-minimum
// 32 KB but 480 KB of heap (it decodes IDNA tables at load, and needs atob first);
// whatwg-url-without-unicode 58 KB (unmaintained). core-js keeps IDNA to lower-casing plus
// punycode, which is what the sandbox needs for http(s) hosts.
import { whileLoading } from "./lazy.ts";

export interface URLSearchParams {
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  forEach(callback: (value: string, key: string, parent: URLSearchParams) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
  toString(): string;
}

export interface URLSearchParamsConstructor {
  prototype: URLSearchParams;
  new (init?: string[][] | Record<string, string> | string | URLSearchParams): URLSearchParams;
}

export interface URL {
  hash: string;
  host: string;
  hostname: string;
  href: string;
  readonly origin: string;
  password: string;
  pathname: string;
  port: string;
  protocol: string;
  search: string;
  readonly searchParams: URLSearchParams;
  username: string;
  toString(): string;
  toJSON(): string;
}

export interface URLConstructor {
  prototype: URL;
  new (url: string | URL, base?: string | URL): URL;
  canParse(url: string | URL, base?: string | URL): boolean;
  parse(url: string | URL, base?: string | URL): URL | null;
}

let classes: { URL: URLConstructor; URLSearchParams: URLSearchParamsConstructor } | undefined;

/** The URL classes, loading core-js on the first call. */
export function urlClasses(): { URL: URLConstructor; URLSearchParams: URLSearchParamsConstructor } {
  if (classes === undefined) {
    const URL = whileLoading(() => require("core-js-pure/web/url.js"));
    const URLSearchParams = whileLoading(() => require("core-js-pure/web/url-search-params.js"));
    // core-js names its constructors URLConstructor and URLSearchParamsConstructor internally.
    Object.defineProperty(URL, "name", { value: "URL", configurable: true });
    Object.defineProperty(URLSearchParams, "name", { value: "URLSearchParams", configurable: true });
    // core-js keeps a shared store on the global object; it holds its own reference to it.
    delete (globalThis as Record<string, unknown>)["__core-js_shared__"];
    classes = { URL, URLSearchParams };
  }
  return classes;
}

/** Whether a value is a URLSearchParams; none can exist before core-js has loaded. */
export function isURLSearchParams(value: unknown): value is URLSearchParams {
  return classes !== undefined && value instanceof classes.URLSearchParams;
}

/** Parses an absolute URL (the sandbox has no document base URL); TypeError when it fails. */
export function parseURL(input: unknown, what: string): URL {
  const url = urlClasses().URL.parse(String(input));
  if (url === null) throw new TypeError(`${what}: Failed to parse URL from ${String(input)}`);
  return url;
}
