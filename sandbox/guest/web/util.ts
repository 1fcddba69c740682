// Small WebIDL-style conversions shared by the Web API classes.

export type Bytes = Uint8Array<ArrayBuffer>;

/** Installs a global the way browsers do: writable, configurable, not enumerable. */
export function defineGlobal(name: string, value: unknown): void {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

/** Gives a class's prototype the Symbol.toStringTag browsers show ("[object Headers]"). */
export function tagClass(cls: { prototype: object }, tag: string): void {
  Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: tag, configurable: true });
}

/** Makes the prototype's methods and accessors enumerable, as WebIDL interfaces have them. */
export function enumerableMembers(cls: { prototype: object }): void {
  const proto = cls.prototype;
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
    if (descriptor.configurable) Object.defineProperty(proto, key, { ...descriptor, enumerable: true });
  }
}

export function requireArgs(count: number, needed: number, what: string): void {
  if (count < needed) {
    throw new TypeError(`${what}: ${needed} argument${needed === 1 ? "" : "s"} required, but only ${count} present.`);
  }
}

/** WebIDL ByteString: every code unit must fit in a byte. */
export function toByteString(value: unknown, what: string): string {
  const string = String(value);
  for (let i = 0; i < string.length; i++) {
    if (string.charCodeAt(i) > 0xff) throw new TypeError(`${what}: "${string}" is not a valid ByteString`);
  }
  return string;
}

/** WebIDL USVString: lone surrogates become U+FFFD. */
export function toUSVString(value: unknown): string {
  return String(value).toWellFormed();
}

/** WebIDL dictionaries accept undefined and null as "empty"; anything else must be an object. */
export function toDictionary<T extends object>(value: unknown, what: string): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" && typeof value !== "function") throw new TypeError(`${what} must be an object`);
  return value as Partial<T>;
}

/** WebIDL enumerations: anything outside the listed strings is a TypeError. */
export function toEnum<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  const string = String(value);
  if (!(allowed as readonly string[]).includes(string)) throw new TypeError(`${what}: '${string}' is not a valid value`);
  return string as T;
}

/** The bytes a BufferSource views, without copying; null when the value is no BufferSource. */
export function viewBytes(value: unknown): Uint8Array | null {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/** A private copy of the bytes of a BufferSource (the Fetch and File specs copy at construction). */
export function copyBytes(value: Uint8Array): Bytes {
  const copy = new Uint8Array(value.byteLength);
  copy.set(value);
  return copy;
}

/** A new buffer holding the chunks one after another. */
export function concatBytes(chunks: Uint8Array[], total?: number): Bytes {
  const size = total ?? chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** An ArrayBuffer holding exactly these bytes; reuses the buffer when the view covers all of it. */
export function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

/** A token only this runtime holds: constructors that take it are reachable internally only. */
export const INTERNAL: unique symbol = Symbol("internal");

export function illegalConstructor(): never {
  throw new TypeError("Illegal constructor");
}
