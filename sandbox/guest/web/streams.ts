// WHATWG Streams from web-streams-polyfill's ponyfill entry (no globals touched by the import), plus
// the few stream operations the Fetch Standard needs.
import { ReadableStream } from "web-streams-polyfill";
import { concatBytes, type Bytes } from "./util.ts";

export {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableByteStreamController,
  ReadableStream,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableStreamDefaultController,
  ReadableStreamDefaultReader,
  TransformStream,
  TransformStreamDefaultController,
  WritableStream,
  WritableStreamDefaultController,
  WritableStreamDefaultWriter,
} from "web-streams-polyfill";

/**
 * Whether the stream was ever read from or cancelled (the Streams spec's [[disturbed]]). The
 * polyfill is the spec's reference implementation and keeps that slot as `_disturbed`; it has no
 * public accessor, and Body.bodyUsed depends on it.
 */
export function isDisturbed(stream: ReadableStream): boolean {
  return (stream as unknown as { _disturbed?: boolean })._disturbed === true;
}

/** A readable byte stream with the given bytes as its only chunk. The stream takes ownership. */
export function byteStream(bytes: Bytes): ReadableStream<Uint8Array> {
  let pending: Bytes | null = bytes;
  return new ReadableStream({
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
