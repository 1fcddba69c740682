// Tenant secrets: stored encrypted, listed by name only, decrypted only into the env of a
// function whose manifest names them. A per-process cache is invalidated on every node by NOTIFY.
import { and, eq, sql } from "drizzle-orm";
import { secrets } from "../../schema/tables.ts";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import { SecretBox, WrongMasterKey } from "./secret-box.ts";

export const SECRETS_CHANNEL = "isobox_secrets";
export const MAX_SECRET_BYTES = 64 * 1024;
const TTL_MS = 30_000;

export class SecretStore {
  private readonly cache = new Map<string, { values: Map<string, string>; expires: number }>();
  private unlisten: (() => Promise<void>) | undefined;
  private readonly db: Db;
  private readonly box: SecretBox;

  constructor(db: Db, box: SecretBox) {
    this.db = db;
    this.box = box;
  }

  /** Refuses to start with a master key other than the one the stored secrets were made with. */
  async start(): Promise<void> {
    const [row] = await this.db.orm.select({ ciphertext: secrets.ciphertext }).from(secrets).limit(1);
    const stored = row && SecretBox.keyIdOf(row.ciphertext);
    if (stored && stored !== this.box.keyId) throw new WrongMasterKey(stored, this.box.keyId);
    this.unlisten = await this.db.listen(SECRETS_CHANNEL, (tenant) => this.cache.delete(tenant));
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  async set(tenant: string, name: string, value: string): Promise<{ name: string; updatedAt: Date }> {
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new IsoboxError("ERR_BAD_REQUEST", `value: larger than ${MAX_SECRET_BYTES} bytes`);
    const ciphertext = this.box.encrypt(value, `${tenant}/${name}`);
    const [row] = await this.db.orm.insert(secrets).values({ tenant, name, ciphertext })
      .onConflictDoUpdate({ target: [secrets.tenant, secrets.name], set: { ciphertext, updatedAt: sql`now()` } })
      .returning({ name: secrets.name, updatedAt: secrets.updatedAt });
    await this.changed(tenant);
    return row;
  }

  async list(tenant: string): Promise<{ name: string; updatedAt: Date }[]> {
    return this.db.orm.select({ name: secrets.name, updatedAt: secrets.updatedAt }).from(secrets).where(eq(secrets.tenant, tenant)).orderBy(secrets.name);
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    const deleted = await this.db.orm.delete(secrets).where(and(eq(secrets.tenant, tenant), eq(secrets.name, name))).returning({ name: secrets.name });
    await this.changed(tenant);
    return deleted.length > 0;
  }

  /** The named secrets of a tenant that exist, decrypted. */
  async env(tenant: string, names: readonly string[]): Promise<Record<string, string>> {
    if (names.length === 0) return {};
    const values = await this.tenantValues(tenant);
    const env: Record<string, string> = {};
    for (const name of names) {
      const value = values.get(name);
      if (value !== undefined) env[name] = value;
    }
    return env;
  }

  private async tenantValues(tenant: string): Promise<Map<string, string>> {
    const hit = this.cache.get(tenant);
    if (hit && hit.expires > Date.now()) return hit.values;
    const rows = await this.db.orm.select().from(secrets).where(eq(secrets.tenant, tenant));
    const values = new Map(rows.map((row) => [row.name, this.box.decrypt(row.ciphertext, `${tenant}/${row.name}`)]));
    this.cache.set(tenant, { values, expires: Date.now() + TTL_MS });
    return values;
  }

  private async changed(tenant: string): Promise<void> {
    this.cache.delete(tenant);
    await this.db.notify(SECRETS_CHANNEL, tenant);
  }
}

/** Replaces every secret value in a text with [secret]. */
export function redact(text: string, values: readonly string[]): string {
  let out = text;
  for (const value of values) if (value.length >= 4) out = out.split(value).join("[secret]");
  return out;
}
