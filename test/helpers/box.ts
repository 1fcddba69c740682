// A real Isobox node for tests: in-process, on a free loopback port, on PGlite in a temp dir or
// on the Postgres named by DATABASE_URL (the suite runs once for each).
import { cp, mkdtemp, rm } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { createIsobox, type Isobox, type IsoboxOptions } from "../../src/index.ts";

/** Every test node shares one master key: on a shared Postgres, secrets outlive a node. */
export const TEST_MASTER_KEY = process.env.ISOBOX_MASTER_KEY ?? "7e57".repeat(16);
/** And one admin token: the nodes on one database are one cluster, with the token of its first node. */
export const TEST_ADMIN_TOKEN = process.env.ISOBOX_ADMIN_TOKEN ?? `isa_test_${"7e57".repeat(8)}`;

export interface TestBox {
  box: Isobox;
  url: string;
  admin: string;
  dataDir: string;
  /** JSON request to the management API with the admin token (or `token`). */
  api<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T; headers: Headers }>;
  /** A new tenant with a unique name and its API key. */
  tenant(): Promise<{ name: string; apiKey: string }>;
  /** Deploys code to a tenant (default: a fresh one); returns the function URL. */
  deploy(name: string, code: string, manifest?: unknown, tenant?: string): Promise<string>;
  /** Closes the node; its data dir goes too unless `keepDataDir` (a second node opens it next). */
  close(options?: { keepDataDir?: boolean }): Promise<void>;
}

/**
 * A PGlite data dir made once per test process, migrated, with the shared keys: a box that starts
 * on a copy skips initdb and the migrations (~2.5 s each on PGlite). Only for boxes that would
 * make exactly such a database anyway: their own data dir, the shared keys, the default schema.
 */
let template: Promise<string> | undefined;

function pgliteTemplate(): Promise<string> {
  return template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "isobox-template-"));
    const box = await createIsobox({ dataDir: dir, masterKey: TEST_MASTER_KEY, adminToken: TEST_ADMIN_TOKEN, spareIsolates: 0 });
    await box.close();
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
}

function fromTemplate(options: IsoboxOptions): boolean {
  return !process.env.DATABASE_URL && options.databaseUrl === undefined && options.dataDir === undefined
    && options.masterKey === undefined && options.adminToken === undefined && options.dbSchema === undefined;
}

export async function startBox(options: IsoboxOptions = {}): Promise<TestBox> {
  // A data dir of the caller's is the caller's to remove.
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), "isobox-test-"));
  if (fromTemplate(options)) await cp(await pgliteTemplate(), dataDir, { recursive: true });
  const box = await createIsobox({ dataDir, databaseUrl: process.env.DATABASE_URL, masterKey: TEST_MASTER_KEY, adminToken: TEST_ADMIN_TOKEN, spareIsolates: 1, ...options });
  const server: ServerType = await new Promise((resolve) => {
    // Keep Node's own Request/Response globals: tests compare against them.
    const s = serve({ fetch: box.app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const admin = box.adminToken.value ?? options.adminToken ?? TEST_ADMIN_TOKEN;
  const api: TestBox["api"] = async (method, path, body, token = admin) => {
    const response = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
  const tenant = async () => {
    const name = `t-${randomBytes(5).toString("hex")}`;
    const created = await api("POST", "/api/tenants", { name });
    if (created.status !== 201) throw new Error(`cannot create tenant: ${JSON.stringify(created.body)}`);
    return { name, apiKey: created.body.apiKey as string };
  };
  const deploy: TestBox["deploy"] = async (name, code, manifest = { routes: { auth: "public" } }, tenantName) => {
    const owner = tenantName ?? (await tenant()).name;
    const deployed = await api("PUT", `/api/tenants/${owner}/functions/${name}`, { code, manifest });
    if (deployed.status !== 201) throw new Error(`deploy failed: ${JSON.stringify(deployed.body)}`);
    return deployed.body.url as string;
  };
  return {
    box, url, admin, dataDir, api, tenant, deploy,
    async close(options: { keepDataDir?: boolean } = {}) {
      const closed = new Promise((resolve) => server.close(resolve));
      (server as import("node:http").Server).closeAllConnections?.();
      await closed;
      await box.close();
      if (ownDataDir && !options.keepDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A response's JSON body, typed loosely for assertions. */
export function json(response: Response): Promise<any> {
  return response.json();
}
