// The management API over real HTTP: tenants, keys, auth, deploy, versions, rollback, errors.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { json, startBox, type TestBox } from "./helpers/box.ts";
import { waitForRuns } from "./helpers/wait.ts";

const HELLO = `export default { fetch() { return new Response("v1") } }`;

describe("management API", () => {
  let t: TestBox;
  before(async () => { t = await startBox({ maxBodyBytes: 64 * 1024 }); });
  after(async () => { await t.close(); });

  test("health and readiness", async () => {
    assert.deepEqual(await (await fetch(`${t.url}/healthz`)).json(), { ok: true });
    const ready = await fetch(`${t.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await json(ready)).database, true);
  });

  test("no token is 401, a wrong token is 401, both in the error shape", async () => {
    const none = await fetch(`${t.url}/api/tenants`);
    assert.equal(none.status, 401);
    assert.equal((await json(none)).error.code, "ERR_UNAUTHORIZED");
    const wrong = await t.api("GET", "/api/tenants", undefined, "isa_not-the-token");
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, "ERR_UNAUTHORIZED");
  });

  test("the default tenant exists; a new tenant gets a key shown once and stored hashed", async () => {
    const list = await t.api("GET", "/api/tenants");
    assert.ok(list.body.tenants.some((x: { name: string }) => x.name === "default"));
    const { name, apiKey } = await t.tenant();
    assert.match(apiKey, /^isk_/);
    const keys = await t.api("GET", `/api/tenants/${name}/keys`, undefined, apiKey);
    assert.equal(keys.status, 200);
    assert.equal(keys.body.keys.length, 1);
    assert.ok(!JSON.stringify(keys.body).includes(apiKey), "the key is never shown again");
    const rows = await t.box.db.rows<{ hash: string }>((await import("drizzle-orm")).sql`select hash from api_keys where tenant = ${name}`);
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0].hash, apiKey);
    assert.match(rows[0].hash, /^[0-9a-f]{64}$/);
  });

  test("a duplicate tenant is 409, a bad name is 400 naming it", async () => {
    const { name } = await t.tenant();
    const again = await t.api("POST", "/api/tenants", { name });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "ERR_CONFLICT");
    const bad = await t.api("POST", "/api/tenants", { name: "Bad Name!" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /tenant name/);
    const missing = await t.api("POST", "/api/tenants", {});
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /body\.name/);
    const notJson = await t.api("POST", "/api/tenants", "{nope");
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error.message, /invalid JSON/);
  });

  test("tenant keys reach only their own tenant", async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    await t.deploy("private", HELLO, { routes: { auth: "key" } }, b.name);
    const read = await t.api("GET", `/api/tenants/${b.name}/functions`, undefined, a.apiKey);
    assert.equal(read.status, 403);
    assert.equal(read.body.error.code, "ERR_FORBIDDEN");
    const deploy = await t.api("PUT", `/api/tenants/${b.name}/functions/x`, { code: HELLO }, a.apiKey);
    assert.equal(deploy.status, 403);
    const invoke = await fetch(`${t.url}/fn/${b.name}/private`, { headers: { authorization: `Bearer ${a.apiKey}` } });
    assert.equal(invoke.status, 403);
    const anonymous = await fetch(`${t.url}/fn/${b.name}/private`);
    assert.equal(anonymous.status, 401);
    const own = await fetch(`${t.url}/fn/${b.name}/private`, { headers: { authorization: `Bearer ${b.apiKey}` } });
    assert.equal(own.status, 200);
    assert.equal(await own.text(), "v1");
    const createTenant = await t.api("POST", "/api/tenants", { name: "x-by-tenant" }, a.apiKey);
    assert.equal(createTenant.status, 403);
  });

  test("a revoked key stops working; a second key rotates", async () => {
    const { name, apiKey } = await t.tenant();
    const second = await t.api("POST", `/api/tenants/${name}/keys`, undefined, apiKey);
    assert.equal(second.status, 201);
    const keys = await t.api("GET", `/api/tenants/${name}/keys`);
    const first = keys.body.keys.find((k: { id: string }) => k.id !== second.body.id);
    const revoked = await t.api("DELETE", `/api/tenants/${name}/keys/${first.id}`, undefined, second.body.apiKey);
    assert.equal(revoked.status, 200);
    assert.equal((await t.api("GET", `/api/tenants/${name}/functions`, undefined, apiKey)).status, 401);
    assert.equal((await t.api("GET", `/api/tenants/${name}/functions`, undefined, second.body.apiKey)).status, 200);
  });

  test("deploy, list, get, versions, rollback, delete", async () => {
    const { name: tenant } = await t.tenant();
    const first = await t.api("PUT", `/api/tenants/${tenant}/functions/svc`, { code: HELLO, manifest: { routes: { auth: "public" } } });
    assert.equal(first.status, 201);
    assert.equal(first.body.version, 1);
    assert.equal(first.body.url, `${t.url}/fn/${tenant}/svc`);
    assert.equal(await (await fetch(first.body.url)).text(), "v1");

    const second = await t.api("PUT", `/api/tenants/${tenant}/functions/svc`, { code: HELLO.replace("v1", "v2"), manifest: { routes: { auth: "public" } } });
    assert.equal(second.body.version, 2);
    assert.equal(await (await fetch(first.body.url)).text(), "v2");

    const list = await t.api("GET", `/api/tenants/${tenant}/functions`);
    assert.deepEqual(list.body.functions.map((f: { name: string; version: number }) => [f.name, f.version]), [["svc", 2]]);
    const got = await t.api("GET", `/api/tenants/${tenant}/functions/svc`);
    assert.equal(got.body.version, 2);
    assert.deepEqual(got.body.versions.map((v: { version: number }) => v.version), [2, 1]);
    assert.deepEqual(got.body.manifest, { routes: { auth: "public" } });

    const rollback = await t.api("POST", `/api/tenants/${tenant}/functions/svc/rollback`, { version: 1 });
    assert.equal(rollback.status, 200);
    assert.equal(await (await fetch(first.body.url)).text(), "v1");
    const noSuch = await t.api("POST", `/api/tenants/${tenant}/functions/svc/rollback`, { version: 9 });
    assert.equal(noSuch.status, 404);

    const deleted = await t.api("DELETE", `/api/tenants/${tenant}/functions/svc`);
    assert.equal(deleted.status, 200);
    const gone = await fetch(first.body.url);
    assert.equal(gone.status, 404);
    assert.equal((await json(gone)).error.code, "ERR_NOT_FOUND");
    assert.equal((await t.api("GET", `/api/tenants/${tenant}/functions/svc`)).status, 404);
  });

  test("code that does not compile is 400 ERR_COMPILE with line and column", async () => {
    const { name } = await t.tenant();
    const res = await t.api("PUT", `/api/tenants/${name}/functions/broken`, { code: "export default {\n  fetch() {\n    return 1 +;\n  }\n}" });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "ERR_COMPILE");
    assert.equal(res.body.error.line, 3);
    assert.equal(res.body.error.column, 15);
    assert.match(res.body.error.message, /line 3, column 15/);
    const imports = await t.api("PUT", `/api/tenants/${name}/functions/imports`, { code: `import fs from "node:fs"; export default { fetch() { return new Response(fs) } }` });
    assert.equal(imports.status, 400);
    assert.equal(imports.body.error.code, "ERR_COMPILE");
    assert.match(imports.body.error.message, /node:fs/);
  });

  test("a bad manifest is 400 ERR_INVALID_MANIFEST naming the field", async () => {
    const { name } = await t.tenant();
    const cases: [unknown, string][] = [
      [{ limits: { cpuMs: "fast" } }, "manifest.limits.cpuMs"],
      [{ limits: { memoryMb: 1 } }, "manifest.limits.memoryMb"],
      [{ routes: { auth: "open" } }, "manifest.routes.auth"],
      [{ fetch: { allow: ["not a host"] } }, "manifest.fetch.allow.0"],
      [{ colour: "blue" }, "manifest.colour"],
      [{ secrets: ["lower-case"] }, "manifest.secrets.0"],
    ];
    for (const [manifest, field] of cases) {
      const res = await t.api("PUT", `/api/tenants/${name}/functions/m`, { code: HELLO, manifest });
      assert.equal(res.status, 400, JSON.stringify(manifest));
      assert.equal(res.body.error.code, "ERR_INVALID_MANIFEST");
      assert.equal(res.body.error.field, field);
      assert.ok(res.body.error.message.startsWith(`${field}:`), res.body.error.message);
    }
  });

  test("bodies over the limit are 413 ERR_BODY_TOO_LARGE, on the API and on functions", async () => {
    const { name } = await t.tenant();
    const big = "x".repeat(70 * 1024);
    const api = await t.api("PUT", `/api/tenants/${name}/functions/big`, { code: `// ${big}\n${HELLO}` });
    assert.equal(api.status, 413);
    assert.equal(api.body.error.code, "ERR_BODY_TOO_LARGE");
    const url = await t.deploy("echo", `export default { async fetch(r) { return new Response(await r.text()) } }`);
    const fn = await fetch(url, { method: "POST", body: big });
    assert.equal(fn.status, 413);
    assert.equal((await json(fn)).error.code, "ERR_BODY_TOO_LARGE");
  });

  test("a function's status, headers (repeated set-cookie too) and body pass through unchanged", async () => {
    const url = await t.deploy("headers", `export default { fetch() {
      const headers = new Headers({ "x-one": "1", "content-type": "text/csv" });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; HttpOnly");
      return new Response("x,y\\n", { status: 418, statusText: "Teapot", headers });
    } }`);
    const res = await fetch(url);
    assert.equal(res.status, 418);
    assert.equal(res.headers.get("x-one"), "1");
    assert.equal(res.headers.get("content-type"), "text/csv");
    assert.deepEqual(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; HttpOnly"]);
    assert.equal(await res.text(), "x,y\n");
    const empty = await t.deploy("empty", `export default { fetch() { return new Response(null, { status: 204, headers: { "x-a": "b" } }) } }`);
    const none = await fetch(empty);
    assert.equal(none.status, 204);
    assert.equal(none.headers.get("x-a"), "b");
    assert.equal(await none.text(), "");
  });

  test("unknown routes and functions are 404 in the error shape", async () => {
    const route = await fetch(`${t.url}/nope`);
    assert.equal(route.status, 404);
    assert.equal((await json(route)).error.code, "ERR_NOT_FOUND");
    const fn = await fetch(`${t.url}/fn/default/does-not-exist`);
    assert.equal(fn.status, 404);
    assert.equal((await json(fn)).error.code, "ERR_NOT_FOUND");
  });

  test("the OpenAPI document describes the API", async () => {
    const res = await fetch(`${t.url}/api/openapi.json`);
    assert.equal(res.status, 200);
    const doc = await json(res);
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/api/tenants/{tenant}/functions/{name}"].put.requestBody);
    assert.ok(doc.components.schemas.Manifest.properties.limits);
    assert.ok(doc.paths["/api/tenants/{tenant}/functions/{name}/jobs"].post.requestBody);
    // Every management route the app serves is in the document.
    const served = t.box.app.routes
      .filter((route) => route.path.startsWith("/api/") && route.method !== "ALL" && route.path !== "/api/openapi.json")
      .map((route) => [route.method.toLowerCase(), route.path.replace(/:(\w+)/g, "{$1}")]);
    assert.ok(served.length >= 30, `${served.length} management routes found`);
    assert.deepEqual(served.filter(([method, path]) => !doc.paths[path]?.[method]), []);
  });

  test("runs are recorded with their logs", async () => {
    const { name } = await t.tenant();
    await t.deploy("logger", `export default { fetch() { console.log("hello", { a: 1 }); console.warn("careful"); console.error("nul\\0byte"); return new Response("ok") } }`, { routes: { auth: "public" } }, name);
    assert.equal((await fetch(`${t.url}/fn/${name}/logger`)).status, 200);
    let runs: { id: string; status: string; trigger: string }[] = [];
    runs = await waitForRuns(t.api, name, "function=logger");
    assert.equal(runs.length, 1);
    assert.equal(runs[0].status, "succeeded");
    assert.equal(runs[0].trigger, "http");
    const run = await t.api("GET", `/api/tenants/${name}/runs/${runs[0].id}`);
    assert.deepEqual(run.body.logs.map((l: { level: string; message: string; fields: unknown }) => [l.level, l.message, l.fields]), [["log", "hello", { a: 1 }], ["warn", "careful", null], ["error", "nul\uFFFDbyte", null]]);
  });
});
