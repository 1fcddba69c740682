// Installs the Web APIs on the guest's global scope: what a bare V8 isolate lacks and functions
// written for browsers, Workers or Node's fetch expect. Every global is writable, configurable and
// not enumerable, as browsers define them. The host bindings stay in module closures (console,
// crypto, host-call); none of them is reachable from a global.
import type { HostBindings } from "../../protocol.ts";
import { currentRun } from "../current-run.ts";
import { AbortController, AbortSignal } from "./abort.ts";
import { atob, btoa } from "./base64.ts";
import { Blob, File } from "./blob.ts";
import { createConsole, reportError } from "./console.ts";
import { Crypto, CryptoKey, createCrypto, SubtleCrypto } from "./crypto.ts";
import { DOMException } from "./dom-exception.ts";
import { TextDecoder, TextEncoder } from "./encoding.ts";
import { TextDecoderStream, TextEncoderStream } from "./encoding-streams.ts";
import { CustomEvent, Event, EventTarget, routeListenerErrors } from "./events.ts";
import { fetch } from "./fetch.ts";
import { FormData } from "./form-data.ts";
import { Headers } from "./headers.ts";
import { createPerformance } from "./performance.ts";
import { Request } from "./request.ts";
import { Response } from "./response.ts";
import { STREAM_CLASSES, streams } from "./streams.ts";
import { structuredClone } from "./structured-clone.ts";
import { clearInterval, clearTimeout, queueMicrotask, setInterval, setTimeout } from "./timers.ts";
import { urlClasses } from "./url.ts";
import { defineLazyGlobal } from "./lazy.ts";
import { defineGlobal } from "./util.ts";
import { boundedIntl } from "./intl.ts";
import { admitLogLine, cutLine, LOG_LIMIT_NOTICE, mayLog } from "../run-lines.ts";

/**
 * Globals V8 gives every context that would let a guest hold memory its isolate's limit does not
 * count: a WebAssembly.Memory lives outside the V8 heap (a 32 MB function grew one to 256 MB), and
 * a SharedArrayBuffer is the only way to Atomics.wait, which holds the isolate's thread without
 * using CPU. Removed before any user code runs, they are reachable by no other path.
 */
const UNBOUNDED_GLOBALS = ["WebAssembly", "SharedArrayBuffer"];

export function installWebApis(bindings: HostBindings): void {
  for (const name of UNBOUNDED_GLOBALS) delete (globalThis as Record<string, unknown>)[name];
  const log = bindings.log;
  const console = createConsole((level, text, fields) => {
    const run = currentRun();
    const message = cutLine(text);
    const verdict = admitLogLine(run, message.length + (fields?.length ?? 0));
    if (verdict === "send") log(run, level, message, fields);
    else if (verdict === "notice") log(run, "warn", LOG_LIMIT_NOTICE);
  }, () => mayLog(currentRun()));
  routeListenerErrors();

  const globals: Record<string, unknown> = {
    console,
    reportError,
    DOMException,
    Event,
    EventTarget,
    CustomEvent,
    AbortController,
    AbortSignal,
    TextEncoder,
    TextDecoder,
    TextEncoderStream,
    TextDecoderStream,
    atob,
    btoa,
    crypto: createCrypto(bindings),
    Crypto,
    CryptoKey,
    SubtleCrypto,
    performance: createPerformance(),
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    queueMicrotask,
    structuredClone,
    Blob,
    File,
    FormData,
    Headers,
    Request,
    Response,
    fetch,
    Intl: boundedIntl(),
  };
  for (const [name, value] of Object.entries(globals)) defineGlobal(name, value);
  // Loaded on first use: see lazy.ts.
  defineLazyGlobal("URL", () => urlClasses().URL);
  defineLazyGlobal("URLSearchParams", () => urlClasses().URLSearchParams);
  for (const name of STREAM_CLASSES) defineLazyGlobal(name, () => streams()[name]);
}
