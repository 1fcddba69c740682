// Secrets: encrypted at rest, listed by name only, in env only where the manifest names them,
// redacted from stored logs and errors; a wrong master key stops the start.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createIsobox } from "../src/index.ts";
import { json, startBox, TEST_ADMIN_TOKEN, TEST_MASTER_KEY, type TestBox } from "./helpers/box.ts";
import { waitForRun } from "./helpers/wait.ts";
import { SecretBox } from "../src/capabilities/secret-box.ts";

const ENV_DUMP = `export default { fetch(request, env) {
  console.log("key is", env.API_KEY);
  if (new URL(request.url).pathname === "/throw") throw new Error("failed with " + env.API_KEY);
  return Response.json(env);
} }`;

function runOf(t: TestBox, tenant: string, fn: string, status: string): Promise<any> {
  return waitForRun(t.api, tenant, `function=${fn}&status=${status}`);
}

describe("secrets", () => {
  let t: TestBox;
  before(async () => { t = await startBox(); });
  after(async () => { await t.close(); });

  test("a function's env holds exactly the secrets it names, from its own tenant", async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    for (const [name, value] of [["API_KEY", "a-secret-key-1"], ["OTHER", "a-other-2"]]) {
      assert.equal((await t.api("PUT", `/api/tenants/${a.name}/secrets/${name}`, { value }, a.apiKey)).status, 200);
    }
    assert.equal((await t.api("PUT", `/api/tenants/${b.name}/secrets/B_ONLY`, { value: "b-secret-3" })).status, 200);
    const url = await t.deploy("env", ENV_DUMP, { routes: { auth: "public" }, secrets: ["API_KEY", "B_ONLY", "MISSING"] }, a.name);
    assert.deepEqual(await json(await fetch(url)), { API_KEY: "a-secret-key-1" });
    const none = await t.deploy("none", ENV_DUMP, { routes: { auth: "public" } }, a.name);
    assert.deepEqual(await json(await fetch(none)), {});
  });

  test("listing shows names and times only; values are encrypted at rest", async () => {
    const { name } = await t.tenant();
    await t.api("PUT", `/api/tenants/${name}/secrets/TOKEN`, { value: "plain-text-value-42" });
    const list = await t.api("GET", `/api/tenants/${name}/secrets`);
    assert.deepEqual(Object.keys(list.body.secrets[0]).sort(), ["name", "updatedAt"]);
    assert.ok(!JSON.stringify(list.body).includes("plain-text-value-42"));
    const rows = await t.box.db.rows<{ ciphertext: string }>(sql`select ciphertext from secrets where tenant = ${name}`);
    assert.equal(rows.length, 1);
    assert.ok(!rows[0].ciphertext.includes("plain-text-value-42"));
    assert.match(rows[0].ciphertext, /^v1:[0-9a-f]{8}:/);
  });

  test("secret values are [secret] in stored logs and errors", async () => {
    const { name } = await t.tenant();
    await t.api("PUT", `/api/tenants/${name}/secrets/API_KEY`, { value: "sk-live-very-secret" });
    const url = await t.deploy("leaky", ENV_DUMP, { routes: { auth: "public" }, secrets: ["API_KEY"] }, name);
    assert.equal((await fetch(url)).status, 200);
    const ok = await runOf(t, name, "leaky", "succeeded");
    assert.deepEqual(ok.logs.map((l: { message: string }) => l.message), ["key is [secret]"]);
    const failed = await fetch(`${url}/throw`);
    assert.equal(failed.status, 500);
    const error = (await json(failed)).error;
    assert.equal(error.message, "Error: failed with [secret]");
    const run = await runOf(t, name, "leaky", "failed");
    assert.ok(!JSON.stringify(run).includes("sk-live-very-secret"));
  });

  test("bad names and unknown tenants are clear errors; delete removes", async () => {
    const { name } = await t.tenant();
    const bad = await t.api("PUT", `/api/tenants/${name}/secrets/lower`, { value: "x" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /UPPER_SNAKE_CASE/);
    const noValue = await t.api("PUT", `/api/tenants/${name}/secrets/X`, {});
    assert.equal(noValue.status, 400);
    assert.match(noValue.body.error.message, /body\.value/);
    assert.equal((await t.api("PUT", `/api/tenants/no-such-tenant/secrets/X`, { value: "x" })).status, 404);
    await t.api("PUT", `/api/tenants/${name}/secrets/GONE`, { value: "x" });
    assert.equal((await t.api("DELETE", `/api/tenants/${name}/secrets/GONE`)).status, 200);
    assert.equal((await t.api("DELETE", `/api/tenants/${name}/secrets/GONE`)).status, 404);
  });
});

test("a wrong master key is a clear error at start, not garbage", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "isobox-key-"));
  try {
    const first = await createIsobox({ dataDir, databaseUrl: process.env.DATABASE_URL, masterKey: TEST_MASTER_KEY, adminToken: TEST_ADMIN_TOKEN });
    await first.db.rows(sql`insert into tenants (name) values ('key-check') on conflict do nothing`);
    const { SecretBox } = await import("../src/capabilities/secret-box.ts");
    await first.db.rows(sql`insert into secrets (tenant, name, ciphertext) values ('key-check', 'K', ${SecretBox.fromText(TEST_MASTER_KEY).encrypt("v", "key-check/K")}) on conflict do nothing`);
    await first.close();
    await assert.rejects(
      createIsobox({ dataDir, databaseUrl: process.env.DATABASE_URL, masterKey: "0".repeat(64), adminToken: TEST_ADMIN_TOKEN }),
      /ISOBOX_MASTER_KEY does not match this cluster: this node's key has fingerprint [0-9a-f]{16}, the cluster's is [0-9a-f]{16}/,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

describe("master key rotation", () => {
  const NEW_KEY = "5eed".repeat(16);

  test("with ISOBOX_MASTER_KEY: the new key first, rotate, and the old key can go", async () => {
    const during = await startBox({ masterKey: `${NEW_KEY},${TEST_MASTER_KEY}` });
    // The nodes after it open the same database (on PGlite: its data dir, once it closed).
    const dataDir = during.dataDir;
    const { name } = await during.tenant();
    let closed = false;
    try {
      await during.api("PUT", `/api/tenants/${name}/secrets/ROTATED`, { value: "survives-rotation" });
      const url = await during.deploy("env", ENV_DUMP, { routes: { auth: "public" }, secrets: ["API_KEY", "ROTATED"] }, name);
      assert.equal((await during.api("POST", "/api/secrets/rotate-key", {}, (await during.tenant()).apiKey)).status, 403, "admin only");
      const rotated = await during.api("POST", "/api/secrets/rotate-key", {});
      assert.equal(rotated.status, 200);
      assert.ok(rotated.body.reencrypted >= 0);
      const ids = await during.box.db.rows<{ id: string }>(sql`select distinct split_part(ciphertext, ':', 2) as id from secrets`);
      assert.deepEqual(ids.map((r) => r.id), [rotated.body.keyId], "every secret is under the new key");
      assert.deepEqual(await json(await fetch(url)), { ROTATED: "survives-rotation" });
      await during.close({ keepDataDir: true });
      closed = true;
      // The old key can go: a node with the new key alone reads every secret of the database.
      const after = await startBox({ masterKey: NEW_KEY, dataDir });
      try {
        const envOf = await after.deploy("env-after", ENV_DUMP, { routes: { auth: "public" }, secrets: ["ROTATED"] }, name);
        assert.deepEqual(await json(await fetch(envOf)), { ROTATED: "survives-rotation" });
        // Every stored secret, the other suites' too: the new key alone decrypts each one.
        const alone = SecretBox.fromText(NEW_KEY);
        const stored = await after.box.db.rows<{ tenant: string; name: string; ciphertext: string }>(sql`select tenant, name, ciphertext from secrets`);
        for (const secret of stored) assert.equal(typeof alone.decrypt(secret.ciphertext, `${secret.tenant}/${secret.name}`), "string", `${secret.tenant}/${secret.name}`);
      } finally {
        await after.close();
      }
    } finally {
      // Back under the suite's key, for the test files that run after this one on a shared database.
      if (!closed) await during.close({ keepDataDir: true });
      const back = await startBox({ masterKey: `${TEST_MASTER_KEY},${NEW_KEY}`, dataDir });
      assert.equal((await back.api("POST", "/api/secrets/rotate-key", {})).status, 200);
      await back.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test("with the key in the data dir (embedded database): rotate-key makes a new one and redoes every secret", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "isobox-rotate-"));
    // This mode is the embedded, single-node one: no server URL, no configured key.
    try {
      const box = await createIsobox({ dataDir, env: {} });
      const { readFile } = await import("node:fs/promises");
      const before = (await readFile(join(dataDir, "master-key"), "utf8")).trim();
      const tenant = box.app.request("/api/tenants/default/secrets/TOKEN", {
        method: "PUT", headers: { authorization: `Bearer ${box.adminToken.value}` }, body: JSON.stringify({ value: "kept-across-rotation" }),
      });
      assert.equal((await tenant).status, 200);
      const rotated = await box.app.request("/api/secrets/rotate-key", { method: "POST", headers: { authorization: `Bearer ${box.adminToken.value}` } });
      assert.equal(rotated.status, 200);
      assert.equal((await json(rotated)).reencrypted, 1);
      const after = (await readFile(join(dataDir, "master-key"), "utf8")).trim();
      assert.notEqual(after, before);
      assert.doesNotMatch(after, /,/);
      await box.close();
      const reopened = await createIsobox({ dataDir, env: {} });
      await reopened.deploy("default", "env", { code: ENV_DUMP, manifest: { routes: { auth: "public" }, secrets: ["TOKEN"] } });
      const res = await reopened.app.request("/fn/default/env");
      assert.deepEqual(await json(res), { TOKEN: "kept-across-rotation" });
      await reopened.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
