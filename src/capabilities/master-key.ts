// Where the master key ring comes from, and how it is rotated. With ISOBOX_MASTER_KEY the
// operator rotates: put the new key first ("new,old") on every node, rotate, then drop the old.
// With the key the node generated into its data dir, rotation does all of that itself.
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureDataDirSecret } from "../tenancy/data-dir-secret.ts";
import { SecretBox } from "./secret-box.ts";
import type { SecretStore } from "./secrets.ts";

export interface MasterKey {
  box: SecretBox;
  /** Re-encrypts every secret under a (for a data-dir key: new) first key. */
  rotate(store: SecretStore): Promise<{ keyId: string; reencrypted: number }>;
}

export async function loadMasterKey(configured: string | undefined, dataDir: string): Promise<MasterKey> {
  if (configured) {
    const box = SecretBox.fromText(configured);
    return { box, rotate: async (store) => ({ keyId: box.keyId, reencrypted: await store.reencrypt(box) }) };
  }
  const { value, file } = await ensureDataDirSecret(dataDir, "master-key", SecretBox.generateText);
  let current = value;
  return {
    box: SecretBox.fromText(current),
    async rotate(store) {
      const fresh = SecretBox.generateText();
      const [old] = current.split(",");
      // The file holds both keys until every row is redone: a crash in between loses nothing.
      await replaceFile(file, `${fresh},${old}`);
      const reencrypted = await store.reencrypt(SecretBox.fromText(`${fresh},${old}`));
      await replaceFile(file, fresh);
      current = fresh;
      const box = SecretBox.fromText(fresh);
      await store.reencrypt(box);
      return { keyId: box.keyId, reencrypted };
    },
  };
}

async function replaceFile(file: string, content: string): Promise<void> {
  const temp = join(file, "..", `.master-key.${process.pid}`);
  await writeFile(temp, `${content}\n`, { mode: 0o600 });
  await rename(temp, file);
}
