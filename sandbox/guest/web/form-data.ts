// FormData (XHR Standard), its multipart/form-data serialisation (HTML) and the parsing done by
// Body.formData(): multipart through @remix-run/multipart-parser, urlencoded through
// URLSearchParams.
import { MultipartParseError, parseMultipart } from "@remix-run/multipart-parser";
import { Blob, blobBytes, File, fileFromBytes } from "./blob.ts";
import { utf8DecodeWithoutBOM, utf8Encode } from "./encoding.ts";
import type { MimeType } from "./mime.ts";
import { urlClasses } from "./url.ts";
import { concatBytes, enumerableMembers, requireArgs, tagClass, toUSVString, type Bytes } from "./util.ts";

type Entry = [string, string | File];

function toEntryValue(value: unknown, filename: unknown, argumentCount: number): string | File {
  if (value instanceof Blob) {
    const name = argumentCount > 2 ? toUSVString(filename) : value instanceof File ? value.name : "blob";
    if (value instanceof File && argumentCount <= 2) return value;
    const options = { type: value.type, lastModified: value instanceof File ? value.lastModified : Date.now() };
    return new File([value], name, options);
  }
  // The overload with a filename only takes a Blob.
  if (argumentCount > 2) throw new TypeError("FormData: a filename can only be given with a Blob value");
  return toUSVString(value);
}

// Module-internal access to the entry list, assigned by the class's static block.
let entriesOf: (form: FormData) => readonly Entry[];

export class FormData {
  #entries: Entry[] = [];

  constructor(form?: unknown) {
    if (form !== undefined) throw new TypeError("FormData: there are no HTML forms in the sandbox");
  }

  append(name: string, value: string | Blob, filename?: string): void {
    requireArgs(arguments.length, 2, "FormData.append");
    this.#entries.push([toUSVString(name), toEntryValue(value, filename, arguments.length)]);
  }

  delete(name: string): void {
    requireArgs(arguments.length, 1, "FormData.delete");
    const key = toUSVString(name);
    this.#entries = this.#entries.filter(([existing]) => existing !== key);
  }

  get(name: string): string | File | null {
    requireArgs(arguments.length, 1, "FormData.get");
    const key = toUSVString(name);
    return this.#entries.find(([existing]) => existing === key)?.[1] ?? null;
  }

  getAll(name: string): Array<string | File> {
    requireArgs(arguments.length, 1, "FormData.getAll");
    const key = toUSVString(name);
    return this.#entries.filter(([existing]) => existing === key).map(([, value]) => value);
  }

  has(name: string): boolean {
    requireArgs(arguments.length, 1, "FormData.has");
    const key = toUSVString(name);
    return this.#entries.some(([existing]) => existing === key);
  }

  set(name: string, value: string | Blob, filename?: string): void {
    requireArgs(arguments.length, 2, "FormData.set");
    const key = toUSVString(name);
    const entry: Entry = [key, toEntryValue(value, filename, arguments.length)];
    const index = this.#entries.findIndex(([existing]) => existing === key);
    if (index === -1) this.#entries.push(entry);
    else {
      this.#entries[index] = entry;
      this.#entries = this.#entries.filter(([existing], i) => existing !== key || i === index);
    }
  }

  forEach(callback: (value: string | File, name: string, form: FormData) => void, thisArg?: unknown): void {
    requireArgs(arguments.length, 1, "FormData.forEach");
    if (typeof callback !== "function") throw new TypeError("FormData.forEach: callback must be a function");
    for (let i = 0; i < this.#entries.length; i++) {
      const [name, value] = this.#entries[i];
      callback.call(thisArg, value, name, this);
    }
  }

  *entries(): IterableIterator<[string, string | File]> {
    for (let i = 0; i < this.#entries.length; i++) yield [...this.#entries[i]];
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][0];
  }

  *values(): IterableIterator<string | File> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][1];
  }

  [Symbol.iterator](): IterableIterator<[string, string | File]> {
    return this.entries();
  }

  static {
    entriesOf = (form) => form.#entries;
  }
}

// ——— multipart/form-data serialisation (HTML "multipart/form-data encoding algorithm") ———

/** Names and filenames: newlines and quotes percent-encoded, as browsers send them. */
function escapeName(name: string): string {
  return name.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
}

const normalizeNewlines = (text: string) => text.replace(/\r\n|\r|\n/g, "\r\n");

function randomBoundary(): string {
  let random = "";
  for (let i = 0; i < 4; i++) random += Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, "0");
  return `----isoboxFormBoundary${random}`;
}

/** The multipart body of a FormData and the Content-Type that names its boundary. */
export function serializeFormData(form: FormData): { bytes: Bytes; type: string } {
  const boundary = randomBoundary();
  const chunks: Uint8Array[] = [];
  for (const [name, value] of entriesOf(form)) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(normalizeNewlines(name))}"`;
    if (typeof value === "string") {
      chunks.push(utf8Encode(`${head}\r\n\r\n${normalizeNewlines(value)}\r\n`));
      continue;
    }
    head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
    chunks.push(utf8Encode(head), blobBytes(value), utf8Encode("\r\n"));
  }
  chunks.push(utf8Encode(`--${boundary}--\r\n`));
  return { bytes: concatBytes(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

// ——— parsing (Body.formData) ———

/** Parses a body as FormData by its MIME type; TypeError when it is neither kind of form. */
export function parseFormData(bytes: Uint8Array, mime: MimeType | null): FormData {
  const kind = mime ? `${mime.type}/${mime.subtype}` : "";
  if (kind === "multipart/form-data") {
    const boundary = mime!.parameters.get("boundary");
    if (!boundary) throw new TypeError("Failed to parse body as FormData: no multipart boundary");
    return parseMultipartForm(bytes, boundary);
  }
  if (kind === "application/x-www-form-urlencoded") {
    const form = new FormData();
    for (const [name, value] of new (urlClasses().URLSearchParams)(utf8DecodeWithoutBOM(bytes))) form.append(name, value);
    return form;
  }
  throw new TypeError(`Failed to parse body as FormData: Content-Type is ${kind ? `'${kind}'` : "missing"}`);
}

/** Undoes escapeName, as the multipart/form-data parsing spec does for names and filenames. */
function unescapeName(name: string): string {
  return name.replace(/%0A/gi, "\n").replace(/%0D/gi, "\r").replace(/%22/g, '"');
}

function parseMultipartForm(bytes: Uint8Array, boundary: string): FormData {
  const form = new FormData();
  try {
    // The isolate's memory limit bounds the body; the parser's own limits would only cut it short.
    const options = { boundary, maxFileSize: Infinity, maxTotalSize: Infinity, maxParts: Infinity, maxHeaderSize: 64 * 1024 };
    for (const part of parseMultipart(bytes, options)) {
      if (part.name === undefined) throw new TypeError("Failed to parse body as FormData: a part has no name");
      const name = unescapeName(part.name);
      const filename = part.filename;
      if (filename === undefined) {
        form.append(name, utf8DecodeWithoutBOM(part.bytes));
      } else {
        form.append(name, fileFromBytes(part.bytes, unescapeName(filename), part.headers["content-type"] ?? "text/plain"));
      }
    }
  } catch (error) {
    if (error instanceof TypeError) throw error;
    const reason = error instanceof MultipartParseError ? error.message : String(error);
    throw new TypeError(`Failed to parse body as FormData: ${reason}`);
  }
  return form;
}

enumerableMembers(FormData);
tagClass(FormData, "FormData");
