// Webhooks against hostile or careless input: signing secrets that are no keys (an empty
// "whsec_", a short key, a line of spaces, a rotation with one bad line), and correctly signed
// deliveries whose body or headers Postgres cannot store as they came (NUL, invalid UTF-8, unpaired
// surrogate escapes, 100,000-deep JSON, odd header bytes). Each is refused with a 4xx, never a 500,
// and recorded as rejected with the reason; after each, another tenant's valid delivery still gets
// its 202, event and job. Deliveries are signed here with node:crypto as the providers document it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { startBox, type TestBox } from "./helpers/box.ts";
import { checkSigningSecret, MIN_SHARED_KEY_BYTES } from "../src/webhooks/keys.ts";
import { dataError, MAX_JSON_DEPTH as MAX_EVENT_DEPTH } from "../src/db/storable.ts";
import { waitForJob } from "./helpers/wait.ts";

type Scheme = "stripe" | "github" | "standard" | "hmac-sha256";
const SCHEMES: Scheme[] = ["stripe", "github", "standard", "hmac-sha256"];

const nowSeconds = () => Math.floor(Date.now() / 1000);
const hmac = (key: string | Buffer, ...parts: (string | Buffer)[]) => {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
};
/** The Standard Webhooks key: the base64 after "whsec_" (or a bare base64 key), decoded. */
const standardKey = (secret: string) => Buffer.from(secret.replace(/^whsec_/, ""), "base64");

/** Headers that sign `body` for `scheme` with `secret` (as a provider that holds that secret would). */
function sign(scheme: Scheme, secret: string, body: Buffer, id: string = randomUUID()): Record<string, string> {
  const ts = nowSeconds();
  switch (scheme) {
    case "stripe": return { "stripe-signature": `t=${ts},v1=${hmac(secret, `${ts}.`, body).toString("hex")}` };
    case "github": return { "x-hub-signature-256": `sha256=${hmac(secret, body).toString("hex")}`, "x-github-delivery": id };
    case "standard": return { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": `v1,${hmac(standardKey(secret), `${id}.${ts}.`, body).toString("base64")}` };
    case "hmac-sha256": return { "x-signature": hmac(secret, body).toString("hex"), "x-delivery-id": id };
  }
}

/** A webhook of each scheme, named after it, verifying with `secret`. */
function hookSpec(scheme: Scheme, secret: string): unknown {
  const verify = scheme === "hmac-sha256" ? { scheme, secret, header: "x-signature", idHeader: "x-delivery-id" } : { scheme, secret };
  return { name: scheme, verify };
}

const goodSecret: Record<Scheme, () => string> = {
  stripe: () => "whsec_" + randomBytes(24).toString("base64url").slice(0, 32),
  github: () => "a github secret " + randomBytes(8).toString("hex"),
  standard: () => "whsec_" + randomBytes(24).toString("base64"),
  "hmac-sha256": () => "hmac-" + randomBytes(16).toString("hex"),
};

/** Stripe reads the event id from the body: every JSON body here carries one. */
const eventId = () => `evt_${randomBytes(10).toString("hex")}`;

/** A job that reports what it got, small enough for a job result whatever the body. */
const RECEIVER = `export default {
  job(payload) {
    const event = payload.event;
    return {
      bodyLength: payload.body.length,
      eventKeys: event !== null && typeof event === "object" ? Object.keys(event).length : null,
      odd: payload.headers["x-odd"] ?? null,
    };
  },
}`;

describe("hostile webhooks", () => {
  let t: TestBox;
  /** A second HTTP server for the same node, with Node's lenient parser (--insecure-http-parser). */
  let lenient: ServerType;
  let lenientUrl: string;
  let tenant: string;
  /** Another tenant whose valid deliveries must keep working after every hostile one. */
  let witness: { tenant: string; secret: string };

  before(async () => {
    t = await startBox({ jobPollMs: 100 });
    lenient = await new Promise((resolve) => {
      const s = serve({ fetch: t.box.app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false, serverOptions: { insecureHTTPParser: true } }, () => resolve(s));
    });
    lenientUrl = `http://127.0.0.1:${(lenient.address() as AddressInfo).port}`;
    ({ name: tenant } = await t.tenant());
    witness = { tenant: (await t.tenant()).name, secret: goodSecret.github() };
    await put(witness.tenant, "WITNESS_SECRET", witness.secret, 200);
    await t.deploy("witness", RECEIVER, { webhooks: [hookSpec("github", "WITNESS_SECRET")] }, witness.tenant);
  });
  after(async () => {
    const closed = new Promise((resolve) => lenient.close(resolve));
    (lenient as import("node:http").Server).closeAllConnections?.();
    await closed;
    await t.close();
  });

  // --- Helpers ------------------------------------------------------------------------------

  async function put(owner: string, name: string, value: string, status: number): Promise<any> {
    const response = await t.api("PUT", `/api/tenants/${owner}/secrets/${name}`, { value });
    assert.equal(response.status, status, JSON.stringify(response.body));
    return response.body;
  }

  async function deliver(owner: string, fn: string, hook: string, body: Buffer, headers: Record<string, string>, base = t.url): Promise<{ status: number; body: any }> {
    const response = await fetch(`${base}/hooks/${owner}/${fn}/${hook}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /**
   * A request written byte by byte, for headers fetch refuses to send (NUL, bytes over 0x7f).
   * Header lines are latin1, so each character is one byte on the wire.
   */
  function rawPost(base: string, path: string, headers: [string, string][], body: Buffer): Promise<{ status: number; body: any }> {
    const { hostname, port } = new URL(base);
    const head = [`POST ${path} HTTP/1.1`, `host: ${hostname}`, `content-length: ${body.length}`, "content-type: application/json", "connection: close", ...headers.map(([name, value]) => `${name}: ${value}`), "", ""].join("\r\n");
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = net.connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(head, "latin1"), body])));
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("close", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const [top, ...rest] = text.split("\r\n\r\n");
        const status = Number(top.split(" ")[1]);
        const content = /transfer-encoding: chunked/i.test(top) ? dechunk(rest.join("\r\n\r\n")) : rest.join("\r\n\r\n");
        let parsed: any;
        try {
          parsed = JSON.parse(content);
        } catch {
          parsed = undefined;
        }
        resolve({ status, body: parsed });
      });
    });
  }

  function dechunk(text: string): string {
    let out = "";
    for (let rest = text; ;) {
      const eol = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, eol), 16);
      if (!size) return out;
      out += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
  }

  async function events(owner: string, query: Record<string, string>): Promise<any[]> {
    const response = await t.api("GET", `/api/tenants/${owner}/webhooks/events?${new URLSearchParams({ limit: "500", ...query })}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.events;
  }

  async function event(owner: string, id: string): Promise<any> {
    const response = await t.api("GET", `/api/tenants/${owner}/webhooks/events/${id}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  }

  const finished = (owner: string, jobId: string) => waitForJob(t.api, owner, jobId);

  async function jobCount(owner: string, fn: string): Promise<number> {
    const response = await t.api("GET", `/api/tenants/${owner}/jobs?function=${fn}`);
    return Object.values(response.body.counts as Record<string, number>).reduce((a, b) => a + b, 0);
  }

  /**
   * Asserts a 4xx refusal with `code` whose message matches `message`, recorded as the hook's
   * newest rejected event with that reason, its headers and no body; returns the stored event.
   */
  async function assertRefused(fn: string, hook: string, response: { status: number; body: any }, status: number, code: string, message: RegExp): Promise<any> {
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.equal(response.body.error.code, code, JSON.stringify(response.body));
    assert.match(response.body.error.message, message);
    const [latest] = await events(tenant, { function: fn, hook, status: "rejected" });
    assert.ok(latest, "the refusal is recorded");
    assert.deepEqual(latest.reason, { code, message: response.body.error.message });
    const stored = await event(tenant, latest.id);
    assert.equal(stored.status, "rejected");
    assert.ok(!("body" in stored) && !("jobId" in stored), JSON.stringify(stored).slice(0, 300));
    assert.equal(typeof stored.headers, "object");
    return stored;
  }

  /** Another tenant's correctly signed delivery: 202, its event stored with the body, its job run. */
  async function assertWitnessServed(): Promise<void> {
    const body = Buffer.from(JSON.stringify({ action: "opened", n: randomUUID() }));
    const response = await deliver(witness.tenant, "witness", "github", body, sign("github", witness.secret, body));
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const stored = await event(witness.tenant, response.body.eventId);
    assert.equal(stored.status, "accepted");
    assert.equal(stored.body, body.toString());
    assert.equal(stored.jobId, response.body.jobId);
    const job = await finished(witness.tenant, response.body.jobId);
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    assert.deepEqual(job.result, { bodyLength: body.length, eventKeys: 2, odd: null });
    assert.deepEqual(job.payload.event, JSON.parse(body.toString()));
  }

  /**
   * Serves `fn` with one hook per entry whose secret holds `value` though no usable key. The
   * secrets API and deploy refuse that for a hook that names the secret; a secret set before these
   * checks, or a rollback to a version whose hook names it, gets there all the same: the secret is
   * set while the serving version names it nowhere, then the version that does is rolled back to.
   */
  async function serveWithSecrets(fn: string, hooks: { scheme: Scheme; secret: string; value: string }[]): Promise<void> {
    await t.deploy(fn, RECEIVER, { webhooks: hooks.map(({ scheme, secret }) => hookSpec(scheme, secret)) }, tenant);
    await t.deploy(fn, RECEIVER, { webhooks: [] }, tenant);
    for (const { secret, value } of hooks) await put(tenant, secret, value, 200);
    const rolledBack = await t.api("POST", `/api/tenants/${tenant}/functions/${fn}/rollback`, { version: 1 });
    assert.equal(rolledBack.status, 200, JSON.stringify(rolledBack.body));
  }

  // --- Signing keys -------------------------------------------------------------------------

  describe("signing keys", () => {
    const tenBytes = "whsec_" + randomBytes(10).toString("base64");
    const spaces = " ".repeat(24);

    test("checkSigningSecret judges every non-empty line for its scheme and never quotes the value", () => {
      const std = goodSecret.standard();
      const cases: [Scheme, string, RegExp | undefined][] = [
        ["standard", "whsec_", /the key after whsec_ is empty/],
        ["standard", tenBytes, /10 bytes after base64-decoding; the scheme needs 24 to 64/],
        ["standard", spaces, /only whitespace/],
        ["standard", "whsec_" + randomBytes(65).toString("base64"), /65 bytes/],
        ["standard", "whsec_not base64!", /not base64/],
        ["standard", "", /holds no key/],
        ["standard", std, undefined],
        ["standard", std.slice("whsec_".length), undefined],
        ["standard", `${std}\n`, undefined],
        ["standard", `  ${std}\r\n\r\n${goodSecret.standard()}`, undefined],
        ["standard", `whsec_\n${std}`, /^line 1: the key after whsec_ is empty/],
        ["stripe", "whsec_", /the key after whsec_ is empty/],
        ["stripe", "whsec_" + "a".repeat(10), /10 bytes after whsec_; at least 16/],
        ["stripe", goodSecret.stripe(), undefined],
        ["github", "gh-secret", /9 bytes; at least 16/],
        ["github", spaces, /only whitespace/],
        ["github", "It's a Secret to Everybody", undefined],
        ["github", `It's a Secret to Everybody\nshort`, /^line 2: the key is 5 bytes/],
        ["hmac-sha256", "x".repeat(MIN_SHARED_KEY_BYTES - 1), /15 bytes/],
        ["hmac-sha256", "x".repeat(MIN_SHARED_KEY_BYTES), undefined],
      ];
      for (const [scheme, value, expected] of cases) {
        const problem = checkSigningSecret(scheme, value);
        if (expected === undefined) assert.equal(problem, undefined, `${scheme} ${JSON.stringify(value)}`);
        else {
          assert.match(problem ?? "", expected, `${scheme} ${JSON.stringify(value)}`);
          if (value.trim().length > 6) assert.ok(!problem!.includes(value.trim()), "the value is never quoted");
        }
      }
    });

    test("setting an unusable value for a secret a serving hook names is 400 ERR_BAD_REQUEST naming body.value and the hook, for every scheme", async () => {
      const fn = "keyed";
      await t.deploy(fn, RECEIVER, { webhooks: SCHEMES.map((scheme) => hookSpec(scheme, `KEYED_${scheme.replace("-", "_").toUpperCase()}`)) }, tenant);
      const bad: Record<Scheme, string[]> = {
        standard: ["whsec_", tenBytes, spaces, `whsec_\n${goodSecret.standard()}`],
        stripe: ["whsec_", "whsec_short", spaces, `whsec_\n${goodSecret.stripe()}`],
        github: ["gh-secret", spaces, `short\n${goodSecret.github()}`],
        "hmac-sha256": ["0123456789", spaces, `${goodSecret["hmac-sha256"]()}\n   `],
      };
      for (const scheme of SCHEMES) {
        const name = `KEYED_${scheme.replace("-", "_").toUpperCase()}`;
        for (const value of bad[scheme]) {
          const refused = await put(tenant, name, value, 400);
          assert.equal(refused.error.code, "ERR_BAD_REQUEST");
          assert.equal(refused.error.field, "body.value");
          assert.match(refused.error.message, new RegExp(`^body\\.value: not a usable ${scheme} signing secret for webhook ${fn}/${scheme}, which verifies with ${name}: `));
        }
        // Nothing was stored: the secret does not exist.
        const listed = (await t.api("GET", `/api/tenants/${tenant}/secrets`)).body.secrets as { name: string }[];
        assert.ok(!listed.some((secret) => secret.name === name), `${name} was not stored`);
        const value = goodSecret[scheme]();
        await put(tenant, name, value, 200);
        // A good secret with a trailing newline (as `echo … |` gives it) is one key.
        await put(tenant, name, `${value}\n`, 200);
        const body = Buffer.from(JSON.stringify({ id: eventId(), type: "keyed" }));
        assert.equal((await deliver(tenant, fn, scheme, body, sign(scheme, value, body))).status, 202);
      }
      // A secret no hook names is anyone's business: "whsec_" is a fine value for it.
      await put(tenant, "NOT_A_HOOK_SECRET", "whsec_", 200);
    });

    test("a forged delivery to a hook whose secret has no usable key is 409 ERR_CONFLICT (the secret is invalid, not the signature), recorded, and no job", async () => {
      const fn = "keyless";
      // Each forged with the very key the secret holds: what verifies if that key is accepted.
      const hooks: { scheme: Scheme; secret: string; value: string; forgeWith: string }[] = [
        { scheme: "standard", secret: "KEYLESS_STANDARD", value: "whsec_", forgeWith: "whsec_" },
        { scheme: "stripe", secret: "KEYLESS_STRIPE", value: "whsec_", forgeWith: "whsec_" },
        { scheme: "github", secret: "KEYLESS_GITHUB", value: spaces, forgeWith: spaces },
        { scheme: "hmac-sha256", secret: "KEYLESS_HMAC", value: "0123456789", forgeWith: "0123456789" },
      ];
      await serveWithSecrets(fn, hooks);
      for (const { scheme, secret, forgeWith } of hooks) {
        const body = Buffer.from(JSON.stringify({ id: eventId(), type: "forged" }));
        const response = await deliver(tenant, fn, scheme, body, sign(scheme, forgeWith, body));
        const stored = await assertRefused(fn, scheme, response, 409, "ERR_CONFLICT", new RegExp(`^The signing secret ${secret} of webhook ${fn}/${scheme} is invalid for scheme ${scheme}: `));
        assert.notEqual(stored.reason.code, "ERR_BAD_SIGNATURE");
      }
      // A 10-byte standard key is refused the same way.
      await serveWithSecrets("short-standard", [{ scheme: "standard", secret: "SHORT_STANDARD", value: tenBytes }]);
      const body = Buffer.from(JSON.stringify({ type: "forged" }));
      const response = await deliver(tenant, "short-standard", "standard", body, sign("standard", tenBytes, body));
      await assertRefused("short-standard", "standard", response, 409, "ERR_CONFLICT", /is 10 bytes after base64-decoding; the scheme needs 24 to 64/);
      assert.equal(await jobCount(tenant, fn) + await jobCount(tenant, "short-standard"), 0, "no job for any of them");
      await assertWitnessServed();
    });

    test("a rotation secret with one bad line and one good line verifies with the good line only; the bad one never verifies", async () => {
      const fn = "half-rotated";
      const good = { standard: goodSecret.standard(), github: goodSecret.github() };
      await serveWithSecrets(fn, [
        { scheme: "standard", secret: "HALF_STANDARD", value: `whsec_\n${good.standard}` },
        { scheme: "github", secret: "HALF_GITHUB", value: `${spaces}\n${good.github}\nshort` },
      ]);
      for (const [scheme, key, bad] of [["standard", good.standard, "whsec_"], ["github", good.github, "short"]] as const) {
        const body = Buffer.from(JSON.stringify({ type: "rotation" }));
        const accepted = await deliver(tenant, fn, scheme, body, sign(scheme, key, body));
        assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
        assert.equal((await finished(tenant, accepted.body.jobId)).status, "succeeded");
        const forged = await deliver(tenant, fn, scheme, body, sign(scheme, bad, body));
        await assertRefused(fn, scheme, forged, 401, "ERR_BAD_SIGNATURE", /match/);
        const blank = await deliver(tenant, fn, scheme, body, sign(scheme, spaces, body));
        await assertRefused(fn, scheme, blank, 401, "ERR_BAD_SIGNATURE", /match/);
      }
      await assertWitnessServed();
    });
  });

  // --- Bodies and headers that cannot be stored as they came --------------------------------

  describe("deliveries that cannot be stored", () => {
    const fn = "sink";
    const secrets = {} as Record<Scheme, string>;

    before(async () => {
      for (const scheme of SCHEMES) {
        secrets[scheme] = goodSecret[scheme]();
        await put(tenant, `SINK_${scheme.replace("-", "_").toUpperCase()}`, secrets[scheme], 200);
      }
      await t.deploy(fn, RECEIVER, { webhooks: SCHEMES.map((scheme) => hookSpec(scheme, `SINK_${scheme.replace("-", "_").toUpperCase()}`)) }, tenant);
    });

    /** JSON text around a fragment that is spliced in as raw bytes. */
    const json = (fragment: Buffer | string) => Buffer.concat([Buffer.from(`{"id":"${eventId()}","text":"`), typeof fragment === "string" ? Buffer.from(fragment) : fragment, Buffer.from(`"}`)]);
    const deep = (levels: number) => Buffer.from(`{"id":"${eventId()}","deep":${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`);

    // Stripe parses the body for its event id before anything else: a body that is no JSON is
    // refused there as "not JSON" (still a recorded 400).
    const classes: { name: string; body: () => Buffer; message: RegExp; stripe?: RegExp }[] = [
      { name: "a NUL byte", body: () => json(Buffer.from([0x61, 0x00, 0x62])), message: /NUL byte \(at offset \d+\)/, stripe: /not JSON/ },
      { name: "a \\u0000 escape", body: () => json("a\\u0000b"), message: /\\u0000 escape/ },
      { name: "invalid UTF-8 (0xff)", body: () => json(Buffer.from([0x61, 0xff, 0x62])), message: /not valid UTF-8 \(first bad byte at offset \d+\)/ },
      { name: "an encoded surrogate (ED A0 80)", body: () => json(Buffer.from([0xed, 0xa0, 0x80])), message: /not valid UTF-8/ },
      { name: "a lone surrogate escape", body: () => json("\\ud800"), message: /unpaired surrogate/ },
      { name: "a lone surrogate escape in a key", body: () => Buffer.from(`{"id":"${eventId()}","\\udc00":1}`), message: /unpaired surrogate/ },
      { name: "JSON nested 100,000 levels deep", body: () => deep(100_000), message: new RegExp(`nested more than ${MAX_EVENT_DEPTH} levels deep`) },
      { name: `JSON nested ${MAX_EVENT_DEPTH + 1} levels deep`, body: () => deep(MAX_EVENT_DEPTH + 1), message: new RegExp(`nested more than ${MAX_EVENT_DEPTH} levels deep`) },
    ];

    for (const { name, body, message, stripe } of classes) {
      test(`a correctly signed delivery with ${name} is a 400 recorded as rejected, for every scheme; another tenant's delivery still works`, async () => {
        for (const scheme of SCHEMES) {
          const bytes = body();
          const before = await jobCount(tenant, fn);
          const response = await deliver(tenant, fn, scheme, bytes, sign(scheme, secrets[scheme], bytes));
          await assertRefused(fn, scheme, response, 400, "ERR_BAD_REQUEST", scheme === "stripe" && stripe ? stripe : message);
          assert.equal(await jobCount(tenant, fn), before, "no job");
        }
        await assertWitnessServed();
      });
    }

    test(`JSON nested exactly ${MAX_EVENT_DEPTH} levels deep is accepted and reaches the job intact`, async () => {
      const bytes = deep(MAX_EVENT_DEPTH);
      const response = await deliver(tenant, fn, "github", bytes, sign("github", secrets.github, bytes));
      assert.equal(response.status, 202, JSON.stringify(response.body));
      assert.equal((await event(tenant, response.body.eventId)).body, bytes.toString());
      const job = await finished(tenant, response.body.jobId);
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      assert.deepEqual(job.payload.event, JSON.parse(bytes.toString()));
    });

    test("control characters other than NUL and noncharacters are stored as they came, raw and as JSON escapes", async () => {
      for (const text of ["a\u0001b\u001f\u007f\uffff c", JSON.stringify({ id: eventId(), text: "a\u0001b\u001f\u007f\uffff c" })]) {
        const bytes = Buffer.from(text);
        const response = await deliver(tenant, fn, "github", bytes, sign("github", secrets.github, bytes));
        assert.equal(response.status, 202, JSON.stringify(response.body));
        assert.equal((await event(tenant, response.body.eventId)).body, text);
        const job = await finished(tenant, response.body.jobId);
        assert.equal(job.payload.body, text);
        assert.deepEqual(job.payload.event, text.startsWith("{") ? JSON.parse(text) : null);
      }
    });

    test("an object with 60,000 keys is stored and reaches the job with every key", async () => {
      const event = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, i]));
      const bytes = Buffer.from(JSON.stringify({ id: eventId(), ...event }));
      for (const scheme of ["github", "stripe"] as const) {
        const fresh = scheme === "stripe" ? Buffer.from(JSON.stringify({ id: eventId(), ...event })) : bytes;
        const response = await deliver(tenant, fn, scheme, fresh, sign(scheme, secrets[scheme], fresh));
        assert.equal(response.status, 202, JSON.stringify(response.body));
        const job = await finished(tenant, response.body.jobId);
        assert.equal(job.status, "succeeded", JSON.stringify(job.error));
        assert.deepEqual(job.result, { bodyLength: fresh.length, eventKeys: 60_001, odd: null });
      }
      await assertWitnessServed();
    });

    test("a delivery id longer than 255 bytes is a 400 recorded as rejected (it is part of unique index keys)", async () => {
      const bytes = Buffer.from(JSON.stringify({ type: "long id" }));
      // Random, so the index cannot compress it below its limit.
      const response = await deliver(tenant, fn, "github", bytes, sign("github", secrets.github, bytes, randomBytes(1500).toString("hex")));
      await assertRefused(fn, "github", response, 400, "ERR_BAD_REQUEST", /delivery id is 3000 bytes long; at most 255/);
      const stripeBody = Buffer.from(JSON.stringify({ id: `evt_${randomBytes(1500).toString("hex")}` }));
      const stripe = await deliver(tenant, fn, "stripe", stripeBody, sign("stripe", secrets.stripe, stripeBody));
      await assertRefused(fn, "stripe", stripe, 400, "ERR_BAD_REQUEST", /delivery id is 3004 bytes long/);
      await assertWitnessServed();
    });

    test("header bytes over 0x7f are stored as the latin1 characters Node reads them as, and the delivery is accepted", async () => {
      const bytes = Buffer.from(JSON.stringify({ type: "odd header" }));
      const signed = Object.entries(sign("github", secrets.github, bytes)) as [string, string][];
      const response = await rawPost(t.url, `/hooks/${tenant}/${fn}/github`, [...signed, ["x-odd", "caf\u00e9 \u00ff\u0080"]], bytes);
      assert.equal(response.status, 202, JSON.stringify(response.body));
      assert.equal((await event(tenant, response.body.eventId)).headers["x-odd"], "caf\u00e9 \u00ff\u0080");
      assert.equal((await finished(tenant, response.body.jobId)).result.odd, "caf\u00e9 \u00ff\u0080");
    });

    test("a database error caused by the data (SQLSTATE class 22 or 54) is recognised; others are not", () => {
      assert.equal(dataError({ message: "Failed query: insert … params: secret", cause: { code: "22P05", message: "unsupported Unicode escape sequence" } }), "unsupported Unicode escape sequence (SQLSTATE 22P05)");
      assert.equal(dataError({ code: "54000", message: "index row size 3016 exceeds btree version 4 maximum 2704\nmore" }), "index row size 3016 exceeds btree version 4 maximum 2704 (SQLSTATE 54000)");
      assert.equal(dataError({ cause: { code: "57P01", message: "terminating connection" } }), undefined);
      assert.equal(dataError(new Error("ECONNREFUSED")), undefined);
      assert.equal(dataError(undefined), undefined);
    });

    test("a NUL in a header value or an odd byte in a header name is a 400 from Node's parser (never reaching Isobox, never a 500)", async () => {
      const bytes = Buffer.from(JSON.stringify({ type: "nul header" }));
      const signed = Object.entries(sign("github", secrets.github, bytes)) as [string, string][];
      const before = (await events(tenant, { function: fn, hook: "github" })).length;
      const nulValue = await rawPost(t.url, `/hooks/${tenant}/${fn}/github`, [...signed, ["x-odd", "a\u0000b"]], bytes);
      assert.equal(nulValue.status, 400);
      const oddName = await rawPost(t.url, `/hooks/${tenant}/${fn}/github`, [...signed, ["x-\u00e9", "a"]], bytes);
      assert.equal(oddName.status, 400);
      assert.equal((await events(tenant, { function: fn, hook: "github" })).length, before, "nothing reached intake");
      await assertWitnessServed();
    });

    test("with Node's lenient parser, a NUL in a header value is a 400 recorded as rejected, its headers stored with U+FFFD", async () => {
      const bytes = Buffer.from(JSON.stringify({ type: "nul header" }));
      const signed = Object.entries(sign("github", secrets.github, bytes)) as [string, string][];
      const response = await rawPost(lenientUrl, `/hooks/${tenant}/${fn}/github`, [...signed, ["x-odd", "a\u0000b"], ["authorization", "Bearer not-for-storage"]], bytes);
      const stored = await assertRefused(fn, "github", response, 400, "ERR_BAD_REQUEST", /^The x-odd header holds a NUL, CR or LF character/);
      assert.equal(stored.headers["x-odd"], "a\uFFFDb");
      assert.equal(stored.headers["x-hub-signature-256"], signed.find(([name]) => name === "x-hub-signature-256")![1]);
      assert.ok(!("authorization" in stored.headers), "credentials are not stored");
      // The same server still takes a valid delivery.
      const ok = await deliver(tenant, fn, "github", bytes, sign("github", secrets.github, bytes), lenientUrl);
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
      await assertWitnessServed();
    });

    test("hostile deliveries sent together with valid ones fail alone: every valid one gets its 202, event and job", async () => {
      const hostile = classes.map(({ body }) => body());
      const valid = Array.from({ length: 6 }, (_, i) => Buffer.from(JSON.stringify({ type: "together", i })));
      const [refused, accepted] = await Promise.all([
        Promise.all(hostile.map((bytes) => deliver(tenant, fn, "github", bytes, sign("github", secrets.github, bytes)))),
        Promise.all(valid.map((bytes) => deliver(witness.tenant, "witness", "github", bytes, sign("github", witness.secret, bytes)))),
      ]);
      assert.deepEqual(refused.map((response) => `${response.status} ${response.body.error.code}`), hostile.map(() => "400 ERR_BAD_REQUEST"));
      for (const [i, response] of accepted.entries()) {
        assert.equal(response.status, 202, JSON.stringify(response.body));
        assert.equal((await event(witness.tenant, response.body.eventId)).body, valid[i].toString());
        assert.equal((await finished(witness.tenant, response.body.jobId)).status, "succeeded");
      }
    });
  });
});
