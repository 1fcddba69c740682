// Live logs: `isobox logs <fn> --follow` and the API's server-sent events show a guest's log line
// as it is written, on the node that ran it or on another node sharing the database.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startBox, type TestBox } from "./helpers/box.ts";
import { cli } from "./helpers/cli.ts";
import { scratchDatabase } from "./helpers/postgres.ts";
import { eventually } from "./helpers/wait.ts";

const LOGGER = `export default { fetch(request) {
  const word = new URL(request.url).searchParams.get("say");
  console.log("said", word);
  console.warn("secret is", "sk-live-123456");
  return new Response("ok");
} }`;
const BIN = fileURLToPath(new URL("../bin/isobox.js", import.meta.url));

/**
 * Server-sent events of a response, read on demand: next(match) returns the first event `match`
 * accepts, or fails after `timeoutMs` (a read still pending then serves the next call).
 */
function events(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let reading: ReturnType<typeof reader.read> | undefined;
  return {
    async next(match: (data: any) => boolean, timeoutMs = 20_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const data = buffer.slice(0, end).split("\n").find((field) => field.startsWith("data:"))?.slice(5).trim();
          buffer = buffer.slice(end + 2);
          if (data && match(JSON.parse(data))) return JSON.parse(data);
        }
        reading ??= reader.read();
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now())); });
        const result = await Promise.race([reading, late]);
        clearTimeout(timer);
        if (!result) throw new Error(`no matching event within ${timeoutMs} ms`);
        reading = undefined;
        if (result.done) throw new Error("the stream ended");
        buffer += decoder.decode(result.value as Uint8Array, { stream: true });
      }
    },
  };
}

let t: TestBox;
let tenant: string;
before(async () => {
  t = await startBox();
  tenant = (await t.tenant()).name;
  await t.api("PUT", `/api/tenants/${tenant}/secrets/API_KEY`, { value: "sk-live-123456" });
  await t.deploy("chatty", LOGGER, { routes: { auth: "public" }, secrets: ["API_KEY"] }, tenant);
});
after(async () => { await t.close(); });

test("the API's event stream shows a line as the guest writes it, secrets redacted; without follow, the latest lines", async () => {
  const controller = new AbortController();
  const response = await fetch(`${t.url}/api/tenants/${tenant}/logs?function=chatty&follow=1&limit=0`, { headers: { authorization: `Bearer ${t.admin}` }, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
  const stream = events(response);
  // The follow is announced before the stream opens; the invocation comes after.
  assert.equal((await fetch(`${t.url}/fn/${tenant}/chatty?say=hello-live`)).status, 200);
  const line = await stream.next((data) => data.message === "said hello-live");
  assert.equal(line.level, "log");
  assert.equal(line.function, "chatty");
  const warned = await stream.next((data) => data.level === "warn");
  assert.equal(warned.message, "secret is [secret]");
  controller.abort();

  let logs: any[] = [];
  logs = await eventually("the line in the latest logs", async () => {
    const found = (await t.api("GET", `/api/tenants/${tenant}/logs?function=chatty`)).body.logs as any[];
    return found.some((l) => l.message === "said hello-live") && found;
  });
  const said = logs.findIndex((l) => l.message === "said hello-live");
  assert.ok(said >= 0);
  // Written one after the other (most often in the same millisecond): shown in that order.
  assert.equal(logs[said + 1]?.message, "secret is [secret]", JSON.stringify(logs));
  assert.equal((await t.api("GET", `/api/tenants/${tenant}/logs`)).status, 400);
});

test("isobox logs --follow prints a line written after it started; isobox logs prints the latest", async () => {
  const child = spawn(process.execPath, [BIN, "logs", "chatty", "--tenant", tenant, "--follow"], { env: { ...process.env, ISOBOX_URL: t.url, ISOBOX_TOKEN: t.admin } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  try {
    for (let i = 0; i < 100 && !stderr.includes("Following"); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(stderr, /Following chatty/);
    assert.equal((await fetch(`${t.url}/fn/${tenant}/chatty?say=from-the-cli`)).status, 200);
    for (let i = 0; i < 100 && !stdout.includes("said from-the-cli"); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(stdout, /log\s+\[[0-9a-f]{8}\] said from-the-cli/);
  } finally {
    child.kill();
  }
  let printed = "";
  for (let i = 0; i < 50 && !printed.includes("from-the-cli"); i++) {
    printed = (await cli(["logs", "chatty", "--tenant", tenant], { ISOBOX_URL: t.url, ISOBOX_TOKEN: t.admin })).stdout;
    if (!printed.includes("from-the-cli")) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.match(printed, /said from-the-cli/);
});

test("a follower on one node sees the lines of a function run on another node", async () => {
  const database = await scratchDatabase("logs");
  const databaseUrl = database.url;
  const a = await startBox({ databaseUrl });
  const b = await startBox({ databaseUrl, adminToken: a.admin });
  try {
    const url = await a.deploy("echo", LOGGER, { routes: { auth: "public" } }, "default");
    const controller = new AbortController();
    const response = await fetch(`${a.url}/api/tenants/default/logs?function=echo&follow=1`, { headers: { authorization: `Bearer ${a.admin}` }, signal: controller.signal });
    const stream = events(response);
    // Node b learns of the follower when the announcement reaches it: call until a line comes.
    let line: any;
    for (let i = 0; i < 20 && !line; i++) {
      assert.equal((await fetch(url.replace(a.url, b.url) + "?say=across-nodes")).status, 200);
      // Only a timeout means "not yet": a stream that ended fails the test.
      line = await stream.next((data) => data.message === "said across-nodes", 1000).catch((error: Error) => {
        if (!error.message.startsWith("no matching event")) throw error;
      });
    }
    assert.ok(line, "a line of node b reached the follower on node a");
    assert.equal(line.function, "echo");
    controller.abort();
  } finally {
    await a.close();
    await b.close();
    await database.drop();
  }
});
