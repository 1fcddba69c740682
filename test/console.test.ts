// The console in a real browser (headless Chromium), used as a person uses it: found by role and
// by label, never by CSS class. One node, one browser; each test signs in where it needs to.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { consoleFiles } from "../src/console/assets.ts";
import { startBox, type TestBox } from "./helpers/box.ts";
import { launchBrowser } from "./helpers/browser.ts";
import { eventually, waitForJob, waitForRuns } from "./helpers/wait.ts";

const WAIT_MS = 15_000;

describe("console in a browser", () => {
  let t: TestBox;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  /** What the pages reported that a person would not want: script errors, CSP violations. */
  const problems: string[] = [];

  const watch = (p: Page) => {
    p.setDefaultTimeout(WAIT_MS);
    p.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    p.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
    });
    return p;
  };

  const signIn = async (p: Page, token: string) => {
    await p.goto(`${t.url}/`);
    await p.getByLabel("Token").fill(token);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("button", { name: "Sign out" }).waitFor();
  };

  /** Replaces an editor's text the way a person would: select all, type over it. */
  const setEditor = async (p: Page, label: string, text: string) => {
    const editor = p.getByRole("textbox", { name: label });
    await editor.click();
    await p.keyboard.press("ControlOrMeta+a");
    await p.keyboard.press("Delete");
    await p.keyboard.insertText(text);
  };

  const openFunction = async (name: string) => {
    await page.goto(`${t.url}/#/t/default/functions/${name}`);
    await page.getByRole("textbox", { name: "Code" }).waitFor();
  };

  before(async () => {
    t = await startBox();
    browser = await launchBrowser();
    admin = await browser.newContext();
    page = watch(await admin.newPage());
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    assert.deepEqual(problems, [], "no script errors and no CSP violations on any page");
  });

  test("sign in: a wrong token is refused, the admin token opens the console (time to interactive reported)", async () => {
    await consoleFiles();
    const started = performance.now();
    await page.goto(`${t.url}/`);
    await page.getByLabel("Token").waitFor();
    const interactiveMs = performance.now() - started;
    const inPage = await page.evaluate(() => performance.now());
    const files = await consoleFiles();
    const gz = [...files.assets.values()].reduce((sum, asset) => sum + asset.gzip.byteLength, 0);
    const first = [...files.assets.entries()].filter(([name]) => name.startsWith("main-")).reduce((sum, [, asset]) => sum + asset.gzip.byteLength, 0);
    console.log(`# console: first view interactive after ${interactiveMs.toFixed(0)} ms (page clock ${inPage.toFixed(0)} ms); JavaScript and CSS ${(gz / 1024).toFixed(1)} KiB gzipped in all, ${(first / 1024).toFixed(1)} KiB before the editor loads`);

    await page.getByLabel("Token").fill("isa_not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "not valid" }).waitFor();
    await page.getByLabel("Token").fill(t.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Functions" }).waitFor();
    for (const link of ["Functions", "Runs", "Jobs", "Schedules", "Webhooks", "Secrets", "Logs", "Tenants"]) {
      assert.ok(await page.getByRole("navigation").getByRole("link", { name: link, exact: true }).isVisible(), link);
    }
    assert.equal(await page.getByLabel("Tenant").inputValue(), "default");
    // The view is in the URL: a reload stays on it.
    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.reload();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
  });

  /** New function from a template, as a person does it; resolves on its function page. */
  async function createFromTemplate(name: string, template: string): Promise<void> {
    await page.goto(`${t.url}/#/t/default/functions`);
    const form = page.getByRole("form", { name: "New function" });
    await form.getByLabel("Name").fill(name);
    await form.getByLabel("Template").selectOption({ label: template });
    await form.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { name: new RegExp(name) }).waitFor();
  }

  test("create from a template, edit and deploy: version 2 serves; roll back to version 1", async () => {
    await createFromTemplate("greeter", "HTTP tool");
    const code = page.getByRole("textbox", { name: "Code" });
    await code.waitFor();
    assert.match(await code.innerText(), /An HTTP tool/);
    assert.match(await page.getByRole("textbox", { name: "Manifest" }).innerText(), /"auth": "key"/);

    await setEditor(page, "Code", `export default {\n  fetch(request: Request): Response {\n    return new Response("version two");\n  },\n};\n`);
    await setEditor(page, "Manifest", `{ "routes": { "auth": "public" } }`);
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.getByRole("status").filter({ hasText: "Deployed v2" }).waitFor();
    assert.equal(await (await fetch(`${t.url}/fn/default/greeter`)).text(), "version two");

    await page.getByRole("button", { name: "Rollback to v1" }).click();
    await page.getByRole("heading", { name: "greeter v1" }).waitFor();
    assert.equal((await fetch(`${t.url}/fn/default/greeter`)).status, 401, "v1's manifest asks for a key again");
    await page.getByRole("button", { name: "Rollback to v2" }).click();
    await page.getByRole("heading", { name: "greeter v2" }).waitFor();
  });

  test("an MCP tool from its template: the tenant's MCP URL and tool list, and the tool called from its form", async () => {
    await createFromTemplate("word-count", "MCP tool");
    const tool = page.getByRole("form", { name: "Tool" });
    await tool.getByLabel(/text/).fill("one two three");
    await tool.getByRole("button", { name: "Call tool" }).click();
    const result = tool.getByLabel("Tool result text");
    await result.waitFor();
    assert.deepEqual(JSON.parse(await result.innerText()), { words: 3, characters: 13 });
    await tool.getByRole("link", { name: "Open the run" }).click();
    await page.getByText("counted 3 words").waitFor();

    await page.goto(`${t.url}/#/t/default/functions`);
    const mcp = page.getByRole("region", { name: "MCP server" });
    await mcp.getByText(`${t.url}/mcp/default`, { exact: true }).waitFor();
    assert.ok(await mcp.getByRole("list", { name: "Tools" }).getByRole("link", { name: "word-count" }).isVisible());
  });

  test("a syntax error is marked at its line and nothing is deployed; so is a bad manifest field", async () => {
    await openFunction("greeter");
    await setEditor(page, "Code", `export default {\n  fetch() {\n    return new Response("x";\n  },\n};\n`);
    await page.getByRole("button", { name: "Deploy" }).click();
    const alert = page.getByRole("alert").filter({ hasText: "Not deployed" });
    await alert.waitFor();
    assert.match(await alert.innerText(), /ERR_COMPILE: greeter\.ts: .* at line 3/);
    // The editor marks the place (CodeMirror's error range, the one thing found by its class): line 3.
    const marked = page.getByRole("textbox", { name: "Code" }).locator(".cm-line", { has: page.locator(".cm-lintRange-error") });
    assert.equal(await marked.innerText(), `    return new Response("x";`);
    assert.equal((await t.api("GET", "/api/tenants/default/functions/greeter")).body.latestVersion, 2, "no version 3");

    await setEditor(page, "Code", `export default { fetch() { return new Response("ok") } };\n`);
    await setEditor(page, "Manifest", `{\n  "routes": { "auth": "public" },\n  "schedules": [{ "cron": "not a cron" }]\n}`);
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.getByRole("alert").filter({ hasText: "ERR_INVALID_MANIFEST" }).waitFor();
    const field = page.getByRole("textbox", { name: "Manifest" }).locator(".cm-lintRange-error");
    assert.match(await field.innerText(), /"cron": "not a cron"/, "the manifest's field is marked");
    assert.equal((await t.api("GET", "/api/tenants/default/functions/greeter")).body.latestVersion, 2);
  });

  test("send a test request, see the answer, open its run with its logs", async () => {
    await t.api("PUT", "/api/tenants/default/functions/weather", {
      source: `export default { async fetch(request: Request) { const { city } = await request.json(); console.log("looking up", city); return Response.json({ city, sky: "clear" }); } };`,
      language: "ts",
    });
    await openFunction("weather");
    const panel = page.getByRole("form", { name: "Test" });
    await panel.getByLabel("Method").selectOption("POST");
    await panel.getByLabel("Path").fill("/forecast");
    await panel.getByLabel("Headers").fill("content-type: application/json");
    await panel.getByLabel("Body").fill(`{"city":"Lisbon"}`);
    await panel.getByRole("button", { name: "Send" }).click();
    await panel.getByText("Status 200").waitFor();
    assert.deepEqual(JSON.parse(await panel.getByLabel("Response body").innerText()), { city: "Lisbon", sky: "clear" });
    await panel.getByRole("link", { name: "Open the run" }).click();
    await page.getByRole("heading", { name: /Run of weather/ }).waitFor();
    const logs = page.getByRole("table", { name: "Logs" });
    await logs.getByText("looking up Lisbon").waitFor();
    assert.ok(await page.getByText("HTTP status").isVisible());
  });

  test("a job with steps: enqueue it, follow its attempt's run on the timeline", async () => {
    await page.goto(`${t.url}/#/t/default/functions`);
    const form = page.getByRole("form", { name: "New function" });
    await form.getByLabel("Name").fill("researcher");
    await form.getByLabel("Template").selectOption({ label: "Background job with steps" });
    await form.getByRole("button", { name: "Create" }).click();
    await page.getByRole("button", { name: "Enqueue" }).waitFor();
    await page.getByLabel("Payload").fill(`{"topic":"isolates"}`);
    await page.getByRole("button", { name: "Enqueue" }).click();
    await page.getByRole("heading", { name: /Job of researcher/ }).waitFor();
    const jobId = page.url().split("/").pop()!;
    await waitForJob(t.api, "default", jobId);
    await waitForRuns(t.api, "default", `job=${jobId}`);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("table", { name: "Steps" }).getByText("summarize").waitFor();
    await page.getByRole("table", { name: "Steps" }).getByText(/isolates run untrusted code/).first().waitFor();
    await page.getByRole("heading", { name: "Result" }).waitFor();
    // The attempt's run: its steps as a timeline, its logs.
    await page.getByRole("heading", { name: "Attempts" }).locator("..").getByRole("link").first().click();
    await page.getByRole("heading", { name: /Run of researcher/ }).waitFor();
    const steps = page.getByRole("list", { name: "Steps" });
    await steps.getByText("research", { exact: true }).waitFor();
    await steps.getByText("summarize", { exact: true }).waitFor();
    await page.getByRole("table", { name: "Logs" }).getByText("researching isolates").waitFor();
  });

  test("a hostile log line, error and response body are shown as text; no script runs", async () => {
    const hostile = `<img src=x onerror="window.__pwned='img'"><script>window.__pwned='script'</script>`;
    await t.api("PUT", "/api/tenants/default/functions/hostile", {
      code: `export default { fetch() { console.log(${JSON.stringify(hostile)}); throw new Error(${JSON.stringify(hostile)}); } }`,
    });
    const failed = await t.api("POST", "/api/tenants/default/functions/hostile/invoke", {});
    const runId = failed.body.error.runId;
    await page.goto(`${t.url}/#/t/default/runs/${runId}`);
    await page.getByRole("heading", { name: /Run of hostile/ }).waitFor();
    await page.getByRole("table", { name: "Logs" }).getByText(hostile).waitFor();
    await page.getByRole("alert").filter({ hasText: hostile }).waitFor();
    assert.equal(await page.evaluate("window.__pwned"), undefined);
    assert.equal(await page.locator("main img").count(), 0, "no element was made from the text");
    assert.equal(await page.locator("main script").count(), 0);

    await t.api("PUT", "/api/tenants/default/functions/hostile-body", { code: `export default { fetch() { return new Response(${JSON.stringify(hostile)}, { headers: { "content-type": "text/html" } }) } }` });
    await openFunction("hostile-body");
    await page.getByRole("form", { name: "Test" }).getByRole("button", { name: "Send" }).click();
    await page.getByLabel("Response body").getByText(hostile).waitFor();
    assert.equal(await page.evaluate("window.__pwned"), undefined);
  });

  test("a failed job is retried from its page", async () => {
    await t.api("PUT", "/api/tenants/default/functions/flaky", { code: `export default { job() { throw new Error("always fails") } }`, manifest: { jobs: { maxAttempts: 1 } } });
    const job = (await t.api("POST", "/api/tenants/default/functions/flaky/jobs", { payload: { n: 1 } })).body;
    await waitForJob(t.api, "default", job.id);
    await page.goto(`${t.url}/#/t/default/jobs?status=failed`);
    await page.getByRole("link", { name: job.id.slice(0, 8) }).click();
    await page.getByRole("alert").filter({ hasText: "always fails" }).waitFor();
    await page.getByRole("button", { name: "Retry" }).click();
    // The retry runs the job again from its first attempt: a second run of it, failed again.
    await eventually("the retried job's second run", async () => {
      const runs = (await t.api("GET", `/api/tenants/default/runs?job=${job.id}`)).body.runs;
      return runs.length === 2 && (await t.api("GET", `/api/tenants/default/jobs/${job.id}`)).body.status === "failed";
    });
    // Run again with an edited payload: a new job of the same function.
    await page.getByLabel("Payload").fill(`{"n": 2}`);
    await page.getByRole("button", { name: "Run again with edited payload" }).click();
    await page.waitForURL((url) => url.hash.includes("/jobs/") && !url.hash.endsWith(job.id));
    const again = (await t.api("GET", `/api/tenants/default/jobs/${page.url().split("/").pop()}`)).body;
    assert.deepEqual(again.payload, { n: 2 });
  });

  test("a secret is set through a password field and listed without its value", async () => {
    const value = "sk-live-do-not-show-0123456789";
    await page.goto(`${t.url}/#/t/default/secrets`);
    const form = page.getByRole("form", { name: "Set a secret" });
    await form.getByLabel("Name").fill("MODEL_API_KEY");
    assert.equal(await form.getByLabel("Value").getAttribute("type"), "password");
    await form.getByLabel("Value").fill(value);
    await form.getByRole("button", { name: "Set" }).click();
    await page.getByRole("cell", { name: "MODEL_API_KEY", exact: true }).waitFor();
    assert.equal(await form.getByLabel("Value").inputValue(), "", "the field is emptied");
    assert.ok(!(await page.content()).includes(value), "the value is nowhere in the page");
    await page.reload();
    await page.getByRole("cell", { name: "MODEL_API_KEY", exact: true }).waitFor();
    assert.ok(!(await page.content()).includes(value));
  });

  test("the live log tail shows a line as a function writes it", async () => {
    await t.api("PUT", "/api/tenants/default/functions/chatty", { code: `export default { fetch(r) { console.log("tail me", new URL(r.url).searchParams.get("n")); return new Response("ok") } }`, manifest: { routes: { auth: "public" } } });
    await page.goto(`${t.url}/#/t/default/logs?function=chatty`);
    await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
    await fetch(`${t.url}/fn/default/chatty?n=41`);
    await page.getByRole("table", { name: "Log lines" }).getByText("tail me 41").waitFor();
    await page.getByRole("searchbox", { name: "Search" }).fill("nothing like it");
    await page.getByText("No lines yet.").waitFor();
  });

  test("a tenant's key sees only its own tenant; sign out ends the session", async () => {
    const mine = await t.tenant();
    const theirs = await t.tenant();
    await t.deploy("private-fn", `export default { fetch() { return new Response("x") } }`, undefined, theirs.name);
    await t.deploy("my-fn", `export default { fetch() { return new Response("x") } }`, undefined, mine.name);
    const context = await browser.newContext();
    const own = watch(await context.newPage());
    try {
      await signIn(own, mine.apiKey);
      await own.getByRole("link", { name: "my-fn" }).waitFor();
      assert.equal(await own.getByRole("link", { name: "Tenants", exact: true }).count(), 0);
      assert.deepEqual(await own.getByLabel("Tenant").locator("option").allTextContents(), [mine.name]);
      await own.goto(`${t.url}/#/t/${theirs.name}/functions`);
      await own.getByRole("alert").filter({ hasText: "ERR_FORBIDDEN" }).waitFor();
      assert.equal(await own.getByText("private-fn").count(), 0);
      await own.goto(`${t.url}/#/t/${theirs.name}/runs`);
      await own.getByRole("alert").filter({ hasText: "ERR_FORBIDDEN" }).waitFor();

      await own.getByRole("button", { name: "Sign out" }).click();
      await own.getByLabel("Token").waitFor();
      const cookies = await context.cookies();
      assert.equal(cookies.filter((c) => c.name === "isobox_session").length, 0, "the cookie is gone");
      await own.goto(`${t.url}/#/t/${mine.name}/functions`);
      await own.getByLabel("Token").waitFor();
    } finally {
      await context.close();
    }
  });

  test("as admin: create a tenant (its key shown once), set a quota, issue and revoke a key", async () => {
    await page.goto(`${t.url}/#/tenants`);
    const form = page.getByRole("form", { name: "New tenant" });
    await form.getByLabel("Name").fill("acme-console");
    await form.getByRole("button", { name: "Create tenant" }).click();
    const once = page.getByRole("status", { name: "API key of acme-console" });
    await once.waitFor();
    assert.match(await once.innerText(), /isk_/);
    await page.getByRole("link", { name: "acme-console" }).click();
    const quotas = page.getByRole("form", { name: "Quotas" });
    await quotas.getByLabel("functions").fill("3");
    await quotas.getByRole("button", { name: "Save quotas" }).click();
    await eventually("the quota saved", async () => (await t.api("GET", "/api/tenants/acme-console")).body.quotas.functions === 3);
    await page.getByRole("button", { name: "Issue key" }).click();
    await page.getByRole("status", { name: "New API key" }).waitFor();
    const keys = (await t.api("GET", "/api/tenants/acme-console/keys")).body.keys;
    assert.equal(keys.length, 2);
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: `Revoke ${keys[0].id}` }).click();
    await eventually("the key revoked", async () => (await t.api("GET", "/api/tenants/acme-console/keys")).body.keys.length === 1);
  });
});
