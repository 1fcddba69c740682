// Conversions between the wire format and the guest's Request/Response objects.
import type { HeaderPairs, WireRequest, WireResponse } from "../protocol.ts";

export function toHeaders(pairs: HeaderPairs): Headers {
  const headers = new Headers();
  for (let i = 0; i < pairs.length; i += 2) headers.append(pairs[i], pairs[i + 1]);
  return headers;
}

export function headerPairs(headers: Headers): HeaderPairs {
  const pairs: HeaderPairs = [];
  for (const [name, value] of headers) pairs.push(name, value);
  return pairs;
}

export function toRequest(wire: WireRequest, signal: AbortSignal): Request {
  const hasBody = wire.body !== null && wire.method !== "GET" && wire.method !== "HEAD";
  return new Request(wire.url, {
    method: wire.method,
    headers: toHeaders(wire.headers),
    body: hasBody ? wire.body : null,
    signal,
  });
}

export async function fromResponse(response: Response): Promise<WireResponse> {
  const body = response.body === null ? null : await response.arrayBuffer();
  return {
    status: response.status,
    statusText: response.statusText,
    headers: headerPairs(response.headers),
    body,
  };
}

export function toResponse(wire: WireResponse): Response {
  const nullBody = wire.status === 101 || wire.status === 204 || wire.status === 205 || wire.status === 304;
  return new Response(nullBody ? null : wire.body, {
    status: wire.status,
    statusText: wire.statusText,
    headers: toHeaders(wire.headers),
  });
}
