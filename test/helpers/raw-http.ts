// HTTP/1.1 on a raw socket: several requests pipelined on one keep-alive connection, and the
// responses read back as the bytes frame them, the way a proxy that reuses connections reads them.
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `requests` (raw text each) on one connection and returns all it received once it closed. */
export function pipelined(port: number, requests: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => { clearTimeout(timer); reject(error); });
    socket.on("close", () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString("latin1")); });
    socket.write(requests.join(""));
  });
}

/** A GET (or another method) as raw text; the last request of a connection closes it. */
export function rawRequest(path: string, options: { method?: string; close?: boolean; headers?: Record<string, string> } = {}): string {
  const headers = { host: "127.0.0.1", ...options.headers, ...(options.close ? { connection: "close" } : {}) };
  return `${options.method ?? "GET"} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n`;
}

/** Splits received bytes into responses by their framing (content-length, chunked, or to the end). */
export function parseResponses(text: string, methods: string[] = []): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    const [statusLine, ...lines] = text.slice(at, end).split("\r\n");
    const status = Number(statusLine.split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    at = end + 4;
    let body = "";
    if (methods[responses.length] === "HEAD" || status === 204 || status === 304) {
      body = "";
    } else if (headers["transfer-encoding"]?.includes("chunked")) {
      for (;;) {
        const lineEnd = text.indexOf("\r\n", at);
        const size = parseInt(text.slice(at, lineEnd), 16);
        at = lineEnd + 2;
        if (!(size > 0)) {
          at = text.indexOf("\r\n", at) + 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      body = text.slice(at, at + length);
      at += length;
    } else {
      body = text.slice(at);
      at = text.length;
    }
    responses.push({ status, headers, body });
  }
  return responses;
}
