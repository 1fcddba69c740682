// Cron schedules: fire times in a time zone across DST, missed and overlap policies, exactly one
// job per fire however many schedulers tick, the schedules API. Driven by a controllable clock;
// one test runs two real server processes on one Postgres for 25 seconds.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { FunctionRegistry } from "../src/functions/registry.ts";
import { Scheduler } from "../src/jobs/cron.ts";
import { deleteSchedules, replaceSchedules } from "../src/jobs/schedules.ts";
import type { ScheduleSpec } from "../src/functions/manifest.ts";
import { startBox, type TestBox } from "./helpers/box.ts";
import { startNode } from "./helpers/process.ts";
import { scratchDatabase } from "./helpers/postgres.ts";

const LIMITS = { memoryMb: 128, cpuMs: 50, wallMs: 30_000, jobWallMs: 900_000 };
const SCHEDULED = `export default { scheduled(event) { return event; }, job(payload) { return payload; } }`;

describe("schedules", () => {
  let t: TestBox;
  let tenant: string;
  before(async () => {
    // The node's own scheduler and runner stay off: the tests drive the clock and read the jobs.
    t = await startBox({ scheduler: false, jobRunner: false });
    tenant = (await t.tenant()).name;
  });
  after(async () => { await t.close(); });

  /** A fresh function with these schedules, placed as if deployed at `start`, and a scheduler on a fake clock. */
  async function scheduled(name: string, specs: ScheduleSpec[], start: Date) {
    await t.deploy(name, SCHEDULED, { schedules: specs }, tenant);
    // Placed again from `start` (a replace keeps an unchanged schedule's place, so clear it first).
    await deleteSchedules(t.box.db, tenant, name);
    await replaceSchedules(t.box.db, tenant, name, specs, start);
    const clock = { now: start };
    const registry = new FunctionRegistry(t.box.db, LIMITS);
    const scheduler = new Scheduler(t.box.db, registry, { now: () => clock.now, autoTick: false });
    return { clock, scheduler, registry };
  }

  /** The scheduled times of the function's cron jobs, in order. */
  async function fired(name: string): Promise<string[]> {
    return (await payloads(name)).map((event) => new Date(event.scheduledTime).toISOString()).sort();
  }

  /** The events the function's jobs were given. */
  async function payloads(name: string): Promise<any[]> {
    const { body } = await t.api("GET", `/api/tenants/${tenant}/jobs?function=${name}&limit=500`);
    return Promise.all(body.jobs.map(async (job: any) => (await t.api("GET", `/api/tenants/${tenant}/jobs/${job.id}`)).body.payload));
  }

  /** Moves the fake clock in steps, ticking at each. */
  async function run(scheduler: Scheduler, clock: { now: Date }, until: Date, stepMs: number): Promise<void> {
    while (clock.now < until) {
      clock.now = new Date(Math.min(clock.now.getTime() + stepMs, until.getTime()));
      await scheduler.tick();
    }
  }

  test("America/New_York fires at the right UTC instants across the spring and autumn DST changes", async () => {
    const spring = await scheduled("dst-spring", [{ cron: "30 1 * * *", timezone: "America/New_York", overlap: "allow" }, { name: "two", cron: "0 2 * * *", timezone: "America/New_York", overlap: "allow" }], new Date("2026-03-06T12:00:00Z"));
    await run(spring.scheduler, spring.clock, new Date("2026-03-10T12:00:00Z"), 15 * 60_000);
    const times = await payloads("dst-spring");
    const at = (cron: string) => times.filter((p) => p.cron === cron).map((p) => new Date(p.scheduledTime).toISOString()).sort();
    // 01:30 EST is 06:30Z; from March 8 it is EDT, 05:30Z.
    assert.deepEqual(at("30 1 * * *"), ["2026-03-07T06:30:00.000Z", "2026-03-08T06:30:00.000Z", "2026-03-09T05:30:00.000Z", "2026-03-10T05:30:00.000Z"]);
    // 02:00 does not exist on March 8 (clocks jump 02:00 → 03:00): it fires at 03:00 EDT, once.
    assert.deepEqual(at("0 2 * * *"), ["2026-03-07T07:00:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-09T06:00:00.000Z", "2026-03-10T06:00:00.000Z"]);

    const autumn = await scheduled("dst-autumn", [{ cron: "30 1 * * *", timezone: "America/New_York", overlap: "allow" }], new Date("2026-10-30T12:00:00Z"));
    await run(autumn.scheduler, autumn.clock, new Date("2026-11-02T12:00:00Z"), 10 * 60_000);
    // 01:30 happens twice on November 1 (EDT, then EST): it fires once, at the first.
    assert.deepEqual(await fired("dst-autumn"), ["2026-10-31T05:30:00.000Z", "2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
  });

  test("missed fires: skip drops them, once runs the latest, all runs each (recent fires always run)", async () => {
    const start = new Date("2026-05-01T00:00:30Z");
    const late = new Date("2026-05-01T05:30:00Z");
    for (const missed of ["skip", "once", "all"] as const) {
      const { clock, scheduler } = await scheduled(`missed-${missed}`, [{ cron: "0 * * * *", missed, overlap: "allow" }], start);
      clock.now = late;
      await scheduler.tick();
      const times = await fired(`missed-${missed}`);
      const expected = { skip: [], once: ["2026-05-01T05:00:00.000Z"], all: [1, 2, 3, 4, 5].map((h) => `2026-05-01T0${h}:00:00.000Z`) }[missed];
      assert.deepEqual(times, expected, missed);
      // The schedule goes on from the next hour.
      const listed = (await t.api("GET", `/api/tenants/${tenant}/schedules`)).body.schedules.find((s: any) => s.function === `missed-${missed}`);
      assert.equal(listed.nextRuns[0], "2026-05-01T06:00:00.000Z");
    }
    // A tick that comes late by seconds is not "missed": both due seconds run.
    const { clock, scheduler } = await scheduled("late-tick", [{ cron: "* * * * * *", overlap: "allow" }], new Date("2026-05-01T00:00:00.200Z"));
    clock.now = new Date("2026-05-01T00:00:03.100Z");
    await scheduler.tick();
    assert.deepEqual(await fired("late-tick"), ["2026-05-01T00:00:01.000Z", "2026-05-01T00:00:02.000Z", "2026-05-01T00:00:03.000Z"]);
  });

  test("overlap skip: no fire while the previous fire's job is still queued; allow fires each time", async () => {
    const start = new Date("2026-06-01T00:00:00.500Z");
    for (const overlap of ["skip", "allow"] as const) {
      const { clock, scheduler } = await scheduled(`overlap-${overlap}`, [{ cron: "* * * * * *", overlap }], start);
      await run(scheduler, clock, new Date("2026-06-01T00:00:05.500Z"), 1000);
      assert.equal((await fired(`overlap-${overlap}`)).length, overlap === "skip" ? 1 : 5, overlap);
    }
  });

  test("two schedulers ticking the same instants on one database make exactly one job per fire", async () => {
    const start = new Date("2026-07-01T00:00:00.500Z");
    const a = await scheduled("twins", [{ cron: "* * * * * *", overlap: "allow" }], start);
    const b = new Scheduler(t.box.db, a.registry, { now: () => a.clock.now, autoTick: false });
    for (let i = 1; i <= 60; i++) {
      a.clock.now = new Date(start.getTime() + i * 1000);
      await Promise.all([a.scheduler.tick(), b.tick()]);
    }
    const times = await fired("twins");
    assert.equal(times.length, 60);
    assert.deepEqual(times, Array.from({ length: 60 }, (_, i) => new Date(Date.parse("2026-07-01T00:00:01Z") + i * 1000).toISOString()));
  });

  test("the schedules API: next fires, trigger now, pause and resume; redeploy replaces, delete removes", async () => {
    const manifest = { schedules: [{ name: "hourly", cron: "0 * * * *", payload: { report: "daily" } }, { cron: "0 9 * * 1-5", timezone: "Europe/Berlin" }] };
    await t.deploy("reports", SCHEDULED, manifest, tenant);
    const list = async () => (await t.api("GET", `/api/tenants/${tenant}/schedules`)).body.schedules.filter((s: any) => s.function === "reports");
    const [weekday, hourly] = (await list()).sort((x: any, y: any) => x.name.localeCompare(y.name));
    assert.equal(hourly.id, "reports.hourly");
    assert.equal(weekday.id, "reports.1");
    assert.equal(weekday.timezone, "Europe/Berlin");
    assert.equal(hourly.nextRuns.length, 5);
    assert.ok(hourly.nextRuns.every((at: string) => at.endsWith(":00:00.000Z")));
    assert.equal(hourly.lastRun, null);

    const triggered = await t.api("POST", `/api/tenants/${tenant}/schedules/reports.hourly/trigger`);
    assert.equal(triggered.status, 202);
    const job = (await t.api("GET", `/api/tenants/${tenant}/jobs/${triggered.body.jobId}`)).body;
    assert.equal(job.trigger, "cron");
    assert.equal(job.payload.cron, "0 * * * *");
    assert.deepEqual(job.payload.payload, { report: "daily" });

    const paused = await t.api("POST", `/api/tenants/${tenant}/schedules/reports.hourly/pause`);
    assert.equal(paused.body.paused, true);
    assert.deepEqual(paused.body.nextRuns, []);
    const resumed = await t.api("POST", `/api/tenants/${tenant}/schedules/reports.hourly/resume`);
    assert.equal(resumed.body.paused, false);
    assert.equal(resumed.body.nextRuns.length, 5);
    assert.equal((await t.api("POST", `/api/tenants/${tenant}/schedules/reports.nope/pause`)).status, 404);

    await t.deploy("reports", SCHEDULED, { schedules: [{ name: "hourly", cron: "30 * * * *" }] }, tenant);
    const replaced = await list();
    assert.deepEqual(replaced.map((s: any) => [s.id, s.cron]), [["reports.hourly", "30 * * * *"]]);
    assert.ok(replaced[0].nextRuns[0].endsWith(":30:00.000Z"));
    assert.equal((await t.api("DELETE", `/api/tenants/${tenant}/functions/reports`)).status, 200);
    assert.deepEqual(await list(), []);
  });

  test("a bad expression, zone or duplicate name is refused at deploy with a 400 naming it", async () => {
    const cases: [unknown, string][] = [
      [[{ cron: "61 * * * *" }], "manifest.schedules.0.cron"],
      [[{ cron: "* * * * *" }, { cron: "every day" }], "manifest.schedules.1.cron"],
      [[{ cron: "0 9 * * *", timezone: "Europe/Atlantis" }], "manifest.schedules.0.timezone"],
      [[{ name: "a", cron: "* * * * *" }, { name: "a", cron: "0 * * * *" }], "manifest.schedules"],
      [[{ cron: "* * * * *", missed: "sometimes" }], "manifest.schedules.0.missed"],
    ];
    for (const [schedules, field] of cases) {
      const response = await t.api("PUT", `/api/tenants/${tenant}/functions/bad-cron`, { code: SCHEDULED, manifest: { schedules } });
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.error.code, "ERR_INVALID_MANIFEST");
      assert.equal(response.body.error.field, field, JSON.stringify(response.body));
    }
  });
});

/** How long two nodes share the per-second schedule: long enough for both to tick many times. */
const WINDOW_S = 25;

test("two server processes on one Postgres: a per-second schedule runs once a second for 25 seconds, none missing, none doubled", { timeout: 180_000 }, async () => {
  const database = await scratchDatabase("cron");
  const env = { DATABASE_URL: database.url, ISOBOX_WORKERS: "1" };
  const first = await startNode([], env);
  const second = await startNode([], env);
  try {
    const deployed = await fetch(`${first.url}/api/tenants/default/functions/ticker`, {
      method: "PUT",
      headers: { authorization: `Bearer ${first.token}`, "content-type": "application/json" },
      body: JSON.stringify({ code: SCHEDULED, manifest: { schedules: [{ cron: "*/1 * * * * *", overlap: "allow" }] } }),
    });
    assert.equal(deployed.status, 201, await deployed.text());
    await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1000 + 2000));
    const db = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      const rows = await db<{ at: string; status: string; n: number }[]>`
        select (payload->>'scheduledTime')::bigint as at, status from isobox.jobs where function = 'ticker' and trigger = 'cron' order by 1`;
      const times = rows.map((row) => Number(row.at));
      // The first and last seconds may be cut by the deploy and the end of the window.
      const inner = times.slice(1, -1);
      assert.ok(inner.length >= WINDOW_S - 5, `${inner.length} fires in ${WINDOW_S} s`);
      for (let i = 1; i < inner.length; i++) assert.equal(inner[i] - inner[i - 1], 1000, `one fire per second at ${new Date(inner[i]).toISOString()}`);
      assert.equal(new Set(times).size, times.length, "no fire doubled");
      const finished = rows.slice(0, -3);
      assert.ok(finished.every((row) => row.status === "succeeded"), JSON.stringify(finished.filter((row) => row.status !== "succeeded")));
    } finally {
      await db.end();
    }
  } finally {
    await first.stop();
    await second.stop();
    await database.drop();
  }
});
