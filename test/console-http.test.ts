// The console over HTTP, without a browser: the page's headers, the session cookie's attributes,
// the cookie's rights, refusal of cookie-backed writes from another origin, idle expiry, sign-out,
// and what a function's response and request get while the console shares its origin.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { json, startBox, type TestBox } from "./helpers/box.ts";
import { sleep } from "./helpers/http.ts";

/** The session cookie's value from a Set-Cookie header. */
function sessionOf(response: Response): string {
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith("isobox_session="));
  assert.ok(cookie, "a session cookie is set");
  return cookie.slice("isobox_session=".length).split(";")[0];
}

describe("console over HTTP", () => {
  let t: TestBox;
  let origin: string;
  before(async () => {
    t = await startBox();
    origin = t.url;
  });
  after(async () => { await t.close(); });

  const signIn = (token: string, headers: Record<string, string> = {}) => fetch(`${t.url}/console/session`, {
    method: "POST",
    headers: { "content-type": "application/json", origin, ...headers },
    body: JSON.stringify({ token }),
  });
  const withCookie = (path: string, cookie: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${t.url}${path}`, { ...init, headers: { cookie: `isobox_session=${cookie}`, ...init.headers } });

  test("the page and its assets carry the console's security headers; assets are cached for good", async () => {
    const page = await fetch(`${t.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    const html = await page.text();
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce && html.includes(`content="${nonce}"`), "the page's style nonce is the policy's");
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, "no inline script");
    const script = /<script type="module" src="([^"]+)"/.exec(html)?.[1];
    assert.ok(script?.startsWith("/console/assets/"));
    const asset = await fetch(`${t.url}${script}`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.match(asset.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(asset.headers.get("x-content-type-options"), "nosniff");
    assert.ok((await asset.text()).length > 1000);
    assert.equal((await fetch(`${t.url}/console/assets/nope.js`)).status, 404);
  });

  test("a wrong token is 401; a right one sets an HttpOnly, SameSite=Strict session cookie, stored hashed", async () => {
    const wrong = await signIn("isa_not-the-token");
    assert.equal(wrong.status, 401);
    assert.equal((await json(wrong)).error.code, "ERR_UNAUTHORIZED");
    assert.equal(wrong.headers.getSetCookie().length, 0);
    const right = await signIn(t.admin);
    assert.equal(right.status, 204);
    const line = right.headers.getSetCookie()[0];
    assert.match(line, /^isobox_session=[A-Za-z0-9_-]{43};/);
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; SameSite=Strict/);
    assert.match(line, /; Path=\//);
    assert.doesNotMatch(line, /; Secure/, "plain HTTP: no Secure, or the browser would drop it");
    const cookie = sessionOf(right);
    const rows = await t.box.db.rows<{ id_hash: string; token_hash: string }>(sql`select id_hash, token_hash from console_sessions`);
    assert.ok(rows.length >= 1);
    for (const row of rows) {
      assert.notEqual(row.id_hash, cookie);
      assert.notEqual(row.token_hash, t.admin);
      assert.match(row.id_hash, /^[0-9a-f]{64}$/);
    }
    const behindHttps = await signIn(t.admin, { "x-forwarded-proto": "https" });
    assert.match(behindHttps.headers.getSetCookie()[0], /; Secure/);
  });

  test("the cookie authenticates /api and the log stream with the token's rights", async () => {
    const { name, apiKey } = await t.tenant();
    const admin = sessionOf(await signIn(t.admin));
    const tenant = sessionOf(await signIn(apiKey));
    assert.deepEqual((await json(await withCookie("/console/session", admin))).principal, { kind: "admin" });
    assert.deepEqual((await json(await withCookie("/console/session", tenant))).principal, { kind: "tenant", tenant: name });
    assert.equal((await withCookie("/api/tenants", admin)).status, 200);
    assert.equal((await withCookie("/api/tenants", tenant)).status, 403);
    assert.equal((await withCookie(`/api/tenants/${name}/functions`, tenant)).status, 200);
    assert.equal((await withCookie("/api/tenants/default/functions", tenant)).status, 403);
    await t.deploy("logger", `export default { fetch() { console.log("streamed line"); return new Response("ok") } }`, { routes: { auth: "public" } }, name);
    const stream = await withCookie(`/api/tenants/${name}/logs?function=logger&follow=1`, tenant, { headers: { accept: "text/event-stream" } });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = stream.body!.getReader();
    await fetch(`${t.url}/fn/${name}/logger`);
    let text = "";
    while (!text.includes("streamed line")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
  });

  test("a cookie-backed write from another origin is 403 ERR_FORBIDDEN; from the console's own it goes through", async () => {
    const cookie = sessionOf(await signIn(t.admin));
    const put = (headers: Record<string, string>) => withCookie("/api/tenants/default/secrets/CSRF_PROBE", cookie, {
      method: "PUT", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ value: "x" }),
    });
    const foreign: Record<string, string>[] = [{ origin: "http://evil.example" }, { origin: "null" }, {}, { "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site", origin }];
    for (const headers of foreign) {
      const refused = await put(headers);
      assert.equal(refused.status, 403, JSON.stringify(headers));
      assert.equal((await json(refused)).error.code, "ERR_FORBIDDEN");
    }
    const listed = await t.api("GET", "/api/tenants/default/secrets");
    assert.ok(!listed.body.secrets.some((s: { name: string }) => s.name === "CSRF_PROBE"), "nothing refused was written");
    // A read from another site with the cookie is refused too; one typed in the address bar is not.
    assert.equal((await withCookie("/api/tenants", cookie, { headers: { "sec-fetch-site": "cross-site" } })).status, 403);
    assert.equal((await withCookie("/api/tenants", cookie, { headers: { "sec-fetch-site": "none" } })).status, 200);
    assert.equal((await put({ origin })).status, 200);
    assert.equal((await put({ "sec-fetch-site": "same-origin" })).status, 200);
    // Signing in and out from another origin is refused as well.
    assert.equal((await signIn(t.admin, { origin: "http://evil.example" })).status, 403);
    // A bearer token is not ambient: it needs no Origin.
    assert.equal((await t.api("PUT", "/api/tenants/default/secrets/CSRF_PROBE", { value: "y" })).status, 200);
    await t.api("DELETE", "/api/tenants/default/secrets/CSRF_PROBE");
  });

  test("sign-out ends the session; a revoked key ends the sessions it opened", async () => {
    const cookie = sessionOf(await signIn(t.admin));
    assert.equal((await withCookie("/api/tenants", cookie)).status, 200);
    const out = await withCookie("/console/session", cookie, { method: "DELETE", headers: { origin } });
    assert.equal(out.status, 204);
    assert.match(out.headers.getSetCookie()[0], /^isobox_session=;.*Max-Age=0/);
    const after = await withCookie("/api/tenants", cookie);
    assert.equal(after.status, 401);
    assert.match((await json(after)).error.message, /session has ended/);

    const { name, apiKey } = await t.tenant();
    const session = sessionOf(await signIn(apiKey));
    assert.equal((await withCookie(`/api/tenants/${name}/functions`, session)).status, 200);
    const [key] = (await t.api("GET", `/api/tenants/${name}/keys`)).body.keys;
    assert.equal((await t.api("DELETE", `/api/tenants/${name}/keys/${key.id}`)).status, 200);
    assert.equal((await withCookie(`/api/tenants/${name}/functions`, session)).status, 401);
  });

  test("a function sees the request's cookies but never the console's; its page gets an opaque origin", async () => {
    const url = await t.deploy("echo-cookie", `export default { fetch(r) { return new Response(r.headers.get("cookie") ?? "(none)", { headers: { "content-type": "text/html" } }) } }`);
    const both = await fetch(url, { headers: { cookie: "theme=dark; isobox_session=stolen-if-seen; lang=en" } });
    assert.equal(await both.text(), "theme=dark; lang=en");
    assert.equal(both.headers.get("content-security-policy"), "sandbox allow-scripts allow-forms allow-popups");
    const only = await fetch(url, { headers: { cookie: "isobox_session=stolen-if-seen" } });
    assert.equal(await only.text(), "(none)");
    // A policy of the function's own is kept, and the sandbox added to it.
    const own = await t.deploy("own-csp", `export default { fetch() { return new Response("x", { headers: { "content-security-policy": "default-src 'none'" } }) } }`);
    const policies = (await fetch(own)).headers.get("content-security-policy") ?? "";
    assert.match(policies, /default-src 'none'/);
    assert.match(policies, /sandbox allow-scripts allow-forms allow-popups/);
  });
});

describe("console sessions over time and across nodes", () => {
  test("a session idle past ISOBOX_CONSOLE_SESSION_IDLE_HOURS ends; a used one lives on", async () => {
    const t = await startBox({ consoleSessionIdleHours: 0.001 });
    try {
      const open = async () => sessionOf(await fetch(`${t.url}/console/session`, { method: "POST", headers: { "content-type": "application/json", origin: t.url }, body: JSON.stringify({ token: t.admin }) }));
      const idle = await open();
      const used = await open();
      for (let i = 0; i < 6; i++) {
        await sleep(800);
        assert.equal((await fetch(`${t.url}/api/tenants`, { headers: { cookie: `isobox_session=${used}` } })).status, 200, "each use extends the session");
      }
      assert.equal((await fetch(`${t.url}/api/tenants`, { headers: { cookie: `isobox_session=${idle}` } })).status, 401);
    } finally {
      await t.close();
    }
  });

  test("a session is kept in the database: another node (or the node after a restart) knows it", async () => {
    const first = await startBox();
    const response = await fetch(`${first.url}/console/session`, { method: "POST", headers: { "content-type": "application/json", origin: first.url }, body: JSON.stringify({ token: first.admin }) });
    const cookie = sessionOf(response);
    // PGlite's data dir has one process at a time: the second node opens it once the first closed.
    const embedded = process.env.DATABASE_URL === undefined;
    if (embedded) await first.close({ keepDataDir: true });
    const second = await startBox({ dataDir: first.dataDir });
    try {
      assert.equal((await fetch(`${second.url}/api/tenants`, { headers: { cookie: `isobox_session=${cookie}` } })).status, 200);
    } finally {
      await second.close();
      if (!embedded) await first.close();
    }
  });

  test("with ISOBOX_CONSOLE=false there is no page at / and function responses are not sandboxed", async () => {
    const t = await startBox({ console: false });
    try {
      assert.equal((await fetch(`${t.url}/`)).status, 404);
      assert.equal((await fetch(`${t.url}/console/session`, { method: "POST", body: "{}" })).status, 404);
      const url = await t.deploy("plain", `export default { fetch() { return new Response("x") } }`);
      assert.equal((await fetch(url)).headers.get("content-security-policy"), null);
    } finally {
      await t.close();
    }
  });
});
