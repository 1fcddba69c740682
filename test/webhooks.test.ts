// Verified webhooks as a provider and a user meet them: deliveries signed here exactly as Stripe,
// GitHub, Standard Webhooks (Svix) and a generic HMAC sender document it (node:crypto, never
// Isobox's own verifiers), acknowledged with 202 before the job runs, redeliveries deduplicated by
// the provider's delivery id, refusals recorded without their body, events listed and replayed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { startBox, type TestBox } from "./helpers/box.ts";
import { waitForJob } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

/** Unix seconds, as every provider puts them in its timestamp. */
function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

// --- Signing, as each provider documents it -------------------------------------------------

/** GitHub "Validating webhook deliveries": HMAC-SHA256 of the raw payload keyed with the secret, hex, "sha256=" prefix. */
function githubSignature(secret: string, payload: string | Buffer): string {
  return "sha256=" + createHmac("sha256", secret).update(payload).digest("hex");
}

/**
 * Stripe "Verify signatures manually": signed_payload = "<t>.<payload>", HMAC-SHA256 keyed with
 * the endpoint's signing secret (the whole "whsec_…" string), hex; header "t=<t>,v1=<sig>", one v1
 * per active secret while one is rolled.
 */
function stripeV1(secret: string, timestamp: number, payload: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${payload}`).digest("hex");
}
function stripeHeader(timestamp: number, payload: string, ...secrets: string[]): string {
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${stripeV1(secret, timestamp, payload)}`)].join(",");
}

/**
 * Standard Webhooks spec: key = base64-decode of the part after "whsec_", content
 * "<msg_id>.<timestamp>.<payload>", HMAC-SHA256, base64; the header entry is "v1,<sig>".
 */
function standardSignature(secret: string, id: string, timestamp: number | string, payload: string): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return "v1," + createHmac("sha256", key).update(`${id}.${timestamp}.${payload}`).digest("base64");
}

function newStandardSecret(): string {
  return "whsec_" + randomBytes(24).toString("base64");
}

function hmacBase64(secret: string, content: string): string {
  return createHmac("sha256", secret).update(content).digest("base64");
}

// --- The function that receives the deliveries ----------------------------------------------

/** A job that reports what it received; `header` is the signature header it looks for. */
function receiver(header: string): string {
  return `export default {
    async job(payload, env, ctx) {
      return {
        keys: Object.keys(payload).sort(),
        type: payload.event?.type ?? null,
        body: payload.body,
        bodyLength: payload.body.length,
        signatureHeader: payload.headers[${JSON.stringify(header.toLowerCase())}] ?? null,
        hasSignatureHeader: ${JSON.stringify(header.toLowerCase())} in payload.headers,
      };
    },
  }`;
}

describe("webhooks", () => {
  let t: TestBox;
  let tenant: string;
  let apiKey: string;

  before(async () => {
    t = await startBox({ jobPollMs: 100 });
    ({ name: tenant, apiKey } = await t.tenant());
  });
  after(async () => {
    await t.close();
  });

  const hookUrl = (fn: string, hook: string) => `${t.url}/hooks/${tenant}/${fn}/${hook}`;

  /** Sends a delivery the way a provider does: no Isobox credentials, the raw bytes as signed. */
  async function deliver(fn: string, hook: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const response = await fetch(hookUrl(fn, hook), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? Buffer.from(body, "utf8") : body,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async function setSecret(name: string, value: string): Promise<void> {
    const response = await t.api("PUT", `/api/tenants/${tenant}/secrets/${name}`, { value });
    assert.equal(response.status, 200, JSON.stringify(response.body));
  }

  async function job(id: string): Promise<any> {
    const response = await t.api("GET", `/api/tenants/${tenant}/jobs/${id}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  }

  /** Polls a job until `done` holds (or fails the test after 30 s with its last state). */
  const waitFor = (id: string, done?: (job: any) => boolean) => waitForJob(t.api, tenant, id, done);

  async function counts(fn: string): Promise<Record<string, number>> {
    const response = await t.api("GET", `/api/tenants/${tenant}/jobs?function=${fn}`);
    assert.equal(response.status, 200);
    return response.body.counts;
  }
  const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

  async function events(query: Record<string, string | number> = {}): Promise<any[]> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    const response = await t.api("GET", `/api/tenants/${tenant}/webhooks/events?${qs}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.events;
  }

  async function event(id: string): Promise<any> {
    const response = await t.api("GET", `/api/tenants/${tenant}/webhooks/events/${id}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  }

  /**
   * Asserts a refusal: its status and code, and that it is recorded as a rejected event with that
   * reason, its headers, and no body (neither in the list nor in the event itself).
   */
  async function assertRejected(fn: string, hook: string, response: { status: number; body: any }, status: number, code: string, marker?: [string, string]): Promise<any> {
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.equal(response.body.error.code, code, JSON.stringify(response.body));
    assert.equal(typeof response.body.error.message, "string");
    const rejected = await events({ function: fn, hook, status: "rejected" });
    assert.ok(rejected.length > 0, "the refusal is recorded");
    for (const item of rejected) {
      assert.equal(item.status, "rejected");
      assert.ok(!("body" in item), "a listed event carries no body");
      assert.ok(!("jobId" in item), "a rejected event has no job");
    }
    // The newest rejected event of this hook is this one (tests of a hook run one at a time).
    const latest = rejected[0];
    assert.equal(latest.function, fn);
    assert.equal(latest.hook, hook);
    assert.equal(latest.reason.code, code);
    assert.equal(latest.reason.message, response.body.error.message);
    assert.ok(!Number.isNaN(Date.parse(latest.receivedAt)));
    const full = await event(latest.id);
    assert.equal(full.status, "rejected");
    assert.ok(!("body" in full), `a rejected event is stored without its body: ${JSON.stringify(full).slice(0, 300)}`);
    assert.equal(typeof full.headers, "object");
    if (marker) assert.equal(full.headers[marker[0]], marker[1], "the rejected event keeps the delivery's headers");
    return latest;
  }

  /** Asserts an accepted delivery's 202 and returns it. */
  function assertAccepted(response: { status: number; body: any }): { eventId: string; jobId: string } {
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(typeof response.body.eventId, "string");
    assert.equal(typeof response.body.jobId, "string");
    assert.deepEqual(Object.keys(response.body).sort(), ["eventId", "jobId"]);
    return response.body;
  }

  describe("stripe", () => {
    const fn = "stripe-receiver";
    const secret = "whsec_" + randomBytes(16).toString("hex");
    const oldSecret = "whsec_" + randomBytes(16).toString("hex");
    const eventId = `evt_${randomBytes(8).toString("hex")}`;
    // As Stripe sends it: pretty-printed JSON, and the signature covers those exact bytes (non-ASCII included).
    const payload = JSON.stringify({
      id: eventId,
      object: "event",
      type: "payment_intent.succeeded",
      data: { object: { id: "pi_123", amount: 2000, currency: "eur", description: "Café crème ☕" } },
    }, null, 2);
    let first: { eventId: string; jobId: string };

    before(async () => {
      await setSecret("STRIPE_WEBHOOK_SECRET", secret);
      await t.deploy(fn, receiver("Stripe-Signature"), { webhooks: [{ name: "stripe", verify: { scheme: "stripe", secret: "STRIPE_WEBHOOK_SECRET" } }] }, tenant);
    });

    test("a delivery signed as Stripe documents is acknowledged with 202 and its job gets {headers, body, event}", async () => {
      const header = stripeHeader(nowSeconds(), payload, secret);
      first = assertAccepted(await deliver(fn, "stripe", payload, { "Stripe-Signature": header }));
      const done = await waitFor(first.jobId);
      assert.equal(done.status, "succeeded", JSON.stringify(done));
      assert.equal(done.trigger, "webhook");
      assert.deepEqual(done.result, {
        keys: ["body", "event", "headers"],
        type: "payment_intent.succeeded",
        body: payload,
        bodyLength: payload.length,
        signatureHeader: header,
        hasSignatureHeader: true,
      });
      assert.deepEqual(done.payload.event, JSON.parse(payload));
      assert.equal(done.payload.body, payload);
      assert.equal(done.payload.headers["stripe-signature"], header);
      // The accepted event keeps the raw body and points at the job; its delivery id is the event id.
      const stored = await event(first.eventId);
      assert.equal(stored.status, "accepted");
      assert.equal(stored.body, payload);
      assert.equal(stored.jobId, first.jobId);
      assert.equal(stored.deliveryId, eventId);
      assert.equal(stored.headers["stripe-signature"], header);
    });

    test("a redelivery of the same event (fresh timestamp and signature) returns the first eventId and jobId and starts nothing", async () => {
      assert.equal(total(await counts(fn)), 1);
      const again = assertAccepted(await deliver(fn, "stripe", payload, { "Stripe-Signature": stripeHeader(nowSeconds() - 5, payload, secret) }));
      assert.deepEqual(again, first);
      const c = await counts(fn);
      assert.equal(total(c), 1, JSON.stringify(c));
      assert.equal(c.succeeded, 1);
      const accepted = await events({ function: fn, status: "accepted" });
      assert.equal(accepted.filter((e) => e.deliveryId === eventId).length, 1, "one accepted event per delivery id");
    });

    test("a header with two v1 signatures (the old secret's and the current one's) is accepted; other schemes are ignored", async () => {
      const body = JSON.stringify({ id: `evt_${randomBytes(8).toString("hex")}`, object: "event", type: "customer.created" });
      const ts = nowSeconds();
      // Stripe puts every active secret's v1 in the header while one is rolled; test mode adds v0.
      const header = `t=${ts},v1=${stripeV1(oldSecret, ts, body)},v1=${stripeV1(secret, ts, body)},v0=${"0".repeat(64)}`;
      const accepted = assertAccepted(await deliver(fn, "stripe", body, { "Stripe-Signature": header }));
      assert.equal((await waitFor(accepted.jobId)).result.type, "customer.created");
    });

    test("a tampered body is refused with 401 ERR_BAD_SIGNATURE and recorded without its body", async () => {
      const header = stripeHeader(nowSeconds(), payload, secret);
      const tampered = payload.replace('"amount": 2000', '"amount": 1');
      assert.notEqual(tampered, payload);
      const before = total(await counts(fn));
      await assertRejected(fn, "stripe", await deliver(fn, "stripe", tampered, { "Stripe-Signature": header }), 401, "ERR_BAD_SIGNATURE", ["stripe-signature", header]);
      assert.equal(total(await counts(fn)), before, "no job for a refused delivery");
    });

    test("a signature by another secret is refused with 401", async () => {
      const body = JSON.stringify({ id: "evt_wrong_secret", type: "x" });
      const response = await deliver(fn, "stripe", body, { "Stripe-Signature": stripeHeader(nowSeconds(), body, oldSecret) });
      await assertRejected(fn, "stripe", response, 401, "ERR_BAD_SIGNATURE");
    });

    test("a correctly signed delivery from 600 s ago is refused with 401 ERR_STALE_TIMESTAMP", async () => {
      const body = JSON.stringify({ id: "evt_stale", type: "x" });
      const response = await deliver(fn, "stripe", body, { "Stripe-Signature": stripeHeader(nowSeconds() - 600, body, secret) });
      await assertRejected(fn, "stripe", response, 401, "ERR_STALE_TIMESTAMP");
    });

    test("a delivery without Stripe-Signature is refused with 400", async () => {
      await assertRejected(fn, "stripe", await deliver(fn, "stripe", payload, { "X-Marker": "no-signature" }), 400, "ERR_BAD_REQUEST", ["x-marker", "no-signature"]);
    });

    test("replaying the accepted event starts a second job with the same payload", async () => {
      const firstJob = await job(first.jobId);
      const before = total(await counts(fn));
      const replay = await t.api("POST", `/api/tenants/${tenant}/webhooks/events/${first.eventId}/replay`);
      assert.equal(replay.status, 202, JSON.stringify(replay.body));
      assert.equal(replay.body.eventId, first.eventId);
      assert.notEqual(replay.body.jobId, first.jobId);
      const second = await waitFor(replay.body.jobId);
      assert.equal(second.status, "succeeded");
      assert.equal(second.trigger, "webhook");
      assert.deepEqual(second.payload, firstJob.payload);
      assert.deepEqual(second.result, firstJob.result);
      assert.equal(total(await counts(fn)), before + 1);
    });

    test("a redelivery after a replay still answers with the first delivery's job, and starts nothing", async () => {
      const before = total(await counts(fn));
      const again = assertAccepted(await deliver(fn, "stripe", payload, { "Stripe-Signature": stripeHeader(nowSeconds(), payload, secret) }));
      assert.equal(again.eventId, first.eventId);
      assert.equal(again.jobId, first.jobId, "a redelivery returns the first job");
      assert.equal(total(await counts(fn)), before);
    });
  });

  describe("github", () => {
    const fn = "github-receiver";
    // GitHub's documented example ("Validating webhook deliveries", "Testing the webhook payload validation").
    const documentedSecret = "It's a Secret to Everybody";
    const documentedPayload = "Hello, World!";
    const documentedSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const newSecret = "rotated " + randomBytes(8).toString("hex");
    let first: { eventId: string; jobId: string };
    let firstDelivery: string;

    before(async () => {
      await setSecret("GITHUB_WEBHOOK_SECRET", documentedSecret);
      await setSecret("GITHUB_ROTATING_SECRET", `${newSecret}\n${documentedSecret}`);
      await t.deploy(fn, receiver("X-Hub-Signature-256"), {
        webhooks: [
          { name: "github", verify: { scheme: "github", secret: "GITHUB_WEBHOOK_SECRET" } },
          { name: "rotating", verify: { scheme: "github", secret: "GITHUB_ROTATING_SECRET" } },
        ],
      }, tenant);
    });

    test("GitHub's documented example verifies: the computed signature is GitHub's constant, 202, and the job sees the raw body with event null", async () => {
      const signature = githubSignature(documentedSecret, documentedPayload);
      assert.equal(signature, documentedSignature);
      firstDelivery = randomUUID();
      first = assertAccepted(await deliver(fn, "github", documentedPayload, {
        "content-type": "text/plain",
        "X-Hub-Signature-256": signature,
        "X-GitHub-Delivery": firstDelivery,
        "X-GitHub-Event": "ping",
        Authorization: "Bearer not-for-storage",
      }));
      const done = await waitFor(first.jobId);
      assert.equal(done.status, "succeeded", JSON.stringify(done));
      assert.deepEqual(done.result, {
        keys: ["body", "event", "headers"],
        type: null,
        body: documentedPayload,
        bodyLength: documentedPayload.length,
        signatureHeader: documentedSignature,
        hasSignatureHeader: true,
      });
      assert.equal(done.payload.event, null, "a body that is not JSON gives event: null");
      assert.equal(done.payload.headers["x-github-event"], "ping");
      assert.ok(!("authorization" in done.payload.headers), "credentials unrelated to the signature are not passed on");
      const stored = await event(first.eventId);
      assert.equal(stored.deliveryId, firstDelivery);
      assert.equal(stored.body, documentedPayload);
      assert.ok(!("authorization" in stored.headers), "credentials unrelated to the signature are not stored");
    });

    test("a redelivery (same X-GitHub-Delivery) returns the first eventId and jobId; one job exists", async () => {
      const again = assertAccepted(await deliver(fn, "github", documentedPayload, {
        "X-Hub-Signature-256": documentedSignature,
        "X-GitHub-Delivery": firstDelivery,
      }));
      assert.deepEqual(again, first);
      const c = await counts(fn);
      assert.equal(total(c), 1, JSON.stringify(c));
    });

    test("concurrent redeliveries of a new delivery id all get one event and one job", async () => {
      const payload = JSON.stringify({ action: "opened", pull_request: { number: 7 } });
      const id = randomUUID();
      const before = total(await counts(fn));
      const responses = await Promise.all(Array.from({ length: 6 }, () => deliver(fn, "github", payload, {
        "X-Hub-Signature-256": githubSignature(documentedSecret, payload),
        "X-GitHub-Delivery": id,
        "X-GitHub-Event": "pull_request",
      })));
      const accepted = responses.map(assertAccepted);
      for (const response of accepted) assert.deepEqual(response, accepted[0]);
      assert.equal(total(await counts(fn)), before + 1);
      assert.equal((await events({ function: fn, status: "accepted" })).filter((e) => e.deliveryId === id).length, 1);
      assert.equal((await waitFor(accepted[0].jobId)).status, "succeeded");
    });

    test("a tampered body is refused with 401 ERR_BAD_SIGNATURE", async () => {
      const response = await deliver(fn, "github", "Hello, World?", { "X-Hub-Signature-256": documentedSignature, "X-GitHub-Delivery": randomUUID() });
      await assertRejected(fn, "github", response, 401, "ERR_BAD_SIGNATURE", ["x-hub-signature-256", documentedSignature]);
    });

    test("a signature by another secret is refused with 401", async () => {
      const response = await deliver(fn, "github", documentedPayload, { "X-Hub-Signature-256": githubSignature("not the secret", documentedPayload), "X-GitHub-Delivery": randomUUID() });
      await assertRejected(fn, "github", response, 401, "ERR_BAD_SIGNATURE");
    });

    test("a delivery with only the legacy SHA-1 X-Hub-Signature, or without X-GitHub-Delivery, is refused with 400", async () => {
      const sha1 = "sha1=" + createHmac("sha1", documentedSecret).update(documentedPayload).digest("hex");
      await assertRejected(fn, "github", await deliver(fn, "github", documentedPayload, { "X-Hub-Signature": sha1, "X-GitHub-Delivery": randomUUID() }), 400, "ERR_BAD_REQUEST");
      await assertRejected(fn, "github", await deliver(fn, "github", documentedPayload, { "X-Hub-Signature-256": documentedSignature }), 400, "ERR_BAD_REQUEST");
    });

    test("with two secrets in the tenant secret (one per line) a delivery signed by either verifies, and a third is refused", async () => {
      for (const key of [newSecret, documentedSecret]) {
        const body = JSON.stringify({ zen: "Keep it logically awesome.", key: key.length });
        const accepted = assertAccepted(await deliver(fn, "rotating", body, { "X-Hub-Signature-256": githubSignature(key, body), "X-GitHub-Delivery": randomUUID() }));
        assert.equal((await waitFor(accepted.jobId)).result.body, body);
      }
      const response = await deliver(fn, "rotating", documentedPayload, { "X-Hub-Signature-256": githubSignature("third", documentedPayload), "X-GitHub-Delivery": randomUUID() });
      await assertRejected(fn, "rotating", response, 401, "ERR_BAD_SIGNATURE");
    });
  });

  describe("standard webhooks (Svix)", () => {
    const fn = "standard-receiver";
    const secret = newStandardSecret();
    const payload = JSON.stringify({ type: "invoice.paid", timestamp: new Date().toISOString(), data: { id: "inv_1", total: 4200, note: "naïve façade" } });
    const msgId = `msg_${randomBytes(12).toString("hex")}`;
    let first: { eventId: string; jobId: string };

    before(async () => {
      await setSecret("STANDARD_WEBHOOK_SECRET", secret);
      await t.deploy(fn, receiver("webhook-signature"), { webhooks: [{ name: "standard", verify: { scheme: "standard", secret: "STANDARD_WEBHOOK_SECRET" } }] }, tenant);
    });

    test("the specification's test vector is reproduced by the documented algorithm; sent as is (2021) it is stale", async () => {
      const vector = { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", payload: '{"test": 2432232314}' };
      const signature = standardSignature(vector.secret, vector.id, vector.timestamp, vector.payload);
      assert.equal(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
      await setSecret("STANDARD_VECTOR_SECRET", vector.secret);
      await t.deploy("standard-vector", receiver("webhook-signature"), { webhooks: [{ name: "vector", verify: { scheme: "standard", secret: "STANDARD_VECTOR_SECRET" } }] }, tenant);
      const response = await deliver("standard-vector", "vector", vector.payload, { "webhook-id": vector.id, "webhook-timestamp": vector.timestamp, "webhook-signature": signature });
      await assertRejected("standard-vector", "vector", response, 401, "ERR_STALE_TIMESTAMP");
    });

    test("a delivery signed as the spec says is acknowledged with 202 and its job gets {headers, body, event}", async () => {
      const ts = nowSeconds();
      const signature = standardSignature(secret, msgId, ts, payload);
      first = assertAccepted(await deliver(fn, "standard", payload, { "webhook-id": msgId, "webhook-timestamp": String(ts), "webhook-signature": signature }));
      const done = await waitFor(first.jobId);
      assert.equal(done.status, "succeeded", JSON.stringify(done));
      assert.deepEqual(done.result, {
        keys: ["body", "event", "headers"],
        type: "invoice.paid",
        body: payload,
        bodyLength: payload.length,
        signatureHeader: signature,
        hasSignatureHeader: true,
      });
      assert.deepEqual(done.payload.event, JSON.parse(payload));
      assert.equal(done.payload.headers["webhook-id"], msgId);
      assert.equal((await event(first.eventId)).deliveryId, msgId);
    });

    test("a retry (same webhook-id, fresh timestamp and signature) returns the first eventId and jobId; one job exists", async () => {
      const ts = nowSeconds() + 2;
      const again = assertAccepted(await deliver(fn, "standard", payload, { "webhook-id": msgId, "webhook-timestamp": String(ts), "webhook-signature": standardSignature(secret, msgId, ts, payload) }));
      assert.deepEqual(again, first);
      assert.equal(total(await counts(fn)), 1);
    });

    test("several space-separated signatures where only one matches (a key rotation) are accepted", async () => {
      const id = `msg_${randomBytes(8).toString("hex")}`;
      const body = JSON.stringify({ type: "rotation.check" });
      const ts = nowSeconds();
      const header = [
        standardSignature(newStandardSecret(), id, ts, body),
        "v1a,c29tZXRoaW5nIGVsc2U=",
        standardSignature(secret, id, ts, body),
        standardSignature(newStandardSecret(), id, ts, body),
      ].join(" ");
      const accepted = assertAccepted(await deliver(fn, "standard", body, { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": header }));
      assert.equal((await waitFor(accepted.jobId)).result.type, "rotation.check");
    });

    test("Svix-style svix-id, svix-timestamp and svix-signature headers are accepted", async () => {
      const id = `msg_${randomBytes(8).toString("hex")}`;
      const body = JSON.stringify({ type: "user.created", data: { id: "user_1" } });
      const ts = nowSeconds();
      const accepted = assertAccepted(await deliver(fn, "standard", body, { "svix-id": id, "svix-timestamp": String(ts), "svix-signature": standardSignature(secret, id, ts, body) }));
      const done = await waitFor(accepted.jobId);
      assert.equal(done.result.type, "user.created");
      assert.equal(done.payload.headers["svix-id"], id);
      assert.equal((await event(accepted.eventId)).deliveryId, id);
    });

    test("a tampered body is refused with 401 ERR_BAD_SIGNATURE", async () => {
      const ts = nowSeconds();
      const signature = standardSignature(secret, msgId, ts, payload);
      const response = await deliver(fn, "standard", payload.replace("4200", "4201"), { "webhook-id": msgId, "webhook-timestamp": String(ts), "webhook-signature": signature });
      await assertRejected(fn, "standard", response, 401, "ERR_BAD_SIGNATURE", ["webhook-signature", signature]);
    });

    test("a signature over another id or another timestamp is refused with 401 (both are signed)", async () => {
      const ts = nowSeconds();
      const otherId = await deliver(fn, "standard", payload, { "webhook-id": "msg_other", "webhook-timestamp": String(ts), "webhook-signature": standardSignature(secret, msgId, ts, payload) });
      await assertRejected(fn, "standard", otherId, 401, "ERR_BAD_SIGNATURE");
      const otherTs = await deliver(fn, "standard", payload, { "webhook-id": msgId, "webhook-timestamp": String(ts - 1), "webhook-signature": standardSignature(secret, msgId, ts, payload) });
      await assertRejected(fn, "standard", otherTs, 401, "ERR_BAD_SIGNATURE");
    });

    test("a signature by another secret is refused with 401", async () => {
      const ts = nowSeconds();
      const response = await deliver(fn, "standard", payload, { "webhook-id": msgId, "webhook-timestamp": String(ts), "webhook-signature": standardSignature(newStandardSecret(), msgId, ts, payload) });
      await assertRejected(fn, "standard", response, 401, "ERR_BAD_SIGNATURE");
    });

    test("a correctly signed delivery 600 s old, or 600 s in the future, is refused with 401 ERR_STALE_TIMESTAMP", async () => {
      for (const ts of [nowSeconds() - 600, nowSeconds() + 600]) {
        const id = `msg_${randomBytes(8).toString("hex")}`;
        const response = await deliver(fn, "standard", payload, { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": standardSignature(secret, id, ts, payload) });
        await assertRejected(fn, "standard", response, 401, "ERR_STALE_TIMESTAMP");
      }
    });

    test("a delivery refused as stale does not block the provider's retry of the same webhook-id", async () => {
      const id = `msg_${randomBytes(8).toString("hex")}`;
      const body = JSON.stringify({ type: "retried.after.refusal" });
      const old = nowSeconds() - 900;
      await assertRejected(fn, "standard", await deliver(fn, "standard", body, { "webhook-id": id, "webhook-timestamp": String(old), "webhook-signature": standardSignature(secret, id, old, body) }), 401, "ERR_STALE_TIMESTAMP");
      const ts = nowSeconds();
      const accepted = assertAccepted(await deliver(fn, "standard", body, { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": standardSignature(secret, id, ts, body) }));
      assert.equal((await waitFor(accepted.jobId)).result.type, "retried.after.refusal");
    });

    test("a delivery without webhook-signature (or without webhook-id) is refused with 400", async () => {
      const ts = nowSeconds();
      await assertRejected(fn, "standard", await deliver(fn, "standard", payload, { "webhook-id": msgId, "webhook-timestamp": String(ts) }), 400, "ERR_BAD_REQUEST");
      await assertRejected(fn, "standard", await deliver(fn, "standard", payload, { "webhook-timestamp": String(ts), "webhook-signature": standardSignature(secret, msgId, ts, payload) }), 400, "ERR_BAD_REQUEST");
    });

    test("replaying the accepted event starts a second job with the same payload", async () => {
      const firstJob = await job(first.jobId);
      const replay = await t.api("POST", `/api/tenants/${tenant}/webhooks/events/${first.eventId}/replay`);
      assert.equal(replay.status, 202, JSON.stringify(replay.body));
      assert.equal(replay.body.eventId, first.eventId);
      assert.notEqual(replay.body.jobId, first.jobId);
      const second = await waitFor(replay.body.jobId);
      assert.deepEqual(second.payload, firstJob.payload);
      assert.deepEqual(second.result, firstJob.result);
    });
  });

  describe("hmac-sha256", () => {
    const fn = "hmac-receiver";
    const secret = "acme-" + randomBytes(12).toString("hex");
    const payload = JSON.stringify({ type: "order.shipped", order: { id: 991, items: ["ßtraße"] } });
    const deliveryId = `dlv-${randomBytes(6).toString("hex")}`;
    let first: { eventId: string; jobId: string };

    /** The sender's scheme: base64 HMAC-SHA256 over "<timestamp>.<body>", in X-Acme-Signature. */
    const signed = (body: string, ts: number, id: string, key = secret, prefix = ""): Record<string, string> => ({
      "X-Acme-Signature": prefix + hmacBase64(key, `${ts}.${body}`),
      "X-Acme-Timestamp": String(ts),
      "X-Acme-Delivery": id,
    });

    before(async () => {
      await setSecret("ACME_SIGNING_SECRET", secret);
      await t.deploy(fn, receiver("X-Acme-Signature"), {
        webhooks: [
          { name: "acme", verify: { scheme: "hmac-sha256", secret: "ACME_SIGNING_SECRET", header: "X-Acme-Signature", encoding: "base64", timestampHeader: "X-Acme-Timestamp", idHeader: "X-Acme-Delivery" } },
          // The bare form: hex over the body alone, no timestamp, no id header.
          { name: "plain", verify: { scheme: "hmac-sha256", secret: "ACME_SIGNING_SECRET", header: "X-Plain-Signature" } },
        ],
      }, tenant);
    });

    test("a delivery signed with base64 HMAC over \"<ts>.<body>\" is acknowledged with 202 and its job gets {headers, body, event}", async () => {
      const headers = signed(payload, nowSeconds(), deliveryId);
      first = assertAccepted(await deliver(fn, "acme", payload, headers));
      const done = await waitFor(first.jobId);
      assert.equal(done.status, "succeeded", JSON.stringify(done));
      assert.deepEqual(done.result, {
        keys: ["body", "event", "headers"],
        type: "order.shipped",
        body: payload,
        bodyLength: payload.length,
        signatureHeader: headers["X-Acme-Signature"],
        hasSignatureHeader: true,
      });
      assert.equal(done.payload.headers["x-acme-delivery"], deliveryId);
      assert.equal((await event(first.eventId)).deliveryId, deliveryId);
    });

    test("a redelivery with the same id header returns the first eventId and jobId; one job exists", async () => {
      const again = assertAccepted(await deliver(fn, "acme", payload, signed(payload, nowSeconds() + 1, deliveryId)));
      assert.deepEqual(again, first);
      assert.equal(total(await counts(fn)), 1);
    });

    test("a \"sha256=\" prefix on the signature is accepted", async () => {
      const body = JSON.stringify({ type: "order.prefixed" });
      const accepted = assertAccepted(await deliver(fn, "acme", body, signed(body, nowSeconds(), randomUUID(), secret, "sha256=")));
      assert.equal((await waitFor(accepted.jobId)).result.type, "order.prefixed");
    });

    test("a tampered body, or a signature over the body without the timestamp, is refused with 401 ERR_BAD_SIGNATURE", async () => {
      const headers = signed(payload, nowSeconds(), randomUUID());
      await assertRejected(fn, "acme", await deliver(fn, "acme", payload.replace("991", "992"), headers), 401, "ERR_BAD_SIGNATURE", ["x-acme-signature", headers["X-Acme-Signature"]]);
      const bodyOnly = { ...headers, "X-Acme-Signature": createHmac("sha256", secret).update(payload).digest("base64") };
      await assertRejected(fn, "acme", await deliver(fn, "acme", payload, bodyOnly), 401, "ERR_BAD_SIGNATURE");
    });

    test("a hex signature where base64 is configured, or another secret's, is refused with 401", async () => {
      const ts = nowSeconds();
      const hex = createHmac("sha256", secret).update(`${ts}.${payload}`).digest("hex");
      await assertRejected(fn, "acme", await deliver(fn, "acme", payload, { ...signed(payload, ts, randomUUID()), "X-Acme-Signature": hex }), 401, "ERR_BAD_SIGNATURE");
      await assertRejected(fn, "acme", await deliver(fn, "acme", payload, signed(payload, ts, randomUUID(), "another secret")), 401, "ERR_BAD_SIGNATURE");
    });

    test("a correctly signed delivery 600 s old is refused with 401 ERR_STALE_TIMESTAMP", async () => {
      await assertRejected(fn, "acme", await deliver(fn, "acme", payload, signed(payload, nowSeconds() - 600, randomUUID())), 401, "ERR_STALE_TIMESTAMP");
    });

    test("a missing signature, timestamp or id header is refused with 400", async () => {
      for (const missing of ["X-Acme-Signature", "X-Acme-Timestamp", "X-Acme-Delivery"]) {
        const headers = signed(payload, nowSeconds(), randomUUID());
        delete headers[missing];
        await assertRejected(fn, "acme", await deliver(fn, "acme", payload, headers), 400, "ERR_BAD_REQUEST");
      }
    });

    test("without an id header, the same signed message sent twice is one event and one job; a different one is another", async () => {
      const before = total(await counts(fn));
      const body = JSON.stringify({ type: "plain.ping", n: 1 });
      const signature = "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
      const a = assertAccepted(await deliver(fn, "plain", body, { "X-Plain-Signature": signature }));
      const b = assertAccepted(await deliver(fn, "plain", body, { "X-Plain-Signature": signature }));
      assert.deepEqual(b, a);
      const other = JSON.stringify({ type: "plain.ping", n: 2 });
      const c = assertAccepted(await deliver(fn, "plain", other, { "X-Plain-Signature": createHmac("sha256", secret).update(other).digest("hex") }));
      assert.notEqual(c.eventId, a.eventId);
      assert.equal(total(await counts(fn)), before + 2);
      assert.equal((await waitFor(c.jobId)).result.type, "plain.ping");
    });

    test("replaying the accepted event starts a second job with the same payload", async () => {
      const firstJob = await job(first.jobId);
      const replay = await t.api("POST", `/api/tenants/${tenant}/webhooks/events/${first.eventId}/replay`);
      assert.equal(replay.status, 202, JSON.stringify(replay.body));
      assert.notEqual(replay.body.jobId, first.jobId);
      const second = await waitFor(replay.body.jobId);
      assert.deepEqual(second.payload, firstJob.payload);
      assert.deepEqual(second.result, firstJob.result);
    });
  });

  describe("intake and the events API", () => {
    const fn = "intake-receiver";
    const secret = "intake " + randomBytes(8).toString("hex");

    before(async () => {
      await setSecret("INTAKE_SECRET", secret);
      await t.deploy(fn, receiver("X-Hub-Signature-256"), {
        webhooks: [
          { name: "gh", verify: { scheme: "github", secret: "INTAKE_SECRET" } },
          { name: "unset", verify: { scheme: "github", secret: "NEVER_SET_SECRET" } },
          { name: "flood", verify: { scheme: "github", secret: "INTAKE_SECRET" } },
        ],
      }, tenant);
    });

    const github = (body: string | Buffer, id = randomUUID()) => ({ "X-Hub-Signature-256": githubSignature(secret, body), "X-GitHub-Delivery": id });

    test("an unknown hook or function is 404 and records nothing", async () => {
      const before = (await events({ function: fn })).length;
      const body = "{}";
      const unknownHook = await deliver(fn, "nope", body, github(body));
      assert.equal(unknownHook.status, 404);
      assert.equal(unknownHook.body.error.code, "ERR_NOT_FOUND");
      const unknownFunction = await deliver("no-such-function", "gh", body, github(body));
      assert.equal(unknownFunction.status, 404);
      assert.equal(unknownFunction.body.error.code, "ERR_NOT_FOUND");
      const unknownTenant = await fetch(`${t.url}/hooks/t-no-such-tenant/${fn}/gh`, { method: "POST", body, headers: github(body) });
      assert.equal(unknownTenant.status, 404);
      assert.equal((await events({ function: fn })).length, before);
      assert.equal((await events({ hook: "nope" })).length, 0);
    });

    test("a hook whose tenant secret is not set refuses every delivery with 401, recorded", async () => {
      const body = "{}";
      await assertRejected(fn, "unset", await deliver(fn, "unset", body, github(body)), 401, "ERR_BAD_SIGNATURE");
    });

    test("a flood of forged deliveries is refused every time but stores at most 60 rejections a minute per hook", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 75; i++) statuses.push((await deliver(fn, "flood", "{}", { "X-Hub-Signature-256": "sha256=00", "X-GitHub-Delivery": randomUUID() })).status);
      assert.deepEqual([...new Set(statuses)], [401]);
      assert.equal((await events({ function: fn, hook: "flood", status: "rejected", limit: 500 })).length, 60);
      // Another hook's rejections are not held back by it, and genuine deliveries still pass.
      await assertRejected(fn, "unset", await deliver(fn, "unset", "{}", github("{}")), 401, "ERR_BAD_SIGNATURE");
      assert.equal((await deliver(fn, "flood", "{}", github("{}"))).status, 202);
    });

    test("a body over 1 MiB is refused with 413 ERR_BODY_TOO_LARGE and recorded; exactly 1 MiB is accepted", async () => {
      const oversized = Buffer.alloc(MiB + 1, "a");
      await assertRejected(fn, "gh", await deliver(fn, "gh", oversized, github(oversized)), 413, "ERR_BODY_TOO_LARGE");
      // Streamed without a Content-Length, counted as it arrives.
      const chunk = Buffer.alloc(64 * 1024, "b");
      const streamed = await fetch(hookUrl(fn, "gh"), {
        method: "POST",
        headers: { "X-Hub-Signature-256": "sha256=00", "X-GitHub-Delivery": randomUUID(), "X-Marker": "streamed" },
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < 17; i++) controller.enqueue(new Uint8Array(chunk));
            controller.close();
          },
        }),
        duplex: "half",
      } as RequestInit);
      await assertRejected(fn, "gh", { status: streamed.status, body: await streamed.json() }, 413, "ERR_BODY_TOO_LARGE", ["x-marker", "streamed"]);
      // A receiver that does not echo the body back (a job's result has its own 1 MiB limit).
      await t.deploy("big-receiver", `export default {
        job(payload) { return { bodyLength: payload.body.length, event: payload.event, last: payload.body.slice(-3) }; },
      }`, { webhooks: [{ name: "gh", verify: { scheme: "github", secret: "INTAKE_SECRET" } }] }, tenant);
      const limit = Buffer.alloc(MiB, "c");
      const accepted = assertAccepted(await deliver("big-receiver", "gh", limit, { ...github(limit), "content-type": "application/octet-stream" }));
      const done = await waitFor(accepted.jobId);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.deepEqual(done.result, { bodyLength: MiB, event: null, last: "ccc" });
    });

    test("replaying a rejected event is 409 ERR_CONFLICT and starts nothing; an unknown event is 404", async () => {
      const [rejected] = await events({ function: fn, status: "rejected", limit: 1 });
      assert.ok(rejected);
      const before = total(await counts(fn));
      const replay = await t.api("POST", `/api/tenants/${tenant}/webhooks/events/${rejected.id}/replay`);
      assert.equal(replay.status, 409, JSON.stringify(replay.body));
      assert.equal(replay.body.error.code, "ERR_CONFLICT");
      assert.equal(total(await counts(fn)), before);
      const unknown = await t.api("POST", `/api/tenants/${tenant}/webhooks/events/${randomUUID()}/replay`);
      assert.equal(unknown.status, 404);
      assert.equal((await t.api("GET", `/api/tenants/${tenant}/webhooks/events/${randomUUID()}`)).status, 404);
    });

    test("the events list filters by function, hook and status, pages with a cursor, and carries no bodies", async () => {
      const before = (await events({ function: fn, limit: 500 })).length;
      for (let i = 0; i < 3; i++) {
        const body = JSON.stringify({ page: i });
        assertAccepted(await deliver(fn, "gh", body, github(body)));
      }
      const all = await events({ function: fn, limit: 500 });
      assert.equal(all.length, before + 3);
      assert.ok(all.length >= 6, `${all.length} events: enough for two full pages of 3`);
      for (const item of all) {
        assert.equal(item.function, fn);
        assert.ok(!("body" in item) && !("headers" in item), JSON.stringify(item));
        if (item.status === "accepted") {
          assert.equal(typeof item.jobId, "string");
          assert.equal(typeof item.deliveryId, "string");
          assert.ok(!("reason" in item));
        } else {
          assert.equal(item.status, "rejected");
          assert.equal(typeof item.reason.code, "string");
        }
      }
      const times = all.map((item) => Date.parse(item.receivedAt));
      assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
      assert.ok((await events({ function: fn, hook: "unset" })).every((item) => item.hook === "unset" && item.status === "rejected"));
      assert.ok((await events({ function: fn, status: "accepted" })).every((item) => item.status === "accepted"));
      assert.ok((await events({ status: "rejected", limit: 500 })).some((item) => item.function === "stripe-receiver"), "the unfiltered list spans functions");
      // Paging: limit 3 with the cursor walks the same list, without overlaps or gaps.
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const qs = new URLSearchParams({ function: fn, limit: "3", ...(cursor ? { cursor } : {}) });
        const page = await t.api("GET", `/api/tenants/${tenant}/webhooks/events?${qs}`);
        assert.equal(page.status, 200);
        assert.ok(page.body.events.length <= 3);
        walked.push(...page.body.events.map((item: any) => item.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      assert.deepEqual(walked, all.map((item) => item.id));
      const bad = await t.api("GET", `/api/tenants/${tenant}/webhooks/events?status=maybe`);
      assert.equal(bad.status, 400);
    });

    test("GET /api/tenants/:tenant/webhooks lists every hook with its scheme, secret name and URL", async () => {
      const listed = await t.api("GET", `/api/tenants/${tenant}/webhooks`);
      assert.equal(listed.status, 200);
      const hooks = listed.body.webhooks as any[];
      const find = (f: string, h: string) => hooks.find((item) => item.function === f && item.hook === h);
      assert.deepEqual(find(fn, "gh"), { function: fn, hook: "gh", scheme: "github", secret: "INTAKE_SECRET", url: `${t.url}/hooks/${tenant}/${fn}/gh` });
      assert.deepEqual(find("stripe-receiver", "stripe"), { function: "stripe-receiver", hook: "stripe", scheme: "stripe", secret: "STRIPE_WEBHOOK_SECRET", url: `${t.url}/hooks/${tenant}/stripe-receiver/stripe` });
      assert.equal(find("hmac-receiver", "acme").scheme, "hmac-sha256");
      assert.equal(find("standard-receiver", "standard").scheme, "standard");
      // The listed URL is the one that works.
      const body = JSON.stringify({ via: "listed url" });
      const response = await fetch(find(fn, "gh").url, { method: "POST", body, headers: github(body) });
      assert.equal(response.status, 202);
      // No signing secret's value appears anywhere in the listing.
      assert.ok(!JSON.stringify(listed.body).includes(secret));
    });

    test("a tenant's key reaches its own webhooks and events, not another tenant's", async () => {
      assert.equal((await t.api("GET", `/api/tenants/${tenant}/webhooks/events`, undefined, apiKey)).status, 200);
      const other = await t.tenant();
      const [anEvent] = await events({ function: fn, limit: 1 });
      assert.equal((await t.api("GET", `/api/tenants/${tenant}/webhooks/events`, undefined, other.apiKey)).status, 403);
      assert.equal((await t.api("GET", `/api/tenants/${tenant}/webhooks`, undefined, other.apiKey)).status, 403);
      assert.equal((await t.api("POST", `/api/tenants/${tenant}/webhooks/events/${anEvent.id}/replay`, undefined, other.apiKey)).status, 403);
      assert.equal((await t.api("GET", `/api/tenants/${other.name}/webhooks/events/${anEvent.id}`, undefined, other.apiKey)).status, 404);
      const mine = await t.api("GET", `/api/tenants/${other.name}/webhooks/events`, undefined, other.apiKey);
      assert.deepEqual(mine.body.events, []);
      assert.equal((await t.api("GET", `/api/tenants/${tenant}/webhooks/events`, undefined, "not-a-key")).status, 401);
    });

    test("webhook: and cron: job keys are reserved, so a user's key cannot collide with a delivery's job", async () => {
      const id = randomUUID();
      const userJob = await t.api("POST", `/api/tenants/${tenant}/functions/${fn}/jobs`, { payload: { mine: true }, key: `webhook:gh:${id}` });
      assert.equal(userJob.status, 400);
      assert.match(userJob.body.error.message, /body\.key: keys starting with cron: or webhook: are reserved/);
      const body = JSON.stringify({ collide: true });
      const accepted = assertAccepted(await deliver(fn, "gh", body, github(body, id)));
      assert.equal((await waitFor(accepted.jobId)).payload.body, body);
    });

    test("the 202 does not wait for the sandbox: the job is still queued or running when it arrives, and finishes later", async () => {
      await t.deploy("slow-receiver", `export default {
        async job(payload) {
          await new Promise((resolve) => setTimeout(resolve, 3000));
          return { done: true, type: payload.event.type };
        },
      }`, { webhooks: [{ name: "gh", verify: { scheme: "github", secret: "INTAKE_SECRET" } }] }, tenant);
      const body = JSON.stringify({ type: "slow" });
      const accepted = assertAccepted(await deliver("slow-receiver", "gh", body, github(body)));
      const right = await job(accepted.jobId);
      assert.ok(["queued", "running"].includes(right.status), `status right after the 202: ${right.status}`);
      assert.ok(!("result" in right));
      const done = await waitFor(accepted.jobId);
      assert.equal(done.status, "succeeded", JSON.stringify(done));
      assert.deepEqual(done.result, { done: true, type: "slow" });
    });
  });
});
