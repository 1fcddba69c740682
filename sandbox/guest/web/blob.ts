// Blob and File (W3C File API). Hand-written: fetch-blob and formdata-polyfill need Node's
// streams. A Blob holds its bytes in one immutable buffer; slices are views of it and every read
// hands out a copy, so no caller can change a Blob's contents.
import { utf8Decode, utf8Encode } from "./encoding.ts";
import { byteStream, type ReadableStream } from "./streams.ts";
import { concatBytes, copyBytes, enumerableMembers, requireArgs, tagClass, toDictionary, toEnum, toUSVString, viewBytes, type Bytes } from "./util.ts";

interface BlobOptions {
  type?: string;
  endings?: "transparent" | "native";
}

interface FileOptions extends BlobOptions {
  lastModified?: number;
}

/** Blob's type: lower-cased when it is printable ASCII, otherwise the empty string. */
function normalizeType(type: unknown): string {
  const text = String(type);
  return /^[\x20-\x7e]*$/.test(text) ? text.toLowerCase() : "";
}

function partsToBytes(parts: unknown, endings: "transparent" | "native"): Bytes {
  if (parts === undefined) return new Uint8Array(0);
  if (parts === null || typeof parts !== "object" || typeof (parts as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new TypeError("Blob: blobParts must be a sequence");
  }
  const chunks: Uint8Array[] = [];
  for (const part of parts as Iterable<unknown>) {
    if (part instanceof Blob) chunks.push(blobBytes(part));
    else {
      const bytes = viewBytes(part);
      if (bytes) chunks.push(bytes);
      else {
        const text = toUSVString(part);
        // "native" endings are the platform's: the sandbox is POSIX-like, so LF.
        chunks.push(utf8Encode(endings === "native" ? text.replace(/\r\n?/g, "\n") : text));
      }
    }
  }
  return concatBytes(chunks);
}

// Module-internal access to Blob's private fields, assigned by the class's static block.
let blobBytes: (blob: Blob) => Uint8Array;
let adoptBytes: (blob: Blob, bytes: Uint8Array, type: string) => void;

export class Blob {
  #bytes: Uint8Array;
  #type: string;

  constructor(blobParts?: Iterable<unknown>, options?: BlobOptions) {
    const init = toDictionary<BlobOptions>(options, "BlobPropertyBag");
    const endings = init.endings === undefined ? "transparent" : toEnum(init.endings, ["transparent", "native"], "Blob endings");
    this.#bytes = partsToBytes(blobParts, endings);
    this.#type = init.type === undefined ? "" : normalizeType(init.type);
  }

  get size(): number {
    return this.#bytes.byteLength;
  }

  get type(): string {
    return this.#type;
  }

  slice(start?: number, end?: number, contentType?: string): Blob {
    const size = this.#bytes.byteLength;
    const from = relativeIndex(start, 0, size);
    const to = relativeIndex(end, size, size);
    return blobFromBytes(this.#bytes.subarray(from, Math.max(from, to)), contentType === undefined ? "" : normalizeType(contentType));
  }

  async text(): Promise<string> {
    return utf8Decode(this.#bytes);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return copyBytes(this.#bytes).buffer;
  }

  async bytes(): Promise<Bytes> {
    return copyBytes(this.#bytes);
  }

  stream(): ReadableStream<Uint8Array> {
    return byteStream(copyBytes(this.#bytes));
  }

  static {
    blobBytes = (blob) => blob.#bytes;
    adoptBytes = (blob, bytes, type) => {
      blob.#bytes = bytes;
      blob.#type = type;
    };
  }
}

function relativeIndex(value: number | undefined, fallback: number, size: number): number {
  if (value === undefined) return fallback;
  const index = Math.trunc(Number(value)) || 0;
  return index < 0 ? Math.max(size + index, 0) : Math.min(index, size);
}

/** A Blob over bytes the caller gives up (no copy). */
export function blobFromBytes(bytes: Uint8Array, type: string): Blob {
  const blob = new Blob();
  adoptBytes(blob, bytes, normalizeType(type));
  return blob;
}

export class File extends Blob {
  #name: string;
  #lastModified: number;

  constructor(fileBits: Iterable<unknown>, fileName: string, options?: FileOptions) {
    requireArgs(arguments.length, 2, "File");
    super(fileBits, options);
    const init = toDictionary<FileOptions>(options, "FilePropertyBag");
    this.#name = toUSVString(fileName);
    this.#lastModified = init.lastModified === undefined ? Date.now() : Math.trunc(Number(init.lastModified)) || 0;
  }

  get name(): string {
    return this.#name;
  }

  get lastModified(): number {
    return this.#lastModified;
  }

  get webkitRelativePath(): string {
    return "";
  }
}

/** A File over bytes the caller gives up (no copy). */
export function fileFromBytes(bytes: Uint8Array, name: string, type: string, lastModified = Date.now()): File {
  const file = new File([], name, { lastModified });
  adoptBytes(file, bytes, normalizeType(type));
  return file;
}

export { blobBytes };

for (const cls of [Blob, File]) enumerableMembers(cls);
tagClass(Blob, "Blob");
tagClass(File, "File");
