// Per-tenant quotas on the request path: requests per second, concurrent requests and CPU
// milliseconds per minute. Each process enforces its share of the budget (budget ÷ processes)
// in memory: no database round trip per request, and with PGlite (one process) the share is the
// whole. The price: a tenant whose traffic lands unevenly on processes is limited early.
import { eq } from "drizzle-orm";
import { tenants } from "../../schema/tables.ts";
import type { Database } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";

export interface Quotas {
  functions?: number;
  memoryMb?: number;
  concurrency?: number;
  requestsPerSecond?: number;
  cpuMsPerMinute?: number;
  /** Schedules over all of the tenant's functions. */
  schedules?: number;
}

interface TenantState {
  quotas: Quotas;
  loaded: number;
  tokens: number;
  refilled: number;
  inflight: number;
  cpuWindowStart: number;
  cpuMs: number;
}

const QUOTA_TTL_MS = 5_000;
const MINUTE = 60_000;

export class TenantLimiter {
  private readonly state = new Map<string, TenantState>();
  private readonly db: Database;
  private readonly defaults: Quotas;
  private readonly share: number;

  /** `processes`: how many processes split each tenant's budget. */
  constructor(db: Database, defaults: Quotas, processes: number) {
    this.db = db;
    this.defaults = defaults;
    this.share = 1 / Math.max(1, processes);
  }

  /** Admits one request or throws ERR_RATE_LIMITED with the seconds to wait; pair with leave(). */
  async enter(tenant: string): Promise<void> {
    const s = await this.tenantState(tenant);
    const now = Date.now();
    const { requestsPerSecond: rps, concurrency, cpuMsPerMinute } = s.quotas;
    if (cpuMsPerMinute !== undefined) {
      if (now - s.cpuWindowStart >= MINUTE) { s.cpuWindowStart = now; s.cpuMs = 0; }
      if (s.cpuMs >= cpuMsPerMinute * this.share) {
        throw limited(tenant, `used its ${cpuMsPerMinute} CPU ms for this minute`, (s.cpuWindowStart + MINUTE - now) / 1000);
      }
    }
    if (rps !== undefined) {
      const rate = rps * this.share;
      const burst = Math.max(1, rate);
      s.tokens = Math.min(burst, s.tokens + ((now - s.refilled) / 1000) * rate);
      s.refilled = now;
      if (s.tokens < 1) throw limited(tenant, `is over ${rps} requests per second`, rate > 0 ? (1 - s.tokens) / rate : 60);
      s.tokens -= 1;
    }
    if (concurrency !== undefined && s.inflight >= Math.max(1, Math.floor(concurrency * this.share))) {
      throw limited(tenant, `has ${concurrency} requests in flight`, 1);
    }
    s.inflight++;
  }

  leave(tenant: string): void {
    const s = this.state.get(tenant);
    if (s) s.inflight = Math.max(0, s.inflight - 1);
  }

  /** Counts CPU the tenant's code used, whatever triggered it, against cpuMsPerMinute. */
  chargeCpu(tenant: string, cpuMs: number): void {
    const s = this.state.get(tenant);
    if (s) s.cpuMs += cpuMs;
  }

  /** Reads the tenant's quotas again on next use (after a change on this node). */
  forget(tenant: string): void {
    const s = this.state.get(tenant);
    if (s) s.loaded = 0;
  }

  /** The tenant's quotas over the configured defaults. */
  async quotas(tenant: string): Promise<Quotas> {
    return (await this.tenantState(tenant)).quotas;
  }

  private async tenantState(tenant: string): Promise<TenantState> {
    let s = this.state.get(tenant);
    const now = Date.now();
    if (s && now - s.loaded < QUOTA_TTL_MS) return s;
    const [row] = await this.db.select({ quotas: tenants.quotas }).from(tenants).where(eq(tenants.name, tenant));
    const quotas = { ...this.defaults, ...(row?.quotas as Quotas | undefined) };
    // Concurrent first requests all loaded: they must share one state, or each is admitted alone.
    s = this.state.get(tenant);
    if (!s) {
      s = { quotas, loaded: now, tokens: Math.max(1, (quotas.requestsPerSecond ?? 0) * this.share), refilled: now, inflight: 0, cpuWindowStart: now, cpuMs: 0 };
      this.state.set(tenant, s);
    } else {
      s.quotas = quotas;
      s.loaded = now;
    }
    return s;
  }
}

function limited(tenant: string, what: string, seconds: number): IsoboxError {
  return new IsoboxError("ERR_RATE_LIMITED", `Tenant ${tenant} ${what}`, { retryAfter: Math.max(1, Math.ceil(seconds)) });
}
