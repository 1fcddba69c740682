// Request (Fetch Standard). In the sandbox there is no document: URLs must be absolute, and the
// browser-only parts of a request (client, window, CORS-mode header guards) keep their default
// values without enforcing anything.
import { AbortSignal, dependentSignal } from "./abort.ts";
import { attachBody, bodyOf, cloneBody, extractBody, isUnusable, mixinBody, takeBody, type Body, type BodyInit, type BodyMembers } from "./body.ts";
import { appendTrusted, copyHeaders, fill, Headers, type HeadersInit } from "./headers.ts";
import { parseURL } from "./url.ts";
import { enumerableMembers, tagClass, toDictionary, toEnum, toUSVString } from "./util.ts";

const MODES = ["navigate", "same-origin", "no-cors", "cors"] as const;
const CREDENTIALS = ["omit", "same-origin", "include"] as const;
const CACHES = ["default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"] as const;
const REDIRECTS = ["follow", "error", "manual"] as const;
const PRIORITIES = ["high", "low", "auto"] as const;
const REFERRER_POLICIES = [
  "", "no-referrer", "no-referrer-when-downgrade", "same-origin", "origin", "strict-origin",
  "origin-when-cross-origin", "strict-origin-when-cross-origin", "unsafe-url",
] as const;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NORMALIZED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const FORBIDDEN_METHODS = ["CONNECT", "TRACE", "TRACK"];

export interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit;
  referrer?: string;
  referrerPolicy?: (typeof REFERRER_POLICIES)[number];
  mode?: (typeof MODES)[number];
  credentials?: (typeof CREDENTIALS)[number];
  cache?: (typeof CACHES)[number];
  redirect?: (typeof REDIRECTS)[number];
  integrity?: string;
  keepalive?: boolean;
  signal?: AbortSignal | null;
  duplex?: "half";
  priority?: (typeof PRIORITIES)[number];
  window?: null;
}

/** Everything a Request carries besides its body, headers and signal. */
interface RequestState {
  method: string;
  url: string;
  referrer: string;
  referrerPolicy: string;
  mode: string;
  credentials: string;
  cache: string;
  redirect: "follow" | "error" | "manual";
  integrity: string;
  keepalive: boolean;
  priority: string;
}

function normalizeMethod(value: unknown): string {
  const method = String(value);
  if (!TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.includes(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
  return NORMALIZED_METHODS.includes(upper) ? upper : method;
}

function parseReferrer(value: unknown): string {
  const referrer = toUSVString(value);
  if (referrer === "") return "";
  const url = parseURL(referrer, "Request referrer");
  return url.href === "about:client" ? "about:client" : url.href;
}

export interface Request extends BodyMembers {}

/**
 * The href of a request the runtime is building from the host's wire (wire.ts): the host parsed
 * and serialized it with Node's URL already. Parsing it again with core-js cost 29 µs of the
 * ~100 µs a hello request took in the isolate (measured, 2 cores); a URL with "@" in it is
 * parsed anyway, for the credentials check.
 */
let trustedHref: string | undefined;

export function requestFromHost(href: string, init: RequestInit): Request {
  trustedHref = href;
  try {
    return new Request(href, init);
  } finally {
    trustedHref = undefined;
  }
}

function requestHref(input: unknown): string {
  if (typeof input === "string" && input === trustedHref && !input.includes("@")) return input;
  const url = parseURL(toUSVString(input), "Request");
  if (url.username || url.password) throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${url.href}`);
  return url.href;
}

export class Request {
  #state: RequestState;
  #headers: Headers;
  /** The signal this request follows; its own dependent signal is made on first access. */
  #signalSource: AbortSignal | null;
  #signal: AbortSignal | null = null;

  constructor(input: Request | string | { toString(): string }, init?: RequestInit) {
    if (arguments.length < 1) throw new TypeError("Request: 1 argument required, but only 0 present.");
    const options = toDictionary<RequestInit>(init, "RequestInit");
    const from = input instanceof Request ? input : null;
    let state: RequestState;
    if (from) {
      state = { ...from.#state };
      this.#signalSource = from.signal;
    } else {
      state = {
        method: "GET", url: requestHref(input), referrer: "about:client", referrerPolicy: "", mode: "cors",
        credentials: "same-origin", cache: "default", redirect: "follow", integrity: "", keepalive: false, priority: "auto",
      };
      this.#signalSource = null;
    }
    applyInit(state, options);

    if (options.signal !== undefined) {
      if (options.signal !== null && !(options.signal instanceof AbortSignal)) throw new TypeError("RequestInit: signal must be an AbortSignal");
      this.#signalSource = options.signal;
    }

    this.#headers = new Headers();
    if (options.headers !== undefined) fill(this.#headers, options.headers);
    else if (from) fill(this.#headers, from.#headers);

    const inputBody = from ? bodyOf(from) : null;
    const initBody = options.body ?? null;
    if ((initBody !== null || inputBody !== null) && (state.method === "GET" || state.method === "HEAD")) {
      throw new TypeError("Request with GET/HEAD method cannot have body.");
    }
    let body: Body | null = null;
    if (initBody !== null) {
      const extracted = extractBody(initBody);
      body = extracted.body;
      if (extracted.type !== null && !this.#headers.has("content-type")) appendTrusted(this.#headers, "content-type", extracted.type);
      if (body.stream !== null && options.duplex !== "half") {
        throw new TypeError("RequestInit: duplex option is required when sending a body.");
      }
    } else if (inputBody !== null) {
      if (isUnusable(inputBody)) throw new TypeError("Cannot construct a Request with a Request whose body is already used");
      body = takeBody(inputBody);
    }
    this.#state = state;
    attachBody(this, body, this.#headers);
  }

  get method(): string {
    return this.#state.method;
  }

  get url(): string {
    return this.#state.url;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get destination(): string {
    return "";
  }

  get referrer(): string {
    return this.#state.referrer;
  }

  get referrerPolicy(): string {
    return this.#state.referrerPolicy;
  }

  get mode(): string {
    return this.#state.mode;
  }

  get credentials(): string {
    return this.#state.credentials;
  }

  get cache(): string {
    return this.#state.cache;
  }

  get redirect(): "follow" | "error" | "manual" {
    return this.#state.redirect;
  }

  get integrity(): string {
    return this.#state.integrity;
  }

  get keepalive(): boolean {
    return this.#state.keepalive;
  }

  get isReloadNavigation(): boolean {
    return false;
  }

  get isHistoryNavigation(): boolean {
    return false;
  }

  get duplex(): "half" {
    return "half";
  }

  get signal(): AbortSignal {
    return (this.#signal ??= dependentSignal(this.#signalSource ? [this.#signalSource] : []));
  }

  clone(): Request {
    if (isUnusable(bodyOf(this))) throw new TypeError("Request.clone: Body has already been used");
    const copy = new Request(this.#state.url);
    copy.#state = { ...this.#state };
    copy.#headers = copyHeaders(this.#headers);
    copy.#signalSource = this.signal;
    attachBody(copy, cloneBody(bodyOf(this)), copy.#headers);
    return copy;
  }
}

function applyInit(state: RequestState, init: Partial<RequestInit>): void {
  if (init.window !== undefined && init.window !== null) throw new TypeError("RequestInit: window can only be null");
  if (init.referrer !== undefined) state.referrer = parseReferrer(init.referrer);
  if (init.referrerPolicy !== undefined) state.referrerPolicy = toEnum(init.referrerPolicy, REFERRER_POLICIES, "RequestInit.referrerPolicy");
  if (init.mode !== undefined) {
    state.mode = toEnum(init.mode, MODES, "RequestInit.mode");
    if (state.mode === "navigate") throw new TypeError("RequestInit: mode cannot be 'navigate'");
  }
  if (init.credentials !== undefined) state.credentials = toEnum(init.credentials, CREDENTIALS, "RequestInit.credentials");
  if (init.cache !== undefined) state.cache = toEnum(init.cache, CACHES, "RequestInit.cache");
  if (state.cache === "only-if-cached" && state.mode !== "same-origin") {
    throw new TypeError("RequestInit: cache 'only-if-cached' requires mode 'same-origin'");
  }
  if (init.redirect !== undefined) state.redirect = toEnum(init.redirect, REDIRECTS, "RequestInit.redirect");
  if (init.integrity !== undefined) state.integrity = String(init.integrity);
  if (init.keepalive !== undefined) state.keepalive = Boolean(init.keepalive);
  if (init.priority !== undefined) state.priority = toEnum(init.priority, PRIORITIES, "RequestInit.priority");
  if (init.duplex !== undefined) toEnum(init.duplex, ["half"], "RequestInit.duplex");
  if (init.method !== undefined) state.method = normalizeMethod(init.method);
  if (state.mode === "no-cors" && !["GET", "HEAD", "POST"].includes(state.method)) {
    throw new TypeError(`'${state.method}' is unsupported in no-cors mode.`);
  }
}

enumerableMembers(Request);
mixinBody(Request);
tagClass(Request, "Request");
