// WHATWG Streams from web-streams-polyfill (the spec's reference implementation), loaded on first
// use (see lazy.ts), plus the few stream operations the Fetch Standard needs.
import type { ReadableStream } from "web-streams-polyfill";
import { whileLoading } from "./lazy.ts";
import { concatBytes, type Bytes } from "./util.ts";

export type { ReadableStream } from "web-streams-polyfill";

/** Names of the stream classes installed as globals. */
export const STREAM_CLASSES = [
  "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "ReadableStreamBYOBRequest",
  "ReadableStreamDefaultController", "ReadableByteStreamController", "WritableStream", "WritableStreamDefaultWriter",
  "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController", "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
] as const;

type Polyfill = ReturnType<typeof loadPolyfill>;
const loadPolyfill = () => whileLoading(() => require("web-streams-polyfill/dist/ponyfill.js"));
let polyfill: Polyfill | undefined;

/** The polyfill's classes, loading it on the first call. */
export function streams(): Polyfill {
  return (polyfill ??= loadPolyfill());
}

/** Whether a value is a ReadableStream; none can exist before the polyfill has loaded. */
export function isReadableStream(value: unknown): value is ReadableStream {
  return polyfill !== undefined && value instanceof polyfill.ReadableStream;
}

/**
 * Whether the stream was ever read from or cancelled (the Streams spec's [[disturbed]]). The
 * polyfill keeps that slot as `_disturbed` and has no public accessor; Body.bodyUsed needs it.
 */
export function isDisturbed(stream: ReadableStream): boolean {
  return (stream as unknown as { _disturbed?: boolean })._disturbed === true;
}

/** A readable byte stream with the given bytes as its only chunk. The stream takes ownership. */
export function byteStream(bytes: Bytes): ReadableStream<Uint8Array> {
  let pending: Bytes | null = bytes;
  return new (streams().ReadableStream)({
    type: "bytes",
    pull(controller) {
      if (pending !== null && pending.byteLength > 0) controller.enqueue(pending);
      pending = null;
      controller.close();
    },
    cancel() {
      pending = null;
    },
  });
}

/** "Fully read" a body stream: every chunk must be a Uint8Array; the result is a fresh buffer. */
export async function readAllBytes(stream: ReadableStream): Promise<Bytes> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      const error = new TypeError("Received non-Uint8Array chunk");
      await reader.cancel(error).catch(() => {});
      throw error;
    }
    chunks.push(value);
    total += value.byteLength;
  }
  reader.releaseLock();
  return concatBytes(chunks, total);
}
