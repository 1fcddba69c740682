// Isobox installed from its npm tarball into another project, as a user would: mounted inside
// the user's own Hono app, serving a deployed function; its types check the user's function.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { TEST_ADMIN_TOKEN, TEST_MASTER_KEY } from "./helpers/box.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

const HOST_APP = `
import { Hono } from "hono";
import { bundleFunction, createIsobox } from "isobox";

const hostApp = new Hono();
hostApp.get("/", (c) => c.text("host app"));
const box = await createIsobox({ dataDir: process.env.DATA_DIR, databaseUrl: process.env.DATABASE_URL });
hostApp.route("/agents", box.app);
// A TypeScript file with a local import, bundled as isobox deploy bundles it.
const { code, sourceMap } = await bundleFunction("functions/hello.ts");
await box.deploy("default", "hello", { code, sourceMap, manifest: { routes: { auth: "public" } } });
const fn = await hostApp.request("/agents/fn/default/hello/some/path?q=42");
const own = await hostApp.request("/");
const health = await hostApp.request("/agents/healthz");
console.log(JSON.stringify({ fn: { status: fn.status, body: await fn.json() }, own: await own.text(), health: await health.json() }));
await box.close();
`;

const GOOD_FUNCTION = `
import type { Handler } from "isobox";
export default {
  async fetch(request, env, ctx) {
    ctx.waitUntil(Promise.resolve());
    return Response.json({ url: request.url, tenant: ctx.tenant, keys: Object.keys(env) });
  },
} satisfies Handler;
`;

const BAD_FUNCTION = `
import type { Handler } from "isobox";
export default {
  async fetch(request, env, ctx) { return ctx.notAThing; },
} satisfies Handler;
`;

test("installed from the packed tarball, Isobox mounts in a host Hono app, deploys a bundled .ts file, and its types check functions", { timeout: 300_000 }, async () => {
  const project = await mkdtemp(join(tmpdir(), "isobox-embed-"));
  try {
    await run("npm", ["pack", "--pack-destination", project, "--silent"], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const tarball = (await readdir(project)).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "host", private: true, type: "module" }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(project, tarball), "hono"], { cwd: project, maxBuffer: 64 * 1024 * 1024 });

    await writeFile(join(project, "main.js"), HOST_APP);
    await mkdir(join(project, "functions"));
    await writeFile(join(project, "functions", "answer.ts"), "export const answer = (request: Request): Response => { const u = new URL(request.url); return Response.json({ path: u.pathname, q: u.searchParams.get('q') }); };\n");
    await writeFile(join(project, "functions", "hello.ts"), "import { answer } from './answer.ts';\nexport default { fetch: answer };\n");
    const { stdout } = await run(process.execPath, ["--no-node-snapshot", "main.js"], {
      cwd: project,
      env: { ...process.env, DATA_DIR: join(project, ".isobox"), ISOBOX_MASTER_KEY: TEST_MASTER_KEY, ISOBOX_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
    });
    const result = JSON.parse(stdout.trim().split("\n").pop()!);
    assert.deepEqual(result, {
      fn: { status: 200, body: { path: "/some/path", q: "42" } },
      own: "host app",
      health: { ok: true },
    });

    await writeFile(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2024", lib: ["es2024", "dom"], types: [], skipLibCheck: true },
      files: ["fn.ts"],
    }));
    await writeFile(join(project, "fn.ts"), GOOD_FUNCTION);
    await run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project });
    await writeFile(join(project, "fn.ts"), BAD_FUNCTION);
    const failed = await run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project }).then(() => undefined, (error: { stdout: string }) => error.stdout);
    assert.match(failed ?? "", /notAThing/, "a wrong function fails the type check");
  } finally {
    await rm(project, { recursive: true, force: true });
  }
});
