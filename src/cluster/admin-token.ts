// Which admin token a node serves with. The cluster stores the hash of its first node's token;
// a node that sets ISOBOX_ADMIN_TOKEN must set that one, and a node without it accepts the
// cluster's: its first node printed the token, this node only ever learns its hash.
import { discardCreated, ensureDataDirSecret, newAdminToken, readDataDirSecret, type DataDirSecret } from "../tenancy/data-dir-secret.ts";
import { sameSecret } from "../tenancy/secret-compare.ts";
import { tokenFingerprint, tokenHash } from "./fingerprint.ts";

export type AdminToken =
  /** ISOBOX_ADMIN_TOKEN. */
  | { kind: "configured"; value: string }
  /** The one in this node's data dir; `created` when this start generated it (it is shown once). */
  | { kind: "data-dir"; value: string; file: string; created: boolean }
  /** The cluster's, set by its first node: this node holds only its hash, so there is no value to show. */
  | { kind: "cluster"; value?: undefined };

/** A token a node brings: configured, or in (or, for a new cluster, generated into) its data dir. */
export type OwnToken = { kind: "configured"; value: string } | ({ kind: "data-dir" } & DataDirSecret);

/**
 * This node's own token, if any. Only the first node of a cluster generates one: a joining node
 * would generate a token that never works.
 */
export async function ownAdminToken(configured: string | undefined, dataDir: string, generate: boolean): Promise<OwnToken | undefined> {
  if (configured) return { kind: "configured", value: configured };
  const secret = generate ? await ensureDataDirSecret(dataDir, "admin-token", newAdminToken) : await readDataDirSecret(dataDir, "admin-token");
  return secret && { kind: "data-dir", ...secret };
}

/**
 * The token this node serves with, given the cluster's hash. A configured token that disagrees
 * refuses the start; one from the data dir that disagrees (another cluster's, or one generated
 * by a node that lost the race to be first) gives way to the cluster's.
 */
export async function adminTokenFor(own: OwnToken | undefined, clusterHash: string): Promise<AdminToken> {
  if (own && sameSecret(tokenHash(own.value), clusterHash)) return own;
  if (own?.kind === "configured") {
    throw new Error(`ISOBOX_ADMIN_TOKEN does not match this cluster: this node's token has fingerprint ${tokenFingerprint(tokenHash(own.value))}, the cluster's is ${tokenFingerprint(clusterHash)} (set ISOBOX_ADMIN_TOKEN to the cluster's admin token, or leave it unset to use the cluster's)`);
  }
  if (own) await discardCreated(own);
  return { kind: "cluster" };
}
