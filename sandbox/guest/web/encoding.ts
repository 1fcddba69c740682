// TextEncoder and TextDecoder (WHATWG Encoding), UTF-8 only.
// Hand-written: fastestsmallesttextencoderdecoder ignores `fatal`, `ignoreBOM` and `stream`, and
// text-encoding-utf-8 (unmaintained) builds arrays of code points, slow for large bodies. The
// decoder below is the Encoding Standard's UTF-8 decoder, so replacement characters land exactly
// where browsers put them.
import { enumerableMembers, requireArgs, tagClass, toDictionary, viewBytes, type Bytes } from "./util.ts";

const UTF8_LABELS = new Set(["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"]);
const REPLACEMENT = 0xfffd;

/** UTF-8 bytes of a string; lone surrogates become U+FFFD, as TextEncoder does. */
export function utf8Encode(input: string): Bytes {
  const out = new Uint8Array(utf8Length(input));
  writeUtf8(input, out);
  return out;
}

function utf8Length(input: string): number {
  let size = 0;
  for (let i = 0; i < input.length; i++) {
    const unit = input.charCodeAt(i);
    if (unit < 0x80) size += 1;
    else if (unit < 0x800) size += 2;
    else if (isHighSurrogate(unit) && isLowSurrogate(input.charCodeAt(i + 1))) {
      size += 4;
      i++;
    } else size += 3;
  }
  return size;
}

const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

/** Writes whole code points while they fit; returns UTF-16 units read and bytes written. */
function writeUtf8(input: string, out: Uint8Array): { read: number; written: number } {
  const capacity = out.length;
  let i = 0;
  let at = 0;
  for (; i < input.length; i++) {
    let point = input.charCodeAt(i);
    if (point < 0x80) {
      if (at >= capacity) break;
      out[at++] = point;
      continue;
    }
    let units = 1;
    if (isHighSurrogate(point) && isLowSurrogate(input.charCodeAt(i + 1))) {
      point = 0x10000 + ((point - 0xd800) << 10) + (input.charCodeAt(i + 1) - 0xdc00);
      units = 2;
    } else if (point >= 0xd800 && point <= 0xdfff) {
      point = REPLACEMENT;
    }
    if (point < 0x800) {
      if (at + 2 > capacity) break;
      out[at++] = 0xc0 | (point >> 6);
    } else if (point < 0x10000) {
      if (at + 3 > capacity) break;
      out[at++] = 0xe0 | (point >> 12);
      out[at++] = 0x80 | ((point >> 6) & 0x3f);
    } else {
      if (at + 4 > capacity) break;
      out[at++] = 0xf0 | (point >> 18);
      out[at++] = 0x80 | ((point >> 12) & 0x3f);
      out[at++] = 0x80 | ((point >> 6) & 0x3f);
    }
    out[at++] = 0x80 | (point & 0x3f);
    i += units - 1;
  }
  return { read: i, written: at };
}

/** Collects UTF-16 code units in a fixed buffer and turns them into strings in batches. */
class StringBuilder {
  #units = new Uint16Array(8192);
  #length = 0;
  #parts: string[] = [];

  push(point: number): void {
    if (this.#length + 2 > this.#units.length) this.#flush();
    if (point < 0x10000) {
      this.#units[this.#length++] = point;
    } else {
      point -= 0x10000;
      this.#units[this.#length++] = 0xd800 + (point >> 10);
      this.#units[this.#length++] = 0xdc00 + (point & 0x3ff);
    }
  }

  #flush(): void {
    this.#parts.push(String.fromCharCode.apply(null, this.#units.subarray(0, this.#length) as unknown as number[]));
    this.#length = 0;
  }

  finish(): string {
    if (this.#length > 0) this.#flush();
    return this.#parts.length === 1 ? this.#parts[0] : this.#parts.join("");
  }
}

/** The Encoding Standard's UTF-8 decoder, keeping its state between streamed chunks. */
export class Utf8Decoder {
  #point = 0;
  #seen = 0;
  #needed = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #bomSeen = false;
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;

  constructor(fatal: boolean, ignoreBOM: boolean) {
    this.#fatal = fatal;
    this.#ignoreBOM = ignoreBOM;
  }

  decode(bytes: Uint8Array, stream: boolean): string {
    const out = new StringBuilder();
    const emit = (point: number) => {
      // The BOM is dropped only as the very first code point of the stream.
      if (!this.#bomSeen) {
        this.#bomSeen = true;
        if (point === 0xfeff && !this.#ignoreBOM) return;
      }
      out.push(point);
    };
    try {
      for (let i = 0; i < bytes.length; i++) {
        const byte = bytes[i];
        if (this.#needed === 0) {
          this.#lead(byte, emit);
          continue;
        }
        if (byte < this.#lower || byte > this.#upper) {
          this.#reset();
          this.#error(emit);
          i--; // the byte starts over as a lead byte
          continue;
        }
        this.#lower = 0x80;
        this.#upper = 0xbf;
        this.#point = (this.#point << 6) | (byte & 0x3f);
        if (++this.#seen === this.#needed) {
          const point = this.#point;
          this.#reset();
          emit(point);
        }
      }
      if (!stream && this.#needed !== 0) {
        this.#reset();
        this.#error(emit);
      }
    } catch (error) {
      this.#reset();
      this.#bomSeen = false;
      throw error;
    }
    if (!stream) this.#bomSeen = false;
    return out.finish();
  }

  #lead(byte: number, emit: (point: number) => void): void {
    if (byte <= 0x7f) return emit(byte);
    if (byte >= 0xc2 && byte <= 0xdf) {
      this.#needed = 1;
      this.#point = byte & 0x1f;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      if (byte === 0xe0) this.#lower = 0xa0;
      if (byte === 0xed) this.#upper = 0x9f;
      this.#needed = 2;
      this.#point = byte & 0xf;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      if (byte === 0xf0) this.#lower = 0x90;
      if (byte === 0xf4) this.#upper = 0x8f;
      this.#needed = 3;
      this.#point = byte & 0x7;
    } else {
      this.#error(emit);
    }
  }

  #reset(): void {
    this.#point = 0;
    this.#seen = 0;
    this.#needed = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  #error(emit: (point: number) => void): void {
    if (this.#fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
    emit(REPLACEMENT);
  }
}

/** "UTF-8 decode": replacement on errors, a leading BOM removed. */
export function utf8Decode(bytes: Uint8Array): string {
  return new Utf8Decoder(false, false).decode(bytes, false);
}

/** "UTF-8 decode without BOM": replacement on errors, a BOM kept as U+FEFF. */
export function utf8DecodeWithoutBOM(bytes: Uint8Array): string {
  return new Utf8Decoder(false, true).decode(bytes, false);
}

export class TextEncoder {
  get encoding(): string {
    return "utf-8";
  }

  encode(input: unknown = ""): Bytes {
    return utf8Encode(String(input));
  }

  encodeInto(source: unknown, destination: Uint8Array): { read: number; written: number } {
    requireArgs(arguments.length, 2, "TextEncoder.encodeInto");
    if (!(destination instanceof Uint8Array)) throw new TypeError("TextEncoder.encodeInto: destination must be a Uint8Array");
    return writeUtf8(String(source), destination);
  }
}

/** Resolves an encoding label; only UTF-8 is available in the sandbox. */
export function utf8Label(label: unknown): "utf-8" {
  const name = String(label).trim().toLowerCase();
  if (!UTF8_LABELS.has(name)) throw new RangeError(`The "${String(label)}" encoding is not supported (only utf-8 is)`);
  return "utf-8";
}

export class TextDecoder {
  #decoder: Utf8Decoder;
  #fatal: boolean;
  #ignoreBOM: boolean;

  constructor(label: unknown = "utf-8", options?: { fatal?: boolean; ignoreBOM?: boolean }) {
    utf8Label(label);
    const init = toDictionary<{ fatal: boolean; ignoreBOM: boolean }>(options, "TextDecoder options");
    this.#fatal = Boolean(init.fatal);
    this.#ignoreBOM = Boolean(init.ignoreBOM);
    this.#decoder = new Utf8Decoder(this.#fatal, this.#ignoreBOM);
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

  decode(input?: ArrayBuffer | ArrayBufferView | null, options?: { stream?: boolean }): string {
    const bytes = input === undefined || input === null ? new Uint8Array(0) : viewBytes(input);
    if (!bytes) throw new TypeError("TextDecoder.decode: input must be an ArrayBuffer or an ArrayBufferView");
    return this.#decoder.decode(bytes, Boolean(toDictionary<{ stream: boolean }>(options, "TextDecoder.decode options").stream));
  }
}

for (const cls of [TextEncoder, TextDecoder]) enumerableMembers(cls);
tagClass(TextEncoder, "TextEncoder");
tagClass(TextDecoder, "TextDecoder");
