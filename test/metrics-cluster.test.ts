// GET /metrics of `isobox start` with several workers: whichever worker a scrape reaches, it reports
// the whole node's counters; a worker that does not answer delays the scrape by a second at most
// (less when it dies meanwhile), and the scrape says how many answered. The node runs on a Postgres
// database of its own in both suites (an embedded PGlite node has a single worker).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { get as httpGet } from "node:http";
import { startNode, type NodeProcess } from "./helpers/process.ts";
import { scratchDatabase, type ScratchDatabase } from "./helpers/postgres.ts";
import { histogramsOf, parseExposition, valueOf, type Family } from "./helpers/prometheus.ts";

const workers = 2;
const REQUESTS = 24;

interface Answer {
  status: number;
  text: string;
  ms: number;
}

/**
 * One GET on a connection of its own: the supervisor hands each new connection to the next free
 * worker, so successive calls reach every worker (fetch would keep one connection, one worker).
 */
function get(url: string, timeoutMs = 10_000): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, timeout: timeoutMs }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => { text += chunk; });
      response.on("end", () => resolve({ status: response.statusCode!, text, ms: performance.now() - started }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

interface Scrape {
  families: Map<string, Family>;
  /** From the note atop the exposition: workers that answered, workers the supervisor counts, the worker reached. */
  answered: number;
  of: number;
  via: number;
  ms: number;
}

async function scrape(node: NodeProcess, timeoutMs?: number): Promise<Scrape> {
  const { status, text, ms } = await get(`${node.url}/metrics`, timeoutMs);
  assert.equal(status, 200, text);
  const note = /^# isobox: (\d+) of (\d+) workers answered; this scrape reached worker (\d+)$/m.exec(text);
  assert.ok(note, "the exposition says which workers answered");
  const [answered, of, via] = note.slice(1).map(Number);
  const families = parseExposition(text);
  assert.equal(valueOf(families, "isobox_workers"), of);
  assert.equal(valueOf(families, "isobox_workers_reporting"), answered);
  return { families, answered, of, via, ms };
}

/** Scrapes until every worker serves (one still starting is not counted yet). */
async function untilServing(node: NodeProcess): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    if ((await scrape(node)).of === workers) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${workers} workers never served`);
}

describe("metrics of a node with several workers", () => {
  let node: NodeProcess;
  let database: ScratchDatabase;
  let tenant: string;
  const requests = (s: Scrape) => valueOf(s.families, "isobox_http_requests_total", { tenant, function: "hello", status: "2xx" }) ?? 0;

  before(async () => {
    database = await scratchDatabase("metrics_cluster");
    node = await startNode(["--workers", String(workers)], { DATABASE_URL: database.url });
    const api = (method: string, path: string, body: unknown) => fetch(`${node.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    tenant = `t-metrics-${process.pid}-${Date.now().toString(36)}`;
    assert.equal((await api("POST", "/api/tenants", { name: tenant })).status, 201);
    const code = `export default { fetch() { return new Response("hello") } }`;
    const deployed = await api("PUT", `/api/tenants/${tenant}/functions/hello`, { code, manifest: { routes: { auth: "public" } } });
    assert.equal(deployed.status, 201, await deployed.text());
    await untilServing(node);
    for (let i = 0; i < REQUESTS; i++) assert.equal((await get(`${node.url}/fn/${tenant}/hello`)).status, 200);
  });
  after(async () => {
    await node?.stop();
    await database?.drop();
  });

  test("every scrape counts every worker's requests, whichever worker it reaches", async () => {
    const reached = new Set<number>();
    for (let i = 0; i < 3 * workers; i++) {
      const s = await scrape(node);
      assert.deepEqual([s.answered, s.of], [workers, workers]);
      assert.equal(requests(s), REQUESTS, `scrape ${i} through worker ${s.via}`);
      const [hello] = histogramsOf(s.families, "isobox_http_request_duration_seconds").filter((h) => h.labels.tenant === tenant);
      assert.equal(hello.count, REQUESTS);
      assert.ok(valueOf(s.families, "process_resident_memory_bytes")! > workers * 10_000_000);
      reached.add(s.via);
    }
    assert.equal(reached.size, workers, "the scrapes reached every worker");
  });

  test("a worker that does not answer: the others' sum after the wait, then at once when it dies", async () => {
    const [victim] = node.workerPids();
    process.kill(victim, "SIGSTOP");
    try {
      // The frozen worker may be handed a scrape: it never answers, and takes no connection after
      // that one. Scrape until that happened and one came back.
      let stuck = false;
      const answered: Scrape[] = [];
      for (let attempt = 0; !stuck || answered.length === 0; attempt++) {
        assert.ok(attempt < 4, "a scrape came back, another got stuck");
        try {
          answered.push(await scrape(node, 4000));
        } catch {
          stuck = true;
        }
      }
      const [late] = answered;
      assert.deepEqual([late.answered, late.of], [1, 2]);
      assert.ok(late.ms >= 900 && late.ms < 3000, `answered after ${late.ms} ms`);
      const share = requests(late);
      assert.ok(share > 0 && share < REQUESTS, `the other worker served ${share} of ${REQUESTS}: both served some`);

      // The next scrape reaches the worker that runs; its wait for the frozen one ends when that dies.
      const pending = scrape(node);
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(victim, "SIGKILL");
      const early = await pending;
      assert.deepEqual([early.answered, early.of], [1, 2]);
      assert.ok(early.ms < 900, `answered ${early.ms} ms after it began, not after the full wait`);
      assert.equal(requests(early), share);

      // A dead worker's counts go with it (a counter reset, as rate() reads it); its replacement starts at 0.
      await untilServing(node);
      for (let i = 0; i < 2 * workers; i++) assert.equal(requests(await scrape(node)), share);
    } finally {
      try {
        process.kill(victim, "SIGCONT");
      } catch {
        // killed above
      }
    }
  });
});
