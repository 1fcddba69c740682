// isobox dev <file>: the local loop (README, "Local development"). Deploys the file with its
// manifest, redeploys on every save of it, of a local file it imports or of the manifest (an
// unchanged bundle and manifest make no version), keeps the last good version serving through a
// compile error, streams the function's logs and runs, sets secrets from --env-file, and reads
// the keys i (invoke GET /), t (fire its schedules now) and q (quit).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { SECRET_NAME_PATTERN } from "../names.ts";
import { bundleFunction, functionName, readManifest } from "./bundle.ts";
import { tenantPath, type ApiClient } from "./client.ts";
import { devNode } from "./dev-node.ts";
import { DevStream } from "./dev-stream.ts";
import { FileWatch } from "./dev-watch.ts";
import { CliError } from "./output.ts";

export interface DevOptions {
  name?: string;
  tenant?: string;
  port?: number;
  envFile?: string;
  manifest?: string;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`${line}\n`);

export async function dev(file: string, options: DevOptions): Promise<void> {
  const tenant = options.tenant ?? "default";
  const name = options.name ?? functionName(file);
  const node = await devNode(options.port ?? Number(process.env.PORT ?? 8787));
  const { client } = node;
  const fn = tenantPath(tenant, `/functions/${encodeURIComponent(name)}`);
  let deployed = await servingFingerprint(client, fn);
  const envFile = options.envFile ? resolve(options.envFile) : undefined;
  let watchedFiles: string[] = [];
  let manifestFile: string | undefined;
  let queue = Promise.resolve();

  const deploy = async (): Promise<void> => {
    const started = performance.now();
    let bundle;
    let manifest;
    try {
      bundle = await bundleFunction(file);
      ({ manifest, path: manifestFile } = await readManifest(file, options.manifest));
    } catch (error) {
      warn(`✗ ${(error as Error).message} (v${deployed?.version ?? "—"} keeps serving)`);
      return;
    } finally {
      if (bundle) watchedFiles = bundle.inputs;
      watch.set([...watchedFiles, resolve(manifestFile ?? `${file.replace(/\.[^.]+$/, "")}.json`), ...(envFile ? [envFile] : [])]);
    }
    const fingerprint = fingerprintOf(bundle.code, manifest);
    if (deployed?.fingerprint === fingerprint) {
      say(`unchanged: v${deployed.version} keeps serving`);
      return;
    }
    try {
      const answer = await client.request<{ version: number; url: string; warnings?: string[] }>("PUT", fn, { code: bundle.code, manifest, sourceMap: bundle.sourceMap || undefined });
      deployed = { version: answer.version, fingerprint };
      say(`✓ v${answer.version} serving (deployed in ${Math.round(performance.now() - started)} ms)`);
      for (const warning of answer.warnings ?? []) warn(`! ${warning}`);
    } catch (error) {
      warn(`✗ ${(error as Error).message} (v${deployed?.version ?? "—"} keeps serving)`);
    }
  };
  const watch = new FileWatch((files) => {
    queue = queue.then(async () => {
      if (envFile && files.includes(envFile)) await setSecrets(client, tenant, envFile);
      if (files.some((changed) => changed !== envFile)) await deploy();
    });
  });

  if (envFile) await setSecrets(client, tenant, envFile);
  await deploy();
  if (!deployed) {
    watch.close();
    await node.close();
    throw new CliError(`${file} has never deployed: fix the error above and run isobox dev again`);
  }
  say(`Function: ${node.url}/fn/${tenant}/${name}`);
  say(`Console:  ${node.url}/`);
  say(`MCP:      ${node.url}/mcp/${tenant}`);
  say("Keys: i invokes GET /, t fires its schedules now, q quits");
  const stream = new DevStream(client, tenant, name, say);
  stream.start();

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    readKeys((key) => {
      if (key === "q" || key === "\u0003") stop();
      else if (key === "i") queue = queue.then(() => invoke(client, fn));
      else if (key === "t") queue = queue.then(() => fireSchedules(client, tenant, name));
    });
  });
  stream.stop();
  watch.close();
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
  process.stdin.pause();
  await queue;
  await node.close();
  say("isobox dev stopped");
}

interface Deployed {
  version: number;
  fingerprint: string;
}

/** The code and the manifest, keys sorted (the server keeps a manifest's keys in its own order). */
function fingerprintOf(code: string, manifest: unknown): string {
  const sorted = (value: unknown): unknown => Array.isArray(value) ? value.map(sorted)
    : value && typeof value === "object" ? Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted((value as Record<string, unknown>)[key])])) : value;
  return createHash("sha256").update(code).update("\0").update(JSON.stringify(sorted(manifest ?? {}))).digest("hex");
}

/** What serves now, so that starting again on unchanged files makes no version. */
async function servingFingerprint(client: ApiClient, fn: string): Promise<Deployed | undefined> {
  const response = await client.raw("GET", `${fn}?code=1`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new CliError(`Cannot read ${fn}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
  const current = (await response.json()) as { version: number; code?: string; manifest?: unknown };
  return current.code === undefined ? undefined : { version: current.version, fingerprint: fingerprintOf(current.code, current.manifest) };
}

/** The env file's UPPER_SNAKE_CASE entries as the tenant's secrets. */
async function setSecrets(client: ApiClient, tenant: string, path: string): Promise<void> {
  let entries: [string, string][];
  try {
    entries = Object.entries(parseEnv(await readFile(path, "utf8"))).map(([name, value]) => [name, value ?? ""]);
  } catch (error) {
    warn(`✗ ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return;
  }
  const names: string[] = [];
  for (const [name, value] of entries) {
    if (!SECRET_NAME_PATTERN.test(name)) {
      warn(`! ${path}: ${name} is not a secret name (UPPER_SNAKE_CASE): skipped`);
      continue;
    }
    await client.request("PUT", tenantPath(tenant, `/secrets/${name}`), { value });
    names.push(name);
  }
  say(`secrets from ${path}: ${names.join(", ") || "none"}`);
}

async function invoke(client: ApiClient, fn: string): Promise<void> {
  try {
    const answer = await client.request<{ status: number; body?: string; bodyBase64?: string; durationMs: number }>("POST", `${fn}/invoke`, { method: "GET", path: "/" });
    say(`GET / → ${answer.status} in ${Math.round(answer.durationMs)} ms: ${(answer.body ?? "(binary)").slice(0, 200)}`);
  } catch (error) {
    warn(`✗ GET /: ${(error as Error).message}`);
  }
}

async function fireSchedules(client: ApiClient, tenant: string, name: string): Promise<void> {
  const { schedules } = await client.request<{ schedules: { id: string; function: string }[] }>("GET", tenantPath(tenant, "/schedules"));
  const own = schedules.filter((schedule) => schedule.function === name);
  if (own.length === 0) say(`${name} has no schedules`);
  for (const schedule of own) {
    const { jobId } = await client.request<{ jobId: string }>("POST", tenantPath(tenant, `/schedules/${encodeURIComponent(schedule.id)}/trigger`));
    say(`fired ${schedule.id}: job ${jobId.slice(0, 8)}`);
  }
}

/** Single keys on a terminal; on a pipe, the first character of each line. */
function readKeys(onKey: (key: string) => void): void {
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.on("data", (chunk: string) => {
    for (const key of stdin.isTTY ? chunk : chunk.split("\n").map((line) => line.trim()[0]).filter(Boolean)) onKey(key);
  });
  stdin.resume();
}
