// The Body mixin of Request and Response (Fetch Standard). A body keeps what it was made from —
// a string or bytes — until someone asks for `.body`; only then is a ReadableStream made. So the
// common paths (a handler returning `new Response(JSON.stringify(x))`, the runtime reading it back
// with arrayBuffer()) never build a stream, and text() of a string body never round-trips UTF-8.
import { Blob, blobBytes, blobFromBytes } from "./blob.ts";
import { utf8Decode, utf8Encode } from "./encoding.ts";
import { FormData, parseFormData, serializeFormData } from "./form-data.ts";
import type { Headers } from "./headers.ts";
import { parseMimeType, serializeMimeType } from "./mime.ts";
import { byteStream, isDisturbed, isReadableStream, readAllBytes, type ReadableStream } from "./streams.ts";
import { isURLSearchParams, type URLSearchParams } from "./url.ts";
import { copyBytes, exactBuffer, viewBytes, type Bytes } from "./util.ts";

export type BodyInit = string | ArrayBuffer | ArrayBufferView | Blob | URLSearchParams | FormData | ReadableStream | null;

export interface Body {
  /** The stream, once made (or given to the constructor). */
  stream: ReadableStream<Uint8Array> | null;
  /** The content while no stream exists: a string, or bytes. */
  source: string | Uint8Array | null;
  /** Whether `source` bytes belong to this body alone, so they may be handed out without a copy. */
  owned: boolean;
  /** Consumed through text()/json()/... without a stream. */
  used: boolean;
}

interface Holder {
  body: Body | null;
  headers: Headers;
}

const holders = new WeakMap<object, Holder>();

/** Ties a Request or Response to its body and headers (the mixin's "this's body"). */
export function attachBody(owner: object, body: Body | null, headers: Headers): void {
  holders.set(owner, { body, headers });
}

function holderOf(owner: unknown): Holder {
  const holder = typeof owner === "object" && owner !== null ? holders.get(owner) : undefined;
  if (!holder) throw new TypeError("Illegal invocation");
  return holder;
}

export function bodyOf(owner: object): Body | null {
  return holderOf(owner).body;
}

function bytesBody(bytes: Uint8Array, owned: boolean): Body {
  return { stream: null, source: bytes, owned, used: false };
}

/** A body over bytes the caller gives up (no copy): the wire's buffers. */
export function adoptedBody(bytes: Uint8Array): Body {
  return bytesBody(bytes, true);
}

/** "Extract a body": the body and the Content-Type it implies, if any. */
export function extractBody(init: unknown): { body: Body; type: string | null } {
  if (typeof init === "string") return { body: { stream: null, source: init, owned: true, used: false }, type: "text/plain;charset=UTF-8" };
  if (isURLSearchParams(init)) {
    return { body: { stream: null, source: init.toString(), owned: true, used: false }, type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  if (init instanceof FormData) {
    const { bytes, type } = serializeFormData(init);
    return { body: bytesBody(bytes, true), type };
  }
  if (init instanceof Blob) return { body: bytesBody(blobBytes(init), false), type: init.type || null };
  if (isReadableStream(init)) {
    if (init.locked || isDisturbed(init)) throw new TypeError("The body stream is locked or has been read");
    return { body: { stream: init, source: null, owned: false, used: false }, type: null };
  }
  const bytes = viewBytes(init);
  if (bytes) return { body: bytesBody(copyBytes(bytes), true), type: null };
  return extractBody(String(init));
}

export function isUnusable(body: Body | null): boolean {
  if (body === null) return false;
  if (body.used) return true;
  return body.stream !== null && (body.stream.locked || isDisturbed(body.stream));
}

function isUsed(body: Body | null): boolean {
  return body !== null && (body.used || (body.stream !== null && isDisturbed(body.stream)));
}

/** The body's stream, made on first request. */
function streamOf(body: Body): ReadableStream<Uint8Array> {
  if (body.stream === null) {
    const source = body.source;
    const bytes = source === null ? new Uint8Array(0) : typeof source === "string" ? utf8Encode(source) : ownedBytes(source, body.owned);
    body.stream = byteStream(bytes);
    body.source = null;
  }
  return body.stream;
}

function ownedBytes(bytes: Uint8Array, owned: boolean): Bytes {
  return owned && bytes.buffer instanceof ArrayBuffer ? (bytes as Bytes) : copyBytes(bytes);
}

type Content = string | { bytes: Uint8Array; owned: boolean };

/**
 * "Consume body": rejects if unusable, else marks the body used — synchronously, before the
 * caller's first await, so a second read in the same tick already fails.
 */
function consume(owner: unknown): Content | Promise<Content> {
  const { body } = holderOf(owner);
  if (body === null) return { bytes: new Uint8Array(0), owned: true };
  if (isUnusable(body)) throw new TypeError("Body is unusable: Body has already been read");
  if (body.stream !== null) return readAllBytes(body.stream).then((bytes) => ({ bytes, owned: true }));
  body.used = true;
  const source = body.source ?? "";
  body.source = null; // the content now belongs to the reader
  return typeof source === "string" ? source : { bytes: source, owned: body.owned };
}

function asBytes(content: Content): Bytes {
  return typeof content === "string" ? utf8Encode(content) : ownedBytes(content.bytes, content.owned);
}

function asText(content: Content): string {
  return typeof content === "string" ? content.toWellFormed() : utf8Decode(content.bytes);
}

function mimeTypeOf(owner: unknown) {
  const header = holderOf(owner).headers.get("content-type");
  return header === null ? null : parseMimeType(header);
}

/** The members every Request and Response share; copied onto both prototypes by mixinBody. */
class BodyMixin {
  get body(): ReadableStream<Uint8Array> | null {
    const { body } = holderOf(this);
    return body === null ? null : streamOf(body);
  }

  get bodyUsed(): boolean {
    return isUsed(holderOf(this).body);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return exactBuffer(asBytes(await consume(this)));
  }

  async bytes(): Promise<Bytes> {
    const bytes = asBytes(await consume(this));
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  }

  async text(): Promise<string> {
    return asText(await consume(this));
  }

  async json(): Promise<unknown> {
    return JSON.parse(asText(await consume(this)));
  }

  async blob(): Promise<Blob> {
    const mime = mimeTypeOf(this);
    return blobFromBytes(asBytes(await consume(this)), mime ? serializeMimeType(mime) : "");
  }

  async formData(): Promise<FormData> {
    const mime = mimeTypeOf(this);
    const content = await consume(this);
    return parseFormData(typeof content === "string" ? utf8Encode(content) : content.bytes, mime);
  }
}

/** Puts the Body members on a class's prototype (enumerable, as WebIDL defines them). */
export function mixinBody(cls: { prototype: object }): void {
  for (const key of Object.getOwnPropertyNames(BodyMixin.prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(BodyMixin.prototype, key)!;
    Object.defineProperty(cls.prototype, key, { ...descriptor, enumerable: true });
  }
}

/** The members mixinBody adds, for the classes' types. */
export type BodyMembers = BodyMixin;

/** "Clone a body": a teed stream, or the same source now shared by both. */
export function cloneBody(body: Body | null): Body | null {
  if (body === null) return null;
  if (body.stream !== null) {
    const [mine, theirs] = body.stream.tee();
    body.stream = mine;
    return { stream: theirs, source: null, owned: false, used: false };
  }
  body.owned = false;
  return { stream: null, source: body.source, owned: false, used: body.used };
}

/** Moves a body to a new Request (new Request(request)): the old one is left used. */
export function takeBody(body: Body | null): Body | null {
  if (body === null) return null;
  if (isUnusable(body)) throw new TypeError("Cannot construct a Request with a Request whose body is already used");
  const moved: Body = { ...body };
  body.used = true;
  body.source = null;
  return moved;
}

/** Reads the whole body as bytes for the wire; null for a null body. */
export async function bodyBytes(owner: object): Promise<Bytes | null> {
  if (holderOf(owner).body === null) return null;
  return asBytes(await consume(owner));
}
