// Tenants and their API keys. Keys are shown once and stored as SHA-256.
import { randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { apiKeys, tenants } from "../../schema/tables.ts";
import type { Database } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import { sha256Hex } from "./secret-compare.ts";

export const DEFAULT_TENANT = "default";

export interface Tenant {
  name: string;
  quotas: Record<string, number>;
  createdAt: Date;
}

export interface IssuedKey {
  id: string;
  apiKey: string;
}

/** A tenant's key as listed: never the key itself. */
export interface KeyInfo {
  id: string;
  prefix: string;
  createdAt: Date;
}

export async function ensureDefaultTenant(db: Database): Promise<void> {
  await db.insert(tenants).values({ name: DEFAULT_TENANT }).onConflictDoNothing();
}

export async function createTenant(db: Database, name: string, quotas: Record<string, number> = {}): Promise<IssuedKey & { name: string }> {
  const inserted = await db.insert(tenants).values({ name, quotas }).onConflictDoNothing().returning({ name: tenants.name });
  if (inserted.length === 0) throw new IsoboxError("ERR_CONFLICT", `Tenant ${name} exists already`);
  return { name, ...(await issueKey(db, name)) };
}

export async function getTenant(db: Database, name: string): Promise<Tenant | undefined> {
  const [row] = await db.select().from(tenants).where(eq(tenants.name, name));
  return row;
}

export async function listTenants(db: Database): Promise<Tenant[]> {
  return db.select().from(tenants).orderBy(tenants.name);
}

export async function setQuotas(db: Database, name: string, quotas: Record<string, number>): Promise<Tenant | undefined> {
  const [row] = await db.update(tenants).set({ quotas }).where(eq(tenants.name, name)).returning();
  return row;
}

export async function issueKey(db: Database, tenant: string): Promise<IssuedKey> {
  const apiKey = `isk_${randomBytes(24).toString("base64url")}`;
  const id = `key_${randomBytes(8).toString("hex")}`;
  await db.insert(apiKeys).values({ id, tenant, hash: sha256Hex(apiKey), prefix: apiKey.slice(0, 10) });
  return { id, apiKey };
}

export async function listKeys(db: Database, tenant: string): Promise<KeyInfo[]> {
  return db.select({ id: apiKeys.id, prefix: apiKeys.prefix, createdAt: apiKeys.createdAt }).from(apiKeys).where(eq(apiKeys.tenant, tenant)).orderBy(apiKeys.createdAt);
}

export async function revokeKey(db: Database, tenant: string, id: string): Promise<boolean> {
  const deleted = await db.delete(apiKeys).where(and(eq(apiKeys.tenant, tenant), eq(apiKeys.id, id))).returning({ id: apiKeys.id });
  return deleted.length > 0;
}

/** The tenant a key belongs to. The lookup is by hash, so no key comparison leaks timing. */
/** The tenant of the API key whose SHA-256 (hex) is `hash`. */
export async function tenantOfKeyHash(db: Database, hash: string): Promise<string | undefined> {
  const [row] = await db.select({ tenant: apiKeys.tenant }).from(apiKeys).where(eq(apiKeys.hash, hash));
  return row?.tenant;
}
