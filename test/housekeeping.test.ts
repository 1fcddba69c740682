// Housekeeping is every node's, whether or not it runs jobs: a node with ISOBOX_JOB_RUNNER=false
// still deletes runs, finished jobs and webhook deliveries past their retention, and console
// sessions idle past their expiry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createHmac } from "node:crypto";
import { rm } from "node:fs/promises";
import { sql } from "drizzle-orm";
import { startBox } from "./helpers/box.ts";
import { scratchDatabase } from "./helpers/postgres.ts";
import { eventually, waitForJob, waitForRuns } from "./helpers/wait.ts";

test("a node that runs no jobs prunes runs, finished jobs, webhook deliveries and idle console sessions", { timeout: 120_000 }, async () => {
  // Its own database: retention of 0 hours would prune the other suites' data on a shared one.
  const scratch = process.env.DATABASE_URL ? await scratchDatabase("housekeeping") : undefined;
  const databaseUrl = scratch?.url;
  const first = await startBox({ databaseUrl, consoleSessionIdleHours: 24 });
  const dataDir = first.dataDir;
  try {
    const { name } = await first.tenant();
    assert.equal((await first.api("PUT", `/api/tenants/${name}/secrets/HOOK_SECRET`, { value: "a-github-secret-long-enough" })).status, 200);
    await first.deploy("worker", `export default { async fetch() { return new Response("ok"); }, async job() { return "done"; } };`, {
      routes: { auth: "public" }, webhooks: [{ name: "gh", verify: { scheme: "github", secret: "HOOK_SECRET" } }],
    }, name);
    const job = (await first.api("POST", `/api/tenants/${name}/functions/worker/jobs`, { payload: {} })).body;
    await waitForJob(first.api, name, job.id);
    const body = JSON.stringify({ action: "opened" });
    const delivery = await fetch(`${first.url}/hooks/${name}/worker/gh`, {
      method: "POST", body,
      headers: { "x-github-delivery": "d-1", "x-hub-signature-256": `sha256=${createHmac("sha256", "a-github-secret-long-enough").update(body).digest("hex")}` },
    });
    assert.equal(delivery.status, 202);
    const { jobId: hookJob } = await delivery.json() as { jobId: string };
    await waitForJob(first.api, name, hookJob);
    await waitForRuns(first.api, name, "function=worker", (runs) => runs.length >= 2);
    // Everything happened ten days ago.
    await first.box.db.rows(sql`update jobs set finished_at = now() - interval '10 days', created_at = now() - interval '10 days'`);
    await first.box.db.rows(sql`update runs set started_at = now() - interval '10 days'`);
    await first.box.db.rows(sql`update webhook_events set received_at = now() - interval '10 days'`);
    const signIn = () => fetch(`${first.url}/console/session`, { method: "POST", headers: { "content-type": "application/json", origin: first.url }, body: JSON.stringify({ token: first.admin }) });
    assert.equal((await signIn()).status, 204);
    assert.equal((await signIn()).status, 204);
    await first.box.db.rows(sql`update console_sessions set last_seen_at = now() - interval '10 days' where id_hash = (select min(id_hash) from console_sessions)`);
    await first.close({ keepDataDir: true });

    const second = await startBox({ databaseUrl, dataDir, jobRunner: false, runRetentionHours: 24, jobRetentionHours: 24, consoleSessionIdleHours: 24 });
    try {
      await eventually("the old runs, jobs and deliveries to be gone", async () => {
        const [left] = await second.box.db.rows<{ runs: number; jobs: number; events: number; sessions: number }>(sql`
          select (select count(*)::int from runs) as runs, (select count(*)::int from jobs) as jobs, (select count(*)::int from webhook_events) as events,
            (select count(*)::int from console_sessions) as sessions`);
        return left.runs === 0 && left.jobs === 0 && left.events === 0 && left.sessions === 1;
      });
      assert.equal((await second.api("GET", `/api/tenants/${name}/jobs/${job.id}`)).status, 404);
    } finally {
      await second.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await scratch?.drop();
  }
});
