// The guest's fetch, run on the host: undici with a connector that checks every resolved address,
// manual redirects re-checked hop by hop, and size and count limits per invocation.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import { Agent, buildConnector, request } from "undici";
import type { WireRequest, WireResponse } from "../../sandbox/protocol.ts";
import { blockedReason } from "./addresses.ts";
import { EgressPolicy, FetchDenied, PrivateAllowList } from "./egress.ts";

export type Lookup = (hostname: string, options: { all: true }, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export interface FetcherOptions {
  allowPrivate: PrivateAllowList;
  /** DNS resolution; tests pass their own. */
  lookup?: Lookup;
  maxResponseBytes?: number;
  maxRedirects?: number;
  timeoutMs?: number;
}

const CROSS_ORIGIN_DROPPED = new Set(["authorization", "cookie", "proxy-authorization"]);
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "host", "content-length"]);

/** The outbound fetch used by every guest of the process. */
export class Fetcher {
  private readonly options: Required<Omit<FetcherOptions, "lookup">> & { lookup: Lookup };
  private readonly agent: Agent;

  constructor(options: FetcherOptions) {
    this.options = { maxResponseBytes: 10 * 1024 * 1024, maxRedirects: 20, timeoutMs: 30_000, ...options, lookup: options.lookup ?? (dnsLookup as unknown as Lookup) };
    const connect = buildConnector({ timeout: 10_000 });
    // The connector sees host and port of every new socket: it resolves the name itself, refuses
    // blocked addresses, and connects to the address it checked (no second lookup to race).
    this.agent = new Agent({
      connect: (opts, callback) => {
        const port = opts.port || (opts.protocol === "https:" ? "443" : "80");
        this.resolveChecked(opts.hostname, port).then(
          (address) => connect({ ...opts, hostname: address, servername: opts.servername ?? (isIP(opts.hostname) ? undefined : opts.hostname) }, callback),
          (error: Error) => callback(error, null),
        );
      },
      keepAliveTimeout: 10_000,
    });
  }

  private resolveChecked(hostname: string, port: string): Promise<string> {
    const host = hostname.replace(/^\[|\]$/g, "");
    const privateOk = this.options.allowPrivate.allows(host, port);
    return new Promise((resolve, reject) => {
      this.options.lookup(host, { all: true }, (error, addresses) => {
        if (error || addresses.length === 0) return reject(new TypeError(`fetch failed: cannot resolve ${host}: ${error?.code ?? "no address"}`));
        for (const { address } of addresses) {
          const reason = blockedReason(address);
          if (reason && !privateOk) return reject(new FetchDenied(host, `resolves to ${address}, a ${reason}${openWith(host, port)}`));
        }
        resolve(addresses[0].address);
      });
    });
  }

  /**
   * Sends the guest's request. `checkHop` sees every hop (URL, headers, body, method) before it is sent,
   * for checks beyond the address policy (secrets pinned to hosts).
   */
  async fetch(policy: EgressPolicy, wire: WireRequest, options: { checkHop?: (url: URL, headers: string[], body: ArrayBuffer | null, method: string) => void; signal?: AbortSignal } = {}): Promise<WireResponse> {
    const { checkHop, signal } = options;
    let url = parseUrl(wire.url);
    let method = wire.method.toUpperCase();
    let body = wire.body;
    let headers = stripPairs(wire.headers, (name) => HOP_BY_HOP.has(name));
    for (let hop = 0; ; hop++) {
      this.checkUrl(policy, url, method);
      checkHop?.(url, headers, body, method);
      const response = await request(url, {
        method,
        headers,
        body: body === null ? undefined : Buffer.from(body),
        dispatcher: this.agent,
        signal,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      }).catch((error: unknown) => { throw asFetchError(url, error); });
      const location = response.headers.location;
      const isRedirect = response.statusCode >= 300 && response.statusCode < 400 && typeof location === "string";
      if (!isRedirect || wire.redirect === "manual") return this.toWire(response, url, hop > 0);
      await response.body.dump();
      if (wire.redirect === "error") throw new TypeError(`fetch failed: redirect to ${location} with redirect mode "error"`);
      if (hop >= this.options.maxRedirects) throw new TypeError(`fetch failed: more than ${this.options.maxRedirects} redirects`);
      const next = parseUrl(new URL(location, url).href);
      // Credentials do not follow a redirect to another origin (Fetch spec, HTTP-redirect fetch).
      if (next.origin !== url.origin) headers = stripPairs(headers, (name) => CROSS_ORIGIN_DROPPED.has(name));
      url = next;
      // 303, and 301/302 after POST, turn into a GET without body (Fetch spec, HTTP-redirect fetch).
      if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = null;
      }
    }
  }

  /** Refuses the URL unless the manifest allows it and, for literal IPs, the address is public. */
  private checkUrl(policy: EgressPolicy, url: URL, method: string): void {
    policy.check(url, method);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    const privateOk = this.options.allowPrivate.allows(host, port);
    if (isIP(host)) {
      const reason = blockedReason(host);
      if (reason && !privateOk) throw new FetchDenied(url.host, `${host} is a ${reason}${openWith(host, port)}`);
    } else if (host === "localhost" || host.endsWith(".localhost")) {
      if (!privateOk) throw new FetchDenied(url.host, `localhost is a loopback address${openWith(host, port)}`);
    }
  }

  private async toWire(response: Awaited<ReturnType<typeof request>>, url: URL, redirected: boolean): Promise<WireResponse> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.options.maxResponseBytes) {
        response.body.destroy();
        throw new TypeError(`fetch failed: response from ${url.host} is larger than ${this.options.maxResponseBytes} bytes`);
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    const headers: string[] = [];
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.push(name, v);
    }
    return {
      status: response.statusCode,
      statusText: "",
      headers,
      body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
      url: url.href,
      redirected,
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function parseUrl(href: string): URL {
  try {
    return new URL(href);
  } catch {
    throw new TypeError(`fetch failed: invalid URL ${JSON.stringify(href.slice(0, 200))}`);
  }
}

function stripPairs(pairs: string[], drop: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) if (!drop(pairs[i])) out.push(pairs[i], pairs[i + 1]);
  return out;
}

function asFetchError(url: URL, error: unknown): Error {
  if (error instanceof FetchDenied) return error;
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof FetchDenied) return cause;
  const message = error instanceof Error ? error.message : String(error);
  return new TypeError(`fetch failed: ${url.host}: ${message}`);
}

/** How the operator opens a private address to guests (the manifest cannot). */
function openWith(host: string, port: string): string {
  return `; the node's operator may open it with ISOBOX_EGRESS_ALLOW_PRIVATE=${host.includes(":") ? `[${host}]` : host}:${port}`;
}
