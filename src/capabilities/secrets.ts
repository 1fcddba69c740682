// Tenant secrets: stored encrypted, listed by name only, decrypted only into the env of a
// function whose manifest names them. A per-process cache is invalidated on every node by NOTIFY.
import { and, eq, ne, sql } from "drizzle-orm";
import { secrets } from "../../schema/tables.ts";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import { SecretBox, WrongMasterKey } from "./secret-box.ts";

export const SECRETS_CHANNEL = "secrets";
export const MAX_SECRET_BYTES = 64 * 1024;
const TTL_MS = 30_000;

export class SecretStore {
  private readonly cache = new Map<string, { values: Map<string, string>; expires: number }>();
  private unlisten: (() => Promise<void>) | undefined;
  private readonly db: Db;
  private box: SecretBox;

  constructor(db: Db, box: SecretBox) {
    this.db = db;
    this.box = box;
  }

  /** Refuses to start unless the key ring can decrypt every stored secret. */
  async start(): Promise<void> {
    const ids = await this.db.rows<{ id: string }>(sql`select distinct split_part(ciphertext, ':', 2) as id from secrets`);
    const unknown = ids.find(({ id }) => !this.box.knows(id));
    if (unknown) throw new WrongMasterKey(unknown.id, this.box.keyId);
    this.unlisten = await this.db.listen(SECRETS_CHANNEL, (tenant) => {
      if (tenant === "*") this.cache.clear();
      else this.cache.delete(tenant);
    });
  }

  /**
   * Re-encrypts every secret not made with the ring's first key, one row at a time, each only if
   * unchanged meanwhile: nodes keep serving throughout, as every ring in use knows both keys.
   */
  async reencrypt(box: SecretBox = this.box): Promise<number> {
    this.box = box;
    const rows = await this.db.orm.select().from(secrets).where(ne(sql`split_part(${secrets.ciphertext}, ':', 2)`, box.keyId));
    let done = 0;
    for (const row of rows) {
      const aad = `${row.tenant}/${row.name}`;
      const ciphertext = box.encrypt(box.decrypt(row.ciphertext, aad), aad);
      const updated = await this.db.orm.update(secrets).set({ ciphertext })
        .where(and(eq(secrets.tenant, row.tenant), eq(secrets.name, row.name), eq(secrets.ciphertext, row.ciphertext)))
        .returning({ name: secrets.name });
      done += updated.length;
    }
    this.cache.clear();
    await this.db.notify(SECRETS_CHANNEL, "*");
    return done;
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

  /** The secret's value; when it does not exist, `make()` creates it (the first writer wins on every node). */
  async ensure(tenant: string, name: string, make: () => string): Promise<string> {
    const existing = (await this.env(tenant, [name]))[name];
    if (existing !== undefined) return existing;
    const ciphertext = this.box.encrypt(make(), `${tenant}/${name}`);
    await this.db.orm.insert(secrets).values({ tenant, name, ciphertext }).onConflictDoNothing();
    await this.changed(tenant);
    const [row] = await this.db.orm.select().from(secrets).where(and(eq(secrets.tenant, tenant), eq(secrets.name, name)));
    return this.box.decrypt(row.ciphertext, `${tenant}/${name}`);
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
