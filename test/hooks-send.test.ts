// isobox hooks send: a test delivery signed exactly as each provider signs, with the tenant's
// stored secret, through the intake's own verification, with the real command.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startBox, type TestBox } from "./helpers/box.ts";
import { cli } from "./helpers/cli.ts";
import { waitForJob } from "./helpers/wait.ts";

const HANDLER = "export default { job(delivery) { return { event: delivery.event, signedBy: Object.keys(delivery.headers).filter((h) => /signature|delivery|webhook-id|x-my/.test(h)).sort() } } }";
const SECRETS = {
  STRIPE_SECRET: `whsec_${"s".repeat(32)}`,
  GITHUB_SECRET: "g".repeat(40),
  STANDARD_SECRET: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
  CUSTOM_SECRET: "c".repeat(40),
};

describe("isobox hooks send", () => {
  let t: TestBox;
  let tenant: string;
  let env: Record<string, string>;
  before(async () => {
    t = await startBox();
    ({ name: tenant } = await t.tenant());
    env = { ISOBOX_URL: t.url, ISOBOX_TOKEN: t.admin };
    for (const [name, value] of Object.entries(SECRETS)) assert.equal((await t.api("PUT", `/api/tenants/${tenant}/secrets/${name}`, { value })).status, 200);
    const webhooks = [
      { name: "stripe", verify: { scheme: "stripe", secret: "STRIPE_SECRET" } },
      { name: "github", verify: { scheme: "github", secret: "GITHUB_SECRET" } },
      { name: "standard", verify: { scheme: "standard", secret: "STANDARD_SECRET" } },
      { name: "custom", verify: { scheme: "hmac-sha256", secret: "CUSTOM_SECRET", header: "x-my-signature", encoding: "base64", timestampHeader: "x-my-time", idHeader: "x-my-delivery" } },
    ];
    await t.deploy("hooked", HANDLER, { secrets: Object.keys(SECRETS), webhooks }, tenant);
  });
  after(async () => { await t.close(); });

  for (const hook of ["stripe", "github", "standard", "custom"]) {
    test(`${hook}: signed as the provider signs, verified by the intake, its job run`, async () => {
      const payload = hook === "stripe" ? { id: "evt_from_cli", type: "charge.succeeded" } : { action: "opened", n: 1 };
      const sent = await cli(["hooks", "send", "hooked", hook, "--tenant", tenant, "--payload", JSON.stringify(payload), "--json"], env);
      assert.equal(sent.code, 0, sent.stderr);
      const { jobId } = JSON.parse(sent.stdout);
      const job = await waitForJob(t.api, tenant, jobId);
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      assert.deepEqual(job.result.event, payload);
      assert.ok(job.result.signedBy.length > 0);
    });
  }

  test("without --payload the provider's kind of test event is sent; a refusal is one line naming the fix", async () => {
    const sent = await cli(["hooks", "send", "hooked", "stripe", "--tenant", tenant], env);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^Delivered to hooked\/stripe, signed as its provider signs: 202, event \S+, job \S+\n$/);
    assert.equal((await t.api("DELETE", `/api/tenants/${tenant}/secrets/GITHUB_SECRET`)).status, 200);
    const refused = await cli(["hooks", "send", "hooked", "github", "--tenant", tenant], env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `isobox: ERR_CONFLICT: The secret GITHUB_SECRET of tenant ${tenant} holds no signing key for scheme github: set it with isobox secrets set GITHUB_SECRET\n`);
    const missing = await cli(["hooks", "send", "hooked", "nope", "--tenant", tenant], env);
    assert.match(missing.stderr, /ERR_NOT_FOUND: Function \S+\/hooked has no webhook nope/);
  });
});
