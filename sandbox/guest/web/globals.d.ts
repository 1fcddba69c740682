// The globals installWebApis defines, typed from their implementations, for the rest of the guest
// runtime (the guest tsconfig has no DOM lib: a bare isolate has none of it).
import type { AbortController as AbortControllerImpl, AbortSignal as AbortSignalImpl } from "./abort.ts";
import type { DOMException as DOMExceptionImpl } from "./dom-exception.ts";
import type { Headers as HeadersImpl } from "./headers.ts";
import type { Request as RequestImpl } from "./request.ts";
import type { Response as ResponseImpl } from "./response.ts";

declare global {
  var AbortController: typeof AbortControllerImpl;
  type AbortController = AbortControllerImpl;
  var AbortSignal: typeof AbortSignalImpl;
  type AbortSignal = AbortSignalImpl;
  var DOMException: typeof DOMExceptionImpl;
  type DOMException = DOMExceptionImpl;
  var Headers: typeof HeadersImpl;
  type Headers = HeadersImpl;
  var Request: typeof RequestImpl;
  type Request = RequestImpl;
  var Response: typeof ResponseImpl;
  type Response = ResponseImpl;
}

export {};
