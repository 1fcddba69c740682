// crypto: getRandomValues, randomUUID and a SubtleCrypto limited to digest and HMAC. The work is
// done by the host (node:crypto) through synchronous bindings that take and return copied
// ArrayBuffers; key material stays inside the guest, in CryptoKey's private field.
import type { HostBindings } from "../../protocol.ts";
import { fromBase64Url, toBase64Url } from "./base64.ts";
import { DOMException } from "./dom-exception.ts";
import { enumerableMembers, exactBuffer, illegalConstructor, INTERNAL, requireArgs, tagClass, viewBytes, type Bytes } from "./util.ts";

type CryptoBindings = Pick<HostBindings, "randomBytes" | "digest" | "hmac">;

let host: CryptoBindings;

const HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"] as const;
type Hash = (typeof HASHES)[number];
/** HMAC's default key length is the hash's block size. */
const BLOCK_BITS: Record<Hash, number> = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
const JWK_ALG: Record<Hash, string> = { "SHA-1": "HS1", "SHA-256": "HS256", "SHA-384": "HS384", "SHA-512": "HS512" };
const HMAC_USAGES = ["sign", "verify"];
const MAX_RANDOM = 65536;

type AlgorithmIdentifier = string | { name: string; [key: string]: unknown };

interface HmacAlgorithm {
  name: "HMAC";
  hash: { name: Hash };
  length: number;
}

function notSupported(what: string): DOMException {
  return new DOMException(`${what} is not supported in the sandbox (digest and HMAC are)`, "NotSupportedError");
}

function algorithmName(algorithm: unknown): string {
  if (typeof algorithm === "string") return algorithm;
  if (algorithm && typeof algorithm === "object" && "name" in algorithm) return String((algorithm as { name: unknown }).name);
  throw new TypeError("Algorithm: expected a string or an object with a name");
}

function normalizeHash(algorithm: unknown): Hash {
  const name = algorithmName(algorithm).toUpperCase();
  const hash = HASHES.find((candidate) => candidate === name);
  if (!hash) throw notSupported(`Hash algorithm ${name}`);
  return hash;
}

function isHmac(algorithm: unknown): boolean {
  return algorithmName(algorithm).toUpperCase() === "HMAC";
}

/** BufferSource to a standalone ArrayBuffer (what crosses to the host). */
function bufferSource(value: unknown, what: string): ArrayBuffer {
  const bytes = viewBytes(value);
  if (!bytes) throw new TypeError(`${what} must be an ArrayBuffer or an ArrayBufferView`);
  return bytes.slice().buffer as ArrayBuffer;
}

// Module-internal access to CryptoKey's private fields, assigned by the class's static block.
let keyMaterial: (key: unknown, usage: string) => { hash: Hash; material: ArrayBuffer };
let exportable: (key: unknown) => { hash: Hash; usages: string[]; material: ArrayBuffer };

export class CryptoKey {
  // The internal slots; the getters hand out copies made once, so that user code mutating
  // `key.usages` or `key.algorithm.hash` cannot change what the key is allowed to do.
  #hash: Hash;
  #length: number;
  #extractable: boolean;
  #usages: readonly string[];
  #material: ArrayBuffer;
  #algorithmView: HmacAlgorithm | undefined;
  #usagesView: string[] | undefined;

  constructor(token: typeof INTERNAL, hash: Hash, length: number, extractable: boolean, usages: string[], material: ArrayBuffer) {
    if (token !== INTERNAL) illegalConstructor();
    this.#hash = hash;
    this.#length = length;
    this.#extractable = extractable;
    this.#usages = Object.freeze([...usages]);
    this.#material = material;
  }

  get type(): string {
    return "secret";
  }

  get extractable(): boolean {
    return this.#extractable;
  }

  get algorithm(): HmacAlgorithm {
    return (this.#algorithmView ??= { name: "HMAC", hash: { name: this.#hash }, length: this.#length });
  }

  get usages(): string[] {
    return (this.#usagesView ??= [...this.#usages]);
  }

  static {
    keyMaterial = (key, usage) => {
      if (!(key instanceof CryptoKey)) throw new TypeError("key must be a CryptoKey");
      if (!key.#usages.includes(usage)) throw new DOMException(`The key does not allow "${usage}"`, "InvalidAccessError");
      return { hash: key.#hash, material: key.#material };
    };
    exportable = (key) => {
      if (!(key instanceof CryptoKey)) throw new TypeError("key must be a CryptoKey");
      if (!key.#extractable) throw new DOMException("The key is not extractable", "InvalidAccessError");
      return { hash: key.#hash, usages: [...key.#usages], material: key.#material };
    };
  }
}


function hmacKey(algorithm: AlgorithmIdentifier, material: ArrayBuffer, extractable: unknown, usages: unknown): CryptoKey {
  const params = typeof algorithm === "object" ? algorithm : { name: algorithm };
  if (params.hash === undefined) throw new TypeError("HmacImportParams: hash is required");
  const hash = normalizeHash(params.hash);
  const list = Array.from(usages as Iterable<unknown>, String);
  if (list.some((usage) => !HMAC_USAGES.includes(usage))) throw new DOMException("HMAC keys can only sign and verify", "SyntaxError");
  if (list.length === 0) throw new DOMException("Usages cannot be empty when creating a key", "SyntaxError");
  const bits = material.byteLength * 8;
  if (bits === 0) throw new DOMException("HMAC key data must not be empty", "DataError");
  let length = bits;
  if (params.length !== undefined) {
    length = Number(params.length);
    if (!(length <= bits && length > bits - 8)) throw new DOMException("HMAC key length does not match the key data", "DataError");
  }
  return new CryptoKey(INTERNAL, hash, length, Boolean(extractable), [...new Set(list)], material);
}

function jwkMaterial(jwk: unknown, algorithm: AlgorithmIdentifier): ArrayBuffer {
  if (!jwk || typeof jwk !== "object") throw new TypeError("JWK key data must be an object");
  const { kty, k, alg } = jwk as { kty?: unknown; k?: unknown; alg?: unknown };
  if (kty !== "oct" || typeof k !== "string") throw new DOMException("An HMAC JWK needs kty 'oct' and k", "DataError");
  const hash = normalizeHash((algorithm as { hash?: unknown }).hash ?? "");
  if (alg !== undefined && alg !== JWK_ALG[hash]) throw new DOMException(`JWK alg ${String(alg)} does not match ${hash}`, "DataError");
  return exactBuffer(fromBase64Url(k));
}

/** Compares two MACs in time that depends on their length only. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

export class SubtleCrypto {
  constructor(token?: typeof INTERNAL) {
    if (token !== INTERNAL) illegalConstructor();
  }

  async digest(algorithm: AlgorithmIdentifier, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> {
    requireArgs(arguments.length, 2, "SubtleCrypto.digest");
    const hash = normalizeHash(algorithm);
    return host.digest(hash, bufferSource(data, "data"));
  }

  async importKey(format: string, keyData: unknown, algorithm: AlgorithmIdentifier, extractable: boolean, usages: string[]): Promise<CryptoKey> {
    requireArgs(arguments.length, 5, "SubtleCrypto.importKey");
    if (!isHmac(algorithm)) throw notSupported(`Algorithm ${algorithmName(algorithm)}`);
    if (format === "raw") return hmacKey(algorithm, bufferSource(keyData, "keyData"), extractable, usages);
    if (format === "jwk") return hmacKey(algorithm, jwkMaterial(keyData, algorithm), extractable, usages);
    throw notSupported(`Key format ${String(format)}`);
  }

  async exportKey(format: string, key: CryptoKey): Promise<ArrayBuffer | object> {
    requireArgs(arguments.length, 2, "SubtleCrypto.exportKey");
    const { hash, usages, material } = exportable(key);
    if (format === "raw") return material.slice(0);
    if (format === "jwk") {
      return { kty: "oct", k: toBase64Url(new Uint8Array(material)), alg: JWK_ALG[hash], key_ops: usages, ext: true };
    }
    throw notSupported(`Key format ${String(format)}`);
  }

  async generateKey(algorithm: AlgorithmIdentifier, extractable: boolean, usages: string[]): Promise<CryptoKey> {
    requireArgs(arguments.length, 3, "SubtleCrypto.generateKey");
    if (!isHmac(algorithm)) throw notSupported(`Algorithm ${algorithmName(algorithm)}`);
    const params = algorithm as { hash?: unknown; length?: unknown };
    const bits = params.length === undefined ? BLOCK_BITS[normalizeHash(params.hash ?? "")] : Number(params.length);
    if (!Number.isInteger(bits) || bits <= 0) throw new DOMException("HMAC key length must be positive", "OperationError");
    const material = host.randomBytes(Math.ceil(bits / 8));
    return hmacKey({ ...params, name: "HMAC", length: bits } as AlgorithmIdentifier, material, extractable, usages);
  }

  async sign(algorithm: AlgorithmIdentifier, key: CryptoKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> {
    requireArgs(arguments.length, 3, "SubtleCrypto.sign");
    if (!isHmac(algorithm)) throw notSupported(`Algorithm ${algorithmName(algorithm)}`);
    const { hash, material } = keyMaterial(key, "sign");
    return host.hmac(hash, material, bufferSource(data, "data"));
  }

  async verify(algorithm: AlgorithmIdentifier, key: CryptoKey, signature: ArrayBuffer | ArrayBufferView, data: ArrayBuffer | ArrayBufferView): Promise<boolean> {
    requireArgs(arguments.length, 4, "SubtleCrypto.verify");
    if (!isHmac(algorithm)) throw notSupported(`Algorithm ${algorithmName(algorithm)}`);
    const { hash, material } = keyMaterial(key, "verify");
    const expected = host.hmac(hash, material, bufferSource(data, "data"));
    return constantTimeEqual(new Uint8Array(expected), new Uint8Array(bufferSource(signature, "signature")));
  }

  async encrypt(): Promise<never> {
    throw notSupported("encrypt");
  }

  async decrypt(): Promise<never> {
    throw notSupported("decrypt");
  }

  async deriveBits(): Promise<never> {
    throw notSupported("deriveBits");
  }

  async deriveKey(): Promise<never> {
    throw notSupported("deriveKey");
  }

  async wrapKey(): Promise<never> {
    throw notSupported("wrapKey");
  }

  async unwrapKey(): Promise<never> {
    throw notSupported("unwrapKey");
  }
}

const INTEGER_ARRAYS = ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array"];

export class Crypto {
  #subtle = new SubtleCrypto(INTERNAL);

  constructor(token?: typeof INTERNAL) {
    if (token !== INTERNAL) illegalConstructor();
  }

  get subtle(): SubtleCrypto {
    return this.#subtle;
  }

  getRandomValues<T extends ArrayBufferView>(array: T): T {
    requireArgs(arguments.length, 1, "Crypto.getRandomValues");
    if (!ArrayBuffer.isView(array)) throw new TypeError("Crypto.getRandomValues: argument must be an integer typed array");
    const kind = Object.prototype.toString.call(array).slice(8, -1);
    if (!INTEGER_ARRAYS.includes(kind)) throw new DOMException(`${kind} is not an integer typed array`, "TypeMismatchError");
    if (array.byteLength > MAX_RANDOM) {
      throw new DOMException(`The ArrayBufferView's byte length (${array.byteLength}) exceeds ${MAX_RANDOM}`, "QuotaExceededError");
    }
    const random = new Uint8Array(host.randomBytes(array.byteLength));
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(random);
    return array;
  }

  randomUUID(): string {
    const bytes: Bytes = new Uint8Array(host.randomBytes(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

for (const cls of [CryptoKey, SubtleCrypto, Crypto]) enumerableMembers(cls);
tagClass(CryptoKey, "CryptoKey");
tagClass(SubtleCrypto, "SubtleCrypto");
tagClass(Crypto, "Crypto");

/** The `crypto` global, bound to the host's bindings (kept in this module, never on a global). */
export function createCrypto(bindings: CryptoBindings): Crypto {
  host = { randomBytes: bindings.randomBytes, digest: bindings.digest, hmac: bindings.hmac };
  return new Crypto(INTERNAL);
}
