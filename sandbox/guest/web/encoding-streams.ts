// TextEncoderStream and TextDecoderStream: the encoders of encoding.ts behind a TransformStream.
import { streams } from "./streams.ts";
import type { TransformStream } from "web-streams-polyfill";
import { utf8Encode, utf8Label, Utf8Decoder } from "./encoding.ts";
import { enumerableMembers, tagClass, toDictionary, viewBytes } from "./util.ts";

export class TextEncoderStream {
  #transform: TransformStream<string, Uint8Array>;

  constructor() {
    // A high surrogate at the end of a chunk waits for the low surrogate that may start the next.
    let pendingHigh = "";
    this.#transform = new (streams().TransformStream)<string, Uint8Array>({
      transform(chunk, controller) {
        let text = pendingHigh + String(chunk);
        pendingHigh = "";
        const last = text.charCodeAt(text.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) {
          pendingHigh = text.slice(-1);
          text = text.slice(0, -1);
        }
        if (text.length > 0) controller.enqueue(utf8Encode(text));
      },
      flush(controller) {
        if (pendingHigh) controller.enqueue(utf8Encode(pendingHigh));
      },
    });
  }

  get encoding(): string {
    return "utf-8";
  }

  get readable() {
    return this.#transform.readable;
  }

  get writable() {
    return this.#transform.writable;
  }
}

export class TextDecoderStream {
  #transform: TransformStream<ArrayBuffer | ArrayBufferView, string>;
  #fatal: boolean;
  #ignoreBOM: boolean;

  constructor(label: unknown = "utf-8", options?: { fatal?: boolean; ignoreBOM?: boolean }) {
    utf8Label(label);
    const init = toDictionary<{ fatal: boolean; ignoreBOM: boolean }>(options, "TextDecoderStream options");
    this.#fatal = Boolean(init.fatal);
    this.#ignoreBOM = Boolean(init.ignoreBOM);
    const decoder = new Utf8Decoder(this.#fatal, this.#ignoreBOM);
    this.#transform = new (streams().TransformStream)<ArrayBuffer | ArrayBufferView, string>({
      transform(chunk, controller) {
        const bytes = viewBytes(chunk);
        if (!bytes) throw new TypeError("TextDecoderStream: chunk must be an ArrayBuffer or an ArrayBufferView");
        const text = decoder.decode(bytes, true);
        if (text) controller.enqueue(text);
      },
      flush(controller) {
        const text = decoder.decode(new Uint8Array(0), false);
        if (text) controller.enqueue(text);
      },
    });
  }

  get encoding(): string {
    return "utf-8";
  }

  get fatal(): boolean {
    return this.#fatal;
  }

  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  get readable() {
    return this.#transform.readable;
  }

  get writable() {
    return this.#transform.writable;
  }
}

for (const cls of [TextEncoderStream, TextDecoderStream]) enumerableMembers(cls);
tagClass(TextEncoderStream, "TextEncoderStream");
tagClass(TextDecoderStream, "TextDecoderStream");
