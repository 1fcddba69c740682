// Functions and their immutable versions in the database.
import { and, desc, eq, sql } from "drizzle-orm";
import { functions, functionVersions } from "../../schema/tables.ts";
import type { Database } from "../db/connect.ts";
import type { Manifest } from "./manifest.ts";

export interface FunctionRow {
  tenant: string;
  name: string;
  activeVersion: number;
  latestVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewVersion {
  code: string;
  manifest: Manifest;
  sourceMap: string | null;
  /** Set when it was deployed as source (the console's editor). */
  source: string | null;
  language: "ts" | "js" | null;
  handlers: string[];
}

export interface VersionRow extends NewVersion {
  version: number;
  createdAt: Date;
}

/** Adds a version and makes it active, in one statement pair inside a transaction. */
export async function insertVersion(db: Database, tenant: string, name: string, version: NewVersion): Promise<number> {
  return db.transaction(async (tx) => {
    // The upsert locks the function's row, so concurrent deploys get consecutive versions.
    const [fn] = await tx.insert(functions)
      .values({ tenant, name, activeVersion: 1, latestVersion: 1 })
      .onConflictDoUpdate({
        target: [functions.tenant, functions.name],
        set: { latestVersion: sql`${functions.latestVersion} + 1`, activeVersion: sql`${functions.latestVersion} + 1`, updatedAt: sql`now()` },
      })
      .returning({ version: functions.latestVersion });
    await tx.insert(functionVersions).values({ tenant, name, ...version, manifest: version.manifest as Record<string, unknown>, version: fn.version });
    return fn.version;
  });
}

export async function getFunction(db: Database, tenant: string, name: string): Promise<FunctionRow | undefined> {
  const [row] = await db.select().from(functions).where(and(eq(functions.tenant, tenant), eq(functions.name, name)));
  return row;
}

export async function listFunctions(db: Database, tenant: string): Promise<FunctionRow[]> {
  return db.select().from(functions).where(eq(functions.tenant, tenant)).orderBy(functions.name);
}

/** The functions with what their serving versions offer: handlers, and the MCP tool. */
export async function listServing(db: Database, tenant: string): Promise<(FunctionRow & { handlers: string[]; tool?: NonNullable<Manifest["tool"]> })[]> {
  const rows = await db.select({ fn: functions, handlers: functionVersions.handlers, manifest: functionVersions.manifest })
    .from(functions)
    .innerJoin(functionVersions, and(eq(functionVersions.tenant, functions.tenant), eq(functionVersions.name, functions.name), eq(functionVersions.version, functions.activeVersion)))
    .where(eq(functions.tenant, tenant)).orderBy(functions.name);
  return rows.map(({ fn, handlers, manifest }) => {
    const tool = (manifest as Manifest).tool;
    return { ...fn, handlers: handlers ?? [], ...(tool ? { tool } : {}) };
  });
}

export async function getVersion(db: Database, tenant: string, name: string, version: number): Promise<VersionRow | undefined> {
  const [row] = await db.select({
    version: functionVersions.version,
    code: functionVersions.code,
    manifest: functionVersions.manifest,
    sourceMap: functionVersions.sourceMap,
    source: functionVersions.source,
    language: functionVersions.language,
    handlers: functionVersions.handlers,
    createdAt: functionVersions.createdAt,
  }).from(functionVersions).where(and(eq(functionVersions.tenant, tenant), eq(functionVersions.name, name), eq(functionVersions.version, version)));
  return row && ({ ...row, handlers: row.handlers ?? [] } as VersionRow);
}

export async function listVersions(db: Database, tenant: string, name: string): Promise<{ version: number; createdAt: Date }[]> {
  return db.select({ version: functionVersions.version, createdAt: functionVersions.createdAt })
    .from(functionVersions)
    .where(and(eq(functionVersions.tenant, tenant), eq(functionVersions.name, name)))
    .orderBy(desc(functionVersions.version));
}

export async function setActiveVersion(db: Database, tenant: string, name: string, version: number): Promise<boolean> {
  const updated = await db.update(functions).set({ activeVersion: version, updatedAt: sql`now()` })
    .where(and(eq(functions.tenant, tenant), eq(functions.name, name))).returning({ name: functions.name });
  return updated.length > 0;
}

export async function deleteFunction(db: Database, tenant: string, name: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const deleted = await tx.delete(functions).where(and(eq(functions.tenant, tenant), eq(functions.name, name))).returning({ name: functions.name });
    await tx.delete(functionVersions).where(and(eq(functionVersions.tenant, tenant), eq(functionVersions.name, name)));
    return deleted.length > 0;
  });
}
