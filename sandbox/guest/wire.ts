// Conversions between the wire format and the guest's Request/Response objects. They use the
// runtime's own classes, not whatever the globals hold now (user code may replace globals), and
// adopt the wire's ArrayBuffers (already private copies) instead of copying them again.
import type { HeaderPairs, WireRequest, WireResponse } from "../protocol.ts";
import type { AbortSignal } from "./web/abort.ts";
import { adoptedBody, attachBody, bodyBytes, bodyOf } from "./web/body.ts";
import { Headers, sortedPairs } from "./web/headers.ts";
import { requestFromHost, type Request } from "./web/request.ts";
import { fetchedResponse, Response, responseWithStatus } from "./web/response.ts";
import { exactBuffer } from "./web/util.ts";

export function toHeaders(pairs: HeaderPairs): Headers {
  const headers = new Headers();
  for (let i = 0; i < pairs.length; i += 2) headers.append(pairs[i], pairs[i + 1]);
  return headers;
}

/** Headers in iteration order (sorted, combined, set-cookie kept apart) as flat pairs. */
export function headerPairs(headers: Headers): HeaderPairs {
  const pairs: HeaderPairs = [];
  for (const [name, value] of sortedPairs(headers)) pairs.push(name, value);
  return pairs;
}

export function toRequest(wire: WireRequest, signal: AbortSignal): Request {
  const hasBody = wire.body !== null && wire.method !== "GET" && wire.method !== "HEAD";
  const request = requestFromHost(wire.url, { method: wire.method, headers: toHeaders(wire.headers), signal });
  if (hasBody) attachBody(request, adoptedBody(new Uint8Array(wire.body!)), request.headers);
  return request;
}

export async function fromResponse(response: Response): Promise<WireResponse> {
  const body = bodyOf(response) === null ? null : await bodyBytes(response);
  return {
    status: response.status,
    statusText: response.statusText,
    headers: headerPairs(response.headers),
    body: body === null ? null : exactBuffer(body),
  };
}

export function toResponse(wire: WireResponse): Response {
  const nullBody = wire.status === 101 || wire.status === 204 || wire.status === 205 || wire.status === 304;
  const body = nullBody || wire.body === null ? null : adoptedBody(new Uint8Array(wire.body));
  const response = responseWithStatus(body, wire.status, wire.statusText, toHeaders(wire.headers));
  return fetchedResponse(response, { url: wire.url, redirected: wire.redirected });
}
