// isobox dev as a developer runs it: the real command in its own process with an embedded node,
// files changed on disk, keys sent on stdin, SIGINT at the end.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { TEST_ADMIN_TOKEN, TEST_MASTER_KEY } from "./helpers/box.ts";
import { freePort } from "./helpers/process.ts";
import { eventually } from "./helpers/wait.ts";

const BIN = fileURLToPath(new URL("../bin/isobox.js", import.meta.url));

const AGENT = (greeting: string) => `import { greet } from "./lib/greet.ts";
export default {
  fetch(request: Request, env: Record<string, string>) {
    const url = new URL(request.url);
    console.log("serving", url.pathname);
    if (url.pathname === "/boom") throw new Error("boom on purpose");
    return new Response(greet("${greeting}") + " secret=" + (env.GREETING === "second" ? "second" : env.GREETING ? "first" : "none"));
  },
  scheduled() {
    console.log("the schedule fired");
  },
};
`;
const MANIFEST = JSON.stringify({ routes: { auth: "public" }, secrets: ["GREETING"], schedules: [{ name: "nightly", cron: "0 3 * * *" }] });

describe("isobox dev", () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams;
  let stdout = "";
  let stderr = "";
  let url: string;
  let port: number;
  // Its own name: on a shared Postgres other suites' functions live in the default tenant too.
  const name = `dev-${randomBytes(4).toString("hex")}`;

  const api = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).json() as Promise<any>;
  const body = async () => (await fetch(url)).text();
  const printed = (pattern: RegExp, what: string) => eventually(what, async () => pattern.test(stdout + stderr), 20_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "isobox-dev-"));
    await mkdir(join(dir, "lib"));
    // A tree of many files beside it: only directories are watched, node_modules never.
    await mkdir(join(dir, "node_modules", "pkg"), { recursive: true });
    for (let i = 0; i < 300; i++) await writeFile(join(dir, "lib", `other-${i}.ts`), `export const n${i} = ${i};\n`);
    await writeFile(join(dir, "lib", "greet.ts"), "export const greet = (name: string) => `hi ${name}`;\n");
    await writeFile(join(dir, "agent.ts"), AGENT("dev"));
    await writeFile(join(dir, "agent.json"), MANIFEST);
    await writeFile(join(dir, ".env"), "GREETING=first\n");
    port = await freePort();
    child = spawn(process.execPath, [BIN, "dev", "agent.ts", "--name", name, "--env-file", ".env", "--port", String(port)], {
      cwd: dir,
      env: { ...process.env, ISOBOX_DATA_DIR: join(dir, ".isobox"), ISOBOX_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ISOBOX_MASTER_KEY: TEST_MASTER_KEY, ISOBOX_URL: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    await printed(/Keys: i invokes GET \//, "dev to start");
    url = `http://127.0.0.1:${port}/fn/default/${name}`;
  });
  after(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("starts: deploys v1 with the env file's secret and prints the function, console and MCP URLs", async () => {
    assert.match(stdout, /secrets from .*\.env: GREETING/);
    assert.match(stdout, /✓ v\d+ serving \(deployed in \d+ ms\)/);
    assert.match(stdout, new RegExp(`Function: http://127\\.0\\.0\\.1:${port}/fn/default/${name}`));
    assert.match(stdout, new RegExp(`Console:  http://127\\.0\\.0\\.1:${port}/`));
    assert.match(stdout, new RegExp(`MCP:      http://127\\.0\\.0\\.1:${port}/mcp/default`));
    assert.equal(await body(), "hi dev secret=first");
  });

  test("a save of an imported file serves the next version within a second; an unchanged save makes none", async () => {
    const before = (await api(`/api/tenants/default/functions/${name}`)).latestVersion;
    const saved = performance.now();
    await writeFile(join(dir, "lib", "greet.ts"), "export const greet = (name: string) => `hello ${name}`;\n");
    await eventually("the new version to serve", async () => (await body()).startsWith("hello dev"), 10_000, 10);
    console.log(`# isobox dev: save to the new version serving in ${Math.round(performance.now() - saved)} ms`);
    assert.equal((await api(`/api/tenants/default/functions/${name}`)).latestVersion, before + 1);
    await writeFile(join(dir, "lib", "greet.ts"), "export const greet = (name: string) => `hello ${name}`;\n");
    await printed(/unchanged: v\d+ keeps serving/, "the unchanged save to be noticed");
    assert.equal((await api(`/api/tenants/default/functions/${name}`)).latestVersion, before + 1, "no version for an unchanged save");
  });

  test("a syntax error prints file:line:column and the last good version keeps serving", async () => {
    await writeFile(join(dir, "agent.ts"), `export default {\n  fetch() {\n    return new Response("x";\n  },\n};\n`);
    await printed(/✗ agent\.ts:3:\d+: Expected "\)" but found ";" \(v\d+ keeps serving\)/, "the compile error");
    assert.equal(await body(), "hello dev secret=first");
    await writeFile(join(dir, "agent.ts"), AGENT("again"));
    await eventually("the fixed version to serve", async () => (await body()).startsWith("hello again"), 10_000, 10);
  });

  test("log lines and each run's outcome stream, a failure on the author's file:line", async () => {
    assert.equal((await fetch(`${url}/boom`)).status, 500);
    await printed(/log\s+\[[0-9a-f]{8}\] serving \/boom/, "the log line");
    await printed(/run [0-9a-f]{8} http failed \d+ ms: ERR_FUNCTION_THREW: Error: boom on purpose \(agent\.ts:6:\d+\)/, "the failed run with its place");
  });

  test("a change of the env file sets the secret again", async () => {
    await writeFile(join(dir, ".env"), "GREETING=second\n");
    await eventually("the new secret to be seen", async () => (await body()).endsWith("secret=second"), 10_000, 50);
  });

  test("keys: i invokes GET /, t fires the function's schedules now (the scheduled handler runs)", async () => {
    child.stdin.write("i\n");
    await printed(/GET \/ → 200 in \d+ ms: hello again secret=second/, "the invoke");
    child.stdin.write("t\n");
    await printed(new RegExp(`fired ${name}\\.nightly: job [0-9a-f]{8}`), "the schedule to fire");
    await printed(/the schedule fired/, "the scheduled handler's log line");
  });

  test("SIGINT stops it cleanly with exit 0", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    assert.equal(await exited, 0);
    assert.match(stdout, /isobox dev stopped/);
  });
});
