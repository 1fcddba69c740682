// Response (Fetch Standard), with Response.json, Response.redirect and Response.error.
import { attachBody, bodyOf, cloneBody, extractBody, isUnusable, mixinBody, type Body, type BodyInit, type BodyMembers } from "./body.ts";
import { appendTrusted, copyHeaders, fill, Headers, setGuard, type HeadersInit } from "./headers.ts";
import { parseURL } from "./url.ts";
import { enumerableMembers, requireArgs, tagClass, toByteString, toDictionary } from "./util.ts";

export interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

export type ResponseType = "basic" | "cors" | "default" | "error" | "opaque" | "opaqueredirect";

interface ResponseState {
  type: ResponseType;
  status: number;
  statusText: string;
  url: string;
  redirected: boolean;
}

const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** WebIDL `unsigned short`. */
function toStatus(value: unknown): number {
  const number = Math.trunc(Number(value));
  return Number.isFinite(number) ? ((number % 65536) + 65536) % 65536 : 0;
}

// Module-internal access to the private state, assigned by the class's static block.
let stateOf: (response: Response) => ResponseState;

export interface Response extends BodyMembers {}

export class Response {
  #state: ResponseState = { type: "default", status: 200, statusText: "", url: "", redirected: false };
  #headers = new Headers();

  constructor(body: BodyInit | undefined = null, init?: ResponseInit) {
    const options = toDictionary<ResponseInit>(init, "ResponseInit");
    this.#initialize(options, body === undefined || body === null ? null : extractBody(body));
  }

  /** The Fetch Standard's "initialize a response". */
  #initialize(init: Partial<ResponseInit>, extracted: { body: Body; type: string | null } | null): void {
    const status = init.status === undefined ? 200 : toStatus(init.status);
    if (status < 200 || status > 599) throw new RangeError(`Response: status ${status} is outside the range [200, 599]`);
    const statusText = init.statusText === undefined ? "" : toByteString(init.statusText, "Response statusText");
    if (!REASON_PHRASE.test(statusText)) throw new TypeError("Response: invalid statusText");
    this.#state.status = status;
    this.#state.statusText = statusText;
    if (init.headers !== undefined) fill(this.#headers, init.headers);
    if (extracted !== null) {
      if (NULL_BODY_STATUSES.includes(status)) throw new TypeError(`Response with null body status ${status} cannot have body`);
      if (extracted.type !== null && !this.#headers.has("content-type")) appendTrusted(this.#headers, "content-type", extracted.type);
    }
    attachBody(this, extracted?.body ?? null, this.#headers);
  }

  static error(): Response {
    const response = new Response(null);
    response.#state = { type: "error", status: 0, statusText: "", url: "", redirected: false };
    setGuard(response.#headers, "immutable");
    return response;
  }

  static redirect(url: string, status = 302): Response {
    requireArgs(arguments.length, 1, "Response.redirect");
    const parsed = parseURL(url, "Response.redirect");
    const code = toStatus(status);
    if (!REDIRECT_STATUSES.includes(code)) throw new RangeError(`Response.redirect: invalid status code ${code}`);
    const response = new Response(null, { status: code });
    appendTrusted(response.#headers, "location", parsed.href);
    setGuard(response.#headers, "immutable");
    return response;
  }

  static json(data: unknown, init?: ResponseInit): Response {
    requireArgs(arguments.length, 1, "Response.json");
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Response.json: the data is not JSON serializable");
    const response = new Response(null);
    const extracted = extractBody(text);
    response.#initialize(toDictionary<ResponseInit>(init, "ResponseInit"), { body: extracted.body, type: "application/json" });
    return response;
  }

  get type(): ResponseType {
    return this.#state.type;
  }

  get url(): string {
    return this.#state.url;
  }

  get redirected(): boolean {
    return this.#state.redirected;
  }

  get status(): number {
    return this.#state.status;
  }

  get ok(): boolean {
    return this.#state.status >= 200 && this.#state.status <= 299;
  }

  get statusText(): string {
    return this.#state.statusText;
  }

  get headers(): Headers {
    return this.#headers;
  }

  clone(): Response {
    if (isUnusable(bodyOf(this))) throw new TypeError("Response.clone: Body has already been used");
    const copy = new Response(null);
    copy.#state = { ...this.#state };
    copy.#headers = copyHeaders(this.#headers);
    attachBody(copy, cloneBody(bodyOf(this)), copy.#headers);
    return copy;
  }

  static {
    stateOf = (response) => response.#state;
  }
}

/** A response made by the runtime from fetched data: url, redirected and type as fetch sets them. */
export function fetchedResponse(response: Response, details: { url?: string; redirected?: boolean; type?: ResponseType }): Response {
  const state = stateOf(response);
  if (details.url !== undefined) state.url = details.url.replace(/#.*$/s, "");
  if (details.redirected !== undefined) state.redirected = details.redirected;
  if (details.type !== undefined) state.type = details.type;
  return response;
}

/** Builds a response without the constructor's status range check (the wire may carry any). */
export function responseWithStatus(body: Body | null, status: number, statusText: string, headers: Headers): Response {
  const response = new Response(null);
  const state = stateOf(response);
  state.status = status;
  state.statusText = statusText;
  fill(response.headers, headers);
  attachBody(response, body, response.headers);
  return response;
}

enumerableMembers(Response);
mixinBody(Response);
tagClass(Response, "Response");
