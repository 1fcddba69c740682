// The shape of everything the guest hands the host, checked before the host touches it.
// Everything that crosses is a copy, so no getter or Proxy trap runs on the host; but it is the
// guest's data, and user code can bend what the runtime builds (Array.prototype.push or
// globalThis.String replaced, a Request getter redefined). A sparse array of length 2^32 - 2 costs
// the guest nothing to make and copy; the host's loops over such "header pairs" ran out of heap and
// crashed the node. So the shape is checked first, and guest values are not coerced with String()
// or Number().
import type { AttributeValue, TraceOp, WireRequest, WireResponse } from "../protocol.ts";
import { TRACE_LIMITS } from "../protocol.ts";

/** Header fields (name + value pairs) a request or response may carry across the boundary. */
export const MAX_HEADERS = 10_000;
const REDIRECTS = new Set<unknown>([undefined, "follow", "manual", "error"]);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** An HTTP field value (and a reason phrase): tab, visible ASCII, space and obs-text, nothing else. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Headers that frame a message or concern only one connection. The host frames every response it
 * sends itself: a guest that declared its own content-length and sent more bytes would otherwise
 * put a second, forged response on a keep-alive connection, answering the next request on it.
 */
const HOP_BY_HOP = new Set(["connection", "content-length", "http2-settings", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

function isHopByHop(name: string, nominated: Set<string>): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith("proxy-") || nominated.has(name);
}

/** Headers a `connection` header names are hop-by-hop too. */
function nominatedBy(pairs: string[]): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < pairs.length; i += 2) {
    if (pairs[i] !== "connection") continue;
    for (const token of pairs[i + 1].split(",")) names.add(token.trim().toLowerCase());
  }
  return names;
}

/**
 * Header pairs as the wire defines them: even, bounded, token names, valid field values; the
 * TypeError names the header whose value is not one.
 */
function checkPairs(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length % 2 !== 0 || value.length > 2 * MAX_HEADERS) {
    throw new TypeError(`${what} could not be read (at most ${MAX_HEADERS} string pairs)`);
  }
  for (let i = 0; i < value.length; i += 2) {
    const name: unknown = value[i];
    const field: unknown = value[i + 1];
    if (typeof name !== "string" || !HEADER_NAME.test(name)) throw new TypeError(`${what}: a header name is not a valid token`);
    if (typeof field !== "string" || !FIELD_VALUE.test(field)) throw new TypeError(`${what}: the value of header "${name.slice(0, 100)}" is not a valid HTTP field value`);
  }
  return value as string[];
}

/** The guest's outbound request, checked field by field. */
export function checkWireRequest(value: unknown): WireRequest {
  const wire = value as Partial<WireRequest> | null;
  if (typeof wire !== "object" || wire === null) throw new TypeError("fetch: malformed request");
  const { method, url, headers, body, redirect } = wire;
  if (typeof method !== "string" || typeof url !== "string") throw new TypeError("fetch: malformed request (method, url)");
  const pairs = checkPairs(headers, "fetch: the request's headers");
  if (body !== null && !(body instanceof ArrayBuffer)) throw new TypeError("fetch: malformed request body");
  if (!REDIRECTS.has(redirect)) throw new TypeError("fetch: malformed request (redirect)");
  return { method, url, headers: pairs, body, ...(redirect === undefined ? {} : { redirect }) };
}

/**
 * A fetch handler's response, checked before the host builds an HTTP response from it: a status
 * the host may send, a valid reason phrase and field values, and none of the headers that frame
 * the message (the host frames it).
 */
export function checkWireResponse(value: unknown): WireResponse {
  const wire = value as Partial<WireResponse> | null;
  const what = "The fetch handler's Response";
  if (typeof wire !== "object" || wire === null || !Number.isInteger(wire.status) || wire.status! < 200 || wire.status! > 599) {
    throw new TypeError(`${what} could not be read (status 200-599)`);
  }
  if (typeof wire.statusText !== "string" || !FIELD_VALUE.test(wire.statusText)) throw new TypeError(`${what} has a statusText that is not a valid reason phrase`);
  if (wire.body !== null && !(wire.body instanceof ArrayBuffer)) throw new TypeError(`${what} has a body that could not be read`);
  const pairs = checkPairs(wire.headers, what);
  const nominated = nominatedBy(pairs);
  const headers: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    if (!isHopByHop(pairs[i], nominated)) headers.push(pairs[i], pairs[i + 1]);
  }
  return { status: wire.status!, statusText: wire.statusText, headers, body: wire.body ?? null };
}

function isAttributeValue(value: unknown): value is AttributeValue {
  return typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value.length <= TRACE_LIMITS.valueChars);
}

function isSpanId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isAttributeKey(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= TRACE_LIMITS.nameChars && !value.startsWith(TRACE_LIMITS.reservedPrefix);
}

/** A guest span operation, checked field by field; undefined when malformed (dropped). */
export function checkTraceOp(value: unknown): TraceOp | undefined {
  const op = value as Partial<Record<string, unknown>> | null;
  if (typeof op !== "object" || op === null || !isSpanId(op.id)) return undefined;
  if (op.op === "end") return { op: "end", id: op.id, ...(typeof op.error === "string" ? { error: op.error.slice(0, 1000) } : {}) };
  if (op.op === "attribute") return isAttributeKey(op.key) && isAttributeValue(op.value) ? { op: "attribute", id: op.id, key: op.key, value: op.value } : undefined;
  if (op.op !== "start" || !isSpanId(op.parent) || typeof op.name !== "string" || op.name.length === 0 || op.name.length > TRACE_LIMITS.nameChars) return undefined;
  const given = op.attributes;
  if (typeof given !== "object" || given === null || Array.isArray(given)) return undefined;
  const attributes: Record<string, AttributeValue> = {};
  const entries = Object.entries(given);
  if (entries.length > TRACE_LIMITS.attributes) return undefined;
  for (const [key, field] of entries) {
    if (!isAttributeKey(key) || !isAttributeValue(field)) return undefined;
    attributes[key] = field;
  }
  return { op: "start", id: op.id, parent: op.parent, name: op.name, attributes };
}
