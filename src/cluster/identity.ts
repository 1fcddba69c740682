// The cluster's identity: the one row (schema/tables.ts clusterIdentity) that makes the nodes on a
// database one cluster. The first node to start writes it; every later node compares its own
// master key and admin token with it (src/cluster/join.ts).
import { sql } from "drizzle-orm";
import { clusterIdentity } from "../../schema/tables.ts";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";

export interface Identity {
  /** keyCheck() of the master key that encrypts the cluster's secrets. */
  masterKeyCheck: string;
  /** tokenHash() of the admin token. */
  adminTokenHash: string;
}

const COLUMNS = { masterKeyCheck: clusterIdentity.masterKeyCheck, adminTokenHash: clusterIdentity.adminTokenHash };

export async function readIdentity(db: Db): Promise<Identity | undefined> {
  const [row] = await db.orm.select(COLUMNS).from(clusterIdentity);
  return row;
}

/**
 * Writes `identity` unless a row exists; returns the row that is there. Of nodes starting at once
 * on a fresh database the primary key lets exactly one write: the others get its row back.
 */
export async function claimIdentity(db: Db, identity: Identity): Promise<Identity> {
  await db.orm.insert(clusterIdentity).values(identity).onConflictDoNothing();
  const stored = await readIdentity(db);
  if (!stored) throw new Error("The cluster identity row vanished while this node started");
  return stored;
}

/**
 * Makes `check` the cluster's master key, once no secret is left under a key other than `keyId`
 * (rotate-key re-encrypted them all). From then on a node without that key refuses to start.
 */
export async function adoptMasterKey(db: Db, check: string, keyId: string): Promise<void> {
  const updated = await db.rows(sql`
    update cluster_identity set master_key_check = ${check}, key_changed_at = now()
    where not exists (select 1 from secrets where split_part(ciphertext, ':', 2) <> ${keyId})
    returning 1 as done`);
  if (updated.length === 0) {
    throw new IsoboxError("ERR_CONFLICT", `Some secrets are still under another master key than ${keyId} (written meanwhile by a node whose first key is another); run rotate-key again once every node has the new key first`);
  }
}
