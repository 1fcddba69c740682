// SecretBox: AES-256-GCM encryption of secret values under the master key. Each ciphertext
// names the key it was made with, so a wrong ISOBOX_MASTER_KEY is a clear error, not garbage.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const VERSION = "v1";

export class SecretBox {
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("The master key must be 32 bytes (64 hex characters or 44 base64 characters)");
    this.key = key;
    this.keyId = createHash("sha256").update(key).digest("hex").slice(0, 8);
  }

  /** Parses ISOBOX_MASTER_KEY: 64 hex characters or base64 of 32 bytes. */
  static fromText(text: string): SecretBox {
    const trimmed = text.trim();
    const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
    return new SecretBox(key);
  }

  static generateText(): string {
    return randomBytes(32).toString("hex");
  }

  /** `aad` binds the ciphertext to its place (tenant/name), so rows cannot be swapped. */
  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv).setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [VERSION, this.keyId, iv.toString("base64"), cipher.getAuthTag().toString("base64"), body.toString("base64")].join(":");
  }

  decrypt(ciphertext: string, aad: string): string {
    const [version, keyId, iv, tag, body] = ciphertext.split(":");
    if (version !== VERSION || !body) throw new Error("Unrecognised secret format");
    if (keyId !== this.keyId) throw new WrongMasterKey(keyId, this.keyId);
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64")).setAAD(Buffer.from(aad));
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
    super(`Secrets were encrypted with master key ${stored}, but the configured ISOBOX_MASTER_KEY is ${given}: set the key they were made with`);
    this.name = "WrongMasterKey";
  }
}
