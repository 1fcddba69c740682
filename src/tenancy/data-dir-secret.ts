// Secrets the node generates on first start and keeps in the data dir with mode 0600
// (the admin token; later the master key).
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
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
  try {
    // "wx": of processes starting at once, exactly one creates the file; the others read it.
    await writeFile(file, `${value}\n`, { flag: "wx", mode: 0o600 });
    return { value, file, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  await chmod(file, 0o600);
  const existing = (await readFile(file, "utf8")).trim();
  if (!existing) throw new Error(`${file} is empty; delete it to generate a new one`);
  return { value: existing, file, created: false };
}

export function newAdminToken(): string {
  return `isa_${randomBytes(32).toString("base64url")}`;
}
