// Secrets a node keeps in its data dir with mode 0600: the admin token and the master key it
// generated on the first start of a cluster. A node that joins an existing cluster generates
// neither (src/cluster/join.ts): it reads what its data dir holds, if anything.
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface DataDirSecret {
  value: string;
  file: string;
  /** True when this call generated the value (the caller prints it once). */
  created: boolean;
}

export async function ensureDataDirSecret(dataDir: string, name: string, generate: () => string): Promise<DataDirSecret> {
  const file = join(dataDir, name);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const value = generate();
  // Written whole under a name of its own, then linked into place: of processes starting at once
  // (the workers of `isobox start`) exactly one creates the file, and none reads it half written.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(draft, `${value}\n`, { flag: "wx", mode: 0o600 });
  try {
    await link(draft, file);
    return { value, file, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await rm(draft, { force: true });
  }
  const existing = await readDataDirSecret(dataDir, name);
  if (!existing) throw new Error(`${file} disappeared while this node read it; start again`);
  return existing;
}

/** The secret in the data dir, or undefined when there is none (nothing is generated). */
export async function readDataDirSecret(dataDir: string, name: string): Promise<DataDirSecret | undefined> {
  const file = join(dataDir, name);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  await chmod(file, 0o600);
  const value = text.trim();
  if (!value) throw new Error(`${file} is empty; delete it to generate a new one`);
  return { value, file, created: false };
}

/** Deletes a secret this start generated and the cluster refused: it never protected anything. */
export async function discardCreated(secret: DataDirSecret | undefined): Promise<void> {
  if (secret?.created) await rm(secret.file, { force: true });
}

export function newAdminToken(): string {
  return `isa_${randomBytes(32).toString("base64url")}`;
}
