// FunctionRegistry: the active version of each function, cached per process and invalidated on
// every node by NOTIFY when a deploy, rollback or delete changes it.
import type { FunctionImage } from "../../sandbox/host/pool.ts";
import { EgressPolicy } from "../capabilities/egress.ts";
import { secretPins, type SecretPin } from "../capabilities/secret-pins.ts";
import type { Db } from "../db/connect.ts";
import { secretNames, type Manifest, type ResolvedLimits } from "./manifest.ts";
import { getFunction, getVersion, type VersionRow } from "./store.ts";
import { StackMapper } from "./source-map.ts";

export const FUNCTIONS_CHANNEL = "functions";

export interface ActiveFunction {
  tenant: string;
  name: string;
  version: number;
  manifest: Manifest;
  limits: ResolvedLimits;
  auth: "key" | "public";
  egress: EgressPolicy;
  /** The secrets the manifest grants, by name. */
  secretNames: string[];
  pins: SecretPin[];
  image: FunctionImage;
  /** The handlers its module exports (read at deploy; empty for versions deployed before that was kept). */
  handlers: string[];
  /** Maps guest stacks to the author's sources (when the deploy sent a source map). */
  stacks: StackMapper;
}

interface Cached {
  value: ActiveFunction | undefined;
  expires: number;
}

/** A missed NOTIFY (a dropped connection) heals after this long. */
const TTL_MS = 30_000;
/** Unknown names are remembered briefly, so a flood of 404s does not reach the database. */
const MISS_TTL_MS = 1_000;
const MAX_CACHED = 100_000;

export class FunctionRegistry {
  private readonly cache = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<ActiveFunction | undefined>>();
  private readonly listeners: ((tenant: string, name: string) => void)[] = [];
  private unlisten: (() => Promise<void>) | undefined;
  private readonly db: Db;
  private readonly defaults: ResolvedLimits;

  constructor(db: Db, defaults: ResolvedLimits) {
    this.db = db;
    this.defaults = defaults;
  }

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(FUNCTIONS_CHANNEL, (payload) => {
      const slash = payload.indexOf("/");
      if (slash > 0) this.forget(payload.slice(0, slash), payload.slice(slash + 1));
    });
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** Called with (tenant, name) whenever a function changes on any node. */
  onChange(listener: (tenant: string, name: string) => void): void {
    this.listeners.push(listener);
  }

  async get(tenant: string, name: string): Promise<ActiveFunction | undefined> {
    const key = `${tenant}/${name}`;
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) return hit.value;
    let loading = this.loading.get(key);
    if (!loading) {
      loading = this.load(tenant, name).finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }

  /** Tells every node (this one included, at once) that the function changed. */
  async changed(tenant: string, name: string): Promise<void> {
    this.forget(tenant, name);
    await this.db.notify(FUNCTIONS_CHANNEL, `${tenant}/${name}`);
  }

  private forget(tenant: string, name: string): void {
    this.cache.delete(`${tenant}/${name}`);
    for (const listener of this.listeners) listener(tenant, name);
  }

  private async load(tenant: string, name: string): Promise<ActiveFunction | undefined> {
    const fn = await getFunction(this.db.orm, tenant, name);
    const row = fn && (await getVersion(this.db.orm, tenant, name, fn.activeVersion));
    const value = row && this.resolve(tenant, name, row);
    // Requests for made-up names must not grow the cache without bound.
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(`${tenant}/${name}`, { value, expires: Date.now() + (value ? TTL_MS : MISS_TTL_MS) });
    return value;
  }

  /** The limits a version with this manifest runs with: the manifest's, else the node's defaults. */
  limitsOf(manifest: Manifest): ResolvedLimits {
    return { ...this.defaults, ...manifest.limits };
  }

  private resolve(tenant: string, name: string, { version, code, manifest, sourceMap, handlers }: VersionRow): ActiveFunction {
    const limits = this.limitsOf(manifest);
    return {
      tenant,
      name,
      version,
      manifest,
      limits,
      auth: manifest.routes?.auth ?? "key",
      egress: new EgressPolicy(manifest.fetch?.allow ?? []),
      secretNames: secretNames(manifest),
      pins: secretPins(manifest),
      image: { key: imageKey(tenant, name, version), code, filename: moduleFilename(tenant, name), limits },
      handlers,
      stacks: new StackMapper(sourceMap),
    };
  }
}

/** The module's name in its isolate, and so in guest stacks. */
export function moduleFilename(tenant: string, name: string): string {
  return `file:///${tenant}/${name}.js`;
}

export function imageKey(tenant: string, name: string, version: number): string {
  return `${tenant}/${name}@${version}`;
}
