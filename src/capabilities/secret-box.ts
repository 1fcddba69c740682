// SecretBox: AES-256-GCM encryption of secret values under the master key ring. The first key
// encrypts; any key of the ring decrypts what it made. Each ciphertext names its key, so a wrong
// ISOBOX_MASTER_KEY is a clear error, not garbage, and rotation can find what is left to redo.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const VERSION = "v1";

function keyIdOf(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

function parseKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32) throw new Error("Each master key must be 32 bytes (64 hex characters or 44 base64 characters)");
  return key;
}

export class SecretBox {
  /** The id of the key that encrypts. */
  readonly keyId: string;
  private readonly keys: Map<string, Buffer>;

  private constructor(keys: Buffer[]) {
    this.keys = new Map(keys.map((key) => [keyIdOf(key), key]));
    this.keyId = keyIdOf(keys[0]);
  }

  /** Parses ISOBOX_MASTER_KEY: "new[,old…]", each 64 hex characters or base64 of 32 bytes. */
  static fromText(text: string): SecretBox {
    const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
    if (parts.length === 0) throw new Error("The master key is empty");
    return new SecretBox(parts.map(parseKey));
  }

  static generateText(): string {
    return randomBytes(32).toString("hex");
  }

  /** True when the ring can decrypt what key `id` made. */
  knows(id: string): boolean {
    return this.keys.has(id);
  }

  /** `aad` binds the ciphertext to its place (tenant/name), so rows cannot be swapped. */
  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(this.keyId)!, iv).setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [VERSION, this.keyId, iv.toString("base64"), cipher.getAuthTag().toString("base64"), body.toString("base64")].join(":");
  }

  decrypt(ciphertext: string, aad: string): string {
    const [version, keyId, iv, tag, body] = ciphertext.split(":");
    if (version !== VERSION || body === undefined) throw new Error("Unrecognised secret format");
    const key = this.keys.get(keyId);
    if (!key) throw new WrongMasterKey(keyId, this.keyId);
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64")).setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString("utf8");
  }

  /** The key id a stored ciphertext was made with. */
  static keyIdOf(ciphertext: string): string | undefined {
    return ciphertext.split(":")[1];
  }
}

export class WrongMasterKey extends Error {
  constructor(stored: string, given: string) {
    super(`Secrets were encrypted with master key ${stored}, but the configured ISOBOX_MASTER_KEY is ${given}: set the key they were made with (during a rotation: "new,old")`);
    this.name = "WrongMasterKey";
  }
}
