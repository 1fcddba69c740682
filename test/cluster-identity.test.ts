// Nodes on one database are one cluster: one master key, one admin token. A node whose key or
// configured token disagrees with the cluster's refuses to start, naming the variable and the
// fingerprint the cluster expects; a node without a token of its own serves with the cluster's.
// Several nodes need a server: every test has a scratch Postgres database, whichever the suite.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { sql } from "drizzle-orm";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { claimIdentity } from "../src/cluster/identity.ts";
import { connect } from "../src/db/connect.ts";
import { createIsobox, type Isobox, type IsoboxOptions } from "../src/index.ts";
import { json } from "./helpers/box.ts";
import { scratchDatabase, type ScratchDatabase } from "./helpers/postgres.ts";

const KEY_A = "a1".repeat(32);
const KEY_B = "b2".repeat(32);
const TOKEN_A = `isa_cluster_a_${"0".repeat(20)}`;
const TOKEN_B = `isa_cluster_b_${"1".repeat(20)}`;
const ENV_DUMP = "export default { fetch(request, env) { return Response.json(env); } }";

/** What the cluster shows of a secret: the first 16 hex characters of HMAC-SHA256(secret, "isobox fingerprint"). */
const fingerprintOf = (secret: Buffer) => createHmac("sha256", secret).update("isobox fingerprint").digest("hex").slice(0, 16);
const fingerprint = (hexKey: string) => fingerprintOf(Buffer.from(hexKey, "hex"));
/** A token's, over the SHA-256 the cluster stores of it. */
const tokenFingerprint = (token: string) => fingerprintOf(createHash("sha256").update(token).digest());

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const item of open.reverse()) await item.close().catch(() => {});
});

async function database(prefix: string): Promise<ScratchDatabase> {
  const db = await scratchDatabase(prefix);
  open.push({ close: () => db.drop() });
  return db;
}

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "isobox-cluster-"));
  open.push({ close: () => rm(dir, { recursive: true, force: true }) });
  return dir;
}

/** A node on `db` with a data dir of its own; closed after the file. */
async function node(db: ScratchDatabase, options: IsoboxOptions = {}, dir?: string): Promise<Isobox> {
  const box = await createIsobox({ databaseUrl: db.url, dataDir: dir ?? await dataDir(), spareIsolates: 0, jobRunner: false, scheduler: false, ...options });
  open.push(box);
  return box;
}

function call(box: Isobox, path: string, token?: string, init: RequestInit = {}): Promise<Response> {
  return Promise.resolve(box.app.request(path, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) } }));
}

const noEnvToken = process.env.ISOBOX_ADMIN_TOKEN ? "ISOBOX_ADMIN_TOKEN is set in the environment" : false;
const noEnvKey = process.env.ISOBOX_MASTER_KEY ? "ISOBOX_MASTER_KEY is set in the environment" : false;

test("a node with another master key refuses to start, naming ISOBOX_MASTER_KEY and the cluster's fingerprint", async () => {
  const db = await database("cluster_key");
  await node(db, { masterKey: KEY_A, adminToken: TOKEN_A });
  await assert.rejects(node(db, { masterKey: KEY_B, adminToken: TOKEN_A }), (error: Error) => {
    assert.equal(error.message, `ISOBOX_MASTER_KEY does not match this cluster: this node's key has fingerprint ${fingerprint(KEY_B)}, the cluster's is ${fingerprint(KEY_A)} (set ISOBOX_MASTER_KEY to the cluster's key)`);
    assert.ok(!error.message.includes(KEY_A) && !error.message.includes(KEY_B), "no key in the message");
    return true;
  });
});

test("a node with an ISOBOX_ADMIN_TOKEN other than the cluster's refuses to start, naming it", async () => {
  const db = await database("cluster_token");
  await node(db, { masterKey: KEY_A, adminToken: TOKEN_A });
  await assert.rejects(node(db, { masterKey: KEY_A, adminToken: TOKEN_B }), (error: Error) => {
    assert.match(error.message, /^ISOBOX_ADMIN_TOKEN does not match this cluster: this node's token has fingerprint ([0-9a-f]{16}), the cluster's is ([0-9a-f]{16}) \(set ISOBOX_ADMIN_TOKEN to the cluster's admin token/);
    assert.ok(error.message.includes(tokenFingerprint(TOKEN_A)) && error.message.includes(tokenFingerprint(TOKEN_B)));
    assert.ok(!error.message.includes(TOKEN_A) && !error.message.includes(TOKEN_B), "no token in the message");
    return true;
  });
});

test("a node without an admin token of its own serves with the cluster's: the first node's token works on it", { skip: noEnvToken }, async () => {
  const db = await database("cluster_join");
  await node(db, { masterKey: KEY_A, adminToken: TOKEN_A });
  const dir = await dataDir();
  // A token file from elsewhere is not this cluster's: it gives way to the cluster's, untouched.
  await writeFile(join(dir, "admin-token"), "isa_from_another_cluster_000000\n", { mode: 0o600 });
  const joined = await node(db, { masterKey: KEY_A }, dir);
  assert.deepEqual(joined.adminToken, { kind: "cluster" });
  assert.equal((await call(joined, "/api/tenants", TOKEN_A)).status, 200);
  assert.equal((await call(joined, "/api/tenants", "isa_from_another_cluster_000000")).status, 401);
  assert.equal(await readFile(join(dir, "admin-token"), "utf8"), "isa_from_another_cluster_000000\n");

  const fresh = await dataDir();
  const second = await node(db, { masterKey: KEY_A }, fresh);
  assert.equal(second.adminToken.kind, "cluster");
  assert.equal((await call(second, "/api/tenants", TOKEN_A)).status, 200);
  assert.ok(!existsSync(join(fresh, "admin-token")), "a joining node generates no token of its own");
});

test("a secret written through one node decrypts on the other: function env and webhook signature", async () => {
  const db = await database("cluster_secret");
  const a = await node(db, { masterKey: KEY_A, adminToken: TOKEN_A });
  const b = await node(db, { masterKey: KEY_A, adminToken: TOKEN_A });
  const put = (box: Isobox, name: string, value: string) => call(box, `/api/tenants/default/secrets/${name}`, TOKEN_A, { method: "PUT", body: JSON.stringify({ value }), headers: { "content-type": "application/json" } });
  assert.equal((await put(a, "FROM_A", "written-on-a")).status, 200);
  assert.equal((await put(b, "FROM_B", "written-on-b")).status, 200);
  await a.deploy("default", "env", { code: ENV_DUMP, manifest: { routes: { auth: "public" }, secrets: ["FROM_A", "FROM_B"] } });
  for (const box of [a, b]) assert.deepEqual(await json(await call(box, "/fn/default/env")), { FROM_A: "written-on-a", FROM_B: "written-on-b" });

  assert.equal((await put(a, "HOOK_SECRET", "hook-signing-secret")).status, 200);
  await a.deploy("default", "hooked", {
    code: "export default { async job() { return null; } }",
    manifest: { webhooks: [{ name: "gh", verify: { scheme: "github", secret: "HOOK_SECRET" } }] },
  });
  const body = JSON.stringify({ action: "opened" });
  const signature = `sha256=${createHmac("sha256", "hook-signing-secret").update(body).digest("hex")}`;
  const delivered = await call(b, "/hooks/default/hooked/gh", undefined, {
    method: "POST", body, headers: { "content-type": "application/json", "x-hub-signature-256": signature, "x-github-delivery": "d-1" },
  });
  assert.equal(delivered.status, 202, await delivered.clone().text());
});

test("two nodes started at the same instant on a fresh database with different keys: exactly one serves", async () => {
  const db = await database("cluster_race");
  const [first, second] = await Promise.allSettled([
    node(db, { masterKey: KEY_A, adminToken: TOKEN_A }),
    node(db, { masterKey: KEY_B, adminToken: TOKEN_A }),
  ]);
  const served = [first, second].filter((r) => r.status === "fulfilled");
  const refused = [first, second].filter((r): r is PromiseRejectedResult => r.status === "rejected");
  assert.equal(served.length, 1, `one serves: ${refused.map((r) => r.reason?.message).join("; ")}`);
  assert.equal(refused.length, 1);
  const winner = first.status === "fulfilled" ? KEY_A : KEY_B;
  assert.match(refused[0].reason.message, new RegExp(`^ISOBOX_MASTER_KEY does not match this cluster: .* the cluster's is ${fingerprint(winner)} `));
});

test("of two claims at once on a fresh database one writes, and both get its identity back", async () => {
  const db = await database("cluster_claim");
  const [one, two] = await Promise.all([0, 1].map(() => connect({ databaseUrl: db.url, dataDir: "/nonexistent" })));
  open.push(one, two);
  const claims = await Promise.all([
    claimIdentity(one, { masterKeyCheck: "a".repeat(64), adminTokenHash: "1".repeat(64) }),
    claimIdentity(two, { masterKeyCheck: "b".repeat(64), adminTokenHash: "2".repeat(64) }),
  ]);
  assert.deepEqual(claims[0], claims[1]);
  assert.equal((await one.rows(sql`select count(*)::int as n from cluster_identity`))[0].n, 1);
});

test("two nodes with one key and no token of their own, started at once: both serve, with one admin token", { skip: noEnvToken }, async () => {
  const db = await database("cluster_race_token");
  const dirs = [await dataDir(), await dataDir()];
  const boxes = await Promise.all(dirs.map((dir) => node(db, { masterKey: KEY_A }, dir)));
  const own = boxes.filter((box) => box.adminToken.kind === "data-dir");
  assert.equal(own.length, 1, "the first node's generated token is the cluster's");
  assert.equal(boxes.filter((box) => box.adminToken.kind === "cluster").length, 1);
  for (const box of boxes) assert.equal((await call(box, "/api/tenants", own[0].adminToken.value)).status, 200);
  const files = dirs.filter((dir) => existsSync(join(dir, "admin-token")));
  assert.equal(files.length, 1, "the losing node keeps no token that never worked");
});

test("a node with no key of its own on a cluster that has one refuses, and generates none into its data dir", { skip: noEnvKey }, async () => {
  const db = await database("cluster_nokey");
  await node(db, { masterKey: KEY_A, adminToken: TOKEN_A });
  const dir = await dataDir();
  await assert.rejects(node(db, { adminToken: TOKEN_A }, dir), (error: Error) => {
    assert.match(error.message, new RegExp(`^ISOBOX_MASTER_KEY is not set .* fingerprint ${fingerprint(KEY_A)} \\(set ISOBOX_MASTER_KEY to the cluster's key\\)$`));
    return true;
  });
  assert.ok(!existsSync(join(dir, "master-key")));
});

test("an installation from before the cluster identity: a first node whose keys cannot decrypt its secrets refuses and claims nothing", async () => {
  const db = await database("cluster_upgrade");
  const before = await node(db, { masterKey: KEY_A, adminToken: TOKEN_A });
  const put = await call(before, "/api/tenants/default/secrets/OLD", TOKEN_A, { method: "PUT", body: JSON.stringify({ value: "from-before" }), headers: { "content-type": "application/json" } });
  assert.equal(put.status, 200);
  await before.db.rows(sql`delete from cluster_identity`);
  await assert.rejects(node(db, { masterKey: KEY_B, adminToken: TOKEN_B }), /Secrets were encrypted with master key [0-9a-f]{8}, but the configured ISOBOX_MASTER_KEY is [0-9a-f]{8}/);
  assert.equal((await before.db.rows<{ n: number }>(sql`select count(*)::int as n from cluster_identity`))[0].n, 0);
  const upgraded = await node(db, { masterKey: KEY_A, adminToken: TOKEN_B });
  assert.equal((await call(upgraded, "/api/tenants", TOKEN_B)).status, 200, "the first node after the upgrade sets the cluster's token");
});

test("rotation: new,old serves, rotate-key makes the new key the cluster's, then new alone serves and old alone refuses", async () => {
  const db = await database("cluster_rotate");
  const OLD = KEY_A;
  const NEW = KEY_B;
  const before = await node(db, { masterKey: OLD, adminToken: TOKEN_A });
  const put = await call(before, "/api/tenants/default/secrets/KEPT", TOKEN_A, { method: "PUT", body: JSON.stringify({ value: "kept-through-rotation" }), headers: { "content-type": "application/json" } });
  assert.equal(put.status, 200);
  await before.deploy("default", "env", { code: ENV_DUMP, manifest: { routes: { auth: "public" }, secrets: ["KEPT"] } });
  await assert.rejects(node(db, { masterKey: NEW, adminToken: TOKEN_A }), /the cluster's is [0-9a-f]{16}/, "the new key alone is not the cluster's yet");

  const during = await node(db, { masterKey: `${NEW},${OLD}`, adminToken: TOKEN_A });
  const rotated = await call(during, "/api/secrets/rotate-key", TOKEN_A, { method: "POST" });
  assert.equal(rotated.status, 200, await rotated.clone().text());
  assert.equal((await json(rotated)).reencrypted, 1);

  const after = await node(db, { masterKey: NEW, adminToken: TOKEN_A });
  assert.deepEqual(await json(await call(after, "/fn/default/env")), { KEPT: "kept-through-rotation" });
  await assert.rejects(node(db, { masterKey: OLD, adminToken: TOKEN_A }), (error: Error) => {
    assert.equal(error.message, `ISOBOX_MASTER_KEY does not match this cluster: this node's key has fingerprint ${fingerprint(OLD)}, the cluster's is ${fingerprint(NEW)} (set ISOBOX_MASTER_KEY to the cluster's key)`);
    return true;
  });
});
