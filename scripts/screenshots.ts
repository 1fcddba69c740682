// The README's pictures of the console (docs/console-*.png): a node on a fresh embedded database,
// a function with durable steps and logs, one job run through, its function page and its run page
// photographed in headless Chromium. `npm run screenshots` writes them again.
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createIsobox } from "../src/index.ts";
import { launchBrowser } from "../test/helpers/browser.ts";

const docs = fileURLToPath(new URL("../docs/", import.meta.url));
const SOURCE = `// A research agent's background job: each step is durable, so a retry resumes after the last one.
export default {
  async fetch(request: Request, env: Record<string, string>, ctx: any) {
    const job = await ctx.enqueue(await request.json());
    return Response.json(job, { status: 202 });
  },

  async job(payload: { topic: string }, env: Record<string, string>, ctx: any) {
    const sources = await ctx.step.run("search", async () => {
      console.log("searching", payload.topic);
      return ["isolates.dev/intro", "v8.dev/blog/pointer-compression"];
    });
    const notes = await ctx.step.run("read-sources", async () => {
      await new Promise((resolve) => setTimeout(resolve, 120));
      console.log("read", sources.length, "sources");
      return sources.map((url) => \`notes from \${url}\`);
    });
    const summary = await ctx.step.run("summarize", async () => {
      await new Promise((resolve) => setTimeout(resolve, 60));
      return \`\${payload.topic}: \${notes.length} sources read\`;
    });
    console.warn("summary ready", { chars: summary.length });
    return { summary };
  },
};
`;

const dataDir = await mkdtemp(join(tmpdir(), "isobox-screenshots-"));
const box = await createIsobox({ dataDir, spareIsolates: 1 });
const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
  const s = serve({ fetch: box.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
});
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const token = box.adminToken.value!;
const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${url}/api${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return response.json() as Promise<any>;
};
const browser = await launchBrowser();
try {
  await api("PUT", "/tenants/default/functions/research-agent", { source: SOURCE, language: "ts", manifest: { jobs: { maxAttempts: 3 }, limits: { wallMs: 60000 } } });
  const job = await api("POST", "/tenants/default/functions/research-agent/jobs", { payload: { topic: "V8 isolates" } });
  let runId: string | undefined;
  for (let i = 0; i < 200 && !runId; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    runId = (await api("GET", `/tenants/default/runs?job=${job.id}`)).runs[0]?.id;
  }
  if (!runId) throw new Error("the job's run was not recorded");
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  await page.goto(`${url}/`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  await mkdir(docs, { recursive: true });

  await page.goto(`${url}/#/t/default/functions/research-agent`);
  await page.getByRole("textbox", { name: "Code" }).waitFor();
  const panel = page.getByRole("form", { name: "Test" });
  await panel.getByLabel("Method").selectOption("POST");
  await panel.getByLabel("Body").fill(`{"topic": "Durable steps"}`);
  await panel.getByRole("button", { name: "Send" }).click();
  await panel.getByText("Status 202").waitFor();
  await page.screenshot({ path: join(docs, "console-function.png"), fullPage: true });

  await page.goto(`${url}/#/t/default/runs/${runId}`);
  await page.getByRole("list", { name: "Steps" }).waitFor();
  await page.screenshot({ path: join(docs, "console-run.png"), fullPage: true });
  console.log("isobox: wrote docs/console-function.png and docs/console-run.png");
} finally {
  await browser.close();
  server.close();
  await box.close();
  await rm(dataDir, { recursive: true, force: true });
}
