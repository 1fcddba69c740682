// Where the master key ring comes from, and how it is rotated. With ISOBOX_MASTER_KEY the
// operator rotates: put the new key first ("new,old") on every node, rotate, then drop the old.
// With the key the node generated into its data dir, rotation does all of that itself. Either
// way, once every secret is under the new key, rotation makes it the cluster's
// (src/cluster/identity.ts): a node with only the old key refuses to start from then on.
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { keyCheck } from "../cluster/fingerprint.ts";
import { discardCreated, ensureDataDirSecret, readDataDirSecret, type DataDirSecret } from "../tenancy/data-dir-secret.ts";
import { SecretBox } from "./secret-box.ts";
import type { SecretStore } from "./secrets.ts";

export interface MasterKey {
  box: SecretBox;
  /** Where the ring came from, as a refusal names it: "ISOBOX_MASTER_KEY" or the data dir file. */
  source: string;
  /** keyCheck() of each key of the ring, the encrypting key's first. */
  checks: string[];
  /** Re-encrypts every secret under a (for a data-dir key: new) first key, then makes it the cluster's. */
  rotate(store: SecretStore): Promise<{ keyId: string; reencrypted: number }>;
  /** Deletes the key file when this start generated it: a node the cluster refused keeps no key of its own. */
  discard(): Promise<void>;
}

export interface LoadOptions {
  /** False when the cluster has a key already: a fresh one would encrypt nothing anyone can read. */
  generate: boolean;
  /** Makes a key the cluster's once no secret is under another (see adoptMasterKey). */
  adopt(check: string, keyId: string): Promise<void>;
}

/** The ring, or undefined when none is configured, the data dir holds none and `generate` is false. */
export async function loadMasterKey(configured: string | undefined, dataDir: string, options: LoadOptions): Promise<MasterKey | undefined> {
  if (configured) return configuredKey(configured, options);
  const secret = options.generate
    ? await ensureDataDirSecret(dataDir, "master-key", SecretBox.generateText)
    : await readDataDirSecret(dataDir, "master-key");
  return secret && dataDirKey(secret, options);
}

function configuredKey(text: string, options: LoadOptions): MasterKey {
  const box = SecretBox.fromText(text);
  const checks = checksOf(text);
  return {
    box,
    source: "ISOBOX_MASTER_KEY",
    checks,
    async rotate(store) {
      const reencrypted = await store.reencrypt(box);
      await options.adopt(checks[0], box.keyId);
      return { keyId: box.keyId, reencrypted };
    },
    discard: async () => {},
  };
}

function dataDirKey(secret: DataDirSecret, options: LoadOptions): MasterKey {
  const { file } = secret;
  let current = secret.value;
  return {
    box: SecretBox.fromText(current),
    source: `The master key in ${file}`,
    checks: checksOf(current),
    async rotate(store) {
      const fresh = SecretBox.generateText();
      const [old] = current.split(",");
      // The file holds both keys until every row is redone and the cluster has the new one:
      // a crash anywhere in between leaves a ring the cluster accepts, and loses nothing.
      await replaceFile(file, `${fresh},${old}`);
      const both = SecretBox.fromText(`${fresh},${old}`);
      const reencrypted = await store.reencrypt(both);
      await options.adopt(checksOf(fresh)[0], both.keyId);
      await replaceFile(file, fresh);
      current = fresh;
      const box = SecretBox.fromText(fresh);
      await store.reencrypt(box);
      return { keyId: box.keyId, reencrypted };
    },
    discard: () => discardCreated(secret),
  };
}

/**
 * The check value of each key of a ring's text. SecretBox keeps its keys to itself, so they are
 * read here again by its rules (64 hex characters, else base64), after it validated the text.
 */
function checksOf(text: string): string[] {
  SecretBox.fromText(text);
  return text.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const key = /^[0-9a-f]{64}$/i.test(part) ? Buffer.from(part, "hex") : Buffer.from(part, "base64");
    return keyCheck(key);
  });
}

async function replaceFile(file: string, content: string): Promise<void> {
  const temp = join(file, "..", `.master-key.${process.pid}`);
  await writeFile(temp, `${content}\n`, { mode: 0o600 });
  await rename(temp, file);
}
