// The global fetch: builds a Request, reads its body, and asks the host (which applies the egress
// policy and does the network I/O). An abort rejects at once with the signal's reason; the host
// operation still runs to its end, and its result is dropped.
import { cancelHostCall, hostCall } from "../host-call.ts";
import { toResponse } from "../wire.ts";
import { onAbort } from "./abort.ts";
import { bodyBytes } from "./body.ts";
import { sortedPairs } from "./headers.ts";
import { Request, type RequestInit } from "./request.ts";
import { fetchedResponse, type Response } from "./response.ts";
import { setGuard } from "./headers.ts";
import { exactBuffer } from "./util.ts";
import type { WireRequest } from "../../protocol.ts";

export async function fetch(input: Request | string | { toString(): string }, init?: RequestInit): Promise<Response> {
  if (arguments.length < 1) throw new TypeError("fetch: 1 argument required, but only 0 present.");
  // Taken now, while the caller is on the stack: a failure answered later by the host shows the
  // line that called fetch, not only the runtime's frames.
  const caller = new Error("fetch");
  const request = new Request(input, init);
  const signal = request.signal;
  signal.throwIfAborted();
  const body = await bodyBytes(request);
  signal.throwIfAborted();

  const headers: string[] = [];
  for (const [name, value] of sortedPairs(request.headers)) headers.push(name, value);
  if (!request.headers.has("accept")) headers.push("accept", "*/*"); // Fetch's default Accept

  const wire: WireRequest = {
    method: request.method,
    url: request.url,
    headers,
    body: body === null ? null : exactBuffer(body),
    redirect: request.redirect,
  };

  const answer = await new Promise<Awaited<ReturnType<typeof hostCall<"fetch">>>>((resolve, reject) => {
    let id = 0;
    const undo = onAbort(signal, () => {
      cancelHostCall(id);
      reject(signal.reason);
    });
    hostCall("fetch", wire, (started) => { id = started; }).then(
      (result) => {
        undo();
        resolve(result);
      },
      (error) => {
        undo();
        reject(withCallerStack(error, caller));
      },
    );
  });

  const response = toResponse(answer);
  fetchedResponse(response, { type: "basic" });
  setGuard(response.headers, "immutable");
  return response;
}

function withCallerStack(error: unknown, caller: Error): unknown {
  if (!(error instanceof Error) || typeof caller.stack !== "string") return error;
  const frames = caller.stack.split("\n").slice(1).join("\n");
  error.stack = `${error.name}: ${error.message}\n${frames}`;
  return error;
}
